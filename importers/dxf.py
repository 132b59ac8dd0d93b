"""Read one DXF floor plan (one building level) into rooms, labels and doors.

What an architect's file holds, by US National CAD Standard layer (names configurable):

* ``A-AREA``: room outlines, closed (LW)POLYLINEs; bulges become arcs.
* ``A-AREA-IDEN``: room numbers and names, TEXT or MTEXT placed inside the room
  (``"214"`` + ``"Science Lab"``, or one MTEXT ``"214\\PScience Lab"``).
* ``A-DOOR``: door block INSERTs, one door each (blocks nested inside a door block are parts
  of it); exterior if the block name matches an exterior pattern (``*EXT*``) or the insert
  lies on the building footprint's boundary. Other block inserts are expanded, so rooms and
  doors inside them are read. So is a block on the door layer that is plainly not a door: one
  holding rooms, room labels or the outline, or door blocks (by the exterior and interior
  patterns, ``*EXT*``, ``*INT*``) at two or more places; a warning says so.
* ``A-FLOR-OTLN``: the footprint (optional; otherwise the union of the rooms).

Everything else (walls, title block, dimensions) is ignored. Geometry comes back in metres in
the drawing's own frame; :mod:`importers.georef` places it on the earth.

:func:`read_floor_plan` opens the file; :func:`extract_floor_plan` works on an open
``ezdxf`` drawing, so tests can build drawings in memory.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ezdxf.path
import shapely
from ezdxf import recover
from ezdxf.lldxf.const import DXFError
from ezdxf.math import Vec2, Vec3
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from gridmap.errors import DxfError, GridmapError, ImportLimitExceeded
from importers.limits import ImportLimits, WorkBudget
from importers.manifest import DrawingUnit, Layers
from importers.room_labels import (
    Assignment,
    Label,
    Leader,
    assign_labels,
    follow_leaders,
    has_attribs_on,
    label_of,
    leader_of,
    mleader_label,
    place_box,
    scale_labels,
    tag_label,
    too_large,
)

# $INSUNITS codes we accept
INSUNITS: dict[int, DrawingUnit] = {
    1: DrawingUnit.INCH,
    2: DrawingUnit.FOOT,
    4: DrawingUnit.MILLIMETRE,
    5: DrawingUnit.CENTIMETRE,
    6: DrawingUnit.METRE,
    10: DrawingUnit.YARD,
    14: DrawingUnit.DECIMETRE,
    21: DrawingUnit.US_SURVEY_FOOT,
}
_INSUNITS_NAMES = {
    0: "unitless", 1: "inches", 2: "feet", 3: "miles", 4: "millimetres", 5: "centimetres",
    6: "metres", 7: "kilometres", 8: "microinches", 9: "mils", 10: "yards", 11: "angstroms",
    12: "nanometres", 13: "microns", 14: "decimetres", 15: "decametres", 16: "hectometres",
    17: "gigametres", 18: "astronomical units", 19: "light years", 20: "parsecs",
    21: "US survey feet",
}

# room names as schools write them, in English, German and French
_CORRIDOR_RE = re.compile(r"\b(hall|hallway|corridor|vestibule|lobby|concourse|foyer|flur|"
                          r"korridor|gang|couloir|circulation)\b", re.I)
_STAIR_RE = re.compile(r"\b(stair(s|way|well)?|treppe(nhaus)?|escaliers?)\b", re.I)
_ELEVATOR_RE = re.compile(r"\b(lift|elevator|aufzug|ascenseur)\b", re.I)
_RESTROOM_RE = re.compile(r"\b(restroom|toilets?|washroom|bathroom|wc|toiletten?|toilettes|"
                          r"sanitaires?)\b", re.I)

_FLATTEN_M = 0.02  # max chord error when turning arcs into segments, metres
_NEST_DEPTH = 4
_SAME_POINT_M = 0.05  # door blocks closer than this in a block are at one place, metres
_TEXT_HEIGHT_M = 0.25  # a label's text height when its entity gives none, metres


@dataclass(frozen=True)
class Room:
    handle: str
    polygon: Polygon  # metres, drawing frame
    number: str = ""
    name: str = ""
    #: a label found outside every room outline: ``polygon`` is its text's box, not a room
    approximate: bool = False

    @property
    def category(self) -> str:
        return room_category(self.name)


@dataclass(frozen=True)
class Door:
    handle: str
    point: Point  # metres, drawing frame
    block: str
    exterior: bool


@dataclass
class FloorPlan:
    source: str
    unit_m: float
    rooms: list[Room]
    doors: list[Door]
    outline: Polygon | None
    warnings: list[str] = field(default_factory=list)
    #: labels outside every room outline that belong to no room: approximate places
    label_only: list[Room] = field(default_factory=list)

    @property
    def footprint(self) -> Polygon:
        """The outline if drawn, else the rooms' union with wall gaps closed."""
        return self.outline if self.outline is not None else rooms_footprint(self.rooms)


