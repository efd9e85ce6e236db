// One chain open for editing: the spine as a timeline of waveforms, root first,
// under a time ruler (zoom, a looped stretch); a map of the whole chain; the
// selected node's takes side by side under it; the form that asks for more;
// A/B of two takes across their seam; each part's grid, corrected by the
// musician (grid_editor.js); stems; export. Live from the chain's SSE.
// This controller holds what is selected and in focus, and wires the chain's
// model (chain.js) to its views, the transport and the keys. What the
// musician asks of Sparrow goes through the command layer (commands.js), the
// one writer of the model with the chain's events; this reads the model.

import { ABCompare } from "./ab.js";
import { loadBuffer } from "./audio.js";
import { ChainCommands, openChain } from "./commands.js";
import { Discards } from "./discards.js";
import { ContinuePoint } from "./continue_point.js";
import { clear, fmt, h } from "./dom.js";
import { exportPanel } from "./export.js";
import { correctionOf, snapPoint } from "./grid.js";
import { GridEditor } from "./grid_editor.js";
import { HelpPanel } from "./help.js";
import { keyboard } from "./keys.js";
import { describeClip, seamOf } from "./listening.js";
import { Moves } from "./moves.js";
import * as playing from "./playing.js";
import { SpinePlayer } from "./spine_player.js";
import { SpineView, whyNotReplace } from "./spine_view.js";
import { StemsPanel } from "./stems.js";
import { melodyPicker, takesForm } from "./takes_form.js";
import { TakesView } from "./takes_view.js";
import { heardSpine, inPoint, spineLength, stretchIn } from "./timeline.js";
import { showError, toast } from "./toast.js";
import { Transport } from "./transport.js";
import { TreeMap } from "./tree_map.js";

export class Editor {
  constructor(root, chainId, account, schema) {
    this.root = root;
    this.chainId = chainId;
    this.account = account;
    this.schema = schema;
    this.chain = null; // the Chain, once loaded
    this.commands = null; // its ChainCommands
    this.selected = null; // the spine node whose takes are shown
    this.focus = null; // the take the keyboard acts on
    this.renderQueued = false;
    this.stems = new StemsPanel(account);
    this.melody = melodyPicker();
    this.melodyAllowed = false; // a ready MusicGen worker can take a melody
    this.onKey = keyboard({
      playOrStop: () => this.playOrStop(),
      stepTake: (step) => this.stepTake(step),
      commitFocused: () => this.commitFocused(),
      discardFocused: () => this.discardFocused(),
      stopPlaying: () => playing.stop(),
      zoom: (step) => this.spineView.zoomBy(step),
      continueFromPoint: () => this.point.continueFrom(),
      loopEdge: (edge) => this.spinePlayer.moveEdge(edge),
      toggleLoop: () => this.toggleLoop(),
      replaceStretch: () => this.replaceStretch(),
      help: () => this.help.toggle(),
      grid: () => this.toggleGrid(),
      tap: (seconds) => this.tapTempo(seconds),
      switchAB: () => this.ab.ready() && (this.ab.switch(), true),
      undo: () => this.moves.undo(),
      redo: () => this.moves.redo(),
    });
  }

  async start() {
    this.chain = await openChain(this.chainId);
    this.commands = new ChainCommands(this.chain, {
      changed: () => this.queueRender(),
      removed: (id) => this.removed(id),
      placed: (node, follow) => this.placed(node, follow),
      deleted: () => {
        toast("This chain was deleted.", { kind: "error" });
        location.hash = "#/";
      },
      stems: (set) => this.stems.update(set),
      failed: showError,
    });
    this.layout();
    this.selected = this.chain.tip().id;
    this.render();
    this.closeEvents = this.commands.watch((status) => {
      this.liveStatus.textContent = { live: "live", reconnecting: "reconnecting…", closed: "offline" }[status];
      this.liveStatus.dataset.status = status;
    });
    this.untick = playing.onTick((state) => this.tick(state));
    document.addEventListener("keydown", this.onKey);
  }

  stop() {
    playing.stop();
    this.commands?.stop();
    this.closeEvents?.();
    this.untick?.();
    document.removeEventListener("keydown", this.onKey);
    this.spineView?.destroy();
    this.takesView?.destroy();
    this.point?.destroy();
    this.help?.destroy();
  }

  // The takes after the selected part, less those on their way to the bin.
  takes() {
    return this.chain.takesOf(this.selected).filter((n) => !this.discards.has(n.id));
  }

