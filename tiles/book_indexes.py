"""The map book's look-up tables: rooms, exterior doors and the one-page quick reference.

Rows are sorted the way a dispatcher looks things up: room numbers in natural number order
(``2, 10, 101, 214, B-10, B-12, C-4``; a number is not a word, so 10 follows 9), doors by
building and then number, safety points by what they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gridmap import grid as gridlib
from gridmap.errors import OutsideGrid
from gridmap.model import AmenityKind, Campus
from gridmap.sides import door_sides
from tiles.book_sheets import campus_frame

_CHUNKS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that orders numbers inside text by value: ``"B-9" < "B-10"``, ``"9" < "10"``.

    Text that starts with a number sorts before text that starts with a letter."""
    key: list[tuple[int, int, str]] = []
    for i, chunk in enumerate(_CHUNKS.split(text.strip().casefold())):
        if not chunk:
            continue
        key.append((0, int(chunk), chunk) if i % 2 else (1, 0, chunk))
    return tuple(key)


@dataclass(frozen=True, slots=True)
class RoomRow:
    number: str
    name: str
    building: str  # the building's letter
    level: str
    cell: str


@dataclass(frozen=True, slots=True)
class DoorRow:
    building: str
    number: str
    side: str  # A-D, or "" when the building has no side A
    cell: str
    level: str
    note: str


@dataclass(frozen=True, slots=True)
class PointRow:
    name: str
    building: str
    level: str
    cell: str
    note: str


#: What the quick reference lists, in this order, with the heading for each group.
QUICK_REFERENCE: tuple[tuple[str, tuple[AmenityKind, ...]], ...] = (
    ("Knox boxes", (AmenityKind.KNOX_BOX,)),
    ("Utility shutoffs", (AmenityKind.GAS_SHUTOFF, AmenityKind.WATER_SHUTOFF,
                          AmenityKind.ELECTRIC_SHUTOFF)),
    ("AEDs", (AmenityKind.AED,)),
    ("Trauma kits", (AmenityKind.TRAUMA_KIT,)),
    ("Fire alarm panels", (AmenityKind.FIRE_ALARM_PANEL,)),
    ("Rally points", (AmenityKind.RALLY_POINT,)),
    ("Staging areas", (AmenityKind.STAGING_AREA,)),
)


def _cell(campus: Campus, x: float, y: float) -> str:
    try:
        return gridlib.cell_at(campus.grid, x, y).label
    except OutsideGrid:
        return "off grid"


def room_rows(campus: Campus) -> list[RoomRow]:
    """Every room with a number or a name: number, name, building letter, level, cell."""
    frame = campus_frame(campus.crs)
    letters = {b.id: b.short_name for b in campus.buildings}
    levels = {lv.id: lv for lv in campus.levels}
    rows = []
    for unit in campus.units:
        if not (unit.number or unit.name):
            continue
        p = gridlib.label_point(frame.to_local(unit.geometry))
        rows.append(RoomRow(unit.number, unit.name, letters.get(unit.building_id, ""),
                            levels[unit.level_id].name, _cell(campus, p.x, p.y)))
    # numbered rooms first in number order; rooms known by name only (halls) after, by name
    rows.sort(key=lambda r: (not r.number, natural_key(r.number), natural_key(r.name),
                             r.building, r.level))
    return rows


def door_rows(campus: Campus) -> list[DoorRow]:
    """Every exterior door: building, number, fire service side, cell, level."""
    frame = campus_frame(campus.crs)
    sides = door_sides(campus)
    levels = {lv.id: lv for lv in campus.levels}
    order = {b.id: i for i, b in enumerate(campus.buildings)}
    rows = []
    for door in sorted(campus.exterior_doors(),
                       key=lambda o: (order.get(o.building_id, 0), natural_key(o.number or ""))):
        p = frame.to_local(door.geometry)
        side = sides.get(door.id)
        rows.append(DoorRow(campus.building(door.building_id).short_name, door.number or "-",
                            side.value if side else "", _cell(campus, p.x, p.y),
                            levels[door.level_id].name,
                            "main entrance" if door.main_entrance else ""))
    return rows


def quick_reference(campus: Campus) -> list[tuple[str, list[PointRow]]]:
    """The quick reference's groups (see :data:`QUICK_REFERENCE`), each with its points."""
    frame = campus_frame(campus.crs)
    letters = {b.id: b.short_name for b in campus.buildings}
    levels = {lv.id: lv for lv in campus.levels}
    order = {b.id: i for i, b in enumerate(campus.buildings)}
    groups = []
    for heading, kinds in QUICK_REFERENCE:
        points = sorted((a for a in campus.amenities if a.kind in kinds),
                        key=lambda a: (kinds.index(a.kind), order.get(a.building_id or "", -1),
                                       natural_key(a.name)))
        rows = []
        for a in points:
            p = frame.to_local(a.geometry)
            level = levels.get(a.level_id or "")
            rows.append(PointRow(a.name, letters.get(a.building_id or "", "outside"),
                                 level.name if level else "", _cell(campus, p.x, p.y), a.note))
        groups.append((heading, rows))
    return groups
