"""The only public routes (health, login) and logout."""

from __future__ import annotations

import html
import ipaddress
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import (
    CurrentPrincipal,
    create_session,
    current_principal,
    hash_token,
    verify_token,
)
from api.context import AppContext
from api.store import utcnow
from gridmap import __version__
from gridmap.errors import Unauthenticated

public_router = APIRouter()
session_router = APIRouter(dependencies=[Depends(current_principal)])

PUBLIC_PATHS = frozenset({"/healthz", "/login"})

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
</form></body></html>
"""


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an absolute or protocol-relative URL (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    body = _LOGIN_PAGE.format(
        error=f'<p class="error">{html.escape(error)}</p>' if error else "",
        next=html.escape(safe_next(next_path), quote=True),
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@public_router.get("/healthz", summary="Liveness (no authentication)")
def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@public_router.get("/login", response_class=HTMLResponse, summary="Sign-in form")
def login_form(next: Annotated[str, Query(max_length=2000)] = "/") -> HTMLResponse:
    return _login_page(next)


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


@public_router.post("/login", summary="Exchange a token for a session cookie")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """The cookie holds a new session id, never the token; the session is stored hashed."""
    ctx: AppContext = request.app.state.ctx
    try:
        principal = verify_token(ctx.store, token.strip())
    except Unauthenticated as exc:
        ctx.audit(request, None, "login_failed", None, exc.user_message)
        return _login_page(next, f"Sign-in failed: {exc.user_message}.", status=401)
    settings = ctx.settings
    session_id, session = create_session(ctx.store, principal, settings.session_max_age_seconds)
    max_age = int((session.expires_at - utcnow()) / timedelta(seconds=1))
    if principal.expires_at is not None:
        max_age = min(max_age, int((principal.expires_at - utcnow()) / timedelta(seconds=1)))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        settings.cookie_name, session_id, max_age=max(max_age, 1), path="/",
        httponly=True, samesite="strict", secure=cookie_secure(request, ctx),
    )
    ctx.audit(request, principal, "login", None, "session created")
    return response


@session_router.post("/logout", summary="End the session and drop its cookie")
def logout(request: Request, principal: CurrentPrincipal) -> Response:
    ctx: AppContext = request.app.state.ctx
    session_id = request.cookies.get(ctx.settings.cookie_name)
    ended = session_id is not None and ctx.store.revoke_session(hash_token(session_id))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        ctx.settings.cookie_name, path="/", httponly=True, samesite="strict",
        secure=cookie_secure(request, ctx),
    )
    ctx.audit(request, principal, "logout", None, "session ended" if ended else "no session")
    return response
