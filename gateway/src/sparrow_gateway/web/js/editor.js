// One chain open for editing: the spine as a timeline of waveforms, root first;
// the selected node's takes side by side under it; the form that asks for more;
// A/B of two takes across their seam; stems; export. Live from the chain's SSE.

import { api } from "./api.js";
import { loadBuffer } from "./audio.js";
import { clear, fmt, h } from "./dom.js";
import { watchChain } from "./events.js";
import { exportPanel } from "./export.js";
import { barLines, describeClip, describeSeam, ranked, seamOf } from "./listening.js";
import * as player from "./player.js";
import { StemsPanel } from "./stems.js";
import { melodyPicker, takesForm } from "./takes_form.js";
import { showError, toast } from "./toast.js";
import { waveform } from "./waveform.js";

const UNDO_S = 6;
const SEAM_S = 3;
const STATUS_WORDS = {
  pending: "Waiting for a MusicGen worker…",
  generating: "Generating…",
  ready: "Ready",
  error: "Failed",
  cancelled: "Cancelled",
};

// "about 12 s left", "about 3 min left".
function timeLeft(seconds) {
  return seconds < 90 ? `about ${Math.max(1, Math.round(seconds))} s left` : `about ${Math.round(seconds / 60)} min left`;
}

export class Editor {
  constructor(root, chainId, account, schema) {
    this.root = root;
    this.chainId = chainId;
    this.account = account;
    this.schema = schema;
    this.chain = null;
    this.nodes = new Map();
    this.selected = null; // the spine node whose takes are shown
    this.focus = null; // the take the keyboard acts on
    this.discarding = new Map(); // node id -> timer, while undo is offered
    this.ab = { a: null, b: null };
    this.blocks = new Map(); // spine node id -> block
    this.cards = new Map(); // take id -> card
    this.seekFrom = 0;
    this.renderQueued = false;
    this.stems = new StemsPanel(account);
    this.stemSets = new Map(); // node id -> its stem set, from the event stream
    this.melody = melodyPicker();
    this.melodyAllowed = false; // a ready MusicGen worker can take a melody
    this.onKey = (event) => this.key(event);
    this.onHide = () => this.flushDiscards();
  }

  async start() {
    const chain = await api.chain(this.chainId);
    this.chain = chain;
    for (const node of chain.nodes) this.nodes.set(node.id, node);
    this.layout();
    this.selected = this.tip().id;
    this.render();
    this.closeEvents = watchChain(this.chainId, {
      onEvent: (kind, event) => this.event(kind, event),
      onStatus: (status) => {
        this.liveStatus.textContent = { live: "live", reconnecting: "reconnecting…", closed: "offline" }[status];
        this.liveStatus.dataset.status = status;
      },
    });
    this.untick = player.onTick((state) => this.tick(state));
    document.addEventListener("keydown", this.onKey);
    window.addEventListener("pagehide", this.onHide);
  }

  stop() {
    player.stop();
    this.flushDiscards();
    this.closeEvents?.();
    this.untick?.();
    document.removeEventListener("keydown", this.onKey);
    window.removeEventListener("pagehide", this.onHide);
    for (const item of [...this.blocks.values(), ...this.cards.values()]) item.wave?.destroy();
  }

  // -- the shape of the chain ------------------------------------------------

  spine() {
    const path = [];
    let node = [...this.nodes.values()].find((n) => n.parent_id === null);
    while (node) {
      path.push(node);
      const id = node.id;
      node = [...this.nodes.values()].find((n) => n.parent_id === id && n.committed);
    }
    return path;
  }

  tip() {
    const path = this.spine();
    return path[path.length - 1];
  }

