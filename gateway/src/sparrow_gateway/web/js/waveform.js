// A waveform drawn by wavesurfer.js from the decoded buffer's peaks (no second
// fetch, no media element: playback is the page's one transport), with a
// playhead the transport moves and a marked point (where the musician clicked,
// with a button to continue from there). Clicking calls onSeek(seconds, {shift,
// alt, pxPerSecond}): the keys held, and the scale the click was made at (to snap by).

import WaveSurfer from "../vendor/wavesurfer.esm.js";
import { h } from "./dom.js";
import { peaksOf } from "./audio.js";

export function waveform(buffer, { height = 64, color = "#7c9cbf", onSeek } = {}) {
  const container = h("div", { class: "wave" });
  const playhead = h("div", { class: "playhead", hidden: true });
  const mark = h("div", { class: "point-mark", hidden: true });
  const holder = h("div", { class: "wave-holder" }, container, playhead, mark);
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
  // wavesurfer's click carries no keys: the press before it tells a shift- or alt-click.
  let keys = { shift: false, alt: false };
  container.addEventListener("pointerdown", (event) => { keys = { shift: event.shiftKey, alt: event.altKey }; }, { capture: true });
  if (onSeek) {
    surfer.on("interaction", (seconds) => onSeek(seconds, { ...keys, pxPerSecond: container.clientWidth / buffer.duration }));
  }
  const at = (seconds) => `${Math.min(100, (100 * seconds) / buffer.duration)}%`;
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
      playhead.style.left = at(seconds);
    },
    // Mark the point at `seconds` (null: none) with `button` (an element, or
    // several) on it; `snapped`: "bar" or "beat" when it snapped to one, "free" when placed freely.
    mark(seconds, button = null, snapped = null) {
      mark.hidden = seconds === null || seconds === undefined;
      if (mark.hidden) return;
      mark.style.left = at(seconds);
      // Near the right end the button hangs to the left of the line.
      mark.classList.toggle("flip", seconds / buffer.duration > 0.6);
      mark.dataset.snap = snapped || "";
      mark.replaceChildren(...[button].flat().filter(Boolean));
    },
    destroy() {
      surfer.destroy();
      this.destroyed = true;
    },
  };
}