def room_category(name: str) -> str:
    if _STAIR_RE.search(name):
        return "stairs"
    if _CORRIDOR_RE.search(name):
        return "walkway"
    if _ELEVATOR_RE.search(name):
        return "elevator"
    if _RESTROOM_RE.search(name):
        return "restroom"
    return "room"


def rooms_footprint(rooms: list[Room], gap_m: float = 0.5) -> Polygon:
    if not rooms:
        return Polygon()
    merged = unary_union([r.polygon for r in rooms]).buffer(gap_m, join_style="mitre")
    return largest_polygon(merged.buffer(-gap_m, join_style="mitre"))


def largest_polygon(geom: BaseGeometry) -> Polygon:
    if isinstance(geom, Polygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    flat: list[Polygon] = []
    for g in polys:
        flat.extend(g.geoms if isinstance(g, MultiPolygon) else [g])
    return max(flat, key=lambda p: p.area) if flat else Polygon()


# --- opening the file -------------------------------------------------------------------------


def open_drawing(path: Path, warnings: list[str] | None = None) -> Any:
    """Open a DXF, repairing what ezdxf's recover mode can; the file is parsed once.

    A drawing that needed repair adds a warning that starts with the file name and
    ``RECOVERED`` and lists what the repair dropped or changed (the auditor's fixes). One
    with damage the repair cannot undo is refused, naming the first problems.
    """
    name = path.name
    if not path.is_file():
        raise DxfError(f"{name}: cannot read file (it does not exist)")
    try:
        doc, auditor = recover.readfile(str(path))
    except OSError as exc:
        raise DxfError(f"{name}: cannot read file ({exc.strerror or exc})") from exc
    except MemoryError as exc:
        raise ImportLimitExceeded(f"{name}: the file is too large to read into memory") from exc
    except Exception as exc:  # anything ezdxf cannot even recover is not a DXF for us
        detail = str(exc) or type(exc).__name__
        raise DxfError(f"{name}: not a readable DXF file ({detail})") from exc
    if auditor.has_errors:  # a number that is not one, a block inside itself, ...
        raise DxfError(
            f"{name}: DXF is damaged: "
            + "; ".join(str(e.message) for e in auditor.errors[:3])
            + (f" (and {len(auditor.errors) - 3} more)" if len(auditor.errors) > 3 else "")
            + "; refused rather than guessed at: fix the drawing in the CAD program and "
            "export it again"
        )
    lost = [str(f.message) for f in auditor.fixes]
    if not _ends_with_eof(path):
        lost.insert(0, "the file ends early (no EOF marker): whatever followed the last "
                       "complete section is lost")
    if lost and warnings is not None:
        warnings.append(recovered_warning(name, lost))
    return doc


_BINARY_DXF = b"AutoCAD Binary DXF"


def _ends_with_eof(path: Path) -> bool:
    """Whether a text DXF ends with its ``0 / EOF`` tag (a truncated one does not)."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(_BINARY_DXF)) == _BINARY_DXF:
                return True  # binary DXF: ezdxf's loader checks its structure itself
            fh.seek(max(0, path.stat().st_size - 64))
            tail = fh.read().rstrip(b"\r\n\t \x00\x1a")
    except OSError:
        return False
    return tail.upper().endswith(b"EOF")


_LOST_SHOWN = 10


def recovered_warning(name: str, fixes: list[str]) -> str:
    """The import report's line for a repaired drawing: "RECOVERED" and what was lost."""
    shown = "; ".join(fixes[:_LOST_SHOWN])
    more = f"; and {len(fixes) - _LOST_SHOWN} more" if len(fixes) > _LOST_SHOWN else ""
    return (f"{name}: RECOVERED: the DXF was damaged (truncated or corrupt) and has been "
            f"recovered; check the result. {len(fixes)} repair(s), what was dropped or "
            f"changed: {shown}{more}")


# what ezdxf and shapely raise on entities they cannot make sense of
_ENTITY_ERRORS = (DXFError, ValueError, TypeError, AttributeError, ArithmeticError,
                  IndexError, KeyError, RecursionError, shapely.errors.ShapelyError)


def read_floor_plan(
    path: Path, layers: Layers | None = None, declared_unit: DrawingUnit | None = None,
    *, exterior_distance_m: float = 0.6, budget: WorkBudget | None = None,
) -> FloorPlan:
    """Read one floor plan within ``budget`` (default: :class:`ImportLimits` defaults).

    Every failure is a :class:`DxfError` naming the file (and the entity where one is to
    blame); passing a limit raises :class:`ImportLimitExceeded` naming the limit.
    """
    budget = budget or WorkBudget(ImportLimits())
    budget.reset_entities()
    warnings: list[str] = []
    doc = open_drawing(path, warnings)
    budget.check(path.name)
    try:
        plan = extract_floor_plan(
            doc, path.name, layers or Layers(), declared_unit,
            exterior_distance_m=exterior_distance_m, budget=budget,
        )
    except DxfError as exc:
        if warnings:  # recovered: the real problem is most likely the damage
            raise type(exc)(f"{exc} (the file is damaged and could only partly be recovered)"
                            ) from exc
        raise
    except GridmapError:
        raise
    except MemoryError as exc:
        raise ImportLimitExceeded(f"{path.name}: ran out of memory reading the drawing") from exc
    except _ENTITY_ERRORS as exc:
        raise DxfError(f"{path.name}: the drawing cannot be read ({_why(exc)})") from exc
    plan.warnings[:0] = warnings
    return plan


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


# --- pure extraction --------------------------------------------------------------------------


def drawing_unit_m(doc: Any, source: str, declared: DrawingUnit | None) -> tuple[float, list[str]]:
    """Metres per drawing unit from ``$INSUNITS`` (or the manifest for unitless drawings)."""
    warnings: list[str] = []
    code = int(doc.header.get("$INSUNITS", 0))
    if code == 0:
        if declared is None:
            raise DxfError(
                f"{source}: drawing is unitless ($INSUNITS = 0); declare its units in the "
                "manifest (units = \"ft\", \"in\", \"m\", ...)"
            )
        return declared.metres, warnings
    unit = INSUNITS.get(code)
    if unit is None:
        name = _INSUNITS_NAMES.get(code, "unknown")
        accepted = ", ".join(_INSUNITS_NAMES[c] for c in sorted(INSUNITS))
        raise DxfError(
            f"{source}: unsupported drawing units $INSUNITS = {code} ({name}); floor plans must "
            f"be in one of: {accepted}"
        )
    if declared is not None and declared is not unit:
        warnings.append(
            f"{source}: manifest says units = {declared.value!r} but the drawing declares "
            f"{_INSUNITS_NAMES[code]} ($INSUNITS = {code}); using the drawing's units"
        )
    return unit.metres, warnings


@dataclass(frozen=True)
class _Reading:
    """What the walk over the drawing needs to know: the layers read (upper case), the door
    block name patterns, and how close two points are to be one (drawing units)."""

    want: dict[str, str]
    door_blocks: tuple[str, ...]
    same_point: float
    source: str = "drawing"
    #: the import's meter: every entity visited is charged, and time and memory are checked
    budget: WorkBudget = field(default_factory=WorkBudget)
    #: no coordinate may lie farther than this from the origin (drawing units)
    max_coord: float = math.inf
    #: entities one copy of a block expands into, by (block name, nesting depth)
    sizes: dict[tuple[str, int, str], int] = field(default_factory=dict)
    #: a label's text height when its entity gives none (drawing units)
    text_height: float = 1.0


class _Unreadable(Exception):
    """An entity whose numbers cannot be used; :func:`_collect` names it in a DxfError."""


def _self_insert(name: str, handle: str, chain: tuple[str, ...], source: str) -> DxfError:
    return DxfError(
        f"{source}: block {name!r} (insert {handle}) inserts itself (through "
        + " > ".join((*chain, name.upper())) + "); a block cannot contain itself"
    )


_READ_TYPES = frozenset({"LWPOLYLINE", "POLYLINE", "TEXT", "MTEXT", "INSERT"})


def _expansion(insert: Any, reading: _Reading, depth: int = 0, chain: tuple[str, ...] = (),
               layer: str | None = None) -> int:
    """How many entities the walk visits expanding ``insert`` (on effective ``layer``, at
    nesting ``depth``): nested inserts as far as the walk expands them, every copy of a
    MINSERT array. 0 when nothing in it would land on a layer we read (a furniture block), so
    the walk need not expand it at all. Reckoned from the block definitions without making a
    single entity, so a fan-out to billions costs no more than reading the blocks once. A
    block inside itself is an error.
    """
    name = str(insert.dxf.get("name", ""))
    if name.upper() in chain:
        raise _self_insert(name, str(insert.dxf.get("handle") or "in a block"), chain,
                           reading.source)
    layer = (layer or str(insert.dxf.get("layer", "0"))).upper()
    try:
        block = insert.block()
        copies = max(1, int(insert.mcount))
    except _ENTITY_ERRORS:
        return 0
    if block is None:
        return 0
    key = (name.upper(), depth, layer)
    per_copy = reading.sizes.get(key)
    if per_copy is None:
        ours = set(reading.want.values())
        inner = (*chain, name.upper())
        per_copy, relevant = 0, False
        for e in block:
            own = str(e.dxf.get("layer", "0")).upper()
            eff = layer if own == "0" else own
            kind = e.dxftype()
            per_copy += 1
            relevant = relevant or (eff in ours and kind in _READ_TYPES)
            if kind == "INSERT" and depth + 1 < _NEST_DEPTH:
                sub = _expansion(e, reading, depth + 1, inner, eff)
                per_copy += sub
                relevant = relevant or sub > 0
            if per_copy > reading.budget.limits.entity_budget:
                break  # enough to refuse; no need to count the rest
        per_copy = per_copy if relevant else 0
        reading.sizes[key] = per_copy
    return copies * per_copy


def _children(insert: Any, reading: _Reading, chain: tuple[str, ...] = ()) -> list[Any] | None:
    """The entities an INSERT places, every copy of a MINSERT array; None for a broken block,
    which is skipped. Their number was charged to the budget before the walk reached them
    (:func:`_expansion`); here time and memory are checked. ``chain`` is the blocks being
    expanded around it: a block inside itself is an error, not an endless walk."""
    name = str(insert.dxf.get("name", ""))
    handle = str(insert.dxf.get("handle") or "in a block")
    if name.upper() in chain:
        raise _self_insert(name, handle, chain, reading.source)
    reading.budget.check(f"{reading.source}: block {name!r} (insert {handle})")
    try:
        if int(insert.mcount) > 1:  # a MINSERT array: every copy, each placed as an INSERT
            return [e for copy in insert.multi_insert() for e in copy.virtual_entities()]
        return list(insert.virtual_entities())
    except _ENTITY_ERRORS:  # a broken block is skipped, not fatal
        return None


def _door_block_holds(insert: Any, reading: _Reading) -> str:
    """What a block inserted on the doors layer holds that shows it is not one door ("" if
    nothing does): rooms, room labels, the outline, or door blocks at two or more places.

    Parts of a door (a leaf, a swing, a frame as sub-blocks) are not door blocks by name, so a
    door built from them stays one door; so does a door-named block built from door blocks.
    """
    want = reading.want
    rooms = labels = outlines = 0
    doors: list[tuple[float, float]] = []

    def scan(entities: list[Any], parent_layer: str, depth: int, in_door: bool,
             chain: tuple[str, ...]) -> None:
        nonlocal rooms, labels, outlines
        for e in entities:
            layer = str(e.dxf.get("layer", "0"))
            lay = (parent_layer if layer == "0" else layer).upper()
            kind = e.dxftype()
            if kind in ("LWPOLYLINE", "POLYLINE") and lay == want["rooms"]:
                rooms += 1
            elif kind in ("LWPOLYLINE", "POLYLINE") and lay == want["outline"]:
                outlines += 1
            elif kind in ("TEXT", "MTEXT") and lay == want["labels"]:
                labels += 1
            elif kind == "INSERT":
                is_door = lay == want["doors"] and _matches_any(str(e.dxf.name),
                                                                reading.door_blocks)
                if is_door and not in_door:
                    doors.append((float(e.dxf.insert.x), float(e.dxf.insert.y)))
                inner = (*chain, str(e.dxf.name).upper())
                children = _children(e, reading, chain) if depth < _NEST_DEPTH else None
                if children:
                    scan(children, lay, depth + 1, in_door or is_door, inner)

    children = _children(insert, reading)
    if not children:
        return ""
    scan(children, want["doors"], 1, False, (str(insert.dxf.name).upper(),))
    # a block named as a door is one opening even when drawn from door blocks (a double
    # door from two leaves gets one painted number); other blocks holding doors at several
    # places are groups
    own_name_is_door = _matches_any(str(insert.dxf.name), reading.door_blocks)
    x0, y0 = doors[0] if doors else (0.0, 0.0)
    apart = not own_name_is_door and any(
        math.hypot(x - x0, y - y0) > reading.same_point for x, y in doors[1:])
    if not (rooms or labels or outlines or apart):
        return ""
    parts = [_count(rooms, "room outline"), _count(labels, "room label"),
             _count(outlines, "floor outline"), _count(len(doors), "door block")]
    said = [p for p in parts if p]
    return ", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0]


def _count(n: int, what: str) -> str:
    return "" if n == 0 else f"{n} {what}" + ("" if n == 1 else "s")


def _walk(entities: Any, reading: _Reading, depth: int = 0, parent_layer: str | None = None,
          parent_handle: str = "", chain: tuple[str, ...] = (),
          ) -> Iterator[tuple[Any, str, str, str]]:
    """Yield (entity, effective layer, handle, holds), expanding nested block inserts.

    Entities in a block on layer "0" take the insert's layer, as CAD programs draw them. An
    insert on the doors layer is one door, however its block is built (a leaf, a swing, a
    frame as sub-blocks), so it is not expanded, unless its block plainly is not a door:
    then ``holds`` says what it holds (see :func:`_door_block_holds`) and it is expanded like
    any other insert (a wing inserted as a block, a group of doors). ``holds`` is "" for every
    other entity. Every entity is charged to the reading's budget (``chain``: the blocks
    being expanded, to refuse a block inside itself).
    """
    doors_layer = reading.want["doors"]
    for i, e in enumerate(entities):
        if not e.dxf.is_supported("layer"):
            continue  # not a drawn entity (a table or block record out of place): no layer
        layer = str(e.dxf.get("layer", "0"))
        if parent_layer is not None and layer == "0":
            layer = parent_layer
        is_insert = e.dxftype() == "INSERT"
        expands = _expansion(e, reading, depth, chain, layer) if is_insert else 0
        if depth == 0:  # an insert is charged with everything it expands into, up front
            reading.budget.charge(1 + expands, _where(e, i, expands, reading.source))
        handle = str(e.dxf.get("handle") or f"{parent_handle}.{i}")
        if not expands or depth >= _NEST_DEPTH:  # nothing in it lands on a layer we read
            yield e, layer, handle, ""
            continue
        holds = _door_block_holds(e, reading) if layer.upper() == doors_layer else ""
        yield e, layer, handle, holds
        if layer.upper() != doors_layer or holds:
            children = _children(e, reading, chain)
            if children is not None:
                inner = (*chain, str(e.dxf.name).upper())
                yield from _walk(children, reading, depth + 1, layer, handle, inner)


def _where(e: Any, i: int, expands: int, source: str) -> str:
    """Names a modelspace entity for a budget message; an insert with what it expands to."""
    if not expands:
        return f"{source}: modelspace entity {i}"
    copies = max(1, int(e.mcount))
    return (f"{source}: block {str(e.dxf.get('name', ''))!r} (insert "
            f"{e.dxf.get('handle') or i}, {copies:,} copies of {expands // copies:,} entities)")


def _layer_names(doc: Any, used: set[str]) -> list[str]:
    names = {str(layer.dxf.name) for layer in doc.layers} | used
    return sorted(names, key=str.upper)


def _polyline_polygon(e: Any, flatten: float, reading: _Reading,
                      ) -> tuple[Polygon | None, bool]:
    """(polygon, was_closed) for an LWPOLYLINE/POLYLINE; None if it cannot be a room.

    Raises :class:`_Unreadable` for a vertex or bulge that is not a finite number, a vertex
    beyond the reading's coordinate bound, or bulge arcs that would flatten into more points
    than an outline may have.
    """
    kind = e.dxftype()
    if kind == "POLYLINE" and not (e.is_2d_polyline or e.is_3d_polyline):
        return None, False  # meshes and polyface meshes are not room outlines
    closed = bool(e.closed) if kind == "LWPOLYLINE" else bool(e.is_closed)
    _check_polyline_numbers(e, kind, closed, flatten, reading)
    p = ezdxf.path.make_path(e)
    pts = [(v.x, v.y) for v in p.flattening(flatten)]
    _check_points(pts, reading)
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
    if kind == "LWPOLYLINE":
        return [(float(x), float(y), float(b)) for x, y, b in e.get_points("xyb")]
    return [(float(v.dxf.location.x), float(v.dxf.location.y), float(v.dxf.get("bulge", 0)))
            for v in e.vertices]


def _check_polyline_numbers(e: Any, kind: str, closed: bool, flatten: float,
                            reading: _Reading) -> None:
    """Refuse vertices and bulges that are not finite or absurdly far, and bulge arcs that
    would flatten into more points than an outline may have, before flattening."""
    verts = _polyline_vertices(e, kind)
    _check_points([(x, y) for x, y, _ in verts], reading)
    limit = reading.budget.limits.max_outline_points
    points = len(verts)
    for i, (x, y, bulge) in enumerate(verts):
        if not math.isfinite(bulge):
            raise _Unreadable(f"vertex {i} has bulge {bulge}, which is not a number")
        if bulge == 0 or (i == len(verts) - 1 and not closed):
            continue
        if abs(bulge) > _MAX_BULGE:
            raise _Unreadable(
                f"vertex {i} has bulge {bulge:g}: an arc of nearly a full circle on a "
                f"short chord (|bulge| limit {_MAX_BULGE:g}); an absurd arc is refused")
        nx, ny, _ = verts[(i + 1) % len(verts)]
        points += _arc_points(math.hypot(nx - x, ny - y), bulge, flatten)
        if points > limit:
            raise _Unreadable(
                f"its bulge arcs would flatten into more than {limit:,} points (outline point "
                "limit); an arc this large is refused")


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


def _check_points(pts: list[tuple[float, float]], reading: _Reading) -> None:
    for x, y in pts:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise _Unreadable(f"a vertex at ({x}, {y}) is not a number")
        if abs(x) > reading.max_coord or abs(y) > reading.max_coord:
            raise _Unreadable(
                f"a vertex at ({x:g}, {y:g}) lies more than {reading.max_coord:g} drawing "
                "units from the origin (coordinate limit)")


def _check_numbers(e: Any, reading: _Reading) -> None:
    """Every number the entity carries is finite (and its points within the bound)."""
    for key, value in e.dxf.all_existing_dxf_attribs().items():
        if isinstance(value, float) and not math.isfinite(value):
            raise _Unreadable(f"its {key} is {value}, not a number")
        if isinstance(value, Vec3 | Vec2):
            if not all(math.isfinite(c) for c in value):
                raise _Unreadable(f"its {key} {tuple(value)} is not a number")
            if key in ("insert", "align_point") and (
                    abs(value.x) > reading.max_coord or abs(value.y) > reading.max_coord):
                raise _Unreadable(
                    f"its {key} ({value.x:g}, {value.y:g}) lies more than "
                    f"{reading.max_coord:g} drawing units from the origin (coordinate limit)")


def _matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name.upper(), p.upper()) for p in patterns)


