"""stem sets are keyed by the audio's content and the model that splits it: a
four-stem and a six-stem set of the same audio live side by side

Sets made before this revision were made by the one model a worker loaded then,
htdemucs by default: they are kept under that name.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The model every set was made by until now (the stems worker's only default).
EARLIER_MODEL = "htdemucs"

FILE_COLUMNS = "stem, audio_key, audio_format, content_type, sample_rate, channels, duration_s, size_bytes"


def _sets(name: str, keyed_by_model: bool) -> None:
    op.create_table(
        name,
        sa.Column("content_hash", sa.String(64), nullable=False),
        *([sa.Column("model", sa.String(64), nullable=False)] if keyed_by_model else []),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("error_message", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", *(["model"] if keyed_by_model else [])),
    )


def _files(name: str, sets: str, keyed_by_model: bool) -> None:
    key = ["content_hash", *(["model"] if keyed_by_model else [])]
    op.create_table(
        name,
        sa.Column("content_hash", sa.String(64), nullable=False),
        *([sa.Column("model", sa.String(64), nullable=False)] if keyed_by_model else []),
        sa.Column("stem", sa.String(16), nullable=False),
        *([sa.Column("position", sa.Integer, nullable=False, server_default="0")] if keyed_by_model else []),
        sa.Column("audio_key", sa.String(255), nullable=False),
        sa.Column("audio_format", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("sample_rate", sa.Integer, nullable=False),
        sa.Column("channels", sa.Integer, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(key, [f"{sets}.{column}" for column in key], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*key, "stem"),
    )


def _swap(new_sets: str, new_files: str) -> None:
    op.drop_table("stem_files")
    op.drop_table("stem_sets")
    op.rename_table(new_sets, "stem_sets")
    op.rename_table(new_files, "stem_files")


def upgrade() -> None:
    _sets("stem_sets_by_model", keyed_by_model=True)
    _files("stem_files_by_model", "stem_sets_by_model", keyed_by_model=True)
    op.execute(
        "INSERT INTO stem_sets_by_model (content_hash, model, status, progress, error_message, created_at, updated_at) "
        f"SELECT content_hash, '{EARLIER_MODEL}', status, progress, error_message, created_at, updated_at FROM stem_sets"
    )
    # The earlier model's stems in the order it wrote them.
    position = "CASE stem WHEN 'drums' THEN 0 WHEN 'bass' THEN 1 WHEN 'other' THEN 2 ELSE 3 END"
    op.execute(
        f"INSERT INTO stem_files_by_model (content_hash, model, position, {FILE_COLUMNS}) "
        f"SELECT content_hash, '{EARLIER_MODEL}', {position}, {FILE_COLUMNS} FROM stem_files"
    )
    _swap("stem_sets_by_model", "stem_files_by_model")
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("stem_model", sa.String(64), nullable=True))
    op.execute(f"UPDATE jobs SET stem_model = '{EARLIER_MODEL}' WHERE stem_hash IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("stem_model")
    _sets("stem_sets_one", keyed_by_model=False)
    _files("stem_files_one", "stem_sets_one", keyed_by_model=False)
    # Only the earlier model's sets fit the old shape.
    op.execute(
        "INSERT INTO stem_sets_one (content_hash, status, progress, error_message, created_at, updated_at) "
        "SELECT content_hash, status, progress, error_message, created_at, updated_at FROM stem_sets "
        f"WHERE model = '{EARLIER_MODEL}'"
    )
    op.execute(
        f"INSERT INTO stem_files_one (content_hash, {FILE_COLUMNS}) "
        f"SELECT content_hash, {FILE_COLUMNS} FROM stem_files WHERE model = '{EARLIER_MODEL}'"
    )
    _swap("stem_sets_one", "stem_files_one")
