"""The REST API's bodies. The knobs' fields (their descriptions, bounds,
choices and examples) are built from sparrow_common.params, where each knob is
written once, so the OpenAPI schema documents exactly what the services accept."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_type_hints
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from sparrow_common import params
from sparrow_common.params import KNOBS, MAX_TAKES, MIX, STEM_NAME

# A stem as its model names it.
StemName = Annotated[
    str, Field(pattern=f"^{STEM_NAME.pattern}$", description="As the model names it: drums, bass, other, vocals, guitar, piano...")
]


class _KnobsOf(BaseModel):
    """What the knobs' models share: the knobs as the services take them."""

    def knobs(self) -> params.Knobs:
        """What the model is to hear, of this body."""
        return params.Knobs(**self.model_dump(include=set(KNOBS)))


def _knobs(name: str, checked: bool, doc: str) -> type[BaseModel]:
    """The knobs as a pydantic model, one field per knob: with its bounds and
    choices when `checked` (what a request may ask), as plain values otherwise
    (what a node says it was made with)."""
    types = get_type_hints(params.Knobs)
    defaults = params.Knobs()
    fields: dict[str, Any] = {}
    for knob_name, knob in KNOBS.items():
        kind = types[knob_name]
        rules: dict[str, Any] = {}
        if checked:
            if knob.choices:
                kind = Literal[knob.choices]
            rules = {"ge": knob.low, "le": knob.high, "max_length": knob.max_chars}
            rules = {rule: value for rule, value in rules.items() if value is not None}
        if knob.example is not None:
            rules["examples"] = [knob.example]
        fields[knob_name] = (kind, Field(getattr(defaults, knob_name), description=knob.doc, **rules))
    return create_model(name, __doc__=doc, __base__=_KnobsOf, **fields)


Knobs = _knobs("Knobs", True, "What the model hears for a take; every knob is optional.")
KnobsUsed = _knobs("KnobsUsed", False, "The knobs a take was made with.")


class Melody(BaseModel):
    """A melody whose chroma steers a take (as audiocraft's generate_with_chroma):
    a ready node of the same chain, its mix or one of its ready stems."""

    model_config = ConfigDict(extra="forbid")

    node_id: UUID = Field(description="A ready node of the same chain.")
    stem: StemName | None = Field(None, description="One of the node's ready stems; absent for the node's mix.")


class BranchRequest(Knobs):
    """How to continue from a parent node: the knobs the model hears, and how the
    chain places the prompt, what of the path it hears, from where and on which
    melody. Every field is optional."""

    model_config = ConfigDict(extra="forbid")

    align: Literal["seconds", "bars"] = Field(
        "seconds",
        description='"bars": the prompt starts on a downbeat of the path (whole bars, the nearest to '
        "prompt_duration_s) and the take lasts whole bars at the parent's tempo; without a detected tempo it "
        "keeps to seconds and the node's `note` says so.",
    )
    prompt_source: str = Field(
        MIX,
        pattern=f"^({MIX}|{STEM_NAME.pattern})$",
        description='What the model hears of the path: "mix", or one stem\'s name ("drums"...) to continue '
        "from that stem alone (the path's parts are split into stems first when they have none; paid tier).",
    )
    from_s: float | None = Field(
        None, gt=0, description="Continue from this second of the parent's audio (its end when absent): the model "
        "hears the path up to there, and once committed the parent stops there on the spine (its out point).",
    )
    until_s: float | None = Field(
        None, gt=0, le=86400, description="With from_s: replace the stretch from_s to until_s of the parent (at "
        "least 1 s, inside what the spine plays of it, leaving 0.5 s after it). The takes continue from from_s and "
        "run the stretch and a bar more; each comes back into the parent where the two sound most alike, on a "
        "downbeat within a bar of until_s where it has a grid (`analysis.rejoin`), and ranks by the worse of its "
        'two joins. Not with align "bars".',
    )
    until_node_id: UUID | None = Field(
        None, description="With until_s: the stretch runs on into this later part of the spine (until_s in its own "
        "audio; the parts between are replaced too and, once a take is committed, leave the spine as a branch of "
        "the parent). Absent: the parent.",
    )
    place: Literal["after", "before"] = Field(
        "after",
        description='"before": write an intro. Takes of the root that lead into the clip, from the words (and the '
        "melody when given), duration_s long before the clip comes in at its first downbeat (they run a bar and a "
        "beat more, to hear how well they lead in: `analysis.rejoin`); committing one puts it first on the spine, "
        "the clip following from that downbeat. Not with from_s or until_s.",
    )
    like: UUID | None = Field(
        None, description="More like this: a take of the same parent whose knobs (prompt, energy..., melody, "
        "prompt_source, from_s, until_s, place) the new takes use, each with a new seed; the knobs in this body are then ignored.",
    )
    melody: Melody | None = Field(
        None,
        description="Condition the take on this melody's chroma. Only a MusicGen melody checkpoint can "
        "(`supports_melody` in /api/gpu); 422 when the generation model can't.",
    )


