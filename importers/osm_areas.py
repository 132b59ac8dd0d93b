"""OSM areas: the closed ways and multipolygon relations that are rooms, levels, buildings or
the venue, as WGS84 polygons (broken outlines are findings)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree, box
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import polygonize, unary_union

from gridmap.model import MAX_GRID_EXTENT_M
from importers.findings import Finding, FindingKind, Severity
from importers.indoor import FindingLog, as_polygon, span_m
from importers.limits import ImportLimits
from importers.osm_tags import SPACES, VENUE_AMENITIES, is_area
from importers.osm_xml import OsmData


@dataclass(frozen=True)
class OsmArea:
    """A closed way or multipolygon relation as one WGS84 polygon, with its tags."""
    ref: str  # "way/12" or "relation/7"
    tags: Mapping[str, str]
    polygon: Polygon  # WGS84
    nodes: frozenset[int]  # the nodes of its outline(s)


def describe(ref: str, tags: Mapping[str, str]) -> str:
    """How an editor recognises an element: ``way 12 (room 214 "Science Lab")``."""
    kind = tags.get("indoor") or ("building" if "building" in tags else "")
    label = " ".join(x for x in (tags.get("ref", ""), f'"{tags["name"]}"' if tags.get("name")
                                 else "") if x)
    detail = " ".join(x for x in (kind, label) if x)
    return f"{ref.replace('/', ' ')}" + (f" ({detail})" if detail else "")


def _way_line(data: OsmData, wid: int) -> tuple[list[tuple[float, float]] | None, list[int]]:
    """The way's coordinates, or None with the node ids missing from the file."""
    way = data.ways[wid]
    missing = [r for r in way.refs if r not in data.nodes]
    if missing:
        return None, missing
    return [data.nodes[r] for r in way.refs], []


def _way_area(data: OsmData, wid: int, log: FindingLog, limits: ImportLimits,
              source: str) -> OsmArea | None:
    way = data.ways[wid]
    ref = f"way/{wid}"
    what = describe(ref, way.tags)
    if len(way.refs) > limits.max_outline_points:
        log.add(Finding(FindingKind.OTHER,
                        f"{what} has more than {limits.max_outline_points:,} nodes; skipped",
                        source=source, ref=ref, action="skipped"), "too_many_nodes")
        return None
    coords, missing = _way_line(data, wid)
    if coords is None:
        here = next((data.nodes[r] for r in way.refs if r in data.nodes), None)
        log.add(Finding(FindingKind.OTHER,
                        f"{what} names {len(missing)} node(s) missing from the file (e.g. "
                        f"node {missing[0]}): the export cut it off; skipped",
                        source=source, ref=ref, action="skipped", at=here,
                        placed_on_earth=here is not None), "missing_nodes")
        return None
    if len(way.refs) < 4 or way.refs[0] != way.refs[-1]:
        log.add(Finding(FindingKind.OTHER,
                        f"{what} is not a closed outline (its first and last node differ); "
                        "skipped", source=source, ref=ref, action="skipped",
                        at=coords[0], placed_on_earth=True), "unclosed")
        return None
    return _area(ref, way.tags, Polygon(coords), frozenset(way.refs), log, source)


def _area(ref: str, tags: Mapping[str, str], raw: Polygon, nodes: frozenset[int],
          log: FindingLog, source: str) -> OsmArea | None:
    what = describe(ref, tags)
    polygon, note = _enclosed(what, ref, raw, log, source)
    if polygon is None:
        return None
    span = span_m(polygon)
    if not span <= MAX_GRID_EXTENT_M:  # a node's position mistyped (or nan): not a building
        p = polygon.representative_point()
        log.add(Finding(FindingKind.OTHER,
                        f"{what} spans {span / 1000:,.0f} km; no school building or room is "
                        f"wider than a campus may be ({MAX_GRID_EXTENT_M / 1000:g} km): one "
                        "of its nodes is misplaced; skipped", source=source, ref=ref,
                        action="skipped", at=(p.x, p.y), placed_on_earth=True), "too_wide")
        return None
    _note_repair(what, ref, polygon, note, log, source)
    return OsmArea(ref, tags, polygon, nodes)


