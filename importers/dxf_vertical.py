"""Stairs and elevators: from their own layers or from blocks named for them.

Architects put stairs and lift shafts on layers of their own (NCS ``A-FLOR-STRS``,
``A-FLOR-EVTR``; :class:`~importers.manifest.Layers` ``stairs`` / ``elevators``) or insert
them as blocks (``STAIR-01``, ``TREPPE``, ``ESCALIER``, ``ELEV``, ``LIFT``, ``AUFZUG``,
``ASCENSEUR``). Each becomes a room whose category is ``stairs`` or ``elevator`` whatever its
label says: a room outline that is the stairwell itself takes the category; otherwise the
stair's own shape (its closed outline, or the smallest rectangle around its treads or block)
is added as a room.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import shapely
from shapely.geometry import LineString, MultiPoint, Polygon

from importers.dxf_geometry import polygons_of

STAIRS, ELEVATOR = "stairs", "elevator"
STAIR_BLOCKS = ("*STAIR*", "*TREPPE*", "*ESCALIER*")
ELEVATOR_BLOCKS = ("*ELEV*", "*LIFT*", "*AUFZUG*", "*ASCENSEUR*")
_NOT_VERTICAL_BLOCKS = ("*ELEVATION*", "*ELEV-MARK*", "*ELEV_MARK*", "*ELEVMARK*")
# a stairwell outline on the rooms layer: the stair covers this share of it, it at most this
# many times the stair's area
COVERS_SHARE = 0.5
ROOM_AT_MOST = 4.0
_TREAD_GAP_M = 0.4  # lines closer than this on a stairs layer are one stair
_MIN_AREA_M2 = 1.0


@dataclass(frozen=True)
class Vertical:
    """A stair or lift shaft in the drawing frame (``polygon`` in metres once scaled)."""

    handle: str
    polygon: Polygon
    kind: str  # STAIRS or ELEVATOR


def block_kind(name: str) -> str:
    """``stairs`` / ``elevator`` when a block's name says it is one, else ""."""
    upper = name.upper()
    if any(fnmatch.fnmatchcase(upper, p) for p in _NOT_VERTICAL_BLOCKS):
        return ""
    if any(fnmatch.fnmatchcase(upper, p) for p in STAIR_BLOCKS):
        return STAIRS
    if any(fnmatch.fnmatchcase(upper, p) for p in ELEVATOR_BLOCKS):
        return ELEVATOR
    return ""


def envelope(points: list[tuple[float, float]]) -> Polygon | None:
    """The smallest rectangle around the points, None when they span no area."""
    if len(points) < 3:
        return None
    rect = shapely.oriented_envelope(MultiPoint(points))
    return rect if isinstance(rect, Polygon) and rect.area > 0 else None


def from_lines(lines: list[tuple[str, LineString]], kind: str, unit_m: float) -> list[Vertical]:
    """Stairs (or shafts) drawn as loose lines (treads, a cross): lines within a short gap
    of one another are one, outlined by the smallest rectangle around them (drawing units)."""
    if not lines:
        return []
    gap = _TREAD_GAP_M / unit_m / 2.0
    blobs = polygons_of(shapely.union_all([ln.buffer(gap) for _, ln in lines]))
    tree = shapely.STRtree([ln for _, ln in lines])
    out = []
    for blob in sorted(blobs, key=lambda b: (b.bounds[1], b.bounds[0])):
        members = sorted(tree.query(blob, predicate="intersects").tolist())
        points = [xy for i in members for xy in lines[i][1].coords]
        rect = envelope(points)
        if rect is not None and rect.area * unit_m * unit_m >= _MIN_AREA_M2:
            out.append(Vertical("+".join(lines[i][0] for i in members[:3]), rect, kind))
    return out


def distinct(verticals: list[Vertical]) -> list[Vertical]:
    """The stairs and shafts, one drawn twice (a block and its outline on the stairs layer)
    kept once."""
    kept: list[Vertical] = []
    for v in verticals:
        if not any(k.polygon.intersection(v.polygon).area
                   >= COVERS_SHARE * min(k.polygon.area, v.polygon.area) for k in kept):
            kept.append(v)
    return kept


def stairwell(vertical: Polygon, rooms: list[tuple[str, Polygon]]) -> str | None:
    """The room outline (handle) that is this stair's or shaft's own space, if one is."""
    best: tuple[float, str] | None = None
    for handle, room in rooms:
        if room.area > ROOM_AT_MOST * vertical.area or not room.intersects(vertical):
            continue
        shared = room.intersection(vertical).area
        if shared >= COVERS_SHARE * min(vertical.area, room.area) and (
                best is None or shared > best[0]):
            best = (shared, handle)
    return None if best is None else best[1]
