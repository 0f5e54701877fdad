"""The per-attempt shim: runs one command, keeps its output, records how it ended.

Started by :class:`runyard.executors.local.LocalExecutor` either as::

    python -I -S /path/to/shim.py ATTEMPT_DIR

or, on the fast path, forked by the *launcher* (``python -I -S shim.py --launcher``, one per
daemon, started once): it reads one attempt folder per line on its standard input, forks a
shim for it and answers the shim's pid. A forked shim starts in ~1 ms instead of the ~10 ms
of an interpreter, and finds ``json`` and ``signal`` already imported when it records the
end. Either way the shim runs in a new session, so its pid is the process group id, and it
does the same from there on: it reads ``ATTEMPT_DIR/launch.json``
(``argv``, ``cwd``, ``env``, ``setup``), points the command's stdout and stderr straight at
``ATTEMPT_DIR/output.log`` (the file descriptor is inherited: no Python copy loop, so a
chatty script runs as fast as with ``> file 2>&1``), waits, and writes ``exit.json``
atomically. It needs nothing from the daemon and outlives it.

Standard library only, and only modules that load fast: ``import json`` costs more than
Python's whole start (it pulls in ``re`` and ``enum``), so ``launch.json`` is read with the
C scanner of ``_json`` and the slow modules are imported after the command has started.

Files written next to ``launch.json``:
    output.log   the command's stdout+stderr (and setup's), plus ``runyard:`` lines from here
    phase        ``preparing`` while the setup runs, then ``running`` (atomic replace)
    shim.pid     the shim's own pid and its start time in clock ticks since boot (the 22nd
                 field of /proc/PID/stat), written first: how a restarted daemon that never
                 stored the pid finds the shim, and knows it from a process that got the pid since
    child.pid    pid of the process being run (setup, then the command)
    exit.json    ``exit_code``/``signal``/``signal_name``/``phase``/``started_at``/
                 ``finished_at``/``pid`` (tmp + fsync + rename)
"""

# No ``from __future__ import annotations``: importing __future__ costs a millisecond.
import _signal
import os
import sys
import time

# Signals a group-wide cancel sends. The shim catches them with a handler that does
# nothing (not SIG_IGN, which exec would pass on to the command) so it can still record
# how the command ended; the command gets the default dispositions after exec.
_SURVIVE = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)
# Python itself ignores these at start; a command must see them at their defaults.
_DEFAULTS = (*_SURVIVE, _signal.SIGPIPE, _signal.SIGXFSZ)
_PR_SET_CHILD_SUBREAPER = 36


def _ignore(signum: int, frame: object) -> None:
    """Stay alive: the command decides what the signal means."""


def _read_json(path: str) -> dict:  # type: ignore[type-arg]
    """``json.loads`` without importing ``json`` (see the module docstring)."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        import _json
    except ImportError:  # another Python implementation: take the slow road
        import json

        return json.loads(text)  # type: ignore[no-any-return]

    class _Context:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = float
        memo: dict[str, str] = {}

    start = len(text) - len(text.lstrip())
    try:
        value, end = _json.make_scanner(_Context())(text, start)  # type: ignore[arg-type]
    except StopIteration as stop:  # the scanner's way to say "no value here"
        raise ValueError(f"{path}: bad JSON at character {stop.value}") from None
    if text[end:].strip() or not isinstance(value, dict):
        raise ValueError(f"{path}: not one JSON object")
    return value


def _write_atomic(path: str, data: bytes, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` so a reader never sees half a file."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _say(message: str) -> None:
    """One ``runyard:`` line into the log (fd 2 is output.log)."""
    os.write(2, f"runyard: {message}\n".encode("utf-8", "backslashreplace"))


def _become_subreaper() -> None:
    """Adopt orphaned descendants, so a cancel can still find one that called setsid()
    after its parent died. Best effort: a kernel or libc without it changes nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError, ImportError):
        pass


