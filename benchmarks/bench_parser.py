"""How fast the output parser scans a realistic training log (goal: >= 1,000,000 lines/s).

The log mixes 90 % plain lines (logging chatter), 9 % tqdm progress-bar lines made of
``\\r``-redraws, and 1 % PROGRESS reports, and is fed to ``RunParser.feed`` in 64 KiB
chunks, as the ingester reads a growing file. Two more figures are measured in the same
run, on the same machine:

- ``legacy``: the same mix with legacy lines in place of PROGRESS, so legacy and framework
  reading stay on for the whole log (the slower, case-insensitive path);
- ``naive``: the obvious parser, a Python loop over every line and ``\\r``-segment that
  reads PROGRESS lines with orjson, doing far less than RunParser: the ratio shows what
  the block scan buys.

Usage: python benchmarks/bench_parser.py [--lines 2000000] [--repeats 5]
Writes benchmarks/results/parser.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from runyard.protocol import RunParser

GOAL_LINES_PER_S = 1_000_000
CHUNK = 64 * 1024
RESULTS = Path(__file__).parent / "results" / "parser.json"

PLAIN = [
    "[{ts}] INFO dataloader: worker {a} loaded shard {b} ({c} samples) from /data/imagenet/train",
    "[{ts}] DEBUG model: forward pass batch {b} shape=(256, 3, 224, 224) dtype=torch.float16",
    "[{ts}] WARNING torch.distributed: NCCL_ASYNC_ERROR_HANDLING is deprecated, use TORCH_NCCL_ASYNC_ERROR_HANDLING",
    "/usr/lib/python3.11/site-packages/torch/utils/data/dataloader.py:{c}: UserWarning: This DataLoader will create {a} worker processes",
    "  warnings.warn(",
    "step {b}: grad scaler scale=65536.0, skipped=0, tokens/s={c}",
    "Saving checkpoint to /runs/exp-{a}/checkpoints/step-{b}.pt",
    "[{ts}] INFO trainer: starting epoch {a} with CrossEntropyLoss(label_smoothing=0.1)",
    "Memory: allocated {c} MiB, reserved {b} MiB, peak {c} MiB",
]
BAR = (
    "\rtrain:  {p:3d}%|{bar:<10}| {n}/1000 [00:{s:02d}<00:{r:02d}, 85.{c:02d}it/s, loss={loss:.4f}]"
)


def plain_line(rng: random.Random) -> str:
    template = rng.choice(PLAIN)
    a, b, c = rng.randrange(8), rng.randrange(100_000), rng.randrange(10_000)
    return template.format(
        ts=f"2026-05-01 12:{b % 60:02d}:{c % 60:02d},{c % 1000:03d}", a=a, b=b, c=c
    )


def bar_line(rng: random.Random) -> str:
    segments = []
    for k in range(1, rng.randrange(5, 20)):
        p = min(100, k * 7)
        bar = "█" * (p // 10) + "▌" * (p % 10 >= 5)
        segments.append(
            BAR.format(p=p, bar=bar, n=p * 10, s=k % 60, r=(60 - k) % 60, c=k % 100, loss=1 / k)
        )
    return "".join(segments)


def progress_line(rng: random.Random, i: int) -> str:
    epoch = 1 + i // 200_000
    report: dict[str, object] = {
        "epoch": epoch,
        "total_epochs": 10,
        "step": i,
        "train_loss": rng.random(),
        "lr": 1e-4,
    }
    if rng.random() < 0.2:
        report.update(val_loss=rng.random(), val_accuracy=100 * rng.random())
    report["status"] = "training"
    return "PROGRESS: " + json.dumps(report)


def legacy_line(rng: random.Random, i: int) -> str:
    return f"Epoch {1 + i // 200_000}/10, Train Loss: {rng.random():.4f}, Train Accuracy: {100 * rng.random():.2f}%"


def make_log(lines: int, report: Callable[[random.Random, int], str], seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        r = rng.random()
        out.append(plain_line(rng) if r < 0.90 else bar_line(rng) if r < 0.99 else report(rng, i))
    return ("\n".join(out) + "\n").encode()


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def run_parser(pieces: list[bytes]) -> int:
    parser = RunParser()
    points = 0
    for piece in pieces:
        points += len(parser.feed(piece).points)
    points += len(parser.finish().points)
    return points


def run_naive(pieces: list[bytes]) -> int:
    """A per-line loop that only reads PROGRESS lines: the approach the block scan replaces."""
    pending = b""
    points = 0
    for piece in pieces:
        data = pending + piece
        *lines, pending = data.split(b"\n")
        for line in lines:
            for segment in line.split(b"\r"):
                body = segment.strip()
                if body.startswith(b"PROGRESS:"):
                    report = orjson.loads(body[9:])
                    points += sum(isinstance(v, float) for v in report.values())
    return points


def timed(
    fn: Callable[[list[bytes]], int], pieces: list[bytes], lines: int, repeats: int
) -> dict[str, object]:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(pieces)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {
        "median_s": round(median, 4),
        "runs_s": [round(s, 4) for s in seconds],
        "lines_per_s": round(lines / median),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    progress_log = make_log(args.lines, progress_line)
    legacy_log = make_log(args.lines, legacy_line)
    progress_pieces, legacy_pieces = chunks(progress_log), chunks(legacy_log)
    figures = {
        "progress_mix": timed(run_parser, progress_pieces, args.lines, args.repeats),
        "legacy_mix": timed(run_parser, legacy_pieces, args.lines, args.repeats),
        "naive_progress_only": timed(run_naive, progress_pieces, args.lines, args.repeats),
    }
    main_rate = figures["progress_mix"]["lines_per_s"]
    naive_rate = figures["naive_progress_only"]["lines_per_s"]
    assert isinstance(main_rate, int) and isinstance(naive_rate, int)
    result = {
        "benchmark": "parser",
        "lines": args.lines,
        "bytes": len(progress_log),
        "chunk_bytes": CHUNK,
        "mix": "90% plain, 9% tqdm \\r bars, 1% PROGRESS (legacy_mix: 1% legacy lines instead)",
        "goal_lines_per_s": GOAL_LINES_PER_S,
        "meets_goal": main_rate >= GOAL_LINES_PER_S,
        "speedup_vs_naive": round(main_rate / naive_rate, 2),
        "figures": figures,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, figure in figures.items():
        print(
            f"{name:22} {figure['lines_per_s']:>12,} lines/s  (median of {args.repeats}: {figure['median_s']} s)"
        )
    verdict = "meets" if result["meets_goal"] else "MISSES"
    print(
        f"goal {GOAL_LINES_PER_S:,} lines/s: {verdict}; {result['speedup_vs_naive']}x the naive loop"
    )
    print(f"written to {RESULTS}")
    sys.exit(0)


if __name__ == "__main__":
    main()
