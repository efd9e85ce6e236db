// The editor's command layer (web/js/commands.js) under Node's test runner,
// with the API answered here (fetch) and the clock in the test's hands: what a
// move writes into the model, and which events read the chain again.
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
const NOTHING = { undo: null, redo: null };

// A later answer: resolve(body) gives it.
function later() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

// Every promise waiting on what has happened runs.
const settle = () => new Promise((r) => setImmediate(r));

let heard; // what the views were told
async function open(t, nodes, { history = NOTHING, bin = [] } = {}) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  answers.set(`GET /api/chains/${CHAIN}`, { id: CHAIN, title: "song", nodes, history });
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

  const committed = commands.commit("a");
  // The store writes the siblings' discards, then the commit; the stream may beat the reply.
  commands.event("node.discarded", { node_id: "b" });
  commands.event("node.discarded", { node_id: "b1" });
  commands.event("node.committed", { node_id: "a", node: { ...a, committed: true, updated_at: "2026-02-01T00:00:00Z" } });
  reply.resolve({ ...a, committed: true, updated_at: "2026-02-01T00:00:00Z" });
  await committed;
  t.mock.timers.tick(5000);
  await settle();

  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.history, { undo: { kind: "commit", node_id: "a" }, redo: null });
  assert.deepEqual(chain.spine().map((n) => n.id), ["root", "a"]);
  assert.deepEqual(chain.bin.map((n) => n.id), ["b"]);
  assert.equal(chain.has("b1"), false);
});

test("a discard made here lists the take on top of the bin, with what grew from it gone too", async (t) => {
  const [root, a] = [node("root", null), node("a", "root")];
  const { chain, commands } = await open(t, [root, a, node("a1", "a")], { bin: [node("old", "root", { binned_at: "2026-01-01T00:00:00Z" })] });
  answers.set("DELETE /api/nodes/a", null);

  await commands.discard("a");
  commands.event("node.discarded", { node_id: "a1" });
  commands.event("node.discarded", { node_id: "a" });
  t.mock.timers.tick(5000);
  await settle();

  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.bin.map((n) => n.id), ["a", "old"]);
  assert.deepEqual(heard.removed.sort(), ["a", "a1"]);
  assert.deepEqual(chain.history.undo, { kind: "discard", node_id: "a" });
});

test("the undo of a commit takes the siblings back from the events, and reads nothing", async (t) => {
  const root = node("root", null);
  const a = node("a", "root", { committed: true });
  const b = node("b", "root", { binned_at: "2026-01-01T00:00:00Z" });
  const { chain, commands } = await open(t, [root, a], { history: { undo: { kind: "commit", node_id: "a" }, redo: null }, bin: [b] });
  answers.set(`POST /api/chains/${CHAIN}/undo`, { move: { kind: "commit", node_id: "a" }, history: { undo: null, redo: { kind: "commit", node_id: "a" } } });
  answers.set("GET /api/nodes/a", { ...a, committed: false, updated_at: "2026-02-01T00:00:00Z" });

  const words = await commands.undo();
  commands.event("node.uncommitted", { node_id: "a", node: { ...a, committed: false, updated_at: "2026-02-01T00:00:00Z" } });
  commands.event("node.restored", { node_id: "b", node: { ...b, binned_at: null, updated_at: "2026-02-01T00:00:01Z" } });
  t.mock.timers.tick(5000);
  await settle();

  assert.equal(words, "commit of part 2");
  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.takesOf("root").map((n) => n.id), ["a", "b"]);
  assert.deepEqual(chain.bin, []);
  assert.deepEqual(chain.history, { undo: null, redo: { kind: "commit", node_id: "a" } });
});

test("a move made elsewhere is read once, after its burst of events", async (t) => {
  const root = node("root", null);
  const { chain, commands } = await open(t, [root, node("a", "root"), node("b", "root")]);
  const moved = { undo: { kind: "discard", node_id: "a" }, redo: null };
  answers.set(`GET /api/chains/${CHAIN}`, { id: CHAIN, title: "renamed too", nodes: [], history: moved });
  answers.set(`GET /api/chains/${CHAIN}/bin`, { nodes: [node("a", "root", { binned_at: "2026-02-01T00:00:00Z" })] });

  commands.event("node.discarded", { node_id: "a" });
  commands.event("chain.renamed", { node_id: null });
  t.mock.timers.tick(5000);
  await settle();

  assert.deepEqual(reads().sort(), [`GET /api/chains/${CHAIN}`, `GET /api/chains/${CHAIN}/bin`]);
  assert.deepEqual(chain.history, moved);
  assert.equal(chain.title, "renamed too");
  assert.deepEqual(chain.bin.map((n) => n.id), ["a"]);
});

test("a claim ends: the same event a while after the move made here is read", async (t) => {
  const { commands } = await open(t, [node("root", null), node("a", "root"), node("b", "root")]);
  answers.set("DELETE /api/nodes/a", null);
  await commands.discard("a");
  commands.event("node.discarded", { node_id: "a" });
  t.mock.timers.tick(5000);
  await settle();
  assert.deepEqual(reads(), []);

  commands.event("node.discarded", { node_id: "b" });
  t.mock.timers.tick(5000);
  await settle();
  assert.equal(reads().length, 2);
});

test("an undo that finds another tab's move latest reads what it did", async (t) => {
  const root = node("root", null);
  const { commands } = await open(t, [root, node("a", "root"), node("b", "root")], { history: { undo: { kind: "discard", node_id: "x" }, redo: null } });
  answers.set(`POST /api/chains/${CHAIN}/undo`, { move: { kind: "commit", node_id: "a" }, history: NOTHING });
  answers.set("GET /api/nodes/a", node("a", "root"));

  await commands.undo();
  t.mock.timers.tick(5000);
  await settle();
  assert.equal(reads().length, 2);
});

test("emptying the bin reads the history only when it names what was deleted", async (t) => {
  const root = node("root", null);
  const a = node("a", "root", { committed: true });
  const { chain, commands } = await open(t, [root, a], {
    history: { undo: { kind: "commit", node_id: "a" }, redo: null }, bin: [node("b", "root", { binned_at: "2026-01-01T00:00:00Z" })],
  });
  answers.set(`DELETE /api/chains/${CHAIN}/bin`, { deleted: 1 });
  assert.equal(await commands.emptyBin(), 1);
  t.mock.timers.tick(5000);
  await settle();
  assert.deepEqual(reads(), []);
  assert.deepEqual(chain.bin, []);

  chain.setHistory({ undo: { kind: "discard", node_id: "gone" }, redo: null });
  await commands.emptyBin();
  t.mock.timers.tick(5000);
  await settle();
  assert.equal(reads().length, 2);
});

test("a request refused leaves the model as it was, and its events to nobody", async (t) => {
  const { chain, commands } = await open(t, [node("root", null), node("a", "root")]);
  answers.set("POST /api/nodes/a/commit", Promise.resolve().then(() => { throw new Error("refused"); }));
  await assert.rejects(commands.commit("a"));
  assert.deepEqual(chain.history, NOTHING);
  assert.deepEqual(chain.spine().map((n) => n.id), ["root"]);
  t.mock.timers.tick(0);
  assert.equal(commands.claims.size, 0);
});
