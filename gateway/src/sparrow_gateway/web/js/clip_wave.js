// A node's waveform in a spine block or a take card, drawn once its audio is
// ready: "loading audio…" until then, and why not if it can't be read. A take
// that continues from a point of its parent says so over it ("from 0:01.50").
// The point the musician last clicked on any waveform is marked on it, with a
// button to continue from there (markPoint).

import { loadBuffer } from "./audio.js";
import { clear, h } from "./dom.js";
import { clock } from "./timeline.js";
import { waveform } from "./waveform.js";

const drawn = new Set(); // the items whose waveform is drawn, to mark a point on
let marked = null; // {nodeId, seconds, button: a function making the mark's button}

/** Draw `node`'s waveform into `item.waveHolder` (once per node), keeping
 *  `item.bars` (bar lines) over it; the waveform is then `item.wave`.
 *  `onSeek(seconds, {shift})` hears a click, in seconds into the node;
 *  `labelFrom`: say over it where it continues its parent from. */
export function showWave(item, node, { height, color, onSeek, labelFrom = true }) {
  if (labelFrom) showFrom(item, node);
  if (item.waveFor === node.id || node.status !== "ready" || !node.audio_url) return;
  if (node.duration_s === 0) { // the beginning of a chain started from words: no audio
    clear(item.waveHolder);
    return;
  }
  item.waveFor = node.id;
  item.nodeId = node.id;
  const holder = item.waveHolder;
  clear(holder).append(h("span", { class: "muted" }, "loading audio…"));
  loadBuffer(node.audio_url).then((buffer) => {
    if (item.waveFor !== node.id) return;
    item.wave = waveform(buffer, { height, color, onSeek });
    clear(holder).append(item.wave.el);
    if (item.bars) holder.append(item.bars);
    drawn.add(item);
    showMark(item);
  }, (error) => {
    item.waveFor = null;
    clear(holder).append(h("span", { class: "error-text" }, `Can't play this: ${error.message}`));
  });
}

/** Mark `point.seconds` into node `point.nodeId` on its waveform, with the
 *  elements `point.button()` makes on the mark and `point.snapped` ("bar",
 *  "beat", "free" or null) shown; null: no mark anywhere. */
export function markPoint(point) {
  marked = point;
  for (const item of drawn) {
    if (item.wave?.destroyed) drawn.delete(item);
    else showMark(item);
  }
}

function showMark(item) {
  const here = marked && marked.nodeId === item.nodeId;
  item.wave?.mark(here ? marked.seconds : null, here ? marked.button() : null, here ? marked.snapped : null);
}

// "from 0:01.50" over a take that continues from a point of its parent (an
// intro continues nothing: it leads into its parent).
function showFrom(item, node) {
  if (node.from_s == null || node.intro) {
    item.fromLabel?.remove();
    return;
  }
  item.fromLabel ||= h("small", { class: "from-label", title: "Where it continues its parent from (the parent's out point once it is committed)" });
  item.fromLabel.textContent = `from ${clock(node.from_s, 2)}`;
  if (!item.fromLabel.isConnected) item.waveHolder.before(item.fromLabel);
}
