"""The IMDF features gridmap's model has no type for, and what lies on outdoor levels.

* outdoor levels (``level.outdoor = true``): a unit or section on one whose category is
  parking, a field of play, a road or a playground is a :class:`~gridmap.model.GroundsFeature`
  (the grounds a school map shows); anything else on it is counted in a finding;
* sections (a named part of a level: a wing, a lot): gridmap has no named areas inside a level,
  so each is a finding naming it, its level and how many of the imported rooms lie in it;
* kiosks: gridmap has no point kind for one (its points are what responders look up: AEDs,
  Knox boxes, shutoffs); each is a finding naming it;
* fixtures (furniture, desks, equipment, walls): left out, counted by category in one finding.

Each rule these features break (no level, an unknown level, a category that is not text, a
geometry of the wrong type) is a finding naming the rule, as for every other feature.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from gridmap.model import GroundsFeature, GroundsKind, Unit, stable_id
from importers.findings import FindingKind, Severity
from importers.imdf_features import ImdfFeatures
from importers.imdf_rules import Rules, as_text
from importers.imdf_spec import GROUNDS_KINDS, Feature
from importers.indoor import as_polygon


@dataclass
class OutdoorLevels:
    """The archive's outdoor levels (IMDF level id -> name) and what was found on them."""

    names: dict[str, str] = field(default_factory=dict)
    #: IMDF ids of the units on an outdoor level (an amenity or anchor may name them)
    units: set[str] = field(default_factory=set)
    grounds: list[GroundsFeature] = field(default_factory=list)
    #: what was left out on them, by what it is ("unit 'walkway'", "opening")
    left_out: Counter[str] = field(default_factory=Counter)

    def holds(self, f: Feature) -> bool:
        """Whether the feature's ``level_id`` names an outdoor level."""
        return as_text(f["properties"].get("level_id")) in self.names

    def report(self, rules: Rules) -> None:
        """One finding for what the outdoor levels held that gridmap does not keep."""
        if not self.names:
            return
        read = f"; {len(self.grounds)} read as grounds" if self.grounds else ""
        if self.left_out:
            what = ", ".join(f"{n} {k}" for k, n in sorted(self.left_out.items()))
            rules.note(f"{len(self.names)} outdoor level(s){read}; left out on them: {what} "
                       "(gridmap keeps parking, fields of play, roads and playgrounds as "
                       "grounds, and rooms, doors and points inside buildings)",
                       kind=FindingKind.UNSUPPORTED, action="left out")
        elif not self.grounds:
            rules.note(f"{len(self.names)} outdoor level(s) hold nothing gridmap keeps",
                       action="left out")


def grounds_kind(category: str | None) -> GroundsKind | None:
    """The grounds feature an IMDF unit or section category names, or None."""
    if not category:
        return None
    return GROUNDS_KINDS.get(category.split(".")[0])


def outdoor_unit(read: ImdfFeatures, f: Feature, outdoor: OutdoorLevels, campus_id: str
                 ) -> None:
    """A unit on an outdoor level: grounds when its category is, else counted as left out."""
    outdoor.units.add(f["id"])
    category = as_text(f["properties"].get("category"))
    kind = grounds_kind(category)
    geom = read.geometry(f, "unit")
    if geom is None:
        return
    if kind is None:
        outdoor.left_out[f"unit {category!r}"] += 1
        return
    _ground(read, f, kind, geom, outdoor, campus_id)


def _ground(read: ImdfFeatures, f: Feature, kind: GroundsKind, geom: BaseGeometry,
            outdoor: OutdoorLevels, campus_id: str) -> None:
    polygon, _ = as_polygon(geom)
    if polygon is None:
        read.rules.broken(f["what"], "geometry has no area",
                          f"{'a unit' if 'unit' in f['what'] else 'a section'} is POLYGONAL",
                          ref=f["id"], action="skipped")
        return
    name = read.label(f, "name") or read.label(f, "alt_name") or \
        kind.value.replace("_", " ").capitalize()
    outdoor.grounds.append(GroundsFeature(stable_id(campus_id, f["id"]), kind, name, polygon))


