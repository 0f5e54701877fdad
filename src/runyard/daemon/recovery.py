"""What the daemon does when it starts: re-attach the attempts whose process is alive,
finish the ones that ended while it was away (from ``exit.json``), mark the rest lost,
and restore any hot-swap the journal says is still in place."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import psutil
from sqlalchemy import select

from runyard.domain.spec import RunSpec
from runyard.domain.status import LIVE
from runyard.executors.local import ProcessHandle
from runyard.executors.swap import SwapRecord, restore_swap
from runyard.service.lifecycle import LiveAttempt, swap_locks
from runyard.service.work import Work
from runyard.store.tables import Attempt, Run, SwapJournal

if TYPE_CHECKING:
    from runyard.daemon.yard import Yard

log = logging.getLogger(__name__)


def _handle_from_dir(yard: Yard, attempt: Attempt) -> ProcessHandle | None:
    """The shim of an attempt whose pid was never stored (a crash right at launch):
    the child's process group is the shim's pid."""
    try:
        child = int((yard.attempt_dir(attempt.run_id, attempt.number) / "child.pid").read_text())
        shim = os.getpgid(child)
        return ProcessHandle(shim, psutil.Process(shim).create_time())
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
            yard.watch(live)
        else:
            yard.watch(live)  # no process to wait for: ingest what is left, then finish it
    _restore_dangling_swaps(yard)


def _restore_dangling_swaps(yard: Yard) -> None:
    live = {(a.run_id, a.number) for a in yard.live.values()}
    with Work(yard) as work:
        for row in work.session.scalars(select(SwapJournal).where(SwapJournal.state != "restored")):
            if (row.run_id, row.attempt) in live:
                continue
            try:
                restore_swap(SwapRecord(target=row.target, source=row.source, backup=row.backup, existed=row.existed))
            except OSError as error:
                log.error("run %s: could not restore %s: %s", row.run_id, row.target, error)
                continue
            row.state = "restored"
            work.emit(row.run_id, "swap_restored", {"target": row.target, "after_crash": True}, row.attempt)
