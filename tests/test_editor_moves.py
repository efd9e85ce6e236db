"""The editing moves in a real browser (issue 15): undo and redo that survive a
reload, discards to the bin and back, emptying the bin, uncommitting the tip,
forking a chain from a part, renaming the chain, more takes like one, and a
seed past what a browser's numbers hold kept exact (a form's error gone with its
cause). Each state the musician sees is saved as a screenshot under
tests/screenshots/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from sparrow_common.testing.browser import card, drop_clip, shot
from sparrow_common.testing.clips import make_clip

TAKE_S = 1  # seconds per take: the moves, not the music, are under test


def start_chain(page, name: str) -> str:
    """Drop a 2-second clip; the new chain's id."""
    drop_clip(page, make_clip("wav", seconds=2.0), f"{name}.wav")
    expect(page).to_have_url(re.compile(r"#/chain/[0-9a-f-]{36}$"))
    expect(page.locator("#live-status")).to_have_text("live")
    return page.url.rsplit("/", 1)[1]


def ask(page, count: int, prompt: str = "") -> None:
    """Ask for `count` takes after the part shown, and wait for them all."""
    before = page.locator("#takes .card").count()
    if prompt:
        page.fill("#knob-prompt", prompt)
    page.fill("#knob-count", str(count))
    page.fill("#knob-duration_s", str(TAKE_S))
    page.click("#ask-takes")
    expect(page.locator("#takes .card")).to_have_count(before + count)
    for index in range(before + count):
        expect(card(page, index)).to_have_attribute("data-status", "ready", timeout=60_000)


def commit(page, index: int, parts: int) -> None:
    card(page, index).get_by_role("button", name="Commit").click()
    expect(page.locator("#spine .block")).to_have_count(parts)


def node_id(locator) -> str:
    return locator.get_attribute("data-node-id")


def test_undo_and_redo_of_a_commit_from_buttons_and_keys_and_after_a_reload(open_page):
    page = open_page("ann")
    start_chain(page, "undo me")
    undo, redo = page.locator("#undo"), page.locator("#redo")
    expect(undo).to_be_disabled()
    expect(redo).to_be_disabled()
    ask(page, 2)
    takes = [node_id(card(page, i)) for i in range(2)]

    commit(page, 1, parts=2)
    expect(page.locator("#takes .card")).to_have_count(0)  # the sibling went to the bin
    expect(undo).to_have_text("Undo commit of part 2")
    expect(redo).to_be_disabled()
    shot(page, "30-undo-offered")

    # Undo: the spine shrinks, and both takes are back (the sibling from the bin).
    undo.click()
    expect(page.locator("#spine .block")).to_have_count(1)
    expect(page.locator("#takes .card")).to_have_count(2)
    assert sorted(node_id(card(page, i)) for i in range(2)) == sorted(takes)
    expect(redo).to_have_text(re.compile(r"^Redo commit of take 2"))
    expect(undo).to_be_disabled()
    shot(page, "31-undone")

    redo.click()
    expect(page.locator("#spine .block")).to_have_count(2)
    expect(page.locator("#takes .card")).to_have_count(0)
    expect(undo).to_have_text("Undo commit of part 2")

    # The keys: Ctrl+Z undoes, Ctrl+Shift+Z redoes.
    page.keyboard.press("Control+z")
    expect(page.locator("#spine .block")).to_have_count(1)
    expect(page.locator("#takes .card")).to_have_count(2)
    page.keyboard.press("Control+Shift+z")
    expect(page.locator("#spine .block")).to_have_count(2)

    # After a reload the chain still knows its latest move, and undoes it.
    page.reload()
    expect(page.locator("#live-status")).to_have_text("live")
    expect(undo).to_have_text("Undo commit of part 2")
    page.keyboard.press("Control+z")
    expect(page.locator("#spine .block")).to_have_count(1)
    expect(page.locator("#takes .card")).to_have_count(2)
    expect(redo).to_have_text(re.compile(r"^Redo commit of take 2"))
    shot(page, "32-undone-after-reload")

    # The help lists the moves with their keys.
    page.keyboard.press("?")
    expect(page.locator("#help")).to_contain_text("Undo the chain's latest move")
    expect(page.locator("#help")).to_contain_text("More like this")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    assert page.errors == []


