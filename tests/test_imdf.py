"""IMDF archive import: the conforming school, a non-conforming copy (each broken rule is a
finding naming the rule) and hostile zips. Expectations come from the fixture builder."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape
from shapely.ops import unary_union

from gridmap import grid
from gridmap.errors import ImportFailed, IndoorFileError
from gridmap.index import CampusIndex
from gridmap.lookup import lookup
from gridmap.model import AmenityKind, Campus, GroundsKind, LengthUnit, stable_id
from importers import imdf
from importers.imdf import read_imdf
from importers.indoor import IndoorImport, local_frame_around
from importers.limits import ImportLimits
from tests.fixtures.imdf.make_imdf import (
    A_ROOMS,
    HERE,
    ImdfBuilder,
    fid,
    line,
    nonconforming,
    point,
    polygon,
    school,
    with_grounds,
    write_all,
)

CID = "maple-grove"


@pytest.fixture(scope="module")
def maple() -> IndoorImport:
    return read_imdf(HERE / "school.zip", CID, ImportLimits())


@pytest.fixture(scope="module")
def broken() -> IndoorImport:
    return read_imdf(HERE / "nonconforming.zip", CID, ImportLimits())


def _read(b: ImdfBuilder, tmp_path: Path, limits: ImportLimits | None = None) -> IndoorImport:
    path = tmp_path / "venue.zip"
    b.zip_bytes(path)
    return read_imdf(path, CID, limits or ImportLimits())


def _ordinal(result: IndoorImport, level_id: str | None) -> int:
    return next(lv.ordinal for lv in result.levels if lv.id == level_id)


def _label(f: dict[str, Any], key: str) -> str:
    value = f["properties"].get(key)
    return "" if value is None else str(value["en"])


def test_committed_fixtures_are_what_the_generator_makes(tmp_path: Path) -> None:
    for made in write_all(tmp_path):
        assert made.read_bytes() == (HERE / made.name).read_bytes(), made.name


def test_a_conforming_archive_imports_without_warnings(maple: IndoorImport) -> None:
    assert [f.message for f in maple.findings if f.severity.value != "info"] == []
    assert maple.name == "Maple Grove School"
    assert maple.address == "1200 Maple Grove Road, Okemos, MI 48864"


def test_every_space_unit_is_read_with_its_category_and_level(maple: IndoorImport) -> None:
    b = school()
    ordinals = {f["id"]: f["properties"]["ordinal"] for f in b.files["level"]}
    expected = {fid_: (f["properties"]["category"], ordinals[f["properties"]["level_id"]])
                for f in b.files["unit"] for fid_ in [stable_id(CID, f["id"])]}
    got = {u.id: (u.category, _ordinal(maple, u.level_id)) for u in maple.units}
    assert got == expected


def test_room_numbers_and_names(maple: IndoorImport) -> None:
    by_number = {u.number: u for u in maple.units if u.number}
    for number, name, _, ordinal, _ in A_ROOMS:
        assert by_number[number].name == name
        assert _ordinal(maple, by_number[number].level_id) == ordinal
    lockers = next(f for f in school().files["unit"] if _label(f, "name") == "Locker Room")
    assert by_number[_label(lockers, "alt_name")].name == "Locker Room"
    assert len(by_number[_label(lockers, "alt_name")].geometry.interiors) == 1


def test_buildings_levels_and_footprints(maple: IndoorImport) -> None:
    b = school()
    assert {(x.short_name, x.name) for x in maple.buildings} == {
        (_label(f, "alt_name"), _label(f, "name")) for f in b.files["building"]}
    assert {(lv.ordinal, lv.name, lv.short_name) for lv in maple.levels} == {
        (f["properties"]["ordinal"], _label(f, "name"), _label(f, "short_name"))
        for f in b.files["level"]}
    footprints = {x.id: x.footprint for x in maple.buildings}
    for u in maple.units:
        assert footprints[u.building_id].buffer(1e-7).covers(u.geometry), u.name


def test_openings_exterior_main_and_numbers(maple: IndoorImport) -> None:
    b = school()
    named = {_label(f, "name"): f for f in b.files["opening"] if f["properties"]["name"]}
    exterior = {o.id: o for o in maple.openings if o.exterior}
    for name, f in named.items():
        o = exterior[stable_id(CID, f["id"])]
        assert o.number == name.removeprefix("Door ")
        assert o.main_entrance == (f["properties"]["category"] == "pedestrian.principal")
    emergency = next(f for f in b.files["opening"] if f["properties"]["category"]
                     == "emergencyexit")
    assert stable_id(CID, emergency["id"]) in exterior
    interior = [o for o in maple.openings if not o.exterior]
    assert len(interior) == len(b.files["opening"]) - len(named) - 1
    assert all(o.number is None and not o.main_entrance for o in interior)


def test_amenities_a_responder_needs(maple: IndoorImport) -> None:
    kinds = {a.kind: a for a in maple.amenities}
    assert set(kinds) == {AmenityKind.AED, AmenityKind.FIRST_AID}
    aed = kinds[AmenityKind.AED]
    assert aed.name == "AED Main Hall"
    assert _ordinal(maple, aed.level_id) == 0
    assert any("drinkingfountain" in f.message for f in maple.findings)


def test_the_import_builds_a_campus_whose_lookups_work(maple: IndoorImport) -> None:
    from api.publish import check_servable

    frame = local_frame_around([b.footprint for b in maple.buildings])
    extent = frame.to_local(maple.buildings[0].footprint.union(maple.buildings[1].footprint))
    campus = Campus(
        id=CID, name=maple.name or CID, address=maple.address or "",
        grid=grid.grid_for_extent(grid.Bounds(*extent.bounds), 25.0, LengthUnit.METRE, 1),
        crs=frame.crs, buildings=maple.buildings, levels=maple.levels, units=maple.units,
        openings=maple.openings, amenities=maple.amenities)
    check_servable(campus)
    index = CampusIndex(campus)
    best = lookup(index, "room 202").candidates[0]
    assert (best.unit_name, best.building_name, best.level_name) == (
        "Science Lab", "Main Building", "2nd Floor")
    assert best.nearest_aed is not None
    door = lookup(index, "door 3").candidates[0]
    assert door.building_name == "Gymnasium"


def test_ids_are_stable(maple: IndoorImport) -> None:
    again = read_imdf(HERE / "school.zip", CID, ImportLimits())
    assert [u.id for u in again.units] == [u.id for u in maple.units]
    assert [lv.id for lv in again.levels] == [lv.id for lv in maple.levels]


# --- the non-conforming archive -------------------------------------------------------------


@pytest.mark.parametrize("said", [
    "has no manifest.json (IMDF rule: every IMDF archive has a manifest.json)",
    "level_id 'x' names no level (IMDF rule: unit.level_id references a level)",
    "unit 'abc': id is not a UUID (IMDF rule: FEATURE-ID is a UUID)",
    "feature_type is 'units' in unit.geojson",
    "has a Point geometry (IMDF rule: a unit has Polygon or MultiPolygon geometry)",
    "has no 'category' property (IMDF rule: unit.category is required)",
    "id is used twice (IMDF rule: feature ids are unique in an archive)",
    "name is a plain string (IMDF rule: name is a LABELS object",
    ", no unit (IMDF rule: amenity.unit_ids references units)",
    "has no footprint (IMDF rule: footprint.building_ids covers every building)",
    "has a Point geometry (IMDF rule: an opening has LineString geometry)",
])
def test_each_broken_rule_is_named(broken: IndoorImport, said: str) -> None:
    assert any(said in f.message for f in broken.findings), said


def test_what_can_be_used_is_imported(broken: IndoorImport, maple: IndoorImport) -> None:
    b = nonconforming()
    units = b.files["unit"]
    skipped = {stable_id(CID, units[0]["id"]), stable_id(CID, units[3]["id"])}
    assert {u.id for u in broken.units} == {u.id for u in maple.units} - skipped - {
        stable_id(CID, fid("unit 102"))} | {stable_id(CID, "abc")}
    upper = next(lv for lv in broken.levels if lv.ordinal == 1)
    assert upper.name == "2nd Floor"
    gym = next(x for x in broken.buildings if x.name == "Gymnasium")
    assert gym.footprint.area > 0
    door_1 = next(o for o in broken.openings if o.number == "1")
    assert door_1.exterior and door_1.main_entrance


# --- archives that cannot be used -----------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return path


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "venue.zip"
    path.write_text("not a zip")
    with pytest.raises(IndoorFileError, match="is not a zip archive"):
        read_imdf(path, CID, ImportLimits())


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "bomb.zip", {"unit.geojson": b" " * 50_000_000})
    with pytest.raises(IndoorFileError, match="zip bomb"):
        read_imdf(path, CID, ImportLimits())


def test_member_over_the_size_limit_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imdf, "MAX_MEMBER_BYTES", 1000)
    path = _zip(tmp_path / "big.zip", {"unit.geojson": b"[" + b"1," * 2000 + b"1]"})
    with pytest.raises(IndoorFileError, match="unpacks to"):
        read_imdf(path, CID, ImportLimits())


def test_too_many_members(tmp_path: Path) -> None:
    path = _zip(tmp_path / "many.zip", {f"x{k}.txt": b"" for k in range(imdf.MAX_MEMBERS + 1)})
    with pytest.raises(IndoorFileError, match="members"):
        read_imdf(path, CID, ImportLimits())


def test_path_traversal_members_are_not_read(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    school().zip_bytes(good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    evil = {"../../unit.geojson": members.pop("unit.geojson"), **members}
    result = read_imdf(_zip(tmp_path / "evil.zip", evil), CID, ImportLimits())
    assert result.units == ()
    assert any("its path leaves the archive" in f.message for f in result.findings)
    assert not (tmp_path.parent / "unit.geojson").exists()


def test_archive_in_a_folder_is_read(tmp_path: Path, maple: IndoorImport) -> None:
    good = tmp_path / "good.zip"
    school().zip_bytes(good)
    with zipfile.ZipFile(good) as zf:
        members = {f"Maple Grove IMDF/{n}": zf.read(n) for n in zf.namelist()}
    result = read_imdf(_zip(tmp_path / "nested.zip", members), CID, ImportLimits())
    assert [u.id for u in result.units] == [u.id for u in maple.units]


def test_nothing_usable(tmp_path: Path) -> None:
    path = _zip(tmp_path / "empty.zip", {"manifest.json": b"{}"})
    with pytest.raises(IndoorFileError, match="no usable units"):
        read_imdf(path, CID, ImportLimits())


@pytest.mark.parametrize(("body", "said"), [
    (b"{not json", "is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
    (b'{"type": "FeatureCollection", "features": [{"id": 1}]}', "has no id"),
    (b'{"type": "FeatureCollection", "features": {}}', "holds no features array"),
    (b"\xff\xfe bad", "is not UTF-8"),
    (json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": fid("nan"), "feature_type": "unit",
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
         "properties": {"category": "room", "level_id": fid("level A0"), "name": None}},
    ]}).replace("[1, 1]", "[NaN, 1]").encode(), "is not valid JSON"),
])
def test_broken_unit_file_is_a_finding(tmp_path: Path, body: bytes, said: str) -> None:
    good = tmp_path / "good.zip"
    school().zip_bytes(good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["unit.geojson"] = body
    result = read_imdf(_zip(tmp_path / "bad.zip", members), CID, ImportLimits())
    assert any(said in f.message for f in result.findings), [f.message for f in result.findings]
    assert result.openings  # the rest still imports


def test_coordinates_outside_the_earth_and_too_many_points(tmp_path: Path) -> None:
    b = school()
    unit = b.files["unit"][0]
    unit["geometry"]["coordinates"][0][1] = [500.0, 42.7]
    b.files["unit"][1]["geometry"]["coordinates"][0][1:1] = [
        [-84.4312 + k * 1e-7, 42.7012] for k in range(600)]
    result = _read(b, tmp_path, ImportLimits(max_outline_points=500))
    ids = {u.id for u in result.units}
    assert stable_id(CID, unit["id"]) not in ids
    assert stable_id(CID, b.files["unit"][1]["id"]) not in ids
    messages = " | ".join(f.message for f in result.findings)
    assert "not lon/lat" in messages and "more than 500 points" in messages


def test_too_many_features(tmp_path: Path) -> None:
    with pytest.raises(IndoorFileError, match="more than 10 features"):
        read_imdf(HERE / "school.zip", CID, ImportLimits(entity_budget=10))


def test_level_shared_by_two_buildings_is_split(tmp_path: Path) -> None:
    b = school()
    levels = {f["properties"]["ordinal"]: f for f in b.files["level"]
              if f["properties"]["building_ids"] == [fid("building A")]}
    ground_a = levels[0]
    ground_a["properties"]["building_ids"] = [fid("building A"), fid("building B")]
    gym_level = fid("level B0")
    b.files["level"] = [f for f in b.files["level"] if f["id"] != gym_level]
    for feature in (*b.files["unit"], *b.files["opening"]):
        if feature["properties"]["level_id"] == gym_level:
            feature["properties"]["level_id"] = ground_a["id"]
    result = _read(b, tmp_path)
    gym = next(u for u in result.units if u.name == "Gym")
    kinder = next(u for u in result.units if u.name == "Kindergarten")
    assert gym.level_id != kinder.level_id
    assert gym.building_id != kinder.building_id
    assert _ordinal(result, gym.level_id) == _ordinal(result, kinder.level_id) == 0


def test_amenity_without_units_is_placed_by_its_building(tmp_path: Path) -> None:
    b = school()
    b.files["amenity"][0]["properties"]["unit_ids"] = []
    b.files["amenity"][0]["geometry"] = point(80, 10)
    result = _read(b, tmp_path)
    aed = next(a for a in result.amenities if a.kind is AmenityKind.AED)
    assert next(x.name for x in result.buildings if x.id == aed.building_id) == "Gymnasium"


def test_a_field_on_an_outdoor_level_is_grounds_not_a_room(tmp_path: Path) -> None:
    b = school()
    outdoor = b.add("level", "outdoor", {"type": "Polygon", "coordinates": [
        [[-84.4314, 42.7010], [-84.4300, 42.7010], [-84.4300, 42.7020], [-84.4314, 42.7010]]]},
        category="unspecified", restriction=None, outdoor=True, ordinal=0,
        name={"en": "Grounds"}, short_name=None, building_ids=None)
    b.add("unit", "field", {"type": "Polygon", "coordinates": [
        [[-84.4314, 42.7010], [-84.4313, 42.7010], [-84.4313, 42.7011], [-84.4314, 42.7010]]]},
        category="fieldofplay", name={"en": "Field"}, level_id=outdoor)
    result = _read(b, tmp_path)
    assert "Field" not in {u.name for u in result.units}
    assert [(g.name, g.kind) for g in result.grounds] == [("Field", GroundsKind.ATHLETIC_FIELD)]
    assert not any("names no level" in f.message for f in result.findings)


# --- outdoor levels, sections, kiosks, fixtures (grounds.zip) ---------------------------------

#: IMDF unit and section categories and the grounds they are (OGC 20-094 categories)
_GROUNDS = {"parking": GroundsKind.PARKING, "fieldofplay": GroundsKind.ATHLETIC_FIELD,
            "recreation": GroundsKind.PLAYGROUND}


@pytest.fixture(scope="module")
def grounds() -> IndoorImport:
    return read_imdf(HERE / "grounds.zip", CID, ImportLimits())


def test_the_grounds_archive_conforms_and_keeps_the_school(grounds: IndoorImport,
                                                          maple: IndoorImport) -> None:
    assert [f.message for f in grounds.findings if f.severity.value != "info"] == []
    assert [u.id for u in grounds.units] == [u.id for u in maple.units]
    assert [o.id for o in grounds.openings] == [o.id for o in maple.openings]
    assert [lv.id for lv in grounds.levels] == [lv.id for lv in maple.levels]
    assert grounds.counts()["grounds"] == len(grounds.grounds) > 0


def test_parking_fields_and_playgrounds_on_the_outdoor_level_are_grounds(
        grounds: IndoorImport) -> None:
    b = with_grounds()
    outdoor = fid("outdoor")
    expected = {stable_id(CID, f["id"]): (_label(f, "name"), _GROUNDS[f["properties"]["category"]],
                                           shape(f["geometry"]))
                for kind in ("unit", "section") for f in b.files[kind]
                if f["properties"]["level_id"] == outdoor
                and f["properties"]["category"] in _GROUNDS}
    assert {g.id: (g.name, g.kind) for g in grounds.grounds} == {
        k: v[:2] for k, v in expected.items()}
    for g in grounds.grounds:
        assert g.geometry.equals(expected[g.id][2])


def test_what_the_outdoor_level_holds_besides_grounds_is_counted(grounds: IndoorImport) -> None:
    b = with_grounds()
    outdoor = fid("outdoor")
    others = [f for f in b.files["unit"] if f["properties"]["level_id"] == outdoor
              and f["properties"]["category"] not in _GROUNDS]
    gates = [f for f in b.files["opening"] if f["properties"]["level_id"] == outdoor]
    said = next(f.message for f in grounds.findings if "outdoor level(s)" in f.message)
    assert f"{len(gates)} opening" in said
    for f in others:
        assert f"unit {f['properties']['category']!r}" in said
    assert {u.name for u in grounds.units}.isdisjoint(_label(f, "name") for f in others)


def test_an_aed_in_a_field_is_a_point_in_no_building(grounds: IndoorImport) -> None:
    aed = next(a for a in grounds.amenities if a.id == stable_id(CID, fid("field aed")))
    assert aed.kind is AmenityKind.AED and aed.name == "AED Field House"
    assert aed.building_id is None and aed.level_id is None
    assert not any("names no unit" in f.message for f in grounds.findings)


def test_sections_are_named_with_the_rooms_in_them(grounds: IndoorImport) -> None:
    b = with_grounds()
    units = b.files["unit"]
    for f in b.files["section"]:
        level = f["properties"]["level_id"]
        if level == fid("outdoor"):
            continue
        area = shape(f["geometry"])
        inside = [u for u in units if u["properties"]["level_id"] == level
                  and area.contains(shape(u["geometry"]))]
        said = [x.message for x in grounds.findings if x.ref == f["id"]]
        level_name = _label(b.feature("level", level), "name")
        assert len(said) == 1, said
        assert _label(f, "name") in said[0] and repr(level_name) in said[0]
        assert f"{len(inside)} of the imported rooms lie in it" in said[0]
        assert "no named areas inside a level" in said[0]


def test_kiosks_and_fixtures_are_findings(grounds: IndoorImport) -> None:
    b = with_grounds()
    for f in b.files["kiosk"]:
        said = next(x.message for x in grounds.findings if x.ref == f["id"])
        assert _label(f, "name") in said and "no point kind for a kiosk" in said
    categories = [f["properties"]["category"] for f in b.files["fixture"]]
    said = next(x.message for x in grounds.findings if "fixture(s) not imported" in x.message)
    assert said.startswith(f"{len(categories)} fixture(s)")
    for category in set(categories):
        assert f"{category} {categories.count(category)}" in said


def test_grounds_make_a_valid_campus(grounds: IndoorImport) -> None:
    from api.publish import check_servable

    campus = _campus(grounds)
    check_servable(campus)
    assert len(campus.grounds) == len(grounds.grounds)


@pytest.mark.parametrize(("break_it", "said"), [
    (lambda b: b.files["section"][0]["properties"].update(level_id="nowhere"),
     "level_id 'nowhere' names no level (IMDF rule: section.level_id references a level)"),
    (lambda b: b.files["section"][0]["properties"].update(category=7),
     "category is 7 (IMDF rule: section.category is a SECTION-CATEGORY)"),
    (lambda b: b.files["kiosk"][0].update(geometry=point(41, 10)),
     "has a Point geometry (IMDF rule: a kiosk has Polygon or MultiPolygon geometry)"),
    (lambda b: b.files["kiosk"][0]["properties"].update(level_id="nowhere"),
     "IMDF rule: kiosk.level_id references a level"),
    (lambda b: b.files["fixture"][0]["properties"].pop("category"),
     "has no 'category' property (IMDF rule: fixture.category is required)"),
    (lambda b: b.files["fixture"][1]["properties"].update(level_id="nowhere"),
     "IMDF rule: fixture.level_id references a level"),
    (lambda b: b.files["unit"][-1].update(geometry=None),
     "has no geometry (IMDF rule: a unit has Polygon or MultiPolygon geometry)"),
])
def test_broken_sections_kiosks_fixtures_and_outdoor_units_name_the_rule(
        tmp_path: Path, break_it: Callable[[ImdfBuilder], object], said: str) -> None:
    b = with_grounds()
    break_it(b)
    result = _read(b, tmp_path)
    assert any(said in f.message for f in result.findings), [f.message for f in result.findings]
    _campus(result)


def test_zip_read_from_bytes_only(tmp_path: Path) -> None:
    """The archive is read in memory: nothing is written next to it."""
    path = tmp_path / "school.zip"
    path.write_bytes((HERE / "school.zip").read_bytes())
    read_imdf(path, CID, ImportLimits())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["school.zip"]
    assert zipfile.is_zipfile(io.BytesIO(path.read_bytes()))


def _campus(result: IndoorImport) -> Campus:
    """The campus an import makes (the model's own checks run: ids, levels, buildings)."""
    everything = [*(b.footprint for b in result.buildings),
                  *(a.geometry for a in result.amenities), *(g.geometry for g in result.grounds)]
    frame = local_frame_around(everything)
    extent = frame.to_local(unary_union(everything))
    return Campus(
        id=CID, name=result.name or CID, address=result.address or "",
        grid=grid.grid_for_extent(grid.Bounds(*extent.bounds), 25.0, LengthUnit.METRE, 1),
        crs=frame.crs, buildings=result.buildings, levels=result.levels, units=result.units,
        openings=result.openings, amenities=result.amenities, grounds=result.grounds)


def test_ordinal_written_as_text_is_read(tmp_path: Path) -> None:
    b = school()
    b.files["level"][1]["properties"]["ordinal"] = "1"
    result = _read(b, tmp_path)
    assert sorted(lv.ordinal for lv in result.levels) == [0, 0, 1]
    assert any("ordinal is the text '1'" in f.message for f in result.findings)


def test_the_non_conforming_archive_builds_a_valid_campus(broken: IndoorImport) -> None:
    campus = _campus(broken)
    assert len(campus.units) == len(broken.units)


def test_careless_archives_build_a_campus_or_fail_clearly(tmp_path: Path) -> None:
    """Drop every k-th feature of every file (a half-finished export): the import ends in a
    result that builds a campus, or in a clear IndoorFileError, never anything else."""
    outcomes: list[str] = []
    for k in (2, 3, 4, 5):
        b = school()
        for feature_type, features in b.files.items():
            b.files[feature_type] = [f for n, f in enumerate(features) if n % k != 1]
        try:
            result = _read(b, tmp_path)
        except IndoorFileError as e:
            outcomes.append(str(e))
            continue
        outcomes.append(f"venue.zip: {len(_campus(result).units)} units")
    assert all(o.startswith("venue.zip: ") for o in outcomes)
    assert any(o.endswith(" units") for o in outcomes)


def test_door_near_the_facade_in_an_inner_wall_is_interior(tmp_path: Path) -> None:
    b = school()
    inner = b.add("opening", "door 101-102", line(20, 0.2, 20, 1.0), category="pedestrian",
                  name=None, level_id=fid("level A0"))
    result = _read(b, tmp_path)
    door = next(o for o in result.openings if o.id == stable_id(CID, inner))
    assert not door.exterior


def test_names_in_the_archive_language(tmp_path: Path) -> None:
    b = school()
    assert b.manifest is not None
    b.manifest["language"] = "fr-CA"
    gym = next(f for f in b.files["unit"] if f["properties"]["name"] == {"en": "Gym"})
    gym["properties"]["name"] = {"en": "Gym", "fr": "Gymnase"}
    result = _read(b, tmp_path)
    assert "Gymnase" in {u.name for u in result.units}
    assert "Kindergarten" in {u.name for u in result.units}  # only English: English


def test_time_limit_ends_the_import_with_a_clear_error() -> None:
    with pytest.raises(ImportFailed, match="time limit"):
        read_imdf(HERE / "school.zip", CID, ImportLimits(time_limit_s=0.0))


def test_listing_of_too_many_members_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = _zip(tmp_path / "many.zip", {"unit.geojson": b"{}"})
    body = bytearray(path.read_bytes())
    end = body.rfind(b"PK\x05\x06")
    body[end + 8:end + 12] = (60_000).to_bytes(2, "little") * 2  # entries declared
    path.write_bytes(bytes(body))
    with pytest.raises(IndoorFileError, match="declares 60,000 members"):
        read_imdf(path, CID, ImportLimits())


@pytest.mark.parametrize("evil", ["/etc/unit.geojson", "C:/unit.geojson",
                                  "..\\\\unit.geojson", "a/../../unit.geojson"])
def test_members_whose_path_leaves_the_archive_are_not_read(tmp_path: Path, evil: str) -> None:
    good = tmp_path / "good.zip"
    school().zip_bytes(good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[evil] = members.pop("unit.geojson")
    result = read_imdf(_zip(tmp_path / "evil.zip", members), CID, ImportLimits())
    assert result.units == ()
    assert any("its path leaves the archive" in f.message for f in result.findings)


def test_findings_about_a_feature_are_placed_where_it_is(broken: IndoorImport) -> None:
    b = nonconforming()
    no_level = b.files["unit"][0]
    finding = next(f for f in broken.findings if "level_id 'x'" in f.message)
    assert finding.placed_on_earth and finding.at is not None
    assert Point(finding.at).within(shape(no_level["geometry"]).buffer(1e-9))


def test_building_holding_only_doors_still_makes_a_valid_campus(tmp_path: Path) -> None:
    b = school()
    gym = fid("building B")
    b.files["footprint"] = [f for f in b.files["footprint"] if gym not in
                            f["properties"]["building_ids"]]
    b0 = next(f for f in b.files["level"] if f["id"] == fid("level B0"))
    b0["geometry"] = None
    b.files["unit"] = [f for f in b.files["unit"] if f["properties"]["level_id"] != b0["id"]]
    result = _read(b, tmp_path)
    campus = _campus(result)
    assert "Gymnasium" in {x.name for x in campus.buildings}


_BAD_VALUES = [None, 0, -1.5, True, "", "x", [], [1, "a"], {}, {"en": 5}, {"type": "Point"}]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_wrong_value_is_a_finding_or_a_clear_error(tmp_path: Path, data: st.DataObject
                                                       ) -> None:
    b = with_grounds() if data.draw(st.booleans()) else school()
    for _ in range(data.draw(st.integers(1, 4))):
        feature_type = data.draw(st.sampled_from(sorted(b.files)))
        feature = data.draw(st.sampled_from(b.files[feature_type]))
        where = data.draw(st.sampled_from(["geometry", "id", "type", "feature_type",
                                           *sorted(feature["properties"])]))
        bad = data.draw(st.sampled_from(_BAD_VALUES))
        if where in feature["properties"]:
            feature["properties"][where] = bad
        else:
            feature[where] = bad
    try:
        result = _read(b, tmp_path)
    except IndoorFileError as e:
        message = str(e)
    else:
        message = f"venue.zip: {len(_campus(result).units)} units"
    assert message.startswith("venue.zip: ")


def test_cut_or_damaged_archives_end_in_a_result_or_a_clear_error(tmp_path: Path) -> None:
    whole = (HERE / "school.zip").read_bytes()
    path = tmp_path / "venue.zip"
    variants = [whole[:cut] for cut in range(0, len(whole), len(whole) // 25)]
    for at in range(30, len(whole), len(whole) // 25):  # one byte changed
        variants.append(whole[:at] + bytes([whole[at] ^ 0x5A]) + whole[at + 1:])
    outcomes = []
    for body in variants:
        path.write_bytes(body)
        try:
            result = read_imdf(path, CID, ImportLimits())
        except IndoorFileError as e:
            outcomes.append(str(e))
        else:
            outcomes.append(f"venue.zip: {len(_campus(result).units)} units")
    assert all(o.startswith("venue.zip: ") for o in outcomes)
    assert any(o.endswith(" units") for o in outcomes)


def test_room_named_by_its_occupant(tmp_path: Path) -> None:
    b = school()
    lab = next(f for f in b.files["unit"] if f["id"] == fid("unit 202"))
    lab["properties"]["alt_name"] = None  # the unit is only "202"
    anchor = next(f for f in b.files["anchor"] if f["properties"]["unit_id"] == lab["id"])
    b.add("occupant", "science", None, name={"en": "Science Lab"}, category="education",
          anchor_id=anchor["id"], hours=None, phone=None, website=None, validity=None,
          correlation_id=None)
    b.add("occupant", "lost", None, name={"en": "Nobody"}, category="education",
          anchor_id=fid("no anchor"))
    result = _read(b, tmp_path)
    room = next(u for u in result.units if u.number == "202")
    assert room.name == "Science Lab"
    assert any("occupant.anchor_id references an anchor" in f.message for f in result.findings)


def test_door_between_two_attached_buildings_is_inside(tmp_path: Path) -> None:
    b = school()
    annex = b.add("building", "annex", None, name={"en": "Annex"}, alt_name={"en": "C"},
                  category="unspecified")
    b.add("footprint", "annex footprint", polygon(-20, 0, 0, 8), category="ground",
          building_ids=[annex])
    level = b.add("level", "annex level", polygon(-20, 0, 0, 8), category="unspecified",
                  outdoor=False, ordinal=0, name={"en": "Ground"}, building_ids=[annex])
    b.add("unit", "annex room", polygon(-20, 0, 0, 8), category="classroom",
          name={"en": "C1"}, level_id=level)
    link = b.add("opening", "link", line(0, 3.5, 0, 4.5), category="pedestrian",
                 level_id=fid("level A0"))
    result = _read(b, tmp_path)
    door = next(o for o in result.openings if o.id == stable_id(CID, link))
    assert not door.exterior
    west = next(o for o in result.openings if o.number == "2")
    assert west.exterior  # A's west entrance is north of the annex


def test_a_campus_from_the_archive_has_its_grounds(tmp_path: Path, grounds: IndoorImport) -> None:
    """Through the manifest (as a workspace import runs): the archive's lots and fields are
    the campus's grounds."""
    import shutil

    from api.publish import check_servable
    from importers.campus import import_campus

    shutil.copy(HERE / "grounds.zip", tmp_path / "grounds.zip")
    manifest = tmp_path / "campus.toml"
    manifest.write_text('[campus]\nid = "maple-grove"\nname = "Maple Grove"\n\n[grid]\n'
                        'cell_size = 50\n\n[files]\nimdf = "grounds.zip"\n')
    campus = import_campus(manifest).campus
    assert campus is not None
    assert {(g.id, g.kind, g.name) for g in campus.grounds} == {
        (g.id, g.kind, g.name) for g in grounds.grounds}
    assert check_servable(campus)
