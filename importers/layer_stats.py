"""What each layer of a drawing holds (block inserts expanded), and what its blocks are.

Read once per proposal (:mod:`importers.layer_proposal`) and judged by
:mod:`importers.layer_roles`. Every entity is charged to a
:class:`~importers.limits.WorkBudget`; a drawing that outruns it is judged on what was read.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import shapely
from ezdxf.lldxf.const import DXFError
from ezdxf.math import Matrix44, Vec3
from shapely.geometry import LineString, Polygon

from gridmap.errors import ImportLimitExceeded
from importers.door_swings import SwingArc, doors_from_swings, swing_arc
from importers.limits import ImportLimits, WorkBudget
from importers.room_labels import (
    UnplacedLabel,
    label_lines,
    label_of,
    room_number,
    split_label,
)

#: what a proposal may spend on one drawing (it is read again by the import itself)
PROPOSAL_LIMITS = ImportLimits(time_limit_s=30.0, memory_limit_mb=1024.0,
                               entity_budget=1_500_000)
_NEST_DEPTH = 6
#: a label this long (characters) is a note, not a room's number or name
_SHORT_TEXT = 60

# names, only to break ties or when the content says nothing: NCS, English, French, German,
# Dutch, Spanish
NAME_HINTS = {
    "rooms": r"AREA|ROOM|RAUM|R[AÄ]UME|LOCAU|LOCAL|RUIMTE|ESPACIO|SPACE|PIECE|SALLE|ZONE",
    "labels": r"IDEN|TEXT|TXT|NUM|NR|LABEL|TAG|NAME|NOM|BESCHR|ETIQ|ROTUL|BESCHRIFT",
    "doors": r"DOOR|T[UÜ]E?R|PORTE|PUERTA|DEUR|OPEN|\bDR\b",
    "outline": r"OTLN|OUTLINE|FA[CÇ]ADE|FASSADE|GEVEL|FACHADA|CONTOUR|SHELL|UMRISS|"
               r"PERIM|FOOTPRINT|GRUNDRISS",
    "walls": r"WALL|MUR|WAND|W[AÄ]E?NDE|MURO|MUREN|CONSTR",
    "stairs": r"STAIR|STRS|TREPP|ESCALIER|ESCALERA|TRAP",
    "elevators": r"EVTR|ELEV|LIFT|AUFZ|ASCENS",
}
HINT_RE = {role: re.compile(pattern, re.I) for role, pattern in NAME_HINTS.items()}
DOOR_BLOCK_RE = re.compile(r"DOOR|T[UÜ]E?R(?!M)|PORTE|PUERTA|DEUR|\bDR\b", re.I)
STAIR_BLOCK_RE = re.compile(NAME_HINTS["stairs"], re.I)
LIFT_BLOCK_RE = re.compile(NAME_HINTS["elevators"], re.I)



@dataclass(frozen=True)
class LayerStats:
    """What one layer holds (modelspace, block inserts expanded)."""

    name: str
    closed_outlines: int  # closed (LW)POLYLINEs / closed HATCH boundaries
    texts: int  # TEXT/MTEXT/ATTRIB
    number_texts: int  # texts that read as room numbers
    inserts: int
    lines: int  # LINE + open polylines
    arcs: int
    block_names: tuple[str, ...]  # most common first, at most 5




# --- reading the drawing ----------------------------------------------------------------------


@dataclass
class LayerText:
    text: str
    at: tuple[float, float]
    is_number: bool


@dataclass
class LayerContent:
    """What one layer holds, in drawing units."""

    polygons: list[Polygon] = field(default_factory=list)
    segments: list[LineString] = field(default_factory=list)
    #: lines inside door, stair or lift blocks: parts of those, not walls or loose treads
    part_segments: list[LineString] = field(default_factory=list)
    texts: list[LayerText] = field(default_factory=list)
    inserts: list[tuple[str, float, float, float]] = field(default_factory=list)  # name,x,y,s
    arcs: list[SwingArc] = field(default_factory=list)
    open_polylines: int = 0
    line_entities: int = 0
    long_texts: int = 0  # notes and paragraphs: not labels
    #: what is already here: a drawing pasted onto itself (or a block inserted many times at
    #: one place) is read once, so nothing downstream meets a pile of coincident copies
    seen: set[tuple[Any, ...]] = field(default_factory=set)

    def first(self, key: tuple[Any, ...]) -> bool:
        """Whether ``key`` is new here (and remember it)."""
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


@dataclass(frozen=True)
class BlockKind:
    """What a block is: a door (with its leaf width in block units, and why), a stair or a
    lift (by name), or none of those."""

    door: bool = False
    width: float = 0.0
    why: str = ""
    part: bool = False  # a door, stair or lift: its lines are not walls


@dataclass
class DrawingScan:
    layers: dict[str, LayerContent]
    names: list[str]  # every layer name, as the drawing spells it
    kinds: dict[str, BlockKind] = field(default_factory=dict)  # by block name
    treads: dict[str, tuple[int, set[int]]] = field(default_factory=dict)  # by layer
    budget: WorkBudget | None = None
    #: block placements read so far (name, layer, matrix): each is read once
    placed: set[tuple[Any, ...]] = field(default_factory=set)

    def tick(self) -> None:
        """Between two pieces of judging: stop at the budget's time or memory limit."""
        if self.budget is not None:
            self.budget.check("layer proposal")

    partial: str = ""  # why the scan stopped early, if it did


