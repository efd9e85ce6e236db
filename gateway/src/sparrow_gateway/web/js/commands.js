// The command layer: everything the musician does that Sparrow must know of
// (upload, ask for takes, commit, discard, undo, regrid, stems, export...)
// goes through here, and nothing else calls the API (api.js) or follows a
// chain's events (events.js). With those events (ChainCommands.event) it is
// the one writer of the chain's model (chain.js): views call commands and read
// the model; they fetch nothing but audio (audio.js), and never write the
// model themselves. No DOM.
//
// Nothing is read again after a move, made here or elsewhere (another tab, the
// API): a move's reply says what it changed, with the history (what undo and
// redo do next), and the chain's events say the same of every move, whoever
// made it: the nodes moved (those sent to the bin as they are there, so the
// bin's list keeps), a rename's title, and the history (history.changed,
// written in the move's transaction: the chain service's store/moves.py). A
// history carries the seq of its event, so whichever of a reply and an event
// comes last, the model keeps the later history (Chain.setHistory); the events
// of a move made here need not be told from another tab's.

import { api, forgetKey, signIn, signOut, storedKey } from "./api.js";
import { Chain } from "./chain.js";
import { watchChain } from "./events.js";
import { changeWords, correctionOf } from "./grid.js";

export { forgetKey, signIn, signOut, storedKey };

// -- outside any one chain -------------------------------------------------------------

/** Who the key belongs to, and what its tier allows. */
export const me = () => api.me();
/** What the GPU workers can do now (GET /api/gpu). */
export const gpuCapacity = () => api.gpu();
/** The API's own schema: the takes form's knobs and their bounds. */
export const apiSchema = () => api.schema();
/** The musician's chains, newest first. */
export const listChains = () => api.chains();
/** A new chain from a clip (`title`: the file's name when empty). */
export const upload = (file, title) => api.upload(file, title);
export const startFromWords = (body) => api.fromWords(body);
export const presets = () => api.presets();
export const savePreset = (name, knobs) => api.savePreset(name, knobs);
export const deletePreset = (name) => api.deletePreset(name);
/** Delete a chain with all its takes, for good. */
export const deleteChain = (id) => api.deleteChain(id);
/** Node `id`'s stem set by `model` ("": the workers' default). */
export const stemsOf = (id, model) => api.stems(id, model);
/** Ask for node `id`'s stems by `model` (paid tier). */
export const separate = (id, model) => api.separate(id, model);
/** The spine as one file: the raw response, to save. */
export const exportSpine = (chainId, body) => api.exportSpine(chainId, body);

// -- one chain ---------------------------------------------------------------------------

// Events that place a node after a move.
const PLACING = new Set(["node.committed", "node.uncommitted", "node.restored"]);

const nowIso = () => new Date().toISOString();

// A reply of a move on one node (commit, uncommit, restore): the node, and the history.
const split = ({ history, ...node }) => ({ node, history });

/** Open chain `id`: its model, with what its bin holds. */
export async function openChain(id) {
  const [whole, bin] = await Promise.all([api.chain(id), api.bin(id)]);
  const chain = new Chain(whole);
  chain.setBin(bin.nodes);
  return chain;
}

export class ChainCommands {
  // `chain`: the Chain (openChain). `on`: what the views hear after the model
  // changed: changed() (render), removed(id) (a node left the chain: drop it
  // from the views), placed(node, follow) (a node moved: with `follow`, the
  // part shown may follow the spine's tip), deleted() (the chain is gone),
  // stems(set) (a stem set changed), failed(error) (a read of its own failed).
  constructor(chain, on) {
    this.chain = chain;
    this.on = on;
    this.busy = false; // an undo or redo on its way
    this.walks = Promise.resolve(); // the undos and redos asked, one after another
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
  }

  // -- the chain's events: the model's other writer ---------------------------------------

