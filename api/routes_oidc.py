"""Single sign-on routes: OpenID Connect login per organisation, and its settings for admins.

``GET /login/oidc/{org_id}`` and ``GET /login/oidc/callback`` are public (they are how a browser
gets credentials); ``/orgs/{org_id}/oidc`` is for that organisation's admins. See
:mod:`api.oidc` for the flow and what is checked.
"""

from __future__ import annotations

import html
import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import oidc
from api.auth import (
    CurrentPrincipal,
    client_of,
    current_principal,
    hash_token,
    verify_session,
)
from api.authz import Action
from api.context import AppContext
from api.errors import InvalidParameter
from api.routes_auth import FORM_PAGE_HEADERS, cookie_secure, safe_next
from api.store import SqlCampusStore, utcnow
from api.store_identity import identity
from api.tokens import SESSION_PREFIX
from gridmap.errors import GridmapError, NotFound

#: public: how a browser signs in with its organisation's identity provider
router = APIRouter()
#: an organisation's single sign-on settings, for its admins
admin_router = APIRouter(dependencies=[Depends(current_principal)])

PUBLIC_PATHS = frozenset({"/login/oidc/callback", "/login/oidc/{org_id}"})

ORG_ID = Path(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")

_providers = oidc.ProviderCache()

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}<title>gridmap · {title}</title>
<link rel="icon" href="data:,">
<style>
body{{font-family:system-ui,sans-serif;background:#f4f4f2;margin:0;display:flex;
min-height:100vh;align-items:center;justify-content:center}}
main{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0003;
width:min(26rem,90vw)}}
h1{{font-size:1.3rem;margin:0 0 1rem}}
.error{{color:#a00}}
</style></head>
<body><main><h1>{title}</h1>
<p{cls}>{message}</p>
<p><a href="{link}">{link_text}</a></p>
</main></body></html>
"""


def _page(title: str, message: str, *, status: int, link: str = "/login",
          link_text: str = "Back to sign-in", refresh: bool = False,
          error: bool = True) -> HTMLResponse:
    link = html.escape(link, quote=True)
    body = _PAGE.format(
        title=html.escape(title), message=html.escape(message), link=link,
        link_text=html.escape(link_text), cls=' class="error"' if error else "",
        refresh=f'<meta http-equiv="refresh" content="0;url={link}">\n' if refresh else "")
    return HTMLResponse(body, status_code=status, headers=dict(FORM_PAGE_HEADERS))


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _sql_store(ctx: AppContext) -> SqlCampusStore:
    store = ctx.store
    if not isinstance(store, SqlCampusStore):  # pragma: no cover - every store is one today
        raise NotFound("single sign-on needs the SQL store")
    return store


def oidc_store(ctx: AppContext, *, with_secrets: bool = True) -> oidc.OidcStore:
    box = oidc.SecretBox.from_settings(ctx.settings) if with_secrets else None
    return oidc.OidcStore(_sql_store(ctx).engine, box)


def sign_in_links(ctx: AppContext, next_path: str) -> list[tuple[str, str]]:
    """(organisation name, sign-in URL) of every organisation with single sign-on, by name,
    for the sign-in page."""
    from urllib.parse import quote

    ident = identity(_sql_store(ctx))
    links = []
    for org_id in oidc_store(ctx, with_secrets=False).configured_orgs():
        org = ident.org(org_id)
        if org is not None:
            target = f"/login/oidc/{quote(org_id)}"
            if safe_next(next_path) != "/":
                target += f"?next={quote(safe_next(next_path), safe='')}"
            links.append((org.name, target))
    return sorted(links, key=lambda link: link[0].lower())


def _redirect_uri(request: Request) -> str:
    """The callback URL the provider sends the browser back to: this site's, over https
    when a TLS proxy in front says so."""
    from api.app import over_tls

    url = request.url_for("oidc_callback")
    if over_tls(request.scope) and url.scheme == "http":
        url = url.replace(scheme="https")
    return str(url)


def _refusal(request: Request, exc: GridmapError, org_id: str | None,
             email: str | None = None) -> HTMLResponse:
    ctx = _ctx(request)
    status = exc.status if isinstance(exc, oidc.SignInRefused) else (
        404 if isinstance(exc, NotFound) else 400)
    email = email or (exc.email if isinstance(exc, oidc.SignInRefused) else None)
    ctx.audit(request, None, "login_failed",
              detail=f"single sign-on: org {org_id or '-'}, email {email or '-'}: {exc}"[:1000])
    return _page("Sign-in failed", f"Sign-in failed: {exc.user_message}.", status=status)


@router.get("/login/oidc/callback", name="oidc_callback", response_class=HTMLResponse,
            summary="Where the identity provider sends the browser back (single sign-on)")
def oidc_callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=500)] = None,
    iss: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Claims this browser's pending sign-in (once), checks the provider's answer and ID
    token, and signs the person in with the same session cookie as token sign-in. A failed
    single sign-on spends from the same per-address budget as a failed token sign-in: past
    it, 429 with ``Retry-After``."""
    ctx = _ctx(request)
    client = client_of(request)
    wait = ctx.login_limiter.retry_after(client)
    if wait is not None:
        ctx.refused(request, None, 429, "/login/oidc/callback", "too many failed sign-ins")
        page = _page("Sign-in failed", "Too many failed sign-ins from this address; try again "
                     f"in {wait} s.", status=429)
        page.headers["Retry-After"] = str(wait)
        _drop_login_cookie(page, request, ctx)
        return page
    store = oidc_store(ctx)
    login_id = request.cookies.get(oidc.LOGIN_COOKIE)
    org_id: str | None = None
    try:
        pending = store.take_login(login_id, state)
        org_id = pending.org_id
        config = store.config(org_id)
        if config is None:
            raise NotFound(f"single sign-on of {org_id} was removed during the sign-in",
                           user_message="this organisation no longer signs in with single "
                           "sign-on")
        metadata = _providers.metadata(config.issuer)
        # RFC 9207 (mix-up attacks): an answer naming another issuer, or naming none from a
        # provider that always names itself, did not come from this organisation's provider
        if (iss is not None and iss.rstrip("/") != config.issuer) or (
                iss is None and metadata.iss_in_response):
            raise oidc.SignInRefused(f"callback from issuer {(iss or '(none)')[:200]!r}",
                                     user_message="the answer came from another identity "
                                     "provider than this organisation's", status=400)
        if error is not None:
            described = f" ({error_description[:200]})" if error_description else ""
            raise oidc.SignInRefused(f"provider error {error[:100]}{described}",
                                     user_message=f"the identity provider said "
                                     f"{error[:100]}{described}", status=401)
        if not code:
            raise oidc.SignInRefused("callback without a code", user_message="the identity "
                                     "provider sent no authorization code", status=400)
        who = oidc.finish_login(config, metadata, pending, code, _providers)
        ident = identity(_sql_store(ctx))
        person = oidc.admit(ident, config, who)
    except GridmapError as exc:
        ctx.login_limiter.spend(client)
        response = _refusal(request, exc, org_id)
        _drop_login_cookie(response, request, ctx)
        return response
    settings = ctx.settings
    previous = request.cookies.get(settings.cookie_name)
    if previous is not None:  # one session per browser, as with token sign-in
        ctx.store.revoke_session(hash_token(previous))
        ident.revoke_person_session(hash_token(previous))
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=settings.session_max_age_seconds)
    ident.add_person_session(session_hash=hash_token(session_id), user_id=person.id,
                             expires_at=expires_at)
    principal = verify_session(ctx.store, session_id)
    target = safe_next(pending.next_path)
    # a page that moves on by itself, not a 303: the browser arrived from the provider's site,
    # and a SameSite=Strict cookie set in a redirect chain that began cross-site is not sent
    # with the next request; the refresh is a navigation of this site's own
    response = _page("Signed in", f"Signed in as {who.email}.", status=200, link=target,
                     link_text="Continue to the map", refresh=True, error=False)
    response.set_cookie(
        settings.cookie_name, session_id, max_age=settings.session_max_age_seconds, path="/",
        httponly=True, samesite="strict", secure=cookie_secure(request, ctx))
    _drop_login_cookie(response, request, ctx)
    ctx.audit(request, principal, "login",
              detail=f"single sign-on via {config.issuer}: {who.email} of {config.org_id}")
    return response


def _drop_login_cookie(response: Response, request: Request, ctx: AppContext) -> None:
    response.delete_cookie(oidc.LOGIN_COOKIE, path=oidc.LOGIN_COOKIE_PATH, httponly=True,
                           samesite="lax", secure=cookie_secure(request, ctx))


@router.get("/login/oidc/{org_id}", summary="Sign in with an organisation's identity provider")
def oidc_start(
    request: Request, org_id: Annotated[str, Path(max_length=100)],
    next: Annotated[str, Query(max_length=2000)] = "/",
) -> Response:
    """Redirects to the organisation's provider (authorization code flow, PKCE, state and
    nonce bound to a 10-minute HttpOnly, SameSite=Lax cookie of this browser)."""
    ctx = _ctx(request)
    try:
        ident = identity(_sql_store(ctx))
        org = oidc.organisation_of(ident, org_id)
        store = oidc_store(ctx)
        config = store.config(org.id)
        if config is None:
            raise NotFound(f"{org.id} has no single sign-on",
                           user_message=f"{org.name} does not sign in with single sign-on "
                           "here; use an access token")
        metadata = _providers.metadata(config.issuer)
        pending, url = oidc.start_login(config, metadata, _redirect_uri(request),
                                        safe_next(next))
        login_id = store.begin_login(pending)
    except GridmapError as exc:
        return _refusal(request, exc, org_id[:40])
    response = RedirectResponse(url, status_code=303,
                                headers={"Cache-Control": "private, no-store"})
    response.set_cookie(
        oidc.LOGIN_COOKIE, login_id, max_age=int(oidc.LOGIN_TTL.total_seconds()),
        path=oidc.LOGIN_COOKIE_PATH, httponly=True, samesite="lax",
        secure=cookie_secure(request, ctx))
    ctx.audit(request, None, "login_started",
              detail=f"single sign-on: org {org.id} via {config.issuer}")
    return response


# --- settings, for an organisation's admins ---------------------------------------------------


class OidcSettingsIn(BaseModel):
    """An organisation's identity provider. Leave ``client_secret`` out to keep the stored one."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(max_length=500, examples=["https://login.agency.example.gov"])
    client_id: str = Field(max_length=300)
    client_secret: str | None = Field(default=None, max_length=1000)
    allowed_domain: str | None = Field(default=None, max_length=253,
                                       examples=["agency.example.gov"])


def _org_admin(request: Request, principal: CurrentPrincipal, org_id: str) -> None:
    _ctx(request).authorize(request, principal, Action.ADMIN_ORG, org_id=org_id)
    if identity(_sql_store(_ctx(request))).org(org_id) is None:
        raise NotFound(f"no organisation {org_id}", user_message="no such organisation")


@admin_router.get("/orgs/{org_id}/oidc", summary="An organisation's single sign-on settings "
                  "(never the client secret)")
def get_oidc_settings(
    request: Request, principal: CurrentPrincipal, org_id: Annotated[str, ORG_ID],
) -> dict[str, Any]:
    _org_admin(request, principal, org_id)
    config = oidc_store(_ctx(request)).config(org_id)
    if config is None:
        raise NotFound(f"{org_id} has no single sign-on", user_message="no single sign-on set")
    _ctx(request).audit(request, principal, "oidc_read", None, f"org {org_id}")
    return config.public()


@admin_router.put("/orgs/{org_id}/oidc", summary="Set an organisation's identity provider")
def put_oidc_settings(
    request: Request, principal: CurrentPrincipal, org_id: Annotated[str, ORG_ID],
    body: OidcSettingsIn,
) -> dict[str, Any]:
    _org_admin(request, principal, org_id)
    try:
        config = oidc_store(_ctx(request)).set_config(
            org_id, issuer=body.issuer, client_id=body.client_id,
            client_secret=body.client_secret, allowed_domain=body.allowed_domain,
            actor=principal.actor)
    except oidc.InvalidOidcConfig as exc:
        raise InvalidParameter(str(exc)) from exc
    _ctx(request).audit(request, principal, "oidc_set", None,
                        f"org {org_id}: issuer {config.issuer}, client {config.client_id}, "
                        f"domain {config.allowed_domain or 'any'}"
                        + ("" if body.client_secret is None else ", client secret replaced"))
    return config.public()


@admin_router.delete("/orgs/{org_id}/oidc", summary="Turn an organisation's single sign-on off")
def delete_oidc_settings(
    request: Request, principal: CurrentPrincipal, org_id: Annotated[str, ORG_ID],
) -> dict[str, Any]:
    _org_admin(request, principal, org_id)
    removed = oidc_store(_ctx(request), with_secrets=False).delete_config(org_id)
    _ctx(request).audit(request, principal, "oidc_removed", None,
                        f"org {org_id}" + ("" if removed else ": none was set"))
    return {"org_id": org_id, "removed": removed}
