"""What an inventory reports: one :class:`GpuReading` per GPU, as read just now.

Kept apart from :mod:`runyard.gpus.inventory` so that the NVML and declared sources can
share these types without importing the module that chooses between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class GpuProcess:
    pid: int
    used_mib: int  # 0 when the driver does not say


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One GPU as read now.

    ``used_mib`` is the memory used on the card and ``processes`` every compute process
    seen on it, runyard's included. A declared file describes only use *outside* runyard
    (``outside_only``): its ``used_mib`` is then not reduced by what runyard claims.
    """

    index: int
    uuid: str
    name: str
    memory_mib: int
    used_mib: int
    utilization: int | None  # percent; None when unknown
    processes: tuple[GpuProcess, ...]
    outside_only: bool = False


class Inventory(Protocol):
    """A source of GPU readings. ``read`` never raises: on trouble it logs and repeats
    the last good reading, so one bad poll never empties the machine under the scheduler."""

    @property
    def source(self) -> str:  # "nvml" | "declared" | "none"
        ...

    def read(self) -> list[GpuReading]: ...


class NoInventory:
    """No GPUs: a machine without NVIDIA's driver and no declared file. CPU runs still run."""

    source = "none"

    def read(self) -> list[GpuReading]:
        return []
