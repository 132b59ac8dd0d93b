"""Entity geometry as room outlines: polylines (bulges as arcs) checked before they are made.

A floor plan is untrusted input: a vertex that is not a number, one ten thousand kilometres
away, or a bulge that flattens into millions of points is refused (:class:`Unreadable`) before
shapely sees it.
"""

from __future__ import annotations

import math
from typing import Any, cast

import ezdxf.path
import shapely
from ezdxf.math import Vec2, Vec3
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from importers.dxf_walk import Reading, Unreadable


def polyline_polygon(e: Any, flatten: float, reading: Reading,
                      ) -> tuple[Polygon | None, bool]:
    """(polygon, was_closed) for an LWPOLYLINE/POLYLINE; None if it cannot be a room.

    Raises :class:`Unreadable` for a vertex or bulge that is not a finite number, a vertex
    beyond the reading's coordinate bound, or bulge arcs that would flatten into more points
    than an outline may have.
    """
    kind = e.dxftype()
    if kind == "POLYLINE" and not (e.is_2d_polyline or e.is_3d_polyline):
        return None, False  # meshes and polyface meshes are not room outlines
    closed = bool(e.closed) if kind == "LWPOLYLINE" else bool(e.is_closed)
    verts = _check_polyline_numbers(e, kind, closed, flatten, reading)
    if _straight_in_plan(e, kind, verts):  # its vertices are its outline: nothing to flatten
        pts = [(x, y) for x, y, _ in verts]
    else:
        p = ezdxf.path.make_path(e)
        pts = [(v.x, v.y) for v in p.flattening(flatten)]
        check_points(pts, reading)
    if not closed and len(pts) > 2:
        first, last = pts[0], pts[-1]
        closed = abs(first[0] - last[0]) < 1e-9 and abs(first[1] - last[1]) < 1e-9
    if not closed:
        return None, False
    if len(pts) >= 2 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(pts) < 3:
        return None, True
    return Polygon(pts), True


_MAX_BULGE = 1e4  # |bulge| = tan(angle/4): 1e4 is an arc of 359.98°, its radius 2,500x the chord


def _polyline_vertices(e: Any, kind: str) -> list[tuple[float, float, float]]:
    if kind == "LWPOLYLINE":  # a row of x, y, start and end width, bulge per vertex
        values = e.lwpoints.values.reshape(-1, 5)
        return list(zip(values[:, 0].tolist(), values[:, 1].tolist(), values[:, 4].tolist(),
                        strict=True))
    return [(float(v.dxf.location.x), float(v.dxf.location.y), float(v.dxf.get("bulge", 0)))
            for v in e.vertices]


def _straight_in_plan(e: Any, kind: str, verts: list[tuple[float, float, float]]) -> bool:
    """Whether a polyline is straight segments drawn in the plan's own coordinates (no bulge,
    a 2D polyline seen from above): its vertices are then its outline as drawn."""
    if kind == "POLYLINE" and not e.is_2d_polyline:
        return False
    extrusion = e.dxf.get("extrusion", (0.0, 0.0, 1.0))
    return (abs(float(extrusion[0])) < 1e-12 and abs(float(extrusion[1])) < 1e-12
            and float(extrusion[2]) > 0 and all(b == 0 for _, _, b in verts))


def _check_polyline_numbers(e: Any, kind: str, closed: bool, flatten: float,
                            reading: Reading) -> list[tuple[float, float, float]]:
    """Refuse vertices and bulges that are not finite or absurdly far, and bulge arcs that
    would flatten into more points than an outline may have, before flattening; the
    vertices (x, y, bulge) when they pass."""
    verts = _polyline_vertices(e, kind)
    check_points([(x, y) for x, y, _ in verts], reading)
    limit = reading.budget.limits.max_outline_points
    points = len(verts)
    for i, (x, y, bulge) in enumerate(verts):
        if not math.isfinite(bulge):
            raise Unreadable(f"vertex {i} has bulge {bulge}, which is not a number")
        if bulge == 0 or (i == len(verts) - 1 and not closed):
            continue
        if abs(bulge) > _MAX_BULGE:
            raise Unreadable(
                f"vertex {i} has bulge {bulge:g}: an arc of nearly a full circle on a "
                f"short chord (|bulge| limit {_MAX_BULGE:g}); an absurd arc is refused")
        nx, ny, _ = verts[(i + 1) % len(verts)]
        points += _arc_points(math.hypot(nx - x, ny - y), bulge, flatten)
        if points > limit:
            raise Unreadable(
                f"its bulge arcs would flatten into more than {limit:,} points (outline point "
                "limit); an arc this large is refused")
    return verts


def _arc_points(chord: float, bulge: float, tolerance: float) -> int:
    """How many segments an arc of ``chord`` and ``bulge`` needs to stay within
    ``tolerance`` of the true curve."""
    if chord <= 0 or tolerance <= 0:
        return 0
    angle = 4.0 * math.atan(abs(bulge))
    radius = chord / (2.0 * math.sin(angle / 2.0))
    if radius <= tolerance:
        return 4
    step = 2.0 * math.acos(max(-1.0, 1.0 - tolerance / radius))
    return int(min(angle / step, 1e18)) + 1 if step > 0 else 10**18


