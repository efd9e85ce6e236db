// Sparrow in the browser: sign in with an API key, then the chain list or one
// chain's editor, chosen by the address's #fragment.

import { apiSchema, forgetKey, gpuCapacity, me, signIn, signOut, storedKey } from "./commands.js";
import { clear, h } from "./dom.js";
import { Editor } from "./editor.js";
import { home } from "./home.js";
import { showError } from "./toast.js";

const main = document.getElementById("main");
const who = document.getElementById("who");
const gpu = document.getElementById("gpu");
let account = null;
let schema = null;
let editor = null;
let gpuTimer = null;
let gpuSeen = null; // the last answer of /api/gpu

function signInPage(message = "") {
  clear(main);
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "Your API key", required: true });
  const error = h("p", { class: "error-text", role: "alert" }, message);
  const form = h("form", { class: "sign-in panel", id: "sign-in" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Paste the API key you were given (`make run` prints a local one)."),
    key, h("button", { class: "primary", type: "submit" }, "Sign in"), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      account = await signIn(key.value.trim());
      await started();
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  main.append(form);
  key.focus();
}

// A worker starting or loading its model is a normal start, said so; "failed" only for a failure.
const coming = (w) => w.state === "loading" || w.state === "starting";

// How busy the workers are, in words: free, busy, and how many wait.
function inWords(workers, name) {
  const ready = workers.filter((w) => w.ready);
  if (!ready.length) return describe(workers, name);
  const busy = ready.some((w) => (w.busy || 0) > 0);
  const queued = ready.reduce((s, w) => s + (w.queued || 0), 0);
  return `${name}: ${busy ? "busy" : "free"}${queued ? ` · ${queued} waiting` : ""}`;
}

// The figures, on hover: a generation worker's slots are decoder rows (a take
// is one, two with guidance).
function describe(workers, name, unit = "busy") {
  if (!workers.length) return `${name}: no worker configured`;
  const ready = workers.filter((w) => w.ready);
  if (!ready.length) {
    if (workers.some(coming)) return `${name}: loading…`;
    const failed = workers.filter((w) => w.state === "failed");
    if (failed.length) return `${name}: failed (${failed.map((w) => w.reason).join("; ")})`;
    return `${name}: can't be reached (${workers.map((w) => w.reason || "unreachable").join("; ")})`;
  }
  const slots = ready.reduce((s, w) => s + (w.slots || 0), 0);
  const busy = ready.reduce((s, w) => s + (w.busy || 0), 0);
  const queued = ready.reduce((s, w) => s + (w.queued || 0), 0);
  return `${name}: ${busy}/${slots} ${unit} · ${queued} waiting · ${ready.length} worker${ready.length > 1 ? "s" : ""} on ${ready[0].device}`;
}

async function pollGpu() {
  try {
    const capacity = await gpuCapacity();
    gpuSeen = capacity;
    editor?.capacity(capacity);
    const chip = (id, workers, name, unit) => {
      const fine = workers.some((w) => w.ready || coming(w));
      // The figures and the whole reason are on hover; the chip says it in words.
      return h("span", { class: fine ? "chip" : "chip warn", id, title: describe(workers, name, unit) }, inWords(workers, name));
    };
    clear(gpu).append(chip("gpu-generation", capacity.generation, "MusicGen", "rows"), chip("gpu-stems", capacity.stems, "Stems"));
  } catch {
    clear(gpu).append(h("span", { class: "chip warn" }, "capacity unknown"));
  }
}

async function route() {
  editor?.stop();
  editor = null;
  const match = /^#\/chain\/([0-9a-f-]{36})$/.exec(location.hash);
  if (match) {
    try {
      // Only the editor's form needs the API's schema: fetched once, when first opened.
      schema ||= await apiSchema();
      editor = new Editor(main, match[1], account, schema);
      if (gpuSeen) editor.capacity(gpuSeen);
      await editor.start();
    } catch (error) {
      showError(error);
      location.hash = "#/";
    }
  } else {
    await home(main);
  }
}

async function started() {
  clear(who).append(
    h("span", { id: "account" }, account.user, " · ", h("span", { class: `tier ${account.tier}`, id: "tier" }, account.tier)),
    h("button", { class: "small", onclick: async () => { await signOut(); location.reload(); } }, "Sign out"));
  clearInterval(gpuTimer);
  pollGpu();
  gpuTimer = setInterval(pollGpu, 3000);
  window.onhashchange = route;
  await route();
}

async function boot() {
  // `make run` may open the page as /#key=...: take it and drop it from the address.
  const fromAddress = /^#key=(.+)$/.exec(location.hash);
  if (fromAddress) {
    history.replaceState(null, "", location.pathname);
    try {
      account = await signIn(decodeURIComponent(fromAddress[1]));
      return started();
    } catch (error) {
      return signInPage(error.message);
    }
  }
  if (!storedKey()) return signInPage();
  try {
    account = await me();
    await started();
  } catch (error) {
    if (error.status === 401) forgetKey();
    signInPage(error.message);
  }
}

boot();
