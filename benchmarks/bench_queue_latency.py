"""Queue latency: submit → process started (idle queue), and one run's end → the next
queued run's start, over trivial runs; task-spooler (1 slot) measured beside it in the same
run when it is installed (`apt-get install task-spooler`). Goals (issue 11): submit → start
median ≤ 10 ms; end → next start median ≤ 10 ms, p95 ≤ 20 ms.

    python benchmarks/bench_queue_latency.py [--runs 200] [--idle 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import Daemon, summary_ms, write_results

# bash's $EPOCHREALTIME stamps start and end without another fork (as the peer benchmark does).
JOB = 's=$EPOCHREALTIME; e=$EPOCHREALTIME; echo "$s $e" > {d}/{i}'


def stamps(directory: Path, count: int) -> list[tuple[float, float]]:
    result = []
    for i in range(count):
        start, end = (directory / str(i)).read_text().split()
        result.append((float(start), float(end)))
    return result


def wait_files(directory: Path, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len(list(directory.iterdir())) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(list(directory.iterdir()))} of {count} runs finished")
        time.sleep(0.01)
    time.sleep(0.05)


def runyard_figures(root: Path, runs: int, idle: int) -> dict[str, dict[str, float]]:
    daemon = Daemon(root / "home")
    try:
        # A. `runs` trivial runs queued behind a blocker, then released: pure hand-over.
        drain = root / "drain"
        drain.mkdir()
        go = root / "go"
        daemon.submit(["bash", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done"])
        for i in range(runs):
            daemon.submit(["bash", "-c", JOB.format(d=drain, i=i)])
        go.touch()
        wait_files(drain, runs)
        st = stamps(drain, runs)
        gaps = [st[i + 1][0] - st[i][1] for i in range(runs - 1)]
        # B. submit → start on an idle queue, through the API (client connected) and the CLI.
        api_dir, cli_dir = root / "idle-api", root / "idle-cli"
        api_dir.mkdir()
        cli_dir.mkdir()
        api, cli = [], []
        runyard = str(Path(sys.executable).with_name("runyard"))
        for i in range(idle):
            t0 = time.time()
            daemon.submit(["bash", "-c", JOB.format(d=api_dir, i=i)])
            wait_files(api_dir, i + 1)
            api.append(stamps(api_dir, i + 1)[i][0] - t0)
            t0 = time.time()
            subprocess.run(
                [
                    runyard,
                    "submit",
                    "-q",
                    "--gpus",
                    "0",
                    "--",
                    "bash",
                    "-c",
                    JOB.format(d=cli_dir, i=i),
                ],
                env=daemon.env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            wait_files(cli_dir, i + 1)
            cli.append(stamps(cli_dir, i + 1)[i][0] - t0)
    finally:
        daemon.stop()
    return {
        "end_to_next_start": summary_ms(gaps),
        "submit_to_start_api": summary_ms(api),
        "submit_to_start_cli": summary_ms(cli),
    }


def tsp_figures(root: Path, runs: int, idle: int) -> dict[str, dict[str, float]] | None:
    tsp = shutil.which("tsp") or shutil.which("ts")
    if tsp is None:
        return None
    env = {**os.environ, "TS_SOCKET": str(root / "ts.sock"), "TMPDIR": str(root)}

    def ts(*args: str) -> str:
        return subprocess.run([tsp, *args], env=env, capture_output=True, text=True).stdout.strip()

    ts("-S", "1")
    drain = root / "tsp-drain"
    drain.mkdir()
    go = root / "tsp-go"
    ts("bash", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done")
    last = ""
    for i in range(runs):
        last = ts("bash", "-c", JOB.format(d=drain, i=i))
    go.touch()
    ts("-w", last)
    st = stamps(drain, runs)
    gaps = [st[i + 1][0] - st[i][1] for i in range(runs - 1)]
    idle_dir = root / "tsp-idle"
    idle_dir.mkdir()
    submit = []
    for i in range(idle):
        t0 = time.time()
        job = ts("bash", "-c", JOB.format(d=idle_dir, i=i))
        ts("-w", job)
        submit.append(stamps(idle_dir, i + 1)[i][0] - t0)
    ts("-K")
    return {"end_to_next_start": summary_ms(gaps), "submit_to_start_cli": summary_ms(submit)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--idle", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = runyard_figures(Path(tmp) / "runyard", args.runs, args.idle)
        (Path(tmp) / "tsp").mkdir()
        peer = tsp_figures(Path(tmp) / "tsp", args.runs, args.idle)
    figures: dict[str, object] = {
        "runyard": ours,
        "goal": {"submit_to_start_median_ms": 10, "end_to_next_start_median_ms": 10,
                 "end_to_next_start_p95_ms": 20},
    }
    if peer:
        figures["task_spooler_1_slot"] = peer
        figures["ratio_runyard_over_tsp_median"] = {
            "end_to_next_start": round(
                ours["end_to_next_start"]["median_ms"] / peer["end_to_next_start"]["median_ms"], 2
            ),
            "submit_to_start_cli": round(
                ours["submit_to_start_cli"]["median_ms"] / peer["submit_to_start_cli"]["median_ms"],
                2,
            ),
        }
    write_results("queue_latency", figures)


if __name__ == "__main__":
    main()
