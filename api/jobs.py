"""Durable jobs: long work (map books, offline packages, imports) queued in the store's database.

A job is a row of the ``jobs`` table in the same database as the campuses (SQLite or
PostgreSQL), so a queued job survives a restart of every process, and no other service (a
broker, a cache) has to be run, secured and backed up. Workers are threads of the API process
(:class:`JobWorkers`, ``GRIDMAP_JOB_WORKERS`` of them) or anything else that opens the database.

Claiming is one ``UPDATE``: it takes the oldest job that is queued, or running under a lease
that has expired (its worker was killed), sets the claiming worker as the lease owner until
``now + lease`` and counts the attempt. On PostgreSQL the candidate is picked with ``SELECT ...
FOR UPDATE SKIP LOCKED``, so workers on many hosts never wait on, nor take, each other's job; on
SQLite the database's single writer serialises claims. The ``UPDATE`` re-checks the candidate is
still claimable, so two workers never hold one job.

A worker renews its lease while it works (a heartbeat thread, and every progress report). Each
write it makes about its job (progress, done, failed) names the lease it holds (owner and
attempt) and changes nothing once another worker has taken the job over: a worker that stalled
past its lease cannot overwrite the result of the one that took over. A job whose worker died is
claimed again after its lease expires, up to ``max_attempts`` claims; then it is failed with
:data:`WORKER_LOST`. Books and packages are pure functions of a revision, so they simply run
again; an import names its job in the revision it stores, so a rerun finds that revision
instead of storing a second one.

Errors a user can act on (a level the campus lacks, an import the service cannot serve) fail the
job at once with the error's type and user message; anything unexpected is logged with its
traceback here and the job carries only a named, generic message.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from api.settings import Settings
from api.store import AuditEntry, Base, CampusStore, SqlCampusStore, utcnow
from gridmap.errors import GridmapError, ImportFailed, JobConflict, JobNotFound

log = logging.getLogger(__name__)

PDF = "application/pdf"
ZIP = "application/zip"
#: The error a job carries when its workers kept dying while running it.
WORKER_LOST = "WorkerLost"
#: The error a job carries after an unexpected error (logged with its traceback, never shown).
INTERNAL = "InternalError"
_MESSAGE_MAX = 300
#: An idle worker deletes old finished jobs at most this often (seconds).
PURGE_EVERY_S = 3600.0
_ERROR_MAX = 2000


class JobKind(StrEnum):
    IMPORT = "import"
    BOOK = "book"
    PACKAGE = "package"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


# --- the table ------------------------------------------------------------------------------


class JobRow(Base):
    """One job; ``result`` (a PDF, a zip) is loaded only when asked for."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "state", "created_at"),
        Index("ix_jobs_campus_created", "campus_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    campus_id: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))
    percent: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(_MESSAGE_MAX), default="")
    result: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    result_type: Mapped[str | None] = mapped_column(String(100))
    result_name: Mapped[str | None] = mapped_column(String(200))
    result_bytes: Mapped[int | None] = mapped_column(Integer)
    result_revision: Mapped[int | None] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_by_id: Mapped[str | None] = mapped_column(String(40))


#: the table itself, for Core statements
JOBS = cast(Table, JobRow.__table__)


# --- value objects --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored, without its result's bytes."""

    id: str
    kind: JobKind
    campus_id: str
    parameters: Mapping[str, Any]
    state: JobState
    percent: int
    message: str
    result_type: str | None
    result_name: str | None
    result_bytes: int | None
    result_revision: int | None
    error_type: str | None
    error: str | None
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    requested_by: str
    requested_by_id: str | None

    @property
    def has_result_file(self) -> bool:
        return self.state is JobState.DONE and self.result_bytes is not None


@dataclass(frozen=True, slots=True)
class Claim:
    """A job a worker holds: the lease names the owner and the attempt it was claimed for."""

    job: Job
    owner: str
    attempt: int


@dataclass(frozen=True, slots=True)
class JobOutput:
    """What a job made: a file (PDF, zip), a stored revision, or both; ``summary`` is for the
    audit log and the job's last message."""

    data: bytes | None = None
    media_type: str | None = None
    filename: str | None = None
    revision: int | None = None
    summary: str = ""


class LeaseLost(Exception):
    """This worker no longer holds the job (its lease expired and another worker took it, or
    the job was cancelled): stop working on it, write nothing."""


