"""Creating access tokens: what the CLI needs, without the web framework.

A token is ``gm_`` + 32 random bytes (url-safe base64); only its sha256 is stored. Verifying a
presented token (and browser sessions) is :mod:`api.auth`'s job.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from datetime import timedelta

from api.store import CampusStore, Role, TokenRecord, utcnow
from gridmap.errors import CampusNotFound

#: The longest lifetime a token may be given (a token that must never expire says so: None).
MAX_EXPIRY_DAYS = 3650

TOKEN_PREFIX = "gm_"
SESSION_PREFIX = "gs_"


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
    """A new token: returns the plaintext (show it once, never store it) and its record.

    ``expires_days`` must be a positive number of days (at most :data:`MAX_EXPIRY_DAYS`);
    every campus in ``campuses`` must exist (a typo would make a token that sees nothing).
    """
    if not name.strip():
        raise ValueError("a token needs a name (who or what holds it)")
    if expires_days is not None and not (
            math.isfinite(expires_days) and 0 < expires_days <= MAX_EXPIRY_DAYS):
        raise ValueError(f"expiry must be a positive number of days, at most {MAX_EXPIRY_DAYS} "
                         f"(got {expires_days:g}); for a token that never expires use no expiry")
    if campuses is not None:
        if not campuses:
            raise ValueError("a token limited to campuses needs at least one campus")
        for campus_id in campuses:
            try:
                store.revisions(campus_id)
            except CampusNotFound:
                raise CampusNotFound(
                    f"no campus {campus_id!r} in this store: a token may only be limited to "
                    "campuses that exist (import it first, or check the id)",
                    user_message=f"unknown campus {campus_id!r}") from None
    token = generate_token()
    expires_at = None if expires_days is None else utcnow() + timedelta(days=expires_days)
    record = store.add_token(
        token_id="tok_" + secrets.token_hex(6), name=name.strip(), role=role,
        token_hash=hash_token(token), expires_at=expires_at, campuses=campuses,
    )
    return token, record
