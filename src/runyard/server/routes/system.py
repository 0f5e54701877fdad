"""Health and shutdown."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends

from runyard import __version__
from runyard.daemon.yard import Yard
from runyard.server.routes import yard_of

router = APIRouter(tags=["system"])


@router.get("/health")
async def health(yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "pid": os.getpid(), "home": str(yard.settings.home)}


@router.post("/shutdown", status_code=202)
async def shutdown(yard: Yard = Depends(yard_of)) -> dict[str, bool]:
    """Stop the daemon; running attempts go on and are re-attached when it starts again."""
    for callback in yard.on_shutdown:
        callback()
    return {"ok": True}
