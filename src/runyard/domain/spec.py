"""The run spec: what a user asks runyard to run, validated before it is stored.

A spec is pure data. Checks that need the file system (workdir exists, swap source
exists) or the machine (enough GPUs) are made by the service at submit time.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic.config import JsonDict

from runyard.domain.status import RetryOn
from runyard.errors import InvalidSpec

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_MEMORY_FACTOR_MIB = {"": 1.0, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 * 1024}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms]?)", re.IGNORECASE)
_DURATION_FACTOR = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}

# What the validators below accept, stated in the OpenAPI document too, so that a client
# (or a fuzzer) reading it knows what a request may hold. The checks themselves stay in the
# validators: their messages say how to fix a request; a pattern's would not.
NO_NUL = r"^[^\x00]*$"
ABSOLUTE = {"type": "string", "minLength": 1, "maxLength": 4096, "pattern": r"^/[^\x00]*$"}
ENV: dict[str, object] = {
    "type": "object",
    "propertyNames": {"minLength": 1, "pattern": r"^[^=\x00]+$"},
    "additionalProperties": {"type": "string", "pattern": NO_NUL},
}
SHELL_TAKES_ONE_STRING: JsonDict = {
    "if": {"properties": {"shell": {"const": True}}, "required": ["shell"]},
    "then": {"properties": {"command": {"maxItems": 1}}},
}


def parse_memory_mib(text: str) -> int:
    """``"10G"`` → 10240, ``"512M"`` and ``"512"`` → 512 (MiB when no unit is given)."""
    match = _MEMORY.match(text)
    if not match:
        raise InvalidSpec(f"cannot read memory {text!r}: write e.g. 10G or 512M", "gpu_mem")
    mib = float(match.group(1)) * _MEMORY_FACTOR_MIB[match.group(2).lower()]
    if mib <= 0:
        raise InvalidSpec(f"memory must be positive, not {text!r}", "gpu_mem")
    return max(1, round(mib))


def parse_duration_s(text: str) -> float:
    """``"2h"`` → 7200, ``"1h30m"`` → 5400, ``"90"`` → 90 (seconds when no unit)."""
    cleaned = text.strip().replace(" ", "")
    parts = _DURATION_PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise InvalidSpec(f"cannot read duration {text!r}: write e.g. 2h, 30m, 1h30m or 90s", "timeout")
    seconds = sum(float(n) * _DURATION_FACTOR[u.lower()] for n, u in parts)
    if seconds <= 0:
        raise InvalidSpec(f"duration must be positive, not {text!r}", "timeout")
    return seconds


def parse_gpu_count(text: str) -> tuple[int, int]:
    """``"2"`` → (2, 2); ``"1-4"`` → (1, 4): start once 1 is free, take up to 4."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not match:
        raise InvalidSpec(f"cannot read --gpus {text!r}: write a count (2) or a range (1-4)", "gpus")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if high < low:
        raise InvalidSpec(f"--gpus {text}: the range must go up (write {high}-{low})", "gpus")
    return low, high


