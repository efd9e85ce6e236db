// What the page's one transport (player.js) plays, by name: {kind: "spine"},
// {kind: "loop"} (a stretch of the spine, looped), {kind: "clip", nodeId} (one
// part or take alone), {kind: "seam", nodeId} (A/B: a take looped across its
// seam) or {kind: "stems", nodeId} (stems.js starts those itself). player.js keys them as strings ("node:<id>"); only
// this module reads or writes those keys.

import * as player from "./player.js";

const PREFIX = { clip: "node", seam: "seam", stems: "stems" };
const KIND = Object.fromEntries(Object.entries(PREFIX).map(([kind, prefix]) => [prefix, kind]));

export const spine = Object.freeze({ kind: "spine" });
export const loop = Object.freeze({ kind: "loop" });

/** One part or take alone. */
export function clip(nodeId) {
  return { kind: "clip", nodeId };
}

/** A take across its seam, looped. */
export function seam(nodeId) {
  return { kind: "seam", nodeId };
}

function keyOf(what) {
  return what.kind === "spine" || what.kind === "loop" ? what.kind : `${PREFIX[what.kind]}:${what.nodeId}`;
}

function whatOf(key) {
  if (key === "spine") return spine;
  if (key === "loop") return loop;
  const [prefix, nodeId] = key.split(/:(.*)/s);
  return { kind: KIND[prefix] || prefix, nodeId };
}

function named(state) {
  return state && { ...state, what: whatOf(state.what) };
}

/** Whether `a` and `b` are the same thing to play (either may be null). */
export function same(a, b) {
  return a?.kind === b?.kind && a?.nodeId === b?.nodeId;
}

/** Where the transport is: {what, position, length, seamAt, backAt, origin},
 *  or null when stopped (`backAt`: in a looped replacement, where its part comes back); a loop of the spine's position is in spine seconds, from
 *  `origin` (the loop's start) for `length` seconds. */
export function now() {
  return named(player.now());
}

/** `listener` hears now()'s answer every frame while anything plays, and once on a stop. */
export function onTick(listener) {
  return player.onTick((state) => listener(named(state)));
}

/** Whether `what` plays (anything, without `what`). */
export function isPlaying(what) {
  return player.isPlaying(what && keyOf(what));
}

export function stop() {
  player.stop();
}

/** The spine's parts back to back, [{buffer, start, end}] each from its in
 *  point (`start`, seconds; 0 when null) up to its out point (`end`; all of it
 *  when null), from `from` seconds of the spine. */
export function playSpine(clips, from = 0) {
  player.playSequence(keyOf(spine), clips, from);
}

/** Seconds `from` to `to` of the spine (clips as for playSpine), looped until
 *  stopped, from `at` seconds of the spine. */
export function loopSpine(clips, from, to, at = from) {
  player.loopSequence(keyOf(loop), clips, from, to, at);
}

/** Node `nodeId`'s audio alone, from `from` seconds. */
export function playClip(nodeId, buffer, from = 0) {
  player.playBuffer(keyOf(clip(nodeId)), buffer, from);
}

/** Take `nodeId` across its seam with its parent, looped from `offset`:
 *  `range` {before, after, at}, seconds of the parent before the seam (at `at`), of the take after. */
export function loopSeam(nodeId, parent, take, range, offset = 0) {
  player.loopSeam(keyOf(seam(nodeId)), parent, take, range, offset);
}

/** Take `nodeId`, which replaces a stretch of its parent, looped through both
 *  joins from `offset`: `pieces` [{buffer, from, to}], the parent before the
 *  stretch, the take to where the parent comes back, the parent after it (for
 *  the original, `nodeId` the parent's: the parent's own stretch in the middle). */
export function loopReplacement(nodeId, pieces, offset = 0) {
  player.loopSpliced(keyOf(seam(nodeId)), pieces, offset);
}
