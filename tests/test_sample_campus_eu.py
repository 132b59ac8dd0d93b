"""The Riverside International School sample: a European firm's drawings, regenerated exactly.

Its drawings differ from Lincoln Ridge's on purpose (metric and centimetre units, French layer
names, European room numbers, top-left MTEXT labels on and outside walls, a label with no
room outline, a building without a door layer, a basement); these tests pin those traits so
the sample keeps testing what it was made to test, and check it imports through the real
pipeline.
"""

from __future__ import annotations

from pathlib import Path

import ezdxf
import pytest
from shapely.geometry import Point, Polygon

from gridmap.index import CampusIndex
from gridmap.model import AmenityKind, Campus
from importers.campus import ImportResult, import_campus
from tests.sample_scripts import assert_script_remakes, load_script

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "riverside_international"
MANIFEST = SAMPLE / "campus.toml"


gen = load_script("make_sample_campus_eu")


@pytest.fixture(scope="module")
def result() -> ImportResult:
    return import_campus(MANIFEST)


@pytest.fixture(scope="module")
def campus(result: ImportResult) -> Campus:
    return result.campus


def test_committed_sample_is_what_the_generator_makes(tmp_path: Path) -> None:
    assert_script_remakes("make_sample_campus_eu", SAMPLE, tmp_path)


def _rooms_and_labels(dxf: str) -> tuple[list[Polygon], list[tuple[str, Point, int]]]:
    doc = ezdxf.readfile(str(SAMPLE / dxf))
    msp = doc.modelspace()
    rooms = [Polygon([(p[0], p[1]) for p in e.get_points("xy")])
             for e in msp.query('LWPOLYLINE[layer=="LOCAUX"]')]
    labels = [(e.plain_text(), Point(e.dxf.insert.x, e.dxf.insert.y), e.dxf.attachment_point)
              for e in msp.query('MTEXT[layer=="TEXTE-LOCAUX"]')]
    return rooms, labels


def test_drawings_are_drawn_the_european_way() -> None:
    units = {name: ezdxf.readfile(str(SAMPLE / name)).header["$INSUNITS"]
             for name in gen.PLANS}
    assert units == {"A_UG.dxf": 6, "A_EG.dxf": 6, "A_1OG.dxf": 6, "B_EG.dxf": 5,
                     "E_EG.dxf": 6, "G_EG.dxf": 6}
    every_label = []
    for name in gen.PLANS:
        rooms, labels = _rooms_and_labels(name)
        assert rooms and labels, name
        assert {a for _, _, a in labels} == {1}, f"{name}: labels are anchored top-left"
        every_label += [(name, text, at, rooms) for text, at, _ in labels]
    texts = {text.split("\n")[0] for _, text, _, _ in every_label}
    assert {"A015", "B013", "B013a", "B015 a", "E003bis", "AU01", "G1"} <= texts
    # insertion points on a wall, just outside their room, and in no room at all
    on_wall = [t for _, t, at, rooms in every_label if any(r.exterior.distance(at) < 1e-9
                                                            for r in rooms)]
    outside = [t for _, t, at, rooms in every_label if not any(r.covers(at) for r in rooms)]
    assert any(t.startswith("B013\n") for t in on_wall)
    assert {t.split("\n")[0] for t in outside} >= {"A015", "E003bis", "E010"}
    # labels of the south rooms sit just across the wall, in the corridor
    corridor_side = [t.split("\n")[0] for name, t, at, rooms in every_label
                     if t.split("\n")[0] in {"A005", "A104a", "B013a"}
                     and sum(r.covers(at) for r in rooms) == 1]
    assert sorted(corridor_side) == ["A005", "A104a", "B013a"]


def test_science_block_has_no_door_layer_at_all() -> None:
    doc = ezdxf.readfile(str(SAMPLE / "B_EG.dxf"))
    assert "PORTES" not in {layer.dxf.name for layer in doc.layers}
    assert not list(doc.modelspace().query("INSERT"))
    for name in ("A_EG.dxf", "E_EG.dxf", "G_EG.dxf"):
        inserts = ezdxf.readfile(str(SAMPLE / name)).modelspace().query('INSERT[layer=="PORTES"]')
        assert len(inserts) >= 3, name


