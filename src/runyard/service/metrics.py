"""Reading what runs printed: metric series (downsampled at query time), summaries,
events, and rebuilding a run's metrics from its logs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from runyard.domain.metrics import lower_is_better
from runyard.domain.status import PENDING, RunStatus
from runyard.errors import Conflict, NotFound
from runyard.service.files import inside
from runyard.service.runs import load_run
from runyard.store.metrics import delete_metrics, metric_keys, read_columns
from runyard.store.render import number, render_run
from runyard.store.tables import Attempt, Event, Run, RunWarning

if TYPE_CHECKING:
    from runyard.context import Context


def series(ctx: Context, run_id: int, keys: list[str] | None, points: int | None,
           x_min: float | None, x_max: float | None) -> dict[str, Any]:
    """Whole series, or about ``points`` per series chosen so that no spike is hidden.

    A chart of a whole long series is drawn from its overview (store/overviews.py: a few
    thousand points standing for all of them, kept up to date) instead of every point; a
    zoomed range is read exactly.
    """
    from runyard.store.downsample import downsample
    from runyard.store.overviews import overview_points, uses_overview

    downsampled = False
    result: dict[str, list[list[float | str | None]]] = {}
    with ctx.home.sessions() as session:
        load_run(session, run_id)
        for key in metric_keys(session, run_id, keys):
            found = None
            if points is not None and x_min is None and x_max is None and uses_overview(key.count, points):
                found = overview_points(ctx.home.sessions, session, run_id, key.id)
            if found is not None:
                x, y, count = found
                downsampled = downsampled or count > len(x)
            else:
                x, y = read_columns(session, run_id, key.id, x_min, x_max)
            if points is not None and len(x) > points:
                chosen = downsample(x, y, points)
                x, y = x[chosen], y[chosen]
                downsampled = True
            result[key.key] = [[px, number(v)] for px, v in zip(x.tolist(), y.tolist(), strict=True)]
    return {"run_id": run_id, "series": result, "downsampled": downsampled}


def summary(ctx: Context, run_id: int) -> dict[str, Any]:
    with ctx.home.sessions() as session:
        load_run(session, run_id)
        keys = {}
        for k in metric_keys(session, run_id):
            low = lower_is_better(k.key)
            best, best_x = (k.min, k.min_x) if low else (k.max, k.max_x)
            keys[k.key] = {"count": k.count, "first": number(k.first), "first_x": k.first_x, "last": number(k.last),
                           "last_x": k.last_x, "min": _maybe(k.min), "min_x": k.min_x, "max": _maybe(k.max),
                           "max_x": k.max_x, "best": _maybe(best), "best_x": best_x}
    return {"run_id": run_id, "keys": keys}


def _maybe(value: float | None) -> float | str | None:
    return None if value is None else number(value)


def events(ctx: Context, run_id: int, after: int, limit: int) -> dict[str, Any]:
    with ctx.home.sessions() as session:
        load_run(session, run_id)
        rows = session.scalars(select(Event).where(Event.run_id == run_id, Event.id > after)
                               .order_by(Event.id).limit(limit))
        return {"events": [{"id": e.id, "time": e.time, "kind": e.kind, "attempt": e.attempt, "data": e.data}
                           for e in rows]}


def snapshots(ctx: Context, run_id: int) -> list[dict[str, Any]]:
    """The run's statistics snapshots, oldest first."""
    from runyard.ingest.snapshots import list_snapshots

    with ctx.home.sessions() as session:
        load_run(session, run_id)  # an unknown run is a 404
    return list_snapshots(ctx, run_id)


def take_snapshot(ctx: Context, run_id: int) -> str:
    """A snapshot of the run now, in its newest attempt; its file name."""
    from runyard.ingest.snapshots import take_snapshot as take

    with ctx.home.sessions() as session:
        run = load_run(session, run_id)
        attempt = run.attempts[-1].number if run.attempts else None
    name = take(ctx, run_id, attempt, None, None)
    if name is None:
        raise NotFound(f"run {run_id}: the snapshot could not be written (see its snapshot_failed event)")
    return name


def snapshot_path(ctx: Context, run_id: int, name: str) -> Path:
    """The file of one snapshot that the run lists (no path is ever built from the name)."""
    if name not in {s["name"] for s in snapshots(ctx, run_id)}:
        raise NotFound(f"run {run_id} has no snapshot {name!r}")
    return inside(ctx.home.run_dir(run_id), f"stats/{name}")


async def reingest(ctx: Context, run_id: int) -> dict[str, Any]:
    """Rebuild a finished run's metrics, progress, final results and warnings from its logs."""
    from runyard.ingest.artifacts import write_run_outputs
    from runyard.ingest.follower import EndedAttempt, Follower

    with ctx.home.sessions() as session:
        run = load_run(session, run_id)
        if not RunStatus(run.status).is_finished and run.status not in PENDING:
            raise Conflict(f"run {run_id} is {run.status}: reingest it once it has ended")
        delete_metrics(session, run_id)
        session.query(RunWarning).filter(RunWarning.run_id == run_id).delete()
        session.query(Run).filter(Run.id == run_id).update({"progress": None, "final": None, "info": None})
        session.query(Attempt).filter(Attempt.run_id == run_id).update({"log_offset": 0, "parser_state": None})
        session.commit()
        attempts = [(a.id, a.number, a.exit_code, a.signal) for a in run.attempts]
    for attempt_id, number_, exit_code, signal in attempts:
        follower = Follower(ctx, EndedAttempt(attempt_id, run_id, number_), timing=False)
        await follower.drain(exit_code, signal is not None)
    await asyncio.to_thread(write_run_outputs, ctx, run_id)
    with ctx.home.sessions() as session:
        return render_run(load_run(session, run_id))
