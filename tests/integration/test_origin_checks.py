"""Requests that other pages of the same machine can make with runyard's session cookie
(a browser sends it from http://127.0.0.1:<any port>), against a real uvicorn, with the
headers such a page would send: every state-changing route refuses them, as do the streams
and a foreign Host, while runyard's own page and anyone with the token get through."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from runyard.daemon.yard import Yard
from runyard.server.app import create_app
from runyard.service import runs
from tests.conftest import (
    TOKEN,
    DeclaredGpus,
    LiveServer,
    make_settings,
    python,
    stop_everything,
    submit,
    wait_for,
)
from tests.integration.test_api import websocket_first_answer

COOKIE = {"Cookie": f"runyard_token={TOKEN}"}
FOREIGN = "http://127.0.0.1:9999"  # another page on the same host: same site, other origin
CONFIGURED = "http://localhost:5173"  # the UI's dev server, named in RUNYARD_CORS_ORIGINS
OWN_PAGE = {"X-Runyard-Request": "1"}

# What another page can send with the cookie: a form (urlencoded; multipart is alike), a
# text/plain fetch (no preflight), either without Origin or Referer, a sandboxed page
# (Origin: null), a foreign origin that somehow added the header, our origin without it.
ATTACKS = {
    "form": {"Origin": FOREIGN, "Content-Type": "application/x-www-form-urlencoded"},
    "text/plain": {"Origin": FOREIGN, "Content-Type": "text/plain"},
    "no origin, no referer": {"Content-Type": "application/x-www-form-urlencoded"},
    "foreign referer": {"Referer": f"{FOREIGN}/attack.html", "Content-Type": "text/plain"},
    "sandboxed (Origin: null)": {"Origin": "null", "Content-Type": "text/plain"},
    "foreign origin with the header": {"Origin": FOREIGN, **OWN_PAGE, "Content-Type": "text/plain"},
    "own origin without the header": {"Origin": "{own}", "Content-Type": "text/plain"},
}
ROUTES = {
    "cancel": ("POST", "/runs/{id}/cancel"), "retry": ("POST", "/runs/{id}/retry"),
    "pause": ("POST", "/runs/{id}/pause"), "resume": ("POST", "/runs/{id}/resume"),
    "reingest": ("POST", "/runs/{id}/reingest"), "snapshots": ("POST", "/runs/{id}/snapshots"),
    "shutdown": ("POST", "/shutdown"), "submit": ("POST", "/runs"), "delete": ("DELETE", "/runs/{id}"),
    "training job": ("POST", "/training/jobs"), "activate model": ("PATCH", "/training/models/1/activate"),
}


@pytest.fixture
async def yard(tmp_path: Path, gpus: DeclaredGpus) -> AsyncIterator[Yard]:
    """The shared fixture's daemon core, with a dev-server origin and a host name configured."""
    core = Yard(make_settings(tmp_path, gpus, cors_origins=CONFIGURED, allowed_hosts="runyard.lab.example"))
    await core.start()
    yield core
    await stop_everything(core)


@pytest.fixture
async def running(yard: Yard, tmp_path: Path) -> int:
    run_id = submit(yard, *python("import time; time.sleep(60)"), workdir=tmp_path)
    await wait_for(yard, run_id, {"running"})
    return run_id


