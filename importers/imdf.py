"""Apple IMDF (Indoor Mapping Data Format, OGC 20-094) archives.

An IMDF archive is a zip of GeoJSON feature collections, one per feature type
(``venue.geojson``, ``building.geojson``, ``footprint.geojson``, ``level.geojson``,
``unit.geojson``, ``opening.geojson``, ``amenity.geojson``, ``address.geojson``,
``anchor.geojson``...) and a ``manifest.json``. gridmap's model is named after IMDF, so most
of the reading is a translation:

* venue -> the campus's name and address; building + footprint -> :class:`Building`;
* level (``ordinal``, ``name``, ``short_name``, ``building_ids``) -> one :class:`Level` per
  building it serves; on an outdoor level, units and sections that are parking, fields of
  play, roads or playgrounds -> :class:`GroundsFeature` (:mod:`importers.imdf_places`);
* unit -> :class:`Unit` (``category`` kept; the room number is the ``name`` or ``alt_name``
  that reads as one; an occupant anchored in the unit names it when the unit itself has only
  a number); structural units (walls, columns, open-to-below) are left out;
* opening -> :class:`Opening` at the middle of its line; an opening on the building's
  footprint edge is exterior, ``pedestrian.principal`` marks the main entrance;
* amenity -> :class:`Amenity` for the categories a responder needs (``defibrillator``,
  ``firstaid``, ``elevator``), placed on the level of its unit (in no building when its unit
  is outdoors);
* section, kiosk, fixture: gridmap's model has no named areas inside a level, no kiosk point
  and no furnishings; each section and kiosk is a finding naming it, fixtures are counted.

A non-conforming archive still imports: every rule it breaks is a finding that names the rule
("unit 'abc': level_id 'x' names no level (IMDF rule: unit.level_id references a level)"), and
only what cannot be used at all is skipped. The zip is read in memory with limits on its size,
member count, each member's size and compression ratio; no member is extracted to disk.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from gridmap.crs import LocalFrame
from gridmap.errors import IndoorFileError
from gridmap.model import Amenity, Building, Level, Opening, Unit, stable_id
from importers.dxf import room_category
from importers.findings import FindingKind, Severity
from importers.imdf_archive import MAX_IMDF_BYTES as MAX_IMDF_BYTES
from importers.imdf_archive import MAX_MEMBERS as MAX_MEMBERS
from importers.imdf_archive import MAX_RATIO as MAX_RATIO
from importers.imdf_archive import MAX_TOTAL_BYTES as MAX_TOTAL_BYTES
from importers.imdf_archive import read_members
from importers.imdf_features import ImdfFeatures
from importers.imdf_places import OutdoorLevels, fixtures, kiosks, outdoor_unit, sections
from importers.imdf_rules import Rules, as_text
from importers.imdf_spec import (
    ALLOWED_GEOMETRY,
    AMENITY_KINDS,
    DOOR_NUMBER_RE,
    NOT_READ,
    NOT_SPACES,
    Feature,
)
from importers.imdf_spec import OPENING_CATEGORIES as OPENING_CATEGORIES
from importers.imdf_spec import UNIT_CATEGORIES as UNIT_CATEGORIES
from importers.indoor import (
    MAX_ORDINAL,
    FindingLog,
    IndoorImport,
    as_polygon,
    default_level_names,
    local_frame_around,
)
from importers.limits import ImportLimits, WorkBudget
from importers.room_labels import room_number

#: the largest one member may unpack to (bytes); parsed JSON takes ten times that in memory
MAX_MEMBER_BYTES = 48 * 1024 * 1024
#: an opening this close to its building's footprint edge (metres) is an exterior door
EXTERIOR_DOOR_M = 1.0


# --- the archive ---------------------------------------------------------------------------


@dataclass
class _Level:
    feature_id: str
    ordinal: int
    name: str
    short_name: str
    geometry: BaseGeometry | None
    building_ids: list[str]
    #: gridmap level ids by IMDF building id
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class _Building:
    feature_id: str
    name: str
    short_name: str
    footprint: Polygon | None = None
class _Archive:
    def __init__(self, path: Path, campus_id: str, limits: ImportLimits) -> None:
        self.source = path.name
        self.cid = campus_id
        self.limits = limits
        self.budget = WorkBudget(limits)
        self.rules = Rules(FindingLog(self.source))
        self.members = read_members(path, self.rules.log, MAX_MEMBER_BYTES)
        self.read = ImdfFeatures(self.members, self.source, limits, self.budget, self.rules)
        self.outdoor = OutdoorLevels()

    def run(self) -> IndoorImport:
        self.read.manifest()
        for missing in ("level", "unit"):
            if missing not in self.members:
                self.rules.broken("the archive", f"has no {missing}.geojson",
                                  f"an IMDF archive holds {missing}.geojson",
                                  severity=Severity.ERROR, action="read without")
        for other in NOT_READ:
            if other in self.members:
                self.rules.note(f"{other}.geojson is not read: gridmap has no use for "
                                f"{other} features", kind=FindingKind.UNSUPPORTED,
                                action="ignored")
        addresses = self._addresses()
        name, address = self._venue(addresses)
        buildings = self._buildings()
        self._footprints(buildings)
        levels = self._levels(buildings)
        self._place_levels(levels, buildings)
        frame = local_frame_around(
            [b.footprint for b in buildings.values() if b.footprint is not None]
            + [lv.geometry for lv in levels.values() if lv.geometry is not None])
        anchors = list(self.read.features("anchor"))
        occupants = self._occupants(anchors)
        units, unit_levels = self._units(levels, buildings, occupants)
        self._footprints_from_units(buildings, units)
        openings = self._openings(levels, buildings, frame)
        amenities = self._amenities(unit_levels, buildings)
        self._anchors(anchors, unit_levels)
        sections(self.read, {lv.feature_id: (lv.name, list(lv.ids.values()))
                             for lv in levels.values()}, self.outdoor, units, self.cid)
        kiosks(self.read, levels, self.outdoor)
        fixtures(self.read, levels, self.outdoor)
        self.outdoor.report(self.rules)
        used_levels = {u.level_id for u in units} | {o.level_id for o in openings} | {
            a.level_id for a in amenities if a.level_id}
        model_levels = self._model_levels(levels, used_levels)
        used_buildings = {lv.building_id for lv in model_levels} | {
            a.building_id for a in amenities if a.building_id}
        for b in buildings.values():  # only doors and points: outline what it holds
            bid = stable_id(self.cid, b.feature_id)
            if b.footprint is None and bid in used_buildings:
                held = [frame.to_local(o.geometry) for o in openings if o.building_id == bid]
                if held:
                    hull = unary_union(held).convex_hull.buffer(EXTERIOR_DOOR_M)
                    b.footprint, _ = as_polygon(frame.to_wgs84(hull))
        model_buildings = tuple(
            Building(stable_id(self.cid, b.feature_id), b.name, b.short_name,
                     Polygon(b.footprint.exterior))
            for b in buildings.values()
            if b.footprint is not None and stable_id(self.cid, b.feature_id) in used_buildings)
        if not units and not openings and not amenities and not self.outdoor.grounds:
            raise IndoorFileError(
                f"{self.source}: holds no usable units, openings or amenities; see its "
                "findings: " + "; ".join(f.message for f in self.rules.log.findings()[:5]))
        return IndoorImport(
            buildings=model_buildings, levels=model_levels, units=tuple(units),
            openings=tuple(openings), amenities=tuple(amenities), name=name or None,
            address=address or None, findings=self.rules.log.findings(),
            grounds=tuple(self.outdoor.grounds))

    def _addresses(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.read.features("address"):
            p = f["properties"]

            def text(key: str, props: Mapping[str, Any] = p) -> str:
                v = props.get(key)
                return v.strip() if isinstance(v, str) else ""

            province = text("province").split("-")[-1]
            street = ", ".join(x for x in (text("address"), text("unit")) if x)
            region = " ".join(x for x in (province, text("postal_code")) if x)
            out[f["id"]] = ", ".join(x for x in (street, text("locality"), region) if x)
        return out

    def _venue(self, addresses: dict[str, str]) -> tuple[str, str]:
        venues = list(self.read.features("venue"))
        if not venues:
            if "venue" not in self.members:
                self.rules.broken("the archive", "has no venue.geojson",
                                  "an IMDF archive has exactly one venue", action="read without")
            return "", ""
        if len(venues) > 1:
            self.rules.broken("venue.geojson", f"holds {len(venues)} venues",
                              "an IMDF archive has exactly one venue", action="first read")
        v = venues[0]
        self.read.geometry(v, "venue")
        address_id = v["properties"].get("address_id")
        address = ""
        if isinstance(address_id, str):
            address = addresses.get(address_id, "")
            if not address:
                self.rules.broken(v["what"], f"address_id {address_id!r} names no address",
                                  "venue.address_id references an address", ref=v["id"],
                                  action="read without an address")
        return self.read.label(v, "name"), address

    def _buildings(self) -> dict[str, _Building]:
        buildings: dict[str, _Building] = {}
        for f in self.read.features("building"):
            self.read.geometry(f, "building")
            name = self.read.label(f, "name")
            alt = self.read.label(f, "alt_name")
            short = alt if alt and len(alt) <= 12 else (name if len(name) <= 12 else "")
            buildings[f["id"]] = _Building(
                f["id"], name or (f"Building {alt}" if alt else f"Building {len(buildings) + 1}"),
                short or f"B{len(buildings) + 1}")
        return buildings

    def _footprints(self, buildings: dict[str, _Building]) -> None:
        shapes: dict[str, list[tuple[int, BaseGeometry]]] = defaultdict(list)
        rank = {"ground": 0, "aerial": 1, "subterranean": 2}
        for f in self.read.features("footprint"):
            geom = self.read.geometry(f, "footprint")
            if geom is None:
                continue
            category = as_text(f["properties"].get("category"))
            if category not in rank:
                self.rules.broken(f["what"], f"category is {category!r}",
                                  'footprint.category is "ground", "aerial" or "subterranean"',
                                  ref=f["id"], action="read as ground")
            ids = self.read.ids(f, "building_ids")
            if not ids:
                self.rules.broken(f["what"], "names no building",
                                  "footprint.building_ids lists its buildings", ref=f["id"],
                                  action="skipped")
            for bid in ids:
                if bid not in buildings:
                    self.rules.broken(f["what"], f"building_ids names {bid!r}, no building",
                                      "footprint.building_ids references buildings",
                                      ref=f["id"], action="ignored for it")
                    continue
                shapes[bid].append((rank.get(category or "", 0), geom))
        for bid, found in shapes.items():
            best = min(r for r, _ in found)
            polygon, note = as_polygon(unary_union([g for r, g in found if r == best]))
            if note:
                self.rules.note(f"building {bid!r}: its footprint {note}",
                                kind=FindingKind.REPAIRED_GEOMETRY, ref=bid, action=note)
            buildings[bid].footprint = polygon

    def _levels(self, buildings: dict[str, _Building]) -> dict[str, _Level]:
        levels: dict[str, _Level] = {}
        for f in self.read.features("level"):
            p = f["properties"]
            raw = p.get("ordinal")
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            elif isinstance(raw, str) and re.fullmatch(r"\s*-?\d{1,3}\s*", raw):
                self.rules.broken(f["what"], f"ordinal is the text {raw!r}",
                                  "level.ordinal is an integer", ref=f["id"],
                                  action="read as a number", severity=Severity.INFO)
                raw = int(raw)
            if not isinstance(raw, int) or isinstance(raw, bool) or abs(raw) > MAX_ORDINAL:
                self.rules.broken(f["what"], f"ordinal is {raw!r}",
                                  "level.ordinal is an integer (0 = ground floor)", ref=f["id"],
                                  action="level skipped, with what lies on it",
                                  severity=Severity.ERROR)
                continue
            if p.get("outdoor") is True:  # its units and sections may be grounds
                self.read.geometry(f, "level")
                self.outdoor.names[f["id"]] = self.read.label(f, "name") or "outdoor"
                continue
            geom = self.read.geometry(f, "level")
            ids = self.read.ids(f, "building_ids")
            for bid in ids:
                if bid not in buildings:
                    self.rules.broken(f["what"], f"building_ids names {bid!r}, no building",
                                      "level.building_ids references buildings", ref=f["id"],
                                      action="placed by its outline")
            default_name, default_short = default_level_names(raw)
            name = self.read.label(f, "name") or default_name
            short = self.read.label(f, "short_name") or default_short
            levels[f["id"]] = _Level(f["id"], raw, name, short, geom,
                                     [b for b in ids if b in buildings])
        return levels

    def _place_levels(self, levels: dict[str, _Level], buildings: dict[str, _Building]
                      ) -> None:
        """Give each level its buildings (by building_ids, else by outline) and each
        building a footprint (from its levels when footprint.geojson has none)."""
        with_footprint = [b for b in buildings.values() if b.footprint is not None]
        for lv in levels.values():
            if lv.building_ids or lv.geometry is None:
                continue
            best, best_area = None, 0.0
            for b in with_footprint:
                area = b.footprint.intersection(lv.geometry).area if b.footprint else 0.0
                if area > best_area:
                    best, best_area = b, area
            if best is not None:
                lv.building_ids = [best.feature_id]
        orphans = [lv for lv in levels.values() if not lv.building_ids]
        if orphans:
            bid = f"derived:{orphans[0].feature_id}"
            buildings[bid] = _Building(bid, f"Building {len(buildings) + 1}",
                                       f"B{len(buildings) + 1}")
            self.rules.broken(f"{len(orphans)} level(s)", "belong to no building",
                              "level.building_ids names the level's building",
                              action=f"placed in one building, {buildings[bid].short_name}")
            for lv in orphans:
                lv.building_ids = [bid]
        for b in buildings.values():
            if b.footprint is not None:
                continue
            outlines = [lv.geometry for lv in levels.values()
                        if b.feature_id in lv.building_ids and lv.geometry is not None]
            polygon, _ = as_polygon(unary_union(outlines)) if outlines else (None, "")
            if polygon is not None:
                b.footprint = polygon
                if not b.feature_id.startswith("derived:"):
                    self.rules.broken(f"building {b.feature_id!r}", "has no footprint",
                                      "footprint.building_ids covers every building",
                                      action="outlined from its levels", ref=b.feature_id)

    def _footprints_from_units(self, buildings: dict[str, _Building], units: list[Unit]
                               ) -> None:
        """A building with neither a footprint nor level outlines is outlined by its units."""
        for b in buildings.values():
            if b.footprint is not None:
                continue
            mine = [u.geometry for u in units if u.building_id == stable_id(self.cid,
                                                                             b.feature_id)]
            if mine:
                b.footprint, _ = as_polygon(unary_union(mine).convex_hull)
                self.rules.broken(f"building {b.feature_id!r}", "has no footprint and its "
                                  "levels no outline", "footprint.building_ids covers every "
                                  "building", action="outlined around its units",
                                  ref=b.feature_id)

    def _level_for(self, lv: _Level, point: Point, buildings: dict[str, _Building]) -> str:
        """The gridmap level id of IMDF level ``lv`` in the building holding ``point``."""
        bid = lv.building_ids[0]
        if len(lv.building_ids) > 1:
            for candidate in lv.building_ids:
                fp = buildings[candidate].footprint
                if fp is not None and fp.covers(point):
                    bid = candidate
                    break
        return lv.ids.setdefault(bid, stable_id(
            self.cid, lv.feature_id, *([bid] if len(lv.building_ids) > 1 else [])))

    def _level_of(self, f: Feature, levels: dict[str, _Level], kind: str) -> _Level | None:
        level_id = f["properties"].get("level_id")
        lv = levels.get(level_id) if isinstance(level_id, str) else None
        if lv is None:
            self.rules.broken(f["what"], f"level_id {level_id!r} names no level",
                              f"{kind}.level_id references a level", ref=f["id"],
                              action="skipped", severity=Severity.ERROR)
        return lv

    def _occupants(self, anchors: list[Feature]) -> dict[str, str]:
        """The names occupants give units (through their anchors), by IMDF unit id: in many
        archives the room's name ("Science Lab") is its occupant's, not the unit's."""
        unit_of = {a["id"]: as_text(a["properties"].get("unit_id")) for a in anchors}
        names: dict[str, str] = {}
        for f in self.read.features("occupant"):
            self.read.geometry(f, "occupant")
            anchor_id = as_text(f["properties"].get("anchor_id"))
            unit_id = unit_of.get(anchor_id) if anchor_id else None
            if unit_id is None:
                self.rules.broken(f["what"], f"anchor_id {anchor_id!r} names no anchor",
                                  "occupant.anchor_id references an anchor", ref=f["id"],
                                  action="its name is not used")
                continue
            name = self.read.label(f, "name")
            if name:
                names.setdefault(unit_id, name)
        return names

    def _units(self, levels: dict[str, _Level], buildings: dict[str, _Building],
               occupants: dict[str, str]) -> tuple[list[Unit], dict[str, tuple[str, str]]]:
        units: list[Unit] = []
        unit_levels: dict[str, tuple[str, str]] = {}  # IMDF unit id -> (building, level) ids
        fabric: Counter[str] = Counter()
        for f in self.read.features("unit"):
            if self.outdoor.holds(f):
                outdoor_unit(self.read, f, self.outdoor, self.cid)
                continue
            category = as_text(f["properties"].get("category"))
            if category in NOT_SPACES:
                fabric[str(category)] += 1
                continue
            lv = self._level_of(f, levels, "unit")
            geom = self.read.geometry(f, "unit")
            if lv is None or geom is None:
                continue
            polygon, note = as_polygon(geom)
            if polygon is None:
                if geom.geom_type in ALLOWED_GEOMETRY["unit"]:  # else said already
                    self.rules.broken(f["what"], "geometry has no area", "a unit is POLYGONAL",
                                      ref=f["id"], action="skipped")
                continue
            if note:
                self.rules.note(f"{f['what']}: {note}", kind=FindingKind.REPAIRED_GEOMETRY,
                                ref=f["id"], action=note, key="unit_repaired")
            name, alt = self.read.label(f, "name"), self.read.label(f, "alt_name")
            number = room_number(name) or room_number(alt) or ""
            if number and room_number(name) and alt and not room_number(alt):
                name, alt = alt, ""
            elif number and not room_number(name):
                alt = ""
            occupant = occupants.get(f["id"], "")
            if occupant and (not name or name == number):
                name, occupant = occupant, ""
            aliases = tuple(dict.fromkeys(x for x in (alt, occupant) if x and x != name))
            if not isinstance(category, str) or category not in UNIT_CATEGORIES:
                self.rules.broken(f["what"], f"category is {category!r}",
                                  "unit.category is a UNIT-CATEGORY", ref=f["id"],
                                  action="category read from its name")
                category = room_category(name)
            level_id = self._level_for(lv, polygon.representative_point(), buildings)
            building_id = next(b for b, i in lv.ids.items() if i == level_id)
            unit_levels[f["id"]] = (building_id, level_id)
            units.append(Unit(
                id=stable_id(self.cid, f["id"]), building_id=stable_id(self.cid, building_id),
                level_id=level_id, number=number, name=name or number, geometry=polygon,
                category=category, aliases=aliases))
        for category, n in fabric.items():
            self.rules.note(f"{n} unit(s) of category {category!r} are building fabric, not "
                            "rooms; left out", action="left out", kind=FindingKind.UNSUPPORTED)
        return units, unit_levels

    def _openings(self, levels: dict[str, _Level], buildings: dict[str, _Building],
                  frame: LocalFrame) -> list[Opening]:
        openings: list[Opening] = []
        footprints = {bid: frame.to_local(b.footprint) for bid, b in buildings.items()
                      if b.footprint is not None}
        # buildings that touch: a door in a wall they share is not an exterior door
        neighbours = {bid: [f for other, f in footprints.items()
                            if other != bid and f.distance(fp) < EXTERIOR_DOOR_M]
                      for bid, fp in footprints.items()}
        for f in self.read.features("opening"):
            if self.outdoor.holds(f):  # a gate: gridmap's doors are a building's
                self.outdoor.left_out["opening"] += 1
                continue
            lv = self._level_of(f, levels, "opening")
            geom = self.read.geometry(f, "opening")
            if lv is None or geom is None:
                continue
            if isinstance(geom, LineString | MultiLineString):
                line = geom if isinstance(geom, LineString) else max(geom.geoms,
                                                                     key=lambda g: g.length)
                point = line.interpolate(0.5, normalized=True)
            else:
                point = geom.representative_point()
            category = f["properties"].get("category")
            if not isinstance(category, str) or category not in OPENING_CATEGORIES:
                self.rules.broken(f["what"], f"category is {category!r}",
                                  "opening.category is an OPENING-CATEGORY", ref=f["id"],
                                  action="read as pedestrian")
            level_id = self._level_for(lv, point, buildings)
            building_id = next(b for b, i in lv.ids.items() if i == level_id)
            fp = footprints.get(building_id)
            exterior = fp is not None and _opens_outside(
                frame.to_local(geom), fp, neighbours[building_id])
            name = self.read.label(f, "name")
            match = DOOR_NUMBER_RE.match(name) if exterior else None
            openings.append(Opening(
                id=stable_id(self.cid, f["id"]), building_id=stable_id(self.cid, building_id),
                level_id=level_id, geometry=Point(point.x, point.y), exterior=exterior,
                main_entrance=exterior and category == "pedestrian.principal",
                number=match.group(1).upper() if match else None))
        return openings

    def _amenities(self, unit_levels: dict[str, tuple[str, str]],
                   buildings: dict[str, _Building]) -> list[Amenity]:
        amenities: list[Amenity] = []
        others: Counter[str] = Counter()
        for f in self.read.features("amenity"):
            category = f["properties"].get("category")
            kind = AMENITY_KINDS.get(category) if isinstance(category, str) else None
            if kind is None:
                others[str(category)] += 1
                continue
            geom = self.read.geometry(f, "amenity")
            if geom is None:
                continue
            point = geom if isinstance(geom, Point) else geom.representative_point()
            placed = None
            outside = False  # in a unit on an outdoor level: in no building
            for uid in self.read.ids(f, "unit_ids"):
                if uid in unit_levels:
                    placed = placed or unit_levels[uid]
                elif uid in self.outdoor.units:
                    outside = True
                else:
                    self.rules.broken(f["what"], f"unit_ids names {uid!r}, no unit",
                                      "amenity.unit_ids references units", ref=f["id"],
                                      action="ignored for it")
            building_id = level_id = None
            if placed is not None:
                building_id, level_id = stable_id(self.cid, placed[0]), placed[1]
            elif not outside:
                for bid, b in buildings.items():
                    if b.footprint is not None and b.footprint.covers(point):
                        building_id = stable_id(self.cid, bid)
                        break
            amenities.append(Amenity(
                id=stable_id(self.cid, f["id"]), kind=kind,
                name=self.read.label(f, "name") or kind.display_name,
                geometry=Point(point.x, point.y), building_id=building_id, level_id=level_id))
        for category, n in sorted(others.items()):
            self.rules.note(f"{n} amenit{'y' if n == 1 else 'ies'} of category {category!r} "
                            "left out: not a point responders look up",
                            kind=FindingKind.UNSUPPORTED, action="left out")
        return amenities

    def _anchors(self, anchors: list[Feature], unit_levels: dict[str, tuple[str, str]]
                 ) -> None:
        for f in anchors:
            uid = as_text(f["properties"].get("unit_id"))
            if uid not in unit_levels and uid not in self.outdoor.units:
                self.rules.broken(f["what"], f"unit_id {uid!r} names no unit",
                                  "anchor.unit_id references a unit", ref=f["id"],
                                  action="ignored", severity=Severity.INFO)

    def _model_levels(self, levels: dict[str, _Level], used: set[str]
                      ) -> tuple[Level, ...]:
        out: list[Level] = []
        for lv in levels.values():
            for bid, level_id in lv.ids.items():
                if level_id in used:
                    out.append(Level(level_id, stable_id(self.cid, bid), lv.ordinal, lv.name,
                                     lv.short_name))
        seen: dict[tuple[str, int], str] = {}
        for lv_model in out:
            key = (lv_model.building_id, lv_model.ordinal)
            if key in seen:
                self.rules.note(f"two levels of one building have ordinal {lv_model.ordinal} "
                                f"({seen[key]!r} and {lv_model.name!r}); both kept",
                                severity=Severity.WARNING)
            seen.setdefault(key, lv_model.name)
        return tuple(out)


