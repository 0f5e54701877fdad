"""End-to-end ingestion: one chatty run prints 1,000,000 metric points (500,000 PROGRESS
lines with two metrics each); how long after its last line are they all stored and
queryable? Goal: under 5 s (≥ 200,000 points/s). The floor measured beside it in the same
run: raw ``sqlite3.executemany`` of 1,000,000 rows into the same table shape (WAL).

    python benchmarks/bench_ingest.py [--lines 500000]
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
for i in range({lines}):
    out.write('PROGRESS: {{"epoch": 1, "total_epochs": 1, "status": "training", "step": %d, "loss": %.6f, "lr": 0.001}}\\n' % (i, 1.0 / (i + 1)))
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
    parser.add_argument("--lines", type=int, default=500_000)
    args = parser.parse_args()
    points = args.lines * 2
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
            run_id = client.post("/api/v1/runs", json={"command": [sys.executable, "-c", SCRIPT.format(lines=args.lines, stamp=str(stamp))],
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
            assert len(series) == args.lines
        finally:
            daemon.terminate()
            daemon.wait()
        floor = sqlite_floor(Path(tmp) / "floor.db", points)
    behind = max(0.0, t_stored - t_last_line)
    write_results("ingest", {
        "points": points,
        "stored_after_last_line_s": round(behind, 3),
        "goal_s": 5.0,
        "submit_to_all_stored_s": round(t_stored - t_submit, 3),
        "script_print_time_s": round(t_last_line - t_submit, 3),
        "points_per_s_end_to_end": round(points / (t_stored - t_submit)),
        "read_back_500k_series_via_api_s": round(t_read, 3),
        "floor_raw_sqlite_executemany_s": round(floor, 3),
        "floor_points_per_s": round(points / floor),
        "ratio_end_to_end_over_floor": round((t_stored - t_submit) / floor, 2),
    })


if __name__ == "__main__":
    main()
