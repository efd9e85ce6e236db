// The chain's title in the editor's head; clicked, it turns into a field:
// Enter saves, Escape (or leaving it) cancels. A title refused says why.

import { h } from "./dom.js";

export class TitleEditor {
  // save(title): a promise of the title kept, rejected with why not.
  constructor(title, save) {
    this.save = save;
    this.button = h("button", { class: "title-button", title: "Rename this chain", onclick: () => this.edit() }, title);
    this.heading = h("h1", {}, this.button);
    this.input = h("input", { type: "text", class: "title-input", id: "title-input", maxlength: 200,
      "aria-label": "The chain's title", hidden: true });
    this.error = h("span", { class: "error-text title-error", role: "alert", hidden: true });
    this.el = h("div", { class: "chain-title" }, this.heading, this.input, this.error);
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.commit();
      else if (event.key === "Escape") this.cancel();
      else return;
      event.preventDefault();
    });
    this.input.addEventListener("blur", () => { if (!this.saving) this.cancel(); });
    this.saving = false;
  }

  /** Show `title` (unless it is being edited). */
  show(title) {
    if (this.button.textContent !== title) this.button.textContent = title;
  }

  edit() {
    this.input.value = this.button.textContent;
    this.heading.hidden = true;
    this.input.hidden = false;
    this.input.focus();
    this.input.select();
  }

  cancel() {
    this.input.hidden = true;
    this.heading.hidden = false;
    this.error.hidden = true;
  }

  async commit() {
    this.saving = true;
    try {
      this.show(await this.save(this.input.value));
      this.cancel();
      this.button.focus();
    } catch (failure) {
      this.error.textContent = failure.message;
      this.error.hidden = false;
      this.input.focus();
    } finally {
      this.saving = false;
    }
  }
}