  // What the GPU workers can do (GET /api/gpu, polled by the page).
  capacity(gpu) {
    const allowed = gpu.generation.some((w) => w.ready && w.supports_melody);
    if (allowed === this.melodyAllowed) return;
    this.melodyAllowed = allowed;
    if (this.chain) this.queueRender();
  }

  openStems(id) {
    const node = this.chain.get(id);
    this.stems.open(node, this.chain.label(node));
  }

  // -- what the commands changed in the model ------------------------------------------

  // Node `id` left the chain: the views let it go.
  removed(id) {
    this.spineView.forget(id);
    this.takesView.forget(id);
    if (this.focus === id) this.focus = null;
    this.ab.forget(id);
    if (!this.chain.has(this.selected)) this.selected = this.chain.tip()?.id;
    this.queueRender();
  }

  // A node after a move. With `follow`, the takes shown follow the spine's tip
  // as it moves: a part uncommitted shows its parent's takes, a part committed its own.
  // The rest of a part after a replaced stretch is no new tip to follow: the take stays shown.
  placed(node, follow) {
    const shown = this.selected;
    if (node.in_s != null && node.committed) follow = false;
    if (follow && !node.committed && shown === node.id) this.select(node.parent_id);
    else if (follow && node.committed && shown === node.parent_id) this.select(node.id);
    else this.queueRender();
  }

  // -- layout and rendering -------------------------------------------------------

  layout() {
    clear(this.root);
    const name = (id) => this.chain.label(this.chain.get(id));
    this.ab = new ABCompare(this.chain);
    this.spinePlayer = new SpinePlayer(this.chain, { onLoop: (region) => this.spineView.showLoop(region), onError: showError });
    // Parts the spine goes on with after node id (0 for its tip, or a take).
    const after = (id) => {
      const spine = this.chain.spine();
      const at = spine.findIndex((n) => n.id === id);
      return at < 0 ? 0 : spine.length - 1 - at;
    };
    this.point = new ContinuePoint(name, (id) => this.select(id), after);
    this.help = new HelpPanel();
    this.gridEditor = new GridEditor(this.chain, { save: (id, correction) => this.regrid(id, correction), labelOf: name });
    this.treeMap = new TreeMap(this.chain, { pick: (id) => this.pick(id) });
    this.form = takesForm(this.schema, (body) => this.ask(body), this.melody, this.point, this.chainId);
    this.moves = new Moves(this.chain, this.commands, this.form);
    this.discards = new Discards(this.chain, this.commands, {
      undo: () => this.moves.undo(),
      back: (id) => this.setFocus(id),
    });
    this.transport = new Transport({
      playSpine: () => this.toggleSpine(), nameOf: name, sideOf: (id) => this.ab.sideOf(id), help: () => this.help.toggle(),
    });
    this.spineView = new SpineView(this.chain, {
      select: (id) => this.select(id),
      play: (id) => this.toggleClip(id),
      stems: (id) => this.openStems(id),
      seek: (seconds) => this.playSpine(seconds),
      extend: (seconds) => this.spinePlayer.extend(seconds),
      loop: (from, to) => this.spinePlayer.loop(from, to),
      clearLoop: () => this.spinePlayer.clearLoop(),
      playLoop: () => this.spinePlayer.playLoop(),
      mark: (id, seconds, snapped) => this.point.mark(id, seconds, snapped),
      grid: (id) => this.openGrid(id),
      replace: () => this.replaceStretch(),
      intro: () => this.writeIntro(),
      barOne: (id, seconds) => {
        this.regrid(id, { ...correctionOf(this.chain.get(id)), bar_one_s: Math.round(seconds * 1000) / 1000 }).catch(showError);
      },
    });
    this.takesView = new TakesView(this.chain, this.account, {
      play: (id) => this.toggleClip(id),
      compare: (side, id) => this.compare(side, id),
      commit: (id) => this.commit(id),
      stems: (id) => this.openStems(id),
      again: (id) => this.again(id),
      moreLike: (id) => this.moves.moreLike(id),
      discard: (id) => this.discard(id),
      reuse: (id) => this.reuse(id),
      focus: (id) => this.setFocus(id),
      grid: (id) => this.openGrid(id),
      seek: (id, clicked, keys) => {
        const { t: seconds, to } = snapPoint(this.chain.get(id), clicked, keys);
        this.point.mark(id, seconds, to);
        this.playClip(id, seconds);
      },
    });
    this.duration = h("span", { class: "muted", id: "spine-duration" });
    this.liveStatus = h("span", { class: "live", id: "live-status", dataset: { status: "connecting" } }, "connecting…");
    this.askTitle = h("h2", {});
    this.root.append(
      h("div", { class: "editor-head" },
        h("a", { href: "#/", class: "back" }, "← Chains"), this.moves.title.el, this.duration, this.liveStatus,
        this.moves.history.el),
      this.transport.el,
      this.spineView.el,
      this.gridEditor.el,
      this.moves.part.el,
      this.treeMap.el,
      h("section", { class: "takes-area" }, this.takesView.title, this.takesView.verdict, this.takesView.el, this.ab.el),
      h("section", { class: "ask panel" }, this.askTitle, this.form.el),
      this.stems.el,
      exportPanel(this.chainId, showError, () => this.spinePlayer.region),
      this.moves.bin.el,
      this.help.el);
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
    const spine = this.chain.spine();
    const total = spineLength(spine);
    const parts = heardSpine(spine).length; // after an intro, the root plays nothing: not a part heard
    this.duration.textContent = `${parts} part${parts > 1 ? "s" : ""} · ${fmt(total)}`;
    this.spineView.render(spine, this.selected);
    this.drawMap(spine);
    this.point.follow(this.selected);
    const parent = this.chain.get(this.selected);
    const stretch = this.point.until() !== undefined;
    const ask = this.point.place() === "before" ? "Write an intro for" : stretch ? "Replace a stretch of" : "Continue from";
    this.askTitle.textContent = `${ask} ${this.chain.label(parent, spine)}`;
    this.melody.offer(this.chain.melodyChoices(spine, this.discards), this.melodyAllowed);
    const takes = this.takes();
    if (this.focus && !takes.some((n) => n.id === this.focus)) this.focus = null;
    this.ab.keep(takes.map((n) => n.id));
    this.takesView.render(parent, takes, { spine, focus: this.focus, ab: this.ab });
    this.ab.render();
    this.gridEditor.render();
    this.moves.render(spine, this.selected);
  }