_Insert = tuple[str, str, tuple[float, float]]  # handle, block name, insertion point


@dataclass
class _Entities:
    """What the drawing holds on the layers we read, still in drawing units."""

    polys: list[tuple[str, Polygon]] = field(default_factory=list)
    outlines: list[Polygon] = field(default_factory=list)
    texts: list[Label] = field(default_factory=list)
    leaders: list[Leader] = field(default_factory=list)
    inserts: list[_Insert] = field(default_factory=list)
    used_layers: set[str] = field(default_factory=set)


def _collect(doc: Any, source: str, reading: _Reading, flatten: float,
             warnings: list[str]) -> _Entities:
    """Sort the drawing's entities (blocks expanded) into room outlines, labels and doors.

    An entity on a layer we read whose numbers are not finite (or lie absurdly far away), or
    that ezdxf cannot interpret, is a :class:`DxfError` naming its handle and layer.
    """
    found = _Entities()
    want = reading.want
    for e, layer, handle, holds in _walk(doc.modelspace(), reading):
        found.used_layers.add(layer)
        lay = layer.upper()
        kind = e.dxftype()
        if lay not in want.values() and not (
                kind == "INSERT" and has_attribs_on(e, want["labels"])):
            continue
        try:
            _check_numbers(e, reading)
            _collect_one(e, kind, layer, handle, holds, found, source, reading, flatten,
                         warnings)
        except GridmapError:
            raise
        except _Unreadable as exc:
            raise DxfError(f"{source}: {kind} {handle} on layer {layer!r}: {exc}") from None
        except _ENTITY_ERRORS as exc:
            raise DxfError(
                f"{source}: {kind} {handle} on layer {layer!r} cannot be read ({_why(exc)})"
            ) from exc
    return found


