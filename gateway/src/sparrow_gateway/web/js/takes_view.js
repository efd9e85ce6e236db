// The takes after the selected part, side by side as cards, best seam first
// once Sparrow has heard them: each with its knobs, progress, seam report and
// waveform, and what can be done with it (play, A or B, commit, stems, more
// like this, try again, discard, use its knobs, correct its grid). Honest: no
// take is called the best when none scores BEST_FLOOR; a low score says what
// took most off it, and a seam that can't be judged says why, with no score.
// A take that replaces a stretch of its part says where the part comes back;
// an intro, where the clip comes in after it.

import { showWave } from "./clip_wave.js";
import { clear, fmt, h } from "./dom.js";
import { BEST_FLOOR, describeClip, describeRejoin, describeSeam, judged, ranked, seamOf } from "./listening.js";
import { same } from "./playing.js";
import { clock } from "./timeline.js";

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

// The seam's line: "Best seam · 72%: …" (best: rank 1 and at least
// BEST_FLOOR), "Seam #2 · 31%: …", or why it can't be judged (no score shown).
// A take that replaces a stretch is ranked by the worse of its two joins: when
// that is the way back, the line says so and still describes the way in (the
// way back has its own line).
function seamWords(heard, node, { rank, best }) {
  if (!heard) return node.analysis ? `Seam: ${describeClip(node) || "listening…"}` : "";
  // An intro has no way in (nothing plays before it): it is ranked by how it leads into the clip.
  if (node.intro) {
    if (!judged(heard)) return `Lead-in not judged: ${heard.unjudged}`;
    return `${best ? "Best lead-in" : `Lead-in #${rank}`} · ${Math.round(heard.score * 100)}%, ranked by how it leads into your clip`;
  }
  const first = node.analysis.seam;
  const back = heard !== first;
  if (!judged(heard)) return back ? `Seam not judged where the part comes back: ${heard.unjudged}` : `Seam not judged: ${heard.unjudged}`;
  const score = `${best ? "Best seam" : `Seam #${rank}`} · ${Math.round(heard.score * 100)}%`;
  if (back) return `${score}, ranked by where the part comes back · the way in: ${describeSeam(first)}`;
  return `${score}: ${describeSeam(heard)}`;
}

// Where take `id` is while it plays: alone, or looped across its seam (A/B:
// past the seam, the take's own time; before it, the parent plays).
function playheadOf(id, state) {
  const what = state?.what;
  if (what?.nodeId !== id) return null;
  if (what.kind === "clip") return state.position;
  if (what.kind === "seam") {
    const into = state.position - state.seamAt;
    // A replacement's loop goes back into the part after the take's stretch.
    if (state.backAt != null && state.position >= state.backAt) return null;
    return into >= 0 ? into : null;
  }
  return null;
}

export class TakesView {
  // `does`, each given the take's id: play (or stop), compare(side, id) ("a" or
  // "b"), commit, stems, moreLike (takes with its knobs, new seeds), again,
  // discard, reuse (its knobs into the form), focus, grid (its grid editor);
  // and seek(id, seconds, keys) (a click on its waveform: the keys held, its scale).
  constructor(chain, account, does) {
    this.chain = chain;
    this.account = account;
    this.does = does;
    this.title = h("h2", {});
    this.verdict = h("p", { class: "takes-verdict", id: "takes-verdict", hidden: true });
    this.el = h("div", { class: "takes", id: "takes" });
    this.cards = new Map(); // take id -> card, kept while its node lives
    this.buttonsFor = undefined; // what played when the play buttons last changed
  }

  /** Show `takes`, the takes after `parent`, ranked; `focus`: the take the keys
   *  act on; `ab`: {a, b}, the takes compared. */
  render(parent, takes, { spine, focus, ab }) {
    this.title.textContent = `Takes after ${this.chain.label(parent, spine)}`;
    const order = ranked(takes);
    const scored = order.filter(({ node }) => judged(seamOf(node)));
    this.verdict.hidden = !(scored.length > 1 && !order.some((r) => r.best));
    this.verdict.textContent = this.verdict.hidden ? ""
      : `No take continues well enough to call the best (none scores ${Math.round(BEST_FLOOR * 100)}%): listen before you commit, or ask for more.`;
    const shown = new Set(takes.map((n) => n.id));
    for (const [id, card] of this.cards) {
      if (!shown.has(id)) {
        card.el.remove();
        if (!this.chain.has(id)) this.cards.delete(id);
      }
    }
    if (!takes.length) {
      if (!this.el.querySelector(".empty")) {
        clear(this.el).append(h("p", { class: "empty muted" }, "No takes yet: ask for some below."));
      }
    } else {
      this.el.querySelector(".empty")?.remove();
    }
    for (const { node, rank, best } of order) {
      const card = this.cards.get(node.id) || this.card(node);
      this.update(card, node, { spine, focus, ab, rank, best, count: takes.length });
      this.el.append(card.el);
    }
  }

