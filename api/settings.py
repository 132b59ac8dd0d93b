"""Service settings, read from ``GRIDMAP_*`` environment variables (and an optional ``.env``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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
        description="wall-clock limit of one campus import (all its floor plans); the import "
        "runs in a process of its own, killed a few seconds past this")
    import_memory_limit_mb: float = Field(
        default=2048.0, gt=0, allow_inf_nan=False,
        description="memory a campus import may take beyond its process's start, MB; the "
        "process cannot allocate more (RLIMIT_DATA) and the import ends with a clear error")

    # workspaces (api.workspace): files facilities staff upload to prepare a campus
    workspace_file_max_mb: float = Field(
        default=100.0, gt=0, allow_inf_nan=False,
        description="largest file one workspace upload may be, MB (a zip: also the most its "
        "members may unpack to)")
    workspace_max_files: int = Field(
        default=200, ge=1, le=10_000,
        description="most files one workspace holds (an archive's members count each)")

    # aerial imagery (importers.imagery, api.imagery)
    imagery_max_mb: float = Field(
        default=100.0, gt=0, allow_inf_nan=False,
        description="largest orthophoto file an attach accepts, MB (also the upload limit)")
    imagery_max_pixels: int = Field(
        default=250_000_000, gt=0,
        description="most pixels (width x height) an orthophoto may declare: a small file can "
        "declare a huge image, and every pixel costs decoding time")
    imagery_url: str | None = Field(
        default=None, pattern=r"^https://[^\s]*\{z\}[^\s]*$",
        description="an agency's XYZ imagery provider, https, e.g. "
        "https://tiles.example.gov/ortho/{z}/{x}/{y}.jpg; the web map's base layer for a "
        "campus without imagery of its own (gridmap itself never fetches it)")
    imagery_attribution: str = Field(
        default="", max_length=300, description="credit shown with GRIDMAP_IMAGERY_URL's tiles")

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
    operator_orgs: list[str] = Field(
        default_factory=list,
        description="the organisations (ids or names, a JSON list) that run this deployment: "
        "their admins may create organisations through the API (POST /orgs), as the operator "
        "does with `gridmap org create`",
    )
    oidc_secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (32 url-safe base64 bytes) that encrypts the organisations' "
        "OpenID Connect client secrets in the store; default: the key file oidc.key in data_dir, "
        "made on first use. Every worker sharing one database needs the same key",
    )

    index_cache_size: int = Field(default=16, ge=1)
    lookup_cache_size: int = Field(
        default=256, ge=0, le=100_000,
        description="recent lookup answers kept per campus revision (0: none)",
    )
    tile_cache_mb: float = Field(
        default=64.0, ge=0.0, le=65536.0, allow_inf_nan=False,
        description="drawn map tiles kept in memory per API process, MB (by campus revision; "
        "0: none)",
    )

    # speed without losing promptness or audit rows (see README "Speed and what a crash loses")
    auth_cache_ttl_s: float = Field(
        default=1.0, ge=0.0, le=1.0, allow_inf_nan=False,
        description="how long a token, session or current revision read from the store is "
        "trusted: a revocation or a new publish reaches every worker within this (at most 1 s)",
    )
    audit_flush_interval_s: float = Field(
        default=0.2, gt=0.0, le=5.0, allow_inf_nan=False,
        description="audit entries are written in one batch at least this often",
    )
    audit_batch_max: int = Field(
        default=100, ge=1, le=10_000,
        description="at most this many audit entries wait in memory (a SIGKILL loses no more)",
    )

    # durable jobs (api.jobs): books, packages and imports queued in the store's database
    job_workers: int = Field(
        default=1, ge=0, le=32,
        description="job worker threads in each API process (0: none; the jobs wait for a "
        "process that has some)")
    job_lease_s: float = Field(
        default=60.0, ge=1.0, le=3600.0, allow_inf_nan=False,
        description="how long a claimed job is a worker's without it renewing the lease: a "
        "job whose worker died is taken up again after this")
    job_max_attempts: int = Field(
        default=3, ge=1, le=20,
        description="claims of one job before it is failed (its workers kept dying)")
    job_poll_interval_s: float = Field(
        default=1.0, gt=0.0, le=60.0, allow_inf_nan=False,
        description="how often an idle worker looks for jobs queued by other processes")
    job_keep_days: float = Field(
        default=7.0, gt=0.0, le=3650.0, allow_inf_nan=False,
        description="finished jobs, with the books and packages they made, are deleted this "
        "long after they finished")

    # refusals and sign-in attempts
    login_failures_burst: int = Field(
        default=10, ge=1, description="failed sign-ins one client address may make at once",
    )
    login_failures_per_minute: float = Field(
        default=5.0, gt=0.0, allow_inf_nan=False,
        description="failed sign-ins one client address regains per minute",
    )

    sample_manifest: Path = Path("data/samples/lincoln_ridge/campus.toml")
    log_level: str = "INFO"

    def store_options(self) -> dict[str, float | int]:
        """Keyword arguments for :func:`api.store.open_store` (caching, audit batching)."""
        return {"cache_ttl_s": self.auth_cache_ttl_s,
                "audit_flush_interval_s": self.audit_flush_interval_s,
                "audit_batch_max": self.audit_batch_max}

    @property
    def imagery_max_bytes(self) -> int:
        return int(self.imagery_max_mb * 1024 * 1024)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gridmap.db').as_posix()}"
