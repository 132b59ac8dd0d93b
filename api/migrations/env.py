"""Alembic's environment for the store: runs the migrations on the connection it is handed.

:func:`api.migrations.upgrade_to_head` hands it a connection already in a locked transaction.
Run from the ``alembic`` command line instead (``alembic -c api/migrations/alembic.ini ...``),
it opens the database the settings name (``GRIDMAP_DATABASE_URL`` or the data dir's SQLite).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from api.migrations import schema_metadata

config = context.config
target_metadata = schema_metadata()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by rebuilding
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_from_settings() -> None:
    from api.settings import Settings
    from api.store import _engine

    engine = _engine(Settings().resolved_database_url, echo=False)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the store's migrations run on a database (no --sql mode)")
handed = config.attributes.get("connection")
if handed is not None:
    _run(handed)
else:
    _run_from_settings()
