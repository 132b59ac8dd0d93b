"""The store's schema comes from Alembic migrations (``api/migrations``), on both backends.

Migrating an empty database must give exactly the tables declared in code (Alembic's own
``compare_metadata`` finds no difference); a database made by the previous release, holding a
campus, a token, a session and audit rows, upgrades keeping every one of them; upgrading again
changes nothing; and stores opening one new database at the same moment both work.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, exc, inspect, text

import api.migrations as migrations
import api.store as store_module
from api import postgis
from api.settings import Settings
from api.store import AuditEntry, Role, SqlCampusStore, utcnow
from gridmap.errors import StoreSchemaTooNew
from gridmap.model import Campus
from tests.concurrent_open import open_and_add_token
from tests.conftest import stored_bytes
from tests.earlier_rows import write_published_campus


@pytest.fixture
def url(settings: Settings) -> str:
    """A fresh, empty database: a SQLite file or a PostgreSQL schema of its own."""
    return settings.resolved_database_url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    e = store_module._engine(url, echo=False)
    yield e
    e.dispose()


#: PostGIS's geometry columns and their indexes: on PostgreSQL with PostGIS only, not in code
_POSTGIS_ONLY = {name for _, column, index in postgis.GEOMETRY_COLUMNS
                 for name in (column, index)}


def _declared(obj: Any, name: str | None, type_: str, reflected: bool, _: Any) -> bool:
    return not (reflected and type_ in {"column", "index"} and name in _POSTGIS_ONLY)


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_object": _declared})
    with warnings.catch_warnings():  # SQLAlchemy knows no 'geometry' type; it is left out
        warnings.filterwarnings("ignore", "Did not recognize type '.*geometry'", exc.SAWarning)
        return list(compare_metadata(context, migrations.schema_metadata()))


def _at(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return migrations.current(conn)


def test_history_is_one_line_from_the_previous_release() -> None:
    scripts = ScriptDirectory(str(migrations.SCRIPT_LOCATION))
    chain = [s.revision for s in scripts.walk_revisions()]  # head first
    assert chain[-1] == "0001"
    assert migrations.head() == chain[0]
    files = {p.stem.split("_", 1)[0] for p in (migrations.SCRIPT_LOCATION / "versions").glob(
        "[0-9]*.py")}
    assert set(chain) == files  # every file is on the line, none beside it
    assert migrations.newest_file_revision() == chain[0]  # the quick check on open agrees


def test_opening_a_store_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    """A command's start-up pays for Alembic only when there is something to migrate."""
    url = f"sqlite:///{tmp_path / 'gridmap.db'}"
    SqlCampusStore(url).close()
    probe = ("import sys; from api.store import SqlCampusStore; "
             f"SqlCampusStore({url!r}).close(); print(sorted(m for m in sys.modules "
             "if m.split('.')[0] == 'alembic'))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parents[1])
    assert found.stdout.strip() == "[]"


def test_empty_database_migrates_to_the_schema_declared_in_code(url: str, engine: Engine) -> None:
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    SqlCampusStore(url).close()
    assert _at(engine) == migrations.head()
    with engine.connect() as conn:
        assert _differences(conn) == []
        tables = set(inspect(conn).get_table_names())
    assert tables == set(migrations.schema_metadata().tables) | {"alembic_version"}


def test_create_all_and_migrations_agree_both_ways(url: str, engine: Engine) -> None:
    """The comparison is not blind: a table missing from the database is a difference."""
    SqlCampusStore(url).close()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE imagery"))
        assert [d[0] for d in _differences(conn)] == ["add_table"]


def _previous_release_database(engine: Engine, campus: Campus, *, audit_count: bool) -> None:
    """What the previous release left: its tables (revision 0001), no ``alembic_version``,
    a published campus, a token with a session, and audit rows, written in plain SQL."""
    with engine.begin() as conn:
        migrations.upgrade_connection(conn, "0001")
        conn.execute(text("DROP TABLE alembic_version"))
        if not audit_count:  # the release before it had no count column
            conn.execute(text("ALTER TABLE audit_log DROP COLUMN count"))
    now = utcnow()
    with engine.begin() as conn:
        write_published_campus(conn, campus, source="previous release")
        conn.execute(text(
            "INSERT INTO tokens (id, name, role, token_hash, created_at, expires_at, revoked_at, "
            "campuses) VALUES ('tok_old', 'cad', 'viewer', :h, :now, NULL, NULL, NULL)"),
            {"h": "ab" * 32, "now": now})
        conn.execute(text(
            "INSERT INTO sessions (session_hash, token_id, created_at, expires_at, revoked_at) "
            "VALUES (:h, 'tok_old', :now, :later, NULL)"),
            {"h": "cd" * 32, "now": now, "later": now + timedelta(hours=8)})
        columns = "ts, token_id, token_name, action, campus_id, detail, client"
        for i in range(3):
            conn.execute(text(
                f"INSERT INTO audit_log ({columns}) VALUES "
                f"(:ts, 'tok_old', 'cad', 'lookup', :c, :d, '10.0.0.1')"),
                {"ts": now + timedelta(seconds=i), "c": campus.id, "d": f"q=room {i}"})


@pytest.mark.parametrize("audit_count", [True, False], ids=["previous", "before-counts"])
def test_previous_release_database_upgrades_keeping_its_data(
    url: str, engine: Engine, campus: Campus, audit_count: bool
) -> None:
    _previous_release_database(engine, campus, audit_count=audit_count)
    assert _at(engine) is None
    store = SqlCampusStore(url)
    try:
        assert _at(engine) == migrations.head()
        assert store.campus(campus.id) == campus
        assert store.current_revision(campus.id) == 1
        assert [c.id for c in store.list_campuses()] == [campus.id]
        token = store.token_by_hash("ab" * 32)
        assert token is not None and token.name == "cad" and token.role is Role.VIEWER
        session = store.session_by_hash("cd" * 32)
        assert session is not None and session.token == token
        log = store.audit_log(campus_id=campus.id)
        assert [(e.detail, e.count, e.client) for e in log] == [
            (f"q=room {i}", 1, "10.0.0.1") for i in (2, 1, 0)]
        # and it works as a store of this release: a new revision, a new audit row
        assert store.save_revision(campus, source="after upgrade").number == 2
        store.audit(AuditEntry(utcnow(), "lookup", campus_id=campus.id, count=4))
        assert store.audit_log(campus_id=campus.id, limit=1)[0].count == 4
    finally:
        store.close()
    with engine.connect() as conn:
        assert _differences(conn) == []


def test_upgrading_again_changes_nothing(
    url: str, engine: Engine, campus: Campus
) -> None:
    store = SqlCampusStore(url)
    store.save_revision(campus, source="tests")
    store.add_token(token_id="t1", name="x", role=Role.ADMIN, token_hash="ef" * 32,
                    expires_at=None)
    before = stored_bytes(store)
    store.close()
    migrations.upgrade_to_head(engine)
    again = SqlCampusStore(url)
    try:
        assert stored_bytes(again) == before
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
                (migrations.head(),)]
    finally:
        again.close()


