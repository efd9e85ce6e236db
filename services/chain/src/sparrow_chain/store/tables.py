"""The schema, as SQLAlchemy Core tables. Migrations in migrations/ build exactly this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

chains = Table(
    "chains",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Last event sequence number handed out; bumping it also locks the chain row,
    # so a chain's events commit in sequence order.
    Column("event_seq", BigInteger, nullable=False, server_default="0"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(128), nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # For stems jobs: the audio content they separate, by which model, and the node that asked.
    Column("stem_hash", String(64), nullable=True),
    Column("stem_model", String(64), nullable=True),
    Column("node_id", String(36), nullable=True),
    # The request that asked for the job: its logs, on every service, carry it.
    Column("request_id", String(128), nullable=False, server_default=""),
    # A takes job's recipe was resolved (set to bars) on a claim before: a retry keeps it.
    Column("resolved", Boolean, nullable=False, server_default=text("false")),
    Index("ix_jobs_state_created", "state", "created_at"),
)

# What a job waits on: it is not claimable while any row names it (store/queue.py).
# The awaited job's end releases it; its failure fails the waiter too, saying
# `fails_as` and the reason, unless `fails_as` is NULL (the waiter goes on without).
job_waits = Table(
    "job_waits",
    metadata,
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("on_job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("fails_as", Text, nullable=True),
    PrimaryKeyConstraint("job_id", "on_job_id"),
)

# When each user's last takes job was claimed. Claims take turns across
# users, the least recently served first, so one user's long queue can't hold
# everyone else's takes behind it.
turns = Table(
    "turns",
    metadata,
    Column("owner_id", String(64), primary_key=True),
    Column("last_claimed_at", DateTime(timezone=True), nullable=False),
)

# When each user's last analysis was claimed: analyses take turns across users
# as takes do, on a clock of their own (store/analyses.py).
analysis_turns = Table(
    "analysis_turns",
    metadata,
    Column("owner_id", String(64), primary_key=True),
    Column("last_claimed_at", DateTime(timezone=True), nullable=False),
)

# Takes each user asked each day (UTC): the per-day limit counts here, so
# discarding takes does not give them back.
usage = Table(
    "usage",
    metadata,
    Column("owner_id", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("takes", Integer, nullable=False),
    PrimaryKeyConstraint("owner_id", "day"),
)

# A user's named presets of knobs (store/presets.py), by name.
presets = Table(
    "presets",
    metadata,
    Column("owner_id", String(64), nullable=False),
    Column("name", String(60), nullable=False),
    Column("knobs", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("owner_id", "name"),
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("parent_id", String(36), ForeignKey("nodes.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("committed", Boolean, nullable=False),
    # The node's recipe (domain.Recipe; the column keeps its first name); None for a root.
    Column("params", JSON, nullable=True),
    Column("audio_key", String(255), nullable=True),
    Column("audio_format", String(16), nullable=True),
    Column("content_type", String(64), nullable=True),
    Column("sample_rate", Integer, nullable=True),
    Column("channels", Integer, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
    Column("error_message", Text, nullable=False, server_default=""),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("filename", String(255), nullable=False, server_default=""),
    # SHA-256 of the audio file, filled the first time stems are asked for.
    Column("audio_sha256", String(64), nullable=True, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Seconds generating should still take (the worker's pace); null when unknown.
    Column("eta_s", Float, nullable=True),
    # The melody a take was conditioned on: a node of the same chain and, for one
    # of its stems, the stem's name. Kept as asked even when that node goes.
    Column("melody_node_id", String(36), nullable=True),
    Column("melody_stem", String(16), nullable=True),
    # What the analysis worker heard (domain.NodeAnalysis as JSON); null until asked.
    Column("analysis", JSON, nullable=True),
    # How the node was made, in words, when it was not quite as asked
    # (a take aligned to bars, or kept to seconds for want of a tempo).
    Column("note", Text, nullable=False, server_default=""),
    # For a take: the second of its parent's audio it continues from; null for
    # the parent's end.
    Column("from_s", Float, nullable=True),
    # For a part of the spine: where it stops playing (its committed child's
    # from_s); null for the whole clip. A node's audio is never rewritten.
    Column("out_s", Float, nullable=True),
    # For a take that replaces a stretch of its parent (from from_s): where the
    # parent should come back, as asked (analysis.rejoin says where it does).
    Column("until_s", Float, nullable=True),
    # The later part of the spine until_s is in, when the stretch runs across
    # parts (those between leave the spine once it is committed); null: the parent.
    Column("until_node_id", String(36), nullable=True),
    # For a part: where it starts playing in its own audio, and the crossfade
    # centred there (the rest of a part after a replaced stretch, sharing the
    # part's audio); null from its first sample, with no crossfade of its own.
    Column("in_s", Float, nullable=True),
    Column("in_fade_s", Float, nullable=True),
    # In the chain's bin since then (discarded, restorable until the bin is
    # emptied); null for a node in the chain.
    Column("binned_at", DateTime(timezone=True), nullable=True),
    # The top node of the subtree binned with it (itself for the top).
    Column("bin_top", String(36), nullable=True),
    # The node whose commit sent it to the bin (uncommitting that node brings
    # it back); null when discarded directly.
    Column("binned_by", String(36), nullable=True),
    # The musician's word on its grid (grid.GridCorrection as JSON); null for as heard.
    Column("grid_correction", JSON, nullable=True),
    # The spine never forks: at most one committed child per parent.
    Index(
        "uq_nodes_one_committed_child",
        "parent_id",
        unique=True,
        sqlite_where=text("committed"),
        postgresql_where=text("committed"),
    ),
)

# The musician's moves on a chain, for undo and redo: commit, uncommit,
# discard, restore and regrid, in order. Undone moves stay until a new move is
# made (they are what redo walks). A regrid keeps the part's grid correction
# before it (what undo puts back) and after it (what redo puts back).
moves = Table(
    "moves",
    metadata,
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("node_id", String(36), nullable=False),
    Column("undone", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("grid_before", JSON, nullable=True),
    Column("grid_after", JSON, nullable=True),
    PrimaryKeyConstraint("chain_id", "seq"),
)

events = Table(
    "events",
    metadata,
    Column("chain_id", String(36), ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("node_id", String(36), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("chain_id", "seq"),
)

# Stems are cached by the content of the audio they came from: the same audio,
# in any node of any chain, is separated once.
stem_sets = Table(
    "stem_sets",
    metadata,
    Column("content_hash", String(64), nullable=False),
    # The model that splits it: a four-stem and a six-stem set of the same audio live side by side.
    Column("model", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("error_message", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("content_hash", "model"),
)

stem_files = Table(
    "stem_files",
    metadata,
    Column("content_hash", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    # As the model names it: drums, bass, other, vocals, guitar, piano...
    Column("stem", String(16), nullable=False),
    # Its place in the model's order (drums, bass, other, vocals, guitar, piano).
    Column("position", Integer, nullable=False, server_default="0"),
    Column("audio_key", String(255), nullable=False),
    Column("audio_format", String(16), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("channels", Integer, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["content_hash", "model"], ["stem_sets.content_hash", "stem_sets.model"], ondelete="CASCADE"
    ),
    PrimaryKeyConstraint("content_hash", "model", "stem"),
)
