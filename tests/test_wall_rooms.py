"""Rooms recovered from wall lines match the room outlines the same drawing also has."""

from __future__ import annotations

import os
import random
import tomllib
from pathlib import Path
from typing import Any

import ezdxf
import pytest
from ezdxf import disassemble
from shapely.geometry import LineString, Point, Polygon, box

from importers.findings import FindingKind
from importers.manifest import DrawingUnit
from importers.room_labels import label_of
from importers.wall_rooms import MIN_WIDTH_M, rooms_from_walls
from tests.fixtures.dxf import make_schemes

FIXTURES = Path(__file__).parent / "fixtures" / "dxf"
# fixtures drawing room outlines as closed polylines beside their wall lines
WITH_OUTLINES = ["scheme_ncs_ft", "scheme_fr_cm", "scheme_de_mm", "scheme_firm_nounits",
                 "scheme_numeric_m", "scheme_nl_mm_nounits", "scheme_swings_m"]


def _read(name: str) -> tuple[list[LineString], list[Point], list[Polygon]]:
    """The fixture's wall lines, label points and room outlines, in metres, read with ezdxf
    alone (blocks exploded)."""
    side = tomllib.loads((FIXTURES / f"{name}.layers.toml").read_text(encoding="utf-8"))
    layers, k = side["layers"], DrawingUnit(side["units"]).metres
    doc = ezdxf.readfile(FIXTURES / f"{name}.dxf")
    walls: list[LineString] = []
    labels: list[Point] = []
    rooms: list[Polygon] = []

    def label(e: Any) -> None:
        found = label_of(e, "", 1.0)
        if found is not None:
            c = found.box.centroid
            labels.append(Point(c.x * k, c.y * k))

    for e in disassemble.recursive_decompose(doc.modelspace()):
        layer = e.dxf.layer
        if layer == layers["walls"] and e.dxftype() == "LINE":
            a, b = e.dxf.start, e.dxf.end
            walls.append(LineString([(a.x * k, a.y * k), (b.x * k, b.y * k)]))
        elif layer == layers.get("rooms") and e.dxftype() == "LWPOLYLINE" and e.closed:
            rooms.append(Polygon([(x * k, y * k) for x, y in e.get_points("xy")]))
        elif layer == layers["labels"] and e.dxftype() in ("TEXT", "MTEXT"):
            label(e)
        for a in getattr(e, "attribs", ()):
            if a.dxf.layer == layers["labels"]:
                label(a)
    return walls, labels, rooms


def _iou(a: Polygon, b: Polygon) -> float:
    return a.intersection(b).area / a.union(b).area


def _matched(found: tuple[Polygon, ...], rooms: list[Polygon]) -> list[float]:
    return [max((_iou(r, f) for f in found), default=0.0) for r in rooms]


@pytest.mark.parametrize("name", WITH_OUTLINES)
def test_rooms_from_walls_match_the_drawn_outlines(name: str) -> None:
    walls, labels, rooms = _read(name)
    assert len(rooms) >= 10 and len(walls) > 50
    found = rooms_from_walls(walls, labels)
    assert min(_matched(found.polygons, rooms)) >= 0.95
    assert len(found.polygons) == len(rooms)  # and nothing else: no slivers, no outside


def test_sloppy_endpoints_are_snapped() -> None:
    walls, labels, rooms = _read("scheme_numeric_m")
    rng = random.Random(8)

    def jitter(line: LineString) -> LineString:
        return LineString([(x + rng.uniform(-0.015, 0.015), y + rng.uniform(-0.015, 0.015))
                           for x, y in line.coords])

    found = rooms_from_walls([jitter(w) for w in walls], labels)
    assert min(_matched(found.polygons, rooms)) >= 0.95


def test_doorway_gaps_are_reported() -> None:
    walls, labels, rooms = _read("scheme_fr_cm")
    found = rooms_from_walls(walls, labels)
    closed = [f for f in found.findings if f.kind is FindingKind.REPAIRED_GEOMETRY]
    assert len(closed) == len(rooms)  # every room has a door in this plan
    assert all(f.at is not None for f in closed)
    # the west double door (1.6 m) is closed only because the corridor's label needs it
    assert any("1.60" in f.message for f in closed)


def test_without_gap_closing_the_rooms_run_together() -> None:
    walls, labels, rooms = _read("scheme_fr_cm")
    found = rooms_from_walls(walls, labels, max_gap_m=0.0, wide_gap_m=0.0)
    assert sum(1 for iou in _matched(found.polygons, rooms) if iou >= 0.95) < len(rooms) // 2


def test_slivers_between_wall_faces_are_dropped() -> None:
    walls, labels, _ = _read("scheme_de_mm")
    for poly in rooms_from_walls(walls, labels).polygons:
        assert 2 * poly.area / poly.length >= MIN_WIDTH_M


def _square_room_walls(opening: float) -> list[LineString]:
    """Single-line walls: a 10 x 6 m box split at x = 5 by a wall with an opening of
    ``opening`` metres in its middle (none if 0)."""
    lines = [LineString(box(0, 0, 10, 6).exterior.coords)]
    if opening:
        lines += [LineString([(5, 0), (5, 3 - opening / 2)]),
                  LineString([(5, 3 + opening / 2), (5, 6)])]
    else:
        lines.append(LineString([(5, 0), (5, 6)]))
    return lines


