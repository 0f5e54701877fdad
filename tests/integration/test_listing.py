"""The run list (GET /api/v1/runs) in-process: filters, every sort both ways, cursor paging,
counts, and clear 422s. Runs are written straight into the store (the list does not care
how they got there); a queue with no scheduler running keeps them as they were written.
On SQLite and on PostgreSQL (``[sqlite]``/``[postgres]``: tests/conftest.py)."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from operator import itemgetter
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select

from runyard.daemon.yard import Yard
from runyard.domain.status import RunStatus
from runyard.server.app import create_app
from runyard.store.db import MIGRATIONS, make_engine
from runyard.store.tables import MetricKey, Run, RunTag
from tests.conftest import DeclaredGpus, make_settings, submit

pytestmark = pytest.mark.both_databases

TOKEN = "test-token"
NOW = time.time()
FINISHED = ("completed", "failed", "cancelled", "lost")
STATUSES = (*FINISHED, "running", "paused", "queued", "waiting")
NAMES = ("alpha", "beta", "gamma", "delta", None)


def make_rows(count: int, seed: int = 7, first_id: int = 1) -> list[dict[str, Any]]:
    """Runs with every sortable value, ties and missing values among them."""
    rnd = random.Random(seed)
    rows = []
    for run_id in range(first_id, first_id + count):
        status = rnd.choice(STATUSES)
        started = None if status in ("queued", "waiting") or rnd.random() < 0.1 else NOW - 10**6 + rnd.randint(0, 20) * 100
        finished = started + rnd.randint(1, 50) if started is not None and status in FINISHED else None
        metrics = {}
        if rnd.random() < 0.7:
            nan = rnd.random() < 0.1  # a NaN summary is stored as NULL
            metrics["val_loss"] = {k: None if nan else rnd.randint(0, 9) / 4 for k in ("last", "min", "max")}
        if rnd.random() < 0.5:
            metrics["accuracy"] = {k: rnd.randint(0, 9) / 10 for k in ("last", "min", "max")}
        rows.append({
            "id": run_id,
            "name": rnd.choice(NAMES),
            "status": status,
            "priority": rnd.choice([-1, 0, 0, 1, 5]),
            "created_at": NOW - rnd.randint(0, 50) * 10,
            "started_at": started,
            "finished_at": finished,
            "attempts": rnd.randint(0, 3),
            "tags": rnd.sample(["a", "b", "c"], rnd.randint(0, 2)),
            "sweep": rnd.choice([None, "s1", "s2"]),
            "command_text": rnd.choice(["python train.py --lr 0.1", "bash run_all.sh", "echo 100%_done", "echo 100x done"]),
            "metrics": metrics,
        })
    return rows


def store_rows(yard: Yard, rows: list[dict[str, Any]]) -> None:
    with yard.sessions() as session, session.begin():
        for row in rows:
            session.add(Run(
                id=row["id"], name=row["name"], status=row["status"], priority=row["priority"],
                order_key=float(row["id"]), created_at=row["created_at"], started_at=row["started_at"],
                finished_at=row["finished_at"], attempts_count=row["attempts"], sweep=row["sweep"],
                command_text=row["command_text"],
                spec={"command": ["sh", "-c", row["command_text"]], "workdir": "/tmp", "gpus_min": 0, "gpus_max": 0},
                not_before=NOW + 3600 if row["status"] == "waiting" else None,
                tags=[RunTag(tag=t) for t in row["tags"]],
            ))
        session.flush()
        session.add_all(
            MetricKey(run_id=row["id"], key=key, count=3, **values)
            for row in rows for key, values in row["metrics"].items()
        )


def cursor_of(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def duration(row: dict[str, Any]) -> float | None:
    if row["started_at"] is None:
        return None
    return (row["finished_at"] if row["finished_at"] is not None else NOW) - row["started_at"]


def metric(key: str, which: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row["metrics"].get(key, {}).get(which)


SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    **{key: itemgetter(key) for key in
       ("id", "name", "status", "priority", "created_at", "started_at", "finished_at", "attempts")},
    "duration": duration,
    "metric:val_loss": metric("val_loss", "last"),
    "metric:val_loss:best": metric("val_loss", "min"),  # a loss is best when low
    "metric:accuracy:best": metric("accuracy", "max"),
    "metric:val_loss:min": metric("val_loss", "min"),
    "metric:accuracy:max": metric("accuracy", "max"),
}


def expected_order(rows: list[dict[str, Any]], value: Callable[[dict[str, Any]], Any], descending: bool) -> list[int]:
    """Values in the sort's direction, ties by id in the same direction, missing values last."""
    having = sorted((r for r in rows if value(r) is not None), key=lambda r: (value(r), r["id"]), reverse=descending)
    missing = sorted((r["id"] for r in rows if value(r) is None), reverse=descending)
    return [r["id"] for r in having] + missing


