"""Which way each attempt comes back after a ``kill -9`` of the daemon (ARCHITECTURE.md §5):
re-attached (also from ``child.pid`` when its pid was never stored), finished from
``exit.json``, or lost; and journaled swaps restored at start-up, or reported and kept."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import PY
from tests.integration.daemon_process import DaemonProcess

pytestmark = pytest.mark.slow

# Prints what it was given to read (the swap target, or "ready"), then runs until `end` exists.
WAITER = """
import os, sys, time
print(open(sys.argv[1]).read().strip() if len(sys.argv) > 1 else "ready", flush=True)
while not os.path.exists("end"):
    time.sleep(0.02)
raise SystemExit(int(os.environ.get("CODE", "0")))
"""


@pytest.fixture
def daemon(tmp_path: Path, gpus: Any) -> Iterator[DaemonProcess]:
    process = DaemonProcess(tmp_path / "home", gpus.path)
    process.start()
    yield process
    (tmp_path / "end").touch()  # whatever a failed test left running ends on its own
    process.stop()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return found


def start_waiter(daemon: DaemonProcess, workdir: Path, *args: str, **spec: Any) -> tuple[int, int]:
    """Submit WAITER; once it has printed its first line: its run id and its shim's pid."""
    run_id = daemon.submit(command=[PY, "-c", WAITER, *args], workdir=str(workdir), gpus_min=0, **spec)
    log = daemon.home / "runs" / str(run_id) / "attempt-1" / "output.log"
    wait_until(lambda: log.exists() and log.read_text().endswith("\n"), "the run never printed")
    return run_id, daemon.run(run_id)["attempts"][0]["pid"]


def events(daemon: DaemonProcess, run_id: int, kind: str) -> list[dict[str, Any]]:
    found = daemon.client.get(f"/api/v1/runs/{run_id}/events").json()["events"]
    return [e["data"] for e in found if e["kind"] == kind]


def exit_file(daemon: DaemonProcess, run_id: int) -> Path:
    return daemon.home / "runs" / str(run_id) / "attempt-1" / "exit.json"


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(
    ("while_down", "ended"),
    [
        ("nothing", {"status": "failed", "reason": "exit_code", "exit_code": 3}),  # re-attached
        ("it ends", {"status": "failed", "reason": "exit_code", "exit_code": 3}),  # from exit.json
        ("it is killed", {"status": "lost", "reason": "lost", "exit_code": None}),  # no exit.json
    ],
)
def test_each_attempt_takes_its_recovery_path(daemon, tmp_path, while_down, ended):
    run_id, shim = start_waiter(daemon, tmp_path, env={"CODE": "3"})
    daemon.kill9()
    if while_down == "it ends":
        (tmp_path / "end").touch()
        wait_until(exit_file(daemon, run_id).exists, "the shim wrote no exit.json")
    elif while_down == "it is killed":
        os.killpg(shim, signal.SIGKILL)
        wait_until(lambda: gone(shim), "the shim outlived SIGKILL")
    daemon.start()
    if while_down == "nothing":
        assert wait_until(lambda: events(daemon, run_id, "reattached"), "not re-attached") == [{"pid": shim}]
        (tmp_path / "end").touch()
    (run,) = daemon.wait_all([run_id])
    assert bool(events(daemon, run_id, "reattached")) == (while_down == "nothing")
    assert [{k: e[k] for k in ended} for e in events(daemon, run_id, "attempt_ended")] == [ended]
    assert (run["attempts"][0]["status"], run["attempts"][0]["exit_code"]) == (ended["status"], ended["exit_code"])


def test_an_attempt_whose_pid_was_never_stored_is_reattached_through_child_pid(daemon, tmp_path):
    run_id, shim = start_waiter(daemon, tmp_path)
    daemon.kill9()
    # As if the daemon had died between launching the shim and storing its pid.
    with sqlite3.connect(daemon.home / "runyard.db") as db:
        db.execute("UPDATE attempts SET pid = NULL, pid_created = NULL WHERE run_id = ?", (run_id,))
    daemon.start()
    assert events(daemon, run_id, "reattached") == [{"pid": shim}]
    assert daemon.client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200  # the group is reachable
    (run,) = daemon.wait_all([run_id])
    assert run["status"] == "cancelled" and gone(shim)


