// The spine as a timeline, root first, under a time ruler: one block per part,
// as wide as the part plays (from its in point to its out point, the rest of
// its audio cut off: the waveform is shifted so the in point is the block's left edge),
// with its grid in words (tempo, meter, key: a button that opens the grid
// editor), its bar lines over its waveform with bar 1's handle to drag, and
// buttons to show its takes, play it alone and open its stems.
// Zoom widens the timeline (scrolled sideways); a stretch dragged on the ruler
// loops. Clicking a waveform plays the spine from there and marks the point;
// shift-click loops from the last point to there. Points and stretches snap to
// the parts' bar lines and beats (Alt held: placed freely); a guide shows where.
// A loop inside one part can be replaced: "Replace this stretch" asks takes for it.
// After an intro the root plays nothing: it has no block (the intro comes first,
// then the clip from its first downbeat).

import { showWave } from "./clip_wave.js";
import { clear, fmt, h } from "./dom.js";
import { barStarts, gridOf, snap, snapPoint, spinePoints } from "./grid.js";
import { barLines, describeClip } from "./listening.js";
import { drawRuler } from "./ruler.js";
import { clock, heardSpine, inPoint, layout, outPoint, playedLength, stretchIn, zoomed } from "./timeline.js";

const DRAG_PX = 4; // a press that moves less is a click
const WHEEL_STEP = 60; // ctrl+wheel: deltaY per zoom level (a trackpad's pinch sends many small ones)
const GUIDE_MS = 1500; // how long the snap guide stays after a point is placed

export class SpineView {
  // `does`: select(id) (show its takes), play(id) (alone, or stop), stems(id),
  // seek(t) (play from spine second t), extend(t) (loop from the last point to
  // t), loop(from, to), clearLoop(), playLoop(), mark(id, seconds) (a point
  // clicked on part id's waveform, `snapped` what it snapped to: "bar",
  // "beat", "free" or null), grid(id) (open part id's grid editor),
  // barOne(id, seconds, snapped) (bar 1 of part id dragged there),
  // replace() (ask takes that replace the loop's stretch of its part),
  // intro() (ask the next takes of the root as intros).
  constructor(chain, does) {
    this.chain = chain;
    this.does = does;
    this.zoom = 1; // kept while the chain is open
    this.blocks = new Map(); // part id -> block
    this.timeline = null; // timeline.js's layout, as last drawn
    this.region = null; // the loop region shown
    this.shown = null; // [spine, selected], as last rendered
    this.zoomLevel = h("span", { class: "zoom-level muted", id: "zoom-level", title: "Zoom: ×1 fits the whole spine" });
    this.loopWords = h("span", { class: "loop-words" });
    this.loopChip = h("span", { class: "loop-chip", id: "loop-chip", hidden: true },
      h("button", { class: "link", title: "Play the loop", onclick: () => does.playLoop() }, this.loopWords),
      h("button", { class: "small", id: "loop-clear", title: "Clear the loop (L)", onclick: () => does.clearLoop() }, "✕ Clear loop"));
    this.replaceButton = h("button", { class: "small", id: "replace-stretch", hidden: true, onclick: () => does.replace() },
      "Replace this stretch");
    this.loopHint = h("span", { class: "muted loop-hint" }, "Drag on the ruler to loop a stretch");
    const bar = h("div", { class: "timeline-bar" },
      h("button", { class: "small", id: "zoom-out", title: "Zoom out (-)", onclick: () => this.zoomBy(-1) }, "−"),
      h("button", { class: "small", id: "zoom-fit", title: "Fit the whole spine (0)", onclick: () => this.zoomBy(0) }, "Fit"),
      h("button", { class: "small", id: "zoom-in", title: "Zoom in (+)", onclick: () => this.zoomBy(1) }, "+"),
      this.zoomLevel, this.loopChip, this.replaceButton, this.loopHint);
    this.ruler = h("div", { class: "ruler", id: "ruler", title: "Click: play from here · drag: loop a stretch · shift-click: loop from the last point" });
    this.rulerHead = h("div", { class: "ruler-playhead", hidden: true });
    this.loopBox = h("div", { class: "loop-region", id: "loop-region", hidden: true });
    this.guideTag = h("span", { class: "snap-tag" });
    this.guide = h("div", { class: "snap-guide", id: "snap-guide", hidden: true, "aria-hidden": "true" }, this.guideTag);
    this.spine = h("div", { class: "spine", id: "spine" });
    this.track = h("div", { class: "spine-track" }, this.ruler, this.spine, this.loopBox, this.guide, this.rulerHead);
    this.scroller = h("div", { class: "spine-scroll", id: "spine-scroll" }, this.track);
    this.el = h("section", { class: "timeline", id: "timeline" }, bar, this.scroller);
    this.dragOnRuler();
    this.wheel = 0;
    this.scroller.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    this.seenWidth = 0;
    this.resized = new ResizeObserver(() => {
      if (this.scroller.clientWidth !== this.seenWidth && this.shown) this.render(...this.shown);
    });
    this.resized.observe(this.scroller);
  }

