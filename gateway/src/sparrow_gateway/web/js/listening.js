// What Sparrow heard in each part, in words, and the takes ranked by their
// seams. Pure functions over the API's nodes: no DOM, no state.

import { gridOf, isCorrected } from "./grid.js";

/** A seam scoring under this is never called the best: a take has to be fit
 *  to continue its parent to be ranked first (the API's RankedTake.best keeps
 *  the same floor). */
export const BEST_FLOOR = 0.5;

const yours = (grid, field, words) => (isCorrected(grid, field) ? `${words} (yours)` : words);

/** "120 bpm · 4/4 · A minor" (with "(yours)" after what the musician set), or
 *  what is missing, or where its hearing is: "waiting its turn" (queued behind
 *  other analyses: a take's seam goes before uploads, users take turns) or
 *  "listening…" (being heard); null when nothing is asked. Reads node.grid, the
 *  grid the chain uses, and node.analysis for whether it was heard. */
export function describeClip(node) {
  const analysis = node?.analysis;
  const grid = node?.grid;
  if (!analysis && !grid) return null;
  if (!grid && analysis?.status === "error") return "not analysed";
  if (!grid && analysis?.status === "pending") return "waiting its turn";
  if (!grid && analysis?.status !== "ready") return "listening…";
  const pulse = gridOf(node)
    ? `${yours(grid, "tempo_bpm", `${Math.round(grid.tempo_bpm * 10) / 10} bpm`)} · ${yours(grid, "time_signature", grid.time_signature || `${grid.meter}/4`)}`
    : "no steady beat";
  const key = grid?.key ? yours(grid, "key", grid.key) : "key unclear";
  return `${pulse} · ${key}`;
}

/** The seam report in words: "tempo +0.4%, on the beat, same key, fades out". */
export function describeSeam(seam) {
  return seam ? seam.notes.join(", ") : "";
}

/** The join a take is ranked by once heard (null before): its seam report,
 *  or for a take that replaces a stretch the worse of its seam and its rejoin
 *  (an unjudged one first), for an intro its rejoin alone (nothing plays
 *  before it: no seam), as the API's ranking does. */
export function seamOf(node) {
  const analysis = node.analysis;
  if (analysis?.status !== "ready") return null;
  const joins = [analysis.seam, analysis.rejoin].filter(Boolean);
  if (!joins.length) return null;
  return joins.reduce((worse, join) => {
    if (Boolean(join.unjudged) !== Boolean(worse.unjudged)) return join.unjudged ? join : worse;
    return join.score < worse.score ? join : worse;
  });
}

/** Where a take that replaces a stretch comes back, in words ("comes back at
 *  5.25 s, on a downbeat 0.2 s after the asked point · 81%"), or where the
 *  clip comes in after an intro ("your clip comes in at 3.00 s, from its
 *  first downbeat (0.02 s of it) · 81%"); null for others and before it is heard. */
export function describeRejoin(node) {
  const rejoin = node.analysis?.status === "ready" ? node.analysis.rejoin : null;
  if (!rejoin) return null;
  if (node.intro) {
    const where = `your clip comes in at ${(node.until_s ?? 0).toFixed(2)} s, from its first downbeat (${rejoin.at_s.toFixed(2)} s of it)`;
    if (rejoin.unjudged) return `${where}, as asked: ${rejoin.unjudged}`;
    const notes = rejoin.notes.map((note) => note.replace(/^comes back/, "comes in"));
    return `${where} · ${Math.round(rejoin.score * 100)}%${notes.length ? `: ${notes.join(", ")}` : ""}`;
  }
  if (rejoin.unjudged) return `comes back at ${rejoin.at_s.toFixed(2)} s, as asked: ${rejoin.unjudged}`;
  return `comes back at ${rejoin.at_s.toFixed(2)} s · ${Math.round(rejoin.score * 100)}%: ${rejoin.notes.join(", ")}`;
}

/** Whether the seam was judged (the figures said enough to score it). */
export function judged(seam) {
  return Boolean(seam) && !seam.unjudged;
}

/** The takes best seam first, then those heard but not judged, then those not
 *  heard yet (each in the order given): [{ node, rank, best }] with rank 1 for
 *  the best judged seam, null for the others; `best` only for rank 1 scoring
 *  at least BEST_FLOOR. */
export function ranked(takes) {
  const scored = takes.filter((n) => judged(seamOf(n))).sort((a, b) => seamOf(b).score - seamOf(a).score);
  const rest = takes.filter((n) => seamOf(n) && !judged(seamOf(n)));
  const waiting = takes.filter((n) => !seamOf(n));
  return [
    ...scored.map((node, i) => ({ node, rank: i + 1, best: i === 0 && seamOf(node).score >= BEST_FLOOR })),
    ...[...rest, ...waiting].map((node) => ({ node, rank: null, best: false })),
  ];
}

/** Where each bar starts, as a fraction of the part (0 to 1), from its grid. */
export function barLines(node) {
  const grid = gridOf(node);
  if (!grid || !node.duration_s) return [];
  return grid.downbeats_s.filter((t) => t > 0 && t < node.duration_s).map((t) => t / node.duration_s);
}