  tick(state) {
    this.transport.show(state);
    this.spineView.show(state);
    this.takesView.show(state);
  }

  // -- what the musician does ------------------------------------------------------

  // Show part `id`'s takes.
  select(id) {
    this.selected = id;
    this.focus = null;
    this.render();
  }

  setFocus(id) {
    this.focus = id;
    this.takesView.showFocus(id);
    this.drawMap();
  }

  drawMap(spine = this.chain.spine()) {
    this.treeMap.render({ spine, selected: this.selected, focus: this.focus, hidden: this.discards });
  }

  compare(side, id) {
    this.ab.choose(side, id);
    this.render();
  }

  // Play the spine from `from` seconds (where it was last played from when
  // absent); inside the loop region, the loop.
  playSpine(from) {
    return this.spinePlayer.play(from);
  }

  toggleSpine() {
    return this.spinePlayer.toggle();
  }

  // Play one part or take alone.
  async playClip(id, from = 0) {
    const node = this.chain.get(id);
    if (!node || node.status !== "ready") return;
    if (this.takesView.has(id)) this.setFocus(id);
    try {
      playing.playClip(id, await loadBuffer(node.audio_url), from);
    } catch (error) {
      showError(error);
    }
  }

  // A part alone plays what the spine plays of it: from its in point.
  toggleClip(id) {
    if (playing.isPlaying(playing.clip(id))) playing.stop();
    else this.playClip(id, inPoint(this.chain.get(id) || {}));
  }

  async again(id) {
    try {
      await this.commands.again(id);
      this.render();
    } catch (error) {
      showError(error);
    }
  }

  reuse(id) {
    const params = this.chain.get(id)?.params;
    if (!params) return;
    this.form.fill(params);
    this.melody.choose(this.chain.get(id).melody);
    const { parent_id: parent, from_s: from, until_s: until, intro } = this.chain.get(id);
    if (intro) {
      this.form.fill({ duration_s: until }); // the intro's length, not the take's (it runs on to be heard leading in)
      this.point.intro(parent);
    } else if (until != null) this.point.replace({ nodeId: parent, seconds: from, until });
    else if (from != null) this.point.continueFrom({ nodeId: parent, seconds: from });
    else this.point.clear();
    this.form.reveal();
    toast(`The form holds ${this.chain.label(this.chain.get(id))}'s knobs and seed: the same take comes back, or change one.`);
  }

  async ask(body) {
    const nodes = await this.commands.ask(this.selected, body);
    this.focus = nodes[0]?.id || this.focus;
    this.render();
  }

