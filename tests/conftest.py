"""Shared fixtures: a declared GPU inventory (the one fake: this machine has no GPU) and
a real daemon core (real SQLite, real processes) living in the test's event loop."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runyard.daemon.yard import Yard
from runyard.domain.spec import RunSpec
from runyard.service import runs
from runyard.settings import Settings

FINISHED = {"completed", "failed", "cancelled", "lost"}
PY = sys.executable


class DeclaredGpus:
    """The declared-inventory file the daemon re-reads at every monitor tick."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, *gpus: dict[str, Any]) -> None:
        entries = [
            {"index": i, "uuid": f"GPU-{i}", "name": "Test GPU", "memory_mib": 24576, **g}
            for i, g in enumerate(gpus)
        ]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"gpus": entries}))
        tmp.replace(self.path)

    def free(self, count: int) -> None:
        self.set(*({} for _ in range(count)))


@pytest.fixture
def gpus(tmp_path: Path) -> DeclaredGpus:
    declared = DeclaredGpus(tmp_path / "gpus.json")
    declared.free(2)
    return declared


def make_settings(tmp_path: Path, gpus: DeclaredGpus, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        home=tmp_path / "home",
        gpu_inventory=gpus.path,
        gpu_poll_s=0.05,
        retry_backoff_s=0.05,
        kill_grace_s=2.0,
        schedule_interval_s=0.1,
        cpu_slots=4,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def yard(tmp_path: Path, gpus: DeclaredGpus) -> AsyncIterator[Yard]:
    core = Yard(make_settings(tmp_path, gpus))
    await core.start()
    yield core
    await stop_everything(core)


async def stop_everything(core: Yard) -> None:
    for live in list(core.live.values()):
        if live.handle is not None:
            await core.executor.terminate(live.handle, 0.5)
    await core.stop()


def submit(core: Yard, *command: str, workdir: Path | str | None = None, **fields: Any) -> int:
    spec = RunSpec(command=list(command), workdir=str(workdir or core.settings.home), **fields)
    return int(runs.submit(core, spec)["id"])


def python(code: str) -> list[str]:
    return [PY, "-c", code]


async def wait_for(
    core: Yard, run_id: int, statuses: set[str] = FINISHED, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = runs.get_run(core, run_id)
        if run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is still {run['status']} after {timeout}s: {run}")
        await asyncio.sleep(0.02)


def log_of(core: Yard, run_id: int, attempt: int = 1) -> str:
    return (core.attempt_dir(run_id, attempt) / "output.log").read_text(errors="replace")


TOKEN = "test-token"


@dataclass
class LiveServer:
    """A real uvicorn serving the app of a yard, on a free loopback port."""

    url: str
    ws_url: str
    token: str = TOKEN


@pytest.fixture
async def live_server(yard: Yard) -> AsyncIterator[LiveServer]:
    import uvicorn

    from runyard.server.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(yard, TOKEN), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()
