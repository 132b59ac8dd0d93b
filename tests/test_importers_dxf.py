"""DXF floor-plan reader: tiny drawings built with ezdxf in tmp_path, plus a GDAL oracle."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ezdxf
import pyogrio
import pytest
from shapely.geometry import Polygon

from gridmap.errors import DxfError
from importers.dxf import INSUNITS, extract_floor_plan, read_floor_plan
from importers.manifest import DrawingUnit, Layers
from importers.room_labels import split_label

FT = 0.3048

MakeDxf = Callable[..., Path]


def _door_block(doc: Any, name: str) -> None:
    blk = doc.blocks.new(name=name)
    blk.add_line((-1.5, 0), (-1.5, 3))
    blk.add_arc((-1.5, 0), 3, 0, 90)


def build_doc(
    *,
    insunits: int = 2,
    rooms: bool = True,
    room_layer: str = "A-AREA",
    bulge: bool = False,
    extra: Callable[[Any], None] | None = None,
) -> Any:
    """Two 30x20 ft rooms side by side plus an outline, labels and doors, in feet."""
    doc = ezdxf.new("R2013")  # type: ignore[attr-defined]
    doc.header["$INSUNITS"] = insunits
    for layer in ("A-AREA", "A-AREA-IDEN", "A-DOOR", "A-FLOR-OTLN", "A-WALL", "G-ANNO-TTLB"):
        doc.layers.add(layer)
    if room_layer not in doc.layers:
        doc.layers.add(room_layer)
    _door_block(doc, "DOOR-EXT")
    _door_block(doc, "DOOR-INT")
    _door_block(doc, "DOOR")
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (60, 0), (60, 20), (0, 20)], close=True,
                       dxfattribs={"layer": "A-FLOR-OTLN"})
    msp.add_line((0, 0), (60, 0), dxfattribs={"layer": "A-WALL"})
    msp.add_text("SHEET A-101", height=2, dxfattribs={"layer": "G-ANNO-TTLB"}).set_placement(
        (10, -10))
    if rooms:
        second: list[tuple[float, float, float]] = [(30, 0, 0), (60, 0, 0), (60, 20, 0),
                                                    (30, 20, 0)]
        if bulge:
            second[1] = (60, 0, 0.4)  # east wall bulges outward
        msp.add_lwpolyline([(0, 0), (30, 0), (30, 20), (0, 20)], close=True,
                           dxfattribs={"layer": room_layer})
        msp.add_lwpolyline(second, format="xyb", close=True, dxfattribs={"layer": room_layer})
        msp.add_text("101", height=1.5, dxfattribs={"layer": "A-AREA-IDEN"}).set_placement(
            (15, 12))
        msp.add_text("Main Office", height=1, dxfattribs={"layer": "A-AREA-IDEN"}).set_placement(
            (15, 8))
        msp.add_mtext("102\\PScience Lab", dxfattribs={"layer": "A-AREA-IDEN"}).set_location(
            (45, 10))
    msp.add_blockref("DOOR-EXT", (15, 0), dxfattribs={"layer": "A-DOOR"})
    msp.add_blockref("DOOR", (60, 10), dxfattribs={"layer": "A-DOOR", "rotation": 90})
    msp.add_blockref("DOOR-INT", (30, 10), dxfattribs={"layer": "A-DOOR", "rotation": 90})
    if extra is not None:
        extra(doc)
    return doc


@pytest.fixture
def make_dxf(tmp_path: Path) -> MakeDxf:
    def make(name: str = "plan.dxf", **kwargs: Any) -> Path:
        path = tmp_path / name
        build_doc(**kwargs).saveas(path)
        return path

    return make


def test_rooms_labels_and_units(make_dxf: MakeDxf) -> None:
    plan = read_floor_plan(make_dxf())
    assert plan.unit_m == pytest.approx(FT)
    assert plan.warnings == []
    by_number = {r.number: r for r in plan.rooms}
    assert by_number["101"].name == "Main Office"
    assert by_number["102"].name == "Science Lab"
    assert by_number["101"].polygon.area == pytest.approx(30 * 20 * FT * FT)
    assert plan.outline is not None
    assert plan.outline.area == pytest.approx(60 * 20 * FT * FT)


@pytest.mark.parametrize(("code", "metres"), [(1, 0.0254), (2, 0.3048), (4, 0.001),
                                              (5, 0.01), (6, 1.0)])
def test_insunits_scale(make_dxf: MakeDxf, code: int, metres: float) -> None:
    plan = read_floor_plan(make_dxf(insunits=code))
    assert plan.unit_m == pytest.approx(metres)
    if metres < 0.02:  # a 30 x 20 mm "room" is below the 0.1 m² noise floor
        assert plan.rooms == []
        assert any("smaller than 0.1" in w for w in plan.warnings)
        return
    room = next(r for r in plan.rooms if r.number == "101")
    assert room.polygon.area == pytest.approx(600 * metres * metres)


def test_unitless_needs_declared_unit(make_dxf: MakeDxf) -> None:
    path = make_dxf(insunits=0)
    with pytest.raises(DxfError, match=r"plan\.dxf.*unitless"):
        read_floor_plan(path)
    plan = read_floor_plan(path, declared_unit=DrawingUnit.INCH)
    assert plan.unit_m == pytest.approx(0.0254)


@pytest.mark.parametrize("code", sorted(INSUNITS))
def test_insunits_and_declared_units_share_one_table(make_dxf: MakeDxf, code: int) -> None:
    """Every unit a drawing may declare can also be declared in the manifest, with the same
    scale: a unitless drawing declared in the manifest reads exactly like a drawing that says
    its unit itself."""
    unit = INSUNITS[code]
    assert DrawingUnit(unit.value) is unit
    by_drawing = read_floor_plan(make_dxf("own.dxf", insunits=code))
    by_manifest = read_floor_plan(make_dxf("unitless.dxf", insunits=0), declared_unit=unit)
    assert by_drawing.unit_m == by_manifest.unit_m == unit.metres
    assert [r.polygon.area for r in by_drawing.rooms] == [r.polygon.area
                                                           for r in by_manifest.rooms]


def test_unknown_units_rejected(make_dxf: MakeDxf) -> None:
    with pytest.raises(DxfError, match=r"plan\.dxf: unsupported drawing units .*kilometres"):
        read_floor_plan(make_dxf(insunits=7))


def test_declared_unit_mismatch_warns(make_dxf: MakeDxf) -> None:
    plan = read_floor_plan(make_dxf(), declared_unit=DrawingUnit.METRE)
    assert plan.unit_m == pytest.approx(FT)
    assert any("manifest says units" in w for w in plan.warnings)


def test_bulge_becomes_arc(make_dxf: MakeDxf) -> None:
    plan = read_floor_plan(make_dxf(bulge=True))
    room = next(r for r in plan.rooms if r.number == "102")
    # segment area of an arc with bulge b on chord c: c^2/(8 b^2) * (theta - sin theta) ...
    chord, b = 20.0, 0.4
    theta = 4 * math.atan(b)
    radius = chord / (2 * math.sin(theta / 2))
    segment = radius**2 / 2 * (theta - math.sin(theta))
    assert room.polygon.area == pytest.approx((600 + segment) * FT * FT, rel=1e-3)
    assert len(room.polygon.exterior.coords) > 10


def test_doors_exterior_by_block_or_outline(make_dxf: MakeDxf) -> None:
    plan = read_floor_plan(make_dxf())
    doors = {d.block: d for d in plan.doors}
    assert doors["DOOR-EXT"].exterior  # by block name
    assert doors["DOOR"].exterior  # generic block on the outline
    assert not doors["DOOR-INT"].exterior
    assert doors["DOOR"].point.x == pytest.approx(60 * FT)


def test_nested_door_inserts_are_followed(make_dxf: MakeDxf) -> None:
    def extra(doc: Any) -> None:
        pair = doc.blocks.new(name="DOOR-PAIR-GROUP")
        pair.add_blockref("DOOR-INT", (0, 0), dxfattribs={"layer": "A-DOOR"})
        pair.add_blockref("DOOR-INT", (4, 0), dxfattribs={"layer": "A-DOOR"})
        doc.modelspace().add_blockref("DOOR-PAIR-GROUP", (10, 20),
                                      dxfattribs={"layer": "A-FURN"})

    plan = read_floor_plan(make_dxf(extra=extra))
    nested = sorted(d.point.x for d in plan.doors if d.block == "DOOR-INT" and d.point.y > 5)
    assert nested == pytest.approx([10 * FT, 14 * FT])


def test_nested_door_block_is_one_door(make_dxf: MakeDxf) -> None:
    """A door block built from sub-blocks (leaf, frame) is one door, not one per sub-block."""
    def extra(doc: Any) -> None:
        leaf = doc.blocks.new(name="DOOR_LEAF")
        leaf.add_line((0, 0), (0, 3))
        frame = doc.blocks.new(name="DOOR_FRAME")
        frame.add_line((-0.2, 0), (0.2, 0))
        door = doc.blocks.new(name="DOOR-EXT-DOUBLE")
        door.add_blockref("DOOR_LEAF", (-1.5, 0))  # layer 0: takes the insert's layer
        door.add_blockref("DOOR_LEAF", (1.5, 0), dxfattribs={"layer": "A-DOOR"})
        door.add_blockref("DOOR_FRAME", (0, 0), dxfattribs={"layer": "A-DOOR"})
        door.add_arc((-1.5, 0), 3, 0, 90)
        doc.modelspace().add_blockref("DOOR-EXT-DOUBLE", (45, 0),
                                      dxfattribs={"layer": "A-DOOR"})

    plan = read_floor_plan(make_dxf(extra=extra))
    assert sorted(d.block for d in plan.doors) == ["DOOR", "DOOR-EXT", "DOOR-EXT-DOUBLE",
                                                   "DOOR-INT"]
    double = next(d for d in plan.doors if d.block == "DOOR-EXT-DOUBLE")
    assert double.exterior and double.point.x == pytest.approx(45 * FT)
    assert plan.warnings == []


def test_wing_block_on_the_door_layer_is_read_as_a_group(make_dxf: MakeDxf) -> None:
    """A wing (room outline, label, door) inserted on A-DOOR is not one door: its room and its
    door are read, and a warning names the file, the block and the insert's handle."""
    handles: dict[str, str] = {}

    def extra(doc: Any) -> None:
        wing = doc.blocks.new(name="WING-A")
        wing.add_lwpolyline([(0, 0), (30, 0), (30, 20), (0, 20)], close=True,
                            dxfattribs={"layer": "A-AREA"})
        wing.add_text("101", height=1.5, dxfattribs={"layer": "A-AREA-IDEN"}).set_placement(
            (15, 12))
        wing.add_text("Main Office", height=1, dxfattribs={"layer": "A-AREA-IDEN"}
                      ).set_placement((15, 8))
        wing.add_line((0, 0), (30, 0))  # a wall on layer 0: takes A-DOOR, still ignored
        wing.add_blockref("DOOR-EXT", (10, 20), dxfattribs={"layer": "A-DOOR"})
        ref = doc.modelspace().add_blockref("WING-A", (0, 30), dxfattribs={"layer": "A-DOOR"})
        handles["wing"] = ref.dxf.handle

    plan = read_floor_plan(make_dxf("wing.dxf", extra=extra))
    office = [r for r in plan.rooms if r.name == "Main Office"]
    assert [r.number for r in office] == ["101", "101"]  # the drawn one and the wing's
    wing_room = next(r for r in office if r.polygon.bounds[1] > 25 * FT)
    assert wing_room.polygon.area == pytest.approx(600 * FT * FT)
    assert "WING-A" not in {d.block for d in plan.doors}
    wing_door = next(d for d in plan.doors if d.point.y > 25 * FT)
    assert wing_door.block == "DOOR-EXT" and wing_door.exterior
    assert (wing_door.point.x, wing_door.point.y) == (pytest.approx(10 * FT),
                                                       pytest.approx(50 * FT))
    assert plan.warnings[0] == (
        f"wing.dxf: block 'WING-A' ({handles['wing']}) on door layer 'A-DOOR' holds 1 room "
        "outline, 2 room labels and 1 door block; read as a group, not as one door"
    )
    # the wing lies north of the drawn floor outline: said once, as the report's finding
    assert len(plan.warnings) == 2 and "lies outside the floor outline" in plan.warnings[1]


