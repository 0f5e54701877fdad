"""Shared bits of the benchmarks: statistics and writing figures to benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).parent / "results"
START = "from runyard.daemon import serve; from runyard.settings import Settings; serve(Settings(), port_fallback=True)"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(seconds) * 1e3, 3),
        "p95_ms": round(percentile(seconds, 0.95) * 1e3, 3),
        "min_ms": round(min(seconds) * 1e3, 3),
        "max_ms": round(max(seconds) * 1e3, 3),
        "n": len(seconds),
    }


def timed(fn: Callable[[], Any], repeats: int, before: Callable[[], Any] | None = None,
          warm_up: bool = False) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` (``before`` runs untimed ahead of each;
    ``warm_up``: one untimed call first, so first-call costs are not the figure)."""
    if warm_up:
        fn()
    seconds = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def write_results(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    figures = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        **figures,
    }
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return path


class Daemon:
    """A real daemon (``runyard serve``) in its own process, on a free port, with no GPUs."""

    def __init__(self, home: Path, **settings: str) -> None:
        env = {
            **os.environ,
            "RUNYARD_HOME": str(home),
            "RUNYARD_PORT": "0",
            "RUNYARD_CPU_SLOTS": "1",
            "RUNYARD_GPU_INVENTORY": str(home / "none.json"),
            **{f"RUNYARD_{k.upper()}": v for k, v in settings.items()},
        }
        home.mkdir(parents=True)
        (home / "none.json").write_text('{"gpus": []}')
        self.process = subprocess.Popen(
            [sys.executable, "-c", START],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not (home / "server.json").exists():
            time.sleep(0.02)
        info = json.loads((home / "server.json").read_text())
        self.url, self.token = info["url"], info["token"]
        self.client = httpx.Client(
            base_url=info["url"], headers={"Authorization": f"Bearer {info['token']}"}
        )
        self.env = env

    def submit(self, argv: list[str]) -> int:
        answer = self.client.post(
            "/api/v1/runs", json={"command": argv, "workdir": "/tmp", "gpus_min": 0}
        )
        answer.raise_for_status()
        return int(answer.json()["id"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
