"""The SQL store: revisions never overwrite a published map; tokens hashed; audit rows."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import api.store as store_module
from api.store import AuditEntry, Bbox, Role, SqlCampusStore, utcnow
from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import CampusNotFound, NotFound
from gridmap.model import Campus


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlCampusStore]:
    """A SQLite store, for what only the embedded backend promises (WAL, a file on disk)."""
    s = SqlCampusStore(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def _renamed(campus: Campus, name: str) -> Campus:
    return dataclasses.replace(campus, name=name)


def test_save_and_load_round_trip(store: SqlCampusStore, campus: Campus) -> None:
    info = store.save_revision(campus, source="unit test")
    assert info.number == 1
    assert info.published
    n_parts = 1 + sum(len(getattr(campus, f)) for f in (
        "buildings", "levels", "units", "openings", "amenities", "grounds"))
    assert info.feature_count == n_parts
    assert store.campus(campus.id) == campus


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_store: SqlCampusStore) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_second_save_is_revision_two_and_revision_one_stays(
    store: SqlCampusStore, campus: Campus
) -> None:
    store.save_revision(campus, source="first")
    second = store.save_revision(_renamed(campus, "Renamed"), source="second")
    assert second.number == 2
    assert store.current_revision(campus.id) == 2
    assert store.campus(campus.id).name == "Renamed"
    assert store.campus(campus.id, revision=1) == campus
    assert [r.number for r in store.revisions(campus.id)] == [1, 2]
    assert [r.source for r in store.revisions(campus.id)] == ["first", "second"]


def test_failure_mid_save_leaves_previous_revision_current(
    store: SqlCampusStore, campus: Campus, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save_revision(campus, source="good")
    # small batches so some feature rows really are written before the failure
    monkeypatch.setattr(store_module, "FEATURE_BATCH", 3)
    real = store_module._feature_row
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 10:
            raise OSError("disk unplugged")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "_feature_row", failing)
    with pytest.raises(OSError, match="disk unplugged"):
        store.save_revision(_renamed(campus, "Broken"), source="bad")
    assert calls["n"] == 10
    assert store.current_revision(campus.id) == 1
    assert [r.number for r in store.revisions(campus.id)] == [1]
    assert store.campus(campus.id) == campus
    with store.engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM features WHERE revision = 2").scalar()
    assert n == 0
    # and the next good save takes number 2
    monkeypatch.setattr(store_module, "_feature_row", real)
    assert store.save_revision(campus, source="again").number == 2


def test_failure_on_first_save_leaves_no_campus(
    store: SqlCampusStore, campus: Campus, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError("bad feature")

    monkeypatch.setattr(store_module, "_feature_row", failing)
    with pytest.raises(ValueError, match="bad feature"):
        store.save_revision(campus, source="bad")
    assert store.list_campuses() == []
    with pytest.raises(CampusNotFound):
        store.campus(campus.id)


def test_unpublished_revision_is_not_current(store: SqlCampusStore, campus: Campus) -> None:
    store.save_revision(campus, source="first")
    draft = store.save_revision(_renamed(campus, "Draft"), source="draft", publish=False)
    assert draft.number == 2
    assert not draft.published
    assert store.current_revision(campus.id) == 1
    assert store.campus(campus.id, revision=2).name == "Draft"


def test_unknown_campus_and_revision(store: SqlCampusStore, campus: Campus) -> None:
    with pytest.raises(CampusNotFound, match="nowhere"):
        store.campus("nowhere")
    with pytest.raises(CampusNotFound):
        store.revisions("nowhere")
    store.save_revision(campus, source="x")
    with pytest.raises(NotFound, match="no revision 7"):
        store.campus(campus.id, revision=7)


def test_list_campuses_and_campuses_at(store: SqlCampusStore, campus: Campus) -> None:
    store.save_revision(campus, source="x")
    (summary,) = store.list_campuses()
    assert summary.id == campus.id
    assert summary.current_revision == 1
    centre = campus.buildings[0].footprint.centroid
    box = summary.bbox
    assert box == Bbox(*grid.lonlat_bounds(campus.grid, LocalFrame(campus.crs)))
    assert box.min_lon < centre.x < box.max_lon
    assert box.min_lat < centre.y < box.max_lat
    assert store.campuses_at(centre.x, centre.y) == [campus.id]
    assert store.campuses_at(0.0, 0.0) == []


def test_tokens_by_hash_expiry_and_revocation(store: SqlCampusStore) -> None:
    now = utcnow()
    rec = store.add_token(token_id="t1", name="dispatch", role=Role.VIEWER, token_hash="ab" * 32,
                          expires_at=now + timedelta(days=1), campuses=["c1"])
    found = store.token_by_hash("ab" * 32)
    assert found == rec
    assert found.active(now)
    assert not found.active(now + timedelta(days=2))
    assert found.campuses == ("c1",)
    assert store.token_by_hash("cd" * 32) is None
    assert store.revoke_tokens(name="dispatch") == 1
    revoked = store.token_by_hash("ab" * 32)
    assert revoked is not None
    assert not revoked.active(now)
    assert store.revoke_tokens(name="dispatch") == 0


def test_audit_log_newest_first(store: SqlCampusStore) -> None:
    store.audit(AuditEntry(utcnow(), "lookup", "t1", "dispatch", "c1", "q=room 214", "1.2.3.4"))
    store.audit(AuditEntry(utcnow(), "campus", "t1", "dispatch", "c2"))
    log = store.audit_log()
    assert [e.action for e in log] == ["campus", "lookup"]
    assert [e.action for e in store.audit_log(campus_id="c1")] == ["lookup"]
    assert log[1].detail == "q=room 214"


def test_data_survives_reopening(tmp_path: Path, campus: Campus) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'g.db'}"
    first = SqlCampusStore(url)
    first.save_revision(campus, source="x")
    first.close()
    second = SqlCampusStore(url)
    assert second.campus(campus.id) == campus
    second.close()
    assert sqlite3.connect(tmp_path / "nested" / "dir" / "g.db").execute(
        "select count(*) from revisions").fetchone() == (1,)


def test_sessions_hashed_with_their_token_and_revocable(store: SqlCampusStore) -> None:
    now = utcnow()
    token = store.add_token(token_id="t1", name="dispatch", role=Role.VIEWER,
                            token_hash="ab" * 32, expires_at=None)
    rec = store.add_session(session_hash="cd" * 32, token_id="t1",
                            expires_at=now + timedelta(hours=1))
    found = store.session_by_hash("cd" * 32)
    assert found == rec
    assert found.token == token
    assert found.active(now)
    assert not found.active(now + timedelta(hours=2))
    assert store.session_by_hash("ef" * 32) is None
    assert store.revoke_session("cd" * 32)
    assert not store.revoke_session("cd" * 32)
    ended = store.session_by_hash("cd" * 32)
    assert ended is not None and ended.revoked_at is not None and not ended.active(now)
    # a revoked token takes its live sessions with it
    store.add_session(session_hash="12" * 32, token_id="t1", expires_at=now + timedelta(hours=1))
    store.revoke_tokens(token_id="t1")
    live = store.session_by_hash("12" * 32)
    assert live is not None and live.revoked_at is None and not live.active(now)
    with pytest.raises(NotFound):
        store.add_session(session_hash="34" * 32, token_id="nope", expires_at=now)


def test_expired_sessions_are_dropped_on_the_next_login(store: SqlCampusStore) -> None:
    store.add_token(token_id="t1", name="x", role=Role.VIEWER, token_hash="ab" * 32,
                    expires_at=None)
    store.add_session(session_hash="cd" * 32, token_id="t1",
                      expires_at=utcnow() - timedelta(seconds=1))
    store.add_session(session_hash="ef" * 32, token_id="t1",
                      expires_at=utcnow() + timedelta(hours=1))
    assert store.session_by_hash("cd" * 32) is None
    assert store.session_by_hash("ef" * 32) is not None


# --- files readable by their owner only -------------------------------------------------------


def test_sqlite_file_and_data_dir_are_private(tmp_path: Path, campus: Campus) -> None:
    import stat

    folder = tmp_path / "fresh" / "var"
    s = SqlCampusStore(f"sqlite:///{folder / 'gridmap.db'}")
    s.save_revision(campus, source="tests")
    s.audit(AuditEntry(ts=utcnow(), action="x"))
    s.flush_audit()
    try:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        files = sorted(folder.iterdir())
        assert {p.name for p in files} >= {"gridmap.db", "gridmap.db-wal"}
        for path in files:  # the database and SQLite's -wal and -shm beside it
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    finally:
        s.close()


def test_an_existing_audit_table_gains_the_count_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:  # the audit table as stores before counts had it
        con.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, ts DATETIME, "
                    "token_id VARCHAR(40), token_name VARCHAR(200), action VARCHAR(50), "
                    "campus_id VARCHAR(100), detail TEXT, client VARCHAR(200))")
        con.execute("INSERT INTO audit_log (ts, action, detail, client) "
                    "VALUES ('2026-01-01 00:00:00.000000', 'lookup', 'old', '')")
    s = SqlCampusStore(f"sqlite:///{path}")
    try:
        s.audit(AuditEntry(ts=utcnow(), action="new", count=3))
        assert [(e.action, e.count) for e in s.audit_log()] == [("new", 3), ("lookup", 1)]
    finally:
        s.close()


# --- audit batching and coalescing ------------------------------------------------------------


def test_audit_log_can_be_limited_to_campuses(store: SqlCampusStore) -> None:
    for campus_id in ("a", "b", None):
        store.audit(AuditEntry(ts=utcnow(), action="x", campus_id=campus_id))
    assert [e.campus_id for e in store.audit_log(campuses=["a"])] == ["a"]
    assert len(store.audit_log()) == 3
    assert store.audit_log(campuses=[]) == []


def _writer(written: list[AuditEntry], **options: Any) -> Any:
    from api.audit import AuditWriter

    return AuditWriter(lambda batch: written.extend(batch), **options)


def test_refusals_are_coalesced_per_source_and_minute() -> None:
    from datetime import UTC, datetime

    clock = [datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)]
    written: list[AuditEntry] = []
    writer = _writer(written, flush_interval_s=60.0, now=lambda: clock[0])

    def refuse(client: str, second: int, minute: int = 0) -> None:
        ts = datetime(2026, 3, 1, 10, minute, second, tzinfo=UTC)
        writer.add_coalesced(AuditEntry(ts=ts, action="denied", detail="bad token",
                                        client=client), ("denied", client, "bad token"))

    for second in range(5, 55):
        refuse("10.0.0.1", second)
    refuse("10.0.0.2", 30)
    writer.flush()
    # the first of each source at once, then the rest of 10.0.0.1 as one counted row
    assert [(e.client, e.count) for e in written] == [("10.0.0.1", 1), ("10.0.0.2", 1),
                                                      ("10.0.0.1", 49)]
    assert "repeated 49 more times in the minute from 10:00 UTC" in written[-1].detail
    # more in the same minute: counted again, not a new "first"
    refuse("10.0.0.1", 56)
    clock[0] = datetime(2026, 3, 1, 10, 1, 1, tzinfo=UTC)
    refuse("10.0.0.1", 2, minute=1)  # a new minute: a new first row
    writer.flush()
    assert [(e.client, e.count, e.ts.minute) for e in written[3:]] == [
        ("10.0.0.1", 1, 1), ("10.0.0.1", 1, 0)]
    writer.close()


def test_coalescing_is_bounded_in_sources() -> None:
    from datetime import UTC, datetime

    written: list[AuditEntry] = []
    writer = _writer(written, coalesce_max_keys=3, batch_max=10_000)
    ts = datetime.now(UTC)
    for n in range(1000):
        writer.add_coalesced(AuditEntry(ts=ts, action="denied", client=f"10.0.{n}"), n)
    writer.flush()
    assert len(written) <= 3 + 2
    assert sum(e.count for e in written) == 1000
    assert written[-1].client == "*"
    writer.close()


def test_unwritten_audit_entries_never_exceed_one_batch() -> None:
    """A writer that cannot write (the store is down) stops the service from answering rather
    than from auditing: past ``batch_max`` unwritten entries, adding one fails."""
    import threading

    from api.audit import AuditUnavailable, AuditWriter

    release = threading.Event()
    written: list[AuditEntry] = []

    def stuck(batch: Any) -> None:
        release.wait()
        written.extend(batch)

    writer = AuditWriter(stuck, batch_max=3, flush_interval_s=0.01, wait_s=0.3)
    for n in range(3):
        writer.add(AuditEntry(ts=utcnow(), action=f"a{n}"))
    with pytest.raises(AuditUnavailable):
        writer.add(AuditEntry(ts=utcnow(), action="one too many"))
    assert writer.unwritten() == 3
    release.set()
    writer.close()
    assert [e.action for e in written] == ["a0", "a1", "a2"]


def test_a_failed_audit_write_is_retried_not_lost() -> None:
    from api.audit import AuditWriter

    written: list[AuditEntry] = []
    failures = [1]

    def flaky(batch: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OSError("database went away")
        written.extend(batch)

    writer = AuditWriter(flaky, flush_interval_s=60.0)
    writer.add(AuditEntry(ts=utcnow(), action="kept"))
    with pytest.raises(OSError, match="went away"):
        writer.flush()
    writer.flush()
    assert [e.action for e in written] == ["kept"]
    writer.close()
