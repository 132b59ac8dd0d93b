"""Share links: issued by admins for one campus, read-only, at most 72 h, revocable, audited.

Every test runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import share
from api.auth import create_token
from api.errors import InvalidParameter
from api.store import Role, SqlCampusStore, utcnow
from api.store_identity import Organisation, OrgKind, identity
from gridmap.errors import CampusNotFound, Unauthenticated
from gridmap.model import Campus
from tests.conftest import stored_bytes

ORIGIN = {"Origin": "http://127.0.0.1"}


class Clock:
    """Monotonic seconds that move only when told (the stores' cache clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _other_campus(campus: Campus) -> Campus:
    from dataclasses import replace

    return replace(campus, id=campus.id + "-b", name=campus.name + " B")


@pytest.fixture
def second_campus(store: SqlCampusStore, campus: Campus, district: Organisation,
                  stored_campus: Campus) -> Campus:
    other = _other_campus(campus)
    store.save_revision(other, source="tests")
    identity(store).assign_campus(other.id, district.id)
    return other


def _issue(client: TestClient, token: str, campus_id: str, **body: Any) -> Any:
    return client.post(f"/campuses/{campus_id}/share", json=body,
                       headers={"Authorization": f"Bearer {token}"})


# --- the store ------------------------------------------------------------------------------


def test_a_link_is_stored_hashed_and_its_secret_shown_once(
        store: SqlCampusStore, stored_campus: Campus, district: Organisation) -> None:
    secret, link = share.shares(store).create(campus_id=stored_campus.id, hours=12,
                                              org_id=district.id, created_by="tests")
    assert re.fullmatch(r"gsh_[A-Za-z0-9_-]{43}", secret)
    assert link.expires_at - link.created_at == timedelta(hours=12)
    dump = stored_bytes(store)
    assert secret.encode() not in dump
    assert share.hash_secret(secret).encode() in dump
    assert share.verify_link(store, secret).id == link.id
    assert "secret" not in str(link.to_dict(utcnow())).replace("secret_", "")


@pytest.mark.parametrize("hours", [0, -1, 72.01, 1000, float("nan"), float("inf")])
def test_a_link_lasts_more_than_0_and_at_most_72_hours(
        store: SqlCampusStore, stored_campus: Campus, hours: float) -> None:
    with pytest.raises(InvalidParameter, match="at most 72 hours"):
        share.shares(store).create(campus_id=stored_campus.id, hours=hours, org_id=None,
                                   created_by="tests")
    assert share.shares(store).links() == []


def test_a_link_is_for_a_campus_that_exists(store: SqlCampusStore) -> None:
    with pytest.raises(CampusNotFound):
        share.shares(store).create(campus_id="nowhere", hours=1, org_id=None, created_by="t")


def test_an_expired_link_is_refused_saying_so(
        store: SqlCampusStore, stored_campus: Campus) -> None:
    secret, link = share.shares(store).create(campus_id=stored_campus.id, hours=1,
                                              org_id=None, created_by="tests")
    just_before = link.expires_at - timedelta(seconds=1)
    assert share.share_principal(store, secret, just_before) is not None
    with pytest.raises(Unauthenticated) as refused:
        share.share_principal(store, secret, link.expires_at)
    assert "expired" in refused.value.user_message


def test_a_revocation_reaches_another_worker_within_the_cache_ttl(
        settings: Any, store: SqlCampusStore, stored_campus: Campus) -> None:
    """Two store objects on one database stand for two workers; the second one's cache clock
    is injected. Revoked through the first, the link is refused by the second once its cache
    entry is one TTL old, and by the first at once."""
    clock = Clock()
    worker = SqlCampusStore(settings.resolved_database_url, clock=clock)
    try:
        secret, link = share.shares(store).create(campus_id=stored_campus.id, hours=2,
                                                  org_id=None, created_by="tests")
        seen = share.share_principal(worker, secret)  # cached now in the second worker
        assert seen is not None and seen.share_campus == stored_campus.id
        assert share.shares(store).revoke(link.id, by="tests")
        with pytest.raises(Unauthenticated, match="revoked"):
            share.share_principal(store, secret)
        clock.now += worker._tokens.ttl_s
        with pytest.raises(Unauthenticated) as refused:
            share.share_principal(worker, secret)
        assert refused.value.user_message == "this share link was revoked"
        assert worker._tokens.ttl_s <= 1.0
    finally:
        worker.close()


def test_cached_only_verification_does_no_io_and_says_so(
        store: SqlCampusStore, stored_campus: Campus) -> None:
    secret, _ = share.shares(store).create(campus_id=stored_campus.id, hours=2, org_id=None,
                                           created_by="tests")
    assert share.share_principal(store, secret, cached=True) is None  # not cached yet
    share.share_principal(store, secret)
    principal = share.share_principal(store, secret, cached=True)
    assert principal is not None and principal.share_campus == stored_campus.id
    assert not principal.is_admin


# --- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def link(client: TestClient, admin_token: str, stored_campus: Campus,
         second_campus: Campus) -> dict[str, Any]:
    answer = _issue(client, admin_token, stored_campus.id, hours=6, recipient="Mutual aid FD")
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_an_admin_issues_a_link_and_it_reads_its_campus(
        client: TestClient, link: dict[str, Any], stored_campus: Campus,
        store: SqlCampusStore) -> None:
    secret, cid = link["secret"], stored_campus.id
    assert link["url"] == f"/share#{secret}" and link["state"] == "active"
    bearer = {"Authorization": f"Bearer {secret}"}
    for path in (f"/campuses/{cid}", f"/campuses/{cid}/lookup?q=101",
                 f"/campuses/{cid}/map", f"/campuses/{cid}/grid.geojson",
                 f"/campuses/{cid}/gazetteer.csv", f"/campuses/{cid}/gazetteer.json"):
        answer = client.get(path, headers=bearer)
        assert answer.status_code == 200, (path, answer.text)
    listed = client.get("/campuses", headers=bearer).json()["campuses"]
    assert [c["id"] for c in listed] == [cid]
    store.flush_audit()
    uses = [e for e in store.audit_log(limit=1000) if e.credential_id == link["id"]]
    assert {"campus", "lookup", "map_page", "grid_geojson", "gazetteer"} <= {
        e.action for e in uses}
    assert all(e.credential_kind == "share" and e.outcome == "ok" for e in uses)


