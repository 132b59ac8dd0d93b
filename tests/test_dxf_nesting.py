"""Blocks nested deeper than the walk expands (importers.dxf_walk.NEST_DEPTH) are not read, and
the import report says so: one finding naming the block and how deep it lies, not silence."""

from __future__ import annotations

from pathlib import Path

import pytest
from ezdxf.filemanagement import new

import importers.dxf_tags
from importers.dxf import FloorPlan, read_floor_plan
from importers.dxf_tags import read_fast
from importers.dxf_walk import NEST_DEPTH
from importers.findings import FindingKind
from importers.manifest import Layers


def nested_plan(path: Path, levels: int, *, layer_of_innermost: str = "0") -> Path:
    """One room drawn in model space, and a room drawn in block ``L0``, which ``L1`` inserts,
    which ``L2`` inserts, ... up to ``L{levels - 1}``, inserted in model space: the room in
    ``L0`` lies ``levels`` blocks deep."""
    doc = new("R2010")
    doc.header["$INSUNITS"] = 6
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (8, 0), (8, 7), (0, 7)], close=True,
                       dxfattribs={"layer": "A-AREA"})
    msp.add_text("101", height=0.25, dxfattribs={"layer": "A-AREA-IDEN", "insert": (3, 3)})
    inner = doc.blocks.new("L0")
    inner.add_lwpolyline([(0, 0), (6, 0), (6, 5), (0, 5)], close=True,
                         dxfattribs={"layer": layer_of_innermost})
    for level in range(1, levels):
        block = doc.blocks.new(f"L{level}")
        block.add_blockref(f"L{level - 1}", (0.5, 0.5))
    msp.add_blockref(f"L{levels - 1}", (20, 0), dxfattribs={"layer": "A-AREA"})
    doc.saveas(path)
    return path


def too_deep(plan: FloorPlan) -> list[str]:
    return [f.message for f in plan.findings
            if f.kind is FindingKind.UNSUPPORTED and f.action == "not read"]


def test_a_block_nested_deeper_than_the_walk_goes_is_reported(tmp_path: Path) -> None:
    levels = NEST_DEPTH + 2
    plan = read_floor_plan(nested_plan(tmp_path / "deep.dxf", levels), Layers())
    assert len(plan.rooms) == 1  # the deep room is not read...
    found = too_deep(plan)
    assert len(found) == 1, found  # ...and the report says which block, and how deep
    # the walk stops at the insert that sits NEST_DEPTH blocks deep: the block it inserts is
    # L(levels - 1 - NEST_DEPTH), whose contents lie NEST_DEPTH + 1 deep
    assert f"block 'L{levels - 1 - NEST_DEPTH}'" in found[0]
    assert f"nested {NEST_DEPTH + 1} blocks deep" in found[0]
    assert found[0] in plan.warnings


def test_a_block_nested_as_deep_as_the_walk_goes_is_read_without_a_word(tmp_path: Path) -> None:
    plan = read_floor_plan(nested_plan(tmp_path / "deep.dxf", NEST_DEPTH), Layers())
    assert len(plan.rooms) == 2
    assert too_deep(plan) == []


def test_a_deep_block_that_draws_nothing_read_is_not_reported(tmp_path: Path) -> None:
    """Furniture nested deep (its chair on a furniture layer) is not a loss."""
    path = nested_plan(tmp_path / "deep.dxf", NEST_DEPTH + 3, layer_of_innermost="A-FURN")
    plan = read_floor_plan(path, Layers())
    assert len(plan.rooms) == 1
    assert too_deep(plan) == []


def test_the_fast_read_reports_it_the_same(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importers.dxf_tags, "FAST_MIN_BYTES", 0)
    path = nested_plan(tmp_path / "deep.dxf", NEST_DEPTH + 2)
    read_fast(path, Layers())  # read fast (raises NotFast otherwise)
    fast = read_floor_plan(path, Layers())
    whole = read_floor_plan(path, Layers(), fast=False)
    assert too_deep(fast) == too_deep(whole) != []