def test_group_of_door_blocks_on_the_door_layer_is_read_as_its_doors(make_dxf: MakeDxf
                                                                      ) -> None:
    """Door blocks (by name: *EXT*, *INT*) at two places in a block on A-DOOR are that many
    doors; parts named otherwise, or door blocks on another layer, do not count."""
    def extra(doc: Any) -> None:
        group = doc.blocks.new(name="CORRIDOR-DOORS")
        group.add_blockref("DOOR-INT", (0, 0))  # layer 0: takes A-DOOR
        group.add_blockref("DOOR-EXT", (8, 0), dxfattribs={"layer": "A-DOOR"})
        group.add_blockref("DOOR-INT", (20, 0), dxfattribs={"layer": "A-FURN"})  # not a door
        doc.modelspace().add_blockref("CORRIDOR-DOORS", (5, 40), dxfattribs={"layer": "a-door"})

    plan = read_floor_plan(make_dxf(extra=extra))
    grouped = sorted((d.point.x, d.block) for d in plan.doors if d.point.y > 30 * FT)
    assert grouped == [(pytest.approx(5 * FT), "DOOR-INT"), (pytest.approx(13 * FT), "DOOR-EXT")]
    assert len(plan.warnings) == 1
    assert "block 'CORRIDOR-DOORS'" in plan.warnings[0]
    assert "on door layer 'a-door' holds 2 door blocks; read as a group" in plan.warnings[0]


