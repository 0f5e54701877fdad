"""The stateful per-run output parser: raw log bytes in, points, reports and warnings out.

One :class:`RunParser` follows one attempt's log (line numbers and ``offset`` are those
of that file; a retry starts a new parser, and keeping a warning kind once per run across
attempts is the store's upsert). It is fed the log's bytes as they are read; only complete lines are parsed and the rest is kept for the
next call. It does no I/O, so the ingester, ``runyard check --log`` and ``reingest`` all
share it, and :meth:`RunParser.state` / :meth:`RunParser.from_state` let the ingester
resume after a crash at the saved ``offset`` without reading anything twice.

What each line means is decided in PROTOCOL.md §1-§7; the readers live beside this module
(progress, legacy, frameworks, patterns), finding candidate lines fast in ``scan``.
Choices the protocol leaves open, made here:

- x is the report's step, else its epoch. A PROGRESS or pattern report with neither gets
  an implicit x (``xaxis``); a legacy or framework line, the run's current step or epoch.
- Points of PROGRESS and pattern reports at an x their metric already reached in this
  attempt are counted, and make one ``points_replaced`` warning when the attempt ends.
- Legacy and framework lines are read only until the first segment that starts with
  ``PROGRESS:`` (even a malformed one: the script means to speak the protocol).
- A legacy or framework report carries every metric of its epoch so far, so a test line
  after a train line is one complete report for the final results and snapshots.
- A progress bar's redraws (every ``\\r``-segment but a line's last) are read, but their
  reports never ask for a snapshot.
- Custom patterns apply to every segment that is not a PROGRESS report, before and after
  the first PROGRESS line.
- Warnings about values (``non_finite``, ``accuracy_out_of_range``) apply to every source;
  ``accuracy_fraction`` only to values the script wrote (see ``accuracy``).
- The caller's store replaces a metric's value at the same x; the parser emits every point
  and counts the replacements (``xaxis``).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import isfinite
from typing import Any

from runyard.protocol import frameworks, heuristics
from runyard.protocol.accuracy import FractionTracker
from runyard.protocol.lines import Block, LineSplitter, LongLine, decode, strip_ansi
from runyard.protocol.model import (
    MetricPoint,
    ParseResult,
    Progress,
    Report,
    RunWarning,
    Source,
    WarningKind,
    decode_float,
    encode_float,
)
from runyard.protocol.patterns import compile_patterns, match_patterns
from runyard.protocol.progress import PREFIX, ProgressFields, read_progress
from runyard.protocol.results import RESULT_ACCURACIES, RESULT_LOSSES, FinalResults, final_results
from runyard.protocol.scan import candidate_lines
from runyard.protocol.xaxis import Axis

STATE_VERSION = 1
EVAL_PREFIXES = ("val_", "test_")
TEXT_LIMIT = 500
"""Warnings quote at most this many characters of the offending line."""


_EVAL, _ACCURACY = 1, 2
_NAME_KINDS: dict[str, int] = {}
"""Metric name → what it is (eval metric, accuracy), computed once per name: a chatty run
prints the same few names on every line."""


def _classify(name: str) -> int:
    kind = 0
    if name.startswith(EVAL_PREFIXES) or name == "accuracy":
        kind |= _EVAL
    if name.endswith("accuracy") and (name == "accuracy" or name.endswith("_accuracy")):
        kind |= _ACCURACY
    if len(_NAME_KINDS) < 100_000:  # a hostile run printing endless new names stays bounded
        _NAME_KINDS[name] = kind
    return kind


_new = tuple.__new__
"""Named tuples built on the hot path skip their Python-level ``__new__`` (≈ 0.5 µs each)."""


class RunParser:
    """Parses one run's output incrementally (see the module docstring)."""

    def __init__(self, metric_patterns: Sequence[str] = ()) -> None:
        self._patterns = compile_patterns(metric_patterns)
        self._splitter = LineSplitter()
        self._lines = 0
        self.protocol_seen = False
        self.epoch: int | None = None
        self.total_epochs: int | None = None
        self.step: int | None = None
        self.metrics: dict[str, float] = {}
        self.info: dict[str, str | bool] = {}
        self.warnings: list[RunWarning] = []
        self.completed: Report | None = None
        self.last_accuracy_report: Report | None = None
        self.last_loss_report: Report | None = None
        self._fraction = FractionTracker()
        self._fraction_first: tuple[int, str] | None = None
        self._epoch_metrics: dict[str, float] = {}
        self._epoch_renamed: dict[str, str] = {}
        self._keras_counter = 0
        self._keras_evaluating = False
        self.axis = Axis()
        self._result = ParseResult()
        self.emit_columns = False
        """True: points come as ``ParseResult.columns`` (the ingester's parse process, which
        only needs columns), not as ``MetricPoint`` tuples."""

    @property
    def lines(self) -> int:
        """Complete lines read so far (a line over the limit counts once it is found)."""
        return self._lines

    @property
    def offset(self) -> int:
        """Bytes fully dealt with; after a crash, resume reading the log here."""
        return self._splitter.offset

    @property
    def progress(self) -> Progress:
        return Progress(self.epoch, self.total_epochs, self.step)

    def feed(self, data: bytes) -> ParseResult:
        """Parse the complete lines in what has arrived; keep an unfinished last line."""
        return self._run(self._splitter.feed(data), run_ended=False)

    def finish(self) -> ParseResult:
        """End of the attempt: read a last line that has no ``\\n``, and decide what waits for the end."""
        return self._run(self._splitter.finish(), run_ended=True)

    def final_results(self, exit_code: int | None) -> FinalResults:
        """Final results (PROTOCOL.md §3) once the process has exited (None: killed by a signal).

        End-of-run warnings are recorded here too, each once per run.
        """
        reports = [
            r for r in (self.last_accuracy_report, self.last_loss_report, self.completed) if r
        ]
        results = final_results(sorted(reports, key=lambda r: r.line), exit_code)
        fresh = tuple(w for w in results.warnings if self._record_warning(w))
        return results.with_warnings(fresh)

    def _run(self, pieces: list[Block | LongLine], run_ended: bool) -> ParseResult:
        self._result = result = ParseResult()
        before, start = self.progress, self._lines
        for piece in pieces:
            if isinstance(piece, Block):
                self._read_block(piece.data)
            else:
                self._lines += 1
                text = decode(strip_ansi(piece.head))
                message = "line over 1 MiB: kept in the log, not parsed"
                self._warn(WarningKind.LINE_TOO_LONG, self._lines, text, message)
        if run_ended:
            self._check_fraction(run_ended=True)
            replaced = self.axis.message()
            if replaced is not None:
                axis = self.axis
                self._warn(WarningKind.POINTS_REPLACED, axis.first_line, axis.first_text, replaced)
        result.lines = self._lines - start
        if self.progress != before:
            result.progress = self.progress
        return result

    def _read_block(self, data: bytes) -> None:
        # Until the first PROGRESS line the legacy and framework readers are on; after it
        # only PROGRESS (and custom patterns) are read, far faster. So a block is read up
        # to its first line that may start the protocol, then the rest on the fast path.
        while not self.protocol_seen:
            found = data.find(b"PROGRESS:")
            if found < 0:
                break
            end = data.find(b"\n", found) + 1
            self._read_lines(data[:end])
            data = data[end:]
        if data:
            self._read_lines(data)

    def _read_lines(self, data: bytes) -> None:
        first = self._lines + 1
        candidates, count = candidate_lines(
            strip_ansi(data), not self.protocol_seen, self._patterns
        )
        for index, text in candidates:
            self._read_line(first + index, text)
        self._lines += count

    def _read_line(self, number: int, text: str) -> None:
        if self.protocol_seen and "\r" not in text and "\b" not in text:
            # The common line of a chatty run: one segment, only PROGRESS and patterns read.
            body = text.strip()
            if body.startswith(PREFIX):
                self._read_progress(number, body)
            elif body and self._patterns:
                self._read_patterns(number, text, body)
            return
        if "\b" in text:  # Keras erases its progress bar with backspaces before each \r
            text = text.replace("\b", "")
        allowed = None if self.protocol_seen else heuristics.gate(text)
        segments = text.split("\r")
        last = len(segments) - 1
        while last > 0 and not segments[last].strip():
            last -= 1
        for position, segment in enumerate(segments):
            body = segment.strip()
            if not body:
                continue
            if body.startswith(PREFIX):
                self.protocol_seen = True
                self._read_progress(number, body)
                continue
            if self._patterns:
                self._read_patterns(number, segment, body)
            if allowed is not None and not self.protocol_seen:
                for finding in heuristics.read_segment(body, allowed):
                    self._apply(number, body, finding, redraw=position < last)

    def _read_progress(self, number: int, body: str) -> None:
        fields = read_progress(body)
        if not isinstance(fields, ProgressFields):
            self._warn(fields[0], number, body, fields[1])
            return
        for kind, message in fields.problems:
            self._warn(kind, number, body, message)
        total = fields.total_epochs
        if total is None:
            total = self.total_epochs
        elif self.total_epochs is not None and total != self.total_epochs:
            message = f"total_epochs changed from {self.total_epochs} to {total}"
            self._warn(WarningKind.TOTAL_EPOCHS_CHANGED, number, body, message)
        epoch = fields.epoch
        if epoch is not None and (epoch < 1 or (total is not None and epoch > total)):
            message = f"epoch {epoch} is outside 1..{total if total is not None else '?'}"
            self._warn(WarningKind.EPOCH_OUT_OF_RANGE, number, body, message)
        if epoch is None:
            epoch = self.epoch
        self.epoch, self.total_epochs = epoch, total
        if fields.step is not None:
            self.step = fields.step
            x = float(fields.step)
        elif fields.epoch is not None:
            x = float(fields.epoch)
        else:
            x = self.axis.implicit(fields.metrics, self._current_x())
        self._report(
            number, body, Source.PROGRESS, x, fields.metrics, fields.info, fields.renamed,
            step=fields.step, status=fields.status, written_by_script=True,
        )  # fmt: skip

    def _read_patterns(self, number: int, segment: str, body: str) -> None:
        for match in match_patterns(self._patterns, segment):
            step, epoch = match.step, match.epoch
            if step is not None:
                self.step, x = step, float(step)
            elif epoch is not None:
                x = float(epoch)
            else:
                step = self.step
                x = self.axis.implicit(match.metrics, self._current_x())
            if epoch is not None:
                self.epoch = epoch
            self._report(
                number,
                body,
                Source.PATTERN,
                x,
                match.metrics,
                {},
                {},
                step=step,
                written_by_script=True,
            )

    def _apply(self, number: int, body: str, finding: heuristics.Finding, redraw: bool) -> None:
        """A legacy or framework finding: move the epoch, then report its metrics.

        A progress bar's redraws (all but the last segment of a line) are reports too, but
        they never ask for a snapshot: Keras' ``evaluate`` alone redraws dozens of times.
        """
        if finding.keras is not None:
            finding = self._keras_stage(finding, finding.keras)
        if finding.epoch is not None:
            self._set_epoch(finding.epoch, finding.total_epochs)
        elif finding.total_epochs is not None:
            self.total_epochs = finding.total_epochs
        if finding.metrics:
            x = (
                finding.x
                if finding.x is not None and isfinite(finding.x)
                else float(self._current_x())
            )
            self._report(
                number, body, finding.source, x, finding.metrics, finding.info, finding.renamed,
                cumulative=True, written_by_script=finding.written_by_script, redraw=redraw,
            )  # fmt: skip

    def _keras_stage(
        self, finding: heuristics.Finding, line: frameworks.FrameworkLine
    ) -> heuristics.Finding:
        """Keras' batch counter going back without an ``Epoch`` header means ``evaluate``."""
        if line.counter is not None:
            if line.counter < self._keras_counter:
                self._keras_evaluating = True
            self._keras_counter = line.counter
        if not self._keras_evaluating:
            return finding
        evaluation = frameworks.keras_evaluation(line)
        return finding._replace(metrics=evaluation.metrics, renamed=evaluation.renamed)

    def _current_x(self) -> int:
        return self.step if self.step is not None else self.epoch if self.epoch is not None else 0

    def _set_epoch(self, epoch: int, total: int | None) -> None:
        self._keras_counter, self._keras_evaluating = 0, False
        if epoch != self.epoch:
            self._epoch_metrics, self._epoch_renamed = {}, {}
        self.epoch = epoch
        if total is not None:
            self.total_epochs = total

    def _report(
        self,
        number: int,
        body: str,
        source: Source,
        x: float,
        metrics: dict[str, float],
        info: dict[str, str | bool],
        renamed: dict[str, str],
        *,
        step: int | None = None,
        status: str | None = None,
        cumulative: bool = False,
        written_by_script: bool = False,
        redraw: bool = False,
    ) -> None:
        """Emit the points of one report, check their values, and record the report.

        The hot path of a chatty run: kept to plain loops and set operations on purpose.
        """
        result, epoch = self._result, self.epoch
        axis = self.axis
        axis.points += len(metrics)
        if source is Source.PROGRESS or source is Source.PATTERN:
            axis.record(metrics, x, number, body[:TEXT_LIMIT])
        if self.emit_columns:
            columns = result.columns
            for name, value in metrics.items():
                column = columns.get(name)
                if column is None:
                    column = columns[name] = ([], [])
                column[0].append(x)
                column[1].append(value)
        else:
            result.points += [_new(MetricPoint, (n, x, v, epoch, step, number)) for n, v in metrics.items()]
        kinds = _NAME_KINDS
        accuracies = []
        has_eval = False
        total = sum(metrics.values())
        all_finite = total - total == 0.0  # inf - inf and NaN - NaN are NaN: one check a report
        for name, value in metrics.items():
            kind = kinds.get(name)
            if kind is None:
                kind = _classify(name)
            if kind == 0 and all_finite:
                continue
            if kind & _EVAL and not redraw:
                has_eval = True
            if not all_finite and not isfinite(value):
                self._warn(WarningKind.NON_FINITE, number, body, f"{name} is {value}")
            elif kind & _ACCURACY:
                accuracies.append(value)
                if not 0.0 <= value <= 100.0:
                    self._warn(
                        WarningKind.ACCURACY_OUT_OF_RANGE,
                        number,
                        body,
                        f"{name} = {value} is outside 0..100 (percent)",
                    )
        self.metrics.update(metrics)
        if info:
            self.info.update(info)
            result.info.update(info)
        if written_by_script and accuracies:
            self._fraction.add_report(accuracies)
            if (
                self._fraction_first is None
                and min(accuracies) <= 1.0
                and any(0.0 < v <= 1.0 for v in accuracies)
            ):
                self._fraction_first = (number, body[:TEXT_LIMIT])
            self._check_fraction(run_ended=status == "completed")
        if cumulative:
            self._epoch_metrics.update(metrics)
            self._epoch_renamed.update(renamed)
            metrics, renamed = dict(self._epoch_metrics), dict(self._epoch_renamed)
        report = _new(Report, (
            number,
            source,
            x,
            epoch,
            self.total_epochs,
            step,
            metrics,
            info,
            status,
            has_eval,
            renamed,
        ))
        result.reports.append(report)
        keys = metrics.keys()
        if not keys.isdisjoint(RESULT_ACCURACIES):
            self.last_accuracy_report = report
        if not keys.isdisjoint(RESULT_LOSSES):
            self.last_loss_report = report
        if status == "completed":
            self.completed = result.completed = report
            self._check_fraction(run_ended=True)

    def _check_fraction(self, run_ended: bool) -> None:
        if self._fraction_first is not None and self._fraction.suspected(run_ended):
            line, text = self._fraction_first
            message = "every accuracy so far lies in [0, 1]: report percent (95.5), not a fraction (0.955)"
            self._warn(WarningKind.ACCURACY_FRACTION, line, text, message)

    def _warn(self, kind: WarningKind, line: int | None, text: str, message: str) -> None:
        warning = RunWarning(kind, line, text[:TEXT_LIMIT], message)
        if self._record_warning(warning):
            self._result.warnings.append(warning)

    def _record_warning(self, warning: RunWarning) -> bool:
        """Keep the first warning of each kind; False when that kind was already raised."""
        if any(w.kind is warning.kind for w in self.warnings):
            return False
        self.warnings.append(warning)
        return True

    def state(self) -> dict[str, Any]:
        """A small JSON-safe dict from which :meth:`from_state` resumes at :attr:`offset`."""

        def report(r: Report | None) -> dict[str, Any] | None:
            return r.to_json() if r is not None else None

        return {
            "version": STATE_VERSION,
            "lines": self._lines,
            "offset": self._splitter.offset,
            "skipping": self._splitter.skipping,
            "protocol_seen": self.protocol_seen,
            "progress": list(self.progress),
            "metrics": {k: encode_float(v) for k, v in self.metrics.items()},
            "info": self.info,
            "warnings": [[w.kind.value, w.line, w.text, w.message] for w in self.warnings],
            "fraction": self._fraction.to_json(),
            "fraction_first": list(self._fraction_first) if self._fraction_first else None,
            "epoch_metrics": {k: encode_float(v) for k, v in self._epoch_metrics.items()},
            "epoch_renamed": self._epoch_renamed,
            "keras": [self._keras_counter, self._keras_evaluating],
            "axis": self.axis.to_json(),
            "completed": report(self.completed),
            "last_accuracy_report": report(self.last_accuracy_report),
            "last_loss_report": report(self.last_loss_report),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], metric_patterns: Sequence[str] = ()) -> RunParser:
        """A parser that continues where the one that wrote ``state`` stopped."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"parser state version {state.get('version')!r} is not {STATE_VERSION}"
            )

        def report(data: dict[str, Any] | None) -> Report | None:
            return Report.from_json(data) if data is not None else None

        parser = cls(metric_patterns)
        parser._splitter = LineSplitter(state["offset"], state["skipping"])
        parser._lines = int(state["lines"])
        parser.protocol_seen = bool(state["protocol_seen"])
        parser.epoch, parser.total_epochs, parser.step = state["progress"]
        parser.metrics = {k: decode_float(v) for k, v in state["metrics"].items()}
        parser.info = dict(state["info"])
        parser.warnings = [
            RunWarning(WarningKind(k), line, text, msg) for k, line, text, msg in state["warnings"]
        ]
        parser._fraction = FractionTracker.from_json(state["fraction"])
        first = state["fraction_first"]
        parser._fraction_first = (int(first[0]), str(first[1])) if first else None
        parser._epoch_metrics = {k: decode_float(v) for k, v in state["epoch_metrics"].items()}
        parser._epoch_renamed = dict(state["epoch_renamed"])
        parser._keras_counter, parser._keras_evaluating = (
            int(state["keras"][0]),
            bool(state["keras"][1]),
        )
        parser.axis = Axis.from_json(state.get("axis"))
        parser.completed = report(state["completed"])
        parser.last_accuracy_report = report(state["last_accuracy_report"])
        parser.last_loss_report = report(state["last_loss_report"])
        return parser
