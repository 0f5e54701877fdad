"""How fast a 1,000,000-point series is downsampled to 1,000 points (goal: under 50 ms).

The series is a random walk with a few spikes, x the step (float64), as a chart query on
one long run gets it. Measured, each over the same repeats on the same machine:

- ``downsample``: ``store.downsample.downsample`` on ready numpy arrays (the goal's figure);
- ``downsample_with_nan``: the same with 1,000 NaN points scattered and one NaN stretch,
  which takes the non-finite path;
- ``arrays_from_tuples``: ``np.array`` over a list of (x, y) tuples, the obvious way to
  turn the rows a store hands back into arrays;
- ``arrays_from_tuples_fromiter``: ``np.fromiter`` over the same tuples, chained flat
  (about three times cheaper than ``np.array`` on tuples);
- ``arrays_from_columns``: ``np.fromiter`` over separate x and y lists, the cheapest shape
  a store can return;

so that the cost of the whole query path, not only of the algorithm, is visible.

Usage: python benchmarks/bench_downsample.py [--points 1000000] [--n-out 1000] [--repeats 20]
Writes benchmarks/results/downsample.json.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import summary_ms, timed, write_results

from runyard.store.downsample import downsample

GOAL_MS = 50.0


def series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=np.float64)
    y = np.cumsum(rng.normal(0.0, 0.01, n))
    spikes = sorted(int(i) for i in rng.choice(np.arange(1, n - 1), size=5, replace=False))
    for k, i in enumerate(spikes):
        y[i] += 25.0 if k % 2 == 0 else -25.0
    return x, y, spikes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--n-out", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    x, y, spikes = series(args.points)
    picked = downsample(x, y, args.n_out)
    kept = [i for i in spikes if i in set(picked.tolist())]

    y_nan = y.copy()
    y_nan[np.random.default_rng(1).choice(args.points, size=1_000, replace=False)] = np.nan
    y_nan[args.points // 3 : args.points // 3 + 10_000] = np.nan

    rows = list(zip(x.tolist(), y.tolist(), strict=True))
    xs, ys = x.tolist(), y.tolist()

    def from_tuples() -> None:
        table = np.array(rows, dtype=np.float64)
        np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1])

    def from_tuples_fromiter() -> None:
        flat = np.fromiter(itertools.chain.from_iterable(rows), np.float64, 2 * len(rows))
        table = flat.reshape(-1, 2)
        np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1])

    def from_columns() -> None:
        np.fromiter(xs, np.float64, len(xs)), np.fromiter(ys, np.float64, len(ys))

    measured = {
        "downsample": summary_ms(timed(lambda: downsample(x, y, args.n_out), args.repeats, warm_up=True)),
        "downsample_with_nan": summary_ms(
            timed(lambda: downsample(x, y_nan, args.n_out), args.repeats, warm_up=True)
        ),
        "arrays_from_tuples": summary_ms(timed(from_tuples, args.repeats, warm_up=True)),
        "arrays_from_tuples_fromiter": summary_ms(timed(from_tuples_fromiter, args.repeats, warm_up=True)),
        "arrays_from_columns": summary_ms(timed(from_columns, args.repeats, warm_up=True)),
    }
    write_results(
        "downsample",
        {
            "points": args.points,
            "n_out": args.n_out,
            "points_returned": len(picked),
            "spikes_kept": f"{len(kept)}/{len(spikes)}",
            "goal_ms": GOAL_MS,
            "goal_met": measured["downsample"]["p95_ms"] < GOAL_MS,
            **measured,
        },
    )


if __name__ == "__main__":
    main()
