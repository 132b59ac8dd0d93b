"""What an indoor-map file gives a campus: buildings, levels, rooms, doors and points.

An OpenStreetMap indoor file (:mod:`importers.osm_indoor`) or an IMDF archive
(:mod:`importers.imdf`) is read into an :class:`IndoorImport`: model objects with WGS84
geometry and stable ids, plus the findings the import report shows. The campus import
(:mod:`importers.campus`) adds them to a campus next to, or instead of, DXF floor plans.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from gridmap.crs import LocalFrame, local_crs_for
from gridmap.model import Amenity, Building, GroundsFeature, Level, Opening, Unit
from importers.findings import Finding

#: a level ordinal further from the ground than this is a typing mistake, not a storey
MAX_ORDINAL = 200


@dataclass(frozen=True)
class IndoorImport:
    """Everything one indoor-map file holds, as gridmap model objects (WGS84 lon/lat)."""

    buildings: tuple[Building, ...]
    levels: tuple[Level, ...]
    units: tuple[Unit, ...]
    openings: tuple[Opening, ...]
    amenities: tuple[Amenity, ...]
    #: the venue's name and street address, when the file says
    name: str | None
    address: str | None
    findings: tuple[Finding, ...]
    #: parking, fields, roads and playgrounds the file maps (IMDF: on an outdoor level)
    grounds: tuple[GroundsFeature, ...] = ()

    def counts(self) -> dict[str, int]:
        """How many of each kind: ``{"buildings": 2, "levels": 4, "units": 31, ...}``."""
        return {
            "buildings": len(self.buildings), "levels": len(self.levels),
            "units": len(self.units), "openings": len(self.openings),
            "exterior_openings": sum(o.exterior for o in self.openings),
            "amenities": len(self.amenities), "grounds": len(self.grounds),
            "findings": len(self.findings),
        }


def default_level_names(ordinal: int) -> tuple[str, str]:
    """A level's name and short name when the file gives none: ``0 -> ("Ground Floor", "0")``."""
    if ordinal == 0:
        return "Ground Floor", "0"
    if ordinal < 0:
        return f"Basement {-ordinal}", str(ordinal)
    return f"Level {ordinal}", str(ordinal)


def local_frame_around(geoms: Iterable[BaseGeometry]) -> LocalFrame:
    """A metric frame centred on the geometries' bounding box (WGS84 in)."""
    xs: list[float] = []
    ys: list[float] = []
    for g in geoms:
        if g.is_empty:
            continue
        minx, miny, maxx, maxy = g.bounds
        xs += [minx, maxx]
        ys += [miny, maxy]
    if not xs:
        return LocalFrame(local_crs_for(0.0, 0.0))
    lon = (min(xs) + max(xs)) / 2
    lat = min(max((min(ys) + max(ys)) / 2, -80.0), 84.0)
    return LocalFrame(local_crs_for(lon, lat))


def span_m(geom: BaseGeometry) -> float:
    """The larger side of a lon/lat geometry's box, in metres (near enough for a sanity
    limit: a building or room wider than a campus may be has a mistyped position)."""
    minx, miny, maxx, maxy = geom.bounds
    mid = math.radians(max(-89.0, min(89.0, (miny + maxy) / 2)))
    return max((maxx - minx) * 111_320.0 * math.cos(mid), (maxy - miny) * 110_540.0)


def as_polygon(geom: BaseGeometry) -> tuple[Polygon | None, str]:
    """One valid polygon from ``geom`` and what was done to get it ("" when nothing was).

    An invalid ring (a bow tie, a spike) is repaired; of several parts the largest is kept.
    None when nothing with an area is left.
    """
    note = ""
    if not geom.is_valid:
        geom = make_valid(geom)
        note = "repaired an invalid outline (self-crossing or repeated points)"
    parts: list[Polygon] = []
    if isinstance(geom, Polygon):
        parts = [geom]
    elif isinstance(geom, MultiPolygon):
        parts = list(geom.geoms)
    else:
        for g in getattr(geom, "geoms", []):
            if isinstance(g, Polygon):
                parts.append(g)
            elif isinstance(g, MultiPolygon):
                parts.extend(g.geoms)
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    if not parts:
        return None, note
    if len(parts) > 1:
        note = (note + "; " if note else "") + (
            f"kept the largest of {len(parts)} separate parts")
    return max(parts, key=lambda p: p.area), note


def most_common(values: Iterable[str]) -> str | None:
    """The most frequent non-empty value (the first seen among equals), or None."""
    counts = Counter(v for v in values if v)
    if not counts:
        return None
    return counts.most_common(1)[0][0]


class FindingLog:
    """Findings as a reader collects them, at most ``per_rule`` alike (one rule broken by
    ten thousand features is one problem to an editor, not ten thousand lines)."""

    def __init__(self, source: str, per_rule: int = 50) -> None:
        self.source = source
        self.per_rule = per_rule
        self._findings: list[Finding] = []
        self._seen: Counter[str] = Counter()
        self._examples: dict[str, Finding] = {}

    def add(self, finding: Finding, rule: str = "") -> None:
        """Record ``finding``; ``rule`` groups alike findings for the cap (default: its kind)."""
        key = rule or finding.kind.value
        self._seen[key] += 1
        if self._seen[key] <= self.per_rule:
            self._findings.append(finding)
        else:
            self._examples.setdefault(key, finding)

    def findings(self) -> tuple[Finding, ...]:
        more = [
            Finding(ex.kind, f"{self._seen[key] - self.per_rule} more like this: {ex.message}",
                    ex.severity, self.source, action=ex.action)
            for key, ex in self._examples.items()
        ]
        return (*self._findings, *more)
