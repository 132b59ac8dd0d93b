"""Campus data: list, detail, revisions, lookup, grid cells, locate, GeoJSON. All audited."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.audit import lookup_detail
from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import CAMPUS_ID_PATTERN, MAX_CAMPUS_ID, MAX_REVISION, AppContext, Ctx
from api.geo import level_feature_collection
from api.quick_route import bounded_int, quick_route
from api.store import utcnow
from api.store_publish import publishing
from gridmap import lookup as lookups
from gridmap.errors import GridmapError

GEOJSON = "application/geo+json"
DEFAULT_LIMIT = 10  # candidates in a lookup answer
MAX_LIMIT = 50
_CAMPUS_ID = re.compile(CAMPUS_ID_PATTERN)

router = APIRouter(dependencies=[Depends(current_principal)])

#: Path and query values are bounded before any of them reaches the store: an over-long or
#: malformed id, or a number beyond what the database holds, is a 4xx, never a 500.
CampusId = Annotated[str, PathParam(max_length=MAX_CAMPUS_ID, pattern=CAMPUS_ID_PATTERN)]
Revision = Annotated[int | None, Query(ge=1, le=MAX_REVISION, description="default: current")]
Ordinal = Annotated[int, PathParam(ge=-1000, le=1000, description="level ordinal, 0 = ground")]


@router.get("/campuses", summary="Campuses this caller may see")
def list_campuses(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> dict[str, Any]:
    """The campuses the caller's organisation owns or an active partnership grants it."""
    visible = ctx.visible_campuses(principal)
    shown = [c for c in ctx.store.list_campuses() if c.id in visible]
    # the walk-through: "verified on … by …", and overdue (yearly in several states)
    statuses = publishing(ctx.store).statuses([c.id for c in shown])
    today = utcnow().date()
    campuses = [
        {"id": c.id, "name": c.name, "revision": c.current_revision,
         "updated_at": c.updated_at.isoformat(),
         "bounds": [c.bbox.min_lon, c.bbox.min_lat, c.bbox.max_lon, c.bbox.max_lat],
         "verification": statuses[c.id].to_dict(today),
         "links": {"self": f"/campuses/{c.id}", "map": f"/campuses/{c.id}/map"}}
        for c in shown
    ]
    ctx.audit(request, principal, "list_campuses", None, f"{len(campuses)} campuses")
    return {"campuses": campuses}


@router.get("/campuses/{campus_id}", summary="Buildings, levels, grid and counts of a campus")
def get_campus(
    campus_id: CampusId,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    revision: Revision = None,
) -> dict[str, Any]:
    loaded = ctx.loaded(request, campus_id, principal, revision)
    ctx.audit(request, principal, "campus", campus_id, f"revision {loaded.revision}")
    status = publishing(ctx.store).status(campus_id).to_dict(utcnow().date())
    return {**loaded.detail(), "verification": status}


@router.get("/campuses/{campus_id}/revisions", summary="Every stored revision of a campus")
def list_revisions(
    campus_id: CampusId, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> dict[str, Any]:
    current = ctx.check_access(request, campus_id, principal)  # 404 if hidden or unknown
    drafts = ctx.may(principal, Action.EDIT, campus_id)
    revisions = [
        {"number": r.number, "created_at": r.created_at.isoformat(), "source": r.source,
         "feature_count": r.feature_count, "published": r.published,
         "current": r.number == current}
        for r in ctx.store.revisions(campus_id)
        if r.published or drafts  # drafts are for those who may edit the campus
    ]
    ctx.audit(request, principal, "revisions", campus_id)
    return {"campus": campus_id, "current": current, "revisions": revisions}


async def _quick_lookup(request: Request) -> Response | None:
    """The lookup's answer on the event loop, before FastAPI's parameter and dependency work,
    when the question is well formed, the credential and the campus are in memory and the
    answer is kept or quick (see :meth:`~api.context.LoadedCampus.answers_quickly`); audited
    as the full handler audits. None for anything else, which :func:`lookup` answers."""
    campus_id = str(request.path_params.get("campus_id", ""))
    if (request.method != "GET" or not 0 < len(campus_id) <= MAX_CAMPUS_ID
            or not _CAMPUS_ID.match(campus_id)):
        return None
    query = request.query_params
    questions, limits = query.getlist("q"), query.getlist("limit")
    if len(questions) != 1 or len(limits) > 1:
        return None
    q = questions[0]
    limit = bounded_int(limits[0], 1, MAX_LIMIT) if limits else DEFAULT_LIMIT
    if limit is None or not 0 < len(q) <= lookups.MAX_QUERY_LENGTH:
        return None
    try:
        principal = await current_principal(request)
    except GridmapError:
        return None  # the handler refuses it, and audits that
    ctx: AppContext = request.app.state.ctx
    return _lookup_in_memory(request, ctx, principal, campus_id, q, limit)


def _lookup_in_memory(request: Request, ctx: AppContext, principal: Principal, campus_id: str,
                      q: str, limit: int) -> Response | None:
    """The answer when it needs no I/O and no thread: the campus loaded and visible, the
    answer kept or quick, the audit queue open; else None."""
    loaded = ctx.loaded_if_cached(campus_id, principal)
    if loaded is None or ctx.audit_would_wait():
        return None
    answer = loaded.cached_answer(q, limit)
    if answer is None:
        if not loaded.answers_quickly():
            return None
        answer = loaded.lookup_answer(q, limit, ctx.settings.lookup_cache_size)
    status, body = answer
    ctx.audit(request, principal, "lookup", campus_id, lookup_detail(q, status))
    return Response(body, media_type="application/json")


async def lookup(
    campus_id: CampusId,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=lookups.MAX_QUERY_LENGTH,
                            description="what the caller said")],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """A question asked before of this revision is answered on the event loop (no I/O, no
    search), and so is a new one while this revision's lookups are quick (see
    :meth:`~api.context.LoadedCampus.answers_quickly`), most often before FastAPI's own
    parameter handling (:func:`_quick_lookup`); anything else (a first load, an index to
    build, a slow campus, a refusal, an audit queue that could block) runs in a worker
    thread. Every request is audited either way."""
    answer = _lookup_in_memory(request, ctx, principal, campus_id, q, limit)
    if answer is not None:
        return answer
    return await run_in_threadpool(_lookup, campus_id, request, ctx, principal, q, limit)


