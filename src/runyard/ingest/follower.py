"""Ingestion: follow one attempt's ``output.log`` from its stored offset, parse it, and
store metrics, progress, info and warnings in batches, then announce them.

The offset and the parser's state are committed in the same transaction as the points
they produced, so a crash at any moment resumes exactly there: nothing is counted twice,
nothing is skipped. The reading, parsing and writing run in a worker thread; the event
loop only publishes what a step found.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import math
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runyard.bus import new_message
from runyard.ingest.chunks import LIVE_TAIL, Chunk, Position, parse_chunk, position_of, to_chunk
from runyard.ingest.snapshots import take_snapshot
from runyard.protocol import Report, RunParser
from runyard.protocol.model import PER_ATTEMPT_WARNINGS, encode_float
from runyard.protocol.model import RunWarning as ParsedWarning
from runyard.store.metrics import load_summaries, recompute_summaries, save_summaries, write_columns
from runyard.store.tables import Attempt, Event, Run, RunWarning

if TYPE_CHECKING:
    from runyard.context import Context

log = logging.getLogger(__name__)
CHUNK = 1 << 20  # bytes read per step: big enough for throughput, small enough that the last
# chunk of a burst (parsed, then stored, with nothing left to overlap) is quick
BIG_CHUNK = 256 << 10  # a gain at least this big is parsed in the parse process
LIVE_LOG = 16 << 10  # most log bytes one live message carries (a live view shows the tail)
# At most one live metrics message and one live log message per run this often (the rest of
# a burst waits and goes with the next one): new points soon, log text (the bulk) less often.
LIVE_POINTS_EVERY_S = 0.1
LIVE_LOG_EVERY_S = 0.25
OVERVIEW_EVERY_S = 2.0  # stored overviews of a printing run are brought up to date at most this often,
OVERVIEW_POINTS = 10_000  # once its series have grown by this many points,
OVERVIEW_SHARE = 10  # and at most 1/OVERVIEW_SHARE of the time: a refresh reads back what was written


class FollowedAttempt(Protocol):
    """The attempt a follower reads: the daemon's live attempt, or an ended one (reingest)."""

    @property
    def attempt_id(self) -> int: ...

    @property
    def run_id(self) -> int: ...

    @property
    def number(self) -> int: ...


@dataclass(frozen=True)
class EndedAttempt:
    attempt_id: int
    run_id: int
    number: int