def _collect_one(e: Any, kind: str, layer: str, handle: str, holds: str, found: _Entities,
                 source: str, reading: _Reading, flatten: float, warnings: list[str]) -> None:
    want = reading.want
    lay = layer.upper()
    if lay in (want["rooms"], want["outline"]) and kind in ("LWPOLYLINE", "POLYLINE"):
        poly, closed = _polyline_polygon(e, flatten, reading)
        if lay == want["outline"]:
            if poly is not None:
                found.outlines.append(poly)
        elif poly is None:
            why = "is open" if not closed else "has fewer than 3 vertices"
            warnings.append(
                f"{source}: polyline {handle} on layer {layer!r} {why}; not a room outline"
            )
        else:
            found.polys.append((handle, poly))
    elif lay == want["labels"] and kind in ("TEXT", "MTEXT", "INSERT", "MULTILEADER"):
        # an INSERT on the label layer is a room tag block: its attributes are the label
        label = (tag_label(e, handle, reading.text_height) if kind == "INSERT"
                 else mleader_label(e, handle, reading.text_height) if kind == "MULTILEADER"
                 else label_of(e, handle, reading.text_height))
        if label is not None:
            found.texts.append(label)
    elif kind == "INSERT" and lay != want["doors"] and has_attribs_on(e, want["labels"]):
        # a room tag inserted on another layer, its attributes on the label layer
        label = tag_label(e, handle, reading.text_height, want["labels"])
        if label is not None:
            found.texts.append(label)
    elif lay == want["labels"] and kind == "LEADER":
        leader = leader_of(e)
        if leader is not None:
            found.leaders.append(leader)
    elif lay == want["doors"] and kind == "INSERT" and holds:
        warnings.append(
            f"{source}: block {str(e.dxf.name)!r} ({handle}) on door layer {layer!r} holds "
            f"{holds}; read as a group, not as one door"
        )
    elif lay == want["doors"] and kind == "INSERT":
        ins = e.dxf.insert
        found.inserts.append((handle, str(e.dxf.name), (float(ins.x), float(ins.y))))


