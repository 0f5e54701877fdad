"""metric overviews: the stored M4 reduction of each long series, and the generation of a
series that says whether an overview still stands for it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 00:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("metric_keys", sa.Column("generation", sa.Integer(), server_default="0", nullable=False))
    # No backfill: a series without an overview is read whole once, and its overview built then.
    op.create_table(
        "metric_overviews",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("key_count", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("upto_x", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["metric_keys.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("metric_overviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_overviews_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("metric_overviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_overviews_run_id"))
    op.drop_table("metric_overviews")
    # Not in batch mode: on SQLite that copies the table and drops the old one, and the drop
    # would delete every metric point by ON DELETE CASCADE. ALTER TABLE … DROP COLUMN (SQLite
    # 3.35+) leaves the rows alone.
    op.drop_column("metric_keys", "generation")
