"""OpenStreetMap indoor maps (Simple Indoor Tagging) from an ``.osm`` XML file (also as JOSM
saves it packed, ``.osm.gz`` / ``.osm.bz2``, or as Overpass writes it with ``out geom``).

What is read:

* rooms, corridors and areas: ``indoor=room|corridor|area`` on closed ways and multipolygon
  relations, with ``level`` (``0``, ``0;1``, ranges ``-1-2``, decimals ``0.5``) and
  ``repeat_on``; ``ref`` is the room number, ``name`` its name; stairs (``stairs=yes``,
  ``room=stairs``, ``highway=steps``), lifts (``highway=elevator``, ``room=elevator``), toilets
  and corridors get their unit category;
* doors: nodes tagged ``door=*`` or ``entrance=*`` (an entrance, or a door on a building
  outline, is exterior; ``entrance=main`` is the main entrance; an entrance's ``ref`` is its
  painted number);
* points: ``emergency=defibrillator`` (AED), ``emergency=first_aid_kit`` / ``amenity=first_aid``,
  ``emergency=assembly_point`` (rally point);
* buildings: ``building=*`` outlines with ``name``, ``ref``, ``building:levels``; each room,
  door and point belongs to the building it lies in;
* level names: ``indoor=level`` areas (``level:ref``, ``level_name``, ``name``), else the
  ``level:ref`` the rooms carry.

The file is untrusted: it is parsed with defusedxml (no DTD, no entity expansion, no external
entities), streamed element by element, and bounded by :class:`~importers.limits.ImportLimits`
(elements, nodes per outline, time, memory). A file that cannot be used at all raises
:class:`~gridmap.errors.IndoorFileError`; smaller problems are findings.
"""

from __future__ import annotations

import bz2
import gzip
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import polygonize, unary_union

from gridmap.crs import LocalFrame
from gridmap.errors import IndoorFileError
from gridmap.model import (
    MAX_GRID_EXTENT_M,
    Amenity,
    AmenityKind,
    Building,
    Level,
    Opening,
    Unit,
    stable_id,
)
from importers.dxf import room_category
from importers.findings import Finding, FindingKind, Severity
from importers.indoor import (
    MAX_ORDINAL,
    FindingLog,
    IndoorImport,
    as_polygon,
    default_level_names,
    local_frame_around,
    most_common,
    span_m,
)
from importers.limits import ImportLimits, WorkBudget
from importers.room_labels import room_number

#: the largest .osm file read (bytes); a school campus is a few megabytes, and reading runs
#: at about a megabyte a second
MAX_OSM_BYTES = 64 * 1024 * 1024
#: members one multipolygon relation may have
MAX_RELATION_MEMBERS = 10_000
#: tags one element may carry (the rest are ignored)
MAX_TAGS = 500
#: XML nesting an .osm file may have (it needs three: osm, way, nd)
MAX_XML_DEPTH = 8
#: a room this far outside every building outline (metres) is not that building's
NEAR_BUILDING_M = 5.0
#: a door this close to a building outline (metres) is on it: exterior
ON_OUTLINE_M = 0.3
#: an entrance=* node this close to a building outline (metres) is a way into the building
NEAR_OUTLINE_M = 2.0
#: rooms within this gap (metres) of each other form one building when no outline holds them
ROOM_GAP_M = 2.0
#: elements read between time and memory checks
_CHECK_EVERY = 4096
#: a room mapped as a point is kept as a box this wide (metres) round it
POINT_ROOM_M = 2.0

_SPACES = ("room", "corridor", "area")
_NUMBER_RE = r"-?\d+(?:\.\d+)?"
_LEVEL_PART_RE = re.compile(rf"^\s*({_NUMBER_RE})\s*$")
_LEVEL_RANGE_RE = re.compile(rf"^\s*({_NUMBER_RE})\s*-\s*({_NUMBER_RE})\s*$")
_VENUE_AMENITIES = frozenset({"school", "college", "university", "kindergarten"})
_ROOM_CATEGORIES = {
    "class": "classroom", "classroom": "classroom", "office": "office",
    "laboratory": "laboratory", "lab": "laboratory", "kitchen": "kitchen",
    "storage": "storage", "store": "storage", "auditorium": "auditorium",
    "library": "library", "toilet": "restroom", "toilets": "restroom",
    "stairs": "stairs", "elevator": "elevator", "lobby": "lobby", "technical": "nonpublic",
    "restaurant": "foodservice", "canteen": "foodservice", "sport": "fitnessroom",
    "computer": "classroom", "conference": "conferenceroom", "shower": "shower",
}


@dataclass(frozen=True)
class LevelSpec:
    """A ``level`` (or ``repeat_on``) value read: the whole-number ordinals it names."""

    ordinals: tuple[int, ...]
    #: what could not be read, or was changed to read it ("" when all was well)
    problem: str = ""


def parse_levels(value: str) -> LevelSpec:
    """``"0;1"`` -> (0, 1); ``"-1-2"`` -> (-1, 0, 1, 2); ``"0.5"`` -> (0,) with a note.

    gridmap levels are whole storeys: a half level (a mezzanine, ``0.5``) is drawn with the
    storey below it, and the note says so.
    """
    ordinals: set[int] = set()
    problems: list[str] = []
    for part in re.split(r"[;,]", value):
        if not part.strip():
            continue
        single = _LEVEL_PART_RE.match(part)
        ranged = None if single else _LEVEL_RANGE_RE.match(part)
        if single:
            numbers = [float(single.group(1))]
        elif ranged:
            lo, hi = sorted((float(ranged.group(1)), float(ranged.group(2))))
            if hi - lo > 2 * MAX_ORDINAL:
                problems.append(f"level range {part.strip()!r} is too wide")
                continue
            numbers = [lo, *range(math.ceil(lo), math.floor(hi) + 1), hi]
        else:
            problems.append(f"level {part.strip()!r} is not a number or range")
            continue
        for n in numbers:
            whole = math.floor(n)
            if abs(whole) > MAX_ORDINAL:
                problems.append(f"level {n:g} is further than {MAX_ORDINAL} from the ground")
                continue
            if whole != n:
                problems.append(f"level {n:g} is read as level {whole} (gridmap levels are "
                                "whole storeys)")
            ordinals.add(whole)
    return LevelSpec(tuple(sorted(ordinals)), "; ".join(problems))