def _require_rooms(doc: Any, found: _Entities, source: str, layers: Layers) -> None:
    present = _layer_names(doc, found.used_layers)
    if layers.rooms.upper() not in {n.upper() for n in present}:
        raise DxfError(
            f"layer {layers.rooms!r} not found in {source}; layers present: " + ", ".join(present)
        )
    if not found.polys:
        raise DxfError(
            f"{source}: layer {layers.rooms!r} holds no closed polylines, so no rooms can be read"
        )


def _room_outlines(polys: list[tuple[str, Polygon]], unit_m: float, source: str,
                   layers: Layers, warnings: list[str]) -> list[tuple[str, Polygon]]:
    """Room outlines in metres; self-crossing ones repaired, specks dropped."""
    out: list[tuple[str, Polygon]] = []
    for handle, poly in polys:
        scaled = affinity.scale(poly, unit_m, unit_m, origin=(0, 0))
        if not scaled.is_valid:
            warnings.append(
                f"{source}: room outline {handle} on layer {layers.rooms!r} crosses itself; "
                "repaired"
            )
            scaled = largest_polygon(shapely.make_valid(scaled))
        if scaled.is_empty or scaled.area < 0.1:
            warnings.append(f"{source}: room outline {handle} is smaller than 0.1 m²; skipped")
            continue
        out.append((handle, scaled))
    return out


