"""The run spec: what a user asks runyard to run, validated before it is stored.

A spec is pure data. Checks that need the file system (workdir exists, swap source
exists) or the machine (enough GPUs) are made by the service at submit time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic.config import JsonDict

from runyard.domain.status import RetryOn

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