def check_points(pts: list[tuple[float, float]], reading: Reading) -> None:
    for x, y in pts:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise Unreadable(f"a vertex at ({x}, {y}) is not a number")
        if abs(x) > reading.max_coord or abs(y) > reading.max_coord:
            raise Unreadable(
                f"a vertex at ({x:g}, {y:g}) lies more than {reading.max_coord:g} drawing "
                "units from the origin (coordinate limit)")


def check_numbers(e: Any, reading: Reading) -> None:
    """Every number the entity carries is finite (and its points within the bound)."""
    for key, value in vars(e.dxf).items():  # its attributes (and a link to itself)
        if isinstance(value, float) and not math.isfinite(value):
            raise Unreadable(f"its {key} is {value}, not a number")
        if isinstance(value, (Vec3, Vec2)):  # a tuple of types is checked faster
            if not all(math.isfinite(c) for c in value):
                raise Unreadable(f"its {key} {tuple(value)} is not a number")
            if key in ("insert", "align_point") and (
                    abs(value.x) > reading.max_coord or abs(value.y) > reading.max_coord):
                raise Unreadable(
                    f"its {key} ({value.x:g}, {value.y:g}) lies more than "
                    f"{reading.max_coord:g} drawing units from the origin (coordinate limit)")



def _flattened(path: Any, flatten: float, reading: Reading) -> list[tuple[float, float]]:
    """A path's points within ``flatten`` of the curve; refused when its numbers are not
    finite or lie too far, or when it flattens into more points than an outline may have
    (the flattening stops there: a huge arc is not made)."""
    check_points([(v.x, v.y) for v in path.control_vertices()], reading)
    limit = reading.budget.limits.max_outline_points
    pts: list[tuple[float, float]] = []
    for v in path.flattening(flatten):
        pts.append((v.x, v.y))
        if len(pts) > limit:
            raise Unreadable(f"it would flatten into more than {limit:,} points (outline "
                             "point limit); a curve this large is refused")
    check_points(pts, reading)
    return pts


def hatch_polygons(e: Any, flatten: float, reading: Reading) -> list[Polygon]:
    """The areas a HATCH fills (drawing units): its boundary paths (polylines with bulges,
    lines, arcs, ellipses, splines) combined by the even-odd rule, an island inside an area a
    hole in it; one polygon per separate area."""
    rings = []
    total, limit = 0, 4 * reading.budget.limits.max_outline_points
    for path in ezdxf.path.from_hatch(e):
        reading.budget.charge(1, f"{reading.source}: HATCH {e.dxf.get('handle', '')}")
        pts = _flattened(path, flatten, reading)
        total += len(pts)
        if total > limit:
            raise Unreadable(f"its boundaries would flatten into more than {limit:,} points "
                             "(four times the outline point limit); a hatch this large is "
                             "refused")
        if len(pts) >= 2 and pts[0] == pts[-1]:
            pts = pts[:-1]
        if len(pts) >= 3:
            ring = shapely.make_valid(Polygon(pts))
            if ring.area > 0:
                rings.append(ring)
    if not rings:
        return []
    return sorted(polygons_of(_even_odd(rings)), key=lambda p: (p.bounds[1], p.bounds[0]))


def _even_odd(rings: list[Any]) -> BaseGeometry:
    """What boundaries fill by the even-odd rule: a boundary inside an odd number of others
    is a hole in the one right around it, an island in that hole is filled again; boundaries
    that merely overlap stay two areas."""
    if len(rings) == 1:
        return cast(BaseGeometry, rings[0])
    tree = shapely.STRtree(rings)
    inner, outer = tree.query(rings, predicate="within")
    pairs = [(int(i), int(o)) for i, o in zip(inner.tolist(), outer.tolist(), strict=True)
             if i != o]
    depth = [0] * len(rings)
    for i, _ in pairs:
        depth[i] += 1
    holes: dict[int, list[Any]] = {}
    for i, o in pairs:
        if depth[i] == depth[o] + 1 and depth[o] % 2 == 0:
            holes.setdefault(o, []).append(rings[i])
    filled = [r.difference(shapely.union_all(holes[k])) if k in holes else r
              for k, r in enumerate(rings) if depth[k] % 2 == 0]
    return GeometryCollection(filled)  # two rooms in one hatch stay two, even touching


def polygons_of(geom: Any) -> list[Polygon]:
    """The polygons with area in a geometry (a collection flattened)."""
    if isinstance(geom, Polygon):
        return [geom] if geom.area > 0 else []
    if isinstance(geom, MultiPolygon | GeometryCollection):
        return [p for g in geom.geoms for p in polygons_of(g)]
    return []


def entity_points(e: Any, flatten: float, reading: Reading) -> list[tuple[float, float]]:
    """The points an entity's outline passes through (curves flattened); [] for one that has
    no outline (text, a point, an unsupported type)."""
    try:
        path = ezdxf.path.make_path(e)
    except (TypeError, ValueError):
        return []
    return _flattened(path, flatten, reading)


def segments(e: Any, flatten: float, reading: Reading) -> list[LineString]:
    """A LINE, or each piece of a (LW)POLYLINE, as line strings (drawing units); [] for a
    degenerate one."""
    pts = entity_points(e, flatten, reading)
    if e.dxftype() != "LINE" and getattr(e, "closed", False) and len(pts) > 2 \
            and pts[0] != pts[-1]:
        pts = [*pts, pts[0]]
    if len(pts) < 2 or (len(pts) == 2 and pts[0] == pts[1]):
        return []
    return [LineString(pts)]
