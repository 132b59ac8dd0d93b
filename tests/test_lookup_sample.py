"""Dispatcher lookups on the imported sample campus (data/samples/lincoln_ridge)."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import Point

from gridmap import grid
from gridmap.index import CampusIndex
from gridmap.lookup import Candidate, LookupResult, MatchKind, Status, lookup
from gridmap.model import AmenityKind
from importers.campus import import_campus

MANIFEST = Path(__file__).resolve().parents[1] / "data/samples/lincoln_ridge/campus.toml"


@pytest.fixture(scope="module")
def index() -> CampusIndex:
    return CampusIndex(import_campus(MANIFEST).campus)


@pytest.mark.parametrize("query", ["room 214", "rm 214", "214", "A-214", "A214"])
def test_room_214_is_on_the_second_floor_of_the_main_building(
    index: CampusIndex, query: str
) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND
    best = result.candidates[0]
    building = index.buildings[best.building_id or ""]
    assert (building.short_name, best.level_ordinal, best.level_name) == ("A", 1, "2nd Floor")
    unit = next(u for u in index.campus.units if u.number == "214")
    assert best.primary_cell == grid.primary_cell(index.grid, index.shapes[unit.id]).label


def test_room_letter_and_cell_label_collide(index: CampusIndex) -> None:
    # the sample has both a room C-4 (Early Childhood Center) and a grid cell C4: the room
    # wins, and the cell follows only as an alternative flagged as such
    result = lookup(index, "C4")
    assert result.status is Status.FOUND
    assert result.candidates[0].unit_number == "C-4"
    assert [c.match for c in result.candidates] == [MatchKind.UNIT_NUMBER, MatchKind.CELL]
    assert result.candidates[1].flags == ("also a grid cell",)
    assert result.candidates[1].score < 90
    for said in ("grid C4", "cell C4", "grid c4"):
        only = lookup(index, said)
        assert only.status is Status.FOUND
        assert [c.match for c in only.candidates] == [MatchKind.CELL], said
    assert lookup(index, "room C-4").candidates[0].unit_number == "C-4"


def test_outdoor_points_say_outdoors_and_name_door_buildings(index: CampusIndex) -> None:
    result = lookup(index, "rally point")
    assert result.status is Status.FOUND
    best = result.candidates[0]
    assert best.level_name == "Outdoors"
    assert all(d.building_short_name for d in best.nearest_doors)


def test_every_room_is_found_by_its_number(index: CampusIndex) -> None:
    for unit in index.campus.units:
        if not unit.number:
            continue
        result = lookup(index, f"room {unit.number}")
        assert result.candidates[0].feature_id == unit.id, unit.number


def test_ties_are_listed_in_building_order(index: CampusIndex) -> None:
    # building ids are opaque; the order a dispatcher reads is by building letter
    result = lookup(index, "door 3")
    assert result.status is Status.AMBIGUOUS
    letters = [index.buildings[c.building_id or ""].short_name for c in result.candidates]
    assert letters == ["A", "B", "C"]


@pytest.mark.parametrize(("query", "building", "answer"), [
    ("room 12 in the gym", "B", "Room B-12 Weight Room"),
    ("214 in the main building", "A", "Room 214 Science Lab"),
    ("door 2 in the gym", "B", "Door 2"),
    ("aed in the gym", "B", "AED - Gym Lobby"),
    ("stop the bleed", "A", "Trauma Kit - Main Office"),
    ("cafe", "A", "Room 115 Cafeteria"),
    ("lib", "A", "Room 113 Library"),
])
def test_spoken_phrasings(index: CampusIndex, query: str, building: str, answer: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND, result.message
    best = result.candidates[0]
    assert index.buildings[best.building_id or ""].short_name == building
    assert answer in best.label


@pytest.mark.parametrize(("query", "kind", "place"), [
    ("aed near the cafeteria", "aed", "Room 115 Cafeteria"),
    ("nearest knox box to room 214", "knox_box", "Room 214 Science Lab"),
    ("closest aed to the gym", "aed", "Room B-1 Gymnasium"),
    ("nearest trauma kit to room 214", "trauma_kit", "Room 214 Science Lab"),
])
def test_nearest_point_of_a_kind_to_a_place(
    index: CampusIndex, query: str, kind: str, place: str
) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND
    assert all(c.kind == kind for c in result.candidates)
    target = lookup(index, place.split(" ", 2)[1] if place.startswith("Room") else place)
    room = target.candidates[0]
    # the same building's first, then the caller's level, then by distance as people walk
    expected = index.nearest_amenities(
        AmenityKind(kind), Point(*index.frame.xy(room.lon, room.lat)), room.building_id, 3,
        level_id=next(u.level_id for u in index.campus.units if u.id == room.feature_id))
    assert [c.feature_id for c in result.candidates] == [n.feature_id for n in expected]
    first = result.candidates[0]
    how = "walking" if expected[0].distance_kind == "walking" else "straight line"
    assert f"m {how} from {place}" in first.label
    if not expected[0].same_level:
        assert f"on {expected[0].level_name}" in first.label


def test_nearest_on_another_level_names_it_and_the_stairs(index: CampusIndex) -> None:
    # the 2nd floor has a trauma kit, the 1st floor's library does not: the kit named is on
    # the library's own level if there is one, else its label says the level and the stairs
    result = lookup(index, "trauma kit near the library")
    assert result.status is Status.FOUND
    library = lookup(index, "library").candidates[0]
    for c in result.candidates:
        if c.level_ordinal != library.level_ordinal:
            assert f"on {c.level_name}" in c.label and " via " in c.label


def test_exits_nearest_a_room_are_its_buildings_doors_by_distance(index: CampusIndex) -> None:
    result = lookup(index, "exit closest to room 214")
    assert result.status is Status.FOUND
    room = lookup(index, "room 214").candidates[0]
    assert [c.label.split(" · ")[2] for c in result.candidates] == [
        f"Door {d.number}" for d in room.nearest_doors]


# --- issue 5 on the sample campuses -----------------------------------------------------------

SECOND = Path(__file__).resolve().parents[1] / "data/samples/riverside_international/campus.toml"


@pytest.fixture(scope="module")
def second() -> CampusIndex:
    return CampusIndex(import_campus(SECOND).campus)


def _found_one(result: LookupResult) -> Candidate:
    assert result.status is Status.FOUND, (result.query, result.message)
    assert all(any(f.startswith("also ") for f in c.flags) for c in result.candidates[1:])
    return result.candidates[0]


@pytest.mark.parametrize(("query", "letter"), [
    ("building C", "C"), ("preschool", "C"), ("the ECC", "C"), ("early childhood center", "C"),
    ("high school", "A"), ("main building", "A"), ("building b", "B"), ("athletics", "B"),
    ("ecc building", "C"),
])
def test_buildings_by_letter_name_and_every_alias(index: CampusIndex, query: str,
                                                  letter: str) -> None:
    best = _found_one(lookup(index, query))
    assert best.match is MatchKind.BUILDING
    assert index.buildings[best.building_id or ""].short_name == letter
    assert best.nearest_knox_box is not None
    assert best.nearest_knox_box.building_id == best.building_id


def test_every_building_alias_of_the_manifest_finds_its_building(index: CampusIndex) -> None:
    for b in index.campus.buildings:
        for alias in (*b.aliases, b.name, f"building {b.short_name}"):
            best = lookup(index, alias).candidates[0]
            # a room may be the building's own place ("gym" -> the Gymnasium of building B)
            assert best.building_id == b.id, alias


@pytest.mark.parametrize(("query", "name"), [
    ("south lot", "South Lot"), ("varsity field", "Varsity Field"), ("the field", "Varsity Field"),
    ("playground", "ECC Playground"), ("gym lot", "Gym Lot"), ("campus drive", "Campus Drive"),
    ("south parking lot", "South Lot"), ("ridgeline road", "Ridgeline Road"),
])
def test_grounds_features_by_name_and_kind(index: CampusIndex, query: str, name: str) -> None:
    best = _found_one(lookup(index, query))
    assert (best.match, best.feature_type) == (MatchKind.GROUNDS, "grounds")
    assert name in best.label


def test_a_kind_with_several_grounds_features_asks_which(index: CampusIndex) -> None:
    result = lookup(index, "parking lot")
    assert result.status is Status.AMBIGUOUS
    assert {c.label.split(" · ")[1].split(" (")[0] for c in result.candidates} >= {
        "South Lot", "Gym Lot"}


@pytest.mark.parametrize(("query", "name"), [
    ("chemical storage", "Chemical storage"), ("gas meter", "Gas meter and shutoff"),
    ("fire alarm annunciator", "Fire alarm annunciator - Gym"),
    ("main electrical disconnect", "Main electrical disconnect"),
])
def test_points_and_hazards_by_their_own_names(index: CampusIndex, query: str,
                                               name: str) -> None:
    best = _found_one(lookup(index, query))
    assert best.feature_type == "amenity" and name in best.label


@pytest.mark.parametrize(("query", "name", "ordinal"), [
    ("main hall", "Main Hall", 0), ("second floor hall", "Second Floor Hall", 1),
    ("ecc hall", "ECC Hall", 0), ("athletics corridor", "Athletics Corridor", 0),
])
def test_hallways_by_name(index: CampusIndex, query: str, name: str, ordinal: int) -> None:
    best = _found_one(lookup(index, query))
    assert (best.match, best.unit_name, best.level_ordinal) == (MatchKind.HALLWAY, name, ordinal)


@pytest.mark.parametrize(("query", "answer"), [
    ("room 214 2nd floor", "Room 214 Science Lab"), ("214 upstairs", "Room 214 Science Lab"),
    ("they're in 214", "Room 214 Science Lab"), ("two fourteen", "Room 214 Science Lab"),
    ("in the library by the windows", "Room 113 Library"), ("room one oh four", "Room 104"),
    ("1O4", "Room 104"), ("2l4", "Room 214"), ("gym door 4", "Door 4"),
    ("door 4 gym", "Door 4"), ("ECC door 2", "Door 2"), ("staff restroom", "Room 116"),
    ("restroom upstairs", "Room 206 Restrooms"), ("the weight room", "Room B-12"),
    ("fire in the kitchen", "Room 110 Kitchen"), ("science prep", "Room 215"),
])
def test_issue_phrasings(index: CampusIndex, query: str, answer: str) -> None:
    assert answer in _found_one(lookup(index, query)).label


def test_the_gym_doors_are_every_exterior_door_of_the_gym(index: CampusIndex) -> None:
    result = lookup(index, "the gym doors")
    assert result.status is Status.FOUND
    gym = next(b.id for b in index.campus.buildings if b.short_name == "B")
    assert {c.feature_id for c in result.candidates} == {
        o.id for o in index.campus.exterior_doors(gym)}


def test_gendered_restroom_not_on_the_map_is_offered_not_assumed(index: CampusIndex) -> None:
    # the sample's restrooms say no gender ("Restrooms", "Restroom")
    for query in ("boys bathroom near the library", "girls restroom 2nd floor"):
        result = lookup(index, query)
        assert result.status is Status.AMBIGUOUS, query
        assert "restroom gender not marked on the map" in result.candidates[0].flags


def test_every_room_of_the_european_sample_is_its_number_never_a_cell(
    second: CampusIndex
) -> None:
    for unit in second.campus.units:
        if not unit.number:
            continue
        best = _found_one(lookup(second, unit.number))
        assert best.feature_id == unit.id, unit.number
        assert best.match is MatchKind.UNIT_NUMBER


def test_european_numbers_as_written(second: CampusIndex) -> None:
    for query, number in (("E003bis", "E003BIS"), ("E003 bis", "E003BIS"), ("B015 a", "B015 A"),
                          ("b013a", "B013A"), ("A104 a", "A104A"), ("AO15", "A015")):
        assert _found_one(lookup(second, query)).unit_number == number, query
    # both halves of B015: which one?
    halves = lookup(second, "B015")
    assert halves.status is Status.AMBIGUOUS
    assert {c.unit_number for c in halves.candidates} >= {"B015 A", "B015 B"}
    # a number without its zeros is offered, not assumed
    assert lookup(second, "a15").status is Status.AMBIGUOUS


def test_label_only_rooms_are_found_and_flagged(second: CampusIndex) -> None:
    approximate = [u for u in second.campus.units if u.approximate]
    assert approximate, "the second sample has a label with no outline"
    for unit in approximate:
        best = lookup(second, unit.number).candidates[0]
        assert best.feature_id == unit.id and best.approximate
        assert "label only, no outline" in best.flags


def test_floor_words_on_european_levels(second: CampusIndex) -> None:
    # "1st floor" is the 1. Obergeschoss (one above the ground floor), by the level's name
    toilets = _found_one(lookup(second, "girls toilet 1st floor"))
    assert (toilets.unit_number, toilets.level_ordinal) == ("A106", 1)
    aed = lookup(second, "AED basement")
    assert aed.status is Status.FOUND
    assert {c.level_ordinal for c in aed.candidates} == {-1}


def test_a_nearest_answer_on_another_level_names_the_level_and_the_stairs(
    second: CampusIndex
) -> None:
    # the basement's Drama Studio: its exits are upstairs, reached by the stairs
    result = lookup(second, "exit closest to the drama studio")
    assert result.status is Status.FOUND
    for c in result.candidates:
        assert c.level_ordinal == 0
        assert "on Erdgeschoss" in c.label and " via " in c.label, c.label


def test_a_building_without_doors_or_hallways_says_so(second: CampusIndex) -> None:
    # the science block's plans have no door layer: its nearest doors are another building's,
    # measured in a straight line, and the answer says both
    science = next(b.id for b in second.campus.buildings if b.short_name == "B")
    room = next(u for u in second.campus.units if u.building_id == science and u.number)
    best = lookup(second, room.number).candidates[0]
    assert not second.campus.exterior_doors(science)
    assert all(d.building_id != science for d in best.nearest_doors)
    assert "no exterior doors on this building's plans: doors of another building" in best.flags
    assert "straight-line distances: no hallway data" in best.flags
    # a building with hallways and doors says nothing of the kind
    main = lookup(second, "A001").candidates[0]
    assert main.flags == ()
    assert all(d.distance_kind == "walking" for d in main.nearest_doors)


@pytest.mark.parametrize("query", ["athletics main", "gymnasium childhood", "chemistry office",
                                   "main gym electrical", "office chemistry"])
def test_words_of_two_places_are_never_one_answer(index: CampusIndex, query: str) -> None:
    # two buildings named, or a room word that contradicts the name: a choice at most
    assert lookup(index, query).status is not Status.FOUND


@pytest.mark.parametrize(("query", "answer"), [
    ("main gym", "Room B-1 Gymnasium"), ("nurses station", "Room 104 Nurse"),
    ("concession stand", "Room B-14 Concessions"), ("art class", "Room 114 Art Room"),
    ("chem lab", "Room 216 Chemistry Lab"), ("special ed", "Room 103 Special Education"),
    ("room 1 0 4", "Room 104"), ("kitchen fire", "Room 110 Kitchen"),
])
def test_short_forms_room_words_and_context(index: CampusIndex, query: str,
                                            answer: str) -> None:
    assert answer in _found_one(lookup(index, query)).label


def test_a_hallway_by_its_kind_and_floor(index: CampusIndex, second: CampusIndex) -> None:
    for query in ("hallway", "corridor", "hall"):
        assert lookup(index, query).status is Status.AMBIGUOUS, query
    for query in ("hallway 2nd floor", "upstairs hallway"):
        assert _found_one(lookup(index, query)).unit_name == "Second Floor Hall", query
    flur = _found_one(lookup(second, "corridor basement"))
    assert (flur.unit_name, flur.level_ordinal) == ("Flur", -1)


@pytest.mark.parametrize(("query", "what"), [
    ("Raster G2", "Grid cell G2"), ("grille G2", "Grid cell G2"), ("H6 7", "Grid cell H6-7"),
    ("AU 07", "Room AU07"), ("E003 bis salle de motricité", "Room E003BIS"),
    ("A114 OG", "Room A114"),
    ("student down in A114", "Room A114"),
])
def test_european_and_dispatcher_forms(second: CampusIndex, query: str, what: str) -> None:
    assert what in _found_one(lookup(second, query)).label


def test_main_entrance_in_other_languages(second: CampusIndex) -> None:
    mains = {o.id for o in second.campus.openings if o.main_entrance}
    for query in ("Haupteingang", "entrée principale", "main entrance"):
        result = lookup(second, query)
        assert result.status is Status.FOUND
        assert {c.feature_id for c in result.candidates} == mains, query


@pytest.mark.parametrize("query", ["nearest exit rm 108", "nearest aed room 214",
                                   "emergency exit 214"])
def test_nearest_without_to(index: CampusIndex, query: str) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND
    assert result.message.startswith("Nearest ")
    assert all(c.match in (MatchKind.DOOR, MatchKind.AMENITY) for c in result.candidates)


@pytest.mark.parametrize("query", [
    "boys bathroom near the library", "restroom near room 214", "bathroom near the gym",
    "restroom near room 104"])
def test_restrooms_near_a_room_are_on_its_floor_first_by_walking(
        index: CampusIndex, query: str) -> None:
    result = lookup(index, query)
    place = lookup(index, query.split(" near ")[1]).candidates[0]
    floors = [c.level_ordinal == place.level_ordinal for c in result.candidates]
    assert floors[0] and floors == sorted(floors, reverse=True), query  # this floor first
    for c in result.candidates:
        assert " m walking from " in c.label, c.label  # the sample's buildings have hallways
        if c.level_ordinal != place.level_ordinal:
            assert c.label.endswith(tuple(f"via Stair {n}" for n in (1, 2))), c.label


def test_boys_bathroom_near_the_library_is_not_upstairs(index: CampusIndex) -> None:
    # the 2nd floor's restrooms sit closest in a straight line above the 1st-floor library
    result = lookup(index, "boys bathroom near the library")
    assert [c.level_name for c in result.candidates] == ["1st Floor"] * 3
    assert result.candidates[0].unit_number == "C-8"


def test_a_gender_the_map_does_not_mark_is_why_it_asks(index: CampusIndex) -> None:
    one = lookup(index, "girls restroom 2nd floor")
    assert one.message == "Restroom gender not marked on the map: confirm with the caller"
    assert one.candidates[0].unit_number == "206"
    several = lookup(index, "boys bathroom")
    assert several.status is Status.AMBIGUOUS
    assert several.message.endswith(
        "restroom gender not marked on the map: confirm with the caller")
