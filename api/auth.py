"""Bearer tokens, roles and the session cookie.

A token is ``gm_`` + 32 random bytes (url-safe base64). Only its sha256 is stored; a presented
token is hashed and looked up by hash, then compared with :func:`hmac.compare_digest`. The
secret is shown once, when created. Browsers log in by posting the token to ``/login``, which
sets it in an HttpOnly, SameSite=Strict cookie so the web map page, its tiles and its fetches
authenticate without JavaScript ever holding the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from api.store import AuditEntry, CampusStore, Role, TokenRecord, utcnow
from gridmap.errors import Forbidden, Unauthenticated

TOKEN_PREFIX = "gm_"
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


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    store: CampusStore,
    name: str,
    role: Role = Role.VIEWER,
    *,
    expires_days: float | None = None,
    campuses: Sequence[str] | None = None,
) -> tuple[str, TokenRecord]:
    """A new token: returns the plaintext (show it once, never store it) and its record."""
    if not name.strip():
        raise ValueError("a token needs a name (who or what holds it)")
    if expires_days is not None and expires_days <= 0:
        raise ValueError("expiry must be a positive number of days")
    token = generate_token()
    expires_at = None if expires_days is None else utcnow() + timedelta(days=expires_days)
    record = store.add_token(
        token_id="tok_" + secrets.token_hex(6), name=name.strip(), role=role,
        token_hash=hash_token(token), expires_at=expires_at, campuses=campuses,
    )
    return token, record


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
    return Principal(record.id, record.name, record.role, record.campuses, record.expires_at)


def presented_token(request: Request, cookie_name: str) -> str | None:
    """The bearer token from the Authorization header, else from the session cookie."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("bad Authorization header",
                                  user_message="use 'Authorization: Bearer <token>'")
        return value.strip()
    return request.cookies.get(cookie_name)


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller, or :class:`Unauthenticated` (401)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    ctx = request.app.state.ctx
    token = presented_token(request, ctx.settings.cookie_name)
    if token is None:
        raise Unauthenticated("no credentials", user_message="authentication required")
    principal = verify_token(ctx.store, token)
    request.state.principal = principal
    return principal


def require_admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
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