  // The uncommitted children of `parentId`, oldest first, those waiting to be discarded too.
  siblingsOf(parentId) {
    return [...this.nodes.values()]
      .filter((n) => n.parent_id === parentId && !n.committed)
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  takesOf(parentId) {
    return this.siblingsOf(parentId).filter((n) => !this.discarding.has(n.id));
  }

  // `spine` when the caller has it already.
  label(node, spine = this.spine()) {
    if (!node) return "";
    if (node.parent_id === null) return "your clip";
    const at = spine.findIndex((n) => n.id === node.id);
    if (at >= 0) return `part ${at + 1}`;
    return `take ${this.siblingsOf(node.parent_id).findIndex((n) => n.id === node.id) + 1}`;
  }

  // Every ready node, and the ready stems of each, as a take's melody.
  melodyChoices(spine) {
    const choices = [];
    const ready = [...this.nodes.values()].filter((n) => n.status === "ready" && !this.discarding.has(n.id));
    for (const node of ready.sort((a, b) => a.created_at.localeCompare(b.created_at))) {
      const name = this.melodyName(node, spine);
      choices.push({ value: node.id, label: name });
      const set = this.stemSets.get(node.id);
      if (set?.status !== "ready") continue;
      for (const stem of set.stems) choices.push({ value: `${node.id}:${stem.name}`, label: `${name} · ${stem.name}` });
    }
    return choices;
  }

  melodyName(node, spine = this.spine()) {
    const name = this.label(node, spine);
    if (node.parent_id === null || spine.some((n) => n.id === node.id)) return name;
    return `${name} after ${this.label(this.nodes.get(node.parent_id), spine)}`;
  }

  // What the GPU workers can do (GET /api/gpu, polled by the page).
  capacity(gpu) {
    const allowed = gpu.generation.some((w) => w.ready && w.supports_melody);
    if (allowed === this.melodyAllowed) return;
    this.melodyAllowed = allowed;
    if (this.chain) this.queueRender();
  }

  openStems(id) {
    const node = this.nodes.get(id);
    this.stems.open(node, this.label(node));
  }

  // -- events ------------------------------------------------------------------

  upsert(node) {
    const known = this.nodes.get(node.id);
    if (known && known.updated_at > node.updated_at) return; // an older state, replayed
    if (this.gone?.has(node.id)) return;
    this.nodes.set(node.id, node);
    this.queueRender();
  }

  remove(id) {
    (this.gone ||= new Set()).add(id);
    this.nodes.delete(id);
    for (const map of [this.cards, this.blocks]) {
      map.get(id)?.wave?.destroy();
      map.get(id)?.el.remove();
      map.delete(id);
    }
    if (this.focus === id) this.focus = null;
    if (this.ab.a === id) this.ab.a = null;
    if (this.ab.b === id) this.ab.b = null;
    if (!this.nodes.has(this.selected)) this.selected = this.tip()?.id;
    this.queueRender();
  }

  event(kind, event) {
    if (kind === "chain.deleted") {
      toast("This chain was deleted.", { kind: "error" });
      location.hash = "#/";
    } else if (kind === "node.discarded") {
      this.remove(event.node_id);
    } else if (kind === "stems.updated") {
      if (event.stems) this.stemSets.set(event.stems.node_id, event.stems);
      this.stems.update(event.stems);
      this.queueRender();
    } else if (event.node) {
      this.upsert(event.node);
    }
  }

  // -- layout and rendering -------------------------------------------------------

  layout() {
    clear(this.root);
    this.title = h("h1", {}, this.chain.title);
    this.duration = h("span", { class: "muted", id: "spine-duration" });
    this.liveStatus = h("span", { class: "live", id: "live-status", dataset: { status: "connecting" } }, "connecting…");
    this.playSpineButton = h("button", { class: "primary", id: "play-spine", onclick: () => this.toggleSpine() }, "▶ Play spine");
    this.nowPlaying = h("span", { class: "now-playing", id: "now-playing", role: "status" }, "Stopped");
    this.spineRow = h("div", { class: "spine", id: "spine" });
    this.takesTitle = h("h2", {});
    this.takesRow = h("div", { class: "takes", id: "takes" });
    this.abPanel = h("div", { class: "ab", id: "ab", hidden: true });
    this.askTitle = h("h2", {});
    const form = takesForm(this.schema, (body) => this.ask(body), this.melody);
    this.root.append(
      h("div", { class: "editor-head" },
        h("a", { href: "#/", class: "back" }, "← Chains"), this.title, this.duration, this.liveStatus),
      h("div", { class: "transport" }, this.playSpineButton, this.nowPlaying,
        h("span", { class: "muted keys" }, "space: play/stop · ←/→: takes · enter: commit · delete: discard")),
      this.spineRow,
      h("section", { class: "takes-area" }, this.takesTitle, this.takesRow, this.abPanel),
      h("section", { class: "ask panel" }, this.askTitle, form),
      this.stems.el,
      exportPanel(this.chainId, showError));
  }

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    this.renderFrame = requestAnimationFrame(() => this.render());
  }