def scan_drawing(doc: Any, budget: WorkBudget) -> DrawingScan:
    layers: dict[str, LayerContent] = defaultdict(LayerContent)
    spelled: dict[str, str] = {}
    for layer in doc.layers:
        name = str(layer.dxf.name)
        spelled.setdefault(name.upper(), name)
    scan = DrawingScan({}, [], budget=budget)
    try:
        for e, layer, part, m in _walk(doc, scan, doc.modelspace(), budget, 0, None, (),
                                       False, None):
            spelled.setdefault(layer.upper(), layer)
            _read(e, layer, layers[layer.upper()], part, m)
    except ImportLimitExceeded as exc:
        scan.partial = str(exc)
    scan.layers = {spelled[k]: v for k, v in layers.items()}
    scan.names = sorted(spelled.values(), key=str.upper)
    return scan


_Placed = tuple[Any, str, bool, Matrix44 | None]


def _walk(doc: Any, scan: DrawingScan, entities: Iterable[Any], budget: WorkBudget, depth: int,
          parent: str | None, chain: tuple[str, ...], part: bool, m: Matrix44 | None,
          ) -> Iterator[_Placed]:
    """(entity, effective layer, inside a door/stair/lift block, block-to-world matrix or
    None at the top), block inserts expanded: an entity on layer 0 in a block takes the
    insert's layer; ATTRIBs are yielded on their own layer. Blocks are not copied (ezdxf's
    virtual entities are): their entities are read where they are and moved by ``m``."""
    for e in entities:
        budget.charge(1, "layer proposal")
        try:
            if not e.dxf.is_supported("layer"):
                continue
            layer = str(e.dxf.get("layer", "0"))
        except ENTITY_ERRORS:
            continue
        if parent is not None and layer == "0":
            layer = parent
        yield e, layer, part, m
        if e.dxftype() != "INSERT":
            continue
        for attrib in getattr(e, "attribs", ()):
            own = str(attrib.dxf.get("layer", "0"))
            yield attrib, (layer if own == "0" else own), part, m
        name = str(e.dxf.get("name", ""))
        if depth >= _NEST_DEPTH or name.upper() in chain:
            continue
        kind = block_kind(doc, name, scan.kinds)
        inner = (*chain, name.upper())
        copies = _copies(e)
        if copies > budget.limits.entity_budget - budget.entities:
            scan.partial = (f"block {name!r} is placed {copies:,} times (a MINSERT array), more "
                            f"than the {budget.limits.entity_budget:,} entities a proposal "
                            "reads; its copies were not read")
            continue
        for placed in _placements(doc, e, m):
            budget.charge(1, "layer proposal")  # an empty block placed a billion times
            key = (name.upper(), layer, part, *(round(v, 6) for v in placed[1]))
            if key in scan.placed:
                continue  # the same block again at the same place: a drawing pasted twice
            scan.placed.add(key)
            yield from _walk(doc, scan, placed[0], budget, depth + 1, layer, inner,
                             part or kind.part, placed[1])


def _copies(insert: Any) -> int:
    """How many places an insert puts its block (a MINSERT array spaced 0 is one)."""
    try:
        rows = max(1, int(insert.dxf.get("row_count", 1) or 1))
        cols = max(1, int(insert.dxf.get("column_count", 1) or 1))
        if not float(insert.dxf.get("row_spacing", 0.0) or 0.0):
            rows = 1
        if not float(insert.dxf.get("column_spacing", 0.0) or 0.0):
            cols = 1
    except ENTITY_ERRORS:
        return 1
    return rows * cols


