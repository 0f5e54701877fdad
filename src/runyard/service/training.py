"""Training jobs: the job API of an annotation tool, served over runyard runs.

Clients written against that tool create, list, show and delete *training jobs* and
follow one over a WebSocket. Here a job is a run carrying the tag ``task_type:<type>``
(tags are runyard's filter mechanism), its ``config`` travels in the run's environment
as ``RUNYARD_CONFIG`` (JSON), and its status is the run's, mapped onto the tool's six
statuses by :data:`JOB_STATUS`. Nothing is stored that a run does not already hold.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from runyard.domain.spec import ABSOLUTE, MAX_GPUS, RunSpec
from runyard.domain.status import FINISHED, RunStatus
from runyard.errors import Conflict, InvalidSpec, NotFound
from runyard.service import runs
from runyard.store.render import FINAL_KEYS, iso, number
from runyard.store.tables import Run, RunTag

if TYPE_CHECKING:
    from runyard.context import Context

TASK_TAG = "task_type:"
CONFIG_ENV = "RUNYARD_CONFIG"
MAX_CONFIG_BYTES = 64 << 10  # one environment string may hold 128 KiB on Linux; leave room


class JobStatus(str, Enum):
    PENDING = "pending"
    PREPARING = "preparing"
    TRAINING = "training"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


S, J = RunStatus, JobStatus
JOB_STATUS: dict[RunStatus, JobStatus] = {
    S.QUEUED: J.PENDING,
    S.WAITING: J.PENDING,  # dependencies, or the backoff before an automatic retry
    S.PREPARING: J.PREPARING,
    S.RUNNING: J.TRAINING,
    S.PAUSED: J.TRAINING,  # the job says ``paused: true``
    S.COMPLETED: J.COMPLETED,
    S.FAILED: J.FAILED,
    S.LOST: J.FAILED,
    S.CANCELLED: J.CANCELLED,
}
if JOB_STATUS.keys() != set(RunStatus):  # a new run status must be given a job status here
    raise RuntimeError(f"run statuses without a job status: {set(RunStatus) - JOB_STATUS.keys()}")

TaskType = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                                examples=["classification", "detection"])]


ARGUMENT = {"type": "string", "minLength": 1, "pattern": r"^[^\x00]+$"}
COMMAND = {"anyOf": [{"type": "array", "minItems": 1, "items": ARGUMENT}, ARGUMENT]}


def _check_command(value: Any) -> Any:
    """One clear error for a bad command (a union's errors would name its branches)."""
    parts = value if isinstance(value, list) else [value]
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise ValueError("write an argv list of non-empty strings, or one shell command string")
    if any("\x00" in p for p in parts):
        raise ValueError("must not contain a NUL byte")
    return value


class JobRequest(BaseModel):
    """The body of ``POST /training/jobs``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, description="default: '<task_type> training'")
    task_type: TaskType
    command: Annotated[list[str] | str, BeforeValidator(_check_command), WithJsonSchema(COMMAND)] = Field(
        description="argv, exec'd as is; or one string, run through /bin/sh -c")
    workdir: Annotated[str, WithJsonSchema(ABSOLUTE)] = Field(
        min_length=1, max_length=4096, description="absolute working directory: a directory that exists on the daemon's machine")
    config: dict[str, Any] = Field(default_factory=dict, description=(
        "stored with the run and given to the process as the env var RUNYARD_CONFIG (JSON, at most 64 KiB)"))
    gpus: int | None = Field(None, ge=0, le=MAX_GPUS, description="default: 1 on a machine with GPUs, else 0")
    priority: int = Field(0, ge=-1_000_000, le=1_000_000)
    retries: int = Field(0, ge=0, le=100)


# ---- jobs ----------------------------------------------------------------------------
def create_job(ctx: Context, request: JobRequest) -> dict[str, Any]:
    """Submit the job as a run; refused with a 4xx, like any run, when it could never run here."""
    try:
        config = json.dumps(request.config, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise InvalidSpec("config: NaN and Infinity are not JSON", "config") from None
    if len(config.encode()) > MAX_CONFIG_BYTES:
        raise InvalidSpec(f"config: {len(config.encode())} bytes of JSON, more than {MAX_CONFIG_BYTES}", "config")
    shell = isinstance(request.command, str)
    try:
        spec = RunSpec.model_validate({
            "command": [request.command] if isinstance(request.command, str) else request.command,
            "shell": shell,
            "name": request.name or f"{request.task_type} training",
            "workdir": request.workdir,
            "env": {CONFIG_ENV: config},
            "gpus_min": request.gpus,
            "gpus_max": request.gpus,
            "priority": request.priority,
            "retries": request.retries,
            "tags": [TASK_TAG + request.task_type],
        })
    except ValidationError as error:  # e.g. a NUL byte in the command: the request's fault, never a 500
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        detail = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidSpec(f"{where}: {detail}" if where else detail, where) from None
    run_id = runs.submit(ctx, spec)["id"]
    return get_job(ctx, run_id)


def get_job(ctx: Context, job_id: int) -> dict[str, Any]:
    with ctx.home.sessions() as session:
        return render_job(_load_job(session, job_id))


def list_jobs(
    ctx: Context, statuses: Iterable[JobStatus], task_type: str | None, skip: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of jobs, newest first, and how many match in all."""
    tagged = select(RunTag.run_id).where(
        RunTag.tag == TASK_TAG + task_type if task_type is not None
        else RunTag.tag.startswith(TASK_TAG, autoescape=True)
    )
    where = [Run.id.in_(tagged)]
    wanted = set(statuses)
    if wanted:
        where.append(Run.status.in_([s.value for s, j in JOB_STATUS.items() if j in wanted]))
    with ctx.home.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Run).where(*where)) or 0
        page = session.scalars(
            select(Run).where(*where).options(*JOB_LOADS).order_by(Run.id.desc()).offset(skip).limit(limit)
        )
        return [render_job(run) for run in page], total


