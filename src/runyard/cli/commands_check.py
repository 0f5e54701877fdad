"""``runyard check``: would runyard track this training script correctly?

It runs the script in the foreground (not queued, no daemon), passes its output through
unchanged while parsing it exactly as the daemon would (``runyard.protocol``), and then
reports: reports seen by source, fields, epochs, final accuracy and losses, every warning
with its line. ``--log FILE`` does the same on a saved log. This is the "testing your
script" step of the format guide, automated.

The exit code is 0 when the script would be tracked correctly, 1 when not:

- the script exited non-zero or was killed (not judged with ``--log``: a saved log has no
  exit status);
- no report at all was found;
- a script that prints PROGRESS lines never said ``"status": "completed"`` (final results
  would be guessed; framework output — Keras, HF, PyTorch — is read without one);
- a warning that means a value is wrong or lost (``FATAL_WARNINGS``): malformed_json,
  not_an_object, missing_field, epoch_out_of_range, unknown_status, accuracy_fraction,
  accuracy_out_of_range, no_completed_report, completed_then_failed, points_replaced (the
  count of points that would not be stored is in the report), and line_too_long on a line
  that starts with ``PROGRESS:``.

Only reported, never failing: ``non_finite`` (a NaN loss is stored as NaN: that is the
run's truth, not a tracking error), ``total_epochs_changed`` (the values are kept; only
the ETA moves) and ``line_too_long`` on any other line (nothing was lost but chatter).

Start-up stays small: at module level only Typer; the parser is imported when a check
starts and Rich when the report is drawn.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from runyard.cli.context import ColorOption, state
from runyard.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, CliUsageError
from runyard.errors import RunyardError

if TYPE_CHECKING:
    from rich.console import Console

    from runyard.protocol import FinalResults, ParseResult, RunParser

FATAL_WARNINGS = frozenset(
    {
        "malformed_json", "not_an_object", "missing_field", "epoch_out_of_range",
        "unknown_status", "accuracy_fraction", "accuracy_out_of_range",
        "no_completed_report", "completed_then_failed", "points_replaced",
    }
)  # fmt: skip
SOURCE_LABELS = {
    "progress": "PROGRESS",
    "legacy": "legacy",
    "keras": "keras",
    "hf_trainer": "hf",
    "pytorch_example": "pytorch",
    "pattern": "pattern",
}
FINAL_LOSSES = ("train_loss", "test_loss", "val_loss")
CHUNK_BYTES = 1 << 16
MISSING_EPOCHS_SHOWN = 20
FORMAT_HINT = (
    'print one line per epoch: PROGRESS: {"epoch": 1, "total_epochs": 10, "train_loss": 0.5,'
    ' "test_accuracy": 81.2, "status": "training"} (PROTOCOL.md §2)'
)

CHECK_HELP = (
    "Run a training script in the foreground and say whether runyard would track it correctly."
    "\n\nNot queued, no daemon needed: the output of COMMAND (after --) passes through unchanged"
    " while it is parsed, then a report follows: reports by source, fields, epochs, final"
    " accuracy and losses, every warning with its line. --log FILE checks a saved log instead"
    " (- reads stdin)."
    "\n\nExit 0 when it would be tracked correctly; 1 when the script exits non-zero, prints no"
    ' report, no report with "status": "completed", or a warning that means data is wrong or'
    " lost: malformed_json, not_an_object, missing_field, epoch_out_of_range, unknown_status,"
    " accuracy_fraction, accuracy_out_of_range, no_completed_report, completed_then_failed,"
    " points_replaced, line_too_long on a PROGRESS line. non_finite, total_epochs_changed and other long lines"
    " are only reported."
)


def is_fatal(kind: str, text: str) -> bool:
    """Whether a warning means that tracked data is wrong or lost (see the module docstring)."""
    if kind == "line_too_long":
        return text.lstrip().startswith("PROGRESS:")
    return kind in FATAL_WARNINGS


def json_number(value: Any) -> Any:
    """Non-finite floats spelled as the API spells them (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


@dataclass
class Tally:
    """What the reports of a run said, counted as they arrive (nothing kept per report)."""

    reports: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)
    info_fields: Counter[str] = field(default_factory=Counter)
    printed_as: dict[str, str] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    epochs: set[int] = field(default_factory=set)
    completed: int = 0

    def add(self, result: ParseResult) -> None:
        for report in result.reports:
            self.reports += 1
            self.by_source[report.source.value] += 1
            self.fields.update(report.metrics.keys())
            self.info_fields.update(report.info.keys())
            self.printed_as.update(report.renamed)
            self.last.update(report.metrics)
            self.last.update(report.info)
            if report.epoch is not None:
                self.epochs.add(report.epoch)
            self.completed += report.completed