def _placements(doc: Any, insert: Any, m: Matrix44 | None,
                ) -> Iterator[tuple[Any, Matrix44]]:
    """(block entities, block-to-world matrix) for each copy an insert places (every copy of
    a MINSERT array, one per place: an array spaced 0 is one copy); none for a broken block.
    Lazily, a copy at a time, so the walk's budget stops an array of billions."""
    try:
        block = doc.blocks.get(str(insert.dxf.name))
        if block is None:
            return
        own = insert.matrix44()
        rows = max(1, int(insert.dxf.get("row_count", 1) or 1))
        cols = max(1, int(insert.dxf.get("column_count", 1) or 1))
        row_step = float(insert.dxf.get("row_spacing", 0.0) or 0.0)
        col_step = float(insert.dxf.get("column_spacing", 0.0) or 0.0)
        rows, cols = (rows if row_step else 1), (cols if col_step else 1)
        rotation = float(insert.dxf.get("rotation", 0.0) or 0.0)
        ocs = insert.ocs()
    except ENTITY_ERRORS:
        return
    for row in range(rows):
        for col in range(cols):
            place = own
            if row or col:  # in the insert's own plane, turned with it
                step = ocs.to_wcs(Vec3(col * col_step, row * row_step).rotate_deg(rotation))
                place = Matrix44.chain(own, Matrix44.translate(step.x, step.y, step.z))
            yield block, place if m is None else Matrix44.chain(place, m)


def _children(insert: Any) -> Iterator[Any]:
    """The entities an insert places (every copy of a MINSERT array), lazily; none for a
    broken block."""
    try:
        if int(insert.mcount) > 1:
            for copy in insert.multi_insert():
                yield from copy.virtual_entities()
        else:
            yield from insert.virtual_entities()
    except ENTITY_ERRORS:
        return


ENTITY_ERRORS = (DXFError, ValueError, TypeError, AttributeError, ArithmeticError,
                  IndexError, KeyError, RecursionError, shapely.errors.ShapelyError)


def _to_world(e: Any, pts: list[tuple[float, float, float]], m: Matrix44 | None,
              ocs: bool = True) -> list[tuple[float, float]]:
    """Points of ``e`` (in its object coordinate system if ``ocs``) in world coordinates."""
    if ocs:
        o = e.ocs()
        if o.transform:
            pts = [tuple(v) for v in o.points_to_wcs(pts)]
    if m is not None:
        pts = [tuple(v) for v in m.transform_vertices(pts)]
    return _finite((p[0], p[1]) for p in pts)


def _read(e: Any, layer: str, into: LayerContent, part: bool, m: Matrix44 | None) -> None:
    kind = e.dxftype()
    try:
        if kind == "LINE":
            a, b = e.dxf.start, e.dxf.end
            pts = _to_world(e, [(a.x, a.y, a.z), (b.x, b.y, b.z)], m, ocs=False)
            if len(pts) == 2:
                _add_segment(into, pts[0], pts[1], part)
            into.line_entities += 1
        elif kind in ("LWPOLYLINE", "POLYLINE"):
            _read_polyline(e, kind, into, part, m)
        elif kind == "HATCH":
            _read_hatch(e, into, m)
        elif kind == "ARC":
            arc = swing_arc(e)
            if arc is not None:
                moved = arc if m is None else _moved_arc(arc, m)
                if moved is not None and _finite([moved.center]) and moved.radius < _MAX_COORD:
                    into.arcs.append(moved)
        elif kind in ("TEXT", "MTEXT", "ATTRIB"):
            _read_text(e, into, m)
        elif kind == "INSERT" and not part:  # a door's leaf block is part of the door
            ins = e.dxf.insert
            scale = abs(float(e.dxf.get("xscale", 1.0) or 1.0))
            at = _to_world(e, [(ins.x, ins.y, ins.z)], m, ocs=False)
            if m is not None:
                scale *= abs(m.transform_direction((1.0, 0.0, 0.0)).magnitude)
            if at and scale < _MAX_COORD:
                into.inserts.append((str(e.dxf.get("name", "")), at[0][0], at[0][1], scale))
    except (*ENTITY_ERRORS, UnplacedLabel):
        return  # an entity that cannot be read says nothing about its layer


