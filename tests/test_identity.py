"""Organisations, people, partnerships and ownership: the store, the CLI and the admin API.

Every test runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy
from fastapi.testclient import TestClient

from api import cli
from api.app import create_app
from api.auth import verify_session, verify_token
from api.errors import InvalidParameter
from api.migrations import upgrade_connection
from api.settings import Settings
from api.store import Role, SqlCampusStore, utcnow
from api.store_identity import OrgKind, identity
from api.tokens import create_token, hash_token
from gridmap.errors import NotFound, Unauthenticated
from gridmap.model import Campus


def test_organisations_people_and_their_rules(store: SqlCampusStore) -> None:
    ident = identity(store)
    district = ident.create_org("Lincoln Unified", OrgKind.DISTRICT)
    police = ident.create_org("City Police", "police")
    assert ident.find_org("lincoln unified") == district  # by name, any case
    assert ident.find_org(police.id) == police
    with pytest.raises(NotFound, match="Lincoln Unified"):  # names the choices
        ident.find_org("Nowhere")
    with pytest.raises(InvalidParameter, match="already"):
        ident.create_org("LINCOLN UNIFIED", OrgKind.FIRE)
    with pytest.raises(InvalidParameter, match="kind"):
        ident.create_org("Sheriff", "sheriff")
    person = ident.create_person("  Pat@Lincoln.EXAMPLE.org ", district.id, Role.EDITOR, "Pat")
    assert person.email == "pat@lincoln.example.org"
    assert ident.person_by_email("PAT@lincoln.example.org") == person
    with pytest.raises(InvalidParameter, match="already"):
        ident.create_person("pat@lincoln.example.org", police.id, Role.OFFICER)
    with pytest.raises(InvalidParameter, match="agency"):  # an agency edits no campus
        ident.create_person("ed@police.example.org", police.id, Role.EDITOR)
    with pytest.raises(InvalidParameter, match="email"):
        ident.create_person("not-an-email", police.id, Role.OFFICER)


def test_a_token_belongs_to_a_person_or_an_integration(store: SqlCampusStore) -> None:
    ident = identity(store)
    district = ident.create_org("District", OrgKind.DISTRICT)
    police = ident.create_org("Police", OrgKind.POLICE)
    officer = ident.create_person("o@police.example.org", police.id, Role.OFFICER)
    token, record = create_token(store, "Officer O", user="o@police.example.org")
    principal = verify_token(store, token)
    assert (principal.org_id, principal.org_kind, principal.user_id, principal.role) == (
        police.id, OrgKind.POLICE, officer.id, Role.OFFICER)
    assert ident.token_owner(record.id) is not None
    with pytest.raises(ValueError, match="person's role"):
        create_token(store, "x", Role.ADMIN, user=officer.id)
    cad, _ = create_token(store, "County CAD", Role.DISPATCHER, org="Police")
    p = verify_token(store, cad)
    assert (p.integration, p.user_id, p.role) == ("County CAD", None, Role.DISPATCHER)
    with pytest.raises(ValueError, match="whose token"):  # two organisations: name one
        create_token(store, "nobody's")
    assert district.kind is OrgKind.DISTRICT


def test_a_disabled_person_is_refused_at_once(store: SqlCampusStore) -> None:
    ident = identity(store)
    org = ident.create_org("District", OrgKind.DISTRICT)
    person = ident.create_person("a@d.example.org", org.id, Role.ADMIN)
    token, _ = create_token(store, "A", user=person.id)
    assert verify_token(store, token).is_admin
    assert ident.disable_person(person.id)
    with pytest.raises(Unauthenticated, match="disabled"):
        verify_token(store, token)


def test_a_persons_session_is_a_principal(store: SqlCampusStore) -> None:
    """What OpenID Connect sign-in makes (W4): a session for a person, with no token."""
    ident = identity(store)
    org = ident.create_org("Police", OrgKind.POLICE)
    person = ident.create_person("d@p.example.org", org.id, Role.DISPATCHER)
    ident.add_person_session(session_hash=hash_token("gs_person"), user_id=person.id,
                             expires_at=utcnow() + timedelta(hours=1))
    principal = verify_session(store, "gs_person")
    assert (principal.token_id, principal.user_id, principal.org_id) == (None, person.id, org.id)
    assert principal.actor == person.id
    assert ident.revoke_person_session(hash_token("gs_person"))
    with pytest.raises(Unauthenticated, match="session ended"):
        verify_session(store, "gs_person")


def test_partnership_visibility_by_date_and_revocation(store: SqlCampusStore,
                                                       campus: Campus) -> None:
    ident = identity(store)
    district = ident.create_org("District", OrgKind.DISTRICT)
    fire = ident.create_org("Fire", OrgKind.FIRE)
    for cid in ("a", "b"):
        store.save_revision(dataclasses.replace(campus, id=cid), source="tests")
        ident.assign_campus(cid, district.id)
    today = utcnow().date()
    assert ident.visible_campuses(fire.id) == frozenset()
    whole = ident.grant(district_id=district.id, agency_id=fire.id, reference="MOU 7",
                        ends_on=today)  # the last day is included
    assert ident.visible_campuses(fire.id) == {"a", "b"}
    assert ident.revoke_partnership(whole.id)
    assert not ident.revoke_partnership(whole.id)  # once
    assert ident.visible_campuses(fire.id) == frozenset()
    ident.grant(district_id=district.id, agency_id=fire.id, campuses=["b"])
    assert ident.visible_campuses(fire.id) == {"b"}
    ident.grant(district_id=district.id, agency_id=fire.id, campuses=["a"],
                starts_on=today - timedelta(days=9), ends_on=today - timedelta(days=1))
    assert ident.visible_campuses(fire.id) == {"b"}  # ended yesterday
    with pytest.raises(InvalidParameter, match="owns no campus"):
        ident.grant(district_id=district.id, agency_id=fire.id, campuses=["elsewhere"])
    with pytest.raises(InvalidParameter, match="not a district"):
        ident.grant(district_id=fire.id, agency_id=fire.id)
    with pytest.raises(InvalidParameter, match="before it starts"):
        ident.grant(district_id=district.id, agency_id=fire.id,
                    ends_on=today - timedelta(days=1))


def test_a_campus_has_one_owning_district(store: SqlCampusStore, campus: Campus) -> None:
    ident = identity(store)
    store.save_revision(campus, source="tests")
    first = ident.create_org("First", OrgKind.DISTRICT)
    assert ident.campus_owner(campus.id) == first.id  # the only district's
    second = ident.create_org("Second", OrgKind.DISTRICT)  # ... written down before this
    assert ident.campus_owner(campus.id) == first.id
    assert ident.visible_campuses(second.id) == frozenset()
    with pytest.raises(InvalidParameter, match="belongs to First"):
        ident.assign_campus(campus.id, second.id)


def test_cli_org_user_partnership_token(settings: Settings, stored_campus: Campus,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["org", "create", "City Police", "--kind", "police"]) == 0
    assert cli.main(["user", "create", "Ann@City.example.org", "--org", "City Police",
                     "--role", "dispatcher"]) == 0
    assert cli.main(["user", "create", "e@city.example.org", "--org", "City Police",
                     "--role", "editor"]) == 2  # an agency has no editors
    assert "agency" in capsys.readouterr().err
    assert cli.main(["partnership", "grant", "--district", "Test district", "--agency",
                     "City Police", "--campus", stored_campus.id, "--until", "2999-12-31",
                     "--ref", "MOU 2026-14"]) == 0
    out = capsys.readouterr().out
    grant_id = next(w for w in out.split() if w.startswith("prt_"))
    assert "MOU 2026-14" in out
    assert cli.main(["token", "create", "Ann's laptop", "--user", "ann@city.example.org"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    store = SqlCampusStore(settings.resolved_database_url)
    try:
        ident = identity(store)
        principal = verify_token(store, token)
        assert principal.role is Role.DISPATCHER
        assert principal.org_id is not None
        assert ident.visible_campuses(principal.org_id) == {stored_campus.id}
        assert cli.main(["partnership", "list"]) == 0
        assert "[active]" in capsys.readouterr().out
        assert cli.main(["partnership", "revoke", grant_id]) == 0
        ident.drop_caches()
        assert ident.visible_campuses(principal.org_id) == frozenset()
        assert cli.main(["partnership", "revoke", "prt_nope"]) == 2
        actions = {e.action for e in store.audit_log()}
        assert {"org_create", "user_create", "partnership_grant", "token_create",
                "partnership_revoke"} <= actions
    finally:
        store.close()


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "lincoln_ridge" / "campus.toml"


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample campus not present")
def test_cli_import_names_the_owning_district(settings: Settings, store: SqlCampusStore,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    manifest = SAMPLE
    ident = identity(store)
    ident.create_org("North", OrgKind.DISTRICT)
    ident.create_org("South", OrgKind.DISTRICT)
    assert cli.main(["import", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "'North'" in err and "'South'" in err  # the choices
    assert store.list_campuses() == []  # nothing stored
    assert cli.main(["import", str(manifest), "--org", "South", "--publish"]) == 0
    (summary,) = store.list_campuses()
    assert ident.campus_owner(summary.id) == ident.find_org("South").id
    assert cli.main(["import", str(manifest), "--org", "North"]) == 2  # South's campus
    assert "belongs to South" in capsys.readouterr().err


def test_token_create_on_a_store_without_organisations(
        settings: Settings, stored_bare: None, capsys: pytest.CaptureFixture[str]) -> None:
    """The previous release's way: import, then a token with a role; the store gets its
    'Local district', owner of the campus, and the token is an integration of it."""
    assert cli.main(["token", "create", "County dispatch", "--role", "viewer"]) == 0
    out = capsys.readouterr().out
    assert "Local district" in out
    token = out.strip().splitlines()[-1]
    store = SqlCampusStore(settings.resolved_database_url)
    try:
        principal = verify_token(store, token)
        assert principal.role is Role.OFFICER
        assert principal.integration == "County dispatch"
        assert principal.org_id is not None
        assert identity(store).visible_campuses(principal.org_id) == {"test-campus"}
    finally:
        store.close()


@pytest.fixture
def stored_bare(store: SqlCampusStore, campus: Campus) -> None:
    """The test campus stored, and no organisation at all."""
    store.save_revision(campus, source="tests")


def test_admin_api(client: TestClient, store: SqlCampusStore, stored_campus: Campus,
                   admin_token: str, viewer_token: str) -> None:
    ident = identity(store)
    district = ident.find_org("Test district")
    police = ident.create_org("City Police", OrgKind.POLICE)
    admin = {"Authorization": f"Bearer {admin_token}"}
    base = f"/orgs/{district.id}"
    r = client.post(f"{base}/people", json={"email": "E@d.example.org", "role": "editor"},
                    headers=admin)
    assert r.status_code == 201
    editor = r.json()
    r = client.post(f"{base}/tokens", json={"name": "Ed's token", "user": editor["email"]},
                    headers=admin)
    assert r.status_code == 201
    secret = r.json()["token"]
    assert verify_token(store, secret).role is Role.EDITOR
    listed = client.get(f"{base}/tokens", headers=admin).json()["tokens"]
    assert secret not in str(listed)
    assert {t["name"] for t in listed} >= {"Ed's token", "test admin", "test viewer"}
    r = client.post(f"{base}/partnerships", json={"agency": "City Police",
                                                   "reference": "MOU 9"}, headers=admin)
    assert r.status_code == 201
    grant = r.json()
    assert grant["state"] == "active"
    assert ident.visible_campuses(police.id) == {stored_campus.id}
    r = client.delete(f"{base}/partnerships/{grant['id']}", headers=admin)
    assert r.status_code == 200
    assert ident.visible_campuses(police.id) == frozenset()
    assert client.post(f"{base}/people/{editor['id']}/disable", headers=admin).status_code == 200
    assert client.get("/campuses", headers={"Authorization": f"Bearer {secret}"}
                      ).status_code == 401
    # an officer is no admin; an admin manages only their own organisation
    viewer = {"Authorization": f"Bearer {viewer_token}"}
    assert client.get(f"{base}/people", headers=viewer).status_code == 403
    assert client.get(f"/orgs/{police.id}/people", headers=admin).status_code == 403
    denied = [e for e in store.audit_log() if e.action == "denied"]
    assert denied  # refusals are audited
    actions = {e.action for e in store.audit_log()}
    assert {"user_create", "token_create", "partnership_grant", "partnership_revoke",
            "user_disable"} <= actions


def test_previous_release_data_is_given_to_a_local_district(data_dir: Path,
                                                            database_url: str | None) -> None:
    """Upgrading a store made before organisations: its campus and tokens become the 'Local
    district''s, a viewer an officer."""
    url = database_url or f"sqlite:///{data_dir}/legacy.db"
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(url)
    now = utcnow()
    with engine.begin() as conn:
        upgrade_connection(conn, "0002")
        conn.execute(sqlalchemy.text(
            "INSERT INTO campuses (id, name, current_revision, created_at, updated_at) "
            "VALUES ('old', 'Old school', NULL, :t, :t)"), {"t": now})
        for tid, role in (("tok_a", "admin"), ("tok_v", "viewer")):
            conn.execute(sqlalchemy.text(
                "INSERT INTO tokens (id, name, role, token_hash, created_at) "
                "VALUES (:i, :n, :r, :h, :t)"),
                {"i": tid, "n": f"legacy {role}", "r": role, "h": hash_token(tid), "t": now})
    engine.dispose()
    store = SqlCampusStore(url)  # upgrades to head
    try:
        ident = identity(store)
        (local,) = ident.orgs()
        assert (local.name, local.kind) == ("Local district", OrgKind.DISTRICT)
        assert ident.campus_owner("old") == local.id
        viewer = verify_token(store, "tok_v")
        assert (viewer.role, viewer.org_id, viewer.integration) == (
            Role.OFFICER, local.id, "legacy viewer")
        assert verify_token(store, "tok_a").is_admin
    finally:
        store.close()


def test_sign_out_ends_a_persons_session(client: TestClient, store: SqlCampusStore,
                                         stored_campus: Campus) -> None:
    """A person's browser session (as OpenID Connect sign-in makes it) ends at /logout."""
    ident = identity(store)
    person = ident.create_person("d@test.example.org", ident.find_org("Test district").id,
                                 Role.DISPATCHER)
    ident.add_person_session(session_hash=hash_token("gs_signed_in"), user_id=person.id,
                             expires_at=utcnow() + timedelta(hours=1))
    client.cookies.set(Settings().cookie_name, "gs_signed_in")
    assert client.get("/campuses").status_code == 200
    assert client.post("/logout", follow_redirects=False).status_code == 303
    client.cookies.set(Settings().cookie_name, "gs_signed_in")  # a copy of the cookie
    assert client.get("/campuses", headers={"Accept": "application/json"}).status_code == 401


