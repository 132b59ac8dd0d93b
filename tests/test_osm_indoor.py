"""OpenStreetMap indoor (Simple Indoor Tagging) import: the school fixture, its variants and
hostile files. Expectations come from the fixture builder's own tags, not from the importer."""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point
from shapely.ops import unary_union

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import ImportFailed, IndoorFileError
from gridmap.index import CampusIndex
from gridmap.lookup import lookup
from gridmap.model import AmenityKind, Campus, LengthUnit, stable_id
from importers import osm_indoor
from importers.findings import FindingKind
from importers.indoor import MAX_ORDINAL, IndoorImport, local_frame_around
from importers.limits import ImportLimits
from importers.osm_indoor import parse_levels, read_osm_indoor
from tests.fixtures.osm.make_osm import HERE, OsmBuilder, school, write_all

CID = "maple-grove"


def _read(builder: OsmBuilder, tmp_path: Path, limits: ImportLimits | None = None,
          **xml: str) -> IndoorImport:
    path = tmp_path / "school.osm"
    path.write_text(builder.xml(**xml), encoding="utf-8")
    return read_osm_indoor(path, CID, limits or ImportLimits())


@pytest.fixture(scope="module")
def maple() -> IndoorImport:
    return read_osm_indoor(HERE / "school.osm", CID, ImportLimits())


def _spaces(b: OsmBuilder) -> list[Mapping[str, str]]:
    """The builder's indoor rooms, corridors and areas (ways and relations)."""
    tags = [t for _, t in b.ways.values()] + [t for _, t in b.relations.values()]
    return [t for t in tags if t.get("indoor") in ("room", "corridor", "area")]


def _ordinal(result: IndoorImport, level_id: str) -> int:
    return next(lv.ordinal for lv in result.levels if lv.id == level_id)


def _building(result: IndoorImport, building_id: str | None) -> str:
    return next(b.short_name for b in result.buildings if b.id == building_id)


def test_committed_fixtures_are_what_the_generator_makes(tmp_path: Path) -> None:
    for made in write_all(tmp_path):
        assert made.read_bytes() == (HERE / made.name).read_bytes(), made.name


# --- levels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "ordinals"), [
    ("0", (0,)), ("0;1", (0, 1)), ("-1-2", (-1, 0, 1, 2)), ("-2--1", (-2, -1)),
    ("1;3-4", (1, 3, 4)), (" 2 ; 0 ", (0, 2)), ("3-1", (1, 2, 3)),
])
def test_level_values(value: str, ordinals: tuple[int, ...]) -> None:
    spec = parse_levels(value)
    assert spec.ordinals == ordinals
    assert spec.problem == ""


@pytest.mark.parametrize(("value", "ordinals", "said"), [
    ("0.5", (0,), "0.5"), ("-0.5", (-1,), "-0.5"), ("1;1.5", (1,), "1.5"),
    ("ground", (), "ground"), ("0-100000", (), "too wide"), ("999", (), "999"),
])
def test_odd_level_values_are_read_or_named(value: str, ordinals: tuple[int, ...],
                                            said: str) -> None:
    spec = parse_levels(value)
    assert spec.ordinals == ordinals
    assert said in spec.problem


# --- the school -----------------------------------------------------------------------------


def test_every_room_is_read_on_its_levels(maple: IndoorImport) -> None:
    b = school()
    expected: dict[str, set[int]] = {}
    for tags in _spaces(b):
        levels = set(parse_levels(tags["level"]).ordinals)
        levels |= set(parse_levels(tags.get("repeat_on", "")).ordinals)
        expected[tags.get("ref") or tags["name"]] = levels
    got: dict[str, set[int]] = {}
    for u in maple.units:
        got.setdefault(u.number or u.name, set()).add(_ordinal(maple, u.level_id))
    assert got == expected


def test_rooms_belong_to_the_building_they_lie_in(maple: IndoorImport) -> None:
    footprints = {b.id: b.footprint for b in maple.buildings}
    for u in maple.units:
        assert footprints[u.building_id].covers(u.geometry.representative_point()), u.name
    by_name = {u.name: _building(maple, u.building_id) for u in maple.units}
    assert by_name["Kindergarten"] == "A"
    assert by_name["Gym"] == "B"
    assert {b.name for b in maple.buildings} == {"Main Building", "Gymnasium"}