class Progress(Protocol):
    def __call__(self, percent: int, message: str) -> None: ...


# --- parameters of each kind ----------------------------------------------------------------


class BookParameters(BaseModel):
    """A map book as ``GET /campuses/{id}/book.pdf`` makes it."""

    model_config = ConfigDict(extra="forbid")

    size: Literal["letter", "tabloid", "arch-d"] = "letter"
    level: int | None = Field(None, ge=-1000, le=1000)
    revision: int | None = Field(None, ge=1, le=2**31 - 1, description="default: current")


class PackageParameters(BaseModel):
    """An offline package, unsealed: a passphrase would have to be stored with the job, so
    sealed packages are made by ``POST /campuses/{id}/package.zip`` only."""

    model_config = ConfigDict(extra="forbid")

    revision: int | None = Field(None, ge=1, le=2**31 - 1, description="default: current")
    min_zoom: int | None = Field(None, ge=12, le=22)
    max_zoom: int | None = Field(None, ge=12, le=22)
    book: bool = True


class ImportParameters(BaseModel):
    """A campus manifest on the server's disk (queued by the CLI, not over the API), imported
    as ``gridmap import`` does: for the district ``org`` (else the campus's owner, else the
    only district): a draft, unless ``publish`` is true (then published in the same job through
    the atomic publish, expecting the revision current when the import began)."""

    model_config = ConfigDict(extra="forbid")

    manifest: str = Field(min_length=1, max_length=4096)
    org: str | None = Field(None, max_length=200)
    publish: bool = False
    #: the workspace (browser upload) the import is for: its report is kept with it
    workspace: str | None = Field(None, max_length=100)


PARAMETERS: dict[JobKind, type[BaseModel]] = {
    JobKind.BOOK: BookParameters, JobKind.PACKAGE: PackageParameters,
    JobKind.IMPORT: ImportParameters,
}


def parse_parameters(kind: JobKind, raw: Mapping[str, Any]) -> BaseModel:
    """The parameters of a job of ``kind``, or :class:`InvalidJobParameters` naming what is
    wrong (a passphrase for a package gets its own explanation)."""
    from api.errors import InvalidParameter

    if kind is JobKind.PACKAGE and "passphrase" in raw:
        raise InvalidParameter(
            "a package job cannot be sealed",
            user_message="a queued package is never sealed: its passphrase would be stored "
            "with the job. Ask POST /campuses/{id}/package.zip for a sealed package")
    try:
        return PARAMETERS[kind].model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'parameters'}: {e['msg']}"
            for e in exc.errors())
        raise InvalidParameter(f"{kind} job parameters: {problems}",
                               user_message=f"{kind} job parameters: {problems}") from None


# --- the queue ------------------------------------------------------------------------------


def new_job_id() -> str:
    return "job_" + secrets.token_hex(16)