class Follower:
    def __init__(self, ctx: Context, live: FollowedAttempt, *, timing: bool = True) -> None:
        """``timing=False`` (reingestion): when lines were printed is not in the log, so
        no ETA or seconds per epoch are derived from the time of reading."""
        self.ctx = ctx
        self.timing = timing
        self.live = live
        self.path = ctx.home.attempt_dir(live.run_id, live.number) / "output.log"
        self._load()
        self._epoch_seen: dict[int, float] = {}
        self._last_event_epoch: int | None = None
        # Live messages (log text, newest points) for stream clients: at most one of each
        # every LIVE_*_EVERY_S, the rest of a burst waits (log: its tail) and goes out with the
        # next one, or when the log goes quiet (flush_live).
        self._published = self.position  # log bytes offered to live followers
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._log_pending: tuple[int, bytes] | None = None  # (offset, tail) not yet sent
        self._points_pending: dict[str, Any] | None = None
        self._log_at = self._points_at = 0.0
        self.last_gain = 0  # bytes the last step found
        self._overviews_at = (0.0, self._points())  # (monotonic time, points stored) of the next refresh

    def _load(self) -> None:
        """Take up where the database says ingestion stands (at start, and after a failed
        step: what was parsed but not committed is read again, never skipped)."""
        ctx, live = self.ctx, self.live
        with ctx.home.sessions() as session:
            attempt = session.get(Attempt, live.attempt_id)
            run = session.get(Run, live.run_id)
            assert attempt is not None and run is not None
            self.patterns: list[str] = list(run.spec.get("metric_patterns", []))
            self.parser = (RunParser.from_state(attempt.parser_state, self.patterns) if attempt.parser_state
                           else RunParser(self.patterns))
            self.position = attempt.log_offset if attempt.parser_state else 0
            self.summaries = load_summaries(session, live.run_id)
            self.progress: dict[str, Any] = dict(run.progress or {})
            self.info: dict[str, Any] = dict(run.info or {})
            self.started_at = attempt.started_at or time.time()
            rows = session.query(RunWarning.kind, RunWarning.attempt).filter(RunWarning.run_id == live.run_id)
            self.warned = {_warned_key(kind, attempt) for kind, attempt in rows}

    # ---- the loop ------------------------------------------------------------------
    async def follow(self, ended: asyncio.Event) -> None:
        """Read while the attempt lives; returns once ``ended`` is set (then call drain)."""
        while not ended.is_set():
            try:
                found = await self.ctx.in_thread(self.step)
            except Exception:
                log.exception("run %s: ingestion step failed; retrying from the stored offset", self.live.run_id)
                await self.ctx.in_thread(self._load)
                found = False
            if not found or self.last_gain < BIG_CHUNK:
                # Quiet, or a small gain: wait for more (a run printing steadily is read in
                # batches, one transaction per interval, not one per handful of lines).
                # Only a backlog (a burst, a daemon catching up) is read without a pause.
                if found:
                    self._flush_live(force=False)
                else:
                    self.flush_live()
                try:
                    async with asyncio.timeout(self.ctx.home.settings.ingest_interval_s):
                        await ended.wait()
                except TimeoutError:
                    pass

    async def drain(self, exit_code: int | None, signalled: bool) -> None:
        """Read what is left after the process ended, and store the final results."""
        try:
            await self.ctx.in_thread(self.finish, exit_code, signalled)
        except Exception:
            log.exception("run %s: final ingestion of attempt %s failed", self.live.run_id, self.live.number)

    # ---- one step (worker thread) --------------------------------------------------
    def step(self) -> bool:
        """Ingest what the log gained since the last step; True when there was something.

        A small gain is parsed here. A big one (a chatty run, a daemon catching up) goes to
        the daemon's parse process chunk by chunk, and each chunk is stored here while the
        next is parsed there: parse and store overlap on two cores. (A writer *thread*
        does not help: SQLite drops and re-takes the GIL for every row it writes.)
        """
        aligned = self.position == self.parser.offset  # the parser holds no partial line
        data = self._read()
        self.last_gain = len(data)
        if not data:
            return False
        pool = self.ctx.parse_pool() if aligned and len(data) >= BIG_CHUNK else None
        if pool is None:
            self._parse_here(data)
            return True
        patterns = self.patterns
        offset = self.parser.offset
        future: Future[Chunk] | None = pool.submit(parse_chunk, self.parser.state(), patterns, data,
                                                   self._last_event_epoch)
        while future is not None:
            try:
                chunk = future.result()
            except BrokenProcessPool:
                self.ctx.parse_pool_broken()
                raise
            self.parser = RunParser.from_state(chunk.position.state, patterns)
            if chunk.position.offset == offset:
                # Not one whole line in the chunk (a line longer than a chunk): read it here,
                # where the parser keeps a partial line between steps.
                self.position = offset
                self._parse_here(self._read())
                return True
            offset = self.position = chunk.position.offset  # the worker read whole lines only
            data = self._read()
            future = (pool.submit(parse_chunk, chunk.position.state, patterns, data, chunk.last_epoch)
                      if data else None)
            self._store(chunk)
        return True

    def _parse_here(self, data: bytes) -> None:
        result = self.parser.feed(data)
        self._store(to_chunk(result, position_of(self.parser), self._last_event_epoch))

    def finish(self, exit_code: int | None, signalled: bool) -> None:
        while self.step():
            pass
        self.flush_live()
        result = self.parser.finish()
        final = self.parser.final_results(None if signalled else exit_code)
        result.warnings.extend(final.warnings)
        if not (self.summaries or result.points or result.reports or result.warnings or self.info):
            return  # the run printed nothing runyard reads: no final results to store
        chunk = to_chunk(result, position_of(self.parser), self._last_event_epoch)
        self._store(chunk, final=final.as_dict())



    def _read(self) -> bytes:
        try:
            with self.path.open("rb") as f:
                f.seek(self.position)
                data = f.read(CHUNK)
        except FileNotFoundError:
            return b""
        start = self.position
        self.position += len(data)
        if self.position > self._published:
            if self.ctx.bus.wants(self.live.run_id, "log"):
                self._queue_log(start, data)
                self._flush_live(force=False)
            else:
                self._published = self.position
        return data

    def _queue_log(self, start: int, data: bytes) -> None:
        cut = max(0, self._published - start)  # each byte once, even when a step reads a range again
        if self._log_pending is not None:
            pending_start, pending = self._log_pending
            if pending_start + len(pending) == start + cut:
                data, start, cut = pending + data[cut:], pending_start, 0
        data = data[cut:]
        keep = data[-2 * LIVE_LOG:]
        self._log_pending = (start + cut + len(data) - len(keep), keep)

    def flush_live(self) -> None:
        """Send what live messages wait (the log went quiet, or the attempt ended)."""
        self._flush_live(force=True)

    def _flush_live(self, force: bool) -> None:
        now = time.monotonic()
        messages = []
        if self._log_pending is not None and (force or now - self._log_at >= LIVE_LOG_EVERY_S):
            messages.append(self._log_message(*self._log_pending))
            self._log_pending = None
            self._log_at = now
        if self._points_pending is not None and (force or now - self._points_at >= LIVE_POINTS_EVERY_S):
            messages.append(new_message(self.live.run_id, "metrics", self._points_pending, self.live.number))
            self._points_pending = None
            self._points_at = now
        if messages:
            self.ctx.broadcast_threadsafe(messages)

    def _log_message(self, start: int, data: bytes) -> dict[str, Any]:
        """New output since the last message: the last LIVE_LOG bytes from a line start (a
        live view shows the tail); ``skipped`` says how many bytes before them were left out
        (they are in the log, by byte range)."""
        end = start + len(data)
        if len(data) > LIVE_LOG:
            keep = data[-LIVE_LOG:]
            newline = keep.find(b"\n")
            data = keep[newline + 1:] if newline >= 0 else keep
        begin = end - len(data)
        skipped = begin - self._published
        if skipped:
            self._decoder.reset()
        self._published = end
        payload = {"offset": begin, "end": end, "skipped": skipped, "text": self._decoder.decode(data)}
        return new_message(self.live.run_id, "log", payload, self.live.number)

    def _store(self, chunk: Chunk, final: dict[str, Any] | None = None) -> None:
        run_id, number, position = self.live.run_id, self.live.number, chunk.position
        now = time.time()
        events: list[dict[str, Any]] = []
        snapshots: list[Report] = []
        self._last_event_epoch = chunk.last_epoch
        with self.ctx.home.sessions() as session:
            stored = write_columns(session, run_id, self.summaries, chunk.columns)
            save_summaries(session, self.summaries, chunk.columns)
            run = session.get(Run, run_id)
            attempt = session.get(Attempt, self.live.attempt_id)
            assert run is not None and attempt is not None
            if chunk.moved:
                self._update_progress(position, now)
                run.progress = dict(self.progress)
            if chunk.info:
                self.info.update(chunk.info)
                run.info = dict(self.info)
            for warning in chunk.warnings:
                key = _warned_key(warning.kind.value, number)
                if key in self.warned:
                    continue
                self.warned.add(key)
                _record_warning(session, run_id, number, warning)
                events.append({"kind": "warning", "data": {"warning": warning.kind.value, "line": warning.line,
                                                           "text": warning.text[:2000], "message": warning.message}})
            for report in chunk.reports:  # the ones that matter (see ingest/chunks.py)
                if report.has_eval or report.completed:
                    snapshots.append(report)
                events.append({"kind": "report", "data": _report_data(report)})
            if final is not None:
                run.final = _final_columns(final)
                events.append({"kind": "final", "data": run.final})
                recompute_summaries(session, run_id)
            attempt.log_offset = position.offset
            attempt.parser_state = position.state
            for event in events:
                session.add(Event(run_id=run_id, attempt=number, time=now, kind=event["kind"], data=event["data"]))
            session.commit()
        messages = [new_message(run_id, event["kind"], event["data"], number, now) for event in events]
        self.ctx.publish_threadsafe(messages)
        if stored:
            pending = self._points_pending
            points = chunk.tail if pending is None else (pending["points"] + chunk.tail)[-LIVE_TAIL:]
            count = stored + (pending["count"] if pending else 0)
            self._points_pending = {"points": points, "count": count, "progress": dict(self.progress)}
        self._flush_live(force=final is not None)
        for report in snapshots:
            take_snapshot(self.ctx, run_id, number, report.step, report.epoch)
        if stored:
            self._refresh_overviews()

    def _points(self) -> int:
        return sum(summary.count for summary in self.summaries.values())

    def _refresh_overviews(self) -> None:
        """Extend the stored overviews (the ones a chart asked for) with the points printed
        since, so that a chart of a long series stays quick while the run prints."""
        from runyard.store.overviews import refresh_overviews

        due_at, base = self._overviews_at
        points = self._points()
        started = time.monotonic()
        if started < due_at or points - base < OVERVIEW_POINTS:
            return
        refresh_overviews(self.ctx.home.sessions, self.live.run_id, build=False)
        spent = time.monotonic() - started
        self._overviews_at = (started + max(OVERVIEW_EVERY_S, OVERVIEW_SHARE * spent), points)

    def _update_progress(self, position: Position, now: float) -> None:
        epoch, total, step = position.epoch, position.total_epochs, position.step
        if epoch is not None and epoch not in self._epoch_seen:
            self._epoch_seen[epoch] = now
        per_epoch = None
        if not self.timing:
            pass
        elif epoch and len(self._epoch_seen) >= 2:
            first_epoch = min(self._epoch_seen)
            if epoch > first_epoch:
                per_epoch = (self._epoch_seen[epoch] - self._epoch_seen[first_epoch]) / (epoch - first_epoch)
        elif epoch:
            per_epoch = (now - self.started_at) / epoch
        eta = per_epoch * max(0, total - epoch) if per_epoch is not None and total and epoch else None
        self.progress = {"epoch": epoch, "total_epochs": total, "step": step,
                         "eta_s": round(eta, 1) if eta is not None else None,
                         "seconds_per_epoch": round(per_epoch, 3) if per_epoch is not None else None}


