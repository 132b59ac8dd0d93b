"""Durable jobs over the API: queue a map book or an offline package, follow it, fetch it.

``POST /campuses/{id}/jobs`` queues one (202, with the job and its ``Location``; the same
request again while that job is unfinished answers it, 200; at most :data:`MAX_UNFINISHED`
unfinished jobs per principal, then 409);
``GET /jobs/{id}`` says how it is going (state, percent, message, a named error, a link to the
result); ``GET /jobs/{id}/result`` is the PDF or zip (``Cache-Control: private, no-store``, like
all campus data); ``DELETE /jobs/{id}`` cancels a queued job. A job is authorised like its
campus: whoever may read the campus may follow its jobs, and a job of a campus the caller may
not see is unknown (404), like the campus itself. Everything is audited. See :mod:`api.jobs`.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentPrincipal, Principal, current_principal
from api.context import AppContext, Ctx
from api.jobs import (
    BookParameters,
    Job,
    JobKind,
    JobService,
    PackageParameters,
    parse_parameters,
)
from api.routes_campus import CampusId
from gridmap.errors import (
    Forbidden,
    JobConflict,
    JobNotFound,
    LevelNotFound,
    NotFound,
    PackageError,
)

router = APIRouter(dependencies=[Depends(current_principal)])

NO_STORE = "private, no-store"
#: Jobs one principal may have queued or running at once (each is seconds to minutes of CPU).
MAX_UNFINISHED = 8
JobId = Annotated[str, Path(max_length=40, pattern=r"^job_[0-9a-f]{32}$")]


class JobRequest(BaseModel):
    """A job to queue: its kind and the parameters of that kind (see ``GET
    /campuses/{id}/book.pdf`` and ``POST /campuses/{id}/package.zip``; a package job is never
    sealed)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["book", "package"]
    parameters: dict[str, Any] = Field(default_factory=dict)


