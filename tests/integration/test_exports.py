"""Exports of runs' full metric series, served by the API in-process (httpx's ASGI transport)."""

from __future__ import annotations

import math

import httpx
import pytest

from runyard.server.app import create_app
from runyard.server.routes import exports
from runyard.service import metrics
from runyard.service.exports import MAX_RUNS, RunPoints, csv_rows
from tests.conftest import python, submit, wait_for

TOKEN = "test-token"


def progress(*reports: str) -> list[str]:
    """A run that prints these PROGRESS objects (NaN allowed: Python's json writes it)."""
    return python("".join(f"print('PROGRESS: ' + {report!r})\n" for report in reports))


BY_STEP = progress(
    '{"epoch": 1, "total_epochs": 2, "status": "training", "step": 10, "loss": 0.5, "lr": 0.1}',
    '{"epoch": 2, "total_epochs": 2, "status": "completed", "step": 20, "loss": 0.25, "accuracy": 90.5}',
)
BY_EPOCH = progress(
    '{"epoch": 1, "total_epochs": 2, "status": "training", "loss": NaN}',
    '{"epoch": 2, "total_epochs": 2, "status": "completed", "loss": 0.125, "grad_norm": 1.5}',
)


@pytest.fixture
async def api(yard):
    app = create_app(yard, TOKEN)
    if not any(getattr(route, "path", None) == "/api/v1/exports" for route in app.routes):
        app.include_router(exports.router, prefix="/api/v1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://runyard", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        yield client


async def finished(yard, command: list[str]) -> int:
    run_id = submit(yard, *command, gpus_min=0)
    assert (await wait_for(yard, run_id))["status"] == "completed"
    return run_id


async def test_csv_is_one_table_of_both_runs_with_epoch_and_step(api, yard):
    one, two = await finished(yard, BY_STEP), await finished(yard, BY_EPOCH)
    answer = await api.get("/api/v1/exports", params={"run": [one, two]})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        answer.headers["content-disposition"]
        == f'attachment; filename="runyard-runs-{one}-{two}.csv"'
    )
    assert answer.text.splitlines() == [
        "run_id,x,epoch,step,grad_norm,lr,test_accuracy,train_loss",
        f"{one},10,1,10,,0.1,,0.5",
        f"{one},20,2,20,,,90.5,0.25",
        f"{two},1,1,,,,,NaN",
        f"{two},2,2,,1.5,,,0.125",
    ]


async def test_json_is_the_runs_as_the_api_shows_them_with_their_series(api, yard):
    one, two = await finished(yard, BY_STEP), await finished(yard, BY_EPOCH)
    answer = await api.get("/api/v1/exports", params={"run": [two, one], "format": "json"})
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"].endswith(
        f'filename="runyard-runs-{two}-{one}.json"'
    )
    exported = answer.json()
    shown = [(await api.get(f"/api/v1/runs/{run_id}")).json() for run_id in (two, one)]
    assert [{k: v for k, v in run.items() if k != "series"} for run in exported] == shown
    assert exported[0]["series"] == {
        "grad_norm": [[2, 1.5]],
        "train_loss": [[1, "NaN"], [2, 0.125]],
    }
    assert exported[1]["series"]["test_accuracy"] == [[20, 90.5]]


async def test_a_long_series_is_exported_whole(api, yard):
    code = (
        "for i in range(6000):\n"
        '    print(f\'PROGRESS: {{"epoch": 1, "total_epochs": 1, "status": "training",'
        ' "step": {i}, "loss": {i / 7}, "lr": {"NaN" if i == 4321 else 0.1}}}\')'
    )
    run_id = await finished(yard, python(code))
    answer = await api.get(f"/api/v1/runs/{run_id}/export", params={"format": "json"})
    assert (
        answer.headers["content-disposition"]
        == f'attachment; filename="runyard-runs-{run_id}.json"'
    )
    (run,) = answer.json()
    assert run["series"] == metrics.series(yard, run_id, None, None, None, None)["series"]
    assert [x for x, _ in run["series"]["train_loss"]] == list(range(6000))
    assert run["series"]["train_loss"][4999] == [4999, 4999 / 7]
    assert run["series"]["lr"][4321] == [4321, "NaN"]
    rows = (await api.get(f"/api/v1/runs/{run_id}/export")).text.splitlines()
    assert len(rows) == 6001 and rows[1] == f"{run_id},0,1,0,0.1,0"  # a report event names x = 0
    assert rows[4322] == f"{run_id},4321,,4321,NaN,{4321 / 7!r}"  # none names 4321: x is the step


async def test_a_run_without_metrics_has_a_header_or_empty_series(api, yard):
    run_id = await finished(yard, python("print('no metrics here')"))
    assert (await api.get(f"/api/v1/runs/{run_id}/export")).text == "run_id,x,epoch,step\n"
    answer = await api.get(f"/api/v1/runs/{run_id}/export", params={"format": "json"})
    assert answer.json()[0]["series"] == {}


@pytest.mark.parametrize("path", ["/api/v1/exports?run=1&run=999", "/api/v1/runs/999/export"])
async def test_an_unknown_run_is_404_before_any_byte(api, yard, path):
    await finished(yard, python("pass"))
    answer = await api.get(path)
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "not_found",
        "detail": "run 999 not found (see `runyard ls --all`)",
        "field": None,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("run=1&format=xml", "format"),
        ("run=0", "run.0"),
        (f"run={2**63}", "run.0"),
        ("format=csv", "run"),
        ("&".join(["run=1"] * (MAX_RUNS + 1)), "run"),
    ],
)
async def test_bad_parameters_are_422(api, query, field):
    answer = await api.get(f"/api/v1/exports?{query}")
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request" and answer.json()["field"] == field


async def test_a_bad_format_of_one_run_is_422(api):
    answer = await api.get("/api/v1/runs/1/export", params={"format": "xlsx"})
    assert answer.status_code == 422 and answer.json()["field"] == "format"


@pytest.mark.parametrize(("x_is_step", "axes"), [(True, ["", "{x}"]), (False, ["{x}", ""])])
def test_where_no_report_names_an_x_it_is_the_step_or_else_the_epoch(x_is_step, axes):
    series = {"acc": [(2.0, 90.5), (3.0, math.nan)], "train_loss": [(1.0, 0.5), (2.0, 0.25)]}
    rows = csv_rows(RunPoints(4, x_is_step, series, {}), ["acc", "grad_norm", "train_loss"])
    assert list(rows) == [
        ["4", "1", *(a.format(x=1) for a in axes), "", "", "0.5"],
        ["4", "2", *(a.format(x=2) for a in axes), "90.5", "", "0.25"],
        ["4", "3", *(a.format(x=3) for a in axes), "NaN", "", ""],
    ]


def test_a_report_at_an_x_gives_its_epoch_and_step():
    points = RunPoints(3, True, {"train_loss": [(100.0, 0.5), (150.0, 0.4)]}, {100.0: (2, 100)})
    assert list(csv_rows(points, ["train_loss"])) == [
        ["3", "100", "2", "100", "0.5"],
        ["3", "150", "", "150", "0.4"],
    ]
