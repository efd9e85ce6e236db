// What Sparrow heard in each part, in words, and the takes ranked by their
// seams. Pure functions over the API's nodes: no DOM, no state.

// "120 bpm · 4/4 · A minor", or what is missing, or null while it is on its way.
export function describeClip(analysis) {
  if (!analysis) return null;
  if (analysis.status === "error") return "not analysed";
  if (analysis.status !== "ready") return "listening…";
  const c = analysis;
  const pulse = c.tempo_bpm ? `${Math.round(c.tempo_bpm * 10) / 10} bpm · ${c.meter}/4` : "no steady beat";
  return `${pulse} · ${c.key || "key unclear"}`;
}

// The seam report in words: "tempo +0.4%, on the beat, same key, fades out".
export function describeSeam(seam) {
  return seam ? seam.notes.join(", ") : "";
}

export function seamOf(node) {
  return node.analysis?.status === "ready" ? node.analysis.seam : null;
}

// The takes best seam first (those not heard yet keep their order, after);
// [{ node, rank }] with rank 1 for the best, null when not heard yet.
export function ranked(takes) {
  const heard = takes.filter((n) => seamOf(n)).sort((a, b) => seamOf(b).score - seamOf(a).score);
  const waiting = takes.filter((n) => !seamOf(n));
  return [...heard.map((node, i) => ({ node, rank: i + 1 })), ...waiting.map((node) => ({ node, rank: null }))];
}

// Where each bar starts, as a fraction of the part (0 to 1).
export function barLines(node) {
  const c = node.analysis?.status === "ready" ? node.analysis : null;
  if (!c || !c.tempo_bpm || !node.duration_s) return [];
  return c.downbeats_s.filter((t) => t > 0 && t < node.duration_s).map((t) => t / node.duration_s);
}