class JobQueue:
    """The ``jobs`` table of one database: enqueue, claim with a lease, report, finish.

    ``clock`` gives the time written to and compared with the table (UTC); tests move it on
    to expire leases.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow,
                 max_attempts: int = 3) -> None:
        self.engine = engine
        self.clock = clock
        self.max_attempts = max_attempts
        self._postgres = engine.dialect.name == "postgresql"

    @classmethod
    def of_store(cls, store: CampusStore, **options: Any) -> JobQueue:
        if not isinstance(store, SqlCampusStore):
            raise TypeError("durable jobs live in a SQL store's database")
        return cls(store.engine, **options)

    # asking and reading ------------------------------------------------------------------------

    def enqueue(self, kind: JobKind, campus_id: str, parameters: Mapping[str, Any], *,
                requested_by: str, requested_by_id: str | None = None) -> Job:
        """A new queued job (the parameters as given: check them with :func:`parse_parameters`)."""
        job_id = new_job_id()
        with self.engine.begin() as conn:
            conn.execute(insert(JOBS).values(
                id=job_id, kind=kind.value, campus_id=campus_id, parameters=dict(parameters),
                state=JobState.QUEUED.value, percent=0, message="queued", attempts=0,
                max_attempts=self.max_attempts, created_at=self.clock(),
                requested_by=requested_by[:200], requested_by_id=requested_by_id))
        return self.get(job_id)

    def find(self, job_id: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_INFO_COLUMNS).where(JobRow.id == job_id)).first()
        return None if row is None else _job(row)

    def get(self, job_id: str) -> Job:
        job = self.find(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}", user_message=f"unknown job {job_id!r}")
        return job

    def of_campus(self, campus_id: str, *, limit: int = 50) -> list[Job]:
        """A campus's jobs, newest first."""
        stmt = (select(*_INFO_COLUMNS).where(JobRow.campus_id == campus_id)
                .order_by(JobRow.created_at.desc(), JobRow.id).limit(limit))
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    def unfinished_of(self, requested_by_id: str) -> list[Job]:
        """The queued and running jobs one principal asked for, oldest first."""
        stmt = (select(*_INFO_COLUMNS)
                .where(JobRow.requested_by_id == requested_by_id,
                       JobRow.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]))
                .order_by(JobRow.created_at, JobRow.id))
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(stmt)]

    def result(self, job_id: str) -> bytes:
        """The file a done job made; :class:`JobConflict` if it has none (yet)."""
        job = self.get(job_id)
        if not job.has_result_file:
            raise JobConflict(f"job {job_id} is {job.state}, no file",
                              user_message=_no_file_message(job))
        with self.engine.connect() as conn:
            data = conn.execute(select(JobRow.result).where(JobRow.id == job_id)).scalar_one()
        if data is None:
            raise JobConflict(f"job {job_id} lost its file", user_message=_no_file_message(job))
        return bytes(data)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job; a job already running or finished is a :class:`JobConflict`."""
        now = self.clock()
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(JOBS)
                .where(JobRow.id == job_id, JobRow.state == JobState.QUEUED.value)
                .values(state=JobState.CANCELLED.value, message="cancelled", finished_at=now)
            ).rowcount
        job = self.get(job_id)
        if not changed:
            raise JobConflict(
                f"job {job_id} is {job.state}",
                user_message=f"job {job_id} is {job.state}: only a queued job can be cancelled")
        return job

    def purge(self, keep: timedelta) -> int:
        """Delete the jobs (and the files they made) that finished more than ``keep`` ago;
        how many."""
        cutoff = self.clock() - keep
        finished = [s.value for s in FINISHED]
        with self.engine.begin() as conn:
            gone = conn.execute(delete(JOBS).where(JobRow.state.in_(finished),
                                                   JobRow.finished_at < cutoff)).rowcount
        return int(gone or 0)

    # working -----------------------------------------------------------------------------------

    def reap(self) -> list[Job]:
        """Fail the jobs whose lease expired on their last allowed attempt (their workers kept
        dying); returns them."""
        now = self.clock()
        lost = and_(JobRow.state == JobState.RUNNING.value, JobRow.lease_expires_at < now,
                    JobRow.attempts >= JobRow.max_attempts)
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(JobRow.id).where(lost))]
            if not ids:
                return []
            conn.execute(
                update(JOBS).where(JobRow.id.in_(ids), lost).values(
                    state=JobState.FAILED.value, error_type=WORKER_LOST,
                    error="the job's worker stopped (killed or crashed) on each of its "
                          "attempts; it was not tried again. Ask for it again",
                    message="failed", lease_owner=None, lease_expires_at=None, finished_at=now))
        return [j for j in (self.find(i) for i in ids) if j is not None
                and j.error_type == WORKER_LOST]

    def claim(self, owner: str, lease_s: float) -> Claim | None:
        """Take the oldest claimable job for ``owner`` until ``now + lease_s``, or None.

        Claimable: queued, or running under an expired lease with attempts left. One
        statement; on PostgreSQL the candidate row is locked with SKIP LOCKED, so concurrent
        claimers each take another job (or none) without waiting.
        """
        now = self.clock()
        table = JOBS
        candidate = table.alias("candidate")

        def claimable(t: Any) -> Any:
            return or_(t.c.state == JobState.QUEUED.value,
                       and_(t.c.state == JobState.RUNNING.value, t.c.lease_expires_at < now,
                            t.c.attempts < t.c.max_attempts))

        pick = (select(candidate.c.id).where(claimable(candidate))
                .order_by(candidate.c.created_at, candidate.c.id).limit(1))
        with self.engine.connect() as conn:  # idle workers only read (no write lock)
            if conn.execute(pick).first() is None:
                return None
        if self._postgres:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (update(table).where(table.c.id == pick.scalar_subquery(), claimable(table))
                .values(state=JobState.RUNNING.value, lease_owner=owner[:200],
                        lease_expires_at=now + timedelta(seconds=lease_s),
                        attempts=table.c.attempts + 1, message="started", percent=0,
                        started_at=now)
                .returning(table.c.id, table.c.attempts))
        with self.engine.begin() as conn:
            got = conn.execute(stmt).first()
        if got is None:
            return None
        return Claim(self.get(got[0]), owner[:200], int(got[1]))

    def _held(self, claim: Claim) -> Any:
        return and_(JobRow.id == claim.job.id, JobRow.lease_owner == claim.owner,
                    JobRow.attempts == claim.attempt, JobRow.state == JobState.RUNNING.value)

    def _write_held(self, claim: Claim, **values: Any) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(update(JOBS).where(self._held(claim))
                                  .values(**values))
        return bool(result.rowcount)

    def renew(self, claim: Claim, lease_s: float) -> bool:
        """Extend the lease; False if this worker no longer holds the job."""
        return self._write_held(
            claim, lease_expires_at=self.clock() + timedelta(seconds=lease_s))

    def report(self, claim: Claim, percent: int, message: str, lease_s: float) -> bool:
        """Progress (0-100 and a line saying what is being done); renews the lease."""
        return self._write_held(
            claim, percent=max(0, min(100, int(percent))), message=message[:_MESSAGE_MAX],
            lease_expires_at=self.clock() + timedelta(seconds=lease_s))

    def finish(self, claim: Claim, output: JobOutput) -> bool:
        """Done with ``output``; False (nothing written) if this worker lost the job."""
        return self._write_held(
            claim, state=JobState.DONE.value, percent=100,
            message=(output.summary or "done")[:_MESSAGE_MAX], result=output.data,
            result_type=output.media_type, result_name=output.filename,
            result_bytes=None if output.data is None else len(output.data),
            result_revision=output.revision, lease_owner=None, lease_expires_at=None,
            finished_at=self.clock())

    def fail(self, claim: Claim, error_type: str, error: str) -> bool:
        """Failed for good, with a named error a user can read (never a traceback)."""
        return self._write_held(
            claim, state=JobState.FAILED.value, message="failed", error_type=error_type[:100],
            error=error[:_ERROR_MAX], lease_owner=None, lease_expires_at=None,
            finished_at=self.clock())

    def retry(self, claim: Claim, why: str) -> bool:
        """Give the job back to the queue (an unexpected error, attempts left)."""
        return self._write_held(
            claim, state=JobState.QUEUED.value, message=why[:_MESSAGE_MAX], percent=0,
            lease_owner=None, lease_expires_at=None)

    def release(self, claim: Claim) -> bool:
        """Give back a job this worker will not finish (shutting down), without counting the
        attempt against it: another worker takes it at once, not after the lease."""
        return self._write_held(
            claim, state=JobState.QUEUED.value, message="queued again (a worker stopped)",
            percent=0, attempts=JobRow.attempts - 1, lease_owner=None, lease_expires_at=None)


_INFO_COLUMNS = tuple(c for c in JOBS.columns if c.name != "result")


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _job(r: Any) -> Job:
    def at(value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)

    return Job(
        id=r.id, kind=JobKind(r.kind), campus_id=r.campus_id, parameters=dict(r.parameters),
        state=JobState(r.state), percent=r.percent or 0, message=r.message or "",
        result_type=r.result_type, result_name=r.result_name, result_bytes=r.result_bytes,
        result_revision=r.result_revision, error_type=r.error_type, error=r.error,
        attempts=r.attempts, max_attempts=r.max_attempts, lease_owner=r.lease_owner,
        lease_expires_at=at(r.lease_expires_at), created_at=_utc(r.created_at),
        started_at=at(r.started_at), finished_at=at(r.finished_at),
        requested_by=r.requested_by, requested_by_id=r.requested_by_id,
    )


def _no_file_message(job: Job) -> str:
    if job.state is JobState.DONE:
        return f"job {job.id} made no file (it stored revision {job.result_revision})"
    if job.state is JobState.FAILED:
        return f"job {job.id} failed: {job.error}"
    return f"job {job.id} is {job.state}; its file is there once it is done"


def within(progress: Progress, low: int, high: int) -> Progress:
    """A progress whose 0-100 percent is ``low``-``high`` percent of the job, written only
    when the whole percent or the message changes."""
    said: list[tuple[int, str]] = []

    def report(percent: int, message: str) -> None:
        scaled = low + (high - low) * max(0, min(100, percent)) // 100
        if not said or said[-1] != (scaled, message):
            said[:] = [(scaled, message)]
            progress(scaled, message)

    return report


def stage(progress: Progress, low: int, high: int, doing: str) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback reporting ``done / total`` of a stage as ``low``-``high``
    percent of the job, written only when the whole percent changes."""
    said = [-1]

    def report(done: int, total: int) -> None:
        percent = low + (high - low) * done // max(1, total)
        if percent != said[0]:
            said[0] = percent
            progress(percent, f"{doing} ({done} of {total})")

    return report


