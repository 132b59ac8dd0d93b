"""The walk over a DXF drawing's model space: block inserts expanded, every entity charged.

:func:`walk` yields each entity with its effective layer (an entity on layer "0" inside a
block takes its insert's layer) and a handle, expanding nested inserts (every copy of a
MINSERT array) up to :data:`NEST_DEPTH` deep. What an insert expands into is counted from the
block definitions before any entity is made (:func:`expansion`) and charged to the import's
:class:`~importers.limits.WorkBudget`, so a fan-out to billions ends in a clear error. A block
that inserts itself is an error; a broken block is skipped.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import shapely
from ezdxf.lldxf.const import DXFError

from gridmap.errors import DxfError
from importers.limits import WorkBudget

NEST_DEPTH = 4
_CHECK_EVERY = 32  # inserts expanded between time and memory checks

# what ezdxf and shapely raise on entities they cannot make sense of
ENTITY_ERRORS = (DXFError, ValueError, TypeError, AttributeError, ArithmeticError,
                 IndexError, KeyError, RecursionError, shapely.errors.ShapelyError)


def why(exc: BaseException) -> str:
    """An exception as a report says it: its type and (the start of) its message."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether a block name matches one of the (fnmatch, case-blind) patterns."""
    return any(fnmatch.fnmatchcase(name.upper(), p.upper()) for p in patterns)


@dataclass(frozen=True)
class Reading:
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
    #: layers whose lines and arcs are read too (upper case): the walls, when rooms are to be
    #: recovered from them, so blocks drawing walls are expanded
    line_layers: frozenset[str] = frozenset()
    #: what a block on the door layer holds, by (block name, layer, scale): see
    #: :func:`_door_block_holds` (rotation and mirroring do not change it)
    holds: dict[tuple[str, str, float, float], str] = field(default_factory=dict)
    #: inserts expanded so far: time and memory are checked every few (reading the process's
    #: memory for each of a hundred thousand door inserts costs seconds)
    expanded: list[int] = field(default_factory=lambda: [0])
    #: inserts the walk met deeper than :data:`NEST_DEPTH` whose blocks draw on a layer read
    #: (not expanded): (block name, insert handle, the depth its contents lie at)
    too_deep: list[tuple[str, str, int]] = field(default_factory=list)
    #: whether a block inserted on a layer draws, at any depth, something on a layer read
    reaches: dict[tuple[str, str], bool] = field(default_factory=dict)


class Unreadable(Exception):
    """An entity whose numbers cannot be used; :func:`_collect` names it in a DxfError."""


def _self_insert(name: str, handle: str, chain: tuple[str, ...], source: str) -> DxfError:
    return DxfError(
        f"{source}: block {name!r} (insert {handle}) inserts itself (through "
        + " > ".join((*chain, name.upper())) + "); a block cannot contain itself"
    )


_READ_TYPES = frozenset({"LWPOLYLINE", "POLYLINE", "TEXT", "MTEXT", "INSERT", "HATCH"})


