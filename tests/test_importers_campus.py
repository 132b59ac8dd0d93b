"""The campus importer's own steps: main entrance marking."""

from __future__ import annotations

import dataclasses

import pytest
from shapely.geometry import Point

from gridmap.crs import LocalFrame, local_crs_for
from gridmap.model import Opening
from importers.campus import mark_main_entrance

FRAME = LocalFrame(local_crs_for(-84.43, 42.70))


def _door(k: int, x: float, *, exterior: bool = True, level: str = "L0",
          number: str | None = None) -> Opening:
    return Opening(f"o{k}", "B", level, FRAME.to_wgs84(Point(x, 0.0)), exterior, number=number)


def test_main_entrance_marks_nearest_exterior_door_and_keeps_its_fields() -> None:
    openings = [
        _door(0, 0.0, number="4"),
        _door(1, 9.0, exterior=False),  # nearest, but interior
        _door(2, 12.0, number="7"),
        _door(3, 10.0, level="L1"),  # nearest, but upstairs
    ]
    found = mark_main_entrance(openings, "L0", Point(10.0, 0.0), FRAME)
    assert found is not None
    marked, dist = found
    assert dist == pytest.approx(2.0, abs=1e-6)
    # every other field of the marked door is kept, its painted number included
    assert marked[2] == dataclasses.replace(openings[2], main_entrance=True)
    assert marked[2].number == "7"
    assert [o.main_entrance for o in marked] == [False, False, True, False]
    assert not openings[2].main_entrance  # the input is not changed


def test_main_entrance_on_a_level_without_exterior_doors() -> None:
    assert mark_main_entrance([_door(0, 0.0, exterior=False)], "L0", Point(0, 0), FRAME) is None
