"""Every event of a run, also as one JSON object a line in ``runs/<id>/events.jsonl``
(the facts format: schema_version, moment, time, epoch, step, losses, metrics)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from runyard.ingest.outputs import EventLog, event_record

log = logging.getLogger(__name__)
NOT_EVENTS = frozenset({"metrics", "log", "gpus"})  # live-stream messages, not events of a run


def _record(message: dict[str, Any]) -> dict[str, Any]:
    data = message.get("data") or {}
    extra: dict[str, Any] = {}
    if message["kind"] == "report":
        numbers = {k: v for k, v in (data.get("metrics") or {}).items() if isinstance(v, (int, float))}
        # event_record splits the numbers into losses and metrics by name.
        extra = {"epoch": data.get("epoch"), "step": data.get("step"), "metrics": numbers,
                 "epoch_time_s": data.get("epoch_time_s")}
    return event_record(message["kind"], message["time"], run_id=message["run_id"], attempt=message.get("attempt"),
                        data=data, **extra)


def append_events(run_dir: Callable[[int], Path], messages: Iterable[dict[str, Any]]) -> None:
    by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        if message.get("run_id") is not None and message["kind"] not in NOT_EVENTS:
            by_run[message["run_id"]].append(_record(message))
    for run_id, records in by_run.items():
        try:
            EventLog(run_dir(run_id) / "events.jsonl").append(records)
        except OSError as error:
            log.warning("run %s: could not append to events.jsonl: %s", run_id, error)
