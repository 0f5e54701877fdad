"""The web UI in a real browser against a real daemon: submit from the form, watch a
run's chart grow while it prints, cancel it, compare two runs, follow a log, and never
run a script that a run's name or output carries. Each page is screenshotted into
tests/e2e/artifacts/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TOKEN, Daemon, Ui, make_daemon, open_ui, script

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)").expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRINTS_SLOWLY = """
import json, sys, time
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 400
for epoch in range(1, epochs + 1):
    loss = 2.0 / epoch
    print("PROGRESS: " + json.dumps({"epoch": epoch, "total_epochs": epochs, "status": "training",
                                     "train_loss": loss, "val_loss": loss * 1.1, "val_accuracy": 100 - 50 / epoch}))
    time.sleep(0.2)
"""

FINISHES = """
import json, os
lr = float(os.environ.get("LR", "0.1"))
for epoch in range(1, 6):
    print("PROGRESS: " + json.dumps({"epoch": epoch, "total_epochs": 5, "status": "completed" if epoch == 5 else "training",
                                     "train_loss": lr / epoch, "test_accuracy": 80 + epoch + lr}))
"""

CHATTY = r"""
import sys, time
print("\x1b[32mgreen start\x1b[0m and <b>not bold</b> <img src=x onerror=alert(3)>", flush=True)
for i in range(1, 400):
    for pct in (25, 50, 75, 100):
        sys.stdout.write(f"\rbar {i}: {pct}%")
        sys.stdout.flush()
    sys.stdout.write("\n")
    print(f"line {i}", flush=True)
    time.sleep(0.05)
