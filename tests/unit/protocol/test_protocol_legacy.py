"""PROTOCOL.md §5: legacy lines, read until the first PROGRESS line."""

from __future__ import annotations

import pytest
from protocol_helpers import parse, points, progress, values

from runyard.protocol import Source


def test_header_and_pairs_on_one_line() -> None:
    summary = parse("Epoch 1/10, Train Loss: 0.5432, Train Accuracy: 85.5%")
    assert values(summary) == {"train_loss": 0.5432, "train_accuracy": 85.5}
    assert {(p.x, p.epoch) for p in summary.points} == {(1.0, 1)}
    assert summary.progress == (1, 10, None)


def test_pairs_on_the_lines_after_a_header_belong_to_its_epoch() -> None:
    summary = parse(
        "Epoch 2/10",
        "Train Loss: 0.4121 | Train Acc: 88.10%",
        "some chatter",
        "Test Loss: 0.3999 | Test Acc: 87.20%",
    )
    assert values(summary) == {
        "train_loss": 0.4121,
        "train_accuracy": 88.1,
        "test_loss": 0.3999,
        "test_accuracy": 87.2,
    }
    assert {p.x for p in summary.points} == {2.0}
    assert [p.line for p in summary.points] == [2, 2, 4, 4]


def test_a_report_carries_its_epoch_so_far() -> None:
    summary = parse(
        "Epoch 2/10", "Train Loss: 0.4", "Test Acc: 87.2", "Epoch 3/10", "Train Loss: 0.3"
    )
    assert [r.metrics for r in summary.reports] == [
        {"train_loss": 0.4},
        {"train_loss": 0.4, "test_accuracy": 87.2},
        {"train_loss": 0.3},
    ]
    assert [r.has_eval for r in summary.reports] == [False, True, False]
    assert {r.source for r in summary.reports} == {Source.LEGACY}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Val Loss=0.25", {"val_loss": 0.25}),
        ("Validation Accuracy: 91.5 %", {"val_accuracy": 91.5}),
        ("validation acc = 0.9", {"val_accuracy": 0.9}),
        ("TRAIN LOSS: 1e-3", {"train_loss": 0.001}),
        ("test accuracy:88", {"test_accuracy": 88.0}),
        ("Train Loss: nan", {"train_loss": float("nan")}),
        ("Pretrain Loss: 0.5", {}),
        ("Train Loss 0.5", {}),
        ("Train  Loss: 0.5", {}),
        ("Train_Loss: 0.5", {}),
        ("Train Loss: n/a", {}),
    ],
)
def test_pair_spellings(line: str, expected: dict[str, float]) -> None:
    assert repr(values(parse(line))) == repr(expected)


@pytest.mark.parametrize(
    "header", ["Epoch 3/10", "epoch 3 / 10", "EPOCH 3/10 starting", "[Epoch 3/10]"]
)
def test_header_spellings(header: str) -> None:
    assert parse(header).progress == (3, 10, None)


def test_pairs_before_any_header_land_at_x_zero() -> None:
    [point] = parse("Train Loss: 0.5").points
    assert (point.x, point.epoch) == (0.0, None)


def test_legacy_reading_stops_at_the_first_progress_line() -> None:
    summary = parse(
        "Epoch 1/2",
        "Train Loss: 0.5",
        progress(epoch=1, total_epochs=2, train_loss=0.45),
        "Epoch 2/2",
        "Train Loss: 0.4",
    )
    assert [(p.x, p.value) for p in points(summary, "train_loss")] == [(1.0, 0.5), (1.0, 0.45)]
    assert summary.progress == (1, 2, None)


def test_even_a_malformed_progress_line_stops_legacy_reading() -> None:
    summary = parse("PROGRESS: {broken", "Epoch 1/2", "Train Loss: 0.5")
    assert summary.points == []


def test_legacy_and_progress_on_one_line_in_order() -> None:
    summary = parse("Train Loss: 0.9\r" + progress(train_loss=0.8) + "\rTrain Loss: 0.7")
    assert [p.value for p in summary.points] == [0.9, 0.8]


def test_tqdm_postfix_is_not_a_pair() -> None:
    bar = "".join(
        f"\rEpoch 1: {k}0%|##| {k}/10 [00:01<00:02, loss={1 / k:.3f}, acc=0.5]"
        for k in range(1, 10)
    )
    summary = parse(bar)
    assert summary.points == [] and summary.reports == []
