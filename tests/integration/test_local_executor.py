"""The local executor with real processes: the shim, output capture, signals, cancel,
pause/resume, and re-attaching to a shim whose launcher died."""

from __future__ import annotations

import asyncio
import json
import os
import py_compile
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runyard.executors.local import (
    SHIM,
    ExitInfo,
    LocalExecutor,
    ProcessHandle,
    bytecode_is_fresh,
    shim_entry,
)
from runyard.executors.shim import _read_json as read_launch_json

PY = sys.executable
BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    executor = LocalExecutor()
    yield executor
    executor.close()


def script(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


async def run(
    executor: LocalExecutor,
    attempt: Path,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    setup: str | None = None,
    cwd: Path | None = None,
) -> ExitInfo:
    handle = executor.launch(attempt, argv, str(cwd or attempt), env or BASE_ENV, setup)
    await asyncio.wait_for(executor.wait(handle), 30)
    info = executor.read_exit(attempt)
    assert info is not None
    return info


def alive(pid: int) -> bool:
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return False
    return bool(status != psutil.STATUS_ZOMBIE)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def log_of(attempt: Path) -> str:
    return (attempt / "output.log").read_text()


# -- output, exit status, environment ---------------------------------------------------


async def test_chatty_output_lands_complete_and_in_order(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    code = """
        import sys
        for i in range(20000):
            print(f"out {i}") if i % 2 == 0 else print(f"err {i}", file=sys.stderr)
    """
    info = await run(executor, tmp_path, script(code))
    expected = [f"out {i}" if i % 2 == 0 else f"err {i}" for i in range(20000)]
    assert log_of(tmp_path).splitlines() == expected
    assert info.exit_code == 0 and info.signal is None and info.phase == "command"


async def test_exit_code_and_times_are_recorded(executor: LocalExecutor, tmp_path: Path) -> None:
    before = time.time()
    info = await run(executor, tmp_path, script("raise SystemExit(3)"))
    assert (info.exit_code, info.signal, info.signal_name) == (3, None, None)
    assert (
        info.started_at is not None and before <= info.started_at <= info.finished_at <= time.time()
    )
    assert info.pid == int((tmp_path / "child.pid").read_text())
    assert executor.read_phase(tmp_path) == "running"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
async def test_death_by_signal_is_recorded(
    executor: LocalExecutor, tmp_path: Path, sig: int
) -> None:
    # SIGTERM/SIGINT kill only if the shim's own handlers did not leak into the command.
    code = f"import os, time, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); os.kill(os.getpid(), {int(sig)}); time.sleep(10)"
    info = await run(executor, tmp_path, script(code))
    assert (info.exit_code, info.signal, info.signal_name) == (None, sig, signal.Signals(sig).name)


async def test_command_sees_no_ignored_or_blocked_signals(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    await run(executor, tmp_path, ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"])
    masks = dict(line.split(":") for line in log_of(tmp_path).splitlines())
    # Only the standard signals 1-31: glibc's posix_spawn (and so system()) leaves its own
    # reserved signals 32 and 33 ignored; glibc programs install their handlers anyway.
    assert int(masks["SigBlk"], 16) & 0x7FFFFFFF == 0
    assert int(masks["SigIgn"], 16) & 0x7FFFFFFF == 0


@pytest.mark.parametrize(
    ("make_argv", "code", "message"),
    [
        (
            lambda d: ["no-such-program-xyz"],
            127,
            "runyard: cannot run 'no-such-program-xyz': No such file or directory",
        ),
        (lambda d: [str(d / "missing")], 127, "No such file or directory"),
        (lambda d: [str(d / "not-executable")], 126, "Permission denied"),
    ],
)
async def test_program_that_cannot_run_exits_like_a_shell(
    executor: LocalExecutor,
    tmp_path: Path,
    make_argv: Callable[[Path], list[str]],
    code: int,
    message: str,
) -> None:
    (tmp_path / "not-executable").write_text("#!/bin/sh\necho hi\n")
    info = await run(executor, tmp_path / "a", make_argv(tmp_path))
    assert info.exit_code == code and info.phase == "command"
    assert message in log_of(tmp_path / "a")


async def test_script_without_shebang_runs_through_sh(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    (tmp_path / "plain").write_text("echo from plain script\n")
    (tmp_path / "plain").chmod(0o755)
    info = await run(executor, tmp_path / "a", [str(tmp_path / "plain")])
    assert info.exit_code == 0 and log_of(tmp_path / "a") == "from plain script\n"


async def test_environment_is_exactly_the_one_given(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    env = {**BASE_ENV, "CUDA_VISIBLE_DEVICES": "1,3", "RUNYARD_RUN_ID": "42", "ODD": "a b=c"}
    await run(executor, tmp_path, ["env"], env=env)
    assert dict(line.split("=", 1) for line in log_of(tmp_path).splitlines()) == env


async def test_program_is_found_on_the_runs_path_and_runs_in_its_cwd(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir()
    work.mkdir()
    (bin_dir / "where").write_text('#!/bin/sh\necho "at $(pwd -P)"\n')
    (bin_dir / "where").chmod(0o755)
    env = {**BASE_ENV, "PATH": f"{bin_dir}:{BASE_ENV['PATH']}"}
    info = await run(executor, tmp_path / "a", ["where"], env=env, cwd=work)
    assert info.exit_code == 0 and log_of(tmp_path / "a") == f"at {work.resolve()}\n"


async def test_setup_runs_first_in_the_same_log(executor: LocalExecutor, tmp_path: Path) -> None:
    info = await run(
        executor, tmp_path, ["echo", "command"], setup="echo setup; echo setup-err >&2"
    )
    assert log_of(tmp_path) == "setup\nsetup-err\ncommand\n"
    assert info.exit_code == 0 and info.phase == "command"
    assert executor.read_phase(tmp_path) == "running"


async def test_failed_setup_skips_the_command(executor: LocalExecutor, tmp_path: Path) -> None:
    info = await run(
        executor, tmp_path, ["touch", str(tmp_path / "ran")], setup="echo preparing; exit 4"
    )
    assert (info.exit_code, info.phase, info.started_at) == (4, "setup", None)
    assert not (tmp_path / "ran").exists()
    assert log_of(tmp_path).startswith("preparing\n")


async def test_phase_is_preparing_while_setup_runs(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.launch(
        tmp_path, ["true"], str(tmp_path), BASE_ENV, f"touch {tmp_path}/in-setup; sleep 0.5"
    )
    await until(lambda: (tmp_path / "in-setup").exists())
    assert executor.read_phase(tmp_path) == "preparing"
    await executor.wait(handle)
    assert executor.read_phase(tmp_path) == "running"


async def test_missing_cwd_fails_with_a_message(executor: LocalExecutor, tmp_path: Path) -> None:
    info = await run(executor, tmp_path, ["true"], cwd=tmp_path / "gone")
    assert info.exit_code == 126 and "cannot change directory" in log_of(tmp_path)


def test_read_exit_and_phase_tolerate_missing_or_bad_files(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    assert executor.read_exit(tmp_path) is None and executor.read_phase(tmp_path) is None
    (tmp_path / "exit.json").write_text('{"exit_code": "x"')
    assert executor.read_exit(tmp_path) is None
    (tmp_path / "exit.json").write_text('{"exit_code": true, "signal": null}')
    assert executor.read_exit(tmp_path) is None


# -- process control --------------------------------------------------------------------

SPAWNS_GRANDCHILD = """
    import os, subprocess, time
    child = subprocess.Popen(["sleep", "60"], start_new_session={setsid})
    open("pids.tmp", "w").write(str(child.pid)); os.rename("pids.tmp", "pids")
    time.sleep(60)
"""

DAEMONIZES = """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            open("pids.tmp", "w").write(str(os.getpid())); os.rename("pids.tmp", "pids")
            time.sleep(60)
        os._exit(0)
    time.sleep(60)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [SPAWNS_GRANDCHILD.format(setsid=False), SPAWNS_GRANDCHILD.format(setsid=True), DAEMONIZES],
    ids=["grandchild", "setsid-grandchild", "double-fork-daemon"],
)
async def test_terminate_leaves_no_process_behind(
    executor: LocalExecutor, tmp_path: Path, code: str
) -> None:
    handle = executor.launch(tmp_path, script(code), str(tmp_path), BASE_ENV, None)
    await until(lambda: (tmp_path / "pids").exists())
    grandchild = int((tmp_path / "pids").read_text())
    child = int((tmp_path / "child.pid").read_text())
    assert alive(grandchild)
    await asyncio.wait_for(executor.terminate(handle, grace_s=5), 15)
    assert not any(alive(pid) for pid in (handle.pid, child, grandchild))
    info = executor.read_exit(tmp_path)
    assert info is not None and info.signal_name == "SIGTERM"


@pytest.mark.slow
async def test_terminate_kills_what_ignores_sigterm_after_the_grace(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    code = """
        import signal, subprocess, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        subprocess.Popen(["sleep", "60"], start_new_session=True)  # inherits SIG_IGN too
        open("ready", "w").close()
        time.sleep(60)
    """
    handle = executor.launch(tmp_path, script(code), str(tmp_path), BASE_ENV, None)
    await until(lambda: (tmp_path / "ready").exists())
    tree = [handle.pid, *(p.pid for p in psutil.Process(handle.pid).children(recursive=True))]
    started = time.monotonic()
    await asyncio.wait_for(executor.terminate(handle, grace_s=0.5), 15)
    assert time.monotonic() - started >= 0.5
    assert not any(alive(pid) for pid in tree)
    info = executor.read_exit(tmp_path)
    assert info is not None and info.signal_name == "SIGKILL"  # the shim lived to record it


@pytest.mark.slow
async def test_terminate_reaches_a_paused_attempt(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.launch(tmp_path, ["sleep", "60"], str(tmp_path), BASE_ENV, None)
    await until(lambda: (tmp_path / "child.pid").exists())
    executor.pause(handle)
    await asyncio.wait_for(executor.terminate(handle, grace_s=5), 15)
    info = executor.read_exit(tmp_path)
    assert info is not None and info.signal_name == "SIGTERM"


@pytest.mark.slow
async def test_paused_attempt_makes_no_progress_until_resumed(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    code = "import time\nfor i in range(1000):\n    print(i); time.sleep(0.01)"
    handle = executor.launch(tmp_path, script(code), str(tmp_path), BASE_ENV, None)

    def size() -> int:
        return (tmp_path / "output.log").stat().st_size

    await until(lambda: size() > 0)
    executor.pause(handle)
    await asyncio.sleep(0.1)  # let a write in flight land
    paused_at = size()
    await asyncio.sleep(0.4)
    assert size() == paused_at
    executor.resume(handle)
    await until(lambda: size() > paused_at, timeout=5)
    await executor.terminate(handle, grace_s=2)


LAUNCHER = """
import json, sys
from pathlib import Path
from runyard.executors.local import LocalExecutor
handle = LocalExecutor().launch(Path(sys.argv[1]), sys.argv[2:], sys.argv[1], {"PATH": "/usr/bin:/bin"}, None)
print(json.dumps([handle.pid, handle.create_time]), flush=True)
import time; time.sleep(60)
"""


@pytest.mark.slow
async def test_shim_outlives_its_launcher_and_can_be_waited_on(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    argv = ["sh", "-c", "sleep 1; echo finished"]
    with subprocess.Popen(
        [PY, "-c", LAUNCHER, str(tmp_path), *argv], stdout=subprocess.PIPE, text=True
    ) as launcher:
        assert launcher.stdout is not None
        pid, create_time = json.loads(launcher.stdout.readline())
        launcher.kill()
    handle = ProcessHandle(pid, create_time)
    assert executor.is_alive(handle)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # really not our child
    await asyncio.wait_for(executor.wait(handle), 15)
    assert not executor.is_alive(handle)
    info = executor.read_exit(tmp_path)
    assert info is not None and info.exit_code == 0
    assert log_of(tmp_path) == "finished\n"


async def test_wait_reaps_our_own_shim(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.launch(tmp_path, ["true"], str(tmp_path), BASE_ENV, None)
    await executor.wait(handle)
    assert (
        not psutil.pid_exists(handle.pid)
        or psutil.Process(handle.pid).create_time() != handle.create_time
    )


async def test_a_handle_whose_pid_was_reused_is_left_alone(executor: LocalExecutor) -> None:
    with subprocess.Popen(["sleep", "30"], start_new_session=True) as stranger:
        handle = ProcessHandle(stranger.pid, psutil.Process(stranger.pid).create_time() - 100)
        assert not executor.is_alive(handle)
        executor.signal(handle, signal.SIGKILL)
        await executor.terminate(handle, grace_s=0.1)
        await asyncio.wait_for(executor.wait(handle), 1)
        assert alive(stranger.pid)
        stranger.kill()


# -- the shim as a file: run by hand, and from its compiled copy -------------------------


@pytest.mark.parametrize("compiled", [False, True], ids=["source", "bytecode"])
def test_shim_runs_by_itself(tmp_path: Path, compiled: bool) -> None:
    entry = SHIM
    if compiled:
        entry = tmp_path / "shim.pyc"
        py_compile.compile(str(SHIM), cfile=str(entry), doraise=True)
    attempt = tmp_path / "attempt"
    attempt.mkdir()
    spec = {"argv": ["echo", "hello"], "cwd": str(tmp_path), "env": BASE_ENV, "setup": None}
    (attempt / "launch.json").write_text(json.dumps(spec))
    done = subprocess.run([PY, "-I", "-S", str(entry), str(attempt)], check=False)
    assert done.returncode == 0
    assert log_of(attempt) == "hello\n"
    assert json.loads((attempt / "exit.json").read_text())["exit_code"] == 0


@pytest.mark.parametrize(
    "mode", [py_compile.PycInvalidationMode.TIMESTAMP, py_compile.PycInvalidationMode.CHECKED_HASH]
)
def test_compiled_shim_is_used_only_while_fresh(
    tmp_path: Path, mode: py_compile.PycInvalidationMode
) -> None:
    source, cached = tmp_path / "shim.py", tmp_path / "shim.pyc"
    source.write_text("print('v1')\n")
    py_compile.compile(str(source), cfile=str(cached), doraise=True, invalidation_mode=mode)
    assert bytecode_is_fresh(source, cached)
    source.write_text("print('v2, longer')\n")
    assert not bytecode_is_fresh(source, cached)
    assert not bytecode_is_fresh(source, tmp_path / "missing.pyc")


def test_another_interpreter_gets_the_source(tmp_path: Path) -> None:
    other = tmp_path / "python"
    other.write_text("")
    assert shim_entry(str(other)) == SHIM


@pytest.mark.parametrize(
    "launch", ['{"argv": [', '{"argv": [], "cwd": "/", "env": {}}', '{"cwd": "/"}']
)
def test_unreadable_launch_file_is_recorded_as_125(tmp_path: Path, launch: str) -> None:
    (tmp_path / "launch.json").write_text(launch)
    done = subprocess.run([PY, "-I", "-S", str(SHIM), str(tmp_path)], check=False)
    assert done.returncode == 125
    assert json.loads((tmp_path / "exit.json").read_text())["exit_code"] == 125
    assert log_of(tmp_path).startswith("runyard: cannot read launch.json")


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.text(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            max_leaves=20,
        ),
    )
)
def test_shim_reads_json_as_the_json_module_does(value: dict[str, object]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as file:
        file.write(json.dumps(value, ensure_ascii=False, indent=1))
        file.flush()
        assert read_launch_json(file.name) == value


# -- the launcher ------------------------------------------------------------------------


async def test_shims_are_forked_by_one_launcher_that_ends_with_the_executor(tmp_path: Path) -> None:
    executor = LocalExecutor()
    handles = [executor.launch(tmp_path / f"a{i}", ["sh", "-c", "echo $$"], str(tmp_path), BASE_ENV, None)
               for i in range(3)]
    launcher = executor.launcher.pid
    assert launcher is not None
    for i, handle in enumerate(handles):
        await asyncio.wait_for(executor.wait(handle), 30)
        info = executor.read_exit(tmp_path / f"a{i}")
        assert info is not None and info.exit_code == 0
        # The command's $$ is its own pid, in the group the shim leads; the shim says who
        # it is in shim.pid.
        assert int(log_of(tmp_path / f"a{i}")) == info.pid != handle.pid
        pid, ticks = map(int, (tmp_path / f"a{i}" / "shim.pid").read_text().split())
        assert pid == handle.pid and ticks > 0
    assert {psutil.Process(launcher).ppid()} == {os.getpid()}
    executor.close()
    assert not alive(launcher)


async def test_a_launcher_that_died_is_replaced_and_no_launch_is_lost(tmp_path: Path) -> None:
    executor = LocalExecutor()
    try:
        assert (await run(executor, tmp_path / "before", ["true"])).exit_code == 0
        first = executor.launcher.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await until(lambda: not alive(first))
        # The launch that finds it dead spawns its shim itself; the next starts a new launcher.
        assert (await run(executor, tmp_path / "during", ["sh", "-c", "echo ran"])).exit_code == 0
        assert log_of(tmp_path / "during") == "ran\n"
        assert (await run(executor, tmp_path / "after", ["true"])).exit_code == 0
        assert executor.launcher.pid not in (None, first)
    finally:
        executor.close()