  card(node) {
    const does = this.does;
    const id = node.id;
    const name = h("h3", {});
    const status = h("p", { class: "status" });
    const progress = h("progress", { max: 1, value: 0 });
    const eta = h("small", { class: "eta muted" });
    const progressLine = h("div", { class: "progress-line" }, progress, eta);
    const error = h("p", { class: "error-text" });
    const waveHolder = h("div", { class: "card-wave" });
    const play = h("button", { class: "play", "aria-pressed": "false", onclick: () => does.play(id) }, "▶ Play");
    const a = h("button", { class: "toggle ab-a", "aria-pressed": "false", title: "Compare as A",
      onclick: () => does.compare("a", id) }, "A");
    const b = h("button", { class: "toggle ab-b", "aria-pressed": "false", title: "Compare as B",
      onclick: () => does.compare("b", id) }, "B");
    const commit = h("button", { class: "primary commit", onclick: () => does.commit(id) }, "Commit");
    const stems = h("button", { class: "stems-open",
      onclick: () => does.stems(id) }, "Stems");
    const discard = h("button", { class: "danger discard", onclick: () => does.discard(id) }, "Discard");
    const reuse = h("button", { class: "link reuse", title: "Put this take's knobs, seed included, in the form",
      onclick: () => does.reuse(id) }, "use these knobs");
    const knobs = h("p", { class: "knobs-summary muted" });
    const note = h("p", { class: "note muted" });
    const seam = h("p", { class: "seam", title: "How this take continues its parent, as Sparrow hears it" });
    const weakest = h("p", { class: "seam-weakest", hidden: true });
    const rejoin = h("p", { class: "rejoin", hidden: true, title: "Where the part comes back after this take, as Sparrow hears it" });
    const facts = h("button", { class: "link card-facts", title: "What Sparrow hears in this take (tempo, meter, key): click to correct",
      onclick: () => does.grid(id) });
    const again = h("button", { class: "again", title: "Ask again with the same knobs and seed",
      onclick: () => does.again(id) }, "Try again");
    const moreLike = h("button", { class: "more-like", title: "More takes with this one's knobs, each with a new seed",
      onclick: () => does.moreLike(id) }, "More like this");
    const el = h("article", { class: "card", tabindex: "0", dataset: { nodeId: id },
      onclick: (event) => { if (event.target === el) does.focus(id); } },
    h("header", {}, name, h("small", { class: "seed muted" })),
    h("div", { class: "knobs-line" }, knobs, reuse),
    note, status, progressLine, error, seam, rejoin, weakest, h("div", { class: "facts-line" }, facts), waveHolder,
    h("div", { class: "card-actions" }, play, a, b, commit, stems, moreLike, again, discard));
    el.addEventListener("focus", () => does.focus(id));
    const card = {
      el, name, status, progress, progressLine, eta, error, waveHolder, play, a, b, commit, stems, knobs, again, moreLike,
      wave: null,
      note, seam, rejoin, weakest, facts,
    };
    if (!this.account.stems_allowed) {
      stems.title = `Stem separation is on the paid tier; your key is on the ${this.account.tier} tier.`;
    }
    this.cards.set(id, card);
    return card;
  }

