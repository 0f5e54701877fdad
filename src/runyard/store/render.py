"""Runs as the API shows them: flat, stable JSON (the CLI's ``--json`` is this)."""

from __future__ import annotations

import shlex
from typing import Any

from runyard.domain.metrics import iso_time, to_json_value
from runyard.store.tables import Attempt, Run


def iso(ts: float | None) -> str | None:
    return None if ts is None else iso_time(ts)


def render_attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "status": attempt.status,
        "gpus": list(attempt.gpus or []),
        "pid": attempt.pid,
        "started_at": iso(attempt.started_at),
        "finished_at": iso(attempt.finished_at),
        "exit_code": attempt.exit_code,
        "signal": attempt.signal,
        "reason": attempt.reason,
    }


def render_run(run: Run, waiting_for: str | None = None) -> dict[str, Any]:
    spec = dict(run.spec)
    spec.pop("base_env", None)  # the submitter's whole environment: not shown, not needed
    deps = sorted((d.kind, d.depends_on) for d in run.deps)
    return {
        "id": run.id,
        "name": run.name,
        "sweep": run.sweep,
        "status": run.status,
        "reason": run.reason,
        "exit_code": run.exit_code,
        "signal": run.signal,
        "attempts": [render_attempt(a) for a in run.attempts],
        "gpus": list(run.gpus or []),
        "command": spec["command"],
        "display_command": display_command(spec),
        "shell": spec.get("shell", False),
        "workdir": spec["workdir"],
        "env": spec.get("env", {}),
        "priority": run.priority,
        "retries": spec.get("retries", 0),
        "retry_on": spec.get("retry_on", "any"),
        "timeout_s": spec.get("timeout_s"),
        "tags": sorted(t.tag for t in run.tags),
        "after": [d for k, d in deps if k == "after"],
        "after_any": [d for k, d in deps if k == "after_any"],
        "setup": spec.get("setup"),
        "swaps": spec.get("swaps", []),
        "gpus_min": spec.get("gpus_min"),
        "gpus_max": spec.get("gpus_max"),
        "gpu_mem_mib": spec.get("gpu_mem_mib"),
        "gpu_ids": spec.get("gpu_ids"),
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "waiting_for": waiting_for,
        "progress": _progress(run.progress),
        "final": _final(run.final),
        "metrics": {k.key: number(k.last) for k in run.metric_keys},
        "info": dict(run.info or {}),
        "warnings": [{"kind": w.kind, "line": w.line, "text": w.text, "message": w.message, "attempt": w.attempt}
                     for w in run.warnings],
        "spec": spec,
    }


def number(value: float | None) -> float | str:
    """Numbers as the API shows them: JSON has no NaN, so non-finite values are strings
    (and a stored NULL metric value stands for NaN)."""
    return "NaN" if value is None else to_json_value(value)


PROGRESS_KEYS = ("epoch", "total_epochs", "step", "eta_s", "seconds_per_epoch")
FINAL_KEYS = ("accuracy", "accuracy_field", "train_loss", "test_loss", "val_loss")


def _progress(progress: dict[str, Any] | None) -> dict[str, Any]:
    return {k: (progress or {}).get(k) for k in PROGRESS_KEYS}


def _final(final: dict[str, Any] | None) -> dict[str, Any]:
    return {k: (final or {}).get(k) for k in FINAL_KEYS}


def display_command(spec: dict[str, Any]) -> str:
    """The command as a user reads it: a shell run's one string, else the argv quoted as a
    shell would need it. The run list searches this text (stored as ``runs.command_text``)."""
    command: list[str] = spec["command"]
    return command[0] if spec.get("shell") else shlex.join(command)
