"""Durable jobs (api.jobs, api.routes_jobs): a queue in the store's database, claimed with leases.

Every test runs on SQLite and PostgreSQL (the ``store`` fixture). Workers are driven by hand
(``GRIDMAP_JOB_WORKERS=0``) except where the app's own threads are the point; time moves by
handing a queue a later clock, never by sleeping.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import create_token
from api.jobs import (
    INTERNAL,
    RUNNERS,
    WORKER_LOST,
    JobEnv,
    JobKind,
    JobOutput,
    JobQueue,
    JobState,
    JobWorker,
    Progress,
    Runner,
    import_marker,
    manifest_campus_id,
    run_import,
)
from api.settings import Settings
from api.store import Role, SqlCampusStore, utcnow
from api.store_identity import Organisation, OrgKind, identity
from gridmap.errors import JobConflict, LevelNotFound
from gridmap.model import Campus

ROOT = Path(__file__).resolve().parent.parent
LEASE_S = 60.0
SAMPLE_MANIFEST = ROOT / "data" / "samples" / "lincoln_ridge" / "campus.toml"


def later(seconds: float) -> Callable[[], datetime]:
    """A clock running ``seconds`` ahead of the store's."""
    return lambda: utcnow() + timedelta(seconds=seconds)


@pytest.fixture
def manual(settings: Settings) -> Settings:
    """The test's settings with no worker threads: the tests turn the workers."""
    return settings.model_copy(update={"job_workers": 0})


@pytest.fixture
def queue(store: SqlCampusStore) -> JobQueue:
    return JobQueue(store.engine)


def worker(queue: JobQueue, store: SqlCampusStore, settings: Settings, name: str,
           runners: dict[JobKind, Runner] | None = None) -> JobWorker:
    return JobWorker(queue, JobEnv(store, settings), name, lease_s=LEASE_S, runners=runners)


def recording(calls: list[str], data: bytes = b"made") -> dict[JobKind, Runner]:
    """Runners that record which job they ran and make ``data``."""
    def run(env: JobEnv, job: Any, progress: Progress) -> JobOutput:
        calls.append(job.id)
        progress(50, "half way")
        return JobOutput(data, "application/octet-stream", "made.bin", summary="made")

    return {kind: run for kind in JobKind}


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8", "replace")


# --- the queue survives a restart -------------------------------------------------------------


def test_a_queued_job_survives_a_restart(settings: Settings, stored_campus: Campus,
                                         tmp_path: Path) -> None:
    first = SqlCampusStore(settings.resolved_database_url)
    job = JobQueue(first.engine).enqueue(JobKind.BOOK, stored_campus.id, {"revision": 1},
                                         requested_by="tests")
    first.close()

    second = SqlCampusStore(settings.resolved_database_url)  # a new process, as far as it knows
    try:
        queue = JobQueue(second.engine)
        assert queue.get(job.id).state is JobState.QUEUED
        ran = worker(queue, second, settings, "after restart").run_one()
        assert ran is not None and ran.id == job.id
        assert ran.state is JobState.DONE and ran.percent == 100 and ran.error is None
        pdf = queue.result(job.id)
        assert ran.result_bytes == len(pdf) and ran.result_type == "application/pdf"
        assert stored_campus.name in pdf_text(pdf, tmp_path)
        assert worker(queue, second, settings, "idle").run_one() is None  # nothing left
    finally:
        second.close()


def test_an_upload_analysis_is_taken_before_older_books(queue: JobQueue,
                                                        stored_campus: Campus) -> None:
    """An editor waits on the workspace page for an analysis; a book can wait for it."""
    book = queue.enqueue(JobKind.BOOK, stored_campus.id, {"revision": 1}, requested_by="tests")
    analysis = queue.enqueue(JobKind.ANALYSIS, stored_campus.id, {}, requested_by="tests")
    first = queue.claim("worker", LEASE_S)
    second = queue.claim("worker", LEASE_S)
    assert first is not None and second is not None
    assert [first.job.id, second.job.id] == [analysis.id, book.id]


