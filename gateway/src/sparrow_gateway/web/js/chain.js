// One chain as data: its nodes by id, the tree they make, the spine (the
// committed path, root first), the takes after a node, each node's stem set,
// and the names a musician reads ("your clip", "part 2", "take 1"). Kept
// current from the API's replies and the chain's events. No DOM, no fetch.

const oldestFirst = (a, b) => a.created_at.localeCompare(b.created_at);

export class Chain {
  // `chain`: the API's reply for GET /api/chains/{id}.
  constructor(chain) {
    this.id = chain.id;
    this.title = chain.title;
    this.nodes = new Map(); // id -> node
    this.children = new Map(); // parent id (null above the root) -> ids, first seen first
    this.gone = new Set(); // discarded: a late event must not bring one back
    this.stemSets = new Map(); // node id -> its stem set, from the event stream
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
    this.nodes.set(node.id, node);
    if (!this.children.has(node.parent_id)) this.children.set(node.parent_id, new Set());
    this.children.get(node.parent_id).add(node.id);
    return true;
  }

  /** Forget a discarded node, for good. */
  remove(id) {
    this.gone.add(id);
    const node = this.nodes.get(id);
    if (node) this.children.get(node.parent_id)?.delete(id);
    this.nodes.delete(id);
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
      node = this.childrenOf(node.id).find((n) => n.committed);
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

  /** "your clip", "part 2" on the spine, "take 1" after its parent; `spine` when the caller has it. */
  label(node, spine = this.spine()) {
    if (!node) return "";
    if (node.parent_id === null) return "your clip";
    const at = spine.findIndex((n) => n.id === node.id);
    if (at >= 0) return `part ${at + 1}`;
    return `take ${this.takesOf(node.parent_id).findIndex((n) => n.id === node.id) + 1}`;
  }

  /** The label, and for a take off the spine what it follows: "take 2 after part 3". */
  fullName(node, spine = this.spine()) {
    const name = this.label(node, spine);
    if (node.parent_id === null || spine.some((n) => n.id === node.id)) return name;
    return `${name} after ${this.label(this.nodes.get(node.parent_id), spine)}`;
  }

  /** A stems.updated event's set. */
  setStems(set) {
    this.stemSets.set(set.node_id, set);
  }

  /** What a take may follow the melody of: every ready node, oldest first, and
   *  each one's ready stems; none of those in `hidden` (anything with has(id)).
   *  [{ value: "nodeId" or "nodeId:stem", label }], as takes_form.js reads them. */
  melodyChoices(spine, hidden) {
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
