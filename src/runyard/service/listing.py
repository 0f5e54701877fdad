"""The run list (``GET /api/v1/runs``): filter, sort and page through every run.

A page costs about the same at 10,000 runs as at 100: one query picks the page's ids
(keyset paging from an opaque cursor, never OFFSET, so pages stay right while runs are
added), one counts the matching runs per status, and only the page's runs are loaded and
rendered. Sorting reads columns and metric summary rows (``metric_keys``), never a series.

Order rules: a run without the sort value (no metric, never started, …) comes last in both
directions, and ties are broken by id in the sort's direction, so the order is total.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import aliased

from runyard.domain.metrics import lower_is_better
from runyard.domain.status import PENDING, RunStatus
from runyard.errors import InvalidSpec
from runyard.service.runs import RUN_LOADS
from runyard.store.render import render_run
from runyard.store.tables import MetricKey, Run, RunTag

if TYPE_CHECKING:
    from runyard.context import Context

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
STATUSES = tuple(s.value for s in RunStatus)
# Sort keys that are plain columns, and whether the column can be NULL.
COLUMNS: dict[str, tuple[Any, bool]] = {
    "id": (Run.id, False),
    "name": (Run.name, True),
    "status": (Run.status, False),
    "priority": (Run.priority, False),
    "created_at": (Run.created_at, False),
    "started_at": (Run.started_at, True),
    "finished_at": (Run.finished_at, True),
    "attempts": (Run.attempts_count, False),
}
TEXT_KEYS = frozenset({"name", "status"})
METRIC_VALUES = ("last", "best", "min", "max")
SORT_HELP = (
    "sort by one of " + ", ".join([*COLUMNS, "duration"])
    + ", metric:<key> or metric:<key>:<last|best|min|max>; a leading '-' sorts descending"
)


@dataclass(frozen=True)
class RunQuery:
    """What the run list is asked for; validated by :func:`list_page`, which says what is wrong."""

    status: Sequence[str] = ()
    tag: Sequence[str] = ()
    q: str | None = None
    sweep: str | None = None
    sort: str = "-id"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


@dataclass(frozen=True)
class Sort:
    """A parsed ``sort``: the key (``created_at``, ``duration``, ``metric``) and its direction."""

    key: str
    descending: bool
    metric: str | None = None
    metric_value: str = "last"

    @property
    def text(self) -> str:
        """The canonical form, which a cursor carries so that it is not used with another sort."""
        key = f"metric:{self.metric}:{self.metric_value}" if self.metric is not None else self.key
        return f"-{key}" if self.descending else key

    @property
    def nullable(self) -> bool:
        return self.key in ("duration", "metric") or COLUMNS[self.key][1]

    @property
    def is_text(self) -> bool:
        return self.key in TEXT_KEYS


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: its last run's sort value and id (and the clock that a
    duration sort measured running runs with, so that every page measures alike)."""

    sort: str
    value: Any
    run_id: int
    now: float | None = None

    def encode(self) -> str:
        data = {"s": self.sort, "v": self.value, "id": self.run_id}
        if self.now is not None:
            data["now"] = self.now
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_sort(text: str) -> Sort:
    """``"-metric:val_loss:best"`` → a descending sort on the run's best val_loss."""
    raw = text.strip()
    descending = raw.startswith("-")
    key = raw[1:] if descending else raw
    if key in COLUMNS or key == "duration":
        return Sort(key, descending)
    if key.startswith("metric:"):
        name = key.removeprefix("metric:")
        head, sep, tail = name.rpartition(":")
        value = "last"
        if sep and tail in METRIC_VALUES:
            name, value = head, tail
        if name and len(name) <= 200 and "\x00" not in name:
            return Sort("metric", descending, name, value)
    raise InvalidSpec(f"cannot sort by {text!r}: {SORT_HELP}", "sort")


def parse_statuses(values: Sequence[str]) -> list[str]:
    """``["failed", "lost,cancelled"]`` → the statuses, each one known."""
    statuses: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            if name not in STATUSES:
                raise InvalidSpec(f"unknown status {part!r}: use one of {', '.join(STATUSES)}", "status")
            if name not in statuses:
                statuses.append(name)
    return statuses


