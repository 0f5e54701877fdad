"""Per-metric overviews: an M4 reduction of a whole series, kept in the database, so that a
chart of a long series (10⁶ points) does not read every point again at each request.

**The reduction.** The series, in x order, is cut into consecutive buckets of ``width``
points (a power of two; the last bucket may be partly filled). Each bucket keeps its first
and last point, the points of its lowest and highest finite value, and its first and last
non-finite point (NaN, ±inf), so that a gap or a divergence stays visible. There are at
most ``2 * CAP`` buckets: when a series outgrows them, adjacent buckets merge pairwise and
the width doubles. Bucket boundaries depend on the point count only, so an overview
extended point by point equals one built at once from the same series, and a chart drawn
from it depends on the stored points only. A chart of up to ``CAP`` points is drawn by
downsampling the at most ``12 * CAP`` kept points (MinMaxLTTB, store/downsample.py) instead
of every point. M4's argument: a bucket narrower than a pixel column brings that column's
extremes and ends, so the line looks the same; every spike (a bucket's extreme), both ends
of the series and the ends of NaN stretches are kept. Not every chosen point is the one
chosen from every point: where MinMaxLTTB's x bins cut a bucket, it picks among fewer
candidates (for 1,200 points of 10⁶, the per-pixel envelope differs from the series' by
~2 % of its range either way).

**Validity.** An overview stands for the points up to ``upto_x``, read while
``metric_keys.count`` was ``key_count`` and ``metric_keys.generation`` was ``generation``.
A write that is not a pure append past the last x (a retry restarting at x = 0, a point
replaced) bumps the key's generation and deletes the overview in the same transaction
(``store.metrics.write_columns``); appends raise the key's count by one a point. So an
overview is used only when its generation is the key's and ``key_count`` plus the points
past ``upto_x`` is the key's count; otherwise the series is read whole and the overview
rebuilt. It is refreshed at reads that had to read many points, by the follower every few
seconds while a run prints, and at the end of each attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.store.metrics import metric_keys, placeholders, read_columns
from runyard.store.tables import MetricKey

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]

CAP = 2048  # buckets: between CAP and 2 * CAP once a series is long; charts up to CAP points wide
MIN_POINTS = 20_000  # a shorter series is read whole (about as quick) and has no overview
REFRESH_POINTS = 10_000  # a read that had to read this many points stores what it built

FIRST, LAST, LOW, HIGH, ODD_FIRST, ODD_LAST = range(6)  # a bucket's slots; ODD: non-finite
SLOTS = 6
STORED = np.dtype("<f8")  # the byte order of ``data``, whatever the machine


def uses_overview(count: int, points: int) -> bool:
    """Whether a chart of ``points`` points of a series of ``count`` points is drawn from its overview."""
    return count >= MIN_POINTS and points <= CAP


class Overview:
    """The M4 reduction of one series: ``x`` and ``y`` of shape (buckets, 6), one row a
    bucket, one column a slot; an empty slot has x NaN (a stored x is never NaN)."""

    def __init__(self, count: int = 0, width: int = 1, x: Floats | None = None, y: Floats | None = None) -> None:
        self.count = count
        self.width = width
        self.x = np.empty((0, SLOTS)) if x is None else x
        self.y = np.empty((0, SLOTS)) if y is None else y

    @classmethod
    def of(cls, x: Floats, y: Floats) -> Overview:
        overview = cls()
        overview.extend(x, y)
        return overview

    @property
    def upto_x(self) -> float | None:
        """The last x covered (None while empty)."""
        return float(self.x[-1, LAST]) if self.count else None

    def extend(self, x: Floats, y: Floats) -> None:
        """Add points that come after every point covered: ``x`` ascending, unique, all past ``upto_x``."""
        if not len(x):
            return
        total = self.count + len(x)
        width = self.width
        while -(-total // width) > 2 * CAP:
            width *= 2
        while self.width < width:
            self._merge_pairs()
        offset = self.count % self.width  # points already in the last, partly filled bucket
        new_x, new_y = _reduce(x, y, self.width, offset)
        if offset:
            last_x, last_y = _combine(self.x[-1:], self.y[-1:], new_x[:1], new_y[:1])
            new_x, new_y = np.concatenate((last_x, new_x[1:])), np.concatenate((last_y, new_y[1:]))
            self.x, self.y = self.x[:-1], self.y[:-1]
        self.x, self.y = np.concatenate((self.x, new_x)), np.concatenate((self.y, new_y))
        self.count = total

    def _merge_pairs(self) -> None:
        x, y = self.x, self.y
        if len(x) % 2:
            x, y = np.concatenate((x, _empty(1))), np.concatenate((y, _empty(1)))
        self.x, self.y = _combine(x[0::2], y[0::2], x[1::2], y[1::2])
        self.width *= 2

    def points(self) -> tuple[Floats, Floats]:
        """The points kept, each once, x ascending."""
        x, y = self.x.ravel(), self.y.ravel()
        kept = ~np.isnan(x)
        unique_x, first = np.unique(x[kept], return_index=True)
        return unique_x, y[kept][first]

    def encode(self) -> bytes:
        return np.stack((self.x, self.y)).astype(STORED, copy=False).tobytes()

    @classmethod
    def decode(cls, count: int, width: int, data: bytes) -> Overview:
        both = np.frombuffer(data, dtype=STORED).reshape(2, -1, SLOTS).astype(np.float64)
        return cls(count, width, both[0], both[1])


def _empty(buckets: int) -> Floats:
    return np.full((buckets, SLOTS), np.nan)


def _reduce(x: Floats, y: Floats, width: int, offset: int) -> tuple[Floats, Floats]:
    """Buckets of ``width`` points over ``x``, ``y``, the first one starting ``offset``
    points before them (those slots are left to the caller to combine)."""
    rows = -(-(offset + len(x)) // width)
    padded_x, padded_y = np.full(rows * width, np.nan), np.full(rows * width, np.nan)
    padded_x[offset:offset + len(x)], padded_y[offset:offset + len(y)] = x, y
    px, py = padded_x.reshape(rows, width), padded_y.reshape(rows, width)
    real = ~np.isnan(px)
    finite = np.isfinite(py)  # padding is NaN: never finite
    odd = real & ~finite
    every = np.arange(rows)
    out_x, out_y = _empty(rows), _empty(rows)

    def take(slot: int, index: npt.NDArray[np.intp], present: npt.NDArray[np.bool_]) -> None:
        out_x[:, slot] = np.where(present, px[every, index], np.nan)
        out_y[:, slot] = np.where(present, py[every, index], np.nan)

    last_of = width - 1
    has_real = real.any(axis=1)
    take(FIRST, real.argmax(axis=1), has_real)
    take(LAST, last_of - real[:, ::-1].argmax(axis=1), has_real)
    has_finite = finite.any(axis=1)
    take(LOW, np.where(finite, py, np.inf).argmin(axis=1), has_finite)  # ties: the first
    take(HIGH, np.where(finite, py, -np.inf).argmax(axis=1), has_finite)
    has_odd = odd.any(axis=1)
    take(ODD_FIRST, odd.argmax(axis=1), has_odd)
    take(ODD_LAST, last_of - odd[:, ::-1].argmax(axis=1), has_odd)
    return out_x, out_y


def _combine(ax: Floats, ay: Floats, bx: Floats, by: Floats) -> tuple[Floats, Floats]:
    """Bucket pairs (a before b) as one bucket each: what reducing their points at once gives."""
    def present(x: Floats, slot: int) -> npt.NDArray[np.bool_]:
        return ~np.isnan(x[:, slot])

    take_a = np.empty(ax.shape, dtype=bool)
    take_a[:, FIRST] = present(ax, FIRST)
    take_a[:, LAST] = ~present(bx, LAST)
    take_a[:, LOW] = np.where(present(ax, LOW), ay[:, LOW], np.inf) <= np.where(present(bx, LOW), by[:, LOW], np.inf)
    take_a[:, HIGH] = (np.where(present(ax, HIGH), ay[:, HIGH], -np.inf)
                       >= np.where(present(bx, HIGH), by[:, HIGH], -np.inf))
    take_a[:, ODD_FIRST] = present(ax, ODD_FIRST)
    take_a[:, ODD_LAST] = ~present(bx, ODD_LAST)
    return np.where(take_a, ax, bx), np.where(take_a, ay, by)


# ---- the stored overviews ----------------------------------------------------------------

@dataclass
class Current:
    """A series' overview brought up to date, with what it stands for."""

    overview: Overview
    generation: int  # the key's generation it was read at
    key_count: int  # the key's count it covers
    read: int  # points read from metric_points to make it


