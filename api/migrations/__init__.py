"""The store's schema, kept by Alembic: every change is a numbered migration in ``versions/``.

:func:`upgrade_to_head` is what :class:`api.store.SqlCampusStore` runs when it opens a
database. It takes a lock first (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory
lock on PostgreSQL), so processes opening one database at once migrate it once: the others
wait, then find it at head. All of it is one transaction (SQLite and PostgreSQL both have
transactional DDL): a migration that fails leaves the database as it was.

A database made before migrations existed (tables there, no ``alembic_version``) is upgraded
from the start like an empty one: 0001 (the previous release's schema) and 0002 (imagery)
create only the tables it lacks, and 0001 adds the audit log's ``count`` column that stores
older still were given without a migration. Its rows stay as they are.

Adding a migration: a new file in ``versions/``, hand-written, whose ``down_revision`` is the
current head (``python -c 'import api.migrations as m; print(m.head())'``); the history stays
one line. Declare the tables in code as usual (on :class:`api.store.Base`) and, for a new
module, add it to :data:`TABLE_MODULES`; ``tests/test_migrations.py`` checks that migrating
an empty database gives exactly the tables declared in code, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, MetaData, text
from sqlalchemy.exc import DBAPIError

from gridmap.errors import StoreSchemaTooNew

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).resolve().parent

#: Modules that declare tables on ``api.store.Base``: importing them all completes its metadata.
TABLE_MODULES: tuple[str, ...] = ("api.store", "api.store_identity", "api.job_queue", "api.oidc",
                                 "api.share", "api.store_publish", "api.store_workspace")

def schema_metadata() -> MetaData:
    """Every table declared in code (what migrating an empty database must give)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    from api.store import Base

    return Base.metadata


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for ``versions/``, running on ``connection`` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision in ``versions/`` (one head: the history is a line)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory(str(SCRIPT_LOCATION)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration history has branched: heads {sorted(heads)}")
    return heads[0]


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory(str(SCRIPT_LOCATION)).walk_revisions()}


def current(connection: Connection) -> str | None:
    """The revision a database is at (None: not under migrations yet, or empty)."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest schema, once, whoever else is opening it now.

    A database already at head is answered by one query, without importing Alembic (about
    0.3 s of a command's start-up).
    """
    newest = newest_file_revision()
    if newest is not None and _recorded_revision(engine) == newest:
        return
    from alembic import command

    with _locked(engine) as conn:
        at = current(conn)
        if at == head():
            return
        if at is not None and at not in _known_revisions():
            raise StoreSchemaTooNew(
                f"the database's schema is at revision {at}, unknown to this gridmap "
                f"(newest {head()})",
                user_message=f"the store was migrated by a newer gridmap (schema revision {at}; "
                f"this one knows up to {head()}): run the newer gridmap, or restore a backup "
                "made for this one")
        log.info("migrating the store's schema from %s to %s", at or "nothing", head())
        command.upgrade(alembic_config(conn), "head")


def upgrade_connection(connection: Connection, target: str = "head") -> None:
    """Upgrade through an open connection, in its transaction (tests build old schemas so)."""
    from alembic import command

    command.upgrade(alembic_config(connection), target)


_REVISION_LINE = re.compile(
    r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.MULTILINE)


@functools.cache
def newest_file_revision() -> str | None:
    """The head as the files in ``versions/`` say it, read without Alembic: the one revision
    no other names as its ``down_revision`` (None if that is not exactly one)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (SCRIPT_LOCATION / "versions").glob("*.py"):
        for kind, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if kind == "revision" else downs).add(value)
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _recorded_revision(engine: Engine) -> str | None:
    """The revision in the database's ``alembic_version`` (None: no such table, or empty)."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one migrating process holds at a time."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            # pysqlite opens transactions on its own terms (not before DDL); drive them here.
            # Foreign keys off while tables are rebuilt (batch migrations drop and re-create a
            # table, which would cascade), checked before committing.
            raw = conn.execution_options(isolation_level="AUTOCOMMIT")
            raw.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                raw.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield raw
                    broken = raw.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
                except BaseException:
                    raw.exec_driver_sql("ROLLBACK")
                    raise
                raw.exec_driver_sql("COMMIT")
            finally:
                raw.exec_driver_sql("PRAGMA foreign_keys=ON")
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # one lock per schema: tests migrate a schema each, side by side
            conn.execute(text(
                "SELECT pg_advisory_xact_lock("
                "hashtext('gridmap migrations ' || coalesce(current_schema(), '')))"))
        yield conn
