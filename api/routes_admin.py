"""Administration over HTTP, for an organisation's admins: its people, tokens and partnerships.

Every route is decided by :mod:`api.authz` (``ADMIN_ORG`` on the organisation in the path: an
admin manages their own organisation only, 403 otherwise) and audited. A new token's secret is
in the answer to its creation only. Organisations are created by the operator
(``gridmap org create``) or, through ``POST /orgs``, by the admins of an organisation that runs
the deployment (``GRIDMAP_OPERATOR_ORGS``, e.g. the county's IT or 911 centre); ``GET /orgs``
lists them so an admin can name a partner agency.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import CAMPUS_ID_PATTERN, MAX_CAMPUS_ID, AppContext, Ctx
from api.errors import InvalidParameter
from api.store import Role, utcnow
from api.store_identity import Organisation, OrgKind, Partnership, Person, identity
from api.tokens import MAX_EXPIRY_DAYS, create_token
from gridmap.errors import NotFound

router = APIRouter(dependencies=[Depends(current_principal)])

NO_STORE = {"Cache-Control": "private, no-store"}
OrgId = Annotated[str, PathParam(max_length=40, pattern=r"^org_[0-9a-f]{1,32}$")]
UserId = Annotated[str, PathParam(max_length=40, pattern=r"^usr_[0-9a-f]{1,32}$")]
TokenId = Annotated[str, PathParam(max_length=40, pattern=r"^tok_[0-9a-f]{1,32}$")]
PartnershipId = Annotated[str, PathParam(max_length=40, pattern=r"^prt_[0-9a-f]{1,32}$")]
CampusList = list[Annotated[str, Field(max_length=MAX_CAMPUS_ID, pattern=CAMPUS_ID_PATTERN)]]


class NewOrganisation(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind = Field(description="district (owns campuses), or an agency: police, fire, "
                          "ems, dispatch")


class NewPerson(BaseModel):
    email: str = Field(max_length=320)
    role: Role
    name: str = Field(default="", max_length=200)


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    user: str | None = Field(default=None, max_length=320,
                             description="a person's email or id: the token has their role")
    integration: str | None = Field(default=None, max_length=200,
                                    description="an integration's name (default: name)")
    role: Role | None = Field(default=None, description="an integration token's role")
    expires_days: float | None = Field(default=None, gt=0, le=MAX_EXPIRY_DAYS)
    campuses: CampusList | None = Field(default=None, max_length=1000)


class NewPartnership(BaseModel):
    agency: str = Field(max_length=200, description="the agency's id or name")
    campuses: CampusList | None = Field(default=None, max_length=1000,
                                        description="default: every campus of the district")
    starts_on: date | None = None
    ends_on: date | None = Field(default=None, description="last day of access (inclusive)")
    reference: str = Field(default="", max_length=2000)


def _org(ctx: AppContext, request: Request, principal: Principal, org_id: str) -> Organisation:
    ctx.authorize(request, principal, Action.ADMIN_ORG, org_id=org_id)
    org = identity(ctx.store).org(org_id)
    if org is None:  # an admin's own organisation exists; this is defensive
        raise NotFound(f"no organisation {org_id}", user_message="unknown organisation")
    return org


def org_json(org: Organisation) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "kind": org.kind.value,
            "created_at": org.created_at.isoformat()}


def person_json(person: Person) -> dict[str, Any]:
    return {"id": person.id, "email": person.email, "org_id": person.org_id,
            "role": person.role.value, "name": person.name,
            "created_at": person.created_at.isoformat(),
            "disabled_at": None if person.disabled_at is None else person.disabled_at.isoformat()}


def partnership_json(p: Partnership, today: date) -> dict[str, Any]:
    return {"id": p.id, "district_id": p.district_id, "agency_id": p.agency_id,
            "campuses": None if p.campuses is None else list(p.campuses),
            "starts_on": p.starts_on.isoformat(),
            "ends_on": None if p.ends_on is None else p.ends_on.isoformat(),
            "reference": p.reference, "created_at": p.created_at.isoformat(),
            "created_by": p.created_by,
            "revoked_at": None if p.revoked_at is None else p.revoked_at.isoformat(),
            "state": p.state(today)}


@router.get("/orgs", summary="Organisations (names and kinds), for naming a partner (admins)")
def list_orgs(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> JSONResponse:
    ctx.authorize(request, principal, Action.ADMIN_ORG)
    orgs = identity(ctx.store).orgs()
    ctx.audit(request, principal, "orgs", None, f"{len(orgs)} organisations")
    return JSONResponse({"organisations": [org_json(o) for o in orgs]}, headers=NO_STORE)


@router.post("/orgs", status_code=201,
             summary="Create an organisation (admins of the organisation running the deployment)")
def create_org(body: NewOrganisation, request: Request, ctx: Ctx,
               principal: CurrentPrincipal) -> JSONResponse:
    ctx.authorize(request, principal, Action.CREATE_ORG)
    org = identity(ctx.store).create_org(body.name, body.kind)
    ctx.audit(request, principal, "org_create", None, f"{org.id} {org.kind.value} {org.name}")
    return JSONResponse(org_json(org), status_code=201, headers=NO_STORE)


@router.get("/orgs/{org_id}", summary="Your organisation (admins)")
def get_org(org_id: OrgId, request: Request, ctx: Ctx,
            principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    body = org_json(org) | {"campuses": sorted(ctx.access.owned(org.id))}
    ctx.audit(request, principal, "org", None, org.id)
    return JSONResponse(body, headers=NO_STORE)


@router.get("/orgs/{org_id}/people", summary="Your organisation's people (admins)")
def list_people(org_id: OrgId, request: Request, ctx: Ctx,
                principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    people = identity(ctx.store).people(org.id)
    ctx.audit(request, principal, "people", None, org.id)
    return JSONResponse({"people": [person_json(p) for p in people]}, headers=NO_STORE)


@router.post("/orgs/{org_id}/people", status_code=201,
             summary="Add a person to your organisation with a role (admins)")
def add_person(org_id: OrgId, body: NewPerson, request: Request, ctx: Ctx,
               principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    person = identity(ctx.store).create_person(body.email, org.id, body.role, body.name)
    ctx.audit(request, principal, "user_create", None,
              f"{person.id} {person.email} {person.role.value} of {org.id}")
    return JSONResponse(person_json(person), status_code=201, headers=NO_STORE)


@router.post("/orgs/{org_id}/people/{user_id}/disable",
             summary="Disable a person: their tokens and sessions stop at once (admins)")
def disable_person(org_id: OrgId, user_id: UserId, request: Request, ctx: Ctx,
                   principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    ident = identity(ctx.store)
    person = ident.person(user_id)
    if person is None or person.org_id != org.id:
        raise NotFound(f"{org.id} has no person {user_id}", user_message="unknown person")
    changed = ident.disable_person(person.id)
    ctx.audit(request, principal, "user_disable", None, f"{person.id} {person.email}")
    return JSONResponse({"id": person.id, "disabled": True, "changed": changed},
                        headers=NO_STORE)


@router.get("/orgs/{org_id}/tokens", summary="Your organisation's tokens, never secrets (admins)")
def list_tokens(org_id: OrgId, request: Request, ctx: Ctx,
                principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    owners = identity(ctx.store).token_owners()
    tokens = [
        {"id": t.id, "name": t.name, "role": t.role.value, "user_id": owners[t.id].user_id,
         "integration": owners[t.id].integration, "created_at": t.created_at.isoformat(),
         "expires_at": None if t.expires_at is None else t.expires_at.isoformat(),
         "revoked_at": None if t.revoked_at is None else t.revoked_at.isoformat(),
         "campuses": None if t.campuses is None else list(t.campuses)}
        for t in ctx.store.tokens() if t.id in owners and owners[t.id].org_id == org.id
    ]
    ctx.audit(request, principal, "tokens", None, org.id)
    return JSONResponse({"tokens": tokens}, headers=NO_STORE)


@router.post("/orgs/{org_id}/tokens", status_code=201,
             summary="A token for a person or an integration of your organisation (admins); "
                     "the secret is shown once")
def add_token(org_id: OrgId, body: NewToken, request: Request, ctx: Ctx,
              principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    ident = identity(ctx.store)
    user: str | None = None
    if body.user is not None:
        person = (ident.person_by_email(body.user) if "@" in body.user
                  else ident.person(body.user))
        if person is None or person.org_id != org.id:
            raise NotFound(f"{org.id} has no person {body.user!r}",
                           user_message="unknown person")
        user = person.id
    for campus_id in body.campuses or ():
        ctx.authorize(request, principal, Action.READ, campus_id)  # 404 if not visible
    try:
        secret, record = create_token(
            ctx.store, body.name, body.role, expires_days=body.expires_days,
            campuses=body.campuses, user=user, org=None if user else org.id,
            integration=None if user else body.integration)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from exc
    ctx.audit(request, principal, "token_create", None,
              f"{record.id} {record.name!r} ({record.role.value}) of {org.id}")
    return JSONResponse({"id": record.id, "name": record.name, "role": record.role.value,
                         "token": secret,
                         "expires_at": None if record.expires_at is None
                         else record.expires_at.isoformat()},
                        status_code=201, headers=NO_STORE)


@router.delete("/orgs/{org_id}/tokens/{token_id}",
               summary="Revoke one of your organisation's tokens (admins)")
def revoke_token(org_id: OrgId, token_id: TokenId, request: Request, ctx: Ctx,
                 principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    owner = identity(ctx.store).token_owner(token_id)
    if owner is None or owner.org_id != org.id:
        raise NotFound(f"{org.id} has no token {token_id}", user_message="unknown token")
    count = ctx.store.revoke_tokens(token_id=token_id)
    ctx.audit(request, principal, "token_revoke", None, token_id)
    return JSONResponse({"id": token_id, "revoked": True, "changed": bool(count)},
                        headers=NO_STORE)


@router.get("/orgs/{org_id}/partnerships",
            summary="Partnerships your organisation grants or holds (admins)")
def list_partnerships(org_id: OrgId, request: Request, ctx: Ctx,
                      principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    today = utcnow().date()
    found = identity(ctx.store).partnerships(org.id)
    ctx.audit(request, principal, "partnerships", None, org.id)
    return JSONResponse({"partnerships": [partnership_json(p, today) for p in found]},
                        headers=NO_STORE)


@router.post("/orgs/{org_id}/partnerships", status_code=201,
             summary="Grant an agency read access to your district's campuses (admins)")
def grant_partnership(org_id: OrgId, body: NewPartnership, request: Request, ctx: Ctx,
                      principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    ident = identity(ctx.store)
    agency = ident.find_org(body.agency)
    grant = ident.grant(district_id=org.id, agency_id=agency.id, campuses=body.campuses,
                        starts_on=body.starts_on, ends_on=body.ends_on,
                        reference=body.reference, created_by=principal.name)
    ctx.audit(request, principal, "partnership_grant", None,
              f"{grant.id}: {org.id} -> {agency.id}")
    return JSONResponse(partnership_json(grant, utcnow().date()), status_code=201,
                        headers=NO_STORE)


@router.delete("/orgs/{org_id}/partnerships/{partnership_id}",
               summary="Revoke a partnership your district granted: access ends at once")
def revoke_partnership(org_id: OrgId, partnership_id: PartnershipId, request: Request,
                       ctx: Ctx, principal: CurrentPrincipal) -> JSONResponse:
    org = _org(ctx, request, principal, org_id)
    ident = identity(ctx.store)
    grant = ident.partnership(partnership_id)
    if grant is None or grant.district_id != org.id:
        raise NotFound(f"{org.id} granted no partnership {partnership_id}",
                       user_message="unknown partnership")
    changed = ident.revoke_partnership(grant.id)
    ctx.audit(request, principal, "partnership_revoke", None, grant.id)
    return JSONResponse({"id": grant.id, "revoked": True, "changed": changed},
                        headers=NO_STORE)