  /** Show `spine` (root first) with part `selected` marked. After an intro
   *  the root plays nothing: its block is left out, the intro drawn first. */
  render(whole, selected) {
    this.shown = [whole, selected];
    const spine = heardSpine(whole);
    this.heard = spine; // the parts drawn, as the timeline's parts are
    this.seenWidth = this.scroller.clientWidth;
    const onSpine = new Set(spine.map((n) => n.id));
    for (const id of this.blocks.keys()) {
      if (!onSpine.has(id)) this.forget(id);
    }
    const timeline = layout(spine, this.seenWidth, this.zoom);
    this.timeline = timeline;
    this.track.style.width = `${timeline.width}px`;
    spine.forEach((node, i) => {
      const part = timeline.parts[i];
      const block = this.blocks.get(node.id) || this.block(node);
      block.offset = part.start;
      block.played = part.length;
      block.inAt = part.inAt;
      block.el.style.width = `${part.width}px`;
      block.waveHolder.style.width = `${part.whole * part.scale}px`;
      // The audio before the in point is not heard: the block starts there.
      block.waveHolder.style.marginLeft = part.inAt ? `${-part.inAt * part.scale}px` : "";
      block.el.classList.toggle("selected", node.id === selected);
      block.name.textContent = this.chain.label(node, whole);
      const cut = node.out_s != null;
      const late = inPoint(node) > 0;
      block.el.classList.toggle("cut", cut);
      block.el.classList.toggle("late", late);
      block.el.dataset.inS = late ? String(inPoint(node)) : "";
      block.lengthText.textContent = cut || late ? `${fmt(playedLength(node))} of ${fmt(node.duration_s)}` : fmt(node.duration_s);
      block.out.hidden = !cut;
      block.inMark.hidden = !late;
      block.lengthText.title = cut || late ? lengthWords(node) : "";
      // The clip after an intro comes in at its first downbeat; the intro itself starts the song.
      const afterIntro = spine[i - 1]?.intro && node.in_s != null;
      block.el.classList.toggle("intro", Boolean(node.intro));
      block.from.textContent = afterIntro ? `in at ${clock(inPoint(node), 2)}, its first downbeat`
        : late ? `back at ${clock(inPoint(node), 2)}` : node.from_s != null && !node.intro ? `from ${clock(node.from_s, 2)}` : "";
      block.from.title = afterIntro ? "Your clip comes in here after the intro: it plays its audio from its first downbeat"
        : late ? "The rest of the part after a replaced stretch: it plays its audio from here"
          : "Where it continues the part before it from";
      const facts = describeClip(node) || "";
      block.facts.textContent = facts;
      block.facts.hidden = !facts;
      block.facts.setAttribute("aria-label", `Grid of ${block.name.textContent}: ${facts}. Correct it`);
      block.barOne.setAttribute("aria-label", `Bar 1 of ${block.name.textContent}`);
      block.introButton.hidden = i !== 0;
      const noIntro = i === 0 ? whyNoIntro(node) : null;
      block.introButton.disabled = Boolean(noIntro);
      block.introButton.title = noIntro || "Ask for takes that lead into your clip: an intro, before the clip comes in at its first downbeat";
      block.note.hidden = !(node.parent_id === null && node.note);
      block.note.textContent = node.parent_id === null ? node.note || "" : "";
      drawBars(block, node);
      this.spine.append(block.el);
      showWave(block, node, {
        height: 72, color: "#7c9cbf", labelFrom: false,
        onSeek: (clicked, keys) => {
          // The waveform is drawn once: the grid is the node's as it is now.
          // Its seconds are the audio's; the spine's count from the in point.
          const { t: seconds, to } = snapPoint(this.chain.get(node.id) || node, clicked, keys);
          const t = block.offset + Math.min(Math.max(0, seconds - block.inAt), block.played);
          this.showGuide(t, to);
          if (keys.shift) return this.does.extend(t);
          this.does.mark(node.id, seconds, to);
          this.does.seek(t);
        },
      });
    });
    drawRuler(this.ruler, spine, timeline);
    this.zoomLevel.textContent = `×${this.zoom}`;
    this.showLoop(this.region);
  }

