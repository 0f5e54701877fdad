"""The command line as a whole: usage errors are one line and exit 2, before any daemon."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from runyard import __version__
from runyard.cli.app import run


@pytest.fixture(autouse=True)
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RUNYARD_HOME", str(home))
    return home


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["submit", "--gpus", "3-1", "--", "python", "x.py"],
            "runyard: --gpus 3-1: the range must go up (write 1-3)",
        ),
        (["submit", "--timeout", "soon", "--", "true"], "runyard: cannot read duration 'soon'"),
        (
            ["submit", "--gpus", "1", "--gpu-ids", "0,1", "--", "true"],
            "runyard: gpu_ids pins the GPUs",
        ),
        (["submit"], "runyard: say what to run"),
        (["cancel"], "runyard: say which runs to cancel"),
        (["retry", "5-2"], "runyard: run range '5-2' must go up: write 2-5"),
        (["wait"], "runyard: say which runs to wait for"),
        (["ls", "--status", "done"], "runyard: unknown status 'done'"),
        (["show", "last"], "runyard: cannot read run id 'last'"),
        (["serve", "--gpus", "a,b"], "runyard: cannot read --gpu-ids 'a,b'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], own_home: Path
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not own_home.exists()  # no daemon was started for a wrong command line


def test_a_bad_setting_in_the_environment_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNYARD_PORT", "eighty")
    assert run(["ls"]) == 2
    assert capsys.readouterr().err.startswith("runyard: RUNYARD_PORT: ")


def test_unknown_options_keep_typers_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ls", "--colour"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_version_and_help_need_no_daemon(
    capsys: pytest.CaptureFixture[str], own_home: Path
) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"runyard {__version__}\n"
    assert run(["submit", "--help"]) == 0
    assert "--after" in capsys.readouterr().out
    assert not own_home.exists()


def test_shutdown_without_a_daemon_says_so(
    capsys: pytest.CaptureFixture[str], own_home: Path
) -> None:
    assert run(["shutdown"]) == 0
    assert "no daemon is running" in capsys.readouterr().err
    assert not (own_home / "server.json").exists()


@pytest.mark.parametrize("argv", [["--version"], ["submit", "--gpus", "3-1", "--", "x"]])
def test_the_cli_path_imports_no_server_code_and_rich_only_to_draw(argv: list[str]) -> None:
    heavy = ("fastapi", "sqlalchemy", "uvicorn", "alembic", "rich", "httpx")
    code = (
        "import sys\nfrom runyard.cli.app import run\n"
        f"run({argv!r})\nprint(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ast.literal_eval(done.stdout.splitlines()[-1]) == []