def expansion(insert: Any, reading: Reading, depth: int = 0, chain: tuple[str, ...] = (),
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
    key = (name.upper(), depth, layer)
    per_copy = reading.sizes.get(key)  # known once its block (found by name) was counted
    try:
        block = insert.block() if per_copy is None else None
        copies = max(1, int(insert.mcount))
    except ENTITY_ERRORS:
        return 0
    if per_copy is None:
        if block is None:
            return 0
        ours = set(reading.want.values())
        inner = (*chain, name.upper())
        per_copy, relevant = 0, False
        for e in block:
            own = str(e.dxf.get("layer", "0")).upper()
            eff = layer if own == "0" else own
            kind = e.dxftype()
            per_copy += 1
            relevant = relevant or (eff in ours and kind in _READ_TYPES) or (
                eff in reading.line_layers and kind in ("LINE", "ARC"))
            if kind == "INSERT" and depth + 1 < NEST_DEPTH:
                sub = expansion(e, reading, depth + 1, inner, eff)
                per_copy += sub
                relevant = relevant or sub > 0
            if per_copy > reading.budget.limits.entity_budget:
                break  # enough to refuse; no need to count the rest
        per_copy = per_copy if relevant else 0
        reading.sizes[key] = per_copy
    return copies * per_copy


def reaches_read_layers(insert: Any, layer: str, reading: Reading,
                        chain: tuple[str, ...] = ()) -> bool:
    """Whether ``insert`` (on effective ``layer``) draws anything the import reads, however
    deeply nested: an entity :func:`expansion` counts as relevant, a door insert, a tag
    with attributes; a block inside itself draws nothing more."""
    name = str(insert.dxf.get("name", "")).upper()
    key = (name, layer.upper())
    if name in chain:
        return False
    if key in reading.reaches:
        return reading.reaches[key]
    reading.reaches[key] = False  # while it is looked into
    try:
        block = insert.block()
    except ENTITY_ERRORS:
        block = None
    ours = set(reading.want.values())
    found = False
    for e in block if block is not None else ():
        own = str(e.dxf.get("layer", "0")).upper()
        eff = key[1] if own == "0" else own
        kind = e.dxftype()
        if kind == "INSERT":  # a door, a tag with attributes, or what its block draws
            hit = eff == reading.want["doors"] or (
                eff in ours and bool(getattr(e, "attribs", None))) or reaches_read_layers(
                e, eff, reading, (*chain, name))
        else:
            hit = (eff in ours and kind in _READ_TYPES) or (
                eff in reading.line_layers and kind in ("LINE", "ARC"))
        if hit:
            found = True
            break
    reading.reaches[key] = found
    return found


def insert_entities(insert: Any, reading: Reading, chain: tuple[str, ...] = ()) -> list[Any] | None:
    """The entities an INSERT places, every copy of a MINSERT array; None for a broken block,
    which is skipped. Their number was charged to the budget before the walk reached them
    (:func:`_expansion`); here time and memory are checked. ``chain`` is the blocks being
    expanded around it: a block inside itself is an error, not an endless walk."""
    name = str(insert.dxf.get("name", ""))
    handle = str(insert.dxf.get("handle") or "in a block")
    if name.upper() in chain:
        raise _self_insert(name, handle, chain, reading.source)
    reading.expanded[0] += 1
    if reading.expanded[0] % _CHECK_EVERY == 1:  # the first, then every few
        reading.budget.check(f"{reading.source}: block {name!r} (insert {handle})")
    try:
        if int(insert.mcount) > 1:  # a MINSERT array: every copy, each placed as an INSERT
            return [e for copy in insert.multi_insert() for e in copy.virtual_entities()]
        return list(insert.virtual_entities())
    except ENTITY_ERRORS:  # a broken block is skipped, not fatal
        return None


def _door_block_holds(insert: Any, reading: Reading) -> str:
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
                is_door = lay == want["doors"] and matches_any(str(e.dxf.name),
                                                                reading.door_blocks)
                if is_door and not in_door:
                    doors.append((float(e.dxf.insert.x), float(e.dxf.insert.y)))
                inner = (*chain, str(e.dxf.name).upper())
                children = insert_entities(e, reading, chain) if depth < NEST_DEPTH else None
                if children:
                    scan(children, lay, depth + 1, in_door or is_door, inner)

    children = insert_entities(insert, reading)
    if not children:
        return ""
    scan(children, want["doors"], 1, False, (str(insert.dxf.name).upper(),))
    # a block named as a door is one opening even when drawn from door blocks (a double
    # door from two leaves gets one painted number); other blocks holding doors at several
    # places are groups
    own_name_is_door = matches_any(str(insert.dxf.name), reading.door_blocks)
    x0, y0 = doors[0] if doors else (0.0, 0.0)
    apart = not own_name_is_door and any(
        math.hypot(x - x0, y - y0) > reading.same_point for x, y in doors[1:])
    if not (rooms or labels or outlines or apart):
        return ""
    parts = [_count(rooms, "room outline"), _count(labels, "room label"),
             _count(outlines, "floor outline"), _count(len(doors), "door block")]
    said = [p for p in parts if p]
    return ", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0]


def _door_holds(insert: Any, layer: str, reading: Reading) -> str:
    """:func:`_door_block_holds`, worked out once per block, layer and scale."""
    try:
        if int(insert.mcount) > 1:  # an array: its copies' spacing matters
            return _door_block_holds(insert, reading)
        key = (str(insert.dxf.get("name", "")).upper(), layer.upper(),
               abs(float(insert.dxf.get("xscale", 1.0))), abs(float(insert.dxf.get("yscale", 1.0))))
    except (TypeError, ValueError):
        return _door_block_holds(insert, reading)
    if key not in reading.holds:
        reading.holds[key] = _door_block_holds(insert, reading)
    return reading.holds[key]


def _count(n: int, what: str) -> str:
    return "" if n == 0 else f"{n} {what}" + ("" if n == 1 else "s")


def walk(entities: Any, reading: Reading, depth: int = 0, parent_layer: str | None = None,
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
        expands = expansion(e, reading, depth, chain, layer) if is_insert else 0
        if depth == 0:  # an insert is charged with everything it expands into, up front
            reading.budget.charge(1 + expands, _where(e, i, expands, reading.source))
        handle = str(e.dxf.get("handle") or f"{parent_handle}.{i}")
        if is_insert and depth >= NEST_DEPTH and layer.upper() != doors_layer \
                and reaches_read_layers(e, layer, reading, chain):
            # what it draws lies deeper than the walk goes: not read, and said so
            reading.too_deep.append((str(e.dxf.get("name", "")), handle, depth + 1))
        if not expands or depth >= NEST_DEPTH:  # nothing in it lands on a layer we read
            yield e, layer, handle, ""
            continue
        holds = _door_holds(e, layer, reading) if layer.upper() == doors_layer else ""
        yield e, layer, handle, holds
        if layer.upper() != doors_layer or holds:
            children = insert_entities(e, reading, chain)
            if children is not None:
                inner = (*chain, str(e.dxf.name).upper())
                yield from walk(children, reading, depth + 1, layer, handle, inner)


def _where(e: Any, i: int, expands: int, source: str) -> str:
    """Names a modelspace entity for a budget message; an insert with what it expands to."""
    if not expands:
        return f"{source}: modelspace entity {i}"
    copies = max(1, int(e.mcount))
    return (f"{source}: block {str(e.dxf.get('name', ''))!r} (insert "
            f"{e.dxf.get('handle') or i}, {copies:,} copies of {expands // copies:,} entities)")

