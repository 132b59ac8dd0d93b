"""The quick path of ``gridmap lookup`` on the embedded SQLite store: answer in well under 0.5 s.

Importing SQLAlchemy and pydantic-settings costs a CLI more than the lookup itself, so a local
lookup against a SQLite store reads the campus's current revision with the standard library's
``sqlite3`` (the same rows :meth:`api.store.SqlCampusStore.campus` reads), answers with the
same core functions and writes the same audit row. Whenever this path is not sure it applies
(a ``.env`` file, another backend, no store, an unknown campus, any error) it returns None and
the CLI takes the ordinary path, which also gives the full error messages. Nothing is cached
on disk: no copy of a floor plan is left anywhere.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: api.settings.Settings' defaults (a test keeps them equal)
DEFAULT_DATA_DIR = "var"
DATABASE_FILE = "gridmap.db"
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime on SQLite


def sqlite_file(environ: dict[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The SQLite store Settings() would open, when that is certain from the environment."""
    env = dict(os.environ if environ is None else environ)
    if ((cwd or Path.cwd()) / ".env").exists():
        return None  # pydantic-settings reads it: let Settings decide
    if any(k.upper().startswith("GRIDMAP_") and not k.isupper() for k in env):
        return None  # pydantic-settings matches names case-insensitively
    url = env.get("GRIDMAP_DATABASE_URL")
    if url:
        if not url.startswith("sqlite:///") or "?" in url:
            return None
        database = url.removeprefix("sqlite:///")
        return Path(database) if database and database != ":memory:" else None
    return Path(env.get("GRIDMAP_DATA_DIR") or DEFAULT_DATA_DIR) / DATABASE_FILE


def _features(con: sqlite3.Connection, campus_id: str, revision: int) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT feature_id, feature_type, geometry, properties FROM features "
        "WHERE campus_id = ? AND revision = ? ORDER BY seq", (campus_id, revision)).fetchall()
    return [
        {"type": "Feature", "id": fid, "feature_type": kind,
         "geometry": None if geometry is None else json.loads(geometry),
         "properties": json.loads(properties)}
        for fid, kind, geometry, properties in rows
    ]


def local_lookup(campus_id: str, query: str, limit: int, actor: str) -> dict[str, Any] | None:
    """The lookup result (audited as ``actor``), or None to take the ordinary path."""
    path = sqlite_file()
    if path is None or not path.is_file():
        return None
    try:
        con = sqlite3.connect(f"file:{path.as_posix()}?mode=rw", uri=True, timeout=10.0)
    except sqlite3.Error:
        return None
    try:
        found = con.execute("SELECT current_revision FROM campuses WHERE id = ?",
                            (campus_id,)).fetchone()
        if found is None or found[0] is None:
            return None
        revision = int(found[0])
        from api.audit import clean_text, lookup_detail
        from gridmap.index import CampusIndex
        from gridmap.lookup import lookup
        from gridmap.serialize import campus_from_features

        campus = campus_from_features(_features(con, campus_id, revision))
        result: dict[str, Any] = lookup(CampusIndex(campus), query, limit=limit).to_dict()
        with con:
            con.execute(
                "INSERT INTO audit_log (ts, token_id, token_name, action, campus_id, detail, "
                "client, count) VALUES (?, NULL, ?, 'lookup', ?, ?, 'local store', 1)",
                (datetime.now(UTC).strftime(_TS_FORMAT), actor[:200], campus_id[:100],
                 clean_text(lookup_detail(query, result["status"]), 2000)))
        return result
    except Exception:  # any doubt: the ordinary path answers, with its full error messages
        return None
    finally:
        con.close()
