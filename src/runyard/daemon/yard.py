"""The running daemon's state and its loops: the scheduler, the GPU monitor, and one
watcher per live attempt. Built per process (``Yard(settings)``), never global."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import psutil
from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.bus import EventBus
from runyard.context import Home, LiveView
from runyard.daemon.attempts import (
    LiveAttempt,
    finish_attempt,
    oom_adjustments,
    promote_waiting,
    record_launches,
    start_attempt,
    swap_locks,
    waiting_reason,
)
from runyard.domain.spec import RunSpec
from runyard.domain.status import RunStatus
from runyard.executors.base import Executor
from runyard.executors.local import LocalExecutor
from runyard.gpus.inventory import GpuReading, Inventory, gpu_states, open_inventory
from runyard.ingest.artifacts import write_run_outputs
from runyard.ingest.chunks import die_with_parent
from runyard.ingest.eventlog import append_events
from runyard.ingest.follower import Follower
from runyard.scheduler.planner import Claim, ClusterState, GpuState, Pending, explain, plan
from runyard.service.gpus import describe_gpus
from runyard.service.work import Work
from runyard.settings import Settings
from runyard.store.db import open_database
from runyard.store.tables import Attempt, Run

log = logging.getLogger(__name__)
T = TypeVar("T")
HISTORY = 300  # GPU readings kept for the GPUs page, one per poll


class Yard:
    def __init__(self, settings: Settings, inventory: Inventory | None = None) -> None:
        self.settings = settings
        settings.runs_dir.mkdir(parents=True, exist_ok=True)
        self.engine, self.sessions = open_database(settings.db_url)
        self.home = Home(settings, self.sessions)
        self.executor: Executor = LocalExecutor()
        self.inventory = inventory or open_inventory(settings)
        self.bus = EventBus(settings.stream_buffer)
        self.live: dict[int, LiveAttempt] = {}
        self.readings: list[GpuReading] = []
        self.gpu_view: tuple[GpuState, ...] = ()
        self._threads = ThreadPoolExecutor(thread_name_prefix="runyard-step")
        self.view = LiveView()
        self.started_at = time.time()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[int, Pending] = {}
        self.on_shutdown: list[Any] = []
        self._parse_pool: ProcessPoolExecutor | None = None
        self._parse_pool_ok = True

    # ---- paths and facts -------------------------------------------------------------
    def run_dir(self, run_id: int) -> Path:
        return self.home.run_dir(run_id)

    def attempt_dir(self, run_id: int, number: int) -> Path:
        return self.home.attempt_dir(run_id, number)

    def gpu_indices(self) -> list[int]:
        return [g.index for g in self.readings]

    def gpu_memory(self) -> dict[int, int]:
        return {g.index: g.memory_mib for g in self.readings}

    def live_for_run(self, run_id: int) -> LiveAttempt | None:
        return next((a for a in self.live.values() if a.run_id == run_id), None)

    def attempt_phase(self, run_id: int, number: int) -> str | None:
        return self.executor.read_phase(self.attempt_dir(run_id, number))

    # ---- life of the daemon ----------------------------------------------------------
    def request_shutdown(self) -> None:
        for callback in self.on_shutdown:
            callback()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.read_gpus()
        from runyard.daemon.recovery import recover

        await recover(self)
        self.refresh_view()
        self._spawn(self._scheduler_loop())
        self._spawn(self._monitor_loop())
        self._spawn(self._tick_loop())
        self.wake_scheduler()

    async def stop(self) -> None:
        """Stop the loops and watchers; attempts go on and are re-attached at the next start."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Steps in flight finish (a cancelled await does not stop its thread), those not yet
        # begun never begin; a step stuck past 10 s is left to end with the process.
        ended = asyncio.to_thread(self._threads.shutdown, wait=True, cancel_futures=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended, 10)
        if self._parse_pool is not None:
            self._parse_pool.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``asyncio.to_thread`` on the yard's own threads, so that :meth:`stop` can wait for
        the steps in flight before it closes the database. One cancelled before its thread
        took it up never runs."""
        step = self._threads.submit(contextvars.copy_context().run, fn, *args)
        return await asyncio.wrap_future(step)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def wake_scheduler(self) -> None:
        self._wake.set()

    def parse_pool(self) -> ProcessPoolExecutor | None:
        """The process that parses big chunks of output beside the storing thread (started
        on first use: a daemon that never sees a chatty run never starts it)."""
        if not self._parse_pool_ok:
            return None
        if self._parse_pool is None:
            self._parse_pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent, initargs=(os.getpid(),),
            )
        return self._parse_pool

    def parse_pool_broken(self) -> None:
        log.error("the parse process died: big chunks of output are parsed in the daemon from now on")
        self._parse_pool_ok = False

    def publish(self, messages: list[dict[str, Any]]) -> None:
        """Announce committed events: to events.jsonl and to live subscribers."""
        append_events(self.run_dir, messages)
        for message in messages:
            self.bus.publish(message)

    def publish_threadsafe(self, messages: list[dict[str, Any]]) -> None:
        """:meth:`publish` from a worker thread (ingestion): the bus lives on the loop."""
        if not messages:
            return
        append_events(self.run_dir, messages)
        self._loop.call_soon_threadsafe(self._publish_all, messages)

    def broadcast_threadsafe(self, messages: list[dict[str, Any]]) -> None:
        """Live-only messages (log text) from a worker thread: to subscribers, not to events."""
        self._loop.call_soon_threadsafe(self._publish_all, messages)

    def _publish_all(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.bus.publish(message)

    # ---- attempts --------------------------------------------------------------------
    def watch(self, live: LiveAttempt) -> None:
        self._spawn(self._watch(live))

    async def _watch(self, live: LiveAttempt) -> None:
        """Follow an attempt's output while it runs; when it ends, ingest the rest, then
        finish it (so a finished run's metrics are complete)."""
        try:
            follower = Follower(self, live)
            ended = asyncio.Event()
            following = self._spawn(follower.follow(ended))
            if live.handle is not None:
                await self.executor.wait(live.handle)
                # Whatever the command left behind in its group must not hold the GPUs on.
                if self.executor.leftovers(live.handle):
                    await self.executor.terminate(live.handle, self.settings.kill_grace_s)
            ended.set()
            await following
            info = self.executor.read_exit(self.attempt_dir(live.run_id, live.number))
            await follower.drain(info.exit_code if info else None, info is None or info.signal is not None)
            await finish_attempt(self, live)
            self.refresh_view()
            self._spawn(self.in_thread(write_run_outputs, self, live.run_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("run %s: could not finish attempt %s", live.run_id, live.number)

    def stop_attempt(self, run_id: int, why: str) -> None:
        """Stop a run's live attempt (cancel, timeout): SIGTERM to its group, SIGKILL after the grace."""
        live = self.live_for_run(run_id)
        if live is None or live.handle is None:
            return
        live.stopping = why
        # terminate() sends SIGTERM then SIGCONT (a paused group must run to handle it).
        self._spawn(self.executor.terminate(live.handle, self.settings.kill_grace_s))

    def signal_attempt(self, run_id: int, sig: int) -> None:
        live = self.live_for_run(run_id)
        if live is not None and live.handle is not None:
            self.executor.signal(live.handle, sig)

    # ---- scheduling ------------------------------------------------------------------
    async def _scheduler_loop(self) -> None:
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
            self.wake_scheduler()

    def schedule_once(self) -> None:
        promote_waiting(self)
        queue = self.queued()
        if queue and not self.settings.hold:
            started = []
            for assignment in plan(queue, self.cluster_state()):
                live = start_attempt(self, assignment.run_id, assignment.gpus)
                self._pending.pop(assignment.run_id, None)
                if live is not None:
                    self.watch(live)
                    started.append(live)
            if started:
                record_launches(self, started)
                queue = [p for p in queue if p.run_id in self._pending]
        self.refresh_view(queue)

    def refresh_view(self, queue: list[Pending] | None = None) -> None:
        """Publish a new :class:`~runyard.context.LiveView` (on the loop's thread, after the live attempts,
        the queue or the GPUs changed); ``queue`` is the planner's, if it was just read."""
        self.view = replace(
            self.view,
            queue=self.view.queue if queue is None else tuple(queue),
            cluster=self.cluster_state(),
            readings=tuple(self.readings),
        )

    def queued(self) -> list[Pending]:
        """The queue as the planner sees it; each run's spec is read once, then cached."""
        with self.sessions() as session:
            ids = set(session.scalars(select(Run.id).where(Run.status == "queued")))
            stale = set(self._pending) - ids
            for run_id in stale:
                del self._pending[run_id]
            missing = ids - set(self._pending)
            if missing:
                for run in session.scalars(select(Run).where(Run.id.in_(missing))):
                    self._pending[run.id] = self._to_pending(run)
        return sorted(self._pending.values(), key=lambda p: (p.order_key, p.run_id))

    @staticmethod
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

    def cluster_state(self) -> ClusterState:
        claims = tuple(
            Claim(run_id=a.run_id, gpu_index=g, mem_mib=a.gpu_mem_mib, deadline=a.deadline)
            for a in self.live.values()
            for g in a.gpus
        )
        return ClusterState(
            gpus=self.gpu_view,
            claims=claims,
            held_locks=frozenset(lock for a in self.live.values() for lock in a.locks),
            cpu_slots=self.settings.cpu_slots,
            cpu_running=sum(1 for a in self.live.values() if not a.gpus),
            now=time.time(),
        )

    def waiting_reasons(self, session: Session, runs: list[Run]) -> dict[int, str]:
        """Why each of these queued or waiting runs has not started."""
        reasons: dict[int, str] = {}
        if self.settings.hold:
            reasons.update({r.id: "the daemon holds the queue (serve --hold)" for r in runs if r.status == "queued"})
        elif any(r.status == "queued" for r in runs):
            view = self.view  # threads call this too: read the loop's last view, not its dicts
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

    # ---- GPUs, timeouts and phases ---------------------------------------------------
    def runyard_pids(self) -> dict[int, int]:
        """Every process of runyard's live attempts (shims and all they started) → its run."""
        pids: dict[int, int] = {}
        for live in self.live.values():
            if live.handle is None:
                continue
            pids[live.handle.pid] = live.run_id
            try:
                for child in psutil.Process(live.handle.pid).children(recursive=True):
                    pids[child.pid] = live.run_id
            except psutil.Error:
                pass
        return pids

    def read_gpus(self, readings: list[GpuReading] | None = None) -> bool:
        """Take a reading of the inventory; True when what the planner sees changed."""
        self.readings = self.inventory.read() if readings is None else readings
        claimed = {g: a.gpu_mem_mib or 0 for a in self.live.values() for g in a.gpus}
        own = self.runyard_pids()
        view = tuple(gpu_states(self.readings, set(own), self.settings.external_mem_threshold_mib, claimed))
        changed = view != self.gpu_view
        self.gpu_view = view
        sample = (time.time(), tuple((r.index, r.used_mib, r.utilization) for r in self.readings))
        self.view = replace(self.view, own_pids=own, history=(*self.view.history[1 - HISTORY:], sample))
        self.refresh_view()
        return changed

    async def _monitor_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.gpu_poll_s)
            try:
                # Only the reading (NVML, a file) leaves the loop's thread: self.live is not locked.
                before = self.readings
                if self.read_gpus(await asyncio.to_thread(self.inventory.read)):
                    self.wake_scheduler()
                if self.readings != before and self.bus.subscribers(None):
                    self.bus.publish({"run_id": None, "kind": "gpus", "data": describe_gpus(self), "time": time.time()})
            except Exception:
                log.exception("reading the GPU inventory failed")

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            try:
                self.tick()
            except Exception:
                log.exception("tick failed")

    def tick(self) -> None:
        """Timeouts, and ``preparing → running`` once an attempt's setup command is done."""
        now = time.time()
        for live in list(self.live.values()):
            if live.deadline is not None and live.deadline <= now and live.stopping is None:
                with Work(self) as work:
                    attempt = work.session.get(Attempt, live.attempt_id)
                    if attempt is not None:
                        attempt.stop_reason = "timeout"
                        work.emit(live.run_id, "timeout", {"deadline": live.deadline}, live.number)
                self.stop_attempt(live.run_id, "timeout")
            if live.handle is not None and self.attempt_phase(live.run_id, live.number) == "running":
                self._mark_running(live)

    def _mark_running(self, live: LiveAttempt) -> None:
        with Work(self) as work:
            run = work.session.get(Run, live.run_id)
            attempt = work.session.get(Attempt, live.attempt_id)
            if run is None or attempt is None or run.status != "preparing":
                return
            work.transition(run, RunStatus.RUNNING, None, setup="done")
            attempt.status = "running"

