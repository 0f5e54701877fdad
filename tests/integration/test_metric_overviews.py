"""A chart of a whole long series comes from its stored overview (store/overviews.py), and
is what the overview of every point stored at that moment gives: after appends, a retry
that rewrites x from 0, a reingestion and a deletion alike."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from sqlalchemy import select

from runyard.daemon.yard import Yard
from runyard.service import metrics, runs
from runyard.store.downsample import downsample
from runyard.store.metrics import (
    delete_metrics,
    load_summaries,
    recompute_summaries,
    save_summaries,
    write_columns,
)
from runyard.store.overviews import MIN_POINTS, Overview, current_overview, save_overview
from runyard.store.render import number
from runyard.store.tables import MetricKey, MetricOverview
from tests.conftest import PY, python, submit, wait_for

POINTS = 1_000


class Series:
    """One metric of a run written the way the follower writes it, and what is stored."""

    def __init__(self, yard: Yard, run_id: int, key: str = "train_loss") -> None:
        self.yard, self.run_id, self.key = yard, run_id, key
        self.stored: dict[float, float] = {}
        with yard.sessions() as session:
            self.summaries = load_summaries(session, run_id)

    def write(self, x: np.ndarray, y: np.ndarray, batch: int = 8_000) -> None:
        for start in range(0, len(x), batch):
            xs, ys = x[start:start + batch].tolist(), y[start:start + batch].tolist()
            with self.yard.sessions() as session:
                write_columns(session, self.run_id, self.summaries, {self.key: (xs, ys)})
                save_summaries(session, self.summaries)
                session.commit()
            self.stored.update(zip(xs, ys, strict=True))

    def chart(self) -> list[list[Any]]:
        return metrics.series(self.yard, self.run_id, [self.key], POINTS, None, None)["series"][self.key]

    def expected(self) -> list[list[Any]]:
        """The chart from the overview of every stored point, built at once."""
        x = np.array(sorted(self.stored))
        y = np.array([self.stored[v] for v in x.tolist()])
        px, py = Overview.of(x, y).points()
        chosen = downsample(px, py, POINTS)
        return [[a, number(b)] for a, b in zip(px[chosen].tolist(), py[chosen].tolist(), strict=True)]

    def overview(self) -> MetricOverview | None:
        with self.yard.sessions() as session:
            return session.scalars(select(MetricOverview).where(MetricOverview.run_id == self.run_id)).first()


def walk(start: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.cumsum(rng.normal(0, 0.01, n)) + rng.normal(0, 0.1, n)
    y[rng.choice(n, 3, replace=False)] += 30.0
    y[rng.choice(n, n // 1000, replace=False)] = np.nan
    return np.arange(start, start + n, dtype=np.float64), y


async def finished_run(yard: Yard) -> int:
    run_id = submit(yard, *python("pass"), gpus_min=0)
    await wait_for(yard, run_id)
    await asyncio.sleep(0.1)  # its outputs step, spawned at the end, has run
    return run_id


async def test_charts_follow_appends_retries_and_reingestion(yard):
    series = Series(yard, await finished_run(yard))
    series.write(*walk(0, 30_000, seed=1))
    assert series.overview() is None
    cold = series.chart()
    assert cold == series.expected() and series.overview() is not None
    assert series.chart() == cold  # warm: from the stored overview
    for seed in (2, 3):  # appends: the points past it are read and the overview extended
        series.write(*walk(len(series.stored), 12_000, seed))
        assert series.chart() == series.expected()
        stored = series.overview()
        assert stored is not None and stored.count == len(series.stored)
    series.write(*walk(0, 5_000, seed=4))  # a retry starts again at x = 0: the overview is gone
    assert series.overview() is None
    assert series.chart() == series.expected()
    with yard.sessions() as session:  # exact counts at the attempt's end: rebuilt, still right
        recompute_summaries(session, series.run_id)
        session.commit()
    series.write(*walk(len(series.stored), 500, seed=5))
    assert series.chart() == series.expected()
    with yard.sessions() as session:  # reingestion starts from nothing
        delete_metrics(session, series.run_id)
        session.commit()
    assert series.overview() is None


async def test_the_chart_keeps_spikes_gaps_and_ends_of_every_point(yard):
    series = Series(yard, await finished_run(yard))
    x, y = walk(0, 60_000, seed=6)
    series.write(x, y)
    chart = series.chart()
    spikes = x[np.nan_to_num(y) > 15]
    xs = [p[0] for p in chart]
    assert len(chart) <= POINTS and xs == sorted(xs) and (xs[0], xs[-1]) == (x[0], x[-1])
    assert set(spikes) <= set(xs) and any(v == "NaN" for _, v in chart)
    whole = downsample(x, y, POINTS)
    assert set(spikes) <= set(x[whole])


async def test_an_overview_read_before_a_rewrite_is_not_stored(yard):
    series = Series(yard, await finished_run(yard))
    series.write(*walk(0, MIN_POINTS, seed=7))
    with yard.sessions() as session:
        key_id = session.scalars(select(MetricKey.id).where(MetricKey.run_id == series.run_id)).one()
        current = current_overview(session, series.run_id, key_id)
    assert current is not None
    series.write(*walk(100, 10, seed=8))  # rewritten while it was being built
    with yard.sessions() as session:
        assert not save_overview(session, series.run_id, key_id, current)
        session.commit()
    assert series.overview() is None


async def test_deleting_a_run_deletes_its_overviews(yard):
    series = Series(yard, await finished_run(yard))
    series.write(*walk(0, MIN_POINTS, seed=9))
    series.chart()
    assert series.overview() is not None
    await runs.delete(yard, series.run_id)
    with yard.sessions() as session:
        assert session.scalars(select(MetricOverview)).first() is None


PRINTER = """
import os, sys, time
def line(i):
    print('PROGRESS: {"epoch": 1, "total_epochs": 1, "status": "training", "step": %d, "loss": %f}' % (i, 1 / (i + 1)))
