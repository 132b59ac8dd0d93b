"""Cross-campus spatial questions: PostGIS answers them in the database, SQLite portably.

On PostgreSQL with PostGIS the store keeps feature geometry and revision bounds in geometry
columns (SRID 4326) with GiST indexes and answers ``campuses_at``, ``campuses_in`` and
``buildings_at`` with ``ST_Covers`` / ``ST_Intersects``; elsewhere it answers from the
bounding-box columns and shapely. Each is the other's oracle: the same campuses (moved and
turned at random, with unpublished and superseded revisions elsewhere) are asked the same
questions at random points and boxes, and at the corners and edges of every box, by both
paths on one PostgreSQL database and by the SQLite store; all answers must be equal.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from alembic.script import ScriptDirectory
from shapely import Polygon, affinity
from shapely.geometry.base import BaseGeometry
from sqlalchemy import exc, inspect, text

import api.migrations as migrations
import api.store as store_module
from api import postgis
from api.store import Bbox, SqlCampusStore
from gridmap import grid
from gridmap.crs import LocalFrame, local_crs_for
from gridmap.model import Campus
from tests.campus_factory import CENTRE, small_campus
from tests.earlier_rows import write_published_campus

#: these tests run on the PostgreSQL database of tests/conftest.py only
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _postgis_store(url: str | None) -> SqlCampusStore:
    assert url is not None
    store = SqlCampusStore(url)
    if not store.postgis:
        store.close()
        pytest.skip("the test database has no postgis extension (CI creates it)")
    return store


@pytest.fixture
def pg_store(database_url: str | None) -> Iterator[SqlCampusStore]:
    store = _postgis_store(database_url)
    yield store
    store.close()


def _moved(campus: Campus, campus_id: str, dlon: float, dlat: float,
           degrees: float) -> Campus:
    """The campus turned by ``degrees`` about its centre and moved by (dlon, dlat)."""

    def move(geometry: BaseGeometry) -> BaseGeometry:
        turned = affinity.rotate(geometry, degrees, origin=CENTRE)
        return affinity.translate(turned, dlon, dlat)

    def each(parts: tuple[Any, ...], field: str) -> tuple[Any, ...]:
        return tuple(dataclasses.replace(p, **{field: move(getattr(p, field))}) for p in parts)

    return dataclasses.replace(
        campus, id=campus_id, name=f"Campus {campus_id}",
        crs=local_crs_for(CENTRE[0] + dlon, CENTRE[1] + dlat),
        parcel=None if campus.parcel is None else cast(Polygon, move(campus.parcel)),
        buildings=each(campus.buildings, "footprint"), units=each(campus.units, "geometry"),
        openings=each(campus.openings, "geometry"), amenities=each(campus.amenities, "geometry"),
        grounds=each(campus.grounds, "geometry"),
    )


def _fill(store: SqlCampusStore, seed: int) -> list[Campus]:
    """Twelve campuses within ~600 m of each other (their grids overlap), each published at
    one place after an earlier revision elsewhere, some with a draft elsewhere again; the
    published ones."""
    rng = random.Random(seed)
    base = small_campus()
    published = []
    for i in range(12):
        def somewhere() -> tuple[float, float, float]:
            return (rng.uniform(-0.004, 0.004), rng.uniform(-0.003, 0.003), rng.uniform(0, 90))

        campus_id = f"c{i:02d}"
        store.save_revision(_moved(base, campus_id, *somewhere()), source="earlier")
        current = _moved(base, campus_id, *somewhere())
        store.save_revision(current, source="current")
        published.append(current)
        if i % 3 == 0:
            store.save_revision(_moved(base, campus_id, *somewhere()), source="draft",
                                publish=False)
    return published


def _grid_box(campus: Campus) -> Bbox:
    return Bbox(*grid.lonlat_bounds(campus.grid, LocalFrame(campus.crs)))


def _points(campuses: list[Campus], seed: int, n: int) -> list[tuple[float, float]]:
    """Random points over the area, a few in every building, and every grid box's corners and
    edge midpoints exactly."""
    rng = random.Random(seed)
    boxes = [_grid_box(c) for c in campuses]
    west = min(b.min_lon for b in boxes) - 0.001
    east = max(b.max_lon for b in boxes) + 0.001
    south = min(b.min_lat for b in boxes) - 0.001
    north = max(b.max_lat for b in boxes) + 0.001
    points = [(rng.uniform(west, east), rng.uniform(south, north)) for _ in range(n)]
    for b in boxes:
        mid_lon, mid_lat = (b.min_lon + b.max_lon) / 2, (b.min_lat + b.max_lat) / 2
        points += [(b.min_lon, b.min_lat), (b.max_lon, b.max_lat), (b.min_lon, mid_lat),
                   (b.max_lon, mid_lat), (mid_lon, b.min_lat), (mid_lon, b.max_lat)]
    for campus in campuses:
        for building in campus.buildings:
            x0, y0, x1, y1 = building.footprint.bounds
            inside = building.footprint.representative_point()
            points.append((inside.x, inside.y))
            points += [(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(3)]
    return points


def _boxes(campuses: list[Campus], seed: int, n: int) -> list[Bbox]:
    """Random query boxes of all sizes, and boxes just touching each grid box's edge."""
    rng = random.Random(seed)
    boxes = [_grid_box(c) for c in campuses]
    west = min(b.min_lon for b in boxes) - 0.002
    east = max(b.max_lon for b in boxes) + 0.002
    south = min(b.min_lat for b in boxes) - 0.002
    north = max(b.max_lat for b in boxes) + 0.002
    out = []
    for _ in range(n):
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        w, h = rng.expovariate(1 / 0.001), rng.expovariate(1 / 0.001)
        out.append(Bbox(lon, lat, lon + w, lat + h))
    for b in boxes:
        out.append(Bbox(b.max_lon, b.min_lat, b.max_lon + 0.001, b.max_lat))  # east edge
        out.append(Bbox(b.min_lon, b.max_lat, b.max_lon, b.max_lat + 0.001))  # north edge
    return out


