"""The pure rules: statuses and their transitions, retry policy, spec parsing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runyard.domain.spec import RunSpec
from runyard.domain.spec_text import (
    parse_duration_s,
    parse_env_pair,
    parse_gpu_count,
    parse_gpu_ids,
    parse_memory_mib,
    parse_swap,
)
from runyard.domain.status import (
    FINISHED,
    TRANSITIONS,
    Reason,
    RetryOn,
    RunStatus,
    check_transition,
    retry_backoff_s,
    should_retry,
)
from runyard.errors import IllegalTransition, InvalidSpec


def test_finished_runs_only_go_back_to_the_queue():
    for status in FINISHED:
        assert TRANSITIONS[status] == {RunStatus.QUEUED}


def test_every_status_is_reachable_from_queued():
    seen, frontier = {RunStatus.QUEUED}, [RunStatus.QUEUED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()] - seen:
            seen.add(nxt)
            frontier.append(nxt)
    assert seen == set(RunStatus)


@pytest.mark.parametrize(("old", "new"), [("queued", "completed"), ("completed", "running"), ("waiting", "running"),
                                          ("cancelled", "failed"), ("running", "queued")])
def test_illegal_transitions_are_refused(old, new):
    with pytest.raises(IllegalTransition, match=f"run 7 is {old}: it cannot become {new}"):
        check_transition(7, RunStatus(old), RunStatus(new))


@pytest.mark.parametrize(
    ("retry_on", "reason", "done", "retries", "expected"),
    [
        ("any", "exit_code", 1, 2, True),
        ("any", "exit_code", 3, 2, False),
        ("oom", "exit_code", 1, 2, False),
        ("oom", "oom", 1, 2, True),
        ("never", "oom", 1, 2, False),
        ("any", "cancelled", 1, 5, False),
        ("any", "dependency", 1, 5, False),
        ("any", "lost", 1, 1, True),
    ],
)
def test_retry_policy(retry_on, reason, done, retries, expected):
    assert should_retry(RetryOn(retry_on), Reason(reason), done, retries) is expected


def test_backoff_doubles_and_is_capped():
    assert [retry_backoff_s(n, 5, 30) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]


@pytest.mark.parametrize(("text", "mib"), [("10G", 10240), ("512M", 512), ("512", 512), ("1.5g", 1536), ("2GiB", 2048), ("1T", 1048576)])
def test_memory(text, mib):
    assert parse_memory_mib(text) == mib


@pytest.mark.parametrize(("text", "seconds"), [("2h", 7200), ("1h30m", 5400), ("90", 90), ("90s", 90), ("1d", 86400)])
def test_duration(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize(("text", "expected"), [("2", (2, 2)), ("1-4", (1, 4)), ("0", (0, 0))])
def test_gpu_count(text, expected):
    assert parse_gpu_count(text) == expected


@pytest.mark.parametrize(
    ("parse", "text", "words"),
    [
        (parse_gpu_count, "3-1", "must go up"),
        (parse_gpu_count, "two", "cannot read --gpus"),
        (parse_memory_mib, "lots", "cannot read memory"),
        (parse_duration_s, "soon", "cannot read duration"),
        (parse_duration_s, "0s", "must be positive"),
        (parse_gpu_ids, "1,1", "distinct"),
        (parse_env_pair, "NOVALUE", "KEY=VALUE"),
        (parse_swap, "only-source", "SOURCE:TARGET"),
    ],
)
def test_bad_input_is_one_clear_line(parse, text, words):
    with pytest.raises(InvalidSpec, match=words) as error:
        parse(text)
    assert "\n" not in str(error.value)


def test_spec_fills_gpu_range_and_pins():
    assert (RunSpec(command=["x"], workdir="/", gpus_min=2).gpus_max) == 2
    pinned = RunSpec(command=["x"], workdir="/", gpu_ids=[3, 1])
    assert (pinned.gpu_ids, pinned.gpus_min, pinned.gpus_max) == ([1, 3], 2, 2)


@pytest.mark.parametrize(
    "fields",
    [
        {"gpus_min": 3, "gpus_max": 1},
        {"gpu_ids": [1], "gpus_min": 2},
        {"shell": True, "command": ["a", "b"]},
        {"retries": -1},
        {"unknown": 1},
    ],
)
def test_invalid_specs(fields):
    with pytest.raises(ValidationError):
        RunSpec(**{"command": ["x"], "workdir": "/", **fields})
