"""Which run starts when, on which GPUs: exclusivity, outside processes, order, dependencies."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import pytest

from runyard.daemon.yard import Yard
from runyard.service import runs
from runyard.service.gpus import describe_gpus
from tests.conftest import DeclaredGpus, log_of, python, submit, wait_for

SHOW_GPUS = "import os, time; print(os.environ['CUDA_VISIBLE_DEVICES']); time.sleep(%s)"


def started(run):
    return datetime.fromisoformat(run["attempts"][0]["started_at"])


def finished(run):
    return datetime.fromisoformat(run["attempts"][0]["finished_at"])


async def declare(yard: Yard, gpus: DeclaredGpus, *entries: dict[str, Any]) -> None:
    """Rewrite the inventory and wait until the daemon's own GPU monitor has read it (a
    reading of ours could be overwritten by one of the monitor's that began before the write)."""
    gpus.set(*entries)
    expected = yard.inventory.read()
    deadline = time.monotonic() + 10
    while yard.readings != expected:
        assert time.monotonic() < deadline, "the GPU monitor never read the new inventory"
        await asyncio.sleep(0.01)


async def test_two_runs_never_share_an_exclusive_gpu(yard, gpus):
    await declare(yard, gpus, {})
    first, second = (submit(yard, *python(SHOW_GPUS % 0.4), gpus_min=1) for _ in range(2))
    a, b = await wait_for(yard, first), await wait_for(yard, second)
    assert log_of(yard, first).strip() == log_of(yard, second).strip() == "0"
    assert started(b) >= finished(a)


async def test_runs_sharing_by_memory_run_together_on_one_gpu(yard, gpus):
    await declare(yard, gpus, {})
    ids = [submit(yard, *python(SHOW_GPUS % 0.5), gpus_min=1, gpu_mem_mib=8000) for _ in range(3)]
    done = [await wait_for(yard, i) for i in ids]
    # 24 GiB holds all three 8000 MiB runs at once.
    assert max(started(r) for r in done) < min(finished(r) for r in done)


async def test_a_gpu_used_by_an_outside_process_is_skipped_until_it_is_free(yard, gpus):
    await declare(yard, gpus, {"used_mib": 9000, "processes": [{"pid": 4242, "used_mib": 9000}]}, {})
    first = submit(yard, *python(SHOW_GPUS % 0), gpus_min=1)
    await wait_for(yard, first)
    assert log_of(yard, first).strip() == "1"
    await declare(
        yard,
        gpus,
        {"used_mib": 9000, "processes": [{"pid": 4242, "used_mib": 9000}]},
        {"processes": [{"pid": 7, "used_mib": 600}]},
    )
    blocked = submit(yard, *python(SHOW_GPUS % 0), gpus_min=1)
    yard.schedule_once()
    run = runs.get_run(yard, blocked)
    assert run["status"] == "queued"
    assert "outside runyard" in (run["waiting_for"] or "")
    gpus.free(2)
    await wait_for(yard, blocked)
    assert log_of(yard, blocked).strip() in {"0", "1"}


async def test_min_max_takes_what_is_free(yard, gpus):
    await declare(yard, gpus, {}, {}, {})
    run_id = submit(yard, *python(SHOW_GPUS % 0), gpus_min=1, gpus_max=4)
    await wait_for(yard, run_id)
    assert log_of(yard, run_id).strip() == "0,1,2"


async def test_pinned_gpu_ids(yard, gpus):
    await declare(yard, gpus, {}, {}, {})
    run_id = submit(yard, *python(SHOW_GPUS % 0), gpu_ids=[2])
    await wait_for(yard, run_id)
    assert log_of(yard, run_id).strip() == "2"


async def test_higher_priority_starts_first(yard, gpus):
    await declare(yard, gpus, {})
    blocker = submit(yard, *python(SHOW_GPUS % 0.5), gpus_min=1)
    await wait_for(yard, blocker, {"running"})
    low = submit(yard, *python(SHOW_GPUS % 0), gpus_min=1, priority=0)
    high = submit(yard, *python(SHOW_GPUS % 0), gpus_min=1, priority=5)
    low_run, high_run = await wait_for(yard, low), await wait_for(yard, high)
    assert started(high_run) < started(low_run)


async def test_after_waits_for_completion_and_fails_on_failure(yard):
    first = submit(yard, *python("import time; time.sleep(0.3)"), gpus_min=0)
    ok = submit(yard, "true", gpus_min=0, after=[first])
    assert runs.get_run(yard, ok)["status"] == "waiting"
    assert f"#{first}" in runs.get_run(yard, ok)["waiting_for"]
    assert started(await wait_for(yard, ok)) >= finished(await wait_for(yard, first))
    bad = submit(yard, "false", gpus_min=0)
    dependant = submit(yard, "true", gpus_min=0, after=[bad])
    anyway = submit(yard, "true", gpus_min=0, after_any=[bad])
    assert (
        (await wait_for(yard, dependant))["status"],
        (await wait_for(yard, dependant))["reason"],
    ) == ("failed", "dependency")
    assert (await wait_for(yard, anyway))["status"] == "completed"


async def test_cpu_slots_limit_concurrent_cpu_runs(yard):
    ids = [submit(yard, *python("import time; time.sleep(0.4)"), gpus_min=0) for _ in range(5)]
    done = [await wait_for(yard, i) for i in ids]
    fifth = sorted(done, key=started)[4]
    assert started(fifth) >= min(finished(r) for r in done)  # 4 slots: the fifth waited


async def test_a_held_queue_accepts_runs_and_starts_none_until_released(yard):
    yard.settings.hold = True
    run_id = submit(yard, *python("print('ran')"))
    yard.schedule_once()
    run = runs.get_run(yard, run_id)
    assert run["status"] == "queued" and "holds the queue" in run["waiting_for"]
    yard.settings.hold = False
    yard.wake_scheduler()
    assert (await wait_for(yard, run_id))["status"] == "completed"


@pytest.mark.parametrize("whose", ["shim", "command"])
async def test_a_runs_own_gpu_processes_are_not_outside_use(yard, gpus, whose):
    await declare(yard, gpus, {})
    first = submit(yard, *python("import os, time; print(os.getpid(), flush=True); time.sleep(60)"),
                   gpus_min=1, gpu_mem_mib=12000)
    shim = (await wait_for(yard, first, {"running"}))["attempts"][0]["pid"]
    deadline = time.monotonic() + 10
    while not log_of(yard, first).endswith("\n"):
        assert time.monotonic() < deadline, "the run never printed its pid"
        await asyncio.sleep(0.02)
    pid = shim if whose == "shim" else int(log_of(yard, first))
    # What NVML lists while the run computes: its memory, under one of its pids.
    await declare(yard, gpus, {"used_mib": 12000, "processes": [{"pid": pid, "used_mib": 12000}]})
    # Counted as outside use, those 12000 MiB and the run's claim of 12000 would leave 576 of 24576.
    beside = submit(yard, *python("print('beside')"), gpus_min=1, gpu_mem_mib=12000)
    assert (await wait_for(yard, beside, timeout=10))["status"] == "completed"
    assert runs.get_run(yard, first)["status"] == "running"
    (gpu,) = describe_gpus(yard)["gpus"]
    assert (gpu["external_busy"], gpu["external_mib"]) == (False, 0)
    assert gpu["processes"] == [{"pid": pid, "used_mib": 12000, "run_id": first}]
