"""What a render is asked for and what it gives back, and the checks a request
must pass, each failing with a sentence a musician can act on. No gRPC, no audio."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from sparrow_common.audio import FORMATS
from sparrow_common.errors import InvalidArgument

MAX_CROSSFADE_MS = 2000
# The longest centred crossfade at a join (RenderSetup.clip_fades_s), seconds.
MAX_CLIP_FADE_S = 2.0


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


def track_name(stem: str, index: int, count: int) -> str:
    """A clip's mix (stem "") or one of its stems, as a musician counts it."""
    return clip_name(index, count) if not stem else f"the '{stem}' stem of {clip_name(index, count)}"


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
    # A stems render: these stems beside the mix (`clips`), in order, and
    # stem_clips[s][i], stem s of clip i, for each. The answer is then a zip.
    stems: tuple[str, ...] = ()
    stem_clips: tuple[tuple[bytes, ...], ...] = ()
    # Each clip's out point in seconds (the spine plays it up to there); 0, or
    # no entry: the whole clip.
    clip_ends_s: tuple[float, ...] = ()
    # Each clip's in point in seconds into its own audio (the rest of a part
    # whose stretch a take replaced starts where the take comes back); 0, or no
    # entry: its first sample.
    clip_starts_s: tuple[float, ...] = ()
    # The centred crossfade of each clip's join with the clip before, in
    # seconds (sparrow_export.render.centred_halves); 0, or no entry: the join
    # is as crossfade_ms says. The first clip's is ignored.
    clip_fades_s: tuple[float, ...] = ()
    # A loop of this stretch of the spine (from_s, until_s) instead of the whole
    # (sparrow_export.loop); None for the whole spine.
    loop: tuple[float, float] | None = None

    def name_of(self, index: int) -> str:
        return self.clip_names[index] if index < len(self.clip_names) and self.clip_names[index] else f"Part {index + 1}"

    def end_of(self, index: int) -> float:
        """Clip `index`'s out point in seconds; 0 when it plays whole."""
        return self.clip_ends_s[index] if index < len(self.clip_ends_s) else 0.0

    def start_of(self, index: int) -> float:
        """Clip `index`'s in point in seconds; 0 when it plays from its first sample."""
        return self.clip_starts_s[index] if index < len(self.clip_starts_s) else 0.0

    def fade_of(self, index: int) -> float:
        """The centred crossfade in seconds of clip `index`'s join with the clip
        before; 0 when there is none (the first clip has no join before it)."""
        return self.clip_fades_s[index] if 0 < index < len(self.clip_fades_s) else 0.0

    @property
    def tracks(self) -> list[tuple[str, tuple[bytes, ...]]]:
        """(stem, clips) for the mix (stem "") and then each stem, in order."""
        return [("", self.clips), *zip(self.stems, self.stem_clips)]


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


def check_ends(clip_count: int, ends: list[float]) -> None:
    """Raise InvalidArgument when there are more out points than clips, or one
    is negative or not a number. (Whether it lies within its clip is known once
    the clip is decoded: render checks that.)"""
    if len(ends) > clip_count:
        raise InvalidArgument(f"{len(ends)} clip ends for {clip_count} clips")
    for index, end in enumerate(ends):
        if not math.isfinite(end) or end < 0:
            raise InvalidArgument(
                f"{clip_name(index, clip_count)} ends at {end:.2f} s: an end is a second within the clip, "
                "or 0 for the whole clip"
            )


def check_starts(clip_count: int, starts: list[float], ends: list[float]) -> None:
    """Raise InvalidArgument when there are more in points than clips, or one is
    negative, not a number, or not before its clip's out point (`ends`, checked
    first). (Whether it lies within a clip that plays to its end is known once
    the clip is decoded: render checks that.)"""
    if len(starts) > clip_count:
        raise InvalidArgument(f"{len(starts)} clip starts for {clip_count} clips")
    for index, start in enumerate(starts):
        if not math.isfinite(start) or start < 0:
            raise InvalidArgument(
                f"{clip_name(index, clip_count)} starts at {start:.2f} s: a start is a second within the "
                "clip, or 0 for its first sample"
            )
        end = ends[index] if index < len(ends) else 0.0
        if end and start >= end:
            raise InvalidArgument(
                f"{clip_name(index, clip_count)} starts at {start:.2f} s, not before its end at {end:.2f} s: "
                "nothing of it would be heard"
            )


