"""Where one run's end → the next queued run's start goes: a stamp at each step of the
hand-over, in a real daemon run in this process (its functions wrapped to stamp; nothing
else changed), over ``N`` trivial runs queued behind a blocker.

    python benchmarks/profile_handover.py [N]

Prints the median and p95 of each step (the table in benchmarks/README.md). The figure to
quote is ``bench_queue_latency.py``'s (a daemon in its own process); this splits it up.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import runyard.daemon.attempts as attempts
import runyard.daemon.yard as yard_module
import runyard.executors.local as local
import runyard.ingest.follower as follower
from runyard.daemon import serve
from runyard.settings import Settings

STAMPS: list[tuple[str, int | None, float]] = []
JOB = 's=$EPOCHREALTIME; e=$EPOCHREALTIME; echo "$s $e" > {d}/{i}'
STEPS = [
    ("command ends → shim gone, seen by pidfd", "end", "wait_returned"),
    ("pidfd → drain begins", "wait_returned", "drain_start"),
    ("drain (last output, final results)", "drain_start", "drain_end"),
    ("finish_attempt (status, retry rule)", "drain_end", "finish_end"),
    ("finish → scheduling pass", "finish_end", "sched_start"),
    ("pass → start_attempt", "sched_start", "start_attempt"),
    ("start_attempt: its transaction", "start_attempt", "launch_call"),
    ("launch(): launch.json, fork by the launcher", "launch_call", "launched"),
    ("launched → command's first instruction", "launched", "next_start"),
    ("total", "end", "next_start"),
]


def stamp(what: str, run_id: int | None) -> None:
    STAMPS.append((what, run_id, time.time()))


def wrap() -> None:
    """Stamp the steps of the hand-over (wrapping, not changing, the daemon's functions)."""
    wait, drain, finish = local.LocalExecutor.wait, follower.Follower.drain, attempts.finish_attempt
    schedule, start, launch = yard_module.Yard.schedule_once, attempts.start_attempt, local.LocalExecutor.launch

    async def stamped_wait(self: Any, handle: Any) -> None:
        await wait(self, handle)
        stamp("wait_returned", None)

    async def stamped_drain(self: Any, *args: Any) -> None:
        stamp("drain_start", self.live.run_id)
        await drain(self, *args)
        stamp("drain_end", self.live.run_id)

    async def stamped_finish(yard: Any, live: Any) -> None:
        await finish(yard, live)
        stamp("finish_end", live.run_id)

    def stamped_schedule(self: Any) -> None:
        stamp("sched_start", None)
        schedule(self)

    def stamped_start(yard: Any, run_id: int, gpus: Any) -> Any:
        stamp("start_attempt", run_id)
        live = start(yard, run_id, gpus)
        stamp("launched", run_id)
        return live

    def stamped_launch(self: Any, *args: Any) -> Any:
        stamp("launch_call", None)
        return launch(self, *args)

    local.LocalExecutor.wait = stamped_wait
    follower.Follower.drain = stamped_drain
    yard_module.finish_attempt = stamped_finish
    yard_module.Yard.schedule_once = stamped_schedule
    yard_module.start_attempt = stamped_start
    local.LocalExecutor.launch = stamped_launch


def drive(root: Path, home: Path, count: int) -> None:
    while not (home / "server.json").exists():
        time.sleep(0.02)
    info = json.loads((home / "server.json").read_text())
    client = httpx.Client(base_url=info["url"], headers={"Authorization": f"Bearer {info['token']}"})

    def submit(argv: list[str]) -> int:
        answer = client.post("/api/v1/runs", json={"command": argv, "workdir": "/tmp", "gpus_min": 0})
        answer.raise_for_status()
        return int(answer.json()["id"])

    drain_dir, go = root / "drain", root / "go"
    drain_dir.mkdir()
    submit(["bash", "-c", f"while [ ! -e {go} ]; do sleep 0.01; done"])
    ids = [submit(["bash", "-c", JOB.format(d=drain_dir, i=i)]) for i in range(count)]
    go.touch()
    while len(list(drain_dir.iterdir())) < count:
        time.sleep(0.05)
    time.sleep(0.5)
    runs = [tuple(map(float, (drain_dir / str(i)).read_text().split())) for i in range(count)]
    report(ids, runs)
    os.kill(os.getpid(), signal.SIGTERM)


def report(ids: list[int], runs: list[tuple[float, ...]]) -> None:
    rows: dict[str, list[float]] = {name: [] for name, _, _ in STEPS}
    for i in range(1, len(ids) - 1):
        ended, this, following = runs[i][1], ids[i], ids[i + 1]
        at = {"end": ended}
        previous = ended  # each step's stamp is the first of its kind after the step before
        for what, run_id in (("wait_returned", None), ("drain_start", this), ("drain_end", this),
                             ("finish_end", this), ("sched_start", None), ("start_attempt", following),
                             ("launch_call", None), ("launched", following)):
            found = [t for name, rid, t in STAMPS if name == what and rid in (None, run_id) and t >= previous]
            at[what] = previous = min(found) if found else float("nan")
        at["next_start"] = runs[i + 1][0]
        for name, begin, end in STEPS:
            rows[name].append((at[end] - at[begin]) * 1e3)
    for name, values in rows.items():
        ordered = sorted(values)
        print(f"{name:44s} median {statistics.median(values):6.2f} ms   p95 {ordered[int(len(ordered) * 0.95)]:6.2f} ms")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    root = Path(tempfile.mkdtemp(prefix="runyard-handover-"))
    home = root / "home"
    home.mkdir()
    (home / "none.json").write_text('{"gpus": []}')
    os.environ.update(RUNYARD_HOME=str(home), RUNYARD_PORT="0", RUNYARD_CPU_SLOTS="1",
                      RUNYARD_GPU_INVENTORY=str(home / "none.json"))
    wrap()
    threading.Thread(target=drive, args=(root, home, count), daemon=True).start()
    serve(Settings(), port_fallback=True)


if __name__ == "__main__":
    main()
