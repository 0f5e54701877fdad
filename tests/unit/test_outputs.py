"""ingest/outputs.py: events.jsonl, scalars.csv and statistics snapshots, as real files."""

from __future__ import annotations

import csv
import json
import math
import threading
from pathlib import Path
from typing import Any

import pytest

from runyard.domain.snapshots import snapshot_name
from runyard.errors import InvalidSpec
from runyard.ingest.outputs import (
    EventLog,
    build_snapshot,
    event_record,
    moment_for,
    to_json_value,
    write_scalars_csv,
    write_snapshot,
)

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("kind", "data", "moment"),
    [
        ("status", {"from": "preparing", "to": "running"}, "on_start"),
        ("report", {"epoch": 1}, "on_epoch_end"),
        ("status", {"from": "running", "to": "completed"}, "on_train_end"),
        ("status", {"from": "running", "to": "failed"}, "on_exception"),
        ("status", {"from": "running", "to": "lost"}, "on_exception"),
        ("attempt_ended", {"status": "failed", "reason": "oom"}, "on_exception"),
        ("attempt_ended", {"status": "completed"}, "attempt_ended"),
        ("status", {"from": "queued", "to": "cancelled"}, "status"),
        ("submitted", {"status": "queued"}, "submitted"),
        ("snapshot_saved", {"name": "stats_10.json"}, "snapshot_saved"),
    ],
)
def test_moments(kind: str, data: dict[str, Any], moment: str) -> None:
    assert moment_for(kind, data) == moment


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.5, 1.5), (math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")],
)
def test_to_json_value(value: float, expected: float | str) -> None:
    assert to_json_value(value) == expected


def test_event_record_splits_losses_from_metrics_and_spells_out_nan() -> None:
    record = event_record(
        "report",
        T0 + 1.25,
        run_id=7,
        attempt=1,
        data={"lr": math.inf},
        epoch=2,
        step=40,
        metrics={"train_loss": math.nan, "test_accuracy": 91.5, "note": "x"},  # type: ignore[dict-item]
        losses={"val_loss": 0.3},
        epoch_time_s=12.5,
    )
    assert record["moment"] == "on_epoch_end" and record["time"] == "2026-01-01T00:00:01.250Z"
    assert record["losses"] == {"train_loss": "NaN", "val_loss": 0.3}
    assert record["metrics"] == {"test_accuracy": 91.5}
    assert record["data"] == {"lr": "Infinity"}
    assert (record["epoch"], record["step"], record["epoch_time_s"]) == (2, 40, 12.5)


def test_event_log_appends_json_lines(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "run" / "events.jsonl")
    log.append([event_record("submitted", T0, run_id=3, attempt=None, data={"status": "queued"})])
    log.append(
        [
            event_record("status", T0 + 1, run_id=3, attempt=1, data={"to": "running"}),
            event_record("report", T0 + 2, run_id=3, attempt=1, epoch=1, losses={"loss": 0.5}),
        ]
    )
    lines = [json.loads(line) for line in log.path.read_text("utf-8").splitlines()]
    assert [line["moment"] for line in lines] == ["submitted", "on_start", "on_epoch_end"]
    assert all(line["schema_version"] == 1 and line["time"].endswith("Z") for line in lines)
    assert lines[2]["losses"] == {"loss": 0.5}


