"""A workspace's uploaded photo as XYZ tiles, for the maps of the workspace page.

``GET /workspaces/{ws}/files/{file}/imagery/{z}/{x}/{y}.png`` (and ``@2x``): the uploaded
GeoTIFF drawn like campus imagery (:func:`api.imagery.imagery_tile`, from the web mercator
copy :mod:`api.workspace_imagery` keeps). For the editors and admins of the district that owns
the workspace's campus, authorised as every workspace route is (another district's workspace
is 404, a right lacking 403, both audited). A file that is not a photo is 404. Tiles are audited
like plan tiles (``tiles``, once per token and campus a minute), ``Cache-Control: private``
with an ETag; a file id's photo never changes, so a browser may keep its tiles for a day.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from api import workspace_imagery
from api.auth import CurrentPrincipal, Principal, current_principal
from api.context import AppContext, Ctx
from api.errors import InvalidParameter
from api.imagery import AUDIT_LAYER, imagery_tile, imagery_tile_etag
from api.routes_workspace import ItemId, WsId, _workspace

router = APIRouter(dependencies=[Depends(current_principal)], tags=["workspace"])

#: the tile audit throttle's level key for workspace photos (not a campus's own imagery's)
WORKSPACE_AUDIT_LAYER = AUDIT_LAYER + 1
#: a file id names one upload's bytes for good: its tiles may be kept this long
TILE_MAX_AGE_S = 24 * 3600

Zoom = Annotated[int, PathParam(ge=0, le=24)]
TileX = Annotated[int, PathParam(ge=0, le=2**24 - 1)]
TileY = Annotated[int, PathParam(ge=0, le=2**24 - 1)]


@router.get("/workspaces/{ws_id}/files/{file_id}/imagery/{z}/{x}/{y}@2x.png",
            summary="An uploaded photo's tile, 512 px (XYZ, web mercator)",
            responses={200: {"content": {"image/png": {}}}})
def workspace_imagery_tile_2x(ws_id: WsId, file_id: ItemId, z: Zoom, x: TileX, y: TileY,
                              request: Request, ctx: Ctx,
                              principal: CurrentPrincipal) -> Response:
    return _tile(ctx, request, principal, ws_id, file_id, z, x, y, 2)


@router.get("/workspaces/{ws_id}/files/{file_id}/imagery/{z}/{x}/{y}.png",
            summary="An uploaded photo's tile, 256 px (XYZ, web mercator)",
            responses={200: {"content": {"image/png": {}}}})
def workspace_imagery_tile(ws_id: WsId, file_id: ItemId, z: Zoom, x: TileX, y: TileY,
                           request: Request, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    """The photo as the georeference step shows it under the parcel and the plan;
    transparent where the photo has nothing."""
    return _tile(ctx, request, principal, ws_id, file_id, z, x, y, 1)


def _tile(ctx: AppContext, request: Request, principal: Principal, ws_id: str, file_id: str,
          z: int, x: int, y: int, scale: int) -> Response:
    if x >= 2**z or y >= 2**z:
        raise InvalidParameter(f"tile {z}/{x}/{y} does not exist: x and y must be < 2^{z}")
    ws = _workspace(ctx, request, principal, ws_id)
    record = workspace_imagery.imagery_file(ws, file_id)
    key = workspace_imagery.tile_key(record.sha256)
    etag = imagery_tile_etag(key, z, x, y, scale)
    headers = {"Cache-Control": f"private, max-age={TILE_MAX_AGE_S}", "ETag": etag}
    detail = f"{ws.id} photo {record.id} z{z} {x}/{y}" + ("@2x" if scale == 2 else "")
    ctx.audit_tile(request, principal, ws.campus_id, WORKSPACE_AUDIT_LAYER, detail)
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    photo = workspace_imagery.site_photo(ctx.settings, ws, record)
    png = imagery_tile(photo.path, photo.key, z, x, y, scale=scale)
    return Response(png, media_type="image/png", headers=headers)
