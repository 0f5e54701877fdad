"""``cancel``, ``retry``, ``pause``, ``resume``, ``delete``: one verb, many runs.

Runs are named by ids, ranges or filters (``cancel 3-7``, ``retry --status failed``).
Ranges and filters pick only the runs the verb applies to (``cancel --all`` leaves finished
runs alone); a run named by its id is always tried and refused with the daemon's reason.
Cancelling or deleting more than one run asks first on a terminal; ``-y`` does not ask.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from runyard.cli.context import state, warn
from runyard.cli.errors import EXIT_FAILURE, ApiError
from runyard.cli.options import AllOption, RunsArgument, StatusOption, TagOption, YesOption
from runyard.cli.selectors import parse_selection, require_selection, resolve


@dataclass(frozen=True)
class Verb:
    name: str
    done: str  # what the line says once the daemon took it
    applies_to: frozenset[str]  # statuses that ranges and filters pick
    destructive: bool


VERBS = {
    "cancel": Verb(
        "cancel",
        "cancelled",
        frozenset({"queued", "waiting", "preparing", "running", "paused"}),
        True,
    ),
    "retry": Verb("retry", "queued again", frozenset({"failed", "cancelled", "lost"}), False),
    "pause": Verb("pause", "paused", frozenset({"preparing", "running"}), False),
    "resume": Verb("resume", "resumed", frozenset({"paused"}), False),
    "delete": Verb("delete", "deleted", frozenset({"completed", "failed", "cancelled", "lost"}), True),
}


def confirm(question: str) -> bool:
    """Ask on a terminal; elsewhere (a script, a pipe) the answer is yes."""
    if not sys.stdin.isatty():
        return True
    return typer.confirm(question, default=False, err=True)


def apply_verb(
    ctx: typer.Context,
    verb: Verb,
    runs: list[str] | None,
    status: list[str] | None,
    tag: list[str] | None,
    everything: bool,
    yes: bool,
) -> None:
    selection = parse_selection(runs, status, tag, everything)
    require_selection(selection, verb.name)
    client = state(ctx).client()
    targets, missing = resolve(client, selection, verb.applies_to)
    failed = bool(missing)
    for run_id in missing:
        warn(f"run {run_id} not found")
    if not targets:
        if not missing:
            warn(f"no runs to {verb.name}")
        raise typer.Exit(EXIT_FAILURE if failed else 0)
    if verb.destructive and selection.is_bulk and not yes and len(targets) > 1:
        listed = " ".join(str(r["id"]) for r in targets[:20]) + (" …" if len(targets) > 20 else "")
        if not confirm(f"{verb.name} {len(targets)} runs ({listed})?"):
            warn("nothing done")
            raise typer.Exit(EXIT_FAILURE)
    for run in targets:
        try:
            after = client.act(int(run["id"]), verb.name)
        except ApiError as error:
            if error.status_code >= 500:
                raise
            warn(error.detail)
            failed = True
            continue
        print(result_line(verb, after))
    if failed:
        raise typer.Exit(EXIT_FAILURE)


def result_line(verb: Verb, run: dict[str, Any]) -> str:
    """``run 3 cancelled``; ``run 4 cancel requested (running)`` while it is still stopping."""
    status = run.get("status")
    taken = {
        "cancel": status == "cancelled",
        "retry": status in ("queued", "waiting", "preparing", "running"),
        "pause": status == "paused",
        "resume": status in ("running", "preparing"),
        "delete": bool(run.get("deleted")),
    }[verb.name]
    return (
        f"run {run['id']} {verb.done}"
        if taken
        else f"run {run['id']} {verb.name} requested ({status})"
    )


def _command(verb: Verb) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        runs: RunsArgument = None,
        status: StatusOption = None,
        tag: TagOption = None,
        all_: AllOption = False,
        yes: YesOption = False,
    ) -> None:
        apply_verb(ctx, verb, runs, status, tag, all_, yes)

    command.__name__ = verb.name
    return command


HELP = {
    "cancel": "Cancel runs in any state: queued, waiting, paused or running (the whole process group is stopped).",
    "retry": "Queue finished runs again, each as a new attempt with its own log"
    " (ranges, --status and --all pick failed, cancelled and lost runs; name a completed run"
    " by its id to run it again).",
    "pause": "Pause running runs (SIGSTOP to the process group); their GPUs stay theirs.",
    "resume": "Resume paused runs (SIGCONT).",
    "delete": "Delete finished runs with their metrics, events and files (ranges, --status and"
    " --all pick finished runs only; a run still going must be cancelled first).",
}


def register(app: typer.Typer) -> None:
    for verb in VERBS.values():
        app.command(verb.name, help=HELP[verb.name])(_command(verb))
