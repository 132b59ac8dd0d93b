"""Room labels: text extents, label-to-room assignment, room numbers as schools write them.

Drawings are built in memory with ezdxf (metres, $INSUNITS = 6). Text extents are checked
exactly against the geometry the attachment point implies, and against ezdxf's own text
bounding box as an oracle (it measures with a real font, so only loosely).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ezdxf
import pytest
from ezdxf import bbox
from hypothesis import event, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from gridmap.model import Unit
from gridmap.serialize import feature_to_dict, part_from_feature
from importers.dxf import FloorPlan, extract_floor_plan
from importers.manifest import Layers
from importers.room_labels import (
    CHAR_WIDTH,
    LINE_PITCH,
    Label,
    assign_labels,
    label_lines,
    label_of,
    room_number,
    split_label,
)

Extra = Callable[[Any], None]


def new_doc() -> Any:
    doc = ezdxf.new("R2013")  # type: ignore[attr-defined]
    doc.header["$INSUNITS"] = 6
    for layer in ("A-AREA", "A-AREA-IDEN", "A-DOOR"):
        doc.layers.add(layer)
    blk = doc.blocks.new(name="DOOR")
    blk.add_line((0, 0), (1, 0))
    return doc


def room(msp: Any, x0: float, y0: float, x1: float, y1: float) -> None:
    msp.add_lwpolyline([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], close=True,
                       dxfattribs={"layer": "A-AREA"})


def mtext(msp: Any, text: str, at: tuple[float, float], *, point: int = 1,
          height: float = 0.3, **attribs: Any) -> Any:
    return msp.add_mtext(text, dxfattribs={"layer": "A-AREA-IDEN", "insert": at,
                                           "char_height": height, "attachment_point": point,
                                           **attribs})


def plan_of(extra: Extra, layers: Layers | None = None) -> FloorPlan:
    doc = new_doc()
    msp = doc.modelspace()
    msp.add_blockref("DOOR", (0, 0), dxfattribs={"layer": "A-DOOR"})
    extra(msp)
    return extract_floor_plan(doc, "plan.dxf", layers)


def numbers(plan: FloorPlan) -> dict[str, str]:
    """Room outline handle -> number, keyed by the room's lower-left corner for readability."""
    return {f"{r.polygon.bounds[0]:g},{r.polygon.bounds[1]:g}": r.number for r in plan.rooms}


def label(e: Any) -> Label:
    found = label_of(e, "h", 1.0)
    assert found is not None
    return found


def close_to(p: tuple[float, float], q: tuple[float, float], tol: float = 1e-9) -> bool:
    return math.dist(p, q) <= tol


# --- where the text lies -----------------------------------------------------------------------