# --- what each kind does --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobEnv:
    """What a job runs with: the store (campuses, imagery, audit) and the settings."""

    store: CampusStore
    settings: Settings


Runner = Callable[[JobEnv, Job, Progress], JobOutput]


def run_book(env: JobEnv, job: Job, progress: Progress) -> JobOutput:
    p = BookParameters.model_validate(dict(job.parameters))
    progress(5, "loading the campus")
    campus = env.store.campus(job.campus_id, p.revision)
    revision = p.revision or env.store.current_revision(job.campus_id)
    from api.imagery import local_imagery_path

    imagery = local_imagery_path(env.store, env.settings.data_dir, job.campus_id)
    from api.store_publish import book_verification

    verified_on, verified_by = book_verification(env.store, job.campus_id)
    progress(15, "drawing the map sheets")
    from tiles.book import book_filename, make_book

    pdf = make_book(campus, size=p.size, level=p.level, revision=revision, imagery=imagery,
                    printed_on=date.today(), verified_on=verified_on, verified_by=verified_by,
                    progress=stage(progress, 15, 95, "drawing the map sheets"))
    return JobOutput(pdf, PDF, book_filename(campus, p.size, p.level),
                     summary=f"map book of revision {revision}, {p.size}, "
                     f"{'every level' if p.level is None else f'level {p.level}'}, "
                     f"{len(pdf)} bytes")


