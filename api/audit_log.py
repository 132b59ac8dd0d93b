"""Who did what: attributing an audit entry, and reading the log as an organisation's admin.

Every entry records who acted (a person, an integration's token, a share link), their
organisation, the kind and id of the credential used (never the credential), what, when, from
where, and the outcome. :func:`attribution` fills the who-part from the request's principal on
the request's path (attribute reads only; a refused request without a principal is attributed
from the credential it presented, only as far as the caches already know it: no I/O).

An admin reads the log of *their own organisation's data* (:func:`scope_of`):

- entries about campuses their district owns, whoever acted (which agency looked at our
  schools, and when), share links included;
- entries of their own organisation's people and integrations, wherever they acted;
- entries of share links their organisation issued.

Nothing else: an agency's admin sees its own people's reads of a district's campus, not the
district's log. :func:`to_csv` neutralises every text cell against spreadsheet formulas, as the
gazetteer does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from api.share import SHARE_PREFIX, SHARE_SESSION_PREFIX, ShareLinkRow, hash_secret, shares
from api.store import AuditEntry, AuditRow, CampusStore, audit_entry_of
from api.tokens import SESSION_PREFIX, TOKEN_PREFIX

if TYPE_CHECKING:
    from fastapi import Request

    from api.auth import Principal

#: The most entries one query or export returns (narrow by time range for more).
MAX_ENTRIES = 50_000

COLUMNS = ("ts", "outcome", "status", "action", "campus", "org_id", "org_name",
           "credential_kind", "credential_id", "user_id", "token_name", "client", "count",
           "detail")


def attribution(request: Request, principal: Principal | None) -> dict[str, Any]:
    """The who-fields of an :class:`~api.store.AuditEntry` for this request."""
    if principal is None:
        return _presented(request)
    bearer = "authorization" in request.headers
    if principal.share_campus is not None:
        kind = "share" if bearer else "share_session"
    elif principal.token_id is None:
        kind = "person_session"
    else:
        kind = "token" if bearer else "session"
    return {"org_id": principal.org_id, "user_id": principal.user_id,
            "credential_kind": kind, "credential_id": principal.token_id}


def _presented(request: Request) -> dict[str, Any]:
    """Who a request without a principal claimed to be: the kind of credential it presented
    and, when the caches know it (a revoked token, an expired share link), its id."""
    header = request.headers.get("authorization")
    secret: str | None = None
    if header is not None:
        scheme, _, value = header.partition(" ")
        secret = value.strip() if scheme.lower() == "bearer" else None
        kind = "token"
    else:
        ctx = getattr(request.app.state, "ctx", None)
        cookie = None if ctx is None else request.cookies.get(ctx.settings.cookie_name)
        if cookie is None:
            return {}
        secret, kind = cookie, "session"
    if not secret or len(secret) > 200 or not secret.isascii():
        return {"credential_kind": kind}
    if secret.startswith((SHARE_PREFIX, SHARE_SESSION_PREFIX)):
        kind = "share" if secret.startswith(SHARE_PREFIX) else "share_session"
    elif not secret.startswith((TOKEN_PREFIX, SESSION_PREFIX)):
        return {"credential_kind": kind}
    store = request.app.state.ctx.store
    digest = hash_secret(secret)
    fields: dict[str, Any] = {"credential_kind": kind}
    try:
        if kind == "share":
            known, link = shares(store).cached_by_hash(digest)
            if known and link is not None:
                fields["credential_id"] = link.id
        elif kind == "token" and store.credential_cached(digest):
            record = store.token_by_hash(digest)
            if record is not None:
                fields["credential_id"] = record.id
                from api.store_identity import identity

                owner = identity(store).cached_token_owner(record.id)
                if owner is not None:
                    fields["org_id"] = owner.org_id
                    fields["user_id"] = owner.user_id
    except Exception:  # attribution is best effort; the refusal is audited regardless
        pass
    return fields


# --- reading the log ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditScope:
    """The part of the log one organisation's admins may read (see the module docstring)."""

    org_id: str
    owned_campuses: frozenset[str]
    #: a credential limited to some campuses reads only entries about those
    only_campuses: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    campus_id: str | None = None
    org_id: str | None = None  # who acted: this organisation's people and integrations
    action: str | None = None
    outcome: str | None = None
    credential_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


