"""Running the real `runyard` console script for one RUNYARD_HOME, and reading its answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

RUNYARD = str(Path(sys.executable).with_name("runyard"))
FINISHED = {"completed", "failed", "cancelled", "lost"}


class Cli:
    """Runs `runyard ARGS…` for one home and reads its answers."""

    def __init__(self, home: Path, env: dict[str, str], cwd: Path) -> None:
        self.home = home
        self.env = env
        self.cwd = cwd

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RUNYARD, *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [RUNYARD, *args],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def submit(self, *args: str) -> int:
        return int(self.ok("submit", "-q", *args).strip())

    def run(self, run_id: int) -> dict[str, Any]:
        return dict(json.loads(self.ok("show", str(run_id), "--json")))

    def wait_for(self, run_id: int, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in statuses:
                return run
            assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
            time.sleep(0.1)

    def daemon_pid(self) -> int | None:
        try:
            return int(json.loads((self.home / "server.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
