"""Drafts, publishing, rollback and walk-through verification, over HTTP. All audited.

An editor reviews a draft against the current revision (``GET .../revisions/{n}/diff``, a list;
``.../diff.geojson``, the same on the map), then publishes it naming the revision it reviewed
against (``POST .../revisions/{n}/publish`` with ``{"expect_current": m}``): if another editor
published meanwhile the answer is 409 naming both revisions and nothing changes
(:mod:`api.store_publish`). A rollback re-publishes an earlier published revision under the same
rule. Walk-through records are added per campus or building; ``GET /verification/overdue``
lists the campuses an admin's organisation owns or is granted whose walk-through is overdue.
Publishing, rollback and verification refusals (unknown revision, already current, conflict,
unservable, bad input) are audited too, with the reason.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import (
    CAMPUS_ID_PATTERN,
    MAX_CAMPUS_ID,
    MAX_REVISION,
    AppContext,
    Ctx,
    check_campus_id,
)
from api.store import utcnow
from api.store_publish import (
    MAX_CHECKLIST_ITEMS,
    MAX_NOTES,
    PublishResult,
    Verification,
    publishing,
)
from gridmap.errors import GridmapError, NotFound
from gridmap.revision_diff import MATCH_RADIUS_M, MOVED_THRESHOLD_M, RevisionDiff, diff_campuses

GEOJSON = "application/geo+json"

router = APIRouter(dependencies=[Depends(current_principal)])

CampusId = Annotated[str, PathParam(max_length=MAX_CAMPUS_ID, pattern=CAMPUS_ID_PATTERN)]
RevisionNumber = Annotated[int, PathParam(ge=1, le=MAX_REVISION)]
Against = Annotated[int | None, Query(ge=1, le=MAX_REVISION,
                                      description="the revision to compare with (default: the "
                                                  "current one)")]
MovedM = Annotated[float, Query(ge=0.0, le=1000.0, allow_inf_nan=False,
                                description="a part that moved less than this many metres "
                                            "has not moved")]


class PublishRequest(BaseModel):
    """``expect_current``: the revision the editor reviewed against, which must still be
    current (null: the campus has no published revision yet)."""

    model_config = ConfigDict(extra="forbid")
    expect_current: int | None = Field(ge=1, le=MAX_REVISION)


class VerificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verified_on: date
    verified_by: str = Field(min_length=1, max_length=200)
    organisation: str = Field(min_length=1, max_length=300)
    checklist: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=MAX_CHECKLIST_ITEMS)
    notes: str = Field(default="", max_length=MAX_NOTES)
    building: str | None = Field(default=None, max_length=200,
                                 description="a building's id or short name; none: the campus")
    due_on: date | None = Field(default=None, description="default: a year after verified_on")


# --- review ---------------------------------------------------------------------------------


def _diff(ctx: AppContext, request: Request, principal: Principal, campus_id: str,
          number: int, against: int | None, moved_m: float) -> tuple[RevisionDiff, int]:
    """The diff of revision ``number`` against ``against`` (default: the current revision)."""
    check_campus_id(campus_id)
    ctx.authorize(request, principal, Action.EDIT, campus_id)
    state = publishing(ctx.store).state(campus_id)
    base = against if against is not None else state.current
    for wanted in (number, base):
        if wanted is not None and state.revision(wanted) is None:
            raise NotFound(f"campus {campus_id} has no revision {wanted}",
                           user_message=f"campus {campus_id!r} has no revision {wanted}")
    new = ctx.store.campus(campus_id, number)
    if base is None:  # nothing published yet: everything is new
        from dataclasses import replace

        old = replace(new, buildings=(), levels=(), units=(), openings=(), amenities=(),
                      grounds=())
        return diff_campuses(old, new, moved_threshold_m=moved_m), 0
    return diff_campuses(ctx.store.campus(campus_id, base), new, moved_threshold_m=moved_m), base


@router.get("/campuses/{campus_id}/revisions/{number}/diff",
            summary="What changed in a revision against another (default: the current one)")
def revision_diff(
    campus_id: CampusId, number: RevisionNumber, request: Request, ctx: Ctx,
    principal: CurrentPrincipal, against: Against = None, moved_m: MovedM = MOVED_THRESHOLD_M,
) -> dict[str, Any]:
    diff, base = _diff(ctx, request, principal, campus_id, number, against, moved_m)
    ctx.audit(request, principal, "revision_diff", campus_id,
              f"revision {number} against {base or 'nothing'}: {len(diff.changes)} changes")
    return {"campus": campus_id, "revision": number, "against": base or None,
            "match_radius_m": MATCH_RADIUS_M, **diff.to_dict(),
            "links": {"geojson": f"/campuses/{campus_id}/revisions/{number}/diff.geojson"
                                 + (f"?against={base}" if base else ""),
                      "review": f"/campuses/{campus_id}/revisions/{number}/review"
                                + (f"?against={base}" if base else "")}}


@router.get("/campuses/{campus_id}/revisions/{number}/diff.geojson",
            summary="The changes of a revision as GeoJSON, for the map")
def revision_diff_geojson(
    campus_id: CampusId, number: RevisionNumber, request: Request, ctx: Ctx,
    principal: CurrentPrincipal, against: Against = None, moved_m: MovedM = MOVED_THRESHOLD_M,
) -> JSONResponse:
    diff, base = _diff(ctx, request, principal, campus_id, number, against, moved_m)
    ctx.audit(request, principal, "revision_diff", campus_id,
              f"revision {number} against {base or 'nothing'}: GeoJSON, "
              f"{len(diff.changes)} changes")
    return JSONResponse(diff.to_geojson(), media_type=GEOJSON)


@router.get("/campuses/{campus_id}/revisions/{number}/review", response_class=HTMLResponse,
            summary="A page reviewing a revision's changes: the list, and the map")
def revision_review(
    campus_id: CampusId, number: RevisionNumber, request: Request, ctx: Ctx,
    principal: CurrentPrincipal, against: Against = None, moved_m: MovedM = MOVED_THRESHOLD_M,
) -> HTMLResponse:
    from tiles import webmap

    diff, base = _diff(ctx, request, principal, campus_id, number, against, moved_m)
    query = urlencode({k: v for k, v in (("against", base or None), ("moved_m", moved_m))
                       if v is not None})
    page = webmap.review_page(
        ctx.store.campus(campus_id, number), diff.to_dict(), revision=number,
        against=base or None,
        geojson_url=f"/campuses/{quote(campus_id, safe='')}/revisions/{number}/diff.geojson"
                    f"?{query}")
    ctx.audit(request, principal, "revision_diff", campus_id,
              f"revision {number} against {base or 'nothing'}: review page, "
              f"{len(diff.changes)} changes")
    csp = webmap.map_csp() + "; frame-ancestors 'none'"
    return HTMLResponse(page, headers={"Cache-Control": "private, no-store",
                                       "Content-Security-Policy": csp})


# --- publish and roll back ------------------------------------------------------------------


def _publish(ctx: AppContext, request: Request, principal: Principal, campus_id: str,
             number: int, expect_current: int | None, *, rollback: bool) -> dict[str, Any]:
    from api.publish import check_servable

    check_campus_id(campus_id)
    ctx.authorize(request, principal, Action.PUBLISH, campus_id)
    action = "rollback" if rollback else "publish"
    asked = f"revision {number}, expecting {expect_current or 'none'} current"
    try:
        result: PublishResult = publishing(ctx.store).publish(
            campus_id, number, expect_current=expect_current, check=check_servable,
            rollback=rollback)
    except GridmapError as exc:
        ctx.audit(request, principal, f"{action}_refused", campus_id,
                  f"{asked}: {type(exc).__name__}: {exc}")
        raise
    ctx.audit(request, principal, action, campus_id,
              f"revision {result.number} (was {result.previous or 'none'})")
    if not rollback:  # a published workspace draft brings its uploaded photo (campus-wide)
        from api.workspace_imagery import attach_on_publish

        attach_on_publish(ctx.store, ctx.settings, campus_id, result.number,
                          actor=f"token:{principal.name}",
                          audit=lambda a, d: ctx.audit(request, principal, a, campus_id, d))
    return {"campus": campus_id, "current": result.number, "previous": result.previous,
            "rollback": rollback, "message": result.line()}


@router.post("/campuses/{campus_id}/revisions/{number}/publish",
             summary="Publish a revision, if the revision you reviewed against is still current")
def publish_revision(
    campus_id: CampusId, number: RevisionNumber, body: PublishRequest, request: Request,
    ctx: Ctx, principal: CurrentPrincipal,
) -> dict[str, Any]:
    return _publish(ctx, request, principal, campus_id, number, body.expect_current,
                    rollback=False)


@router.post("/campuses/{campus_id}/revisions/{number}/rollback",
             summary="Re-publish an earlier published revision")
def rollback_revision(
    campus_id: CampusId, number: RevisionNumber, body: PublishRequest, request: Request,
    ctx: Ctx, principal: CurrentPrincipal,
) -> dict[str, Any]:
    return _publish(ctx, request, principal, campus_id, number, body.expect_current,
                    rollback=True)


# --- walk-through verification --------------------------------------------------------------


@router.post("/campuses/{campus_id}/verifications", status_code=201,
             summary="Record a walk-through of a campus or one of its buildings")
def add_verification(
    campus_id: CampusId, body: VerificationRequest, request: Request, ctx: Ctx,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    check_campus_id(campus_id)
    ctx.authorize(request, principal, Action.EDIT, campus_id)
    try:
        record = publishing(ctx.store).add_verification(
            campus_id, verified_on=body.verified_on, verified_by=body.verified_by,
            organisation=body.organisation, checklist=body.checklist, notes=body.notes,
            building=body.building, due_on=body.due_on, recorded_by=principal.actor,
            org_id=principal.org_id)
    except GridmapError as exc:
        ctx.audit(request, principal, "verification_refused", campus_id,
                  f"{type(exc).__name__}: {exc}")
        raise
    ctx.audit(request, principal, "verification", campus_id, _record_detail(record))
    return record.to_dict(utcnow().date())


@router.get("/campuses/{campus_id}/verifications",
            summary="A campus's walk-throughs, latest first, and whether one is overdue")
def list_verifications(
    campus_id: CampusId, request: Request, ctx: Ctx, principal: CurrentPrincipal,
) -> dict[str, Any]:
    ctx.check_access(request, campus_id, principal)  # READ; 404 if hidden or unknown
    pub = publishing(ctx.store)
    today = utcnow().date()
    ctx.audit(request, principal, "verifications", campus_id)
    return {"campus": campus_id, "status": pub.status(campus_id).to_dict(today),
            "verifications": [v.to_dict(today) for v in pub.verifications(campus_id)]}


@router.get("/verification/overdue",
            summary="Campuses your organisation owns or is granted whose walk-through is "
                    "overdue (admins)")
def overdue(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> dict[str, Any]:
    ctx.authorize(request, principal, Action.ADMIN_ORG, org_id=principal.org_id)
    visible = ctx.visible_campuses(principal)
    summaries = {c.id: c for c in ctx.store.list_campuses() if c.id in visible}
    today = utcnow().date()
    statuses = publishing(ctx.store).statuses(sorted(summaries))
    rows = [{"id": cid, "name": summaries[cid].name, **status.to_dict(today)}
            for cid, status in statuses.items() if status.overdue(today)]
    ctx.audit(request, principal, "verification_overdue", None,
              f"{len(rows)} of {len(summaries)} campuses overdue")
    return {"today": today.isoformat(), "campuses": rows}


def _record_detail(record: Verification) -> str:
    where = f"building {record.building_id}" if record.building_id else "campus"
    return (f"{record.id}: {where} {record.line()}, {len(record.checklist)} items checked, "
            f"due {record.due_on.isoformat()}")
