"""The GPU inventory and what occupies each card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from runyard.daemon.yard import Yard
from runyard.server.routes import yard_of
from runyard.service.gpus import describe_gpus

router = APIRouter(tags=["gpus"])


@router.get("/gpus")
async def list_gpus(yard: Yard = Depends(yard_of)) -> dict[str, Any]:
    return describe_gpus(yard)