# --- reading the XML -------------------------------------------------------------------------


@dataclass
class _Way:
    refs: tuple[int, ...]
    tags: dict[str, str]


@dataclass
class _Relation:
    members: tuple[tuple[str, int, str], ...]  # (type, ref, role)
    tags: dict[str, str]


@dataclass
class _OsmData:
    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: dict[int, _Way] = field(default_factory=dict)
    relations: dict[int, _Relation] = field(default_factory=dict)


def _tags(el: Element) -> dict[str, str]:
    tags: dict[str, str] = {}
    for t in el.iter("tag"):
        k, v = t.get("k"), t.get("v")
        if k is not None and v is not None and len(tags) < MAX_TAGS:
            tags[k.strip()] = v.strip()
    return tags


def _open_osm(path: Path) -> IO[bytes]:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IndoorFileError(f"{path.name}: cannot be read ({e.strerror})") from None
    if size > MAX_OSM_BYTES:
        raise IndoorFileError(
            f"{path.name}: {size / 1e6:,.0f} MB is larger than an OpenStreetMap indoor file "
            f"may be ({MAX_OSM_BYTES / 1e6:,.0f} MB); export only the campus's area")
    fh = path.open("rb")
    head = fh.read(64)
    fh.seek(0)
    if b"OSMHeader" in head:
        fh.close()
        raise IndoorFileError(
            f"{path.name}: is an OSM PBF file; gridmap reads .osm XML (JOSM: File > Save As "
            ".osm; osmium cat FILE.pbf -o FILE.osm)")
    if head.startswith(b"\x1f\x8b"):  # JOSM's .osm.gz
        return io.BufferedReader(_Capped(gzip.GzipFile(fileobj=fh), fh, path.name))
    if head.startswith(b"BZh"):  # JOSM's .osm.bz2
        return io.BufferedReader(_Capped(bz2.BZ2File(fh), fh, path.name))
    return fh


class _Capped(io.RawIOBase):
    """A compressed file's unpacked bytes, refused past MAX_OSM_BYTES (a gzip bomb unpacks a
    thousand times its size) or when the compressed data is damaged."""

    def __init__(self, inner: gzip.GzipFile | bz2.BZ2File, raw: IO[bytes], name: str) -> None:
        super().__init__()
        self.inner, self.raw, self.name_ = inner, raw, name
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(min(len(buffer), 1 << 16))
        except (OSError, EOFError, ValueError) as e:
            raise IndoorFileError(f"{self.name_}: its compressed data is damaged ({e})"
                                  ) from None
        self.count += len(data)
        if self.count > MAX_OSM_BYTES:
            raise IndoorFileError(
                f"{self.name_}: unpacks to more than {MAX_OSM_BYTES / 1e6:,.0f} MB, more than "
                "an OpenStreetMap indoor file may be; export only the campus's area")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        self.raw.close()
        super().close()


