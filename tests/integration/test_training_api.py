"""The annotation tool's training-job API over runyard runs: REST in-process (httpx's ASGI
transport), the WebSocket against a live uvicorn, with real training processes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from runyard.domain.status import RunStatus
from runyard.server.app import create_app
from runyard.service import training
from runyard.service.training import JOB_STATUS, EpochTracker, JobStatus
from tests.conftest import python, submit, wait_for

TOKEN = "test-token"
JOBS = "/api/v1/training/jobs"

# Two reports in epoch 1 (steps 10, 20), an evaluation report that ends epoch 2, and a
# completed report for epoch 3; prints the config it was given first.
TRAIN = """
import json, os, time
print("config", os.environ["RUNYARD_CONFIG"], flush=True)
def report(**fields):
    print("PROGRESS: " + json.dumps({"total_epochs": 3, "status": "training", **fields}), flush=True)
    time.sleep(0.1)
report(epoch=1, step=10, loss=0.9)
report(epoch=1, step=20, loss=0.8)
report(epoch=2, step=30, loss=0.6)
report(epoch=2, step=40, test_loss=0.7)
report(epoch=3, step=50, loss=0.4, status="completed")
"""


@pytest.fixture
async def api(yard):
    app = create_app(yard, TOKEN)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://runyard",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def live(live_server):
    """A real uvicorn serving the app; yields the base of the job WebSocket URLs."""
    return f"{live_server.ws_url}/api/v1/training/ws"


def job_body(tmp_path, **fields: Any) -> dict[str, Any]:
    return {"task_type": "classification", "command": python(TRAIN), "workdir": str(tmp_path),
            "gpus": 0, **fields}


async def create(api, tmp_path, **fields: Any) -> dict[str, Any]:
    answer = await api.post(JOBS, json=job_body(tmp_path, **fields))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def finished(api, job_id: int) -> dict[str, Any]:
    await wait_for(api.app.state.ctx, job_id)
    return (await api.get(f"{JOBS}/{job_id}")).json()


async def read_until_closed(ws: ClientConnection, timeout: float = 30) -> list[dict[str, Any]]:
    messages = []
    async with asyncio.timeout(timeout):
        try:
            async for text in ws:
                messages.append(json.loads(text))
        except ConnectionClosed:
            pass
    return messages


# ---- status mapping ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("run_status", "job_status"),
    [("queued", "pending"), ("waiting", "pending"), ("preparing", "preparing"), ("running", "training"),
     ("paused", "training"), ("completed", "completed"), ("failed", "failed"), ("lost", "failed"),
     ("cancelled", "cancelled")],
)
def test_every_run_status_maps_to_one_job_status(run_status, job_status):
    assert JOB_STATUS[RunStatus(run_status)] is JobStatus(job_status)


def test_the_mapping_covers_every_run_status():
    assert JOB_STATUS.keys() == set(RunStatus)


# ---- jobs over REST --------------------------------------------------------------------
async def test_a_job_runs_with_its_config_and_shows_its_results(api, tmp_path):
    job = await create(api, tmp_path, name="cats", config={"lr": 0.1, "layers": [2, 3]})
    assert job["status"] in ("pending", "training") and job["task_type"] == "classification"
    assert job["model_id"] is None and job["run_url"] == f"/api/v1/runs/{job['id']}"
    done = await finished(api, job["id"])
    assert done["status"] == "completed" and done["error_message"] is None and not done["paused"]
    assert (done["progress"], done["current_epoch"], done["total_epochs"]) == (1.0, 3, 3)
    assert done["config"] == {"lr": 0.1, "layers": [2, 3]} and done["name"] == "cats"
    assert done["metrics"]["train_loss"] == 0.4 and done["metrics"]["test_loss"] == 0.7
    assert done["final_metrics"]["train_loss"] == 0.4
    assert done["completed_at"] is not None and done["started_at"] is not None
    run = (await api.get(done["run_url"])).json()
    assert run["tags"] == ["task_type:classification"]
    assert "config {\"lr\":0.1,\"layers\":[2,3]}" in (await api.get(f"{done['run_url']}/log")).text


async def test_a_shell_command_that_fails_says_why(api, tmp_path):
    job = await create(api, tmp_path, command="echo 'CUDA out of memory' >&2; exit 1", name=None)
    done = await finished(api, job["id"])
    assert done["status"] == "failed" and done["error_message"] == "exit code 1 (oom)"
    assert done["name"] == "classification training" and done["progress"] is None


async def test_jobs_are_listed_by_status_and_task_type_in_pages(api, tmp_path):
    yard = api.app.state.ctx
    ok = (await create(api, tmp_path, command="true"))["id"]
    bad = (await create(api, tmp_path, command="exit 3"))["id"]
    detection = (await create(api, tmp_path, command="true", task_type="detection"))["id"]
    plain = submit(yard, "true", gpus_min=0)  # a run, not a job
    for run_id in (ok, bad, detection, plain):
        await wait_for(yard, run_id)

    async def ids(**params: Any) -> list[int]:
        answer = await api.get(JOBS, params=params)
        assert answer.status_code == 200, answer.text
        return [job["id"] for job in answer.json()]

    assert await ids() == [detection, bad, ok]
    assert await ids(status="completed") == [detection, ok]
    assert await ids(status=["failed", "cancelled"]) == [bad]
    assert await ids(task_type="classification") == [bad, ok]
    assert await ids(task_type="classification", status="completed") == [ok]
    assert await ids(status="training") == []
    assert await ids(skip=1, limit=1) == [bad]
    assert (await api.get(JOBS, params={"limit": 1})).headers["X-Total-Count"] == "3"


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"task_type": None}, "task_type", "Field required"),
        ({"workdir": None}, "workdir", "Field required"),
        ({"task_type": ""}, "task_type", "at least 1"),
        ({"task_type": "t" * 101}, "task_type", "at most 100"),
        ({"workdir": "relative"}, "workdir", "absolute"),
        ({"workdir": "/no/such/dir"}, "workdir", "does not exist"),
        ({"command": []}, "command", "argv list"),
        ({"command": ""}, "command", "argv list"),
        ({"command": ["python", 3]}, "command", "argv list"),
        ({"command": ["echo", "a\x00b"]}, "command", "NUL byte"),
        ({"gpus": 3}, "gpus", "has 2 GPUs"),
        ({"gpus": 2**40}, "gpus", "less than or equal"),
        ({"priority": 2**70}, "priority", "less than or equal"),
        ({"retries": -1}, "retries", "greater than or equal"),
        ({"config": [1, 2]}, "config", "valid dictionary"),
        ({"config": {"blob": "x" * (70 << 10)}}, "config", "more than 65536"),
        ({"dataset": 7}, "dataset", "Extra inputs"),
    ],
)
async def test_a_bad_job_gets_a_clear_422(api, tmp_path, fields, field, words):
    body = {k: v for k, v in job_body(tmp_path, **fields).items() if v is not None}
    answer = await api.post(JOBS, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and words in answer.json()["detail"]


async def test_a_config_that_is_not_json_is_a_422(api, tmp_path):
    body = json.dumps(job_body(tmp_path, config={"lr": float("nan")}))  # Python writes NaN
    answer = await api.post(JOBS, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["field"] == "config"


@pytest.mark.parametrize(
    "params", [{"status": "running"}, {"limit": 0}, {"limit": 5000}, {"skip": -1}, {"task_type": ""}]
)
async def test_bad_list_filters_are_a_422(api, params):
    answer = await api.get(JOBS, params=params)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"


async def test_unknown_jobs_are_a_404_and_plain_runs_are_not_jobs(api):
    plain = submit(api.app.state.ctx, "true", gpus_min=0)
    for method in ("GET", "DELETE"):
        answer = await api.request(method, f"{JOBS}/4242")
        assert answer.status_code == 404
        assert answer.json() == {"error": "not_found", "detail": "training job 4242 not found", "field": None}
        answer = await api.request(method, f"{JOBS}/{plain}")
        assert answer.status_code == 404 and "not a training job" in answer.json()["detail"]
    assert (await api.get(f"{JOBS}/{2**70}")).status_code == 422


async def test_delete_cancels_an_unfinished_job_then_removes_it_with_its_files(api, tmp_path, yard):
    job = await create(api, tmp_path, command=python("import time; time.sleep(60)"))
    answer = await api.delete(f"{JOBS}/{job['id']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled" and answer.json()["deleted"] is True
    assert not yard.run_dir(job["id"]).exists()
    assert (await api.get(f"{JOBS}/{job['id']}")).status_code == 404
    assert (await api.delete(f"{JOBS}/{job['id']}")).status_code == 404


async def test_there_are_no_models_yet(api):
    listed = await api.get("/api/v1/training/models", params={"task_type": "detection", "is_active": "true"})
    assert listed.status_code == 200 and listed.json() == []
    answer = await api.patch("/api/v1/training/models/7/activate")
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found", "detail": "model 7 not found: runyard has no model registry yet",
                             "field": None}
    described = api.app.openapi()["paths"]["/api/v1/training/models"]["get"]["description"]
    assert "no model registry yet" in described


# ---- the WebSocket ---------------------------------------------------------------------
async def test_the_websocket_follows_a_job_to_its_end(api, live, gpus, tmp_path):
    yard = api.app.state.ctx
    gpus.set(*({"processes": [{"pid": 1, "used_mib": 900}]} for _ in range(2)))  # busy: the job waits
    yard.read_gpus()
    job = await create(api, tmp_path, gpus=1)
    async with connect(f"{live}/{job['id']}?token={TOKEN}") as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "status_change" and (first["status"], first["previous_status"]) == ("pending", None)
        gpus.free(2)
        messages = await read_until_closed(ws)
        assert ws.close_code == 1000
    kinds = [(m["type"], m.get("status") or m.get("epoch")) for m in messages]
    assert kinds == [("status_change", "training"), ("epoch_complete", 1), ("epoch_complete", 2),
                     ("epoch_complete", 3), ("status_change", "completed"), ("training_complete", "completed")]
    assert messages[0]["previous_status"] == "pending" and messages[4]["previous_status"] == "training"
    epochs = {m["epoch"]: m for m in messages if m["type"] == "epoch_complete"}
    assert epochs[1]["metrics"] == {"train_loss": 0.8} and epochs[1]["total_epochs"] == 3
    assert epochs[2]["metrics"] == {"train_loss": 0.6, "test_loss": 0.7}
    assert epochs[3]["metrics"] == {"train_loss": 0.4}
    assert messages[-1]["final_metrics"]["train_loss"] == 0.4 and messages[-1]["error_message"] is None


async def test_a_late_connection_gets_the_state_and_the_end_at_once(api, live, tmp_path):
    job = await create(api, tmp_path, command="exit 2")
    await wait_for(api.app.state.ctx, job["id"])
    async with connect(f"{live}/{job['id']}?token={TOKEN}") as ws:
        messages = await read_until_closed(ws, timeout=5)
        assert ws.close_code == 1000
    assert [(m["type"], m["status"]) for m in messages] == [("status_change", "failed"),
                                                           ("training_complete", "failed")]
    assert messages[1]["error_message"] == "exit code 2" and messages[1]["final_metrics"] is None


@pytest.mark.parametrize("job_id", ["4242", "abc", str(2**70)])
async def test_an_unknown_job_closes_the_socket_with_4404(live, job_id):
    async with connect(f"{live}/{job_id}?token={TOKEN}") as ws:
        messages = await read_until_closed(ws, timeout=5)
        assert ws.close_code == 4404
    assert [m["type"] for m in messages] == ["error"] and "not found" in messages[0]["detail"]


async def test_missed_messages_send_the_state_again(api, gpus, tmp_path):
    yard = api.app.state.ctx
    gpus.set(*({"processes": [{"pid": 1, "used_mib": 900}]} for _ in range(2)))
    yard.read_gpus()
    job = await create(api, tmp_path, gpus=1)
    yard.bus.maxsize = 2
    stream = training.follow_job(yard, job["id"])
    assert (await anext(stream))["status"] == "pending"
    for x in range(5):  # more than the queue holds: the oldest are dropped
        yard.bus.publish({"run_id": job["id"], "attempt": 1, "time": 0.0, "kind": "metrics",
                          "data": {"points": [["loss", x, 1.0]]}})
    again = await anext(stream)
    assert (again["type"], again["status"], again["previous_status"]) == ("status_change", "pending", "pending")
    await stream.aclose()


def test_an_epoch_is_complete_when_a_later_one_starts_or_it_was_evaluated():
    tracker = EpochTracker(attempt=1)
    tracker.on_report({"epoch": 1, "x": 1, "total_epochs": 4, "metrics": {"train_loss": 1.0}})
    assert tracker.complete(7) == []
    tracker.on_report({"epoch": 1, "x": 1, "metrics": {"test_loss": 2.0}, "has_eval": True})
    tracker.on_points([["train_loss", 0.5, 0.95], ["train_loss", 1, 0.9]])  # 0.5: before epoch 1
    assert tracker.complete(7) == [{"type": "epoch_complete", "job_id": 7, "epoch": 1, "total_epochs": 4,
                                    "metrics": {"train_loss": 0.9, "test_loss": 2.0}}]
    tracker.on_report({"epoch": 1, "x": 1, "metrics": {}, "has_eval": True})  # announced already
    tracker.on_report({"epoch": 3, "x": 3, "metrics": {}})
    assert [m["epoch"] for m in tracker.complete(7)] == []
    tracker.on_report({"epoch": 4, "x": 4, "metrics": {}})
    assert [m["epoch"] for m in tracker.complete(7)] == [3]
    assert [m["epoch"] for m in tracker.complete(7, everything=True)] == [4]


def test_an_epoch_closed_by_the_next_waits_for_its_last_points():
    """The next epoch's report (an event) can overtake the throttled points of the epoch's
    last lines; the epoch is announced once the points up to the next report were seen."""
    tracker = EpochTracker(attempt=1)
    tracker.on_report({"epoch": 1, "x": 10, "metrics": {"train_loss": 0.9}})
    tracker.on_points([["train_loss", 10, 0.9]])
    tracker.on_report({"epoch": 2, "x": 30, "metrics": {"train_loss": 0.6}})
    assert tracker.complete(7) == []  # step 20's point is still on its way
    tracker.on_points([["train_loss", 20, 0.8], ["train_loss", 30, 0.6]])
    assert [(m["epoch"], m["metrics"]) for m in tracker.complete(7)] == [(1, {"train_loss": 0.8})]
    tracker.on_report({"epoch": 3, "x": 50, "metrics": {"train_loss": 0.4}})
    assert tracker.complete(7) == []
    assert [m["epoch"] for m in tracker.complete(7, ended=True)] == [2]  # a run that ended sends what is done


async def test_a_client_that_leaves_ends_its_subscription(api, live, tmp_path):
    yard = api.app.state.ctx
    job = await create(api, tmp_path, command=python("import time; time.sleep(60)"))
    async with connect(f"{live}/{job['id']}?token={TOKEN}") as ws:
        assert json.loads(await ws.recv())["type"] == "status_change"
        assert yard.bus.subscribers(job["id"]) == 1
    async with asyncio.timeout(5):
        while yard.bus.subscribers(job["id"]):
            await asyncio.sleep(0.01)
