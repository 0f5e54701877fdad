"""What the CLI prints about a run's metrics: ``show``'s sections, ``metrics`` and
``compare`` (``export`` writes what the daemon makes). Pure functions of the daemon's JSON,
so they are tested with plain dicts.

Numbers arrive as the API writes them: non-finite values are the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"``; they are kept as such in JSON and CSV (Python's
``float()`` and pandas read them back) and printed as they are in tables. A series point
is ``[x, value]``.
"""

from __future__ import annotations

import csv
import math
from typing import TYPE_CHECKING, Any, TextIO

from runyard.cli.text import format_span, gpus_text
from runyard.domain.metrics import csv_number, lower_is_better

if TYPE_CHECKING:
    from rich.console import Console

PROGRESS_FIELDS = ("epoch", "total_epochs", "step", "eta_s", "seconds_per_epoch")
FINAL_FIELDS = ("accuracy", "accuracy_field", "train_loss", "test_loss", "val_loss")
FINAL_LOSSES = ("train_loss", "test_loss", "val_loss")
WARNING_FIELDS = ("kind", "line", "text", "attempt")
SUMMARY_FIELDS = (
    "count", "first", "first_x", "last", "last_x", "min", "min_x", "max", "max_x", "best", "best_x",
)  # fmt: skip
COMPARED_SETTINGS = ("command", "workdir", "gpus", "priority", "tags")
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

END_WARNINGS = {  # warnings raised at the end of a run quote no line
    "no_completed_report": 'the process exited 0 without a report with "status": "completed"',
    "completed_then_failed": "a completed report was printed, then the process failed",
}

Number = float | int | str | None
Series = dict[str, list[list[Any]]]


def metric_fields(run: dict[str, Any]) -> dict[str, Any]:
    """``progress``, ``final``, ``metrics``, ``info`` and ``warnings`` of a run, every key
    present (null when the daemon does not know it), in a fixed order."""
    progress = run.get("progress") or {}
    final = run.get("final") or {}
    return {
        "progress": {key: progress.get(key) for key in PROGRESS_FIELDS}
        | {k: progress[k] for k in sorted(progress) if k not in PROGRESS_FIELDS},
        "final": {key: final.get(key) for key in FINAL_FIELDS}
        | {k: final[k] for k in sorted(final) if k not in FINAL_FIELDS},
        "metrics": {
            key: (run.get("metrics") or {})[key] for key in sorted(run.get("metrics") or {})
        },
        "info": {key: (run.get("info") or {})[key] for key in sorted(run.get("info") or {})},
        "warnings": [
            {key: w.get(key) for key in WARNING_FIELDS}
            | {k: w[k] for k in sorted(w) if k not in WARNING_FIELDS}
            for w in run.get("warnings") or ()
        ],
    }


def as_float(value: Number) -> float | None:
    """A value of the API as a float (``"NaN"`` → nan); None for null or text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return NON_FINITE.get(value)


def format_value(value: Any) -> str:
    """``0.4123``, ``91.2``, ``1500``, ``NaN``: six significant digits, whole numbers as such."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def format_x(value: Any) -> str:
    return format_value(value)


# ---- show ------------------------------------------------------------------------------


def progress_text(run: dict[str, Any]) -> str | None:
    """``epoch 3/10, step 1500, ETA 2m05s (41s/epoch)``; None when nothing is known yet."""
    progress = run.get("progress") or {}
    parts = []
    epoch, total = progress.get("epoch"), progress.get("total_epochs")
    if epoch is not None or total is not None:
        parts.append(f"epoch {format_value(epoch) if epoch is not None else '?'}/{total or '?'}")
    if progress.get("step") is not None:
        parts.append(f"step {format_value(progress['step'])}")
    eta, per_epoch = as_float(progress.get("eta_s")), as_float(progress.get("seconds_per_epoch"))
    if eta is not None and math.isfinite(eta) and run.get("status") in ("running", "paused"):
        parts.append(f"ETA {format_span(eta)}")
    if per_epoch is not None and math.isfinite(per_epoch):
        span = format_span(per_epoch) if per_epoch >= 10 else f"{per_epoch:.2g}s"
        parts.append(f"{span}/epoch")
    return ", ".join(parts) or None


