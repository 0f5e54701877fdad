"""Rules about metrics that every layer shares (the API's summaries and exports, the CLI's tables)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def lower_is_better(key: str) -> bool:
    """Losses, errors and perplexities are best when low; everything else (accuracy, …) when high."""
    lowered = key.lower()
    return "loss" in lowered or "error" in lowered or "perplexity" in lowered


def csv_number(value: Any) -> str:
    """A number for CSV, the one way runyard writes one (``scalars.csv``, exports): exact
    (``repr``), whole numbers without ``.0``, empty for null, non-finite values spelled as
    the API spells them (``NaN``, ``Infinity``, ``-Infinity``: ``float()`` and pandas read
    them back), text as it is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(to_json_value(value))
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_json_value(value: float) -> float | str:
    """A float JSON can carry: non-finite values as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def iso_time(ts: float) -> str:
    """A Unix time as ISO-8601 UTC with milliseconds, the form the API uses."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
