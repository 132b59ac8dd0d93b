"""The one place that maps errors to HTTP responses.

Routes raise :mod:`gridmap.errors` classes (or the few API-only ones below) and never build an
``HTTPException``. :data:`STATUS_CODES` maps each class to a status; the handler walks the
exception's MRO, so a subclass inherits its parent's status unless listed itself. Clients see
``{"error": {"type": ..., "message": user_message}}``; unexpected errors are logged and answered
with a generic 500 so internals never leak.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.audit import AuditUnavailable
from gridmap.errors import (
    CampusNotFound,
    Conflict,
    Forbidden,
    GridmapError,
    ImageryError,
    ImageryTooLarge,
    ImportFailed,
    InvalidCellLabel,
    InvalidModel,
    InvalidQuery,
    InvalidUSNG,
    JobConflict,
    LevelNotFound,
    NotFound,
    OutsideGrid,
    PayloadTooLarge,
    Unauthenticated,
    Unservable,
)

log = logging.getLogger(__name__)


class FeatureUnavailable(GridmapError):
    """A part of the service (tiles, web map) is not installed or not ready yet."""


class InvalidParameter(GridmapError, ValueError):
    """A request parameter is out of range or malformed."""


STATUS_CODES: dict[type[Exception], int] = {
    InvalidCellLabel: 400,
    InvalidUSNG: 400,
    InvalidQuery: 400,
    InvalidParameter: 400,
    ImportFailed: 400,
    ImageryError: 422,  # the file arrived whole but cannot be used as an orthophoto
    ImageryTooLarge: 413,
    Unservable: 422,
    InvalidModel: 422,
    OutsideGrid: 404,
    NotFound: 404,
    CampusNotFound: 404,
    LevelNotFound: 404,
    JobConflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    Conflict: 409,
    PayloadTooLarge: 413,
    FeatureUnavailable: 503,
    AuditUnavailable: 503,
    GridmapError: 400,
}


def status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def error_body(kind: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"type": kind, "message": message}}


def wants_html(request: Request) -> bool:
    """A browser navigation (GET asking for HTML) rather than an API or fetch call."""
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def audit_refusal(request: Request, exc: GridmapError, status: int) -> None:
    """A 401 or 403 is audited as ``denied`` (coalesced per source and minute); a failure
    to write it is logged and does not change the answer."""
    from api.context import AppContext, _route_of

    ctx = getattr(request.app.state, "ctx", None)
    if not isinstance(ctx, AppContext):
        return
    try:
        ctx.refused(request, getattr(request.state, "principal", None), status,
                    _route_of(request), str(exc))
    except Exception:
        log.exception("auditing a refused request failed")


def gridmap_error_response(request: Request, exc: GridmapError) -> Response:
    status = status_for(exc)
    if isinstance(exc, Unauthenticated | Forbidden):
        audit_refusal(request, exc, status)
    if isinstance(exc, Unauthenticated) and wants_html(request):
        return login_redirect(request)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status >= 500:
        log.warning("%s on %s: %s", type(exc).__name__, request.url.path, exc)
    return JSONResponse(
        error_body(type(exc).__name__, exc.user_message), status_code=status, headers=headers
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "; ".join(parts) or "invalid request"


Handler = Callable[[Request, Exception], Awaitable[Response]]


def handler_for(kind: type[Exception]) -> Handler:
    """The one handler factory: turns any exception class into the JSON error envelope."""

    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, GridmapError):
            return gridmap_error_response(request, exc)
        if isinstance(exc, RequestValidationError):
            return JSONResponse(
                error_body("InvalidParameter", _validation_message(exc)), status_code=422
            )
        if isinstance(exc, StarletteHTTPException):
            message = {404: "not found", 405: "method not allowed"}.get(
                exc.status_code, str(exc.detail)
            )
            return JSONResponse(
                error_body("HTTPError", message), status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("InternalError", "internal server error"), status_code=500)

    handle.__name__ = f"handle_{kind.__name__}"
    return handle


def register_error_handlers(app: FastAPI) -> None:
    for kind in (GridmapError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, handler_for(kind))
