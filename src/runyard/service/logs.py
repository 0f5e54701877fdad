"""Reading an attempt's output log by byte range (the log file is the source of truth)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runyard.domain.status import RunStatus
from runyard.errors import NotFound
from runyard.service.runs import load_run

if TYPE_CHECKING:
    from runyard.context import Context


@dataclass(frozen=True)
class LogChunk:
    attempt: int
    data: bytes
    next_offset: int
    finished: bool  # the attempt has ended: no more bytes will come


def read_log(ctx: Context, run_id: int, attempt: int | None, offset: int, limit: int) -> LogChunk:
    with ctx.home.sessions() as session:
        run = load_run(session, run_id)
        numbers = {a.number: a for a in run.attempts}
    if not numbers:
        return LogChunk(0, b"", 0, RunStatus(run.status).is_finished)
    number = attempt if attempt is not None else max(numbers)
    if number not in numbers:
        raise NotFound(f"run {run_id} has no attempt {number} (it has {len(numbers)})")
    finished = RunStatus(numbers[number].status).is_finished
    path = ctx.home.attempt_dir(run_id, number) / "output.log"
    try:
        with path.open("rb") as f:
            data = b""
            if offset < os.fstat(f.fileno()).st_size:  # past the end nothing is there yet (and a seek that far fails: EINVAL)
                f.seek(offset)
                data = f.read(limit)
    except FileNotFoundError:
        data = b""
    return LogChunk(number, data, offset + len(data), finished)
