// A/B: two takes chosen as A and B, each looped about SEAM_S seconds either
// side of its seam with the parent (where the take continues from, its end
// when from the end), the loop's ends snapped to the bar lines (else beats) of
// the parent's and the take's grids; switching keeps the point against the
// seam, so the ear compares the same moment. A take that replaces a stretch
// loops through both its joins: the parent from a little before the stretch,
// the take up to where the parent comes back (its rejoin), then the parent on
// from there for a couple of seconds; "Original" loops the parent itself over
// the same span.

import { loadBuffer } from "./audio.js";
import { clear, fmt, h } from "./dom.js";
import { seamLoop } from "./grid.js";
import * as playing from "./playing.js";
import { showError } from "./toast.js";

const SEAM_S = 3;
// A replacement's loop: about this much of the parent before the stretch, and after the rejoin.
const LEAD_S = 2;
const TAIL_S = 2;

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

  /** "A" or "B": the side take `id` plays as, in a looped seam ("Original": the parent itself). */
  sideOf(id) {
    if (id !== this.a && id !== this.b && this.a && id === this.chain.get(this.a)?.parent_id) return "Original";
    return id === this.a ? "A" : "B";
  }

  /** Whether take `id` replaces a stretch of its parent. */
  replaces(id) {
    return this.chain.get(id)?.until_s != null;
  }

  /** The panel, shown while both sides are chosen. */
  render() {
    const { a, b } = this;
    this.el.hidden = !(a && b);
    if (!a || !b) return;
    if (this.el.dataset.pair === `${a}:${b}`) return;
    this.el.dataset.pair = `${a}:${b}`;
    const name = (id) => this.chain.label(this.chain.get(id));
    const stretch = this.replaces(a) && this.replaces(b);
    const intros = this.chain.get(a)?.intro && this.chain.get(b)?.intro;
    const how = intros ? "looping each intro into your clip"
      : stretch ? "looping through the stretch they replace and back into the part"
      : `looping about ${SEAM_S} s either side of the seam`;
    clear(this.el).append(
      h("strong", {}, "A/B"),
      h("span", {}, ` ${name(a)} against ${name(b)}, ${how} `),
      h("button", { id: "ab-loop", class: "primary", onclick: () => this.loop(a) }, "Loop A"),
      h("button", { id: "ab-switch", title: "Key: X", onclick: () => this.switch() }, "Switch A ⇄ B"),
      stretch && !intros && h("button", { id: "ab-original", title: "The part as it is, over the same stretch",
        onclick: () => this.loopOriginal() }, "Original"),
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

  /** Where take `id`, which replaces a stretch, loops: {before (seconds of
   *  the parent before the stretch), back (of the take, to where the parent
   *  comes back), after (of the parent from there), from, at (seconds of the
   *  parent: the stretch's start, the rejoin), snapped}. */
  stretchOf(id) {
    const take = this.chain.get(id);
    const parent = this.chain.get(take.parent_id);
    const rejoin = take.analysis?.rejoin;
    if (take.intro) {
      // An intro: the take to its length, then the clip from where it comes in (its first downbeat).
      const at = rejoin?.at_s ?? 0;
      const back = Math.max(0.05, Math.min(take.until_s, take.duration_s ?? Infinity));
      return { before: 0, back, after: Math.max(0, Math.min(TAIL_S, parent.duration_s - at)), from: 0, at, snapped: null };
    }
    const at = rejoin?.at_s ?? take.until_s; // where asked, until it is heard
    const from = take.from_s;
    const { before, snapped } = seamLoop(parent, take, from, LEAD_S);
    const back = Math.max(0.05, Math.min(at - from, take.duration_s ?? Infinity));
    const after = Math.max(0, Math.min(TAIL_S, (parent.out_s ?? parent.duration_s) - at));
    return { before, back, after, from, at, snapped: snapped[0] };
  }

  // The parent before the stretch, `middle` (the take's pieces, or the parent's own), the parent after.
  async pieces(id, original = false) {
    const take = this.chain.get(id);
    const parent = await loadBuffer(this.chain.get(take.parent_id).audio_url);
    const { before, back, after, from, at } = this.stretchOf(id);
    const middle = original ? { buffer: parent, from, to: at } : { buffer: await loadBuffer(take.audio_url), from: 0, to: back };
    return [{ buffer: parent, from: from - before, to: from }, middle, { buffer: parent, from: at, to: at + after }];
  }

  /** Loop take `id` (a replacement) through its stretch and back, or the parent itself over it (`original`). */
  async loopStretch(id, fromSeam = null, original = false) {
    const pieces = await this.pieces(id, original);
    const range = this.stretchOf(id);
    const offset = fromSeam === null ? 0 : Math.max(0, range.before + fromSeam);
    playing.loopReplacement(original ? this.chain.get(id).parent_id : id, pieces, offset);
    const lead = range.snapped ? ` (from ${{ bar: "a bar line", beat: "a beat" }[range.snapped]})` : "";
    this.range.textContent = this.chain.get(id).intro
      ? `${this.sideOf(id)} loops the intro's ${fmt(range.back)}, then your clip from its first downbeat (${fmt(range.at)}) for ${fmt(range.after)}.`
      : original
      ? `The original loops ${fmt(range.before)} before the stretch${lead}, the stretch, and ${fmt(range.after)} after.`
      : `${this.sideOf(id)} loops ${fmt(range.before)} before the stretch${lead}, the take's ${fmt(range.back)} `
        + `to where the part comes back at ${fmt(range.at)}, and ${fmt(range.after)} after.`;
    this.range.dataset.snapped = range.snapped || "none";
    this.range.dataset.back = String(Math.round(range.at * 1000) / 1000);
  }

  /** Loop the parent as it is over A's stretch (A and B replace the same one), at the same point. */
  async loopOriginal() {
    try {
      const state = playing.now();
      const fromSeam = state?.what.kind === "seam" ? state.position - state.seamAt : null;
      await this.loopStretch(this.a, fromSeam, true);
    } catch (error) {
      showError(error);
    }
  }

  /** Loop take `id` across its seam, from `fromSeam` seconds against the seam (the loop's start when absent). */
  async loop(id, fromSeam = null) {
    try {
      if (this.replaces(id)) {
        await this.loopStretch(id, fromSeam);
        return;
      }
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
    // From the original, on to A.
    const next = current === this.a ? this.b : this.a;
    this.loop(next, current ? state.position - state.seamAt : null);
  }
}
