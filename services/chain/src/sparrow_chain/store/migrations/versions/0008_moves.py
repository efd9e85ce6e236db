"""the editing moves: takes continue from a point of their parent (from_s) and
parts of the spine stop at an out point (out_s); discarded nodes go to the
chain's bin; the moves are kept for undo and redo

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("from_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("out_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("binned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("bin_top", sa.String(36), nullable=True))
        batch.add_column(sa.Column("binned_by", sa.String(36), nullable=True))
    op.create_table(
        "moves",
        sa.Column("chain_id", sa.String(36), sa.ForeignKey("chains.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("node_id", sa.String(36), nullable=False),
        sa.Column("undone", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("moves")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("binned_by")
        batch.drop_column("bin_top")
        batch.drop_column("binned_at")
        batch.drop_column("out_s")
        batch.drop_column("from_s")
