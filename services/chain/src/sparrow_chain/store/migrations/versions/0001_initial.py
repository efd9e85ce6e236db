"""chains, nodes, jobs and the event log

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chains",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_chains_owner_id", "chains", ["owner_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at"])
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
        sa.Column("parent_id", sa.String(36), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=True),
        sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("committed", sa.Boolean, nullable=False),
        sa.Column("params", sa.JSON, nullable=True),
        sa.Column("audio_key", sa.String(255), nullable=True),
        sa.Column("audio_format", sa.String(16), nullable=True),
        sa.Column("content_type", sa.String(64), nullable=True),
        sa.Column("sample_rate", sa.Integer, nullable=True),
        sa.Column("channels", sa.Integer, nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("error_message", sa.Text, nullable=False, server_default=""),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("filename", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_nodes_chain_id", "nodes", ["chain_id"])
    op.create_index("ix_nodes_parent_id", "nodes", ["parent_id"])
    op.create_index("ix_nodes_job_id", "nodes", ["job_id"])
    op.create_index(
        "uq_nodes_one_committed_child",
        "nodes",
        ["parent_id"],
        unique=True,
        sqlite_where=sa.text("committed"),
        postgresql_where=sa.text("committed"),
    )
    op.create_table(
        "events",
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("node_id", sa.String(36), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("nodes")
    op.drop_table("jobs")
    op.drop_table("chains")
