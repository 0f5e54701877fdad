"""The GPU inventory and what occupies each card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from runyard.context import Context
from runyard.server.routes import context_of
from runyard.service.gpus import describe_gpus

router = APIRouter(tags=["gpus"])


@router.get("/gpus")
async def list_gpus(
    history: bool = Query(default=False, description="add each GPU's recent readings: [[time, used_mib, utilization], …]"),
    ctx: Context = Depends(context_of),
) -> dict[str, Any]:
    """Every GPU runyard sees: memory, utilization, the runs on it and any other process."""
    return describe_gpus(ctx, history)
