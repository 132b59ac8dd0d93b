"""The DXF files schools really have: versions and code pages, headerless and damaged files,
blocks and arrays, hatches, paper space, DWG, stairs and lifts, and the import report's
findings for missing layers, rooms outside the outline and labels without rooms.

The committed fixtures are written by ``tests/fixtures/dxf/make_features.py``; smaller cases
are built here with ezdxf. GDAL's DXF reader (pyogrio) is the oracle where it reads the same.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import ezdxf
import pyogrio
import pytest
from shapely import affinity
from shapely.geometry import Point, Polygon, box
from shapely.ops import unary_union

from fuzz.mutate import mutate_dxf
from gridmap.errors import DxfError, ImportLimitExceeded
from importers.campus import import_campus
from importers.dxf import FloorPlan, Room, extract_floor_plan, read_floor_plan
from importers.dxf_open import read_drawing
from importers.dxf_vertical import block_kind
from importers.findings import FindingKind, Severity
from importers.layer_proposal import layer_hint
from importers.limits import ImportLimits, WorkBudget
from importers.manifest import DrawingUnit, Layers

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "dxf"
sys.path.insert(0, str(FIXTURES))
import make_features  # type: ignore[import-not-found]  # noqa: E402  (what was drawn)

M = DrawingUnit.METRE
VERSIONS = [v.lower() for v in make_features.VERSIONS]


def read(name: str, layers: Layers | None = None, **kwargs: Any) -> FloorPlan:
    return read_floor_plan(FIXTURES / f"{name}.dxf", layers, M, **kwargs)


def rooms_of(plan: FloorPlan) -> list[tuple[str, str, str]]:
    """(number, name, outline as normalised WKT, 3 decimals) of each room, sorted."""
    return sorted((r.number, r.name, _wkt(r.polygon)) for r in plan.rooms)


def doors_of(plan: FloorPlan) -> list[tuple[float, float, str, bool]]:
    return sorted((round(d.point.x, 3), round(d.point.y, 3), d.block, d.exterior)
                  for d in plan.doors)


def _wkt(polygon: Polygon) -> str:
    import shapely

    return str(shapely.set_precision(polygon, 0.001).normalize().wkt)


def kinds(plan: FloorPlan) -> list[FindingKind]:
    return [f.kind for f in plan.findings]


def new_doc(version: str = "R2013") -> Any:
    doc = ezdxf.new(version)  # type: ignore[attr-defined]
    doc.header["$INSUNITS"] = 6
    for layer in ("A-AREA", "A-AREA-IDEN", "A-DOOR", "A-FLOR-OTLN"):
        doc.layers.add(layer)
    blk = doc.blocks.new(name="DOOR")
    blk.add_line((0, 0), (0.9, 0))
    return doc


def room(msp: Any, x0: float, y0: float, x1: float, y1: float, layer: str = "A-AREA") -> None:
    msp.add_lwpolyline([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], close=True,
                       dxfattribs={"layer": layer})


def label(msp: Any, text: str, at: tuple[float, float]) -> None:
    msp.add_text(text, height=0.3, dxfattribs={"layer": "A-AREA-IDEN"}).set_placement(at)


# --- versions and code pages -------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> FloorPlan:
    return read("feat_r2013")


def test_the_reference_floor_reads_as_drawn(reference: FloorPlan) -> None:
    drawn = {(n, name): box(x0, y0, x1, y1) for n, name, x0, y0, x1, y1 in make_features.ROOMS}
    assert {(r.number, r.name) for r in reference.rooms} == set(drawn)
    for r in reference.rooms:
        assert r.polygon.symmetric_difference(drawn[r.number, r.name]).area < 1e-6
    assert len(reference.doors) == len(make_features.DOORS)
    assert reference.findings == [] and reference.warnings == []


@pytest.mark.parametrize("version", VERSIONS)
def test_every_dxf_version_reads_alike(version: str, reference: FloorPlan) -> None:
    plan = read(f"feat_{version}")
    assert rooms_of(plan) == rooms_of(reference)
    assert doors_of(plan) == doors_of(reference)
    assert plan.warnings == []


@pytest.mark.parametrize("version", ["r12", "r2000", "r2004"])
def test_code_page_1252_names_keep_their_accents(version: str) -> None:
    data = (FIXTURES / f"feat_{version}.dxf").read_bytes()
    assert b"ANSI_1252" in data and "Süd".encode("cp1252") in data  # single bytes, not UTF-8
    assert "Süd".encode() not in data
    names = {r.name for r in read(f"feat_{version}").rooms}
    assert names == {name for _, name, *_ in make_features.ROOMS}


def test_a_cyrillic_code_page_is_decoded(tmp_path: Path) -> None:
    doc = new_doc("R2000")
    doc.encoding = "cp1251"  # $DWGCODEPAGE ANSI_1251
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    msp.add_mtext("12\\PКабинет химии", dxfattribs={"layer": "A-AREA-IDEN", "insert": (1, 3)})
    path = tmp_path / "ru.dxf"
    doc.saveas(path)
    assert b"ANSI_1251" in path.read_bytes() and "Кабинет".encode("cp1251") in path.read_bytes()
    plan = read_floor_plan(path)
    assert plan.rooms[0].number == "12" and "Кабинет химии" in plan.rooms[0].name


def test_utf8_text_in_a_file_that_declares_1252_is_read_as_utf8(reference: FloorPlan) -> None:
    plan = read("feat_utf8_as_1252")
    assert rooms_of(plan) == rooms_of(reference)
    notes = [f for f in plan.findings if "UTF-8" in f.message]
    assert len(notes) == 1 and notes[0].severity is Severity.INFO
    assert plan.warnings == []


# --- headerless ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["feat_headerless", "feat_headerless_r12"])
def test_a_headerless_file_reads_like_the_full_one(name: str, reference: FloorPlan) -> None:
    data = (FIXTURES / f"{name}.dxf").read_bytes()
    assert b"HEADER" not in data and b"BLOCKS" not in data and b"TABLES" not in data
    assert data.split()[:4] == [b"0", b"SECTION", b"2", b"ENTITIES"]
    plan = read(name)
    assert rooms_of(plan) == rooms_of(reference)
    assert doors_of(plan) == doors_of(reference)
    assert plan.warnings == []
    (note,) = [f for f in plan.findings if "no HEADER section" in f.message]
    assert note.severity is Severity.INFO and "2 block(s)" in note.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # GDAL: the door blocks are undefined
def test_gdal_reads_the_headerless_rooms_that_gridmap_reads() -> None:
    frame = pyogrio.read_dataframe(FIXTURES / "feat_headerless.dxf")
    rooms = frame[(frame.Layer == "A-AREA")]
    gdal = sorted(_wkt(Polygon(g.coords)) for g in rooms.geometry)
    ours = sorted(w for _, _, w in rooms_of(read("feat_headerless")))
    assert gdal == ours


def test_a_headerless_file_still_needs_its_units() -> None:
    with pytest.raises(DxfError, match=r"feat_headerless\.dxf: drawing is unitless"):
        read_floor_plan(FIXTURES / "feat_headerless.dxf")


# --- damaged files -----------------------------------------------------------------------------


def test_a_damaged_file_is_recovered_with_ezdxfs_messages_as_findings(
        reference: FloorPlan) -> None:
    plan = read("feat_damaged")
    assert rooms_of(plan) == rooms_of(reference)
    recovered = [f for f in plan.findings if f.kind is FindingKind.RECOVERED_FILE]
    summary, *details = recovered
    assert summary.severity is Severity.WARNING and plan.warnings == [summary.message]
    assert summary.message.startswith("feat_damaged.dxf: RECOVERED:")
    assert "no EOF marker" in summary.message
    assert any("missing ENDSEC" in f.message for f in details)
    assert all(f.severity is Severity.INFO and f.source == "feat_damaged.dxf" for f in details)


def test_mutated_headerless_files_end_in_a_clear_error_or_a_plan(tmp_path: Path) -> None:
    text = (FIXTURES / "feat_headerless.dxf").read_text()
    unnamed = []
    for seed in range(25):
        mutated, _ = mutate_dxf(random.Random(seed), text)
        path = tmp_path / f"m{seed}.dxf"
        path.write_text(mutated)
        budget = WorkBudget(ImportLimits(time_limit_s=20))
        try:  # a plan, or an error naming the file: never anything else
            read_floor_plan(path, declared_unit=M, budget=budget)
        except (DxfError, ImportLimitExceeded) as exc:
            if f"m{seed}.dxf" not in str(exc):
                unnamed.append(str(exc))
    assert unnamed == []


# --- DWG -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "magic", "release"), [
    ("plan.dxf", b"AC1032", "AutoCAD 2018"), ("plan.dwg", b"AC1015", "AutoCAD 2000"),
    ("PLAN", b"AC1027", "AutoCAD 2013"), ("old.dwg", b"AC1009", "AutoCAD R11/R12"),
])
def test_a_dwg_is_refused_with_how_to_convert_it(tmp_path: Path, name: str, magic: bytes,
                                                 release: str) -> None:
    path = tmp_path / name
    path.write_bytes(magic + bytes(range(256)) * 8)
    with pytest.raises(DxfError) as err:
        read_floor_plan(path, declared_unit=M)
    message = str(err.value)
    assert message.startswith(f"{name}: this is a DWG drawing ({release} format")
    assert "ODA File Converter" in message and "LibreCAD" in message and "Save As" in message


# --- blocks ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blocks() -> FloorPlan:
    return read("feat_blocks")


def _classroom_at(*transform: Any) -> Polygon:
    """The CLASSROOM block's outline (6 x 4) placed by shapely's transforms in order."""
    shape: Polygon = box(0, 0, 6, 4)
    for op, args in transform:
        shape = getattr(affinity, op)(shape, *args, origin=(0, 0)) if op != "translate" \
            else affinity.translate(shape, *args)
    return shape


def _has_room(plan: FloorPlan, expected: Polygon) -> Room:
    found = [r for r in plan.rooms if r.polygon.symmetric_difference(expected).area < 1e-6]
    assert len(found) == 1, f"no room at {expected.bounds}"
    return found[0]


def test_nested_scaled_mirrored_and_rotated_inserts(blocks: FloorPlan) -> None:
    _has_room(blocks, _classroom_at(("translate", (0, 0))))  # WING: nested, first copy
    _has_room(blocks, _classroom_at(("translate", (6, 0))))  # WING: nested, second copy
    _has_room(blocks, _classroom_at(("scale", (2, 1.5)), ("translate", (0, 10))))
    _has_room(blocks, _classroom_at(("scale", (-1, 1)), ("translate", (30, 10))))
    _has_room(blocks, _classroom_at(("rotate", (90,)), ("translate", (40, 10))))


@pytest.mark.parametrize(("at", "rotation"), [((0, 30), 0.0), ((60, 0), 90.0)])
def test_a_minsert_array_is_every_room(blocks: FloorPlan, at: tuple[float, float],
                                       rotation: float) -> None:
    """2 rows x 3 columns, 4 and 6 apart: six rooms, the array turned with its insert."""
    for row in range(2):
        for column in range(3):
            cell = _classroom_at(("translate", (column * 6, row * 4)),
                                 ("rotate", (rotation,)), ("translate", at))
            assert _has_room(blocks, cell).name == "Classroom"


def test_an_attrib_numbers_the_room_block(blocks: FloorPlan) -> None:
    tagged = _has_room(blocks, box(50, 30, 55, 35))
    assert tagged.number == "214"
    assert len(blocks.rooms) == 18  # 2 nested + 3 + 6 + 6 + the tagged room


def test_an_attrib_on_layer_0_of_a_room_tag_on_the_label_layer(tmp_path: Path) -> None:
    doc = new_doc()
    tag = doc.blocks.new(name="RMTAG")
    tag.add_circle((0, 0), 0.6)
    tag.add_attdef("NUMBER", (0, 0), dxfattribs={"height": 0.3})
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    ref = msp.add_blockref("RMTAG", (3, 2), dxfattribs={"layer": "A-AREA-IDEN"})
    ref.add_auto_attribs({"NUMBER": "214"})
    assert ref.attribs[0].dxf.layer == "0"
    plan = extract_floor_plan(doc, "tag.dxf")
    assert [r.number for r in plan.rooms] == ["214"]


def test_a_room_stamp_on_layer_0_numbers_the_room_a_door_tag_does_not() -> None:
    """A German "Raumstempel" (RAUMNR, RAUMNAME, FLAECHE) inserted on layer 0 inside the room,
    its attributes on layer 0; a door tag block (TUERNR) beside it is not a room label."""
    doc = new_doc()
    stamp = doc.blocks.new(name="RAUMSTEMPEL")
    stamp.add_lwpolyline([(-1, -0.6), (1, -0.6), (1, 0.6), (-1, 0.6)], close=True)
    for k, tag in enumerate(("RAUMNR", "RAUMNAME", "FLAECHE")):
        stamp.add_attdef(tag, (-0.9, 0.3 - k * 0.4), dxfattribs={"height": 0.25})
    door_tag = doc.blocks.new(name="TUERSTEMPEL")
    door_tag.add_circle((0, 0), 0.3)
    door_tag.add_attdef("TUERNR", (0, 0), dxfattribs={"height": 0.2})
    msp = doc.modelspace()
    room(msp, 0, 0, 8, 6)
    ref = msp.add_blockref("RAUMSTEMPEL", (4, 3))
    ref.add_auto_attribs({"RAUMNR": "2.14", "RAUMNAME": "Physik", "FLAECHE": "48,0 m²"})
    msp.add_blockref("TUERSTEMPEL", (7, 1)).add_auto_attribs({"TUERNR": "2.14A"})
    msp.add_blockref("DOOR", (4, 0), dxfattribs={"layer": "A-DOOR"})
    plan = extract_floor_plan(doc, "stempel.dxf")
    assert [(r.number, r.name) for r in plan.rooms] == [("2.14", "Physik")]
    assert plan.label_only == []


# --- hatches -----------------------------------------------------------------------------------


def _segment_area(chord: float, bulge: float) -> float:
    angle = 4 * math.atan(abs(bulge))
    radius = chord / (2 * math.sin(angle / 2))
    return radius * radius / 2 * (angle - math.sin(angle))


def test_hatch_boundaries_are_rooms() -> None:
    plan = read("feat_hatch")
    area = {r.number: r.polygon.area for r in plan.rooms}
    assert set(area) == {"201", "202", "203", "204", "205"}
    assert area["201"] == pytest.approx(48 + _segment_area(6, 0.3), rel=0.01)  # bulge
    assert area["202"] == pytest.approx(48 + math.pi * 16 / 2, rel=0.01)  # edge path, arc
    assert area["203"] == pytest.approx(100 - 4, rel=1e-6)  # the island is a hole
    assert area["204"] == area["205"] == pytest.approx(16)  # one hatch, two rooms
    shaft = Point(25, 5)
    assert not any(r.polygon.contains(shaft) for r in plan.rooms)


def test_a_hatch_fills_by_the_even_odd_rule() -> None:
    """An area, a hole in it, an island in the hole; and two rooms sharing a wall line."""
    doc = new_doc()
    msp = doc.modelspace()
    nested = msp.add_hatch(dxfattribs={"layer": "A-AREA"})
    for x0, x1 in ((0, 10), (2, 8), (4, 6)):
        nested.paths.add_polyline_path([(x0, x0), (x1, x0), (x1, x1), (x0, x1)],
                                       is_closed=True)
    touching = msp.add_hatch(dxfattribs={"layer": "A-AREA"})
    for x0 in (20, 26):
        touching.paths.add_polyline_path([(x0, 0), (x0 + 6, 0), (x0 + 6, 4), (x0, 4)],
                                         is_closed=True)
    plan = extract_floor_plan(doc, "eo.dxf")
    assert sorted(r.polygon.area for r in plan.rooms) == [pytest.approx(a)
                                                          for a in (4, 24, 24, 100 - 36)]


def test_a_hatched_floor_outline_is_the_footprint() -> None:
    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    label(msp, "101", (2, 2))
    room(msp, 20, 0, 26, 4)  # outside the hatched outline
    label(msp, "102", (22, 2))
    facade = msp.add_hatch(dxfattribs={"layer": "A-FLOR-OTLN"})
    facade.paths.add_polyline_path([(0, 0), (10, 0), (10, 8), (0, 8)], is_closed=True)
    msp.add_blockref("DOOR", (3, 0), dxfattribs={"layer": "A-DOOR"})
    plan = extract_floor_plan(doc, "h.dxf")
    assert plan.outline is not None and plan.outline.equals(box(0, 0, 10, 8))
    assert [f.ref for f in plan.findings if f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT] == [
        next(r.handle for r in plan.rooms if r.number == "102")]
    assert [d.exterior for d in plan.doors] == [True]


def test_a_hatch_whose_arc_flattens_past_the_limit_is_refused(tmp_path: Path) -> None:
    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    hatch = msp.add_hatch(dxfattribs={"layer": "A-AREA"})
    path = hatch.paths.add_edge_path()
    path.add_arc((0, 0), 100_000, 0, 180)
    path.add_line((-100_000, 0), (100_000, 0))
    budget = WorkBudget(ImportLimits(max_outline_points=2_000))
    with pytest.raises(DxfError, match=r"big\.dxf: HATCH \w+ on layer 'A-AREA': .*2,000 "
                                       r"points \(outline point limit\)"):
        extract_floor_plan(doc, "big.dxf", budget=budget)


# --- paper space -------------------------------------------------------------------------------


def test_paper_space_is_ignored(reference: FloorPlan) -> None:
    plan = read("feat_paperspace")
    assert rooms_of(plan) == rooms_of(reference)
    assert doors_of(plan) == doors_of(reference)
    assert plan.label_only == [] and plan.warnings == []
    doc = ezdxf.readfile(FIXTURES / "feat_paperspace.dxf")  # type: ignore[attr-defined]
    sheet = doc.layouts.get("A-101")
    assert sum(e.dxftype() == "LWPOLYLINE" for e in sheet) == 2  # they are there, unread


def test_r12_paper_space_entities_are_ignored(tmp_path: Path) -> None:
    """In R12, paper space entities share the ENTITIES section, flagged by group code 67."""
    doc = new_doc("R2000")
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    label(msp, "101", (2, 2))
    path = tmp_path / "r12.dxf"
    from ezdxf.addons import r12export

    r12export.saveas(doc, path)
    sheet = ["0", "POLYLINE", "8", "A-AREA", "67", "1", "66", "1", "70", "1",
             "10", "0", "20", "0", "30", "0"]
    for x, y in ((0, 0), (420, 0), (420, 297), (0, 297)):
        sheet += ["0", "VERTEX", "8", "A-AREA", "67", "1", "10", str(x), "20", str(y),
                  "30", "0"]
    sheet += ["0", "SEQEND", "8", "A-AREA", "67", "1",
              "0", "TEXT", "8", "A-AREA-IDEN", "67", "1", "10", "200", "20", "100", "30", "0",
              "40", "5", "1", "999"]
    text = path.read_text()
    at = text.index("ENTITIES\n") + len("ENTITIES\n")
    path.write_text(text[:at] + "\n".join(sheet) + "\n" + text[at:])
    plan = read_floor_plan(path, declared_unit=M)
    assert [(r.number, r.polygon.area) for r in plan.rooms] == [("101", 24.0)]
    assert plan.label_only == []
    r12 = ezdxf.readfile(path)  # type: ignore[attr-defined]
    assert sum(1 for e in r12.paperspace() if e.dxftype() == "POLYLINE") == 1  # read, unused


# --- stairs and lifts ----------------------------------------------------------------------


def test_stairs_and_lifts_from_layers_and_block_names() -> None:
    plan = read("feat_vertical")
    by_kind: dict[str, list[Room]] = {}
    for r in plan.rooms:
        by_kind.setdefault(r.category, []).append(r)
    assert [r.number for r in by_kind["room"]] == ["100"]
    # the stairwell drawn on the rooms layer and again on the stairs layer is one room,
    # keeping its label; the loose treads and the TREPPE block are stairs of their own
    assert sorted(r.number for r in by_kind["stairs"]) == ["", "", "T1"]
    treads = next(r for r in by_kind["stairs"] if r.polygon.bounds[0] == pytest.approx(6))
    assert treads.polygon.bounds == pytest.approx((6, 1, 8.5, 3.4))
    block = next(r for r in by_kind["stairs"] if r.polygon.bounds[0] == pytest.approx(14))
    assert block.polygon.area == pytest.approx(2.5 * 4)
    lifts = sorted(r.polygon.bounds for r in by_kind["elevator"])
    assert lifts == [pytest.approx((10, 1, 12, 3)), pytest.approx((18, 1, 20, 3))]
    # a stair or lift without a number is information, not a warning
    assert plan.warnings == []
    assert all(f.severity is Severity.INFO for f in plan.findings)


@pytest.mark.parametrize(("name", "kind"), [
    ("STAIR-01", "stairs"), ("treppe_2l", "stairs"), ("ESCALIER", "stairs"),
    ("ELEV-CAR", "elevator"), ("LIFT", "elevator"), ("Aufzug_630kg", "elevator"),
    ("ASCENSEUR", "elevator"), ("ELEVATION-TAG", ""), ("DOOR-EXT", ""),
])
def test_block_names_that_are_stairs_or_lifts(name: str, kind: str) -> None:
    assert block_kind(name) == kind


def test_stairs_and_lift_layers_are_configurable(tmp_path: Path) -> None:
    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 20, 10)
    label(msp, "100", (10, 8))
    room(msp, 1, 1, 4, 5, layer="TREPPEN")
    room(msp, 6, 1, 8, 3, layer="AUFZUG")
    plan = extract_floor_plan(doc, "de.dxf", Layers(stairs="treppen", elevators="aufzug"))
    assert sorted(r.category for r in plan.rooms) == ["elevator", "room", "stairs"]
    plain = extract_floor_plan(doc, "de.dxf")
    assert [r.category for r in plain.rooms] == ["room"]


# --- the import report: missing layers, rooms outside, labels -------------------------------


def test_missing_label_and_door_layers_are_findings(tmp_path: Path) -> None:
    doc = ezdxf.new("R2013")  # type: ignore[attr-defined]
    doc.header["$INSUNITS"] = 6
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    room(msp, 6, 0, 12, 4)
    path = tmp_path / "a.dxf"
    doc.saveas(path)
    plan = read_floor_plan(path)
    missing = [f for f in plan.findings if f.kind is FindingKind.MISSING_LAYER]
    assert [f.ref for f in missing] == ["A-DOOR", "A-AREA-IDEN"]
    assert missing[0].message.startswith("no door layer 'A-DOOR' in a.dxf: no doors were read")
    assert missing[1].message.startswith("no label layer 'A-AREA-IDEN' in a.dxf: no room "
                                         "numbers")
    assert plan.warnings == [f.message for f in missing]  # each said once, not per room
    unlabelled = [f for f in plan.findings if f.kind is FindingKind.ROOM_WITHOUT_LABEL]
    assert len(unlabelled) == 2 and all(f.severity is Severity.INFO for f in unlabelled)


def test_a_campus_imports_with_a_level_missing_its_labels(tmp_path: Path) -> None:
    campus = tmp_path / "lincoln_ridge"
    shutil.copytree(REPO / "data" / "samples" / "lincoln_ridge", campus)
    plan = campus / "C_level1.dxf"
    doc = ezdxf.readfile(plan)  # type: ignore[attr-defined]
    for e in list(doc.modelspace().query('*[layer=="A-AREA-IDEN"]')):
        doc.modelspace().delete_entity(e)
    doc.layers.remove("A-AREA-IDEN")
    doc.saveas(plan)
    result = import_campus(campus / "campus.toml")
    said = [w for w in result.warnings if w.startswith("no label layer 'A-AREA-IDEN' in "
                                                        "C_level1.dxf")]
    assert len(said) == 1
    building = next(b for b in result.campus.buildings if b.name == "Early Childhood Center")
    units = [u for u in result.campus.units if u.building_id == building.id]
    assert units and all(u.number == "" for u in units)  # imported, without numbers


def test_a_room_outside_the_floor_outline_is_a_finding() -> None:
    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 10, 10, layer="A-FLOR-OTLN")
    room(msp, 0, 0, 10, 10)
    label(msp, "101", (5, 5))
    room(msp, 20, 0, 26, 4)  # wholly outside
    label(msp, "102", (22, 2))
    room(msp, 8, 6, 14, 10)  # half outside
    label(msp, "103", (12.5, 8))
    room(msp, 0, 0, 10.02, 5)  # on the outline's line: inside
    label(msp, "104", (2, 2))
    msp.add_blockref("DOOR", (5, 0), dxfattribs={"layer": "A-DOOR"})
    plan = extract_floor_plan(doc, "out.dxf")
    outside = [f for f in plan.findings if f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT]
    by_room = {f.message.split("room ")[1].split(" ")[0]: f for f in outside}
    assert set(by_room) == {"'102'", "'103'"}
    assert "lies outside the floor outline" in by_room["'102'"].message
    assert re.search(r"lies 6\d% \(1\d\.\d m²\) outside", by_room["'103'"].message)
    whole = box(20, 0, 26, 4)
    at = by_room["'102'"].at
    assert at is not None and whole.contains(Point(at))
    part = by_room["'103'"].at
    assert part is not None and box(10, 6, 14, 10).contains(Point(part))
    assert all(f.message in plan.warnings for f in outside)


def test_rooms_without_labels_and_labels_outside_rooms_say_what_was_done() -> None:
    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    label(msp, "101", (2, 2))
    room(msp, 6, 0, 12, 4)  # no label
    label(msp, "150", (20, 2))  # outside every room, near none: a place of its own
    label(msp, "Note", (300, 300))  # far away: a note, ignored
    msp.add_blockref("DOOR", (5, 0), dxfattribs={"layer": "A-DOOR"})
    plan = extract_floor_plan(doc, "l.dxf")
    (bare,) = [f for f in plan.findings if f.kind is FindingKind.ROOM_WITHOUT_LABEL]
    assert bare.severity is Severity.WARNING and bare.action == "kept without a number"
    assert bare.at is not None and box(6, 0, 12, 4).contains(Point(bare.at))
    outside = {f.ref: f for f in plan.findings if f.kind is FindingKind.LABEL_OUTSIDE_ROOMS}
    assert len(outside) == 2
    ignored, kept = sorted(outside.values(), key=lambda f: f.action)
    assert kept.action.startswith("kept as an approximate location")
    assert ignored.action == "ignored" and "taken for a note" in ignored.message
    assert [r.number for r in plan.label_only] == ["150"]
    assert kept.at is not None and Point(kept.at).distance(Point(20, 2)) < 2


def test_findings_are_in_the_drawing_frame_in_metres(tmp_path: Path) -> None:
    doc = new_doc()
    doc.header["$INSUNITS"] = 5  # centimetres
    msp = doc.modelspace()
    room(msp, 0, 0, 600, 400)
    plan = extract_floor_plan(doc, "cm.dxf")
    (bare,) = [f for f in plan.findings if f.kind is FindingKind.ROOM_WITHOUT_LABEL]
    assert bare.at is not None and box(0, 0, 6, 4).contains(Point(bare.at))
    assert unary_union([r.polygon for r in plan.rooms]).area == pytest.approx(24)


# --- rooms from walls, doors from swings, a hint at the rooms layer ---------------------------


def _scheme(name: str, **changes: Any) -> FloorPlan:
    import tomllib

    side = tomllib.loads((FIXTURES / f"{name}.layers.toml").read_text())
    given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                             for k, v in side.get("layers", {}).items()}
    layers = Layers(**given).model_copy(update=changes)
    unit = DrawingUnit(side["units"]) if "units" in side else None
    return read_floor_plan(FIXTURES / f"{name}.dxf", layers, unit)


def test_rooms_are_recovered_from_wall_lines_when_no_outlines_are_drawn() -> None:
    """Two rooms drawn as wall lines only, a doorway in the wall between them."""
    doc = new_doc()
    doc.layers.add("A-WALL")
    msp = doc.modelspace()
    walls = [((0, 0), (12, 0)), ((12, 0), (12, 6)), ((12, 6), (0, 6)), ((0, 6), (0, 0)),
             ((6, 0), (6, 2.5)), ((6, 3.4), (6, 6))]
    for start, end in walls:
        msp.add_line(start, end, dxfattribs={"layer": "A-WALL"})
    label(msp, "101", (2.5, 3))
    label(msp, "102", (8.5, 3))
    msp.add_blockref("DOOR", (6, 2.5), dxfattribs={"layer": "A-DOOR"})
    plan = extract_floor_plan(doc, "walls.dxf")
    rooms = {r.number: r.polygon for r in plan.rooms}
    assert set(rooms) == {"101", "102"}
    for number, expected in (("101", box(0, 0, 6, 6)), ("102", box(6, 0, 12, 6))):
        assert rooms[number].symmetric_difference(expected).area < 0.01
    (said,) = [f for f in plan.findings if "recovered from the wall lines" in f.message]
    assert said.message.startswith("walls.dxf: layer 'A-AREA' holds no closed room outlines; "
                                   "2 room(s) recovered from the wall lines on layer 'A-WALL'")
    assert said.message in plan.warnings


def test_rooms_drawn_line_by_line_on_the_rooms_layer() -> None:
    """An old drawing: each room's sides are LINEs (and one open polyline), no closed one."""
    doc = new_doc()
    msp = doc.modelspace()
    for start, end in (((0, 0), (12, 0)), ((12, 0), (12, 4)), ((12, 4), (0, 4)),
                       ((0, 4), (0, 0)), ((6, 0), (6, 4))):
        msp.add_line(start, end, dxfattribs={"layer": "A-AREA"})
    msp.add_lwpolyline([(12, 0), (18, 0), (18, 4), (12, 4)], dxfattribs={"layer": "A-AREA"})
    for number, x in (("101", 2), ("102", 8), ("103", 14)):
        label(msp, number, (x, 2))
    msp.add_blockref("DOOR", (3, 0), dxfattribs={"layer": "A-DOOR"})
    plan = extract_floor_plan(doc, "lines.dxf")
    rooms = {r.number: r.polygon for r in plan.rooms}
    for number, expected in (("101", box(0, 0, 6, 4)), ("102", box(6, 0, 12, 4)),
                             ("103", box(12, 0, 18, 4))):
        assert rooms[number].symmetric_difference(expected).area < 1e-6
    assert len(plan.rooms) == 3
    (said,) = [f for f in plan.findings if "formed from the lines" in f.message]
    assert said.message in plan.warnings


