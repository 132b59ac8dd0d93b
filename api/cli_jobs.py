"""``gridmap jobs``: queue an import, follow a job, run job workers outside the API process.

- ``gridmap jobs import MANIFEST [--org ORG] [--draft]`` queues an import of a manifest on this
  machine's disk (the API has no upload route for imports) and prints the job's id;
- ``gridmap jobs show JOB`` prints a job's state, percent, message, error and result;
- ``gridmap jobs worker [--workers N] [--once]`` runs job workers on the store until stopped
  (SIGTERM, Ctrl-C), or with ``--once`` until the queue is empty: on another host sharing a
  PostgreSQL store, or beside ``gridmap serve`` started with ``GRIDMAP_JOB_WORKERS=0``.

Registered by :func:`add_commands` from :func:`api.cli.build_parser`; nothing heavy is imported
until a command runs. Everything is audited as the operator (``cli:<user>``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.jobs import Job
    from api.settings import Settings
    from api.store import CampusStore


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``jobs import``, ``jobs show`` and ``jobs worker`` to the ``gridmap`` parser."""
    jobs = sub.add_parser("jobs", help="durable jobs: queue an import, show a job, run workers")
    commands = jobs.add_subparsers(dest="jobs_command", required=True)

    p = commands.add_parser("import", help="queue an import of a campus manifest")
    p.add_argument("manifest", help="path to campus.toml (on this machine)")
    p.add_argument("--org", help="the district that owns the campus (default: its owner, or "
                                 "the only district)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--publish", action="store_true",
                     help="publish the new revision at once, if the revision current when the "
                          "import began still is")
    how.add_argument("--draft", action="store_true", help="store a draft (the default)")
    p.set_defaults(func=cmd_jobs_import)

    p = commands.add_parser("show", help="a job's state, percent, message, error and result")
    p.add_argument("job", help="job id (job_...)")
    p.set_defaults(func=cmd_jobs_show)

    p = commands.add_parser("worker", help="run job workers until stopped (SIGTERM, Ctrl-C)")
    p.add_argument("--workers", type=int, default=1, help="worker threads (default 1)")
    p.add_argument("--once", action="store_true",
                   help="run the queued jobs one after the other, then exit")
    p.set_defaults(func=cmd_jobs_worker)


def cmd_jobs_import(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.cli import cli_actor, cli_audit
    from api.jobs import JobKind, JobQueue, manifest_campus_id, parse_parameters

    manifest = Path(args.manifest).resolve()
    campus_id = manifest_campus_id(manifest)
    params = parse_parameters(JobKind.IMPORT, {"manifest": str(manifest), "org": args.org,
                                               "publish": args.publish})
    queue = JobQueue.of_store(store, max_attempts=settings.job_max_attempts)
    job = queue.enqueue(JobKind.IMPORT, campus_id, params.model_dump(),
                        requested_by=cli_actor())
    cli_audit(store, "job", campus_id=campus_id,
              detail=f"{job.id} import queued: {manifest.name}")
    print(job.id)
    return 0


def describe(job: Job) -> list[str]:
    """A job in lines, for people."""
    lines = [f"{job.id}: {job.kind} of {job.campus_id}, {job.state}, {job.percent}%",
             f"  asked by {job.requested_by} at {job.created_at:%Y-%m-%d %H:%M:%S} UTC, "
             f"attempt {job.attempts} of {job.max_attempts}"]
    if job.message:
        lines.append(f"  {job.message}")
    if job.error:
        lines.append(f"  error ({job.error_type}): {job.error}")
    if job.result_revision is not None:
        lines.append(f"  revision {job.result_revision}")
    if job.has_result_file:
        lines.append(f"  result: {job.result_name} ({job.result_bytes} bytes), "
                     f"GET /jobs/{job.id}/result")
    return lines


def cmd_jobs_show(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.jobs import JobQueue

    job = JobQueue.of_store(store).get(args.job)
    print("\n".join(describe(job)))
    return 0


def cmd_jobs_worker(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.jobs import JobEnv, JobQueue, JobWorker, JobWorkers, worker_name

    queue = JobQueue.of_store(store, max_attempts=settings.job_max_attempts)
    env = JobEnv(store, settings)
    if args.once:
        worker = JobWorker(queue, env, worker_name(0), lease_s=settings.job_lease_s)
        while (job := worker.run_one()) is not None:
            print("\n".join(describe(job)), flush=True)
        return 0
    workers = JobWorkers(queue, env, max(1, args.workers), lease_s=settings.job_lease_s,
                         poll_s=settings.job_poll_interval_s,
                         keep=timedelta(days=settings.job_keep_days))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    workers.start()
    print(f"{len(workers.workers)} job worker(s) on the store; stop with Ctrl-C or SIGTERM",
          flush=True)
    stop.wait()
    workers.stop()
    return 0
