"""The editor's command layer (issue 23): no move, made here or elsewhere
(another tab, the API), reads the chain or its bin again, since a move's reply
and the chain's events say all it changed, the history (what undo and redo do
next) included. In a real browser, and, for the orders of replies and events a
browser can't be made to show, under Node's test runner
(tests/js/commands.test.mjs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sparrow_common.testing.browser import card, drop_clip
from sparrow_common.testing.clips import make_clip

TAKE_S = 1  # seconds per take: the moves, not the music, are under test

# What a move used to read again: the whole chain (for its title and history)
# and its bin.
CHAIN_READ = re.compile(r"/api/chains/[0-9a-f-]{36}(/bin)?$")


def test_the_command_layer_under_node():
    """tests/js/: the commands against an API answered in the test, on the test's clock."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed (make test installs the protocol's linter with npm)")
    ran = subprocess.run(
        [node, "--test", str(Path(__file__).parent / "js")], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]


def chain_reads(page) -> list[str]:
    """The GETs of a whole chain or its bin the page makes from now on, as they happen."""
    seen: list[str] = []

    def heard(request) -> None:
        if request.method == "GET" and CHAIN_READ.search(request.url):
            seen.append(request.url)

    page.on("request", heard)
    return seen


def whole_and_bin(stack, chain_id: str) -> list[str]:
    """One read of the chain and one of its bin, as the page asks for them."""
    return sorted(f"{stack.base_url}/api/chains/{chain_id}{tail}" for tail in ("", "/bin"))


def test_no_move_made_here_or_elsewhere_reads_the_chain_again(open_page, full_stack):
    page = open_page("ann")
    reads = chain_reads(page)
    drop_clip(page, make_clip("wav", seconds=2.0), "no refetch.wav")
    expect(page).to_have_url(re.compile(r"#/chain/[0-9a-f-]{36}$"))
    expect(page.locator("#live-status")).to_have_text("live")
    chain_id = page.url.rsplit("/", 1)[1]
    # Opening the chain reads it, and its bin, once each.
    assert sorted(reads) == whole_and_bin(full_stack, chain_id)
    reads.clear()

    page.fill("#knob-count", "2")
    page.fill("#knob-duration_s", str(TAKE_S))
    page.click("#ask-takes")
    for index in range(2):
        expect(card(page, index)).to_have_attribute("data-status", "ready", timeout=60_000)
    takes = [card(page, i).get_attribute("data-node-id") for i in range(2)]
    bin_count = page.locator("#bin summary")

    # A commit: the sibling goes to the bin and undo offers it, from the reply.
    card(page, 0).get_by_role("button", name="Commit").click()
    expect(page.locator("#spine .block")).to_have_count(2)
    expect(page.locator("#takes .card")).to_have_count(0)
    expect(page.locator("#undo")).to_have_text("Undo commit of part 2")
    expect(bin_count).to_contain_text("(1)")

    # Its undo: the take and its sibling are back, and redo offers the commit.
    page.locator("#undo").click()
    expect(page.locator("#spine .block")).to_have_count(1)
    expect(page.locator("#takes .card")).to_have_count(2)
    expect(page.locator("#redo")).to_have_text(re.compile(r"^Redo commit of take \d"))
    expect(page.locator("#undo")).to_be_disabled()
    expect(bin_count).to_contain_text("(empty)")

    # A discard: in the bin, and undo offers it.
    page.locator(f"#takes .card[data-node-id='{takes[0]}']").get_by_role("button", name="Discard").click()
    expect(page.locator("#takes .card")).to_have_count(1)
    expect(page.locator("#undo")).to_have_text("Undo discard of take 1 after your clip")
    expect(bin_count).to_contain_text("(1)")

    # The discard's toast goes after 6 s of the page's own clock, long after
    # the 150 ms a burst of events waits before a read: none was made.
    expect(page.locator(".toast").filter(has_text="Discarded take 1")).to_have_count(0, timeout=20_000)
    assert reads == []

    # A discard made elsewhere: its reply says what undo does now, and its
    # events say so too, with the take as the bin holds it.
    with full_stack.client("ann") as client:
        reply = client.delete(f"/api/nodes/{takes[1]}")
    assert reply.status_code == 200
    history = reply.json()["history"]
    assert history["undo"] == {"kind": "discard", "node_id": takes[1]} and history["redo"] is None
    expect(page.locator("#takes .card")).to_have_count(0)
    expect(page.locator("#undo")).to_have_text(re.compile(r"^Undo discard of take \d after your clip$"))
    expect(bin_count).to_contain_text("(2)")
    # Its undo, from here: the history the events brought names it.
    page.locator("#undo").click()
    expect(page.locator("#takes .card")).to_have_count(1)
    expect(page.locator(f"#takes .card[data-node-id='{takes[1]}']")).to_have_count(1)
    expect(page.locator("#redo")).to_have_text(re.compile(r"^Redo discard of take \d"))
    expect(bin_count).to_contain_text("(1)")
    # Its toast goes after 6 s of the page's own clock: no read came meanwhile.
    undid = page.locator(".toast").filter(has_text="Undid the discard")
    expect(undid).to_have_count(1)
    expect(undid).to_have_count(0, timeout=20_000)
    assert reads == []
    assert page.errors == []
