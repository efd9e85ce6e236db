"""What a musician sees when generation can't happen or a worker dies mid-take,
through the API and in the editor."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sparrow_common.testing.browser import card, open_editor, shot
from sparrow_common.testing.clips import make_clip


@pytest.fixture(scope="module")
def restarted(start_module_stack, tiny_musicgen):
    """A stack for the tests that kill a service and start it again, leaving the
    stack whole: a 3 s lease, so that the job a dead chain service held is
    claimed again soon."""
    return start_module_stack(tiny_musicgen, chain_env={"CHAIN_LEASE_S": "3"})


def upload(client):
    reply = client.post("/api/chains", files={"file": ("idea.wav", make_clip("wav", seconds=2.0))})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_a_killed_worker_mid_take_is_replaced_and_the_take_finishes(restarted):
    stack = restarted
    with stack.client() as client:
        root = upload(client)["root"]
        node = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 40, "seed": 3}).json()
        stack.wait_for_progress(node["id"])
        stack.generation.kill()  # SIGKILL, mid-take
        stack.start_generation()
        finished = stack.wait_for(node["id"], timeout=180)
        assert finished["status"] == "ready", finished["error_msg"]
        assert abs(finished["duration_s"] - 40) <= 0.02
        assert client.get(finished["audio_url"]).status_code == 200


def test_a_worker_that_never_comes_back_ends_the_take_in_error(start_stack_with, tiny_musicgen):
    stack = start_stack_with(tiny_musicgen, chain_env={"CHAIN_WORKER_WAIT_S": "3"})
    with stack.client() as client:
        root = upload(client)["root"]
        node = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 40}).json()
        stack.wait_for_progress(node["id"])
        stack.generation.kill()
        failed = stack.wait_for(node["id"], timeout=60)
        assert failed["status"] == "error"
        assert "can't be reached" in failed["error_msg"] and "waited 3s" in failed["error_msg"]


def test_a_model_that_cannot_load_says_why_and_the_take_errors(unloadable_stack):
    stack = unloadable_stack  # as ann: test_editor.py's failing take is carol's
    missing = stack.generation_env["GENERATION_MODEL"]
    with stack.client() as client:
        (worker,) = client.get("/api/gpu").json()["generation"]
        assert worker["reachable"] and not worker["ready"] and worker["state"] == "failed"
        root = upload(client)["root"]
        node = client.post(f"/api/nodes/{root['id']}/branch", json={}).json()
        failed = stack.wait_for(node["id"], timeout=60)
    assert failed["status"] == "error"
    assert "could not load MusicGen model" in failed["error_msg"] and missing in failed["error_msg"]
    assert "could not load" in client_reason(stack)


def client_reason(stack) -> str:
    with stack.client() as client:
        return client.get("/api/gpu").json()["generation"][0]["reason"]


def test_a_restarted_chain_service_leaves_nothing_generating(restarted):
    stack = restarted
    with stack.client() as client:
        root = upload(client)["root"]
        node = client.post(f"/api/nodes/{root['id']}/branch", json={"duration_s": 30}).json()
        stack.wait_for_progress(node["id"])
        stack.chain.kill()  # the dispatcher dies holding the job's lease
        stack.chain.start().wait_until(lambda: client.get("/readyz").status_code == 200)
        finished = stack.wait_for(node["id"], timeout=120)
        assert finished["status"] == "ready", finished["error_msg"]


def test_a_take_that_fails_says_why_in_words_and_can_be_asked_again(browser, unloadable_stack):
    stack = unloadable_stack  # as carol: the failing take above is ann's
    missing = stack.generation_env["GENERATION_MODEL"]
    context, page = open_editor(browser, stack, "carol")
    try:
        expect(page.locator("#gpu-generation")).to_have_class(re.compile("warn"))
        expect(page.locator("#gpu-generation")).to_contain_text("MusicGen: failed")
        expect(page.locator("#gpu-generation")).to_have_attribute("title", re.compile("could not load MusicGen model"))
        page.set_input_files("#clip-input", files=[{"name": "idea.wav", "mimeType": "audio/wav", "buffer": make_clip("wav", seconds=2.0)}])
        page.fill("#knob-count", "1")
        page.click("#ask-takes")
        expect(card(page, 0)).to_have_attribute("data-status", "error", timeout=60_000)
        expect(card(page, 0).locator(".error-text")).to_contain_text(f"could not load MusicGen model '{missing}'")
        expect(card(page, 0).locator("button.play")).to_be_hidden()
        shot(page, "13-failed-take")
        card(page, 0).get_by_role("button", name="Try again").click()
        expect(page.locator("#takes .card")).to_have_count(2)
        expect(card(page, 1)).to_have_attribute("data-status", "error", timeout=60_000)
        assert page.errors == []
    finally:
        context.close()
