"""The same tables, migrations and queue on a real PostgreSQL server: the one at
RUNYARD_TEST_POSTGRES_URL (default 127.0.0.1:5432), else a throwaway one the session starts
(tests/postgres_server.py). Each test gets a fresh database (`pg_url`, tests/conftest.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from runyard.daemon.yard import Yard
from runyard.store.db import open_database
from tests.conftest import make_settings, python, stop_everything, submit, wait_for

pytestmark = pytest.mark.postgres


def test_migrations_create_every_table(pg_url):
    engine, _ = open_database(pg_url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"runs", "attempts", "events", "run_tags", "run_deps", "swaps", "alembic_version"} <= tables


async def test_a_run_completes_and_retries_on_postgres(tmp_path, gpus, pg_url):
    core = Yard(make_settings(tmp_path, gpus, database_url=pg_url))
    await core.start()
    try:
        ok = submit(core, *python("print('on postgres')"), gpus_min=1, tags=["pg"])
        flaky = submit(core, *python("import os; exit(0 if os.environ['RUNYARD_ATTEMPT'] == '2' else 1)"),
                       gpus_min=0, retries=1)
        assert (await wait_for(core, ok))["status"] == "completed"
        run = await wait_for(core, flaky)
        assert (run["status"], [a["exit_code"] for a in run["attempts"]]) == ("completed", [1, 0])
    finally:
        await stop_everything(core)


async def test_charts_of_long_series_from_overviews_on_postgres(tmp_path, gpus, pg_url):
    from tests.integration.test_metric_overviews import Series, walk

    core = Yard(make_settings(tmp_path, gpus, database_url=pg_url))
    await core.start()
    try:
        run_id = submit(core, *python("pass"), gpus_min=0)
        await wait_for(core, run_id)
        series = Series(core, run_id)
        series.write(*walk(0, 25_000, seed=1))
        assert series.chart() == series.expected() and series.overview() is not None
        series.write(*walk(25_000, 12_000, seed=2))
        assert series.chart() == series.expected() and series.overview().count == 37_000
        series.write(*walk(0, 100, seed=3))  # a retry from x = 0
        assert series.overview() is None and series.chart() == series.expected()
    finally:
        await stop_everything(core)
