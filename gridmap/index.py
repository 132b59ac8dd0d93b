"""A campus projected to its local frame, with spatial indexes per level.

Built once per published revision and shared by lookups, cell queries and point location;
every method is a pure read.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from shapely.geometry import Point, Polygon, box
from shapely.ops import nearest_points
from shapely.strtree import STRtree

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import LevelNotFound, OutsideGrid
from gridmap.grid import Cell
from gridmap.model import (
    Amenity,
    AmenityKind,
    Building,
    Campus,
    GroundsFeature,
    Level,
    Opening,
    Unit,
)
from gridmap.usng import to_usng

if TYPE_CHECKING:  # the walk module is imported when a walk is first asked for
    from gridmap.walk import Route, WalkNetwork

#: a grounds feature drawn as a line (a road's centre line) covers this far either side, metres
GROUNDS_LINE_M = 4.0
#: how far inside its outline a unit is met when measured to its edge, metres
EDGE_INSIDE_M = 0.1
#: points of interest outside or at an entrance: ranked by building and straight line, never
#: by the level asked from (a Knox box is met from outside)
OUTDOOR_KINDS = frozenset({AmenityKind.KNOX_BOX, AmenityKind.RALLY_POINT,
                           AmenityKind.STAGING_AREA})


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
    #: the level's name in its building ("2nd Floor"); None for a point on no level (outdoors)
    level_name: str | None = None
    #: on the level asked from (always True when no level was given)
    same_level: bool = True
    #: "walking" when measured over the building's hallway network, else "straight"
    distance_kind: str = "straight"
    #: the stairs or elevator to take when the answer is on another level ("Stair 2")
    via: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.feature_id, "name": self.name, "number": self.number,
            "building_id": self.building_id, "building": self.building_short_name,
            "distance_m": round(self.distance_m, 1), "cell": self.cell,
            "lon": round(self.lon, 7), "lat": round(self.lat, 7),
            "level_ordinal": self.level_ordinal, "level_name": self.level_name,
            "same_level": self.same_level, "distance_kind": self.distance_kind, "via": self.via,
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
        self.grounds: tuple[GroundsFeature, ...] = campus.grounds
        self._grounds_shapes = tuple(self.frame.to_local(g.geometry) for g in campus.grounds)
        self._grounds_tree = STRtree(self._grounds_shapes)
        self._walks: dict[str, WalkNetwork] = {}
        self._walk_lock = threading.Lock()
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
        """The building whose footprint holds local point (x, y); else the building of a
        room there (a room drawn outside its facade outline is still in its building)."""
        p = Point(x, y)
        for b_id, shape in self.footprints.items():
            if shape.intersects(p):
                return self.buildings[b_id]
        for u in self.units_at(x, y):
            if u.building_id in self.buildings:
                return self.buildings[u.building_id]
        return None

    def grounds_at(self, x: float, y: float) -> list[GroundsFeature]:
        """Grounds features (lots, fields, roads) at local point (x, y); a line feature (a road
        drawn as its centre line) counts within :data:`GROUNDS_LINE_M` of it."""
        p = Point(x, y)
        hits = self._grounds_tree.query(p, predicate="dwithin", distance=GROUNDS_LINE_M)
        return [self.grounds[int(i)] for i in sorted(hits)
                if self._grounds_shapes[int(i)].area == 0
                or self._grounds_shapes[int(i)].intersects(p)]

    def _grounds_in(self, area: Polygon) -> list[GroundsFeature]:
        hits = self._grounds_tree.query(area, predicate="intersects")
        return [self.grounds[int(i)] for i in sorted(hits)
                if self._grounds_shapes[int(i)].area == 0
                or self._grounds_shapes[int(i)].intersection(area).area > 1e-6]

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
            "grounds": [_grounds_brief(g) for g in self._grounds_in(area)],
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

    def walk_network(self, building_id: str) -> WalkNetwork:
        """The building's walkable network, built on first use and kept for the index's life."""
        net = self._walks.get(building_id)
        if net is None:
            with self._walk_lock:
                net = self._walks.get(building_id)
                if net is None:
                    from gridmap.walk import WalkNetwork

                    net = WalkNetwork(building_id, self.campus.levels, self.campus.units,
                                      self.campus.openings, self.campus.amenities, self.shapes)
                    self._walks[building_id] = net
        return net

    def walk_summary(self) -> list[str]:
        """Per building, how nearby distances are measured ("Building B: no hallways ...")."""
        return [f"Building {b.short_name}: {self.walk_network(b.id).summary()}"
                for b in self.campus.buildings]

    def nearby(self, feature_id: str, name: str, number: str | None, origin: Point,
               level_id: str | None, building_id: str | None, *,
               from_level: str | None = None, floor_aware: bool = True) -> Nearby:
        """A door or point of interest as seen from ``origin`` (on ``from_level`` if given):
        walking distance and the stairs to take when both are in one building with hallways,
        else the straight line."""
        m = self._measure(feature_id, origin, level_id, building_id, from_level, floor_aware)
        return self._nearby(feature_id, name, number, level_id, building_id, m)

    def _nearby(self, feature_id: str, name: str, number: str | None, level_id: str | None,
                building_id: str | None, m: _Measure, at: Point | None = None) -> Nearby:
        p = self.shapes[feature_id] if at is None else at
        lon, lat = self.frame.lonlat(p.x, p.y)
        building = self.buildings.get(building_id) if building_id else None
        ordinal = self.ordinal_of(level_id)
        level_name = self.level_name(ordinal, building_id) if level_id else None
        return Nearby(feature_id, name, number, m.distance_m, self.cell_of(p.x, p.y) or "",
                      lon, lat, ordinal, building_id,
                      building.short_name if building else None, level_name, m.same_level,
                      m.kind, m.via)

    def _measure(self, feature_id: str, origin: Point, level_id: str | None,
                 building_id: str | None, from_level: str | None,
                 floor_aware: bool) -> _Measure:
        p = self.shapes[feature_id]
        if from_level is None:
            return _Measure(origin.distance(p), "straight", None, True)
        here = self.levels[from_level]
        same_level = self.ordinal_of(level_id) == here.ordinal
        if not floor_aware:
            return _Measure(origin.distance(p), "straight", None, same_level)
        net = self.walk_network(here.building_id)
        route: Route | None = None
        if building_id == here.building_id:
            route = net.route(origin, from_level, feature_id)
        elif building_id in self.buildings and level_id is not None:
            route = self._between_buildings(origin, net, from_level, p, building_id, level_id)
        return _measured(route, net, origin, from_level, p, same_level,
                         building_id == here.building_id)

    def _between_buildings(self, origin: Point, net: WalkNetwork, from_level: str,
                           target: Point, building_id: str, level_id: str) -> Route | None:
        """Out of one building and into another: the best pair of exterior doors, walked
        inside each building where it has hallways and straight across the grounds between.
        None when either building has no exterior door."""
        out = net.to_exits(origin, from_level)
        into = self.walk_network(building_id).to_exits(target, level_id)
        if not out or not into:
            return None
        from gridmap.walk import Route

        best: Route | None = None
        for ax, ay, ra in out:
            for bx, by, rb in into:
                d = ra.distance_m + math.hypot(ax - bx, ay - by) + rb.distance_m
                if best is None or d < best.distance_m:
                    best = Route(d, ra.walking and rb.walking, ra.via)
        return best

    def nearest_units(
        self, units: Sequence[Unit], origin: Point, k: int = 3, *,
        level_id: str | None = None, building_id: str | None = None, edge: bool = False,
    ) -> list[Nearby]:
        """The ``k`` rooms of ``units`` closest to ``origin``, each measured to its label point
        (``Nearby.feature_id`` is the unit's id), the preferred building's first. ``edge``:
        to the point of its outline nearest ``origin`` instead (a hallway is met at its wall,
        not at its middle).

        With ``level_id`` (the level ``origin`` is on): the same level's first, then other
        levels naming the stairs or elevator to take; walking distances where the building has
        hallways (in through the room's door), else the straight line.
        """
        self._check_level(level_id)
        ordinal = None if level_id is None else self.levels[level_id].ordinal
        at = {u.id: self._edge_point(u, origin) if edge else self._label_points[u.id]
              for u in units}

        def bound(u: Unit) -> tuple[bool, float]:  # a walk is never shorter than the line
            return (ordinal is not None and self.ordinal_of(u.level_id) != ordinal,
                    origin.distance(at[u.id]))

        options = [u for u in units if _finite(at[u.id])]
        groups = [[u for u in options if u.building_id == building_id],
                  [u for u in options if u.building_id != building_id]] \
            if building_id is not None else [options]
        ranked: list[tuple[tuple[bool, float], Unit, _Measure]] = []
        for group in groups:
            if len(ranked) >= k:
                break
            measured: list[tuple[tuple[bool, float], Unit, _Measure]] = []
            for u in sorted(group, key=bound):
                if sum(key < bound(u) for key, _, _ in measured) >= k:
                    break  # every room left is further than k already measured
                m = self._measure_unit(u, at[u.id], origin, level_id)
                measured.append(((ordinal is not None and not m.same_level, m.distance_m), u, m))
            ranked.extend(sorted(measured, key=lambda t: t[0]))
        found: list[Nearby] = []
        for _, u, m in ranked[:k]:
            name = " ".join(x for x in (f"Room {u.number}" if u.number else "",
                                        u.name.replace("\n", " ")) if x)
            found.append(self._nearby(u.id, name, u.number or None, u.level_id, u.building_id,
                                      m, at=at[u.id]))
        return found

    def _edge_point(self, unit: Unit, origin: Point) -> Point:
        """The point of a unit nearest ``origin``, a hair inside its outline (on the wall, the
        room next door would claim it)."""
        shape = self.shapes[unit.id]
        inner = shape.buffer(-EDGE_INSIDE_M)
        p: Point = nearest_points(shape if inner.is_empty else inner, origin)[0]
        return p

    def _measure_unit(self, unit: Unit, p: Point, origin: Point,
                      from_level: str | None) -> _Measure:
        if from_level is None:
            return _Measure(origin.distance(p), "straight", None, True)
        here = self.levels[from_level]
        same_level = self.ordinal_of(unit.level_id) == here.ordinal
        net = self.walk_network(here.building_id)
        route: Route | None = None
        if unit.level_id == from_level and self.shapes[unit.id].covers(origin):
            # from inside the room itself (a restroom asked for from within it)
            return _Measure(origin.distance(p), "walking" if net.walkable else "straight",
                            None, True)
        if unit.building_id == here.building_id:
            route = self._walk_between(net, origin, from_level, p, unit.level_id)
        elif unit.building_id in self.buildings:
            route = self._between_buildings(origin, net, from_level, p, unit.building_id,
                                            unit.level_id)
        return _measured(route, net, origin, from_level, p, same_level,
                         unit.building_id == here.building_id)

    @staticmethod
    def _walk_between(net: WalkNetwork, origin: Point, from_level: str, target: Point,
                      level_id: str) -> Route | None:
        """The walk between two points of one building: met at the door, stairs or point of
        the network where the walks from either end sum least (a room's own door when it has
        one). None when either end is off the network."""
        if not net.walkable:
            return None
        from gridmap.walk import Route

        best: Route | None = None
        for fid in net.feature_node:
            there = net.route(target, level_id, fid)
            if there is None:
                continue
            here = net.route(origin, from_level, fid)
            if here is None:
                continue
            d = here.distance_m + there.distance_m
            if best is None or d < best.distance_m:
                best = Route(d, True, here.via or there.via)
        return best

    def _check_level(self, level_id: str | None) -> None:
        if level_id is not None and level_id not in self.levels:
            raise LevelNotFound(f"campus {self.campus.id} has no level {level_id}")

    def _nearest(self, options: Sequence[_Option],
                  origin: Point, k: int, prefer_building: str | None, from_level: str | None,
                  floor_aware: bool) -> list[Nearby]:
        """The ``k`` nearest of (feature id, name, number, level id, building id): the preferred
        building's first (if given), then the level asked from (if floor-aware), nearest first.
        Only as many buildings' options are measured as it takes to fill ``k``."""
        # a point at NaN or infinity is refused at import; should one slip through, it is no
        # answer rather than a broken one
        options = [o for o in options if _finite(self.shapes[o[0]])]
        if not floor_aware:  # straight lines: only the k nearest need measuring
            options = sorted(options, key=lambda o: (
                prefer_building is not None and o[4] != prefer_building,
                origin.distance(self.shapes[o[0]])))[:k]
        groups = [[o for o in options if o[4] == prefer_building],
                  [o for o in options if o[4] != prefer_building]] \
            if prefer_building is not None else [options]
        ranked: list[tuple[tuple[bool, float], _Option, _Measure]] = []
        for group in groups:
            if len(ranked) >= k:
                break
            measured = []
            for o in group:
                m = self._measure(o[0], origin, o[3], o[4], from_level,
                                  floor_aware and o[3] is not None)
                key = (floor_aware and not m.same_level, m.distance_m)
                measured.append((key, o, m))
            ranked.extend(sorted(measured, key=lambda t: t[0]))
        return [self._nearby(o[0], o[1], o[2], o[3], o[4], m) for _, o, m in ranked[:k]]

    def nearest_exterior_doors(
        self, origin: Point, building_id: str | None, k: int = 3, *, level_id: str | None = None
    ) -> list[Nearby]:
        """The ``k`` exterior doors closest to a local point, of one building if given.

        With ``level_id`` (the level ``origin`` is on): doors on that level first, then the
        others naming the stairs to take; walking distances where the building has hallways.
        """
        self._check_level(level_id)
        doors: list[Opening] = list(self.campus.exterior_doors(building_id))
        if not doors and building_id is not None:
            doors = list(self.campus.exterior_doors())
        options: list[_Option] = [
            (o.id, f"Door {o.number}" if o.number else "Exterior door", o.number, o.level_id,
             o.building_id) for o in doors]
        return self._nearest(options, origin, k, None, level_id, level_id is not None)

    def nearest_amenities(
        self, kind: AmenityKind, origin: Point, building_id: str | None = None, k: int = 3, *,
        level_id: str | None = None,
    ) -> list[Nearby]:
        """The ``k`` closest points of interest of ``kind``, the same building's first.

        With ``level_id`` (the level ``origin`` is on): the same level's first, then other
        levels naming the stairs or elevator to take; walking distances where the building has
        hallways. Outdoor kinds (Knox box, rally point, staging area) and points on no level
        are not reached by stairs: ranked by building and straight line, as without a level.
        """
        self._check_level(level_id)
        options: list[_Option] = [
            (a.id, a.name or kind.display_name, None, a.level_id, a.building_id)
            for a in self.campus.amenities if a.kind is kind]
        floor_aware = level_id is not None and kind not in OUTDOOR_KINDS
        return self._nearest(options, origin, k, building_id, level_id, floor_aware)

    def nearest_amenity(
        self, kind: AmenityKind, origin: Point, building_id: str | None = None, *,
        level_id: str | None = None,
    ) -> Nearby | None:
        """The closest point of interest of ``kind`` (see :meth:`nearest_amenities`)."""
        found = self.nearest_amenities(kind, origin, building_id, 1, level_id=level_id)
        return found[0] if found else None

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
            "grounds": [_grounds_brief(g) for g in self.grounds_at(x, y)],
        }


#: (feature id, name, number, level id, building id) of a door or point of interest
_Option = tuple[str, str, str | None, str | None, str | None]


def _finite(p: Any) -> bool:
    return not p.is_empty and math.isfinite(p.x) and math.isfinite(p.y)


class _Measure(NamedTuple):
    distance_m: float
    kind: str  # "walking" or "straight"
    via: str | None
    same_level: bool


def _measured(route: Route | None, net: WalkNetwork, origin: Point, from_level: str,
              target: Point, same_level: bool, same_building: bool) -> _Measure:
    """The measure of a route found (walked, or straight where a leg was), or, with none, the
    straight line, naming the nearest stairs when the target is on another level of the
    building asked from."""
    if route is None:
        via = None
        if not same_level and same_building:
            via = net.nearest_stairs(origin, from_level)
        return _Measure(origin.distance(target), "straight", via, same_level)
    return _Measure(route.distance_m, "walking" if route.walking else "straight",
                    None if same_level else route.via, same_level)


def _grounds_brief(g: GroundsFeature) -> dict[str, Any]:
    return {"id": g.id, "kind": g.kind.value, "name": g.name}


def _empty() -> dict[str, list[dict[str, Any]]]:
    return {"units": [], "openings": [], "amenities": []}
