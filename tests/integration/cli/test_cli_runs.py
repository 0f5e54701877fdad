"""submit → wait → show, chaining, listing, logs: the CLI against a real daemon."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.cli.harness import RUNYARD, Cli

pytestmark = pytest.mark.slow
PY = sys.executable


def test_submit_wait_and_show_json(cli: Cli) -> None:
    run_id = cli.submit("--name", "hello", "--", PY, "-c", "print('hi')")
    waited = cli("wait", str(run_id))
    assert (waited.returncode, waited.stdout) == (0, f"run {run_id} completed\n")
    run = cli.run(run_id)
    assert {k: run[k] for k in ("id", "name", "status", "reason", "exit_code")} == {
        "id": run_id, "name": "hello", "status": "completed", "reason": None, "exit_code": 0,
    }  # fmt: skip
    assert run["command"] == [PY, "-c", "print('hi')"]
    assert run["workdir"] == str(cli.cwd)
    assert run["priority"] == 0 and len(run["gpus"]) == 1
    assert all(run[k] for k in ("created_at", "started_at", "finished_at"))
    [attempt] = run["attempts"]
    assert attempt["number"] == 1 and attempt["exit_code"] == 0 and attempt["signal"] is None
    assert isinstance(attempt["pid"], int) and attempt["started_at"] and attempt["finished_at"]
    assert attempt["gpus"] == run["gpus"]


def test_submit_without_quiet_says_id_and_status(cli: Cli) -> None:
    out = cli.ok("submit", "--gpus", "0", "--", "true")
    assert out.startswith("run 1 queued") or out.startswith("run 1 running")


def test_quiet_submit_chains_with_after(cli: Cli) -> None:
    hold = "import os, time\nwhile not os.path.exists('go'): time.sleep(0.05)"
    first = cli.submit("--", PY, "-c", hold)
    second = cli.submit("--after", str(first), "--", "true")
    listed = {r["id"]: r for r in json.loads(cli.ok("ls", "--json"))}
    assert listed[second]["status"] in {"queued", "waiting"}
    assert str(first) in (listed[second]["waiting_for"] or "")
    (cli.cwd / "go").touch()
    assert cli("wait", str(first), str(second)).returncode == 0
    one, two = cli.run(first), cli.run(second)
    assert two["started_at"] >= one["finished_at"]


def test_bare_runyard_and_ls_list_the_queue_with_why(cli: Cli) -> None:
    done = cli.submit("--name", "done-run", "--gpus", "0", "--", "true")
    cli.ok("wait", str(done))
    hold = cli.submit("--name", "holder", "--gpus", "0", "--", "sleep", "30")
    cli.submit("--name", "blocked", "--gpus", "0", "--after", str(hold), "--", "true")
    table = cli.ok()
    lines = {line.split()[1]: line for line in table.splitlines()[1:]}
    assert table.splitlines()[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert set(lines) == {"done-run", "holder", "blocked"}
    assert "completed" in lines["done-run"]
    assert f"#{hold}" in lines["blocked"] or f"run {hold}" in lines["blocked"]  # why it waits
    assert cli.ok("ls").splitlines()[0] == table.splitlines()[0]
    only_done = json.loads(cli.ok("ls", "--status", "completed", "--json"))
    assert [r["name"] for r in only_done] == ["done-run"]


def test_logs_print_the_bytes_and_follow_fails_with_the_run(cli: Cli) -> None:
    script = "import sys, time\nfor i in range(5):\n    print(f'line {i}', flush=True); time.sleep(0.2)\nsys.exit(3)"
    run_id = cli.submit("--gpus", "0", "--", PY, "-c", script)
    followed = cli("logs", "-f", str(run_id))
    assert followed.returncode == 1
    assert followed.stdout == "".join(f"line {i}\n" for i in range(5))
    assert f"run {run_id} failed (exit code 3)" in followed.stderr
    assert cli.ok("logs", str(run_id)) == followed.stdout


def test_logs_follow_goes_on_to_the_retry(cli: Cli) -> None:
    marker = cli.cwd / "second-time"
    script = f"import pathlib, sys\np = pathlib.Path({str(marker)!r})\nprint('attempt', 2 if p.exists() else 1)\nsys.exit(0 if p.exists() else (p.touch() or 1))"
    run_id = cli.submit("--gpus", "0", "--retries", "1", "--", PY, "-c", script)
    followed = cli(
        "logs", "-f", "--attempt", "1", str(run_id)
    )  # from the first, whatever the timing
    assert (followed.returncode, followed.stdout) == (0, "attempt 1\nattempt 2\n")
    assert "following attempt 2" in followed.stderr
    assert cli.ok("logs", "--attempt", "1", str(run_id)) == "attempt 1\n"


def test_like_copies_a_run_with_changes(cli: Cli) -> None:
    first = cli.submit(
        "--gpus",
        "0",
        "--tag",
        "sweep",
        "-e",
        "LR=0.1",
        "--",
        PY,
        "-c",
        "import os; print(os.environ['LR'])",
    )
    copy = cli.submit("--like", str(first), "-e", "LR=0.2")
    assert cli("wait", str(first), str(copy)).returncode == 0
    assert (cli.ok("logs", str(first)), cli.ok("logs", str(copy))) == ("0.1\n", "0.2\n")
    assert cli.run(copy)["tags"] == ["sweep"]


def test_gpus_json_shows_the_declared_inventory(cli: Cli) -> None:
    inventory = json.loads(cli.ok("gpus", "--json"))
    assert inventory["source"] == "declared"
    assert [g["index"] for g in inventory["gpus"]] == [0, 1]
    assert "Test GPU" in cli.ok("gpus")


def test_daemon_commands_import_no_server_code(cli: Cli) -> None:
    cli.ok("ls")  # the daemon is started (its imports go to its own log)
    profiled = subprocess.run(
        [RUNYARD, "ls", "--json"],
        env={**cli.env, "PYTHONPROFILEIMPORTTIME": "1"},
        cwd=cli.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in profiled.stderr.splitlines() if "|" in line
    }
    assert "runyard.cli.app" in imported and "runyard.cli.transport" in imported
    assert not {
        m for m in imported if m.split(".")[0] in {"fastapi", "sqlalchemy", "uvicorn", "rich"}
    }


def test_a_contradiction_is_a_usage_error_with_or_without_a_daemon(cli: Cli) -> None:
    """Checked in the CLI before a daemon is started; with one running, the daemon's
    verdict is the same one line and exit status 2, and nothing is queued."""
    bad = ("submit", "--gpus", "2", "--gpu-ids", "0", "--", "true")
    before = cli(*bad)
    assert cli.daemon_pid() is None
    cli.ok("submit", "-q", "--gpus", "0", "--", "true")
    assert cli.daemon_pid() is not None
    after = cli(*bad)
    for result in (before, after):
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert "gpu_ids pins the GPUs: leave gpus out or give the same count" in result.stderr
        assert "Traceback" not in result.stderr
    assert [r["id"] for r in json.loads(cli.ok("ls", "--json", "--all"))] == [1]
