"""Share links: mutual aid during an incident, for a neighbouring agency with no account.

A district admin (for a campus it owns) or a partner agency's admin (for a campus its
partnership grants) issues a *share link*: read-only access to one campus for a few hours
(default :data:`DEFAULT_HOURS`, at most :data:`MAX_HOURS`), revocable at any time. Its secret is
``gsh_`` + 32 random bytes (url-safe base64), shown once; only its sha256 is stored.

It is used in two ways:

- as a bearer credential for the API (``Authorization: Bearer gsh_…``);
- in a browser, as ``https://host/share#gsh_…``: the secret sits in the URL's *fragment*, which
  a browser never sends to a server, so it reaches no access log, proxy or ``Referer``. The
  page's script takes it out of the address bar at once, trades it (a POST) for a browser
  session limited to the campus and the link's lifetime (``gss_`` + 32 random bytes in the
  usual session cookie, stored hashed), and goes on to the campus's web map.

Whoever holds it is a :class:`~api.auth.Principal` with ``share_campus`` set, whose
``token_id`` is the link's id (``shr_…``): :mod:`api.authz` lets it READ that one campus and
nothing else, and every request it makes is audited under the link's id.

Links and share sessions read on a request's path are cached for the store's cache TTL (at most
1 s): a link revoked or expired through any process is refused by every worker within a second.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.audit import clean_text
from api.errors import InvalidParameter
from api.store import Base, CampusStore, PerStore, Role, TtlCache, _utc, utcnow
from gridmap.errors import CampusNotFound, NotFound, Unauthenticated

if TYPE_CHECKING:
    from api.auth import Principal

#: A share link lasts at most this long (mutual aid during one incident).
MAX_HOURS = 72
DEFAULT_HOURS = 12
SHARE_PREFIX = "gsh_"
SHARE_SESSION_PREFIX = "gss_"
_MAX_SECRET_LENGTH = 200


# --- tables ---------------------------------------------------------------------------------


class ShareLinkRow(Base):
    __tablename__ = "share_links"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    campus_id: Mapped[str] = mapped_column(
        ForeignKey("campuses.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[str | None] = mapped_column(String(40), index=True)  # the issuer's org
    created_by: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class ShareSessionRow(Base):
    __tablename__ = "share_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    link_id: Mapped[str] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# --- value objects --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A stored share link: who issued it, for which campus, until when; never the secret."""

    id: str
    campus_id: str
    secret_hash: str
    org_id: str | None
    created_by: str
    recipient: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if now < self.expires_at else "expired"

    def active(self, now: datetime) -> bool:
        return self.state(now) == "active"

    def to_dict(self, now: datetime) -> dict[str, object]:
        """What an admin sees of a link (never the secret nor its hash)."""
        return {
            "id": self.id, "campus": self.campus_id, "org_id": self.org_id,
            "created_by": self.created_by, "recipient": self.recipient,
            "created_at": self.created_at.isoformat(), "expires_at": self.expires_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "revoked_by": self.revoked_by, "state": self.state(now),
        }


