"""Which layer of a drawing holds what: rooms, labels, doors, facade, walls, stairs, lifts.

Architects name layers in many ways (NCS ``A-AREA``, French ``LOCAUX``, German ``RAUM``, a
firm's ``Z-ROOMS-01`` or plain numbers), so the proposal reads what each layer *holds*, and
looks at names only to break a tie or when the content says nothing:

* **rooms**: closed outlines (polylines, hatch boundaries) that each hold one to eight short
  texts (a number and a name, an area...), those texts telling them apart, covering the most
  floor. A facade holds all the texts; desks hold none, or all the same "1", "2"; a sheet
  frame holds the whole drawing. With no label anywhere: the outlines tiling the most floor.
* **labels**: the layer whose texts, inside those rooms, read as distinct room numbers
  (:func:`importers.room_labels.split_label`); a title block or dimensions on the same layer
  do not matter, as they lie outside the rooms (or repeat, as dimensions do).
* **doors**: inserts of door-like blocks (a swing: an arc with a leaf from its centre, or a
  door word in the block's name), most of them on rooms' edges (a door legend is not);
  else loose door swings (:mod:`importers.door_swings`).
* **outline** (facade): the layer holding the rooms in the fewest, tightest closed outlines
  (one per building, or per level drawn side by side), off the rooms layer.
* **walls**: the most line length inside the building (stair treads and the lines of door,
  stair and lift blocks are not walls).
* **stairs**: rows of parallel treads, evenly spaced; **elevators**: a car outline crossed by
  its two diagonals. Blocks named for stairs and lifts are found by their names wherever they
  lie, so they do not decide a layer; a layer named for the role is the last resort.
* **unit**: ``$INSUNITS`` when the drawing has it; else the unit that makes the rooms and
  doors the size a school's are (a room of some tens of square metres, a door 0.9 m wide).

Block inserts are expanded (nested ones too, to a depth), every entity is charged to a
:class:`~importers.limits.WorkBudget`; a drawing that outruns it is judged on what was read.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import shapely
from ezdxf.lldxf.const import DXFError
from ezdxf.math import Matrix44, Vec3
from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon, box

from gridmap.errors import DxfError, GridmapError, ImportLimitExceeded
from importers.door_swings import SwingArc, doors_from_swings, swing_arc
from importers.limits import ImportLimits, WorkBudget
from importers.manifest import DrawingUnit, Layers
from importers.room_labels import (
    UnplacedLabel,
    label_lines,
    label_of,
    room_number,
    split_label,
)

ROLES = ("rooms", "labels", "doors", "outline", "walls", "stairs", "elevators")

#: what a proposal may spend on one drawing (it is read again by the import itself)
PROPOSAL_LIMITS = ImportLimits(time_limit_s=30.0, memory_limit_mb=1024.0,
                               entity_budget=1_500_000)
_NEST_DEPTH = 6
#: a room holds this many texts at most (number, name, area, occupancy, floor finish, ...)
_ROOM_TEXTS = 8
#: a label this long (characters) is a note, not a room's number or name
_SHORT_TEXT = 60

# names, only to break ties or when the content says nothing: NCS, English, French, German,
# Dutch, Spanish
_NAME_HINTS = {
    "rooms": r"AREA|ROOM|RAUM|R[AÄ]UME|LOCAU|LOCAL|RUIMTE|ESPACIO|SPACE|PIECE|SALLE|ZONE",
    "labels": r"IDEN|TEXT|TXT|NUM|NR|LABEL|TAG|NAME|NOM|BESCHR|ETIQ|ROTUL|BESCHRIFT",
    "doors": r"DOOR|T[UÜ]E?R|PORTE|PUERTA|DEUR|OPEN|\bDR\b",
    "outline": r"OTLN|OUTLINE|FA[CÇ]ADE|FASSADE|GEVEL|FACHADA|CONTOUR|SHELL|UMRISS|"
               r"PERIM|FOOTPRINT|GRUNDRISS",
    "walls": r"WALL|MUR|WAND|W[AÄ]E?NDE|MURO|MUREN|CONSTR",
    "stairs": r"STAIR|STRS|TREPP|ESCALIER|ESCALERA|TRAP",
    "elevators": r"EVTR|ELEV|LIFT|AUFZ|ASCENS",
}
_HINT_RE = {role: re.compile(pattern, re.I) for role, pattern in _NAME_HINTS.items()}
_DOOR_BLOCK_RE = re.compile(r"DOOR|T[UÜ]E?R(?!M)|PORTE|PUERTA|DEUR|\bDR\b", re.I)
_STAIR_BLOCK_RE = re.compile(_NAME_HINTS["stairs"], re.I)
_LIFT_BLOCK_RE = re.compile(_NAME_HINTS["elevators"], re.I)

# a school's rooms and doors, for judging a unitless drawing's unit
_TYPICAL_ROOM_M2 = 30.0
_TYPICAL_DOOR_M = 0.9
_UNIT_CANDIDATES = (DrawingUnit.METRE, DrawingUnit.CENTIMETRE, DrawingUnit.MILLIMETRE,
                    DrawingUnit.FOOT, DrawingUnit.INCH)
_UNIT_NAMES = {DrawingUnit.METRE: "metres", DrawingUnit.CENTIMETRE: "centimetres",
               DrawingUnit.MILLIMETRE: "millimetres", DrawingUnit.FOOT: "feet",
               DrawingUnit.INCH: "inches", DrawingUnit.DECIMETRE: "decimetres",
               DrawingUnit.YARD: "yards", DrawingUnit.US_SURVEY_FOOT: "US survey feet"}


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


@dataclass(frozen=True)
class LayerProposal:
    """The layers a drawing's content suggests for each role, its unit, and why."""

    rooms: str | None
    labels: str | None
    doors: str | None
    outline: str | None
    walls: str | None
    stairs: str | None
    elevators: str | None
    unit: DrawingUnit | None  # from $INSUNITS, else from room sizes
    unit_reason: str
    reasons: dict[str, str]  # role -> one sentence why
    layers: tuple[LayerStats, ...]

    def layers_config(self, base: Layers = Layers()) -> Layers:  # noqa: B008 (frozen model)
        """The manifest layers this proposes: ``base`` with every proposed role replaced."""
        changes = {role: getattr(self, role) for role in ROLES if getattr(self, role)}
        return base.model_copy(update=changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            **{role: getattr(self, role) for role in ROLES},
            "unit": None if self.unit is None else self.unit.value,
            "unit_reason": self.unit_reason,
            "reasons": dict(self.reasons),
            "layers": [{**asdict(s), "block_names": list(s.block_names)} for s in self.layers],
        }