# --- leases: a dead worker's job is taken again -----------------------------------------------


def test_an_abandoned_claim_is_taken_again_after_its_lease(
        store: SqlCampusStore, queue: JobQueue, settings: Settings) -> None:
    job = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    abandoned = queue.claim("dead worker", LEASE_S)
    assert abandoned is not None and abandoned.attempt == 1
    assert queue.claim("eager worker", LEASE_S) is None  # the lease holds

    calls: list[str] = []
    after = JobQueue(store.engine, clock=later(LEASE_S + 1))
    done = worker(after, store, settings, "second worker", recording(calls)).run_one()
    assert done is not None and done.state is JobState.DONE and done.attempts == 2
    assert calls == [job.id]
    # the first worker wakes up late: everything it writes is refused, the result stays
    assert not queue.report(abandoned, 90, "still here", LEASE_S)
    assert not queue.finish(abandoned, JobOutput(b"stale"))
    assert not queue.fail(abandoned, "Late", "late")
    assert queue.result(job.id) == b"made"
    assert queue.get(job.id).state is JobState.DONE


def test_a_renewed_lease_is_not_taken(store: SqlCampusStore, queue: JobQueue) -> None:
    queue.enqueue(JobKind.PACKAGE, "c1", {}, requested_by="tests")
    claim = queue.claim("slow worker", LEASE_S)
    assert claim is not None
    # renewed 50 s in: the lease now runs to 110 s
    assert JobQueue(store.engine, clock=later(50)).renew(claim, LEASE_S)
    assert JobQueue(store.engine, clock=later(70)).claim("other", LEASE_S) is None
    taken = JobQueue(store.engine, clock=later(111)).claim("other", LEASE_S)
    assert taken is not None and taken.job.id == claim.job.id and taken.attempt == 2


def test_a_job_whose_workers_keep_dying_fails_with_a_clear_error(
        store: SqlCampusStore, settings: Settings) -> None:
    queue = JobQueue(store.engine, max_attempts=2)
    job = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    assert JobQueue(store.engine).claim("dies first", LEASE_S) is not None
    again = JobQueue(store.engine, clock=later(LEASE_S + 1)).claim("dies second", LEASE_S)
    assert again is not None and again.attempt == 2
    calls: list[str] = []
    last = JobQueue(store.engine, clock=later(3 * LEASE_S))
    assert worker(last, store, settings, "survivor", recording(calls)).run_one() is None
    failed = queue.get(job.id)
    assert calls == [] and failed.state is JobState.FAILED
    assert failed.error_type == WORKER_LOST and failed.attempts == 2
    assert failed.error is not None and "killed or crashed" in failed.error
    assert "Traceback" not in failed.error
    entries = store.audit_log(campus_id="c1")
    assert any(job.id in e.detail and WORKER_LOST in e.detail for e in entries)


SUBPROCESS_WORKER = """
import sys
from sqlalchemy import create_engine
from api.jobs import JobEnv, JobKind, JobQueue, JobWorker

def stuck(env, job, progress):
    progress(50, "half way")
    print(job.id, flush=True)
    sys.stdin.read()  # works on it until killed

queue = JobQueue(create_engine(sys.argv[1]))
JobWorker(queue, JobEnv(None, None), "doomed worker", lease_s=60.0,
          runners={kind: stuck for kind in JobKind}).run_one()
print("ended", flush=True)
"""


