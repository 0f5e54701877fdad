"""In-process publish/subscribe for live streams (WebSocket, SSE, ``logs -f``).

Each subscriber gets a bounded queue: a slow client never slows the daemon or the
others; when its queue is full, the oldest messages are dropped and the client is told
how many it missed. A message is encoded to JSON once, however many clients get it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson


def new_message(run_id: int | None, kind: str, data: Any, attempt: int | None = None,
            at: float | None = None) -> dict[str, Any]:
    """The one shape of what the bus carries (and the live streams send):
    ``{run_id, attempt, time, kind, data}``; ``at`` defaults to now."""
    return {"run_id": run_id, "attempt": attempt, "time": time.time() if at is None else at, "kind": kind, "data": data}


class Message(dict[str, Any]):
    """A published message: ``{run_id, attempt, time, kind, data}``, JSON-encoded on first use."""

    __slots__ = ("_text", "shared")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared: dict[str, Any] = {}  # what its subscribers derive from it, derived once

    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text: str = orjson.dumps(self, option=orjson.OPT_NON_STR_KEYS).decode()
            return self._text


@dataclass
class Subscription:
    run_id: int | None  # None: every run
    kinds: frozenset[str] | None  # None: every kind
    queue: asyncio.Queue[Message]
    missed: int = 0

    def take_missed(self) -> int:
        missed, self.missed = self.missed, 0
        return missed


@dataclass
class EventBus:
    maxsize: int = 1000
    _subscriptions: dict[int, Subscription] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    # An immutable copy, swapped whole on (un)subscribe, for :meth:`wants` from worker threads.
    _frozen: tuple[Subscription, ...] = ()

    def publish(self, message: dict[str, Any]) -> None:
        if not self._subscriptions:
            return
        wrapped = message if isinstance(message, Message) else Message(message)
        run_id, kind = wrapped.get("run_id"), wrapped.get("kind")
        for sub in self._subscriptions.values():
            if sub.run_id is not None and sub.run_id != run_id:
                continue
            if sub.kinds is not None and kind not in sub.kinds:
                continue
            if sub.queue.full():
                sub.queue.get_nowait()
                sub.missed += 1
            sub.queue.put_nowait(wrapped)

    def wants(self, run_id: int, kind: str) -> bool:
        """Whether any subscriber would get this run's messages of this kind (safe from any
        thread): ingestion publishes log text only while someone follows it."""
        return any((s.run_id is None or s.run_id == run_id) and (s.kinds is None or kind in s.kinds)
                   for s in self._frozen)

    def subscribers(self, run_id: int | None) -> int:
        """How many subscriptions would get a message of this run."""
        return sum(1 for s in self._subscriptions.values() if s.run_id is None or s.run_id == run_id)

    @contextmanager
    def subscribe(self, run_id: int | None = None, kinds: frozenset[str] | None = None) -> Iterator[Subscription]:
        key = next(self._ids)
        sub = Subscription(run_id, kinds, asyncio.Queue(self.maxsize))
        self._subscriptions[key] = sub
        self._frozen = tuple(self._subscriptions.values())
        try:
            yield sub
        finally:
            del self._subscriptions[key]
            self._frozen = tuple(self._subscriptions.values())