  render() {
    // A render now stands for one queued for the next frame.
    if (this.renderQueued) cancelAnimationFrame(this.renderFrame);
    this.renderQueued = false;
    const spine = this.spine();
    const total = spine.reduce((sum, n) => sum + (n.duration_s || 0), 0);
    this.duration.textContent = `${spine.length} part${spine.length > 1 ? "s" : ""} · ${fmt(total)}`;
    // The spine, root first.
    const onSpine = new Set(spine.map((n) => n.id));
    for (const [id, block] of this.blocks) {
      if (!onSpine.has(id)) {
        block.wave?.destroy();
        block.el.remove();
        this.blocks.delete(id);
      }
    }
    let offset = 0;
    for (const node of spine) {
      const block = this.blocks.get(node.id) || this.spineBlock(node);
      block.offset = offset;
      offset += node.duration_s || 0;
      block.el.style.flexGrow = String(Math.max(node.duration_s || 1, 0.5));
      block.el.classList.toggle("selected", node.id === this.selected);
      block.name.textContent = this.label(node, spine);
      block.length.textContent = fmt(node.duration_s);
      block.facts.textContent = describeClip(node.analysis) || "";
      this.drawBars(block, node);
      this.spineRow.append(block.el);
      this.ensureWave(block, node, true);
    }
    // The selected node's takes.
    const parent = this.nodes.get(this.selected);
    this.takesTitle.textContent = `Takes after ${this.label(parent, spine)}`;
    this.askTitle.textContent = `Continue from ${this.label(parent, spine)}`;
    this.melody.offer(this.melodyChoices(spine), this.melodyAllowed);
    // Best seam first, once the takes are heard.
    const order = ranked(this.takesOf(this.selected));
    const takes = order.map((r) => r.node);
    const ranks = new Map(order.map((r) => [r.node.id, r.rank]));
    const shown = new Set(takes.map((n) => n.id));
    for (const [id, card] of this.cards) {
      if (!shown.has(id)) {
        card.el.remove();
        if (!this.nodes.has(id)) this.cards.delete(id);
      }
    }
    if (!takes.length) {
      if (!this.takesRow.querySelector(".empty")) {
        clear(this.takesRow).append(h("p", { class: "empty muted" }, "No takes yet: ask for some below."));
      }
    } else {
      this.takesRow.querySelector(".empty")?.remove();
    }
    if (this.focus && !shown.has(this.focus)) this.focus = null;
    for (const node of takes) {
      const card = this.cards.get(node.id) || this.takeCard(node);
      this.updateCard(card, node, spine, ranks.get(node.id), takes.length);
      this.takesRow.append(card.el);
    }
    this.renderAB();
  }