@dataclasses.dataclass
class Answers:
    at: list[list[str]]
    within: list[list[str]]
    buildings: list[list[tuple[str, str]]]


def _ask(store: SqlCampusStore, points: list[tuple[float, float]],
         boxes: list[Bbox]) -> Answers:
    return Answers(
        at=[store.campuses_at(lon, lat) for lon, lat in points],
        within=[store.campuses_in(b) for b in boxes],
        buildings=[store.buildings_at(lon, lat) for lon, lat in points],
    )


def _portable(store: SqlCampusStore, points: list[tuple[float, float]],
              boxes: list[Bbox]) -> Answers:
    queries, store.postgis = store.postgis, None  # the same rows, through the box columns
    try:
        return _ask(store, points, boxes)
    finally:
        store.postgis = queries


@on_postgresql
def test_postgis_keeps_geometry_columns_with_gist_indexes(pg_store: SqlCampusStore,
                                                         campus: Campus) -> None:
    pg_store.save_revision(campus, source="tests")
    assert pg_store.postgis is not None
    pg = pg_store.postgis.schema  # PostGIS's own schema, not on the tests' search path
    with pg_store.engine.connect() as conn:
        for table, column, index in postgis.GEOMETRY_COLUMNS:
            srid = conn.execute(text(
                f"SELECT DISTINCT {pg}.ST_SRID({column}) FROM {table} "
                f"WHERE {column} IS NOT NULL")).scalars().all()
            assert srid == [4326], table
            method = conn.execute(text(
                "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am am ON am.oid = c.relam WHERE c.relname = :index "
                "AND c.relnamespace = current_schema()::regnamespace"), {"index": index}).scalar()
            assert method == "gist", index
        # every stored feature geometry went in, equal to its GeoJSON
        counts = conn.execute(text(
            f"SELECT count(geometry), count(geom), count(*) FILTER (WHERE NOT {pg}.ST_Equals("
            f"geom, {pg}.ST_SetSRID({pg}.ST_GeomFromGeoJSON(geometry), 4326))) FROM features"
        )).one()
        assert counts[0] == counts[1] > 0 and counts[2] == 0


