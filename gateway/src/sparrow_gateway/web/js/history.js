// Undo and Redo as buttons that say what they would do ("Undo commit of part
// 2"), from the chain's history. The server keeps the history with the chain,
// so the buttons read the same after a reload.

import { h } from "./dom.js";

// Ctrl on most keyboards, ⌘ on a Mac's.
const MOD = /Mac|iPhone|iPad/.test(navigator.platform) ? "⌘" : "Ctrl+";

export class HistoryButtons {
  // undo(), redo(): ask for them.
  constructor({ undo, redo }) {
    this.undo = h("button", { class: "small history-undo", id: "undo", disabled: true, onclick: undo }, "Undo");
    this.redo = h("button", { class: "small history-redo", id: "redo", disabled: true, onclick: redo }, "Redo");
    this.el = h("div", { class: "history", role: "group", "aria-label": "Undo and redo" }, this.undo, this.redo);
  }

  /** Show what undo and redo would do: `history` {undo, redo} (moves or
   *  null), `words(move, way)` a move in words ("undo" or "redo" takes it); `busy`: one is on its way. */
  show(history, words, busy = false) {
    label(this.undo, "Undo", history.undo, words, busy, `${MOD}Z`);
    label(this.redo, "Redo", history.redo, words, busy, `${MOD}Shift+Z`);
  }
}

function label(button, verb, move, words, busy, key) {
  const text = move ? `${verb} ${words(move, verb.toLowerCase())}` : verb;
  if (button.textContent !== text) button.textContent = text;
  button.disabled = !move || busy;
  button.title = move ? `${text} (${key})` : `Nothing to ${verb.toLowerCase()}`;
}
