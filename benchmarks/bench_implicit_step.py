"""Plain output with no step: a script prints 100,000 lines ``loss: <v>`` and is run with
``--metric-pattern '^loss: (?P<loss>[-\\d.e]+)$'``. How many points are stored, and how
long until they are all queryable, against the bare script's own time in the same run?
Beside it, when installed: Guild AI, the peer that parses plain output (peer-bench #4, the
same script: 63 times the bare script's time, every point at step 0).

    python benchmarks/bench_implicit_step.py [--lines 100000] [--runs 5] [--guild /path/to/bin/guild]

The bare script is timed as ``python script.py > /dev/null``; runyard's time runs from the
submit request until ``GET /runs/{id}/metrics?key=loss`` returns every point (through
the real API, a real daemon, SQLite). Guild is found at ``--guild``, or in the virtual
environment peer-bench makes (/tmp/anchorbench/venv-guild); without it the peer-bench
figure is quoted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import Daemon, write_results

SCRIPT = """
n = {lines}
for i in range(n):
    print(f"loss: {{1/(i+1):.6f}}")
"""
PATTERN = r"^loss: (?P<loss>[-\d.e]+)$"
GUILD_PEER_BENCH = {"ratio_to_bare_script": 63.0, "points_stored": 100_000, "distinct_steps": 1}
GUILD_VENV = Path("/tmp/anchorbench/venv-guild/bin/guild")


def bare(script: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def through_runyard(daemon: Daemon, script: Path, lines: int) -> tuple[float, int, int]:
    """Seconds from submit until every point is queryable; points and distinct x read back."""
    started = time.perf_counter()
    answer = daemon.client.post("/api/v1/runs", json={
        "command": [sys.executable, str(script)], "workdir": str(script.parent), "gpus_min": 0,
        "metric_patterns": [PATTERN],
    })
    answer.raise_for_status()
    run_id = answer.json()["id"]
    while True:
        keys = daemon.client.get(f"/api/v1/runs/{run_id}/metrics/summary").json()["keys"]
        if keys.get("loss", {}).get("count", 0) >= lines:
            break
        status = daemon.client.get(f"/api/v1/runs/{run_id}").json()["status"]
        if status in {"failed", "cancelled", "lost"}:
            raise SystemExit(f"run {run_id} ended {status}")
        if status == "completed" and time.perf_counter() - started > 120:
            break  # ended with fewer points: reported below, not waited for forever
        time.sleep(0.02)
    series = daemon.client.get(f"/api/v1/runs/{run_id}/metrics",
                               params={"key": "loss"}).json()["series"]["loss"]
    elapsed = time.perf_counter() - started
    return elapsed, len(series), len({point[0] for point in series})


def through_guild(guild: Path, script: Path) -> tuple[float, int, int]:
    """Seconds of ``guild run -y``; the scalar points it recorded and their distinct steps."""
    home = script.parent / "guild-home"  # a private Guild home, nothing in ~/.guild
    home.mkdir(exist_ok=True)
    env = {**os.environ, "GUILD_HOME": str(home)}
    shutil.rmtree(home / "runs", ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([str(guild), "run", "-y", script.name], cwd=script.parent, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    elapsed = time.perf_counter() - started
    run_dir = subprocess.run([str(guild), "select", "--path"], cwd=script.parent, env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
    count = subprocess.run([str(guild.with_name("python")), "-c",
                            "import sys\nfrom guild import tfevent\nsteps = []\n"
                            "for _p, _d, reader in tfevent.scalar_readers(sys.argv[1]):\n"
                            "    steps += [step for tag, _v, step in reader if tag == 'loss']\n"
                            "print(len(steps), len(set(steps)))", run_dir],
                           capture_output=True, text=True, check=True).stdout.split()
    return elapsed, int(count[0]), int(count[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--guild", type=Path, default=GUILD_VENV if GUILD_VENV.exists() else None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.py"
        script.write_text(SCRIPT.format(lines=args.lines))
        guild_script = Path(tmp) / "guild" / "script.py"  # alone in its folder: Guild copies the folder
        guild_script.parent.mkdir()
        shutil.copy(script, guild_script)
        daemon = Daemon(Path(tmp) / "home")
        bare_s, runyard_s, guild_s = [], [], []
        stored: list[tuple[int, int]] = []
        guild_points: tuple[int, int] | None = None
        try:
            bare(script)  # warm the page cache and bytecode
            for _ in range(args.runs):  # alternated, so drift on a shared machine hits each alike
                bare_s.append(bare(script))
                elapsed, points, distinct = through_runyard(daemon, script, args.lines)
                runyard_s.append(elapsed)
                stored.append((points, distinct))
                if args.guild is not None:
                    elapsed, points, distinct = through_guild(args.guild, guild_script)
                    guild_s.append(elapsed)
                    guild_points = (points, distinct)
        finally:
            daemon.stop()
    base = statistics.median(bare_s)
    figures = {
        "lines_printed": args.lines,
        "runs": args.runs,
        "bare_script_median_s": round(base, 3),
        "runyard_points_stored": min(points for points, _ in stored),
        "runyard_distinct_x": min(distinct for _, distinct in stored),
        "runyard_submit_to_queryable_median_s": round(statistics.median(runyard_s), 3),
        "runyard_ratio_to_bare_script": round(statistics.median(runyard_s) / base, 2),
    }
    if guild_s and guild_points is not None:
        figures |= {
            "guild_median_s": round(statistics.median(guild_s), 3),
            "guild_ratio_to_bare_script": round(statistics.median(guild_s) / base, 2),
            "guild_points_stored": guild_points[0],
            "guild_distinct_steps": guild_points[1],
            "guild_over_runyard": round(statistics.median(guild_s) / statistics.median(runyard_s), 2),
        }
    else:
        figures["guild_from_peer_bench"] = GUILD_PEER_BENCH
    write_results("implicit_step", figures)


if __name__ == "__main__":
    main()
