"""A run's own metric patterns (PROTOCOL.md §6).

Each pattern is a regular expression with named groups: ``step`` or ``epoch`` sets x,
every other named group is a metric of that name. A pattern is checked when the parser is
built, so a bad one is refused at submit time (``InvalidSpec``), never found mid-run.

Patterns are applied to every ``\\r``-segment that is not a PROGRESS report (that one is
read by the protocol), to all matches in it, and they keep working after the first
PROGRESS line: the user asked for them. A group whose text is not a number is skipped.

To keep plain lines cheap the parser does not run every pattern on every line: it runs
:attr:`CustomPattern.finder` (the same expression with ``re.MULTILINE``) over a whole block
of lines, where ``\\r`` has been turned into ``\\n`` so ``^`` and ``$`` also hold at
segment edges, and reads only the lines where it matched. Every real match makes its line
such a candidate; a match that crosses lines only costs a wasted look. (``\\A`` and ``\\Z``
would hold only at the block's edges: use ``^`` and ``$``.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from runyard.errors import InvalidSpec

X_GROUPS = frozenset({"step", "epoch"})


@dataclass(frozen=True, slots=True)
class CustomPattern:
    source: str
    matcher: re.Pattern[str]
    finder: re.Pattern[str]
    metric_groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PatternMatch:
    metrics: dict[str, float]
    step: int | None
    epoch: int | None


def compile_patterns(patterns: Sequence[str]) -> tuple[CustomPattern, ...]:
    """Compile and check the patterns; raise ``InvalidSpec`` naming the first bad one."""
    compiled = []
    for source in patterns:
        try:
            matcher = re.compile(source)
            finder = re.compile(source, re.MULTILINE)
        except re.error as error:
            raise InvalidSpec(
                f"metric pattern {source!r} is not a valid regular expression: {error}",
                "metric_patterns",
            ) from None
        metric_groups = tuple(name for name in matcher.groupindex if name not in X_GROUPS)
        if not metric_groups:
            raise InvalidSpec(
                f"metric pattern {source!r} has no named group for a metric: write e.g. "
                r"'loss (?P<train_loss>[-\d.e]+)'",
                "metric_patterns",
            )
        compiled.append(CustomPattern(source, matcher, finder, metric_groups))
    return tuple(compiled)


def match_patterns(patterns: Sequence[CustomPattern], segment: str) -> list[PatternMatch]:
    """Every match of every pattern in one segment, in pattern order."""
    found = []
    for pattern in patterns:
        for match in pattern.matcher.finditer(segment):
            groups = match.groupdict()
            metrics = {}
            for name in pattern.metric_groups:
                value = _number(groups[name])
                if value is not None:
                    metrics[name] = value
            if metrics:
                found.append(
                    PatternMatch(metrics, _whole(groups.get("step")), _whole(groups.get("epoch")))
                )
    return found


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _whole(text: str | None) -> int | None:
    value = _number(text)
    if value is None or not value.is_integer():
        return None
    return int(value)
