"""Shared fixtures: a declared GPU inventory (the one fake: this machine has no GPU), a
real daemon core (real SQLite, real processes) living in the test's event loop, and real
PostgreSQL databases.

PostgreSQL: ``pg_url`` is a fresh database per test on the server at
``RUNYARD_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``) or,
when none answers there, on a throwaway server the session starts and removes
(tests/postgres_server.py); never a skip. A module whose tests must hold on both databases
opts in with ``pytestmark = pytest.mark.both_databases``: each of its tests that reaches
``database_url`` (``yard`` and ``live_server`` do) runs as ``[sqlite]`` and ``[postgres]``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from runyard.daemon.yard import Yard
from runyard.domain.spec import RunSpec
from runyard.service import runs
from runyard.settings import Settings
from runyard.store.db import open_database
from tests.postgres_server import (
    DEFAULT_URL,
    create_database,
    drop_database,
    fresh_database,
    postgres_server,
)

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


def make_settings(
    tmp_path: Path, gpus: DeclaredGpus, database_url: str | None = None, **overrides: Any
) -> Settings:
    """Settings for a test's daemon; without a database URL, the default SQLite under home."""
    values: dict[str, Any] = dict(
        home=tmp_path / "home",
        gpu_inventory=gpus.path,
        gpu_poll_s=0.05,
        retry_backoff_s=0.05,
        kill_grace_s=2.0,
        schedule_interval_s=0.1,
        cpu_slots=4,
    )
    if database_url:
        values["database_url"] = database_url
    values.update(overrides)
    return Settings(**values)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run each test reaching `database_url` on SQLite and PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_databases") and "database_url" in metafunc.fixturenames:
        metafunc.parametrize(
            "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
            indirect=True)


POSTGRES_USED = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def postgres_admin_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The admin URL of the session's PostgreSQL server (see the module docstring)."""
    with postgres_server(os.environ.get("RUNYARD_TEST_POSTGRES_URL", DEFAULT_URL)) as (url, which):
        request.config.stash[POSTGRES_USED] = which
        yield url


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if POSTGRES_USED in config.stash:
        terminalreporter.write_line(config.stash[POSTGRES_USED])


@pytest.fixture
def pg_url(postgres_admin_url: str) -> Iterator[str]:
    """A new empty PostgreSQL database (SQLAlchemy URL), dropped after the test."""
    with fresh_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_template(postgres_admin_url: str) -> Iterator[str]:
    """A database at the newest migration, copied for each `[postgres]` test: copying is
    faster than migrating each one."""
    url = create_database(postgres_admin_url)
    open_database(url)[0].dispose()
    yield str(make_url(url).database)
    drop_database(postgres_admin_url, url)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The database of `yard` and the daemons: None is the settings' default (SQLite under
    the home); in the `[postgres]` variant of a `both_databases` module, a new PostgreSQL
    database already migrated, dropped after the test."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
        return
    template = request.getfixturevalue("migrated_template")
    with fresh_database(request.getfixturevalue("postgres_admin_url"), template) as url:
        yield url


@pytest.fixture
async def yard(tmp_path: Path, gpus: DeclaredGpus, database_url: str | None) -> AsyncIterator[Yard]:
    core = Yard(make_settings(tmp_path, gpus, database_url))
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