def test_a_discard_goes_to_the_bin_comes_back_and_the_bin_is_emptied(open_page, full_stack):
    page = open_page("ann")
    chain_id = start_chain(page, "bin me")
    ask(page, 2)
    first, second = node_id(card(page, 0)), node_id(card(page, 1))

    card(page, 0).get_by_role("button", name="Discard").click()
    expect(page.locator("#takes .card")).to_have_count(1)
    expect(page.locator("#undo")).to_have_text("Undo discard of take 1 after your clip")
    page.locator(".toast .close").first.click()

    # The bin lists it, named as it would be back; Restore brings it back.
    page.click("#bin summary")
    items = page.locator("#bin-list .bin-item")
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-node-id", first)
    expect(items.first.locator(".bin-name")).to_have_text("take 1 after your clip")
    expect(page.locator("#bin summary")).to_contain_text("(1)")
    shot(page, "33-bin")
    items.first.get_by_role("button", name="Restore").click()
    expect(page.locator("#takes .card")).to_have_count(2)
    expect(page.locator(f"#takes .card[data-node-id='{first}']")).to_be_visible()
    expect(items).to_have_count(0)
    expect(page.locator("#bin-list")).to_contain_text("Nothing in the bin")
    expect(page.locator("#undo")).to_have_text("Undo restore of take 1 after your clip")

    # A take whose parent is in the bin too can't come back first: the row says why.
    with full_stack.client("ann") as client:
        (child,) = client.post(f"/api/nodes/{first}/takes", json={"count": 1, "duration_s": TAKE_S}).json()["nodes"]
        full_stack.wait_for(child["id"])
        assert client.delete(f"/api/nodes/{child['id']}").status_code == 200
        assert client.delete(f"/api/nodes/{first}").status_code == 200
    expect(page.locator("#takes .card")).to_have_count(1)  # the other tab's discard, live
    expect(items).to_have_count(2)
    refused = page.locator(f"#bin-list .bin-item[data-node-id='{child['id']}']")
    expect(refused.locator(".bin-name")).to_have_text("take 1 after a take in the bin")
    refused.get_by_role("button", name="Restore").click()
    expect(refused.locator(".error-text")).to_have_text("This node's parent is in the bin: restore the parent first.")
    shot(page, "34-restore-refused")
    page.locator(f"#bin-list .bin-item[data-node-id='{first}']").get_by_role("button", name="Restore").click()
    expect(page.locator("#takes .card")).to_have_count(2)
    refused.get_by_role("button", name="Restore").click()
    expect(items).to_have_count(0)

    # Empty the bin, after a confirm: gone for good.
    page.locator(f"#takes .card[data-node-id='{second}']").get_by_role("button", name="Discard").click()
    expect(items).to_have_count(1)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("#empty-bin")
    expect(page.locator(".toast").filter(has_text="Deleted 1 take for good.")).to_be_visible()
    expect(items).to_have_count(0)
    expect(page.locator("#empty-bin")).to_be_disabled()
    assert asked and "for good" in asked[0]
    with full_stack.client("ann") as client:
        assert client.get(f"/api/chains/{chain_id}/bin").json()["nodes"] == []
        assert client.get(f"/api/nodes/{second}").status_code == 404
    shot(page, "35-bin-emptied")
    assert page.errors == []


