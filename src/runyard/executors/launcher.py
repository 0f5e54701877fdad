"""The shim launcher: one process per executor that forks a shim for each attempt.

``python -I -S shim.py --launcher`` (see :func:`runyard.executors.shim.launcher`) reads an
attempt folder per line and answers the pid of the shim it forked. A forked shim starts in
~1 ms where an interpreter takes ~9 ms, and finds what it needs at its end imported. The
launcher holds nothing about any attempt: it is a process cache, and a launch it cannot
serve falls back to :func:`spawn_shim`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal as signals
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)
# Blocked in the shim until it has installed its handlers (see shim.main).
SHIM_BLOCKED = (signals.SIGTERM, signals.SIGINT, signals.SIGHUP)
# How long a launch waits for the launcher's answer (a fork takes ~1 ms) before it gives
# the launcher up and spawns the shim itself.
_LAUNCHER_ANSWER_S = 5.0


def spawn_shim(python: str, args: list[str], stdin: int | None = None, stdout: int | None = None) -> int:
    """Start ``python -I -S SHIM args…`` in a new session with the shim's signal mask;
    its standard streams are ``/dev/null`` but for the descriptors given."""
    streams = {0: stdin, 1: stdout}
    actions: list[tuple[int | str, ...]] = []
    for fd in (0, 1, 2):
        given = streams.get(fd)
        if given is None:
            actions.append((os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0))
        else:
            actions.append((os.POSIX_SPAWN_DUP2, given, fd))
    return os.posix_spawn(
        python,
        [python, "-I", "-S", *args],
        {},  # -I: the shim reads nothing from its environment; the command's is in launch.json
        file_actions=actions,
        setsid=True,
        setsigmask=SHIM_BLOCKED,
        setsigdef=(signals.SIGPIPE, signals.SIGXFSZ, *SHIM_BLOCKED),
    )


class Launcher:
    """The process that forks shims (``shim.py --launcher``): started on the first launch,
    closed with the executor, and it exits by itself when its pipe closes (the daemon died).
    One request at a time: a launch writes a folder and reads back a pid."""

    def __init__(self, python: str, shim: Path) -> None:
        self.python, self.shim = python, shim
        self._pid: int | None = None
        self._requests = self._answers = -1
        self._lock = threading.Lock()

    def fork_shim(self, attempt_dir: Path) -> int | None:
        """The pid of a shim forked for ``attempt_dir``; None when the launcher cannot
        (it could not start, died, or took too long), and the caller spawns one itself."""
        path = os.fsencode(attempt_dir)
        if b"\n" in path:
            return None
        with self._lock:
            try:
                if self._pid is None:
                    self._start()
                os.write(self._requests, path + b"\n")
                answer = self._read_line()
                return int(answer)
            except (OSError, ValueError) as error:
                log.warning("the shim launcher failed (%s); starting the shim directly", error)
                self._close()
                return None

    @property
    def pid(self) -> int | None:
        """The launcher's pid while it runs."""
        return self._pid

    def close(self) -> None:
        with self._lock:
            self._close()

    def _start(self) -> None:
        requests_read, self._requests = os.pipe()
        self._answers, answers_write = os.pipe()
        try:
            self._pid = spawn_shim(self.python, [str(self.shim), "--launcher"], requests_read, answers_write)
        finally:
            os.close(requests_read)
            os.close(answers_write)

    def _read_line(self) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([self._answers], [], [], _LAUNCHER_ANSWER_S)
            if not ready:
                raise OSError("no answer in time")
            data = os.read(self._answers, 64)
            if not data:
                raise OSError("it exited")
            line += data
        if line.startswith(b"error:"):
            raise OSError(line.decode(errors="replace").strip())
        return line

    def _close(self) -> None:
        for fd in (self._requests, self._answers):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._requests = self._answers = -1
        if self._pid is not None:
            pid, self._pid = self._pid, None
            # It exits at the end of its input; a wedged one is not waited for forever.
            for _ in range(100):
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        time.sleep(0.01)
                        continue
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signals.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