@pytest.fixture
async def quiet_yard(tmp_path: Path, gpus: DeclaredGpus, database_url: str | None) -> AsyncIterator[Yard]:
    """A daemon core whose loops are not started: the runs stay as the test wrote them."""
    core = Yard(make_settings(tmp_path, gpus, database_url))
    yield core
    core.engine.dispose()


def client_for(yard: Yard) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(yard, TOKEN)),
                             base_url="http://runyard", headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture
async def api(quiet_yard: Yard) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(quiet_yard) as client:
        yield client


async def list_all(api: httpx.AsyncClient, between_pages: Callable[[], None] | None = None,
                   **params: Any) -> list[int]:
    """Every run the list pages through, checking that no run comes twice."""
    seen: list[int] = []
    cursor = None
    while True:
        answer = await api.get("/api/v1/runs", params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            assert len(seen) == len(set(seen)), "a run came twice"
            return seen
        if between_pages is not None:
            between_pages()


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("sort", list(SORTS))
async def test_every_sort_orders_both_ways_with_missing_values_last(quiet_yard, api, sort, descending):
    rows = make_rows(80)
    store_rows(quiet_yard, rows)
    listed = await list_all(api, sort=f"-{sort}" if descending else sort, limit=7)
    assert listed == expected_order(rows, SORTS[sort], descending)


async def test_the_first_page_is_the_newest_50_by_default(quiet_yard, api):
    store_rows(quiet_yard, make_rows(60))
    page = (await api.get("/api/v1/runs")).json()
    assert [r["id"] for r in page["runs"]] == list(range(60, 10, -1))
    assert page["next_cursor"] and page["total"] == 60
    assert {"id", "name", "sweep", "status", "tags", "metrics", "display_command", "waiting_for"} <= page["runs"][0].keys()


FILTERS: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
    ({"status": "failed"}, lambda r: r["status"] == "failed"),
    ({"status": ["failed", "lost"]}, lambda r: r["status"] in ("failed", "lost")),
    ({"status": "failed,lost"}, lambda r: r["status"] in ("failed", "lost")),
    ({"tag": "a"}, lambda r: "a" in r["tags"]),
    ({"tag": ["a", "b"]}, lambda r: bool({"a", "b"} & set(r["tags"]))),  # any of them
    ({"sweep": "s1"}, lambda r: r["sweep"] == "s1"),
    ({"q": "TRAIN.PY"}, lambda r: "train.py" in r["command_text"]),
    ({"q": "ET"}, lambda r: "et" in (r["name"] or "")),  # beta; nothing in the commands
    ({"q": "100%"}, lambda r: "100%" in r["command_text"]),  # % is not a wildcard
    ({"q": "_"}, lambda r: "_" in r["command_text"]),  # nor is _
    (
        {"status": ["completed", "failed", "running"], "tag": "b", "sweep": "s2", "q": "e"},
        lambda r: r["status"] in ("completed", "failed", "running") and "b" in r["tags"] and r["sweep"] == "s2"
        and ("e" in (r["name"] or "") or "e" in r["command_text"]),
    ),
]


@pytest.mark.parametrize(("params", "wanted"), FILTERS, ids=[str(p) for p, _ in FILTERS])
async def test_filters_work_alone_and_together_with_total_and_counts(quiet_yard, api, params, wanted):
    rows = make_rows(120)
    store_rows(quiet_yard, rows)
    matching = [r["id"] for r in rows if wanted(r)]
    assert matching, "the data set must have runs that match"
    assert await list_all(api, **params, limit=9) == sorted(matching, reverse=True)
    page = (await api.get("/api/v1/runs", params={**params, "limit": 1})).json()
    assert page["total"] == len(matching)
    others = {k: v for k, v in params.items() if k != "status"}  # counts ignore the status filter
    expected_counts = dict.fromkeys((s.value for s in RunStatus), 0)
    for row in rows:
        if _matches_all_but_status(row, others):
            expected_counts[row["status"]] += 1
    assert page["counts"] == expected_counts


def _matches_all_but_status(row: dict[str, Any], params: dict[str, Any]) -> bool:
    tags = params.get("tag")
    tags = [tags] if isinstance(tags, str) else tags
    q = (params.get("q") or "").lower()
    return (
        (not tags or bool(set(tags) & set(row["tags"])))
        and ("sweep" not in params or row["sweep"] == params["sweep"])
        and (not q or q in (row["name"] or "").lower() or q in row["command_text"].lower())
    )


