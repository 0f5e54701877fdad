"""What a user writes for a spec on the command line, read: memory (``10G``), durations
(``1h30m``), GPU counts and ids, ``KEY=VALUE`` and ``SOURCE:TARGET``. The standard library
only, so that the CLI reads its options without loading the spec's pydantic model (~80 ms
of every ``submit``); each error says how to write the value."""

from __future__ import annotations

import re

from runyard.errors import InvalidSpec

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_MEMORY_FACTOR_MIB = {"": 1.0, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 * 1024}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms]?)", re.IGNORECASE)
_DURATION_FACTOR = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_memory_mib(text: str) -> int:
    """``"10G"`` → 10240, ``"512M"`` and ``"512"`` → 512 (MiB when no unit is given)."""
    match = _MEMORY.match(text)
    if not match:
        raise InvalidSpec(f"cannot read memory {text!r}: write e.g. 10G or 512M", "gpu_mem")
    mib = float(match.group(1)) * _MEMORY_FACTOR_MIB[match.group(2).lower()]
    if mib <= 0:
        raise InvalidSpec(f"memory must be positive, not {text!r}", "gpu_mem")
    return max(1, round(mib))


def parse_duration_s(text: str) -> float:
    """``"2h"`` → 7200, ``"1h30m"`` → 5400, ``"90"`` → 90 (seconds when no unit)."""
    cleaned = text.strip().replace(" ", "")
    parts = _DURATION_PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise InvalidSpec(f"cannot read duration {text!r}: write e.g. 2h, 30m, 1h30m or 90s", "timeout")
    seconds = sum(float(n) * _DURATION_FACTOR[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise InvalidSpec(f"duration must be positive, not {text!r}", "timeout")
    return seconds


def parse_gpu_count(text: str) -> tuple[int, int]:
    """``"2"`` → (2, 2); ``"1-4"`` → (1, 4): start once 1 is free, take up to 4."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise InvalidSpec(f"cannot read --gpus {text!r}: write a count (2) or a range (1-4)", "gpus")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if high < low:
        raise InvalidSpec(f"--gpus {text}: the range must go up (write {high}-{low})", "gpus")
    return low, high


def parse_gpu_ids(text: str) -> list[int]:
    """``"1,3"`` → [1, 3]."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidSpec(f"cannot read --gpu-ids {text!r}: write indices like 1,3", "gpu_ids") from None
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise InvalidSpec(f"--gpu-ids {text!r} needs distinct non-negative indices", "gpu_ids")
    return sorted(ids)


def parse_env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise InvalidSpec(f"--env {text!r}: write KEY=VALUE", "env")
    return key, value


def parse_swap(text: str) -> tuple[str, str]:
    source, sep, target = text.partition(":")
    if not sep or not source or not target:
        raise InvalidSpec(f"--swap {text!r}: write SOURCE:TARGET (TARGET relative to the workdir)", "swaps")
    return source, target
