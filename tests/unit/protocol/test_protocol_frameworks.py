"""PROTOCOL.md §7: framework output read with no code change.

keras_fit.log, hf_trainer.log and pytorch_mnist.log are REAL captures (fixtures/capture.py,
versions in each file's first line); keras2_fit.log and hf_trainer_v4.log are written by
hand in the older versions' formats.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from protocol_helpers import kinds, parse, points, values

from runyard.protocol import Source, WarningKind, parse_log

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_keras3_real_capture() -> None:
    summary = parse_log(fixture("keras_fit.log"))
    fit = [
        r
        for r in summary.reports
        if r.source is Source.KERAS and r.has_eval and "val_loss" in r.metrics
    ]
    assert [r.x for r in fit[:3]] == [1.0, 2.0, 3.0]
    assert set(fit[0].metrics) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert all(
        0 <= v <= 100 and v > 1 for k, v in summary.metrics.items() if k.endswith("accuracy")
    )
    assert summary.progress == (2, 2, None)
    assert summary.results.accuracy_key == "test_accuracy"  # the closing model.evaluate
    assert kinds(summary) == []


def test_keras3_redraws_are_read_but_only_the_final_segment_asks_for_a_snapshot() -> None:
    summary = parse_log(fixture("keras_fit.log"))
    epoch_one = [r for r in summary.reports if r.line == 3]
    assert len(epoch_one) > 2
    assert [r.has_eval for r in epoch_one] == [False] * (len(epoch_one) - 1) + [True]


def test_keras2_style() -> None:
    summary = parse_log(fixture("keras2_fit.log"))
    last = {p.key: p.value for p in summary.points if p.x == 3.0}
    assert last == {
        "train_loss": 0.0741, "train_accuracy": 97.79, "val_loss": 0.0859, "val_accuracy": 97.37,
        "lr": 0.001, "test_loss": 0.0807, "test_accuracy": 97.58,
    }  # fmt: skip
    assert [p.value for p in points(summary, "train_accuracy")] == [9.38, 92.58, 96.83, 97.79]
    assert summary.results.accuracy == 97.58


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "10/10 - 0s - loss: 0.5 - sparse_categorical_accuracy: 0.9",
            {"train_loss": 0.5, "train_accuracy": 90.0},
        ),
        (
            "10/10 - 0s - loss: 0.5 - accuracy: 0.8 - top_k_categorical_accuracy: 0.95",
            {"train_loss": 0.5, "train_accuracy": 80.0, "top_k_categorical_accuracy": 95.0},
        ),
        (
            "10/10 - 0s - loss: nan - mae: 1.5 - val_loss: inf",
            {"train_loss": math.nan, "mae": 1.5, "val_loss": math.inf},
        ),
        ("10/10 - 0s - accuracy: 0.8", {}),
    ],
)
def test_keras_names(line: str, expected: dict[str, float]) -> None:
    assert repr(values(parse("Epoch 1/1", line))) == repr(expected)


def test_hf_trainer_real_capture() -> None:
    summary = parse_log(fixture("hf_trainer.log"))
    assert summary.progress == (3, 3, None)
    assert [p.x for p in points(summary, "train_loss")] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert [p.x for p in points(summary, "val_accuracy")] == [1.0, 2.0, 3.0]
    assert all(p.value > 1 for p in points(summary, "val_accuracy"))
    assert (
        "lr" in summary.metrics
        and "grad_norm" in summary.metrics
        and "train_loss_mean" in summary.metrics
    )
    assert [r.x for r in summary.reports if r.has_eval] == [1.0, 2.0, 3.0]
    assert (summary.results.accuracy_key, summary.results.accuracy_field) == (
        "val_accuracy",
        "eval_accuracy",
    )


def test_hf_trainer_v4_style() -> None:
    summary = parse_log(fixture("hf_trainer_v4.log"))
    assert summary.progress == (2, 2, None)
    assert [(p.x, p.value) for p in points(summary, "val_accuracy")] == [(1.0, 81.23), (2.0, 83.0)]
    assert values(summary)["val_f1"] == 0.8
    assert math.isnan(points(summary, "train_loss")[-1].value)
    assert [p.epoch for p in points(summary, "train_loss")] == [1, 1, 2]
    assert values(summary)["train_loss_mean"] == 0.49
    assert kinds(summary) == [WarningKind.NON_FINITE]


def test_pytorch_example_real_capture() -> None:
    summary = parse_log(fixture("pytorch_mnist.log"))
    tests = [r for r in summary.reports if "test_loss" in r.metrics and r.has_eval]
    assert [r.x for r in tests] == [1.0, 2.0, 3.0]
    assert summary.results.accuracy == pytest.approx(100 * 211 / 400)


def test_pytorch_example_accuracy_comes_from_the_counts() -> None:
    summary = parse(
        "Train Epoch: 4 [640/60000 (1%)]\tLoss: 0.431",
        "",
        "Test set: Average loss: 0.0470, Accuracy: 9845/10000 (98%)",
    )
    assert values(summary) == {"train_loss": 0.431, "test_loss": 0.047, "test_accuracy": 98.45}
    assert {p.x for p in summary.points} == {4.0}


def test_frameworks_stop_at_the_first_progress_line() -> None:
    summary = parse(
        'PROGRESS: {"epoch": 1, "total_epochs": 1, "status": "training"}',
        "{'loss': 0.5, 'epoch': 1.0}",
    )
    assert summary.points == []
