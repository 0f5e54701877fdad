"""End-to-end tests of the web UI: a real daemon (``runyard serve`` in its own process, a
declared GPU inventory), the built UI it serves, and Debian's headless Chromium driven by
Playwright through ``executable_path`` (no browser download). Screenshots of each page
land in ``tests/e2e/artifacts/``.

They skip, saying why, only when Chromium (``RUNYARD_CHROMIUM``, default
``/usr/bin/chromium``) or the built UI (``make ui``) is missing; CI has both."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(os.environ.get("RUNYARD_CHROMIUM", "/usr/bin/chromium"))
STATIC = Path(__file__).resolve().parents[2] / "src" / "runyard" / "server" / "static"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TOKEN = "e2e-token"
VIEWPORT = {"width": 1280, "height": 800}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the web UI in a real headless Chromium")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set RUNYARD_CHROMIUM)"
    if not (STATIC / "index.html").is_file():
        return "the web UI is not built (make ui)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Daemon:
    """A real ``runyard serve`` with its home, its port and an API client."""

    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def start(self) -> None:
        server_file = self.home / "server.json"
        server_file.unlink(missing_ok=True)
        with (self.home.parent / "daemon.log").open("ab") as log:  # the child keeps its own handle
            self.process = subprocess.Popen([sys.executable, "-m", "runyard", "serve"], env=self.env,
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while not server_file.exists():
            assert self.process.poll() is None, (self.home.parent / "daemon.log").read_text()
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.05)
        assert json.loads(server_file.read_text())["url"] == self.url

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def submit(self, **spec: Any) -> int:
        spec.setdefault("workdir", str(self.home.parent))
        spec.setdefault("gpus_min", 0)
        with self.api as client:
            answer = client.post("/runs", json=spec)
            answer.raise_for_status()
            return int(answer.json()["id"])

    def wait(self, run_id: int, statuses: set[str], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.api as client:
            while True:
                run = client.get(f"/runs/{run_id}").json()
                if run["status"] in statuses:
                    return dict(run)
                assert time.monotonic() < deadline, f"run {run_id} is still {run['status']}"
                time.sleep(0.1)


def make_daemon(root: Path, **settings: str) -> Daemon:
    home = root / "home"
    home.mkdir(parents=True)
    inventory = root / "gpus.json"
    inventory.write_text(json.dumps({"gpus": [
        {"index": 0, "name": "Test GPU", "memory_mib": 24576},
        {"index": 1, "name": "Test GPU", "memory_mib": 24576, "processes": [{"pid": 4242, "used_mib": 3000}]},
    ]}))
    port = free_port()
    env = {**os.environ, "RUNYARD_HOME": str(home), "RUNYARD_PORT": str(port), "RUNYARD_TOKEN": TOKEN,
           "RUNYARD_GPU_INVENTORY": str(inventory), "RUNYARD_CPU_SLOTS": "6", "RUNYARD_GPU_POLL_S": "0.5",
           **{f"RUNYARD_{k.upper()}": v for k, v in settings.items()}}
    return Daemon(home, port, env=env)


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    started = make_daemon(tmp_path_factory.mktemp("e2e"))
    started.start()
    answer = httpx.get(f"{started.url}/?token={TOKEN}")
    assert answer.status_code == 200 and "<div id=\"root\">" in answer.text, (
        "the daemon does not serve the web UI at /: include runyard.server.routes.ui's router in create_app")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while
    it is open, which the async tests of other modules (pytest-asyncio) must not find."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Ui:
    """A page of the web UI, signed in, that records what must never happen (a dialog:
    the sign of a script injected by a run's name or output; an uncaught error)."""

    page: Any
    base: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name: str, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        if full_page:  # from the top, or the sticky header is drawn mid-page
            self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def open_ui(browser: Any, base: str, color_scheme: str = "light") -> Ui:
    context = browser.new_context(viewport=VIEWPORT, color_scheme=color_scheme)
    context.set_default_timeout(20_000)
    page = context.new_page()
    ui = Ui(page, base)
    page.on("dialog", lambda dialog: (ui.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: ui.errors.append(str(error)))
    page.goto(f"{base}/?token={TOKEN}")  # sets the session cookie; the app drops the token from the URL
    page.wait_for_selector(".topbar")
    return ui


@pytest.fixture
def ui(browser: Any, daemon: Daemon) -> Iterator[Ui]:
    opened = open_ui(browser, daemon.url)
    yield opened
    opened.page.context.close()
    assert not opened.dialogs, f"a dialog opened: {opened.dialogs}"
    assert not opened.errors, f"the page threw: {opened.errors}"


def script(tmp: Path, name: str, body: str) -> list[str]:
    """A training script written to a file, as the command that runs it."""
    path = tmp / name
    path.write_text(body)
    return [sys.executable, "-u", str(path)]
