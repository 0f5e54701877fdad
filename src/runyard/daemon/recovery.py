"""What the daemon does when it starts: re-attach the attempts whose process is alive,
finish the ones that ended while it was away (from ``exit.json``), mark the rest lost,
and restore any hot-swap the journal says is still in place."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from runyard.daemon.attempts import LiveAttempt, restore_journaled_swaps, swap_locks
from runyard.domain.spec import RunSpec
from runyard.domain.status import LIVE
from runyard.service.work import Work
from runyard.store.tables import Attempt, Run

if TYPE_CHECKING:
    from runyard.daemon.yard import Yard

log = logging.getLogger(__name__)


async def recover(yard: Yard) -> None:
    with yard.sessions() as session:
        rows = session.execute(
            select(Attempt, Run.spec).join(Run).where(Attempt.status.in_([s.value for s in LIVE]))
        ).all()
    for attempt, spec_json in rows:
        spec = RunSpec.model_validate(spec_json)
        live = LiveAttempt(attempt.id, attempt.run_id, attempt.number, tuple(attempt.gpus or ()),
                           attempt.gpu_mem_mib, attempt.deadline, swap_locks(spec), stopping=attempt.stop_reason)
        handle = yard.executor.reattach(yard.attempt_dir(attempt.run_id, attempt.number), attempt.pid,
                                        attempt.pid_created)
        yard.live[attempt.id] = live
        if handle is not None:
            live.handle = handle
            log.info("run %s: re-attached attempt %s (pid %s)", attempt.run_id, attempt.number, handle.pid)
            with Work(yard) as work:
                work.emit(attempt.run_id, "reattached", {"pid": handle.pid}, attempt.number)
        # No process to wait for: the watcher ingests what is left, then finishes it.
        yard.watch(live)
    # Swaps of attempts that are not live (a restore that failed before the crash); the
    # live ones are restored by their watchers when they end.
    restore_journaled_swaps(yard, skip={(a.run_id, a.number) for a in yard.live.values()}, after_crash=True)