"""


def text_of(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.inner_text())


def points_in(page: Any, chart: str) -> int:
    subtitle = text_of(page, f'[data-testid="chart-{chart}"] [data-testid="chart-subtitle"]')
    return int(re.search(r"([\d,]+) points", subtitle).group(1).replace(",", ""))  # type: ignore[union-attr]


def test_submit_from_the_form_shows_errors_next_to_fields(ui: Ui, daemon: Daemon, tmp_path: Path) -> None:
    page = ui.open("/submit")
    page.get_by_test_id("submit").click()  # empty: checked before anything is sent
    assert "what to run" in text_of(page, '[data-field="command"]')
    page.fill("#f-command", "python -c 'print(1)'")
    page.fill("#f-workdir", "/no/such/dir")  # absolute, so only the daemon can refuse it
    page.fill("#f-gpus", "0")
    page.get_by_test_id("submit").click()
    page.wait_for_selector('[data-field="workdir"] .field-error')
    assert "does not exist" in text_of(page, '[data-field="workdir"]')
    ui.shot("submit-errors", full_page=True)

    command = script(tmp_path, "finishes.py", FINISHES)
    page.fill("#f-command", " ".join(command))
    page.fill("#f-workdir", str(tmp_path))
    page.fill("#f-name", "from the form")
    page.fill("#f-env", "LR=0.5")
    page.fill("#f-tags", "e2e, form")
    ui.shot("submit", full_page=True)
    page.get_by_test_id("submit").click()
    page.wait_for_url(re.compile(r"/runs/\d+"))
    run_id = int(page.url.rsplit("/", 1)[1])
    assert text_of(page, '[data-testid="run-name"]') == "from the form"
    run = daemon.wait(run_id, {"completed"})
    assert run["env"] == {"LR": "0.5"} and run["tags"] == ["e2e", "form"]
    page.wait_for_selector('[data-testid="final-accuracy"]')
    assert "test_accuracy" in text_of(page, '[data-testid="final-accuracy"]')


def test_a_chart_grows_while_the_run_prints_then_cancel_it(ui: Ui, daemon: Daemon, tmp_path: Path) -> None:
    run_id = daemon.submit(command=script(tmp_path, "slow.py", PRINTS_SLOWLY), name="grows")
    page = ui.open(f"/runs/{run_id}")
    page.wait_for_selector('[data-testid="chart-Losses"] canvas')
    first = points_in(page, "Losses")
    deadline = time.monotonic() + 20
    while points_in(page, "Losses") < first + 30:  # no reload: the stream adds the points
        assert time.monotonic() < deadline, f"the chart stayed at {points_in(page, 'Losses')} points"
        time.sleep(0.2)
    assert page.locator('[data-testid="chart-Accuracies (%)"] canvas').count() == 1
    ui.shot("run-charts")

    page.get_by_role("button", name=re.compile("^Cancel")).first.click()
    page.get_by_role("button", name="Cancel run").click()
    page.wait_for_selector(".run-title .badge.status-cancelled")
    assert daemon.wait(run_id, {"cancelled"})["status"] == "cancelled"
    assert page.get_by_role("button", name=re.compile("^Retry")).is_enabled()


def test_the_queue_updates_live_and_compares_two_runs(ui: Ui, daemon: Daemon, tmp_path: Path) -> None:
    command = script(tmp_path, "finishes.py", FINISHES)
    first = daemon.submit(command=command, name="lr 0.1", env={"LR": "0.1"}, tags=["cmp"])
    page = ui.open("/?tag=cmp")
    page.wait_for_selector(f'.tr[data-run-id="{first}"]')
    second = daemon.submit(command=command, name="lr 0.3", env={"LR": "0.3"}, tags=["cmp"])
    page.wait_for_selector(f'.tr[data-run-id="{second}"]')  # arrived over the queue stream
    for run_id in (first, second):
        daemon.wait(run_id, {"completed"})
        page.wait_for_selector(f'.tr[data-run-id="{run_id}"][data-status="completed"]')
    ui.shot("queue")

    for run_id in (first, second):
        page.click(f'.tr[data-run-id="{run_id}"] .cell-select')
    assert "2 selected" in text_of(page, ".selection-bar")
    page.locator(".selection-bar").get_by_role("link", name=re.compile("^Compare")).click()
    page.wait_for_url(re.compile(r"/compare\?runs="))
    page.wait_for_selector('[data-testid="chart-train_loss"] canvas')
    differing = page.locator('[data-testid="compare-table"] tr.differs th').all_inner_texts()
    assert any("env LR" in row for row in differing)
    assert not any(row.strip().endswith("workdir") for row in differing)
    ui.shot("compare", full_page=True)


def test_follow_a_log_with_redraws_colours_and_search(ui: Ui, daemon: Daemon, tmp_path: Path) -> None:
    run_id = daemon.submit(command=script(tmp_path, "chatty.py", CHATTY), name="chatty")
    page = ui.open(f"/runs/{run_id}?tab=log")
    log = page.get_by_test_id("log")
    log.get_by_text("line 30", exact=True).wait_for()  # followed as it is printed
    assert log.get_by_text("bar 12: 100%", exact=True).count() == 1  # the last redraw only
    assert log.get_by_text(re.compile(r"bar 12: (25|50|75)%")).count() == 0
    log.evaluate("element => { element.scrollTop = 0; }")  # stops following; rows are drawn as they come into view
    green = log.locator("span[style*='color']", has_text="green start")
    green.wait_for()
    assert "<b>not bold</b>" in log.inner_text()  # output is text, never markup
    assert log.locator("b, img").count() == 0

    page.fill('input[aria-label="Search the log"]', "line 7")
    expect(page.get_by_test_id("log-matches")).to_contain_text(re.compile(r"\d+ lines"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("log-matches")).to_contain_text(re.compile(r"1 of \d+"))
    expect(log.locator(".current-hit")).to_contain_text("line 7")
    ui.shot("run-log")
    with daemon.api as client:
        client.post(f"/runs/{run_id}/cancel")


def test_a_run_named_like_html_shows_as_text(ui: Ui, daemon: Daemon, tmp_path: Path) -> None:
    name = "<img src=x onerror=alert(1)>"
    body = 'print("<script>alert(2)</script>"); print("\\x1b[31m<img src=x onerror=alert(4)>\\x1b[0m")'
    run_id = daemon.submit(command=script(tmp_path, "xss.py", body), name=name, tags=["<b>tag</b>"])
    daemon.wait(run_id, {"completed"})
    page = ui.open("/?tag=<b>tag</b>")
    row = page.locator(f'.tr[data-run-id="{run_id}"]')
    row.wait_for()
    assert name in row.inner_text() and "<b>tag</b>" in row.inner_text()
    page = ui.open(f"/runs/{run_id}?tab=log")
    assert text_of(page, '[data-testid="run-name"]') == name
    page.get_by_test_id("log").get_by_text("<script>alert(2)</script>").wait_for()
    page.get_by_test_id("log").get_by_text("<img src=x onerror=alert(4)>").wait_for()
    assert page.locator("main img, main script").count() == 0
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert ui.dialogs == []


def test_gpus_and_the_dark_theme(browser: Any, daemon: Daemon, tmp_path: Path) -> None:
    daemon.submit(command=script(tmp_path, "slow.py", PRINTS_SLOWLY), name="holds GPU 0", gpus_min=1)
    ui = open_ui(browser, daemon.url, color_scheme="dark")
    page = ui.open("/gpus")
    page.get_by_test_id("gpu-1").get_by_text("busy outside runyard").wait_for()
    page.get_by_test_id("gpu-0").get_by_text("holds GPU 0").wait_for()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    ui.shot("gpus-dark")
    page.keyboard.press("t")  # the theme shortcut
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    ui.shot("gpus")
    page.keyboard.press("g")
    page.keyboard.press("q")
    page.wait_for_url(re.compile(r"/$"))
    page.keyboard.press("?")
    page.get_by_role("dialog", name="Keyboard shortcuts").wait_for()
    ui.shot("shortcuts")
    page.context.close()
    assert not ui.errors and not ui.dialogs


def test_a_banner_while_the_daemon_is_away_that_clears_itself(browser: Any, tmp_path: Path) -> None:
    own = make_daemon(tmp_path)
    own.start()
    try:
        ui = open_ui(browser, own.url)
        page = ui.open("/")
        page.wait_for_selector(".selection-bar")
        own.stop()
        page.get_by_test_id("unreachable-banner").wait_for()
        ui.shot("unreachable")
        own.start()  # same port, home and token
        page.get_by_test_id("unreachable-banner").wait_for(state="detached", timeout=30_000)
        run_id = own.submit(command=["true"], name="after the restart")
        page.wait_for_selector(f'.tr[data-run-id="{run_id}"]')  # the queue stream is back too
        page.context.close()
        assert not ui.errors
    finally:
        own.stop()


def test_every_page_answers_at_its_own_url(ui: Ui, daemon: Daemon) -> None:
    for path, expected in [("/compare", "No runs picked"), ("/runs/999999", "No run #999999"), ("/nowhere", "Not found")]:
        page = ui.open(path)
        page.get_by_text(expected).first.wait_for()
    assert TOKEN not in ui.page.url
