"""The plain format of older scripts (PROTOCOL.md §5), read until the first PROGRESS line.

    Epoch 1/10, Train Loss: 0.5432, Train Accuracy: 85.5%
    Epoch 2/10
    Train Loss: 0.4121 | Train Acc: 88.10%
    Test Loss: 0.3999 | Test Acc: 87.20%

``Epoch N/M`` sets the current epoch and total (Keras prints the same header, so it
serves both). A pair ``<Train|Test|Val|Validation> <Loss|Acc|Accuracy>`` (one space
between the words, as the protocol writes them) followed by ``:`` or ``=`` and a number,
with an optional ``%``, is a metric of the current epoch: ``train_loss``,
``test_accuracy``, ``val_loss`` … Words match in any case (``train loss:`` is as common
as ``Train Loss:``); the number may be ``nan`` or ``inf``, which a diverging run prints. Which epoch a pair belongs to is the parser's business: it keeps the epoch of
the last header, so pairs on the lines after a header belong to it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)\b"

# Integers are bounded to 15 digits: a longer one is noise, and int() refuses 4,300+.
# Both are matched against the lowered segment: a case-sensitive pattern that starts with
# a literal or a small alternation is several times faster in ``re`` than IGNORECASE, and
# progress-bar redraws make this path hot before a run's first PROGRESS line.
HEADER = re.compile(r"epoch\s+(\d{1,15})\s*/\s*(\d{1,15})")
PAIR = re.compile(rf"(train|test|validation|val) (loss|accuracy|acc)\s*[:=]\s*({NUMBER.lower()})")
PAIR_SPLITS = (b"train", b"test", b"val", b"validation")
PAIR_WORDS = tuple(f"{split.decode()} {kind}" for split in PAIR_SPLITS for kind in ("loss", "acc"))
"""Every pair starts with one of these (lowered)."""
SPLITS = {"train": "train", "test": "test", "val": "val", "validation": "val"}
KINDS = {"loss": "loss", "acc": "accuracy", "accuracy": "accuracy"}


class LegacyPair(NamedTuple):
    name: str
    value: float
    printed: str


def read_header(lowered: str) -> tuple[int, int] | None:
    """``(epoch, total)`` of an ``Epoch N/M`` header in the (lowered) segment, if any."""
    match = HEADER.search(lowered) if "epoch" in lowered else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def read_pairs(segment: str, lowered: str) -> list[LegacyPair]:
    """Every metric pair in the segment, named the protocol's way.

    ``lowered`` is ``segment.lower()``; the pair must start a word (``pretrain loss`` is
    not ``train_loss``), checked by hand because a leading ``\\b`` makes ``re`` slow.
    """
    pairs = []
    same_shape = len(lowered) == len(segment)
    for match in PAIR.finditer(lowered):
        start = match.start()
        if start and (lowered[start - 1].isalnum() or lowered[start - 1] == "_"):
            continue
        split, kind, number = match.groups()
        name = f"{SPLITS[split]}_{KINDS[kind]}"
        printed = segment[start : match.end(2)] if same_shape else f"{split} {kind}"
        pairs.append(LegacyPair(name, float(number), " ".join(printed.split())))
    return pairs
