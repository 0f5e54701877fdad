"""The web UI in headless Chromium against a real daemon (goals from the UI issue):

- ``queue_first_render``: the Queue page with 10,000 runs in the database (submitted in one
  ``POST /runs/batch`` to a held daemon, so none starts): from navigation start to the first
  rows in the DOM (goal: under 1 s). The first visit (nothing cached) and later visits
  (the hashed assets cached) are reported apart, with the first page's API time.
- ``queue_live_update``: with that page open, a run's status changes (cancelled over the
  API: a ``run`` and a ``counts`` message) and new runs arrive (a row inserted at the top):
  the main-thread work of each update inside the page, from the app's own figures
  (``window.__runyard.queue.stats``: JSON parsing in the socket handler, then applying the
  batch and rendering the changed rows, synchronously), and the long tasks the browser saw
  meanwhile (goal: under 50 ms).
- ``run_chart_1m``: the Run page of a run whose ``train_loss`` has 1,000,000 points (printed
  by the run as PROGRESS lines): from navigation start to the chart drawn with data (uPlot's
  draw hook; goal: under 500 ms), with the downsampled API read inside it apart (the page
  starts that read at once, beside its stream), and the zoomed read of 1,000 steps.

Usage: python benchmarks/bench_ui.py [--runs 10000] [--points 1000000] [--repeats 5]
Needs Chromium (RUNYARD_CHROMIUM, default /usr/bin/chromium), playwright, and the built UI.
Writes benchmarks/results/ui.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Daemon, summary_ms, write_results

CHROMIUM = os.environ.get("RUNYARD_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}
GOALS_MS = {"queue_first_render": 1000.0, "queue_live_update": 50.0, "run_chart_1m": 500.0}

# Records, in page time (ms from navigation start), when the first and the 20th queue rows
# are in the DOM, and every long task (> 50 ms of main-thread work) the browser reports.
OBSERVE = """
window.__bench = {rows: null, rows20: null, longTasks: []};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__bench.longTasks.push({start: e.startTime, duration: e.duration});
}).observe({type: "longtask", buffered: true});
new MutationObserver(() => {
  const rows = document.querySelectorAll(".tr").length;
  if (rows && window.__bench.rows == null) window.__bench.rows = performance.now();
  if (rows >= 20 && window.__bench.rows20 == null) window.__bench.rows20 = performance.now();
}).observe(document, {childList: true, subtree: true});
"""

PRINT_POINTS = """
import sys
out = sys.stdout
for i in range({points}):
    out.write('PROGRESS: {{"epoch": 1, "total_epochs": 1, "status": "training", "step": %d, "loss": %.6f}}\\n' % (i, 1.0 / (i + 1) + (i % 1000) * 1e-6))
out.flush()
"""


def api_ms(page: Any, fragment: str) -> float | None:
    """The duration of the page's request whose URL contains ``fragment`` (Resource Timing)."""
    found = page.evaluate(
        "(f) => performance.getEntriesByType('resource').filter(e => e.name.includes(f)).map(e => e.duration)", fragment)
    return round(found[0], 1) if found else None


def queue_first_render(context: Any, url: str, repeats: int) -> dict[str, Any]:
    visits = []
    for _ in range(repeats + 1):
        page = context.new_page()
        page.add_init_script(OBSERVE)
        page.goto(url + "/")
        page.wait_for_function("window.__bench.rows20 != null", timeout=30_000)
        marks = page.evaluate("window.__bench")
        visits.append({"rows_ms": marks["rows"], "rows20_ms": marks["rows20"], "api_ms": api_ms(page, "/api/v1/runs?")})
        page.close()
    cold, warm = visits[0], visits[1:]
    return {
        "first_visit_ms": round(cold["rows20_ms"], 1),
        "first_visit_api_ms": cold["api_ms"],
        "cached_visits": summary_ms([v["rows20_ms"] / 1e3 for v in warm]),
        "cached_visits_api_median_ms": round(statistics.median(v["api_ms"] or 0 for v in warm), 1),
        "measured": "navigation start → 20 rows of the first page in the DOM (HTML, JS, GET /runs, render)",
    }


def queue_live_update(context: Any, daemon: Daemon, ids: list[int], updates: int) -> dict[str, Any]:
    page = context.new_page()
    page.add_init_script(OBSERVE)
    page.goto(daemon.url + "/")
    page.wait_for_function("window.__bench.rows20 != null && window.__runyard?.queue?.stats?.length > 0", timeout=30_000)
    time.sleep(1.0)  # the stream's first state (up to 1,000 runs) is in and applied
    page.evaluate("window.__runyard.queue.stats.length = 0; window.__bench.longTasks.length = 0")
    started = page.evaluate("performance.now()")

    def settle(count: int) -> None:
        deadline = time.monotonic() + 10
        while page.evaluate("window.__runyard.queue.stats.length") < count:
            assert time.monotonic() < deadline, "the page got no update"
            time.sleep(0.02)

    kinds: dict[str, list[dict[str, float]]] = {"status_change": [], "new_run": []}
    for i in range(updates):
        before = page.evaluate("window.__runyard.queue.stats.length")
        daemon.client.post(f"/api/v1/runs/{ids[i]}/cancel").raise_for_status()  # rows on screen (newest first)
        settle(before + 1)
        time.sleep(0.35)  # the run message and the counts arrive, possibly apart
        kinds["status_change"] += page.evaluate(f"window.__runyard.queue.stats.slice({before})")
        before = page.evaluate("window.__runyard.queue.stats.length")
        daemon.submit(["true"])
        settle(before + 1)
        time.sleep(0.35)
        kinds["new_run"] += page.evaluate(f"window.__runyard.queue.stats.slice({before})")
    long_tasks = page.evaluate(f"window.__bench.longTasks.filter(t => t.start >= {started})")
    page.close()

    def figures(stats: list[dict[str, float]]) -> dict[str, Any]:
        work = [(s["parseMs"] + s["applyMs"]) / 1e3 for s in stats]
        return {"main_thread": summary_ms(work), "arrival_to_dom": summary_ms([s["latencyMs"] / 1e3 for s in stats]),
                "messages_per_batch_max": max(s["messages"] for s in stats)}

    return {
        **{kind: figures(stats) for kind, stats in kinds.items()},
        "long_tasks_over_50ms": len(long_tasks),
        "longest_task_ms": round(max((t["duration"] for t in long_tasks), default=0.0), 1),
        "measured": "per batch of stream messages (one animation frame): JSON.parse + apply + render of the changed rows",
    }


