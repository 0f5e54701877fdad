"""Automatic retries as they are applied: every OOM signature of PROTOCOL.md §8 earns an OOM
retry, a retry waits out its backoff, and ``--oom-grow-mem`` asks for more memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from runyard.daemon.yard import Yard
from runyard.service import runs
from runyard.store.tables import Attempt
from tests.conftest import (
    DeclaredGpus,
    log_of,
    make_settings,
    python,
    stop_everything,
    submit,
    wait_for,
)

BACKOFF_S = 0.6

FAILS_ONCE_WITH = """
import os, sys
if os.environ["RUNYARD_ATTEMPT"] == "1":
    print("step 1 loss 2.3")
    print(%r, file=sys.stderr)
    sys.exit(1)
print("ok")
"""


@pytest.fixture
async def slow_retry_yard(tmp_path: Path, gpus: DeclaredGpus) -> AsyncIterator[Yard]:
    core = Yard(make_settings(tmp_path, gpus, retry_backoff_s=BACKOFF_S))
    await core.start()
    yield core
    await stop_everything(core)


async def until(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)
    return found


def attempts(yard: Yard, run_id: int) -> list[Attempt]:
    with yard.sessions() as session:
        return list(session.scalars(select(Attempt).where(Attempt.run_id == run_id).order_by(Attempt.number)))


@pytest.mark.parametrize(
    "line",
    [
        "RuntimeError: CUDA error: out of memory",
        "torch.OutOfMemoryError: Tried to allocate 2.00 GiB",
        "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: while allocating 4.0G",
        "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
        "cudaErrorMemoryAllocation: failed to allocate 1073741824 bytes",
        "xla: resource_exhausted",  # signatures match whatever the case
    ],
)
async def test_every_oom_signature_fails_the_attempt_as_oom_and_earns_an_oom_retry(yard, line):
    run_id = submit(yard, *python(FAILS_ONCE_WITH % line), gpus_min=0, retries=1, retry_on="oom")
    run = await wait_for(yard, run_id)
    assert (run["status"], [a["reason"] for a in run["attempts"]]) == ("completed", ["oom", None])
    assert line in log_of(yard, run_id, 1)


async def test_a_retry_waits_out_its_backoff_which_doubles(slow_retry_yard):
    yard = slow_retry_yard
    run_id = submit(yard, *python("exit(1)"), gpus_min=0, retries=2)
    waiting = await wait_for(yard, run_id, {"waiting"})
    assert waiting["waiting_for"].startswith("retry backoff: starts again in")
    assert (await wait_for(yard, run_id))["status"] == "failed"
    gaps = [b.started_at - a.finished_at for a, b in pairwise(attempts(yard, run_id))]
    assert len(gaps) == 2 and gaps[0] >= BACKOFF_S and gaps[1] >= 2 * BACKOFF_S


async def test_an_oom_retry_asks_for_grown_memory_and_waits_until_it_fits(yard, tmp_path):
    hold = "import os, time\nwhile not os.path.exists('release'):\n    time.sleep(0.02)"
    blocker = submit(yard, *python(hold), gpu_ids=[0], gpu_mem_mib=8000, workdir=tmp_path)
    await wait_for(yard, blocker, {"running"})
    grower = submit(yard, *python(FAILS_ONCE_WITH % "CUDA out of memory"), gpu_ids=[0], gpu_mem_mib=10000,
                    retries=1, retry_on="oom", oom={"grow_mem": 2.0})
    # 10000 MiB fitted beside the blocker's 8000 on the 24576 MiB GPU; 20000 MiB does not.
    queued = await until(lambda: (r := runs.get_run(yard, grower))["status"] == "queued"
                         and len(r["attempts"]) == 1 and r, "the OOM retry was not queued")
    assert "20000 MiB" in queued["waiting_for"]
    (tmp_path / "release").touch()
    assert (await wait_for(yard, grower))["status"] == "completed"
    first, second = attempts(yard, grower)
    assert (first.gpu_mem_mib, second.gpu_mem_mib) == (10000, 20000)
    assert second.started_at >= attempts(yard, blocker)[0].finished_at