  spineBlock(node) {
    const name = h("span", { class: "block-name" });
    const length = h("span", { class: "muted" });
    const facts = h("span", { class: "block-facts muted", title: "What Sparrow hears: tempo, meter, key" });
    const bars = h("div", { class: "bar-grid", "aria-hidden": "true" });
    const waveHolder = h("div", { class: "block-wave" }, bars);
    const el = h("div", { class: "block", dataset: { nodeId: node.id } },
      h("div", { class: "block-head" },
        h("button", { class: "link", title: "Show this part's takes",
          onclick: () => { this.selected = node.id; this.focus = null; this.render(); } }, name),
        length,
        facts,
        h("button", { class: "small play-part", title: "Play this part alone",
          onclick: () => this.toggleTake(node.id) }, "▶"),
        h("button", { class: "small", title: "Stems of this part",
          onclick: () => this.openStems(node.id) }, "Stems")),
      waveHolder);
    const block = { el, name, length, facts, bars, waveHolder, wave: null, offset: 0 };
    this.blocks.set(node.id, block);
    return block;
  }

  ensureWave(item, node, onSpine) {
    if (item.waveFor === node.id || node.status !== "ready" || !node.audio_url) return;
    item.waveFor = node.id;
    const holder = item.waveHolder;
    clear(holder).append(h("span", { class: "muted" }, "loading audio…"));
    loadBuffer(node.audio_url).then((buffer) => {
      const seek = onSpine
        ? (seconds) => this.playSpine(item.offset + seconds)
        : (seconds) => this.playTake(node.id, seconds);
      item.wave = waveform(buffer, { height: onSpine ? 72 : 56, color: onSpine ? "#7c9cbf" : "#9fb98a", onSeek: seek });
      clear(holder).append(item.wave.el);
      if (item.bars) holder.append(item.bars);
    }, (error) => {
      item.waveFor = null;
      clear(holder).append(h("span", { class: "error-text" }, `Can't play this: ${error.message}`));
    });
  }

  takeCard(node) {
    const name = h("h3", {});
    const status = h("p", { class: "status" });
    const progress = h("progress", { max: 1, value: 0 });
    const eta = h("small", { class: "eta muted" });
    const progressLine = h("div", { class: "progress-line" }, progress, eta);
    const error = h("p", { class: "error-text" });
    const waveHolder = h("div", { class: "card-wave" });
    const play = h("button", { class: "play", "aria-pressed": "false", onclick: () => this.toggleTake(node.id) }, "▶ Play");
    const a = h("button", { class: "toggle ab-a", "aria-pressed": "false", title: "Compare as A",
      onclick: () => this.setAB("a", node.id) }, "A");
    const b = h("button", { class: "toggle ab-b", "aria-pressed": "false", title: "Compare as B",
      onclick: () => this.setAB("b", node.id) }, "B");
    const commit = h("button", { class: "primary commit", onclick: () => this.commit(node.id) }, "Commit");
    const stems = h("button", { class: "stems-open",
      onclick: () => this.openStems(node.id) }, "Stems");
    const discard = h("button", { class: "danger discard", onclick: () => this.discard(node.id) }, "Discard");
    const reuse = h("button", { class: "link reuse", title: "Put this take's knobs, seed included, in the form",
      onclick: () => this.reuse(node.id) }, "use these knobs");
    const knobs = h("p", { class: "knobs-summary muted" });
    const note = h("p", { class: "note muted" });
    const seam = h("p", { class: "seam", title: "How this take continues its parent, as Sparrow hears it" });
    const again = h("button", { class: "again", title: "Ask again with the same knobs and seed",
      onclick: () => this.again(node.id) }, "Try again");
    const el = h("article", { class: "card", tabindex: "0", dataset: { nodeId: node.id },
      onclick: (event) => { if (event.target === el) this.setFocus(node.id); } },
    h("header", {}, name, h("small", { class: "seed muted" })),
    h("div", { class: "knobs-line" }, knobs, reuse),
    note, status, progressLine, error, seam, waveHolder,
    h("div", { class: "card-actions" }, play, a, b, commit, stems, again, discard));
    el.addEventListener("focus", () => this.setFocus(node.id));
    const card = {
      el, name, status, progress, progressLine, eta, error, waveHolder, play, a, b, commit, stems, knobs, again, wave: null,
      note, seam,
    };
    if (!this.account.stems_allowed) {
      stems.title = `Stem separation is on the paid tier; your key is on the ${this.account.tier} tier.`;
    }
    this.cards.set(node.id, card);
    return card;
  }

