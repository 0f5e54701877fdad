"""Live streams: how soon a metric a script prints reaches a WebSocket client, and what
100 clients following a chatty run cost that run.

1. Latency: a script prints ``PROGRESS: {"step": i, "sent": <time.time()>}`` every 50 ms;
   a client of ``/api/v1/runs/{id}/ws`` notes when each step's point arrives. Goal: p95
   under 250 ms (the daemon reads new output every ``RUNYARD_INGEST_INTERVAL_S``, 0.1 s).
2. Followers: a run that computes (a fixed amount of pure-Python work per step) and prints
   a PROGRESS line and a log line per step (≈ 12,000 lines/s here), timed from inside;
   once with no client, once with 100 WebSocket clients following its run stream (log
   included) from another process. Alternated, medians. Goal: the run's steps/s drop by
   under 5 %. The clients' process runs at nice 19: followers are browsers on other
   machines, and on this 2-core VM their own reading would otherwise be measured as the
   daemon's cost. The daemon's CPU seconds (with its parse process) are reported for
   both cases: that is what 100 followers cost runyard itself.

    python benchmarks/bench_streams.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from _common import Daemon, summary_ms, write_results

LATENCY_SCRIPT = """
import time
for i in range({count}):
    print('PROGRESS: {{"step": %d, "sent": %.6f}}' % (i, time.time()), flush=True)
    time.sleep(0.05)
"""

CHATTY_SCRIPT = """
import os, time
while not os.path.exists({gate!r}):
    time.sleep(0.005)
def work(n):
    total = 0
    for k in range(n):
        total += k * k % 7
    return total
start = time.perf_counter()
for step in range({steps}):
    work({work})
    print('PROGRESS: {{"epoch": %d, "total_epochs": 10, "step": %d, "loss": %.5f, "lr": 0.001}}'
          % (step * 10 // {steps} + 1, step, 1.0 / (step + 1)), flush=True)
    print('step %d: batch 32/32 done, grad norm 1.234, throughput 1234.5 samples/s' % step, flush=True)
print('ELAPSED %.6f' % (time.perf_counter() - start), flush=True)
"""


async def measure_latency(daemon: Daemon, count: int) -> list[float]:
    run_id = daemon.submit([sys.executable, "-c", LATENCY_SCRIPT.format(count=count)])
    delays: list[float] = []
    url = f"{daemon.url.replace('http', 'ws')}/api/v1/runs/{run_id}/ws?log=false&token={daemon.token}"
    seen: set[float] = set()
    async with websockets.connect(url, max_size=None) as ws:
        async for text in ws:
            now = time.time()
            message = json.loads(text)
            if message["kind"] != "metrics":
                continue
            for key, x, value in message["data"]["points"]:
                if key == "sent" and x not in seen:
                    seen.add(x)
                    delays.append(now - value)
    return delays


def followers_process(url: str, clients: int, ready: Any, received: Any) -> None:
    """100 WebSocket clients in their own process, reading every message until the end;
    ``received`` gets how many bytes of messages they got, all together."""

    async def follow(counter: list[int]) -> None:
        async with websockets.connect(url, max_size=None) as ws:
            first = await ws.recv()  # the run's state: from now on the client follows it
            with received.get_lock():
                received.value += len(first)
            counter[0] += 1
            if counter[0] == clients:
                ready.set()
            async for text in ws:
                with received.get_lock():
                    received.value += len(text)

    os.nice(19)

    async def main() -> None:
        counter = [0]
        await asyncio.gather(*(follow(counter) for _ in range(clients)))

    asyncio.run(main())


def daemon_cpu_s(daemon: Daemon) -> float:
    """CPU seconds of the daemon and its parse process (not of the runs it started)."""
    main = psutil.Process(daemon.process.pid)
    total = 0.0
    for process in [main, *main.children(recursive=True)]:
        try:
            if process is main or "spawn_main" in " ".join(process.cmdline()):
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            pass
    return total


def chatty_run(daemon: Daemon, root: Path, clients: int, steps: int, work: int) -> tuple[float, int, float]:
    gate = root / f"gate-{time.monotonic_ns()}"
    script = CHATTY_SCRIPT.format(gate=str(gate), steps=steps, work=work)
    run_id = daemon.submit([sys.executable, "-c", script])
    follower = None
    received = multiprocessing.Value("q", 0)
    if clients:
        url = f"{daemon.url.replace('http', 'ws')}/api/v1/runs/{run_id}/ws?token={daemon.token}"
        ready = multiprocessing.Event()
        follower = multiprocessing.Process(target=followers_process, args=(url, clients, ready, received))
        follower.start()
        if not ready.wait(60):
            raise SystemExit("the followers did not connect")
    cpu_before = daemon_cpu_s(daemon)
    gate.touch()
    while daemon.client.get(f"/api/v1/runs/{run_id}").json()["status"] not in ("completed", "failed"):
        time.sleep(0.1)
    cpu = daemon_cpu_s(daemon) - cpu_before
    if follower is not None:
        follower.join(60)
    log = daemon.client.get(f"/api/v1/runs/{run_id}/log", params={"offset": 0, "limit": 16 << 20}).text
    elapsed = float(log.rsplit("ELAPSED ", 1)[1].split()[0])
    return steps / elapsed, int(received.value), cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--work", type=int, default=2000, help="loop iterations of compute per step")
    parser.add_argument("--steps", type=int, default=20000, help="steps of the chatty run")
    parser.add_argument("--name", default="streams", help="results file name")
    args = parser.parse_args()
    count, rounds, steps = (40, 1, 2000) if args.quick else (200, 11, args.steps)
    work, clients = args.work, 100
    root = Path(tempfile.mkdtemp(prefix="runyard-bench-streams-"))
    daemon = Daemon(root / "home", cpu_slots="1")
    try:
        delays = asyncio.run(measure_latency(daemon, count))
        alone: list[float] = []
        followed: list[float] = []
        received: list[int] = []
        cpu_alone: list[float] = []
        cpu_followed: list[float] = []
        for _ in range(rounds):  # alternated, so that drift hits both alike
            rate, _, cpu = chatty_run(daemon, root, 0, steps, work)
            alone.append(rate)
            cpu_alone.append(cpu)
            rate, got, cpu = chatty_run(daemon, root, clients, steps, work)
            followed.append(rate)
            received.append(got)
            cpu_followed.append(cpu)
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
    drop = 1 - statistics.median(followed) / statistics.median(alone)
    write_results(args.name, {
        "metric_to_websocket": summary_ms(delays) | {"goal_p95_ms": 250},
        "followers": {
            "clients": clients,
            "steps_per_run": steps,
            "lines_per_step": 2,
            "work_per_step": work,
            "alone_steps_per_s": [round(v, 1) for v in alone],
            "followed_steps_per_s": [round(v, 1) for v in followed],
            "followers_received_mib": [round(b / 2**20, 1) for b in received],
            "daemon_cpu_s_alone": [round(v, 2) for v in cpu_alone],
            "daemon_cpu_s_followed": [round(v, 2) for v in cpu_followed],
            "throughput_drop": round(drop, 4),
            "goal_drop": 0.05,
        },
    })


if __name__ == "__main__":
    main()
