"""The editor's timeline in a real browser (the musician's tool, issue 15 item 6):
the time ruler with its bar numbers, zoom, the map of the chain, a looped
stretch of the spine, and takes that continue from a point of their parent,
whose commit gives the parent an out point. Against every service with tiny
random models and the analysis worker; screenshots under tests/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sparrow_common.audio import decode, encode_wav
from sparrow_common.testing.browser import card, drop_clip, open_editor, shot
from sparrow_common.testing.clips import make_clip
from sparrow_common.testing.songs import song


@pytest.fixture
def page(browser, listening):
    """The editor, signed in as ann, on the stack that hears every clip."""
    context, opened = open_editor(browser, listening, "ann")
    yield opened
    context.close()


def seconds(text: str) -> float:
    """The seconds of the first m:ss.s in `text`."""
    minutes, rest = re.search(r"(\d+):(\d\d(?:\.\d+)?)", text).groups()
    return int(minutes) * 60 + float(rest)


def point_words(t: float) -> str:
    """Seconds as the editor writes a point: 0:01.50."""
    return f"{int(t // 60)}:{t % 60:05.2f}"


def width(page, selector: str) -> float:
    return page.locator(selector).evaluate("el => el.getBoundingClientRect().width")


def ruler_x(page, t: float, length: float) -> tuple[float, float]:
    """Where second `t` of a one-part spine `length` seconds long is on the ruler, on screen."""
    box = page.locator("#ruler").bounding_box()
    return box["x"] + box["width"] * t / length, box["y"] + box["height"] / 2


def test_the_ruler_counts_seconds_and_bars_and_zoom_widens_the_timeline(page):
    groove = encode_wav(song(120.0, 4, "A minor", bars=6, sample_rate=44100, seed=5)[None], 44100)
    drop_clip(page, groove, "groove.wav")
    expect(page.locator("#spine .block")).to_have_count(1)
    # Seconds at a step that fits the width: every second of twelve.
    labels = page.locator("#ruler .tick-label")
    expect(labels.first).to_have_text("0:00")
    expect(labels).to_contain_text(["0:00", "0:01", "0:02", "0:05", "0:10", "0:12"])
    # Sparrow hears the tempo: the bars are numbered across the spine.
    numbers = page.locator("#ruler .bar-number")
    expect(numbers.first).to_have_text("1", timeout=60_000)
    expect(page.locator("#ruler")).to_have_class(re.compile("has-bars"))
    assert numbers.all_inner_texts()[:5] == ["1", "2", "3", "4", "5"]
    shot(page, "20-ruler")

    fit = width(page, ".spine-track")
    scroller = page.locator("#spine-scroll")
    assert scroller.evaluate("el => el.scrollWidth <= el.clientWidth")
    page.click("#zoom-in")
    expect(page.locator("#zoom-level")).to_have_text("×1.5")
    assert width(page, ".spine-track") == pytest.approx(fit * 1.5, rel=0.02)
    page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("×2")
    assert width(page, ".spine-track") == pytest.approx(fit * 2, rel=0.02)
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")  # scrolled sideways
    # Ctrl+wheel zooms around the pointer.
    page.locator("#spine .block").first.hover()
    page.keyboard.down("Control")
    page.mouse.wheel(0, -120)
    page.keyboard.up("Control")
    expect(page.locator("#zoom-level")).to_have_text("×3")
    # Closer in, the ruler counts tenths.
    page.keyboard.press("+")
    page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("×6")
    expect(labels).to_contain_text([re.compile(r"^0:0\d\.[1-9]$")])
    shot(page, "21-zoomed")
    page.keyboard.press("-")
    page.keyboard.press("-")
    page.keyboard.press("-")
    expect(page.locator("#zoom-level")).to_have_text("×2")

    # The zoom holds while the chain lives: a take comes and goes through its events.
    page.fill("#knob-count", "1")
    page.fill("#knob-duration_s", "1")
    page.click("#ask-takes")
    expect(card(page, 0)).to_have_attribute("data-status", "ready", timeout=90_000)
    expect(page.locator("#zoom-level")).to_have_text("×2")
    assert width(page, ".spine-track") == pytest.approx(fit * 2, rel=0.02)
    page.click("#zoom-fit")
    expect(page.locator("#zoom-level")).to_have_text("×1")
    assert width(page, ".spine-track") == pytest.approx(fit, rel=0.02)

    # "?" lists every key and move.
    page.keyboard.press("?")
    help_panel = page.locator("#help")
    expect(help_panel).to_be_visible()
    expect(help_panel).to_contain_text("Zoom the timeline in or out")
    expect(help_panel).to_contain_text("Loop that stretch of the spine")
    shot(page, "22-help")
    page.keyboard.press("Escape")
    expect(help_panel).to_be_hidden()
    page.click("#help-open")
    expect(help_panel).to_be_visible()
    help_panel.get_by_role("button", name="Close").click()
    expect(help_panel).to_be_hidden()
    assert page.errors == []


def test_a_stretch_of_the_spine_loops_until_stopped_and_the_loop_clears(page):
    drop_clip(page, make_clip("wav", seconds=4.0), "loop.wav")
    expect(page.locator("#spine .block canvas").first).to_be_attached()
    now_playing = page.locator("#now-playing")
    chip = page.locator("#loop-chip")
    expect(chip).to_be_hidden()

    # Drag from 1 s to 3 s on the ruler: that stretch loops.
    page.mouse.move(*ruler_x(page, 1.0, 4.0))
    page.mouse.down()
    page.mouse.move(*ruler_x(page, 3.0, 4.0), steps=5)
    page.mouse.up()
    expect(now_playing).to_contain_text(re.compile(r"Looping 0:01\.0 – 0:03\.0 of the spine"))
    expect(chip).to_contain_text(re.compile(r"Loop 0:01\.0 – 0:03\.0"))
    expect(page.locator("#loop-region")).to_be_visible()
    expect(page.locator("#play-spine")).to_have_text("■ Stop")
    shot(page, "23-loop")
    # Past its end it starts over, and never leaves the stretch.
    page.wait_for_timeout(2_600)
    expect(now_playing).to_contain_text("Looping")
    assert 0.9 <= seconds(now_playing.inner_text().split("·")[-1]) <= 3.1
    page.keyboard.press("Space")
    expect(now_playing).to_have_text("Stopped")
    page.keyboard.press("Space")  # the spine plays its loop again
    expect(now_playing).to_contain_text("Looping 0:01.0")

    # The loop exports alone, to repeat: a WAV that says so in its smpl chunk.
    page.locator("#export summary").click()
    page.check("#export-loop")
    expect(page.locator("#export-stems")).to_be_disabled()
    with page.expect_download() as download:
        page.click("#export-button")
    data = Path(download.value.path()).read_bytes()
    assert b"smpl" in data and download.value.suggested_filename.endswith("loop.wav")
    assert abs(decode(data, 32000, 1).shape[-1] / 32000 - 2.0) <= 0.01  # no grid: the stretch as selected
    page.uncheck("#export-loop")
    page.locator("#export summary").click()

    # Cleared, the spine plays on from where it was, to its end.
    page.click("#loop-clear")
    expect(chip).to_be_hidden()
    expect(page.locator("#loop-region")).to_be_hidden()
    expect(now_playing).to_contain_text("Playing the spine")
    expect(now_playing).to_have_text("Stopped", timeout=10_000)

    # The keys: L loops the part shown (and clears), shift-click loops from the last point.
    page.keyboard.press("l")
    expect(chip).to_contain_text(re.compile(r"Loop 0:00\.0 – 0:04\.0"))
    expect(now_playing).to_contain_text("Looping")
    page.keyboard.press("l")
    expect(chip).to_be_hidden()
    page.keyboard.press("Escape")
    page.mouse.click(*ruler_x(page, 0.5, 4.0))  # a click plays from there
    expect(now_playing).to_contain_text("Playing the spine · 0:0")
    page.keyboard.press("Escape")
    x, y = ruler_x(page, 2.5, 4.0)
    page.keyboard.down("Shift")
    page.mouse.click(x, y)
    page.keyboard.up("Shift")
    expect(chip).to_contain_text(re.compile(r"Loop 0:00\.5 – 0:02\.5"))
    expect(now_playing).to_contain_text("Looping 0:00.5")
    page.keyboard.press("Escape")
    # "]" ends the loop where the spine is (its last point: 0.5 s)... "[" starts it there.
    page.keyboard.press("[")
    expect(chip).to_contain_text(re.compile(r"Loop 0:00\.5 – 0:02\.5"))
    page.keyboard.press("l")
    expect(chip).to_be_hidden()
    page.keyboard.press("]")
    expect(chip).to_contain_text(re.compile(r"Loop 0:00\.0 – 0:00\.5"))
    assert page.errors == []


def test_takes_continue_from_a_point_and_committed_the_parent_stops_there(page):
    drop_clip(page, make_clip("wav", seconds=4.0), "idea.wav")
    root = page.locator("#spine .block").first
    wave = root.locator(".wave")
    expect(root.locator("canvas").first).to_be_attached()
    expect(page.locator("#spine-duration")).to_have_text("1 part · 0:04.0")
    box = wave.bounding_box()

    # A point at the very end is no point to continue from: the server says why.
    wave.click(position={"x": box["width"] - 1, "y": box["height"] / 2})
    page.keyboard.press("Escape")
    root.locator(".continue-here").click()
    expect(page.locator("#from-point")).to_contain_text(re.compile(r"Takes continue from 0:0[34]\.\d\d of your clip"))
    page.fill("#knob-count", "1")
    page.fill("#knob-duration_s", "1")
    page.click("#ask-takes")
    expect(page.locator(".form-error")).to_contain_text("is not before its end")
    expect(page.locator("#takes .card")).to_have_count(0)

    # Halfway: the take continues from there.
    wave.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    expect(page.locator("#now-playing")).to_contain_text("Playing the spine · 0:0")
    page.keyboard.press("Escape")
    page.keyboard.press("f")  # F: from the point marked
    point = page.locator("#from-point")
    expect(point).to_contain_text(re.compile(r"Takes continue from 0:0[12]\.\d\d of your clip"))
    from_s = seconds(point.inner_text())
    assert 1.8 < from_s < 2.2
    shot(page, "24-continue-from")
    page.click("#ask-takes")
    take = card(page, 0)
    expect(take.locator(".from-label")).to_have_text(re.compile(r"^from 0:0[12]\.\d\d$"))
    assert seconds(take.locator(".from-label").inner_text()) == pytest.approx(from_s, abs=0.006)
    expect(take).to_have_attribute("data-status", "ready", timeout=90_000)
    expect(page.locator(".form-error")).to_have_text("")
    take_s = seconds(take.locator(".status").inner_text())
    # Back to the end, then the take's knobs again: its point with them (the same take would come back).
    page.click("#from-clear")
    expect(point).to_be_hidden()
    take.locator("button.reuse").click()
    expect(point).to_contain_text(f"from {point_words(from_s)} of your clip")
    page.locator(".toast .close").click()

    # Committed: the parent stops at the point (its block cut there), and the spine is shorter.
    take.get_by_role("button", name="Commit").click()
    expect(page.locator("#spine .block")).to_have_count(2)
    expect(root).to_have_class(re.compile(r"\bcut\b"))
    expect(root.locator(".out-mark")).to_be_visible()
    expect(root.locator(".block-length")).to_contain_text(" of 0:04.0")
    expect(page.locator("#from-point")).to_be_hidden()  # the point was the root's
    duration = page.locator("#spine-duration")
    expect(duration).to_contain_text("2 parts")
    assert seconds(duration.inner_text()) == pytest.approx(from_s + take_s, abs=0.11)
    assert seconds(duration.inner_text()) < 4.0 + take_s - 1.0
    expect(page.locator("#spine .block").nth(1).locator(".block-from")).to_contain_text("from 0:0")
    # The spine plays the root to its out point, then the take.
    page.click("#play-spine")
    expect(page.locator("#now-playing")).to_contain_text(f"/ {duration.inner_text().split('· ')[-1]}")
    page.keyboard.press("Escape")
    shot(page, "25-out-point")
    # A point of the root now: the spine goes on after it, and the form says what committing would need.
    wave.click(position={"x": box["width"] / 4, "y": box["height"] / 2})
    page.keyboard.press("Escape")
    page.keyboard.press("f")
    expect(page.locator("#from-warning")).to_have_text(
        "The spine goes on after your clip: to commit one of these takes, uncommit the part after it first."
    )
    page.click("#from-clear")
    assert page.errors == []


def test_the_map_shows_every_branch_with_the_spine_and_a_click_shows_a_take(page, listening):
    with listening.client() as client:
        chain = client.post("/api/chains", files={"file": ("branches.wav", make_clip("wav", seconds=2.0))}).json()
        root_id = chain["root"]["id"]

        def takes(parent: str, count: int) -> list[str]:
            made = client.post(f"/api/nodes/{parent}/takes", json={"count": count, "duration_s": 1}).json()["nodes"]
            ids = [node["id"] for node in made]
            for node_id in ids:
                assert listening.wait_for(node_id)["status"] == "ready"
            return ids

        first, binned = takes(root_id, 2)
        assert client.post(f"/api/nodes/{first}/commit").status_code == 200  # `binned` goes to the bin
        after_first = takes(first, 3)
        nested = takes(after_first[0], 1)[0]  # a take of a take
        again = takes(root_id, 1)[0]  # another branch off the root
        assert client.delete(f"/api/nodes/{after_first[2]}").status_code == 200
    page.goto(f"{listening.base_url}/#/chain/{chain['id']}")

    tree = page.locator("#tree-map")
    nodes = tree.locator(".tree-node")
    # Root, part 2, its two takes left, the take of a take, the root's new take: not those in the bin.
    expect(nodes).to_have_count(6)
    expect(tree.locator(".tree-node[data-spine=true]")).to_have_count(2)
    expect(tree.locator(".tree-edge.spine")).to_have_count(1)
    for gone in (binned, after_first[2]):
        expect(tree.locator(f".tree-node[data-node-id='{gone}']")).to_have_count(0)
    expect(tree.locator(f".tree-node[data-node-id='{again}']")).to_have_attribute("data-status", "ready")
    expect(tree.locator(".tree-node.selected")).to_have_attribute("data-node-id", first)  # the tip's takes shown
    shot(page, "26-tree-map")

    # A take off the root: the root's takes show, with it in focus.
    tree.locator(f".tree-node[data-node-id='{again}']").click()
    expect(page.locator("#spine .block").first).to_have_class(re.compile("selected"))
    expect(page.locator("#takes .card")).to_have_count(1)
    expect(page.locator(f"#takes .card[data-node-id='{again}']")).to_have_class(re.compile("focused"))
    expect(tree.locator(f".tree-node[data-node-id='{again}']")).to_have_class(re.compile("focused"))
    # The take of a take: its parent's takes.
    tree.locator(f".tree-node[data-node-id='{nested}']").click()
    expect(page.locator("#takes .card")).to_have_count(1)
    expect(page.locator(f"#takes .card[data-node-id='{nested}']")).to_have_class(re.compile("focused"))
    # A part of the spine: its takes.
    tree.locator(f".tree-node[data-node-id='{first}']").click()
    expect(page.locator("#spine .block").nth(1)).to_have_class(re.compile("selected"))
    expect(page.locator("#takes .card")).to_have_count(2)
    page.wait_for_timeout(500)  # wavesurfer redraws a card shown again after its resize debounce
    shot(page, "27-tree-map-picked")
    assert page.errors == []