class TakesRequest(BranchRequest):
    """N sibling takes of one parent, each with its own seed, made as one batch."""

    count: int = Field(2, ge=1, le=MAX_TAKES, description=f"Number of takes (1 to {MAX_TAKES}).")


class Params(KnobsUsed):
    """What a take was made with: its knobs, and how the chain was asked to
    place its prompt and what of the path it heard."""

    align: str
    prompt_source: str


class Audio(BaseModel):
    format: str
    content_type: str
    sample_rate: int
    channels: int
    duration_s: float
    size_bytes: int


class SeamReport(BaseModel):
    tempo_change_pct: float | None = Field(description="The take's tempo against the path's, in percent.")
    beat_offset_ms: float | None = Field(description="Where its beats fall against the path's grid carried on.")
    key_match: Literal["same", "relative", "other"] | None
    loudness_step_db: float | None = Field(description="Its first seconds against the path's last, in dB.")
    spectral_jump_db: float = Field(description="Its first 100 ms against the path's last 100 ms, in dB.")
    fades_out: bool
    silent_start: bool
    score: float = Field(description="0 (a bad seam) to 1 (seamless); takes rank by it.")
    notes: list[str] = Field(description='The seam in words: "tempo +0.4%", "on the beat", "same key", "fades out".')
    weakest: str | None = Field(
        None, description='What took the most off the score, in words ("changes key to F# major"); null when nothing did.'
    )
    unjudged: str | None = Field(
        None, description="Why the figures say too little to judge the seam (the path or the take too short, nothing "
        "clear enough in either), in words; null when they judge it. An unjudged take is never `best`.",
    )


class Rejoin(BaseModel):
    """Where a take that replaces a stretch gives way to its parent again (its
    second join), chosen by listening."""

    at_s: float = Field(description="Seconds into the parent where it comes back: the rest of the part starts here.")
    crossfade_s: float = Field(description="The equal-power crossfade there, centred on at_s (about a beat).")
    score: float = Field(description="0 (a bad join) to 1 (seamless).")
    harmony: float = Field(description="How alike their chords are there (cosine of their pitch classes, 1: the same).")
    level_step_db: float
    spectral_jump_db: float
    beat_offset_ms: float = Field(description="The take's beat against the part's there (late when positive).")
    on: Literal["downbeat", "beat", "time"] = Field(description="What the point was chosen on.")
    notes: list[str] = Field(description='The join in words: "comes back on a downbeat 0.2 s after the asked point".')
    weakest: str | None = Field(None, description="What took the most off the score; null when nothing did.")
    unjudged: str | None = Field(None, description="Why no point could be judged (it comes back where asked); null when judged.")


