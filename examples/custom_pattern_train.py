r"""A fake training run with its own output format, read through custom patterns (PROTOCOL.md §6).

It prints ``iter 100 loss 0.5321 acc 61.20`` every few iterations. runyard reads those
with the run's own regular expressions: a group named ``step`` (or ``epoch``) sets x,
every other named group is a metric of that name.

    runyard submit \
      --metric-pattern 'iter (?P<step>\d+) loss (?P<train_loss>[-\d.e]+) acc (?P<train_accuracy>[\d.]+)' \
      -- python examples/custom_pattern_train.py --iters 500

    python examples/custom_pattern_train.py --iters 500 --sleep 0
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=int(os.environ.get("ITERS", "300")))
    parser.add_argument("--every", type=int, default=50, help="print every N iterations")
    parser.add_argument(
        "--sleep",
        type=float,
        default=float(os.environ.get("SLEEP", "0.01")),
        help="seconds per print",
    )
    args = parser.parse_args()
    for it in range(args.every, args.iters + 1, args.every):
        time.sleep(args.sleep)
        loss = 2.3 * math.exp(-it / args.iters * 2.5)
        accuracy = 100 * (1 - 0.9 * math.exp(-3 * it / args.iters))
        print(f"iter {it} loss {loss:.4f} acc {accuracy:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