def run_package(env: JobEnv, job: Job, progress: Progress) -> JobOutput:
    from api.imagery import local_imagery_path
    from tiles.package import (
        DEFAULT_MAX_ZOOM,
        DEFAULT_MIN_ZOOM,
        make_package,
        package_book,
        tiles_archive,
    )

    p = PackageParameters.model_validate(dict(job.parameters))
    min_zoom = DEFAULT_MIN_ZOOM if p.min_zoom is None else p.min_zoom
    max_zoom = DEFAULT_MAX_ZOOM if p.max_zoom is None else p.max_zoom
    progress(5, "loading the campus")
    campus = env.store.campus(job.campus_id, p.revision)
    revision = p.revision or env.store.current_revision(job.campus_id)
    imagery = local_imagery_path(env.store, env.settings.data_dir, job.campus_id)
    progress(10, f"drawing the map tiles (zoom {min_zoom}-{max_zoom})")
    tiles = tiles_archive(campus, min_zoom=min_zoom, max_zoom=max_zoom, imagery=imagery,
                          progress=stage(progress, 10, 60 if p.book else 90,
                                         "drawing the map tiles"))
    book = None
    if p.book:
        progress(60, "drawing the map book")
        book = package_book(campus, revision=revision, imagery=imagery,
                            progress=stage(progress, 60, 90, "drawing the map book"))
    progress(90, "packing the zip")
    data = make_package(campus, revision=revision, imagery=imagery, book=book, passphrase=None,
                        min_zoom=min_zoom, max_zoom=max_zoom, tiles=tiles)
    name = f"{_safe_name(job.campus_id)}-r{revision}-package.zip"
    return JobOutput(data, ZIP, name,
                     summary=f"offline package of revision {revision}, not sealed, zoom "
                     f"{min_zoom}-{max_zoom}, {'with' if imagery else 'no'} imagery, "
                     f"{'with' if book else 'no'} book, {len(data)} bytes")


def import_marker(job_id: str) -> str:
    """What an import job writes into its revision's source, so a rerun finds it."""
    return f"job {job_id}"


