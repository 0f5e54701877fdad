"""The files a run leaves in its folder, in the formats researchers otherwise write by hand.

ARCHITECTURE.md §6: ``events.jsonl`` (the facts format: one JSON object a line, each with
``schema_version``, ``moment``, ``time``, epoch, step, losses, metrics, ``epoch_time_s``),
``scalars.csv`` (one row per x) and the statistics snapshots ``stats/stats_<step>.json``
(PROTOCOL.md §10). This module only builds and writes them; when to write is the
ingester's business. Everything here is plain Python (no numpy) and safe to call from
worker threads: whole files are replaced atomically under a unique temporary name, and
event lines are appended with one ``write`` each.

JSON has no NaN: a non-finite number becomes the string ``"NaN"``, ``"Infinity"`` or
``"-Infinity"`` (as the API shows it, :func:`to_json_value`) in events and in CSV (what
``float()`` and pandas read back), and ``null`` in snapshots, which also list
the replaced values under ``non_finite`` so that nothing is lost.
"""

from __future__ import annotations

import csv
import json
import math
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from runyard.domain.metrics import csv_number, iso_time, to_json_value
from runyard.domain.snapshots import check_file_name

EVENTS_SCHEMA_VERSION = 1
SNAPSHOT_SCHEMA_VERSION = 1
BAD_ENDINGS = frozenset({"failed", "lost"})
GPU_KEYS = ("index", "name", "memory_mib", "used_mib", "utilization")


def write_file_atomic(path: Path, write: Callable[[IO[Any]], object], binary: bool = False) -> None:
    """Write a whole file so that a reader, or a crash, never sees half of it.

    The content goes to a uniquely named hidden file beside ``path`` (two threads writing
    the same file never share one), is fsynced, then renamed over ``path``. On any error
    the temporary file is removed and the error propagates.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    encoding, newline = (None, None) if binary else ("utf-8", "")
    try:
        with open(tmp, "xb" if binary else "x", encoding=encoding, newline=newline) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- events.jsonl


def moment_for(kind: str, data: Mapping[str, Any]) -> str:
    """The facts-format ``moment`` of a runyard event: on_start, on_epoch_end, on_train_end,
    on_exception, or else runyard's own kind (submitted, status, retry, warning, ...)."""
    if kind == "report":
        return "on_epoch_end"
    if kind == "status":
        to = data.get("to", data.get("status"))
        if to == "running":
            return "on_start"
        if to == "completed":
            return "on_train_end"
        if to in BAD_ENDINGS:
            return "on_exception"
    if kind == "attempt_ended" and data.get("status") in BAD_ENDINGS:
        return "on_exception"
    return kind


def event_record(
    kind: str,
    time: float,
    *,
    run_id: int,
    attempt: int | None,
    data: Mapping[str, Any] | None = None,
    epoch: int | None = None,
    step: int | None = None,
    losses: Mapping[str, float] | None = None,
    metrics: Mapping[str, float] | None = None,
    epoch_time_s: float | None = None,
) -> dict[str, Any]:
    """One line of ``events.jsonl``; every key is always present (null when unknown).

    ``losses`` and ``metrics`` are merged and split again by name, so that every number
    whose name contains ``loss`` lands in ``losses`` and every other number in ``metrics``
    whichever argument it came in; values that are not numbers are left out.
    """
    numbers = {**(metrics or {}), **(losses or {})}
    split: dict[str, dict[str, float | str]] = {"losses": {}, "metrics": {}}
    for key, value in numbers.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            split["losses" if "loss" in key.lower() else "metrics"][key] = _json_safe(value)
    return {
        "schema_version": EVENTS_SCHEMA_VERSION,
        "moment": moment_for(kind, data or {}),
        "kind": kind,
        "time": iso_time(time),
        "run_id": run_id,
        "attempt": attempt,
        "epoch": epoch,
        "step": step,
        "losses": split["losses"],
        "metrics": split["metrics"],
        "epoch_time_s": _json_safe(epoch_time_s),
        "data": _json_safe(dict(data or {})),
    }