def test_categories_from_tags(maple: IndoorImport) -> None:
    category = {u.name: u.category for u in maple.units}
    assert category["Stair 1"] == "stairs"
    assert category["Elevator"] == "elevator"
    assert category["Main Hall"] == "walkway"
    assert category["Girls Restroom"] == "restroom.female"
    assert category["Kindergarten"] == "classroom"


def test_repeat_on_and_ranges_give_one_unit_per_level(maple: IndoorImport) -> None:
    for name in ("Stair 1", "Elevator"):
        units = [u for u in maple.units if u.name == name]
        assert sorted(_ordinal(maple, u.level_id) for u in units) == [0, 1]
        assert len({u.id for u in units}) == 2
        assert units[0].geometry.equals(units[1].geometry)


def test_level_names_from_indoor_level_areas(maple: IndoorImport) -> None:
    a = next(b for b in maple.buildings if b.short_name == "A")
    names = {lv.ordinal: (lv.name, lv.short_name) for lv in maple.levels
             if lv.building_id == a.id}
    b_tags = {t["level"]: t for _, t in school().ways.values() if t.get("indoor") == "level"}
    assert names == {int(k): (t["name"], t["level:ref"]) for k, t in b_tags.items()}


def test_half_level_is_kept_on_the_storey_below_with_a_finding(maple: IndoorImport) -> None:
    mezzanine = next(u for u in maple.units if u.name == "Mezzanine")
    assert _ordinal(maple, mezzanine.level_id) == 0
    assert any("0.5" in f.message and "Mezzanine" in f.message for f in maple.findings)


def test_multipolygon_room_keeps_its_hole(maple: IndoorImport) -> None:
    lockers = next(u for u in maple.units if u.name == "Locker Room")
    assert len(lockers.geometry.interiors) == 1
    frame = local_frame_around([lockers.geometry])
    assert frame.to_local(lockers.geometry).area == pytest.approx(15 * 7 - 3 * 3, rel=0.01)


def test_doors_entrances_and_numbers(maple: IndoorImport) -> None:
    b = school()
    entrances = {t["ref"]: t for _, _, t in b.nodes.values() if "entrance" in t}
    exterior = [o for o in maple.openings if o.exterior]
    assert sorted(o.number or "" for o in exterior) == sorted(entrances)
    main = [o for o in exterior if o.main_entrance]
    assert [o.number for o in main] == [r for r, t in entrances.items()
                                        if t["entrance"] == "main"]
    interior = [o for o in maple.openings if not o.exterior]
    door_nodes = [t for _, _, t in b.nodes.values() if "door" in t and "entrance" not in t]
    assert len(interior) == len(door_nodes)
    assert all(o.number is None for o in interior)


def test_door_without_level_takes_the_level_of_its_rooms(maple: IndoorImport) -> None:
    library = next(u for u in maple.units if u.name == "Library")
    frame = local_frame_around([library.geometry])
    at_library = [o for o in maple.openings
                  if frame.to_local(library.geometry).exterior.distance(
                      frame.to_local(o.geometry)) < 0.01 and not o.exterior]
    assert [o.level_id for o in at_library] == [library.level_id]


def test_aed_with_its_building_level_and_note(maple: IndoorImport) -> None:
    [aed] = maple.amenities
    tags = next(t for _, _, t in school().nodes.values() if t.get("emergency"))
    assert aed.kind is AmenityKind.AED
    assert aed.name == tags["name"]
    assert aed.note == tags["defibrillator:location"]
    assert _building(maple, aed.building_id) == "A"
    assert aed.level_id is not None and _ordinal(maple, aed.level_id) == int(tags["level"])


def test_venue_name_and_address(maple: IndoorImport) -> None:
    venue = next(t for _, t in school().ways.values() if t.get("amenity") == "school")
    assert maple.name == venue["name"]
    assert maple.address is not None
    for key in ("addr:housenumber", "addr:street", "addr:city", "addr:postcode"):
        assert venue[key] in maple.address


def test_ids_are_stable_and_follow_the_natural_keys(maple: IndoorImport) -> None:
    again = read_osm_indoor(HERE / "school.osm", CID, ImportLimits())
    assert [u.id for u in again.units] == [u.id for u in maple.units]
    assert [o.id for o in again.openings] == [o.id for o in maple.openings]
    room = next(u for u in maple.units if u.number == "101")
    assert room.id == stable_id(CID, "A", 0, "101")
    assert room.building_id == stable_id(CID, "A")
    assert room.level_id == stable_id(CID, "A", 0)


