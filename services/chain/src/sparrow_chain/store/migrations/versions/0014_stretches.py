"""replacing a stretch: a take's asked end (until_s, in until_node_id when
another part), a part's in point (in_s) and the crossfade centred on it (in_fade_s)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("until_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("until_node_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("in_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("in_fade_s", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("in_fade_s")
        batch.drop_column("in_s")
        batch.drop_column("until_node_id")
        batch.drop_column("until_s")
