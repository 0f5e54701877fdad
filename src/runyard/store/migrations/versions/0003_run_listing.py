"""run listing: sweep, the display command for text search, and the listing's indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 00:00:00.000000
"""

import shlex

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BACKFILL_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sweep", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("command_text", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_runs_sweep"), ["sweep"], unique=False)
        # The run list filters by status and pages by id (its default order) on every request;
        # (status, id) serves that and every lookup by status, so it replaces the old index.
        batch_op.drop_index("ix_runs_status")
        batch_op.create_index("ix_runs_status_id", ["status", "id"], unique=False)
    _backfill_command_text()


def _backfill_command_text() -> None:
    """The display command of the runs that exist, with the rule render.display_command
    had when this was written (a migration must not change when the code does)."""
    runs = sa.table("runs", sa.column("id", sa.Integer), sa.column("spec", sa.JSON),
                    sa.column("command_text", sa.Text))
    connection = op.get_bind()
    rows = connection.execute(sa.select(runs.c.id, runs.c.spec).order_by(runs.c.id)).all()
    updates = []
    for run_id, stored in rows:
        spec = stored or {}
        command = list(spec.get("command") or [])
        text = (command[0] if command else "") if spec.get("shell") else shlex.join(command)
        updates.append({"run_id": run_id, "text": text})
    statement = runs.update().where(runs.c.id == sa.bindparam("run_id")).values(command_text=sa.bindparam("text"))
    for start in range(0, len(updates), BACKFILL_BATCH):
        connection.execute(statement, updates[start:start + BACKFILL_BATCH])


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_status_id")
        batch_op.create_index("ix_runs_status", ["status"], unique=False)
        batch_op.drop_index(batch_op.f("ix_runs_sweep"))
        batch_op.drop_column("command_text")
        batch_op.drop_column("sweep")
