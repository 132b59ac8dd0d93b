"""Shared fixtures: the code-built test campus and an isolated store/settings per test."""

from __future__ import annotations

from pathlib import Path

import pytest

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
