"""The workspace over HTTP: upload, confirm layers, georeference, import, fix, then publish.

Every route is for the editors and admins of the district that owns the workspace's campus
(for a campus not imported yet: of the district the workspace belongs to). Anyone else gets
the answer :mod:`api.authz` gives for the campus: 404 for a campus they may not see (and for
a workspace of another district's new campus), 403 for a right they lack. Every access is
audited; every answer is ``Cache-Control: private, no-store``. Uploaded files are never served
back raw: drawings as a preview GeoJSON, parcel and grounds files as GeoJSON features.

An upload answers as soon as the file is kept and told apart (201); a file holding drawings
answers 202 and an analysis job reads them in the background (layers proposed, preview made,
under the import's limits): ``GET /workspaces/{ws_id}`` shows each file's ``analysis`` (queued,
analysing with its percent, ready, or failed with the problem named; a failed file is removed),
and the workspace is not imported while one is pending (409).

Publishing, comparing and verifying use the existing routes
(``POST /campuses/{id}/revisions/{n}/publish`` with the workspace's ``draft_revision``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api import workspace as logic
from api import workspace_files as files
from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import AppContext, Ctx, _route_of
from api.store_identity import identity
from api.store_workspace import (
    FileKind,
    Workspace,
    WorkspaceNotFound,
    remove_workspace_dir,
    workspace_dir,
    workspaces,
)
from gridmap.errors import Forbidden, GridmapError, NotFound, PayloadTooLarge
from gridmap.model import AmenityKind, LengthUnit
from importers.manifest import DrawingUnit, TransformKind

GEOJSON = "application/geo+json"
NO_STORE = {"Cache-Control": "private, no-store"}
#: a multipart upload's framing beyond the file itself
_MULTIPART_SLACK = 64 * 1024

router = APIRouter(dependencies=[Depends(current_principal)], tags=["workspace"])

WsId = Annotated[str, PathParam(max_length=40, pattern=r"^ws_[0-9a-f]{1,32}$",
                                description="a workspace id (ws_...)")]
ItemId = Annotated[str, PathParam(max_length=40, pattern=r"^w[fd]_[0-9a-f]{1,32}$")]


# --- request bodies -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NewWorkspace(_Strict):
    campus_id: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$",
                           description="the campus it prepares (new, or one your district "
                           "owns)", examples=["lincoln-ridge"])
    campus_name: str | None = Field(None, max_length=200, examples=["Lincoln Ridge K-12"])
    name: str | None = Field(None, max_length=200, description="the workspace's own name")
    org: str | None = Field(None, max_length=200,
                            description="your district (id or name); default: yours")


class ControlPointIn(_Strict):
    name: str = Field("", max_length=100)
    cad: tuple[float, float] = Field(description="x, y in drawing units")
    lonlat: tuple[float, float] = Field(description="longitude, latitude (WGS84)")

    @field_validator("lonlat")
    @classmethod
    def _lonlat(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (-180.0 <= v[0] <= 180.0 and -90.0 <= v[1] <= 90.0):
            raise ValueError(f"{list(v)} is not a longitude, latitude pair")
        return v

    @field_validator("cad")
    @classmethod
    def _cad(cls, v: tuple[float, float]) -> tuple[float, float]:
        if max(abs(v[0]), abs(v[1])) > 1e9:
            raise ValueError(f"{list(v)} lies too far from the drawing's origin")
        return v


LayerName = Annotated[str | None, Field(None, max_length=255)]


class LayersIn(_Strict):
    rooms: LayerName = None
    labels: LayerName = None
    doors: LayerName = None
    outline: LayerName = None
    walls: LayerName = None
    stairs: LayerName = None
    elevators: LayerName = None


class DrawingSettingsIn(_Strict):
    building_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$", examples=["A"])
    building_name: str = Field(min_length=1, max_length=200, examples=["Main Building"])
    level_ordinal: int = Field(ge=-10, le=200, description="0: the ground floor")
    level_name: str = Field(min_length=1, max_length=100, examples=["1st Floor"])
    level_short_name: str = Field(min_length=1, max_length=20, examples=["1"])
    layers: LayersIn = LayersIn()
    unit: DrawingUnit | None = Field(None, description="the drawing's unit when it declares "
                                                       "none")
    transform: TransformKind = TransformKind.SIMILARITY
    control_points: list[ControlPointIn] = Field(default_factory=list, max_length=100)
    use_geodata: bool = Field(False, description="place the drawing by its own GEODATA")


class FitRequest(_Strict):
    control_points: list[ControlPointIn] = Field(min_length=2, max_length=100)
    transform: TransformKind = TransformKind.SIMILARITY
    unit: DrawingUnit | None = None


class GridIn(_Strict):
    cell_size: float = Field(gt=0, le=5000)
    unit: LengthUnit = LengthUnit.FOOT


FileRef = Annotated[str | None, Field(None, max_length=40, pattern=r"^wf_[0-9a-f]{1,32}$")]


class SettingsIn(_Strict):
    campus_name: str = Field("", max_length=200)
    address: str = Field("", max_length=300)
    grid: GridIn = GridIn(cell_size=100, unit=LengthUnit.FOOT)
    parcel_file: FileRef = None
    grounds_file: FileRef = None
    pois_file: FileRef = None


class EditsIn(_Strict):
    edits: list[dict[str, Any]] = Field(min_length=1, max_length=500, description=(
        "each one of: {op: room, unit_id, number?, name?, aliases?} | {op: main_entrance, "
        "opening_id} | {op: door_number, opening_id, number, locked: true} | {op: place, "
        "kind, name, lonlat: [lon, lat], building_id?, level_id?} | {op: remove_point, "
        "amenity_id}; kinds: " + ", ".join(k.value for k in AmenityKind)))


# --- examples for the OpenAPI document ------------------------------------------------------

_WORKSPACE_EXAMPLE: dict[str, Any] = {
    "id": "ws_3f9c0a1b2c3d4e5f60718293", "campus_id": "lincoln-ridge",
    "name": "Lincoln Ridge K-12", "org": "org_1a2b3c", "state": "imported",
    "created_by": "tok_9f8e", "created_at": "2026-11-30T19:30:00+00:00",
    "updated_at": "2026-11-30T19:41:00+00:00",
    "files": [{"id": "wf_0a1b2c3d4e5f60718293a4b5", "name": "level1.dxf", "kind": "dxf",
               "size": 812345, "sha256": "9b1c…", "error": None, "detail": {"drawings": 1},
               "created_at": "2026-11-30T19:31:00+00:00",
               "analysis": {"job": "job_…", "file_id": "wf_0a1b2c3d4e5f60718293a4b5",
                            "name": "level1.dxf", "state": "ready", "percent": 100,
                            "message": "level1.dxf: 1 drawing read", "error": None}}],
    "analyses": [{"job": "job_…", "file_id": "wf_0a1b2c3d4e5f60718293a4b5",
                  "name": "level1.dxf", "state": "ready", "percent": 100,
                  "message": "level1.dxf: 1 drawing read", "error": None},
                 {"job": "job_…", "file_id": "wf_7c8d…", "name": "level2.dxf",
                  "state": "failed", "percent": 40, "message": "failed",
                  "error": "reading level2.dxf took longer than 120 s and was stopped; nothing "
                           "was stored. …"}],
    "drawings": [{"id": "wd_5f60718293a4b50a1b2c3d4e", "file_id": "wf_0a1b2c3d4e5f60718293a4b5",
                  "name": "level1.dxf",
                  "proposal": {"rooms": "RAUM", "labels": "RAUMNUMMER", "doors": "TUEREN",
                               "outline": "UMRISS", "unit": "m",
                               "reasons": {"rooms": "42 closed outlines, 40 hold one short "
                                                    "text"}, "layers": []},
                  "settings": {"building_id": "A", "building_name": "Main Building",
                               "level_ordinal": 0, "level_name": "1st Floor",
                               "level_short_name": "1",
                               "layers": {"rooms": "RAUM", "labels": "RAUMNUMMER"},
                               "unit": None, "transform": "similarity", "control_points": [],
                               "use_geodata": False},
                  "has_geodata": False, "bounds": [0.0, 0.0, 97.5, 39.6]}],
    "settings": {"campus_name": "Lincoln Ridge K-12", "address": "",
                 "grid": {"cell_size": 100, "unit": "ft"}, "parcel_file": None,
                 "grounds_file": None, "pois_file": None},
    "job": {"id": "job_…", "state": "done", "percent": 100, "message": "draft revision 3",
            "error": None},
    "draft_revision": 3, "report": {"revision": 3, "counts": {"rooms": 42}, "findings": []},
    "edits": 0,
}
_REPORT_EXAMPLE: dict[str, Any] = {
    "revision": 3,
    "counts": {"buildings": 1, "levels": 1, "rooms": 42, "label_only_rooms": 1, "doors": 19,
               "exterior_doors": 6, "numbered_doors": 6, "main_entrances": 1, "points": 4,
               "grounds": 2},
    "findings": [{"kind": "room_without_label", "severity": "warning",
                  "message": "level1.dxf: room outline 2F1 holds no label",
                  "source": "level1.dxf", "at": [-84.4301, 42.6999], "on_earth": True,
                  "ref": "2F1", "action": "kept without a number", "building": "A",
                  "level": "1st Floor"}],
    "findings_total": 1, "residuals": {"level1.dxf": 0.12}, "warnings": [],
    "edits_applied": 0, "job": "job_…",
}


_PARCEL_FILE: dict[str, Any] = {
    **_WORKSPACE_EXAMPLE["files"][0], "id": "wf_1c2d3e4f5a6b7c8d9e0f1a2b", "kind": "parcel",
    "name": "parcel.geojson", "size": 633,
    "detail": {"features": 1, "geometry": ["Polygon"], "kinds": []}, "analysis": None}
_ANALYSIS_QUEUED: dict[str, Any] = {
    "job": "job_5e0c…", "file_id": "wf_0a1b2c3d4e5f60718293a4b5", "name": "level1.dxf",
    "state": "queued", "percent": 0, "message": "queued", "error": None,
    "url": "/workspaces/ws_3f9c0a1b2c3d4e5f60718293"}
_UPLOAD_EXAMPLES: dict[int | str, dict[str, Any]] = {
    201: {"description": "kept, nothing to read in the background (a parcel, grounds or "
                         "points file, an OSM or IMDF file, imagery; or this very file "
                         "again: ``duplicate``)",
          "content": {"application/json": {"example": {
              "file": _PARCEL_FILE, "files": [_PARCEL_FILE],
              "drawings": [], "analyses": [], "skipped": [], "duplicate": False}}}},
    202: {"description": "kept; its drawings are being read by the analysis job named in "
                         "``analyses`` (one per file holding drawings; ``drawings`` is empty "
                         "until it is done). Follow ``url`` (the workspace, also in "
                         "``Location``): the file's ``analysis`` goes queued, analysing (with "
                         "``percent``), then ready (its drawings are listed) or failed "
                         "(``error`` names the problem; the file is removed)",
          "content": {"application/json": {"example": {
              "file": {**_WORKSPACE_EXAMPLE["files"][0], "analysis": _ANALYSIS_QUEUED},
              "files": [{**_WORKSPACE_EXAMPLE["files"][0], "analysis": _ANALYSIS_QUEUED}],
              "drawings": [], "analyses": [_ANALYSIS_QUEUED], "skipped": [],
              "duplicate": False}}}},
    400: {"description": "refused at once, nothing kept: a DWG (with how to convert it), an "
                         "empty or unknown file, an unsafe or damaged zip, an OSM or IMDF file "
                         "the import would refuse",
          "content": {"application/json": {"example": {"error": {
              "type": "UnsupportedUpload",
              "message": "plan.dwg is a DWG drawing, not a DXF: gridmap reads DXF only. …"}}}}},
    413: {"description": "over GRIDMAP_WORKSPACE_FILE_MAX_MB"},
}


def _example(example: Any, description: str = "") -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description or "OK",
                  "content": {"application/json": {"example": example}}}}


# --- authorisation --------------------------------------------------------------------------


def _authorize_campus(ctx: AppContext, request: Request, principal: Principal,
                      campus_id: str, org_id: str | None, ws_id: str | None = None) -> None:
    """EDIT on the campus when it is stored; else the workspace's district's editors."""
    if identity(ctx.store).campus_owner(campus_id) is not None:
        ctx.authorize(request, principal, Action.EDIT, campus_id)
        return
    if principal.share_campus is not None or principal.org_id is None or (
            org_id is not None and principal.org_id != org_id):
        what = f"workspace {ws_id}" if ws_id else f"campus {campus_id}"
        ctx.refused(request, principal, 404, _route_of(request),
                    f"{principal.actor} may not see {what}")
        if ws_id is None:
            raise Forbidden(f"{principal.actor}: {campus_id} is not theirs to prepare",
                            user_message="only the district a workspace belongs to prepares it")
        raise WorkspaceNotFound(f"{principal.actor} may not see {ws_id}",
                                user_message=f"unknown workspace {ws_id!r}")
    ctx.authorize(request, principal, Action.EDIT, None)


def _workspace(ctx: AppContext, request: Request, principal: Principal, ws_id: str,
               *, sync: bool = False) -> Workspace:
    """The workspace, if the principal may work on it (else 404/403, audited); with
    ``sync``, caught up with its import job and its files' analysis jobs."""
    ws = workspaces(ctx.store).find(ws_id)
    if ws is None:
        ctx.refused(request, principal, 404, _route_of(request), f"no workspace {ws_id}")
        raise WorkspaceNotFound(f"no workspace {ws_id}",
                                user_message=f"unknown workspace {ws_id!r}")
    _authorize_campus(ctx, request, principal, ws.campus_id, ws.org_id, ws.id)
    if not sync:
        return ws
    return files.sync_analyses(ctx.store, ctx.settings, logic.sync_with_job(ctx.store, ws))