def _opens_outside(door: BaseGeometry, footprint: Polygon,
                   others: list[Polygon] | tuple[()] = ()) -> bool:
    """Whether an opening (local metres) leads out of its building: one side of the door
    line, a step away from its middle, is outside the footprint and outside every other
    building (a door in a wall two buildings share leads indoors). A door given as a point
    counts when it is on the footprint's edge and on no other building's."""
    if isinstance(door, MultiLineString):
        door = max(door.geoms, key=lambda g: g.length)
    if isinstance(door, LineString) and door.length > 0:
        middle = door.interpolate(0.5, normalized=True)
        x0, y0 = door.coords[0][:2]
        x1, y1 = door.coords[-1][:2]
        nx, ny = (y0 - y1) / door.length, (x1 - x0) / door.length  # unit normal
        step = EXTERIOR_DOOR_M
        sides = (Point(middle.x + nx * step, middle.y + ny * step),
                 Point(middle.x - nx * step, middle.y - ny * step))
        if footprint.exterior.distance(middle) > EXTERIOR_DOOR_M:
            return False
        return any(not footprint.covers(p) and not any(o.covers(p) for o in others)
                   for p in sides)
    point = door.representative_point()
    return bool(footprint.exterior.distance(point) <= EXTERIOR_DOOR_M
                and all(o.exterior.distance(point) > EXTERIOR_DOOR_M for o in others))


def read_imdf(path: Path, campus_id: str, limits: ImportLimits) -> IndoorImport:
    """Read an IMDF archive (a zip) into gridmap model objects.

    Raises :class:`~gridmap.errors.IndoorFileError` when the archive cannot be used at all
    (not a zip, over the limits, nothing usable); every rule it breaks otherwise is a finding.
    """
    return _Archive(Path(path), campus_id, limits).run()
