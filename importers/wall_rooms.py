"""Rooms recovered from wall lines, for drawings with no closed room outlines.

Many plans draw walls as loose lines: two per wall (its faces), with a short line closing
each end at a doorway, or one centre line per wall. The spaces between them are the rooms,
but only once the lines are made to meet:

1. **snap**: endpoints within ``snap_m`` of each other become one point, and an endpoint
   that stops just short of a line (or just past it) is moved onto it;
2. **close the doorways**: a door leaves a gap in its wall, so the room runs into the
   corridor. Where a line stops and another starts again on the same line, up to
   ``max_gap_m`` further on, the gap is bridged (on both faces of a double wall);
3. **polygonize** the noded lines into faces;
4. **keep the rooms**: faces holding a label, or (unlabelled) of plausible room size; drop
   the slivers between a wall's two faces and anything narrower than a person can use.

Each room closed across a gap is reported as a finding (a doorway, most likely), and so is
a space holding several rooms' labels (an opening wider than the gaps bridged, or a wall
not drawn). All in metres in the drawing's frame; pure shapely.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon

from importers.findings import Finding, FindingKind, Severity

#: the widest doorway bridged, metres (a double door's opening is wider: not closed)
MAX_GAP_M = 1.2
#: gaps this wide are closed only where that encloses a label no room holds otherwise
WIDE_GAP_M = 2.0
#: label texts this close together name one room (a number above its name), metres
_SAME_LABEL_M = 1.5
#: a space narrower than this on average (2 x area / perimeter), metres, is a wall's inside
MIN_WIDTH_M = 0.6
#: the grid the lines are noded on, metres
NODE_GRID_M = 0.001
#: a gap is bridged only where both lines run on within this angle of the bridge, degrees
_ALIGN_DEG = 3.0


@dataclass(frozen=True)
class WallRooms:
    """The rooms found (metres) and what the reader noticed on the way."""

    polygons: tuple[Polygon, ...]
    findings: tuple[Finding, ...]


_Seg = tuple[tuple[float, float], tuple[float, float]]


def _segments(lines: Sequence[LineString]) -> list[_Seg]:
    """Every straight piece once (a wall drawn twice, or pasted onto itself, is one)."""
    out: list[_Seg] = []
    seen: set[_Seg] = set()
    for line in lines:
        if line is None or line.is_empty:
            continue
        coords = [(float(c[0]), float(c[1])) for c in line.coords]
        for a, b in itertools.pairwise(coords):
            if all(math.isfinite(v) for v in (*a, *b)) and a != b:
                key = (min(a, b), max(a, b))
                if key not in seen:
                    seen.add(key)
                    out.append((a, b))
    return out


#: line ends in one square of the widest gap's size: more is clutter (an exploded hatch,
#: text drawn as lines), not walls, and is not searched for doorway gaps
MAX_ENDS_PER_CELL = 64


def _cluttered(xy: np.ndarray, size: float) -> np.ndarray:
    """Which points lie in a square of side ``size`` holding more than
    :data:`MAX_ENDS_PER_CELL` points (a grid count: no pairs are made)."""
    if len(xy) == 0 or size <= 0:
        return np.zeros(len(xy), dtype=bool)
    cells = np.floor(xy / size).astype(np.int64)
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    return cast(np.ndarray, counts[inverse.reshape(-1)] > MAX_ENDS_PER_CELL)


def _snap_endpoints(segs: list[_Seg], snap_m: float) -> list[_Seg]:
    """Endpoints within ``snap_m`` of an earlier one moved onto it (the first of a cluster
    stays: a dense row of hatch lines does not melt into one point), every piece kept once."""
    if not segs or snap_m <= 0:
        return segs
    grid: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)

    def snapped(p: tuple[float, float]) -> tuple[float, float]:
        cx, cy = math.floor(p[0] / snap_m), math.floor(p[1] / snap_m)
        best, best_d = None, snap_m
        for i in (cx - 1, cx, cx + 1):
            for j in (cy - 1, cy, cy + 1):
                for q in grid.get((i, j), ()):
                    d = math.dist(p, q)
                    if d <= best_d:
                        best, best_d = q, d
        if best is None:
            grid[(cx, cy)].append(p)
            return p
        return best

    out: list[_Seg] = []
    seen: set[_Seg] = set()
    for a, b in segs:
        a2, b2 = snapped(a), snapped(b)
        key = (min(a2, b2), max(a2, b2))
        if a2 != b2 and key not in seen:
            seen.add(key)
            out.append((a2, b2))
    return out


def _points(xy: np.ndarray) -> np.ndarray:
    """Shapely points for an (n, 2) array, made in one call."""
    return cast(np.ndarray, shapely.points(xy))


def _onto_lines(segs: list[_Seg], snap_m: float) -> list[_Seg]:
    """Endpoints that stop just short of (or run just past) another line moved onto it."""
    if not segs:
        return segs
    ends = np.array([p for s in segs for p in s], dtype=float)  # 2k, 2k+1: segment k
    lines = np.array([LineString(s) for s in segs], dtype=object)
    tree = STRtree(lines)
    pts = _points(ends)
    which, near = tree.query(pts, predicate="dwithin", distance=snap_m)
    own = which // 2 == near
    which, near = which[~own], near[~own]
    if len(which) == 0:
        return segs
    dist = shapely.distance(pts[which], lines[near])
    on_a_line = set(which[dist == 0.0].tolist())  # already meets a line: leave it
    moved = ends.copy()
    best: dict[int, tuple[float, int]] = {}
    for w, n, d in zip(which.tolist(), near.tolist(), dist.tolist(), strict=True):
        if w not in on_a_line and (w not in best or d < best[w][0]):
            best[w] = (d, n)
    if best:
        idx = np.array(list(best), dtype=int)
        targets = lines[[best[i][1] for i in idx.tolist()]]
        spots = shapely.line_interpolate_point(
            targets, shapely.line_locate_point(targets, pts[idx]))
        moved[idx] = shapely.get_coordinates(spots)
    out: list[_Seg] = []
    for k in range(len(segs)):
        a = (float(moved[2 * k][0]), float(moved[2 * k][1]))
        b = (float(moved[2 * k + 1][0]), float(moved[2 * k + 1][1]))
        if a != b:
            out.append((a, b))
    return out


def _bridges(segs: list[_Seg], snap_m: float, min_gap_m: float,
             max_gap_m: float) -> list[LineString]:
    """Lines across doorway gaps: from where a line stops to where another starts again
    on the same line (both running on away from the gap), crossing no other line. "The same
    line": the two lines within a few degrees of parallel, and each end within twice
    ``snap_m`` of the other's line extended (an angle alone would be too strict for a short
    jamb-to-corner piece drawn a little askew)."""
    ends: list[tuple[tuple[float, float], tuple[float, float], int]] = []  # point, out dir, seg
    for k, (a, b) in enumerate(segs):
        length = math.dist(a, b)
        dx, dy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
        ends.append((a, (-dx, -dy), k))
        ends.append((b, (dx, dy), k))
    xy = np.array([e[0] for e in ends], dtype=float)
    keep = ~_cluttered(xy, max_gap_m)
    ends = [e for e, k in zip(ends, keep.tolist(), strict=True) if k]
    if not ends:
        return []
    points = _points(xy[keep])
    tree = STRtree(points)
    lines = STRtree([LineString(s) for s in segs])
    line_geoms = lines.geometries
    cos_ok = math.cos(math.radians(_ALIGN_DEG))
    seen: set[tuple[tuple[float, float], tuple[float, float]]] = set()
    out: list[LineString] = []
    left, right = tree.query(points, predicate="dwithin", distance=max_gap_m)
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        (p, d, k), (q, e, m) = ends[i], ends[j]
        if k == m:
            continue
        gap = math.dist(p, q)
        if gap <= min_gap_m or gap > max_gap_m:
            continue
        wx, wy = q[0] - p[0], q[1] - p[1]
        # p's line runs out towards q, q's line back towards p, the two nearly parallel,
        # and each end on the other's line extended
        if wx * d[0] + wy * d[1] <= 0 or -(wx * e[0] + wy * e[1]) <= 0:
            continue
        if -(d[0] * e[0] + d[1] * e[1]) < cos_ok:
            continue
        off = 2.0 * snap_m  # an end snap_m askew, seen from the other end of a short piece
        if abs(d[0] * wy - d[1] * wx) > off or abs(e[0] * wy - e[1] * wx) > off:
            continue
        key = (p, q) if p < q else (q, p)
        if key in seen:
            continue
        bridge = LineString([p, q])
        if _crosses_a_line(bridge, lines, line_geoms, snap_m):
            continue
        seen.add(key)
        out.append(bridge)
    return out


def _crosses_a_line(bridge: LineString, tree: STRtree, geoms: np.ndarray,
                    snap_m: float) -> bool:
    p, q = Point(bridge.coords[0]), Point(bridge.coords[-1])
    for i in tree.query(bridge, predicate="intersects").tolist():
        hit = bridge.intersection(geoms[i])
        for part in getattr(hit, "geoms", [hit]):
            if part.is_empty:
                continue
            if part.distance(p) > snap_m and part.distance(q) > snap_m:
                return True
            if part.geom_type != "Point" and part.length > snap_m:
                return True  # runs along a line: not a gap
    return False


def _width(face: Polygon) -> float:
    return 2.0 * face.area / face.length if face.length > 0 else 0.0


def rooms_from_walls(segments: Sequence[LineString], label_points: Sequence[Point], *,
                     snap_m: float = 0.05, min_area_m2: float = 2.0,
                     max_gap_m: float = MAX_GAP_M, wide_gap_m: float = WIDE_GAP_M,
                     source: str = "") -> WallRooms:
    """The rooms the wall lines enclose (metres), doorway gaps up to ``max_gap_m`` closed.

    Gaps up to ``wide_gap_m`` (double doors, open archways) are closed too where that
    encloses a label no room holds otherwise. A face is a room when it holds a label, or
    when it is at least ``min_area_m2`` and of a usable width; the slivers between a wall's
    faces are dropped. ``source`` names the file in the findings.
    """
    segs = _snap_endpoints(_segments(segments), snap_m)
    segs = _snap_endpoints(_onto_lines(segs, snap_m), snap_m / 10.0)
    if not segs:
        return WallRooms((), ())
    labels = [p for p in label_points if p is not None and not p.is_empty]
    findings: list[Finding] = []
    clutter = int(_cluttered(np.array([p for seg in segs for p in seg], dtype=float),
                             max_gap_m).sum())
    if clutter:
        findings.append(Finding(
            FindingKind.OTHER,
            f"{clutter:,} line ends on the walls layer lie too close together (a hatch "
            "exploded into lines?) to look for doorway gaps among them; gaps there are not "
            "closed", Severity.WARNING, source, action="doorway gaps not closed there"))
    bridges = _bridges(segs, snap_m, snap_m, max_gap_m)
    faces = _faces(segs, bridges)
    housed = _housed(faces, labels)
    if housed < len(labels) and wide_gap_m > max_gap_m:
        wide = _bridges(segs, snap_m, max_gap_m, wide_gap_m)
        wider_faces = _faces(segs, bridges + wide) if wide else []
        if wide and _housed(wider_faces, labels) > housed:
            bridges, faces = bridges + wide, wider_faces
    held = _labels_in(faces, labels)
    bridge_tree = STRtree(bridges) if bridges else None
    outside = _outer_faces(faces)
    rooms: list[Polygon] = []
    for k, (face, inside) in enumerate(zip(faces, held, strict=True)):
        if _width(face) < MIN_WIDTH_M or (not inside and face.area < min_area_m2):
            continue
        if k in outside:
            continue
        rooms.append(face)
        spot = face.representative_point()
        at = (spot.x, spot.y)
        groups = _label_groups(inside)
        if groups > 1:
            findings.append(Finding(
                FindingKind.OTHER,
                f"one space enclosed by the walls holds the labels of {groups} rooms: the "
                f"walls between them may have an opening wider than {wide_gap_m:g} m, or a "
                "wall is not drawn", Severity.WARNING, source, at,
                action="kept as one room; check the walls layer"))
        gaps = _gaps_on(face, bridges, bridge_tree)
        if gaps:
            widths = ", ".join(f"{g:.2f}" for g in sorted(gaps))
            findings.append(Finding(
                FindingKind.REPAIRED_GEOMETRY,
                f"room closed across {len(gaps)} gap(s) in the walls ({widths} m wide; "
                "doorways, most likely)", Severity.INFO, source, at,
                action="closed each gap with a straight line along the wall"))
    return WallRooms(tuple(rooms), tuple(findings))


def _outer_faces(faces: list[Polygon]) -> set[int]:
    """Faces round the building rather than in it: between the facade and a frame or site
    line drawn on the walls layer, their hole holding nearly all the other faces (a corridor
    round a block of rooms holds only that block)."""
    total = sum(f.area for f in faces)
    out = set()
    for k, face in enumerate(faces):
        if not face.interiors:
            continue
        holes = sum(Polygon(ring).area for ring in face.interiors)
        if holes >= 0.9 * (total - face.area) and holes > face.area * 0.1:
            out.add(k)
    return out


def _faces(segs: list[_Seg], bridges: list[LineString]) -> list[Polygon]:
    noded = shapely.union_all([LineString(s) for s in segs] + bridges, grid_size=NODE_GRID_M)
    return [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
            if isinstance(f, Polygon) and f.area > 0]


def _housed(faces: list[Polygon], labels: list[Point]) -> int:
    """How many labels lie alone (with their own room's texts only) in a face that can be a
    room: wide enough, and not the outside of the building."""
    outside = _outer_faces(faces)
    rooms = [f for k, f in enumerate(faces) if _width(f) >= MIN_WIDTH_M and k not in outside]
    return sum(len(h) for h in _labels_in(rooms, labels) if _label_groups(h) == 1)


def _label_groups(labels: list[Point]) -> int:
    """How many rooms' labels these are: texts closer than a few lines' height (a number
    above its name) are one room's."""
    groups: list[list[Point]] = []
    for p in labels:
        for g in groups:
            if any(p.distance(q) <= _SAME_LABEL_M for q in g):
                g.append(p)
                break
        else:
            groups.append([p])
    return len(groups)


def _labels_in(faces: list[Polygon], labels: list[Point]) -> list[list[Point]]:
    held: list[list[Point]] = [[] for _ in faces]
    if not faces or not labels:
        return held
    tree = STRtree(faces)
    left, right = tree.query(labels, predicate="within")
    for li, fi in zip(left.tolist(), right.tolist(), strict=True):
        held[fi].append(labels[li])
    return held


def _gaps_on(face: Polygon, bridges: list[LineString], tree: STRtree | None) -> list[float]:
    """The widths of the bridged gaps that make part of ``face``'s boundary."""
    if tree is None:
        return []
    edge = face.exterior.buffer(NODE_GRID_M * 2)
    return [bridges[i].length for i in tree.query(face, predicate="intersects").tolist()
            if edge.covers(bridges[i])]
