"""The GPUs as NVIDIA's driver reports them, through NVML (the ``nvidia-ml-py`` package).

Kept small and guarded: NVML is initialised once; any NVML error during a reading is
logged and the last good reading is returned, so a driver hiccup never empties the
machine under the scheduler. Optional facts (utilization, the process list) that a
device does not support are left unknown rather than failing the whole reading.
Indices are NVML's (PCI bus order); the executor should set ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
so that CUDA numbers the cards the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import pynvml

from runyard.gpus.readings import GpuProcess, GpuReading

log = logging.getLogger(__name__)
_MIB = 1024 * 1024


def open_nvml() -> NvmlInventory | None:
    """An NVML inventory, or None when NVML cannot start (no driver, no GPU)."""
    try:
        return NvmlInventory()
    except pynvml.NVMLError as error:
        log.info("NVML is not available (%s)", error)
        return None


class NvmlInventory:
    source = "nvml"

    def __init__(self) -> None:
        pynvml.nvmlInit()  # raises NVMLError without a driver: see open_nvml
        self._last: list[GpuReading] = []
        self._problem: str | None = None

    def read(self) -> list[GpuReading]:
        try:
            readings = [_read_device(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except pynvml.NVMLError as error:
            if str(error) != self._problem:
                log.warning("reading GPUs through NVML failed: %s; keeping the last reading", error)
                self._problem = str(error)
            return list(self._last)
        self._problem = None
        self._last = readings
        return list(readings)

    def close(self) -> None:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError as error:
            log.debug("nvmlShutdown failed: %s", error)


def _read_device(index: int) -> GpuReading:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    return GpuReading(
        index=index,
        uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
        name=_text(pynvml.nvmlDeviceGetName(handle)),
        memory_mib=int(memory.total) // _MIB,
        used_mib=int(memory.used) // _MIB,
        utilization=_utilization(handle),
        processes=_processes(handle),
    )


def _utilization(handle: Any) -> int | None:
    try:
        return int(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except pynvml.NVMLError:
        return None  # not supported on this device


def _processes(handle: Any) -> tuple[GpuProcess, ...]:
    try:
        found = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except pynvml.NVMLError:
        return ()  # unknown: the caller falls back to used memory
    # usedGpuMemory is None where the driver will not say (e.g. without permission)
    return tuple(GpuProcess(int(p.pid), int(p.usedGpuMemory or 0) // _MIB) for p in found)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