def _labels_by_room(texts: list[Label], outlines: list[tuple[str, Polygon]],
                    outline: Polygon | None, unit_m: float, source: str, layers: Layers,
                    warnings: list[str]) -> Assignment:
    """Each label (in metres) under its room, or kept as a label-only place; see
    :func:`importers.room_labels.assign_labels`. Every label outside the rooms is reported."""
    on = f"on layer {layers.labels!r}"
    usable = []
    for label in scale_labels(texts, unit_m):
        why = too_large(label)
        if why:
            warnings.append(f"{source}: label {label.short[:60]!r} ({label.handle}) {on} is "
                            f"not a room label: {why}; ignored")
        else:
            usable.append(label)
    found = assign_labels(usable, outlines, outline,
                          lambda name: room_category(name) in ("walkway", "stairs"))
    for label, room, how in found.nearby:
        warnings.append(
            f"{source}: label {label.short!r} ({label.handle}) {on} is not inside the room it "
            f"names; given to room {room} ({how})"
        )
    for place in found.label_only:
        said = ", ".join(f"{lb.short!r} ({lb.handle})" for lb in place)
        warnings.append(
            f"{source}: label {said} {on} is outside every room outline and belongs to no "
            "room; kept as an approximate location (label only, no outline)"
        )
    for label, distance in found.far:
        warnings.append(
            f"{source}: label {label.short!r} ({label.handle}) {on} is outside every room "
            f"and {distance:.0f} m from the nearest, in no floor outline: taken for a note "
            "outside the building, not a room; ignored"
        )
    return found