def parse_gpu_ids(text: str) -> list[int]:
    """``"1,3"`` → [1, 3]."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidSpec(f"cannot read --gpu-ids {text!r}: write indices like 1,3", "gpu_ids") from None
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise InvalidSpec(f"--gpu-ids {text!r} needs distinct non-negative indices", "gpu_ids")
    return sorted(ids)


def parse_env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise InvalidSpec(f"--env {text!r}: write KEY=VALUE", "env")
    return key, value


def parse_swap(text: str) -> tuple[str, str]:
    source, sep, target = text.partition(":")
    if not sep or not source or not target:
        raise InvalidSpec(f"--swap {text!r}: write SOURCE:TARGET (TARGET relative to the workdir)", "swaps")
    return source, target


class Swap(BaseModel):
    """Put ``source`` in place of ``target`` (relative to the workdir) for one run."""

    model_config = ConfigDict(extra="forbid")
    source: Annotated[str, WithJsonSchema(ABSOLUTE)] = Field(description="an absolute path to an existing file")
    target: str = Field(min_length=1, description="relative to the workdir", json_schema_extra={"pattern": NO_NUL})


class OomPolicy(BaseModel):
    """What to change before retrying an attempt that ran out of memory."""

    model_config = ConfigDict(extra="forbid")
    batch_env: str | None = Field(None, description="env var holding the batch size; halved on each OOM retry")
    grow_mem: float | None = Field(None, ge=1.0, le=16.0, description="multiply --gpu-mem by this on each OOM retry")


NonEmptyStr = Annotated[str, Field(min_length=1, json_schema_extra={"pattern": r"^[^\x00]+$"})]
ShortStr = Annotated[str, Field(min_length=1, max_length=200)]
RunId = Annotated[int, Field(ge=1, le=2**62)]
MAX_GPUS = 4096  # more than any machine has; keeps every count inside a database integer


class RunSpec(BaseModel):
    """Everything ``runyard submit`` accepts. Stored as ``spec.json`` in the run's folder."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=SHELL_TAKES_ONE_STRING)

    command: list[NonEmptyStr] = Field(min_length=1, description="argv, exec'd as is")
    shell: bool = Field(False, description="run command[0] through /bin/sh -c (command is then one string)")
    name: str | None = Field(None, max_length=200, json_schema_extra={"pattern": NO_NUL})
    sweep: str | None = Field(
        None, min_length=1, max_length=200, description="the sweep this run belongs to; the run list filters by it",
        json_schema_extra={"pattern": NO_NUL},
    )
    workdir: Annotated[str, WithJsonSchema(ABSOLUTE)] = Field(
        max_length=4096, description="absolute working directory: a directory that exists on the daemon's machine")
    env: Annotated[dict[str, str], WithJsonSchema(ENV)] = Field(
        default_factory=dict, description="variables set for the run (no '=' in a name, no NUL byte)")
    base_env: Annotated[dict[str, str] | None, WithJsonSchema({"anyOf": [ENV, {"type": "null"}]})] = Field(
        None, description="the submitter's environment, which the run starts from (default: the daemon's)"
    )
    gpus_min: int | None = Field(None, ge=0, le=MAX_GPUS, description="None: 1 on a machine with GPUs, else 0")
    gpus_max: int | None = Field(None, ge=0, le=MAX_GPUS, description="at least gpus_min (the default)")
    gpu_ids: Annotated[list[Annotated[int, Field(ge=0, le=MAX_GPUS)]] | None, WithJsonSchema({"anyOf": [
        {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": MAX_GPUS}, "uniqueItems": True},
        {"type": "null"}]})] = Field(
        None, description="pin the run to these distinct GPUs; gpus_min and gpus_max, when given, must be their count")
    gpu_mem_mib: int | None = Field(None, gt=0, le=2**40, description="memory the run needs per GPU; lets runs share")
    priority: int = Field(0, ge=-1_000_000, le=1_000_000)
    retries: int = Field(0, ge=0, le=100)
    retry_on: RetryOn = RetryOn.ANY
    timeout_s: float | None = Field(None, gt=0, le=10 * 365 * 86400)
    tags: list[ShortStr] = Field(default_factory=list)
    setup: str | None = Field(None, json_schema_extra={"pattern": NO_NUL})
    after: list[RunId] = Field(default_factory=list, description="wait for these runs to complete")
    after_any: list[RunId] = Field(default_factory=list, description="wait for these runs to end")
    swaps: list[Swap] = Field(default_factory=list)
    oom: OomPolicy = Field(default_factory=lambda: OomPolicy(batch_env=None, grow_mem=None))
    metric_patterns: list[str] = Field(default_factory=list)

    @field_validator("command", "setup", "workdir", "sweep", "name")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain a NUL byte")
        return value

    @field_validator("env", "base_env")
    @classmethod
    def _valid_env(cls, env: dict[str, str] | None) -> dict[str, str] | None:
        for key, value in (env or {}).items():
            if not key or "=" in key or "\x00" in key or "\x00" in value:
                raise ValueError(f"{key!r} is not a usable environment variable (no '=' or NUL bytes)")
        return env

    @field_validator("gpu_ids")
    @classmethod
    def _distinct_ids(cls, ids: list[int] | None) -> list[int] | None:
        if ids is not None and (len(set(ids)) != len(ids) or any(i < 0 for i in ids)):
            raise ValueError("gpu_ids must be distinct non-negative indices")
        return sorted(ids) if ids is not None else None

    @model_validator(mode="after")
    def _consistent_gpus(self) -> RunSpec:
        if self.gpus_min is not None and self.gpus_max is None:
            self.gpus_max = self.gpus_min
        if self.gpus_max is not None and self.gpus_min is None:
            self.gpus_min = self.gpus_max
        if self.gpus_min is not None and self.gpus_max is not None and self.gpus_max < self.gpus_min:
            raise ValueError(f"gpus_max ({self.gpus_max}) is below gpus_min ({self.gpus_min})")
        if self.gpu_ids is not None:
            count = len(self.gpu_ids)
            if self.gpus_min not in (None, count) or self.gpus_max not in (None, count):
                raise ValueError("gpu_ids pins the GPUs: leave gpus out or give the same count")
            self.gpus_min = self.gpus_max = count
        if self.shell and len(self.command) != 1:
            raise ValueError("with shell=true, command is one string")
        return self
