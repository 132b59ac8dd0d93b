"""Dispatcher lookups on the shared small campus."""

from __future__ import annotations

import dataclasses
import json

import pytest
from shapely.geometry import Point, box

from gridmap import grid
from gridmap.doors import number_exterior_doors
from gridmap.errors import InvalidQuery
from gridmap.index import CampusIndex
from gridmap.lookup import MAX_QUERY_LENGTH, LookupResult, MatchKind, Status, engine_for, lookup
from gridmap.model import Unit, stable_id
from gridmap.usng import to_usng
from gridmap.vocabulary import (
    category_gender,
    floor_said,
    is_restroom_phrase,
    level_numbers,
    lookalike_digits,
    restroom_gender,
    spoken_numbers,
)
from tests.campus_factory import small_campus, walk_campus


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


@pytest.mark.parametrize(("query", "name"), [("syence", "Science Lab"),
                                             ("lybrery", "Library")])
def test_not_found_suggests_close_names(index: CampusIndex, query: str, name: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.NOT_FOUND
    assert result.suggestions == (name,)


@pytest.mark.parametrize("bad", ["", "   ", "x" * (MAX_QUERY_LENGTH + 1)])
def test_invalid_queries(index: CampusIndex, bad: str) -> None:
    with pytest.raises(InvalidQuery):
        lookup(index, bad)


def test_limit(index: CampusIndex) -> None:
    assert len(lookup(index, "classroom", limit=2).candidates) == 2



# --- issue 5: never confidently wrong, every place findable, dispatcher phrasing ---------------


def _variant(extra_units: list[Unit]) -> CampusIndex:
    """The small campus with more rooms on building A's ground floor (east of the map)."""
    campus = number_exterior_doors(small_campus())
    return CampusIndex(dataclasses.replace(campus, units=(*campus.units, *extra_units)))


def _room(campus_index: CampusIndex, number: str, name: str, x: float, *,
          category: str = "room", approximate: bool = False, ordinal: int = 0) -> Unit:
    level = next(lv for lv in campus_index.campus.levels
                 if lv.building_id == "A" and lv.ordinal == ordinal)
    shape = campus_index.frame.to_wgs84(box(x, -20.0, x + 2.0, -18.0))
    return Unit(stable_id("variant", number, name, x), "A", level.id, number, name, shape,
                category=category, approximate=approximate)


def _one_answer(result: LookupResult) -> None:
    """FOUND lists one answer, then only alternatives flagged as such."""
    assert result.status is Status.FOUND, result.message
    assert all(any(f.startswith("also ") for f in c.flags) for c in result.candidates[1:])
    assert "1 match" in result.message


def test_a_room_number_beats_a_cell_spelled_alike(index: CampusIndex) -> None:
    # room B-12 exists and B12 is a cell of the 8 x 6 grid: the room, then the cell flagged
    result = lookup(index, "B12")
    _one_answer(result)
    assert result.candidates[0].unit_number == "B-12"
    cell = lookup(index, "grid B2").candidates[0]
    assert cell.match is MatchKind.CELL
    room = lookup(_variant([_room(index, "C4", "Storage", 25.0)]), "C4")
    _one_answer(room)
    assert room.candidates[0].unit_number == "C4"
    assert [c.match for c in room.candidates] == [MatchKind.UNIT_NUMBER, MatchKind.CELL]
    assert room.candidates[1].flags == ("also a grid cell",) and room.candidates[1].score < 90


def test_a_cell_only_when_the_grid_has_it_and_never_with_leading_zeros(
    index: CampusIndex
) -> None:
    # A015 has row 15 (the grid has 6) and is written as rooms are: never a cell
    assert lookup(index, "A015").status is Status.NOT_FOUND
    assert lookup(index, "C04").status is Status.NOT_FOUND
    with_room = _variant([_room(index, "A015", "Office", 25.0)])
    result = lookup(with_room, "A015")
    _one_answer(result)
    assert result.candidates[0].unit_number == "A015"
    assert all(c.match is not MatchKind.CELL for c in result.candidates)
    # a said cell is a cell even when a room has that number
    said = lookup(_variant([_room(index, "C4", "Storage", 25.0)]), "grid C4")
    assert [c.match for c in said.candidates] == [MatchKind.CELL]


@pytest.mark.parametrize("query", ["room 214", "214", "gym", "main office", "B12", "door 3",
                                   "building b", "front lot", "main hall", "two fourteen"])
def test_found_never_lists_several_answers(index: CampusIndex, query: str) -> None:
    _one_answer(lookup(index, query))


@pytest.mark.parametrize("query", ["xyzzy plugh", "bus loop", "auditorium", "room 999",
                                   "door 9", "portable 7", "main st", "scyenz"])
def test_not_found_suggests_nothing_unrelated(index: CampusIndex, query: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.NOT_FOUND
    assert result.suggestions == ()


@pytest.mark.parametrize(("query", "building"), [
    ("building B", "B"), ("building a", "A"), ("bldg b", "B"), ("main building", "A"),
    ("the gym building", "B"), ("main", "A"), ("Gymnasium building", "B"),
])
def test_buildings_by_letter_name_and_alias(index: CampusIndex, query: str,
                                            building: str) -> None:
    result = lookup(index, query)
    _one_answer(result)
    best = result.candidates[0]
    assert (best.match, best.feature_type, best.building_id) == (
        MatchKind.BUILDING, "building", building)
    # where to go: the main entrance first, and the building's own Knox box
    mains = [o for o in index.campus.exterior_doors(building) if o.main_entrance]
    assert best.nearest_doors[0].feature_id == mains[0].id
    x, y = index.frame.xy(best.lon, best.lat)
    assert index.footprints[building].contains(Point(x, y))


def test_grounds_by_name_and_kind(index: CampusIndex) -> None:
    for query in ("front lot", "the front lot", "parking lot", "parking"):
        result = lookup(index, query)
        _one_answer(result)
        best = result.candidates[0]
        assert (best.match, best.feature_type, best.kind) == (
            MatchKind.GROUNDS, "grounds", "parking"), query
        assert best.level_name == "Outdoors" and best.primary_cell


def test_hallways_by_name(index: CampusIndex) -> None:
    result = lookup(index, "main hall")
    _one_answer(result)
    assert result.candidates[0].match is MatchKind.HALLWAY
    assert result.candidates[0].unit_name == "Main Hall"


def test_points_by_their_own_names(index: CampusIndex) -> None:
    result = lookup(index, "AED by Main Office")
    assert result.candidates[0].label.split(" · ")[2] == "AED by Main Office"
    gas = lookup(index, "gas shut off")
    assert gas.status is Status.FOUND and gas.candidates[0].kind == "gas_shutoff"


def test_an_approximate_room_is_found_and_never_presented_as_exact(index: CampusIndex) -> None:
    variant = _variant([_room(index, "107", "Storage Closet", 25.0, approximate=True)])
    for query in ("107", "room 107", "storage closet"):
        result = lookup(variant, query)
        best = result.candidates[0]
        assert best.unit_number == "107", query
        assert best.approximate and "label only, no outline" in best.flags
        assert "approximate location" in best.label
        assert best.to_dict()["approximate"] is True


@pytest.mark.parametrize("query", [
    "room 214 2nd floor", "214 upstairs", "214 second floor", "room 214 on the 2nd floor",
    "they're in 214", "caller says room 214", "two fourteen", "room two one four",
    "two hundred fourteen", "2l4", "2I4", "rm214", "room 214 science lab",
    "where's room 214", "A-214", "A214", "214 level 2", "room 214 please",
])
def test_dispatcher_phrasings_of_room_214(index: CampusIndex, query: str) -> None:
    result = lookup(index, query)
    _one_answer(result)
    assert result.candidates[0].unit_number == "214"


@pytest.mark.parametrize(("query", "number"), [("1O4", "104"), ("room one oh four", "104"),
                                               ("one oh one", "101"), ("in the library by the "
                                                                       "windows", "103"),
                                               ("man with a gun in the cafeteria", "104"),
                                               ("room 214 is on fire", "214"),
                                               ("cafeteria fire", "104"),
                                               ("person injured library", "103"),
                                               ("student injured in the library", "103"),
                                               ("smoke in 1O4", "104"),
                                               ("library downstairs", "103")])
def test_more_phrasings(index: CampusIndex, query: str, number: str) -> None:
    result = lookup(index, query)
    _one_answer(result)
    assert result.candidates[0].unit_number == number


def test_a_floor_the_room_is_not_on_is_a_partial_match(index: CampusIndex) -> None:
    for query in ("214 downstairs", "room 214 1st floor", "library 2nd floor"):
        result = lookup(index, query)
        assert result.status is Status.AMBIGUOUS, query
        assert "not on the floor the caller said" in result.candidates[0].flags


def test_a_floor_alone_names_no_place(index: CampusIndex) -> None:
    for query in ("2nd floor", "upstairs", "basement"):
        assert lookup(index, query).status is Status.NOT_FOUND


@pytest.mark.parametrize("query", ["auxiliary gym", "north library", "old cafeteria",
                                   "main st"])
def test_an_unknown_word_next_to_a_name_is_never_found(index: CampusIndex, query: str) -> None:
    # "auxiliary gym" is not the gym: the campus has no such place, so at most a partial
    assert lookup(index, query).status is not Status.FOUND


@pytest.mark.parametrize(("query", "building", "number"), [
    ("gym door 2", "B", "2"), ("door 2 gym", "B", "2"), ("door 2 in the gym", "B", "2"),
    ("main building door 3", "A", "3"), ("door 3 main building", "A", "3"),
    ("door number 2 building b", "B", "2"), ("door two gym", "B", "2"),
])
def test_door_phrasings_with_a_building(index: CampusIndex, query: str, building: str,
                                        number: str) -> None:
    result = lookup(index, query)
    _one_answer(result)
    best = result.candidates[0]
    assert (best.match, best.building_id) == (MatchKind.DOOR, building)
    assert best.label.split(" · ")[2].startswith(f"Door {number}")


def test_the_gym_doors_are_all_its_exterior_doors(index: CampusIndex) -> None:
    for query in ("the gym doors", "gym doors", "building b doors", "all doors building b"):
        result = lookup(index, query)
        assert result.status is Status.FOUND, query
        assert {c.feature_id for c in result.candidates} == {
            o.id for o in index.campus.exterior_doors("B")}, query
    # "library doors" would be the library's own doors, which the map does not hold
    assert lookup(index, "library doors").status is not Status.FOUND


def test_restrooms_by_gender_from_imdf_categories_and_names(index: CampusIndex) -> None:
    variant = _variant([
        _room(index, "120", "Restroom", 22.0, category="restroom.male"),
        _room(index, "121", "Restroom", 25.0, category="restroom.female"),
        _room(index, "122", "Staff Restroom", 28.0, category="restroom.unisex"),
        _room(index, "220", "Girls", 22.0, category="restroom", ordinal=1),
        _room(index, "221", "Boys", 25.0, category="restroom", ordinal=1),
    ])
    two = lookup(variant, "boys bathroom")  # one per floor: which?
    assert two.status is Status.AMBIGUOUS
    assert {c.unit_number for c in two.candidates[:2]} == {"120", "221"}
    expected = {"boys bathroom downstairs": "120", "mens room 1st floor": "120",
                "girls restroom ground floor": "121", "ladies room downstairs": "121",
                "staff restroom": "122", "staff bathroom": "122",
                "girls restroom 2nd floor": "220", "boys bathroom upstairs": "221",
                "boys bathroom near the library": "120",
                "girls bathroom near room 214": "220"}
    for query, number in expected.items():
        result = lookup(variant, query)
        assert result.status is Status.FOUND, (query, result.message)
        assert result.candidates[0].unit_number == number, query


def test_restrooms_of_unknown_gender_are_offered_not_assumed(index: CampusIndex) -> None:
    variant = _variant([_room(index, "120", "Restrooms", 22.0)])
    result = lookup(variant, "boys bathroom")
    assert result.status is Status.AMBIGUOUS
    assert result.candidates[0].unit_number == "120"
    assert "restroom gender not marked on the map" in result.candidates[0].flags


def test_usng_without_its_zone(index: CampusIndex) -> None:
    unit = next(u for u in index.campus.units if u.number == "B-12")
    p = index.frame.to_wgs84(index.label_point(unit))
    full = to_usng(p.x, p.y)  # "16T GN 12345 67890"
    _zone, square, east, north = full.split(" ")
    for query in (f"{square} {east} {north}", f"{east} {north}"):
        result = lookup(index, query)
        assert result.status is Status.FOUND, query
        assert result.candidates[0].match is MatchKind.USNG
        assert result.candidates[0].unit_number == "B-12", query
    ten_metres = lookup(index, f"{square} {east[:4]} {north[:4]}").candidates[0]
    here = index.label_point(unit)
    # the centre of the 10 m square that holds the point (the local frame is turned a little)
    assert Point(*index.frame.xy(ten_metres.lon, ten_metres.lat)).distance(here) < 10.0
    # digits run together are no reference; another square is off this campus
    assert lookup(index, f"{east}{north}").status is Status.NOT_FOUND


@pytest.mark.parametrize("query", ["42.7001, -84.4300 ", "42.700100N 84.430000W",
                                   "42.7001° N, 84.4300° W", "lat 42.7001 lon -84.43",
                                   "42°42'00.4\"N 84°25'48.0\"W", "42°42.006'N, 84°25.80'W"])
def test_coordinates_as_dispatch_systems_print_them(index: CampusIndex, query: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND, query
    assert result.candidates[0].match is MatchKind.LONLAT
    lon, lat = result.candidates[0].lon, result.candidates[0].lat
    assert abs(lat - 42.7001) < 1e-3 and abs(lon + 84.43) < 1e-3


def test_every_answer_carries_floor_aware_nearby_items(index: CampusIndex) -> None:
    best = lookup(index, "room 214").candidates[0]
    # from the 2nd floor: the 2nd-floor AED first, said as on the same level
    assert best.nearest_aed is not None and best.nearest_aed.name == "AED 2nd floor hall"
    assert best.nearest_aed.same_level
    # the exterior doors are downstairs: they say their level
    assert all(d.level_name == "1st Floor" for d in best.nearest_doors)
    assert all(not d.same_level for d in best.nearest_doors)
    payload = best.to_dict()
    for key in ("nearest_trauma_kit", "nearest_stairs", "approximate", "flags"):
        assert key in payload
    downstairs = lookup(index, "room 104").candidates[0]
    assert downstairs.nearest_aed is not None and downstairs.nearest_aed.same_level
    assert downstairs.nearest_aed.name == "AED by Main Office"


def test_nearest_exits_by_walking_or_said_straight(index: CampusIndex) -> None:
    result = lookup(index, "exit closest to room 214")
    assert result.status is Status.FOUND
    assert all(c.match is MatchKind.DOOR and c.building_id == "A" for c in result.candidates)
    assert all(("m walking from Room 214" in c.label) or ("m straight line from Room 214"
                                                          in c.label)
               for c in result.candidates)
    # the doors are on the 1st floor: each label says so
    assert all("on 1st Floor" in c.label for c in result.candidates)


def test_query_with_nul_is_refused(index: CampusIndex) -> None:
    with pytest.raises(InvalidQuery):
        lookup(index, "room\x00214")


# --- the words behind the phrasings --------------------------------------------------------


@pytest.mark.parametrize(("said", "digits"), [
    ("two fourteen", "214"), ("room one oh four", "room 104"), ("room twelve", "room 12"),
    ("two hundred fourteen", "214"), ("one hundred and four", "104"), ("twenty one", "21"),
    ("b twelve", "b 12"), ("door four gym", "door 4 gym"), ("double two", "22"),
    ("the one by the gym", "the one by the gym"), ("oh no", "oh no"),
])
def test_spoken_numbers(said: str, digits: str) -> None:
    assert spoken_numbers(said) == digits


@pytest.mark.parametrize(("typed", "read"), [("1O4", "104"), ("2l4", "214"), ("a0l5", "a015"),
                                             ("2I4", "214"), ("214", None), ("hello", None)])
def test_lookalike_digits(typed: str, read: str | None) -> None:
    assert lookalike_digits(typed) == read


@pytest.mark.parametrize(("said", "number", "relation", "rest"), [
    ("room 214 2nd floor", 2, None, "room 214"), ("214 upstairs", None, "upstairs", "214"),
    ("girls restroom second floor", 2, None, "girls restroom"),
    ("on the 1st floor library", 1, None, "library"), ("floor two", 2, None, ""),
    ("aed in the basement", None, "basement", "aed"), ("A114 1er étage", 1, None, "a114"),
    ("ground floor office", None, "ground", "office"), ("library", None, None, "library"),
])
def test_floor_said(said: str, number: int | None, relation: str | None, rest: str) -> None:
    floor, left = floor_said(said)
    if number is None and relation is None:
        assert floor is None
    else:
        assert floor is not None and (floor.number, floor.relation) == (number, relation)
    assert left == rest


@pytest.mark.parametrize(("name", "numbers"), [
    ("2nd Floor", {2}), ("1st Floor", {1}), ("1. Obergeschoss / 1er étage", {1}),
    ("Erdgeschoss / Rez-de-chaussée", set()), ("Level 3", {3}), ("Second Floor", {2}),
])
def test_level_numbers(name: str, numbers: set[int]) -> None:
    assert level_numbers(name) == numbers


@pytest.mark.parametrize(("said", "gender"), [
    ("boys bathroom", "male"), ("Toilettes Garçons", "male"), ("mens room", "male"),
    ("girls restroom", "female"), ("ladies room", "female"), ("Toilettes Filles", "female"),
    ("staff wc", "staff"), ("unisex restroom", "unisex"), ("restroom", None),
])
def test_restroom_gender(said: str, gender: str | None) -> None:
    assert is_restroom_phrase(said)
    assert restroom_gender(said) == gender


def test_restroom_gender_from_imdf_categories() -> None:
    assert category_gender("restroom.male") == "male"
    assert category_gender("restroom.female") == "female"
    assert category_gender("restroom.unisex.wheelchair") == "unisex"
    assert category_gender("restroom") is None and category_gender("classroom") is None


@pytest.mark.parametrize("query", [
    " by ".join("abcdefghijklmnopqrstuvwxyz")[:MAX_QUERY_LENGTH],
    ("aed near " * 30)[:MAX_QUERY_LENGTH], ("gym in " * 40)[:MAX_QUERY_LENGTH],
    ("nearest aed to " * 20)[:MAX_QUERY_LENGTH], ("x " * 100)[:MAX_QUERY_LENGTH],
    "in in in", "by by by", "? near ?", "near " * 39,
])
def test_no_phrasing_makes_the_work_explode(index: CampusIndex, query: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_for(index)
    calls: list[str] = []
    real = engine.lookup

    def counted(text: str, limit: int = 10) -> LookupResult:
        calls.append(text)
        return real(text, limit)

    monkeypatch.setattr(engine, "lookup", counted)
    result = engine.lookup(query)
    # parts of parts are looked up at most two deep: a handful of lookups, not 2^n
    assert len(calls) <= 12, len(calls)
    assert result.status in (Status.NOT_FOUND, Status.AMBIGUOUS, Status.FOUND)
    if query in ("in in in", "by by by", "? near ?"):
        assert result.status is Status.NOT_FOUND


def test_a_restroom_word_is_never_one_room_merely_named_restroom(index: CampusIndex) -> None:
    # one room is named just "Restroom", another "Girls": "toilet" could be either
    variant = _variant([_room(index, "120", "Restroom", 22.0),
                        _room(index, "121", "Girls", 25.0, category="restroom")])
    for query in ("toilet", "restroom", "bathroom"):
        assert lookup(variant, query).status is Status.AMBIGUOUS, query
    girls = lookup(variant, "girl toilet")
    assert girls.status is Status.FOUND and girls.candidates[0].unit_number == "121"


def test_a_point_in_a_multi_level_building_lists_every_level(index: CampusIndex) -> None:
    upper = next(u for u in index.campus.units if u.number == "214")
    p = index.frame.to_wgs84(index.label_point(upper))
    result = lookup(index, f"{p.y:.6f}, {p.x:.6f}")
    best = result.candidates[0]
    below = index.units_at(*index.frame.xy(p.x, p.y), 0)[0]
    assert "1st Floor" in best.label and "2nd Floor" in best.label
    assert f"Room {below.number}" in best.label and "Room 214" in best.label


def test_answers_are_json_ready(index: CampusIndex) -> None:
    for query in ("room 214", "building b", "front lot", "knox box", "C4", "door 2 gym"):
        payload = json.loads(json.dumps(lookup(index, query).to_dict()))
        for c in payload["candidates"]:
            assert isinstance(c["flags"], list) and isinstance(c["approximate"], bool)
            for key in ("nearest_trauma_kit", "nearest_stairs"):
                assert key in c
            for d in c["nearest_doors"]:
                assert {"level_name", "same_level", "distance_kind", "via"} <= set(d)


# --- restrooms near a place: the same level first, then walking distance ------------------


def _walk_restrooms(*, hallways: bool = True) -> CampusIndex:
    """Building W with boys' restrooms in room 102 (ground floor, at the far end of the
    hallway from 103) and room 203 (first floor, right above 103)."""
    campus = walk_campus(hallways=hallways)
    units = tuple(dataclasses.replace(u, category="restroom.male", name="Restroom")
                  if u.number in ("102", "203") else u for u in campus.units)
    return CampusIndex(dataclasses.replace(campus, units=units))


def test_restroom_near_a_room_is_on_its_floor_first_by_walking_distance() -> None:
    ix = _walk_restrooms()
    result = lookup(ix, "boys bathroom near room 103")
    assert result.status is Status.FOUND
    first, second = result.candidates[:2]
    # 203 is right above 103 (0 m in a straight line), but the stairs are a walk away
    assert (first.unit_number, first.level_name) == ("102", "Ground Floor")
    assert "m walking from Room 103" in first.label and " · on " not in first.label
    assert (second.unit_number, second.level_name) == ("203", "First Floor")
    assert second.label.endswith("· on First Floor via Stair 2")

    origin = ix.label_point(next(u for u in ix.campus.units if u.number == "103"))
    rooms = [u for u in ix.campus.units if u.number in ("102", "203")]
    near = ix.nearest_units(rooms, origin, 2, level_id=rooms[0].level_id)
    assert [(n.number, n.same_level, n.distance_kind, n.via) for n in near] == [
        ("102", True, "walking", None), ("203", False, "walking", "Stair 2")]
    straight = origin.distance(ix.label_point(rooms[0]))
    # out of 103 by its door, down the hallway's north leg, along its west leg, in by 102's
    assert straight < near[0].distance_m < straight + 15
    assert near[1].distance_m > 20  # to Stair 2 and back, not the 0 m line straight up


def test_restroom_near_a_room_without_hallway_data_says_straight_line() -> None:
    ix = _walk_restrooms(hallways=False)
    result = lookup(ix, "boys bathroom near room 103")
    assert [c.unit_number for c in result.candidates[:2]] == ["102", "203"]
    assert "m straight line from Room 103" in result.candidates[0].label
    assert result.candidates[1].label.endswith("· on First Floor via Stair 2")


def test_restroom_near_a_building_prefers_that_building_by_straight_line(
        index: CampusIndex) -> None:
    variant = _variant([_room(index, "120", "Restroom", 22.0, category="restroom.male")])
    result = lookup(variant, "restroom near building a")
    assert result.status is Status.FOUND
    assert result.candidates[0].unit_number == "120"
    assert "straight line from Building A" in result.candidates[0].label


def test_hallway_near_a_room_is_its_own_floors_met_at_its_door() -> None:
    ix = CampusIndex(walk_campus())
    result = lookup(ix, "hallway near room 203")
    assert result.status is Status.FOUND
    first, *others = result.candidates
    assert (first.unit_name, first.level_name) == ("First Floor Hall", "First Floor")
    # from 203's middle out through its door onto the hallway: 5 m, not to the hall's middle
    assert "· 5 m walking from Room 203" in first.label
    assert {c.unit_name for c in others} == {"Ground Floor Hall", "Second Floor Hall"}
    assert all(c.label.endswith("via Stair 2") for c in others)


def test_restroom_asked_for_from_inside_a_restroom_is_that_one() -> None:
    result = lookup(_walk_restrooms(), "boys bathroom near room 102")
    assert [c.unit_number for c in result.candidates[:2]] == ["102", "203"]
    assert "· 0 m walking from Room 102" in result.candidates[0].label


# --- phrasings from real calls: hyphens, possessives, other languages, kind then place ------


@pytest.mark.parametrize(("said", "read"), [
    ("rm two-fourteen", "rm 214"), ("room one-oh-four", "room 104"),
    ("door twenty-one", "door 21"), ("x-ray room", "x-ray room"),
    ("two-way radio", "two-way radio"), ("a-214", "a-214")])
def test_number_words_joined_by_hyphens_are_a_number(said: str, read: str) -> None:
    assert spoken_numbers(said) == read


def test_hyphenated_spoken_room_number_finds_the_room(index: CampusIndex) -> None:
    result = lookup(index, "rm two-fourteen")
    assert result.status is Status.FOUND
    assert result.candidates[0].unit_number == "214"


@pytest.mark.parametrize("query", ["gym's door 2", "the gymnasium's door 2", "Gym’s door 2"])
def test_possessive_building_name_reads_as_the_building(index: CampusIndex, query: str) -> None:
    plain = lookup(index, "gym door 2")
    result = lookup(index, query)
    assert plain.status is Status.FOUND and result.status is Status.FOUND
    assert [c.feature_id for c in result.candidates] == [c.feature_id for c in plain.candidates]
    assert result.candidates[0].building_id == "B"


def test_possessive_of_an_unknown_word_is_not_a_building(index: CampusIndex) -> None:
    # "teacher's" names no building: no door of any building is assumed
    result = lookup(index, "teacher's door 2")
    assert result.status is not Status.FOUND


@pytest.mark.parametrize("query", ["Brand in der Cafeteria", "Feuer im Cafeteria",
                                   "incendie dans la cafeteria", "fumée cafeteria",
                                   "Verletzter in der Cafeteria"])
def test_incident_words_in_german_and_french_are_context(index: CampusIndex,
                                                         query: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND
    assert len(result.candidates) == 1
    assert result.candidates[0].unit_number == "104"


def test_kind_then_place_without_near_is_the_nearest_of_that_kind(index: CampusIndex) -> None:
    result = lookup(index, "AED Cafeteria")
    near = lookup(index, "AED near the cafeteria")
    assert result.status is Status.FOUND
    assert "AED by Main Office" in result.candidates[0].label  # same floor as the cafeteria
    assert [c.feature_id for c in result.candidates] == [c.feature_id for c in near.candidates]


@pytest.mark.parametrize("query", ["AED 214", "AED xyzzy"])
def test_kind_then_number_or_unknown_place_is_never_a_nearest_answer(index: CampusIndex,
                                                                     query: str) -> None:
    result = lookup(index, query)
    assert result.status is not Status.FOUND or result.candidates[0].match is not MatchKind.AMENITY


def test_a_kind_with_a_floor_is_still_that_floors_set(index: CampusIndex) -> None:
    # "aed 2nd floor" is the floor's AEDs, not the nearest AED to some place
    result = lookup(index, "aed 2nd floor")
    assert result.status is Status.FOUND
    assert ["AED 2nd floor hall" in c.label for c in result.candidates] == [True]


def test_compound_place_word_is_offered_not_assumed(index: CampusIndex) -> None:
    # "Besucherparkplatz" (visitor parking): the one lot is offered, never certain, because
    # no lot here is for visitors
    result = lookup(index, "Besucherparkplatz")
    assert result.status is Status.AMBIGUOUS
    assert ["Front lot" in c.label for c in result.candidates] == [True]


def test_compound_place_word_resolves_when_its_qualifier_names_one() -> None:
    campus = small_campus()
    staff = dataclasses.replace(campus.grounds[0], id="staff-lot", name="Staff lot")
    idx = CampusIndex(number_exterior_doors(
        dataclasses.replace(campus, grounds=(*campus.grounds, staff))))
    result = lookup(idx, "Lehrerparkplatz")  # Lehrer = teachers: the staff lot
    assert result.status is Status.FOUND
    assert [c.feature_id for c in result.candidates] == ["staff-lot"]
    both = lookup(idx, "Parkplatz")
    assert both.status is Status.AMBIGUOUS
    assert {c.feature_id for c in both.candidates} == {"staff-lot", campus.grounds[0].id}