def _elements(fh: IO[bytes], name: str, max_children: int) -> Iterator[Element]:
    """The OSM file's top-level elements, each complete, cleared once yielded.

    Nesting and the elements one element holds are bounded: ElementTree keeps an element's
    children in memory until it ends, so a deep or endless element would fill memory first.
    """
    root: Element | None = None
    depth = 0
    children = 0  # elements inside the current top-level one (held until it ends)
    try:
        for event, el in iterparse(fh, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if root is None:
                    root = el
                    if el.tag != "osm":
                        raise IndoorFileError(
                            f"{name}: is not an OpenStreetMap file (its XML root element is "
                            f"<{el.tag[:40]}>, not <osm>)")
                depth += 1
                if depth > MAX_XML_DEPTH:
                    raise IndoorFileError(
                        f"{name}: its XML is nested {MAX_XML_DEPTH} elements deep; an "
                        "OpenStreetMap file nests three (osm, way, nd)")
                if depth > 2:
                    children += 1
                    if children > max_children:
                        raise IndoorFileError(
                            f"{name}: one element holds more than {max_children:,} others; "
                            "no usable OpenStreetMap way or relation is that large")
                continue
            depth -= 1
            if depth == 1:
                children = 0
                yield el
                el.clear()
                if root is not None and len(root) > 1024:
                    root.clear()
    except DefusedXmlException as e:
        raise IndoorFileError(
            f"{name}: refused: the XML declares a DTD or entities ({type(e).__name__}); an "
            "OpenStreetMap file never needs them, and entity expansion is a known attack "
            "(billion laughs)") from None
    except ParseError as e:
        line, column = getattr(e, "position", (0, 0))
        raise IndoorFileError(
            f"{name}: is not well-formed XML (line {line}, column {column}): "
            f"{str(e).split(':')[0]}") from None
    except LookupError as e:  # <?xml encoding="..."?> names an encoding Python lacks
        raise IndoorFileError(
            f"{name}: its XML declaration names an encoding that cannot be read ({e}); "
            "save it as UTF-8") from None
    if root is None:
        raise IndoorFileError(f"{name}: is empty")


def _position(el: Element) -> tuple[float, float] | None:
    """An element's ``lon``/``lat`` attributes, if they are a place on the earth."""
    try:
        lon, lat = float(el.get("lon", "")), float(el.get("lat", ""))
    except ValueError:
        return None
    if math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90:
        return lon, lat
    return None


#: ids given to the positions of a relation member written inline (Overpass "out geom")
_INLINE_IDS = -(10**15)


def _inline_way(data: _OsmData, wid: int, member: Element, limits: ImportLimits) -> None:
    """A member way that Overpass wrote inside its relation (``<member><nd lat lon/>``)."""
    refs: list[int] = []
    for nd in member.iter("nd"):
        at = _position(nd)
        if at is None or len(refs) > limits.max_outline_points:
            return
        ref = _INLINE_IDS - len(data.nodes)
        data.nodes[ref] = at
        refs.append(ref)
    if len(refs) >= 2:
        if data.nodes[refs[0]] == data.nodes[refs[-1]]:
            refs[-1] = refs[0]
        data.ways[wid] = _Way(tuple(refs), {})


def _read_osm(path: Path, limits: ImportLimits, log: FindingLog, budget: WorkBudget
              ) -> _OsmData:
    data = _OsmData()
    bad_nodes = 0
    count = 0
    with _open_osm(path) as fh:
        max_children = 2 * (limits.max_outline_points + MAX_RELATION_MEMBERS + MAX_TAGS)
        for el in _elements(fh, path.name, max_children):
            if el.tag not in ("node", "way", "relation"):
                continue
            count += 1
            if count > limits.entity_budget:
                raise IndoorFileError(
                    f"{path.name}: holds more than {limits.entity_budget:,} OpenStreetMap "
                    "elements (the import's entity budget); export only the campus's area")
            if count % _CHECK_EVERY == 0:
                budget.check(path.name)
            if el.get("action") == "delete" or el.get("visible") == "false":
                continue
            try:
                oid = int(el.get("id", ""))
            except ValueError:
                bad_nodes += el.tag == "node"
                continue
            if el.tag == "node":
                at = _position(el)
                if at is None:
                    bad_nodes += 1
                    continue
                data.nodes[oid] = at
                tags = _tags(el)
                if tags:
                    data.node_tags[oid] = tags
            elif el.tag == "way":
                refs = []
                for nd in el.iter("nd"):
                    try:
                        ref = int(nd.get("ref", ""))
                    except ValueError:
                        ref = 0  # a node id that cannot exist: reported as missing
                    refs.append(ref)
                    # Overpass "out geom" writes the position on the nd, not as a node
                    if ref not in data.nodes and (at := _position(nd)) is not None:
                        data.nodes[ref] = at
                    if len(refs) > limits.max_outline_points:
                        break
                data.ways[oid] = _Way(tuple(refs), _tags(el))
            else:
                members = []
                for m in el.iter("member"):
                    try:
                        member = (m.get("type", ""), int(m.get("ref", "")), m.get("role", ""))
                    except ValueError:
                        continue
                    members.append(member)
                    if member[0] == "way" and member[1] not in data.ways:
                        _inline_way(data, member[1], m, limits)
                    if len(members) > MAX_RELATION_MEMBERS:
                        break
                data.relations[oid] = _Relation(tuple(members), _tags(el))
    if bad_nodes:
        log.add(Finding(FindingKind.OTHER,
                        f"{bad_nodes} node(s) have no usable id or lat/lon; ignored",
                        source=path.name, action="ignored"))
    return data


# --- geometry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Area:
    ref: str  # "way/12" or "relation/7"
    tags: Mapping[str, str]
    polygon: Polygon  # WGS84
    nodes: frozenset[int]  # the nodes of its outline(s)


def _what(ref: str, tags: Mapping[str, str]) -> str:
    """How an editor recognises an element: ``way 12 (room 214 "Science Lab")``."""
    kind = tags.get("indoor") or ("building" if "building" in tags else "")
    label = " ".join(x for x in (tags.get("ref", ""), f'"{tags["name"]}"' if tags.get("name")
                                 else "") if x)
    detail = " ".join(x for x in (kind, label) if x)
    return f"{ref.replace('/', ' ')}" + (f" ({detail})" if detail else "")


def _way_line(data: _OsmData, wid: int) -> tuple[list[tuple[float, float]] | None, list[int]]:
    """The way's coordinates, or None with the node ids missing from the file."""
    way = data.ways[wid]
    missing = [r for r in way.refs if r not in data.nodes]
    if missing:
        return None, missing
    return [data.nodes[r] for r in way.refs], []


def _way_area(data: _OsmData, wid: int, log: FindingLog, limits: ImportLimits,
              source: str) -> _Area | None:
    way = data.ways[wid]
    ref = f"way/{wid}"
    what = _what(ref, way.tags)
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
          log: FindingLog, source: str) -> _Area | None:
    polygon, note = as_polygon(raw)
    what = _what(ref, tags)
    if polygon is None:
        log.add(Finding(FindingKind.REPAIRED_GEOMETRY, f"{what} encloses no area; skipped",
                        source=source, ref=ref, action="skipped"), "no_area")
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
    if note:
        p = polygon.representative_point()
        log.add(Finding(FindingKind.REPAIRED_GEOMETRY, f"{what}: {note}", Severity.INFO,
                        source=source, ref=ref, action=note, at=(p.x, p.y),
                        placed_on_earth=True), "repaired")
    return _Area(ref, tags, polygon, nodes)


def _relation_area(data: _OsmData, rid: int, log: FindingLog, source: str) -> _Area | None:
    rel = data.relations[rid]
    ref = f"relation/{rid}"
    what = _what(ref, rel.tags)
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
    polygon, note = as_polygon(shape)
    if polygon is None:
        log.add(Finding(FindingKind.REPAIRED_GEOMETRY, f"{what} encloses no area; skipped",
                        source=source, ref=ref, action="skipped"), "no_area")
        return None
    if note:
        p = polygon.representative_point()
        log.add(Finding(FindingKind.REPAIRED_GEOMETRY, f"{what}: {note}", Severity.INFO,
                        source=source, ref=ref, action=note, at=(p.x, p.y),
                        placed_on_earth=True), "repaired")
    return _Area(ref, rel.tags, polygon, frozenset(nodes))


