"""The Lincoln Ridge sample campus imports completely and lands where it was generated."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import DxfError, GeoreferenceError, ImportFailed
from gridmap.model import AmenityKind, Campus, Unit
from importers.campus import ImportResult, import_campus

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"
MANIFEST = SAMPLE / "campus.toml"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_sample_campus", ROOT / "scripts" / "make_sample_campus.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


gen = _load_generator()


@pytest.fixture(scope="module")
def result() -> ImportResult:
    return import_campus(MANIFEST)


@pytest.fixture(scope="module")
def campus(result: ImportResult) -> Campus:
    return result.campus


def _building(campus: Campus, short: str) -> str:
    return next(b.id for b in campus.buildings if b.short_name == short)


def _unit(campus: Campus, short: str, number: str) -> Unit:
    bid = _building(campus, short)
    found = [u for u in campus.units if u.building_id == bid and u.number == number]
    assert len(found) == 1, (short, number, found)
    return found[0]


def test_committed_sample_is_what_the_generator_makes(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "make_sample_campus.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, cwd=ROOT,
                   capture_output=True)
    for path in sorted(tmp_path.iterdir()):
        assert path.read_bytes() == (SAMPLE / path.name).read_bytes(), path.name


def test_shape_of_campus(result: ImportResult, campus: Campus) -> None:
    assert result.warnings == []
    assert campus.id == "lincoln-ridge"
    assert {b.short_name for b in campus.buildings} == {"A", "B", "C"}
    a = _building(campus, "A")
    assert sorted(lv.ordinal for lv in campus.levels if lv.building_id == a) == [0, 1]
    assert len(campus.units) >= 60
    assert {b.short_name: b.aliases[0] for b in campus.buildings}["B"] == "gym"


def test_room_214_and_b12(campus: Campus) -> None:
    r214 = _unit(campus, "A", "214")
    assert r214.name == "Science Lab"
    assert campus.level(r214.level_id).ordinal == 1
    assert campus.level(r214.level_id).name == "2nd Floor"
    b12 = _unit(campus, "B", "B-12")
    assert b12.name == "Weight Room"
    assert _unit(campus, "C", "C-1").name == "Kindergarten"
    names = {u.name for u in campus.units}
    assert {"Main Office", "Library", "Cafeteria", "Nurse", "Gymnasium", "Main Hall",
            "Stair 1", "Boys Locker Room"} <= names
    assert {u.category for u in campus.units if u.name.startswith("Stair")} == {"stairs"}
    assert _unit(campus, "A", "113").geometry.exterior.coords.__len__() > 10  # bulged library


def test_residuals_small_but_nonzero(result: ImportResult) -> None:
    assert set(result.residuals) == {"A_level1.dxf", "A_level2.dxf", "B_level1.dxf",
                                     "C_level1.dxf"}
    for rms in result.residuals.values():
        assert 0.005 < rms < 1.0


def test_amenities_of_every_kind(campus: Campus) -> None:
    kinds = {a.kind for a in campus.amenities}
    required = {AmenityKind.KNOX_BOX, AmenityKind.AED, AmenityKind.TRAUMA_KIT,
                AmenityKind.GAS_SHUTOFF, AmenityKind.WATER_SHUTOFF, AmenityKind.ELECTRIC_SHUTOFF,
                AmenityKind.FIRE_ALARM_PANEL, AmenityKind.ACCESS_CONTROL_PANEL,
                AmenityKind.STAIRWELL, AmenityKind.RALLY_POINT, AmenityKind.STAGING_AREA}
    assert required <= kinds
    knox = [a for a in campus.amenities if a.kind is AmenityKind.KNOX_BOX]
    assert len(knox) >= 2
    upstairs_aeds = [a for a in campus.amenities if a.kind is AmenityKind.AED
                     and a.level_id is not None and campus.level(a.level_id).ordinal == 1]
    assert len(upstairs_aeds) >= 2


def test_everything_inside_parcel_and_grid(campus: Campus) -> None:
    assert campus.parcel is not None
    frame = LocalFrame(campus.crs)
    for u in campus.units:
        assert campus.parcel.covers(u.geometry), u.number
        local = frame.to_local(u.geometry)
        assert grid.cells_spanned(campus.grid, local)
        grid.primary_cell(campus.grid, local)  # raises if off the grid
    for b in campus.buildings:
        assert campus.parcel.covers(b.footprint)
    assert campus.grid.unit.value == "ft" and campus.grid.cell_size == 100
    assert {g.kind.value for g in campus.grounds} >= {"parking", "athletic_field", "road",
                                                       "playground"}


@pytest.mark.parametrize(("short", "number", "cad"), [
    ("A", "214", (100.0, 101.0)),
    ("A", "101", (15.0, 29.0)),
    ("B", "B-12", (175.0, 67.5)),  # building B is rotated 7 degrees on site
    ("C", "C-7", (62.5, 47.5)),
])
def test_rooms_land_where_generated(campus: Campus, short: str, number: str,
                                    cad: tuple[float, float]) -> None:
    frame = LocalFrame(campus.crs)
    got = frame.to_local(_unit(campus, short, number).geometry).centroid
    want_x, want_y = frame.xy(*gen.cad_to_lonlat(short, *cad))
    assert got.distance(type(got)(want_x, want_y)) < 0.15  # perturbation is 0.12 m on one point


def test_exterior_doors_numbered_from_main_entrance(campus: Campus) -> None:
    frame = LocalFrame(campus.crs)
    counts = {b.short_name: len(campus.exterior_doors(b.id)) for b in campus.buildings}
    assert counts == {"A": 7, "B": 5, "C": 3}
    for b in campus.buildings:
        doors = campus.exterior_doors(b.id)
        main = [o for o in doors if o.main_entrance]
        assert len(main) == 1
        assert main[0].number == "1"
        assert sorted(int(o.number or 0) for o in doors) == list(range(1, len(doors) + 1))
    a_main = next(o for o in campus.exterior_doors(_building(campus, "A")) if o.main_entrance)
    want = frame.xy(*gen.cad_to_lonlat("A", 160.0, 0.0))
    got = frame.to_local(a_main.geometry)
    assert got.distance(type(got)(*want)) < 0.15
    # clockwise from the south-side main entrance, the next door is on the west end
    a_doors = {o.number: frame.to_local(o.geometry) for o in
               campus.exterior_doors(_building(campus, "A"))}
    assert a_doors["2"].x < a_doors["1"].x - 20
    interior = [o for o in campus.openings if not o.exterior]
    assert interior and all(o.number is None for o in interior)


def test_reimport_is_stable(campus: Campus) -> None:
    again = import_campus(MANIFEST, previous=campus).campus
    assert [u.id for u in again.units] == [u.id for u in campus.units]
    assert {o.id: o.number for o in again.openings} == {o.id: o.number for o in campus.openings}


# --- bad input through the whole import ---------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "lr")
    return tmp_path / "lr" / "campus.toml"


def _sub(path: Path, pattern: str, repl: str) -> None:
    text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.S)
    assert n == 1
    path.write_text(text)


def test_layer_override_to_missing_room_layer(copy: Path) -> None:
    _sub(copy, r'rooms = "A-AREA"', 'rooms = "A-ROOM"')
    with pytest.raises(DxfError, match=r"layer 'A-ROOM' not found in A_level1\.dxf; layers "
                                       r"present: .*A-AREA"):
        import_campus(copy)


def test_too_few_control_points(copy: Path) -> None:
    head, sep, tail = copy.read_text().partition('id = "B"')
    for corner in ("SE corner", "NE corner", "NW corner"):
        tail = re.sub(rf"\n[^\n]*{corner}[^\n]*", "", tail, count=1)
    copy.write_text(head + sep + tail)
    with pytest.raises(GeoreferenceError, match=r"building B level 0 \(B_level1\.dxf\).*at "
                                                r"least 2 control points, got 1"):
        import_campus(copy)


def test_badly_fitting_control_points(copy: Path) -> None:
    _sub(copy, r"(NE corner\", cad = \[)320\.0", r"\g<1>350.0")
    with pytest.raises(GeoreferenceError, match=r"A_level1\.dxf.*RMS residual.*worst: point"):
        import_campus(copy)


def test_broken_dxf_in_campus(copy: Path) -> None:
    (copy.parent / "C_level1.dxf").write_bytes(b"\x00\xff garbage \x13" * 100)
    with pytest.raises(DxfError, match=r"C_level1\.dxf"):
        import_campus(copy)


def test_unknown_poi_kind_in_campus(copy: Path) -> None:
    with (copy.parent / "pois.csv").open("a") as fh:
        fh.write("helipad,Roof pad,-84.43,42.70,,,\n")
    with pytest.raises(ImportFailed, match=r"pois\.csv line \d+: unknown kind 'helipad'"):
        import_campus(copy)
