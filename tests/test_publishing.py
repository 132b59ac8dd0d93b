"""Drafts, publishing, rollback and walk-through verification, on both store backends.

Two editors publishing at once are raced deterministically: each holds at the store's
``before_flip`` hook (after its checks, before its write) until both are there, then both
flip; exactly one wins and the other gets a conflict naming both revisions.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import create_token
from api.errors import InvalidParameter
from api.store import Role, SqlCampusStore
from api.store_publish import Publishing, one_year_after, publishing
from gridmap.errors import AlreadyCurrent, CampusNotFound, NotFound, RevisionConflict, Unservable
from gridmap.model import Campus
from tests.conftest import stored_bytes


def _renamed(campus: Campus, name: str) -> Campus:
    office = next(u for u in campus.units if u.number == "101")
    return dataclasses.replace(campus, units=tuple(
        dataclasses.replace(u, name=name) if u.id == office.id else u for u in campus.units))


@pytest.fixture
def drafts(store: SqlCampusStore, campus: Campus) -> Publishing:
    """Revision 1 published; revisions 2 and 3 drafts (room 101 renamed in each)."""
    store.save_revision(campus, source="tests")
    store.save_revision(_renamed(campus, "Front Office"), source="tests", publish=False)
    store.save_revision(_renamed(campus, "Welcome Desk"), source="tests", publish=False)
    return publishing(store)


def test_a_draft_is_not_served_until_published(store: SqlCampusStore, drafts: Publishing,
                                               campus: Campus) -> None:
    assert store.current_revision(campus.id) == 1
    assert [(r.number, r.published) for r in store.revisions(campus.id)] == \
        [(1, True), (2, False), (3, False)]
    result = drafts.publish(campus.id, 2, expect_current=1)
    assert (result.number, result.previous) == (2, 1)
    assert store.current_revision(campus.id) == 2
    assert store.campus(campus.id).units == store.campus(campus.id, 2).units
    assert [s.name for s in store.list_campuses()] == [campus.name]
    assert store.revision_info(campus.id, 2).published  # type: ignore[union-attr]


def test_bad_publishes_change_nothing(store: SqlCampusStore, drafts: Publishing,
                                     campus: Campus) -> None:
    before = stored_bytes(store)
    with pytest.raises(NotFound, match="no revision 9"):
        drafts.publish(campus.id, 9, expect_current=1)
    with pytest.raises(CampusNotFound):
        drafts.publish("nowhere", 1, expect_current=None)
    with pytest.raises(AlreadyCurrent, match="already the published revision"):
        drafts.publish(campus.id, 1, expect_current=1)
    with pytest.raises(RevisionConflict) as conflict:
        drafts.publish(campus.id, 2, expect_current=3)
    assert "revision 3" in conflict.value.user_message
    assert "revision 1 is" in conflict.value.user_message
    with pytest.raises(InvalidParameter, match="not an earlier published"):
        drafts.publish(campus.id, 2, expect_current=1, rollback=True)  # a draft

    def unservable(_campus: Campus) -> None:
        raise Unservable("campus test: a door at nan")

    with pytest.raises(Unservable):
        drafts.publish(campus.id, 2, expect_current=1, check=unservable)
    assert stored_bytes(store) == before
    assert store.current_revision(campus.id) == 1


def test_rollback_republishes_an_earlier_revision(store: SqlCampusStore, drafts: Publishing,
                                                  campus: Campus) -> None:
    drafts.publish(campus.id, 3, expect_current=1)
    with pytest.raises(RevisionConflict):
        drafts.publish(campus.id, 1, expect_current=2, rollback=True)
    result = drafts.publish(campus.id, 1, expect_current=3, rollback=True)
    assert result.line() == f"{campus.id}: rolled back to revision 1 (was 3)"
    assert store.current_revision(campus.id) == 1
    # the draft never published stays a draft; rolling "back" to it is refused
    with pytest.raises(InvalidParameter):
        drafts.publish(campus.id, 2, expect_current=1, rollback=True)


def test_a_first_draft_is_published_expecting_none(store: SqlCampusStore,
                                                   campus: Campus) -> None:
    store.save_revision(campus, source="tests", publish=False)
    assert store.list_campuses() == []
    with pytest.raises(CampusNotFound):
        store.current_revision(campus.id)
    with pytest.raises(RevisionConflict, match="expected revision 1"):
        publishing(store).publish(campus.id, 1, expect_current=1)
    publishing(store).publish(campus.id, 1, expect_current=None)
    assert store.current_revision(campus.id) == 1


def _race(pub: Publishing, campus_id: str, numbers: tuple[int, int], expect: int
          ) -> list[Any]:
    """Publish both revisions at once, each expecting ``expect``; each one's outcome."""
    both_checked = threading.Barrier(2, timeout=30)
    pub.before_flip = lambda *_: both_checked.wait()
    outcomes: list[Any] = [None, None]

    def run(i: int) -> None:
        try:
            outcomes[i] = pub.publish(campus_id, numbers[i], expect_current=expect)
        except Exception as exc:  # the outcome is the assertion
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    pub.before_flip = None
    return outcomes


