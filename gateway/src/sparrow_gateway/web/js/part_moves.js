// The moves of the part shown (the spine's part whose takes are listed), in a
// row under the spine: fork a new chain whose spine is this one up to here
// (sharing its audio), and, on the spine's tip, uncommit it: it is a take
// again, and the takes its commit sent to the bin come back. A take that
// replaced a stretch can be uncommitted wherever it is (the stretch comes
// back); the rest of the part after it can't be alone. The clip alone on the
// spine, untouched, has neither.

import { h } from "./dom.js";

export class PartMoves {
  // fork(id), uncommit(id): part `id`'s moves.
  constructor({ fork, uncommit }) {
    this.partId = null;
    this.name = h("span", { class: "part-moves-name" });
    this.fork = h("button", { class: "small fork", id: "fork-part",
      title: "A new chain whose spine is this one up to this part, sharing its audio",
      onclick: () => fork(this.partId) }, "Fork");
    this.uncommit = h("button", { class: "small uncommit", id: "uncommit-part",
      title: "Take this part off the spine: it is a take again, and the takes beside it come back",
      onclick: () => uncommit(this.partId) }, "Uncommit");
    this.el = h("div", { class: "part-moves", id: "part-moves" }, this.name, this.fork, this.uncommit);
  }

  /** Offer the moves of `part`, named `name`, on `spine` (root first). */
  render(part, spine, name) {
    this.el.hidden = !part;
    if (!part) return;
    this.partId = part.id;
    const tip = spine.at(-1)?.id === part.id;
    const root = part.parent_id === null;
    const words = {
      name: `${name[0].toUpperCase()}${name.slice(1)}${tip && !root ? " (the tip)" : ""}:`,
      fork: `Fork from ${name}`,
      uncommit: `Uncommit ${name}`,
    };
    for (const [el, text] of Object.entries(words)) {
      if (this[el].textContent !== text) this[el].textContent = text;
    }
    const replaced = part.until_s != null; // a take that replaces a stretch, anywhere on the spine
    const rest = part.in_s != null; // the rest of a part after one: it goes with the take
    this.uncommit.hidden = root || rest || !(tip || replaced);
    this.uncommit.title = replaced ? "Put the stretch back: the part plays as it did, and the takes beside this one come back"
      : "Take this part off the spine: it is a take again, and the takes beside it come back";
    // The clip untouched (nothing after it yet): no move to offer.
    this.el.hidden = root && spine.length === 1;
  }
}
