"""The FastAPI application, built by :func:`create_app` (never at import time).

``uvicorn --factory api.app:create_app`` builds it from ``GRIDMAP_*`` environment settings.
Only ``/healthz`` and ``/login`` are public; every other route, the API docs and the static
assets included, sits behind :func:`api.auth.current_principal` (``/logout`` checks the same
credentials itself, so that a dead session's cookie is still cleared).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import (
    routes_admin,
    routes_audit,
    routes_auth,
    routes_book,
    routes_campus,
    routes_gazetteer,
    routes_imagery,
    routes_jobs,
    routes_map,
    routes_oidc,
    routes_package,
    routes_publish,
    routes_share,
    routes_workspace,
    routes_workspace_imagery,
    routes_workspace_page,
    security,
)
from api.context import AppContext
from api.errors import error_body, register_error_handlers
from api.jobs import JobService
from api.settings import Settings
from api.store import CampusStore, open_store
from gridmap import __version__

log = logging.getLogger(__name__)


def over_tls(scope: Scope) -> bool:
    """Reached over https: directly, or through a TLS proxy that says so (X-Forwarded-Proto)."""
    if scope.get("scheme") == "https":
        return True
    forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


def add_security_headers(headers: MutableHeaders, *, tls: bool) -> None:
    """What every response carries unless its route set its own (see :mod:`api.security`)."""
    for name, value in security.ALWAYS.items():
        headers.setdefault(name, value)
    html = headers.get("content-type", "").startswith("text/html")
    headers.setdefault("Content-Security-Policy",
                       security.html_csp() if html else security.NON_HTML_CSP)
    headers.setdefault("Cache-Control", security.DEFAULT_CACHE_CONTROL)
    if tls:
        headers.setdefault("Strict-Transport-Security", security.HSTS)


class GuardAndHeaders:
    """The outermost gate (plain ASGI: no overhead): refuses oversized bodies and credentials
    in URLs, adds the security headers to every response, and answers an unhandled error
    with a clean 500 itself, so the error carries the headers too and the kept-alive
    connection stays usable (re-raising would make the server drop it)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, ctx: AppContext) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = over_tls(scope)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                add_security_headers(MutableHeaders(scope=message), tls=tls)
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started:  # too late for a clean answer: let the server close the connection
                raise
            log.error("unhandled error on %s %s", scope.get("method"),
                      security.redact_url(scope.get("path", "")), exc_info=exc)
            response = JSONResponse(error_body("InternalError", "internal server error"),
                                    status_code=500)
            await response(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return JSONResponse(
                error_body("PayloadTooLarge", f"request body exceeds {self.max_body_bytes} bytes"),
                status_code=413,
            )
        raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
        why = security.credential_in_url(raw_path.decode("latin-1"),
                                         scope.get("query_string", b"").decode("latin-1"))
        if why is None:
            return None
        request = Request(scope)
        path = scope.get("path", "")
        route = path if security.credential_in_url(path, "") is None else "(redacted path)"
        self.ctx.refused(request, None, 400, route[:200], f"credential in the URL: {why}")
        return JSONResponse(
            error_body("CredentialInURL",
                       f"refused: {why}. Never put a token in a URL (it ends up in logs and "
                       "browser history); send it as 'Authorization: Bearer <token>'"),
            status_code=400,
        )


def create_app(
    settings: Settings | None = None, store: CampusStore | None = None, *,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The gridmap service. Pass ``store`` to share one (tests, CLI); else it is opened here.

    ``clock`` (monotonic seconds) drives the sign-in rate limit; tests pass their own.
    On start-up the job workers start (:mod:`api.jobs`); on shutdown they stop and every
    queued audit entry is written before the app stops.
    """
    settings = settings or Settings()
    own_store = store is None
    store = store or open_store(settings.resolved_database_url, **settings.store_options())
    ctx = AppContext(settings, store, clock=clock or time.monotonic)
    security.install_access_log_redaction()
    jobs = JobService(store, settings)  # durable jobs; GRIDMAP_JOB_WORKERS threads run them

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        try:
            jobs.stop()  # a job still running after a grace period goes back to the queue
            ctx.store.flush_audit()
        finally:
            if own_store:
                ctx.store.close()

    app = FastAPI(
        title="gridmap",
        version=__version__,
        summary="Gridded campus maps and floor-plan lookup for emergency responders",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served behind authentication by routes_map
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.jobs = jobs
    register_error_handlers(app)

    app.add_middleware(GuardAndHeaders, max_body_bytes=settings.max_upload_bytes, ctx=ctx)
    # The hot routes first: FastAPI matches a request against the included routers in order
    # (twice per request), so every route ahead of the lookup and the tiles is paid on each of
    # them (~0.17 ms of a lookup's ~0.6 ms server CPU with them last). Their paths overlap no
    # other router's, so the order changes no answer.
    app.include_router(routes_campus.router)
    app.include_router(routes_map.router)
    app.include_router(routes_auth.public_router)
    app.include_router(routes_auth.session_router)
    app.include_router(routes_oidc.router)  # /login/oidc: single sign-on (public)
    app.include_router(routes_oidc.admin_router)  # /orgs/{org}/oidc: its settings
    app.include_router(routes_admin.router)  # /orgs: admins manage their organisation
    app.include_router(routes_share.public_router)  # /share, /share/open: a share link's own
    app.include_router(routes_share.router)
    app.include_router(routes_audit.router)  # /audit, /audit/export: admins read the log
    app.include_router(routes_book.router)
    app.include_router(routes_gazetteer.router)
    app.include_router(routes_imagery.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_package.router)
    app.include_router(routes_publish.router)  # drafts, publishing, verification
    app.include_router(routes_workspace.router)  # /workspaces: upload, fix, import
    app.include_router(routes_workspace_imagery.router)  # an uploaded photo's tiles
    app.include_router(routes_workspace_page.router)  # /workspace: the editors' page
    return app