def run_import(env: JobEnv, job: Job, progress: Progress) -> JobOutput:
    """Import a manifest as a new revision, once: a rerun of a job whose first attempt stored
    its revision (and died before saying so) answers with that revision."""
    p = ImportParameters.model_validate(dict(job.parameters))
    manifest = Path(p.manifest)
    marker = import_marker(job.id)
    progress(5, "checking for an earlier attempt's revision")
    for info in _revisions_or_none(env.store, job.campus_id):
        if info.source.endswith(f"({marker})"):
            _assign_owner(env.store, job.campus_id, _import_owner(env.store, job.campus_id, p))
            if p.publish and not info.published:
                _publish_earlier_attempt(env, job, info)
            return JobOutput(revision=info.number,
                             summary=f"revision {info.number} (stored by an earlier attempt)")
    from api.cli import _published_now, publish_imported, source_digest
    from api.import_process import import_in_sandbox, sandbox_limits
    from api.publish import check_servable, import_limits

    if not manifest.is_file():
        raise ImportFailed(f"manifest not found: {manifest}",
                           user_message=f"the manifest {manifest.name!r} is no longer there")
    digest = source_digest(manifest)
    progress(10, f"importing {manifest.name}")
    base = _published_now(env.store, job.campus_id)  # what the publish expects
    previous = None if base is None else _campus_or_none(env.store, job.campus_id, base)
    # in a child process under the time and memory limits: a hostile drawing ends in a named
    # error, never in this process; the store is written only here, once the child answered
    result = import_in_sandbox(manifest, previous, import_limits(env.settings),
                               sandbox_limits(env.settings), within(progress, 10, 70))
    if result.campus.id != job.campus_id:
        raise ImportFailed(
            f"manifest {manifest} is now campus {result.campus.id!r}, queued for "
            f"{job.campus_id!r}",
            user_message=f"the manifest now describes campus {result.campus.id!r}, not the "
            f"{job.campus_id!r} it was queued for; nothing was stored")
    if p.workspace is not None:  # the edits kept with the workspace, applied again
        from api.workspace import prepare_campus

        result = dataclasses.replace(
            result, campus=prepare_campus(env.store, p.workspace, result.campus))
    progress(70, "checking that every answer can be served")
    check_servable(result.campus)
    owner = _import_owner(env.store, job.campus_id, p)
    progress(85, "storing the revision")
    info = env.store.save_revision(
        result.campus, source=f"import {manifest.name} (sha256 {digest[:12]}) ({marker})",
        source_digest=digest, publish=False)
    _assign_owner(env.store, info.campus_id, owner)
    if p.workspace is not None:  # the import's report is kept with the workspace
        from api.workspace import import_finished

        import_finished(env.store, p.workspace, result, info)
    if p.publish:
        progress(95, "publishing")
        info = publish_imported(env.store, info, base, actor=job.requested_by)
    return JobOutput(revision=info.number,
                     summary=f"{'' if p.publish else 'draft '}revision {info.number} from "
                     f"{manifest.name}, {info.feature_count} features, sha256 {digest}")


def _publish_earlier_attempt(env: JobEnv, job: Job, info: Any) -> None:
    """An earlier attempt stored the draft and died before publishing it: publish it now,
    unless a revision newer than it was published meanwhile (a conflict, it stays a draft)."""
    from api.cli import _published_now, publish_imported

    current = _published_now(env.store, job.campus_id)
    if current is not None and current > info.number:
        from api.store_publish import _conflict

        raise _conflict(job.campus_id, info.number, None, current)
    publish_imported(env.store, info, current, actor=job.requested_by)


def _import_owner(store: CampusStore, campus_id: str, p: ImportParameters) -> str | None:
    """The district the import stores the campus for, as ``gridmap import`` chooses it."""
    from api.cli import CliError, campus_owner_for_import

    try:
        return campus_owner_for_import(store, campus_id, p.org)
    except CliError as exc:
        raise ImportFailed(str(exc), user_message=f"{exc}; nothing was stored") from None


def _assign_owner(store: CampusStore, campus_id: str, owner: str | None) -> None:
    if owner is not None:
        from api.store_identity import identity

        identity(store).assign_campus(campus_id, owner)


def manifest_campus_id(manifest: Path) -> str:
    """The campus id a manifest declares (an import job is queued for it)."""
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ImportFailed(f"cannot read manifest {manifest}: {exc}",
                           user_message=f"cannot read the manifest {manifest.name!r}") from None
    campus = data.get("campus")
    cid = campus.get("id") if isinstance(campus, dict) else data.get("id")
    if not isinstance(cid, str) or not cid:
        raise ImportFailed(f"manifest {manifest} names no campus id",
                           user_message=f"the manifest {manifest.name!r} names no campus id")
    return cid


