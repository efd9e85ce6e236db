"""Presets of knobs, end to end: kept with the account in the chain store (on
the real services), listed by name, changed, forgotten, one user's never
another's, and every bad one refused in words."""

from __future__ import annotations


def test_a_musicians_presets_are_kept_changed_and_forgotten(stack):
    with stack.client("ann") as ann, stack.client("bob") as bob:
        for preset in ann.get("/api/presets").json():  # a fresh start, whatever an earlier run kept
            assert ann.delete(f"/api/presets/{preset['name']}").status_code == 204
        saved = ann.put("/api/presets/Dusty  tape", json={"prompt": "dusty tape chords", "temperature": 0.8, "seed": 42})
        assert saved.status_code == 200, saved.text
        preset = saved.json()
        assert preset["name"] == "Dusty tape"  # spaces collapsed
        assert preset["knobs"]["prompt"] == "dusty tape chords" and preset["knobs"]["temperature"] == 0.8
        assert preset["knobs"]["seed"] is None  # a preset makes new takes
        assert ann.put("/api/presets/brisk", json={"energy": "high", "duration_s": 8}).status_code == 200
        assert [p["name"] for p in ann.get("/api/presets").json()] == ["brisk", "Dusty tape"]
        changed = ann.put("/api/presets/Dusty tape", json={"prompt": "dustier tape"}).json()
        assert changed["knobs"]["prompt"] == "dustier tape" and changed["knobs"]["temperature"] == 1.0
        assert len(ann.get("/api/presets").json()) == 2
        assert bob.get("/api/presets").json() == []  # ann's are ann's
        assert bob.delete("/api/presets/brisk").status_code == 404

        for path, body in (
            ("/api/presets/" + "x" * 61, {}),
            ("/api/presets/ok", {"kazoo": 1}),
            ("/api/presets/ok", {"temperature": 99}),
            ("/api/presets/ok", {"duration_s": 1e400}),
        ):
            reply = ann.put(path, content=str(body).replace("'", '"').replace("1e+400", "1e400"),
                            headers={"content-type": "application/json"})
            assert reply.status_code == 422, (path, body, reply.text)
        assert ann.put("/api/presets/%20%20", json={}).status_code == 422

        assert ann.delete("/api/presets/brisk").status_code == 204
        assert ann.delete("/api/presets/brisk").status_code == 404
        for index in range(49):
            assert ann.put(f"/api/presets/p{index:02d}", json={}).status_code == 200
        full = ann.put("/api/presets/one too many", json={})
        assert full.status_code == 409 and "50 presets" in full.text
        for preset in ann.get("/api/presets").json():
            assert ann.delete(f"/api/presets/{preset['name']}").status_code == 204