@pytest.mark.parametrize("point", range(1, 10))
def test_mtext_box_is_anchored_by_its_attachment_point(point: int) -> None:
    msp = new_doc().modelspace()
    lb = label(mtext(msp, "A015", (10.0, 20.0), point=point, height=1.0))
    width, height = 4 * CHAR_WIDTH, 1.0
    minx, miny, maxx, maxy = lb.box.bounds
    assert maxx - minx == pytest.approx(width)
    assert maxy - miny == pytest.approx(height)
    fx, fy = ((point - 1) % 3) / 2, 1 - ((point - 1) // 3) / 2  # 1 = top-left
    assert minx + fx * width == pytest.approx(10.0)
    assert miny + fy * height == pytest.approx(20.0)


@pytest.mark.parametrize("point", range(1, 10))
@pytest.mark.parametrize("rotation", [0.0, 30.0, 90.0, 200.0])
def test_mtext_box_agrees_with_ezdxfs_font_measured_box(point: int, rotation: float) -> None:
    """Oracle: ezdxf measures the text with a font; our estimate's centre must lie within a
    fraction of a character of its centre, for every attachment point and rotation."""
    msp = new_doc().modelspace()
    e = mtext(msp, "A015\\PLehrerzimmer", (10.0, 20.0), point=point, height=1.0,
              rotation=rotation)
    ours = label(e).box.centroid
    ext = bbox.extents([e])
    theirs = ((ext.extmin.x + ext.extmax.x) / 2, (ext.extmin.y + ext.extmax.y) / 2)
    assert math.dist((ours.x, ours.y), theirs) < 1.0  # text 7.8 x 2.7 m; fonts differ


def test_mtext_rotated_90_runs_up_from_its_top_left_corner() -> None:
    msp = new_doc().modelspace()
    lb = label(mtext(msp, "A015", (10.0, 20.0), point=1, height=1.0, rotation=90.0))
    # the baseline runs north; "down" from the top line is east
    assert lb.box.bounds == pytest.approx((10.0, 20.0, 11.0, 20.0 + 4 * CHAR_WIDTH))


def test_mtext_text_direction_wins_over_rotation() -> None:
    msp = new_doc().modelspace()
    e = mtext(msp, "A015", (0.0, 0.0), point=7, height=1.0, rotation=0.0)
    e.dxf.text_direction = (0.0, -1.0, 0.0)  # reading south
    minx, miny, maxx, maxy = label(e).box.bounds
    assert (minx, maxx) == pytest.approx((0.0, 1.0))
    assert (miny, maxy) == pytest.approx((-4 * CHAR_WIDTH, 0.0))


def test_mtext_lines_wrap_at_the_defined_width() -> None:
    msp = new_doc().modelspace()
    lb = label(mtext(msp, "Salle de motricité", (0.0, 0.0), point=1, height=1.0, width=5.0))
    minx, miny, maxx, maxy = lb.box.bounds
    assert maxx - minx == pytest.approx(5.0)
    rows = math.ceil(18 * CHAR_WIDTH / 5.0)
    assert maxy - miny == pytest.approx(1.0 + (rows - 1) * LINE_PITCH)


def test_mtext_narrower_than_its_defined_width_keeps_its_own_width() -> None:
    """A top-left MTEXT with a wide column box: the words, not the column, are where it is."""
    msp = new_doc().modelspace()
    lb = label(mtext(msp, "A015", (0.0, 0.0), point=2, height=1.0, width=20.0))
    minx, _, maxx, _ = lb.box.bounds
    assert (minx, maxx) == pytest.approx((-2 * CHAR_WIDTH, 2 * CHAR_WIDTH))


@pytest.mark.parametrize(("halign", "valign", "anchor_at"), [
    (0, 0, (0.0, 0.0)),   # left, baseline: the insertion point is the lower-left corner
    (1, 0, (0.5, 0.0)),   # centre, baseline
    (2, 0, (1.0, 0.0)),   # right, baseline
    (0, 3, (0.0, 1.0)),   # top left
    (1, 2, (0.5, 0.5)),   # middle centre
    (2, 1, (1.0, 0.0)),   # bottom right
    (4, 0, (0.5, 0.5)),   # "middle": centred both ways
])
def test_text_box_is_anchored_by_its_alignment(halign: int, valign: int,
                                               anchor_at: tuple[float, float]) -> None:
    msp = new_doc().modelspace()
    e = msp.add_text("B013", height=1.0, dxfattribs={
        "layer": "A-AREA-IDEN", "insert": (50.0, 50.0), "halign": halign, "valign": valign,
        "align_point": (10.0, 20.0)})
    minx, miny, maxx, _ = label(e).box.bounds
    width = 4 * CHAR_WIDTH
    assert maxx - minx == pytest.approx(width)
    # left-baseline text is placed by its insertion point, every other by its align point
    at = (50.0, 50.0) if halign == valign == 0 else (10.0, 20.0)
    assert close_to((minx + anchor_at[0] * width, miny + anchor_at[1] * 1.0), at, 1e-9)


def test_aligned_text_runs_between_its_two_points() -> None:
    msp = new_doc().modelspace()
    e = msp.add_text("Technologie atelier", height=0.5, dxfattribs={
        "layer": "A-AREA-IDEN", "insert": (0.0, 0.0), "halign": 3, "valign": 0,
        "align_point": (0.0, 6.0)})
    minx, miny, maxx, maxy = label(e).box.bounds
    assert (miny, maxy) == pytest.approx((0.0, 6.0))
    assert (minx, maxx) == pytest.approx((-0.5, 0.0))  # reading north, up is west


def test_rotated_text_and_width_factor() -> None:
    msp = new_doc().modelspace()
    e = msp.add_text("A-214", height=1.0, dxfattribs={
        "layer": "A-AREA-IDEN", "insert": (0.0, 0.0), "rotation": 180.0, "width": 0.5})
    minx, miny, maxx, maxy = label(e).box.bounds
    assert (minx, maxx) == pytest.approx((-5 * CHAR_WIDTH * 0.5, 0.0))
    assert (miny, maxy) == pytest.approx((-1.0, 0.0))


def test_text_in_a_mirrored_object_coordinate_system() -> None:
    msp = new_doc().modelspace()
    e = msp.add_text("A015", height=1.0, dxfattribs={
        "layer": "A-AREA-IDEN", "insert": (10.0, 0.0), "extrusion": (0.0, 0.0, -1.0)})
    minx, _, maxx, _ = label(e).box.bounds
    # seen from above, an OCS with a downward extrusion mirrors x
    assert (minx, maxx) == pytest.approx((-10.0 - 4 * CHAR_WIDTH, -10.0))


def test_empty_and_blank_labels_are_not_labels() -> None:
    msp = new_doc().modelspace()
    assert label_of(mtext(msp, "  \\P ", (0, 0)), "h", 1.0) is None
    assert label_of(msp.add_text("   "), "h", 1.0) is None


# --- which room a label names ------------------------------------------------------------------


def test_top_left_mtext_with_its_insertion_point_on_the_wall_is_its_rooms() -> None:
    """The insertion point sits on the shared wall, even a little into the room above; the
    text hangs down into the room below, which is the room it names."""
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 0, 10, 10, 20)
        mtext(msp, "A015\\PLehrerzimmer", (1.0, 10.05))
        mtext(msp, "A016", (1.0, 19.5))

    plan = plan_of(draw)
    assert numbers(plan) == {"0,0": "A015", "0,10": "A016"}
    lower = next(r for r in plan.rooms if r.number == "A015")
    assert lower.name == "Lehrerzimmer"
    assert not plan.label_only