def test_the_import_builds_a_campus_whose_lookups_work(maple: IndoorImport) -> None:
    from api.publish import check_servable

    frame = local_frame_around([b.footprint for b in maple.buildings])
    extent = grid.Bounds(*frame.to_local(
        maple.buildings[0].footprint.union(maple.buildings[1].footprint)).bounds)
    campus = Campus(
        id=CID, name=maple.name or CID, address=maple.address or "",
        grid=grid.grid_for_extent(extent, 25.0, LengthUnit.METRE, 1), crs=frame.crs,
        buildings=maple.buildings, levels=maple.levels, units=maple.units,
        openings=maple.openings, amenities=maple.amenities)
    check_servable(campus)
    index = CampusIndex(campus)
    result = lookup(index, "room 202")
    assert result.status.value == "found"
    best = result.candidates[0]
    assert (best.unit_name, best.building_name, best.level_ordinal) == (
        "Science Lab", "Main Building", 1)
    assert best.level_name == "2nd Floor"
    kinder = lookup(index, "101").candidates[0]
    assert kinder.nearest_aed is not None
    assert kinder.nearest_doors
    lon, lat = maple.units[0].geometry.representative_point().coords[0]
    located = index.locate(lon, lat)
    assert located is not None


# --- variants -------------------------------------------------------------------------------


def test_missing_nodes_and_unclosed_ways_are_findings_not_failures(tmp_path: Path) -> None:
    b = school()
    art = next(w for w, (_, t) in b.ways.items() if t.get("name") == "Art")
    del b.nodes[b.ways[art][0][1]]  # the extract cut a corner off
    nurse = next(w for w, (_, t) in b.ways.items() if t.get("name") == "Nurse")
    b.ways[nurse][0].pop()  # no longer closed
    result = _read(b, tmp_path)
    names = {u.name for u in result.units}
    assert "Art" not in names and "Nurse" not in names
    assert {"Science Lab", "Kindergarten"} <= names
    messages = " | ".join(f.message for f in result.findings)
    assert f"way {art}" in messages and "missing from the file" in messages
    assert f"way {nurse}" in messages and "not a closed outline" in messages


def test_rooms_outside_every_building_get_an_outlined_building(tmp_path: Path) -> None:
    b = school()
    b.rect(200, 0, 210, 8, indoor="room", level="0", ref="P1", name="Portable 1")
    b.rect(210, 0, 220, 8, indoor="room", level="0", ref="P2", name="Portable 2")
    result = _read(b, tmp_path)
    portables = [u for u in result.units if u.number in ("P1", "P2")]
    assert len({u.building_id for u in portables}) == 1
    derived = next(x for x in result.buildings if x.id == portables[0].building_id)
    assert derived.short_name not in ("A", "B")
    for u in portables:
        assert derived.footprint.buffer(1e-7).covers(u.geometry)
    assert any(f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT and "2 room(s)" in f.message
               for f in result.findings)


def test_no_building_outlines_at_all(tmp_path: Path) -> None:
    b = OsmBuilder()
    b.rect(0, 0, 10, 8, indoor="room", level="0", ref="1", name="One")
    b.rect(10, 0, 20, 8, indoor="room", level="0", ref="2", name="Two")
    result = _read(b, tmp_path)
    assert len(result.buildings) == 1
    assert {u.number for u in result.units} == {"1", "2"}


def test_room_sticking_out_of_its_building_is_reported(tmp_path: Path) -> None:
    b = school()
    b.rect(55, 15, 66, 19, indoor="room", level="1", ref="204", name="Bay Window")
    result = _read(b, tmp_path)
    bay = next(u for u in result.units if u.number == "204")
    assert _building(result, bay.building_id) == "A"
    assert any(f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT and "204" in f.message
               for f in result.findings)


def test_duplicate_room_numbers_are_kept_and_reported(tmp_path: Path) -> None:
    b = school()
    b.rect(30, 12, 40, 20, indoor="room", level="0", ref="105", name="Library Annex")
    result = _read(b, tmp_path)
    both = [u for u in result.units if u.number == "105"]
    assert len(both) == 2 and len({u.id for u in both}) == 2
    assert any(f.kind is FindingKind.DUPLICATE_NUMBER and "105" in f.message
               for f in result.findings)