@on_postgresql
def test_postgis_and_portable_answers_agree(pg_store: SqlCampusStore) -> None:
    campuses = _fill(pg_store, seed=7)
    points = _points(campuses, seed=8, n=300)
    queries = _boxes(campuses, seed=9, n=150)
    in_database = _ask(pg_store, points, queries)
    portable = _portable(pg_store, points, queries)
    assert in_database == portable
    # the questions were not trivial: overlapping grids, empty ground, edges
    assert max(len(a) for a in in_database.at) >= 3
    assert sum(not a for a in in_database.at) >= 20
    assert sum(bool(a) for a in in_database.buildings) >= 20
    assert max(len(a) for a in in_database.within) >= 6


@on_postgresql
def test_sqlite_answers_agree_with_postgis(
    database_url: str | None, tmp_path: Path
) -> None:
    """The SQLite store's portable answers checked against PostGIS on the same campuses."""
    pg = _postgis_store(database_url)
    lite = SqlCampusStore(f"sqlite:///{tmp_path / 'portable.db'}")
    try:
        assert not lite.postgis
        campuses = _fill(pg, seed=11)
        assert _fill(lite, seed=11) == campuses
        points = _points(campuses, seed=12, n=200)
        queries = _boxes(campuses, seed=13, n=100)
        assert _ask(lite, points, queries) == _ask(pg, points, queries)
    finally:
        lite.close()
        pg.close()


@on_postgresql
def test_rows_stored_before_the_postgis_migration_get_their_geometry(
    database_url: str | None, campus: Campus
) -> None:
    """A campus stored by a store without the PostGIS columns is given them by the migration."""
    assert database_url is not None
    engine = store_module._engine(database_url, echo=False)
    try:
        with engine.begin() as conn:
            if postgis.extension_schema(conn) is None:
                pytest.skip("the test database has no postgis extension (CI creates it)")
            migrations.upgrade_connection(conn, _before_postgis())
            write_published_campus(conn, campus, source="before PostGIS")
    finally:
        engine.dispose()
    store = SqlCampusStore(database_url)
    try:
        assert store.postgis
        lon, lat = campus.buildings[0].footprint.representative_point().coords[0]
        assert store.buildings_at(lon, lat) == [(campus.id, campus.buildings[0].id)]
        assert store.campuses_at(lon, lat) == [campus.id]
    finally:
        store.close()


def _before_postgis() -> str:
    """The revision the PostGIS migration comes after."""
    scripts = ScriptDirectory(str(migrations.SCRIPT_LOCATION))
    for script in scripts.walk_revisions():
        if script.path is not None and Path(script.path).stem.endswith("_postgis"):
            assert isinstance(script.down_revision, str)
            return script.down_revision
    raise AssertionError("no PostGIS migration in the history")


@on_postgresql
def test_postgresql_without_postgis_keeps_the_portable_path(
    database_url: str | None, campus: Campus, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL without PostGIS when migrated: the migration adds nothing, the store answers
    anyway, and says so if PostGIS has been installed since."""
    assert database_url is not None
    engine = store_module._engine(database_url, echo=False)
    with monkeypatch.context() as patch:
        patch.setattr(postgis, "extension_schema", lambda conn: None)
        with engine.begin() as conn:  # the migration sees no extension
            migrations.upgrade_connection(conn, "head")
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger="api.postgis"):
        store = SqlCampusStore(database_url)
    try:
        assert store.postgis is None
        assert "migrated without it" in caplog.text
        with store.engine.connect() as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore", exc.SAWarning)
            assert "geom" not in {c["name"] for c in inspect(conn).get_columns("features")}
        store.save_revision(campus, source="tests")
        lon, lat = campus.buildings[0].footprint.representative_point().coords[0]
        assert store.buildings_at(lon, lat) == [(campus.id, campus.buildings[0].id)]
    finally:
        store.close()
