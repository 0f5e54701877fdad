"""Metric series and their summaries: batched upserts (the last write at an x wins) and
series reads. The one module that writes SQL by hand, for speed, with the dialect
differences kept here (SQLite stores no NaN: ``NULL`` stands for it)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.store.tables import MetricKey


def _placeholders(session: Session, count: int) -> str:
    mark = "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * count)


def _stored(value: float) -> float | None:
    return None if math.isnan(value) else value


def _loaded(value: float | None) -> float:
    return math.nan if value is None else value


def lower_is_better(key: str) -> bool:
    """Losses and errors are best when low; everything else (accuracy, …) when high."""
    lowered = key.lower()
    return "loss" in lowered or "error" in lowered or "perplexity" in lowered


_x = itemgetter(0)
_value = itemgetter(1)


@dataclass
class Summary:
    """Running summary of one series; exact after :func:`recompute_summaries`."""

    key_id: int
    count: int = 0
    first: float | None = None
    first_x: float | None = None
    last: float | None = None
    last_x: float | None = None
    min: float | None = None
    min_x: float | None = None
    max: float | None = None
    max_x: float | None = None

    def add(self, x: float, value: float) -> None:
        self.count += 1
        if self.first_x is None or x < self.first_x:
            self.first, self.first_x = _stored(value), x
        if self.last_x is None or x >= self.last_x:
            self.last, self.last_x = _stored(value), x
        if math.isnan(value):
            return
        if self.min is None or value < self.min:
            self.min, self.min_x = value, x
        if self.max is None or value > self.max:
            self.max, self.max_x = value, x

    def add_batch(self, pairs: list[tuple[float, float]]) -> None:
        """:meth:`add` for many points at once (same result, far fewer Python steps)."""
        if len(pairs) < 8:
            for x, value in pairs:
                self.add(x, value)
            return
        self.count += len(pairs)
        first = min(pairs, key=_x)
        last = max(pairs, key=_x)
        if self.first_x is None or first[0] < self.first_x:
            self.first, self.first_x = _stored(first[1]), first[0]
        if self.last_x is None or last[0] >= self.last_x:
            self.last, self.last_x = _stored(last[1]), last[0]
        finite = [p for p in pairs if p[1] == p[1]]
        if not finite:
            return
        low = min(finite, key=_value)
        high = max(finite, key=_value)
        if self.min is None or low[1] < self.min:
            self.min, self.min_x = low[1], low[0]
        if self.max is None or high[1] > self.max:
            self.max, self.max_x = high[1], high[0]

    def columns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in
                ("count", "first", "first_x", "last", "last_x", "min", "min_x", "max", "max_x")}


def load_summaries(session: Session, run_id: int) -> dict[str, Summary]:
    rows = session.scalars(select(MetricKey).where(MetricKey.run_id == run_id))
    return {row.key: Summary(row.id, **{k: getattr(row, k) for k in Summary.__dataclass_fields__ if k != "key_id"})
            for row in rows}


def write_points(session: Session, run_id: int, summaries: dict[str, Summary],
                 points: Iterable[Sequence[Any]]) -> int:
    """Upsert points ``(key, x, value, …)`` of a run (the parser's ``MetricPoint`` as it
    is, or plain tuples) and fold them into ``summaries``.

    The hot path of a chatty run: points are grouped by key so that each summary is
    updated once per batch with C-level min/max, not once per point.
    """
    by_key: dict[str, list[tuple[float, float]]] = {}
    for point in points:
        key = point[0]
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = []
        group.append((point[1], point[2]))
    rows: list[tuple[int, int, float, float | None]] = []
    for key, pairs in by_key.items():
        summary = summaries.get(key)
        if summary is None:
            row = MetricKey(run_id=run_id, key=key, count=0)
            session.add(row)
            session.flush()
            summary = summaries[key] = Summary(row.id)
        summary.add_batch(pairs)
        key_id = summary.key_id
        if any(v != v for _, v in pairs):  # NaN: stored as NULL
            rows.extend((run_id, key_id, x, _stored(v)) for x, v in pairs)
        else:
            rows.extend((run_id, key_id, x, v) for x, v in pairs)
    if rows:
        sql = (f"INSERT INTO metric_points (run_id, key_id, x, value) VALUES ({_placeholders(session, 4)}) "
               "ON CONFLICT (run_id, key_id, x) DO UPDATE SET value = excluded.value")
        session.connection().exec_driver_sql(sql, rows)
    return len(rows)


def save_summaries(session: Session, summaries: dict[str, Summary], keys: Iterable[str] | None = None) -> None:
    chosen = summaries if keys is None else {k: summaries[k] for k in keys}
    for summary in chosen.values():
        values: dict[Any, Any] = summary.columns()
        session.query(MetricKey).filter(MetricKey.id == summary.key_id).update(values)


def recompute_summaries(session: Session, run_id: int) -> None:
    """Exact summaries from the stored points (a value replaced at an x no longer counts),
    computed by the database: a few index lookups per metric, not a scan in Python."""
    mark = _placeholders(session, 1)
    run_key = f"run_id = {mark} AND key_id = {mark}"
    execute = session.connection().exec_driver_sql
    totals = execute(
        f"SELECT key_id, COUNT(*), MIN(x), MAX(x), MIN(value), MAX(value) FROM metric_points "
        f"WHERE run_id = {mark} GROUP BY key_id", (run_id,)).fetchall()
    for key_id, count, first_x, last_x, low, high in totals:
        def value_at(x: float, key_id: int = key_id) -> float | None:
            return execute(f"SELECT value FROM metric_points WHERE {run_key} AND x = {mark}",
                           (run_id, key_id, x)).scalar()

        def x_of(value: float | None, first: bool, key_id: int = key_id) -> float | None:
            if value is None:
                return None
            order = "ASC" if first else "DESC"
            return execute(f"SELECT x FROM metric_points WHERE {run_key} AND value = {mark} ORDER BY x {order} LIMIT 1",
                           (run_id, key_id, value)).scalar()

        session.query(MetricKey).filter(MetricKey.id == key_id).update({
            "count": count, "first": value_at(first_x), "first_x": first_x, "last": value_at(last_x),
            "last_x": last_x, "min": low, "min_x": x_of(low, True), "max": high, "max_x": x_of(high, True),
        })


def read_series(session: Session, run_id: int, key_id: int, x_min: float | None = None,
                x_max: float | None = None) -> list[tuple[float, float]]:
    sql = "SELECT x, value FROM metric_points WHERE run_id = {0} AND key_id = {0}".format(_placeholders(session, 1))
    params: list[float | int] = [run_id, key_id]
    if x_min is not None:
        sql += " AND x >= " + _placeholders(session, 1)
        params.append(x_min)
    if x_max is not None:
        sql += " AND x <= " + _placeholders(session, 1)
        params.append(x_max)
    rows = session.connection().exec_driver_sql(sql + " ORDER BY x", tuple(params)).fetchall()
    return [(x, _loaded(v)) for x, v in rows]


def metric_keys(session: Session, run_id: int, keys: Sequence[str] | None = None) -> list[MetricKey]:
    query = select(MetricKey).where(MetricKey.run_id == run_id).order_by(MetricKey.key)
    if keys:
        query = query.where(MetricKey.key.in_(keys))
    return list(session.scalars(query))


def delete_metrics(session: Session, run_id: int) -> None:
    session.connection().exec_driver_sql(
        "DELETE FROM metric_points WHERE run_id = " + _placeholders(session, 1), (run_id,))
    session.query(MetricKey).filter(MetricKey.run_id == run_id).delete()