@pytest.mark.parametrize("parts", [
    [("DOOR_LEAF", (0, 0))],  # a leaf sub-block: part of the door
    [("DOOR-INT-LEAF", (0, 0))],  # one door block inside: still one place
    [("DOOR-INT-LEAF", (0, 0)), ("DOOR-INT-LEAF", (0.01, 0))],  # twice at one place
])
def test_door_block_with_parts_stays_one_door(make_dxf: MakeDxf,
                                              parts: list[tuple[str, tuple[float, float]]]
                                              ) -> None:
    def extra(doc: Any) -> None:
        for name in {n for n, _ in parts}:
            doc.blocks.new(name=name).add_line((0, 0), (0, 3))
        door = doc.blocks.new(name="DOOR-EXT-SINGLE")
        for name, at in parts:
            door.add_blockref(name, at)
        door.add_arc((0, 0), 3, 0, 90)
        doc.modelspace().add_blockref("DOOR-EXT-SINGLE", (45, 0), dxfattribs={"layer": "A-DOOR"})

    plan = read_floor_plan(make_dxf(extra=extra))
    assert sorted(d.block for d in plan.doors) == ["DOOR", "DOOR-EXT", "DOOR-EXT-SINGLE",
                                                   "DOOR-INT"]
    assert plan.warnings == []


