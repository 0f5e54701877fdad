"""Out-of-memory signatures (PROTOCOL.md §8), matched case-insensitively."""

from __future__ import annotations

import re

OOM_PATTERN = re.compile(
    rb"out of memory|outofmemoryerror|resource_exhausted|cublas_status_alloc_failed|cudaerrormemoryallocation",
    re.IGNORECASE,
)


def has_oom_signature(data: bytes) -> bool:
    """True when ``data`` (raw output bytes) holds any OOM signature."""
    return OOM_PATTERN.search(data) is not None
