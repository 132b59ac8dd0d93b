"""OSM buildings: drafts from ``building=*`` outlines, the building each feature lies in, and
buildings derived from rooms no outline holds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from shapely import STRtree, box
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from gridmap.crs import LocalFrame
from importers.findings import Finding, FindingKind, Severity
from importers.indoor import FindingLog, as_polygon
from importers.osm_areas import OsmArea, describe

#: a room this far outside every building outline (metres) is not that building's
NEAR_BUILDING_M = 5.0
#: rooms within this gap (metres) of each other form one building when no outline holds them
ROOM_GAP_M = 2.0


@dataclass
class BuildingDraft:
    """A building being gathered: its outline, and the levels its rooms are on."""
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


class BuildingDrafts(list[BuildingDraft]):
    """The drafts, with a spatial index: an extract of a town holds thousands of houses, and
    every room, door and point asks which building it is in."""

    _tree: STRtree | None = None
    _indexed: int = -1
    _by_node: dict[int, list[BuildingDraft]] | None = None

    def _index(self) -> STRtree:
        if self._tree is None or self._indexed != len(self):
            self._tree = STRtree([box(*d.reach) for d in self])
            self._indexed = len(self)
            self._by_node = None
        return self._tree

    def near(self, bounds: tuple[float, float, float, float]) -> list[BuildingDraft]:
        """The drafts whose reach meets ``bounds`` (minx, miny, maxx, maxy), in list order."""
        if not self:
            return []
        hits = self._index().query(box(*bounds))
        return [self[int(k)] for k in sorted(hits)]

    def with_outline_node(self, nid: int) -> list[BuildingDraft]:
        """The drafts whose outline passes through node ``nid``, in list order."""
        self._index()
        if self._by_node is None:
            self._by_node = {}
            for d in self:
                for n in d.outline_nodes:
                    self._by_node.setdefault(n, []).append(d)
        return self._by_node.get(nid, [])


def building_drafts(areas: list[OsmArea], frame: LocalFrame, log: FindingLog, source: str
                    ) -> BuildingDrafts:
    """A draft for each ``building=*`` outline, keyed by its ``ref``, ``name`` or element."""
    drafts = BuildingDrafts()
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
                                f"{describe(a.ref, a.tags)}: building:levels {raw_levels!r} is "
                                "not a number; ignored", Severity.INFO, source=source,
                                ref=a.ref, action="ignored"))
        short = ref or name or f"B{len(drafts) + 1}"
        drafts.append(BuildingDraft(
            key=key, name=name or (f"Building {ref}" if ref else f"Building {short}"),
            short_name=short, footprint=a.polygon, local=local_polygon(frame, a.polygon),
            outline_nodes=a.nodes, declared_levels=declared))
    return drafts


def local_polygon(frame: LocalFrame, polygon: Polygon) -> Polygon:
    """``polygon`` in the frame's metres, valid. A ring reaching far round the globe (a node's
    longitude mistyped: 42.7 for -84.4) folds over itself when projected; it is repaired as
    any invalid outline is, so comparing it with a building cannot fail."""
    local = frame.to_local(polygon)
    if local.is_valid:
        return local
    fixed, _ = as_polygon(local)
    return fixed if fixed is not None else local


def best_building(local: Polygon | Point, drafts: Sequence[BuildingDraft]
                  ) -> tuple[BuildingDraft | None, float, float]:
    """The building holding most of ``local``: (building, share inside, distance metres);
    only buildings within NEAR_BUILDING_M are considered (an extract may hold thousands)."""
    best: tuple[BuildingDraft | None, float, float] = (None, 0.0, math.inf)
    minx, miny, maxx, maxy = local.bounds
    if isinstance(drafts, BuildingDrafts):
        drafts = drafts.near((minx, miny, maxx, maxy))
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


def derived_buildings(orphans: list[Polygon], frame: LocalFrame, first: int
                      ) -> list[BuildingDraft]:
    """Buildings made from rooms that no outline holds: rooms within ROOM_GAP_M are one."""
    merged = unary_union([p.buffer(ROOM_GAP_M / 2, join_style="mitre") for p in orphans])
    parts = list(getattr(merged, "geoms", [merged]))
    drafts = []
    for k, part in enumerate(sorted(parts, key=lambda p: (-p.area, p.bounds)), start=first):
        shrunk, _ = as_polygon(part.buffer(-ROOM_GAP_M / 2, join_style="mitre"))
        local = Polygon((shrunk or part).exterior)
        short = f"B{k}"
        drafts.append(BuildingDraft(
            key=f"derived:{short}", name=f"Building {short}", short_name=short,
            footprint=frame.to_wgs84(local), local=local, outline_nodes=frozenset(),
            derived=True))
    return drafts


# --- the import -------------------------------------------------------------------------------