# --- reading the drawing ----------------------------------------------------------------------


@dataclass
class _Text:
    text: str
    at: tuple[float, float]
    is_number: bool


@dataclass
class _Content:
    """What one layer holds, in drawing units."""

    polygons: list[Polygon] = field(default_factory=list)
    segments: list[LineString] = field(default_factory=list)
    #: lines inside door, stair or lift blocks: parts of those, not walls or loose treads
    part_segments: list[LineString] = field(default_factory=list)
    texts: list[_Text] = field(default_factory=list)
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
class _BlockKind:
    """What a block is: a door (with its leaf width in block units, and why), a stair or a
    lift (by name), or none of those."""

    door: bool = False
    width: float = 0.0
    why: str = ""
    part: bool = False  # a door, stair or lift: its lines are not walls


@dataclass
class _Scan:
    layers: dict[str, _Content]
    names: list[str]  # every layer name, as the drawing spells it
    kinds: dict[str, _BlockKind] = field(default_factory=dict)  # by block name
    treads: dict[str, tuple[int, set[int]]] = field(default_factory=dict)  # by layer
    budget: WorkBudget | None = None
    #: block placements read so far (name, layer, matrix): each is read once
    placed: set[tuple[Any, ...]] = field(default_factory=set)

    def tick(self) -> None:
        """Between two pieces of judging: stop at the budget's time or memory limit."""
        if self.budget is not None:
            self.budget.check("layer proposal")

    def treads_on(self, layer: str, unit_m: float | None) -> tuple[int, set[int]]:
        """:func:`_treads` of a layer's lines, worked out once."""
        if layer not in self.treads:
            self.treads[layer] = _treads(self.layers[layer].segments, unit_m)
        return self.treads[layer]
    partial: str = ""  # why the scan stopped early, if it did


