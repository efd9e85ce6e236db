// The spine as a timeline, root first: one block per part, as wide as the part
// is long, with what Sparrow hears in it (tempo, meter, key), its bar lines over
// its waveform, and buttons to show its takes, play it alone and open its stems.
// Clicking a waveform plays the spine from there.

import { showWave } from "./clip_wave.js";
import { clear, fmt, h } from "./dom.js";
import { barLines, describeClip } from "./listening.js";

export class SpineView {
  // `does`: select(id) (show its takes), play(id) (alone, or stop), stems(id),
  // seek(seconds into the spine).
  constructor(chain, does) {
    this.chain = chain;
    this.does = does;
    this.el = h("div", { class: "spine", id: "spine" });
    this.blocks = new Map(); // part id -> block
  }

  /** Show `spine` (root first) with part `selected` marked. */
  render(spine, selected) {
    const onSpine = new Set(spine.map((n) => n.id));
    for (const id of this.blocks.keys()) {
      if (!onSpine.has(id)) this.forget(id);
    }
    let offset = 0;
    for (const node of spine) {
      const block = this.blocks.get(node.id) || this.block(node);
      block.offset = offset;
      offset += node.duration_s || 0;
      block.el.style.flexGrow = String(Math.max(node.duration_s || 1, 0.5));
      block.el.classList.toggle("selected", node.id === selected);
      block.name.textContent = this.chain.label(node, spine);
      block.length.textContent = fmt(node.duration_s);
      block.facts.textContent = describeClip(node.analysis) || "";
      drawBars(block, node);
      this.el.append(block.el);
      showWave(block, node, { height: 72, color: "#7c9cbf", onSeek: (seconds) => this.does.seek(block.offset + seconds) });
    }
  }

  block(node) {
    const name = h("span", { class: "block-name" });
    const length = h("span", { class: "muted" });
    const facts = h("span", { class: "block-facts muted", title: "What Sparrow hears: tempo, meter, key" });
    const bars = h("div", { class: "bar-grid", "aria-hidden": "true" });
    const waveHolder = h("div", { class: "block-wave" }, bars);
    const el = h("div", { class: "block", dataset: { nodeId: node.id } },
      h("div", { class: "block-head" },
        h("button", { class: "link", title: "Show this part's takes",
          onclick: () => this.does.select(node.id) }, name),
        length,
        facts,
        h("button", { class: "small play-part", title: "Play this part alone",
          onclick: () => this.does.play(node.id) }, "▶"),
        h("button", { class: "small", title: "Stems of this part",
          onclick: () => this.does.stems(node.id) }, "Stems")),
      waveHolder);
    const block = { el, name, length, facts, bars, waveHolder, wave: null, offset: 0 };
    this.blocks.set(node.id, block);
    return block;
  }

  /** Move each part's playhead: the spine playing through it, or the part alone. */
  show(state) {
    const what = state?.what;
    for (const [id, block] of this.blocks) {
      const inside = what?.kind === "spine" && state.position >= block.offset
        && state.position < block.offset + (block.wave?.duration || 0);
      const alone = what?.kind === "clip" && what.nodeId === id;
      block.wave?.show(inside ? state.position - block.offset : alone ? state.position : null);
    }
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
    for (const block of this.blocks.values()) block.wave?.destroy();
  }
}

// The part's bar lines over its waveform, from what Sparrow heard.
function drawBars(block, node) {
  const lines = barLines(node);
  const key = lines.join(",");
  if (block.barsFor === key) return;
  block.barsFor = key;
  clear(block.bars).append(...lines.map((x) => h("span", { class: "bar-line", style: { left: `${(x * 100).toFixed(3)}%` } })));
}
