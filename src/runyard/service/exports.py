"""Exports of runs' full metric series (never downsampled), as CSV or JSON, in chunks.

The one place exports are made: the API streams them (``GET /exports``,
``GET /runs/{id}/export``) and ``runyard export`` writes what it is sent. Nothing is built
as one string: a run is read from the store one at a time (JSON: one metric at a time) and
written out in chunks of about ``CHUNK_ROWS`` rows or points.

- CSV is one table for all the runs: ``run_id,x,epoch,step``, then one column per metric
  of any of them (sorted), one row per run and x, runs in the order asked for. Epoch and
  step are those of the run's ``report`` event at that x; where no report names the x, x
  stands for the step when the run printed steps, else for the epoch (PROTOCOL.md §2), the
  other left empty.
- JSON is a list of runs as ``GET /runs/{id}`` shows them, one per line, each with
  ``"series": {key: [[x, value], ...]}`` (keys sorted, points in x order).

Numbers are written as the API writes them everywhere: non-finite values are ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` (bare in the CSV, where Python's ``float()`` and pandas
read them back). CSV numbers are exact (``repr``), whole ones without ``.0``.
"""

from __future__ import annotations

import csv
import heapq
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select

from runyard.domain.metrics import csv_number, to_json_value
from runyard.errors import InvalidSpec, RunNotFound
from runyard.service import runs
from runyard.store.metrics import metric_keys, read_series
from runyard.store.tables import Event, MetricKey, Run

if TYPE_CHECKING:
    from runyard.context import Context

log = logging.getLogger(__name__)

MAX_RUNS = 1000
"""Runs in one export: their ids travel in the query string."""
CHUNK_ROWS = 10_000
CSV_COLUMNS = ("run_id", "x", "epoch", "step")
NAMED_RUNS = 5  # ids a file name spells out


class ExportFormat(str, Enum):
    CSV = "csv"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/json"


@dataclass(frozen=True)
class Export:
    """What :func:`export_chunks` will write: checked runs, and the metrics of any of them."""

    run_ids: tuple[int, ...]
    format: ExportFormat
    keys: tuple[str, ...]

    @property
    def filename(self) -> str:
        """``runyard-runs-3-4.csv``; past five runs, ``runyard-runs-3-4-5-6-7-and-12-more.csv``."""
        named = "-".join(str(i) for i in self.run_ids[:NAMED_RUNS])
        rest = len(self.run_ids) - NAMED_RUNS
        return f"runyard-runs-{named}{f'-and-{rest}-more' if rest > 0 else ''}.{self.format.value}"


def prepare_export(ctx: Context, run_ids: Sequence[int], fmt: ExportFormat) -> Export:
    """Check that every run exists (``RunNotFound`` for the first that does not) before the
    first byte goes out, while a 404 can still be answered; repeated ids count once."""
    ids = tuple(dict.fromkeys(run_ids))
    if not ids:
        raise InvalidSpec("name at least one run to export", "run")
    if len(ids) > MAX_RUNS:
        raise InvalidSpec(f"at most {MAX_RUNS} runs in one export, not {len(ids)}", "run")
    with ctx.home.sessions() as session:
        found = set(session.scalars(select(Run.id).where(Run.id.in_(ids))))
        missing = [run_id for run_id in ids if run_id not in found]
        if missing:
            raise RunNotFound(missing[0])
        keys = session.scalars(select(MetricKey.key).where(MetricKey.run_id.in_(ids)).distinct())
        return Export(ids, fmt, tuple(sorted(keys)))


def export_chunks(ctx: Context, export: Export) -> Iterator[bytes]:
    """The export as chunks of bytes; a run removed since :func:`prepare_export` is left out."""
    if export.format is ExportFormat.CSV:
        return _csv_chunks(ctx, export)
    return _json_chunks(ctx, export)


# ---- CSV -------------------------------------------------------------------------------


@dataclass
class RunPoints:
    """One run's whole series, read in one session, and the (epoch, step) its reports gave each x."""

    run_id: int
    x_is_step: bool
    series: dict[str, list[tuple[float, float]]]
    axes: dict[float, tuple[Any, Any]]


def _csv_chunks(ctx: Context, export: Export) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *export.keys])
    pending = 0
    for run_id in export.run_ids:
        points = _read_points(ctx, run_id)
        if points is None:
            continue
        for row in csv_rows(points, export.keys):
            writer.writerow(row)
            pending += 1
            if pending == CHUNK_ROWS:
                yield _drain(buffer)
                pending = 0
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


def _read_points(ctx: Context, run_id: int) -> RunPoints | None:
    with ctx.home.sessions() as session:
        run = session.get(Run, run_id)
        if run is None:
            log.warning("run %s: removed while it was being exported", run_id)
            return None
        series = {
            key.key: read_series(session, run_id, key.id) for key in metric_keys(session, run_id)
        }
        reports = session.scalars(
            select(Event.data)
            .where(Event.run_id == run_id, Event.kind == "report")
            .order_by(Event.id)
        )
        axes = {}
        for data in reports:  # a later report at the same x wins, as its metrics did
            x = (data or {}).get("x")
            if isinstance(x, int | float) and not isinstance(x, bool):
                axes[float(x)] = (data.get("epoch"), data.get("step"))
        steps = (run.progress or {}).get("step") is not None
        return RunPoints(run_id, steps, series, axes)


def csv_rows(points: RunPoints, keys: Sequence[str]) -> Iterator[list[str]]:
    """One row per x: the run's series merged in x order (each already is), no dict of all x."""
    column = {key: i for i, key in enumerate(keys)}
    merged = heapq.merge(*(_tagged(pairs, column[key]) for key, pairs in points.series.items()))
    run_id = str(points.run_id)
    for x, group in groupby(merged, key=itemgetter(0)):
        cells = [""] * len(keys)
        for _, i, value in group:
            cells[i] = csv_number(value)
        if x in points.axes:
            epoch, step = (csv_number(a) for a in points.axes[x])
        else:
            epoch, step = ("", csv_number(x)) if points.x_is_step else (csv_number(x), "")
        yield [run_id, csv_number(x), epoch, step, *cells]


def _tagged(
    pairs: Iterable[tuple[float, float]], column: int
) -> Iterator[tuple[float, int, float]]:
    for x, value in pairs:
        yield x, column, value


# ---- JSON ------------------------------------------------------------------------------


def _json_chunks(ctx: Context, export: Export) -> Iterator[bytes]:
    yield b"["
    separator = b"\n"
    for run_id in export.run_ids:
        try:
            run = runs.get_run(ctx, run_id)
            with ctx.home.sessions() as session:
                keys = [(key.id, key.key) for key in metric_keys(session, run_id)]
        except RunNotFound:
            log.warning("run %s: removed while it was being exported", run_id)
            continue
        run.pop("series", None)
        yield separator + orjson.dumps(run)[:-1] + b',"series":{'
        for n, (key_id, key) in enumerate(keys):
            yield (b"," if n else b"") + orjson.dumps(key) + b":["
            with ctx.home.sessions() as session:  # one metric in memory at a time
                pairs = read_series(session, run_id, key_id)
            for start in range(0, len(pairs), CHUNK_ROWS):
                part = [[x, to_json_value(v)] for x, v in pairs[start : start + CHUNK_ROWS]]
                yield (b"," if start else b"") + orjson.dumps(part)[1:-1]
            yield b"]"
        yield b"}}"
        separator = b",\n"
    yield b"\n]\n"
