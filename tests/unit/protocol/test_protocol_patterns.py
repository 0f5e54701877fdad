"""PROTOCOL.md §6: a run's own metric patterns."""

from __future__ import annotations

import pytest
from protocol_helpers import parse, progress, values

from runyard.errors import InvalidSpec
from runyard.protocol import RunParser, Source

ITER = r"iter (?P<step>\d+) loss (?P<train_loss>[-\d.e]+)"


def test_named_groups_are_metrics_and_step_sets_x() -> None:
    summary = parse("iter 100 loss 0.53", "noise", "iter 200 loss 0.41", patterns=(ITER,))
    assert [(p.key, p.x, p.value, p.step) for p in summary.points] == [
        ("train_loss", 100.0, 0.53, 100),
        ("train_loss", 200.0, 0.41, 200),
    ]
    assert summary.progress.step == 200
    assert {r.source for r in summary.reports} == {Source.PATTERN}


def test_epoch_group_sets_x_and_the_epoch() -> None:
    summary = parse("ep 3 acc 81.5", patterns=(r"ep (?P<epoch>\d+) acc (?P<val_accuracy>[\d.]+)",))
    [point] = summary.points
    assert (point.x, point.epoch, point.value) == (3.0, 3, 81.5)
    assert summary.reports[0].has_eval


def test_without_x_groups_the_current_epoch_is_x() -> None:
    summary = parse("Epoch 4/9", "gnorm=2.5", patterns=(r"gnorm=(?P<grad_norm>[\d.]+)",))
    assert [(p.key, p.x) for p in summary.points] == [("grad_norm", 4.0)]


def test_every_match_in_every_segment_and_anchors_hold_at_segment_edges() -> None:
    line = "\riter 1 loss 0.9\riter 2 loss 0.8 iter 3 loss 0.7"
    summary = parse(line, patterns=("^" + ITER,))
    assert [p.x for p in summary.points] == [1.0, 2.0]
    summary = parse(line, patterns=(ITER,))
    assert [p.x for p in summary.points] == [1.0, 2.0, 3.0]


def test_patterns_keep_working_after_progress_and_skip_progress_segments() -> None:
    pattern = r"loss\W+(?P<custom_loss>[\d.]+)"
    summary = parse(progress(train_loss=0.5), "my loss: 0.25", patterns=(pattern,))
    assert values(summary) == {"train_loss": 0.5, "custom_loss": 0.25}


def test_a_group_that_is_not_a_number_is_skipped() -> None:
    summary = parse("loss abc", "loss 0.5", patterns=(r"loss (?P<train_loss>\S+)",))
    assert values(summary) == {"train_loss": 0.5}


def test_patterns_see_lines_without_escapes() -> None:
    summary = parse("loss: \x1b[1m0.5\x1b[0m", patterns=(r"loss: (?P<train_loss>[\d.]+)",))
    assert values(summary) == {"train_loss": 0.5}


def test_a_match_across_lines_costs_a_look_and_finds_nothing() -> None:
    summary = parse("loss", "0.5", "loss 0.25", patterns=(r"loss\s+(?P<train_loss>[\d.]+)",))
    assert [(p.line, p.value) for p in summary.points] == [(3, 0.25)]


@pytest.mark.parametrize(
    "pattern", ["(unclosed", r"(?P<x>a", "loss (\\d+)", r"iter (?P<step>\d+)", "*"]
)
def test_bad_patterns_are_refused_at_construction(pattern: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        RunParser([pattern])
    assert caught.value.field == "metric_patterns"
    assert repr(pattern) in str(caught.value)
