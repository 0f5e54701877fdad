"""How the CLI reaches the daemon: ``server.json``, autostart, and the HTTP calls.

The daemon of a ``$RUNYARD_HOME`` announces itself in ``server.json`` (url, pid, token).
A command that needs it and finds none answering starts one in the background, as
task-spooler does, under an exclusive lock so that two racing commands start only one.
Every transport failure becomes :class:`DaemonUnavailable` and every 4xx/5xx answer an
:class:`ApiError`, so that the top of the CLI prints one line, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runyard.cli.errors import ApiError
from runyard.cli.transport import Connection, Response, StreamedResponse, Timeout, TransportError
from runyard.errors import DaemonUnavailable

API = "/api/v1"
LIST_PAGE = 1000  # runs per request when the CLI reads a long list (the API's most)
HEALTH_TIMEOUT_S = 2.0


class DaemonHome(Protocol):
    """What finding or starting a home's daemon reads of the settings: ``Settings`` has it,
    and so has the CLI's lighter ``HomeSettings``."""

    @property
    def home(self) -> Path: ...

    @property
    def server_file(self) -> Path: ...

    @property
    def daemon_log(self) -> Path: ...

    @property
    def autostart_timeout_s(self) -> float: ...


@dataclass(frozen=True)
class ServerInfo:
    """The content of ``server.json``: where the daemon listens and the token it wants."""

    url: str
    pid: int
    token: str


@dataclass(frozen=True)
class LogChunk:
    """Bytes of one attempt's log from an offset, and whether more can still come."""

    data: bytes
    attempt: int
    next_offset: int
    finished: bool


