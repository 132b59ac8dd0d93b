"""The slimmed drawing reads into the same floor plan as the whole file, on every DXF fixture
and on generated school plans, and leaves out what it says it does."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from ezdxf import recover

from bench.big_floor_plan import write_floor_plan
from gridmap.errors import DxfError, ImportLimitExceeded
from importers.dxf import FloorPlan, extract_floor_plan, read_floor_plan
from importers.dxf_stream import read_layers, slim_dxf
from importers.limits import ImportLimits, WorkBudget
from importers.manifest import DrawingUnit, Layers
from tests.test_dxf_gdal_differential import FIXTURES, ROOT, fixture_spec


def summary(plan: FloorPlan) -> dict[str, Any]:
    """Everything an import takes from a floor plan, comparable with ==."""
    return {
        "unit": plan.unit_m,
        "rooms": [(r.handle, r.number, r.name, r.category, r.approximate, r.polygon.wkt)
                  for r in plan.rooms],
        "label_only": [(r.handle, r.number, r.name, r.polygon.wkt) for r in plan.label_only],
        "doors": [(d.handle, d.block, d.exterior, d.point.wkt) for d in plan.doors],
        "outline": None if plan.outline is None else plan.outline.wkt,
        "warnings": plan.warnings,
    }


def read_slim(path: Path, layers: Layers, unit: DrawingUnit | None) -> FloorPlan | None:
    slim = slim_dxf(path, layers, min_bytes=0)
    if slim is None:
        return None
    doc, auditor = recover.read(io.BytesIO(slim.data))
    assert not auditor.has_errors
    return extract_floor_plan(doc, path.name, layers, unit)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_slimmed_fixture_reads_into_the_same_floor_plan(path: Path) -> None:
    spec = fixture_spec(path)
    try:
        whole = summary(read_floor_plan(path, spec.layers, spec.unit, slim=False))
    except DxfError:  # what the whole file refuses is never slimmed (it has no room outline)
        assert slim_dxf(path, spec.layers, min_bytes=0) is None
        return
    slimmed = read_slim(path, spec.layers, spec.unit)
    if slimmed is None:  # read whole: nothing to compare
        return
    assert summary(slimmed) == whole


def test_most_fixtures_are_slimmed() -> None:
    slimmed = [p for p in FIXTURES if slim_dxf(p, fixture_spec(p).layers, min_bytes=0)]
    assert len(slimmed) >= len(FIXTURES) // 2, "the equivalence test compares too few files"


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_large_plan_is_slimmed_to_what_the_import_reads(tmp_path: Path, newline: str) -> None:
    plan = write_floor_plan(tmp_path / "plan.dxf", rooms=120, seed=2)
    if newline != "\n":  # as saved on Windows
        plan.path.write_bytes(plan.path.read_bytes().replace(b"\n", newline.encode()))
    layers = Layers()
    slim = slim_dxf(plan.path, layers, min_bytes=0)
    assert slim is not None and slim.dropped > slim.kept > plan.rooms
    assert len(slim.data) < 0.5 * plan.path.stat().st_size
    assert slim.dimension_blocks_left_out > 0
    doc, auditor = recover.read(io.BytesIO(slim.data))
    assert not auditor.fixes and not auditor.errors  # nothing dangling: no repair needed
    wanted = read_layers(layers) - {layers.walls.upper()}
    for e in doc.modelspace():  # door inserts, rooms and labels; no walls, no furniture
        assert e.dxf.layer.upper() in wanted, (e.dxftype(), e.dxf.layer)
    assert not [b for b in doc.blocks if b.name.upper().startswith("*D")]
    assert summary(extract_floor_plan(doc, plan.path.name, layers)) \
        == summary(read_floor_plan(plan.path, layers, slim=False))
    assert len(read_floor_plan(plan.path, layers).rooms) == plan.rooms


def test_a_plan_whose_rooms_layer_draws_no_outline_is_read_whole(tmp_path: Path) -> None:
    """Rooms from walls, or a wrong rooms layer: the messages and layer hints need it all."""
    plan = write_floor_plan(tmp_path / "plan.dxf", rooms=20, seed=2)
    assert slim_dxf(plan.path, Layers(rooms="NO-SUCH-LAYER"), min_bytes=0) is None
    assert slim_dxf(plan.path, Layers(rooms="A-WALL", walls="A-AREA"), min_bytes=0) is None


def test_dropped_entities_are_charged_to_the_budget(tmp_path: Path) -> None:
    plan = write_floor_plan(tmp_path / "plan.dxf", rooms=20, seed=2)
    budget = WorkBudget(ImportLimits(entity_budget=50))
    with pytest.raises(ImportLimitExceeded, match="entity budget"):
        slim_dxf(plan.path, Layers(), budget, min_bytes=0)


@pytest.mark.parametrize("damage", ["truncated", "binary", "headerless", "small", "cp1252",
                                    "line_lost", "bad_number_in_a_wall"])
def test_files_it_is_not_sure_of_are_read_whole(tmp_path: Path, damage: str) -> None:
    plan = write_floor_plan(tmp_path / "plan.dxf", rooms=20, seed=2)
    data = plan.path.read_bytes()
    path = tmp_path / "odd.dxf"
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "binary":
        data = b"AutoCAD Binary DXF\r\n\x1a\x00" + data
    elif damage == "headerless":
        start = data.index(b"ENTITIES") - 20
        data = data[data.index(b"  0", start):]
    elif damage == "line_lost":  # one line of a wall's pairs gone: recover repairs, not us
        at = data.index(b"\nA-WALL\n") + len(b"\nA-WALL\n")
        data = data[:at] + data[data.index(b"\n", at) + 1:]
    elif damage == "bad_number_in_a_wall":  # a wall the slim read would leave out: the whole
        wall = data.index(b"\nA-WALL\n", data.index(b"\nENTITIES\n"))  # file still decides
        at = data.index(b"\n 10\n", wall) + len(b"\n 10\n")
        data = data[:at] + b"1.0.0x" + data[data.index(b"\n", at):]
    elif damage == "cp1252":
        data = data.replace(b"AC1024", b"AC1015").replace(b"Corridor", "Flür".encode("cp1252"))
    path.write_bytes(data)
    assert slim_dxf(path, Layers(), min_bytes=0 if damage != "small" else 10**9) is None


def test_what_left_out_entities_own_goes_with_them(tmp_path: Path) -> None:
    """Wall lines with extension dictionaries and records, associative hatches, groups and
    dimensions, as AutoCAD writes them: the slimmed file leaves nothing orphaned for the
    auditor to delete (which would report the file as damaged), and reads the same."""
    from ezdxf.filemanagement import new

    doc = new("R2010")
    doc.header["$INSUNITS"] = 6
    msp = doc.modelspace()
    for i in range(5):
        corners = [(i * 10.0, 0.0), (i * 10 + 8.0, 0.0), (i * 10 + 8.0, 7.0), (i * 10.0, 7.0)]
        room = msp.add_lwpolyline(corners, close=True, dxfattribs={"layer": "A-AREA"})
        hatch = msp.add_hatch(dxfattribs={"layer": "A-AREA-PATT"})
        hatch.associate(hatch.paths.add_polyline_path(corners, is_closed=True), [room])
        hatch.new_extension_dict()
        msp.add_text(f"{i + 1}01", height=0.25,
                     dxfattribs={"layer": "A-AREA-IDEN", "insert": (i * 10 + 3.0, 3.0)})
        wall = msp.add_line(corners[0], corners[1], dxfattribs={"layer": "A-WALL"})
        wall.new_extension_dict().add_xrecord("NOTES")
        doc.groups.new(f"ROOM{i}").extend([room, wall])
        msp.add_linear_dim(base=(i * 10.0, -2.0), p1=corners[0], p2=corners[1],
                           dxfattribs={"layer": "A-ANNO-DIMS"}).render()
    path = tmp_path / "autocad_like.dxf"
    doc.saveas(path)
    slim = slim_dxf(path, Layers(), min_bytes=0)
    assert slim is not None and slim.dropped >= 15 and slim.dimension_blocks_left_out == 5
    _, auditor = recover.read(io.BytesIO(slim.data))
    assert not auditor.fixes and not auditor.errors
    slimmed = read_slim(path, Layers(), None)
    assert slimmed is not None and len(slimmed.rooms) == 5
    assert summary(slimmed) == summary(read_floor_plan(path, Layers(), slim=False))


def test_inserts_are_left_out_only_when_their_blocks_draw_nothing_read(tmp_path: Path) -> None:
    """Furniture goes; a wing of rooms nested two deep (its outlines on layer 0 of a block
    inserted on the rooms layer, and on the rooms layer itself), a lift named as one on the
    wall layer and a room tag with attributes on the furniture layer stay; the plan is the
    same."""
    from ezdxf.filemanagement import new

    doc = new("R2010")
    doc.header["$INSUNITS"] = 6
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (8, 0), (8, 7), (0, 7)], close=True,
                       dxfattribs={"layer": "A-AREA"})
    chair = doc.blocks.new("CHAIR")
    chair.add_lwpolyline([(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)], close=True)
    desk = doc.blocks.new("DESK")
    desk.add_blockref("CHAIR", (0, -0.6))
    room = doc.blocks.new("ROOM")
    room.add_lwpolyline([(0, 0), (8, 0), (8, 7), (0, 7)], close=True)  # layer 0
    room.add_text("1", height=0.25, dxfattribs={"layer": "A-AREA-IDEN", "insert": (3, 3)})
    wing = doc.blocks.new("WING")
    wing.add_blockref("ROOM", (0, 0), dxfattribs={"layer": "A-AREA"})
    wing.add_blockref("ROOM", (9, 0), dxfattribs={"layer": "A-AREA"})
    lift = doc.blocks.new("AUFZUG_630KG")
    lift.add_lwpolyline([(0, 0), (2, 0), (2, 2), (0, 2)], close=True)
    tag = doc.blocks.new("TAG")
    tag.add_attdef("ROOMNO", (0, 0), dxfattribs={"layer": "A-AREA-IDEN", "height": 0.25})
    for i in range(6):
        msp.add_blockref("DESK", (1 + i, 1), dxfattribs={"layer": "A-FURN"})
    msp.add_blockref("WING", (0, 20), dxfattribs={"layer": "0"})
    msp.add_blockref("AUFZUG_630KG", (12, 0), dxfattribs={"layer": "A-WALL"})
    msp.add_blockref("TAG", (4, 4), dxfattribs={"layer": "A-FURN"}).add_auto_attribs(
        {"ROOMNO": "101"})
    path = tmp_path / "blocks.dxf"
    doc.saveas(path)
    slim = slim_dxf(path, Layers(), min_bytes=0)
    assert slim is not None and slim.dropped == 6  # the desks
    slim_doc, _ = recover.read(io.BytesIO(slim.data))
    names = sorted(e.dxf.name for e in slim_doc.modelspace().query("INSERT"))
    assert names == ["AUFZUG_630KG", "TAG", "WING"]
    whole = read_floor_plan(path, Layers(), slim=False)
    assert len(whole.rooms) == 4 and any(r.number == "101" for r in whole.rooms)
    slimmed = read_slim(path, Layers(), None)
    assert slimmed is not None and summary(slimmed) == summary(whole)


def test_the_drawings_geodata_stays(tmp_path: Path) -> None:
    """A drawing's own georeference (its GEODATA object, read to place the level) is kept."""
    from ezdxf.filemanagement import new

    doc = new("R2010")
    doc.header["$INSUNITS"] = 6
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (8, 0), (8, 7), (0, 7)], close=True,
                       dxfattribs={"layer": "A-AREA"})
    msp.add_line((0, 0), (8, 0), dxfattribs={"layer": "A-WALL"}).new_extension_dict()
    geodata = msp.new_geodata()
    geodata.dxf.design_point = (0, 0, 0)
    geodata.dxf.reference_point = (500000.0, 5000000.0, 0)
    path = tmp_path / "placed.dxf"
    doc.saveas(path)
    slim = slim_dxf(path, Layers(), min_bytes=0)
    assert slim is not None and slim.dropped == 1
    slim_doc, auditor = recover.read(io.BytesIO(slim.data))
    assert not auditor.fixes
    kept = slim_doc.modelspace().get_geodata()
    assert kept is not None and tuple(kept.dxf.reference_point)[:2] == (500000.0, 5000000.0)
