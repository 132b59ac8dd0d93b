"""Share links over HTTP: issue, list, revoke (admins), and open one in a browser (public).

``POST /campuses/{id}/share`` issues a link (a district's admin for its campus, a partner
agency's admin for a campus it is granted; :mod:`api.authz` decides) and answers its secret
once, with the browser URL ``/share#<secret>``. ``GET /share`` is that page: its script takes
the secret from the URL's fragment (which no browser sends to a server), clears it from the
address bar, trades it by ``POST /share/open`` for a session cookie limited to the campus and
the link's lifetime, and replaces the page with the campus's web map. Every step is audited
under the link's id; the secret itself is never logged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from api import security, share
from api.auth import CurrentPrincipal, client_of, current_principal
from api.authz import Action
from api.context import CAMPUS_ID_PATTERN, MAX_CAMPUS_ID, Ctx
from api.errors import error_body
from api.routes_auth import SameOrigin, cookie_secure
from api.store import utcnow
from gridmap.errors import NotFound, Unauthenticated

router = APIRouter(dependencies=[Depends(current_principal)])
public_router = APIRouter()

CampusId = Annotated[str, PathParam(max_length=MAX_CAMPUS_ID, pattern=CAMPUS_ID_PATTERN)]
LinkId = Annotated[str, PathParam(max_length=40, pattern=r"^shr_[0-9a-f]+$")]


class ShareRequest(BaseModel):
    hours: float = Field(default=share.DEFAULT_HOURS, gt=0, le=share.MAX_HOURS,
                         description=f"lifetime, at most {share.MAX_HOURS} h")
    recipient: str = Field(default="", max_length=200,
                           description="for whom (the neighbouring agency, an incident)")


@router.post("/campuses/{campus_id}/share", status_code=201,
             summary="Issue a read-only share link for one campus (admins)")
def create_share_link(
    request: Request, ctx: Ctx, principal: CurrentPrincipal, campus_id: CampusId,
    body: ShareRequest,
) -> dict[str, Any]:
    """The secret is in this answer only: it is stored hashed and cannot be shown again."""
    ctx.authorize(request, principal, Action.SHARE, campus_id)
    secret, link = share.shares(ctx.store).create(
        campus_id=campus_id, hours=body.hours, org_id=principal.org_id,
        created_by=principal.actor, recipient=body.recipient)
    ctx.audit(request, principal, "share_create", campus_id,
              f"{link.id} for {body.hours:g} h" + (f" to {link.recipient}" if link.recipient
                                                   else ""))
    return {**link.to_dict(utcnow()), "secret": secret, "url": f"/share#{secret}",
            "hours": body.hours}


@router.get("/share-links", summary="Share links of your organisation and campuses (admins)")
def list_share_links(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> dict[str, Any]:
    """Links your organisation issued, and links anyone issued for a campus it owns."""
    ctx.authorize(request, principal, Action.ADMIN_ORG, org_id=principal.org_id)
    assert principal.org_id is not None
    owned = ctx.access.owned(principal.org_id)
    now = utcnow()
    links = share.shares(ctx.store).links(org_id=principal.org_id, campuses=owned)
    ctx.audit(request, principal, "share_list", None, f"{len(links)} links")
    return {"links": [link.to_dict(now) for link in links]}


@router.delete("/share-links/{link_id}", summary="Revoke a share link (admins)")
def revoke_share_link(
    request: Request, ctx: Ctx, principal: CurrentPrincipal, link_id: LinkId,
) -> dict[str, Any]:
    """The issuing organisation's admins and the owning district's admins may revoke it; it
    stops working on every worker within a second. To anyone else it does not exist (404)."""
    try:
        link = share.find_link(ctx.store, link_id)
        if not (ctx.may(principal, Action.ADMIN_ORG, org_id=link.org_id)
                or (link.campus_id in ctx.access.owned(principal.org_id or "")
                    and ctx.may(principal, Action.SHARE, link.campus_id))):
            raise NotFound(f"{principal.actor} may not revoke {link_id}",
                           user_message=f"unknown share link {link_id!r}")
    except NotFound as exc:
        ctx.refused(request, principal, 404, "/share-links/{link_id}", str(exc))
        raise
    ended = share.shares(ctx.store).revoke(link.id, by=principal.actor)
    ctx.audit(request, principal, "share_revoke", link.campus_id,
              f"{link.id}" + ("" if ended else " (already revoked)"))
    revoked = share.find_link(ctx.store, link.id)
    return revoked.to_dict(utcnow())


# --- opening a link in a browser (public) ---------------------------------------------------

_OPEN_SCRIPT = """(function () {
  var msg = document.getElementById("msg");
  var secret = location.hash.slice(1);
  history.replaceState(null, "", location.pathname);
  if (!secret) {
    msg.textContent = "Open the whole link you were given (it ends with #gsh_...).";
    return;
  }
  fetch("/share/open", {
    method: "POST", credentials: "same-origin", referrerPolicy: "same-origin",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({secret: secret})
  }).then(function (r) {
    return r.json().then(function (b) { return [r.ok, b]; });
  }).then(function (x) {
    if (x[0]) { location.replace(x[1].map); return; }
    msg.textContent = "This share link cannot be used: "
      + ((x[1].error || {}).message || "refused") + ".";
  }).catch(function () { msg.textContent = "The server cannot be reached; try again."; });
})();"""

_OPEN_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>gridmap · shared campus map</title>
<link rel="icon" href="data:,">
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem}}</style>
</head><body><h1>gridmap — shared campus map</h1>
<p id="msg">Opening the shared map…</p>
<noscript><p>This page needs JavaScript to open a share link.</p></noscript>
<script>{_OPEN_SCRIPT}</script>
</body></html>
"""

