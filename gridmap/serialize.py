"""Campus <-> GeoJSON-like dicts, with IMDF feature types.

A campus becomes a FeatureCollection whose features carry ``feature_type`` (one of
:data:`FEATURE_TYPES`), ``id``, ``geometry`` (GeoJSON, lon/lat, or ``None`` for levels) and
``properties`` (one entry per dataclass field other than ``id`` and the geometry). The campus
itself is the ``venue`` feature (geometry: the parcel). The mapping is exact both ways:
``campus_from_geojson(campus_to_geojson(c)) == c``, also after a trip through ``json``.

Pure: no I/O. Storage (``api.store``) and the web map both speak this shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar, cast

from shapely.geometry import Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InvalidModel
from gridmap.model import (
    Amenity,
    AmenityKind,
    Building,
    Campus,
    GridSpec,
    GroundsFeature,
    GroundsKind,
    LengthUnit,
    Level,
    Opening,
    Unit,
)

FeatureType = Literal["venue", "building", "level", "unit", "opening", "amenity", "grounds"]
FEATURE_TYPES: tuple[FeatureType, ...] = (
    "venue", "building", "level", "unit", "opening", "amenity", "grounds"
)
CampusPart = Building | Level | Unit | Opening | Amenity | GroundsFeature
Feature = dict[str, Any]
T = TypeVar("T", bound=BaseGeometry)


# --- to dicts -------------------------------------------------------------------------------


def geometry_to_dict(geom: BaseGeometry | None) -> dict[str, Any] | None:
    """GeoJSON geometry with plain lists (JSON-ready); ``None`` stays ``None``."""
    if geom is None:
        return None
    return cast(dict[str, Any], _lists(mapping(geom)))


def grid_to_dict(spec: GridSpec) -> dict[str, Any]:
    return {
        "origin_x": spec.origin_x,
        "origin_y": spec.origin_y,
        "cell_size": spec.cell_size,
        "unit": spec.unit.value,
        "columns": spec.columns,
        "rows": spec.rows,
    }


def venue_to_feature(campus: Campus) -> Feature:
    return _feature("venue", campus.id, campus.parcel, {
        "name": campus.name,
        "address": campus.address,
        "crs": campus.crs,
        "grid": grid_to_dict(campus.grid),
        "retired_door_numbers": [list(pair) for pair in campus.retired_door_numbers],
        "meta": dict(campus.meta),
    })


def feature_to_dict(part: CampusPart) -> Feature:
    """One campus part as a GeoJSON Feature with its IMDF feature type."""
    if isinstance(part, Building):
        building: dict[str, Any] = {
            "name": part.name, "short_name": part.short_name, "aliases": list(part.aliases),
        }
        if part.address_side is not None:  # absent when unset, as in revisions stored before it
            building["address_side"] = part.address_side
        return _feature("building", part.id, part.footprint, building)
    if isinstance(part, Level):
        return _feature("level", part.id, None, {
            "building_id": part.building_id, "ordinal": part.ordinal, "name": part.name,
            "short_name": part.short_name,
        })
    if isinstance(part, Unit):
        unit: dict[str, Any] = {
            "building_id": part.building_id, "level_id": part.level_id, "number": part.number,
            "name": part.name, "category": part.category, "aliases": list(part.aliases),
        }
        if part.approximate:  # absent for ordinary rooms, as in revisions stored before it
            unit["approximate"] = True
        return _feature("unit", part.id, part.geometry, unit)
    if isinstance(part, Opening):
        return _feature("opening", part.id, part.geometry, {
            "building_id": part.building_id, "level_id": part.level_id,
            "exterior": part.exterior, "main_entrance": part.main_entrance,
            "number": part.number,
        })
    if isinstance(part, Amenity):
        return _feature("amenity", part.id, part.geometry, {
            "kind": part.kind.value, "name": part.name, "building_id": part.building_id,
            "level_id": part.level_id, "note": part.note,
        })
    return _feature("grounds", part.id, part.geometry, {"kind": part.kind.value, "name": part.name})


def campus_parts(campus: Campus) -> Iterable[CampusPart]:
    """Every part of a campus in a stable order: buildings, levels, units, openings, ..."""
    yield from campus.buildings
    yield from campus.levels
    yield from campus.units
    yield from campus.openings
    yield from campus.amenities
    yield from campus.grounds


def campus_features(campus: Campus) -> Iterable[Feature]:
    """The venue feature followed by every part, as features."""
    yield venue_to_feature(campus)
    for part in campus_parts(campus):
        yield feature_to_dict(part)


def campus_to_geojson(campus: Campus) -> dict[str, Any]:
    """The whole campus as one FeatureCollection."""
    return {"type": "FeatureCollection", "features": list(campus_features(campus))}


# --- from dicts -----------------------------------------------------------------------------


def geometry_from_dict(data: Mapping[str, Any] | None) -> BaseGeometry | None:
    if data is None:
        return None
    try:
        return shape(dict(data))
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidModel(f"unreadable geometry: {exc}") from exc


def grid_from_dict(data: Mapping[str, Any]) -> GridSpec:
    try:
        return GridSpec(
            origin_x=float(data["origin_x"]),
            origin_y=float(data["origin_y"]),
            cell_size=float(data["cell_size"]),
            unit=LengthUnit(data["unit"]),
            columns=int(data["columns"]),
            rows=int(data["rows"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidModel):
            raise
        raise InvalidModel(f"grid spec is incomplete or malformed: {exc!r}") from exc


def part_from_feature(feature: Mapping[str, Any]) -> CampusPart:
    """The campus part a (non-venue) feature describes."""
    kind = feature.get("feature_type")
    fid = feature.get("id")
    if not isinstance(fid, str) or not fid:
        raise InvalidModel(f"{kind} feature without a string id")
    try:
        p = feature["properties"]
        geom = geometry_from_dict(feature.get("geometry"))
        if kind == "building":
            side = p.get("address_side")
            return Building(fid, p["name"], p["short_name"], _typed(geom, Polygon, fid),
                            tuple(p["aliases"]), None if side is None else float(side))
        if kind == "level":
            return Level(fid, p["building_id"], int(p["ordinal"]), p["name"], p["short_name"])
        if kind == "unit":
            return Unit(fid, p["building_id"], p["level_id"], p["number"], p["name"],
                        _typed(geom, Polygon, fid), p["category"], tuple(p["aliases"]),
                        p.get("approximate") is True)
        if kind == "opening":
            return Opening(fid, p["building_id"], p["level_id"], _typed(geom, Point, fid),
                           bool(p["exterior"]), bool(p["main_entrance"]), p["number"])
        if kind == "amenity":
            return Amenity(fid, AmenityKind(p["kind"]), p["name"], _typed(geom, Point, fid),
                           p["building_id"], p["level_id"], p["note"])
        if kind == "grounds":
            if geom is None:
                raise InvalidModel(f"grounds feature {fid} has no geometry")
            return GroundsFeature(fid, GroundsKind(p["kind"]), p["name"], geom)
    except KeyError as exc:
        raise InvalidModel(f"{kind} feature {fid} lacks property {exc.args[0]!r}") from exc
    except ValueError as exc:
        if isinstance(exc, InvalidModel):
            raise
        raise InvalidModel(f"{kind} feature {fid}: {exc}") from exc
    raise InvalidModel(f"feature {fid} has unknown feature_type {kind!r}")


def campus_from_features(features: Iterable[Mapping[str, Any]]) -> Campus:
    """Rebuild a campus from its venue feature and part features (any order within a type)."""
    venue: Mapping[str, Any] | None = None
    parts: dict[str, list[Any]] = {t: [] for t in FEATURE_TYPES if t != "venue"}
    for feature in features:
        if feature.get("feature_type") == "venue":
            if venue is not None:
                raise InvalidModel("more than one venue feature")
            venue = feature
        else:
            part = part_from_feature(feature)
            parts[str(feature["feature_type"])].append(part)
    if venue is None:
        raise InvalidModel("no venue feature: cannot tell which campus this is")
    try:
        p = venue["properties"]
        parcel = geometry_from_dict(venue.get("geometry"))
        return Campus(
            id=venue["id"],
            name=p["name"],
            address=p["address"],
            grid=grid_from_dict(p["grid"]),
            crs=p["crs"],
            parcel=None if parcel is None else _typed(parcel, Polygon, venue["id"]),
            buildings=tuple(parts["building"]),
            levels=tuple(parts["level"]),
            units=tuple(parts["unit"]),
            openings=tuple(parts["opening"]),
            amenities=tuple(parts["amenity"]),
            grounds=tuple(parts["grounds"]),
            retired_door_numbers=tuple(
                (str(b), str(n)) for b, n in p.get("retired_door_numbers", [])),
            meta={str(k): str(v) for k, v in p.get("meta", {}).items()},
        )
    except KeyError as exc:
        raise InvalidModel(f"venue feature lacks property {exc.args[0]!r}") from exc


def campus_from_geojson(data: Mapping[str, Any]) -> Campus:
    """Inverse of :func:`campus_to_geojson`."""
    if data.get("type") != "FeatureCollection":
        raise InvalidModel("expected a GeoJSON FeatureCollection")
    return campus_from_features(data.get("features", []))


# --- helpers --------------------------------------------------------------------------------


def _feature(
    feature_type: FeatureType, fid: str, geom: BaseGeometry | None, properties: dict[str, Any]
) -> Feature:
    return {
        "type": "Feature",
        "id": fid,
        "feature_type": feature_type,
        "geometry": geometry_to_dict(geom),
        "properties": properties,
    }


def _lists(value: Any) -> Any:
    """Tuples to lists all the way down, so a dict equals its own JSON round trip."""
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


def _typed(geom: BaseGeometry | None, cls: type[T], fid: object) -> T:
    if not isinstance(geom, cls):
        got = "no geometry" if geom is None else geom.geom_type
        raise InvalidModel(f"feature {fid} needs a {cls.__name__}, got {got}")
    return geom
