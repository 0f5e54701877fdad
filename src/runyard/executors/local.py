"""Run attempts on this machine: start the shim, signal its process group, wait for it.

Every attempt runs under :mod:`runyard.executors.shim` in a session of its own, so the
shim's pid is also the process group id and one ``killpg`` reaches the command and every
worker it forked. Shims are forked by a :class:`Launcher` the executor starts once (a fresh
interpreter per attempt cost ~10 ms of every start, and ~12 ms more at its end to import
what records the exit); when the launcher cannot be used, a shim is spawned as its own
interpreter, as before. A :class:`ProcessHandle` carries the pid *and* its start time, so a
handle kept in the database across a daemon restart never signals a stranger that got
the same pid. Nothing here needs the process to be our child: after a restart the daemon
re-attaches with the same calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import signal as signals
import sys
from pathlib import Path

import psutil

# Imported (not used) so that Python keeps a fresh compiled copy in __pycache__.
from runyard.executors import shim as _shim
from runyard.executors.base import ExitInfo, ProcessHandle
from runyard.executors.launcher import Launcher, spawn_shim

log = logging.getLogger(__name__)

SHIM = Path(_shim.__file__)
# psutil's create_time is boot time (wall clock) + ticks since boot; a stepped clock moves
# it. A pid is not reused within a second, so this much slack cannot confuse two processes.
_SAME_START_S = 1.0
_POLL_S = 0.05
# How long the shim gets to write exit.json once everything under it was SIGKILLed.
_SHIM_EXIT_S = 5.0
# A process in uninterruptible sleep (a hung NFS mount, a wedged GPU driver) outlives
# SIGKILL; terminate() gives up on it after this long rather than hang the caller.
_UNKILLABLE_S = 30.0
_COLLECT_TRIES = 1000  # ~1 s of waiting for the launcher to collect an ended shim


def descendants(pid: int) -> list[int]:
    """Pids of every live descendant of ``pid`` (children, grandchildren, …)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def shim_entry(python: str) -> Path:
    """The file to hand to ``python -I -S``: the shim's compiled copy when it is fresh and
    made for this very interpreter (compiling the source costs ~6 ms of every start, a
    third of the shim's start), else the source itself."""
    cached = Path(importlib.util.cache_from_source(str(SHIM)))
    same_python = os.path.realpath(python) == os.path.realpath(sys.executable)
    return cached if same_python and bytecode_is_fresh(SHIM, cached) else SHIM


