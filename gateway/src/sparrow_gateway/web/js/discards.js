// Discards wait UNDO_S seconds for an undo before they are sent; leaving the
// page ends the chance to undo, and sends them at once.

export const UNDO_S = 6;

export class Discards {
  // send(id, keepalive): discard node `id` for good (keepalive: the page is going).
  constructor(send) {
    this.send = send;
    this.timers = new Map(); // node id -> timer, while undo is offered
  }

  /** Whether node `id` waits out its undo. */
  has(id) {
    return this.timers.has(id);
  }

  /** Discard node `id` in UNDO_S seconds, unless undone by then. */
  hold(id) {
    this.timers.set(id, setTimeout(() => this.sendNow(id), UNDO_S * 1000));
  }

  /** Keep node `id` after all. */
  undo(id) {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  /** Send every discard still waiting, now. */
  flush() {
    for (const [id, timer] of this.timers) {
      clearTimeout(timer);
      this.sendNow(id, true);
    }
  }

  sendNow(id, keepalive = false) {
    this.timers.delete(id);
    this.send(id, keepalive);
  }
}