def check_fades(clip_count: int, fades: list[float]) -> None:
    """Raise InvalidArgument when there are more centred crossfades than clips,
    or one is not a number or outside 0 to MAX_CLIP_FADE_S. The first clip's is
    ignored (it has no join before it), so it is not judged either."""
    if len(fades) > clip_count:
        raise InvalidArgument(f"{len(fades)} clip crossfades for {clip_count} clips")
    for index, fade in enumerate(fades[1:], start=1):
        if not (math.isfinite(fade) and 0 <= fade <= MAX_CLIP_FADE_S):
            raise InvalidArgument(
                f"the crossfade into {clip_name(index, clip_count)} is {fade:.2f} s: a crossfade centred on "
                f"a join lasts 0 to {MAX_CLIP_FADE_S:g} s"
            )


# The longest loop: a stretch is held in memory whole (ten minutes of stereo at
# 48 kHz is 230 MB of float32); and the shortest, under which a loop is a buzz.
MAX_LOOP_S = 600.0
MIN_LOOP_S = 0.25


def check_loop(loop: tuple[float, float] | None, stems: list[str]) -> None:
    """Raise InvalidArgument unless `loop` (from_s, until_s) is a stretch a loop
    can be cut from. (Whether it lies within the spine is known once its clips
    are decoded: render checks that.)"""
    if loop is None:
        return
    if stems:
        raise InvalidArgument("a loop is exported as the mix alone, without stems")
    start, end = loop
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
        raise InvalidArgument("a loop runs from a second of the spine to a later one")
    if not MIN_LOOP_S <= end - start <= MAX_LOOP_S:
        raise InvalidArgument(
            f"a loop lasts {MIN_LOOP_S:g} s to {MAX_LOOP_S / 60:g} minutes; "
            f"{start:.2f} s to {end:.2f} s is {end - start:.2f} s"
        )


MAX_STEMS = 16
MAX_STEM_CHARS = 64
MIX = "mix"  # the mix's file in a stems render's zip, so no stem may take the name
_STEM_NAME = re.compile(r"[^\W_]([\w -]*[^\W_])?")


def check_stems(stems: list[str]) -> None:
    """Raise InvalidArgument unless the stems can name files in one zip on any
    computer: letters, digits, spaces, '-' and '_' (no path, no hidden file),
    each different even ignoring case, none "mix"."""
    if len(stems) > MAX_STEMS:
        raise InvalidArgument(f"an export takes at most {MAX_STEMS} stems; {len(stems)} were asked for")
    seen: set[str] = set()
    for stem in stems:
        if not stem:
            raise InvalidArgument("a stem's name is empty")
        if len(stem) > MAX_STEM_CHARS or not _STEM_NAME.fullmatch(stem):
            raise InvalidArgument(
                f"the stem name {stem[:MAX_STEM_CHARS]!r} can't name a file: use letters, digits, "
                "spaces, '-' and '_', starting and ending with a letter or digit, "
                f"at most {MAX_STEM_CHARS} characters"
            )
        if stem.casefold() == MIX:
            raise InvalidArgument(f"a stem can't be called {stem!r}: the mix is {MIX}")
        if stem.casefold() in seen:
            raise InvalidArgument(f"the stem {stem!r} is named twice")
        seen.add(stem.casefold())


def check_without(stems: list[str], without: list[str]) -> None:
    """Raise InvalidArgument unless `without` names stems among `stems`, each
    once, and leaves at least one."""
    if not without:
        return
    if not stems:
        raise InvalidArgument("to leave a stem out, every clip must send its stems (none were named)")
    for stem in without:
        if stem not in stems:
            raise InvalidArgument(f"there is no {stem!r} stem to leave out: the stems are {', '.join(stems)}")
    if len(set(without)) != len(without):
        raise InvalidArgument("a stem to leave out is named twice")
    if len(set(without)) == len(stems):
        raise InvalidArgument("leaving every stem out leaves nothing to export")


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


def check_stem_clips(clip_count: int, stems: list[str], sent: dict[tuple[int, str], int]) -> None:
    """Raise InvalidArgument unless every clip sent every stem, with some bytes.
    `sent` maps each (clip index, stem) sent to the bytes it brought."""
    for index in range(clip_count):
        for stem in stems:
            if sent.get((index, stem), 0) == 0:
                raise InvalidArgument(
                    f"{clip_name(index, clip_count)} has no '{stem}' stem: a stems export needs every stem "
                    "of every clip"
                )


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
    # A stems render's: the file is a zip of the mix and these stems.
    stems: tuple[str, ...] = ()

    @property
    def container(self) -> str:
        """The file's format as FFmpeg names it: the render's, or "zip"."""
        return "zip" if self.stems else self.format.value

    @property
    def content_type(self) -> str:
        return "application/zip" if self.stems else self.format.content_type

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate


@dataclass(frozen=True)
class Step:
    """Progress: `done` of `total` steps (each clip decoded, then the encode;
    in a stems render, that for the mix and then for each stem in turn)."""

    done: int
    total: int
