// Export the spine as one file (format, crossfade at the seams, loudness), or
// as a zip of the mix and each stem joined alike (paid tier).

import { exportSpine } from "./commands.js";
import { h } from "./dom.js";

export function exportPanel(chainId, onError) {
  const format = h("select", { id: "export-format", name: "format" },
    ["wav", "mp3", "flac"].map((f) => h("option", { value: f }, f.toUpperCase())));
  const crossfadeValue = h("output", { for: "export-crossfade" }, "0 ms");
  const crossfade = h("input", { id: "export-crossfade", type: "range", min: 0, max: 2000, step: 50, value: 0,
    oninput: () => { crossfadeValue.textContent = `${crossfade.value} ms`; } });
  const normalize = h("input", { id: "export-normalize", type: "checkbox" });
  const matchParts = h("input", { id: "export-match-parts", type: "checkbox" });
  const stems = h("input", { id: "export-stems", type: "checkbox" });
  const status = h("span", { class: "export-status", role: "status" });
  const button = h("button", { class: "primary", id: "export-button" }, "Export");
  button.addEventListener("click", async () => {
    button.disabled = true;
    // Parts without stems are split first: that takes a while.
    status.textContent = stems.checked ? "Splitting the parts and rendering each stem…" : "Rendering…";
    try {
      const response = await exportSpine(chainId, {
        format: format.value, crossfade_ms: Number(crossfade.value), normalize: normalize.checked,
        match_parts: matchParts.checked, stems: stems.checked,
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
      h("label", {}, normalize, " Match loudness to the first clip (EBU R128)"),
      h("label", {}, matchParts, " Bring every part to the first clip's loudness (no jump at a seam)"),
      h("label", {}, stems, " The stems too: a zip of the mix and each stem, joined alike (paid tier)"),
      button, status));
}
