"""Every request and stream needs the daemon's token: as a bearer header (the CLI), a
``?token=`` query (a first browser visit, WebSocket clients) or the session cookie that
such a visit sets. Checked in one ASGI middleware in front of everything the app serves,
the API docs and the web UI included, so a new route cannot forget it.

The cookie proves less than the token: a browser sends it from any page of the same host,
whatever its port (``http://127.0.0.1:9999`` is the same *site* as ``:8420``). So a request
that only the cookie authenticates must also show that runyard's own page sent it
(:class:`BrowserCheck`, after Jupyter Server: a Host allow-list, an Origin check, and a
header that a cross-site form cannot set)."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "runyard_token"
UNAUTHORIZED = "missing or wrong token: the CLI reads it from $RUNYARD_HOME/server.json; a browser opens the URL with ?token=… once"
MARKER = "x-runyard-request"  # the web UI's client sends `X-Runyard-Request: 1`
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
USE_THE_TOKEN = "or send the token (Authorization: Bearer) instead"


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


@dataclass(frozen=True)
class Refusal:
    """Why a cookie-authenticated request is refused (403), and the header to blame."""

    field: str
    detail: str


class BrowserCheck:
    """What a request authenticated only by the session cookie must show, against DNS
    rebinding and requests forged by other pages of the same site:

    - a ``Host`` the daemon answers to: the address the connection reached with its port,
      ``localhost``/``127.0.0.1``/``[::1]`` with that port when that address is a loopback
      one, or one of ``allowed_hosts`` (``name`` for any port, or ``name:port``);
    - no ``Origin`` but the daemon's own (``http://<Host>``) or a trusted one, and a
      WebSocket handshake must show one (browsers always do);
    - to change anything (any method but GET, HEAD, OPTIONS): that origin (``Origin``, else
      ``Referer``) and ``X-Runyard-Request: 1``, which a form cannot send and another
      origin's script cannot without a CORS preflight that only trusted origins pass.

    The daemon's address comes from the ASGI scope's ``server`` (the local end of the
    connection, as the server read it from the socket): right for a port chosen at bind
    time and, on a wildcard bind, the one interface the browser actually reached."""

    def __init__(self, allowed_hosts: Iterable[str] = (), trusted_origins: Iterable[str] = ()) -> None:
        self.allowed_hosts = frozenset(h.strip().lower() for h in allowed_hosts if h.strip())
        self.trusted_origins = frozenset(o.strip().lower().rstrip("/") for o in trusted_origins if o.strip())

    def refusal(self, scope: Scope, headers: Mapping[str, str]) -> Refusal | None:
        host = headers.get("host", "").lower()
        secure = scope.get("scheme") in ("https", "wss")
        if not self._host_allowed(host, scope.get("server"), 443 if secure else 80):
            return Refusal("host", f"Host {host!r} is not one this daemon answers browsers on (RUNYARD_ALLOWED_HOSTS): "
                                   "add it there, or open the daemon by its address")
        allowed = {f"{'https' if secure else 'http'}://{host}", *self.trusted_origins}
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in allowed:
            return _foreign("origin", origin)
        if scope["type"] == "websocket":  # a browser always sends Origin with one
            return None if origin else Refusal(
                "origin", f"a WebSocket handshake with the session cookie must show its Origin, {USE_THE_TOKEN}")
        method = scope["method"]
        if method in SAFE_METHODS:
            return None
        if origin is None:
            referer = headers.get("referer", "")
            if not referer:
                return Refusal("origin", f"a {method} with the session cookie must show where it comes from "
                                         f"(Origin or Referer), {USE_THE_TOKEN}")
            if _origin_of(referer) not in allowed:
                return _foreign("referer", referer)
        if headers.get(MARKER) != "1":
            return Refusal(MARKER, f"a {method} with the session cookie must carry the header X-Runyard-Request: 1 "
                                   f"(the web UI sends it), {USE_THE_TOKEN}")
        return None

    def _host_allowed(self, host: str, server: tuple[str, int | None] | None, default_port: int) -> bool:
        name, _, port = host.rpartition(":")
        if not name or "]" in port:  # no port, or the colon was inside an IPv6 literal
            name, port = host, ""
        if not name:
            return False
        if host in self.allowed_hosts or name in self.allowed_hosts:
            return True
        if server is None or (port or str(default_port)) != str(server[1] or default_port):
            return False
        return name in _names_of(server[0])


def _names_of(address: str) -> set[str]:
    """The Host names that mean ``address``: its literal, and the loopback names for a loopback one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an IP address (an in-process test's base_url): the name itself
        return {address.lower()}
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reached over IPv4
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    return {literal, *LOOPBACK_NAMES} if ip.is_loopback else {literal}


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _foreign(field: str, value: str) -> Refusal:
    page = _origin_of(value) if field == "referer" else value
    return Refusal(field, f"the page {page!r} is not runyard's own (RUNYARD_CORS_ORIGINS) but sent its session cookie: "
                          f"add it there if it is yours, {USE_THE_TOKEN}")


class TokenAuth:
    """Refuses HTTP requests without the token with a 401 JSON body and WebSocket
    handshakes with close code 4401; a request authenticated by ``?token=`` gets the
    session cookie (HttpOnly, SameSite=Strict), so the web UI's later requests need no token.
    One that only the cookie authenticates must pass :class:`BrowserCheck` too (403, 4403)."""

    def __init__(self, app: ASGIApp, token: str, allowed_hosts: Iterable[str] = (),
                 trusted_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.expected = token.encode()
        self.browsers = BrowserCheck(allowed_hosts, trusted_origins)

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
        refusal = self.browsers.refusal(scope, headers) if source == "cookie" else None
        if refusal is not None:
            await self._forbid(scope, send, refusal)
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

    @staticmethod
    async def _forbid(scope: Scope, send: Send, refusal: Refusal) -> None:
        if scope["type"] == "websocket":  # a close reason holds at most 123 bytes
            reason = refusal.detail.encode()[:123].decode(errors="ignore")
            await send({"type": "websocket.close", "code": 4403, "reason": reason})
            return
        body = orjson.dumps({"error": "forbidden", "detail": refusal.detail, "field": refusal.field})
        await send({"type": "http.response.start", "status": 403, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
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