def read_server_info(path: Path) -> ServerInfo | None:
    """``server.json`` if it is there and whole; a half-written or odd file counts as none."""
    try:
        data = json.loads(path.read_text())
        return ServerInfo(
            url=str(data["url"]).rstrip("/"),
            pid=int(data["pid"]),
            token=str(data.get("token") or ""),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _connection(info: ServerInfo, timeout_s: float) -> Connection:
    return Connection(
        info.url,
        {"Authorization": f"Bearer {info.token}"},
        timeout_s=timeout_s,
        connect_s=min(timeout_s, 5.0),
    )  # no proxy from HTTP_PROXY ever stands between the CLI and its daemon


def is_healthy(info: ServerInfo, home: Path) -> bool:
    """Whether the daemon in ``info`` answers, and is this home's (not a stranger on a reused port)."""
    http = _connection(info, HEALTH_TIMEOUT_S)
    try:
        response = http.request("GET", f"{API}/health")
        body = response.json()
    except (TransportError, ValueError):
        return False
    finally:
        http.close()
    if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "ok":
        return False
    their_home = body.get("home")
    return their_home is None or Path(str(their_home)).resolve() == home


def find_daemon(settings: DaemonHome) -> ServerInfo | None:
    """The healthy daemon of this home, or None."""
    info = read_server_info(settings.server_file)
    return info if info is not None and is_healthy(info, settings.home) else None


def connect(settings: DaemonHome, *, autostart: bool = True) -> DaemonClient:
    """A client of this home's daemon, starting one in the background when none answers."""
    info = find_daemon(settings)
    if info is None:
        if not autostart:
            raise DaemonUnavailable(f"no runyard daemon is running for {settings.home}")
        info = start_daemon(settings)
    return DaemonClient(info)


@contextmanager
def _autostart_lock(settings: DaemonHome) -> Iterator[None]:
    import fcntl

    deadline = time.monotonic() + settings.autostart_timeout_s + 5
    with open(settings.home / "autostart.lock", "a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DaemonUnavailable(
                        f"another runyard has been starting the daemon for too long ({lock.name} is held)"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start_daemon(settings: DaemonHome) -> ServerInfo:
    """Start ``runyard serve --background`` detached, and wait until it answers."""
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DaemonUnavailable(
            f"cannot create RUNYARD_HOME {settings.home}: {error.strerror}"
        ) from None
    with _autostart_lock(settings):
        # Whoever held the lock before us may have started one already.
        info = find_daemon(settings)
        if info is not None:
            return info
        with open(settings.daemon_log, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "runyard", "serve", "--background"],
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=os.environ.copy(),
            )
        deadline = time.monotonic() + settings.autostart_timeout_s
        while time.monotonic() < deadline:
            info = read_server_info(settings.server_file)
            if info is not None and is_healthy(info, settings.home):
                print(f"runyard: started the daemon (pid {info.pid}, {info.url})", file=sys.stderr)
                return info
            code = process.poll()
            if code is not None:
                raise DaemonUnavailable(
                    f"the daemon stopped at start (exit {code}): {_last_line(settings.daemon_log)}"
                    f" (see {settings.daemon_log})"
                )
            time.sleep(0.05)
        raise DaemonUnavailable(
            f"the daemon did not answer within {settings.autostart_timeout_s:g} s"
            f" (see {settings.daemon_log})"
        )


def _last_line(path: Path) -> str:
    try:
        lines = [
            line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()
        ]
    except OSError:
        return "no log"
    return lines[-1] if lines else "no output"


def _error_from(response: Response) -> ApiError:
    """The one-line error a 4xx/5xx answer stands for."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error, field = "http_error", None
    detail = f"the daemon answered HTTP {response.status_code}"
    if isinstance(body, dict):
        error = str(body.get("error") or error)
        field = body.get("field")
        raw = body.get("detail")
        if isinstance(raw, str) and raw.strip():
            detail = raw
        elif isinstance(raw, list) and raw:  # FastAPI's own validation errors
            first = raw[0] if isinstance(raw[0], dict) else {}
            where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
            detail = (
                f"{where}: {first.get('msg', raw[0])}" if where else str(first.get("msg", raw[0]))
            )
    elif response.text.strip():
        detail = f"{detail}: {response.text.strip()[:200]}"
    if response.status_code == 401 and error == "http_error":
        detail = "the daemon refused the token in server.json (is another daemon on its port?)"
    return ApiError(response.status_code, error, " ".join(detail.split()), field)


class DaemonClient:
    """The daemon's HTTP API as methods returning its JSON."""

    def __init__(self, info: ServerInfo, *, timeout_s: float = 30.0):
        self.info = info
        self._http = _connection(info, timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        with self._unavailable_on_transport_errors(method, path):
            response = self._http.request(method, f"{API}{path}", **kwargs)
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[StreamedResponse]:
        """:meth:`request` with the body left unread, for answers too big to hold
        (``response.iter_bytes()``); a transport failure while reading it is
        :class:`DaemonUnavailable` too."""
        with (self._unavailable_on_transport_errors(method, path),
              self._http.stream(method, f"{API}{path}", **kwargs) as response):
            if response.status_code >= 400:
                raise _error_from(response.read())
            yield response

    @contextmanager
    def _unavailable_on_transport_errors(self, method: str, path: str) -> Iterator[None]:
        """A timeout or a broken connection, as one line saying the daemon is not answering."""
        try:
            yield
        except Timeout:
            raise DaemonUnavailable(
                f"the daemon at {self.info.url} did not answer {method} {path} in time"
            ) from None
        except TransportError as error:
            raise DaemonUnavailable(
                f"lost the daemon at {self.info.url}: {error}"
            ) from None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "bad_response", f"the daemon sent no JSON for {method} {path}"
            ) from None

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", "/health")
        return result

    def submit(self, spec: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", "/runs", json=spec)
        return result

    def list_page(
        self,
        statuses: list[str] | None = None,
        tags: list[str] | None = None,
        *,
        sort: str = "id",
        search: str | None = None,
        limit: int = LIST_PAGE,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of the run list: ``runs``, ``next_cursor``, ``total`` and ``counts``."""
        params: list[tuple[str, str | int]] = [("status", s) for s in statuses or ()]
        params += [("tag", t) for t in tags or ()]
        params += [("sort", sort), ("limit", limit)]
        if search:
            params.append(("q", search))
        if cursor:
            params.append(("cursor", cursor))
        body: dict[str, Any] = self._json("GET", "/runs", params=params)
        return body

    def list_runs(
        self,
        statuses: list[str] | None = None,
        tags: list[str] | None = None,
        *,
        sort: str = "id",
        search: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The matching runs in ``sort`` order (all of them, or the first ``limit``), read
        page after page with the list's cursor."""
        runs: list[dict[str, Any]] = []
        cursor = None
        while limit is None or len(runs) < limit:
            size = LIST_PAGE if limit is None else min(LIST_PAGE, limit - len(runs))
            body = self.list_page(
                statuses, tags, sort=sort, search=search, limit=size, cursor=cursor
            )
            runs += body["runs"]
            cursor = body.get("next_cursor")
            if not cursor:
                break
        return runs

    def get_run(self, run_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/runs/{run_id}")
        return result

    def find_run(self, run_id: int) -> dict[str, Any] | None:
        """The run, or None if the daemon has no such run."""
        try:
            return self.get_run(run_id)
        except ApiError as error:
            if error.is_not_found:
                return None
            raise

    def act(self, run_id: int, verb: str) -> dict[str, Any]:
        """``cancel``, ``retry``, ``pause``, ``resume`` or ``delete`` one run; the run as it
        is now (``{"id", "deleted": true}`` after a delete)."""
        if verb == "delete":
            deleted: dict[str, Any] = self._json("DELETE", f"/runs/{run_id}")
            return deleted
        result: dict[str, Any] = self._json("POST", f"/runs/{run_id}/{verb}")
        return result

    def read_log(
        self, run_id: int, attempt: int | None, offset: int, limit: int = 1 << 20
    ) -> LogChunk:
        params: dict[str, int] = {"offset": offset, "limit": limit}
        if attempt is not None:
            params["attempt"] = attempt
        response = self.request("GET", f"/runs/{run_id}/log", params=params)
        headers = response.headers
        return LogChunk(
            data=response.content,
            attempt=int(headers.get("X-Runyard-Attempt", attempt or 0)),
            next_offset=int(headers.get("X-Runyard-Next-Offset", offset + len(response.content))),
            finished=headers.get("X-Runyard-Attempt-Finished", "0") == "1",
        )

    def gpus(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", "/gpus")
        return result

    def shutdown(self) -> None:
        self.request("POST", "/shutdown")
