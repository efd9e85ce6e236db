"""Keys, tiers and ownership: nothing is shared between users."""

from __future__ import annotations

import pytest

from sparrow_common.testing.clips import make_clip


@pytest.fixture(scope="module")
def anns(stack):
    """One of ann's chains with a ready take."""
    with stack.client("ann") as client:
        chain = client.post(
            "/api/chains", files={"file": ("a.wav", make_clip("wav"))}, data={"title": "Ann secret demo"}
        ).json()
        take = client.post(f"/api/nodes/{chain['root']['id']}/branch", json={"duration_s": 1}).json()
        stack.wait_for(take["id"])
    return chain, take


def routes(chain, take):
    c, r, t = chain["id"], chain["root"]["id"], take["id"]
    return [
        ("GET", f"/api/chains/{c}", None),
        ("GET", f"/api/chains/{c}/spine", None),
        ("GET", f"/api/chains/{c}/events", None),
        ("GET", f"/api/nodes/{r}", None),
        ("GET", f"/api/nodes/{r}/audio", None),
        ("POST", f"/api/nodes/{r}/branch", {}),
        ("POST", f"/api/nodes/{r}/takes", {"count": 2}),
        ("POST", f"/api/nodes/{t}/commit", None),
        ("DELETE", f"/api/nodes/{t}", None),
        ("DELETE", f"/api/chains/{c}", None),
    ]


def test_no_key_is_401_everywhere(stack, anns):
    with stack.client(None) as client:
        for method, path, body in routes(*anns) + [("GET", "/api/chains", None), ("GET", "/api/gpu", None)]:
            reply = client.request(method, path, json=body)
            assert reply.status_code == 401, (method, path)
            assert "X-API-Key" in reply.json()["detail"]
        made_up = client.get("/api/me", headers={"X-API-Key": "sk_made_up"})
        assert made_up.status_code == 401 and made_up.json()["detail"].startswith("That API key is not one")
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_another_user_gets_404_on_every_route_and_sees_nothing(stack, anns):
    chain, take = anns
    with stack.client("dave") as client:  # free, like bob, and with no chains of his own on the shared stack
        for method, path, body in routes(chain, take):
            reply = client.request(method, path, json=body)
            assert reply.status_code == 404, (method, path, reply.text)
            assert chain["title"] not in reply.text
        assert client.get("/api/chains").json() == []
    with stack.client("ann") as client:  # untouched
        assert client.get(f"/api/nodes/{take['id']}").json()["status"] == "ready"


def test_me_names_the_tier(stack):
    with stack.client("ann") as client:
        me = client.get("/api/me").json()
        assert {k: me[k] for k in ("user", "tier", "stems_allowed")} == {"user": "ann", "tier": "paid", "stems_allowed": True}
        assert me["limits"] == {"takes_waiting": 16, "takes_per_day": 400}
    with stack.client("bob") as client:
        me = client.get("/api/me").json()
        assert {k: me[k] for k in ("user", "tier", "stems_allowed")} == {"user": "bob", "tier": "free", "stems_allowed": False}
        assert me["limits"] == {"takes_waiting": 4, "takes_per_day": 40}


def test_the_session_cookie_serves_players_and_event_streams_but_never_writes(stack, anns):
    chain, _ = anns
    with stack.client("ann") as signed_in:
        assert signed_in.post("/api/session").status_code == 204
        cookie = signed_in.cookies.get("sparrow_key")
    assert cookie
    with stack.client(None, cookies={"sparrow_key": cookie}) as browser:
        assert browser.get(chain["root"]["audio_url"]).status_code == 200
        with browser.stream("GET", f"/api/chains/{chain['id']}/events") as stream:
            assert stream.status_code == 200
        assert browser.post(f"/api/nodes/{chain['root']['id']}/branch", json={}).status_code == 401


def test_a_tier_past_its_limits_is_told_which_and_when_to_ask_again(start_stack_with):
    """No generation worker: takes stay waiting, so the waiting limit is reached;
    discarded takes free it but still count against the day."""
    limited = start_stack_with(
        None, gateway_env={"GATEWAY_FREE_TAKES_WAITING": "3", "GATEWAY_FREE_TAKES_PER_DAY": "5"}
    )
    with limited.client("bob") as client:
        root = client.post("/api/chains", files={"file": ("b.wav", make_clip("wav"))}).json()["root"]
        first = client.post(f"/api/nodes/{root['id']}/takes", json={"count": 3})
        assert first.status_code == 202, first.text
        refused = client.post(f"/api/nodes/{root['id']}/branch", json={})
        assert refused.status_code == 429
        assert "3 takes waiting" in refused.json()["detail"] and int(refused.headers["Retry-After"]) > 0
        me = client.get("/api/me").json()
        assert (me["takes_waiting"], me["takes_today"], me["takes_left_today"]) == (3, 3, 2)
        for node in first.json()["nodes"]:
            assert client.delete(f"/api/nodes/{node['id']}").status_code == 200
        assert client.post(f"/api/nodes/{root['id']}/takes", json={"count": 2}).status_code == 202
        refused = client.post(f"/api/nodes/{root['id']}/branch", json={})
        assert refused.status_code == 429 and "5 takes per day and 0 are left" in refused.json()["detail"]
        assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600
        assert client.get("/api/me").json()["takes_left_today"] == 0
    with limited.client("ann") as client:  # the paid tier's limits are its own
        root = client.post("/api/chains", files={"file": ("a.wav", make_clip("wav"))}).json()["root"]
        assert client.post(f"/api/nodes/{root['id']}/takes", json={"count": 6}).status_code == 202
