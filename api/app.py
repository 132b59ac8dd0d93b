"""The FastAPI application, built by :func:`create_app` (never at import time).

``uvicorn --factory api.app:create_app`` builds it from ``GRIDMAP_*`` environment settings.
Only ``/healthz`` and ``/login`` are public; every other route, the API docs and the static
assets included, sits behind :func:`api.auth.current_principal` (``/logout`` checks the same
credentials itself, so that a dead session's cookie is still cleared).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import routes_auth, routes_campus, routes_gazetteer, routes_map
from api.context import AppContext
from api.errors import error_body, register_error_handlers
from api.settings import Settings
from api.store import CampusStore, open_store
from gridmap import __version__

log = logging.getLogger(__name__)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class LimitsAndHeaders:
    """Refuse oversized bodies up front and add security headers (plain ASGI: no overhead)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            response = JSONResponse(
                error_body("PayloadTooLarge", f"request body exceeds {self.max_body_bytes} bytes"),
                status_code=413,
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, store: CampusStore | None = None) -> FastAPI:
    """The gridmap service. Pass ``store`` to share one (tests, CLI); else it is opened here."""
    settings = settings or Settings()
    own_store = store is None
    store = store or open_store(settings.resolved_database_url)
    ctx = AppContext(settings, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
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
    register_error_handlers(app)

    app.add_middleware(LimitsAndHeaders, max_body_bytes=settings.max_upload_bytes)
    app.include_router(routes_auth.public_router)
    app.include_router(routes_auth.session_router)
    app.include_router(routes_campus.router)
    app.include_router(routes_gazetteer.router)
    app.include_router(routes_map.router)
    return app