def _view(ctx: AppContext, ws: Workspace) -> dict[str, Any]:
    """The workspace as the API shows it, each file with its ``analysis`` (a DXF or zip of
    DXFs: how the reading of its drawings stands; other files: null) and ``analyses``: each
    file's analysis, including failed ones whose file was removed."""
    view = logic.workspace_view(ctx.store, ws)
    states = files.analysis_states(ctx.store, ws)
    by_file = {a.file_id: a for a in states}
    for shown in view["files"]:
        state = by_file.get(shown["id"])
        if state is not None:
            shown["analysis"] = state.to_dict()
        elif shown["kind"] == FileKind.DXF.value:  # read before analyses were jobs
            shown["analysis"] = {"job": None, "file_id": shown["id"], "name": shown["name"],
                                 "state": "ready", "percent": 100, "message": "",
                                 "error": None}
        else:
            shown["analysis"] = None
    view["analyses"] = [a.to_dict() for a in states]
    return view


def _audit(ctx: AppContext, request: Request, principal: Principal, action: str,
           ws: Workspace, detail: str = "") -> None:
    ctx.audit(request, principal, action, ws.campus_id, f"{ws.id} {detail}".strip())


def _refusing(ctx: AppContext, request: Request, principal: Principal, ws: Workspace,
              action: str) -> Any:
    """A context manager auditing a refused step (bad input) with its reason."""
    class _Refusal:
        def __enter__(self) -> None:
            return None

        def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                     _tb: Any) -> None:
            if isinstance(exc, GridmapError):
                _audit(ctx, request, principal, f"{action}_refused", ws,
                       f"{type(exc).__name__}: {exc.user_message}"[:500])

    return _Refusal()


