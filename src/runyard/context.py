"""What the services, the ingestion and the server may use of the running daemon: a
:class:`Home` (settings, database, folders), and small protocols for the rest.

The daemon (``daemon/``) is the composition root at the top: it builds the pieces and
hands them down as a :class:`Context`. Nothing below imports ``daemon/``. A function takes
the narrowest handle it needs: a :class:`Home` when it only reads and writes the store and
the run folders, a :class:`Context` when it must also tell the live daemon something (a
run to start, an attempt to stop, an event to announce).

Whatever a worker thread reads of the daemon's live state is a frozen :class:`LiveView`
that the event loop replaces whole: a thread never iterates a dict the loop changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from runyard.bus import EventBus
from runyard.gpus.readings import GpuReading, Inventory
from runyard.scheduler.planner import ClusterState, Pending
from runyard.settings import Settings
from runyard.store.tables import Run

T = TypeVar("T")
GpuSample = tuple[float, tuple[tuple[int, int, int | None], ...]]


@dataclass(frozen=True)
class Home:
    """A runyard home: its settings, its database, and where each run keeps its files."""

    settings: Settings
    sessions: sessionmaker[Session]

    def run_dir(self, run_id: int) -> Path:
        return self.settings.runs_dir / str(run_id)

    def attempt_dir(self, run_id: int, number: int) -> Path:
        return self.run_dir(run_id) / f"attempt-{number}"


@dataclass(frozen=True)
class LiveView:
    """What threads (the live streams, the GPU page) read of the daemon's live state:
    built on the event loop's thread and replaced whole, never changed in place."""

    queue: tuple[Pending, ...] = ()
    cluster: ClusterState = field(default_factory=lambda: ClusterState(gpus=(), claims=()))
    readings: tuple[GpuReading, ...] = ()
    own_pids: Mapping[int, int] = field(default_factory=dict)  # every process of our attempts → its run
    history: tuple[GpuSample, ...] = ()


class Announcer(Protocol):
    """Tells the world what happened: events (to ``events.jsonl`` and the live streams)
    and live-only messages (log text)."""

    bus: EventBus

    def publish(self, messages: list[dict[str, Any]]) -> None:
        """Committed events, from the event loop's thread."""
        ...

    def publish_threadsafe(self, messages: list[dict[str, Any]]) -> None:
        """Committed events, from a worker thread."""
        ...

    def broadcast_threadsafe(self, messages: list[dict[str, Any]]) -> None:
        """Live-only messages, from a worker thread: to subscribers, not to events."""
        ...


class Queue(Protocol):
    """The scheduler, as services see it."""

    view: LiveView

    def wake_scheduler(self) -> None: ...

    def schedule_now(self) -> None:
        """A scheduling pass at once, on the caller's turn of the loop (after a submit)."""
        ...

    def waiting_reasons(self, session: Session, runs: list[Run]) -> dict[int, str]:
        """Why each of these queued or waiting runs has not started."""
        ...


class Attempts(Protocol):
    """The attempt supervisor, as services see it: the live attempts are its own."""

    def stop_attempt(self, run_id: int, why: str) -> None: ...

    def signal_attempt(self, run_id: int, sig: int) -> None: ...

    def attempt_phase(self, run_id: int, number: int) -> str | None: ...


class Gpus(Protocol):
    """The GPU monitor: where the readings come from, and the GPUs runs may ask for."""

    @property
    def inventory(self) -> Inventory: ...

    def gpu_indices(self) -> list[int]: ...

    def gpu_memory(self) -> dict[int, int]: ...


class Workers(Protocol):
    """The daemon's worker threads and its parse process."""

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T: ...

    def parse_pool(self) -> ProcessPoolExecutor | None: ...

    def parse_pool_broken(self) -> None: ...


class Context(Announcer, Queue, Attempts, Gpus, Workers, Protocol):
    """Everything the layers below the daemon may ask of it, with its home."""

    home: Home

    def request_shutdown(self) -> None:
        """Stop serving; running attempts go on."""
        ...
