"""Doors from their swings (ARC + leaf LINE), checked against the same floor drawn with door
blocks, whose insert says the hinge, the wall's direction and the leaf's width."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ezdxf
import ezdxf.path
import pytest
from ezdxf import disassemble
from shapely.geometry import LineString, Point

from importers.door_swings import SwingArc, doors_from_swings, swing_arc

FIXTURES = Path(__file__).parent / "fixtures" / "dxf"


def _swings_of(entities: Any, layer: str) -> tuple[list[SwingArc], list[LineString]]:
    arcs, lines = [], []
    for e in entities:
        if e.dxf.layer != layer:
            continue
        if e.dxftype() == "ARC":
            arc = swing_arc(e)
            assert arc is not None
            arcs.append(arc)
        elif e.dxftype() == "LINE":
            a, b = e.dxf.start, e.dxf.end
            lines.append(LineString([(a.x, a.y), (b.x, b.y)]))
    return arcs, lines


def _leaves_from_blocks() -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """(hinge, closed end, width) of every door block in the numeric fixture (metres)."""
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    out = []
    for ins in doc.modelspace().query('INSERT[layer=="33"]'):
        w = abs(ins.dxf.xscale)
        a = math.radians(ins.dxf.rotation)
        hinge = (ins.dxf.insert.x, ins.dxf.insert.y)
        out.append((hinge, (hinge[0] + w * math.cos(a), hinge[1] + w * math.sin(a)), w))
    return out


def _expected_doors() -> list[tuple[tuple[float, float], float]]:
    """Doorway centres and widths: one per leaf, two leaves closing on each other one door."""
    leaves = _leaves_from_blocks()
    doors, used = [], set()
    for i, (h, c, w) in enumerate(leaves):
        if i in used:
            continue
        pair = next((j for j, (h2, c2, _) in enumerate(leaves)
                     if j != i and j not in used and math.dist(c, c2) < 0.01), None)
        if pair is None:
            doors.append((((h[0] + c[0]) / 2, (h[1] + c[1]) / 2), w))
        else:
            used.add(pair)
            h2 = leaves[pair][0]
            doors.append((((h[0] + h2[0]) / 2, (h[1] + h2[1]) / 2), math.dist(h, h2)))
        used.add(i)
    return doors


def _assert_same(found: tuple[Any, ...], expected: list[tuple[tuple[float, float], float]]
                 ) -> None:
    assert len(found) == len(expected)
    for (x, y), w in expected:
        near = [d for d in found if d.point.distance(Point(x, y)) < 0.02]
        assert len(near) == 1, (x, y)
        assert near[0].width_m == pytest.approx(w, abs=0.01)


def test_loose_swings_are_the_doors_the_blocks_say() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_swings_m.dxf")
    arcs, lines = _swings_of(doc.modelspace(), "A-DOOR-SWNG")
    expected = _expected_doors()
    assert len(expected) == len(_leaves_from_blocks()) - 1  # one double door
    _assert_same(doors_from_swings(arcs, lines), expected)


def test_exploded_door_blocks_rotated_and_mirrored() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    exploded = list(disassemble.recursive_decompose(doc.modelspace().query('INSERT[layer=="33"]')))
    for e in exploded:  # block content is on layer 0: it belongs to the insert's layer
        e.dxf.layer = "33"
    arcs, lines = _swings_of(exploded, "33")
    assert any(float(a.dxf.extrusion[2]) < 0 for a in exploded if a.dxftype() == "ARC")
    _assert_same(doors_from_swings(arcs, lines), _expected_doors())


@pytest.mark.parametrize("extrusion", [(0, 0, 1), (0, 0, -1)])
def test_swing_arc_ends_are_where_ezdxf_draws_them(extrusion: tuple[int, int, int]) -> None:
    doc = ezdxf.new()
    arc = doc.modelspace().add_arc((3, 4), 0.9, 20, 110, dxfattribs={"extrusion": extrusion})
    path = ezdxf.path.make_path(arc)
    drawn = {(round(path.start.x, 6), round(path.start.y, 6)),
             (round(path.end.x, 6), round(path.end.y, 6))}
    got = swing_arc(arc, unit_m=1.0)
    assert got is not None
    ends = {(round(x, 6), round(y, 6)) for x, y in got.end_points()}
    assert ends == drawn
    assert got.sweep_deg == pytest.approx(90.0)
    scaled = swing_arc(arc, unit_m=0.001)
    assert scaled is not None and scaled.radius == pytest.approx(0.0009)


def _leaf(hinge: tuple[float, float], deg: float, r: float) -> LineString:
    a = math.radians(deg)
    return LineString([hinge, (hinge[0] + r * math.cos(a), hinge[1] + r * math.sin(a))])


def test_what_is_not_a_door_swing() -> None:
    arcs = [
        SwingArc((0.0, 0.0), 3.0, 0.0, 90.0, "curved-wall"),  # too wide for a leaf
        SwingArc((10.0, 0.0), 0.9, 0.0, 180.0, "half-circle"),  # not a quarter
        SwingArc((20.0, 0.0), 0.9, 0.0, 90.0, "bare-arc"),  # no leaf line
        SwingArc((30.0, 0.0), 0.9, 0.0, 90.0, "short-leaf"),
    ]
    lines = [_leaf((0.0, 0.0), 90.0, 3.0), _leaf((10.0, 0.0), 90.0, 0.9),
             _leaf((30.0, 0.0), 90.0, 0.5)]
    assert doors_from_swings(arcs, lines) == ()


def test_a_door_swing_in_any_direction() -> None:
    for deg in (0.0, 37.0, 90.0, 200.0, 300.0):
        arc = SwingArc((5.0, 5.0), 0.9, deg, (deg + 90.0) % 360.0, "a")
        leaf = _leaf((5.0, 5.0), deg + 90.0, 0.9)  # open, at the arc's end
        (door,) = doors_from_swings([arc], [leaf])
        closed = (5.0 + 0.9 * math.cos(math.radians(deg)), 5.0 + 0.9 * math.sin(math.radians(deg)))
        assert door.point.distance(Point((5.0 + closed[0]) / 2, (5.0 + closed[1]) / 2)) < 1e-6
        assert door.width_m == pytest.approx(0.9)


def test_a_leaf_drawn_as_a_thin_rectangle() -> None:
    arc = SwingArc((0.0, 0.0), 0.9, 0.0, 90.0, "a")
    leaf = LineString([(0, 0), (0, 0.9), (-0.04, 0.9), (-0.04, 0), (0, 0)])  # closed polyline
    (door,) = doors_from_swings([arc], [leaf])
    assert door.point.distance(Point(0.45, 0.0)) < 1e-9


def test_a_double_acting_door_is_one_door() -> None:
    """A door swinging both ways: two arcs from one hinge, one each side of the wall."""
    arcs = [SwingArc((0.0, 0.0), 0.9, 0.0, 90.0, "in"), SwingArc((0.0, 0.0), 0.9, 270.0, 0.0,
                                                                  "out")]
    leaves = [_leaf((0.0, 0.0), 90.0, 0.9), _leaf((0.0, 0.0), 270.0, 0.9)]
    (door,) = doors_from_swings(arcs, leaves)
    assert door.point.distance(Point(0.45, 0.0)) < 1e-9 and door.handle == "in+out"


def test_a_long_row_of_doors_each_its_own() -> None:
    arcs, leaves = [], []
    for i in range(3000):  # a long row of single doors, 2 m apart
        arcs.append(SwingArc((2.0 * i, 0.0), 0.9, 0.0, 90.0, str(i)))
        leaves.append(_leaf((2.0 * i, 0.0), 90.0, 0.9))
    assert len(doors_from_swings(arcs, leaves)) == 3000


def test_a_swing_drawn_many_times_over_is_one_door() -> None:
    arcs = [SwingArc((0.0, 0.0), 0.9, 0.0, 90.0, f"a{i}") for i in range(20_000)]
    leaves = [_leaf((0.0, 0.0), 90.0, 0.9)] * 20_000
    (door,) = doors_from_swings(arcs, leaves)
    assert door.handle == "a0" and door.width_m == pytest.approx(0.9)
