"""What changed between two revisions: each kind of edit made to the code-built campus is
found, named and placed, and nothing else is reported."""

from __future__ import annotations

import dataclasses
import json
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import Point

from gridmap.crs import LocalFrame
from gridmap.model import Amenity, AmenityKind, Campus, Opening, Unit
from gridmap.revision_diff import ChangeKind, PartKind, diff_campuses
from tests.campus_factory import small_campus


@pytest.fixture(scope="module")
def base() -> Campus:
    return small_campus()


P = TypeVar("P", Unit, Opening, Amenity)


def _moved(campus: Campus, part: P, dx: float, dy: float) -> P:
    frame = LocalFrame(campus.crs)
    geom = frame.to_wgs84(affinity.translate(frame.to_local(part.geometry), dx, dy))
    moved: P = dataclasses.replace(part, geometry=geom)
    return moved


def _room(campus: Campus, number: str) -> Unit:
    return next(u for u in campus.units if u.number == number)


def _replace_unit(campus: Campus, old: Unit, new: Unit) -> Campus:
    return dataclasses.replace(campus, units=tuple(new if u.id == old.id else u
                                                   for u in campus.units))


def test_a_campus_against_itself_has_no_changes(base: Campus) -> None:
    diff = diff_campuses(base, small_campus())
    assert diff.empty
    assert set(diff.counts().values()) == {0}
    assert diff.to_geojson() == {"type": "FeatureCollection", "features": []}


def test_renamed_renumbered_moved_added_removed(base: Campus) -> None:
    lab = _room(base, "214")
    office = _room(base, "101")
    # renumbered: the importer keys rooms by number, so the id changes too
    renumbered = dataclasses.replace(lab, id="new-id-215", number="215")
    renamed = dataclasses.replace(office, name="Front Office")
    campus = _replace_unit(_replace_unit(base, lab, renumbered), office, renamed)
    door = campus.openings[1]
    moved_door = _moved(campus, door, 3.0, 4.0)  # 5 m
    aed = campus.amenities[1]
    new_aed = Amenity("aed-gym", AmenityKind.AED, "AED gym", Point(*campus.amenities[0]
                                                                     .geometry.coords[0]),
                      "B", campus.levels[2].id)
    campus = dataclasses.replace(
        campus,
        openings=tuple(moved_door if o.id == door.id else o for o in campus.openings),
        amenities=(*(a for a in campus.amenities if a.id != aed.id), new_aed),
    )
    diff = diff_campuses(base, campus)
    by = {(c.kind, c.part.id): c for c in diff.changes}
    assert len(diff.changes) == 5, diff.lines()

    room = by[(PartKind.ROOM, "new-id-215")]
    assert room.changes == (ChangeKind.RENUMBERED,)
    assert room.old is not None and room.old.id == lab.id
    assert "renumbered 214 -> 215" in room.summary()

    assert by[(PartKind.ROOM, office.id)].changes == (ChangeKind.RENAMED,)
    assert "'Main Office' -> 'Front Office'" in by[(PartKind.ROOM, office.id)].summary()

    moved = by[(PartKind.DOOR, door.id)]
    assert moved.changes == (ChangeKind.MOVED,)
    assert moved.moved_m == pytest.approx(5.0, abs=0.01)

    assert by[(PartKind.POINT, aed.id)].changes == (ChangeKind.REMOVED,)
    assert by[(PartKind.POINT, "aed-gym")].changes == (ChangeKind.ADDED,)
    counts = diff.counts()
    assert {k: v for k, v in counts.items() if v} == {
        "added": 1, "removed": 1, "renamed": 1, "renumbered": 1, "moved": 1}


def test_moved_threshold_and_match_radius(base: Campus) -> None:
    door = base.openings[0]
    nudged = dataclasses.replace(base, openings=(_moved(base, door, 0.3, 0.0),
                                                 *base.openings[1:]))
    assert diff_campuses(base, nudged).empty  # under the 0.5 m default
    tight = diff_campuses(base, nudged, moved_threshold_m=0.1)
    assert [c.changes for c in tight.changes] == [(ChangeKind.MOVED,)]
    # an id change far away is a removal and an addition, not the same door
    far = dataclasses.replace(_moved(base, door, 30.0, 0.0), id="other")
    swapped = dataclasses.replace(base, openings=(far, *base.openings[1:]))
    kinds = sorted(c.changes[0].value for c in diff_campuses(base, swapped).changes)
    assert kinds == ["added", "removed"]
    with pytest.raises(ValueError, match="zero or more"):
        diff_campuses(base, base, moved_threshold_m=-1)


def test_reshaped_and_retyped(base: Campus) -> None:
    gym = _room(base, "B-10")
    frame = LocalFrame(base.crs)
    bigger = dataclasses.replace(gym, geometry=frame.to_wgs84(
        affinity.scale(frame.to_local(gym.geometry), 1.0, 1.1, origin=(50.0, -15.0))))
    aed = base.amenities[1]
    kit = dataclasses.replace(aed, kind=AmenityKind.TRAUMA_KIT)
    campus = dataclasses.replace(_replace_unit(base, gym, bigger),
                                 amenities=tuple(kit if a.id == aed.id else a
                                                 for a in base.amenities))
    diff = diff_campuses(base, campus)
    by = {c.part.id: c for c in diff.changes}
    assert ChangeKind.RESHAPED in by[gym.id].changes
    area_then = frame.to_local(gym.geometry).area
    reshaped = by[gym.id].new
    assert reshaped is not None
    assert reshaped.area_m2 == pytest.approx(area_then * 1.1, rel=1e-6)
    assert by[aed.id].changes == (ChangeKind.RETYPED,)


def test_geojson_places_each_change_and_draws_moves(base: Campus) -> None:
    door = base.openings[2]
    moved = _moved(base, door, 0.0, 10.0)
    gone = base.units[0]
    campus = dataclasses.replace(
        base, openings=tuple(moved if o.id == door.id else o for o in base.openings),
        units=base.units[1:])
    collection = json.loads(json.dumps(diff_campuses(base, campus).to_geojson()))
    features = {f["id"]: f for f in collection["features"]}
    assert set(features) == {door.id, f"{door.id}:move", gone.id}
    assert features[gone.id]["properties"]["changes"] == ["removed"]
    # a removed room is drawn where it was
    assert features[gone.id]["geometry"]["coordinates"][0][0] == \
        list(gone.geometry.exterior.coords[0])
    line = features[f"{door.id}:move"]["geometry"]["coordinates"]
    assert line == [list(door.geometry.coords[0]), list(moved.geometry.coords[0])]


ROOMS = len(small_campus().units)


@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=ROOMS - 1), max_size=8),
       st.sets(st.integers(min_value=0, max_value=ROOMS - 1), max_size=8))
def test_diff_is_symmetric(drop_old: set[int], drop_new: set[int]) -> None:
    """Whatever rooms each side lacks, the diff one way adds what the other way removes."""
    base = small_campus()
    old = dataclasses.replace(base, units=tuple(u for i, u in enumerate(base.units)
                                                if i not in drop_old))
    new = dataclasses.replace(base, units=tuple(u for i, u in enumerate(base.units)
                                                if i not in drop_new))
    forward = diff_campuses(old, new)
    backward = diff_campuses(new, old)
    assert forward.counts()["added"] == backward.counts()["removed"] == len(drop_old - drop_new)
    assert forward.counts()["removed"] == len(drop_new - drop_old)
    assert {c.part.id for c in forward.changes} == {c.part.id for c in backward.changes}
