// A node's waveform in a spine block or a take card, drawn once its audio is
// ready: "loading audio…" until then, and why not if it can't be read.

import { loadBuffer } from "./audio.js";
import { clear, h } from "./dom.js";
import { waveform } from "./waveform.js";

/** Draw `node`'s waveform into `item.waveHolder` (once per node), keeping
 *  `item.bars` (bar lines) over it; the waveform is then `item.wave`.
 *  `onSeek(seconds)` hears a click, in seconds into the node. */
export function showWave(item, node, { height, color, onSeek }) {
  if (item.waveFor === node.id || node.status !== "ready" || !node.audio_url) return;
  item.waveFor = node.id;
  const holder = item.waveHolder;
  clear(holder).append(h("span", { class: "muted" }, "loading audio…"));
  loadBuffer(node.audio_url).then((buffer) => {
    item.wave = waveform(buffer, { height, color, onSeek });
    clear(holder).append(item.wave.el);
    if (item.bars) holder.append(item.bars);
  }, (error) => {
    item.waveFor = null;
    clear(holder).append(h("span", { class: "error-text" }, `Can't play this: ${error.message}`));
  });
}
