"""The database tables (SQLAlchemy 2). Times are epoch seconds (floats): they sort and
compare the same on SQLite and PostgreSQL, and the API renders them as ISO-8601."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big tables.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    __tablename__ = "runs"
    # The run list filters by status and pages by id; the index serves lookups by status too.
    __table_args__ = (Index("ix_runs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    order_key: Mapped[float] = mapped_column(Float, index=True)
    attempts_count: Mapped[int] = mapped_column(Integer, default=0)
    retry_base: Mapped[int] = mapped_column(Integer, default=0, doc="attempts made before the last (re)queue")
    oom_count: Mapped[int] = mapped_column(Integer, default=0, doc="OOM failures so far, for OOM recovery")
    gpus: Mapped[list[Any] | None] = mapped_column(JSON)
    not_before: Mapped[float | None] = mapped_column(Float, doc="retry backoff: not started before this")
    created_at: Mapped[float] = mapped_column(Float, index=True)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="epoch, total_epochs, step, eta_s, …")
    final: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="final results (PROTOCOL.md §3)")
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="latest string/bool values the run printed")
    sweep: Mapped[str | None] = mapped_column(String(200), index=True, doc="the sweep the run belongs to")
    command_text: Mapped[str | None] = mapped_column(Text, doc="the command as displayed, for text search")

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="run", order_by="Attempt.number", cascade="all, delete-orphan"
    )
    tags: Mapped[list[RunTag]] = relationship(cascade="all, delete-orphan")
    deps: Mapped[list[RunDep]] = relationship(cascade="all, delete-orphan")
    metric_keys: Mapped[list[MetricKey]] = relationship(cascade="all, delete-orphan", order_by="MetricKey.key",
                                                        viewonly=True)
    warnings: Mapped[list[RunWarning]] = relationship(cascade="all, delete-orphan", order_by="RunWarning.line",
                                                      viewonly=True)


class RunTag(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class RunDep(Base):
    __tablename__ = "run_deps"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    depends_on: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, doc="after | after_any")


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("run_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    gpus: Mapped[list[Any]] = mapped_column(JSON, default=list)
    gpu_mem_mib: Mapped[int | None] = mapped_column(Integer, doc="per-GPU claim; None = exclusive")
    env: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="env changes of this attempt (OOM recovery)")
    pid: Mapped[int | None] = mapped_column(Integer)
    pid_created: Mapped[float | None] = mapped_column(Float, doc="the shim's start time, against pid reuse")
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    deadline: Mapped[float | None] = mapped_column(Float, doc="when --timeout stops it")
    stop_reason: Mapped[str | None] = mapped_column(String(16), doc="cancelled | timeout, set when runyard stops it")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(16))
    log_offset: Mapped[int] = mapped_column(BigInteger, default=0, doc="bytes of output.log ingested")
    parser_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="the parser at log_offset")

    run: Mapped[Run] = relationship(back_populates="attempts")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_run_time", "run_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    attempt: Mapped[int | None] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SwapJournal(Base):
    """One hot-swap of one attempt; written before the files are touched, so a crash
    between applying and restoring is always repaired at the next start."""

    __tablename__ = "swaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    backup: Mapped[str] = mapped_column(Text)
    existed: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), index=True, doc="applying | applied | restored")


class MetricKey(Base):
    """One metric of a run, with the summary that sorting and comparing read instead of
    scanning the series. ``None`` values stand for NaN (SQLite stores no NaN)."""

    __tablename__ = "metric_keys"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer, default=0)
    first: Mapped[float | None] = mapped_column(Float)
    first_x: Mapped[float | None] = mapped_column(Float)
    last: Mapped[float | None] = mapped_column(Float)
    last_x: Mapped[float | None] = mapped_column(Float)
    min: Mapped[float | None] = mapped_column(Float)
    min_x: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    max_x: Mapped[float | None] = mapped_column(Float)
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                            doc="bumped when stored points change other than by an append")


class MetricOverview(Base):
    """The M4 reduction of one whole series, that a chart of it is drawn from (see
    store/overviews.py): valid while ``generation`` is the key's and the key's count is
    ``key_count`` plus the points past ``upto_x``."""

    __tablename__ = "metric_overviews"

    key_id: Mapped[int] = mapped_column(ForeignKey("metric_keys.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    key_count: Mapped[int] = mapped_column(Integer, doc="metric_keys.count when it covered every point")
    count: Mapped[int] = mapped_column(Integer, doc="points covered")
    upto_x: Mapped[float] = mapped_column(Float, doc="the last x covered")
    width: Mapped[int] = mapped_column(Integer, doc="points a bucket")
    data: Mapped[bytes] = mapped_column(LargeBinary, doc="x then y of each bucket's 6 slots, float64 little-endian")


class MetricPoint(Base):
    """One value of one metric at one x; (run, key, x) is unique: the last write wins."""

    __tablename__ = "metric_points"
    # Clustered on the key in SQLite: a series is read in x order without a second lookup.
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("metric_keys.id", ondelete="CASCADE"), primary_key=True)
    x: Mapped[float] = mapped_column(Float, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)


class RunWarning(Base):
    """A protocol warning (PROTOCOL.md §4): each kind once per run, with its first line."""

    __tablename__ = "run_warnings"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    attempt: Mapped[int | None] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
