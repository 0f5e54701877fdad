"""A fake training run that speaks runyard's protocol with plain prints (PROTOCOL.md §2).

No import of runyard is needed: a script reports progress by printing one line per
epoch, ``PROGRESS: {json}``. This one "trains" on the CPU for a few epochs, draws a
tqdm-like progress bar with ``\\r`` redraws (which runyard reads past), and ends with a
report whose status is "completed": its accuracy and losses become the final results.

    python examples/progress_train.py --epochs 3 --sleep 0.1
    runyard submit -- python examples/progress_train.py --epochs 5

Options can also come from the environment (EPOCHS, SLEEP, STEPS, BATCH_SIZE), which is
how runyard's OOM policy changes the batch size between retries. ``--fail-at N`` exits
with code 1 during epoch N; ``--oom-above B`` fails like PyTorch does when BATCH_SIZE > B.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time


def parse_args() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=int(env("EPOCHS", "3")))
    parser.add_argument(
        "--sleep", type=float, default=float(env("SLEEP", "0.1")), help="seconds per step"
    )
    parser.add_argument("--steps", type=int, default=int(env("STEPS", "5")), help="steps per epoch")
    parser.add_argument("--batch-size", type=int, default=int(env("BATCH_SIZE", "64")))
    parser.add_argument("--fail-at", type=int, default=0, help="exit 1 during this epoch")
    parser.add_argument(
        "--oom-above", type=int, default=0, help="run out of memory above this batch size"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def report(**fields: object) -> None:
    print("PROGRESS: " + json.dumps(fields), flush=True)


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    print(
        f"fake training: {args.epochs} epochs x {args.steps} steps, batch size {args.batch_size}",
        flush=True,
    )
    if args.oom_above and args.batch_size > args.oom_above:
        print(
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
            file=sys.stderr,
            flush=True,
        )
        return 1
    step = 0
    for epoch in range(1, args.epochs + 1):
        for i in range(1, args.steps + 1):
            step += 1
            time.sleep(args.sleep)
            done = i * 100 // args.steps
            bar = "#" * (done // 10)
            sys.stdout.write(
                f"\repoch {epoch}: {done:3d}%|{bar:<10}| {i}/{args.steps} [loss={1 / step:.3f}]"
            )
            sys.stdout.flush()
            if epoch == args.fail_at and i == args.steps // 2 + 1:
                print("\nRuntimeError: simulated failure", file=sys.stderr, flush=True)
                return 1
        sys.stdout.write("\n")
        progress = epoch / args.epochs
        train_loss = 2.3 * math.exp(-2.5 * progress) + rng.uniform(0, 0.02)
        test_loss = train_loss * 1.08
        train_accuracy = 100 * (1 - 0.9 * math.exp(-3 * progress))
        test_accuracy = train_accuracy - rng.uniform(0.5, 1.5)
        last = epoch == args.epochs
        report(
            epoch=epoch,
            total_epochs=args.epochs,
            step=step,
            train_loss=round(train_loss, 4),
            train_accuracy=round(train_accuracy, 2),
            test_loss=round(test_loss, 4),
            test_accuracy=round(test_accuracy, 2),
            lr=round(0.1 * 0.5 ** (epoch - 1), 6),
            lr_phase_name="warmup" if epoch == 1 else "decay",
            status="completed" if last else "training",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
