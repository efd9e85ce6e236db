// Messages at the bottom of the page: errors in words, and undo offers.

import { h } from "./dom.js";

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
  area.append(item);
  if (timeout) timer = setTimeout(close, timeout);
  return close;
}

export function showError(error) {
  toast(error.message || String(error), { kind: "error", timeout: 10000 });
}
