"""A fake training run that reports through runyard's helper (PROTOCOL.md §11).

``from runyard import report`` imports only the standard library. ``report(epoch,
total_epochs, **metrics)`` prints one PROGRESS line and flushes it; ``report.completed``
prints the final one. It warns on stderr (once) when an accuracy looks like a fraction:
pass ``--fractions`` to see that.

    python examples/report_helper_train.py --epochs 3 --sleep 0.1
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from runyard import report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", "3")))
    parser.add_argument("--sleep", type=float, default=float(os.environ.get("SLEEP", "0.1")))
    parser.add_argument(
        "--fractions", action="store_true", help="report accuracies as fractions (wrong)"
    )
    args = parser.parse_args()
    scale = 1.0 if args.fractions else 100.0
    step = 0
    for epoch in range(1, args.epochs + 1):
        time.sleep(args.sleep)
        step += 100
        progress = epoch / args.epochs
        loss = 2.3 * math.exp(-2.5 * progress)
        accuracy = scale * (1 - 0.9 * math.exp(-3 * progress))
        metrics = {
            "train_loss": round(loss, 4),
            "val_loss": round(loss * 1.1, 4),
            "val_accuracy": round(accuracy, 4),
            "layer_activity_map": {"Block_01": 34.5, "Block_02": 12.25},
            "adaptive_mode": epoch > 1,
        }
        if epoch < args.epochs:
            report(epoch, args.epochs, step=step, **metrics)
        else:
            report.completed(
                epoch,
                args.epochs,
                step=step,
                test_accuracy=round(accuracy - scale / 200, 4),
                **metrics,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
