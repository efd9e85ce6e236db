"""Starting a chain in the browser, beside dropping a clip: from words, from a
recording (Chromium's fake microphone), and with knobs kept as presets. Each
state the musician sees is saved as a screenshot under tests/screenshots/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from sparrow_common.testing.browser import card, commit_take, shot, start_chain

TAKE_S = 1  # seconds per take: the page, not the music, is under test


def test_a_chain_started_from_words_plays_its_takes_and_a_commit_starts_the_spine(open_page):
    page = open_page("ann")
    page.click("#words-start")  # no words yet: said beside the button, nothing sent
    expect(page.locator(".words-status")).to_have_text("Say what the takes are to play.")
    page.fill("#words-prompt", "slow organ chords")
    expect(page.locator(".words-status")).to_have_text("")
    page.fill("#words-count", "2")
    page.fill("#words-seconds", str(TAKE_S))
    shot(page, "words-01-form")
    page.click("#words-start")
    expect(page).to_have_url(re.compile(r"#/chain/[0-9a-f-]{36}$"))
    expect(page.locator(".editor-head h1")).to_have_text("slow organ chords")
    expect(page.locator("#takes .card")).to_have_count(2)
    for index in range(2):
        expect(card(page, index)).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(card(page, 0).locator(".knobs-summary")).to_contain_text("“slow organ chords”")
    shot(page, "words-02-takes")
    commit_take(page, 1, parts=2)
    beginning = page.locator("#spine .block").first
    expect(beginning.locator(".block-name")).to_have_text("the beginning")
    expect(beginning.locator(".play-part")).to_be_hidden()  # nothing to play, nothing loaded
    expect(beginning.locator(".error-text")).to_have_count(0)
    # The spine now plays the take: the beginning has no audio of its own.
    expect(page.locator("#spine-duration")).to_have_text(f"2 parts · 0:0{TAKE_S}.0")
    page.click("#play-spine")
    expect(page.locator("#now-playing")).to_contain_text("Playing")
    shot(page, "words-03-committed")


def test_a_chain_starts_from_a_recording_with_its_level_shown_while_it_records(open_page):
    """Chromium's fake microphone (a beep) stands in for the musician's."""
    page = open_page("ann")
    page.click("#record")
    expect(page.locator("#record")).to_have_text("■ Stop recording")
    expect(page.locator("#record-level")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#record-level').value > 0.01")  # it hears the beeps
    expect(page.locator("#record-clock")).to_have_text(re.compile(r"0:0[2-9]\.\d"), timeout=10_000)
    shot(page, "record-01-recording")
    page.click("#record")
    # The recording starts a chain as a dropped file does.
    expect(page).to_have_url(re.compile(r"#/chain/[0-9a-f-]{36}$"))
    expect(page.locator(".editor-head h1")).to_contain_text("recording")
    length = page.locator("#spine .block .block-length").first
    expect(length).to_have_text(re.compile(r"0:0[2-9]\.\d"))
    expect(page.locator("#spine .block canvas").first).to_be_attached()
    shot(page, "record-02-chain")
    assert page.errors == []


def test_knobs_kept_as_a_preset_come_back_on_any_chain_and_are_the_musicians_own(open_page):
    page = open_page("ann")
    start_chain(page, "presets")
    page.fill("#knob-prompt", "warm rhodes, brushed drums")
    page.fill("#knob-duration_s", "7")
    page.fill("#preset-name", "Rhodes ballad")
    page.click("#preset-save")
    expect(page.locator("#preset-pick")).to_have_value("Rhodes ballad")
    shot(page, "preset-01-kept")
    # Another chain, the form elsewhere: the preset puts its knobs back.
    page.get_by_role("link", name="← Chains").click()
    start_chain(page, "presets again")
    expect(page.locator("#knob-prompt")).to_have_value("")
    page.select_option("#preset-pick", "Rhodes ballad")
    expect(page.locator("#knob-prompt")).to_have_value("warm rhodes, brushed drums")
    expect(page.locator("#knob-duration_s")).to_have_value("7")
    # Enter in the name keeps a preset; it asks for no takes.
    page.fill("#knob-prompt", "dry piano")
    page.fill("#preset-name", "Dry")
    page.locator("#preset-name").press("Enter")
    expect(page.locator("#preset-pick option")).to_have_text(["a preset…", "Dry", "Rhodes ballad"])
    expect(page.locator("#takes .card")).to_have_count(0)
    # Kept with the account: not another musician's.
    other = open_page("bob")
    other.get_by_role("button", name="or choose a file").wait_for()
    start_chain(other, "bobs")
    expect(other.locator("#preset-pick option")).to_have_text(["no presets yet"])
    # Forgotten, gone.
    for name in ("Dry", "Rhodes ballad"):
        page.select_option("#preset-pick", name)
        page.click("#preset-forget")
        expect(page.locator("#preset-pick option", has_text=name)).to_have_count(0)
    assert page.errors == []
