"""What the daemon does when it starts: re-attach the attempts whose process is alive,
finish the ones that ended while it was away (from ``exit.json``), mark the rest lost,
and restore any hot-swap the journal says is still in place."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from sqlalchemy import select

from runyard.domain.spec import RunSpec
from runyard.domain.status import LIVE
from runyard.executors.local import ProcessHandle
from runyard.service.lifecycle import LiveAttempt, restore_journaled_swaps, swap_locks
from runyard.service.work import Work
from runyard.store.tables import Attempt, Run

if TYPE_CHECKING:
    from runyard.daemon.yard import Yard

log = logging.getLogger(__name__)


def _handle_from_dir(yard: Yard, attempt: Attempt) -> ProcessHandle | None:
    """The shim of an attempt whose pid was never stored (a crash right at launch):
    the child's process group is the shim's pid. The group leader must be this
    attempt's shim (its command line names the attempt's folder): ``child.pid`` may
    name a process that ended long ago and whose pid another one got since."""
    attempt_dir = yard.attempt_dir(attempt.run_id, attempt.number)
    try:
        child = int((attempt_dir / "child.pid").read_text())
        shim = psutil.Process(os.getpgid(child))
        args = shim.cmdline()
        if not args or Path(args[-1]).resolve() != attempt_dir.resolve():
            return None
        return ProcessHandle(shim.pid, shim.create_time())
    except (OSError, ValueError, psutil.Error):
        return None


async def recover(yard: Yard) -> None:
    with yard.sessions() as session:
        rows = session.execute(
            select(Attempt, Run.spec).join(Run).where(Attempt.status.in_([s.value for s in LIVE]))
        ).all()
    for attempt, spec_json in rows:
        spec = RunSpec.model_validate(spec_json)
        live = LiveAttempt(attempt.id, attempt.run_id, attempt.number, tuple(attempt.gpus or ()),
                           attempt.gpu_mem_mib, attempt.deadline, swap_locks(spec), stopping=attempt.stop_reason)
        handle = ProcessHandle(attempt.pid, attempt.pid_created or 0.0) if attempt.pid else _handle_from_dir(yard, attempt)
        yard.live[attempt.id] = live
        if handle is not None and yard.executor.is_alive(handle):
            live.handle = handle
            log.info("run %s: re-attached attempt %s (pid %s)", attempt.run_id, attempt.number, handle.pid)
            with Work(yard) as work:
                work.emit(attempt.run_id, "reattached", {"pid": handle.pid}, attempt.number)
        # No process to wait for: the watcher ingests what is left, then finishes it.
        yard.watch(live)
    # Swaps of attempts that are not live (a restore that failed before the crash); the
    # live ones are restored by their watchers when they end.
    restore_journaled_swaps(yard, skip={(a.run_id, a.number) for a in yard.live.values()}, after_crash=True)
