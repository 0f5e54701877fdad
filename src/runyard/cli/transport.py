"""HTTP/1.1 to the daemon with the standard library, one kept-alive connection per client.

The CLI talks to one server, its own daemon, mostly over loopback. httpx cost a command
~57 ms to import and ~45 ms to build its TLS context before the first byte (measured
with ``python -X importtime`` and cProfile: two thirds of ``runyard ls``); ``http.client``
is imported with the interpreter's own modules and needs neither, so the CLI keeps it.
The daemon speaks plain HTTP; an ``https://`` URL (a daemon behind a TLS proxy) works
too, building the TLS context only then.

A connection the daemon closed while idle (uvicorn's keep-alive timeout) is seen before
it is reused, as httpcore does it: an idle socket that reads as ready has been closed.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlencode, urlsplit

CHUNK = 64 << 10
Params = Mapping[str, str | int] | Sequence[tuple[str, str | int]]


class TransportError(Exception):
    """The daemon could not be reached or stopped answering mid-way."""


class Timeout(TransportError):
    """The daemon took longer than the client's timeout."""


@dataclass(frozen=True)
class Response:
    """An answer read whole."""

    status_code: int
    headers: Message
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.content)


class StreamedResponse:
    """An answer whose body is read as it comes (``iter_bytes``)."""

    def __init__(self, raw: http.client.HTTPResponse) -> None:
        self._raw = raw
        self.status_code = raw.status
        self.headers: Message = raw.headers

    def iter_bytes(self) -> Iterator[bytes]:
        with _as_transport_errors():
            while chunk := self._raw.read1(CHUNK):
                yield chunk

    def read(self) -> Response:
        with _as_transport_errors():
            return Response(self.status_code, self.headers, self._raw.read())


class Connection:
    """Requests to one base URL with fixed headers, over one reused connection."""

    def __init__(
        self, base_url: str, headers: Mapping[str, str], timeout_s: float, connect_s: float
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"cannot reach {base_url!r}: not an http:// URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._headers = {"User-Agent": "runyard-cli", "Accept-Encoding": "identity", **headers}
        self._timeout_s = timeout_s
        self._connect_s = connect_s
        self._open: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> Response:
        with self.stream(method, path, params=params, json=json) as response:
            return response.read()

    @contextmanager
    def stream(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> Iterator[StreamedResponse]:
        raw = self._send(method, path, params, json)
        try:
            yield StreamedResponse(raw)
        finally:
            if not raw.isclosed() or raw.will_close:  # else read to its end: kept for the next
                raw.close()
                self.close()

    def _send(
        self, method: str, path: str, params: Params | None, body: Any
    ) -> http.client.HTTPResponse:
        target = self._prefix + path
        if params:
            target += "?" + urlencode(params, doseq=True)
        headers = dict(self._headers)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        with _as_transport_errors():
            connection = self._connection()
            try:
                connection.request(method, target, body=payload, headers=headers)
                return connection.getresponse()
            except BaseException:
                self.close()
                raise

    def _connection(self) -> http.client.HTTPConnection:
        if self._open is not None and _closed_by_peer(self._open.sock):
            self.close()
        if self._open is None:
            if self._https:
                connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._connect_s
                )
            else:
                connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._connect_s
                )
            connection.connect()
            assert connection.sock is not None
            connection.sock.settimeout(self._timeout_s)
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._open = connection
        return self._open


def _closed_by_peer(sock: socket.socket | None) -> bool:
    """Whether an idle kept-alive socket was closed by the daemon (it reads as ready)."""
    if sock is None:
        return True
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


@contextmanager
def _as_transport_errors() -> Iterator[None]:
    try:
        yield
    except TimeoutError:
        raise Timeout("timed out") from None
    except (OSError, http.client.HTTPException) as error:
        raise TransportError(str(error) or type(error).__name__) from None