def test_a_misnamed_rooms_layer_is_an_error_not_rooms_from_the_walls() -> None:
    doc = new_doc()
    doc.layers.add("A-WALL")
    msp = doc.modelspace()
    for k in range(4):
        room(msp, k * 6, 0, k * 6 + 6, 4, layer="RAEUME")
        label(msp, f"10{k}", (k * 6 + 2, 2))
        msp.add_line((k * 6, 0), (k * 6, 4), dxfattribs={"layer": "A-WALL"})
    msp.add_line((0, 0), (24, 0), dxfattribs={"layer": "A-WALL"})
    msp.add_line((0, 4), (24, 4), dxfattribs={"layer": "A-WALL"})
    msp.add_line((24, 0), (24, 4), dxfattribs={"layer": "A-WALL"})
    with pytest.raises(DxfError, match=r"^plan\.dxf: layer 'A-AREA' holds no closed polylines "
                                       r"\(or hatches\), so no rooms can be read\. ") as err:
        extract_floor_plan(doc, "plan.dxf")
    hint = layer_hint(doc)  # the layer proposal's words, ending the error
    assert "'RAEUME'" in hint and str(err.value).endswith(hint)


def test_a_walls_only_fixture_imports() -> None:
    plan = _scheme("scheme_walls_only_m")
    assert len([r for r in plan.rooms if r.number]) >= 8
    (said,) = [f for f in plan.findings if "recovered from the wall lines" in f.message]
    assert said.message.startswith("scheme_walls_only_m.dxf: layer 'A-AREA' is not in ")
    doc, _ = read_drawing(FIXTURES / "scheme_walls_only_m.dxf")
    assert said.message.endswith(layer_hint(doc))  # the hint: which layers to name


