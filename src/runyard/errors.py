"""runyard's exceptions: one base, context carried as attributes.

    RunyardError
    ├── InvalidSpec            a run spec or request that cannot be accepted (→ 422)
    ├── NotFound               something asked for by id does not exist (→ 404)
    │   └── RunNotFound
    ├── Conflict               the request clashes with the current state (→ 409)
    │   └── IllegalTransition  a status change the life of a run does not allow
    └── DaemonUnavailable      the CLI could not reach or start the daemon

The HTTP layer maps these to status codes in one place (``server/errors.py``); the CLI
prints ``str(error)`` as one line and exits non-zero.
"""

from __future__ import annotations


class RunyardError(Exception):
    """Base of every error runyard raises on purpose."""


class InvalidSpec(RunyardError):
    """A run spec or request that cannot be accepted; ``field`` names the culprit."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(RunyardError):
    """Something asked for by id does not exist."""


class RunNotFound(NotFound):
    def __init__(self, run_id: int | str) -> None:
        super().__init__(f"run {run_id} not found (see `runyard ls --all`)")
        self.run_id = run_id


class Conflict(RunyardError):
    """The request clashes with the current state of a run."""


class IllegalTransition(Conflict):
    def __init__(self, run_id: int, old: str, new: str) -> None:
        super().__init__(f"run {run_id} is {old}: it cannot become {new}")
        self.run_id = run_id
        self.old = old
        self.new = new


class DaemonUnavailable(RunyardError):
    """The CLI could not reach the daemon, nor start one."""
