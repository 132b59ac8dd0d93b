"""Which layer plays each role: rooms, labels, doors, outline, walls, stairs, lifts.

Each judge reads a :class:`~importers.layer_stats.DrawingScan` (what every layer holds) and
names the layer that fits best, with one sentence why; see :mod:`importers.layer_proposal`.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon, box

from importers.door_swings import doors_from_swings
from importers.layer_stats import (
    HINT_RE,
    BlockKind,
    DrawingScan,
    LayerContent,
    LayerText,
    block_kind,
    largest_polygon,
    polyline_edges,
)

#: a room holds this many texts at most (number, name, area, occupancy, floor finish, ...)
_ROOM_TEXTS = 8


def _hint(role: str, layer: str) -> bool:
    return bool(HINT_RE[role].search(layer))


@dataclass(frozen=True)
class RoleChoice:
    layer: str | None
    reason: str


NO_CHOICE = RoleChoice(None, "")


def _best(scores: dict[str, float], role: str) -> str | None:
    """The layer with the highest positive score; a name that fits the role breaks a tie."""
    ranked = sorted(((s, _hint(role, n), n) for n, s in scores.items() if s > 0), reverse=True)
    return ranked[0][2] if ranked else None


@dataclass
class RoomsFound:
    layer: str | None = None
    label_layer: str | None = None
    polygons: list[Polygon] = field(default_factory=list)  # the ones holding texts
    reason: str = ""
    label_reason: str = ""


def _held(polys: list[Polygon], texts: list[LayerText]) -> list[list[LayerText]]:
    """The texts each polygon holds; a text inside nested outlines (a title box in the sheet
    frame) is held by the innermost only."""
    held: list[list[LayerText]] = [[] for _ in polys]
    if not polys or not texts:
        return held
    tree = STRtree(polys)
    pts = [Point(t.at) for t in texts]
    pairs = tree.query(pts, predicate="within")
    innermost: dict[int, int] = {}
    for ti, pi in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        if ti not in innermost or polys[pi].area < polys[innermost[ti]].area:
            innermost[ti] = pi
    for ti, pi in innermost.items():
        held[pi].append(texts[ti])
    return held


def _sheet_like(polys: list[Polygon], everything: STRtree, total: int) -> set[int]:
    """The outlines holding most of the drawing's closed outlines (at least five and four in
    five): a sheet frame round the plan, not a room (a hall may hold a stair or two)."""
    outer, inner = everything.query(polys, predicate="contains")
    held = Counter(o for o, i in zip(outer.tolist(), inner.tolist(), strict=True)
                   if not polys[o].equals(everything.geometries[i]))
    return {i for i, n in held.items() if n >= 5 and n >= 0.8 * (total - 1)}


def _without_tables(holding: list[tuple[Polygon, list[LayerText]]],
                    ) -> list[tuple[Polygon, list[LayerText]]]:
    """Outlines holding texts, less the cells of a table: three or more of them inside one
    other (a title block's cells, a schedule's rows; a hall may hold a stair or two)."""
    polys = [p for p, _ in holding]
    tree = STRtree(polys)
    outer, inner = tree.query(polys, predicate="contains")
    children: dict[int, set[int]] = defaultdict(set)
    for o, i in zip(outer.tolist(), inner.tolist(), strict=True):
        if o != i:
            children[o].add(i)
    cells = {i for kids in children.values() if len(kids) >= 3 for i in kids}
    return [h for k, h in enumerate(holding) if k not in cells]


def _distinct_share(texts: list[LayerText]) -> float:
    """How many of the room numbers among the texts differ: rooms have a number each, desks
    repeat "1", "2", ... (names may repeat, "Classroom": they are not judged)."""
    numbers = [t for t in texts if t.is_number]
    return len({t.text for t in numbers}) / len(numbers) if len(numbers) >= 3 else 1.0


def _distinct_numbers(texts: Iterable[LayerText]) -> int:
    return len({t.text for t in texts if t.is_number})


def propose_rooms(scan: DrawingScan) -> RoomsFound:
    """Rooms: the layer whose closed outlines each holding one to four short texts of one
    layer cover the most floor, those texts telling the outlines apart (a room number each;
    desks all hold "1", "2", ...); labels: the layer with distinct room numbers in most of
    them."""
    text_layers = {n: c.texts for n, c in scan.layers.items() if c.texts}
    best: tuple[tuple[float, bool, int, bool], str, str, list[Polygon], int] | None = None
    every = [p for c in scan.layers.values() for p in c.polygons]
    everything = STRtree(every)
    for name, c in scan.layers.items():
        if len(c.polygons) < 2:
            continue
        nests = _sheet_like(c.polygons, everything, len(every))
        for tname, texts in text_layers.items():
            scan.tick()
            held = _held(c.polygons, texts)
            holding = [(p, h) for i, (p, h) in enumerate(zip(c.polygons, held, strict=True))
                       if 1 <= len(h) <= _ROOM_TEXTS and i not in nests]
            if len(holding) < 2:
                continue
            holding = _without_tables(holding)
            if len(holding) < 2 or len(holding) < 0.3 * (len(c.polygons) - len(nests)):
                continue  # most outlines of a rooms layer are labelled; few desks are
            inside = [t for _, h in holding for t in h]
            share = _distinct_share(inside)
            if share < 0.4:
                continue  # desks numbered 1, 2, 3 in every room, not rooms
            floor = sum(p.area for p, _ in holding) * share
            numbered = sum(1 for _, h in holding if any(t.is_number for t in h))
            key = (floor, _hint("rooms", name), numbered, _hint("labels", tname))
            if best is None or key > best[0]:
                best = (key, name, tname, [p for p, _ in holding], len(c.polygons))
    if best is None:
        return _unlabelled_rooms(scan, everything, len(every))
    _, name, tname, rooms, total = best
    count = len(rooms)
    out = RoomsFound(name, None, rooms)
    said = f"its {total}" if count == total else f"{count} of its {total}"
    out.reason = (f"{said} closed outlines each hold one to {_ROOM_TEXTS} short texts of "
                  f"layer {tname!r}")
    # labels: the text layer with distinct room numbers in the most rooms, then texts in most
    scores: dict[str, float] = {}
    numbers: dict[str, int] = {}
    for tn, texts in text_layers.items():
        held = _held(rooms, texts)
        with_number = min(sum(1 for h in held if any(t.is_number for t in h)),
                          _distinct_numbers(t for h in held for t in h))
        with_text = sum(1 for h in held if h)
        numbers[tn] = with_number
        scores[tn] = with_number * 1000 + with_text
    out.label_layer = _best(scores, "labels")
    if out.label_layer is not None:
        n = numbers[out.label_layer]
        out.label_reason = (f"its texts read as distinct room numbers in {n} of the {count} "
                            "rooms" if n else f"its texts lie in "
                            f"{int(scores[out.label_layer])} of the {count} rooms (none "
                            "reads as a room number)")
    return out


def _unlabelled_rooms(scan: DrawingScan, everything: STRtree, total: int) -> RoomsFound:
    """No outline holds a text, and no text anywhere reads as a room number (labels lying
    outside every outline mean the rooms are not outlines: walls only): the layer whose
    closed outlines (three or more, none round the whole sheet or inside another of its own)
    tile the most floor (furniture is scattered, not tiled)."""
    if any(t.is_number for c in scan.layers.values() for t in c.texts):
        return RoomsFound()
    best: tuple[float, str, list[Polygon]] | None = None
    for name, c in scan.layers.items():
        if len(c.polygons) < 3:
            continue
        frames = _sheet_like(c.polygons, everything, total)
        tree = STRtree(c.polygons)
        inner, outer = tree.query(c.polygons, predicate="within")
        nested = {i for i, o in zip(inner.tolist(), outer.tolist(), strict=True) if i != o}
        polys = [p for i, p in enumerate(c.polygons) if i not in frames and i not in nested]
        if len(polys) < 3:
            continue
        union = shapely.union_all(polys)
        if union.area < 0.5 * union.convex_hull.area:
            continue
        if best is None or (union.area, _hint("rooms", name)) > (
                best[0], _hint("rooms", best[1])):
            best = (union.area, name, polys)
    if best is None:
        return RoomsFound()
    _, name, polys = best
    out = RoomsFound(name, None, polys)
    out.reason = (f"no text anywhere reads as a room number; its {len(polys)} closed outlines "
                  "tile the most floor (rooms without labels?)")
    return out


def labels_without_rooms(scan: DrawingScan) -> RoleChoice:
    """With no room outlines: the layer with the most distinct room numbers among the lines
    of the plan (the extent of the layer with the most line length: the walls), told apart
    (desks repeat "1", "2"; dimension texts repeat; a title block and a legend lie off the
    plan)."""
    lengths = {n: sum(s.length for s in c.segments) for n, c in scan.layers.items()}
    main = max(lengths, key=lambda n: lengths[n], default=None)
    plan = None
    if main is not None and lengths[main] > 0:
        env = shapely.union_all(scan.layers[main].segments).envelope
        plan = env.buffer(0.02 * math.dist(env.bounds[:2], env.bounds[2:]))
        shapely.prepare(plan)
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, c in scan.layers.items():
        texts = [t for t in c.texts if plan is None or plan.contains(Point(t.at))]
        distinct = _distinct_numbers(texts)
        if distinct:
            counts[name] = distinct
            scores[name] = distinct * _distinct_share(texts) * 1000 + len(texts)
    layer = _best({n: v for n, v in scores.items() if v >= 1000}, "labels")
    if layer is None:
        return NO_CHOICE
    return RoleChoice(layer, f"{counts[layer]} distinct room numbers on the plan, the most of "
                             "any layer")


def propose_outline(scan: DrawingScan, rooms_layer: str | None, points: list[tuple[float, float]],
                    room_areas: list[float] | None) -> tuple[RoleChoice, Polygon | None]:
    """The facade: the layer (off the rooms layer) whose closed outlines hold most of
    ``points`` (room centres, or labels), in as few and as tight outlines as can be: one
    building's facade, or one per building or level drawn side by side; not a sheet frame
    (with ``room_areas`` known, an outline more than twice the rooms it holds is not
    tight), not zones splitting the floor (more outlines)."""
    if len(points) < 2:
        return NO_CHOICE, None
    pts = shapely.points(points)
    found: dict[str, tuple[int, int, float, list[Polygon]]] = {}
    for name, c in scan.layers.items():
        if name == rooms_layer or not c.polygons:
            continue
        scan.tick()
        tree = STRtree(c.polygons)
        smallest: dict[int, int] = {}
        pi, gi = tree.query(pts, predicate="covered_by")
        for p, g in zip(pi.tolist(), gi.tolist(), strict=True):
            if p not in smallest or c.polygons[g].area < c.polygons[smallest[p]].area:
                smallest[p] = g
        held: dict[int, list[int]] = defaultdict(list)
        for p, g in smallest.items():
            held[g].append(p)
        good = [g for g, ps in held.items() if len(ps) >= 2 and (
            room_areas is None
            or c.polygons[g].area <= 2.0 * sum(room_areas[p] for p in ps))]
        covered = sum(len(held[g]) for g in good)
        if covered >= 0.6 * len(points):
            polys = [c.polygons[g] for g in good]
            found[name] = (covered, len(polys), sum(q.area for q in polys), polys)
    if not found:
        return NO_CHOICE, None
    most = max(v[0] for v in found.values())
    name = min((n for n, v in found.items() if v[0] >= 0.9 * most),
               key=lambda n: (found[n][1], found[n][2], not _hint("outline", n), n))
    covered, count, _, polys = found[name]
    what = "the tightest closed outline" if count == 1 else f"{count} closed outlines"
    return (RoleChoice(name, f"{what} around {covered} of the {len(points)} rooms"),
            largest_polygon(shapely.union_all(polys)) if count > 1 else polys[0])


def _polygon_edges(polys: list[Polygon]) -> list[LineString]:
    """The sides of small closed outlines: a door leaf drawn as a thin rectangle."""
    return [e for p in polys if len(p.exterior.coords) <= 6
            for e in polyline_edges([(x, y) for x, y, *_ in p.exterior.coords][:-1], True)]


def propose_doors(doc: Any, scan: DrawingScan, unit_m: float | None,
                  edges: Any) -> tuple[RoleChoice, list[float]]:
    """Doors: the layer with the most door-like inserts; else the most door swings. Also the
    door widths seen (drawing units), for judging the unit."""
    def kind(name: str) -> BlockKind:
        return block_kind(doc, name, scan.kinds)

    scores: dict[str, float] = {}
    widths: dict[str, list[float]] = {}
    on_edges: dict[str, int] = {}
    for layer, c in scan.layers.items():
        doors = [(n, x, y, s) for n, x, y, s in c.inserts if kind(n).door]
        if not doors:
            continue
        near = 0
        if edges is not None:
            near = edges.near([(x, y) for _, x, y, _ in doors])
        # a door on a wall counts double: door blocks elsewhere are a legend or a schedule
        scores[layer] = len(doors) + near
        on_edges[layer] = near
        widths[layer] = [kind(n).width * s for n, _, _, s in doors if kind(n).width > 0]
    chosen = _best(scores, "doors")
    if chosen is not None:
        names = [name for name, *_ in scan.layers[chosen].inserts if kind(name).door]
        why = " or ".join(sorted({kind(name).why for name in names}))
        said = ", ".join(repr(b) for b, _ in Counter(names).most_common(3))
        return (RoleChoice(chosen, f"{len(names)} inserts of door blocks ({said}: {why}), "
                                   f"{on_edges[chosen]} of them on a room's edge"),
                widths[chosen])
    # no door blocks: loose swings (arc + leaf line)
    swing_scores: dict[str, float] = {}
    swing_widths: dict[str, list[float]] = {}
    lo, hi = (0.0, math.inf) if unit_m is None else (0.6 / unit_m, 1.3 / unit_m)
    for layer, c in scan.layers.items():
        if not c.arcs:
            continue
        found = doors_from_swings(c.arcs, c.segments + c.part_segments +
                                  _polygon_edges(c.polygons), min_radius_m=lo, max_radius_m=hi)
        if found:
            swing_scores[layer] = len(found)
            swing_widths[layer] = [d.width_m for d in found]
    swung = _best(swing_scores, "doors")
    if swung is not None:
        return (RoleChoice(swung, f"{int(swing_scores[swung])} door swings (an arc of door "
                                  "width with its leaf line), no door blocks"),
                swing_widths[swung])
    return NO_CHOICE, []


@dataclass(frozen=True)
class RoomEdges:
    """Room outlines' boundaries, to tell a door on a wall from one in a legend."""

    lines: list[Any]
    tol: float

    def near(self, points: list[tuple[float, float]]) -> int:
        """How many of the points lie within ``tol`` of an edge."""
        if not points or not self.lines:
            return 0
        hits, _ = STRtree(self.lines).query(shapely.points(points), predicate="dwithin",
                                             distance=self.tol)
        return len(set(hits.tolist()))


