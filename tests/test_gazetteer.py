"""The campus gazetteer: rows from the core, a CSV that spreadsheets and GDAL read, the API
route and the CLI export."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, box

from api import cli
from api.auth import create_token
from api.store import Role, SqlCampusStore
from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.doors import number_exterior_doors
from gridmap.gazetteer import (
    COLUMNS,
    FeatureType,
    gazetteer,
    neutralise,
    place_type,
    to_csv,
    to_geojson,
)
from gridmap.index import CampusIndex
from gridmap.lookup import lookup
from gridmap.model import Campus, GroundsFeature, GroundsKind, Unit, stable_id
from gridmap.usng import to_usng
from tests.campus_factory import small_campus

CAMPUS = "test-campus"

# The IANA Location Types Registry (RFC 4589), NENA-STA-006.3's Place_Type domain, and the
# NENA Site/Structure Address Point Placement Method Registry, as the standard lists them.
IANA_LOCATION_TYPES = {
    "aircraft", "airport", "arena", "automobile", "bank", "bar", "bicycle", "bus", "bus-station",
    "cafe", "campground", "care-facility", "classroom", "club", "construction",
    "convention-center", "detached-unit", "fire-station", "government", "hospital", "hotel",
    "industrial", "landmark-address", "library", "motorcycle", "municipal-garage", "museum",
    "office", "other", "outdoors", "parking", "phone-box", "place-of-worship", "post-office",
    "prison", "public", "public-transport", "residence", "restaurant", "school",
    "shopping-area", "stadium", "store", "street", "theater", "toll-booth", "town-hall",
    "train", "train-station", "truck", "underway", "unknown", "utilitybox", "warehouse",
    "waste-transfer-facility", "water", "water-facility", "watercraft", "youth-camp",
}
NENA_PLACEMENT_METHODS = {"ExteriorAccess", "Geocoding", "InteriorAccess", "InteriorCentroid",
                          "Parcel", "PropertyAccess", "Site", "Structure", "Unknown"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def numbered() -> Campus:
    return number_exterior_doors(small_campus())


def _with_units(campus: Campus, *extra: tuple[str, str]) -> Campus:
    """The campus plus rooms on building A's ground floor with the given (number, name)."""
    frame = LocalFrame(campus.crs)
    level = next(lv for lv in campus.levels if lv.building_id == "A" and lv.ordinal == 0)
    units = [
        Unit(stable_id(CAMPUS, "extra", i), "A", level.id, number, name,
             frame.to_wgs84(box(-29.0 + 4 * i, -4.0, -26.0 + 4 * i, -1.0)))
        for i, (number, name) in enumerate(extra)
    ]
    return dataclasses.replace(campus, units=(*campus.units, *units))


# --- rows from the core ---------------------------------------------------------------------


def test_one_row_per_place(numbered: Campus) -> None:
    rows = gazetteer(CampusIndex(numbered))
    counts = {t: sum(r.feature_type == t.value for r in rows) for t in FeatureType}
    assert counts == {
        FeatureType.BUILDING: len(numbered.buildings),
        FeatureType.ROOM: len(numbered.units),
        FeatureType.EXTERIOR_DOOR: len(numbered.exterior_doors()),
        FeatureType.AMENITY: len(numbered.amenities),
        FeatureType.GROUNDS: len(numbered.grounds),
    }
    assert len({r.id for r in rows}) == len(rows)
    assert gazetteer(CampusIndex(numbered)) == rows  # deterministic order


def test_room_rows_agree_with_the_lookup(numbered: Campus) -> None:
    index = CampusIndex(numbered)
    rows = {r.id: r for r in gazetteer(index)}
    for number in ("214", "101", "B-10"):
        answer = lookup(index, f"room {number}").candidates[0]
        row = rows[str(answer.feature_id)]
        assert (row.number, row.cell, row.subcell, row.usng) == (
            number, answer.primary_cell, answer.subcell, answer.usng)
        assert row.lon == pytest.approx(answer.lon, abs=1e-7)
        assert row.lat == pytest.approx(answer.lat, abs=1e-7)
        assert row.level_ordinal == answer.level_ordinal
        assert row.level_name == answer.level_name


