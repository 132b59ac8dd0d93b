"""What each process of tests/test_migrations.py's concurrent-open test runs (a module of its
own, so a spawned process imports the store and nothing of the test suite)."""

from __future__ import annotations

from typing import Any

from api.store import Role, SqlCampusStore


def open_and_add_token(url: str, name: str, barrier: Any) -> None:
    """Wait for the others, open the store (migrating it if first) and write one token."""
    barrier.wait(timeout=60)
    store = SqlCampusStore(url)
    try:
        store.add_token(token_id=name, name=name, role=Role.VIEWER,
                        token_hash=name.encode().hex().ljust(64, "0"), expires_at=None)
    finally:
        store.close()
