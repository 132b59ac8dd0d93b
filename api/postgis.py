"""The store's spatial questions answered by PostGIS, on PostgreSQL databases that have it.

A PostgreSQL store with the ``postgis`` extension keeps, beside the portable columns every
backend has (GeoJSON text and lon/lat bounding boxes), two geometry columns in SRID 4326 with
GiST indexes, made by the migration ``postgis``: ``features.geom`` (each feature's geometry)
and ``revisions.bounds`` (the lon/lat box of the revision's grid). They are filled in the
transaction that saves a revision (:func:`fill_revision`), and the cross-campus questions are
answered in the database with ``ST_Covers`` / ``ST_Intersects`` on them:

- :func:`campuses_at`: campuses whose current grid's box covers a point;
- :func:`campuses_in`: campuses whose current grid's box meets a lon/lat box;
- :func:`buildings_at`: buildings of current revisions whose footprint covers a point.

SQLite (and PostgreSQL without PostGIS) answer the same questions from the bounding-box
columns and shapely (:class:`api.store.SqlCampusStore`); ``tests/test_store_postgis.py``
checks that both give the same answers over random points and boxes.

The geometry columns are not declared on the ORM tables (SQLite has no such type); the SQL
here names them. PostGIS's functions and types are named with the schema the extension is
installed in (usually ``public``), so a store whose tables live in another schema, with only
that schema on its search path, finds them all the same.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: the geometry columns and their GiST indexes, present only on PostGIS (table, column, index)
GEOMETRY_COLUMNS = (("features", "geom", "ix_features_geom"),
                    ("revisions", "bounds", "ix_revisions_bounds"))


def extension_schema(conn: Connection) -> str | None:
    """The schema PostGIS is installed in, as an SQL identifier; None without PostGIS."""
    if conn.dialect.name != "postgresql":
        return None
    found = conn.execute(text(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'postgis'"
    )).scalar()
    return None if found is None else str(found)


def queries_for(engine: Engine) -> PostgisQueries | None:
    """The PostGIS queries for this database, if it keeps the geometry columns (PostGIS was
    installed when it was migrated); None: the store keeps to the portable path."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        schema = extension_schema(conn)
        has_column = conn.execute(text(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = 'features' AND column_name = 'geom'")).scalar()
    if schema is not None and not has_column:
        log.warning("PostGIS is installed but this store's schema was migrated without it: "
                    "spatial questions take the portable path (migration 0009 adds the "
                    "geometry columns when it runs with PostGIS present)")
    return PostgisQueries(schema) if schema is not None and has_column else None


_CURRENT = (" FROM campuses c JOIN revisions r"
            " ON r.campus_id = c.id AND r.number = c.current_revision ")
_POINT = "pg.ST_SetSRID(pg.ST_MakePoint(:lon, :lat), 4326)"


class PostgisQueries:
    """The store's PostGIS statements, with PostGIS's functions named in its ``schema``."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

        def sql(template: str) -> TextClause:
            return text(template.replace("pg.", f"{schema}."))

        self._fill_features = sql(
            "UPDATE features SET geom = pg.ST_Force2D(pg.ST_SetSRID("
            "pg.ST_GeomFromGeoJSON(geometry), 4326)) "
            "WHERE campus_id = :campus_id AND revision = :number AND geometry IS NOT NULL")
        self._fill_bounds = sql(
            "UPDATE revisions SET bounds = "
            "pg.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326) "
            "WHERE campus_id = :campus_id AND number = :number")
        self._campuses_at = sql(
            f"SELECT c.id {_CURRENT} WHERE pg.ST_Covers(r.bounds, {_POINT})")
        self._campuses_in = sql(
            f"SELECT c.id {_CURRENT} WHERE pg.ST_Intersects(r.bounds, "
            "pg.ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, 4326))")
        self._buildings_at = sql(
            f"SELECT c.id, f.feature_id {_CURRENT} JOIN features f "
            "ON f.campus_id = r.campus_id AND f.revision = r.number "
            f"WHERE f.feature_type = 'building' AND pg.ST_Covers(f.geom, {_POINT})")

    def fill_revision(self, session: Session, campus_id: str, number: int) -> None:
        """Set the geometry columns of a revision just written (in its transaction)."""
        params = {"campus_id": campus_id, "number": number}
        session.execute(self._fill_features, params)
        session.execute(self._fill_bounds, params)

    def campuses_at(self, session: Session, lon: float, lat: float) -> list[str]:
        """Campuses whose current grid's box covers the point."""
        rows = session.execute(self._campuses_at, {"lon": lon, "lat": lat})
        return sorted(row[0] for row in rows)

    def campuses_in(self, session: Session, min_lon: float, min_lat: float, max_lon: float,
                    max_lat: float) -> list[str]:
        """Campuses whose current grid's box meets the lon/lat box (touching counts)."""
        rows = session.execute(self._campuses_in, {
            "min_lon": min_lon, "min_lat": min_lat, "max_lon": max_lon, "max_lat": max_lat})
        return sorted(row[0] for row in rows)

    def buildings_at(self, session: Session, lon: float, lat: float) -> list[tuple[str, str]]:
        """(campus, building) of current revisions whose footprint covers the point."""
        rows = session.execute(self._buildings_at, {"lon": lon, "lat": lat})
        return sorted((row[0], row[1]) for row in rows)
