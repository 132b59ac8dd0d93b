"""The HTTP service: authentication on every route, audit, revisions, bad input, map routes."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Principal, create_token, hash_token
from api.context import TILE_AUDIT_WINDOW_S, TILE_AUDITS_MAX, AppContext
from api.routes_auth import PUBLIC_PATHS
from api.settings import Settings
from api.store import Role, SqlCampusStore, utcnow
from api.store_identity import Organisation
from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.lookup import MAX_QUERY_LENGTH
from gridmap.model import Campus
from tests.conftest import stored_bytes
from tiles import raster, webmap

CAMPUS = "test-campus"


def _concrete(path: str) -> str:
    """A route path with plausible values in its parameters."""
    values = {"campus_id": CAMPUS, "ordinal": "0", "z": "1", "x": "0", "y": "0", "label": "C4",
              "path": "vendor/leaflet/leaflet.js", "org_id": "org_0123456789ab",
              "user_id": "usr_0123456789ab", "job_id": "job_" + "0" * 32,
              "token_id": "tok_0123456789ab", "partnership_id": "prt_0123456789ab",
              "link_id": "shr_0123456789ab", "number": "1", "ws_id": "ws_0123456789ab",
              "file_id": "wf_0123456789ab", "drawing_id": "wd_0123456789ab"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def _all_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route of the app, also inside included routers (kept nested by FastAPI)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _all_routes(included.routes)
        else:
            yield route


def _app_routes(client: TestClient) -> list[Any]:
    return list(_all_routes(client.app.routes))  # type: ignore[attr-defined]


def _protected_routes(client: TestClient) -> list[tuple[str, str]]:
    routes = []
    for route in _app_routes(client):
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        for method in sorted(route.methods):
            routes.append((method, _concrete(route.path)))
    return routes


# --- authentication -------------------------------------------------------------------------


def test_health_and_login_are_public(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="token"' in page.text
    # no external assets on the login page
    assert "http://" not in page.text
    assert "https://" not in page.text


def test_every_other_route_needs_a_token(client: TestClient, stored_campus: Campus) -> None:
    routes = _protected_routes(client)
    paths = {p for _, p in routes}
    # the docs, the schema, static files and the map page are all among them
    assert {"/docs", "/openapi.json", "/static/vendor/leaflet/leaflet.js",
            f"/campuses/{CAMPUS}/map", "/", "/campuses", "/audit", "/logout"} <= paths
    for method, path in routes:
        response = client.request(method, path, params={"q": "x", "lon": 0, "lat": 0})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["type"] == "Unauthenticated"
        _check_headers(method, path, response)  # refusals carry the security headers too


def test_only_health_and_login_are_public(client: TestClient) -> None:
    paths = {r.path for r in _app_routes(client) if isinstance(r, APIRoute)}
    assert len(paths) > 15
    unauthenticated_ok = {
        path for path in paths
        if client.get(_concrete(path), params={"q": "x", "lon": 0, "lat": 0}).status_code < 400
    }
    # /share: the page that opens a share link (its secret is posted by the page's script)
    assert unauthenticated_ok == {"/healthz", "/login", "/share"}


def test_no_route_is_mounted_outside_the_auth_dependency(client: TestClient) -> None:
    # a mounted sub-app (StaticFiles) would bypass the dependency; there must be none
    from starlette.routing import Mount

    routes = _app_routes(client)
    assert routes
    assert not [r for r in routes if isinstance(r, Mount) or not isinstance(r, APIRoute)]


def test_route_enumeration_matches_the_schema(client: TestClient, admin_token: str) -> None:
    schema = client.get("/openapi.json", headers={"Authorization": f"Bearer {admin_token}"})
    enumerated = {r.path.replace(":path}", "}") for r in _app_routes(client)
                  if isinstance(r, APIRoute)}
    assert set(schema.json()["paths"]) | {"/docs", "/openapi.json"} == enumerated


def test_browser_without_cookie_is_sent_to_login(client: TestClient, stored_campus: Campus) -> None:
    r = client.get(f"/campuses/{CAMPUS}/map?level=1", headers={"Accept": "text/html"},
                   follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/campuses/{CAMPUS}/map%3Flevel%3D1"


def test_wrong_token(client: TestClient, stored_campus: Campus) -> None:
    r = client.get("/campuses", headers={"Authorization": "Bearer gm_nope"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "invalid token"
    r = client.get("/campuses", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401
    assert "Bearer" in r.json()["error"]["message"]


def test_expired_and_revoked_tokens(client: TestClient, store: SqlCampusStore,
                                    district: Organisation,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    token, record = create_token(store, "short", Role.VIEWER, expires_days=1)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/campuses", headers=headers).status_code == 200
    later = utcnow() + timedelta(days=2)
    monkeypatch.setattr("api.auth.utcnow", lambda: later)
    r = client.get("/campuses", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "token expired"
    monkeypatch.undo()
    store.revoke_tokens(token_id=record.id)
    r = client.get("/campuses", headers=headers)
    assert r.json()["error"]["message"] == "token revoked"


def test_cookie_login_flow(client: TestClient, viewer_token: str, stored_campus: Campus) -> None:
    bad = client.post("/login", data={"token": "gm_wrong", "next": "/campuses"})
    assert bad.status_code == 401
    assert "Sign-in failed" in bad.text
    assert "set-cookie" not in bad.headers

    ok = client.post("/login", data={"token": viewer_token, "next": f"/campuses/{CAMPUS}"},
                     follow_redirects=False)
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/campuses/{CAMPUS}"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie

    assert client.get(f"/campuses/{CAMPUS}").json()["id"] == CAMPUS
    assert client.get(f"/campuses/{CAMPUS}/grid.geojson").status_code == 200

    session_id = ok.cookies["gridmap_session"]
    out = client.post("/logout", follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert "gridmap_session" not in client.cookies  # the browser drops it ...
    r = _with_cookie(client, session_id).get("/campuses")  # ... and a kept copy is dead
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "session ended"


def test_cookie_secure_flag_follows_settings(data_dir: Path, store: SqlCampusStore,
                                             viewer_token: str) -> None:
    settings = Settings(data_dir=data_dir, cookie_secure=True)
    with TestClient(create_app(settings, store)) as c:
        r = c.post("/login", data={"token": viewer_token}, follow_redirects=False)
    assert "Secure" in r.headers["set-cookie"]


@pytest.mark.parametrize("base_url", [
    "https://testserver", "https://127.0.0.1:8443",  # over TLS
    # plain http to a host that is not this machine: a TLS proxy in front, the browser on https
    "http://testserver", "http://maps.campus.example", "http://10.1.2.3:8000",
])
def test_cookie_is_secure_unless_on_loopback(data_dir: Path, store: SqlCampusStore,
                                             viewer_token: str, base_url: str) -> None:
    settings = Settings(data_dir=data_dir)  # cookie_secure off
    with TestClient(create_app(settings, store), base_url=base_url) as c:
        r = c.post("/login", data={"token": viewer_token}, follow_redirects=False)
    assert "Secure" in r.headers["set-cookie"]


@pytest.mark.parametrize("base_url", [
    "http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000", "http://127.0.0.1",
])
def test_cookie_on_plain_http_loopback_is_not_secure(data_dir: Path, store: SqlCampusStore,
                                                     viewer_token: str, base_url: str) -> None:
    settings = Settings(data_dir=data_dir)  # the http demo on this machine keeps working
    with TestClient(create_app(settings, store), base_url=base_url) as c:
        r = c.post("/login", data={"token": viewer_token}, follow_redirects=False)
    assert "secure" not in r.headers["set-cookie"].lower()


def _login(client: TestClient, token: str) -> str:
    """Sign in; the session cookie's value (also kept in the client's cookie jar)."""
    r = client.post("/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303
    session_id = r.cookies.get("gridmap_session")
    assert session_id
    return session_id


def _with_cookie(client: TestClient, value: str) -> TestClient:
    client.cookies.clear()
    client.cookies.set("gridmap_session", value)
    return client


def test_session_cookie_is_not_the_token(settings: Settings, client: TestClient,
                                         store: SqlCampusStore, viewer_token: str,
                                         stored_campus: Campus) -> None:
    session_id = _login(client, viewer_token)
    assert session_id != viewer_token
    assert viewer_token not in session_id
    assert session_id.startswith("gs_")
    assert client.get("/campuses").status_code == 200
    # the session id is no bearer token ...
    client.cookies.clear()
    r = client.get("/campuses", headers={"Authorization": f"Bearer {session_id}"})
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "invalid token"
    # ... and the token is no session id
    r = _with_cookie(client, viewer_token).get("/campuses")
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "invalid session"
    # only the session's hash is stored
    raw = stored_bytes(store)
    assert session_id.encode() not in raw
    assert hash_token(session_id).encode() in raw


def test_logout_ends_the_session_server_side(client: TestClient, viewer_token: str,
                                             stored_campus: Campus,
                                             store: SqlCampusStore) -> None:
    session_id = _login(client, viewer_token)
    assert client.post("/logout", follow_redirects=False).status_code == 303
    # a copy of the old cookie (kept by a browser, a proxy log, a thief) is useless now
    r = _with_cookie(client, session_id).get(f"/campuses/{CAMPUS}")
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "session ended"
    assert next(e.detail for e in store.audit_log() if e.action == "logout") == "session ended"
    # the refused copy is audited as denied, with why
    assert "session ended" in store.audit_log(limit=1)[0].detail
    # the token itself still works, and can sign in again
    client.cookies.clear()
    assert client.get("/campuses", headers={"Authorization": f"Bearer {viewer_token}"}).is_success
    _login(client, viewer_token)
    assert client.get("/campuses").status_code == 200


def _cookie_cleared(response: Any) -> bool:
    """The response tells the browser to drop the session cookie (and its cached pages)."""
    cookie = response.headers.get("set-cookie", "")
    return (cookie.startswith("gridmap_session=") and "Max-Age=0" in cookie
            and response.headers.get("clear-site-data") == '"cache"')


def test_logout_clears_cookie_and_cached_tiles(client: TestClient, viewer_token: str,
                                               stored_campus: Campus) -> None:
    _login(client, viewer_token)
    out = client.post("/logout", follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert _cookie_cleared(out)  # a shared in-car laptop keeps no tiles of the last user


def test_login_ends_the_session_the_browser_already_holds(
    client: TestClient, store: SqlCampusStore, viewer_token: str, admin_token: str,
    stored_campus: Campus,
) -> None:
    first = _login(client, viewer_token)
    second = _login(client, admin_token)  # the browser still sends the first cookie
    assert second != first
    assert client.get("/audit").status_code == 200  # now the admin
    r = _with_cookie(client, first).get("/campuses")
    assert (r.status_code, r.json()["error"]["message"]) == (401, "session ended")
    assert _with_cookie(client, second).get("/campuses").status_code == 200


@pytest.mark.parametrize("why", ["session expired", "session ended", "invalid session"])
def test_logout_with_a_dead_session_still_clears_the_cookie(
    client: TestClient, store: SqlCampusStore, settings: Settings, viewer_token: str,
    stored_campus: Campus, monkeypatch: pytest.MonkeyPatch, why: str,
) -> None:
    session_id = _login(client, viewer_token)
    if why == "session expired":
        later = utcnow() + timedelta(seconds=settings.session_max_age_seconds + 1)
        monkeypatch.setattr("api.auth.utcnow", lambda: later)
    elif why == "session ended":
        store.revoke_session(hash_token(session_id))
    else:
        _with_cookie(client, "gs_" + "x" * 43)
    assert client.get("/campuses").json()["error"]["message"] == why
    out = client.post("/logout", follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert _cookie_cleared(out)
    entry = store.audit_log(limit=1)[0]
    assert (entry.action, entry.token_id) == ("logout", None)
    assert why in entry.detail


def test_logout_without_any_credentials_is_401(client: TestClient) -> None:
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 401
    assert "set-cookie" not in r.headers


def test_bearer_logout_leaves_the_cookie_session_alone(
    client: TestClient, store: SqlCampusStore, viewer_token: str, admin_token: str,
    stored_campus: Campus,
) -> None:
    session_id = _login(client, viewer_token)
    # authenticated by the header, not the cookie: the cookie's session is not the caller's
    out = client.post("/logout", headers={"Authorization": f"Bearer {admin_token}"},
                      follow_redirects=False)
    assert out.status_code == 303
    assert "set-cookie" not in out.headers
    entry = store.audit_log(limit=1)[0]
    assert (entry.action, entry.token_name) == ("logout", "test admin")
    assert entry.detail == "bearer token: no session to end"
    assert client.get("/campuses").status_code == 200
    assert _with_cookie(client, session_id).get("/campuses").status_code == 200
    # a bad header is refused, and the cookie's session survives that too
    r = client.post("/logout", headers={"Authorization": "Bearer gm_nope"})
    assert r.status_code == 401
    assert client.get("/campuses").status_code == 200


CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "http://127.0.0.1:9000"},  # another port is another origin
    {"Origin": "http://127.0.0.1.evil.example"},
    {"Origin": "null"},  # sandboxed frames, some redirects: not this site either
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "null", "Sec-Fetch-Site": "same-site"},
    {"Origin": "not a url"},
    {"Sec-Fetch-Site": "cross-site"},  # no Origin, but the browser says where it came from
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_login_is_refused(client: TestClient, store: SqlCampusStore,
                                     viewer_token: str, headers: dict[str, str]) -> None:
    r = client.post("/login", data={"token": viewer_token}, headers=headers,
                    follow_redirects=False)
    assert r.status_code == 403
    assert r.json()["error"]["message"].startswith("cross-site request refused")
    assert "set-cookie" not in r.headers
    entry = store.audit_log(limit=1)[0]
    assert (entry.action, entry.token_id) == ("denied", None)
    assert "cross-site POST /login" in entry.detail


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_logout_is_refused(client: TestClient, store: SqlCampusStore,
                                      viewer_token: str, stored_campus: Campus,
                                      headers: dict[str, str]) -> None:
    _login(client, viewer_token)
    r = client.post("/logout", headers=headers, follow_redirects=False)
    assert r.status_code == 403
    assert "set-cookie" not in r.headers
    assert client.get("/campuses").status_code == 200  # still signed in
    assert [e.action for e in store.audit_log(limit=2)] == ["list_campuses", "denied"]


@pytest.mark.parametrize(("base_url", "headers"), [
    ("http://127.0.0.1", {}),  # curl, scripts: no Origin
    ("http://127.0.0.1", {"Origin": "http://127.0.0.1"}),
    ("http://127.0.0.1:8000", {"Origin": "http://127.0.0.1:8000"}),
    ("http://[::1]:8000", {"Origin": "http://[::1]:8000"}),
    ("http://localhost:8000", {"Origin": "http://LOCALHOST:8000"}),
    ("http://127.0.0.1", {"Sec-Fetch-Site": "same-origin"}),
    ("http://127.0.0.1", {"Sec-Fetch-Site": "none"}),  # typed or bookmarked
    # a same-origin form on a page with "Referrer-Policy: no-referrer" says "Origin: null"
    ("http://127.0.0.1", {"Origin": "null", "Sec-Fetch-Site": "same-origin"}),
    ("https://maps.campus.example", {"Origin": "https://maps.campus.example:443"}),
    # behind a TLS proxy the app sees http while the browser's page is https
    ("http://maps.campus.example", {"Origin": "https://maps.campus.example"}),
])
def test_same_origin_login_and_logout_are_allowed(
    settings: Settings, store: SqlCampusStore, viewer_token: str, base_url: str,
    headers: dict[str, str],
) -> None:
    with TestClient(create_app(settings, store), base_url=base_url) as c:
        r = c.post("/login", data={"token": viewer_token}, headers=headers,
                   follow_redirects=False)
        assert r.status_code == 303
        session_id = r.cookies["gridmap_session"]
        out = _with_cookie(c, session_id).post("/logout", headers=headers,
                                                follow_redirects=False)
        assert out.status_code == 303
    assert [e.detail for e in store.audit_log(limit=1)] == ["session ended"]


def test_pages_with_sign_in_or_out_forms_keep_their_origin(viewer: TestClient) -> None:
    """Their form posts must carry the real Origin, not the "null" of no-referrer pages."""
    for path in ("/login", "/"):
        r = viewer.get(path)
        assert 'method="post"' in r.text or "method=post" in r.text
        assert r.headers["referrer-policy"] == "same-origin"
        assert "no-store" in r.headers["cache-control"]


def test_plain_http_origin_is_refused_on_https(settings: Settings, store: SqlCampusStore,
                                               viewer_token: str) -> None:
    with TestClient(create_app(settings, store), base_url="https://maps.campus.example") as c:
        r = c.post("/login", data={"token": viewer_token},
                   headers={"Origin": "http://maps.campus.example"}, follow_redirects=False)
    assert r.status_code == 403


def test_expired_session_is_rejected(client: TestClient, settings: Settings, viewer_token: str,
                                     stored_campus: Campus,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _login(client, viewer_token)
    assert client.get("/campuses").status_code == 200
    later = utcnow() + timedelta(seconds=settings.session_max_age_seconds + 1)
    monkeypatch.setattr("api.auth.utcnow", lambda: later)
    r = client.get("/campuses")
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "session expired"
    # the (non-expiring) token is still good as a bearer token
    client.cookies.clear()
    assert client.get("/campuses", headers={"Authorization": f"Bearer {viewer_token}"}).is_success


def test_revoked_or_expired_token_kills_its_sessions(client: TestClient, store: SqlCampusStore,
                                                     stored_campus: Campus,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token, record = create_token(store, "dispatch", Role.VIEWER, expires_days=0.25)
    session_id = _login(client, token)
    assert client.get("/campuses").status_code == 200
    # the token expires before the 12-hour session would
    later = utcnow() + timedelta(hours=6, seconds=1)
    monkeypatch.setattr("api.auth.utcnow", lambda: later)
    r = client.get("/campuses")
    assert (r.status_code, r.json()["error"]["message"]) == (401, "token expired")
    monkeypatch.undo()
    assert client.get("/campuses").status_code == 200
    store.revoke_tokens(token_id=record.id)
    r = _with_cookie(client, session_id).get("/campuses")
    assert (r.status_code, r.json()["error"]["message"]) == (401, "token revoked")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_off_site(client: TestClient, viewer_token: str,
                                        target: str) -> None:
    r = client.post("/login", data={"token": viewer_token, "next": target},
                    follow_redirects=False)
    assert r.headers["location"] == "/"


def test_tokens_are_hashed_at_rest(settings: Settings, store: SqlCampusStore,
                                   client: TestClient, admin_token: str) -> None:
    client.get("/campuses", headers={"Authorization": f"Bearer {admin_token}"})
    raw = stored_bytes(store)
    assert admin_token.encode() not in raw
    assert hash_token(admin_token).encode() in raw
    if settings.database_url is None:  # SQLite: not in the file or its WAL either
        store.close()
        files = b"".join(p.read_bytes() for p in settings.data_dir.glob("gridmap.db*"))
        assert admin_token.encode() not in files
        assert hash_token(admin_token).encode() in files


def test_viewer_cannot_read_the_audit_log(viewer: TestClient, admin_token: str) -> None:
    r = viewer.get("/audit")
    assert r.status_code == 403
    assert r.json()["error"]["type"] == "Forbidden"
    r = viewer.get("/audit", headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200


def test_token_limited_to_campuses(client: TestClient, store: SqlCampusStore,
                                   stored_campus: Campus) -> None:
    other = dataclasses.replace(stored_campus, id="other-campus", name="Other")
    store.save_revision(other, source="tests")
    token, _ = create_token(store, "agency", Role.VIEWER, campuses=["other-campus"])
    client.headers["Authorization"] = f"Bearer {token}"
    assert [c["id"] for c in client.get("/campuses").json()["campuses"]] == ["other-campus"]
    assert client.get(f"/campuses/{CAMPUS}").status_code == 404
    assert client.get(f"/campuses/{CAMPUS}/lookup", params={"q": "214"}).status_code == 404
    centre = stored_campus.buildings[0].footprint.centroid
    matches = client.get("/locate", params={"lon": centre.x, "lat": centre.y}).json()["matches"]
    assert [m["campus"] for m in matches] == ["other-campus"]


# --- audit ----------------------------------------------------------------------------------


def test_campus_data_access_is_audited(viewer: TestClient, store: SqlCampusStore) -> None:
    viewer.get("/campuses")
    viewer.get(f"/campuses/{CAMPUS}")
    viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": "room 214"})
    viewer.get(f"/campuses/{CAMPUS}/cells/C4")
    viewer.get(f"/campuses/{CAMPUS}/levels/1.geojson")
    viewer.get(f"/campuses/{CAMPUS}/grid.geojson")
    viewer.get(f"/campuses/{CAMPUS}/revisions")
    log = list(reversed(store.audit_log()))
    assert [e.action for e in log] == [
        "list_campuses", "campus", "lookup", "cell", "level_geojson", "grid_geojson", "revisions"
    ]
    assert all(e.token_name == "test viewer" for e in log)
    assert all(e.campus_id == CAMPUS for e in log[1:])
    assert "room 214" in log[2].detail
    assert log[0].client == "testclient"


def test_denied_attempts_are_audited(client: TestClient, store: SqlCampusStore,
                                     stored_campus: Campus) -> None:
    other = dataclasses.replace(stored_campus, id="other-campus", name="Other")
    store.save_revision(other, source="tests")
    token, record = create_token(store, "agency", Role.VIEWER, campuses=["other-campus"])
    client.headers["Authorization"] = f"Bearer {token}"
    assert client.get(f"/campuses/{CAMPUS}").status_code == 404
    assert client.get(f"/campuses/{CAMPUS}/revisions").status_code == 404
    assert client.get("/campuses/nowhere/lookup", params={"q": "214"}).status_code == 404
    denied = [e for e in reversed(store.audit_log()) if e.action == "denied"]
    assert [(e.token_id, e.campus_id) for e in denied] == [
        (record.id, CAMPUS), (record.id, CAMPUS), (record.id, "nowhere")]
    assert all(e.client == "testclient" for e in denied)
    assert "may not see" in denied[0].detail
    assert "nowhere" in denied[2].detail


def test_failed_login_is_audited(client: TestClient, store: SqlCampusStore) -> None:
    client.post("/login", data={"token": "gm_wrong"})
    assert [e.action for e in store.audit_log()] == ["login_failed"]


# --- campus data ----------------------------------------------------------------------------


def test_campus_detail(viewer: TestClient, stored_campus: Campus) -> None:
    d = viewer.get(f"/campuses/{CAMPUS}").json()
    assert d["revision"] == 1
    assert d["grid"]["cell_size"] == 25.0
    assert d["grid"]["unit"] == "m"
    assert (d["grid"]["columns"], d["grid"]["rows"]) == (
        stored_campus.grid.columns, stored_campus.grid.rows)
    assert d["grid"]["last_cell"] == "H6"
    assert [b["id"] for b in d["buildings"]] == ["A", "B"]
    assert [lv["ordinal"] for lv in d["buildings"][0]["levels"]] == [0, 1]
    assert d["levels"] == [{"ordinal": 0, "name": "1st Floor"},
                           {"ordinal": 1, "name": "2nd Floor"}]
    assert d["counts"]["units"] == len(stored_campus.units)
    core = grid.lonlat_bounds(stored_campus.grid, LocalFrame(stored_campus.crs))
    assert d["bounds"] == [round(v, 7) for v in core]
    min_lon, min_lat, max_lon, max_lat = d["bounds"]
    centre = stored_campus.buildings[0].footprint.centroid
    assert min_lon < centre.x < max_lon
    assert min_lat < centre.y < max_lat


def test_lookup(viewer: TestClient) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": "rm 214"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "found"
    top = body["candidates"][0]
    assert top["unit_number"] == "214"
    assert top["campus_id"] == CAMPUS
    assert top["primary_cell"]


def test_unknown_query_is_not_found_not_an_error(viewer: TestClient) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": "xylophone museum"})
    assert r.status_code == 200
    assert r.json()["status"] == "not_found"


def test_query_length_limit_is_the_cores(viewer: TestClient) -> None:
    longest = "x" * MAX_QUERY_LENGTH
    assert viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": longest}).status_code == 200
    r = viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": longest + "x"})
    assert r.status_code == 422
    assert "max_query_length" not in Settings.model_fields


@pytest.mark.parametrize(("q", "status"), [("x" * 201, 422), ("", 422), ("   ", 400)])
def test_bad_queries(viewer: TestClient, q: str, status: int) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": q})
    assert r.status_code == status
    assert r.json()["error"]["message"]


def test_lookup_limit_is_validated(viewer: TestClient) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": "214", "limit": 0})
    assert r.status_code == 422
    assert "limit" in r.json()["error"]["message"]


def test_unknown_campus(viewer: TestClient) -> None:
    for path in ("/campuses/nowhere", "/campuses/nowhere/lookup?q=214",
                 "/campuses/nowhere/revisions", "/campuses/nowhere/grid.geojson"):
        r = viewer.get(path)
        assert r.status_code == 404, path
        assert r.json() == {"error": {"type": "CampusNotFound",
                                      "message": "unknown campus 'nowhere'"}}


def test_cells(viewer: TestClient) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/cells/C4")
    assert r.status_code == 200
    assert r.json()["cell"] == "C4"
    bad = viewer.get(f"/campuses/{CAMPUS}/cells/hello")
    assert bad.status_code == 400
    assert "hello" in bad.json()["error"]["message"]
    off = viewer.get(f"/campuses/{CAMPUS}/cells/Z40")
    assert off.status_code == 404
    assert "Z40" in off.json()["error"]["message"]


def test_locate(viewer: TestClient, stored_campus: Campus) -> None:
    centre = stored_campus.buildings[1].footprint.centroid
    body = viewer.get("/locate", params={"lon": centre.x, "lat": centre.y}).json()
    (match,) = body["matches"]
    assert match["campus"] == CAMPUS
    assert match["building"]["id"] == "B"
    assert viewer.get("/locate", params={"lon": 10.0, "lat": 10.0}).json()["matches"] == []


@pytest.mark.parametrize("params", [{"lon": 181, "lat": 0}, {"lon": 0, "lat": -91},
                                    {"lon": "east", "lat": 0}, {"lat": 0}])
def test_locate_validates_coordinates(viewer: TestClient, params: dict[str, Any]) -> None:
    r = viewer.get("/locate", params=params)
    assert r.status_code == 422
    assert "lon" in r.json()["error"]["message"] or "lat" in r.json()["error"]["message"]


def test_level_geojson(viewer: TestClient, stored_campus: Campus) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/levels/1.geojson")
    assert r.headers["content-type"].startswith("application/geo+json")
    fc = r.json()
    kinds = {f["feature_type"] for f in fc["features"]}
    assert kinds == {"building", "unit", "amenity"}
    numbers = {f["properties"]["number"] for f in fc["features"] if f["feature_type"] == "unit"}
    assert "214" in numbers
    assert "101" not in numbers
    ground = viewer.get(f"/campuses/{CAMPUS}/levels/0.geojson", params={"cells": True}).json()
    assert {"building", "unit", "opening", "amenity", "grid_cell"} <= {
        f["feature_type"] for f in ground["features"]}
    missing = viewer.get(f"/campuses/{CAMPUS}/levels/7.geojson")
    assert missing.status_code == 404
    assert "7" in missing.json()["error"]["message"]


def test_grid_geojson(viewer: TestClient, stored_campus: Campus) -> None:
    fc = viewer.get(f"/campuses/{CAMPUS}/grid.geojson").json()
    labels = [f["properties"]["label"] for f in fc["features"]]
    assert len(labels) == stored_campus.grid.columns * stored_campus.grid.rows
    assert labels[0] == "A1"
    assert fc["features"][0]["geometry"]["type"] == "Polygon"


def test_revisions(viewer: TestClient, store: SqlCampusStore, stored_campus: Campus) -> None:
    assert viewer.get(f"/campuses/{CAMPUS}").json()["name"] == "Test Campus"
    store.save_revision(dataclasses.replace(stored_campus, name="Renamed"), source="re-import")
    assert viewer.get(f"/campuses/{CAMPUS}").json()["name"] == "Renamed"
    body = viewer.get(f"/campuses/{CAMPUS}/revisions").json()
    assert body["current"] == 2
    assert [(r["number"], r["current"]) for r in body["revisions"]] == [(1, False), (2, True)]
    old = viewer.get(f"/campuses/{CAMPUS}", params={"revision": 1}).json()
    assert (old["revision"], old["name"]) == (1, "Test Campus")
    assert viewer.get(f"/campuses/{CAMPUS}/levels/0.geojson", params={"revision": 1}).is_success
    missing = viewer.get(f"/campuses/{CAMPUS}", params={"revision": 9})
    assert missing.status_code == 404
    assert "revision 9" in missing.json()["error"]["message"]


def test_unpublished_revision_is_for_admins_only(viewer: TestClient, store: SqlCampusStore,
                                                 stored_campus: Campus, admin_token: str) -> None:
    draft = store.save_revision(dataclasses.replace(stored_campus, name="Draft"),
                                source="draft", publish=False)
    assert draft.number == 2
    for path in (f"/campuses/{CAMPUS}", f"/campuses/{CAMPUS}/levels/0.geojson"):
        r = viewer.get(path, params={"revision": 2})
        assert r.status_code == 404, path
        assert r.json()["error"]["message"] == "no published revision 2"
    assert [e.action for e in store.audit_log(limit=2)] == ["denied", "denied"]
    listed = viewer.get(f"/campuses/{CAMPUS}/revisions").json()["revisions"]
    assert [r["number"] for r in listed] == [1]

    admin = {"Authorization": f"Bearer {admin_token}"}
    r = viewer.get(f"/campuses/{CAMPUS}", params={"revision": 2}, headers=admin)
    assert (r.json()["revision"], r.json()["name"]) == (2, "Draft")
    assert viewer.get(f"/campuses/{CAMPUS}/levels/0.geojson", params={"revision": 2},
                      headers=admin).is_success
    listed = viewer.get(f"/campuses/{CAMPUS}/revisions", headers=admin).json()["revisions"]
    assert [(r["number"], r["published"]) for r in listed] == [(1, True), (2, False)]
    # the published current revision is still what everyone gets by default
    assert viewer.get(f"/campuses/{CAMPUS}").json()["name"] == "Test Campus"


def test_loaded_campus_is_cached(viewer: TestClient, store: SqlCampusStore,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": "214"})
    calls = []
    real = store.campus
    monkeypatch.setattr(store, "campus", lambda *a, **k: calls.append(a) or real(*a, **k))
    for q in ("214", "gym", "door 1", "C4"):
        assert viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": q}).status_code == 200
    assert calls == []


def test_tile_audit_memory_is_pruned(settings: Settings, store: SqlCampusStore) -> None:
    """The per-(token, campus, level) last-audit times are dropped once past the window."""
    ctx = AppContext(settings, store)
    request = Request({"type": "http", "headers": [], "client": ("test", 1)})
    principal = Principal("tok_x", "x", Role.VIEWER, None, None)
    now = time.monotonic()
    stale = now - TILE_AUDIT_WINDOW_S - 1
    for n in range(TILE_AUDITS_MAX):  # e.g. many tokens over a long shift, all long past
        ctx._tile_audits[(f"tok_{n}", CAMPUS, 0)] = stale
    ctx._tile_audits[("tok_x", CAMPUS, 1)] = now  # a recent one: kept, and still deduplicates
    ctx.audit_tile(request, principal, CAMPUS, 0, "first tile")
    assert set(ctx._tile_audits) == {("tok_x", CAMPUS, 1), ("tok_x", CAMPUS, 0)}
    ctx.audit_tile(request, principal, CAMPUS, 1, "again within the window")
    ctx.audit_tile(request, principal, CAMPUS, 0, "again within the window")
    assert [e.detail for e in store.audit_log()] == ["first tile"]


def _run_together(n: int, work: Callable[[], Any]) -> list[Any]:
    """``work`` in ``n`` threads released at the same moment; results, or the exceptions."""
    barrier = threading.Barrier(n)

    def run() -> Any:
        barrier.wait()
        try:
            return work()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: run(), range(n)))


class _Arrivals(dict[Any, Any]):
    """Stands in for a "builds in progress" map, which every caller asks exactly once (under
    its owner's lock) whether a build is already running. Once all ``expected`` callers have
    asked, each has either started the build or holds the build's Future: ``all_in`` is set.

    A build that waits for ``all_in`` therefore finishes (or fails) only after every caller
    has joined it, however slowly the threads are scheduled: no sleep decides the outcome.
    """

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.asked = 0
        self.all_in = threading.Event()

    def get(self, key: Any, default: Any = None) -> Any:
        self.asked += 1
        if self.asked >= self.expected:
            self.all_in.set()
        return super().get(key, default)

    def wait(self) -> None:
        assert self.all_in.wait(timeout=60), f"only {self.asked} of {self.expected} arrived"


def test_concurrent_first_loads_build_the_campus_once(
    settings: Settings, store: SqlCampusStore, stored_campus: Campus, district: Organisation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = AppContext(settings, store)
    request = Request({"type": "http", "headers": [], "client": ("test", 1)})
    principal = Principal("tok_x", "x", Role.OFFICER, None, None, org_id=district.id,
                          org_kind=district.kind)
    calls: list[int | None] = []
    real = store.campus

    def slow_campus(campus_id: str, revision: int | None = None) -> Campus:
        calls.append(revision)
        ctx._building.wait()  # type: ignore[attr-defined]  # every thread has joined this build
        if len(calls) == 1:
            raise OSError("database went away")
        return real(campus_id, revision)

    monkeypatch.setattr(store, "campus", slow_campus)
    # the first build fails: everyone waiting on it gets the error, nothing is cached
    ctx._building = _Arrivals(12)
    failed = _run_together(12, lambda: ctx.loaded(request, CAMPUS, principal))
    assert len(calls) == 1
    assert all(isinstance(r, OSError) for r in failed)
    assert ctx._building == {}
    # the next callers build again, once, and share it
    ctx._building = _Arrivals(12)
    loaded = _run_together(12, lambda: ctx.loaded(request, CAMPUS, principal))
    assert len(calls) == 2
    assert all(r is loaded[0] for r in loaded)
    assert loaded[0].campus == stored_campus


def test_concurrent_first_tiles_draw_the_campus_once(
    campus: Campus, monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Campus] = []
    arrivals = _Arrivals(12)

    class SlowDrawing:
        def __init__(self, c: Campus) -> None:
            built.append(c)
            arrivals.wait()  # every caller has joined this drawing

    monkeypatch.setattr(raster, "CampusDrawing", SlowDrawing)
    monkeypatch.setattr(raster, "_building", arrivals)
    fresh = dataclasses.replace(campus)  # not in the drawing cache yet
    drawings = _run_together(12, lambda: raster.drawing_for(fresh))
    assert len(built) == 1
    assert all(d is drawings[0] for d in drawings)
    assert isinstance(drawings[0], SlowDrawing)


def test_internal_errors_do_not_leak(settings: Settings, store: SqlCampusStore,
                                     viewer_token: str, stored_campus: Campus,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("password=hunter2 at /srv/secret")

    with TestClient(create_app(settings, store), raise_server_exceptions=False) as c:
        monkeypatch.setattr(store, "list_campuses", broken)
        r = c.get("/campuses", headers={"Authorization": f"Bearer {viewer_token}"})
    assert r.status_code == 500
    assert r.json() == {"error": {"type": "InternalError", "message": "internal server error"}}


def test_unknown_route_uses_the_error_envelope(viewer: TestClient) -> None:
    r = viewer.get("/nothing/here")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "HTTPError"


def test_oversized_body_is_refused(client: TestClient) -> None:
    r = client.post("/login", content=b"x" * 10,
                    headers={"content-length": str(10**12), "content-type": "text/plain"})
    assert r.status_code == 413


def test_docs_and_schema_with_token(viewer: TestClient) -> None:
    assert viewer.get("/docs").status_code == 200
    paths = viewer.get("/openapi.json").json()["paths"]
    assert "/campuses/{campus_id}/lookup" in paths


# --- map, tiles, static (with stand-ins for the drawing functions) -------------------------------


@pytest.fixture
def fake_tiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> types.SimpleNamespace:
    static = tmp_path / "static"
    vendor = tmp_path / "vendor"
    static.mkdir()
    vendor.mkdir()
    (static / "gridmap.js").write_text("// map")
    (vendor / "leaflet.js").write_text("// leaflet")
    (tmp_path / "secret.txt").write_text("nope")
    calls: list[tuple[Any, ...]] = []
    pages: list[dict[str, Any]] = []

    def render_tile(campus: Campus, o: int, z: int, x: int, y: int) -> bytes:
        calls.append((o, z, x, y))
        return b"\x89PNG"

    def map_page(campus: Campus, **kw: Any) -> str:
        pages.append(kw)
        return f"<html>{campus.name}</html>"

    monkeypatch.setattr(raster, "render_tile", render_tile)
    monkeypatch.setattr(webmap, "map_page", map_page)
    monkeypatch.setattr(webmap, "STATIC_DIR", static)
    monkeypatch.setattr(webmap, "vendor_dir", lambda: vendor)
    return types.SimpleNamespace(calls=calls, pages=pages)


def test_map_page_and_tiles(viewer: TestClient, fake_tiles: types.SimpleNamespace,
                            store: SqlCampusStore) -> None:
    page = viewer.get(f"/campuses/{CAMPUS}/map")
    assert page.status_code == 200
    assert "Test Campus" in page.text
    tile = viewer.get(f"/campuses/{CAMPUS}/levels/1/tiles/18/70000/95000.png")
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "image/png"
    assert fake_tiles.calls == [(1, 18, 70000, 95000)]
    viewer.get(f"/campuses/{CAMPUS}/levels/1/tiles/18/70001/95000.png")
    tile_audits = [e for e in store.audit_log() if e.action == "tiles"]
    assert len(tile_audits) == 1  # one row per token, campus and level per minute
    assert {e.action for e in store.audit_log()} >= {"map_page", "tiles"}


def test_tiles_are_cached_by_revision(viewer: TestClient, fake_tiles: types.SimpleNamespace,
                                     store: SqlCampusStore, stored_campus: Campus) -> None:
    tile = f"/campuses/{CAMPUS}/levels/1/tiles/18/70000/95000.png"
    viewer.get(f"/campuses/{CAMPUS}/map")
    assert fake_tiles.pages[-1]["revision"] == 1  # tile URLs carry ?v=<revision>
    # a URL naming the current revision may be kept; an unversioned one must be revalidated
    assert viewer.get(tile, params={"v": "1"}).headers["cache-control"] == "private, max-age=86400"
    assert viewer.get(tile).headers["cache-control"] == "private, no-cache"
    # after a new import the page asks for v=2, and an old page's v=1 tiles are not kept
    store.save_revision(dataclasses.replace(stored_campus, name="Renamed"), source="re-import")
    viewer.get(f"/campuses/{CAMPUS}/map")
    assert fake_tiles.pages[-1]["revision"] == 2
    assert viewer.get(tile, params={"v": "1"}).headers["cache-control"] == "private, no-cache"
    assert viewer.get(tile, params={"v": "2"}).headers["cache-control"] == "private, max-age=86400"
    assert viewer.get(tile, params={"v": "x" * 41}).status_code == 422


@pytest.mark.parametrize(("path", "status"), [
    ("levels/0/tiles/25/0/0.png", 422),
    ("levels/0/tiles/2/4/0.png", 400),
    ("levels/0/tiles/2/0/-1.png", 422),
])
def test_bad_tile_coordinates(viewer: TestClient, fake_tiles: types.SimpleNamespace,
                              path: str, status: int) -> None:
    r = viewer.get(f"/campuses/{CAMPUS}/{path}")
    assert r.status_code == status
    assert fake_tiles.calls == []


def test_static_files(viewer: TestClient, fake_tiles: types.SimpleNamespace) -> None:
    assert viewer.get("/static/gridmap/gridmap.js").text == "// map"
    assert viewer.get("/static/vendor/leaflet/leaflet.js").text == "// leaflet"
    assert viewer.get("/static/gridmap/../secret.txt").status_code == 404
    assert viewer.get("/static/gridmap/%2e%2e/secret.txt").status_code == 404
    assert viewer.get("/static/gridmap/%2e%2e%2fsecret.txt").status_code == 404
    assert viewer.get("/static/gridmap/nothing.js").status_code == 404
    assert viewer.get("/static/secret.txt").status_code == 404


def test_missing_npm_assets_answer_503_with_the_fix(viewer: TestClient, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMAP_VENDOR_DIR", str(tmp_path / "nowhere"))
    r = viewer.get("/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 503
    assert r.json()["error"] == {"type": "FeatureUnavailable",
                                 "message": "web map assets are not installed"}


def test_api_docs_load_swagger_ui_from_this_server(viewer: TestClient) -> None:
    page = viewer.get("/docs").text
    assert "https://" not in page and "http://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/vendor/swagger-ui/{asset}" in page
        assert viewer.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


def test_real_map_page_and_tile(viewer: TestClient) -> None:
    page = viewer.get(f"/campuses/{CAMPUS}/map")
    assert page.status_code == 200
    assert "/static/gridmap/gridmap.js" in page.text
    assert "{y}{r}.png?v=1" in page.text  # tile URLs name the revision (see the tile route)
    assert viewer.get("/static/gridmap/gridmap.js").status_code == 200
    # a tile over the campus centre at z18
    tile = viewer.get(f"/campuses/{CAMPUS}/levels/0/tiles/18/69591/96622.png")
    assert tile.status_code == 200
    assert tile.content.startswith(b"\x89PNG")
    assert viewer.get(f"/campuses/{CAMPUS}/levels/9/tiles/18/69591/96622.png").status_code == 404


def test_settings_come_from_gridmap_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDMAP_PORT", "9001")
    monkeypatch.setenv("GRIDMAP_COOKIE_SECURE", "true")
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    s = Settings()
    assert s.port == 9001
    assert s.cookie_secure is True
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'gridmap.db').as_posix()}"
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", "postgresql+psycopg://db/gridmap")
    assert Settings().resolved_database_url == "postgresql+psycopg://db/gridmap"


def test_create_app_reads_settings_from_env(data_dir: Path) -> None:
    with TestClient(create_app()) as c:
        assert c.get("/healthz").status_code == 200
    assert (data_dir / "gridmap.db").exists()


# --- the test set-up itself -----------------------------------------------------------------


def _ci_report(monkeypatch: pytest.MonkeyPatch, report: pytest.TestReport) -> pytest.TestReport:
    """``report`` as the conftest hook leaves it under ``GRIDMAP_REQUIRE_SERVICES=1``."""
    from tests import conftest

    monkeypatch.setenv("GRIDMAP_REQUIRE_SERVICES", "1")
    hook = conftest.pytest_runtest_makereport(item=None, call=None)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(types.SimpleNamespace(get_result=lambda: report))
    return report


def _skipped_report(**extra: Any) -> pytest.TestReport:
    report = pytest.TestReport(
        nodeid="tests/test_x.py::test_x", location=("tests/test_x.py", 1, "test_x"),
        keywords={}, outcome="skipped", when="call",
        longrepr=("tests/test_x.py", 2, "Skipped: chromium is not installed"),
    )
    for name, value in extra.items():
        setattr(report, name, value)
    return report


def test_ci_turns_a_skip_into_a_failure_but_not_an_xfail(monkeypatch: pytest.MonkeyPatch) -> None:
    skipped = _ci_report(monkeypatch, _skipped_report())
    assert skipped.outcome == "failed"
    assert "chromium is not installed" in str(skipped.longrepr)
    # pytest reports an expected failure as "skipped" with ``wasxfail``: it stays an xfail
    xfailed = _ci_report(monkeypatch, _skipped_report(wasxfail="known bug"))
    assert xfailed.outcome == "skipped"
    assert xfailed.wasxfail == "known bug"


# --- access: campus scope, refusals audited and coalesced, sign-in rate limit ----------------


def _other_campus(store: SqlCampusStore, campus: Campus) -> None:
    store.save_revision(dataclasses.replace(campus, id="other-campus", name="Other"),
                        source="tests")


def test_campus_scoped_admin_reads_only_its_campuses_audit_log(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
) -> None:
    """Regression: an admin limited to one campus read another campus's audit log, lookup
    text included."""
    _other_campus(store, stored_campus)
    client.get(f"/campuses/{CAMPUS}/lookup", params={"q": "room 214 secret patient"},
               headers={"Authorization": f"Bearer {viewer_token}"})
    client.post("/login", data={"token": "gm_wrong"})  # a campus-less entry
    scoped, _ = create_token(store, "other admin", Role.ADMIN, campuses=["other-campus"])
    client.get("/campuses/other-campus/lookup", params={"q": "gym"},
               headers={"Authorization": f"Bearer {scoped}"})
    headers = {"Authorization": f"Bearer {scoped}"}
    body = client.get("/audit", headers=headers, params={"limit": 1000}).json()
    assert body["entries"], "its own campus's entries are there"
    assert {e["campus"] for e in body["entries"]} == {"other-campus"}
    assert "secret patient" not in str(body)
    assert "test viewer" not in str(body)
    hidden = client.get("/audit", headers=headers, params={"campus": CAMPUS})
    assert hidden.status_code == 404
    assert "secret patient" not in hidden.text
    # an unscoped admin still sees everything
    admin, _ = create_token(store, "all admin", Role.ADMIN)
    everything = client.get("/audit", headers={"Authorization": f"Bearer {admin}"},
                            params={"limit": 1000}).json()["entries"]
    assert any("secret patient" in e["detail"] for e in everything)


@pytest.mark.parametrize(("status", "path", "headers"), [
    (401, "/campuses", {}),
    (401, "/campuses", {"Authorization": "Bearer gm_not_a_real_token"}),
    (403, "/audit", "viewer"),
    (404, f"/campuses/{CAMPUS}", "scoped"),
])
def test_every_refusal_is_audited(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
    status: int, path: str, headers: Any,
) -> None:
    if headers == "viewer":
        headers = {"Authorization": f"Bearer {viewer_token}"}
    elif headers == "scoped":
        _other_campus(store, stored_campus)
        token, _ = create_token(store, "agency", Role.VIEWER, campuses=["other-campus"])
        headers = {"Authorization": f"Bearer {token}"}
    assert client.get(path, headers=headers).status_code == status
    (entry,) = [e for e in store.audit_log() if e.action == "denied"]
    assert entry.detail.startswith(f"{status} GET ")
    assert entry.client == "testclient"
    assert entry.count == 1


def test_a_flood_of_refusals_is_a_few_counted_rows(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus,
) -> None:
    bad = {"Authorization": "Bearer gm_flood"}
    for _ in range(1000):
        assert client.get(f"/campuses/{CAMPUS}/lookup", params={"q": "x"},
                          headers=bad).status_code == 401
    denied = [e for e in store.audit_log(limit=5000) if e.action == "denied"]
    # the first of the minute, then one row counting the rest (a minute boundary may split it)
    assert len(denied) <= 4
    assert sum(e.count for e in denied) == 1000
    assert max(e.count for e in denied) >= 500
    assert all("unknown token" in e.detail for e in denied)


def test_failed_sign_ins_are_rate_limited_per_address(
    settings: Settings, store: SqlCampusStore, viewer_token: str,
) -> None:
    now = [1000.0]
    limited = settings.model_copy(update={"login_failures_burst": 3,
                                          "login_failures_per_minute": 6.0})
    with TestClient(create_app(limited, store, clock=lambda: now[0]),
                    base_url="http://127.0.0.1") as c:
        for _ in range(3):
            assert c.post("/login", data={"token": "gm_guess"}).status_code == 401
        r = c.post("/login", data={"token": "gm_guess"})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "10"  # 6 a minute: one more try in 10 s
        assert "Too many failed sign-ins" in r.text
        # while limited, even the right token waits (the guesser cannot tell)
        assert c.post("/login", data={"token": viewer_token},
                      follow_redirects=False).status_code == 429
        now[0] += 10.0
        assert c.post("/login", data={"token": viewer_token},
                      follow_redirects=False).status_code == 303
        # a success spends nothing: it can sign in again at once
        assert c.post("/login", data={"token": viewer_token},
                      follow_redirects=False).status_code == 303
    actions = [e.action for e in store.audit_log()]
    assert actions.count("login") == 2
    refusals = [e for e in store.audit_log() if e.action == "denied"]
    assert sum(e.count for e in refusals) == 2
    assert all("too many failed sign-ins" in e.detail for e in refusals)
    assert sum(e.count for e in store.audit_log() if e.action == "login_failed") == 3


# --- credentials in URLs ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["token", "access_token", "api_key", "apikey", "Token", "key"])
def test_token_in_the_query_string_is_refused_and_never_logged(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
    name: str,
) -> None:
    r = client.get(f"/campuses/{CAMPUS}/map", params={name: viewer_token},
                   headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 400  # not a redirect to /login?next=...token...
    assert "location" not in r.headers
    assert "Authorization: Bearer" in r.json()["error"]["message"]
    assert viewer_token not in r.text
    log = store.audit_log()
    assert [e.action for e in log] == ["denied"]
    assert "credential in the URL" in log[0].detail
    assert viewer_token not in str(log)
    assert viewer_token.encode() not in stored_bytes(store)


@pytest.mark.parametrize("url", [
    "/campuses?q={token}",  # a token pasted in the search box
    "/login?next=%2Fcampuses%3Ftoken%3D{token}",  # hidden in an encoded next=
    "/campuses/{token}",  # in the path
])
def test_own_tokens_anywhere_in_the_url_are_refused(
    client: TestClient, store: SqlCampusStore, viewer_token: str, url: str,
) -> None:
    r = client.get(url.format(token=viewer_token), follow_redirects=False)
    assert r.status_code == 400
    assert viewer_token not in r.text
    assert viewer_token not in str(store.audit_log())


def test_access_log_lines_are_redacted(client: TestClient, viewer_token: str) -> None:
    import logging

    from api.security import RedactCredentialsFilter

    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactCredentialsFilter) for f in access.filters)
    # uvicorn's access record: '%s - "%s %s HTTP/%s" %d' with the full path as 3rd argument
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/campuses?access_token={viewer_token}&q=gym", "1.1", 400),
        None)
    for f in access.filters:
        f.filter(record) if isinstance(f, logging.Filter) else f(record)
    line = record.getMessage()
    assert viewer_token not in line
    assert "access_token=[redacted]" in line
    assert "q=gym" in line
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/campuses/{viewer_token}/map", "1.1", 400), None)
    RedactCredentialsFilter().filter(record)
    assert viewer_token not in record.getMessage()


# --- headers on every response ----------------------------------------------------------------


def _check_headers(method: str, path: str, r: Any) -> None:
    where = (method, path, r.status_code)
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), where
    assert r.headers.get("x-frame-options") == "DENY", where
    cache = r.headers.get("cache-control", "")
    if r.headers.get("content-type", "").startswith("text/html"):
        assert "default-src" in r.headers["content-security-policy"], where
    if "/tiles/" in path and r.status_code == 200:
        assert "private" in cache and r.headers.get("etag"), where
    elif path.startswith("/static/") and r.status_code == 200:
        assert cache.startswith("private"), where
    else:
        assert "private" in cache and "no-store" in cache, where


def test_every_route_sends_the_security_headers(
    client: TestClient, admin_token: str, stored_campus: Campus,
) -> None:
    routes = [(m, _concrete(r.path)) for r in _app_routes(client) if isinstance(r, APIRoute)
              for m in sorted(r.methods)]
    assert len(routes) > 15
    for method, path in routes:
        for headers in ({}, {"Authorization": f"Bearer {admin_token}"}):
            r = client.request(method, path, params={"q": "214", "lon": 0, "lat": 0},
                               headers=headers, follow_redirects=False)
            assert r.status_code < 500, (method, path)
            _check_headers(method, path, r)
    # an unknown route and a validation error too
    _check_headers("GET", "/nothing", client.get("/nothing"))
    _check_headers("GET", "/campuses/x/lookup", client.get(
        "/campuses/x/lookup", headers={"Authorization": f"Bearer {admin_token}"}))


def test_tiles_revalidate_with_their_etag(
    viewer: TestClient, fake_tiles: types.SimpleNamespace, store: SqlCampusStore,
    stored_campus: Campus,
) -> None:
    tile = f"/campuses/{CAMPUS}/levels/1/tiles/18/70000/95000.png"
    first = viewer.get(tile)
    etag = first.headers["etag"]
    again = viewer.get(tile, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert len(fake_tiles.calls) == 1  # not drawn again
    assert viewer.get(f"/campuses/{CAMPUS}/levels/1/tiles/18/70001/95000.png").headers[
        "etag"] != etag
    store.save_revision(dataclasses.replace(stored_campus, name="Renamed"), source="re-import")
    changed = viewer.get(tile, headers={"If-None-Match": etag})
    assert changed.status_code == 200  # a new revision: a new tile
    assert changed.headers["etag"] != etag


def _failing_app(settings: Settings, store: SqlCampusStore) -> Any:
    app = create_app(settings, store)

    def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret")

    app.add_api_route("/boom", boom)
    return app


def test_500s_carry_the_security_headers(settings: Settings, store: SqlCampusStore) -> None:
    with TestClient(_failing_app(settings, store), raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": {"type": "InternalError", "message": "internal server error"}}
    _check_headers("GET", "/boom", r)


@pytest.mark.parametrize(("base_url", "headers", "hsts"), [
    ("https://maps.campus.example", {}, True),
    ("http://127.0.0.1", {"X-Forwarded-Proto": "https"}, True),
    ("http://127.0.0.1", {}, False),
])
def test_hsts_over_tls_only(settings: Settings, store: SqlCampusStore, base_url: str,
                            headers: dict[str, str], hsts: bool) -> None:
    with TestClient(create_app(settings, store), base_url=base_url) as c:
        for path in ("/healthz", "/campuses"):
            r = c.get(path, headers=headers)
            assert ("strict-transport-security" in r.headers) is hsts, path
            if hsts:
                assert r.headers["strict-transport-security"].startswith("max-age=")


def test_a_500_does_not_poison_the_kept_alive_connection(
    settings: Settings, store: SqlCampusStore,
) -> None:
    import httpx

    from tests.browser import serve

    with serve(_failing_app(settings, store)) as base, httpx.Client(base_url=base) as http:
        bad = http.get("/boom")
        assert bad.status_code == 500
        _check_headers("GET", "/boom", bad)
        good = http.get("/healthz")
        assert good.status_code == 200
        # the same TCP connection answered both
        assert (bad.extensions["network_stream"].get_extra_info("client_addr")
                == good.extensions["network_stream"].get_extra_info("client_addr"))


# --- out-of-range input is a 4xx, never a 500 --------------------------------------------------


@pytest.mark.parametrize("path", [
    f"/campuses/{CAMPUS}?revision={2**63}",
    f"/campuses/{CAMPUS}?revision={2**31}",
    f"/campuses/{CAMPUS}?revision=-1",
    f"/campuses/{CAMPUS}?revision=0",
    f"/campuses/{CAMPUS}/levels/0.geojson?revision={2**63}",
    f"/campuses/{CAMPUS}/gazetteer.csv?revision={2**63}",
    "/campuses/te%00st",
    "/campuses/te%00st/lookup?q=214",
    "/campuses/te%00st/gazetteer.json",
    "/campuses/" + "x" * 101,
    "/campuses/" + "x" * 5000 + "/lookup?q=214",
    "/audit?campus=te%00st",
    f"/campuses/{CAMPUS}/cells/C4%00",
    f"/campuses/{CAMPUS}/cells/" + "C" * 100,
    f"/campuses/{CAMPUS}/levels/{2**63}.geojson",
    f"/campuses/{CAMPUS}/levels/0/tiles/{2**63}/0/0.png",
    f"/campuses/{CAMPUS}/levels/0/tiles/18/{2**63}/0.png",
    f"/campuses/{CAMPUS}/levels/0/tiles/3/8/0.png",
    f"/campuses/{CAMPUS}/levels/{2**40}/tiles/3/0/0.png",
    "/locate?lon=nan&lat=0",
    "/locate?lon=0&lat=inf",
    "/locate?lon=-inf&lat=0",
    "/locate?lon=200&lat=0",
    "/locate?lon=1e400&lat=0",
    f"/campuses/{CAMPUS}/lookup?q=214&limit={2**63}",
    f"/campuses/{CAMPUS}/lookup?q=2%0014",
    "/static/gridmap/a%00b.js",
])
def test_out_of_range_input_is_a_4xx(admin_token: str, client: TestClient,
                                     stored_campus: Campus, path: str) -> None:
    r = client.get(path, headers={"Authorization": f"Bearer {admin_token}"})
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    assert r.json()["error"]["message"]


# --- caching: revocation and publishing reach every worker within 1 s -----------------------


def test_revocation_and_publishing_reach_another_worker_within_a_second(
    settings: Settings, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
) -> None:
    """Two app instances on one store, as two worker processes: one caches (its clock is
    injected); the other revokes and publishes. Within 1 s the first sees both."""
    now = [50.0]
    worker_store = SqlCampusStore(settings.resolved_database_url, clock=lambda: now[0])
    headers = {"Authorization": f"Bearer {viewer_token}"}
    try:
        with TestClient(create_app(settings, worker_store)) as worker:
            assert worker.get(f"/campuses/{CAMPUS}", headers=headers).json()["revision"] == 1
            store.revoke_tokens(name="test viewer")  # from the other worker (or the CLI)
            store.save_revision(dataclasses.replace(stored_campus, name="New"), source="new")
            now[0] += 0.5  # still inside the cache window: the bound is documented, not zero
            assert worker.get(f"/campuses/{CAMPUS}", headers=headers).status_code == 200
            now[0] += 0.5  # 1 s after it was read: asked again
            r = worker.get(f"/campuses/{CAMPUS}", headers=headers)
            assert (r.status_code, r.json()["error"]["message"]) == (401, "token revoked")
            admin, _ = create_token(store, "admin", Role.ADMIN)
            body = worker.get(f"/campuses/{CAMPUS}",
                              headers={"Authorization": f"Bearer {admin}"}).json()
            assert (body["revision"], body["name"]) == (2, "New")
    finally:
        worker_store.close()


def test_changes_made_through_the_same_store_are_seen_at_once(
    viewer: TestClient, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
) -> None:
    assert viewer.get(f"/campuses/{CAMPUS}").json()["revision"] == 1
    store.save_revision(dataclasses.replace(stored_campus, name="New"), source="new")
    assert viewer.get(f"/campuses/{CAMPUS}").json()["revision"] == 2
    store.revoke_tokens(name="test viewer")
    assert viewer.get(f"/campuses/{CAMPUS}").status_code == 401


def test_cache_window_cannot_exceed_a_second(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Settings(auth_cache_ttl_s=2.0)
    with pytest.raises(ValueError, match="between 0 and 1 s"):
        SqlCampusStore(f"sqlite:///{tmp_path / 'x.db'}", cache_ttl_s=2.0)


# --- audit rows survive a graceful shutdown; a SIGKILL loses at most one batch -----------------


def test_graceful_shutdown_writes_every_queued_audit_entry(
    settings: Settings, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
) -> None:
    slow = settings.model_copy(update={"audit_flush_interval_s": 5.0, "audit_batch_max": 1000})
    app_store = SqlCampusStore(settings.resolved_database_url, **slow.store_options())
    try:
        with TestClient(create_app(slow, app_store)) as c:
            for q in ("214", "gym", "door 1", "C4") * 5:
                assert c.get(f"/campuses/{CAMPUS}/lookup", params={"q": q},
                             headers={"Authorization": f"Bearer {viewer_token}"}).is_success
        # the lifespan shutdown flushed: another store (another process) sees all 20
        assert len([e for e in store.audit_log() if e.action == "lookup"]) == 20
    finally:
        app_store.close()


def _start_server(extra_env: dict[str, str]) -> tuple[Any, str]:
    """A real `uvicorn --factory api.app:create_app` process; returns it and its base URL once
    it has said it is running (read from its log, not guessed by waiting)."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "info", "--no-access-log"],
        cwd=Path(__file__).resolve().parents[1], env={**os.environ, **extra_env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Uvicorn running on" in line:
            break
    else:
        pytest.fail(f"the server did not start (exit {proc.wait()})")
    # keep reading its log so that it never blocks on a full pipe
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_audit_rows_a_server_process_keeps_when_stopped(
    settings: Settings, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
    signal_name: str,
) -> None:
    """SIGTERM (graceful): every entry is written. SIGKILL: at most one batch is lost
    (``audit_batch_max``, here 10, of the requests whose responses had completed)."""
    import signal

    import httpx

    store.flush_audit()
    proc, base = _start_server({"GRIDMAP_AUDIT_BATCH_MAX": "10",
                                "GRIDMAP_AUDIT_FLUSH_INTERVAL_S": "5"})
    n = 35
    try:
        with httpx.Client(base_url=base,
                          headers={"Authorization": f"Bearer {viewer_token}"}) as http:
            for i in range(n):
                assert http.get(f"/campuses/{CAMPUS}/lookup",
                                params={"q": f"room {i}"}).status_code == 200
        proc.send_signal(getattr(signal, signal_name))
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rows = [e for e in store.audit_log(limit=1000) if e.action == "lookup"]
    if signal_name == "SIGTERM":
        assert len(rows) == n
    else:
        assert n - 10 <= len(rows) <= n
    # what was written is what was asked, in order, none twice
    numbers = [int(e.detail.split("'")[1].split()[1]) for e in reversed(rows)]
    assert numbers == list(range(len(rows)))


def test_repeated_lookups_reuse_the_answer_and_are_each_audited(
    viewer: TestClient, store: SqlCampusStore, stored_campus: Campus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gridmap.lookup

    calls: list[str] = []
    real = gridmap.lookup.lookup

    def counting(index: Any, query: str, limit: int = 10) -> Any:
        calls.append(query)
        return real(index, query, limit=limit)

    monkeypatch.setattr(gridmap.lookup, "lookup", counting)
    answers = [viewer.get(f"/campuses/{CAMPUS}/lookup", params={"q": "rm 214"}).json()
               for _ in range(3)]
    assert calls == ["rm 214"]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["candidates"][0]["unit_number"] == "214"
    assert viewer.get(f"/campuses/{CAMPUS}/lookup",
                      params={"q": "rm 214", "limit": 1}).status_code == 200
    assert calls == ["rm 214", "rm 214"]  # another limit, another answer
    assert len([e for e in store.audit_log() if e.action == "lookup"]) == 4
    store.save_revision(dataclasses.replace(stored_campus, name="New"), source="new")
    assert viewer.get(f"/campuses/{CAMPUS}/lookup",
                      params={"q": "rm 214"}).json()["revision"] == 2
    assert len(calls) == 3  # a new revision answers afresh


def test_new_lookups_run_on_the_event_loop_only_once_quick(
    settings: Settings, store: SqlCampusStore, stored_campus: Campus, viewer_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A revision's first lookup (index to build, lazy caches to fill) runs in a worker
    thread; later new questions run on the event loop while lookups are quick, and go back to
    worker threads when they are not. Each is audited and answers the same either way."""
    import asyncio

    import api.context
    import gridmap.lookup

    on_loop: list[bool] = []
    real = gridmap.lookup.lookup

    def recording(index: Any, query: str, limit: int = 10) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:  # a worker thread has no running loop
            on_loop.append(False)
        return real(index, query, limit=limit)

    monkeypatch.setattr(gridmap.lookup, "lookup", recording)
    monkeypatch.setattr(api.context, "INLINE_LOOKUP_COST_S", 60.0)  # every lookup is quick
    frozen = SqlCampusStore(settings.resolved_database_url, clock=lambda: 50.0)  # no expiry
    headers = {"Authorization": f"Bearer {viewer_token}"}
    path = f"/campuses/{CAMPUS}/lookup"
    try:
        with TestClient(create_app(settings, frozen)) as worker:
            first = [worker.get(path, params={"q": q}, headers=headers).json()
                     for q in ("rm 214", "gym", "rm 214")]
            assert on_loop == [False, True]  # the repeated question was not searched again
            assert first[0] == first[2]
            assert first[0]["candidates"][0]["unit_number"] == "214"
            monkeypatch.setattr(api.context, "INLINE_LOOKUP_COST_S", 0.0)  # now none is quick
            again = worker.get(path, params={"q": "rm 214", "limit": 1}, headers=headers)
            assert (again.status_code, on_loop[-1]) == (200, False)
            assert again.json()["candidates"][0]["unit_number"] == "214"
        assert len([e for e in frozen.audit_log() if e.action == "lookup"]) == 4
    finally:
        frozen.close()


def test_sign_in_never_redirects_to_a_url_holding_a_token(
    client: TestClient, viewer_token: str, store: SqlCampusStore,
) -> None:
    for target in (f"/campuses?token={viewer_token}", f"/campuses/{viewer_token}",
                   "/map?api_key=abc"):
        r = client.post("/login", data={"token": viewer_token, "next": target},
                        follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/")
    page = client.get("/login", params={"next": "/campuses?access_token=abc"})
    assert page.status_code == 400  # refused before the form could echo it