def test_the_tip_is_uncommitted_and_its_siblings_come_back(open_page):
    page = open_page("ann")
    start_chain(page, "uncommit me")
    ask(page, 2)
    # The clip alone, untouched: no move offered on it (never an uncommit, no fork of a bare clip).
    expect(page.locator("#part-moves")).to_be_hidden()
    commit(page, 0, parts=2)

    moves = page.locator("#part-moves")
    expect(moves).to_contain_text("Part 2 (the tip):")
    expect(moves.get_by_role("button", name="Uncommit part 2")).to_be_visible()
    shot(page, "36-part-moves")
    moves.get_by_role("button", name="Uncommit part 2").click()
    expect(page.locator("#spine .block")).to_have_count(1)
    expect(page.locator("#takes .card")).to_have_count(2)  # a take again, and its sibling back from the bin
    expect(page.locator("#undo")).to_have_text("Undo uncommit of take 1 after your clip")
    expect(page.locator("#uncommit-part")).to_be_hidden()
    shot(page, "37-uncommitted")
    assert page.errors == []


def test_a_fork_from_a_part_opens_a_new_chain_with_the_spine_up_to_it(open_page, full_stack):
    page = open_page("ann")
    chain_id = start_chain(page, "fork me")
    ask(page, 1)
    commit(page, 0, parts=2)
    ask(page, 1)
    commit(page, 0, parts=3)
    with full_stack.client("ann") as client:
        spine = client.get(f"/api/chains/{chain_id}/spine").json()

    page.locator("#spine .block").nth(1).locator(".block-name").click()
    expect(page.locator("#part-moves")).to_contain_text("Part 2:")
    page.get_by_role("button", name="Fork from part 2").click()
    expect(page).not_to_have_url(re.compile(chain_id))
    expect(page).to_have_url(re.compile(r"#/chain/[0-9a-f-]{36}$"))
    expect(page.locator(".editor-head h1")).to_have_text("fork me (fork)")
    expect(page.locator("#spine .block")).to_have_count(2)
    expect(page.locator("#live-status")).to_have_text("live")
    shot(page, "38-forked")
    fork_id = page.url.rsplit("/", 1)[1]
    with full_stack.client("ann") as client:
        forked = client.get(f"/api/chains/{fork_id}/spine").json()
    # The same parts, sharing the audio: nothing copied.
    assert [n["audio"] for n in forked] == [n["audio"] for n in spine[:2]]
    assert [n["params"] for n in forked] == [n["params"] for n in spine[:2]]

    page.click("a.back")
    expect(page.locator("#chains .chain-item").filter(has_text="fork me (fork)")).to_have_count(1)
    assert page.errors == []


def test_the_chain_is_renamed_in_place_and_a_refused_title_says_why(open_page):
    page = open_page("ann")
    start_chain(page, "untitled")
    other = open_page("ann")  # the same chain in a second tab
    other.goto(page.url)
    expect(other.locator("#live-status")).to_have_text("live")
    title = page.locator(".editor-head h1")

    title.click()
    page.fill("#title-input", "Night Drive")
    page.keyboard.press("Enter")
    expect(title).to_have_text("Night Drive")
    expect(page.locator("#title-input")).to_be_hidden()
    expect(other.locator(".editor-head h1")).to_have_text("Night Drive")  # chain.renamed, live

    # Refused titles say why, and Escape keeps the title as it was.
    title.click()
    page.fill("#title-input", "")
    page.keyboard.press("Enter")
    expect(page.locator(".title-error")).to_contain_text("at least 1 character")
    page.fill("#title-input", "   ")
    page.keyboard.press("Enter")
    expect(page.locator(".title-error")).to_contain_text("can't be empty")
    shot(page, "39-rename-refused")
    page.keyboard.press("Escape")
    expect(title).to_have_text("Night Drive")
    expect(page.locator(".title-error")).to_be_hidden()

    page.reload()
    expect(title).to_have_text("Night Drive")
    assert page.errors == [] and other.errors == []


