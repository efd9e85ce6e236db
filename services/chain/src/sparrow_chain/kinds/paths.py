"""The audio of a path that the takes and analysis kinds send their workers: its
last seconds, reaching back into ancestors when the parent is shorter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import PurePath

import numpy as np

from sparrow_chain.domain import AnalysisStatus, Node, StoredAudio
from sparrow_chain.store import Takes
from sparrow_common.audio import chunks_in_thread, decode, encode_wav
from sparrow_common.errors import Conflict, NotFound

log = logging.getLogger(__name__)


def path_tail(takes: Takes, blobs, parent_id: str, seconds: float, from_s: float | None = None) -> bytes:
    """The last `seconds` of the path that ends at `parent_id` (at `from_s`
    into it, or its end), as one WAV at the parent's sample rate (reaching back
    into ancestors when it is shorter)."""
    path = takes.context_path(parent_id, seconds, from_s)
    if not path:
        raise RuntimeError("the parent has no audio")
    names = [part_called(heard.node) for heard in path]
    return tail(blobs, [(heard.node.audio, heard.end_s, heard.start_s) for heard in path], seconds, names)


def part_called(node: Node) -> str:
    """A part as a musician knows it: the file they uploaded, or a take by its prompt."""
    if node.is_root:
        return f"your clip {PurePath(node.filename).stem or 'upload'!r}"
    prompt = node.recipe.prompt.strip() if node.recipe else ""
    return f"the take {prompt[:80]!r}" if prompt else "a take of the path"


def tail(
    blobs, parts: list[tuple[StoredAudio, float | None, float | None]], seconds: float, names: list[str] | None = None,
    silence_s: float = 0.0,
) -> bytes:
    """The last `seconds` of `parts` joined, oldest first, each heard from its
    start (None: its first sample) up to its end (None: all of it), as one WAV
    at the last part's sample rate (and its channels, two at most), after
    `silence_s` of silence (audio placed later than a take's start). A part
    whose audio can't be read is a Conflict naming it (by `names`, when given),
    never the OS's words with our paths."""
    rate = parts[-1][0].sample_rate
    channels = min(parts[-1][0].channels, 2)
    decoded = []
    for audio, end_s, start_s in parts:
        # No part gives more than `seconds` before its end: a long root is
        # decoded from near there.
        cut_s = max(audio.duration_s - end_s, 0.0) if end_s is not None else 0.0
        name = names[len(decoded)] if names else "a part of the path"
        samples = decode(_read(blobs, audio.key, name), rate, channels, last_s=seconds + cut_s)
        samples = samples[:, : max(samples.shape[-1] - int(round(cut_s * rate)), 0)]
        if start_s:
            # What lies before its in point is not heard: the decoded samples end at its end.
            heard = int(round(((end_s if end_s is not None else audio.duration_s) - start_s) * rate))
            samples = samples[:, max(samples.shape[-1] - heard, 0) :]
        decoded.append(samples)
    audio = np.concatenate(decoded, axis=-1)
    audio = audio[:, max(audio.shape[-1] - int(seconds * rate), 0) :]
    if silence_s > 0:
        audio = np.concatenate([np.zeros((audio.shape[0], int(round(silence_s * rate))), audio.dtype), audio], axis=-1)
    return encode_wav(audio, rate)


def _read(blobs, key: str, name: str) -> bytes:
    try:
        return b"".join(blobs.read(key))
    except (OSError, NotFound) as error:
        log.warning("reading %s failed: %s", key, error)
        raise Conflict(f"the audio of {name} is missing from the server's storage, so it can't be heard") from None


async def audio_of(blobs, key: str, name: str) -> AsyncIterator[bytes]:
    """A stored file's bytes for a worker's request stream: one gone from
    storage or unreadable is a Conflict naming `name` (the log keeps the OS's
    words). Feed a call with it through channels.Requests, so the error ends
    the job rather than cancelling the call without a word."""
    try:
        async for data in chunks_in_thread(blobs.read(key)):
            yield data
    except (OSError, NotFound) as error:
        log.warning("reading %s failed: %s", key, error)
        raise Conflict(f"the audio of {name} is missing from the server's storage") from None


def heard_soon(node: Node) -> bool:
    """Whether the node's first analysis is on its way (nothing heard in it yet)."""
    analysis = node.analysis
    return (
        analysis is not None and analysis.clip is None
        and analysis.status in (AnalysisStatus.PENDING, AnalysisStatus.ANALYZING)
    )
