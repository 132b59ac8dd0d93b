"""USNG references checked against an independent oracle: pyproj's UTM projection.

``gridmap.usng`` formats what the ``mgrs`` package computes; the digits of a 1 m USNG reference
are the UTM easting and northing modulo 100 km, and its zone is the UTM zone, so pyproj (PROJ)
can confirm both without sharing code with ``mgrs``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gridmap.crs import LocalFrame, local_crs_for, utm_epsg
from gridmap.errors import InvalidUSNG
from gridmap.usng import complete_usng, normalise_usng, parse_usng, to_usng

# continental US, away from the zone-edge special cases of Norway/Svalbard
lons = st.floats(min_value=-124.0, max_value=-67.5)
lats = st.floats(min_value=25.0, max_value=49.0)


@settings(max_examples=200, deadline=None)  # a loaded CI machine is no failure
@given(lons, lats)
def test_usng_digits_match_utm_from_pyproj(lon: float, lat: float) -> None:
    ref = to_usng(lon, lat)
    zone_band, _square, east, north = ref.split()
    epsg = utm_epsg(lon, lat)
    assert int(zone_band[:-1]) == epsg - 32600
    e, n = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    # mgrs truncates to the metre; allow the last-digit rounding either side
    assert abs(int(east) - int(e) % 100_000) in (0, 1, 99_999)
    assert abs(int(north) - int(n) % 100_000) in (0, 1, 99_999)


@settings(max_examples=100, deadline=None)
@given(lons, lats)
def test_usng_round_trips_within_a_metre_and_a_half(lon: float, lat: float) -> None:
    back_lon, back_lat = parse_usng(to_usng(lon, lat))
    frame = LocalFrame(local_crs_for(lon, lat))
    x, y = frame.xy(back_lon, back_lat)
    assert (x * x + y * y) ** 0.5 < 1.5


def test_known_reference_formats_like_a_printed_map() -> None:
    # the Washington Monument is in 18S UJ, the square USNG documentation uses as its example
    ref = to_usng(-77.0353, 38.8895)
    assert ref.startswith("18S UJ ")
    assert len(ref.split()) == 4


@pytest.mark.parametrize("text", ["18S UJ 2348 0647", "18suj23480647", "18S-UJ-2348-0647"])
def test_spacing_and_case_are_free(text: str) -> None:
    assert normalise_usng(text) == "18SUJ23480647"
    lon, lat = parse_usng(text)
    assert -77.1 < lon < -77.0 and 38.8 < lat < 38.95


@pytest.mark.parametrize("text", ["", "room 214", "18S UJ 234 0647", "99Z AA 1 1", "C4"])
def test_not_usng(text: str) -> None:
    with pytest.raises(InvalidUSNG):
        parse_usng(text)


def test_a_reference_without_its_zone_is_completed_from_the_campus() -> None:
    lon, lat = -84.4300, 42.7001
    full = to_usng(lon, lat)  # "16T GN 12345 67890"
    zone, square, east, north = full.split(" ")
    assert complete_usng(f"{square} {east} {north}", lon, lat) == zone + square + east + north
    assert complete_usng(f"{square} {east[:3]}-{north[:3]}", lon, lat) == (
        zone + square + east[:3] + north[:3])
    # no square either: the campus's own 100 km square
    assert complete_usng(f"{east} {north}", lon, lat) == zone + square + east + north
    got = complete_usng(f"{square} {east} {north}", lon, lat)
    assert got is not None
    back_lon, back_lat = parse_usng(got)
    assert abs(back_lon - lon) < 2e-5 and abs(back_lat - lat) < 2e-5


@pytest.mark.parametrize("text", ["", "GN", "GN 123 4567", "12345678", "1234 567", "room 214",
                                  "IO 1234 5678", "16T GN 1234 5678"])
def test_what_is_not_a_zoneless_reference(text: str) -> None:
    assert complete_usng(text, -84.43, 42.70) is None
