"""The model space read from its tags (importers.dxf_tags) gives the floor plan the whole way
(ezdxf's recover mode) gives, to the last finding, on every DXF fixture and sample; a file it
is not sure of is read the whole way, never differently."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import importers.dxf_tags
from bench.big_floor_plan import write_floor_plan
from gridmap.errors import GridmapError
from importers.dxf import FloorPlan, read_floor_plan
from importers.dxf_stream import split_dxf
from importers.dxf_tags import NotFast, read_fast
from importers.manifest import Layers
from tests.test_dxf_gdal_differential import fixture_spec

REPO = Path(__file__).resolve().parents[1]
FIXTURES = sorted((REPO / "tests" / "fixtures" / "dxf").glob("*.dxf")) + sorted(
    (REPO / "data" / "samples").glob("*/*.dxf"))


@pytest.fixture(autouse=True)
def every_file_read_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast read is for large files; here it is tried on any."""
    monkeypatch.setattr(importers.dxf_tags, "FAST_MIN_BYTES", 0)


def digest(plan: FloorPlan) -> tuple[Any, ...]:
    """Everything a floor plan says, geometry to the bit."""
    return (
        plan.unit_m,
        [(r.handle, r.polygon.wkb, r.number, r.name, r.approximate, r.kind) for r in plan.rooms],
        [(d.handle, d.point.wkb, d.block, d.exterior) for d in plan.doors],
        None if plan.outline is None else plan.outline.wkb,
        plan.warnings,
        [(r.handle, r.polygon.wkb, r.number, r.name) for r in plan.label_only],
        [f.to_dict() for f in plan.findings],
        repr(plan.geodata), plan.geodata_error,
    )


def outcome(path: Path, layers: Layers, unit: Any, fast: bool) -> tuple[Any, ...]:
    try:
        return digest(read_floor_plan(path, layers, unit, fast=fast))
    except GridmapError as exc:
        return ("error", type(exc).__name__, str(exc))


def is_fast(path: Path, layers: Layers) -> bool:
    try:
        read_fast(path, layers)
    except NotFast:
        return False
    return True


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_the_fast_reader_gives_the_same_plan_on_every_fixture(path: Path) -> None:
    spec = fixture_spec(path)
    assert outcome(path, spec.layers, spec.unit, True) == \
        outcome(path, spec.layers, spec.unit, False)


def test_most_fixtures_are_read_fast() -> None:
    """The fast reader is not a path that never runs: the drawings written as CAD programs
    of this century write them are read by it; the old, headerless and damaged ones not."""
    fast = {p.name for p in FIXTURES if is_fast(p, fixture_spec(p).layers)}
    for name in ("feat_r2007.dxf", "feat_r2010.dxf", "feat_r2018.dxf", "feat_paperspace.dxf",
                 "feat_vertical.dxf", "feat_hatch.dxf", "scheme_fr_cm.dxf", "A_EG.dxf",
                 "A_level1.dxf"):
        assert name in fast
    for name in ("feat_r12.dxf", "feat_headerless.dxf", "feat_headerless_r12.dxf",
                 "feat_damaged.dxf", "feat_utf8_as_1252.dxf"):
        assert name not in fast
    assert len(fast) > len(FIXTURES) / 2


def test_the_bench_plan_is_read_fast_and_the_same(tmp_path: Path) -> None:
    plan = write_floor_plan(tmp_path / "plan.dxf", rooms=60, seed=4)
    assert is_fast(plan.path, Layers())
    fast = read_floor_plan(plan.path, Layers())
    assert len(fast.rooms) == plan.rooms and len(fast.doors) == plan.doors
    assert digest(fast) == digest(read_floor_plan(plan.path, Layers(), fast=False))


def _small_plan(tmp_path: Path) -> Path:
    return write_floor_plan(tmp_path / "plan.dxf", rooms=12, seed=2).path


def _entity(data: bytes, kind: bytes, layer: bytes) -> tuple[int, int]:
    """Where the first model space entity of ``kind`` on ``layer`` lies in the file."""
    at = data.index(b"\nENTITIES\n")
    while True:
        at = data.index(b"\n  0\n" + kind + b"\n", at + 1)
        end = data.index(b"\n  0\n", at + 1)
        if b"\n  8\n" + layer + b"\n" in data[at:end]:
            return at, end


def _edited(path: Path, kind: bytes, layer: bytes, pattern: bytes, repl: bytes) -> None:
    """``pattern`` replaced once in the first entity of ``kind`` on ``layer``."""
    data = path.read_bytes()
    a, b = _entity(data, kind, layer)
    body, n = re.subn(pattern, repl, data[a:b], count=1)
    assert n == 1, pattern
    path.write_bytes(data[:a] + body + data[b:])


