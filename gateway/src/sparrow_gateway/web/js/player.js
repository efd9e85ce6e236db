// One transport for the whole page: a node, the spine from any point through its
// seams (each clip scheduled sample-exact after the last, up to its end), a
// looped stretch of the spine, a looped seam for A/B, or a node's stems
// together. Those on onTick are told {what, position} every frame.

import { audioContext, seam, spliced } from "./audio.js";

const listeners = new Set();
// {what, sources, startedAt, offset, length, loop, seamAt, backAt, origin}: a
// loop's position counts from `origin` (a looped stretch of the spine: where
// it starts); `backAt`, where a replacing take gives way to its part again.
let playing = null;
let frame = 0;

export function onTick(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function tell() {
  const state = now();
  for (const listener of listeners) listener(state);
}

export function now() {
  if (!playing) return null;
  const ctx = audioContext();
  const elapsed = Math.max(0, ctx.currentTime - playing.startedAt);
  const position = playing.loop ? (playing.offset + elapsed) % playing.length : playing.offset + elapsed;
  const origin = playing.origin || 0;
  return {
    what: playing.what, position: origin + position, length: playing.length, seamAt: playing.seamAt, backAt: playing.backAt ?? null, origin,
  };
}

function loop() {
  tell();
  if (playing) frame = requestAnimationFrame(loop);
}

// Playback ends when the last of `sources` does (unless something else plays by then).
function stopAfterLast(sources) {
  const last = sources.at(-1);
  if (last) last.source.onended = () => playing?.sources === sources && stop();
}

function begin(what, sources, offset, length, extra = {}) {
  stop();
  const ctx = audioContext();
  playing = { what, sources, startedAt: ctx.currentTime + 0.05, offset, length, ...extra };
  if (!extra.loop) stopAfterLast(sources);
  frame = requestAnimationFrame(loop);
  return playing;
}

function source(buffer, destination) {
  const node = audioContext().createBufferSource();
  node.buffer = buffer;
  node.connect(destination || audioContext().destination);
  return node;
}

export function stop() {
  if (!playing) return;
  const was = playing;
  playing = null;
  for (const { source: node } of was.sources) {
    node.onended = null;
    try { node.stop(); } catch { /* not started */ }
  }
  cancelAnimationFrame(frame);
  tell();
}

export function isPlaying(what) {
  return playing !== null && (what === undefined || playing.what === what);
}

// Play one clip from `offset` seconds.
export function playBuffer(what, buffer, offset = 0) {
  const node = source(buffer);
  const start = Math.min(Math.max(0, offset), buffer.duration);
  const state = begin(what, [{ source: node }], start, buffer.duration);
  node.start(state.startedAt, start);
}

// Play clips back to back, each [{buffer, start, end}] from its `start`
// (seconds; 0 when absent) up to its `end` (all of it when absent), from
// `from` seconds into the first of them all.
export function playSequence(what, clips, from = 0) {
  const ctx = audioContext();
  const lengths = clips.map(lengthOf);
  const total = lengths.reduce((sum, length) => sum + length, 0);
  const sources = [];
  const state = begin(what, sources, Math.min(from, total), total);
  let at = state.startedAt;
  let skip = from;
  clips.forEach(({ buffer, start = 0 }, i) => {
    if (skip >= lengths[i]) {
      skip -= lengths[i];
      return;
    }
    const node = source(buffer);
    node.start(Math.max(at, ctx.currentTime), (start || 0) + skip, lengths[i] - skip);
    at += lengths[i] - skip;
    skip = 0;
    sources.push({ source: node });
  });
  stopAfterLast(sources); // begin() saw none of them yet
}

// Seconds a clip plays: from its start to its end (or the buffer's).
function lengthOf({ buffer, start, end }) {
  const to = end == null ? buffer.duration : Math.min(end, buffer.duration);
  return Math.max(0, to - (start || 0));
}

// Loop seconds `from` to `to` of clips played back to back (as playSequence),
// from `at` seconds (within the loop: it starts over there).
export function loopSequence(what, clips, from, to, at = from) {
  const buffer = joined(clips, from, to);
  const node = source(buffer);
  node.loop = true;
  const start = Math.min(Math.max(0, at - from), buffer.duration) % buffer.duration;
  const state = begin(what, [{ source: node }], start, buffer.duration, { loop: true, origin: from });
  node.start(state.startedAt, start);
}

// One buffer: seconds `from` to `to` of the clips back to back (the context's rate).
function joined(clips, from, to) {
  const ctx = audioContext();
  const rate = ctx.sampleRate;
  const channels = Math.max(...clips.map((c) => c.buffer.numberOfChannels));
  const out = ctx.createBuffer(channels, Math.max(1, Math.round((to - from) * rate)), rate);
  let start = 0; // where the clip starts, in seconds of the sequence
  for (const clip of clips) {
    const length = lengthOf(clip);
    const head = Math.max(from, start);
    const tail = Math.min(to, start + length);
    if (tail > head) {
      const first = Math.round((head - start + (clip.start || 0)) * rate);
      const count = Math.min(Math.round((tail - head) * rate), out.length - Math.round((head - from) * rate));
      for (let c = 0; c < channels; c++) {
        const samples = clip.buffer.getChannelData(Math.min(c, clip.buffer.numberOfChannels - 1));
        out.getChannelData(c).set(samples.subarray(first, first + count), Math.round((head - from) * rate));
      }
    }
    start += length;
  }
  return out;
}

// Loop the seam between `before` and `after`: `range.before` seconds of
// `before` up to `range.at` (its end when absent), then `range.after` of
// `after`, from `offset` into the loop (so A and B swap at the same point).
export function loopSeam(what, before, after, range, offset = 0) {
  const { buffer, seamAt } = seam(before, after, range.before, range.after, range.at);
  const node = source(buffer);
  node.loop = true;
  const start = offset % buffer.duration;
  const state = begin(what, [{ source: node }], start, buffer.duration, { loop: true, seamAt });
  node.start(state.startedAt, start);
}

// Loop a take that replaces a stretch through both its joins: `pieces`
// [{buffer, from, to}] back to back (the part before the stretch, the take to
// where the part comes back, the part after), from `offset` into the loop;
// the seam is where the second piece starts, the way back where the third does.
export function loopSpliced(what, pieces, offset = 0) {
  const { buffer, starts } = spliced(pieces);
  const node = source(buffer);
  node.loop = true;
  const start = Math.max(0, offset) % buffer.duration;
  const state = begin(what, [{ source: node }], start, buffer.duration, {
    loop: true, seamAt: starts[1] ?? 0, backAt: starts[2] ?? null,
  });
  node.start(state.startedAt, start);
}

// Play several buffers at once, each through its own gain (stems).
export function playTogether(what, named) {
  const ctx = audioContext();
  const gains = {};
  const sources = [];
  for (const [name, buffer] of Object.entries(named)) {
    const gain = ctx.createGain();
    gain.connect(ctx.destination);
    gains[name] = gain;
    sources.push({ source: source(buffer, gain) });
  }
  const length = Math.max(...Object.values(named).map((b) => b.duration));
  const state = begin(what, sources, 0, length);
  for (const { source: node } of sources) node.start(state.startedAt);
  return gains;
}
