"""Health and shutdown."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends

from runyard import __version__
from runyard.context import Context
from runyard.server.routes import context_of

router = APIRouter(tags=["system"])


@router.get("/health")
async def health(ctx: Context = Depends(context_of)) -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "pid": os.getpid(), "home": str(ctx.home.settings.home)}


@router.post("/shutdown", status_code=202)
async def shutdown(ctx: Context = Depends(context_of)) -> dict[str, bool]:
    """Stop the daemon; running attempts go on and are re-attached when it starts again."""
    ctx.request_shutdown()
    return {"ok": True}