def _revisions_or_none(store: CampusStore, campus_id: str) -> Sequence[Any]:
    from gridmap.errors import CampusNotFound

    try:
        return store.revisions(campus_id)
    except CampusNotFound:
        return []


def _campus_or_none(store: CampusStore, campus_id: str, number: int | None = None) -> Any:
    from gridmap.errors import CampusNotFound

    try:
        return store.campus(campus_id, number)
    except CampusNotFound:
        return None


def _safe_name(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


RUNNERS: dict[JobKind, Runner] = {
    JobKind.BOOK: run_book, JobKind.PACKAGE: run_package, JobKind.IMPORT: run_import,
}


# --- workers --------------------------------------------------------------------------------


def worker_name(number: int) -> str:
    """A lease owner's name: host, process and worker number (for people reading the table)."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{number}"


class JobWorker:
    """Claims jobs one at a time and runs them; :meth:`run_one` is one turn (tests call it)."""

    def __init__(self, queue: JobQueue, env: JobEnv, name: str, *, lease_s: float,
                 runners: Mapping[JobKind, Runner] | None = None) -> None:
        self.queue = queue
        self.env = env
        self.name = name
        self.lease_s = lease_s
        self.runners = dict(RUNNERS if runners is None else runners)
        self.current: Claim | None = None

    def run_one(self) -> Job | None:
        """Claim a job and run it to its end; the job as it then stands, or None if there was
        nothing to do."""
        for lost in self.queue.reap():
            self._audit(lost, f"{lost.kind} failed: {lost.error_type}")
        claim = self.queue.claim(self.name, self.lease_s)
        if claim is None:
            return None
        self.current = claim
        try:
            self.run(claim)
        finally:
            self.current = None
        return self.queue.find(claim.job.id)

    def run(self, claim: Claim) -> None:
        """Run a claimed job, renewing its lease meanwhile, and record how it ended."""
        job = claim.job
        log.info("job %s (%s of %s) attempt %d on %s", job.id, job.kind, job.campus_id,
                 claim.attempt, self.name)

        def progress(percent: int, message: str) -> None:
            if not self.queue.report(claim, percent, message, self.lease_s):
                raise LeaseLost(job.id)

        with Heartbeat(self.queue, claim, self.lease_s):
            try:
                output = self.runners[job.kind](self.env, job, progress)
            except LeaseLost:
                log.warning("job %s: %s lost its lease; its work is dropped", job.id, self.name)
                return
            except GridmapError as exc:
                if self.queue.fail(claim, type(exc).__name__, exc.user_message):
                    self._audit(job, f"{job.kind} failed: {type(exc).__name__}: "
                                     f"{exc.user_message}")
                return
            except Exception:
                log.exception("job %s (%s of %s) failed unexpectedly", job.id, job.kind,
                              job.campus_id)
                if claim.attempt < job.max_attempts:
                    self.queue.retry(claim, f"queued again after an internal error "
                                            f"(attempt {claim.attempt} of {job.max_attempts})")
                elif self.queue.fail(claim, INTERNAL,
                                     f"the {job.kind} could not be made: an internal error on "
                                     f"each of {job.max_attempts} attempts (logged on the "
                                     "server)"):
                    self._audit(job, f"{job.kind} failed: {INTERNAL}")
                return
        if self.queue.finish(claim, output):
            self._audit(job, f"{job.kind} done: {output.summary}")
        else:
            log.warning("job %s: %s finished after losing its lease; result dropped", job.id,
                        self.name)

    def _audit(self, job: Job, detail: str) -> None:
        self.env.store.audit(AuditEntry(
            ts=utcnow(), action="job", token_id=job.requested_by_id,
            token_name=job.requested_by, campus_id=job.campus_id,
            detail=f"{job.id} {detail}", client=f"job worker {self.name}"))


class Heartbeat:
    """Renews a claim's lease every third of the lease while the work runs (a book's Mapnik
    render reports no progress for seconds to minutes)."""

    def __init__(self, queue: JobQueue, claim: Claim, lease_s: float) -> None:
        self.queue = queue
        self.claim = claim
        self.lease_s = lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"lease {claim.job.id}")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                if not self.queue.renew(self.claim, self.lease_s):
                    return  # lost: the work's own next write will notice
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("job %s: renewing the lease failed", self.claim.job.id,
                            exc_info=True)


class JobWorkers:
    """The API process's worker threads (``GRIDMAP_JOB_WORKERS``), started and stopped with it.

    Each polls the queue every ``poll_s`` seconds when idle; :meth:`wake` (called when this
    process queues a job) makes an idle worker look at once. :meth:`stop` asks them to finish:
    a worker mid-job gets ``grace_s`` to end it, then its job is given back to the queue (the
    thread is a daemon and dies with the process).
    """

    def __init__(self, queue: JobQueue, env: JobEnv, count: int, *, lease_s: float,
                 poll_s: float, grace_s: float = 10.0, keep: timedelta | None = None,
                 runners: Mapping[JobKind, Runner] | None = None) -> None:
        self.queue = queue
        self.keep = keep
        self._purged_at: float | None = None
        self.workers = [JobWorker(queue, env, worker_name(n), lease_s=lease_s, runners=runners)
                        for n in range(count)]
        self.poll_s = poll_s
        self.grace_s = grace_s
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []
        self.finished = threading.Condition()
        self.ran: list[str] = []

    def start(self) -> None:
        for worker in self.workers:
            thread = threading.Thread(target=self._loop, args=(worker,), daemon=True,
                                      name=f"job worker {worker.name}")
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify()

    def wait_for(self, job_id: str, timeout: float) -> bool:
        """Whether this process's workers ended ``job_id`` within ``timeout`` seconds."""
        with self.finished:
            return self.finished.wait_for(lambda: job_id in self.ran, timeout)

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + self.grace_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for worker in self.workers:
            claim = worker.current
            if claim is not None and self.queue.release(claim):
                log.warning("job %s given back to the queue on shutdown", claim.job.id)
        self._threads.clear()

    def _loop(self, worker: JobWorker) -> None:
        while not self._stopping.is_set():
            try:
                job = worker.run_one()
            except Exception:  # the database went away for a moment: try again later
                log.exception("job worker %s", worker.name)
                job = None
            if job is not None:
                with self.finished:
                    self.ran.append(job.id)
                    del self.ran[:-1000]
                    self.finished.notify_all()
                continue
            self._purge_now_and_then()
            with self._wake:
                if not self._stopping.is_set():
                    self._wake.wait(self.poll_s)

    def _purge_now_and_then(self) -> None:
        """Old finished jobs go, checked by an idle worker at most once an hour."""
        if self.keep is None:
            return
        now = time.monotonic()
        with self._wake:
            if self._purged_at is not None and now - self._purged_at < PURGE_EVERY_S:
                return
            self._purged_at = now
        try:
            gone = self.queue.purge(self.keep)
        except Exception:
            log.warning("purging old jobs failed", exc_info=True)
            return
        if gone:
            log.info("deleted %d jobs finished over %s ago", gone, self.keep)


