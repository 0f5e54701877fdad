"""The run list over real HTTP: the first page (50 runs) of GET /api/v1/runs with a filter
and a sort, over 10,000 runs, from a real daemon. Goal: p95 < 50 ms. Beside it, in the same
run, the page's SQL (the ids in order, and the counts per status) run straight with sqlite3:
the floor that any API over this database pays.

The runs are written straight into the store (a realistic mix: most finished with an attempt
and four metrics, some queued that can never start here since the daemon has no GPU, some
running, 1-2 tags each, a sweep for a third of them); then the daemon is started on it.

    python benchmarks/bench_api_list.py [--runs 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import Daemon, summary_ms, write_results

from runyard.domain.spec import RunSpec
from runyard.store.db import open_database
from runyard.store.tables import Attempt, MetricKey, Run, RunTag

GOAL_P95_MS = 50.0
TAGS = ("baseline", "ablation", "lr", "wd", "resnet", "vit", "long", "debug")
FINISHED = ("completed", "failed", "cancelled", "lost")
# What each case shows, its query parameters, and the same page as SQL for the floor: the
# page's ids in order, then the counts per status under every filter but status.
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "finished runs by best val_loss, descending",
        {"status": ["completed", "failed"], "sort": "-metric:val_loss:best"},
        "SELECT runs.id, m.min FROM runs LEFT OUTER JOIN metric_keys AS m ON m.run_id = runs.id AND m.key = 'val_loss' "
        "WHERE runs.status IN ('completed', 'failed') ORDER BY m.min DESC NULLS LAST, runs.id DESC LIMIT 51",
        "",
    ),
    (
        "newest first (the default)",
        {},
        "SELECT runs.id FROM runs ORDER BY runs.id DESC LIMIT 51",
        "",
    ),
    (
        "a tag and a search, newest created first",
        {"tag": "lr", "q": "--LR 0.001", "sort": "-created_at"},
        "SELECT runs.id, runs.created_at FROM runs WHERE {tag_and_search} "
        "ORDER BY runs.created_at DESC, runs.id DESC LIMIT 51",
        "runs.id IN (SELECT run_id FROM run_tags WHERE tag IN ('lr')) AND (lower(runs.name) LIKE '%--lr 0.001%' "
        "ESCAPE '/' OR lower(runs.command_text) LIKE '%--lr 0.001%' ESCAPE '/')",
    ),
    (
        "completed runs, longest first",
        {"status": "completed", "sort": "-duration"},
        # every completed run has finished_at: the clock (2e9 here) plays no part
        "SELECT runs.id, coalesce(runs.finished_at, 2e9) - runs.started_at AS d FROM runs "
        "WHERE runs.status = 'completed' ORDER BY d DESC NULLS LAST, runs.id DESC LIMIT 51",
        "",
    ),
]


def fill(db: Path, count: int, seed: int = 1) -> None:
    """``count`` runs written straight into a new database, in one transaction."""
    rng = random.Random(seed)
    engine, sessions = open_database(f"sqlite:///{db}")
    now = time.time()
    with sessions() as session, session.begin():
        for i in range(1, count + 1):
            roll = rng.random()
            status = (
                "queued"
                if roll < 0.08
                else "running"
                if roll < 0.10
                else rng.choice(FINISHED[:2] * 4 + FINISHED[2:])
            )
            lr = rng.choice((1e-4, 3e-4, 1e-3, 3e-3))
            argv = [
                "python",
                "train.py",
                "--lr",
                str(lr),
                "--seed",
                str(i % 5),
                "--out",
                f"runs/{i}",
            ]
            spec = RunSpec(
                command=argv,
                workdir="/tmp",
                name=f"exp-{i}",
                gpus_min=1,
                gpus_max=1,
                env={"WANDB_MODE": "offline", "BATCH": str(rng.choice((32, 64, 128)))},
                tags=rng.sample(TAGS, rng.randint(1, 2)),
            )
            created = now - (count - i) * 60.0
            started = None if status == "queued" else created + rng.uniform(1, 600)
            finished = started + rng.uniform(60, 36_000) if status in FINISHED and started else None
            run = Run(
                name=spec.name,
                status=status,
                spec=spec.model_dump(mode="json"),
                priority=rng.choice((0, 0, 0, 1)),
                order_key=created,
                created_at=created,
                started_at=started,
                finished_at=finished,
                attempts_count=0 if status == "queued" else 1,
                sweep=f"sweep-{i // 50}" if i % 3 == 0 else None,
                command_text=" ".join(argv),
                tags=[RunTag(tag=t) for t in spec.tags],
                exit_code=(0 if status == "completed" else 1) if status in FINISHED else None,
            )
            if status in FINISHED:
                run.attempts = [
                    Attempt(
                        number=1,
                        status=status,
                        gpus=[0],
                        started_at=started,
                        finished_at=finished,
                        exit_code=run.exit_code,
                        log_offset=0,
                    )
                ]
            session.add(run)
        session.flush()
        rows = session.query(Run.id, Run.status).all()
        session.add_all(
            MetricKey(
                run_id=run_id,
                key=key,
                count=100,
                first=first,
                last=first * 0.3,
                min=first * 0.25,
                max=first,
                last_x=100.0,
                first_x=1.0,
                min_x=90.0,
                max_x=1.0,
            )
            for run_id, status in rows
            if status != "queued"
            for key, first in (
                ("train_loss", rng.uniform(1, 3)),
                ("val_loss", rng.uniform(1, 3)),
                ("accuracy", rng.uniform(0.1, 0.9)),
                ("lr", 1e-3),
            )
        )
    engine.dispose()


def time_api(
    client: httpx.Client, params: dict[str, Any], requests: int
) -> tuple[list[float], dict[str, Any]]:
    for _ in range(5):  # warm: connections, statement caches, the queue's spec cache
        page = client.get("/api/v1/runs", params=params).raise_for_status().json()
    seconds = []
    for _ in range(requests):
        t0 = time.perf_counter()
        client.get("/api/v1/runs", params=params).raise_for_status().json()
        seconds.append(time.perf_counter() - t0)
    return seconds, page


def time_sql(
    db: Path, page_sql: str, count_sql: str, requests: int
) -> tuple[list[float], list[int]]:
    connection = sqlite3.connect(db)
    ids: list[int] = []
    seconds = []
    for i in range(requests + 5):
        t0 = time.perf_counter()
        ids = [row[0] for row in connection.execute(page_sql)][:50]
        connection.execute(count_sql).fetchall()
        if i >= 5:
            seconds.append(time.perf_counter() - t0)
    connection.close()
    return seconds, ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "runs": args.runs,
        "page": 50,
        "goal_p95_ms": GOAL_P95_MS,
        "cases": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "filled.db"
        t0 = time.perf_counter()
        fill(db, args.runs)
        figures["fill_s"] = round(time.perf_counter() - t0, 2)
        daemon = Daemon(Path(tmp) / "home", database_url=f"sqlite:///{db}")
        try:
            for title, params, page_sql, where in CASES:
                api, page = time_api(daemon.client, {**params, "limit": 50}, args.requests)
                count_sql = (
                    f"SELECT status, count(*) FROM runs {'WHERE ' + where if where else ''} "
                    "GROUP BY status"
                )
                sql, ids = time_sql(
                    db, page_sql.format(tag_and_search=where), count_sql, args.requests
                )
                api_ms, sql_ms = summary_ms(api), summary_ms(sql)
                figures["cases"][title] = {
                    "params": params,
                    "matching": page["total"],
                    "api": api_ms,
                    "sql_floor": sql_ms,
                    "ratio_api_over_sql_median": round(
                        api_ms["median_ms"] / sql_ms["median_ms"], 1
                    ),
                    "same_page_as_sql": ids == [r["id"] for r in page["runs"]],
                    "goal_met": api_ms["p95_ms"] < GOAL_P95_MS,
                }
        finally:
            daemon.client.close()
            daemon.stop()
    write_results("api_list", figures)


if __name__ == "__main__":
    main()
