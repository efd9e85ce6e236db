// The time ruler over the spine: m:ss at a step that suits the zoom, and, where
// the parts have a grid (heard, or the musician's), the bar numbers, counted across the spine.

import { clear, h } from "./dom.js";
import { barStarts } from "./grid.js";
import { clock } from "./timeline.js";

// Steps between labelled ticks, in seconds; the first that leaves LABEL_PX between labels.
const STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
const LABEL_PX = 64;
const BAR_LABEL_PX = 22;

/** The seconds between labelled ticks at `scale` pixels per second. */
export function stepFor(scale) {
  return STEPS.find((step) => step * scale >= LABEL_PX) || STEPS.at(-1);
}

/** Where each bar starts on the spine and its number, from the parts' grids
 *  (the musician's word over what was heard): [{t, n}] in spine seconds;
 *  empty when no part has a tempo. */
export function barsOf(spine, timeline) {
  const bars = [];
  timeline.parts.forEach((part, i) => {
    // A part's bars are in seconds of its audio: those it plays, from its in point.
    const heard = barStarts(spine[i], part.inAt + part.length).filter((t) => t >= part.inAt - 1e-6);
    for (const t of heard) bars.push({ t: part.start + t - part.inAt, n: bars.length + 1 });
  });
  return bars;
}

/** Draw the ruler for `timeline` (timeline.js's layout) of `spine` into `el`. */
export function drawRuler(el, spine, timeline) {
  const step = stepFor(timeline.scale);
  const bars = barsOf(spine, timeline);
  const key = JSON.stringify([timeline.width, timeline.parts.map((p) => [p.x, p.width, p.length]), bars.map((b) => b.t)]);
  if (el.dataset.drawn === key) return;
  el.dataset.drawn = key;
  el.dataset.step = String(step);
  el.style.width = `${timeline.width}px`;
  const ticks = [];
  const minor = step / 2;
  const decimals = step < 1 ? 1 : 0;
  for (let i = 0; i * minor <= timeline.length + 1e-6; i++) {
    const t = i * minor;
    const major = i % 2 === 0;
    const tick = h("span", { class: major ? "tick major" : "tick", style: { left: `${timeline.x(t)}px` } });
    if (major) tick.append(h("span", { class: "tick-label" }, clock(t, decimals)));
    ticks.push(tick);
  }
  el.classList.toggle("has-bars", bars.length > 0);
  // Every bar numbered when there is room, else every 2nd, 4th... from bar 1.
  const tightest = Math.min(...bars.slice(1).map((b, i) => timeline.x(b.t) - timeline.x(bars[i].t)));
  let every = 1;
  while (every < 64 && tightest * every < BAR_LABEL_PX) every *= 2;
  const numbers = bars.map((bar) => h("span", { class: "bar-tick", style: { left: `${timeline.x(bar.t)}px` } },
    (bar.n - 1) % every === 0 ? h("span", { class: "bar-number" }, String(bar.n)) : null));
  clear(el).append(...ticks, ...numbers);
}