def _moved_arc(arc: SwingArc, m: Matrix44) -> SwingArc | None:
    """An arc (world coordinates of its block) where a block insert puts it; a mirroring
    insert turns it round."""
    a, b = arc.end_points()
    c, p, q = m.transform_vertices([(*arc.center, 0.0), (*a, 0.0), (*b, 0.0)])
    radius = math.dist((c.x, c.y), (p.x, p.y))
    start = math.degrees(math.atan2(p.y - c.y, p.x - c.x))
    end = math.degrees(math.atan2(q.y - c.y, q.x - c.x))
    ux, uy = m.transform_direction((1.0, 0.0, 0.0)), m.transform_direction((0.0, 1.0, 0.0))
    if ux.x * uy.y - ux.y * uy.x < 0:
        start, end = end, start
    if not all(math.isfinite(v) for v in (c.x, c.y, radius, start, end)):
        return None
    return SwingArc((c.x, c.y), radius, start % 360.0, end % 360.0, arc.handle)


#: no coordinate of a floor plan lies this far from its origin (drawing units: 10,000 km in
#: millimetres); an entity beyond says nothing about its layer
_MAX_COORD = 1e10


def _finite(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    pts = [(float(x), float(y)) for x, y in points]
    return pts if all(abs(x) <= _MAX_COORD and abs(y) <= _MAX_COORD for x, y in pts) else []


def _add_segment(into: LayerContent, a: tuple[float, float], b: tuple[float, float],
                 part: bool) -> None:
    pts = _finite([a, b])
    if pts and pts[0] != pts[1] and into.first(("line", part, *_rounded(min(pts), max(pts)))):
        (into.part_segments if part else into.segments).append(LineString(pts))


def _read_polyline(e: Any, kind: str, into: LayerContent, part: bool, m: Matrix44 | None) -> None:
    if kind == "LWPOLYLINE":
        z = float(e.dxf.get("elevation", 0.0) or 0.0)
        pts = _to_world(e, [(p[0], p[1], z) for p in e.get_points("xy")], m)
        closed = bool(e.closed)
    else:
        if not (e.is_2d_polyline or e.is_3d_polyline):
            return
        pts = _to_world(e, [tuple(v.dxf.location) for v in e.vertices], m,
                        ocs=e.is_2d_polyline)
        closed = bool(e.is_closed)
    if len(pts) > 2 and pts[0] == pts[-1]:
        closed, pts = True, pts[:-1]
    if closed and len(pts) >= 3:
        _add_polygon(into, pts)
    elif len(pts) >= 2:
        into.open_polylines += 1
        for a, b in itertools.pairwise(pts):
            _add_segment(into, a, b, part)


def _rounded(*points: tuple[float, float]) -> tuple[float, ...]:
    return tuple(round(v, 6) for p in points for v in p)


def _add_polygon(into: LayerContent, pts: list[tuple[float, float]]) -> None:
    if not into.first(("outline", len(pts), *_rounded(min(pts), max(pts), pts[0]))):
        return
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = largest_polygon(shapely.make_valid(poly))
    if poly.area > 0:
        into.polygons.append(poly)


def largest_polygon(geom: Any) -> Polygon:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon)]
    return max(parts, key=lambda p: p.area) if parts else Polygon()


def _read_hatch(e: Any, into: LayerContent, m: Matrix44 | None) -> None:
    from ezdxf.path import from_hatch

    for path in from_hatch(e):  # in world coordinates of its layout
        pts = _to_world(e, [(v.x, v.y, v.z) for v in path.control_vertices()], m, ocs=False)
        if len(pts) > 2 and pts[0] == pts[-1]:
            pts = pts[:-1]
        if len(pts) >= 3:
            _add_polygon(into, pts)


_NAME_WORD = re.compile(r"[^\W\d_]{3,}")


def _reads_as_room_number(lines: list[str]) -> bool:
    """A line that is a room number ("A012", "Room 214"), or one that starts with a number
    followed by a name ("101A Main Office"); not an area ("54.3 m²") or a count ("30 p.")."""
    if any(room_number(line) for line in lines):
        return True
    number, name = split_label("\n".join(lines))
    return bool(number) and bool(_NAME_WORD.search(name))


