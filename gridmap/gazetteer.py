"""The campus gazetteer: one row per place a dispatch system may preload.

Rows cover every building, room (IMDF unit), exterior door, point of interest (amenity) and
grounds feature, each with its grid cell, keypad sub-cell, USNG and lon/lat, computed by the same
core functions the lookup uses (:mod:`gridmap.grid`, :func:`gridmap.usng.to_usng`, the label
points of :class:`gridmap.index.CampusIndex`), so a CAD system and a gridmap lookup never give
two answers for one room.

Each row also carries the indoor sub-address fields of the NENA NG9-1-1 GIS Data Model
(NENA-STA-006.3-2026, Site/Structure Address Point layer), so a 911 GIS team can load rooms as
address points. Field meanings, from the standard's field descriptions (section 5) as published
in NENA's template repository (github.com/NENA911/NG911GISDataModel, flatfile_templates/schema):

* ``Site`` (5.103): a named exterior area holding structures -> the campus name;
* ``SubSite`` (5.114): a named sub-area of a site ("Tennis Courts") -> a grounds feature's name;
* ``Structure`` (5.113): a built feature such as a building -> the building's name;
* ``Wing`` (5.120): a designated part of a structure -> not in the campus model, left empty;
* ``Floor`` (5.49): the floor as labelled ("2nd Floor"); ``FloorIndex`` (5.48): an integer,
  0 at the addressed main entrance, +/-1 per storey -> the level ordinal (0 = ground floor);
* ``Unit`` (5.115): a suite of rooms under common tenancy (apartment, suite) -> empty: a school
  room is a ``Room`` (5.96), "a single, distinctly identified, enclosed space" ("Room 137");
* ``Addtl_Loc`` (5.5): location text fitting no other element ("Stairwell C") -> the door or
  point of interest's name;
* ``Place_Type`` (5.78): a value of the IANA Location Types Registry (RFC 4589,
  iana.org/assignments/location-type-registry) -> see :func:`place_type`;
* ``Placement`` (5.79): a value of the NENA Site/Structure Address Point Placement Method
  Registry (Structure, Site, Parcel, Geocoding, ExteriorAccess, InteriorAccess,
  InteriorCentroid, PropertyAccess, Unknown) -> see :data:`PLACEMENT`.

Serialisation: :func:`to_csv` (UTF-8 text with a header row, spreadsheet-safe) and
:func:`to_geojson` (an RFC 7946 FeatureCollection of points). Pure: no files, no I/O.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap import grid
from gridmap.errors import OutsideGrid
from gridmap.index import CampusIndex
from gridmap.model import Amenity, Building, GroundsFeature, GroundsKind, Level, Opening, Unit
from gridmap.usng import to_usng

__all__ = ["PLACEMENT", "FeatureType", "GazetteerRow", "gazetteer", "neutralise", "place_type",
           "to_csv", "to_geojson"]


class FeatureType(StrEnum):
    BUILDING = "building"
    ROOM = "room"
    EXTERIOR_DOOR = "exterior_door"
    AMENITY = "amenity"
    GROUNDS = "grounds"


#: NENA placement method of each row's point: how gridmap placed it.
PLACEMENT: dict[FeatureType, str] = {
    FeatureType.BUILDING: "Structure",        # a point inside the building's footprint
    FeatureType.ROOM: "InteriorCentroid",     # the room's label point, always inside the room
    FeatureType.EXTERIOR_DOOR: "ExteriorAccess",
    # a point of interest sits where it was surveyed: on a structure, or out on the site
    FeatureType.AMENITY: "Structure",
    FeatureType.GROUNDS: "Site",              # a field, lot or road: a site without a structure
}

#: What a spreadsheet would read as a formula (OWASP "CSV Injection"): =, +, -, @, tab, CR.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

APPROXIMATE_FLAG = "label only, no outline"


@dataclass(frozen=True, slots=True)
class GazetteerRow:
    """One place, flat: the columns of the CSV and the properties of the GeoJSON, in order."""

    campus: str
    id: str
    feature_type: str
    kind: str
    building: str
    building_name: str
    level_ordinal: int | None
    level_name: str
    number: str
    name: str
    aliases: str
    flags: str
    cell: str
    subcell: str
    usng: str
    lon: float
    lat: float
    #: what is written beside the place (an AED's "wall cabinet by the lift")
    note: str
    #: the campus's civic address, to which the fields below are sub-addresses
    civic_address: str
    # NENA-STA-006.3 sub-address fields (see the module docstring)
    Site: str
    SubSite: str
    Structure: str
    Wing: str
    Floor: str
    FloorIndex: int | None
    Unit: str
    Room: str
    Addtl_Loc: str
    Place_Type: str
    Placement: str


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(GazetteerRow))
#: Columns written as numbers; never neutralised (a leading minus there is a sign, not a formula).
NUMERIC_COLUMNS = frozenset({"level_ordinal", "FloorIndex", "lon", "lat"})

# --- place types --------------------------------------------------------------------------------

# IANA Location Types Registry values (RFC 4589, the Place_Type domain of NENA-STA-006.3), chosen
# by an IMDF unit category when the importer gave a specific one, else by words in a room's name
# (English, French and German, as schools write them). "school" ("school or university property,
# but not necessarily a classroom or library") fits every other place on a campus.
_CATEGORY_PLACE_TYPES = {
    "classroom": "classroom", "library": "library", "office": "office",
    "auditorium": "theater", "theater": "theater", "foodservice": "restaurant",
    "parking": "parking", "fitnesscenter": "arena",
}
#: unit categories that are a way through or a service, never a classroom or office by name
_CIRCULATION = frozenset({"walkway", "hallway", "stairs", "elevator", "escalator", "ramp",
                          "restroom"})
_ROOM_PLACE_TYPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b(?:{words})", re.IGNORECASE), value)
    for words, value in (
        ("librar|biblioth|media ?cent|m[eé]diath[eè]|cdi\\b", "library"),
        ("auditor|theat|th[eé][aâ]tre|aula\\b|stage\\b|performing", "theater"),
        ("gym|sports? ?hall|turnhalle|sporthalle|field ?house|arena", "arena"),
        ("cafeteria|caf[eé]\\b|dining|lunch ?room|canteen|mensa|cantine|r[eé]fectoire",
         "restaurant"),
        ("office|admin|reception|counsel|principal|secr[eé]tariat|sekretariat|bureau|b[uü]ro",
         "office"),
        ("classroom|class\\b|lab\\b|laborator|lecture|kindergarten|salle de classe|"
         "klassen|schulzimmer|art room|music|science|computer|studio|atelier", "classroom"),
    )
)

_GROUNDS_PLACE_TYPES = {
    GroundsKind.PARKING: "parking",
    GroundsKind.ROAD: "street",
    GroundsKind.ATHLETIC_FIELD: "outdoors",
    GroundsKind.PLAYGROUND: "outdoors",
    GroundsKind.NEIGHBOURING_PROPERTY: "other",
}


def place_type(feature: Unit | Building | Opening | Amenity | GroundsFeature) -> str:
    """The IANA location type of a feature (``classroom``, ``library``, ``parking``, ``school``)."""
    if isinstance(feature, GroundsFeature):
        return _GROUNDS_PLACE_TYPES.get(feature.kind, "outdoors")
    if isinstance(feature, Unit):
        category = feature.category.lower()
        if category in _CATEGORY_PLACE_TYPES:
            return _CATEGORY_PLACE_TYPES[category]
        if category in _CIRCULATION:
            return "school"
        text = " ".join((feature.name, *feature.aliases))
        for pattern, value in _ROOM_PLACE_TYPES:
            if pattern.search(text):
                return value
    return "school"


# --- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Where:
    """A row's point and grid references."""

    lon: float
    lat: float
    cell: str
    subcell: str
    usng: str


