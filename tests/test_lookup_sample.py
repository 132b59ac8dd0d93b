"""Dispatcher lookups on the imported sample campus (data/samples/lincoln_ridge)."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import Point

from gridmap import grid
from gridmap.index import CampusIndex
from gridmap.lookup import MatchKind, Status, lookup
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
