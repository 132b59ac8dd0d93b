"""The store's tables (SQLAlchemy declarative rows); their schema is kept by Alembic migrations
(:mod:`api.migrations`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api.audit import utcnow as utcnow  # the store's clock, imported from here by callers

if TYPE_CHECKING:  # its module imports rasterio lazily; the store needs only the shape
    pass

class Base(DeclarativeBase):
    pass


class CampusRow(Base):
    __tablename__ = "campuses"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    current_revision: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RevisionRow(Base):
    __tablename__ = "revisions"

    campus_id: Mapped[str] = mapped_column(
        ForeignKey("campuses.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    source_digest: Mapped[str | None] = mapped_column(String(128))
    feature_count: Mapped[int] = mapped_column(Integer)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)


class FeatureRow(Base):
    __tablename__ = "features"
    __table_args__ = (
        ForeignKeyConstraint(
            ["campus_id", "revision"], ["revisions.campus_id", "revisions.number"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("campus_id", "revision", "feature_type", "feature_id"),
        Index("ix_features_revision_seq", "campus_id", "revision", "seq"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campus_id: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    feature_id: Mapped[str] = mapped_column(String(200))
    feature_type: Mapped[str] = mapped_column(String(20))
    building_id: Mapped[str | None] = mapped_column(String(200))
    level_ordinal: Mapped[int | None] = mapped_column(Integer)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON)
    geometry: Mapped[str | None] = mapped_column(Text)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)


class ImageryRow(Base):
    """A campus orthophoto version; the highest version is the current one."""

    __tablename__ = "imagery"

    campus_id: Mapped[str] = mapped_column(
        ForeignKey("campuses.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_name: Mapped[str] = mapped_column(String(300))
    source_digest: Mapped[str] = mapped_column(String(64))
    source_crs: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(200))
    attribution: Mapped[str] = mapped_column(String(300), default="")
    digest: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    resolution_m: Mapped[float] = mapped_column(Float)
    min_x: Mapped[float] = mapped_column(Float)
    min_y: Mapped[float] = mapped_column(Float)
    max_x: Mapped[float] = mapped_column(Float)
    max_y: Mapped[float] = mapped_column(Float)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    campuses: Mapped[list[str] | None] = mapped_column(JSON)


class SessionRow(Base):
    __tablename__ = "sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_campus_ts", "campus_id", "ts"),
                      Index("ix_audit_org_ts", "org_id", "ts"),
                      Index("ix_audit_credential", "credential_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    token_id: Mapped[str | None] = mapped_column(String(40))
    token_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    campus_id: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    org_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    credential_kind: Mapped[str | None] = mapped_column(String(20))
    credential_id: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    status: Mapped[int | None] = mapped_column(Integer)