def _areas(data: _OsmData, log: FindingLog, limits: ImportLimits, source: str
           ) -> list[_Area]:
    """Every closed way and multipolygon that is a building, a space, a level or a venue."""
    def wanted(tags: Mapping[str, str]) -> bool:
        return (tags.get("indoor") in (*_SPACES, "level")
                or tags.get("building", "no") != "no"
                or tags.get("amenity") in _VENUE_AMENITIES
                or tags.get("emergency") == "defibrillator")

    areas: list[_Area] = []
    for wid, way in data.ways.items():
        if wanted(way.tags):
            a = _way_area(data, wid, log, limits, source)
            if a is not None:
                areas.append(a)
    for rid, rel in data.relations.items():
        if rel.tags.get("type") == "multipolygon" and wanted(rel.tags):
            a = _relation_area(data, rid, log, source)
            if a is not None:
                areas.append(a)
    return areas


# --- buildings ----------------------------------------------------------------------------------


@dataclass
class _BuildingDraft:
    key: str  # the natural key its ids derive from
    name: str
    short_name: str
    footprint: Polygon  # WGS84
    local: Polygon  # metres
    outline_nodes: frozenset[int]
    declared_levels: int | None = None
    ordinals: set[int] = field(default_factory=set)
    derived: bool = False
    #: the outline's box grown by NEAR_BUILDING_M: anything outside it is not this building's
    reach: tuple[float, float, float, float] = field(init=False)

    def __post_init__(self) -> None:
        minx, miny, maxx, maxy = self.local.bounds
        m = NEAR_BUILDING_M
        self.reach = (minx - m, miny - m, maxx + m, maxy + m)


def _building_drafts(areas: list[_Area], frame: LocalFrame, log: FindingLog, source: str
                     ) -> list[_BuildingDraft]:
    drafts: list[_BuildingDraft] = []
    keys: dict[str, int] = {}
    for a in areas:
        # building=* with indoor=room is a one-room building (a portable classroom): both
        if a.tags.get("building", "no") == "no":
            continue
        ref, name = a.tags.get("ref", ""), a.tags.get("name", "")
        key = ref or name or a.ref
        keys[key] = keys.get(key, 0) + 1
        if keys[key] > 1:
            log.add(Finding(FindingKind.DUPLICATE_NUMBER,
                            f"two buildings are called {key!r} ({a.ref} is the second); the "
                            "second is kept apart as its own building",
                            source=source, ref=a.ref, action="kept with a suffix"))
            key = f"{key}#{keys[key]}"
        declared = None
        raw_levels = a.tags.get("building:levels", "")
        if raw_levels:
            try:
                declared = int(float(raw_levels))
            except ValueError:
                log.add(Finding(FindingKind.OTHER,
                                f"{_what(a.ref, a.tags)}: building:levels {raw_levels!r} is "
                                "not a number; ignored", Severity.INFO, source=source,
                                ref=a.ref, action="ignored"))
        short = ref or name or f"B{len(drafts) + 1}"
        drafts.append(_BuildingDraft(
            key=key, name=name or (f"Building {ref}" if ref else f"Building {short}"),
            short_name=short, footprint=a.polygon, local=_local(frame, a.polygon),
            outline_nodes=a.nodes, declared_levels=declared))
    return drafts


def _local(frame: LocalFrame, polygon: Polygon) -> Polygon:
    """``polygon`` in the frame's metres, valid. A ring reaching far round the globe (a node's
    longitude mistyped: 42.7 for -84.4) folds over itself when projected; it is repaired as
    any invalid outline is, so comparing it with a building cannot fail."""
    local = frame.to_local(polygon)
    if local.is_valid:
        return local
    fixed, _ = as_polygon(local)
    return fixed if fixed is not None else local


def _best_building(local: Polygon | Point, drafts: list[_BuildingDraft]
                   ) -> tuple[_BuildingDraft | None, float, float]:
    """The building holding most of ``local``: (building, share inside, distance metres);
    only buildings within NEAR_BUILDING_M are considered (an extract may hold thousands)."""
    best: tuple[_BuildingDraft | None, float, float] = (None, 0.0, math.inf)
    minx, miny, maxx, maxy = local.bounds
    for d in drafts:
        if minx > d.reach[2] or maxx < d.reach[0] or miny > d.reach[3] or maxy < d.reach[1]:
            continue
        if isinstance(local, Point):
            share = 1.0 if d.local.covers(local) else 0.0
        else:
            share = d.local.intersection(local).area / local.area if local.area > 0 else 0.0
        dist = 0.0 if share > 0 else d.local.distance(local)
        if (share, -dist) > (best[1], -best[2]):
            best = (d, share, dist)
    return best


def _derived_buildings(orphans: list[Polygon], frame: LocalFrame, first: int
                       ) -> list[_BuildingDraft]:
    """Buildings made from rooms that no outline holds: rooms within ROOM_GAP_M are one."""
    merged = unary_union([p.buffer(ROOM_GAP_M / 2, join_style="mitre") for p in orphans])
    parts = list(getattr(merged, "geoms", [merged]))
    drafts = []
    for k, part in enumerate(sorted(parts, key=lambda p: (-p.area, p.bounds)), start=first):
        shrunk, _ = as_polygon(part.buffer(-ROOM_GAP_M / 2, join_style="mitre"))
        local = Polygon((shrunk or part).exterior)
        short = f"B{k}"
        drafts.append(_BuildingDraft(
            key=f"derived:{short}", name=f"Building {short}", short_name=short,
            footprint=frame.to_wgs84(local), local=local, outline_nodes=frozenset(),
            derived=True))
    return drafts


