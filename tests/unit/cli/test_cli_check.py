"""`runyard check`: the real console script on real scripts and logs, no daemon anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runyard.cli.commands_check import Checker, is_fatal

ROOT = Path(__file__).resolve().parents[3]
RUNYARD = str(Path(sys.executable).with_name("runyard"))
PY = sys.executable
PROGRESS_EXAMPLE = [
    PY,
    str(ROOT / "examples" / "progress_train.py"),
    "--epochs",
    "2",
    "--sleep",
    "0",
]
KERAS_LOG = ROOT / "tests" / "unit" / "protocol" / "fixtures" / "keras2_fit.log"


def check(
    tmp_path: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env["RUNYARD_HOME"] = str(tmp_path / "home")  # never created: check needs no daemon
    return subprocess.run(
        [RUNYARD, "check", *args],
        env=env,
        cwd=tmp_path,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


def script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "train.py"
    path.write_text(body)
    return [PY, str(path)]


def report_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in result.stderr, result.stderr
    return dict(json.loads(result.stdout))


def test_a_protocol_script_passes_and_its_output_passes_through_unchanged(tmp_path: Path) -> None:
    direct = subprocess.run(PROGRESS_EXAMPLE, capture_output=True, text=True, check=True).stdout
    result = check(tmp_path, "--", *PROGRESS_EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(direct)
    tail = result.stdout[len(direct) :]
    assert "reports   2 (PROGRESS 2), 1 completed" in tail
    assert "epochs    2 seen of 2" in tail
    assert "accuracy" in tail and "(test_accuracy)" in tail
    assert "OK: runyard would track this script correctly" in tail
    assert not (tmp_path / "home").exists()


def test_the_json_report_has_counts_fields_and_final_results(tmp_path: Path) -> None:
    result = check(tmp_path, "--json", "--", *PROGRESS_EXAMPLE)
    report = report_of(result)
    assert result.returncode == 0 and report["ok"] and report["problems"] == []
    assert "PROGRESS: " in result.stderr  # the script's output moved out of the JSON's way
    assert report["reports"] == {"total": 2, "completed": 1, "by_source": {"progress": 2}}
    assert report["epochs"] == {"seen": 2, "total": 2, "missing": []}
    assert set(report["fields"]) == {
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "lr",
    }
    assert report["info"] == {"lr_phase_name": "decay"}
    assert report["final"]["accuracy_field"] == "test_accuracy"
    assert report["final"]["accuracy"] == report["fields"]["test_accuracy"]["last"]
    assert report["exit_code"] == 0 and report["warnings"] == []


def test_malformed_progress_fails_and_names_the_line(tmp_path: Path) -> None:
    body = (
        "print('starting')\n"
        'print(\'PROGRESS: {"epoch": 1, "total_epochs": 1, "status": "completed"\')\n'
        'print(\'PROGRESS: {"epoch": 1, "total_epochs": 1, "status": "completed"}\')\n'
    )
    result = check(tmp_path, "--", *script(tmp_path, body))
    assert result.returncode == 1
    assert "malformed_json (fails) line 2" in result.stdout
    assert 'PROGRESS: {"epoch": 1, "total_epochs": 1, "status": "completed"\n' in result.stdout
    assert "NOT OK" in result.stdout


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("print('hello')", "no report found"),
        (
            'print(\'PROGRESS: {"epoch": 1, "total_epochs": 2, "status": "training"}\')',
            'no report with "status": "completed"',
        ),
        (
            'import sys\nprint(\'PROGRESS: {"epoch": 1, "total_epochs": 1, "status": "completed"}\')\nsys.exit(3)',
            "the script exited with code 3",
        ),
        (
            'print(\'PROGRESS: {"epoch": 1, "total_epochs": 1, "accuracy": 0.9, "status": "completed"}\')',
            "accuracy_fraction (line 1)",
        ),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
            "the script was killed by signal 9",
        ),
    ],
)
def test_what_makes_a_script_fail(tmp_path: Path, body: str, problem: str) -> None:
    result = check(tmp_path, "--json", "--", *script(tmp_path, body))
    report = report_of(result)
    assert result.returncode == 1 and not report["ok"]
    assert any(p.startswith(problem) for p in report["problems"]), report["problems"]


def test_a_nan_loss_is_reported_but_does_not_fail(tmp_path: Path) -> None:
    body = (
        "import json\n"
        "print('PROGRESS: ' + json.dumps({'epoch': 1, 'total_epochs': 1, 'train_loss': float('nan'),"
        " 'status': 'completed'}))\n"
    )
    report = report_of(check(tmp_path, "--json", "--", *script(tmp_path, body)))
    assert report["ok"]
    assert [(w["kind"], w["line"], w["fatal"]) for w in report["warnings"]] == [
        ("non_finite", 1, False)
    ]
    assert report["final"]["train_loss"] == "NaN"


def test_a_saved_log_is_judged_on_its_reports(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_bytes(subprocess.run(PROGRESS_EXAMPLE, capture_output=True, check=True).stdout)
    result = check(tmp_path, "--log", str(log))
    assert result.returncode == 0, result.stdout
    assert "exit status not known" in result.stdout
    piped = report_of(check(tmp_path, "--json", "--log", "-", stdin=log.read_bytes()))
    assert piped["ok"] and piped["exit_code"] is None and piped["reports"]["total"] == 2


def test_a_framework_log_passes_without_a_completed_report(tmp_path: Path) -> None:
    result = check(tmp_path, "--json", "--log", str(KERAS_LOG))
    report = report_of(result)
    assert result.returncode == 0  # Keras never prints "completed": final results come from the last report
    assert report["reports"]["by_source"] == {"keras": report["reports"]["total"]}
    assert report["fields"]["val_loss"]["reports"] > 0
    assert [(w["kind"], w["fatal"]) for w in report["warnings"]] == [("no_completed_report", False)]
    assert report["final"]["source"] == "last_report"


def test_metric_patterns_are_used(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text("iter 10 loss 0.5\niter 20 loss 0.25\n")
    pattern = r"iter (?P<step>\d+) loss (?P<train_loss>[-\d.e]+)"
    report = report_of(check(tmp_path, "--json", "--metric-pattern", pattern, "--log", str(log)))
    assert report["reports"]["by_source"] == {"pattern": 2}
    assert report["fields"]["train_loss"] == {"reports": 2, "last": 0.25, "printed_as": None}


def test_a_hundred_thousand_plain_loss_lines_are_all_kept(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text("".join(f"loss: {1 / (i + 1):.6f}\n" for i in range(100_000)))
    args = ("--metric-pattern", r"^loss: (?P<loss>[-\d.e]+)$", "--log", str(log))
    report = report_of(check(tmp_path, "--json", *args))
    assert report["points"] == {"read": 100_000, "replaced": 0}
    assert report["ok"], report["problems"]
    assert "100,000 read, each at its own x" in check(tmp_path, *args).stdout


def test_points_that_would_be_replaced_are_not_ok_and_counted(tmp_path: Path) -> None:
    lines = [f'PROGRESS: {{"epoch": 1, "total_epochs": 1, "train_loss": {b / 10}, "status": "training"}}'
             for b in range(1, 6)]
    lines.append('PROGRESS: {"epoch": 1, "total_epochs": 1, "train_loss": 0.1, "status": "completed"}')
    result = check(tmp_path, "--json", "--", *script(tmp_path, "\n".join(f"print({line!r})" for line in lines)))
    report = report_of(result)
    assert result.returncode == 1 and not report["ok"]
    assert report["points"] == {"read": 6, "replaced": 5}
    [problem] = report["problems"]
    assert problem.startswith("points_replaced (line 2): 5 points of 6 replaced")
    text = check(tmp_path, "--", *script(tmp_path, "\n".join(f"print({line!r})" for line in lines))).stdout
    assert "6 read, 5 replaced at an x already reached: 1 kept" in text and "NOT OK" in text


@pytest.mark.parametrize(
    "args",
    [
        ("--log", "x.log", "--", "true"),
        (),
        ("--metric-pattern", "(", "--", "true"),
        ("--metric-pattern", "no groups", "--", "true"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = check(tmp_path, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("--", "/no/such/program"), ("--log", "/no/such/file.log")])
def test_what_cannot_be_run_or_read_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = check(tmp_path, *args)
    assert result.returncode == 1
    assert result.stderr.startswith("runyard: cannot ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("kind", "text", "fatal"),
    [
        ("malformed_json", "PROGRESS: {", True),
        ("accuracy_fraction", "", True),
        ("no_completed_report", "", True),
        ("points_replaced", "", True),
        ("non_finite", "", False),
        ("total_epochs_changed", "", False),
        ("line_too_long", '  PROGRESS: {"epoch": 1', True),
        ("line_too_long", "tensor([0.1, 0.2, ...", False),
    ],
)
def test_which_warnings_fail(kind: str, text: str, fatal: bool) -> None:
    assert is_fatal(kind, text) is fatal


def test_a_chunk_boundary_splits_no_line_and_no_oom_signature() -> None:
    checker = Checker([])
    data = b'Epoch 1/1\nPROGRESS: {"epoch": 1, "total_epochs": 1, "status": "completed"}\nCUDA out of memory\n'
    for i in range(0, len(data), 7):
        checker.feed(data[i : i + 7])
    report = checker.finish(1, None)
    assert report["reports"]["completed"] == 1 and report["oom"]
    assert report["problems"] == ["the script exited with code 1 (out of memory)"]


def test_importing_the_cli_does_not_import_the_parser() -> None:
    code = "import sys, runyard.cli.app; print('runyard.protocol' in sys.modules, 'rich' in sys.modules)"
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
