// The form that asks for takes, built from the API's own schema (TakesRequest
// in /openapi.json), so every knob shows exactly the range the services accept;
// where the takes continue from, when not the end, above its knobs.

import { clear, h } from "./dom.js";
import { presetBar } from "./presets.js";
import { recall, remember } from "./remembered.js";
import { stemModels } from "./stems.js";

const LABELS = {
  prompt: ["Describe it", "What the new music should sound like (the prompt)"],
  energy: ["Energy", ""],
  tempo_feel: ["Tempo feel", ""],
  density: ["Density", ""],
  cfg_coef: ["Follows the words", "How closely the take follows the description (guidance)"],
  prompt_duration_s: ["Listens back (s)", "Seconds of the music so far the model hears (the prompt window)"],
  duration_s: ["Duration (s)", "Seconds of new music per take"],
  seed: ["Seed", "Empty: a new random seed. The same seed and knobs give the same take."],
  count: ["Takes", "How many takes to make side by side"],
  top_k: ["Choices per step", "How many of the likeliest next sounds it picks among (top-k); 0: all"],
  top_p: ["Share of choices", "It picks among the likeliest sounds making up this share (top-p); 0: off"],
  temperature: ["Adventure", "Higher is wilder, lower is safer (temperature)"],
  align: ["Align", "bars: start the prompt on a downbeat and make whole bars (from the parent's tempo)"],
  prompt_source: ["Hear", "What of the music so far the model hears: the mix, or one stem alone (paid tier)"],
};
const MAIN = [
  "prompt", "energy", "tempo_feel", "density", "duration_s", "count", "cfg_coef", "prompt_duration_s", "align",
  "prompt_source", "seed",
];

// "Hear": the mix, or one stem of the default stems model.
function promptSource(prop) {
  const [label, hint] = LABELS.prompt_source;
  const select = h("select", { name: "prompt_source", id: "knob-prompt_source" },
    h("option", { value: "mix", selected: true }, "the mix"));
  stemModels().then((models) => {
    for (const stem of models[0].stems) select.append(h("option", { value: stem }, `the ${stem} alone`));
  });
  return h("label", { class: "knob", for: select.id, title: prop.description || hint },
    h("span", { class: "knob-name" }, label), select, h("small", { class: "hint" }, hint));
}
const ADVANCED = ["top_k", "top_p", "temperature"];

function numberOf(prop) {
  if (prop.anyOf) return prop.anyOf.find((p) => p.type !== "null") || {};
  return prop;
}

function field(name, prop) {
  if (name === "prompt_source") return promptSource(prop);
  const [label, hint] = LABELS[name] || [name, ""];
  const spec = numberOf(prop);
  let input;
  let range = "";
  if (spec.enum) {
    input = h("select", { name }, spec.enum.map((v) => h("option", { value: v, selected: v === prop.default }, v)));
  } else if (spec.type === "string") {
    input = h("textarea", { name, rows: 2, maxlength: spec.maxLength, placeholder: "lofi piano, warm tape, brushed drums" });
  } else {
    const integer = spec.type === "integer";
    // "any": a step counts from the minimum, and 1.0 is no step of 0.1 from 0.05.
    const step = integer ? 1 : "any";
    input = h("input", {
      name, type: "number", step, min: spec.minimum, max: spec.maximum,
      value: prop.default ?? "", placeholder: name === "seed" ? "random" : "",
    });
    if (name !== "seed") range = `${spec.minimum} to ${spec.maximum}`;
  }
  input.id = `knob-${name}`;
  return h("label", { class: "knob", for: input.id, title: prop.description || hint },
    h("span", { class: "knob-name" }, label, range && h("small", { class: "range" }, ` (${range})`)),
    input,
    hint && h("small", { class: "hint" }, hint));
}

// "Melody from": a ready node of the chain or one of its ready stems, whose
// melody the takes follow. Offered only while the model can take one.
export function melodyPicker() {
  const select = h("select", { name: "melody", id: "knob-melody", disabled: true });
  const el = h("label", { class: "knob", for: select.id, hidden: true },
    h("span", { class: "knob-name" }, "Melody from"), select,
    h("small", { class: "hint" }, "The takes follow this clip's melody"));
  let offered = null;
  return {
    el,
    // choices: [{ value: "nodeId" or "nodeId:stem", label }].
    offer(choices, allowed) {
      el.hidden = !allowed;
      select.disabled = !allowed;
      const key = JSON.stringify(choices);
      if (key === offered) return;
      offered = key;
      const kept = select.value;
      clear(select).append(h("option", { value: "" }, "none"),
        ...choices.map((c) => h("option", { value: c.value }, c.label)));
      select.value = choices.some((c) => c.value === kept) ? kept : "";
    },
    choose(melody) {
      const value = melody ? [melody.node_id, melody.stem].filter(Boolean).join(":") : "";
      select.value = [...select.options].some((o) => o.value === value) ? value : "";
    },
  };
}

