"""The GPUs as users see them: each card, what runyard runs on it, what else uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runyard.daemon.yard import Yard


def describe_gpus(yard: Yard, history: bool = False) -> dict[str, Any]:
    """Each GPU now; with ``history``, its last readings too (memory used, utilization),
    one per GPU poll, oldest first, so a page opened now can draw the last minutes."""
    views = {g.index: g for g in yard.gpu_view}
    pid_to_run = yard.runyard_pids()
    gpus = []
    for reading in yard.readings:
        view = views.get(reading.index)
        runs = [{"run_id": a.run_id, "mem_mib": a.gpu_mem_mib} for a in yard.live.values() if reading.index in a.gpus]
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
            gpu["history"] = [[t, used, util] for t, sample in yard.gpu_history
                              for index, used, util in sample if index == gpu["index"]]
    return {"source": yard.inventory.source, "gpus": gpus}
