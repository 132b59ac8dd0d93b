"""Parcel, grounds and points-of-interest readers."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from gridmap.errors import ImportFailed, ParcelError, PoiError
from gridmap.model import AmenityKind, GroundsKind
from gridmap.vocabulary import amenity_kind
from importers.parcels import read_grounds, read_parcel
from importers.pois import parse_kind, read_poi_rows, to_amenities

LON, LAT = -84.43, 42.70
PARCEL = box(LON - 0.002, LAT - 0.001, LON + 0.002, LAT + 0.001)


def _write(gdf: gpd.GeoDataFrame, path: Path, driver: str | None = None) -> Path:
    gdf.to_file(path, driver=driver, engine="pyogrio")
    return path


def test_parcel_geojson(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"kind": ["parcel"]}, geometry=[PARCEL], crs=4326)
    got = read_parcel(_write(gdf, tmp_path / "parcel.geojson"))
    assert got.symmetric_difference(PARCEL).area < 1e-14


def test_parcel_reprojected_from_utm_geopackage(tmp_path: Path) -> None:
    utm = gpd.GeoDataFrame({"name": ["parcel"]}, geometry=[PARCEL], crs=4326).to_crs(32616)
    got = read_parcel(_write(utm, tmp_path / "parcel.gpkg"))
    assert got.symmetric_difference(PARCEL).area < 1e-12


def test_parcel_shapefile(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"name": ["p"]}, geometry=[PARCEL], crs=4326).to_crs(3857)
    got = read_parcel(_write(gdf, tmp_path / "parcel.shp"))
    assert got.symmetric_difference(PARCEL).area < 1e-12


def test_parcel_without_polygon(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"kind": ["parcel"]}, geometry=[Point(LON, LAT)], crs=4326)
    with pytest.raises(ParcelError, match=r"parcel\.geojson: no polygon"):
        read_parcel(_write(gdf, tmp_path / "parcel.geojson"))


def test_parcel_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "parcel.geojson"
    path.write_text("{ this is not json")
    with pytest.raises(ParcelError, match=r"parcel\.geojson: cannot read GIS file"):
        read_parcel(path)


def test_parcel_projected_without_crs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "parcel.geojson"
    coords = [[500000, 4700000], [500100, 4700000], [500100, 4700100], [500000, 4700000]]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [coords]}}]}))
    with pytest.raises(ParcelError, match=r"parcel\.geojson: coordinates are not lon"):
        read_parcel(path)


def test_grounds_kinds(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"kind": ["parcel", "parking", "road"], "name": ["p", "South Lot", None]},
        geometry=[PARCEL, box(LON, LAT, LON + 0.0005, LAT + 0.0005),
                  LineString([(LON, LAT), (LON + 0.001, LAT)])], crs=4326)
    got = read_grounds(_write(gdf, tmp_path / "site.geojson"), "c")
    assert [(g.kind, g.name) for g in got] == [(GroundsKind.PARKING, "South Lot"),
                                                (GroundsKind.ROAD, "Road")]


def test_grounds_unknown_kind(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"kind": ["parking", "helipad"]},
                           geometry=[PARCEL, PARCEL], crs=4326)
    with pytest.raises(ParcelError, match=r"site\.geojson: feature 2 has unknown kind 'helipad'"):
        read_grounds(_write(gdf, tmp_path / "site.geojson"), "c")


CSV = """kind,name,lon,lat,building,level,note
Knox Box,Knox Box - Main,-84.43,42.70,A,0,by the doors
AED,AED 2nd floor,-84.4301,42.7001,a,2nd floor,
rally_point,Rally,-84.431,42.701,,,
"""


def _ids() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    return {"a": "bA"}, {("bA", "0"): "L0", ("bA", "2nd floor"): "L1"}


def test_pois_csv(tmp_path: Path) -> None:
    path = tmp_path / "pois.csv"
    path.write_text(CSV)
    got = to_amenities(read_poi_rows(path), path.name, "c", *_ids())
    assert [a.kind for a in got] == [AmenityKind.KNOX_BOX, AmenityKind.AED,
                                     AmenityKind.RALLY_POINT]
    assert got[0].level_id == "L0" and got[1].level_id == "L1" and got[2].building_id is None
    assert got[0].note == "by the doors"
    assert got[0].geometry.equals(Point(-84.43, 42.70))
    assert len({a.id for a in got}) == 3


def test_pois_geojson(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"kind": ["aed"], "name": ["AED"], "building": ["A"], "level": [0]},
                           geometry=[Point(LON, LAT)], crs=4326)
    path = _write(gdf, tmp_path / "pois.geojson")
    got = to_amenities(read_poi_rows(path), path.name, "c", *_ids())
    assert got[0].kind is AmenityKind.AED and got[0].level_id == "L0"


def test_unknown_poi_kind_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "pois.csv"
    path.write_text(CSV + "fire hydrant,Hydrant,-84.43,42.70,,,\n")
    with pytest.raises(PoiError, match=r"pois\.csv line 5: unknown kind 'fire hydrant'"):
        read_poi_rows(path)
    assert issubclass(PoiError, ImportFailed)


def test_bad_coordinates_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "pois.csv"
    path.write_text("kind,name,lon,lat\naed,x,west,42.7\n")
    with pytest.raises(PoiError, match=r"line 2: lon 'west' is not a number"):
        read_poi_rows(path)
    path.write_text("kind,name,x,y\naed,x,1,2\n")
    with pytest.raises(PoiError, match=r"missing column\(s\) lat, lon"):
        read_poi_rows(path)


def test_unknown_building_or_level(tmp_path: Path) -> None:
    path = tmp_path / "pois.csv"
    path.write_text("kind,name,lon,lat,building,level\naed,x,-84.43,42.7,Z,0\n")
    with pytest.raises(PoiError, match=r"line 2: unknown building 'Z'"):
        to_amenities(read_poi_rows(path), path.name, "c", *_ids())
    path.write_text("kind,name,lon,lat,building,level\naed,x,-84.43,42.7,A,9\n")
    with pytest.raises(PoiError, match=r"line 2: building 'A' has no level '9'"):
        to_amenities(read_poi_rows(path), path.name, "c", *_ids())


def test_parse_kind_forgives_spelling() -> None:
    assert parse_kind("Trauma-Kit", "x") is AmenityKind.TRAUMA_KIT
    assert parse_kind("knox", "x") is AmenityKind.KNOX_BOX


@pytest.mark.parametrize(("word", "kind"), [
    ("Defib", AmenityKind.AED),
    ("Stop the Bleed kit", AmenityKind.TRAUMA_KIT),
    ("Lock Box", AmenityKind.KNOX_BOX),
    ("FACP", AmenityKind.FIRE_ALARM_PANEL),
    ("gas_shutoff", AmenityKind.GAS_SHUTOFF),
    ("Water Main", AmenityKind.WATER_SHUTOFF),
])
def test_parse_kind_speaks_the_shared_vocabulary(word: str, kind: AmenityKind) -> None:
    """A POI file and a dispatcher's lookup agree on what a word means."""
    assert parse_kind(word, "x") is kind
    assert amenity_kind(word) is kind
