"""The attempt supervisor: the one owner of the live attempts (:class:`LiveAttempt`).

It watches each attempt's process through the executor, follows its output while it runs,
finishes it when it ends, enforces timeouts, and turns ``preparing`` into ``running``
once a setup command is done. The scheduler hands it the attempts it started; services
reach it through the :class:`~runyard.context.Attempts` protocol (stop, signal, phase).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from runyard.context import Context
from runyard.daemon.attempts import LiveAttempt, finish_attempt
from runyard.domain.status import RunStatus
from runyard.executors.base import Executor
from runyard.ingest.artifacts import write_run_outputs
from runyard.ingest.follower import Follower
from runyard.service.work import Work
from runyard.store.tables import Attempt, Run

log = logging.getLogger(__name__)
TICK_S = 0.25  # how often timeouts and setup phases are checked

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class Supervisor:
    def __init__(self, ctx: Context, executor: Executor, spawn: Spawn, changed: Callable[[], None]) -> None:
        """``spawn`` runs a coroutine as one of the daemon's tasks; ``changed`` is called
        on the loop's thread whenever the set of live attempts changed."""
        self.ctx = ctx
        self.executor = executor
        self.live: dict[int, LiveAttempt] = {}
        self._spawn = spawn
        self._changed = changed

    def for_run(self, run_id: int) -> LiveAttempt | None:
        return next((a for a in self.live.values() if a.run_id == run_id), None)

    def adopt(self, live: LiveAttempt) -> None:
        """Own ``live`` (just started, or re-attached after a restart) and watch it to its end."""
        self.live[live.attempt_id] = live
        self._spawn(self._watch(live))

    async def _watch(self, live: LiveAttempt) -> None:
        """Follow an attempt's output while it runs; when it ends, ingest the rest, then
        finish it (so a finished run's metrics are complete)."""
        try:
            follower = Follower(self.ctx, live)
            ended = asyncio.Event()
            following = self._spawn(follower.follow(ended))
            if live.handle is not None:
                await self.executor.wait(live.handle)
                # Whatever the command left behind in its group must not hold the GPUs on.
                if self.executor.leftovers(live.handle):
                    await self.executor.terminate(live.handle, self.ctx.home.settings.kill_grace_s)
            ended.set()
            await following
            info = self.executor.read_exit(self.ctx.home.attempt_dir(live.run_id, live.number))
            await follower.drain(info.exit_code if info else None, info is None or info.signal is not None)
            try:
                await finish_attempt(self.ctx, self.executor, live)
            finally:
                self.live.pop(live.attempt_id, None)
            self._changed()
            self._spawn(self.ctx.in_thread(write_run_outputs, self.ctx, live.run_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("run %s: could not finish attempt %s", live.run_id, live.number)

    def stop(self, run_id: int, why: str) -> None:
        """Stop a run's live attempt (cancel, timeout): SIGTERM to its group, SIGKILL after the grace."""
        live = self.for_run(run_id)
        if live is None or live.handle is None:
            return
        live.stopping = why
        # terminate() sends SIGTERM then SIGCONT (a paused group must run to handle it).
        self._spawn(self.executor.terminate(live.handle, self.ctx.home.settings.kill_grace_s))

    def signal(self, run_id: int, sig: int) -> None:
        live = self.for_run(run_id)
        if live is not None and live.handle is not None:
            self.executor.signal(live.handle, sig)

    def phase(self, run_id: int, number: int) -> str | None:
        return self.executor.read_phase(self.ctx.home.attempt_dir(run_id, number))

    async def loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.tick()
            except Exception:
                log.exception("tick failed")

    def tick(self) -> None:
        """Timeouts, and ``preparing → running`` once an attempt's setup command is done."""
        now = time.time()
        for live in list(self.live.values()):
            if live.deadline is not None and live.deadline <= now and live.stopping is None:
                with Work(self.ctx) as work:
                    attempt = work.session.get(Attempt, live.attempt_id)
                    if attempt is not None:
                        attempt.stop_reason = "timeout"
                        work.emit(live.run_id, "timeout", {"deadline": live.deadline}, live.number)
                self.stop(live.run_id, "timeout")
            if live.handle is not None and self.phase(live.run_id, live.number) == "running":
                self._mark_running(live)

    def _mark_running(self, live: LiveAttempt) -> None:
        with Work(self.ctx) as work:
            run = work.session.get(Run, live.run_id)
            attempt = work.session.get(Attempt, live.attempt_id)
            if run is None or attempt is None or run.status != "preparing":
                return
            work.transition(run, RunStatus.RUNNING, None, setup="done")
            attempt.status = "running"