def run_chart(context: Any, daemon: Daemon, run_id: int, repeats: int) -> dict[str, Any]:
    drawn, apis, zooms = [], [], []
    for _ in range(repeats + 1):
        page = context.new_page()
        page.goto(f"{daemon.url}/runs/{run_id}")
        page.wait_for_function("window.__runyard?.chartDrawnAt != null", timeout=30_000)
        drawn.append(page.evaluate("window.__runyard.chartDrawnAt"))
        apis.append(api_ms(page, "/metrics?"))
        zooms.append(zoom_in(page))
        page.close()
    return {
        "first_visit_ms": round(drawn[0], 1),
        "cached_visits": summary_ms([d / 1e3 for d in drawn[1:]]),
        "metrics_api": summary_ms([(a or 0) / 1e3 for a in apis[1:]]),
        "page_without_the_api": summary_ms([(d - (a or 0)) / 1e3 for d, a in zip(drawn[1:], apis[1:], strict=True)]),
        "zoom_to_a_tenth": summary_ms(zooms[1:]),
        "measured": "navigation start → the first chart drawn with its downsampled series (1,200 points asked); "
                    "page_without_the_api: that time less the GET /metrics request's own duration; "
                    "zoom_to_a_tenth: a drag across a tenth of the chart → its full-detail range read and drawn",
    }


def zoom_in(page: Any) -> float:
    """Drags across a tenth of the first chart; seconds until its detail is read and drawn."""
    box = page.locator(".chart .u-over").first.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=4)
    t0 = time.perf_counter()
    page.mouse.up()
    page.wait_for_function("document.querySelector('.chart .chart-title').innerText.includes('Reset zoom')"
                           " && !document.querySelector('.chart .chart-title').innerText.includes('reading detail')")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--updates", type=int, default=15)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set RUNYARD_CHROMIUM")
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {"goals_ms": GOALS_MS, "runs": args.runs, "points": args.points}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

        held = Daemon(Path(tmp) / "held", hold="1")
        try:
            specs = [{"command": ["python", "train.py", f"--seed={i}"], "workdir": "/tmp", "gpus_min": 0,
                      "name": f"sweep run {i}", "tags": [f"group-{i % 10}"]} for i in range(args.runs)]
            t0 = time.perf_counter()
            answer = held.client.post("/api/v1/runs/batch", json={"runs": specs, "sweep": "bench"}, timeout=300)
            answer.raise_for_status()
            results["batch_submit_s"] = round(time.perf_counter() - t0, 2)
            ids = sorted((r["id"] for r in answer.json()["runs"]), reverse=True)
            context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # wait_for_function evaluates strings
            context.new_page().goto(f"{held.url}/?token={held.token}")  # the session cookie
            results["queue_first_render"] = queue_first_render(context, held.url, args.repeats)
            results["queue_live_update"] = queue_live_update(context, held, ids, args.updates)
            context.close()
        finally:
            held.stop()

        live = Daemon(Path(tmp) / "live")
        try:
            run_id = live.submit([sys.executable, "-c", PRINT_POINTS.format(points=args.points)])
            t0 = time.perf_counter()
            while True:
                keys = live.client.get(f"/api/v1/runs/{run_id}/metrics/summary").json()["keys"]
                if keys.get("train_loss", {}).get("count", 0) >= args.points:
                    break
                assert time.perf_counter() - t0 < 600, "the points were not stored in 10 minutes"
                time.sleep(0.5)
            results["points_stored_after_s"] = round(time.perf_counter() - t0, 1)
            context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # wait_for_function evaluates strings
            context.new_page().goto(f"{live.url}/?token={live.token}")
            results["run_chart_1m"] = run_chart(context, live, run_id, args.repeats)
            context.close()
        finally:
            live.stop()
        browser.close()

    results["verdict"] = {  # medians of the cached visits; the live update by its p95
        "queue_first_render": results["queue_first_render"]["cached_visits"]["median_ms"] < GOALS_MS["queue_first_render"],
        "queue_live_update": all(results["queue_live_update"][k]["main_thread"]["p95_ms"] < GOALS_MS["queue_live_update"]
                                 for k in ("status_change", "new_run")),
        "run_chart_1m": results["run_chart_1m"]["cached_visits"]["median_ms"] < GOALS_MS["run_chart_1m"],
    }
    write_results("ui", results)


if __name__ == "__main__":
    main()
