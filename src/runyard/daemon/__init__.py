"""``runyard serve``: the daemon — the API under uvicorn and the yard's loops on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import gc
import json
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from runyard.errors import RunyardError
from runyard.settings import Settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _bind(host: str, port: int, fallback: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # a keep-alive response (headers, then body: two writes) waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        if error.errno != errno.EADDRINUSE or not fallback:
            sock.close()
            raise RunyardError(f"cannot listen on {host}:{port}: {error.strerror} (pick another with --port)") from None
        sock.bind((host, 0))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _lock_home(home: Path) -> int:
    """One daemon per RUNYARD_HOME: two would start the same queued run twice."""
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunyardError(f"a runyard daemon is already running for {home} (`runyard shutdown` stops it)") from None
    return fd


def _write_server_file(settings: Settings, url: str, token: str) -> None:
    path = settings.server_file
    tmp = path.with_name(".server.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "pid": os.getpid(), "token": token}, f)
    os.replace(tmp, path)


def serve(settings: Settings, *, port_fallback: bool = False) -> None:
    """Run the daemon in the foreground until it is shut down (SIGINT, SIGTERM, the API)."""
    if settings.host not in LOOPBACK and not settings.token:
        raise RunyardError(
            f"refusing to listen on {settings.host} without a token: set RUNYARD_TOKEN "
            "(e.g. `export RUNYARD_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`)"
        )
    lock = _lock_home(settings.home)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_serve(settings, port_fallback))
    finally:
        os.close(lock)


async def _serve(settings: Settings, port_fallback: bool) -> None:
    import uvicorn

    from runyard.daemon.yard import Yard
    from runyard.server.app import create_app

    token = settings.token or secrets.token_urlsafe(32)
    sock = _bind(settings.host, settings.port, port_fallback)
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    yard = Yard(settings)
    await yard.start()
    app = create_app(yard, token)
    # What start-up loaded stays for the daemon's life: moved out of the collector's sight,
    # a full collection (every ~20 API requests) no longer walks it (it cost ~80 ms a time).
    gc.collect()
    gc.freeze()
    # WebSocket compression off: a message is encoded once for every client, but deflate
    # would run once per client (100 followers of a chatty run: ~0.2 of a core).
    server = _server_leaving_signals(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                    ws_per_message_deflate=False))

    def request_exit() -> None:
        server.should_exit = True

    yard.on_shutdown.append(request_exit)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        _write_server_file(settings, url, token)
        log.info("runyard daemon listening on %s (home %s)", url, settings.home)

    announcer = asyncio.create_task(announce())
    with _stop_on_signals(server):
        try:
            await server.serve(sockets=[sock])
        finally:
            announcer.cancel()
            await yard.stop()
            try:
                if json.loads(settings.server_file.read_text()).get("pid") == os.getpid():
                    settings.server_file.unlink()
            except (OSError, ValueError):
                pass


def _server_leaving_signals(config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn's server, but its serving does not touch the signals: uvicorn would re-raise a
    SIGINT or SIGTERM once serving ends, and that would cancel the daemon's clean-up
    (``yard.stop``) midway or kill the process before it. ``_stop_on_signals`` handles them
    for the whole of serving and clean-up instead."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server(config)


@contextlib.contextmanager
def _stop_on_signals(server: uvicorn.Server) -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM ask the server to stop; the clean-up after it runs to the
    end, and a second signal while it does changes nothing. The process then exits 0."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