  block(node) {
    const name = h("span", { class: "block-name" });
    const lengthText = h("span", { class: "muted block-length" });
    const from = h("span", { class: "muted block-from", title: "Where it continues the part before it from" });
    const facts = h("button", { class: "link block-facts", title: "What Sparrow hears (tempo, meter, key), with your word over it: click to correct",
      onclick: () => this.does.grid(node.id) });
    const note = h("p", { class: "block-note muted", hidden: true });
    const lines = h("div", { class: "bar-lines", "aria-hidden": "true" });
    const barOne = h("div", { class: "bar-one", role: "slider", tabindex: "0", hidden: true, "aria-valuemin": "0",
      title: "Bar 1: drag it where the first bar starts (it snaps to a beat; Alt: freely). ←/→ move it a beat" },
    h("span", { class: "bar-one-grip" }, "1"));
    const bars = h("div", { class: "bar-grid" }, lines, barOne);
    const waveHolder = h("div", { class: "wave-frame" }, bars);
    const out = h("div", { class: "out-mark", hidden: true }, h("span", {}, "out"));
    const inMark = h("div", { class: "in-mark", hidden: true }, h("span", {}, "in"));
    // On the first part drawn: takes that lead into the clip.
    const introButton = h("button", { class: "small write-intro", hidden: true, onclick: () => this.does.intro() }, "Write an intro");
    const el = h("div", { class: "block", dataset: { nodeId: node.id } },
      h("div", { class: "block-head" },
        h("button", { class: "link", title: "Show this part's takes",
          onclick: () => this.does.select(node.id) }, name),
        lengthText,
        from,
        facts,
        introButton,
        // The beginning (a chain started from words) has nothing to play or split.
        h("button", { class: "small play-part", title: "Play this part alone", hidden: node.duration_s === 0,
          onclick: () => this.does.play(node.id) }, "▶"),
        h("button", { class: "small", title: "Stems of this part", hidden: node.duration_s === 0,
          onclick: () => this.does.stems(node.id) }, "Stems")),
      note,
      h("div", { class: "block-wave" }, waveHolder, inMark, out));
    const block = {
      el, name, lengthText, from, facts, note, introButton, bars, lines, barOne, waveHolder, out, inMark, wave: null, offset: 0, played: 0, inAt: 0,
    };
    this.dragBarOne(block, node.id);
    this.blocks.set(node.id, block);
    return block;
  }

