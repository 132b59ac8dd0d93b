"""Who is who: organisations, people, partnerships, and who owns each token and campus.

An *organisation* is a school district (it owns campuses) or an agency (police, fire, EMS,
911/dispatch). A *person* belongs to one organisation with one role. A token belongs to a
person (it carries the person's role) or to a named *integration* of an organisation (a CAD
system; it carries its own role): the ``token_owners`` row says which, and a token is only ever
created together with it. A campus is owned by one district (``campus_owners``). A
*partnership* is the MOU in the data: a district grants an agency read access to all or some of
its campuses from a start date to an optional end date (inclusive, UTC), until revoked.

The tables hang on :class:`api.store.Base`; :class:`IdentityStore` works on a store's database
with its own caches, trusted for the store's cache TTL (at most 1 s), so a partnership granted,
ended or revoked, a person disabled, or a campus moved by *another* process is seen here within
a second; changes made through this object are seen at once. :func:`identity` gives the one
:class:`IdentityStore` of a store object.

A store with exactly one district needs no ``--org``: campuses without an owner row (saved
before organisations existed, or by code that saves revisions directly) are that district's;
creating a second district first writes that ownership down, so nothing changes hands.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    String,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.audit import clean_text
from api.errors import InvalidParameter
from api.store import (
    Base,
    CampusRow,
    CampusStore,
    PerStore,
    Role,
    SqlCampusStore,
    TokenRecord,
    TokenRow,
    TtlCache,
    utcnow,
)
from gridmap.errors import CampusNotFound, NotFound


class OrgKind(StrEnum):
    DISTRICT = "district"
    POLICE = "police"
    FIRE = "fire"
    EMS = "ems"
    DISPATCH = "dispatch"

    @property
    def is_agency(self) -> bool:
        return self is not OrgKind.DISTRICT


#: Roles a person or integration of an agency may have (an agency edits no campus).
AGENCY_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.OFFICER})

_EMAIL = re.compile(r"^[^@\s]{1,200}@[^@\s]{1,200}\.[^@\s.]{1,60}$")


# --- value objects --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Organisation:
    id: str
    name: str
    kind: OrgKind
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    email: str
    org_id: str
    role: Role
    name: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class Partnership:
    id: str
    district_id: str
    agency_id: str
    campuses: tuple[str, ...] | None  # None: every campus of the district, now and later
    starts_on: date
    ends_on: date | None  # the last day of access (inclusive), None: open-ended
    reference: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    def active(self, today: date) -> bool:
        return (self.revoked_at is None and self.starts_on <= today
                and (self.ends_on is None or today <= self.ends_on))

    def state(self, today: date) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if today < self.starts_on:
            return "not started"
        if self.ends_on is not None and today > self.ends_on:
            return "ended"
        return "active"


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Whose a token is: a person's (``user_id``) or an integration's of ``org_id``."""

    token_id: str
    org_id: str
    user_id: str | None
    integration: str | None


@dataclass(frozen=True, slots=True)
class PersonSession:
    """A browser session of a person (signed in with OpenID Connect): its hash, never its id."""

    session_hash: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


# --- tables ---------------------------------------------------------------------------------