def test_double_door_from_two_door_named_leaves_is_one_opening(make_dxf: MakeDxf) -> None:
    def extra(doc: Any) -> None:
        doc.blocks.new(name="DOOR-EXT-LEAF").add_line((0, 0), (0, 3))
        pair = doc.blocks.new(name="DOOR-EXT-PAIR")
        pair.add_blockref("DOOR-EXT-LEAF", (0, 0), dxfattribs={"layer": "A-DOOR"})
        pair.add_blockref("DOOR-EXT-LEAF", (3, 0), dxfattribs={"layer": "A-DOOR"})
        doc.modelspace().add_blockref("DOOR-EXT-PAIR", (45, 0), dxfattribs={"layer": "A-DOOR"})

    plan = read_floor_plan(make_dxf(extra=extra))
    assert [d.block for d in plan.doors].count("DOOR-EXT-PAIR") == 1
    assert "DOOR-EXT-LEAF" not in {d.block for d in plan.doors}
    assert plan.warnings == []


def test_interior_door_block_patterns_are_configurable(make_dxf: MakeDxf) -> None:
    def extra(doc: Any) -> None:
        _door_block(doc, "D-STD")
        group = doc.blocks.new(name="LAB-DOORS")
        group.add_blockref("D-STD", (0, 0))
        group.add_blockref("D-STD", (6, 0))
        doc.modelspace().add_blockref("LAB-DOORS", (5, 40), dxfattribs={"layer": "A-DOOR"})

    path = make_dxf(extra=extra)
    assert {d.block for d in read_floor_plan(path).doors if d.point.y > 30 * FT} == {
        "LAB-DOORS"}
    plan = read_floor_plan(path, Layers(interior_door_blocks=("D-*",)))
    assert [d.block for d in plan.doors if d.point.y > 30 * FT] == ["D-STD", "D-STD"]
    assert any("'LAB-DOORS'" in w and "holds 2 door blocks" in w for w in plan.warnings)


