"""Chunk boundaries, saved state and hostile bytes: the parser's streaming guarantees.

Whatever the chunking, a log parses the same; a parser restored from its saved state and
fed the log from its saved offset continues exactly; no input makes ``feed`` raise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_helpers import progress

from runyard.protocol import MAX_LINE_BYTES, ParseResult, RunParser

LINES = [
    progress(
        epoch=1, total_epochs=3, step=10, train_loss=0.5, accuracy=0.4, info={"phase": "warm"}
    ),
    progress(epoch=2, total_epochs=3, val_accuracy=81.0, status="training"),
    progress(epoch=3, total_epochs=4, test_accuracy=0.9, status="completed"),
    'PROGRESS: {"epoch": 2, "total_epochs": 3, "status": "training", "loss": NaN}',
    "PROGRESS: {broken",
    "PROGRESS: [1]",
    "Epoch 2/3",
    "Train Loss: 0.41 | Train Acc: 88.1%",
    "Test Loss=0.39, Test Accuracy=0.87",
    "\x1b[1m3/6\x1b[0m ━━━ 0s - accuracy: 0.5 - loss: 0.7\x08\x08\r6/6 - accuracy: 0.6 - loss: 0.6 - val_loss: 0.5",
    "{'loss': '0.69', 'learning_rate': '5e-05', 'epoch': '0.5'}",
    "{'eval_loss': 0.5, 'eval_accuracy': 0.8, 'epoch': 1.0}",
    "Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.3",
    "Test set: Average loss: 0.0470, Accuracy: 9845/10000 (98%)",
    "\r 10%|█  | 1/10 [loss=0.5]\r 20%|██ | 2/10 [loss=0.4]",
    "iter 100 loss 0.25",
    "plain chatter about training",
    "",
]
PATTERNS = (r"iter (?P<step>\d+) loss (?P<custom_loss>[\d.]+)",)

lines = st.lists(
    st.one_of(st.sampled_from(LINES).map(str.encode), st.binary(max_size=40)),
    max_size=25,
)
logs = st.builds(
    lambda parts, ends: b"".join(p + e for p, e in zip(parts, ends, strict=False)),
    lines,
    st.lists(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n"]), min_size=25, max_size=25),
)


class Seen:
    """What a caller collects over many calls; repr so that NaN equals NaN."""

    def __init__(self) -> None:
        self.points: list[str] = []
        self.reports: list[str] = []
        self.warnings: list[str] = []

    def add(self, result: ParseResult) -> None:
        self.points += map(repr, result.points)
        self.reports += map(repr, result.reports)
        self.warnings += map(repr, result.warnings)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Seen) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return repr(vars(self))


def parse_in_pieces(data: bytes, cuts: list[int]) -> tuple[Seen, dict[str, Any]]:
    parser = RunParser(PATTERNS)
    seen = Seen()
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        seen.add(parser.feed(data[start:cut]))
        start = max(start, cut)
    seen.add(parser.finish())
    return seen, parser.state()


@settings(max_examples=150, deadline=None)
@given(data=logs, cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_chunking_never_changes_what_is_parsed(data: bytes, cuts: list[int]) -> None:
    cuts = [c for c in cuts if c <= len(data)]
    assert parse_in_pieces(data, cuts) == parse_in_pieces(data, [])


@settings(max_examples=30, deadline=None)
@given(data=logs)
def test_byte_by_byte_equals_all_at_once(data: bytes) -> None:
    assert parse_in_pieces(data, list(range(len(data)))) == parse_in_pieces(data, [])


@settings(max_examples=150, deadline=None)
@given(data=logs, split=st.integers(min_value=0, max_value=2000))
def test_restored_state_continues_exactly(data: bytes, split: int) -> None:
    whole, whole_state = parse_in_pieces(data, [])

    first = RunParser(PATTERNS)
    seen = Seen()
    seen.add(first.feed(data[: min(split, len(data))]))
    saved = json.loads(json.dumps(first.state()))
    restored = RunParser.from_state(saved, PATTERNS)
    assert restored.state() == saved
    seen.add(restored.feed(data[restored.offset :]))
    seen.add(restored.finish())
    assert (seen, restored.state()) == (whole, whole_state)


def test_restored_state_inside_a_long_line() -> None:
    data = b"a\n" + b"x" * (MAX_LINE_BYTES + 10) + b"\n" + progress(train_loss=0.5).encode() + b"\n"
    whole, _ = parse_in_pieces(data, [])
    first = RunParser(PATTERNS)
    seen = Seen()
    seen.add(first.feed(data[: MAX_LINE_BYTES + 5]))
    assert first.state()["skipping"]
    restored = RunParser.from_state(json.loads(json.dumps(first.state())), PATTERNS)
    seen.add(restored.feed(data[restored.offset :]))
    seen.add(restored.finish())
    assert seen == whole and restored.lines == 3


def test_long_lines_in_any_chunking() -> None:
    data = (b"k" * (MAX_LINE_BYTES + 1) + b"\n" + progress().encode() + b"\n") * 2 + b"x" * (
        MAX_LINE_BYTES + 1
    )
    expected = parse_in_pieces(data, [])
    for size in (4096, 65536, MAX_LINE_BYTES, MAX_LINE_BYTES + 1):
        assert parse_in_pieces(data, list(range(size, len(data), size))) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.binary(max_size=400))
def test_feed_never_raises(head: bytes, tail: bytes) -> None:
    parser = RunParser(PATTERNS)
    parser.feed(head)
    parser.feed(b"PROGRESS:" + tail + b"\n" + tail)
    parser.finish()
    parser.final_results(0)
    json.dumps(parser.state())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_feed_never_raises_on_text_near_the_formats(text: str) -> None:
    parser = RunParser()
    for prefix in (
        "PROGRESS: {",
        "Epoch 1/2 Train Loss: ",
        "{'epoch': ",
        "1/2 - loss: ",
        "Test set: Average loss: ",
    ):
        parser.feed((prefix + text + "\n").encode("utf-8", "surrogatepass"))
    parser.finish()


@pytest.mark.parametrize(
    "line",
    [
        "Epoch " + "9" * 5000 + "/10",
        "Epoch 12345678901234567890/3 Train Loss: 0.5",
        "Train Epoch: " + "9" * 5000 + " [0/1 (0%)]\tLoss: 0.5",
        "Test set: Average loss: 0.1, Accuracy: " + "9" * 5000 + "/1 (1%)",
        "  Num Epochs = " + "9" * 5000,
        "9" * 5000 + "/2 - loss: 0.5",
        'PROGRESS: {"epoch": 1'
        + "0" * 400
        + ', "total_epochs": 2, "step": 1'
        + "0" * 400
        + ', "status": "training", "x": 1}',
        'PROGRESS: {"epoch": 1e300, "total_epochs": 2, "status": "training", "x": 1e309}',
    ],
)
def test_huge_numbers_never_raise(line: str) -> None:
    parser = RunParser((r"(?P<step>\d+) (?P<x>\d+)",))
    parser.feed(f"{line}\n{line[:50]} 1\n".encode())
    parser.finish()
    assert all(abs(p.x) < 1e300 for p in parser.feed(b"").points)
