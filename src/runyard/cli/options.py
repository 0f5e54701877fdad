"""Arguments and options that several commands share, declared once."""

from typing import Annotated

import typer

RunArgument = Annotated[str, typer.Argument(help="The run's id.", show_default=False)]
RunsArgument = Annotated[
    list[str] | None, typer.Argument(help="Run ids or ranges: 3 5 9, 3-7.", show_default=False)
]
StatusOption = Annotated[
    list[str] | None, typer.Option("--status", "-s", help="Runs in this status (repeat, or a,b).")
]
TagOption = Annotated[
    list[str] | None, typer.Option("--tag", "-t", help="Runs with this tag (repeat: any of them).")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (flat, stable keys) instead of a table.")
]
AllOption = Annotated[bool, typer.Option("--all", help="Every run this applies to.")]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask before acting on many runs.")
]
