"""What every command shares: settings, the daemon client and the consoles, built lazily.

``--help`` and ``--version`` build none of them; a command that prints builds Rich only
when it draws; the settings are read from ``RUNYARD_*`` once, when first needed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

from runyard.cli.errors import CliUsageError

if TYPE_CHECKING:
    from rich.console import Console

    from runyard.cli.client import DaemonClient
    from runyard.settings import Settings


@dataclass
class CliContext:
    """Built by the top-level callback and handed to every command as ``ctx.obj``."""

    color: bool | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _client: DaemonClient | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def client(self) -> DaemonClient:
        """This home's daemon, started in the background if none answers."""
        if self._client is None:
            from runyard.cli.client import connect

            self._client = connect(self.settings)
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
