"""Live streams against a real uvicorn: WebSocket (websockets) and SSE (httpx-sse)
clients of one run and of the whole queue; late clients, slow clients, the log follow. On
SQLite and on PostgreSQL (``[sqlite]``/``[postgres]``: tests/conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import pytest
import websockets
from httpx_sse import aconnect_sse

from runyard.service import runs
from runyard.service.streams import run_stream
from tests.conftest import LiveServer, python, submit, wait_for

pytestmark = pytest.mark.both_databases

CHATTY = """
import os, sys, time
while not os.path.exists({gate!r}):  # the test's client is connected first
    time.sleep(0.01)
for epoch in range(1, 4):
    for step in range(5):
        print(f'PROGRESS: {{"epoch": {epoch}, "total_epochs": 3, "step": {epoch * 5 + step}, "loss": {1.0 / (epoch * 5 + step):.4f}}}', flush=True)
        print(f'line {epoch}-{step} \\x1b[32mok\\x1b[0m', flush=True)
    time.sleep(0.15)
print('PROGRESS: {"epoch": 3, "total_epochs": 3, "status": "completed", "test_accuracy": 0.9}', flush=True)
"""


def chatty(tmp_path) -> tuple[list[str], Any]:
    """The chatty script's command, and the gate file that lets it start."""
    gate = tmp_path / "gate"
    return python(CHATTY.replace("{gate!r}", repr(str(gate)))), gate


async def ws_messages(server: LiveServer, path: str, gate: Any = None) -> tuple[list[dict[str, Any]], int | None]:
    """Every message of a WebSocket until the server closes it; and the close code. The
    gate file (if any) is created once the first message came."""
    got: list[dict[str, Any]] = []
    async with websockets.connect(f"{server.ws_url}{path}?token={server.token}") as ws:
        try:
            while True:
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
                if gate is not None:
                    gate.touch()
        except websockets.ConnectionClosed:
            pass
        return got, ws.close_code


def log_text(messages: list[dict[str, Any]]) -> str:
    return "".join(m["data"]["text"] for m in messages if m["kind"] == "log")


async def test_a_run_stream_sends_state_then_every_change_then_ends(yard, live_server, tmp_path):
    command, gate = chatty(tmp_path)
    run_id = submit(yard, *command)
    messages, code = await ws_messages(live_server, f"/api/v1/runs/{run_id}/ws", gate)
    kinds = [m["kind"] for m in messages]
    assert kinds[0] == "state" and messages[0]["data"]["id"] == run_id
    assert kinds[-1] == "end" and messages[-1]["data"]["status"] == "completed"
    assert code == 1000
    assert "metrics" in kinds and "run" in kinds
    statuses = [m["data"]["to"] for m in messages if m["kind"] == "status"]
    assert statuses[-1] == "completed"
    # the log: every line the run printed after the stream began, once, in order
    text = log_text(messages)
    lines = [line for line in text.splitlines() if line.startswith("line ")]
    expected = [f"line {e}-{s} \x1b[32mok\x1b[0m" for e in range(1, 4) for s in range(5)]
    assert lines == expected
    offsets = [(m["data"]["offset"], m["data"]["end"]) for m in messages if m["kind"] == "log"]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(offsets))
    # the metric points come as [key, x, value]
    points = [p for m in messages if m["kind"] == "metrics" for p in m["data"]["points"]]
    assert ["train_loss", 19.0, 0.0526] in points
    final = messages[-2]
    assert final["kind"] == "run" and final["data"]["final"]["accuracy"] == 0.9


async def test_a_late_client_gets_the_finished_state_and_the_end(yard, live_server):
    run_id = submit(yard, *python("print('PROGRESS: {\"epoch\": 1, \"acc\": 0.5}')"))
    await wait_for(yard, run_id)
    messages, code = await ws_messages(live_server, f"/api/v1/runs/{run_id}/ws")
    assert [m["kind"] for m in messages] == ["state", "end"]
    state = messages[0]["data"]
    assert state["status"] == "completed" and state["metrics"] == {"acc": 0.5}
    assert state["log"]["size"] > 0 and code == 1000


async def test_an_unknown_run_closes_the_socket_with_4404(live_server):
    messages, code = await ws_messages(live_server, "/api/v1/runs/999/ws")
    assert code == 4404 and messages[0]["kind"] == "error" and "not found" in messages[0]["data"]["detail"]


