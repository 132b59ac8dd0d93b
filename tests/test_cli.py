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
    assert cli.main(["import", "--publish", str(sample_copy)]) == 0
    out = capsys.readouterr().out
    assert "lincoln-ridge: stored revision 1" in out
    assert "residual" in out
    # the report says how nearby answers are measured, per building
    assert "nearby distances: Building A: " in out and "walking" in out
    assert cli.main(["import", "--publish", str(sample_copy)]) == 0
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
    assert cli.main(["import", "--publish", str(sample_copy)]) == 0
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
    settings: Settings, stored_campus: Campus, capsys: pytest.CaptureFixture[str]
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
    (record,) = [t for t in store.tokens() if t.name == "County dispatch"]
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
    assert "published revision 1" in first  # the demo publishes what it imports
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
    assert store.current_revision("lincoln-ridge") == 1
    active = [t for t in store.tokens() if t.revoked_at is None]
    assert [t.name for t in active] == ["demo"]
    assert verify_token(store, token2).is_admin
    store.close()


@needs_sample
def test_import_is_audited(sample_copy: Path, settings: Settings,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.getpass, "getuser", lambda: "facilities")
    assert cli.main(["import", "--publish", str(sample_copy)]) == 0
    assert cli.main(["import", "--if-changed", str(sample_copy)]) == 0  # nothing stored
    store = _store(settings)
    (entry,) = [e for e in store.audit_log() if e.action == "import"]
    assert entry.token_name == "cli:facilities"
    assert entry.campus_id == "lincoln-ridge"
    assert entry.detail.startswith("draft revision 1 from campus.toml")
    (published,) = [e for e in store.audit_log() if e.action == "publish"]
    assert published.token_name == "cli:facilities"
    assert published.detail.startswith("revision 1 (was none)")
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


# --- token options, store location, start-up -----------------------------------------------


@pytest.mark.parametrize("days", ["0", "-1", "-0.5", "nan", "inf", "1e9"])
def test_token_create_refuses_expiry_that_is_not_a_positive_number_of_days(
    settings: Settings, days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "create", "x", "--expires-days", days]) == 2
    assert "positive number of days" in capsys.readouterr().err
    store = _store(settings)
    assert store.tokens() == []  # nothing was created (0 is not "the default year")
    store.close()


