"""The real `runyard` console script in subprocesses, with a daemon of the test's own home.

Each test gets a fresh RUNYARD_HOME, a declared inventory of two GPUs, and port 0; its
first command autostarts the daemon. Teardown cancels what is left and runs `runyard
shutdown`, then makes sure the daemon is gone.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli.harness import Cli, alive


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    inventory = tmp_path / "gpus.json"
    inventory.write_text(
        json.dumps(
            {"gpus": [{"index": i, "name": "Test GPU", "memory_mib": 24576} for i in range(2)]}
        )
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RUNYARD_")}
    env.update(
        RUNYARD_HOME=str(tmp_path / "home"),
        RUNYARD_PORT="0",
        RUNYARD_GPU_INVENTORY=str(inventory),
        RUNYARD_GPU_POLL_S="0.1",
        RUNYARD_RETRY_BACKOFF_S="0.1",
        RUNYARD_KILL_GRACE_S="2",
        RUNYARD_SCHEDULE_INTERVAL_S="0.1",
    )
    runner = Cli(tmp_path / "home", env, work)
    yield runner
    pid = runner.daemon_pid()
    if pid is not None and alive(pid):
        runner("cancel", "--all", "-y")  # running attempts outlive a shutdown: stop ours first
    stopped = runner("shutdown")
    if pid is not None and alive(pid):
        os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"`runyard shutdown` left the daemon running: {stopped.stderr}")
    assert stopped.returncode == 0, stopped.stderr
