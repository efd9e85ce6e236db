// What a chain keeps in this browser between visits: the knobs its takes were
// last asked with and its last export settings (reopening a chain showed the
// defaults again). Nothing is kept when the browser keeps nothing.

const key = (chainId, what) => `sparrow:chain:${chainId}:${what}`;

/** What was kept as `what` for chain `chainId`, or null. */
export function recall(chainId, what) {
  try {
    return JSON.parse(localStorage.getItem(key(chainId, what)) || "null");
  } catch {
    return null;
  }
}

/** Keep `value` (plain JSON) as `what` for chain `chainId`. */
export function remember(chainId, what, value) {
  try {
    localStorage.setItem(key(chainId, what), JSON.stringify(value));
  } catch {
    // Storage full or refused: the page works on without it.
  }
}
