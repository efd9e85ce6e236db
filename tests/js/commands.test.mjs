// The editor's command layer (web/js/commands.js) under Node's test runner,
// with the API answered here (fetch) and the clock in the test's hands: what a
// move writes into the model from its reply and from the chain's events, in
// either order, and that nothing reads the chain or its bin again.
// Run by tests/test_editor_commands.py (node --test).

import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

globalThis.localStorage = { getItem: () => "a key", setItem() {}, removeItem() {} };

let asked = []; // "METHOD path", as fetched
let answers = new Map(); // "METHOD path" -> the body answered (null: 204), or a promise of it
globalThis.fetch = async (path, init) => {
  const call = `${init.method} ${path}`;
  asked.push(call);
  if (!answers.has(call)) return new Response(JSON.stringify({ detail: `not here: ${call}` }), { status: 404 });
  const body = await answers.get(call);
  return body === null ? new Response(null, { status: 204 }) : Response.json(body);
};

const { ChainCommands, openChain } = await import("../../gateway/src/sparrow_gateway/web/js/commands.js");

const CHAIN = "c0000000-0000-0000-0000-000000000000";
let clock = 0;
function node(id, parent, extra = {}) {
  clock += 1;
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, clock)).toISOString();
  return {
    id, chain_id: CHAIN, parent_id: parent, status: "ready", committed: parent === null, params: parent && { seed: 1 },
    created_at: at, updated_at: at, binned_at: null, ...extra,
  };
}
const NOTHING = { undo: null, redo: null, seq: 1 };
// A history as of the chain's event `seq`.
const history = (seq, undo = null, redo = null) => ({ undo, redo, seq });
const move = (kind, id) => ({ kind, node_id: id });
// A node as the bin holds it, and its event.
const binned = (n, at = "2026-03-01T00:00:00Z") => ({ ...n, binned_at: at, updated_at: at });
const discardedEvent = (n, at, extra = {}) => ({ node_id: n.id, node: { ...binned(n, at), ...extra }, status: n.status });

// A later answer: resolve(body) gives it.
function later() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

// Every promise waiting on what has happened runs.
const settle = () => new Promise((r) => setImmediate(r));

let heard; // what the views were told
async function open(t, nodes, { history: said = NOTHING, bin = [] } = {}) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  answers.set(`GET /api/chains/${CHAIN}`, { id: CHAIN, title: "song", nodes, history: said });
  answers.set(`GET /api/chains/${CHAIN}/bin`, { nodes: bin });
  const chain = await openChain(CHAIN);
  asked = [];
  heard = { removed: [], placed: [], failed: [] };
  const commands = new ChainCommands(chain, {
    changed() {}, deleted() {}, stems() {},
    removed: (id) => heard.removed.push(id),
    placed: (n, follow) => heard.placed.push([n.id, follow]),
    failed: (error) => heard.failed.push(error),
  });
  return { chain, commands };
}

// What was read again of the whole chain or its bin.
const reads = () => asked.filter((call) => /^GET \/api\/chains\/[^/]+(\/bin)?$/.test(call));

beforeEach(() => {
  asked = [];
  answers = new Map();
});

test("a commit whose events come before its reply reads nothing again", async (t) => {
  const root = node("root", null);
  const [a, b] = [node("a", "root"), node("b", "root")];
  const child = node("b1", "b");
  const { chain, commands } = await open(t, [root, a, b, child]);
  const reply = later();
  answers.set("POST /api/nodes/a/commit", reply.promise);
  const committed = { ...a, committed: true, updated_at: "2026-02-01T00:00:00Z" };

  const asked = commands.commit("a");
  // The store writes the siblings' discards (parents first), the commit, then the history; the stream may beat the reply.
  commands.event("node.discarded", discardedEvent(b, "2026-02-01T00:00:00Z"));
  commands.event("node.discarded", discardedEvent(child, "2026-02-01T00:00:00Z"));
  commands.event("node.committed", { node_id: "a", node: committed });
  commands.event("history.changed", { node_id: null, history: history(9, move("commit", "a")) });
  reply.resolve({ ...committed, history: history(9, move("commit", "a")) });
  assert.equal((await asked).history, undefined); // the node, without the history
  t.mock.timers.tick(5000);
  await settle();

  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.history, history(9, move("commit", "a")));
  assert.deepEqual(chain.spine().map((n) => n.id), ["root", "a"]);
  assert.deepEqual(chain.bin.map((n) => [n.id, n.binned_at]), [["b", "2026-02-01T00:00:00Z"]]);
  assert.equal(chain.has("b1"), false);
});