  /** Follow the chain's events; `onStatus` hears "live", "reconnecting" or
   *  "closed". Returns what stops following. */
  watch(onStatus) {
    return watchChain(this.chain.id, { onEvent: (kind, event) => this.event(kind, event), onStatus });
  }

  /** Take in one of the chain's events (events.js). */
  event(kind, event) {
    if (kind === "chain.deleted") {
      this.on.deleted();
      return;
    }
    if (kind === "stems.updated") {
      if (event.stems) this.chain.setStems(event.stems);
      this.on.stems(event.stems);
    } else if (kind === "history.changed") {
      this.chain.setHistory(event.history);
    } else if (kind === "chain.renamed") {
      // Logged before renames said their title, one says nothing.
      if (event.title) this.chain.title = event.title;
    } else if (kind === "node.discarded") {
      // Logged before discards carried the node, one carries only its id.
      if (event.node) this.discarded(event.node);
      else this.drop(event.node_id);
    } else if (event.node && PLACING.has(kind)) {
      this.place(event.node, { follow: kind !== "node.restored" });
    } else if (event.node) {
      if (!this.chain.upsert(event.node)) return;
    } else {
      return;
    }
    this.on.changed();
  }

  // A node went to the bin, as it is there (a discard's event, a commit's
  // sibling): on top of the bin when its parent stays in the chain, else under
  // what went before it (its parent's event comes first). The bin keeps it as
  // the event has it (a take being made comes back cancelled).
  discarded(node) {
    if (this.chain.has(node.id) && this.chain.has(node.parent_id)) this.bin(node.id, node.binned_at);
    this.drop(node.id, node);
  }

  // A node left the chain (to the bin, or deleted); the views hear of it once.
  // `binned`: the node as it is in the bin, when known.
  drop(id, binned = undefined) {
    const held = this.chain.has(id);
    this.chain.remove(id, binned);
    if (held) this.on.removed(id);
  }

  // A node after a move: in the chain again (or still), or in the bin.
  place(node, { follow = false } = {}) {
    if (node.binned_at) {
      this.discarded(node);
      return;
    }
    this.chain.restore(node);
    this.on.placed(node, follow);
  }

  // Node `id` and what grew from it went to the bin, listed on top (`at`: when, ISO).
  bin(id, at = nowIso()) {
    for (const gone of this.chain.toBin(id, at)) this.on.removed(gone);
  }

  /** The bin was opened: read what it holds (a bin emptied elsewhere, or after
   *  its time, moves no node, so no event says what went). */
  async readBin() {
    try {
      const bin = await api.bin(this.chain.id);
      if (this.stopped) return;
      this.chain.setBin(bin.nodes);
      this.on.changed();
    } catch (error) {
      // 404: the chain was deleted, and its event says so.
      if (error.status !== 404) throw error;
    }
  }

  // -- takes ------------------------------------------------------------------------------

  /** Ask for takes after node `parentId` (`body`: the takes form's); the takes made. */
  async ask(parentId, body) {
    const reply = await api.takes(parentId, body);
    for (const node of reply.nodes) this.chain.upsert(node);
    this.on.changed();
    return reply.nodes;
  }

  /** One more take as take `id` was asked (its knobs and seed); the takes made. */
  again(id) {
    const node = this.chain.get(id);
    const stretch = node.until_s != null ? { until_s: node.until_s, align: "seconds" } : {};
    // An intro asked again: as long before the clip comes in, from the clip's start.
    if (node.intro) {
      return this.ask(node.parent_id, {
        ...node.params, count: 1, melody: node.melody || undefined, duration_s: node.until_s, place: "before", align: "seconds",
      });
    }
    return this.ask(node.parent_id, {
      ...node.params, count: 1, melody: node.melody || undefined, from_s: node.from_s ?? undefined, ...stretch,
    });
  }

  /** `count` more takes like take `id`: its knobs, new seeds. */
  moreLike(id, count) {
    const node = this.chain.get(id);
    return node ? this.ask(node.parent_id, { like: id, count }) : Promise.resolve([]);
  }