def test_label_just_outside_one_room_is_given_to_it_with_a_warning() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 20, 0, 30, 10)
        mtext(msp, "A020", (25.0, 5.0), point=5)
        mtext(msp, "A015\\PBüro", (1.0, 10.8))  # 0.8 m above the room's north wall

    plan = plan_of(draw)
    assert numbers(plan) == {"0,0": "A015", "20,0": "A020"}
    said = [w for w in plan.warnings if "'A015 / Büro'" in w]
    assert len(said) == 1 and "given to room" in said[0] and "m from room outline" in said[0]
    assert not plan.label_only


def test_label_overlapping_one_room_by_a_meaningful_share_is_its() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 0, 10.3, 10, 20)  # a numbered room across a thick wall
        mtext(msp, "B001", (5.0, 15.0), point=5)
        # three lines hanging across the south room's north wall: a third inside it
        mtext(msp, "B002\\PWerkraum\\PHolz", (1.0, 11.0), height=0.4)

    plan = plan_of(draw)
    assert numbers(plan) == {"0,0": "B002", "0,10.3": "B001"}
    said = next(w for w in plan.warnings if "B002" in w)
    assert "inside room outline" in said


def test_label_between_two_unnumbered_rooms_is_kept_as_label_only() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 0, 11, 10, 21)
        mtext(msp, "E010\\PSalle de sieste", (1.0, 10.8), height=0.25)

    plan = plan_of(draw)
    assert numbers(plan) == {"0,0": "", "0,11": ""}
    assert [(r.number, r.name, r.approximate) for r in plan.label_only] == [
        ("E010", "Salle de sieste", True)]
    place = plan.label_only[0].polygon
    assert place.bounds[1] > 10.0 - 1e-9 and place.bounds[3] < 11.0 + 1e-9
    said = [w for w in plan.warnings if "E010" in w]
    assert len(said) == 1 and "label only, no outline" in said[0]


def test_label_near_a_numbered_and_an_unnumbered_room_goes_to_the_unnumbered() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 0, 11, 10, 21)
        mtext(msp, "C101", (5.0, 16.0), point=5)
        mtext(msp, "C102", (1.0, 10.8), height=0.25)

    assert numbers(plan_of(draw)) == {"0,0": "C102", "0,11": "C101"}


def test_label_with_no_outline_far_from_others_is_an_approximate_place() -> None:
    """A room the architect labelled but never outlined (inside the building)."""
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 14, 0, 24, 10)
        msp.add_text("E010", height=0.3, dxfattribs={
            "layer": "A-AREA-IDEN", "insert": (12.0, 6.0), "halign": 1, "valign": 2,
            "align_point": (12.0, 6.0)})
        msp.add_text("Nap Room", height=0.2, dxfattribs={
            "layer": "A-AREA-IDEN", "insert": (12.0, 5.6), "halign": 1, "valign": 2,
            "align_point": (12.0, 5.6)})
        msp.add_text("Storage", height=0.2, dxfattribs={
            "layer": "A-AREA-IDEN", "insert": (12.0, 2.0), "halign": 1, "valign": 2,
            "align_point": (12.0, 2.0)})

    plan = plan_of(draw)
    places = sorted((r.number, r.name) for r in plan.label_only)
    # the name right under the number is that place's; the one far below is a place of its own
    assert places == [("", "Storage"), ("E010", "Nap Room")]
    assert all(r.approximate for r in plan.label_only)
    assert all(isinstance(r.polygon, Polygon) and r.polygon.area > 0 for r in plan.label_only)


def test_label_far_outside_the_building_is_reported_not_kept() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        mtext(msp, "A101", (5.0, 5.0), point=5)
        mtext(msp, "SHEET A-101", (80.0, -40.0))

    plan = plan_of(draw)
    assert not plan.label_only
    said = [w for w in plan.warnings if "SHEET A-101" in w]
    assert len(said) == 1 and "outside the building, not a room; ignored" in said[0]


def test_label_inside_the_drawn_floor_outline_is_kept_however_far() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        msp.add_lwpolyline([(0, 0), (60, 0), (60, 30), (0, 30)], close=True,
                           dxfattribs={"layer": "A-FLOR-OTLN"})
        mtext(msp, "A150", (45.0, 20.0), point=5)

    plan = plan_of(draw)
    assert [r.number for r in plan.label_only] == ["A150"]


