// A part's grid (node.grid: what Sparrow heard, with the musician's
// corrections over it) as the editor uses it: the keys and time signatures a
// musician may pick, a tempo from taps, and points snapped to its beats and
// bars. Pure: no DOM, no fetch.

/** The time signatures a part may be in; 6/8 and 12/8 count the dotted quarter as the beat. */
export const TIME_SIGNATURES = ["2/4", "3/4", "4/4", "6/8", "12/8"];

/** The tempo a musician may type, as the API bounds it (bpm). */
export const TEMPO_RANGE = [20, 300];

// As the analysis worker spells them (services/analysis engine/key.py).
const NOTES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

/** The 24 keys, majors then minors: "C major" ... "B minor". */
export const KEYS = [...NOTES.map((n) => `${n} major`), ...NOTES.map((n) => `${n} minor`)];

/** What a correction may hold, in the order the facts read. */
export const FIELDS = ["tempo_bpm", "time_signature", "bar_one_s", "key"];

/** Each field's word in grid.corrected, and in the moves' words. */
const CORRECTED_NAME = { tempo_bpm: "tempo", time_signature: "time_signature", bar_one_s: "bar_one", key: "key" };
const CHANGE_WORDS = { tempo_bpm: "tempo", time_signature: "time signature", bar_one_s: "bar 1", key: "key" };

/** Taps it takes to name a tempo. */
export const MIN_TAPS = 4;
/** A pause this long (seconds) ends a run of taps: the next tap starts a new one. */
export const TAP_PAUSE_S = 2;

/** A bar line this close to a point (pixels) takes it; else the nearest beat does. */
export const SNAP_BAR_PX = 8;

/** The grid `node` plays on, when it has a tempo; null otherwise (no beats, no bars). */
export function gridOf(node) {
  const grid = node?.grid;
  return grid && grid.tempo_bpm ? grid : null;
}

/** The correction as the API keeps it, every field present (null: as heard). */
export function correctionOf(node) {
  const kept = node?.grid_correction || {};
  return Object.fromEntries(FIELDS.map((field) => [field, kept[field] ?? null]));
}

/** Whether the musician set `field` (of FIELDS) on `grid`. */
export function isCorrected(grid, field) {
  return Boolean(grid?.corrected?.includes(CORRECTED_NAME[field]));
}

/** What changed from correction `was` to `now`, in words: "tempo change",
 *  "bar 1 and key change", "grid back to as heard". */
export function changeWords(was, now) {
  const changed = FIELDS.filter((field) => (was[field] ?? null) !== (now[field] ?? null));
  if (changed.length && FIELDS.every((field) => now[field] == null)) return "grid back to as heard";
  if (!changed.length) return "grid change";
  const names = changed.map((field) => CHANGE_WORDS[field]);
  const listed = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  return `${listed} change`;
}

/** The tempo (bpm) of `times` (seconds, in order) tapped: 60 over the median
 *  interval, from MIN_TAPS taps on; null before. */
export function tapTempo(times) {
  if (times.length < MIN_TAPS) return null;
  const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  const mid = gaps.length >> 1;
  const median = gaps.length % 2 ? gaps[mid] : (gaps[mid - 1] + gaps[mid]) / 2;
  if (median <= 0) return null;
  const bpm = 60 / median;
  return Math.round(Math.min(TEMPO_RANGE[1], Math.max(TEMPO_RANGE[0], bpm)) * 10) / 10;
}

/** A run of taps: tap(seconds) takes in one and answers the tempo so far (null under MIN_TAPS). */
export class Taps {
  constructor() {
    this.times = [];
  }

  tap(seconds) {
    if (this.times.length && seconds - this.times.at(-1) > TAP_PAUSE_S) this.times = [];
    this.times.push(seconds);
    return tapTempo(this.times);
  }

  get count() {
    return this.times.length;
  }

  reset() {
    this.times = [];
  }
}

/** Snap `t` (seconds) to a bar line within `barPx` pixels of it, else to the
 *  nearest beat (within half the beat around it); `toPx(t)` places seconds in
 *  pixels. {beats, bars}: seconds, in order. Answers {t, to: "bar" | "beat" | null}. */
export function snap(t, { beats = [], bars = [] }, toPx, barPx = SNAP_BAR_PX) {
  const x = toPx(t);
  const bar = nearest(bars, t);
  if (bar !== null && Math.abs(toPx(bar) - x) <= barPx) return { t: bar, to: "bar" };
  const i = nearestIndex(beats, t);
  if (i < 0) return { t, to: null };
  const beat = beats[i];
  const gap = beatGap(beats, i);
  if (gap !== null && Math.abs(beat - t) <= gap / 2 + 1e-9) return { t: beat, to: bars.some((b) => Math.abs(b - beat) < 1e-6) ? "bar" : "beat" };
  return { t, to: null };
}

