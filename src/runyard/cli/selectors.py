"""Which runs a command acts on: ids (``3 5 9``), ranges (``3-7``), ``--status``, ``--tag``, ``--all``.

Parsing is pure (unit-tested); resolving a selection asks the daemon for its runs. Explicit
ids must exist; ranges and filters take whichever runs match. Nothing defaults to "the last
run": a command given no selection at all is a usage error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runyard.cli.errors import CliUsageError
from runyard.domain.status import RunStatus

if TYPE_CHECKING:
    from runyard.cli.client import DaemonClient

_ID = re.compile(r"#?(\d+)")
_RANGE = re.compile(r"#?(\d+)-#?(\d+)")
STATUS_NAMES = tuple(s.value for s in RunStatus)


def parse_run_id(text: str) -> int:
    """``"3"`` or ``"#3"`` → 3; anything else is a usage error."""
    match = _ID.fullmatch(text.strip())
    if not match:
        raise CliUsageError(f"cannot read run id {text!r}: write a number like 3 (or #3)")
    return int(match.group(1))


def parse_statuses(values: Iterable[str]) -> list[str]:
    """``["failed", "lost,cancelled"]`` → the statuses, each checked against the known ones."""
    statuses: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in STATUS_NAMES:
                raise CliUsageError(
                    f"unknown status {part!r}: use one of {', '.join(STATUS_NAMES)}"
                )
            if name not in statuses:
                statuses.append(name)
    return statuses


@dataclass(frozen=True)
class Selection:
    """What the user asked for; ``ids`` must exist, ``ranges`` and filters match what does."""

    ids: tuple[int, ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    everything: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.ids or self.ranges or self.statuses or self.tags or self.everything)

    @property
    def is_bulk(self) -> bool:
        """More than one run may be touched (a confirmation is due for destructive actions)."""
        return bool(
            self.ranges or self.statuses or self.tags or self.everything or len(self.ids) > 1
        )

    @property
    def only_ids(self) -> bool:
        return bool(self.ids) and not (self.ranges or self.statuses or self.tags or self.everything)

    def matches(self, run: dict[str, Any]) -> bool:
        """Whether a run the daemon listed belongs to this selection (ids aside)."""
        run_id = int(run["id"])
        if (self.ids or self.ranges) and not (
            run_id in self.ids or any(low <= run_id <= high for low, high in self.ranges)
        ):
            return False
        if self.statuses and run.get("status") not in self.statuses:
            return False
        return not self.tags or bool(set(self.tags) & set(run.get("tags") or ()))


def parse_selection(
    args: Sequence[str] | None,
    statuses: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    everything: bool = False,
) -> Selection:
    """Read ``3 5 9``, ``3-7``, ``3,5`` and the filters into a :class:`Selection`."""
    ids: list[int] = []
    ranges: list[tuple[int, int]] = []
    for arg in args or ():
        for part in arg.split(","):
            part = part.strip()
            if not part:
                continue
            match = _RANGE.fullmatch(part)
            if match:
                low, high = int(match.group(1)), int(match.group(2))
                if high < low:
                    raise CliUsageError(f"run range {part!r} must go up: write {high}-{low}")
                ranges.append((low, high))
            elif (run_id := parse_run_id(part)) not in ids:
                ids.append(run_id)
    clean_tags = tuple(dict.fromkeys(t for t in (tags or ()) if t))
    return Selection(
        ids=tuple(ids),
        ranges=tuple(ranges),
        statuses=tuple(parse_statuses(statuses or ())),
        tags=clean_tags,
        everything=everything,
    )


def require_selection(selection: Selection, verb: str) -> None:
    if selection.is_empty:
        raise CliUsageError(
            f"say which runs to {verb}: ids (3 5 9), ranges (3-7), --status S, --tag T or --all"
        )


def resolve(
    client: DaemonClient, selection: Selection, applicable: Iterable[str] | None = None
) -> tuple[list[dict[str, Any]], list[int]]:
    """The runs a selection names, in id order, and the explicit ids that do not exist.

    ``applicable`` (statuses) narrows what ranges and filters pick, so that ``cancel --all``
    skips finished runs; explicitly named ids are always returned, to be refused one by one.
    """
    if selection.only_ids:
        found, missing = [], []
        for run_id in selection.ids:
            run = client.find_run(run_id)
            if run is None:
                missing.append(run_id)
            else:
                found.append(run)
        return found, missing
    # With named ids the filters are applied here, so that a named run that exists but
    # does not match is not mistaken for a missing one.
    narrow = not selection.ids
    runs = client.list_runs(
        statuses=list(selection.statuses) if narrow else [],
        tags=list(selection.tags) if narrow else [],
    )
    known = {int(r["id"]) for r in runs}
    missing = [run_id for run_id in selection.ids if run_id not in known]
    allowed = set(applicable) if applicable is not None else None
    picked = []
    for run in runs:
        if not selection.matches(run):
            continue
        named = int(run["id"]) in selection.ids
        if named or allowed is None or run.get("status") in allowed:
            picked.append(run)
    picked.sort(key=lambda r: int(r["id"]))
    return picked, missing
