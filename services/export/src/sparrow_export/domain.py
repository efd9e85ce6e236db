"""What a render is asked for and what it gives back, and the checks a request
must pass, each failing with a sentence a musician can act on. No gRPC, no audio."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from sparrow_common.audio import FORMATS
from sparrow_common.errors import InvalidArgument

MAX_CROSSFADE_MS = 2000


class RenderFormat(str, Enum):
    """The file a render is written as; the value is FFmpeg's name for the container."""

    WAV = "wav"
    MP3 = "mp3"
    FLAC = "flac"

    @property
    def content_type(self) -> str:
        return FORMATS[self.value].content_type


def clip_name(index: int, count: int) -> str:
    """A clip as a musician counts it: from 1, out of how many."""
    return f"clip {index + 1} of {count}"


@dataclass(frozen=True)
class RenderJob:
    """One render: the clips' encoded files in spine order, root first."""

    format: RenderFormat
    clips: tuple[bytes, ...]
    crossfade_ms: int = 0
    normalize: bool = False
    # Every clip brought to the first one's loudness before the join.
    match_parts: bool = False
    # The clips' names, for the markers at every seam; missing ones are "Part N".
    clip_names: tuple[str, ...] = ()

    def name_of(self, index: int) -> str:
        return self.clip_names[index] if index < len(self.clip_names) and self.clip_names[index] else f"Part {index + 1}"


def check_setup(format: RenderFormat | None, clip_count: int, crossfade_ms: int) -> None:
    """Raise InvalidArgument when the render's settings can't be honoured."""
    if format is None:
        raise InvalidArgument("choose the file format to export: WAV, MP3 or FLAC")
    if clip_count < 1:
        raise InvalidArgument(f"an export needs at least one clip; the request announced {clip_count}")
    if not 0 <= crossfade_ms <= MAX_CROSSFADE_MS:
        raise InvalidArgument(
            f"the crossfade must be 0 to {MAX_CROSSFADE_MS} ms; {crossfade_ms} ms was asked for"
        )


MAX_NAME_CHARS = 200


def check_names(clip_count: int, names: list[str]) -> None:
    """Raise InvalidArgument when there are more names than clips, or one is too long."""
    if len(names) > clip_count:
        raise InvalidArgument(f"{len(names)} clip names for {clip_count} clips")
    for index, name in enumerate(names):
        if len(name) > MAX_NAME_CHARS:
            raise InvalidArgument(f"the name of {clip_name(index, clip_count)} is over {MAX_NAME_CHARS} characters")


def check_clips(clip_count: int, clips: dict[int, int]) -> None:
    """Raise InvalidArgument unless exactly clips 0 .. clip_count-1 arrived, each
    with some bytes. `clips` maps each index sent to the bytes it brought."""
    sent = max(clips) + 1 if clips else 0
    if sent != clip_count:
        raise InvalidArgument(
            f"the export was set up for {clip_count} clip{'s' if clip_count != 1 else ''} "
            f"but {sent} {'were' if sent != 1 else 'was'} sent"
        )
    for index in range(clip_count):
        if clips.get(index, 0) == 0:
            raise InvalidArgument(f"{clip_name(index, clip_count)} is empty: no audio was sent for it")


@dataclass(frozen=True)
class Rendered:
    """The finished file (in render's working folder) and what it holds."""

    path: Path
    size_bytes: int
    format: RenderFormat
    sample_rate: int
    channels: int
    # Samples per channel of the audio before encoding.
    samples: int

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate


@dataclass(frozen=True)
class Step:
    """Progress: `done` of `total` steps (each clip decoded, then the encode)."""

    done: int
    total: int