  async commit(id) {
    const fading = seamOf(this.chain.get(id) || {})?.fades_out;
    if (fading && !window.confirm("This take fades out at its end: the next take would continue from near silence. Commit it anyway?")) return;
    try {
      const node = await this.commands.commit(id);
      if (playing.isPlaying()) playing.stop();
      this.selected = node.id;
      this.focus = null;
      this.render();
      toast(`Committed ${this.chain.label(node)} to the spine.`);
    } catch (error) {
      showError(error);
    }
  }

  discard(id) {
    const node = this.chain.get(id);
    if (!node || this.discards.has(id)) return;
    if (playing.isPlaying(playing.clip(id)) || playing.isPlaying(playing.seam(id))) playing.stop();
    this.discards.discard(id, this.chain.label(node));
  }

  // -- the keys' moves (keys.js) -----------------------------------------------------

  playOrStop() {
    if (playing.isPlaying()) playing.stop();
    else if (this.focus) this.playClip(this.focus);
    else this.playSpine();
    return true;
  }

  // Focus the next take (step 1) or the one before (-1), round the ends.
  stepTake(step) {
    const takes = this.takes();
    if (!takes.length) return false;
    const at = takes.findIndex((n) => n.id === this.focus);
    const next = takes[(at + step + takes.length) % takes.length] || takes[0];
    const was = playing.now();
    this.setFocus(next.id);
    this.takesView.reveal(next.id);
    // Auditioning: a playing take hands over to the next at the same point.
    if (was?.what.kind === "clip") this.playClip(next.id, was.position);
    return true;
  }

  commitFocused() {
    if (!this.focus) return false;
    this.commit(this.focus);
    return true;
  }

  discardFocused() {
    if (!this.focus) return false;
    this.discard(this.focus);
    return true;
  }

  // -- the timeline's moves (the spine, the map, the keys) ---------------------------

  // Show node `id`, picked on the map: a part, its takes; a take, its parent's takes with it in focus.
  pick(id) {
    const node = this.chain.get(id);
    if (!node) return;
    if (node.parent_id === null || this.chain.spine().some((n) => n.id === id)) {
      this.select(id);
      this.spineView.reveal(id);
      return;
    }
    this.select(node.parent_id);
    this.spineView.reveal(node.parent_id);
    this.setFocus(id);
    this.takesView.reveal(id);
  }

  // -- the grid: the musician's word over what Sparrow heard ---------------------------

  /** Open node `id`'s grid editor. */
  openGrid(id) {
    this.gridEditor.open(id);
  }

  // G: open the grid of the part shown, or close the one open.
  toggleGrid() {
    if (this.gridEditor.isOpen()) this.gridEditor.close();
    else this.gridEditor.open(this.selected, { focus: false });
    return true;
  }

  // T: a tap of the beat, for the grid open (the part shown's, opened for it).
  tapTempo(seconds) {
    if (!this.gridEditor.isOpen()) this.gridEditor.open(this.selected, { focus: false });
    return this.gridEditor.tap(seconds);
  }

  /** Send node `id`'s whole grid `correction`: the node comes back with its
   *  grid (the ruler and its bars follow), and undo can take it back. Rejects
   *  with why not. */
  async regrid(id, correction) {
    const { node, words } = await this.commands.regrid(id, correction);
    this.render();
    toast(`${words[0].toUpperCase()}${words.slice(1)} on ${this.chain.label(node)}: ${describeClip(node)}.`,
      { action: () => this.moves.undo(), actionLabel: "Undo" });
  }

  // "Replace this stretch" (R): takes of the part the loop lies in, asked with
  // the form's knobs, that play instead of the loop's stretch and come back into the part.
  replaceStretch() {
    const region = this.spinePlayer.region;
    if (!region) return false;
    const spine = this.chain.spine();
    const why = whyNotReplace(spine, region, (node) => this.chain.label(node, spine));
    if (why) {
      toast(why, { kind: "error" });
      return true;
    }
    const stretch = stretchIn(spine, region.from, region.to);
    this.point.replace({ nodeId: stretch.nodeId, seconds: stretch.from_s, until: stretch.until_s });
    this.form.ask();
    return true;
  }

  // "Write an intro" (on the first part drawn): the next takes asked of the
  // root lead into the clip, the form's duration the intro's length.
  writeIntro() {
    const root = this.chain.spine()[0];
    if (!root) return false;
    this.point.intro(root.id);
    this.render();
    return true;
  }

  // L: clear the loop, or loop the part shown.
  toggleLoop() {
    if (!this.spinePlayer.region) return this.spinePlayer.loopPart(this.selected);
    this.spinePlayer.clearLoop();
    return true;
  }
}
