// A/B: two takes chosen as A and B, each looped about SEAM_S seconds either
// side of its seam with the parent (where the take continues from, its end
// when from the end), the loop's ends snapped to the bar lines (else beats) of
// the parent's and the take's grids; switching keeps the point against the
// seam, so the ear compares the same moment.

import { loadBuffer } from "./audio.js";
import { clear, fmt, h } from "./dom.js";
import { seamLoop } from "./grid.js";
import * as playing from "./playing.js";
import { showError } from "./toast.js";

const SEAM_S = 3;

export class ABCompare {
  constructor(chain) {
    this.chain = chain;
    this.a = null; // take ids
    this.b = null;
    this.range = h("small", { class: "ab-range muted", id: "ab-range", "aria-live": "polite" });
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

  /** Only takes among `ids` (those shown) stay A or B: a take committed, or
   *  gone to the bin with its siblings, ends the comparison, and comes back
   *  (an undo) as a take like any other, not pressed. */
  keep(ids) {
    for (const side of ["a", "b"]) {
      if (this[side] && !ids.includes(this[side])) this[side] = null;
    }
  }

  /** Whether both sides are chosen. */
  ready() {
    return Boolean(this.a && this.b);
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
      h("span", {}, ` ${name(a)} against ${name(b)}, looping about ${SEAM_S} s either side of the seam `),
      h("button", { id: "ab-loop", class: "primary", onclick: () => this.loop(a) }, "Loop A"),
      h("button", { id: "ab-switch", title: "Key: X", onclick: () => this.switch() }, "Switch A ⇄ B"),
      h("button", { onclick: () => playing.stop() }, "Stop"),
      this.range);
  }

  /** Where take `id`'s seam loop starts and ends: {before, after, at, snapped}. */
  rangeOf(id) {
    const take = this.chain.get(id);
    const parent = this.chain.get(take.parent_id);
    const at = take.from_s ?? parent.duration_s;
    return { ...seamLoop(parent, take, at, SEAM_S), at: take.from_s ?? null };
  }

  /** Loop take `id` across its seam, from `fromSeam` seconds against the seam (the loop's start when absent). */
  async loop(id, fromSeam = null) {
    try {
      const parent = await loadBuffer(this.chain.get(this.chain.get(id).parent_id).audio_url);
      const take = await loadBuffer(this.chain.get(id).audio_url);
      const range = this.rangeOf(id);
      const offset = fromSeam === null ? 0 : Math.min(Math.max(0, range.before + fromSeam), range.before + range.after - 0.01);
      playing.loopSeam(id, parent, take, range, offset);
      const [from, to] = range.snapped.map((snapped) => ({ bar: "a bar line", beat: "a beat" })[snapped]);
      this.range.textContent = `${this.sideOf(id)} loops ${fmt(range.before)} before the seam${from ? ` (from ${from})` : ""}`
        + ` and ${fmt(range.after)} after${to ? ` (to ${to})` : ""}.`;
      this.range.dataset.snapped = range.snapped.map((s) => s || "none").join(" ");
    } catch (error) {
      showError(error);
    }
  }

  /** Loop the other side at the same point against the seam (A when no seam loops). */
  switch() {
    const state = playing.now();
    const current = state?.what.kind === "seam" ? state.what.nodeId : null;
    const next = current === this.a ? this.b : this.a;
    this.loop(next, current ? state.position - state.seamAt : null);
  }
}