def current_overview(session: Session, run_id: int, key_id: int, *, rebuild: bool = True) -> Current | None:
    """The overview of every point of a series: the stored one extended with the points
    past it when it is valid, else (``rebuild``) one built from the whole series. None if
    the key is gone, or there is no valid overview and not ``rebuild``."""
    execute = session.connection().exec_driver_sql
    mark = placeholders(session, 1)
    for _ in range(2):
        found = execute(
            "SELECT k.count, k.last_x, k.generation, o.generation, o.key_count, o.count, o.width, o.data "
            "FROM metric_keys k LEFT JOIN metric_overviews o ON o.key_id = k.id WHERE k.id = " + mark,
            (key_id,)).first()
        if found is None:
            return None
        count, last_x, generation, stored_generation, key_count, stored_count, width, data = found
        if last_x is None:
            return Current(Overview(), generation, count, 0)
        if data is None or stored_generation != generation:
            break
        overview = Overview.decode(stored_count, width, data)
        upto_x = overview.upto_x
        assert upto_x is not None
        # Only up to the key's last x as read above: a later append is not in its count.
        x, y = read_columns(session, run_id, key_id, upto_x, last_x, after=True)
        if key_count + len(x) != count:
            break
        # A rewrite committed between the two reads would mix two states: read again.
        now = execute("SELECT generation FROM metric_keys WHERE id = " + mark, (key_id,)).scalar()
        if now == generation:
            overview.extend(x, y)
            return Current(overview, generation, count, len(x))
    if not rebuild:
        return None
    x, y = read_columns(session, run_id, key_id, None, last_x)
    return Current(Overview.of(x, y), generation, count, len(x))


