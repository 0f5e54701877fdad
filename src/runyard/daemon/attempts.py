"""The life of an attempt: start it on its GPUs, finish it from how it ended, retry it.

Crash safety rests on the order of writes: the attempt row (with its swap journal) is
committed before any file is touched or any process started, and everything is read back
from ``exit.json`` and the journal when the daemon starts again (``daemon/recovery.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import mmap
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, select

from runyard.context import Context, Home
from runyard.domain.spec import RunSpec
from runyard.domain.status import Reason, RunStatus, retry_backoff_s, should_retry
from runyard.executors.base import Executor, ExitInfo, ProcessHandle
from runyard.executors.swap import SwapRecord, apply_swap, plan_swap, restore_swap
from runyard.ingest.outputs import write_file_atomic
from runyard.protocol.oom import OOM_PATTERN
from runyard.service.work import Work
from runyard.store.tables import Attempt, Run, SwapJournal

log = logging.getLogger(__name__)


@dataclass
class LiveAttempt:
    """What the supervisor keeps in memory about an attempt whose process exists."""

    attempt_id: int
    run_id: int
    number: int
    gpus: tuple[int, ...]
    gpu_mem_mib: int | None
    deadline: float | None
    locks: tuple[str, ...]
    handle: ProcessHandle | None = None
    stopping: str | None = None  # cancelled | timeout


def attempt_env(home: Home, run: Run, spec: RunSpec, number: int, gpus: tuple[int, ...], extra: dict[str, str]) -> dict[str, str]:
    """The environment of PROTOCOL.md §9, on top of the submitter's environment."""
    env = dict(spec.base_env) if spec.base_env is not None else dict(os.environ)
    env.update(spec.env)
    env.update(extra)
    env.update(
        RUNYARD_RUN_ID=str(run.id),
        RUNYARD_ATTEMPT=str(number),
        RUNYARD_RUN_DIR=str(home.run_dir(run.id)),
        CUDA_VISIBLE_DEVICES=",".join(str(g) for g in gpus),
        CUDA_DEVICE_ORDER="PCI_BUS_ID",
        PYTHONUNBUFFERED="1",
    )
    return env


def oom_adjustments(spec: RunSpec, oom_count: int) -> tuple[dict[str, str], int | None]:
    """After ``oom_count`` OOM failures: the halved batch size and the grown memory claim."""
    env: dict[str, str] = {}
    mem = spec.gpu_mem_mib
    if oom_count and spec.oom.batch_env:
        source = spec.env.get(spec.oom.batch_env) or (spec.base_env or os.environ).get(spec.oom.batch_env)
        if source and source.strip().isdigit():
            env[spec.oom.batch_env] = str(max(1, int(source) >> oom_count))
    if oom_count and mem is not None and spec.oom.grow_mem:
        mem = int(min(mem * spec.oom.grow_mem**oom_count, 2**40))
    return env, mem


def swap_locks(spec: RunSpec) -> tuple[str, ...]:
    """The swap targets a run holds while it runs: two runs never see each other's swap."""
    workdir = Path(spec.workdir)
    return tuple(plan_swap(workdir, s.source, s.target, workdir, i).target for i, s in enumerate(spec.swaps))


