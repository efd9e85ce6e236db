// One chain as data: its nodes by id, the tree they make, the spine (the
// committed path, root first), the takes after a node, each node's stem set,
// what is in its bin, what undo and redo would do, and the names a musician
// reads ("your clip", "part 2", "take 1"). Written only by the command layer
// (commands.js), from the API's replies and the chain's events. No DOM, no fetch.

import { heardSpine } from "./timeline.js";

// As the API lists them: a batch's takes keep the order they were asked in.
const oldestFirst = (a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id);

export class Chain {
  // `chain`: the API's reply for GET /api/chains/{id}.
  constructor(chain) {
    this.id = chain.id;
    this.title = chain.title;
    this.nodes = new Map(); // id -> node
    this.children = new Map(); // parent id (null above the root) -> ids, first seen first
    this.gone = new Set(); // discarded: a late event must not bring one back, a restore does
    this.binned = new Map(); // id -> a node known to be in the bin (named as it would be back)
    // What the bin lists: the top of each discard (what went with it is under
    // it), newest first, as GET /api/chains/{id}/bin answers.
    this.bin = [];
    this.stemSets = new Map(); // node id -> its stem set, from the event stream
    this.history = chain.history || { undo: null, redo: null };
    // The grid changes made here, in words ("tempo change"), as undo and redo
    // would take them: [{node_id, words}], latest last. The API's moves say
    // only "regrid"; one made elsewhere (or before a reload) is a "grid change".
    this.regrids = { undo: [], redo: [] };
    for (const node of chain.nodes) this.upsert(node);
  }

  /** The node `id`, or undefined. */
  get(id) {
    return this.nodes.get(id);
  }

  /** Whether the chain still holds node `id`. */
  has(id) {
    return this.nodes.has(id);
  }

  /** Take in a node's state from a reply or an event; false when it changed
   *  nothing (an older state replayed, or a node discarded since). */
  upsert(node) {
    const known = this.nodes.get(node.id);
    if (known && known.updated_at > node.updated_at) return false; // an older state, replayed
    if (this.gone.has(node.id)) return false;
    if (node.binned_at) {
      this.remove(node.id, node);
      return true;
    }
    // Moved under another node (after a replaced stretch, the part that
    // followed goes under the rest of the part, and back on an undo).
    if (known && known.parent_id !== node.parent_id) this.children.get(known.parent_id)?.delete(node.id);
    this.nodes.set(node.id, node);
    if (!this.children.has(node.parent_id)) this.children.set(node.parent_id, new Set());
    this.children.get(node.parent_id).add(node.id);
    return true;
  }

  /** Take a discarded node out of the chain (to the bin, or deleted):
   *  only restore() brings it back. `binned`: its state in the bin, if known. */
  remove(id, binned = undefined) {
    this.gone.add(id);
    const node = this.nodes.get(id);
    if (node) this.children.get(node.parent_id)?.delete(id);
    this.nodes.delete(id);
    if (binned || node) this.binned.set(id, binned || node);
    // Listed on top of the bin already (by a reply): as the server has it.
    if (binned) this.bin = this.bin.map((n) => (n.id === id ? binned : n));
  }

  /** Take in a node back from the bin (a restore, an uncommit, an undo). */
  restore(node) {
    this.gone.delete(node.id);
    this.binned.delete(node.id);
    this.bin = this.bin.filter((n) => n.id !== node.id);
    return this.upsert({ ...node, binned_at: null });
  }

  /** What GET /api/chains/{id}/bin lists: the nodes discarded, each with what went under it. */
  setBin(nodes) {
    this.bin = nodes;
    for (const node of nodes) {
      if (!this.nodes.has(node.id)) this.binned.set(node.id, node);
    }
  }

  /** Send node `id` and what grew from it to the bin, `id` listed on top (a
   *  discard made here, or a commit's sibling): `at`, when (ISO). The ids moved. */
  toBin(id, at) {
    const ids = this.subtree(id);
    const top = this.nodes.get(id) || this.binned.get(id);
    for (const each of ids) this.remove(each);
    if (top) this.bin = [{ ...top, binned_at: at }, ...this.bin.filter((n) => n.id !== id)];
    return ids;
  }

  /** The bin was emptied: what was in it is gone for good. */
  emptyBin() {
    this.bin = [];
    this.binned.clear();
  }

  /** Node `id` and the nodes under it that are in the chain, `id` first. */
  subtree(id) {
    const ids = this.nodes.has(id) ? [id] : [];
    for (let at = 0; at < ids.length; at++) ids.push(...(this.children.get(ids[at]) || []));
    return ids;
  }

  /** Whether a node (its id, known here, or the node itself, as an event
   *  brings it) is node `above` or under it, in the chain or the bin. */
  within(nodeOrId, above) {
    const find = (id) => this.nodes.get(id) || this.binned.get(id);
    for (let node = typeof nodeOrId === "string" ? find(nodeOrId) : nodeOrId; node; ) {
      if (node.id === above) return true;
      node = find(node.parent_id);
    }
    return false;
  }

