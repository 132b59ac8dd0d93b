"""The gridmap command, run in-process through ``main([...])``."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api import cli
from api.auth import verify_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from gridmap.model import Campus

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "lincoln_ridge" / "campus.toml"
needs_sample = pytest.mark.skipif(not SAMPLE.exists(), reason="sample campus not present")


def _store(settings: Settings) -> SqlCampusStore:
    return SqlCampusStore(settings.resolved_database_url)


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """The sample campus folder copied, so a test may change its files."""
    folder = tmp_path / "lincoln_ridge"
    shutil.copytree(SAMPLE.parent, folder)
    return folder / "campus.toml"


@needs_sample
def test_import_prints_revision_and_residuals(
    sample_copy: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", str(sample_copy)]) == 0
    out = capsys.readouterr().out
    assert "lincoln-ridge: stored revision 1" in out
    assert "residual" in out
    assert cli.main(["import", str(sample_copy)]) == 0
    assert "stored revision 2" in capsys.readouterr().out
    assert cli.main(["import", "--if-changed", str(sample_copy)]) == 0
    assert "unchanged" in capsys.readouterr().out
    store = _store(settings)
    assert [r.number for r in store.revisions("lincoln-ridge")] == [1, 2]
    # re-import kept door numbers: revision 1 and 2 agree
    doors = [{o.id: o.number for o in store.campus("lincoln-ridge", n).openings} for n in (1, 2)]
    assert doors[0] == doors[1]
    store.close()


def test_import_missing_manifest(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_import_bad_manifest_stores_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "campus.toml"
    manifest.write_text(
        '[campus]\nid = "broken"\nname = "Broken"\n[files]\nparcel = "gone.geojson"\n'
    )
    assert cli.main(["import", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gridmap import: error:")
    store = _store(settings)
    assert store.list_campuses() == []
    store.close()


@needs_sample
def test_failed_reimport_keeps_the_published_revision(
    sample_copy: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", str(sample_copy)]) == 0
    next(sample_copy.parent.glob("*.dxf")).write_text("this is not a DXF file")
    assert cli.main(["import", str(sample_copy)]) == 2
    assert "dxf" in capsys.readouterr().err.lower()
    store = _store(settings)
    assert [r.number for r in store.revisions("lincoln-ridge")] == [1]
    assert store.current_revision("lincoln-ridge") == 1
    store.close()


def test_lookup_human_readable(stored_campus: Campus, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lookup", stored_campus.id, "rm 214"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[1]
    assert "Room 214 Science Lab" in first
    assert "grid C4" in first
    assert "USNG 16T" in first
    assert "door" in first
    assert "Knox box" in first


def test_local_lookup_is_audited(stored_campus: Campus, store: SqlCampusStore,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lookup", stored_campus.id, "gym"]) == 0
    entries = [e for e in store.audit_log(campus_id=stored_campus.id) if e.action == "lookup"]
    assert len(entries) == 1
    assert entries[0].token_name is not None and entries[0].token_name.startswith("cli:")
    assert "gym" in entries[0].detail


def test_lookup_json(stored_campus: Campus, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lookup", stored_campus.id, "gym", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "found"
    assert result["candidates"][0]["unit_name"] == "Gym"


def test_lookup_not_found_and_unknown_campus(
    stored_campus: Campus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lookup", stored_campus.id, "xylophone museum"]) == 1
    assert capsys.readouterr().out.startswith("not_found")
    assert cli.main(["lookup", "nowhere", "gym"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_token_create_prints_it_once_and_stores_only_the_hash(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "create", "County dispatch", "--role", "admin",
                     "--expires-days", "30", "--campus", "test-campus"]) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert token.startswith("gm_")
    store = _store(settings)
    principal = verify_token(store, token)
    assert principal.name == "County dispatch"
    assert principal.role is Role.ADMIN
    assert principal.campuses == ("test-campus",)
    assert principal.expires_at is not None
    (record,) = store.tokens()
    assert token not in repr(record)
    store.close()

    assert cli.main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "County dispatch" in listing
    assert token not in listing
    assert cli.main(["token", "revoke", "County dispatch"]) == 0
    assert "revoked 1" in capsys.readouterr().out


def test_token_create_rejects_bad_expiry(data_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["token", "create", "x", "--expires-days", "-1"]) == 2
    assert "positive" in capsys.readouterr().err


def test_serve_uses_settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(cli, "serve", lambda s, host, port: calls.append((s.port, host, port)))
    assert cli.main(["serve", "--port", "8123"]) == 0
    assert calls == [(8000, None, 8123)]


@needs_sample
def test_demo_is_idempotent_and_rotates_its_token(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", "--no-serve"]) == 0
    first = capsys.readouterr().out
    assert "stored revision 1" in first
    assert "http://127.0.0.1:8000/campuses/lincoln-ridge/map" in first
    assert "/login?next=/campuses/lincoln-ridge/map" in first
    token1 = next(w for w in first.split() if w.startswith("gm_"))

    assert cli.main(["demo", "--no-serve"]) == 0
    second = capsys.readouterr().out
    assert "sample unchanged" in second
    token2 = next(w for w in second.split() if w.startswith("gm_"))
    assert token1 != token2

    store = _store(settings)
    assert [r.number for r in store.revisions("lincoln-ridge")] == [1]
    active = [t for t in store.tokens() if t.revoked_at is None]
    assert [t.name for t in active] == ["demo"]
    assert verify_token(store, token2).is_admin
    store.close()


@needs_sample
def test_import_is_audited(sample_copy: Path, settings: Settings,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.getpass, "getuser", lambda: "facilities")
    assert cli.main(["import", str(sample_copy)]) == 0
    assert cli.main(["import", "--if-changed", str(sample_copy)]) == 0  # nothing stored
    store = _store(settings)
    (entry,) = [e for e in store.audit_log() if e.action == "import"]
    assert entry.token_name == "cli:facilities"
    assert entry.campus_id == "lincoln-ridge"
    assert entry.detail.startswith("revision 1 from campus.toml")
    assert f"sha256 {cli.source_digest(sample_copy)}" in entry.detail
    assert store.revisions("lincoln-ridge")[0].source_digest == cli.source_digest(sample_copy)
    store.close()


def test_cli_actor_without_a_login_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user() -> str:
        raise KeyError("getpwuid(): uid not found: 1234")

    monkeypatch.setattr(cli.getpass, "getuser", no_user)
    assert cli.cli_actor() == "cli:unknown"


def _serve_through(monkeypatch: pytest.MonkeyPatch, client: TestClient) -> list[str]:
    """httpx.get answered by the in-process app; returns the Authorization headers seen."""
    seen: list[str] = []

    def get(url: str, **kwargs: Any) -> httpx.Response:
        seen.append(kwargs.get("headers", {}).get("Authorization", ""))
        kwargs.pop("timeout", None)  # the TestClient warns about it
        return client.get(url, **kwargs)

    monkeypatch.setattr(httpx, "get", get)
    return seen


def test_remote_lookup_reads_the_token_from_stdin(
    client: TestClient, viewer_token: str, stored_campus: Campus,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    seen = _serve_through(monkeypatch, client)
    monkeypatch.delenv("GRIDMAP_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(viewer_token + "\n"))
    argv = ["lookup", stored_campus.id, "gym", "--json", "--url", "http://testserver",
            "--token", "-"]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["candidates"][0]["unit_name"] == "Gym"
    assert seen == [f"Bearer {viewer_token}"]

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(argv) == 2
    assert "no token on stdin" in capsys.readouterr().err
    assert len(seen) == 1  # nothing sent


def test_remote_lookup_token_from_env_and_help(
    client: TestClient, viewer_token: str, stored_campus: Campus,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    seen = _serve_through(monkeypatch, client)
    monkeypatch.setenv("GRIDMAP_TOKEN", viewer_token)
    assert cli.main(["lookup", stored_campus.id, "gym", "--url", "http://testserver"]) == 0
    assert seen == [f"Bearer {viewer_token}"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["lookup", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "prefer $GRIDMAP_TOKEN" in help_text
    assert "'-' reads it from stdin" in help_text