# --- workspaces -----------------------------------------------------------------------------


@router.post("/workspaces", status_code=201, summary="Start a workspace for a campus",
             responses={201: {"description": "the new workspace",
                              "content": {"application/json": {"example": _WORKSPACE_EXAMPLE}}}})
def create_workspace(body: NewWorkspace, request: Request, ctx: Ctx,
                     principal: CurrentPrincipal) -> JSONResponse:
    """A new workspace preparing ``campus_id``: a campus your district owns (its next
    revision), or a new one (it becomes your district's when first imported)."""
    owner = identity(ctx.store).campus_owner(body.campus_id)
    if owner is not None:
        ctx.authorize(request, principal, Action.EDIT, body.campus_id)
        org_id: str | None = owner
    else:
        ctx.authorize(request, principal, Action.EDIT, None)
        org_id = principal.org_id
    if body.org is not None:
        named = identity(ctx.store).find_org(body.org)
        if named.id != principal.org_id:
            raise Forbidden(f"{principal.actor} asked for a workspace of {named.id}",
                            user_message="a workspace belongs to your own district")
    name = body.name or body.campus_name or body.campus_id
    ws = workspaces(ctx.store).create(
        campus_id=body.campus_id, name=name, org_id=org_id, created_by=principal.actor,
        created_by_id=principal.token_id or principal.user_id,
        settings=logic.initial_settings(ctx.store, body.campus_id, body.campus_name))
    _audit(ctx, request, principal, "workspace_create", ws, f"for campus {ws.campus_id}")
    return JSONResponse(logic.workspace_view(ctx.store, ws), status_code=201, headers=NO_STORE)