def _read_labels(labels: list[Label]) -> tuple[str, str]:
    """The number and name a room's labels give, read as a person would: top to bottom, left
    to right; the first number is the room's, any other joins the name."""
    number, names = "", []
    for label in sorted(labels, key=lambda lb: (-lb.box.centroid.y, lb.box.centroid.x)):
        n, name = label.reading
        if n and not number:
            number = n
        elif n:
            names.append(n)
        if name:
            names.append(name)
    return number, " ".join(names)


def _labelled_room(handle: str, poly: Polygon, labels: list[Label],
                   source: str, warnings: list[str]) -> Room:
    """A room with the number and name its labels give."""
    number, name = _read_labels(labels)
    if not number and not name:
        warnings.append(f"{source}: room {handle} has no label (no number, no name)")
    elif not number and room_category(name) == "room":
        warnings.append(f"{source}: room {handle} ({name!r}) has no number")
    return Room(handle, poly, number, name)


def _label_only(places: list[list[Label]]) -> list[Room]:
    """Label-only places as rooms flagged approximate, outlined by their text's box."""
    out = []
    for place in places:
        number, name = _read_labels(place)
        handle = "+".join(lb.handle for lb in place)
        out.append(Room(handle, place_box(place), number, name, approximate=True))
    return out


def _missing_layer_warnings(doc: Any, found: _Entities, source: str,
                            layers: Layers) -> list[str]:
    """Warnings for a label or door layer that is absent or holds nothing we read."""
    present = {n.upper() for n in _layer_names(doc, found.used_layers)}
    out = []
    doors_gone = "no doors were read; nearest-door answers will be empty for this level"
    if layers.doors.upper() not in present:
        out.append(f"no door layer {layers.doors!r} in {source}: {doors_gone}")
    elif not found.inserts:
        out.append(f"door layer {layers.doors!r} in {source} holds no door blocks: {doors_gone}")
    labels_gone = ("no room numbers or names were read; its rooms can be found only by "
                   "location")
    if layers.labels.upper() not in present:
        out.append(f"no label layer {layers.labels!r} in {source}: {labels_gone}")
    elif not found.texts:
        out.append(f"label layer {layers.labels!r} in {source} holds no text: {labels_gone}")
    return out


