"""How the daemon serves the built UI (server/routes/ui.py), over a static folder made
here: no browser needed, so these run everywhere."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from runyard.server.routes.ui import ASSET_CACHE, ui_router

INDEX = b'<!doctype html><script>document.documentElement.dataset.theme="dark"</script><div id="root"></div>'


def client_for(static: Path) -> httpx.AsyncClient:
    app = FastAPI()

    @app.get("/api/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(ui_router(static))  # last, as create_app mounts it
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://runyard.test")


@pytest.fixture
def static(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_bytes(INDEX)
    (folder / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    return folder


@pytest.mark.parametrize("path", ["/", "/runs/42", "/compare?runs=1,2", "/submit", "/gpus", "/index.html"])
async def test_every_page_path_answers_the_app_uncached(static: Path, path: str) -> None:
    async with client_for(static) as client:
        answer = await client.get(path)
    assert answer.status_code == 200 and answer.content == INDEX
    assert answer.headers["cache-control"] == "no-store"
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy.split("style-src")[0]


async def test_hashed_assets_are_cached_for_a_year(static: Path) -> None:
    async with client_for(static) as client:
        answer = await client.get("/assets/index-abc123.js")
    assert answer.status_code == 200 and answer.text == "console.log(1)"
    assert answer.headers["cache-control"] == ASSET_CACHE
    assert "javascript" in answer.headers["content-type"]


@pytest.mark.parametrize("path", [
    "/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt",
    "/..%2fsecret.txt", "/assets/missing.js", "/favicon.ico", "/assets/", "/assets/%00.js",
])
async def test_nothing_outside_the_static_folder_and_no_html_for_a_missing_file(static: Path, path: str) -> None:
    async with client_for(static) as client:
        answer = await client.get(path)
    assert answer.status_code == 404
    assert b"outside" not in answer.content and answer.content != INDEX


async def test_a_symlink_out_of_the_folder_is_not_followed(static: Path) -> None:
    (static / "assets" / "link.js").symlink_to(static.parent / "secret.txt")
    async with client_for(static) as client:
        assert (await client.get("/assets/link.js")).status_code == 404


async def test_the_api_keeps_its_own_paths(static: Path) -> None:
    async with client_for(static) as client:
        assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
        assert (await client.get("/api/v1/nope")).status_code == 404
        assert (await client.get("/api")).status_code == 404
        assert (await client.post("/api/v1/nope")).status_code == 404  # not a 405 from the catch-all


async def test_an_unbuilt_ui_says_how_to_build_it(tmp_path: Path) -> None:
    async with client_for(tmp_path / "never-built") as client:
        answer = await client.get("/runs/3")
    assert answer.status_code == 503
    assert "make ui" in answer.text and "not built" in answer.text



async def test_the_daemon_serves_the_ui_after_its_api(yard) -> None:  # type: ignore[no-untyped-def]
    from runyard.server.app import create_app

    app = create_app(yard, "token")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://runyard.test", headers={"Authorization": "Bearer token"}) as client:
        page = await client.get("/runs/1")
        assert page.status_code in (200, 503) and page.headers["content-type"].startswith("text/html")  # 503: not built
        assert (await client.get("/api/v1/health")).json()["status"] == "ok"
        missing = await client.get("/api/v1/nope")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert (await client.get("/", headers={"Authorization": ""})).status_code == 401  # the token check covers the UI
