"""Services against the seam they are written to: a real SQLite Home under tmp_path and a
small in-test daemon that implements the Context protocols and records what it is told.
No daemon, no event loop, nothing patched: what a service asks of the daemon is all it gets."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session

from runyard.bus import EventBus
from runyard.context import Context, Home, LiveView
from runyard.domain.spec import RunSpec
from runyard.errors import Conflict, InvalidSpec
from runyard.gpus.readings import Inventory, NoInventory
from runyard.service import runs
from runyard.settings import Settings
from runyard.store.db import open_database
from runyard.store.tables import Event, Run

T = TypeVar("T")


class RecordingDaemon:
    """What services may ask of the daemon, answered from memory and written down."""

    def __init__(self, home: Home, gpus: dict[int, int]) -> None:
        self.home = home
        self.bus = EventBus(100)
        self.view = LiveView()
        self.inventory: Inventory = NoInventory()
        self.gpus = gpus
        self.published: list[dict[str, Any]] = []
        self.told: list[tuple[str, Any]] = []

    def publish(self, messages: list[dict[str, Any]]) -> None:
        self.published.extend(messages)

    def publish_threadsafe(self, messages: list[dict[str, Any]]) -> None:
        self.published.extend(messages)

    def broadcast_threadsafe(self, messages: list[dict[str, Any]]) -> None:
        self.told.append(("broadcast", messages))

    def wake_scheduler(self) -> None:
        self.told.append(("wake", None))

    def schedule_now(self) -> None:
        self.told.append(("schedule", None))

    def waiting_reasons(self, session: Session, runs: list[Run]) -> dict[int, str]:
        return {r.id: "recorded: no scheduler here" for r in runs if r.status == "queued"}

    def stop_attempt(self, run_id: int, why: str) -> None:
        self.told.append(("stop", (run_id, why)))

    def signal_attempt(self, run_id: int, sig: int) -> None:
        self.told.append(("signal", (run_id, sig)))

    def attempt_phase(self, run_id: int, number: int) -> str | None:
        return None

    def gpu_indices(self) -> list[int]:
        return sorted(self.gpus)

    def gpu_memory(self) -> dict[int, int]:
        return dict(self.gpus)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args)

    def parse_pool(self) -> ProcessPoolExecutor | None:
        return None

    def parse_pool_broken(self) -> None:
        pass

    def request_shutdown(self) -> None:
        self.told.append(("shutdown", None))


@pytest.fixture
def daemon(tmp_path: Path) -> RecordingDaemon:
    settings = Settings.model_validate({"home": tmp_path / "home"})
    settings.runs_dir.mkdir(parents=True)
    _, sessions = open_database(settings.db_url)
    return RecordingDaemon(Home(settings, sessions), gpus={0: 24000, 1: 24000})


def spec(tmp_path: Path, **more: Any) -> RunSpec:
    return RunSpec.model_validate({"command": ["python", "train.py"], "workdir": str(tmp_path), **more})


def test_the_recording_daemon_is_a_context(daemon: RecordingDaemon) -> None:
    ctx: Context = daemon  # `make lint` type-checks this file: a daemon that misses a protocol member fails it
    assert ctx.home.run_dir(3) == daemon.home.settings.runs_dir / "3"


def test_submit_stores_the_run_announces_it_and_asks_for_a_scheduling_pass(daemon: RecordingDaemon, tmp_path: Path) -> None:
    shown = runs.submit(daemon, spec(tmp_path, gpus_min=1, gpus_max=2, tags=["sweep-a"]))
    assert shown["status"] == "queued" and shown["waiting_for"] == "recorded: no scheduler here"
    assert ("schedule", None) in daemon.told
    assert [(m["run_id"], m["kind"]) for m in daemon.published] == [(shown["id"], "submitted")]
    assert (daemon.home.run_dir(shown["id"]) / "spec.json").exists()
    with daemon.home.sessions() as session:
        stored = session.get(Run, shown["id"])
        assert stored is not None and stored.status == "queued"
        assert [e.kind for e in session.query(Event).filter(Event.run_id == stored.id)] == ["submitted"]


def test_submit_refuses_what_the_daemons_gpus_cannot_hold_and_stores_nothing(daemon: RecordingDaemon, tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec, match="asks for 3 GPUs"):
        runs.submit(daemon, spec(tmp_path, gpus_min=3, gpus_max=3))
    with pytest.raises(InvalidSpec, match="GPU 7 does not exist"):
        runs.submit(daemon, spec(tmp_path, gpus_min=1, gpus_max=1, gpu_ids=[7]))
    with daemon.home.sessions() as session:
        assert session.query(Run).count() == 0
    assert daemon.published == [] and daemon.told == []


def test_cancel_of_a_queued_run_needs_no_attempt_to_stop(daemon: RecordingDaemon, tmp_path: Path) -> None:
    run_id = runs.submit(daemon, spec(tmp_path, gpus_min=0, gpus_max=0))["id"]
    daemon.published.clear()
    shown = asyncio.run(runs.cancel(daemon, run_id))
    assert shown["status"] == "cancelled"
    assert not [t for t in daemon.told if t[0] in ("stop", "signal")]
    assert [(m["kind"], m["data"]["to"]) for m in daemon.published] == [("status", "cancelled")]
    with pytest.raises(Conflict, match="already cancelled"):
        asyncio.run(runs.cancel(daemon, run_id))


def test_pausing_a_run_that_is_not_running_is_refused_and_signals_nothing(daemon: RecordingDaemon, tmp_path: Path) -> None:
    run_id = runs.submit(daemon, spec(tmp_path, gpus_min=0, gpus_max=0))["id"]
    with pytest.raises(Conflict):
        runs.pause(daemon, run_id)
    assert ("signal", (run_id, signal.SIGSTOP)) not in daemon.told
