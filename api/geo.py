"""JSON shapes the API serves about a campus: detail, per-level GeoJSON, grid cells as polygons."""

from __future__ import annotations

from typing import Any

from shapely.geometry import box

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import LevelNotFound
from gridmap.model import Campus
from gridmap.serialize import feature_to_dict, geometry_to_dict, grid_to_dict

_CELL_SEGMENT_M = 5.0  # densify cell edges so they stay straight lines on any map projection


def campus_detail(campus: Campus, revision: int) -> dict[str, Any]:
    frame = LocalFrame(campus.crs)
    spec = campus.grid
    origin_lon, origin_lat = frame.lonlat(spec.origin_x, spec.origin_y)
    levels_by_building: dict[str, list[dict[str, Any]]] = {b.id: [] for b in campus.buildings}
    for lv in sorted(campus.levels, key=lambda lv: lv.ordinal):
        levels_by_building.setdefault(lv.building_id, []).append(
            {"id": lv.id, "ordinal": lv.ordinal, "name": lv.name, "short_name": lv.short_name}
        )
    return {
        "id": campus.id,
        "name": campus.name,
        "address": campus.address,
        "revision": revision,
        "crs": campus.crs,
        "bounds": [round(v, 7) for v in grid.lonlat_bounds(spec, frame)],
        "grid": {
            **grid_to_dict(spec),
            "cell_size_m": spec.cell_size_m,
            "origin": {"x": spec.origin_x, "y": spec.origin_y,
                       "lon": round(origin_lon, 7), "lat": round(origin_lat, 7)},
            "first_cell": "A1",
            "last_cell": grid.cell_label(spec.columns - 1, spec.rows - 1),
        },
        "buildings": [
            {"id": b.id, "name": b.name, "short_name": b.short_name, "aliases": list(b.aliases),
             "levels": levels_by_building.get(b.id, [])}
            for b in campus.buildings
        ],
        "levels": [{"ordinal": o, "name": campus.ordinal_name(o)} for o in campus.ordinals],
        "counts": {
            "buildings": len(campus.buildings),
            "levels": len(campus.levels),
            "units": len(campus.units),
            "openings": len(campus.openings),
            "exterior_doors": len(campus.exterior_doors()),
            "amenities": len(campus.amenities),
            "grounds": len(campus.grounds),
        },
        "links": {
            "map": f"/campuses/{campus.id}/map",
            "grid": f"/campuses/{campus.id}/grid.geojson",
            "levels": [f"/campuses/{campus.id}/levels/{o}.geojson" for o in campus.ordinals],
        },
    }


def level_feature_collection(
    campus: Campus, ordinal: int, *, with_cells: bool = False
) -> dict[str, Any]:
    """Everything on one level ordinal across buildings, plus footprints (and grid cells).

    Outdoor amenities (no level) belong to the ground level, ordinal 0.
    """
    level_ids = {lv.id for lv in campus.levels if lv.ordinal == ordinal}
    if not level_ids:
        raise LevelNotFound(
            f"campus {campus.id} has no level {ordinal}",
            user_message=f"no level with ordinal {ordinal}; this campus has "
            + ", ".join(str(o) for o in campus.ordinals),
        )
    building_ids = {lv.building_id for lv in campus.levels if lv.id in level_ids}
    features: list[dict[str, Any]] = []
    features += [feature_to_dict(b) for b in campus.buildings if b.id in building_ids]
    features += [feature_to_dict(u) for u in campus.units if u.level_id in level_ids]
    features += [feature_to_dict(o) for o in campus.openings if o.level_id in level_ids]
    features += [
        feature_to_dict(a) for a in campus.amenities
        if a.level_id in level_ids or (a.level_id is None and ordinal == 0)
    ]
    if with_cells:
        features += grid_feature_collection(campus)["features"]
    return {
        "type": "FeatureCollection",
        "campus": campus.id,
        "level_ordinal": ordinal,
        "features": features,
    }


def grid_feature_collection(campus: Campus) -> dict[str, Any]:
    """Every grid cell as a lon/lat polygon labelled ``C4``."""
    frame = LocalFrame(campus.crs)
    features = []
    for cell in grid.all_cells(campus.grid):
        poly = box(*grid.cell_bounds(campus.grid, cell)).segmentize(_CELL_SEGMENT_M)
        features.append({
            "type": "Feature",
            "id": cell.label,
            "feature_type": "grid_cell",
            "geometry": geometry_to_dict(frame.to_wgs84(poly)),
            "properties": {"label": cell.label, "column": grid.column_label(cell.column),
                           "row": cell.row + 1},
        })
    return {"type": "FeatureCollection", "campus": campus.id, "features": features}