class Checker:
    """Feeds output to a :class:`RunParser` and counts what it finds; then judges."""

    def __init__(self, metric_patterns: list[str]) -> None:
        from runyard.errors import InvalidSpec
        from runyard.protocol import RunParser

        try:
            self.parser: RunParser = RunParser(metric_patterns)
        except InvalidSpec as error:
            raise CliUsageError(str(error).replace("metric pattern", "--metric-pattern")) from None
        self.tally = Tally()
        self.oom = False
        self._tail = b""

    def feed(self, data: bytes) -> None:
        self.tally.add(self.parser.feed(data))
        if not self.oom:
            from runyard.protocol.oom import has_oom_signature

            seen = self._tail + data
            self.oom = has_oom_signature(seen)
            self._tail = seen[-64:]  # a signature cut by a read: longer than any signature

    def finish(
        self, exit_code: int | None, signal: int | None, *, exit_known: bool = True
    ) -> dict[str, Any]:
        """The report as ``--json`` prints it. ``exit_code`` None with a ``signal``: killed."""
        self.tally.add(self.parser.finish())
        results = self.parser.final_results(exit_code if exit_known else 0)
        return build_report(self, results, exit_code, signal, exit_known)


def build_report(
    checker: Checker,
    results: FinalResults,
    exit_code: int | None,
    signal: int | None,
    exit_known: bool,
) -> dict[str, Any]:
    """The report as ``--json`` prints it, ``ok`` and ``problems`` included."""
    parser, tally = checker.parser, checker.tally
    total = parser.total_epochs
    missing = sorted(set(range(1, total + 1)) - tally.epochs) if total and total < 100_000 else []
    warnings = [
        {
            "kind": w.kind.value,
            "line": w.line,
            "text": w.text,
            "message": w.message,
            "fatal": is_fatal(w.kind.value, w.text)
            and not (w.kind.value == "no_completed_report" and not checker.parser.protocol_seen),
        }
        for w in parser.warnings
    ]
    losses = results.losses or {}
    report: dict[str, Any] = {
        "ok": False,
        "problems": [],
        "exit_code": exit_code if exit_known else None,
        "signal": signal,
        "oom": checker.oom,
        "lines": parser.lines,
        "points": {"read": parser.axis.points, "replaced": parser.axis.replaced},
        "reports": {
            "total": tally.reports,
            "completed": tally.completed,
            "by_source": {s: tally.by_source[s] for s in SOURCE_LABELS if tally.by_source[s]},
        },
        "fields": {
            name: {
                "reports": count,
                "last": json_number(tally.last.get(name)),
                "printed_as": tally.printed_as.get(name),
            }
            for name, count in sorted(tally.fields.items())
        },
        "info": {name: tally.last.get(name) for name in sorted(tally.info_fields)},
        "epochs": {"seen": len(tally.epochs), "total": total, "missing": missing},
        "final": {
            "accuracy": json_number(results.accuracy),
            "accuracy_field": results.accuracy_field,
            **{loss: json_number(losses.get(loss)) for loss in FINAL_LOSSES},
            "source": results.source,
            "line": results.line,
        },
        "warnings": warnings,
    }
    report["problems"] = problems_of(report, exit_known)
    report["ok"] = not report["problems"]
    return report


