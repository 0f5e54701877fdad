"""The example scripts, run for real: each speaks the protocol the way its docstring says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runyard.protocol import LogSummary, WarningKind, parse_log

EXAMPLES = Path(__file__).parents[3] / "examples"


def run(
    script: str, *args: str, patterns: tuple[str, ...] = ()
) -> tuple[LogSummary, subprocess.CompletedProcess[bytes]]:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
    )
    return parse_log(done.stdout, patterns, exit_code=done.returncode), done


def test_progress_train_completes_with_final_results() -> None:
    summary, done = run("progress_train.py", "--epochs", "3", "--sleep", "0")
    assert done.returncode == 0
    assert summary.progress == (3, 3, 15)
    assert (
        summary.results.source == "completed_report"
        and summary.results.accuracy_key == "test_accuracy"
    )
    assert summary.info["lr_phase_name"] == "decay"
    assert summary.warnings == []


def test_progress_train_can_fail_and_run_out_of_memory() -> None:
    summary, done = run("progress_train.py", "--epochs", "3", "--sleep", "0", "--fail-at", "2")
    assert done.returncode == 1 and summary.progress.epoch == 1 and summary.results.accuracy is None
    _, done = run("progress_train.py", "--sleep", "0", "--batch-size", "128", "--oom-above", "64")
    assert done.returncode == 1 and b"CUDA out of memory" in done.stdout


def test_legacy_train_is_read_without_a_completed_report() -> None:
    summary, _ = run("legacy_train.py", "--epochs", "2", "--sleep", "0")
    assert summary.progress == (2, 2, None)
    assert set(summary.metrics) == {"train_loss", "train_accuracy", "test_loss", "test_accuracy"}
    assert [w.kind for w in summary.warnings] == [WarningKind.NO_COMPLETED_REPORT]
    assert summary.results.accuracy_key == "test_accuracy"


def test_report_helper_train() -> None:
    summary, _ = run("report_helper_train.py", "--epochs", "2", "--sleep", "0")
    assert summary.results.source == "completed_report"
    assert "layer_activity_map.Block_01" in summary.metrics and summary.info == {
        "adaptive_mode": True
    }


@pytest.mark.parametrize("flag", ["--fractions"])
def test_report_helper_train_warns_about_fractions(flag: str) -> None:
    summary, done = run("report_helper_train.py", "--epochs", "2", "--sleep", "0", flag)
    assert b"runyard.report: accuracies look like fractions" in done.stdout
    assert WarningKind.ACCURACY_FRACTION in [w.kind for w in summary.warnings]


def test_custom_pattern_train() -> None:
    pattern = r"iter (?P<step>\d+) loss (?P<train_loss>[-\d.e]+) acc (?P<train_accuracy>[\d.]+)"
    summary, _ = run(
        "custom_pattern_train.py", "--iters", "200", "--sleep", "0", patterns=(pattern,)
    )
    assert [p.x for p in summary.points if p.key == "train_loss"] == [50.0, 100.0, 150.0, 200.0]
