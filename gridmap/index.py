"""A campus projected to its local frame, with spatial indexes per level.

Built once per published revision and shared by lookups, cell queries and point location;
every method is a pure read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point, Polygon, box
from shapely.strtree import STRtree

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import LevelNotFound, OutsideGrid
from gridmap.grid import Cell
from gridmap.model import Amenity, AmenityKind, Building, Campus, Level, Opening, Unit
from gridmap.usng import to_usng


@dataclass(frozen=True, slots=True)
class Nearby:
    """A door or point of interest near somewhere, with its distance in metres."""

    feature_id: str
    name: str
    number: str | None
    distance_m: float
    cell: str
    lon: float
    lat: float
    level_ordinal: int | None
    building_id: str | None = None
    building_short_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.feature_id, "name": self.name, "number": self.number,
            "building_id": self.building_id, "building": self.building_short_name,
            "distance_m": round(self.distance_m, 1), "cell": self.cell,
            "lon": round(self.lon, 7), "lat": round(self.lat, 7),
            "level_ordinal": self.level_ordinal,
        }


@dataclass(frozen=True, slots=True)
class _LevelIndex:
    units: tuple[Unit, ...]
    unit_shapes: tuple[Polygon, ...]
    unit_tree: STRtree


class CampusIndex:
    """The campus in local metres: grid, per-level unit index, doors and points of interest."""

    def __init__(self, campus: Campus) -> None:
        self.campus = campus
        self.frame = LocalFrame(campus.crs)
        self.grid = campus.grid
        self.buildings: dict[str, Building] = {b.id: b for b in campus.buildings}
        self.levels: dict[str, Level] = {lv.id: lv for lv in campus.levels}
        self.footprints: dict[str, Polygon] = {
            b.id: self.frame.to_local(b.footprint) for b in campus.buildings
        }
        self.shapes: dict[str, Any] = {}
        features: tuple[Unit | Opening | Amenity, ...] = (
            *campus.units, *campus.openings, *campus.amenities
        )
        for f in features:
            self.shapes[f.id] = self.frame.to_local(f.geometry)
        self._levels: dict[int, _LevelIndex] = {}
        for ordinal in campus.ordinals:
            units = tuple(u for u in campus.units if self.levels[u.level_id].ordinal == ordinal)
            shapes = tuple(self.shapes[u.id] for u in units)
            self._levels[ordinal] = _LevelIndex(units, shapes, STRtree(shapes))
        self._label_points: dict[str, Point] = {
            u.id: grid.label_point(self.shapes[u.id]) for u in campus.units
        }

    # --- levels and features ---------------------------------------------------------------

    def ordinal_of(self, level_id: str | None) -> int:
        """Level ordinal of a feature; features on no level (outdoors) count as ground."""
        return 0 if level_id is None else self.levels[level_id].ordinal

    def level_name(self, ordinal: int, building_id: str | None = None) -> str:
        """A building's name for a level ordinal, else the campus-wide one."""
        for lv in self.campus.levels:
            if lv.ordinal == ordinal and lv.building_id == building_id:
                return lv.name
        return self.campus.ordinal_name(ordinal)

    def check_ordinal(self, ordinal: int) -> None:
        if ordinal not in self._levels:
            raise LevelNotFound(
                f"campus {self.campus.id} has no level {ordinal}; levels: "
                + ", ".join(str(o) for o in self.campus.ordinals)
            )

    def units_on(self, ordinal: int) -> tuple[Unit, ...]:
        self.check_ordinal(ordinal)
        return self._levels[ordinal].units

    def label_point(self, unit: Unit) -> Point:
        """Where the unit's label sits, in local metres."""
        return self._label_points[unit.id]

    def units_at(self, x: float, y: float, ordinal: int | None = None) -> list[Unit]:
        """Units covering local point (x, y), on one level or all of them (lowest first)."""
        p = Point(x, y)
        found: list[Unit] = []
        for o in sorted(self._levels) if ordinal is None else [ordinal]:
            lv = self._levels.get(o)
            if lv is None:
                continue
            for i in lv.unit_tree.query(p, predicate="intersects"):
                found.append(lv.units[int(i)])
        return found

    def building_at(self, x: float, y: float) -> Building | None:
        p = Point(x, y)
        for b_id, shape in self.footprints.items():
            if shape.intersects(p):
                return self.buildings[b_id]
        return None

    # --- grid ------------------------------------------------------------------------------

    def cell_of(self, x: float, y: float) -> str | None:
        try:
            return grid.cell_at(self.grid, x, y).label
        except OutsideGrid:
            return None

    def unit_cells(self, unit: Unit) -> tuple[str, tuple[str, ...]]:
        """(primary cell, every cell spanned) of a unit."""
        p = self._label_points[unit.id]
        spanned = grid.cells_spanned(self.grid, self.shapes[unit.id])
        primary = self.cell_of(p.x, p.y)
        return primary or "", tuple(c.label for c in spanned)

    def cell_contents(self, label: str) -> dict[str, Any]:
        """What lies in a grid cell, per level ordinal (JSON-ready)."""
        cell = grid.parse_cell(label, self.grid)
        b = grid.cell_bounds(self.grid, cell)
        area = box(*b)
        levels: dict[int, dict[str, list[dict[str, Any]]]] = {}
        for ordinal, lv in sorted(self._levels.items()):
            units = [lv.units[int(i)] for i in lv.unit_tree.query(area, predicate="intersects")
                     if lv.unit_shapes[int(i)].intersection(area).area > 1e-6]
            entry = levels.setdefault(ordinal, {"units": [], "openings": [], "amenities": []})
            entry["units"] = [self._unit_brief(u) for u in sorted(units, key=lambda u: u.number)]
        for o in self.campus.openings:
            if o.exterior and area.intersects(self.shapes[o.id]) and self._owns(cell, o.id):
                levels.setdefault(self.ordinal_of(o.level_id), _empty())["openings"].append(
                    {"id": o.id, "number": o.number, "building": o.building_id,
                     "main_entrance": o.main_entrance})
        for a in self.campus.amenities:
            if self._owns(cell, a.id):
                levels.setdefault(self.ordinal_of(a.level_id), _empty())["amenities"].append(
                    {"id": a.id, "kind": a.kind.value, "name": a.name,
                     "building": a.building_id})
        minlon, minlat = self.frame.lonlat(b.minx, b.miny)
        maxlon, maxlat = self.frame.lonlat(b.maxx, b.maxy)
        cx, cy = (b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2
        clon, clat = self.frame.lonlat(cx, cy)
        return {
            "campus": self.campus.id,
            "cell": cell.label,
            "bounds": [minlon, minlat, maxlon, maxlat],
            "centre": {"lon": clon, "lat": clat, "usng": to_usng(clon, clat)},
            "levels": [
                {"ordinal": o, "name": self.level_name(o), **content}
                for o, content in sorted(levels.items())
                if any(content.values())
            ],
        }

    def _owns(self, cell: Cell, feature_id: str) -> bool:
        p = self.shapes[feature_id]
        try:
            return grid.cell_at(self.grid, p.x, p.y) == cell
        except OutsideGrid:
            return False

    def _unit_brief(self, u: Unit) -> dict[str, Any]:
        return {"id": u.id, "number": u.number, "name": u.name, "building": u.building_id}

    # --- nearest things --------------------------------------------------------------------

    def nearby(self, feature_id: str, name: str, number: str | None, origin: Point,
               level_id: str | None, building_id: str | None) -> Nearby:
        p = self.shapes[feature_id]
        lon, lat = self.frame.lonlat(p.x, p.y)
        building = self.buildings.get(building_id) if building_id else None
        return Nearby(feature_id, name, number, origin.distance(p), self.cell_of(p.x, p.y) or "",
                      lon, lat, self.ordinal_of(level_id), building_id,
                      building.short_name if building else None)

    def nearest_exterior_doors(
        self, origin: Point, building_id: str | None, k: int = 3
    ) -> list[Nearby]:
        """The ``k`` exterior doors closest to a local point, of one building if given."""
        doors: list[Opening] = list(self.campus.exterior_doors(building_id))
        if not doors and building_id is not None:
            doors = list(self.campus.exterior_doors())
        doors.sort(key=lambda o: origin.distance(self.shapes[o.id]))
        return [
            self.nearby(o.id, f"Door {o.number}" if o.number else "Exterior door", o.number,
                        origin, o.level_id, o.building_id)
            for o in doors[:k]
        ]

    def nearest_amenity(
        self, kind: AmenityKind, origin: Point, building_id: str | None = None
    ) -> Nearby | None:
        """The closest point of interest of ``kind``, preferring the same building."""
        options: list[Amenity] = [a for a in self.campus.amenities if a.kind is kind]
        if not options:
            return None
        options.sort(key=lambda a: (a.building_id != building_id if building_id else False,
                                    origin.distance(self.shapes[a.id])))
        a = options[0]
        return self.nearby(a.id, a.name, None, origin, a.level_id, a.building_id)

    # --- point location --------------------------------------------------------------------

    def locate(self, lon: float, lat: float) -> dict[str, Any] | None:
        """What is at a lon/lat: cell, keypad sub-cell, building, rooms per level; None off-grid."""
        x, y = self.frame.xy(lon, lat)
        try:
            sub = grid.subcell_at(self.grid, x, y)
        except OutsideGrid:
            return None
        building = self.building_at(x, y)
        units = self.units_at(x, y)
        inside_parcel = (
            self.campus.parcel is not None
            and self.campus.parcel.intersects(Point(lon, lat))
        )
        return {
            "campus": self.campus.id,
            "campus_name": self.campus.name,
            "cell": sub.cell.label,
            "subcell": sub.label,
            "usng": to_usng(lon, lat),
            "inside_parcel": inside_parcel,
            "building": None if building is None else
            {"id": building.id, "name": building.name, "short_name": building.short_name},
            "units": [
                {**self._unit_brief(u), "level_ordinal": self.levels[u.level_id].ordinal,
                 "level_name": self.levels[u.level_id].name}
                for u in units
            ],
        }

def _empty() -> dict[str, list[dict[str, Any]]]:
    return {"units": [], "openings": [], "amenities": []}
