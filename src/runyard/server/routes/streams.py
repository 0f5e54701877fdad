"""Live streams over WebSocket and Server-Sent Events (the messages: service/streams.py).

WebSocket: ``/api/v1/runs/{id}/ws`` and ``/api/v1/ws``; SSE: ``/api/v1/runs/{id}/stream``
and ``/api/v1/stream``. Each message is one JSON object (one WebSocket text frame, one SSE
``data:`` line). A run's stream closes normally (1000) after its ``end`` message; an
unknown run closes the socket with 4404 after an ``error`` message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse
from starlette.websockets import WebSocketDisconnect

from runyard.context import Context
from runyard.errors import RunNotFound
from runyard.server.routes import AttemptQuery, ByteOffset, RunIdPath, context_of
from runyard.service import logs
from runyard.service.runs import get_run
from runyard.service.streams import QueueFeed, message, queue_stream, run_stream

router = APIRouter(tags=["streams"])
SSE_PING_S = 15

LogQuery = Query(default=True, description="include new log output (`log` messages)")


def queue_feed(app: Any) -> QueueFeed:
    feed: QueueFeed = app.state.queue_feed
    return feed


async def pump(websocket: WebSocket, stream: AsyncIterator[str]) -> None:
    """Send a stream's messages until it ends or the client leaves (noticed at once,
    also while the stream is quiet: a watcher of the socket cancels the sending)."""
    sender = asyncio.current_task()
    assert sender is not None
    left = False

    async def until_gone() -> None:
        nonlocal left
        with contextlib.suppress(WebSocketDisconnect):
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        left = True
        sender.cancel()

    gone = asyncio.ensure_future(until_gone())
    try:
        async for text in stream:
            await websocket.send_text(text)
        await websocket.close(1000)
    except asyncio.CancelledError:
        if not left:
            raise
        sender.uncancel()
    finally:
        gone.cancel()
        await _close(stream)


async def _close(source: AsyncIterator[str]) -> None:
    close = getattr(source, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


@router.websocket("/runs/{run_id}/ws")
async def run_ws(websocket: WebSocket, run_id: RunIdPath, log: bool = LogQuery) -> None:
    """A run's live messages: its state first, then every change, until it has finished."""
    await websocket.accept()
    ctx: Context = websocket.app.state.ctx
    stream = run_stream(ctx, run_id, log)
    try:
        first = await anext(stream)
    except RunNotFound as error:
        await websocket.send_text(message("error", {"error": "not_found", "detail": str(error)}, run_id).text())
        await websocket.close(4404)
        return
    with contextlib.suppress(WebSocketDisconnect):
        await websocket.send_text(first)
        await pump(websocket, stream)


@router.websocket("/ws")
async def queue_ws(websocket: WebSocket) -> None:
    """The whole queue's live messages: its state first, then every change."""
    await websocket.accept()
    ctx: Context = websocket.app.state.ctx
    with contextlib.suppress(WebSocketDisconnect):
        await pump(websocket, queue_stream(ctx, queue_feed(websocket.app)))


def _sse(stream: AsyncIterator[str]) -> EventSourceResponse:
    async def events() -> AsyncIterator[dict[str, Any]]:
        async for text in stream:
            yield {"data": text}

    return EventSourceResponse(events(), ping=SSE_PING_S, headers={"Cache-Control": "no-store"})


@router.get("/runs/{run_id}/stream", response_class=EventSourceResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def run_sse(run_id: RunIdPath, log: bool = LogQuery, ctx: Context = Depends(context_of)) -> EventSourceResponse:
    """The run's live messages as Server-Sent Events (one JSON object per event)."""
    await asyncio.to_thread(get_run, ctx, run_id)  # an unknown run is a 404, not an empty stream
    return _sse(run_stream(ctx, run_id, log))


@router.get("/stream", response_class=EventSourceResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def queue_sse(request: Request, ctx: Context = Depends(context_of)) -> EventSourceResponse:
    """The whole queue's live messages as Server-Sent Events."""
    return _sse(queue_stream(ctx, queue_feed(request.app)))


@router.get("/runs/{run_id}/log/follow", response_class=StreamingResponse,
            responses={200: {"content": {"text/plain": {}}}})
async def follow_log(
    run_id: RunIdPath,
    request: Request,
    attempt: AttemptQuery = None,
    offset: ByteOffset = 0,
    ctx: Context = Depends(context_of),
) -> StreamingResponse:
    """Every byte of an attempt's output from ``offset``, as it is written (like
    ``tail -f``), ending when the attempt has ended and all of it was sent."""
    first = await asyncio.to_thread(logs.read_log, ctx, run_id, attempt, offset, 1 << 20)

    async def body() -> AsyncIterator[bytes]:
        chunk = first
        with ctx.bus.subscribe(run_id, frozenset({"log", "status"})) as sub:
            while True:
                if chunk.data:
                    yield chunk.data
                elif chunk.finished:
                    return
                else:  # woken by new output or a status change; polled as well
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(sub.queue.get(), 0.5)
                    if await request.is_disconnected():
                        return
                chunk = await asyncio.to_thread(logs.read_log, ctx, run_id, chunk.attempt or None, chunk.next_offset,
                                                1 << 20)

    return StreamingResponse(body(), media_type="text/plain; charset=utf-8",
                             headers={"X-Runyard-Attempt": str(first.attempt), "Cache-Control": "no-store"})
