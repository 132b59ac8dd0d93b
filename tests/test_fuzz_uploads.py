"""Nasty uploads to a workspace: a clear 4xx naming the problem, or a failed analysis naming
it; never a 500, nothing stored.

Hand-made hostile files (a cut zip, a zip climbing out of its folder, a zip holding a link, a
zip bomb, an XML bomb named .osm, binary junk named .dxf, a DWG, an empty file...) and a few
seeded mutants from the fuzzer's own mutators (:mod:`fuzz.mutate`) go through
``POST /workspaces/{ws}/files``. A refusal must be a 4xx whose ``error.message`` says what is
wrong, with the store's rows and the workspace's folder exactly as before; an accepted mutant
must be a 201 the workspace then shows. Drawings that pass the quick checks (a damaged binary
DXF, a DXF whose first bytes are fine) are kept at once (202) and read by their analysis job
(turned here): one that cannot be read fails its job with the problem named, and the
workspace's rows and folder are again exactly as before the upload.
"""

from __future__ import annotations

import bz2
import gzip
import io
import random
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation
from api.store_workspace import WORKSPACES_DIR
from fuzz.mutate import mutate_dxf, mutate_osm, mutate_zip

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"
OSM = ROOT / "tests" / "fixtures" / "osm"
IMDF = ROOT / "tests" / "fixtures" / "imdf" / "school.zip"
WHEN = (2026, 11, 30, 12, 0, 0)


@pytest.fixture
def client(settings: Settings, store: SqlCampusStore) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"job_workers": 0}), store)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def editor(store: SqlCampusStore, district: Organisation) -> dict[str, str]:
    token, _ = create_token(store, "facilities", Role.EDITOR, org=district.id)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ws(client: TestClient, editor: dict[str, str]) -> str:
    r = client.post("/workspaces", json={"campus_id": "nasty-uploads", "campus_name": "N"},
                    headers=editor)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _zip(members: list[tuple[str, bytes]], *, link: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members:
            zf.writestr(zipfile.ZipInfo(name, WHEN), body, zipfile.ZIP_DEFLATED)
        if link is not None:
            info = zipfile.ZipInfo(link, WHEN)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, b"/etc/passwd")
    return out.getvalue()


def _plans_zip() -> bytes:
    return _zip([("plans/A_level1.dxf", (SAMPLE / "A_level1.dxf").read_bytes()),
                 ("parcel.geojson", (SAMPLE / "parcel.geojson").read_bytes())])


