"""OpenID Connect sign-in, per organisation: each agency signs in with its own identity provider.

An organisation's admin (or an operator with ``gridmap org oidc``) stores its provider's issuer
URL, the client id and secret gridmap was registered with there, and optionally the one email
domain its people sign in with. A browser then signs in by the authorization code flow with
PKCE (S256), ``state`` and ``nonce``:

1. ``GET /login/oidc/{org_id}`` (:func:`start_login`) stores a *pending sign-in* (state, nonce,
   PKCE verifier, where to go after; single use, 10 minutes) under the hash of a random id that
   goes into a short-lived HttpOnly, SameSite=Lax cookie, and redirects to the provider.
2. The provider redirects back to ``GET /login/oidc/callback``; :func:`take_login` claims the
   pending sign-in named by the cookie exactly once (a replayed or forged callback finds it
   used, expired or absent, or its ``state`` different), :func:`finish_login` exchanges the code
   (with the verifier and the client secret) and :func:`validate_id_token` checks the ID token:
   signature by the provider's JWKS, issuer, audience (and ``azp``), expiry, issued-at, nonce.
3. The email (verified, from the ID token or else the provider's userinfo for the same
   subject) must be a person of that organisation, not disabled, and within the allowed domain;
   then the browser gets the same session cookie as token sign-in, for that person.

Client secrets are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, ``cryptography``)
under ``GRIDMAP_OIDC_SECRET_KEY``, or else a key file ``oidc.key`` (0600) made in the data
directory on first use, so a copy of the database alone does not give them away. A secret is
never logged, audited, echoed or returned; :class:`OidcConfig` hides it from ``repr``.

Heavy or network libraries (authlib, joserfc, httpx, cryptography) are imported only inside the
functions that sign someone in or handle a secret, never when the app starts.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import DateTime, String, Text, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from api.store import Base, utcnow
from gridmap.errors import GridmapError, NotFound, Unauthenticated

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from api.settings import Settings

#: How long a browser has between leaving for its provider and coming back.
LOGIN_TTL = timedelta(minutes=10)
#: At most this many sign-ins under way (not yet back, not expired) at once, all organisations.
MAX_PENDING_LOGINS = 10_000
#: The pre-login cookie: names the pending sign-in, only sent to /login/oidc/...
LOGIN_COOKIE = "gridmap_oidc"
LOGIN_COOKIE_PATH = "/login/oidc"
LOGIN_PREFIX = "go_"
#: How long a provider's discovery document and keys are trusted before fetched again.
PROVIDER_CACHE_S = 300.0
#: Clock skew allowed between gridmap and a provider when checking exp/iat, seconds.
LEEWAY_S = 60
HTTP_TIMEOUT_S = 10.0
#: ID token signature algorithms accepted (never "none", never HMAC with a guessable key).
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                       "ES512", "EdDSA")

_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,300}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,200}@([^@\s]{1,253})$")


class SignInRefused(Unauthenticated):
    """A single sign-on could not be completed; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, user_message: str, status: int = 401,
                 email: str | None = None) -> None:
        super().__init__(message, user_message=user_message)
        self.status = status
        self.email = email


class InvalidOidcConfig(GridmapError, ValueError):
    """An organisation's OpenID Connect settings are unusable (issuer, client id, domain)."""


# --- tables ---------------------------------------------------------------------------------


class OidcConfigRow(Base):
    """An organisation's identity provider. The client secret is stored Fernet-encrypted."""

    __tablename__ = "oidc_configs"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(300))
    client_secret_enc: Mapped[str] = mapped_column(Text)
    allowed_domain: Mapped[str | None] = mapped_column(String(253))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))


class OidcLoginRow(Base):
    """A sign-in under way: what the callback needs, under the hash of the pre-login cookie."""

    __tablename__ = "oidc_logins"

    login_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(100))
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    next_path: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- value objects --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """An organisation's identity provider settings; ``client_secret`` never shows in repr."""

    org_id: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    allowed_domain: str | None
    updated_at: datetime
    updated_by: str

    def public(self) -> dict[str, Any]:
        """What an admin may read back: everything but the secret (only that one is set)."""
        return {"org_id": self.org_id, "issuer": self.issuer, "client_id": self.client_id,
                "client_secret": "set", "allowed_domain": self.allowed_domain,
                "updated_at": self.updated_at.isoformat(), "updated_by": self.updated_by}