def _scan(doc: Any, budget: WorkBudget) -> _Scan:
    layers: dict[str, _Content] = defaultdict(_Content)
    spelled: dict[str, str] = {}
    for layer in doc.layers:
        name = str(layer.dxf.name)
        spelled.setdefault(name.upper(), name)
    scan = _Scan({}, [], budget=budget)
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


def _walk(doc: Any, scan: _Scan, entities: Iterable[Any], budget: WorkBudget, depth: int,
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
        except _ENTITY_ERRORS:
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
        kind = _block_kind(doc, name, scan.kinds)
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
    except _ENTITY_ERRORS:
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
    except _ENTITY_ERRORS:
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
    except _ENTITY_ERRORS:
        return


_ENTITY_ERRORS = (DXFError, ValueError, TypeError, AttributeError, ArithmeticError,
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


def _read(e: Any, layer: str, into: _Content, part: bool, m: Matrix44 | None) -> None:
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
    except (*_ENTITY_ERRORS, UnplacedLabel):
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


def _add_segment(into: _Content, a: tuple[float, float], b: tuple[float, float],
                 part: bool) -> None:
    pts = _finite([a, b])
    if pts and pts[0] != pts[1] and into.first(("line", part, *_rounded(min(pts), max(pts)))):
        (into.part_segments if part else into.segments).append(LineString(pts))


def _read_polyline(e: Any, kind: str, into: _Content, part: bool, m: Matrix44 | None) -> None:
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


def _add_polygon(into: _Content, pts: list[tuple[float, float]]) -> None:
    if not into.first(("outline", len(pts), *_rounded(min(pts), max(pts), pts[0]))):
        return
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = _largest(shapely.make_valid(poly))
    if poly.area > 0:
        into.polygons.append(poly)


def _largest(geom: Any) -> Polygon:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon)]
    return max(parts, key=lambda p: p.area) if parts else Polygon()


def _read_hatch(e: Any, into: _Content, m: Matrix44 | None) -> None:
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


def _read_text(e: Any, into: _Content, m: Matrix44 | None) -> None:
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
        into.texts.append(_Text(" / ".join(lines), at[0], _reads_as_room_number(lines)))


# --- what each layer looks like ---------------------------------------------------------------


def _stats(name: str, c: _Content) -> LayerStats:
    blocks = Counter(n for n, *_ in c.inserts)
    return LayerStats(
        name=name, closed_outlines=len(c.polygons), texts=len(c.texts) + c.long_texts,
        number_texts=sum(t.is_number for t in c.texts), inserts=len(c.inserts),
        lines=c.line_entities + c.open_polylines, arcs=len(c.arcs),
        block_names=tuple(n for n, _ in blocks.most_common(5)))


def layer_stats(doc: Any, *, budget: WorkBudget | None = None) -> tuple[LayerStats, ...]:
    """What every layer of ``doc`` holds, block inserts expanded (every layer the drawing
    names, even an empty one)."""
    scan = _scan(doc, budget or WorkBudget(PROPOSAL_LIMITS))
    return _all_stats(scan)


def _all_stats(scan: _Scan) -> tuple[LayerStats, ...]:
    return tuple(_stats(n, scan.layers.get(n) or _Content()) for n in scan.names)


def _hint(role: str, layer: str) -> bool:
    return bool(_HINT_RE[role].search(layer))


@dataclass(frozen=True)
class _Choice:
    layer: str | None
    reason: str


_NONE = _Choice(None, "")


def _best(scores: dict[str, float], role: str) -> str | None:
    """The layer with the highest positive score; a name that fits the role breaks a tie."""
    ranked = sorted(((s, _hint(role, n), n) for n, s in scores.items() if s > 0), reverse=True)
    return ranked[0][2] if ranked else None


