"""What a musician tripped over in the editor (issue 26), each in a real
browser: the stems panel in sight, toasts that never hide a take's buttons, an
A/B that ends with a commit and a chain that keeps its settings, the page in a
musician's words, and an even layout. Screenshots under tests/screenshots/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from sparrow_common.testing.browser import ask_takes, card, commit_take, shot, start_chain

TAKE_S = 1  # seconds per take: the page, not the music, is under test


def test_stems_of_a_spine_part_come_into_sight_with_their_split_button(open_page):
    page = open_page("ann")
    page.set_viewport_size({"width": 1280, "height": 720})
    start_chain(page, "in sight")
    page.locator("#spine .block").first.get_by_role("button", name="Stems").click()
    expect(page.locator("#split-stems")).to_be_visible()
    # The model and Split are on screen, not only the panel's title at the foot of it.
    page.wait_for_function(
        """() => ["#stems-model", "#split-stems"].every((id) => {
             const box = document.querySelector(id).getBoundingClientRect();
             return box.top >= 0 && box.bottom <= innerHeight; })""",
        timeout=5_000,
    )
    shot(page, "stems-in-sight")


def test_toasts_never_stand_between_the_musician_and_a_takes_buttons(open_page):
    page = open_page("ann")
    page.set_viewport_size({"width": 1280, "height": 720})
    start_chain(page, "toasted")
    ask_takes(page, 3)
    for _ in range(2):  # four moves, four toasts
        commit_take(page, 1, parts=2)
        page.click("#undo")
        expect(page.locator("#takes .card")).to_have_count(3)
    expect(page.locator("#toasts .toast")).to_have_count(2)  # the newest two
    # The cards' buttons at the foot of the screen, where the toasts are.
    button = card(page, 2).get_by_role("button", name="Commit")
    button.evaluate("b => window.scrollBy(0, b.getBoundingClientRect().bottom - innerHeight + 24)")
    shot(page, "toasts-over-cards")
    covered = page.evaluate(
        """() => [...document.querySelectorAll("#takes .card button")].filter((b) => {
             const box = b.getBoundingClientRect();
             if (box.bottom < 0 || box.top > innerHeight || !box.width) return false;
             const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
             return !b.contains(hit); }).map((b) => b.textContent)"""
    )
    assert covered == [], covered
    # Reaching for a card, the toasts fade: what is under them shows.
    card(page, 2).hover()
    page.wait_for_function("() => getComputedStyle(document.querySelector('#toasts')).opacity < 0.5")
    shot(page, "toasts-faded")
    card(page, 2).get_by_role("button", name="Commit").click(timeout=3_000)  # clicked, not hidden
    expect(page.locator("#spine .block")).to_have_count(2)


def test_an_undone_commit_leaves_no_take_pressed_and_a_chain_keeps_its_knobs_and_export_settings(open_page):
    page = open_page("ann")
    start_chain(page, "kept")
    ask_takes(page, 2, prompt="dusty tape chords")
    card(page, 0).locator("button.ab-a").click()
    card(page, 1).locator("button.ab-b").click()
    expect(page.locator("#ab")).to_be_visible()
    commit_take(page, 0, parts=2)
    page.click("#undo")
    expect(page.locator("#takes .card")).to_have_count(2)
    # The comparison ended with the commit: back as takes, neither is A or B.
    expect(page.locator("#takes .card button.ab-a[aria-pressed=true]")).to_have_count(0)
    expect(page.locator("#takes .card button.ab-b[aria-pressed=true]")).to_have_count(0)
    expect(page.locator("#ab")).to_be_hidden()

    page.locator("#export summary").click()
    page.select_option("#export-format", "flac")
    page.locator("#export-crossfade").fill("300")
    page.check("#export-normalize")
    with page.expect_download():
        page.click("#export-button")
    shot(page, "kept-01-before-reload")

    # Opened again, the chain shows what it was last asked with.
    page.reload()
    expect(page.locator("#live-status")).to_have_text("live")
    expect(page.locator("#knob-prompt")).to_have_value("dusty tape chords")
    expect(page.locator("#knob-duration_s")).to_have_value(str(TAKE_S))
    expect(page.locator("#knob-seed")).to_have_value("")  # a seed belongs to its takes
    expect(page.locator("#export-format")).to_have_value("flac")
    expect(page.locator("#export-crossfade")).to_have_value("300")
    expect(page.locator("#export-normalize")).to_be_checked()
    shot(page, "kept-02-reopened")
    # Another chain starts from the defaults.
    page.get_by_role("link", name="← Chains").click()
    start_chain(page, "fresh")
    expect(page.locator("#knob-prompt")).to_have_value("")
    expect(page.locator("#export-format")).to_have_value("wav")


def test_the_page_speaks_a_musicians_words_and_keeps_the_terms_on_hover(open_page):
    page = open_page("ann")
    start_chain(page, "words")
    names = page.locator("#takes-form .knob-name").all_inner_texts()
    for term in ("Top-k", "Top-p", "Temperature", "Prompt window", "Guidance", "Prompt"):
        assert not any(name.split(" (")[0] == term for name in names), (term, names)
    for knob, term in (("top_k", "top-k"), ("top_p", "top-p"), ("temperature", "temperature"),
                       ("prompt_duration_s", "prompt window"), ("cfg_coef", "guidance")):
        expect(page.locator(f"label[for=knob-{knob}] .hint")).to_contain_text(term)
    expect(page.locator("label", has=page.locator("#export-normalize"))).to_have_attribute("title", re.compile("EBU R128"))
    page.get_by_role("link", name="← Chains").click()
    item = page.locator(".chain-item", has_text="words")
    expect(item).to_contain_text("1 clip ·")
    expect(item.locator("span.muted")).to_have_attribute("title", "1 nodes: the clip and every take")
    shot(page, "words-in-a-musicians-words")


def test_the_page_lays_out_evenly_and_keeps_ask_for_takes_in_sight(open_page):
    page = open_page("ann")
    page.set_viewport_size({"width": 1280, "height": 720})
    start_chain(page, "layout")
    # What a part's waveform says while its audio loads (clip_wave.js's words, in
    # its frame) shows whole: the part's rounded corner cut its first letter ("oading audio…").
    assert page.locator("#spine .block .wave-frame").first.evaluate(
        """frame => { const words = document.createElement("span");
                      words.className = "muted"; words.textContent = "loading audio…"; frame.prepend(words);
                      const text = document.createRange(); text.selectNodeContents(words);
                      const box = text.getBoundingClientRect(), part = frame.closest(".block").getBoundingClientRect();
                      words.remove();
                      return box.left >= part.left + 6 && box.right <= part.right; }"""
    )
    # Selects and number inputs alike in height; Sampling's three knobs alike in width.
    page.locator("#takes-form details summary").click()
    heights = page.eval_on_selector_all(
        "#takes-form .knob select, #takes-form .knob input[type=number]",
        "els => els.map((e) => e.getBoundingClientRect().height).filter((h) => h > 0)",  # shown ones
    )
    assert max(heights) - min(heights) <= 1, heights
    widths = [page.locator(f"label[for=knob-{k}]").bounding_box()["width"] for k in ("top_k", "top_p", "temperature")]
    assert max(widths) - min(widths) <= 1, widths
    # Two parts side by side: a part's facts whole, never cut to "…A …".
    ask_takes(page, 1)
    commit_take(page, 0, parts=2)
    for block in page.locator("#spine .block .block-facts").all():
        if block.is_visible():
            assert block.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), block.inner_text()
    # The stems model and the button after it ("Split", and "Play stems" once split) apart.
    page.locator("#spine .block").first.get_by_role("button", name="Stems").click()
    expect(page.locator("#split-stems")).to_be_visible()
    model, after = page.locator("label.stems-model").bounding_box(), page.locator("#split-stems").bounding_box()
    if abs(model["y"] - after["y"]) < 10:
        assert after["x"] - (model["x"] + model["width"]) >= 6, (model, after)
    # A disabled button looks it.
    assert float(page.locator("#redo").evaluate("el => getComputedStyle(el).opacity")) < 0.6
    shot(page, "layout")
