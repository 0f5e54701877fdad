"""The GPU inventory: the declared file, the --gpus restriction, outside use, the fallback."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pynvml
import pytest

from runyard.gpus.inventory import (
    DeclaredInventory,
    GpuProcess,
    GpuReading,
    gpu_states,
    open_inventory,
    restrict,
)
from runyard.scheduler.planner import GpuState
from runyard.settings import Settings


def declare(path: Path, *gpus: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps({"gpus": [{"index": i, "memory_mib": 24576, **g} for i, g in enumerate(gpus)]})
    )
    return path


def reading(
    index: int = 0, used: int = 0, *procs: tuple[int, int], outside_only: bool = False
) -> GpuReading:
    processes = tuple(GpuProcess(pid, mib) for pid, mib in procs)
    return GpuReading(index, f"GPU-{index}", "Test", 24576, used, None, processes, outside_only)


def test_declared_file_is_read_again_at_every_read(tmp_path: Path) -> None:
    inventory = DeclaredInventory(declare(tmp_path / "gpus.json", {}))
    assert [(r.index, r.used_mib, r.processes) for r in inventory.read()] == [(0, 0, ())]
    declare(tmp_path / "gpus.json", {"processes": [{"pid": 7, "used_mib": 900}]}, {"name": "B"})
    first, second = inventory.read()
    assert first.processes == (GpuProcess(7, 900),) and first.used_mib == 900
    assert (second.index, second.name, second.uuid) == (1, "B", "declared-1")


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"gpus": [{"index": 0}]}',  # memory_mib missing
        '{"gpus": [{"index": 0, "memory": 1}]}',  # a typo is not ignored
        '{"gpus": [{"index": 0, "memory_mib": 1}, {"index": 0, "memory_mib": 1}]}',
        None,  # the file is gone
    ],
)
def test_bad_declared_file_keeps_the_last_reading_and_warns_once(
    tmp_path: Path, content: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    path = declare(tmp_path / "gpus.json", {}, {})
    inventory = DeclaredInventory(path)
    good = inventory.read()
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    with caplog.at_level(logging.WARNING):
        assert inventory.read() == good
        assert inventory.read() == good
    assert len(caplog.records) == 1 and "keeping the last reading (2 GPUs)" in caplog.text


def test_declared_file_missing_from_the_start_reads_as_no_gpus(tmp_path: Path) -> None:
    assert DeclaredInventory(tmp_path / "absent.json").read() == []


@pytest.mark.parametrize(("allowed", "kept"), [(None, [0, 1, 2, 3]), ({0, 2}, [0, 2]), ({9}, [])])
def test_restrict_keeps_only_allowed_gpus(allowed: set[int] | None, kept: list[int]) -> None:
    assert [r.index for r in restrict([reading(i) for i in range(4)], allowed)] == kept


def test_open_inventory_uses_the_declared_file_through_the_gpus_restriction(tmp_path: Path) -> None:
    path = declare(tmp_path / "gpus.json", {}, {}, {})
    inventory = open_inventory(Settings(home=tmp_path, gpu_inventory=path, gpus="0,2"))
    assert inventory.source == "declared"
    assert [r.index for r in inventory.read()] == [0, 2]


def test_open_inventory_without_nvml_falls_back_to_no_gpus(tmp_path: Path) -> None:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        inventory = open_inventory(Settings(home=tmp_path, gpus="0"))
        assert (inventory.source, inventory.read()) == ("none", [])
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has NVML: nothing to fall back from")


@pytest.mark.parametrize(
    ("gpu", "claimed", "expected"),
    [
        # runyard's own process (pid 10) is not outside use; any other process makes it busy
        (reading(0, 5000, (10, 5000)), {}, GpuState(0, 24576, 0, False)),
        (reading(0, 5300, (10, 5000), (77, 300)), {}, GpuState(0, 24576, 300, True, (77,))),
        # no process list (NVML could not say): used memory less runyard's claims
        (reading(0, 5400), {0: 5000}, GpuState(0, 24576, 400, False)),
        (reading(0, 5600), {0: 5000}, GpuState(0, 24576, 600, True)),
        (reading(0, 300), {0: 5000}, GpuState(0, 24576, 0, False)),
        # a declared GPU's used_mib is outside use already: claims are not subtracted
        (reading(0, 5600, outside_only=True), {0: 5000}, GpuState(0, 24576, 5600, True)),
    ],
)
def test_gpu_states_counts_only_use_outside_runyard(
    gpu: GpuReading, claimed: dict[int, int], expected: GpuState
) -> None:
    assert gpu_states([gpu], {10}, 500, claimed) == [expected]
