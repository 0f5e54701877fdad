"""What users do to runs: submit, show, cancel, retry, pause, resume (the list: listing.py).

Each function validates, changes the store through one :class:`Work`, wakes the
scheduler when the queue changed, and returns the run as the API shows it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from runyard.bus import new_message
from runyard.domain.spec import RunSpec
from runyard.domain.status import FINISHED, LIVE, PENDING, RunStatus
from runyard.errors import Conflict, InvalidSpec, RunNotFound
from runyard.executors.swap import plan_swap
from runyard.scheduler.planner import order_key
from runyard.service.work import Work
from runyard.store.render import display_command, render_run
from runyard.store.tables import Run, RunDep, RunTag

if TYPE_CHECKING:
    from runyard.context import Context


RUN_LOADS = [selectinload(getattr(Run, name)) for name in ("attempts", "tags", "deps", "metric_keys", "warnings")]


def load_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id, options=RUN_LOADS)
    if run is None:
        raise RunNotFound(run_id)
    return run


def validate_spec(ctx: Context, spec: RunSpec) -> RunSpec:
    """Refuse at submit what could never run here, with one line saying how to fix it."""
    workdir = Path(spec.workdir)
    if not workdir.is_absolute():
        raise InvalidSpec(f"workdir {_shown(spec.workdir)!r} must be an absolute path", "workdir")
    if not _probe(workdir.is_dir, "workdir", spec.workdir):
        raise InvalidSpec(f"workdir {_shown(spec.workdir)} does not exist or is not a directory", "workdir")
    for index, swap in enumerate(spec.swaps):
        if not Path(swap.source).is_absolute():
            raise InvalidSpec(f"swap source {_shown(swap.source)!r} must be an absolute path", "swaps")
        if not _probe(Path(swap.source).exists, "swaps", swap.source):
            raise InvalidSpec(f"swap source {_shown(swap.source)} does not exist", "swaps")
        plan_swap(workdir, swap.source, swap.target, Path("/nonexistent"), index)  # target inside workdir
    for pattern in spec.metric_patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise InvalidSpec(f"metric pattern {pattern!r} is not a valid regular expression: {error}", "metric_patterns") from None
    return _fit_gpus(ctx, spec)


def _shown(path: str, limit: int = 120) -> str:
    return path if len(path) <= limit else path[:limit] + "…"


def _probe(check: Callable[[], bool], field: str, path: str) -> bool:
    """A look at the file system for a path the client gave: one it refuses (a name too long,
    no permission, a symlink loop) is the client's error, not the daemon's."""
    try:
        return check()
    except OSError as error:
        raise InvalidSpec(f"{field} {_shown(path)!r} cannot be used: {error.strerror or error}", field) from None


def _fit_gpus(ctx: Context, spec: RunSpec) -> RunSpec:
    gpus = ctx.gpu_indices()
    total = len(gpus)
    if spec.gpus_min is None:
        count = 1 if total else 0
        spec = spec.model_copy(update={"gpus_min": count, "gpus_max": count})
    assert spec.gpus_min is not None and spec.gpus_max is not None
    if spec.gpus_min > total:
        have = f"this machine has {total} GPU{'s' if total != 1 else ''} runyard may use" if total else (
            "this machine has no GPU runyard may use (--gpus 0 runs on the CPU)"
        )
        raise InvalidSpec(f"the run asks for {spec.gpus_min} GPUs; {have}", "gpus")
    if spec.gpu_ids is not None:
        unknown = sorted(set(spec.gpu_ids) - set(gpus))
        if unknown:
            raise InvalidSpec(f"GPU {unknown[0]} does not exist here: GPUs are {sorted(gpus) or 'none'}", "gpu_ids")
    if spec.gpu_mem_mib is not None and spec.gpus_max > 0:
        biggest = max(ctx.gpu_memory().values(), default=0)
        if spec.gpu_mem_mib > biggest:
            raise InvalidSpec(f"the run asks for {spec.gpu_mem_mib} MiB per GPU; the largest GPU has {biggest} MiB", "gpu_mem")
    return spec


def submit(ctx: Context, spec: RunSpec) -> dict[str, Any]:
    return submit_many(ctx, [spec])[0]


def submit_many(ctx: Context, specs: list[RunSpec]) -> list[dict[str, Any]]:
    """Submit runs all together or not at all: every spec is checked before any is stored,
    and the error names the spec (``runs.3.workdir``) when there is more than one."""
    checked = []
    for index, spec in enumerate(specs):
        try:
            checked.append(validate_spec(ctx, spec))
        except InvalidSpec as error:
            if len(specs) == 1:
                raise
            field = f"runs.{index}" + (f".{error.field}" if error.field else "")
            raise InvalidSpec(f"runs[{index}]: {error}", field) from None
    with Work(ctx) as work:
        run_ids = [_insert(ctx, work, spec) for spec in checked]
    ctx.schedule_now()  # start them before answering: submit → start is the latency users feel
    return render_runs(ctx, run_ids)


def render_runs(ctx: Context, run_ids: list[int]) -> list[dict[str, Any]]:
    """These runs as the API shows them, in this order, read in a few queries (not one per run)."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(run_ids), 500):
        with ctx.home.sessions() as session:
            runs = list(session.scalars(select(Run).options(*RUN_LOADS).where(Run.id.in_(run_ids[start:start + 500]))))
            reasons = ctx.waiting_reasons(session, [r for r in runs if r.status in PENDING])
            found.update((r.id, render_run(r, reasons.get(r.id))) for r in runs)
    return [found[i] for i in run_ids if i in found]


