"""Bearer tokens, roles and browser sessions.

A token is ``gm_`` + 32 random bytes (url-safe base64). Only its sha256 is stored; a presented
token is hashed and looked up by hash, then compared with :func:`hmac.compare_digest`. The
secret is shown once, when created.

Browsers log in by posting the token to ``/login``, which creates a *separate* session id
(``gs_`` + 32 random bytes; only its sha256 is stored) and sets that in an HttpOnly,
SameSite=Strict cookie, so the web map page, its tiles and its fetches authenticate without
JavaScript ever holding the token, and the long-lived token never travels in a cookie. A session
lasts ``session_max_age_seconds`` at most, ends at ``/logout``, and dies with its token (revoked
or expired). A session id is no bearer token and a token is no session id.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.audit_log import attribution
from api.share import SHARE_PREFIX, SHARE_SESSION_PREFIX
from api.store import AuditEntry, CampusStore, Role, SessionRecord, TokenRecord, utcnow
from api.store_identity import OrgKind, PersonSession, identity
from api.tokens import SESSION_PREFIX, TOKEN_PREFIX, create_token, generate_token, hash_token
from gridmap.errors import Unauthenticated

__all__ = ["SESSION_PREFIX", "TOKEN_PREFIX", "Principal", "authenticate", "create_token",
           "generate_token", "hash_token", "verify_session", "verify_token"]

_MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a token (of a person or an integration), a person's browser session, or
    a share link (``share_campus``); their organisation and role. What they may do is
    :mod:`api.authz`'s to decide, nobody else's."""

    token_id: str | None  # None: a person signed in with OpenID Connect (no token)
    name: str
    role: Role
    campuses: tuple[str, ...] | None  # a token limited to these campuses; None: no limit
    expires_at: datetime | None
    org_id: str | None = None
    org_kind: OrgKind | None = None
    user_id: str | None = None
    integration: str | None = None
    share_campus: str | None = None

    @property
    def is_admin(self) -> bool:
        """An admin of its organisation."""
        return self.role is Role.ADMIN and self.share_campus is None

    @property
    def actor(self) -> str:
        """Who, in words for logs: the token, else the person."""
        if self.token_id is not None:
            return self.token_id
        return self.user_id or self.name


def verify_token(store: CampusStore, token: str, now: datetime | None = None) -> Principal:
    """The principal a presented token stands for; raises :class:`Unauthenticated`."""
    principal = _verify_token(store, token, now or utcnow(), cached=False)
    assert principal is not None  # not cached-only: every answer is known
    return principal


def _verify_token(store: CampusStore, token: str, now: datetime, *, cached: bool
                  ) -> Principal | None:
    if not token or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        raise Unauthenticated("malformed token", user_message="invalid token")
    if token.startswith(SHARE_PREFIX):  # a share link's secret (api.share)
        from api.share import share_principal

        return share_principal(store, token, now, cached=cached)
    digest = hash_token(token)
    if cached and not store.credential_cached(digest):
        return None
    record = store.token_by_hash(digest)
    if record is None or not hmac.compare_digest(record.token_hash, digest):
        raise Unauthenticated("unknown token", user_message="invalid token")
    if not record.active(now):
        why = "revoked" if record.revoked_at is not None else "expired"
        raise Unauthenticated(f"token {record.id} is {why}", user_message=f"token {why}")
    return _token_principal(store, record, cached=cached)


def _token_principal(store: CampusStore, record: TokenRecord, *, cached: bool
                     ) -> Principal | None:
    """The principal of an active token: its owner's organisation and (a person's token) the
    person's role. ``cached``: only from what is cached (no I/O), None if something is not."""
    ident = identity(store)
    owner = (ident.cached_token_owner if cached else ident.token_owner)(record.id)
    if owner is None:
        if cached:
            return None
        raise Unauthenticated(f"token {record.id} has no owner", user_message="invalid token")
    org = (ident.cached_org if cached else ident.org)(owner.org_id)
    if org is None:
        if cached:
            return None
        raise Unauthenticated(f"token {record.id}: no organisation {owner.org_id}",
                              user_message="invalid token")
    role = record.role
    if owner.user_id is not None:
        person = (ident.cached_person if cached else ident.person)(owner.user_id)
        if person is None:
            if cached:
                return None
            raise Unauthenticated(f"token {record.id}: no person {owner.user_id}",
                                  user_message="invalid token")
        if not person.active:
            raise Unauthenticated(f"token {record.id}: {person.id} is disabled",
                                  user_message="account disabled")
        role = person.role
    return Principal(record.id, record.name, role, record.campuses, record.expires_at,
                     org_id=org.id, org_kind=org.kind, user_id=owner.user_id,
                     integration=owner.integration)