def test_without_rooms_or_walls_the_error_hints_at_the_layers() -> None:
    with pytest.raises(DxfError) as err:
        _scheme("scheme_walls_only_m", walls="NOPE")
    message = str(err.value)
    assert message.startswith("layer 'A-AREA' not found in scheme_walls_only_m.dxf; layers "
                              "present: ")
    doc, _ = read_drawing(FIXTURES / "scheme_walls_only_m.dxf")
    hint = layer_hint(doc)
    assert "'WALLS-CUT'" in hint and hint in message


def test_the_hint_names_the_layer_that_holds_the_rooms() -> None:
    with pytest.raises(DxfError) as err:
        _scheme("scheme_fr_cm", rooms="A-AREA", walls="NOPE")
    import tomllib

    rooms = tomllib.loads((FIXTURES / "scheme_fr_cm.layers.toml").read_text())["layers"]["rooms"]
    doc, _ = read_drawing(FIXTURES / "scheme_fr_cm.dxf")
    hint = layer_hint(doc)
    assert f"'{rooms}'" in hint and hint in str(err.value)  # the layer its sidecar names


def test_doors_are_read_from_swings_when_there_are_no_door_blocks() -> None:
    """A door drawn loose: a quarter arc (hinge at its centre) and the open leaf."""
    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4, layer="A-FLOR-OTLN")
    room(msp, 0, 0, 6, 4)
    label(msp, "101", (2, 2))
    msp.add_arc((2, 0), 0.9, 0, 90, dxfattribs={"layer": "A-DOOR"})  # closes onto (2.9, 0)
    msp.add_line((2, 0), (2, 0.9), dxfattribs={"layer": "A-DOOR"})  # the leaf, open
    msp.add_arc((6, 2), 0.9, 90, 180, dxfattribs={"layer": "A-DOOR"})  # east wall, inward
    msp.add_line((6, 2), (5.1, 2), dxfattribs={"layer": "A-DOOR"})
    plan = extract_floor_plan(doc, "swing.dxf")
    doors = sorted((round(d.point.x, 3), round(d.point.y, 3), d.exterior, d.block)
                   for d in plan.doors)
    assert doors == [(2.45, 0.0, True, "(door swing)"), (6.0, 2.45, True, "(door swing)")]
    assert not [f for f in plan.findings if f.kind is FindingKind.MISSING_LAYER]
    (said,) = [f for f in plan.findings if "from door swings" in f.message]
    assert said.severity is Severity.INFO


