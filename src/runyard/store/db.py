"""Engines, sessions and migrations; the one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL: readers (the API) never block the writer (the scheduler and ingesters).
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across a process crash in WAL mode; only a power cut may lose the
    # last transactions, and the log files on disk are the source of truth anyway.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # SQLite ignores foreign keys unless asked; deleting a run must delete its rows.
    cursor.execute("PRAGMA foreign_keys=ON")
    # A second process (a maintenance command) waits for the lock instead of failing.
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``, with SQLite's pragmas set on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic), on SQLite or PostgreSQL."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    upgrade(engine)
    return engine, make_sessions(engine)
