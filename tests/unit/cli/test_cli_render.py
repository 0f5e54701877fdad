"""What `--json` and the tables print: flat, stable, untruncated when piped."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from runyard.cli.commands_runs import ending, select_for_listing
from runyard.cli.render import (
    ATTEMPT_FIELDS,
    RUN_FIELDS,
    flat_run,
    format_span,
    make_console,
    print_json,
    print_runs,
    run_time,
)

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)


def a_run(**fields: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "id": 7, "status": "failed", "reason": "oom", "exit_code": 1, "signal": None,
        "attempts": [{"reason": "oom", "number": 1, "status": "failed", "exit_code": 1}],
        "display_command": "python train.py", "created_at": "2026-01-02T11:00:00Z",
        "started_at": "2026-01-02T11:30:00Z", "finished_at": "2026-01-02T11:45:30Z",
    }  # fmt: skip
    run.update(fields)
    return run


def test_json_has_every_field_in_a_fixed_order_and_stays_flat() -> None:
    flat = flat_run(a_run(zeta=1, alpha=2))
    assert list(flat)[: len(RUN_FIELDS)] == list(RUN_FIELDS)
    assert list(flat)[len(RUN_FIELDS) :] == ["alpha", "zeta"]  # unknown fields kept, sorted, last
    assert list(flat["attempts"][0]) == list(ATTEMPT_FIELDS)
    assert flat["name"] is None and flat["status"] == "failed" and flat["exit_code"] == 1


def test_json_of_the_same_run_is_byte_for_byte_the_same() -> None:
    outputs = []
    for run in (a_run(), dict(reversed(list(a_run().items())))):
        out = io.StringIO()
        print_json(flat_run(run), out)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["reason"] == "oom"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (185, "3m05s"), (7620, "2h07m"), (3 * 86400 + 4 * 3600, "3d04h")],
)
def test_spans_are_short(seconds: float, text: str) -> None:
    assert format_span(seconds) == text


def test_time_is_wait_for_pending_runs_and_duration_for_others() -> None:
    assert run_time(a_run(), NOW) == "15m30s"
    assert run_time(a_run(status="queued", started_at=None, attempts=[]), NOW) == "1h00m ago"
    assert run_time(a_run(status="running", finished_at=None, attempts=[]), NOW) == "30m00s"


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({"status": "completed", "reason": None, "exit_code": 0}, "run 7 completed"),
        ({}, "run 7 failed (oom, exit code 1)"),
        ({"reason": "exit_code", "exit_code": 3}, "run 7 failed (exit code 3)"),
        ({"reason": "signal", "exit_code": None, "signal": 9}, "run 7 failed (signal 9)"),
        ({"status": "cancelled", "reason": "cancelled", "exit_code": None}, "run 7 cancelled"),
        (
            {"status": "cancelled", "reason": "cancelled", "signal": 15},
            "run 7 cancelled (signal 15)",
        ),
        ({"reason": "dependency", "exit_code": None}, "run 7 failed (dependency)"),
    ],
)
def test_ending_lines(fields: dict[str, Any], line: str) -> None:
    assert ending(a_run(**fields)) == line


def test_a_piped_table_has_no_colour_no_padding_and_no_truncation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    long_command = "python train.py " + " ".join(f"--option-{i}=value" for i in range(40))
    print_runs(
        make_console(None),
        [a_run(display_command=long_command, status="completed", reason=None, name="[b]x")],
    )
    out = capsys.readouterr().out
    assert long_command in out and "[b]x" in out
    assert "\x1b[" not in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_colour_can_be_forced_on_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    print_runs(make_console(True), [a_run()])
    assert "\x1b[" in capsys.readouterr().out


def test_the_table_keeps_recent_finished_runs_unless_asked_for_all() -> None:
    runs = [{"id": i, "status": "completed"} for i in range(1, 31)] + [
        {"id": 31, "status": "queued"}
    ]
    shown, hidden = select_for_listing(runs, limit=None, everything=False)
    assert hidden == 10 and shown[0]["id"] == 11 and shown[-1]["id"] == 31
    assert select_for_listing(runs, limit=None, everything=True) == (runs, 0)
    assert [r["id"] for r in select_for_listing(runs, limit=2, everything=False)[0]] == [30, 31]
