"""The API's file endpoints, deleting runs and submitting many at once (in-process)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
from urllib.parse import urlsplit

import httpx
import pytest

from runyard.server.app import create_app
from tests.conftest import TOKEN, LiveServer, python, submit, wait_for


@pytest.fixture
async def api(yard):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(yard, TOKEN)),
                                 base_url="http://runyard", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


async def finished_run(yard) -> int:
    run_id = submit(yard, *python("print('PROGRESS: {\"epoch\": 1, \"total_epochs\": 1, \"status\": \"completed\", \"accuracy\": 0.5}')"))
    await wait_for(yard, run_id)
    return run_id


async def test_a_runs_files_are_listed_and_downloaded(api, yard):
    run_id = await finished_run(yard)
    (yard.run_dir(run_id) / "checkpoints").mkdir()
    (yard.run_dir(run_id) / "checkpoints" / "model.pt").write_bytes(b"\x00weights")
    listed = (await api.get(f"/api/v1/runs/{run_id}/files")).json()["files"]
    paths = {f["path"] for f in listed}
    assert {"spec.json", "attempt-1/output.log", "events.jsonl", "checkpoints/model.pt"} <= paths
    log = await api.get(f"/api/v1/runs/{run_id}/files/attempt-1/output.log")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain")
    assert '"accuracy": 0.5' in log.text
    model = await api.get(f"/api/v1/runs/{run_id}/files/checkpoints/model.pt")
    assert model.content == b"\x00weights" and "attachment" in model.headers["content-disposition"]


async def with_links_out(yard) -> int:
    """A finished run with two symlinks that lead out of its folder, to a secret."""
    run_id = await finished_run(yard)
    secret = yard.settings.home / "secret.txt"
    secret.write_text("do not serve")
    (yard.run_dir(run_id) / "stats").mkdir(exist_ok=True)
    os.symlink(secret, yard.run_dir(run_id) / "escape")
    os.symlink(secret, yard.run_dir(run_id) / "stats" / "escape.json")
    return run_id


async def raw_get(server: LiveServer, target: str) -> tuple[int, bytes]:
    """GET with the request target on the wire exactly as written: httpx would remove
    ``..`` segments first (``files/attempt-1/../../1/spec.json`` went out as ``1/1/spec.json``)."""

    def get() -> tuple[int, bytes]:
        url = urlsplit(server.url)
        connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
        try:
            connection.request("GET", target, headers={"Authorization": f"Bearer {server.token}"})
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    return await asyncio.to_thread(get)


OUTSIDE = (422, "path")  # docs/API.md: a path that tries to leave a run's folder


@pytest.mark.parametrize(("path", "expected"), [
    ("../../runyard.db", OUTSIDE), ("..%2F..%2Frunyard.db", OUTSIDE), ("%2E%2E/%2E%2E/runyard.db", OUTSIDE),
    ("%2E%2E%2Fsecret.txt", OUTSIDE), ("attempt-1/../../1/spec.json", OUTSIDE), ("%2Fetc%2Fpasswd", OUTSIDE),
    ("escape", OUTSIDE), ("stats/escape.json", OUTSIDE), ("nothing/here", (404, None)),
])
async def test_no_file_endpoint_leaves_the_runs_folder(live_server, yard, path, expected):
    run_id = await with_links_out(yard)
    status, body = await raw_get(live_server, f"/api/v1/runs/{run_id}/files/{path}")
    assert b"do not serve" not in body
    assert (status, json.loads(body)["field"]) == expected, body


async def test_links_out_of_the_run_are_neither_snapshots_nor_listed(api, yard):
    run_id = await with_links_out(yard)
    snapshot = await api.get(f"/api/v1/runs/{run_id}/snapshots/escape.json")
    assert snapshot.status_code == 422 and "outside" in snapshot.json()["detail"]
    listed = {f["path"] for f in (await api.get(f"/api/v1/runs/{run_id}/files")).json()["files"]}
    assert "escape" not in listed and "stats/escape.json" not in listed


async def test_delete_removes_a_finished_run_with_its_files_and_refuses_a_live_one(api, yard):
    run_id = await finished_run(yard)
    live = submit(yard, *python("import time; time.sleep(30)"))
    await wait_for(yard, live, {"running"})
    refused = await api.delete(f"/api/v1/runs/{live}")
    assert refused.status_code == 409 and "cancel it first" in refused.json()["detail"]
    assert (await api.delete(f"/api/v1/runs/{run_id}")).json() == {"id": run_id, "deleted": True}
    assert not yard.run_dir(run_id).exists()
    assert (await api.get(f"/api/v1/runs/{run_id}")).status_code == 404
    assert (await api.get(f"/api/v1/runs/{run_id}/metrics")).status_code == 404
    assert (await api.delete(f"/api/v1/runs/{run_id}")).status_code == 404
    await api.post(f"/api/v1/runs/{live}/cancel")


async def test_a_run_others_wait_for_cannot_be_deleted(api, yard):
    first = await finished_run(yard)
    blocker = submit(yard, *python("import time; time.sleep(30)"))
    waiting = submit(yard, *python("pass"), after=[blocker], after_any=[first])
    answer = await api.delete(f"/api/v1/runs/{first}")
    assert answer.status_code == 409 and f"run {waiting} waits for run {first}" in answer.json()["detail"]
    for run_id in (waiting, blocker):
        await api.post(f"/api/v1/runs/{run_id}/cancel")


async def test_a_batch_is_submitted_whole_or_not_at_all(api, yard):
    good = {"command": python("pass"), "workdir": str(yard.settings.home)}
    bad = {**good, "workdir": "/no/such/dir"}
    refused = await api.post("/api/v1/runs/batch", json={"runs": [good, bad, good]})
    assert refused.status_code == 422
    assert refused.json()["field"] == "runs.1.workdir" and "runs[1]" in refused.json()["detail"]
    assert (await api.get("/api/v1/runs")).json()["runs"] == []
    made = await api.post("/api/v1/runs/batch", json={"runs": [good, {**good, "name": "b"}], "sweep": "lr-sweep"})
    assert made.status_code == 201
    created = made.json()["runs"]
    assert [r["name"] for r in created] == [None, "b"]
    for run in created:
        assert run["spec"]["sweep"] == "lr-sweep"
        await wait_for(yard, run["id"])
    assert (await api.post("/api/v1/runs/batch", json={"runs": []})).status_code == 422


@pytest.mark.parametrize("path", [
    "0" * 5000,  # longer than the route takes
    "0" * 300,  # one name longer than a file system takes (was a 500: ENAMETOOLONG)
    "/".join(["d" * 200] * 21),  # every name fits, the whole path does not
])
async def test_a_path_no_file_system_could_hold_is_a_clear_4xx(live_server, yard, path):
    run_id = await finished_run(yard)
    for route in (f"files/{path}", f"snapshots/{path}"):
        status, body = await raw_get(live_server, f"/api/v1/runs/{run_id}/{route}")
        assert 400 <= status < 500, (route[:40], status, body[:200])
        answer = json.loads(body)
        assert "Errno" not in answer["detail"] and str(yard.settings.home) not in answer["detail"]
        assert len(answer["detail"]) < 400  # the path is quoted cut, not echoed whole


@pytest.mark.parametrize("where", ["workdir", "swap source"])
async def test_a_spec_path_the_file_system_refuses_is_a_clear_4xx(api, yard, where):
    long = "/" + "0" * 300  # was a 500: ENAMETOOLONG from the existence check
    good = {"command": python("pass"), "workdir": str(yard.settings.home)}
    spec = {**good, "workdir": long} if where == "workdir" else {**good, "swaps": [{"source": long, "target": "x"}]}
    for route, body in (("/api/v1/runs", spec), ("/api/v1/runs/batch", {"runs": [good, spec]})):
        answer = await api.post(route, json=body)
        assert answer.status_code == 422, (route, answer.text[:300])
        assert "File name too long" in answer.json()["detail"] and len(answer.json()["detail"]) < 300
    assert (await api.get("/api/v1/runs")).json()["runs"] == []


@pytest.mark.parametrize("offset", [4611686018427387903, 2**63 - 1])
async def test_offsets_past_the_end_read_nothing_and_beyond_a_file_are_refused(live_server, yard, offset):
    run_id = await finished_run(yard)
    size = (yard.attempt_dir(run_id, 1) / "output.log").stat().st_size
    status, body = await raw_get(live_server, f"/api/v1/runs/{run_id}/log?attempt=1&offset={offset}")
    assert status == 200 and body == b""  # was a 500: EINVAL from the seek
    status, body = await raw_get(live_server, f"/api/v1/runs/{run_id}/log/follow?attempt=1&offset={offset}")
    assert status == 200 and body == b""  # the attempt has ended: the stream ends at once
    status, body = await raw_get(live_server, f"/api/v1/runs/{run_id}/log?attempt=1&offset={size - 3}")
    assert status == 200 and len(body) == 3
    for route in (f"log?offset={2**63}", f"log/follow?offset={2**64}", f"events?after={2**63}",
                  f"log?attempt={10**20}", f"log/follow?attempt={10**20}"):
        status, body = await raw_get(live_server, f"/api/v1/runs/{run_id}/{route}")
        assert status == 422 and json.loads(body)["error"] == "invalid_request", (route, status, body)


async def test_an_unexpected_error_is_an_internal_error_with_an_id_in_the_log(yard, caplog):
    app = create_app(yard, TOKEN)

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise OSError(36, "File name too long", str(yard.settings.home / "secret-path"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://runyard",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = await client.get("/api/v1/boom")
    assert answer.status_code == 500
    detail = answer.json()["detail"]
    assert "secret-path" not in answer.text and "OSError" not in answer.text and "Errno" not in answer.text
    incident = detail.removeprefix("internal error ").split(":")[0]
    assert detail == f"internal error {incident}: see the daemon's log" and len(incident) == 12
    assert any(incident in record.getMessage() and record.exc_info for record in caplog.records)
