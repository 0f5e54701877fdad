"""Errors only the CLI raises, and the exit code each one ends the process with.

    RunyardError (runyard.errors)
    ├── CliUsageError   the command line itself is wrong (exit 2, like Typer's bad options)
    └── ApiError        the daemon refused a request (exit 1); carries its JSON error body

``InvalidSpec`` raised while the CLI reads its own flags (``--gpus 3-1``) is a usage error
too; the same error coming back from the daemon is not (exit 1).
"""

from __future__ import annotations

from runyard.errors import RunyardError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliUsageError(RunyardError):
    """The arguments cannot be understood; found by the CLI before asking the daemon."""


class ApiError(RunyardError):
    """A 4xx/5xx answer of the daemon, with its ``error`` code, ``detail`` and ``field``."""

    def __init__(self, status_code: int, error: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.field = field

    @property
    def is_not_found(self) -> bool:
        return self.status_code == 404 or self.error == "not_found"