  // Bar 1's handle: dragged (snapping to the part's beats; Alt: freely) or
  // moved a beat with ←/→, it says where the part's first bar starts.
  dragBarOne(block, id) {
    const secondsAt = (event) => {
      const box = block.waveHolder.getBoundingClientRect();
      const node = this.chain.get(id);
      const whole = node?.duration_s || 1;
      const seconds = Math.min(Math.max(0, ((event.clientX - box.left) / box.width) * whole), whole);
      const beats = gridOf(node)?.beats_s || [];
      if (event.altKey || !beats.length) return { t: seconds, to: beats.length ? "free" : null };
      const at = snap(seconds, { beats, bars: [] }, (t) => (t / whole) * box.width);
      return at.to ? at : { t: seconds, to: "free" };
    };
    block.barOne.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      event.stopPropagation(); // not a click on the waveform
      block.barOne.setPointerCapture?.(event.pointerId);
      block.barOne.classList.add("dragging");
      let at = null;
      const move = (moved) => {
        at = secondsAt(moved);
        this.placeBarOne(block, id, at.t, at.to);
      };
      const up = (released) => {
        block.barOne.removeEventListener("pointermove", move);
        block.barOne.removeEventListener("pointerup", up);
        block.barOne.removeEventListener("pointercancel", up);
        block.barOne.classList.remove("dragging");
        if (released.type !== "pointercancel" && at) this.does.barOne(id, at.t, at.to);
        else block.barsFor = null;
        if (this.shown) this.render(...this.shown);
      };
      block.barOne.addEventListener("pointermove", move);
      block.barOne.addEventListener("pointerup", up);
      block.barOne.addEventListener("pointercancel", up);
    });
    block.barOne.addEventListener("click", (event) => event.stopPropagation());
    block.barOne.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      event.preventDefault();
      event.stopPropagation();
      const node = this.chain.get(id);
      const beats = gridOf(node)?.beats_s || [];
      const now = Number(block.barOne.getAttribute("aria-valuenow"));
      const next = event.key === "ArrowRight" ? beats.find((t) => t > now + 1e-3) : beats.findLast((t) => t < now - 1e-3);
      if (next !== undefined) this.does.barOne(id, next, "beat");
    });
  }

  // Bar 1's handle at `seconds` into the block's part; `snapped`: "beat" or "free" while dragged.
  placeBarOne(block, id, seconds, snapped = null) {
    const whole = this.chain.get(id)?.duration_s || block.played || 1;
    block.barOne.style.left = `${((100 * seconds) / whole).toFixed(3)}%`;
    block.barOne.setAttribute("aria-valuenow", String(Math.round(seconds * 1000) / 1000));
    block.barOne.setAttribute("aria-valuetext", `bar 1 at ${clock(seconds, 2)}`);
    block.barOne.dataset.snap = snapped || "";
  }

  /** Show the snap guide at spine second `t`, saying what the point snapped to
   *  (`to`: "bar", "beat", "free"; null: no grid there, no guide). */
  showGuide(t, to) {
    clearTimeout(this.guideTimer);
    this.guide.hidden = !to || !this.timeline;
    if (this.guide.hidden) return;
    this.guide.style.left = `${this.timeline.x(t)}px`;
    this.guide.dataset.snap = to;
    this.guide.dataset.t = String(Math.round(t * 1000) / 1000);
    this.guideTag.textContent = to === "free" ? "free" : to;
    this.guideTimer = setTimeout(() => { this.guide.hidden = true; }, GUIDE_MS);
  }

  /** Move the playheads: the spine playing (or looping) through a part, or the part alone. */
  show(state) {
    const what = state?.what;
    const onSpine = what?.kind === "spine" || what?.kind === "loop";
    for (const [id, block] of this.blocks) {
      const inside = onSpine && state.position >= block.offset && state.position < block.offset + block.played;
      const alone = what?.kind === "clip" && what.nodeId === id;
      block.wave?.show(inside ? state.position - block.offset + block.inAt : alone ? state.position : null);
    }
    this.rulerHead.hidden = !onSpine || !this.timeline;
    if (this.rulerHead.hidden) return;
    const x = this.timeline.x(state.position);
    this.rulerHead.style.left = `${Math.min(x, this.timeline.width - 2)}px`;
    // Zoomed in, the view follows the playhead.
    const { scrollLeft, clientWidth, scrollWidth } = this.scroller;
    if (scrollWidth <= clientWidth) return;
    if (x < scrollLeft || x > scrollLeft + clientWidth - 24) this.scroller.scrollLeft = x - 24;
  }

  /** Show the loop region ({from, to} in spine seconds; null: none). */
  showLoop(region) {
    this.region = region;
    this.loopChip.hidden = !region;
    this.loopHint.hidden = Boolean(region);
    this.loopBox.hidden = !region || !this.timeline;
    this.offerReplace(region);
    if (!region) return;
    this.loopWords.textContent = `Loop ${fmt(region.from)} – ${fmt(region.to)}`;
    if (this.timeline) this.placeLoop(region.from, region.to);
  }

  // "Replace this stretch" beside the loop: offered for a loop, pressable when
  // it lies inside one part and is long enough; its title says why not.
  offerReplace(region) {
    const button = this.replaceButton;
    button.hidden = !region || !this.shown;
    if (button.hidden) return;
    const why = whyNotReplace(this.shown[0], region, (node) => this.chain.label(node, this.shown[0]));
    button.disabled = Boolean(why);
    button.title = why || "Ask for takes that play this stretch instead (R)";
  }

  placeLoop(from, to) {
    const [a, b] = [this.timeline.x(Math.min(from, to)), this.timeline.x(Math.max(from, to))];
    this.loopBox.style.left = `${a}px`;
    this.loopBox.style.width = `${Math.max(1, b - a)}px`;
  }

  /** Zoom in (step 1), out (-1) or back to the whole spine (0), keeping the
   *  spine second at `atPx` pixels into the view (its middle when absent) there. */
  zoomBy(step, atPx = null) {
    if (!this.shown || !this.timeline) return false;
    const next = zoomed(this.zoom, step);
    if (next === this.zoom) return true;
    const inView = atPx ?? this.scroller.clientWidth / 2;
    const t = this.timeline.t(this.scroller.scrollLeft + inView);
    this.zoom = next;
    this.render(...this.shown);
    this.scroller.scrollLeft = this.timeline.x(t) - inView;
    return true;
  }

  onWheel(event) {
    if (!event.ctrlKey && !event.metaKey) return;
    event.preventDefault(); // the page's own zoom
    this.wheel += event.deltaY;
    if (Math.abs(this.wheel) < WHEEL_STEP) return;
    const step = this.wheel < 0 ? 1 : -1;
    this.wheel = 0;
    this.zoomBy(step, event.clientX - this.scroller.getBoundingClientRect().left);
  }

  // Press on the ruler: a click plays from there (shift: loops from the last
  // point), a drag loops the stretch dragged.
  dragOnRuler() {
    const secondAt = (event) => {
      const t = this.timeline.t(event.clientX - this.track.getBoundingClientRect().left);
      const points = spinePoints(this.heard, this.timeline.parts);
      if (!points.beats.length && !points.bars.length) return t;
      const at = event.altKey ? { t, to: "free" } : snap(t, points, (s) => this.timeline.x(s));
      this.showGuide(at.t, at.to);
      return at.t;
    };
    this.ruler.addEventListener("pointerdown", (event) => {
      if (!this.timeline || event.button !== 0) return;
      event.preventDefault();
      const startX = event.clientX;
      const from = secondAt(event);
      let dragging = false;
      this.ruler.setPointerCapture?.(event.pointerId);
      const move = (moved) => {
        dragging ||= Math.abs(moved.clientX - startX) >= DRAG_PX;
        if (!dragging) return;
        this.loopBox.hidden = false;
        this.placeLoop(from, secondAt(moved));
      };
      const up = (released) => {
        this.ruler.removeEventListener("pointermove", move);
        this.ruler.removeEventListener("pointerup", up);
        this.ruler.removeEventListener("pointercancel", up);
        if (released.type === "pointercancel") return this.showLoop(this.region);
        if (dragging) this.does.loop(from, secondAt(released));
        else if (released.shiftKey) this.does.extend(from);
        else this.does.seek(from);
        this.showLoop(this.region);
      };
      this.ruler.addEventListener("pointermove", move);
      this.ruler.addEventListener("pointerup", up);
      this.ruler.addEventListener("pointercancel", up);
    });
  }

  /** Scroll part `id`'s block into view (zoomed in, it may be off to a side). */
  reveal(id) {
    this.blocks.get(id)?.el.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  /** Drop part `id`'s block (no longer on the spine, or discarded). */
  forget(id) {
    const block = this.blocks.get(id);
    if (!block) return;
    block.wave?.destroy();
    block.el.remove();
    this.blocks.delete(id);
  }

  destroy() {
    clearTimeout(this.guideTimer);
    this.resized.disconnect();
    for (const block of this.blocks.values()) block.wave?.destroy();
  }
}