def _rows(store: SqlCampusStore, *, but: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """Every row of every table but the audit log (a refusal may be audited; and the audit
    of the workspace's creation may land a moment later) and the tables ``but``."""
    import sqlalchemy

    out = []
    with store.engine.connect() as conn:
        for table in sorted(sqlalchemy.inspect(conn).get_table_names()):
            if table != "audit_log" and table not in but:
                rows = conn.execute(sqlalchemy.text(f'SELECT * FROM "{table}"'))
                out.append((table, sorted(repr(tuple(r)) for r in rows)))
    return out


def _files_on_disk(settings: Settings) -> dict[str, int]:
    """The workspaces' files (the uploads kept, their caches) and their sizes."""
    root = settings.data_dir / WORKSPACES_DIR
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _zip_version(data: bytes, version: int) -> bytes:
    """The zip with its last listed entry asking for a zip version (as a flipped byte does)."""
    raw = bytearray(data)
    raw[data.rfind(b"PK\x01\x02") + 6] = version
    return bytes(raw)


def _gzip_bomb() -> bytes:
    return gzip.compress(b'<osm version="0.6">' + b" " * (200 << 20) + b"</osm>", 1, mtime=0)


def _dwg(version: bytes, seed: int) -> bytes:
    return version + bytes(5) + random.Random(seed).randbytes(2000)


NASTY: dict[str, tuple[str, Callable[[], bytes], tuple[str, ...]]] = {
    # id: (upload name, its bytes (made when the test runs), words the message must hold)
    "truncated zip": ("plans.zip", lambda: _plans_zip()[:3000], ("plans.zip",)),
    "zip end record only": ("plans.zip", lambda: b"PK\x05\x06" + bytes(18), ("plans.zip",)),
    "zip with traversal": (
        "plans.zip", lambda: _zip([("../../outside.dxf", b"0\nSECTION\n")]), ("outside",)),
    "zip with absolute path": (
        "plans.zip", lambda: _zip([("/etc/cron.d/x.dxf", b"0\nSECTION\n")]), ("cron",)),
    "zip with a link": (
        "plans.zip", lambda: _zip([("a.geojson", b"{}")], link="plans/A.dxf"), ("link",)),
    "zip bomb": ("plans.zip", lambda: _zip([("big.dxf", bytes(60 << 20))]), ("big.dxf",)),
    "zip in a zip in a zip": (
        "plans.zip", lambda: _zip([("one.zip", _zip([("two.zip", _plans_zip())]))]),
        ("two.zip",)),
    "XML bomb .osm": (
        "school.osm", lambda: (OSM / "billion_laughs.osm").read_bytes(), ("school.osm",)),
    "gzip bomb .osm.gz": ("school.osm.gz", _gzip_bomb, ("school.osm.gz",)),
    "cut .osm.bz2": (
        "school.osm.bz2", lambda: bz2.compress((OSM / "school.osm").read_bytes())[:400],
        ("school.osm.bz2",)),
    "binary junk named .dxf": (
        "level1.dxf", lambda: random.Random(8).randbytes(4096), ("level1.dxf",)),
    "a DWG": ("level1.dwg", lambda: _dwg(b"AC1032", 9), ("DWG", "DXF")),
    "a DWG named .dxf": ("level1.dxf", lambda: _dwg(b"AC1027", 10), ("DWG", "DXF")),
    "an empty file": ("level1.dxf", lambda: b"", ("empty",)),
    "zip asking for zip version 15.6": ("plans.zip", lambda: _zip_version(_plans_zip(), 156),
                                        ("plans.zip",)),
    "only NUL bytes": ("parcel.geojson", lambda: bytes(2048), ("parcel.geojson",)),
    "an SQLite file named .gpkg": (
        "parcel.gpkg", lambda: b"SQLite format 3\x00" + bytes(200), ("parcel.gpkg",)),
}


@pytest.mark.parametrize("nasty", sorted(NASTY))
def test_a_nasty_upload_is_a_clear_4xx_and_stores_nothing(
        client: TestClient, store: SqlCampusStore, settings: Settings, editor: dict[str, str],
        ws: str, nasty: str) -> None:
    name, make, words = NASTY[nasty]
    data = make()
    rows, disk = _rows(store), _files_on_disk(settings)
    r = client.post(f"/workspaces/{ws}/files", headers=editor, files={"file": (name, data)})
    assert 400 <= r.status_code < 500, f"{nasty}: {r.status_code} {r.text[:500]}"
    error = r.json()["error"]
    assert error["type"] and "Traceback" not in error["message"]
    for word in words:
        assert word.lower() in error["message"].lower(), error["message"]
    assert _rows(store) == rows, f"{nasty}: the store changed"
    assert _files_on_disk(settings) == disk, f"{nasty}: files were left behind"
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["files"] == [] and shown["drawings"] == []


def _run_jobs(client: TestClient) -> None:
    worker = client.app.state.jobs.worker()  # type: ignore[attr-defined]
    while worker.run_one() is not None:
        pass


#: what a failed analysis leaves changed: its job, and the workspace's last-change time (its
#: files, drawings and settings are compared with the other tables)
_TOUCHED = ("jobs", "workspaces")


def _text_dxf_with_junk_after_its_head() -> bytes:
    """A DXF whose first 4 KB (all the sniffer reads) are a fine header, then bytes of junk."""
    head = (SAMPLE / "A_level1.dxf").read_bytes()[:6000]
    return head + random.Random(11).randbytes(6000)


#: drawings the quick checks pass, whose reading fails: (upload name, bytes, message words)
UNREADABLE: dict[str, tuple[str, Callable[[], bytes], tuple[str, ...]]] = {
    "a damaged binary DXF": (
        "Ebene 1.dxf", lambda: b"AutoCAD Binary DXF\r\n\x1a\x00" + random.Random(4).randbytes(3000),
        ("Ebene 1.dxf", "cannot be opened")),
    "junk after a fine DXF head": (
        "level2.dxf", _text_dxf_with_junk_after_its_head, ("level2.dxf",)),
    "a zip of a damaged binary DXF": (
        "plans.zip", lambda: _zip([("plans/EG.dxf", b"AutoCAD Binary DXF\r\n\x1a\x00"
                                    + random.Random(5).randbytes(3000))]),
        ("plans/EG.dxf", "cannot be opened")),
    "a zip of a fine drawing, then a damaged one": (  # the first is kept, then dropped again
        "plans.zip", lambda: _zip([("plans/EG.dxf", (SAMPLE / "A_level1.dxf").read_bytes()),
                                   ("plans/OG.dxf", b"AutoCAD Binary DXF\r\n\x1a\x00"
                                    + random.Random(6).randbytes(3000))]),
        ("plans/OG.dxf", "cannot be opened")),
}


@pytest.mark.parametrize("nasty", sorted(UNREADABLE))
def test_a_drawing_that_cannot_be_read_fails_its_analysis_and_stores_nothing(
        client: TestClient, store: SqlCampusStore, settings: Settings, editor: dict[str, str],
        ws: str, nasty: str) -> None:
    name, make, words = UNREADABLE[nasty]
    rows, disk = _rows(store, but=_TOUCHED), _files_on_disk(settings)
    settings_before = client.get(f"/workspaces/{ws}", headers=editor).json()["settings"]
    r = client.post(f"/workspaces/{ws}/files", headers=editor, files={"file": (name, make())})
    assert r.status_code == 202, f"{nasty}: {r.status_code} {r.text[:500]}"
    (analysis,) = r.json()["analyses"]
    _run_jobs(client)
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    (state,) = shown["analyses"]
    assert state["job"] == analysis["job"] and state["state"] == "failed", state
    assert "Traceback" not in state["error"]
    for word in words:
        assert word.lower() in state["error"].lower(), state["error"]
    assert shown["files"] == [] and shown["drawings"] == []
    assert shown["settings"] == settings_before
    assert _rows(store, but=_TOUCHED) == rows, f"{nasty}: the store changed"
    assert _files_on_disk(settings) == disk, f"{nasty}: files were left behind"


def test_mutated_drawings_are_read_or_fail_clearly_never_a_500(
        client: TestClient, store: SqlCampusStore, settings: Settings,
        editor: dict[str, str], ws: str) -> None:
    """Seeded mutants of the sample's floor plan (the fuzzer's DXF mutators): refused at
    once, or kept and read (its drawing shown), or kept and failed (nothing left)."""
    rng = random.Random(2027)
    text = (SAMPLE / "A_level1.dxf").read_text(encoding="utf-8")
    outcomes = set()
    for k in range(4):
        mutant, done = mutate_dxf(rng, text)
        rows, disk = _rows(store, but=_TOUCHED), _files_on_disk(settings)
        r = client.post(f"/workspaces/{ws}/files", headers=editor,
                        files={"file": (f"level{k}.dxf", mutant.encode("utf-8", "replace"))})
        assert r.status_code in (202, 400, 413, 422), f"{done}: {r.text[:500]}"
        if r.status_code != 202:
            outcomes.add("refused")
            assert r.json()["error"]["message"], done
            continue
        (analysis,) = r.json()["analyses"]
        _run_jobs(client)
        shown = client.get(f"/workspaces/{ws}", headers=editor).json()
        state = next(a for a in shown["analyses"] if a["job"] == analysis["job"])
        assert state["state"] in ("ready", "failed"), (done, state)
        outcomes.add(state["state"])
        if state["state"] == "ready":
            assert any(d["file_id"] == analysis["file_id"] for d in shown["drawings"]), done
            r = client.delete(f"/workspaces/{ws}/files/{analysis['file_id']}", headers=editor)
            assert r.status_code == 200, r.text  # the next mutant starts from the same place
        else:
            assert state["error"] and "Traceback" not in state["error"], (done, state)
        assert _rows(store, but=_TOUCHED) == rows, f"{done}: the store changed"
        assert _files_on_disk(settings) == disk, f"{done}: files were left behind"
    assert outcomes & {"ready", "failed"}  # the seeded mutants include ones read by a job


def _mutants() -> list[tuple[str, bytes, str]]:
    """Seeded mutants of an uploaded zip (structure and bytes), an IMDF archive (members too)
    and an OSM file."""
    rng = random.Random(2026)
    small = _zip([("parcel.geojson", (SAMPLE / "parcel.geojson").read_bytes()),
                  ("pois.csv", (SAMPLE / "pois.csv").read_bytes()),
                  ("school.osm", (OSM / "school.osm").read_bytes())])
    out = []
    for k in range(6):
        data, done = mutate_zip(rng, small, members_too=False)
        out.append((f"upload{k}.zip", data, "; ".join(done)))
    for k in range(4):
        data, done = mutate_zip(rng, IMDF.read_bytes())
        out.append((f"venue{k}.zip", data, "; ".join(done)))
    for k in range(4):
        text, done = mutate_osm(rng, (OSM / "school.osm").read_text(encoding="utf-8"))
        out.append((f"school{k}.osm", text.encode("utf-8", "surrogatepass"), "; ".join(done)))
    return out


def test_mutated_uploads_are_kept_or_refused_clearly_never_a_500(
        client: TestClient, store: SqlCampusStore, settings: Settings,
        editor: dict[str, str], ws: str) -> None:
    kept = refused = 0
    for name, data, done in _mutants():
        rows, disk = _rows(store), _files_on_disk(settings)
        r = client.post(f"/workspaces/{ws}/files", headers=editor,
                        files={"file": (name, data)})
        assert r.status_code in (201, 400, 413, 422), f"{name} ({done}): {r.text[:500]}"
        if r.status_code == 201:
            kept += 1
            ids = {f["id"] for f in r.json()["files"]}
            shown = client.get(f"/workspaces/{ws}", headers=editor).json()
            assert ids <= {f["id"] for f in shown["files"]}, f"{name} ({done})"
        else:
            refused += 1
            assert r.json()["error"]["message"], f"{name} ({done})"
            assert _rows(store) == rows, f"{name} ({done}): the store changed"
            assert _files_on_disk(settings) == disk, f"{name} ({done}): files left behind"
    assert kept and refused  # the seeded mutants hold both kinds