def propose_walls(scan: DrawingScan, region: Polygon | None, exclude: set[str],
                  unit_m: float | None) -> RoleChoice:
    """Walls: the layer with the most line length inside the building (stair treads and the
    lines of door, stair and lift blocks are not walls)."""
    if region is None or region.is_empty:
        return NO_CHOICE
    shapely.prepare(region)
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, c in scan.layers.items():
        if name in exclude or len(c.segments) < 4:
            continue
        scan.tick()
        treads = _treads_on(scan, name, unit_m)[1]
        inside = [s for i, s in enumerate(c.segments)
                  if i not in treads and region.contains(s.centroid)]
        if len(inside) >= 4:
            scores[name] = sum(s.length for s in inside)
            counts[name] = len(inside)
    layer = _best(scores, "walls")
    if layer is None:
        return NO_CHOICE
    share = scores[layer] / max(sum(scores.values()), 1e-12)
    return RoleChoice(layer, f"{counts[layer]} lines inside the building, {share:.0%} of the "
                             "line length there")


def _treads(segments: list[LineString], unit_m: float | None) -> tuple[int, set[int]]:
    """The longest run of stair treads (parallel segments of one length, side by side, evenly
    spaced), and which segments are treads. With the unit known, a tread is 0.6 to 4 m long
    and the next 0.2 to 0.45 m away; without, they are a twentieth to two fifths of their
    length apart (a column grid is not: its lines are metres apart)."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, s in enumerate(segments):
        (x0, y0), (x1, y1) = s.coords[0], s.coords[-1]
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180.0
        if s.length > 0:
            groups[(round(angle / 3.0) % 60, round(math.log(s.length) / 0.05))].append(i)
    best, treads = 0, set()
    for (a, _), group in groups.items():
        if len(group) < 6:
            continue
        theta = math.radians(a * 3.0)
        ux, uy = math.cos(theta), math.sin(theta)
        length = statistics.median(segments[i].length for i in group)
        lo, hi = 0.05 * length, 0.4 * length
        if unit_m is not None:
            if not 0.6 <= length * unit_m <= 4.0:
                continue
            lo, hi = 0.2 / unit_m, 0.45 / unit_m
        rows: dict[int, list[tuple[float, int]]] = defaultdict(list)  # along-position bucket
        for i in group:
            c = segments[i].centroid
            rows[round((c.x * ux + c.y * uy) / (length * 0.2))].append(
                (-c.x * uy + c.y * ux, i))
        for row in rows.values():
            row.sort()
            run, last_gap = [row[0][1]], 0.0
            for (before, prev_i), (here, i) in itertools.pairwise(row):
                g = here - before
                if not lo <= g <= hi:
                    run, last_gap = [i], 0.0
                    continue
                if len(run) >= 2 and abs(g - last_gap) > 0.15 * max(g, last_gap):
                    run = [prev_i]  # the spacing changes: a new run from the last tread
                run.append(i)
                last_gap = g
                if len(run) >= 6:
                    treads.update(run)
                best = max(best, len(run))
    return (best if best >= 6 else 0), treads


def _lift_cars(c: LayerContent, unit_m: float | None) -> int:
    """Outlines crossed by both their diagonals: how a lift's car (or shaft) is drawn."""
    if not c.polygons or len(c.segments) < 2:
        return 0
    tree = STRtree(c.segments)
    found = 0
    for poly in c.polygons:
        x0, y0, x1, y1 = poly.bounds
        w, h = x1 - x0, y1 - y0
        if min(w, h) <= 0 or max(w, h) > 2.5 * min(w, h):
            continue
        if unit_m is not None and not (0.8 <= w * unit_m <= 4.0 and 0.8 <= h * unit_m <= 4.0):
            continue
        if poly.area < 0.85 * w * h:
            continue
        tol = 0.05 * math.hypot(w, h)
        corners = ((x0, y0), (x1, y1)), ((x0, y1), (x1, y0))
        diagonals = 0
        for a, b in corners:
            for i in tree.query(box(x0, y0, x1, y1).buffer(tol)):
                p, q = c.segments[int(i)].coords[0], c.segments[int(i)].coords[-1]
                if (math.dist(p, a) <= tol and math.dist(q, b) <= tol) or (
                        math.dist(p, b) <= tol and math.dist(q, a) <= tol):
                    diagonals += 1
                    break
        found += diagonals == 2
    return found