for i in range(30000):
    line(i)
sys.stdout.flush()
while not os.path.exists('more'):
    time.sleep(0.02)
for i in range(30000, 60000):
    line(i)
i = 60000
while not os.path.exists('stop'):
    line(i); i += 1; sys.stdout.flush(); time.sleep(0.1)
"""


async def test_the_follower_keeps_a_charted_overview_current_and_the_end_builds_one(yard, tmp_path):
    run_id = submit(yard, PY, "-c", PRINTER, gpus_min=0, workdir=tmp_path)
    series = Series(yard, run_id)

    async def overview_count(at_least: int) -> int:
        for _ in range(300):
            stored = series.overview()
            if stored is not None and stored.count >= at_least:
                return stored.count
            await asyncio.sleep(0.05)
        raise AssertionError(f"no overview of {at_least} points")

    deadline = time.monotonic() + 30
    while (run := runs.get_run(yard, run_id))["progress"]["step"] != 29_999:
        assert time.monotonic() < deadline, f"the first 30,000 points were never ingested: {run['status']}, {run['progress']}"
        await asyncio.sleep(0.05)
    series.chart()  # a chart asks: the overview is built
    assert await overview_count(30_000) == 30_000
    (tmp_path / "more").touch()
    assert await overview_count(60_000) >= 60_000  # the follower extends it while the run prints
    (tmp_path / "stop").touch()
    await wait_for(yard, run_id)
    with yard.sessions() as session:
        count = session.scalars(select(MetricKey.count).where(MetricKey.run_id == run_id)).one()
    assert await overview_count(count) == count  # the attempt's end brings it up to date


async def test_reingestion_draws_the_same_chart_from_a_new_overview(yard):
    code = ("for i in range(25000):\n    print('PROGRESS: {\"epoch\": 1, \"total_epochs\": 1, \"status\": \"training\","
            " \"step\": %d, \"loss\": %s}' % (i, 'NaN' if i % 997 == 0 else 50.0 if i == 12345 else 1 / (i + 1)))")
    run_id = submit(yard, *python(code), gpus_min=0)
    await wait_for(yard, run_id)
    series = Series(yard, run_id)
    before = series.chart()
    assert [12345.0, 50.0] in before and {v for _, v in before if isinstance(v, str)} == {"NaN"}
    await metrics.reingest(yard, run_id)
    stored = series.overview()
    assert stored is not None and stored.count == 25_000  # built at the reingestion's end
    assert series.chart() == before
