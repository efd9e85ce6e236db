// Export the spine as one file (format, crossfade at the seams, loudness), or
// as a zip of the mix and each stem joined alike (paid tier), or without one
// stem ("everything but the drums", paid tier), or the loop
// selected on the ruler alone, made to repeat (on whole bars where there is a grid),
// closed with glue when asked: a bar Sparrow writes that leads back to its start.

import { exportSpine } from "./commands.js";
import { h } from "./dom.js";
import { recall, remember } from "./remembered.js";
import { stemModels } from "./stems.js";

/** `loopNow()`: the loop region selected on the ruler ({from, to}, spine seconds), or null. */
export function exportPanel(chainId, onError, loopNow = () => null) {
  const format = h("select", { id: "export-format", name: "format" },
    ["wav", "mp3", "flac"].map((f) => h("option", { value: f }, f.toUpperCase())));
  const crossfadeValue = h("output", { for: "export-crossfade" }, "0 ms");
  const crossfade = h("input", { id: "export-crossfade", type: "range", min: 0, max: 2000, step: 50, value: 0,
    oninput: () => { crossfadeValue.textContent = `${crossfade.value} ms`; } });
  const normalize = h("input", { id: "export-normalize", type: "checkbox" });
  const matchParts = h("input", { id: "export-match-parts", type: "checkbox" });
  const stems = h("input", { id: "export-stems", type: "checkbox" });
  // Everything but one stem (paid tier, as stems are): one file of the others.
  const without = h("select", { id: "export-without" }, h("option", { value: "" }, "nothing"));
  stemModels().then((models) => {
    for (const stem of models[0].stems) without.append(h("option", { value: stem }, `the ${stem}`));
  });
  without.addEventListener("change", () => { stems.disabled = Boolean(without.value) || loop.checked; if (without.value) stems.checked = false; });
  const loop = h("input", { id: "export-loop", type: "checkbox" });
  // Glue closes the loop with a bar Sparrow writes: a loop's, the mix alone (nothing left out).
  const glue = h("input", { id: "export-glue", type: "checkbox", disabled: true });
  const glueOffered = () => { glue.disabled = !loop.checked || Boolean(without.value); };
  // A loop is the mix alone.
  loop.addEventListener("change", () => {
    stems.disabled = loop.checked || Boolean(without.value);
    if (loop.checked) stems.checked = false;
    glueOffered();
  });
  without.addEventListener("change", glueOffered);
  // The chain's last export settings (remembered.js), as they were.
  const kept = recall(chainId, "export");
  if (kept) {
    if (["wav", "mp3", "flac"].includes(kept.format)) format.value = kept.format;
    crossfade.value = Number(kept.crossfade_ms) || 0;
    crossfadeValue.textContent = `${crossfade.value} ms`;
    normalize.checked = Boolean(kept.normalize);
    matchParts.checked = Boolean(kept.match_parts);
    stems.checked = Boolean(kept.stems);
    glue.checked = Boolean(kept.glue);
  }
  const status = h("span", { class: "export-status", role: "status" });
  const button = h("button", { class: "primary", id: "export-button" }, "Export");
  button.addEventListener("click", async () => {
    const region = loop.checked ? loopNow() : null;
    if (loop.checked && !region) {
      status.textContent = "Select a stretch to loop first: drag on the ruler.";
      return;
    }
    button.disabled = true;
    const glued = Boolean(region) && glue.checked && !glue.disabled;
    // Parts without stems are split first, glue is written and heard: each takes a while.
    status.textContent = stems.checked ? "Splitting the parts and rendering each stem…"
      : glued ? "Writing two takes of glue, a bar each, and keeping the one that leads back best…" : "Rendering…";
    const settings = {
      format: format.value, crossfade_ms: Number(crossfade.value), normalize: normalize.checked,
      match_parts: matchParts.checked, stems: stems.checked, glue: glue.checked,
    };
    remember(chainId, "export", settings);
    try {
      const { glue: _, ...asked } = settings;
      const response = await exportSpine(chainId, {
        ...asked, ...(region ? { loop: { from_s: region.from, until_s: region.to } } : {}),
        ...(glued ? { glue: true } : {}),
        ...(without.value ? { without: [without.value] } : {}),
      });
      const disposition = response.headers.get("content-disposition") || "";
      const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `sparrow.${format.value}`;
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.textContent = `Saved ${name}`;
    } catch (error) {
      status.textContent = "";
      onError(error);
    } finally {
      button.disabled = false;
    }
  });
  return h("details", { class: "export panel", id: "export" },
    h("summary", {}, "Export the spine"),
    h("div", { class: "export-body" },
      h("label", {}, "Format ", format),
      h("label", {}, "Crossfade at each seam ", crossfade, " ", crossfadeValue),
      h("label", { title: "EBU R128 integrated loudness" }, normalize, " As loud as the first clip, overall"),
      h("label", { title: "EBU R128 integrated loudness, part by part" }, matchParts, " Every part as loud as the first clip (no jump at a seam)"),
      h("label", {}, stems, " The stems too: a zip of the mix and each stem, joined alike (paid tier)"),
      h("label", {}, "Leave out ", without, " (everything else, as one file: paid tier)"),
      h("label", {}, loop, " Only the loop selected on the ruler, on whole bars where there is a grid, to repeat with no click"),
      h("label", { class: "export-glue", title: "Close the loop with a bar Sparrow writes, the take that leads back best" },
        glue, " Glue"),
      button, status));
}