@dataclass(frozen=True, slots=True)
class ShareSession:
    """A browser session opened with a share link; it ends with the link."""

    session_hash: str
    link: ShareLink
    expires_at: datetime

    def refusal(self, now: datetime) -> str | None:
        """Why it may not be used now (a message for the user), or None."""
        if self.link.revoked_at is not None:
            return "this share link was revoked"
        if now >= self.link.expires_at or now >= self.expires_at:
            return f"this share link expired at {self.link.expires_at:%Y-%m-%d %H:%M} UTC"
        return None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_hours(hours: float) -> float:
    """A share link's lifetime in hours, or :class:`InvalidParameter` naming the limit."""
    if not (isinstance(hours, int | float) and math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise InvalidParameter(
            f"a share link lasts more than 0 and at most {MAX_HOURS} hours (got {hours})",
            user_message=f"a share link lasts more than 0 and at most {MAX_HOURS} hours")
    return float(hours)


# --- the store ------------------------------------------------------------------------------


class ShareStore:
    """Share links and their browser sessions on a store's database (cached ≤ the store's
    TTL; see the module docstring)."""

    def __init__(self, store: CampusStore) -> None:
        engine = store.engine  # type: ignore[attr-defined]
        tokens: TtlCache[object, object] = store._tokens  # type: ignore[attr-defined]
        ttl, clock = tokens.ttl_s, tokens.clock
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self._links: TtlCache[str, ShareLink | None] = TtlCache(ttl, clock)
        self._browser: TtlCache[str, ShareSession | None] = TtlCache(ttl, clock)
        self.clock: Callable[[], float] = clock

    def create(
        self, *, campus_id: str, hours: float, org_id: str | None, created_by: str,
        recipient: str = "", now: datetime | None = None,
    ) -> tuple[str, ShareLink]:
        """A new link: the secret (show it once, never store it) and its record."""
        hours = check_hours(hours)
        now = now or utcnow()
        secret = SHARE_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            from api.store import CampusRow

            if session.get(CampusRow, campus_id) is None:
                raise CampusNotFound(f"no campus {campus_id!r}",
                                     user_message=f"unknown campus {campus_id!r}")
            row = ShareLinkRow(
                id="shr_" + secrets.token_hex(6), campus_id=campus_id,
                secret_hash=hash_secret(secret), org_id=org_id,
                created_by=clean_text(created_by, 200),
                recipient=clean_text(recipient, 200).strip(), created_at=now,
                expires_at=now + timedelta(hours=hours), revoked_at=None, revoked_by=None)
            session.add(row)
            session.flush()
            link = _link(row)
        self._links.drop(link.secret_hash)
        return secret, link

    def by_hash(self, secret_hash: str) -> ShareLink | None:
        def load() -> ShareLink | None:
            with self._sessions() as session:
                row = session.scalar(select(ShareLinkRow)
                                     .where(ShareLinkRow.secret_hash == secret_hash))
                return None if row is None else _link(row)

        return self._links.get(secret_hash, load)

    def cached_by_hash(self, secret_hash: str) -> tuple[bool, ShareLink | None]:
        """(whether the answer is cached, the link) without I/O."""
        return self._links.fresh(secret_hash), self._links.peek(secret_hash)

    def link(self, link_id: str) -> ShareLink | None:
        with self._sessions() as session:
            row = session.get(ShareLinkRow, link_id)
            return None if row is None else _link(row)

    def links(self, *, org_id: str | None = None, campuses: frozenset[str] | None = None
              ) -> list[ShareLink]:
        """Links issued by ``org_id`` or for one of ``campuses`` (either matches), newest
        first; with neither, every link."""
        stmt = select(ShareLinkRow).order_by(ShareLinkRow.created_at.desc())
        with self._sessions() as session:
            rows = [_link(r) for r in session.scalars(stmt)]
        if org_id is None and campuses is None:
            return rows
        return [r for r in rows
                if (org_id is not None and r.org_id == org_id)
                or (campuses is not None and r.campus_id in campuses)]

    def revoke(self, link_id: str, *, by: str) -> bool:
        """Revoke a link (and with it its browser sessions); whether it was not revoked yet."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(ShareLinkRow)
                .where(ShareLinkRow.id == link_id, ShareLinkRow.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_by=clean_text(by, 200)))
            ended = bool(getattr(result, "rowcount", 0))
        self._links.drop()
        self._browser.drop()
        return ended

    def add_session(self, link: ShareLink, session_hash: str) -> ShareSession:
        """A browser session for an active link (and the sessions that have expired dropped)."""
        now = utcnow()
        with self._sessions.begin() as session:
            session.execute(delete(ShareSessionRow).where(ShareSessionRow.expires_at < now))
            row = ShareSessionRow(session_hash=session_hash, link_id=link.id, created_at=now,
                                  expires_at=link.expires_at)
            session.add(row)
        record = ShareSession(session_hash, link, link.expires_at)
        self._browser.drop(session_hash)
        return record

    def session(self, session_hash: str) -> ShareSession | None:
        def load() -> ShareSession | None:
            with self._sessions() as session:
                found = session.execute(
                    select(ShareSessionRow, ShareLinkRow)
                    .join(ShareLinkRow, ShareLinkRow.id == ShareSessionRow.link_id)
                    .where(ShareSessionRow.session_hash == session_hash)).first()
                if found is None:
                    return None
                row, link = found
                return ShareSession(row.session_hash, _link(link), _utc(row.expires_at))

        return self._browser.get(session_hash, load)

    def cached_session(self, session_hash: str) -> tuple[bool, ShareSession | None]:
        return self._browser.fresh(session_hash), self._browser.peek(session_hash)

    def end_session(self, session_hash: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(ShareSessionRow)
                            .where(ShareSessionRow.session_hash == session_hash))
        self._browser.drop(session_hash)


def _link(r: ShareLinkRow) -> ShareLink:
    return ShareLink(
        id=r.id, campus_id=r.campus_id, secret_hash=r.secret_hash, org_id=r.org_id,
        created_by=r.created_by, recipient=r.recipient or "", created_at=_utc(r.created_at),
        expires_at=_utc(r.expires_at),
        revoked_at=None if r.revoked_at is None else _utc(r.revoked_at),
        revoked_by=r.revoked_by)


_SHARES: PerStore[ShareStore] = PerStore(ShareStore)


def shares(store: CampusStore) -> ShareStore:
    """The one :class:`ShareStore` of a store object (its caches are per store)."""
    return _SHARES.of(store)


# --- credentials ----------------------------------------------------------------------------


#: What a share link may read (route templates): lookups, the map (its page, tiles, imagery and
#: GeoJSON layers), the map book and the gazetteer. Anything else of its campus (revisions,
#: offline packages, jobs, drafts) is refused (403) by :meth:`api.context.AppContext.authorize`.
SHARE_ROUTES = frozenset({
    "/campuses/{campus_id}",
    "/campuses/{campus_id}/lookup",
    "/campuses/{campus_id}/cells/{label}",
    "/locate",
    "/campuses/{campus_id}/map",
    "/campuses/{campus_id}/levels/{ordinal}.geojson",
    "/campuses/{campus_id}/grid.geojson",
    "/campuses/{campus_id}/levels/{ordinal}/tiles/{z}/{x}/{y}.png",
    "/campuses/{campus_id}/levels/{ordinal}/tiles/{z}/{x}/{y}@2x.png",
    "/campuses/{campus_id}/imagery",
    "/campuses/{campus_id}/imagery/tiles/{z}/{x}/{y}.png",
    "/campuses/{campus_id}/imagery/tiles/{z}/{x}/{y}@2x.png",
    "/campuses/{campus_id}/book.pdf",
    "/campuses/{campus_id}/gazetteer.csv",
    "/campuses/{campus_id}/gazetteer.json",
})


def share_may_read(route: str) -> bool:
    """Whether a share link may read through this route (its path template)."""
    return route in SHARE_ROUTES


def is_share_credential(secret: str) -> bool:
    return secret.startswith((SHARE_PREFIX, SHARE_SESSION_PREFIX))


def link_principal(link: ShareLink, expires_at: datetime | None = None) -> Principal:
    """Whoever holds the link: reads its one campus (decided by :mod:`api.authz`)."""
    from api.auth import Principal

    return Principal(
        token_id=link.id, name=f"share link {link.id}", role=Role.OFFICER,
        campuses=(link.campus_id,), expires_at=expires_at or link.expires_at,
        share_campus=link.campus_id)


def _refusal(link: ShareLink, now: datetime) -> str | None:
    if link.revoked_at is not None:
        return "this share link was revoked"
    if now >= link.expires_at:
        return f"this share link expired at {link.expires_at:%Y-%m-%d %H:%M} UTC"
    return None


def verify_link(store: CampusStore, secret: str, now: datetime | None = None) -> ShareLink:
    """The active link of a presented ``gsh_`` secret; raises :class:`Unauthenticated`
    (revoked, expired, unknown) with a message saying which."""
    now = now or utcnow()
    if (not secret.startswith(SHARE_PREFIX) or len(secret) > _MAX_SECRET_LENGTH
            or not secret.isascii()):
        raise Unauthenticated("malformed share link", user_message="invalid share link")
    digest = hash_secret(secret)
    link = shares(store).by_hash(digest)
    if link is None or not hmac.compare_digest(link.secret_hash, digest):
        raise Unauthenticated("unknown share link", user_message="invalid share link")
    why = _refusal(link, now)
    if why is not None:
        raise Unauthenticated(f"share link {link.id}: {why}", user_message=why)
    return link


def share_principal(store: CampusStore, secret: str, now: datetime | None = None, *,
                    cached: bool = False) -> Principal | None:
    """The principal of a share link's secret (``gsh_``, a bearer credential) or of its
    browser session id (``gss_``); raises :class:`Unauthenticated`. ``cached``: answer only
    from the caches (no I/O), None when that cannot be done."""
    now = now or utcnow()
    if len(secret) > _MAX_SECRET_LENGTH or not secret.isascii():
        raise Unauthenticated("malformed share credential", user_message="invalid share link")
    box = shares(store)
    digest = hash_secret(secret)
    if secret.startswith(SHARE_SESSION_PREFIX):
        if cached:
            known, record = box.cached_session(digest)
            if not known:
                return None
        else:
            record = box.session(digest)
        if record is None or not hmac.compare_digest(record.session_hash, digest):
            raise Unauthenticated("unknown share session", user_message="invalid session")
        why = record.refusal(now)
        if why is not None:
            raise Unauthenticated(f"share link {record.link.id}: {why}", user_message=why)
        if not _issuer_sees(store, record.link, cached=cached):
            return None
        return link_principal(record.link, record.expires_at)
    if cached:
        known, cached_link = box.cached_by_hash(digest)
        if not known:
            return None
        if cached_link is None:
            raise Unauthenticated("unknown share link", user_message="invalid share link")
    link = verify_link(store, secret, now)
    if not _issuer_sees(store, link, cached=cached):
        return None
    return link_principal(link)


def _issuer_sees(store: CampusStore, link: ShareLink, *, cached: bool) -> bool:
    """Whether the organisation that issued the link still reads its campus (a partner agency
    whose partnership ended or was revoked: no more); raises :class:`Unauthenticated` if not.
    False: not known from the caches alone (``cached``). A link issued by no organisation (an
    operator at the command line, before organisations) is the campus owner's own."""
    if link.org_id is None:
        return True
    from api.store_identity import identity

    ident = identity(store)
    visible = (ident.cached_visible_campuses(link.org_id) if cached
               else ident.visible_campuses(link.org_id))
    if visible is None:
        return False
    if link.campus_id not in visible:
        raise Unauthenticated(
            f"share link {link.id}: {link.org_id} no longer sees {link.campus_id}",
            user_message="this share link ended: its issuer no longer has access to the campus")
    return True


def open_session(store: CampusStore, secret: str) -> tuple[str, ShareSession]:
    """Trade a link's secret for a browser session: the session id (for the cookie) and its
    record. Raises :class:`Unauthenticated` like :func:`verify_link`."""
    link = verify_link(store, secret)
    session_id = SHARE_SESSION_PREFIX + secrets.token_urlsafe(32)
    return session_id, shares(store).add_session(link, hash_secret(session_id))


def find_link(store: CampusStore, link_id: str) -> ShareLink:
    link = shares(store).link(link_id) if len(link_id) <= 40 else None
    if link is None:
        raise NotFound(f"no share link {link_id[:40]!r}",
                       user_message=f"unknown share link {link_id[:40]!r}")
    return link
