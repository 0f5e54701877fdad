"""The web UI: the single-page app built from ``ui/`` into ``server/static/`` (``make ui``).

``/`` and every page path of the app (``/runs/42``, ``/compare``, …: any GET outside
``/api`` that is not a file) answer ``index.html``, which is never cached, so a new build
is picked up on the next load; the content-hashed files under ``/assets/`` are cached for a
year. Only files that resolve inside the static folder are served. When the UI is not
built, ``/`` answers a short page saying how to build it. The token check is the app's
middleware (auth.py), as for every other route.

Mount this router last: its catch-all must not shadow anything, and it never matches
``/api/…``, so unknown API paths keep their JSON 404.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSET_CACHE = "public, max-age=31536000, immutable"  # file names carry a content hash
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>runyard</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>runyard</h1>
<p>The daemon is running, but the web UI is not built: run <code>make ui</code>
(Node 20 or newer) in runyard's source folder, then reload this page.</p>
<p>Everything else works without it: the CLI (<code>runyard</code>) and the HTTP API
(<a href="/docs">/docs</a>).</p>
</body></html>
"""


class PagePathConvertor(Convertor[str]):
    """A path of the app's pages: anything but ``api`` and what lies under it."""

    regex = r"(?!api(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("page", PagePathConvertor())


def ui_router(static: Path) -> APIRouter:
    """The UI's routes over a built static folder (tests pass their own)."""
    router = APIRouter(include_in_schema=False)
    root = static.resolve()

    @router.api_route("/assets/{name:path}", methods=["GET", "HEAD"])
    async def asset(name: str) -> FileResponse:
        path = inside(root / "assets", name)
        return FileResponse(path, headers={"Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff"})

    @router.api_route("/{page:page}", methods=["GET", "HEAD"])
    async def page(page: str, request: Request) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
        last = page.rsplit("/", 1)[-1]
        if "." in last and page != "index.html":  # a file name: the file itself, or a 404 (never the app's HTML for a missing .js)
            return FileResponse(inside(root, page), headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
        html = index.read_bytes()
        return Response(html, media_type="text/html; charset=utf-8", headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": content_policy(index, index.stat().st_mtime_ns, request.headers.get("host", "")),
            "Referrer-Policy": "no-referrer",  # a first visit's URL carries ?token=
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        })

    return router


def inside(folder: Path, name: str) -> Path:
    """The file ``name`` under ``folder``, or a 404: nothing outside it (``..``, absolute
    paths, symlinks that lead out), nothing that is not a plain file."""
    base = folder.resolve()
    if "\x00" in name:
        raise HTTPException(404)
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise HTTPException(404)
    return path


@lru_cache(maxsize=8)
def _inline_script_hashes(index: Path, mtime_ns: int) -> tuple[str, ...]:
    """The CSP hashes of index.html's inline scripts (the theme set before first paint)."""
    del mtime_ns  # part of the cache key only: a rebuilt index.html is read again
    scripts = re.findall(rb"<script>(.*?)</script>", index.read_bytes(), re.DOTALL)
    return tuple(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts)


def content_policy(index: Path, mtime_ns: int, host: str) -> str:
    """What the page may load: its own scripts only (no inline handler ever runs, whatever
    a run's name or log holds), its own API and streams, inline styles (the charts set them)."""
    scripts = " ".join(("'self'", *_inline_script_hashes(index, mtime_ns)))
    sockets = f" ws://{host} wss://{host}" if re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", host) else ""
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:; connect-src 'self'{sockets}; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"
    )


router = ui_router(STATIC)
