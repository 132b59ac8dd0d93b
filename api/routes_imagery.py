"""A campus's aerial imagery over HTTP: attach (admins, editors), metadata, XYZ tiles.

Everything is authenticated, scoped to the campuses a token may see (another campus is
"unknown", 404) and audited: an attach or a refused file as ``imagery_attach`` /
``imagery_rejected``, a metadata read as ``imagery``, tiles like plan tiles (once per token and
campus a minute), refusals as ``denied``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentPrincipal, Principal, current_principal
from api.authz import Action
from api.context import AppContext, Ctx, _route_of
from api.errors import InvalidParameter
from api.imagery import (
    AUDIT_LAYER,
    attach_imagery,
    imagery_tile,
    imagery_tile_etag,
    imagery_tiles_url,
    materialise,
)
from api.routes_campus import CampusId
from api.store import ImageryInfo
from gridmap.errors import ImageryTooLarge, NoImagery
from importers.imagery import size_text

router = APIRouter(dependencies=[Depends(current_principal)])

NO_STORE = {"Cache-Control": "private, no-store"}
#: how long a browser may keep a tile whose URL names the current imagery version
VERSIONED_TILE_MAX_AGE_S = 24 * 3600

Zoom = Annotated[int, PathParam(ge=0, le=24)]
TileX = Annotated[int, PathParam(ge=0, le=2**24 - 1)]
TileY = Annotated[int, PathParam(ge=0, le=2**24 - 1)]
TileVersion = Annotated[str | None, Query(
    max_length=40, description="imagery version (the map page passes it); only changes how "
    "long the tile may be cached")]


def imagery_json(campus_id: str, info: ImageryInfo, versions: list[ImageryInfo], *,
                 with_actor: bool) -> dict[str, Any]:
    """The metadata of the current version and the list of versions; who attached it only for
    those who may read the campus's audit log (which says the same)."""
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, south, east, north = info.bounds_3857
    lon0, lat0 = to_lonlat.transform(west, south)
    lon1, lat1 = to_lonlat.transform(east, north)
    body: dict[str, Any] = {
        "campus": campus_id, "version": info.version, "created_at": info.created_at.isoformat(),
        "source_name": info.source_name, "source_crs": info.source_crs,
        "source_sha256": info.source_digest, "attribution": info.attribution,
        "sha256": info.digest, "size_bytes": info.size_bytes,
        "width": info.width, "height": info.height, "resolution_m": info.resolution_m,
        "crs": "EPSG:3857", "bounds_3857": list(info.bounds_3857),
        "bounds": [lon0, lat0, lon1, lat1],
        "tiles": f"{imagery_tiles_url(campus_id)}?v={info.version}",
        "versions": [{"version": v.version, "created_at": v.created_at.isoformat(),
                      "source_name": v.source_name, "sha256": v.digest} for v in versions],
    }
    if with_actor:
        body["attached_by"] = info.actor
    return body


@router.put("/campuses/{campus_id}/imagery", status_code=201,
            summary="Attach an orthophoto (GeoTIFF, any CRS) as the campus's new imagery version",
            openapi_extra={"requestBody": {"required": True, "content": {
                "image/tiff": {"schema": {"type": "string", "format": "binary"}}}}})
async def put_imagery(
    campus_id: CampusId,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    name: Annotated[str, Query(min_length=1, max_length=200,
                               description="the file's name, for the record")] = "upload.tif",
    attribution: Annotated[str, Query(max_length=300,
                                      description="credit shown on the map")] = "",
) -> JSONResponse:
    """The request body is the GeoTIFF itself (``curl -T ortho.tif``), at most
    ``GRIDMAP_IMAGERY_MAX_MB``. A bad file is refused with the problem named (422, 413) and
    nothing is stored; every earlier version stays."""
    await run_in_threadpool(ctx.check_access, request, campus_id, principal)
    await run_in_threadpool(ctx.authorize, request, principal, Action.EDIT, campus_id)
    data = await _body(request, ctx, principal, campus_id, name)

    def audit(action: str, detail: str) -> None:
        ctx.audit(request, principal, action, campus_id, detail)

    info = await run_in_threadpool(
        lambda: attach_imagery(ctx.store, ctx.settings, campus_id, data, source_name=name,
                               actor=f"token:{principal.name}", audit=audit,
                               attribution=attribution))
    versions = await run_in_threadpool(ctx.store.imagery_versions, campus_id)
    with_actor = await run_in_threadpool(ctx.may, principal, Action.READ_AUDIT, campus_id)
    return JSONResponse(imagery_json(campus_id, info, versions, with_actor=with_actor),
                        status_code=201, headers=NO_STORE)


