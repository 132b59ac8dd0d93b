"""Dispatcher lookups on the shared small campus."""

from __future__ import annotations

import pytest

from gridmap import grid
from gridmap.doors import number_exterior_doors
from gridmap.errors import InvalidQuery
from gridmap.index import CampusIndex
from gridmap.lookup import MAX_QUERY_LENGTH, MatchKind, Status, lookup
from gridmap.usng import to_usng
from tests.campus_factory import small_campus


@pytest.fixture(scope="module")
def index() -> CampusIndex:
    return CampusIndex(number_exterior_doors(small_campus()))


@pytest.mark.parametrize("query", ["room 214", "rm 214", "Rm. 214", "214", "RM 214?", "A-214",
                                   "room #214", "building A room 214", "in room 214",
                                   "near room 214", "room 214 please", "by rm 214.",
                                   "outside room 214 in building a"])
def test_room_214_phrasings(index: CampusIndex, query: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND
    best = result.candidates[0]
    assert (best.building_id, best.level_ordinal, best.unit_number) == ("A", 1, "214")
    assert best.unit_name == "Science Lab"
    assert len(result.candidates) == 1


def test_room_result_carries_everything_product_md_lists(index: CampusIndex) -> None:
    best = lookup(index, "room 214").candidates[0]
    unit = next(u for u in index.campus.units if u.number == "214")
    shape = index.shapes[unit.id]
    assert best.primary_cell == grid.primary_cell(index.grid, shape).label
    assert best.primary_cell in best.cells
    assert set(best.cells) == {c.label for c in grid.cells_spanned(index.grid, shape)}
    assert best.subcell is not None and best.subcell.startswith(best.primary_cell + "-")
    assert best.usng == to_usng(best.lon, best.lat)
    # the room is inside its building and the lon/lat is inside the room
    x, y = index.frame.xy(best.lon, best.lat)
    assert index.units_at(x, y, 1)[0].number == "214"
    # nearest exterior doors are numbered, sorted by distance, and belong to building A
    doors = best.nearest_doors
    assert [d.distance_m for d in doors] == sorted(d.distance_m for d in doors)
    assert all(d.number for d in doors) and len(doors) == 3
    assert best.nearest_knox_box is not None and best.nearest_knox_box.cell
    assert best.nearest_aed is not None
    # the 2nd-floor AED is nearer to a 2nd-floor room than the one by the office
    assert best.nearest_aed.level_ordinal in (0, 1)
    payload = best.to_dict()
    assert payload["nearest_doors"][0]["number"] == doors[0].number
    assert "Room 214 Science Lab" in best.label and f"grid {best.primary_cell}" in best.label


@pytest.mark.parametrize(("query", "number"), [("gym", "B-10"), ("the gym", "B-10"),
                                               ("gymnasium", "B-10"), ("main office", "101"),
                                               ("by the library", "103"), ("nurse", "102")])
def test_names(index: CampusIndex, query: str, number: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND, result.message
    assert result.candidates[0].unit_number == number
    assert result.candidates[0].match is MatchKind.UNIT_NAME


@pytest.mark.parametrize(("query", "number"), [("Main Ofice", "101"), ("libary", "103"),
                                               ("cafetria", "104")])
def test_a_misspelt_name_is_offered_for_confirmation_not_assumed(
    index: CampusIndex, query: str, number: str
) -> None:
    result = lookup(index, query)
    assert result.status is Status.AMBIGUOUS
    assert result.candidates[0].unit_number == number
    assert result.candidates[0].score < 90


def test_door_number_in_two_buildings_is_ambiguous(index: CampusIndex) -> None:
    result = lookup(index, "door 2")
    assert result.status is Status.AMBIGUOUS
    assert {c.building_id for c in result.candidates} == {"A", "B"}
    narrowed = lookup(index, "building B door 2")
    assert narrowed.status is Status.FOUND
    assert narrowed.candidates[0].building_id == "B"


@pytest.mark.parametrize("query", ["outside door 2 building b", "at door 2 in building B",
                                   "building b door #2"])
def test_door_phrasings(index: CampusIndex, query: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND, result.message
    assert (result.candidates[0].building_id, result.candidates[0].match) == ("B", MatchKind.DOOR)


def test_main_entrance(index: CampusIndex) -> None:
    result = lookup(index, "main entrance")
    assert result.status is Status.FOUND
    assert {c.label.split(" · ")[2] for c in result.candidates} == {"Door 1 (main entrance)"}


@pytest.mark.parametrize(("query", "kind", "count"), [("knox box", "knox_box", 1),
                                                      ("KNOX", "knox_box", 1),
                                                      ("nox box", "knox_box", 1),
                                                      ("AED", "aed", 2),
                                                      ("defibrillator", "aed", 2),
                                                      ("gas shutoff", "gas_shutoff", 1)])
def test_point_kinds(index: CampusIndex, query: str, kind: str, count: int) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND
    assert [c.kind for c in result.candidates] == [kind] * count
    assert all(c.primary_cell for c in result.candidates)


def test_cells(index: CampusIndex) -> None:
    result = lookup(index, "C4")
    assert result.candidates[0].match is MatchKind.CELL
    assert result.candidates[0].primary_cell == "C4"
    sub = lookup(index, "c4-7").candidates[0]
    assert sub.subcell == "C4-7"
    x, y = index.frame.xy(sub.lon, sub.lat)
    assert grid.subcell_at(index.grid, x, y).label == "C4-7"


def test_cell_off_the_grid_is_not_a_cell(index: CampusIndex) -> None:
    assert lookup(index, "Z99").status is Status.NOT_FOUND


def test_lonlat_both_orders_and_usng(index: CampusIndex) -> None:
    unit = next(u for u in index.campus.units if u.number == "B-12")
    p = index.frame.to_wgs84(index.label_point(unit))
    for query in (f"{p.y:.6f}, {p.x:.6f}", f"{p.x:.6f} {p.y:.6f}", to_usng(p.x, p.y)):
        result = lookup(index, query)
        assert result.status is Status.FOUND, query
        assert result.candidates[0].unit_number == "B-12", query


def test_partial_room_match_is_ambiguous_not_a_guess(index: CampusIndex) -> None:
    # there is no room B-214; building A's 214 is offered but not as an answer
    result = lookup(index, "B-214")
    assert result.status is Status.AMBIGUOUS
    assert result.candidates[0].unit_number == "214"
    assert result.candidates[0].score < 90


def test_unknown_query_is_an_explicit_not_found(index: CampusIndex) -> None:
    result = lookup(index, "xyzzy plugh")
    assert result.status is Status.NOT_FOUND
    assert result.candidates == ()
    assert "xyzzy plugh" in result.message


def test_not_found_suggests_close_names(index: CampusIndex) -> None:
    result = lookup(index, "scyenz")
    assert result.status is Status.NOT_FOUND
    assert "Science Lab" in result.suggestions


@pytest.mark.parametrize("bad", ["", "   ", "x" * (MAX_QUERY_LENGTH + 1)])
def test_invalid_queries(index: CampusIndex, bad: str) -> None:
    with pytest.raises(InvalidQuery):
        lookup(index, bad)


def test_limit(index: CampusIndex) -> None:
    assert len(lookup(index, "classroom", limit=2).candidates) == 2

