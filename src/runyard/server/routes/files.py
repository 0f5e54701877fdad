"""A run's files: listed, and downloaded by relative path (never outside its folder)."""

from __future__ import annotations

import asyncio
import mimetypes
from typing import Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse

from runyard.context import Context
from runyard.server.routes import RunIdPath, context_of
from runyard.service.files import list_files, run_file

router = APIRouter(tags=["files"])
# What the OpenAPI document says a path may be (the service checks it, and more: see
# service/files.py): relative, no ``..`` segment, no NUL or backslash.
INSIDE = r"^(?!/)(?!(.*/)?\.\.(/|$))[^\x00\\]+$"
TEXT = {".log": "text/plain; charset=utf-8", ".jsonl": "application/x-ndjson", ".csv": "text/csv; charset=utf-8"}


@router.get("/runs/{run_id}/files")
async def files(run_id: RunIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    """Every file of the run's folder: spec, logs, events, scalars, figures, snapshots,
    checkpoints — ``{"files": [{"path", "size", "mtime"}]}``."""
    return {"files": await asyncio.to_thread(list_files, ctx, run_id)}


@router.get("/runs/{run_id}/files/{path:path}", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
async def download(
    run_id: RunIdPath,
    path: str = Path(max_length=4096, description="relative to the run's folder, as `files` lists it",
                     json_schema_extra={"pattern": INSIDE}),
    ctx: Context = Depends(context_of),
) -> FileResponse:
    found = await asyncio.to_thread(run_file, ctx, run_id, path)
    media = TEXT.get(found.suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    return FileResponse(found, media_type=media, filename=found.name,
                        content_disposition_type="inline" if media.startswith(("text/", "image/", "application/json"))
                        else "attachment")