def _person_principal(store: CampusStore, record: PersonSession, now: datetime, *,
                      cached: bool) -> Principal | None:
    """The principal of a person's browser session (OpenID Connect sign-in)."""
    ident = identity(store)
    if not record.active(now):
        why = "session ended" if record.revoked_at is not None else "session expired"
        raise Unauthenticated(f"session of {record.user_id}: {why}", user_message=why)
    person = (ident.cached_person if cached else ident.person)(record.user_id)
    org = None if person is None else (ident.cached_org if cached else ident.org)(person.org_id)
    if person is None or org is None:
        if cached:
            return None
        raise Unauthenticated(f"session of {record.user_id}: no such person",
                              user_message="invalid session")
    if not person.active:
        raise Unauthenticated(f"session of {person.id}: disabled",
                              user_message="account disabled")
    return Principal(None, person.email, person.role, None, record.expires_at,
                     org_id=org.id, org_kind=org.kind, user_id=person.id)


def create_session(
    store: CampusStore, principal: Principal, max_age_seconds: int
) -> tuple[str, SessionRecord]:
    """A new browser session for an authenticated token: the id (for the cookie) and record."""
    if principal.token_id is None:
        raise Unauthenticated(f"{principal.actor} signed in without a token",
                              user_message="sign in with a token")
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    record = store.add_session(
        session_hash=hash_token(session_id), token_id=principal.token_id,
        expires_at=utcnow() + timedelta(seconds=max_age_seconds),
    )
    return session_id, record


def verify_session(store: CampusStore, session_id: str, now: datetime | None = None) -> Principal:
    """The principal of a session cookie: a token's session, or a person's (OpenID Connect);
    raises :class:`Unauthenticated`."""
    principal = _verify_session(store, session_id, now or utcnow(), cached=False)
    assert principal is not None  # not cached-only: every answer is known
    return principal


def _verify_session(store: CampusStore, session_id: str, now: datetime, *, cached: bool
                    ) -> Principal | None:
    if not session_id or len(session_id) > _MAX_TOKEN_LENGTH or not session_id.isascii():
        raise Unauthenticated("malformed session id", user_message="invalid session")
    if session_id.startswith(SHARE_SESSION_PREFIX):  # a share link's browser session
        from api.share import share_principal

        return share_principal(store, session_id, now, cached=cached)
    digest = hash_token(session_id)
    ident = identity(store)
    if store.credential_cached(digest) and store.session_by_hash(digest) is not None:
        record = store.session_by_hash(digest)  # a token's session (None: maybe a person's)
    elif cached:
        person_session = ident.cached_person_session(digest)
        if person_session is None:
            return None
        return _person_principal(store, person_session, now, cached=True)
    else:
        record = store.session_by_hash(digest)
        if record is None:
            person_session = ident.person_session(digest)
            if person_session is not None and hmac.compare_digest(
                    person_session.session_hash, digest):
                return _person_principal(store, person_session, now, cached=False)
    if record is None or not hmac.compare_digest(record.session_hash, digest):
        raise Unauthenticated("unknown session", user_message="invalid session")
    if not record.active(now):
        if record.revoked_at is not None:
            why = "session ended"
        elif now >= record.expires_at:
            why = "session expired"
        else:
            why = "token revoked" if record.token.revoked_at is not None else "token expired"
        raise Unauthenticated(f"session of {record.token.id}: {why}", user_message=why)
    return _token_principal(store, record.token, cached=cached)


def bearer_token(request: Request) -> str | None:
    """The token from the Authorization header, if there is one."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("bad Authorization header",
                              user_message="use 'Authorization: Bearer <token>'")
    return value.strip()


def _credential(request: Request) -> tuple[bool, str]:
    """Whether this request's credential is a token (else a session id), and the credential:
    an Authorization header wins; else the session cookie. Each is only what it claims to
    be: a session id in the header or a token in the cookie is unknown."""
    token = bearer_token(request)
    if token is not None:
        return True, token
    session_id = request.cookies.get(request.app.state.ctx.settings.cookie_name)
    if session_id is None:
        raise Unauthenticated("no credentials", user_message="authentication required")
    return False, session_id


def authenticate(request: Request) -> Principal:
    """The authenticated caller, or :class:`Unauthenticated` (401); remembered per request."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    is_token, secret = _credential(request)
    store = request.app.state.ctx.store
    principal = verify_token(store, secret) if is_token else verify_session(store, secret)
    request.state.principal = principal
    return principal


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: :func:`authenticate`, on the event loop when everything it needs
    (the credential, its owner, organisation and person) is cached (no I/O: no hop to a
    worker thread), else in the thread pool."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    is_token, secret = _credential(request)
    store = request.app.state.ctx.store
    now = utcnow()
    principal = (_verify_token(store, secret, now, cached=True) if is_token
                 else _verify_session(store, secret, now, cached=True))
    if principal is not None:
        request.state.principal = principal
        return principal
    return await run_in_threadpool(authenticate, request)


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def audit_entry(
    request: Request, principal: Principal | None, action: str, campus_id: str | None = None,
    detail: str = "",
) -> AuditEntry:
    return AuditEntry(
        ts=utcnow(), action=action,
        token_id=None if principal is None else principal.token_id,
        token_name=None if principal is None else principal.name,
        campus_id=campus_id, detail=detail, client=client_of(request),
        **attribution(request, principal),
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
