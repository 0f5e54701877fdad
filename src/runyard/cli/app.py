"""The ``runyard`` command: a Typer app whose commands are clients of the daemon's HTTP API.

Bare ``runyard`` lists the queue. Errors end in one line on stderr and an exit code
scripts can rely on: 2 for a wrong command line, 1 for everything else (not found, refused,
no daemon), 130 when interrupted. A traceback means a bug in runyard, never a user error.
"""

import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from runyard import __version__
from runyard.cli.context import CliContext, ColorOption, state
from runyard.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CliUsageError
from runyard.cli.transport import TransportError
from runyard.errors import RunyardError

# Each command's module, in the order `runyard --help` lists them. A command line imports
# only the module of the command it names (Typer inspects every registered function's
# signature when it builds a group, and the modules import what their commands need: the
# client, Rich, the spec parser); `--help` or a name that is none of these load them all.
COMMANDS = {
    "commands_submit": ("submit",),
    "commands_runs": ("ls", "show", "wait"),
    "commands_logs": ("logs",),
    "commands_metrics": ("metrics", "export", "compare", "reingest"),
    "commands_check": ("check",),
    "commands_actions": ("cancel", "retry", "pause", "resume", "delete"),
    "commands_daemon": ("serve", "shutdown", "gpus"),
}
MODULE_OF = {name: module for module, names in COMMANDS.items() for name in names}


def load_commands(module: str) -> dict[str, Any]:
    """The click commands ``runyard.cli.<module>`` registers, by name."""
    commands = typer.Typer()
    importlib.import_module(f"runyard.cli.{module}").register(commands)
    return dict(typer.main.get_group(commands).commands)


class LazyCommands(TyperGroup):
    """The root group: a command's module is imported when the command is looked up."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = MODULE_OF.get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            self.commands.update(load_commands(module))
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(MODULE_OF)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in MODULE_OF:  # a typo: suggestions need every name
            for module in COMMANDS:
                self.commands.update(load_commands(module))
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="runyard",
    cls=LazyCommands,
    help="A queue for training runs on your own GPU machines. Bare `runyard` lists the queue.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"runyard {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    color: ColorOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = CliContext(color=color)
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        from runyard.cli.commands_runs import list_queue

        list_queue(state(ctx))


def fail(message: str, code: int) -> int:
    print(f"runyard: {' '.join(message.split())}", file=sys.stderr)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code instead of leaving the process."""
    try:
        app(args=argv, prog_name="runyard", standalone_mode=True)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return EXIT_FAILURE
    except CliUsageError as error:
        return fail(str(error), EXIT_USAGE)
    except RunyardError as error:
        return fail(str(error) or type(error).__name__, EXIT_FAILURE)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)
    except TransportError as error:
        return fail(f"talking to the daemon failed: {error}", EXIT_FAILURE)
    return 0


def main() -> None:
    """The console script ``runyard``."""
    sys.exit(run())
