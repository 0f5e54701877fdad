"""Parsing a whole log at once, for ``runyard check --log`` and ``runyard reingest``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from runyard.protocol.model import MetricPoint, ParseResult, Progress, Report, RunWarning
from runyard.protocol.parser import RunParser
from runyard.protocol.results import FinalResults

CHUNK_BYTES = 1 << 20


@dataclass(slots=True)
class LogSummary:
    """Everything a log says: every point and report in order, the latest values, the warnings
    (end-of-run ones included) and the final results for the given exit code."""

    points: list[MetricPoint] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    warnings: list[RunWarning] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    info: dict[str, str | bool] = field(default_factory=dict)
    progress: Progress = field(default_factory=lambda: Progress(None, None, None))
    completed: Report | None = None
    lines: int = 0
    results: FinalResults = field(default_factory=FinalResults)


def parse_log(
    data: bytes, metric_patterns: Sequence[str] = (), *, exit_code: int | None = 0
) -> LogSummary:
    """Read a complete log as the daemon would have, assuming the process ended with
    ``exit_code`` (0 by default: "what would this run's results be if it succeeded")."""
    parser = RunParser(metric_patterns)
    summary = LogSummary()
    view = memoryview(data)
    # Chunks keep the blocks the parser builds (and their copies) small on a big log.
    for start in range(0, len(data), CHUNK_BYTES):
        _collect(summary, parser.feed(bytes(view[start : start + CHUNK_BYTES])))
    _collect(summary, parser.finish())
    summary.results = parser.final_results(exit_code)
    summary.warnings = list(parser.warnings)
    summary.metrics = parser.metrics
    summary.info = parser.info
    summary.progress = parser.progress
    summary.completed = parser.completed
    summary.lines = parser.lines
    return summary


def _collect(summary: LogSummary, result: ParseResult) -> None:
    summary.points.extend(result.points)
    summary.reports.extend(result.reports)