def _twice(path: Path) -> None:
    """The first room outline written twice, its handle and all."""
    data = path.read_bytes()
    a, b = _entity(data, b"LWPOLYLINE", b"A-AREA")
    path.write_bytes(data[:b] + data[a:b] + data[b:])


# each: what is done to the first room outline (or label) of a generated plan, which the
# recover mode would repair, report or read otherwise
ODD: dict[str, tuple[bytes, bytes, bytes, bytes]] = {
    "small file": (b"LWPOLYLINE", b"A-AREA", rb"$", rb""),
    "comment": (b"LWPOLYLINE", b"A-AREA", rb"(\n  8\n)", rb"\n999\nA comment\1"),
    "xdata": (b"LWPOLYLINE", b"A-AREA", rb"$", rb"\n1001\nACAD\n1000\nnote"),
    "extension dictionary": (b"LWPOLYLINE", b"A-AREA", rb"(\n330\n)",
                             rb"\n102\n{ACAD_XDICTIONARY\n360\n1\n102\n}\1"),
    "undefined text style": (b"TEXT", b"A-AREA-IDEN", rb"(\n 40\n)",
                             rb"\n  7\nNO-SUCH-STYLE\1"),
    # on a line the import does not read: the auditor refuses the file all the same
    "invalid layer name": (b"LINE", b"A-WALL", rb"\n  8\nA-WALL(?=\n)", rb"\n  8\nA-WALL*"),
    "colour out of range": (b"LWPOLYLINE", b"A-AREA", rb"(\n  8\nA-AREA)",
                            rb"\1\n 62\n999"),
    "a point without its y": (b"TEXT", b"A-AREA-IDEN", rb"\n 20\n[^\n]*", rb""),
    "an integer that is not one": (b"LWPOLYLINE", b"A-AREA", rb"\n 70\n[^\n]*",
                                   rb"\n 70\n1.0"),
    "undefined block": (b"INSERT", b"A-DOOR", rb"\n  2\n[^\n]*", rb"\n  2\nNO-SUCH-BLOCK"),
}


