"""How runs end: exit codes, signals, missing commands, OOM, timeouts, retries."""

from __future__ import annotations

import os

import pytest

from runyard.service import runs
from tests.conftest import log_of, python, submit, wait_for


async def test_a_run_completes_with_its_output_and_attempt(yard):
    run_id = submit(
        yard, *python("print('hello'); import sys; print('oops', file=sys.stderr)"), gpus_min=0
    )
    run = await wait_for(yard, run_id)
    assert (run["status"], run["reason"], run["exit_code"]) == ("completed", None, 0)
    assert [a["number"] for a in run["attempts"]] == [1]
    assert run["attempts"][0]["pid"] and run["attempts"][0]["finished_at"]
    assert log_of(yard, run_id) == "hello\noops\n"


@pytest.mark.parametrize(
    ("code", "reason", "exit_code", "signal"),
    [
        ("import sys; sys.exit(3)", "exit_code", 3, None),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "signal", None, 9),
        (
            "print('RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB'); raise SystemExit(1)",
            "oom",
            1,
            None,
        ),
        (
            "print('jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory'); raise SystemExit(1)",
            "oom",
            1,
            None,
        ),
    ],
)
async def test_failures_have_a_reason(yard, code, reason, exit_code, signal):
    run = await wait_for(yard, submit(yard, *python(code), gpus_min=0))
    assert (run["status"], run["reason"], run["exit_code"], run["signal"]) == (
        "failed",
        reason,
        exit_code,
        signal,
    )


async def test_a_command_that_does_not_exist_fails_with_127_and_says_why(yard):
    run_id = submit(yard, "no-such-program-xyz", "--flag", gpus_min=0)
    run = await wait_for(yard, run_id)
    assert (run["status"], run["reason"], run["exit_code"]) == ("failed", "exit_code", 127)
    assert "no-such-program-xyz" in log_of(yard, run_id)


async def test_timeout_stops_the_run(yard):
    run = await wait_for(yard, submit(yard, "sleep", "30", gpus_min=0, timeout_s=0.5))
    assert (run["status"], run["reason"]) == ("failed", "timeout")


async def test_oom_is_retried_with_a_smaller_batch(yard):
    code = (
        "import os; b = os.environ['BATCH']; print('batch', b);"
        "raise SystemExit(0) if int(b) <= 16 else print('torch.OutOfMemoryError: CUDA out of memory') or exit(1)"
    )
    run_id = submit(
        yard,
        *python(code),
        gpus_min=0,
        retries=3,
        retry_on="oom",
        env={"BATCH": "64"},
        oom={"batch_env": "BATCH"},
    )
    run = await wait_for(yard, run_id)
    assert run["status"] == "completed"
    assert [a["reason"] for a in run["attempts"]] == ["oom", "oom", None]
    assert [log_of(yard, run_id, n).split()[1] for n in (1, 2, 3)] == ["64", "32", "16"]


async def test_retry_on_oom_does_not_retry_other_failures(yard):
    run = await wait_for(
        yard, submit(yard, *python("exit(2)"), gpus_min=0, retries=3, retry_on="oom")
    )
    assert (run["status"], len(run["attempts"])) == ("failed", 1)


async def test_retries_each_get_their_own_log_then_give_up(yard):
    run_id = submit(
        yard,
        *python("import os; print('attempt', os.environ['RUNYARD_ATTEMPT']); exit(1)"),
        gpus_min=0,
        retries=2,
    )
    run = await wait_for(yard, run_id)
    assert (run["status"], len(run["attempts"])) == ("failed", 3)
    assert [log_of(yard, run_id, n) for n in (1, 2, 3)] == [
        "attempt 1\n",
        "attempt 2\n",
        "attempt 3\n",
    ]


async def test_manual_retry_adds_an_attempt(yard):
    run_id = submit(
        yard,
        *python("import os; exit(0 if os.environ['RUNYARD_ATTEMPT'] == '2' else 1)"),
        gpus_min=0,
    )
    assert (await wait_for(yard, run_id))["status"] == "failed"
    runs.retry(yard, run_id)
    run = await wait_for(yard, run_id)
    assert (run["status"], [a["exit_code"] for a in run["attempts"]]) == ("completed", [1, 0])


async def test_setup_runs_first_in_preparing(yard, tmp_path):
    run_id = submit(
        yard,
        "cat",
        "made-by-setup",
        gpus_min=0,
        setup="sleep 0.3; echo ready > made-by-setup",
        workdir=tmp_path,
    )
    assert (await wait_for(yard, run_id, {"preparing"}))["status"] == "preparing"
    run = await wait_for(yard, run_id)
    assert run["status"] == "completed"
    assert "ready" in log_of(yard, run_id)


async def test_a_failed_setup_fails_the_run_without_running_the_command(yard, tmp_path):
    run_id = submit(yard, "touch", "ran", gpus_min=0, setup="exit 4", workdir=tmp_path)
    run = await wait_for(yard, run_id)
    assert (run["status"], run["exit_code"]) == ("failed", 4)
    assert not (tmp_path / "ran").exists()


async def test_the_run_gets_its_environment(yard, tmp_path):
    code = "import os; print(*(os.environ.get(k) for k in ['RUNYARD_RUN_ID','RUNYARD_ATTEMPT','RUNYARD_RUN_DIR','CUDA_VISIBLE_DEVICES','CUDA_DEVICE_ORDER','PYTHONUNBUFFERED','MINE']), os.getcwd())"
    run_id = submit(yard, *python(code), gpus_min=2, env={"MINE": "x"}, workdir=tmp_path)
    await wait_for(yard, run_id)
    assert log_of(yard, run_id).split() == [
        str(run_id),
        "1",
        str(yard.run_dir(run_id)),
        "0,1",
        "PCI_BUS_ID",
        "1",
        "x",
        str(tmp_path),
    ]
    assert os.path.isdir(yard.run_dir(run_id))