def start_ticks(pid: "int | str") -> int:
    """When process ``pid`` started, in clock ticks since boot (field 22 of its stat file;
    the command name before it may hold spaces and parentheses). Exact, unlike a wall clock."""
    with open(f"/proc/{pid}/stat", "rb") as file:
        stat = file.read()
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


def _write_identity(attempt_dir: str) -> None:
    """``shim.pid``: this shim's pid and start time (see the module docstring)."""
    try:
        ticks = start_ticks("self")
    except (OSError, ValueError, IndexError):
        return
    _write_atomic(os.path.join(attempt_dir, "shim.pid"), b"%d %d\n" % (os.getpid(), ticks))


def _find_program(name: str, env: dict[str, str]) -> str:
    """Resolve ``name`` the way execvp does, but on the *run's* PATH, not the shim's.

    Raises ``FileNotFoundError`` (→ 127) or ``PermissionError`` (→ 126) as a shell would.
    """
    if "/" in name:
        return name
    denied = None
    # os.get_exec_path(env) would do, but it imports warnings: slow, for nothing here.
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            denied = candidate
    if denied is not None:
        raise PermissionError(13, os.strerror(13), denied)
    raise FileNotFoundError(2, os.strerror(2), name)


def _spawn(argv: list[str], env: dict[str, str], attempt_dir: str) -> int:
    """Start ``argv`` in the shim's group with default signal handling; return its pid."""
    path = _find_program(argv[0], env)
    options = {"setsigdef": _DEFAULTS, "setsigmask": ()}
    try:
        pid = os.posix_spawn(path, argv, env, **options)  # type: ignore[arg-type]
    except OSError as error:
        if error.errno != 8:  # ENOEXEC: a script without "#!", which execvp hands to sh
            raise
        pid = os.posix_spawn("/bin/sh", ["sh", path, *argv[1:]], env, **options)  # type: ignore[arg-type]
    _write_atomic(os.path.join(attempt_dir, "child.pid"), b"%d\n" % pid)
    return pid


def _wait(pid: int) -> int:
    """Wait for ``pid``, reaping adopted orphans on the way; return its wait status."""
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:  # someone else reaped it; should not happen
            return 255 << 8
        if done == pid:
            return status


def _run(argv: list[str], env: dict[str, str], attempt_dir: str) -> tuple[int, int]:
    """Spawn and wait for one process; ``(pid, wait status)``, pid -1 if it never started."""
    try:
        pid = _spawn(argv, env, attempt_dir)
    except OSError as error:
        _say(f"cannot run {argv[0]!r}: {error.strerror or error}")
        code = 127 if isinstance(error, FileNotFoundError | NotADirectoryError) else 126
        return -1, code << 8
    except (ValueError, TypeError) as error:  # e.g. a NUL byte in an argument
        _say(f"cannot run {argv[0]!r}: {error}")
        return -1, 126 << 8
    _become_subreaper()  # after the spawn: ctypes loads slowly and the command need not wait
    return pid, _wait(pid)


def _record_exit(
    attempt_dir: str, pid: int, status: int, phase: str, started_at: float | None
) -> int:
    """Write exit.json; return the shim's own exit code (the command's, or 128+signal)."""
    import json
    import signal

    finished_at = time.time()
    signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    exit_code = os.WEXITSTATUS(status) if signum is None else None
    try:
        signal_name = signal.Signals(signum).name if signum is not None else None
    except ValueError:
        signal_name = f"SIG{signum}"
    record = {
        "exit_code": exit_code,
        "signal": signum,
        "signal_name": signal_name,
        "phase": phase,
        "started_at": started_at,
        "finished_at": finished_at,
        "pid": pid if pid > 0 else None,
    }
    _write_atomic(
        os.path.join(attempt_dir, "exit.json"), (json.dumps(record) + "\n").encode(), durable=True
    )
    return exit_code if exit_code is not None else 128 + (signum or 0)


