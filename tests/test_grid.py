"""Grid labels, cells and sub-cells: worked examples plus Hypothesis invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from gridmap import grid
from gridmap.errors import InvalidCellLabel, InvalidModel, OutsideGrid
from gridmap.model import GridSpec, LengthUnit

GRID = GridSpec(origin_x=-100.0, origin_y=200.0, cell_size=25.0, unit=LengthUnit.METRE,
                columns=30, rows=12)
FEET = GridSpec(origin_x=0.0, origin_y=0.0, cell_size=100.0, unit=LengthUnit.FOOT,
                columns=4, rows=4)


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"),
                                                (51, "AZ"), (52, "BA"), (701, "ZZ")])
def test_column_letters(index: int, letters: str) -> None:
    assert grid.column_label(index) == letters
    assert grid.column_index(letters) == index


def test_cell_label_examples() -> None:
    assert grid.cell_label(2, 3) == "C4"
    assert grid.parse_label("c4") == grid.Cell(2, 3)
    assert grid.parse_label(" C4 - 7 ") == grid.SubCell(grid.Cell(2, 3), 7)
    assert grid.parse_label("AB12", GRID) == grid.Cell(27, 11)


@pytest.mark.parametrize("bad", ["", "4C", "C", "C0", "C4-0", "C4-10", "ABC1", "C4.5", "Ç4"])
def test_bad_labels_are_rejected_with_the_label_named(bad: str) -> None:
    with pytest.raises(InvalidCellLabel, match=r"C4|rows|column|label"):
        grid.parse_label(bad)


def test_label_off_this_grid() -> None:
    with pytest.raises(OutsideGrid, match="AE1 is outside this campus grid"):
        grid.parse_label("AE1", GRID)
    with pytest.raises(OutsideGrid):
        grid.parse_label("A13", GRID)


def test_columns_run_west_to_east_rows_north_to_south() -> None:
    assert grid.cell_at(GRID, -99.0, 199.0).label == "A1"
    assert grid.cell_at(GRID, -99.0 + 25.0, 199.0).label == "B1"
    assert grid.cell_at(GRID, -99.0, 199.0 - 25.0).label == "A2"


def test_feet_grid_uses_feet_for_cell_size() -> None:
    assert FEET.cell_size_m == pytest.approx(30.48)
    assert grid.cell_at(FEET, 30.0, -1.0).label == "A1"
    assert grid.cell_at(FEET, 30.5, -1.0).label == "B1"


def test_keypad_subcells_follow_a_phone_keypad() -> None:
    b = grid.cell_bounds(GRID, grid.Cell(2, 3))
    third = 25.0 / 3
    sw = grid.subcell_at(GRID, b.minx + 1, b.miny + 1)
    ne = grid.subcell_at(GRID, b.maxx - 1, b.maxy - 1)
    centre = grid.subcell_at(GRID, b.minx + 1.5 * third, b.miny + 1.5 * third)
    assert (sw.label, ne.label, centre.label) == ("C4-7", "C4-3", "C4-5")


def test_outside_the_grid_is_an_error() -> None:
    with pytest.raises(OutsideGrid):
        grid.cell_at(GRID, -100.01, 150.0)
    with pytest.raises(OutsideGrid):
        grid.cell_at(GRID, 0.0, 200.01)


def test_grid_spec_validates() -> None:
    with pytest.raises(InvalidModel):
        GridSpec(0, 0, 0, LengthUnit.METRE, 3, 3)
    with pytest.raises(InvalidModel):
        GridSpec(0, 0, 10, LengthUnit.METRE, 0, 3)


def test_cells_spanned_ignores_edge_contact() -> None:
    room = box(-100.0, 175.0, -75.0, 200.0)  # exactly cell A1
    assert [c.label for c in grid.cells_spanned(GRID, room)] == ["A1"]
    wide = box(-90.0, 180.0, -40.0, 190.0)  # A1..C1
    assert [c.label for c in grid.cells_spanned(GRID, wide)] == ["A1", "B1", "C1"]


def test_primary_cell_of_an_l_shaped_room_is_inside_it() -> None:
    # an L whose centroid lies outside the room, in B2
    ell = Polygon([(-100, 200), (-25, 200), (-25, 190), (-90, 190), (-90, 125), (-100, 125)])
    assert not ell.contains(ell.centroid)
    p = grid.label_point(ell)
    assert ell.contains(p)
    assert grid.primary_cell(GRID, ell) in grid.cells_spanned(GRID, ell)


def test_grid_for_extent_covers_with_margin() -> None:
    bounds = grid.Bounds(-137.0, -88.0, 212.0, 131.0)
    spec = grid.grid_for_extent(bounds, 100.0, LengthUnit.FOOT, margin_cells=1)
    e = grid.extent(spec)
    s = spec.cell_size_m
    assert e.minx <= bounds.minx - s and e.maxx >= bounds.maxx + s
    assert e.miny <= bounds.miny - s and e.maxy >= bounds.maxy + s
    assert spec.origin_x / s == pytest.approx(round(spec.origin_x / s))


# --- invariants -------------------------------------------------------------------------------

xs = st.floats(min_value=-100.0, max_value=-100.0 + 30 * 25.0, exclude_max=True,
               allow_nan=False)
ys = st.floats(min_value=200.0 - 12 * 25.0, max_value=200.0, exclude_min=True, allow_nan=False)


def _owns(b: grid.Bounds, x: float, y: float) -> bool:
    """Half-open ownership: west and north edges belong to the cell."""
    return b.minx <= x < b.maxx and b.miny < y <= b.maxy


@given(xs, ys)
def test_every_point_lies_in_exactly_one_cell(x: float, y: float) -> None:
    cell = grid.cell_at(GRID, x, y)
    owners = [c for c in grid.all_cells(GRID) if _owns(grid.cell_bounds(GRID, c), x, y)]
    assert owners == [cell]


@given(xs, ys)
def test_every_point_lies_in_exactly_one_subcell(x: float, y: float) -> None:
    sub = grid.subcell_at(GRID, x, y)
    b = grid.subcell_bounds(GRID, sub)
    eps = 1e-9
    assert b.minx - eps <= x <= b.maxx + eps and b.miny - eps <= y <= b.maxy + eps


@given(st.integers(0, 29), st.integers(0, 11))
def test_label_bounds_label_round_trip(column: int, row: int) -> None:
    cell = grid.Cell(column, row)
    assert grid.parse_label(cell.label, GRID) == cell
    b = grid.cell_bounds(GRID, cell)
    centre = ((b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2)
    assert grid.cell_at(GRID, *centre) == cell
    assert math.isclose(b.maxx - b.minx, 25.0) and math.isclose(b.maxy - b.miny, 25.0)


@given(st.integers(0, 701))
def test_column_letters_round_trip(index: int) -> None:
    assert grid.column_index(grid.column_label(index)) == index


@given(xs, ys, st.floats(1.0, 80.0), st.floats(1.0, 80.0))
def test_spanned_cells_cover_the_room_and_hold_its_primary_cell(
    x: float, y: float, w: float, h: float
) -> None:
    room = box(x, y - h, x + w, y).intersection(box(*grid.extent(GRID)))
    if room.area < 1.0:
        return
    cells = grid.cells_spanned(GRID, room)
    covered = sum(room.intersection(box(*grid.cell_bounds(GRID, c))).area for c in cells)
    # slivers under a millionth of a cell are not "in" a cell (a wall drawn on a grid line)
    assert covered == pytest.approx(room.area, abs=4 * 1e-6 * 25.0**2)
    p = grid.label_point(room)
    assert room.intersects(Point(p))
    assert grid.primary_cell(GRID, room) in cells
