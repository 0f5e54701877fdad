"""How fast a chart's read of a whole 1,000,000-point metric is (goal: under 250 ms, so
that the run page draws it in under 500 ms), over real HTTP against a real daemon.

A run prints 1,000,000 PROGRESS lines (``train_loss`` at steps 0…999,999), ingested as
usual; then ``GET /api/v1/runs/{id}/metrics?key=train_loss&points=1200`` is measured:

- ``cold``: no overview stored (deleted before each request): the series is read whole,
  its overview built and stored, and the chart drawn from it;
- ``warm``: the overview stored: it is read, with the points past it (none);
- ``after_50k_appended``: 50,000 points appended past the stored overview (written as the
  follower writes them: rows, and the key's count and last x), the overview restored to
  the one before them before each request: the overview, those 50,000 points read and
  folded in, and the extended overview stored;
- ``exact_whole_range``: the same series through the exact path (``x_min`` at the first
  x: a zoomed read's path), every point read and downsampled;
- ``sqlite_fetch_floor``: the rows of the series fetched with ``sqlite3`` alone, the cost
  of any read of every point;

plus how long after the run's end its overview was built (the attempt's end builds it).

Usage: python benchmarks/bench_metrics_read.py [--points 1000000] [--repeats 9]
Writes benchmarks/results/metrics_read.json.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Daemon, summary_ms, timed, write_results

GOAL_MS = 250.0
APPENDED = 50_000
PRINT_POINTS = """
import sys
out = sys.stdout
for i in range({points}):
    out.write('PROGRESS: {{"epoch": 1, "total_epochs": 1, "status": "training", "step": %d, "loss": %.6f}}\\n'
              % (i, 1.0 / (i + 1) + (i % 1000) * 1e-6 + (5.0 if i % 100_003 == 0 else 0.0)))
out.flush()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    results: dict[str, Any] = {"points": args.points, "points_asked": 1200, "goal_ms": GOAL_MS}

    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp) / "home")
        try:
            run_id = daemon.submit([sys.executable, "-c", PRINT_POINTS.format(points=args.points)])
            db = sqlite3.connect(Path(tmp) / "home" / "runyard.db", timeout=30)
            t0 = time.perf_counter()
            while daemon.client.get(f"/api/v1/runs/{run_id}").json()["status"] != "completed":
                assert time.perf_counter() - t0 < 900, "the run did not end in 15 minutes"
                time.sleep(0.2)
            ended = time.perf_counter()
            results["run_ended_after_s"] = round(ended - t0, 1)
            while not db.execute("SELECT count(*) FROM metric_overviews").fetchone()[0]:
                assert time.perf_counter() - ended < 120, "no overview two minutes after the run's end"
                time.sleep(0.05)
            results["overview_built_after_the_end_s"] = round(time.perf_counter() - ended, 2)
            figure = Path(tmp) / "home" / "runs" / str(run_id) / "figures" / "losses.png"
            while not figure.exists():  # the rest of the end's work (scalars.csv, figures) is done
                assert time.perf_counter() - ended < 300, "no figures five minutes after the run's end"
                time.sleep(0.1)
            time.sleep(0.5)
            key_id, count = db.execute("SELECT id, count FROM metric_keys WHERE key = 'train_loss'").fetchone()
            assert count == args.points, count

            url = f"/api/v1/runs/{run_id}/metrics?key=train_loss&points=1200"

            def chart(path: str = url) -> None:
                answer = daemon.client.get(path, timeout=60)
                answer.raise_for_status()
                found = answer.json()
                assert found["downsampled"] and 3 <= len(found["series"]["train_loss"]) <= 1200

            def forget() -> None:
                db.execute("DELETE FROM metric_overviews")
                db.commit()

            def fetch() -> None:
                db.execute("SELECT x, value FROM metric_points WHERE run_id = ? AND key_id = ? ORDER BY x",
                           (run_id, key_id)).fetchall()

            chart()  # warm-up: first-call costs (imports, page cache) are not the read's
            measured = {
                "sqlite_fetch_floor": summary_ms(timed(fetch, args.repeats)),
                "exact_whole_range": summary_ms(timed(lambda: chart(url + "&x_min=0"), args.repeats)),
                "cold": summary_ms(timed(chart, args.repeats, before=forget)),
                "warm": summary_ms(timed(chart, args.repeats)),
            }
            stored = db.execute("SELECT * FROM metric_overviews").fetchone()
            first = args.points
            rows = [(run_id, key_id, float(x), 0.5 + (x % 7) * 1e-3) for x in range(first, first + APPENDED)]
            db.executemany("INSERT INTO metric_points (run_id, key_id, x, value) VALUES (?, ?, ?, ?)", rows)
            db.execute("UPDATE metric_keys SET count = count + ?, last_x = ?, last = ? WHERE id = ?",
                       (APPENDED, rows[-1][2], rows[-1][3], key_id))
            db.commit()

            def restore() -> None:
                db.execute("DELETE FROM metric_overviews")
                db.execute(f"INSERT INTO metric_overviews VALUES ({', '.join('?' * len(stored))})", stored)
                db.commit()

            measured["after_50k_appended"] = summary_ms(timed(chart, args.repeats, before=restore))
            measured["warm_after_the_append_stored"] = summary_ms(timed(chart, args.repeats))
            db.close()
        finally:
            daemon.stop()
    results.update(measured)
    results["goal_met"] = all(measured[k]["median_ms"] < GOAL_MS for k in ("warm", "after_50k_appended"))
    write_results("metrics_read", results)


if __name__ == "__main__":
    main()
