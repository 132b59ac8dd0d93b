"""Spatial answers of the core checked against PostGIS, an independent implementation.

The sample campus's rooms go to PostgreSQL as WGS84 WKT; PostGIS projects them into the same
campus-local frame (``ST_Transform`` with the campus's PROJ string), builds the grid cells
with ``ST_MakeEnvelope`` and answers which cells each room overlaps and which rooms hold a
point. ``gridmap.grid`` and ``gridmap.index`` must agree. Needs ``GRIDMAP_TEST_POSTGRES_URL``
(CI starts PostgreSQL + PostGIS); skips without it on a laptop.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely

from gridmap import grid
from gridmap.index import CampusIndex
from importers.campus import import_campus

SAMPLE = Path(__file__).resolve().parents[1] / "data/samples/lincoln_ridge/campus.toml"


@pytest.fixture(scope="module")
def pg() -> Iterator[Any]:
    url = os.environ.get("GRIDMAP_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("GRIDMAP_TEST_POSTGRES_URL is not set (CI starts PostgreSQL + PostGIS)")
    psycopg = pytest.importorskip("psycopg")
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield conn


@pytest.fixture(scope="module")
def index() -> CampusIndex:
    return CampusIndex(import_campus(SAMPLE).campus)


SPANNED_SQL = """
WITH room AS (
  SELECT ST_Transform(ST_GeomFromText(%(wkt)s, 4326), 'EPSG:4326', %(crs)s) AS g
), cells AS (
  SELECT c, r, ST_MakeEnvelope(%(ox)s + c * %(s)s, %(oy)s - (r + 1) * %(s)s,
                               %(ox)s + (c + 1) * %(s)s, %(oy)s - r * %(s)s) AS g
  FROM generate_series(0, %(cols)s - 1) AS c, generate_series(0, %(rows)s - 1) AS r
)
SELECT cells.c, cells.r FROM cells, room
WHERE ST_Intersects(cells.g, room.g)
  AND ST_Area(ST_Intersection(cells.g, room.g)) > %(min_area)s
ORDER BY cells.r, cells.c
"""


def test_cells_spanned_by_every_room_match_postgis(pg: Any, index: CampusIndex) -> None:
    spec = index.grid
    s = spec.cell_size_m
    checked = 0
    for unit in index.campus.units:
        rows = pg.execute(SPANNED_SQL, {
            "wkt": unit.geometry.wkt, "crs": index.campus.crs, "ox": spec.origin_x,
            "oy": spec.origin_y, "s": s, "cols": spec.columns, "rows": spec.rows,
            "min_area": 1e-6 * s * s,
        }).fetchall()
        expected = [grid.Cell(c, r).label for c, r in rows]
        _, ours = index.unit_cells(unit)
        assert list(ours) == expected, f"{unit.number or unit.name}"
        checked += 1
    assert checked >= 60


ROOMS_AT_SQL = """
SELECT u.id FROM unnest(%(ids)s::text[], %(wkts)s::text[]) AS u(id, wkt)
WHERE ST_Intersects(ST_GeomFromText(u.wkt, 4326), ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
ORDER BY u.id
"""


def test_rooms_at_a_point_match_postgis(pg: Any, index: CampusIndex) -> None:
    campus = index.campus
    ids = [u.id for u in campus.units]
    wkts = [u.geometry.wkt for u in campus.units]
    minlon, minlat, maxlon, maxlat = shapely.union_all(
        [b.footprint for b in campus.buildings]).bounds
    rng = random.Random(2)
    hits = 0
    for _ in range(300):
        lon, lat = rng.uniform(minlon, maxlon), rng.uniform(minlat, maxlat)
        expected = [r[0] for r in pg.execute(
            ROOMS_AT_SQL, {"ids": ids, "wkts": wkts, "lon": lon, "lat": lat}).fetchall()]
        x, y = index.frame.xy(lon, lat)
        ours = sorted(u.id for u in index.units_at(x, y))
        assert ours == expected, (lon, lat)
        hits += bool(expected)
    assert hits > 50  # the sample really exercised rooms, not only empty ground
