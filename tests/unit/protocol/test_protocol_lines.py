"""PROTOCOL.md §1: lines, \r segments, escapes, bytes that are not UTF-8, the 1 MiB limit."""

from __future__ import annotations

import pytest
from protocol_helpers import kinds, parse, progress, values

from runyard.protocol import MAX_LINE_BYTES, RunParser, WarningKind, clean_line
from runyard.protocol.lines import Block, LineSplitter, LongLine


def test_splitter_keeps_an_unfinished_line_for_the_next_chunk() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"one\ntw") == [Block(b"one\n")]
    assert splitter.feed(b"o\nthree") == [Block(b"two\n")]
    assert splitter.finish() == [Block(b"three\n")]
    assert splitter.offset == len(b"one\ntwo\nthree")


def test_offset_stops_at_the_last_complete_line() -> None:
    splitter = LineSplitter()
    splitter.feed(b"a\nbc")
    assert (splitter.offset, splitter.pending_bytes) == (2, 2)


@pytest.mark.parametrize("size", [MAX_LINE_BYTES, MAX_LINE_BYTES + 1])
def test_limit_is_exclusive(size: int) -> None:
    summary = parse(b"x" * size + b"\n", progress(train_loss=0.5))
    assert (WarningKind.LINE_TOO_LONG in kinds(summary)) == (size > MAX_LINE_BYTES)
    assert values(summary) == {"train_loss": 0.5}
    assert summary.lines == 2


def test_long_line_inside_one_chunk_is_skipped_with_its_number() -> None:
    data = (
        f"{progress(train_loss=1.0)}\n".encode()
        + b"y" * (3 * MAX_LINE_BYTES)
        + b"\n"
        + f"{progress(epoch=2, train_loss=2.0)}\n".encode()
    )
    parser = RunParser()
    result = parser.feed(data)
    assert [(w.kind, w.line, w.text) for w in result.warnings] == [
        (WarningKind.LINE_TOO_LONG, 2, "y" * 200)
    ]
    assert [p.value for p in result.points] == [1.0, 2.0]
    assert [p.line for p in result.points] == [1, 3]


def test_long_line_across_chunks_is_not_buffered() -> None:
    splitter = LineSplitter()
    pieces = splitter.feed(b"z" * (MAX_LINE_BYTES + 1))
    assert pieces == [LongLine(b"z" * 200)] and splitter.skipping
    assert splitter.feed(b"z" * MAX_LINE_BYTES) == [] and splitter.pending_bytes == 0
    assert splitter.feed(b"zz\nok\n") == [Block(b"ok\n")]
    assert splitter.offset == 2 * MAX_LINE_BYTES + 1 + 6


def test_long_line_warning_is_raised_once_per_run() -> None:
    long = b"q" * (MAX_LINE_BYTES + 1) + b"\n"
    summary = parse(long, long)
    assert kinds(summary).count(WarningKind.LINE_TOO_LONG) == 1
    assert summary.warnings[0].line == 1


def test_every_carriage_return_segment_is_read() -> None:
    line = (
        "\r 10%|#   |\r"
        + progress(train_loss=0.5)
        + "\r 50%|##  |\r"
        + progress(epoch=2, train_loss=0.4)
    )
    summary = parse(line)
    assert [(p.x, p.value) for p in summary.points] == [(1.0, 0.5), (2.0, 0.4)]
    assert {p.line for p in summary.points} == {1}


def test_windows_line_ends_are_fine() -> None:
    assert values(parse(progress(train_loss=0.5) + "\r")) == {"train_loss": 0.5}


def test_ansi_escapes_are_ignored_when_matching() -> None:
    line = "\x1b[1;32m" + progress(train_loss=0.5) + "\x1b[0m\x1b]0;title\x07"
    assert values(parse(line)) == {"train_loss": 0.5}


def test_bytes_that_are_not_utf8_never_stop_parsing() -> None:
    summary = parse(
        b"\xff\xfe\x00garbage \xc3(\n", progress(note="caf\u00e9", train_loss=0.5).encode() + b"\n"
    )
    assert values(summary) == {"train_loss": 0.5}
    assert summary.info == {"note": "café"}


def test_invalid_utf8_inside_a_report_is_replaced() -> None:
    line = b'PROGRESS: {"epoch": 1, "total_epochs": 2, "status": "training", "tag": "a\xffb", "loss": 1}\n'
    summary = parse(line)
    assert summary.info == {"tag": "a\ufffdb"}
    assert values(summary) == {"train_loss": 1.0}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"plain\n", "plain"),
        (b" 10%|#\r 20%|##\r done\n", " done"),
        (b"\x1b[31mred\x1b[0m\n", "red"),
        (b"windows\r\n", "windows"),
        (b"keras bar\x08\x08\r final\n", " final"),
        (b"\xffx\n", "\ufffdx"),
    ],
)
def test_clean_line_shows_the_last_segment(raw: bytes, shown: str) -> None:
    assert clean_line(raw) == shown