async def delete_job(ctx: Context, job_id: int) -> dict[str, Any]:
    """Delete a job: an unfinished one is cancelled first (its process stopped within the
    kill grace), then the run goes with its metrics, events and files. Answers the job as
    it was last, with ``deleted: true``."""
    job = get_job(ctx, job_id)
    if job["run_status"] not in FINISHED:
        with ctx.bus.subscribe(job_id) as sub:
            await runs.cancel(ctx, job_id)
            try:
                async with asyncio.timeout(ctx.home.settings.kill_grace_s + 2.0):
                    while not _is_finish(await sub.queue.get()):
                        pass
            except TimeoutError:
                pass
        job = get_job(ctx, job_id)
        if job["run_status"] not in FINISHED:
            raise Conflict(f"training job {job_id} is still stopping: delete it again in a moment")
    await runs.delete(ctx, job_id)
    return {**job, "deleted": True}


JOB_LOADS = [selectinload(Run.tags), selectinload(Run.metric_keys)]


def _load_job(session: Session, job_id: int) -> Run:
    run = session.get(Run, job_id, options=JOB_LOADS)
    if run is None:
        raise NotFound(f"training job {job_id} not found")
    if task_type_of(run) is None:
        raise NotFound(f"training job {job_id} not found: run {job_id} is not a training job (no task_type tag)")
    return run


def task_type_of(run: Run) -> str | None:
    types = sorted(t.tag.removeprefix(TASK_TAG) for t in run.tags if t.tag.startswith(TASK_TAG))
    return types[0] if types else None


def render_job(run: Run) -> dict[str, Any]:
    """A run as the job API shows it."""
    status = JOB_STATUS[RunStatus(run.status)]
    progress = run.progress or {}
    epoch, total = progress.get("epoch"), progress.get("total_epochs")
    return {
        "id": run.id,
        "name": run.name,
        "task_type": task_type_of(run),
        "status": status.value,
        "paused": run.status == S.PAUSED.value,
        "progress": _fraction(status, epoch, total),
        "current_epoch": epoch,
        "total_epochs": total,
        "metrics": {k.key: number(k.last) for k in run.metric_keys},
        "final_metrics": final_metrics(run),
        "config": _config_of(run.spec),
        "error_message": error_message(run),
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "completed_at": iso(run.finished_at),
        "model_id": None,
        "run_url": f"/api/v1/runs/{run.id}",
        "run_status": run.status,
        "attempt": run.attempts_count or None,
    }