def test_single_line_walls_with_a_door_gap() -> None:
    labels = [Point(2.5, 3), Point(7.5, 3)]
    found = rooms_from_walls(_square_room_walls(0.9), labels)
    assert sorted(round(p.area, 6) for p in found.polygons) == [30.0, 30.0]


def test_an_archway_wider_than_a_door_leaves_one_space_and_says_so() -> None:
    labels = [Point(2.5, 3), Point(7.5, 3)]
    found = rooms_from_walls(_square_room_walls(2.5), labels)
    assert [round(p.area, 6) for p in found.polygons] == [60.0]
    warned = [f for f in found.findings if f.kind is FindingKind.OTHER]
    assert len(warned) == 1 and "labels of 2 rooms" in warned[0].message


def test_an_unlabelled_space_is_kept_only_if_room_sized() -> None:
    lines = [*_square_room_walls(0), LineString([(0, 5.5), (5, 5.5)])]  # a 0.5 m duct
    found = rooms_from_walls(lines, [Point(7.5, 3)], min_area_m2=2.0)
    areas = sorted(round(p.area, 6) for p in found.polygons)
    assert areas == [27.5, 30.0]  # the west room unlabelled but room-sized; the duct dropped


def test_nothing_in_nothing_out() -> None:
    assert rooms_from_walls([], []).polygons == ()
    assert rooms_from_walls([LineString([(0, 0), (0, 0)])], [Point(0, 0)]).polygons == ()


def test_a_frame_on_the_walls_layer_is_not_a_room() -> None:
    """A sheet frame (or site line) drawn on the walls layer round the building encloses the
    outside: that face is no room, labelled or not."""
    walls, labels, rooms = _read("scheme_fr_cm")
    frame = LineString(box(-10, -10, 60, 40).exterior.coords)
    found = rooms_from_walls([*walls, frame], [*labels, Point(-5, -5)])
    assert len(found.polygons) == len(rooms)
    assert min(_matched(found.polygons, rooms)) >= 0.95


def test_a_corridor_round_a_block_of_rooms_is_kept() -> None:
    """A racetrack corridor: a ring round the middle rooms, inside the outer rooms."""
    lines = [LineString(box(0, 0, 30, 20).exterior.coords),  # facade
             LineString(box(6, 6, 24, 14).exterior.coords),  # the middle block
             LineString([(15, 6), (15, 14)]),  # splitting it in two rooms
             LineString(box(0, 0, 30, 4).exterior.coords),  # a row of rooms south
             ]
    labels = [Point(10, 10), Point(20, 10), Point(15, 5), Point(15, 2)]
    found = rooms_from_walls(lines, labels)
    areas = sorted(round(p.area, 6) for p in found.polygons)
    assert areas == sorted([72.0, 72.0, 30 * 4.0, 30 * 16 - 18 * 8.0])


#: how many random floors (more with GRIDMAP_RANDOM_FLOORS=1000)
RANDOM_FLOORS = int(os.environ.get("GRIDMAP_RANDOM_FLOORS", "12"))


@pytest.mark.parametrize("seed", range(RANDOM_FLOORS))
def test_random_floors_rooms_from_walls(seed: int) -> None:
    """Floors of random size, their walls drawn with random sloppiness at the ends: every
    space comes back from the wall lines."""
    ms = make_schemes
    rng = random.Random(seed)
    floor = ms.Floor(bay=rng.uniform(7.5, 8.0), bays=rng.randint(2, 8),
                     south=rng.uniform(6.0, 9.0), north=rng.uniform(6.5, 9.0))
    spaces = ms._spaces(floor, [str(i) for i in range(100, 100 + 2 * floor.bays)],
                        {k: k for k in ("classroom", "office", "corridor", "stairs",
                                        "elevator", "store", "library")})
    sloppy = rng.uniform(0.0, 0.02)

    def jitter(line: LineString) -> LineString:
        return LineString([(x + rng.uniform(-sloppy, sloppy), y + rng.uniform(-sloppy, sloppy))
                           for x, y in line.coords])

    walls = [jitter(w) for w in ms.wall_lines(floor, spaces, ms._doorways(floor))]
    found = rooms_from_walls(walls, [Point(s.centre) for s in spaces])
    assert min(_matched(found.polygons, [s.polygon for s in spaces])) >= 0.95
    assert len(found.polygons) == len(spaces)


def test_a_wall_drawn_many_times_over_is_read_once() -> None:
    lines = _square_room_walls(0.9) * 20_000  # the plan pasted onto itself
    found = rooms_from_walls(lines, [Point(2.5, 3), Point(7.5, 3)])
    assert sorted(round(p.area, 6) for p in found.polygons) == [30.0, 30.0]


def test_a_hatch_exploded_onto_the_walls_layer_is_not_searched_for_gaps() -> None:
    """Thousands of short lines close together: no doorway search (it would pair every end
    with every other), a finding says so, and the rooms the walls close are still read."""
    hatch = [LineString([(0.3 + i * 0.06, 0.3 + j * 0.2), (0.3 + i * 0.06, 0.4 + j * 0.2)])
             for i in range(155) for j in range(27)]  # a strip pattern over the whole box
    lines = [*_square_room_walls(0), *hatch]
    found = rooms_from_walls(lines, [Point(2.5, 3), Point(7.5, 3)])
    assert sorted(round(p.area, 6) for p in found.polygons) == [30.0, 30.0]
    assert any("too close together" in f.message for f in found.findings)
