"""The layer proposal reads a drawing's content, not its layer names.

The oracle for every fixture is the sidecar ``NAME.layers.toml`` its generator wrote from the
layers it drew on (tests/fixtures/dxf/make_schemes.py), not anything the proposal computes.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from pathlib import Path
from typing import Any

import ezdxf
import pytest

from importers.dxf_open import open_drawing
from importers.layer_proposal import (
    ROLES,
    layer_hint,
    layer_stats,
    propose_from_file,
    propose_layers,
)
from importers.limits import ImportLimits, WorkBudget
from importers.manifest import DrawingUnit, Layers
from tests.fixtures.dxf import make_schemes

FIXTURES = Path(__file__).parent / "fixtures" / "dxf"
SCHEMES = sorted(FIXTURES.glob("scheme_*.dxf"))


def _declared(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.with_suffix(".layers.toml").read_text(encoding="utf-8"))


def _relayer(doc: Any, mapping: dict[str, str]) -> None:
    """Move every entity (blocks included) from each layer in ``mapping`` to its new name."""
    for layer in list(mapping.values()):
        if layer not in doc.layers:
            doc.layers.add(layer)
    layouts = [doc.modelspace(), *doc.blocks]
    for layout in layouts:
        for e in layout:
            if e.dxf.hasattr("layer") and e.dxf.layer in mapping:
                e.dxf.layer = mapping[e.dxf.layer]
            for a in getattr(e, "attribs", ()):
                if a.dxf.layer in mapping:
                    a.dxf.layer = mapping[a.dxf.layer]


def test_there_are_scheme_fixtures() -> None:
    assert len(SCHEMES) >= 8


@pytest.mark.parametrize("path", SCHEMES, ids=lambda p: p.stem)
def test_each_scheme_is_proposed_right(path: Path) -> None:
    declared = _declared(path)
    proposal = propose_from_file(path)
    got = {role: getattr(proposal, role) for role in ROLES}
    want = {role: declared["layers"].get(role) for role in ROLES}
    assert got == want
    assert proposal.unit is DrawingUnit(declared["units"])
    for role in ROLES:
        if want[role]:
            assert proposal.reasons[role]  # every choice says why


@pytest.mark.parametrize("path", SCHEMES, ids=lambda p: p.stem)
def test_names_do_not_decide(path: Path) -> None:
    """Layers renamed to say nothing (or the wrong thing) are proposed the same way."""
    declared = _declared(path)["layers"]
    doc = ezdxf.readfile(path)
    used = sorted({v for k, v in declared.items() if k in ROLES})
    misleading = ["A-DOOR", "A-WALL", "A-AREA", "A-AREA-IDEN", "A-FLOR-OTLN", "A-FLOR-STRS",
                  "A-FLOR-EVTR"]  # NCS names, each on the wrong content
    mapping = {old: misleading[(i + 1) % len(misleading)] + f"-{i}" for i, old in
               enumerate(used)}
    _relayer(doc, mapping)
    proposal = propose_layers(doc)
    for role in ROLES:
        if declared.get(role):
            assert getattr(proposal, role) == mapping[declared[role]], role


@pytest.mark.parametrize(("name", "unit"), [("scheme_fr_cm", "cm"), ("scheme_ncs_ft", "ft"),
                                       ("scheme_de_mm", "mm"), ("scheme_numeric_m", "m")])
def test_unit_from_rooms_and_doors_without_insunits(name: str, unit: str) -> None:
    doc = ezdxf.readfile(FIXTURES / f"{name}.dxf")
    doc.header["$INSUNITS"] = 0
    proposal = propose_layers(doc)
    assert proposal.unit is DrawingUnit(unit)
    assert "median area" in proposal.unit_reason and "$INSUNITS = 0" in proposal.unit_reason


def test_declared_unit_is_used_when_the_header_has_none() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_firm_nounits.dxf")
    proposal = propose_layers(doc, declared_unit=DrawingUnit.FOOT)
    assert proposal.unit is DrawingUnit.FOOT
    assert "declared" in proposal.unit_reason


def test_header_unit_wins_but_a_misfit_is_said() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_de_mm.dxf")  # drawn in millimetres
    doc.header["$INSUNITS"] = 6  # says metres
    proposal = propose_layers(doc)
    assert proposal.unit is DrawingUnit.METRE
    assert "millimetres" in proposal.unit_reason and "check" in proposal.unit_reason


def test_no_unit_when_nothing_has_a_size() -> None:
    doc = ezdxf.new()
    doc.header["$INSUNITS"] = 0
    doc.modelspace().add_line((0, 0), (10, 0), dxfattribs={"layer": "X"})
    proposal = propose_layers(doc)
    assert proposal.unit is None and "declare" in proposal.unit_reason
    assert all(getattr(proposal, role) is None for role in ("rooms", "labels", "doors"))


def test_a_door_legend_off_the_plan_is_not_the_door_layer() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    msp = doc.modelspace()
    for i in range(20):  # a door schedule's symbols, beside the title block
        msp.add_blockref("T1", (60.0 + 2.0 * (i % 5), -5.0 - 2.0 * (i // 5)),
                         dxfattribs={"layer": "99"})
    assert propose_layers(doc).doors == "33"


def test_layer_hint_names_the_rooms_and_labels() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_fr_cm.dxf")
    hint = layer_hint(doc)
    assert "'LOCAUX' looks like rooms" in hint
    assert "'TEXTE-LOCAUX' looks like room labels" in hint
    assert 'rooms = "LOCAUX"' in hint


def test_layer_hint_without_room_outlines_names_the_walls() -> None:
    hint = layer_hint(ezdxf.readfile(FIXTURES / "scheme_walls_only_m.dxf"))
    assert "'WALLS-CUT' looks like walls" in hint and "'TXT-RM'" in hint


def test_layer_hint_is_empty_for_an_empty_drawing() -> None:
    assert layer_hint(ezdxf.new()) == ""


def test_layers_config_keeps_the_rest_of_the_base() -> None:
    proposal = propose_from_file(FIXTURES / "scheme_walls_only_m.dxf")
    base = Layers(exterior_door_blocks=("DR-EXT*",))
    config = proposal.layers_config(base)
    assert config.walls == "WALLS-CUT" and config.labels == "TXT-RM"
    assert config.rooms == base.rooms  # nothing proposed: the base's stays
    assert config.exterior_door_blocks == ("DR-EXT*",)


def test_to_dict_is_json_with_counts() -> None:
    proposal = propose_from_file(FIXTURES / "scheme_ncs_ft.dxf")
    data = json.loads(json.dumps(proposal.to_dict()))
    assert data["rooms"] == "A-AREA" and data["unit"] == "ft"
    assert set(ROLES) <= set(data) and data["reasons"]["rooms"]
    layers = {s["name"]: s for s in data["layers"]}
    assert layers["A-DOOR"]["block_names"][0].startswith("DOOR-")


def test_stats_agree_with_ezdxf_queries() -> None:
    path = FIXTURES / "scheme_numeric_m.dxf"  # flat: no nested blocks but door blocks
    doc = ezdxf.readfile(path)
    msp = doc.modelspace()
    stats = {s.name: s for s in layer_stats(doc)}
    closed = [e for e in msp.query('LWPOLYLINE[layer=="31"]') if e.closed]
    assert stats["31"].closed_outlines == len(closed)
    assert stats["20"].lines == len(msp.query('LINE[layer=="20"]'))
    assert stats["32"].texts == len(msp.query('TEXT[layer=="32"]'))
    assert stats["33"].inserts == len(msp.query('INSERT[layer=="33"]'))
    # the door blocks' arcs are drawn on layer 0 and so land on the insert's layer
    assert stats["33"].arcs == len(msp.query('INSERT[layer=="33"]'))


def test_nested_blocks_are_counted_on_their_layers() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_de_mm.dxf")
    floor = doc.blocks.get("EG")  # the whole floor, inserted once
    assert not doc.modelspace().query('LWPOLYLINE[layer=="RAUM"]')
    stats = {s.name: s for s in layer_stats(doc)}
    assert stats["RAUM"].closed_outlines == len(floor.query('LWPOLYLINE[layer=="RAUM"]'))
    assert stats["TUEREN"].inserts == len(floor.query('INSERT[layer=="TUEREN"]'))


def _bomb(depth: int, fan: int) -> Any:
    doc = ezdxf.new()
    doc.header["$INSUNITS"] = 6
    inner = doc.blocks.new("B0")
    for i in range(fan):
        inner.add_line((i, 0), (i, 1))
    for d in range(1, depth):
        blk = doc.blocks.new(f"B{d}")
        for i in range(fan):
            blk.add_blockref(f"B{d - 1}", (0, i * 2.0))
    doc.modelspace().add_blockref(f"B{depth - 1}", (0, 0), dxfattribs={"layer": "BOMB"})
    return doc


def test_a_block_bomb_is_judged_on_what_was_read() -> None:
    doc = _bomb(4, 100)  # a million lines
    started = time.monotonic()
    proposal = propose_layers(doc, budget=WorkBudget(ImportLimits(entity_budget=20_000)))
    assert time.monotonic() - started < 10.0
    assert "part of the drawing" in proposal.reasons["drawing"]


def test_a_block_inside_itself_ends() -> None:
    doc = ezdxf.new()
    blk = doc.blocks.new("SELF")
    blk.add_line((0, 0), (1, 0))
    blk.add_blockref("SELF", (1, 1))
    doc.modelspace().add_blockref("SELF", (0, 0), dxfattribs={"layer": "L"})
    stats = {s.name: s for s in layer_stats(doc)}
    assert stats["L"].lines == 1  # the block once; its insert of itself is not expanded


def test_propose_from_file_opens_like_the_import(tmp_path: Path) -> None:
    path = tmp_path / "plan.dxf"
    path.write_bytes((FIXTURES / "scheme_es_m.dxf").read_bytes())
    assert propose_from_file(path).rooms == "LOCALES"
    assert open_drawing(path) is not None


def test_a_large_office_drawing(tmp_path: Path) -> None:
    """The import bench's generated floor (hatched rooms, nested door blocks, furniture
    blocks three deep, dimensions, a column grid) is proposed as its generator drew it."""
    from bench.big_floor_plan import DOORS_LAYER, LABELS_LAYER, ROOMS_LAYER, write_floor_plan

    plan = write_floor_plan(tmp_path / "big.dxf", rooms=60)
    proposal = propose_from_file(plan.path)
    assert (proposal.rooms, proposal.labels, proposal.doors) == (
        ROOMS_LAYER, LABELS_LAYER, DOORS_LAYER)
    assert proposal.walls == "A-WALL" and proposal.outline == "A-FLOR-OTLN"
    assert proposal.stairs is None  # grid lines are evenly spaced, but metres apart
    assert proposal.reasons["doors"].startswith(f"{plan.doors} inserts")  # leaves not doors
    assert proposal.unit is DrawingUnit.MILLIMETRE


def test_two_levels_side_by_side_in_one_file() -> None:
    """A sheet with the ground and first floor side by side: each has its own facade."""
    doc = ezdxf.readfile(FIXTURES / "scheme_fr_cm.dxf")  # centimetres
    msp = doc.modelspace()
    for e in list(msp):
        if e.dxf.layer in ("CARTOUCHE", "COTATION"):
            continue  # one title block for the sheet
        twin = e.copy()
        twin.translate(6000.0, 0.0, 0.0)  # 60 m east
        msp.add_entity(twin)
    proposal = propose_layers(doc)
    assert (proposal.rooms, proposal.labels, proposal.outline) == (
        "LOCAUX", "TEXTE-LOCAUX", "FACADE")
    assert proposal.reasons["outline"].startswith("2 closed outlines")
    assert (proposal.doors, proposal.walls) == ("PORTES", "MURS")


def test_room_stamps_of_many_lines() -> None:
    """Each room stamped with number, name, area, floor, ceiling and occupancy as six
    TEXTs: still one room each."""
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    msp = doc.modelspace()
    for poly in msp.query('LWPOLYLINE[layer=="31"]'):
        xs = [x for x, _ in poly.get_points("xy")]
        ys = [y for _, y in poly.get_points("xy")]
        x, y = (min(xs) + max(xs)) / 2, min(ys) + 0.5
        for k, said in enumerate(("PVC", "HSP 2.70", "30 p.", "ERP")):
            msp.add_text(said, height=0.15, dxfattribs={"layer": "32", "insert": (x, y + k * 0.2)})
    assert (propose_layers(doc).rooms, propose_layers(doc).labels) == ("31", "32")


def test_rooms_without_any_label() -> None:
    """No labels at all: the outlines tiling the floor are the rooms, not the desks."""
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    msp = doc.modelspace()
    for e in list(msp.query("TEXT MTEXT")):
        msp.delete_entity(e)
    proposal = propose_layers(doc)
    assert proposal.rooms == "31" and proposal.labels is None
    assert "no text" in proposal.reasons["rooms"]


def test_door_swings_with_leaves_drawn_as_rectangles() -> None:
    doc = ezdxf.readfile(FIXTURES / "scheme_swings_m.dxf")
    msp = doc.modelspace()
    for line in list(msp.query('LINE[layer=="A-DOOR-SWNG"]')):
        a, b = line.dxf.start, line.dxf.end
        length = (b - a).magnitude
        nx, ny = -(b.y - a.y) / length * 0.04, (b.x - a.x) / length * 0.04
        msp.add_lwpolyline([(a.x, a.y), (b.x, b.y), (b.x + nx, b.y + ny), (a.x + nx, a.y + ny)],
                           close=True, dxfattribs={"layer": "A-DOOR-SWNG"})
        msp.delete_entity(line)
    proposal = propose_layers(doc)
    assert proposal.doors == "A-DOOR-SWNG"
    assert "door swings" in proposal.reasons["doors"]


#: how many random floors (more with GRIDMAP_RANDOM_FLOORS=1000: 1000 of 1000 pass)
RANDOM_FLOORS = int(os.environ.get("GRIDMAP_RANDOM_FLOORS", "12"))


@pytest.mark.parametrize("seed", range(RANDOM_FLOORS))
def test_random_floors_units_and_names(seed: int) -> None:
    """Floors of random size drawn in a random unit with no $INSUNITS, on layers named at
    random, with the misleading extras switched on at random: proposed as drawn."""
    import dataclasses
    import random

    ms = make_schemes
    rng = random.Random(seed)
    base = rng.choice(ms.schemes())
    unit = rng.choice(["m", "cm", "mm", "ft", "in"])
    floor = ms.Floor(bay=rng.uniform(7.5, 8.0), bays=rng.randint(2, 7),
                     south=rng.uniform(6.0, 9.0), north=rng.uniform(6.5, 9.0))
    names: dict[str, str | None] = {role: f"L{rng.randrange(16**6):06X}" for role in base.layers}
    if base.layers["rooms"] == base.layers["walls"]:
        names["rooms"] = names["walls"]  # keep the scheme's shared layers shared
    if base.layers["labels"] == base.layers["title"]:
        names["title"] = names["dims"] = names["labels"]
    scheme = dataclasses.replace(
        base, unit=unit, insunits=0, layers=names, floor=floor,
        numbers=[f"{rng.choice('ABC')}{i:03d}" for i in range(1, 2 * floor.bays + 1)],
        seat_numbers=rng.random() < 0.5, door_legend=rng.random() < 0.5,
        dims_in_rooms=rng.random() < 0.5, title_cells=rng.random() < 0.5)
    proposal = propose_layers(ms.build(scheme))
    if scheme.rooms_as == "none":
        names["rooms"] = None  # walls only: no room outlines to propose
    for role in ROLES:
        assert getattr(proposal, role) == names[role], role
    assert proposal.unit is DrawingUnit(unit)


def test_an_array_spaced_zero_is_one_copy() -> None:
    """A MINSERT of 10,000 x 1,000 copies all at one place (spacing 0): read once, at once."""
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    blk = doc.blocks.new("PILE")
    blk.add_lwpolyline([(0, 0), (1, 0), (1, 1), (0, 1)], close=True, dxfattribs={"layer": "0"})
    pile = doc.modelspace().add_blockref("PILE", (100, 100), dxfattribs={"layer": "77"})
    pile.grid(size=(10_000, 1_000), spacing=(0, 0))
    started = time.monotonic()
    proposal = propose_layers(doc, budget=WorkBudget(ImportLimits(time_limit_s=20.0)))
    assert time.monotonic() - started < 20.0
    assert {s.name: s for s in proposal.layers}["77"].closed_outlines == 1
    assert proposal.rooms == "31"


def test_coincident_copies_are_read_once() -> None:
    """One outline inserted 40**3 = 64,000 times at the same place (a drawing pasted onto
    itself, blocks in blocks): each placement is read once, so the proposal is quick."""
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    inner = doc.blocks.new("C0")
    inner.add_lwpolyline([(0, 0), (9, 0), (9, 7), (0, 7)], close=True)
    for d in (1, 2, 3):
        blk = doc.blocks.new(f"C{d}")
        for _ in range(40):
            blk.add_blockref(f"C{d - 1}", (0, 0))
    doc.modelspace().add_blockref("C3", (0, 0), dxfattribs={"layer": "31"})
    proposal = propose_layers(doc, budget=WorkBudget(ImportLimits(time_limit_s=10.0)))
    assert {s.name: s for s in proposal.layers}["31"].closed_outlines == 12  # 11 rooms + it
    assert proposal.rooms == "31"


def test_an_array_larger_than_the_budget_is_left_out() -> None:
    """A MINSERT of 30,000 x 1,000 door copies, spaced: more than a proposal reads. That
    array is left out (and said), the rest of the drawing is proposed as usual."""
    doc = ezdxf.readfile(FIXTURES / "scheme_numeric_m.dxf")
    doors = doc.modelspace().add_blockref("T1", (200, 200), dxfattribs={"layer": "77"})
    doors.grid(size=(30_000, 1_000), spacing=(2, 2))
    started = time.monotonic()
    proposal = propose_layers(doc, budget=WorkBudget(ImportLimits(time_limit_s=20.0)))
    assert time.monotonic() - started < 20.0
    assert "MINSERT" in proposal.reasons["drawing"]
    assert (proposal.rooms, proposal.doors) == ("31", "33")
