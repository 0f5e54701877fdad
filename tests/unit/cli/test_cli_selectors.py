"""Which runs `cancel 3 5 9`, `retry 3-7`, `--status`, `--tag` and `--all` name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runyard.cli.errors import CliUsageError
from runyard.cli.selectors import (
    parse_run_id,
    parse_selection,
    parse_statuses,
    require_selection,
    resolve,
)
from tests.unit.cli.daemon_stub import Answer, DaemonAnswering


@pytest.mark.parametrize(
    ("args", "ids", "ranges"),
    [
        (["3", "5", "9"], (3, 5, 9), ()),
        (["3-7"], (), ((3, 7),)),
        (["#4", "4", "2,3"], (4, 2, 3), ()),
        (["1", "3-7", "10-10"], (1,), ((3, 7), (10, 10))),
    ],
)
def test_ids_and_ranges_are_read(
    args: list[str], ids: tuple[int, ...], ranges: tuple[tuple[int, int], ...]
) -> None:
    selection = parse_selection(args)
    assert (selection.ids, selection.ranges) == (ids, ranges)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("7-3", "must go up: write 3-7"),
        ("abc", "cannot read run id 'abc'"),
        ("3-", "cannot read run id"),
        ("1.5", "cannot read"),
    ],
)
def test_bad_ids_are_usage_errors(arg: str, message: str) -> None:
    with pytest.raises(CliUsageError, match=message):
        parse_selection([arg])


def test_statuses_are_checked_and_may_be_comma_separated() -> None:
    assert parse_statuses(["failed,lost", "failed"]) == ["failed", "lost"]
    with pytest.raises(CliUsageError, match="unknown status 'done'"):
        parse_statuses(["done"])


def test_nothing_selected_is_refused_rather_than_meaning_the_last_run() -> None:
    with pytest.raises(CliUsageError, match="say which runs to cancel"):
        require_selection(parse_selection([]), "cancel")


@pytest.mark.parametrize(
    ("args", "kwargs", "bulk"),
    [
        (["3"], {}, False),
        (["3", "4"], {}, True),
        (["3-4"], {}, True),
        ([], {"everything": True}, True),
        ([], {"tags": ["x"]}, True),
    ],
)
def test_bulk_selections_are_recognised(
    args: list[str], kwargs: dict[str, Any], bulk: bool
) -> None:
    assert parse_selection(args, **kwargs).is_bulk is bulk


def test_parse_run_id_accepts_a_hash() -> None:
    assert parse_run_id("#12") == 12


RUNS = [
    {"id": 1, "status": "completed", "tags": ["a"]},
    {"id": 2, "status": "running", "tags": ["a", "b"]},
    {"id": 3, "status": "queued", "tags": []},
    {"id": 5, "status": "failed", "tags": ["b"]},
]


def fake_daemon(runs: list[dict[str, Any]]) -> Answer:
    """How a daemon serving ``runs`` answers (the API's edge)."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/runs":
            wanted = request.url.params.get_list("status")
            return httpx.Response(
                200, json={"runs": [r for r in runs if not wanted or r["status"] in wanted]}
            )
        run_id = int(path.rsplit("/", 1)[1])
        for run in runs:
            if run["id"] == run_id:
                return httpx.Response(200, json=run)
        return httpx.Response(
            404, json={"error": "not_found", "detail": f"run {run_id} not found", "field": None}
        )

    return answer


@pytest.mark.parametrize(
    ("args", "kwargs", "applicable", "picked", "missing"),
    [
        (["1", "9"], {}, None, [1], [9]),
        (["1-4"], {}, None, [1, 2, 3], []),
        (["1-5"], {}, {"queued", "running"}, [2, 3], []),
        ([], {"everything": True}, {"queued", "running", "paused"}, [2, 3], []),
        ([], {"tags": ["b"]}, None, [2, 5], []),
        ([], {"statuses": ["failed", "completed"]}, None, [1, 5], []),
        (["2", "9"], {"statuses": ["queued"]}, None, [], [9]),
        (["1-3"], {"statuses": ["running", "queued"]}, None, [2, 3], []),  # filters narrow ranges
    ],
)
def test_resolve_picks_matching_runs_and_reports_missing_ids(
    daemon_answering: DaemonAnswering,
    args: list[str],
    kwargs: dict[str, Any],
    applicable: set[str] | None,
    picked: list[int],
    missing: list[int],
) -> None:
    with daemon_answering(fake_daemon(RUNS)) as client:
        found, absent = resolve(client, parse_selection(args, **kwargs), applicable)
    assert [r["id"] for r in found] == picked
    assert absent == missing
