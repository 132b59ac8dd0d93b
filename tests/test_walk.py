"""Walking distances and floor-aware nearby answers (gridmap.walk behind gridmap.index)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.errors import LevelNotFound
from gridmap.index import CampusIndex, Nearby
from gridmap.model import AmenityKind, Unit
from gridmap.walk import FLOOR_PENALTY_M, WalkNetwork
from importers.campus import import_campus
from tests.campus_factory import (
    BIG_PITCH,
    WALK_AEDS,
    WALK_HALL,
    WALK_ROOMS,
    WALK_STAIRS,
    big_level_campus,
    walk_campus,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data/samples/lincoln_ridge/campus.toml"


@pytest.fixture(scope="module")
def index() -> CampusIndex:
    return CampusIndex(walk_campus())


def room(index: CampusIndex, number: str) -> Unit:
    return next(u for u in index.campus.units if u.number == number)


def aeds_from(index: CampusIndex, number: str, k: int = 3) -> list[Nearby]:
    u = room(index, number)
    return index.nearest_amenities(AmenityKind.AED, index.label_point(u), u.building_id, k,
                                   level_id=u.level_id)


def test_walking_goes_round_the_corner_of_an_l_shaped_hallway(index: CampusIndex) -> None:
    # room 103 (east of the north leg) to the ground-floor AED in the west leg: the block
    # inside the L is in the way, so the walk turns at the hallway's inner corner (36, 24)
    aed = aeds_from(index, "103")[0]
    origin = index.label_point(room(index, "103"))
    assert (aed.name, aed.same_level, aed.distance_kind, aed.via) == (
        "AED Ground Floor", True, "walking", None)
    door, corner, target = WALK_ROOMS["03"][1], (36.0, 24.0), WALK_AEDS[0]
    expected = (math.dist((origin.x, origin.y), door) + math.dist(door, corner)
                + math.dist(corner, target))
    straight = origin.distance(Point(*target))
    assert aed.distance_m == pytest.approx(expected, abs=0.05)
    assert aed.distance_m > straight + 4.0


def test_same_level_first_then_other_levels_naming_the_stairs(index: CampusIndex) -> None:
    found = aeds_from(index, "303")  # a top-floor room: its own floor's AED first
    assert [(n.level_name, n.same_level) for n in found] == [
        ("Second Floor", True), ("Ground Floor", False)]
    assert found[0].via is None
    assert found[1].via == "Stair 2"  # the stairs by the north leg, nearest room 303


@pytest.mark.parametrize(("number", "level", "via"), [
    ("203", "Second Floor", "Stair 2"),  # east room: up Stair 2 beats down and round the L
    ("202", "Ground Floor", "Stair 1"),  # south-west room: down Stair 1, by the ground AED
])
def test_no_aed_on_this_floor_names_the_floor_and_the_stairs(
    index: CampusIndex, number: str, level: str, via: str
) -> None:
    # the first floor (rooms 2xx) has no AED
    first = aeds_from(index, number)[0]
    assert (first.level_name, first.same_level, first.via, first.distance_kind) == (
        level, False, via, "walking")
    assert first.level_ordinal in WALK_AEDS


def test_stairs_cost_a_penalty_and_their_flight(index: CampusIndex) -> None:
    u = room(index, "303")
    p = index.label_point(u)
    down = index.nearest_amenities(AmenityKind.STAIRWELL, p, "W", 6, level_id=u.level_id)
    same = {n.name: n.distance_m for n in down if n.same_level}
    ground = {n.name: n.distance_m for n in down if n.level_ordinal == 0}
    flight = max(WALK_STAIRS["Stair 2"].bounds[2] - WALK_STAIRS["Stair 2"].bounds[0],
                 WALK_STAIRS["Stair 2"].bounds[3] - WALK_STAIRS["Stair 2"].bounds[1])
    # two floors down the same stairs: twice (penalty + plan length) more than on this floor
    assert ground["Stair 2"] - same["Stair 2"] == pytest.approx(2 * (FLOOR_PENALTY_M + flight))


def test_exit_closest_to_a_room_upstairs_is_measured_by_walking(index: CampusIndex) -> None:
    u = room(index, "303")
    p = index.label_point(u)
    doors = index.nearest_exterior_doors(p, "W", level_id=u.level_id)
    assert [d.number for d in doors] == ["2", "1"]
    assert all(d.distance_kind == "walking" and not d.same_level for d in doors)
    # north door: down Stair 2 beside it; west door: down Stair 1, nearer the west leg
    assert [d.via for d in doors] == ["Stair 2", "Stair 1"]
    assert all(d.distance_m > p.distance(index.shapes[d.feature_id]) for d in doors)
    # without a level: as before, straight line, nothing claimed about levels
    plain = index.nearest_exterior_doors(p, "W")
    assert {d.distance_kind for d in plain} == {"straight"}
    assert plain[0].distance_m == pytest.approx(p.distance(index.shapes[plain[0].feature_id]))


def test_knox_box_is_not_reached_by_stairs(index: CampusIndex) -> None:
    u = room(index, "301")
    knox = index.nearest_amenity(AmenityKind.KNOX_BOX, index.label_point(u), "W",
                                 level_id=u.level_id)
    assert knox is not None
    assert (knox.via, knox.distance_kind, knox.same_level, knox.level_name) == (
        None, "straight", False, "Ground Floor")


def test_rooms_without_doors_are_reached_through_their_hallway_wall() -> None:
    ix = CampusIndex(walk_campus(interior_doors=False))
    found = aeds_from(ix, "103")[0]
    origin = ix.label_point(room(ix, "103"))
    assert found.distance_kind == "walking"
    assert found.distance_m >= origin.distance(ix.shapes[found.feature_id])


def test_a_room_cut_off_from_the_hallway_is_joined_through_its_wall() -> None:
    # room 101 has an exterior door but its door to the hallway was not drawn: it is not
    # doorless, yet cut off; the network opens its hallway wall rather than leave it unreached
    campus = walk_campus()
    ix0 = CampusIndex(campus)
    r101 = room(ix0, "101")
    inner = next(o for o in campus.openings if not o.exterior
                 and ix0.shapes[o.id].distance(ix0.shapes[r101.id]) < 0.01
                 and o.level_id == r101.level_id)
    outside = replace(inner, id="outer-101", exterior=True,
                      geometry=ix0.frame.to_wgs84(Point(0.0, 29.0)))
    ix = CampusIndex(replace(campus, openings=tuple(
        outside if o.id == inner.id else o for o in campus.openings)))
    aed = aeds_from(ix, "101")[0]
    origin = ix.label_point(room(ix, "101"))
    assert (aed.distance_kind, aed.same_level) == ("walking", True)
    # through the middle of its 10 m hallway wall, (5, 24), then along the hallway
    expected = origin.distance(Point(5, 24)) + Point(5, 24).distance(Point(*WALK_AEDS[0]))
    assert aed.distance_m == pytest.approx(expected, abs=0.05)


def test_building_without_hallways_falls_back_to_straight_lines_and_says_so() -> None:
    ix = CampusIndex(walk_campus(hallways=False))
    u = room(ix, "303")
    p = ix.label_point(u)
    found = ix.nearest_amenities(AmenityKind.AED, p, "W", level_id=u.level_id)
    assert {n.distance_kind for n in found} == {"straight"}
    assert found[0].same_level and found[0].distance_m == pytest.approx(
        p.distance(ix.shapes[found[0].feature_id]))
    assert found[1].via == "Stair 2"  # still names the stairs nearest the room
    assert not ix.walk_network("W").walkable


def test_unknown_level_is_a_named_error(index: CampusIndex) -> None:
    with pytest.raises(LevelNotFound, match="no level nowhere"):
        index.nearest_amenity(AmenityKind.AED, Point(0, 0), "W", level_id="nowhere")


def test_to_dict_carries_level_and_route(index: CampusIndex) -> None:
    d = aeds_from(index, "203")[0].to_dict()
    assert {k: d[k] for k in ("level_name", "same_level", "distance_kind", "via")} == {
        "level_name": "Second Floor", "same_level": False, "distance_kind": "walking",
        "via": "Stair 2"}


_hall = WALK_HALL.bounds


@settings(max_examples=60, deadline=None)
@given(x=st.floats(_hall[0] + 0.1, _hall[2] - 0.1), y=st.floats(_hall[1] + 0.1, _hall[3] - 0.1),
       ordinal=st.sampled_from([0, 1, 2]))
def test_walking_is_never_shorter_than_the_straight_line(index: CampusIndex, x: float,
                                                          y: float, ordinal: int) -> None:
    ix = index
    origin = Point(x, y)
    level = next(lv for lv in ix.campus.levels if lv.ordinal == ordinal)
    aeds = ix.nearest_amenities(AmenityKind.AED, origin, "W", 3, level_id=level.id)
    doors = ix.nearest_exterior_doors(origin, "W", 3, level_id=level.id)
    for n in (*aeds, *doors):
        straight = origin.distance(ix.shapes[n.feature_id])
        assert n.distance_m >= straight - 1e-6
        assert (n.via is None) == n.same_level
    for found in (aeds, doors):  # same level first, then nearest first
        keys = [(not n.same_level, n.distance_m) for n in found]
        assert keys == sorted(keys)


# --- the sample campus ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> CampusIndex:
    return CampusIndex(import_campus(SAMPLE).campus)


def test_sample_no_room_gets_another_floors_aed_unannounced(sample: CampusIndex) -> None:
    rooms = [u for u in sample.campus.units if u.number]
    for u in rooms:
        aed = sample.nearest_amenity(AmenityKind.AED, sample.label_point(u), u.building_id,
                                     level_id=u.level_id)
        assert aed is not None
        has_own = any(a.kind is AmenityKind.AED and a.level_id == u.level_id
                      for a in sample.campus.amenities)
        assert aed.same_level or (not has_own and aed.via), u.number
        assert aed.level_name and aed.building_short_name


def test_sample_second_floor_rooms_see_second_floor_aeds_first(sample: CampusIndex) -> None:
    upper = [u for u in sample.campus.units
             if sample.levels[u.level_id].name == "2nd Floor" and u.number]
    assert len(upper) >= 10
    for u in upper:
        found = sample.nearest_amenities(AmenityKind.AED, sample.label_point(u), u.building_id,
                                         3, level_id=u.level_id)
        assert found[0].level_name == "2nd Floor" or found[0].via, u.number
        assert all(n.distance_kind == "walking" for n in found if n.building_id == u.building_id)


def test_sample_exit_closest_to_214_by_walking(sample: CampusIndex) -> None:
    u = next(u for u in sample.campus.units if u.number == "214")
    doors = sample.nearest_exterior_doors(sample.label_point(u), u.building_id,
                                          level_id=u.level_id)
    assert doors and all(d.distance_kind == "walking" and d.via for d in doors)
    assert [d.distance_m for d in doors] == sorted(d.distance_m for d in doors)


def test_sample_every_building_with_hallways_has_a_connected_network(
    sample: CampusIndex,
) -> None:
    # every door and point of interest inside a building is reachable from each of its rooms
    for u in (u for u in sample.campus.units if u.category == "room"):
        net = sample.walk_network(u.building_id)
        assert net.walkable
        p = sample.label_point(u)
        targets = [o.id for o in sample.campus.openings if o.building_id == u.building_id]
        missing = [t for t in targets if net.route(p, u.level_id, t) is None]
        assert not missing, u.number


def test_sample_another_buildings_kit_is_walked_out_and_in(sample: CampusIndex) -> None:
    u = next(u for u in sample.campus.units if u.number == "214")
    p = sample.label_point(u)
    kits = sample.nearest_amenities(AmenityKind.TRAUMA_KIT, p, u.building_id, 5,
                                    level_id=u.level_id)
    assert kits[0].same_level and kits[0].building_id == u.building_id
    elsewhere = [k for k in kits if k.building_id != u.building_id]
    assert elsewhere
    for k in elsewhere:  # down the stairs, out a door, across, in a door
        assert k.distance_kind == "walking" and k.via
        assert k.distance_m > p.distance(sample.shapes[k.feature_id])
    assert kits.index(elsewhere[0]) > max(i for i, k in enumerate(kits)
                                          if k.building_id == u.building_id)


def test_a_broken_outline_or_point_never_breaks_an_answer() -> None:
    # a self-crossing hallway outline and an AED at NaN: left out of the network, and every
    # answer still comes back (the hallway-less level falls back to straight lines)
    campus = walk_campus()
    ix0 = CampusIndex(campus)
    bowtie = ix0.frame.to_wgs84(Polygon([(0, 20), (40, 24), (40, 20), (0, 24)]))
    ground = next(lv for lv in campus.levels if lv.ordinal == 0)
    units = tuple(replace(u, geometry=bowtie) if u.category == "walkway"
                  and u.level_id == ground.id else u for u in campus.units)
    amenities = (*campus.amenities, replace(
        next(a for a in campus.amenities if a.kind is AmenityKind.AED),
        id="nan-aed", geometry=Point(float("nan"), float("nan"))))
    ix = CampusIndex(replace(campus, units=units, amenities=amenities))
    u = room(ix, "102")
    found = ix.nearest_amenities(AmenityKind.AED, ix.label_point(u), "W", 5,
                                 level_id=u.level_id)
    assert "nan-aed" not in {n.feature_id for n in found[:2]}
    assert all(math.isfinite(n.distance_m) for n in found[:2])
    assert ix.nearest_exterior_doors(ix.label_point(u), "W", level_id=u.level_id)


def test_a_long_corridor_with_many_doors_stays_small_and_nearly_exact() -> None:
    # 30 rooms either side of a straight 150 m corridor: more nodes than are joined pairwise,
    # so the corridor is walked over a Yao graph; the corridor is convex, so the exact walk
    # from a room's door to any other door is the straight line between them
    from gridmap.model import Level, Opening
    from gridmap.walk import FULL_VISIBILITY_NODES

    level = Level("L0", "X", 0, "Ground", "0")
    hall = Unit("hall", "X", "L0", "", "Corridor", Polygon([(0, 10), (150, 10), (150, 14),
                                                              (0, 14)]), category="walkway")
    units, doors = [hall], []
    shapes: dict[str, BaseGeometry] = {"hall": hall.geometry}
    for i in range(30):
        for side, (y0, y1, wall) in enumerate([(14.0, 24.0, 14.0), (0.0, 10.0, 10.0)]):
            u = Unit(f"r{side}{i}", "X", "L0", f"{side}{i:02d}", "Room",
                     Polygon([(i * 5, y0), (i * 5 + 5, y0), (i * 5 + 5, y1), (i * 5, y1)]))
            d = Opening(f"d{side}{i}", "X", "L0", Point(i * 5 + 2.5, wall), exterior=False)
            units.append(u)
            doors.append(d)
            shapes[u.id], shapes[d.id] = u.geometry, d.geometry
    assert len(doors) > FULL_VISIBILITY_NODES
    net = WalkNetwork("X", [level], units, doors, [], shapes)
    nodes, edges = net.size
    assert edges < 16 * nodes  # not the 1800 pairs of 60 doors
    origin = Point(2.5, 19.0)  # room 000, north side, west end
    for d in doors:
        route = net.route(origin, "L0", d.id)
        assert route is not None and route.walking
        exact = origin.distance(Point(2.5, 14.0)) + Point(2.5, 14.0).distance(d.geometry)
        assert exact - 1e-9 <= route.distance_m <= 1.03 * exact + 1e-9, d.id


def _network(rooms: dict[str, tuple[Polygon, tuple[float, float]]],
             points: dict[str, tuple[float, float]]) -> WalkNetwork:
    """One level: a hallway y 10..14, x -20..40, and rooms with one door each; AEDs at points."""
    from gridmap.model import Amenity, Level, Opening

    level = Level("L0", "X", 0, "Ground", "0")
    hall = Unit("hall", "X", "L0", "", "Hall", Polygon([(-20, 10), (40, 10), (40, 14),
                                                         (-20, 14)]), category="walkway")
    units = [hall, *(Unit(n, "X", "L0", n, n, shape) for n, (shape, _) in rooms.items())]
    doors = [Opening(f"door {n}", "X", "L0", Point(*at), exterior=False)
             for n, (_, at) in rooms.items()]
    aeds = [Amenity(n, AmenityKind.AED, n, Point(*at), "X", "L0") for n, at in points.items()]
    shapes: dict[str, BaseGeometry] = {u.id: u.geometry for u in units}
    shapes.update({d.id: d.geometry for d in doors})
    shapes.update({a.id: a.geometry for a in aeds})
    return WalkNetwork("X", [level], units, doors, aeds, shapes)


def _box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def test_a_door_near_a_corner_does_not_open_into_the_room_next_door() -> None:
    # R's door is 0.4 m from its west corner; Q's east wall is 0.6 m from that door: the door
    # opens between R and the hallway only, so Q reaches R's inside through the hallway
    net = _network({"Q": (_box(-10.2, 14, -0.2, 24), (-5.0, 14.0)),
                    "R": (_box(0, 14, 10, 24), (0.4, 14.0))},
                   {"in R": (5.0, 19.0)})
    origin = Point(-5.2, 19.0)
    route = net.route(origin, "L0", "in R")
    assert route is not None
    door_q, door_r, target = Point(-5, 14), Point(0.4, 14), Point(5, 19)
    assert route.distance_m == pytest.approx(
        origin.distance(door_q) + door_q.distance(door_r) + door_r.distance(target))


def test_an_aed_on_the_hallway_wall_is_reached_from_the_hallway() -> None:
    # drawn 0.2 m inside room S (whose door is at its far end): it hangs on the hallway wall
    net = _network({"S": (_box(20, 14, 30, 24), (29.6, 14.0))}, {"AED": (21.0, 14.2)})
    origin = Point(-15.0, 12.0)
    route = net.route(origin, "L0", "AED")
    assert route is not None
    # along the hallway to the foot of the wall, then the 0.2 m to the cabinet
    assert route.distance_m == pytest.approx(origin.distance(Point(21.0, 14.0)) + 0.2)


def _with_lift(*, stairs: bool) -> CampusIndex:
    """The walk campus with a lift shaft by the west leg (x 10..14, y 16..20) on every level,
    and with or without its stairs."""
    campus = walk_campus()
    frame = CampusIndex(campus).frame
    lifts = tuple(Unit(f"lift-{lv.ordinal}", "W", lv.id, "", "Lift",
                       frame.to_wgs84(_box(10, 16, 14, 20)), category="elevator")
                  for lv in campus.levels)
    kept = tuple(u for u in campus.units if stairs or u.category != "stairs")
    points = tuple(a for a in campus.amenities if stairs or a.kind is not AmenityKind.STAIRWELL)
    return CampusIndex(replace(campus, units=(*kept, *lifts), amenities=points))


@pytest.mark.parametrize(("stairs", "via"), [(True, "Stair 1"), (False, "Lift")])
def test_the_lift_is_named_only_when_the_stairs_are_not_the_way(stairs: bool, via: str) -> None:
    ix = _with_lift(stairs=stairs)
    top = next(lv for lv in ix.campus.levels if lv.ordinal == 2)
    by_the_lift = Point(12.0, 21.0)  # in the hallway, at the lift door, two floors up
    aeds = ix.nearest_amenities(AmenityKind.AED, by_the_lift, "W", 2, level_id=top.id)
    ground = next(n for n in aeds if n.level_ordinal == 0)
    assert (ground.via, ground.distance_kind) == (via, "walking")


def test_walk_summary_says_how_each_building_is_measured() -> None:
    assert CampusIndex(walk_campus()).walk_summary() == [
        "Building W: walking distances over 3 level(s): 3 hallway space(s), 14 door(s), "
        "stairs/lifts: Stair 1, Stair 2"]
    no_doors = CampusIndex(walk_campus(interior_doors=False)).walk_summary()[0]
    assert "12 of 12 rooms reached through a hallway wall (no door drawn)" in no_doors
    assert CampusIndex(walk_campus(hallways=False)).walk_summary() == [
        "Building W: no hallways (no unit is a hall, corridor or lobby): straight-line "
        "distances for its 12 rooms"]


def test_a_corridor_round_a_courtyard_is_walked_round_it() -> None:
    from gridmap.model import Amenity, Level

    ring = Unit("ring", "X", "L0", "", "Corridor", Polygon(
        [(0, 0), (30, 0), (30, 30), (0, 30)], [[(4, 4), (4, 26), (26, 26), (26, 4)]]),
        category="walkway")
    aed = Amenity("aed", AmenityKind.AED, "AED", Point(28, 28), "X", "L0")
    net = WalkNetwork("X", [Level("L0", "X", 0, "Ground", "0")], [ring], [], [aed],
                      {"ring": ring.geometry, "aed": aed.geometry})
    route = net.route(Point(2, 2), "L0", "aed")
    assert route is not None
    # round either corner of the courtyard, (26, 4) or (4, 26): the same length
    corner = Point(26, 4)
    assert route.distance_m == pytest.approx(
        Point(2, 2).distance(corner) + corner.distance(Point(28, 28)))


_coord = st.integers(0, 12).map(lambda v: v * 2.5)


@st.composite
def _corridor_and_points(draw: st.DrawFn) -> tuple[Polygon, Point, Point]:
    """A hallway made of 2-4 overlapping rectangles (L, T, U, rings), with two points in it."""
    from shapely.ops import unary_union

    rects = []
    for _ in range(draw(st.integers(2, 4))):
        x0, y0 = draw(_coord), draw(_coord)
        w, h = draw(st.sampled_from([(2.5, 15.0), (15.0, 2.5), (5.0, 20.0), (20.0, 5.0)]))
        rects.append(_box(x0, y0, x0 + w, y0 + h))
    shape = unary_union(rects)
    if not isinstance(shape, Polygon):
        shape = max(shape.geoms, key=lambda g: g.area)  # type: ignore[attr-defined]
    pts = []
    for _ in range(2):
        x = draw(st.floats(shape.bounds[0], shape.bounds[2]))
        y = draw(st.floats(shape.bounds[1], shape.bounds[3]))
        p = Point(x, y)
        if not shape.contains(p):
            p = shape.representative_point()
        pts.append(p)
    return shape, pts[0], pts[1]


@settings(max_examples=150, deadline=None)
@given(_corridor_and_points())
def test_inside_any_hallway_the_walk_is_straight_exactly_when_the_line_stays_inside(
    case: tuple[Polygon, Point, Point],
) -> None:
    from gridmap.model import Amenity, Level

    shape, origin, target = case
    hall = Unit("hall", "X", "L0", "", "Hall", shape, category="walkway")
    aed = Amenity("aed", AmenityKind.AED, "AED", target, "X", "L0")
    net = WalkNetwork("X", [Level("L0", "X", 0, "Ground", "0")], [hall], [], [aed],
                      {"hall": shape, "aed": target})
    route = net.route(origin, "L0", "aed")
    assert route is not None
    straight = origin.distance(target)
    line = LineString([origin, target])
    if shape.buffer(1e-6).covers(line):
        assert route.distance_m == pytest.approx(straight, abs=1e-6)
    elif not shape.buffer(0.1).covers(line):  # clearly through a wall: round it
        assert route.distance_m > straight + 1e-6
    assert route.distance_m >= straight - 1e-6


def test_concurrent_first_asks_build_one_network_per_building() -> None:
    import threading

    ix = CampusIndex(walk_campus())
    start = threading.Barrier(8)
    got: list[WalkNetwork] = []

    def ask() -> None:
        start.wait()
        got.append(ix.walk_network("W"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(net is got[0] for net in got)


SECOND_SAMPLE = SAMPLE.parents[1] / "riverside_international/campus.toml"


@pytest.mark.skipif(not SECOND_SAMPLE.exists(), reason="second sample campus not present")
def test_second_sample_basement_rooms_are_sent_up_the_stairs() -> None:
    ix = CampusIndex(import_campus(SECOND_SAMPLE).campus)
    below = [u for u in ix.campus.units if u.number and ix.levels[u.level_id].ordinal < 0]
    assert below
    shafts = {a.name for a in ix.campus.amenities if a.kind is AmenityKind.STAIRWELL}
    for u in below:
        p = ix.label_point(u)
        doors = ix.nearest_exterior_doors(p, u.building_id, level_id=u.level_id)
        assert doors, u.number
        first = doors[0]
        if not first.same_level:  # out by the stairs, not the lift
            assert first.via in shafts and first.distance_kind == "walking", u.number
        for kind in (AmenityKind.AED, AmenityKind.TRAUMA_KIT):
            n = ix.nearest_amenity(kind, p, u.building_id, level_id=u.level_id)
            assert n is not None and (n.same_level or n.via), (u.number, kind)


# --- scale: thousands of rooms on one level, outlines piled on one spot --------------------


@pytest.fixture(scope="module")
def big() -> CampusIndex:
    return CampusIndex(big_level_campus())


def test_a_level_of_thousands_of_rooms_is_walked(big: CampusIndex) -> None:
    """5,340 rooms along 8 corridors of 840 m (every corridor's doors beyond the Yao graph's
    exact size), 1,680 of them behind other rooms, 300 stacked on one spot: the network is
    built over spatial-index queries, and every room reaches a door by walking."""
    rooms = [u for u in big.campus.units if u.category == "room"]
    assert len(rooms) > 5000
    net = big.walk_network("X")
    assert net.walkable
    assert len(net.duplicates) == 300  # the stacked copies, walked as the one kept
    assert "not reached" not in net.summary()
    assert "300 outline(s) drawn again on the same spot" in net.summary()
    # room 4N150: the middle of corridor 4's north side, no door drawn (reached through its
    # wall at x 602); the corridor's east door is the nearest, walked straight along it
    u = next(u for u in rooms if u.number == "4N150")
    origin = big.label_point(u)
    doors = big.nearest_exterior_doors(origin, "X", level_id=u.level_id)
    assert [d.name for d in doors][:1] == ["Door E4"]
    wall, door = Point(602.0, 4 * BIG_PITCH + 13.0), Point(840.0, 4 * BIG_PITCH + 11.5)
    exact = origin.distance(wall) + wall.distance(door)
    assert doors[0].distance_kind == "walking"
    assert exact - 1e-6 <= doors[0].distance_m <= 1.03 * exact


@pytest.mark.parametrize("number", ["0N0", "3B100", "7S209", "X7"])
def test_every_kind_of_room_on_a_big_level_walks_to_its_doors(big: CampusIndex,
                                                              number: str) -> None:
    u = next(u for u in big.campus.units if u.number == number)
    origin = big.label_point(u)
    doors = big.nearest_exterior_doors(origin, "X", k=len(big.campus.openings),
                                       level_id=u.level_id)
    assert len(doors) == 10  # 8 corridor ends and the spine's two
    for d in doors:
        assert d.distance_kind == "walking", (number, d.name)
        straight = origin.distance(big.shapes[d.feature_id])
        assert d.distance_m >= straight - 1e-6, (number, d.name)
    aed = big.nearest_amenity(AmenityKind.AED, origin, "X", level_id=u.level_id)
    assert aed is not None and aed.distance_kind == "walking"


def test_a_stacked_copy_is_walked_as_the_outline_it_repeats(big: CampusIndex) -> None:
    copy = next(u for u in big.campus.units if u.number == "X7")
    kept = next(u for u in big.campus.units if u.number == "0B0")
    assert big.walk_network("X").duplicates[copy.id] == kept.id
    net = big.walk_network("X")
    for door_id, _, _ in net.exits:
        a = net.route(big.label_point(copy), copy.level_id, door_id)
        b = net.route(big.label_point(kept), kept.level_id, door_id)
        assert a is not None and b is not None
        assert a.distance_m == pytest.approx(b.distance_m, abs=1e-6)


def test_outlines_piled_almost_on_one_spot_cost_a_bounded_number_of_wall_tests() -> None:
    """600 rooms each 1 cm along from the last (no two the same outline): every one is
    within the wall gap of every other, yet each is tested against at most MAX_NEIGHBOURS."""
    from gridmap.model import Level, Opening
    from gridmap.walk import MAX_NEIGHBOURS, _neighbour_pairs

    hall = Unit("hall", "X", "L0", "", "Hall", _box(-20, 10, 40, 14), category="walkway")
    piled = [Unit(f"r{i}", "X", "L0", f"{i}", "Room", _box(i / 100, 14, i / 100 + 10, 24))
             for i in range(600)]
    door = Opening("door", "X", "L0", Point(-20, 12), exterior=True)
    shapes: dict[str, BaseGeometry] = {u.id: u.geometry for u in (hall, *piled)}
    shapes["door"] = door.geometry
    net = WalkNetwork("X", [Level("L0", "X", 0, "Ground", "0")], [hall, *piled], [door], [],
                      shapes)
    spaces = net._spaces["L0"]
    assert len(spaces) == 601
    pairs = _neighbour_pairs(spaces, net._trees["L0"])
    assert len(pairs) <= len(spaces) * MAX_NEIGHBOURS  # not the 180,000 pairs there are
    assert sum(1 for pair in pairs if 0 in pair) == 600  # each room found the hallway
    route = net.route(Point(3.0, 20.0), "L0", "door")  # inside the pile: still walked out
    assert route is not None and route.walking
    assert route.distance_m >= Point(3.0, 20.0).distance(door.geometry) - 1e-6


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clustered=st.integers(0, 400))
def test_each_nodes_nearest_are_found_through_the_index(seed: int, clustered: int) -> None:
    """A large space's Yao candidates come from each node's nearest, found by radius queries:
    they are exactly the nearest (by distance), in a long corridor and in a cluster of nodes
    a millimetre wide alike."""
    import numpy as np

    from gridmap.walk import _nearest_others

    rng = np.random.default_rng(seed)
    xy = np.vstack([rng.uniform(0, 500, (400, 2)) * [1.0, 0.01],  # a long thin corridor
                    42.0 + rng.uniform(0, 1e-3, (clustered, 2))])  # a 1 mm cluster
    m = 16
    found = _nearest_others(xy, m)
    for i in rng.choice(len(xy), 40, replace=False):
        dist = np.hypot(*(xy - xy[i]).T)
        dist[i] = np.inf
        expected = np.sort(dist)[:m]
        got = np.sort(dist[found[i]])
        assert i not in found[i]
        assert got == pytest.approx(expected, abs=1e-12)