def parse_cursor(text: str, sort: Sort) -> Cursor:
    """The cursor a previous page gave out; anything else is refused, never guessed at."""
    bad = InvalidSpec("cursor is not one this list gave out: start again without it", "cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or data.get("s") != sort.text:
        raise InvalidSpec(f"cursor belongs to another sort than {sort.text!r}: start again without it", "cursor")
    run_id: Any = data.get("id")
    value, now = data.get("v"), data.get("now")
    if (
        not _is_number(run_id, whole=True)
        or (value is None and not sort.nullable)
        or (value is not None and not (_is_text(value) if sort.is_text else _is_number(value)))
        or (sort.key == "duration") != _is_number(now)
        or (now is not None and not math.isfinite(now))
    ):
        raise bad
    return Cursor(sort.text, value, run_id, float(now) if now is not None else None)


def _is_number(value: object, whole: bool = False) -> bool:
    """A number the database can compare with: no bool, no NaN, no integer too big for it."""
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return False
    return abs(value) <= 2**62 if isinstance(value, int) else not math.isnan(value)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and "\x00" not in value and len(value) <= 1000


def _check_text(value: str | None, field: str) -> None:
    """PostgreSQL cannot hold a NUL byte in text, so none may reach a query."""
    if value is not None and "\x00" in value:
        raise InvalidSpec(f"{field} must not contain a NUL byte", field)


def list_page(ctx: Context, query: RunQuery) -> dict[str, Any]:
    """One page of the runs matching ``query``, the cursor of the next, and the counts."""
    for text in query.tag:
        _check_text(text, "tag")
    _check_text(query.q, "q")
    _check_text(query.sweep, "sweep")
    statuses = parse_statuses(query.status)
    sort = parse_sort(query.sort)
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidSpec(f"limit must be between 1 and {MAX_LIMIT}, not {query.limit}", "limit")
    cursor = parse_cursor(query.cursor, sort) if query.cursor else None
    now = cursor.now if cursor is not None and cursor.now is not None else time.time()
    filters = _filters(query)
    status_filter = [Run.status.in_(statuses)] if statuses else []

    page, value = _page_statement(sort, now)
    page = page.where(*filters, *status_filter)
    if cursor is not None:
        page = page.where(_after(sort, value, cursor))
    page = page.limit(query.limit + 1)
    counted = select(Run.status, func.count()).where(*filters).group_by(Run.status)

    with ctx.home.sessions() as session:
        rows = session.execute(page).all()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: count for status, count in session.execute(counted)})
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        ids = [row[0] for row in rows]
        loaded = {run.id: run for run in session.scalars(select(Run).where(Run.id.in_(ids)).options(*RUN_LOADS))}
        runs = [loaded[run_id] for run_id in ids if run_id in loaded]
        reasons = ctx.waiting_reasons(session, [r for r in runs if r.status in PENDING])
        rendered = [render_run(run, reasons.get(run.id)) for run in runs]

    next_cursor = None
    if more and rows:
        last_id, last_value = rows[-1]
        next_cursor = Cursor(sort.text, last_value, last_id, now if sort.key == "duration" else None).encode()
    total = sum(counts.get(s, 0) for s in statuses) if statuses else sum(counts.values())
    return {"runs": rendered, "next_cursor": next_cursor, "total": total, "counts": counts}


def _filters(query: RunQuery) -> list[ColumnElement[bool]]:
    """Every filter but status (the counts per status are taken under these)."""
    conditions: list[ColumnElement[bool]] = []
    tags = [t for t in dict.fromkeys(query.tag) if t]
    if tags:  # any of the tags, as `runyard ls --tag a --tag b` has always meant
        conditions.append(Run.id.in_(select(RunTag.run_id).where(RunTag.tag.in_(tags))))
    if query.sweep:
        conditions.append(Run.sweep == query.sweep)
    if query.q:
        # autoescape: a % or _ the user types is matched literally, not as a wildcard.
        conditions.append(
            or_(Run.name.icontains(query.q, autoescape=True), Run.command_text.icontains(query.q, autoescape=True))
        )
    return conditions


def _page_statement(sort: Sort, now: float) -> tuple[Select[Any], ColumnElement[Any]]:
    """``SELECT id, <sort value>`` in the page's order, and the sort value's expression."""
    value: ColumnElement[Any]
    statement: Select[Any]
    if sort.key == "metric":
        assert sort.metric is not None
        metric = aliased(MetricKey)
        which = sort.metric_value
        if which == "best":
            which = "min" if lower_is_better(sort.metric) else "max"
        value = getattr(metric, which)
        statement = select(Run.id, value).outerjoin(metric, and_(metric.run_id == Run.id, metric.key == sort.metric))
    else:
        if sort.key == "duration":
            value = func.coalesce(Run.finished_at, literal(now)) - Run.started_at
        else:
            value = COLUMNS[sort.key][0]
        statement = select(Run.id, value)
    if sort.key == "id":
        return statement.order_by(Run.id.desc() if sort.descending else Run.id), value
    ordered = value.desc() if sort.descending else value.asc()
    if sort.nullable:
        ordered = ordered.nulls_last()
    return statement.order_by(ordered, Run.id.desc() if sort.descending else Run.id.asc()), value


def _after(sort: Sort, value: ColumnElement[Any], cursor: Cursor) -> ColumnElement[bool]:
    """The runs that come after the cursor's in the page order."""
    if sort.key == "id":
        return Run.id < cursor.run_id if sort.descending else Run.id > cursor.run_id
    if cursor.value is None:  # already among the runs without a value, which come last
        return and_(value.is_(None), Run.id < cursor.run_id if sort.descending else Run.id > cursor.run_id)
    pair, last = tuple_(value, Run.id), tuple_(literal(cursor.value), literal(cursor.run_id))
    later = pair < last if sort.descending else pair > last
    return or_(later, value.is_(None)) if sort.nullable else later