def test_a_database_from_a_newer_gridmap_is_refused_untouched(url: str, engine: Engine) -> None:
    """A rolled-back gridmap meets a schema it does not know: a clear error, nothing changed."""
    SqlCampusStore(url).close()
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        tables = sorted(inspect(conn).get_table_names())
    with pytest.raises(StoreSchemaTooNew, match="9999") as refused:
        SqlCampusStore(url)
    assert "newer gridmap" in refused.value.user_message
    assert migrations.head() in refused.value.user_message
    assert _at(engine) == "9999"
    with engine.connect() as conn:
        assert sorted(inspect(conn).get_table_names()) == tables


def _open_new_file_and_write(path: Path, barrier: threading.Barrier, modes: list[str],
                             errors: list[BaseException]) -> None:
    try:
        barrier.wait(timeout=30)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            store_module._sqlite_pragmas(conn, None)
            modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            conn.execute("COMMIT")
        finally:
            conn.close()
    except BaseException as err:  # reported in the test's thread
        errors.append(err)


def test_connections_opening_new_sqlite_files_at_once_all_switch_them_to_wal(
        tmp_path: Path) -> None:
    """SQLite refuses a connection switching the journal mode while another is switching it
    "database is locked", without waiting. Each round, four connections open one new file
    at once (with the store's connection set-up) and write; every one must succeed. Before
    the fix one round in seven failed; in CI, stores opening one new database at once did."""
    for round_ in range(50):
        path = tmp_path / f"r{round_}.db"
        path.touch()
        barrier = threading.Barrier(4)
        modes: list[str] = []
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_open_new_file_and_write,
                                    args=(path, barrier, modes, errors)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == [], f"round {round_}"
        assert modes == ["wal"] * 4


def test_stores_opening_one_new_database_at_once_both_work(url: str, engine: Engine) -> None:
    """Threads of one process, each with its own store (and engine) on the same database."""
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def open_and_write(name: str) -> None:
        try:
            barrier.wait(timeout=30)
            s = SqlCampusStore(url)
            try:
                s.add_token(token_id=name, name=name, role=Role.VIEWER,
                            token_hash=name.encode().hex().ljust(64, "0"), expires_at=None)
            finally:
                s.close()
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=open_and_write, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert _at(engine) == migrations.head()
    with engine.connect() as conn:
        assert sorted(r[0] for r in conn.execute(text("SELECT id FROM tokens"))) == [
            "w0", "w1", "w2"]


def test_two_processes_opening_one_new_sqlite_file_at_once_both_work(tmp_path: Path) -> None:
    path = tmp_path / "var" / "gridmap.db"
    url = f"sqlite:///{path}"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=open_and_add_token, args=(url, f"p{i}", barrier))
               for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    engine = store_module._engine(url, echo=False)
    try:
        assert _at(engine) == migrations.head()
        with engine.connect() as conn:
            assert sorted(r[0] for r in conn.execute(text("SELECT id FROM tokens"))) == [
                "p0", "p1"]
            assert _differences(conn) == []
    finally:
        engine.dispose()


def test_a_failing_migration_leaves_the_database_as_it_was(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All of an upgrade is one transaction: a failure in 0002 undoes what 0001 made."""
    from alembic.operations import Operations

    real = Operations.create_table
    made: list[str] = []

    def failing(self: Operations, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "imagery":
            raise OSError("disk unplugged")
        made.append(name)
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(Operations, "create_table", failing)
    with pytest.raises(OSError, match="disk unplugged"):
        migrations.upgrade_to_head(engine)
    assert "campuses" in made  # 0001 really ran before the failure
    assert _at(engine) is None
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
