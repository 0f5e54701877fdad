"""What `show`, `metrics`, `compare` and `reingest` print, from dicts shaped as the API's."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest

from runyard.cli.commands_metrics import reingest_line
from runyard.cli.render import RUN_FIELDS, flat_run, make_console, print_run
from runyard.cli.render_metrics import (
    FINAL_FIELDS,
    PROGRESS_FIELDS,
    as_float,
    compare_table,
    comparison,
    differing_settings,
    format_value,
    plain_series,
    settings_table,
    summary_table,
    value_at,
    write_series_csv,
)


def a_run(**fields: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "id": 3, "name": "base", "status": "running", "display_command": "python train.py",
        "command": ["python", "train.py"], "workdir": "/w", "env": {"LR": "0.1"}, "gpus": [0],
        "priority": 0, "tags": ["a"], "attempts": [{"number": 1, "status": "running"}],
        "progress": {"epoch": 3, "total_epochs": 10, "step": 1500, "eta_s": 125.0,
                     "seconds_per_epoch": 41.2},
        "final": {"accuracy": None, "accuracy_field": None, "train_loss": None,
                  "test_loss": None, "val_loss": None},
        "metrics": {"train_loss": 0.41234567, "test_accuracy": 85.1, "grad_norm": "NaN"},
        "info": {"lr_phase_name": "decay"},
        "warnings": [{"kind": "non_finite", "line": 12, "text": 'PROGRESS: {"grad_norm": NaN}',
                      "attempt": 1}],
    }  # fmt: skip
    run.update(fields)
    return run


def printed(run: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
    print_run(make_console(None), run)
    return capsys.readouterr().out


def test_show_json_always_has_the_metric_fields_in_a_fixed_order() -> None:
    old_daemon = flat_run({"id": 1, "status": "queued"}, metrics=True)
    assert list(old_daemon)[-5:] == ["progress", "final", "metrics", "info", "warnings"]
    assert list(old_daemon["progress"]) == list(PROGRESS_FIELDS)
    assert list(old_daemon["final"]) == list(FINAL_FIELDS)
    assert old_daemon["progress"]["eta_s"] is None and old_daemon["warnings"] == []
    full = flat_run(a_run(), metrics=True)
    assert list(full)[: len(RUN_FIELDS)] == list(RUN_FIELDS)
    assert list(full["metrics"]) == ["grad_norm", "test_accuracy", "train_loss"]
    assert list(full["warnings"][0]) == ["kind", "line", "text", "attempt"]
    assert json.loads(json.dumps(full)) == full  # "NaN" stays a string: valid JSON


def test_ls_json_is_unchanged_by_the_metric_fields() -> None:
    assert "progress" not in flat_run({"id": 1, "status": "queued"})


def test_show_prints_progress_latest_metrics_info_and_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = printed(a_run(), capsys)
    assert "epoch 3/10, step 1500, ETA 2m05s, 41s/epoch" in out
    assert "final" not in out.split("METRIC")[0]  # no final results yet: no line for them
    rows = {line.split()[0]: line.split()[1:] for line in out.split("METRIC")[1].splitlines()[1:4]}
    assert rows == {"grad_norm": ["NaN"], "test_accuracy": ["85.1"], "train_loss": ["0.412346"]}
    assert "lr_phase_name" in out and "decay" in out
    assert 'non_finite  line 12 (attempt 1): PROGRESS: {"grad_norm": NaN}' in out


def test_show_prints_the_final_accuracy_with_its_field(capsys: pytest.CaptureFixture[str]) -> None:
    final = {"accuracy": 91.2, "accuracy_field": "val_accuracy", "train_loss": 0.1,
             "test_loss": None, "val_loss": 0.25}  # fmt: skip
    out = printed(a_run(status="completed", final=final, warnings=[]), capsys)
    assert "accuracy 91.2 (val_accuracy); train_loss 0.1, val_loss 0.25" in out
    assert "ETA" not in out and "warnings" not in out


def test_show_of_a_run_without_metrics_prints_no_empty_sections(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = printed({"id": 1, "status": "queued", "display_command": "true"}, capsys)
    assert "METRIC" not in out and "progress" not in out and "warnings" not in out


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.41234567, "0.412346"), (91.2, "91.2"), (1500.0, "1500"), (7, "7"), ("NaN", "NaN"),
     (math.inf, "Infinity"), (None, "-"), (True, "True"), (1e-7, "1e-07")],
)  # fmt: skip
def test_values_are_short(value: Any, text: str) -> None:
    assert format_value(value) == text


def test_api_strings_become_floats() -> None:
    assert as_float("-Infinity") == -math.inf and math.isnan(as_float("NaN") or 0)
    assert as_float(2) == 2.0 and as_float("decay") is None and as_float(None) is None


def test_the_metrics_table_has_one_line_per_key_with_best_at_x(
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = {
        "train_loss": {"count": 10, "first": 2.3, "first_x": 1, "last": 0.2, "last_x": 10,
                       "min": 0.19, "min_x": 9, "max": 2.3, "max_x": 1, "best": 0.19, "best_x": 9},
        "test_accuracy": {"count": 10, "first": 50.0, "first_x": 1, "last": 90.0, "last_x": 10,
                          "min": 50.0, "min_x": 1, "max": 91.0, "max_x": 8, "best": 91.0,
                          "best_x": 8},
    }  # fmt: skip
    make_console(None).print(summary_table(keys))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["METRIC", "COUNT", "FIRST", "LAST", "MIN", "MAX", "BEST@X"]
    assert lines[1].split() == ["test_accuracy", "10", "50", "90", "50", "91", "91", "@8"]
    assert lines[2].split() == ["train_loss", "10", "2.3", "0.2", "0.19", "2.3", "0.19", "@9"]


SERIES = {"train_loss": [[1, 0.5], [2, 0.25]], "acc": [[2, 90.5], [3, "NaN"]]}


def test_series_csv_is_long_key_by_key_and_exact() -> None:
    out = io.StringIO()
    assert write_series_csv(SERIES, out) == 4
    assert (
        out.getvalue()
        == "x,key,value\n2,acc,90.5\n3,acc,NaN\n1,train_loss,0.5\n2,train_loss,0.25\n"
    )


def test_series_json_is_exactly_name_to_x_value_pairs() -> None:
    assert plain_series({"b": [[1, 2, 9, 9]], "a": [[0, 1]]}) == {"a": [[0, 1]], "b": [[1, 2]]}


@pytest.mark.parametrize(
    ("step", "expected"), [(2.5, (2, 0.25)), (2, (2, 0.25)), (1, (1, 0.5)), (0.5, (None, None))]
)
def test_the_value_at_a_step_is_the_one_at_the_largest_x_not_after_it(
    step: float, expected: tuple[Any, Any]
) -> None:
    assert value_at(SERIES["train_loss"], step) == expected


def test_only_settings_that_differ_are_compared() -> None:
    runs = [a_run(), a_run(id=4, env={"LR": "0.01", "SEED": "1"}, priority=5)]
    assert differing_settings(runs) == {
        "priority": ["0", "5"], "env LR": ["0.1", "0.01"], "env SEED": [None, "1"],
    }  # fmt: skip


def test_compare_at_the_end_has_final_results_and_last_values_aligned_with_runs() -> None:
    final = {"accuracy": 91.0, "accuracy_field": "test_accuracy", "train_loss": 0.2}
    runs = [a_run(final=final), a_run(id=4, name=None, final={})]
    values = [{"train_loss": (10, 0.2), "acc": (10, 91.0)}, {"train_loss": (12, 0.3)}]
    data = comparison(runs, values, None)
    assert data["runs"] == [3, 4] and data["at"] == "final" and data["step"] is None
    assert data["final"]["accuracy"] == [91.0, None]
    assert data["final"]["accuracy_field"] == ["test_accuracy", None]
    assert data["metrics"] == {"acc": [91.0, None], "train_loss": [0.2, 0.3]}
    assert data["x"] == {"acc": [10, None], "train_loss": [10, 12]}


def test_compare_table_marks_the_best_and_the_x_of_values_before_the_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = [a_run(), a_run(id=4, name="other", tags=["b"])]
    values = [{"train_loss": (480, 0.2)}, {"train_loss": (500, 0.3)}]
    make_console(None).print(compare_table(comparison(runs, values, 500)))
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["METRIC", "run", "3", "base", "run", "4", "other"]
    assert "train_loss" in out and "0.2 @480" in out and "0.3 @" not in out
    make_console(True).print(compare_table(comparison(runs, values, 500)))
    assert "\x1b[1m0.2 @480" in capsys.readouterr().out  # lower loss is the better one


def test_the_settings_that_differ_are_a_table_of_their_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = [a_run(), a_run(id=4, tags=["b"], display_command="python train.py --lr 3")]
    make_console(None).print(settings_table(comparison(runs, [{}, {}], None)))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SETTING", "run", "3", "run", "4"]
    assert lines[1].split() == ["command", "python", "train.py", "python", "train.py", "--lr", "3"]
    assert lines[2].split() == ["tags", "a", "b"]


def test_reingest_says_what_it_found() -> None:
    run = a_run(status="completed", attempts=[{"number": 1}, {"number": 2}],
                final={"accuracy": 91.2, "accuracy_field": "test_accuracy"})  # fmt: skip
    summary = {"train_loss": {"count": 10}, "test_accuracy": {"count": 10}}
    assert reingest_line(run, summary) == (
        "run 3: 2 metrics (20 points) from the logs of 2 attempts, epoch 3/10, step 1500,"
        " 41s/epoch, final accuracy 91.2 (test_accuracy), 1 warning (non_finite)"
    )
