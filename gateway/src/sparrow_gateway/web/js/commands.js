// The command layer: everything the musician does that Sparrow must hear of
// (upload, ask for takes, commit, discard, undo, regrid, stems, export...)
// goes through here, and nothing else calls the API (api.js) or follows a
// chain's events (events.js). With those events (ChainCommands.event) it is
// the one writer of the chain's model (chain.js): views call commands and read
// the model; they never fetch, and never write the model themselves. No DOM.
//
// A move's reply says what the move changed, so nothing is read again after
// one made here: undo, redo and a regrid answer with the history; any other
// move is the chain's latest with nothing left to redo, as the store records
// every new move (the chain service's store/moves.py); the bin and the title
// follow from the reply. The chain's events carry nodes, never the history,
// so a move made elsewhere (another tab) is read once, after its burst of
// events: the history, the title and the bin. The events a move made here
// causes are told apart by the nodes they touch (see Claim).

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
/** Delete a chain with all its takes, for good. */
export const deleteChain = (id) => api.deleteChain(id);
/** Node `id`'s stem set by `model` ("": the workers' default). */
export const stemsOf = (id, model) => api.stems(id, model);
/** Ask for node `id`'s stems by `model` (paid tier). */
export const separate = (id, model) => api.separate(id, model);
/** The spine as one file: the raw response, to save. */
export const exportSpine = (chainId, body) => api.exportSpine(chainId, body);

// -- one chain ---------------------------------------------------------------------------

// A burst of events (a commit sends its siblings to the bin one event each) is read once.
const READ_AFTER_MS = 150;
// How long after its reply a move made here still claims the events it
// touches when its own event has not come yet: they were written in its
// transaction, and a chain replica's watch sees another's writes within its
// poll (CHAIN_WATCH_POLL_S, 1 s by default).
const CLAIM_FOR_MS = 2000;

// What undoes each kind of move (as the store's MoveKind.undone_by says).
const UNDONE_BY = { commit: "uncommit", uncommit: "commit", discard: "restore", restore: "discard", regrid: "regrid" };
// Each kind's own event, on the node moved.
const OWN_EVENT = {
  commit: "node.committed", uncommit: "node.uncommitted", discard: "node.discarded", restore: "node.restored",
  regrid: "node.updated", rename: "chain.renamed",
};
// Events that place a node after a move (a discard's carries no node).
const PLACING = new Set(["node.committed", "node.uncommitted", "node.restored"]);

const nowIso = () => new Date().toISOString();

/** Open chain `id`: its model, with what its bin holds. */
export async function openChain(id) {
  const [whole, bin] = await Promise.all([api.chain(id), api.bin(id)]);
  const chain = new Chain(whole);
  chain.setBin(bin.nodes);
  return chain;
}

// A move made here, claiming the events it causes: its own on the node moved,
// and those of what moved with it (a commit's siblings to the bin, an
// uncommit's back, a discarded or restored node's subtree). Open from the
// moment it is asked until a moment after its reply; another tab's move on
// the same nodes meanwhile would be taken for ours (its history then reads
// one move late, until the next read).
class Claim {
  constructor(commands, kind, nodeId) {
    const chain = commands.chain;
    const node = chain.get(nodeId) || chain.binned.get(nodeId);
    this.commands = commands;
    this.seen = false; // its own event has come
    this.answered = false;
    this.timer = null;
    // What a commit sends to the bin, known before it is asked: the events may come first.
    this.siblings = kind === "commit" && node
      ? chain.childrenOf(node.parent_id).filter((n) => n.id !== nodeId).map((n) => n.id) : [];
    const spread = { commit: ["node.discarded", node?.parent_id], uncommit: ["node.restored", node?.parent_id],
      discard: ["node.discarded", nodeId], restore: ["node.restored", nodeId] }[kind];
    this.fits = (eventKind, event) => {
      if (eventKind === OWN_EVENT[kind] && (kind === "rename" || event.node_id === nodeId)) {
        this.seen = true;
        if (this.answered) this.closeIn(READ_AFTER_MS);
        return true;
      }
      return Boolean(spread && spread[1] && eventKind === spread[0] && chain.within(event.node || event.node_id, spread[1]));
    };
    commands.claims.add(this);
  }

