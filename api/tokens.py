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


def check_token_request(
    store: CampusStore, name: str, *, expires_days: float | None,
    campuses: Sequence[str] | None,
) -> None:
    """Refuse a token that :func:`create_token` would refuse for its name, expiry or campuses
    (before anything is stored)."""
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


def create_token(
    store: CampusStore,
    name: str,
    role: Role | None = None,
    *,
    expires_days: float | None = None,
    campuses: Sequence[str] | None = None,
    user: str | None = None,
    org: str | None = None,
    integration: str | None = None,
) -> tuple[str, TokenRecord]:
    """A new token: returns the plaintext (show it once, never store it) and its record.

    A token belongs to a person (``user``: an id or email; it has the person's role, so
    ``role`` must be None or the same) or to an integration of an organisation (``org``: an
    id or name; ``integration``: its name, default ``name``; ``role`` default officer). With
    neither ``user`` nor ``org``, it is an integration token of the store's only organisation
    (an error naming the organisations when there is not exactly one).

    ``expires_days`` must be a positive number of days (at most :data:`MAX_EXPIRY_DAYS`);
    every campus in ``campuses`` must exist (a typo would make a token that sees nothing).
    """
    from api.store_identity import TokenOwner, check_role_fits, identity

    check_token_request(store, name, expires_days=expires_days, campuses=campuses)
    ident = identity(store)
    if user is not None:
        if org is not None or integration is not None:
            raise ValueError("a token belongs to a person or to an integration, not both")
        person = ident.person_by_email(user) if "@" in user else ident.person(user)
        if person is None:
            raise ValueError(f"no person {user!r} (create them with `gridmap user create`)")
        if not person.active:
            raise ValueError(f"{person.email} is disabled")
        if role is not None and role is not person.role:
            raise ValueError(f"a person's token has the person's role ({person.role.value})")
        role = person.role
        owner = TokenOwner("", person.org_id, person.id, None)
    else:
        if org is not None:
            organisation = ident.find_org(org)
        else:
            orgs = ident.orgs()
            if len(orgs) != 1:
                there = ", ".join(repr(o.name) for o in orgs) or "none yet"
                raise ValueError(f"whose token is it? name the organisation with --org "
                                 f"(organisations: {there}) or the person with --user")
            organisation = orgs[0]
        role = check_role_fits(role or Role.OFFICER, organisation)
        owner = TokenOwner("", organisation.id, None, (integration or name).strip()[:200])
    token = generate_token()
    expires_at = None if expires_days is None else utcnow() + timedelta(days=expires_days)
    token_id = "tok_" + secrets.token_hex(6)
    record = ident.add_owned_token(
        token_id=token_id, name=name.strip(), role=role, token_hash=hash_token(token),
        expires_at=expires_at, campuses=campuses,
        owner=TokenOwner(token_id, owner.org_id, owner.user_id, owner.integration),
    )
    return token, record
