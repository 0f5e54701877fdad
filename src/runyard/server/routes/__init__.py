"""REST routers: thin handlers that call a service and shape the answer."""

from typing import Annotated

from fastapi import Path, Query, Request

from runyard.context import Context


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


RunIdPath = Annotated[int, Path(ge=1, le=2**62, description="the run's id")]
"""A run id in a path; bounded, so that no number reaches the database it cannot hold."""

MAX_OFFSET = 2**63 - 1
"""The largest file offset (off_t) and event id a request may name."""
ByteOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="byte to start from")]
AttemptQuery = Annotated[int | None, Query(ge=1, le=1_000_000, description="attempt (default: the latest)")]