def test_number_in_the_corridor_just_above_its_room_is_the_rooms() -> None:
    """Top-left MTEXT written just above the room's wall: its centre is in the corridor, but
    the corridor has its own name and the room below has no number."""
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)       # the canteen, unnumbered but for the label
        room(msp, 0, 10, 30, 13)      # the corridor
        room(msp, 10, 0, 20, 10)      # the next room, numbered
        mtext(msp, "Main Corridor", (15.0, 12.0), point=5)
        mtext(msp, "A006", (15.0, 5.0), point=5)
        mtext(msp, "A005\\PCanteen", (4.4, 10.35), height=0.25)

    plan = plan_of(draw)
    by_number = {r.number: r for r in plan.rooms}
    assert by_number["A005"].polygon.bounds == (0, 0, 10, 10)
    assert by_number["A005"].name == "Canteen"
    corridor = next(r for r in plan.rooms if r.polygon.bounds == (0, 10, 30, 13))
    assert (corridor.number, corridor.name, corridor.category) == ("", "Main Corridor",
                                                                   "walkway")
    assert any("A005" in w and "'Main Corridor'" in w for w in plan.warnings)


def test_a_second_number_in_a_room_moves_to_the_unnumbered_room_it_overlaps() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 0, 10, 10, 20)
        mtext(msp, "B101", (5.0, 15.0), point=5)
        mtext(msp, "B100", (1.0, 10.35), height=0.25)  # centre just above the wall

    assert numbers(plan_of(draw)) == {"0,0": "B100", "0,10": "B101"}


def test_the_same_number_twice_in_a_room_stays() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 0, 10, 10, 20)
        mtext(msp, "B101", (5.0, 15.0), point=5)
        mtext(msp, "B101", (1.0, 10.35), height=0.25)

    assert numbers(plan_of(draw)) == {"0,0": "", "0,10": "B101"}


def test_nested_rooms_take_the_smallest() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 20, 20)
        room(msp, 2, 2, 6, 6)
        mtext(msp, "101", (15.0, 15.0), point=5)
        mtext(msp, "101A", (4.0, 4.0), point=5)

    assert numbers(plan_of(draw)) == {"0,0": "101", "2,2": "101A"}


def test_two_labels_never_claim_one_room() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        mtext(msp, "A001", (1.0, 10.3), height=0.25)   # 0.3 m above: nearest
        mtext(msp, "A002", (5.0, 10.9), height=0.25)   # 0.9 m above

    plan = plan_of(draw)
    assert numbers(plan) == {"0,0": "A001"}
    assert [r.number for r in plan.label_only] == ["A002"]


def test_assign_labels_without_rooms_keeps_every_label() -> None:
    labels = [Label("1", "A015", box(0, 0, 1, 0.3), 0.3), Label("2", "Gym", box(5, 5, 6, 6), 1)]
    found = assign_labels(labels, [])
    assert [[lb.handle for lb in place] for place in found.label_only] == [["1"], ["2"]]


def test_twenty_thousand_labelled_rooms_import() -> None:
    """A 20,000-room level, every label top-left on its room's north wall: each room gets its
    own number (labels to rooms through a spatial index, not rooms x labels)."""
    doc = new_doc()
    msp = doc.modelspace()
    msp.add_blockref("DOOR", (0, 0), dxfattribs={"layer": "A-DOOR"})
    cols, rows = 200, 100
    for j in range(rows):
        for i in range(cols):
            x, y = i * 4.0, j * 4.0
            room(msp, x, y, x + 4.0, y + 4.0)
            mtext(msp, f"R{j:03d}.{i:03d}\\PRoom", (x + 0.2, y + 4.0), height=0.2)
    plan = extract_floor_plan(doc, "big.dxf")
    assert len(plan.rooms) == cols * rows
    for r in plan.rooms[:: 997]:
        x, y = r.polygon.bounds[:2]
        assert r.number == f"R{round(y / 4):03d}.{round(x / 4):03d}"
    assert not plan.label_only


# --- missing layers -----------------------------------------------------------------------------


def test_missing_door_and_label_layers_are_warnings_naming_file_and_layer() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        mtext(msp, "A101", (5.0, 5.0), point=5)

    plan = plan_of(draw, Layers(doors="PORTES", labels="TEXTE-LOCAUX"))
    assert ("no door layer 'PORTES' in plan.dxf: no doors were read; nearest-door answers "
            "will be empty for this level") in plan.warnings
    assert any(w.startswith("no label layer 'TEXTE-LOCAUX' in plan.dxf: no room numbers")
               for w in plan.warnings)
    # said once for the layer, not once more for every room
    assert not [w for w in plan.warnings if "has no label" in w]


def test_empty_door_and_label_layers_are_warnings() -> None:
    doc = new_doc()
    room(doc.modelspace(), 0, 0, 10, 10)
    plan = extract_floor_plan(doc, "empty.dxf")
    assert any(w.startswith("door layer 'A-DOOR' in empty.dxf holds no door blocks: no doors "
                            "were read") for w in plan.warnings)
    assert any(w.startswith("label layer 'A-AREA-IDEN' in empty.dxf holds no text")
               for w in plan.warnings)