@pytest.mark.parametrize("sort", ["-id", "id", "name", "-duration", "-metric:val_loss:best", "created_at"])
async def test_paging_visits_every_run_once_while_runs_are_added(quiet_yard, api, sort):
    rows = make_rows(100)
    store_rows(quiet_yard, rows)
    batches = iter(range(4))

    def submit_more() -> None:  # new runs, some sorting before the cursor, some after
        batch = next(batches, None)
        if batch is not None:
            store_rows(quiet_yard, make_rows(5, seed=batch, first_id=1000 + 5 * batch))

    listed = await list_all(api, between_pages=submit_more, sort=sort, limit=11)
    original = [i for i in listed if i <= 100]
    assert original == expected_order(rows, SORTS[sort.lstrip("-")], sort.startswith("-"))
    if sort == "id":  # every new run sorts after the cursor: none is missed
        assert listed[100:] == list(range(1000, 1020))


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"sort": "colour"}, "sort", "cannot sort by 'colour'"),
        ({"sort": "metric:"}, "sort", "cannot sort by"),
        ({"status": "done"}, "status", "unknown status 'done'"),
        ({"cursor": "not a cursor!"}, "cursor", "not one this list gave out"),
        ({"cursor": "eyJ4IjogMX0"}, "cursor", ""),  # base64 JSON, but not a cursor
        ({"cursor": cursor_of({"s": "-id", "v": 1, "id": 2**70})}, "cursor", ""),  # no database holds it
        ({"sort": "name", "cursor": cursor_of({"s": "name", "v": "a\x00", "id": 1})}, "cursor", ""),
        ({"sort": "-duration", "cursor": cursor_of({"s": "-duration", "v": 1.0, "id": 1})}, "cursor", ""),
        ({"q": "a\x00b"}, "q", "NUL"),
        ({"tag": "a\x00b"}, "tag", "NUL"),
        ({"limit": 0}, "limit", ""),
        ({"limit": 1001}, "limit", ""),
    ],
)
async def test_bad_requests_get_a_clear_422(api, params, field, words):
    answer = await api.get("/api/v1/runs", params=params)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body.keys() == {"error", "detail", "field"}
    assert body["field"] == field and words in body["detail"]


async def test_a_cursor_only_goes_with_its_own_sort(quiet_yard, api):
    store_rows(quiet_yard, make_rows(20))
    cursor = (await api.get("/api/v1/runs", params={"sort": "name", "limit": 5})).json()["next_cursor"]
    answer = await api.get("/api/v1/runs", params={"sort": "-name", "cursor": cursor})
    assert answer.status_code == 422 and answer.json()["field"] == "cursor"


async def test_submit_stores_the_sweep_and_the_command_to_search(yard):
    ids = [
        submit(yard, "python", "train.py", "--lr", "0.1", gpus_min=0, sweep="lr-sweep", name="one"),
        submit(yard, "echo 'lr sweep' && true", gpus_min=0, shell=True, sweep="lr-sweep"),
        submit(yard, "true", gpus_min=0, name="other"),
    ]
    async with client_for(yard) as api:
        in_sweep = (await api.get("/api/v1/runs", params={"sweep": "lr-sweep", "sort": "id"})).json()["runs"]
        assert [(r["id"], r["sweep"]) for r in in_sweep] == [(ids[0], "lr-sweep"), (ids[1], "lr-sweep")]
        assert in_sweep[1]["display_command"] == "echo 'lr sweep' && true"
        found = (await api.get("/api/v1/runs", params={"q": "LR SWEEP' &&"})).json()["runs"]
        assert [r["id"] for r in found] == [ids[1]]
        found = (await api.get("/api/v1/runs", params={"q": "train.py --lr"})).json()["runs"]
        assert [r["id"] for r in found] == [ids[0]]


def migrate(url: str, revision: str) -> None:
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def check_backfill(url: str) -> None:
    """Runs stored before 0003 get the display command their list is searched by."""
    migrate(url, "0002")
    engine = make_engine(url)
    runs = Run.__table__
    with engine.begin() as connection:
        for run_id, spec in [(1, {"command": ["python", "a b.py"]}), (2, {"command": ["echo x | wc"], "shell": True})]:
            connection.execute(runs.insert().values(
                id=run_id, status="completed", spec={**spec, "workdir": "/tmp"}, priority=0, order_key=0.0,
                attempts_count=1, retry_base=0, oom_count=0, created_at=NOW))
    engine.dispose()
    migrate(url, "head")
    engine = make_engine(url)
    with engine.connect() as connection:
        stored = dict(connection.execute(select(Run.id, Run.command_text).order_by(Run.id)).all())
    engine.dispose()
    assert stored == {1: "python 'a b.py'", 2: "echo x | wc"}


def test_the_migration_fills_in_the_command_of_existing_runs(tmp_path):
    check_backfill(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_the_migration_fills_in_the_command_of_existing_runs_on_postgres(pg_url):
    check_backfill(pg_url)  # an empty database: `database_url`'s come migrated already
