"""The audio of a path that the takes and analysis kinds send their workers: its
last seconds, reaching back into ancestors when the parent is shorter."""

from __future__ import annotations

import numpy as np

from sparrow_chain.domain import AnalysisStatus, Node, StoredAudio
from sparrow_chain.store import Takes
from sparrow_common.audio import decode, encode_wav


def path_tail(takes: Takes, blobs, parent_id: str, seconds: float, from_s: float | None = None) -> bytes:
    """The last `seconds` of the path that ends at `parent_id` (at `from_s`
    into it, or its end), as one WAV at the parent's sample rate (reaching back
    into ancestors when it is shorter)."""
    path = takes.context_path(parent_id, seconds, from_s)
    if not path:
        raise RuntimeError("the parent has no audio")
    return tail(blobs, [(heard.node.audio, heard.end_s) for heard in path], seconds)


def tail(blobs, parts: list[tuple[StoredAudio, float | None]], seconds: float) -> bytes:
    """The last `seconds` of `parts` joined, oldest first, each heard up to its
    end (None: all of it), as one WAV at the last part's sample rate (and its
    channels, two at most)."""
    rate = parts[-1][0].sample_rate
    channels = min(parts[-1][0].channels, 2)
    decoded = []
    for audio, end_s in parts:
        # No part gives more than `seconds` before its end: a long root is
        # decoded from near there.
        cut_s = max(audio.duration_s - end_s, 0.0) if end_s is not None else 0.0
        samples = decode(b"".join(blobs.read(audio.key)), rate, channels, last_s=seconds + cut_s)
        decoded.append(samples[:, : max(samples.shape[-1] - int(round(cut_s * rate)), 0)])
    audio = np.concatenate(decoded, axis=-1)
    return encode_wav(audio[:, max(audio.shape[-1] - int(seconds * rate), 0) :], rate)


def heard_soon(node: Node) -> bool:
    """Whether the node's first analysis is on its way (nothing heard in it yet)."""
    analysis = node.analysis
    return (
        analysis is not None and analysis.clip is None
        and analysis.status in (AnalysisStatus.PENDING, AnalysisStatus.ANALYZING)
    )
