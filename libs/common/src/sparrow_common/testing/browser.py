"""The editor in a real browser for the tests: Debian's Chromium driven by
Playwright, and what a musician does with it (drop a clip, start a chain, ask
for takes, find a take card, commit one),
each state saved as a screenshot under tests/screenshots/ (git-ignored)."""

from __future__ import annotations

import base64
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

SCREENSHOTS = Path(__file__).resolve().parents[5] / "tests" / "screenshots"
CHROMIUM = os.environ.get("SPARROW_CHROMIUM", "/usr/bin/chromium")


@contextmanager
def chromium():
    """Headless Chromium, or a failure saying how to install it."""
    if not shutil.which(CHROMIUM):
        raise RuntimeError(f"Chromium is not at {CHROMIUM}: `make tools` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
                # A fake microphone (a beep), granted without asking: recording straight in is tested on it.
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


def open_editor(browser, stack, user: str) -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in as `user`, on the editor's start page;
    `page.errors` collects the page's JavaScript errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(f"{stack.base_url}/#key={stack.keys[user]}")
    expect(page.locator("#drop")).to_be_visible()
    return context, page


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def drop_clip(page: Page, clip: bytes, name: str) -> None:
    """Drop a file on the page as a musician drags one from their desktop."""
    transfer = page.evaluate_handle(
        """([data, name]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "audio/wav" }));
            return transfer;
        }""",
        [base64.b64encode(clip).decode(), name],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})


def card(page: Page, index: int):
    return page.locator("#takes .card").nth(index)


def start_chain(page: Page, name: str) -> str:
    """Drop a 2-second clip; the new chain's id."""
    from sparrow_common.testing.clips import make_clip

    drop_clip(page, make_clip("wav", seconds=2.0), f"{name}.wav")
    expect(page).to_have_url(re.compile(r"#/chain/[0-9a-f-]{36}$"))
    expect(page.locator("#live-status")).to_have_text("live")
    return page.url.rsplit("/", 1)[1]


def ask_takes(page: Page, count: int, prompt: str = "", seconds: float = 1) -> None:
    """Ask for `count` takes of `seconds` after the part shown, and wait for them all."""
    before = page.locator("#takes .card").count()
    if prompt:
        page.fill("#knob-prompt", prompt)
    page.fill("#knob-count", str(count))
    page.fill("#knob-duration_s", str(seconds))
    page.click("#ask-takes")
    expect(page.locator("#takes .card")).to_have_count(before + count)
    for index in range(before + count):
        expect(card(page, index)).to_have_attribute("data-status", "ready", timeout=60_000)


def commit_take(page: Page, index: int, parts: int) -> None:
    """Commit take `index` of those shown; the spine then has `parts` parts."""
    card(page, index).get_by_role("button", name="Commit").click()
    expect(page.locator("#spine .block")).to_have_count(parts)


def pages(browser, stack):
    """open_as(user) -> the editor opened on `stack` as that user, each in a
    context closed when this generator ends (a fixture's body)."""
    contexts = []

    def open_as(user: str):
        context, page = open_editor(browser, stack, user)
        contexts.append(context)
        return page

    yield open_as
    for context in contexts:
        context.close()
