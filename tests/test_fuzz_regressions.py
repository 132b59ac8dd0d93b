"""Bad floor plans end in a named error, within limits; every input the fuzzer broke stays fixed.

Part one rebuilds each kind of input the attack run on main broke (33 tracebacks, 6 hangs,
2 out-of-memory, 9 unservable publishes) as a small drawing and checks it now ends in a
:class:`~gridmap.errors.GridmapError` naming the file, the entity and why, in bounded time.
Part two replays every input ``make fuzz`` ever saved under ``tests/fuzz_regressions/`` in a
time- and memory-limited child: each must give a clean named error or a clean, servable import.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ezdxf
import pytest
from ezdxf import recover

from fuzz.mutate import dump_pairs, mutate_dxf, mutate_manifest, parse_pairs
from fuzz.runner import Limits, run_case
from fuzz.targets import GEODATA_DXF, SAMPLES, Corpus, case_folder, next_mutant
from gridmap.errors import DxfError, GridmapError, ImportLimitExceeded
from importers.dxf import extract_floor_plan, read_floor_plan
from importers.limits import ImportLimits, WorkBudget

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "samples" / "lincoln_ridge"
FIXTURES = Path(__file__).resolve().parent / "fuzz_regressions"
NAN, INF = float("nan"), float("inf")


def _plan(extra: Callable[[Any], None] | None = None) -> Any:
    """A one-room drawing in feet, with a label and a door; ``extra`` adds the damage."""
    doc = ezdxf.new("R2013")  # type: ignore[attr-defined]
    doc.header["$INSUNITS"] = 2
    for layer in ("A-AREA", "A-AREA-IDEN", "A-DOOR"):
        doc.layers.add(layer)
    door = doc.blocks.new(name="DOOR-EXT")
    door.add_line((0, 0), (3, 0))
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (30, 0), (30, 20), (0, 20)], close=True,
                       dxfattribs={"layer": "A-AREA"})
    msp.add_text("101", height=1.5, dxfattribs={"layer": "A-AREA-IDEN"}).set_placement((15, 10))
    msp.add_blockref("DOOR-EXT", (15, 0), dxfattribs={"layer": "A-DOOR"})
    if extra is not None:
        extra(doc)
    return doc


def _save(tmp_path: Path, doc: Any, name: str = "plan.dxf") -> Path:
    path = tmp_path / name
    doc.saveas(path)
    return path


def test_the_undamaged_drawing_reads(tmp_path: Path) -> None:
    plan = read_floor_plan(_save(tmp_path, _plan()))
    assert [r.number for r in plan.rooms] == ["101"]
    assert len(plan.doors) == 1


# --- tracebacks: NaN / inf in any number, flipped names, missing group codes ------------------


def _door_at(x: float, y: float) -> Callable[[Any], None]:
    def add(doc: Any) -> None:
        doc.modelspace().add_blockref("DOOR-EXT", (x, y), dxfattribs={"layer": "A-DOOR"})
    return add


def _room_vertex(x: float, y: float) -> Callable[[Any], None]:
    def add(doc: Any) -> None:
        doc.modelspace().add_lwpolyline([(40, 0), (x, y), (60, 20), (40, 20)], close=True,
                                        dxfattribs={"layer": "A-AREA"})
    return add


def _label(height: float, at: tuple[float, float] = (15, 5)) -> Callable[[Any], None]:
    def add(doc: Any) -> None:
        doc.modelspace().add_text("Office", height=height, dxfattribs={
            "layer": "A-AREA-IDEN"}).set_placement(at)
    return add


def _bulge(value: float) -> Callable[[Any], None]:
    def add(doc: Any) -> None:
        doc.modelspace().add_lwpolyline([(40, 0, 0), (60, 0, value), (60, 20, 0), (40, 20, 0)],
                                        format="xyb", close=True, dxfattribs={"layer": "A-AREA"})
    return add


def _insert_scale(value: float) -> Callable[[Any], None]:
    def add(doc: Any) -> None:
        wing = doc.blocks.new(name="WING")
        wing.add_lwpolyline([(0, 0), (10, 0), (10, 10), (0, 10)], close=True)
        doc.modelspace().add_blockref("WING", (100, 0), dxfattribs={
            "layer": "A-AREA", "xscale": value})
    return add


@pytest.mark.parametrize(("damage", "expected"), [
    (_door_at(-INF, 0), r"INSERT \w+ on layer 'A-DOOR': its insert .* not a number"),
    (_door_at(5, NAN), r"INSERT \w+ on layer 'A-DOOR': its insert .* not a number"),
    (_door_at(1e300, 0), r"INSERT \w+ on layer 'A-DOOR': its insert .*coordinate limit"),
    (_room_vertex(NAN, 0), r"LWPOLYLINE \w+ on layer 'A-AREA': a vertex at \(nan, 0\.0\)"),
    (_room_vertex(60, INF), r"LWPOLYLINE \w+ on layer 'A-AREA': a vertex .* not a number"),
    (_room_vertex(1e306, 0), r"LWPOLYLINE \w+ .*coordinate limit"),
    (_label(1.0, (NAN, 3.0)), r"TEXT \w+ on layer 'A-AREA-IDEN': its insert"),
    (_bulge(NAN), r"LWPOLYLINE \w+ on layer 'A-AREA': vertex 1 has bulge nan"),
    (_insert_scale(NAN), r"WING|not a number"),
])
def test_a_number_that_is_not_a_number_is_a_named_error(tmp_path: Path, damage: Callable[
        [Any], None], expected: str) -> None:
    path = _save(tmp_path, _plan(damage))
    with pytest.raises(DxfError, match=r"^plan\.dxf: ") as err:
        read_floor_plan(path)
    assert err.match(expected)


def _pairs_edit(path: Path, edit: Callable[[list[list[str]]], None]) -> None:
    pairs = parse_pairs(path.read_text())
    edit(pairs)
    path.write_text(dump_pairs(pairs))


@pytest.mark.parametrize(("kind", "code", "value", "expected"), [
    ("TEXT", "40", "nan", r"TEXT \w+ on layer 'A-AREA-IDEN': its height is nan"),
    ("TEXT", "40", "-inf", r"TEXT \w+ on layer 'A-AREA-IDEN': its height is -inf"),
    ("INSERT", "20", "NaN", r"INSERT \w+ on layer 'A-DOOR': its insert .* not a number"),
    ("LWPOLYLINE", "10", "inf", r"LWPOLYLINE \w+ on layer 'A-AREA': a vertex .*inf"),
])
def test_a_number_written_as_nan_in_the_file_is_a_named_error(
        tmp_path: Path, kind: str, code: str, value: str, expected: str) -> None:
    """Numbers ezdxf would not write itself (it refuses a nan text height), put in the file."""
    path = _save(tmp_path, _plan())

    def poison(pairs: list[list[str]]) -> None:
        start = next(i for i in _entities(pairs) if pairs[i][1].strip() == kind)
        at = next(j for j in range(start + 1, len(pairs)) if pairs[j][0].strip() == code)
        pairs[at][1] = value

    _pairs_edit(path, poison)
    with pytest.raises(DxfError, match=r"^plan\.dxf: ") as err:
        read_floor_plan(path)
    assert err.match(expected)


def _entities(pairs: list[list[str]]) -> range:
    start = next(i for i in range(len(pairs) - 1)
                 if pairs[i][1].strip() == "SECTION" and pairs[i + 1][1].strip() == "ENTITIES")
    end = next(i for i in range(start, len(pairs)) if pairs[i][1].strip() == "ENDSEC")
    return range(start + 2, end)


@pytest.mark.parametrize("new_name", ["LINE", "TEXT", "INSERT", "MTEXT", "VERTEX", "SEQEND",
                                      "CIRCLE", "HATCH", "ENDBLK", ""])
@pytest.mark.parametrize("old_name", ["LWPOLYLINE", "TEXT", "INSERT"])
def test_a_flipped_entity_name_never_escapes_as_a_traceback(tmp_path: Path, old_name: str,
                                                           new_name: str) -> None:
    path = _save(tmp_path, _plan())

    def flip(pairs: list[list[str]]) -> None:
        i = next(i for i in _entities(pairs) if pairs[i][0].strip() == "0"
                 and pairs[i][1].strip() == old_name)
        pairs[i][1] = new_name

    _pairs_edit(path, flip)
    try:
        plan = read_floor_plan(path)
    except GridmapError as exc:
        said = str(exc)
    else:
        said = "plan.dxf (read)"
        assert all(r.polygon.is_valid for r in plan.rooms)
    assert said.startswith("plan.dxf")


@pytest.mark.parametrize("code", ["10", "20", "40", "2", "8", "90", "70", "1", "5"])
def test_a_missing_group_code_never_escapes_as_a_traceback(tmp_path: Path, code: str) -> None:
    path = _save(tmp_path, _plan())

    def drop(pairs: list[list[str]]) -> None:
        for i in reversed(_entities(pairs)):
            if pairs[i][0].strip() == code:
                del pairs[i]
                return

    _pairs_edit(path, drop)
    try:
        plan = read_floor_plan(path)
    except GridmapError as exc:
        said = str(exc)
    else:
        said = "plan.dxf (read)"
        assert all(math.isfinite(d.point.x) for d in plan.doors)
    assert said.startswith("plan.dxf")


# --- hangs and out-of-memory: recursion, fan-out, MINSERT arrays, absurd arcs, limits ---------


def _self_insert(doc: Any) -> None:
    loop = doc.blocks.new(name="LOOP")
    loop.add_lwpolyline([(0, 0), (1, 0), (1, 1)], close=True)
    loop.add_blockref("LOOP", (2, 0))
    doc.modelspace().add_blockref("LOOP", (100, 0), dxfattribs={"layer": "A-AREA"})


def _mutual_insert(doc: Any) -> None:
    doc.blocks.new(name="PING").add_blockref("PONG", (1, 0))
    doc.blocks.new(name="PONG").add_blockref("PING", (0, 1))
    doc.modelspace().add_blockref("PING", (100, 0), dxfattribs={"layer": "A-DOOR"})


@pytest.mark.parametrize(("damage", "block"), [(_self_insert, "LOOP"),
                                               (_mutual_insert, "PING|PONG")])
def test_a_block_inside_itself_is_a_named_error(damage: Callable[[Any], None],
                                                block: str) -> None:
    """In memory (no auditor in between): the walk itself refuses the cycle."""
    with pytest.raises(DxfError, match=rf"mem\.dxf: block '({block})' .*inserts itself"):
        extract_floor_plan(_plan(damage), "mem.dxf")


def test_a_block_inside_itself_in_a_file_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(DxfError, match=r"plan\.dxf: .*(LOOP)"):
        read_floor_plan(_save(tmp_path, _plan(_self_insert)))


def _fan_out(k: int, depth: int, layer: str = "A-AREA") -> Callable[[Any], None]:
    def add(doc: Any) -> None:
        doc.blocks.new(name="FAN0").add_lwpolyline([(0, 0), (10, 0), (10, 10), (0, 10)],
                                                  close=True)
        for level in range(1, depth + 1):
            blk = doc.blocks.new(name=f"FAN{level}")
            for i in range(k):
                blk.add_blockref(f"FAN{level - 1}", (i * 20, level * 20))
        doc.modelspace().add_blockref(f"FAN{depth}", (0, 100), dxfattribs={"layer": layer})
    return add


BUDGET = f"{ImportLimits().entity_budget:,}"


@pytest.mark.parametrize("layer", ["A-AREA", "A-DOOR", "A-AREA-IDEN"])
def test_block_fan_out_ends_at_the_entity_budget(tmp_path: Path, layer: str) -> None:
    """60**4 = 13 million virtual outlines: refused before one is made."""
    path = _save(tmp_path, _plan(_fan_out(60, 4, layer)))
    started = time.monotonic()
    with pytest.raises(ImportLimitExceeded, match=rf"plan\.dxf: block 'FAN4' \(insert \w+, 1 "
                                                  rf"copies of .*more than {BUDGET} entities "
                                                  r".*entity budget"):
        read_floor_plan(path)
    assert time.monotonic() - started < 5


def test_a_fan_out_of_blocks_nothing_is_read_from_costs_nothing(tmp_path: Path) -> None:
    """Furniture: 13 million outlines on a layer we do not read are never expanded."""
    path = _save(tmp_path, _plan(_fan_out(60, 4, "A-FURN")))
    started = time.monotonic()
    assert [r.number for r in read_floor_plan(path).rooms] == ["101"]
    assert time.monotonic() - started < 5


def test_a_fan_out_within_the_budget_is_read(tmp_path: Path) -> None:
    plan = read_floor_plan(_save(tmp_path, _plan(_fan_out(3, 2))))
    assert len(plan.rooms) == 1 + 9
    assert all(r.polygon.area == pytest.approx((10 * 0.3048) ** 2) for r in plan.rooms[1:])


def _minsert(columns: int, rows: int) -> Callable[[Any], None]:
    """An array of a block holding a room outline, on the rooms layer."""
    def add(doc: Any) -> None:
        doc.blocks.new(name="CELL").add_lwpolyline([(0, 0), (5, 0), (5, 5), (0, 5)],
                                                   close=True)
        doc.modelspace().add_blockref("CELL", (100, 0), dxfattribs={
            "layer": "A-AREA", "column_count": columns, "row_count": rows,
            "column_spacing": 10.0, "row_spacing": 10.0})
    return add


def test_a_huge_minsert_array_ends_at_the_entity_budget(tmp_path: Path) -> None:
    """32,767 x 32,767 copies: counted before a single copy is made."""
    path = _save(tmp_path, _plan(_minsert(32767, 32767)))
    started = time.monotonic()
    with pytest.raises(ImportLimitExceeded, match=r"1,073,676,289 copies .*entity budget"):
        read_floor_plan(path)
    assert time.monotonic() - started < 10


def test_a_small_minsert_array_counts_every_copy(tmp_path: Path) -> None:
    path = _save(tmp_path, _plan(_minsert(10, 10)))
    assert len(read_floor_plan(path).rooms) == 1 + 100
    budget = WorkBudget(ImportLimits(entity_budget=50))
    with pytest.raises(ImportLimitExceeded, match=r"100 copies of 1 entities.*more than 50"):
        read_floor_plan(path, budget=budget)


@pytest.mark.parametrize(("bulge", "expected"), [
    (1e6, r"bulge 1e\+06: an arc of nearly a full circle"),
    (-3.5e4, r"bulge -35000: an arc of nearly a full circle"),
])
def test_an_absurd_bulge_is_refused(tmp_path: Path, bulge: float, expected: str) -> None:
    with pytest.raises(DxfError, match=expected):
        read_floor_plan(_save(tmp_path, _plan(_bulge(bulge))))


def test_an_arc_that_would_flatten_into_millions_of_points_is_refused(tmp_path: Path) -> None:
    """Four arcs of 359.9° on 1,000 ft chords (bulge 9,999, under the bulge limit): each
    nearly a circle 760 km round, 14,000 points at a 2 cm tolerance; together past the limit."""
    def add(doc: Any) -> None:
        doc.modelspace().add_lwpolyline(
            [(0, 0, 9999), (1000, 0, 9999), (1000, 1000, 9999), (0, 1000, 9999)],
            format="xyb", close=True, dxfattribs={"layer": "A-AREA"})
    started = time.monotonic()
    with pytest.raises(DxfError, match=r"more than 50,000 points \(outline point limit\)"):
        read_floor_plan(_save(tmp_path, _plan(add)))
    assert time.monotonic() - started < 10


def test_the_time_limit_is_named(tmp_path: Path) -> None:
    budget = WorkBudget(ImportLimits(time_limit_s=1e-9))
    with pytest.raises(ImportLimitExceeded, match=r"plan\.dxf.*time limit of 1e-09 s "
                                                  r"\(GRIDMAP_IMPORT_TIME_LIMIT_S\)"):
        read_floor_plan(_save(tmp_path, _plan()), budget=budget)


def test_the_memory_limit_is_named() -> None:
    budget = WorkBudget(ImportLimits(memory_limit_mb=16))
    ballast = b"x" * (64 << 20)  # 64 MB written, so resident
    with pytest.raises(ImportLimitExceeded, match=r"memory limit of 16 MB "
                                                  r"\(GRIDMAP_IMPORT_MEMORY_LIMIT_MB\)"):
        budget.check("plan.dxf")
    assert len(ballast) == 64 << 20


# --- damaged files: read once, "recovered" said prominently ----------------------------------


def test_a_damaged_file_is_read_once_and_reported_recovered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = (SAMPLE / "A_level1.dxf").read_bytes()
    path = tmp_path / "cut.dxf"
    path.write_bytes(good[: int(len(good) * 0.9)])
    calls: list[str] = []
    real = recover.readfile

    def counted(name: str) -> Any:
        calls.append(name)
        return real(name)

    monkeypatch.setattr(recover, "readfile", counted)
    plan = read_floor_plan(path)
    assert calls == [str(path)]
    first = plan.warnings[0]
    assert first.startswith("cut.dxf: RECOVERED:")
    assert "no EOF marker" in first and "lost" in first


def test_an_undamaged_file_is_not_reported_recovered() -> None:
    plan = read_floor_plan(SAMPLE / "A_level1.dxf")
    assert not any("RECOVERED" in w for w in plan.warnings)


# --- the mutators: reproducible from their seed -----------------------------------------------


def test_mutations_are_reproducible_from_the_seed() -> None:
    text = (SAMPLE / "B_level1.dxf").read_text()
    manifest = (SAMPLE / "campus.toml").read_text()
    a = [mutate_dxf(random.Random(7), text) for _ in range(3)]
    b = [mutate_dxf(random.Random(7), text) for _ in range(3)]
    assert a == b
    assert mutate_manifest(random.Random(3), manifest) == mutate_manifest(random.Random(3),
                                                                          manifest)
    assert a[0][0] != text and a[0][1]


# --- every input the fuzzer ever broke --------------------------------------------------------


def _fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if (p / "case.json").is_file()) \
        if FIXTURES.is_dir() else []


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda p: p.name)
def test_fuzz_regression(fixture: Path, tmp_path: Path) -> None:
    """Each saved input, laid out as its sample's case (a campus, an OSM or IMDF school, a
    DXF fixture with its sidecar, an upload zip) and judged by the same check as found it."""
    case = json.loads((fixture / "case.json").read_text())
    mutated = gzip.decompress((fixture / f"{case['replaces']}.gz").read_bytes())
    laid = case_folder(case["sample"], case["replaces"], mutated, tmp_path / "case")
    known = case.get("known")  # found in code outside the importers, reported, not yet fixed
    outcome = run_case(laid.folder, laid.entry, Limits(timeout_s=30.0 if known else 120.0),
                       laid.check)
    if known and not outcome.clean:
        pytest.xfail(f"known: {known}")
    assert outcome.clean, f"{case['mutations']}: {outcome.kind}: {outcome.detail}"
    if case.get("expect"):  # the outcome once fixed, when a bare "clean" would say too little
        assert outcome.kind == case["expect"], outcome.detail


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_sample_unmutated_is_clean(sample: str, tmp_path: Path) -> None:
    """The corpus itself passes its check: a failure the fuzzer reports is the mutation's."""
    corpus = Corpus.load()
    data = {"lincoln_ridge": (SAMPLE / "A_level1.dxf").read_bytes(), "osm_school": corpus.osm,
            "imdf_school": corpus.imdf, "dxf_fixtures": corpus.drawings[GEODATA_DXF],
            "uploads": corpus.upload}[sample]
    name = {"lincoln_ridge": "A_level1.dxf", "osm_school": "school.osm",
            "imdf_school": "school.zip", "dxf_fixtures": GEODATA_DXF,
            "uploads": "upload.zip"}[sample]
    laid = case_folder(sample, name, data, tmp_path / "case")
    outcome = run_case(laid.folder, laid.entry, Limits(timeout_s=120.0), laid.check)
    assert outcome.kind == "imported", outcome.detail


def test_the_samples_take_turns_and_each_mutant_is_reproducible() -> None:
    """A short run (CI's 45 s) gives every sample inputs; a seed gives the same mutants."""
    corpus = Corpus.load()
    first = [next_mutant(random.Random(5), corpus, n) for n in range(2 * len(SAMPLES))]
    again = [next_mutant(random.Random(5), corpus, n) for n in range(2 * len(SAMPLES))]
    assert first == again
    assert [m.sample for m in first[:len(SAMPLES)]] == list(SAMPLES)
    originals = {"osm_school": corpus.osm, "imdf_school": corpus.imdf,
                 "uploads": corpus.upload}
    for m in first:
        assert m.mutations
        if m.sample in originals:
            assert m.data != originals[m.sample], m.mutations
