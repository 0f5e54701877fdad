"""A unit of work: one transaction, and the events it produced published only after
it committed (a status change is persisted first, then announced)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from runyard.bus import new_message
from runyard.domain.status import FINISHED, RunStatus, check_transition
from runyard.store.tables import Event, Run

if TYPE_CHECKING:
    from runyard.context import Context


class Work:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.session: Session = ctx.home.sessions()
        self.now = time.time()
        self._outbox: list[dict[str, Any]] = []

    def __enter__(self) -> Work:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()
        if kind is None and self._outbox:
            self.ctx.publish(self._outbox)

    def emit(self, run_id: int, kind: str, data: dict[str, Any] | None = None, attempt: int | None = None) -> None:
        """Record an event of a run and publish it once the transaction commits."""
        data = data or {}
        self.session.add(Event(run_id=run_id, attempt=attempt, time=self.now, kind=kind, data=data))
        self._outbox.append(new_message(run_id, kind, data, attempt, self.now))

    def transition(self, run: Run, new: RunStatus, reason: str | None = None, **details: Any) -> None:
        """The one way a run changes status: checked against the table, persisted, announced."""
        old = RunStatus(run.status)
        check_transition(run.id, old, new)
        run.status = new.value
        run.reason = reason
        if new in FINISHED:
            run.finished_at = self.now
        payload = {"from": old.value, "to": new.value, "reason": reason, **details}
        self.emit(run.id, "status", payload, attempt=run.attempts_count or None)
