"""``accuracy_fraction`` (decided incrementally, see runyard.protocol.accuracy) and
``accuracy_out_of_range``."""

from __future__ import annotations

from protocol_helpers import kinds, parse, progress, values

from runyard.protocol import RunParser, WarningKind
from runyard.protocol.accuracy import FRACTION_EVIDENCE_REPORTS

FRACTION = WarningKind.ACCURACY_FRACTION


def reports(*accuracies: float) -> list[str]:
    return [progress(epoch=i + 1, test_accuracy=a) for i, a in enumerate(accuracies)]


def test_fractions_are_flagged_after_enough_reports_at_the_first_one() -> None:
    parser = RunParser()
    raised = [
        bool(parser.feed((line + "\n").encode()).warnings) for line in reports(0.3, 0.5, 0.7, 0.8)
    ]
    assert raised == [False] * (FRACTION_EVIDENCE_REPORTS - 1) + [True, False]
    assert (parser.warnings[0].kind, parser.warnings[0].line) == (FRACTION, 1)


def test_a_percent_run_that_starts_below_one_is_not_flagged() -> None:
    assert kinds(parse(*reports(0.4, 0.9, 3.5, 20.0))) == []


def test_the_end_of_the_run_decides_when_reports_were_few() -> None:
    parser = RunParser()
    assert parser.feed((reports(0.9)[0] + "\n").encode()).warnings == []
    assert [w.kind for w in parser.finish().warnings] == [FRACTION]


def test_a_completed_report_decides() -> None:
    line = progress(status="completed", epoch=10, test_accuracy=0.95, train_accuracy=0.97)
    assert kinds(parse(line)) == [FRACTION]


def test_all_zero_is_not_a_fraction() -> None:
    assert kinds(parse(*reports(0.0, 0.0, 0.0, 0.0))) == []


def test_values_are_stored_as_given() -> None:
    summary = parse(*reports(0.3, 0.5, 0.7))
    assert [p.value for p in summary.points] == [0.3, 0.5, 0.7]


def test_framework_accuracies_do_not_count() -> None:
    summary = parse("Epoch 1/1", *["10/10 - 0s - loss: 0.5 - accuracy: 0.005"] * 4)
    assert values(summary) == {"train_loss": 0.5, "train_accuracy": 0.5}
    assert kinds(summary) == []


def test_legacy_values_count() -> None:
    assert kinds(parse("Epoch 1/1", "Test Acc: 0.91")) == [FRACTION]


def test_out_of_range_is_raised_once_and_values_are_kept() -> None:
    summary = parse(progress(val_accuracy=120.0), progress(epoch=2, val_accuracy=-3.0))
    assert kinds(summary) == [WarningKind.ACCURACY_OUT_OF_RANGE]
    assert [p.value for p in summary.points] == [120.0, -3.0]
