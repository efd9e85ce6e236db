// The musician's word on a part's grid: a panel opened from a part's (or a
// take's) facts, to type or tap its tempo, pick its time signature, put bar 1
// (also dragged on the part's waveform) and set its key, each field back to
// "as heard" alone or all at once. Every change sends the whole correction
// (does.save), a move the chain's undo takes back.

import { clear, h } from "./dom.js";
import { FIELDS, KEYS, MIN_TAPS, TAP_PAUSE_S, TEMPO_RANGE, TIME_SIGNATURES, Taps, correctionOf, isCorrected } from "./grid.js";
import { clock } from "./timeline.js";

const FIELD_NAMES = { tempo_bpm: "Tempo", time_signature: "Time signature", bar_one_s: "Bar 1", key: "Key" };
const round = (value, places) => Math.round(value * 10 ** places) / 10 ** places;

export class GridEditor {
  // `chain`: the Chain; does.save(id, correction) sends node id's whole
  // correction (a promise, rejected with why not); does.labelOf(id) names a node.
  constructor(chain, does) {
    this.chain = chain;
    this.does = does;
    this.nodeId = null; // the node whose grid is open
    this.taps = new Taps();
    this.tapTimer = null;
    this.title = h("h2", { id: "grid-editor-title" });
    this.heard = h("p", { class: "grid-heard muted", id: "grid-heard" });
    this.tempo = h("input", { id: "grid-tempo", type: "number", min: TEMPO_RANGE[0], max: TEMPO_RANGE[1], step: "0.1",
      inputmode: "decimal", onchange: () => this.typedTempo() });
    this.tapButton = h("button", { type: "button", id: "grid-tap", title: `Tap the beat, ${MIN_TAPS} times or more (T)`,
      onclick: (event) => this.tap(event.timeStamp / 1000) }, "Tap");
    this.tapWords = h("small", { class: "muted grid-tap-words", id: "grid-tap-words", "aria-live": "polite" });
    this.signature = h("select", { id: "grid-time-signature", onchange: () => this.change({ time_signature: this.signature.value || null }) });
    this.barOne = h("input", { id: "grid-bar-one", type: "number", min: 0, step: "0.01", inputmode: "decimal",
      onchange: () => this.typedBarOne() });
    this.key = h("select", { id: "grid-key", onchange: () => this.change({ key: this.key.value || null }) });
    this.asHeard = Object.fromEntries(FIELDS.map((field) => [field, h("button", {
      type: "button", class: "link as-heard", id: `grid-${field.replaceAll("_", "-")}-heard`,
      onclick: () => this.change({ [field]: null }) }, "as heard")]));
    this.allHeard = h("button", { type: "button", id: "grid-all-heard", onclick: () => this.allAsHeard() }, "All as heard");
    this.status = h("p", { class: "grid-status", id: "grid-status", role: "status" });
    const field = (label, input, ...rest) => h("div", { class: "grid-field" },
      h("label", { for: input.id }, ...[label].flat()), h("div", { class: "grid-input" }, input, ...rest));
    this.el = h("section", { class: "grid-editor panel", id: "grid-editor", hidden: true, "aria-labelledby": "grid-editor-title" },
      h("header", {}, this.title,
        h("button", { type: "button", class: "close", title: "Close (G)", "aria-label": "Close the grid", onclick: () => this.close() }, "×")),
      this.heard,
      h("div", { class: "grid-fields" },
        field(["Tempo ", h("span", { class: "range" }, `bpm, ${TEMPO_RANGE[0]} to ${TEMPO_RANGE[1]}`)], this.tempo, this.tapButton, this.asHeard.tempo_bpm, this.tapWords),
        field("Time signature", this.signature, this.asHeard.time_signature),
        field(["Bar 1 at ", h("span", { class: "range" }, "seconds in; or drag the 1 on the part")], this.barOne, this.asHeard.bar_one_s),
        field("Key", this.key, this.asHeard.key)),
      h("div", { class: "form-actions" }, this.allHeard, this.status));
  }

  /** Whether node `id`'s grid is open (any node's when `id` is absent). */
  isOpen(id = undefined) {
    return !this.el.hidden && (id === undefined || this.nodeId === id);
  }

  /** Open node `id`'s grid (`focus`: the tempo field takes the keys). */
  open(id, { focus = true } = {}) {
    if (this.nodeId !== id) this.taps.reset();
    this.nodeId = id;
    this.el.hidden = false;
    this.status.textContent = "";
    this.status.classList.remove("error-text");
    this.render();
    this.el.scrollIntoView({ block: "nearest" });
    if (focus) this.tempo.focus();
  }

  close() {
    this.el.hidden = true;
    this.nodeId = null;
    clearTimeout(this.tapTimer);
    this.taps.reset();
  }

