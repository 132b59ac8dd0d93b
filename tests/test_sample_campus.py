"""The Lincoln Ridge sample campus imports completely and lands where it was generated."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ezdxf
import pytest
from shapely.geometry import Point

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import DoorRenumbering, DxfError, GeoreferenceError, ImportFailed
from gridmap.model import AmenityKind, Campus, Unit
from importers.campus import ImportResult, import_campus
from tests.sample_scripts import assert_script_remakes, load_script

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"
MANIFEST = SAMPLE / "campus.toml"


gen = load_script("make_sample_campus")


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
    assert_script_remakes("make_sample_campus", SAMPLE, tmp_path)


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


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "lr")
    return tmp_path / "lr" / "campus.toml"


def _sub(path: Path, pattern: str, repl: str) -> None:
    text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.S)
    assert n == 1
    path.write_text(text)


# --- re-imports of an edited drawing: painted door numbers stay --------------------------------

# building A's exterior doors as generated, numbered clockwise from the main entrance (160, 0)
A_DOOR_NUMBERS = {(160.0, 0.0): "1", (0.0, 65.0): "2", (10.0, 130.0): "3", (235.0, 130.0): "4",
                  (310.0, 130.0): "5", (320.0, 65.0): "6", (305.0, 0.0): "7"}
FIVE_M_FT = 5.0 / gen.FT


def _a_numbers(campus: Campus) -> dict[tuple[float, float], str]:
    """Building A's door numbers by the CAD spot of the generated door nearest each."""
    frame = LocalFrame(campus.crs)
    doors = [(frame.to_local(o.geometry), o.number or "")
             for o in campus.exterior_doors(_building(campus, "A"))]
    out: dict[tuple[float, float], str] = {}
    for spot in A_DOOR_NUMBERS:
        want = Point(frame.xy(*gen.cad_to_lonlat("A", *spot)))
        dist, number = min((p.distance(want), n) for p, n in doors)
        if dist < 1.0:
            out[spot] = number
    return out


def _edit_doors(manifest: Path, edit: Callable[[Any, list[Any]], None]) -> None:
    """Edit building A's ground-floor DXF with ezdxf: ``edit(modelspace, door inserts)``."""
    path = manifest.parent / "A_level1.dxf"
    doc = ezdxf.readfile(path)
    msp = doc.modelspace()
    edit(msp, [e for e in msp.query("INSERT[layer=='A-DOOR']") if e.dxf.name == "DOOR-EXT"])
    doc.saveas(path)


def _door_at(doors: list[Any], x: float, y: float) -> Any:
    return next(e for e in doors if (e.dxf.insert.x, e.dxf.insert.y) == (x, y))


def test_baseline_door_numbers(campus: Campus) -> None:
    assert _a_numbers(campus) == A_DOOR_NUMBERS


def test_moved_door_keeps_its_number(campus: Campus, copy: Path) -> None:
    def move(_msp: Any, doors: list[Any]) -> None:
        door = _door_at(doors, 0.0, 65.0)
        door.dxf.insert = (0.0, 65.0 + 0.5 / gen.FT)  # 0.5 m north along the west wall

    _edit_doors(copy, move)
    result = import_campus(copy, previous=campus)
    frame = LocalFrame(campus.crs)
    moved = next(o for o in result.campus.exterior_doors(_building(campus, "A"))
                 if o.number == "2")
    was = frame.xy(*gen.cad_to_lonlat("A", 0.0, 65.0))
    assert frame.to_local(moved.geometry).distance(Point(was)) == pytest.approx(0.5, abs=0.15)
    assert _a_numbers(result.campus) == A_DOOR_NUMBERS
    assert result.warnings == []  # no number changed: nothing to repaint
    assert result.campus.retired_door_numbers == ()


def test_removed_door_number_is_retired_and_never_reused(campus: Campus, copy: Path) -> None:
    _edit_doors(copy, lambda msp, doors: msp.delete_entity(_door_at(doors, 235.0, 130.0)))
    without = import_campus(copy, previous=campus)
    assert _a_numbers(without.campus) == {k: v for k, v in A_DOOR_NUMBERS.items() if v != "4"}
    a_id = _building(campus, "A")
    assert (a_id, "4") in without.campus.retired_door_numbers
    assert without.warnings == ["building A: exterior door 4 is gone; its number is retired"]

    # the door comes back in a later drawing: a new door, and 4 stays retired
    shutil.copy(SAMPLE / "A_level1.dxf", copy.parent / "A_level1.dxf")
    back = import_campus(copy, previous=without.campus)
    assert _a_numbers(back.campus)[(235.0, 130.0)] == "3A"
    assert (a_id, "4") in back.campus.retired_door_numbers
    assert back.warnings == ["building A: new exterior door numbered 3A; paint it on the door"]


def test_new_door_gets_a_suffix_after_its_clockwise_neighbour(campus: Campus,
                                                              copy: Path) -> None:
    def add(msp: Any, _doors: list[Any]) -> None:
        # on the north wall, clockwise between door 3 (10, 130) and door 4 (235, 130)
        msp.add_blockref("DOOR-EXT", (100.0, 130.0), dxfattribs={"layer": "A-DOOR"})

    _edit_doors(copy, add)
    result = import_campus(copy, previous=campus)
    doors = result.campus.exterior_doors(_building(campus, "A"))
    assert sorted(o.number or "" for o in doors) == sorted([*A_DOOR_NUMBERS.values(), "3A"])
    assert _a_numbers(result.campus) == A_DOOR_NUMBERS
    assert result.warnings == ["building A: new exterior door numbered 3A; paint it on the door"]


def _shift_building_a(manifest: Path, east_m: float) -> None:
    """A bad georeference: building A's control points all tie CAD to a spot ``east_m`` off."""
    head, sep, rest = manifest.read_text().partition('id = "A"')
    section, sep2, tail = rest.partition('id = "B"')

    def shift(m: re.Match[str]) -> str:
        return f"cad = [{float(m.group(1)) - east_m / gen.FT:.3f}, "

    section, n = re.subn(r"cad = \[([-\d.]+), ", shift, section)
    assert n == 4
    manifest.write_text(head + sep + section + sep2 + tail)


def test_wholesale_renumbering_is_refused(campus: Campus, copy: Path) -> None:
    _shift_building_a(copy, 5.0)
    with pytest.raises(DoorRenumbering) as err:
        import_campus(copy, previous=campus)
    msg = str(err.value)
    assert msg.startswith("building A (Main Building): none of the 7 numbered exterior doors is "
                          "within 1.5 m of a door in the new drawing")
    assert "georeference" in msg and "allow renumbering" in msg


def test_allow_renumber_numbers_afresh(campus: Campus, copy: Path) -> None:
    _shift_building_a(copy, 5.0)
    _sub(copy, r'numbering = "clockwise"\n', 'numbering = "clockwise"\nallow_renumber = true\n')
    result = import_campus(copy, previous=campus)
    again = result.campus
    a_doors = again.exterior_doors(_building(again, "A"))
    assert sorted(int(o.number or 0) for o in a_doors) == list(range(1, 8))
    assert next(o for o in a_doors if o.main_entrance).number == "1"
    for short in ("B", "C"):  # the other buildings matched and keep their numbers
        bid = _building(again, short)
        assert ({o.id: o.number for o in again.exterior_doors(bid)}
                == {o.id: o.number for o in campus.exterior_doors(bid)})
    assert again.retired_door_numbers == ()  # a repaint retires nothing


# --- bad input through the whole import ---------------------------------------------------------


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
