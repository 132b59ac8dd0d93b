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
