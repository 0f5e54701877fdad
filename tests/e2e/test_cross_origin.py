"""Another web page on the same machine (a second local port: the same *site*, so the
browser sends runyard's session cookie along) tries to act on a daemon the browser is
signed in to: every attack is refused and the run goes on, while runyard's own page still
submits, follows and cancels runs."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Daemon, Ui, script

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)").expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SLEEPS = "import time\nfor _ in range(600):\n    print('alive', flush=True)\n    time.sleep(0.1)\n"

# Each attack records what it saw in `results`; the forms post into iframes so the page stays.
ATTACK_PAGE = """<!doctype html><title>not runyard</title>
<iframe name="sink-cancel"></iframe><iframe name="sink-shutdown"></iframe>
<form id="cancel" method="POST" action="API/runs/RUN/cancel" target="sink-cancel"><input name="a" value="1"></form>
<form id="shutdown" method="POST" action="API/shutdown" target="sink-shutdown"><input name="a" value="1"></form>
<script>
const api = "API", results = {};
async function attempt(name, run) {
  try { results[name] = await run(); } catch (error) { results[name] = "threw " + error.name; }
}
window.attacks = (async () => {
  await attempt("no-cors fetch", async () => (await fetch(api + "/runs/RUN/cancel", {method: "POST",
    mode: "no-cors", credentials: "include", body: "a=1",
    headers: {"Content-Type": "application/x-www-form-urlencoded"}})).type);
  await attempt("text/plain fetch", async () => (await fetch(api + "/runs/RUN/pause", {method: "POST",
    credentials: "include", headers: {"Content-Type": "text/plain"}, body: "{}"})).status);
  await attempt("fetch with the UI's header", async () => (await fetch(api + "/runs/RUN/cancel", {method: "POST",
    credentials: "include", headers: {"X-Runyard-Request": "1"}})).status);
  await attempt("websocket", () => new Promise((resolve) => {
    const socket = new WebSocket(api.replace("http", "ws") + "/ws");
    let messages = 0;
    socket.onmessage = () => { messages += 1; };
    socket.onclose = (event) => resolve(`closed ${event.code} after ${messages} messages`);
    setTimeout(() => socket.close(), 3000);  // an accepted queue stream stays open
  }));
  await attempt("event source", () => new Promise((resolve) => {
    const source = new EventSource(api + "/stream", {withCredentials: true});
    source.onmessage = () => { source.close(); resolve("message"); };
    source.onerror = () => { source.close(); resolve("error"); };
  }));
  document.getElementById("cancel").submit();
  document.getElementById("shutdown").submit();  // last: were it obeyed, the rest would fail for that reason
  return results;
})();
</script>
"""
REFUSED = {
    "no-cors fetch": "opaque",  # sent, its answer unreadable: the run's status shows it was refused
    "text/plain fetch": "threw TypeError",  # sent without a preflight, refused, unreadable
    "fetch with the UI's header": "threw TypeError",  # its preflight carries no token: never sent
    "websocket": "closed 1006 after 0 messages",  # the handshake is refused (HTTP 403)
    "event source": "error",
}


class AttackSite:
    """A page on a second local port, served by a tiny http.server in a thread."""

    def __init__(self) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def attack_site() -> Iterator[AttackSite]:
    site = AttackSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


def test_another_local_page_cannot_use_the_session_cookie(ui: Ui, daemon: Daemon, attack_site: AttackSite,
                                                          tmp_path: Path) -> None:
    target = daemon.submit(command=script(tmp_path, "sleeps.py", SLEEPS), name="target")
    daemon.wait(target, {"running"})
    attack_site.html = ATTACK_PAGE.replace("API", f"{daemon.url}/api/v1").replace("RUN", str(target))
    answers: list[tuple[str, str, int]] = []
    ui.page.context.on("response", lambda r: answers.append((r.request.method, r.url, r.status))
                       if r.url.startswith(daemon.url) and r.request.method not in ("GET", "OPTIONS") else None)

    page = ui.page.context.new_page()
    page.goto(attack_site.url)
    results = page.evaluate("window.attacks")
    assert results == REFUSED
    for sink in ("sink-cancel", "sink-shutdown"):  # the cookie went along: 403, not 401
        expect(page.frame_locator(f'iframe[name="{sink}"]').locator("body")).to_contain_text('"error":"forbidden"')
    # The forms and the no-cors fetch, as the browser saw them (it hides the answer of a
    # CORS-blocked fetch: that the text/plain pause was refused shows in the run's status).
    posts = sorted((method, url.removeprefix(f"{daemon.url}/api/v1"), status) for method, url, status in answers)
    assert posts == [("POST", f"/runs/{target}/cancel", 403)] * 2 + [("POST", "/shutdown", 403)]
    assert daemon.wait(target, {"running"}, timeout=1)["status"] == "running"
    page.close()

    own = ui.open("/submit")  # runyard's own page, in the same browser, still does everything
    own.fill("#f-command", " ".join(script(tmp_path, "sleeps2.py", SLEEPS)))
    own.fill("#f-workdir", str(tmp_path))
    own.fill("#f-name", "from its own page")
    own.fill("#f-gpus", "0")
    own.get_by_test_id("submit").click()
    own.wait_for_url(re.compile(r"/runs/\d+"))
    run_id = int(own.url.rsplit("/", 1)[1])
    own.wait_for_selector(".run-title .badge.status-running")  # followed over the run's stream
    own.get_by_role("button", name=re.compile("^Cancel")).first.click()
    own.get_by_role("button", name="Cancel run").click()
    own.wait_for_selector(".run-title .badge.status-cancelled")
    assert daemon.wait(run_id, {"cancelled"})["status"] == "cancelled"
    with daemon.api as client:
        client.post(f"/runs/{target}/cancel").raise_for_status()