def test_two_editors_publishing_at_once(store: SqlCampusStore, drafts: Publishing,
                                        campus: Campus) -> None:
    outcomes = _race(drafts, campus.id, (2, 3), expect=1)
    conflicts = [o for o in outcomes if isinstance(o, RevisionConflict)]
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(conflicts) == 1 and len(winners) == 1, outcomes
    winner = winners[0].number
    loser = 5 - winner
    message = conflicts[0].user_message
    assert f"cannot publish revision {loser}" in message
    assert f"revision {winner} is" in message and "expected revision 1" in message
    assert store.current_revision(campus.id) == winner
    assert {r.number for r in store.revisions(campus.id) if r.published} == {1, winner}


def test_two_stores_on_one_database(settings: Any, drafts: Publishing, campus: Campus) -> None:
    """Another process's store (another API worker) races the same way."""
    other = SqlCampusStore(settings.resolved_database_url)
    try:
        pub_a, pub_b = drafts, publishing(other)
        ready = threading.Barrier(2, timeout=30)
        pub_a.before_flip = pub_b.before_flip = lambda *_: ready.wait()
        outcomes: list[Any] = [None, None]

        def run(i: int, pub: Publishing, number: int) -> None:
            try:
                outcomes[i] = pub.publish(campus.id, number, expect_current=1)
            except Exception as exc:
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(0, pub_a, 2)),
                   threading.Thread(target=run, args=(1, pub_b, 3))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(type(o).__name__ for o in outcomes) == ["PublishResult",
                                                               "RevisionConflict"]
    finally:
        other.close()


# --- verification ---------------------------------------------------------------------------


def test_verification_records_and_status(store: SqlCampusStore, stored_campus: Campus) -> None:
    pub = publishing(store)
    cid = stored_campus.id
    today = date(2026, 11, 30)
    status = pub.status(cid)
    assert status.latest is None and status.overdue(today)
    assert status.to_dict(today)["line"] == "never verified"

    a = pub.add_verification(cid, verified_on=date(2026, 9, 1), verified_by="J. Roe",
                             organisation="Okemos PD", checklist=["doors", "Knox box"],
                             notes="door 3 sticks", building="A", recorded_by="test",
                             today=today)
    assert a.due_on == date(2027, 9, 1) and a.building_id == "A"
    status = pub.status(cid)
    assert status.unverified_buildings == ("B",) and status.overdue(today)

    whole = pub.add_verification(cid, verified_on=date(2026, 1, 10), verified_by="K. Doe",
                                 organisation="Fire District 2", checklist=["hydrants"],
                                 recorded_by="test", today=today)
    status = pub.status(cid)
    # building B counts from the campus-wide walk in January: the campus is as old as that
    assert status.unverified_buildings == ()
    assert status.latest == whole and not status.overdue(today)
    assert status.overdue(date(2027, 1, 11))
    assert status.to_dict(today)["line"] == "verified on 2026-01-10 by K. Doe (Fire District 2)"
    assert [v.id for v in pub.verifications(cid)] == [a.id, whole.id]