test("a commit whose reply comes first bins the siblings from it, and its events change nothing more", async (t) => {
  const root = node("root", null);
  const [a, b] = [node("a", "root"), node("b", "root")];
  const { chain, commands } = await open(t, [root, a, b]);
  answers.set("POST /api/nodes/a/commit", { ...a, committed: true, history: history(4, move("commit", "a")) });

  await commands.commit("a");
  assert.deepEqual(chain.bin.map((n) => n.id), ["b"]);
  commands.event("node.discarded", discardedEvent(b, "2026-02-01T00:00:00Z"));
  commands.event("node.committed", { node_id: "a", node: { ...a, committed: true } });
  commands.event("history.changed", { node_id: null, history: history(4, move("commit", "a")) });

  assert.deepEqual(reads(), []);
  // The bin lists b once, as the server has it.
  assert.deepEqual(chain.bin.map((n) => [n.id, n.binned_at]), [["b", "2026-02-01T00:00:00Z"]]);
  assert.deepEqual(heard.removed, ["b"]);
  assert.deepEqual(chain.history, history(4, move("commit", "a")));
});

test("a discard made here lists the take on top of the bin, with what grew from it gone too", async (t) => {
  const [root, a] = [node("root", null), node("a", "root")];
  const a1 = node("a1", "a");
  const { chain, commands } = await open(t, [root, a, a1], { bin: [node("old", "root", { binned_at: "2026-01-01T00:00:00Z" })] });
  answers.set("DELETE /api/nodes/a", { history: history(5, move("discard", "a")) });

  await commands.discard("a");
  commands.event("node.discarded", discardedEvent(a));
  commands.event("node.discarded", discardedEvent(a1));
  commands.event("history.changed", { node_id: null, history: history(5, move("discard", "a")) });
  t.mock.timers.tick(5000);
  await settle();

  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.bin.map((n) => n.id), ["a", "old"]);
  assert.deepEqual(heard.removed.sort(), ["a", "a1"]);
  assert.deepEqual(chain.history, history(5, move("discard", "a")));
});

test("the undo of a commit takes the siblings back from the events, and reads nothing", async (t) => {
  const root = node("root", null);
  const a = node("a", "root", { committed: true });
  const b = node("b", "root", { binned_at: "2026-01-01T00:00:00Z" });
  const { chain, commands } = await open(t, [root, a], { history: history(3, move("commit", "a")), bin: [b] });
  answers.set(`POST /api/chains/${CHAIN}/undo`, { move: move("commit", "a"), history: history(6, null, move("commit", "a")) });
  answers.set("GET /api/nodes/a", { ...a, committed: false, updated_at: "2026-02-01T00:00:00Z" });

  const words = await commands.undo();
  commands.event("node.uncommitted", { node_id: "a", node: { ...a, committed: false, updated_at: "2026-02-01T00:00:00Z" } });
  commands.event("node.restored", { node_id: "b", node: { ...b, binned_at: null, updated_at: "2026-02-01T00:00:01Z" } });
  commands.event("history.changed", { node_id: null, history: history(6, null, move("commit", "a")) });
  t.mock.timers.tick(5000);
  await settle();

  assert.equal(words, "commit of part 2");
  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.takesOf("root").map((n) => n.id), ["a", "b"]);
  assert.deepEqual(chain.bin, []);
  assert.deepEqual(chain.history, history(6, null, move("commit", "a")));
});

test("a move made elsewhere is followed from its events alone: the nodes, the bin, the title and the history", async (t) => {
  const root = node("root", null);
  const a = node("a", "root");
  const { chain, commands } = await open(t, [root, a, node("a1", "a"), node("b", "root")]);

  // a was still being made: it goes to the bin cancelled.
  commands.event("node.discarded", discardedEvent(a, "2026-02-01T00:00:00Z", { status: "cancelled" }));
  commands.event("node.discarded", discardedEvent(node("a1", "a"), "2026-02-01T00:00:00Z"));
  commands.event("history.changed", { node_id: null, history: history(8, move("discard", "a")) });
  commands.event("chain.renamed", { node_id: null, title: "renamed too" });
  t.mock.timers.tick(5000);
  await settle();

  assert.deepEqual(asked, []);
  assert.deepEqual(chain.history, history(8, move("discard", "a")));
  assert.equal(chain.title, "renamed too");
  assert.deepEqual(chain.bin.map((n) => [n.id, n.binned_at, n.status]), [["a", "2026-02-01T00:00:00Z", "cancelled"]]);
  assert.deepEqual(chain.takesOf("root").map((n) => n.id), ["b"]);
  assert.deepEqual(heard.removed.sort(), ["a", "a1"]);
  // Its restore, made elsewhere too: back from the bin.
  commands.event("node.restored", { node_id: "a", node: { ...a, updated_at: "2026-02-02T00:00:00Z" } });
  commands.event("history.changed", { node_id: null, history: history(10, move("restore", "a")) });
  assert.deepEqual(chain.bin, []);
  assert.deepEqual(chain.takesOf("root").map((n) => n.id), ["a", "b"]);
  assert.deepEqual(chain.history, history(10, move("restore", "a")));
  assert.deepEqual(asked, []);
});