@dataclass(frozen=True, slots=True)
class PendingLogin:
    org_id: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)
    redirect_uri: str
    next_path: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who the provider vouched for: its subject and the verified email."""

    subject: str
    email: str


class Person(Protocol):
    """What sign-in needs of a person (K1's people rows, :mod:`api.store_identity`)."""

    @property
    def id(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def disabled_at(self) -> datetime | None: ...


class Organisation(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...


class PersonDirectory(Protocol):
    """The part of K1's identity store that sign-in uses."""

    def org(self, org_id: str) -> Organisation | None: ...
    def person_by_email(self, email: str) -> Person | None: ...
    def add_person_session(self, *, session_hash: str, user_id: str,
                           expires_at: datetime) -> object: ...


# --- checking what an admin enters ----------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_issuer(issuer: str) -> str:
    """The issuer URL as the provider names itself: https (http only on loopback, for tests
    and a provider on this machine), no query or fragment, no trailing slash."""
    issuer = issuer.strip()
    try:
        parts = urlsplit(issuer)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise InvalidOidcConfig(f"issuer {issuer[:100]!r} is not a URL") from exc
    if len(issuer) > 500 or not host or parts.query or parts.fragment or parts.username:
        raise InvalidOidcConfig(f"issuer {issuer[:100]!r} must be a plain https URL "
                                "(no query, fragment or user), at most 500 characters")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise InvalidOidcConfig(f"issuer {issuer[:100]!r} must use https")
    return issuer.rstrip("/")


def check_client_id(client_id: str) -> str:
    client_id = client_id.strip()
    if not _CLIENT_ID.match(client_id):
        raise InvalidOidcConfig("client id must be 1-300 printable ASCII characters, no spaces")
    return client_id


def check_client_secret(secret: str) -> str:
    secret = secret.strip()
    if not 1 <= len(secret) <= 1000 or not secret.isprintable():
        raise InvalidOidcConfig("client secret must be 1-1000 printable characters")
    return secret


def check_domain(domain: str | None) -> str | None:
    if domain is None or not domain.strip():
        return None
    domain = domain.strip().lower().lstrip("@")
    if not _DOMAIN.match(domain):
        raise InvalidOidcConfig(f"allowed domain {domain[:100]!r} is not a domain name")
    return domain


def email_domain(email: str) -> str | None:
    found = _EMAIL.match(email)
    return None if found is None else found.group(1).lower()


# --- the client secret at rest ----------------------------------------------------------------


class SecretBox:
    """Encrypts and decrypts client secrets with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.oidc_secret_key is not None:
            try:
                return cls(settings.oidc_secret_key.get_secret_value().encode("ascii"))
            except (ValueError, UnicodeEncodeError) as exc:
                raise InvalidOidcConfig(
                    "GRIDMAP_OIDC_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes; "
                    "make one with: python -c 'import base64, os; "
                    "print(base64.urlsafe_b64encode(os.urandom(32)).decode())')") from exc
        return cls(_key_file(settings.data_dir / "oidc.key"))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SignInRefused(
                "stored client secret does not decrypt with this key",
                user_message="single sign-on is misconfigured on this server (the client "
                "secret was stored under another GRIDMAP_OIDC_SECRET_KEY); ask its operator",
                status=503) from exc


_key_lock = threading.Lock()


def _key_file(path: Path) -> bytes:
    """The key in ``path``, made (0600, atomically, by whoever comes first) if missing."""
    import base64

    with _key_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = base64.urlsafe_b64encode(os.urandom(32))
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(key + b"\n")
        return path.read_bytes().strip()


# --- storage --------------------------------------------------------------------------------


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class OidcStore:
    """The OIDC tables of a store's database (they live beside its other tables)."""

    def __init__(self, engine: Engine, box: SecretBox | None = None, *,
                 max_pending: int = MAX_PENDING_LOGINS) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._box = box
        self.max_pending = max_pending

    def _secret_box(self) -> SecretBox:
        if self._box is None:
            raise InvalidOidcConfig("no key to encrypt or decrypt client secrets with")
        return self._box

    def set_config(
        self, org_id: str, *, issuer: str, client_id: str, client_secret: str | None,
        allowed_domain: str | None, actor: str,
    ) -> OidcConfig:
        """Store (or replace) an organisation's provider. ``client_secret=None`` keeps the
        stored one (an admin changing the domain need not re-enter it)."""
        issuer = normalise_issuer(issuer)
        client_id = check_client_id(client_id)
        domain = check_domain(allowed_domain)
        sealed = (None if client_secret is None
                  else self._secret_box().seal(check_client_secret(client_secret)))
        now = utcnow()
        with self._sessions.begin() as session:
            row = session.get(OidcConfigRow, org_id)
            if row is None:
                if sealed is None:
                    raise InvalidOidcConfig("a client secret is needed to set up single sign-on")
                row = OidcConfigRow(org_id=org_id, issuer=issuer, client_id=client_id,
                                    client_secret_enc=sealed, allowed_domain=domain,
                                    updated_at=now, updated_by=actor[:200])
                session.add(row)
            else:
                row.issuer, row.client_id, row.allowed_domain = issuer, client_id, domain
                if sealed is not None:
                    row.client_secret_enc = sealed
                row.updated_at, row.updated_by = now, actor[:200]
            sealed_now = row.client_secret_enc
        return OidcConfig(org_id, issuer, client_id, self._secret_box().open(sealed_now),
                          domain, now, actor[:200])

    def config(self, org_id: str) -> OidcConfig | None:
        with self._sessions() as session:
            row = session.get(OidcConfigRow, org_id)
            if row is None:
                return None
            return OidcConfig(row.org_id, row.issuer, row.client_id,
                              self._secret_box().open(row.client_secret_enc),
                              row.allowed_domain, row.updated_at, row.updated_by)

    def configured_orgs(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(OidcConfigRow.org_id).order_by(
                OidcConfigRow.org_id)))

    def delete_config(self, org_id: str) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(delete(OidcConfigRow).where(OidcConfigRow.org_id == org_id))
            return bool(getattr(result, "rowcount", 0))

    def begin_login(self, pending: PendingLogin) -> str:
        """Store a pending sign-in; the id for the pre-login cookie (only its hash is kept)."""
        login_id = LOGIN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        with self._sessions.begin() as session:
            session.execute(delete(OidcLoginRow).where(OidcLoginRow.expires_at < now))
            under_way = session.scalar(select(func.count()).select_from(OidcLoginRow)) or 0
            if under_way >= self.max_pending:  # anyone may start one: rows must stay bounded
                raise SignInRefused(f"{under_way} sign-ins under way",
                                    user_message="too many sign-ins are under way; try again "
                                    "in a few minutes", status=503)
            session.add(OidcLoginRow(
                login_hash=_hash(login_id), org_id=pending.org_id, state=pending.state,
                nonce=pending.nonce, code_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri, next_path=pending.next_path,
                expires_at=now + LOGIN_TTL, used_at=None))
        return login_id

    def take_login(self, login_id: str | None, state: str) -> PendingLogin:
        """The pending sign-in this browser started, claimed once: a second callback with the
        same cookie (a replay), a ``state`` that is not the one sent, an expired or unknown
        sign-in are refused."""
        if not login_id or len(login_id) > 200 or not login_id.isascii():
            raise SignInRefused("no pre-login cookie", user_message="this sign-in was not "
                                "started in this browser (or it took over 10 minutes): start "
                                "again", status=400)
        digest, now = _hash(login_id), utcnow()
        with self._sessions.begin() as session:
            row = session.get(OidcLoginRow, digest)
            if row is None or now >= _aware(row.expires_at):
                raise SignInRefused("pending sign-in unknown or expired",
                                    user_message="this sign-in expired or is unknown: start "
                                    "again", status=400)
            if not hmac.compare_digest(row.state.encode(), state.encode()):
                raise SignInRefused("state mismatch", user_message="the provider's answer "
                                    "does not belong to this sign-in (state mismatch): start "
                                    "again", status=400)
            claimed = session.execute(
                update(OidcLoginRow)
                .where(OidcLoginRow.login_hash == digest, OidcLoginRow.used_at.is_(None))
                .values(used_at=now))
            if not getattr(claimed, "rowcount", 0):
                raise SignInRefused("pending sign-in already used (replay)",
                                    user_message="this sign-in was already used: start again",
                                    status=400)
            return PendingLogin(row.org_id, row.state, row.nonce, row.code_verifier,
                                row.redirect_uri, row.next_path)


def _aware(dt: datetime) -> datetime:
    from datetime import UTC

    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


# --- the provider ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The endpoints of an issuer's discovery document that sign-in uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    #: RFC 9207: the provider names itself (``iss``) in every answer to the callback
    iss_in_response: bool = False


class ProviderCache:
    """Discovery documents and key sets per issuer, kept :data:`PROVIDER_CACHE_S` seconds;
    keys are fetched again at once when a token names a key id not among them (rotation)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._jwks: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def metadata(self, issuer: str) -> ProviderMetadata:
        with self._lock:
            hit = self._metadata.get(issuer)
        if hit is not None and self._clock() - hit[0] < PROVIDER_CACHE_S:
            return hit[1]
        document = _get_json(f"{issuer}/.well-known/openid-configuration", "discovery document")
        found = parse_metadata(issuer, document)
        with self._lock:
            self._metadata[issuer] = (self._clock(), found)
        return found

    def jwks(self, metadata: ProviderMetadata, *, fresh: bool = False) -> dict[str, Any]:
        with self._lock:
            hit = self._jwks.get(metadata.jwks_uri)
        if not fresh and hit is not None and self._clock() - hit[0] < PROVIDER_CACHE_S:
            return hit[1]
        keys = _get_json(metadata.jwks_uri, "signing keys (JWKS)")
        if not isinstance(keys.get("keys"), list):
            raise _provider_error("its JWKS has no 'keys' list")
        with self._lock:
            self._jwks[metadata.jwks_uri] = (self._clock(), keys)
        return keys


def _provider_error(why: str) -> SignInRefused:
    return SignInRefused(f"identity provider: {why}",
                         user_message=f"the identity provider could not be used: {why}",
                         status=502)


def _get_json(url: str, what: str) -> dict[str, Any]:
    import httpx

    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise _provider_error(f"its {what} could not be fetched ({type(exc).__name__})") from exc
    if response.status_code != 200:
        raise _provider_error(f"its {what} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise _provider_error(f"its {what} is not JSON") from exc
    if not isinstance(body, dict):
        raise _provider_error(f"its {what} is not a JSON object")
    return body


def parse_metadata(issuer: str, document: dict[str, Any]) -> ProviderMetadata:
    """The endpoints of a discovery document, which must name the same issuer (OIDC
    Discovery 4.3) and offer the code flow with S256 PKCE."""
    if document.get("issuer") != issuer:
        raise _provider_error(f"its discovery document names issuer "
                              f"{str(document.get('issuer'))[:200]!r}, not {issuer!r}")
    endpoints: dict[str, str] = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise _provider_error(f"its discovery document lacks {name}")
        endpoints[name] = value
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise _provider_error("it does not support PKCE with S256")
    userinfo = document.get("userinfo_endpoint")
    return ProviderMetadata(issuer, endpoints["authorization_endpoint"],
                            endpoints["token_endpoint"], endpoints["jwks_uri"],
                            userinfo if isinstance(userinfo, str) else None,
                            document.get("authorization_response_iss_parameter_supported") is True)


# --- the flow -------------------------------------------------------------------------------


def start_login(
    config: OidcConfig, metadata: ProviderMetadata, redirect_uri: str, next_path: str,
) -> tuple[PendingLogin, str]:
    """A new pending sign-in and the provider URL to send the browser to."""
    from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]

    pending = PendingLogin(config.org_id, state=secrets.token_urlsafe(24),
                           nonce=secrets.token_urlsafe(24),
                           code_verifier=secrets.token_urlsafe(48),
                           redirect_uri=redirect_uri, next_path=next_path)
    client = OAuth2Client(client_id=config.client_id, redirect_uri=redirect_uri,
                          scope="openid email", code_challenge_method="S256")
    url, _state = client.create_authorization_url(
        metadata.authorization_endpoint, state=pending.state, nonce=pending.nonce,
        code_verifier=pending.code_verifier)
    return pending, str(url)


def finish_login(
    config: OidcConfig, metadata: ProviderMetadata, pending: PendingLogin, code: str,
    providers: ProviderCache, now: int | None = None,
) -> SignedIn:
    """Exchange the code and check the ID token; the provider's verified email."""
    from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
    from authlib.integrations.httpx_client import OAuth2Client
    from httpx import HTTPError

    client = OAuth2Client(client_id=config.client_id, client_secret=config.client_secret,
                          token_endpoint_auth_method="client_secret_basic",
                          redirect_uri=pending.redirect_uri, timeout=HTTP_TIMEOUT_S)
    try:
        with client:
            token = client.fetch_token(metadata.token_endpoint, code=code,
                                       code_verifier=pending.code_verifier,
                                       grant_type="authorization_code")
    except OAuthError as exc:
        # the provider's error code only (invalid_grant, invalid_client): never the code
        raise SignInRefused(f"token exchange refused: {exc.error}",
                            user_message=f"the identity provider refused the sign-in "
                            f"({str(exc.error)[:60]}): start again", status=401) from exc
    except (HTTPError, ValueError) as exc:
        raise _provider_error(f"its token endpoint failed ({type(exc).__name__})") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInRefused("token response without an ID token",
                            user_message="the identity provider sent no ID token", status=401)
    claims = validate_id_token(id_token, providers, metadata, config.client_id, pending.nonce,
                               now=now)
    if ("email" not in claims or "email_verified" not in claims) and \
            metadata.userinfo_endpoint is not None:
        access_token = token.get("access_token")
        if isinstance(access_token, str):
            info = _userinfo(metadata.userinfo_endpoint, access_token)
            if info.get("sub") == claims["sub"]:  # OIDC Core 5.3.2: same subject, or ignore it
                claims = {**info, **claims}
    return signed_in(claims)


def _userinfo(url: str, access_token: str) -> dict[str, Any]:
    import httpx

    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {access_token}"},
                             timeout=HTTP_TIMEOUT_S)
        body = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError) as exc:
        raise _provider_error(f"its userinfo endpoint failed ({type(exc).__name__})") from exc
    return body if isinstance(body, dict) else {}


