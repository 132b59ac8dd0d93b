"""The import bench's machinery on a small generated plan, so `make bench` cannot rot: the
children run, the figures are printed, and the import finds what the generator drew (GDAL,
reading the same file, counts the same room outlines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ezdxf.filemanagement import readfile

pytest.importorskip("pyogrio")

from bench.bench_import import bench, report
from bench.big_floor_plan import DOORS_LAYER, ROOMS_LAYER, write_floor_plan


def test_bench_prints_ratios_and_imports_every_generated_room(tmp_path: Path) -> None:
    plan = write_floor_plan(tmp_path / "plan.dxf", rooms=45, seed=3)
    out = bench(plan, rounds=1, whole=True)
    assert out["import"]["rooms"] == plan.rooms  # every outline the generator drew
    assert out["import"]["numbered"] == plan.labelled
    assert out["import"]["doors"] == plan.doors
    assert out["gdal"]["room_layer_features"] == plan.rooms  # GDAL, the oracle, agrees
    assert out["gridmap_s"] > 0 and out["gdal_s"] > 0
    assert out["gridmap_peak_bytes"] > out["gridmap_growth_bytes"]
    text = report(out)
    for line in ("time: gridmap / GDAL = ", "in CPU seconds", "memory: gridmap peak / file size = ",
                 "growth / file size = ", "GDAL peak / file size = ", "without slimming"):
        assert line in text


def test_the_generator_is_deterministic(tmp_path: Path) -> None:
    a = write_floor_plan(tmp_path / "a.dxf", rooms=30, seed=5)
    b = write_floor_plan(tmp_path / "b.dxf", rooms=30, seed=5)
    c = write_floor_plan(tmp_path / "c.dxf", rooms=30, seed=6)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()
    # what it says it drew is in the file: closed outlines on the rooms layer, door inserts
    doc = readfile(a.path)
    msp = doc.modelspace()
    assert len([e for e in msp.query(f"LWPOLYLINE[layer=='{ROOMS_LAYER}']") if e.dxf.flags & 1]) \
        == a.rooms >= 30
    assert len(msp.query(f"INSERT[layer=='{DOORS_LAYER}']")) == a.doors
