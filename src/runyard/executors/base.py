"""Where a run's process lives, as the daemon sees it: the :class:`Executor` interface.

The attempt supervisor (``daemon/``) and nothing else drives an executor: it launches an
attempt, signals its process group, waits for it, reads how it ended, and re-attaches to
it after a restart. :class:`~runyard.executors.local.LocalExecutor` runs attempts on this
machine; another (a cluster's) implements the same methods and nothing in ``service/``
changes. What an executor records of an attempt lives in the attempt's folder
(``exit.json``, ``phase``), so that a restarted daemon reads it back the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ProcessHandle:
    """The shim of one attempt: pid (== process group id) and psutil's create_time."""

    pid: int
    create_time: float


@dataclass(frozen=True)
class ExitInfo:
    """How an attempt ended, as the shim recorded it in ``exit.json``."""

    exit_code: int | None
    signal: int | None
    signal_name: str | None
    phase: str
    started_at: float | None
    finished_at: float
    pid: int | None


class Executor(Protocol):
    def launch(self, attempt_dir: Path, argv: list[str], cwd: str, env: dict[str, str],
               setup: str | None) -> ProcessHandle:
        """Start the attempt (its setup, then its command) and return at once."""
        ...

    async def wait(self, handle: ProcessHandle) -> None:
        """Return once the attempt's process has ended."""
        ...

    def signal(self, handle: ProcessHandle, sig: int) -> None:
        """Send ``sig`` to every process of the attempt."""
        ...

    def pause(self, handle: ProcessHandle) -> None: ...

    def resume(self, handle: ProcessHandle) -> None: ...

    async def terminate(self, handle: ProcessHandle, grace_s: float) -> None:
        """Stop the attempt: SIGTERM, SIGKILL after ``grace_s``; return when nothing of it is left."""
        ...

    def leftovers(self, handle: ProcessHandle) -> bool:
        """Whether processes the command started are still there after it ended."""
        ...

    def is_alive(self, handle: ProcessHandle) -> bool: ...

    def reattach(self, attempt_dir: Path, pid: int | None, create_time: float | None) -> ProcessHandle | None:
        """The attempt's process after a daemon restart, if it still runs."""
        ...

    def read_exit(self, attempt_dir: Path) -> ExitInfo | None:
        """How the attempt ended, once it has; None before (or when nothing was recorded)."""
        ...

    def read_phase(self, attempt_dir: Path) -> str | None:
        """``preparing`` or ``running``, as the attempt last recorded it."""
        ...

    def close(self) -> None:
        """Release what the executor holds for launching (the attempts go on)."""
        ...