@dataclass
class _Rooms:
    layer: str | None = None
    label_layer: str | None = None
    polygons: list[Polygon] = field(default_factory=list)  # the ones holding texts
    reason: str = ""
    label_reason: str = ""


def _held(polys: list[Polygon], texts: list[_Text]) -> list[list[_Text]]:
    """The texts each polygon holds; a text inside nested outlines (a title box in the sheet
    frame) is held by the innermost only."""
    held: list[list[_Text]] = [[] for _ in polys]
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


def _without_tables(holding: list[tuple[Polygon, list[_Text]]],
                    ) -> list[tuple[Polygon, list[_Text]]]:
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


def _distinct_share(texts: list[_Text]) -> float:
    """How many of the room numbers among the texts differ: rooms have a number each, desks
    repeat "1", "2", ... (names may repeat, "Classroom": they are not judged)."""
    numbers = [t for t in texts if t.is_number]
    return len({t.text for t in numbers}) / len(numbers) if len(numbers) >= 3 else 1.0


def _distinct_numbers(texts: Iterable[_Text]) -> int:
    return len({t.text for t in texts if t.is_number})


def _propose_rooms(scan: _Scan) -> _Rooms:
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
    out = _Rooms(name, None, rooms)
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


def _unlabelled_rooms(scan: _Scan, everything: STRtree, total: int) -> _Rooms:
    """No outline holds a text, and no text anywhere reads as a room number (labels lying
    outside every outline mean the rooms are not outlines: walls only): the layer whose
    closed outlines (three or more, none round the whole sheet or inside another of its own)
    tile the most floor (furniture is scattered, not tiled)."""
    if any(t.is_number for c in scan.layers.values() for t in c.texts):
        return _Rooms()
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
        return _Rooms()
    _, name, polys = best
    out = _Rooms(name, None, polys)
    out.reason = (f"no text anywhere reads as a room number; its {len(polys)} closed outlines "
                  "tile the most floor (rooms without labels?)")
    return out


def _labels_without_rooms(scan: _Scan) -> _Choice:
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
        return _NONE
    return _Choice(layer, f"{counts[layer]} distinct room numbers on the plan, the most of "
                          "any layer")


def _outline(scan: _Scan, rooms_layer: str | None, points: list[tuple[float, float]],
             room_areas: list[float] | None) -> tuple[_Choice, Polygon | None]:
    """The facade: the layer (off the rooms layer) whose closed outlines hold most of
    ``points`` (room centres, or labels), in as few and as tight outlines as can be: one
    building's facade, or one per building or level drawn side by side; not a sheet frame
    (with ``room_areas`` known, an outline more than twice the rooms it holds is not
    tight), not zones splitting the floor (more outlines)."""
    if len(points) < 2:
        return _NONE, None
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
        return _NONE, None
    most = max(v[0] for v in found.values())
    name = min((n for n, v in found.items() if v[0] >= 0.9 * most),
               key=lambda n: (found[n][1], found[n][2], not _hint("outline", n), n))
    covered, count, _, polys = found[name]
    what = "the tightest closed outline" if count == 1 else f"{count} closed outlines"
    return (_Choice(name, f"{what} around {covered} of the {len(points)} rooms"),
            _largest(shapely.union_all(polys)) if count > 1 else polys[0])


