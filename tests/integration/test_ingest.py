"""What runs print becomes live metrics, final results, warnings and files on disk."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

from runyard.service import metrics, runs
from tests.conftest import PY, python, submit, wait_for

EXAMPLES = Path(__file__).parents[2] / "examples"


async def test_progress_lines_become_live_metrics_and_final_results(yard):
    run_id = submit(yard, PY, str(EXAMPLES / "progress_train.py"), "--epochs", "4", "--sleep", "0.08",
                    gpus_min=0, workdir=EXAMPLES)
    seen_live = None
    while (run := runs.get_run(yard, run_id))["status"] not in ("completed", "failed"):
        if run["progress"]["epoch"] and run["status"] == "running":
            seen_live = run["progress"]
        await asyncio.sleep(0.05)
    assert seen_live is not None and seen_live["total_epochs"] == 4
    assert run["status"] == "completed"
    assert run["progress"]["epoch"] == 4
    assert run["final"]["accuracy"] is not None and run["final"]["accuracy_field"] == "test_accuracy"
    assert {"train_loss", "test_loss", "test_accuracy"} <= set(run["metrics"])
    assert run["warnings"] == []
    series = metrics.series(yard, run_id, ["test_accuracy"], None, None, None)["series"]["test_accuracy"]
    assert [x for x, _ in series] == [5.0, 10.0, 15.0, 20.0]  # x is the global step (5 steps an epoch)


async def test_run_outputs_on_disk(yard):
    run_id = submit(yard, PY, str(EXAMPLES / "progress_train.py"), "--epochs", "3", "--sleep", "0",
                    gpus_min=0, workdir=EXAMPLES)
    await wait_for(yard, run_id)
    run_dir = yard.run_dir(run_id)
    for _ in range(100):
        if (run_dir / "figures" / "accuracy.png").exists():
            break
        await asyncio.sleep(0.05)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert all(e["schema_version"] == 1 for e in events)
    moments = [e["moment"] for e in events]
    assert "on_start" in moments and "on_epoch_end" in moments and "on_train_end" in moments
    rows = list(csv.DictReader((run_dir / "scalars.csv").read_text().splitlines()))
    assert len(rows) >= 3 and "train_loss" in rows[0]
    snapshots = sorted(p.name for p in (run_dir / "stats").iterdir())
    assert snapshots and all(name.startswith("stats_") for name in snapshots)
    snapshot = json.loads((run_dir / "stats" / snapshots[-1]).read_text())
    assert snapshot["metrics"]["test_accuracy"] is not None
    assert (run_dir / "figures" / "losses.png").read_bytes()[:4] == b"\x89PNG"


async def test_legacy_lines_and_custom_patterns(yard):
    legacy = submit(yard, PY, str(EXAMPLES / "legacy_train.py"), "--epochs", "2", "--sleep", "0",
                    gpus_min=0, workdir=EXAMPLES)
    code = "for i in range(5):\n    print(f'iter {i} loss {1/(i+1):.3f}')"
    custom = submit(yard, *python(code), gpus_min=0,
                    metric_patterns=[r"iter (?P<step>\d+) loss (?P<train_loss>[-\d.e]+)"])
    legacy_run, custom_run = await wait_for(yard, legacy), await wait_for(yard, custom)
    assert "train_loss" in legacy_run["metrics"] and legacy_run["progress"]["total_epochs"] == 2
    series = metrics.series(yard, custom, None, None, None, None)["series"]
    assert series["train_loss"] == [[0.0, 1.0], [1.0, 0.5], [2.0, 0.333], [3.0, 0.25], [4.0, 0.2]]
    assert custom_run["status"] == "completed"


async def test_bad_output_becomes_warnings_and_loses_nothing(yard):
    code = (
        "import sys\n"
        "print('PROGRESS: {not json')\n"
        "sys.stdout.buffer.write(b'\\xff\\xfe binary \\x00 junk\\n')\n"
        "print('x' * (5 << 20))\n"
        "print('PROGRESS: {\"epoch\": 1, \"total_epochs\": 1, \"status\": \"completed\", \"accuracy\": 0.9, \"loss\": NaN}')\n"
    )
    run_id = submit(yard, *python(code), gpus_min=0)
    run = await wait_for(yard, run_id)
    kinds = {w["kind"] for w in run["warnings"]}
    assert {"malformed_json", "line_too_long", "non_finite", "accuracy_fraction"} <= kinds
    assert run["status"] == "completed" and run["final"]["accuracy"] == 0.9
    assert run["metrics"]["train_loss"] == "NaN"


async def test_reingest_rebuilds_the_same_metrics(yard):
    run_id = submit(yard, PY, str(EXAMPLES / "progress_train.py"), "--epochs", "3", "--sleep", "0",
                    gpus_min=0, workdir=EXAMPLES)
    before = await wait_for(yard, run_id)
    series_before = metrics.series(yard, run_id, None, None, None, None)
    after = await metrics.reingest(yard, run_id)
    assert metrics.series(yard, run_id, None, None, None, None) == series_before
    assert (after["final"], after["metrics"], after["warnings"]) == (before["final"], before["metrics"], before["warnings"])
    position = ("epoch", "total_epochs", "step")  # timing (ETA) is not in the log: it is not rebuilt
    assert [after["progress"][k] for k in position] == [before["progress"][k] for k in position]


async def test_series_downsampled_keeps_spikes(yard):
    code = "for i in range(20000):\n    print(f'PROGRESS: {{\"epoch\": 1, \"total_epochs\": 1, \"status\": \"training\", \"step\": {i}, \"loss\": {100.0 if i == 12345 else 1.0}}}')"
    run_id = submit(yard, *python(code), gpus_min=0)
    await wait_for(yard, run_id)
    full = metrics.series(yard, run_id, ["train_loss"], None, None, None)["series"]["train_loss"]
    assert len(full) == 20000
    small = metrics.series(yard, run_id, ["train_loss"], 200, None, None)
    assert small["downsampled"] and len(small["series"]["train_loss"]) <= 250
    assert [12345.0, 100.0] in small["series"]["train_loss"]


async def test_plain_values_without_a_step_are_all_kept_and_replaced_points_are_told(yard):
    # Each attempt prints 50 plain `loss:` lines (no step: the implicit index) and three
    # reports at epoch 1 (two of their points replace the first), then fails once.
    code = (
        "import os\n"
        "for i in range(50):\n    print(f'loss: {1 / (i + 1):.4f}')\n"
        "for b in range(3):\n"
        "    print('PROGRESS: {\"epoch\": 1, \"total_epochs\": 1, \"status\": \"training\", \"val_loss\": %d}' % b)\n"
        "raise SystemExit(1 if os.environ['RUNYARD_ATTEMPT'] == '1' else 0)\n"
    )
    run_id = submit(yard, *python(code), gpus_min=0, retries=1,
                    metric_patterns=[r"^loss: (?P<loss>[-\d.e]+)$"])
    run = await wait_for(yard, run_id)
    assert run["status"] == "completed" and len(run["attempts"]) == 2
    series = metrics.series(yard, run_id, ["loss"], None, None, None)["series"]["loss"]
    assert [x for x, _ in series] == [float(i) for i in range(50)]
    [warning] = [w for w in run["warnings"] if w["kind"] == "points_replaced"]
    assert warning["attempt"] == 2 and warning["line"] == 52
    assert warning["message"].startswith("2 points of 53 replaced") and "val_loss 2" in warning["message"]
    found = metrics.events(yard, run_id, 0, 1000)["events"]
    told = [e for e in found if e["kind"] == "warning" and e["data"]["warning"] == "points_replaced"]
    assert [e["attempt"] for e in told] == [1, 2]  # once per attempt
