"""The durable job queue: the ``jobs`` table and the claim/lease machinery over it.

Claiming is one ``UPDATE``: it takes the oldest job that is queued, or running under a lease
that has expired (its worker was killed), sets the claiming worker as the lease owner until
``now + lease`` and counts the attempt. On PostgreSQL the candidate is picked with ``SELECT ...
FOR UPDATE SKIP LOCKED``, so workers on many hosts never wait on, nor take, each other's job; on
SQLite the database's single writer serialises claims. The ``UPDATE`` re-checks the candidate is
still claimable, so two workers never hold one job.

Each write a worker makes about its job (progress, done, failed) names the lease it holds (owner
and attempt) and changes nothing once another worker has taken the job over. A job whose worker
died is claimed again after its lease expires, up to ``max_attempts`` claims; then it is failed
with :data:`WORKER_LOST`. See :mod:`api.jobs` for the whole design.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

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
    case,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from api.store import Base, CampusStore, SqlCampusStore, utcnow
from gridmap.errors import JobConflict, JobNotFound

#: The error a job carries when its workers kept dying while running it.
WORKER_LOST = "WorkerLost"
_MESSAGE_MAX = 300
_ERROR_MAX = 2000


class JobKind(StrEnum):
    IMPORT = "import"
    BOOK = "book"
    PACKAGE = "package"
    #: a drawing uploaded to a workspace, read for its layer proposal and preview
    ANALYSIS = "analysis"


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
        """Take the oldest claimable job for ``owner`` until ``now + lease_s``, or None; the
        oldest upload analysis before any other kind.

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

        # an upload's analysis first: an editor waits on the page for it, and it is short
        first = case((candidate.c.kind == JobKind.ANALYSIS.value, 0), else_=1)
        pick = (select(candidate.c.id).where(claimable(candidate))
                .order_by(first, candidate.c.created_at, candidate.c.id).limit(1))
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

