"""What the store answers with: roles, revision, campus, token, session, audit and imagery
records, and :class:`CampusStore`, the interface the API and CLI code against (implemented by
:class:`api.store.SqlCampusStore`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from api.audit import utcnow as utcnow  # the store's clock, imported from here by callers
from gridmap.model import Campus

if TYPE_CHECKING:  # its module imports rasterio lazily; the store needs only the shape
    from importers.imagery import PreparedImagery

class Role(StrEnum):
    """A person's or integration's role in its organisation (see :mod:`api.authz`)."""

    ADMIN = "admin"
    EDITOR = "editor"
    DISPATCHER = "dispatcher"
    OFFICER = "officer"
    VIEWER = "officer"  # the previous release's read-only role: an alias of OFFICER

    @classmethod
    def _missing_(cls, value: object) -> Role | None:
        return cls.OFFICER if value == "viewer" else None  # tokens stored as "viewer"


# --- value objects returned by the store ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bbox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    campus_id: str
    number: int
    created_at: datetime
    source: str
    source_digest: str | None
    feature_count: int
    published: bool
    bbox: Bbox


@dataclass(frozen=True, slots=True)
class CampusSummary:
    id: str
    name: str
    current_revision: int
    updated_at: datetime
    bbox: Bbox


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored access token: metadata and the sha256 of the secret, never the secret."""

    id: str
    name: str
    role: Role
    token_hash: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    campuses: tuple[str, ...] | None  # None: every campus

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A browser session: the sha256 of its id (never the id) and the token it stands for."""

    session_hash: str
    token: TokenRecord
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        """Usable: neither revoked nor expired itself, and its token still active."""
        return self.revoked_at is None and now < self.expires_at and self.token.active(now)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts: datetime
    action: str
    token_id: str | None = None
    token_name: str | None = None
    campus_id: str | None = None
    detail: str = ""
    client: str = ""
    count: int = 1  # > 1: a coalesced row standing for this many like entries
    org_id: str | None = None  # the organisation of who acted (None: unknown, a share link)
    user_id: str | None = None  # the person, if a person acted
    credential_kind: str | None = None  # token, session, person_session, share, share_session
    credential_id: str | None = None  # the token's or share link's id (never a secret)
    outcome: str = "ok"  # ok, refused (401/403/404/429), failed
    status: int | None = None  # the HTTP status of a refusal


@dataclass(frozen=True, slots=True)
class ImageryInfo:
    """One stored version of a campus's orthophoto (an EPSG:3857 GeoTIFF), without its bytes."""

    campus_id: str
    version: int
    created_at: datetime
    source_name: str
    source_digest: str  # sha256 of the file as attached
    source_crs: str
    actor: str
    attribution: str
    digest: str  # sha256 of the stored GeoTIFF
    size_bytes: int
    width: int
    height: int
    resolution_m: float
    bounds_3857: tuple[float, float, float, float]  # west, south, east, north


@dataclass(frozen=True, slots=True)
class ImageryRecord:
    """A stored orthophoto version: its metadata and the GeoTIFF itself."""

    info: ImageryInfo
    data: bytes


class CampusStore(Protocol):
    """Storage for campuses (as numbered revisions), access tokens, sessions and the audit log."""

    def save_revision(
        self, campus: Campus, *, source: str, source_digest: str | None = None,
        publish: bool = True,
    ) -> RevisionInfo:
        """Store ``campus`` as a new revision; if ``publish``, make it current atomically."""
        ...

    def campus(self, campus_id: str, revision: int | None = None) -> Campus:
        """The current (or a given) revision of a campus; raises ``CampusNotFound``."""
        ...

    def current_revision(self, campus_id: str) -> int: ...

    def cached_current_revision(self, campus_id: str) -> int | None:
        """The current revision if it is cached and fresh (no I/O), else None."""
        ...

    def list_campuses(self) -> list[CampusSummary]: ...

    def revisions(self, campus_id: str) -> list[RevisionInfo]: ...

    def revision_info(self, campus_id: str, number: int) -> RevisionInfo | None:
        """One revision's metadata (published or not), or None if there is no such revision."""
        ...

    def campuses_at(self, lon: float, lat: float) -> list[str]:
        """Ids of campuses whose current grid's lon/lat box holds the point, sorted."""
        ...

    def campuses_in(self, box: Bbox) -> list[str]:
        """Ids of campuses whose current grid's lon/lat box meets ``box`` (edges count), sorted."""
        ...

    def buildings_at(self, lon: float, lat: float) -> list[tuple[str, str]]:
        """(campus id, building id) of current buildings whose footprint covers the point."""
        ...

    def save_imagery(
        self, campus_id: str, prepared: PreparedImagery, *, source_name: str, actor: str,
        attribution: str = "",
    ) -> int:
        """Store an orthophoto as the campus's next imagery version (earlier versions stay);
        its number. Raises ``CampusNotFound``."""
        ...

    def imagery(self, campus_id: str, version: int | None = None) -> ImageryRecord | None:
        """The current (or a given) imagery version with its bytes; None if there is none."""
        ...

    def imagery_info(self, campus_id: str) -> ImageryInfo | None:
        """The current imagery version's metadata (cached like the current revision)."""
        ...

    def imagery_versions(self, campus_id: str) -> list[ImageryInfo]:
        """Every stored imagery version of a campus, oldest first."""
        ...

    def add_token(
        self, *, token_id: str, name: str, role: Role, token_hash: str,
        expires_at: datetime | None, campuses: Sequence[str] | None = None,
    ) -> TokenRecord: ...

    def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...

    def credential_cached(self, digest: str) -> bool:
        """Whether a token or session with this hash would be answered without I/O now."""
        ...

    def tokens(self) -> list[TokenRecord]: ...

    def revoke_tokens(self, *, name: str | None = None, token_id: str | None = None) -> int:
        """Revoke tokens by name or id; returns how many were active."""
        ...

    def add_session(
        self, *, session_hash: str, token_id: str, expires_at: datetime
    ) -> SessionRecord:
        """Store a new session for a token (and drop sessions that have expired)."""
        ...

    def session_by_hash(self, session_hash: str) -> SessionRecord | None:
        """The session with this hash, with its token, whatever their state."""
        ...

    def revoke_session(self, session_hash: str) -> bool:
        """Revoke one session; returns whether it was active."""
        ...

    def audit(self, entry: AuditEntry) -> None:
        """Queue an entry (written in batches; see :mod:`api.audit`)."""
        ...

    def audit_coalesced(self, entry: AuditEntry, key: Hashable) -> None:
        """Queue a refusal: the first of ``key`` in its minute, the rest as one counted row."""
        ...

    def flush_audit(self) -> None:
        """Write every queued audit entry now."""
        ...

    def audit_would_wait(self) -> bool:
        """Whether :meth:`audit` could block now (a full batch is still unwritten)."""
        ...

    def audit_log(
        self, *, campus_id: str | None = None, campuses: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Newest first; ``campuses`` limits it to entries about those campuses only."""
        ...

    def close(self) -> None: ...
