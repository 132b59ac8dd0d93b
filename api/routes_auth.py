"""The only public routes (health, login) and logout."""

from __future__ import annotations

import html
import ipaddress
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import (
    Principal,
    authenticate,
    bearer_token,
    client_of,
    create_session,
    hash_token,
    verify_session,
    verify_token,
)
from api.context import AppContext
from api.security import credential_in_url
from api.share import SHARE_SESSION_PREFIX, shares
from api.store import utcnow
from api.store_identity import identity
from gridmap import __version__
from gridmap.errors import Forbidden, Unauthenticated

public_router = APIRouter()
# /logout checks credentials itself rather than through the usual router-wide dependency: a
# browser whose session expired or ended must still get its cookie cleared, not a JSON 401
session_router = APIRouter()

PUBLIC_PATHS = frozenset({"/healthz", "/login",
                          # single sign-on (api.routes_oidc): how a browser gets credentials
                          "/login/oidc/callback", "/login/oidc/{org_id}",
                          # a share link opened in a browser (api.routes_share)
                          "/share", "/share/open"})

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gridmap · sign in</title>
<link rel="icon" href="data:,">
<style>
body{{font-family:system-ui,sans-serif;background:#f4f4f2;margin:0;display:flex;
min-height:100vh;align-items:center;justify-content:center}}
form{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0003;
width:min(26rem,90vw)}}
h1{{font-size:1.3rem;margin:0 0 1rem}}
label{{display:block;margin-bottom:.4rem}}
input[type=password]{{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem}}
button{{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}}
.error{{color:#a00;margin:0 0 1rem}}
</style></head>
<body><form method="post" action="/login">
<h1>gridmap — sign in</h1>
{error}
<label for="token">Access token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required
 autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Sign in</button>
{sso}</form></body></html>
"""


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an absolute or protocol-relative URL (open redirect), and
    never one carrying a credential (it would be echoed into the redirect's Location)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    path, _, query = target.partition("?")
    if credential_in_url(path, query) is not None:
        return "/"
    return target


# Pages with a sign-in or sign-out form: under the site-wide "Referrer-Policy: no-referrer" a
# browser sends "Origin: null" even with a same-origin POST; "same-origin" keeps the real Origin
# (checked by refuse_cross_site) and still sends nothing to other sites
FORM_PAGE_HEADERS = {"Cache-Control": "private, no-store", "Referrer-Policy": "same-origin"}

# sign-out clears the browser's HTTP cache of this site: no map tiles of the last user remain
_LOGOUT_HEADERS = {"Clear-Site-Data": '"cache"', "Cache-Control": "private, no-store"}


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _site(scheme: str, host: str | None, port: int | None) -> tuple[str, int] | None:
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return host.lower(), port or _DEFAULT_PORTS[scheme]


def is_same_origin(request: Request) -> bool:
    """Whether a browser sent this request from one of this site's own pages.

    The ``Origin`` header (browsers send it with every POST) must name this host and port;
    its scheme must be the request's, or https where the app itself is reached over plain
    http (a TLS proxy in front). Without ``Origin`` (curl, scripts, older browsers) only
    ``Sec-Fetch-Site: cross-site`` is refused; ``Origin: null`` needs
    ``Sec-Fetch-Site: same-origin``. A proxy in front must pass the browser's
    ``Host`` header on (nginx: ``proxy_set_header Host $host``), or sign-in is refused.
    """
    origin = request.headers.get("origin")
    fetch_site = request.headers.get("sec-fetch-site", "").lower()
    if origin is None:
        return fetch_site != "cross-site"
    if origin.strip() == "null":
        # an opaque origin: a sandboxed frame, or a page with "Referrer-Policy: no-referrer",
        # whose same-origin form posts say "null" too; the browser's Sec-Fetch-Site decides
        return fetch_site == "same-origin"
    try:
        theirs = urlsplit(origin.strip())
        their_site = _site(theirs.scheme, theirs.hostname, theirs.port)
    except ValueError:  # a malformed port
        return False
    own = request.url
    if their_site is None or theirs.scheme not in (own.scheme, "https"):
        return False
    # the request's own port by the scheme the browser used (a proxy's Host carries no port)
    own_port = own.port or _DEFAULT_PORTS[theirs.scheme]
    return their_site == _site(theirs.scheme, own.hostname, own_port)


def refuse_cross_site(request: Request) -> None:
    """Dependency of the POST routes a cookie alone cannot protect: sign-in and sign-out.

    SameSite=Strict keeps the session cookie off cross-site requests, but a forged sign-in
    needs no cookie (it would log a responder's browser into the attacker's token) and a
    forged sign-out must not end a session. Refusals are audited as ``denied`` (by the error
    handler, like every 403).
    """
    if is_same_origin(request):
        return
    origin = request.headers.get("origin")
    source = (f"Origin {origin[:200]!r}" if origin is not None
              else f"Sec-Fetch-Site {request.headers.get('sec-fetch-site', '')[:50]!r}")
    raise Forbidden(
        f"cross-site POST {request.url.path} refused: {source}, "
        f"Host {request.headers.get('host', '')[:200]!r}",
        user_message="cross-site request refused: sign in and out on this site's own pages",
    )


SameOrigin = Depends(refuse_cross_site)


def _sso_links(request: Request, next_path: str) -> str:
    """"Sign in with <organisation>" links, one per organisation with single sign-on."""
    from api.routes_oidc import sign_in_links

    links = sign_in_links(request.app.state.ctx, next_path)
    if not links:
        return ""
    items = "".join(f'<li><a href="{html.escape(url, quote=True)}">Sign in with '
                    f'{html.escape(name)}</a></li>' for name, url in links)
    return f'<p>Or with your organisation\'s sign-in:</p><ul class="sso">{items}</ul>\n'


def _login_page(next_path: str, error: str = "", status: int = 200,
                request: Request | None = None) -> HTMLResponse:
    body = _LOGIN_PAGE.format(
        error=f'<p class="error">{html.escape(error)}</p>' if error else "",
        next=html.escape(safe_next(next_path), quote=True),
        sso="" if request is None else _sso_links(request, next_path),
    )
    return HTMLResponse(body, status_code=status, headers=FORM_PAGE_HEADERS)


@public_router.get("/healthz", summary="Liveness (no authentication)")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@public_router.get("/login", response_class=HTMLResponse, summary="Sign-in form")
def login_form(request: Request,
               next: Annotated[str, Query(max_length=2000)] = "/") -> HTMLResponse:
    return _login_page(next, request=request)


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): a browser on this machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(request: Request, ctx: AppContext) -> bool:
    """Secure unless a browser on this machine asks over plain http (the demo on
    http://127.0.0.1 keeps working): when configured, over HTTPS, and for any other host, as
    behind a TLS proxy the app itself is reached over plain http by a browser on https."""
    return (ctx.settings.cookie_secure or request.url.scheme == "https"
            or not is_loopback(request.url.hostname))


@public_router.post("/login", summary="Exchange a token for a session cookie",
                    dependencies=[SameOrigin])
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """The cookie holds a new session id, never the token; the session is stored hashed.

    Failed sign-ins are rate-limited per client address (``login_failures_burst`` at once,
    ``login_failures_per_minute`` regained): past that, 429 with ``Retry-After``.
    """
    ctx: AppContext = request.app.state.ctx
    client = client_of(request)
    wait = ctx.login_limiter.retry_after(client)
    if wait is not None:
        ctx.refused(request, None, 429, "/login", "too many failed sign-ins")
        page = _login_page(next, "Too many failed sign-ins from this address; try again in "
                                 f"{wait} s.", status=429)
        page.headers["Retry-After"] = str(wait)
        return page
    try:
        principal = verify_token(ctx.store, token.strip())
    except Unauthenticated as exc:
        ctx.login_limiter.spend(client)
        ctx.audit_coalesced(request, None, "login_failed", exc.user_message)
        return _login_page(next, f"Sign-in failed: {exc.user_message}.", status=401,
                           request=request)
    settings = ctx.settings
    # the session this browser held until now (whoever's it was) ends: one session per browser
    previous = request.cookies.get(settings.cookie_name)
    replaced = previous is not None and ctx.store.revoke_session(hash_token(previous))
    session_id, session = create_session(ctx.store, principal, settings.session_max_age_seconds)
    max_age = int((session.expires_at - utcnow()) / timedelta(seconds=1))
    if principal.expires_at is not None:
        max_age = min(max_age, int((principal.expires_at - utcnow()) / timedelta(seconds=1)))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        settings.cookie_name, session_id, max_age=max(max_age, 1), path="/",
        httponly=True, samesite="strict", secure=cookie_secure(request, ctx),
    )
    ctx.audit(request, principal, "login", None,
              "session created" + ("; the browser's previous session ended" if replaced else ""))
    return response


@session_router.post("/logout", summary="End the session and drop its cookie",
                     dependencies=[SameOrigin])
def logout(request: Request) -> Response:
    """End the session named by the cookie, and tell the browser to drop the cookie and its
    cache (tiles of the last user must not outlive a sign-out on a shared laptop).

    A caller authenticated by an ``Authorization`` header owns no cookie session: no session
    ends and the cookie is left alone. A cookie whose session is no longer valid (expired,
    ended, unknown) is still cleared. With neither credential: 401.
    """
    ctx: AppContext = request.app.state.ctx
    response = RedirectResponse("/login", status_code=303, headers=_LOGOUT_HEADERS)
    if bearer_token(request) is not None:
        principal = authenticate(request)  # a bad token: 401
        ctx.audit(request, principal, "logout", None, "bearer token: no session to end")
        return response
    session_id = request.cookies.get(ctx.settings.cookie_name)
    if session_id is None:
        raise Unauthenticated("no credentials", user_message="authentication required")
    owner: Principal | None
    try:
        owner, detail = verify_session(ctx.store, session_id), "session ended"
    except Unauthenticated as exc:
        owner, detail = None, f"{exc.user_message}: cookie cleared"
    if session_id.startswith(SHARE_SESSION_PREFIX):  # a share link's browser session
        shares(ctx.store).end_session(hash_token(session_id))
    else:  # a token's session, or a person's (OpenID Connect sign-in): whichever it is
        ctx.store.revoke_session(hash_token(session_id))
        identity(ctx.store).revoke_person_session(hash_token(session_id))
    response.delete_cookie(
        ctx.settings.cookie_name, path="/", httponly=True, samesite="strict",
        secure=cookie_secure(request, ctx),
    )
    ctx.audit(request, owner, "logout", None, detail)
    return response
