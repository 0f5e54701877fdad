"""The statuses of a run and the one table that says which changes are legal.

See docs/ARCHITECTURE.md §2. Automatic retries go ``running → waiting`` (the backoff)
and ``waiting → queued``; a manual ``runyard retry`` takes a finished run back to
``queued``. Everything that changes a run's status calls :func:`check_transition`.
"""

from __future__ import annotations

from enum import Enum

from runyard.errors import IllegalTransition


class RunStatus(str, Enum):
    QUEUED = "queued"
    WAITING = "waiting"
    PREPARING = "preparing"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED

    @property
    def is_live(self) -> bool:
        """An attempt's process exists (or should) in this status."""
        return self in LIVE


class Reason(str, Enum):
    """Why a run or attempt failed (PROTOCOL.md §8, plus ``dependency``)."""

    OOM = "oom"
    SIGNAL = "signal"
    EXIT_CODE = "exit_code"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    LOST = "lost"
    DEPENDENCY = "dependency"


class RetryOn(str, Enum):
    ANY = "any"
    OOM = "oom"
    NEVER = "never"


S = RunStatus
FINISHED = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.LOST})
LIVE = frozenset({S.PREPARING, S.RUNNING, S.PAUSED})
PENDING = frozenset({S.QUEUED, S.WAITING})
# The same, as the API writes them (what clients compare, sort and send back).
FINISHED_NAMES = frozenset(s.value for s in FINISHED)
PENDING_NAMES = frozenset(s.value for s in PENDING)

TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    S.QUEUED: frozenset({S.WAITING, S.PREPARING, S.RUNNING, S.CANCELLED, S.FAILED}),
    S.WAITING: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    S.PREPARING: frozenset({S.RUNNING, S.PAUSED, S.WAITING} | FINISHED),
    S.RUNNING: frozenset({S.PAUSED, S.WAITING} | FINISHED),
    S.PAUSED: frozenset({S.RUNNING, S.PREPARING, S.WAITING} | FINISHED),
    S.COMPLETED: frozenset({S.QUEUED}),
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELLED: frozenset({S.QUEUED}),
    S.LOST: frozenset({S.QUEUED}),
}


def can_transition(old: RunStatus, new: RunStatus) -> bool:
    return new in TRANSITIONS[old]


def check_transition(run_id: int, old: RunStatus, new: RunStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``old → new`` is in the table."""
    if not can_transition(old, new):
        raise IllegalTransition(run_id, old.value, new.value)


def should_retry(retry_on: RetryOn, reason: Reason, attempts_done: int, retries: int) -> bool:
    """Whether a failed attempt earns another one under the run's retry policy.

    A cancelled run is never retried; a dependency failure cannot be cured by retrying.
    """
    if attempts_done > retries or retry_on is RetryOn.NEVER:
        return False
    if reason in (Reason.CANCELLED, Reason.DEPENDENCY):
        return False
    if retry_on is RetryOn.OOM:
        return reason is Reason.OOM
    return True


def retry_backoff_s(attempts_done: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait before attempt ``attempts_done + 1``: doubling, capped."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts_done - 1)))
