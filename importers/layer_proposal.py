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

import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Polygon

from gridmap.errors import DxfError, GridmapError, ImportLimitExceeded
from importers.drawing_units import drawing_unit, unit_from_sizes, unit_in_header
from importers.layer_roles import (
    RoleChoice,
    RoomEdges,
    RoomsFound,
    by_name_only,
    labels_without_rooms,
    propose_doors,
    propose_outline,
    propose_rooms,
    propose_stairs_and_lifts,
    propose_walls,
)
from importers.layer_stats import (
    ENTITY_ERRORS,
    DrawingScan,
    all_layer_stats,
    scan_drawing,
)
from importers.layer_stats import PROPOSAL_LIMITS as PROPOSAL_LIMITS
from importers.layer_stats import LayerStats as LayerStats
from importers.layer_stats import layer_stats as layer_stats
from importers.limits import WorkBudget
from importers.manifest import DrawingUnit, Layers

ROLES = ("rooms", "labels", "doors", "outline", "walls", "stairs", "elevators")


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


# --- the proposal -----------------------------------------------------------------------------


def propose_layers(doc: Any, *, declared_unit: DrawingUnit | None = None,
                   budget: WorkBudget | None = None) -> LayerProposal:
    """The layers ``doc``'s content suggests for each role, its unit, and why.

    Within ``budget`` (default :data:`PROPOSAL_LIMITS`): a drawing larger than its entity
    budget is judged on what was read (``reasons["drawing"]`` says so); passing its time or
    memory limit raises :class:`~gridmap.errors.ImportLimitExceeded`; a drawing whose
    numbers defeat the judging is a :class:`~gridmap.errors.DxfError`, never a traceback.
    """
    scan = scan_drawing(doc, budget or WorkBudget(PROPOSAL_LIMITS))
    try:
        return _propose(doc, scan, declared_unit)
    except GridmapError:
        raise
    except MemoryError as exc:
        raise ImportLimitExceeded("the drawing is too large to judge its layers in the "
                                  "memory an import may use") from exc
    except ENTITY_ERRORS as exc:
        raise DxfError(f"the drawing's layers cannot be judged ({type(exc).__name__}: "
                       f"{str(exc)[:200]})") from exc


def _propose(doc: Any, scan: DrawingScan, declared_unit: DrawingUnit | None) -> LayerProposal:
    reasons: dict[str, str] = {}
    header_unit = unit_in_header(doc)
    known = header_unit or declared_unit
    rooms = propose_rooms(scan)
    if rooms.layer is not None and _too_small(rooms.polygons, known, doc, scan):
        rooms = RoomsFound()  # desks, lockers: the doors say how large a room would be
    if rooms.layer is not None:
        reasons["rooms"] = rooms.reason
        labels = RoleChoice(rooms.label_layer, rooms.label_reason)
        points = [(p.representative_point().x, p.representative_point().y)
                  for p in rooms.polygons]
    else:
        labels = labels_without_rooms(scan)
        points = [t.at for t in scan.layers[labels.layer].texts if t.is_number] \
            if labels.layer else []
    if labels.layer:
        reasons["labels"] = labels.reason
    outline, facade = propose_outline(scan, rooms.layer, points,
                                      [p.area for p in rooms.polygons] if rooms.polygons else None)
    edges = None
    if rooms.polygons:
        diag = [math.dist(p.bounds[:2], p.bounds[2:]) for p in rooms.polygons]
        edges = RoomEdges([p.boundary for p in rooms.polygons],
                          0.15 * statistics.median(diag))
    elif facade is not None:
        edges = RoomEdges([facade.boundary], 0.02 * math.dist(facade.bounds[:2], facade.bounds[2:]))
    doors, widths = propose_doors(doc, scan, None if known is None else known.metres, edges)
    room_areas = [p.area for p in rooms.polygons]
    unit, unit_reason = drawing_unit(doc, declared_unit, room_areas, widths)
    if doors.layer is None and unit is not None and header_unit is None:
        doors, _ = propose_doors(doc, scan, unit.metres, edges)
    region = _building_region(facade, rooms.polygons, points)
    exclude = {x for x in (labels.layer,) if x}
    walls = propose_walls(scan, region, exclude, None if unit is None else unit.metres)
    stairs, lifts = propose_stairs_and_lifts(scan, None if unit is None else unit.metres)
    choices = {"outline": outline, "doors": doors, "walls": walls, "stairs": stairs,
               "elevators": lifts}
    taken = {x for x in (rooms.layer, labels.layer, doors.layer, outline.layer,
                         walls.layer, stairs.layer, lifts.layer) if x}
    for role in ("doors", "outline", "walls", "stairs", "elevators"):
        if choices[role].layer is None:
            choices[role] = by_name_only(scan, role, taken)
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
        unit=unit, unit_reason=unit_reason, reasons=reasons, layers=all_layer_stats(scan))


#: the median room of a floor is larger than this, square metres (a desk is 1, a closet 2)
_SMALLEST_MEDIAN_ROOM_M2 = 3.0


def _too_small(polys: list[Polygon], known: DrawingUnit | None, doc: Any,
               scan: DrawingScan) -> bool:
    """Whether outlines proposed as rooms are too small to be, at the drawing's unit (or,
    without one, the unit its doors' widths suggest)."""
    unit = known
    if unit is None:
        _, widths = propose_doors(doc, scan, None, None)
        unit = unit_from_sizes([], widths)[0]
    if unit is None or not polys:
        return False
    median = statistics.median(p.area for p in polys) * unit.metres ** 2
    return median < _SMALLEST_MEDIAN_ROOM_M2


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
    except (GridmapError, *ENTITY_ERRORS):
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
