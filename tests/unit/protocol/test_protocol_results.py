"""PROTOCOL.md §3: final results and the warnings the exit code decides."""

from __future__ import annotations

import pytest
from protocol_helpers import parse, progress

from runyard.protocol import RunParser, WarningKind


def kinds_at_end(*lines: str, exit_code: int | None) -> list[WarningKind]:
    return [w.kind for w in parse(*lines, exit_code=exit_code).results.warnings]


@pytest.mark.parametrize(
    ("fields", "key", "field"),
    [
        (
            {"test_accuracy": 91.0, "val_accuracy": 92.0, "train_accuracy": 99.0},
            "test_accuracy",
            "test_accuracy",
        ),
        ({"accuracy": 90.5, "val_accuracy": 92.0}, "test_accuracy", "accuracy"),
        ({"accuracy": 90.5, "test_accuracy": 91.0}, "test_accuracy", "test_accuracy"),
        ({"val_accuracy": 92.0, "train_accuracy": 99.0}, "val_accuracy", "val_accuracy"),
        ({"train_accuracy": 99.0}, "train_accuracy", "train_accuracy"),
        ({"train_loss": 0.1}, None, None),
    ],
)
def test_final_accuracy_priority(
    fields: dict[str, float], key: str | None, field: str | None
) -> None:
    results = parse(progress(status="completed", **fields)).results
    assert (results.accuracy_key, results.accuracy_field) == (key, field)
    assert results.accuracy == (fields.get(key, fields.get("accuracy")) if key else None)


def test_losses_of_the_completed_report() -> None:
    line = progress(status="completed", loss=0.2, test_loss=0.3, val_loss=0.4, grad_norm=1.0)
    results = parse(progress(train_loss=9.0), line).results
    assert results.losses == {"train_loss": 0.2, "test_loss": 0.3, "val_loss": 0.4}
    assert (results.source, results.line, results.warnings) == ("completed_report", 2, ())


def test_completed_then_failed_keeps_the_results() -> None:
    summary = parse(progress(status="completed", test_accuracy=90.0), exit_code=3)
    assert summary.results.accuracy == 90.0
    [warning] = summary.results.warnings
    assert (warning.kind, warning.line) == (WarningKind.COMPLETED_THEN_FAILED, 1)
    assert "exit code 3" in warning.message


def test_killed_by_a_signal_after_completion() -> None:
    assert kinds_at_end(progress(status="completed"), exit_code=None) == [
        WarningKind.COMPLETED_THEN_FAILED
    ]


def test_exit_zero_without_completed_report_uses_the_last_report_with_an_accuracy() -> None:
    summary = parse(
        progress(epoch=1, train_loss=0.9, test_accuracy=50.0),
        progress(epoch=2, train_loss=0.5, test_accuracy=70.0),
        progress(epoch=3, train_loss=0.4),
    )
    results = summary.results
    assert (results.accuracy, results.losses, results.source, results.line) == (
        70.0,
        {"train_loss": 0.5},
        "last_report",
        2,
    )
    assert [w.kind for w in results.warnings] == [WarningKind.NO_COMPLETED_REPORT]


def test_without_any_accuracy_the_last_loss_report() -> None:
    results = parse(progress(train_loss=0.9), progress(epoch=2, train_loss=0.5)).results
    assert (results.accuracy, results.losses) == (None, {"train_loss": 0.5})


def test_legacy_run_gets_the_whole_epoch() -> None:
    results = parse(
        "Epoch 3/3", "Train Loss: 0.4 | Train Acc: 88.1%", "Test Loss: 0.5 | Test Acc: 87.2%"
    ).results
    assert (results.accuracy_key, results.accuracy_field) == ("test_accuracy", "Test Acc")
    assert results.losses == {"train_loss": 0.4, "test_loss": 0.5}


def test_a_failed_run_without_completed_report_has_no_final_results() -> None:
    results = parse(progress(test_accuracy=50.0), exit_code=1).results
    assert (results.accuracy, results.source, results.warnings) == (None, "none", ())


def test_end_of_run_warnings_are_recorded_once() -> None:
    parser = RunParser()
    parser.feed((progress(test_accuracy=50.0) + "\n").encode())
    assert [w.kind for w in parser.final_results(0).warnings] == [WarningKind.NO_COMPLETED_REPORT]
    assert parser.final_results(0).warnings == ()
    assert [w.kind for w in parser.warnings] == [WarningKind.NO_COMPLETED_REPORT]


def test_as_dict_is_flat() -> None:
    data = parse(progress(status="completed", test_accuracy=90.0, loss=0.1)).results.as_dict()
    assert data == {
        "accuracy": 90.0, "accuracy_key": "test_accuracy", "accuracy_field": "test_accuracy",
        "losses": {"train_loss": 0.1}, "source": "completed_report", "line": 1, "warnings": [],
    }  # fmt: skip