@pytest.mark.parametrize("odd", [*sorted(ODD), "a repeated handle"])
def test_what_the_recover_mode_would_repair_is_read_the_whole_way(
        tmp_path: Path, odd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _small_plan(tmp_path)
    assert is_fast(path, Layers())
    if odd == "small file":
        monkeypatch.setattr(importers.dxf_tags, "FAST_MIN_BYTES", path.stat().st_size + 1)
    if odd == "a repeated handle":
        _twice(path)
    else:
        _edited(path, *ODD[odd])
    with pytest.raises(NotFast):
        read_fast(path, Layers())
    assert outcome(path, Layers(), None, True) == outcome(path, Layers(), None, False)


def _state(e: Any) -> tuple[Any, ...]:
    """An ezdxf entity's attributes and what its loader attaches."""
    attribs = sorted((k, v) for k, v in vars(e.dxf).items() if k != "_entity")
    extra = [getattr(e, k, None) for k in ("text", "proxy_graphic", "appdata", "reactors",
                                          "extension_dict", "xdata")]
    points = e.lwpoints.values.tolist() if e.dxftype() == "LWPOLYLINE" else None
    return e.dxftype(), attribs, extra, points


#: the fixtures the slimming splits into frame and entities (the others are read the whole way,
#: see test_most_fixtures_are_read_fast): only these have entities to compare
SPLIT = [p for p in FIXTURES if split_dxf(p, fixture_spec(p).layers) is not None]


@pytest.mark.parametrize("path", [*SPLIT, None],
                         ids=lambda p: "bench plan" if p is None else p.name)
def test_the_entities_made_from_tags_are_the_ones_ezdxf_loads(path: Path | None,
                                                              tmp_path: Path) -> None:
    """TEXT, INSERT, LWPOLYLINE and MTEXT made here from their compiled tags, and every other
    kind's tags, are what ezdxf's own loader makes of the same tags (the bench plan too)."""
    import io
    from itertools import pairwise

    from ezdxf import recover
    from ezdxf.entities import factory
    from ezdxf.lldxf.extendedtags import ExtendedTags
    from ezdxf.lldxf.tags import Tags
    from ezdxf.lldxf.types import DXFTag

    from importers import dxf_tags

    drawing, layers = (write_floor_plan(tmp_path / "plan.dxf", 20, 1).path, Layers()) \
        if path is None else (path, fixture_spec(path).layers)
    split = split_dxf(drawing, layers)
    assert split is not None
    doc, _ = recover.read(io.BytesIO(split.frame))
    codes, values, firsts = dxf_tags._entity_spans(split.entities)
    for a, b in pairwise(firsts):
        kind = values[a].strip().upper().decode()
        if kind not in dxf_tags.KINDS:
            continue
        c, v, start, end = codes, values, a, b
        if kind == "MTEXT":
            joined = dxf_tags._joined_mtext(list(zip(codes[a:b], values[a:b], strict=True)))
            c, v, start, end = [x for x, _ in joined], [y for _, y in joined], 0, len(joined)
        tags = Tags([DXFTag(0, kind), *(dxf_tags._tag(x, y) for x, y in
                                         dxf_tags._compiled(kind, c, v, start, end))])
        assert _state(dxf_tags._loaded(codes, values, a, b, doc)) == \
            _state(factory.load(ExtendedTags(tags), doc))


def test_a_drawing_placed_by_its_geodata_reads_the_same_fast(tmp_path: Path) -> None:
    """The frame keeps the drawing's GEODATA object: the placement read fast is the one read
    the whole way."""
    from ezdxf.filemanagement import readfile

    path = _small_plan(tmp_path)
    doc = readfile(path)
    geodata = doc.modelspace().new_geodata()
    geodata.dxf.design_point = (0, 0, 0)
    geodata.dxf.reference_point = (500000.0, 5000000.0, 0)
    doc.saveas(path)
    assert is_fast(path, Layers())
    fast = read_floor_plan(path, Layers())
    assert digest(fast) == digest(read_floor_plan(path, Layers(), fast=False))
    assert fast.geodata is not None or fast.geodata_error


def test_a_drawing_with_windows_line_ends_reads_the_same_fast(tmp_path: Path) -> None:
    """CR LF line ends, as Windows CAD programs write them."""
    path = _small_plan(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert is_fast(path, Layers())
    assert outcome(path, Layers(), None, True) == outcome(path, Layers(), None, False)


def test_room_blocks_arrays_and_tags_read_the_same_fast(tmp_path: Path) -> None:
    """Rooms drawn as a block with attributes (ROOMNO), a MINSERT array of them, a room tag
    block on the label layer, and a door block with a mirrored insert: as schools' files
    have them."""
    from ezdxf.filemanagement import readfile

    path = _small_plan(tmp_path)
    doc = readfile(path)
    room = doc.blocks.new("ROOMBLK")
    room.add_lwpolyline([(0, 0), (6, 0), (6, 5), (0, 5)], close=True)
    room.add_attdef("ROOMNO", (2, 2), dxfattribs={"height": 0.25})
    tag = doc.blocks.new("RMTAG")
    tag.add_attdef("NUMBER", (0, 0), dxfattribs={"height": 0.25, "layer": "A-AREA-IDEN"})
    msp = doc.modelspace()
    x0 = 10_000_000.0 / 1000  # far from the generated wings (the plan is in millimetres)
    msp.add_blockref("ROOMBLK", (x0 * 1000, 0), dxfattribs={
        "layer": "A-AREA", "xscale": 1000, "yscale": 1000}).add_auto_attribs({"ROOMNO": "901"})
    array = msp.add_blockref("ROOMBLK", (x0 * 1000, 20_000), dxfattribs={
        "layer": "A-AREA", "xscale": 1000, "yscale": 1000})
    array.dxf.row_count, array.dxf.column_count = 2, 3
    array.dxf.row_spacing, array.dxf.column_spacing = 6000, 7000
    msp.add_lwpolyline([(x0 * 1000 - 20_000, 0), (x0 * 1000 - 14_000, 0),
                        (x0 * 1000 - 14_000, 5000), (x0 * 1000 - 20_000, 5000)], close=True,
                       dxfattribs={"layer": "A-AREA"})
    msp.add_blockref("RMTAG", (x0 * 1000 - 18_000, 2000), dxfattribs={
        "layer": "A-AREA-IDEN", "xscale": 1000, "yscale": 1000}).add_auto_attribs(
        {"NUMBER": "902"})
    msp.add_blockref("DOOR-INT-900", (x0 * 1000 - 17_000, 0), dxfattribs={
        "layer": "A-DOOR", "xscale": -1})
    doc.saveas(path)
    assert is_fast(path, Layers())
    fast = read_floor_plan(path, Layers())
    assert digest(fast) == digest(read_floor_plan(path, Layers(), fast=False))
    numbers = {r.number for r in fast.rooms}
    assert {"901", "902"} <= numbers
