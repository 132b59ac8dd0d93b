"""THE authorization matrix: every route × every role × own / partner / expired-partner /
revoked-partner / not-yet-started-partner / unrelated organisation, on SQLite and PostgreSQL.

The routes are enumerated from the app itself: a new route fails this test until it is
classified in :data:`RULES` (what it needs: read, edit, publish, share, an organisation's admin,
...). For each route and caller the answer must be exactly what :mod:`api.authz` promises:

- a campus the caller may not see is 404 (the answer for a campus that does not exist), with an
  error body and none of the campus's data;
- a right the caller lacks on what it may see is 403;
- everything else gets past authorization (a 2xx, or an error that is about the request, never
  401/403 nor "unknown campus").

The world: district A owns ``test-campus``; district B owns five campuses, four of them granted to
the police department P by partnerships that are active, ended yesterday, revoked, or start
tomorrow, and one not granted at all. Callers: every role of A and of P as people holding tokens,
and an integration token of each. Lists (``/campuses``, the home page, ``/locate`` at a point
every campus covers) must show exactly the visible campuses.

Share links (W6) plug in through :func:`share_link_callers`.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.store import Role, SqlCampusStore, utcnow
from api.store_identity import OrgKind, identity
from api.tokens import create_token
from gridmap.model import Campus

OWN = "test-campus"
PARTNER = "partner-campus"
EXPIRED = "expired-campus"
REVOKED = "revoked-campus"
FUTURE = "future-campus"
UNRELATED = "unrelated-campus"
CAMPUSES = (OWN, PARTNER, EXPIRED, REVOKED, FUTURE, UNRELATED)


@dataclass(frozen=True)
class Caller:
    label: str
    org: str  # "A" (district), "P" (police), or "share"
    org_id: str | None
    role: Role
    token: str
    sees: frozenset[str]


@dataclass(frozen=True)
class Rule:
    """What a route needs. ``kind``: ``public`` (no credentials), ``any`` (any caller; lists
    are checked separately), ``campus`` (``action`` on the campus in the path), ``org`` (an
    admin of the organisation in the path), ``admin`` (an admin of any organisation),
    ``job`` (read the campus of the job in the path)."""

    kind: str
    action: str = "read"
    body: Callable[[], Any] | None = None
    query: dict[str, str] | None = None
    #: a refusal of a right may also be 404 for an item (not a campus) named in the path
    #: that the caller's organisation does not have
    unknown_item_ok: bool = False


_emails = itertools.count()


def _person_body() -> dict[str, Any]:
    return {"email": f"new{next(_emails)}@example.org", "role": "officer"}


R = Rule
READ = R("campus")
#: Every route of the app, by method and path template. A route missing here fails the test.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): R("public"),
    ("GET", "/login"): R("public"),
    ("POST", "/login"): R("public"),
    ("POST", "/logout"): R("public"),
    ("GET", "/login/oidc/callback"): R("public"),
    ("GET", "/login/oidc/{org_id}"): R("public"),
    ("GET", "/share"): R("public"),
    ("POST", "/share/open"): R("public"),
    ("GET", "/"): R("any"),
    ("GET", "/campuses"): R("any"),
    ("GET", "/locate"): R("any"),
    ("GET", "/static/{path:path}"): R("any"),
    ("GET", "/openapi.json"): R("any"),
    ("GET", "/docs"): R("any"),
    ("GET", "/campuses/{campus_id}"): READ,
    ("GET", "/campuses/{campus_id}/revisions"): READ,
    ("GET", "/campuses/{campus_id}/lookup"): R("campus", query={"q": "214"}),
    ("GET", "/campuses/{campus_id}/cells/{label}"): READ,
    ("GET", "/campuses/{campus_id}/levels/{ordinal}.geojson"): READ,
    ("GET", "/campuses/{campus_id}/grid.geojson"): READ,
    ("GET", "/campuses/{campus_id}/book.pdf"): READ,
    ("GET", "/campuses/{campus_id}/gazetteer.csv"): READ,
    ("GET", "/campuses/{campus_id}/gazetteer.json"): READ,
    ("GET", "/campuses/{campus_id}/imagery"): READ,
    ("PUT", "/campuses/{campus_id}/imagery"): R("campus", "edit", body=lambda: b"not a tiff"),
    ("GET", "/campuses/{campus_id}/imagery/tiles/{z}/{x}/{y}@2x.png"): READ,
    ("GET", "/campuses/{campus_id}/imagery/tiles/{z}/{x}/{y}.png"): READ,
    ("GET", "/campuses/{campus_id}/map"): READ,
    ("GET", "/campuses/{campus_id}/levels/{ordinal}/tiles/{z}/{x}/{y}@2x.png"): READ,
    ("GET", "/campuses/{campus_id}/levels/{ordinal}/tiles/{z}/{x}/{y}.png"): READ,
    ("POST", "/campuses/{campus_id}/package.zip"): R("campus", body=lambda: {"book": False}),
    ("POST", "/campuses/{campus_id}/jobs"): R("campus", body=lambda: {"kind": "book"}),
    ("GET", "/campuses/{campus_id}/jobs"): READ,
    ("GET", "/jobs/{job_id}"): R("job"),
    ("GET", "/jobs/{job_id}/result"): R("job"),
    ("DELETE", "/jobs/{job_id}"): R("job", "cancel"),  # only who asked for it
    ("GET", "/campuses/{campus_id}/revisions/{number}/diff"): R("campus", "edit"),
    ("GET", "/campuses/{campus_id}/revisions/{number}/diff.geojson"): R("campus", "edit"),
    ("GET", "/campuses/{campus_id}/revisions/{number}/review"): R("campus", "edit"),
    ("POST", "/campuses/{campus_id}/revisions/{number}/publish"): R(
        "campus", "publish", body=lambda: {"expect_current": 1}),
    ("POST", "/campuses/{campus_id}/revisions/{number}/rollback"): R(
        "campus", "publish", body=lambda: {"expect_current": 1}),
    ("POST", "/campuses/{campus_id}/verifications"): R("campus", "edit", body=lambda: {
        "verified_on": utcnow().date().isoformat(), "verified_by": "Pat", "organisation": "A"}),
    ("GET", "/campuses/{campus_id}/verifications"): READ,
    ("POST", "/campuses/{campus_id}/share"): R("campus", "share", body=lambda: {"hours": 1}),
    ("GET", "/share-links"): R("admin"),
    ("DELETE", "/share-links/{link_id}"): R("admin", unknown_item_ok=True),
    ("GET", "/verification/overdue"): R("admin"),
    ("GET", "/audit"): R("admin"),
    ("GET", "/audit/export"): R("admin"),
    ("GET", "/orgs"): R("admin"),
    ("POST", "/orgs"): R("operator", body=lambda: {"name": f"Org {next(_emails)}",
                                                   "kind": "ems"}),
    ("GET", "/orgs/{org_id}"): R("org"),
    ("GET", "/orgs/{org_id}/people"): R("org"),
    ("POST", "/orgs/{org_id}/people"): R("org", body=_person_body),
    ("POST", "/orgs/{org_id}/people/{user_id}/disable"): R("org"),
    ("GET", "/orgs/{org_id}/tokens"): R("org"),
    ("POST", "/orgs/{org_id}/tokens"): R("org", body=lambda: {"name": "matrix integration"}),
    ("DELETE", "/orgs/{org_id}/tokens/{token_id}"): R("org"),
    ("GET", "/orgs/{org_id}/partnerships"): R("org"),
    ("POST", "/orgs/{org_id}/partnerships"): R("org", body=lambda: {"agency": "Fire F"}),
    ("DELETE", "/orgs/{org_id}/partnerships/{partnership_id}"): R("org"),
    ("GET", "/orgs/{org_id}/oidc"): R("org"),
    ("PUT", "/orgs/{org_id}/oidc"): R("org", body=lambda: {
        "issuer": "https://idp.example.org", "client_id": "gridmap"}),
    ("DELETE", "/orgs/{org_id}/oidc"): R("org"),
    # the workspace page (a shell; its data comes through the workspace API) and the draft's
    # parts it draws
    ("GET", "/workspace"): R("any"),
    ("GET", "/workspace/{ws_id}"): R("any"),
    ("GET", "/campuses/{campus_id}/revisions/{number}/features.geojson"): R("campus", "edit"),
    # the workspace API: a workspace of each campus; its rights are EDIT on that campus
    ("POST", "/workspaces"): R("any", body=lambda: {"campus_id": "matrix-new-campus"}),
    ("GET", "/workspaces"): R("any"),
    ("GET", "/workspaces/{ws_id}"): R("workspace", "edit"),
    ("DELETE", "/workspaces/{ws_id}"): R("workspace", "edit"),
    ("POST", "/workspaces/{ws_id}/files"): R("workspace", "edit", body=lambda: b"0\nSECTION"),
    ("DELETE", "/workspaces/{ws_id}/files/{file_id}"): R("workspace", "edit"),
    ("GET", "/workspaces/{ws_id}/files/{file_id}/features.geojson"): R("workspace", "edit"),
    ("GET", "/workspaces/{ws_id}/files/{file_id}/imagery/{z}/{x}/{y}.png"): R("workspace", "edit"),
    ("GET", "/workspaces/{ws_id}/files/{file_id}/imagery/{z}/{x}/{y}@2x.png"):
        R("workspace", "edit"),
    ("GET", "/workspaces/{ws_id}/drawings/{drawing_id}/preview.geojson"): R("workspace", "edit"),
    ("PUT", "/workspaces/{ws_id}/drawings/{drawing_id}"): R("workspace", "edit", body=lambda: {
        "building_id": "A", "building_name": "Main", "level_ordinal": 0, "level_name": "1st",
        "level_short_name": "1"}),
    ("POST", "/workspaces/{ws_id}/fit"): R("workspace", "edit", body=lambda: {
        "control_points": [{"cad": [0, 0], "lonlat": [-84.43, 42.7]},
                           {"cad": [10, 0], "lonlat": [-84.4299, 42.7]}]}),
    ("PUT", "/workspaces/{ws_id}/settings"): R("workspace", "edit", body=lambda: {}),
    ("POST", "/workspaces/{ws_id}/import"): R("workspace", "edit"),
    ("GET", "/workspaces/{ws_id}/report"): R("workspace", "edit"),
    ("POST", "/workspaces/{ws_id}/edits"): R("workspace", "edit", body=lambda: {
        "edits": [{"op": "room", "unit_id": "no-such-room", "number": "1"}]}),
    ("GET", "/workspaces/{ws_id}/edits"): R("workspace", "edit"),
}


def share_link_callers(world: World) -> list[Caller]:
    """Share-link callers: a link district A issued for its campus, and one police P issued for
    the campus its active partnership grants; each reads that one campus, and of it only what
    :data:`api.share.SHARE_ROUTES` lists."""
    from api.share import shares

    callers = []
    for letter, campus_id in (("A", OWN), ("P", PARTNER)):
        secret, _ = shares(world.store).create(
            campus_id=campus_id, hours=1, org_id=world.orgs[letter], created_by="tests")
        callers.append(Caller(f"share link of {letter} for {campus_id}", "share", None,
                              Role.OFFICER, secret, frozenset({campus_id})))
    return callers


def _all_routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _all_routes(included.routes)
        else:
            yield route


@dataclass
class World:
    client: TestClient
    store: SqlCampusStore
    callers: list[Caller]
    orgs: dict[str, str]  # "A", "B", "P", "F" -> id
    spare: dict[str, dict[str, str]]  # org letter -> {user_id, token_id, partnership_id}
    jobs: dict[str, str]  # campus -> job id
    #: campus -> a workspace preparing it ({ws_id, file_id, drawing_id})
    workspaces: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)


def workspace_values(w: World, campus_id: str) -> dict[str, str]:
    """A new workspace of the campus's district, holding a file and a drawing (rows only)."""
    from api.store_workspace import FileKind, workspaces

    wss = workspaces(w.store)
    ws = wss.create(campus_id=campus_id, name="matrix", created_by="tests", created_by_id=None,
                    org_id=identity(w.store).campus_owner(campus_id), settings={})
    record = wss.add_file(ws.id, name="plan.dxf", kind=FileKind.DXF, size=1, sha256="0" * 64,
                          path="files/gone.dxf")
    drawing = wss.add_drawing(ws.id, record.id, name="plan.dxf", path="files/gone.dxf",
                              proposal={}, settings={}, has_geodata=False, bounds=None)
    return {"ws_id": ws.id, "file_id": record.id, "drawing_id": drawing.id}