class NodeAnalysis(BaseModel):
    """What Sparrow heard in a node's audio (the node's `grid` is what it uses:
    this with the musician's corrections over it). The figures are null until
    first `ready`; while a take is heard again (its parent's grid changed) the
    figures heard before stay and its `seam` is null."""

    status: Literal["pending", "analyzing", "ready", "error"] = Field(
        description=(
            "pending: waiting its turn for the analysis worker (a take's seam report goes before uploads, users"
            " take turns, and a user's uploads past the queue's bound wait behind their earlier ones); analyzing:"
            " being heard now; ready: heard; error: not heard (error_msg says why)."
        )
    )
    tempo_bpm: float | None = Field(None, description="Beats per minute; null when the clip has no steady beat.")
    tempo_confidence: float | None = Field(None, description="0 to 1: how steady and clear the pulse is; 0 without one.")
    beats_s: list[float] = Field(default_factory=list)
    downbeats_s: list[float] = Field(default_factory=list, description="Where each bar starts, in seconds into the clip.")
    meter: int | None = Field(
        None, description="Beats to the bar (2, 3 or 4; the dotted quarter is the beat of 6/8 and 12/8); null without a steady beat."
    )
    time_signature: str | None = Field(None, description='"2/4", "3/4", "4/4", "6/8" or "12/8"; null without a steady beat.')
    key: str | None = Field(None, description='"A minor", "Eb major"; null when no key stands out.')
    key_confidence: float | None = Field(None, description="0 to 1: how well the key's profile fits.")
    key_runner_up: str | None = Field(None, description='The key that fits next best ("C major" after "A minor"); null when none.')
    loudness_lufs: float | None = Field(None, description="Integrated loudness (EBU R128); null for silence.")
    peak_dbfs: float | None = None
    seam: SeamReport | None = Field(None, description="For a take, how it continues its path; null for the root.")
    rejoin: Rejoin | None = Field(None, description="For a take that replaces a stretch: where its parent comes back.")
    error_msg: str | None = None


TimeSignature = Literal["2/4", "3/4", "4/4", "6/8", "12/8"]
# A note (A to G, with # or b) and major or minor.
KEY_PATTERN = r"^[A-G][#b]? (major|minor)$"


class GridCorrection(BaseModel):
    """The musician's word on a part's grid; each field null is as heard."""

    tempo_bpm: float | None = Field(description="Beats per minute (for 6/8 and 12/8, dotted quarters).")
    time_signature: TimeSignature | None
    bar_one_s: float | None = Field(description="Where bar one starts, seconds into the part.")
    key: str | None = Field(description='"A minor", "Eb major".')


class GridRequest(BaseModel):
    """A part's grid as the musician says it: the whole correction. A field absent
    or null goes back to what Sparrow heard."""

    model_config = ConfigDict(extra="forbid")

    tempo_bpm: float | None = Field(
        None, ge=20, le=300, allow_inf_nan=False, description="Beats per minute, 20 to 300 (for 6/8 and 12/8, dotted quarters): the beats "
        "are laid evenly across the part from bar one (or the first downbeat heard).",
    )
    time_signature: TimeSignature | None = Field(
        None, description="The bars are counted every 2, 3, 4, 2 or 4 beats from bar one (6/8 and 12/8 count dotted quarters)."
    )
    bar_one_s: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Where bar one starts, seconds into the part (0 to its length; "
        "422 past it); the beats before it are a pickup.",
    )
    key: str | None = Field(None, pattern=KEY_PATTERN, description='"A minor", "Eb major", "F# minor".')


class Grid(BaseModel):
    """A part's grid as everything uses it (bars, `align: "bars"`, the seams, the
    export's markers, the ruler): what was heard, with the musician's corrections over it."""

    tempo_bpm: float | None = Field(description="Null when there is no tempo (then no beats or bars).")
    beats_s: list[float] = Field(description="Each beat, seconds into the part.")
    downbeats_s: list[float] = Field(description="Where each bar starts, seconds into the part.")
    meter: int | None = Field(description="Beats to the bar (the dotted quarter is the beat of 6/8 and 12/8); null when unknown.")
    time_signature: TimeSignature | None
    key: str | None
    corrected: list[Literal["tempo", "time_signature", "bar_one", "key"]] = Field(
        description="Which of these are the musician's word rather than what was heard."
    )