def test_every_point_lies_in_its_feature_and_its_cell(numbered: Campus) -> None:
    index = CampusIndex(numbered)
    units = {u.id: u for u in numbered.units}
    footprints = {b.id: b.footprint for b in numbered.buildings}
    for row in gazetteer(index):
        p = Point(row.lon, row.lat)
        # the published point lies in the published cell and keypad sub-cell (to 1 cm: a
        # point on a grid line belongs to one cell, and lon/lat round-trips move it a hair)
        x, y = index.frame.xy(row.lon, row.lat)
        sub = grid.parse_label(row.subcell, numbered.grid)
        assert isinstance(sub, grid.SubCell) and sub.cell.label == row.cell
        minx, miny, maxx, maxy = grid.subcell_bounds(numbered.grid, sub)
        assert minx - 0.01 <= x <= maxx + 0.01 and miny - 0.01 <= y <= maxy + 0.01, row
        assert row.usng == to_usng(row.lon, row.lat)
        if row.feature_type == "room":
            assert units[row.id].geometry.contains(p), row
        if row.feature_type == "building":
            assert footprints[row.id].contains(p), row


def test_nena_sub_address_fields(numbered: Campus) -> None:
    rows = gazetteer(CampusIndex(numbered))
    room = next(r for r in rows if r.number == "214")
    assert (room.Site, room.Structure, room.Floor, room.FloorIndex, room.Room) == (
        numbered.name, "Main Building", "2nd Floor", 1, "Room 214")
    assert (room.Placement, room.Place_Type) == ("InteriorCentroid", "classroom")  # Science Lab
    library = next(r for r in rows if r.name == "Library")
    assert library.Place_Type == "library"
    door = next(r for r in rows if r.feature_type == "exterior_door")
    assert door.Placement == "ExteriorAccess" and door.Addtl_Loc.startswith("Door ")
    assert {r.civic_address for r in rows} == {numbered.address}
    lot = next(r for r in rows if r.feature_type == "grounds")
    assert lot.SubSite == lot.name and lot.Placement == "Site" and lot.Structure == ""
    for r in rows:
        assert r.Place_Type in IANA_LOCATION_TYPES, r
        assert r.Placement in NENA_PLACEMENT_METHODS, r
        assert r.FloorIndex == r.level_ordinal
        assert r.Structure == r.building_name


def test_grounds_features_of_every_shape_get_a_point_on_them(numbered: Campus) -> None:
    frame = LocalFrame(numbered.crs)
    from shapely.geometry import LineString

    road = GroundsFeature("road-1", GroundsKind.ROAD, "Ridge Drive",
                          frame.to_wgs84(LineString([(-40, -30), (0, -30), (40, -30)])))
    campus = dataclasses.replace(numbered, grounds=(road,))
    row = next(r for r in gazetteer(CampusIndex(campus)) if r.id == "road-1")
    assert (row.Place_Type, row.kind) == ("street", "road")
    assert road.geometry.distance(Point(row.lon, row.lat)) < 1e-7


# --- CSV: spreadsheets and GDAL ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "safe"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tTab", "'\tTab"), ("\rCR", "'\rCR"), ("Gym", "Gym"),
    ("", ""), ("a=b", "a=b"),
])
def test_neutralise(text: str, safe: str) -> None:
    assert neutralise(text) == safe


