"""Reading runs: ``ls`` (and bare ``runyard``), ``show`` and ``wait``."""

import time
from typing import Annotated, Any

import typer

from runyard.cli.context import CliContext, ColorOption, state, warn
from runyard.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, ApiError, CliUsageError
from runyard.cli.options import JsonOption, StatusOption, TagOption
from runyard.cli.selectors import (
    STATUS_NAMES,
    parse_run_id,
    parse_selection,
    parse_statuses,
    resolve,
)
from runyard.domain.status import FINISHED_NAMES as FINISHED

RECENT_FINISHED = 20  # the table hides older finished runs unless asked (--all, a filter)
POLL_S = 0.25


def select_for_listing(
    runs: list[dict[str, Any]], *, limit: int | None, everything: bool
) -> tuple[list[dict[str, Any]], int]:
    """The runs a listing shows, in id order, and how many older finished ones it left out."""
    runs = sorted(runs, key=lambda r: int(r["id"]))
    if limit is not None:
        return runs[-limit:] if limit > 0 else [], 0
    if everything:
        return runs, 0
    finished = [r for r in runs if r.get("status") in FINISHED]
    hidden = (
        {id(r) for r in finished[:-RECENT_FINISHED]} if len(finished) > RECENT_FINISHED else set()
    )
    return [r for r in runs if id(r) not in hidden], len(hidden)


def list_queue(
    cli: CliContext,
    statuses: list[str] | None = None,
    tags: list[str] | None = None,
    json_out: bool = False,
    limit: int | None = None,
    everything: bool = False,
    sort: str | None = None,
    search: str | None = None,
) -> None:
    """Print the runs; the table leaves out all but the latest finished ones unless filtered.

    In id order, unless ``sort`` asks for the daemon's order (``--limit`` then takes the
    first N of it rather than the last N ids).
    """
    wanted = parse_statuses(statuses or ())
    tag_list = sorted(set(tags or ()))
    client = cli.client()
    hidden = 0
    if sort is not None:
        shown = client.list_runs(wanted, tag_list, sort=sort, search=search, limit=limit)
    elif limit is not None:
        latest = client.list_runs(wanted, tag_list, sort="-id", search=search, limit=limit)
        shown = latest[::-1]
    elif everything or json_out or wanted or tag_list or search:
        shown = client.list_runs(wanted, tag_list, search=search)
    else:
        shown, hidden = _queue_and_recent(client)
    if json_out:
        from runyard.cli.render import flat_run, print_json

        print_json([flat_run(r) for r in shown])
        return
    from runyard.cli.render import print_runs

    print_runs(cli.console(), shown)
    if hidden:
        warn(f"{hidden} older finished runs not shown (runyard ls --all)")


def _queue_and_recent(client: Any) -> tuple[list[dict[str, Any]], int]:
    """Every unfinished run and the latest finished ones, and how many finished runs that
    leaves out: two requests, however many runs the daemon keeps."""
    unfinished = client.list_runs(sorted(set(STATUS_NAMES) - FINISHED))
    recent = client.list_page(sorted(FINISHED), sort="-id", limit=RECENT_FINISHED)
    # A run that ended between the two requests is in both: its finished self wins.
    merged = {int(r["id"]): r for r in [*unfinished, *recent["runs"]]}
    shown, _ = select_for_listing(list(merged.values()), limit=None, everything=False)
    hidden = int(recent.get("total", len(recent["runs"]))) - len(recent["runs"])
    return shown, max(0, hidden)


def ls(
    ctx: typer.Context,
    status: StatusOption = None,
    tag: TagOption = None,
    json_out: JsonOption = False,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Only the last N runs (with --sort: the first N in that order)."),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", "-a", help="Every run, old finished ones too.")
    ] = False,
    sort: Annotated[
        str | None,
        typer.Option(
            help="Order by id, name, status, priority, created_at, started_at, finished_at, "
            "duration, attempts or metric:KEY[:last|best|min|max]; a leading '-' for descending "
            "(runs without the value come last).",
            show_default=False,
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            help="Only runs whose name or command contains this text (any case).",
            show_default=False,
        ),
    ] = None,
    color: ColorOption = None,
) -> None:
    """List runs: the queue, what runs, and the latest finished runs; for a waiting run, why."""
    list_queue(state(ctx, color), status, tag, json_out, limit, all_, sort, search)


def show(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(help="The run's id.", show_default=False)],
    json_out: JsonOption = False,
    color: ColorOption = None,
) -> None:
    """Show one run in full: settings, progress, final results, metrics, warnings, attempts.

    Progress is epoch/total, step and ETA; the final accuracy says which field it came from.
    """
    cli = state(ctx, color)
    run_id = parse_run_id(run)
    data = cli.client().get_run(run_id)
    if json_out:
        from runyard.cli.render import flat_run, print_json

        print_json(flat_run(data, metrics=True))
    else:
        from runyard.cli.render import print_run

        print_run(cli.console(), data)


def ending(run: dict[str, Any]) -> str:
    """``run 3 completed``, ``run 4 failed (oom, exit code 1)``: one line per finished run."""
    from runyard.cli.render import ending_text

    text = f"run {run['id']} {run.get('status')}"
    detail = ending_text(run) if run.get("status") != "completed" else ""
    return f"{text} ({detail})" if detail else text


def wait(
    ctx: typer.Context,
    runs: Annotated[
        list[str] | None, typer.Argument(help="Run ids or ranges (3 5 9, 3-7).", show_default=False)
    ] = None,
    status: StatusOption = None,
    tag: TagOption = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code tells.")
    ] = False,
) -> None:
    """Wait until the runs have ended; exit 0 only if all of them completed."""
    selection = parse_selection(runs, status, tag)
    if selection.is_empty:
        raise CliUsageError(
            "say which runs to wait for: ids (3 5 9), ranges (3-7), --status S or --tag T"
        )
    client = state(ctx).client()
    found, missing = resolve(client, selection)
    if missing:
        raise ApiError(404, "not_found", f"run {missing[0]} not found")
    pending = {int(r["id"]): r for r in found}
    all_completed = True
    try:
        while pending:
            for run_id, run in sorted(pending.items()):
                if run.get("status") in FINISHED:
                    all_completed &= run.get("status") == "completed"
                    if not quiet:
                        print(ending(run), flush=True)
                    del pending[run_id]
            if pending:
                time.sleep(POLL_S)
                pending = _refresh(client, pending)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if not all_completed:
        raise typer.Exit(EXIT_FAILURE)


def _refresh(client: Any, pending: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The latest state of the runs still awaited (one request when there are many)."""
    if len(pending) <= 10:
        fresh = {}
        for run_id in pending:
            run = client.find_run(run_id)
            fresh[run_id] = (
                run if run is not None else {"id": run_id, "status": "lost", "reason": "deleted"}
            )
        return fresh
    latest = {int(r["id"]): r for r in client.list_runs()}
    return {i: latest.get(i, {"id": i, "status": "lost", "reason": "deleted"}) for i in pending}


def register(app: typer.Typer) -> None:
    app.command()(ls)
    app.command()(show)
    app.command()(wait)
