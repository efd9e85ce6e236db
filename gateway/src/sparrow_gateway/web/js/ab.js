// A/B: two takes chosen as A and B, each looped SEAM_S seconds either side of
// its seam with the parent; switching keeps the point in the loop, so the ear
// compares the same moment.

import { loadBuffer } from "./audio.js";
import { clear, h } from "./dom.js";
import * as playing from "./playing.js";
import { showError } from "./toast.js";

const SEAM_S = 3;

export class ABCompare {
  constructor(chain) {
    this.chain = chain;
    this.a = null; // take ids
    this.b = null;
    this.el = h("div", { class: "ab", id: "ab", hidden: true });
  }

  /** Make take `id` the `side` ("a" or "b"), or no longer when it was. */
  choose(side, id) {
    const other = side === "a" ? "b" : "a";
    this[side] = this[side] === id ? null : id;
    if (this[other] === id) this[other] = null;
  }

  /** Take `id` is gone: neither side any more. */
  forget(id) {
    if (this.a === id) this.a = null;
    if (this.b === id) this.b = null;
  }

  /** "A" or "B": the side take `id` plays as, in a looped seam. */
  sideOf(id) {
    return id === this.a ? "A" : "B";
  }

  /** The panel, shown while both sides are chosen. */
  render() {
    const { a, b } = this;
    this.el.hidden = !(a && b);
    if (!a || !b) return;
    if (this.el.dataset.pair === `${a}:${b}`) return;
    this.el.dataset.pair = `${a}:${b}`;
    const name = (id) => this.chain.label(this.chain.get(id));
    clear(this.el).append(
      h("strong", {}, "A/B"),
      h("span", {}, ` ${name(a)} against ${name(b)}, looping ${SEAM_S} s either side of the seam `),
      h("button", { id: "ab-loop", class: "primary", onclick: () => this.loop(a) }, "Loop A"),
      h("button", { id: "ab-switch", onclick: () => this.switch() }, "Switch A ⇄ B"),
      h("button", { onclick: () => playing.stop() }, "Stop"));
  }

  /** Loop take `id` across its seam, from `offset` seconds into the loop. */
  async loop(id, offset = 0) {
    try {
      const parent = await loadBuffer(this.chain.get(this.chain.get(id).parent_id).audio_url);
      const take = await loadBuffer(this.chain.get(id).audio_url);
      playing.loopSeam(id, parent, take, SEAM_S, offset);
    } catch (error) {
      showError(error);
    }
  }

  /** Loop the other side at the same point (A when no seam loops). */
  switch() {
    const state = playing.now();
    const current = state?.what.kind === "seam" ? state.what.nodeId : null;
    const next = current === this.a ? this.b : this.a;
    this.loop(next, current ? state.position : 0);
  }
}