def _read_text(e: Any, into: LayerContent, m: Matrix44 | None) -> None:
    label = label_of(e, "", 1.0)  # its box in world coordinates of its layout
    if label is None:
        return
    lines = label_lines(label.text)
    if not lines:
        return
    if sum(len(s) for s in lines) > _SHORT_TEXT or len(lines) > 4:
        into.long_texts += 1
        return
    c = label.box.centroid
    at = _to_world(e, [(c.x, c.y, 0.0)], m, ocs=False)
    if not at:
        return
    if into.first(("text", " / ".join(lines), *_rounded(at[0]))):
        into.texts.append(LayerText(" / ".join(lines), at[0], _reads_as_room_number(lines)))


# --- what each layer looks like ---------------------------------------------------------------


def _stats(name: str, c: LayerContent) -> LayerStats:
    blocks = Counter(n for n, *_ in c.inserts)
    return LayerStats(
        name=name, closed_outlines=len(c.polygons), texts=len(c.texts) + c.long_texts,
        number_texts=sum(t.is_number for t in c.texts), inserts=len(c.inserts),
        lines=c.line_entities + c.open_polylines, arcs=len(c.arcs),
        block_names=tuple(n for n, _ in blocks.most_common(5)))


def layer_stats(doc: Any, *, budget: WorkBudget | None = None) -> tuple[LayerStats, ...]:
    """What every layer of ``doc`` holds, block inserts expanded (every layer the drawing
    names, even an empty one)."""
    scan = scan_drawing(doc, budget or WorkBudget(PROPOSAL_LIMITS))
    return all_layer_stats(scan)


def all_layer_stats(scan: DrawingScan) -> tuple[LayerStats, ...]:
    return tuple(_stats(n, scan.layers.get(n) or LayerContent()) for n in scan.names)


# --- what a block is -------------------------------------------------------------------------


def block_kind(doc: Any, name: str, cache: dict[str, BlockKind]) -> BlockKind:
    """Whether block ``name`` is a door (a swing: an arc with a leaf line from its centre;
    or a door word in its name), a stair or a lift (by name); remembered in ``cache``."""
    found = cache.get(name)
    if found is not None:
        return found
    try:
        block = doc.blocks.get(name)
    except ENTITY_ERRORS:
        block = None
    arcs: list[SwingArc] = []
    lines: list[LineString] = []
    if block is not None:
        try:
            for e in flat_block(block):
                if e.dxftype() == "ARC":
                    arc = swing_arc(e)
                    if arc is not None:
                        arcs.append(arc)
                elif e.dxftype() == "LINE":
                    a, b = e.dxf.start, e.dxf.end
                    if (a.x, a.y) != (b.x, b.y):
                        lines.append(LineString([(a.x, a.y), (b.x, b.y)]))
                elif e.dxftype() == "LWPOLYLINE":  # a leaf drawn as a thin rectangle
                    lines.extend(polyline_edges([(p[0], p[1]) for p in e.get_points("xy")],
                                                bool(e.closed)))
        except ENTITY_ERRORS:
            pass
    swings = doors_from_swings(arcs, lines, min_radius_m=0.0, max_radius_m=math.inf)
    if len(swings) == 1 and len(arcs) <= 4:  # one door (a double door is one); more is a plan
        found = BlockKind(True, max(s.width_m for s in swings), "a door swing (arc and leaf)",
                          True)
    elif DOOR_BLOCK_RE.search(name):
        found = BlockKind(True, 0.0, "a door's name", True)
    else:
        found = BlockKind(part=bool(STAIR_BLOCK_RE.search(name) or
                                    LIFT_BLOCK_RE.search(name)))
    cache[name] = found
    return found


def polyline_edges(pts: list[tuple[float, float]], closed: bool) -> list[LineString]:
    ring = [*pts, pts[0]] if closed and pts else pts
    return [LineString([a, b]) for a, b in itertools.pairwise(ring) if a != b]


_DOOR_BLOCK_SIZE = 500  # entities: a door block is a few; one with more is something else


def flat_block(block: Iterable[Any]) -> Iterator[Any]:
    """A block's entities, nested inserts expanded two deep, at most a door block's worth."""
    def flat(entities: Iterable[Any], depth: int) -> Iterator[Any]:
        for e in entities:
            if e.dxftype() == "INSERT" and depth < 2:
                yield from flat(_children(e), depth + 1)
            else:
                yield e

    return itertools.islice(flat(block, 0), _DOOR_BLOCK_SIZE)