def test_a_link_draws_tiles(client: TestClient, link: dict[str, Any],
                            stored_campus: Campus) -> None:
    pytest.importorskip("mapnik")
    detail = client.get(f"/campuses/{stored_campus.id}",
                        headers={"Authorization": f"Bearer {link['secret']}"}).json()
    assert detail
    answer = client.get(f"/campuses/{stored_campus.id}/levels/1/tiles/18/70000/95000.png",
                        headers={"Authorization": f"Bearer {link['secret']}"})
    assert answer.status_code in (200, 204), answer.text
    if answer.status_code == 200:
        assert answer.content.startswith(b"\x89PNG")


def test_a_link_reads_nothing_else(
        client: TestClient, link: dict[str, Any], second_campus: Campus,
        stored_campus: Campus) -> None:
    bearer = {"Authorization": f"Bearer {link['secret']}"}
    # another campus of the same district: as unknown as one that does not exist
    assert client.get(f"/campuses/{second_campus.id}", headers=bearer).status_code == 404
    assert client.get(f"/campuses/{second_campus.id}/lookup?q=1",
                      headers=bearer).status_code == 404
    # no admin rights, no writes, no further links, no audit log
    assert client.get("/audit", headers=bearer).status_code == 403
    assert client.post(f"/campuses/{stored_campus.id}/share", json={"hours": 1},
                       headers=bearer).status_code == 403
    assert client.get("/share-links", headers=bearer).status_code == 403
    assert client.delete(f"/share-links/{link['id']}", headers=bearer).status_code in (403,
                                                                                       404)
    # of its own campus, only lookups, the map, tiles, the book and the gazetteer
    for method, path, body in (
            ("GET", f"/campuses/{stored_campus.id}/revisions", None),
            ("POST", f"/campuses/{stored_campus.id}/package.zip", {}),
            ("POST", f"/campuses/{stored_campus.id}/jobs", {"kind": "book"}),
            ("GET", f"/campuses/{stored_campus.id}/jobs", None)):
        answer = client.request(method, path, json=body, headers=bearer)
        assert answer.status_code == 403, (path, answer.text)
        assert "share link reads" in answer.json()["error"]["message"]
    put = client.put(f"/campuses/{stored_campus.id}/imagery", content=b"II*\x00",
                     headers={**bearer, "Content-Type": "image/tiff"})
    assert put.status_code == 403, put.text


def test_over_72_hours_is_refused(client: TestClient, admin_token: str,
                                  stored_campus: Campus) -> None:
    answer = _issue(client, admin_token, stored_campus.id, hours=73)
    assert answer.status_code == 422
    assert "72" in answer.text