def _relation_area(data: OsmData, rid: int, log: FindingLog, source: str) -> OsmArea | None:
    rel = data.relations[rid]
    ref = f"relation/{rid}"
    what = describe(ref, rel.tags)
    outer: list[LineString] = []
    inner: list[LineString] = []
    nodes: set[int] = set()
    missing_ways = 0
    missing_nodes = 0
    for mtype, mref, role in rel.members:
        if mtype != "way":
            continue
        if mref not in data.ways:
            missing_ways += 1
            continue
        coords, missing = _way_line(data, mref)
        if coords is None:
            missing_nodes += len(missing)
            continue
        if len(coords) < 2:
            continue
        nodes.update(data.ways[mref].refs)
        (inner if role == "inner" else outer).append(LineString(coords))
    if missing_ways or missing_nodes:
        log.add(Finding(FindingKind.OTHER,
                        f"{what}: {missing_ways} member way(s) and {missing_nodes} node(s) are "
                        "missing from the file; read from what is there",
                        source=source, ref=ref, action="read partly"), "missing_nodes")
    outers = list(polygonize(outer))
    if not outers:
        log.add(Finding(FindingKind.OTHER,
                        f"{what}: its outer ways do not close into a ring; skipped",
                        source=source, ref=ref, action="skipped"), "unclosed")
        return None
    shape = unary_union(outers)
    holes = list(polygonize(inner))
    if holes:
        shape = shape.difference(unary_union(holes))
    polygon, note = _enclosed(what, ref, shape, log, source)
    if polygon is None:
        return None
    _note_repair(what, ref, polygon, note, log, source)
    return OsmArea(ref, rel.tags, polygon, frozenset(nodes))


def _enclosed(what: str, ref: str, shape: BaseGeometry, log: FindingLog, source: str,
              ) -> tuple[Polygon | None, str]:
    """:func:`as_polygon` of an area's shape; one that encloses nothing is logged as skipped."""
    polygon, note = as_polygon(shape)
    if polygon is None:
        log.add(Finding(FindingKind.REPAIRED_GEOMETRY, f"{what} encloses no area; skipped",
                        source=source, ref=ref, action="skipped"), "no_area")
    return polygon, note


def _note_repair(what: str, ref: str, polygon: Polygon, note: str, log: FindingLog,
                 source: str) -> None:
    """Log how an area's outline was repaired (``note``; nothing when it was not)."""
    if note:
        p = polygon.representative_point()
        log.add(Finding(FindingKind.REPAIRED_GEOMETRY, f"{what}: {note}", Severity.INFO,
                        source=source, ref=ref, action=note, at=(p.x, p.y),
                        placed_on_earth=True), "repaired")


#: a building outline further than this (metres) from every indoor feature holds none of them
#: (twice the distance a room may lie outside its building)
FAR_FROM_INDOOR_M = 10.0


