"""The audit log for admins: complete (who, organisation, credential, outcome), scoped to the
admin's own organisation's data, exported as CSV and JSON, and free of every secret.

Every test runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import audit_log, share
from api.auth import create_token
from api.store import AuditEntry, Role, SqlCampusStore
from api.store_identity import Organisation, OrgKind, identity
from gridmap.model import Campus
from tests.conftest import stored_bytes

ORIGIN = {"Origin": "http://127.0.0.1"}


@dataclass
class County:
    """A district owning the test campus, a police department it partners with, a fire
    district it does not; an admin and an officer token for each."""

    district: Organisation
    police: Organisation
    fire: Organisation
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def county(store: SqlCampusStore, district: Organisation, stored_campus: Campus) -> County:
    ident = identity(store)
    police = ident.create_org("Metro police", OrgKind.POLICE)
    fire = ident.create_org("Fire district 2", OrgKind.FIRE)
    ident.grant(district_id=district.id, agency_id=police.id, created_by="tests",
                reference="MOU 2026-14")
    tokens = {}
    for org, key in ((district, "district"), (police, "police"), (fire, "fire")):
        tokens[f"{key} admin"], _ = create_token(store, f"{key} admin", Role.ADMIN, org=org.id)
        tokens[f"{key} officer"], _ = create_token(store, f"{key} officer", Role.OFFICER,
                                                   org=org.id)
    return County(district, police, fire, tokens)


def _entries(client: TestClient, county: County, who: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/audit", params={"limit": 1000, **params}, headers=county.as_(who))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["entries"])


def test_a_district_admin_sees_which_agency_looked_at_its_campus(
        client: TestClient, county: County, stored_campus: Campus) -> None:
    cid = stored_campus.id
    assert client.get(f"/campuses/{cid}/lookup?q=101",
                      headers=county.as_("police officer")).status_code == 200
    assert client.get(f"/campuses/{cid}", headers=county.as_("district officer")).status_code \
        == 200
    entries = _entries(client, county, "district admin", campus=cid, action="lookup")
    assert len(entries) == 1
    (read,) = entries
    assert read["org_id"] == county.police.id and read["org_name"] == "Metro police"
    assert read["credential_kind"] == "token" and read["credential_id"].startswith("tok_")
    assert read["outcome"] == "ok" and read["client"] and read["ts"]
    assert read["detail"].startswith("q='101'")
    by_police = _entries(client, county, "district admin", org=county.police.id)
    assert {e["action"] for e in by_police} == {"lookup"}
    own = _entries(client, county, "district admin", org=county.district.id)
    assert "campus" in {e["action"] for e in own}


def test_an_agency_admin_sees_its_own_people_only(
        client: TestClient, county: County, stored_campus: Campus) -> None:
    cid = stored_campus.id
    client.get(f"/campuses/{cid}/lookup?q=101", headers=county.as_("police officer"))
    client.get(f"/campuses/{cid}/lookup?q=102", headers=county.as_("district officer"))
    client.get(f"/campuses/{cid}", headers=county.as_("fire officer"))  # 404, audited
    police_view = _entries(client, county, "police admin")
    assert police_view and {e["org_id"] for e in police_view} == {county.police.id}
    assert any(e["action"] == "lookup" and e["campus"] == cid for e in police_view)
    fire_view = _entries(client, county, "fire admin")
    assert {e["org_id"] for e in fire_view} <= {county.fire.id}
    assert all(e["campus"] is None or e["outcome"] == "refused" for e in fire_view)
    # a district's campus log is the district's: an agency asking for it is refused
    refused = client.get("/audit", params={"campus": cid}, headers=county.as_("police admin"))
    assert refused.status_code == 403
    district_view = _entries(client, county, "district admin")
    assert {county.district.id, county.police.id} <= {e["org_id"] for e in district_view}
    # the fire district's try at the campus is the district's to know: refused, 404
    tried = [e for e in district_view if e["org_id"] == county.fire.id]
    assert tried and all(e["outcome"] == "refused" and e["status"] == 404 for e in tried)


def test_officers_and_share_links_read_no_audit_log(client: TestClient, county: County) -> None:
    assert client.get("/audit", headers=county.as_("district officer")).status_code == 403
    assert client.get("/audit/export", headers=county.as_("police officer")).status_code == 403
    assert client.get("/audit").status_code == 401


def test_share_link_uses_show_in_the_issuers_and_the_districts_logs(
        client: TestClient, county: County, stored_campus: Campus) -> None:
    cid = stored_campus.id
    issued = client.post(f"/campuses/{cid}/share", json={"hours": 1, "recipient": "County FD"},
                         headers=county.as_("police admin"))
    assert issued.status_code == 201, issued.text
    link = issued.json()
    client.get(f"/campuses/{cid}/lookup?q=101",
               headers={"Authorization": f"Bearer {link['secret']}"})
    for who in ("police admin", "district admin"):
        uses = _entries(client, county, who, credential=link["id"])
        assert [e["action"] for e in uses] == ["lookup"], who
        assert uses[0]["credential_kind"] == "share"
    assert _entries(client, county, "fire admin", credential=link["id"]) == []


def test_refusals_with_bad_and_revoked_tokens_are_audited(
        client: TestClient, store: SqlCampusStore, county: County,
        stored_campus: Campus) -> None:
    bogus = "gm_" + "A" * 43
    assert client.get("/campuses", headers={"Authorization": f"Bearer {bogus}"}
                      ).status_code == 401
    token, record = create_token(store, "soon revoked", Role.OFFICER, org=county.police.id)
    assert client.get("/campuses", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200
    store.revoke_tokens(token_id=record.id)
    refused = client.get("/campuses", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    log = audit_log.query(store, None, audit_log.AuditFilter(outcome="refused", limit=100))
    unknown = [e for e in log if e.status == 401 and e.credential_id is None]
    assert unknown and unknown[0].credential_kind == "token"
    revoked = [e for e in log if e.credential_id == record.id]
    assert revoked and revoked[0].status == 401 and revoked[0].org_id == county.police.id
    assert "revoked" in revoked[0].detail
    # the police admin sees its revoked token's refusal
    police_view = _entries(client, county, "police admin", outcome="refused")
    assert record.id in {e["credential_id"] for e in police_view}


def test_time_range_filters(client: TestClient, store: SqlCampusStore, county: County,
                            stored_campus: Campus) -> None:
    old = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    store.audit(AuditEntry(ts=old, action="lookup", campus_id=stored_campus.id,
                           org_id=county.police.id, credential_kind="token",
                           detail="q='gym' -> found"))
    client.get(f"/campuses/{stored_campus.id}/lookup?q=101", headers=county.as_("police officer"))
    january = _entries(client, county, "district admin", since="2026-01-01",
                       until="2026-02-01T00:00Z")
    assert [e["detail"] for e in january] == ["q='gym' -> found"]
    after = _entries(client, county, "district admin", action="lookup",
                     since=(old + timedelta(days=1)).isoformat())
    assert after and "gym" not in {e["detail"] for e in after}
    bad = client.get("/audit", params={"since": "yesterday"}, headers=county.as_("district admin"))
    assert bad.status_code == 400 and "ISO 8601" in bad.text


def test_exports_as_csv_and_json_with_formulas_neutralised(
        client: TestClient, store: SqlCampusStore, county: County,
        stored_campus: Campus) -> None:
    formula = "=HYPERLINK(\"http://evil.example\",\"x\")"
    token, _ = create_token(store, formula, Role.OFFICER, org=county.police.id)
    client.get(f"/campuses/{stored_campus.id}/lookup?q=-2%2B3",
               headers={"Authorization": f"Bearer {token}"})
    answer = client.get("/audit/export", params={"format": "csv"},
                        headers=county.as_("district admin"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0]) == list(audit_log.COLUMNS)
    named = [r for r in rows if r["token_name"].lstrip("'") == formula]
    assert named and all(r["token_name"] == "'" + formula for r in named)
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())
    as_json = client.get("/audit/export", params={"format": "json"},
                         headers=county.as_("district admin"))
    entries = json.loads(as_json.text)["entries"]
    assert formula in {e["token_name"] for e in entries}  # JSON is for programs: unchanged
    assert len(entries) >= len(rows)  # the export itself is audited after it is read


def test_no_secret_ever_reaches_the_audit_log(
        client: TestClient, store: SqlCampusStore, county: County,
        stored_campus: Campus) -> None:
    """Tokens, share secrets, session ids and passwords sent in headers, query strings and
    bodies, accepted or refused: none of them, nor their hashes, is in any audit row."""
    cid = stored_campus.id
    admin = county.tokens["district admin"]
    secret, _ = share.shares(store).create(campus_id=cid, hours=1, org_id=county.district.id,
                                           created_by="tests")
    password = "correct horse battery staple 9f3b"
    revoked_token, record = create_token(store, "revoked", Role.OFFICER, org=county.police.id)
    store.revoke_tokens(token_id=record.id)
    # sign in through the form: a session id in a cookie
    signed_in = client.post("/login", data={"token": admin, "next": "/"}, headers=ORIGIN,
                            follow_redirects=False)
    assert signed_in.status_code == 303
    session_id = client.cookies.get("gridmap_session")
    assert session_id
    client.get(f"/campuses/{cid}/lookup", params={"q": "101"})
    client.cookies.clear()
    opened = client.post("/share/open", data={"secret": secret}, headers=ORIGIN)
    share_session = client.cookies.get("gridmap_session")
    assert opened.status_code == 200 and share_session
    client.get(f"/campuses/{cid}/lookup", params={"q": f"password={password}"})
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {admin}"}
    for q in (admin, secret, session_id, f"token={admin}", f"secret={password}"):
        client.get(f"/campuses/{cid}/lookup", params={"q": q}, headers=bearer)
    client.get(f"/campuses/{cid}/lookup", params={"q": f"password: {password}"}, headers=bearer)
    client.get(f"/campuses/{cid}/lookup", params={"q": f"Bearer {admin}"}, headers=bearer)
    client.get(f"/campuses/{cid}?password={password}", headers=bearer)
    client.get(f"/campuses/{cid}", headers={"Authorization": f"Bearer {revoked_token}"})
    client.get(f"/campuses/{cid}", headers={"Authorization": f"Bearer {secret}x"})
    client.get(f"/campuses/{cid}", headers={"Authorization": f"Basic {password}"})
    client.cookies.set("gridmap_session", session_id + "x")
    client.get(f"/campuses/{cid}")
    client.cookies.clear()
    client.post("/login", data={"token": revoked_token, "next": f"/?password={password}"},
                headers=ORIGIN)
    client.post("/share/open", data={"secret": secret[:-2]}, headers=ORIGIN)
    client.post(f"/campuses/{cid}/package.zip", json={"passphrase": password},
                headers=county.as_("fire officer"))  # a campus it may not see: 404, audited
    client.get("/audit/export", params={"format": "csv"}, headers=bearer)
    store.flush_audit()
    import sqlalchemy

    with store.engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT * FROM audit_log")).fetchall()
    dump = "\n".join(repr(tuple(r)) for r in rows)
    assert len(rows) > 15
    assert "[redacted]" in dump  # the lookups' queries were logged, their secrets taken out
    for value in (admin, secret, session_id, share_session, revoked_token, password):
        assert value not in dump, value[:6]
        assert share.hash_secret(value) not in dump
        assert value[4:24] not in dump  # not even a part of one
    assert secret.encode() not in stored_bytes(store)  # nor anywhere else in the store


def test_the_log_is_append_only_in_the_database(store: SqlCampusStore) -> None:
    """Whatever holds a connection: rows are added, never changed or removed."""
    import sqlalchemy
    from sqlalchemy.exc import DBAPIError

    store.audit(AuditEntry(ts=datetime.now(UTC), action="lookup", detail="q='gym' -> found"))
    store.flush_audit()
    for statement in ("UPDATE audit_log SET detail = 'nothing happened'",
                      "DELETE FROM audit_log",
                      *(["TRUNCATE audit_log"] if store.engine.dialect.name == "postgresql"
                        else [])):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sqlalchemy.text(statement))
    with store.engine.connect() as conn:
        details = conn.execute(sqlalchemy.text("SELECT detail FROM audit_log")).scalars().all()
    assert details == ["q='gym' -> found"]
