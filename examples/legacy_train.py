"""A fake training run in the plain format of older scripts (PROTOCOL.md §5).

runyard reads these lines with no change to the script: ``Epoch N/M`` sets the epoch,
and ``Train Loss: 0.41``-style pairs on that line or the lines after it are its metrics.
With no completed report, a run that exits 0 is still completed (warning
``no_completed_report``) and takes its final results from its last report.

    python examples/legacy_train.py --epochs 3 --sleep 0.1
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "3")))
    parser.add_argument("--sleep", type=float, default=float(os.environ.get("SLEEP", "0.1")))
    args = parser.parse_args()
    for epoch in range(1, args.epochs + 1):
        time.sleep(args.sleep)
        progress = epoch / args.epochs
        train_loss = 2.3 * math.exp(-2.5 * progress)
        train_accuracy = 100 * (1 - 0.9 * math.exp(-3 * progress))
        print(f"Epoch {epoch}/{args.epochs}")
        print(f"Train Loss: {train_loss:.4f} | Train Acc: {train_accuracy:.2f}%")
        print(
            f"Test Loss: {train_loss * 1.08:.4f} | Test Acc: {train_accuracy - 1:.2f}%", flush=True
        )
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