def scope_of(store: CampusStore, org_id: str,
             campuses: Iterable[str] | None = None) -> AuditScope:
    """What ``org_id``'s admins may read; ``campuses``: their credential's campus limit."""
    from api.store_identity import identity

    return AuditScope(org_id, frozenset(identity(store).owned_campuses(org_id)),
                      None if campuses is None else frozenset(campuses))


def query(store: CampusStore, scope: AuditScope | None, where: AuditFilter) -> list[AuditEntry]:
    """Entries in ``scope`` (None: the whole log, for the operator) matching ``where``, newest
    first, at most ``where.limit`` (capped at :data:`MAX_ENTRIES`)."""
    store.flush_audit()  # what this process queued is part of the log
    stmt = select(AuditRow).order_by(AuditRow.id.desc())
    stmt = stmt.limit(max(1, min(where.limit, MAX_ENTRIES)))
    if scope is not None:
        issued = select(ShareLinkRow.id).where(ShareLinkRow.org_id == scope.org_id)
        parts = [AuditRow.org_id == scope.org_id, AuditRow.credential_id.in_(issued)]
        if scope.owned_campuses:
            parts.append(AuditRow.campus_id.in_(sorted(scope.owned_campuses)))
        stmt = stmt.where(or_(*parts))
        if scope.only_campuses is not None:
            stmt = stmt.where(AuditRow.campus_id.in_(sorted(scope.only_campuses)))
    if where.campus_id is not None:
        stmt = stmt.where(AuditRow.campus_id == where.campus_id)
    if where.org_id is not None:
        stmt = stmt.where(AuditRow.org_id == where.org_id)
    if where.action is not None:
        stmt = stmt.where(AuditRow.action == where.action)
    if where.outcome is not None:
        stmt = stmt.where(AuditRow.outcome == where.outcome)
    if where.credential_id is not None:
        stmt = stmt.where(AuditRow.credential_id == where.credential_id)
    if where.since is not None:
        stmt = stmt.where(AuditRow.ts >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditRow.ts < where.until)
    sessions = store._sessions  # type: ignore[attr-defined]
    with sessions() as session:
        return [audit_entry_of(r) for r in session.scalars(stmt)]


def org_names(store: CampusStore, entries: Iterable[AuditEntry]) -> dict[str, str]:
    """The names of the organisations the entries mention (for readers of the export)."""
    from api.store_identity import identity

    ident = identity(store)
    names: dict[str, str] = {}
    for org_id in {e.org_id for e in entries if e.org_id}:
        org = ident.org(org_id)
        if org is not None:
            names[org_id] = org.name
    return names


def entry_dict(e: AuditEntry, names: dict[str, str]) -> dict[str, Any]:
    return {
        "ts": e.ts.isoformat(), "outcome": e.outcome, "status": e.status, "action": e.action,
        "campus": e.campus_id, "org_id": e.org_id,
        "org_name": None if e.org_id is None else names.get(e.org_id),
        "credential_kind": e.credential_kind, "credential_id": e.credential_id,
        "user_id": e.user_id, "token_id": e.token_id, "token_name": e.token_name,
        "client": e.client, "count": e.count, "detail": e.detail,
    }


def to_csv(entries: Sequence[AuditEntry], names: dict[str, str]) -> str:
    """CSV text with a header row (RFC 4180 quoting, CRLF line ends); every text cell
    neutralised so a spreadsheet runs no formula from it (a lookup's query is user text)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for e in entries:
        row = entry_dict(e, names)
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    from gridmap.gazetteer import neutralise  # the gazetteer's rule (its module is not small)

    return neutralise(str(value))
