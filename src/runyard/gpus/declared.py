"""A GPU inventory declared in a JSON file, read in place of NVML.

For machines NVML cannot see (other vendors, containers without the driver) and for
tests, the one true edge where runyard injects a fake. The file is re-read at every
``read()`` so it can be edited while the daemon runs::

    {"gpus": [{"index": 0, "uuid": "GPU-…", "name": "…", "memory_mib": 24576,
               "used_mib": 0, "utilization": 5, "processes": [{"pid": 123, "used_mib": 900}]}]}

Only ``index`` and ``memory_mib`` are required. ``used_mib`` and ``processes`` describe
use by processes outside runyard.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runyard.gpus.readings import GpuProcess, GpuReading

log = logging.getLogger(__name__)


class _Process(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pid: int
    used_mib: int = Field(0, ge=0)


class _Gpu(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo such as "memory" must not pass silently
    index: int = Field(ge=0)
    uuid: str | None = None
    name: str | None = None
    memory_mib: int = Field(gt=0)
    used_mib: int = Field(0, ge=0)
    utilization: int | None = Field(None, ge=0, le=100)
    processes: list[_Process] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gpus: list[_Gpu]

    @field_validator("gpus")
    @classmethod
    def _distinct_indices(cls, gpus: list[_Gpu]) -> list[_Gpu]:
        indices = [g.index for g in gpus]
        if len(set(indices)) != len(indices):
            raise ValueError(f"GPU indices must be distinct, got {indices}")
        return gpus


class DeclaredInventory:
    """Reads the declared file each time; a missing or bad file keeps the last good reading."""

    source = "declared"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: list[GpuReading] = []
        self._problem: str | None = None  # logged once, not at every poll

    def read(self) -> list[GpuReading]:
        try:
            declared = _File.model_validate_json(self.path.read_bytes())
        except (OSError, ValidationError) as error:
            self._report(_describe(error))
            return list(self._last)
        if self._problem is not None:
            log.info("declared GPU inventory %s is readable again", self.path)
            self._problem = None
        self._last = [_reading(g) for g in sorted(declared.gpus, key=lambda g: g.index)]
        return list(self._last)

    def _report(self, problem: str) -> None:
        if problem != self._problem:
            log.warning(
                "declared GPU inventory %s: %s; keeping the last reading (%d GPUs)",
                self.path,
                problem,
                len(self._last),
            )
            self._problem = problem


def _reading(gpu: _Gpu) -> GpuReading:
    processes = tuple(GpuProcess(p.pid, p.used_mib) for p in gpu.processes)
    return GpuReading(
        index=gpu.index,
        uuid=gpu.uuid or f"declared-{gpu.index}",
        name=gpu.name or "declared GPU",
        memory_mib=gpu.memory_mib,
        used_mib=max(gpu.used_mib, sum(p.used_mib for p in processes)),
        utilization=gpu.utilization,
        processes=processes,
        outside_only=True,
    )


def _describe(error: OSError | ValidationError) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "file"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"