@router.get("/workspaces", summary="Your district's workspaces, newest first",
            responses=_example({"workspaces": [{
                "id": "ws_3f9c…", "campus_id": "lincoln-ridge", "name": "Lincoln Ridge K-12",
                "org": "org_1a2b3c", "state": "imported", "created_by": "tok_9f8e",
                "created_at": "2026-11-30T19:30:00+00:00",
                "updated_at": "2026-11-30T19:41:00+00:00", "files": 0, "drawings": 0,
                "draft_revision": 3}]}))
def list_workspaces(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> JSONResponse:
    ctx.authorize(request, principal, Action.EDIT, None)
    listed = [ws for ws in workspaces(ctx.store).list(principal.org_id)
              if identity(ctx.store).campus_owner(ws.campus_id) in (None, principal.org_id)]
    ctx.audit(request, principal, "workspaces", None, f"{len(listed)} workspaces")
    return JSONResponse({"workspaces": [ws.summary() for ws in listed]}, headers=NO_STORE)


@router.get("/workspaces/{ws_id}", summary="A workspace: files, drawings, settings, job, report",
            responses=_example(_WORKSPACE_EXAMPLE))
def get_workspace(ws_id: WsId, request: Request, ctx: Ctx,
                  principal: CurrentPrincipal) -> JSONResponse:
    """Poll this while an import runs: ``job`` carries its percent and message, and once it
    is done ``report`` and ``draft_revision`` are there. Poll it too while uploaded drawings
    are read: each file's ``analysis`` (``state`` queued, analysing with ``percent``, ready,
    failed with ``error``), and ``analyses`` for files removed because they failed."""
    ws = _workspace(ctx, request, principal, ws_id, sync=True)
    _audit(ctx, request, principal, "workspace", ws)
    return JSONResponse(_view(ctx, ws), headers=NO_STORE)


@router.delete("/workspaces/{ws_id}", summary="Delete a workspace and its uploaded files",
               responses=_example({"deleted": "ws_3f9c…"}))
def delete_workspace(ws_id: WsId, request: Request, ctx: Ctx,
                     principal: CurrentPrincipal) -> JSONResponse:
    """The workspace, its files on disk and its edits go; revisions it stored stay."""
    ws = _workspace(ctx, request, principal, ws_id)
    workspaces(ctx.store).delete(ws.id)
    remove_workspace_dir(ctx.settings.data_dir, ws.id)
    _audit(ctx, request, principal, "workspace_delete", ws)
    return JSONResponse({"deleted": ws.id}, headers=NO_STORE)


# --- files ----------------------------------------------------------------------------------


@router.post(
    "/workspaces/{ws_id}/files", status_code=201,
    summary="Upload one file (drawings are then read in the background)",
    openapi_extra={"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string",
                                                                   "format": "binary"}}}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    responses=_UPLOAD_EXAMPLES)