async def test_a_socket_without_the_token_is_refused(live_server):
    for query in ("", "?token=wrong"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{live_server.ws_url}/api/v1/ws{query}"):
                pass
        assert refused.value.response.status_code == 403


async def test_the_sse_run_stream_matches_the_websocket_one(yard, live_server, tmp_path):
    command, gate = chatty(tmp_path)
    run_id = submit(yard, *command)
    got: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as client:
        url = f"/api/v1/runs/{run_id}/stream?token={live_server.token}"
        async with aconnect_sse(client, "GET", url) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            async for event in source.aiter_sse():
                got.append(json.loads(event.data))
                gate.touch()
    assert got[0]["kind"] == "state" and got[-1]["kind"] == "end"
    assert [line for line in log_text(got).splitlines() if line.startswith("line ")][-1].startswith("line 3-4")
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        missing = await client.get(f"/api/v1/runs/999/stream?token={live_server.token}")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_the_queue_stream_sends_state_then_runs_progress_and_counts(yard, live_server, tmp_path):
    done = submit(yard, *python("pass"))
    await wait_for(yard, done)
    got: list[dict[str, Any]] = []
    async with websockets.connect(f"{live_server.ws_url}/api/v1/ws?token={live_server.token}") as ws:
        got.append(json.loads(await ws.recv()))
        command, gate = chatty(tmp_path)
        gate.touch()
        run_id = submit(yard, *command)
        while not any(m["kind"] == "run" and m["data"]["id"] == run_id and m["data"]["status"] == "completed"
                      for m in got):
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
    state = got[0]["data"]
    assert got[0]["kind"] == "state"
    assert state["counts"]["completed"] == 1 and state["runs"] == []
    assert [g["index"] for g in state["gpus"]["gpus"]] == [0, 1]
    seen = [m["data"]["status"] for m in got if m["kind"] == "run" and m["data"]["id"] == run_id]
    assert seen[0] in ("queued", "running") and seen[-1] == "completed"
    progress = [m for m in got if m["kind"] == "progress" and m["run_id"] == run_id]
    assert progress and progress[-1]["data"]["metrics"]["train_loss"] > 0
    counts = [m["data"] for m in got if m["kind"] == "counts"]
    assert counts[-1]["completed"] == 2


async def test_a_slow_client_is_told_what_it_missed_and_slows_no_one(yard):
    yard.bus.maxsize = 5  # a small buffer, so that a client that does not read falls behind
    script = "import time\nfor i in range(40):\n    print(f'PROGRESS: {{\"step\": {i}, \"loss\": 1}}', flush=True)\n    time.sleep(0.03)\n"
    run_id = submit(yard, *python(script))
    slow, fast = run_stream(yard, run_id), run_stream(yard, run_id)
    assert json.loads(await anext(slow))["kind"] == "state"
    fast_got = [json.loads(text) async for text in fast]  # reads everything while the slow one sleeps
    slow_got = [json.loads(text) async for text in slow]
    assert fast_got[-1]["kind"] == "end" and not any(m["kind"] == "missed" for m in fast_got)
    missed = [i for i, m in enumerate(slow_got) if m["kind"] == "missed"]
    assert missed and slow_got[missed[0]]["data"]["count"] > 0
    assert slow_got[missed[0] + 1]["kind"] == "state"  # then where the run stands now
    assert slow_got[-1]["kind"] == "end"


async def test_follow_a_log_gets_every_byte_until_the_attempt_ends(yard, live_server):
    script = "import time\nfor i in range(30):\n    print(f'row {i}', flush=True)\n    time.sleep(0.02)\n"
    run_id = submit(yard, *python(script))
    headers = {"Authorization": f"Bearer {live_server.token}"}
    async with (httpx.AsyncClient(base_url=live_server.url, timeout=20, headers=headers) as client,
                client.stream("GET", f"/api/v1/runs/{run_id}/log/follow") as answer):
        body = b"".join([chunk async for chunk in answer.aiter_bytes()])
    assert body.decode().splitlines() == [f"row {i}" for i in range(30)]
    assert runs.get_run(yard, run_id)["status"] == "completed"
