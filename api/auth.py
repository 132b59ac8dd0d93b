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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.store import AuditEntry, CampusStore, Role, SessionRecord, TokenRecord, utcnow
from api.tokens import SESSION_PREFIX, TOKEN_PREFIX, create_token, generate_token, hash_token
from gridmap.errors import Forbidden, Unauthenticated

__all__ = ["SESSION_PREFIX", "TOKEN_PREFIX", "Principal", "authenticate", "create_token",
           "generate_token", "hash_token", "verify_session", "verify_token"]

_MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the token's id, name, role and the campuses it may see."""

    token_id: str
    name: str
    role: Role
    campuses: tuple[str, ...] | None
    expires_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, campus_id: str) -> bool:
        return self.campuses is None or campus_id in self.campuses


def verify_token(store: CampusStore, token: str, now: datetime | None = None) -> Principal:
    """The principal a presented token stands for; raises :class:`Unauthenticated`."""
    if not token or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        raise Unauthenticated("malformed token", user_message="invalid token")
    digest = hash_token(token)
    record = store.token_by_hash(digest)
    if record is None or not hmac.compare_digest(record.token_hash, digest):
        raise Unauthenticated("unknown token", user_message="invalid token")
    if not record.active(now or utcnow()):
        why = "revoked" if record.revoked_at is not None else "expired"
        raise Unauthenticated(f"token {record.id} is {why}", user_message=f"token {why}")
    return _principal(record)


def _principal(record: TokenRecord) -> Principal:
    return Principal(record.id, record.name, record.role, record.campuses, record.expires_at)


def create_session(
    store: CampusStore, principal: Principal, max_age_seconds: int
) -> tuple[str, SessionRecord]:
    """A new browser session for an authenticated token: the id (for the cookie) and record."""
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    record = store.add_session(
        session_hash=hash_token(session_id), token_id=principal.token_id,
        expires_at=utcnow() + timedelta(seconds=max_age_seconds),
    )
    return session_id, record


def verify_session(store: CampusStore, session_id: str, now: datetime | None = None) -> Principal:
    """The principal of a session cookie's token; raises :class:`Unauthenticated`."""
    if not session_id or len(session_id) > _MAX_TOKEN_LENGTH or not session_id.isascii():
        raise Unauthenticated("malformed session id", user_message="invalid session")
    digest = hash_token(session_id)
    record = store.session_by_hash(digest)
    if record is None or not hmac.compare_digest(record.session_hash, digest):
        raise Unauthenticated("unknown session", user_message="invalid session")
    now = now or utcnow()
    if not record.active(now):
        if record.revoked_at is not None:
            why = "session ended"
        elif now >= record.expires_at:
            why = "session expired"
        else:
            why = "token revoked" if record.token.revoked_at is not None else "token expired"
        raise Unauthenticated(f"session of {record.token.id}: {why}", user_message=why)
    return _principal(record.token)


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


def _credential(request: Request) -> tuple[Callable[[CampusStore, str], Principal], str]:
    """How to check this request's credential, and the credential: an Authorization header
    wins; else the session cookie. Each is only what it claims to be: a session id in the
    header or a token in the cookie is unknown."""
    token = bearer_token(request)
    if token is not None:
        return verify_token, token
    session_id = request.cookies.get(request.app.state.ctx.settings.cookie_name)
    if session_id is None:
        raise Unauthenticated("no credentials", user_message="authentication required")
    return verify_session, session_id


def authenticate(request: Request) -> Principal:
    """The authenticated caller, or :class:`Unauthenticated` (401); remembered per request."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    check, secret = _credential(request)
    principal = check(request.app.state.ctx.store, secret)
    request.state.principal = principal
    return principal


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: :func:`authenticate`, on the event loop when the store has the
    credential cached (no I/O: no hop to a worker thread), else in the thread pool."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    _check, secret = _credential(request)
    if request.app.state.ctx.store.credential_cached(hash_token(secret)):
        return authenticate(request)
    return await run_in_threadpool(authenticate, request)


async def require_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden(f"{principal.token_id} is not an admin", user_message="admin role required")
    return principal


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
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
