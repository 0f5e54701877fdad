"""Metrics, events, snapshots and reingestion of a run."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import FileResponse

from runyard.daemon.yard import Yard
from runyard.errors import NotFound
from runyard.ingest.snapshots import list_snapshots
from runyard.server.routes import MAX_OFFSET, RunIdPath, yard_of
from runyard.service import metrics
from runyard.service.files import NAME_MAX, inside
from runyard.service.runs import get_run

router = APIRouter(tags=["metrics"])


@router.get("/runs/{run_id}/metrics", response_class=Response)
async def read_metrics(
    run_id: RunIdPath,
    key: list[str] = Query(default=[]),
    points: int | None = Query(default=None, ge=3, le=1_000_000),
    x_min: float | None = None,
    x_max: float | None = None,
    yard: Yard = Depends(yard_of),
) -> Response:
    """Metric series as {"series": {key: [[x, value], …]}}; with ``points``, each series
    downsampled so that no spike is hidden. Encoded with orjson: a series can be 10⁶ points."""
    found = await asyncio.to_thread(metrics.series, yard, run_id, key or None, points, x_min, x_max)
    return Response(orjson.dumps(found), media_type="application/json")


@router.get("/runs/{run_id}/metrics/summary")
async def read_summary(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return metrics.summary(yard, run_id)


@router.get("/runs/{run_id}/events")
async def read_events(
    run_id: RunIdPath,
    after: int = Query(default=0, ge=0, le=MAX_OFFSET, description="events after this id"),
    limit: int = Query(default=1000, ge=1, le=10_000),
    yard: Yard = Depends(yard_of),
) -> dict[str, Any]:
    return metrics.events(yard, run_id, after, limit)


@router.post("/runs/{run_id}/reingest")
async def reingest(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return await metrics.reingest(yard, run_id)


@router.get("/runs/{run_id}/snapshots")
async def snapshots(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    get_run(yard, run_id)
    return {"snapshots": list_snapshots(yard, run_id)}


@router.post("/runs/{run_id}/snapshots", status_code=201)
async def take_snapshot(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    run = get_run(yard, run_id)
    attempt = run["attempts"][-1]["number"] if run["attempts"] else None
    name = yard.take_snapshot(run_id, attempt, None, None)
    if name is None:
        raise NotFound(f"run {run_id}: the snapshot could not be written (see its snapshot_failed event)")
    return {"name": name}


@router.get("/runs/{run_id}/snapshots/{name}", response_class=FileResponse)
async def read_snapshot(
    run_id: RunIdPath,
    name: str = Path(max_length=NAME_MAX, description="a name that `snapshots` lists"),
    yard: Yard = Depends(yard_of),
) -> FileResponse:
    get_run(yard, run_id)
    names = {s["name"] for s in list_snapshots(yard, run_id)}
    if name not in names:  # only files listed in stats/: no path ever built from user input
        raise NotFound(f"run {run_id} has no snapshot {name!r}")
    return FileResponse(inside(yard.run_dir(run_id), f"stats/{name}"), media_type="application/json")
