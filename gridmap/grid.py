"""The labelled campus grid ("Battleship style": ``C4``) and its keypad sub-cells (``C4-7``).

Columns are letters west to east (A..Z, AA, AB..), rows numbers north to south, in the campus's
local metric frame. Cells are half-open so every point of the grid lies in exactly one cell:
a cell owns its west and north edges, its east and south neighbours own the others.

Keypad sub-cells split a cell into nine, numbered as on a phone keypad::

    1 2 3
    4 5 6
    7 8 9
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from shapely import ops
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from gridmap.crs import LocalFrame
from gridmap.errors import InvalidCellLabel, OutsideGrid
from gridmap.model import GridSpec, LengthUnit

_LABEL_RE = re.compile(r"^\s*([A-Za-z]{1,2})\s*(\d{1,3})\s*(?:-\s*([1-9]))?\s*$")


class Bounds(NamedTuple):
    minx: float
    miny: float
    maxx: float
    maxy: float


class Cell(NamedTuple):
    """A grid cell by zero-based column (west to east) and row (north to south)."""

    column: int
    row: int

    @property
    def label(self) -> str:
        return cell_label(self.column, self.row)


class SubCell(NamedTuple):
    cell: Cell
    keypad: int

    @property
    def label(self) -> str:
        return f"{self.cell.label}-{self.keypad}"


def column_label(column: int) -> str:
    """Zero-based column index to letters: 0 -> A, 25 -> Z, 26 -> AA."""
    if column < 0:
        raise InvalidCellLabel(f"column index must be >= 0, got {column}")
    letters = ""
    n = column + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def column_index(letters: str) -> int:
    """Column letters to zero-based index: A -> 0, AA -> 26."""
    if not letters.isalpha() or not letters.isascii():
        raise InvalidCellLabel(f"{letters!r} is not a column of letters")
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - ord("A") + 1)
    return n - 1


def cell_label(column: int, row: int) -> str:
    """``cell_label(2, 3) == "C4"``."""
    if row < 0:
        raise InvalidCellLabel(f"row index must be >= 0, got {row}")
    return f"{column_label(column)}{row + 1}"


def parse_label(label: str, grid: GridSpec | None = None) -> Cell | SubCell:
    """Parse ``C4`` or ``C4-7``; with a grid, also check the cell exists on it."""
    m = _LABEL_RE.match(label)
    if not m:
        raise InvalidCellLabel(f"{label!r} is not a grid cell label like C4 or C4-7")
    column = column_index(m.group(1))
    row = int(m.group(2)) - 1
    if row < 0:
        raise InvalidCellLabel(f"{label!r}: rows are numbered from 1")
    cell = Cell(column, row)
    if grid is not None and not (column < grid.columns and row < grid.rows):
        raise OutsideGrid(
            f"cell {cell.label} is outside this campus grid "
            f"(A1..{cell_label(grid.columns - 1, grid.rows - 1)})"
        )
    return SubCell(cell, int(m.group(3))) if m.group(3) else cell


def parse_cell(label: str, grid: GridSpec) -> Cell:
    """Parse a whole-cell label (``C4``) that must exist on ``grid``."""
    ref = parse_label(label, grid)
    if isinstance(ref, SubCell):
        raise InvalidCellLabel(f"{label!r} is a keypad sub-cell; expected a whole cell like C4")
    return ref


def extent(grid: GridSpec) -> Bounds:
    s = grid.cell_size_m
    return Bounds(
        grid.origin_x,
        grid.origin_y - grid.rows * s,
        grid.origin_x + grid.columns * s,
        grid.origin_y,
    )


def cell_bounds(grid: GridSpec, cell: Cell) -> Bounds:
    s = grid.cell_size_m
    minx = grid.origin_x + cell.column * s
    maxy = grid.origin_y - cell.row * s
    return Bounds(minx, maxy - s, minx + s, maxy)


def subcell_bounds(grid: GridSpec, sub: SubCell) -> Bounds:
    b = cell_bounds(grid, sub.cell)
    third = (b.maxx - b.minx) / 3.0
    col, row = (sub.keypad - 1) % 3, (sub.keypad - 1) // 3
    return Bounds(b.minx + col * third, b.maxy - (row + 1) * third,
                  b.minx + (col + 1) * third, b.maxy - row * third)


def cell_at(grid: GridSpec, x: float, y: float) -> Cell:
    """The one cell holding local point (x, y); raises :class:`OutsideGrid` off the grid."""
    s = grid.cell_size_m
    column = math.floor((x - grid.origin_x) / s)
    row = math.floor((grid.origin_y - y) / s)
    # division can round across an edge; settle it with the same sums cell_bounds uses
    b = cell_bounds(grid, Cell(column, row))
    column += -1 if x < b.minx else (1 if x >= b.maxx else 0)
    row += -1 if y > b.maxy else (1 if y <= b.miny else 0)
    if not (0 <= column < grid.columns and 0 <= row < grid.rows):
        raise OutsideGrid(f"point ({x:.1f}, {y:.1f}) m is outside the campus grid")
    return Cell(column, row)


def subcell_at(grid: GridSpec, x: float, y: float) -> SubCell:
    cell = cell_at(grid, x, y)
    b = cell_bounds(grid, cell)
    third = (b.maxx - b.minx) / 3.0
    col = min(2, max(0, math.floor((x - b.minx) / third)))
    row = min(2, max(0, math.floor((b.maxy - y) / third)))
    return SubCell(cell, row * 3 + col + 1)


def cells_spanned(grid: GridSpec, shape: BaseGeometry) -> tuple[Cell, ...]:
    """Cells whose area a local-frame polygon overlaps (points: the cell holding them).

    Touching a cell along an edge does not count: a room whose wall lies on a grid line is
    not "in" the neighbouring cell. Cells off the grid are left out.
    """
    if shape.is_empty:
        return ()
    if shape.area == 0:
        pts = [shape] if isinstance(shape, Point) else [Point(c) for c in shape.coords]
        found = []
        for p in pts:
            try:
                found.append(cell_at(grid, p.x, p.y))
            except OutsideGrid:
                continue
        return tuple(sorted(set(found), key=lambda c: (c.row, c.column)))
    s = grid.cell_size_m
    minx, miny, maxx, maxy = shape.bounds
    c0 = max(0, math.floor((minx - grid.origin_x) / s))
    c1 = min(grid.columns - 1, math.floor((maxx - grid.origin_x) / s))
    r0 = max(0, math.floor((grid.origin_y - maxy) / s))
    r1 = min(grid.rows - 1, math.floor((grid.origin_y - miny) / s))
    cells = []
    min_area = 1e-6 * s * s
    for row in range(r0, r1 + 1):
        for column in range(c0, c1 + 1):
            cell = Cell(column, row)
            if shape.intersection(box(*cell_bounds(grid, cell))).area > min_area:
                cells.append(cell)
    return tuple(cells)


def label_point(shape: Polygon) -> Point:
    """Where a room's label sits: always inside the room, centred where the room allows.

    The centroid when it is nearly as far from the walls as the pole of inaccessibility (so a
    corridor's label sits mid-corridor, where the eye expects it), else the pole itself (an
    L-shaped room's centroid can lie outside the room).
    """
    if not shape.is_valid or shape.is_empty:
        return shape.representative_point()
    pole = ops.polylabel(shape, tolerance=0.05)
    centroid = shape.centroid
    if shape.contains(centroid):
        walls = shape.boundary
        if walls.distance(centroid) >= 0.9 * walls.distance(pole) - 0.05:
            return centroid
    return pole


def primary_cell(grid: GridSpec, shape: Polygon) -> Cell:
    """The cell holding the room's label point."""
    p = label_point(shape)
    return cell_at(grid, p.x, p.y)


def grid_for_extent(
    bounds: Bounds, cell_size: float, unit: LengthUnit, margin_cells: int = 1
) -> GridSpec:
    """A grid that covers local ``bounds`` with ``margin_cells`` to spare on every side.

    The origin is snapped to whole multiples of the cell size so the grid lines fall on round
    local coordinates, and the extent is centred on the campus.
    """
    s = cell_size * unit.metres
    columns = math.ceil((bounds.maxx - bounds.minx) / s) + 2 * margin_cells
    rows = math.ceil((bounds.maxy - bounds.miny) / s) + 2 * margin_cells
    cx = (bounds.minx + bounds.maxx) / 2.0
    cy = (bounds.miny + bounds.maxy) / 2.0
    origin_x = math.floor((cx - columns * s / 2.0) / s) * s
    origin_y = math.ceil((cy + rows * s / 2.0) / s) * s
    # snapping may have shifted the grid by up to one cell: widen if the extent no longer fits
    while origin_x + columns * s < bounds.maxx + margin_cells * s:
        columns += 1
    while origin_y - rows * s > bounds.miny - margin_cells * s:
        rows += 1
    return GridSpec(origin_x, origin_y, cell_size, unit, columns, rows)


def lonlat_bounds(grid: GridSpec, frame: LocalFrame) -> Bounds:
    """The grid extent in WGS84 as (min lon, min lat, max lon, max lat).

    The outline is densified before projecting, so the box holds the whole grid even where its
    straight local edges bow slightly in longitude/latitude.
    """
    outline = box(*extent(grid)).segmentize(grid.cell_size_m / 4.0)
    return Bounds(*frame.to_wgs84(outline).bounds)


def all_cells(grid: GridSpec) -> tuple[Cell, ...]:
    return tuple(Cell(c, r) for r in range(grid.rows) for c in range(grid.columns))
