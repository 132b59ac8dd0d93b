"""Publishing drafts, rolling back, and walk-through verification records.

An import or edit stores a *draft* revision (:meth:`api.store.CampusStore.save_revision` with
``publish=False``); readers see only the campus's *current* revision. :meth:`Publishing.publish`
makes a stored revision current, atomically and with optimistic concurrency: the caller names
the revision it expects to be current (the one it reviewed the draft against), and the flip is
one conditional ``UPDATE campuses SET current_revision = N WHERE current_revision = M``. Of two
editors publishing at once, one wins and the other's update matches no row: a
:class:`~gridmap.errors.RevisionConflict` (409) naming both revisions, nothing changed. The
checks before the flip (revision known, not already current, servable) read in their own
transaction, and the flip's first statement is the write, so SQLite's writer lock and
PostgreSQL's row lock serialise the two flips and the loser re-reads the winner's row. A
rollback is a publish of an earlier, once-published revision under the same rule.

Walk-through verification (yearly in several states): a record per campus or building: who,
organisation, date, checklist of items checked, notes, due date (default one year on).
:meth:`Publishing.status` says how verified a campus is: each building of its current revision
counts from its latest record (its own or a campus-wide one), and the campus is as verified as
its least recently walked building. The ``verified_on`` date a campus file gave, if any, counts
as a campus-wide record.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.audit import clean_text
from api.errors import InvalidParameter
from api.store import (
    Base,
    CampusRow,
    CampusStore,
    FeatureRow,
    PerStore,
    RevisionInfo,
    RevisionRow,
    SqlCampusStore,
    utcnow,
)
from gridmap.errors import (
    AlreadyCurrent,
    CampusNotFound,
    NotFound,
    RevisionConflict,
)
from gridmap.model import Campus

#: how long a walk-through stays current unless its record says otherwise
DEFAULT_VALID_DAYS = 365
MAX_CHECKLIST_ITEMS = 100
MAX_NOTES = 4000


class VerificationRow(Base):
    """One walk-through: of a whole campus (``building_id`` None) or of one building."""

    __tablename__ = "verifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    campus_id: Mapped[str] = mapped_column(
        ForeignKey("campuses.id", ondelete="CASCADE"), index=True)
    building_id: Mapped[str | None] = mapped_column(String(200))
    verified_on: Mapped[date] = mapped_column(Date)
    verified_by: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(300))
    org_id: Mapped[str | None] = mapped_column(String(40))
    checklist: Mapped[list[str]] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))


# --- value objects --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishResult:
    campus_id: str
    number: int
    previous: int | None
    rollback: bool

    def line(self) -> str:
        what = "rolled back to" if self.rollback else "published"
        was = "none" if self.previous is None else str(self.previous)
        return f"{self.campus_id}: {what} revision {self.number} (was {was})"


@dataclass(frozen=True, slots=True)
class PublicationState:
    """A campus's current revision (None: nothing published yet) and every stored revision."""

    campus_id: str
    current: int | None
    revisions: tuple[RevisionInfo, ...]

    def revision(self, number: int) -> RevisionInfo | None:
        return next((r for r in self.revisions if r.number == number), None)


@dataclass(frozen=True, slots=True)
class Verification:
    id: str
    campus_id: str
    building_id: str | None
    verified_on: date
    verified_by: str
    organisation: str
    checklist: tuple[str, ...]
    notes: str
    due_on: date
    recorded_at: datetime | None
    recorded_by: str
    org_id: str | None = None

    def overdue(self, today: date) -> bool:
        return today > self.due_on

    def line(self) -> str:
        """``verified on 2026-08-14 by Jane Roe (Lincoln USD)``; a date from the campus file
        names nobody."""
        who = f" by {self.verified_by}" if self.verified_by else ""
        org = f" ({self.organisation})" if self.organisation else ""
        return f"verified on {self.verified_on.isoformat()}{who}{org}"

    def to_dict(self, today: date) -> dict[str, Any]:
        return {"id": self.id, "campus_id": self.campus_id, "building_id": self.building_id,
                "verified_on": self.verified_on.isoformat(), "verified_by": self.verified_by,
                "organisation": self.organisation, "checklist": list(self.checklist),
                "notes": self.notes, "due_on": self.due_on.isoformat(),
                "overdue": self.overdue(today), "line": self.line(),
                "recorded_at": None if self.recorded_at is None
                else self.recorded_at.isoformat(),
                "recorded_by": self.recorded_by}


