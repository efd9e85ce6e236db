"""stems cached by content, stems jobs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("stem_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("node_id", sa.String(36), nullable=True))
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("audio_sha256", sa.String(64), nullable=True))
        batch.create_index("ix_nodes_audio_sha256", ["audio_sha256"])
    op.create_table(
        "stem_sets",
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("error_message", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "stem_files",
        sa.Column("content_hash", sa.String(64), sa.ForeignKey("stem_sets.content_hash", ondelete="CASCADE"), nullable=False),
        sa.Column("stem", sa.String(16), nullable=False),
        sa.Column("audio_key", sa.String(255), nullable=False),
        sa.Column("audio_format", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("sample_rate", sa.Integer, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("content_hash", "stem"),
    )


def downgrade() -> None:
    op.drop_table("stem_files")
    op.drop_table("stem_sets")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_index("ix_nodes_audio_sha256")
        batch.drop_column("audio_sha256")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("node_id")
        batch.drop_column("stem_hash")
