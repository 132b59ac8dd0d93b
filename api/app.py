"""The FastAPI application, built by :func:`create_app` (never at import time).

``uvicorn --factory api.app:create_app`` builds it from ``GRIDMAP_*`` environment settings.
Only ``/healthz`` and ``/login`` are public; every other route, the API docs and the static
assets included, sits behind :func:`api.auth.current_principal`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from api import routes_auth, routes_campus, routes_map
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

    @app.middleware("http")
    async def limits_and_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_upload_bytes:
            return JSONResponse(
                error_body("PayloadTooLarge",
                           f"request body exceeds {settings.max_upload_bytes} bytes"),
                status_code=413,
            )
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.include_router(routes_auth.public_router)
    app.include_router(routes_auth.session_router)
    app.include_router(routes_campus.router)
    app.include_router(routes_map.router)
    return app
