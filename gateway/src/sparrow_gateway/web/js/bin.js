// The chain's bin: what was discarded (each with what went with it under it),
// newest first, each with Restore, and Empty bin. A restore the server
// refuses (its parent is in the bin too, or gone) says why on its row.

import { clear, fmt, h } from "./dom.js";

// "just now", "4 min ago", "2 h ago", or the date.
function ago(when) {
  const seconds = (Date.now() - new Date(when).getTime()) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(when).toLocaleDateString();
}

// A binned take's knobs in a few words.
function knobs(node) {
  const p = node.params;
  if (!p) return "";
  return [p.prompt ? `“${p.prompt}”` : "no prompt", p.seed != null && `seed ${p.seed}`,
    node.duration_s != null && fmt(node.duration_s)].filter(Boolean).join(" · ");
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export class BinPanel {
  // restore(id): a promise, rejected with the reason it can't; empty(): a
  // promise; opened(): the panel was opened (re-read the bin).
  constructor(does) {
    this.does = does;
    this.count = h("span", { class: "bin-count muted" });
    this.list = h("ul", { class: "bin-list", id: "bin-list" });
    this.emptyButton = h("button", { class: "danger", id: "empty-bin", onclick: () => this.empty() }, "Empty bin");
    this.el = h("details", { class: "bin panel", id: "bin" },
      h("summary", {}, "Bin ", this.count),
      h("p", { class: "muted" }, "Discarded takes wait here, with their audio, until the bin is emptied."),
      this.list,
      h("div", { class: "bin-actions" }, this.emptyButton));
    this.el.addEventListener("toggle", () => { if (this.el.open) this.does.opened(); });
    this.nodes = [];
    this.rows = new Map(); // node id -> its row, while listed
    this.errors = new Map(); // node id -> why its restore was refused
    this.order = null; // the ids listed, as last drawn
  }

  /** List `nodes` (the bin's, newest first); `nameOf(node)` names one. */
  show(nodes, nameOf) {
    this.nodes = nodes;
    this.count.textContent = nodes.length ? `(${nodes.length})` : "(empty)";
    this.emptyButton.disabled = !nodes.length;
    const listed = new Set(nodes.map((n) => n.id));
    for (const id of this.errors.keys()) if (!listed.has(id)) this.errors.delete(id);
    this.rows = new Map(nodes.map((node) => [node.id, this.rows.get(node.id) || this.row(node)]));
    // The list is rebuilt only when what it lists changes: a row moved under
    // the pointer would lose the click on its way.
    const order = nodes.map((n) => n.id).join();
    if (order !== this.order || !this.list.firstChild) {
      this.order = order;
      clear(this.list);
      if (!nodes.length) this.list.append(h("li", { class: "muted" }, "Nothing in the bin."));
      this.list.append(...nodes.map((node) => this.rows.get(node.id).el));
    }
    for (const node of nodes) {
      const row = this.rows.get(node.id);
      setText(row.name, nameOf(node));
      setText(row.when, `discarded ${ago(node.binned_at)}`);
      setText(row.error, this.errors.get(node.id) || "");
      row.error.hidden = !this.errors.has(node.id);
    }
  }

  row(node) {
    const name = h("span", { class: "bin-name" });
    const when = h("span", { class: "muted" });
    const error = h("p", { class: "error-text", role: "alert", hidden: true });
    const restore = h("button", { class: "small restore", onclick: () => this.restore(node.id, restore) }, "Restore");
    const el = h("li", { class: "bin-item", dataset: { nodeId: node.id } },
      h("div", { class: "bin-line" }, name, h("span", { class: "muted knobs" }, knobs(node)), when, restore), error);
    return { el, name, when, error };
  }

  async restore(id, button) {
    button.disabled = true;
    this.errors.delete(id);
    try {
      await this.does.restore(id);
    } catch (failure) {
      this.errors.set(id, failure.message);
      const row = this.rows.get(id);
      if (row) {
        row.error.textContent = failure.message;
        row.error.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
  }

  empty() {
    const n = this.nodes.length;
    if (!n) return;
    const what = n === 1 ? "the take in the bin" : `the ${n} takes in the bin`;
    if (!window.confirm(`Delete ${what} for good, with their audio? This can't be undone.`)) return;
    this.does.empty();
  }
}