def final_metrics(run: Run) -> dict[str, Any] | None:
    return None if run.final is None else {k: run.final.get(k) for k in FINAL_KEYS}


def error_message(run: Run) -> str | None:
    """What went wrong, in a few words: ``exit code 1 (oom)``; None unless the job failed."""
    if JOB_STATUS[RunStatus(run.status)] is not J.FAILED:
        return None
    if run.signal is not None:
        what = f"killed by signal {run.signal}"
    elif run.exit_code is not None:
        what = f"exit code {run.exit_code}"
    else:
        what = run.status
    if run.reason and run.reason not in ("exit_code", "signal", what):
        what += f" ({run.reason})"
    return what


def _fraction(status: JobStatus, epoch: Any, total: Any) -> float | None:
    if status is J.COMPLETED:
        return 1.0
    if not (isinstance(epoch, int) and isinstance(total, int) and total > 0):
        return None
    return round(min(1.0, max(0.0, epoch / total)), 4)


def _config_of(spec: dict[str, Any]) -> Any:
    try:
        return json.loads(spec.get("env", {})[CONFIG_ENV])
    except (KeyError, TypeError, ValueError):  # a run tagged by hand, with no config
        return None


def _is_finish(message: Mapping[str, Any]) -> bool:
    return message.get("kind") == "status" and message["data"].get("to") in {s.value for s in FINISHED}


