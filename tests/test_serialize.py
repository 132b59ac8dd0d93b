"""Campus <-> GeoJSON dicts: exact round trips and clear errors on malformed input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gridmap.errors import InvalidModel
from gridmap.model import Campus
from gridmap.serialize import (
    FEATURE_TYPES,
    campus_from_features,
    campus_from_geojson,
    campus_to_geojson,
    feature_to_dict,
    part_from_feature,
)


def test_round_trip_is_exact(campus: Campus) -> None:
    back = campus_from_geojson(campus_to_geojson(campus))
    assert back == campus
    assert back.meta == campus.meta


def test_round_trip_through_json_text_is_exact(campus: Campus) -> None:
    text = json.dumps(campus_to_geojson(campus))
    back = campus_from_geojson(json.loads(text))
    assert back == campus
    # every coordinate survives bit for bit, not just within a tolerance
    for a, b in zip(campus.units, back.units, strict=True):
        assert list(a.geometry.exterior.coords) == list(b.geometry.exterior.coords)


def test_meta_round_trips() -> None:
    from tests.campus_factory import small_campus

    base = small_campus()
    with_meta = Campus(**{**_fields(base), "meta": {"source": "test", "verified": "2024-08-01"}})
    assert campus_from_geojson(campus_to_geojson(with_meta)).meta == with_meta.meta


def test_every_feature_type_appears_with_imdf_names(campus: Campus) -> None:
    fc = campus_to_geojson(campus)
    types = {f["feature_type"] for f in fc["features"]}
    assert types == set(FEATURE_TYPES)
    venue = fc["features"][0]
    assert venue["feature_type"] == "venue"
    assert venue["id"] == campus.id
    assert venue["properties"]["grid"]["columns"] == campus.grid.columns


def test_properties_hold_every_dataclass_field_but_id_and_geometry(campus: Campus) -> None:
    unit = campus.units[0]
    f = feature_to_dict(unit)
    assert set(f["properties"]) == {
        "building_id", "level_id", "number", "name", "category", "aliases"
    }
    assert f["geometry"]["type"] == "Polygon"
    assert f["id"] == unit.id


def test_enum_and_tuple_fields_come_back_typed(campus: Campus) -> None:
    amenity = campus.amenities[0]
    back = part_from_feature(json.loads(json.dumps(feature_to_dict(amenity))))
    assert back == amenity
    assert type(back.kind) is type(amenity.kind)  # type: ignore[union-attr]


def test_level_has_no_geometry(campus: Campus) -> None:
    assert feature_to_dict(campus.levels[0])["geometry"] is None


def test_missing_property_names_feature_and_property(campus: Campus) -> None:
    f = feature_to_dict(campus.units[0])
    del f["properties"]["number"]
    with pytest.raises(InvalidModel, match=r"unit feature .* lacks property 'number'"):
        part_from_feature(f)


def test_wrong_geometry_type_is_rejected(campus: Campus) -> None:
    f = feature_to_dict(campus.openings[0])
    f["geometry"] = feature_to_dict(campus.units[0])["geometry"]
    with pytest.raises(InvalidModel, match="needs a Point"):
        part_from_feature(f)


def test_unknown_feature_type_is_rejected() -> None:
    with pytest.raises(InvalidModel, match="unknown feature_type"):
        part_from_feature({"id": "x", "feature_type": "anchor", "properties": {}})


def test_no_venue_is_rejected(campus: Campus) -> None:
    features = campus_to_geojson(campus)["features"][1:]
    with pytest.raises(InvalidModel, match="no venue"):
        campus_from_features(features)


def test_not_a_feature_collection_is_rejected() -> None:
    with pytest.raises(InvalidModel, match="FeatureCollection"):
        campus_from_geojson({"type": "Feature"})


def _fields(campus: Campus) -> dict[str, Any]:
    return {name: getattr(campus, name) for name in Campus.__dataclass_fields__}