def test_event_log_survives_what_orjson_refuses(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.append([{"big": 2**70, "text": "Genauigkeit ü"}, {"when": Path("/x")}])
    lines = log.path.read_text("utf-8").splitlines()
    assert json.loads(lines[0]) == {"big": 2**70, "text": "Genauigkeit ü"}
    assert json.loads(lines[1]) == {"when": "/x"}


def test_event_log_raises_os_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        EventLog(tmp_path / "file" / "events.jsonl").append([{"kind": "x"}])


def test_scalars_csv_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "scalars.csv"
    rows = [
        (1.0, 1, None, {"loss": 0.5, "acc": 80.0}),
        (2.5, None, 20, {"loss": math.nan}),
        (3.0, 3, 30, {"loss": math.inf, "acc": -math.inf}),
    ]
    write_scalars_csv(path, iter(rows), ["loss", "acc"])
    with path.open(newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["x", "epoch", "step", "loss", "acc"]
    assert table[1] == ["1", "1", "", "0.5", "80"]
    assert table[2][:3] == ["2.5", "", "20"] and table[2][4] == ""
    assert math.isnan(float(table[2][3]))
    assert [float(v) for v in table[3][3:]] == [math.inf, -math.inf]
    assert [p.name for p in tmp_path.iterdir()] == ["scalars.csv"]


def test_scalars_csv_and_exports_spell_numbers_alike(tmp_path: Path) -> None:
    """One CSV number writer: a non-finite value reads the same in scalars.csv as in an
    export (and as the API shows it)."""
    from runyard.service.exports import RunPoints, csv_rows

    write_scalars_csv(tmp_path / "scalars.csv", iter([(1.0, None, 1, {"loss": math.nan, "acc": math.inf})]),
                      ["loss", "acc"])
    with (tmp_path / "scalars.csv").open(newline="") as f:
        scalars = list(csv.reader(f))[1][3:]
    points = RunPoints(run_id=7, series={"loss": [(1.0, math.nan)], "acc": [(1.0, math.inf)]}, axes={},
                       x_is_step=True)
    exported = next(iter(csv_rows(points, ["loss", "acc"])))[4:]
    assert scalars == exported == ["NaN", "Infinity"]


@pytest.mark.parametrize(
    ("template", "step", "epoch", "name"),
    [
        ("stats_{step}.json", 120, 3, "stats_120.json"),
        ("Statistik_{step}.json", 120.0, 3, "Statistik_120.json"),
        ("{epoch:03d}.json", None, 7, "007.json"),
        ("run_e{epoch}_s{step}.json", 2.5, 1, "run_e1_s2.5.json"),
    ],
)
def test_snapshot_names(template: str, step: float | None, epoch: int | None, name: str) -> None:
    assert snapshot_name(template, step, epoch) == name


@pytest.mark.parametrize(
    "template",
    [
        "../stats_{step}.json",
        "sub/stats_{step}.json",
        "stats_{step}..json",
        ".hidden_{step}",
        "stats_{step",
        "stats_{}.json",
        "stats_{run}.json",
        "{step.__class__}.json",
        "{step:03d}.json",  # 2.5 is no integer
    ],
)
def test_bad_snapshot_templates_are_refused(template: str) -> None:
    with pytest.raises(InvalidSpec):
        snapshot_name(template, 2.5, 1)


def test_a_template_needing_a_step_the_run_lacks_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="no step"):
        snapshot_name("stats_{step}.json", None, 1)


def test_snapshot_is_pretty_utf8_and_atomic(tmp_path: Path) -> None:
    state = {"run": {"name": "Größe-Test 学习"}, "metrics": {"val_loss": math.nan, "acc": 90.0}}
    path = write_snapshot(tmp_path / "stats", "Statistik_5.json", state)
    text = path.read_text("utf-8")
    assert text.startswith('{\n  "run": {\n    "name": "Größe-Test 学习"')
    loaded = json.loads(text)
    assert loaded["metrics"] == {"val_loss": None, "acc": 90.0}
    assert loaded["non_finite"] == {"metrics.val_loss": "NaN"}
    assert [p.name for p in path.parent.iterdir()] == ["Statistik_5.json"]


def test_snapshot_writes_from_threads_do_not_collide(tmp_path: Path) -> None:
    def write(i: int) -> None:
        write_snapshot(tmp_path, "stats_1.json", {"writer": i, "pad": "x" * 100_000})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads((tmp_path / "stats_1.json").read_text())["writer"] in range(8)
    assert [p.name for p in tmp_path.iterdir()] == ["stats_1.json"]


def test_build_snapshot_layout() -> None:
    run = {
        "id": 4,
        "name": "resnet",
        "status": "running",
        "attempts": [{"number": 1}, {"number": 2}],
        "command": ["python", "train.py"],
        "workdir": "/w",
        "tags": ["a"],
        "created_at": "2026-01-01T00:00:00.000Z",
        "started_at": T0 + 60,
        "env": {"SECRET": "x"},
    }
    gpus = [
        {
            "index": 0,
            "name": "H100",
            "memory_mib": 81559,
            "used_mib": 1000,
            "utilization": 97,
            "uuid": "GPU-0",
        }
    ]
    snap = build_snapshot(
        run=run,
        progress={"epoch": 3, "total_epochs": 10, "step": 300, "eta_s": 70.0},
        metrics={"val_loss": 0.2},
        info={"phase": "warmup"},
        gpus=gpus,
        now=T0 + 120,
    )
    assert snap["run"] == {
        "id": 4,
        "name": "resnet",
        "status": "running",
        "attempt": 2,
        "command": ["python", "train.py"],
        "workdir": "/w",
        "tags": ["a"],
    }
    assert (snap["step"], snap["epoch"], snap["total_epochs"], snap["seconds_per_epoch"]) == (
        300,
        3,
        10,
        None,
    )
    assert snap["gpus"] == [{k: v for k, v in gpus[0].items() if k != "uuid"}]
    assert snap["timestamps"] == {
        "created_at": "2026-01-01T00:00:00.000Z",
        "started_at": "2026-01-01T00:01:00.000Z",
        "finished_at": None,
        "snapshot_at": "2026-01-01T00:02:00.000Z",
    }
    assert snap["metrics"] == {"val_loss": 0.2} and snap["info"] == {"phase": "warmup"}
