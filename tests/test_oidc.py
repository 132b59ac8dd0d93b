"""Single sign-on against a real OpenID provider (npm ``oidc-provider``, started here).

The provider (tests/oidc_provider/provider.mjs) runs on a free loopback port; the tests drive
the whole sign-in as a browser would: gridmap's redirect, the provider's login and consent
forms, the callback, then a campus route with the session cookie. The refusals (unknown
organisation, none configured, state mismatch, replay, provider error, bad ID tokens, unknown
or disabled person, email domain, unverified email) each end in a clear page, never a 500, and
are audited without codes or tokens. Skipped when node or the npm package is missing, unless
``GRIDMAP_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api import oidc
from api.app import create_app
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import identity
from gridmap.model import Campus
from tests.api_process import NotServing, free_port, wait_until_serving
from tests.conftest import stored_bytes

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_SCRIPT = ROOT / "tests" / "oidc_provider" / "provider.mjs"
CALLBACK = "http://127.0.0.1/login/oidc/callback"
SECRET = "district-client-secret-0123456789"

ACCOUNTS = {
    "alice": {"email": "Alice@District.example"},  # a person of the district (case differs)
    "dora": {"email": "dora@district.example"},  # disabled in gridmap
    "eve": {"email": "eve@district.example"},  # no gridmap account
    "mallory": {"email": "mallory@elsewhere.example"},  # outside the allowed domain
    "ursula": {"email": "ursula@district.example", "email_verified": False},
    "sam": {"email": "sam@district.example"},  # a person of the sheriff's office, not the district
}


def _require_or_skip(reason: str) -> None:
    if os.environ.get("GRIDMAP_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (GRIDMAP_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Provider:
    issuer: str
    process: subprocess.Popen[bytes]


def _clients(redirect_uri: str) -> list[dict[str, Any]]:
    return [{"client_id": "gridmap-district", "client_secret": SECRET,
             "redirect_uris": [redirect_uri]},
            {"client_id": "gridmap-sheriff", "client_secret": "sheriff-secret",
             "redirect_uris": [redirect_uri]}]


@contextmanager
def running_provider(config_dir: Path, redirect_uri: str,
                     host: str = "127.0.0.1") -> Iterator[Provider]:
    """The real OpenID provider, ready (its discovery document answers) when yielded."""
    node = shutil.which("node")
    if node is None:
        _require_or_skip("node is not installed (the test OpenID provider runs on it)")
    if not (ROOT / "node_modules" / "oidc-provider" / "package.json").exists():
        _require_or_skip("npm package oidc-provider is missing: run `npm ci`")
    port = free_port()
    config = config_dir / f"provider-{port}.json"
    config.write_text(json.dumps({"port": port, "host": host,
                                  "clients": _clients(redirect_uri), "accounts": ACCOUNTS}))
    process = subprocess.Popen([str(node), str(PROVIDER_SCRIPT), str(config)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    issuer = f"http://{host}:{port}"
    try:
        try:
            wait_until_serving(
                process, f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                limit_s=30)
        except NotServing as exc:
            err = process.stderr.read().decode() if process.poll() is not None and \
                process.stderr else ""
            pytest.fail(f"the OpenID provider did not start ({exc}): {err[-2000:]}")
        yield Provider(issuer, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with running_provider(tmp_path_factory.mktemp("oidc"), CALLBACK) as running:
        yield running


@dataclass
class World:
    client: TestClient
    store: SqlCampusStore
    district_id: str
    sheriff_id: str
    campus_id: str
    admin_token: str
    issuer: str


def _populate(settings: Settings, store: SqlCampusStore, campus: Campus,
              issuer: str) -> tuple[str, str, str]:
    """A district owning the campus (single sign-on with ``issuer``) and its people, a
    sheriff's office without; the two organisations' ids and a district admin's token."""
    ident = identity(store)
    district = ident.create_org("Lincoln Ridge USD", "district")
    sheriff = ident.create_org("County Sheriff", "police")
    store.save_revision(campus, source="tests")
    ident.assign_campus(campus.id, district.id)
    ident.create_person("alice@district.example", district.id, Role.OFFICER, name="Alice")
    dora = ident.create_person("dora@district.example", district.id, Role.OFFICER)
    ident.disable_person(dora.id)
    ident.create_person("ursula@district.example", district.id, Role.OFFICER)
    ident.create_person("mallory@elsewhere.example", district.id, Role.OFFICER)
    ident.create_person("sam@district.example", sheriff.id, Role.OFFICER)
    admin = ident.create_person("admin@district.example", district.id, Role.ADMIN)
    token, _ = create_token(store, "district admin", user=admin.id)
    oidc.OidcStore(store.engine, oidc.SecretBox.from_settings(settings)).set_config(
        district.id, issuer=issuer, client_id="gridmap-district",
        client_secret=SECRET, allowed_domain="district.example", actor="tests")
    return district.id, sheriff.id, token


