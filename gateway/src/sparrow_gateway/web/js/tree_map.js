// A map of the whole chain: every node still in it (not those in the bin, nor
// those whose discard is on its way) as a tree laid left to right, the spine along
// its top row. A circle is a part of the spine (numbered), a square a take; the
// colour says how it stands (ready, on its way, failed). Clicking one shows it:
// a part, its takes; a take, its parent's takes with it in focus.

import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const DX = 34; // pixels between a node and its children
const DY = 22; // pixels between rows
const PAD = 12;
const STATUS_WORDS = { pending: "waiting", generating: "generating", ready: "ready", error: "failed", cancelled: "cancelled" };

/** Where each node of `chain` goes: [{node, depth, row, onSpine}], parents
 *  before children, the spine on row 0 and each node on its first child's row;
 *  none of those `hidden` holds (anything with has(id)). */
export function placeTree(chain, spine, hidden) {
  const spineIds = new Set(spine.map((n) => n.id));
  const places = [];
  let rows = 0;
  const visit = (node, depth) => {
    const kids = [...chain.childrenOf(node.id).filter((n) => n.committed), ...chain.takesOf(node.id)]
      .filter((n) => !hidden.has(n.id));
    const place = { node, depth, row: rows, onSpine: spineIds.has(node.id) };
    places.push(place);
    if (!kids.length) rows += 1;
    kids.forEach((kid) => visit(kid, depth + 1));
  };
  const root = chain.childrenOf(null)[0];
  if (root) visit(root, 0);
  return places;
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

export class TreeMap {
  // `does`: pick(id) (show the node: a part's takes, or a take in focus).
  constructor(chain, does) {
    this.chain = chain;
    this.does = does;
    this.drawn = null;
    this.map = svg("svg", { class: "tree-svg", role: "group", "aria-label": "Map of the chain" });
    this.el = h("section", { class: "tree-map panel", id: "tree-map" },
      h("header", {},
        h("h2", {}, "Map"),
        h("span", { class: "tree-legend muted" },
          h("span", { class: "swatch part" }), "part of the spine",
          h("span", { class: "swatch take" }), "take: ",
          h("span", { class: "swatch take ready" }), "ready",
          h("span", { class: "swatch take generating" }), "on its way",
          h("span", { class: "swatch take error" }), "failed")),
      h("div", { class: "tree-scroll" }, this.map));
  }

  /** Draw the chain with part `selected` and take `focus` marked; `hidden`:
   *  the nodes not to show (anything with has(id)). */
  render({ spine, selected, focus, hidden }) {
    const places = placeTree(this.chain, spine, hidden);
    const key = JSON.stringify([places.map((p) => [p.node.id, p.node.status, p.onSpine, p.depth, p.row]), selected, focus]);
    if (key === this.drawn) return;
    this.drawn = key;
    const at = new Map(places.map((p) => [p.node.id, { x: PAD + p.depth * DX, y: PAD + p.row * DY }]));
    const width = PAD * 2 + Math.max(0, ...places.map((p) => p.depth)) * DX;
    const height = PAD * 2 + Math.max(0, ...places.map((p) => p.row)) * DY;
    this.map.setAttribute("width", width);
    this.map.setAttribute("height", height);
    this.map.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const edges = places.filter((p) => at.has(p.node.parent_id)).map((p) => {
      const from = at.get(p.node.parent_id);
      const to = at.get(p.node.id);
      return svg("path", { class: p.onSpine ? "tree-edge spine" : "tree-edge", d: `M${from.x} ${from.y}H${from.x + DX / 2}V${to.y}H${to.x}` });
    });
    const nodes = places.map((p) => this.node(p, at.get(p.node.id), spine, { selected, focus }));
    this.map.replaceChildren(...edges, ...nodes);
  }

  node({ node, onSpine }, { x, y }, spine, { selected, focus }) {
    const name = this.chain.fullName(node, spine);
    const words = `${name} · ${STATUS_WORDS[node.status] || node.status}`;
    const shape = onSpine
      ? svg("circle", { class: "shape", cx: x, cy: y, r: 8 })
      : svg("rect", { class: "shape", x: x - 6, y: y - 6, width: 12, height: 12, rx: 2 });
    const number = onSpine ? svg("text", { x, y: y + 3, "text-anchor": "middle" }, String(spine.findIndex((n) => n.id === node.id) + 1)) : "";
    const classes = ["tree-node", node.id === selected && "selected", node.id === focus && "focused"].filter(Boolean);
    const el = svg("g", {
      class: classes.join(" "), tabindex: 0, role: "button", "aria-label": words,
      "data-node-id": node.id, "data-status": node.status, "data-spine": String(onSpine),
    }, svg("title", {}, words), shape, number);
    el.addEventListener("click", () => this.does.pick(node.id));
    el.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      // The page's keys would commit or play: this key is the map's.
      event.preventDefault();
      event.stopPropagation();
      this.does.pick(node.id);
    });
    return el;
  }
}