def _block_kind(doc: Any, name: str, cache: dict[str, _BlockKind]) -> _BlockKind:
    """Whether block ``name`` is a door (a swing: an arc with a leaf line from its centre;
    or a door word in its name), a stair or a lift (by name); remembered in ``cache``."""
    found = cache.get(name)
    if found is not None:
        return found
    try:
        block = doc.blocks.get(name)
    except _ENTITY_ERRORS:
        block = None
    arcs: list[SwingArc] = []
    lines: list[LineString] = []
    if block is not None:
        try:
            for e in _flat_block(block):
                if e.dxftype() == "ARC":
                    arc = swing_arc(e)
                    if arc is not None:
                        arcs.append(arc)
                elif e.dxftype() == "LINE":
                    a, b = e.dxf.start, e.dxf.end
                    if (a.x, a.y) != (b.x, b.y):
                        lines.append(LineString([(a.x, a.y), (b.x, b.y)]))
                elif e.dxftype() == "LWPOLYLINE":  # a leaf drawn as a thin rectangle
                    lines.extend(_edges([(p[0], p[1]) for p in e.get_points("xy")],
                                        bool(e.closed)))
        except _ENTITY_ERRORS:
            pass
    swings = doors_from_swings(arcs, lines, min_radius_m=0.0, max_radius_m=math.inf)
    if len(swings) == 1 and len(arcs) <= 4:  # one door (a double door is one); more is a plan
        found = _BlockKind(True, max(s.width_m for s in swings), "a door swing (arc and leaf)",
                           True)
    elif _DOOR_BLOCK_RE.search(name):
        found = _BlockKind(True, 0.0, "a door's name", True)
    else:
        found = _BlockKind(part=bool(_STAIR_BLOCK_RE.search(name) or
                                     _LIFT_BLOCK_RE.search(name)))
    cache[name] = found
    return found


def _edges(pts: list[tuple[float, float]], closed: bool) -> list[LineString]:
    ring = [*pts, pts[0]] if closed and pts else pts
    return [LineString([a, b]) for a, b in itertools.pairwise(ring) if a != b]


def _polygon_edges(polys: list[Polygon]) -> list[LineString]:
    """The sides of small closed outlines: a door leaf drawn as a thin rectangle."""
    return [e for p in polys if len(p.exterior.coords) <= 6
            for e in _edges([(x, y) for x, y, *_ in p.exterior.coords][:-1], True)]


_DOOR_BLOCK_SIZE = 500  # entities: a door block is a few; one with more is something else


def _flat_block(block: Iterable[Any]) -> Iterator[Any]:
    """A block's entities, nested inserts expanded two deep, at most a door block's worth."""
    def flat(entities: Iterable[Any], depth: int) -> Iterator[Any]:
        for e in entities:
            if e.dxftype() == "INSERT" and depth < 2:
                yield from flat(_children(e), depth + 1)
            else:
                yield e

    return itertools.islice(flat(block, 0), _DOOR_BLOCK_SIZE)


