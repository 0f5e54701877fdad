"""Every endpoint of the OpenAPI document fuzzed by schemathesis — its own runner, every
phase (examples, coverage, fuzzing, stateful), valid and invalid data — against a real
daemon that holds runs in every status: completed with files and snapshots, failed,
cancelled, running, waiting on another, queued. Their ids are supplied to the fuzzer
(a dictionary bound to ``run_id`` and ``job_id``), so paths reach real runs and not only
404s. No answer may be a 5xx, the daemon must log no traceback and still be healthy.

The runs are made by a daemon that starts them; the fuzzing happens after a restart with
``--hold`` (``RUNYARD_HOLD``), which keeps the running run running but starts nothing
new, so no generated command is ever executed. Changes that end runs (cancel, retry,
pause, resume, delete) get runs of their own, so the others keep their status.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runyard.domain.status import RunStatus
from tests.integration.daemon_process import DaemonProcess

pytestmark = pytest.mark.slow
TOKEN = "fuzz-token"
PY = sys.executable
EXAMPLES = Path(__file__).parents[2] / "examples"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
NEVER_ENDING = r"(/stream$|/ws$|/ws/|/shutdown$)"  # streams that never end, and stopping the daemon: tested elsewhere
STATUSES = {status.value for status in RunStatus}
CHANGES = r"^/api/v1/runs/\{run_id\}/(cancel|retry|pause|resume)$"


def wait_until(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("fuzz")
    inventory = base / "gpus.json"
    inventory.write_text('{"gpus": [{"memory_mib": 24000}, {"memory_mib": 24000}]}')
    daemon = DaemonProcess(base / "home", inventory, RUNYARD_TOKEN=TOKEN, RUNYARD_CPU_SLOTS="8")
    made: list[int] = []
    try:
        daemon.start()
        yield (daemon, *runs_in_every_status(daemon, made))
    finally:
        end_the_sleepers(daemon, made)
        daemon.stop()


def end_the_sleepers(daemon: DaemonProcess, made: list[int]) -> None:
    """The runs that sleep are cancelled (a stopped daemon would leave them running)."""
    if daemon.process is None or daemon.process.poll() is not None:
        return
    for run_id in made:
        daemon.client.post(f"/api/v1/runs/{run_id}/cancel")
    wait_until(lambda: all(daemon.run(r).get("status") not in ("running", "preparing") for r in made),
               "the sleepers did not end")


def runs_in_every_status(daemon: DaemonProcess, made: list[int]) -> tuple[dict[str, int], dict[str, int]]:
    """Runs in every status by name, and runs for the changes to end; the daemon restarted held."""
    sleeper = [PY, "-c", "import time; print('ready', flush=True); time.sleep(600)"]
    finishes = [PY, str(EXAMPLES / "progress_train.py"), "--epochs", "2", "--sleep", "0"]
    spec = {"workdir": str(EXAMPLES), "gpus_min": 0}

    def submit(command: list[str], **more: object) -> int:
        made.append(daemon.submit(command=command, **spec, **more))
        return made[-1]

    ids = {"completed": submit(finishes), "failed": submit([PY, "-c", "print('half way'); raise SystemExit(3)"]),
           "cancelled": submit(sleeper), "running": submit(sleeper)}
    ids["waiting"] = submit(["true"], after=[ids["running"]])
    disposable = {"running": submit(sleeper), "completed": submit(finishes),
                  "deleted": submit(finishes), "deleted too": submit(finishes)}
    daemon.wait_all([ids["completed"], ids["failed"], disposable["completed"], disposable["deleted"],
                     disposable["deleted too"]])
    for run_id in (ids["running"], ids["cancelled"], disposable["running"]):
        log = daemon.home / "runs" / str(run_id) / "attempt-1" / "output.log"
        wait_until(lambda log=log: log.exists() and b"ready" in log.read_bytes(), f"run {run_id} did not start")
    daemon.client.post(f"/api/v1/runs/{ids['cancelled']}/cancel").raise_for_status()
    daemon.wait_all([ids["cancelled"]])
    daemon.stop()  # the running attempts stay running, and are re-attached at the next start
    daemon.env["RUNYARD_HOLD"] = "1"
    daemon.start()
    ids["queued"] = submit(["true"])
    statuses = {name: daemon.run(run_id)["status"] for name, run_id in ids.items()}
    assert statuses == {name: name for name in ids}, statuses
    listed = daemon.client.get(f"/api/v1/runs/{ids['completed']}/files").json()["files"]
    assert any(f["path"].startswith("stats/") for f in listed)
    return ids, disposable


def config(path: Path, ids: dict[str, int], disposable: dict[str, int], files: list[str]) -> Path:
    """schemathesis.toml: the token, and dictionaries of what exists for the parameters that
    name it: the runs' ids, their files, a directory to run in."""
    def bind(name: str, probability: float = 0.9) -> str:
        return f'{{ dictionary = "{name}", probability = {probability} }}'

    finished = [ids[s] for s in ("completed", "failed", "cancelled")]
    changed = [disposable["running"], disposable["completed"]]
    deleted = [disposable["deleted"], disposable["deleted too"]]
    path.write_text(f"""
headers = {{ Authorization = "Bearer {TOKEN}" }}
request-timeout = 30

[dictionaries.runs]
values = {sorted(ids.values())}
[dictionaries.finished]
values = {finished}
[dictionaries.changed]
values = {changed}
[dictionaries.deleted]
values = {deleted}
[dictionaries.files]
values = {json.dumps(files)}
[dictionaries.dirs]
values = {json.dumps([str(EXAMPLES)])}

[parameters]
"path.run_id" = {bind("runs")}
"path.job_id" = {bind("runs")}
"path.path" = {bind("files", 0.7)}
"path.name" = {bind("files", 0.3)}
"body.workdir" = {bind("dirs", 0.5)}
"body.runs[*].workdir" = {bind("dirs", 0.5)}

[[operations]]
include-path-regex = '{CHANGES}'
parameters = {{ "path.run_id" = {bind("changed", 1.0)} }}

[[operations]]
include-path = "/api/v1/runs/{{run_id}}"
include-method = "DELETE"
parameters = {{ "path.run_id" = {bind("deleted", 1.0)} }}

[[operations]]
include-path = "/api/v1/training/jobs/{{job_id}}"
include-method = "DELETE"
parameters = {{ "path.job_id" = {bind("deleted", 1.0)} }}

[[operations]]
# A follow streams until its attempt ends: ids of ended runs only (an unknown id is a 404).
include-path = "/api/v1/runs/{{run_id}}/log/follow"
parameters = {{ "path.run_id" = {{ dictionary = "finished", probability = 1.0 }} }}
""")
    return path


