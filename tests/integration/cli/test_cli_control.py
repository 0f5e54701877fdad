"""Cancel, wait's exit codes, bad input, and the daemon the CLI starts on its own."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.integration.cli.harness import RUNYARD, Cli, alive

pytestmark = pytest.mark.slow
PY = sys.executable


def test_cancel_stops_a_sleeping_run(cli: Cli) -> None:
    run_id = cli.submit("--", "sleep", "60")
    pid = cli.wait_for(run_id, {"running"})["attempts"][0]["pid"]
    cancelled = cli("cancel", str(run_id))
    assert cancelled.returncode == 0 and cancelled.stdout.startswith(f"run {run_id} cancel")
    waited = cli("wait", str(run_id))
    assert waited.returncode == 1 and waited.stdout.startswith(f"run {run_id} cancelled")
    assert cli.run(run_id)["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while alive(pid):
        assert time.monotonic() < deadline, "the cancelled run's process is still alive"
        time.sleep(0.05)


def test_bulk_cancel_takes_ranges_and_skips_finished_runs(cli: Cli) -> None:
    done = cli.submit("--gpus", "0", "--", "true")
    cli.ok("wait", str(done))
    sleepers = [cli.submit("--gpus", "0", "--", "sleep", "60") for _ in range(3)]
    out = cli.ok("cancel", f"{done}-{sleepers[-1]}", "-y")  # not a TTY: no question either way
    assert [line.split()[1] for line in out.splitlines()] == [str(i) for i in sleepers]
    assert cli("wait", *map(str, sleepers)).returncode == 1
    assert cli.run(done)["status"] == "completed"
    refused = cli("cancel", str(done))
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1


def test_delete_removes_finished_runs_and_refuses_a_running_one(cli: Cli) -> None:
    done = [cli.submit("--gpus", "0", "--", "true") for _ in range(2)]
    cli.ok("wait", *map(str, done))
    sleeper = cli.submit("--gpus", "0", "--", "sleep", "60")
    cli.wait_for(sleeper, {"running"})
    out = cli.ok("delete", f"{done[0]}-{sleeper}", "-y")  # a range picks finished runs only
    assert out.splitlines() == [f"run {i} deleted" for i in done]
    shown = cli("show", str(done[0]))
    assert shown.returncode == 1 and "not found" in shown.stderr
    refused = cli("delete", str(sleeper))
    assert refused.returncode == 1 and "cancel it first" in refused.stderr
    cli.ok("cancel", str(sleeper))


def test_bulk_cancel_asks_first_on_a_terminal(cli: Cli) -> None:
    ids = [cli.submit("--gpus", "0", "--", "sleep", "60") for _ in range(2)]
    screen = answer_on_terminal(cli, ["cancel", f"{ids[0]}-{ids[1]}"], b"n\n")
    assert f"cancel 2 runs ({ids[0]} {ids[1]})?" in screen and "nothing done" in screen
    assert {cli.run(i)["status"] for i in ids} <= {"queued", "running"}


def answer_on_terminal(cli: Cli, args: list[str], answer: bytes) -> str:
    """Run the CLI on a pseudo-terminal, answer its question, return what it showed."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [RUNYARD, *args], stdin=child, stdout=child, stderr=child, env=cli.env, cwd=cli.cwd
    )
    os.close(child)
    screen, answered = b"", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([main], [], [], 0.1)[0]:
            if process.poll() is not None:
                break
            continue
        try:
            screen += os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not answered and b"[y/N]" in screen:
            os.write(main, answer)
            answered = True
    os.close(main)
    assert process.wait(timeout=30) == 1
    return screen.decode(errors="replace")


def test_pause_resume_and_retry(cli: Cli) -> None:
    run_id = cli.submit("--gpus", "0", "--", "sleep", "60")
    cli.wait_for(run_id, {"running"})
    assert cli.ok("pause", str(run_id)) == f"run {run_id} paused\n"
    assert cli.run(run_id)["status"] == "paused"
    assert cli.ok("resume", str(run_id)) == f"run {run_id} resumed\n"
    assert cli.run(run_id)["status"] == "running"
    cli.ok("cancel", str(run_id))
    cli.wait_for(run_id, {"cancelled"})
    assert cli.ok("retry", "--status", "cancelled") == f"run {run_id} queued again\n"
    assert [a["number"] for a in cli.wait_for(run_id, {"running"})["attempts"]] == [1, 2]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["submit", "--workdir", "/no/such/dir", "--", "true"], 1, "/no/such/dir"),
        (["submit", "--gpus", "3", "--", "true"], 1, "2 GPUs"),
        (["submit", "--gpus", "3-1", "--", "true"], 2, "--gpus 3-1: the range must go up"),
        (["submit", "--swap", "missing.py:model.py", "--", "true"], 1, "missing.py"),
        (["show", "99"], 1, "run 99 not found"),
        (["logs", "99"], 1, "run 99 not found"),
        (["wait", "99"], 1, "run 99 not found"),
        (["cancel", "99"], 1, "run 99 not found"),
        (["submit", "--like", "99"], 1, "run 99 not found"),
    ],
)
def test_bad_input_is_one_line_without_a_traceback(
    cli: Cli, args: list[str], code: int, message: str
) -> None:
    result = cli(*args)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("runyard: ") or result.stderr.startswith(
        "runyard: started the daemon"
    )
    last = result.stderr.splitlines()[-1]
    assert last.startswith("runyard: ") and message in last
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_wait_exits_0_only_when_every_run_completed(cli: Cli) -> None:
    good = cli.submit("--gpus", "0", "--", "true")
    bad = cli.submit("--gpus", "0", "--", PY, "-c", "import sys; sys.exit(4)")
    assert cli("wait", str(good)).returncode == 0
    both = cli("wait", str(good), str(bad))
    assert both.returncode == 1
    assert both.stdout.splitlines() == [f"run {good} completed", f"run {bad} failed (exit code 4)"]
    assert cli("wait", "-q", str(bad)).stdout == ""


def test_two_concurrent_commands_start_one_daemon(cli: Cli) -> None:
    first, second = cli.start("ls", "--json"), cli.start("ls", "--json")
    outputs = [p.communicate(timeout=60) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0]
    assert [json.loads(out) for out, _ in outputs] == [[], []]
    assert sum("started the daemon" in err for _, err in outputs) == 1
    assert len(daemons_of(cli.home)) == 1


def test_shutdown_then_the_next_command_starts_a_new_daemon(cli: Cli) -> None:
    run_id = cli.submit("--gpus", "0", "--", "true")
    cli.ok("wait", str(run_id))
    old = cli.daemon_pid()
    stopped = cli("shutdown")
    assert stopped.returncode == 0 and f"pid {old}" in stopped.stdout
    assert old is not None and not alive(old)
    assert not (cli.home / "server.json").exists()
    again = cli("ls", "--json")
    assert "started the daemon" in again.stderr
    assert [r["id"] for r in json.loads(again.stdout)] == [run_id]


def daemons_of(home: Path) -> list[psutil.Process]:
    """The daemon processes serving ``home`` (whatever started them)."""
    found = []
    for process in psutil.process_iter(["cmdline", "pid"]):
        try:
            cmdline = process.info["cmdline"] or []
            if (
                "serve" in cmdline
                and "runyard" in cmdline
                and process.environ().get("RUNYARD_HOME") == str(home)
            ):
                found.append(process)
        except psutil.Error:
            continue
    return [p for p in found if p.pid != os.getpid()]