@pytest.fixture
def world(settings: Settings, store: SqlCampusStore, campus: Campus,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    import tiles.book
    import tiles.package

    # authorization is under test, not drawing: books and packages are stubs here
    monkeypatch.setattr(tiles.book, "make_book", lambda *a, **k: b"%PDF-1.4 stub")
    monkeypatch.setattr(tiles.package, "tiles_archive", lambda *a, **k: b"tiles")
    monkeypatch.setattr(tiles.package, "package_book", lambda *a, **k: b"book")
    monkeypatch.setattr(tiles.package, "make_package", lambda *a, **k: b"PK stub")
    if "job_workers" in Settings.model_fields:
        settings = settings.model_copy(update={"job_workers": 0})  # jobs queue, none runs
    settings = settings.model_copy(update={"operator_orgs": ["District A"]})
    ident = identity(store)
    a = ident.create_org("District A", OrgKind.DISTRICT)
    b = ident.create_org("District B", OrgKind.DISTRICT)
    p = ident.create_org("Police P", OrgKind.POLICE)
    f = ident.create_org("Fire F", OrgKind.FIRE)
    for campus_id, owner in zip(CAMPUSES, (a, b, b, b, b, b), strict=True):
        store.save_revision(dataclasses.replace(campus, id=campus_id), source="tests")
        ident.assign_campus(campus_id, owner.id)
    today = utcnow().date()
    ident.grant(district_id=b.id, agency_id=p.id, campuses=[PARTNER], reference="MOU 1")
    ident.grant(district_id=b.id, agency_id=p.id, campuses=[EXPIRED],
                starts_on=today - timedelta(days=30), ends_on=today - timedelta(days=1))
    revoked = ident.grant(district_id=b.id, agency_id=p.id, campuses=[REVOKED])
    ident.revoke_partnership(revoked.id)
    ident.grant(district_id=b.id, agency_id=p.id, campuses=[FUTURE],
                starts_on=today + timedelta(days=1))
    callers: list[Caller] = []
    for letter, org, roles, sees in (
            ("A", a, (Role.ADMIN, Role.EDITOR, Role.DISPATCHER, Role.OFFICER), {OWN}),
            ("P", p, (Role.ADMIN, Role.DISPATCHER, Role.OFFICER), {PARTNER})):
        for role in roles:
            person = ident.create_person(f"{role.value}@{letter.lower()}.example.org", org.id,
                                         role)
            token, _ = create_token(store, f"{letter} {role.value}", user=person.id)
            callers.append(Caller(f"{letter} {role.value}", letter, org.id, role, token,
                                  frozenset(sees)))
        role = Role.DISPATCHER
        token, _ = create_token(store, f"{letter} CAD", role, org=org.id)
        callers.append(Caller(f"{letter} CAD integration ({role.value})", letter, org.id, role,
                              token, frozenset(sees)))
    spare: dict[str, dict[str, str]] = {}
    for letter, org in (("A", a), ("P", p), ("B", b)):
        person = ident.create_person(f"spare@{letter.lower()}.example.org", org.id,
                                     Role.OFFICER)
        _, record = create_token(store, f"{letter} spare", Role.OFFICER, org=org.id)
        spare[letter] = {"user_id": person.id, "token_id": record.id,
                         "partnership_id": "prt_000000000000"}
    spare["A"]["partnership_id"] = ident.grant(district_id=a.id, agency_id=f.id).id
    spare["B"]["partnership_id"] = revoked.id
    with TestClient(create_app(settings, store), base_url="http://127.0.0.1") as client:
        w = World(client, store, callers, {"A": a.id, "B": b.id, "P": p.id, "F": f.id}, spare,
                  {})
        w.callers.extend(share_link_callers(w))
        yield w


def _path(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)


BASE_VALUES = {"ordinal": "0", "z": "1", "x": "0", "y": "0", "label": "C4", "number": "1",
               "path": "vendor/leaflet/leaflet.js", "link_id": "shr_000000000000",
               "ws_id": "ws_000000000000", "file_id": "wf_000000000000",
               "drawing_id": "wd_000000000000"}


def _request(w: World, caller: Caller, method: str, template: str, rule: Rule,
             values: dict[str, str]) -> Any:
    url = _path(template, BASE_VALUES | values)
    headers = {"Authorization": f"Bearer {caller.token}"}
    kwargs: dict[str, Any] = {"headers": headers, "params": rule.query or {}}
    if rule.body is not None:
        body = rule.body()
        kwargs["content" if isinstance(body, bytes) else "json"] = body
    return w.client.request(method, url, **kwargs)


def _error_type(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def _expect(rule: Rule, caller: Caller, campus: str | None, org_letter: str | None,
            template: str = "") -> int:
    """200 (gets past authorization), 403 or 404."""
    from api.share import SHARE_ROUTES

    admin = caller.role is Role.ADMIN and caller.org != "share"
    if rule.kind in ("campus", "job", "workspace"):
        assert campus is not None
        if campus not in caller.sees:
            return 404
        if caller.org == "share" and template not in SHARE_ROUTES:
            return 403  # a share link reads lookups, the map, tiles, book, gazetteer only
        if rule.action == "read":
            return 200
        if rule.action == "cancel":  # the jobs of test-campus were asked for by A's editor
            return 200 if caller.label == "A editor" and campus == OWN else 403
        if caller.org == "share":
            return 403
        if rule.action in ("edit", "publish"):
            return 200 if caller.org == "A" and caller.role in (Role.ADMIN, Role.EDITOR) \
                else 403
        if rule.action == "share":
            return 200 if admin else 403
    if rule.kind == "org":
        return 200 if admin and org_letter == caller.org else 403
    if rule.kind == "admin":
        return 200 if admin else 403
    if rule.kind == "operator":  # district A runs this deployment (GRIDMAP_OPERATOR_ORGS)
        return 200 if admin and caller.org == "A" else 403
    raise AssertionError(f"no expectation for {rule}")


def _check(response: Any, expected: int, what: str, campus: str | None,
           rule: Rule) -> list[str]:
    status = response.status_code
    kind = _error_type(response)
    if expected == 403 and rule.unknown_item_ok and status == 404 and kind == "NotFound":
        return []
    if expected == 404:
        if status != 404 or kind not in ("CampusNotFound", "JobNotFound", "NotFound",
                                         "WorkspaceNotFound"):
            return [f"{what}: expected 404 (hidden), got {status} {kind}: {response.text[:200]}"]
        if campus is not None and "campus\":" in response.text and kind is None:
            return [f"{what}: a hidden campus's data in the answer"]
        return []
    if expected == 403:
        if status == 403:
            return []
        return [f"{what}: expected 403, got {status} {kind}: {response.text[:200]}"]
    if status in (401, 403) or (status == 404 and kind == "CampusNotFound"):
        return [f"{what}: expected to pass authorization, got {status} {kind}: "
                f"{response.text[:200]}"]
    if status >= 500:
        return [f"{what}: server error {status}: {response.text[:200]}"]
    return []


def test_every_route_is_classified(client: TestClient) -> None:
    routes = {(m, r.path) for r in _all_routes(client.app.routes)  # type: ignore[attr-defined]
              if isinstance(r, APIRoute) for m in r.methods}
    missing = sorted(routes - set(RULES))
    assert not missing, f"classify these routes in tests/test_authz_matrix.py RULES: {missing}"


def test_authorization_matrix(world: World) -> None:
    w = world
    routes = [(m, r.path) for r in _all_routes(w.client.app.routes)  # type: ignore[attr-defined]
              if isinstance(r, APIRoute) for m in sorted(r.methods)]
    missing = sorted({key for key in routes if key not in RULES})
    assert not missing, f"classify these routes in RULES: {missing}"
    a_editor = next(c for c in w.callers if c.label == "A editor")
    b_admin_token, _ = create_token(w.store, "B admin", Role.ADMIN, org=w.orgs["B"])
    for campus_id in CAMPUSES:  # a queued job per campus, made by someone who may
        token = a_editor.token if campus_id == OWN else b_admin_token
        r = w.client.post(f"/campuses/{campus_id}/jobs", json={"kind": "book"},
                          headers={"Authorization": f"Bearer {token}"})
        if r.status_code in (200, 201, 202):
            w.jobs[campus_id] = r.json().get("id") or r.json().get("job", {}).get("id")
    failures: list[str] = []
    checked = 0
    for (method, template), caller in itertools.product(routes, w.callers):
        rule = RULES[(method, template)]
        if rule.kind in ("public", "any"):
            continue
        if rule.kind in ("campus", "job", "workspace"):
            for campus_id in CAMPUSES:
                if rule.kind == "job":
                    if campus_id not in w.jobs:
                        continue
                    values = {"job_id": w.jobs[campus_id]}
                elif rule.kind == "workspace":  # a fresh one for each DELETE
                    if method == "DELETE":
                        values = workspace_values(w, campus_id)
                    else:
                        values = w.workspaces.setdefault(
                            campus_id, workspace_values(w, campus_id))
                else:
                    values = {"campus_id": campus_id}
                expected = _expect(rule, caller, campus_id, None, template)
                response = _request(w, caller, method, template, rule, values)
                what = f"{caller.label} {method} {_path(template, BASE_VALUES | values)}"
                failures += _check(response, expected, what, campus_id, rule)
                checked += 1
        elif rule.kind == "org":
            for letter in ("A", "P", "B"):
                values = {"org_id": w.orgs[letter], **w.spare[letter]}
                expected = _expect(rule, caller, None, letter)
                response = _request(w, caller, method, template, rule, values)
                what = f"{caller.label} {method} {_path(template, BASE_VALUES | values)}"
                failures += _check(response, expected, what, None, rule)
                checked += 1
        else:
            expected = _expect(rule, caller, None, None)
            response = _request(w, caller, method, template, rule, {})
            failures += _check(response, expected, f"{caller.label} {method} {template}", None,
                               rule)
            checked += 1
    assert not failures, f"{len(failures)} of {checked} checks failed:\n" + "\n".join(failures)
    assert checked > 500  # the matrix really ran


def test_lists_show_only_visible_campuses(world: World, campus: Campus) -> None:
    w = world
    centre = campus.buildings[0].footprint.centroid  # every campus here is a copy: all cover it
    for caller in w.callers:
        headers = {"Authorization": f"Bearer {caller.token}"}
        listed = {c["id"] for c in w.client.get("/campuses", headers=headers).json()["campuses"]}
        assert listed == caller.sees, caller.label
        home = w.client.get("/", headers=headers).text
        assert {c for c in CAMPUSES if f"/campuses/{c}/map" in home} == caller.sees, caller.label
        located = w.client.get("/locate", params={"lon": centre.x, "lat": centre.y},
                               headers=headers).json()["matches"]
        assert {m["campus"] for m in located} == caller.sees, caller.label


def test_revoking_a_partnership_ends_access_at_once(world: World) -> None:
    w = world
    officer = next(c for c in w.callers if c.label == "P officer")
    headers = {"Authorization": f"Bearer {officer.token}"}
    assert w.client.get(f"/campuses/{PARTNER}/lookup", params={"q": "214"},
                        headers=headers).status_code == 200
    ident = identity(w.store)
    (grant,) = [g for g in ident.partnerships(w.orgs["P"]) if g.campuses == (PARTNER,)]
    ident.revoke_partnership(grant.id)
    r = w.client.get(f"/campuses/{PARTNER}/lookup", params={"q": "214"}, headers=headers)
    assert (r.status_code, _error_type(r)) == (404, "CampusNotFound")
    assert w.client.get("/campuses", headers=headers).json()["campuses"] == []


def test_a_second_store_sees_a_revocation_within_its_cache_ttl(
    world: World, settings: Settings,
) -> None:
    """Another worker (its own store object and caches) stops serving the campus once its
    1 s caches expire: here a clock moved past the TTL, no sleeping."""
    w = world
    now = [0.0]
    other = SqlCampusStore(settings.resolved_database_url, clock=lambda: now[0])
    try:
        ident = identity(other)
        agency = w.orgs["P"]
        assert PARTNER in ident.visible_campuses(agency)
        (grant,) = [g for g in identity(w.store).partnerships(agency)
                    if g.campuses == (PARTNER,)]
        identity(w.store).revoke_partnership(grant.id)  # through the first store
        assert PARTNER in ident.visible_campuses(agency)  # cached, for less than 1 s
        now[0] += 1.0
        assert PARTNER not in ident.visible_campuses(agency)
    finally:
        other.close()


def test_without_valid_credentials_every_route_but_the_public_ones_is_401(
    world: World,
) -> None:
    """No credentials, a malformed one, a revoked token and a disabled person's token: 401
    everywhere (the matrix's own campus and organisation in the path, so nothing is hidden by
    a 404 first)."""
    w = world
    ident = identity(w.store)
    revoked, record = create_token(w.store, "revoked", Role.OFFICER, org=w.orgs["A"])
    w.store.revoke_tokens(token_id=record.id)
    gone = ident.create_person("gone@a.example.org", w.orgs["A"], Role.ADMIN)
    disabled, _ = create_token(w.store, "gone", user=gone.id)
    ident.disable_person(gone.id)
    credentials: list[dict[str, str]] = [
        {}, {"Authorization": "Bearer gm_not-a-token"}, {"Authorization": "Basic eDp5"},
        {"Authorization": f"Bearer {revoked}"}, {"Authorization": f"Bearer {disabled}"}]
    values = {"campus_id": OWN, "org_id": w.orgs["A"], "job_id": "job_" + "0" * 32,
              **w.spare["A"]}
    failures = []
    for route in _all_routes(w.client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(route.methods):
            rule = RULES[(method, route.path)]
            if rule.kind == "public":
                continue
            url = _path(route.path, BASE_VALUES | values)
            for headers in credentials:
                kwargs: dict[str, Any] = {"headers": headers | {"Accept": "application/json"},
                                          "params": rule.query or {}}
                if rule.body is not None:
                    body = rule.body()
                    kwargs["content" if isinstance(body, bytes) else "json"] = body
                r = w.client.request(method, url, **kwargs)
                if r.status_code != 401:
                    failures.append(f"{method} {url} with {headers}: {r.status_code}")
    assert not failures, "\n".join(failures)
