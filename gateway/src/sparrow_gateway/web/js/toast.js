// Messages in the page's bottom corner: errors in words, and undo offers. At
// most SHOWN at once (a new one closes the oldest), clicked through but for
// their buttons (app.css), so they never hide a take's buttons.

import { h } from "./dom.js";

const SHOWN = 2;

export function toast(message, { kind = "info", timeout = 6000, action, actionLabel } = {}) {
  const area = document.getElementById("toasts");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, h("span", {}, message));
  let timer = null;
  const close = () => {
    clearTimeout(timer);
    item.remove();
  };
  if (action) {
    item.append(h("button", { class: "link", onclick: () => { close(); action(); } }, actionLabel || "Undo"));
  }
  item.append(h("button", { class: "close", "aria-label": "Close", onclick: close }, "×"));
  item.closer = close;
  area.append(item);
  while (area.children.length > SHOWN) {
    const oldest = area.firstElementChild;
    if (oldest.closer) oldest.closer();
    else oldest.remove();
  }
  if (timeout) timer = setTimeout(close, timeout);
  return close;
}

export function showError(error) {
  toast(error.message || String(error), { kind: "error", timeout: 10000 });
}