/** The shortest stretch that can be replaced, and how much of its part must play after it (seconds; the API's bounds). */
export const REPLACE_MIN_S = 1;
export const REPLACE_TAIL_S = 0.5;

/** Why the stretch `region` ({from, to}, spine seconds) of `spine` can't be
 *  replaced, in words; null when it can. `labelOf(node)`: a part's name. */
export function whyNotReplace(spine, region, labelOf) {
  const stretch = stretchIn(spine, region.from, region.to);
  if (!stretch) return "The loop spans more than one part: loop a stretch inside one part to replace it.";
  const node = spine[stretch.at];
  if (!(node.duration_s > 0)) return "The beginning has no audio to replace.";
  if (stretch.until_s - stretch.from_s < REPLACE_MIN_S - 1e-6) return `A stretch to replace lasts at least ${REPLACE_MIN_S} s: loop a longer one.`;
  if (stretch.from_s <= 0) return `The stretch starts at the very start of ${labelOf(node)}: start it a little later, so the takes have music to continue.`;
  if (stretch.until_s > outPoint(node) - REPLACE_TAIL_S + 1e-6) {
    return `The stretch runs to the end of ${labelOf(node)}: end it at least ${REPLACE_TAIL_S} s before, so the part can come back.`;
  }
  return null;
}

