"""Turning ``runyard submit`` flags into the run spec the daemon receives. Pure, no I/O.

The parsing helpers of :mod:`runyard.domain.spec_text` read every value (``2h``, ``10G``,
``1-4``); a value they refuse is a usage error (exit 2). Relative paths are resolved here,
from the directory the user typed the command in, because the daemon runs elsewhere.
With ``--like`` the copied spec is the starting point and only the flags given change it:
each replaces the old value, except ``--env`` (sets single keys) and the OOM settings.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runyard.cli.errors import CliUsageError
from runyard.cli.selectors import parse_run_id
from runyard.errors import InvalidSpec


@dataclass
class SubmitOptions:
    """The flags of ``runyard submit`` as typed (None / empty: not given)."""

    command: list[str] = field(default_factory=list)
    name: str | None = None
    gpus: str | None = None
    gpu_ids: str | None = None
    gpu_mem: str | None = None
    priority: int | None = None
    retries: int | None = None
    retry_on: str | None = None
    workdir: str | None = None
    env: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    after_any: list[str] = field(default_factory=list)
    swaps: list[str] = field(default_factory=list)
    timeout: str | None = None
    tags: list[str] = field(default_factory=list)
    setup: str | None = None
    shell: str | None = None
    oom_batch_env: str | None = None
    oom_grow_mem: float | None = None
    metric_patterns: list[str] = field(default_factory=list)


def absolute_path(text: str, cwd: Path) -> str:
    """``text`` made absolute from ``cwd``, ``~`` expanded, symlinks kept as written."""
    return os.path.normpath(os.path.join(cwd, os.path.expanduser(text)))


def _run_ids(values: list[str]) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            if part.strip() and (run_id := parse_run_id(part)) not in ids:
                ids.append(run_id)
    return ids


def build_spec(
    options: SubmitOptions,
    cwd: Path,
    *,
    base: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/runs``; ``base`` is the spec copied by ``--like``."""
    try:
        spec = _apply(options, cwd, copy.deepcopy(dict(base)) if base else {})
    except InvalidSpec as error:
        raise CliUsageError(str(error)) from None
    if environ is not None:
        spec["base_env"] = dict(environ)
    return spec


def _apply(options: SubmitOptions, cwd: Path, spec: dict[str, Any]) -> dict[str, Any]:
    from runyard.domain.spec_text import (
        parse_duration_s,
        parse_env_pair,
        parse_gpu_count,
        parse_gpu_ids,
        parse_memory_mib,
        parse_swap,
    )

    if options.shell is not None and options.command:
        raise CliUsageError("give either --shell 'CMD' or a command after --, not both")
    if options.shell is not None:
        if not options.shell.strip():
            raise CliUsageError(
                "--shell needs a command line, e.g. --shell 'make data && python train.py'"
            )
        spec["command"], spec["shell"] = [options.shell], True
    elif options.command:
        spec["command"], spec["shell"] = list(options.command), False
    elif not spec.get("command"):
        raise CliUsageError("say what to run: runyard submit [OPTIONS] -- COMMAND [ARG...]")
    if options.workdir is not None:
        spec["workdir"] = absolute_path(options.workdir, cwd)
    elif not spec.get("workdir"):
        spec["workdir"] = str(cwd)
    if options.name is not None:
        spec["name"] = options.name or None
    if options.gpus is not None:
        spec["gpus_min"], spec["gpus_max"] = parse_gpu_count(options.gpus)
        if options.gpu_ids is None:
            spec["gpu_ids"] = None
    if options.gpu_ids is not None:
        spec["gpu_ids"] = parse_gpu_ids(options.gpu_ids)
        if options.gpus is None:
            spec["gpus_min"] = spec["gpus_max"] = None
    if options.gpu_mem is not None:
        spec["gpu_mem_mib"] = parse_memory_mib(options.gpu_mem)
    if options.timeout is not None:
        spec["timeout_s"] = parse_duration_s(options.timeout)
    if options.retry_on is not None:
        from runyard.domain.status import RetryOn

        choices = [r.value for r in RetryOn]
        if options.retry_on not in choices:
            raise CliUsageError(f"--retry-on {options.retry_on!r}: use one of {', '.join(choices)}")
    for key in ("priority", "retries", "retry_on", "setup"):
        value = getattr(options, key)
        if value is not None:
            spec[key] = value
    if options.env:
        env = dict(spec.get("env") or {})
        env.update(parse_env_pair(pair) for pair in options.env)
        spec["env"] = env
    if options.after:
        spec["after"] = _run_ids(options.after)
    if options.after_any:
        spec["after_any"] = _run_ids(options.after_any)
    if options.swaps:
        spec["swaps"] = [
            {"source": absolute_path(source, cwd), "target": target}
            for source, target in (parse_swap(text) for text in options.swaps)
        ]
    if options.tags:
        spec["tags"] = list(dict.fromkeys(options.tags))
    if options.oom_batch_env is not None or options.oom_grow_mem is not None:
        oom = dict(spec.get("oom") or {})
        if options.oom_batch_env is not None:
            oom["batch_env"] = options.oom_batch_env or None
        if options.oom_grow_mem is not None:
            oom["grow_mem"] = options.oom_grow_mem
        spec["oom"] = oom
    if options.metric_patterns:
        for pattern in options.metric_patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise CliUsageError(
                    f"--metric-pattern {pattern!r} is not a regular expression: {error}"
                ) from None
        spec["metric_patterns"] = list(options.metric_patterns)
    return spec


def submitter_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a run starts from: the submitter's (the spec's ``base_env``)."""
    return dict(environ)


def check_spec(spec: Mapping[str, Any]) -> None:
    """Validate the body as the daemon will, so that a contradiction is a usage error here."""
    from pydantic import ValidationError

    from runyard.domain.spec import RunSpec

    try:
        RunSpec.model_validate(dict(spec))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise CliUsageError(f"{where}: {message}" if where else message) from None
