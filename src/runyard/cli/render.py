"""What the CLI prints: flat, stable JSON for scripts; Rich tables and text for people.

JSON keys come in one fixed order (``RUN_FIELDS``), every key always present, so that
``jq`` filters and diffs of two outputs keep working. Rich is imported only here, and only
when a table is drawn. Piped output gets no colour and no truncation.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from runyard.cli.render_metrics import metric_fields, print_metric_sections, progress_rows
from runyard.cli.text import format_span, gpus_text
from runyard.domain.status import FINISHED_NAMES as FINISHED
from runyard.domain.status import PENDING_NAMES as PENDING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

RUN_FIELDS = (
    "id", "name", "status", "reason", "exit_code", "signal", "attempts", "gpus",
    "command", "display_command", "shell", "workdir", "env", "priority", "retries",
    "retry_on", "timeout_s", "tags", "after", "after_any", "setup", "swaps",
    "gpus_min", "gpus_max", "gpu_mem_mib", "gpu_ids", "created_at", "started_at",
    "finished_at", "waiting_for", "spec",
)  # fmt: skip
ATTEMPT_FIELDS = (
    "number", "status", "gpus", "pid", "started_at", "finished_at", "exit_code", "signal", "reason",
)  # fmt: skip
STATUS_STYLE = {
    "queued": "yellow",
    "waiting": "yellow",
    "preparing": "cyan",
    "running": "bold cyan",
    "paused": "magenta",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "dim",
    "lost": "red",
}
GPU_FIELDS = (
    "index", "uuid", "name", "memory_mib", "used_mib", "external_mib", "external_busy",
    "utilization", "processes", "runs",
)  # fmt: skip


def _ordered(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """``fields`` first, in their order (None where missing), then any others sorted."""
    out = {key: data.get(key) for key in fields}
    out.update({key: data[key] for key in sorted(data) if key not in out})
    return out


def flat_run(run: dict[str, Any], *, metrics: bool = False) -> dict[str, Any]:
    """A run as ``--json`` prints it: the daemon's flat fields in a fixed order; with
    ``metrics`` (``show``), also progress, final, metrics, info and warnings, always present."""
    out = _ordered(run, RUN_FIELDS)
    out["attempts"] = [_ordered(a, ATTEMPT_FIELDS) for a in run.get("attempts") or ()]
    if metrics:
        extra = metric_fields(run)
        for key in extra:  # last, in their own order, whether the daemon sent them or not
            out.pop(key, None)
        out.update(extra)
    return out


def flat_gpus(inventory: dict[str, Any]) -> dict[str, Any]:
    """``runyard gpus --json``: the source, then each GPU with its keys in a fixed order."""
    out = _ordered(inventory, ("source", "gpus"))
    out["gpus"] = [_ordered(gpu, GPU_FIELDS) for gpu in inventory.get("gpus") or ()]
    return out


def print_json(value: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    out.flush()


class _TrimmedLines:
    """A pipe's writer that drops the padding Rich leaves at the end of table lines,
    so that ``runyard ls | grep`` and ``awk`` see clean lines."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._stream.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False