router.add_api_route("/campuses/{campus_id}/lookup", lookup, methods=["GET"],
                     route_class_override=quick_route(_quick_lookup),
                     summary="Room, door, cell, point kind, USNG, lat/lon")


def _lookup(campus_id: str, request: Request, ctx: AppContext, principal: Principal, q: str,
            limit: int) -> Response:
    loaded = ctx.loaded(request, campus_id, principal)
    status, body = loaded.lookup_answer(q, limit, ctx.settings.lookup_cache_size)
    ctx.audit(request, principal, "lookup", campus_id, lookup_detail(q, status))
    return Response(body, media_type="application/json")  # every request audited, cached or not


@router.get("/campuses/{campus_id}/cells/{label}", summary="What is in a grid cell, per level")
def cell(
    campus_id: CampusId, label: Annotated[str, PathParam(max_length=20)], request: Request,
    ctx: Ctx, principal: CurrentPrincipal,
) -> dict[str, Any]:
    loaded = ctx.loaded(request, campus_id, principal)
    ctx.audit(request, principal, "cell", campus_id, label[:20])
    contents: dict[str, Any] = loaded.index().cell_contents(label)
    return contents


@router.get("/locate", summary="Which campus, building and cell a lon/lat falls in")
def locate(
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    lon: Annotated[float, Query(ge=-180.0, le=180.0, allow_inf_nan=False)],
    lat: Annotated[float, Query(ge=-90.0, le=90.0, allow_inf_nan=False)],
) -> dict[str, Any]:
    matches = []
    for campus_id in ctx.store.campuses_at(lon, lat):
        if not ctx.sees(principal, campus_id):
            continue
        found = ctx.loaded(request, campus_id, principal).index().locate(lon, lat)
        if found is not None:
            matches.append(found)
            ctx.audit(request, principal, "locate", campus_id, f"{lat:.6f},{lon:.6f}")
    if not matches:
        ctx.audit(request, principal, "locate", None, f"{lat:.6f},{lon:.6f} -> none")
    return {"lon": lon, "lat": lat, "matches": matches}


@router.get("/campuses/{campus_id}/levels/{ordinal}.geojson",
            summary="Units, doors, amenities and footprints on one level")
def level_geojson(
    campus_id: CampusId,
    ordinal: Ordinal,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    cells: Annotated[bool, Query(description="also include the grid cells")] = False,
    revision: Revision = None,
) -> JSONResponse:
    loaded = ctx.loaded(request, campus_id, principal, revision)
    body = level_feature_collection(loaded.campus, ordinal, with_cells=cells)
    ctx.audit(request, principal, "level_geojson", campus_id, f"level {ordinal}")
    return JSONResponse(body, media_type=GEOJSON)


@router.get("/campuses/{campus_id}/grid.geojson", summary="Grid cells as labelled polygons")
def grid_geojson(
    campus_id: CampusId, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> JSONResponse:
    loaded = ctx.loaded(request, campus_id, principal)
    ctx.audit(request, principal, "grid_geojson", campus_id)
    return JSONResponse(loaded.grid_geojson(), media_type=GEOJSON)