def client(server: LiveServer, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{server.url}/api/v1", headers=headers, timeout=10)


@pytest.mark.parametrize("route", ROUTES)
async def test_a_state_change_with_only_the_cookie_is_refused_from_another_page(yard, live_server, running, route):
    method, path = ROUTES[route]
    spec = json.dumps({"command": ["touch", "/tmp/runyard-pwned"], "workdir": "/tmp", "gpus_min": 0})
    async with client(live_server, **COOKIE) as api:
        for attack, headers in ATTACKS.items():
            headers = {k: v.replace("{own}", live_server.url) for k, v in headers.items()}
            answer = await api.request(method, path.format(id=running), headers=headers, content=spec)
            assert answer.status_code == 403, (attack, answer.text)
            body = answer.json()
            assert body["error"] == "forbidden" and body["field"] in ("origin", "referer", "x-runyard-request")
            assert "\n" not in body["detail"] and "token" in body["detail"], (attack, body)
    assert runs.get_run(yard, running)["status"] == "running"
    async with client(live_server, Authorization=f"Bearer {TOKEN}") as api:
        assert (await api.get("/runs")).json()["total"] == 1  # nothing submitted; shutdown never ran


@pytest.mark.parametrize("origin", ["{own}", CONFIGURED])
async def test_runyards_own_page_cancels_with_the_cookie(yard, live_server, running, origin):
    headers = {**COOKIE, **OWN_PAGE, "Origin": origin.replace("{own}", live_server.url)}
    async with client(live_server, **headers) as api:
        answer = await api.post(f"/runs/{running}/cancel")
    assert answer.status_code == 200, answer.text
    await wait_for(yard, running, {"cancelled"})


async def test_a_referer_stands_in_for_a_missing_origin(yard, live_server, running):
    async with client(live_server, **COOKIE, **OWN_PAGE, Referer=f"{live_server.url}/runs/{running}") as api:
        assert (await api.post(f"/runs/{running}/pause")).status_code == 200


@pytest.mark.parametrize("how", ["bearer", "query"])
async def test_the_token_works_from_any_page_and_any_host(yard, live_server, running, how):
    headers = {**ATTACKS["form"], "Host": "evil.example"}
    query = ""
    if how == "bearer":
        headers["Authorization"] = f"Bearer {TOKEN}"
    else:
        query = f"?token={TOKEN}"
    async with client(live_server, **headers) as api:
        answer = await api.post(f"/runs/{running}/cancel{query}", content="a=1")
    assert answer.status_code == 200, answer.text
    await wait_for(yard, running, {"cancelled"})


async def test_reading_with_the_cookie_works_but_not_for_a_foreign_origin(live_server, running):
    async with client(live_server, **COOKIE) as api:
        assert (await api.get(f"/runs/{running}")).status_code == 200
        foreign = await api.get(f"/runs/{running}", headers={"Origin": FOREIGN})
    assert foreign.status_code == 403 and FOREIGN in foreign.json()["detail"]


@pytest.mark.parametrize(("host", "allowed"), [
    ("{bound}", True), ("localhost:{port}", True), ("[::1]:{port}", True), ("runyard.lab.example", True),
    ("runyard.lab.example:8000", True), ("evil.example", False), ("evil.example:{port}", False),
    ("localhost:9999", False), ("127.0.0.1", False), ("", False),
])
async def test_a_cookie_needs_a_host_the_daemon_answers_to(live_server, host, allowed):
    port = live_server.url.rsplit(":", 1)[1]
    host = host.format(bound=live_server.url.removeprefix("http://"), port=port)
    async with client(live_server, **COOKIE) as api:
        answer = await api.get("/runs", headers={"Host": host})
    if allowed:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 403 and answer.json()["field"] == "host"
        assert "RUNYARD_ALLOWED_HOSTS" in answer.json()["detail"]


async def test_a_host_from_allowed_hosts_makes_its_own_origin(live_server, running):
    headers = {**COOKIE, **OWN_PAGE, "Host": "runyard.lab.example", "Origin": "http://runyard.lab.example"}
    async with client(live_server, **headers) as api:
        assert (await api.post(f"/runs/{running}/pause")).status_code == 200


@pytest.mark.parametrize("origin", [FOREIGN, "null", None])
async def test_a_websocket_with_the_cookie_from_another_page_is_refused(live_server, origin):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{live_server.ws_url}/api/v1/ws", origin=origin, additional_headers=COOKIE):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["{own}", CONFIGURED])
async def test_a_websocket_with_the_cookie_from_runyards_page_streams(live_server, origin):
    origin = origin.replace("{own}", live_server.url)
    async with websockets.connect(f"{live_server.ws_url}/api/v1/ws", origin=origin, additional_headers=COOKIE) as ws:
        assert json.loads(await ws.recv())["kind"] == "state"


@pytest.mark.parametrize(("headers", "field"), [
    ([(b"origin", FOREIGN.encode()), (b"host", b"runyard")], "origin"),
    ([(b"origin", b"http://evil.example"), (b"host", b"evil.example")], "host"),
])
async def test_the_refused_handshake_closes_with_4403(yard, headers, field):
    app = create_app(yard, TOKEN)
    first = await websocket_first_answer(app, "/api/v1/ws", [(b"cookie", COOKIE["Cookie"].encode()), *headers])
    assert first["type"] == "websocket.close" and first["code"] == 4403
    assert ("RUNYARD_ALLOWED_HOSTS" if field == "host" else "RUNYARD_CORS_ORIGINS") in first["reason"]


@pytest.mark.parametrize(("origin", "status"), [(FOREIGN, 403), ("{own}", 200), (None, 200)])
async def test_an_sse_stream_with_the_cookie_needs_runyards_origin(live_server, origin, status):
    headers = dict(COOKIE) if origin is None else {**COOKIE, "Origin": origin.replace("{own}", live_server.url)}
    async with client(live_server, **headers) as api, api.stream("GET", "/stream") as answer:
        assert answer.status_code == status
        if status == 200:
            assert answer.headers["content-type"].startswith("text/event-stream")
