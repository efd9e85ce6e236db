// Continue from a point: a click on a part's or a take's waveform marks the
// point there, with a button to continue from it; chosen, the takes form says
// "Takes continue from 0:01.50 of part 2" (with a way back to the end) and the
// takes asked carry from_s. A point belongs to one node: showing another
// node's takes drops it. Where the node has a grid, the point was snapped to a
// bar line or beat (or placed freely, with Alt): the mark and the form say which.
// A stretch to replace (a loop inside one part) is a point with an end: the
// form says "Takes replace 0:04.60–0:08.10 of part 1" and the takes asked
// carry until_s too. An intro is a point before the clip: the form says
// "Takes lead into your clip (an intro of 4 s)" and the takes asked of the root
// carry place "before", their duration the intro's length.

import { markPoint } from "./clip_wave.js";
import { h } from "./dom.js";
import { clock } from "./timeline.js";

/** Where a point sits on its node's grid, in words: snapped ("bar", "beat"), placed freely, or no grid (null). */
export const SNAP_WORDS = { bar: "on a bar line", beat: "on a beat", free: "placed freely" };

export class ContinuePoint {
  // labelOf(id): a node's name; choose(id): show node id's takes (the takes asked
  // follow it); after(id): how many parts the spine goes on with after node id.
  constructor(labelOf, choose, after = () => 0) {
    this.labelOf = labelOf;
    this.choose = choose;
    this.after = after;
    this.marked = null; // {nodeId, seconds, snapped}: the point clicked last
    this.chosen = null; // {nodeId, seconds, snapped, until, intro}: the point the takes continue from (to `until`: a stretch replaced; intro: before the clip)
    this.introLength = () => null; // the intro's length asked (the form's duration), seconds
    this.words = h("span", { class: "from-words" });
    // The spine never forks: takes from a part it goes on after wait for those parts to be uncommitted.
    this.warning = h("small", { class: "from-warning", id: "from-warning", hidden: true });
    this.clearButton = h("button", { type: "button", class: "small", id: "from-clear", title: "Continue from the end instead",
      onclick: () => this.clear() }, "✕ from the end");
    this.el = h("p", { class: "from-point", id: "from-point", hidden: true }, this.words, this.clearButton, this.warning);
  }

  /** A click at `seconds` into node `nodeId`: mark it, ready to continue from;
   *  `snapped`: what it snapped to (SNAP_WORDS' keys), null without a grid. */
  mark(nodeId, seconds, snapped = null) {
    this.marked = { nodeId, seconds, snapped };
    markPoint({
      nodeId, seconds, snapped,
      button: () => [h("button", {
        type: "button", class: "continue-here",
        title: `Ask for takes that continue from ${clock(seconds, 2)} of ${this.labelOf(nodeId)} (F)`,
        onclick: (event) => {
          event.stopPropagation();
          this.continueFrom({ nodeId, seconds, snapped });
        },
      }, "⤷ from here"), snapped && h("span", { class: "snap-tag" }, SNAP_WORDS[snapped])],
    });
  }

  /** Ask the next takes from `point` (the point marked last when absent); false without one. */
  continueFrom(point = this.marked) {
    if (!point) return false;
    this.choose(point.nodeId);
    this.chosen = point;
    this.show();
    this.el.closest("form")?.scrollIntoView({ behavior: "smooth", block: "nearest" });
    return true;
  }

  /** Ask the next takes to replace `stretch` {nodeId, seconds, until}
   *  (seconds of node nodeId's audio) of a part. */
  replace(stretch) {
    this.choose(stretch.nodeId);
    this.chosen = { ...stretch, snapped: null };
    this.show();
  }

  /** Ask the next takes of the root `nodeId` as intros that lead into it. */
  intro(nodeId) {
    this.choose(nodeId);
    this.chosen = { nodeId, intro: true, snapped: null };
    this.show();
    this.el.closest("form")?.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  /** Continue from the end again. */
  clear() {
    this.chosen = null;
    this.show();
  }

  /** The takes shown are node `selected`'s: a point of another node no longer holds. */
  follow(selected) {
    if (this.chosen && this.chosen.nodeId !== selected) this.chosen = null;
    this.show();
  }

  /** The from_s of the takes asked now; undefined: from the end. */
  seconds() {
    return this.chosen?.seconds;
  }

  /** The until_s of the takes asked now (they replace a stretch); undefined: they continue. */
  until() {
    return this.chosen?.until ?? undefined;
  }

  /** Where the takes asked now go: "before" the clip (an intro) or "after" their parent. */
  place() {
    return this.chosen?.intro ? "before" : "after";
  }

  show() {
    this.el.hidden = !this.chosen;
    if (!this.chosen) return;
    const of = this.labelOf(this.chosen.nodeId);
    this.el.classList.toggle("stretch", this.chosen.until != null);
    this.el.classList.toggle("intro", Boolean(this.chosen.intro));
    this.clearButton.textContent = this.chosen.intro ? "✕ no intro" : "✕ from the end";
    this.clearButton.title = this.chosen.intro ? "Ask for takes that continue your clip instead" : "Continue from the end instead";
    if (this.chosen.intro) {
      const length = this.introLength();
      this.words.textContent = `Takes lead into ${of} (an intro of ${length ? `${length} s` : "the duration asked"})`;
      this.warning.hidden = true;
      return;
    }
    if (this.chosen.until != null) {
      // Committed anywhere on the spine, a replacement needs nothing uncommitted.
      this.words.textContent = `Takes replace ${clock(this.chosen.seconds, 2)}–${clock(this.chosen.until, 2)} of ${of}`;
      this.warning.hidden = true;
      return;
    }
    const where = SNAP_WORDS[this.chosen.snapped];
    this.words.textContent = `Takes continue from ${clock(this.chosen.seconds, 2)} of ${of}${where ? `, ${where}` : ""}`;
    const later = this.after(this.chosen.nodeId);
    this.warning.hidden = later === 0;
    this.warning.textContent = later === 0 ? "" : `The spine goes on after ${of}: to commit one of these takes, `
      + `uncommit the ${later === 1 ? "part" : `${later} parts`} after it first.`;
  }

  destroy() {
    markPoint(null);
  }
}
