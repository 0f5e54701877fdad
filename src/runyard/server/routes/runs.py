"""Runs: submit, list, show, act on, and read logs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from runyard.daemon.yard import Yard
from runyard.domain.spec import RunSpec
from runyard.server.routes import RunIdPath, yard_of
from runyard.service import logs, runs

router = APIRouter(tags=["runs"])


@router.post("/runs", status_code=201)
async def submit_run(spec: RunSpec, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return runs.submit(yard, spec)


@router.get("/runs")
async def list_runs(
    status: list[str] = Query(default=[]),
    tag: list[str] = Query(default=[]),
    limit: int | None = Query(default=None, ge=1, le=100_000),
    yard: Yard = Depends(yard_of),
) -> dict[str, Any]:
    return {"runs": runs.list_runs(yard, status or None, tag or None, limit)}


@router.get("/runs/{run_id}")
async def get_run(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return runs.get_run(yard, run_id)


@router.post("/runs/{run_id}/cancel")
async def cancel_run(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return await runs.cancel(yard, run_id)


@router.post("/runs/{run_id}/retry")
async def retry_run(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return runs.retry(yard, run_id)


@router.post("/runs/{run_id}/pause")
async def pause_run(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return runs.pause(yard, run_id)


@router.post("/runs/{run_id}/resume")
async def resume_run(run_id: RunIdPath, yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return runs.resume(yard, run_id)


@router.get("/runs/{run_id}/log", response_class=Response)
async def read_log(
    run_id: RunIdPath,
    attempt: int | None = Query(default=None, ge=1),
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=1 << 20, ge=1, le=16 << 20),
    yard: Yard = Depends(yard_of),
) -> Response:
    """Raw bytes of an attempt's output from ``offset``; headers say where to go on from."""
    chunk = logs.read_log(yard, run_id, attempt, offset, limit)
    return Response(
        chunk.data,
        media_type="text/plain; charset=utf-8",
        headers={
            "X-Runyard-Attempt": str(chunk.attempt),
            "X-Runyard-Next-Offset": str(chunk.next_offset),
            "X-Runyard-Attempt-Finished": "1" if chunk.finished else "0",
        },
    )
