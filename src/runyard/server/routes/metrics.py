"""Metrics, events, snapshots and reingestion of a run."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import FileResponse

from runyard.context import Context
from runyard.server.routes import MAX_OFFSET, RunIdPath, context_of
from runyard.service import metrics
from runyard.service.files import NAME_MAX

router = APIRouter(tags=["metrics"])


@router.get("/runs/{run_id}/metrics", response_class=Response)
async def read_metrics(
    run_id: RunIdPath,
    key: list[str] = Query(default=[]),
    points: int | None = Query(default=None, ge=3, le=1_000_000),
    x_min: float | None = None,
    x_max: float | None = None,
    ctx: Context = Depends(context_of),
) -> Response:
    """Metric series as {"series": {key: [[x, value], …]}}; with ``points``, each series
    downsampled so that no spike is hidden. Encoded with orjson: a series can be 10⁶ points."""
    found = await asyncio.to_thread(metrics.series, ctx, run_id, key or None, points, x_min, x_max)
    return Response(orjson.dumps(found), media_type="application/json")


@router.get("/runs/{run_id}/metrics/summary")
async def read_summary(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return metrics.summary(ctx, run_id)


@router.get("/runs/{run_id}/events")
async def read_events(
    run_id: RunIdPath,
    after: int = Query(default=0, ge=0, le=MAX_OFFSET, description="events after this id"),
    limit: int = Query(default=1000, ge=1, le=10_000),
    ctx: Context = Depends(context_of),
) -> dict[str, Any]:
    return metrics.events(ctx, run_id, after, limit)


@router.post("/runs/{run_id}/reingest")
async def reingest(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return await metrics.reingest(ctx, run_id)


@router.get("/runs/{run_id}/snapshots")
async def snapshots(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return {"snapshots": metrics.snapshots(ctx, run_id)}


@router.post("/runs/{run_id}/snapshots", status_code=201)
async def take_snapshot(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return {"name": metrics.take_snapshot(ctx, run_id)}


@router.get("/runs/{run_id}/snapshots/{name}", response_class=FileResponse)
async def read_snapshot(
    run_id: RunIdPath,
    name: str = Path(max_length=NAME_MAX, description="a name that `snapshots` lists"),
    ctx: Context = Depends(context_of),
) -> FileResponse:
    return FileResponse(metrics.snapshot_path(ctx, run_id, name), media_type="application/json")