def test_csv_neutralises_text_but_not_numbers(numbered: Campus) -> None:
    evil = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-Storage", "@import", "\tPantry"]
    campus = _with_units(numbered, *((f"X{i}", name) for i, name in enumerate(evil)),
                         ("=1+1", "Closet"))
    rows = gazetteer(CampusIndex(campus))
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows), newline="")))
    assert len(parsed) == len(rows)
    names = {r["name"] for r in parsed}
    assert {"'" + e for e in evil} <= names
    assert any(r["number"] == "'=1+1" for r in parsed)
    for record in parsed:
        for column, value in record.items():
            if column in ("lon", "lat", "level_ordinal", "FloorIndex"):
                continue
            assert not value.startswith(FORMULA_STARTS), (column, value)
        # longitudes here are negative: still plain numbers
        assert float(record["lon"]) < 0 and record["lon"].startswith("-")
        assert -90 <= float(record["lat"]) <= 90


def test_csv_round_trips_unicode_commas_quotes_and_newlines(numbered: Campus) -> None:
    tricky = ("B013", 'Technologie "atelier", salle\nbis'), ("É1", "Salle des fêtes – Ünterricht")
    campus = _with_units(numbered, *tricky)
    text = to_csv(gazetteer(CampusIndex(campus)))
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    got = {r["number"]: r["name"] for r in parsed}
    assert got["B013"] == tricky[0][1] and got["É1"] == tricky[1][1]
    assert text.splitlines()[0].split(",") == list(COLUMNS)