@dataclass(frozen=True, slots=True)
class VerificationStatus:
    """How verified a campus is: its weakest building's latest walk-through (None: never)."""

    campus_id: str
    latest: Verification | None
    unverified_buildings: tuple[str, ...]  # short names of buildings no record covers

    def overdue(self, today: date) -> bool:
        return self.latest is None or bool(self.unverified_buildings) or \
            self.latest.overdue(today)

    def to_dict(self, today: date) -> dict[str, Any]:
        latest = self.latest
        return {
            "verified_on": None if latest is None else latest.verified_on.isoformat(),
            "verified_by": None if latest is None else latest.verified_by or None,
            "organisation": None if latest is None else latest.organisation or None,
            "due_on": None if latest is None else latest.due_on.isoformat(),
            "overdue": self.overdue(today),
            "unverified_buildings": list(self.unverified_buildings),
            "line": "never verified" if latest is None else latest.line(),
        }


# --- the store side -------------------------------------------------------------------------


class Publishing:
    """Publishing and verification on one store's database (see :func:`publishing`)."""

    def __init__(self, store: SqlCampusStore) -> None:
        self.store = store
        self._sessions: sessionmaker[Session] = sessionmaker(store.engine,
                                                             expire_on_commit=False)
        #: called after the checks and before the flip (campus id, revision, expected): tests
        #: hold two publishes here to race them deterministically
        self.before_flip: Callable[[str, int, int | None], object] | None = None

    # publishing ------------------------------------------------------------------------------

    def state(self, campus_id: str) -> PublicationState:
        """The campus's current revision and revisions; :class:`CampusNotFound` if none."""
        with self._sessions() as session:
            row = session.get(CampusRow, campus_id)
            if row is None:
                raise CampusNotFound(f"no campus {campus_id!r}",
                                     user_message=f"unknown campus {campus_id!r}")
            current = row.current_revision
        return PublicationState(campus_id, current, tuple(self.store.revisions(campus_id)))

    def publish(
        self, campus_id: str, number: int, *, expect_current: int | None,
        check: Callable[[Campus], object] | None = None, rollback: bool = False,
    ) -> PublishResult:
        """Make revision ``number`` current if ``expect_current`` still is (None: nothing
        published yet). ``check`` runs on the revision first (:func:`api.publish.check_servable`
        raises :class:`~gridmap.errors.Unservable`). A rollback must name an earlier revision
        that was published before. Raises ``CampusNotFound``/``NotFound`` (404),
        ``AlreadyCurrent``/``RevisionConflict`` (409), ``Unservable`` (422); nothing changes
        unless it returns."""
        state = self.state(campus_id)
        info = state.revision(number)
        if info is None:
            raise NotFound(f"campus {campus_id} has no revision {number}",
                           user_message=f"campus {campus_id!r} has no revision {number}")
        if state.current == number:
            message = (f"revision {number} is already the published revision of "
                       f"{campus_id!r}; nothing changed")
            raise AlreadyCurrent(message, user_message=message)
        if expect_current != state.current:
            raise _conflict(campus_id, number, expect_current, state.current)
        if rollback and not (info.published and state.current is not None
                             and number < state.current):
            raise InvalidParameter(
                f"rollback of {campus_id} to {number}: not an earlier published revision",
                user_message=f"revision {number} is not an earlier published revision of "
                             f"{campus_id!r}; publish a draft with publish, not rollback")
        campus = self.store.campus(campus_id, number)
        if check is not None:
            check(campus)
        if self.before_flip is not None:
            self.before_flip(campus_id, number, expect_current)
        with self._sessions.begin() as session:
            # the write comes first: it takes the lock and sees the latest committed row
            flip = (update(CampusRow).where(CampusRow.id == campus_id)
                    .values(current_revision=number, name=campus.name, updated_at=utcnow()))
            flip = flip.where(CampusRow.current_revision.is_(None) if expect_current is None
                              else CampusRow.current_revision == expect_current)
            if not getattr(session.execute(flip), "rowcount", 0):
                actual = None  # read below, after this transaction ends without a change
            else:
                session.execute(update(RevisionRow)
                                .where(RevisionRow.campus_id == campus_id,
                                       RevisionRow.number == number)
                                .values(published=True))
                actual = number
        self.store._current.drop(campus_id)  # this process sees the flip at once
        if actual != number:
            raise _conflict(campus_id, number, expect_current, self.state(campus_id).current)
        return PublishResult(campus_id, number, state.current, rollback)

    # verification ----------------------------------------------------------------------------

    def add_verification(
        self, campus_id: str, *, verified_on: date, verified_by: str, organisation: str,
        checklist: Sequence[str], notes: str = "", building: str | None = None,
        due_on: date | None = None, recorded_by: str, org_id: str | None = None,
        today: date | None = None,
    ) -> Verification:
        """Record a walk-through of the campus (or of ``building``: its id or short name in
        the current revision). Raises ``CampusNotFound``, ``NotFound`` (no such building) or
        ``InvalidParameter`` (a date in the future, a due date not after it, empty names,
        too many or too long items)."""
        today = today or utcnow().date()
        verified_by = clean_text(verified_by.strip(), 200)
        organisation = clean_text(organisation.strip(), 300)
        items = tuple(clean_text(item.strip(), 200) for item in checklist if item.strip())
        if not verified_by or not organisation:
            raise InvalidParameter("a walk-through names who walked it and their organisation")
        if verified_on > today + timedelta(days=1):  # a day's grace for time zones
            raise InvalidParameter(f"verified on {verified_on.isoformat()}: that is in the "
                                   "future")
        if len(items) > MAX_CHECKLIST_ITEMS:
            raise InvalidParameter(f"at most {MAX_CHECKLIST_ITEMS} checklist items")
        if len(notes) > MAX_NOTES:
            raise InvalidParameter(f"notes of at most {MAX_NOTES} characters")
        due = due_on or one_year_after(verified_on)
        if due <= verified_on:
            raise InvalidParameter(f"due on {due.isoformat()}: not after the walk-through "
                                   f"({verified_on.isoformat()})")
        building_id = None if building is None else self._building_id(campus_id, building)
        row = VerificationRow(
            id="ver_" + secrets.token_hex(8), campus_id=campus_id, building_id=building_id,
            verified_on=verified_on, verified_by=verified_by, organisation=organisation,
            org_id=org_id, checklist=list(items), notes=clean_text(notes, MAX_NOTES),
            due_on=due, recorded_at=utcnow(), recorded_by=clean_text(recorded_by, 200))
        with self._sessions.begin() as session:
            if session.get(CampusRow, campus_id) is None:
                raise CampusNotFound(f"no campus {campus_id!r}",
                                     user_message=f"unknown campus {campus_id!r}")
            session.add(row)
            return _verification(row)

    def verifications(self, campus_id: str) -> list[Verification]:
        """Every walk-through of a campus, latest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(VerificationRow).where(VerificationRow.campus_id == campus_id)
                .order_by(VerificationRow.verified_on.desc(),
                          VerificationRow.recorded_at.desc())).all()
            return [_verification(r) for r in rows]

    def status(self, campus_id: str) -> VerificationStatus:
        """How verified the campus's current revision is (see the module docstring)."""
        return self.statuses([campus_id])[campus_id]

    def statuses(self, campus_ids: Iterable[str]) -> dict[str, VerificationStatus]:
        """:meth:`status` of several campuses in three queries."""
        ids = list(dict.fromkeys(campus_ids))
        if not ids:
            return {}
        with self._sessions() as session:
            rows = session.scalars(
                select(VerificationRow).where(VerificationRow.campus_id.in_(ids))).all()
            parts = session.execute(
                select(FeatureRow.campus_id, FeatureRow.feature_type, FeatureRow.feature_id,
                       FeatureRow.properties)
                .join(CampusRow, (CampusRow.id == FeatureRow.campus_id)
                      & (CampusRow.current_revision == FeatureRow.revision))
                .where(FeatureRow.campus_id.in_(ids),
                       FeatureRow.feature_type.in_(("building", "venue")))).all()
        records: dict[str, list[Verification]] = {cid: [] for cid in ids}
        for r in rows:
            records[r.campus_id].append(_verification(r))
        buildings: dict[str, dict[str, str]] = {cid: {} for cid in ids}
        from_file: dict[str, Verification] = {}
        for cid, kind, fid, props in parts:
            if kind == "building":
                buildings[cid][fid] = str(props.get("short_name") or fid)
            elif (found := _file_date(cid, props)) is not None:
                from_file[cid] = found
        return {cid: _status(cid, records[cid], buildings[cid], from_file.get(cid))
                for cid in ids}

    def _building_id(self, campus_id: str, building: str) -> str:
        with self._sessions() as session:
            rows = session.execute(
                select(FeatureRow.feature_id, FeatureRow.properties)
                .join(CampusRow, (CampusRow.id == FeatureRow.campus_id)
                      & (CampusRow.current_revision == FeatureRow.revision))
                .where(FeatureRow.campus_id == campus_id,
                       FeatureRow.feature_type == "building")).all()
        for fid, props in rows:
            if building in (fid, props.get("short_name")):
                return str(fid)
        known = ", ".join(sorted(str(p.get("short_name") or f) for f, p in rows)) or "none"
        raise NotFound(f"campus {campus_id} has no building {building!r} (its buildings: "
                       f"{known})", user_message=f"campus {campus_id!r} has no building "
                                                 f"{building!r} (its buildings: {known})")


