"""Nothing that cannot be served is ever published.

:func:`check_servable` runs on an imported campus before its revision is saved: it asks the
campus every question the service will (its numbers, its geometries, its stored form, a lookup,
a map tile, each level's GeoJSON, the grid, every building's walking network) and raises
:class:`gridmap.errors.Unservable` with the reason at the first that fails. Called before
``save_revision``, a bad import is refused and the current revision stays current.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from api.settings import Settings
from gridmap.errors import GridmapError, Unservable
from gridmap.model import Campus
from importers.limits import ImportLimits

if TYPE_CHECKING:
    from gridmap.index import CampusIndex

T = TypeVar("T")

_TILE_ZOOM = 18  # building scale: rooms, doors and labels are all drawn
_MAX_STORED_BYTES = 256 * 1024 * 1024  # a campus's serialised features


def import_limits(settings: Settings) -> ImportLimits:
    """The import limits the service's settings ask for."""
    return ImportLimits(time_limit_s=settings.import_time_limit_s,
                        memory_limit_mb=settings.import_memory_limit_mb)


def check_servable(campus: Campus) -> list[str]:
    """Raise :class:`Unservable` naming the first thing about ``campus`` the service could not
    serve. If a lookup, a tile, each level's GeoJSON, the grid and every building's walking
    network all work, return how each building's nearby answers are measured (one line each,
    for the import report)."""
    where = f"campus {campus.id}"
    try:
        _check_geometries(campus)
        _step(where, "its stored form", lambda: _round_trip(campus))
        _step(where, "the campus summary", lambda: _json(_detail(campus)))
        for ordinal in campus.ordinals:
            _step(where, f"level {ordinal} GeoJSON", partial(_level_json, campus, ordinal))
        _step(where, "the grid GeoJSON", lambda: _json(_grid(campus)))
        index = _step(where, "the spatial index", lambda: _index(campus))
        _step(where, "a lookup", lambda: _one_lookup(index))
        _step(where, "a map tile", lambda: _tiles(campus))
        return _step(where, "the walking network", index.walk_summary)
    except Unservable as exc:
        raise Unservable(f"{exc}; the import was not published") from exc.__cause__


def _step(where: str, what: str, run: Callable[[], T]) -> T:
    try:
        return run()
    except Unservable:
        raise
    except (GridmapError, ValueError, TypeError, ArithmeticError, KeyError, IndexError,
            AttributeError, shapely.errors.ShapelyError) as exc:
        reason = str(exc).strip()[:300] or type(exc).__name__
        raise Unservable(
            f"{where}: {what} cannot be served ({type(exc).__name__}: {reason})"
        ) from exc


# --- numbers and geometries -----------------------------------------------------------------


def _geometries(campus: Campus) -> Iterator[tuple[str, BaseGeometry | None, bool]]:
    """(what, geometry, must be an area) for every geometry the campus holds."""
    if campus.parcel is not None:
        yield "the parcel", campus.parcel, True
    for b in campus.buildings:
        yield f"building {b.short_name or b.id} footprint", b.footprint, True
    for u in campus.units:
        yield f"room {u.number or u.name or u.id} ({u.id})", u.geometry, True
    for o in campus.openings:
        yield f"door {o.number or 'unnumbered'} ({o.id})", o.geometry, False
    for a in campus.amenities:
        yield f"{a.kind.value} {a.name!r} ({a.id})", a.geometry, False
    for g in campus.grounds:
        yield f"grounds {g.kind.value} {g.name!r} ({g.id})", g.geometry, False


def _check_geometries(campus: Campus) -> None:
    spec = campus.grid
    numbers = (spec.origin_x, spec.origin_y, spec.cell_size)
    if not all(math.isfinite(v) for v in numbers):
        raise Unservable(f"campus {campus.id}: the grid's origin or cell size is not a number "
                         f"({spec.origin_x}, {spec.origin_y}, {spec.cell_size})")
    for what, geom, area in _geometries(campus):
        _check_geometry(campus.id, what, geom, area)