def _propose_doors(doc: Any, scan: _Scan, unit_m: float | None,
                   edges: Any) -> tuple[_Choice, list[float]]:
    """Doors: the layer with the most door-like inserts; else the most door swings. Also the
    door widths seen (drawing units), for judging the unit."""
    def kind(name: str) -> _BlockKind:
        return _block_kind(doc, name, scan.kinds)

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
        return (_Choice(chosen, f"{len(names)} inserts of door blocks ({said}: {why}), "
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
        return (_Choice(swung, f"{int(swing_scores[swung])} door swings (an arc of door "
                               "width with its leaf line), no door blocks"),
                swing_widths[swung])
    return _NONE, []


@dataclass(frozen=True)
class _Edges:
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


def _walls(scan: _Scan, region: Polygon | None, exclude: set[str],
           unit_m: float | None) -> _Choice:
    """Walls: the layer with the most line length inside the building (stair treads and the
    lines of door, stair and lift blocks are not walls)."""
    if region is None or region.is_empty:
        return _NONE
    shapely.prepare(region)
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, c in scan.layers.items():
        if name in exclude or len(c.segments) < 4:
            continue
        scan.tick()
        treads = scan.treads_on(name, unit_m)[1]
        inside = [s for i, s in enumerate(c.segments)
                  if i not in treads and region.contains(s.centroid)]
        if len(inside) >= 4:
            scores[name] = sum(s.length for s in inside)
            counts[name] = len(inside)
    layer = _best(scores, "walls")
    if layer is None:
        return _NONE
    share = scores[layer] / max(sum(scores.values()), 1e-12)
    return _Choice(layer, f"{counts[layer]} lines inside the building, {share:.0%} of the "
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


def _lift_cars(c: _Content, unit_m: float | None) -> int:
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


def _by_name_only(scan: _Scan, role: str, taken: set[str]) -> _Choice:
    for name in scan.names:
        c = scan.layers.get(name)
        if c is None or name in taken or not _hint(role, name):
            continue
        if c.polygons or c.segments or c.inserts or c.texts or c.arcs:
            return _Choice(name, f"by its name only ({name!r}); nothing in the drawing "
                                 f"looks like {role} by itself")
    return _NONE


def _stairs_and_lifts(scan: _Scan, unit_m: float | None) -> tuple[_Choice, _Choice]:
    """Stairs: the longest run of loose treads; lifts: the most car outlines crossed by their
    diagonals. Blocks named for stairs and lifts are found by their names wherever they lie,
    so their insides do not decide a layer."""
    stair_scores: dict[str, float] = {}
    lift_scores: dict[str, float] = {}
    for name, c in scan.layers.items():
        scan.tick()
        treads = scan.treads_on(name, unit_m)[0]
        if treads:
            stair_scores[name] = treads
        cars = _lift_cars(c, unit_m)
        if cars:
            lift_scores[name] = cars
    stairs = _best(stair_scores, "stairs")
    lifts = _best(lift_scores, "elevators")
    s_choice, l_choice = _NONE, _NONE
    if stairs is not None:
        s_choice = _Choice(stairs, f"a run of {int(stair_scores[stairs])} evenly spaced "
                                   "parallel treads")
    if lifts is not None:
        l_choice = _Choice(lifts, f"{int(lift_scores[lifts])} lift car outline(s) crossed by "
                                  "both diagonals")
    return s_choice, l_choice


# --- the unit ---------------------------------------------------------------------------------


def _unit(doc: Any, declared: DrawingUnit | None, room_areas: list[float],
          door_widths: list[float]) -> tuple[DrawingUnit | None, str]:
    from importers.dxf import _INSUNITS_NAMES, INSUNITS

    try:
        code = int(doc.header.get("$INSUNITS", 0))
    except (TypeError, ValueError):
        code = 0
    guess, guess_why, fit = _unit_from_sizes(room_areas, door_widths)
    header = INSUNITS.get(code)
    if header is not None:
        why = f"the drawing says {_INSUNITS_NAMES[code]} ($INSUNITS = {code})"
        if guess is not None and guess is not header and fit < 1.0 and \
                _misfit(header, room_areas, door_widths) > 2.5:
            why += (f"; but its rooms and doors look like {_UNIT_NAMES[guess]} "
                    f"({guess_why}): check the drawing's units")
        return header, why
    said = (f"the header gives no usable unit ($INSUNITS = {code}, "
            f"{_INSUNITS_NAMES.get(code, 'unknown')})")
    if declared is not None:
        return declared, f"{said}; using the declared {_UNIT_NAMES[declared]}"
    if guess is None:
        return None, f"{said}, and there are no rooms or doors to judge the size by: declare it"
    return guess, f"{said}; read as {_UNIT_NAMES[guess]} because then {guess_why}"


def _misfit(unit: DrawingUnit, areas: list[float], widths: list[float]) -> float:
    """How far from a school's sizes the rooms and doors are in ``unit`` (0: typical; each 1
    is a factor of about 4 in room area or 1.6 in door width)."""
    terms = []
    k = unit.metres
    if areas:
        terms.append(abs(math.log(statistics.median(areas) * k * k / _TYPICAL_ROOM_M2))
                     / math.log(4.0))
    if widths:
        terms.append(abs(math.log(statistics.median(widths) * k / _TYPICAL_DOOR_M))
                     / math.log(1.6))
    return sum(terms) / len(terms) if terms else math.inf


def _unit_from_sizes(areas: list[float], widths: list[float],
                     ) -> tuple[DrawingUnit | None, str, float]:
    areas = [a for a in areas if a > 0]
    widths = [w for w in widths if w > 0]
    if not areas and not widths:
        return None, "", math.inf
    fits = sorted((_misfit(u, areas, widths), i, u) for i, u in enumerate(_UNIT_CANDIDATES))
    fit, _, unit = fits[0]
    k = unit.metres
    parts = []
    if areas:
        parts.append(f"its {len(areas)} rooms have a median area of "
                     f"{statistics.median(areas) * k * k:,.0f} m²")
    if widths:
        parts.append(f"its {len(widths)} doors a median width of "
                     f"{statistics.median(widths) * k:.2f} m")
    return unit, " and ".join(parts) + ", as a school's are", fit


# --- the proposal -----------------------------------------------------------------------------


def propose_layers(doc: Any, *, declared_unit: DrawingUnit | None = None,
                   budget: WorkBudget | None = None) -> LayerProposal:
    """The layers ``doc``'s content suggests for each role, its unit, and why.

    Within ``budget`` (default :data:`PROPOSAL_LIMITS`): a drawing larger than its entity
    budget is judged on what was read (``reasons["drawing"]`` says so); passing its time or
    memory limit raises :class:`~gridmap.errors.ImportLimitExceeded`; a drawing whose
    numbers defeat the judging is a :class:`~gridmap.errors.DxfError`, never a traceback.
    """
    scan = _scan(doc, budget or WorkBudget(PROPOSAL_LIMITS))
    try:
        return _propose(doc, scan, declared_unit)
    except GridmapError:
        raise
    except MemoryError as exc:
        raise ImportLimitExceeded("the drawing is too large to judge its layers in the "
                                  "memory an import may use") from exc
    except _ENTITY_ERRORS as exc:
        raise DxfError(f"the drawing's layers cannot be judged ({type(exc).__name__}: "
                       f"{str(exc)[:200]})") from exc


def _propose(doc: Any, scan: _Scan, declared_unit: DrawingUnit | None) -> LayerProposal:
    reasons: dict[str, str] = {}
    header_unit = _header_unit(doc)
    known = header_unit or declared_unit
    rooms = _propose_rooms(scan)
    if rooms.layer is not None and _too_small(rooms.polygons, known, doc, scan):
        rooms = _Rooms()  # desks, lockers: the doors say how large a room would be
    if rooms.layer is not None:
        reasons["rooms"] = rooms.reason
        labels = _Choice(rooms.label_layer, rooms.label_reason)
        points = [(p.representative_point().x, p.representative_point().y)
                  for p in rooms.polygons]
    else:
        labels = _labels_without_rooms(scan)
        points = [t.at for t in scan.layers[labels.layer].texts if t.is_number] \
            if labels.layer else []
    if labels.layer:
        reasons["labels"] = labels.reason
    outline, facade = _outline(scan, rooms.layer, points,
                               [p.area for p in rooms.polygons] if rooms.polygons else None)
    edges = None
    if rooms.polygons:
        diag = [math.dist(p.bounds[:2], p.bounds[2:]) for p in rooms.polygons]
        edges = _Edges([p.boundary for p in rooms.polygons],
                       0.15 * statistics.median(diag))
    elif facade is not None:
        edges = _Edges([facade.boundary], 0.02 * math.dist(facade.bounds[:2], facade.bounds[2:]))
    doors, widths = _propose_doors(doc, scan, None if known is None else known.metres, edges)
    room_areas = [p.area for p in rooms.polygons]
    unit, unit_reason = _unit(doc, declared_unit, room_areas, widths)
    if doors.layer is None and unit is not None and header_unit is None:
        doors, _ = _propose_doors(doc, scan, unit.metres, edges)
    region = _building_region(facade, rooms.polygons, points)
    exclude = {x for x in (labels.layer,) if x}
    walls = _walls(scan, region, exclude, None if unit is None else unit.metres)
    stairs, lifts = _stairs_and_lifts(scan, None if unit is None else unit.metres)
    choices = {"outline": outline, "doors": doors, "walls": walls, "stairs": stairs,
               "elevators": lifts}
    taken = {x for x in (rooms.layer, labels.layer, doors.layer, outline.layer,
                         walls.layer, stairs.layer, lifts.layer) if x}
    for role in ("doors", "outline", "walls", "stairs", "elevators"):
        if choices[role].layer is None:
            choices[role] = _by_name_only(scan, role, taken)
            if choices[role].layer:
                taken.add(str(choices[role].layer))
        if choices[role].layer:
            reasons[role] = choices[role].reason
    if scan.partial:
        reasons["drawing"] = f"judged on part of the drawing only: {scan.partial}"
    return LayerProposal(
        rooms=rooms.layer, labels=labels.layer, doors=choices["doors"].layer,
        outline=choices["outline"].layer, walls=choices["walls"].layer,
        stairs=choices["stairs"].layer, elevators=choices["elevators"].layer,
        unit=unit, unit_reason=unit_reason, reasons=reasons, layers=_all_stats(scan))


#: the median room of a floor is larger than this, square metres (a desk is 1, a closet 2)
_SMALLEST_MEDIAN_ROOM_M2 = 3.0


def _too_small(polys: list[Polygon], known: DrawingUnit | None, doc: Any,
               scan: _Scan) -> bool:
    """Whether outlines proposed as rooms are too small to be, at the drawing's unit (or,
    without one, the unit its doors' widths suggest)."""
    unit = known
    if unit is None:
        _, widths = _propose_doors(doc, scan, None, None)
        unit = _unit_from_sizes([], widths)[0]
    if unit is None or not polys:
        return False
    median = statistics.median(p.area for p in polys) * unit.metres ** 2
    return median < _SMALLEST_MEDIAN_ROOM_M2


def _header_unit(doc: Any) -> DrawingUnit | None:
    from importers.dxf import INSUNITS

    try:
        return INSUNITS.get(int(doc.header.get("$INSUNITS", 0)))
    except (TypeError, ValueError):
        return None


def _building_region(facade: Polygon | None, rooms: list[Polygon],
                     points: list[tuple[float, float]]) -> Polygon | None:
    """Where the building is: its facade, else its rooms' extent, else its labels' (grown by
    a quarter of its size, as labels sit in the middle of rooms)."""
    if facade is not None:
        return facade.buffer(0.02 * math.dist(facade.bounds[:2], facade.bounds[2:]))
    if rooms:
        hull = shapely.union_all(rooms).envelope
        return hull.buffer(0.02 * math.dist(hull.bounds[:2], hull.bounds[2:]))
    if len(points) >= 2:
        env = shapely.MultiPoint(points).envelope
        return env.buffer(0.25 * math.dist(env.bounds[:2], env.bounds[2:]))
    return None


def propose_from_file(path: Path, *, declared_unit: DrawingUnit | None = None) -> LayerProposal:
    """:func:`propose_layers` for a DXF file (opened as the import opens it)."""
    from importers.dxf_open import open_drawing

    return propose_layers(open_drawing(path), declared_unit=declared_unit)


def layer_hint(doc: Any, *, budget: WorkBudget | None = None) -> str:
    """One or two sentences for a "no rooms found" error: which layers look like rooms and
    labels (or walls, when nothing is a room outline), and why; "" when nothing does (or the
    drawing cannot be judged)."""
    try:
        p = propose_layers(doc, budget=budget)
    except (GridmapError, *_ENTITY_ERRORS):
        return ""
    if p.rooms is None:
        if p.walls is None:
            return ""
        said = (f"No layer holds closed room outlines; layer {p.walls!r} looks like walls: "
                f"{p.reasons['walls']}")
        config = f'walls = "{p.walls}"'
        if p.labels:
            said += f"; layer {p.labels!r} looks like room labels: {p.reasons['labels']}"
            config += f', labels = "{p.labels}"'
        return f"{said}. Try [layers] {config} to recover the rooms from the walls."
    said = f"Layer {p.rooms!r} looks like rooms: {p.reasons['rooms']}"
    config = f'rooms = "{p.rooms}"'
    if p.labels:
        said += f"; layer {p.labels!r} looks like room labels: {p.reasons['labels']}"
        config += f', labels = "{p.labels}"'
    return f"{said}. Try [layers] {config}."
