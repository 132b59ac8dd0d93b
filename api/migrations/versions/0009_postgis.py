"""PostGIS: feature geometry and revision bounds as geometry columns (SRID 4326), GiST-indexed.

Only on PostgreSQL with the ``postgis`` extension (in whatever schema); elsewhere (SQLite, a
PostgreSQL without PostGIS) nothing changes and the store answers spatial questions from its
portable bounding-box columns. Rows already stored get their geometry here. The columns are
not declared in code (see :mod:`api.postgis`, which fills and queries them).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

from api import postgis

revision = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pg = postgis.extension_schema(op.get_bind())
    if pg is None:
        return
    op.execute(f"ALTER TABLE features ADD COLUMN geom {pg}.geometry(Geometry, 4326)")
    op.execute(f"UPDATE features SET geom = "
               f"{pg}.ST_Force2D({pg}.ST_SetSRID({pg}.ST_GeomFromGeoJSON(geometry), 4326)) "
               "WHERE geometry IS NOT NULL")
    op.execute("CREATE INDEX ix_features_geom ON features USING gist (geom)")
    op.execute(f"ALTER TABLE revisions ADD COLUMN bounds {pg}.geometry(Polygon, 4326)")
    op.execute(f"UPDATE revisions SET bounds = "
               f"{pg}.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, 4326)")
    op.execute("CREATE INDEX ix_revisions_bounds ON revisions USING gist (bounds)")


def downgrade() -> None:
    if postgis.extension_schema(op.get_bind()) is None:
        return
    op.execute("DROP INDEX IF EXISTS ix_revisions_bounds")
    op.execute("ALTER TABLE revisions DROP COLUMN IF EXISTS bounds")
    op.execute("DROP INDEX IF EXISTS ix_features_geom")
    op.execute("ALTER TABLE features DROP COLUMN IF EXISTS geom")