  update(card, node, { spine, focus, ab, rank = null, best = false, count = 1 }) {
    card.el.dataset.status = node.status;
    card.el.classList.toggle("focused", focus === node.id);
    card.name.textContent = this.chain.label(node, spine);
    // Sixteen digits on every card say nothing to the ear: the last four tell
    // takes apart, the whole seed is on hover (and in "use these knobs").
    const seed = card.el.querySelector(".seed");
    const whole = node.params?.seed != null ? String(node.params.seed) : "";
    seed.textContent = whole ? `seed …${whole.slice(-4)}` : "";
    seed.title = whole ? `seed ${whole}: the same seed and knobs give the same take` : "";
    seed.dataset.seed = whole;
    const p = node.params;
    card.knobs.textContent = p
      ? `${p.prompt ? `“${p.prompt}”` : "no prompt"} · ${p.energy} energy · ${p.tempo_feel} tempo · ${p.density} · guidance ${p.cfg_coef}`
      : "";
    if (p?.prompt_source && p.prompt_source !== "mix") card.knobs.textContent += ` · heard the ${p.prompt_source} alone`;
    const melody = node.melody && this.chain.get(node.melody.node_id);
    if (melody) card.knobs.textContent += ` · melody of ${this.chain.fullName(melody, spine)}${node.melody.stem ? ` · ${node.melody.stem}` : ""}`;
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
    card.moreLike.hidden = !ready;
    card.stems.disabled = !ready || !this.account.stems_allowed;
    card.a.setAttribute("aria-pressed", String(ab.a === node.id));
    card.b.setAttribute("aria-pressed", String(ab.b === node.id));
    card.note.hidden = !node.note;
    card.note.textContent = node.note || "";
    const heard = seamOf(node);
    card.seam.hidden = !heard && !node.analysis;
    card.seam.textContent = seamWords(heard, node, { rank, best: best && count > 1 });
    this.showRejoin(card, node);
    const low = judged(heard) && heard.score < BEST_FLOOR && heard.weakest;
    card.weakest.hidden = !low;
    card.weakest.textContent = low ? `Scored low: ${heard.weakest}` : "";
    card.el.dataset.rank = rank ?? "";
    card.el.dataset.judged = heard ? String(judged(heard)) : "";
    card.el.classList.toggle("best", best && count > 1);
    card.el.classList.toggle("fades-out", Boolean(heard?.fades_out));
    const facts = node.status === "ready" && heard ? describeClip(node) : null;
    card.facts.hidden = !facts;
    card.facts.textContent = facts || "";
    card.facts.setAttribute("aria-label", `Grid of ${card.name.textContent}: ${facts || ""}. Correct it`);
    showWave(card, node, { height: 56, color: "#9fb98a", onSeek: (seconds, keys) => this.does.seek(node.id, seconds, keys) });
  }

  // A replacement's way back into its part: where it comes back once heard
  // (data-rejoin: the second of the part's audio), the stretch asked before.
  showRejoin(card, node) {
    const words = describeRejoin(node);
    const replaces = node.until_s != null;
    card.rejoin.hidden = !replaces && !words;
    const listening = node.intro ? `An intro of ${clock(node.until_s, 2)}: listening for how it leads into your clip…`
      : `Replaces ${clock(node.from_s, 2)}–${clock(node.until_s, 2)}: listening for where the part comes back…`;
    card.rejoin.textContent = words ? `${words[0].toUpperCase()}${words.slice(1)}` : replaces ? listening : "";
    card.rejoin.title = node.intro ? "Where your clip comes in after this intro, as Sparrow hears it"
      : "Where the part comes back after this take, as Sparrow hears it";
    card.el.dataset.rejoin = words ? String(node.analysis.rejoin.at_s) : "";
  }

  /** Whether take `id` has a card (shown or kept for later). */
  has(id) {
    return this.cards.has(id);
  }

  /** Mark take `id` as the one the keys act on (null: none). */
  showFocus(id) {
    for (const [cardId, card] of this.cards) card.el.classList.toggle("focused", cardId === id);
  }

  /** Scroll take `id`'s card into view. */
  reveal(id) {
    this.cards.get(id)?.el.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  /** Move each take's playhead, and its play button when what plays changes. */
  show(state) {
    const what = state?.what ?? null;
    const playingAlone = (id) => what?.kind === "clip" && what.nodeId === id;
    // The buttons change only when what plays does, not every frame.
    if (this.buttonsFor === undefined || !same(what, this.buttonsFor)) {
      this.buttonsFor = what;
      for (const [id, card] of this.cards) {
        const on = playingAlone(id);
        card.play.textContent = on ? "■ Stop" : "▶ Play";
        card.play.setAttribute("aria-pressed", String(on));
      }
    }
    for (const [id, card] of this.cards) card.wave?.show(playheadOf(id, state));
  }

  /** Drop take `id`'s card (discarded). */
  forget(id) {
    const card = this.cards.get(id);
    if (!card) return;
    card.wave?.destroy();
    card.el.remove();
    this.cards.delete(id);
  }

  destroy() {
    for (const card of this.cards.values()) card.wave?.destroy();
  }
}
