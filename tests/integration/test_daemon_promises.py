"""What the daemon promises about itself (ARCHITECTURE.md §4, §7): no open address without a
token, a fresh token at every start unless one is set, a private server.json, and a stop
(`runyard shutdown`, Ctrl-C) that leaves running attempts running, re-attached next time."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DeclaredGpus
from tests.integration.daemon_process import DaemonProcess
from tests.integration.test_recovery_paths import events, gone, start_waiter

pytestmark = pytest.mark.slow
RUNYARD = str(Path(sys.executable).with_name("runyard"))


@pytest.fixture(autouse=True)
def no_token_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNYARD_TOKEN", raising=False)


@pytest.fixture
def daemon_of(tmp_path: Path, gpus: DeclaredGpus) -> Iterator[Callable[..., DaemonProcess]]:
    """Daemons of the test's home, each stopped at the end whatever the test did."""
    made: list[DaemonProcess] = []

    def make(**env: str) -> DaemonProcess:
        made.append(DaemonProcess(tmp_path / "home", gpus.path, **env))
        return made[-1]

    yield make
    (tmp_path / "end").touch()  # a run a failed test left behind ends on its own
    for daemon in made:
        if daemon.process is not None:
            daemon.stop()


def test_serving_an_open_address_without_a_token_is_refused(tmp_path, daemon_of):
    refused = subprocess.run([RUNYARD, "serve", "--host", "0.0.0.0"], env=daemon_of().env,
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0
    assert len(refused.stderr.splitlines()) == 1 and "without a token" in refused.stderr
    assert "RUNYARD_TOKEN" in refused.stderr and not (tmp_path / "home" / "server.json").exists()


@pytest.mark.parametrize("fixed", [None, "a-token-of-my-own"])
def test_server_json_is_private_and_has_a_new_token_at_every_start_unless_one_is_set(daemon_of, fixed):
    daemon = daemon_of(**({"RUNYARD_TOKEN": fixed} if fixed else {}))
    server_file = daemon.home / "server.json"
    tokens = []
    for _ in range(2):
        daemon.start()
        assert stat.S_IMODE(server_file.stat().st_mode) == 0o600
        tokens.append(json.loads(server_file.read_text())["token"])
        daemon.stop()
    daemon.start()
    with_first = httpx.get(daemon.client.base_url.join("/api/v1/runs"), headers={"Authorization": f"Bearer {tokens[0]}"})
    if fixed:
        assert tokens == [fixed, fixed] and with_first.status_code == 200
    else:
        assert tokens[0] != tokens[1] and min(map(len, tokens)) >= 32
        assert with_first.status_code == 401  # the last start's token opens nothing


def stop_by_cli(daemon: DaemonProcess) -> None:
    stopped = subprocess.run([RUNYARD, "shutdown"], env=daemon.env, capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0 and "running attempts go on" in stopped.stdout, stopped.stderr


def stop_by_ctrl_c(daemon: DaemonProcess) -> None:
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGINT)  # what `make run` passes on at Ctrl-C (scripts/run.sh)


@pytest.mark.parametrize("stop", [stop_by_cli, stop_by_ctrl_c], ids=["runyard shutdown", "SIGINT"])
def test_stopping_the_daemon_leaves_a_running_attempt_running_and_reattached(tmp_path, daemon_of, stop):
    daemon = daemon_of()
    daemon.start()
    run_id, shim = start_waiter(daemon, tmp_path)
    stop(daemon)
    assert daemon.process is not None
    daemon.process.wait(timeout=30)
    daemon.client.close()
    command = int((daemon.home / "runs" / str(run_id) / "attempt-1" / "child.pid").read_text())
    assert not gone(shim) and not gone(command)
    daemon.start()
    assert events(daemon, run_id, "reattached") == [{"pid": shim}]
    assert daemon.run(run_id)["status"] == "running"
    (tmp_path / "end").touch()
    (run,) = daemon.wait_all([run_id])
    assert (run["status"], len(run["attempts"])) == ("completed", 1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_daemon_cleanly(daemon_of, signum):
    """Ctrl-C or a service manager's SIGTERM: the clean-up runs to its end (no traceback, the
    server file removed, exit 0), and a second signal during it changes nothing."""
    daemon = daemon_of()
    daemon.start()
    assert daemon.process is not None
    daemon.process.send_signal(signum)
    daemon.process.send_signal(signum)
    assert daemon.process.wait(timeout=30) == 0
    assert not (daemon.home / "server.json").exists()
    assert "Traceback" not in (daemon.home / "daemon-test.log").read_text()