def main(attempt_dir: str) -> int:
    """Run the attempt described in ``attempt_dir``; return the shim's exit code."""
    for signum in _SURVIVE:
        _signal.signal(signum, _ignore)
    # The launcher starts us with these blocked, so a cancel that comes before the handlers
    # exist waits instead of killing the shim; any pending one is delivered (and ignored) now.
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, _SURVIVE)
    _write_identity(attempt_dir)
    # A daemon may leak descriptors without O_CLOEXEC (a listening socket, a GPU device);
    # the command must not hold them for days.
    os.closerange(3, max(os.sysconf("SC_OPEN_MAX"), 1 << 16))

    log = os.open(
        os.path.join(attempt_dir, "output.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
    )
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)

    try:
        spec = _read_json(os.path.join(attempt_dir, "launch.json"))
        argv, env, setup = list(spec["argv"]), dict(spec["env"]), spec.get("setup")
        cwd = str(spec["cwd"])
        if not argv:
            raise ValueError("argv is empty")
    except (OSError, ValueError, KeyError, TypeError) as error:
        # 125, as env(1) and docker use for "the launcher failed, not the command".
        _say(f"cannot read launch.json: {error!r}")
        return _record_exit(attempt_dir, -1, 125 << 8, "command", None)
    try:
        os.chdir(cwd)
    except OSError as error:
        _say(f"cannot change directory to {cwd!r}: {error.strerror}")
        return _record_exit(attempt_dir, -1, 126 << 8, "setup" if setup else "command", None)

    phase_file = os.path.join(attempt_dir, "phase")
    if setup:
        _write_atomic(phase_file, b"preparing\n")
        pid, status = _run(["/bin/sh", "-c", setup], env, attempt_dir)
        if status != 0:
            _say("setup failed; the command was not run")
            return _record_exit(attempt_dir, pid, status, "setup", None)
    _write_atomic(phase_file, b"running\n")
    started_at = time.time()
    pid, status = _run(argv, env, attempt_dir)
    return _record_exit(attempt_dir, pid, status, "command", started_at)


def _forked(attempt_dir: str) -> None:
    """The shim in a child of the launcher: its own session, the standard streams of a
    spawned shim (``/dev/null``; the launcher's are its pipes), then :func:`main`."""
    code = 125
    try:
        os.setsid()
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)  # the launcher's reaper would steal the status
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if null > 2:
            os.close(null)
        code = main(attempt_dir)
    finally:
        os._exit(code)


def _reap_children(signum: int, frame: object) -> None:
    """The launcher collects the shims it forked as they end (their exit is in exit.json)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def launcher() -> int:
    """Fork a shim for each attempt folder read from standard input, one per line, and
    answer each with the shim's pid (or ``error: …``); exit at end of input, which is when
    the daemon closes the pipe or dies. Shims live on without it."""
    # What a shim needs at its end is imported once, here, rather than in every shim.
    import ctypes  # noqa: F401
    import json  # noqa: F401
    import signal  # noqa: F401

    _signal.signal(_signal.SIGCHLD, _reap_children)
    for signum in (_signal.SIGINT, _signal.SIGHUP):
        _signal.signal(signum, _signal.SIG_IGN)  # the daemon alone decides when this ends
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, _SURVIVE)  # spawned with a shim's mask
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    for line in requests:
        attempt_dir = os.fsdecode(line.rstrip(b"\n"))
        # Blocked across the fork, as the spawned shim starts: see main().
        _signal.pthread_sigmask(_signal.SIG_BLOCK, _SURVIVE)
        try:
            pid = os.fork()
        except OSError as error:
            answer = f"error: cannot fork: {error.strerror}\n".encode()
        else:
            if pid == 0:
                _forked(attempt_dir)
            answer = b"%d\n" % pid
        finally:
            _signal.pthread_sigmask(_signal.SIG_UNBLOCK, _SURVIVE)
        answers.write(answer)
        answers.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--launcher"]:
        sys.exit(launcher())
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -I -S shim.py ATTEMPT_DIR | --launcher\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