@pytest.fixture
def world(settings: Settings, store: SqlCampusStore, campus: Campus,
          provider: Provider) -> Iterator[World]:
    district_id, sheriff_id, token = _populate(settings, store, campus, provider.issuer)
    with TestClient(create_app(settings, store), base_url="http://127.0.0.1") as client:
        yield World(client, store, district_id, sheriff_id, campus.id, token, provider.issuer)


class _Form(HTMLParser):
    """The first form of a page: its action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action") or ""
        elif tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


def _form(page: httpx.Response) -> _Form:
    form = _Form()
    form.feed(page.text)
    assert form.action is not None, f"no form on {page.url}: {page.text[:300]}"
    return form


def _until_callback(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow the provider's redirects until it sends the browser back to gridmap (returned
    unfollowed) or shows a page (returned)."""
    for _ in range(10):
        location = response.headers.get("location")
        if response.status_code not in (302, 303) or location is None:
            return response
        target = urljoin(str(response.url), location)
        if target.startswith(CALLBACK):
            return response
        response = browser.get(target)
    raise AssertionError("too many redirects at the provider")


def _sign_in_at_provider(world: World, login: str, org_id: str | None = None,
                         *, next_path: str | None = None) -> str:
    """Start at gridmap, sign in and consent at the provider; the callback URL (path and
    query) the provider sends the browser back to."""
    start = world.client.get(f"/login/oidc/{org_id or world.district_id}",
                             params={"next": next_path} if next_path else None,
                             follow_redirects=False)
    assert start.status_code == 303, start.text
    assert start.headers["cache-control"] == "private, no-store"
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = _until_callback(browser, browser.get(start.headers["location"]))
        for _ in range(3):  # the login form, then the consent form
            if page.headers.get("location"):
                break
            form = _form(page)
            fields = dict(form.fields)
            if fields.get("prompt") == "login":
                fields.update(login=login, password="anything")
            page = _until_callback(browser, browser.post(urljoin(str(page.url), form.action),
                                                         data=fields))
        location = urljoin(str(page.url), page.headers["location"])
    assert location.startswith(CALLBACK), location
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def _audit_details(world: World) -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in world.store.audit_log(limit=200)]


# --- the whole sign-in ------------------------------------------------------------------------


