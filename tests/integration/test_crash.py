"""``kill -9`` of the daemon at any moment loses nothing (ARCHITECTURE.md §9.1), on SQLite
and on PostgreSQL (``[sqlite]``/``[postgres]``: tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from tests.integration.daemon_process import DaemonProcess

pytestmark = pytest.mark.both_databases

CHATTY = """
import sys, time
for i in range({lines}):
    print(f"run {name} line {{i}}", flush=(i % 50 == 0))
    if i % 200 == 0:
        time.sleep(0.02)
sys.exit({code})
"""


@pytest.fixture
def daemon(tmp_path, gpus, database_url):
    process = DaemonProcess(tmp_path / "home", gpus.path, database_url, RUNYARD_CPU_SLOTS="6")
    process.start()
    yield process
    process.stop()


def chatty(name: str, lines: int, code: int) -> list[str]:
    return [sys.executable, "-c", CHATTY.format(name=name, lines=lines, code=code)]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_s", [0.3, 1.0])
def test_kill_9_during_chatty_runs_loses_nothing(daemon, tmp_path, kill_after_s):
    (tmp_path / "model.py").write_text("ORIGINAL")
    (tmp_path / "patch.py").write_text("PATCHED")
    plan = {"a": (6000, 0), "b": (4000, 3), "c": (8000, 0), "d": (500, 7), "e": (30000, 0)}
    ids = {
        name: daemon.submit(command=chatty(name, n, code), workdir=str(tmp_path), gpus_min=0)
        for name, (n, code) in plan.items()
    }
    swapper = daemon.submit(
        command=[
            sys.executable,
            "-c",
            "import time; time.sleep(1.5); print(open('model.py').read())",
        ],
        workdir=str(tmp_path),
        gpus_min=0,
        swaps=[{"source": str(tmp_path / "patch.py"), "target": "model.py"}],
    )
    time.sleep(kill_after_s)
    daemon.kill9()
    time.sleep(1.0)  # some runs end while no daemon watches
    queued_while_down = None
    daemon.start()
    queued_while_down = daemon.submit(
        command=["echo", "after restart"], workdir=str(tmp_path), gpus_min=0
    )
    finished = daemon.wait_all([*ids.values(), swapper, queued_while_down])
    by_id = {r["id"]: r for r in finished}
    for name, (lines, code) in plan.items():
        run = by_id[ids[name]]
        assert run["exit_code"] == code
        assert run["status"] == ("completed" if code == 0 else "failed")
        assert len(run["attempts"]) == 1
        log = (daemon.home / "runs" / str(ids[name]) / "attempt-1" / "output.log").read_text()
        assert log.splitlines() == [f"run {name} line {i}" for i in range(lines)]
    assert by_id[swapper]["status"] == "completed"
    assert (tmp_path / "model.py").read_text() == "ORIGINAL"
    assert by_id[queued_while_down]["status"] == "completed"


@pytest.mark.slow
def test_an_attempt_killed_while_the_daemon_is_down_is_lost_and_retried(daemon, tmp_path):
    run_id = daemon.submit(command=["sleep", "30"], workdir=str(tmp_path), gpus_min=0, retries=1)
    deadline = time.monotonic() + 10
    while daemon.run(run_id)["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    shim = daemon.run(run_id)["attempts"][0]["pid"]
    daemon.kill9()
    os.killpg(shim, signal.SIGKILL)  # shim and command gone, no exit.json written
    time.sleep(0.3)
    daemon.start()
    deadline = time.monotonic() + 10
    while len((run := daemon.run(run_id))["attempts"]) < 2:
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
    assert run["attempts"][0]["status"] == "lost" and run["attempts"][0]["reason"] == "lost"
    daemon.client.post(f"/api/v1/runs/{run_id}/cancel")


@pytest.mark.slow
def test_kill_9_during_ingestion_resumes_without_duplicates(daemon, tmp_path):
    code = ("import time\nfor i in range(30000):\n"
            "    print(f'PROGRESS: {{\"epoch\": 1, \"total_epochs\": 1, \"status\": \"training\", \"step\": {i}, \"loss\": {i}}}', flush=True)\n"
            "    if i % 1000 == 0: time.sleep(0.05)\n")
    run_id = daemon.submit(command=[sys.executable, "-c", code], workdir=str(tmp_path), gpus_min=0)
    deadline = time.monotonic() + 20
    while not daemon.run(run_id)["metrics"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    daemon.kill9()
    daemon.start()
    (run,) = daemon.wait_all([run_id])
    assert run["status"] == "completed"
    summary = daemon.client.get(f"/api/v1/runs/{run_id}/metrics/summary").json()["keys"]["train_loss"]
    assert (summary["count"], summary["first_x"], summary["last_x"]) == (30000, 0.0, 29999.0)
    series = daemon.client.get(f"/api/v1/runs/{run_id}/metrics").json()["series"]["train_loss"]
    assert series == [[float(i), float(i)] for i in range(30000)]
