"""The fire service's building sides (A = address side, then B, C, D clockwise)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import Point, Polygon, box

from gridmap.crs import LocalFrame
from gridmap.errors import InvalidModel, ManifestError
from gridmap.model import Campus
from gridmap.serialize import campus_from_geojson, campus_to_geojson
from gridmap.sides import (
    COMPASS_BEARINGS,
    Side,
    bearing_name,
    door_sides,
    side_a_bearing,
    side_of,
    wall_bearing,
    wall_orientation,
)
from importers.campus import import_campus
from importers.manifest import parse_manifest

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "lincoln_ridge"

RECT = box(0.0, 0.0, 60.0, 20.0)
#: a point just outside the middle of each wall of RECT, by the bearing that wall faces
WALLS = {0.0: Point(30.0, 20.5), 90.0: Point(60.5, 10.0), 180.0: Point(30.0, -0.5),
         270.0: Point(-0.5, 10.0)}


@pytest.mark.parametrize(("bearing", "point"), WALLS.items())
def test_wall_bearing_is_the_way_the_nearest_wall_faces(bearing: float, point: Point) -> None:
    assert wall_bearing(RECT, point) == pytest.approx(bearing)
    # whichever way the outline is drawn
    assert wall_bearing(Polygon(list(RECT.exterior.coords)[::-1]), point) == pytest.approx(bearing)


@pytest.mark.parametrize("a_facing", [0.0, 90.0, 180.0, 270.0])
def test_sides_run_clockwise_from_the_address_side(a_facing: float) -> None:
    a = side_a_bearing(RECT, address_side=a_facing)
    assert a is not None
    # walking clockwise seen from above (north, east, south, west) from side A gives A B C D
    order = sorted(WALLS, key=lambda b: (b - a_facing) % 360.0)
    assert [side_of(RECT, WALLS[b], a) for b in order] == [Side.A, Side.B, Side.C, Side.D]


def test_facing_side_a_side_b_is_on_the_left() -> None:
    # address on the south wall: someone facing it looks north, with west on their left
    a = side_a_bearing(RECT, address_side=COMPASS_BEARINGS["south"])
    assert a is not None
    assert side_of(RECT, WALLS[270.0], a) is Side.B
    assert side_of(RECT, WALLS[90.0], a) is Side.D
    assert side_of(RECT, WALLS[0.0], a) is Side.C


def test_main_entrance_wall_is_side_a_without_an_address_side() -> None:
    a = side_a_bearing(RECT, main_entrance=Point(60.0, 5.0))
    assert a is not None and a == pytest.approx(90.0)
    assert side_of(RECT, Point(45.0, 0.0), a) is Side.B  # south wall, clockwise after east
    assert side_a_bearing(RECT) is None


@given(st.floats(min_value=-44.0, max_value=44.0), st.sampled_from(sorted(WALLS)))
def test_a_turned_building_keeps_one_side_per_wall(turn: float, facing: float) -> None:
    # a building drawn off north: each wall is squarely one side, whatever the turn
    turned = affinity.rotate(RECT, -turn, origin=(0, 0))  # shapely turns counter-clockwise
    off = (wall_orientation(turned) - turn) % 90.0
    assert min(off, 90.0 - off) == pytest.approx(0.0, abs=1e-6)
    a = side_a_bearing(turned, address_side=COMPASS_BEARINGS["south"])
    assert a is not None
    point = affinity.rotate(WALLS[facing], -turn, origin=(0, 0))
    expected = "CDAB"[int(facing // 90)]  # south wall A, west B, north C, east D
    assert side_of(turned, point, a).value == expected


def test_bearing_names() -> None:
    assert [bearing_name(b) for b in (0, 44, 46, 172, 359)] == [
        "north", "north-east", "north-east", "south", "north"]


def test_every_exterior_door_of_the_test_campus_gets_its_side(campus: Campus) -> None:
    frame = LocalFrame(campus.crs)
    sides = door_sides(campus)
    assert set(sides) == {o.id for o in campus.exterior_doors()}
    for door in campus.exterior_doors():
        building = campus.building(door.building_id)
        main = next(o for o in campus.exterior_doors(building.id) if o.main_entrance)
        footprint = frame.to_local(building.footprint)
        facing_main = wall_bearing(footprint, frame.to_local(main.geometry))
        facing = wall_bearing(footprint, frame.to_local(door.geometry))
        turns = round(((facing - facing_main) % 360.0) / 90.0) % 4
        assert sides[door.id] is [Side.A, Side.B, Side.C, Side.D][turns]


def test_address_side_round_trips_and_old_buildings_load(campus: Campus) -> None:
    b = dataclasses.replace(campus.buildings[0], address_side=270.0)
    turned = dataclasses.replace(campus, buildings=(b, *campus.buildings[1:]))
    data = json.loads(json.dumps(campus_to_geojson(turned)))
    assert campus_from_geojson(data) == turned
    # a revision stored before address sides existed has no such property
    plain = json.loads(json.dumps(campus_to_geojson(campus)))
    assert all("address_side" not in f["properties"] for f in plain["features"]
               if f["feature_type"] == "building")
    assert campus_from_geojson(plain) == campus
    with pytest.raises(InvalidModel, match="bearing"):
        dataclasses.replace(b, address_side=400.0)


def test_address_side_changes_the_door_sides(campus: Campus) -> None:
    before = door_sides(campus)
    b = campus.buildings[0]
    turned = dataclasses.replace(campus, buildings=(
        dataclasses.replace(b, address_side=COMPASS_BEARINGS["north"]), *campus.buildings[1:]))
    after = door_sides(turned)
    assert any(before[o.id] != after[o.id] for o in campus.exterior_doors(b.id))
    frame = LocalFrame(campus.crs)
    for o in campus.exterior_doors(b.id):
        facing = wall_bearing(frame.to_local(b.footprint), frame.to_local(o.geometry))
        assert (after[o.id] is Side.A) == (round(facing) % 360 == 0)


def _manifest(**building: object) -> dict[str, object]:
    return {
        "campus": {"id": "x", "name": "X", "verified_on": "2026-08-14"},
        "grid": {"cell_size": 25}, "files": {"parcel": "p.geojson"},
        "buildings": [{"id": "A", "name": "A", "control_points": [],
                       "levels": [{"ordinal": 0, "name": "1", "short_name": "1", "dxf": "a.dxf"}],
                       **building}],
    }


def test_manifest_address_side_by_name_or_bearing() -> None:
    assert parse_manifest(_manifest(address_side="South")).buildings[0].address_side == 180.0
    assert parse_manifest(_manifest(address_side="north west")).buildings[0].address_side == 315.0
    assert parse_manifest(_manifest(address_side=100)).buildings[0].address_side == 100.0
    assert parse_manifest(_manifest()).buildings[0].address_side is None
    assert str(parse_manifest(_manifest()).campus.verified_on) == "2026-08-14"
    for bad in ("front", 360, -1, True):
        with pytest.raises(ManifestError, match="address_side"):
            parse_manifest(_manifest(address_side=bad))


def test_imported_address_side_turns_the_sides(tmp_path: Path) -> None:
    folder = tmp_path / "lincoln_ridge"
    shutil.copytree(SAMPLE, folder)
    manifest = folder / "campus.toml"
    before = import_campus(manifest).campus
    text = manifest.read_text(encoding="utf-8")
    # building A's main entrance is on its south wall; say its address is on the north one
    text = text.replace('id = "A"\n', 'id = "A"\naddress_side = "north"\n', 1)
    manifest.write_text(text, encoding="utf-8")
    after = import_campus(manifest, before).campus
    a = next(b for b in after.buildings if b.short_name == "A")
    assert a.address_side == COMPASS_BEARINGS["north"]
    old, new = door_sides(before), door_sides(after)
    opposite = {Side.A: Side.C, Side.B: Side.D, Side.C: Side.A, Side.D: Side.B}
    for door in after.exterior_doors(a.id):
        assert new[door.id] is opposite[old[door.id]]  # type: ignore[index]
    for door in after.exterior_doors():
        if door.building_id != a.id:
            assert new[door.id] is old[door.id]