def _warned_key(kind: str, attempt: int | None) -> str:
    """Most kinds are raised once per run; ``PER_ATTEMPT_WARNINGS`` once per attempt."""
    return f"{kind}@{attempt}" if kind in PER_ATTEMPT_WARNINGS else kind


def _record_warning(session: Any, run_id: int, attempt: int, warning: ParsedWarning) -> None:
    """The run's row for this kind: the first of the run, or the latest attempt's for a
    per-attempt kind (each attempt's event stays in the event log)."""
    row = RunWarning(run_id=run_id, kind=warning.kind.value, attempt=attempt, line=warning.line,
                     text=warning.text[:2000], message=warning.message)
    if warning.kind in PER_ATTEMPT_WARNINGS:
        session.merge(row)
    else:
        session.add(row)


def _report_data(report: Report) -> dict[str, Any]:
    return {"line": report.line, "source": report.source.value, "x": report.x, "epoch": report.epoch,
            "total_epochs": report.total_epochs, "step": report.step, "status": report.status,
            "metrics": {k: encode_float(v) for k, v in report.metrics.items()}, "has_eval": report.has_eval}


def _final_columns(final: dict[str, Any]) -> dict[str, Any]:
    losses = final.get("losses") or {}
    accuracy = final.get("accuracy")
    return {
        "accuracy": encode_float(accuracy) if isinstance(accuracy, float) else accuracy,
        "accuracy_field": final.get("accuracy_field"),
        "accuracy_key": final.get("accuracy_key"),
        "train_loss": _maybe(losses.get("train_loss")),
        "test_loss": _maybe(losses.get("test_loss")),
        "val_loss": _maybe(losses.get("val_loss")),
        "source": final.get("source"),
    }


def _maybe(value: float | None) -> float | str | None:
    return None if value is None else (value if math.isfinite(value) else encode_float(value))

