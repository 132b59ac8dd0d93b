"""Dispatcher lookups on the imported sample campus (data/samples/lincoln_ridge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridmap import grid
from gridmap.index import CampusIndex
from gridmap.lookup import MatchKind, Status, lookup
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
    # the sample has both a room C-4 (Early Childhood Center) and a grid cell C4
    result = lookup(index, "C4")
    assert result.status is Status.AMBIGUOUS
    assert {c.match for c in result.candidates} == {MatchKind.CELL, MatchKind.UNIT_NUMBER}
    assert lookup(index, "grid C4").candidates[0].match is MatchKind.CELL
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
])
def test_nearest_point_of_a_kind_to_a_place(
    index: CampusIndex, query: str, kind: str, place: str
) -> None:
    result = lookup(index, query)
    assert result.status is Status.FOUND
    assert all(c.kind == kind for c in result.candidates)
    target = lookup(index, place.split(" ", 2)[1] if place.startswith("Room") else place)
    origin = index.frame.xy(target.candidates[0].lon, target.candidates[0].lat)
    distances = [((index.frame.xy(c.lon, c.lat)[0] - origin[0]) ** 2
                  + (index.frame.xy(c.lon, c.lat)[1] - origin[1]) ** 2) ** 0.5
                 for c in result.candidates]
    assert distances == sorted(distances)
    # it is the nearest of all of that kind on the campus
    everyone = [a for a in index.campus.amenities if a.kind.value == kind]
    nearest = min(everyone, key=lambda a: ((index.shapes[a.id].x - origin[0]) ** 2
                                           + (index.shapes[a.id].y - origin[1]) ** 2))
    assert result.candidates[0].feature_id == nearest.id
    assert f"m from {place}" in result.candidates[0].label


def test_exits_nearest_a_room_are_its_buildings_doors_by_distance(index: CampusIndex) -> None:
    result = lookup(index, "exit closest to room 214")
    assert result.status is Status.FOUND
    room = lookup(index, "room 214").candidates[0]
    assert [c.label.split(" · ")[2] for c in result.candidates] == [
        f"Door {d.number}" for d in room.nearest_doors]
