"""Service settings, read from ``GRIDMAP_*`` environment variables (and an optional ``.env``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the API, CLI and benchmark need to know about where and how to run.

    ``GRIDMAP_DATA_DIR=/srv/gridmap GRIDMAP_COOKIE_SECURE=true gridmap serve``
    """

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file gridmap.db in data_dir"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    import_time_limit_s: float = Field(
        default=120.0, gt=0, allow_inf_nan=False,
        description="wall-clock limit of one campus import (all its floor plans)")
    import_memory_limit_mb: float = Field(
        default=2048.0, gt=0, allow_inf_nan=False,
        description="how much a campus import may grow the process's memory, MB")

    cookie_name: str = "gridmap_session"
    cookie_secure: bool = Field(
        default=False,
        description="always Secure session cookies; without it they are Secure over https and "
        "for every host but loopback (127.0.0.1, ::1, localhost), e.g. behind a TLS proxy",
    )
    session_max_age_seconds: int = Field(default=12 * 3600, gt=0)
    token_ttl_days: int | None = Field(
        default=365, description="default lifetime of new tokens; None: no expiry"
    )

    index_cache_size: int = Field(default=16, ge=1)
    sample_manifest: Path = Path("data/samples/lincoln_ridge/campus.toml")
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gridmap.db').as_posix()}"