def test_missing_room_layer_stays_an_error() -> None:
    from gridmap.errors import DxfError

    with pytest.raises(DxfError, match=r"layer 'LOCAUX' not found in plan\.dxf"):
        plan_of(lambda msp: room(msp, 0, 0, 10, 10), Layers(rooms="LOCAUX"))


# --- what a label says --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("214B", ("214B", "")),
    ("7a", ("7A", "")),
    ("E003bis", ("E003BIS", "")),
    ("B015 a", ("B015 A", "")),
    ("B015  a\nRobotik", ("B015 A", "Robotik")),
    ("A015", ("A015", "")),
    ("A-214", ("A-214", "")),
    ("A214 Science Lab", ("A214", "Science Lab")),
    ("A2.14", ("A2.14", "")),
    ("1.2.014", ("1.2.014", "")),
    ("214-B", ("214-B", "")),
    ("B013\nTechnologie atelier", ("B013", "Technologie atelier")),
    ("B013\\nTechnologie atelier", ("B013", "Technologie atelier")),   # typed backslash-n
    ("B013\\PTechnologie atelier", ("B013", "Technologie atelier")),   # \P in a TEXT
    ("Technologie atelier\nB013", ("B013", "Technologie atelier")),   # number underneath
    ("Room 214", ("214", "")),
    ("A 214", ("A 214", "")),
    ("a 214 Science Lab", ("A 214", "Science Lab")),
    ("Lab 2", ("", "Lab 2")),
    ("I 2nd", ("", "I 2nd")),
    ("Rm. 12 Nurse", ("12", "Nurse")),
    ("B013a\nLager Technik\n(Holz)", ("B013A", "Lager Technik (Holz)")),
    ("Stair 1", ("", "Stair 1")),
    ("2nd Grade", ("", "2nd Grade")),
    ("Salle\\~de classe", ("", "Salle de classe")),
    ("", ("", "")),
])
def test_split_label_reads_numbers_as_schools_write_them(text: str,
                                                         expected: tuple[str, str]) -> None:
    assert split_label(text) == expected


@pytest.mark.parametrize("text", ["Gym", "Stair 1", "Restrooms", "2nd Floor", "12345678",
                                  "A-B-C", "Room"])
def test_not_room_numbers(text: str) -> None:
    assert room_number(text) is None


def test_no_written_line_break_survives_in_a_name() -> None:
    for text in ["A1\\nB\\nC", "x\\Py\\pz", "A015\r\nBüro", "A015\\N Lehrer"]:
        _, name = split_label(text)
        assert "\\" not in name and "\n" not in name and "\r" not in name
    assert label_lines("a\\nb\\Pc") == ["a", "b", "c"]


def test_mtext_paragraphs_and_formatting_codes_are_not_in_names() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        mtext(msp, "{\\fArial|b1;A015}\\P\\H0.7x;Büro\\PSekretariat", (5.0, 5.0), point=5)

    (r,) = plan_of(draw).rooms
    assert (r.number, r.name) == ("A015", "Büro Sekretariat")


# --- the model, storage and the map -------------------------------------------------------------


def test_approximate_round_trips_and_old_units_load_as_exact() -> None:
    unit = Unit("u1", "b", "l", "E010", "Nap Room", box(0, 0, 1e-5, 1e-5), approximate=True)
    feature = feature_to_dict(unit)
    assert feature["properties"]["approximate"] is True
    assert part_from_feature(feature) == unit
    plain = dataclasses.replace(unit, approximate=False)
    stored = feature_to_dict(plain)
    assert "approximate" not in stored["properties"]  # as revisions stored before it
    assert part_from_feature(stored) == plain


def test_an_approximate_unit_is_drawn_without_a_room_fill() -> None:
    from tests.campus_factory import small_campus
    from tests.test_tiles import Tiler, near, pixels
    from tiles import style
    from tiles.raster import render_tile

    campus = small_campus()
    units = tuple(dataclasses.replace(u, approximate=u.number == "104") for u in campus.units)
    marked = dataclasses.replace(campus, units=units)
    tiler = Tiler(campus)
    # inside 104 (level 0) and 214 (level 1), away from their labels
    tx, ty, col, row = tiler.locate(-18.0, -8.0, 20)
    c, r = round(col), round(row)
    assert 2 <= c <= 253 and 2 <= r <= 253

    def filled(ordinal: int) -> bool:
        px = pixels(render_tile(marked, ordinal, 20, tx, ty))
        return bool(near(px, style.ROOM_FILL, 6)[r - 2: r + 3, c - 2: c + 3].all())

    assert not filled(0)  # 104 is only a label
    assert filled(1)      # 214 above it is a room


# --- invariants -------------------------------------------------------------------------------


def test_absurdly_large_text_is_reported_and_not_a_room_label() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        mtext(msp, "A101", (5.0, 5.0), point=5)
        mtext(msp, "SITE PLAN", (5.0, 5.0), point=5, height=1e6)

    plan = plan_of(draw)
    assert numbers(plan) == {"0,0": "A101"}
    said = [w for w in plan.warnings if "SITE PLAN" in w]
    assert len(said) == 1 and "not a room label" in said[0] and "m high" in said[0]