class EventLog:
    """The append-only ``events.jsonl`` of one run.

    Each :meth:`append` is a single ``write`` to a file opened with ``O_APPEND``, so a batch
    lands whole and after whatever is already there, even with other writers. Errors (a
    full disk, a missing folder that cannot be made) raise OSError for the caller to log.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        payload = b"".join(_json_line(r) for r in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(payload)
            while view:  # a regular file takes it in one go unless the disk fills mid-way
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


# ---------------------------------------------------------------- scalars.csv


def write_scalars_csv(
    path: Path,
    rows: Iterable[tuple[float, int | None, int | None, Mapping[str, float]]],
    keys: Sequence[str],
) -> None:
    """``scalars.csv``: header ``x,epoch,step,<keys...>``, one row per x as given (sorted).

    A metric without a value at that x is an empty cell; numbers as :func:`csv_number`
    writes them everywhere (non-finite: ``NaN``, ``Infinity``, ``-Infinity``).
    """
    keys = list(keys)

    def write(f: IO[str]) -> None:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["x", "epoch", "step", *keys])
        for x, epoch, step, values in rows:
            cells = [csv_number(x), csv_number(epoch), csv_number(step)]
            cells.extend(csv_number(values.get(k)) for k in keys)
            out.writerow(cells)

    write_file_atomic(path, write)


# ---------------------------------------------------------------- snapshots


def write_snapshot(stats_dir: Path, name: str, state: Mapping[str, Any]) -> Path:
    """Write a snapshot as pretty JSON (2-space indent, UTF-8, non-ASCII kept), atomically.

    Non-finite numbers become ``null`` and are listed, by dotted path, under the top-level
    ``non_finite`` key (``{"metrics.val_loss": "NaN"}``), which is absent when there are none.
    """
    check_file_name(name, f"snapshot name {name!r}")
    replaced: dict[str, str] = {}
    clean = _nulls_for_non_finite(dict(state), "", replaced)
    if replaced:
        clean["non_finite"] = replaced
    text = json.dumps(clean, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
    path = stats_dir / name
    write_file_atomic(path, lambda f: f.write(text))
    return path


def build_snapshot(
    *,
    run: Mapping[str, Any],
    progress: Mapping[str, Any],
    metrics: Mapping[str, float],
    info: Mapping[str, Any],
    gpus: Sequence[Mapping[str, Any]],
    now: float,
) -> dict[str, Any]:
    """The content of ``stats_<step>.json`` (PROTOCOL.md §10), flat and stable::

        {"schema_version": 1,
         "run": {"id", "name", "status", "attempt", "command", "workdir", "tags"},
         "step", "epoch", "total_epochs", "eta_s", "seconds_per_epoch",
         "metrics": {name: latest value}, "info": {name: latest string/bool},
         "gpus": [{"index", "name", "memory_mib", "used_mib", "utilization"}],
         "timestamps": {"created_at", "started_at", "finished_at", "snapshot_at"}}

    Every key is always present, null when unknown. ``run`` is the run as the API renders
    it (``attempt`` is taken from its ``attempts`` list when absent); times are ISO-8601
    UTC, whether given as such or as Unix times. ``metrics`` may hold NaN:
    :func:`write_snapshot` turns it into null and lists it under ``non_finite``.
    """
    attempts = run.get("attempts") or []
    attempt = run.get("attempt")
    if attempt is None and attempts:
        attempt = attempts[-1].get("number", len(attempts))
    return {
        "schema_version": SNAPSHOT_SCHEMA_VERSION,
        "run": {
            "id": run.get("id"),
            "name": run.get("name"),
            "status": run.get("status"),
            "attempt": attempt,
            "command": run.get("command"),
            "workdir": run.get("workdir"),
            "tags": list(run.get("tags") or []),
        },
        "step": progress.get("step"),
        "epoch": progress.get("epoch"),
        "total_epochs": progress.get("total_epochs"),
        "eta_s": progress.get("eta_s"),
        "seconds_per_epoch": progress.get("seconds_per_epoch"),
        "metrics": dict(metrics),
        "info": dict(info),
        "gpus": [{k: gpu.get(k) for k in GPU_KEYS} for gpu in gpus],
        "timestamps": {
            "created_at": _iso_or_none(run.get("created_at")),
            "started_at": _iso_or_none(run.get("started_at")),
            "finished_at": _iso_or_none(run.get("finished_at")),
            "snapshot_at": iso_time(now),
        },
    }


# ---------------------------------------------------------------- helpers


def _json_line(record: Mapping[str, Any]) -> bytes:
    """One JSON line; a record orjson refuses (an integer past 64 bits, say) still gets one."""
    try:
        # orjson writes UTF-8, a stray NaN as null and anything unknown through str()
        return orjson.dumps(
            record, default=str, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
        )
    except TypeError:
        text = json.dumps(_json_safe(record), ensure_ascii=False, default=str, allow_nan=False)
        return text.encode() + b"\n"


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (at any depth) as its JSON string."""
    if isinstance(value, float):
        return to_json_value(value)
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _nulls_for_non_finite(value: Any, path: str, replaced: dict[str, str]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        replaced[path] = str(to_json_value(value))
        return None
    if isinstance(value, Mapping):
        prefix = f"{path}." if path else ""
        return {k: _nulls_for_non_finite(v, f"{prefix}{k}", replaced) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nulls_for_non_finite(v, f"{path}[{i}]", replaced) for i, v in enumerate(value)]
    return value


def _iso_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return iso_time(float(value))
