"""What each kind of job runs (a map book, an offline package, an import) and the progress
it reports; :data:`RUNNERS` maps a kind to its runner."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from api.job_parameters import (
    AnalysisParameters,
    BookParameters,
    ImportParameters,
    PackageParameters,
)
from api.job_queue import Job, JobKind, JobOutput
from api.settings import Settings
from api.store import CampusStore
from gridmap.errors import ImportFailed

PDF = "application/pdf"
ZIP = "application/zip"


class Progress(Protocol):
    def __call__(self, percent: int, message: str) -> None: ...




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
        make_package,
        package_book,
        tiles_archive,
        zoom_range,
    )

    p = PackageParameters.model_validate(dict(job.parameters))
    min_zoom, max_zoom = zoom_range(p.min_zoom, p.max_zoom)
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


def run_analysis(env: JobEnv, job: Job, progress: Progress) -> JobOutput:
    """Read the drawings of a file uploaded to a workspace (in the sandbox, under the import's
    limits) and add them to the workspace with their layer proposals and previews; a file
    that cannot be read is removed from the workspace with its bytes, and the job fails
    naming the problem (:func:`api.workspace_files.analyse_upload`)."""
    from api.workspace_files import analyse_upload

    p = AnalysisParameters.model_validate(dict(job.parameters))
    summary = analyse_upload(env.store, env.settings, p.workspace, p.file, p.members,
                             progress, last_attempt=job.attempts >= job.max_attempts)
    return JobOutput(summary=summary)


RUNNERS: dict[JobKind, Runner] = {
    JobKind.BOOK: run_book, JobKind.PACKAGE: run_package, JobKind.IMPORT: run_import,
    JobKind.ANALYSIS: run_analysis,
}


# --- workers --------------------------------------------------------------------------------
