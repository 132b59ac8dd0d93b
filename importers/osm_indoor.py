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
entities), streamed element by element, only what indoor features use is kept (a district's
streets, trees and houses are not), and bounded by :class:`~importers.limits.ImportLimits`
(elements, nodes per outline, time, memory). A file that cannot be used at all raises
:class:`~gridmap.errors.IndoorFileError`; smaller problems are findings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry import Point, Polygon

from gridmap.crs import LocalFrame
from gridmap.errors import IndoorFileError
from gridmap.model import Amenity, Building, Level, Opening, Unit, stable_id
from importers.findings import Finding, FindingKind, Severity
from importers.indoor import (
    FindingLog,
    IndoorImport,
    default_level_names,
    local_frame_around,
    most_common,
)
from importers.limits import ImportLimits, WorkBudget
from importers.osm_areas import OsmArea, describe, read_areas
from importers.osm_buildings import NEAR_BUILDING_M as NEAR_BUILDING_M
from importers.osm_buildings import ROOM_GAP_M as ROOM_GAP_M
from importers.osm_buildings import (
    BuildingDraft,
    BuildingDrafts,
    best_building,
    building_drafts,
    derived_buildings,
    local_polygon,
)
from importers.osm_levels import LevelSpec as LevelSpec
from importers.osm_levels import levels_of
from importers.osm_levels import parse_levels as parse_levels
from importers.osm_tags import (
    SPACES,
    VENUE_AMENITIES,
    amenity_kind,
    is_door,
    is_point_room,
    number_and_name,
    postal_address,
    unit_category,
)
from importers.osm_xml import MAX_RELATION_MEMBERS as MAX_RELATION_MEMBERS
from importers.osm_xml import MAX_TAGS as MAX_TAGS
from importers.osm_xml import MAX_XML_DEPTH as MAX_XML_DEPTH
from importers.osm_xml import read_osm

#: the largest .osm file read (bytes); a school campus is a few megabytes, a district's extract
#: round it tens (read at about 15 MB a CPU second: ``python -m bench.bench_osm``)
MAX_OSM_BYTES = 64 * 1024 * 1024
#: a door this close to a building outline (metres) is on it: exterior
ON_OUTLINE_M = 0.3
#: an entrance=* node this close to a building outline (metres) is a way into the building
NEAR_OUTLINE_M = 2.0
#: a room mapped as a point is kept as a box this wide (metres) round it
POINT_ROOM_M = 2.0


@dataclass
class _Space:
    area: OsmArea
    local: Polygon
    levels: LevelSpec
    building: BuildingDraft | None = None


