// A node's stems: pick a stems model (four stems, or six with guitar and
// piano), ask for them (paid tier), watch them being made, then play them
// together with solo and mute per stem, and download each.

import { gpuCapacity, separate, stemsOf } from "./commands.js";
import { loadBuffer } from "./audio.js";
import { clear, h } from "./dom.js";
import * as player from "./player.js";
import { showError } from "./toast.js";
import { waveform } from "./waveform.js";

const COLORS = {
  drums: "#d98c5f", bass: "#8f7cd9", other: "#6fb38a", vocals: "#d96f9a", guitar: "#d9c15f", piano: "#5fa8d9",
};
const FALLBACK_COLOR = "#9aa5b1";
const FOUR = ["drums", "bass", "other", "vocals"];

// The stems models the stems workers offer, the default first, with what each
// writes: [{ name, stems }]. Asked once; four stems by htdemucs when unknown.
let offered = null;
export function stemModels() {
  offered ??= gpuCapacity().then(
    (gpu) => gpu.stems.find((worker) => worker.models?.length)?.models || [{ name: "", stems: FOUR }],
    () => [{ name: "", stems: FOUR }],
  );
  return offered;
}

function inWords(names) {
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names.join("");
}

// A stems model as a musician picks it: what it splits into (its name, htdemucs_6s, on hover).
function modelInWords(model) {
  if (model.reason) return `${model.name}: unavailable`;
  if (!model.stems.length) return `${model.name}: loading`;
  return `${model.stems.length} stems: ${model.stems.join(", ")}`;
}

export class StemsPanel {
  constructor(account) {
    this.account = account;
    this.node = null;
    this.set = null;
    this.models = [];
    // The model picked ("" before the workers said which they offer: their default).
    this.model = "";
    this.gains = null;
    this.solo = new Set();
    this.muted = new Set();
    this.levels = new Map(); // stem -> gain, while the stems play
    this.waves = new Map(); // stem -> its waveform, whose playhead moves as they play
    this.el = h("section", { class: "stems panel", id: "stems", hidden: true });
  }

  async open(node, label) {
    this.node = node;
    this.label = label;
    this.set = null;
    this.solo.clear();
    this.muted.clear();
    this.levels.clear();
    this.el.hidden = false;
    if (!this.account.stems_allowed) {
      this.render();
      this.reveal();
      return;
    }
    this.models = await stemModels();
    if (!this.models.some((m) => m.name === this.model)) this.model = this.models[0].name;
    await this.load();
    this.reveal();
  }

  // Scrolled to once it holds what it offers (the model, Split or the stems):
  // scrolled to while empty, only its title came into sight, at the page's foot.
  reveal() {
    this.el.scrollIntoView({ behavior: "instant", block: "nearest" });
  }

  async load() {
    try {
      this.set = await stemsOf(this.node.id, this.model);
    } catch (error) {
      showError(error);
    }
    this.render();
  }

  async pick(model) {
    if (player.isPlaying(`stems:${this.node?.id}`)) player.stop();
    this.model = model;
    this.set = null;
    this.solo.clear();
    this.muted.clear();
    this.levels.clear();
    await this.load();
  }

  close() {
    if (player.isPlaying(`stems:${this.node?.id}`)) player.stop();
    this.node = null;
    this.el.hidden = true;
  }

  // A stems.updated event (for any node holding the same audio).
  update(set) {
    if (!this.node || !set || set.node_id !== this.node.id) return;
    if (this.model && set.model && set.model !== this.model) return;
    const was = this.set?.status;
    this.set = set;
    if (was !== set.status || set.status !== "ready") this.render();
  }

  async separate() {
    try {
      this.set = await separate(this.node.id, this.model);
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
    if (this.models.length > 1) {
      const select = h("select", { id: "stems-model", onchange: () => this.pick(select.value) },
        this.models.map((m) => h("option", { value: m.name, selected: m.name === this.model, disabled: Boolean(m.reason),
          title: m.reason || m.name }, modelInWords(m))));
      this.el.append(h("label", { class: "stems-model" }, "Model ", select));
    }
    const set = this.set;
    if (!set || set.status === "none" || set.status === "error") {
      if (set?.status === "error") this.el.append(h("p", { class: "error-text" }, set.error_msg || "Separation failed."));
      const names = this.models.find((m) => m.name === this.model)?.stems || [];
      this.el.append(h("button", { class: "primary", id: "split-stems", onclick: () => this.separate() },
        set?.status === "error" ? "Try again" : names.length ? `Split into ${inWords(names)}` : "Split into stems"));
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
    for (const wave of this.waves.values()) wave.destroy?.();
    this.waves.clear();
    this.el.append(list);
    for (const stem of set.stems) {
      const row = h("div", { class: "stem", dataset: { stem: stem.name } });
      const solo = h("button", { class: "toggle", "aria-pressed": String(this.solo.has(stem.name)),
        onclick: () => this.flip(this.solo, stem.name, solo) }, "Solo");
      const mute = h("button", { class: "toggle", "aria-pressed": String(this.muted.has(stem.name)),
        onclick: () => this.flip(this.muted, stem.name, mute) }, "Mute");
      // Its level in the mix while the stems play (a mixer's fader), 0 to 150%.
      const level = h("input", { type: "range", class: "stem-level", min: 0, max: 150, step: 5,
        value: Math.round((this.levels.get(stem.name) ?? 1) * 100), "aria-label": `Level of the ${stem.name}`,
        title: `Level of the ${stem.name}`,
        oninput: () => { this.levels.set(stem.name, Number(level.value) / 100); this.applyGains(); } });
      const holder = h("div", { class: "stem-wave" }, h("span", { class: "muted" }, "loading…"));
      row.append(h("span", { class: "stem-name" }, stem.name), holder, level, solo, mute,
        h("a", { class: "button", href: stem.audio_url, download: `${this.label}-${stem.name}.wav` }, "Download"));
      list.append(row);
      loadBuffer(stem.audio_url).then((buffer) => {
        const wave = waveform(buffer, { height: 36, color: COLORS[stem.name] || FALLBACK_COLOR });
        this.waves.set(stem.name, wave);
        clear(holder).append(wave.el);
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
      gain.gain.value = audible ? this.levels.get(name) ?? 1 : 0;
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
        const here = state && state.what === what;
        for (const wave of this.waves.values()) wave.show(here ? state.position : null);
        if (!here) {
          button.textContent = "Play stems";
          off();
        }
      });
    } catch (error) {
      showError(error);
    }
  }
}
