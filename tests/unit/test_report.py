"""runyard.report (PROTOCOL.md §11): the stdlib-only helper that prints PROGRESS lines."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import pytest

from runyard.protocol import parse_log
from runyard.report import Reporter


def reporter() -> tuple[Reporter, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Reporter(out, err), out, err


def test_prints_one_line_the_parser_reads() -> None:
    rep, out, err = reporter()
    rep.progress(
        2, 5, step=40, train_loss=0.4, accuracy=85.0, lr_phase_name="decay", layers={"b1": 1.5}
    )
    summary = parse_log(out.getvalue().encode())
    assert summary.metrics == {"train_loss": 0.4, "test_accuracy": 85.0, "layers.b1": 1.5}
    assert summary.info == {"lr_phase_name": "decay"}
    assert summary.progress == (2, 5, 40)
    assert summary.warnings[0].kind == "no_completed_report" and err.getvalue() == ""


def test_completed_marks_the_final_report() -> None:
    rep, out, _ = reporter()
    line = rep.completed(5, 5, test_accuracy=91.0)
    assert out.getvalue() == line + "\n"
    assert json.loads(line.removeprefix("PROGRESS: "))["status"] == "completed"
    assert parse_log(out.getvalue().encode()).results.accuracy == 91.0


def test_non_finite_values_are_written_as_json_dumps_does() -> None:
    rep, _, _ = reporter()
    assert '"train_loss": NaN' in rep.progress(1, 1, train_loss=float("nan"))


def test_scalars_with_item_become_numbers() -> None:
    class Scalar:
        def item(self) -> float:
            return 0.25

    rep, _, _ = reporter()
    assert '"train_loss": 0.25' in rep.progress(1, 1, train_loss=Scalar())


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        ({"test_accuracy": 0.95}, "fractions"),
        ({"val_accuracy": 101.0}, "percent"),
        ({"epoch": 0}, "epoch 0"),
        ({"epoch": None}, "epoch None"),
        ({"status": "done"}, "status 'done'"),
    ],
)
def test_problems_go_to_stderr_once_and_the_line_is_still_printed(
    call: dict[str, object], needle: str
) -> None:
    rep, out, err = reporter()
    epoch: Any = call.get("epoch", 1)
    fields = {k: v for k, v in call.items() if k != "epoch"}
    for _ in range(3):
        rep.progress(epoch, 3, **fields)
    assert err.getvalue().count("runyard.report:") == 1 and needle in err.getvalue()
    assert out.getvalue().count("PROGRESS: ") == 3


def test_percent_accuracies_raise_nothing() -> None:
    rep, _, err = reporter()
    rep.progress(1, 3, train_accuracy=0.5, test_accuracy=45.0)
    assert err.getvalue() == ""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )


def test_from_runyard_import_report_is_callable_and_flushes() -> None:
    done = run_python(
        "from runyard import report\nreport(1, 2, train_loss=0.5)\nreport.completed(2, 2, test_accuracy=90.0)"
    )
    summary = parse_log(done.stdout.encode())
    assert summary.completed is not None and summary.results.accuracy == 90.0


def test_importing_it_imports_only_the_standard_library() -> None:
    code = (
        "import sys\nbefore = set(sys.modules)\nfrom runyard import report\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    assert run_python(code).stdout.strip() == "['runyard', 'runyard.report']"