def save_overview(session: Session, run_id: int, key_id: int, current: Current) -> bool:
    """Store ``current`` unless the series was rewritten since it was read (then the key's
    generation differs); a newer overview of the same generation is not replaced."""
    upto_x = current.overview.upto_x
    if upto_x is None:
        return False
    # PostgreSQL: wait for a writer that holds the key, then see its generation. SQLite (no
    # FOR UPDATE) has one writer at a time, and the INSERT below checks within one statement.
    session.execute(select(MetricKey.id).where(MetricKey.id == key_id).with_for_update())
    overview = current.overview
    columns = "generation, key_count, count, upto_x, width, data"
    values = placeholders(session, 6)
    mark = placeholders(session, 1)
    stored = session.connection().exec_driver_sql(
        f"INSERT INTO metric_overviews (key_id, run_id, {columns}) SELECT id, run_id, {values} FROM metric_keys "
        f"WHERE id = {mark} AND run_id = {mark} AND generation = {mark} "
        "ON CONFLICT (key_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns.split(", "))
        + " WHERE metric_overviews.generation <> excluded.generation OR metric_overviews.count <= excluded.count",
        (current.generation, current.key_count, overview.count, upto_x, overview.width, overview.encode(),
         key_id, run_id, current.generation))
    return bool(stored.rowcount)


def keep_overview(sessions: Callable[[], Session], run_id: int, key_id: int, current: Current) -> None:
    """:func:`save_overview` in its own short transaction; a failure is logged, never raised
    (the overview is only a shortcut: the next read builds it again)."""
    try:
        with sessions() as session:
            save_overview(session, run_id, key_id, current)
            session.commit()
    except Exception:
        log.exception("run %s: could not store the overview of metric %s", run_id, key_id)


def refresh_overviews(sessions: Callable[[], Session], run_id: int, *, build: bool) -> None:
    """Bring a run's stored overviews up to date (reading only the points past each);
    ``build`` also makes those of long series that have none or a stale one."""
    try:
        with sessions() as session:
            keys = [k.id for k in metric_keys(session, run_id) if k.count >= MIN_POINTS]
            if not build:
                have = session.connection().exec_driver_sql(
                    "SELECT key_id FROM metric_overviews WHERE run_id = " + placeholders(session, 1), (run_id,))
                keys = sorted(set(keys) & {key_id for (key_id,) in have})
            for key_id in keys:
                current = current_overview(session, run_id, key_id, rebuild=build)
                session.rollback()  # end the read before the write (SQLite: one writer at a time)
                if current is not None and current.read:
                    keep_overview(sessions, run_id, key_id, current)
    except Exception:
        log.exception("run %s: could not refresh the metric overviews", run_id)


def overview_points(sessions: Callable[[], Session], session: Session, run_id: int,
                    key_id: int) -> tuple[Floats, Floats, int] | None:
    """The points of a series' overview (for a chart of the whole series) and how many
    points the series has; the overview is stored when that took reading many points."""
    current = current_overview(session, run_id, key_id)
    if current is None:
        return None
    if current.read >= REFRESH_POINTS:
        keep_overview(sessions, run_id, key_id, current)
    x, y = current.overview.points()
    return x, y, current.overview.count
