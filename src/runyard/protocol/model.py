"""The values the output parser hands to its caller (PROTOCOL.md §1-§7).

They are plain data: the ingester stores points, snapshots on reports that carry
validation or test metrics, and records warnings as run events. Points and reports are
named tuples because a chatty run yields hundreds of thousands of them and a tuple is
the cheapest thing Python builds (a frozen dataclass costs several times more here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple


class WarningKind(StrEnum):
    """Every warning the protocol knows (PROTOCOL.md §4); each is raised at most once per run
    (``PER_ATTEMPT_WARNINGS`` once per attempt)."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    EPOCH_OUT_OF_RANGE = "epoch_out_of_range"
    TOTAL_EPOCHS_CHANGED = "total_epochs_changed"
    UNKNOWN_STATUS = "unknown_status"
    NON_FINITE = "non_finite"
    ACCURACY_FRACTION = "accuracy_fraction"
    ACCURACY_OUT_OF_RANGE = "accuracy_out_of_range"
    LINE_TOO_LONG = "line_too_long"
    NO_COMPLETED_REPORT = "no_completed_report"
    COMPLETED_THEN_FAILED = "completed_then_failed"
    POINTS_REPLACED = "points_replaced"


PER_ATTEMPT_WARNINGS = frozenset({WarningKind.POINTS_REPLACED})
"""Kinds raised once per attempt rather than once per run: each attempt's count stands alone."""


class Source(StrEnum):
    """Which reader produced a report: the protocol itself or a fallback format."""

    PROGRESS = "progress"
    LEGACY = "legacy"
    KERAS = "keras"
    HF_TRAINER = "hf_trainer"
    PYTORCH_EXAMPLE = "pytorch_example"
    PATTERN = "pattern"


class RunWarning(NamedTuple):
    """A warning event: the first offending line (None for end-of-run warnings) and its text."""

    kind: WarningKind
    line: int | None
    text: str
    message: str


class MetricPoint(NamedTuple):
    """One value of one metric; the store upserts on (run, key, x), so the last write wins."""

    key: str
    x: float
    value: float
    epoch: int | None
    step: int | None
    line: int


class Progress(NamedTuple):
    """Where the run stands: the latest epoch, planned epochs and global step seen."""

    epoch: int | None
    total_epochs: int | None
    step: int | None


class Report(NamedTuple):
    """One report a run printed (a PROGRESS line, or a legacy/framework/pattern line).

    ``metrics`` use runyard's names (``accuracy`` already stands for ``test_accuracy``);
    ``renamed`` maps such a name back to the field as printed, so final results can say
    where a value came from. ``has_eval`` tells the caller to write a statistics snapshot
    (PROTOCOL.md §10). ``status`` is the PROGRESS status, None for other sources.
    """

    line: int
    source: Source
    x: float
    epoch: int | None
    total_epochs: int | None
    step: int | None
    metrics: dict[str, float]
    info: dict[str, str | bool]
    status: str | None
    has_eval: bool
    renamed: dict[str, str]

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite values as strings), for the parser's saved state."""
        return {
            "line": self.line,
            "source": self.source.value,
            "x": self.x,
            "epoch": self.epoch,
            "total_epochs": self.total_epochs,
            "step": self.step,
            "metrics": {k: encode_float(v) for k, v in self.metrics.items()},
            "info": self.info,
            "status": self.status,
            "has_eval": self.has_eval,
            "renamed": self.renamed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(
            line=int(data["line"]),
            source=Source(data["source"]),
            x=float(data["x"]),
            epoch=data["epoch"],
            total_epochs=data["total_epochs"],
            step=data["step"],
            metrics={k: decode_float(v) for k, v in data["metrics"].items()},
            info=dict(data["info"]),
            status=data["status"],
            has_eval=bool(data["has_eval"]),
            renamed=dict(data["renamed"]),
        )


@dataclass(slots=True)
class ParseResult:
    """What one ``feed``/``finish`` call found, in the order the lines were printed.

    ``info`` holds the latest info values set in this call; ``progress`` is the run's
    position after this call when it moved; ``completed`` is the last completed report.
    """

    points: list[MetricPoint] = field(default_factory=list)
    columns: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    """With ``RunParser.emit_columns``: the points as (xs, values) per metric instead."""
    info: dict[str, str | bool] = field(default_factory=dict)
    progress: Progress | None = None
    reports: list[Report] = field(default_factory=list)
    warnings: list[RunWarning] = field(default_factory=list)
    completed: Report | None = None
    lines: int = 0


def encode_float(value: float) -> float | str:
    """JSON has no NaN or infinity; saved state spells them as strings."""
    return value if math.isfinite(value) else repr(value)


def decode_float(value: float | str) -> float:
    return float(value)
