"""Checks on accuracy values: percent range and the fraction suspicion (PROTOCOL.md §4).

An *accuracy* is a metric named ``accuracy`` or ``…_accuracy`` (``test_accuracy``,
``top5_accuracy``, ``val_accuracy``), in percent.

``accuracy_fraction`` is a statement about the whole run ("every accuracy value lies in
[0, 1] and one is above 0"), but the parser reads a run while it is printed and a warning,
once raised, cannot be taken back. The choice made here: the warning is raised as soon as
the statement holds over everything seen so far **and** either
:data:`FRACTION_EVIDENCE_REPORTS` reports have carried accuracies, or the run has ended
(a completed report, or the end of the attempt). One report alone is weak evidence: a
percent run on a 1000-class task can honestly start at 0.4 %; three reports that all stay
at or below 1 % almost always mean fractions. A run that is later seen above 1 after the
warning keeps it; the values are never rescaled either way.

Only values the script itself wrote count (PROGRESS, legacy lines, custom patterns):
framework readers turn fractions into percent themselves, so their values say nothing
about the script.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

FRACTION_EVIDENCE_REPORTS = 3


@dataclass(slots=True)
class FractionTracker:
    """Incremental state of the ``accuracy_fraction`` decision (see the module docstring)."""

    all_within_unit: bool = True
    any_positive: bool = False
    reports: int = 0

    def add_report(self, values: Iterable[float]) -> None:
        seen = False
        for value in values:
            if not math.isfinite(value):
                continue
            seen = True
            if not 0.0 <= value <= 1.0:
                self.all_within_unit = False
            elif value > 0.0:
                self.any_positive = True
        if seen:
            self.reports += 1

    def suspected(self, run_ended: bool = False) -> bool:
        enough = run_ended or self.reports >= FRACTION_EVIDENCE_REPORTS
        return self.all_within_unit and self.any_positive and enough

    def to_json(self) -> list[int | bool]:
        return [self.all_within_unit, self.any_positive, self.reports]

    @classmethod
    def from_json(cls, data: list[int | bool]) -> FractionTracker:
        return cls(bool(data[0]), bool(data[1]), int(data[2]))
