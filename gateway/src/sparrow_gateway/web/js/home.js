// The start page: drop a clip (or record one) to start a chain, start one from words, or reopen one.

import { deleteChain, listChains, startFromWords, upload } from "./commands.js";
import { clear, fmt, h } from "./dom.js";
import { recorder } from "./recorder.js";
import { showError, toast } from "./toast.js";

export async function home(root) {
  clear(root);
  const input = h("input", { type: "file", id: "clip-input", accept: "audio/*,.wav,.mp3,.flac,.ogg,.m4a,.aiff,.aif", hidden: true });
  const title = h("input", { type: "text", id: "clip-title", placeholder: "Title (optional: the file's name otherwise)", maxlength: 200 });
  const status = h("p", { class: "drop-status", role: "status" });
  const zone = h("div", { class: "drop", id: "drop", tabindex: "0" },
    h("p", { class: "drop-big" }, "Drop a clip here to start"),
    h("p", { class: "muted" }, "WAV, MP3, FLAC, OGG, M4A or AIFF · ",
      h("button", { class: "link", onclick: () => input.click() }, "or choose a file")),
    status);
  const start = async (file) => {
    if (!file) return;
    status.textContent = `Uploading ${file.name}…`;
    status.classList.remove("error-text");
    zone.classList.add("busy");
    try {
      const chain = await upload(file, title.value.trim());
      location.hash = `#/chain/${chain.id}`;
    } catch (error) {
      // Why it was refused stays on the drop zone (a clip too short to continue, not audio...).
      status.textContent = `${file.name} was not taken: ${error.message}`;
      status.classList.add("error-text");
      showError(error);
    } finally {
      zone.classList.remove("busy");
    }
  };
  input.addEventListener("change", () => start(input.files[0]));
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    start(event.dataTransfer.files[0]);
  });
  zone.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") input.click(); });
  const list = h("ul", { class: "chains", id: "chains" }, h("li", { class: "muted" }, "Loading your chains…"));
  const fail = (error) => {
    status.textContent = error.message;
    status.classList.add("error-text");
    showError(error);
  };
  root.append(h("section", { class: "home" },
    h("div", { class: "starts" }, h("div", { class: "start-clip" }, zone, title, input, recorder(start, fail)), words()),
    h("h2", {}, "Your chains"), list));
  try {
    const chains = await listChains();
    clear(list);
    if (!chains.length) list.append(h("li", { class: "muted" }, "None yet: drop a clip above."));
    for (const chain of chains) {
      const item = h("li", { class: "chain-item", dataset: { chainId: chain.id } },
        h("a", { href: `#/chain/${chain.id}` }, chain.title),
        h("span", { class: "muted", title: `${chain.node_count} nodes: the clip and every take` },
          ` ${fmt(chain.spine_duration_s)} · ${chain.node_count} clip${chain.node_count === 1 ? "" : "s"} · ${new Date(chain.created_at).toLocaleString()}`),
        h("button", { class: "small danger", onclick: async () => {
          if (!confirm(`Delete "${chain.title}" with all its takes? This can't be undone.`)) return;
          try {
            await deleteChain(chain.id);
            item.remove();
            toast(`Deleted "${chain.title}".`);
          } catch (error) {
            showError(error);
          }
        } }, "Delete"));
      list.append(item);
    }
  } catch (error) {
    clear(list).append(h("li", { class: "error-text" }, error.message));
  }
}

// Start from words: takes from a prompt alone, the chain's root the beginning
// (no audio); committing one starts the spine.
function words() {
  const prompt = h("textarea", {
    id: "words-prompt", rows: 3, maxlength: 500,
    placeholder: "What should it play? e.g. warm rhodes chords over brushed drums, 80 bpm",
  });
  const count = h("input", { id: "words-count", type: "number", min: 1, max: 8, value: 2, "aria-label": "Takes" });
  const seconds = h("input", { id: "words-seconds", type: "number", min: 1, max: 120, value: 10, "aria-label": "Seconds" });
  const status = h("p", { class: "words-status", role: "status" });
  const button = h("button", { type: "submit", id: "words-start" }, "Start from words");
  const form = h("form", { class: "words", id: "words" },
    h("p", { class: "drop-big" }, "Or start from words"),
    prompt,
    h("p", { class: "muted" }, h("label", {}, count, " takes of "), h("label", {}, seconds, " s")),
    button, status);
  prompt.addEventListener("input", () => { status.textContent = ""; status.classList.remove("error-text"); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!prompt.value.trim()) {
      status.textContent = "Say what the takes are to play.";
      status.classList.add("error-text");
      return;
    }
    button.disabled = true;
    status.textContent = "Starting…";
    try {
      const chain = await startFromWords({
        prompt: prompt.value.trim(), count: Number(count.value), duration_s: Number(seconds.value),
      });
      location.hash = `#/chain/${chain.id}`;
    } catch (error) {
      status.textContent = `Not started: ${error.message}`;
      status.classList.add("error-text");
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