def by_name_only(scan: DrawingScan, role: str, taken: set[str]) -> RoleChoice:
    for name in scan.names:
        c = scan.layers.get(name)
        if c is None or name in taken or not _hint(role, name):
            continue
        if c.polygons or c.segments or c.inserts or c.texts or c.arcs:
            return RoleChoice(name, f"by its name only ({name!r}); nothing in the drawing "
                                    f"looks like {role} by itself")
    return NO_CHOICE


def propose_stairs_and_lifts(scan: DrawingScan, unit_m: float | None,
                             ) -> tuple[RoleChoice, RoleChoice]:
    """Stairs: the longest run of loose treads; lifts: the most car outlines crossed by their
    diagonals. Blocks named for stairs and lifts are found by their names wherever they lie,
    so their insides do not decide a layer."""
    stair_scores: dict[str, float] = {}
    lift_scores: dict[str, float] = {}
    for name, c in scan.layers.items():
        scan.tick()
        treads = _treads_on(scan, name, unit_m)[0]
        if treads:
            stair_scores[name] = treads
        cars = _lift_cars(c, unit_m)
        if cars:
            lift_scores[name] = cars
    stairs = _best(stair_scores, "stairs")
    lifts = _best(lift_scores, "elevators")
    s_choice, l_choice = NO_CHOICE, NO_CHOICE
    if stairs is not None:
        s_choice = RoleChoice(stairs, f"a run of {int(stair_scores[stairs])} evenly spaced "
                                      "parallel treads")
    if lifts is not None:
        l_choice = RoleChoice(lifts, f"{int(lift_scores[lifts])} lift car outline(s) crossed by "
                                     "both diagonals")
    return s_choice, l_choice




def _treads_on(scan: DrawingScan, layer: str, unit_m: float | None) -> tuple[int, set[int]]:
    """:func:`_treads` of a layer's lines, worked out once."""
    if layer not in scan.treads:
        scan.treads[layer] = _treads(scan.layers[layer].segments, unit_m)
    return scan.treads[layer]