def service_of(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


def job_view(job: Job) -> dict[str, Any]:
    """A job as the API shows it (never its lease's owner, never a traceback)."""
    parameters = dict(job.parameters)
    if "manifest" in parameters:  # an import's file name, not where it lies on the server
        parameters["manifest"] = PurePath(str(parameters["manifest"])).name
    view: dict[str, Any] = {
        "id": job.id, "kind": job.kind.value, "campus": job.campus_id,
        "parameters": parameters, "state": job.state.value, "percent": job.percent,
        "message": job.message, "attempts": job.attempts, "max_attempts": job.max_attempts,
        "requested_by": job.requested_by, "created_at": job.created_at.isoformat(),
        "started_at": None if job.started_at is None else job.started_at.isoformat(),
        "finished_at": None if job.finished_at is None else job.finished_at.isoformat(),
        "error": None if job.error is None else {"type": job.error_type,
                                                 "message": job.error},
        "result": None,
    }
    if job.has_result_file:
        view["result"] = {"url": f"/jobs/{job.id}/result", "media_type": job.result_type,
                          "filename": job.result_name, "bytes": job.result_bytes}
    elif job.result_revision is not None:
        view["result"] = {"revision": job.result_revision}
    return view


def _requester(principal: Principal) -> str | None:
    return principal.token_id or getattr(principal, "user_id", None)


def _visible_job(request: Request, ctx: AppContext, principal: Principal, job_id: str) -> Job:
    """The job if the principal may read its campus; else unknown (404, audited)."""
    job = service_of(request).queue.find(job_id)
    if job is None:
        ctx.refused(request, principal, 404, "/jobs/{job_id}", f"no job {job_id}")
        raise JobNotFound(f"no job {job_id}", user_message=f"unknown job {job_id!r}")
    try:
        ctx.check_access(request, job.campus_id, principal)
    except NotFound:
        raise JobNotFound(f"job {job_id}: campus {job.campus_id} not visible",
                          user_message=f"unknown job {job_id!r}") from None
    return job


@router.post("/campuses/{campus_id}/jobs", status_code=202,
             summary="Queue a map book or an offline package; follow it at /jobs/{id}")
def create_job(
    campus_id: CampusId,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    body: Annotated[JobRequest, Body()],
) -> JSONResponse:
    kind = JobKind(body.kind)
    params = parse_parameters(kind, body.parameters)
    assert isinstance(params, BookParameters | PackageParameters)
    # the revision is pinned now, as this principal may see it: a rerun makes the same thing
    loaded = ctx.loaded(request, campus_id, principal, params.revision)
    params.revision = loaded.revision
    if isinstance(params, BookParameters):
        if params.level is not None and params.level not in loaded.campus.ordinals:
            raise LevelNotFound(
                f"book job of {campus_id}: no level {params.level}",
                user_message=f"campus {campus_id!r} has no level {params.level}; its levels "
                "are " + ", ".join(str(o) for o in loaded.campus.ordinals))
        detail = f"{params.size}, {'every level' if params.level is None else params.level}"
    else:
        if (params.min_zoom is not None and params.max_zoom is not None
                and params.min_zoom > params.max_zoom):
            raise PackageError(f"zoom range {params.min_zoom}-{params.max_zoom} is reversed",
                               user_message=f"zoom range {params.min_zoom}-{params.max_zoom}: "
                               "the minimum must be at most the maximum")
        detail = f"zoom {params.min_zoom}-{params.max_zoom}, {'with' if params.book else 'no'} book"
    service = service_of(request)
    requester = _requester(principal)
    parameters = params.model_dump()
    waiting = [] if requester is None else service.queue.unfinished_of(requester)
    same = next((j for j in waiting if j.kind is kind and j.campus_id == campus_id
                 and dict(j.parameters) == parameters), None)
    if same is not None:  # asked again (a double click, a retrying client): the same job
        ctx.audit(request, principal, "job", campus_id, f"{same.id} {kind} asked again")
        return JSONResponse(job_view(same), status_code=200,
                            headers={"Location": f"/jobs/{same.id}", "Cache-Control": NO_STORE})
    if len(waiting) >= MAX_UNFINISHED:
        raise JobConflict(
            f"{principal.name} has {len(waiting)} unfinished jobs",
            user_message=f"you have {len(waiting)} jobs queued or running; wait for them to "
            "finish (or cancel queued ones) before asking for more")
    job = service.submit(kind, campus_id, parameters, requested_by=principal.name,
                         requested_by_id=requester)
    ctx.audit(request, principal, "job", campus_id,
              f"{job.id} {kind} queued: revision {loaded.revision}, {detail}")
    return JSONResponse(job_view(job), status_code=202,
                        headers={"Location": f"/jobs/{job.id}", "Cache-Control": NO_STORE})


@router.get("/campuses/{campus_id}/jobs", summary="A campus's jobs, newest first")
def campus_jobs(campus_id: CampusId, request: Request, ctx: Ctx,
                principal: CurrentPrincipal) -> JSONResponse:
    ctx.check_access(request, campus_id, principal)
    jobs = service_of(request).queue.of_campus(campus_id)
    ctx.audit(request, principal, "jobs", campus_id, f"{len(jobs)} jobs")
    return JSONResponse({"campus": campus_id, "jobs": [job_view(j) for j in jobs]},
                        headers={"Cache-Control": NO_STORE})


@router.get("/jobs/{job_id}", summary="A job: state, percent, message, error, result link")
def get_job(job_id: JobId, request: Request, ctx: Ctx,
            principal: CurrentPrincipal) -> JSONResponse:
    job = _visible_job(request, ctx, principal, job_id)
    ctx.audit(request, principal, "job", job.campus_id, f"{job.id} {job.kind} {job.state}")
    return JSONResponse(job_view(job), headers={"Cache-Control": NO_STORE})


@router.get("/jobs/{job_id}/result", summary="What a done job made (the PDF or zip)",
            response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "application/zip": {}}}})
def job_result(job_id: JobId, request: Request, ctx: Ctx,
               principal: CurrentPrincipal) -> Response:
    job = _visible_job(request, ctx, principal, job_id)
    data = service_of(request).queue.result(job.id)
    ctx.audit(request, principal, "job result", job.campus_id,
              f"{job.id} {job.kind}, {len(data)} bytes")
    disposition = "inline" if job.kind is JobKind.BOOK else "attachment"
    return Response(data, media_type=job.result_type or "application/octet-stream",
                    headers={"Cache-Control": NO_STORE,
                             "Content-Disposition":
                                 f'{disposition}; filename="{job.result_name or job.id}"'})


@router.delete("/jobs/{job_id}", summary="Cancel a queued job (who asked for it only)")
def cancel_job(job_id: JobId, request: Request, ctx: Ctx,
               principal: CurrentPrincipal) -> JSONResponse:
    job = _visible_job(request, ctx, principal, job_id)
    if job.requested_by_id is None or job.requested_by_id != _requester(principal):
        raise Forbidden(f"{principal.name} may not cancel {job.id}",
                        user_message="only who asked for a job may cancel it")
    cancelled = service_of(request).queue.cancel(job.id)
    ctx.audit(request, principal, "job cancel", job.campus_id, f"{job.id} {job.kind}")
    return JSONResponse(job_view(cancelled), headers={"Cache-Control": NO_STORE})
