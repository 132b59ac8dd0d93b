"""Read one DXF floor plan (one building level) into rooms, labels and doors.

What an architect's file holds, by US National CAD Standard layer (names configurable):

* ``A-AREA``: room outlines, closed (LW)POLYLINEs (bulges become arcs) or HATCH boundaries
  (lines, arcs, splines; an island is a hole). A room drawn as a block counts wherever it is
  inserted (nested, scaled, mirrored, rotated, every copy of a MINSERT array), its
  attributes (``ROOMNO`` = ``"214"``) its label.
* ``A-AREA-IDEN``: room numbers and names, TEXT or MTEXT placed inside the room
  (``"214"`` + ``"Science Lab"``, or one MTEXT ``"214\\PScience Lab"``), room tag blocks'
  attributes, leaders.
* ``A-DOOR``: door block INSERTs, one door each (blocks nested inside a door block are parts
  of it); exterior if the block name matches an exterior pattern (``*EXT*``) or the insert
  lies on the building footprint's boundary. Other block inserts are expanded, so rooms and
  doors inside them are read. So is a block on the door layer that is plainly not a door: one
  holding rooms, room labels or the outline, or door blocks (by the exterior and interior
  patterns, ``*EXT*``, ``*INT*``) at two or more places; a warning says so. Without door
  blocks, door swings (an ARC and its leaf LINE) are the doors (:mod:`importers.door_swings`).
* ``A-FLOR-OTLN``: the footprint (optional; otherwise the union of the rooms); a room lying
  outside it is reported.
* ``A-FLOR-STRS`` / ``A-FLOR-EVTR``, and blocks named ``*STAIR*``, ``*TREPPE*``, ``*ELEV*``,
  ``*LIFT*``, ``*AUFZUG*``...: stairs and lifts, rooms of category stairs / elevator
  (:mod:`importers.dxf_vertical`).
* ``A-WALL``: read only when no room outline is drawn: the rooms are then recovered from the
  wall lines (:mod:`importers.wall_rooms`), unless another layer plainly holds the rooms.

Model space only: paper space (layouts, R12's group 67) is a sheet, not the floor. Everything
else (title block, dimensions, furniture) is ignored. Geometry comes back in metres in the
drawing's own frame; :mod:`importers.georef` places it on the earth. Every problem is a
:class:`~importers.findings.Finding` in ``FloorPlan.findings`` (its warnings are their
messages); opening the file (DWG, headerless, code pages, damage) is
:mod:`importers.dxf_open`, the block walk :mod:`importers.dxf_walk`.

:func:`read_floor_plan` opens the file; :func:`extract_floor_plan` works on an open
``ezdxf`` drawing, so tests can build drawings in memory.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from ezdxf import recover  # noqa: F401  (importers.dxf.recover: the reader tests watch it)
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from gridmap.errors import DxfError, GridmapError, ImportLimitExceeded
from importers.door_swings import SwingArc, doors_from_swings, swing_arc
from importers.dxf_geometry import (
    check_numbers,
    entity_points,
    hatch_polygons,
    polyline_polygon,
    segments,
)
from importers.dxf_open import SLIMMED, open_drawing, read_drawing, recovered_warning
from importers.dxf_report import PlanReport, report_rooms_outside, warnings_of
from importers.dxf_tags import NotFast, read_fast
from importers.dxf_vertical import (
    ELEVATOR,
    STAIRS,
    Vertical,
    block_kind,
    distinct,
    envelope,
    from_lines,
    stairwell,
)
from importers.dxf_walk import (
    ENTITY_ERRORS,
    NEST_DEPTH,
    Reading,
    Unreadable,
    insert_entities,
    matches_any,
    walk,
    why,
)
from importers.findings import Finding, FindingKind, Severity
from importers.layer_proposal import layer_hint, propose_layers
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
    room_tag_attribs,
    scale_labels,
    tag_label,
    too_large,
)
from importers.wall_rooms import rooms_from_walls

if TYPE_CHECKING:
    from importers.geodata import GeodataPlacement

__all__ = [
    "INSUNITS", "Door", "FloorPlan", "Room", "drawing_unit_m", "extract_floor_plan",
    "largest_polygon", "open_drawing", "read_drawing", "read_floor_plan", "recovered_warning",
    "room_category", "rooms_footprint",
]

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

# room names as schools write them, in English, German, French, Spanish, Dutch and Italian
_CORRIDOR_RE = re.compile(r"\b(hall|hallway|corridor|vestibule|lobby|concourse|foyer|flur|"
                          r"korridor|gang|couloir|circulation|pasillo|corredor|vest[ií]bulo|"
                          r"hal|corridoio)\b", re.I)
_STAIR_RE = re.compile(r"\b(stair(s|way|well)?|treppe(nhaus)?|escaliers?|escaleras?|"
                       r"trappenhuis|scala)\b", re.I)
_ELEVATOR_RE = re.compile(r"\b(lift|elevator|aufzug|ascenseur|ascensor|ascensore)\b", re.I)
_RESTROOM_RE = re.compile(r"\b(restroom|toilets?|washroom|bathroom|wc|toiletten?|toilettes|"
                          r"sanitaires?|aseos?|servicios|ba[nñ]os?|bagni)\b", re.I)

_FLATTEN_M = 0.02  # max chord error when turning arcs into segments, metres
_SAME_POINT_M = 0.05  # door blocks closer than this in a block are at one place, metres
_TEXT_HEIGHT_M = 0.25  # a label's text height when its entity gives none, metres
SWING_BLOCK = "(door swing)"  # the block name of a door read from its swing
_FROM_WALLS = "rooms recovered from the walls"
_FROM_LINES = "rooms formed from lines"
# what a look at the drawing's other layers may spend (before rooms are guessed from the walls,
# or for the hint in an error)
_GLANCE = ImportLimits(time_limit_s=10.0, memory_limit_mb=None, entity_budget=200_000)


@dataclass(frozen=True)
class Room:
    handle: str
    polygon: Polygon  # metres, drawing frame
    number: str = ""
    name: str = ""
    #: a label found outside every room outline: ``polygon`` is its text's box, not a room
    approximate: bool = False
    #: "stairs" or "elevator" when its layer or block says so, whatever its name says
    kind: str = ""

    @property
    def category(self) -> str:
        return self.kind or room_category(self.name)


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
    #: every problem found, in order (``warnings`` are the messages of those that are not
    #: information only); ``at`` in the drawing frame, metres
    findings: list[Finding] = field(default_factory=list)
    #: the drawing's own georeference (its GEODATA object), None without one; why it cannot
    #: be used when it cannot (a drawing placed by control points does not need it)
    geodata: GeodataPlacement | None = None
    geodata_error: str = ""

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


def read_floor_plan(
    path: Path, layers: Layers | None = None, declared_unit: DrawingUnit | None = None,
    *, exterior_distance_m: float = 0.6, budget: WorkBudget | None = None,
    slim: bool = True, fast: bool = True,
) -> FloorPlan:
    """Read one floor plan within ``budget`` (default: :class:`ImportLimits` defaults).

    Every failure is a :class:`DxfError` naming the file (and the entity where one is to
    blame); passing a limit raises :class:`ImportLimitExceeded` naming the limit. What
    opening the file noticed (a repair, a missing header) comes first in its findings.
    ``slim``: a large file is first slimmed to the layers read (see
    :func:`importers.dxf_open.read_drawing`); a failure is then retried on the whole file,
    whose error (and layer hint) speaks of the whole drawing. ``fast`` (with ``slim``): the
    model space is first read from its tags (:func:`importers.dxf_tags.read_fast`), which
    gives the same floor plan where it is sure of the file; anything else, and any error
    but a passed limit, is read again the whole way.
    """
    budget = budget or WorkBudget(ImportLimits())
    if slim and fast:
        plan = _read_fast(path, layers or Layers(), declared_unit, exterior_distance_m, budget)
        if plan is not None:
            return plan
    budget.reset_entities()
    doc, opened = read_drawing(path, (layers or Layers()) if slim else None, budget)
    budget.check(path.name)
    slimmed = any(f.action == SLIMMED for f in opened)
    try:
        plan = extract_floor_plan(
            doc, path.name, layers or Layers(), declared_unit,
            exterior_distance_m=exterior_distance_m, budget=budget,
        )
    except DxfError as exc:
        if slimmed:
            del doc
            return read_floor_plan(path, layers, declared_unit,
                                   exterior_distance_m=exterior_distance_m, budget=budget,
                                   slim=False)
        if warnings_of(opened):  # recovered: the real problem is most likely the damage
            raise type(exc)(f"{exc} (the file is damaged and could only partly be recovered)"
                            ) from exc
        raise
    except GridmapError:
        raise
    except MemoryError as exc:
        raise ImportLimitExceeded(f"{path.name}: ran out of memory reading the drawing") from exc
    except ENTITY_ERRORS as exc:
        raise DxfError(f"{path.name}: the drawing cannot be read ({why(exc)})") from exc
    if slimmed and any(f.action in (_FROM_WALLS, _FROM_LINES) for f in plan.findings):
        # whether another layer holds the rooms must be judged on the whole drawing (rare)
        del doc, plan
        return read_floor_plan(path, layers, declared_unit,
                               exterior_distance_m=exterior_distance_m, budget=budget,
                               slim=False)
    plan.findings[:0] = opened
    plan.warnings[:0] = warnings_of(opened)
    return plan


def _read_fast(path: Path, layers: Layers, declared_unit: DrawingUnit | None,
               exterior_distance_m: float, budget: WorkBudget) -> FloorPlan | None:
    """The floor plan read from the model space's tags (see :mod:`importers.dxf_tags`);
    None when the file is to be read the whole way (the reader is not sure of it, or
    something failed: the whole way says what)."""
    budget.reset_entities()
    try:
        drawing = read_fast(path, layers, budget)
        budget.check(path.name)
        plan = extract_floor_plan(drawing.doc, path.name, layers, declared_unit,
                                  exterior_distance_m=exterior_distance_m, budget=budget,
                                  modelspace=drawing.modelspace)
    except ImportLimitExceeded:
        raise
    except Exception:  # NotFast, an error, anything: the whole way gives the answer
        return None
    plan.findings[:0] = drawing.findings
    plan.warnings[:0] = warnings_of(drawing.findings)
    return plan


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


def _layer_names(doc: Any, used: set[str]) -> list[str]:
    names = {str(layer.dxf.name) for layer in doc.layers} | used
    return sorted(names, key=str.upper)


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
    #: stairs and lift shafts by layer or block name; loose lines on their layers
    verticals: list[Vertical] = field(default_factory=list)
    vertical_lines: dict[str, list[tuple[str, LineString]]] = field(
        default_factory=lambda: {STAIRS: [], ELEVATOR: []})
    #: wall lines, and door swings (arcs and leaves on the door layer), for the fallbacks
    walls: list[LineString] = field(default_factory=list)
    #: lines and open polylines on the rooms layer: rooms drawn line by line
    room_lines: list[LineString] = field(default_factory=list)
    swing_arcs: list[SwingArc] = field(default_factory=list)
    swing_lines: list[LineString] = field(default_factory=list)


def _collect(modelspace: Any, source: str, reading: Reading, flatten: float,
             report: PlanReport) -> _Entities:
    """Sort the drawing's entities (blocks expanded) into room outlines, labels and doors.

    Only model space is read: what a layout (paper space) shows is a view of it, or a title
    block. An entity on a layer we read whose numbers are not finite (or lie absurdly far
    away), or that ezdxf cannot interpret, is a :class:`DxfError` naming its handle and layer.
    """
    found = _Entities()
    want = reading.want
    blocks: dict[str, bool] = {}  # block name -> whether it draws a room outline
    for e, layer, handle, holds in walk(modelspace, reading):
        found.used_layers.add(layer)
        lay = layer.upper()
        kind = e.dxftype()
        if lay not in want.values() and not (kind == "INSERT" and (
                has_attribs_on(e, want["labels"], lay) or block_kind(str(e.dxf.get("name", "")))
                or _room_block(e, lay, reading, blocks) or room_tag_attribs(e))):
            continue
        try:
            check_numbers(e, reading)
            _collect_one(e, kind, layer, handle, holds, found, reading, flatten, report,
                         kind == "INSERT" and _room_block(e, lay, reading, blocks))
        except GridmapError:
            raise
        except Unreadable as exc:
            raise DxfError(f"{source}: {kind} {handle} on layer {layer!r}: {exc}") from None
        except ENTITY_ERRORS as exc:
            raise DxfError(
                f"{source}: {kind} {handle} on layer {layer!r} cannot be read ({why(exc)})"
            ) from exc
    return found


_POLYLINES = ("LWPOLYLINE", "POLYLINE")


def _room_block(insert: Any, layer: str, reading: Reading, blocks: dict[str, bool]) -> bool:
    """Whether an INSERT with attributes is a room drawn as a block, its attributes the room's
    number and name: inserted on the rooms layer, or its block draws a closed polyline on it."""
    if not getattr(insert, "attribs", None) or layer == reading.want["doors"]:
        return False
    if layer == reading.want["rooms"]:
        return True
    name = str(insert.dxf.get("name", "")).upper()
    if name not in blocks:
        block = insert.block()
        blocks[name] = block is not None and any(
            e.dxftype() in _POLYLINES and str(e.dxf.get("layer", "0")).upper()
            == reading.want["rooms"] for e in block)
    return blocks[name]


def _collect_one(e: Any, kind: str, layer: str, handle: str, holds: str, found: _Entities,
                 reading: Reading, flatten: float, report: PlanReport,
                 room_block: bool) -> None:
    want = reading.want
    lay = layer.upper()
    source = reading.source
    vertical = STAIRS if lay == want["stairs"] else ELEVATOR if lay == want["elevators"] \
        else ""
    if kind == "INSERT" and lay != want["doors"] and block_kind(str(e.dxf.get("name", ""))):
        _collect_vertical_block(e, handle, found, reading, flatten)
    if lay == want["walls"] and kind in ("LINE", *_POLYLINES):
        found.walls.extend(segments(e, flatten, reading))
    if lay in (want["rooms"], want["outline"]) and kind in _POLYLINES:
        poly, closed = polyline_polygon(e, flatten, reading)
        if lay == want["outline"]:
            if poly is not None:
                found.outlines.append(poly)
        elif poly is None:
            why = "is open" if not closed else "has fewer than 3 vertices"
            report.add(FindingKind.REPAIRED_GEOMETRY,
                       f"{source}: polyline {handle} on layer {layer!r} {why}; not a room "
                       "outline", ref=handle, action="ignored")
            found.room_lines.extend(segments(e, flatten, reading))
        else:
            found.polys.append((handle, poly))
    elif lay == want["rooms"] and kind == "LINE":
        found.room_lines.extend(segments(e, flatten, reading))
    elif lay == want["rooms"] and kind == "HATCH":
        polygons = hatch_polygons(e, flatten, reading)
        found.polys.extend((handle if len(polygons) == 1 else f"{handle}.{k}", p)
                           for k, p in enumerate(polygons))
    elif lay == want["outline"] and kind == "HATCH":  # a facade filled, not drawn round
        found.outlines.extend(hatch_polygons(e, flatten, reading))
    elif vertical and kind in (*_POLYLINES, "HATCH"):
        shapes = hatch_polygons(e, flatten, reading) if kind == "HATCH" else [
            p for p in [polyline_polygon(e, flatten, reading)[0]] if p is not None]
        if shapes:
            found.verticals.extend(Vertical(handle, p, vertical) for p in shapes)
        else:  # an open polyline: treads or a cross, like lines
            found.vertical_lines[vertical].extend(
                (handle, ln) for ln in segments(e, flatten, reading))
    elif vertical and kind == "LINE":
        found.vertical_lines[vertical].extend((handle, ln) for ln in segments(e, flatten,
                                                                              reading))
    elif lay == want["labels"] and kind in ("TEXT", "MTEXT", "INSERT", "MULTILEADER"):
        # an INSERT on the label layer is a room tag block: its attributes are the label
        label = (tag_label(e, handle, reading.text_height) if kind == "INSERT"
                 else mleader_label(e, handle, reading.text_height) if kind == "MULTILEADER"
                 else label_of(e, handle, reading.text_height))
        if label is not None:
            found.texts.append(label)
    elif kind == "INSERT" and lay != want["doors"] and has_attribs_on(e, want["labels"], lay):
        # a room tag inserted on another layer, its attributes on the label layer
        label = tag_label(e, handle, reading.text_height, want["labels"], lay)
        if label is not None:
            found.texts.append(label)
    elif room_block:
        # a room drawn as a block, its number and name its attributes ("ROOMNO": "214")
        label = tag_label(e, handle, reading.text_height)
        if label is not None:
            found.texts.append(label)
    elif kind == "INSERT" and lay != want["doors"] and room_tag_attribs(e):
        # a room stamp on another layer: its attributes tagged as the room's ("RAUMNR")
        label = tag_label(e, handle, reading.text_height, room_tags_only=True)
        if label is not None:
            found.texts.append(label)
    elif lay == want["labels"] and kind == "LEADER":
        leader = leader_of(e)
        if leader is not None:
            found.leaders.append(leader)
    elif lay == want["doors"] and kind == "INSERT" and holds:
        report.add(FindingKind.OTHER,
                   f"{source}: block {str(e.dxf.name)!r} ({handle}) on door layer {layer!r} "
                   f"holds {holds}; read as a group, not as one door", ref=handle,
                   action="read as a group")
    elif lay == want["doors"] and kind == "INSERT":
        ins = e.dxf.insert
        found.inserts.append((handle, str(e.dxf.name), (float(ins.x), float(ins.y))))
    elif lay == want["doors"] and kind == "ARC":
        arc = swing_arc(e, 1.0, handle)
        if arc is not None:
            found.swing_arcs.append(arc)
    elif lay == want["doors"] and kind in ("LINE", *_POLYLINES):
        found.swing_lines.extend(segments(e, flatten, reading))


def _collect_vertical_block(e: Any, handle: str, found: _Entities, reading: Reading,
                            flatten: float) -> None:
    """A stair or lift block: its shape is the smallest rectangle around what it draws."""
    points: list[tuple[float, float]] = []
    todo = [(e, 0)]
    while todo:
        insert, depth = todo.pop()
        parts = insert_entities(insert, reading) or []
        reading.budget.charge(len(parts), f"{reading.source}: block "
                                          f"{str(e.dxf.get('name', ''))!r} ({handle})")
        for part in parts:
            if part.dxftype() == "INSERT":
                if depth + 1 < NEST_DEPTH:
                    todo.append((part, depth + 1))
            elif part.dxftype() not in ("TEXT", "MTEXT", "ATTDEF", "ATTRIB", "POINT"):
                try:  # a part that cannot be read (or lies absurdly far) does not shape it
                    points.extend(entity_points(part, flatten, reading))
                except (Unreadable, *ENTITY_ERRORS):
                    continue
    rect = envelope(points)
    if rect is not None:
        found.verticals.append(Vertical(handle, rect, block_kind(str(e.dxf.name))))


def _report_too_deep(reading: Reading, report: PlanReport) -> None:
    """One finding per block the walk met nested deeper than it expands (:data:`NEST_DEPTH`)
    that draws something on a layer read: what it draws is not in the plan."""
    by_block: dict[str, list[tuple[str, int]]] = {}
    for name, handle, depth in reading.too_deep:
        by_block.setdefault(name, []).append((handle, depth))
    for name, inserts in by_block.items():
        handle, depth = inserts[0]
        more = f", and {len(inserts) - 1} more insert(s) of it" if len(inserts) > 1 else ""
        report.add(FindingKind.UNSUPPORTED,
                   f"{report.source}: block {name!r} (insert {handle}{more}) is nested {depth} "
                   f"blocks deep; the import expands blocks nested at most {NEST_DEPTH} deep, "
                   "so what it draws on the layers read (rooms, labels, doors) is not read: "
                   "explode the outer blocks (or insert it less deeply) and export again",
                   ref=handle, action="not read")


def _xrefs(doc: Any) -> list[tuple[str, str]]:
    """(block name, file) of each external drawing the drawing refers to (XREF)."""
    out = []
    for block in doc.blocks:
        head = block.block
        if head is not None and (head.is_xref or head.is_xref_overlay):
            out.append((str(block.name), str(head.dxf.get("xref_path", ""))))
    return out


def _no_rooms(doc: Any, found: _Entities, source: str, layers: Layers,
              walls_tried: bool = False) -> DxfError:
    """The error for a drawing with no room outlines, with a hint at the layer that looks
    like rooms (see :func:`importers.layer_proposal.layer_hint`) and at external drawings
    it refers to, where the rooms may be."""
    present = _layer_names(doc, found.used_layers)
    hint = layer_hint(doc, budget=WorkBudget(_GLANCE))
    hint = f". {hint}" if hint else ""
    xrefs = _xrefs(doc)
    if xrefs:
        hint += (". It refers to external drawings (XREF: "
                 + ", ".join(repr(path or name) for name, path in xrefs[:3])
                 + "), which are not in this file: bind them before saving as DXF")
    if layers.rooms.upper() not in {n.upper() for n in present}:
        return DxfError(
            f"layer {layers.rooms!r} not found in {source}; layers present: "
            + ", ".join(present) + hint
        )
    walls = f" and layer {layers.walls!r} holds no wall lines that enclose rooms" \
        if walls_tried and found.walls else ""
    return DxfError(
        f"{source}: layer {layers.rooms!r} holds no closed polylines (or hatches){walls}, so no "
        f"rooms can be read{hint}"
    )


def _rooms_elsewhere(doc: Any, layers: Layers) -> bool:
    """Whether another layer than the rooms layer named looks like rooms (closed outlines
    holding labels, :func:`importers.layer_proposal.propose_layers`): the manifest names the
    wrong layer, and rooms guessed from the walls would hide it."""
    try:  # a short look: the proposal judges from what it read when its budget runs out
        proposed = propose_layers(doc, budget=WorkBudget(_GLANCE)).rooms
    except (GridmapError, *ENTITY_ERRORS):
        return False
    return proposed is not None and proposed.upper() != layers.rooms.upper()


def _line_rooms(found: _Entities, unit_m: float, layers: Layers,
                report: PlanReport) -> list[tuple[str, Polygon]]:
    """Rooms drawn line by line on the rooms layer (no closed polyline): the areas its lines
    enclose, endpoints within 5 cm joined, no gap bridged (see :mod:`importers.wall_rooms`)."""
    if not found.room_lines:
        return []
    lines = [affinity.scale(ln, unit_m, unit_m, origin=(0, 0)) for ln in found.room_lines]
    points = [lb.box.centroid for lb in scale_labels(found.texts, unit_m)]
    formed = rooms_from_walls(lines, points, max_gap_m=0.0, wide_gap_m=0.0,
                              source=report.source)
    out = []
    for polygon in formed.polygons:
        spot = polygon.representative_point()
        out.append((f"lines@{spot.x:.1f},{spot.y:.1f}", polygon))
    if out:
        report.add(FindingKind.REPAIRED_GEOMETRY,
                   f"{report.source}: layer {layers.rooms!r} holds no closed polylines; "
                   f"{len(out)} room(s) formed from the lines it draws: check them",
                   ref=layers.rooms, action=_FROM_LINES)
    return out


def _wall_rooms(doc: Any, found: _Entities, reading: Reading, flatten: float,
                unit_m: float, layers: Layers, report: PlanReport,
                ) -> list[tuple[str, Polygon]]:
    """Rooms recovered from the wall lines (see :mod:`importers.wall_rooms`), for a drawing
    with no closed room outlines; labels guide which doorway gaps close. Blocks drawing
    walls are expanded for it (a second walk, charged to the budget like the first)."""
    walls = found.walls
    if not walls:
        again = Reading(reading.want, reading.door_blocks, reading.same_point, reading.source,
                        reading.budget, reading.max_coord, text_height=reading.text_height,
                        line_layers=frozenset({reading.want["walls"]}))
        walls = [ln for e, layer, _, _ in walk(doc.modelspace(), again)
                 if layer.upper() == reading.want["walls"] and e.dxftype() in (
                     "LINE", *_POLYLINES) for ln in segments(e, flatten, again)]
        found.walls = walls
    if not walls:
        return []
    lines = [affinity.scale(ln, unit_m, unit_m, origin=(0, 0)) for ln in walls]
    points = [lb.box.centroid for lb in scale_labels(found.texts, unit_m)]
    recovered = rooms_from_walls(lines, points, source=report.source)
    report.extend(recovered.findings)
    out = []
    for polygon in recovered.polygons:
        spot = polygon.representative_point()
        out.append((f"walls@{spot.x:.1f},{spot.y:.1f}", polygon))
    if out:
        present = {n.upper() for n in _layer_names(doc, found.used_layers)}
        hint = "" if layers.rooms.upper() in present else layer_hint(
            doc, budget=WorkBudget(_GLANCE))
        said = "holds no closed room outlines" if layers.rooms.upper() in present else \
            f"is not in {report.source}"
        report.add(FindingKind.OTHER,
                   f"{report.source}: layer {layers.rooms!r} {said}; {len(out)} room(s) "
                   f"recovered from the wall lines on layer {layers.walls!r}: check them"
                   + (f". {hint}" if hint else ""), ref=layers.walls,
                   action=_FROM_WALLS)
    return out


def _room_outlines(polys: list[tuple[str, Polygon]], unit_m: float, layers: Layers,
                   report: PlanReport) -> list[tuple[str, Polygon]]:
    """Room outlines in metres; self-crossing ones repaired, specks dropped."""
    out: list[tuple[str, Polygon]] = []
    source = report.source
    for handle, poly in polys:
        scaled = affinity.scale(poly, unit_m, unit_m, origin=(0, 0))
        if not scaled.is_valid:
            report.add(FindingKind.REPAIRED_GEOMETRY,
                       f"{source}: room outline {handle} on layer {layers.rooms!r} crosses "
                       "itself; repaired", at=scaled.envelope, ref=handle, action="repaired")
            scaled = largest_polygon(shapely.make_valid(scaled))
        if scaled.is_empty or scaled.area < 0.1:
            report.add(FindingKind.REPAIRED_GEOMETRY,
                       f"{source}: room outline {handle} is smaller than 0.1 m²; skipped",
                       at=None if scaled.is_empty else scaled.centroid, ref=handle,
                       action="skipped")
            continue
        out.append((handle, scaled))
    return out


def _with_verticals(outlines: list[tuple[str, Polygon]], found: _Entities, unit_m: float,
                    ) -> tuple[list[tuple[str, Polygon]], dict[str, str]]:
    """The room outlines with the stairs and lift shafts: a stairwell's own outline takes the
    category (handle -> kind); another stair is a room of its own."""
    verticals = list(found.verticals)
    for kind, lines in found.vertical_lines.items():
        verticals += from_lines(lines, kind, unit_m)
    kinds: dict[str, str] = {}
    out = list(outlines)
    for v in distinct(verticals):
        polygon = affinity.scale(v.polygon, unit_m, unit_m, origin=(0, 0))
        if not polygon.is_valid:
            polygon = largest_polygon(shapely.make_valid(polygon))
        if polygon.is_empty or polygon.area < 0.1:
            continue
        own = stairwell(polygon, outlines)
        if own is not None:
            kinds.setdefault(own, v.kind)
        else:
            out.append((v.handle, polygon))
            kinds[v.handle] = v.kind
    return out, kinds


def _labels_by_room(texts: list[Label], outlines: list[tuple[str, Polygon]],
                    outline: Polygon | None, unit_m: float, layers: Layers,
                    report: PlanReport) -> Assignment:
    """Each label (in metres) under its room, or kept as a label-only place; see
    :func:`importers.room_labels.assign_labels`. Every label outside the rooms is reported."""
    on = f"on layer {layers.labels!r}"
    source = report.source
    usable = []
    for label in scale_labels(texts, unit_m):
        why = too_large(label)
        if why:
            report.add(FindingKind.OTHER,
                       f"{source}: label {label.short[:60]!r} ({label.handle}) {on} is not a "
                       f"room label: {why}; ignored", at=label.box, ref=label.handle,
                       action="ignored")
        else:
            usable.append(label)
    found = assign_labels(usable, outlines, outline,
                          lambda name: room_category(name) in ("walkway", "stairs"))
    for label, room, how in found.nearby:
        report.add(FindingKind.LABEL_OUTSIDE_ROOMS,
                   f"{source}: label {label.short!r} ({label.handle}) {on} is not inside the "
                   f"room it names; given to room {room} ({how})", at=label.box,
                   ref=label.handle, action=f"given to room {room}")
    for place in found.label_only:
        said = ", ".join(f"{lb.short!r} ({lb.handle})" for lb in place)
        report.add(FindingKind.LABEL_OUTSIDE_ROOMS,
                   f"{source}: label {said} {on} is outside every room outline and belongs to "
                   "no room; kept as an approximate location (label only, no outline)",
                   at=place_box(place), ref="+".join(lb.handle for lb in place),
                   action="kept as an approximate location (label only, no outline)")
    for label, distance in found.far:
        report.add(FindingKind.LABEL_OUTSIDE_ROOMS,
                   f"{source}: label {label.short!r} ({label.handle}) {on} is outside every "
                   f"room and {distance:.0f} m from the nearest, in no floor outline: taken "
                   "for a note outside the building, not a room; ignored", at=label.box,
                   ref=label.handle, action="ignored")
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


def _labelled_room(handle: str, poly: Polygon, labels: list[Label], kind: str,
                   report: PlanReport, quiet: bool) -> Room:
    """A room with the number and name its labels give; one without a number is reported
    (``quiet``: as information only, when the label layer's absence is reported once)."""
    number, name = _read_labels(labels)
    room = Room(handle, poly, number, name, kind=kind)
    # a stair or lift without a number is usual: information, not a warning
    severity = Severity.INFO if quiet or kind else Severity.WARNING
    source = report.source
    if not number and not name:
        report.add(FindingKind.ROOM_WITHOUT_LABEL,
                   f"{source}: room {handle} has no label (no number, no name)", at=poly,
                   ref=handle, severity=severity, action="kept without a number")
    elif not number and room.category == "room":
        report.add(FindingKind.ROOM_WITHOUT_LABEL,
                   f"{source}: room {handle} ({name!r}) has no number", at=poly, ref=handle,
                   severity=severity, action="kept without a number")
    return room


def _label_only(places: list[list[Label]]) -> list[Room]:
    """Label-only places as rooms flagged approximate, outlined by their text's box."""
    out = []
    for place in places:
        number, name = _read_labels(place)
        handle = "+".join(lb.handle for lb in place)
        out.append(Room(handle, place_box(place), number, name, approximate=True))
    return out


def _report_missing_layers(doc: Any, found: _Entities, layers: Layers, doors_read: bool,
                           report: PlanReport) -> None:
    """MISSING_LAYER findings for a label or door layer that is absent or holds nothing we
    read: the level imports, but without room numbers or doors, and the report says so."""
    present = {n.upper() for n in _layer_names(doc, found.used_layers)}
    source = report.source
    doors_gone = "no doors were read; nearest-door answers will be empty for this level"
    if layers.doors.upper() not in present:
        report.add(FindingKind.MISSING_LAYER,
                   f"no door layer {layers.doors!r} in {source}: {doors_gone}",
                   ref=layers.doors, action="imported without doors")
    elif not doors_read:
        report.add(FindingKind.MISSING_LAYER,
                   f"door layer {layers.doors!r} in {source} holds no door blocks: {doors_gone}",
                   ref=layers.doors, action="imported without doors")
    labels_gone = ("no room numbers or names were read; its rooms can be found only by "
                   "location")
    if layers.labels.upper() not in present:
        report.add(FindingKind.MISSING_LAYER,
                   f"no label layer {layers.labels!r} in {source}: {labels_gone}",
                   ref=layers.labels, action="imported without room numbers")
    elif not found.texts:
        report.add(FindingKind.MISSING_LAYER,
                   f"label layer {layers.labels!r} in {source} holds no text: {labels_gone}",
                   ref=layers.labels, action="imported without room numbers")


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
        exterior = matches_any(block, layers.exterior_door_blocks) or (
            boundary.distance(pt) <= exterior_distance_m
        )
        doors.append(Door(handle, pt, block, exterior))
    return doors


def _swing_doors(found: _Entities, footprint: Polygon, unit_m: float,
                 exterior_distance_m: float, report: PlanReport, layer: str) -> list[Door]:
    """Doors from swings (ARC + leaf LINE) on the door layer, for a drawing without door
    blocks; exterior when on the footprint's boundary."""
    if not found.swing_arcs:
        return []
    arcs = [SwingArc((a.center[0] * unit_m, a.center[1] * unit_m), a.radius * unit_m,
                     a.start_deg, a.end_deg, a.handle) for a in found.swing_arcs]
    lines = [affinity.scale(ln, unit_m, unit_m, origin=(0, 0)) for ln in found.swing_lines]
    swings = doors_from_swings(arcs, lines)
    boundary = footprint.exterior
    doors = [Door(s.handle, s.point, SWING_BLOCK,
                  boundary.distance(s.point) <= exterior_distance_m) for s in swings]
    if doors:
        report.add(FindingKind.OTHER,
                   f"{report.source}: door layer {layer!r} holds no door blocks; {len(doors)} "
                   f"door(s) read from door swings (arc and leaf line)",
                   severity=Severity.INFO, ref=layer, action="doors read from swings")
    return doors


def extract_floor_plan(
    doc: Any,
    source: str,
    layers: Layers | None = None,
    declared_unit: DrawingUnit | None = None,
    *,
    exterior_distance_m: float = 0.6,
    budget: WorkBudget | None = None,
    modelspace: list[Any] | None = None,
) -> FloorPlan:
    """Rooms, labels, doors and outline of an open ezdxf drawing, in metres.

    ``modelspace``: the model space entities, when ``doc`` holds none of them (read by
    :func:`importers.dxf_tags.read_fast`); a drawing whose rooms are not closed outlines then
    raises :class:`~importers.dxf_tags.NotFast`, as its rooms and hints need the whole
    drawing."""
    layers = layers or Layers()
    report = PlanReport(source)
    unit_m, unit_warnings = drawing_unit_m(doc, source, declared_unit)
    for message in unit_warnings:
        report.add(FindingKind.UNITS, message, action="used the drawing's units")
    want = {k: v.upper() for k, v in layers.model_dump().items() if isinstance(v, str)}
    budget = budget or WorkBudget()
    reading = Reading(want, layers.exterior_door_blocks + layers.interior_door_blocks,
                      _SAME_POINT_M / unit_m, source, budget,
                      budget.limits.max_coordinate_m / unit_m,
                      text_height=_TEXT_HEIGHT_M / unit_m)
    flatten = _FLATTEN_M / unit_m
    xrefs = _xrefs(doc)
    for name, path in xrefs:
        report.add(FindingKind.UNSUPPORTED,
                   f"{source}: the drawing refers to the external drawing {path or name!r} "
                   f"(XREF {name!r}); what that draws is not in this file and is not read: "
                   "bind the references (BIND, or eTransmit with bound xrefs) before saving "
                   "as DXF", ref=name, action="not read")
    found = _collect(doc.modelspace() if modelspace is None else modelspace, source, reading,
                     flatten, report)
    _report_too_deep(reading, report)
    if found.polys:
        outlines = _room_outlines(found.polys, unit_m, layers, report)
    elif modelspace is not None:
        raise NotFast("no closed room outline: the rooms are judged on the whole drawing")
    elif _rooms_elsewhere(doc, layers):
        raise _no_rooms(doc, found, source, layers)  # a layer name to fix, not walls to read
    else:  # rooms drawn line by line, else recovered from the walls
        outlines = _line_rooms(found, unit_m, layers, report) or _wall_rooms(
            doc, found, reading, flatten, unit_m, layers, report)
        if not outlines:
            raise _no_rooms(doc, found, source, layers, walls_tried=True)
    outlines, kinds = _with_verticals(outlines, found, unit_m)
    outline = _outline(found.outlines, unit_m)
    footprint_so_far = outline if outline is not None else rooms_footprint(
        [Room(h, p) for h, p in outlines])
    doors = _doors(found.inserts, footprint_so_far, unit_m, layers, exterior_distance_m)
    if not doors:
        doors = _swing_doors(found, footprint_so_far, unit_m, exterior_distance_m, report,
                             layers.doors)
    _report_missing_layers(doc, found, layers, bool(doors), report)
    texts = follow_leaders(found.texts, found.leaders)
    labels = _labels_by_room(texts, outlines, outline, unit_m, layers, report)
    # with no labels at all, the layer finding says it once; each room is information
    rooms = [_labelled_room(h, poly, labels.by_room[h], kinds.get(h, ""), report,
                            quiet=not found.texts) for h, poly in outlines]
    report_rooms_outside(((r.handle, repr(r.number or r.name or r.handle), r.polygon)
                          for r in rooms), outline, report, layers.outline)
    geodata, geodata_error = _geodata(doc, source)
    return FloorPlan(source, unit_m, rooms, doors, outline, report.warnings,
                     _label_only(labels.label_only), report.findings, geodata, geodata_error)


def _geodata(doc: Any, source: str) -> tuple[GeodataPlacement | None, str]:
    """The drawing's GEODATA placement, or why it cannot be used (never an error here: only
    a level placed by it needs it)."""
    from importers.geodata import read_geodata  # pyproj: only when a plan is read

    try:
        return read_geodata(doc, source), ""
    except GridmapError as exc:
        return None, str(exc)
    except ENTITY_ERRORS as exc:
        return None, f"{source}: its GEODATA object cannot be read ({why(exc)})"
