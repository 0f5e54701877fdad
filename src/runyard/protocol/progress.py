"""Reading one PROGRESS report (PROTOCOL.md §2), without any run state.

``read_progress`` takes the segment (leading whitespace already removed, so it starts
with ``PROGRESS:``) and returns its fields, or the warning that rejects it. Checks that
need the run's history (epoch range against a carried total, a changed total, accuracy
and non-finite checks shared with other sources) are the parser's.

A report with a missing or ill-typed required field is still read, with a
``missing_field`` problem: status counts as ``"training"``, and the parser takes a missing
epoch or total from the previous report. Dropping the whole line would hide every metric
of a script that forgot one field, and the warning already tells the user.

orjson reads the JSON; a line it rejects is tried again with the standard library, which
accepts the ``NaN``/``Infinity`` that ``json.dumps`` writes and integers beyond 64 bits.
Lists and ``null`` values are ignored: they are neither metrics nor info.
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

import orjson

from runyard.protocol.model import WarningKind

PREFIX = "PROGRESS:"
STATUSES = frozenset({"training", "completed"})
RESERVED = frozenset({"epoch", "total_epochs", "status", "step"})
ALIASES = (("accuracy", "test_accuracy"), ("loss", "train_loss"))


class ProgressFields(NamedTuple):
    """A PROGRESS report's content: required fields (None when missing), metrics, info."""

    epoch: int | None
    total_epochs: int | None
    status: str | None
    step: int | None
    metrics: dict[str, float]
    info: dict[str, str | bool]
    renamed: dict[str, str]
    problems: list[tuple[WarningKind, str]]


def read_progress(body: str) -> ProgressFields | tuple[WarningKind, str]:
    """The report in ``body``, or ``(warning kind, message)`` when it is no report at all."""
    payload = body[len(PREFIX) :]
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            obj = json.loads(payload)
        except (ValueError, RecursionError) as error:
            return WarningKind.MALFORMED_JSON, f"PROGRESS payload is not JSON: {error}"
    if type(obj) is not dict:
        return (
            WarningKind.NOT_AN_OBJECT,
            f"PROGRESS payload is a JSON {type(obj).__name__}, not an object",
        )

    problems: list[tuple[WarningKind, str]] = []
    # Plain in-range integers (the usual case) skip the general checks.
    epoch = obj.get("epoch")
    if type(epoch) is not int or not -MAX_INT <= epoch <= MAX_INT:
        epoch = _required_int(epoch, "epoch", problems)
    total = obj.get("total_epochs")
    if type(total) is not int or not -MAX_INT <= total <= MAX_INT:
        total = _required_int(total, "total_epochs", problems)
    if total is not None and total < 1:
        problems.append(
            (WarningKind.MISSING_FIELD, f"total_epochs must be an integer >= 1, not {total}")
        )
        total = None
    status = obj.get("status")
    if type(status) is not str or status not in STATUSES:
        if status is None:
            problems.append((WarningKind.MISSING_FIELD, 'status is missing ("training" assumed)'))
        else:
            problems.append(
                (
                    WarningKind.UNKNOWN_STATUS,
                    f'status {status!r} is neither "training" nor "completed"',
                )
            )
            if not isinstance(status, str):
                status = None
    step = obj.get("step")
    if type(step) is not int or not 0 <= step <= MAX_INT:
        step = _as_int(step)
    if step is not None and step < 0:
        step = None

    metrics: dict[str, float] = {}
    info: dict[str, str | bool] = {}
    nested: list[tuple[str, dict[str, Any]]] = []
    for key, value in obj.items():
        kind = type(value)
        if key in RESERVED:
            continue
        if kind is float:
            metrics[key] = value
        elif kind is int:
            metrics[key] = _int_to_float(value)
        elif kind is str or kind is bool:
            info[key] = value
        elif kind is dict:
            nested.append((key + ".", value))
    if nested:
        _flatten(nested, metrics, info)
    renamed: dict[str, str] = {}
    for alias, name in ALIASES:
        if alias in metrics and name not in metrics:
            metrics[name] = metrics.pop(alias)
            renamed[name] = alias
    return tuple.__new__(ProgressFields, (epoch, total, status, step, metrics, info, renamed, problems))


def _required_int(raw: object, name: str, problems: list[tuple[WarningKind, str]]) -> int | None:
    value = _as_int(raw)
    if raw is None:
        problems.append((WarningKind.MISSING_FIELD, f"{name} is missing"))
    elif value is None:
        problems.append((WarningKind.MISSING_FIELD, f"{name} must be an integer, not {raw!r}"))
    return value


MAX_INT = 2**53
"""Epochs and steps beyond this are not integers a run can mean (and would not fit x)."""


def _as_int(value: object) -> int | None:
    """JSON integers, and floats that are whole numbers (``3.0``); never booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -MAX_INT <= value <= MAX_INT else None
    if isinstance(value, float) and value.is_integer() and -MAX_INT <= value <= MAX_INT:
        return int(value)
    return None


def _flatten(
    stack: list[tuple[str, dict[str, Any]]], metrics: dict[str, float], info: dict[str, str | bool]
) -> None:
    """Nested objects get dotted names. Iterative: a hostile line may nest objects deeper
    than Python's recursion limit."""
    while stack:
        prefix, current = stack.pop()
        for key, value in current.items():
            name = prefix + key
            if isinstance(value, bool | str):
                info[name] = value
            elif isinstance(value, float):
                metrics[name] = value
            elif isinstance(value, int):
                metrics[name] = _int_to_float(value)
            elif isinstance(value, dict):
                stack.append((name + ".", value))


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.copysign(math.inf, value)