@settings(max_examples=150, deadline=None)
@given(point=st.integers(0, 12), rotation=st.floats(-720, 720),
       height=st.floats(0, 50), width=st.floats(0, 100),
       text=st.text(st.sampled_from("AB015 \\Pn~x\n"), max_size=30))
def test_every_mtext_gets_a_proper_box_or_none(point: int, rotation: float, height: float,
                                              width: float, text: str) -> None:
    msp = new_doc().modelspace()
    e = mtext(msp, text, (3.0, 4.0), point=point, height=height, rotation=rotation,
              width=width)
    lb = label_of(e, "h", 0.25)
    if not label_lines(e.plain_text(split=False)):
        assert lb is None
        return
    assert lb is not None
    assert lb.box.is_valid and lb.box.area > 0
    # the insertion point lies on the text's box (its corner, edge or centre)
    assert lb.box.buffer(1e-6 * max(1.0, height, width)).covers(Point(3.0, 4.0))


@settings(max_examples=150, deadline=None)
@given(halign=st.integers(0, 6), valign=st.integers(0, 4), rotation=st.floats(-720, 720),
       height=st.floats(0, 50), factor=st.floats(-5, 5),
       align=st.tuples(st.floats(-50, 50), st.floats(-50, 50)),
       text=st.text(st.sampled_from("AB015 \\Pn%"), min_size=1, max_size=30))
def test_every_text_gets_a_proper_box_or_none(halign: int, valign: int, rotation: float,
                                             height: float, factor: float,
                                             align: tuple[float, float], text: str) -> None:
    msp = new_doc().modelspace()
    e = msp.add_text(text, dxfattribs={
        "layer": "A-AREA-IDEN", "insert": (3.0, 4.0), "height": height, "width": factor,
        "rotation": rotation, "halign": halign, "valign": valign, "align_point": align})
    lb = label_of(e, "h", 0.25)
    if not label_lines(e.plain_text()):
        assert lb is None
        return
    assert lb is not None
    assert lb.box.is_valid and lb.box.area > 0


_room_boxes = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 8),
                                 st.integers(1, 8)), max_size=12)
_label_boxes = st.lists(st.tuples(st.floats(-20, 60), st.floats(-20, 60), st.floats(0.1, 5),
                                  st.sampled_from(["A1", "A2", "Gym", "B3\nLab", "Hall"])),
                        max_size=15)


@settings(max_examples=150, deadline=None)
@given(rooms=_room_boxes, labels=_label_boxes)
def test_every_label_is_accounted_for_exactly_once(
        rooms: list[tuple[int, int, int, int]],
        labels: list[tuple[float, float, float, str]]) -> None:
    """Never silently dropped: each label ends in one room, one label-only place, or the
    far-away list, never two, never none."""
    outlines = [(f"r{i}", box(x, y, x + w, y + h)) for i, (x, y, w, h) in enumerate(rooms)]
    made = [Label(f"l{i}", text, box(x, y, x + 0.6 * len(text) * 0.3, y + 0.3), 0.3)
            for i, (x, y, _, text) in enumerate(labels)]
    found = assign_labels(made, outlines)
    seen = [lb.handle for held in found.by_room.values() for lb in held]
    seen += [lb.handle for place in found.label_only for lb in place]
    seen += [lb.handle for lb, _ in found.far]
    assert sorted(seen) == sorted(lb.handle for lb in made)
    # a room takes at most one number from labels outside it
    given: dict[str, int] = {}
    for lb, r, _ in found.nearby:
        if lb.reading[0]:
            given[r] = given.get(r, 0) + 1
    assert all(n == 1 for n in given.values())


# --- a whole campus ----------------------------------------------------------------------------


def test_a_label_only_place_imports_as_an_approximate_unit_and_is_servable(
        tmp_path: Path) -> None:
    """The sample campus with one more label, 3 m south of building A: it becomes an
    approximate unit, reported, servable; every other room imports exactly as before."""
    from api.publish import check_servable
    from gridmap.serialize import campus_from_geojson, campus_to_geojson
    from importers.campus import import_campus

    sample = Path(__file__).resolve().parent.parent / "data/samples/lincoln_ridge"
    shutil.copytree(sample, tmp_path / "campus")
    before = import_campus(tmp_path / "campus/campus.toml")
    dxf = tmp_path / "campus/A_level1.dxf"
    doc = ezdxf.readfile(dxf)
    doc.modelspace().add_mtext("199\\PBike Store", dxfattribs={
        "layer": "A-AREA-IDEN", "insert": (100.0, -10.0), "char_height": 1.5,
        "attachment_point": 1})
    doc.saveas(dxf)

    after = import_campus(tmp_path / "campus/campus.toml")
    added = [u for u in after.campus.units if u not in before.campus.units]
    assert [(u.number, u.name, u.approximate) for u in added] == [("199", "Bike Store", True)]
    assert set(before.campus.units) <= set(after.campus.units)
    said = [w for w in after.warnings if "'199 / Bike Store'" in w]
    assert len(said) == 1 and said[0].startswith("A_level1.dxf: ")
    assert "label only, no outline" in said[0]
    (place,) = added
    frame_area = place.geometry.area  # lon/lat degrees²: a few square metres of text
    assert 0 < frame_area < 1e-8
    assert campus_from_geojson(campus_to_geojson(after.campus)) == after.campus
    check_servable(after.campus)