def _bad_token(why: str) -> SignInRefused:
    return SignInRefused(f"ID token refused: {why}",
                         user_message=f"the identity provider's ID token was refused ({why})",
                         status=401)


def validate_id_token(
    id_token: str, providers: ProviderCache, metadata: ProviderMetadata, client_id: str,
    nonce: str, now: int | None = None,
) -> dict[str, Any]:
    """The ID token's claims once its signature (the provider's JWKS), issuer, audience,
    authorized party, expiry, issued-at and nonce check out; else :class:`SignInRefused`."""
    from joserfc import jwt
    from joserfc.errors import (
        BadSignatureError,
        ExpiredTokenError,
        InvalidClaimError,
        JoseError,
        MissingClaimError,
    )
    from joserfc.jwk import KeySet

    def decode(fresh: bool) -> Any:
        keys = KeySet.import_key_set(providers.jwks(metadata, fresh=fresh))  # type: ignore[arg-type]
        return jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))

    try:
        try:
            token = decode(fresh=False)
        except (BadSignatureError, ValueError, JoseError):
            token = decode(fresh=True)  # keys rotated since they were fetched: once more
    except BadSignatureError as exc:
        raise _bad_token("bad signature") from exc
    except (JoseError, ValueError) as exc:
        raise _bad_token(f"unreadable or unsigned: {type(exc).__name__}") from exc
    registry = jwt.JWTClaimsRegistry(
        now=now, leeway=LEEWAY_S,
        iss={"essential": True, "value": metadata.issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    claims: dict[str, Any] = dict(token.claims)
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        raise _bad_token("expired") from exc
    except MissingClaimError as exc:
        raise _bad_token(f"missing claim {exc.claim}") from exc
    except InvalidClaimError as exc:
        raise _bad_token(f"wrong {exc.claim}") from exc
    except JoseError as exc:
        raise _bad_token(type(exc).__name__) from exc
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise _bad_token("wrong azp")  # OIDC Core 3.1.3.7: several audiences need azp = us
    return claims


def signed_in(claims: dict[str, Any]) -> SignedIn:
    """The subject and the verified email of checked claims."""
    email = claims.get("email")
    if not isinstance(email, str) or email_domain(email.strip()) is None:
        raise SignInRefused("no email in the ID token or userinfo",
                            user_message="the identity provider did not tell us your email "
                            "(gridmap asks for the 'email' scope)", status=403)
    email = email.strip().lower()
    if claims.get("email_verified") is not True:
        raise SignInRefused(f"email {email} not verified by the provider",
                            user_message=f"your identity provider has not verified the "
                            f"email {email}", status=403, email=email)
    return SignedIn(str(claims["sub"]), email)


def admit(
    directory: PersonDirectory, config: OidcConfig, who: SignedIn,
) -> Person:
    """The person of ``config``'s organisation that ``who`` is; refused otherwise."""
    domain = email_domain(who.email)
    if config.allowed_domain is not None and domain != config.allowed_domain:
        raise SignInRefused(f"email domain {domain} not allowed (only {config.allowed_domain})",
                            user_message=f"{who.email} may not sign in here: this "
                            f"organisation signs in with @{config.allowed_domain} addresses",
                            status=403, email=who.email)
    person = directory.person_by_email(who.email)
    if person is None or person.org_id != config.org_id:
        raise SignInRefused(f"{who.email} is no person of {config.org_id}",
                            user_message=f"{who.email} has no gridmap account in this "
                            "organisation; ask its gridmap admin to add you", status=403,
                            email=who.email)
    if person.disabled_at is not None:
        raise SignInRefused(f"person {person.id} ({who.email}) is disabled",
                            user_message=f"the gridmap account of {who.email} is disabled",
                            status=403, email=who.email)
    return person


def organisation_of(directory: PersonDirectory, org_id: str) -> Organisation:
    org = directory.org(org_id) if len(org_id) <= 40 else None
    if org is None:
        raise NotFound(f"no organisation {org_id[:40]!r}",
                       user_message="no such organisation")
    return org


__all__ = ["LOGIN_COOKIE", "InvalidOidcConfig", "OidcConfig", "OidcStore",
           "PendingLogin", "PersonDirectory", "ProviderCache", "SecretBox", "SignInRefused",
           "SignedIn", "admit", "finish_login", "start_login", "validate_id_token"]


# --- the CLI: gridmap org oidc ORG ... --------------------------------------------------------


def cmd_org_oidc(args: Any, settings: Settings, store: Any) -> int:
    """``gridmap org oidc ORG --issuer URL --client-id ID --client-secret-file FILE
    [--allowed-domain DOMAIN]``, or ``--remove``. The secret is read from a file (``-``: stdin),
    never from the command line (it would show in ``ps`` and shell history), and never
    printed."""
    import sys

    from api.store_identity import identity

    org = identity(store).find_org(args.org)
    oidc_store = OidcStore(store.engine, SecretBox.from_settings(settings))
    if args.remove:
        removed = oidc_store.delete_config(org.id)
        print(f"{org.name} ({org.id}): single sign-on "
              + ("removed" if removed else "was not set"))
        return 0
    if not args.issuer or not args.client_id:
        raise InvalidOidcConfig("--issuer and --client-id are needed (or --remove)")
    secret: str | None = None
    if args.client_secret_file:
        if args.client_secret_file == "-":
            secret = sys.stdin.readline()
        else:
            try:
                secret = Path(args.client_secret_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidOidcConfig(f"cannot read the client secret file "
                                        f"{args.client_secret_file}: {exc}") from exc
    config = oidc_store.set_config(
        org.id, issuer=args.issuer, client_id=args.client_id, client_secret=secret,
        allowed_domain=args.allowed_domain, actor=f"cli:{os.environ.get('USER', '?')}")
    store.audit(_cli_audit(org.id, config))
    print(f"{org.name} ({org.id}): single sign-on with {config.issuer}, client "
          f"{config.client_id}, email domain {config.allowed_domain or 'any'}; client secret "
          + ("replaced" if secret is not None else "kept"))
    print(f"sign-in page: /login/oidc/{org.id}; register this redirect URI at the provider: "
          "https://<this server>/login/oidc/callback")
    return 0


def _cli_audit(org_id: str, config: OidcConfig) -> Any:
    from api.store import AuditEntry

    return AuditEntry(ts=utcnow(), action="oidc_set", token_name=config.updated_by,
                      detail=f"org {org_id}: issuer {config.issuer}, client {config.client_id}, "
                      f"domain {config.allowed_domain or 'any'}", client="cli")
