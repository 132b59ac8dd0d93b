"""What browsers load: home page, web map page, raster tiles, static assets, API docs.

Static files are served by a route (not a mounted ``StaticFiles`` app) so they sit behind the
same authentication as everything else. Browser libraries come from npm (``node_modules``):
Leaflet for the map, Swagger UI for ``/docs``; nothing is loaded from a CDN.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import mimetypes
import re
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import CAMPUS_ID_PATTERN, MAX_CAMPUS_ID, AppContext, Ctx
from api.errors import FeatureUnavailable, InvalidParameter
from api.imagery import imagery_layer
from api.quick_route import bounded_int, quick_route
from api.routes_auth import FORM_PAGE_HEADERS
from api.routes_campus import CampusId, Ordinal
from api.security import html_csp, inline_script_hashes
from gridmap import __version__
from gridmap.errors import GridmapError, NotFound
from tiles import raster, webmap

router = APIRouter(dependencies=[Depends(current_principal)])

#: How long a browser may keep a tile whose URL names the campus's current revision.
VERSIONED_TILE_MAX_AGE_S = 24 * 3600
#: Campus pages (they list campuses and hold the map's data) are never kept by a browser.
NO_STORE = {"Cache-Control": "private, no-store"}


def _renderer_id() -> str:
    """Identifies the tile renderer's code and style, so a new release never revalidates old
    tiles."""
    from tiles import cartography, map_features, map_view, mapnik_style, style, symbols

    digest = hashlib.sha256(__version__.encode())
    for module in (raster, cartography, map_view, map_features, mapnik_style, style, symbols):
        with contextlib.suppress(OSError, TypeError):
            digest.update(b"\0" + Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


_RENDERER = _renderer_id()


def tile_etag(campus_id: str, revision: int, ordinal: int, z: int, x: int, y: int,
              scale: int = 1) -> str:
    """A strong ETag of one tile: its campus revision, level, coordinates, scale and the
    renderer."""
    key = f"{_RENDERER}|{campus_id}|{revision}|{ordinal}|{z}|{x}|{y}|{scale}"
    return '"' + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + '"'


@router.get("/", response_class=HTMLResponse, summary="Campuses this caller may see, as links")
def home(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> HTMLResponse:
    from api.store import utcnow
    from api.store_publish import publishing

    visible = ctx.visible_campuses(principal)
    shown = [c for c in ctx.store.list_campuses() if c.id in visible]
    statuses = publishing(ctx.store).statuses([c.id for c in shown])
    today = utcnow().date()

    def walk_through(campus_id: str) -> str:
        status = statuses[campus_id].to_dict(today)
        text = html.escape(status["line"])
        return f"<strong>overdue: {text}</strong>" if status["overdue"] else text

    items = "".join(
        f'<li><a href="/campuses/{html.escape(c.id)}/map">{html.escape(c.name)}</a>'
        f" (revision {c.current_revision}; {walk_through(c.id)})</li>"
        for c in shown
    ) or "<li>No campuses yet.</li>"
    # a district's editors bring in their floor plans on the workspace page
    workspace = ('<p><a href="/workspace">Bring in floor plans (workspace)</a></p>'
                 if ctx.may(principal, Action.EDIT) else "")
    ctx.audit(request, principal, "list_campuses", None, "home page")
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>gridmap</title></head>"
        f"<body><h1>gridmap</h1><p>Signed in as {html.escape(principal.name)}.</p>"
        f"<ul>{items}</ul>{workspace}"
        "<form method=post action=/logout><button>Sign out</button></form>"
        "</body></html>",
        headers={**FORM_PAGE_HEADERS, **NO_STORE},
    )


@router.get("/campuses/{campus_id}/map", response_class=HTMLResponse, summary="The web map")
def map_page(
    campus_id: CampusId, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> HTMLResponse:
    """The page loads its scripts from /static and its tiles, imagery and lookups from this
    origin; imagery from the configured provider when the campus has none of its own (its
    origin is then allowed for images by the page's policy)."""
    loaded = ctx.loaded(request, campus_id, principal)
    imagery = imagery_layer(ctx, campus_id)
    from api.store import utcnow
    from api.store_publish import publishing

    verification = publishing(ctx.store).status(campus_id).to_dict(utcnow().date())
    page = webmap.map_page(loaded.campus, revision=loaded.revision, imagery=imagery,
                           verification=verification)
    ctx.audit(request, principal, "map_page", campus_id, f"revision {loaded.revision}")
    csp = webmap.map_csp(imagery=imagery) + "; frame-ancestors 'none'"
    return HTMLResponse(page, headers={**NO_STORE, "Content-Security-Policy": csp})


TileZ = Annotated[int, PathParam(ge=0, le=raster.MAX_ZOOM)]
TileXY = Annotated[int, PathParam(ge=0, le=2**raster.MAX_ZOOM - 1)]
TileVersion = Annotated[str | None, Query(
    max_length=40, description="tile version (the map page passes the campus revision); "
    "only changes how long the tile may be cached")]


def _tile_cache(request: Request) -> raster.TileCache:
    """The app's cache of drawn tiles (one per app, so apps and their tests never share)."""
    cache: raster.TileCache | None = getattr(request.app.state, "tile_cache", None)
    if cache is None:
        limit = int(request.app.state.ctx.settings.tile_cache_mb * 1024 * 1024)
        cache = request.app.state.tile_cache = raster.TileCache(limit)
    return cache


def _tile_headers(campus_id: str, revision: int, ordinal: int, z: int, x: int, y: int,
                  scale: int, v: str | None) -> dict[str, str]:
    versioned = v is not None and v == str(revision)
    cache = f"private, max-age={VERSIONED_TILE_MAX_AGE_S}" if versioned else "private, no-cache"
    return {"Cache-Control": cache, "ETag": tile_etag(campus_id, revision, ordinal, z, x, y,
                                                      scale)}


def _revalidated(request: Request, headers: dict[str, str]) -> bool:
    return headers["ETag"] in {t.strip() for t in
                               request.headers.get("if-none-match", "").split(",")}


def _tile_where(ordinal: int, z: int, x: int, y: int, scale: int) -> str:
    return f"level {ordinal} z{z} {x}/{y}" + ("@2x" if scale == 2 else "")


def _tile_response(request: Request, ctx: Ctx, principal: CurrentPrincipal, campus_id: str,
                   ordinal: int, z: int, x: int, y: int, scale: int, v: str | None) -> Response:
    """The tile, drawn if this revision's tile is not kept yet (in a worker thread)."""
    loaded = ctx.loaded(request, campus_id, principal)
    headers = _tile_headers(campus_id, loaded.revision, ordinal, z, x, y, scale, v)
    where = _tile_where(ordinal, z, x, y, scale)
    if _revalidated(request, headers):
        ctx.audit_tile(request, principal, campus_id, ordinal, where)
        return Response(status_code=304, headers=headers)
    tiles = _tile_cache(request)
    key = raster.TileKey(campus_id, loaded.revision, ordinal, z, x, y, scale)
    png = tiles.get(key)
    if png is None:
        png = (raster.render_tile(loaded.campus, ordinal, z, x, y) if scale == 1
               else raster.render_tile(loaded.campus, ordinal, z, x, y, scale=scale))
        tiles.put(key, png)
    ctx.audit_tile(request, principal, campus_id, ordinal, where)
    return Response(png, media_type="image/png", headers=headers)


def _kept_tile(request: Request, ctx: AppContext, principal: Principal, campus_id: str,
               ordinal: int, z: int, x: int, y: int, scale: int,
               v: str | None) -> Response | None:
    """The answer when it needs no drawing and no I/O: this revision's kept tile, or a 304,
    audited; None when the campus is not loaded, the tile not kept or the audit could block."""
    loaded = ctx.loaded_if_cached(campus_id, principal)
    if loaded is None or ctx.audit_would_wait():
        return None
    headers = _tile_headers(campus_id, loaded.revision, ordinal, z, x, y, scale, v)
    revalidated = _revalidated(request, headers)
    png = None if revalidated else _tile_cache(request).get(
        raster.TileKey(campus_id, loaded.revision, ordinal, z, x, y, scale))
    if not revalidated and png is None:
        return None
    ctx.audit_tile(request, principal, campus_id, ordinal, _tile_where(ordinal, z, x, y, scale))
    if png is None:
        return Response(status_code=304, headers=headers)
    return Response(png, media_type="image/png", headers=headers)


async def _tile(request: Request, ctx: Ctx, principal: CurrentPrincipal, campus_id: str,
                ordinal: int, z: int, x: int, y: int, scale: int, v: str | None) -> Response:
    """Always the current revision. A tile asked for with ``v`` equal to that revision may be
    cached for a day (a new import changes the URLs); any other tile must be revalidated, so
    old and new maps never mix. Every tile carries an ``ETag``; a browser revalidating with
    ``If-None-Match`` gets a 304 without the tile being drawn again. Drawn tiles are kept per
    campus revision, so the same tile for another officer is not drawn again either: such a
    tile (or a 304) is answered on the event loop; anything else (a first load, a refusal, a
    drawing, an audit queue that could block) in a worker thread. Every request is audited."""
    if x >= 2**z or y >= 2**z:
        raise InvalidParameter(f"tile {z}/{x}/{y} does not exist: x and y must be < 2^{z}")
    kept = _kept_tile(request, ctx, principal, campus_id, ordinal, z, x, y, scale, v)
    if kept is not None:
        return kept
    return await run_in_threadpool(_tile_response, request, ctx, principal, campus_id, ordinal,
                                   z, x, y, scale, v)


TILE_PATH = "/campuses/{campus_id}/levels/{ordinal}/tiles/{z}/{x}/{y}.png"
TILE_2X_PATH = "/campuses/{campus_id}/levels/{ordinal}/tiles/{z}/{x}/{y}@2x.png"


_CAMPUS_ID = re.compile(CAMPUS_ID_PATTERN)


async def _kept_tile_fast(request: Request, scale: int) -> Response | None:
    """:func:`_kept_tile` straight from the raw path parameters, for a valid URL and a
    credential the store has cached; None for anything else (to refuse, validate, load or
    draw), which the route's FastAPI handler then answers as if this did not exist."""
    if request.method != "GET":
        return None
    params = request.path_params
    campus_id = str(params.get("campus_id", ""))
    ordinal = bounded_int(str(params.get("ordinal", "")), -1000, 1000)
    z = bounded_int(str(params.get("z", "")), 0, raster.MAX_ZOOM)
    if (ordinal is None or z is None or not 0 < len(campus_id) <= MAX_CAMPUS_ID
            or not _CAMPUS_ID.match(campus_id)):
        return None
    x = bounded_int(str(params.get("x", "")), 0, 2**z - 1)
    y = bounded_int(str(params.get("y", "")), 0, 2**z - 1)
    versions = request.query_params.getlist("v")
    if x is None or y is None or len(versions) > 1 or any(len(v) > 40 for v in versions):
        return None
    try:
        principal = await current_principal(request)
    except GridmapError:
        return None  # the handler refuses it, and audits that
    return _kept_tile(request, request.app.state.ctx, principal, campus_id, ordinal, z, x, y,
                      scale, versions[0] if versions else None)


async def tile_2x(campus_id: CampusId, ordinal: Ordinal, z: TileZ, x: TileXY, y: TileXY,
                  request: Request, ctx: Ctx, principal: CurrentPrincipal,
                  v: TileVersion = None) -> Response:
    """As the 256-pixel tile, drawn at twice the pixel density for high-density screens."""
    return await _tile(request, ctx, principal, campus_id, ordinal, z, x, y, 2, v)


async def tile(campus_id: CampusId, ordinal: Ordinal, z: TileZ, x: TileXY, y: TileXY,
               request: Request, ctx: Ctx, principal: CurrentPrincipal,
               v: TileVersion = None) -> Response:
    """A 256-pixel tile; see the ``@2x`` route for high-density screens."""
    return await _tile(request, ctx, principal, campus_id, ordinal, z, x, y, 1, v)


# the @2x route comes first: "{y}.png" would otherwise take "5@2x.png" and refuse "5@2x"
router.add_api_route(
    TILE_2X_PATH, tile_2x, methods=["GET"],
    route_class_override=quick_route(partial(_kept_tile_fast, scale=2)),
    summary="High-density raster tile (512 pixels, XYZ web mercator) of one level")
router.add_api_route(TILE_PATH, tile, methods=["GET"],
                     route_class_override=quick_route(partial(_kept_tile_fast, scale=1)),
                     summary="Raster tile (XYZ, web mercator) of one level")


@router.get("/static/{path:path}", summary="Web map assets (Leaflet, gridmap.js/css)")
def static(path: str) -> FileResponse:
    """``/static/vendor/leaflet/...`` from Leaflet's dist dir, ``/static/vendor/swagger-ui/...``
    from Swagger UI's, ``/static/gridmap/...`` ours."""
    if "\x00" in path or len(path) > 500:
        raise NotFound(f"static path with NUL or over-long ({len(path)})", user_message="not found")
    relative = Path(path)
    if relative.is_absolute() or ".." in relative.parts:
        raise NotFound(f"static path {path!r} rejected", user_message="not found")
    parts = relative.parts
    if parts[:2] == ("vendor", "leaflet"):
        root, inside = _vendor_root(), parts[2:]
    elif parts[:2] == ("vendor", "swagger-ui"):
        root, inside = _swagger_root(), parts[2:]
    elif parts[:1] == ("gridmap",):
        root, inside = Path(webmap.STATIC_DIR), parts[1:]
    else:
        raise NotFound(f"no static file {path!r}", user_message="not found")
    root = root.resolve()
    resolved = root.joinpath(*inside).resolve() if inside else root
    if not (resolved.is_relative_to(root) and resolved.is_file()):
        raise NotFound(f"no static file {path!r}", user_message="not found")
    media_type = mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
    return FileResponse(resolved, media_type=media_type,
                        headers={"Cache-Control": "private, max-age=3600"})


def _vendor_root() -> Path:
    try:
        return webmap.vendor_dir()
    except FileNotFoundError as exc:  # tiles.webmap.VendorAssetsMissing: npm ci not run
        raise FeatureUnavailable(str(exc), user_message="web map assets are not installed") from exc


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


def _swagger_root() -> Path:
    root = webmap.NODE_MODULES / "swagger-ui-dist"
    if not (root / "swagger-ui-bundle.js").is_file():
        raise FeatureUnavailable(f"{root} has no swagger-ui-bundle.js; run `npm ci`",
                                 user_message="API docs assets are not installed")
    return root


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    """Swagger UI from npm's swagger-ui-dist, served here (FastAPI's default uses a CDN)."""
    page = get_swagger_ui_html(
        openapi_url="/openapi.json", title="gridmap API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
    )
    # its one inline script (the set-up call) is allowed by hash, nothing else inline
    hashes = inline_script_hashes(bytes(page.body).decode("utf-8"))
    page.headers["Content-Security-Policy"] = html_csp(hashes)
    return page
