"""How the CLI reads the paged run list: it follows the cursor, and the default table asks
only for the unfinished runs and the latest finished ones, however many there are."""

from __future__ import annotations

from typing import Any

import httpx

from runyard.cli.commands_runs import _queue_and_recent
from tests.unit.cli.daemon_stub import Answer, DaemonAnswering


def paged_daemon(runs: list[dict[str, Any]], seen: list[dict[str, Any]]) -> Answer:
    """How a daemon answers serving ``runs`` as the API does: status filter, id
    order either way, ``limit`` per page, an opaque cursor, the total."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        seen.append(dict(params))
        wanted = params.get_list("status")
        matching = [r for r in runs if not wanted or r["status"] in wanted]
        matching.sort(key=lambda r: r["id"], reverse=params.get("sort") == "-id")
        start = int(params.get("cursor", "0"))
        end = start + int(params["limit"])
        return httpx.Response(
            200,
            json={
                "runs": matching[start:end],
                "next_cursor": str(end) if end < len(matching) else None,
                "total": len(matching),
            },
        )

    return answer


def test_list_runs_follows_the_cursor_to_the_end(daemon_answering: DaemonAnswering) -> None:
    runs = [{"id": i, "status": "completed"} for i in range(1, 2502)]
    seen: list[dict[str, Any]] = []
    assert [r["id"] for r in daemon_answering(paged_daemon(runs, seen)).list_runs()] == list(range(1, 2502))
    assert [p.get("cursor") for p in seen] == [None, "1000", "2000"]


def test_list_runs_stops_at_the_limit(daemon_answering: DaemonAnswering) -> None:
    runs = [{"id": i, "status": "failed"} for i in range(1, 2502)]
    seen: list[dict[str, Any]] = []
    listed = daemon_answering(paged_daemon(runs, seen)).list_runs(sort="-id", limit=1200)
    assert [r["id"] for r in listed] == list(range(2501, 1301, -1))
    assert [p["limit"] for p in seen] == ["1000", "200"]


def test_the_table_asks_for_the_queue_and_the_latest_finished_runs(daemon_answering: DaemonAnswering) -> None:
    runs = [{"id": i, "status": "completed"} for i in range(1, 31)] + [
        {"id": 31, "status": "queued"}
    ]
    seen: list[dict[str, Any]] = []
    shown, hidden = _queue_and_recent(daemon_answering(paged_daemon(runs, seen)))
    assert [r["id"] for r in shown] == list(range(11, 32)) and hidden == 10
    assert len(seen) == 2