  updateCard(card, node, spine, rank = null, count = 1) {
    card.el.dataset.status = node.status;
    card.el.classList.toggle("focused", this.focus === node.id);
    card.name.textContent = this.label(node, spine);
    card.el.querySelector(".seed").textContent = node.params?.seed != null ? `seed ${node.params.seed}` : "";
    const p = node.params;
    card.knobs.textContent = p
      ? `${p.prompt ? `“${p.prompt}”` : "no prompt"} · ${p.energy} energy · ${p.tempo_feel} tempo · ${p.density} · guidance ${p.cfg_coef}`
      : "";
    const melody = node.melody && this.nodes.get(node.melody.node_id);
    if (melody) card.knobs.textContent += ` · melody of ${this.melodyName(melody, spine)}${node.melody.stem ? ` · ${node.melody.stem}` : ""}`;
    const percent = Math.round((node.progress || 0) * 100);
    card.status.textContent = node.status === "generating" ? `Generating… ${percent}%`
      : node.status === "ready" ? `Ready · ${fmt(node.duration_s)}` : STATUS_WORDS[node.status] || node.status;
    card.progressLine.hidden = !(node.status === "pending" || node.status === "generating");
    card.progress.value = node.progress || 0;
    card.eta.textContent = node.status === "generating" && node.eta_s ? timeLeft(node.eta_s) : "";
    card.error.hidden = node.status !== "error";
    card.error.textContent = node.error_msg || "";
    const ready = node.status === "ready";
    for (const button of [card.play, card.a, card.b, card.commit]) {
      button.hidden = node.status === "error";
      button.disabled = !ready;
    }
    card.again.hidden = node.status !== "error";
    card.stems.disabled = !ready || !this.account.stems_allowed;
    card.a.setAttribute("aria-pressed", String(this.ab.a === node.id));
    card.b.setAttribute("aria-pressed", String(this.ab.b === node.id));
    card.note.hidden = !node.note;
    card.note.textContent = node.note || "";
    const heard = seamOf(node);
    card.seam.hidden = !heard && !node.analysis;
    card.seam.textContent = heard
      ? `${rank === 1 && count > 1 ? "Best seam" : `Seam #${rank}`} · ${Math.round(heard.score * 100)}%: ${describeSeam(heard)}`
      : node.analysis ? `Seam: ${describeClip(node.analysis)}` : "";
    card.el.dataset.rank = rank ?? "";
    card.el.classList.toggle("fades-out", Boolean(heard?.fades_out));
    this.ensureWave(card, node, false);
  }

  // The part's bar lines over its waveform, from what Sparrow heard.
  drawBars(block, node) {
    const lines = barLines(node);
    const key = lines.join(",");
    if (block.barsFor === key) return;
    block.barsFor = key;
    clear(block.bars).append(...lines.map((x) => h("span", { class: "bar-line", style: { left: `${(x * 100).toFixed(3)}%` } })));
  }

  // -- playback --------------------------------------------------------------------

  async spineBuffers() {
    return Promise.all(this.spine().map((n) => loadBuffer(n.audio_url)));
  }

  async playSpine(from = 0) {
    try {
      this.seekFrom = from;
      player.playSequence("spine", await this.spineBuffers(), from);
    } catch (error) {
      showError(error);
    }
  }

  toggleSpine() {
    if (player.isPlaying("spine")) player.stop();
    else this.playSpine(this.seekFrom);
  }

  async playTake(id, from = 0) {
    const node = this.nodes.get(id);
    if (!node || node.status !== "ready") return;
    if (this.cards.has(id)) this.setFocus(id);
    try {
      player.playBuffer(`node:${id}`, await loadBuffer(node.audio_url), from);
    } catch (error) {
      showError(error);
    }
  }

  toggleTake(id) {
    if (player.isPlaying(`node:${id}`)) player.stop();
    else this.playTake(id);
  }