def test_the_swings_fixture_has_doors() -> None:
    plan = _scheme("scheme_swings_m")
    assert len(plan.doors) >= 10 and all(d.block == "(door swing)" for d in plan.doors)
    assert {d.exterior for d in plan.doors} == {True, False}


# --- a large file slimmed before parsing reads the same ------------------------------------


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("feat_*.dxf")) + sorted(
    (REPO / "data" / "samples" / "lincoln_ridge").glob("*.dxf")), ids=lambda p: p.name)
def test_a_slimmed_read_gives_the_same_plan(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file slimmed (as a large one is) reads into the floor plan the whole file does."""
    import functools

    import importers.dxf_open
    from importers import dxf_stream

    def plan_of(slim: bool) -> tuple[Any, ...]:
        plan = read_floor_plan(path, None, M, slim=slim)
        return (rooms_of(plan), doors_of(plan), [r.category for r in plan.rooms],
                [f.message for f in plan.findings if "left out" not in f.message])

    whole = plan_of(False)
    monkeypatch.setattr(importers.dxf_open, "slim_dxf",
                        functools.partial(dxf_stream.slim_dxf, min_bytes=0))
    assert plan_of(True) == whole
    if path.name in ("feat_r2013.dxf", "feat_paperspace.dxf", "A_level1.dxf"):  # slimmed
        plan = read_floor_plan(path, None, M)
        assert any(f.message.startswith(f"{path.name}: ") and "left out" in f.message
                   for f in plan.findings)


# --- the drawing's own georeference, read once with the plan ----------------------------


def _geodata_plan(path: Path, crs_xml: str) -> Path:
    doc = new_doc("R2018")
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    label(msp, "101", (2, 2))
    msp.add_blockref("DOOR", (3, 0), dxfattribs={"layer": "A-DOOR"})
    geo = msp.new_geodata()
    geo.dxf.coordinate_type = 1
    geo.dxf.design_point = (0, 0, 0)
    geo.dxf.reference_point = (500_000, 5_000_000, 0)  # UTM 32N, in metres
    geo.dxf.horizontal_unit_scale = 1.0
    geo.dxf.vertical_unit_scale = 1.0
    geo.dxf.north_direction = (0, 1)
    geo.dxf.scale_estimation_method = 1
    geo.coordinate_system_definition = crs_xml
    doc.saveas(path)
    return path


def _crs(alias: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-16" standalone="no" ?>\n<Dictionary version="1.0"'
            ' xmlns="http://www.osgeo.org/mapguide/coordinatesystem"><ProjectedCoordinateSystem '
            'id="UTM84-32N"><Name>UTM84-32N</Name></ProjectedCoordinateSystem>' + alias
            + "</Dictionary>")


def test_the_plan_carries_its_geodata_as_the_geodata_reader_reads_it(tmp_path: Path) -> None:
    from importers.geodata import read_geodata_file

    path = _geodata_plan(tmp_path / "geo.dxf", _crs(
        '<Alias id="32632" type="CoordinateSystem"><ObjectId>UTM84-32N</ObjectId>'
        "<Namespace>EPSG Code</Namespace></Alias>"))
    plan = read_floor_plan(path)
    assert plan.geodata is not None and plan.geodata_error == ""
    assert plan.geodata == read_geodata_file(path)
    plain = read("feat_r2013")
    assert plain.geodata is None and plain.geodata_error == ""


def test_an_unusable_geodata_does_not_fail_the_plan(tmp_path: Path) -> None:
    plan = read_floor_plan(_geodata_plan(tmp_path / "bad.dxf", _crs("")))
    assert [r.number for r in plan.rooms] == ["101"]
    assert plan.geodata is None and plan.geodata_error.startswith("bad.dxf: ")


def test_a_dos_code_page_r12_drawing_keeps_its_umlauts(tmp_path: Path) -> None:
    """AutoCAD R12 for DOS wrote $DWGCODEPAGE dos850; ezdxf knows only the ANSI pages."""
    text = (FIXTURES / "feat_r12.dxf").read_bytes().decode("cp1252")
    text = text.replace("ANSI_1252", "dos850")
    path = tmp_path / "dos.dxf"
    path.write_bytes(text.encode("cp850"))
    assert "Süd".encode("cp850") in path.read_bytes() and b"S\xfcd" not in path.read_bytes()
    plan = read_floor_plan(path, declared_unit=M)
    assert {r.name for r in plan.rooms} == {name for _, name, *_ in make_features.ROOMS}
    assert any("DOS code page 850" in f.message for f in plan.findings)


def test_an_external_reference_is_said_not_read() -> None:
    from ezdxf import xref

    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 6, 4)
    label(msp, "101", (2, 2))
    msp.add_blockref("DOOR", (3, 0), dxfattribs={"layer": "A-DOOR"})
    xref.define(doc, "ROOMS-2OG", "..\\\\plans\\\\rooms_2og.dwg")
    msp.add_blockref("ROOMS-2OG", (0, 0))
    plan = extract_floor_plan(doc, "x.dxf")
    (said,) = [f for f in plan.findings if f.kind is FindingKind.UNSUPPORTED]
    assert "rooms_2og.dwg" in said.message and "(XREF 'ROOMS-2OG')" in said.message
    assert "bind" in said.message and said.message in plan.warnings
    for e in list(msp.query('LWPOLYLINE[layer=="A-AREA"]')):
        msp.delete_entity(e)
    with pytest.raises(DxfError, match=r"external drawings \(XREF: '.*rooms_2og\.dwg'\)"):
        extract_floor_plan(doc, "x.dxf")


def test_an_empty_file_is_named_empty(tmp_path: Path) -> None:
    for name, data in (("empty.dxf", b""), ("blank.dxf", b"\n\n  \r\n")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(DxfError, match=rf"^{name.replace('.', '[.]')}: the file is empty$"):
            read_floor_plan(path, declared_unit=M)


def test_a_binary_dxf_reads_like_the_text_one(tmp_path: Path, reference: FloorPlan) -> None:
    doc = ezdxf.readfile(FIXTURES / "feat_r2013.dxf")  # type: ignore[attr-defined]
    path = tmp_path / "binary.dxf"
    doc.saveas(path, fmt="bin")
    assert path.read_bytes().startswith(b"AutoCAD Binary DXF")
    plan = read_floor_plan(path)
    assert rooms_of(plan) == rooms_of(reference) and doors_of(plan) == doors_of(reference)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95])
def test_a_cut_binary_dxf_is_a_named_error(tmp_path: Path, keep: float) -> None:
    doc = ezdxf.readfile(FIXTURES / "feat_r2013.dxf")  # type: ignore[attr-defined]
    whole = tmp_path / "whole.dxf"
    doc.saveas(whole, fmt="bin")
    data = whole.read_bytes()
    path = tmp_path / "cut.dxf"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DxfError, match=r"^cut\.dxf: not a readable DXF file \("):
        read_floor_plan(path)