def test_rooms_inside_a_non_door_block_are_read(make_dxf: MakeDxf) -> None:
    """A wing inserted as a block (as an xref bound into the drawing) still yields its rooms."""
    def extra(doc: Any) -> None:
        wing = doc.blocks.new(name="WING-EAST")
        wing.add_lwpolyline([(0, 0), (20, 0), (20, 20), (0, 20)], close=True,
                            dxfattribs={"layer": "A-AREA"})
        wing.add_text("120", height=1.5, dxfattribs={"layer": "A-AREA-IDEN"}).set_placement(
            (10, 10))
        wing.add_blockref("DOOR-EXT", (10, 0), dxfattribs={"layer": "A-DOOR"})
        doc.modelspace().add_blockref("WING-EAST", (60, 0), dxfattribs={"layer": "X-WING"})

    plan = read_floor_plan(make_dxf(extra=extra))
    room = next(r for r in plan.rooms if r.number == "120")
    assert room.polygon.area == pytest.approx(400 * FT * FT)
    assert [d.point.x for d in plan.doors if d.point.x > 65 * FT] == [pytest.approx(70 * FT)]


def test_warnings_for_open_polyline_stray_label_unlabelled_room(make_dxf: MakeDxf) -> None:
    def extra(doc: Any) -> None:
        msp = doc.modelspace()
        msp.add_lwpolyline([(0, 30), (10, 30), (10, 40)], dxfattribs={"layer": "A-AREA"})
        msp.add_text("N", dxfattribs={"layer": "A-AREA-IDEN"}).set_placement((100, 100))
        msp.add_lwpolyline([(0, 50), (10, 50), (10, 60), (0, 60)], close=True,
                           dxfattribs={"layer": "A-AREA"})
        msp.add_lwpolyline([(20, 50), (30, 50), (30, 60), (20, 60)], close=True,
                           dxfattribs={"layer": "A-AREA"})
        msp.add_text("Storage", dxfattribs={"layer": "A-AREA-IDEN"}).set_placement((25, 55))

    plan = read_floor_plan(make_dxf(extra=extra))
    text = "\n".join(plan.warnings)
    assert "is open; not a room outline" in text and "layer 'A-AREA'" in text
    assert "label 'N'" in text and "outside every room" in text
    assert "has no label" in text
    assert "('Storage') has no number" in text
    assert len(plan.rooms) == 4


def test_missing_room_layer_names_layers_present(make_dxf: MakeDxf) -> None:
    path = make_dxf("floor1.dxf", room_layer="ROOMS")
    with pytest.raises(DxfError) as err:
        read_floor_plan(path, Layers(rooms="A-ROOM"))
    msg = str(err.value)
    assert "layer 'A-ROOM' not found in floor1.dxf; layers present:" in msg
    assert "ROOMS" in msg
    # and the override finds them
    assert len(read_floor_plan(path, Layers(rooms="rooms")).rooms) == 2