class _IndoorReach:
    """Where the file's indoor features are: the boxes (WGS84, grown by FAR_FROM_INDOOR_M)
    of its rooms, corridors, areas, levels and point features. An extract of a town holds
    thousands of houses round the campus; those no box reaches are left out unmeasured."""

    def __init__(self, data: OsmData) -> None:
        boxes: list[tuple[float, float, float, float]] = []
        for nid in data.node_tags:
            if nid in data.nodes:
                lon, lat = data.nodes[nid]
                boxes.append((lon, lat, lon, lat))
        for way in data.ways.values():
            if _is_indoor(way.tags) and (b := _bounds(data, way.refs)) is not None:
                boxes.append(b)
        for rel in data.relations.values():
            if _is_indoor(rel.tags) and (b := _relation_bounds(data, rel.members)) is not None:
                boxes.append(b)
        top = max((max(abs(b[1]), abs(b[3])) for b in boxes), default=0.0)
        self.dy = FAR_FROM_INDOOR_M / 110_540.0
        self.dx = FAR_FROM_INDOOR_M / (111_320.0 * math.cos(math.radians(min(top, 89.0))))
        self.tree = STRtree([box(b[0] - self.dx, b[1] - self.dy, b[2] + self.dx, b[3] + self.dy)
                             for b in boxes])
        self.empty = not boxes

    def reached(self, bounds: list[tuple[float, float, float, float] | None]) -> list[bool]:
        """Whether outlines with these bounds (None: unknown, its nodes are missing: read, to
        say so) may hold indoor features; asked of all at once (a town has thousands)."""
        known = [k for k, b in enumerate(bounds) if b is not None]
        hit: set[int] = set()
        if known and not self.empty:
            xy = np.array([bounds[k] for k in known], dtype=float)
            boxes = shapely.box(xy[:, 0], xy[:, 1], xy[:, 2], xy[:, 3])
            hit = {known[int(k)] for k in self.tree.query(boxes, predicate="intersects")[0]}
        return [b is None or k in hit for k, b in enumerate(bounds)]


def _is_indoor(tags: Mapping[str, str]) -> bool:
    return tags.get("indoor") in (*SPACES, "level") or tags.get("emergency") == "defibrillator"


def _only_building(tags: Mapping[str, str]) -> bool:
    """A building outline and nothing more (not also a room, the venue or an AED)."""
    return (tags.get("building", "no") != "no" and not _is_indoor(tags)
            and tags.get("amenity") not in VENUE_AMENITIES)


def _bounds(data: OsmData, refs: Iterable[int]) -> tuple[float, float, float, float] | None:
    points = [data.nodes[r] for r in refs if r in data.nodes]
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _relation_bounds(data: OsmData, members: Iterable[tuple[str, int, str]]
                     ) -> tuple[float, float, float, float] | None:
    refs = [r for mtype, mref, _ in members if mtype == "way" and mref in data.ways
            for r in data.ways[mref].refs]
    return _bounds(data, refs)


def read_areas(data: OsmData, log: FindingLog, limits: ImportLimits, source: str
               ) -> list[OsmArea]:
    """Every closed way and multipolygon that is a building, a space, a level or a venue;
    building outlines far from every indoor feature are counted in one finding, not read."""
    ways = [wid for wid, way in data.ways.items() if is_area(way.tags)]
    relations = [rid for rid, rel in data.relations.items()
                 if rel.tags.get("type") == "multipolygon" and is_area(rel.tags)]
    houses = [("way", wid) for wid in ways if _only_building(data.ways[wid].tags)] + [
        ("relation", rid) for rid in relations if _only_building(data.relations[rid].tags)]
    reached = _IndoorReach(data).reached([
        _bounds(data, data.ways[ref].refs) if kind == "way"
        else _relation_bounds(data, data.relations[ref].members) for kind, ref in houses])
    unread = {h for h, ok in zip(houses, reached, strict=True) if not ok}
    far = len(unread)
    areas: list[OsmArea] = []
    for wid in ways:
        if ("way", wid) not in unread:
            a = _way_area(data, wid, log, limits, source)
            if a is not None:
                areas.append(a)
    for rid in relations:
        if ("relation", rid) not in unread:
            a = _relation_area(data, rid, log, source)
            if a is not None:
                areas.append(a)
    if far:
        log.add(Finding(FindingKind.OTHER,
                        f"{far} building outline(s) lie more than {FAR_FROM_INDOOR_M:g} m from "
                        "every indoor room, door and point (the buildings round the campus); "
                        "left out", Severity.INFO, source=source, action="left out"),
                "far_buildings")
    return areas


# --- buildings ----------------------------------------------------------------------------------
