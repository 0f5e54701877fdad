"""Every setting runyard has, declared once, each with a description.

Values come from ``RUNYARD_*`` environment variables, then the defaults below.
``Settings()`` is built by whoever starts a process (the CLI, ``runyard serve``, a test)
and passed down; nothing reads the environment behind its back.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runyard.domain.home import HomeFiles


class Settings(HomeFiles, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".runyard",
        description="where the database, server.json and every run's folder live",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the database; default: SQLite at $RUNYARD_HOME/runyard.db"
    )
    host: str = Field("127.0.0.1", description="address the daemon binds")
    port: int = Field(8420, ge=0, le=65535, description="port the daemon binds (0: any free port)")
    token: str | None = Field(
        None, description="API token; default: a new random one per daemon, written to server.json"
    )
    cors_origins: str | None = Field(
        None, description="comma-separated origins allowed to call the API from a browser (default: none, no CORS)"
    )
    allowed_hosts: str | None = Field(
        None, description="comma-separated Host names (`name` or `name:port`) a browser may reach the daemon by, "
        "besides its address and, on a loopback address, localhost (default: none)",
    )
    max_body_bytes: int = Field(16 << 20, ge=1024, description="largest request body the API accepts (413 above)")
    stream_buffer: int = Field(
        1000, ge=10, description="messages kept per live-stream client; a slower client is told what it missed"
    )
    gpus: str | None = Field(None, description="comma-separated GPU indices runyard may use (default: all)")
    gpu_inventory: Path | None = Field(
        None, description="declared inventory JSON read in place of NVML (machines without NVIDIA GPUs, tests)"
    )
    gpu_poll_s: float = Field(2.0, gt=0, description="seconds between two readings of the GPU inventory")
    external_mem_threshold_mib: int = Field(
        500, ge=0, description="a GPU whose memory used by processes that are not runyard's exceeds this is busy"
    )
    cpu_slots: int = Field(1, ge=1, description="how many runs that use no GPU may run at once")
    priority_ageing_s: float = Field(
        600.0, gt=0, description="seconds of waiting worth one priority level (so low priorities are not starved)"
    )
    retry_backoff_s: float = Field(5.0, ge=0, description="first automatic retry's delay; doubles each attempt")
    retry_backoff_max_s: float = Field(600.0, ge=0, description="longest delay between automatic retries")
    kill_grace_s: float = Field(10.0, ge=0, description="seconds between SIGTERM and SIGKILL when cancelling")
    hold: bool = Field(False, description="accept runs but start none (maintenance; `runyard serve --hold`)")
    schedule_interval_s: float = Field(1.0, gt=0, description="the scheduler plans at least this often")
    ingest_interval_s: float = Field(0.1, gt=0, description="how often a live run's new output is read and parsed")
    snapshot_template: str = Field(
        "stats_{step}.json", description="file name of statistics snapshots in a run's stats/ folder ({step}, {epoch})"
    )
    autostart_timeout_s: float = Field(20.0, gt=0, description="how long the CLI waits for a daemon it started")

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @field_validator("snapshot_template")
    @classmethod
    def _usable_template(cls, template: str) -> str:
        from runyard.domain.snapshots import snapshot_name

        snapshot_name(template, 1, 1)  # raises InvalidSpec with the reason
        return template

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'runyard.db'}"

    def allowed_gpus(self) -> set[int] | None:
        if not self.gpus:
            return None
        return {int(part) for part in self.gpus.split(",") if part.strip()}
