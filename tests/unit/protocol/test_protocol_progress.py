"""PROTOCOL.md §2 and §4: PROGRESS reports, row by row of the table, and their warnings."""

from __future__ import annotations

import math

import pytest
from protocol_helpers import kinds, parse, points, progress, values

from runyard.protocol import RunParser, Source, WarningKind


@pytest.mark.parametrize(
    "line",
    [
        'PROGRESS: {"epoch": 1, "total_epochs": 2, "status": "training", "train_loss": 0.5}',
        'PROGRESS:{"epoch": 1, "total_epochs": 2, "status": "training", "train_loss": 0.5}',
        '   \tPROGRESS:   {"epoch": 1, "total_epochs": 2, "status": "training", "train_loss": 0.5}  ',
    ],
)
def test_prefix_with_or_without_space_after_leading_whitespace(line: str) -> None:
    assert values(parse(line)) == {"train_loss": 0.5}


@pytest.mark.parametrize(
    "line", ["progress: {}", "LOG PROGRESS: {}", "PROGRESS {}", "[x] PROGRESS: {}"]
)
def test_other_spellings_are_plain_lines(line: str) -> None:
    summary = parse(line.replace("{}", progress()[10:]))
    assert summary.reports == [] and kinds(summary) == []


def test_fields_of_the_table() -> None:
    summary = parse(
        progress(
            epoch=3, total_epochs=10, train_loss=0.41, train_accuracy=86.2, test_loss=0.44, test_accuracy=85.1,
            val_loss=0.5, val_accuracy=84.0, lr=0.01, grad_norm=3,
        )
    )  # fmt: skip
    assert values(summary) == {
        "train_loss": 0.41, "train_accuracy": 86.2, "test_loss": 0.44, "test_accuracy": 85.1,
        "val_loss": 0.5, "val_accuracy": 84.0, "lr": 0.01, "grad_norm": 3.0,
    }  # fmt: skip
    assert summary.progress == (3, 10, None)
    assert kinds(summary) == []


@pytest.mark.parametrize(("fields", "x"), [({"step": 1200}, 1200.0), ({}, 3.0), ({"step": 0}, 0.0)])
def test_x_is_the_step_when_present_else_the_epoch(fields: dict[str, int], x: float) -> None:
    [point] = parse(progress(epoch=3, train_loss=0.5, **fields)).points
    assert (point.x, point.epoch, point.step) == (x, 3, fields.get("step"))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"accuracy": 90.0}, {"test_accuracy": 90.0}),
        ({"accuracy": 90.0, "test_accuracy": 91.0}, {"accuracy": 90.0, "test_accuracy": 91.0}),
        ({"loss": 0.3}, {"train_loss": 0.3}),
        ({"loss": 0.3, "train_loss": 0.2}, {"loss": 0.3, "train_loss": 0.2}),
    ],
)
def test_generic_names_stand_for_test_accuracy_and_train_loss_when_absent(
    fields: dict[str, float], expected: dict[str, float]
) -> None:
    assert values(parse(progress(**fields))) == expected


def test_nested_objects_are_flattened_with_dots() -> None:
    summary = parse(progress(layer_activity_map={"Block_01": 34.5, "deep": {"x": 1, "mode": "on"}}))
    assert values(summary) == {
        "layer_activity_map.Block_01": 34.5,
        "layer_activity_map.deep.x": 1.0,
    }
    assert summary.info == {"layer_activity_map.deep.mode": "on"}


def test_strings_and_bools_are_info_and_the_latest_wins() -> None:
    summary = parse(
        progress(lr_phase_name="warmup", adaptive_mode=False),
        progress(epoch=2, lr_phase_name="decay"),
    )
    assert summary.info == {"lr_phase_name": "decay", "adaptive_mode": False}
    assert summary.points == []


def test_lists_and_nulls_are_ignored() -> None:
    summary = parse(progress(history=[1, 2], note=None, train_loss=0.1))
    assert values(summary) == {"train_loss": 0.1} and summary.info == {}


def test_same_metric_same_x_is_emitted_again_for_the_store_to_replace() -> None:
    summary = parse(progress(train_loss=0.5), progress(train_loss=0.4))
    assert [(p.x, p.value) for p in points(summary, "train_loss")] == [(1.0, 0.5), (1.0, 0.4)]
    assert summary.metrics["train_loss"] == 0.4


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_values_are_stored_and_warned(literal: str) -> None:
    line = f'PROGRESS: {{"epoch": 1, "total_epochs": 2, "status": "training", "train_loss": {literal}}}'
    summary = parse(line)
    value = values(summary)["train_loss"]
    assert math.isnan(value) if literal == "NaN" else math.isinf(value)
    assert kinds(summary) == [WarningKind.NON_FINITE]


