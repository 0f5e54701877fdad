"""In-process publish/subscribe for live streams (WebSocket, SSE, ``logs -f``).

Each subscriber gets a bounded queue: a slow client never slows the daemon or the
others; when its queue is full, the oldest messages are dropped and the client is told
how many it missed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Subscription:
    run_id: int | None  # None: every run
    queue: asyncio.Queue[dict[str, Any]]
    missed: int = 0


@dataclass
class EventBus:
    maxsize: int = 1000
    _subscriptions: dict[int, Subscription] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def publish(self, message: dict[str, Any]) -> None:
        run_id = message.get("run_id")
        for sub in self._subscriptions.values():
            if sub.run_id is not None and sub.run_id != run_id:
                continue
            while True:
                try:
                    sub.queue.put_nowait(message)
                    break
                except asyncio.QueueFull:
                    sub.queue.get_nowait()
                    sub.missed += 1

    @contextmanager
    def subscribe(self, run_id: int | None = None) -> Iterator[Subscription]:
        key = next(self._ids)
        sub = Subscription(run_id, asyncio.Queue(self.maxsize))
        self._subscriptions[key] = sub
        try:
            yield sub
        finally:
            del self._subscriptions[key]
