"""Exterior door numbering: clockwise from the main entrance, stable across re-imports."""

from __future__ import annotations

import dataclasses

import pytest
from shapely.geometry import Point, box

from gridmap.crs import LocalFrame
from gridmap.doors import (
    Direction,
    NewDoorPolicy,
    number_building_doors,
    number_exterior_doors,
    numbering_changes,
)
from gridmap.errors import DoorRenumbering
from gridmap.model import Campus, Opening, stable_id
from tests.campus_factory import small_campus

SQUARE = box(0.0, 0.0, 40.0, 40.0)
# south middle (main), west, north, east: in local metres, y north
DOORS = [Point(20.0, 0.0), Point(0.0, 20.0), Point(20.0, 40.0), Point(40.0, 20.0)]


def test_clockwise_from_main_entrance() -> None:
    # walking clockwise (seen from above) from the south side goes west, north, then east
    assert number_building_doors(SQUARE, DOORS, 0) == ["1", "2", "3", "4"]


def test_counterclockwise_and_other_start() -> None:
    numbers = number_building_doors(SQUARE, DOORS, 2, direction=Direction.COUNTERCLOCKWISE)
    # counter-clockwise from the north door heads west first
    assert numbers == ["3", "2", "1", "4"]


def test_polygon_winding_does_not_matter() -> None:
    reversed_square = box(0.0, 0.0, 40.0, 40.0, ccw=False)
    assert number_building_doors(reversed_square, DOORS, 0) == ["1", "2", "3", "4"]


def test_previous_numbers_are_kept_and_a_new_door_gets_a_suffix() -> None:
    previous = [(p, n) for p, n in zip(DOORS, ["1", "2", "3", "4"], strict=True)]
    # a new door on the north-west corner side, between 2 (west) and 3 (north); door 4 moved 0.8 m
    doors = [DOORS[0], DOORS[1], Point(5.0, 40.0), DOORS[2], Point(40.0, 20.8)]
    assert number_building_doors(SQUARE, doors, 0, previous) == ["1", "2", "2A", "3", "4"]
    assert number_building_doors(SQUARE, doors, 0, previous, policy=NewDoorPolicy.NEXT) == [
        "1", "2", "5", "3", "4"]


def test_removed_door_number_is_never_reused() -> None:
    previous = [(p, n) for p, n in zip(DOORS, ["1", "2", "3", "4"], strict=True)]
    # door 4 bricked up, a new door appears on the east side far from the old one
    doors = [DOORS[0], DOORS[1], DOORS[2], Point(40.0, 5.0)]
    numbers = number_building_doors(SQUARE, doors, 0, previous, policy=NewDoorPolicy.NEXT)
    assert numbers == ["1", "2", "3", "5"]


def test_campus_numbering_and_reimport_stability() -> None:
    campus = number_exterior_doors(small_campus())
    a_numbers = {o.id: o.number for o in campus.openings if o.building_id == "A"}
    main = next(o for o in campus.openings if o.building_id == "A" and o.main_entrance)
    assert a_numbers[main.id] == "1"
    assert sorted(a_numbers.values()) == ["1", "2", "3", "4"]
    assert {o.number for o in campus.openings if o.building_id == "B"} == {"1", "2"}

    # re-import: same doors, shuffled order, plus one new door; old numbers must not move
    frame = LocalFrame(campus.crs)
    new_door = Opening(stable_id("new-door"), "A", campus.openings[0].level_id,
                       frame.to_wgs84(Point(15.0, 20.0)), exterior=True)
    fresh = tuple(dataclasses.replace(o, number=None) for o in reversed(campus.openings))
    reimported = number_exterior_doors(
        dataclasses.replace(campus, openings=(*fresh, new_door)), previous=campus)
    again = {o.id: o.number for o in reimported.openings}
    for door_id, number in a_numbers.items():
        assert again[door_id] == number
    assert again[new_door.id] not in a_numbers.values()
    assert again[new_door.id].endswith("A")


def test_campus_wide_numbering_continues_across_buildings() -> None:
    campus = number_exterior_doors(small_campus(), campus_wide=True)
    numbers = sorted(int(o.number or 0) for o in campus.openings)
    assert numbers == [1, 2, 3, 4, 5, 6]


def test_interior_doors_get_no_number() -> None:
    base = small_campus()
    inner = Opening(stable_id("inner"), "A", base.openings[0].level_id,
                    base.openings[0].geometry, exterior=False)
    campus: Campus = number_exterior_doors(dataclasses.replace(
        base, openings=(*base.openings, inner)))
    assert next(o for o in campus.openings if o.id == inner.id).number is None


@pytest.mark.parametrize("main", [None])
def test_without_main_entrance_numbering_starts_at_the_north(main: int | None) -> None:
    assert number_building_doors(SQUARE, DOORS, main)[2] == "1"


def _moved(campus: Campus, door_id: str, dx: float, dy: float) -> Campus:
    frame = LocalFrame(campus.crs)
    openings = []
    for o in campus.openings:
        if o.id == door_id:
            p = frame.to_local(o.geometry)
            o = dataclasses.replace(o, geometry=frame.to_wgs84(Point(p.x + dx, p.y + dy)))
        openings.append(dataclasses.replace(o, number=None))
    return dataclasses.replace(campus, openings=tuple(openings))