def test_more_like_this_makes_takes_with_the_same_knobs_and_new_seeds(open_page):
    page = open_page("ann")
    start_chain(page, "more")
    ask(page, 1, prompt="dusty tape")
    seed = card(page, 0).locator(".seed").get_attribute("data-seed")

    page.fill("#knob-count", "2")
    card(page, 0).get_by_role("button", name="More like this").click()
    expect(page.locator("#takes .card")).to_have_count(3)
    for index in range(3):
        expect(card(page, index)).to_have_attribute("data-status", "ready", timeout=60_000)
        expect(card(page, index).locator(".knobs-summary")).to_contain_text("“dusty tape”")
    seeds = [card(page, i).locator(".seed").get_attribute("data-seed") for i in range(3)]
    assert seeds[0] == seed and len(set(seeds)) == 3, seeds
    shot(page, "40-more-like-this")
    assert page.errors == []


def test_a_seed_past_what_a_browser_number_holds_makes_the_take_it_names_and_an_error_goes_with_its_cause(
    open_page, full_stack
):
    page = open_page("ann")
    chain_id = start_chain(page, "seeds")
    error = page.locator("#takes-form .form-error")
    page.fill("#knob-count", "1")
    page.fill("#knob-duration_s", str(TAKE_S))
    page.fill("#knob-seed", "9223372036854775808")  # one past the largest
    page.click("#ask-takes")
    expect(error).to_contain_text("seed")
    page.fill("#knob-seed", "")  # its cause gone: so is the error
    expect(error).to_have_text("")
    # The largest seed, which a JavaScript number rounds to one past it.
    page.fill("#knob-seed", "9223372036854775807")
    page.click("#ask-takes")
    expect(card(page, 0)).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(card(page, 0).locator(".seed")).to_have_attribute("data-seed", "9223372036854775807")
    expect(card(page, 0).locator(".seed")).to_have_text("seed …5807")
    shot(page, "moves-14-the-largest-seed")
    with full_stack.client("ann") as client:
        (take,) = [n for n in client.get(f"/api/chains/{chain_id}").json()["nodes"] if n["parent_id"]]
    assert take["params"]["seed"] == 2**63 - 1
    # Its knobs back in the form, the seed exact: the same take can be asked again.
    card(page, 0).locator(".reuse").click()
    expect(page.locator("#knob-seed")).to_have_value("9223372036854775807")
    assert page.errors == []


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
    commit(page, 1, parts=2)
    beginning = page.locator("#spine .block").first
    expect(beginning.locator(".block-name")).to_have_text("the beginning")
    expect(beginning.locator(".play-part")).to_be_hidden()  # nothing to play, nothing loaded
    expect(beginning.locator(".error-text")).to_have_count(0)
    # The spine now plays the take: the beginning has no audio of its own.
    expect(page.locator("#spine-duration")).to_have_text(f"2 parts · 0:0{TAKE_S}.0")
    page.click("#play-spine")
    expect(page.locator("#now-playing")).to_contain_text("Playing")
    shot(page, "words-03-committed")


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
    ask(page, 3)
    for _ in range(2):  # four moves, four toasts
        commit(page, 1, parts=2)
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
    ask(page, 2, prompt="dusty tape chords")
    card(page, 0).locator("button.ab-a").click()
    card(page, 1).locator("button.ab-b").click()
    expect(page.locator("#ab")).to_be_visible()
    commit(page, 0, parts=2)
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
    ask(page, 1)
    commit(page, 0, parts=2)
    for block in page.locator("#spine .block .block-facts").all():
        if block.is_visible():
            assert block.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), block.inner_text()
    # The stems model and "Play stems" apart.
    page.locator("#spine .block").first.get_by_role("button", name="Stems").click()
    page.click("#split-stems")
    expect(page.locator("#play-stems")).to_be_visible(timeout=120_000)
    model, play = page.locator("label.stems-model").bounding_box(), page.locator("#play-stems").bounding_box()
    if abs(model["y"] - play["y"]) < 10:
        assert play["x"] - (model["x"] + model["width"]) >= 6, (model, play)
    # A disabled button looks it.
    assert float(page.locator("#redo").evaluate("el => getComputedStyle(el).opacity")) < 0.6
    shot(page, "layout")
