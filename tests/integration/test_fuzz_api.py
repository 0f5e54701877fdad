"""Every endpoint of the OpenAPI document fuzzed with schemathesis against a real daemon
(``runyard serve --hold``: it accepts the generated runs but starts none, so no generated
command is ever executed): no answer is a 5xx, and the daemon is still healthy afterwards."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.slow
TOKEN = "fuzz-token"
EXAMPLES = int(os.environ.get("RUNYARD_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("fuzz") / "home"
    home.mkdir()
    inventory = home.parent / "gpus.json"
    inventory.write_text('{"gpus": [{"memory_mib": 24000}, {"memory_mib": 24000}]}')
    env = {**os.environ, "RUNYARD_HOME": str(home), "RUNYARD_PORT": "0", "RUNYARD_TOKEN": TOKEN,
           "RUNYARD_HOLD": "1", "RUNYARD_GPU_INVENTORY": str(inventory)}
    log = (home.parent / "daemon.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "runyard", "serve"], env=env,
                               stdout=subprocess.DEVNULL, stderr=log)
    server_file = home / "server.json"
    deadline = time.monotonic() + 30
    while not server_file.exists():
        assert process.poll() is None, (home.parent / "daemon.log").read_text()
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.05)
    import json

    url = json.loads(server_file.read_text())["url"]
    # A few real runs (held, never started) so that ids 1..3 exist for the fuzzed paths.
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for name in ("a", "b", "c"):
            client.post("/api/v1/runs", json={"command": ["true"], "workdir": str(home), "name": name}).raise_for_status()
    yield url, process
    process.terminate()
    process.wait(10)
    log.close()
    errors = [line for line in (home.parent / "daemon.log").read_text().splitlines() if "Traceback" in line]
    assert not errors, "the daemon logged a traceback while fuzzed"


@pytest.fixture(scope="module")
def api_schema(daemon):
    url, _ = daemon
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})
    # Streams never end on their own and shutdown stops the daemon: tested elsewhere.
    return schema.exclude(path_regex=r"(/stream$|/log/follow$|/shutdown$)")


def test_no_endpoint_answers_a_server_error(api_schema, daemon):
    """Each operation in turn, with hypothesis driving schemathesis's strategy for it
    (schemathesis's pytest plugin is not used: it does not work with this pytest)."""
    url, process = daemon
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25
    calls = 0
    for operation, mode in itertools.product(operations, GenerationMode):  # valid data, then invalid

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                                   checks=[not_a_server_error], timeout=30)

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it can be invalid
        assert process.poll() is None, f"the daemon died while fuzzing {operation.label}"
    assert calls >= len(operations) * min(EXAMPLES, 5)  # every operation was really called
    print(f"{calls} fuzzed requests over {len(operations)} operations")


def test_the_daemon_is_healthy_after_the_fuzzing(daemon):
    url, process = daemon
    answer = httpx.get(f"{url}/api/v1/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and process.poll() is None
