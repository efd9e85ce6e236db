// The moves the chain keeps for the musician (issue 15): undo and redo (which
// survive a reload: the server keeps them with the chain), the bin where
// discards go, uncommitting the tip, forking a new chain from a part, renaming
// the chain, and more takes like one. Each move asks the API; what it changed
// reaches the model (chain.js) from the reply and the chain's events. After
// every move, ours or another tab's, the history, the bin and the title are
// read again (once for a burst of events).

import { api } from "./api.js";
import { BinPanel } from "./bin.js";
import { HistoryButtons } from "./history.js";
import { PartMoves } from "./part_moves.js";
import { TitleEditor } from "./title.js";
import { showError, toast } from "./toast.js";

// A burst of events (a commit sends its siblings to the bin one event each) is read once.
const READ_AFTER_MS = 150;

const capital = (words) => `${words[0].toUpperCase()}${words.slice(1)}`;

export class Moves {
  // `chain`: the Chain. `does`: remove(id) (a node left the chain: drop it from
  // the views), select(id) (show part id's takes), selected() (the part shown),
  // changed() (the model changed: render), count() (how many takes the form asks for).
  constructor(chain, does) {
    this.chain = chain;
    this.does = does;
    this.busy = false; // an undo or redo on its way
    this.walks = Promise.resolve(); // the undos and redos asked, one after another
    this.binNodes = [];
    this.timer = null;
    this.reads = 0; // a read of the history started before a later move is stale
    this.history = new HistoryButtons({ undo: () => this.undo(), redo: () => this.redo() });
    this.bin = new BinPanel({ restore: (id) => this.restore(id), empty: () => this.emptyBin(), opened: () => this.read() });
    this.part = new PartMoves({ fork: (id) => this.fork(id), uncommit: (id) => this.uncommit(id) });
    this.title = new TitleEditor(chain.title, (title) => this.rename(title));
  }

  /** Show the moves for `spine` (root first) with part `selected` shown. */
  render(spine, selected) {
    const words = (move, way) => this.chain.moveWords(move, spine, way);
    this.history.show(this.chain.history, words, this.busy);
    const part = spine.find((n) => n.id === selected);
    this.part.render(part, spine, part ? this.chain.label(part, spine) : "");
    this.bin.show(this.binNodes, (node) => this.chain.fullName(node, spine));
    this.title.show(this.chain.title);
  }

  stop() {
    clearTimeout(this.timer);
    this.reads++;
  }

  // -- keeping up ----------------------------------------------------------------------

  /** Take in an event of the chain's; true when it was one of the moves' (handled here). */
  event(kind, event) {
    if (kind === "node.discarded" || kind === "chain.renamed") {
      this.readSoon();
      return kind === "chain.renamed";
    }
    if (!event.node || !["node.committed", "node.uncommitted", "node.restored"].includes(kind)) return false;
    this.apply(event.node, { follow: kind !== "node.restored" });
    this.readSoon();
    return true;
  }

  // A node after a move: in the chain again (or still), or in the bin. With
  // `follow`, the takes shown follow the spine's tip as it moves: a part
  // uncommitted shows its parent's takes, a part committed its own.
  apply(node, { follow = false } = {}) {
    if (node.binned_at) {
      this.does.remove(node.id);
      return;
    }
    this.chain.restore(node);
    const shown = this.does.selected();
    if (follow && !node.committed && shown === node.id) this.does.select(node.parent_id);
    else if (follow && node.committed && shown === node.parent_id) this.does.select(node.id);
    else this.does.changed();
  }

  /** A move was made here: `move` ({kind, node_id}) when a new one (it is
   *  then the latest, and nothing is left to redo). Reads the rest soon. */
  moved(move = null) {
    if (move) this.chain.setHistory({ undo: move, redo: null });
    this.reads++;
    this.does.changed();
    this.readSoon();
  }

  /** A POST /undo's (or /redo's) reply: {move, history}. */
  undone(reply) {
    this.chain.setHistory(reply.history);
    this.reads++;
    this.does.changed();
    this.readSoon();
  }

  readSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.read(), READ_AFTER_MS);
  }

  /** Read the history, the title and the bin again. */
  async read() {
    const asked = ++this.reads;
    try {
      const [chain, bin] = await Promise.all([api.chain(this.chain.id), api.bin(this.chain.id)]);
      if (asked !== this.reads) return; // a move since: a later read tells
      this.chain.setHistory(chain.history);
      this.chain.title = chain.title;
      this.chain.setBin(bin.nodes);
      this.binNodes = bin.nodes;
      this.does.changed();
    } catch (error) {
      if (error.status !== 404) showError(error); // 404: the chain was deleted, and its event says so
    }
  }

  // -- the moves -------------------------------------------------------------------------

  undo() {
    return this.queue("undo", "Undid");
  }

  redo() {
    return this.queue("redo", "Redid");
  }

  // Keys pressed in a row are each taken, in turn: an undo's events can show
  // before its reply has come, and a redo pressed then would be lost.
  queue(way, done) {
    this.walks = this.walks.then(() => this.walk(way, done));
    return this.walks;
  }

  // Undo or redo the chain's latest move (whoever made it), as the history says.
  async walk(way, done) {
    const move = this.chain.history[way];
    if (!move) return;
    const words = this.chain.moveWords(move, undefined, way);
    this.busy = true;
    this.does.changed();
    try {
      const reply = await api[way](this.chain.id);
      this.chain.walked(reply.move, way);
      // The node moved shows at once; what moved with it follows on the events.
      this.apply(await api.node(reply.move.node_id), { follow: true });
      this.undone(reply);
      toast(`${done} the ${words}.`);
    } catch (error) {
      showError(error);
      this.readSoon();
    } finally {
      this.busy = false;
      this.does.changed();
    }
  }

  /** Bring node `id` back from the bin (rejects with why not). */
  async restore(id) {
    const node = await api.restore(id);
    this.binNodes = this.binNodes.filter((n) => n.id !== id);
    this.apply(node);
    this.moved({ kind: "restore", node_id: id });
    return node;
  }

  async emptyBin() {
    try {
      const { deleted } = await api.emptyBin(this.chain.id);
      toast(`Deleted ${deleted} take${deleted === 1 ? "" : "s"} for good.`);
    } catch (error) {
      showError(error);
    }
    this.moved();
  }

  async uncommit(id) {
    const name = this.chain.label(this.chain.get(id));
    try {
      const node = await api.uncommit(id);
      this.apply(node, { follow: true });
      this.moved({ kind: "uncommit", node_id: id });
      toast(`${capital(name)} is a take again; the takes beside it are back.`);
    } catch (error) {
      showError(error);
    }
  }

  // A new chain whose spine is this one up to part `id`, opened at once.
  async fork(id) {
    const name = this.chain.label(this.chain.get(id));
    try {
      const fork = await api.fork(id);
      toast(`Forked from ${name}: “${fork.title}”.`);
      location.hash = `#/chain/${fork.id}`;
    } catch (error) {
      showError(error);
    }
  }

  async rename(title) {
    const chain = await api.rename(this.chain.id, title);
    this.chain.title = chain.title;
    return chain.title;
  }

  /** More takes like take `id`: its knobs, new seeds, as many as the form asks for. */
  async moreLike(id) {
    const node = this.chain.get(id);
    if (!node) return;
    try {
      const reply = await api.takes(node.parent_id, { like: id, count: this.does.count() });
      for (const made of reply.nodes) this.chain.upsert(made);
      this.does.changed();
    } catch (error) {
      showError(error);
    }
  }
}