def bytecode_is_fresh(source: Path, cached: Path) -> bool:
    """Whether ``cached`` is this interpreter's compiled copy of ``source`` as it is now,
    by the rules the import system applies (source mtime and size, or its hash)."""
    try:
        with open(cached, "rb") as file:
            header = file.read(16)
        stat = source.stat()
    except OSError:
        return False
    if len(header) < 16 or header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(header[4:8], "little") == 0:  # checked by the source's mtime and size
        expected = (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (
            stat.st_size & 0xFFFFFFFF
        ).to_bytes(4, "little")
        return header[8:16] == expected
    return header[8:16] == importlib.util.source_hash(source.read_bytes())  # PEP 552


def _process(pid: int, create_time: float | None = None) -> psutil.Process | None:
    """The live (non-zombie) process ``pid``, if it is the one that started at ``create_time``."""
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > _SAME_START_S:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return proc


def _group_members(pgid: int) -> list[int]:
    """Pids whose process group is ``pgid`` (zombies included)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry)) == pgid:
                    members.append(int(entry))
    return members


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_exists(pgid: int) -> bool:
    """Whether a non-zombie process is left in group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(_process(pid) is not None for pid in _group_members(pgid))


class LocalExecutor:
    """The :class:`~runyard.executors.base.Executor` of this machine: starts, signals and
    waits for attempts here. Holds no per-run state (its launcher is a process cache)."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self.shim = shim_entry(python)
        self.launcher = Launcher(python, self.shim)

    def close(self) -> None:
        """Let the launcher go (running attempts are not touched)."""
        self.launcher.close()

    def launch(
        self, attempt_dir: Path, argv: list[str], cwd: str, env: dict[str, str], setup: str | None
    ) -> ProcessHandle:
        """Write ``launch.json`` and start the shim in a new session; returns at once."""
        attempt_dir.mkdir(parents=True, exist_ok=True)
        spec = {"argv": list(argv), "cwd": cwd, "env": dict(env), "setup": setup}
        tmp = attempt_dir / "launch.json.tmp"
        tmp.write_text(json.dumps(spec), encoding="utf-8")
        os.replace(tmp, attempt_dir / "launch.json")
        # Exists before we return, so an ingester can start following it at once.
        os.close(os.open(attempt_dir / "output.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        pid = self.launcher.fork_shim(attempt_dir)
        if pid is None:
            # A launcher that failed late may have forked the shim all the same: never two.
            forked = self._handle_from_dir(attempt_dir)
            pid = forked.pid if forked is not None else spawn_shim(self.python, [str(self.shim), str(attempt_dir)])
        try:
            create_time = psutil.Process(pid).create_time()
        except psutil.Error:  # already gone (python missing?): wait() and read_exit() will tell
            create_time = 0.0
        log.debug("attempt %s: shim %d started", attempt_dir, pid)
        return ProcessHandle(pid=pid, create_time=create_time)

    def reattach(self, attempt_dir: Path, pid: int | None, create_time: float | None) -> ProcessHandle | None:
        """The live shim of an attempt started before a restart: the stored pid (checked
        against its start time), or, when none was stored (a crash right at launch), the
        one ``shim.pid`` names if that process started when the shim did (the pid may have
        gone to another process since). None when it no longer runs."""
        handle = ProcessHandle(pid, create_time or 0.0) if pid else self._handle_from_dir(attempt_dir)
        return handle if handle is not None and self.is_alive(handle) else None

    @staticmethod
    def _handle_from_dir(attempt_dir: Path) -> ProcessHandle | None:
        try:
            pid, ticks = (int(field) for field in (attempt_dir / "shim.pid").read_text().split())
            if _shim.start_ticks(pid) != ticks:
                return None
            return ProcessHandle(pid, psutil.Process(pid).create_time())
        except (OSError, ValueError, IndexError, psutil.Error):
            return None

    def leftovers(self, handle: ProcessHandle) -> bool:
        """Whether any process is left in the attempt's group (cheap when none is: one
        ``killpg(pgid, 0)``), so that the sweep after a normal end costs nothing then."""
        return _group_exists(handle.pid)

    def is_alive(self, handle: ProcessHandle) -> bool:
        """The shim still runs (not a zombie, and not another process that got its pid)."""
        return _process(handle.pid, handle.create_time) is not None

    def signal(self, handle: ProcessHandle, sig: int) -> None:
        """Send ``sig`` to the attempt's whole process group; a vanished group is fine."""
        if self._pid_reused(handle):
            return
        _killpg(handle.pid, sig)

    def pause(self, handle: ProcessHandle) -> None:
        """Freeze every process of the attempt (SIGSTOP cannot be caught)."""
        self.signal(handle, signals.SIGSTOP)

    def resume(self, handle: ProcessHandle) -> None:
        self.signal(handle, signals.SIGCONT)

    async def terminate(self, handle: ProcessHandle, grace_s: float) -> None:
        """Cancel the attempt: SIGTERM, then after ``grace_s`` SIGKILL; returns when no
        process of the attempt is left, including descendants that left the group.

        The final kill spares the shim (everything else is frozen first, so nothing can fork
        meanwhile): it then records the SIGKILL in exit.json and exits by itself.
        """
        if self._pid_reused(handle):
            return
        loop = asyncio.get_running_loop()
        tracked = self._collect(handle, {})
        self._send(handle, tracked, signals.SIGTERM)
        self._send(handle, tracked, signals.SIGCONT)  # a paused attempt must see the SIGTERM
        deadline = loop.time() + grace_s
        while True:
            self._reap(handle)
            tracked = self._collect(handle, tracked)
            if not self._any_left(handle, tracked):
                return
            if loop.time() >= deadline:
                break
            await asyncio.sleep(_POLL_S)
        log.info("attempt with shim %d: still running after %.1fs, killing it", handle.pid, grace_s)
        self._send(handle, tracked, signals.SIGSTOP)
        tracked = self._collect(handle, tracked)
        shim = _process(handle.pid, handle.create_time)
        for pid, proc in tracked.items():
            if pid != handle.pid:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signals.SIGKILL)
        for pid in _group_members(handle.pid):
            if pid != handle.pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signals.SIGKILL)
        self._send(handle, tracked, signals.SIGCONT)
        killed_at = loop.time()
        while True:
            self._reap(handle)
            tracked = self._collect(handle, tracked)
            if not self._any_left(handle, tracked):
                return
            if shim is None or loop.time() >= killed_at + _SHIM_EXIT_S:
                # The shim is gone or stuck: no exit.json then, but nothing may survive.
                self._send(handle, tracked, signals.SIGKILL)
            if loop.time() >= killed_at + _UNKILLABLE_S:
                left = sorted(pid for pid, proc in tracked.items() if _process(pid) is not None)
                log.warning(
                    "shim %d: processes %s survive SIGKILL (uninterruptible?)", handle.pid, left
                )
                return
            await asyncio.sleep(_POLL_S)

    async def wait(self, handle: ProcessHandle) -> None:
        """Return once the shim has exited and been collected, whether or not it is our child."""
        await self._exited(handle)
        await self._collected(handle)

    async def _collected(self, handle: ProcessHandle) -> None:
        """A shim the launcher forked is the launcher's child: wait (a millisecond or so)
        until the launcher has collected it, so that no zombie outlives :meth:`wait`."""
        launcher = self.launcher.pid
        if launcher is None:
            return
        for tries in range(_COLLECT_TRIES):
            try:
                proc = psutil.Process(handle.pid)
                if abs(proc.create_time() - handle.create_time) > _SAME_START_S or proc.ppid() != launcher:
                    return
            except psutil.Error:
                return
            await asyncio.sleep(0 if tries == 0 else 0.001)

    async def _exited(self, handle: ProcessHandle) -> None:
        if not self.is_alive(handle):
            self._reap(handle)
            return
        try:
            pidfd = os.pidfd_open(handle.pid)
        except ProcessLookupError:
            self._reap(handle)
            return
        except (AttributeError, OSError):  # kernel < 5.3, or seccomp forbids it
            while self.is_alive(handle):
                await asyncio.sleep(_POLL_S)
            self._reap(handle)
            return
        try:
            if not self.is_alive(handle):  # exited, or the pid was reused, before pidfd_open
                return
            loop = asyncio.get_running_loop()
            exited: asyncio.Future[None] = loop.create_future()

            def on_exit() -> None:
                if not exited.done():
                    exited.set_result(None)

            loop.add_reader(pidfd, on_exit)
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
        finally:
            os.close(pidfd)
            self._reap(handle)

    def read_exit(self, attempt_dir: Path) -> ExitInfo | None:
        """What ``exit.json`` says, or None when the shim has not written it (or it is bad)."""
        try:
            data = json.loads((attempt_dir / "exit.json").read_bytes())
            return ExitInfo(
                exit_code=_int_or_none(data["exit_code"]),
                signal=_int_or_none(data["signal"]),
                signal_name=_str_or_none(data["signal_name"]),
                phase=str(data["phase"]),
                started_at=_float_or_none(data["started_at"]),
                finished_at=float(data["finished_at"]),
                pid=_int_or_none(data["pid"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def read_phase(self, attempt_dir: Path) -> str | None:
        """``preparing`` or ``running`` as the shim last wrote it; None before it did."""
        try:
            return (attempt_dir / "phase").read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _pid_reused(handle: ProcessHandle) -> bool:
        """A *different* process has the shim's pid. If none has it, the group (leftover
        workers) may still exist and is still ours: Linux does not hand out a pid that is
        in use as a process group id."""
        try:
            started: float = psutil.Process(handle.pid).create_time()
        except psutil.Error:
            return False
        return abs(started - handle.create_time) > _SAME_START_S

    @staticmethod
    def _reap(handle: ProcessHandle) -> None:
        """Collect the shim's exit status if it is our child, so no zombie lingers."""
        try:
            proc = psutil.Process(handle.pid)
            if abs(proc.create_time() - handle.create_time) > _SAME_START_S:
                return
        except psutil.Error:
            return
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(handle.pid, os.WNOHANG)

    @staticmethod
    def _collect(
        handle: ProcessHandle, tracked: dict[int, psutil.Process]
    ) -> dict[int, psutil.Process]:
        """``tracked`` plus the group's members and every descendant of any of them."""
        found = dict(tracked)
        roots = [handle.pid, *_group_members(handle.pid)]
        for pid in roots:
            proc = _process(pid, handle.create_time if pid == handle.pid else None)
            if proc is None:
                continue
            found.setdefault(pid, proc)
            with contextlib.suppress(psutil.Error):
                for child in proc.children(recursive=True):
                    found.setdefault(child.pid, child)
        return found

    @staticmethod
    def _send(handle: ProcessHandle, tracked: dict[int, psutil.Process], sig: int) -> None:
        """``sig`` to the group and to every tracked process outside it."""
        _killpg(handle.pid, sig)
        for proc in tracked.values():
            with contextlib.suppress(psutil.Error, OSError):
                if os.getpgid(proc.pid) != handle.pid:
                    proc.send_signal(sig)  # psutil refuses if the pid was reused

    @staticmethod
    def _any_left(handle: ProcessHandle, tracked: dict[int, psutil.Process]) -> bool:
        if _group_exists(handle.pid):
            return True
        for proc in tracked.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    return True
        return False


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"not an integer: {value!r}")
    return value


def _float_or_none(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"not a string: {value!r}")
    return value