def test_retired_numbers_survive_more_than_one_reimport() -> None:
    first = number_exterior_doors(small_campus())
    north = next(o for o in first.openings if o.building_id == "A" and o.number == "3")
    # import 2: door 3 bricked up
    second = number_exterior_doors(dataclasses.replace(first, openings=tuple(
        dataclasses.replace(o, number=None) for o in first.openings if o.id != north.id)),
        previous=first)
    assert ("A", "3") in second.retired_door_numbers
    assert numbering_changes(second, first) == [
        "building A: exterior door 3 is gone; its number is retired"]
    # import 3: a new door where door 3 was is still not given 3
    third = number_exterior_doors(dataclasses.replace(second, openings=tuple(
        dataclasses.replace(o, number=None) for o in (*second.openings, north))),
        previous=second)
    assert next(o for o in third.openings if o.id == north.id).number != "3"
    assert ("A", "3") in third.retired_door_numbers


def test_wholesale_renumbering_is_refused_unless_allowed() -> None:
    first = number_exterior_doors(small_campus())
    shifted = first
    for o in first.openings:
        if o.building_id == "A":
            shifted = _moved(shifted, o.id, 5.0, 0.0)  # a georeference gone wrong
    with pytest.raises(DoorRenumbering, match=r"building A .*none of the 4 numbered"):
        number_exterior_doors(shifted, previous=first)
    renumbered = number_exterior_doors(shifted, previous=first, allow_renumber=True)
    assert sorted(o.number or "" for o in renumbered.exterior_doors("A")) == ["1", "2", "3", "4"]


def test_a_door_moved_within_tolerance_keeps_its_number() -> None:
    first = number_exterior_doors(small_campus())
    door = next(o for o in first.openings if o.number == "2" and o.building_id == "A")
    again = number_exterior_doors(_moved(first, door.id, 0.0, 1.0), previous=first)
    assert next(o for o in again.openings if o.id == door.id).number == "2"
    assert numbering_changes(again, first) == []


WALL = box(0.0, 0.0, 100.0, 20.0)
# doors every 10 m along the south wall, main entrance at the west end
ROW = [Point(5.0 + 10.0 * k, 0.0) for k in range(8)]


def _painted_row() -> list[tuple[Point, str]]:
    return [(p, n) for p, n in zip(ROW, number_building_doors(WALL, ROW, 0), strict=True)]


def test_a_shift_onto_the_neighbouring_doors_is_refused() -> None:
    # a georeference off by 9.5 m along the wall: every door lands 0.5 m from its neighbour
    shifted = [Point(p.x + 9.5, p.y) for p in ROW[:-1]]
    with pytest.raises(DoorRenumbering, match=r"main entrance \(door 1\) would take door 8's"):
        number_building_doors(WALL, shifted, 0, _painted_row(), previous_main="1")
    # a shift inside the tolerance, every door the same way, is caught too
    nudged = [Point(p.x + 1.0, p.y) for p in ROW]
    with pytest.raises(DoorRenumbering, match=r"moved 1\.0 m the same way"):
        number_building_doors(WALL, nudged, 0, _painted_row(), previous_main="1")


def test_losing_most_painted_doors_is_refused() -> None:
    kept = ROW[:3]  # five of eight doors gone at once
    with pytest.raises(DoorRenumbering, match=r"only 3 of the 8"):
        number_building_doors(WALL, kept, 0, _painted_row())


def test_small_survey_noise_is_not_a_shift() -> None:
    noisy = [Point(p.x + 0.2, p.y + (0.1 if k % 2 else -0.1)) for k, p in enumerate(ROW)]
    assert number_building_doors(WALL, noisy, 0, _painted_row()) == [n for _, n in _painted_row()]


def test_campus_wide_numbers_are_never_duplicated_across_buildings() -> None:
    first = number_exterior_doors(small_campus(), campus_wide=True, policy=NewDoorPolicy.NEXT)
    frame = LocalFrame(first.crs)
    new_door = Opening(stable_id("new-a"), "A", first.openings[0].level_id,
                       frame.to_wgs84(Point(15.0, 20.0)), exterior=True)
    again = number_exterior_doors(
        dataclasses.replace(first, openings=(*(dataclasses.replace(o, number=None)
                                               for o in first.openings), new_door)),
        previous=first, campus_wide=True, policy=NewDoorPolicy.NEXT)
    numbers = [o.number for o in again.openings]
    assert len(numbers) == len(set(numbers))
    assert next(o.number for o in again.openings if o.id == new_door.id) == "7"


def test_the_report_names_each_door_to_paint_or_repaint() -> None:
    first = number_exterior_doors(small_campus())
    frame = LocalFrame(first.crs)
    north = next(o for o in first.openings if o.building_id == "A" and o.number == "3")
    new_door = Opening(stable_id("new-door"), "A", first.openings[0].level_id,
                       frame.to_wgs84(Point(15.0, 20.0)), exterior=True)
    again = number_exterior_doors(dataclasses.replace(first, openings=(
        *(dataclasses.replace(o, number=None) for o in first.openings if o.id != north.id),
        new_door)), previous=first)
    assert numbering_changes(again, first) == [
        "building A: new exterior door numbered 2A; paint it on the door",
        "building A: exterior door 3 is gone; its number is retired",
    ]


def test_an_allowed_renumbering_asks_for_every_door_to_be_repainted() -> None:
    first = number_exterior_doors(small_campus())
    shifted = first
    for o in first.openings:
        if o.building_id == "A":
            shifted = _moved(shifted, o.id, 5.0, 0.0)
    again = number_exterior_doors(shifted, previous=first, allow_renumber=True)
    assert numbering_changes(again, first) == [
        "building A: exterior doors numbered afresh (1, 2, 3, 4); repaint every exterior door"]
    assert not [pair for pair in again.retired_door_numbers if pair[0] == "A"]
