"""analyses are claimed in turns across users (analysis_turns), on a clock of
their own; a user's uploads past the queue's bound wait as jobs `held`

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_turns",
        sa.Column("owner_id", sa.String(64), primary_key=True),
        sa.Column("last_claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    jobs = sa.table("jobs", sa.column("state", sa.String))
    # An older Sparrow knows no held jobs: they join the queue.
    op.execute(jobs.update().where(jobs.c.state == "held").values(state="queued"))
    op.drop_table("analysis_turns")
