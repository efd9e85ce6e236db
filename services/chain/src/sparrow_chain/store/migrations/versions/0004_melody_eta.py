"""takes remember the melody they were conditioned on, and nodes the time left

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("eta_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("melody_node_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("melody_stem", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("melody_stem")
        batch.drop_column("melody_node_id")
        batch.drop_column("eta_s")