def problems_of(report: dict[str, Any], exit_known: bool) -> list[str]:
    """Why the script would not be tracked correctly; empty when it would."""
    problems = []
    failed = exit_known and (report["exit_code"] != 0 or report["signal"] is not None)
    if failed:
        how = (
            f"was killed by signal {report['signal']}"
            if report["signal"] is not None
            else f"exited with code {report['exit_code']}"
        )
        problems.append(f"the script {how}" + (" (out of memory)" if report["oom"] else ""))
    if not report["reports"]["total"]:
        problems.append(f"no report found: {FORMAT_HINT}")
    elif not report["reports"]["completed"] and not failed and "progress" in report["reports"]["by_source"]:
        # Framework output (Keras, HF, PyTorch) never says "completed": its final results
        # come from the last report by design (PROTOCOL.md §3, §7), which is not a failure.
        fix = 'give the last PROGRESS report "status": "completed"'
        problems.append(
            'no report with "status": "completed", so the final results would be guessed'
            f" from the last report that has them: {fix}"
        )
    covered = {"no_completed_report", "completed_then_failed"}
    for warning in report["warnings"]:
        if warning["fatal"] and warning["kind"] not in covered:
            where = f"line {warning['line']}" if warning["line"] is not None else "at the end"
            problems.append(f"{warning['kind']} ({where}): {warning['message']}")
    return problems


# ---- running -------------------------------------------------------------------------------


def _sink(json_out: bool, quiet: bool) -> BinaryIO | None:
    if quiet:
        return None
    stream = sys.stderr if json_out else sys.stdout
    return stream.buffer


def run_command(argv: list[str], checker: Checker, sink: BinaryIO | None) -> tuple[int, bool, bool]:
    """Run ``argv`` with stdout+stderr merged through a pipe, echo to ``sink`` and parse.

    Returns the process's return code (negative: killed by that signal), whether the user
    interrupted it, and whether the echoed output ended without a newline.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    except OSError as error:
        raise RunyardError(f"cannot run {argv[0]!r}: {error.strerror or error}") from None
    assert process.stdout is not None
    fd = process.stdout.fileno()
    interrupted, open_line = False, False
    while True:
        try:
            data = os.read(fd, CHUNK_BYTES)
        except KeyboardInterrupt:  # the script got the SIGINT too; a second one kills it
            if interrupted:
                process.kill()
            interrupted = True
            continue
        if not data:
            break
        if sink is not None:
            try:
                sink.write(data)
                sink.flush()
                open_line = not data.endswith(b"\n")
            except BrokenPipeError:
                sink = None
        checker.feed(data)
    process.stdout.close()
    while True:
        try:
            return process.wait(), interrupted, open_line
        except KeyboardInterrupt:
            process.kill()
            interrupted = True


def read_log(path: Path, checker: Checker) -> None:
    try:
        stream = sys.stdin.buffer if str(path) == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise RunyardError(f"cannot read {path}: {error.strerror or error}") from None
    with stream:
        while data := stream.read(1 << 20):
            checker.feed(data)


def check(
    ctx: typer.Context,
    command: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="COMMAND [ARG]...", help="The script to run (after --).", show_default=False
        ),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option("--log", metavar="FILE", help="Check a saved log instead (- for stdin)."),
    ] = None,
    metric_pattern: Annotated[
        list[str] | None,
        typer.Option(
            "--metric-pattern",
            metavar="RE",
            help="A regular expression with named groups (as for submit); repeat.",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Do not echo the script's output.")
    ] = False,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the report as JSON (the script's output then goes to stderr)."
        ),
    ] = False,
    color: ColorOption = None,
) -> None:
    if bool(command) == (log is not None):
        raise CliUsageError("give either a command (after --) or --log FILE, not both")
    checker = Checker(list(metric_pattern or ()))
    interrupted = False
    if command:
        code, interrupted, open_line = run_command(command, checker, _sink(json_out, quiet))
        exit_code, signal = (code, None) if code >= 0 else (None, -code)
        report = checker.finish(exit_code, signal)
        if open_line and not json_out:
            print()
    else:
        assert log is not None
        read_log(log, checker)
        report = checker.finish(None, None, exit_known=False)
    report = {"command": command or None, "log": str(log) if log else None, **report}
    if json_out:
        from runyard.cli.render import print_json

        print_json(report)
    else:
        print_report(state(ctx, color).console(), report)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if not report["ok"]:
        raise typer.Exit(EXIT_FAILURE)


# ---- the report ----------------------------------------------------------------------------


def _value(value: Any) -> str:
    from runyard.cli.render_metrics import format_value

    return format_value(value)


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The report's lines as (label, text), for people."""
    if report["command"]:
        import shlex

        ended = (
            f"killed by signal {report['signal']}"
            if report["signal"] is not None
            else f"exit code {report['exit_code']}"
        )
        what = f"{shlex.join(report['command'])} ({ended}, {report['lines']} lines)"
    else:
        what = f"log {report['log']} ({report['lines']} lines; exit status not known)"
    reports = report["reports"]
    sources = ", ".join(
        f"{SOURCE_LABELS[source]} {count}" for source, count in reports["by_source"].items()
    )
    fields = ", ".join(
        f"{name} ({entry['reports']}"
        + (f", printed as {entry['printed_as']})" if entry["printed_as"] else ")")
        for name, entry in report["fields"].items()
    )
    info = ", ".join(f"{name}={_value(value)}" for name, value in report["info"].items())
    epochs = report["epochs"]
    epoch_text = f"{epochs['seen']} seen" + (f" of {epochs['total']}" if epochs["total"] else "")
    if epochs["missing"]:
        shown = ", ".join(str(e) for e in epochs["missing"][:MISSING_EPOCHS_SHOWN])
        more = " …" if len(epochs["missing"]) > MISSING_EPOCHS_SHOWN else ""
        epoch_text += f" (missing {shown}{more})"
    final = report["final"]
    final_parts = []
    if final["accuracy"] is not None:
        final_parts.append(f"accuracy {_value(final['accuracy'])} ({final['accuracy_field']})")
    losses = ", ".join(
        f"{loss} {_value(final[loss])}" for loss in FINAL_LOSSES if final[loss] is not None
    )
    if losses:
        final_parts.append(losses)
    if final_parts and final["source"] == "last_report":
        final_parts.append(f"from the last report, line {final['line']}")
    elif final_parts and final["line"] is not None:
        final_parts.append(f"line {final['line']}")
    rows = [
        ("checked", what),
        (
            "reports",
            f"{reports['total']}"
            + (f" ({sources}), {reports['completed']} completed" if sources else ""),
        ),
        ("epochs", epoch_text),
        ("points", points_text(report["points"])),
        ("fields", fields or "none"),
        ("info", info),
        ("final", "; ".join(final_parts) or "none"),
        ("warnings", str(len(report["warnings"]) or "none")),
    ]
    return [(label, text) for label, text in rows if text]


