"""The files a finished attempt leaves beside its logs: ``scalars.csv`` (one row per x)
and ``figures/losses.png``, ``figures/accuracy.png`` — what a researcher would otherwise
write by hand at the end of training."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from runyard.ingest.figures import draw_figures
from runyard.ingest.outputs import write_scalars_csv
from runyard.store.metrics import metric_keys, read_series
from runyard.store.tables import Run

if TYPE_CHECKING:
    from runyard.context import Context

log = logging.getLogger(__name__)


def read_all_series(ctx: Context, run_id: int) -> tuple[dict[str, list[tuple[float, float]]], bool]:
    """Every series of a run, and whether its x is the step (else the epoch)."""
    with ctx.home.sessions() as session:
        run = session.get(Run, run_id)
        by_step = bool(run and (run.progress or {}).get("step") is not None)
        return {k.key: read_series(session, run_id, k.id) for k in metric_keys(session, run_id)}, by_step


def scalar_rows(series: dict[str, list[tuple[float, float]]], by_step: bool):  # type: ignore[no-untyped-def]
    table: dict[float, dict[str, float]] = defaultdict(dict)
    for key, points in series.items():
        for x, value in points:
            table[x][key] = value
    for x in sorted(table):
        index = int(x) if float(x).is_integer() else None
        yield x, (None if by_step else index), (index if by_step else None), table[x]


def write_run_outputs(ctx: Context, run_id: int) -> None:
    """At an attempt's end (and after reingestion): the files, and the overviews of the
    run's long series brought up to date, so that its charts open quickly."""
    from runyard.store.overviews import refresh_overviews

    refresh_overviews(ctx.home.sessions, run_id, build=True)  # logs what fails, raises nothing
    try:
        series, by_step = read_all_series(ctx, run_id)
        if not series:
            return
        run_dir = ctx.home.run_dir(run_id)
        write_scalars_csv(run_dir / "scalars.csv", scalar_rows(series, by_step), sorted(series))
        draw_figures(run_dir / "figures", series, f"run {run_id}", "step" if by_step else "epoch")
    except Exception:
        log.exception("run %s: could not write scalars.csv and figures", run_id)
