"""Job workers: claim a job, run it under a renewed lease, record how it ended."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from datetime import timedelta

from api.job_kinds import RUNNERS, JobEnv, Runner
from api.job_queue import Claim, Job, JobKind, JobQueue, LeaseLost
from api.store import AuditEntry, utcnow
from gridmap.errors import GridmapError

log = logging.getLogger("api.jobs")  # the name the job log has always had

#: The error a job carries after an unexpected error (logged with its traceback, never shown).
INTERNAL = "InternalError"
#: An idle worker deletes old finished jobs at most this often (seconds).
PURGE_EVERY_S = 3600.0


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