def test_only_admins_who_see_the_campus_issue_links(
        client: TestClient, store: SqlCampusStore, district: Organisation, viewer_token: str,
        stored_campus: Campus) -> None:
    ident = identity(store)
    police = ident.create_org("Police", OrgKind.POLICE)
    fire = ident.create_org("Fire", OrgKind.FIRE)
    ident.grant(district_id=district.id, agency_id=police.id, created_by="tests")
    police_admin, _ = create_token(store, "pd admin", Role.ADMIN, org=police.id)
    fire_admin, _ = create_token(store, "fd admin", Role.ADMIN, org=fire.id)
    assert _issue(client, viewer_token, stored_campus.id).status_code == 403
    assert _issue(client, fire_admin, stored_campus.id).status_code == 404  # not granted
    answer = _issue(client, police_admin, stored_campus.id, hours=2)
    assert answer.status_code == 201, answer.text
    assert answer.json()["org_id"] == police.id


def test_revoked_is_refused_with_a_clear_message(
        client: TestClient, admin_token: str, link: dict[str, Any],
        stored_campus: Campus) -> None:
    bearer = {"Authorization": f"Bearer {link['secret']}"}
    assert client.get(f"/campuses/{stored_campus.id}", headers=bearer).status_code == 200
    revoked = client.delete(f"/share-links/{link['id']}",
                            headers={"Authorization": f"Bearer {admin_token}"})
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused = client.get(f"/campuses/{stored_campus.id}", headers=bearer)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "this share link was revoked"
    listed = client.get("/share-links", headers={"Authorization": f"Bearer {admin_token}"})
    assert [(x["id"], x["state"]) for x in listed.json()["links"]] == [(link["id"], "revoked")]
    assert "secret" not in listed.text


def test_another_organisations_admin_cannot_revoke(
        client: TestClient, store: SqlCampusStore, link: dict[str, Any]) -> None:
    fire = identity(store).create_org("Fire", OrgKind.FIRE)
    fire_admin, _ = create_token(store, "fd admin", Role.ADMIN, org=fire.id)
    answer = client.delete(f"/share-links/{link['id']}",
                           headers={"Authorization": f"Bearer {fire_admin}"})
    assert answer.status_code == 404
    assert share.find_link(store, link["id"]).revoked_at is None


def test_the_browser_form_keeps_the_secret_out_of_urls(
        client: TestClient, admin_token: str, link: dict[str, Any], stored_campus: Campus,
        second_campus: Campus) -> None:
    page = client.get("/share")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "sha256-" in page.headers["content-security-policy"]
    assert "location.hash" in page.text and "history.replaceState" in page.text
    # the page's script posts the fragment's secret; the answer sets the cookie
    opened = client.post("/share/open", data={"secret": link["secret"]}, headers=ORIGIN)
    assert opened.status_code == 200, opened.text
    assert opened.json()["map"] == f"/campuses/{stored_campus.id}/map"
    cookie = client.cookies.get("gridmap_session")
    assert cookie is not None and cookie.startswith("gss_") and link["secret"] not in cookie
    assert "httponly" in opened.headers["set-cookie"].lower()
    assert client.get(f"/campuses/{stored_campus.id}/map").status_code == 200
    assert client.get(f"/campuses/{second_campus.id}").status_code == 404
    client.delete(f"/share-links/{link['id']}",
                  headers={"Authorization": f"Bearer {admin_token}"})
    after = client.get(f"/campuses/{stored_campus.id}", headers={"Accept": "application/json"})
    assert after.status_code == 401
    assert after.json()["error"]["message"] == "this share link was revoked"


