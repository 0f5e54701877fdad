"""What the daemon does when it starts: re-attach the attempts whose process is alive,
finish the ones that ended while it was away (from ``exit.json``), mark the rest lost,
and restore any hot-swap the journal says is still in place."""

from __future__ import annotations

import logging

from sqlalchemy import select

from runyard.context import Context
from runyard.daemon.attempts import LiveAttempt, restore_journaled_swaps, swap_locks
from runyard.daemon.supervisor import Supervisor
from runyard.domain.spec import RunSpec
from runyard.domain.status import LIVE
from runyard.service.work import Work
from runyard.store.tables import Attempt, Run

log = logging.getLogger(__name__)


async def recover(ctx: Context, supervisor: Supervisor) -> None:
    with ctx.home.sessions() as session:
        rows = session.execute(
            select(Attempt, Run.spec).join(Run).where(Attempt.status.in_([s.value for s in LIVE]))
        ).all()
    for attempt, spec_json in rows:
        spec = RunSpec.model_validate(spec_json)
        live = LiveAttempt(attempt.id, attempt.run_id, attempt.number, tuple(attempt.gpus or ()),
                           attempt.gpu_mem_mib, attempt.deadline, swap_locks(spec), stopping=attempt.stop_reason)
        handle = supervisor.executor.reattach(ctx.home.attempt_dir(attempt.run_id, attempt.number),
                                              attempt.pid, attempt.pid_created)
        if handle is not None:
            live.handle = handle
            log.info("run %s: re-attached attempt %s (pid %s)", attempt.run_id, attempt.number, handle.pid)
            with Work(ctx) as work:
                work.emit(attempt.run_id, "reattached", {"pid": handle.pid}, attempt.number)
        # No process to wait for: the watcher ingests what is left, then finishes it.
        supervisor.adopt(live)
    # Swaps of attempts that are not live (a restore that failed before the crash); the
    # live ones are restored by their watchers when they end.
    restore_journaled_swaps(ctx, skip={(a.run_id, a.number) for a in supervisor.live.values()}, after_crash=True)
