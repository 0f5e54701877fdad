"""A run's final results and the end-of-run warnings (PROTOCOL.md §3).

The exit code decides the status (that is the executor's job); this module decides the
results and the two warnings that depend on the exit code:

- a completed report gives the results; if the process then exits non-zero, the run is
  failed with ``completed_then_failed`` and still keeps those results;
- exit 0 without a completed report: ``no_completed_report``, and the results come from
  the last report that carries an accuracy (``test_accuracy``, ``accuracy``,
  ``val_accuracy`` or ``train_accuracy``), or failing that the last one with a loss;
  the losses are taken from that same report, so they belong together;
- a failed run without a completed report has no final results: its numbers stay visible
  as metrics, but a run that crashed halfway should not rank among finished ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from runyard.protocol.model import Report, RunWarning, WarningKind

RESULT_ACCURACIES = ("test_accuracy", "accuracy", "val_accuracy", "train_accuracy")
"""Final accuracy: the first of these present in the report (``accuracy`` is only there
under its own name when ``test_accuracy`` is too: otherwise it already stands for it)."""
RESULT_LOSSES = ("train_loss", "test_loss", "val_loss")


@dataclass(frozen=True, slots=True)
class FinalResults:
    """``accuracy_key`` is runyard's metric name, ``accuracy_field`` the field as printed
    (``accuracy`` for a report that wrote ``accuracy``, ``eval_accuracy`` for HF …)."""

    accuracy: float | None = None
    accuracy_key: str | None = None
    accuracy_field: str | None = None
    losses: dict[str, float] | None = None
    source: str = "none"
    """``completed_report``, ``last_report`` or ``none``."""
    line: int | None = None
    warnings: tuple[RunWarning, ...] = ()

    def with_warnings(self, warnings: tuple[RunWarning, ...]) -> FinalResults:
        return replace(self, warnings=warnings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "accuracy_key": self.accuracy_key,
            "accuracy_field": self.accuracy_field,
            "losses": dict(self.losses or {}),
            "source": self.source,
            "line": self.line,
            "warnings": [
                {"kind": w.kind.value, "line": w.line, "text": w.text, "message": w.message}
                for w in self.warnings
            ],
        }


def final_results(reports: Sequence[Report], exit_code: int | None) -> FinalResults:
    """Results of a finished process; ``reports`` in printed order, ``exit_code`` None when
    the process was killed by a signal (a failure)."""
    completed = next((r for r in reversed(reports) if r.completed), None)
    if completed is not None:
        if exit_code == 0:
            return _results_of(completed, "completed_report", ())
        message = f"a completed report was printed (line {completed.line}), then the process failed ({_ended(exit_code)})"
        warning = RunWarning(WarningKind.COMPLETED_THEN_FAILED, completed.line, "", message)
        return _results_of(completed, "completed_report", (warning,))
    if exit_code != 0:
        return FinalResults()
    message = 'the process exited 0 without a report with "status": "completed"'
    warning = RunWarning(WarningKind.NO_COMPLETED_REPORT, None, "", message)
    chosen = _last_with(reports, RESULT_ACCURACIES) or _last_with(reports, RESULT_LOSSES)
    if chosen is None:
        return FinalResults(warnings=(warning,))
    return _results_of(chosen, "last_report", (warning,))


def _last_with(reports: Sequence[Report], names: tuple[str, ...]) -> Report | None:
    return next((r for r in reversed(reports) if any(n in r.metrics for n in names)), None)


def _results_of(report: Report, source: str, warnings: tuple[RunWarning, ...]) -> FinalResults:
    key = next((n for n in RESULT_ACCURACIES if n in report.metrics), None)
    return FinalResults(
        accuracy=report.metrics[key] if key else None,
        accuracy_key=key,
        accuracy_field=report.renamed.get(key, key) if key else None,
        losses={n: report.metrics[n] for n in RESULT_LOSSES if n in report.metrics},
        source=source,
        line=report.line,
        warnings=warnings,
    )


def _ended(exit_code: int | None) -> str:
    return "killed by a signal" if exit_code is None else f"exit code {exit_code}"