  /** The reply came (or the request failed: `failed`, and no event will). */
  done(failed = false) {
    this.answered = true;
    this.closeIn(failed ? 0 : this.seen ? READ_AFTER_MS : CLAIM_FOR_MS);
  }

  closeIn(ms) {
    clearTimeout(this.timer);
    // The events written with the move's own come in the same burst.
    this.timer = setTimeout(() => this.close(), ms);
  }

  close() {
    clearTimeout(this.timer);
    this.commands.claims.delete(this);
  }
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
    this.claims = new Set(); // the moves made here whose events may still come
    this.busy = false; // an undo or redo on its way
    this.walks = Promise.resolve(); // the undos and redos asked, one after another
    this.timer = null;
    this.reads = 0; // a read of the history, title and bin, numbered: the latest tells
    this.made = 0; // the moves made here: one since a read started makes it stale
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const claim of this.claims) claim.close();
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
      this.on.changed();
      return;
    }
    // Asked before the model takes the event in: a claim looks at where the node was.
    // Every claim hears it: each notes its own event.
    const ours = [...this.claims].map((claim) => claim.fits(kind, event)).some(Boolean);
    let move = kind === "node.discarded" || kind === "chain.renamed";
    if (kind === "node.discarded") {
      this.drop(event.node_id);
    } else if (event.node && PLACING.has(kind)) {
      this.place(event.node, { follow: kind !== "node.restored" });
      move = true;
    } else if (event.node) {
      const gridOf = () => JSON.stringify(this.chain.get(event.node.id)?.grid_correction ?? null);
      const was = gridOf();
      if (this.chain.upsert(event.node)) this.on.changed();
      // A grid changed is a move (a regrid, or its undo).
      move = was !== gridOf();
    }
    if (move && !ours) this.readSoon();
  }

  // A node left the chain (to the bin, or deleted); the views hear of it once.
  drop(id) {
    const held = this.chain.has(id);
    this.chain.remove(id);
    if (held) this.on.removed(id);
  }

  // A node after a move: in the chain again (or still), or in the bin.
  place(node, { follow = false } = {}) {
    if (node.binned_at) {
      for (const id of this.chain.toBin(node.id, node.binned_at)) this.on.removed(id);
      return;
    }
    this.chain.restore(node);
    this.on.placed(node, follow);
  }

  // Node `id` and what grew from it went to the bin, listed on top.
  bin(id) {
    const moved = this.chain.toBin(id, nowIso());
    for (const gone of moved) this.on.removed(gone);
  }

  // A new move made here: the chain's latest, with nothing left to redo.
  latest(kind, nodeId) {
    this.made++;
    this.chain.setHistory({ undo: { kind, node_id: nodeId }, redo: null });
  }

  // Run `ask` (the request) as a move of `kind` on node `nodeId`, claiming its events.
  async move(kind, nodeId, ask) {
    const claim = new Claim(this, kind, nodeId);
    try {
      const reply = await ask();
      claim.done();
      return { reply, claim };
    } catch (error) {
      claim.done(true);
      throw error;
    }
  }

  readSoon() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.read().catch((error) => this.on.failed(error)), READ_AFTER_MS);
  }

  /** Read the history, the title and the bin again (a move made elsewhere, or the bin opened). */
  async read() {
    const asked = ++this.reads;
    const made = this.made;
    try {
      const [chain, bin] = await Promise.all([api.chain(this.chain.id), api.bin(this.chain.id)]);
      if (asked !== this.reads || this.stopped) return; // a later read tells
      if (made !== this.made) {
        this.readSoon(); // a move made here since: this may be from before it
        return;
      }
      this.chain.setHistory(chain.history);
      this.chain.title = chain.title;
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
    return this.ask(node.parent_id, {
      ...node.params, count: 1, melody: node.melody || undefined, from_s: node.from_s ?? undefined,
    });
  }

  /** `count` more takes like take `id`: its knobs, new seeds. */
  moreLike(id, count) {
    const node = this.chain.get(id);
    return node ? this.ask(node.parent_id, { like: id, count }) : Promise.resolve([]);
  }

  // -- the moves ----------------------------------------------------------------------------

  /** Put take `id` on the spine; its siblings go to the bin. The node committed. */
  async commit(id) {
    const { reply: node, claim } = await this.move("commit", id, () => api.commit(id));
    this.chain.upsert(node);
    for (const sibling of claim.siblings) this.bin(sibling);
    this.latest("commit", id);
    this.on.changed();
    return node;
  }

  /** Send take `id`, with what grew from it, to the bin. */
  async discard(id) {
    await this.move("discard", id, () => api.discard(id));
    this.bin(id);
    this.latest("discard", id);
    this.on.changed();
  }

  /** Bring node `id` back from the bin (rejects with why not). */
  async restore(id) {
    const { reply: node } = await this.move("restore", id, () => api.restore(id));
    this.place(node);
    this.latest("restore", id);
    this.on.changed();
    return node;
  }

  /** Take the spine's tip `id` off it: a take again, its siblings back from the bin (on the events). */
  async uncommit(id) {
    const { reply: node } = await this.move("uncommit", id, () => api.uncommit(id));
    this.place(node, { follow: true });
    this.latest("uncommit", id);
    this.on.changed();
    return node;
  }

  /** Node `id`'s whole grid `correction`; its words ("tempo change") and the node. */
  async regrid(id, correction) {
    const words = changeWords(correctionOf(this.chain.get(id)), correction);
    const { reply } = await this.move("regrid", id, () => api.setGrid(id, correction));
    this.made++;
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
      const kind = way === "undo" ? UNDONE_BY[move.kind] : move.kind;
      const { reply, claim } = await this.move(kind, move.node_id, () => api[way](this.chain.id));
      this.made++;
      // Another tab's move since the history was read: the one walked is not
      // the one claimed, and what went with it is for a read to say.
      const expected = reply.move.kind === move.kind && reply.move.node_id === move.node_id;
      if (!expected) {
        claim.close();
        this.readSoon();
      }
      this.chain.walked(reply.move, way);
      // The node moved shows at once; what moved with it follows on the events.
      this.place(await api.node(reply.move.node_id), { follow: true });
      if (expected) for (const sibling of claim.siblings) this.bin(sibling);
      this.chain.setHistory(reply.history);
      return words;
    } catch (error) {
      this.readSoon(); // the history may not be what we thought
      throw error;
    } finally {
      this.busy = false;
      this.on.changed();
    }
  }

  /** Delete what is in the bin for good; how many nodes went. */
  async emptyBin() {
    const { deleted } = await api.emptyBin(this.chain.id);
    this.made++;
    this.chain.emptyBin();
    // The moves on what was deleted can't be undone any more: when the history
    // names one, what undo and redo do now is the server's to say.
    const { undo, redo } = this.chain.history;
    if ([undo, redo].some((m) => m && !this.chain.has(m.node_id))) this.readSoon();
    this.on.changed();
    return deleted;
  }

  /** A new title; the title kept (trimmed). */
  async rename(title) {
    const { reply: chain } = await this.move("rename", null, () => api.rename(this.chain.id, title));
    this.chain.title = chain.title;
    this.on.changed();
    return chain.title;
  }

  /** A new chain whose spine is this one up to part `id`; the new chain. */
  fork(id) {
    return api.fork(id);
  }
}
