"""A large, realistic school floor plan as a DXF, for the import bench.

One level of a very large school as an architect's office draws it (NCS layer names,
millimetres, R2010): wing after wing, each a double-loaded corridor of classrooms, labs,
offices, restrooms and stairs with

* room outlines: closed LWPOLYLINEs on ``A-AREA`` (a few with a bulge: a rounded bay);
* labels: the room number as TEXT and the room name as MTEXT on ``A-AREA-IDEN``;
* doors: INSERTs of door blocks on ``A-DOOR`` built from nested blocks (leaf + swing),
  exterior doors named ``DOOR-EXT*``;
* walls: double LINEs on ``A-WALL``; the facade outline round all wings on ``A-FLOR-OTLN``;
* floor finishes: a HATCH per room (solid or ANSI31) on ``A-AREA-PATT``;
* dimensions: a linear DIMENSION per room front on ``A-ANNO-DIMS`` (each with its block);
* furniture: classroom sets on ``A-FURN``, a block of desk blocks of chair blocks;
* column grid lines and bubbles on ``S-GRID``, notes on ``A-ANNO-NOTE``.

Deterministic: the same ``rooms`` and ``seed`` give the same drawing (and the same bytes).
Run ``python -m bench.big_floor_plan OUT.dxf [--rooms N]`` to write one.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ezdxf.enums
from ezdxf._options import options
from ezdxf.filemanagement import new

ROOMS_LAYER = "A-AREA"
LABELS_LAYER = "A-AREA-IDEN"
DOORS_LAYER = "A-DOOR"
OUTLINE_LAYER = "A-FLOR-OTLN"

_ROOM_W = 8000.0  # a classroom's frontage along the corridor, mm
_ROOM_D = 7000.0  # its depth, mm
_CORRIDOR = 3000.0  # corridor width, mm
_WALL = 200.0  # wall thickness, mm
_PER_SIDE = 20  # rooms each side of a building's corridor
_NAMES = ("Classroom", "Science Lab", "Art Room", "Music Room", "Library", "Office",
          "Staff Room", "Computer Lab", "Storage", "Counselor", "Nurse", "Workroom", "Café",
          "Principal’s Office")  # UTF-8 text, as R2007 and later files hold it


@dataclass(frozen=True)
class GeneratedPlan:
    """What the generator drew: the oracle for an import of the file."""

    path: Path
    rooms: int  # closed outlines on the rooms layer, corridors included
    labelled: int  # rooms with a number TEXT inside
    doors: int  # door inserts on the doors layer
    wings: int
    bytes: int


def _blocks(doc: Any) -> None:
    """Door blocks (nested leaf and swing), classroom furniture (nested three deep)."""
    leaf = doc.blocks.new("DOOR-LEAF")
    leaf.add_lwpolyline([(0, 0), (900, 0), (900, 40), (0, 40)], close=True)
    swing = doc.blocks.new("DOOR-SWING")
    swing.add_arc((0, 0), 900, 0, 90)
    for name in ("DOOR-INT-900", "DOOR-EXT-1800"):
        door = doc.blocks.new(name)
        door.add_blockref("DOOR-LEAF", (0, 0))
        door.add_blockref("DOOR-SWING", (0, 0))
        door.add_line((0, 0), (0, 900))
        if "EXT" in name:
            door.add_blockref("DOOR-LEAF", (1800, 0), dxfattribs={"xscale": -1})
            door.add_blockref("DOOR-SWING", (1800, 0), dxfattribs={"xscale": -1})
    chair = doc.blocks.new("CHAIR")
    chair.add_lwpolyline([(0, 0), (450, 0), (450, 450), (0, 450)], close=True)
    chair.add_line((0, 450), (450, 450))
    desk = doc.blocks.new("DESK")
    desk.add_lwpolyline([(0, 0), (1200, 0), (1200, 600), (0, 600)], close=True)
    desk.add_blockref("CHAIR", (150, -500))
    desk.add_blockref("CHAIR", (650, -500))
    room_set = doc.blocks.new("CLASSROOM-SET")
    for row in range(3):
        for col in range(3):
            room_set.add_blockref("DESK", (col * 1800.0, row * 1500.0))
    room_set.add_lwpolyline([(0, 4800), (2400, 4800), (2400, 5600), (0, 5600)], close=True)


def _layers(doc: Any) -> None:
    for name, color in ((ROOMS_LAYER, 3), (LABELS_LAYER, 7), (DOORS_LAYER, 4),
                        (OUTLINE_LAYER, 1), ("A-WALL", 7), ("A-AREA-PATT", 8),
                        ("A-ANNO-DIMS", 2), ("A-FURN", 6), ("S-GRID", 5),
                        ("A-ANNO-NOTE", 7)):
        doc.layers.add(name, color=color)


def _room(msp: Any, rng: random.Random, x: float, y: float, w: float, d: float,
          number: str, name: str, rounded: bool) -> None:
    """One room: outline, labels, floor hatch, walls, furniture, a dimension."""
    pts = [(x, y, 0.0), (x + w, y, 0.0), (x + w, y + d, 0.0), (x, y + d, 0.0)]
    if rounded:  # a bay window: the back wall bulges out
        pts[2] = (x + w, y + d, 0.4)
    msp.add_lwpolyline(pts, format="xyb", close=True, dxfattribs={"layer": ROOMS_LAYER})
    cx, cy = x + w / 2, y + d / 2
    msp.add_text(number, height=250, dxfattribs={"layer": LABELS_LAYER}).set_placement(
        (cx, cy + 200), align=ezdxf.enums.TextEntityAlignment.MIDDLE_CENTER)
    msp.add_mtext(name, dxfattribs={"layer": LABELS_LAYER, "char_height": 180,
                                    "insert": (cx, cy - 150), "attachment_point": 5})
    hatch = msp.add_hatch(color=rng.choice((8, 9, 253)), dxfattribs={"layer": "A-AREA-PATT"})
    if rng.random() < 0.5:
        hatch.set_pattern_fill("ANSI31", scale=rng.choice((20.0, 40.0)))
    hatch.paths.add_polyline_path([(px, py) for px, py, _ in pts], is_closed=True)
    half = _WALL / 2
    for (x0, y0), (x1, y1) in (((x, y), (x + w, y)), ((x + w, y), (x + w, y + d)),
                               ((x + w, y + d), (x, y + d)), ((x, y + d), (x, y))):
        nx, ny = (y1 - y0), -(x1 - x0)
        n = math.hypot(nx, ny)
        ox, oy = nx / n * half, ny / n * half
        msp.add_line((x0 + ox, y0 + oy), (x1 + ox, y1 + oy), dxfattribs={"layer": "A-WALL"})
        msp.add_line((x0 - ox, y0 - oy), (x1 - ox, y1 - oy), dxfattribs={"layer": "A-WALL"})
    if name in ("Classroom", "Science Lab", "Computer Lab"):
        msp.add_blockref("CLASSROOM-SET", (x + 800, y + 700), dxfattribs={"layer": "A-FURN"})
    if rng.random() < 0.5:
        dim = msp.add_linear_dim(base=(x, y - 1200), p1=(x, y), p2=(x + w, y),
                                 dimstyle="EZDXF", dxfattribs={"layer": "A-ANNO-DIMS"})
        dim.render()


def _wing(msp: Any, rng: random.Random, ox: float, oy: float, tag: str,
              rooms_left: int) -> tuple[int, int, int]:
    """A double-loaded corridor wing at (ox, oy); (rooms, labelled, doors) drawn."""
    per_side = max(1, min(_PER_SIDE, (rooms_left - 1) // 2))
    length = per_side * _ROOM_W
    rooms = labelled = doors = 0
    south, north = oy, oy + _ROOM_D + _CORRIDOR
    for side, y0 in (("1", south), ("2", north)):
        for i in range(per_side):
            x = ox + i * _ROOM_W
            number = f"{tag}{side}{i + 1:02d}"
            name = rng.choice(_NAMES)
            if i == per_side - 1 and side == "1":
                name = "Restrooms"
            if i == 0 and side == "2":
                name = "Stair"
            _room(msp, rng, x, y0, _ROOM_W, _ROOM_D, number, name,
                  rounded=rng.random() < 0.05)
            rooms += 1
            labelled += 1
            door_y = y0 + _ROOM_D if side == "1" else y0
            msp.add_blockref("DOOR-INT-900", (x + _ROOM_W / 2, door_y),
                             dxfattribs={"layer": DOORS_LAYER,
                                         "rotation": 0 if side == "1" else 180})
            doors += 1
    cy = south + _ROOM_D
    msp.add_lwpolyline([(ox, cy), (ox + length, cy), (ox + length, cy + _CORRIDOR),
                        (ox, cy + _CORRIDOR)], close=True, dxfattribs={"layer": ROOMS_LAYER})
    msp.add_text(f"{tag}C00", height=250, dxfattribs={"layer": LABELS_LAYER}).set_placement(
        (ox + length / 2, cy + _CORRIDOR / 2), align=ezdxf.enums.TextEntityAlignment.MIDDLE_CENTER)
    msp.add_mtext("Corridor", dxfattribs={"layer": LABELS_LAYER, "char_height": 180,
                                          "insert": (ox + length / 2, cy + _CORRIDOR / 2 - 350),
                                          "attachment_point": 5})
    rooms += 1
    labelled += 1
    for x in (ox, ox + length - 1800):  # the two ends of the corridor: exterior doors
        msp.add_blockref("DOOR-EXT-1800", (x, cy + 600),
                         dxfattribs={"layer": DOORS_LAYER, "rotation": 90})
        doors += 1
    top = north + _ROOM_D
    for i in range(per_side + 1):  # the column grid, a bubble at each line's end
        gx = ox + i * _ROOM_W
        msp.add_line((gx, south - 3000), (gx, top + 3000), dxfattribs={"layer": "S-GRID"})
        msp.add_circle((gx, top + 3600), 600, dxfattribs={"layer": "S-GRID"})
        msp.add_text(f"{i + 1}", height=500, dxfattribs={"layer": "S-GRID",
                                                          "insert": (gx - 200, top + 3400)})
    msp.add_mtext(f"WING {tag}\\PLEVEL 1 - FLOOR PLAN\\PSCALE 1:100",
                  dxfattribs={"layer": "A-ANNO-NOTE", "char_height": 600,
                              "insert": (ox, south - 5000)})
    return rooms, labelled, doors


def msp_extents(msp: Any) -> tuple[float, float, float, float]:
    """The rooms' bounds (drawing units)."""
    xs, ys = [], []
    for e in msp.query(f"LWPOLYLINE[layer=='{ROOMS_LAYER}']"):
        for x, y in e.get_points("xy"):
            xs.append(float(x))
            ys.append(float(y))
    return min(xs), min(ys), max(xs), max(ys)


