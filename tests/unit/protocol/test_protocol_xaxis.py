"""PROTOCOL.md §2 "x of a point": implicit x for reports that name no step or epoch, and the
one warning an attempt gets when its points replace others."""

from __future__ import annotations

import json

from protocol_helpers import parse, points, progress

from runyard.protocol import RunParser, WarningKind

LOSS = r"^loss: (?P<loss>[-\d.e]+)$"


def replaced(summary):  # type: ignore[no-untyped-def]
    return [w for w in summary.warnings if w.kind is WarningKind.POINTS_REPLACED]


def test_a_hundred_thousand_plain_loss_lines_are_a_hundred_thousand_points() -> None:
    lines = [f"loss: {1 / (i + 1):.6f}" for i in range(100_000)]
    summary = parse(*lines, patterns=(LOSS,))
    xs = [p.x for p in points(summary, "loss")]
    assert xs == [float(i) for i in range(100_000)]  # each its own x: none replaced
    assert not replaced(summary)


def test_progress_reports_without_step_or_epoch_get_the_next_index() -> None:
    summary = parse(*(f'PROGRESS: {{"status": "training", "train_loss": {v}}}' for v in (0.9, 0.8, 0.7)))
    assert [(p.x, p.value) for p in points(summary, "train_loss")] == [(0.0, 0.9), (1.0, 0.8), (2.0, 0.7)]
    assert not replaced(summary)


def test_an_unstepped_value_beside_stepped_reports_lands_at_their_step() -> None:
    lines = []
    for step in (0, 10, 20):
        lines += [progress(step=step, train_loss=1.0 / (step + 1)), f"grad_norm {step / 10 + 1}"]
    summary = parse(*lines, patterns=(r"grad_norm (?P<grad_norm>[\d.]+)",))
    assert [p.x for p in points(summary, "grad_norm")] == [0.0, 10.0, 20.0]
    assert not replaced(summary)


def test_several_unstepped_values_within_one_step_each_keep_their_own_x() -> None:
    summary = parse(progress(step=5, train_loss=0.5), "gn 1", "gn 2", "gn 3",
                    patterns=(r"gn (?P<grad_norm>\d)",))
    assert [p.x for p in points(summary, "grad_norm")] == [5.0, 6.0, 7.0]


def test_reports_at_the_same_epoch_are_counted_once_at_the_end() -> None:
    lines = [progress(epoch=e, train_loss=0.1 * b) for e in (1, 2) for b in range(1, 5)]
    parser = RunParser()
    during = parser.feed("\n".join(lines).encode() + b"\n")
    assert not [w for w in during.warnings if w.kind is WarningKind.POINTS_REPLACED]  # at the end, once
    [warning] = [w for w in parser.finish().warnings if w.kind is WarningKind.POINTS_REPLACED]
    assert warning.line == 2 and warning.text == lines[1]
    assert warning.message.startswith("6 points of 8 replaced")
    assert "train_loss 6" in warning.message and "give each report its own step" in warning.message


def test_an_epoch_counter_that_restarts_inside_an_attempt_is_named() -> None:
    lines = [progress(epoch=e, val_accuracy=50.0 + e) for e in (1, 2, 3, 1, 2)]
    [warning] = replaced(parse(*lines))
    assert warning.line == 4
    assert warning.message.startswith("2 points of 5 replaced")
    assert "went back from 3 to 1" in warning.message


def test_a_pattern_with_an_epoch_group_printed_per_batch_is_counted() -> None:
    lines = [f"epoch {e} batch loss {b}" for e in (1, 2) for b in (3, 2, 1)]
    summary = parse(*lines, patterns=(r"epoch (?P<epoch>\d+) batch loss (?P<batch_loss>\d)",))
    [warning] = replaced(summary)
    assert warning.message.startswith("4 points of 6 replaced")


def test_framework_lines_that_refine_an_epoch_are_not_counted() -> None:
    # The PyTorch example prints a running train loss many times per epoch: by design the
    # epoch keeps its last one (§7), which is not a lost point.
    lines = [f"Train Epoch: 1 [{n}/60000 ({n // 600}%)]\tLoss: 0.{9 - n // 10000}" for n in (0, 10000, 20000)]
    summary = parse(*lines, "Test set: Average loss: 0.0470, Accuracy: 9845/10000 (98%)")
    assert len(points(summary, "train_loss")) == 3
    assert not replaced(summary)


def test_a_resumed_parser_continues_the_index_and_the_count() -> None:
    first = RunParser([LOSS])
    first.feed(b"loss: 1\nloss: 2\n")
    state = json.loads(json.dumps(first.state()))  # as the ingester stores it
    second = RunParser.from_state(state, [LOSS])
    result = second.feed(b"loss: 3\n")
    assert [p.x for p in result.points] == [2.0]

    stepped = RunParser()
    stepped.feed((progress(epoch=1, train_loss=1) + "\n" + progress(epoch=1, train_loss=2) + "\n").encode())
    resumed = RunParser.from_state(json.loads(json.dumps(stepped.state())))
    resumed.feed((progress(epoch=1, train_loss=3) + "\n").encode())
    [warning] = [w for w in resumed.finish().warnings if w.kind is WarningKind.POINTS_REPLACED]
    assert warning.message.startswith("2 points of 3 replaced") and warning.line == 2


def test_a_state_saved_before_the_axis_was_kept_still_resumes() -> None:
    parser = RunParser([LOSS])
    parser.feed(b"loss: 1\n")
    state = parser.state()
    del state["axis"]
    assert [p.x for p in RunParser.from_state(state, [LOSS]).feed(b"loss: 2\n").points] == [0.0]