function melodyOf(value) {
  const [node_id, stem] = value.split(":");
  return stem ? { node_id, stem } : { node_id };
}

// What the form asks, as the API takes it.
function bodyOf(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.value === "") continue;
    if (el.name === "melody") body.melody = melodyOf(el.value);
    // A seed's digits as typed (api.js writes them as a number): Number() rounds past 2^53.
    else if (el.name === "seed" && /^\d+$/.test(el.value)) body.seed = el.value;
    else body[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  return body;
}

// `from`: continue_point.js's ContinuePoint (its line, and from_s, with
// until_s for a stretch replaced, or place "before" for an intro, for the body).
// `chainId`: the knobs last asked with on that chain are kept (remembered.js)
// and are in the fields when it is opened again (not the seed, the melody or
// the point: they belong to those takes).
// The form's object: `el`; count(), how many takes it asks for; fill(params),
// a take's knobs back in its fields; reveal(), scroll it into view.
export function takesForm(schema, onAsk, melody = null, from = null, chainId = null) {
  const props = schema.components.schemas.TakesRequest.properties;
  const button = h("button", { type: "submit", class: "primary", id: "ask-takes" }, "Ask for takes");
  const form = h("form", { class: "takes-form", id: "takes-form", novalidate: false },
    from?.el,
    h("div", { class: "knobs" }, MAIN.filter((n) => props[n]).map((n) => field(n, props[n])),
      props.melody && melody?.el),
    h("details", {}, h("summary", {}, "Sampling"),
      h("div", { class: "knobs" }, ADVANCED.filter((n) => props[n]).map((n) => field(n, props[n])))),
    h("div", { class: "form-actions" }, button, h("span", { class: "form-error", role: "alert" })));
  // An error said of what was asked goes once anything in the form changes;
  // the intro's line follows its duration.
  if (from) from.introLength = () => Number(form.elements.duration_s?.value) || null;
  form.addEventListener("input", () => {
    form.querySelector(".form-error").textContent = "";
    if (from?.place?.() === "before") from.show();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.checkValidity()) {
      // A knob out of range may sit in the closed "Sampling" section: open it to show which.
      form.querySelector("details").open = true;
      form.reportValidity();
      return;
    }
    const asked = bodyOf(form); // the knobs as the form holds them: those remembered
    const body = { ...asked };
    if (from?.seconds() !== undefined) body.from_s = from.seconds();
    // Takes that replace a stretch run to where the part comes back: in seconds, not bars.
    if (from?.until?.() !== undefined) Object.assign(body, { until_s: from.until(), align: "seconds" });
    // Intros lead into the clip from its start, their duration the intro's length: in seconds too.
    if (from?.place?.() === "before") Object.assign(body, { place: "before", align: "seconds" });
    const error = form.querySelector(".form-error");
    error.textContent = "";
    button.disabled = true;
    try {
      await onAsk(body);
      if (chainId) {
        const { seed, melody: _, ...knobs } = asked;
        remember(chainId, "knobs", knobs);
      }
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  });
  const fill = (params) => {
    for (const [name, value] of Object.entries(params)) {
      const input = form.elements.namedItem(name);
      if (input) input.value = value ?? "";
    }
  };
  if (chainId) fill(recall(chainId, "knobs") || {});
  // What a preset keeps: the knobs the model hears, as the API's PresetBody
  // names them (not how the chain places the take), its seed aside.
  const kept = Object.keys(schema.components.schemas.PresetBody.properties).filter((name) => name !== "seed");
  const knobsNow = () => Object.fromEntries(Object.entries(bodyOf(form)).filter(([name]) => kept.includes(name)));
  form.prepend(presetBar(knobsNow, fill));
  return {
    el: form,
    count: () => Number(form.elements.count?.value) || 2,
    fill,
    reveal: () => form.scrollIntoView({ behavior: "smooth", block: "nearest" }),
    /** Ask for takes with the knobs as they are (as the button does). */
    ask: () => form.requestSubmit(button),
  };
}