def make_console(color: bool | None, *, stderr: bool = False) -> Console:
    """A console that colours only a terminal (unless ``--color``/``NO_COLOR`` say otherwise)
    and never truncates what goes to a pipe or a file."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        file=stream if tty else _TrimmedLines(stream),  # type: ignore[arg-type]
        stderr=stderr,
        force_terminal=True if color else None,
        no_color=None if color is None else not color,
        width=None if tty else 10_000,
        highlight=False,
        soft_wrap=not tty,
    )


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_time(run: dict[str, Any], now: datetime | None = None) -> str:
    """How long a pending run has waited, a live one has run (its latest attempt), a finished
    one ran."""
    now = now or datetime.now(UTC)
    latest = (run.get("attempts") or [run])[-1]
    created = parse_time(run.get("created_at"))
    started = parse_time(latest.get("started_at") or run.get("started_at"))
    finished = parse_time(latest.get("finished_at") or run.get("finished_at"))
    if run.get("status") in PENDING or started is None:
        if run.get("status") in FINISHED:
            return "-"
        return f"{format_span((now - created).total_seconds())} ago" if created else "-"
    return format_span(((finished or now) - started).total_seconds())


def status_text(run: dict[str, Any]) -> str:
    status = str(run.get("status"))
    reason = run.get("reason")
    return f"{status} ({reason})" if reason and status != "cancelled" else status


def outcome_text(run: dict[str, Any]) -> str:
    """Why a pending run waits; how a failed one ended."""
    status = run.get("status")
    if status in PENDING:
        return str(run.get("waiting_for") or "")
    if status in ("failed", "lost"):
        return ending_text(run)
    return ""


def ending_text(run: dict[str, Any]) -> str:
    """How a run or attempt ended: ``exit code 3``, ``signal 9``, ``oom, exit code 1``."""
    if run.get("signal") is not None:
        detail = f"signal {run['signal']}"
    elif run.get("exit_code") is not None:
        detail = f"exit code {run['exit_code']}"
    else:
        detail = ""
    reason = run.get("reason")
    if reason and reason not in ("exit_code", "signal", run.get("status")):
        return f"{reason}, {detail}" if detail else str(reason)
    return detail


def tries_text(run: dict[str, Any]) -> str:
    done = len(run.get("attempts") or ())
    allowed = int(run.get("retries") or 0) + 1
    return f"{done}/{allowed}" if allowed > 1 else str(done)


def runs_table(runs: list[dict[str, Any]], now: datetime | None = None) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("NAME", overflow="ellipsis", max_width=40, no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("GPUS", no_wrap=True)
    table.add_column("TRIES", justify="right", no_wrap=True)
    table.add_column("TIME", justify="right", no_wrap=True)
    table.add_column("WHY / COMMAND", overflow="ellipsis", no_wrap=True)
    for run in runs:
        style = STATUS_STYLE.get(str(run.get("status")), "")
        note = outcome_text(run) or str(run.get("display_command") or "")
        table.add_row(  # names, commands and reasons are the user's text, not markup
            str(run.get("id")),
            escape(str(run.get("name") or "-")),
            f"[{style}]{status_text(run)}[/]" if style else status_text(run),
            gpus_text(run),
            tries_text(run),
            run_time(run, now),
            escape(note),
        )
    return table


def print_runs(console: Console, runs: list[dict[str, Any]]) -> None:
    if not runs:
        console.print("no runs", style="dim")
        return
    console.print(runs_table(runs))


def print_run(console: Console, run: dict[str, Any]) -> None:
    """One run in full: its settings, progress and final results, latest metrics, warnings,
    then one line per attempt."""
    from rich.markup import escape
    from rich.table import Table

    style = STATUS_STYLE.get(str(run.get("status")), "")
    title = f"run {run.get('id')}" + (f"  {escape(str(run['name']))}" if run.get("name") else "")
    console.print(f"[bold]{title}[/]  [{style or 'default'}]{status_text(run)}[/]")
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="dim", no_wrap=True)
    fields.add_column(overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("command", run.get("display_command")),
        ("workdir", run.get("workdir")),
        ("why", run.get("waiting_for") if run.get("status") in PENDING else None),
        ("outcome", outcome_text(run) if run.get("status") not in PENDING else None),
        ("gpus", gpus_text(run)),
        ("gpu memory", f"{run['gpu_mem_mib']} MiB" if run.get("gpu_mem_mib") else None),
        ("priority", run.get("priority")),
        (
            "retries",
            f"{run.get('retries')} (on {run.get('retry_on')})" if run.get("retries") else None,
        ),
        ("timeout", format_span(run["timeout_s"]) if run.get("timeout_s") else None),
        ("tags", ", ".join(run.get("tags") or ()) or None),
        ("after", ", ".join(str(i) for i in run.get("after") or ()) or None),
        ("after any", ", ".join(str(i) for i in run.get("after_any") or ()) or None),
        ("setup", run.get("setup")),
        (
            "swaps",
            ", ".join(f"{s['source']} → {s['target']}" for s in run.get("swaps") or ()) or None,
        ),
        ("env", " ".join(f"{k}={v}" for k, v in (run.get("env") or {}).items()) or None),
        ("created", run.get("created_at")),
        ("started", run.get("started_at")),
        ("finished", run.get("finished_at")),
        ("time", run_time(run)),
        *progress_rows(run),
    ]
    for label, value in rows:
        if value not in (None, ""):
            fields.add_row(label, escape(str(value)))
    console.print(fields)
    print_metric_sections(console, run)
    attempts = run.get("attempts") or []
    if not attempts:
        return
    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left")
    for column in ("ATTEMPT", "STATUS", "GPUS", "PID", "STARTED", "TIME", "EXIT"):
        table.add_column(column, no_wrap=True)
    for attempt in attempts:
        started, finished = (
            parse_time(attempt.get("started_at")),
            parse_time(attempt.get("finished_at")),
        )
        span = (
            format_span(((finished or datetime.now(UTC)) - started).total_seconds())
            if started
            else "-"
        )
        ending = ending_text(attempt)
        table.add_row(
            str(attempt.get("number")),
            str(attempt.get("status") or "-"),
            ",".join(str(g) for g in attempt.get("gpus") or ()) or "cpu",
            str(attempt.get("pid") or "-"),
            str(attempt.get("started_at") or "-"),
            span,
            ending,
        )
    console.print()
    console.print(table)


def print_gpus(console: Console, inventory: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    gpus = inventory.get("gpus") or []
    if not gpus:
        console.print(
            f"no GPUs (source: {inventory.get('source', 'none')}); runs go on the CPU", style="dim"
        )
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("GPU", "NAME", "MEMORY", "UTIL", "STATE", "RUNS"):
        table.add_column(column, no_wrap=column != "NAME")
    for gpu in gpus:
        runs = ", ".join(
            str(r.get("run_id")) + (f" ({r['mem_mib']} MiB)" if r.get("mem_mib") else "")
            for r in gpu.get("runs") or ()
        )
        if gpu.get("external_busy"):
            state = f"[red]busy[/] (others: {gpu.get('external_mib') or 0} MiB)"
        elif gpu.get("runs"):
            state = "[cyan]in use[/]"
        else:
            state = "[green]free[/]"
        util = gpu.get("utilization")
        table.add_row(
            str(gpu.get("index")),
            escape(str(gpu.get("name") or "-")),
            f"{gpu.get('used_mib') or 0}/{gpu.get('memory_mib') or '?'} MiB",
            f"{util}%" if util is not None else "-",
            state,
            runs or "-",
        )
    console.print(table)
    console.print(f"source: {inventory.get('source')}", style="dim")