# ---- the live stream -------------------------------------------------------------------
def find_job_id(text: str) -> int:
    """The job id of a WebSocket path, or NotFound (a WebSocket has no 422 to answer with)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and 1 <= int(text) <= 2**62):
        raise NotFound(f"training job {text[:40]!r} not found")
    return int(text)


@dataclass
class _Epoch:
    first_x: float  # x of the epoch's first report: later points up to the next epoch's belong to it
    metrics: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    # Closed by a later epoch's report whose points are at this x: the epoch is announced
    # once the points up to there were seen (they come in throttled ``metrics`` messages,
    # which may follow the report's event), so that it carries its last values.
    wait_for_x: float | None = None


@dataclass
class EpochTracker:
    """Decides from a run's ``report`` and ``metrics`` messages when an epoch is complete:
    when a later epoch is reported, or a report of that epoch has evaluation metrics or
    says ``completed``. Each epoch is announced once, in order, with its latest values."""

    attempt: int | None
    sent: int = 0
    total: int | None = None
    open: dict[int, _Epoch] = field(default_factory=dict)
    seen_x: float = float("-inf")  # the highest x of the points seen

    @classmethod
    def from_job(cls, job: dict[str, Any]) -> EpochTracker:
        """Start mid-run: the current epoch is open, seeded with the latest values."""
        tracker = cls(job["attempt"], total=job["total_epochs"])
        epoch = job["current_epoch"]
        if isinstance(epoch, int) and epoch >= 1:
            tracker.sent = epoch - 1
            tracker.open[epoch] = _Epoch(float("-inf"), dict(job["metrics"]))
        return tracker

    def on_report(self, data: dict[str, Any]) -> None:
        epoch = data.get("epoch")
        if not isinstance(epoch, int) or epoch <= self.sent:
            return
        self.total = data.get("total_epochs") or self.total
        entry = self.open.setdefault(epoch, _Epoch(float(data.get("x") or 0)))
        entry.metrics.update(data.get("metrics") or {})
        entry.done = entry.done or bool(data.get("has_eval")) or data.get("status") == "completed"
        for earlier, other in self.open.items():
            if earlier < epoch and not other.done:
                other.done = True
                if data.get("metrics"):
                    other.wait_for_x = entry.first_x

    def on_points(self, points: list[list[Any]]) -> None:
        starts = sorted((e.first_x, n) for n, e in self.open.items())
        for key, x, value in points:
            self.seen_x = max(self.seen_x, x)
            owner = None
            for first_x, n in starts:
                if first_x <= x:
                    owner = n
            if owner is not None:
                self.open[owner].metrics[key] = value

    def complete(self, job_id: int, everything: bool = False, ended: bool = False) -> list[dict[str, Any]]:
        """The ``epoch_complete`` messages now due; ``everything``: the run completed, so
        its last epoch is done too; ``ended``: the run ended, no more points will come."""
        out = []
        for n in sorted(self.open):
            entry = self.open[n]
            waiting = not ended and entry.wait_for_x is not None and self.seen_x < entry.wait_for_x
            if not everything and (not entry.done or waiting):
                break
            del self.open[n]
            self.sent = n
            out.append({"type": "epoch_complete", "job_id": job_id, "epoch": n, "total_epochs": self.total,
                        "metrics": entry.metrics})
        return out


def _status_change(job: dict[str, Any], previous: str | None, when: float) -> dict[str, Any]:
    return {"type": "status_change", "job_id": job["id"], "status": job["status"], "previous_status": previous,
            "paused": job["paused"], "timestamp": iso(when)}


def _training_complete(job: dict[str, Any]) -> dict[str, Any]:
    return {"type": "training_complete", "job_id": job["id"], "status": job["status"],
            "final_metrics": job["final_metrics"], "error_message": job["error_message"]}


class JobFollower:
    """Turns one job's bus messages into the WebSocket's messages."""

    def __init__(self, ctx: Context, job_id: int) -> None:
        self.ctx = ctx
        self.job_id = job_id
        self.job: dict[str, Any] = {}
        self.shown: tuple[str, bool] | None = None  # the job status and pause last sent
        self.finished = False
        self.tracker = EpochTracker(None)

    def state(self) -> list[dict[str, Any]]:
        """The job as it is now (on connect, and after the bus dropped messages)."""
        self.job = get_job(self.ctx, self.job_id)
        self.tracker = EpochTracker.from_job(self.job)
        out = [_status_change(self.job, self.shown[0] if self.shown else None, time.time())]
        self.shown = (self.job["status"], self.job["paused"])
        if self.job["run_status"] in FINISHED:
            out.append(_training_complete(self.job))
            self.finished = True
        return out

    def handle(self, batch: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in batch:
            kind, data, attempt = message.get("kind"), message.get("data") or {}, message.get("attempt")
            if kind in ("report", "metrics"):
                if attempt is None or (self.tracker.attempt is not None and attempt < self.tracker.attempt):
                    continue  # not of the attempt being followed
                if attempt != self.tracker.attempt:
                    self.tracker = EpochTracker(attempt)  # a new attempt counts its epochs from 1 again
                if kind == "report":
                    self.tracker.on_report(data)
                else:
                    self.tracker.on_points(data.get("points") or [])
            elif kind == "status" and data.get("to") in RUN_STATUSES:
                out += self._on_status(RunStatus(data["to"]), message.get("time") or time.time())
                if self.finished:
                    return out
        return out + self.tracker.complete(self.job_id)

    def _on_status(self, to: RunStatus, when: float) -> list[dict[str, Any]]:
        out = self.tracker.complete(self.job_id, everything=to is S.COMPLETED, ended=to.is_finished)
        now = (JOB_STATUS[to].value, to is S.PAUSED)
        if now != self.shown:
            previous = self.shown[0] if self.shown else None
            out.append(_status_change({**self.job, "status": now[0], "paused": now[1]}, previous, when))
            self.shown = now
        if to in FINISHED:
            self.job = get_job(self.ctx, self.job_id)  # final results are stored before the status
            out.append(_training_complete(self.job))
            self.finished = True
        return out


RUN_STATUSES = frozenset(s.value for s in RunStatus)


async def follow_job(ctx: Context, job_id: int) -> AsyncGenerator[dict[str, Any], None]:
    """The messages of one job's WebSocket: its state now, then status changes, completed
    epochs, and ``training_complete`` when it ends (then the iterator ends).

    Subscribed before the state is read, so nothing falls between; messages already
    reflected in that state change nothing. When the bus dropped messages for a slow
    client, the state is read and sent again.
    """
    with ctx.bus.subscribe(job_id) as sub:
        follower = JobFollower(ctx, job_id)
        for out in follower.state():  # NotFound before anything is sent
            yield out
        while not follower.finished:
            batch = [await sub.queue.get()]
            while not sub.queue.empty():  # one ingestion step's messages are published together
                batch.append(sub.queue.get_nowait())
            if sub.missed:
                sub.missed = 0
                messages = follower.state()
            else:
                messages = follower.handle(batch)
            for out in messages:
                yield out