def test_sign_in_with_the_organisations_provider_gives_a_working_session(world: World) -> None:
    callback = _sign_in_at_provider(world, "alice",
                                    next_path=f"/campuses/{world.campus_id}/map")
    assert "code=" in callback and "state=" in callback
    done = world.client.get(callback, follow_redirects=False)
    assert done.status_code == 200, done.text
    assert "alice@district.example" in done.text
    assert done.headers["cache-control"] == "private, no-store"
    assert "default-src 'none'" in done.headers["content-security-policy"]
    # moves on to where the person was going, by a page of this site (see routes_oidc)
    assert f'url=/campuses/{world.campus_id}/map"' in done.text
    cookie = world.client.cookies.get("gridmap_session")
    assert cookie is not None and cookie.startswith("gs_")
    set_cookie = done.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("gridmap_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    assert any(c.startswith("gridmap_oidc=") and "Max-Age=0" in c for c in set_cookie)

    answer = world.client.get(f"/campuses/{world.campus_id}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == world.campus_id
    assert answer.headers["cache-control"].startswith("private")
    # a campus route is audited as the person
    entries = world.store.audit_log(limit=50)
    login = next(e for e in entries if e.action == "login")
    assert "alice@district.example" in login.detail and world.district_id in login.detail
    assert login.token_id is None and login.token_name == "alice@district.example"
    # the session is a person's: logging out ends it
    world.client.post("/logout", headers={"Origin": "http://127.0.0.1"})
    assert world.client.get(f"/campuses/{world.campus_id}").status_code == 401


def test_login_page_offers_each_organisations_sign_in(world: World) -> None:
    page = world.client.get("/login", params={"next": f"/campuses/{world.campus_id}/map"})
    assert page.status_code == 200
    link = re.search(r'<a href="([^"]+)">Sign in with Lincoln Ridge USD</a>', page.text)
    assert link is not None, page.text
    target = html.unescape(link.group(1))
    assert target.startswith(f"/login/oidc/{world.district_id}?next=")
    assert "County Sheriff" not in page.text  # no single sign-on set up
    assert 'name="token"' in page.text  # token sign-in stays
    # the link leads to the provider, and back to where the person was going
    start = world.client.get(target, follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(world.issuer)


def test_the_code_and_tokens_are_never_audited(world: World) -> None:
    callback = _sign_in_at_provider(world, "alice")
    query = parse_qs(urlsplit(callback).query)
    assert world.client.get(callback, follow_redirects=False).status_code == 200
    text = json.dumps(_audit_details(world))
    for secret in (query["code"][0], query["state"][0], SECRET,
                   world.client.cookies["gridmap_session"]):
        assert secret not in text


# --- refusals -----------------------------------------------------------------------------


def _refused(response: Any, status: int, says: str) -> None:
    """A refusal page (``response`` from the TestClient)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert says in response.text
    assert "Traceback" not in response.text
    assert "gridmap_session=" not in response.headers.get("set-cookie", "")


def test_unknown_organisation_and_one_without_single_sign_on(world: World) -> None:
    _refused(world.client.get("/login/oidc/org_doesnotexist", follow_redirects=False),
             404, "no such organisation")
    _refused(world.client.get(f"/login/oidc/{world.sheriff_id}", follow_redirects=False),
             404, "does not sign in with single sign-on")
    assert ("login_failed" in {a for a, _ in _audit_details(world)})


def test_state_mismatch_replay_and_a_foreign_browser_are_refused(world: World) -> None:
    callback = _sign_in_at_provider(world, "alice")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    _refused(world.client.get(forged, follow_redirects=False), 400, "state mismatch")

    callback = _sign_in_at_provider(world, "alice")
    assert world.client.get(callback, follow_redirects=False).status_code == 200
    world.client.cookies.delete("gridmap_session")
    _refused(world.client.get(callback, follow_redirects=False), 400, "not started in this "
             "browser")  # the pre-login cookie was dropped with the first answer

    callback = _sign_in_at_provider(world, "alice")
    login_cookie = world.client.cookies["gridmap_oidc"]
    assert world.client.get(callback, follow_redirects=False).status_code == 200
    world.client.cookies.delete("gridmap_session")
    world.client.cookies.set("gridmap_oidc", login_cookie, path="/login/oidc")
    _refused(world.client.get(callback, follow_redirects=False), 400, "already used")

    callback = _sign_in_at_provider(world, "alice")
    with TestClient(world.client.app, base_url="http://127.0.0.1") as other_browser:
        _refused(other_browser.get(callback, follow_redirects=False), 400,
                 "not started in this browser")


def test_an_answer_naming_another_issuer_or_none_is_refused(world: World) -> None:
    """RFC 9207: this provider names itself in every answer (``iss``), so an answer naming
    another issuer, or none, is a mix-up and refused."""
    callback = _sign_in_at_provider(world, "alice")
    assert "iss=" in callback
    evil = re.sub(r"iss=[^&]+", "iss=https%3A%2F%2Fevil.example", callback)
    _refused(world.client.get(evil, follow_redirects=False), 400, "another identity provider")
    callback = _sign_in_at_provider(world, "alice")
    stripped = re.sub(r"&?iss=[^&]+", "", callback)
    _refused(world.client.get(stripped, follow_redirects=False), 400,
             "another identity provider")


def test_an_unreachable_provider_is_a_clear_502(world: World, settings: Settings) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    oidc.OidcStore(world.store.engine, oidc.SecretBox.from_settings(settings)).set_config(
        world.district_id, issuer=dead, client_id="gridmap-district", client_secret=SECRET,
        allowed_domain=None, actor="tests")
    _refused(world.client.get(f"/login/oidc/{world.district_id}", follow_redirects=False),
             502, "discovery document could not be fetched")


def test_provider_error_is_shown_and_audited(world: World) -> None:
    start = world.client.get(f"/login/oidc/{world.district_id}", follow_redirects=False)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        page = _until_callback(browser, browser.get(start.headers["location"]))
        abort = browser.get(urljoin(str(page.url), urlsplit(str(page.url)).path + "/abort"))
        back = _until_callback(browser, abort)
        location = urljoin(str(back.url), back.headers["location"])
    parts = urlsplit(location)
    _refused(world.client.get(f"{parts.path}?{parts.query}", follow_redirects=False), 401,
             "access_denied")
    assert any(a == "login_failed" and "access_denied" in d for a, d in _audit_details(world))


@pytest.mark.parametrize(("login", "status", "says", "email"), [
    ("dora", 403, "is disabled", "dora@district.example"),
    ("eve", 403, "has no gridmap account", "eve@district.example"),
    ("mallory", 403, "@district.example addresses", "mallory@elsewhere.example"),
    ("ursula", 403, "not verified", "ursula@district.example"),
    ("sam", 403, "has no gridmap account", "sam@district.example"),  # another org's person
])
def test_people_who_may_not_sign_in_here(world: World, login: str, status: int, says: str,
                                         email: str) -> None:
    callback = _sign_in_at_provider(world, login)
    _refused(world.client.get(callback, follow_redirects=False), status, says)
    failed = [d for a, d in _audit_details(world) if a == "login_failed"]
    assert any(email in d and world.district_id in d for d in failed), failed
    assert world.client.get(f"/campuses/{world.campus_id}").status_code == 401


def test_a_wrong_client_secret_is_refused_by_the_provider(world: World,
                                                          settings: Settings) -> None:
    oidc.OidcStore(world.store.engine, oidc.SecretBox.from_settings(settings)).set_config(
        world.district_id, issuer=world.issuer, client_id="gridmap-district",
        client_secret="not-the-secret", allowed_domain="district.example", actor="tests")
    callback = _sign_in_at_provider(world, "alice")
    _refused(world.client.get(callback, follow_redirects=False), 401, "invalid_client")


# --- the ID token ---------------------------------------------------------------------------


class _Keys(oidc.ProviderCache):
    """A provider cache that holds given keys (no network)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        super().__init__()
        self._given = jwks

    def jwks(self, metadata: oidc.ProviderMetadata, *, fresh: bool = False) -> dict[str, Any]:
        return self._given


_META = oidc.ProviderMetadata("https://idp.example", "https://idp.example/auth",
                              "https://idp.example/token", "https://idp.example/jwks", None)


def _id_token(key: Any, **overrides: Any) -> str:
    from joserfc import jwt

    now = int(time.time())
    claims = {"iss": "https://idp.example", "aud": "client-1", "sub": "s1", "iat": now,
              "exp": now + 300, "nonce": "n1", "email": "a@b.example", "email_verified": True}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


@pytest.fixture(scope="module")
def signing_key() -> Any:
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


def test_id_token_checks(signing_key: Any) -> None:
    from joserfc.jwk import RSAKey

    keys = _Keys({"keys": [signing_key.as_dict(private=False)]})

    def check(token: str) -> dict[str, Any]:
        return oidc.validate_id_token(token, keys, _META, "client-1", "n1")

    assert check(_id_token(signing_key))["email"] == "a@b.example"
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    now = int(time.time())
    for token, why in [
        (_id_token(other), "bad signature"),
        (_id_token(signing_key, exp=now - 3600), "expired"),
        (_id_token(signing_key, aud="client-2"), "wrong aud"),
        (_id_token(signing_key, iss="https://evil.example"), "wrong iss"),
        (_id_token(signing_key, nonce="n2"), "wrong nonce"),
        (_id_token(signing_key, nonce=None), "missing claim nonce"),
        (_id_token(signing_key, aud=["client-1", "other"]), "wrong azp"),
        (_id_token(signing_key, iat=now + 3600), "wrong iat"),
        ("not.a.token", "unreadable"),
    ]:
        with pytest.raises(oidc.SignInRefused, match=why) as refused:
            check(token)
        assert refused.value.status == 401
    # an unsigned token ("alg": "none") is never accepted
    import base64

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none'})}.{part({'iss': 'https://idp.example'})}."
    with pytest.raises(oidc.SignInRefused, match="unreadable"):
        check(unsigned)


# --- settings: admins, the CLI, the secret ------------------------------------------------


def test_admin_sets_reads_and_removes_settings_and_never_sees_the_secret(
    world: World,
) -> None:
    client, url = world.client, f"/orgs/{world.district_id}/oidc"
    client.headers["Authorization"] = f"Bearer {world.admin_token}"
    shown = client.get(url)
    assert shown.status_code == 200, shown.text
    assert shown.json()["client_id"] == "gridmap-district"
    assert SECRET not in shown.text and shown.json()["client_secret"] == "set"
    changed = client.put(url, json={"issuer": world.issuer, "client_id": "gridmap-district",
                                    "allowed_domain": "district.example"})
    assert changed.status_code == 200 and SECRET not in changed.text
    # the secret was kept (not re-entered): sign-in still works
    client.headers.pop("Authorization")
    assert client.get(_sign_in_at_provider(world, "alice"),
                      follow_redirects=False).status_code == 200
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {world.admin_token}"
    bad = client.put(url, json={"issuer": "http://idp.example", "client_id": "x",
                                "client_secret": "y"})
    assert bad.status_code == 400 and "https" in bad.text
    # another organisation's settings: refused
    other = client.put(f"/orgs/{world.sheriff_id}/oidc",
                       json={"issuer": world.issuer, "client_id": "gridmap-sheriff",
                             "client_secret": "sheriff-secret"})
    assert other.status_code == 403
    # an officer of the district is no admin of it
    officer = identity(world.store).person_by_email("alice@district.example")
    assert officer is not None
    officer_token, _ = create_token(world.store, "alice's token", user=officer.id)
    assert client.get(url, headers={"Authorization": f"Bearer {officer_token}"}
                      ).status_code == 403
    assert client.delete(url).json()["removed"] is True
    client.headers.pop("Authorization")
    _refused(client.get(f"/login/oidc/{world.district_id}", follow_redirects=False), 404,
             "does not sign in with single sign-on")
    # nothing an admin did put the secret in the audit log
    assert SECRET not in json.dumps(_audit_details(world))


def test_secret_is_encrypted_at_rest_and_hidden_from_repr(world: World,
                                                          settings: Settings) -> None:
    assert SECRET.encode() not in stored_bytes(world.store)
    config = oidc.OidcStore(world.store.engine,
                            oidc.SecretBox.from_settings(settings)).config(world.district_id)
    assert config is not None and config.client_secret == SECRET
    assert SECRET not in repr(config)
    key_file = settings.data_dir / "oidc.key"
    assert key_file.stat().st_mode & 0o077 == 0
    # another key cannot read it: a clear refusal, not a crash
    import base64

    other = Settings(data_dir=settings.data_dir, database_url=settings.database_url,
                     oidc_secret_key=SecretStr(base64.urlsafe_b64encode(os.urandom(32)).decode()))
    with pytest.raises(oidc.SignInRefused) as refused:
        oidc.OidcStore(world.store.engine, oidc.SecretBox.from_settings(other)).config(
            world.district_id)
    assert "another GRIDMAP_OIDC_SECRET_KEY" in refused.value.user_message


@pytest.mark.parametrize(("field", "value", "says"), [
    ("issuer", "ftp://idp.example", "https"),
    ("issuer", "https://idp.example/?x=1", "plain https URL"),
    ("client_id", "has space", "client id"),
    ("allowed_domain", "not a domain", "not a domain name"),
])
def test_config_checks(field: str, value: str, says: str) -> None:
    checks = {"issuer": oidc.normalise_issuer, "client_id": oidc.check_client_id,
              "allowed_domain": oidc.check_domain}
    with pytest.raises(oidc.InvalidOidcConfig, match=says):
        checks[field](value)


def test_cli_sets_single_sign_on_from_a_secret_file(world: World, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main

    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("sheriff-secret\n")
    code = main(["org", "oidc", "County Sheriff", "--issuer", world.issuer + "/",
                 "--client-id", "gridmap-sheriff", "--client-secret-file", str(secret_file)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "sheriff-secret" not in out.out + out.err
    assert world.issuer in out.out and "client secret replaced" in out.out
    # the sheriff's office now signs in with it (the CLI wrote to the same store)
    start = world.client.get(f"/login/oidc/{world.sheriff_id}", follow_redirects=False)
    assert start.status_code == 303 and "client_id=gridmap-sheriff" in start.headers["location"]
    # without a secret for a new organisation, or with an unreadable file: a clear error
    assert main(["org", "oidc", "County Sheriff", "--remove"]) == 0
    assert main(["org", "oidc", "County Sheriff", "--issuer", world.issuer,
                 "--client-id", "x"]) == 2
    assert "a client secret is needed" in capsys.readouterr().err
    assert main(["org", "oidc", "County Sheriff", "--issuer", world.issuer, "--client-id", "x",
                 "--client-secret-file", str(tmp_path / "missing")]) == 2
    assert "cannot read the client secret file" in capsys.readouterr().err


# --- in a real browser ----------------------------------------------------------------------


@pytest.mark.browser
def test_a_browser_signs_in_with_a_provider_on_another_site(
    data_dir: Path, campus: Campus, tmp_path: Path,
) -> None:
    """Chromium, with the provider on another site (localhost) than gridmap (127.0.0.1): from
    the sign-in page's link through the provider's forms back to the campus, whose route then
    answers with the person's session (the SameSite=Strict cookie is sent). A browser is the
    same on either backend: SQLite only."""
    from selenium.webdriver.common.by import By

    from tests.browser import chromium, need_browser, serve, wait_for

    need_browser()
    settings = Settings(data_dir=data_dir)
    store = SqlCampusStore(settings.resolved_database_url)
    app = create_app(settings, store)
    with closing(store), serve(app) as base, running_provider(
            tmp_path, f"{base}/login/oidc/callback", host="localhost") as idp:
        _populate(settings, store, campus, idp.issuer)
        with chromium(tmp_path / "profile") as drv:
            drv.get(f"{base}/login?next=/campuses/{campus.id}")
            drv.find_element(By.LINK_TEXT, "Sign in with Lincoln Ridge USD").click()
            wait_for(drv, "return !!document.querySelector('input[name=login]')")
            assert drv.current_url.startswith(idp.issuer)
            drv.find_element(By.NAME, "login").send_keys("alice")
            drv.find_element(By.NAME, "password").send_keys("anything")
            drv.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait_for(drv, "return document.body.innerText.includes('Authorize')"
                          " || location.href.includes('/campuses/')")
            if "/campuses/" not in drv.current_url:
                drv.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait_for(drv, f"return location.pathname === '/campuses/{campus.id}'"
                          " && document.body.innerText.length > 0")
            body = drv.find_element(By.TAG_NAME, "body").text
            assert json.loads(body)["id"] == campus.id, body


def test_sign_ins_under_way_are_bounded(store: SqlCampusStore) -> None:
    """Anyone may start a sign-in, so the pending ones are capped (expired ones do not count)."""
    from datetime import timedelta

    bounded = oidc.OidcStore(store.engine, None, max_pending=2)

    def pending() -> oidc.PendingLogin:
        return oidc.PendingLogin("org_x", "s", "n", "v" * 43, CALLBACK, "/")

    first = bounded.begin_login(pending())
    bounded.begin_login(pending())
    with pytest.raises(oidc.SignInRefused) as refused:
        bounded.begin_login(pending())
    assert refused.value.status == 503
    # claimed sign-ins still count until they expire; expired ones make room
    bounded.take_login(first, "s")
    with store.engine.begin() as conn:
        conn.execute(oidc.OidcLoginRow.__table__.update().values(
            expires_at=oidc.utcnow() - timedelta(seconds=1)))
    bounded.begin_login(pending())
    bounded.begin_login(pending())


def test_failed_single_sign_ons_are_rate_limited_with_token_sign_ins(
        settings: Settings, store: SqlCampusStore) -> None:
    """A callback that fails (here: no sign-in was begun in this browser) spends from the same
    per-address budget as a failed token sign-in; past it, 429 with Retry-After, audited,
    whatever is tried next."""
    now = [1000.0]
    limited = settings.model_copy(update={"login_failures_burst": 2,
                                          "login_failures_per_minute": 6.0})
    with TestClient(create_app(limited, store, clock=lambda: now[0]),
                    base_url="http://127.0.0.1") as c:
        forged = {"state": "s" * 40, "code": "guess"}
        assert c.get("/login/oidc/callback", params=forged).status_code == 400
        assert c.post("/login", data={"token": "gm_guess"}).status_code == 401
        r = c.get("/login/oidc/callback", params=forged)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "10"
        assert "Too many failed sign-ins" in r.text
        assert c.post("/login", data={"token": "gm_guess"}).status_code == 429
        now[0] += 10.0  # one more try regained
        assert c.get("/login/oidc/callback", params=forged).status_code == 400
    refusals = [e for e in store.audit_log() if e.status == 429]
    assert any("/login/oidc/callback" in e.detail for e in refusals), refusals
