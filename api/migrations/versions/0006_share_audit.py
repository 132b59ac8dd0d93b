"""Share links (mutual aid during an incident) and who-what-outcome columns in the audit log.

``share_links`` holds each link's sha256 (never the secret), campus, issuer and lifetime;
``share_sessions`` the browser sessions opened with one (hashed ids). The audit log gains the
acting organisation and person, the kind and id of the credential used (a token, a session, a
share link; never the secret), the outcome and a refusal's status; rows written before this
have none of these (the outcome defaults to ok; refusals are the ``denied`` actions).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

_AUDIT_COLUMNS = (
    ("org_id", sa.String(length=40)),
    ("user_id", sa.String(length=40)),
    ("credential_kind", sa.String(length=20)),
    ("credential_id", sa.String(length=40)),
)


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("campus_id", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["campus_id"], ["campuses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index("ix_share_links_campus_id", "share_links", ["campus_id"])
    op.create_index("ix_share_links_org_id", "share_links", ["org_id"])
    op.create_table(
        "share_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["share_links.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_index("ix_share_sessions_link_id", "share_sessions", ["link_id"])
    op.create_index("ix_share_sessions_expires_at", "share_sessions", ["expires_at"])
    with op.batch_alter_table("audit_log") as batch:
        for name, kind in _AUDIT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=False,
                                   server_default="ok"))
        batch.add_column(sa.Column("status", sa.Integer(), nullable=True))
    op.create_index("ix_audit_org_ts", "audit_log", ["org_id", "ts"])
    op.create_index("ix_audit_credential", "audit_log", ["credential_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_credential", table_name="audit_log")
    op.drop_index("ix_audit_org_ts", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        for name in ("status", "outcome", *(n for n, _ in reversed(_AUDIT_COLUMNS))):
            batch.drop_column(name)
    op.drop_index("ix_share_sessions_expires_at", table_name="share_sessions")
    op.drop_index("ix_share_sessions_link_id", table_name="share_sessions")
    op.drop_table("share_sessions")
    op.drop_index("ix_share_links_org_id", table_name="share_links")
    op.drop_index("ix_share_links_campus_id", table_name="share_links")
    op.drop_table("share_links")
