"""Runs: submit, list, show, act on, and read logs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from runyard.context import Context
from runyard.domain.spec import RunSpec
from runyard.server.routes import AttemptQuery, ByteOffset, RunIdPath, context_of
from runyard.service import listing, logs, runs

router = APIRouter(tags=["runs"])


@router.post("/runs", status_code=201)
async def submit_run(spec: RunSpec, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return runs.submit(ctx, spec)


class RunPage(BaseModel):
    """One page of the run list."""

    runs: list[dict[str, Any]] = Field(description="The page's runs, each as GET /runs/{run_id} shows it.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int = Field(description="How many runs match every filter.")
    counts: dict[str, int] = Field(description="How many runs are in each status, under every filter but status.")


@router.get("/runs", response_model=RunPage)
async def list_runs(
    status: list[str] = Query(
        default=[],
        description="Only runs in these statuses (repeat the parameter, or separate with commas).",
    ),
    tag: list[str] = Query(default=[], description="Only runs with any of these tags (repeat the parameter)."),
    q: str | None = Query(
        default=None,
        max_length=500,
        description="Only runs whose name or command contains this text (case-insensitive; % and _ are literal).",
    ),
    sweep: str | None = Query(default=None, max_length=200, description="Only the runs of this sweep."),
    sort: str = Query(
        default="-id",
        max_length=300,
        description=(
            "The order: id, name, status, priority, created_at, started_at, finished_at, duration, attempts, "
            "metric:<key> (its last value) or metric:<key>:<last|best|min|max>; a leading '-' sorts "
            "descending. Runs without the value come last either way; ties go by id in the same direction."
        ),
    ),
    limit: int = Query(default=listing.DEFAULT_LIMIT, ge=1, le=listing.MAX_LIMIT, description="Runs per page."),
    cursor: str | None = Query(
        default=None,
        max_length=2000,
        description="The next_cursor of the previous page, to get the page after it (same sort).",
    ),
    ctx: Context = Depends(context_of),
) -> dict[str, Any]:
    """One page of runs, with ``next_cursor`` (null on the last page), ``total`` (the runs
    matching the filters) and ``counts`` (per status, under every filter but status)."""
    query = listing.RunQuery(
        status=tuple(status), tag=tuple(tag), q=q, sweep=sweep, sort=sort, limit=limit, cursor=cursor
    )
    return listing.list_page(ctx, query)


class Batch(BaseModel):
    """Many runs in one request: all are submitted, or none (the error names the spec)."""

    runs: list[RunSpec] = Field(min_length=1, max_length=10_000)
    sweep: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00]*$",
                              description="put every run of the batch in this sweep (overrides their own)")


@router.post("/runs/batch", status_code=201)
async def submit_runs(batch: Batch, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    specs = batch.runs if batch.sweep is None else [s.model_copy(update={"sweep": batch.sweep}) for s in batch.runs]
    return {"runs": runs.submit_many(ctx, specs)}


@router.delete("/runs/{run_id}")
async def delete_run(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    """Delete a finished run with its metrics, events and files (409 while it is not finished)."""
    return await runs.delete(ctx, run_id)


@router.get("/runs/{run_id}")
async def get_run(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return runs.get_run(ctx, run_id)


@router.post("/runs/{run_id}/cancel")
async def cancel_run(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return await runs.cancel(ctx, run_id)


@router.post("/runs/{run_id}/retry")
async def retry_run(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return runs.retry(ctx, run_id)


@router.post("/runs/{run_id}/pause")
async def pause_run(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return runs.pause(ctx, run_id)


@router.post("/runs/{run_id}/resume")
async def resume_run(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return runs.resume(ctx, run_id)


@router.get("/runs/{run_id}/log", response_class=Response)
async def read_log(
    run_id: RunIdPath,
    attempt: AttemptQuery = None,
    offset: ByteOffset = 0,
    limit: int = Query(default=1 << 20, ge=1, le=16 << 20),
    ctx: Context = Depends(context_of),
) -> Response:
    """Raw bytes of an attempt's output from ``offset``; headers say where to go on from."""
    chunk = logs.read_log(ctx, run_id, attempt, offset, limit)
    return Response(
        chunk.data,
        media_type="text/plain; charset=utf-8",
        headers={
            "X-Runyard-Attempt": str(chunk.attempt),
            "X-Runyard-Next-Offset": str(chunk.next_offset),
            "X-Runyard-Attempt-Finished": "1" if chunk.finished else "0",
        },
    )
