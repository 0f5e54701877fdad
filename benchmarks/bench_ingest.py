"""End-to-end ingestion: one chatty run prints 1,000,000 metric points as PROGRESS lines
(by default 4 metrics a line, as a training loop reports loss, accuracy, lr and grad norm:
250,000 lines; ``--per-line 2`` is the harder case of 500,000 lines); how long after its
last line are they all stored and queryable? Goal: under 5 s (≥ 200,000 points/s). The
floor measured beside it in the same run: raw ``sqlite3.executemany`` of the same number
of rows into the same table shape (WAL).

    python benchmarks/bench_ingest.py [--points 1000000] [--per-line 4]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results

START = "from runyard.daemon import serve; from runyard.settings import Settings; serve(Settings(), port_fallback=True)"
SCRIPT = """
import sys, time
out = sys.stdout
extra = {extra!r}
for i in range({lines}):
    out.write('PROGRESS: {{"epoch": 1, "total_epochs": 1, "status": "training", "step": %d, "loss": %.6f%s}}\\n' % (i, 1.0 / (i + 1), extra))
out.flush()
open({stamp!r}, "w").write(repr(time.time()))
"""


def sqlite_floor(path: Path, rows: int) -> float:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE p (run_id INTEGER, key_id INTEGER, x REAL, value REAL, PRIMARY KEY (run_id, key_id, x)) WITHOUT ROWID")
    data = [(1, k, float(i), 1.0 / (i + 1)) for i in range(rows // 2) for k in (1, 2)]
    t0 = time.perf_counter()
    db.executemany("INSERT INTO p VALUES (?, ?, ?, ?)", data)
    db.commit()
    elapsed = time.perf_counter() - t0
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--per-line", type=int, default=4, choices=range(1, 6))
    args = parser.parse_args()
    lines = args.points // args.per_line
    points = lines * args.per_line
    extra = "".join(f', "{k}": {v}' for k, v in
                    [("train_accuracy", 50.5), ("lr", 0.001), ("grad_norm", 1.25), ("tokens_per_s", 1234.5)][: args.per_line - 1])
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / "none.json").write_text('{"gpus": []}')
        env = {**os.environ, "RUNYARD_HOME": str(home), "RUNYARD_PORT": "0", "RUNYARD_GPU_INVENTORY": str(home / "none.json")}
        daemon = subprocess.Popen([sys.executable, "-c", START], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not (home / "server.json").exists():
                time.sleep(0.02)
            info = json.loads((home / "server.json").read_text())
            client = httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {info['token']}"}, timeout=30)
            stamp = Path(tmp) / "last-line"
            t_submit = time.time()
            run_id = client.post("/api/v1/runs", json={"command": [sys.executable, "-c", SCRIPT.format(lines=lines, stamp=str(stamp), extra=extra)],
                                                       "workdir": tmp, "gpus_min": 0}).json()["id"]
            while True:
                keys = client.get(f"/api/v1/runs/{run_id}/metrics/summary").json()["keys"]
                if sum(k["count"] for k in keys.values()) >= points:
                    t_stored = time.time()
                    break
                time.sleep(0.05)
            t_last_line = float(stamp.read_text())
            t0 = time.perf_counter()
            series = client.get(f"/api/v1/runs/{run_id}/metrics", params={"key": "train_loss"}).json()["series"]["train_loss"]
            t_read = time.perf_counter() - t0
            assert len(series) == lines
        finally:
            daemon.terminate()
            daemon.wait()
        floor = sqlite_floor(Path(tmp) / "floor.db", points)
    behind = max(0.0, t_stored - t_last_line)
    write_results(f"ingest_{args.per_line}_per_line", {
        "points": points,
        "lines": lines,
        "metrics_per_line": args.per_line,
        "stored_after_last_line_s": round(behind, 3),
        "goal_s": 5.0,
        "submit_to_all_stored_s": round(t_stored - t_submit, 3),
        "script_print_time_s": round(t_last_line - t_submit, 3),
        "points_per_s_end_to_end": round(points / (t_stored - t_submit)),
        "read_back_one_series_via_api_s": round(t_read, 3),
        "floor_raw_sqlite_executemany_s": round(floor, 3),
        "floor_points_per_s": round(points / floor),
        "ratio_end_to_end_over_floor": round((t_stored - t_submit) / floor, 2),
    })


if __name__ == "__main__":
    main()