@pytest.mark.timeout(900)
def test_no_endpoint_answers_a_server_error(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    process, ids, disposable = daemon
    url = str(process.client.base_url).rstrip("/")
    report = tmp_path / "report.json"
    files = [f["path"] for f in process.client.get(f"/api/v1/runs/{ids['completed']}/files").json()["files"]]
    files += [s["name"] for s in process.client.get(f"/api/v1/runs/{ids['completed']}/snapshots").json()["snapshots"]]
    found = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(config(tmp_path / "schemathesis.toml", ids, disposable, files)),
         "run", f"{url}/openapi.json", "--phases", "examples,coverage,fuzzing,stateful",
         # One worker: two threads of hypothesis parse lambdas at once, and CPython 3.11's ast.parse is
         # not safe for that (SystemError: AST constructor recursion depth mismatch).
         "--checks", "not_a_server_error", "--max-examples", "20", "--seed", "1", "--workers", "1",
         "--exclude-path-regex", NEVER_ENDING, "--generation-database", "none", "--no-color",
         "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    output = found.stdout + found.stderr
    (tmp_path / "schemathesis.out").write_text(output)  # the whole story, beside report.json
    assert found.returncode == 0, output[-6000:]
    ran = json.loads(report.read_text())
    assert {phase: found["status"] for phase, found in ran["phases"].items()} == dict.fromkeys(
        ("examples", "coverage", "fuzzing", "stateful"), "success")
    assert ran["operations"]["tested"] >= 30 and ran["test_cases"]["generated"] >= 1000, ran  # every route, really
    print(output[-2500:])
    assert process.process is not None and process.process.poll() is None, "the daemon died while fuzzed"
    logged = (process.home / "daemon-test.log").read_text()
    assert "Traceback" not in logged, logged[-4000:]


def test_the_daemon_is_healthy_after_the_fuzzing(daemon) -> None:  # type: ignore[no-untyped-def]
    """The fuzzer may have retried, cancelled or deleted any run (its stateful phase follows
    the ids that GET /runs answers): each is still read whole or is gone, never broken; and
    the daemon still stops cleanly."""
    process, ids, disposable = daemon
    assert process.client.get("/api/v1/health").status_code == 200
    listed = process.client.get("/api/v1/runs", params={"limit": 5})
    assert listed.status_code == 200 and listed.json()["total"] > len(ids)
    for run_id in [*ids.values(), *disposable.values()]:
        answer = process.client.get(f"/api/v1/runs/{run_id}")
        assert answer.status_code in (200, 404), answer.text
        if answer.status_code == 200:
            assert answer.json()["status"] in STATUSES
            assert process.client.get(f"/api/v1/runs/{run_id}/events").status_code == 200
    end_the_sleepers(process, [*ids.values(), *disposable.values()])
    assert process.client.post("/api/v1/shutdown").status_code == 202
    assert process.process is not None and process.process.wait(timeout=60) == 0
    assert "Traceback" not in (process.home / "daemon-test.log").read_text()