def test_room_without_level_is_placed_on_the_ground_floor(tmp_path: Path) -> None:
    b = OsmBuilder()
    b.rect(0, 0, 20, 10, building="yes", name="Annex")
    b.rect(0, 0, 10, 10, indoor="room", ref="1")
    result = _read(b, tmp_path)
    [unit] = result.units
    assert _ordinal(result, unit.level_id) == 0
    assert any("no level tag" in f.message for f in result.findings)


def test_invalid_outline_is_repaired(tmp_path: Path) -> None:
    b = school()
    b.way([(2, 14), (8, 18), (8, 14), (2, 18)], indoor="room", level="1", ref="210",
          name="Bow Tie")
    result = _read(b, tmp_path)
    bow = next(u for u in result.units if u.number == "210")
    assert bow.geometry.is_valid
    assert any(f.kind is FindingKind.REPAIRED_GEOMETRY and "210" in f.message
               for f in result.findings)


def test_outline_over_the_point_limit_is_skipped(tmp_path: Path) -> None:
    b = school()
    import math

    circle = [(30 + 3 * math.cos(k / 100), 16 + 3 * math.sin(k / 100)) for k in range(628)]
    b.way(list(circle), indoor="room", level="1", ref="299", name="Round Room")
    result = _read(b, tmp_path, ImportLimits(max_outline_points=500))
    assert "299" not in {u.number for u in result.units}
    assert any("more than 500 nodes" in f.message for f in result.findings)


def test_findings_alike_are_capped(tmp_path: Path) -> None:
    b = school()
    for k in range(80):
        b.way([(k, 30), (k + 0.5, 30), (k + 0.5, 31)], closed=False, indoor="room", level="0")
    result = _read(b, tmp_path)
    unclosed = [f for f in result.findings if "not a closed outline" in f.message]
    assert len(unclosed) == 51
    assert unclosed[-1].message.startswith("30 more like this")


# --- files that cannot be used --------------------------------------------------------------


def test_not_xml(tmp_path: Path) -> None:
    with pytest.raises(IndoorFileError, match="not well-formed XML"):
        read_osm_indoor(HERE / "not_xml.osm", CID, ImportLimits())


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IndoorFileError, match="billion laughs"):
        read_osm_indoor(HERE / "billion_laughs.osm", CID, ImportLimits())


def test_external_entity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "xxe.osm"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE osm [<!ENTITY x SYSTEM '
                    '"file:///etc/passwd">]>\n<osm><node id="1" lat="0" lon="0">'
                    '<tag k="name" v="&x;"/></node></osm>\n')
    with pytest.raises(IndoorFileError, match="DTD or entities"):
        read_osm_indoor(path, CID, ImportLimits())


