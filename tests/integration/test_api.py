"""The REST API in-process (httpx's ASGI transport): auth, clear 4xx errors, logs."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from fastapi.routing import APIWebSocketRoute

from runyard.server.app import create_app
from tests.conftest import python, wait_for

TOKEN = "test-token"


@pytest.fixture
async def api(yard):
    app = create_app(yard, TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://runyard", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def websocket_first_answer(app, path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    """What an ASGI app answers first to a WebSocket handshake on ``path``."""
    sent: list[dict] = []
    path, _, query = path.partition("?")
    scope = {"type": "websocket", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": list(headers), "scheme": "ws", "server": ("runyard", 80), "client": ("127.0.0.1", 1),
             "root_path": "", "subprotocols": [], "asgi": {"version": "3.0"}}
    queue = [{"type": "websocket.connect"}]

    async def receive() -> dict:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(3600)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict) -> None:
        sent.append(message)

    task = asyncio.create_task(app(scope, receive, send))
    while not sent and not task.done():
        await asyncio.sleep(0.01)
    task.cancel()
    return sent[0]


def route_table(routes, prefix: str = ""):
    """(path, route) of every route, also inside included routers (which FastAPI keeps
    as lazy wrappers holding the original router and the include prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from route_table(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "path"):
            yield prefix + route.path, route


async def test_every_route_refuses_a_request_without_the_token(api):
    """Walks the app's route table, so that a new route cannot forget the token: every
    HTTP route (the API docs too) answers 401, every WebSocket refuses the handshake."""
    routes = list(route_table(api.app.routes))
    http = [(m, path) for path, r in routes for m in (getattr(r, "methods", None) or ()) if m != "HEAD"]
    sockets = [path for path, r in routes if isinstance(r, APIWebSocketRoute)]
    assert len(http) >= 25 and len(sockets) >= 2
    assert {"/docs", "/openapi.json"} <= {path for _, path in http}
    for method, template in http:
        path = re.sub(r"\{[^}]+\}", "1", template)
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "", "Cookie": "runyard_token=wrong"}):
            answer = await api.request(method, path, headers=headers)
            assert answer.status_code == 401, (method, path)
            assert answer.json()["error"] == "unauthorized"
    for template in sockets:
        path = re.sub(r"\{[^}]+\}", "1", template)
        for query in ("", "?token=wrong"):
            first = await websocket_first_answer(api.app, path + query)
            assert first == {"type": "websocket.close", "code": 4401, "reason": "missing or wrong token"}, path
        first = await websocket_first_answer(api.app, path + f"?token={TOKEN}")
        assert first["type"] == "websocket.accept", path


async def test_a_visit_with_the_token_sets_a_session_cookie_that_works_alone(api):
    first = await api.get(f"/api/v1/health?token={TOKEN}", headers={"Authorization": ""})
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"runyard_token={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    api.cookies.clear()
    again = await api.get("/api/v1/runs", headers={"Authorization": "", "Cookie": f"runyard_token={TOKEN}"})
    assert again.status_code == 200 and "set-cookie" not in again.headers
    docs = await api.get("/openapi.json")
    assert docs.status_code == 200 and "/api/v1/runs/{run_id}/stream" in docs.json()["paths"]


