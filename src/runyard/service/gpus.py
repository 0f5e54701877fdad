"""The GPUs as users see them: each card, what runyard runs on it, what else uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runyard.context import Context


def describe_gpus(ctx: Context, history: bool = False) -> dict[str, Any]:
    """Each GPU now; with ``history``, its last readings too (memory used, utilization),
    one per GPU poll, oldest first, so a page opened now can draw the last minutes.
    Called from worker threads too: it reads only the daemon's published view."""
    seen = ctx.view
    views = {g.index: g for g in seen.cluster.gpus}
    pid_to_run = seen.own_pids
    gpus = []
    for reading in seen.readings:
        view = views.get(reading.index)
        runs = [{"run_id": c.run_id, "mem_mib": c.mem_mib} for c in seen.cluster.claims if c.gpu_index == reading.index]
        gpus.append({
            "index": reading.index,
            "uuid": reading.uuid,
            "name": reading.name,
            "memory_mib": reading.memory_mib,
            "used_mib": reading.used_mib,
            "external_mib": view.external_mib if view else 0,
            "external_busy": view.external_busy if view else False,
            "utilization": reading.utilization,
            "processes": [
                {"pid": p.pid, "used_mib": p.used_mib, "run_id": pid_to_run.get(p.pid)}
                for p in reading.processes
            ],
            "runs": sorted(runs, key=lambda r: r["run_id"] or 0),
        })
    if history:
        for gpu in gpus:
            gpu["history"] = [[t, used, util] for t, sample in seen.history
                              for index, used, util in sample if index == gpu["index"]]
    return {"source": ctx.inventory.source, "gpus": gpus}