/** Why no intro can be written before `first`, the first part drawn, in
 *  words; null when one can (it is the clip). */
export function whyNoIntro(first) {
  if (first.intro) return "The spine starts with an intro already: uncommit it (or undo) to write another.";
  if (first.parent_id === null && !(first.duration_s > 0)) return "This chain started from words: there is no clip for an intro to lead into.";
  return null;
}

// Where a part plays in its audio, in words, for the title over its length.
function lengthWords(node) {
  const whole = clock(node.duration_s, 2);
  if (node.in_s == null) return `Plays to its out point, ${clock(node.out_s, 2)} of ${whole}, then the next part`;
  return `Plays ${clock(inPoint(node), 2)} to ${clock(outPoint(node), 2)} of its ${whole} of audio (the rest of the part after a replaced stretch)`;
}

// The part's bar lines over its waveform, from its grid, and bar 1's handle.
function drawBars(block, node) {
  const lines = barLines(node);
  const first = barStarts(node)[0];
  const key = `${lines.join(",")}|${first}`;
  if (block.barsFor === key || block.barOne.classList.contains("dragging")) return;
  block.barsFor = key;
  clear(block.lines).append(...lines.map((x) => h("span", { class: "bar-line", style: { left: `${(x * 100).toFixed(3)}%` } })));
  block.barOne.hidden = first === undefined || !node.duration_s;
  if (block.barOne.hidden) return;
  block.barOne.style.left = `${((100 * first) / node.duration_s).toFixed(3)}%`;
  block.barOne.setAttribute("aria-valuemax", String(node.duration_s));
  block.barOne.setAttribute("aria-valuenow", String(Math.round(first * 1000) / 1000));
  block.barOne.setAttribute("aria-valuetext", `bar 1 at ${clock(first, 2)}`);
  block.barOne.dataset.snap = "";
}
