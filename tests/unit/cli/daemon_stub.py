"""A real HTTP server on loopback standing in for the daemon's API: each test says how it
answers (an httpx ``Request`` in, an httpx ``Response`` out), and the CLI's client talks to
it over a socket as it talks to the daemon."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import httpx
import pytest

from runyard.cli.client import DaemonClient, ServerInfo

Answer = Callable[[httpx.Request], httpx.Response]
DaemonAnswering = Callable[..., DaemonClient]


def _handler(answer: Answer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = httpx.Request(
                self.command,
                f"http://{self.headers['Host']}{self.path}",
                headers=dict(self.headers.items()),
                content=body,
            )
            response = answer(request)
            content = response.read()
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def daemon_answering() -> Iterator[DaemonAnswering]:
    """``daemon_answering(answer, token="t")``: a client of a server answering with ``answer``."""
    servers: list[ThreadingHTTPServer] = []
    clients: list[DaemonClient] = []

    def start(answer: Answer, token: str = "t") -> DaemonClient:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer))
        server.daemon_threads = True
        servers.append(server)
        Thread(target=server.serve_forever, daemon=True).start()
        client = DaemonClient(ServerInfo(f"http://127.0.0.1:{server.server_port}", 1, token))
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.shutdown()
        server.server_close()
