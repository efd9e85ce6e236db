// The spine's time, and where it sits on the screen. A part plays its audio
// from its in point (in_s: the rest of a part after a replaced stretch starts
// there) up to its out point (out_s) and the next part follows, so spine time
// counts what is heard: a part's played length, not its audio's. The timeline is linear in
// spine time, except that no part is drawn narrower than MIN_PART_PX (its head
// must stay usable): such a part gets its own, wider scale. Pure: no DOM.

/** The narrowest a part's block is drawn, in pixels. */
export const MIN_PART_PX = 120;
/** The space between two parts' blocks, in pixels. */
export const GAP_PX = 2;
/** The zoom levels: 1 fits the whole spine in view. */
export const ZOOMS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16];

/** Where the spine starts playing `node`, in seconds of its audio: its in point, or 0. */
export function inPoint(node) {
  return node.in_s || 0;
}

/** Where the spine stops playing `node`, in seconds of its audio: its out point, or its end. */
export function outPoint(node) {
  const whole = node.duration_s || 0;
  return node.out_s != null ? Math.min(node.out_s, whole || node.out_s) : whole;
}

/** Seconds of `node` the spine plays: from its in point to its out point. */
export function playedLength(node) {
  return Math.max(0, outPoint(node) - inPoint(node));
}

/** Where the stretch `from` to `to` of the spine (seconds, either way round)
 *  lies, when inside one part: {nodeId, at (the part's index), from_s, until_s
 *  (seconds of the part's audio)}; null when it is not (past the end, or across parts). */
export function stretchIn(spine, from, to) {
  const [a, b] = from <= to ? [from, to] : [to, from];
  let start = 0;
  for (const [at, node] of spine.entries()) {
    const length = playedLength(node);
    const end = start + length;
    if (a >= start - 1e-6 && a < end) {
      if (b > end + 1e-6) return null;
      const into = (t) => Math.round((inPoint(node) + Math.min(Math.max(0, t - start), length)) * 1000) / 1000;
      return { nodeId: node.id, at, from_s: into(a), until_s: into(b) };
    }
    start = end;
  }
  return null;
}

/** The spine as it is heard and drawn: after an intro is committed the root
 *  plays nothing (the intro comes first, then the rest of the clip), so it is
 *  left out; otherwise the spine itself. Spine time is the same either way. */
export function heardSpine(spine) {
  return spine[1]?.intro && playedLength(spine[0]) === 0 ? spine.slice(1) : spine;
}

/** How long the spine plays, parts root first. */
export function spineLength(spine) {
  return spine.reduce((sum, node) => sum + playedLength(node), 0);
}

/** Seconds as m:ss, m:ss.s or m:ss.ss (`decimals`). */
export function clock(seconds, decimals = 0) {
  const s = Math.max(0, seconds || 0);
  const rounded = Number(s.toFixed(decimals));
  const m = Math.floor(rounded / 60);
  const rest = (rounded - m * 60).toFixed(decimals);
  return `${m}:${rest.padStart(decimals ? decimals + 3 : 2, "0")}`;
}

/** The zoom level `step` levels from `level` (0: back to 1, the whole spine in view). */
export function zoomed(level, step) {
  if (step === 0) return 1;
  const at = ZOOMS.findIndex((z) => z >= level);
  const index = at < 0 ? ZOOMS.length - 1 : at;
  return ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, index + step))];
}

// Pixels per second so that the parts, none under MIN_PART_PX, fill `width`.
function fitScale(lengths, width) {
  const room = width - GAP_PX * Math.max(0, lengths.length - 1);
  let pinned = new Set(); // parts held at their minimum
  let scale = 0;
  for (let round = 0; round <= lengths.length; round++) {
    const free = lengths.reduce((sum, len, i) => sum + (pinned.has(i) ? 0 : len), 0);
    const left = room - pinned.size * MIN_PART_PX;
    if (free <= 0 || left <= 0) return scale || MIN_PART_PX;
    scale = left / free;
    const next = new Set(lengths.map((len, i) => i).filter((i) => lengths[i] * scale < MIN_PART_PX));
    if (next.size === pinned.size) return scale;
    pinned = next;
  }
  return scale;
}

/** The spine laid out on a timeline `width` pixels wide at zoom `zoom`:
 *  parts [{id, start, length, whole, inAt, x, width, scale}] (seconds of spine
 *  time; `whole`, the audio's length, and `inAt`, where in it the part starts
 *  playing; pixels), the total `width` and `length`, and x(t) / t(x) between them. */
export function layout(spine, width, zoom = 1) {
  const lengths = spine.map((node) => Math.max(playedLength(node), 0.01));
  const scale = fitScale(lengths, Math.max(width - 1, 1)) * zoom; // a pixel spare: no scrollbar from rounding
  const parts = [];
  let start = 0;
  let x = 0;
  spine.forEach((node, i) => {
    const px = Math.max(MIN_PART_PX, lengths[i] * scale);
    parts.push({ id: node.id, start, length: lengths[i], whole: node.duration_s || lengths[i], inAt: inPoint(node), x, width: px, scale: px / lengths[i] });
    start += lengths[i];
    x += px + GAP_PX;
  });
  return new Timeline(parts, Math.max(0, x - GAP_PX), start, scale);
}

class Timeline {
  constructor(parts, width, length, scale) {
    this.parts = parts;
    this.width = width;
    this.length = length;
    this.scale = scale; // pixels per second where no part is widened
  }

  /** The part that plays at spine time `t` (the last one past the end). */
  partAt(t) {
    return this.parts.find((p) => t < p.start + p.length) || this.parts.at(-1);
  }

  /** Spine seconds to pixels from the timeline's left. */
  x(t) {
    const part = this.partAt(t);
    if (!part) return 0;
    return part.x + Math.min(Math.max(0, t - part.start), part.length) * part.scale;
  }

  /** Pixels from the timeline's left to spine seconds (a gap counts as the part after it). */
  t(x) {
    const part = [...this.parts].reverse().find((p) => x >= p.x - GAP_PX) || this.parts[0];
    if (!part) return 0;
    return part.start + Math.min(Math.max(0, x - part.x) / part.scale, part.length);
  }
}