def test_organisations_are_created_over_the_api_by_the_operator_only(
        settings: Settings, store: SqlCampusStore, stored_campus: Campus,
        admin_token: str, viewer_token: str) -> None:
    """``POST /orgs``: the admins of an organisation named in GRIDMAP_OPERATOR_ORGS create
    organisations, as ``gridmap org create`` does; any other admin is refused (403, audited)."""
    new_org = {"name": "County Fire District 2", "kind": "fire"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    with TestClient(create_app(settings, store), base_url="http://127.0.0.1") as plain:
        r = plain.post("/orgs", json=new_org, headers=admin)
        assert r.status_code == 403
        assert "GRIDMAP_OPERATOR_ORGS" in r.json()["error"]["message"]
    assert [o.name for o in identity(store).orgs()] == ["Test district"]
    operated = settings.model_copy(update={"operator_orgs": ["test DISTRICT"]})  # by name
    with TestClient(create_app(operated, store), base_url="http://127.0.0.1") as client:
        r = client.post("/orgs", json=new_org, headers=admin)
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["name"], made["kind"]) == ("County Fire District 2", "fire")
        assert identity(store).org(made["id"]) is not None
        assert r.headers["cache-control"].startswith("private")
        # the same name twice, an unknown kind, no name: 4xx naming the problem
        again = client.post("/orgs", json=new_org, headers=admin)
        assert again.status_code == 400 and "already" in again.json()["error"]["message"]
        assert client.post("/orgs", json={"name": "X", "kind": "navy"},
                           headers=admin).status_code == 422
        assert client.post("/orgs", json={"kind": "fire"}, headers=admin).status_code == 422
        # an officer of the operating organisation is no admin
        assert client.post("/orgs", json={"name": "Y", "kind": "ems"},
                           headers={"Authorization": f"Bearer {viewer_token}"}
                           ).status_code == 403
    entries = store.audit_log()
    assert any(e.action == "org_create" and made["id"] in e.detail for e in entries)
    refusals = [e for e in entries if e.outcome == "refused" and e.status == 403]
    assert len(refusals) >= 2 and all("/orgs" in e.detail for e in refusals), refusals