test("another tab's move between a move's events and its reply: the later history tells", async (t) => {
  const root = node("root", null);
  const [a, b] = [node("a", "root"), node("b", "root")];
  const { chain, commands } = await open(t, [root, a, b]);
  const reply = later();
  answers.set("DELETE /api/nodes/a", reply.promise);

  const discarded = commands.discard("a");
  commands.event("node.discarded", discardedEvent(a));
  commands.event("history.changed", { node_id: null, history: history(5, move("discard", "a")) });
  // Another tab discards b before our reply comes.
  commands.event("node.discarded", discardedEvent(b));
  commands.event("history.changed", { node_id: null, history: history(7, move("discard", "b")) });
  reply.resolve({ history: history(5, move("discard", "a")) });
  await discarded;

  assert.deepEqual(chain.history, history(7, move("discard", "b")));
  assert.deepEqual(chain.bin.map((n) => n.id).sort(), ["a", "b"]);
  assert.deepEqual(reads(), []);
});

test("an undo that finds another tab's move latest takes the reply's word for it, and reads nothing", async (t) => {
  const root = node("root", null);
  const { chain, commands } = await open(t, [root, node("a", "root"), node("b", "root")], { history: history(2, move("discard", "x")) });
  answers.set(`POST /api/chains/${CHAIN}/undo`, { move: move("commit", "a"), history: history(9) });
  answers.set("GET /api/nodes/a", node("a", "root"));

  await commands.undo();
  t.mock.timers.tick(5000);
  await settle();
  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.history, history(9));
});

test("emptying the bin takes the history from its reply: the moves on what went are forgotten", async (t) => {
  const root = node("root", null);
  const a = node("a", "root", { committed: true });
  const { chain, commands } = await open(t, [root, a], {
    history: history(3, move("discard", "b")), bin: [node("b", "root", { binned_at: "2026-01-01T00:00:00Z" })],
  });
  answers.set(`DELETE /api/chains/${CHAIN}/bin`, { deleted: 1, history: history(4) });
  assert.equal(await commands.emptyBin(), 1);
  t.mock.timers.tick(5000);
  await settle();
  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.bin, []);
  assert.deepEqual(chain.history, history(4));
});

test("a discard logged before events carried the node still takes it off the chain", async (t) => {
  const { chain, commands } = await open(t, [node("root", null), node("a", "root")]);
  commands.event("node.discarded", { node_id: "a" });
  commands.event("chain.renamed", { node_id: null });
  assert.equal(chain.has("a"), false);
  assert.equal(chain.title, "song");
  assert.deepEqual(asked, []);
});

test("opening the bin reads the bin alone", async (t) => {
  const { chain, commands } = await open(t, [node("root", null)]);
  answers.set(`GET /api/chains/${CHAIN}/bin`, { nodes: [node("a", "root", { binned_at: "2026-01-01T00:00:00Z" })] });
  await commands.readBin();
  assert.deepEqual(asked, [`GET /api/chains/${CHAIN}/bin`]);
  assert.deepEqual(chain.bin.map((n) => n.id), ["a"]);
});

test("a request refused leaves the model as it was", async (t) => {
  const { chain, commands } = await open(t, [node("root", null), node("a", "root")]);
  answers.set("POST /api/nodes/a/commit", Promise.resolve().then(() => { throw new Error("refused"); }));
  await assert.rejects(commands.commit("a"));
  assert.deepEqual(chain.history, NOTHING);
  assert.deepEqual(chain.spine().map((n) => n.id), ["root"]);
});

test("takes in the bin are each named as they would be back, never two alike", async (t) => {
  const root = node("root", null);
  const [a, b, c] = [node("a", "root"), node("b", "root"), node("c", "root")];
  const { chain } = await open(t, [root, a], { bin: [binned(c), binned(b)] });
  const names = chain.bin.map((n) => chain.fullName(n));
  assert.deepEqual(names, ["take 3 after your clip", "take 2 after your clip"]);
  assert.equal(chain.label(a), "take 1");
});

test("a chain started from words begins with the beginning, and its takes follow it", async (t) => {
  const root = node("root", null, { duration_s: 0 });
  const { chain } = await open(t, [root, node("a", "root")]);
  assert.equal(chain.label(root), "the beginning");
  assert.equal(chain.fullName(chain.get("a")), "take 1 after the beginning");
});
