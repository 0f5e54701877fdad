"""A real daemon in its own process, for the tests that kill it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

START = "from runyard.daemon import serve; from runyard.settings import Settings; serve(Settings(), port_fallback=True)"


class DaemonProcess:
    """`runyard serve` on its home; ``database_url`` (None: the default SQLite under the home)
    becomes its RUNYARD_DATABASE_URL, ``env`` more RUNYARD_* settings."""

    def __init__(self, home: Path, inventory: Path, database_url: str | None = None, **env: str) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "RUNYARD_HOME": str(home),
            "RUNYARD_PORT": "0",
            "RUNYARD_GPU_INVENTORY": str(inventory),
            "RUNYARD_GPU_POLL_S": "0.1",
            "RUNYARD_RETRY_BACKOFF_S": "0.1",
            **({"RUNYARD_DATABASE_URL": database_url} if database_url else {}),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.home / "server.json").unlink(missing_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "daemon-test.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", START], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 20
        while not (self.home / "server.json").exists():
            assert self.process.poll() is None, (self.home / "daemon-test.log").read_text()
            assert time.monotonic() < deadline, "daemon did not start"
            time.sleep(0.02)
        info = json.loads((self.home / "server.json").read_text())
        self.client = httpx.Client(
            base_url=info["url"], headers={"Authorization": f"Bearer {info['token']}"}, timeout=10
        )

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        self.client.close()

    def submit(self, **spec: Any) -> int:
        answer = self.client.post("/api/v1/runs", json=spec)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def run(self, run_id: int) -> dict[str, Any]:
        return dict(self.client.get(f"/api/v1/runs/{run_id}").json())

    def wait_all(self, ids: list[int], timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = [self.run(i) for i in ids]
            if all(r["status"] in {"completed", "failed", "cancelled", "lost"} for r in found):
                return found
            assert time.monotonic() < deadline, [(r["id"], r["status"]) for r in found]
            time.sleep(0.05)
