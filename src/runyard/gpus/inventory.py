"""The GPU inventory: which GPUs runyard may use, and what outside runyard occupies them.

:func:`open_inventory` picks the source once per daemon: a declared file when
``RUNYARD_GPU_INVENTORY`` names one, else NVML, else none (a CPU-only machine). The
``--gpus`` restriction is applied here, so nothing downstream sees GPUs it may not use.
:func:`gpu_states` turns readings into the planner's view, a pure function so the rule
for "busy with someone else's work" is tested without a GPU.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping

from runyard.gpus.declared import DeclaredInventory
from runyard.gpus.nvml import NvmlInventory, open_nvml
from runyard.gpus.readings import GpuProcess, GpuReading, Inventory, NoInventory
from runyard.scheduler.planner import GpuState
from runyard.settings import Settings

__all__ = [
    "DeclaredInventory",
    "GpuProcess",
    "GpuReading",
    "Inventory",
    "NoInventory",
    "NvmlInventory",
    "RestrictedInventory",
    "gpu_states",
    "open_inventory",
    "restrict",
]

log = logging.getLogger(__name__)


def open_inventory(settings: Settings) -> Inventory:
    """The inventory this daemon reads: declared file → NVML → none, then ``--gpus``."""
    inventory: Inventory
    if settings.gpu_inventory is not None:
        inventory = DeclaredInventory(settings.gpu_inventory)
    else:
        inventory = open_nvml() or NoInventory()
        if inventory.source == "none":
            log.info("no GPUs found: only runs without GPUs will start (see RUNYARD_GPU_INVENTORY)")
    allowed = settings.allowed_gpus()
    return inventory if allowed is None else RestrictedInventory(inventory, allowed)


def restrict(readings: Iterable[GpuReading], allowed: Collection[int] | None) -> list[GpuReading]:
    """Only the GPUs runyard may use (``--gpus 0,2,3``); None allows all."""
    return [r for r in readings if allowed is None or r.index in allowed]


class RestrictedInventory:
    """Another inventory seen through the ``--gpus`` restriction."""

    def __init__(self, inner: Inventory, allowed: Collection[int]) -> None:
        self.inner = inner
        self.allowed = frozenset(allowed)

    @property
    def source(self) -> str:
        return self.inner.source

    def read(self) -> list[GpuReading]:
        return restrict(self.inner.read(), self.allowed)


def gpu_states(
    readings: Iterable[GpuReading],
    runyard_pids: Collection[int],
    threshold_mib: int,
    claimed_mib: Mapping[int, int] | None = None,
) -> list[GpuState]:
    """What the planner needs of each GPU: memory used outside runyard, and whether it is busy.

    With a process list, outside use is the memory of the processes whose pid is not one
    of runyard's, and the GPU is busy if that exceeds ``threshold_mib`` or any such
    process exists. Without one (a declared GPU listing none, or NVML unable to list),
    outside use is ``used_mib`` less what runyard claims there (``claimed_mib``, by GPU
    index) — except for a declared reading, whose ``used_mib`` is outside use already —
    and the GPU is busy only past the threshold: a little memory in use is not a process.
    """
    states = []
    for reading in readings:
        if reading.processes:
            outside = [p for p in reading.processes if p.pid not in runyard_pids]
            external = sum(p.used_mib for p in outside)
            busy = bool(outside) or external > threshold_mib
            pids = tuple(sorted(p.pid for p in outside))
        else:
            ours = (
                0
                if reading.outside_only or claimed_mib is None
                else claimed_mib.get(reading.index, 0)
            )
            external = max(0, reading.used_mib - ours)
            busy = external > threshold_mib
            pids = ()
        states.append(GpuState(reading.index, reading.memory_mib, external, busy, pids))
    return states
