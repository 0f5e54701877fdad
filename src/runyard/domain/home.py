"""Where a ``$RUNYARD_HOME`` keeps what the daemon and the CLI both find by name."""

from __future__ import annotations

from pathlib import Path


class HomeFiles:
    """The home's own files, for anything with a ``home`` folder (the daemon's ``Settings``,
    the CLI's lighter ``HomeSettings``)."""

    home: Path

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def server_file(self) -> Path:
        """How a client reaches the daemon: url, pid, token (mode 0600)."""
        return self.home / "server.json"

    @property
    def daemon_log(self) -> Path:
        """The output of a daemon the CLI started in the background."""
        return self.home / "daemon.log"
