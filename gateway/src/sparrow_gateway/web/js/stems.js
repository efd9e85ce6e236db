// A node's stems: ask for them (paid tier), watch them being made, then play
// them together with solo and mute per stem, and download each.

import { api } from "./api.js";
import { loadBuffer } from "./audio.js";
import { clear, h } from "./dom.js";
import * as player from "./player.js";
import { showError } from "./toast.js";
import { waveform } from "./waveform.js";

const COLORS = { drums: "#d98c5f", bass: "#8f7cd9", other: "#6fb38a", vocals: "#d96f9a" };

export class StemsPanel {
  constructor(account) {
    this.account = account;
    this.node = null;
    this.set = null;
    this.gains = null;
    this.solo = new Set();
    this.muted = new Set();
    this.el = h("section", { class: "stems panel", id: "stems", hidden: true });
  }

  async open(node, label) {
    this.node = node;
    this.label = label;
    this.set = null;
    this.solo.clear();
    this.muted.clear();
    this.el.hidden = false;
    this.el.scrollIntoView({ behavior: "smooth", block: "nearest" });
    if (!this.account.stems_allowed) {
      this.render();
      return;
    }
    try {
      this.set = await api.stems(node.id);
    } catch (error) {
      showError(error);
    }
    this.render();
  }

  close() {
    if (player.isPlaying(`stems:${this.node?.id}`)) player.stop();
    this.node = null;
    this.el.hidden = true;
  }

  // A stems.updated event (for any node holding the same audio).
  update(set) {
    if (!this.node || !set || set.node_id !== this.node.id) return;
    const was = this.set?.status;
    this.set = set;
    if (was !== set.status || set.status !== "ready") this.render();
  }

  async separate() {
    try {
      this.set = await api.separate(this.node.id);
    } catch (error) {
      showError(error);
    }
    this.render();
  }

  render() {
    clear(this.el);
    const what = `stems:${this.node.id}`;
    this.el.append(h("header", {}, h("h2", {}, `Stems of ${this.label}`),
      h("button", { class: "close", "aria-label": "Close stems", onclick: () => this.close() }, "×")));
    if (!this.account.stems_allowed) {
      this.el.append(h("p", { class: "tier-message", id: "stems-tier" },
        `Stem separation is on the paid tier; your key (${this.account.user}) is on the ${this.account.tier} tier.`));
      return;
    }
    const set = this.set;
    if (!set || set.status === "none" || set.status === "error") {
      if (set?.status === "error") this.el.append(h("p", { class: "error-text" }, set.error_msg || "Separation failed."));
      this.el.append(h("button", { class: "primary", id: "split-stems", onclick: () => this.separate() },
        set?.status === "error" ? "Try again" : "Split into drums, bass, other and vocals"));
      return;
    }
    if (set.status !== "ready") {
      this.el.append(h("p", {}, set.status === "pending" ? "Waiting for a stems worker…" : "Separating…"),
        h("progress", { class: "stems-progress", max: 1, value: set.progress || 0 }));
      return;
    }
    const playButton = h("button", { class: "primary", id: "play-stems", onclick: () => this.toggle(playButton) },
      player.isPlaying(what) ? "Stop" : "Play stems");
    this.el.append(playButton);
    const list = h("div", { class: "stem-list" });
    this.el.append(list);
    for (const stem of set.stems) {
      const row = h("div", { class: "stem", dataset: { stem: stem.name } });
      const solo = h("button", { class: "toggle", "aria-pressed": String(this.solo.has(stem.name)),
        onclick: () => this.flip(this.solo, stem.name, solo) }, "Solo");
      const mute = h("button", { class: "toggle", "aria-pressed": String(this.muted.has(stem.name)),
        onclick: () => this.flip(this.muted, stem.name, mute) }, "Mute");
      const holder = h("div", { class: "stem-wave" }, h("span", { class: "muted" }, "loading…"));
      row.append(h("span", { class: "stem-name" }, stem.name), holder, solo, mute,
        h("a", { class: "button", href: stem.audio_url, download: `${this.label}-${stem.name}.wav` }, "Download"));
      list.append(row);
      loadBuffer(stem.audio_url).then((buffer) => {
        clear(holder).append(waveform(buffer, { height: 36, color: COLORS[stem.name] }).el);
      }, (error) => { clear(holder).append(h("span", { class: "error-text" }, error.message)); });
    }
  }

  flip(set, name, button) {
    if (set.has(name)) set.delete(name);
    else set.add(name);
    button.setAttribute("aria-pressed", String(set.has(name)));
    this.applyGains();
  }

  applyGains() {
    if (!this.gains) return;
    for (const [name, gain] of Object.entries(this.gains)) {
      // Muted is silent even when soloed; with any solo on, only the soloed play.
      const audible = !this.muted.has(name) && (!this.solo.size || this.solo.has(name));
      gain.gain.value = audible ? 1 : 0;
    }
  }

  async toggle(button) {
    const what = `stems:${this.node.id}`;
    if (player.isPlaying(what)) {
      player.stop();
      button.textContent = "Play stems";
      return;
    }
    try {
      const named = {};
      for (const stem of this.set.stems) named[stem.name] = await loadBuffer(stem.audio_url);
      this.gains = player.playTogether(what, named);
      this.applyGains();
      button.textContent = "Stop";
      const off = player.onTick((state) => {
        if (!state || state.what !== what) {
          button.textContent = "Play stems";
          off();
        }
      });
    } catch (error) {
      showError(error);
    }
  }
}