class OrganisationRow(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PartnershipRow(Base):
    __tablename__ = "partnerships"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    district_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    campuses: Mapped[list[str] | None] = mapped_column(JSON)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TokenOwnerRow(Base):
    __tablename__ = "token_owners"

    token_id: Mapped[str] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"), index=True)
    integration: Mapped[str | None] = mapped_column(String(200))


class CampusOwnerRow(Base):
    __tablename__ = "campus_owners"

    campus_id: Mapped[str] = mapped_column(
        ForeignKey("campuses.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)


class PersonSessionRow(Base):
    __tablename__ = "person_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- the store ------------------------------------------------------------------------------


class IdentityStore:
    """Organisations, people, partnerships and ownership on a :class:`SqlCampusStore`'s
    database (see the module docstring for caching)."""

    def __init__(self, engine: Engine, ttl: float, clock: Callable[[], float]) -> None:
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self._orgs: TtlCache[str, Organisation | None] = TtlCache(ttl, clock)
        self._people: TtlCache[str, Person | None] = TtlCache(ttl, clock)
        self._owners: TtlCache[str, TokenOwner | None] = TtlCache(ttl, clock)
        self._visible: TtlCache[str, frozenset[str]] = TtlCache(ttl, clock)
        self._owned: TtlCache[str, frozenset[str]] = TtlCache(ttl, clock)
        self._person_sessions: TtlCache[str, PersonSession | None] = TtlCache(ttl, clock)

    def drop_caches(self) -> None:
        for cache in (self._orgs, self._people, self._owners, self._visible, self._owned,
                      self._person_sessions):
            cache.drop()

    # organisations ---------------------------------------------------------------------------

    def create_org(self, name: str, kind: OrgKind | str) -> Organisation:
        name = clean_text(name, 200).strip()
        if not name:
            raise InvalidParameter("an organisation needs a name")
        kind = _org_kind(kind)
        with self._sessions.begin() as session:
            if session.scalar(select(OrganisationRow).where(
                    func.lower(OrganisationRow.name) == name.lower())) is not None:
                raise InvalidParameter(f"there is already an organisation named {name!r}")
            if kind is OrgKind.DISTRICT:
                self._write_down_sole_district(session)
            row = OrganisationRow(id="org_" + secrets.token_hex(6), name=name, kind=kind.value,
                                  created_at=utcnow())
            session.add(row)
            org = _org(row)
        self.drop_caches()
        return org

    def _write_down_sole_district(self, session: Session) -> None:
        """Before a second district exists: campuses without an owner row become the first
        district's in writing (they were its already, see the module docstring)."""
        districts = session.scalars(select(OrganisationRow.id).where(
            OrganisationRow.kind == OrgKind.DISTRICT.value)).all()
        if len(districts) != 1:
            return
        for campus_id in _ownerless(session):
            session.add(CampusOwnerRow(campus_id=campus_id, org_id=districts[0]))

    def org(self, org_id: str) -> Organisation | None:
        def load() -> Organisation | None:
            with self._sessions() as session:
                row = session.get(OrganisationRow, org_id)
                return None if row is None else _org(row)

        return self._orgs.get(org_id, load)

    def cached_org(self, org_id: str) -> Organisation | None:
        return self._orgs.peek(org_id)

    def find_org(self, name_or_id: str) -> Organisation:
        """An organisation by id (``org_...``) or name (any case); :class:`NotFound` naming
        the organisations there are."""
        key = name_or_id.strip()
        with self._sessions() as session:
            row = session.get(OrganisationRow, key) or session.scalar(
                select(OrganisationRow).where(func.lower(OrganisationRow.name) == key.lower()))
            if row is not None:
                return _org(row)
            names = session.scalars(select(OrganisationRow.name)
                                    .order_by(OrganisationRow.name)).all()
        there = ", ".join(repr(n) for n in names) if names else "none yet"
        raise NotFound(f"no organisation {key!r} (organisations: {there})",
                       user_message=f"unknown organisation {key!r}")

    def orgs(self) -> list[Organisation]:
        with self._sessions() as session:
            return [_org(r) for r in session.scalars(
                select(OrganisationRow).order_by(OrganisationRow.name))]

    def sole_district(self) -> Organisation:
        """The one district, when there is exactly one; else :class:`InvalidParameter` naming
        the choices (what ``gridmap import`` without ``--org`` needs)."""
        districts = [o for o in self.orgs() if o.kind is OrgKind.DISTRICT]
        if len(districts) == 1:
            return districts[0]
        if not districts:
            raise InvalidParameter(
                "there is no district yet: create one with "
                "`gridmap org create NAME --kind district`, then name it with --org")
        names = ", ".join(repr(d.name) for d in districts)
        raise InvalidParameter(f"which district owns it? name one with --org ({names})")

    # people ----------------------------------------------------------------------------------

    def create_person(self, email: str, org_id: str, role: Role | str,
                      name: str = "") -> Person:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidParameter(f"{email[:100]!r} is not an email address")
        role = _role(role)
        org = self.org(org_id)
        if org is None:
            raise NotFound(f"no organisation {org_id!r}")
        _check_role_fits(role, org)
        with self._sessions.begin() as session:
            if session.scalar(select(PersonRow.id).where(PersonRow.email == email)):
                raise InvalidParameter(f"there is already a person with the email {email!r}")
            row = PersonRow(id="usr_" + secrets.token_hex(6), email=email, org_id=org.id,
                            role=role.value, name=clean_text(name, 200), created_at=utcnow(),
                            disabled_at=None)
            session.add(row)
            person = _person(row)
        self._people.drop(person.id)
        return person

    def person(self, user_id: str) -> Person | None:
        def load() -> Person | None:
            with self._sessions() as session:
                row = session.get(PersonRow, user_id)
                return None if row is None else _person(row)

        return self._people.get(user_id, load)

    def cached_person(self, user_id: str) -> Person | None:
        return self._people.peek(user_id)

    def person_by_email(self, email: str) -> Person | None:
        with self._sessions() as session:
            row = session.scalar(select(PersonRow).where(
                PersonRow.email == email.strip().lower()))
            return None if row is None else _person(row)

    def people(self, org_id: str | None = None) -> list[Person]:
        stmt = select(PersonRow).order_by(PersonRow.email)
        if org_id is not None:
            stmt = stmt.where(PersonRow.org_id == org_id)
        with self._sessions() as session:
            return [_person(r) for r in session.scalars(stmt)]

    def disable_person(self, user_id: str) -> bool:
        """Disable a person (their tokens and sessions stop working); whether they were
        active."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(PersonRow).where(PersonRow.id == user_id, PersonRow.disabled_at.is_(None))
                .values(disabled_at=utcnow()))
            changed = bool(getattr(result, "rowcount", 0))
        self._people.drop(user_id)
        return changed

    # token ownership -------------------------------------------------------------------------

    def add_owned_token(
        self, *, token_id: str, name: str, role: Role, token_hash: str,
        expires_at: datetime | None, campuses: Sequence[str] | None, owner: TokenOwner,
    ) -> TokenRecord:
        """The token row and its owner row, in one transaction (never a token of nobody)."""
        if (owner.user_id is None) == (owner.integration is None):
            raise InvalidParameter("a token belongs to a person or to an integration")
        row = TokenRow(id=token_id, name=name, role=role.value, token_hash=token_hash,
                       created_at=utcnow(), expires_at=expires_at, revoked_at=None,
                       campuses=None if campuses is None else list(campuses))
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            session.add(TokenOwnerRow(token_id=token_id, org_id=owner.org_id,
                                      user_id=owner.user_id, integration=owner.integration))
            record = TokenRecord(id=row.id, name=row.name, role=role, token_hash=token_hash,
                                 created_at=row.created_at, expires_at=expires_at,
                                 revoked_at=None,
                                 campuses=None if campuses is None else tuple(campuses))
        self._owners.drop(token_id)
        return record

    def token_owner(self, token_id: str) -> TokenOwner | None:
        def load() -> TokenOwner | None:
            with self._sessions() as session:
                row = session.get(TokenOwnerRow, token_id)
                return None if row is None else _owner(row)

        return self._owners.get(token_id, load)

    def cached_token_owner(self, token_id: str) -> TokenOwner | None:
        return self._owners.peek(token_id)

    def token_owners(self) -> dict[str, TokenOwner]:
        with self._sessions() as session:
            return {r.token_id: _owner(r) for r in session.scalars(select(TokenOwnerRow))}

    # campuses --------------------------------------------------------------------------------

    def assign_campus(self, campus_id: str, org_id: str) -> None:
        """Make a district the owner of a campus (an import names it). A campus owned by
        another district is refused: ownership moves only by a deliberate ``move``."""
        org = self.org(org_id)
        if org is None or org.kind is not OrgKind.DISTRICT:
            raise InvalidParameter(f"{org_id!r} is not a district: only districts own campuses")
        with self._sessions.begin() as session:
            if session.get(CampusRow, campus_id) is None:
                raise CampusNotFound(f"no campus {campus_id!r}",
                                     user_message=f"unknown campus {campus_id!r}")
            row = session.get(CampusOwnerRow, campus_id)
            if row is None:
                session.add(CampusOwnerRow(campus_id=campus_id, org_id=org.id))
            elif row.org_id != org.id:
                other = session.get(OrganisationRow, row.org_id)
                raise InvalidParameter(
                    f"campus {campus_id!r} belongs to "
                    f"{other.name if other else row.org_id}, not {org.name}")
        self._visible.drop()
        self._owned.drop()

    def check_may_own(self, campus_id: str, org_id: str) -> None:
        """Raise if importing ``campus_id`` for ``org_id`` would take another district's
        campus (checked before anything is stored)."""
        owner = self.campus_owner(campus_id)
        if owner is not None and owner != org_id:
            org = self.org(owner)
            raise InvalidParameter(
                f"campus {campus_id!r} belongs to {org.name if org else owner}; "
                "import it as that district")

    def campus_owner(self, campus_id: str) -> str | None:
        with self._sessions() as session:
            row = session.get(CampusOwnerRow, campus_id)
            if row is not None:
                return row.org_id
            if session.get(CampusRow, campus_id) is None:
                return None
            return _sole_district_id(session)

    def owned_campuses(self, org_id: str) -> frozenset[str]:
        """Campuses this organisation owns (a district's; an agency owns none)."""
        def load() -> frozenset[str]:
            with self._sessions() as session:
                return _owned(session, org_id)

        return self._owned.get(org_id, load)

    def cached_owned_campuses(self, org_id: str) -> frozenset[str] | None:
        return self._owned.peek(org_id)

    def visible_campuses(self, org_id: str) -> frozenset[str]:
        """Campuses this organisation may read: its own, and those an active partnership
        grants it (today, UTC)."""
        def load() -> frozenset[str]:
            today = utcnow().date()
            with self._sessions() as session:
                seen = set(_owned(session, org_id))
                grants = session.scalars(select(PartnershipRow).where(
                    PartnershipRow.agency_id == org_id, PartnershipRow.revoked_at.is_(None)))
                for grant in grants:
                    p = _partnership(grant)
                    if not p.active(today):
                        continue
                    theirs = _owned(session, p.district_id)
                    seen |= theirs if p.campuses is None else theirs & set(p.campuses)
                return frozenset(seen)

        return self._visible.get(org_id, load)

    def cached_visible_campuses(self, org_id: str) -> frozenset[str] | None:
        return self._visible.peek(org_id)

    # partnerships ----------------------------------------------------------------------------

    def grant(
        self, *, district_id: str, agency_id: str, campuses: Sequence[str] | None = None,
        starts_on: date | None = None, ends_on: date | None = None, reference: str = "",
        created_by: str = "",
    ) -> Partnership:
        district, agency = self.org(district_id), self.org(agency_id)
        if district is None or district.kind is not OrgKind.DISTRICT:
            raise InvalidParameter(f"{district_id!r} is not a district: only a district grants")
        if agency is None or not agency.kind.is_agency:
            raise InvalidParameter(f"{agency_id!r} is not an agency (police, fire, ems, "
                                   "dispatch): partnerships grant agencies access")
        starts_on = starts_on or utcnow().date()
        if ends_on is not None and ends_on < starts_on:
            raise InvalidParameter(f"the partnership would end ({ends_on}) before it starts "
                                   f"({starts_on})")
        chosen: list[str] | None = None
        if campuses is not None:
            chosen = sorted(set(campuses))
            if not chosen:
                raise InvalidParameter("a partnership for some campuses names at least one")
            owned = self.owned_campuses(district.id)
            foreign = [c for c in chosen if c not in owned]
            if foreign:
                raise InvalidParameter(f"{district.name} owns no campus {foreign[0]!r}: a "
                                       "district grants access to its own campuses only")
        row = PartnershipRow(
            id="prt_" + secrets.token_hex(6), district_id=district.id, agency_id=agency.id,
            campuses=chosen, starts_on=starts_on, ends_on=ends_on,
            reference=clean_text(reference, 2000), created_at=utcnow(),
            created_by=clean_text(created_by, 200), revoked_at=None)
        with self._sessions.begin() as session:
            session.add(row)
            partnership = _partnership(row)
        self._visible.drop()
        return partnership

    def revoke_partnership(self, partnership_id: str) -> bool:
        """Revoke a partnership; whether it was not revoked before. Access ends at once here
        and within the cache TTL (≤ 1 s) in every other process."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(PartnershipRow)
                .where(PartnershipRow.id == partnership_id, PartnershipRow.revoked_at.is_(None))
                .values(revoked_at=utcnow()))
            changed = bool(getattr(result, "rowcount", 0))
        self._visible.drop()
        return changed

    def partnership(self, partnership_id: str) -> Partnership | None:
        with self._sessions() as session:
            row = session.get(PartnershipRow, partnership_id)
            return None if row is None else _partnership(row)

    def partnerships(self, org_id: str | None = None) -> list[Partnership]:
        """Every partnership (or those where ``org_id`` is the district or the agency)."""
        stmt = select(PartnershipRow).order_by(PartnershipRow.created_at)
        if org_id is not None:
            stmt = stmt.where((PartnershipRow.district_id == org_id)
                              | (PartnershipRow.agency_id == org_id))
        with self._sessions() as session:
            return [_partnership(r) for r in session.scalars(stmt)]

    # person sessions (OpenID Connect sign-in) -------------------------------------------------

    def add_person_session(self, *, session_hash: str, user_id: str,
                           expires_at: datetime) -> PersonSession:
        now = utcnow()
        with self._sessions.begin() as session:
            if session.get(PersonRow, user_id) is None:
                raise NotFound(f"no person {user_id}")
            session.execute(delete(PersonSessionRow).where(PersonSessionRow.expires_at < now))
            row = PersonSessionRow(session_hash=session_hash, user_id=user_id, created_at=now,
                                   expires_at=expires_at, revoked_at=None)
            session.add(row)
            record = _person_session(row)
        self._person_sessions.drop(session_hash)
        return record

    def person_session(self, session_hash: str) -> PersonSession | None:
        def load() -> PersonSession | None:
            with self._sessions() as session:
                row = session.get(PersonSessionRow, session_hash)
                return None if row is None else _person_session(row)

        return self._person_sessions.get(session_hash, load)

    def cached_person_session(self, session_hash: str) -> PersonSession | None:
        return self._person_sessions.peek(session_hash)

    def revoke_person_session(self, session_hash: str) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(
                update(PersonSessionRow)
                .where(PersonSessionRow.session_hash == session_hash,
                       PersonSessionRow.revoked_at.is_(None))
                .values(revoked_at=utcnow()))
            ended = bool(getattr(result, "rowcount", 0))
        self._person_sessions.drop(session_hash)
        return ended


def _identity_of(store: SqlCampusStore) -> IdentityStore:
    tokens = store._tokens
    return IdentityStore(store.engine, tokens.ttl_s, tokens.clock)


_IDENTITIES: PerStore[IdentityStore] = PerStore(_identity_of, sql_only="organisations need")


def identity(store: CampusStore) -> IdentityStore:
    """The :class:`IdentityStore` of a store object (one each, so its caches are shared), on
    the store's database with the store's cache TTL and clock."""
    return _IDENTITIES.of(store)


# --- helpers --------------------------------------------------------------------------------


def parse_org_kind(text: str) -> OrgKind:
    return _org_kind(text)


def _org_kind(kind: OrgKind | str) -> OrgKind:
    try:
        return OrgKind(str(kind).strip().lower())
    except ValueError:
        raise InvalidParameter(
            f"unknown organisation kind {str(kind)[:40]!r} "
            f"(one of {', '.join(k.value for k in OrgKind)})") from None


def _role(role: Role | str) -> Role:
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise InvalidParameter(
            f"unknown role {str(role)[:40]!r} (one of {', '.join(r.value for r in Role)})"
        ) from None


def _check_role_fits(role: Role, org: Organisation) -> None:
    if org.kind.is_agency and role not in AGENCY_ROLES:
        raise InvalidParameter(f"{org.name} is an agency ({org.kind.value}): an agency edits "
                               f"no campus, so it has no {role.value}s")


def check_role_fits(role: Role | str, org: Organisation) -> Role:
    """The role, if people and integrations of ``org`` may have it."""
    checked = _role(role)
    _check_role_fits(checked, org)
    return checked


def _ownerless(session: Session) -> list[str]:
    return list(session.scalars(
        select(CampusRow.id).outerjoin(CampusOwnerRow, CampusOwnerRow.campus_id == CampusRow.id)
        .where(CampusOwnerRow.campus_id.is_(None))))


def _sole_district_id(session: Session) -> str | None:
    districts = session.scalars(select(OrganisationRow.id).where(
        OrganisationRow.kind == OrgKind.DISTRICT.value).limit(2)).all()
    return districts[0] if len(districts) == 1 else None


def _owned(session: Session, org_id: str) -> frozenset[str]:
    owned = set(session.scalars(select(CampusOwnerRow.campus_id)
                                .where(CampusOwnerRow.org_id == org_id)))
    if _sole_district_id(session) == org_id:
        owned.update(_ownerless(session))
    return frozenset(owned)


def _utc(dt: datetime) -> datetime:
    from datetime import UTC

    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _org(r: OrganisationRow) -> Organisation:
    return Organisation(r.id, r.name, OrgKind(r.kind), _utc(r.created_at))


def _person(r: PersonRow) -> Person:
    return Person(r.id, r.email, r.org_id, Role(r.role), r.name or "", _utc(r.created_at),
                  None if r.disabled_at is None else _utc(r.disabled_at))


def _owner(r: TokenOwnerRow) -> TokenOwner:
    return TokenOwner(r.token_id, r.org_id, r.user_id, r.integration)


def _partnership(r: PartnershipRow) -> Partnership:
    return Partnership(
        id=r.id, district_id=r.district_id, agency_id=r.agency_id,
        campuses=None if r.campuses is None else tuple(r.campuses), starts_on=r.starts_on,
        ends_on=r.ends_on, reference=r.reference or "", created_at=_utc(r.created_at),
        created_by=r.created_by or "",
        revoked_at=None if r.revoked_at is None else _utc(r.revoked_at))


def _person_session(r: PersonSessionRow) -> PersonSession:
    return PersonSession(r.session_hash, r.user_id, _utc(r.created_at), _utc(r.expires_at),
                         None if r.revoked_at is None else _utc(r.revoked_at))
