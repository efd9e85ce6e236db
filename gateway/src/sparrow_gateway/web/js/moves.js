// The moves the chain keeps, as the musician sees them (issue 15): undo and
// redo (which survive a reload: the server keeps them with the chain), the bin
// where discards go, uncommitting the tip, forking a new chain from a part,
// renaming the chain, and more takes like one. Each is a command
// (commands.js), which asks the API and writes what changed into the model;
// these views say how it went and show the model.

import { BinPanel } from "./bin.js";
import { HistoryButtons } from "./history.js";
import { PartMoves } from "./part_moves.js";
import { TitleEditor } from "./title.js";
import { showError, toast } from "./toast.js";

const capital = (words) => `${words[0].toUpperCase()}${words.slice(1)}`;

export class Moves {
  // `chain`: the Chain (read only). `commands`: its ChainCommands. `form`: the
  // takes form's object (how many takes it asks for).
  constructor(chain, commands, form) {
    this.chain = chain;
    this.commands = commands;
    this.form = form;
    this.history = new HistoryButtons({ undo: () => this.undo(), redo: () => this.redo() });
    this.bin = new BinPanel({
      restore: (id) => this.restore(id), empty: () => this.emptyBin(),
      opened: () => this.commands.readBin().catch(showError),
    });
    this.part = new PartMoves({ fork: (id) => this.fork(id), uncommit: (id) => this.uncommit(id) });
    this.title = new TitleEditor(chain.title, (title) => this.commands.rename(title));
  }

  /** Show the moves for `spine` (root first) with part `selected` shown. */
  render(spine, selected) {
    const words = (move, way) => this.chain.moveWords(move, spine, way);
    this.history.show(this.chain.history, words, this.commands.busy);
    const part = spine.find((n) => n.id === selected);
    this.part.render(part, spine, part ? this.chain.label(part, spine) : "");
    this.bin.show(this.chain.bin, (node) => this.chain.fullName(node, spine));
    this.title.show(this.chain.title);
  }

  // -- the moves -------------------------------------------------------------------------

  undo() {
    return this.walk(this.commands.undo(), "Undid");
  }

  redo() {
    return this.walk(this.commands.redo(), "Redid");
  }

  async walk(walked, done) {
    try {
      const words = await walked;
      if (words) toast(`${done} the ${words}.`);
    } catch (error) {
      showError(error);
    }
  }

  /** Bring node `id` back from the bin (rejects with why not). */
  restore(id) {
    return this.commands.restore(id);
  }

  async emptyBin() {
    try {
      const deleted = await this.commands.emptyBin();
      toast(`Deleted ${deleted} take${deleted === 1 ? "" : "s"} for good.`);
    } catch (error) {
      showError(error);
    }
  }

  async uncommit(id) {
    const name = this.chain.label(this.chain.get(id));
    try {
      await this.commands.uncommit(id);
      toast(`${capital(name)} is a take again; the takes beside it are back.`);
    } catch (error) {
      showError(error);
    }
  }

  // A new chain whose spine is this one up to part `id`, opened at once.
  async fork(id) {
    const name = this.chain.label(this.chain.get(id));
    try {
      const fork = await this.commands.fork(id);
      toast(`Forked from ${name}: “${fork.title}”.`);
      location.hash = `#/chain/${fork.id}`;
    } catch (error) {
      showError(error);
    }
  }

  /** More takes like take `id`: its knobs, new seeds, as many as the form asks for. */
  async moreLike(id) {
    try {
      await this.commands.moreLike(id, this.form.count());
    } catch (error) {
      showError(error);
    }
  }
}
