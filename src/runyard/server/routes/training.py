"""The training-job API of an annotation tool, for the clients written against it:
jobs are runyard runs tagged ``task_type:<type>`` (see service/training.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, WebSocket, WebSocketDisconnect

from runyard.context import Context
from runyard.errors import NotFound
from runyard.server.routes import context_of
from runyard.service import training
from runyard.service.training import JobRequest, JobStatus, TaskType

log = logging.getLogger(__name__)
router = APIRouter(prefix="/training", tags=["training"])

JobIdPath = Annotated[int, Path(ge=1, le=2**62, description="the job's id (its run's id)")]
NOT_FOUND = 4404  # WebSocket close code: no such job


@router.post("/jobs", status_code=201)
async def create_job(request: JobRequest, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    """Submit a training job: a run tagged ``task_type:<type>``, with ``config`` in its
    environment as ``RUNYARD_CONFIG``."""
    return training.create_job(ctx, request)


@router.get("/jobs")
async def list_jobs(
    response: Response,
    status: list[JobStatus] = Query(default=[], description="any of these job statuses"),
    task_type: TaskType | None = Query(default=None),
    skip: int = Query(default=0, ge=0, le=10_000_000),
    limit: int = Query(default=100, ge=1, le=1000),
    ctx: Context = Depends(context_of),
) -> list[dict[str, Any]]:
    """Jobs, newest first; ``X-Total-Count`` says how many match in all."""
    jobs, total = training.list_jobs(ctx, status, task_type, skip, limit)
    response.headers["X-Total-Count"] = str(total)
    return jobs


@router.get("/jobs/{job_id}")
async def get_job(job_id: JobIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return training.get_job(ctx, job_id)


@router.delete("/jobs/{job_id}")
async def delete_job(job_id: JobIdPath, ctx: Context = Depends(context_of)) -> dict[str, Any]:
    """Cancel an unfinished job (answered once it has stopped). A finished job is 409 for
    now: deleting its files comes with runyard's generic run delete."""
    return await training.delete_job(ctx, job_id)


@router.get("/models", description="Registered models. runyard has no model registry yet (a later "
            "issue): the list is always empty.")
async def list_models(
    task_type: TaskType | None = Query(default=None),
    is_active: bool | None = Query(default=None),
) -> list[dict[str, Any]]:
    return []


@router.patch("/models/{model_id}/activate", description="Always 404: runyard has no model registry yet.")
async def activate_model(model_id: Annotated[str, Path(max_length=200)]) -> dict[str, Any]:
    raise NotFound(f"model {model_id} not found: runyard has no model registry yet")


@router.websocket("/ws/{job_id}")
async def follow_job(websocket: WebSocket, job_id: str) -> None:
    """A job's live messages: ``status_change`` (first the state now), ``epoch_complete``
    and ``training_complete``, after which the socket is closed (1000). An unknown job:
    an ``error`` message, then close code 4404."""
    await websocket.accept()
    ctx: Context = websocket.app.state.ctx
    sender = asyncio.create_task(_send_messages(websocket, ctx, job_id))
    listener = asyncio.create_task(_until_disconnect(websocket))
    done, _ = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    for task in (sender, listener):
        task.cancel()
    await asyncio.gather(sender, listener, return_exceptions=True)
    if sender not in done or sender.cancelled():
        return  # the client left
    error = sender.exception()
    if isinstance(error, WebSocketDisconnect):
        return
    if error is not None:
        log.error("training job %s: the stream failed", job_id, exc_info=error)
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.close(1011 if error is not None else sender.result())


async def _send_messages(websocket: WebSocket, ctx: Context, job_id: str) -> int:
    """Send the job's messages until it ends; returns the close code."""
    try:
        async with contextlib.aclosing(training.follow_job(ctx, training.find_job_id(job_id))) as messages:
            async for message in messages:
                await websocket.send_json(message)
    except NotFound as error:
        await websocket.send_json({"type": "error", "detail": str(error)})
        return NOT_FOUND
    return 1000


async def _until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass  # clients send nothing this stream needs
