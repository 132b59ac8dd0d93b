"""Cell contents and point location on the small campus."""

from __future__ import annotations

import pytest

from gridmap import grid
from gridmap.doors import number_exterior_doors
from gridmap.errors import InvalidCellLabel, LevelNotFound, OutsideGrid
from gridmap.index import CampusIndex
from tests.campus_factory import small_campus


@pytest.fixture(scope="module")
def index() -> CampusIndex:
    return CampusIndex(number_exterior_doors(small_campus()))


def test_cell_contents_per_level(index: CampusIndex) -> None:
    unit = next(u for u in index.campus.units if u.number == "214")
    primary, _ = index.unit_cells(unit)
    contents = index.cell_contents(primary)
    by_ordinal = {lv["ordinal"]: lv for lv in contents["levels"]}
    assert "214" in {u["number"] for u in by_ordinal[1]["units"]}
    assert "214" not in {u["number"] for u in by_ordinal.get(0, {"units": []})["units"]}
    minlon, minlat, maxlon, maxlat = contents["bounds"]
    centre = contents["centre"]
    assert minlon < centre["lon"] < maxlon and minlat < centre["lat"] < maxlat


def test_cell_contents_lists_doors_and_knox_box_once(index: CampusIndex) -> None:
    knox = next(a for a in index.campus.amenities if a.kind == "knox_box")
    p = index.shapes[knox.id]
    label = index.cell_of(p.x, p.y)
    assert label is not None
    found = [a for lv in index.cell_contents(label)["levels"] for a in lv["amenities"]]
    assert [a["id"] for a in found].count(knox.id) == 1


@pytest.mark.parametrize(("label", "error"), [("C44", OutsideGrid), ("4C", InvalidCellLabel),
                                              ("C4-7", InvalidCellLabel)])
def test_cell_contents_bad_labels(index: CampusIndex, label: str,
                                  error: type[Exception]) -> None:
    with pytest.raises(error, match=label.split("-")[0]):
        index.cell_contents(label)


def test_locate_inside_and_outside(index: CampusIndex) -> None:
    unit = next(u for u in index.campus.units if u.number == "B-12")
    p = index.frame.to_wgs84(index.label_point(unit))
    found = index.locate(p.x, p.y)
    assert found is not None
    assert found["building"]["id"] == "B"
    assert [u["number"] for u in found["units"]] == ["B-12"]
    assert found["inside_parcel"] is True
    assert found["subcell"].startswith(found["cell"] + "-")
    assert index.locate(p.x + 1.0, p.y) is None


def test_unknown_level(index: CampusIndex) -> None:
    with pytest.raises(LevelNotFound, match="levels: 0, 1"):
        index.units_on(5)


def test_grid_bounds_contain_every_building(index: CampusIndex) -> None:
    minlon, minlat, maxlon, maxlat = grid.lonlat_bounds(index.grid, index.frame)
    for b in index.campus.buildings:
        bx0, by0, bx1, by1 = b.footprint.bounds
        assert minlon < bx0 and bx1 < maxlon and minlat < by0 and by1 < maxlat


def test_grounds_at_names_the_lot(index: CampusIndex) -> None:
    lot = next(g for g in index.campus.grounds if g.name == "Front lot")
    p = index.frame.to_local(lot.geometry).representative_point()
    assert [g.id for g in index.grounds_at(p.x, p.y)] == [lot.id]
    assert index.grounds_at(0.0, 0.0) == []  # inside building A, no grounds there
    lon, lat = index.frame.lonlat(p.x, p.y)
    found = index.locate(lon, lat)
    assert found is not None
    assert found["grounds"] == [{"id": lot.id, "kind": "parking", "name": "Front lot"}]
    assert found["building"] is None and found["units"] == []


def test_cell_contents_lists_grounds_in_the_cell(index: CampusIndex) -> None:
    lot = next(g for g in index.campus.grounds if g.name == "Front lot")
    p = index.frame.to_local(lot.geometry).representative_point()
    label = index.cell_of(p.x, p.y)
    assert label is not None
    assert lot.id in [g["id"] for g in index.cell_contents(label)["grounds"]]
    inside_a = index.cell_of(0.0, 10.0)
    assert inside_a is not None
    assert index.cell_contents(inside_a)["grounds"] == []


def test_locate_in_a_multi_level_building_lists_every_level(index: CampusIndex) -> None:
    # the point of room 214 (2nd floor) is also inside 104 (1st floor) below it
    unit = next(u for u in index.campus.units if u.number == "214")
    p = index.frame.to_wgs84(index.label_point(unit))
    found = index.locate(p.x, p.y)
    assert found is not None
    levels = {(u["level_ordinal"], u["level_name"], u["number"]) for u in found["units"]}
    assert {(o, n) for o, n, _ in levels} == {(0, "1st Floor"), (1, "2nd Floor")}
    assert (1, "2nd Floor", "214") in levels


def test_a_road_drawn_as_a_centre_line_is_found_beside_it() -> None:
    from dataclasses import replace

    from shapely.geometry import LineString

    from gridmap.model import GroundsFeature, GroundsKind

    campus = number_exterior_doors(small_campus())
    ix0 = CampusIndex(campus)
    road = GroundsFeature("road-1", GroundsKind.ROAD, "Test Road",
                          ix0.frame.to_wgs84(LineString([(-60, 45), (110, 45)])))
    ix = CampusIndex(replace(campus, grounds=(*campus.grounds, road)))
    assert [g.name for g in ix.grounds_at(0.0, 47.0)] == ["Test Road"]
    assert ix.grounds_at(0.0, 52.0) == []
    label = ix.cell_of(0.0, 45.0)
    assert label is not None
    assert "road-1" in [g["id"] for g in ix.cell_contents(label)["grounds"]]
