// The console's one script (the forms work without it): the publish confirmation dialog; the
// rules editor's line numbers and problems that jump to their place; the live theme preview.
"use strict";

// ---- the publish dialog ------------------------------------------------------------------------
function publishDialog() {
  const dialog = document.getElementById("publish-dialog");
  const open = document.querySelector("[data-tw=publish]");
  if (!dialog || !open) return;
  open.addEventListener("click", () => dialog.showModal());
  dialog.querySelector("[data-tw=cancel]").addEventListener("click", () => {
    dialog.close();
    open.focus();
  });
}

// ---- the rules editor --------------------------------------------------------------------------
// Where a JSON pointer (/rules/0/when) starts in a JSON document: the deepest part of the
// pointer the document has (a key's position for an object member). YAML, or JSON too broken to
// scan, falls back to the last key of the pointer found as `key:` or `"key"`.
function locate(text, pointer) {
  const want = pointer.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let i = 0;
  let best = 0;
  let depth = 0;
  const record = (path, at) => {
    if (path.length > depth && path.every((p, k) => String(p) === want[k])) {
      depth = path.length;
      best = at;
    }
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const string = () => {
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    if (j >= text.length) throw new Error("unterminated");
    const raw = text.slice(i, j + 1);
    i = j + 1;
    return JSON.parse(raw);
  };
  const value = (path) => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const object = c === "{";
      i++;
      ws();
      if (text[i] === (object ? "}" : "]")) {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        ws();
        const at = i;
        let key = n;
        if (object) {
          key = string();
          ws();
          if (text[i++] !== ":") throw new Error("colon");
        }
        record(path.concat([key]), at);
        value(path.concat([key]));
        ws();
        const next = text[i++];
        if (next === ",") continue;
        if (next === (object ? "}" : "]")) return;
        throw new Error("separator");
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const start = i;
    while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
    if (i === start) throw new Error("value");
  };
  try {
    value([]);
    return best;
  } catch (_) {
    const last = want.filter((p) => !/^\d+$/.test(p)).pop();
    if (!last) return 0;
    const found = new RegExp(`(^|[\\s{,])"?${last.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"?\\s*:`, "m").exec(text);
    return found ? found.index + found[1].length : 0;
  }
}

function lineOf(text, offset) {
  return text.slice(0, offset).split("\n").length;
}

function rulesEditor() {
  const editor = document.querySelector("[data-tw=rules-editor]");
  if (!editor) return;
  const wrap = document.createElement("div");
  wrap.className = "editor";
  const gutter = document.createElement("pre");
  gutter.className = "gutter";
  gutter.setAttribute("aria-hidden", "true");
  editor.parentNode.insertBefore(wrap, editor);
  wrap.append(gutter, editor);
  const numbers = () => {
    const lines = editor.value.split("\n").length;
    gutter.textContent = Array.from({ length: lines }, (_, n) => n + 1).join("\n");
    gutter.scrollTop = editor.scrollTop;
  };
  editor.addEventListener("input", numbers);
  editor.addEventListener("scroll", () => {
    gutter.scrollTop = editor.scrollTop;
  });
  numbers();

  const jump = (offset) => {
    const text = editor.value;
    const end = text.indexOf("\n", offset);
    editor.focus();
    editor.setSelectionRange(offset, end === -1 ? text.length : end);
    const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
    editor.scrollTop = Math.max(0, (lineOf(text, offset) - 3) * lineHeight);
  };
  // Each problem names its line and moves the cursor there. The document is the one the
  // problems are about only until it is edited: lines are worked out on each click.
  for (const item of document.querySelectorAll("[data-tw=problems] [data-path]")) {
    const offset = locate(editor.value, item.getAttribute("data-path"));
    const button = document.createElement("button");
    button.type = "button";
    button.className = "problem-jump";
    button.setAttribute("data-tw", "problem-jump");
    button.textContent = `line ${lineOf(editor.value, offset)}`;
    button.addEventListener("click", () => jump(locate(editor.value, item.getAttribute("data-path"))));
    item.setAttribute("data-line", String(lineOf(editor.value, offset)));
    item.prepend(button, " ");
  }
}

// ---- the live theme preview --------------------------------------------------------------------
// The preview is the storefront widget itself (the page loads /widget/v1/tierwise.js) reading the
// tenant's segments; the edited theme replaces the segment's own in the widget's state and the
// widget applies it as it applies a saved one, so what is shown is what the storefront will show.
function themePreview() {
  const widget = document.querySelector("[data-tw=theme-preview]");
  const form = document.querySelector("[data-tw=theme-form]");
  if (!widget || !form) return;
  const key = widget.getAttribute("data-segment");
  const edited = () => {
    const theme = {};
    for (const input of form.querySelectorAll("[data-prop]")) {
      const value = input.value.trim();
      theme[input.getAttribute("data-prop")] = value && input.checkValidity() ? value : null;
    }
    return theme;
  };
  const apply = () => {
    const state = widget.s;
    if (!state || !state.segments || !state.segments.length || state.step === null) return false;
    const segment = state.segments.find((x) => x.key === key);
    if (!segment) return false;
    segment.theme = edited();
    if (state.step === "segment") state.segment = key;
    if (state.segment === key) widget.applyTheme();
    widget.render();
    widget.setAttribute("data-previewing", JSON.stringify(segment.theme));
    return true;
  };
  form.addEventListener("input", apply);
  // Until the widget has read the segments, apply once it renders.
  const watch = new MutationObserver(() => {
    if (apply()) watch.disconnect();
  });
  customElements.whenDefined("tierwise-storefront").then(() => {
    if (!apply()) watch.observe(widget.shadowRoot, { childList: true, subtree: true });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  publishDialog();
  rulesEditor();
  themePreview();
});
