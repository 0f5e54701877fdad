"""``runyard submit``: queue a command, or a copy of an earlier run (``--like``)."""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runyard.cli.context import state
from runyard.cli.errors import ApiError, CliUsageError
from runyard.cli.selectors import parse_run_id
from runyard.cli.spec_args import SubmitOptions, build_spec, check_spec, submitter_env

if TYPE_CHECKING:
    from runyard.cli.client import DaemonClient

SUBMIT_HELP = """Queue COMMAND (argv, exec'd as is; after `--`) and print the new run's id.

Without --gpus the daemon decides: 1 GPU on a machine that has any, else the CPU.
Chain runs with `--after $(runyard submit -q ...)`.
"""


def _option(*names: str, metavar: str | None = None, help: str) -> Any:
    return typer.Option(*names, metavar=metavar, help=help, show_default=False)


Text = str | None
Texts = list[str] | None


def submit(
    ctx: typer.Context,
    command: Annotated[
        Texts,
        typer.Argument(
            metavar="COMMAND [ARG]...", help="What to run (after --).", show_default=False
        ),
    ] = None,
    name: Annotated[
        Text, _option("--name", "-n", metavar="NAME", help="A name for the run.")
    ] = None,
    gpus: Annotated[
        Text,
        _option(
            "--gpus",
            metavar="K|MIN-MAX",
            help="GPUs: K, or MIN-MAX (start with MIN, take up to MAX); 0 = CPU.",
        ),
    ] = None,
    gpu_ids: Annotated[
        Text,
        _option("--gpu-ids", metavar="1,3", help="Pin to these GPUs (waits until they are free)."),
    ] = None,
    gpu_mem: Annotated[
        Text,
        _option(
            "--gpu-mem",
            metavar="SIZE",
            help="GPU memory needed, e.g. 10G; lets small runs share a GPU.",
        ),
    ] = None,
    priority: Annotated[
        int | None, _option("--priority", metavar="P", help="Higher runs first (default 0).")
    ] = None,
    retries: Annotated[
        int | None, _option("--retries", metavar="N", help="Retry a failed run up to N times.")
    ] = None,
    retry_on: Annotated[
        Text,
        _option(
            "--retry-on", metavar="any|oom|never", help="Which failures earn a retry (default any)."
        ),
    ] = None,
    workdir: Annotated[
        Text, _option("--workdir", metavar="DIR", help="Where to run (default: here).")
    ] = None,
    env: Annotated[
        Texts, _option("--env", "-e", metavar="KEY=VALUE", help="Set for the run; repeat.")
    ] = None,
    after: Annotated[
        Texts,
        _option(
            "--after",
            metavar="RUN",
            help="Start once RUN completed (if it fails, so does this); repeat.",
        ),
    ] = None,
    after_any: Annotated[
        Texts, _option("--after-any", metavar="RUN", help="Start once RUN ended, however; repeat.")
    ] = None,
    swap: Annotated[
        Texts,
        _option(
            "--swap",
            metavar="SRC:TARGET",
            help="SRC stands in for TARGET (in the workdir) during this run; repeat.",
        ),
    ] = None,
    timeout: Annotated[
        Text, _option("--timeout", metavar="DURATION", help="Stop it after e.g. 2h, 1h30m, 90s.")
    ] = None,
    tag: Annotated[
        Texts, _option("--tag", metavar="TAG", help="A tag to select runs by; repeat.")
    ] = None,
    setup: Annotated[
        Text,
        _option("--setup", metavar="'CMD'", help="A shell command run first (status preparing)."),
    ] = None,
    shell: Annotated[
        Text,
        _option(
            "--shell", metavar="'CMD'", help="Run this line through /bin/sh -c instead of COMMAND."
        ),
    ] = None,
    like: Annotated[
        Text,
        _option(
            "--like",
            metavar="RUN",
            help="Copy RUN's spec; the flags given (and a new COMMAND) change the copy.",
        ),
    ] = None,
    oom_batch_env: Annotated[
        Text,
        _option(
            "--oom-batch-env",
            metavar="VAR",
            help="Env var holding the batch size; halved on each OOM retry.",
        ),
    ] = None,
    oom_grow_mem: Annotated[
        float | None,
        _option("--oom-grow-mem", metavar="F", help="Multiply --gpu-mem by F on each OOM retry."),
    ] = None,
    metric_pattern: Annotated[
        Texts,
        _option(
            "--metric-pattern",
            metavar="REGEX",
            help="A regex whose named groups are metrics; repeat.",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the new run's id.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the new run as JSON.")] = False,
) -> None:
    cli = state(ctx)
    options = SubmitOptions(
        command=list(command or ()),
        name=name,
        gpus=gpus,
        gpu_ids=gpu_ids,
        gpu_mem=gpu_mem,
        priority=priority,
        retries=retries,
        retry_on=retry_on,
        workdir=workdir,
        env=list(env or ()),
        after=list(after or ()),
        after_any=list(after_any or ()),
        swaps=list(swap or ()),
        timeout=timeout,
        tags=list(tag or ()),
        setup=setup,
        shell=shell,
        oom_batch_env=oom_batch_env,
        oom_grow_mem=oom_grow_mem,
        metric_patterns=list(metric_pattern or ()),
    )
    like_id = parse_run_id(like) if like is not None else None
    cwd = Path(os.getcwd())
    client = cli.running_client()
    if like_id is None:
        spec = build_spec(options, cwd, environ=submitter_env(os.environ))
        if client is None:  # a contradiction must not start a daemon: check it here first
            check_spec(spec)
    if client is None:
        client = cli.client()
    if like_id is not None:
        original = client.get_run(like_id)
        spec = build_spec(
            options, cwd, base=original.get("spec") or {}, environ=submitter_env(os.environ)
        )
    run = submit_checked(client, spec)
    if quiet:
        print(run["id"])
    elif json_out:
        from runyard.cli.render import flat_run, print_json

        print_json(flat_run(run))
    else:
        why = f" ({run['waiting_for']})" if run.get("waiting_for") else ""
        print(f"run {run['id']} {run.get('status', 'queued')}{why}")


def submit_checked(client: "DaemonClient", spec: dict[str, Any]) -> dict[str, Any]:
    """Submit ``spec``. A body the daemon's spec model refuses (``invalid_request``: what
    ``check_spec`` finds) is a usage error here, in the same words, so a running daemon
    spares every submit the ~80 ms of loading that model in the CLI; what only the daemon
    can check (a workdir, free GPUs: ``invalid_spec``) stays a failure, as before."""
    try:
        return client.submit(spec)
    except ApiError as error:
        if error.status_code == 422 and error.error == "invalid_request":
            raise CliUsageError(error.detail) from None
        raise


def register(app: typer.Typer) -> None:
    app.command(
        help=SUBMIT_HELP,
        # Everything after the command's first word belongs to the command: `submit python
        # train.py --lr 3` must not read --lr as ours.
        context_settings={"allow_interspersed_args": False},
    )(submit)