def start_attempt(ctx: Context, executor: Executor, run_id: int, gpus: tuple[int, ...]) -> LiveAttempt | None:
    """Start the next attempt of a queued run on ``gpus``; None if it could not start.
    The caller (the scheduler) hands the attempt returned to the supervisor."""
    with Work(ctx) as work:
        run = work.session.get(Run, run_id)
        if run is None or run.status != RunStatus.QUEUED.value:
            return None
        spec = RunSpec.model_validate(run.spec)
        number = run.attempts_count + 1
        attempt_dir = ctx.home.attempt_dir(run_id, number)
        attempt_dir.mkdir(parents=True, exist_ok=True)
        extra_env, mem = oom_adjustments(spec, run.oom_count)
        swaps = [
            plan_swap(Path(spec.workdir), s.source, s.target, attempt_dir / "swap-backup", i)
            for i, s in enumerate(spec.swaps)
        ]
        attempt = Attempt(
            run_id=run_id,
            number=number,
            status=(RunStatus.PREPARING if spec.setup else RunStatus.RUNNING).value,
            gpus=list(gpus),
            gpu_mem_mib=mem,
            env=extra_env or None,
            started_at=work.now,
            deadline=work.now + spec.timeout_s if spec.timeout_s else None,
        )
        work.session.add(attempt)
        for record in swaps:
            work.session.add(SwapJournal(run_id=run_id, attempt=number, target=record.target, source=record.source,
                                         backup=record.backup, existed=record.existed, state="applying"))
        run.attempts_count = number
        run.gpus = list(gpus)
        run.started_at = run.started_at or work.now
        run.not_before = None
        work.transition(run, RunStatus(attempt.status), None, gpus=list(gpus), attempt=number)
        work.session.flush()
        live = LiveAttempt(attempt.id, run_id, number, gpus, mem, attempt.deadline, tuple(r.target for r in swaps))
    # Committed: from here a crash is repaired by recovery (the journal, exit.json).
    try:
        for record in swaps:
            apply_swap(record)
        argv = ["/bin/sh", "-c", spec.command[0]] if spec.shell else list(spec.command)
        env = attempt_env(ctx.home, run, spec, number, gpus, extra_env)
        live.handle = executor.launch(attempt_dir, argv, spec.workdir, env, spec.setup)
    except Exception as error:  # a vanished swap source, a full disk: the attempt fails, the daemon goes on
        log.warning("run %s: attempt %s could not start: %s", run_id, number, error)
        with (attempt_dir / "output.log").open("ab") as out:
            out.write(f"runyard: could not start: {error}\n".encode())
        failed = {"exit_code": 1, "signal": None, "signal_name": None, "phase": "setup",
                  "started_at": None, "finished_at": time.time(), "pid": None}
        write_file_atomic(attempt_dir / "exit.json", lambda f: json.dump(failed, f))
    return live


def record_launches(ctx: Context, started: list[LiveAttempt]) -> None:
    """Store the pids of attempts just launched, in one transaction after all of them
    started (off the launch path; a crash before it is repaired from ``child.pid``)."""
    with Work(ctx) as work:
        for live in started:
            attempt = work.session.get(Attempt, live.attempt_id)
            if attempt is None or live.handle is None:
                continue
            attempt.pid, attempt.pid_created = live.handle.pid, live.handle.create_time
            if live.locks:
                work.session.query(SwapJournal).filter_by(run_id=live.run_id, attempt=live.number).update(
                    {"state": "applied"}
                )


def _scan_for_oom(path: Path) -> bool:
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return OOM_PATTERN.search(data) is not None
    except (OSError, ValueError):  # missing or empty log
        return False


def outcome(info: ExitInfo | None, stopping: str | None, oom_seen: bool) -> tuple[RunStatus, Reason | None]:
    """How an attempt ended, from exit.json and whether runyard itself stopped it."""
    if stopping == "cancelled":
        return RunStatus.CANCELLED, Reason.CANCELLED
    if info is None:
        return RunStatus.LOST, Reason.LOST
    if info.exit_code == 0 and info.phase == "command":
        return RunStatus.COMPLETED, None
    if stopping == "timeout":
        return RunStatus.FAILED, Reason.TIMEOUT
    if oom_seen:
        return RunStatus.FAILED, Reason.OOM
    if info.signal is not None:
        return RunStatus.FAILED, Reason.SIGNAL
    return RunStatus.FAILED, Reason.EXIT_CODE


async def finish_attempt(ctx: Context, executor: Executor, live: LiveAttempt) -> None:
    """Record how an attempt ended, restore its swaps, and retry it if its policy says so
    (the supervisor lets the live attempt go)."""
    attempt_dir = ctx.home.attempt_dir(live.run_id, live.number)
    info = executor.read_exit(attempt_dir)
    oom_seen = False
    if info is None or info.exit_code != 0:
        oom_seen = await asyncio.to_thread(_scan_for_oom, attempt_dir / "output.log")
    if live.locks:
        restore_swaps(ctx, live.run_id, live.number)
    with Work(ctx) as work:
        attempt = work.session.get(Attempt, live.attempt_id)
        run = work.session.get(Run, live.run_id)
        assert attempt is not None and run is not None
        if RunStatus(attempt.status).is_finished:
            return
        stopping = live.stopping or attempt.stop_reason
        status, reason = outcome(info, stopping, oom_seen)
        attempt.status = status.value
        attempt.reason = reason.value if reason else None
        attempt.finished_at = info.finished_at if info else work.now
        if info is not None:
            attempt.exit_code, attempt.signal = info.exit_code, info.signal
        run.exit_code, run.signal = attempt.exit_code, attempt.signal
        details = {"exit_code": attempt.exit_code, "signal": attempt.signal,
                   "signal_name": info.signal_name if info else None, "phase": info.phase if info else None}
        work.emit(run.id, "attempt_ended", {"status": status.value, "reason": attempt.reason, **details}, live.number)
        if reason is Reason.OOM:
            run.oom_count += 1
        spec = RunSpec.model_validate(run.spec)
        if status in (RunStatus.FAILED, RunStatus.LOST) and reason and should_retry(
            spec.retry_on, reason, run.attempts_count - run.retry_base, spec.retries
        ):
            settings = ctx.home.settings
            delay = retry_backoff_s(run.attempts_count - run.retry_base, settings.retry_backoff_s,
                                    settings.retry_backoff_max_s)
            run.not_before = work.now + delay
            work.transition(run, RunStatus.WAITING, reason.value, retry_in_s=delay, **details)
        else:
            work.transition(run, status, reason.value if reason else None, **details)
    ctx.wake_scheduler()


