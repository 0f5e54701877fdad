"""`runyard ls --sort` and `--search` against a real daemon."""

from __future__ import annotations

import json

import pytest

from tests.integration.cli.harness import Cli

pytestmark = pytest.mark.slow


def names(cli: Cli, *args: str) -> list[str]:
    return [r["name"] for r in json.loads(cli.ok("ls", "--json", *args))]


def test_ls_sorts_and_searches(cli: Cli) -> None:
    ids = [
        cli.submit("--name", name, "--gpus", "0", "--", "echo", name)
        for name in ("b-run", "a-run", "c_run")
    ]
    assert cli("wait", *map(str, ids)).returncode == 0
    assert names(cli, "--sort", "name") == ["a-run", "b-run", "c_run"]
    assert names(cli, "--sort", "-name", "--limit", "2") == ["c_run", "b-run"]
    assert names(cli, "--search", "A-RUN") == ["a-run"]
    assert names(cli, "--search", "_") == ["c_run"]  # literal, not a wildcard
    assert cli("ls", "--sort", "colour").returncode != 0