  /** What undo and redo would do: {undo: {kind, node_id} | null, redo: ..., seq}.
   *  A reply and the event of one move say the same, in either order, and
   *  another tab's move may come between: the one with the larger seq (the
   *  chain's event it was written with) tells, an earlier one is let go. */
  setHistory(history) {
    if (!history || (history.seq ?? 0) < (this.history.seq ?? 0)) return;
    this.history = history;
    if (!this.history.redo) this.regrids.redo = [];
  }

  /** A move in words: "commit of part 2", "discard of take 1", "tempo change
   *  on part 2"; `way`: "undo" or "redo", the one that would take it. */
  moveWords(move, spine = this.spine(), way = "undo") {
    const node = this.nodes.get(move.node_id) || this.binned.get(move.node_id);
    const name = node ? this.fullName(node, spine) : "a take emptied from the bin";
    if (move.kind !== "regrid") return `${move.kind} of ${name}`;
    const known = this.regrids[way].at(-1);
    return `${known?.node_id === move.node_id ? known.words : "grid change"} on ${name}`;
  }

  /** A grid change was made here on node `nodeId`, `words` ("tempo change"):
   *  the latest move, and nothing is left to redo. */
  regridded(nodeId, words) {
    this.regrids.undo.push({ node_id: nodeId, words });
    this.regrids.redo = [];
  }

  /** Move `move` was undone (`way` "undo") or redone ("redo"): its words go to the other side. */
  walked(move, way) {
    if (move.kind !== "regrid") return;
    const from = this.regrids[way];
    const to = this.regrids[way === "undo" ? "redo" : "undo"];
    if (from.at(-1)?.node_id === move.node_id) to.push(from.pop());
  }

  /** The nodes made from `id` (null: the root), committed or not. */
  childrenOf(id) {
    return [...(this.children.get(id) || [])].map((child) => this.nodes.get(child));
  }

  /** The committed path, root first. */
  spine() {
    const path = [];
    let node = this.childrenOf(null)[0];
    while (node) {
      path.push(node);
      // While a replacement's commit is on its way (its events one by one),
      // the part may hold the take and the part that followed it both committed: the take goes on.
      const next = this.childrenOf(node.id).filter((n) => n.committed);
      node = next.find((n) => n.until_s != null) || next[0];
    }
    return path;
  }

  /** The spine's last part: where the song ends so far. */
  tip() {
    return this.spine().at(-1);
  }

  /** The takes after node `id`: its uncommitted children, oldest first,
   *  those waiting out their undo too (so the others keep their numbers). */
  takesOf(id) {
    return this.childrenOf(id).filter((n) => !n.committed).sort(oldestFirst);
  }

  /** "your clip", "part 2" on the spine, "take 1" after its parent; `spine` when the caller has it.
   *  A take in the bin is named as it would be back: "take 2" among its parent's
   *  takes, those in the bin with it counted too (two binned takes were both "take 1"). */
  label(node, spine = this.spine()) {
    if (!node) return "";
    // A chain started from words begins with a part that has no audio.
    if (node.parent_id === null) return node.duration_s === 0 ? "the beginning" : "your clip";
    const at = spine.findIndex((n) => n.id === node.id);
    if (at >= 0) {
      // After an intro the root plays nothing and is not drawn: the intro, then
      // your clip (from its first downbeat), then the parts counted as they are seen.
      const unseen = spine.length - heardSpine(spine).length;
      if (node.intro) return "the intro";
      if (unseen && at === 2 && node.in_s != null) return "your clip";
      return `part ${at + 1 - unseen}`;
    }
    const takes = this.takesOf(node.parent_id);
    if (!this.nodes.has(node.id)) {
      const siblings = [...this.binned.values(), node].filter((n) => n.parent_id === node.parent_id && !n.committed);
      for (const sibling of siblings) if (!takes.some((n) => n.id === sibling.id)) takes.push(sibling);
    }
    return `take ${takes.sort(oldestFirst).findIndex((n) => n.id === node.id) + 1}`;
  }

  /** The label, and for a take off the spine what it follows: "take 2 after part 3"
   *  ("after a take in the bin" when its parent went there too). */
  fullName(node, spine = this.spine()) {
    const name = this.label(node, spine);
    if (node.parent_id === null || spine.some((n) => n.id === node.id)) return name;
    const parent = this.nodes.get(node.parent_id);
    return `${name} after ${parent ? this.label(parent, spine) : "a take in the bin"}`;
  }

  /** A stems.updated event's set. */
  setStems(set) {
    this.stemSets.set(set.node_id, set);
  }

  /** What a take may follow the melody of: every ready node, oldest first, and
   *  each one's ready stems; none of those in `hidden` (anything with has(id)).
   *  [{ value: "nodeId" or "nodeId:stem", label }], as takes_form.js reads them. */
  melodyChoices(spine, hidden = new Set()) {
    const choices = [];
    const ready = [...this.nodes.values()].filter((n) => n.status === "ready" && !hidden.has(n.id));
    for (const node of ready.sort(oldestFirst)) {
      const name = this.fullName(node, spine);
      choices.push({ value: node.id, label: name });
      const set = this.stemSets.get(node.id);
      if (set?.status !== "ready") continue;
      for (const stem of set.stems) choices.push({ value: `${node.id}:${stem.name}`, label: `${name} · ${stem.name}` });
    }
    return choices;
  }
}
