"""Live streams: what a WebSocket or SSE client of one run, or of the whole queue, gets.

Every stream starts with the current state (a client that connects late misses nothing
it needs), then sends the changes as they are published. A client's buffer is bounded
(``RUNYARD_STREAM_BUFFER``): when it falls behind, the oldest messages are dropped, it
gets ``{"kind": "missed", "data": {"count": n}}`` and then a fresh state.

Messages are JSON objects ``{"run_id", "attempt", "time", "kind", "data"}``:

- run streams: ``state`` (the run as ``GET /runs/{id}`` shows it, plus ``log``: the
  attempt and the size of its output so far), ``status``, ``run`` (the run after a status
  change), ``metrics`` (the newest points of each metric and the progress), ``log`` (new
  output: byte ``offset``/``end`` in the attempt's log, ``text``, and ``skipped`` bytes of
  a burst left out — they are in the log by byte range), ``warning``, ``report``,
  ``final``, ``snapshot_saved``, then ``end`` once the run has finished.
- the queue stream: ``state`` (counts per status, the runs not finished, the GPUs),
  ``run`` (a run whose status changed, or a new run), ``progress`` (a run's progress and
  latest metrics, at most a few times a second per run), ``counts``, ``gpus``,
  ``deleted``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from runyard.bus import Message, Subscription
from runyard.domain.status import FINISHED, PENDING, RunStatus
from runyard.service.gpus import describe_gpus
from runyard.service.runs import RUN_LOADS, get_run, render_runs
from runyard.store.render import render_run
from runyard.store.tables import Run

if TYPE_CHECKING:
    from runyard.context import Context

log = logging.getLogger(__name__)
FINISHED_VALUES = frozenset(s.value for s in FINISHED)
QUEUE_KINDS = frozenset({"run", "progress", "counts", "gpus", "deleted"})
QUEUE_STATE_RUNS = 1000  # unfinished runs sent in the queue stream's state; the rest by REST
PROGRESS_EVERY_S = 0.25  # a run's progress goes to queue clients at most this often


def message(kind: str, data: Any, run_id: int | None = None, attempt: int | None = None) -> Message:
    return Message(run_id=run_id, attempt=attempt, time=time.time(), kind=kind, data=data)


# ---- one run -------------------------------------------------------------------------
def run_state(ctx: Context, run_id: int) -> dict[str, Any]:
    run = get_run(ctx, run_id)
    attempt = run["attempts"][-1]["number"] if run["attempts"] else None
    size = 0
    if attempt is not None:
        with contextlib.suppress(FileNotFoundError):
            size = (ctx.home.attempt_dir(run_id, attempt) / "output.log").stat().st_size
    run["log"] = {"attempt": attempt, "size": size}
    return run


async def run_stream(ctx: Context, run_id: int, log: bool = True) -> AsyncIterator[str]:
    """The messages of one run as JSON text, until the run has finished. Raises
    :class:`RunNotFound` before yielding anything for an unknown run."""
    kinds = None if log else frozenset({"status", "metrics", "warning", "report", "final", "snapshot_saved"})
    # Subscribe before reading the state: nothing published in between is lost.
    with ctx.bus.subscribe(run_id, kinds) as sub:
        state = await asyncio.to_thread(run_state, ctx, run_id)
        yield message("state", state, run_id).text()
        if state["status"] in FINISHED_VALUES:
            yield message("end", {"status": state["status"]}, run_id).text()
            return
        while True:
            item = await sub.queue.get()
            missed = sub.take_missed()
            if missed:
                yield message("missed", {"count": missed}, run_id).text()
                state = await asyncio.to_thread(run_state, ctx, run_id)
                yield message("state", state, run_id).text()
            yield item.text()
            if item["kind"] != "status":
                continue
            after, now = await _rendered_once(ctx, item)
            yield after
            if now in FINISHED_VALUES:
                for rest in _drain(sub):
                    yield rest.text()
                yield message("end", {"status": now}, run_id).text()
                return


async def _rendered_once(ctx: Context, status: Message) -> tuple[str, str]:
    """The ``run`` message that follows a status change, and the run's status: read and
    encoded once, in a task of its own, however many of the run's clients wait for it (a
    client that leaves meanwhile cancels only its own wait)."""
    task: asyncio.Task[tuple[str, str]] | None = status.shared.get("run")
    if task is None:

        async def render() -> tuple[str, str]:
            run = await asyncio.to_thread(get_run, ctx, status["run_id"])
            return message("run", run, status["run_id"]).text(), run["status"]

        task = status.shared["run"] = asyncio.ensure_future(render())
    return await asyncio.shield(task)


def _drain(sub: Subscription) -> list[Message]:
    items = []
    while not sub.queue.empty():
        items.append(sub.queue.get_nowait())
    return items


# ---- the queue -----------------------------------------------------------------------
def status_counts(ctx: Context) -> dict[str, int]:
    with ctx.home.sessions() as session:
        rows = session.execute(select(Run.status, func.count()).group_by(Run.status)).all()
    counts = {s.value: 0 for s in RunStatus}
    counts.update({status: count for status, count in rows})
    return counts


def queue_state(ctx: Context) -> dict[str, Any]:
    with ctx.home.sessions() as session:
        query = (select(Run).options(*RUN_LOADS).where(Run.status.not_in(FINISHED_VALUES))
                 .order_by(Run.order_key, Run.id).limit(QUEUE_STATE_RUNS + 1))
        runs = list(session.scalars(query))
        truncated = len(runs) > QUEUE_STATE_RUNS
        runs = runs[:QUEUE_STATE_RUNS]
        reasons = ctx.waiting_reasons(session, [r for r in runs if r.status in PENDING])
        rendered = [render_run(r, reasons.get(r.id)) for r in runs]
    return {"counts": status_counts(ctx), "runs": rendered, "truncated": truncated, "gpus": describe_gpus(ctx)}


class QueueFeed:
    """Turns the bus's run-level messages into what queue clients need, once for all of
    them: a status change becomes the re-rendered run (one database read, however many
    clients), metric messages become throttled progress. Runs only while a queue client
    is connected."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.clients = 0
        self._task: asyncio.Task[None] | None = None

    def attach(self) -> None:
        self.clients += 1
        if self._task is None or self._task.done():
            self._start()

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A feed that died is logged and started again while clients are connected."""
        if task.cancelled() or task is not self._task:
            return
        log.error("the queue feed stopped; starting it again", exc_info=task.exception())
        if self.clients > 0:
            self._start()

    def detach(self) -> None:
        self.clients -= 1
        if self.clients <= 0 and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        kinds = frozenset({"status", "submitted", "metrics", "deleted"})
        with self.ctx.bus.subscribe(None, kinds) as sub:
            while True:
                changed: set[int] = set()
                progress: dict[int, dict[str, Any]] = {}
                item = await sub.queue.get()
                deadline = time.monotonic() + PROGRESS_EVERY_S
                while True:  # gather for a moment: a burst of changes is one read
                    self._take(item, changed, progress)
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), timeout)
                    except TimeoutError:
                        break
                try:
                    await self._flush(changed, progress, sub.take_missed())
                except Exception:
                    # One bad pass must not end the feed (every queue client would stop
                    # hearing of changes): log it, and tell the clients to read the state anew.
                    log.exception("the queue feed could not send %d changed runs; clients re-read the queue", len(changed))
                    self.ctx.bus.publish(message("missed", {"count": len(changed) + len(progress)}))

    @staticmethod
    def _take(item: Message, changed: set[int], progress: dict[int, dict[str, Any]]) -> None:
        run_id = item.get("run_id")
        if run_id is None:
            return
        if item["kind"] == "metrics":
            latest = progress.setdefault(run_id, {"metrics": {}})
            latest["progress"] = item["data"].get("progress")
            for key, _x, value in item["data"].get("points", []):
                latest["metrics"][key] = value
        else:
            changed.add(run_id)

    async def _flush(self, changed: set[int], progress: dict[int, dict[str, Any]], missed: int) -> None:
        bus = self.ctx.bus
        if changed:
            bus.publish(message("counts", await asyncio.to_thread(status_counts, self.ctx)))
            for run in await asyncio.to_thread(render_runs, self.ctx, sorted(changed)):
                bus.publish(message("run", run, run["id"]))
        for run_id, data in progress.items():
            bus.publish(message("progress", data, run_id))
        if missed:
            bus.publish(message("missed", {"count": missed}))


async def queue_stream(ctx: Context, feed: QueueFeed) -> AsyncIterator[str]:
    """The whole queue's messages as JSON text, for as long as the client stays."""
    feed.attach()
    try:
        with ctx.bus.subscribe(None, QUEUE_KINDS | {"missed"}) as sub:
            yield message("state", await asyncio.to_thread(queue_state, ctx)).text()
            while True:
                item = await sub.queue.get()
                missed = sub.take_missed()
                if missed or (item["kind"] == "missed" and item.get("run_id") is None):
                    yield message("missed", {"count": missed or item["data"]["count"]}).text()
                    yield message("state", await asyncio.to_thread(queue_state, ctx)).text()
                    continue
                yield item.text()
    finally:
        feed.detach()
