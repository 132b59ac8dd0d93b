"""Doors read from their swings: an ARC and a LINE, as architects draw a door without a block.

A door drawn loose (or exploded from its block) is a quarter circle whose centre is the
hinge and whose radius is the leaf's width, plus the leaf itself: a LINE from the hinge,
about as long as the radius, to one end of the arc (the door standing open). The arc's other
end lies on the wall line, where the leaf closes: the doorway runs from the hinge to that
end, and its centre is the door's point. Two swings whose closed ends meet, hinges on either
side, are one double door.

Everything here is in metres in the drawing's frame (the caller scales), pure shapely:
:func:`swing_arc` turns an ezdxf ARC into a :class:`SwingArc` in world coordinates.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shapely import STRtree
from shapely.geometry import LineString, Point

#: the radius of a door swing, metres: a narrow closet leaf to a wide single leaf
MIN_RADIUS_M = 0.6
MAX_RADIUS_M = 1.3
#: sweep of a door swing, degrees: a quarter circle, drawn a little short or long
MIN_SWEEP_DEG = 60.0
MAX_SWEEP_DEG = 120.0
#: a leaf's length may differ from the radius by this share
LEAF_TOLERANCE = 0.15


@dataclass(frozen=True)
class SwingArc:
    """An arc in the drawing frame (metres), counter-clockwise from ``start_deg`` to
    ``end_deg``."""

    center: tuple[float, float]
    radius: float
    start_deg: float
    end_deg: float
    handle: str

    @property
    def sweep_deg(self) -> float:
        return (self.end_deg - self.start_deg) % 360.0 or 360.0

    def end_points(self) -> tuple[tuple[float, float], tuple[float, float]]:
        return (_on_circle(self.center, self.radius, self.start_deg),
                _on_circle(self.center, self.radius, self.end_deg))


@dataclass(frozen=True)
class SwingDoor:
    """A doorway found from a swing: its centre, its clear width and the arc(s) it came from
    (``"A1+A2"`` for a double door)."""

    point: Point
    width_m: float
    handle: str


def _on_circle(c: tuple[float, float], r: float, deg: float) -> tuple[float, float]:
    a = math.radians(deg)
    return (c[0] + r * math.cos(a), c[1] + r * math.sin(a))


def swing_arc(e: Any, unit_m: float = 1.0, handle: str | None = None) -> SwingArc | None:
    """An ezdxf ARC as a :class:`SwingArc` in world coordinates scaled by ``unit_m`` (an arc
    seen from below, extrusion -Z, is mirrored as CAD shows it); None if it is not finite."""
    try:
        ocs = e.ocs()
        center = ocs.to_wcs(e.dxf.center)
        radius = float(e.dxf.radius) * unit_m
        start, end = float(e.dxf.start_angle), float(e.dxf.end_angle)
        if ocs.transform:  # angles are in the OCS: map both ends, keep the sweep's sense
            p0 = ocs.to_wcs(_vec_at(e.dxf.center, float(e.dxf.radius), start))
            p1 = ocs.to_wcs(_vec_at(e.dxf.center, float(e.dxf.radius), end))
            a0 = math.degrees(math.atan2(p0[1] - center[1], p0[0] - center[0]))
            a1 = math.degrees(math.atan2(p1[1] - center[1], p1[0] - center[0]))
            start, end = (a1, a0) if float(e.dxf.extrusion[2]) < 0 else (a0, a1)
    except (AttributeError, TypeError, ValueError, ArithmeticError):
        return None
    values = (float(center[0]), float(center[1]), radius, start, end)
    if not all(math.isfinite(v) for v in values):
        return None
    return SwingArc((values[0] * unit_m, values[1] * unit_m), radius, start % 360.0,
                    end % 360.0, handle if handle is not None else str(e.dxf.get("handle", "")))


def _vec_at(center: Any, r: float, deg: float) -> tuple[float, float, float]:
    a = math.radians(deg)
    return (float(center[0]) + r * math.cos(a), float(center[1]) + r * math.sin(a),
            float(center[2]) if len(center) > 2 else 0.0)


@dataclass(frozen=True)
class _Swing:
    arc: SwingArc
    hinge: tuple[float, float]
    closed_end: tuple[float, float]  # where the leaf closes, on the wall line

    @property
    def doorway_centre(self) -> tuple[float, float]:
        return ((self.hinge[0] + self.closed_end[0]) / 2.0,
                (self.hinge[1] + self.closed_end[1]) / 2.0)


def _leaf_end(arc: SwingArc, lines: Sequence[LineString], tree: STRtree,
              tolerance: float) -> int | None:
    """Which end of the arc (0 start, 1 end) a leaf line reaches from the hinge; None if no
    line from the hinge is about as long as the radius and ends on the arc."""
    cx, cy = arc.center
    near = tree.query(Point(cx, cy).buffer(arc.radius * tolerance + 1e-9))
    ends = arc.end_points()
    best: tuple[float, int] | None = None
    for i in near:
        coords = list(lines[int(i)].coords)
        if len(coords) < 2:
            continue
        a, b = coords[0], coords[-1]
        for hinge_side, tip in ((a, b), (b, a)):
            if math.dist(hinge_side[:2], arc.center) > arc.radius * tolerance:
                continue
            length = math.dist(hinge_side[:2], tip[:2])
            if abs(length - arc.radius) > arc.radius * tolerance:
                continue
            for k, end in enumerate(ends):
                off = math.dist(tip[:2], end)
                if off <= arc.radius * tolerance and (best is None or off < best[0]):
                    best = (off, k)
    return None if best is None else best[1]


def _pieces(lines: Sequence[LineString]) -> list[LineString]:
    """Every straight piece of the lines (a polyline's sides, a closed one's too), once (a
    door layer pasted onto itself is read as one)."""
    out: list[LineString] = []
    seen: set[tuple[tuple[float, ...], tuple[float, ...]]] = set()
    for line in lines:
        if line is None or line.is_empty:
            continue
        for a, b in itertools.pairwise(line.coords):
            key = (min(tuple(a), tuple(b)), max(tuple(a), tuple(b)))
            if a != b and key not in seen:
                seen.add(key)
                out.append(LineString([a, b]))
    return out


def doors_from_swings(arcs: Sequence[SwingArc], lines: Sequence[LineString], *,
                      min_radius_m: float = MIN_RADIUS_M, max_radius_m: float = MAX_RADIUS_M,
                      tolerance: float = LEAF_TOLERANCE) -> tuple[SwingDoor, ...]:
    """Doors from door swings (metres): each a quarter arc of door-leaf radius with a leaf
    line (or a polyline side: a leaf drawn as a thin rectangle) from its centre to one of
    its ends (a bare arc says not which end is on the wall,
    so it is no door here). ``tolerance``: how far, as a share of the radius, the leaf may
    miss the hinge and the arc, and its length the radius.

    Two swings whose closed ends meet (a double door) are one door, centred between their
    hinges, as wide as both leaves.
    """
    lines = _pieces(lines)  # a leaf drawn as a thin rectangle: its long side is the leaf
    tree = STRtree(lines)
    swings: list[_Swing] = []
    once = {(round(a.center[0], 6), round(a.center[1], 6), round(a.radius, 6),
             round(a.start_deg, 3), round(a.end_deg, 3)): a for a in reversed(arcs)}
    for arc in arcs:
        if once.get((round(arc.center[0], 6), round(arc.center[1], 6), round(arc.radius, 6),
                     round(arc.start_deg, 3), round(arc.end_deg, 3))) is not arc:
            continue  # the same swing drawn again
        if not (min_radius_m <= arc.radius <= max_radius_m):
            continue
        if not (MIN_SWEEP_DEG <= arc.sweep_deg <= MAX_SWEEP_DEG):
            continue
        leaf = _leaf_end(arc, lines, tree, tolerance) if lines else None
        if leaf is None:
            continue
        closed = arc.end_points()[1 - leaf]
        swings.append(_Swing(arc, arc.center, closed))
    return _pair_double_doors(swings, tolerance)


def _pair_double_doors(swings: list[_Swing], tolerance: float) -> tuple[SwingDoor, ...]:
    """One door per doorway: two leaves closing on each other (their hinges a doorway
    apart) are a double door; two swings from one hinge to one closed end, on either side
    of the wall, are a double-acting door."""
    if not swings:
        return ()
    ends = STRtree([Point(s.closed_end) for s in swings])
    used: set[int] = set()
    doors: list[SwingDoor] = []
    for i, s in enumerate(swings):
        if i in used:
            continue
        used.add(i)
        reach = tolerance * s.arc.radius
        partner, same = None, []
        for j in sorted(ends.query(Point(s.closed_end).buffer(reach)).tolist()):
            t = swings[j]
            if j in used or math.dist(s.closed_end, t.closed_end) > tolerance * min(
                    s.arc.radius, t.arc.radius):
                continue
            span = math.dist(s.hinge, t.hinge)
            leaves = s.arc.radius + t.arc.radius
            if span <= reach:
                same.append(j)  # the same doorway, swung the other way
            elif partner is None and abs(span - leaves) <= tolerance * leaves:
                partner = j
        used.update(same)
        handles = "+".join([s.arc.handle] + [swings[j].arc.handle for j in same[:3]])
        if partner is None:
            x, y = s.doorway_centre
            doors.append(SwingDoor(Point(x, y), s.arc.radius, handles))
            continue
        used.add(partner)
        t = swings[partner]
        x, y = (s.hinge[0] + t.hinge[0]) / 2.0, (s.hinge[1] + t.hinge[1]) / 2.0
        doors.append(SwingDoor(Point(x, y), math.dist(s.hinge, t.hinge),
                               f"{handles}+{t.arc.handle}"))
    return tuple(doors)
