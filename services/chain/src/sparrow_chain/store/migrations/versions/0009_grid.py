"""the musician's word on a part's grid (nodes.grid_correction), and what a
regrid move needs for undo and redo: the correction before and after it

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("grid_correction", sa.JSON, nullable=True))
    with op.batch_alter_table("moves") as batch:
        batch.add_column(sa.Column("grid_before", sa.JSON, nullable=True))
        batch.add_column(sa.Column("grid_after", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("moves") as batch:
        batch.drop_column("grid_after")
        batch.drop_column("grid_before")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("grid_correction")