def _check_geometry(campus_id: str, what: str, geom: BaseGeometry | None, area: bool) -> None:
    where = f"campus {campus_id}: {what}"
    if geom is None or geom.is_empty:
        raise Unservable(f"{where} has no geometry")
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():
        bad = xy[~np.isfinite(xy).all(axis=1)][0]
        raise Unservable(f"{where} has a coordinate that is not a number "
                         f"({bad[0]}, {bad[1]})")
    lon_ok = (np.abs(xy[:, 0]) <= 180.0).all()
    lat_ok = (np.abs(xy[:, 1]) <= 90.0).all()
    if not (lon_ok and lat_ok):
        raise Unservable(f"{where} lies off the earth (a coordinate beyond longitude ±180 "
                         "or latitude ±90)")
    if not geom.is_valid:
        raise Unservable(f"{where} is not a valid geometry ({shapely.is_valid_reason(geom)})")
    if area and geom.area <= 0:
        raise Unservable(f"{where} has no area")


# --- what the service answers -----------------------------------------------------------------


def _dumps(data: Any) -> str:
    """Serialise as the API does (no NaN, no Infinity)."""
    return json.dumps(data, allow_nan=False, separators=(",", ":"))


def _json(data: Any) -> int:
    """Serialise as the API does; the size in bytes."""
    return len(_dumps(data))


def _round_trip(campus: Campus) -> None:
    from gridmap.serialize import campus_from_geojson, campus_to_geojson

    text = _dumps(campus_to_geojson(campus))
    size = len(text)
    if size > _MAX_STORED_BYTES:
        raise Unservable(f"campus {campus.id} serialises to {size:,} bytes, more than the "
                         f"{_MAX_STORED_BYTES:,} a revision may hold")
    back = campus_from_geojson(json.loads(text))
    if (len(back.units), len(back.openings), len(back.levels)) != (
            len(campus.units), len(campus.openings), len(campus.levels)):
        raise Unservable(f"campus {campus.id} does not read back as it was written")


def _detail(campus: Campus) -> Any:
    from api.geo import campus_detail

    return campus_detail(campus, 1)


def _level_json(campus: Campus, ordinal: int) -> int:
    from api.geo import level_feature_collection

    return _json(level_feature_collection(campus, ordinal))


def _grid(campus: Campus) -> Any:
    from api.geo import grid_feature_collection

    return grid_feature_collection(campus)


def _index(campus: Campus) -> CampusIndex:
    from gridmap.index import CampusIndex

    return CampusIndex(campus)


def _one_lookup(index: CampusIndex) -> None:
    from gridmap.lookup import lookup

    query = next((u.number for u in index.campus.units if u.number), "") or "A1"
    lookup(index, query).to_dict()


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ (Web Mercator) tile holding ``lon``, ``lat`` at zoom ``z``."""
    n = 2 ** z
    lat = max(-85.0511, min(85.0511, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _tiles(campus: Campus) -> None:
    """One tile per level, at the first building (or the parcel, or the grid's centre)."""
    from gridmap import grid
    from gridmap.crs import LocalFrame
    from tiles.raster import CampusDrawing

    drawing = CampusDrawing(campus)
    if campus.buildings:
        centre = campus.buildings[0].footprint.representative_point()
        lon, lat = centre.x, centre.y
    else:
        b = grid.lonlat_bounds(campus.grid, LocalFrame(campus.crs))
        lon, lat = (b.minx + b.maxx) / 2.0, (b.miny + b.maxy) / 2.0
    x, y = tile_at(lon, lat, _TILE_ZOOM)
    for ordinal in campus.ordinals:
        png = drawing.render(ordinal, _TILE_ZOOM, x, y)
        if not png.startswith(b"\x89PNG"):
            raise Unservable(f"campus {campus.id}: level {ordinal} tile is not a PNG")
