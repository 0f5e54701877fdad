"""How long one planning pass takes over a long queue: the goal is < 10 ms per pass.

The scheduler plans at least every second and on every submit and attempt end, so a pass
over 10,000 queued runs against 8 GPUs must stay cheap. The queue is a realistic mix:
mostly single-GPU exclusive runs, some multi-GPU and MIN-MAX runs, some shared runs with a
memory need, a few pinned, a few CPU-only, a few with swap locks; most GPUs are claimed,
so nearly every run is blocked and the pass has to scan all of them.

    python benchmarks/bench_planner.py [--out FILE] [--passes N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from runyard.scheduler.planner import (
    Claim,
    ClusterState,
    GpuState,
    Pending,
    explain,
    order_key,
    plan,
)

GOAL_MS = 10.0
EXPLAIN_GOAL_MS = 100.0


def build_queue(n: int, rng: random.Random, varied_mem: bool = False) -> list[Pending]:
    queue = []
    for run_id in range(1, n + 1):
        roll = rng.random()
        gpus_min = gpus_max = 1
        mem: int | None = None
        ids: tuple[int, ...] | None = None
        if roll < 0.15:
            gpus_min = gpus_max = rng.choice((2, 4, 8))
        elif roll < 0.25:
            gpus_min, gpus_max = 1, 4
        elif roll < 0.50:
            mem = (
                rng.randrange(4_000, 60_000)
                if varied_mem
                else rng.choice((6_000, 12_000, 20_000, 40_000))
            )
        elif roll < 0.55:
            ids = (rng.randrange(8),)
        elif roll < 0.60:
            gpus_min = gpus_max = 0
        key = order_key(rng.choice((0, 0, 0, 1, 2, -1)), 1_000.0 + run_id, 600.0)
        queue.append(
            Pending(
                run_id=run_id,
                order_key=key,
                gpus_min=gpus_min,
                gpus_max=gpus_max,
                gpu_mem_mib=mem,
                gpu_ids=ids,
                timeout_s=rng.choice((None, None, 3600.0, 86_400.0)),
                locks=(f"/proj/model_{rng.randrange(20)}.py",) if rng.random() < 0.05 else (),
            )
        )
    return queue


def build_state() -> ClusterState:
    gpus = tuple(GpuState(index=i, memory_mib=81_559) for i in range(8))
    gpus = (*gpus[:7], GpuState(index=7, memory_mib=81_559, external_mib=9_000, external_busy=True))
    claims = [
        Claim(run_id=100_000 + i, gpu_index=i, mem_mib=None, deadline=5_000.0 + i) for i in range(5)
    ]
    # GPU 5 is shared and nearly full, GPU 6 has a small hole: shared runs must look, most fail
    claims += [Claim(100_010, 5, 70_000, None), Claim(100_011, 6, 78_000, 4_000.0)]
    return ClusterState(gpus=gpus, claims=tuple(claims), cpu_slots=2, cpu_running=2, now=2_000.0)


def time_ms(fn: Callable[[], object], passes: int) -> list[float]:
    fn()  # warm up
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: Sequence[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "min_ms": round(ordered[0], 3),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(p95, 3),
    }


def bare_scan(queue: Sequence[Pending]) -> int:
    """The baseline: one pass reading what the planner reads of each run, deciding nothing."""
    seen = 0
    for p in queue:
        if p.gpus_max and p.gpu_mem_mib is None and p.gpu_ids is None and not p.locks:
            seen += 1
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "planner.json"
    )
    parser.add_argument("--passes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()

    rng = random.Random(42)
    queue = sorted(build_queue(args.runs, rng), key=lambda p: (p.order_key, p.run_id))
    shuffled = queue[:]
    rng.shuffle(shuffled)
    # after OOM retries grow their memory, nearly every shared run asks a different amount
    varied = sorted(
        build_queue(args.runs, rng, varied_mem=True), key=lambda p: (p.order_key, p.run_id)
    )
    state = build_state()
    few = max(5, args.passes // 5)
    timings = {
        "baseline_bare_scan": summary(time_ms(lambda: bare_scan(queue), args.passes)),
        "plan_sorted": summary(time_ms(lambda: plan(queue, state), args.passes)),
        "plan_unsorted": summary(time_ms(lambda: plan(shuffled, state), args.passes)),
        "plan_varied_memory": summary(time_ms(lambda: plan(varied, state), args.passes)),
        "explain_sorted": summary(time_ms(lambda: explain(queue, state), few)),
        "explain_varied_memory": summary(time_ms(lambda: explain(varied, state), few)),
    }
    goals = {"plan": GOAL_MS, "explain": EXPLAIN_GOAL_MS}
    for name, figures in timings.items():
        goal = goals.get(name.split("_")[0])
        verdict = "" if goal is None else f"   goal: median < {goal:g} ms: "
        if goal is not None:
            verdict += "OK" if figures["median_ms"] < goal else "MISSED"
        print(
            f"{name:22} min {figures['min_ms']:7.3f}  median {figures['median_ms']:7.3f}"
            f"  p95 {figures['p95_ms']:7.3f} ms{verdict}"
        )
    started = plan(queue, state)
    print(f"{len(started)} of {args.runs} runs start in each pass; {len(state.gpus)} GPUs")
    results = {
        "runs": args.runs,
        "gpus": len(state.gpus),
        "passes": args.passes,
        "started_per_pass": len(started),
        "goal_plan_ms": GOAL_MS,
        "goal_explain_ms": EXPLAIN_GOAL_MS,
        **timings,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],  # other work on the machine inflates the p95
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
