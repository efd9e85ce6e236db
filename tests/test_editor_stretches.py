"""Replacing a stretch in a real browser (issue 24): a loop dragged on the
ruler inside one part, snapped to its bars, is offered "Replace this stretch"
(refused in words when too short or across parts); the takes asked say where
the part comes back; A/B loops through both joins; committed on a part the
spine goes on after, the spine plays the part to the stretch, the take, the
rest of the part from its in point (drawn from there, clicked on in spine
seconds), then the part that followed, all from the chain's events; undo (and
an uncommit of the take, from the part's moves) gives the two parts back.
"Write an intro" on the first part asks takes that lead into the clip; each
says where the clip comes in; committed, the spine shows the intro, then the
clip from its first downbeat (the root, which plays nothing, is not drawn);
undo gives the clip alone; a loop exported with Glue asks for it and comes
down. On the stack that hears every clip; screenshots under tests/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sparrow_common.audio import encode_wav
from sparrow_common.testing.browser import ask_takes, card, commit_take, drop_clip, open_editor, shot
from sparrow_common.testing.songs import song

SONG_S = 12.5  # six bars of 4/4 at 120 bpm, and the last chord's tail
HEARD = re.compile(r"^\d+(\.\d)? bpm · \d+/\d+ · [A-G][#b]? (major|minor)$")


@pytest.fixture
def page(browser, listening):
    """The editor, signed in as ann, on the stack that hears every clip."""
    context, opened = open_editor(browser, listening, "ann")
    opened.on("dialog", lambda dialog: dialog.accept())  # a take that fades out asks before its commit
    yield opened
    context.close()


def seconds(text: str) -> float:
    """The seconds of the first m:ss.s in `text`."""
    minutes, rest = re.search(r"(\d+):(\d\d(?:\.\d+)?)", text).groups()
    return int(minutes) * 60 + float(rest)


def drag_on_ruler(page, start_x: float, end_x: float) -> None:
    """Drag on the ruler from `start_x` to `end_x` (pixels on screen): a loop."""
    ruler = page.locator("#ruler").bounding_box()
    y = ruler["y"] + ruler["height"] / 2
    page.mouse.move(start_x, y)
    page.mouse.down()
    page.mouse.move(end_x, y, steps=6)
    page.mouse.up()
    page.keyboard.press("Escape")  # the loop plays: stop it


def middle(locator) -> float:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2


def test_a_stretch_is_replaced_the_rest_of_the_part_plays_from_its_in_point_and_undo_puts_it_back(page, listening):
    groove = encode_wav(song(120.0, 4, "A minor", bars=6, sample_rate=44100, seed=5)[None], 44100)
    drop_clip(page, groove, "groove.wav")
    root = page.locator("#spine .block").first
    expect(root.locator(".block-facts")).to_have_text(HEARD, timeout=60_000)
    expect(root.locator("canvas").first).to_be_attached()
    with listening.client() as client:
        bars = client.get(f"/api/nodes/{root.get_attribute('data-node-id')}").json()["grid"]["downbeats_s"]
    # The spine goes on after the groove: a take of a second from its end.
    ask_takes(page, 1, seconds=1)
    commit_take(page, 0, 2)
    blocks = page.locator("#spine .block")
    after_id = blocks.nth(1).get_attribute("data-node-id")
    whole = page.locator("#spine-duration").inner_text()  # "2 parts · 0:13.5"
    replace = page.locator("#replace-stretch")
    expect(replace).to_be_hidden()  # no loop, nothing to replace
    groove_box = root.locator(".block-wave").bounding_box()
    x = lambda t: groove_box["x"] + groove_box["width"] * t / SONG_S  # noqa: E731  (the groove plays whole)

    # Half a second (two beats, snapped): too short to replace, and the button says so.
    drag_on_ruler(page, x(bars[1] + 0.02), x(bars[1] + 0.52))
    expect(page.locator("#loop-chip")).to_be_visible()
    expect(replace).to_be_disabled()
    expect(replace).to_have_attribute("title", re.compile("at least 1 s"))

    # Bar 2 to bar 4, dragged a little off the bar lines: it snaps to them.
    drag_on_ruler(page, x(bars[1] + 0.03), x(bars[3] - 0.04))
    expect(page.locator("#snap-guide")).to_have_attribute("data-snap", "bar")
    expect(replace).to_be_enabled()
    shot(page, "90-stretch-looped")
    page.fill("#knob-count", "2")
    page.fill("#knob-prompt", "a fill")
    replace.click()
    words = page.locator("#from-point")
    expect(words).to_contain_text(re.compile(r"Takes replace 0:0\d\.\d\d–0:0\d\.\d\d of your clip"))
    from_s, until_s = (seconds(t) for t in re.findall(r"\d+:\d\d\.\d\d", words.inner_text()))
    assert from_s == pytest.approx(bars[1], abs=0.006) and until_s == pytest.approx(bars[3], abs=0.006)
    expect(page.locator("#takes .card")).to_have_count(2)
    for index in range(2):
        expect(card(page, index)).to_have_attribute("data-status", "ready", timeout=90_000)
        # Heard: where the part comes back, near the asked end (within a bar), in words and for the test.
        expect(card(page, index).locator(".rejoin")).to_contain_text(re.compile(r"^Comes back at \d+\.\d\d s"), timeout=90_000)
        at_s = float(card(page, index).get_attribute("data-rejoin"))
        assert abs(at_s - until_s) <= 2.1 and from_s + 1 < at_s < SONG_S, at_s
    shot(page, "91-stretch-takes")

    # A/B loops through the stretch and back into the part.
    card(page, 0).locator("button.ab-a").click()
    card(page, 1).locator("button.ab-b").click()
    page.click("#ab-loop")
    expect(page.locator("#ab-range")).to_contain_text(re.compile(r"^A loops 0:0\d\.\d before the stretch.* to where the part comes back at 0:\d\d\.\d"))
    expect(page.locator("#now-playing")).to_contain_text("Looping the stretch · A")
    page.click("#ab-original")  # the groove as it is, over the same span
    expect(page.locator("#now-playing")).to_contain_text("Looping the stretch · Original (your clip)")
    expect(page.locator("#ab-range")).to_contain_text("The original loops")
    page.keyboard.press("Escape")

    # Committed: the clip to the stretch, the take to where the clip comes back,
    # the rest of the clip, then the part that followed it (moved under the rest by its events).
    take = card(page, 0)
    at_s = float(take.get_attribute("data-rejoin"))
    take.get_by_role("button", name="Commit").click()
    expect(blocks).to_have_count(4)
    # As long as before: the take plays exactly the stretch it replaces, to where the clip comes back.
    expect(page.locator("#spine-duration")).to_have_text(whole.replace("2 parts", "4 parts"))
    rest = blocks.nth(2)
    expect(rest.locator(".block-name")).to_have_text("part 3")
    expect(blocks.nth(3)).to_have_attribute("data-node-id", after_id)
    expect(blocks.nth(3).locator(".block-name")).to_have_text("part 4")
    played, of = (seconds(t) for t in re.findall(r"\d+:\d\d\.\d", rest.locator(".block-length").inner_text()))
    assert played == pytest.approx(SONG_S - at_s, abs=0.06) and of == pytest.approx(SONG_S, abs=0.06)
    expect(rest.locator(".block-from")).to_have_text(re.compile(r"^back at 0:\d\d\.\d\d$"))
    assert seconds(rest.locator(".block-from").inner_text()) == pytest.approx(at_s, abs=0.006)
    expect(rest.locator(".in-mark")).to_be_visible()
    assert seconds(root.locator(".block-length").inner_text()) == pytest.approx(from_s, abs=0.06)
    expect(rest.locator("canvas").first).to_be_attached()
    # Its waveform is the clip's, shifted so the in point is the block's left edge.
    frame = rest.locator(".wave-frame").bounding_box()
    edge = rest.locator(".block-wave").bounding_box()
    assert frame["x"] + frame["width"] * at_s / SONG_S == pytest.approx(edge["x"], abs=1.5)
    assert frame["width"] * (SONG_S - at_s) / SONG_S == pytest.approx(edge["width"], abs=2.0)
    shot(page, "92-stretch-committed")

    # A click on the rest plays the spine from there: the rest starts where the take gave way (at_s on the spine).
    wave = rest.locator(".wave")
    box = wave.bounding_box()
    clicked = at_s + 1.1  # seconds of the clip's audio
    wave.click(position={"x": box["width"] * clicked / SONG_S, "y": box["height"] / 2})
    guide = page.locator("#snap-guide")
    expect(guide).to_be_visible()
    spine_t = float(guide.get_attribute("data-t"))
    assert abs(spine_t - clicked) <= 0.3, (spine_t, clicked)  # snapped to a beat of the clip, on the spine's clock
    ruler = page.locator("#ruler").bounding_box()
    guide_x = float(guide.evaluate("el => parseFloat(el.style.left)"))
    assert ruler["x"] + guide_x == pytest.approx(box["x"] + box["width"] * spine_t / SONG_S, abs=2.0)
    now_playing = page.locator("#now-playing")
    expect(now_playing).to_contain_text("Playing the spine · ")
    assert spine_t - 0.1 <= seconds(now_playing.inner_text()) <= spine_t + 3.0, now_playing.inner_text()
    page.keyboard.press("Escape")

    # A loop across two parts can't be replaced: the button says why.
    drag_on_ruler(page, middle(root.locator(".block-wave")), middle(blocks.nth(1).locator(".block-wave")))
    expect(replace).to_be_disabled()
    expect(replace).to_have_attribute("title", re.compile("more than one part"))
    page.click("#loop-clear")

    # Undo: the groove played whole again, then the part after it, the takes back beside each other.
    page.click("#undo")
    expect(blocks).to_have_count(2)
    expect(page.locator("#spine-duration")).to_have_text(whole)
    expect(blocks.nth(1)).to_have_attribute("data-node-id", after_id)
    expect(root).not_to_have_class(re.compile(r"\bcut\b"))
    expect(root.locator(".block-length")).to_have_text("0:12.5")
    expect(page.locator("#takes .card")).to_have_count(2)
    shot(page, "93-stretch-undone")

    # Redone, it is back; uncommitted from the part's moves (it needs not be the tip), the stretch comes back again.
    page.click("#redo")
    expect(blocks).to_have_count(4)
    expect(blocks.nth(2).locator(".in-mark")).to_be_visible()
    blocks.nth(1).locator(".block-name").click()
    uncommit = page.locator("#uncommit-part")
    expect(uncommit).to_have_text("Uncommit part 2")
    uncommit.click()
    expect(blocks).to_have_count(2)
    expect(page.locator("#spine-duration")).to_have_text(whole)
    expect(blocks.nth(1)).to_have_attribute("data-node-id", after_id)
    assert page.errors == []


def test_an_intro_leads_into_the_clip_undo_takes_it_off_and_a_loop_exports_glued(page, listening):
    groove = encode_wav(song(120.0, 4, "A minor", bars=6, sample_rate=44100, seed=5)[None], 44100)
    drop_clip(page, groove, "groove.wav")
    blocks = page.locator("#spine .block")
    root = blocks.first
    expect(root.locator(".block-facts")).to_have_text(HEARD, timeout=60_000)
    with listening.client() as client:
        bars = client.get(f"/api/nodes/{root.get_attribute('data-node-id')}").json()["grid"]["downbeats_s"]
    whole = page.locator("#spine-duration").inner_text()  # "1 part · 0:12.5"

    # Chosen on the clip, the takes asked of it lead into it, as long as the form's duration.
    write = root.locator(".write-intro")
    expect(write).to_be_enabled()
    write.click()
    words = page.locator("#from-point")
    page.fill("#knob-duration_s", "3")
    expect(words).to_contain_text("Takes lead into your clip (an intro of 3 s)")
    with page.expect_request(lambda r: r.url.endswith("/takes") and r.method == "POST") as asked:
        ask_takes(page, 1, seconds=3)
    assert asked.value.post_data_json["place"] == "before" and asked.value.post_data_json["duration_s"] == 3
    take = card(page, 0)
    expect(take.locator(".rejoin")).to_contain_text(
        re.compile(r"^Your clip comes in at 3\.00 s, from its first downbeat \(\d+\.\d\d s of it\)"), timeout=90_000)
    expect(take.locator(".seam")).to_contain_text("Lead-in")
    at_s = float(take.get_attribute("data-rejoin"))
    # The groove's first bar, at its start (0 s): its first downbeat heard is the second bar's, carried back a bar.
    assert at_s == pytest.approx(0.0, abs=0.07) and bars[0] > 1.9
    shot(page, "94-intro-take")

    # Committed: the intro first, then the clip from its first downbeat (the clip before it plays nothing, not drawn).
    take.get_by_role("button", name="Commit").click()
    expect(blocks).to_have_count(2)
    expect(blocks.nth(0).locator(".block-name")).to_have_text("the intro")
    expect(blocks.nth(1).locator(".block-name")).to_have_text("your clip")
    assert seconds(blocks.nth(0).locator(".block-length").inner_text()) == pytest.approx(3.0, abs=0.06)
    assert seconds(blocks.nth(1).locator(".block-length").inner_text()) == pytest.approx(SONG_S - at_s, abs=0.06)
    expect(blocks.nth(1).locator(".block-from")).to_have_text(re.compile(r"^in at 0:0\d\.\d\d, its first downbeat$"))
    expect(page.locator("#spine-duration")).to_have_text(re.compile(r"^2 parts · 0:\d\d\.\d$"))
    assert seconds(page.locator("#spine-duration").inner_text()) == pytest.approx(3.0 + SONG_S - at_s, abs=0.06)
    # One intro at a time: the button on the first part says so.
    expect(blocks.nth(0).locator(".write-intro")).to_be_disabled()
    expect(blocks.nth(0).locator(".write-intro")).to_have_attribute("title", re.compile("starts with an intro already"))
    shot(page, "95-intro-committed")

    # Undo: the clip alone again, as it was.
    page.click("#undo")
    expect(blocks).to_have_count(1)
    expect(page.locator("#spine-duration")).to_have_text(whole)
    expect(blocks.first.locator(".block-name")).to_have_text("your clip")
    expect(blocks.first.locator(".write-intro")).to_be_enabled()

    # A loop of bar 2 to bar 4 exported with Glue: the page asks for it, and the loop comes down.
    groove_box = blocks.first.locator(".block-wave").bounding_box()
    x = lambda t: groove_box["x"] + groove_box["width"] * t / SONG_S  # noqa: E731
    drag_on_ruler(page, x(bars[1] + 0.03), x(bars[3] - 0.04))
    expect(page.locator("#loop-chip")).to_be_visible()
    page.locator("#export summary").click()
    glue = page.locator("#export-glue")
    expect(glue).to_be_disabled()  # a loop's alone
    page.check("#export-loop")
    glue.check()
    expect(page.locator("label.export-glue")).to_have_attribute("title", re.compile("Close the loop with a bar Sparrow writes"))
    with page.expect_request(lambda r: r.url.endswith("/export")) as sent, page.expect_download(timeout=120_000) as download:
        page.click("#export-button")
    body = sent.value.post_data_json
    assert body["glue"] is True and body["loop"]["from_s"] == pytest.approx(bars[1], abs=0.01)
    data = Path(download.value.path()).read_bytes()
    assert b"smpl" in data and download.value.suggested_filename.endswith(".wav")
    expect(page.locator(".export-status")).to_contain_text("Saved")
    shot(page, "96-loop-glued")
    assert page.errors == []
