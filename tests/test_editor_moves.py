"""The editing moves in a real browser (issue 15): undo and redo that survive a
reload, discards to the bin and back, emptying the bin, uncommitting the tip,
forking a chain from a part, renaming the chain, more takes like one, and a
seed past what a browser's numbers hold kept exact (a form's error gone with its
cause). Each state the musician sees is saved as a screenshot under
tests/screenshots/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from sparrow_common.testing.browser import ask_takes, card, commit_take, shot, start_chain

TAKE_S = 1  # seconds per take: the moves, not the music, are under test


def ask(page, count: int, prompt: str = "") -> None:
    ask_takes(page, count, prompt, TAKE_S)


def commit(page, index: int, parts: int) -> None:
    commit_take(page, index, parts)


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
