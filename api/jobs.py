"""Durable jobs: long work (map books, offline packages, imports) queued in the store's database.

A job is a row of the ``jobs`` table in the same database as the campuses (SQLite or
PostgreSQL), so a queued job survives a restart of every process, and no other service (a
broker, a cache) has to be run, secured and backed up. Workers are threads of the API process
(:class:`JobWorkers`, ``GRIDMAP_JOB_WORKERS`` of them) or anything else that opens the database.

A worker claims a job under a lease and renews it while it works (a heartbeat thread, and
every progress report); once another worker has taken the job over, a worker that stalled past
its lease can overwrite nothing. A job whose worker died is claimed again after its lease
expires, up to ``max_attempts`` claims; then it is failed with :data:`WORKER_LOST`. How a
claim and a lease work (one ``UPDATE``, ``SKIP LOCKED`` on PostgreSQL) is told in
:mod:`api.job_queue`. Books and packages are pure functions of a revision, so they simply run
again; an import names its job in the revision it stores, so a rerun finds that revision
instead of storing a second one.

Errors a user can act on (a level the campus lacks, an import the service cannot serve) fail the
job at once with the error's type and user message; anything unexpected is logged with its
traceback here and the job carries only a named, generic message.

The parts: :mod:`api.job_queue` (the table and the claim/lease queue), :mod:`api.job_parameters`
(what each kind is asked for), :mod:`api.job_kinds` (what each kind runs), :mod:`api.job_worker`
(the workers); this module holds :class:`JobService` and re-exports their names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from api.job_kinds import PDF as PDF
from api.job_kinds import RUNNERS as RUNNERS
from api.job_kinds import ZIP as ZIP
from api.job_kinds import JobEnv as JobEnv
from api.job_kinds import Progress as Progress
from api.job_kinds import Runner as Runner
from api.job_kinds import _revisions_or_none as _revisions_or_none
from api.job_kinds import import_marker as import_marker
from api.job_kinds import manifest_campus_id as manifest_campus_id
from api.job_kinds import run_book as run_book
from api.job_kinds import run_import as run_import
from api.job_kinds import run_package as run_package
from api.job_kinds import stage as stage
from api.job_kinds import within as within
from api.job_parameters import PARAMETERS as PARAMETERS
from api.job_parameters import BookParameters as BookParameters
from api.job_parameters import ImportParameters as ImportParameters
from api.job_parameters import PackageParameters as PackageParameters
from api.job_parameters import parse_parameters as parse_parameters
from api.job_queue import FINISHED as FINISHED
from api.job_queue import JOBS as JOBS
from api.job_queue import WORKER_LOST as WORKER_LOST
from api.job_queue import Claim as Claim
from api.job_queue import Job as Job
from api.job_queue import JobKind as JobKind
from api.job_queue import JobOutput as JobOutput
from api.job_queue import JobQueue as JobQueue
from api.job_queue import JobRow as JobRow
from api.job_queue import JobState as JobState
from api.job_queue import LeaseLost as LeaseLost
from api.job_queue import new_job_id as new_job_id
from api.job_worker import INTERNAL as INTERNAL
from api.job_worker import PURGE_EVERY_S as PURGE_EVERY_S
from api.job_worker import Heartbeat as Heartbeat
from api.job_worker import JobWorker as JobWorker
from api.job_worker import JobWorkers as JobWorkers
from api.job_worker import worker_name as worker_name
from api.settings import Settings
from api.store import CampusStore, utcnow


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