def _where(index: CampusIndex, local: Point) -> _Where:
    lon, lat = index.frame.lonlat(local.x, local.y)
    try:
        sub = grid.subcell_at(index.grid, local.x, local.y)
        cell, subcell = sub.cell.label, sub.label
    except OutsideGrid:
        cell = subcell = ""
    return _Where(lon, lat, cell, subcell, to_usng(lon, lat))


def _point_on(shape: BaseGeometry) -> Point:
    """A point standing for a whole feature: a label point inside areas, mid-way along lines."""
    if isinstance(shape, Point):
        return shape
    if isinstance(shape, Polygon) and not shape.is_empty:
        return grid.label_point(shape)
    if isinstance(shape, MultiPolygon) and not shape.is_empty:
        return grid.label_point(max(shape.geoms, key=lambda p: p.area))
    if isinstance(shape, LineString | MultiLineString) and not shape.is_empty:
        line = max(shape.geoms, key=lambda g: g.length) if isinstance(
            shape, MultiLineString) else shape
        return line.interpolate(0.5, normalized=True)
    return shape.representative_point()


def gazetteer(index: CampusIndex) -> tuple[GazetteerRow, ...]:
    """Every building, room, exterior door, point of interest and grounds feature, in that order.

    Within each kind rows are sorted by building, level and number, so two exports of one
    revision are identical and a diff of two revisions shows only what changed.
    """
    campus = index.campus
    buildings = index.buildings
    out: list[GazetteerRow] = []

    def row(kind: FeatureType, feature_id: str, local: Point, *, detail: str,
            building: Building | None, level: Level | None, number: str = "",
            name: str = "", aliases: Iterable[str] = (), flags: Iterable[str] = (),
            sub_site: str = "", room: str = "", addtl: str = "", place: str = "school",
            placement: str | None = None, note: str = "") -> None:
        if local.is_empty or not (math.isfinite(local.x) and math.isfinite(local.y)):
            return  # nothing to point at (a footprint with no area): no row, never a NaN
        at = _where(index, local)
        out.append(GazetteerRow(
            campus=campus.id, id=feature_id, feature_type=kind.value, kind=detail,
            building=building.short_name if building else "",
            building_name=building.name if building else "",
            level_ordinal=level.ordinal if level else None,
            level_name=level.name if level else "",
            number=number, name=name, aliases="; ".join(aliases), flags="; ".join(flags),
            cell=at.cell, subcell=at.subcell, usng=at.usng, lon=at.lon, lat=at.lat,
            note=note, civic_address=campus.address, Site=campus.name, SubSite=sub_site,
            Structure=building.name if building else "",
            Wing="", Floor=level.name if level else "",
            FloorIndex=level.ordinal if level else None, Unit="", Room=room,
            Addtl_Loc=addtl, Place_Type=place, Placement=placement or PLACEMENT[kind],
        ))

    def level_of(level_id: str | None) -> Level | None:
        return index.levels.get(level_id) if level_id else None

    def building_key(building_id: str | None) -> str:
        b = buildings.get(building_id) if building_id else None
        return b.short_name if b else "~"

    def level_key(level_id: str | None) -> int:
        lv = level_of(level_id)
        return lv.ordinal if lv else 0

    for b in sorted(campus.buildings, key=lambda b: b.short_name):
        row(FeatureType.BUILDING, b.id, _point_on(index.footprints[b.id]),
            detail="building", building=b, level=None, number=b.short_name,
            name=b.name, aliases=b.aliases, place=place_type(b))

    for u in sorted(campus.units, key=lambda u: (building_key(u.building_id),
                                                 level_key(u.level_id), _number_key(u.number),
                                                 u.name)):
        label = f"Room {u.number}" if u.number else u.name
        row(FeatureType.ROOM, u.id, index.label_point(u), detail=u.category,
            building=buildings.get(u.building_id), level=level_of(u.level_id),
            number=u.number, name=u.name, aliases=u.aliases,
            flags=(APPROXIMATE_FLAG,) if u.approximate else (), room=label,
            place=place_type(u),
            # a label with no outline is placed where its text is: no method in
            # the registry says that, so the point is flagged as of unknown method
            placement="Unknown" if u.approximate else None)

    doors = [o for o in campus.openings if o.exterior]
    for o in sorted(doors, key=lambda o: (building_key(o.building_id), _number_key(o.number),
                                          o.id)):
        name = f"Door {o.number}" if o.number else "Exterior door"
        if o.main_entrance:
            name += " (main entrance)"
        row(FeatureType.EXTERIOR_DOOR, o.id, index.shapes[o.id],
            detail="main_entrance" if o.main_entrance else "door",
            building=buildings.get(o.building_id), level=level_of(o.level_id),
            number=o.number or "", name=name, addtl=name, place=place_type(o))

    for a in sorted(campus.amenities, key=lambda a: (a.kind.value, building_key(a.building_id),
                                                     level_key(a.level_id), a.name)):
        building = buildings.get(a.building_id) if a.building_id else None
        row(FeatureType.AMENITY, a.id, index.shapes[a.id], detail=a.kind.value,
            building=building, level=level_of(a.level_id), name=a.name,
            addtl=a.name, place=place_type(a), note=a.note,
            placement=None if building else PLACEMENT[FeatureType.GROUNDS])

    for g in sorted(campus.grounds, key=lambda g: (g.kind.value, g.name, g.id)):
        local = index.frame.to_local(g.geometry)
        row(FeatureType.GROUNDS, g.id, _point_on(local), detail=g.kind.value,
            building=None, level=None, name=g.name, sub_site=g.name,
            place=place_type(g))
    return tuple(out)


