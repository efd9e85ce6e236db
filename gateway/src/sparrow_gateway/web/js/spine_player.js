// Playing the spine: from a point (the anchor: where the musician last clicked
// on it), or a stretch of it looped until stopped (the loop region), each part
// up to its out point. Playing from inside the loop region loops it; from
// outside, the spine plays on from there. Each part plays from its in point
// (the rest of a part after a replaced stretch) to its out point.

import { loadBuffer } from "./audio.js";
import * as playing from "./playing.js";
import { playedLength, spineLength } from "./timeline.js";

/** The shortest loop, in seconds. */
export const MIN_LOOP_S = 0.1;

export class SpinePlayer {
  // `chain`: chain.js's Chain; onLoop(region): the loop region changed (null:
  // none); onError(error): the audio could not be played.
  constructor(chain, { onLoop, onError }) {
    this.chain = chain;
    this.onLoop = onLoop;
    this.onError = onError;
    this.anchor = 0; // spine seconds: where a play starts
    this.region = null; // {from, to}, spine seconds
  }

  /** Whether the spine plays, looped or not. */
  isPlaying() {
    return playing.isPlaying(playing.spine) || playing.isPlaying(playing.loop);
  }

  /** Where the spine is: the playhead while it plays, else the anchor. */
  where() {
    const state = playing.now();
    return state && (state.what.kind === "spine" || state.what.kind === "loop") ? state.position : this.anchor;
  }

  /** Play from `from` (spine seconds, the anchor when absent); it becomes the anchor. */
  async play(from = this.anchor) {
    this.anchor = from;
    const spine = this.chain.spine();
    try {
      // The beginning of a chain started from words has no audio to play, the clip before an intro plays none.
      const sounding = spine.filter((node) => node.duration_s > 0 && playedLength(node) > 0);
      const clips = await Promise.all(sounding.map(async (node) => ({
        buffer: await loadBuffer(node.audio_url), start: node.in_s, end: node.out_s,
      })));
      const region = this.region && clamped(this.region, spineLength(spine));
      if (region && from >= region.from && from < region.to) playing.loopSpine(clips, region.from, region.to, from);
      else playing.playSpine(clips, from);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Play the loop from its start. */
  playLoop() {
    return this.region ? this.play(this.region.from) : this.play();
  }

  /** Stop the spine, or play it from the anchor. */
  toggle() {
    if (this.isPlaying()) playing.stop();
    else return this.play();
  }

  /** Loop `from` to `to` (either way round) and play it from its start. */
  loop(from, to) {
    const [a, b] = from <= to ? [from, to] : [to, from];
    if (b - a < MIN_LOOP_S) return;
    this.setRegion({ from: a, to: b });
    return this.play(a);
  }

  /** Loop part `id` of the spine, as far as it plays; false when it is not on the spine. */
  loopPart(id) {
    const spine = this.chain.spine();
    const at = spine.findIndex((node) => node.id === id);
    if (at < 0) return false;
    const start = spineLength(spine.slice(0, at));
    this.loop(start, start + playedLength(spine[at]));
    return true;
  }

  /** Loop from the anchor to `t` (a shift-click). */
  extend(t) {
    return this.loop(this.anchor, t);
  }

  /** Move the loop's start (`edge` "from") or end ("to") to where the spine is;
   *  without a loop, the other edge is the spine's start or end. A loop
   *  playing carries on from the same point. */
  moveEdge(edge) {
    const t = this.where();
    const end = spineLength(this.chain.spine());
    const region = { ...(this.region || { from: 0, to: end }) };
    region[edge] = t;
    if (edge === "from" && region.to - t < MIN_LOOP_S) region.to = end;
    if (edge === "to" && t - region.from < MIN_LOOP_S) region.from = 0;
    if (region.to - region.from < MIN_LOOP_S) return false;
    const wasPlaying = this.isPlaying();
    this.setRegion(region);
    if (wasPlaying) this.play(Math.min(Math.max(t, region.from), region.to - MIN_LOOP_S / 2));
    return true;
  }

  /** No loop: a loop playing plays on through the spine from where it is. */
  clearLoop() {
    if (!this.region) return;
    const looping = playing.isPlaying(playing.loop);
    const t = this.where();
    this.setRegion(null);
    if (looping) this.play(t);
  }

  setRegion(region) {
    this.region = region;
    this.onLoop(region);
  }
}

function clamped(region, length) {
  const to = Math.min(region.to, length);
  return to - region.from >= MIN_LOOP_S ? { from: region.from, to } : null;
}
