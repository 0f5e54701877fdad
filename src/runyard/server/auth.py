"""Every request and stream needs the daemon's token: as a bearer header (the CLI), a
``?token=`` query (a first browser visit, WebSocket clients) or the session cookie that
such a visit sets. Checked in one ASGI middleware in front of everything the app serves,
the API docs and the web UI included, so a new route cannot forget it."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "runyard_token"
UNAUTHORIZED = "missing or wrong token: the CLI reads it from $RUNYARD_HOME/server.json; a browser opens the URL with ?token=… once"


def token_from(headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]) -> tuple[str | None, str]:
    """The token a request carries (headers: lower-case names), and where it came from."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip(), "header"
    if "token" in query:
        return query["token"], "query"
    if COOKIE in cookies:
        return cookies[COOKIE], "cookie"
    return None, "none"


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is the same as none
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


class TokenAuth:
    """Refuses HTTP requests without the token with a 401 JSON body and WebSocket
    handshakes with close code 4401; a request authenticated by ``?token=`` gets the
    session cookie (HttpOnly, SameSite=Strict), so the web UI's later requests need no token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        given, source = token_from(headers, query, _cookies(headers.get("cookie", "")))
        if given is None or not secrets.compare_digest(given.encode("utf-8", "replace"), self.expected):
            await self._refuse(scope, send)
            return
        if source != "query" or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={given}; HttpOnly; SameSite=Strict; Path=/".encode("latin-1", "replace")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "missing or wrong token"})
            return
        body = orjson.dumps({"error": "unauthorized", "detail": UNAUTHORIZED, "field": None})
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b"Bearer"),
        ]})
        await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with a 413 JSON body, whether the
    size is announced (Content-Length) or only seen while reading a chunked body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._too_large(send)
                return
        seen = 0
        started = refused = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not started:
                    # Answer now; the app sees the client gone and what it sends is dropped.
                    refused = True
                    await self._too_large(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not refused:
                raise

    async def _too_large(self, send: Send) -> None:
        detail = f"the request body is over {self.limit} bytes (RUNYARD_MAX_BODY_BYTES)"
        body = orjson.dumps({"error": "too_large", "detail": detail, "field": None})
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
