"""What one parsed chunk of a log hands to the store, in a shape that crosses a process
boundary cheaply: points as columns per metric, and only the reports that lead to an
event or a snapshot. Big chunks are parsed in a separate process (``parse_chunk``) while
the follower's thread stores the previous one: the GIL stays out of it."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, NamedTuple

from runyard.protocol import ParseResult, Report, RunParser, RunWarning
from runyard.protocol.model import encode_float

LIVE_TAIL = 250  # points announced to live subscribers per chunk (the newest; the rest by REST)


class Position(NamedTuple):
    """Where the parser stood after a chunk: stored with that chunk's points."""

    offset: int
    state: dict[str, Any]
    epoch: int | None
    total_epochs: int | None
    step: int | None


class Chunk(NamedTuple):
    columns: dict[str, tuple[list[float], list[float]]]
    points: int
    tail: list[list[Any]]
    reports: list[Report]
    last_epoch: int | None
    warnings: list[RunWarning]
    info: dict[str, Any]
    moved: bool
    position: Position


def position_of(parser: RunParser) -> Position:
    return Position(parser.offset, parser.state(), parser.epoch, parser.total_epochs, parser.step)


def to_chunk(result: ParseResult, position: Position, last_epoch: int | None) -> Chunk:
    """Columns per metric, and the reports that matter: those with validation or test
    metrics (a snapshot), the completed one, and the first of each epoch (an event)."""
    columns = result.columns
    for key, x, value, *_ in result.points:
        column = columns.get(key)
        if column is None:
            column = columns[key] = ([], [])
        column[0].append(x)
        column[1].append(value)
    count = sum(len(xs) for xs, _ in columns.values())
    kept = []
    for report in result.reports:
        if report.has_eval or report.completed or report.epoch != last_epoch:
            last_epoch = report.epoch
            kept.append(report)
    share = max(1, LIVE_TAIL // max(1, len(columns)))
    tail = [[key, x, encode_float(v)] for key, (xs, values) in columns.items()
            for x, v in zip(xs[-share:], values[-share:], strict=True)]
    moved = result.progress is not None or bool(result.reports)
    return Chunk(columns, count, tail, kept, last_epoch, list(result.warnings), dict(result.info),
                 moved, position)


def die_with_parent(parent: int) -> None:
    """Initializer of the parse process: exit when the daemon is gone, even after a
    ``kill -9`` (a pool worker blocked on its queue would otherwise live on as an orphan)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="runyard-parent-watch", daemon=True).start()


def parse_chunk(state: dict[str, Any] | None, patterns: list[str], data: bytes, last_epoch: int | None) -> Chunk:
    """Parse ``data`` (read from the state's offset) in a worker process."""
    parser = RunParser.from_state(state, patterns) if state else RunParser(patterns)
    parser.emit_columns = True
    return to_chunk(parser.feed(data), position_of(parser), last_epoch)