# --- room tag blocks ---------------------------------------------------------------------------


def _tag_block(doc: Any) -> None:
    tag = doc.blocks.new("RMTAG")
    tag.add_circle((0, 0), 0.8)
    tag.add_attdef("NUMBER", (-0.5, 0.1), dxfattribs={"height": 0.3})
    tag.add_attdef("NAME", (-0.5, -0.35), dxfattribs={"height": 0.2})
    tag.add_attdef("AREA", (-0.5, -0.7), dxfattribs={"height": 0.15})
    tag.add_attdef("DEPT", (-0.5, -1.0), dxfattribs={"height": 0.15, "flags": 1})  # hidden


def test_room_tag_blocks_give_their_number_and_name_not_their_area() -> None:
    doc = new_doc()
    _tag_block(doc)
    wing = doc.blocks.new("WING")
    room(wing, 0, 0, 10, 10)
    inner = wing.add_blockref("RMTAG", (5, 5), dxfattribs={"layer": "A-AREA-IDEN"})
    inner.add_auto_attribs({"NUMBER": "B013a", "NAME": "Lager Technik", "AREA": "24 m2",
                            "DEPT": "Technik"})
    msp = doc.modelspace()
    msp.add_blockref("DOOR", (0, 0), dxfattribs={"layer": "A-DOOR"})
    room(msp, 0, 0, 10, 10)
    tag = msp.add_blockref("RMTAG", (5, 5), dxfattribs={"layer": "A-AREA-IDEN"})
    tag.add_auto_attribs({"NUMBER": "A015", "NAME": "Büro", "AREA": "850 SF", "DEPT": "x"})
    msp.add_blockref("WING", (20, 0))  # a wing inserted as a block, with its own tags
    plan = extract_floor_plan(doc, "tags.dxf")
    assert sorted((r.number, r.name) for r in plan.rooms) == [("A015", "Büro"),
                                                               ("B013A", "Lager Technik")]


def test_a_label_that_is_not_a_number_is_a_named_error() -> None:
    from gridmap.errors import DxfError

    doc = new_doc()
    _tag_block(doc)
    msp = doc.modelspace()
    room(msp, 0, 0, 10, 10)
    tag = msp.add_blockref("RMTAG", (5, 5), dxfattribs={"layer": "A-AREA-IDEN"})
    tag.add_auto_attribs({"NUMBER": "A015", "NAME": "Büro"})
    # as a damaged file can hold it (ezdxf refuses to set it through its API)
    tag.attribs[0].dxf.__dict__["height"] = math.nan
    with pytest.raises(DxfError, match=r"nan\.dxf: INSERT .* layer 'A-AREA-IDEN'.*not a number"):
        extract_floor_plan(doc, "nan.dxf")


def test_number_straddling_an_unnamed_corridors_wall_goes_to_the_unlabelled_room() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)       # unlabelled but for the number above its wall
        room(msp, 0, 10, 30, 13)      # a corridor nobody named
        room(msp, 10, 0, 20, 10)
        mtext(msp, "A006", (15.0, 5.0), point=5)
        mtext(msp, "A005\\PCanteen", (4.4, 10.35), height=0.25)

    plan = plan_of(draw)
    assert {r.number: r.polygon.bounds for r in plan.rooms} == {
        "A005": (0, 0, 10, 10), "": (0, 10, 30, 13), "A006": (10, 0, 20, 10)}
    assert any("A005" in w and "an unnamed corridor" in w for w in plan.warnings)


def test_number_well_inside_an_unnamed_corridor_stays_there() -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 0, 10, 30, 13)
        mtext(msp, "F001", (15.0, 11.5), point=5)   # the corridor's own number

    assert {r.number: r.polygon.bounds for r in plan_of(draw).rooms} == {
        "": (0, 0, 10, 10), "F001": (0, 10, 30, 13)}


# --- leaders -----------------------------------------------------------------------------------


def test_a_multileader_label_names_the_room_its_arrow_points_into() -> None:
    from ezdxf.math import Vec2
    from ezdxf.render.mleader import ConnectionSide

    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 10, 0, 12, 3)           # a closet too small for its label
        mtext(msp, "A101", (5.0, 5.0), point=5)
        builder = msp.add_multileader_mtext("Standard", dxfattribs={"layer": "A-AREA-IDEN"})
        builder.set_content("A102\\PJanitor", char_height=0.25)
        builder.add_leader_line(ConnectionSide.left, [Vec2(11.0, 1.5)])
        builder.build(insert=Vec2(16.0, 6.0))  # the text sits outside, up and to the right

    assert numbers(plan_of(draw)) == {"0,0": "A101", "10,0": "A102"}