def test_integers_beyond_64_bits_are_read() -> None:
    summary = parse(
        'PROGRESS: {"epoch": 1, "total_epochs": 2, "status": "training", "big": 1' + "0" * 30 + "}"
    )
    assert values(summary) == {"big": 1e30}


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("PROGRESS: {epoch: 1}", WarningKind.MALFORMED_JSON),
        ("PROGRESS:", WarningKind.MALFORMED_JSON),
        ('PROGRESS: {"epoch": 1} trailing', WarningKind.MALFORMED_JSON),
        ("PROGRESS: " + "[" * 100 + "]" * 100, WarningKind.NOT_AN_OBJECT),
        ("PROGRESS: " + '{"a":' * 5000 + "1" + "}" * 5000, WarningKind.MALFORMED_JSON),
        ("PROGRESS: [1, 2]", WarningKind.NOT_AN_OBJECT),
        ('PROGRESS: "text"', WarningKind.NOT_AN_OBJECT),
        ('PROGRESS: {"total_epochs": 2, "status": "training"}', WarningKind.MISSING_FIELD),
        ('PROGRESS: {"epoch": 1, "status": "training"}', WarningKind.MISSING_FIELD),
        ('PROGRESS: {"epoch": 1, "total_epochs": 2}', WarningKind.MISSING_FIELD),
        (
            'PROGRESS: {"epoch": "1", "total_epochs": 2, "status": "training"}',
            WarningKind.MISSING_FIELD,
        ),
        (
            'PROGRESS: {"epoch": 1, "total_epochs": 0, "status": "training"}',
            WarningKind.MISSING_FIELD,
        ),
        (
            'PROGRESS: {"epoch": 0, "total_epochs": 2, "status": "training"}',
            WarningKind.EPOCH_OUT_OF_RANGE,
        ),
        (
            'PROGRESS: {"epoch": 3, "total_epochs": 2, "status": "training"}',
            WarningKind.EPOCH_OUT_OF_RANGE,
        ),
        ('PROGRESS: {"epoch": 1, "total_epochs": 2, "status": "done"}', WarningKind.UNKNOWN_STATUS),
        (
            'PROGRESS: {"epoch": 1, "total_epochs": 2, "status": {"a": 1}}',
            WarningKind.UNKNOWN_STATUS,
        ),
        (progress(test_accuracy=101.0), WarningKind.ACCURACY_OUT_OF_RANGE),
        (progress(top5_accuracy=-1.0), WarningKind.ACCURACY_OUT_OF_RANGE),
    ],
)
def test_each_bad_line_gives_its_warning_with_line_and_text(line: str, kind: WarningKind) -> None:
    summary = parse("hello", line)
    assert kinds(summary) == [kind]
    warning = summary.warnings[0]
    assert (warning.line, warning.text) == (2, line.strip()[:500])
    assert warning.message


def test_a_bad_line_does_not_stop_what_follows() -> None:
    summary = parse("PROGRESS: {oops", progress(train_loss=0.5))
    assert values(summary) == {"train_loss": 0.5}


def test_total_epochs_changed() -> None:
    summary = parse(progress(total_epochs=10), progress(epoch=2, total_epochs=12))
    assert kinds(summary) == [WarningKind.TOTAL_EPOCHS_CHANGED]
    assert summary.warnings[0].line == 2
    assert summary.progress.total_epochs == 12


@pytest.mark.parametrize(
    "bad",
    [
        'PROGRESS: {"epoch": 1, "total_epochs": 2}',
        "PROGRESS: [1]",
        "PROGRESS: {x",
        'PROGRESS: {"epoch": 9, "total_epochs": 2, "status": "training"}',
        'PROGRESS: {"epoch": 1, "total_epochs": 2, "status": "x"}',
        'PROGRESS: {"epoch": 1, "total_epochs": 2, "status": "training", "loss": NaN}',
    ],
)
def test_each_kind_is_raised_once_per_run_with_the_first_line(bad: str) -> None:
    summary = parse(bad, "plain", bad, bad)
    lines = [k for k in kinds(summary) if k is not WarningKind.POINTS_REPLACED]  # the same report thrice
    assert len(lines) == 1 and summary.warnings[0].line == 1


def test_missing_fields_are_carried_from_the_previous_report() -> None:
    summary = parse(progress(epoch=2, total_epochs=5), 'PROGRESS: {"train_loss": 0.5}')
    [point] = summary.points
    assert (point.x, point.epoch) == (2.0, 2)
    assert summary.progress == (2, 5, None)
    assert kinds(summary) == [WarningKind.MISSING_FIELD]


def test_a_first_report_without_epoch_or_step_lands_at_x_zero() -> None:
    [point] = parse('PROGRESS: {"train_loss": 0.5}').points
    assert (point.x, point.epoch, point.step) == (0.0, None, None)


@pytest.mark.parametrize("step", [-1, 1.5, "7", True])
def test_an_unusable_step_is_ignored(step: object) -> None:
    [point] = parse(progress(epoch=4, step=step, train_loss=0.5)).points
    assert (point.x, point.step) == (4.0, None)


def test_integral_floats_count_as_integers() -> None:
    summary = parse(progress(epoch=2.0, total_epochs=4.0, step=10.0, train_loss=0.5))
    assert summary.progress == (2, 4, 10) and kinds(summary) == []


@pytest.mark.parametrize(
    ("fields", "has_eval"),
    [
        ({"train_loss": 0.5}, False),
        ({"val_loss": 0.5}, True),
        ({"test_accuracy": 90.0}, True),
        ({"accuracy": 90.0}, True),
        ({"lr": 0.1, "note": "x"}, False),
    ],
)
def test_reports_with_validation_or_test_metrics_ask_for_a_snapshot(
    fields: dict[str, object], has_eval: bool
) -> None:
    [report] = parse(progress(**fields)).reports
    assert report.has_eval is has_eval
    assert report.source is Source.PROGRESS


def test_completed_report_is_kept() -> None:
    parser = RunParser()
    result = parser.feed(
        (progress(status="completed", epoch=10, test_accuracy=95.0) + "\n").encode()
    )
    assert result.completed is not None and result.completed.metrics == {"test_accuracy": 95.0}
    assert parser.completed == result.completed


def test_progress_moves_only_when_it_changes() -> None:
    parser = RunParser()
    assert parser.feed(b"plain\n").progress is None
    assert parser.feed((progress(epoch=2, total_epochs=3, step=7) + "\n").encode()).progress == (
        2,
        3,
        7,
    )
    assert parser.feed((progress(epoch=2, total_epochs=3) + "\n").encode()).progress is None