# --- the import -------------------------------------------------------------------------------


@dataclass
class _Space:
    area: _Area
    local: Polygon
    levels: LevelSpec
    building: _BuildingDraft | None = None


def _levels_of(tags: Mapping[str, str], what: str, ref: str, log: FindingLog, source: str,
               at: tuple[float, float] | None, default: int | None = 0) -> tuple[int, ...]:
    """The ordinals an element is on (``level`` plus ``repeat_on``)."""
    raw = tags.get("level", "")
    if not raw.strip():
        if default is None:
            return ()
        log.add(Finding(FindingKind.OTHER,
                        f"{what} has no level tag; taken as level {default}", Severity.INFO,
                        source=source, ref=ref, at=at, placed_on_earth=at is not None,
                        action=f"placed on level {default}"), "no_level")
        return (default,)
    spec = parse_levels(raw)
    ordinals = set(spec.ordinals)
    problem = spec.problem
    if tags.get("repeat_on", "").strip():
        repeat = parse_levels(tags["repeat_on"])
        ordinals |= set(repeat.ordinals)
        problem = "; ".join(p for p in (problem, repeat.problem) if p)
    if problem:
        log.add(Finding(FindingKind.OTHER, f"{what}: {problem}", Severity.INFO, source=source,
                        ref=ref, at=at, placed_on_earth=at is not None,
                        action="read as whole levels" if ordinals else "skipped"),
                "level_value")
    return tuple(sorted(ordinals))


def _category(tags: Mapping[str, str], name: str) -> str:
    indoor = tags.get("indoor", "")
    room = tags.get("room", "").lower()
    if (tags.get("stairs") == "yes" or room == "stairs" or tags.get("highway") == "steps"
            or tags.get("stairwell") in ("yes", "stair_landing", "flight_of_stairs")):
        return "stairs"
    if tags.get("highway") == "elevator" or room == "elevator" or tags.get("elevator") == "yes":
        return "elevator"
    if room in ("toilet", "toilets") or tags.get("amenity") == "toilets":
        for gender in ("female", "male", "unisex"):
            if tags.get(gender) == "yes":
                return f"restroom.{gender}"
        return "restroom"
    if indoor == "corridor":
        return "walkway"
    if room in _ROOM_CATEGORIES:
        return _ROOM_CATEGORIES[room]
    by_name = room_category(name)
    if indoor == "area" and by_name == "room":
        return "unenclosedarea"
    return by_name


def _address(tags: Mapping[str, str]) -> str | None:
    street = " ".join(x for x in (tags.get("addr:housenumber", ""), tags.get("addr:street", ""))
                      if x)
    place = " ".join(x for x in (tags.get("addr:state", ""), tags.get("addr:postcode", ""))
                     if x)
    parts = [x for x in (street, tags.get("addr:city", ""), place) if x]
    return ", ".join(parts) if street and len(parts) > 1 else (street or None)


_AMENITY_TAGS: tuple[tuple[str, str, AmenityKind], ...] = (
    ("emergency", "defibrillator", AmenityKind.AED),
    ("emergency", "first_aid_kit", AmenityKind.FIRST_AID),
    ("amenity", "first_aid", AmenityKind.FIRST_AID),
    ("emergency", "assembly_point", AmenityKind.RALLY_POINT),
)


def _amenity_kind(tags: Mapping[str, str]) -> AmenityKind | None:
    for key, value, kind in _AMENITY_TAGS:
        if tags.get(key) == value:
            return kind
    return None


