"""A loop of the spine, end to end: gateway, chain and export as separate
processes. The stretch a musician selects lands on whole bars of the part's
grid (here the musician's own: 120 bpm in 4/4, bar one at 0.5 s, so bars fall
every 2 s from 0.5 s), and the WAV carries its loop in a `smpl` chunk and
wraps with no click."""

from __future__ import annotations

import numpy as np

from sparrow_common.audio import decode
from sparrow_common.testing.clips import make_clip, smpl_loop


def test_a_loop_of_the_spine_lands_on_whole_bars_and_wraps_with_no_click(full_stack):
    with full_stack.client() as client:
        chain = client.post(
            "/api/chains", files={"file": ("groove.wav", make_clip("wav", seconds=9.0, sample_rate=44100, channels=2))}
        ).json()
        root = chain["root"]["id"]
        said = {"tempo_bpm": 120, "time_signature": "4/4", "bar_one_s": 0.5}
        assert client.put(f"/api/nodes/{root}/grid", json=said).status_code == 200
        export = f"/api/chains/{chain['id']}/export"

        # Asked from 0.8 s to 4.2 s: the nearest bar lines are 0.5 s and 4.5 s (two bars).
        reply = client.post(export, json={"format": "wav", "loop": {"from_s": 0.8, "until_s": 4.2}})
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-disposition"].endswith('loop.wav"')
        audio = decode(reply.content, 44100, 2)
        assert abs(audio.shape[-1] / 44100 - 4.0) <= 0.01
        start, end = smpl_loop(reply.content)
        assert (start, end) == (0, audio.shape[-1] - 1)
        step = np.abs(audio[:, 0] - audio[:, -1]).max()
        assert step <= 2 * np.median(np.abs(np.diff(audio, axis=-1))), step
        # The plain spine is still the plain spine: no loop, its marker, all of it.
        whole = client.post(export, json={"format": "wav"}).content
        assert b"smpl" not in whole and abs(decode(whole, 44100, 2).shape[-1] / 44100 - 9.0) <= 0.01

        # A stretch at the spine's start and one closing on its end (the last bar line, 8.5 s).
        for loop, bars in (({"from_s": 0.0, "until_s": 2.4}, 1), ({"from_s": 6.3, "until_s": 9.0}, 1)):
            looped = client.post(export, json={"format": "flac", "loop": loop})
            assert looped.status_code == 200, looped.text
            assert abs(decode(looped.content, 44100, 2).shape[-1] / 44100 - 2.0 * bars) <= 0.01, loop

        # What can't be a loop is refused, naming why.
        for body in (
            {"loop": {"from_s": 3.0, "until_s": 2.0}},
            {"loop": {"from_s": 1.0, "until_s": 60.0}},
            {"loop": {"from_s": 1.0}},
            {"loop": {"from_s": 0.0, "until_s": 2.0}, "stems": True},
        ):
            refused = client.post(export, json=body)
            assert refused.status_code == 422, (body, refused.text)