async def upload_file(
    ws_id: WsId, request: Request, ctx: Ctx, principal: CurrentPrincipal,
    name: Annotated[str | None, Query(max_length=200, description="the file's name, for a "
                                      "raw (non-multipart) body")] = None,
) -> JSONResponse:
    """One file per request, as multipart field ``file`` (a browser's XHR with upload
    progress) or as the raw body with ``?name=``. What it is is told by its content: DXF
    (text or binary), a zip (of DXFs, a shapefile set, an IMDF archive, ...), GeoJSON,
    GeoPackage, KML, a CSV of points (kind,name,lon,lat,...), OSM, GeoTIFF. A DWG is refused
    with how to convert it; a file over the limit is 413; nothing is kept of a refused
    file. A file holding drawings (a DXF, a zip of DXFs) answers 202 once kept: an analysis
    job reads its drawings (``analyses`` names it; follow ``GET /workspaces/{ws_id}``); one
    that cannot be read fails with the problem named, and the file is removed."""
    ws = await run_in_threadpool(_workspace, ctx, request, principal, ws_id)
    limit = files.upload_limit_bytes(ctx.settings)
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise PayloadTooLarge("upload without Content-Length",
                              user_message="send the file with a Content-Length (chunked "
                              "uploads are not accepted)")
    if int(declared) > limit + _MULTIPART_SLACK:
        exc = files.too_large(ctx.settings, int(declared), name or "the upload")
        await run_in_threadpool(_audit, ctx, request, principal, "workspace_upload_refused",
                                ws, exc.user_message)
        raise exc
    folder = await run_in_threadpool(workspace_dir, ctx.settings.data_dir, ws.id, create=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".upload-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            shown = await _receive(request, out, name)
        with _refusing(ctx, request, principal, ws, "workspace_upload"):
            result = await run_in_threadpool(
                lambda: files.add_upload(
                    ctx.store, ctx.settings, ws, shown, tmp, jobs=request.app.state.jobs,
                    requested_by=principal.name,
                    requested_by_id=principal.token_id or principal.user_id))
    finally:
        tmp.unlink(missing_ok=True)
    await run_in_threadpool(
        _audit, ctx, request, principal, "workspace_upload", ws,
        f"{shown}: " + ", ".join(f"{f.kind.value} {f.name} ({f.size} bytes, sha256 "
                                 f"{f.sha256[:12]})" for f in result.files)
        + "".join(f"; analysis job {a.job_id} {a.state}" for a in result.analyses))
    body = result.to_dict()
    status_url = f"/workspaces/{ws.id}"
    for analysis in body["analyses"]:
        analysis["url"] = status_url
    for shown_file in body["files"]:
        state = next((a for a in body["analyses"] if a["file_id"] == shown_file["id"]), None)
        shown_file["analysis"] = state
    if body["file"] is not None:
        body["file"] = body["files"][0]
    if result.analysing:
        return JSONResponse(body, status_code=202,
                            headers={**NO_STORE, "Location": status_url})
    return JSONResponse(body, status_code=201, headers=NO_STORE)


async def _receive(request: Request, out: Any, name: str | None) -> str:
    """Write the upload's bytes to ``out``; the file's name."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=5)
        except Exception as exc:  # the multipart parser's own errors: a malformed body
            raise files.UnsupportedUpload(f"malformed multipart body: {exc}",
                                          user_message="the upload is not a well-formed "
                                          "multipart form") from None
        try:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise files.UnsupportedUpload(
                    "no file field", user_message="send the file as the multipart field 'file'")
            while chunk := await part.read(1 << 20):
                out.write(chunk)
            return part.filename or name or "upload"
        finally:
            await form.close()
    if not name:
        raise files.UnsupportedUpload(
            "raw upload without a name",
            user_message="send the file as multipart field 'file', or as the body with "
            "?name=FILE")
    async for chunk in request.stream():
        out.write(chunk)
    return name


@router.delete("/workspaces/{ws_id}/files/{file_id}",
               summary="Remove a file (and the drawings found in it)",
               responses=_example({"deleted": "wf_0a1b…", "drawings": ["wd_5f60…"]}))
def delete_file(ws_id: WsId, file_id: ItemId, request: Request, ctx: Ctx,
                principal: CurrentPrincipal) -> JSONResponse:
    ws = _workspace(ctx, request, principal, ws_id)
    ws.file(file_id)  # 404 naming it when the workspace has no such file
    gone, dropped = files.forget_file(ctx.store, ctx.settings, ws.id, file_id)
    _audit(ctx, request, principal, "workspace_file_delete", ws, f"{gone.id} {gone.name}")
    return JSONResponse({"deleted": gone.id, "drawings": dropped}, headers=NO_STORE)


@router.get("/workspaces/{ws_id}/files/{file_id}/features.geojson",
            summary="A parcel, grounds or points file's features in lon/lat",
            responses={200: {"content": {GEOJSON: {"example": {
                "type": "FeatureCollection", "features": [], "truncated": False}}}}})
def file_features(ws_id: WsId, file_id: ItemId, request: Request, ctx: Ctx,
                  principal: CurrentPrincipal) -> JSONResponse:
    """For drawing the parcel on the georeferencing map (at most 5,000 features)."""
    ws = _workspace(ctx, request, principal, ws_id)
    record = ws.file(file_id)
    if record.kind not in (FileKind.PARCEL, FileKind.GROUNDS, FileKind.POIS):
        raise NotFound(f"{file_id} is {record.kind.value}",
                       user_message=f"{record.name!r} is a {record.kind.value} file: only "
                       "parcel, grounds and points files have features here")
    path = files.file_path(ctx.settings, ws, record)
    data = files.gis_features(path, record.name)
    _audit(ctx, request, principal, "workspace_features", ws, f"{record.id}")
    return JSONResponse(data, media_type=GEOJSON, headers=NO_STORE)


# --- drawings -------------------------------------------------------------------------------


@router.get("/workspaces/{ws_id}/drawings/{drawing_id}/preview.geojson",
            summary="A drawing's entities in drawing units, for the preview",
            responses={200: {"content": {GEOJSON: {"example": {
                "type": "FeatureCollection", "truncated": False, "units": "ft",
                "features": [{"type": "Feature", "geometry": {
                    "type": "Polygon", "coordinates": [[[0, 0], [30, 0], [30, 20], [0, 0]]]},
                    "properties": {"layer": "RAUM", "kind": "room", "text": "",
                                   "entity": "LWPOLYLINE", "handle": "2F1"}}]}}}}})
def drawing_preview(
    ws_id: WsId, drawing_id: ItemId, request: Request, ctx: Ctx, principal: CurrentPrincipal,
    layer: Annotated[str | None, Query(max_length=255, description="only this layer")] = None,
) -> JSONResponse:
    """Model space entities as x, y in the drawing's units (at most 20,000 features;
    ``truncated`` says so); ``kind`` follows the drawing's layer settings."""
    ws = _workspace(ctx, request, principal, ws_id)
    drawing = ws.drawing(drawing_id)
    data = files.preview(ctx.settings, ws, drawing, layer)
    _audit(ctx, request, principal, "workspace_preview", ws,
           f"{drawing.id} {len(data['features'])} features")
    return JSONResponse(data, media_type=GEOJSON, headers=NO_STORE)


