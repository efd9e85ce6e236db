"""a job may wait on other jobs (job_waits: not claimable until they are done);
a takes job's params are resolved once (jobs.resolved)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("resolved", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "job_waits",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("on_job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fails_as", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("job_id", "on_job_id"),
    )
    op.create_index("ix_job_waits_on_job_id", "job_waits", ["on_job_id"])


def downgrade() -> None:
    op.drop_index("ix_job_waits_on_job_id", table_name="job_waits")
    op.drop_table("job_waits")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("resolved")