class JobService:
    """An application's jobs: the queue on its store's database and its worker threads."""

    def __init__(self, store: CampusStore, settings: Settings, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.queue = JobQueue.of_store(store, clock=clock,
                                       max_attempts=settings.job_max_attempts)
        self.env = JobEnv(store, settings)
        self.workers = JobWorkers(self.queue, self.env, settings.job_workers,
                                  lease_s=settings.job_lease_s,
                                  poll_s=settings.job_poll_interval_s,
                                  keep=timedelta(days=settings.job_keep_days))

    def start(self) -> None:
        self.workers.start()

    def stop(self) -> None:
        self.workers.stop()

    def submit(self, kind: JobKind, campus_id: str, parameters: Mapping[str, Any], *,
               requested_by: str, requested_by_id: str | None) -> Job:
        """Queue a job (its parameters already checked) and wake an idle worker."""
        job = self.queue.enqueue(kind, campus_id, parameters, requested_by=requested_by,
                                 requested_by_id=requested_by_id)
        self.workers.wake()
        return job

    def worker(self, number: int = 0) -> JobWorker:
        """A worker of this service's queue that is not one of its threads (tests turn it)."""
        return JobWorker(self.queue, self.env, worker_name(1000 + number),
                         lease_s=self.settings.job_lease_s)