def test_csv_loads_in_gdal_with_lon_lat_columns(numbered: Campus, tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    campus = _with_units(numbered, ("É1", "Salle des fêtes"), ("=1", "-Storage"))
    rows = gazetteer(CampusIndex(campus))
    path = tmp_path / "rooms.csv"
    path.write_bytes(to_csv(rows).encode("utf-8"))
    frame = pyogrio.read_dataframe(path, X_POSSIBLE_NAMES="lon", Y_POSSIBLE_NAMES="lat",
                                   KEEP_GEOM_COLUMNS="NO", AUTODETECT_TYPE="YES")
    assert len(frame) == len(rows)
    assert frame.geometry.geom_type.unique().tolist() == ["Point"]
    by_id = {r.id: r for r in rows}
    for fid, geom, name in zip(frame["id"], frame.geometry, frame["name"], strict=True):
        row = by_id[fid]
        assert geom.x == pytest.approx(row.lon, abs=1e-7)
        assert geom.y == pytest.approx(row.lat, abs=1e-7)
        assert name == neutralise(row.name)
    assert "Salle des fêtes" in set(frame["name"])
    # the numeric columns stay numeric for GDAL's type detection
    assert frame["FloorIndex"].dropna().astype(int).tolist() == [
        r.FloorIndex for r in rows if r.FloorIndex is not None]


def test_geojson_is_a_feature_collection_gdal_reads(numbered: Campus, tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    rows = gazetteer(CampusIndex(numbered))
    body = to_geojson(rows, campus_id=CAMPUS, revision=3)
    assert body["type"] == "FeatureCollection" and body["revision"] == 3
    assert [f["id"] for f in body["features"]] == [r.id for r in rows]
    first = body["features"][0]
    assert list(first["properties"]) == list(COLUMNS)
    assert first["geometry"]["coordinates"] == [round(rows[0].lon, 7), round(rows[0].lat, 7)]
    path = tmp_path / "rooms.geojson"
    path.write_text(json.dumps(body), encoding="utf-8")
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == len(rows)
    assert frame.geometry.x.tolist() == pytest.approx([r.lon for r in rows], abs=1e-7)


# --- API ----------------------------------------------------------------------------------------


def test_gazetteer_routes(viewer: TestClient, store: SqlCampusStore,
                          stored_campus: Campus) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/gazetteer.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["content-disposition"] == (
        f'attachment; filename="{CAMPUS}-r1-gazetteer.csv"')
    parsed = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"), newline="")))
    expected = gazetteer(CampusIndex(stored_campus))
    assert [p["id"] for p in parsed] == [e.id for e in expected]

    j = viewer.get(f"/campuses/{CAMPUS}/gazetteer.json")
    assert j.status_code == 200
    assert j.headers["content-type"] == "application/geo+json"
    assert j.headers["cache-control"] == "private, no-store"
    assert len(j.json()["features"]) == len(expected)

    log = [e for e in reversed(store.audit_log()) if e.action == "gazetteer"]
    assert [(e.campus_id, e.detail.split(",")[0]) for e in log] == [(CAMPUS, "csv"),
                                                                    (CAMPUS, "json")]
    assert f"{len(expected)} rows" in log[0].detail


def test_gazetteer_needs_access(client: TestClient, store: SqlCampusStore,
                                stored_campus: Campus) -> None:
    assert client.get(f"/campuses/{CAMPUS}/gazetteer.csv").status_code == 401
    other = dataclasses.replace(stored_campus, id="other-campus", name="Other")
    store.save_revision(other, source="tests")
    token, record = create_token(store, "agency", Role.VIEWER, campuses=["other-campus"])
    client.headers["Authorization"] = f"Bearer {token}"
    for suffix in ("csv", "json"):
        assert client.get(f"/campuses/{CAMPUS}/gazetteer.{suffix}").status_code == 404
    denied = [e for e in store.audit_log() if e.action == "denied"]
    # the two refusals of one token and campus may be coalesced into one counted row
    assert sum(e.count for e in denied if (e.token_id, e.campus_id) == (record.id, CAMPUS)) == 2
    assert any(e.token_id is None for e in denied)  # the request without a token
    assert client.get("/campuses/other-campus/gazetteer.csv").status_code == 200
    assert client.get("/campuses/other-campus/gazetteer.csv",
                      params={"revision": 2**63}).status_code == 422


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_export_csv_and_json(stored_campus: Campus, store: SqlCampusStore, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rooms.csv"
    assert cli.main(["export", CAMPUS, "--format", "gazetteer", "-o", str(out)]) == 0
    assert "written to" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    expected = gazetteer(CampusIndex(stored_campus))
    assert [r["id"] for r in rows] == [e.id for e in expected]
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not list(tmp_path.glob(".*tmp"))

    as_json = tmp_path / "rooms.json"  # the suffix picks the format
    assert cli.main(["export", CAMPUS, "-o", str(as_json)]) == 0
    body: dict[str, Any] = json.loads(as_json.read_text(encoding="utf-8"))
    assert body["type"] == "FeatureCollection" and len(body["features"]) == len(expected)

    assert cli.main(["export", CAMPUS, "--format", "gazetteer-json"]) == 0  # stdout
    assert json.loads(capsys.readouterr().out)["campus"] == CAMPUS

    exports = [e for e in store.audit_log() if e.action == "export"]
    assert len(exports) == 3 and all((e.token_name or "").startswith("cli:") for e in exports)


def test_cli_export_errors(stored_campus: Campus, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", "nowhere", "-o", str(tmp_path / "x.csv")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert cli.main(["export", CAMPUS, "-o", str(tmp_path / "rooms.xlsx")]) == 2
    assert "--format" in capsys.readouterr().err
    assert cli.main(["export", CAMPUS, "-o", str(tmp_path / "missing" / "rooms.csv")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_label_only_rooms_are_flagged(numbered: Campus) -> None:
    campus = _with_units(numbered, ("A015", "Office"))
    approximate = dataclasses.replace(campus.units[-1], approximate=True)
    campus = dataclasses.replace(campus, units=(*campus.units[:-1], approximate))
    rows = gazetteer(CampusIndex(campus))
    row = next(r for r in rows if r.number == "A015")
    assert (row.flags, row.Placement) == ("label only, no outline", "Unknown")
    assert all(r.flags == "" for r in rows if r.number != "A015")
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows), newline="")))
    assert next(p for p in parsed if p["number"] == "A015")["flags"] == "label only, no outline"


def test_gazetteer_follows_a_new_revision(viewer: TestClient, store: SqlCampusStore,
                                          stored_campus: Campus) -> None:
    first = viewer.get(f"/campuses/{CAMPUS}/gazetteer.csv").content.decode("utf-8")
    assert "Chemistry Lab" not in first
    renamed = tuple(dataclasses.replace(u, name="Chemistry Lab") if u.number == "214" else u
                    for u in stored_campus.units)
    store.save_revision(dataclasses.replace(stored_campus, units=renamed), source="tests")
    second = viewer.get(f"/campuses/{CAMPUS}/gazetteer.csv")
    assert "Chemistry Lab" in second.content.decode("utf-8")
    assert "-r2-" in second.headers["content-disposition"]
    # an older revision stays readable as it was
    old = viewer.get(f"/campuses/{CAMPUS}/gazetteer.csv", params={"revision": 1})
    assert old.content.decode("utf-8") == first


def test_a_point_of_interest_keeps_its_note(numbered: Campus) -> None:
    aed = next(a for a in numbered.amenities if a.kind.value == "aed")
    noted = dataclasses.replace(aed, note="wall cabinet, left of the lift")
    campus = dataclasses.replace(numbered, amenities=tuple(
        noted if a.id == aed.id else a for a in numbered.amenities))
    rows = {r.id: r for r in gazetteer(CampusIndex(campus))}
    assert rows[aed.id].note == "wall cabinet, left of the lift"
    assert rows[aed.id].Addtl_Loc == aed.name
    assert all(r.note == "" for i, r in rows.items() if i != aed.id)


@pytest.mark.parametrize(("name", "category", "expected"), [
    ("Science Lab", "room", "classroom"), ("Salle d'arts plastiques / Art Room", "room",
                                           "classroom"),
    ("Klassenzimmer 3b", "room", "classroom"), ("Médiathèque / Library", "room", "library"),
    ("Aula", "room", "theater"), ("Turnhalle / Gymnase", "room", "arena"),
    ("Mensa / Cantine", "room", "restaurant"), ("Sekretariat Primar", "room", "office"),
    ("Main Office Hall", "walkway", "school"), ("Boys Restroom", "restroom", "school"),
    ("Storage", "room", "school"), ("Room 7", "classroom", "classroom"),
    ("Stage Left", "auditorium", "theater"),
])
def test_place_type_of_rooms(numbered: Campus, name: str, category: str, expected: str) -> None:
    room = dataclasses.replace(numbered.units[0], name=name, category=category)
    assert place_type(room) == expected
    assert expected in IANA_LOCATION_TYPES


@pytest.mark.parametrize("revision", ["0", "-1", str(2**63), "two"])
def test_cli_export_refuses_impossible_revisions(stored_campus: Campus, revision: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export", CAMPUS, "--revision", revision])
    assert exit_.value.code == 2
    assert "--revision" in capsys.readouterr().err


def test_cli_export_of_a_missing_revision(stored_campus: Campus,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", CAMPUS, "--revision", "7"]) == 2
    assert "revision 7" in capsys.readouterr().err


def test_rooms_in_natural_order(numbered: Campus) -> None:
    campus = _with_units(numbered, ("A10", "Ten"), ("A9", "Nine"), ("A9b", "Nine b"),
                         ("A100", "Hundred"))
    numbers = [r.number for r in gazetteer(CampusIndex(campus))
               if r.feature_type == "room" and r.number.startswith("A")]
    assert numbers == ["A9", "A9b", "A10", "A100"]


def test_a_feature_with_nothing_to_point_at_gets_no_row(numbered: Campus) -> None:
    from shapely.geometry import Polygon

    hollow = dataclasses.replace(numbered.buildings[1], footprint=Polygon())
    campus = dataclasses.replace(numbered, buildings=(numbered.buildings[0], hollow))
    rows = gazetteer(CampusIndex(campus))
    assert hollow.id not in {r.id for r in rows}
    assert numbered.buildings[0].id in {r.id for r in rows}
    assert all(r.lon == r.lon and r.lat == r.lat for r in rows)  # no NaN anywhere
