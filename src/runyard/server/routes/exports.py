"""Exports of runs' full metric series as CSV or JSON files, streamed (service/exports.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from runyard.context import Context
from runyard.server.routes import RunIdPath, context_of
from runyard.service.exports import MAX_RUNS, ExportFormat, export_chunks, prepare_export

router = APIRouter(tags=["exports"])

FormatQuery = Annotated[
    ExportFormat,
    Query(
        alias="format",
        description="csv: one table run_id,x,epoch,step,<one column per metric of any of the runs>, "
        "a row per run and x; json: a list of the runs as GET /runs/{id} shows them, each with "
        '"series": {key: [[x, value], …]}.',
    ),
]
RunIdsQuery = Annotated[
    list[Annotated[int, Field(ge=1, le=2**62)]],
    Query(
        min_length=1,
        max_length=MAX_RUNS,
        description=f"A run to export; repeat for more (at most {MAX_RUNS}), in the order wanted.",
    ),
]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as an attachment, streamed as it is made.",
        "content": {"text/csv": {}, "application/json": {}},
    },
    404: {"description": "A run does not exist."},
}


@router.get("/exports", response_class=StreamingResponse, responses=FILE_RESPONSES)
async def export_runs(
    run: RunIdsQuery, fmt: FormatQuery = ExportFormat.CSV, ctx: Context = Depends(context_of)
) -> StreamingResponse:
    """The full metric series (never downsampled) of these runs, as one CSV or JSON file."""
    return await _stream(ctx, run, fmt)


@router.get("/runs/{run_id}/export", response_class=StreamingResponse, responses=FILE_RESPONSES)
async def export_run(
    run_id: RunIdPath, fmt: FormatQuery = ExportFormat.CSV, ctx: Context = Depends(context_of)
) -> StreamingResponse:
    """The full metric series (never downsampled) of one run, as a CSV or JSON file."""
    return await _stream(ctx, [run_id], fmt)


async def _stream(ctx: Context, run_ids: Sequence[int], fmt: ExportFormat) -> StreamingResponse:
    export = await asyncio.to_thread(prepare_export, ctx, run_ids, fmt)
    return StreamingResponse(
        export_chunks(ctx, export),
        media_type=export.format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
