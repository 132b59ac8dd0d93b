"""Parcel boundary and grounds (parking, fields, roads) from GIS files.

Anything GDAL reads through pyogrio works: GeoJSON, GeoPackage, Shapefile (zipped or not).
Data is reprojected to WGS84. A file with no CRS is taken as WGS84 only if its coordinates
look like longitude/latitude; otherwise it is refused rather than placed at a wrong spot.

A ``kind`` column, when present, separates features: ``parcel`` rows form the parcel, the
others must be :class:`gridmap.model.GroundsKind` values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import unary_union

from gridmap.errors import ParcelError
from gridmap.model import GroundsFeature, GroundsKind, stable_id

PARCEL_KIND = "parcel"


def read_gis(path: Path) -> Any:
    """Read any pyogrio-readable vector file as a WGS84 GeoDataFrame."""
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises many types: all mean unreadable
        raise ParcelError(f"{path.name}: cannot read GIS file ({exc})") from exc
    if len(gdf) == 0:
        raise ParcelError(f"{path.name}: the file holds no features")
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    elif gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    minx, miny, maxx, maxy = gdf.total_bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        # GeoJSON is WGS84 by definition, so projected numbers in it arrive here unflagged
        raise ParcelError(
            f"{path.name}: coordinates are not longitude/latitude (bounds {minx:.0f}, "
            f"{miny:.0f}, {maxx:.0f}, {maxy:.0f}); save the file with its CRS (e.g. a .prj "
            "next to a .shp) or as WGS84"
        )
    return gdf


def _kinds(gdf: Any) -> list[str] | None:
    if "kind" not in gdf.columns:
        return None
    return [str(k).strip().lower() if k is not None else "" for k in gdf["kind"]]


def parcel_from_frame(gdf: Any, source: str) -> Polygon:
    kinds = _kinds(gdf)
    geoms = [
        g for i, g in enumerate(gdf.geometry)
        if g is not None and not g.is_empty and isinstance(g, Polygon | MultiPolygon)
        and (kinds is None or kinds[i] == PARCEL_KIND or (kinds[i] == "" and len(gdf) == 1))
    ]
    if not geoms:
        hint = " with kind = 'parcel'" if kinds is not None else ""
        raise ParcelError(f"{source}: no polygon{hint} found for the parcel boundary")
    merged = unary_union([g.buffer(0) for g in geoms])
    if isinstance(merged, Polygon):
        return merged
    if isinstance(merged, MultiPolygon):
        parts = sorted(merged.geoms, key=lambda p: p.area, reverse=True)
        if parts[1].area > 0.05 * parts[0].area:
            raise ParcelError(
                f"{source}: the parcel is {len(parts)} separate polygons; "
                "give one outline for the campus"
            )
        return parts[0]
    raise ParcelError(f"{source}: parcel geometry is not a polygon")


def read_parcel(path: Path) -> Polygon:
    return parcel_from_frame(read_gis(path), path.name)


def grounds_from_frame(gdf: Any, source: str, campus_id: str) -> list[GroundsFeature]:
    kinds = _kinds(gdf)
    if kinds is None:
        raise ParcelError(f"{source}: grounds features need a 'kind' column")
    names = list(gdf["name"]) if "name" in gdf.columns else [None] * len(gdf)
    out: list[GroundsFeature] = []
    seen: dict[str, int] = {}
    for i, (kind, geom) in enumerate(zip(kinds, gdf.geometry, strict=True)):
        if kind == PARCEL_KIND:
            continue
        try:
            gk = GroundsKind(kind)
        except ValueError:
            allowed = ", ".join(k.value for k in GroundsKind)
            raise ParcelError(
                f"{source}: feature {i + 1} has unknown kind {kind!r} (allowed: {allowed})"
            ) from None
        if geom is None or geom.is_empty:
            raise ParcelError(f"{source}: feature {i + 1} ({kind}) has no geometry")
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            raise ParcelError(f"{source}: feature {i + 1} ({kind}) has a coordinate that is "
                              "not a number")
        if not geom.is_valid:
            geom = shapely.make_valid(geom)  # a self-crossing lot outline, as drawn
        name = str(names[i]) if names[i] is not None and str(names[i]) != "nan" else ""
        name = name or gk.value.replace("_", " ").capitalize()
        key = f"{gk.value}/{name}"
        seen[key] = seen.get(key, 0) + 1
        suffix = "" if seen[key] == 1 else f"/{seen[key]}"
        out.append(
            GroundsFeature(stable_id(campus_id, "grounds", key + suffix), gk, name, geom)
        )
    return out


def read_grounds(path: Path, campus_id: str) -> list[GroundsFeature]:
    return grounds_from_frame(read_gis(path), path.name, campus_id)