/** Snap `seconds` into `node` to its grid (snap()), at `pxPerSecond`; with
 *  `alt` it stays where it is ("free"). {t, to}: to is null without a grid. */
export function snapPoint(node, seconds, { alt = false, pxPerSecond = 100 } = {}) {
  const points = gridPoints(node);
  if (!points.beats.length && !points.bars.length) return { t: seconds, to: null };
  if (alt) return { t: seconds, to: "free" };
  return snap(seconds, points, (t) => t * pxPerSecond);
}

/** Where each bar of `node` starts, seconds into it, up to `length`: bar 1
 *  first. Bar 1 is where the musician put it; else the first bar heard, with
 *  the whole bars before it that the beat tracker missed (it needs some music
 *  before it hears one, though the tempo carries back to the start; less than
 *  a bar is a pickup). Empty without a tempo. */
export function barStarts(node, length = node?.duration_s ?? Infinity) {
  const grid = gridOf(node);
  if (!grid) return [];
  const downbeats = (grid.downbeats_s || []).filter((t) => t >= 0 && t < length);
  const barOne = node.grid_correction?.bar_one_s;
  if (isCorrected(grid, "bar_one_s") && barOne != null) return downbeats.filter((t) => t >= barOne - 1e-3);
  if (!downbeats.length) return [];
  const bar = (60 / grid.tempo_bpm) * (grid.meter || 4);
  const earlier = [];
  for (let t = downbeats[0] - bar; t > -0.1 * bar; t -= bar) earlier.unshift(Math.max(0, t));
  return [...earlier, ...downbeats];
}

/** A part's beats and bars in seconds into it, from its grid: {beats, bars};
 *  empty without a tempo. */
export function gridPoints(node) {
  const grid = gridOf(node);
  return grid ? { beats: grid.beats_s || [], bars: grid.downbeats_s || [] } : { beats: [], bars: [] };
}

/** The beats and bars of every part of the spine, in spine seconds; `parts`:
 *  timeline.js's layout's parts (start, length, inAt: where the part starts
 *  playing its audio, whose seconds its grid counts), as many as `spine`. */
export function spinePoints(spine, parts) {
  const beats = [];
  const bars = [];
  spine.forEach((node, i) => {
    const part = parts[i];
    if (!part) return;
    const from = part.inAt || 0;
    const inside = (t) => t >= from - 1e-6 && t < from + part.length + 1e-6;
    const points = gridPoints(node);
    beats.push(...points.beats.filter(inside).map((t) => part.start + t - from));
    bars.push(...points.bars.filter(inside).map((t) => part.start + t - from));
  });
  return { beats, bars };
}

/** Where a seam loop of `seconds` either side starts and ends, snapped: to
 *  the parent's bar line (else beat) nearest `seconds` before the seam, and
 *  the take's nearest `seconds` after its start. `seamAt`: the seam, seconds
 *  into the parent. Answers {before, after, snapped: [to before, to after]}. */
export function seamLoop(parent, take, seamAt, seconds) {
  const before = loopEdge(gridPoints(parent), seamAt - seconds, [0, seamAt - seconds / 3]);
  const after = loopEdge(gridPoints(take), seconds, [seconds / 3, take?.duration_s ?? Infinity]);
  return { before: seamAt - before.t, after: after.t, snapped: [before.to, after.to] };
}

// Within half a bar a bar line takes the loop's edge, else a beat within half a beat does.
function loopEdge(points, t, [low, high]) {
  const fits = (x) => x >= low - 1e-9 && x <= high + 1e-9;
  const bars = points.bars.filter(fits);
  const bar = nearest(bars, t);
  const barLength = points.bars.length > 1 ? (points.bars.at(-1) - points.bars[0]) / (points.bars.length - 1) : null;
  if (bar !== null && barLength && Math.abs(bar - t) <= barLength / 2) return { t: bar, to: "bar" };
  const snapped = snap(t, { beats: points.beats.filter(fits), bars: [] }, (x) => x, 0);
  return snapped.to ? snapped : { t: Math.min(Math.max(t, low), high), to: null };
}

function nearestIndex(sorted, t) {
  let best = -1;
  for (let i = 0; i < sorted.length; i++) {
    if (best < 0 || Math.abs(sorted[i] - t) < Math.abs(sorted[best] - t)) best = i;
  }
  return best;
}

function nearest(sorted, t) {
  const i = nearestIndex(sorted, t);
  return i < 0 ? null : sorted[i];
}

// The beat interval around beat `i` (null for a lone beat).
function beatGap(beats, i) {
  if (beats.length < 2) return null;
  const j = i + 1 < beats.length ? i + 1 : i - 1;
  return Math.abs(beats[j] - beats[i]);
}
