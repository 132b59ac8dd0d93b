"""A campus written as the previous release wrote it: plain inserts naming only the columns its
schema (migration 0001) had, so tests that build older databases do not depend on today's ORM
tables (a column added later, with a default in code, is not sent to a table without it)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    column,
    insert,
    table,
)

import api.store as store_module
from api.store import utcnow
from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.model import Campus

_CAMPUSES = table("campuses", column("id", String), column("name", String),
                  column("current_revision", Integer), column("created_at", DateTime(True)),
                  column("updated_at", DateTime(True)))
_REVISIONS = table("revisions", column("campus_id", String), column("number", Integer),
                   column("created_at", DateTime(True)), column("source", Text),
                   column("source_digest", String), column("feature_count", Integer),
                   column("published", Boolean), column("min_lon", Float),
                   column("min_lat", Float), column("max_lon", Float), column("max_lat", Float))
_FEATURES = table("features", column("campus_id", String), column("revision", Integer),
                  column("seq", Integer), column("feature_id", String),
                  column("feature_type", String), column("building_id", String),
                  column("level_ordinal", Integer), column("properties", JSON),
                  column("geometry", Text), column("min_lon", Float), column("min_lat", Float),
                  column("max_lon", Float), column("max_lat", Float))


def write_published_campus(conn: Connection, campus: Campus, *, source: str) -> None:
    """The campus as its revision 1, published, with every feature row."""
    now = utcnow()
    box = grid.lonlat_bounds(campus.grid, LocalFrame(campus.crs))
    rows = list(store_module._feature_rows(campus, 1))
    conn.execute(insert(_CAMPUSES).values(
        id=campus.id, name=campus.name, current_revision=1, created_at=now, updated_at=now))
    conn.execute(insert(_REVISIONS).values(
        campus_id=campus.id, number=1, created_at=now, source=source, source_digest=None,
        feature_count=len(rows), published=True, min_lon=box[0], min_lat=box[1],
        max_lon=box[2], max_lat=box[3]))
    conn.execute(insert(_FEATURES), rows)