def test_room_layer_without_closed_polylines(make_dxf: MakeDxf) -> None:
    with pytest.raises(DxfError, match=r"plan\.dxf: layer 'A-AREA' holds no closed polylines"):
        read_floor_plan(make_dxf(rooms=False))


def test_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "junk.dxf"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(DxfError, match=r"junk\.dxf"):
        read_floor_plan(path)


@pytest.mark.parametrize("keep", [0.1, 0.4])
def test_truncated_file(make_dxf: MakeDxf, tmp_path: Path, keep: float) -> None:
    good = make_dxf().read_bytes()
    path = tmp_path / "cut.dxf"
    path.write_bytes(good[: int(len(good) * keep)])
    with pytest.raises(DxfError, match=r"cut\.dxf.*(not a readable DXF|damaged)"):
        read_floor_plan(path)


def test_truncated_but_recoverable(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parent.parent / "data/samples/lincoln_ridge/A_level1.dxf"
    good = sample.read_bytes()
    path = tmp_path / "cut.dxf"
    path.write_bytes(good[: int(len(good) * 0.9)])
    plan = read_floor_plan(path)
    assert any(w.startswith("cut.dxf") and "recovered" in w for w in plan.warnings)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DxfError, match=r"nope\.dxf: cannot read"):
        read_floor_plan(tmp_path / "nope.dxf")


def test_extract_from_open_drawing() -> None:
    plan = extract_floor_plan(build_doc(insunits=6), "mem.dxf")
    assert {r.number for r in plan.rooms} == {"101", "102"}


@pytest.mark.parametrize(("text", "expected"), [
    ("214\nScience Lab", ("214", "Science Lab")),
    ("B-12", ("B-12", "")),
    ("Gym", ("", "Gym")),
    ("101A Main Office", ("101A", "Main Office")),
    ("Stair 1", ("", "Stair 1")),
    ("c-1", ("C-1", "")),
])
def test_split_label(text: str, expected: tuple[str, str]) -> None:
    assert split_label(text) == expected


# --- oracle: GDAL's own DXF reader -------------------------------------------------------------


def _gdal_rooms(path: Path, layer: str = "A-AREA") -> dict[str, Polygon]:
    df = pyogrio.read_dataframe(path)
    rows = df[df["Layer"] == layer]
    return {str(h): Polygon(g.coords) for h, g in zip(rows["EntityHandle"], rows.geometry,
                                                       strict=True)}


@pytest.mark.parametrize("bulge", [False, True])
def test_rooms_match_gdal(make_dxf: MakeDxf, bulge: bool) -> None:
    path = make_dxf(bulge=bulge, insunits=6)
    ours = {r.handle: r.polygon for r in read_floor_plan(path).rooms}
    theirs = _gdal_rooms(path)
    assert set(ours) == set(theirs)
    for handle, poly in ours.items():
        ref = theirs[handle]
        has_arc = len(ref.exterior.coords) != 5
        if has_arc:
            assert poly.area == pytest.approx(ref.area, rel=2e-3)
        else:
            assert len(poly.exterior.coords) == len(ref.exterior.coords)
            assert poly.area == pytest.approx(ref.area, rel=1e-9)
            assert poly.equals(ref)


def test_sample_floor_plans_match_gdal() -> None:
    folder = Path(__file__).resolve().parent.parent / "data" / "samples" / "lincoln_ridge"
    for path in sorted(folder.glob("*.dxf")):
        plan = read_floor_plan(path)
        theirs = _gdal_rooms(path)
        assert {r.handle for r in plan.rooms} == set(theirs), path.name
        for r in plan.rooms:
            ref = theirs[r.handle]
            area_ft2 = r.polygon.area / (FT * FT)
            assert area_ft2 == pytest.approx(ref.area, rel=2e-3), (path.name, r.number)
            if len(ref.exterior.coords) == 5:
                assert len(r.polygon.exterior.coords) == 5
        df = pyogrio.read_dataframe(path)
        labels = df[(df["Layer"] == "A-AREA-IDEN")]
        assert len(labels) >= len(plan.rooms)
