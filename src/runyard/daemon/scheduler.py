"""The scheduler loop: each pass promotes waiting runs whose dependencies and backoff
allow it, plans the queue against the GPUs (``scheduler/planner.py``, pure), starts what
the plan says, and hands each started attempt to the supervisor. A pass runs when woken
(a submit, an attempt's end, a GPU freed) and at least every ``schedule_interval_s``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.context import Context, LiveView
from runyard.daemon.attempts import (
    oom_adjustments,
    promote_waiting,
    record_launches,
    start_attempt,
    swap_locks,
    waiting_reason,
)
from runyard.daemon.monitor import GpuMonitor
from runyard.daemon.supervisor import Supervisor
from runyard.domain.spec import RunSpec
from runyard.domain.status import PENDING_NAMES, RunStatus
from runyard.scheduler.planner import Claim, ClusterState, Pending, explain, plan
from runyard.store.tables import Run

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, ctx: Context, supervisor: Supervisor, monitor: GpuMonitor,
                 view: Callable[[], LiveView], planned: Callable[[list[Pending]], None]) -> None:
        """``view`` gives the daemon's last :class:`LiveView` (threads read the queue from
        it); ``planned(queue)`` is called after each pass with what is still queued."""
        self.ctx = ctx
        self.settings = ctx.home.settings
        self.supervisor = supervisor
        self.monitor = monitor
        self._view = view
        self._planned = planned
        self._wake = asyncio.Event()
        self._pending: dict[int, Pending] = {}

    def wake(self) -> None:
        self._wake.set()

    async def loop(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
            try:
                async with asyncio.timeout(self.settings.schedule_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                self.schedule_once()
            except Exception:
                log.exception("scheduling pass failed; trying again")
                await asyncio.sleep(0.5)

    def schedule_now(self) -> None:
        """A scheduling pass right away, on the caller's turn of the loop (after a submit)."""
        try:
            self.schedule_once()
        except Exception:
            log.exception("scheduling pass failed; the loop will try again")
            self.wake()

    def schedule_once(self) -> None:
        pending = self._pending_ids()
        waiting = [run_id for run_id, status in pending if status == RunStatus.WAITING.value]
        if waiting and promote_waiting(self.ctx, waiting):
            pending = self._pending_ids()
        queue = self.queued({run_id for run_id, status in pending if status == RunStatus.QUEUED.value})
        if queue and not self.settings.hold:
            started = []
            for assignment in plan(queue, self.cluster_state()):
                live = start_attempt(self.ctx, self.supervisor.executor, assignment.run_id, assignment.gpus)
                self._pending.pop(assignment.run_id, None)
                if live is not None:
                    self.supervisor.adopt(live)
                    started.append(live)
            if started:
                record_launches(self.ctx, started)
                queue = [p for p in queue if p.run_id in self._pending]
        self._planned(queue)

    def _pending_ids(self) -> list[tuple[int, str]]:
        """Every queued or waiting run, with its status: one read per scheduling pass."""
        with self.ctx.home.sessions() as session:
            rows = session.execute(select(Run.id, Run.status).where(Run.status.in_(PENDING_NAMES)))
            return [(run_id, status) for run_id, status in rows]

    def queued(self, ids: set[int]) -> list[Pending]:
        """The queue (the runs ``ids``) as the planner sees it; each run's spec is read
        once, then cached."""
        for run_id in set(self._pending) - ids:
            del self._pending[run_id]
        missing = ids - set(self._pending)
        if missing:
            with self.ctx.home.sessions() as session:
                for run in session.scalars(select(Run).where(Run.id.in_(missing))):
                    self._pending[run.id] = _to_pending(run)
        return sorted(self._pending.values(), key=lambda p: (p.order_key, p.run_id))

    def cluster_state(self) -> ClusterState:
        live = self.supervisor.live.values()
        claims = tuple(
            Claim(run_id=a.run_id, gpu_index=g, mem_mib=a.gpu_mem_mib, deadline=a.deadline)
            for a in live
            for g in a.gpus
        )
        return ClusterState(
            gpus=self.monitor.gpu_view,
            claims=claims,
            held_locks=frozenset(lock for a in live for lock in a.locks),
            cpu_slots=self.settings.cpu_slots,
            cpu_running=sum(1 for a in live if not a.gpus),
            now=time.time(),
        )

    def waiting_reasons(self, session: Session, runs: list[Run]) -> dict[int, str]:
        """Why each of these queued or waiting runs has not started (threads call this too)."""
        reasons: dict[int, str] = {}
        if self.settings.hold:
            reasons.update({r.id: "the daemon holds the queue (serve --hold)" for r in runs if r.status == "queued"})
        elif any(r.status == "queued" for r in runs):
            view = self._view()  # the loop's last view, not its dicts
            wanted = {r.id for r in runs}
            explained = explain(view.queue, replace(view.cluster, now=time.time()))
            reasons.update({k: v for k, v in explained.items() if k in wanted})
        waiting = [r for r in runs if r.status == "waiting"]
        if waiting:
            dep_ids = {d.depends_on for r in waiting for d in r.deps}
            statuses = {i: s for i, s in session.execute(select(Run.id, Run.status).where(Run.id.in_(dep_ids)))}
            now = time.time()
            for run in waiting:
                reason = waiting_reason(run, statuses, now)
                if reason:
                    reasons[run.id] = reason
        return reasons


def _to_pending(run: Run) -> Pending:
    spec = RunSpec.model_validate(run.spec)
    _, mem = oom_adjustments(spec, run.oom_count)
    return Pending(
        run_id=run.id,
        order_key=run.order_key,
        gpus_min=spec.gpus_min or 0,
        gpus_max=spec.gpus_max or 0,
        gpu_mem_mib=mem,
        gpu_ids=tuple(spec.gpu_ids) if spec.gpu_ids is not None else None,
        timeout_s=spec.timeout_s,
        locks=swap_locks(spec),
    )
