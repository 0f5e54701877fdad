"""What every command shares: settings, the daemon client and the consoles, built lazily.

``--help`` and ``--version`` build none of them; a command that prints builds Rich only
when it draws; the settings are read from ``RUNYARD_*`` once, when first needed.

A command that only talks to the daemon needs no more of the settings than the home, where
``server.json`` says the rest. When ``RUNYARD_HOME`` is the only ``RUNYARD_*`` variable set,
:func:`load_client_settings` reads it directly (pydantic-settings costs ~35 ms a command);
with any other, it builds :class:`~runyard.settings.Settings`, so that a bad value is the
same usage error as before.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runyard.cli.errors import CliUsageError
from runyard.domain.home import HomeFiles

if TYPE_CHECKING:
    from rich.console import Console

    from runyard.cli.client import DaemonClient, DaemonHome
    from runyard.settings import Settings


@dataclass
class CliContext:
    """Built by the top-level callback and handed to every command as ``ctx.obj``."""

    color: bool | None = None
    _settings: DaemonHome | None = field(default=None, repr=False)
    _client: DaemonClient | None = field(default=None, repr=False)

    @property
    def settings(self) -> DaemonHome:
        """What the client needs of the settings (``serve`` reads them all itself)."""
        if self._settings is None:
            self._settings = load_client_settings()
        return self._settings

    def client(self) -> DaemonClient:
        """This home's daemon, started in the background if none answers."""
        if self._client is None:
            from runyard.cli.client import connect

            self._client = connect(self.settings)
        return self._client

    def running_client(self) -> DaemonClient | None:
        """This home's daemon if one answers now; None (and nothing started) if none does."""
        if self._client is None:
            from runyard.cli.client import DaemonClient, find_daemon

            info = find_daemon(self.settings)
            if info is None:
                return None
            self._client = DaemonClient(info)
        return self._client

    def console(self, *, stderr: bool = False) -> Console:
        from runyard.cli.render import make_console

        return make_console(self.color, stderr=stderr)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def load_settings(**overrides: object) -> Settings:
    """``Settings`` from the environment (and ``overrides``); a bad value is one usage line."""
    from pydantic import ValidationError

    from runyard.settings import Settings

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        source = "--" + name.replace("_", "-") if name in overrides else f"RUNYARD_{name.upper()}"
        raise CliUsageError(f"{source}: {first.get('msg', 'invalid value')}") from None


@dataclass(frozen=True)
class HomeSettings(HomeFiles):
    """The settings of a client whose environment sets none but ``RUNYARD_HOME``."""

    home: Path

    @cached_property
    def autostart_timeout_s(self) -> float:
        # Only read when starting a daemon, which takes far longer than pydantic does.
        return load_settings().autostart_timeout_s


def load_client_settings() -> DaemonHome:
    """The settings as :func:`load_settings` reads them, without pydantic when it can."""
    home = _home_alone()
    return load_settings() if home is None else HomeSettings(home)


def _home_alone() -> Path | None:
    """``Settings().home`` when ``RUNYARD_HOME`` (in any case, as pydantic-settings reads
    it) is the only ``RUNYARD_*`` variable; None when ``Settings`` must decide."""
    names = [name for name in os.environ if name.lower().startswith("runyard_")]
    if len(names) > 1 or any(name.lower() != "runyard_home" for name in names):
        return None
    try:
        home = Path(os.environ[names[0]]) if names else Path.home() / ".runyard"
        return home.expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # Settings says what it makes of it
        return None


ColorOption = Annotated[
    bool | None,
    typer.Option(
        "--color/--no-color",
        help="Colour the output (default: only on a terminal, unless NO_COLOR is set).",
    ),
]


def state(ctx: typer.Context, color: bool | None = None) -> CliContext:
    """The shared :class:`CliContext` of this invocation; ``color`` given to a command wins."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    if color is not None:
        obj.color = color
    return obj


def warn(message: str) -> None:
    """One diagnostic line on stderr, in the ``runyard: …`` form errors use."""
    print(f"runyard: {message}", file=sys.stderr)
