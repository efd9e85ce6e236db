"""each kind of job goes by one name, its module's (kinds/takes.py, kinds/analysis.py):
jobs of kind "generate" are "takes", and "analyze" are "analysis"

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_RENAMED = {"generate": "takes", "analyze": "analysis"}


def _rename(names: dict[str, str]) -> None:
    jobs = sa.table("jobs", sa.column("kind", sa.String))
    for old, new in names.items():
        op.execute(jobs.update().where(jobs.c.kind == old).values(kind=new))


def upgrade() -> None:
    _rename(_RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in _RENAMED.items()})