@router.put("/workspaces/{ws_id}/drawings/{drawing_id}",
            summary="Set a drawing's building, level, layers, units and control points",
            responses=_example(_WORKSPACE_EXAMPLE["drawings"][0]))
def put_drawing(ws_id: WsId, drawing_id: ItemId, body: DrawingSettingsIn, request: Request,
                ctx: Ctx, principal: CurrentPrincipal) -> JSONResponse:
    """Fields left out keep their values (``layers``, when given, is the whole set of roles).
    A layer the drawing does not have is refused, naming the layers it has; two drawings on
    one building level are refused."""
    ws = _workspace(ctx, request, principal, ws_id)
    drawing = ws.drawing(drawing_id)
    settings = {**dict(drawing.settings), **body.model_dump(mode="json", exclude_unset=True)}
    settings["layers"] = {k: v for k, v in dict(settings.get("layers") or {}).items() if v}
    with _refusing(ctx, request, principal, ws, "workspace_drawing"):
        logic.check_drawing_settings(ws, drawing, settings)
    saved = workspaces(ctx.store).set_drawing_settings(ws.id, drawing.id, settings)
    _audit(ctx, request, principal, "workspace_drawing", ws,
           f"{drawing.id}: building {body.building_id} level {body.level_ordinal}, "
           f"{len(body.control_points)} control points")
    return JSONResponse(saved.to_dict(), headers=NO_STORE)


