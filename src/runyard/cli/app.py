"""The ``runyard`` command: a Typer app whose commands are clients of the daemon's HTTP API.

Bare ``runyard`` lists the queue. Errors end in one line on stderr and an exit code
scripts can rely on: 2 for a wrong command line, 1 for everything else (not found, refused,
no daemon), 130 when interrupted. A traceback means a bug in runyard, never a user error.
"""

import sys
from typing import Annotated

import typer

from runyard import __version__
from runyard.cli import (
    commands_actions,
    commands_check,
    commands_daemon,
    commands_logs,
    commands_metrics,
    commands_runs,
    commands_submit,
)
from runyard.cli.context import CliContext, ColorOption, state
from runyard.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CliUsageError
from runyard.errors import RunyardError

app = typer.Typer(
    name="runyard",
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
        commands_runs.list_queue(state(ctx))


for module in (
    commands_submit,
    commands_runs,
    commands_logs,
    commands_metrics,
    commands_check,
    commands_actions,
    commands_daemon,
):
    module.register(app)


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
    except Exception as error:
        if type(error).__module__.split(".")[0] != "httpx":
            raise
        return fail(f"talking to the daemon failed: {error}", EXIT_FAILURE)
    return 0


def main() -> None:
    """The console script ``runyard``."""
    sys.exit(run())