def test_a_worker_process_killed_while_holding_a_job(
        store: SqlCampusStore, queue: JobQueue, settings: Settings) -> None:
    job = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    proc = subprocess.Popen(
        [sys.executable, "-c", SUBPROCESS_WORKER, settings.resolved_database_url],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == job.id
        held = queue.get(job.id)  # mid-job: its heartbeat thread running, half way
        assert held.state is JobState.RUNNING and held.lease_owner == "doomed worker"
        assert (held.percent, held.message) == (50, "half way")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    calls: list[str] = []
    assert worker(queue, store, settings, "too soon", recording(calls)).run_one() is None
    after = JobQueue(store.engine, clock=later(LEASE_S + 1))
    done = worker(after, store, settings, "next worker", recording(calls)).run_one()
    assert done is not None and done.state is JobState.DONE and done.attempts == 2
    assert calls == [job.id]  # run once, by the worker that took over


# --- two workers never run one job at once ----------------------------------------------------


def test_concurrent_claims_take_each_job_once(store: SqlCampusStore) -> None:
    queues = [JobQueue(store.engine), JobQueue(store.engine)]
    for round_ in range(8):
        jobs = {queues[0].enqueue(JobKind.BOOK, "c1", {}, requested_by="tests").id
                for _ in range(round_ % 3)}  # 0, 1 or 2 jobs for two claimers
        barrier = threading.Barrier(2)
        claimed: list[str | None] = [None, None]

        def claim(i: int, barrier: threading.Barrier, claimed: list[str | None]) -> None:
            barrier.wait()
            got = queues[i].claim(f"worker {i}", LEASE_S)
            claimed[i] = None if got is None else got.job.id

        threads = [threading.Thread(target=claim, args=(i, barrier, claimed))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        taken = [c for c in claimed if c is not None]
        assert len(taken) == len(set(taken)) == len(jobs) and set(taken) == jobs


def test_a_running_job_is_not_run_by_a_second_worker(
        store: SqlCampusStore, queue: JobQueue, settings: Settings) -> None:
    job = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(env: JobEnv, j: Any, progress: Progress) -> JobOutput:
        calls.append(j.id)
        entered.set()
        assert release.wait(60)
        return JobOutput(b"once", "application/octet-stream", "x.bin")

    first = worker(queue, store, settings, "first", {k: slow for k in JobKind})
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(first.run_one()))
    thread.start()
    try:
        assert entered.wait(60)
        second = worker(JobQueue(store.engine), store, settings, "second",
                        {k: slow for k in JobKind})
        assert second.run_one() is None
    finally:
        release.set()
        thread.join()
    assert calls == [job.id] and results[0].state is JobState.DONE
    assert queue.result(job.id) == b"once"


def test_two_workers_drain_a_queue_running_each_job_once(
        store: SqlCampusStore, settings: Settings) -> None:
    queue = JobQueue(store.engine)
    jobs = {queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests").id for _ in range(12)}
    calls: list[str] = []
    barrier = threading.Barrier(2)

    def drain(name: str) -> None:
        w = worker(JobQueue(store.engine), store, settings, name, recording(calls))
        barrier.wait()
        while w.run_one() is not None:
            pass

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == sorted(jobs)
    assert all(queue.get(j).state is JobState.DONE for j in jobs)


# --- failures and cancelling ------------------------------------------------------------------


def test_a_failed_job_carries_a_named_error(
        store: SqlCampusStore, queue: JobQueue, settings: Settings,
        stored_campus: Campus) -> None:
    job = queue.enqueue(JobKind.BOOK, stored_campus.id, {"level": 99, "revision": 1},
                        requested_by="tests")
    failed = worker(queue, store, settings, "w").run_one()
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.error_type == LevelNotFound.__name__ and failed.attempts == 1
    assert failed.error is not None and "99" in failed.error
    with pytest.raises(JobConflict):
        queue.result(job.id)


def test_an_unexpected_error_is_retried_then_failed_without_internals(
        store: SqlCampusStore, settings: Settings) -> None:
    queue = JobQueue(store.engine, max_attempts=2)
    job = queue.enqueue(JobKind.PACKAGE, "c1", {}, requested_by="tests")

    def broken(env: JobEnv, j: Any, progress: Progress) -> JobOutput:
        raise RuntimeError("secret internals at /srv/gridmap")

    w = worker(queue, store, settings, "w", {k: broken for k in JobKind})
    retried = w.run_one()
    assert retried is not None and retried.state is JobState.QUEUED
    failed = w.run_one()
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.error_type == INTERNAL and failed.attempts == 2
    assert failed.error is not None and "secret" not in failed.error
    assert queue.get(job.id).error == failed.error


def test_cancel_a_queued_job_only(store: SqlCampusStore, queue: JobQueue,
                                  settings: Settings) -> None:
    queued = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    cancelled = queue.cancel(queued.id)
    assert cancelled.state is JobState.CANCELLED
    assert worker(queue, store, settings, "w", recording([])).run_one() is None
    running = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    assert queue.claim("w", LEASE_S) is not None
    with pytest.raises(JobConflict) as refused:
        queue.cancel(running.id)
    assert "only a queued job can be cancelled" in refused.value.user_message
    with pytest.raises(JobConflict):
        queue.cancel(queued.id)


# --- imports are not stored twice -------------------------------------------------------------


def test_an_import_job_rerun_stores_its_revision_once(
        store: SqlCampusStore, queue: JobQueue, settings: Settings,
        district: Organisation) -> None:
    campus_id = manifest_campus_id(SAMPLE_MANIFEST)
    job = queue.enqueue(JobKind.IMPORT, campus_id,
                        {"manifest": str(SAMPLE_MANIFEST), "org": district.id,
                         "publish": False}, requested_by="tests")
    env = JobEnv(store, settings)
    said_first: list[int] = []
    said_again: list[int] = []
    first = run_import(env, job, lambda p, m: said_first.append(p))
    # the worker died before marking the job done; the rerun finds the revision it stored
    second = run_import(env, job, lambda p, m: said_again.append(p))
    assert first.revision is not None and second.revision == first.revision
    revisions = store.revisions(campus_id)
    assert [r.number for r in revisions] == [first.revision]
    assert revisions[0].source.endswith(f"({import_marker(job.id)})")
    assert not revisions[0].published  # a draft, as asked
    assert identity(store).campus_owner(campus_id) == district.id
    assert said_first == sorted(said_first) and len(said_first) > 2  # percent rises
    assert said_again == [5]  # found at once, nothing imported


# --- over the API -----------------------------------------------------------------------------


@pytest.fixture
def api(manual: Settings, store: SqlCampusStore, viewer_token: str,
        stored_campus: Campus) -> Iterator[TestClient]:
    with TestClient(create_app(manual, store), base_url="http://127.0.0.1") as c:
        c.headers["Authorization"] = f"Bearer {viewer_token}"
        yield c


def turn(client: TestClient) -> Any:
    """One turn of a worker of the app's queue (the app has no worker threads)."""
    return client.app.state.jobs.worker().run_one()  # type: ignore[attr-defined]


def test_book_job_over_the_api(api: TestClient, store: SqlCampusStore, stored_campus: Campus,
                               tmp_path: Path) -> None:
    asked = api.post(f"/campuses/{stored_campus.id}/jobs",
                     json={"kind": "book", "parameters": {"size": "letter"}})
    assert asked.status_code == 202, asked.text
    job = asked.json()
    assert asked.headers["location"] == f"/jobs/{job['id']}"
    assert job["state"] == "queued" and job["result"] is None
    assert job["parameters"]["revision"] == 1  # pinned when asked
    assert api.get(f"/jobs/{job['id']}/result").status_code == 409  # not made yet
    assert turn(api).state is JobState.DONE
    status = api.get(f"/jobs/{job['id']}")
    assert status.status_code == 200 and "no-store" in status.headers["cache-control"]
    view = status.json()
    assert view["state"] == "done" and view["percent"] == 100 and view["error"] is None
    assert "lease_owner" not in view
    result = api.get(view["result"]["url"])
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/pdf"
    assert result.headers["cache-control"] == "private, no-store"
    assert len(result.content) == view["result"]["bytes"]
    assert stored_campus.name in pdf_text(result.content, tmp_path)
    listed = api.get(f"/campuses/{stored_campus.id}/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    details = [e.detail for e in store.audit_log(campus_id=stored_campus.id)
               if e.action.startswith("job")]
    assert any("queued" in d for d in details) and any("book done" in d for d in details)
    assert any(d.startswith(f"{job['id']} book, ") for d in details)  # the download


def test_package_job_over_the_api(api: TestClient, stored_campus: Campus) -> None:
    sealed = api.post(f"/campuses/{stored_campus.id}/jobs",
                      json={"kind": "package", "parameters": {"passphrase": "x" * 20}})
    assert sealed.status_code == 400 and "never sealed" in sealed.json()["error"]["message"]
    asked = api.post(f"/campuses/{stored_campus.id}/jobs", json={
        "kind": "package", "parameters": {"min_zoom": 16, "max_zoom": 17, "book": False}})
    assert asked.status_code == 202, asked.text
    assert turn(api).state is JobState.DONE
    view = api.get(asked.headers["location"]).json()
    assert view["result"]["media_type"] == "application/zip"
    got = api.get(view["result"]["url"])
    assert got.headers["cache-control"] == "private, no-store"
    names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert "index.html" in names and "data/tiles.js" in names and "book.pdf" not in names


def test_job_requests_are_checked(api: TestClient, stored_campus: Campus) -> None:
    base = f"/campuses/{stored_campus.id}/jobs"
    for body in ({"kind": "import", "parameters": {"manifest": "/etc/passwd"}},
                 {"kind": "book", "parameters": {"size": "a0"}},
                 {"kind": "book", "parameters": {"colour": "red"}},
                 {"kind": "package", "parameters": {"min_zoom": 18, "max_zoom": 16}}):
        answer = api.post(base, json=body)
        assert 400 <= answer.status_code < 500 and "error" in answer.json(), body
    missing = api.post(base, json={"kind": "book", "parameters": {"level": 42}})
    assert missing.status_code == 404 and "42" in missing.json()["error"]["message"]
    assert api.get("/jobs/job_" + "0" * 32).status_code == 404
    assert api.get("/jobs/not-a-job").status_code in (404, 422)


def test_jobs_are_authorised_like_their_campus(api: TestClient, store: SqlCampusStore,
                                               stored_campus: Campus,
                                               district: Organisation) -> None:
    job = api.post(f"/campuses/{stored_campus.id}/jobs", json={"kind": "book"}).json()
    agency = identity(store).create_org("Elsewhere police", OrgKind.POLICE)  # no partnership
    other, _ = create_token(store, "elsewhere", Role.OFFICER, org=agency.id)
    same_campus, _ = create_token(store, "colleague", Role.OFFICER, org=district.id)
    outsider = {"Authorization": f"Bearer {other}"}
    for method, path in (("GET", f"/jobs/{job['id']}"), ("GET", f"/jobs/{job['id']}/result"),
                         ("DELETE", f"/jobs/{job['id']}"),
                         ("POST", f"/campuses/{stored_campus.id}/jobs"),
                         ("GET", f"/campuses/{stored_campus.id}/jobs")):
        seen = api.request(method, path, headers=outsider, json={"kind": "book"})
        assert seen.status_code == 404, (method, path, seen.text)
        if path.startswith("/jobs/"):  # as if there were no such job: nothing of its campus
            fake = "job_" + "0" * 32
            nothing = api.request(method, path.replace(job["id"], fake), headers=outsider)
            assert seen.text == nothing.text.replace(fake, job["id"])
            assert stored_campus.id not in seen.text
        anonymous = api.request(method, path, headers={"Authorization": ""},
                                json={"kind": "book"})
        assert anonymous.status_code == 401, (method, path)
    colleague = {"Authorization": f"Bearer {same_campus}"}
    assert api.get(f"/jobs/{job['id']}", headers=colleague).status_code == 200
    assert api.delete(f"/jobs/{job['id']}", headers=colleague).status_code == 403
    cancelled = api.delete(f"/jobs/{job['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert api.delete(f"/jobs/{job['id']}").status_code == 409
    denied = [e for e in store.audit_log(campus_id=stored_campus.id) if e.action == "denied"]
    assert denied  # refusals are audited
    assert any(e.action == "job cancel" for e in store.audit_log(campus_id=stored_campus.id))


def test_the_apps_worker_threads_run_jobs_and_stop(settings: Settings, store: SqlCampusStore,
                                                   viewer_token: str,
                                                   stored_campus: Campus) -> None:
    app = create_app(settings.model_copy(update={"job_workers": 1}), store)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.headers["Authorization"] = f"Bearer {viewer_token}"
        job = c.post(f"/campuses/{stored_campus.id}/jobs", json={"kind": "book"}).json()
        assert app.state.jobs.workers.wait_for(job["id"], timeout=300)
        assert c.get(f"/jobs/{job['id']}").json()["state"] == "done"
        threads = list(app.state.jobs.workers._threads)
        assert threads and all(t.is_alive() for t in threads)
    assert not any(t.is_alive() for t in threads)  # stopped with the app


def test_book_and_package_jobs_report_their_progress(
        store: SqlCampusStore, settings: Settings, stored_campus: Campus) -> None:
    env = JobEnv(store, settings)
    queue = JobQueue(store.engine)
    for kind, parameters, doing in (
            (JobKind.BOOK, {"revision": 1}, "drawing the map sheets"),
            (JobKind.PACKAGE, {"revision": 1, "min_zoom": 16, "max_zoom": 17},
             "drawing the map tiles")):
        job = queue.enqueue(kind, stored_campus.id, parameters, requested_by="tests")
        said: list[tuple[int, str]] = []
        RUNNERS[kind](env, job, lambda p, m, said=said: said.append((p, m)))
        percents = [p for p, _ in said]
        assert percents == sorted(percents) and percents[0] > 0 and percents[-1] < 100
        steps = [m for _, m in said if m.startswith(doing)]
        assert len(steps) >= 2, said  # reported as it went, not only before and after
        total = steps[-1].rsplit(" of ", 1)[1].rstrip(")")
        assert steps[-1] == f"{doing} ({total} of {total})"


def test_cli_queues_an_import_and_runs_it_in_a_worker(
        settings: Settings, store: SqlCampusStore, district: Organisation,
        capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main

    assert main(["jobs", "import", str(SAMPLE_MANIFEST), "--org", district.id,
                 "--publish"]) == 0
    job_id = capsys.readouterr().out.strip()
    assert JobQueue(store.engine).get(job_id).state is JobState.QUEUED
    assert main(["jobs", "worker", "--once"]) == 0
    assert f"{job_id}: import of" in capsys.readouterr().out
    assert main(["jobs", "show", job_id]) == 0
    shown = capsys.readouterr().out
    campus_id = manifest_campus_id(SAMPLE_MANIFEST)
    number = store.current_revision(campus_id)
    assert "done, 100%" in shown and f"revision {number}" in shown
    assert identity(store).campus_owner(campus_id) == district.id


def test_an_import_job_shows_its_manifest_by_name_only(
        api: TestClient, stored_campus: Campus) -> None:
    queue: JobQueue = api.app.state.jobs.queue  # type: ignore[attr-defined]
    job = queue.enqueue(JobKind.IMPORT, stored_campus.id, {"manifest": str(SAMPLE_MANIFEST)},
                        requested_by="cli:someone")
    view = api.get(f"/jobs/{job.id}").json()
    assert view["parameters"]["manifest"] == SAMPLE_MANIFEST.name
    assert str(SAMPLE_MANIFEST.parent) not in api.get(f"/jobs/{job.id}").text


def test_old_finished_jobs_are_purged_with_their_files(
        store: SqlCampusStore, queue: JobQueue, settings: Settings) -> None:
    done = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    assert worker(queue, store, settings, "w", recording([])).run_one() is not None
    cancelled = queue.cancel(queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests").id)
    waiting = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    keep = timedelta(days=7)
    assert queue.purge(keep) == 0  # finished just now
    assert JobQueue(store.engine, clock=later(8 * 86400)).purge(keep) == 2
    assert queue.find(done.id) is None and queue.find(cancelled.id) is None
    assert queue.get(waiting.id).state is JobState.QUEUED  # unfinished jobs stay


def test_a_job_still_running_at_shutdown_goes_back_to_the_queue(
        store: SqlCampusStore, queue: JobQueue, settings: Settings) -> None:
    from api.jobs import JobWorkers

    job = queue.enqueue(JobKind.BOOK, "c1", {}, requested_by="tests")
    entered, release = threading.Event(), threading.Event()

    def slow(env: JobEnv, j: Any, progress: Progress) -> JobOutput:
        entered.set()
        assert release.wait(60)
        return JobOutput(b"too late", "application/octet-stream", "x.bin")

    workers = JobWorkers(queue, JobEnv(store, settings), 1, lease_s=LEASE_S, poll_s=60.0,
                         grace_s=0.0, runners={k: slow for k in JobKind})
    workers.start()
    threads = list(workers._threads)
    workers.wake()
    try:
        assert entered.wait(60)
        workers.stop()  # no grace: the job is given back at once
        back = queue.get(job.id)
        assert back.state is JobState.QUEUED and back.attempts == 0 and back.lease_owner is None
    finally:
        release.set()
    for t in threads:
        t.join()  # the stopped worker ended its job after giving it back: refused
    assert queue.get(job.id).state is JobState.QUEUED
    calls: list[str] = []
    done = worker(queue, store, settings, "next", recording(calls)).run_one()
    assert done is not None and done.state is JobState.DONE and calls == [job.id]
    assert queue.result(job.id) == b"made"


def test_asking_again_answers_the_same_job_and_unfinished_jobs_are_bounded(
        api: TestClient, stored_campus: Campus) -> None:
    from api.routes_jobs import MAX_UNFINISHED

    base = f"/campuses/{stored_campus.id}/jobs"
    first = api.post(base, json={"kind": "book", "parameters": {"size": "tabloid"}})
    again = api.post(base, json={"kind": "book", "parameters": {"size": "tabloid"}})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    for n in range(MAX_UNFINISHED - 1):
        other = api.post(base, json={"kind": "package",
                                     "parameters": {"min_zoom": 12 + n, "max_zoom": 21}})
        assert other.status_code == 202, other.text
    refused = api.post(base, json={"kind": "package", "parameters": {"max_zoom": 22}})
    assert refused.status_code == 409
    assert f"{MAX_UNFINISHED} jobs queued or running" in refused.json()["error"]["message"]
    assert api.delete(f"/jobs/{first.json()['id']}").status_code == 200  # one fewer waiting
    assert api.post(base, json={"kind": "package",
                                "parameters": {"max_zoom": 22}}).status_code == 202


def test_a_book_job_makes_the_book_the_route_makes(
        api: TestClient, store: SqlCampusStore, stored_campus: Campus, tmp_path: Path) -> None:
    from api.store_publish import publishing

    publishing(store).add_verification(
        stored_campus.id, verified_on=utcnow().date(), verified_by="J. Roe",
        organisation="Okemos PD", checklist=["doors"], recorded_by="tests")
    job = api.post(f"/campuses/{stored_campus.id}/jobs", json={"kind": "book"}).json()
    assert turn(api).state is JobState.DONE
    made = pdf_text(api.get(f"/jobs/{job['id']}/result").content, tmp_path)
    served = pdf_text(api.get(f"/campuses/{stored_campus.id}/book.pdf").content, tmp_path)
    assert "J. Roe" in made
    # the same words (map labels may come out of pdftotext in another order from one drawing
    # to the next)
    assert sorted(made.split()) == sorted(served.split())
