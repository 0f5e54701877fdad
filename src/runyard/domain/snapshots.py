"""Names of statistics snapshots: the template users configure, and what it may give."""

from __future__ import annotations

import math
import string

from runyard.errors import InvalidSpec

TEMPLATE_FIELDS = frozenset({"step", "epoch"})


def snapshot_name(template: str, step: int | float | None, epoch: int | None) -> str:
    """The file name of a snapshot from the configured template (``stats_{step}.json``,
    ``Statistik_{step}.json``, ``{epoch:03d}.json``); integral floats count as integers.

    Raises InvalidSpec for a template that is not a format string, names a field other than
    ``step`` and ``epoch``, needs a value the run has not reported yet, or yields anything
    but a plain file name (a path separator, ``..``, a leading dot, a NUL).
    """
    try:
        wanted = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        if wanted - TEMPLATE_FIELDS:
            raise ValueError(f"only {{step}} and {{epoch}} may be used, not {sorted(wanted)}")
        values = {"step": integral(step), "epoch": integral(epoch)}
        missing = sorted(f for f in wanted if values[f] is None)
        if missing:
            raise InvalidSpec(f"snapshot {template!r}: the run has reported no {missing[0]} yet")
        name = template.format(**values)
    except (ValueError, TypeError) as error:  # not a format string, or a bad format spec
        raise InvalidSpec(
            f"snapshot template {template!r}: {error}", "snapshot_template"
        ) from error
    check_file_name(name, f"snapshot template {template!r} gives {name!r}")
    return name


def integral(value: int | float | None) -> int | float | None:
    """An integral float as an int (``stats_120.json``, not ``stats_120.0.json``); NaN or
    infinity as None, since no file should be named after one."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return int(value)
    return value


def check_file_name(name: str, what: str) -> None:
    """A plain file name in the stats folder: no way out of it, not hidden (the ``.tmp``
    files are), so that a template can never write anywhere else."""
    if not name or name.startswith(".") or any(bad in name for bad in ("..", "/", "\\", "\0")):
        raise InvalidSpec(f"{what}: not a plain file name", "snapshot_template")
