"""What users do to live runs: cancel (nothing survives), pause, resume; and hot-swap. On
SQLite and on PostgreSQL (``[sqlite]``/``[postgres]``: tests/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import psutil
import pytest

from runyard.errors import Conflict
from runyard.service import runs
from tests.conftest import PY, python, submit, wait_for

pytestmark = pytest.mark.both_databases

SPAWNER = """
import subprocess, sys, time, os
child = subprocess.Popen([sys.executable, '-c', 'import time, os; open("grandchild.pid","w").write(str(os.getpid())); time.sleep(300)'])
escaped = subprocess.Popen([sys.executable, '-c', 'import time, os; os.setsid(); open("escaped.pid","w").write(str(os.getpid())); time.sleep(300)'])
print('spawned', flush=True)
time.sleep(300)
"""


def pid_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def wait_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.02)
    return path.read_text()


async def test_cancel_leaves_no_process_behind(yard, tmp_path):
    run_id = submit(yard, *python(SPAWNER), gpus_min=0, workdir=tmp_path)
    grandchild = int(await wait_file(tmp_path / "grandchild.pid"))
    escaped = int(await wait_file(tmp_path / "escaped.pid"))
    run = await wait_for(yard, run_id, {"running"})
    shim = run["attempts"][0]["pid"]
    await runs.cancel(yard, run_id)
    run = await wait_for(yard, run_id)
    assert (run["status"], run["reason"]) == ("cancelled", "cancelled")
    assert all(pid_gone(p) for p in (shim, grandchild, escaped))


async def test_cancel_a_script_that_ignores_sigterm(yard):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(300)"
    run_id = submit(yard, *python(code), gpus_min=0)
    assert await wait_file(yard.attempt_dir(run_id, 1) / "output.log") == "ready\n"  # SIGTERM ignored from now on
    await runs.cancel(yard, run_id)
    run = await wait_for(yard, run_id, timeout=10)
    assert (run["status"], run["attempts"][0]["signal"]) == ("cancelled", 9)  # it took the SIGKILL


async def test_cancel_queued_and_waiting_runs(yard):
    blocker = submit(yard, "sleep", "30", gpus_min=2)
    queued = submit(yard, "true", gpus_min=1)
    waiting = submit(yard, "true", gpus_min=0, after=[blocker])
    for run_id in (queued, waiting, blocker):
        await runs.cancel(yard, run_id)
    assert [(await wait_for(yard, i))["status"] for i in (queued, waiting, blocker)] == [
        "cancelled"
    ] * 3
    assert runs.get_run(yard, queued)["attempts"] == []
    with pytest.raises(Conflict):
        await runs.cancel(yard, queued)


async def test_pause_stops_progress_and_resume_continues(yard, tmp_path):
    code = "import time\nfor i in range(10**6):\n    print(i, flush=True); time.sleep(0.01)"
    run_id = submit(yard, *python(code), gpus_min=0)
    await wait_for(yard, run_id, {"running"})
    log = yard.attempt_dir(run_id, 1) / "output.log"
    await asyncio.sleep(0.3)
    assert runs.pause(yard, run_id)["status"] == "paused"
    await asyncio.sleep(0.2)
    size = log.stat().st_size
    await asyncio.sleep(0.5)
    assert log.stat().st_size == size
    assert runs.resume(yard, run_id)["status"] == "running"
    await asyncio.sleep(0.5)
    assert log.stat().st_size > size
    await runs.cancel(yard, run_id)
    await wait_for(yard, run_id)


async def test_cancel_a_paused_run(yard):
    run_id = submit(yard, "sleep", "30", gpus_min=0)
    await wait_for(yard, run_id, {"running"})
    runs.pause(yard, run_id)
    await runs.cancel(yard, run_id)
    assert (await wait_for(yard, run_id, timeout=10))["status"] == "cancelled"


@pytest.mark.parametrize("exit_code", [0, 1])
async def test_hot_swap_is_restored_after_the_run(yard, tmp_path, exit_code):
    (tmp_path / "model.py").write_text("ORIGINAL\n")
    (tmp_path / "patched.py").write_text("PATCHED\n")
    code = f"print(open('model.py').read().strip()); exit({exit_code})"
    run_id = submit(
        yard,
        *python(code),
        gpus_min=0,
        workdir=tmp_path,
        swaps=[{"source": str(tmp_path / "patched.py"), "target": "model.py"}],
    )
    await wait_for(yard, run_id)
    assert (yard.attempt_dir(run_id, 1) / "output.log").read_text() == "PATCHED\n"
    assert (tmp_path / "model.py").read_text() == "ORIGINAL\n"


async def test_two_runs_never_see_each_others_swap(yard, tmp_path):
    (tmp_path / "conf.py").write_text("ORIGINAL\n")
    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text(f"{name}\n")
    code = "import time; seen = []\nfor _ in range(5):\n    seen.append(open('conf.py').read().strip()); time.sleep(0.05)\nprint(*seen)"
    ids = [
        submit(
            yard,
            *python(code),
            gpus_min=0,
            workdir=tmp_path,
            swaps=[{"source": str(tmp_path / f"{n}.py"), "target": "conf.py"}],
        )
        for n in ("a", "b")
    ]
    for run_id in ids:
        await wait_for(yard, run_id)
    outputs = [(yard.attempt_dir(i, 1) / "output.log").read_text().split() for i in ids]
    assert outputs == [["a"] * 5, ["b"] * 5]
    assert (tmp_path / "conf.py").read_text() == "ORIGINAL\n"


async def test_swap_of_a_file_that_did_not_exist_is_removed_after(yard, tmp_path):
    (tmp_path / "extra.py").write_text("X\n")
    run_id = submit(
        yard,
        PY,
        "-c",
        "print(open('new.py').read())",
        gpus_min=0,
        workdir=tmp_path,
        swaps=[{"source": str(tmp_path / "extra.py"), "target": "new.py"}],
    )
    assert (await wait_for(yard, run_id))["status"] == "completed"
    assert not (tmp_path / "new.py").exists()
    assert os.path.exists(tmp_path / "extra.py")