  tick(state) {
    const what = state?.what || "";
    // The buttons change only when what plays does, not every frame.
    if (what !== this.buttonsFor) {
      this.buttonsFor = what;
      this.playSpineButton.textContent = what === "spine" ? "■ Stop" : "▶ Play spine";
      for (const [id, card] of this.cards) {
        const on = what === `node:${id}`;
        card.play.textContent = on ? "■ Stop" : "▶ Play";
        card.play.setAttribute("aria-pressed", String(on));
      }
    }
    for (const [id, card] of this.cards) card.wave?.show(what === `node:${id}` ? state.position : null);
    for (const [id, block] of this.blocks) {
      const inside = what === "spine" && state.position >= block.offset && state.position < block.offset + (block.wave?.duration || 0);
      block.wave?.show(inside ? state.position - block.offset : what === `node:${id}` ? state.position : null);
    }
    if (!state) {
      this.nowPlaying.textContent = "Stopped";
    } else if (what === "spine") {
      this.nowPlaying.textContent = `Playing the spine · ${fmt(state.position)} / ${fmt(state.length)}`;
    } else if (what.startsWith("node:")) {
      this.nowPlaying.textContent = `Playing ${this.label(this.nodes.get(what.slice(5)))} · ${fmt(state.position)} / ${fmt(state.length)}`;
    } else if (what.startsWith("seam:")) {
      const id = what.slice(5);
      const side = id === this.ab.a ? "A" : "B";
      const where = state.position < state.seamAt ? "before the seam" : "after the seam";
      this.nowPlaying.textContent = `Looping the seam · ${side} (${this.label(this.nodes.get(id))}) · ${where}`;
    } else if (what.startsWith("stems:")) {
      this.nowPlaying.textContent = `Playing stems · ${fmt(state.position)} / ${fmt(state.length)}`;
    }
  }

  // -- A/B across the seam ------------------------------------------------------------

  setAB(side, id) {
    const other = side === "a" ? "b" : "a";
    this.ab[side] = this.ab[side] === id ? null : id;
    if (this.ab[other] === id) this.ab[other] = null;
    this.render();
  }

  renderAB() {
    const { a, b } = this.ab;
    this.abPanel.hidden = !(a && b);
    if (!a || !b) return;
    if (this.abPanel.dataset.pair === `${a}:${b}`) return;
    this.abPanel.dataset.pair = `${a}:${b}`;
    clear(this.abPanel).append(
      h("strong", {}, "A/B"),
      h("span", {}, ` ${this.label(this.nodes.get(a))} against ${this.label(this.nodes.get(b))}, looping ${SEAM_S} s either side of the seam `),
      h("button", { id: "ab-loop", class: "primary", onclick: () => this.loopAB(a) }, "Loop A"),
      h("button", { id: "ab-switch", onclick: () => this.switchAB() }, "Switch A ⇄ B"),
      h("button", { onclick: () => player.stop() }, "Stop"));
  }

  async loopAB(id, offset = 0) {
    try {
      const parent = await loadBuffer(this.nodes.get(this.nodes.get(id).parent_id).audio_url);
      const take = await loadBuffer(this.nodes.get(id).audio_url);
      player.loopSeam(`seam:${id}`, parent, take, SEAM_S, offset);
    } catch (error) {
      showError(error);
    }
  }

  switchAB() {
    const state = player.now();
    const current = state?.what?.startsWith("seam:") ? state.what.slice(5) : null;
    const next = current === this.ab.a ? this.ab.b : this.ab.a;
    this.loopAB(next, current ? state.position : 0);
  }

  // -- changes ---------------------------------------------------------------------

  async again(id) {
    const node = this.nodes.get(id);
    try {
      const reply = await api.takes(node.parent_id, { ...node.params, count: 1, melody: node.melody || undefined });
      for (const created of reply.nodes) this.upsert(created);
      this.render();
    } catch (error) {
      showError(error);
    }
  }