def _number_key(number: str | None) -> tuple[tuple[int, int | str], ...]:
    """Numbers in natural order: 2 before 10, 7 before 7A, A9 before A10; none last."""
    if not number:
        return ((2, ""),)
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower())
                 for part in re.findall(r"\d+|\D+", number))


# --- serialisation --------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """A text cell a spreadsheet will not run: a leading ``= + - @``, tab or CR gets a ``'``.

    OWASP's advice for CSV injection. The quote shows in the cell; it is the price of a cell that
    cannot become a formula (``=HYPERLINK(...)`` in a room name, say).
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_value(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in ("lon", "lat"):
        return f"{value:.7f}"  # NENA's REAL(11,7) / REAL(10,7): centimetres
    if column in NUMERIC_COLUMNS:
        return str(int(value))
    return neutralise(str(value))


def to_csv(rows: Iterable[GazetteerRow]) -> str:
    """UTF-8-ready CSV text with a header row (RFC 4180 quoting, CRLF line ends).

    Text cells are neutralised (:func:`neutralise`); the numeric columns (level ordinal,
    ``FloorIndex``, ``lon``, ``lat``) are written as plain numbers, never prefixed, so GDAL and
    spreadsheets read ``-84.4301148`` as a number.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_csv_value(c, getattr(r, c)) for c in COLUMNS])
    return buf.getvalue()


def to_geojson(rows: Iterable[GazetteerRow], *, campus_id: str = "",
               revision: int | None = None) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection of points; every column is a property (no neutralising:
    JSON is read by programs, not spreadsheets)."""
    features = []
    for r in rows:
        props = {c: getattr(r, c) for c in COLUMNS}
        props["lon"], props["lat"] = round(r.lon, 7), round(r.lat, 7)
        features.append({
            "type": "Feature",
            "id": r.id,
            "geometry": {"type": "Point", "coordinates": [props["lon"], props["lat"]]},
            "properties": props,
        })
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if campus_id:
        collection["campus"] = campus_id
    if revision is not None:
        collection["revision"] = revision
    return collection
