// The console's only script: the publish confirmation dialog (the forms work without it).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const dialog = document.getElementById("publish-dialog");
  const open = document.querySelector("[data-tw=publish]");
  if (!dialog || !open) return;
  open.addEventListener("click", () => dialog.showModal());
  dialog.querySelector("[data-tw=cancel]").addEventListener("click", () => {
    dialog.close();
    open.focus();
  });
});
