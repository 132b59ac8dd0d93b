"""Organisations, people, partnerships; who owns each token and campus; people's sessions.

A store made before organisations existed keeps working: if it holds campuses or tokens, one
district organisation "Local district" is created, owns every campus, and every token becomes an
integration token of it (named like the token); the previous release's read-only role
``viewer`` becomes ``officer`` (``admin`` stays ``admin``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

LEGACY_DISTRICT = "Local district"


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_index("ix_people_org_id", "people", ["org_id"])
    op.create_table(
        "partnerships",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("district_id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.String(length=40), nullable=False),
        sa.Column("campuses", sa.JSON(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["district_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["agency_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_partnerships_district_id", "partnerships", ["district_id"])
    op.create_index("ix_partnerships_agency_id", "partnerships", ["agency_id"])
    op.create_table(
        "token_owners",
        sa.Column("token_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("integration", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("token_id"),
    )
    op.create_index("ix_token_owners_org_id", "token_owners", ["org_id"])
    op.create_index("ix_token_owners_user_id", "token_owners", ["user_id"])
    op.create_table(
        "campus_owners",
        sa.Column("campus_id", sa.String(length=100), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["campus_id"], ["campuses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("campus_id"),
    )
    op.create_index("ix_campus_owners_org_id", "campus_owners", ["org_id"])
    op.create_table(
        "person_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_index("ix_person_sessions_user_id", "person_sessions", ["user_id"])
    op.create_index("ix_person_sessions_expires_at", "person_sessions", ["expires_at"])
    _adopt_legacy_data()


def _adopt_legacy_data() -> None:
    """Campuses and tokens of the previous release: one "Local district" owns them all."""
    conn = op.get_bind()
    campuses = [r[0] for r in conn.execute(sa.text("SELECT id FROM campuses"))]
    tokens = [(r[0], r[1]) for r in conn.execute(sa.text("SELECT id, name FROM tokens"))]
    if not campuses and not tokens:
        return
    org_id = "org_" + secrets.token_hex(6)
    conn.execute(sa.text("INSERT INTO organisations (id, name, kind, created_at) "
                         "VALUES (:id, :name, 'district', :at)"),
                 {"id": org_id, "name": LEGACY_DISTRICT, "at": datetime.now(UTC)})
    if campuses:
        conn.execute(sa.text("INSERT INTO campus_owners (campus_id, org_id) VALUES (:c, :o)"),
                     [{"c": c, "o": org_id} for c in campuses])
    if tokens:
        conn.execute(sa.text("INSERT INTO token_owners (token_id, org_id, user_id, integration) "
                             "VALUES (:t, :o, NULL, :n)"),
                     [{"t": t, "o": org_id, "n": name[:200]} for t, name in tokens])
    conn.execute(sa.text("UPDATE tokens SET role = 'officer' WHERE role = 'viewer'"))


def downgrade() -> None:
    op.execute("UPDATE tokens SET role = 'viewer' WHERE role <> 'admin'")
    for table in ("person_sessions", "campus_owners", "token_owners", "partnerships", "people",
                  "organisations"):
        op.drop_table(table)
