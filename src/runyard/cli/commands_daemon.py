"""The daemon itself: ``serve`` (foreground), ``shutdown``, and ``gpus`` (what it sees)."""

import time
from typing import Annotated

import typer

from runyard.cli.context import ColorOption, load_settings, state, warn
from runyard.cli.errors import CliUsageError
from runyard.errors import Conflict, DaemonUnavailable, InvalidSpec, RunyardError

STOP_TIMEOUT_S = 30.0


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1, RUNYARD_HOST).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port to bind (default 8420, RUNYARD_PORT; 0: any)."),
    ] = None,
    gpus: Annotated[
        str | None, typer.Option(help="Only these GPUs, e.g. 0,2,3 (default: all).")
    ] = None,
    cpu_slots: Annotated[
        int | None, typer.Option("--cpu-slots", min=1, help="How many CPU-only runs at once.")
    ] = None,
    hold: Annotated[
        bool, typer.Option("--hold", help="Accept runs but start none (maintenance; RUNYARD_HOLD).")
    ] = False,
    background: Annotated[bool, typer.Option("--background", hidden=True)] = False,
) -> None:
    """Run the daemon in the foreground (other commands start one in the background)."""
    from runyard.cli.client import find_daemon
    from runyard.domain.spec_text import parse_gpu_ids

    overrides: dict[str, object] = {"host": host, "port": port, "cpu_slots": cpu_slots, "hold": hold or None}
    if gpus is not None:
        try:
            overrides["gpus"] = ",".join(str(i) for i in parse_gpu_ids(gpus))
        except InvalidSpec as error:
            raise CliUsageError(str(error)) from None
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    if not background:
        running = find_daemon(settings)
        if running is not None:
            raise Conflict(
                f"a daemon already runs for {settings.home} (pid {running.pid}, {running.url});"
                " stop it with `runyard shutdown`"
            )
    from runyard.daemon import serve as run_daemon

    try:
        run_daemon(settings, port_fallback=background)
    except OSError as error:
        raise DaemonUnavailable(
            f"cannot serve on {settings.host}:{settings.port}: {error.strerror or error}"
        ) from None


def shutdown(ctx: typer.Context) -> None:
    """Stop the daemon. Running attempts go on and are re-attached when it starts again."""
    from runyard.cli.client import DaemonClient, find_daemon

    settings = state(ctx).settings
    info = find_daemon(settings)
    if info is None:
        warn(f"no daemon is running for {settings.home}")
        return
    with DaemonClient(info) as client:
        client.shutdown()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(info.pid):
        if time.monotonic() > deadline:
            raise RunyardError(
                f"the daemon (pid {info.pid}) is still stopping after {STOP_TIMEOUT_S:g} s"
            )
        time.sleep(0.05)
    print(
        f"stopped the daemon (pid {info.pid}); running attempts go on and are re-attached when it starts again"
    )


def _alive(pid: int) -> bool:
    """Whether the process still runs (a zombie waiting for its reaper counts as gone)."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def gpus(
    ctx: typer.Context,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table.")
    ] = False,
    color: ColorOption = None,
) -> None:
    """Show the GPUs the daemon sees: memory, utilisation, and which runs or strangers use them."""
    cli = state(ctx, color)
    inventory = cli.client().gpus()
    if json_out:
        from runyard.cli.render import flat_gpus, print_json

        print_json(flat_gpus(inventory))
    else:
        from runyard.cli.render import print_gpus

        print_gpus(cli.console(), inventory)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(shutdown)
    app.command()(gpus)