@pytest.mark.parametrize("associative", [True, False])
def test_a_leader_carries_its_label_into_the_room_it_points_at(associative: bool) -> None:
    def draw(msp: Any) -> None:
        room(msp, 0, 0, 10, 10)
        room(msp, 10, 0, 12, 3)
        mtext(msp, "A101", (5.0, 5.0), point=5)
        # the text over room A101, its leader's arrow in the closet
        note = mtext(msp, "A102", (3.0, 8.0), height=0.25)
        leader = msp.add_leader([(11.0, 1.5), (4.0, 7.0), (3.0, 7.9)],
                                dxfattribs={"layer": "A-AREA-IDEN"})
        if associative:
            leader.dxf.annotation_handle = note.dxf.handle

    assert numbers(plan_of(draw)) == {"0,0": "A101", "10,0": "A102"}


_prefixes = st.sampled_from(["", "A", "b", "EG", "A-", "B.", "K-1."])
_suffixes = st.sampled_from(["", "a", "B", "bis", "ter", " a", " B", "-b"])
_names = st.lists(st.sampled_from(["Büro", "Salle", "de", "classe", "Lab", "Physics",
                                   "Technologie", "atelier", "Gym"]), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(prefix=_prefixes, digits=st.from_regex(r"\A[0-9]{1,4}\Z"), suffix=_suffixes,
       name=_names, sep=st.sampled_from(["\n", "\\P", "\\n", "\r\n"]))
def test_numbers_and_names_written_any_way_come_back_apart(prefix: str, digits: str,
                                                           suffix: str, name: list[str],
                                                           sep: str) -> None:
    written = f"{prefix}{digits}{suffix}"
    number, got_name = split_label(f"{written}{sep}{' '.join(name)}")
    assert number == written.upper()
    assert got_name == " ".join(name)


_any_number = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32),
                        st.sampled_from([0.0, -1.0, 1e-300, 1e6, 1e12]))


@settings(max_examples=120, deadline=None)
@given(x=_any_number, y=_any_number, height=_any_number, width=_any_number,
       rotation=_any_number, point=st.integers(-3, 12),
       text=st.text(max_size=40))
def test_any_label_imports_or_is_a_named_error(x: float, y: float, height: float,
                                               width: float, rotation: float, point: int,
                                               text: str) -> None:
    """Whatever numbers a label carries, the floor plan reads or fails with a DxfError
    (never another exception), and every room keeps a valid outline."""
    from gridmap.errors import DxfError

    doc = new_doc()
    msp = doc.modelspace()
    room(msp, 0, 0, 10, 10)
    room(msp, 10, 0, 20, 10)
    try:
        msp.add_mtext(text, dxfattribs={"layer": "A-AREA-IDEN", "insert": (x, y),
                                        "char_height": height, "width": width,
                                        "rotation": rotation, "attachment_point": point})
        msp.add_text(text, dxfattribs={"layer": "A-AREA-IDEN", "insert": (y, x),
                                       "height": height, "rotation": rotation,
                                       "width": width, "halign": point % 6,
                                       "valign": point % 4, "align_point": (x, x)})
    except (ValueError, TypeError):
        event("ezdxf refuses the label")
        return  # ezdxf refuses to write it: no drawing can hold it
    try:
        plan = extract_floor_plan(doc, "fuzz.dxf")
    except DxfError:
        event("named error")
        return
    event("read")
    assert len(plan.rooms) == 2
    assert all(r.polygon.is_valid for r in [*plan.rooms, *plan.label_only])
    for r in [*plan.rooms, *plan.label_only]:
        assert "\\P" not in r.name and "\n" not in r.name


def test_a_room_tag_on_another_layer_gives_the_attributes_on_the_label_layer() -> None:
    doc = new_doc()
    doc.layers.add("A-ANNO")
    _tag_block(doc)
    msp = doc.modelspace()
    room(msp, 0, 0, 10, 10)
    room(msp, 10, 0, 20, 10)
    tag = msp.add_blockref("RMTAG", (5, 5), dxfattribs={"layer": "A-ANNO"})
    tag.add_auto_attribs({"NUMBER": "A015", "NAME": "Büro"})
    tag.attribs[0].dxf.layer = "A-AREA-IDEN"  # only the number was drawn on the label layer
    other = msp.add_blockref("RMTAG", (15, 5), dxfattribs={"layer": "A-ANNO"})
    other.add_auto_attribs({"NUMBER": "A016", "NAME": "Lab"})  # all on layer 0: not labels
    plan = extract_floor_plan(doc, "tags.dxf")
    assert sorted((r.number, r.name) for r in plan.rooms) == [("", ""), ("A015", "")]
