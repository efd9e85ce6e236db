"""A loop cut from the joined spine, made to repeat with no click.

The stretch asked for (seconds of the spine as it plays, part after part, each
from its first sample or in point to its end or out point) is found in the
joined audio (each seam before it overlaps the parts by its crossfade; a
crossfade centred on a join leaves the join where the spine has it). Its last
CROSSFADE_MS are crossfaded (equal power) with the audio that leads into its
start in the spine, so the loop's last sample flows into its first as the
spine itself flows into the stretch. The wrap then steps as the spine steps
into the stretch's first sample: the stretch is moved whole, by up to
SEARCH_MS, to where the wave moves least (near a crest, not mid-swing). A
stretch at the spine's very start has nothing before it: its first
CROSSFADE_MS fade in from what follows its end instead, that end placed
alike; a stretch that is the whole spine fades in from its own tail (one
crossfade shorter). A WAV carries the loop in a `smpl` chunk (one forward
loop from its first sample to its last), as samplers and DAWs read it
(render.add_loop).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from sparrow_export.blocks import equal_power_gains

SEARCH_MS = 5.0
CROSSFADE_MS = 20.0


def joined_at(
    seconds: float, sample_rate: int, lengths: Sequence[int], seams: Sequence[int],
    leads: Sequence[int] = (), trails: Sequence[int] = (),
) -> int:
    """The sample of the joined audio where `seconds` of the spine as it plays
    (the clips' heard stretches end to end, `lengths` samples each) falls: each
    seam before it overlapped its clips by `seams[i]` samples, and clip i was
    joined with `leads[i]` samples before its heard stretch and `trails[i]`
    after it (a centred crossfade's halves; none when not given), so a part's
    first heard sample is its join, where the spine has it."""
    at = round(seconds * sample_rate)
    start = joined = 0  # where clip `index` starts in the spine, and in the joined audio
    for index, length in enumerate(lengths):
        lead = leads[index] if index < len(leads) else 0
        if at < start + length or index == len(lengths) - 1:
            return max(joined + lead + at - start, 0)
        trail = trails[index] if index < len(trails) else 0
        start += length
        joined += lead + length + trail - (seams[index] if index < len(seams) else 0)
    return max(at, 0)


def gather(blocks: Iterable[np.ndarray], start: int, stop: int) -> tuple[np.ndarray, int]:
    """Samples `start` to `stop` of a stream of (channels, n) blocks, as far as
    it reaches, and where they begin (`start`, or 0 when it is before)."""
    start = max(start, 0)
    kept: list[np.ndarray] = []
    at = 0
    for block in blocks:
        n = block.shape[-1]
        if at + n > start and at < stop:
            kept.append(block[:, max(start - at, 0) : stop - at])
        at += n
        if at >= stop:
            break
    if not kept:
        return np.zeros((0, 0), dtype=np.float32), start
    return np.concatenate(kept, axis=-1), start


def _still(audio: np.ndarray, at: int, search: int, lo: int, hi: int) -> int:
    """The sample near `at` (within `search`, between `lo` and `hi`) where the
    wave moves least from the sample before: a wrap there steps no more than
    the music does."""
    lo, hi = max(at - search, lo, 1), min(at + search, hi)
    if hi <= lo:
        return at
    candidates = np.arange(lo, hi + 1)
    moves = np.abs(audio[:, candidates] - audio[:, candidates - 1]).sum(0)
    return int(candidates[np.argmin(moves + 1e-9 * np.abs(candidates - at))])


def seamless(audio: np.ndarray, a: int, b: int, sample_rate: int) -> np.ndarray:
    """Samples `a` to `b` of `audio` (a window of the joined spine that holds
    them, with what comes before and after where there is any) as a loop that
    repeats with no click, as the module says. The wrap steps from the loop's
    last sample to its first as the spine steps into the sample it starts on,
    so that point is placed (the loop moved whole, within SEARCH_MS) where the
    wave moves least."""
    search = round(SEARCH_MS * sample_rate / 1000)
    fade = min(round(CROSSFADE_MS * sample_rate / 1000), (b - a) // 4)
    if fade < 2:
        return audio[:, a:b].astype(np.float32, copy=True)
    fade_out, fade_in = equal_power_gains(fade)
    size = audio.shape[-1]
    if a >= fade + search:
        # The tail fades into what leads into the start: its last sample is
        # then (nearly) the one before the first.
        moved = _still(audio, a, search, fade + 1, size - (b - a)) - a
        a, b = a + moved, b + moved
        loop = audio[:, a:b].astype(np.float32, copy=True)
        loop[:, -fade:] = loop[:, -fade:] * fade_out + audio[:, a - fade : a] * fade_in
    elif b + fade + search <= size:
        # The head fades in from what follows the end: its first sample is
        # then (nearly) the one after the last.
        b = _still(audio, b, search, a + 4 * fade, size - fade)
        loop = audio[:, a:b].astype(np.float32, copy=True)
        loop[:, :fade] = audio[:, b : b + fade] * fade_out + loop[:, :fade] * fade_in
    else:
        # The whole spine: its head fades in from its own tail, one crossfade shorter.
        cut = _still(audio, b - fade, search, a + 4 * fade, b - fade) + fade
        loop = audio[:, a:cut].astype(np.float32, copy=True)
        head = loop[:, -fade:] * fade_out + loop[:, :fade] * fade_in
        loop = np.concatenate([head, loop[:, fade:-fade]], axis=-1)
    return loop