@router.post("/workspaces/{ws_id}/fit",
             summary="Diagnose a georeference fit (per-point residuals, advice); stores nothing",
             responses=_example({
                 "transform": "similarity", "rms_m": 0.05, "scale": 0.3048,
                 "declared_unit_m": 0.3048, "scale_ratio": 1.0, "stretch": None,
                 "shear_deg": None, "rotation_deg": 0.0, "outlier": None,
                 "swapped_lonlat": False, "advice": [], "ok": True,
                 "points": [{"name": "SW corner", "cad": [0, 0],
                             "lonlat": [-84.4307, 42.6999], "residual_m": 0.04,
                             "leave_one_out_m": 0.09}]}))
def fit(ws_id: WsId, body: FitRequest, request: Request, ctx: Ctx,
        principal: CurrentPrincipal) -> JSONResponse:
    ws = _workspace(ctx, request, principal, ws_id)
    with _refusing(ctx, request, principal, ws, "workspace_fit"):
        diagnosis = logic.diagnose([p.model_dump() for p in body.control_points],
                                   body.transform.value,
                                   None if body.unit is None else body.unit.value)
    _audit(ctx, request, principal, "workspace_fit", ws,
           f"{len(body.control_points)} points, rms {diagnosis.get('rms_m')}")
    return JSONResponse(diagnosis, headers=NO_STORE)


@router.put("/workspaces/{ws_id}/settings",
            summary="Campus name, address, grid and which files are parcel, grounds, points",
            responses=_example(_WORKSPACE_EXAMPLE["settings"]))
