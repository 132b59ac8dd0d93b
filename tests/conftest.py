"""Shared fixtures: the code-built test campus, and a fresh store, app and tokens per test.

Every test that uses a store runs twice: on SQLite (the embedded default, a fresh file per
test) and on PostgreSQL (the scale-out backend, a fresh schema per test in the database named
by ``GRIDMAP_TEST_POSTGRES_URL``, which CI starts; skipped with that reason elsewhere).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation, OrgKind, identity
from gridmap.model import Campus
from tests.campus_factory import small_campus


@pytest.fixture
def campus() -> Campus:
    """The shared two-building campus from :mod:`tests.campus_factory`."""
    return small_campus()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data dir per test, also exported as GRIDMAP_DATA_DIR for code reading env."""
    path = tmp_path / "var"
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(path))
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                 data_dir: Path) -> Iterator[str | None]:
    """None for SQLite (the default file under the data dir), else a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield None
        return
    server = os.environ.get("GRIDMAP_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("GRIDMAP_TEST_POSTGRES_URL is not set (CI starts PostgreSQL + PostGIS)")
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(server)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server else "?"
    url = f"{server}{separator}options={quote(f'-csearch_path={schema}')}"
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)  # for code that reads the environment
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def settings(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url)


def stored_bytes(store: SqlCampusStore) -> bytes:
    """Everything the store holds, as bytes: every row of every table, whatever the backend."""
    import sqlalchemy

    chunks: list[bytes] = []
    with store.engine.connect() as conn:
        for table in sqlalchemy.inspect(conn).get_table_names():
            for row in conn.execute(sqlalchemy.text(f'SELECT * FROM "{table}"')):
                chunks.append(repr(tuple(row)).encode())
    return b"\n".join(chunks)


@pytest.fixture
def store(settings: Settings) -> Iterator[SqlCampusStore]:
    s = SqlCampusStore(settings.resolved_database_url)
    yield s
    s.close()


@pytest.fixture
def district(store: SqlCampusStore) -> Organisation:
    """The district that owns the test campus (and whose integrations hold the test tokens)."""
    return identity(store).create_org("Test district", OrgKind.DISTRICT)


@pytest.fixture
def stored_campus(store: SqlCampusStore, campus: Campus, district: Organisation) -> Campus:
    """The test campus saved as revision 1, owned by :func:`district`."""
    store.save_revision(campus, source="tests")
    identity(store).assign_campus(campus.id, district.id)
    return campus


@pytest.fixture
def admin_token(store: SqlCampusStore, district: Organisation) -> str:
    """A token of an integration of the test district with the admin role."""
    token, _ = create_token(store, "test admin", Role.ADMIN, org=district.id)
    return token


@pytest.fixture
def viewer_token(store: SqlCampusStore, district: Organisation) -> str:
    """A token of an integration of the test district with the officer role (read only)."""
    token, _ = create_token(store, "test viewer", Role.OFFICER, org=district.id)
    return token


@pytest.fixture
def client(settings: Settings, store: SqlCampusStore) -> Iterator[TestClient]:
    """An unauthenticated client on a fresh app (add headers or log in per test).

    It talks to http://127.0.0.1, like a browser on the machine running ``gridmap serve``: on
    loopback over plain http the session cookie is not Secure, so the client sends it back.
    """
    with TestClient(create_app(settings, store), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def viewer(client: TestClient, viewer_token: str, stored_campus: Campus) -> TestClient:
    """The client with a viewer's bearer token and the test campus stored."""
    client.headers["Authorization"] = f"Bearer {viewer_token}"
    return client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    """In CI (``GRIDMAP_REQUIRE_SERVICES=1``) a test that skips for want of a service fails.

    On a laptop without Chromium the browser tests skip with their reason; CI installs
    everything, so a skip there means the set-up is broken and must not pass silently. An
    expected failure (``xfail``) is reported as skipped too, marked by ``wasxfail``: it stays.
    """
    outcome = yield
    report = outcome.get_result()
    if (report.skipped and not hasattr(report, "wasxfail")
            and os.environ.get("GRIDMAP_REQUIRE_SERVICES") == "1"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where every service must be present: {reason}"
