"""Reading what runs printed as numbers: ``metrics``, ``export``, ``compare``, ``reingest``.

All of it comes from the daemon's metric endpoints (``/runs/{id}/metrics``,
``/metrics/summary``, ``/reingest``, ``/exports``); comparing several runs happens here,
in the client, while the daemon makes exports (``service/exports.py``) and ``export``
writes the bytes it sends. Choices made here:

- ``metrics --csv`` is long: ``x,key,value``, key by key, each in x order (the shape every
  plotting tool pivots from, and it needs no epoch/step the series does not carry).
- ``export --format csv`` is wide: ``run_id,x,epoch,step`` and one column per metric of
  all the runs; epoch and step of each x come from the run's report events, else from x.
- ``compare --step N`` takes, for each run and key, the value at the largest x ≤ N.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runyard.cli.context import ColorOption, state, warn
from runyard.cli.errors import EXIT_FAILURE, ApiError, CliUsageError
from runyard.cli.options import JsonOption, RunArgument, RunsArgument, StatusOption, TagOption
from runyard.cli.selectors import parse_run_id, parse_selection, require_selection, resolve
from runyard.domain.status import FINISHED_NAMES
from runyard.errors import RunyardError

if TYPE_CHECKING:
    from runyard.cli.client import DaemonClient
    from runyard.cli.transport import StreamedResponse



# ---- the API ---------------------------------------------------------------------------


def _get_json(client: DaemonClient, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return client._json(method, path, **kwargs)
    except ApiError as error:
        # FastAPI's own 404 for a route it does not have: an older daemon is answering.
        if error.status_code in (404, 405) and error.error == "http_error":
            raise ApiError(
                error.status_code,
                "no_metrics_api",
                f"the daemon has no {path.split('/')[-1]} endpoint: it is older than this"
                " runyard (restart it: runyard shutdown)",
            ) from None
        raise


def fetch_series(
    client: DaemonClient,
    run_id: int,
    keys: list[str] | None = None,
    points: int | None = None,
    x_min: float | None = None,
    x_max: float | None = None,
) -> dict[str, Any]:
    """``GET /runs/{id}/metrics``: ``{"series": {key: [[x, value], ...]}, "downsampled": …}``."""
    params: list[tuple[str, str | int | float]] = [("key", key) for key in keys or ()]
    for name, value in (("points", points), ("x_min", x_min), ("x_max", x_max)):
        if value is not None:
            params.append((name, value))
    body: dict[str, Any] = _get_json(client, "GET", f"/runs/{run_id}/metrics", params=params)
    return body


def fetch_summary(client: DaemonClient, run_id: int) -> dict[str, dict[str, Any]]:
    """``GET /runs/{id}/metrics/summary``: per key count, first, last, min, max, best (and x)."""
    body = _get_json(client, "GET", f"/runs/{run_id}/metrics/summary")
    keys: dict[str, dict[str, Any]] = body.get("keys") or {}
    return keys


def _existing_runs(client: DaemonClient, selection_args: Any) -> list[dict[str, Any]]:
    runs, missing = resolve(client, selection_args)
    if missing:
        raise ApiError(404, "not_found", f"run {missing[0]} not found (see `runyard ls --all`)")
    return runs


# ---- metrics ---------------------------------------------------------------------------


def metrics(
    ctx: typer.Context,
    run: RunArgument,
    key: Annotated[
        list[str] | None,
        typer.Option("--key", "-k", metavar="KEY", help="Only this metric; repeat for more."),
    ] = None,
    points: Annotated[
        int | None,
        typer.Option(
            "--points",
            "-n",
            min=3,
            metavar="N",
            help="Downsample each series to about N points (spikes kept).",
        ),
    ] = None,
    x_min: Annotated[float | None, typer.Option("--x-min", help="Only points at x ≥ this.")] = None,
    x_max: Annotated[float | None, typer.Option("--x-max", help="Only points at x ≤ this.")] = None,
    csv_out: Annotated[
        bool, typer.Option("--csv", help="Print x,key,value rows (key by key, in x order).")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print {key: [[x, value], ...]}.")
    ] = False,
    color: ColorOption = None,
) -> None:
    """Print a run's metrics: one line per metric, or every point with --json / --csv.

    The table has count, first, last, min, max and the best value with its x (lowest for
    losses and errors, else highest). --json prints {key: [[x, value], ...]}; --csv prints
    x,key,value rows, key by key, in x order. x is the step when the run printed one, else
    the epoch. Exit 1 when none of the --key asked for exists.
    """
    if csv_out and json_out:
        raise CliUsageError("--csv and --json exclude each other: pick one")
    cli = state(ctx, color)
    run_id = parse_run_id(run)
    client = cli.client()
    wanted = list(dict.fromkeys(key or ()))
    if not (csv_out or json_out):
        summary = fetch_summary(client, run_id)
        shown = {k: v for k, v in summary.items() if not wanted or k in wanted}
        _missing_keys(run_id, wanted, summary)
        if not shown:
            _nothing(run_id, wanted)
        from runyard.cli.render_metrics import summary_table

        cli.console().print(summary_table(shown))
        return
    body = fetch_series(client, run_id, wanted or None, points, x_min, x_max)
    series = body.get("series") or {}
    _missing_keys(run_id, wanted, series)
    if wanted and not series:
        _nothing(run_id, wanted)
    if body.get("downsampled"):
        warn(f"downsampled to about {points} points per metric (--points)")
    from runyard.cli.render_metrics import plain_series, write_series_csv

    if json_out:
        from runyard.cli.render import print_json

        print_json(plain_series(series))
    else:
        write_series_csv(series, sys.stdout)


def _missing_keys(run_id: int, wanted: list[str], found: dict[str, Any]) -> None:
    absent = [k for k in wanted if k not in found]
    if absent:
        warn(
            f"run {run_id} has no metric {', '.join(absent)} (runyard metrics {run_id} lists them)"
        )


def _nothing(run_id: int, wanted: list[str]) -> None:
    if wanted:
        raise typer.Exit(EXIT_FAILURE)
    warn(f"run {run_id} has no metrics yet")
    raise typer.Exit(0)


# ---- export ----------------------------------------------------------------------------

MAX_EXPORT_RUNS = 1000  # the daemon's bound: run ids travel in the query string


def export(
    ctx: typer.Context,
    runs: RunsArgument = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="csv|json",
            help="csv: one table run_id,x,epoch,step,<metrics>; json: the runs with their"
            " series. Default: from -o's suffix, else csv.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    status: StatusOption = None,
    tag: TagOption = None,
) -> None:
    """Export the full metric series of runs (never downsampled), as CSV or JSON.

    CSV: one row per run and x; epoch and step as the run's reports gave them (where none
    did, x is the step when the run printed steps, else the epoch). JSON: a list of runs as
    the API shows them (`show --json` has the same fields), one per line, each with
    "series": {key: [[x, value], ...]}. The daemon makes the file; it is written as it comes.
    """
    fmt = (format_ or (output.suffix.lstrip(".") if output else "") or "csv").lower()
    if fmt not in ("csv", "json"):
        raise CliUsageError(f"--format {fmt!r}: use csv or json")
    selection = parse_selection(runs, status, tag)
    require_selection(selection, "export")
    client = state(ctx).client()
    picked = _existing_runs(client, selection)
    if not picked:
        warn("no runs match")
        raise typer.Exit(EXIT_FAILURE)
    if len(picked) > MAX_EXPORT_RUNS:
        raise CliUsageError(
            f"{len(picked)} runs: export at most {MAX_EXPORT_RUNS} at once (pick fewer)"
        )
    params = [("run", str(r["id"])) for r in picked] + [("format", fmt)]
    with _export_stream(client, params) as response:
        if output is None:
            sys.stdout.flush()
            for chunk in response.iter_bytes():
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        rows = _save(response.iter_bytes(), output)
    what = f"{rows} rows of {len(picked)} runs" if fmt == "csv" else f"{len(picked)} runs"
    warn(f"wrote {what} to {output}")


def _save(chunks: Iterable[bytes], output: Path) -> int:
    """Write the chunks to ``output``; the CSV data rows among them. A failure midway removes
    the file: half an export must not pass for a whole one."""
    rows = _CsvRows()
    opened = False
    try:
        with open(output, "wb") as out:
            opened = True
            for chunk in chunks:
                out.write(chunk)
                rows.feed(chunk)
    except BaseException as error:
        if opened:
            output.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise RunyardError(f"cannot write {output}: {error.strerror or error}") from None
        raise
    return rows.count


@contextmanager
def _export_stream(client: DaemonClient, params: list[tuple[str, str]]) -> Iterator[StreamedResponse]:
    """``GET /exports``, the body unread; an older daemon without it says so."""
    try:
        with client.stream("GET", "/exports", params=params) as response:
            yield response
    except ApiError as error:
        # The app's 404 for a route it does not have (a run it lacks names the run).
        if error.status_code in (404, 405) and error.detail in ("Not Found", "Method Not Allowed"):
            raise ApiError(
                error.status_code,
                "no_export_api",
                "the daemon has no exports endpoint: it is older than this runyard"
                " (restart it: runyard shutdown)",
            ) from None
        raise


class _CsvRows:
    """Counts the data rows of a CSV as it streams: the newlines after the header's (the
    header may quote a metric name with a newline in it; data rows are numbers)."""

    def __init__(self) -> None:
        self.count = 0
        self._in_header = True
        self._quoted = False

    def feed(self, chunk: bytes) -> None:
        if self._in_header:
            for i, byte in enumerate(chunk):
                if byte == ord('"'):
                    self._quoted = not self._quoted
                elif byte == ord("\n") and not self._quoted:
                    self._in_header = False
                    chunk = chunk[i + 1 :]
                    break
            else:
                return
        self.count += chunk.count(b"\n")


# ---- compare ---------------------------------------------------------------------------


def compare(
    ctx: typer.Context,
    runs: Annotated[
        list[str], typer.Argument(help="Two or more run ids or ranges.", show_default=False)
    ],
    step: Annotated[
        float | None,
        typer.Option(
            "--step",
            metavar="N",
            help="Compare at x = N: each value is the one at the largest x ≤ N.",
        ),
    ] = None,
    json_out: JsonOption = False,
    color: ColorOption = None,
) -> None:
    """Compare runs side by side, at the end or at one step, with the settings that differ.

    Without --step: the final accuracy (and the field it came from), the final losses and the
    last value of every metric. With --step N: every metric's value at the largest x ≤ N
    (shown as value@x when that x is not N). Then the settings that differ (command, workdir,
    env, gpus, priority, tags). --json gives lists aligned with "runs".
    """
    selection = parse_selection(runs)
    cli = state(ctx, color)
    client = cli.client()
    picked = _existing_runs(client, selection)
    if len(picked) < 2:
        raise CliUsageError("compare needs at least two runs")
    full = [client.get_run(int(r["id"])) for r in picked]
    values: list[dict[str, tuple[Any, Any]]] = []
    for run in full:
        if step is None:
            summary = fetch_summary(client, int(run["id"]))
            values.append({k: (v.get("last_x"), v.get("last")) for k, v in summary.items()})
        else:
            series = fetch_series(client, int(run["id"]), x_max=step).get("series") or {}
            values.append({k: _last_point(points) for k, points in series.items() if points})
    from runyard.cli.render_metrics import compare_table, comparison, format_x, settings_table

    data = comparison(full, values, step)
    if json_out:
        from runyard.cli.render import print_json

        print_json(data)
        return
    console = cli.console()
    if step is None:
        console.print("at the end: final results, then the last value of each metric", style="dim")
    else:
        console.print(
            f"at step {format_x(step)}: each value is the one at the largest x ≤ {format_x(step)}"
            " (@x where that is not the step)",
            style="dim",
        )
    console.print(compare_table(data))
    if data["settings"]:
        console.print()
        console.print(settings_table(data))
    else:
        console.print(
            "the same settings (command, workdir, env, gpus, priority, tags)", style="dim"
        )


def _last_point(points: list[list[Any]]) -> tuple[Any, Any]:
    x, value, *_ = max(points, key=lambda p: float(p[0]))
    return x, value


# ---- reingest --------------------------------------------------------------------------


def reingest(
    ctx: typer.Context,
    runs: RunsArgument = None,
    status: StatusOption = None,
    tag: TagOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rebuild runs' metrics from their logs, and say what was found.

    Metrics, final results and warnings are read again from every attempt's log. Live runs
    are refused; ranges and filters skip them.
    """
    selection = parse_selection(runs, status, tag)
    require_selection(selection, "reingest")
    client = state(ctx).client()
    targets, missing = resolve(client, selection, FINISHED_NAMES)
    failed = bool(missing)
    for run_id in missing:
        warn(f"run {run_id} not found")
    done = []
    for run in targets:
        run_id = int(run["id"])
        try:
            after = _get_json(client, "POST", f"/runs/{run_id}/reingest")
            summary = fetch_summary(client, run_id)
        except ApiError as error:
            if error.status_code >= 500:
                raise
            warn(f"run {run_id}: {error.detail}")
            failed = True
            continue
        done.append(after)
        if not json_out:
            print(reingest_line(after, summary), flush=True)
    if json_out:
        from runyard.cli.render import flat_run, print_json

        print_json([flat_run(run, metrics=True) for run in done])
    if failed or not (targets or missing):
        if not (targets or missing):
            warn("no runs to reingest")
        raise typer.Exit(EXIT_FAILURE if failed else 0)


def reingest_line(run: dict[str, Any], summary: dict[str, dict[str, Any]]) -> str:
    """``run 3: 5 metrics (60 points) from the log of 1 attempt, epoch 10/10, final accuracy
    91.2 (test_accuracy), 1 warning (non_finite)``."""
    from runyard.cli.render_metrics import final_text, progress_text

    attempts = len(run.get("attempts") or ())
    points = sum(int(entry.get("count") or 0) for entry in summary.values())
    parts = [
        f"{_count(len(summary), 'metric')} ({_count(points, 'point')})"
        f" from the log{'s' if attempts != 1 else ''} of {_count(attempts, 'attempt')}",
    ]
    progress = progress_text({**run, "status": None})
    if progress:
        parts.append(progress)
    final = final_text(run)
    parts.append(f"final {final}" if final else "no final results")
    warnings = run.get("warnings") or []
    if warnings:
        kinds = ", ".join(str(w.get("kind")) for w in warnings)
        parts.append(f"{_count(len(warnings), 'warning')} ({kinds})")
    return f"run {run['id']}: " + ", ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def register(app: typer.Typer) -> None:
    app.command()(metrics)
    app.command()(export)
    app.command()(compare)
    app.command()(reingest)
