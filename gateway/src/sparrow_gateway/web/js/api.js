// The REST API. Every change carries the key in X-API-Key; GETs for <audio>,
// fetch of audio and EventSource ride on the HttpOnly cookie POST /api/session sets.
// Errors come back as ApiError with a sentence a musician can read.
// Only the command layer (commands.js) calls it; audio.js fetches the audio itself.

const KEY = "sparrow.key";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export function storedKey() {
  return localStorage.getItem(KEY);
}

export function forgetKey() {
  localStorage.removeItem(KEY);
}

// A seed is an integer up to 2^63 - 1, past what a JavaScript number holds
// exactly (2^53): one past that is read as its digits and written back as them,
// so a take's seed is the one the musician typed. (JSON.parse's source text and
// JSON.rawJSON: Chromium has both; where either is missing the number stands.)
export function parseJSON(text) {
  return JSON.parse(text, (key, value, context) =>
    key === "seed" && typeof value === "number" && !Number.isSafeInteger(value) && context?.source
      ? context.source : value);
}

export function toJSON(body) {
  return JSON.stringify(body, (key, value) =>
    key === "seed" && typeof value === "string" && /^\d+$/.test(value)
      ? (JSON.rawJSON ? JSON.rawJSON(value) : Number(value)) : value);
}

function headers(extra = {}) {
  const key = storedKey();
  return key ? { "X-API-Key": key, ...extra } : extra;
}

// One entry of a 422's list: "field: what is wrong", or only what is wrong
// when it is about the whole body.
function fieldError(error) {
  const field = error.loc.slice(1).join(".");
  return field ? `${field}: ${error.msg}` : error.msg;
}

async function explain(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail
      : Array.isArray(body.detail) ? body.detail.map(fieldError).join("; ")
      : "";
  } catch {
    /* not JSON */
  }
  const words = {
    401: "Your API key was not accepted. Sign in again.",
    403: "Your key's tier does not allow this.",
    404: "That is gone: it was deleted, or it belongs to someone else.",
    409: "That can't be done right now.",
    413: "That file is too large.",
    415: "That file can't be used as a clip.",
    422: "Some values are out of range.",
    503: "Sparrow's services can't be reached right now. Try again in a moment.",
  };
  return new ApiError(detail || words[response.status] || `The request failed (${response.status}).`, response.status);
}

export async function request(method, path, { json, form, raw = false, keepalive = false } = {}) {
  const init = { method, headers: headers(), keepalive };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = toJSON(json);
  } else if (form) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(`Can't reach Sparrow (${error.message}). Is it running?`, 0);
  }
  if (!response.ok) throw await explain(response);
  if (raw) return response;
  if (response.status === 204 || response.status === 202 && response.headers.get("content-length") === "0") return null;
  return parseJSON(await response.text());
}

export async function signIn(key) {
  localStorage.setItem(KEY, key);
  try {
    const me = await request("GET", "/api/me");
    await request("POST", "/api/session");
    return me;
  } catch (error) {
    forgetKey();
    throw error;
  }
}

export async function signOut() {
  forgetKey();
  await fetch("/api/session", { method: "DELETE" }).catch(() => {});
}

export const api = {
  me: () => request("GET", "/api/me"),
  gpu: () => request("GET", "/api/gpu"),
  chains: () => request("GET", "/api/chains?limit=50"),
  chain: (id) => request("GET", `/api/chains/${id}`),
  deleteChain: (id) => request("DELETE", `/api/chains/${id}`),
  upload(file, title) {
    const form = new FormData();
    form.append("file", file);
    if (title) form.append("title", title);
    return request("POST", "/api/chains", { form });
  },
  // A musician's presets of knobs, kept with their account.
  presets: () => request("GET", "/api/presets"),
  savePreset: (name, knobs) => request("PUT", `/api/presets/${encodeURIComponent(name)}`, { json: knobs }),
  deletePreset: (name) => request("DELETE", `/api/presets/${encodeURIComponent(name)}`),
  // A chain from words: its root the beginning (no audio), its first takes pending.
  fromWords: (body) => request("POST", "/api/chains", { json: body }),
  node: (id) => request("GET", `/api/nodes/${id}`),
  takes: (parentId, body) => request("POST", `/api/nodes/${parentId}/takes`, { json: body }),
  commit: (id) => request("POST", `/api/nodes/${id}/commit`),
  discard: (id) => request("DELETE", `/api/nodes/${id}`),
  // The musician's word on a part's grid: the whole correction (null fields: as heard); answers {node, history}.
  setGrid: (id, correction) => request("PUT", `/api/nodes/${id}/grid`, { json: correction }),
  // The moves the chain keeps: undo and redo answer {move, history}.
  undo: (chainId) => request("POST", `/api/chains/${chainId}/undo`),
  redo: (chainId) => request("POST", `/api/chains/${chainId}/redo`),
  bin: (chainId) => request("GET", `/api/chains/${chainId}/bin`),
  emptyBin: (chainId) => request("DELETE", `/api/chains/${chainId}/bin`),
  restore: (id) => request("POST", `/api/nodes/${id}/restore`),
  uncommit: (id) => request("POST", `/api/nodes/${id}/uncommit`),
  fork: (id, title) => request("POST", `/api/nodes/${id}/fork`, { json: title ? { title } : {} }),
  rename: (chainId, title) => request("PATCH", `/api/chains/${chainId}`, { json: { title } }),
  stems: (id, model = "") => request("GET", `/api/nodes/${id}/stems?model=${encodeURIComponent(model)}`),
  separate: (id, model = "") => request("POST", `/api/nodes/${id}/stems`, { json: model ? { model } : {} }),
  exportSpine: (id, body) => request("POST", `/api/chains/${id}/export`, { json: body, raw: true }),
  schema: () => fetch("/openapi.json").then((r) => r.json()),
};
