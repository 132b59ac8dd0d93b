"""The campus gazetteer for dispatch systems: ``gazetteer.csv`` and ``gazetteer.json``.

Authenticated and audited like every campus route (:meth:`api.context.AppContext.loaded` refuses,
and audits, a campus the token may not see). The answer lists every room of a school, so it is
never cached by a browser or proxy: ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

import json
import re
import threading
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.auth import CurrentPrincipal, current_principal
from api.context import Ctx
from api.routes_campus import Revision
from gridmap.gazetteer import GazetteerRow, gazetteer, to_csv, to_geojson
from gridmap.index import CampusIndex

router = APIRouter(dependencies=[Depends(current_principal)])

NO_STORE = "private, no-store"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


# rows per loaded campus index (one per published revision in the app's cache): built once,
# dropped with the index when the cache lets it go
_rows: WeakKeyDictionary[CampusIndex, tuple[GazetteerRow, ...]] = WeakKeyDictionary()
_rows_lock = threading.Lock()


def _rows_of(index: CampusIndex) -> tuple[GazetteerRow, ...]:
    with _rows_lock:
        rows = _rows.get(index)
    if rows is None:
        rows = gazetteer(index)  # outside the lock: a large campus takes a moment
        with _rows_lock:
            _rows[index] = rows
    return rows


def _audited_rows(request: Request, ctx: Ctx, principal: CurrentPrincipal, campus_id: str,
                  revision: int | None, form: str) -> tuple[int, tuple[GazetteerRow, ...]]:
    """The revision served and its rows, once the token may see the campus; audited as ``form``."""
    loaded = ctx.loaded(request, campus_id, principal, revision)
    rows = _rows_of(loaded.index())
    ctx.audit(request, principal, "gazetteer", campus_id,
              f"{form}, revision {loaded.revision}, {len(rows)} rows")
    return loaded.revision, rows


def _download_name(campus_id: str, revision: int, suffix: str) -> str:
    return f"{_UNSAFE_FILENAME.sub('_', campus_id)[:80]}-r{revision}-gazetteer.{suffix}"


@router.get("/campuses/{campus_id}/gazetteer.csv",
            summary="Every building, room, door, point of interest and grounds feature (CSV)")
def gazetteer_csv(
    campus_id: str,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    revision: Revision = None,
) -> Response:
    served, rows = _audited_rows(request, ctx, principal, campus_id, revision, "csv")
    name = _download_name(campus_id, served, "csv")
    return Response(to_csv(rows).encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Cache-Control": NO_STORE,
                             "Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/campuses/{campus_id}/gazetteer.json",
            summary="The gazetteer as a GeoJSON FeatureCollection of points")
def gazetteer_json(
    campus_id: str,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    revision: Revision = None,
) -> Response:
    served, rows = _audited_rows(request, ctx, principal, campus_id, revision, "json")
    body = to_geojson(rows, campus_id=campus_id, revision=served)
    return Response(json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    media_type="application/geo+json",
                    headers={"Cache-Control": NO_STORE})