async def _body(request: Request, ctx: AppContext, principal: Principal, campus_id: str,
                name: str) -> bytes:
    """The upload, refused (and audited) as soon as it passes the limit."""
    limit = ctx.settings.imagery_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        _refuse_size(request, ctx, principal, campus_id, name, int(declared), limit)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            _refuse_size(request, ctx, principal, campus_id, name, received, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_size(request: Request, ctx: AppContext, principal: Principal, campus_id: str,
                 name: str, size: int, limit: int) -> None:
    more = "" if request.headers.get("content-length") else "at least "
    exc = ImageryTooLarge(f"imagery upload is {more}{size_text(size)}, over the "
                          f"{size_text(limit)} limit (GRIDMAP_IMAGERY_MAX_MB)")
    ctx.audit(request, principal, "imagery_rejected", campus_id, f"{name}: {exc}")
    raise exc


@router.get("/campuses/{campus_id}/imagery", summary="The campus's current imagery: metadata")
def get_imagery(
    campus_id: CampusId, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> JSONResponse:
    ctx.check_access(request, campus_id, principal)
    info = _current(ctx, request, principal, campus_id)
    ctx.audit(request, principal, "imagery", campus_id, f"version {info.version}")
    body = imagery_json(campus_id, info, ctx.store.imagery_versions(campus_id),
                        with_actor=ctx.may(principal, Action.READ_AUDIT, campus_id))
    return JSONResponse(body, headers=NO_STORE)


def _current(ctx: AppContext, request: Request, principal: Principal,
             campus_id: str) -> ImageryInfo:
    info = ctx.store.imagery_info(campus_id)
    if info is None:
        exc = NoImagery(
            f"campus {campus_id} has no imagery",
            user_message=f"campus {campus_id!r} has no imagery; attach an orthophoto with "
            f"PUT /campuses/{campus_id}/imagery or `gridmap imagery {campus_id} FILE`")
        ctx.refused(request, principal, 404, _route_of(request), str(exc), campus_id)
        raise exc
    return info


@router.get("/campuses/{campus_id}/imagery/tiles/{z}/{x}/{y}@2x.png",
            summary="Imagery tile, 512 px (XYZ, web mercator)")
def imagery_tile_2x(
    campus_id: CampusId, z: Zoom, x: TileX, y: TileY, request: Request, ctx: Ctx,
    principal: CurrentPrincipal, v: TileVersion = None,
) -> Response:
    return _tile(ctx, request, principal, campus_id, z, x, y, 2, v)


@router.get("/campuses/{campus_id}/imagery/tiles/{z}/{x}/{y}.png",
            summary="Imagery tile, 256 px (XYZ, web mercator)")
def imagery_tile_1x(
    campus_id: CampusId, z: Zoom, x: TileX, y: TileY, request: Request, ctx: Ctx,
    principal: CurrentPrincipal, v: TileVersion = None,
) -> Response:
    return _tile(ctx, request, principal, campus_id, z, x, y, 1, v)


def _tile(ctx: AppContext, request: Request, principal: Principal, campus_id: str, z: int,
          x: int, y: int, scale: int, v: str | None) -> Response:
    """Like plan tiles: always the current version; cacheable for a day when ``v`` names it,
    else revalidated; an ``If-None-Match`` with the tile's ETag gets a 304, not a drawing."""
    if x >= 2**z or y >= 2**z:
        raise InvalidParameter(f"tile {z}/{x}/{y} does not exist: x and y must be < 2^{z}")
    ctx.check_access(request, campus_id, principal)
    info = _current(ctx, request, principal, campus_id)
    versioned = v is not None and v == str(info.version)
    cache = f"private, max-age={VERSIONED_TILE_MAX_AGE_S}" if versioned else "private, no-cache"
    etag = imagery_tile_etag(info.digest, z, x, y, scale)
    headers = {"Cache-Control": cache, "ETag": etag}
    detail = f"imagery v{info.version} z{z} {x}/{y}" + ("@2x" if scale == 2 else "")
    ctx.audit_tile(request, principal, campus_id, AUDIT_LAYER, detail)
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    path = materialise(ctx.store, ctx.settings.data_dir, info)  # the version the ETag names
    png = imagery_tile(path, info.digest, z, x, y, scale=scale)
    return Response(png, media_type="image/png", headers=headers)