_PUBLISHING: PerStore[Publishing] = PerStore(Publishing, sql_only="publishing needs")


def publishing(store: CampusStore) -> Publishing:
    """The one :class:`Publishing` of a store object (an SQL store: the only kind there is)."""
    return _PUBLISHING.of(store)


def book_verification(store: CampusStore, campus_id: str) -> tuple[date | None, str]:
    """What the printed book's title band says of the campus's walk-through: its date and who
    did it (``J. Roe (Okemos PD)``; empty for a date from the campus file), or (None, "")."""
    latest = publishing(store).status(campus_id).latest
    if latest is None:
        return None, ""
    who = latest.verified_by + (f" ({latest.organisation})" if latest.organisation else "")
    return latest.verified_on, who


def one_year_after(day: date) -> date:
    """The same day a year on (29 February: 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _conflict(campus_id: str, number: int, expected: int | None,
              actual: int | None) -> RevisionConflict:
    def name(n: int | None) -> str:
        return "no revision" if n is None else f"revision {n}"

    message = (f"cannot publish revision {number} of {campus_id!r}: you expected "
               f"{name(expected)} to be current, but {name(actual)} is (someone published "
               "meanwhile); review the changes against it and try again")
    return RevisionConflict(message, user_message=message)


def _verification(r: VerificationRow) -> Verification:
    from api.store import _utc

    return Verification(
        id=r.id, campus_id=r.campus_id, building_id=r.building_id, verified_on=r.verified_on,
        verified_by=r.verified_by, organisation=r.organisation,
        checklist=tuple(r.checklist or ()), notes=r.notes or "", due_on=r.due_on,
        recorded_at=_utc(r.recorded_at), recorded_by=r.recorded_by, org_id=r.org_id)


def _file_date(campus_id: str, venue_properties: dict[str, Any]) -> Verification | None:
    """The ``verified_on`` of the campus file (kept in the revision's meta), as a record."""
    text = (venue_properties.get("meta") or {}).get("verified_on", "")
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    if day is None:
        return None
    return Verification(id="", campus_id=campus_id, building_id=None, verified_on=day,
                        verified_by="", organisation="", checklist=(), notes="",
                        due_on=one_year_after(day), recorded_at=None,
                        recorded_by="campus file")


def _status(campus_id: str, records: list[Verification], buildings: dict[str, str],
            from_file: Verification | None) -> VerificationStatus:
    def newest(items: Iterable[Verification]) -> Verification | None:
        return max(items, default=None,
                   key=lambda v: (v.verified_on, v.recorded_at or datetime.min.replace(
                       tzinfo=utcnow().tzinfo)))

    # the campus file's date counts as a campus-wide walk-through, the oldest kind of record
    whole = newest([*(v for v in records if v.building_id is None),
                    *((from_file,) if from_file is not None else ())])
    if not buildings:
        return VerificationStatus(campus_id, whole, ())
    per_building: list[Verification] = []
    unverified: list[str] = []
    for b, short_name in sorted(buildings.items(), key=lambda kv: kv[1]):
        latest = newest([*(v for v in records if v.building_id == b),
                         *((whole,) if whole is not None else ())])
        if latest is None:
            unverified.append(short_name)
        else:
            per_building.append(latest)
    weakest = min(per_building, key=lambda v: (v.verified_on, v.due_on), default=None)
    return VerificationStatus(campus_id, weakest, tuple(unverified))