@pytest.mark.parametrize(("change", "message"), [
    ({"verified_by": " "}, "names who walked it"),
    ({"verified_on": date(2027, 1, 1)}, "in the future"),
    ({"due_on": date(2026, 1, 1)}, "not after the walk-through"),
    ({"building": "Z"}, "no building 'Z' \\(its buildings: A, B\\)"),
    ({"checklist": ["x"] * 101}, "at most 100"),
])
def test_bad_verifications_store_nothing(store: SqlCampusStore, stored_campus: Campus,
                                         change: dict[str, Any], message: str) -> None:
    before = stored_bytes(store)
    fields: dict[str, Any] = {"verified_on": date(2026, 6, 1), "verified_by": "J. Roe",
                              "organisation": "Okemos PD", "checklist": ["doors"],
                              "recorded_by": "test", "today": date(2026, 11, 30)}
    with pytest.raises((InvalidParameter, NotFound), match=message):
        publishing(store).add_verification(stored_campus.id, **{**fields, **change})
    with pytest.raises(CampusNotFound):
        publishing(store).add_verification("nowhere", **fields)
    assert stored_bytes(store) == before


def test_campus_file_date_counts_as_a_campus_record(store: SqlCampusStore,
                                                    campus: Campus) -> None:
    dated = dataclasses.replace(campus, meta={"verified_on": "2026-08-14"})
    store.save_revision(dated, source="tests")
    pub = publishing(store)
    status = pub.status(campus.id)
    assert status.latest is not None
    assert status.latest.verified_on == date(2026, 8, 14)
    assert status.to_dict(date(2026, 9, 1))["line"] == "verified on 2026-08-14"
    # a newer walk of building A leaves B counting from the file's date
    pub.add_verification(campus.id, verified_on=date(2026, 11, 1), verified_by="J. Roe",
                         organisation="Okemos PD", checklist=[], building="A",
                         recorded_by="t", today=date(2026, 11, 30))
    status = pub.status(campus.id)
    assert status.unverified_buildings == ()
    assert status.latest is not None and status.latest.verified_on == date(2026, 8, 14)