async def test_no_cors_unless_configured(api, yard):
    preflight = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    answer = await api.options("/api/v1/runs", headers=preflight)
    assert "access-control-allow-origin" not in answer.headers
    yard.settings.cors_origins = "http://elsewhere.example"
    allowed = create_app(yard, TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=allowed), base_url="http://runyard") as client:
        answer = await client.options("/api/v1/runs", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "http://elsewhere.example"
        refused = await client.options("/api/v1/runs", headers={**preflight, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in refused.headers


async def test_an_oversized_body_is_refused_with_413(api, yard):
    big = {"command": ["true"], "workdir": "/tmp", "env": {"X": "y" * (yard.settings.max_body_bytes + 10)}}
    answer = await api.post("/api/v1/runs", json=big)
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"

    async def chunked():  # no Content-Length: counted while read
        yield b'{"command": ["true"], "workdir": "/tmp", "name": "'
        for _ in range(yard.settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    answer = await api.post("/api/v1/runs", content=chunked(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert (await api.get("/api/v1/runs")).json()["runs"] == []  # nothing was submitted


async def test_the_token_works_as_a_query_parameter(api):
    answer = await api.get(f"/api/v1/health?token={TOKEN}", headers={"Authorization": ""})
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"command": ["true"], "workdir": "/no/such/dir"}, "workdir", "does not exist"),
        ({"command": ["true"], "workdir": "relative"}, "workdir", "absolute"),
        ({"command": [], "workdir": "/tmp"}, "command", "at least 1"),
        ({"command": ["true"], "workdir": "/tmp", "gpus_min": 3}, "gpus", "has 2 GPUs"),
        (
            {"command": ["true"], "workdir": "/tmp", "gpus_min": 3, "gpus_max": 1},
            None,
            "below gpus_min",
        ),
        (
            {"command": ["true"], "workdir": "/tmp", "gpu_ids": [7]},
            "gpu_ids",
            "GPU 7 does not exist",
        ),
        ({"command": ["true"], "workdir": "/tmp", "after": [999]}, "after", "999 not found"),
        ({"command": ["true"], "workdir": "/tmp", "gpu_mem_mib": 10**7}, "gpu_mem", "largest GPU"),
        (
            {
                "command": ["true"],
                "workdir": "/tmp",
                "swaps": [{"source": "/no/file", "target": "x"}],
            },
            "swaps",
            "does not exist",
        ),
        (
            {
                "command": ["true"],
                "workdir": "/tmp",
                "swaps": [{"source": "/etc/hostname", "target": "../x"}],
            },
            "swaps",
            "",
        ),
        (
            {"command": ["true"], "workdir": "/tmp", "metric_patterns": ["(unclosed"]},
            "metric_patterns",
            "not a valid",
        ),
        ({"command": ["true"], "workdir": "/tmp", "surprise": 1}, "surprise", "Extra inputs"),
        ({"command": ["echo", "a\x00b"], "workdir": "/tmp"}, "command", "NUL byte"),
        ({"command": ["true"], "workdir": "/tmp", "env": {"A=B": "x"}}, "env", "not a usable environment variable"),
        ({"command": ["true"], "workdir": "/tmp", "priority": 2**70}, "priority", "less than or equal"),
        ({"command": ["true"], "workdir": "/tmp", "after": [2**70]}, "after.0", "less than or equal"),
        ({"command": ["true"], "workdir": "/tmp", "tags": ["t" * 201]}, "tags.0", "at most 200"),
    ],
)
async def test_invalid_specs_get_a_clear_422(api, body, field, words):
    answer = await api.post("/api/v1/runs", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert words in error["detail"]
    if field:
        assert error["field"] == field
    assert "Traceback" not in answer.text


async def test_unknown_run_is_a_404(api):
    for method, path in [
        ("GET", "/api/v1/runs/4242"),
        ("POST", "/api/v1/runs/4242/cancel"),
        ("GET", "/api/v1/runs/4242/log"),
    ]:
        answer = await api.request(method, path)
        assert answer.status_code == 404
        assert answer.json() == {
            "error": "not_found",
            "detail": "run 4242 not found (see `runyard ls --all`)",
            "field": None,
        }


@pytest.mark.parametrize("run_id", ["99999999999999999999999", "-1", "abc"])
async def test_run_ids_the_database_cannot_hold_are_a_422(api, run_id):
    answer = await api.get(f"/api/v1/runs/{run_id}")
    assert answer.status_code == 422 and answer.json()["field"] == "run_id"


async def test_conflicts_are_409(api):
    run_id = (
        await api.post("/api/v1/runs", json={"command": ["true"], "workdir": "/tmp", "gpus_min": 0})
    ).json()["id"]
    await wait_for(api.app.state.ctx, run_id)
    for verb in ("cancel", "pause", "resume"):
        answer = await api.post(f"/api/v1/runs/{run_id}/{verb}")
        assert answer.status_code == 409, verb


async def test_submit_show_list_and_read_the_log(api):
    body = {
        "command": python("print('line one'); print('line two')"),
        "workdir": "/tmp",
        "gpus_min": 0,
        "tags": ["demo"],
        "name": "hello",
    }
    created = await api.post("/api/v1/runs", json=body)
    assert created.status_code == 201
    run_id = created.json()["id"]
    run = await wait_for(api.app.state.ctx, run_id)
    keys = {
        "id",
        "name",
        "status",
        "reason",
        "exit_code",
        "attempts",
        "gpus",
        "command",
        "workdir",
        "priority",
        "created_at",
        "started_at",
        "finished_at",
    }
    assert keys <= run.keys()
    assert {
        "number",
        "gpus",
        "pid",
        "started_at",
        "finished_at",
        "exit_code",
        "signal",
        "reason",
    } <= run["attempts"][0].keys()
    listed = (await api.get("/api/v1/runs", params={"tag": "demo"})).json()["runs"]
    assert [r["id"] for r in listed] == [run_id]
    assert (await api.get("/api/v1/runs", params={"status": "failed"})).json()["runs"] == []
    log = await api.get(f"/api/v1/runs/{run_id}/log", params={"offset": 5})
    assert log.text == "one\nline two\n"
    assert (
        log.headers["X-Runyard-Next-Offset"] == "18"
        and log.headers["X-Runyard-Attempt-Finished"] == "1"
    )


async def test_gpus_show_what_occupies_each(api, gpus):
    gpus.set({"processes": [{"pid": 99, "used_mib": 2000}]}, {})
    yard = api.app.state.ctx
    yard.read_gpus()
    answer = (await api.get("/api/v1/gpus")).json()
    assert answer["source"] == "declared"
    assert [g["external_busy"] for g in answer["gpus"]] == [True, False]
    assert answer["gpus"][0]["processes"] == [{"pid": 99, "used_mib": 2000, "run_id": None}]
