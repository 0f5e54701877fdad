"""Statistics snapshots (PROTOCOL.md §10): the run's full live state as a JSON file,
after every report with validation or test metrics, and on demand."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from runyard.bus import new_message
from runyard.domain.snapshots import snapshot_name
from runyard.errors import RunyardError
from runyard.ingest.outputs import build_snapshot, write_snapshot
from runyard.store.metrics import metric_keys
from runyard.store.render import render_run
from runyard.store.tables import Event, Run

if TYPE_CHECKING:
    from runyard.context import Context

log = logging.getLogger(__name__)


def take_snapshot(ctx: Context, run_id: int, attempt: int | None, step: int | None, epoch: int | None) -> str | None:
    """Write one snapshot; a failure is an event (``snapshot_failed``), never an error."""
    now = time.time()
    with ctx.home.sessions() as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        progress = dict(run.progress or {})
        step = step if step is not None else progress.get("step")
        epoch = epoch if epoch is not None else progress.get("epoch")
        latest = {k.key: (k.last if k.last is not None else float("nan")) for k in metric_keys(session, run_id)}
        gpus = [{"index": g.index, "name": g.name, "memory_mib": g.memory_mib, "used_mib": g.used_mib,
                 "utilization": g.utilization} for g in ctx.view.readings if g.index in (run.gpus or [])]
        state = build_snapshot(run=render_run(run), progress=progress, metrics=latest, info=dict(run.info or {}),
                               gpus=gpus, now=now)
        try:
            # Before any report (an on-demand snapshot at the start), the snapshot is step 0's.
            name = snapshot_name(ctx.home.settings.snapshot_template, step if step is not None else (epoch or 0), epoch or 0)
            path = write_snapshot(ctx.home.run_dir(run_id) / "stats", name, state)
            kind, data = "snapshot_saved", {"name": path.name, "step": step, "epoch": epoch}
        except (OSError, RunyardError, ValueError) as error:
            log.warning("run %s: snapshot failed: %s", run_id, error)
            kind, data, name = "snapshot_failed", {"error": str(error), "step": step}, None
        session.add(Event(run_id=run_id, attempt=attempt, time=now, kind=kind, data=data))
        session.commit()
    ctx.publish_threadsafe([new_message(run_id, kind, data, attempt, now)])
    return name


def list_snapshots(ctx: Context, run_id: int) -> list[dict[str, Any]]:
    folder = ctx.home.run_dir(run_id) / "stats"
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime):
        if path.suffix == ".json" and not path.name.startswith("."):
            stat = path.stat()
            found.append({"name": path.name, "size": stat.st_size, "mtime": stat.st_mtime})
    return found