class _Reader:
    """One file's import: the parsed elements in, model objects and findings out."""

    def __init__(self, path: Path, campus_id: str, limits: ImportLimits) -> None:
        self.source = path.name
        self.cid = campus_id
        self.limits = limits
        self.log = FindingLog(self.source)
        self.budget = WorkBudget(limits)
        self.data = _read_osm(path, limits, self.log, self.budget)

    def run(self) -> IndoorImport:
        areas = _areas(self.data, self.log, self.limits, self.source)
        point_features = [
            (nid, tags) for nid, tags in self.data.node_tags.items()
            if _is_door(tags) or _amenity_kind(tags) is not None or _is_point_room(tags)
        ]
        spaces_raw = [a for a in areas if a.tags.get("indoor") in _SPACES]
        if not spaces_raw and not point_features:
            raise IndoorFileError(
                f"{self.source}: holds no indoor rooms, corridors or areas (indoor=room|"
                "corridor|area), doors or AEDs: is it mapped with Simple Indoor Tagging?")
        frame = local_frame_around([a.polygon for a in areas] or [
            Point(self.data.nodes[nid]) for nid, _ in point_features])
        drafts = _building_drafts(areas, frame, self.log, self.source)
        spaces = self._spaces(spaces_raw, frame, drafts)
        units = self._units(spaces)
        units += self._point_rooms(units, frame, drafts)
        openings = self._openings(frame, drafts, spaces)
        amenities = self._amenities(frame, drafts, areas)
        used = [d for d in drafts if d.ordinals]
        for d in drafts:
            if not d.ordinals:
                self.log.add(Finding(
                    FindingKind.OTHER,
                    f"building {d.short_name!r} holds no mapped rooms, doors or points; left out",
                    Severity.INFO, source=self.source, ref=d.key, action="left out"),
                    "empty_building")
        levels = self._levels(used, spaces, areas, frame)
        self._check_declared_levels(used)
        buildings = tuple(
            Building(id=self._bid(d), name=d.name, short_name=d.short_name,
                     footprint=Polygon(d.footprint.exterior))
            for d in used)
        if not units and not openings:
            raise IndoorFileError(
                f"{self.source}: none of its rooms or doors could be used; "
                + "; ".join(f.message for f in self.log.findings()[:5]))
        name, address = self._venue(areas, drafts)
        return IndoorImport(
            buildings=buildings, levels=levels, units=tuple(units),
            openings=tuple(openings), amenities=tuple(amenities), name=name, address=address,
            findings=self.log.findings())

    # ids -------------------------------------------------------------------------------------

    def _bid(self, d: _BuildingDraft) -> str:
        return stable_id(self.cid, d.key)

    def _lid(self, d: _BuildingDraft, ordinal: int) -> str:
        return stable_id(self.cid, d.key, ordinal)

    # spaces ----------------------------------------------------------------------------------

    def _spaces(self, raw: list[_Area], frame: LocalFrame, drafts: list[_BuildingDraft]
                ) -> list[_Space]:
        spaces: list[_Space] = []
        orphans: list[_Space] = []
        for k, a in enumerate(raw):
            if k % 256 == 0:
                self.budget.check(self.source)
            p = a.polygon.representative_point()
            at = (p.x, p.y)
            what = _what(a.ref, a.tags)
            ordinals = _levels_of(a.tags, what, a.ref, self.log, self.source, at)
            if not ordinals:
                continue
            s = _Space(a, _local(frame, a.polygon), LevelSpec(ordinals))
            building, share, dist = _best_building(s.local, drafts)
            if building is not None and (share > 0 or dist <= NEAR_BUILDING_M):
                s.building = building
                if share < 0.5:
                    self.log.add(Finding(
                        FindingKind.ROOM_OUTSIDE_FOOTPRINT,
                        f"{what} lies {'mostly' if share > 0 else 'wholly'} outside building "
                        f"{building.short_name!r}'s outline"
                        + (f" ({dist:.1f} m away)" if share == 0 else "")
                        + "; kept with that building", source=self.source, ref=a.ref, at=at,
                        placed_on_earth=True, action="kept with the nearest building",
                        building=building.short_name))
                spaces.append(s)
            else:
                orphans.append(s)
        if orphans:
            derived = _derived_buildings([s.local for s in orphans], frame, len(drafts) + 1)
            self.log.add(Finding(
                FindingKind.ROOM_OUTSIDE_FOOTPRINT if drafts else FindingKind.OTHER,
                f"{len(orphans)} room(s) lie in no building=* outline; "
                f"{len(derived)} building(s) were outlined around them "
                f"({', '.join(d.short_name for d in derived)}): name them in the workspace",
                Severity.WARNING, source=self.source, action="building outlined from rooms"))
            drafts.extend(derived)
            for s in orphans:
                s.building = _best_building(s.local, derived)[0]
                spaces.append(s)
        return spaces

    def _units(self, spaces: list[_Space]) -> list[Unit]:
        units: list[Unit] = []
        seen: dict[tuple[str, int, str], int] = {}
        for s in spaces:
            d = s.building
            if d is None:
                continue
            tags = s.area.tags
            number, name = _number_and_name(tags)
            aliases = tuple(x.strip() for x in (tags.get("alt_name", "") + ";"
                                                 + tags.get("short_name", "")).split(";")
                            if x.strip())
            category = _category(tags, name)
            base = number or name or s.area.ref
            p = s.area.polygon.representative_point()
            for ordinal in s.levels.ordinals:
                d.ordinals.add(ordinal)
                key = base
                n = seen[(d.key, ordinal, base)] = seen.get((d.key, ordinal, base), 0) + 1
                if n > 1:
                    if number:
                        self.log.add(Finding(
                            FindingKind.DUPLICATE_NUMBER,
                            f"room number {number!r} appears more than once on level "
                            f"{ordinal} of building {d.short_name!r} ({s.area.ref})",
                            source=self.source, ref=s.area.ref, at=(p.x, p.y),
                            placed_on_earth=True, action="kept both",
                            building=d.short_name, level=str(ordinal)))
                    key = f"{base}#{n}"
                units.append(Unit(
                    id=stable_id(self.cid, d.key, ordinal, key), building_id=self._bid(d),
                    level_id=self._lid(d, ordinal), number=number, name=name or number,
                    geometry=s.area.polygon, category=category, aliases=aliases))
        return units

    def _point_rooms(self, units: list[Unit], frame: LocalFrame,
                     drafts: list[_BuildingDraft]) -> list[Unit]:
        """Rooms mapped as a point (``indoor=room`` on a node): approximate units, a small box
        round the point, unless it lies in an outline with the same number or name."""
        drawn: dict[tuple[str, str, str], list[Polygon]] = defaultdict(list)
        for u in units:
            drawn[(u.building_id, u.level_id, u.number or u.name)].append(u.geometry)
        seen: dict[tuple[str, str, str], int] = {}
        rooms: list[Unit] = []
        for nid, tags in sorted(self.data.node_tags.items()):
            if not _is_point_room(tags):
                continue
            lon, lat = self.data.nodes[nid]
            ref = f"node/{nid}"
            what = _what(ref, tags)
            local = Point(frame.xy(lon, lat))
            building, share, dist = _best_building(local, drafts)
            if building is None or (share == 0 and dist > NEAR_BUILDING_M):
                self.log.add(Finding(
                    FindingKind.LABEL_OUTSIDE_ROOMS, f"{what} is a room mapped as a point in "
                    "no building; skipped", source=self.source, ref=ref, at=(lon, lat),
                    placed_on_earth=True, action="skipped"), "point_room")
                continue
            number, name = _number_and_name(tags)
            if not (number or name) and tags.get("highway") == "elevator":
                name = "Elevator"
            box = frame.to_wgs84(local.buffer(POINT_ROOM_M / 2, cap_style="square"))
            for ordinal in _levels_of(tags, what, ref, self.log, self.source, (lon, lat)):
                key = (self._bid(building), self._lid(building, ordinal), number or name)
                if any(frame.to_local(g).distance(local) <= 1.0 for g in drawn.get(key, ())):
                    continue  # the label of a room whose outline is mapped too
                building.ordinals.add(ordinal)
                # after the outlines with this number or name (they hold "214", "214#2", ...)
                seen[key] = seen.get(key, len(drawn.get(key, ()))) + 1
                unit_key = number or name if seen[key] == 1 else f"{number or name}#{seen[key]}"
                rooms.append(Unit(
                    id=stable_id(self.cid, building.key, ordinal, unit_key),
                    building_id=key[0], level_id=key[1], number=number,
                    name=name or number, geometry=box, category=_category(tags, name),
                    approximate=True))
                self.log.add(Finding(
                    FindingKind.LABEL_OUTSIDE_ROOMS,
                    f"{what} is mapped as a point, not an outline; kept as an approximate "
                    f"room ({POINT_ROOM_M:g} m box)", Severity.INFO, source=self.source,
                    ref=ref, at=(lon, lat), placed_on_earth=True,
                    action="kept as a label-only room", building=building.short_name,
                    level=str(ordinal)), "point_room")
        return rooms

    # doors -----------------------------------------------------------------------------------

    def _openings(self, frame: LocalFrame, drafts: list[_BuildingDraft],
                  spaces: list[_Space]) -> list[Opening]:
        space_levels: dict[int, set[int]] = defaultdict(set)
        door_ids = {nid for nid, tags in self.data.node_tags.items() if _is_door(tags)}
        for s in spaces:
            for nid in s.area.nodes & door_ids:
                space_levels[nid].update(s.levels.ordinals)
        openings: list[Opening] = []
        mains: dict[str, int] = defaultdict(int)
        for k, nid in enumerate(sorted(door_ids)):
            if k % 256 == 0:
                self.budget.check(self.source)
            tags = self.data.node_tags[nid]
            lon, lat = self.data.nodes[nid]
            ref = f"node/{nid}"
            what = f"door node {nid}" + (f" ({tags['ref']})" if tags.get("ref") else "")
            local = Point(frame.xy(lon, lat))
            building = self._door_building(nid, local, drafts)
            if building is None:
                self.log.add(Finding(
                    FindingKind.OTHER, f"{what} lies in no building; skipped",
                    source=self.source, ref=ref, at=(lon, lat), placed_on_earth=True,
                    action="skipped"), "door_outside")
                continue
            # an entrance is a way into the building: on (or by) its outline; an entrance
            # tag deep inside is a room's entrance, and so an inner door
            to_outline = building.local.exterior.distance(local)
            entrance = tags.get("entrance", "no") != "no" and to_outline <= NEAR_OUTLINE_M
            exterior = (entrance or nid in building.outline_nodes or to_outline <= ON_OUTLINE_M)
            if exterior and self._between_buildings(nid, local, building, drafts):
                exterior = False  # a door through a wall two buildings share leads indoors
            ordinals = _levels_of(tags, what, ref, self.log, self.source, (lon, lat),
                                  default=None)
            if not ordinals:
                ordinals = tuple(sorted(space_levels.get(nid, ())))
            if not ordinals:
                if not exterior:
                    self.log.add(Finding(
                        FindingKind.OTHER,
                        f"{what} has no level tag and is on no room's outline; skipped",
                        source=self.source, ref=ref, at=(lon, lat), placed_on_earth=True,
                        action="skipped"), "door_no_level")
                    continue
                ordinals = (0,)
            main = tags.get("entrance") == "main"
            if main:
                mains[building.key] += 1
            number = tags.get("ref", "").strip() or None
            for ordinal in ordinals:
                building.ordinals.add(ordinal)
                openings.append(Opening(
                    id=stable_id(self.cid, building.key, ordinal, "opening", ref),
                    building_id=self._bid(building), level_id=self._lid(building, ordinal),
                    geometry=Point(lon, lat), exterior=exterior,
                    main_entrance=main and exterior, number=number if exterior else None))
        for key, n in mains.items():
            if n > 1:
                self.log.add(Finding(
                    FindingKind.OTHER,
                    f"building {key!r} has {n} doors tagged entrance=main; door numbering "
                    "starts at one of them: mark the one in the workspace",
                    source=self.source, action="kept all"))
        return openings

    @staticmethod
    def _between_buildings(nid: int, local: Point, building: _BuildingDraft,
                           drafts: list[_BuildingDraft]) -> bool:
        """Whether a door on ``building``'s outline is on another building's outline too."""
        for d in drafts:
            if d is building or local.x < d.reach[0] or local.x > d.reach[2] \
                    or local.y < d.reach[1] or local.y > d.reach[3]:
                continue
            if nid in d.outline_nodes or d.local.exterior.distance(local) <= ON_OUTLINE_M:
                return True
        return False

    def _door_building(self, nid: int, local: Point, drafts: list[_BuildingDraft]
                       ) -> _BuildingDraft | None:
        for d in drafts:
            if nid in d.outline_nodes:
                return d
        building, share, dist = _best_building(local, drafts)
        if building is not None and (share > 0 or dist <= 1.0):
            return building
        return None

    # points ----------------------------------------------------------------------------------

    def _amenities(self, frame: LocalFrame, drafts: list[_BuildingDraft],
                   areas: list[_Area]) -> list[Amenity]:
        found: list[tuple[str, Mapping[str, str], Point]] = [
            (f"node/{nid}", tags, Point(self.data.nodes[nid]))
            for nid, tags in self.data.node_tags.items() if _amenity_kind(tags) is not None
        ]
        found += [(a.ref, a.tags, a.polygon.representative_point())
                  for a in areas if _amenity_kind(a.tags) is not None]
        amenities: list[Amenity] = []
        for ref, tags, point in sorted(found, key=lambda f: f[0]):
            kind = _amenity_kind(tags)
            if kind is None:
                continue
            at = (point.x, point.y)
            what = f"{ref.replace('/', ' ')} ({kind.display_name})"
            local = Point(frame.xy(point.x, point.y))
            building, share, dist = _best_building(local, drafts)
            if building is not None and share == 0 and dist > 1.0:
                building = None
            level_id = None
            ordinals = _levels_of(tags, what, ref, self.log, self.source, at,
                                  default=0 if building is not None else None)
            if building is not None and ordinals:
                building.ordinals.add(ordinals[0])
                level_id = self._lid(building, ordinals[0])
            note = tags.get("defibrillator:location", "") or tags.get("description", "")
            amenities.append(Amenity(
                id=stable_id(self.cid, "amenity", ref), kind=kind,
                name=tags.get("name", "") or kind.display_name, geometry=point,
                building_id=self._bid(building) if building is not None else None,
                level_id=level_id, note=note))
        return amenities

    # levels ----------------------------------------------------------------------------------

    def _levels(self, drafts: list[_BuildingDraft], spaces: list[_Space], areas: list[_Area],
                frame: LocalFrame) -> tuple[Level, ...]:
        # an indoor=level area names its level (name or level_name; level:ref is the short
        # name); else the level:ref most of the level's rooms carry
        declared: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
        from_rooms: dict[tuple[str, int], list[str]] = defaultdict(list)
        for a in areas:
            if a.tags.get("indoor") != "level":
                continue
            building = _best_building(_local(frame, a.polygon), drafts)[0]
            short = a.tags.get("level:ref", "")
            long = a.tags.get("level_name") or a.tags.get("name") or short
            if building is None or not long:
                continue
            for ordinal in parse_levels(a.tags.get("level", "")).ordinals:
                declared[(building.key, ordinal)].append((long, short))
        for s in spaces:
            label = s.area.tags.get("level:ref", "")
            if s.building is not None and label and len(s.levels.ordinals) == 1:
                from_rooms[(s.building.key, s.levels.ordinals[0])].append(label)
        levels = []
        for d in drafts:
            for ordinal in sorted(d.ordinals):
                name, short = default_level_names(ordinal)
                if declared.get((d.key, ordinal)):
                    long, given_short = declared[(d.key, ordinal)][0]
                    name = long
                    short = given_short or (long if len(long) <= 8 else short)
                elif (room_label := most_common(from_rooms.get((d.key, ordinal), []))) is not None:
                    name = room_label
                    short = room_label if len(room_label) <= 8 else short
                levels.append(Level(self._lid(d, ordinal), self._bid(d), ordinal, name, short))
        return tuple(levels)

    def _check_declared_levels(self, drafts: list[_BuildingDraft]) -> None:
        for d in drafts:
            if d.declared_levels is None or not d.ordinals:
                continue
            top = max(d.ordinals)
            if top >= d.declared_levels:
                self.log.add(Finding(
                    FindingKind.OTHER,
                    f"building {d.short_name!r} says building:levels={d.declared_levels} "
                    f"(levels 0 to {d.declared_levels - 1} above ground) but has features on "
                    f"level {top}", Severity.INFO, source=self.source, ref=d.key,
                    action="kept as mapped", building=d.short_name))

    def _venue(self, areas: list[_Area], drafts: list[_BuildingDraft]
               ) -> tuple[str | None, str | None]:
        venues = [a.tags for a in areas if a.tags.get("amenity") in _VENUE_AMENITIES]
        venues += [t for t in self.data.node_tags.values()
                   if t.get("amenity") in _VENUE_AMENITIES]
        name = next((t["name"] for t in venues if t.get("name")), None)
        address = next((a for a in map(_address, venues) if a), None)
        if address is None:
            address = next((x for x in (_address(a.tags) for a in areas
                                        if a.tags.get("building", "no") != "no") if x), None)
        if name is None and len(drafts) == 1 and not drafts[0].derived:
            name = drafts[0].name
        return name, address


