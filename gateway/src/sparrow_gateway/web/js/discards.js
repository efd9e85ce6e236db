// A discard sends the take, with what grew from it, to the chain's bin at once
// (DELETE /api/nodes/{id}): nothing is deleted, so there is nothing to wait
// out. Its undo is the server's: the toast's Undo undoes the move while it is
// still the chain's latest (so Redo can do it again), and otherwise restores
// the take from the bin. Undo, Ctrl+Z and the bin panel still bring it back
// after the toast has gone, or a reload.

import { api } from "./api.js";
import { showError, toast } from "./toast.js";

export class Discards {
  // `chain`: the Chain (its history says what undo would do). `does`:
  // removed(id) (gone from the chain: drop it from the views), moved(move) (a
  // new move was made), undo() (undo the chain's latest move), restore(id)
  // (bring it back from the bin), back(id) (it is back: focus it); undo and
  // restore answer promises.
  constructor(chain, does) {
    this.chain = chain;
    this.does = does;
    this.sending = new Set(); // ids whose DELETE is on its way
  }

  /** Whether take `id` is on its way to the bin. */
  has(id) {
    return this.sending.has(id);
  }

  /** Send take `id` (named `name`) to the bin now, and offer its undo. */
  async discard(id, name) {
    if (this.sending.has(id)) return;
    this.sending.add(id);
    try {
      await api.discard(id);
    } catch (error) {
      // 404: gone already (another tab's move, or its event came first).
      if (error.status !== 404) showError(error);
      return;
    } finally {
      this.sending.delete(id);
    }
    this.does.removed(id);
    this.does.moved({ kind: "discard", node_id: id });
    toast(`Discarded ${name}: it is in the bin.`, { actionLabel: "Undo", action: () => this.undo(id) });
  }

  /** Bring take `id` back from the bin. */
  async undo(id) {
    const latest = this.chain.history.undo;
    try {
      if (latest?.kind === "discard" && latest.node_id === id) await this.does.undo();
      else await this.does.restore(id);
      this.does.back(id);
    } catch (error) {
      showError(error);
    }
  }
}
