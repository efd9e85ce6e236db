// What the page's one transport (player.js) plays, by name: {kind: "spine"},
// {kind: "clip", nodeId} (one part or take alone), {kind: "seam", nodeId}
// (A/B: a take looped across its seam) or {kind: "stems", nodeId} (stems.js
// starts those itself). player.js keys them as strings ("node:<id>"); only
// this module reads or writes those keys.

import * as player from "./player.js";

const PREFIX = { clip: "node", seam: "seam", stems: "stems" };
const KIND = Object.fromEntries(Object.entries(PREFIX).map(([kind, prefix]) => [prefix, kind]));

export const spine = Object.freeze({ kind: "spine" });

/** One part or take alone. */
export function clip(nodeId) {
  return { kind: "clip", nodeId };
}

/** A take across its seam, looped. */
export function seam(nodeId) {
  return { kind: "seam", nodeId };
}

function keyOf(what) {
  return what.kind === "spine" ? "spine" : `${PREFIX[what.kind]}:${what.nodeId}`;
}

function whatOf(key) {
  if (key === "spine") return spine;
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

/** Where the transport is: {what, position, length, seamAt}, or null when stopped. */
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

/** The spine's parts back to back, from `from` seconds into the first. */
export function playSpine(buffers, from = 0) {
  player.playSequence(keyOf(spine), buffers, from);
}

/** Node `nodeId`'s audio alone, from `from` seconds. */
export function playClip(nodeId, buffer, from = 0) {
  player.playBuffer(keyOf(clip(nodeId)), buffer, from);
}

/** Take `nodeId` across its seam with its parent, `seconds` either side, looped from `offset`. */
export function loopSeam(nodeId, parent, take, seconds, offset = 0) {
  player.loopSeam(keyOf(seam(nodeId)), parent, take, seconds, offset);
}
