"""show / metrics / export / compare / reingest against a real daemon running the examples."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli.harness import Cli

pytestmark = pytest.mark.slow
PY = sys.executable
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def progress_run(cli: Cli, *args: str) -> int:
    run_id = cli.submit(
        "--gpus", "0", "--", PY, str(EXAMPLES / "progress_train.py"), "--sleep", "0", *args
    )
    cli.ok("wait", str(run_id))
    return run_id


def series(cli: Cli, run_id: int, *args: str) -> dict[str, list[list[Any]]]:
    return dict(json.loads(cli.ok("metrics", str(run_id), "--json", *args)))


def test_show_has_progress_final_results_metrics_and_info(cli: Cli) -> None:
    run_id = progress_run(cli, "--epochs", "3")
    run = cli.run(run_id)
    assert {k: run["progress"][k] for k in ("epoch", "total_epochs", "step")} == {
        "epoch": 3, "total_epochs": 3, "step": 15,
    }  # fmt: skip
    assert run["final"]["accuracy_field"] == "test_accuracy"
    assert run["final"]["accuracy"] == run["metrics"]["test_accuracy"]
    assert run["final"]["train_loss"] == run["metrics"]["train_loss"]
    assert run["info"] == {"lr_phase_name": "decay"} and run["warnings"] == []
    text = cli.ok("show", str(run_id))
    assert "epoch 3/3, step 15" in text
    assert f"accuracy {run['final']['accuracy']:g} (test_accuracy)" in text
    assert "lr_phase_name" in text


def test_metrics_prints_the_series_as_json_csv_and_a_table(cli: Cli) -> None:
    run_id = progress_run(cli, "--epochs", "3")
    everything = series(cli, run_id)
    assert set(everything) == {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr"}
    assert [x for x, _ in everything["lr"]] == [5, 10, 15]
    assert [v for _, v in everything["lr"]] == [0.1, 0.05, 0.025]
    assert series(cli, run_id, "--key", "lr") == {"lr": everything["lr"]}
    rows = cli.ok("metrics", str(run_id), "--csv", "-k", "lr").splitlines()
    assert rows == ["x,key,value", "5,lr,0.1", "10,lr,0.05", "15,lr,0.025"]
    table = cli.ok("metrics", str(run_id)).splitlines()
    assert table[0].split()[:2] == ["METRIC", "COUNT"]
    lr_row = next(line.split() for line in table if line.startswith("lr "))
    assert lr_row == ["lr", "3", "0.1", "0.025", "0.025", "0.1", "0.1", "@5"]
    missing = cli("metrics", str(run_id), "-k", "nope")
    assert missing.returncode == 1 and "no metric nope" in missing.stderr


def test_a_legacy_run_is_read_and_warns_of_its_missing_completed_report(cli: Cli) -> None:
    run_id = cli.submit(
        "--gpus", "0", "--", PY, str(EXAMPLES / "legacy_train.py"), "--epochs", "2", "--sleep", "0"
    )
    cli.ok("wait", str(run_id))
    run = cli.run(run_id)
    assert run["progress"]["epoch"] == 2 and run["progress"]["total_epochs"] == 2
    assert [w["kind"] for w in run["warnings"]] == ["no_completed_report"]
    assert run["final"]["accuracy"] == run["metrics"]["test_accuracy"]
    assert [x for x, _ in series(cli, run_id)["train_loss"]] == [1, 2]
    assert "no_completed_report" in cli.ok("show", str(run_id))


def test_export_and_compare_two_runs(cli: Cli, tmp_path: Path) -> None:
    one = progress_run(cli, "--epochs", "2")
    two = progress_run(cli, "--epochs", "3", "--seed", "7")
    out = tmp_path / "both.csv"
    cli.ok("export", str(one), str(two), "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["run_id"], r["x"], r["epoch"], r["step"]) for r in rows] == [
        (str(one), "5", "1", "5"), (str(one), "10", "2", "10"),
        (str(two), "5", "1", "5"), (str(two), "10", "2", "10"), (str(two), "15", "3", "15"),
    ]  # fmt: skip
    assert float(rows[-1]["test_accuracy"]) == cli.run(two)["final"]["accuracy"]
    exported = json.loads(cli.ok("export", f"{one}-{two}", "--format", "json"))
    assert [r["id"] for r in exported] == [one, two]
    assert exported[1]["series"] == series(cli, two)

    final = json.loads(cli.ok("compare", str(one), str(two), "--json"))
    assert final["runs"] == [one, two] and final["at"] == "final"
    assert final["final"]["accuracy"] == [
        cli.run(one)["final"]["accuracy"],
        cli.run(two)["final"]["accuracy"],
    ]
    assert final["x"]["lr"] == [10, 15]
    assert set(final["settings"]) == {"command"}
    at = json.loads(cli.ok("compare", str(one), str(two), "--step", "12", "--json"))
    assert at["x"]["lr"] == [10, 10] and at["metrics"]["lr"] == [0.05, 0.05]
    text = cli.ok("compare", str(one), str(two), "--step", "12")
    assert "largest x ≤ 12" in text and "0.05 @10" in text


def test_reingest_rebuilds_the_same_metrics(cli: Cli) -> None:
    run_id = progress_run(cli, "--epochs", "2")
    before, final = series(cli, run_id), cli.run(run_id)["final"]
    line = cli.ok("reingest", str(run_id))
    assert line.startswith(f"run {run_id}: 5 metrics (10 points) from the log of 1 attempt")
    assert series(cli, run_id) == before and cli.run(run_id)["final"] == final
    missing = cli("reingest", "999")
    assert missing.returncode == 1 and "run 999 not found" in missing.stderr