def test_one_year_after() -> None:
    assert one_year_after(date(2024, 2, 29)) == date(2025, 2, 28)
    assert one_year_after(date(2025, 3, 1)) - date(2025, 3, 1) == timedelta(days=365)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_diff_publish_rollback_verify(store: SqlCampusStore, drafts: Publishing,
                                          campus: Campus, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from api import cli

    geojson = tmp_path / "changes.geojson"
    assert cli.main(["diff", campus.id, "1", "2", "--geojson", str(geojson)]) == 0
    out = capsys.readouterr().out
    assert f"{campus.id}: revision 1 -> 2: 1 renamed" in out
    assert "Room 101 Front Office (Building A, level 0): renamed 'Main Office' -> " \
           "'Front Office'" in out
    assert json.loads(geojson.read_text())["features"][0]["properties"]["changes"] == \
        ["renamed"]

    assert cli.main(["publish", campus.id, "--revision", "2", "--expect-current", "1"]) == 0
    assert f"{campus.id}: published revision 2 (was 1)" in capsys.readouterr().out
    # the other editor, who reviewed revision 3 against 1, is refused and told why
    assert cli.main(["publish", campus.id, "--revision", "3", "--expect-current", "1"]) == 2
    err = capsys.readouterr().err
    assert "expected revision 1 to be current, but revision 2 is" in err
    assert cli.main(["rollback", campus.id, "--to", "1"]) == 0
    assert "rolled back to revision 1 (was 2)" in capsys.readouterr().out
    store.flush_audit()
    actions = [(e.action, e.detail) for e in store.audit_log(campus_id=campus.id)]
    assert ("rollback", "revision 1 (was 2)") in actions
    assert ("publish", "revision 2 (was 1)") in actions
    assert any(a == "publish_refused" and "RevisionConflict" in d for a, d in actions)

    assert cli.main(["verify", campus.id, "--building", "B", "--by", "J. Roe", "--org",
                     "Okemos PD", "--checklist", "door numbers", "Knox box", "--on",
                     "2026-09-01"]) == 0
    out = capsys.readouterr().out
    assert "building B verified on 2026-09-01 by J. Roe (Okemos PD), due 2027-09-01" in out
    assert "never walked: A" in out and "OVERDUE" in out
    (record,) = publishing(store).verifications(campus.id)
    assert record.checklist == ("door numbers", "Knox box")
    assert record.recorded_by.startswith("cli:")


@pytest.mark.parametrize(("argv", "message"), [
    (["publish", "test-campus", "--revision", "9", "--expect-current", "1"], "no revision 9"),
    (["publish", "test-campus", "--revision", "1", "--expect-current", "1"], "already"),
    (["rollback", "test-campus", "--to", "3"], "not an earlier published revision"),
    (["verify", "test-campus", "--by", "x", "--org", "y", "--building", "Q"], "no building"),
    (["publish", "nowhere", "--revision", "1", "--expect-current", "none"], "no campus 'nowhere'"),
])
def test_cli_refusals_change_nothing(store: SqlCampusStore, drafts: Publishing, argv: list[str],
                                     message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from api import cli

    tables = ("campuses", "revisions", "features", "verifications")  # the audit log grows
    before = _rows(store, tables)
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert _rows(store, tables) == before


def _rows(store: SqlCampusStore, tables: tuple[str, ...]) -> list[str]:
    import sqlalchemy

    with store.engine.connect() as conn:
        return sorted(f"{t} {tuple(r)!r}" for t in tables
                      for r in conn.execute(sqlalchemy.text(f'SELECT * FROM "{t}"')))



# --- API ------------------------------------------------------------------------------------


@pytest.fixture
def editor(client: TestClient, admin_token: str, drafts: Publishing, district: Any,
           campus: Campus) -> TestClient:
    """The district's admin (an editor of its campuses), revision 1 published, 2 and 3 drafts."""
    from api.store_identity import identity

    identity(drafts.store).assign_campus(campus.id, district.id)
    client.headers["Authorization"] = f"Bearer {admin_token}"
    return client


def test_api_review_and_publish(editor: TestClient, store: SqlCampusStore,
                                campus: Campus) -> None:
    base = f"/campuses/{campus.id}"
    r = editor.get(f"{base}/revisions/2/diff")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["revision"], body["against"]) == (2, 1)
    assert [c["changes"] for c in body["changes"]] == [["renamed"]]
    assert body["changes"][0]["new"]["name"] == "Front Office"
    assert r.headers["cache-control"].startswith("private")
    geo = editor.get(body["links"]["geojson"])
    assert geo.headers["content-type"] == "application/geo+json"
    assert [f["properties"]["summary"] for f in geo.json()["features"]] == \
        [c["summary"] for c in body["changes"]]
    assert editor.get(f"{base}/revisions/3/diff?against=2").json()["changes"][0]["new"][
        "name"] == "Welcome Desk"

    r = editor.post(f"{base}/revisions/2/publish", json={"expect_current": 1})
    assert r.status_code == 200, r.text
    assert (r.json()["current"], r.json()["previous"]) == (2, 1)
    assert editor.get(base).json()["revision"] == 2
    # the other editor reviewed 3 against 1: refused, naming both
    r = editor.post(f"{base}/revisions/3/publish", json={"expect_current": 1})
    assert r.status_code == 409
    assert r.json()["error"]["type"] == "RevisionConflict"
    assert "expected revision 1 to be current, but revision 2 is" in \
        r.json()["error"]["message"]
    r = editor.post(f"{base}/revisions/1/rollback", json={"expect_current": 2})
    assert r.status_code == 200 and r.json()["current"] == 1
    store.flush_audit()
    actions = [e.action for e in store.audit_log(campus_id=campus.id)]
    assert {"revision_diff", "publish", "publish_refused", "rollback"} <= set(actions)


@pytest.mark.parametrize(("path", "body", "status", "kind"), [
    ("revisions/9/publish", {"expect_current": 1}, 404, "NotFound"),
    ("revisions/1/publish", {"expect_current": 1}, 409, "AlreadyCurrent"),
    ("revisions/2/publish", {"expect_current": 2}, 409, "RevisionConflict"),
    ("revisions/2/publish", {}, 422, "InvalidParameter"),
    ("revisions/2/publish", {"expect_current": 0}, 422, "InvalidParameter"),
    ("revisions/2/publish", {"expect_current": 1, "force": True}, 422, "InvalidParameter"),
    ("revisions/2/rollback", {"expect_current": 1}, 400, "InvalidParameter"),
    ("revisions/0/publish", {"expect_current": 1}, 422, "InvalidParameter"),
])
def test_api_bad_publishes_change_nothing(editor: TestClient, store: SqlCampusStore,
                                          campus: Campus, path: str, body: dict[str, Any],
                                          status: int, kind: str) -> None:
    tables = ("campuses", "revisions", "features", "verifications")
    before = _rows(store, tables)
    r = editor.post(f"/campuses/{campus.id}/{path}", json=body)
    assert (r.status_code, r.json()["error"]["type"]) == (status, kind), r.text
    assert _rows(store, tables) == before


def test_api_unservable_revision_is_refused(editor: TestClient, store: SqlCampusStore,
                                            campus: Campus) -> None:
    from shapely.geometry import Point

    door = campus.openings[0]
    broken = dataclasses.replace(campus, openings=(
        dataclasses.replace(door, geometry=Point(float("nan"), 42.7)), *campus.openings[1:]))
    store.save_revision(broken, source="tests", publish=False)  # revision 4
    r = editor.post(f"/campuses/{campus.id}/revisions/4/publish", json={"expect_current": 1})
    assert (r.status_code, r.json()["error"]["type"]) == (422, "Unservable")
    assert "not a number" in r.json()["error"]["message"]
    assert store.current_revision(campus.id) == 1


def test_api_officers_see_no_drafts(editor: TestClient, viewer_token: str,
                                    campus: Campus) -> None:
    officer = {"Authorization": f"Bearer {viewer_token}"}
    base = f"/campuses/{campus.id}"
    assert editor.get(f"{base}/revisions/2/diff", headers=officer).status_code == 403
    r = editor.post(f"{base}/revisions/2/publish", json={"expect_current": 1}, headers=officer)
    assert r.status_code == 403
    assert editor.get(f"{base}?revision=2", headers=officer).status_code == 404
    revisions = editor.get(f"{base}/revisions", headers=officer).json()["revisions"]
    assert [r["number"] for r in revisions] == [1]


def test_api_verification(editor: TestClient, viewer_token: str, campus: Campus) -> None:
    base = f"/campuses/{campus.id}"
    record = {"verified_on": "2026-09-01", "verified_by": "J. Roe",
              "organisation": "Okemos PD", "checklist": ["door numbers", "Knox box"],
              "notes": "door 3 sticks"}
    r = editor.post(f"{base}/verifications", json=record)
    assert r.status_code == 201, r.text
    assert r.json()["due_on"] == "2027-09-01" and r.json()["building_id"] is None
    assert editor.post(f"{base}/verifications",
                       json={**record, "building": "Q"}).status_code == 404
    assert editor.post(f"{base}/verifications",
                       json={**record, "verified_on": "2999-01-01"}).status_code == 400
    officer = {"Authorization": f"Bearer {viewer_token}"}
    assert editor.post(f"{base}/verifications", json=record,
                       headers=officer).status_code == 403
    listed = editor.get(f"{base}/verifications", headers=officer).json()
    assert listed["status"]["line"] == "verified on 2026-09-01 by J. Roe (Okemos PD)"
    assert [v["notes"] for v in listed["verifications"]] == ["door 3 sticks"]
    overdue = editor.get("/verification/overdue")
    assert overdue.status_code == 200, overdue.text
    expected = date.today() > date(2027, 9, 1)
    assert [c["id"] for c in overdue.json()["campuses"]] == ([campus.id] if expected else [])
    assert editor.get("/verification/overdue", headers=officer).status_code == 403


def test_book_prints_the_latest_walk_through(store: SqlCampusStore, stored_campus: Campus,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """pdftotext finds "Verified on … by …" of the latest record in every page's title band."""
    from api import cli
    from tests.test_book import pdf_text

    pub = publishing(store)
    for day, who in ((date(2026, 3, 2), "A. Early"), (date(2026, 9, 1), "J. Roe")):
        pub.add_verification(stored_campus.id, verified_on=day, verified_by=who,
                             organisation="Okemos PD", checklist=["doors"], recorded_by="t")
    out = tmp_path / "book.pdf"
    assert cli.main(["print", stored_campus.id, "--level", "1", "-o", str(out)]) == 0
    text = pdf_text(out.read_bytes(), tmp_path, 1)
    assert "Verified on 2026-09-01 by J. Roe (Okemos PD)" in " ".join(text.split())


def test_lists_detail_and_map_show_the_walk_through(editor: TestClient, viewer_token: str,
                                                    campus: Campus) -> None:
    officer = {"Authorization": f"Bearer {viewer_token}"}
    (listed,) = editor.get("/campuses", headers=officer).json()["campuses"]
    assert listed["verification"]["line"] == "never verified"
    assert listed["verification"]["overdue"] is True
    walked = date.today() - timedelta(days=400)  # a year and more ago: overdue
    r = editor.post(f"/campuses/{campus.id}/verifications", json={
        "verified_on": walked.isoformat(), "verified_by": "J. Roe", "organisation": "Okemos PD",
        "checklist": ["doors"]})
    assert r.status_code == 201, r.text
    line = f"verified on {walked.isoformat()} by J. Roe (Okemos PD)"
    (listed,) = editor.get("/campuses", headers=officer).json()["campuses"]
    assert (listed["verification"]["line"], listed["verification"]["overdue"]) == (line, True)
    detail = editor.get(f"/campuses/{campus.id}", headers=officer).json()
    assert detail["verification"]["verified_by"] == "J. Roe"
    page = editor.get(f"/campuses/{campus.id}/map", headers=officer).text
    assert f'title="Walk-through overdue: {line}">Overdue: {line}</span>' in page
    overdue = editor.get("/verification/overdue").json()["campuses"]
    assert [(c["id"], c["line"]) for c in overdue] == [(campus.id, line)]
    home = editor.get("/", headers=officer).text
    assert f"(revision 1; <strong>overdue: {line}</strong>)" in home
    editor.post(f"/campuses/{campus.id}/verifications", json={
        "verified_on": date.today().isoformat(), "verified_by": "K. Doe",
        "organisation": "Fire District 2"})
    assert editor.get("/verification/overdue").json()["campuses"] == []
    page = editor.get(f"/campuses/{campus.id}/map", headers=officer).text
    assert 'id="gm-verified"' in page
    assert "Overdue:" not in page and "by K. Doe (Fire District 2)" in page


def test_overdue_campuses_are_flagged_to_partner_agencies(
        editor: TestClient, store: SqlCampusStore, district: Any, campus: Campus) -> None:
    """A police department's admin sees the partner district's overdue campus; an unrelated
    department's admin does not."""
    from api.store_identity import OrgKind, identity

    ident = identity(store)
    police = ident.create_org("Okemos PD", OrgKind.POLICE)
    other = ident.create_org("Elsewhere PD", OrgKind.POLICE)
    ident.grant(district_id=district.id, agency_id=police.id, reference="MOU 1")
    mine, _ = create_token(store, "pd admin", Role.ADMIN, org=police.id)
    theirs, _ = create_token(store, "other admin", Role.ADMIN, org=other.id)
    flagged = editor.get("/verification/overdue",
                         headers={"Authorization": f"Bearer {mine}"}).json()["campuses"]
    assert [(c["id"], c["line"], c["overdue"]) for c in flagged] == \
        [(campus.id, "never verified", True)]
    assert editor.get("/verification/overdue", headers={
        "Authorization": f"Bearer {theirs}"}).json()["campuses"] == []


def test_api_first_draft_of_a_new_campus(client: TestClient, admin_token: str,
                                         store: SqlCampusStore, district: Any,
                                         campus: Campus) -> None:
    """A campus imported as a draft is served to nobody; its diff is everything added; it is
    published expecting no current revision."""
    from api.store_identity import identity

    store.save_revision(campus, source="tests", publish=False)
    identity(store).assign_campus(campus.id, district.id)
    client.headers["Authorization"] = f"Bearer {admin_token}"
    assert client.get("/campuses").json()["campuses"] == []
    assert client.get(f"/campuses/{campus.id}").status_code == 404
    body = client.get(f"/campuses/{campus.id}/revisions/1/diff").json()
    assert body["against"] is None
    assert body["counts"]["added"] == len(body["changes"]) > 0
    assert {c["changes"][0] for c in body["changes"]} == {"added"}
    r = client.post(f"/campuses/{campus.id}/revisions/1/publish", json={"expect_current": 1})
    assert r.status_code == 409 and "no revision is" in r.json()["error"]["message"]
    r = client.post(f"/campuses/{campus.id}/revisions/1/publish", json={"expect_current": None})
    assert r.status_code == 200, r.text
    assert [c["id"] for c in client.get("/campuses").json()["campuses"]] == [campus.id]


def test_the_package_book_prints_the_walk_through(campus: Campus, tmp_path: Path) -> None:
    from tests.test_book import pdf_text
    from tiles.package import package_book

    pdf = package_book(campus, revision=1, imagery=None, verified_on=date(2026, 9, 1),
                       verified_by="J. Roe (Okemos PD)")
    assert pdf is not None
    text = " ".join(pdf_text(pdf, tmp_path, 1).split())
    assert "Verified on 2026-09-01 by J. Roe (Okemos PD)" in text


@pytest.mark.parametrize(("query", "status"), [
    ("revisions/2/diff?against=9", 404), ("revisions/9/diff", 404),
    ("revisions/2/diff?moved_m=-1", 422), ("revisions/2/diff?moved_m=nan", 422),
    ("revisions/2/diff?against=0", 422), ("revisions/2/diff.geojson?against=abc", 422),
])
def test_api_bad_diff_requests(editor: TestClient, campus: Campus, query: str,
                               status: int) -> None:
    r = editor.get(f"/campuses/{campus.id}/{query}")
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


def test_api_moved_threshold(editor: TestClient, store: SqlCampusStore, campus: Campus) -> None:
    """A door nudged 0.3 m is no change by default and a move at moved_m=0.1."""
    from shapely import affinity

    from gridmap.crs import LocalFrame

    frame = LocalFrame(campus.crs)
    door = campus.openings[0]
    nudged = dataclasses.replace(door, geometry=frame.to_wgs84(
        affinity.translate(frame.to_local(door.geometry), 0.3, 0.0)))
    store.save_revision(dataclasses.replace(campus, openings=(nudged, *campus.openings[1:])),
                        source="tests", publish=False)  # revision 4
    base = f"/campuses/{campus.id}/revisions/4/diff"
    assert editor.get(base).json()["changes"] == []
    (change,) = editor.get(f"{base}?moved_m=0.1").json()["changes"]
    assert change["changes"] == ["moved"] and change["moved_m"] == pytest.approx(0.3, abs=0.01)


def test_api_review_page(editor: TestClient, campus: Campus) -> None:
    """The review page lists each change and points its map at the diff's GeoJSON."""
    from markupsafe import escape

    r = editor.get(f"/campuses/{campus.id}/revisions/2/review")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    page = r.text
    summary = editor.get(f"/campuses/{campus.id}/revisions/2/diff").json()["changes"][0][
        "summary"]
    assert f'<li class="rv-changed">{escape(summary)}</li>' in page
    assert f'"geojson_url":"/campuses/{campus.id}/revisions/2/diff.geojson?against=1' in page
    for asset in ("/static/gridmap/review.js", "/static/gridmap/review.css"):
        assert asset in page and editor.get(asset).status_code == 200


def test_review_page_draws_the_changes_in_chromium(tmp_path: Path) -> None:
    """Chromium runs review.js: every feature of the diff's GeoJSON is drawn, in the colours
    of its change (a removed room red, a moved door orange, with its move's line)."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    from gridmap.revision_diff import diff_campuses
    from tests.browser import chromium, need_browser, screenshot, serve, wait_for
    from tests.campus_factory import small_campus
    from tiles.webmap import STATIC_DIR, review_page, vendor_dir

    need_browser()
    old = small_campus()
    markup = '<img id="injected" src="x"> Lab'  # a room name from a drawing, as typed there
    old = dataclasses.replace(old, units=(dataclasses.replace(old.units[0], name=markup),
                                          *old.units[1:]))
    frame_door = old.openings[2]
    from shapely import affinity

    from gridmap.crs import LocalFrame

    frame = LocalFrame(old.crs)
    moved = dataclasses.replace(frame_door, geometry=frame.to_wgs84(
        affinity.translate(frame.to_local(frame_door.geometry), 0.0, 12.0)))
    new = dataclasses.replace(
        old, units=old.units[1:],
        openings=tuple(moved if o.id == frame_door.id else o for o in old.openings))
    diff = diff_campuses(old, new)
    app = FastAPI()

    @app.get("/review")
    def page() -> HTMLResponse:
        return HTMLResponse(review_page(new, diff.to_dict(), revision=2, against=None,
                                        geojson_url="/diff.geojson"))

    @app.get("/diff.geojson")
    def geojson() -> JSONResponse:
        return JSONResponse(diff.to_geojson())

    app.mount("/static/vendor/leaflet", StaticFiles(directory=vendor_dir()), name="leaflet")
    app.mount("/static/gridmap", StaticFiles(directory=STATIC_DIR), name="gridmap")
    with serve(app) as base, chromium(tmp_path / "profile") as drv:
        drv.get(f"{base}/review")
        wait_for(drv, "return document.body.getAttribute('data-drawn') !== null")
        drawn = drv.execute_script("return document.body.getAttribute('data-drawn')")
        assert drawn == str(len(diff.to_geojson()["features"])) == "3"
        items = drv.execute_script(
            "return Array.from(document.querySelectorAll('#rv-list li')).map(l => l.className)")
        assert sorted(items) == ["rv-changed", "rv-removed"]
        # every tooltip opened: the removed room's name shows as text, never as an element
        drv.execute_script("""document.querySelectorAll('#rv-map path.leaflet-interactive')
            .forEach(p => p.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})));""")
        wait_for(drv, "return Array.from(document.querySelectorAll('.leaflet-tooltip'))"
                 ".some(t => t.textContent.includes('<img'))")
        assert drv.execute_script("return document.getElementById('injected') === null")
        px = screenshot(drv, tmp_path, "review")
        drv.save_screenshot(str(tmp_path / "review.png"))
    for colour in ((0xb5, 0x09, 0x09), (0xb3, 0x5c, 0x00)):  # removed red, changed orange
        close = (abs(px[..., :3].astype(int) - colour).sum(axis=-1) < 40)
        assert close[:, 300:].sum() > 20, colour  # on the map, not only in the list
