// The "?" panel: every key and move of the editor, as keys.js's HELP lists
// them. Escape or "?" again (or its close button) hides it.

import { h } from "./dom.js";
import { HELP } from "./keys.js";

export class HelpPanel {
  constructor() {
    this.el = h("aside", { class: "help panel", id: "help", role: "dialog", "aria-label": "Keys and moves", hidden: true },
      h("header", {}, h("h2", {}, "Keys and moves"),
        h("button", { class: "close", title: "Close (Escape)", "aria-label": "Close", onclick: () => this.toggle(false) }, "×")),
      h("dl", { class: "help-list" }, HELP.flatMap(([keys, what]) => [h("dt", {}, h("kbd", {}, keys)), h("dd", {}, what)])));
    this.onKey = (event) => {
      if (event.key === "Escape") this.toggle(false);
    };
  }

  /** Show the panel (true), hide it (false), or the other way round. */
  toggle(open = this.el.hidden) {
    this.el.hidden = !open;
    if (open) document.addEventListener("keydown", this.onKey);
    else document.removeEventListener("keydown", this.onKey);
    return true;
  }

  destroy() {
    document.removeEventListener("keydown", this.onKey);
  }
}