def points_text(points: dict[str, int]) -> str:
    read, replaced = points["read"], points["replaced"]
    if not replaced:
        return f"{read:,} read, each at its own x"
    return f"{read:,} read, {replaced:,} replaced at an x already reached: {read - replaced:,} kept"


def print_report(console: Console, report: dict[str, Any]) -> None:
    """The report for people: a summary, every warning with its line, then the verdict."""
    from rich.markup import escape
    from rich.table import Table

    console.print("[bold]── runyard check ──[/]")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, text in summary_rows(report):
        grid.add_row(label, escape(text))
    console.print(grid)
    for warning in report["warnings"]:
        style, label = ("red", "fails") if warning["fatal"] else ("yellow", "note")
        where = f"line {warning['line']}" if warning["line"] is not None else "at the end"
        console.print(
            f"  [{style}]{warning['kind']}[/] ({label}) {where}: {escape(warning['message'])}",
            soft_wrap=True,
        )
        if warning["text"]:
            console.print(f"    {escape(warning['text'])}", style="dim", soft_wrap=True)
    if report["ok"]:
        console.print("[bold green]OK[/]: runyard would track this script correctly")
        return
    console.print("[bold red]NOT OK[/]: runyard would not track this script correctly:")
    for problem in report["problems"]:
        console.print(f"  - {escape(problem)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command(
        help=CHECK_HELP,
        # `check python train.py --lr 3`: everything after the command's first word is its own.
        context_settings={"allow_interspersed_args": False},
    )(check)
