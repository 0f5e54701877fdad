"""Short texts the CLI's renderers share (``render.py`` and ``render_metrics.py`` both
import them; neither imports the other for them)."""

from __future__ import annotations

from typing import Any

from runyard.domain.status import PENDING_NAMES as PENDING


def format_span(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``, ``3d04h``: short and sortable by eye."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def gpus_text(run: dict[str, Any]) -> str:
    """The GPUs a run holds; for a pending run, what it asks for."""
    if run.get("gpus"):
        return ",".join(str(g) for g in run["gpus"])
    if run.get("status") not in PENDING:
        return (
            "cpu"
            if run.get("status") in ("preparing", "running", "paused") or run.get("gpus_max") == 0
            else "-"
        )
    if run.get("gpu_ids"):
        return "ids " + ",".join(str(g) for g in run["gpu_ids"])
    low, high = run.get("gpus_min"), run.get("gpus_max")
    if low is None and high is None:
        return "auto"
    if high == 0:
        return "cpu"
    want = f"{low}" if low == high else f"{low}-{high}"
    return f"want {want}"