def _outline(outlines: list[Polygon], unit_m: float) -> Polygon | None:
    if not outlines:
        return None
    merged = unary_union(
        [affinity.scale(o, unit_m, unit_m, origin=(0, 0)).buffer(0) for o in outlines]
    )
    return largest_polygon(merged)


def _doors(inserts: list[_Insert], footprint: Polygon, unit_m: float, layers: Layers,
           exterior_distance_m: float) -> list[Door]:
    """Doors in metres; exterior by block name or by lying on the footprint's boundary."""
    boundary = footprint.exterior
    doors: list[Door] = []
    for handle, block, (x, y) in inserts:
        pt = Point(x * unit_m, y * unit_m)
        exterior = _matches_any(block, layers.exterior_door_blocks) or (
            boundary.distance(pt) <= exterior_distance_m
        )
        doors.append(Door(handle, pt, block, exterior))
    return doors


def extract_floor_plan(
    doc: Any,
    source: str,
    layers: Layers | None = None,
    declared_unit: DrawingUnit | None = None,
    *,
    exterior_distance_m: float = 0.6,
    budget: WorkBudget | None = None,
) -> FloorPlan:
    """Rooms, labels, doors and outline of an open ezdxf drawing, in metres."""
    layers = layers or Layers()
    unit_m, warnings = drawing_unit_m(doc, source, declared_unit)
    want = {k: v.upper() for k, v in layers.model_dump().items() if isinstance(v, str)}
    budget = budget or WorkBudget()
    reading = _Reading(want, layers.exterior_door_blocks + layers.interior_door_blocks,
                       _SAME_POINT_M / unit_m, source, budget,
                       budget.limits.max_coordinate_m / unit_m,
                       text_height=_TEXT_HEIGHT_M / unit_m)
    found = _collect(doc, source, reading, _FLATTEN_M / unit_m, warnings)
    _require_rooms(doc, found, source, layers)
    outlines = _room_outlines(found.polys, unit_m, source, layers, warnings)
    warnings.extend(_missing_layer_warnings(doc, found, source, layers))
    outline = _outline(found.outlines, unit_m)
    texts = follow_leaders(found.texts, found.leaders)
    labels = _labels_by_room(texts, outlines, outline, unit_m, source, layers, warnings)
    # with no labels at all, the layer warning says it once instead of once per room
    unlabelled = warnings if found.texts else []
    rooms = [_labelled_room(h, poly, labels.by_room[h], source, unlabelled)
             for h, poly in outlines]
    footprint = outline if outline is not None else rooms_footprint(rooms)
    doors = _doors(found.inserts, footprint, unit_m, layers, exterior_distance_m)
    return FloorPlan(source, unit_m, rooms, doors, outline, warnings,
                     _label_only(labels.label_only))