def test_a_child_pid_that_now_names_a_stranger_is_not_reattached(daemon, tmp_path):
    run_id, shim = start_waiter(daemon, tmp_path)
    daemon.kill9()
    os.killpg(shim, signal.SIGKILL)
    wait_until(lambda: gone(shim), "the shim outlived SIGKILL")
    with sqlite3.connect(daemon.home / "runyard.db") as db:
        db.execute("UPDATE attempts SET pid = NULL, pid_created = NULL WHERE run_id = ?", (run_id,))
    # The command's pid went to another program, leader of a group of its own.
    stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        (exit_file(daemon, run_id).parent / "child.pid").write_text(f"{stranger.pid}\n")
        daemon.start()
        (run,) = daemon.wait_all([run_id], timeout=10)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
    assert (run["status"], events(daemon, run_id, "reattached")) == ("lost", [])


def swapped_run_ended_while_down(daemon, tmp_path, target: str) -> int:
    """A run with ``patched.py`` swapped onto ``target`` (which says ORIGINAL), that ends
    after a kill -9 of the daemon: the swap is still in place, waiting for the next start."""
    (tmp_path / target).write_text("ORIGINAL\n")
    (tmp_path / "patched.py").write_text("PATCHED\n")
    swap = {"source": str(tmp_path / "patched.py"), "target": target}
    run_id, _ = start_waiter(daemon, tmp_path, target, swaps=[swap])
    daemon.kill9()
    (tmp_path / "end").touch()
    wait_until(exit_file(daemon, run_id).exists, "the shim wrote no exit.json")
    return run_id


def test_a_swap_whose_run_ended_while_the_daemon_was_down_is_restored_at_start(daemon, tmp_path):
    run_id = swapped_run_ended_while_down(daemon, tmp_path, "model.py")
    assert (tmp_path / "model.py").read_text() == "PATCHED\n"  # nobody has put it back yet
    daemon.start()
    (run,) = daemon.wait_all([run_id])
    assert run["status"] == "completed"
    assert (daemon.home / "runs" / str(run_id) / "attempt-1" / "output.log").read_text() == "PATCHED\n"
    assert (tmp_path / "model.py").read_text() == "ORIGINAL\n"
    assert [e["target"] for e in events(daemon, run_id, "swap_restored")] == [str(tmp_path / "model.py")]


def test_a_swap_that_cannot_be_restored_is_reported_at_every_start_until_it_can(daemon, tmp_path):
    (tmp_path / "conf").mkdir()
    run_id = swapped_run_ended_while_down(daemon, tmp_path, "conf/model.py")
    # The target's folder becomes a file: no one, root included, can put model.py back.
    (tmp_path / "conf").rename(tmp_path / "conf.moved")
    (tmp_path / "conf").write_text("in the way\n")
    target = str(tmp_path / "conf" / "model.py")
    daemon.start()  # the attempt is finished now, and its restore fails
    assert daemon.wait_all([run_id])[0]["status"] == "completed"
    assert [e["target"] for e in events(daemon, run_id, "swap_restore_failed")] == [target]
    daemon.stop()
    daemon.start()  # start-up tries the journaled swap again, and says it failed again
    failed = events(daemon, run_id, "swap_restore_failed")
    assert [(e["target"], e.get("after_crash")) for e in failed] == [(target, None), (target, True)]
    assert "Not a directory" in failed[1]["error"]
    daemon.stop()
    (tmp_path / "conf").unlink()
    (tmp_path / "conf.moved").rename(tmp_path / "conf")
    daemon.start()
    assert (tmp_path / "conf" / "model.py").read_text() == "ORIGINAL\n"
    assert events(daemon, run_id, "swap_restored") == [{"target": target, "after_crash": True}]
