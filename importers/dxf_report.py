"""What reading one floor plan noticed: findings in order, and the warnings the CLI prints.

Every problem the DXF reader reports is a :class:`~importers.findings.Finding` (kind, words,
where in the drawing frame, what was done); its warnings are the messages of the findings
that are not merely informational, in the order they were found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from importers.findings import Finding, FindingKind, Severity

# a room counts as outside the floor outline when this much of it (m², and share) lies outside
OUTSIDE_MIN_M2 = 1.0
OUTSIDE_MIN_SHARE = 0.1
_OUTLINE_TOLERANCE_M = 0.05  # a room drawn on the outline's line is inside it


@dataclass
class PlanReport:
    """The findings of one floor plan (``source``: its file name), in the order found."""

    source: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: FindingKind, message: str, *, severity: Severity = Severity.WARNING,
            at: BaseGeometry | tuple[float, float] | None = None, ref: str = "",
            action: str = "") -> None:
        """Record a finding; ``at`` (drawing frame metres) may be a geometry: a point in it."""
        self.findings.append(Finding(kind, message, severity, self.source, where(at), ref,
                                     action))

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def warnings(self) -> list[str]:
        """The messages of the findings that are more than informational."""
        return warnings_of(self.findings)


def warnings_of(findings: Iterable[Finding]) -> list[str]:
    return [f.message for f in findings if f.severity is not Severity.INFO]


def where(at: BaseGeometry | tuple[float, float] | None) -> tuple[float, float] | None:
    """A point to highlight for a geometry (one inside it when it has area)."""
    if at is None or isinstance(at, tuple):
        return at
    if at.is_empty:
        return None
    point = at.representative_point()
    return (round(float(point.x), 3), round(float(point.y), 3))


def outside_share(room: Polygon, outline: Polygon) -> tuple[float, float]:
    """(m², share of its area) of a room lying outside the floor outline."""
    if room.is_empty or room.area <= 0:
        return 0.0, 0.0
    outside = room.difference(outline.buffer(_OUTLINE_TOLERANCE_M)).area
    return outside, outside / room.area


def report_rooms_outside(rooms: Iterable[tuple[str, str, Polygon]], outline: Polygon | None,
                         report: PlanReport, outline_layer: str) -> None:
    """A ROOM_OUTSIDE_FOOTPRINT finding for each room (handle, what it is called, outline)
    lying (in part) outside the drawn floor outline: the building's footprint does not cover
    it (a location there is still named by the room's building, see ``gridmap.index``), and
    the footprint drives the door numbering and the building's sides."""
    if outline is None or outline.is_empty:
        return
    inside = outline.buffer(_OUTLINE_TOLERANCE_M)
    shapely.prepare(inside)
    for handle, called, polygon in rooms:
        if inside.contains(polygon):
            continue
        area, share = outside_share(polygon, outline)
        if area < OUTSIDE_MIN_M2 or share < OUTSIDE_MIN_SHARE:
            continue
        how = "lies outside" if share > 0.99 else f"lies {share:.0%} ({area:.1f} m²) outside"
        report.add(
            FindingKind.ROOM_OUTSIDE_FOOTPRINT,
            f"{report.source}: room {called} (outline {handle}) {how} the floor outline on "
            f"layer {outline_layer!r}: the building's footprint does not cover it (a location "
            "there is named by the room's building, but doors and sides follow the outline); "
            "extend the outline or move the room",
            at=polygon.difference(outline) if share < 0.99 else polygon, ref=handle,
            action="kept as drawn")