def test_imports_through_the_real_pipeline(campus: Campus) -> None:
    ix = CampusIndex(campus)
    assert campus.id == "riverside-international"
    assert {b.short_name for b in campus.buildings} == {"A", "B", "E", "G"}
    a = next(b.id for b in campus.buildings if b.short_name == "A")
    assert sorted(lv.ordinal for lv in campus.levels if lv.building_id == a) == [-1, 0, 1]
    assert campus.grid.cell_size == 25
    # stairs at the same place on every level of A, a walkway on every level
    for ordinal in (-1, 0, 1):
        units = [u for u in ix.units_on(ordinal) if u.building_id == a]
        assert sum(u.category == "stairs" for u in units) == 2, ordinal
    walk = {ix.levels[u.level_id].ordinal for u in campus.units
            if u.building_id == a and u.category == "walkway"}
    assert {0} <= walk
    kinds = {am.kind for am in campus.amenities}
    assert {AmenityKind.KNOX_BOX, AmenityKind.AED, AmenityKind.TRAUMA_KIT,
            AmenityKind.HAZARD, AmenityKind.ELEVATOR, AmenityKind.STAIRWELL} <= kinds
    aed_levels = {ix.levels[am.level_id].ordinal for am in campus.amenities
                  if am.kind is AmenityKind.AED and am.level_id and am.building_id == a}
    assert aed_levels == {-1, 0, 1}
    b = next(b.id for b in campus.buildings if b.short_name == "B")
    assert not [o for o in campus.openings if o.building_id == b]
    assert {g.name for g in campus.grounds} >= {"Bus Loop", "Staff Car Park"}


def test_import_report_flags_the_missing_door_layer_and_the_label_only_room(
        result: ImportResult) -> None:
    said = [w for w in result.warnings if "B_EG.dxf" in w and "PORTES" in w]
    assert len(said) == 1, result.warnings
    assert not [w for w in result.warnings if "PORTES" in w and "B_EG.dxf" not in w]
    approximate = [w for w in result.warnings if "E010" in w]
    assert len(approximate) == 1 and "approximate" in approximate[0]


def test_room_numbers_resolve_to_their_rooms(campus: Campus) -> None:
    """Every number the architect wrote is on the room it labels (the label's text extent,
    not its insertion point); the label with no outline is kept as an approximate unit."""
    ix = CampusIndex(campus)
    numbered = {(ix.buildings[u.building_id].short_name, u.number.replace(" ", "").upper()): u
                for u in campus.units if u.number}
    wanted = {("A", "A015"), ("A", "A005"), ("A", "A104A"), ("B", "B013A"), ("B", "B015A"),
              ("B", "B015B"), ("E", "E003BIS"), ("E", "E010")}
    assert wanted <= set(numbered), sorted(wanted - set(numbered))
    assert "Canteen" in numbered[("A", "A005")].name
    assert numbered[("A", "A005")].category != "walkway"
    assert "Lager" in numbered[("B", "B013A")].name
    assert numbered[("A", "A015")].name.startswith("Primary Office")
    assert numbered[("E", "E003BIS")].name.startswith("Salle de motricit")
    assert numbered[("E", "E010")].approximate
    assert not any(u.approximate for key, u in numbered.items() if key != ("E", "E010"))
    assert all("\\" not in u.name and "\n" not in u.name for u in campus.units)


def test_nearest_answers_are_floor_aware_and_walked(campus: Campus) -> None:
    """Every room of the three-level building: its nearest AED is on its own level (each level
    has one), measured along the corridors; the nearest exit from an upper level or the
    basement is on the ground floor and names the stairs or lift to take."""
    ix = CampusIndex(campus)
    a = next(b.id for b in campus.buildings if b.short_name == "A")
    rooms = [u for u in campus.units if u.building_id == a and u.number]
    assert {ix.levels[u.level_id].ordinal for u in rooms} == {-1, 0, 1}
    for u in rooms:
        ordinal = ix.levels[u.level_id].ordinal
        origin = ix.label_point(u)
        aed = ix.nearest_amenity(AmenityKind.AED, origin, a, level_id=u.level_id)
        assert aed is not None and aed.level_ordinal == ordinal, (u.number, aed)
        assert aed.same_level and aed.distance_kind == "walking", (u.number, aed)
        exits = ix.nearest_exterior_doors(origin, a, k=2, level_id=u.level_id)
        assert exits and all(d.level_ordinal == 0 for d in exits), u.number
        if ordinal != 0:
            assert all(d.via and not d.same_level for d in exits), (u.number, exits)
            assert all(d.distance_kind == "walking" for d in exits), (u.number, exits)


def test_building_without_doors_answers_with_other_buildings_doors(campus: Campus) -> None:
    ix = CampusIndex(campus)
    b = next(x.id for x in campus.buildings if x.short_name == "B")
    room = next(u for u in campus.units if u.building_id == b and u.number == "B013")
    exits = ix.nearest_exterior_doors(ix.label_point(room), b, k=2, level_id=room.level_id)
    assert exits and all(d.building_short_name != "B" for d in exits)


def test_every_room_number_finds_its_room_never_a_cell(campus: Campus) -> None:
    """As the architect wrote it and as typed without spaces: the room, found, even where the
    number is also a grid cell label (G1..G5, E003 ~ E3)."""
    from gridmap.lookup import MatchKind, Status, lookup

    ix = CampusIndex(campus)
    for unit in campus.units:
        if not unit.number:
            continue
        for said in {unit.number, unit.number.replace(" ", "")}:
            result = lookup(ix, said)
            assert result.status is Status.FOUND, (said, result.message)
            best = result.candidates[0]
            assert best.feature_id == unit.id and best.match is not MatchKind.CELL, said
