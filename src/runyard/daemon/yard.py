"""The daemon's core: builds its parts and the :class:`~runyard.context.Context` the
layers below are given, and starts and stops them. Built per process (``Yard(settings)``),
never global.

The parts, each with its own job and module:
    supervisor   the live attempts: watched, followed, finished, timed out (``supervisor.py``)
    scheduler    the queue: promote, plan, start (``scheduler.py``)
    monitor      the GPUs: readings, other users' processes, history (``monitor.py``)
The core itself holds what they share: the home (settings, database, folders), the event
bus and the announcing of events, the worker threads and the parse process, and the
frozen :class:`~runyard.context.LiveView` threads read.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from runyard.bus import EventBus, new_message
from runyard.context import Home, LiveView
from runyard.daemon.attempts import LiveAttempt
from runyard.daemon.monitor import GpuMonitor
from runyard.daemon.scheduler import Scheduler
from runyard.daemon.supervisor import Supervisor
from runyard.executors.base import Executor
from runyard.executors.local import LocalExecutor
from runyard.gpus.inventory import GpuReading, Inventory, open_inventory
from runyard.ingest.chunks import die_with_parent
from runyard.ingest.eventlog import append_events
from runyard.scheduler.planner import Pending
from runyard.service.gpus import describe_gpus
from runyard.settings import Settings
from runyard.store.db import open_database
from runyard.store.tables import Run

log = logging.getLogger(__name__)
T = TypeVar("T")


class Yard:
    def __init__(self, settings: Settings, inventory: Inventory | None = None) -> None:
        self.settings = settings
        settings.runs_dir.mkdir(parents=True, exist_ok=True)
        self.engine, self.sessions = open_database(settings.db_url)
        self.home = Home(settings, self.sessions)
        self.executor: Executor = LocalExecutor()
        self.bus = EventBus(settings.stream_buffer)
        self.view = LiveView()
        self.started_at = time.time()
        self.on_shutdown: list[Any] = []
        self._threads = ThreadPoolExecutor(thread_name_prefix="runyard-step")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._parse_pool: ProcessPoolExecutor | None = None
        self._parse_pool_ok = True
        self.supervisor = Supervisor(self, self.executor, self._spawn, self.refresh_view)
        self.monitor = GpuMonitor(inventory or open_inventory(settings), settings, self.supervisor.live)
        self.scheduler = Scheduler(self, self.supervisor, self.monitor, lambda: self.view, self.refresh_view)

    # ---- paths and facts -------------------------------------------------------------
    def run_dir(self, run_id: int) -> Path:
        return self.home.run_dir(run_id)

    def attempt_dir(self, run_id: int, number: int) -> Path:
        return self.home.attempt_dir(run_id, number)

    @property
    def live(self) -> dict[int, LiveAttempt]:
        """The live attempts (the supervisor's own)."""
        return self.supervisor.live

    @property
    def inventory(self) -> Inventory:
        return self.monitor.inventory

    @property
    def readings(self) -> list[GpuReading]:
        return self.monitor.readings

    def gpu_indices(self) -> list[int]:
        return self.monitor.gpu_indices()

    def gpu_memory(self) -> dict[int, int]:
        return self.monitor.gpu_memory()

    # ---- life of the daemon ----------------------------------------------------------
    def request_shutdown(self) -> None:
        for callback in self.on_shutdown:
            callback()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.read_gpus()
        from runyard.daemon.recovery import recover

        await recover(self, self.supervisor)
        self.refresh_view()
        self._spawn(self.scheduler.loop())
        self._spawn(self.monitor.loop(self._gpus_read, self._announce_gpus))
        self._spawn(self.supervisor.loop())
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
        self.executor.close()
        self.engine.dispose()

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``asyncio.to_thread`` on the daemon's own threads, so that :meth:`stop` can wait
        for the steps in flight before it closes the database. One cancelled before its
        thread took it up never runs."""
        step = self._threads.submit(contextvars.copy_context().run, fn, *args)
        return await asyncio.wrap_future(step)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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

    # ---- announcing ------------------------------------------------------------------
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

    # ---- the live view ---------------------------------------------------------------
    def refresh_view(self, queue: list[Pending] | None = None) -> None:
        """Publish a new :class:`~runyard.context.LiveView` (on the loop's thread, after the live attempts,
        the queue or the GPUs changed); ``queue`` is the planner's, if it was just read."""
        self.view = replace(
            self.view,
            queue=self.view.queue if queue is None else tuple(queue),
            cluster=self.scheduler.cluster_state(),
            readings=tuple(self.monitor.readings),
            own_pids=self.monitor.own_pids,
            history=self.monitor.history,
        )

    def read_gpus(self, readings: list[GpuReading] | None = None) -> bool:
        """Take a reading of the inventory; True when what the planner sees changed."""
        changed = self.monitor.read(readings)
        self.refresh_view()
        return changed

    def _gpus_read(self, changed: bool) -> None:
        self.refresh_view()
        if changed:
            self.wake_scheduler()

    def _announce_gpus(self) -> None:
        if self.bus.subscribers(None):
            self.bus.publish(new_message(None, "gpus", describe_gpus(self)))

    # ---- what services ask of the parts (runyard.context's protocols) ----------------
    def wake_scheduler(self) -> None:
        self.scheduler.wake()

    def schedule_now(self) -> None:
        self.scheduler.schedule_now()

    def schedule_once(self) -> None:
        self.scheduler.schedule_once()

    def waiting_reasons(self, session: Session, runs: list[Run]) -> dict[int, str]:
        return self.scheduler.waiting_reasons(session, runs)

    def stop_attempt(self, run_id: int, why: str) -> None:
        self.supervisor.stop(run_id, why)

    def signal_attempt(self, run_id: int, sig: int) -> None:
        self.supervisor.signal(run_id, sig)

    def attempt_phase(self, run_id: int, number: int) -> str | None:
        return self.supervisor.phase(run_id, number)