class _Reader:
    """One file's import: the parsed elements in, model objects and findings out."""

    def __init__(self, path: Path, campus_id: str, limits: ImportLimits) -> None:
        self.source = path.name
        self.cid = campus_id
        self.limits = limits
        self.log = FindingLog(self.source)
        self.budget = WorkBudget(limits)
        self.data = read_osm(path, limits, self.log, self.budget, MAX_OSM_BYTES)

    def run(self) -> IndoorImport:
        areas = read_areas(self.data, self.log, self.limits, self.source)
        point_features = [
            (nid, tags) for nid, tags in self.data.node_tags.items()
            if is_door(tags) or amenity_kind(tags) is not None or is_point_room(tags)
        ]
        spaces_raw = [a for a in areas if a.tags.get("indoor") in SPACES]
        if not spaces_raw and not point_features:
            raise IndoorFileError(
                f"{self.source}: holds no indoor rooms, corridors or areas (indoor=room|"
                "corridor|area), doors or AEDs: is it mapped with Simple Indoor Tagging?")
        frame = local_frame_around([a.polygon for a in areas] or [
            Point(self.data.nodes[nid]) for nid, _ in point_features])
        drafts = building_drafts(areas, frame, self.log, self.source)
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

    def _bid(self, d: BuildingDraft) -> str:
        return stable_id(self.cid, d.key)

    def _lid(self, d: BuildingDraft, ordinal: int) -> str:
        return stable_id(self.cid, d.key, ordinal)

    # spaces ----------------------------------------------------------------------------------

    def _spaces(self, raw: list[OsmArea], frame: LocalFrame, drafts: BuildingDrafts
                ) -> list[_Space]:
        spaces: list[_Space] = []
        orphans: list[_Space] = []
        for k, a in enumerate(raw):
            if k % 256 == 0:
                self.budget.check(self.source)
            p = a.polygon.representative_point()
            at = (p.x, p.y)
            what = describe(a.ref, a.tags)
            ordinals = levels_of(a.tags, what, a.ref, self.log, self.source, at)
            if not ordinals:
                continue
            s = _Space(a, local_polygon(frame, a.polygon), LevelSpec(ordinals))
            building, share, dist = best_building(s.local, drafts)
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
            derived = derived_buildings([s.local for s in orphans], frame, len(drafts) + 1)
            self.log.add(Finding(
                FindingKind.ROOM_OUTSIDE_FOOTPRINT if drafts else FindingKind.OTHER,
                f"{len(orphans)} room(s) lie in no building=* outline; "
                f"{len(derived)} building(s) were outlined around them "
                f"({', '.join(d.short_name for d in derived)}): name them in the workspace",
                Severity.WARNING, source=self.source, action="building outlined from rooms"))
            drafts.extend(derived)
            for s in orphans:
                s.building = best_building(s.local, derived)[0]
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
            number, name = number_and_name(tags)
            aliases = tuple(x.strip() for x in (tags.get("alt_name", "") + ";"
                                                 + tags.get("short_name", "")).split(";")
                            if x.strip())
            category = unit_category(tags, name)
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
                     drafts: BuildingDrafts) -> list[Unit]:
        """Rooms mapped as a point (``indoor=room`` on a node): approximate units, a small box
        round the point, unless it lies in an outline with the same number or name."""
        drawn: dict[tuple[str, str, str], list[Polygon]] = defaultdict(list)
        for u in units:
            drawn[(u.building_id, u.level_id, u.number or u.name)].append(u.geometry)
        seen: dict[tuple[str, str, str], int] = {}
        rooms: list[Unit] = []
        for nid, tags in sorted(self.data.node_tags.items()):
            if not is_point_room(tags):
                continue
            lon, lat = self.data.nodes[nid]
            ref = f"node/{nid}"
            what = describe(ref, tags)
            local = Point(frame.xy(lon, lat))
            building, share, dist = best_building(local, drafts)
            if building is None or (share == 0 and dist > NEAR_BUILDING_M):
                self.log.add(Finding(
                    FindingKind.LABEL_OUTSIDE_ROOMS, f"{what} is a room mapped as a point in "
                    "no building; skipped", source=self.source, ref=ref, at=(lon, lat),
                    placed_on_earth=True, action="skipped"), "point_room")
                continue
            number, name = number_and_name(tags)
            if not (number or name) and tags.get("highway") == "elevator":
                name = "Elevator"
            box = frame.to_wgs84(local.buffer(POINT_ROOM_M / 2, cap_style="square"))
            for ordinal in levels_of(tags, what, ref, self.log, self.source, (lon, lat)):
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
                    name=name or number, geometry=box, category=unit_category(tags, name),
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

    def _openings(self, frame: LocalFrame, drafts: BuildingDrafts,
                  spaces: list[_Space]) -> list[Opening]:
        space_levels: dict[int, set[int]] = defaultdict(set)
        door_ids = {nid for nid, tags in self.data.node_tags.items() if is_door(tags)}
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
            ordinals = levels_of(tags, what, ref, self.log, self.source, (lon, lat),
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
    def _between_buildings(nid: int, local: Point, building: BuildingDraft,
                           drafts: BuildingDrafts) -> bool:
        """Whether a door on ``building``'s outline is on another building's outline too."""
        for d in drafts.near((local.x, local.y, local.x, local.y)):
            if d is building or local.x < d.reach[0] or local.x > d.reach[2] \
                    or local.y < d.reach[1] or local.y > d.reach[3]:
                continue
            if nid in d.outline_nodes or d.local.exterior.distance(local) <= ON_OUTLINE_M:
                return True
        return False

    def _door_building(self, nid: int, local: Point, drafts: BuildingDrafts
                       ) -> BuildingDraft | None:
        on = drafts.with_outline_node(nid)
        if on:
            return on[0]
        building, share, dist = best_building(local, drafts)
        if building is not None and (share > 0 or dist <= 1.0):
            return building
        return None

    # points ----------------------------------------------------------------------------------

    def _amenities(self, frame: LocalFrame, drafts: BuildingDrafts,
                   areas: list[OsmArea]) -> list[Amenity]:
        found: list[tuple[str, Mapping[str, str], Point]] = [
            (f"node/{nid}", tags, Point(self.data.nodes[nid]))
            for nid, tags in self.data.node_tags.items() if amenity_kind(tags) is not None
        ]
        found += [(a.ref, a.tags, a.polygon.representative_point())
                  for a in areas if amenity_kind(a.tags) is not None]
        amenities: list[Amenity] = []
        for ref, tags, point in sorted(found, key=lambda f: f[0]):
            kind = amenity_kind(tags)
            if kind is None:
                continue
            at = (point.x, point.y)
            what = f"{ref.replace('/', ' ')} ({kind.display_name})"
            local = Point(frame.xy(point.x, point.y))
            building, share, dist = best_building(local, drafts)
            if building is not None and share == 0 and dist > 1.0:
                building = None
            level_id = None
            ordinals = levels_of(tags, what, ref, self.log, self.source, at,
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

    def _levels(self, drafts: list[BuildingDraft], spaces: list[_Space], areas: list[OsmArea],
                frame: LocalFrame) -> tuple[Level, ...]:
        # an indoor=level area names its level (name or level_name; level:ref is the short
        # name); else the level:ref most of the level's rooms carry
        declared: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
        from_rooms: dict[tuple[str, int], list[str]] = defaultdict(list)
        for a in areas:
            if a.tags.get("indoor") != "level":
                continue
            building = best_building(local_polygon(frame, a.polygon), drafts)[0]
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

    def _check_declared_levels(self, drafts: list[BuildingDraft]) -> None:
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

    def _venue(self, areas: list[OsmArea], drafts: BuildingDrafts
               ) -> tuple[str | None, str | None]:
        venues = [a.tags for a in areas if a.tags.get("amenity") in VENUE_AMENITIES]
        venues += [t for t in self.data.node_tags.values()
                   if t.get("amenity") in VENUE_AMENITIES]
        name = next((t["name"] for t in venues if t.get("name")), None)
        address = next((a for a in map(postal_address, venues) if a), None)
        if address is None:
            address = next((x for x in (postal_address(a.tags) for a in areas
                                        if a.tags.get("building", "no") != "no") if x), None)
        if name is None and len(drafts) == 1 and not drafts[0].derived:
            name = drafts[0].name
        return name, address


def read_osm_indoor(path: Path, campus_id: str, limits: ImportLimits) -> IndoorImport:
    """Read an OpenStreetMap indoor (Simple Indoor Tagging) ``.osm`` file.

    Raises :class:`~gridmap.errors.IndoorFileError` when the file cannot be used at all (not
    XML, a DTD or entity declarations, over the limits, no indoor features); everything
    smaller is a finding in the result.
    """
    return _Reader(Path(path), campus_id, limits).run()
