"""generation jobs are claimed in turns across users; takes asked per user and day

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "turns",
        sa.Column("owner_id", sa.String(64), primary_key=True),
        sa.Column("last_claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "usage",
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("takes", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("usage")
    op.drop_table("turns")