_OPEN_HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": security.html_csp(security.inline_script_hashes(_OPEN_PAGE)),
}


@public_router.get("/share", response_class=HTMLResponse,
                   summary="Open a share link (/share#<secret>) in a browser")
def share_page() -> HTMLResponse:
    return HTMLResponse(_OPEN_PAGE, headers=_OPEN_HEADERS)


@public_router.post("/share/open", dependencies=[SameOrigin],
                    summary="Trade a share link's secret for a browser session")
def open_share_link(
    request: Request, ctx: Ctx, secret: Annotated[str, Form(max_length=200)],
) -> Response:
    """Sets the session cookie (HttpOnly, SameSite=Strict, until the link expires) and answers
    where the campus's map is. Failed attempts are rate-limited per address like sign-ins."""
    client = client_of(request)
    wait = ctx.login_limiter.retry_after(client)
    if wait is not None:
        ctx.refused(request, None, 429, "/share/open", "too many failed attempts")
        return JSONResponse(error_body("TooManyRequests", f"too many failed attempts; try "
                                       f"again in {wait} s"), status_code=429,
                            headers={"Retry-After": str(wait)})
    try:
        session_id, record = share.open_session(ctx.store, secret.strip())
    except Unauthenticated as exc:
        ctx.login_limiter.spend(client)
        ctx.audit_coalesced(request, None, "share_open_failed", exc.user_message)
        return JSONResponse(error_body("Unauthenticated", exc.user_message), status_code=401)
    link = record.link
    principal = share.link_principal(link)
    request.state.principal = principal
    settings = ctx.settings
    previous = request.cookies.get(settings.cookie_name)
    if previous is not None:  # one session per browser: the one it held until now ends
        if previous.startswith(share.SHARE_SESSION_PREFIX):
            share.shares(ctx.store).end_session(share.hash_secret(previous))
        else:
            ctx.store.revoke_session(share.hash_secret(previous))
    max_age = int((record.expires_at - utcnow()) / timedelta(seconds=1))
    target = f"/campuses/{link.campus_id}/map"
    response = JSONResponse({"map": target, "campus": link.campus_id,
                             "expires_at": link.expires_at.isoformat()})
    response.set_cookie(
        settings.cookie_name, session_id, max_age=max(max_age, 1), path="/",
        httponly=True, samesite="strict", secure=cookie_secure(request, ctx))
    ctx.audit(request, principal, "share_open", link.campus_id,
              f"browser session until {link.expires_at:%Y-%m-%d %H:%M} UTC")
    return response

