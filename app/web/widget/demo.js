// The demo page: the storefront key comes from the address's fragment (#key=tw_pk_...), as
// `tierwise demo` prints it, so it never reaches a server log; the API is this page's origin.
(function () {
  var match = /(?:^#|&)key=(tw_pk_[0-9a-f]{40})(?:&|$)/.exec(location.hash);
  var widget = document.querySelector("tierwise-storefront");
  if (!match) {
    document.getElementById("demo-missing-key").hidden = false;
    return;
  }
  widget.setAttribute("api-base", location.origin);
  widget.setAttribute("api-key", match[1]);
})();