def sections(read: ImdfFeatures, level_names: Mapping[str, tuple[str, Iterable[str]]],
             outdoor: OutdoorLevels, units: list[Unit], campus_id: str) -> None:
    """Read section.geojson: grounds on outdoor levels, a finding for each other section.

    ``level_names``: IMDF level id -> (its name, the gridmap level ids it became)."""
    for f in read.features("section"):
        category = f["properties"].get("category")
        if category is not None and as_text(category) is None:
            read.rules.broken(f["what"], f"category is {category!r}",
                              "section.category is a SECTION-CATEGORY", ref=f["id"],
                              action="read without")
            category = None
        geom = read.geometry(f, "section")
        level_id = f["properties"].get("level_id")
        if outdoor.holds(f):
            kind = grounds_kind(as_text(category))
            if geom is None:
                continue
            if kind is None:
                outdoor.left_out[f"section {category!r}"] += 1
            else:
                _ground(read, f, kind, geom, outdoor, campus_id)
            continue
        if not isinstance(level_id, str) or level_id not in level_names:
            read.rules.broken(f["what"], f"level_id {level_id!r} names no level",
                              "section.level_id references a level", ref=f["id"],
                              action="skipped")
            continue
        name = read.label(f, "name") or read.label(f, "alt_name")
        level_name, level_ids = level_names[level_id]
        inside = 0
        polygon, _ = as_polygon(geom) if geom is not None else (None, "")
        if polygon is not None:  # a room lies in it when most of the room does
            on_level = set(level_ids)
            area = prep(polygon)
            inside = sum(1 for u in units if u.level_id in on_level and area.intersects(
                u.geometry) and polygon.intersection(u.geometry).area > u.geometry.area / 2)
        rooms = f"; {inside} of the imported rooms lie in it" if polygon is not None else ""
        read.rules.note(
            f"{f['what']} ({name or 'unnamed'}, {category or 'no category'}, on level "
            f"{level_name!r}) not imported: gridmap has no named areas inside a level{rooms}; "
            "give its name to those rooms as an alias in the workspace if people say it",
            kind=FindingKind.UNSUPPORTED, ref=f["id"], action="left out", key="section")


def kiosks(read: ImdfFeatures, level_ids: Iterable[str], outdoor: OutdoorLevels) -> None:
    """Read kiosk.geojson: a finding for each (gridmap has no point kind for a kiosk)."""
    known = set(level_ids)
    for f in read.features("kiosk"):
        read.geometry(f, "kiosk")
        level_id = f["properties"].get("level_id")
        if not outdoor.holds(f) and as_text(level_id) not in known:
            read.rules.broken(f["what"], f"level_id {level_id!r} names no level",
                              "kiosk.level_id references a level", ref=f["id"],
                              action="skipped")
            continue
        name = read.label(f, "name") or read.label(f, "alt_name") or "unnamed"
        read.rules.note(f"{f['what']} ({name}) not imported: gridmap has no point kind for a "
                        "kiosk (its points are what responders look up: AEDs, Knox boxes, "
                        "shutoffs, first aid); add one in the workspace if it matters",
                        kind=FindingKind.UNSUPPORTED, ref=f["id"], action="left out",
                        key="kiosk")


def fixtures(read: ImdfFeatures, level_ids: Iterable[str], outdoor: OutdoorLevels) -> None:
    """Read fixture.geojson: checked against the rules, then left out, counted by category."""
    known = set(level_ids)
    categories: Counter[str] = Counter()
    for f in read.features("fixture"):
        read.geometry(f, "fixture")
        category = f["properties"].get("category")
        if category is not None and as_text(category) is None:
            read.rules.broken(f["what"], f"category is {category!r}",
                              "fixture.category is a FIXTURE-CATEGORY", ref=f["id"],
                              action="counted as unspecified")
        level_id = f["properties"].get("level_id")
        if not outdoor.holds(f) and as_text(level_id) not in known:
            read.rules.broken(f["what"], f"level_id {level_id!r} names no level",
                              "fixture.level_id references a level", ref=f["id"],
                              action="skipped")
        categories[as_text(category) or "unspecified"] += 1
    if categories:
        n = sum(categories.values())
        what = ", ".join(f"{k} {v}" for k, v in sorted(categories.items()))
        read.rules.note(f"{n} fixture(s) not imported ({what}): gridmap maps rooms, doors and "
                        "the points responders look up, not furnishings",
                        kind=FindingKind.UNSUPPORTED, severity=Severity.INFO, action="left out")

