"""Finding the few lines of a block worth reading, without looking at each line in Python.

Most of what a run prints (log chatter, progress bars) carries no metric. Every format
the parser reads contains one of a handful of *trigger* words, so a block is searched
for those words with ``bytes.find`` (C speed) and only lines holding one are decoded and
read. A plain line costs a share of a few ``find`` passes and of one ``count`` of
newlines per block: no Python per line. Each pass costs about as much as the next, so
the triggers are few and short, and a trigger that also occurs in noise (`` loss`` in a
tqdm postfix) is confirmed by the bytes just before it (``train loss``).

Before the first PROGRESS line the legacy and framework readers are on, and their words
are matched in any case, so the block is lowered once (also C speed). After it only
``PROGRESS:`` is searched, case-sensitively, as the protocol spells it.

Custom patterns can match anything, so each is searched over the decoded block (see
runyard.protocol.patterns for why that finds every line it would match).
"""

from __future__ import annotations

from collections.abc import Sequence

from runyard.protocol.heuristics import TRIGGERS as HEURISTIC_TRIGGERS
from runyard.protocol.patterns import CustomPattern

MAX_AFTER = max(len(word) for _, after in HEURISTIC_TRIGGERS for word in after)
PROTOCOL_TRIGGERS: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ((b"PROGRESS:", ()),)


def candidate_lines(
    data: bytes, heuristics: bool, patterns: Sequence[CustomPattern] = ()
) -> tuple[list[tuple[int, str]], int]:
    """``(index within the block, decoded line)`` of each line that may hold a report, and
    the number of lines in the block (counted on the way, so only once).

    ``data`` is a block of complete lines, each ending in ``\\n``, escapes already removed.
    """
    if not heuristics and not patterns:
        dense = _dense_progress(data)
        if dense is not None:
            return dense
    haystack = data.lower() if heuristics else data
    triggers = HEURISTIC_TRIGGERS if heuristics else PROTOCOL_TRIGGERS
    starts: set[int] = set()
    for trigger, after in triggers:
        found = haystack.find(trigger)
        while found >= 0:
            if after:
                low = found - MAX_AFTER
                if not haystack.endswith(after, low if low > 0 else 0, found):
                    found = haystack.find(trigger, found + 1)
                    continue
            end = haystack.find(b"\n", found)
            starts.add(haystack.rfind(b"\n", 0, found) + 1)
            found = haystack.find(trigger, end + 1)

    lines: dict[int, str] = {}
    index = previous = 0
    for start in sorted(starts):
        index += data.count(b"\n", previous, start)
        previous = start
        lines[index] = data[start : data.find(b"\n", start)].decode("utf-8", "replace")
    total = index + data.count(b"\n", previous)
    if patterns:
        _pattern_candidates(data.decode("utf-8", "replace"), patterns, lines)
    return sorted(lines.items()), total


def _dense_progress(data: bytes) -> tuple[list[tuple[int, str]], int] | None:
    """A block where PROGRESS lines are common (a chatty run reporting every step): one
    split and a membership test per line beat a ``find`` chase per line. None when sparse."""
    total = data.count(b"\n")
    if data.count(b"PROGRESS:") * 8 < total:
        return None
    lines = data.split(b"\n")
    lines.pop()  # the empty piece after the block's last newline
    return [(i, line.decode("utf-8", "replace")) for i, line in enumerate(lines) if b"PROGRESS:" in line], total


def _pattern_candidates(
    text: str, patterns: Sequence[CustomPattern], lines: dict[int, str]
) -> None:
    searched = text.replace("\r", "\n") if "\r" in text else text
    starts: set[int] = set()
    for pattern in patterns:
        pos = 0
        while (match := pattern.finder.search(searched, pos)) is not None:
            if match.start() >= len(text):
                break
            start = text.rfind("\n", 0, match.start()) + 1
            starts.add(start)
            pos = text.find("\n", match.start()) + 1
    index = previous = 0
    for start in sorted(starts):
        index += text.count("\n", previous, start)
        previous = start
        if index not in lines:
            lines[index] = text[start : text.find("\n", start)]
