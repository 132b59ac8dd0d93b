"""The audit log for an organisation's admins: query it, export it as CSV or JSON.

An admin reads what concerns their own organisation (:func:`api.audit_log.scope_of`): who, at
which agency, looked at our schools and when; what our own people did. Filters: campus, the
acting organisation (``org``), action, outcome, credential (a token's or share link's id) and a
time range (``since`` inclusive, ``until`` exclusive, ISO 8601). Reading the log is audited too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api import audit_log
from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import CAMPUS_ID_PATTERN, MAX_CAMPUS_ID, AppContext, Ctx
from api.errors import InvalidParameter

router = APIRouter(dependencies=[Depends(current_principal)])

_Id = Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
_Campus = Annotated[str | None, Query(max_length=MAX_CAMPUS_ID, pattern=CAMPUS_ID_PATTERN)]
_Word = Annotated[str | None, Query(max_length=50, pattern=r"^[a-z_]+$")]
_Time = Annotated[str | None, Query(max_length=40, description="ISO 8601; UTC if no zone")]


def _when(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"{name}: not an ISO 8601 date or time: {value[:40]!r}",
                               user_message=f"{name} must be an ISO 8601 date or time, "
                               "e.g. 2026-11-30T14:00Z") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _read(
    request: Request, ctx: AppContext, principal: Principal, campus: str | None,
    org: str | None, action: str | None, outcome: str | None, credential: str | None,
    since: str | None, until: str | None, limit: int, form: str,
) -> tuple[list[Any], dict[str, str]]:
    ctx.authorize(request, principal, Action.READ_AUDIT, campus)
    assert principal.org_id is not None  # READ_AUDIT is an organisation admin's
    where = audit_log.AuditFilter(
        campus_id=campus, org_id=org, action=action, outcome=outcome, credential_id=credential,
        since=_when("since", since), until=_when("until", until), limit=limit)
    entries = audit_log.query(ctx.store, audit_log.scope_of(ctx.store, principal.org_id,
                                                              principal.campuses), where)
    names = audit_log.org_names(ctx.store, entries)
    filters = ", ".join(f"{k}={v}" for k, v in (
        ("org", org), ("action", action), ("outcome", outcome), ("credential", credential),
        ("since", since), ("until", until)) if v is not None)
    ctx.audit(request, principal, "audit_read", campus,
              f"{form}: {len(entries)} entries" + (f" ({filters})" if filters else ""))
    return entries, names


@router.get("/audit", summary="The audit log of your organisation's data, newest first "
            "(admins)")
async def audit_query(
    request: Request, ctx: Ctx, principal: CurrentPrincipal,
    campus: _Campus = None, org: _Id = None, action: _Word = None,
    outcome: Annotated[Literal["ok", "refused", "failed"] | None, Query()] = None,
    credential: _Id = None, since: _Time = None, until: _Time = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    entries, names = await run_in_threadpool(
        _read, request, ctx, principal, campus, org, action, outcome, credential, since, until,
        limit, "query")
    return JSONResponse({"entries": [audit_log.entry_dict(e, names) for e in entries]})


@router.get("/audit/export", summary="The audit log as a CSV or JSON file (admins)")
async def audit_export(
    request: Request, ctx: Ctx, principal: CurrentPrincipal,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    campus: _Campus = None, org: _Id = None, action: _Word = None,
    outcome: Annotated[Literal["ok", "refused", "failed"] | None, Query()] = None,
    credential: _Id = None, since: _Time = None, until: _Time = None,
    limit: Annotated[int, Query(ge=1, le=audit_log.MAX_ENTRIES)] = 10_000,
) -> Response:
    entries, names = await run_in_threadpool(
        _read, request, ctx, principal, campus, org, action, outcome, credential, since, until,
        limit, f"export {format}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": f'attachment; filename="gridmap-audit-{stamp}.{format}"'}
    if format == "csv":
        return Response(audit_log.to_csv(entries, names), media_type="text/csv; charset=utf-8",
                        headers=headers)
    return JSONResponse({"entries": [audit_log.entry_dict(e, names) for e in entries]},
                        headers=headers)