def restore_swaps(ctx: Context, run_id: int, number: int) -> None:
    """Put back every file an attempt swapped, at its end; safe to repeat."""
    restore_journaled_swaps(ctx, SwapJournal.run_id == run_id, SwapJournal.attempt == number)


def restore_journaled_swaps(
    ctx: Context,
    *where: ColumnElement[bool],
    skip: Collection[tuple[int, int]] = (),
    after_crash: bool = False,
) -> None:
    """Put back every journaled swap matching ``where`` that is not restored yet, except
    those of the attempts in ``skip`` (run id, number). The one restore loop, for an
    attempt's end and for start-up alike: each swap ends in ``swap_restored``, or in
    ``swap_restore_failed`` and stays journaled, to be tried again at the next start."""
    extra = {"after_crash": True} if after_crash else {}
    with Work(ctx) as work:
        rows = work.session.scalars(select(SwapJournal).where(SwapJournal.state != "restored", *where)).all()
        for row in rows:
            if (row.run_id, row.attempt) in skip:
                continue
            try:
                restore_swap(SwapRecord(target=row.target, source=row.source, backup=row.backup, existed=row.existed))
            except OSError as error:
                log.error("run %s: could not restore %s: %s", row.run_id, row.target, error)
                work.emit(row.run_id, "swap_restore_failed", {"target": row.target, "error": str(error), **extra},
                          row.attempt)
                continue
            row.state = "restored"
            work.emit(row.run_id, "swap_restored", {"target": row.target, **extra}, row.attempt)


def promote_waiting(ctx: Context, ids: Collection[int]) -> bool:
    """Move the waiting runs ``ids`` whose dependencies and backoff allow it to the queue;
    fail the runs whose ``--after`` dependency failed. True when one was queued."""
    promoted = False
    with Work(ctx) as work:
        waiting = list(work.session.scalars(
            select(Run).where(Run.id.in_(ids), Run.status == RunStatus.WAITING.value)))
        if not waiting:
            return False
        dep_ids = {d.depends_on for run in waiting for d in run.deps}
        statuses = dict(work.session.query(Run.id, Run.status).filter(Run.id.in_(dep_ids))) if dep_ids else {}
        for run in waiting:
            blocked = False
            for dep in run.deps:
                dep_status = statuses.get(dep.depends_on)
                if dep_status is None or not RunStatus(dep_status).is_finished:
                    blocked = True
                elif dep.kind == "after" and dep_status != RunStatus.COMPLETED.value:
                    work.transition(run, RunStatus.FAILED, Reason.DEPENDENCY.value, dependency=dep.depends_on,
                                    dependency_status=dep_status)
                    break
            if run.status != RunStatus.WAITING.value or blocked:
                continue
            if run.not_before is not None and run.not_before > work.now:
                continue
            work.transition(run, RunStatus.QUEUED, None)
            promoted = True
    return promoted


def waiting_reason(run: Run, statuses: dict[int, str], now: float) -> str | None:
    """Why a waiting run is not queued yet (dependencies, retry backoff), in one sentence."""
    pending = [f"#{d.depends_on} ({statuses.get(d.depends_on, 'missing')})" for d in run.deps
               if not RunStatus(statuses.get(d.depends_on, "lost")).is_finished]
    if pending:
        return "waiting for " + ", ".join(pending) + " to end"
    if run.not_before is not None and run.not_before > now:
        return f"retry backoff: starts again in {run.not_before - now:.0f}s"
    return None

