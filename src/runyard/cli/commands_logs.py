"""``runyard logs``: every byte an attempt printed, as is; ``-f`` follows across retries.

The bytes go to stdout untouched (no decoding, no colour), so ``runyard logs 3 > out.log``
equals the attempt's ``output.log``. What runyard itself has to say goes to stderr.
"""

import sys
import time
from typing import Annotated, Any, BinaryIO

import typer

from runyard.cli.client import DaemonClient
from runyard.cli.commands_runs import ending
from runyard.cli.context import state, warn
from runyard.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, ApiError
from runyard.cli.selectors import parse_run_id
from runyard.domain.status import FINISHED_NAMES as FINISHED

POLL_S = 0.2


def _out() -> BinaryIO:
    return sys.stdout.buffer


def _write(data: bytes) -> None:
    out = _out()
    out.write(data)
    out.flush()


def print_log(client: DaemonClient, run_id: int, attempt: int | None) -> None:
    """Print an attempt's log as it is now (the latest attempt by default)."""
    offset = 0
    while True:
        chunk = client.read_log(run_id, attempt, offset)
        attempt = chunk.attempt or attempt
        if chunk.data:
            _write(chunk.data)
        if not chunk.data:
            return
        offset = max(chunk.next_offset, offset + len(chunk.data))


def follow_log(client: DaemonClient, run_id: int, attempt: int | None) -> int:
    """Print the log as it grows, moving on to each retry, until the run has ended.

    Returns the exit code: 0 if the run completed, 1 otherwise.
    """
    run = client.get_run(run_id)
    numbers = [int(a["number"]) for a in run.get("attempts") or ()]
    number = attempt if attempt is not None else (numbers[-1] if numbers else None)
    while number is None:  # not started yet: wait for its first attempt
        if run.get("status") in FINISHED:
            warn(f"{ending(run)} before it started")
            return EXIT_FAILURE
        time.sleep(POLL_S)
        run = client.get_run(run_id)
        numbers = [int(a["number"]) for a in run.get("attempts") or ()]
        number = numbers[0] if numbers else None
    offset = 0
    while True:
        try:
            chunk = client.read_log(run_id, number, offset)
        except ApiError as error:
            if not error.is_not_found:
                raise
            client.get_run(run_id)  # the run itself gone: that 404 ends us
            time.sleep(POLL_S)  # the attempt's log is not there yet
            continue
        if chunk.data:
            _write(chunk.data)
            offset = max(chunk.next_offset, offset + len(chunk.data))
            continue
        if not chunk.finished:
            time.sleep(POLL_S)
            continue
        run = client.get_run(run_id)
        later = sorted(
            int(a["number"]) for a in run.get("attempts") or () if int(a["number"]) > number
        )
        if later:
            previous = _attempt(run, number)
            why = f" ({previous['reason']})" if previous and previous.get("reason") else ""
            warn(f"attempt {number} of run {run_id} ended{why}; following attempt {later[0]}")
            number, offset = later[0], 0
            continue
        if run.get("status") in FINISHED:
            if run.get("status") != "completed":
                warn(ending(run))
                return EXIT_FAILURE
            return 0
        time.sleep(POLL_S)  # a retry's backoff, or the run's end not yet recorded


def _attempt(run: dict[str, Any], number: int) -> dict[str, Any] | None:
    return next((a for a in run.get("attempts") or () if int(a["number"]) == number), None)


def logs(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="The run's id.", show_default=False)],
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Follow the output (and retries) until the run ends; exit 1 unless it completed.",
        ),
    ] = False,
    attempt: Annotated[
        int | None,
        typer.Option("--attempt", "-a", min=1, help="Which attempt (default: the latest)."),
    ] = None,
) -> None:
    """Print what a run printed: its latest attempt, or --attempt N."""
    run_id = parse_run_id(run)
    client = state(ctx).client()
    if follow:
        try:
            code = follow_log(client, run_id, attempt)
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if code:
            raise typer.Exit(code)
        return
    data = client.get_run(run_id)
    if not data.get("attempts"):
        why = f": {data['waiting_for']}" if data.get("waiting_for") else ""
        warn(f"run {run_id} has no output yet, it is {data.get('status')}{why}")
        return
    print_log(client, run_id, attempt)


def register(app: typer.Typer) -> None:
    app.command()(logs)