def _tag(i: int) -> str:
    """Wing tags A..Z, then AA, AB, ..."""
    letters = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def write_floor_plan(path: Path, rooms: int = 7000, seed: int = 8) -> GeneratedPlan:
    """Write a school level with about ``rooms`` rooms to ``path``; what was drawn."""
    fixed = options.write_fixed_meta_data_for_testing
    options.write_fixed_meta_data_for_testing = True  # no clock or random ids saved
    try:
        return _write(path, rooms, seed)
    finally:
        options.write_fixed_meta_data_for_testing = fixed


def _write(path: Path, rooms: int, seed: int) -> GeneratedPlan:
    rng = random.Random(seed)
    doc = new("R2010", setup=True)
    doc.header["$INSUNITS"] = 4  # millimetres
    _layers(doc)
    _blocks(doc)
    msp = doc.modelspace()
    drawn = labelled = doors = wings = 0
    per_row = 6
    while drawn < rooms:
        row, col = divmod(wings, per_row)
        ox = col * (_PER_SIDE * _ROOM_W + 30000.0)
        oy = row * (2 * _ROOM_D + _CORRIDOR + 20000.0)
        r, lab, d = _wing(msp, rng, ox, oy, _tag(wings), rooms - drawn)
        drawn += r
        labelled += lab
        doors += d
        wings += 1
    # one level of one (very large) building: the facade outline goes round every wing
    xmin, ymin, xmax, ymax = msp_extents(msp)
    msp.add_lwpolyline([(xmin - 3000, ymin - 3000), (xmax + 3000, ymin - 3000),
                        (xmax + 3000, ymax + 3000), (xmin - 3000, ymax + 3000)],
                       close=True, dxfattribs={"layer": OUTLINE_LAYER})
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.saveas(path)
    return GeneratedPlan(path, drawn, labelled, doors, wings, path.stat().st_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rooms", type=int, default=7000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    plan = write_floor_plan(args.out, args.rooms, args.seed)
    print(f"{plan.path.name}: {plan.rooms} rooms, {plan.doors} doors, {plan.wings} "
          f"wings, {plan.bytes / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