class Node(BaseModel):
    id: str
    chain_id: str
    parent_id: str | None
    status: Literal["pending", "generating", "ready", "error", "cancelled"]
    committed: bool
    progress: float = Field(description="0 to 1 while generating.")
    eta_s: float | None = Field(
        None, description="Seconds generating should still take, from the worker's measured pace; null when unknown."
    )
    error_msg: str | None = Field(description="Why generation failed, in words.")
    filename: str | None
    params: Params | None = Field(description="What the node was generated with; null for the root.")
    audio: Audio | None = Field(description="The stored audio; null until the node is ready.")
    duration_s: float | None = Field(description="Seconds of audio the node holds.")
    audio_url: str | None
    melody: Melody | None = Field(None, description="The melody the take was conditioned on; null for none.")
    analysis: NodeAnalysis | None = Field(
        None, description="Tempo, bars, key and loudness, and a take's seam report; null when not analysed."
    )
    note: str | None = Field(
        None, description="How it was made when not quite as asked: aligned to bars, or kept to seconds and why."
    )
    from_s: float | None = Field(None, description="For a take: the second of its parent it continues from; null for the end.")
    out_s: float | None = Field(
        None, description="For a part of the spine: where it stops playing (its committed child's from_s); null for all of it."
    )
    until_s: float | None = Field(
        None, description="For a take that replaces a stretch of its parent: where the parent should come back, as "
        "asked (analysis.rejoin.at_s says where it does)."
    )
    in_s: float | None = Field(
        None, description="For a part: where it starts playing in its audio; null from the start. The rest of a part "
        "after a replaced stretch (or of the clip after an intro) shares the part's audio from here."
    )
    until_node_id: str | None = Field(
        None, description="For a take whose stretch runs on into a later part of the spine: that part (until_s is "
        "in its audio); null: the parent."
    )
    intro: bool = Field(
        False, description="An intro: a take that leads into its parent, the root (asked with place \"before\"); its "
        "until_s is how long it plays before the clip comes in."
    )
    binned_at: datetime | None = Field(None, description="When it went to the chain's bin; null for a node in the chain.")
    grid: Grid | None = Field(
        None, description="Its grid as used: what was heard with the musician's corrections; null when there is neither."
    )
    grid_correction: GridCorrection | None = Field(
        None, description="The musician's word on its grid (PUT /api/nodes/{node_id}/grid); null for as heard."
    )
    created_at: datetime
    updated_at: datetime


class RankedTake(BaseModel):
    rank: int | None = Field(
        description="1 for the best seam; null while the take is not heard yet, or when its seam can't be judged."
    )
    best: bool = Field(
        description="The take to suggest: rank 1 scoring at least the floor (0.5). No take is best when every "
        "judged seam scores below it."
    )
    node: Node


class RankedTakes(BaseModel):
    takes: list[RankedTake] = Field(
        description="Judged seams best first; then takes whose seam can't be judged, then those not heard yet, "
        "each in their order."
    )


class Chain(BaseModel):
    id: str
    title: str
    root_node_id: str
    node_count: int
    spine_duration_s: float
    created_at: datetime


class Move(BaseModel):
    kind: Literal["commit", "uncommit", "discard", "restore", "regrid"]
    node_id: str


class History(BaseModel):
    """What undo and redo would do next on the chain (kept with it: a reload keeps them)."""

    undo: Move | None = Field(description="The latest move, undone by POST /undo; null for none.")
    redo: Move | None = Field(description="The move undone last, done again by POST /redo; null for none.")
    seq: int = Field(
        0, description="The chain's event seq when it was so (its `history.changed` event's id): of the histories "
        "a client hears, in replies and events, the one with the largest seq tells."
    )


class ChainWithNodes(Chain):
    nodes: list[Node]
    history: History | None = None


class Moved(Node):
    """A node after a move (commit, uncommit, restore), and what undo and redo do next."""

    history: History


class Discarded(BaseModel):
    history: History = Field(description="What undo and redo do next: the discard is the latest move.")


class Regridded(BaseModel):
    node: Node = Field(description="The part, with its new `grid` and `grid_correction`.")
    history: History


class Undone(BaseModel):
    move: Move = Field(description="The move undone (or, from /redo, done again).")
    history: History


class Bin(BaseModel):
    nodes: list[Node] = Field(description="Each node discarded (with what went with it under it), newest first.")


class BinEmptied(BaseModel):
    deleted: int = Field(description="Nodes deleted for good, with their audio.")
    history: History | None = Field(
        None, description="What undo and redo do next: the moves on what was deleted are forgotten."
    )


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="1 to 200 characters once trimmed.")


class ForkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200, description="The chain's title with \"(fork)\" when absent.")


class Preset(BaseModel):
    """Knobs kept under a name, to ask for takes with on any chain (their seed is not kept)."""

    name: str
    knobs: KnobsUsed
    updated_at: datetime


class PresetBody(Knobs):
    """The knobs to keep under the path's name (the seed, if any, is not kept)."""

    model_config = ConfigDict(extra="forbid")


class ChainCreated(ChainWithNodes):
    root: Node
    takes: list[Node] = Field(
        default_factory=list, description="A chain started from words: its first takes, pending; none for an upload."
    )


class ChainFromWords(Knobs):
    """A chain started from words, with no clip: its root is the beginning (a
    part with no audio) and `count` takes are made from the knobs alone;
    committing one starts the spine."""

    # The prompt's default (none) is checked too: words are what this starts from.
    model_config = ConfigDict(extra="forbid", validate_default=True)

    title: str = Field("", max_length=200, description="Defaults to the prompt's first words.")
    count: int = Field(2, ge=1, le=MAX_TAKES, description=f"Number of takes (1 to {MAX_TAKES}).")

    @field_validator("prompt")
    @classmethod
    def _says_something(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("a chain started from words needs a prompt: say what the takes are to play")
        return prompt


class ChainPage(BaseModel):
    chains: list[Chain]
    next_page_token: str | None


class Spine(BaseModel):
    chain_id: str
    nodes: list[Node] = Field(description="The committed path, root first.")
    duration_s: float


class Takes(BaseModel):
    nodes: list[Node]


class Stem(BaseModel):
    name: str = Field(description="As the model names it: drums, bass, other, vocals, guitar, piano...")
    audio: Audio
    audio_url: str


class StemSet(BaseModel):
    """A node's stems by one model: cached by the audio's content and the model,
    so asking again is free."""

    node_id: str
    model: str = Field(description="The stems model: htdemucs writes four stems, htdemucs_6s six.")
    status: Literal["none", "pending", "separating", "ready", "error"]
    progress: float
    error_msg: str | None
    stems: list[Stem] = Field(description="In the model's order, once ready.")


class StemsRequest(BaseModel):
    """Which model splits the node."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        None, max_length=64, description="One of the stems models offered (`models` in /api/gpu); the first when absent."
    )


class StemModel(BaseModel):
    name: str
    stems: list[str] = Field(description="What it writes, in order; empty until the worker has loaded it.")
    reason: str | None = Field(None, description="Why it could not load (the worker serves the others); null otherwise.")


class Event(BaseModel):
    """The data of one SSE event; its `id` field is `seq`."""

    seq: int
    kind: str
    chain_id: str
    node_id: str | None
    status: str | None
    node: Node | None
    stems: StemSet | None = None
    history: History | None = Field(None, description="For `history.changed`: what undo and redo do next.")
    title: str | None = Field(None, description="For `chain.renamed`: the new title.")
    created_at: datetime


class WorkerCapacity(BaseModel):
    address: str
    reachable: bool
    ready: bool
    state: Literal["ready", "loading", "starting", "failed", "unreachable"] = Field(
        description="ready; loading its model; starting (not answering yet, just after the gateway started); "
        "failed (it answers, and `reason` says why it can't work); unreachable."
    )
    reason: str | None = Field(None, description="Why the worker can't take work, in words.")
    worker: str | None = None
    slots: int | None = Field(
        None, description="Work it runs at once: a generation worker's decoder rows, a stems worker's calls."
    )
    busy: int | None = Field(None, description="Of the slots, those taken by calls running.")
    queued: int | None = Field(None, description="Calls waiting for slots.")
    queue_limit: int | None = Field(None, description="Calls allowed to wait; past it the worker refuses more.")
    model: str | None = None
    device: str | None = None
    supports_melody: bool | None = Field(
        None, description="Its loaded model can condition takes on a melody (a MusicGen melody checkpoint)."
    )
    rows_in_flight: int | None = Field(
        None, description="Decoder rows the model steps now: each running take, twice with guidance (0 for stems)."
    )
    steps_per_second: float | None = Field(
        None, description="The model's decoding steps per second over its latest 64 steps (0 before the first)."
    )
    models: list[StemModel] | None = Field(
        None, description="A stems worker's models, the default first, with the stems each writes."
    )


class GpuCapacity(BaseModel):
    generation: list[WorkerCapacity]
    stems: list[WorkerCapacity]


class TakeLimits(BaseModel):
    takes_waiting: int = Field(description="Takes waiting or being made at once (0: no limit).")
    takes_per_day: int = Field(description="Takes asked per day, UTC (0: no limit).")


class Usage(BaseModel):
    takes_waiting: int = Field(description="Your takes waiting or being made now.")
    takes_today: int = Field(description="Takes you asked today (UTC), discarded ones too.")
    day_resets_in_s: int = Field(description="Seconds until today's count starts again (midnight UTC).")


class Me(Usage):
    user: str
    tier: Literal["free", "paid"]
    stems_allowed: bool
    limits: TakeLimits = Field(description="The tier's limits on takes.")
    takes_left_today: int | None = Field(description="Takes you may still ask today; null for no limit.")


class Stretch(BaseModel):
    """A stretch of the spine, in seconds of the spine as it plays."""

    model_config = ConfigDict(extra="forbid")

    from_s: float = Field(ge=0, le=86400, description="Where it starts.")
    until_s: float = Field(gt=0, le=86400, description="Where it ends: after `from_s`.")

    @model_validator(mode="after")
    def _forwards(self) -> "Stretch":
        if self.until_s <= self.from_s:
            raise ValueError("a stretch ends after it starts: `until_s` must be past `from_s`")
        return self


class ExportRequest(BaseModel):
    """How to render the spine as one file."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["wav", "mp3", "flac"] = Field("wav", description="File format.")
    crossfade_ms: int = Field(0, ge=0, le=2000, description="Equal-power crossfade at each seam (0: a plain join).")
    normalize: bool = Field(False, description="Match the export's loudness to the root's (EBU R128).")
    match_parts: bool = Field(
        False, description="Bring every part to the root's loudness before joining (EBU R128): no jump in level at a seam."
    )
    stems: bool = Field(
        False,
        description="Answer a zip instead: mix.<format> and one file per stem, each joined across the spine with the "
        "same crossfades, resampling and loudness gains, so the stems add up to the mix. Parts without stems are "
        "split first (their progress on the chain's events). Paid tier.",
    )
    stems_model: str | None = Field(
        None, max_length=64, description="The stems model (`models` in /api/gpu); the first when absent."
    )
    loop: Stretch | None = Field(
        None,
        description="Export a loop of this stretch of the spine instead (seconds of the spine as it plays): each "
        "end moved to the nearest bar line where the parts have a grid (whole bars), the stretch moved within 5 ms "
        "to where the wave moves least, and its last 20 ms crossfaded with what leads into its start, so "
        "it repeats with no click. A WAV carries the loop in a `smpl` chunk, as samplers and DAWs read it. Not "
        "with `stems`.",
    )
    glue: bool = Field(
        False,
        description="With `loop`: close it with glue. Takes continue the spine from the loop's end for a bar and are "
        "heard against its start; the one that leads back best plays after the stretch, and the loop is both (a bar "
        "longer), made to repeat. The export waits while they are written (seconds on a GPU); nothing is stored. "
        "Not with `without`.",
    )

    without: list[StemName] = Field(
        default_factory=list, max_length=16,
        description='Leave these stems out ("everything but the drums"): one file, every part\'s other stems '
        "(of `stems_model`) summed and joined as the mix is; parts without stems are split first. Paid tier; "
        "not with `stems`.",
    )

    @model_validator(mode="after")
    def _one_file_or_every_stem(self) -> "ExportRequest":
        if self.loop is not None and self.stems:
            raise ValueError("a loop is exported as the mix alone: ask without `stems`")
        if self.without and self.stems:
            raise ValueError("leave stems out of one file, or export every stem (`stems`): not both")
        if self.glue and self.loop is None:
            raise ValueError("glue closes a loop: ask for it with `loop`")
        if self.glue and self.without:
            raise ValueError("a glued loop is the mix alone: ask without `without`")
        return self