def test_token_create_campus_must_exist(
    settings: Settings, stored_campus: Campus, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["token", "create", "agency", "--campus", stored_campus.id, "--campus", "test-campsu"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "no campus 'test-campsu'" in err
    assert f"it holds {stored_campus.id}" in err
    store = _store(settings)
    assert store.tokens() == []
    store.close()


def test_role_choices_are_the_stores_roles() -> None:
    assert set(cli.ROLE_NAMES) == {r.value for r in Role}


def test_read_only_commands_elsewhere_say_where_they_looked_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("GRIDMAP_DATA_DIR", raising=False)
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    for argv in (["lookup", "lincoln-ridge", "rm 214"], ["token", "list"],
                 ["token", "revoke", "demo"]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"no gridmap store at the SQLite file {elsewhere / 'var' / 'gridmap.db'}" in err
        assert "GRIDMAP_DATA_DIR is not set" in err
        assert "export GRIDMAP_DATA_DIR=" in err
    assert list(elsewhere.iterdir()) == []  # no ./var, no empty store


def test_unknown_campus_in_an_empty_store_says_where_it_looked(
    settings: Settings, store: SqlCampusStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lookup", "lincoln-ridge", "rm 214"]) == 2
    err = capsys.readouterr().err
    assert "unknown campus" in err or "no campus" in err
    assert "it holds no campus" in err
    assert "GRIDMAP_DATA_DIR" in err or "GRIDMAP_DATABASE_URL" in err


def test_quick_lookup_path_matches_the_store_path(
    settings: Settings, stored_campus: Campus, store: SqlCampusStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On SQLite, `gridmap lookup` answers through the light path: same answer, same audit."""
    from api import cli_fast

    args = cli.build_parser().parse_args(["lookup", stored_campus.id, "rm 214"])
    ordinary = cli._local_lookup(args, store)
    store.flush_audit()
    quick = cli_fast.local_lookup(stored_campus.id, "rm 214", 10, "cli:tester")
    if settings.database_url is not None:  # PostgreSQL: the light path steps aside
        assert quick is None
        return
    assert quick == ordinary
    entries = [e for e in store.audit_log() if e.action == "lookup"]
    assert len(entries) == 2
    assert entries[0].token_name == "cli:tester"
    assert entries[0].detail == entries[1].detail == "q='rm 214' -> found"
    assert entries[0].ts >= entries[1].ts
    assert cli_fast.local_lookup("nowhere", "rm 214", 10, "cli:tester") is None


def test_quick_lookup_defaults_are_the_settings_defaults(tmp_path: Path) -> None:
    from api import cli_fast

    assert str(Settings.model_fields["data_dir"].default) == cli_fast.DEFAULT_DATA_DIR
    env = {"GRIDMAP_DATA_DIR": str(tmp_path)}
    assert cli_fast.sqlite_file(env, tmp_path) == tmp_path / "gridmap.db"
    assert cli_fast.sqlite_file({}, tmp_path) == Path("var") / "gridmap.db"
    assert cli_fast.sqlite_file({"GRIDMAP_DATABASE_URL": "postgresql+psycopg://h/db"},
                                tmp_path) is None
    assert cli_fast.sqlite_file({"gridmap_data_dir": "x"}, tmp_path) is None
    (tmp_path / ".env").write_text("GRIDMAP_DATA_DIR=/srv/gridmap\n")
    assert cli_fast.sqlite_file(env, tmp_path) is None


def test_cli_lookup_loads_no_web_framework_orm_or_settings_library(
    settings: Settings, stored_campus: Campus,
) -> None:
    """Start-up is most of a CLI lookup's time: a lookup on SQLite imports none of these.
    On PostgreSQL the light path steps aside and the ordinary one (SQLAlchemy) answers."""
    import subprocess
    import sys

    script = ("import sys\nfrom api import cli\ncode = cli.main(['lookup', 'test-campus', 'gym'])\n"
              "heavy = [m for m in ('fastapi', 'sqlalchemy', 'pydantic_settings', 'uvicorn', "
              "'networkx', 'ezdxf', 'geopandas', 'PIL') if m in sys.modules]\n"
              "print('HEAVY', heavy, code)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    if settings.database_url is None:
        assert "HEAVY [] 0" in out
    else:
        assert "'sqlalchemy'" in out and out.rstrip().endswith(" 0")
    assert "Gym" in out


def test_source_digest_does_not_follow_symlinks_out_of_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "campus"
    folder.mkdir()
    manifest = folder / "campus.toml"
    manifest.write_text('[campus]\nid = "x"\n')
    (folder / "plan.dxf").write_text("inside")
    outside = tmp_path / "secret.txt"
    outside.write_text("private data")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "big.bin").write_bytes(b"x" * 1000)
    (folder / "link.txt").symlink_to(outside)
    (folder / "linked_dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (folder / "inner.dxf").symlink_to(folder / "plan.dxf")

    read: list[Path] = []
    real_open = Path.open

    def spy(self: Path, *args: Any, **kwargs: Any) -> Any:
        read.append(self)
        return real_open(self, *args, **kwargs)

    first = cli.source_digest(manifest)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "open", spy)
        assert cli.source_digest(manifest) == first
    assert all(p.resolve().is_relative_to(folder) for p in read)
    # a symlink inside the folder is read (its target, plan.dxf, a second time)
    assert read.count(folder.resolve() / "plan.dxf") == 2
    assert not any("secret" in p.name or "big" in p.name for p in read)
    outside.write_text("changed private data")  # not read, so no change
    assert cli.source_digest(manifest) == first
    (folder / "plan.dxf").write_text("edited")  # a change inside the folder is seen
    assert cli.source_digest(manifest) != first