  /** Show the open node's grid as the chain has it now (closed when it is gone). */
  render() {
    if (this.el.hidden) return;
    const node = this.chain.get(this.nodeId);
    if (!node) return this.close();
    const name = this.does.labelOf(this.nodeId);
    this.title.textContent = `Grid of ${name}`;
    const heard = node.analysis?.status === "ready" ? node.analysis : null;
    const grid = node.grid;
    this.heard.textContent = heardWords(heard);
    const typing = document.activeElement;
    const correction = correctionOf(node);
    if (typing !== this.tempo && !this.taps.count) this.tempo.value = grid?.tempo_bpm ? String(round(grid.tempo_bpm, 1)) : "";
    this.tempo.placeholder = heard?.tempo_bpm ? String(round(heard.tempo_bpm, 1)) : "none heard";
    const firstBar = correction.bar_one_s ?? grid?.downbeats_s?.[0];
    if (typing !== this.barOne) this.barOne.value = firstBar != null ? String(round(firstBar, 2)) : "";
    this.barOne.max = String(node.duration_s || "");
    const heardSignature = heard?.time_signature || (heard?.meter ? `${heard.meter}/4` : "");
    options(this.signature, TIME_SIGNATURES, heardSignature, correction.time_signature);
    options(this.key, KEYS, heard?.key || "", correction.key);
    for (const field of FIELDS) {
      const button = this.asHeard[field];
      button.hidden = correction[field] == null;
      button.title = "Back to what Sparrow heard";
      button.setAttribute("aria-label", `${FIELD_NAMES[field]} as heard`);
    }
    this.allHeard.disabled = FIELDS.every((field) => correction[field] == null);
    this.el.dataset.nodeId = this.nodeId;
    this.el.dataset.corrected = (grid?.corrected || []).join(" ");
    this.barOne.title = firstBar != null ? `Bar 1 starts ${clock(firstBar, 2)} in${isCorrected(grid, "bar_one_s") ? " (yours)" : ""}` : "";
  }

  /** A tap of the beat at `seconds` (any clock): from MIN_TAPS taps the tempo
   *  shows; a pause of TAP_PAUSE_S sends it. */
  tap(seconds) {
    if (!this.nodeId) return false;
    const bpm = this.taps.tap(seconds);
    clearTimeout(this.tapTimer);
    const left = MIN_TAPS - this.taps.count;
    this.tapWords.textContent = bpm ? `${this.taps.count} taps: ${bpm} bpm` : `tap ${left} more time${left === 1 ? "" : "s"}`;
    if (bpm) this.tempo.value = String(bpm);
    this.tapTimer = setTimeout(() => {
      this.taps.reset();
      if (bpm) this.change({ tempo_bpm: bpm });
      this.tapWords.textContent = bpm ? `tapped ${bpm} bpm` : "";
    }, TAP_PAUSE_S * 1000);
    return true;
  }

  typedTempo() {
    const text = this.tempo.value.trim();
    if (!text) return this.change({ tempo_bpm: null });
    const bpm = Number(text);
    if (!Number.isFinite(bpm) || bpm < TEMPO_RANGE[0] || bpm > TEMPO_RANGE[1]) {
      return this.refuse(`A tempo is ${TEMPO_RANGE[0]} to ${TEMPO_RANGE[1]} bpm.`);
    }
    return this.change({ tempo_bpm: round(bpm, 2) });
  }

  typedBarOne() {
    const text = this.barOne.value.trim();
    if (!text) return this.change({ bar_one_s: null });
    const seconds = Number(text);
    const length = this.chain.get(this.nodeId)?.duration_s ?? Infinity;
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > length) {
      return this.refuse(`Bar 1 is somewhere in the part: 0 to ${round(length, 2)} seconds.`);
    }
    return this.change({ bar_one_s: round(seconds, 3) });
  }

  allAsHeard() {
    return this.change(Object.fromEntries(FIELDS.map((field) => [field, null])));
  }

  /** Send the open node's correction with `fields` changed. */
  async change(fields) {
    const id = this.nodeId;
    if (!id) return;
    const correction = { ...correctionOf(this.chain.get(id)), ...fields };
    this.status.textContent = "Saving…";
    this.status.classList.remove("error-text");
    try {
      await this.does.save(id, correction);
      if (this.nodeId === id) this.status.textContent = "";
    } catch (error) {
      this.refuse(error.message);
    }
    this.render();
  }

  refuse(message) {
    this.status.textContent = message;
    this.status.classList.add("error-text");
  }
}

// "Heard: 120.2 bpm (a steady pulse: 82%) · 3/4 · A minor (else C major)".
function heardWords(heard) {
  if (!heard) return "Sparrow has not heard this part yet.";
  const pulse = heard.tempo_bpm
    ? `${round(heard.tempo_bpm, 1)} bpm${heard.tempo_confidence ? ` (sure ${Math.round(heard.tempo_confidence * 100)}%)` : ""} · ${heard.time_signature || `${heard.meter}/4`}`
    : "no steady beat";
  const key = heard.key ? `${heard.key}${heard.key_runner_up ? ` (else ${heard.key_runner_up})` : ""}` : "key unclear";
  return `Heard: ${pulse} · ${key}. What you set wins.`;
}

// A select's options: "as heard (4/4)" first (value ""), then `values`; `chosen` selected (null: as heard).
function options(select, values, heard, chosen) {
  const key = `${heard}|${values.length}`;
  if (select.dataset.heard !== key) {
    select.dataset.heard = key;
    clear(select).append(h("option", { value: "" }, heard ? `as heard (${heard})` : "as heard"),
      ...values.map((value) => h("option", { value }, value)));
  }
  if (document.activeElement !== select || select.value !== (chosen || "")) select.value = chosen || "";
}