def final_text(run: dict[str, Any]) -> str | None:
    """``91.2 (test_accuracy); train_loss 0.41, test_loss 0.44``; None without results."""
    final = run.get("final") or {}
    parts = []
    if final.get("accuracy") is not None:
        field = f" ({final['accuracy_field']})" if final.get("accuracy_field") else ""
        parts.append(f"accuracy {format_value(final['accuracy'])}{field}")
    losses = ", ".join(
        f"{key} {format_value(final[key])}" for key in FINAL_LOSSES if final.get(key) is not None
    )
    if losses:
        parts.append(losses)
    return "; ".join(parts) or None


def progress_rows(run: dict[str, Any]) -> list[tuple[str, Any]]:
    """The lines ``show`` adds to a run's fields."""
    return [("progress", progress_text(run)), ("final", final_text(run))]


def print_metric_sections(console: Console, run: dict[str, Any]) -> None:
    """``show``'s latest metrics, info values and warnings, each only when there are any."""
    from rich.markup import escape
    from rich.table import Table

    metrics, info = run.get("metrics") or {}, run.get("info") or {}
    if metrics or info:
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("METRIC", no_wrap=True)
        table.add_column("LATEST", justify="right", no_wrap=True)
        for key in sorted(metrics):
            table.add_row(escape(key), format_value(metrics[key]))
        for key in sorted(info):
            table.add_row(escape(key), escape(format_value(info[key])), style="dim")
        console.print()
        console.print(table)
    warnings = run.get("warnings") or []
    if warnings:
        console.print()
        console.print(f"[bold yellow]warnings[/] ({len(warnings)})")
        for warning in warnings:
            console.print(escape(warning_line(warning)), soft_wrap=True)


def warning_line(warning: dict[str, Any]) -> str:
    """``non_finite  line 12 (attempt 1): PROGRESS: {...}``."""
    where = f"line {warning['line']}" if warning.get("line") is not None else "end of run"
    if warning.get("attempt") is not None:
        where += f" (attempt {warning['attempt']})"
    kind = str(warning.get("kind"))
    text = str(warning.get("text") or warning.get("message") or END_WARNINGS.get(kind, "")).strip()
    return f"  {kind}  {where}" + (f": {text}" if text else "")


# ---- metrics ---------------------------------------------------------------------------


def summary_table(keys: dict[str, dict[str, Any]]) -> Any:
    """``runyard metrics``: one line per key with count, first, last, min, max, best@x."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("METRIC", no_wrap=True)
    for column in ("COUNT", "FIRST", "LAST", "MIN", "MAX", "BEST@X"):
        table.add_column(column, justify="right", no_wrap=True)
    for key in sorted(keys):
        entry = keys[key]
        best = entry.get("best")
        at = f" @{format_x(entry.get('best_x'))}" if best is not None else ""
        table.add_row(
            escape(key),
            format_value(entry.get("count")),
            format_value(entry.get("first")),
            format_value(entry.get("last")),
            format_value(entry.get("min")),
            format_value(entry.get("max")),
            format_value(best) + at,
        )
    return table


def write_series_csv(series: Series, out: TextIO) -> int:
    """``x,key,value`` rows, key by key (sorted), each series in x order; the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("x", "key", "value"))
    rows = 0
    for key in sorted(series):
        for x, value, *_ in series[key]:
            writer.writerow((csv_number(x), key, csv_number(value)))
            rows += 1
    return rows


def plain_series(series: Series) -> Series:
    """``{name: [[x, value], ...]}`` exactly, in key order, whatever else a point carries."""
    return {key: [[p[0], p[1]] for p in series[key]] for key in sorted(series)}


# ---- compare ---------------------------------------------------------------------------


def value_at(points: list[list[Any]], step: float) -> tuple[Any, Any]:
    """``(x, value)`` of the point with the largest x ≤ ``step``; ``(None, None)`` if none."""
    found: tuple[Any, Any] = (None, None)
    for x, value, *_ in points:
        if float(x) <= step and (found[0] is None or float(x) >= float(found[0])):
            found = (x, value)
    return found