  // -- the moves ----------------------------------------------------------------------------
  // Each writes what its reply says; its events, which may come before or
  // after it, say the same again and change nothing more.

  /** Put take `id` on the spine; its siblings go to the bin. The node committed.
   *  A take that replaces a stretch may be committed anywhere on the spine: the
   *  part after it stays (its events move it under the rest of the part). */
  async commit(id) {
    const parent = this.chain.get(id)?.parent_id;
    const siblings = parent === undefined ? [] : this.chain.childrenOf(parent).filter((n) => n.id !== id && !n.committed);
    const { node, history } = split(await api.commit(id));
    this.chain.upsert(node);
    // Those its events have not sent to the bin yet.
    for (const sibling of siblings) if (this.chain.has(sibling.id)) this.bin(sibling.id);
    this.chain.setHistory(history);
    this.on.changed();
    return node;
  }

  /** Send take `id`, with what grew from it, to the bin. */
  async discard(id) {
    const { history } = await api.discard(id);
    if (this.chain.has(id)) this.bin(id);
    this.chain.setHistory(history);
    this.on.changed();
  }

  /** Bring node `id` back from the bin (rejects with why not). */
  async restore(id) {
    const { node, history } = split(await api.restore(id));
    this.place(node);
    this.chain.setHistory(history);
    this.on.changed();
    return node;
  }

  /** Take the spine's tip `id` off it: a take again, its siblings back from the bin (on the events). */
  async uncommit(id) {
    const { node, history } = split(await api.uncommit(id));
    this.place(node, { follow: true });
    this.chain.setHistory(history);
    this.on.changed();
    return node;
  }

  /** Node `id`'s whole grid `correction`; its words ("tempo change") and the node. */
  async regrid(id, correction) {
    const words = changeWords(correctionOf(this.chain.get(id)), correction);
    const reply = await api.setGrid(id, correction);
    this.chain.upsert(reply.node);
    this.chain.regridded(id, words);
    this.chain.setHistory(reply.history);
    this.on.changed();
    return { node: reply.node, words };
  }

  /** Undo the chain's latest move (whoever made it); the move in words, or null for none. */
  undo() {
    return this.queue("undo");
  }

  /** Do again the move undone last; the move in words, or null for none. */
  redo() {
    return this.queue("redo");
  }

  // Keys pressed in a row are each taken, in turn: an undo's events can show
  // before its reply has come, and a redo pressed then would be lost.
  queue(way) {
    const walked = this.walks.then(() => this.walk(way));
    this.walks = walked.catch(() => {});
    return walked;
  }

  async walk(way) {
    const move = this.chain.history[way];
    if (!move) return null;
    const words = this.chain.moveWords(move, undefined, way);
    this.busy = true;
    this.on.changed();
    try {
      // Another tab's move since the history came may be the one walked: the
      // reply names it, and the events carry what went with it.
      const reply = await api[way](this.chain.id);
      this.chain.walked(reply.move, way);
      // The node moved shows at once.
      this.place(await api.node(reply.move.node_id), { follow: true });
      this.chain.setHistory(reply.history);
      return words;
    } finally {
      this.busy = false;
      this.on.changed();
    }
  }

  /** Delete what is in the bin for good; how many nodes went. */
  async emptyBin() {
    const { deleted, history } = await api.emptyBin(this.chain.id);
    this.chain.emptyBin();
    // The moves on what was deleted can't be undone any more.
    this.chain.setHistory(history);
    this.on.changed();
    return deleted;
  }

  /** A new title; the title kept (trimmed). */
  async rename(title) {
    const chain = await api.rename(this.chain.id, title);
    this.chain.title = chain.title;
    this.on.changed();
    return chain.title;
  }

  /** A new chain whose spine is this one up to part `id`; the new chain. */
  fork(id) {
    return api.fork(id);
  }
}
