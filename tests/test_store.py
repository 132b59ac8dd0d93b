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