def setting_values(run: dict[str, Any]) -> dict[str, str]:
    """The settings ``compare`` puts side by side, as text; env keys one by one."""
    values = {
        "command": str(run.get("display_command") or " ".join(run.get("command") or ())),
        "workdir": str(run.get("workdir") or ""),
        "gpus": gpus_text(run),
        "priority": format_value(run.get("priority")),
        "tags": ", ".join(run.get("tags") or ()),
    }
    for key, value in sorted((run.get("env") or {}).items()):
        values[f"env {key}"] = str(value)
    return values


def differing_settings(runs: list[dict[str, Any]]) -> dict[str, list[str | None]]:
    """Only the settings whose values are not all the same (env keys missing → None)."""
    each = [setting_values(run) for run in runs]
    names = list(COMPARED_SETTINGS) + sorted({k for v in each for k in v} - set(COMPARED_SETTINGS))
    table = {name: [v.get(name) for v in each] for name in names}
    return {name: values for name, values in table.items() if len(set(values)) > 1}


def comparison(
    runs: list[dict[str, Any]],
    values: list[dict[str, tuple[Any, Any]]],
    step: float | None,
) -> dict[str, Any]:
    """``compare --json``: lists aligned with ``runs``. ``values[i]`` maps a key to
    ``(x, value)`` for run i: at ``step`` (largest x ≤ step), or its last point."""
    keys = sorted({key for per_run in values for key in per_run})
    out: dict[str, Any] = {
        "runs": [run["id"] for run in runs],
        "names": [run.get("name") for run in runs],
        "at": "final" if step is None else "step",
        "step": step,
        "final": None,
        "metrics": {k: [v.get(k, (None, None))[1] for v in values] for k in keys},
        "x": {k: [v.get(k, (None, None))[0] for v in values] for k in keys},
        "settings": differing_settings(runs),
    }
    if step is None:
        finals = [metric_fields(run)["final"] for run in runs]
        out["final"] = {field: [f.get(field) for f in finals] for field in FINAL_FIELDS}
    return out


def _best_index(key: str, row: list[Any]) -> int | None:
    numbers = [(i, as_float(v)) for i, v in enumerate(row)]
    finite = [(i, v) for i, v in numbers if v is not None and math.isfinite(v)]
    if len(finite) < 2 or len({v for _, v in finite}) < 2:
        return None
    pick = min if lower_is_better(key) else max
    return pick(finite, key=lambda item: item[1])[0]


def compare_table(data: dict[str, Any]) -> Any:
    """Rows = metric keys (final results first at ``final``), columns = runs. The best value
    of each row is bold; at a step, a value's x is shown (``@480``) where it is not the step."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("METRIC", no_wrap=True)
    for run_id, name in zip(data["runs"], data["names"], strict=True):
        table.add_column(f"run {run_id}" + (f" {escape(name)}" if name else ""), justify="right")

    def add(label: str, key: str, row: list[Any], xs: list[Any] | None = None) -> None:
        best = _best_index(key, row)
        cells = []
        for i, value in enumerate(row):
            text = format_value(value)
            if xs is not None and xs[i] is not None and float(xs[i]) != data["step"]:
                text += f" @{format_x(xs[i])}"
            cells.append(f"[bold]{text}[/]" if i == best else text)
        table.add_row(escape(label), *cells)

    final = data.get("final")
    if final:
        add("final accuracy", "accuracy", final["accuracy"])
        table.add_row("  from", *(escape(str(f or "-")) for f in final["accuracy_field"]))
        for loss in FINAL_LOSSES:
            if any(v is not None for v in final[loss]):
                add(f"final {loss}", loss, final[loss])
    at_step = data["at"] == "step"
    for key, row in data["metrics"].items():
        add(key, key, row, data["x"][key] if at_step else None)
    return table


def settings_table(data: dict[str, Any]) -> Any:
    """``compare``'s settings that differ, one row each, left-aligned (commands are long)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("SETTING", no_wrap=True)
    for run_id in data["runs"]:
        table.add_column(f"run {run_id}", overflow="fold")
    for name, values in data["settings"].items():
        table.add_row(escape(name), *(escape(v) if v else "-" for v in values))
    return table