def _is_point_room(tags: Mapping[str, str]) -> bool:
    """A room mapped as a point: a named or numbered indoor space, or a lift shaft."""
    return ((tags.get("indoor") in _SPACES and bool(tags.get("ref") or tags.get("name")))
            or tags.get("highway") == "elevator")


def _number_and_name(tags: Mapping[str, str]) -> tuple[str, str]:
    """A room's number (``ref``, else a ``name`` that reads as one: "214", "Room 214") and
    name (``name``; the number when the name is only the number)."""
    number = tags.get("ref", "").strip()
    name = tags.get("name", "").strip()
    if not number and name:
        number = room_number(name) or ""
        if number and name.upper().replace(" ", "") in (number.replace(" ", ""),
                                                         f"ROOM{number}".replace(" ", "")):
            name = number
    return number, name


def _is_door(tags: Mapping[str, str]) -> bool:
    return (tags.get("door", "no") != "no" or tags.get("entrance", "no") != "no"
            or tags.get("indoor") == "door")


def read_osm_indoor(path: Path, campus_id: str, limits: ImportLimits) -> IndoorImport:
    """Read an OpenStreetMap indoor (Simple Indoor Tagging) ``.osm`` file.

    Raises :class:`~gridmap.errors.IndoorFileError` when the file cannot be used at all (not
    XML, a DTD or entity declarations, over the limits, no indoor features); everything
    smaller is a finding in the result.
    """
    return _Reader(Path(path), campus_id, limits).run()
