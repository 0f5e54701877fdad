"""`runyard submit` flags → the spec body the daemon receives (and `--like` merging)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runyard.cli.errors import CliUsageError
from runyard.cli.spec_args import SubmitOptions, build_spec, check_spec

CWD = Path("/home/ann/project")


def spec_of(**options: Any) -> dict[str, Any]:
    options.setdefault("command", ["python", "train.py"])
    return build_spec(SubmitOptions(**options), CWD)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"timeout": "1h30m"}, {"timeout_s": 5400.0}),
        ({"timeout": "90"}, {"timeout_s": 90.0}),
        ({"gpu_mem": "10G"}, {"gpu_mem_mib": 10240}),
        ({"gpu_mem": "512M"}, {"gpu_mem_mib": 512}),
        ({"gpus": "2"}, {"gpus_min": 2, "gpus_max": 2}),
        ({"gpus": "1-4"}, {"gpus_min": 1, "gpus_max": 4}),
        ({"gpus": "0"}, {"gpus_min": 0, "gpus_max": 0}),
        ({"gpu_ids": "3,1"}, {"gpu_ids": [1, 3]}),
        ({"env": ["A=1", "B=x=y"]}, {"env": {"A": "1", "B": "x=y"}}),
        ({"after": ["3", "#4,5"], "after_any": ["7"]}, {"after": [3, 4, 5], "after_any": [7]}),
        ({"tags": ["a", "b", "a"]}, {"tags": ["a", "b"]}),
        (
            {"retries": 3, "retry_on": "oom", "priority": -2},
            {"retries": 3, "retry_on": "oom", "priority": -2},
        ),
        (
            {"oom_batch_env": "BS", "oom_grow_mem": 1.5},
            {"oom": {"batch_env": "BS", "grow_mem": 1.5}},
        ),
    ],
)
def test_flags_are_read_into_spec_fields(options: dict[str, Any], expected: dict[str, Any]) -> None:
    spec = spec_of(**options)
    assert {key: spec[key] for key in expected} == expected


def test_paths_are_made_absolute_from_where_the_user_stands() -> None:
    spec = spec_of(workdir="../data", swaps=["patched/model.py:src/model.py", "/abs/x.py:y.py"])
    assert spec["workdir"] == "/home/ann/data"
    assert spec["swaps"] == [
        {"source": "/home/ann/project/patched/model.py", "target": "src/model.py"},
        {"source": "/abs/x.py", "target": "y.py"},
    ]
    assert spec_of()["workdir"] == str(CWD)


def test_command_is_argv_and_shell_is_one_string() -> None:
    assert (spec_of()["command"], spec_of()["shell"]) == (["python", "train.py"], False)
    shell = spec_of(command=[], shell="make data && python train.py")
    assert (shell["command"], shell["shell"]) == (["make data && python train.py"], True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gpus": "3-1"}, r"--gpus 3-1: the range must go up \(write 1-3\)"),
        ({"gpus": "two"}, "cannot read --gpus 'two'"),
        ({"timeout": "soon"}, "cannot read duration 'soon'"),
        ({"gpu_mem": "lots"}, "cannot read memory 'lots'"),
        ({"env": ["NOVALUE"]}, "--env 'NOVALUE': write KEY=VALUE"),
        ({"swaps": ["nocolon"]}, "--swap 'nocolon'"),
        ({"after": ["latest"]}, "cannot read run id 'latest'"),
        ({"retry_on": "sometimes"}, "--retry-on 'sometimes': use one of any, oom, never"),
        ({"metric_patterns": ["loss=(?P<loss"]}, "is not a regular expression"),
        ({"command": [], "shell": None}, "say what to run"),
        ({"shell": "a && b"}, "either --shell 'CMD' or a command"),
    ],
)
def test_bad_values_are_one_line_usage_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(CliUsageError, match=message) as caught:
        spec_of(**options)
    assert "\n" not in str(caught.value)


def test_contradictions_are_caught_before_the_daemon_is_asked() -> None:
    with pytest.raises(CliUsageError, match="gpu_ids pins the GPUs"):
        check_spec(spec_of(gpus="1", gpu_ids="1,3"))
    with pytest.raises(CliUsageError, match="retries"):
        check_spec(spec_of(retries=-1))
    check_spec(spec_of(gpus="1-2", gpu_mem="4G", timeout="1h"))


BASE = {
    "command": ["python", "train.py", "--lr", "0.1"],
    "shell": False,
    "name": "base",
    "workdir": "/srv/exp",
    "env": {"A": "1", "B": "2"},
    "gpus_min": None,
    "gpus_max": None,
    "gpu_ids": [0, 1],
    "priority": 5,
    "tags": ["old"],
    "oom": {"batch_env": "BS", "grow_mem": None},
}


def like(**options: Any) -> dict[str, Any]:
    return build_spec(SubmitOptions(**options), CWD, base=BASE)


def test_like_copies_the_spec_when_nothing_is_given() -> None:
    assert like() == BASE


def test_like_applies_only_the_flags_given() -> None:
    spec = like(name="copy", env=["B=20", "C=3"], tags=["new"], gpus="2", oom_grow_mem=2.0)
    assert spec["name"] == "copy"
    assert spec["env"] == {"A": "1", "B": "20", "C": "3"}  # --env sets single keys
    assert spec["tags"] == ["new"]  # other flags replace
    assert (spec["gpus_min"], spec["gpus_max"], spec["gpu_ids"]) == (2, 2, None)  # --gpus unpins
    assert spec["oom"] == {"batch_env": "BS", "grow_mem": 2.0}
    assert (spec["workdir"], spec["priority"], spec["command"]) == ("/srv/exp", 5, BASE["command"])
    assert BASE["env"] == {"A": "1", "B": "2"}  # the original is not touched


def test_like_takes_a_new_command_after_the_flags() -> None:
    assert like(command=["python", "eval.py"])["command"] == ["python", "eval.py"]
    assert like(shell="echo hi")["shell"] is True


def test_the_submitters_environment_travels_when_given() -> None:
    spec = build_spec(SubmitOptions(command=["true"]), CWD, environ={"PATH": "/venv/bin"})
    assert spec["base_env"] == {"PATH": "/venv/bin"}
