"""Where a report's points land on x, and which points replace others (PROTOCOL.md §2).

A report that names its step or epoch is put there. One that names neither (a PROGRESS
report with no ``step`` or ``epoch``, a custom pattern with no ``step`` or ``epoch``
group) gets an *implicit* x: the run's current step (else epoch, else 0), moved past every
x that the report's metrics already have in this attempt. So 100,000 ``loss: 0.5`` lines
land at x = 0 … 99,999, and a value printed once per step beside PROGRESS reports that
carry the step lands at that step.

The store keeps one value per metric and x: a point at an x its metric already reached in
this attempt (the same x, or one it went back to) replaces what is there. Such points are
counted for the sources whose x the script chose (PROGRESS and custom patterns) and make
one ``points_replaced`` warning when the attempt ends. Legacy and framework lines are not
counted: their readers put an epoch's running values at that epoch on purpose (§5, §7).
Only each metric's highest x is kept, not every x: a point that goes back to an x its
metric skipped counts as replacing too (rare: a counter that restarted lands on its old
values), which keeps the parser's state small whatever the run prints.
"""

from __future__ import annotations

from typing import Any

from runyard.protocol.model import decode_float, encode_float

METRICS_NAMED = 3
"""The warning names this many metrics with their counts, the rest as a number."""


class Axis:
    """One attempt's high-water x per metric, and the points that did not move past it."""

    __slots__ = ("by_metric", "first", "high", "points", "replaced")

    def __init__(self) -> None:
        self.high: dict[str, float] = {}
        self.points = 0
        """Points read in this attempt, from every source."""
        self.replaced = 0
        self.by_metric: dict[str, int] = {}
        self.first: tuple[int, str, str, float, float] | None = None
        """(line, text, metric, x, that metric's highest x before it) of the first replacement."""

    def implicit(self, metrics: dict[str, float], current: int) -> float:
        """The x of a report that names no step or epoch (see the module docstring)."""
        x = float(current)
        high = self.high
        for name in metrics:
            last = high.get(name)
            if last is not None and last >= x:
                x = last + 1.0
        return x

    def record(self, metrics: dict[str, float], x: float, line: int, text: str) -> None:
        """Points of a PROGRESS or pattern report at ``x``: move each metric's high-water
        mark, or count the point as replacing one."""
        high = self.high
        for name in metrics:
            last = high.get(name)
            if last is None or x > last:
                high[name] = x
                continue
            self.replaced += 1
            self.by_metric[name] = self.by_metric.get(name, 0) + 1
            if self.first is None:
                self.first = (line, text, name, x, last)

    def message(self) -> str | None:
        """The ``points_replaced`` warning's message, or None when nothing was replaced."""
        if self.first is None:
            return None
        line, _text, name, x, before = self.first
        ranked = sorted(self.by_metric.items(), key=lambda item: -item[1])
        named = ", ".join(f"{metric} {count:,}" for metric, count in ranked[:METRICS_NAMED])
        if len(ranked) > METRICS_NAMED:
            named += f" and {len(ranked) - METRICS_NAMED} more metrics"
        plural = "s" if self.replaced != 1 else ""
        if x < before:
            why = (f"x went back from {before:g} to {x:g} (a step or epoch counter that restarted?):"
                   " keep it rising within a run")
        else:
            why = (f"several reports of {name} at x = {x:g}: give each report its own step"
                   ' (PROGRESS "step", or a (?P<step>…) group in a pattern)')
        return (f"{self.replaced:,} point{plural} of {self.points:,} replaced one printed earlier at the same x"
                f" ({named}), first on line {line}; only the last value at an x is kept. {why}")

    @property
    def first_text(self) -> str:
        return self.first[1] if self.first is not None else ""

    @property
    def first_line(self) -> int | None:
        return self.first[0] if self.first is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "high": {k: encode_float(v) for k, v in self.high.items()},
            "points": self.points,
            "replaced": self.replaced,
            "by_metric": self.by_metric,
            "first": list(self.first) if self.first is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Axis:
        """``None`` (a state saved before the axis was kept): start afresh."""
        axis = cls()
        if not data:
            return axis
        axis.high = {k: decode_float(v) for k, v in data["high"].items()}
        axis.points = int(data["points"])
        axis.replaced = int(data["replaced"])
        axis.by_metric = {str(k): int(v) for k, v in data["by_metric"].items()}
        first = data["first"]
        if first is not None:
            axis.first = (int(first[0]), str(first[1]), str(first[2]), float(first[3]), float(first[4]))
        return axis
