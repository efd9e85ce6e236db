// A discard sends the take, with what grew from it, to the chain's bin at once
// (DELETE /api/nodes/{id}): nothing is deleted, so there is nothing to wait
// out. Its undo is the server's: the toast's Undo undoes the move while it is
// still the chain's latest (so Redo can do it again), and otherwise restores
// the take from the bin. Undo, Ctrl+Z and the bin panel still bring it back
// after the toast has gone, or a reload.

import { showError, toast } from "./toast.js";

export class Discards {
  // `chain`: the Chain (its history says what undo would do). `commands`: its
  // ChainCommands. `does`: undo() (undo the chain's latest move, a promise),
  // back(id) (it is back: focus it).
  constructor(chain, commands, does) {
    this.chain = chain;
    this.commands = commands;
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
      await this.commands.discard(id);
    } catch (error) {
      // 404: gone already (another tab's move, or its event came first).
      if (error.status !== 404) showError(error);
      return;
    } finally {
      this.sending.delete(id);
    }
    toast(`Discarded ${name}: it is in the bin.`, { actionLabel: "Undo", action: () => this.undo(id) });
  }

  /** Bring take `id` back from the bin. */
  async undo(id) {
    const latest = this.chain.history.undo;
    try {
      if (latest?.kind === "discard" && latest.node_id === id) await this.does.undo();
      else await this.commands.restore(id);
      this.does.back(id);
    } catch (error) {
      showError(error);
    }
  }
}
