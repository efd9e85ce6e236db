// A waveform drawn by wavesurfer.js from the decoded buffer's peaks (no second
// fetch, no media element: playback is the page's one transport), with a
// playhead the transport moves. Clicking calls onSeek(seconds).

import WaveSurfer from "../vendor/wavesurfer.esm.js";
import { h } from "./dom.js";
import { peaksOf } from "./audio.js";

export function waveform(buffer, { height = 64, color = "#7c9cbf", onSeek } = {}) {
  const container = h("div", { class: "wave" });
  const playhead = h("div", { class: "playhead", hidden: true });
  const holder = h("div", { class: "wave-holder" }, container, playhead);
  const surfer = WaveSurfer.create({
    container,
    height,
    peaks: peaksOf(buffer),
    duration: buffer.duration,
    waveColor: color,
    progressColor: color,
    cursorWidth: 0,
    barWidth: 2,
    barGap: 1,
    interact: Boolean(onSeek),
  });
  if (onSeek) surfer.on("interaction", (seconds) => onSeek(seconds));
  return {
    el: holder,
    duration: buffer.duration,
    // Where the playhead is, in seconds; null hides it.
    show(seconds) {
      if (seconds === null || seconds === undefined) {
        playhead.hidden = true;
        return;
      }
      playhead.hidden = false;
      playhead.style.left = `${Math.min(100, (100 * seconds) / buffer.duration)}%`;
    },
    destroy() {
      surfer.destroy();
    },
  };
}