def put_settings(ws_id: WsId, body: SettingsIn, request: Request, ctx: Ctx,
                 principal: CurrentPrincipal) -> JSONResponse:
    """Fields left out keep their values; a file id must name a file of the right kind."""
    ws = _workspace(ctx, request, principal, ws_id)
    with _refusing(ctx, request, principal, ws, "workspace_settings"):
        settings = logic.check_settings(ws, {**dict(ws.settings),
                                             **body.model_dump(mode="json", exclude_unset=True)})
    saved = workspaces(ctx.store).update(ws.id, settings=settings)
    _audit(ctx, request, principal, "workspace_settings", ws)
    return JSONResponse(dict(saved.settings), headers=NO_STORE)


# --- import, report, edits ------------------------------------------------------------------


@router.post("/workspaces/{ws_id}/import", status_code=202,
             summary="Import the workspace as a new draft revision (a job)",
             responses={202: {"description": "the queued job; poll GET /workspaces/{ws_id}",
                              "content": {"application/json": {"example": {"job": {
                                  "id": "job_…", "state": "queued", "percent": 0,
                                  "message": "queued"}}}}}})
def start_import(ws_id: WsId, request: Request, ctx: Ctx,
                 principal: CurrentPrincipal) -> JSONResponse:
    """Writes the campus manifest from the workspace and queues its import. Poll
    ``GET /workspaces/{ws_id}`` (``job.percent``); when done, ``draft_revision`` is a draft
    to review and publish. A manifest the import would refuse is refused here (400, naming
    the problem); so is a workspace whose uploaded drawings are still being read (409,
    naming the files)."""
    ws = _workspace(ctx, request, principal, ws_id, sync=True)
    with _refusing(ctx, request, principal, ws, "workspace_import"):
        files.check_analysed(ctx.store, ws)
        job = logic.queue_import(ctx.store, ctx.settings, request.app.state.jobs, ws,
                                 requested_by=principal.name,
                                 requested_by_id=principal.token_id or principal.user_id)
    _audit(ctx, request, principal, "workspace_import", ws, f"job {job.id} queued")
    return JSONResponse({"job": {"id": job.id, "state": job.state.value,
                                 "percent": job.percent, "message": job.message}},
                        status_code=202, headers=NO_STORE)


@router.get("/workspaces/{ws_id}/report", summary="The last import's report",
            responses=_example(_REPORT_EXAMPLE))
def report(ws_id: WsId, request: Request, ctx: Ctx, principal: CurrentPrincipal
           ) -> JSONResponse:
    """Counts per kind and each problem found (``findings``, with a place on the map when
    there is one); 404 before the first import."""
    ws = _workspace(ctx, request, principal, ws_id, sync=True)
    if ws.report is None:
        raise NotFound(f"{ws.id} has no report",
                       user_message="this workspace has not been imported yet")
    _audit(ctx, request, principal, "workspace_report", ws)
    return JSONResponse(dict(ws.report), headers=NO_STORE)


@router.post("/workspaces/{ws_id}/edits",
             summary="Fix rooms, doors and points: stored as a NEW draft revision",
             responses=_example({"revision": 4, "previous": 3, "kept": 1, "placed": [],
                                 "edits": [{"op": "room", "unit_id": "95020368-…",
                                            "number": "215"}]}))
def post_edits(ws_id: WsId, body: EditsIn, request: Request, ctx: Ctx,
               principal: CurrentPrincipal) -> JSONResponse:
    """Each edit is checked against the draft (an unknown room, door or point is refused,
    422, nothing stored). The edits are kept with the workspace and applied again after
    every re-import. Publish the new draft with ``POST /campuses/{id}/revisions/{n}/publish``."""
    ws = _workspace(ctx, request, principal, ws_id, sync=True)
    with _refusing(ctx, request, principal, ws, "workspace_edits"):
        answer = logic.save_edits(ctx.store, ws, body.edits, actor=principal.actor)
    _audit(ctx, request, principal, "workspace_edits", ws,
           f"{len(body.edits)} edits: draft revision {answer['revision']}")
    return JSONResponse(answer, headers=NO_STORE)


@router.get("/workspaces/{ws_id}/edits", summary="The fixes kept with the workspace",
            responses=_example({"draft_revision": 4, "edits": [
                {"op": "door_number", "opening_id": "48b7…", "number": "7", "locked": True}]}))
def get_edits(ws_id: WsId, request: Request, ctx: Ctx, principal: CurrentPrincipal
              ) -> JSONResponse:
    ws = _workspace(ctx, request, principal, ws_id)
    _audit(ctx, request, principal, "workspace_edits_read", ws)
    return JSONResponse({"draft_revision": ws.draft_revision, "edits": list(ws.edits)},
                        headers=NO_STORE)