def test_the_browser_form_refuses_a_bad_or_cross_site_secret(
        client: TestClient, link: dict[str, Any]) -> None:
    bad = client.post("/share/open", data={"secret": "gsh_" + "x" * 43}, headers=ORIGIN)
    assert bad.status_code == 401 and bad.json()["error"]["message"] == "invalid share link"
    forged = client.post("/share/open", data={"secret": link["secret"]},
                         headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert client.cookies.get("gridmap_session") is None


def test_a_secret_in_a_url_is_refused(client: TestClient, link: dict[str, Any],
                                      stored_campus: Campus) -> None:
    answer = client.get(f"/campuses/{stored_campus.id}/lookup",
                        params={"q": link["secret"]},
                        headers={"Authorization": f"Bearer {link['secret']}"})
    assert answer.status_code == 400


# --- the command line -------------------------------------------------------------------------


def test_cli_share_and_revoke(store: SqlCampusStore, stored_campus: Campus, settings: Any,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main

    assert main(["share", stored_campus.id, "--hours", "5", "--to", "Mutual aid"]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"gsh_[A-Za-z0-9_-]{43}", out)
    link_id = re.search(r"shr_[0-9a-f]+", out)
    assert secret and link_id
    assert share.find_link(store, link_id.group(0)).secret_hash == share.hash_secret(
        secret.group(0))
    assert main(["share", stored_campus.id, "--hours", "100"]) == 2
    assert "at most 72 hours" in capsys.readouterr().err
    assert main(["share", "list"]) == 0
    assert link_id.group(0) in capsys.readouterr().out
    assert main(["share", "revoke", link_id.group(0)]) == 0
    capsys.readouterr()
    with pytest.raises(Unauthenticated, match="revoked"):
        share.share_principal(store, secret.group(0))  # never cached by this store: read now
    store.flush_audit()
    assert {"share_create", "share_revoke"} <= {e.action for e in store.audit_log(limit=100)}


# --- in a real browser ------------------------------------------------------------------------


def test_a_browser_opens_the_link_and_the_secret_leaves_the_address_bar(
        tmp_path: Any, settings: Any, store: SqlCampusStore, stored_campus: Campus,
        district: Organisation) -> None:
    """Chromium opens /share#<secret>: it ends on the campus's map with a campus-only session
    cookie, the secret in neither its address bar nor a referrer; revoked, the map is gone."""
    from api.app import create_app
    from tests.browser import chromium, need_browser, serve, wait_for

    need_browser()
    secret, link = share.shares(store).create(campus_id=stored_campus.id, hours=1,
                                              org_id=district.id, created_by="tests")
    with serve(create_app(settings, store)) as base, chromium(tmp_path / "profile") as drv:
        drv.get(f"{base}/share#{secret}")
        wait_for(drv, "return location.pathname.endsWith('/map') && !!window.L")
        assert drv.current_url.split("#")[0] == f"{base}/campuses/{stored_campus.id}/map"
        assert secret not in drv.current_url
        assert drv.execute_script("return document.referrer") == ""
        cookies = {c["name"]: c for c in drv.get_cookies()}
        session = cookies["gridmap_session"]
        assert session["value"].startswith("gss_") and session["httpOnly"]
        answer = drv.execute_script(
            "return fetch('/campuses/' + arguments[0] + '/lookup?q=101')"
            ".then(r => r.status)", stored_campus.id)
        assert answer == 200
        share.shares(store).revoke(link.id, by="tests")
        drv.get(f"{base}/campuses/{stored_campus.id}/map")
        assert "/login" in drv.current_url  # a browser without a valid session signs in
    store.flush_audit()
    used = {e.action for e in store.audit_log(limit=200) if e.credential_id == link.id}
    assert {"share_open", "map_page", "lookup"} <= used
    assert secret not in repr(store.audit_log(limit=200))


def test_an_agencys_link_ends_with_its_partnership(
        client: TestClient, store: SqlCampusStore, district: Organisation,
        stored_campus: Campus) -> None:
    ident = identity(store)
    police = ident.create_org("Police", OrgKind.POLICE)
    partnership = ident.grant(district_id=district.id, agency_id=police.id, created_by="tests")
    police_admin, _ = create_token(store, "pd admin", Role.ADMIN, org=police.id)
    issued = _issue(client, police_admin, stored_campus.id, hours=2)
    assert issued.status_code == 201, issued.text
    bearer = {"Authorization": f"Bearer {issued.json()['secret']}"}
    assert client.get(f"/campuses/{stored_campus.id}", headers=bearer).status_code == 200
    ident.revoke_partnership(partnership.id)
    ended = client.get(f"/campuses/{stored_campus.id}", headers=bearer)
    assert ended.status_code == 401
    assert "no longer has access" in ended.json()["error"]["message"]


def test_signing_out_ends_the_share_session(
        client: TestClient, link: dict[str, Any], stored_campus: Campus) -> None:
    assert client.post("/share/open", data={"secret": link["secret"]},
                       headers=ORIGIN).status_code == 200
    session_id = client.cookies.get("gridmap_session")
    assert session_id is not None
    assert client.get(f"/campuses/{stored_campus.id}").status_code == 200
    out = client.post("/logout", headers=ORIGIN, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("gridmap_session", session_id)  # a copy of the cookie kept elsewhere
    again = client.get(f"/campuses/{stored_campus.id}", headers={"Accept": "application/json"})
    assert again.status_code == 401
