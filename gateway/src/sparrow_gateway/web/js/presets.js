// Presets: the musician's named knobs, kept with their account (/api/presets),
// above the takes form: pick one to put its knobs in the form, keep the form's
// knobs under a name, or forget the one picked.

import { deletePreset, presets, savePreset } from "./commands.js";
import { h } from "./dom.js";
import { showError, toast } from "./toast.js";

/** The bar: `knobsNow()` reads the form's knobs, `fill(knobs)` puts a preset's in it. */
export function presetBar(knobsNow, fill) {
  let kept = [];
  const pick = h("select", { id: "preset-pick", "aria-label": "Presets" }, h("option", { value: "" }, "a preset…"));
  const name = h("input", { id: "preset-name", type: "text", maxlength: 60, placeholder: "name these knobs" });
  const save = h("button", { type: "button", id: "preset-save", class: "small" }, "Keep as a preset");
  const forget = h("button", { type: "button", id: "preset-forget", class: "small", hidden: true }, "Forget it");

  const show = (list, chosen = "") => {
    kept = list;
    pick.replaceChildren(h("option", { value: "" }, list.length ? "a preset…" : "no presets yet"),
      ...list.map((p) => h("option", { value: p.name, selected: p.name === chosen }, p.name)));
    forget.hidden = !chosen;
  };
  const load = () => presets().then((list) => show(list), showError);

  // Enter in the name keeps the preset; it does not ask for takes.
  name.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    save.click();
  });
  pick.addEventListener("change", () => {
    const preset = kept.find((p) => p.name === pick.value);
    forget.hidden = !preset;
    if (!preset) return;
    const { seed, ...knobs } = preset.knobs;
    fill(knobs);
    name.value = preset.name;
  });
  save.addEventListener("click", async () => {
    const called = name.value.trim();
    if (!called) {
      name.focus();
      return toast("Name the preset first.");
    }
    try {
      const saved = await savePreset(called, knobsNow());
      show(await presets(), saved.name);
      toast(`Kept the knobs as "${saved.name}".`);
    } catch (error) {
      showError(error);
    }
  });
  forget.addEventListener("click", async () => {
    const called = pick.value;
    try {
      await deletePreset(called);
      show(await presets());
      name.value = "";
      toast(`Forgot "${called}".`);
    } catch (error) {
      showError(error);
    }
  });
  load();
  return h("div", { class: "presets", id: "presets" }, h("span", { class: "knob-name" }, "Presets"), pick, forget, name, save);
}