  reuse(id) {
    const params = this.nodes.get(id)?.params;
    if (!params) return;
    for (const [name, value] of Object.entries(params)) {
      const input = document.getElementById(`knob-${name}`);
      if (input) input.value = value ?? "";
    }
    this.melody.choose(this.nodes.get(id).melody);
    document.getElementById("takes-form").scrollIntoView({ behavior: "smooth", block: "nearest" });
    toast(`The form holds ${this.label(this.nodes.get(id))}'s knobs and seed: the same take comes back, or change one.`);
  }

  async ask(body) {
    const reply = await api.takes(this.selected, body);
    for (const node of reply.nodes) this.upsert(node);
    this.focus = reply.nodes[0]?.id || this.focus;
    this.render();
  }

  async commit(id) {
    const fading = seamOf(this.nodes.get(id) || {})?.fades_out;
    if (fading && !window.confirm("This take fades out at its end: the next take would continue from near silence. Commit it anyway?")) return;
    try {
      const node = await api.commit(id);
      if (player.isPlaying()) player.stop();
      this.nodes.set(node.id, node);
      this.selected = node.id;
      this.focus = null;
      this.render();
      toast(`Committed ${this.label(node)} to the spine.`);
    } catch (error) {
      showError(error);
    }
  }

  discard(id) {
    const node = this.nodes.get(id);
    if (!node || this.discarding.has(id)) return;
    if (player.isPlaying(`node:${id}`) || player.isPlaying(`seam:${id}`)) player.stop();
    const name = this.label(node);
    const timer = setTimeout(() => this.discardNow(id), UNDO_S * 1000);
    this.discarding.set(id, timer);
    if (this.focus === id) this.focus = null;
    this.render();
    toast(`Discarded ${name}.`, {
      timeout: UNDO_S * 1000,
      actionLabel: "Undo",
      action: () => {
        clearTimeout(this.discarding.get(id));
        this.discarding.delete(id);
        this.focus = id;
        this.render();
      },
    });
  }

  async discardNow(id, keepalive = false) {
    this.discarding.delete(id);
    try {
      await api.discard(id, keepalive);
    } catch (error) {
      if (error.status !== 404) {
        showError(error);
        this.render();
      }
    }
  }

  // Leaving the page ends the chance to undo: the discards go out now.
  flushDiscards() {
    for (const [id, timer] of this.discarding) {
      clearTimeout(timer);
      this.discardNow(id, true);
    }
  }

  // -- keyboard --------------------------------------------------------------------

  setFocus(id) {
    this.focus = id;
    for (const [cardId, card] of this.cards) card.el.classList.toggle("focused", cardId === id);
  }

  key(event) {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.target.closest("button, a, summary") && (event.key === " " || event.key === "Enter")) return;
    const takes = this.takesOf(this.selected);
    const at = takes.findIndex((n) => n.id === this.focus);
    if (event.key === " ") {
      event.preventDefault();
      if (player.isPlaying()) player.stop();
      else if (this.focus) this.playTake(this.focus);
      else this.playSpine(this.seekFrom);
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      if (!takes.length) return;
      event.preventDefault();
      const step = event.key === "ArrowRight" ? 1 : -1;
      const next = takes[(at + step + takes.length) % takes.length] || takes[0];
      const wasPlaying = player.now();
      this.setFocus(next.id);
      this.cards.get(next.id)?.el.scrollIntoView({ block: "nearest", inline: "nearest" });
      // Auditioning: a playing take hands over to the next at the same point.
      if (wasPlaying?.what?.startsWith("node:")) this.playTake(next.id, wasPlaying.position);
    } else if (event.key === "Enter" && this.focus) {
      event.preventDefault();
      this.commit(this.focus);
    } else if ((event.key === "Delete" || event.key === "Backspace") && this.focus) {
      event.preventDefault();
      this.discard(this.focus);
    } else if (event.key === "Escape") {
      player.stop();
    }
  }
}