def _insert(ctx: Context, work: Work, spec: RunSpec) -> int:
    for dep in {*spec.after, *spec.after_any}:
        if work.session.get(Run, dep) is None:
            raise InvalidSpec(f"--after {dep}: run {dep} not found", "after")
    status = RunStatus.WAITING if spec.after or spec.after_any else RunStatus.QUEUED
    run = Run(
        name=spec.name,
        sweep=spec.sweep,
        command_text=display_command({"command": spec.command, "shell": spec.shell}),
        status=status.value,
        spec=spec.model_dump(mode="json"),
        priority=spec.priority,
        order_key=order_key(spec.priority, work.now, ctx.home.settings.priority_ageing_s),
        created_at=work.now,
        tags=[RunTag(tag=t) for t in dict.fromkeys(spec.tags)],
        deps=[RunDep(depends_on=d, kind="after") for d in dict.fromkeys(spec.after)]
        + [RunDep(depends_on=d, kind="after_any") for d in dict.fromkeys(spec.after_any) if d not in spec.after],
    )
    work.session.add(run)
    work.session.flush()
    work.emit(run.id, "submitted", {"status": status.value})
    run_dir = ctx.home.run_dir(run.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.json").write_text(spec.model_dump_json(indent=2, exclude={"base_env"}))
    return run.id


def get_run(ctx: Context, run_id: int) -> dict[str, Any]:
    with ctx.home.sessions() as session:
        run = load_run(session, run_id)
        reasons = ctx.waiting_reasons(session, [run]) if run.status in PENDING else {}
        return render_run(run, reasons.get(run.id))


async def cancel(ctx: Context, run_id: int) -> dict[str, Any]:
    """Cancel a run in any unfinished status; a live attempt's whole process group is stopped."""
    with Work(ctx) as work:
        run = load_run(work.session, run_id)
        status = RunStatus(run.status)
        if status in FINISHED:
            raise Conflict(f"run {run_id} is already {status.value}: nothing to cancel")
        if status in LIVE:
            attempt = run.attempts[-1]
            attempt.stop_reason = "cancelled"
            work.emit(run.id, "cancel_requested", {}, attempt=attempt.number)
        else:
            work.transition(run, RunStatus.CANCELLED, "cancelled")
            run.not_before = None
    if status in LIVE:
        ctx.stop_attempt(run_id, "cancelled")
    ctx.wake_scheduler()
    return get_run(ctx, run_id)


def retry(ctx: Context, run_id: int) -> dict[str, Any]:
    """Queue a finished run again: its next attempt gets a log of its own."""
    with Work(ctx) as work:
        run = load_run(work.session, run_id)
        if RunStatus(run.status) not in FINISHED:
            raise Conflict(f"run {run_id} is {run.status}: only a finished run can be retried")
        work.transition(run, RunStatus.QUEUED, None, manual=True)
        run.retry_base = run.attempts_count
        run.exit_code = run.signal = None
        run.finished_at = None
        run.order_key = order_key(run.priority, work.now, ctx.home.settings.priority_ageing_s)
    ctx.wake_scheduler()
    return get_run(ctx, run_id)


def pause(ctx: Context, run_id: int) -> dict[str, Any]:
    with Work(ctx) as work:
        run = load_run(work.session, run_id)
        if run.status not in ("running", "preparing"):
            raise Conflict(f"run {run_id} is {run.status}: only a running run can be paused")
        work.transition(run, RunStatus.PAUSED, None)
        run.attempts[-1].status = RunStatus.PAUSED.value
        ctx.signal_attempt(run_id, signal.SIGSTOP)
    return get_run(ctx, run_id)


def resume(ctx: Context, run_id: int) -> dict[str, Any]:
    with Work(ctx) as work:
        run = load_run(work.session, run_id)
        if run.status != "paused":
            raise Conflict(f"run {run_id} is {run.status}: only a paused run can be resumed")
        attempt = run.attempts[-1]
        phase = ctx.attempt_phase(run_id, attempt.number)
        new = RunStatus.PREPARING if phase == "preparing" else RunStatus.RUNNING
        work.transition(run, new, None)
        attempt.status = new.value
        ctx.signal_attempt(run_id, signal.SIGCONT)
    return get_run(ctx, run_id)


async def delete(ctx: Context, run_id: int) -> dict[str, Any]:
    """Forget a finished run: its rows (metrics, events, attempts) and its folder."""
    await asyncio.to_thread(_delete, ctx, run_id)
    ctx.bus.publish(new_message(run_id, "deleted", {}))
    return {"id": run_id, "deleted": True}


def _delete(ctx: Context, run_id: int) -> None:
    with Work(ctx) as work:
        run = load_run(work.session, run_id)
        if RunStatus(run.status) not in FINISHED:
            raise Conflict(f"run {run_id} is {run.status}: cancel it first, only a finished run can be deleted")
        waiting = work.session.scalars(
            select(RunDep.run_id).join(Run, Run.id == RunDep.run_id)
            .where(RunDep.depends_on == run_id, Run.status.in_(["waiting", "queued"]))
        ).first()
        if waiting is not None:
            raise Conflict(f"run {waiting} waits for run {run_id}: cancel or delete it first")
        work.session.execute(sa_delete(Run).where(Run.id == run_id))  # the rest goes by ON DELETE CASCADE
    shutil.rmtree(ctx.home.run_dir(run_id), ignore_errors=True)
