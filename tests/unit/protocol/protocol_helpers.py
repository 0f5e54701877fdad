"""Small builders shared by the protocol tests."""

from __future__ import annotations

import json
from typing import Any

from runyard.protocol import LogSummary, MetricPoint, WarningKind, parse_log


def progress(**fields: Any) -> str:
    """A PROGRESS line; epoch 1 of 10, status training unless given."""
    fields.setdefault("epoch", 1)
    fields.setdefault("total_epochs", 10)
    status = fields.pop("status", "training")
    return "PROGRESS: " + json.dumps({**fields, "status": status})


def parse(
    *lines: str | bytes, patterns: tuple[str, ...] = (), exit_code: int | None = 0
) -> LogSummary:
    data = b"".join(line if isinstance(line, bytes) else line.encode() + b"\n" for line in lines)
    return parse_log(data, patterns, exit_code=exit_code)


def values(summary: LogSummary) -> dict[str, float]:
    """Each metric's last value, as the store would keep it (last write wins)."""
    return {point.key: point.value for point in summary.points}


def points(summary: LogSummary, key: str) -> list[MetricPoint]:
    return [point for point in summary.points if point.key == key]


END_OF_RUN = (WarningKind.NO_COMPLETED_REPORT, WarningKind.COMPLETED_THEN_FAILED)


def kinds(summary: LogSummary) -> list[WarningKind]:
    """The warnings the lines raised (not those the exit code decides)."""
    return [warning.kind for warning in summary.warnings if warning.kind not in END_OF_RUN]
