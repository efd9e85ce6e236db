// The transport's row: play or stop the spine, what plays now in words
// ("Playing take 2 · 0:03.1 / 0:20.0", "Looping 0:01.0 – 0:03.0 of the
// spine · 0:01.6"), the keys, and a button that lists them all.

import { fmt, h } from "./dom.js";
import { KEYS_HINT } from "./keys.js";
import { same } from "./playing.js";

export class Transport {
  // playSpine(): play or stop the spine; nameOf(id): a node's name;
  // sideOf(id): "A" or "B" for a take in A/B; help(): show every key.
  constructor({ playSpine, nameOf, sideOf, help }) {
    this.nameOf = nameOf;
    this.sideOf = sideOf;
    this.playButton = h("button", { class: "primary", id: "play-spine", onclick: playSpine }, "▶ Play spine");
    this.nowPlaying = h("span", { class: "now-playing", id: "now-playing", role: "status" }, "Stopped");
    this.el = h("div", { class: "transport" }, this.playButton, this.nowPlaying,
      h("span", { class: "muted keys" }, KEYS_HINT),
      help && h("button", { class: "small help-open", id: "help-open", title: "Every key and move (?)",
        "aria-label": "Keys and moves", onclick: help }, "?"));
    this.buttonFor = undefined; // what played when the button last changed
  }

  /** Show the transport's state, playing.now()'s answer. */
  show(state) {
    const what = state?.what ?? null;
    // The button changes only when what plays does, not every frame.
    if (this.buttonFor === undefined || !same(what, this.buttonFor)) {
      this.buttonFor = what;
      this.playButton.textContent = what?.kind === "spine" || what?.kind === "loop" ? "■ Stop" : "▶ Play spine";
    }
    const words = this.words(state);
    if (words !== null) this.nowPlaying.textContent = words;
  }

  // What plays, in words; null for a kind this row doesn't know.
  words(state) {
    if (!state) return "Stopped";
    const time = `${fmt(state.position)} / ${fmt(state.length)}`;
    const { kind, nodeId } = state.what;
    if (kind === "spine") return `Playing the spine · ${time}`;
    if (kind === "loop") {
      return `Looping ${fmt(state.origin)} – ${fmt(state.origin + state.length)} of the spine · ${fmt(state.position)}`;
    }
    if (kind === "clip") return `Playing ${this.nameOf(nodeId)} · ${time}`;
    if (kind === "seam" && state.backAt != null) { // a take that replaces a stretch, through both joins
      const where = state.position < state.seamAt ? "before the stretch" : state.position < state.backAt ? "the stretch" : "back in the part";
      return `Looping the stretch · ${this.sideOf(nodeId)} (${this.nameOf(nodeId)}) · ${where}`;
    }
    if (kind === "seam") {
      const where = state.position < state.seamAt ? "before the seam" : "after the seam";
      return `Looping the seam · ${this.sideOf(nodeId)} (${this.nameOf(nodeId)}) · ${where}`;
    }
    if (kind === "stems") return `Playing stems · ${time}`;
    return null;
  }
}
