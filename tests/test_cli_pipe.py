"""The gridmap command when whoever reads its output stops reading (``... | head -2``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api import cli
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import OrgKind, identity
from gridmap.model import Campus

ROOT = Path(__file__).resolve().parents[1]


class _ClosedPipe:
    """A stdout whose reader has gone: every write and flush is a broken pipe."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def _save(campus: Campus, data_dir: Path) -> None:
    store = SqlCampusStore(Settings(data_dir=data_dir).resolved_database_url)
    try:
        store.save_revision(campus, source="tests")
        identity(store).create_org("Test district", OrgKind.DISTRICT)  # owns the campus
        create_token(store, "night shift", Role.OFFICER)  # something for `token list` to say
    finally:
        store.close()


@pytest.mark.parametrize("argv", [
    ["lookup", "{campus}", "room 214"],
    ["lookup", "{campus}", "room 214", "--json"],
    ["token", "list"],
])
def test_a_closed_stdout_ends_any_command_quietly(
        campus: Campus, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    _save(campus, data_dir)
    pipe = _ClosedPipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    assert cli.main([a.format(campus=campus.id) for a in argv]) == 1
    assert pipe.writes >= 1  # the command did write, into the closed pipe
    assert sys.stdout is not pipe  # what follows (the flush at exit) goes nowhere, quietly
    print("after the pipe closed")  # no second BrokenPipeError
    assert capsys.readouterr().err == ""


def test_gridmap_lookup_into_a_reader_that_has_gone(campus: Campus, data_dir: Path) -> None:
    # the reading end is closed before the command writes a byte: every write is EPIPE
    _save(campus, data_dir)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "lookup", campus.id, "room 214"],
            stdout=write_end, stderr=subprocess.PIPE, cwd=ROOT, timeout=60,
            env={**os.environ, "GRIDMAP_DATA_DIR": str(data_dir)}, check=False)
    finally:
        os.close(write_end)
    assert done.stderr.decode() == ""
    assert done.returncode == 1