@pytest.mark.parametrize(("content", "said"), [
    (b"", "not well-formed|empty"),
    (b'<?xml version="1.0"?><gpx version="1.1"></gpx>', "not an OpenStreetMap file"),
    (b"\x00\x00\x00\x0e\n\tOSMHeader\x18", "PBF"),
    (b'<osm version="0.6"><way id="1"><nd ref="2"/></way></osm>', "no indoor rooms"),
])
def test_unusable_files(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(IndoorFileError, match=said):
        read_osm_indoor(path, CID, ImportLimits())


def test_too_many_elements(tmp_path: Path) -> None:
    with pytest.raises(IndoorFileError, match="more than 10 OpenStreetMap elements"):
        read_osm_indoor(HERE / "school.osm", CID, ImportLimits(entity_budget=10))


def test_the_budget_counts_what_is_kept_not_the_outdoor_data_round_it(
        tmp_path: Path, maple: IndoorImport) -> None:
    """A district extract is mostly street and tree nodes: they are not held, and do not
    count against the entity budget; the school in it reads as it does alone."""
    b = school()
    kept = len(b.ways) + len(b.relations) + sum(1 for *_, t in b.nodes.values() if t)
    for k in range(3 * kept):
        b.node(200 + k % 50, 200 + k // 50, **({"natural": "tree"} if k % 2 else {}))
    b.way([(300, 0), (300, 100), (400, 100)], closed=False, highway="residential")
    result = _read(b, tmp_path, ImportLimits(entity_budget=kept))
    assert [u.id for u in result.units] == [u.id for u in maple.units]
    assert [o.id for o in result.openings] == [o.id for o in maple.openings]


def test_too_large_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(osm_indoor, "MAX_OSM_BYTES", 1000)
    with pytest.raises(IndoorFileError, match="larger than"):
        read_osm_indoor(HERE / "school.osm", CID, ImportLimits())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IndoorFileError, match="cannot be read"):
        read_osm_indoor(tmp_path / "nowhere.osm", CID, ImportLimits())


def test_truncated_files_end_in_a_clear_error_or_a_result(tmp_path: Path) -> None:
    whole = (HERE / "school.osm").read_bytes()
    path = tmp_path / "cut.osm"
    outcomes: list[str] = []
    for cut in range(0, len(whole), max(1, len(whole) // 40)):
        path.write_bytes(whole[:cut])
        try:
            read_osm_indoor(path, CID, ImportLimits())
            outcomes.append("read")
        except ImportFailed as e:
            outcomes.append(str(e))
    assert all(o == "read" or o.startswith("cut.osm: ") for o in outcomes)
    assert any("not well-formed XML" in o for o in outcomes)


def test_no_coordinates_outside_the_earth(tmp_path: Path) -> None:
    b = school()
    nid = next(iter(b.nodes))
    lon, _, tags = b.nodes[nid]
    b.nodes[nid] = (lon, 95.0, tags)
    result = _read(b, tmp_path)
    assert any("no usable id or lat/lon" in f.message for f in result.findings)
    frame = LocalFrame(local_frame_around([u.geometry for u in result.units]).crs)
    assert all(frame.to_local(u.geometry).area < 1000 for u in result.units)
    assert all(isinstance(o.geometry, Point) for o in result.openings)


def _campus(result: IndoorImport) -> Campus:
    """The campus an import makes (the model's own checks run: ids, levels, buildings)."""
    everything = [*(b.footprint for b in result.buildings),
                  *(a.geometry for a in result.amenities)]
    frame = local_frame_around(everything)
    extent = grid.Bounds(*frame.to_local(unary_union(everything)).bounds)
    return Campus(
        id=CID, name=result.name or CID, address=result.address or "",
        grid=grid.grid_for_extent(extent, 25.0, LengthUnit.METRE, 1), crs=frame.crs,
        buildings=result.buildings, levels=result.levels, units=result.units,
        openings=result.openings, amenities=result.amenities)


def test_room_mapped_as_a_point_is_an_approximate_room(tmp_path: Path) -> None:
    b = school()
    b.node(45, 16, indoor="room", level="1", ref="206", name="Music")
    b.node(10, 4, indoor="room", level="0", ref="101", name="Kindergarten")  # has an outline
    result = _read(b, tmp_path)
    music = next(u for u in result.units if u.number == "206")
    assert music.approximate and _ordinal(result, music.level_id) == 1
    assert [u.approximate for u in result.units if u.number == "101"] == [False]
    assert any("mapped as a point" in f.message and "206" in f.message
               for f in result.findings)
    _campus(result)


def test_every_variant_builds_a_valid_campus(tmp_path: Path) -> None:
    """Drop every k-th element of the school (as a careless extract would): the import ends
    in a result that builds a campus, or in a clear ImportFailed, never anything else."""
    whole = school()
    outcomes = []
    for k in (2, 3, 5, 7, 11):
        b = school()
        for n, nid in enumerate(list(whole.nodes)):
            if n % k == 0:
                del b.nodes[nid]
        for n, wid in enumerate(list(whole.ways)):
            if n % k == 1:
                del b.ways[wid]
        try:
            result = _read(b, tmp_path)
        except ImportFailed as e:
            outcomes.append(str(e))
            continue
        campus = _campus(result)
        outcomes.append(f"{len(campus.units)} units")
    assert any(o.endswith(" units") for o in outcomes), outcomes


def test_room_number_written_as_its_name(tmp_path: Path) -> None:
    b = school()
    b.rect(30, 12, 40, 20, indoor="room", level="0", name="106")
    b.rect(40, 12, 50, 20, indoor="room", level="0", name="Room 107")
    result = _read(b, tmp_path)
    numbers = {u.number: u.name for u in result.units if u.number in ("106", "107")}
    assert numbers == {"106": "106", "107": "107"}


def test_lift_mapped_as_a_node_joins_its_levels(tmp_path: Path) -> None:
    b = school()
    b.node(55, 16, highway="elevator", level="0;1")
    b.node(56, 18, highway="elevator", level="0;1")
    result = _read(b, tmp_path)
    lifts = [u for u in result.units if u.approximate and u.category == "elevator"]
    assert sorted(_ordinal(result, u.level_id) for u in lifts) == [0, 0, 1, 1]
    assert len({u.id for u in lifts}) == 4
    _campus(result)


@pytest.mark.parametrize(("body", "said"), [
    (b'<osm version="0.6">' + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</osm>", "nested"),
    (b'<osm version="0.6"><way id="1">' + b'<nd ref="1"/>' * 300_000 + b"</way></osm>",
     "holds more than"),
])
def test_element_bombs_are_refused_before_they_fill_memory(tmp_path: Path, body: bytes,
                                                           said: str) -> None:
    path = tmp_path / "bomb.osm"
    path.write_bytes(body)
    with pytest.raises(IndoorFileError, match=said):
        read_osm_indoor(path, CID, ImportLimits())


def test_entrance_tag_deep_inside_is_a_room_door(tmp_path: Path) -> None:
    b = school()
    inner = b.node(45, 8, entrance="yes", level="0")  # on the nurse's wall, 8 m in
    result = _read(b, tmp_path)
    door = next(o for o in result.openings if o.id == stable_id(CID, "A", 0, "opening",
                                                                 f"node/{inner}"))
    assert not door.exterior and door.number is None


def test_building_drawn_as_a_multipolygon_with_a_courtyard(tmp_path: Path) -> None:
    b = OsmBuilder()
    outer = b.way([(0, 0), (30, 0), (30, 30), (0, 30)])
    court = b.way([(10, 10), (20, 10), (20, 20), (10, 20)])
    b.multipolygon([outer], [court], building="school", ref="C", name="Cloister")
    b.rect(0, 0, 10, 10, indoor="room", level="0", ref="C1")
    b.rect(12, 12, 18, 18, indoor="room", level="0", ref="X1", name="Courtyard shed")
    result = _read(b, tmp_path)
    cloister = next(x for x in result.buildings if x.short_name == "C")
    assert len(cloister.footprint.interiors) == 0  # the model's footprint is its outline
    c1 = next(u for u in result.units if u.number == "C1")
    assert c1.building_id == cloister.id
    shed = next(u for u in result.units if u.number == "X1")
    assert any(f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT and "X1" in f.message
               for f in result.findings)
    assert shed.building_id == cloister.id  # within a few metres: kept with it


def test_time_limit_ends_the_import_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="time limit"):
        read_osm_indoor(HERE / "school.osm", CID, ImportLimits(time_limit_s=0.0))


@given(st.text(alphabet="0123456789-;,. x", max_size=30))
def test_any_level_value_is_read_or_named_never_raised(value: str) -> None:
    spec = parse_levels(value)
    assert all(abs(o) <= MAX_ORDINAL for o in spec.ordinals)
    assert list(spec.ordinals) == sorted(set(spec.ordinals))
    if not spec.ordinals and value.strip(" ;,"):
        assert spec.problem


def test_neighbourhood_houses_are_left_out(tmp_path: Path) -> None:
    b = school()
    for k in range(300):
        x, y = 150 + (k % 20) * 15, -100 + (k // 20) * 15
        b.rect(x, y, x + 10, y + 10, building="house")
    b.rect(103, 0, 108, 5, building="shed", ref="S")  # 3 m from the gym: near, but empty
    result = _read(b, tmp_path)
    assert {x.short_name for x in result.buildings} == {"A", "B"}
    left_out = [f.message for f in result.findings if "left out" in f.message]
    # the houses, far from every indoor feature, are one finding; the shed is named
    assert len(left_out) == 2
    assert any(m.startswith("300 building outline(s) lie more than") for m in left_out)
    assert any("'S' holds no mapped rooms" in m for m in left_out)


_ODD_VALUES = ["", ";", "-", "1e9", "nan", "inf", "0;;1", "--1", "1-", "x", "-0", "0.", "∞",
               "yes", "no", "main", "2.5-3.5", "  7  "]
_KEYS = ["level", "repeat_on", "ref", "name", "indoor", "building", "entrance", "door",
         "building:levels", "level:ref", "emergency", "highway", "stairs", "type", "room"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_odd_tag_value_is_a_finding_or_a_clear_error(tmp_path: Path,
                                                        data: st.DataObject) -> None:
    b = school()
    elements = [t for _, _, t in b.nodes.values()] + [t for _, t in b.ways.values()] + [
        t for _, t in b.relations.values()]
    for _ in range(data.draw(st.integers(1, 6))):
        tags = data.draw(st.sampled_from(elements))
        tags[data.draw(st.sampled_from(_KEYS))] = data.draw(st.sampled_from(_ODD_VALUES))
    try:
        result = _read(b, tmp_path)
    except ImportFailed as e:
        message = str(e)
    else:
        message = f"school.osm: {len(_campus(result).units)} units"
    assert message.startswith("school.osm: ")


def _overpass_geom(b: OsmBuilder) -> str:
    """The school as Overpass "out geom" writes it: positions on each way's nd and inside each
    relation member, no separate nodes for the outlines."""
    used = {r for refs, _ in b.ways.values() for r in refs}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="Overpass">',
             '  <bounds minlat="42.70" minlon="-84.44" maxlat="42.71" maxlon="-84.42"/>']
    for nid, (lon, lat, tags) in b.nodes.items():
        if tags or nid not in used:
            inner = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
            lines.append(f'  <node id="{nid}" lat="{lat}" lon="{lon}">{inner}</node>')
    members = {w for ms, _ in b.relations.values() for _, w, _ in ms}
    for wid, (refs, tags) in b.ways.items():
        if wid in members:
            continue
        nds = "".join(f'<nd ref="{r}" lat="{b.nodes[r][1]}" lon="{b.nodes[r][0]}"/>'
                      for r in refs)
        inner = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'  <way id="{wid}">{nds}{inner}</way>')
    for rid, (ms, tags) in b.relations.items():
        parts = []
        for t, w, role in ms:
            nds = "".join(f'<nd lat="{b.nodes[r][1]}" lon="{b.nodes[r][0]}"/>'
                          for r in b.ways[w][0])
            parts.append(f'<member type="{t}" ref="{w}" role="{role}">{nds}</member>')
        inner = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f'  <relation id="{rid}">{"".join(parts)}{inner}</relation>')
    return "\n".join([*lines, "</osm>"]) + "\n"


def test_overpass_out_geom_export_reads_like_the_full_file(tmp_path: Path,
                                                           maple: IndoorImport) -> None:
    path = tmp_path / "overpass.osm"
    path.write_text(_overpass_geom(school()), encoding="utf-8")
    result = read_osm_indoor(path, CID, ImportLimits())
    assert {u.id for u in result.units} == {u.id for u in maple.units}
    lockers = next(u for u in result.units if u.name == "Locker Room")
    assert len(lockers.geometry.interiors) == 1
    assert [o.id for o in result.openings] == [o.id for o in maple.openings]
    assert [f.message for f in result.findings] == [f.message for f in maple.findings]


@pytest.mark.parametrize("pack", [gzip.compress, bz2.compress])
def test_josm_compressed_files_are_read(tmp_path: Path, maple: IndoorImport,
                                        pack: Callable[[bytes], bytes]) -> None:
    path = tmp_path / "school.osm.gz"
    path.write_bytes(pack((HERE / "school.osm").read_bytes()))
    result = read_osm_indoor(path, CID, ImportLimits())
    assert [u.id for u in result.units] == [u.id for u in maple.units]


def test_compressed_bomb_and_damage_are_refused(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    whole = gzip.compress((HERE / "school.osm").read_bytes())
    path = tmp_path / "cut.osm.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IndoorFileError, match="compressed data is damaged"):
        read_osm_indoor(path, CID, ImportLimits())
    monkeypatch.setattr(osm_indoor, "MAX_OSM_BYTES", 5000)
    path.write_bytes(whole)
    with pytest.raises(IndoorFileError, match="unpacks to more than"):
        read_osm_indoor(path, CID, ImportLimits())


def test_door_between_two_attached_buildings_is_inside(tmp_path: Path) -> None:
    b = school()
    link = b.node(0, 4, door="hinged", level="0")
    west_a = next(w for w, (_, t) in b.ways.items() if t.get("ref") == "A")
    refs = b.ways[west_a][0]
    refs.insert(len(refs) - 1, link)  # on A's west wall, from (0, 10) down to (0, 0)
    b.rect(-20, 0, 0, 8, building="school", ref="C", name="Annex", doors=(link,))
    b.rect(-20, 0, 0, 8, indoor="room", level="0", ref="C1", doors=(link,))
    result = _read(b, tmp_path)
    ids = {stable_id(CID, key, 0, "opening", f"node/{link}") for key in ("A", "C")}
    [door] = [o for o in result.openings if o.id in ids]
    assert not door.exterior
    entrance_2 = next(o for o in result.openings if o.number == "2")
    assert entrance_2.exterior  # A's west entrance is north of the annex
    _campus(result)


def test_portable_classroom_is_a_building_and_its_room(tmp_path: Path) -> None:
    b = school()
    b.rect(0, 30, 12, 38, building="school", indoor="room", level="0", ref="P1",
           name="Portable 1")
    result = _read(b, tmp_path)
    [room] = [u for u in result.units if u.number == "P1"]
    portable = next(x for x in result.buildings if x.id == room.building_id)
    assert portable.short_name == "P1"
    assert not any(f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT for f in result.findings)
    _campus(result)


# --- a district's extract (the bench's generator) ----------------------------------------------


def test_a_district_extract_reads_the_campus_in_it(tmp_path: Path) -> None:
    """Streets, houses, trees and landuse round a campus: exactly the campus's rooms, doors and
    AEDs are read, the houses are one finding, and a multipolygon room keeps its hole."""
    from bench.big_osm import write_district

    made = write_district(tmp_path / "district.osm", scale=1, buildings=2, rooms_per_side=4)
    result = read_osm_indoor(made.path, CID, ImportLimits())
    assert len(result.units) == made.units
    assert len(result.openings) == made.openings
    assert sum(o.exterior for o in result.openings) == made.school_buildings
    assert len(result.amenities) == made.aeds
    assert len(result.buildings) == made.school_buildings
    assert sum(len(u.geometry.interiors) for u in result.units) == 2 * 3  # one a storey
    assert any(f.message.endswith("(the buildings round the campus); left out")
               for f in result.findings)
    _campus(result)


def test_the_bench_prints_its_ratios(tmp_path: Path) -> None:
    pytest.importorskip("pyogrio")
    from bench.bench_osm import bench, report
    from bench.big_osm import write_district

    made = write_district(tmp_path / "district.osm", scale=0, buildings=1, rooms_per_side=3)
    out = bench(made, rounds=1)
    assert out["import"]["units"] == made.units  # bench() checks it too
    assert out["gdal"]["features"]["lines"] > 0 and out["etree"]["elements"] > made.nodes
    text = report(out)
    for part in ("gridmap / GDAL = ", "gridmap / xml.etree = ", "MB/s", "peak memory"):
        assert part in text


def test_nodes_out_of_id_order_read_alike(tmp_path: Path, maple: IndoorImport) -> None:
    """Untagged nodes are looked up by id at the end; a file not sorted by id (an editor's
    save) reads as the sorted one does."""
    b = school()
    b.nodes = dict(reversed(b.nodes.items()))
    result = _read(b, tmp_path)
    assert [u.id for u in result.units] == [u.id for u in maple.units]
    assert [u.geometry.wkb for u in result.units] == [u.geometry.wkb for u in maple.units]
    assert [o.id for o in result.openings] == [o.id for o in maple.openings]


def test_ids_past_64_bits_are_unusable_not_a_traceback(tmp_path: Path,
                                                       maple: IndoorImport) -> None:
    """(fuzz) A node id or way node reference past 64 bits is no OSM id: the node is one
    with no usable id, the way names a missing node."""
    b = school()
    b.node(200, 200)
    text = b.xml().replace(f'id="{b.next_id}"', 'id="-9223372036854775809"')
    far = next(w for w, (_, t) in b.ways.items() if t.get("ref") == "103")
    refs = b.ways[far][0]
    text = text.replace(f'<nd ref="{refs[1]}"/>', '<nd ref="99999999999999999999"/>', 1)
    path = tmp_path / "big_ids.osm"
    path.write_text(text, encoding="utf-8")
    result = read_osm_indoor(path, CID, ImportLimits())
    said = [f.message for f in result.findings]
    assert any("1 node(s) have no usable id" in m for m in said)
    assert any(f"way {far}" in m and "missing from the file" in m for m in said)
    assert len(result.units) == len(maple.units) - 1


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE osm SYSTEM "http://example.invalid/osm.dtd">',
    '<!DOCTYPE osm [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]>',
    "<!DOCTYPE osm>",
])
def test_any_dtd_is_refused_before_a_node_is_read(tmp_path: Path, doctype: str) -> None:
    """The expat callbacks read the file, but defusedxml's parser still refuses any DTD
    (external, parameter entities, or an empty one): nothing is fetched or expanded."""
    path = tmp_path / "dtd.osm"
    path.write_text(school().xml(preamble=doctype), encoding="utf-8")
    with pytest.raises(IndoorFileError, match="DTD or entities"):
        read_osm_indoor(path, CID, ImportLimits())
