"""The workspace through the API: from an architect's file with unfamiliar layer names to an
officer's lookup showing a fixed room number; and its refusals.

The flow: upload a sample floor plan whose layers were renamed (German names), the parcel,
grounds and points files (the drawing is read by an analysis job, turned here); read the
proposal; confirm layers and place the drawing with control
points (checking the fit live); import (the job worker turned here, in-process); read the
report; fix a room number (a new draft); publish it through the existing route; an officer's
lookup finds the new number. Then a re-import applies the kept fix again. Every test runs on
SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import io
import json
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ezdxf.filemanagement import readfile
from fastapi.testclient import TestClient
from shapely.geometry import Point

from api.app import create_app
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation, OrgKind, identity
from api.store_workspace import workspace_dir, workspaces

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"
RENAMED = {"A-AREA": "RAUM", "A-AREA-IDEN": "RAUMNUMMER", "A-DOOR": "TUEREN",
           "A-FLOR-OTLN": "UMRISS", "A-WALL": "WAENDE"}
CAMPUS = "new-school"


def sample_control_points() -> list[dict[str, Any]]:
    manifest = tomllib.loads((SAMPLE / "campus.toml").read_text())
    building = next(b for b in manifest["buildings"] if b["id"] == "A")
    return [{"name": p["name"], "cad": p["cad"], "lonlat": p["lonlat"]}
            for p in building["control_points"]]


@pytest.fixture(scope="module")
def renamed_dxf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's building A ground floor with every layer renamed (German names)."""
    doc = readfile(SAMPLE / "A_level1.dxf")
    for old, new in RENAMED.items():
        doc.layers.get(old).rename(new)
    path = tmp_path_factory.mktemp("dxf") / "Erdgeschoss.dxf"
    doc.saveas(path)
    return path


@pytest.fixture(scope="module")
def pois_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's points of interest of building A (the only building imported here)."""
    lines = (SAMPLE / "pois.csv").read_text().splitlines()
    kept = [lines[0]] + [row for row in lines[1:] if row.split(",")[4] in ("A", "")]
    path = tmp_path_factory.mktemp("pois") / "pois.csv"
    path.write_text("\n".join(kept) + "\n")
    return path


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_workers": 0})  # the test turns the worker


@pytest.fixture
def client(app_settings: Settings, store: SqlCampusStore) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, store), base_url="http://127.0.0.1") as c:
        yield c


def _token(store: SqlCampusStore, org: Organisation, role: Role, name: str) -> dict[str, str]:
    token, _ = create_token(store, name, role, org=org.id)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def editor(store: SqlCampusStore, district: Organisation) -> dict[str, str]:
    return _token(store, district, Role.EDITOR, "facilities")


@pytest.fixture
def officer(store: SqlCampusStore, district: Organisation) -> dict[str, str]:
    return _token(store, district, Role.OFFICER, "patrol")


@pytest.fixture
def other_editor(store: SqlCampusStore, district: Organisation) -> dict[str, str]:
    other = identity(store).create_org("Other district", OrgKind.DISTRICT)
    return _token(store, other, Role.EDITOR, "other facilities")


def _upload(client: TestClient, headers: dict[str, str], ws: str, path: Path,
            name: str | None = None) -> Any:
    return client.post(f"/workspaces/{ws}/files", headers=headers,
                       files={"file": (name or path.name, path.read_bytes())})


def _run_jobs(client: TestClient) -> None:
    worker = client.app.state.jobs.worker()  # type: ignore[attr-defined]
    while worker.run_one() is not None:
        pass


def _upload_drawing(client: TestClient, headers: dict[str, str], ws: str, path: Path | bytes,
                    name: str | None = None) -> list[dict[str, Any]]:
    """Upload a DXF (or a zip of them): kept at once (202, its analysis job queued), read when
    the job worker turns; the drawings found in it, as the workspace then shows them."""
    data = path if isinstance(path, bytes) else path.read_bytes()
    shown = name or (path.name if isinstance(path, Path) else "upload")
    r = client.post(f"/workspaces/{ws}/files", headers=headers, files={"file": (shown, data)})
    assert r.status_code == 202, r.text
    assert r.json()["drawings"] == []
    (analysis,) = r.json()["analyses"]
    _run_jobs(client)
    view = client.get(f"/workspaces/{ws}", headers=headers).json()
    state = next(a for a in view["analyses"] if a["job"] == analysis["job"])
    assert state["state"] == "ready", state
    return [d for d in view["drawings"] if d["file_id"] == analysis["file_id"]]


def _new(client: TestClient, headers: dict[str, str], campus: str = CAMPUS) -> str:
    r = client.post("/workspaces", json={"campus_id": campus, "campus_name": "New School"},
                    headers=headers)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"].startswith("private")
    return str(r.json()["id"])


def _set_up(client: TestClient, editor: dict[str, str], renamed_dxf: Path,
            pois: Path) -> tuple[str, str]:
    """A workspace with the renamed drawing, confirmed and placed, and the campus files."""
    ws = _new(client, editor)
    (drawing,) = _upload_drawing(client, editor, ws, renamed_dxf)
    for path in (SAMPLE / "parcel.geojson", SAMPLE / "grounds.geojson", pois):
        assert _upload(client, editor, ws, path).status_code == 201
    proposal = drawing["proposal"]
    layers = {role: proposal[role] for role in ("rooms", "labels", "doors", "outline")}
    r = client.put(f"/workspaces/{ws}/drawings/{drawing['id']}", headers=editor, json={
        "building_id": "A", "building_name": "Main Building", "level_ordinal": 0,
        "level_name": "1st Floor", "level_short_name": "1", "layers": layers,
        "transform": "similarity", "control_points": sample_control_points()})
    assert r.status_code == 200, r.text
    return ws, drawing["id"]


def test_the_whole_flow_from_upload_to_an_officers_lookup(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str],
    officer: dict[str, str], renamed_dxf: Path, app_settings: Settings, pois_a: Path,
) -> None:
    ws = _new(client, editor)
    # upload: the drawing is told by its content and kept at once; an analysis job reads it
    r = _upload(client, editor, ws, renamed_dxf, name="Erdgeschoß (Architekt).dxf")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["file"]["kind"] == "dxf" and body["drawings"] == []
    (analysis,) = body["analyses"]
    assert analysis["state"] == "queued" and analysis["file_id"] == body["file"]["id"]
    assert analysis["url"] == r.headers["location"] == f"/workspaces/{ws}"
    assert body["file"]["analysis"]["job"] == analysis["job"]
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["files"][0]["analysis"]["state"] == "queued" and shown["drawings"] == []
    # not importable while its drawings are being read: 409 naming the file
    r = client.post(f"/workspaces/{ws}/import", headers=editor)
    assert r.status_code == 409, r.text
    assert "Erdgeschoß (Architekt).dxf" in r.json()["error"]["message"]
    # the job reports its percent as it reads (the worker's writes, recorded)
    queue = client.app.state.jobs.queue  # type: ignore[attr-defined]
    said: list[tuple[int, str]] = []
    report = queue.report

    def recording(claim: Any, percent: int, message: str, lease_s: float) -> bool:
        said.append((percent, message))
        return bool(report(claim, percent, message, lease_s))

    queue.report = recording
    try:
        _run_jobs(client)
    finally:
        queue.report = report
    percents = [p for p, _ in said]
    assert percents == sorted(percents) and len(set(percents)) >= 3, said
    assert any("proposing the layers" in m for _, m in said), said
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["files"][0]["analysis"]["state"] == "ready"
    assert shown["files"][0]["analysis"]["percent"] == 100
    (drawing,) = shown["drawings"]
    proposal = drawing["proposal"]
    assert (proposal["rooms"], proposal["labels"], proposal["doors"], proposal["outline"]) == (
        "RAUM", "RAUMNUMMER", "TUEREN", "UMRISS")
    assert proposal["unit"] == "ft"
    held = {x["name"]: x for x in proposal["layers"]}
    doc = readfile(renamed_dxf)  # the oracle: what the file holds
    assert held["RAUM"]["closed_outlines"] == sum(
        1 for e in doc.modelspace().query("LWPOLYLINE[layer=='RAUM']") if e.dxf.flags & 1)
    assert drawing["bounds"][2] > drawing["bounds"][0]
    kinds = {}
    for name in ("parcel.geojson", "grounds.geojson", "pois.csv"):
        r = _upload(client, editor, ws, pois_a if name == "pois.csv" else SAMPLE / name)
        assert r.status_code == 201, r.text  # nothing to read in the background
        assert r.json()["analyses"] == [] and r.json()["file"]["analysis"] is None
        kinds[name] = r.json()["file"]["kind"]
    assert kinds == {"parcel.geojson": "parcel", "grounds.geojson": "grounds",
                     "pois.csv": "pois"}
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    parcel_id = next(f["id"] for f in shown["files"] if f["kind"] == "parcel")
    assert shown["settings"]["parcel_file"] == parcel_id  # chosen by itself, the first one

    # the preview: drawing units, each entity's kind under the drawing's layers
    r = client.get(f"/workspaces/{ws}/drawings/{drawing['id']}/preview.geojson",
                   params={"layer": "RAUM"}, headers=editor)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    rooms = [f for f in r.json()["features"] if f["geometry"]["type"] == "Polygon"]
    assert len(rooms) == held["RAUM"]["closed_outlines"]
    assert {f["properties"]["kind"] for f in rooms} == {"room"}
    parcel = client.get(f"/workspaces/{ws}/files/{parcel_id}/features.geojson", headers=editor)
    assert parcel.status_code == 200 and parcel.json()["features"]

    # georeference: the live fit of the sample's control points is good
    points = sample_control_points()
    r = client.post(f"/workspaces/{ws}/fit", headers=editor,
                    json={"control_points": points, "transform": "similarity", "unit": "ft"})
    assert r.status_code == 200, r.text
    fit = r.json()
    assert fit["rms_m"] < 0.5 and len(fit["points"]) == len(points)
    # one point moved 3 m east: the fit says which point disagrees
    bad = [dict(p) for p in points]
    bad[2] = {**bad[2], "lonlat": [bad[2]["lonlat"][0] + 3 / 81_900, bad[2]["lonlat"][1]]}
    worse = client.post(f"/workspaces/{ws}/fit", headers=editor,
                        json={"control_points": bad, "unit": "ft"}).json()
    assert worse["rms_m"] > fit["rms_m"] + 0.5
    worst = max(worse["points"], key=lambda p: p["residual_m"])
    assert worst["name"] == points[2]["name"]
    assert fit["import_accepts"] is True and worse["import_accepts"] is False  # the verdict

    # confirm the layers and place the drawing
    layers = {role: proposal[role] for role in ("rooms", "labels", "doors", "outline")}
    r = client.put(f"/workspaces/{ws}/drawings/{drawing['id']}", headers=editor, json={
        "building_id": "A", "building_name": "Main Building", "level_ordinal": 0,
        "level_name": "1st Floor", "level_short_name": "1", "layers": layers,
        "transform": "similarity", "control_points": points})
    assert r.status_code == 200, r.text
    r = client.put(f"/workspaces/{ws}/settings", headers=editor, json={
        "campus_name": "New School", "address": "1 School Road",
        "grid": {"cell_size": 100, "unit": "ft"}, "parcel_file": parcel_id,
        "grounds_file": shown["settings"]["grounds_file"],
        "pois_file": shown["settings"]["pois_file"]})
    assert r.status_code == 200, r.text

    # import: a job, turned here; the workspace then has its draft and report
    r = client.post(f"/workspaces/{ws}/import", headers=editor)
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    assert job["state"] == "queued"
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 409
    _run_jobs(client)
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["job"]["state"] == "done", shown["job"]["error"]
    assert shown["state"] == "imported"
    draft = shown["draft_revision"]
    stored = store.campus(CAMPUS, draft)
    report = client.get(f"/workspaces/{ws}/report", headers=editor).json()
    assert report["revision"] == draft
    assert set(report["residuals"]) == {"Erdgeschoß (Architekt).dxf"}  # named as uploaded
    rooms_stored = sum(1 for u in stored.units if not u.approximate)
    assert report["counts"]["rooms"] == rooms_stored == held["RAUM"]["closed_outlines"]
    assert report["counts"]["exterior_doors"] == len(stored.exterior_doors()) > 0
    assert isinstance(report["findings"], list)
    assert identity(store).campus_owner(CAMPUS) is not None  # the workspace's district's
    # officers see nothing of a draft
    assert client.get(f"/campuses/{CAMPUS}", headers=officer).status_code == 404

    # fix a room number: a new draft revision; the imported one is unchanged
    room = next(u for u in stored.units if u.number and not u.approximate)
    new_number = "9" + room.number
    r = client.post(f"/workspaces/{ws}/edits", headers=editor, json={
        "edits": [{"op": "room", "unit_id": room.id, "number": new_number}]})
    assert r.status_code == 200, r.text
    fixed = r.json()["revision"]
    assert fixed > draft
    assert next(u for u in store.campus(CAMPUS, draft).units if u.id == room.id).number \
        == room.number
    (kept,) = client.get(f"/workspaces/{ws}/edits", headers=editor).json()["edits"]
    assert {k: kept[k] for k in ("op", "unit_id", "number")} == {
        "op": "room", "unit_id": room.id, "number": new_number}
    assert (kept["was_number"], kept["level_id"]) == (room.number, room.level_id)  # its place

    # publish through the existing route; the officer's lookup finds the new number
    r = client.post(f"/campuses/{CAMPUS}/revisions/{fixed}/publish", headers=editor,
                    json={"expect_current": None})
    assert r.status_code == 200, r.text
    answer = client.get(f"/campuses/{CAMPUS}/lookup", params={"q": f"room {new_number}"},
                        headers=officer).json()
    assert answer["status"] == "found", answer
    assert answer["candidates"][0]["feature_id"] == room.id
    assert answer["candidates"][0]["unit_number"] == new_number

    # a re-import applies the kept fix again
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    again = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert again["draft_revision"] > fixed
    reimported = store.campus(CAMPUS, again["draft_revision"])
    assert next(u for u in reimported.units if u.id == room.id).number == new_number

    # every step was audited
    store.flush_audit()
    actions = {e.action for e in store.audit_log(campus_id=CAMPUS, limit=500)}
    assert {"workspace_create", "workspace_upload", "workspace_preview", "workspace_fit",
            "workspace_drawing", "workspace_import", "workspace_report",
            "workspace_edits", "publish"} <= actions
    # the uploads are kept privately, by their SHA-256
    folder = workspace_dir(app_settings.data_dir, ws)
    assert folder.stat().st_mode & 0o777 == 0o700
    names = {p.name for p in (folder / "files").iterdir()}
    assert any(n.startswith(shown["files"][0]["sha256"]) for n in names)


def test_door_number_lock_and_placed_points(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], renamed_dxf: Path,
    pois_a: Path, app_settings: Settings,
) -> None:
    ws, _ = _set_up(client, editor, renamed_dxf, pois_a)
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    draft = client.get(f"/workspaces/{ws}", headers=editor).json()["draft_revision"]
    campus = store.campus(CAMPUS, draft)
    first, second = campus.exterior_doors()[:2]
    centre = campus.buildings[0].footprint.centroid
    r = client.post(f"/workspaces/{ws}/edits", headers=editor, json={"edits": [
        {"op": "door_number", "opening_id": first.id, "number": str(second.number),
         "locked": True},
        {"op": "main_entrance", "opening_id": second.id},
        {"op": "place", "kind": "knox_box", "name": "Knox box north",
         "lonlat": [centre.x, centre.y]},
        {"op": "remove_point", "amenity_id": campus.amenities[0].id}]})
    assert r.status_code == 200, r.text
    placed = r.json()["placed"]
    edited = store.campus(CAMPUS, r.json()["revision"])
    doors = {o.id: o for o in edited.openings}
    assert doors[first.id].number == second.number
    assert doors[second.id].number == first.number and doors[second.id].main_entrance
    assert placed[0] in {a.id for a in edited.amenities}
    assert campus.amenities[0].id not in {a.id for a in edited.amenities}
    # the lock survives a re-import
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    again = store.campus(CAMPUS, client.get(f"/workspaces/{ws}",
                                            headers=editor).json()["draft_revision"])
    assert {o.id: o.number for o in again.openings}[first.id] == second.number
    # nothing published yet: the marked entrance went into the manifest, so the new import
    # numbered the doors from it (the entrance is door 1, but for the locked number's swap)
    manifest = tomllib.loads((workspace_dir(app_settings.data_dir, ws) / "campus.toml")
                             .read_text())
    assert manifest["buildings"][0]["main_entrance"]["level"] == 0
    doors = {o.id: o for o in again.openings}
    assert doors[second.id].main_entrance
    if second.number != "1":  # else the lock swapped "1" away from the entrance
        assert doors[second.id].number == "1"
    numbers = [o.number for o in again.exterior_doors()]
    assert len(numbers) == len(set(numbers))


def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], renamed_dxf: Path,
    tmp_path: Path, pois_a: Path, app_settings: Settings,
) -> None:
    ws, drawing = _set_up(client, editor, renamed_dxf, pois_a)
    before = len(workspaces(store).get(ws).files)
    folder = workspace_dir(app_settings.data_dir, ws)
    on_disk = sorted(p.relative_to(folder) for p in folder.rglob("*"))

    def refused(r: Any, status: int, *words: str) -> None:
        assert r.status_code == status, r.text
        message = r.json()["error"]["message"]
        for word in words:
            assert word.lower() in message.lower(), message

    dwg = tmp_path / "plan.dwg"
    dwg.write_bytes(b"AC1032" + bytes(200))
    refused(_upload(client, editor, ws, dwg), 400, "DWG", "DXF", "ODA")
    named_dxf = tmp_path / "not-really.dxf"
    named_dxf.write_text("hello, this is a letter\n")
    refused(_upload(client, editor, ws, named_dxf), 400, "not-really.dxf")
    refused(client.post(f"/workspaces/{ws}/files", headers=editor,
                        files={"file": ("empty.dxf", b"")}), 400, "empty")
    refused(client.post(f"/workspaces/{ws}/files", headers=editor, data={"x": "y"}), 400,
            "file")
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../outside.dxf", renamed_dxf.read_bytes())
    refused(client.post(f"/workspaces/{ws}/files", headers=editor,
                        files={"file": ("plans.zip", evil.getvalue())}), 400, "outside")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.dxf", b"0" * 5_000_000)
    refused(client.post(f"/workspaces/{ws}/files", headers=editor,
                        files={"file": ("bomb.zip", bomb.getvalue())}), 400, "zip")
    only_dwg = io.BytesIO()
    with zipfile.ZipFile(only_dwg, "w") as zf:
        zf.writestr("old/plan.dwg", b"AC1027" + bytes(64))
    refused(client.post(f"/workspaces/{ws}/files", headers=editor,
                        files={"file": ("old-plans.zip", only_dwg.getvalue())}), 400,
            "old-plans.zip", "DWG")
    assert len(workspaces(store).get(ws).files) == before
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == on_disk  # no leftovers

    # a layer the drawing does not have: named, with the ones it has
    r = client.put(f"/workspaces/{ws}/drawings/{drawing}", headers=editor, json={
        "building_id": "A", "building_name": "Main", "level_ordinal": 0, "level_name": "1",
        "level_short_name": "1", "layers": {"rooms": "A-AREA"}})
    refused(r, 400, "A-AREA", "RAUM")
    # NaN coordinates (Python's JSON reads them), bad JSON, out-of-range lon/lat
    nan = ('{"control_points": [{"cad": [NaN, 0], "lonlat": [-84.43, 42.7]}, '
           '{"cad": [1, 0], "lonlat": [-84.42, 42.7]}]}')
    r = client.post(f"/workspaces/{ws}/fit", headers={**editor,
                    "Content-Type": "application/json"}, content=nan)
    refused(r, 422, "finite")
    r = client.post(f"/workspaces/{ws}/fit", headers={**editor,
                    "Content-Type": "application/json"}, content="{not json")
    assert r.status_code == 422
    r = client.post(f"/workspaces/{ws}/fit", headers=editor, json={"control_points": [
        {"cad": [0, 0], "lonlat": [42.7, -184.43]}, {"cad": [1, 0], "lonlat": [1, 1]}]})
    refused(r, 422, "longitude")
    # unknown ids
    refused(client.get("/workspaces/ws_0123456789abcdef01234567", headers=editor), 404,
            "unknown workspace")
    refused(client.get(f"/workspaces/{ws}/drawings/wd_0123/preview.geojson", headers=editor),
            404, "no drawing")
    # a DXF chosen as the parcel: named as the wrong kind
    dxf_file = next(f.id for f in workspaces(store).get(ws).files if f.kind.value == "dxf")
    refused(client.put(f"/workspaces/{ws}/settings", headers=editor,
                       json={"parcel_file": dxf_file}), 400, "dxf")
    # edits before any import, and of a room that does not exist
    refused(client.post(f"/workspaces/{ws}/edits", headers=editor,
                        json={"edits": [{"op": "room", "unit_id": "x", "number": "1"}]}),
            409, "import")
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    revisions = len(store.revisions(CAMPUS))
    refused(client.post(f"/workspaces/{ws}/edits", headers=editor,
                        json={"edits": [{"op": "room", "unit_id": "no-such-room",
                                         "number": "1"}]}), 422, "no-such-room")
    refused(client.post(f"/workspaces/{ws}/edits", content='{"edits": [{"op": "place", '
                        '"kind": "aed", "lonlat": [1e400, 42.7]}]}',
                        headers={**editor, "Content-Type": "application/json"}), 422, "finite")
    assert len(store.revisions(CAMPUS)) == revisions  # nothing stored


def test_an_upload_over_the_limit_is_413(
    store: SqlCampusStore, app_settings: Settings, editor: dict[str, str], renamed_dxf: Path,
) -> None:
    small = app_settings.model_copy(update={"workspace_file_max_mb": 0.01})
    with TestClient(create_app(small, store), base_url="http://127.0.0.1") as c:
        ws = _new(c, editor)
        r = _upload(c, editor, ws, renamed_dxf)
        assert r.status_code == 413, r.text
        assert "GRIDMAP_WORKSPACE_FILE_MAX_MB" in r.json()["error"]["message"]
        assert workspaces(store).get(ws).files == ()


def test_a_zip_of_drawings_and_a_shapefile(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], renamed_dxf: Path,
    tmp_path: Path, app_settings: Settings,
) -> None:
    import geopandas as gpd

    from api.workspace_files import analyse_upload

    parcel = gpd.read_file(SAMPLE / "parcel.geojson")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    parcel.to_file(shp_dir / "parcel.shp")
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(renamed_dxf, "plans/EG.dxf")
        zf.write(SAMPLE / "A_level2.dxf", "plans/OG.dxf")
        zf.writestr("plans/old.dwg", b"AC1027" + bytes(100))
        for part in shp_dir.iterdir():
            zf.write(part, f"gis/{part.name}")
    ws = _new(client, editor)
    r = client.post(f"/workspaces/{ws}/files", headers=editor,
                    files={"file": ("everything.zip", packed.getvalue())})
    assert r.status_code == 202, r.text
    body = r.json()
    assert {f["kind"] for f in body["files"]} == {"dxf", "parcel"}
    assert [s["name"] for s in body["skipped"]] == ["everything.zip/plans/old.dwg"]
    assert "DWG" in body["skipped"][0]["why"]
    (analysis,) = body["analyses"]  # one job reads both drawings of the zip
    assert analysis["name"] == "everything.zip"
    _run_jobs(client)
    drawings = client.get(f"/workspaces/{ws}", headers=editor).json()["drawings"]
    assert sorted(d["name"] for d in drawings) == ["plans/EG.dxf", "plans/OG.dxf"]
    assert [d["settings"]["level_ordinal"] for d in drawings] == [0, 1]
    og = next(d for d in drawings if d["name"] == "plans/OG.dxf")
    assert og["proposal"]["rooms"] == "A-AREA"
    # the job run again (its worker died after keeping the drawings): nothing kept twice
    job = client.app.state.jobs.queue.get(analysis["job"])  # type: ignore[attr-defined]
    dxf_file = next(f["id"] for f in body["files"] if f["kind"] == "dxf")
    assert job.parameters["members"] == ["plans/EG.dxf", "plans/OG.dxf"]
    heard: list[int] = []
    analyse_upload(store, app_settings, ws, dxf_file, job.parameters["members"],
                   lambda percent, _: heard.append(percent))
    assert [d.id for d in workspaces(store).get(ws).drawings] == [d["id"] for d in drawings]
    assert heard == [95]  # no drawing read again
    # removing the zip removes its drawings, their bytes and previews; the parcel choice
    # stays with the shapefile
    folder = workspace_dir(app_settings.data_dir, ws)
    kept = {p.name for p in folder.rglob("*") if p.is_file()}
    assert {"EG.dxf", "OG.dxf"} <= kept
    assert {f"{d['id']}.entities.json" for d in drawings} <= kept
    r = client.delete(f"/workspaces/{ws}/files/{dxf_file}", headers=editor)
    assert r.status_code == 200 and len(r.json()["drawings"]) == 2
    assert client.get(f"/workspaces/{ws}", headers=editor).json()["drawings"] == []
    left = {p.name for p in folder.rglob("*") if p.is_file()}
    assert not left & ({"EG.dxf", "OG.dxf"} | {f"{d['id']}.entities.json" for d in drawings})
    assert "parcel.shp" in left
    shapefile = next(f["id"] for f in body["files"] if f["kind"] == "parcel")
    r = client.get(f"/workspaces/{ws}/files/{shapefile}/features.geojson", headers=editor)
    assert r.status_code == 200 and r.json()["features"]  # the zip's parcel is still there


def test_who_may_work_on_a_workspace(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], officer: dict[str, str],
    other_editor: dict[str, str], district: Organisation,
) -> None:
    ws = _new(client, editor)
    assert client.get(f"/workspaces/{ws}").status_code == 401
    r = client.get(f"/workspaces/{ws}", headers=officer)  # same district, no right: 403
    assert r.status_code == 403, r.text
    for method, path in (("GET", f"/workspaces/{ws}"), ("DELETE", f"/workspaces/{ws}"),
                         ("POST", f"/workspaces/{ws}/import")):
        r = client.request(method, path, headers=other_editor)  # another district: hidden
        assert r.status_code == 404, r.text
        assert ws not in r.text or "unknown workspace" in r.text
    assert client.get("/workspaces", headers=other_editor).json()["workspaces"] == []
    assert [w["id"] for w in client.get("/workspaces", headers=editor).json()["workspaces"]] \
        == [ws]
    assert client.get("/workspaces", headers=officer).status_code == 403
    # a campus another district owns cannot get a workspace of yours
    store_campus = store.campus  # noqa: F841 - only the owner matters here
    from tests.campus_factory import small_campus

    store.save_revision(small_campus(), source="tests")
    identity(store).assign_campus("test-campus", district.id)
    r = client.post("/workspaces", json={"campus_id": "test-campus"}, headers=other_editor)
    assert r.status_code == 404, r.text  # another district's campus is unknown to them
    r = client.post("/workspaces", json={"campus_id": "test-campus"}, headers=editor)
    assert r.status_code == 201
    assert r.json()["settings"]["campus_name"] == small_campus().name  # from the stored one
    # deleting removes the folder
    assert client.delete(f"/workspaces/{ws}", headers=editor).status_code == 200
    assert client.get(f"/workspaces/{ws}", headers=editor).status_code == 404
    store.flush_audit()
    denied = [e for e in store.audit_log(limit=500) if e.action == "denied"]
    assert any("workspace" in e.detail for e in denied)


def test_the_openapi_document_describes_the_workspace(
    client: TestClient, editor: dict[str, str],
) -> None:
    spec = client.get("/openapi.json", headers=editor).json()
    paths = {p for p in spec["paths"] if p.startswith("/workspaces")}
    assert {"/workspaces", "/workspaces/{ws_id}", "/workspaces/{ws_id}/files",
            "/workspaces/{ws_id}/fit", "/workspaces/{ws_id}/import",
            "/workspaces/{ws_id}/report", "/workspaces/{ws_id}/edits"} <= paths
    for path in paths:
        for method, op in spec["paths"][path].items():
            assert op.get("summary"), (method, path)
    upload = spec["paths"]["/workspaces/{ws_id}/files"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    for status in ("201", "202", "400"):  # kept / kept and being read / refused: examples
        example = upload["responses"][status]["content"]["application/json"]["example"]
        assert example
    assert upload["responses"]["202"]["content"]["application/json"]["example"]["analyses"]
    report = spec["paths"]["/workspaces/{ws_id}/report"]["get"]["responses"]["200"]
    assert json.dumps(report["content"]["application/json"]["example"])


def test_import_finished_keeps_the_importers_findings_and_applies_the_edits(
    store: SqlCampusStore, district: Organisation,
) -> None:
    """What the import job calls: the report holds ImportResult.findings when there are any
    (else the warnings as OTHER findings); prepare_campus applies the kept edits."""
    from dataclasses import dataclass, field

    from api.workspace import import_finished, prepare_campus
    from importers.findings import Finding, FindingKind, Severity
    from tests.campus_factory import small_campus

    campus = small_campus()
    ws = workspaces(store).create(campus_id=campus.id, name="t", org_id=district.id,
                                  created_by="tests", created_by_id=None, settings={})
    room = next(u for u in campus.units if u.number == "214")
    workspaces(store).update(ws.id, edits=[{"op": "room", "unit_id": room.id,
                                            "number": "215"}])

    @dataclass
    class Result:
        campus: Any
        warnings: list[str] = field(default_factory=lambda: ["a plain warning"])
        residuals: dict[str, float] = field(default_factory=lambda: {"a.dxf": 0.25})
        findings: list[Finding] = field(default_factory=list)

    prepared = prepare_campus(store, ws.id, campus)
    assert next(u for u in prepared.units if u.id == room.id).number == "215"
    info = store.save_revision(prepared, source="tests", publish=False)
    found = Finding(FindingKind.ROOM_WITHOUT_LABEL, "room 2F1 holds no label", Severity.WARNING,
                    source="a.dxf", at=(-84.43, 42.7), ref="2F1", action="kept unnumbered",
                    placed_on_earth=True)
    report = import_finished(store, ws.id, Result(prepared, findings=[found]), info)
    assert report["revision"] == info.number  # the edits were in: no extra revision
    assert report["findings"] == [found.to_dict()]
    assert report["counts"]["rooms"] == len([u for u in campus.units if not u.approximate])
    assert report["residuals"] == {"a.dxf": 0.25}
    # an importer that gives only warnings: they become OTHER findings; a campus stored
    # without the edits gets them as one more draft
    report = import_finished(store, ws.id, Result(campus), info.number)
    assert [f["kind"] for f in report["findings"]] == ["other"]
    assert report["findings"][0]["message"] == "a plain warning"
    assert report["revision"] == info.number + 1
    stored = store.campus(campus.id, report["revision"])
    assert next(u for u in stored.units if u.id == room.id).number == "215"
    kept = workspaces(store).get(ws.id)
    assert (kept.draft_revision, kept.state.value) == (report["revision"], "imported")


def test_partial_updates_keep_the_rest_and_a_stale_edit_is_a_conflict(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], renamed_dxf: Path,
    pois_a: Path, tmp_path: Path,
) -> None:
    from api.workspace import save_edits
    from gridmap.errors import Conflict

    ws, drawing = _set_up(client, editor, renamed_dxf, pois_a)
    before = workspaces(store).get(ws)
    r = client.put(f"/workspaces/{ws}/settings", headers=editor, json={"address": "1 Road"})
    assert r.status_code == 200, r.text
    assert r.json()["parcel_file"] == before.settings["parcel_file"] is not None
    assert r.json()["address"] == "1 Road"
    r = client.put(f"/workspaces/{ws}/drawings/{drawing}", headers=editor, json={
        "building_id": "A", "building_name": "Main", "level_ordinal": 0, "level_name": "EG",
        "level_short_name": "1"})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["layers"] == before.drawing(drawing).settings["layers"]
    assert len(r.json()["settings"]["control_points"]) == 4  # kept

    # a drawing that does not say its unit: the import asks for one, naming the drawing
    doc = readfile(renamed_dxf)
    doc.header["$INSUNITS"] = 0
    unitless = tmp_path / "ohne-einheit.dxf"
    doc.saveas(unitless)
    other = _new(client, editor, "unitless-school")
    (d,) = _upload_drawing(client, editor, other, unitless)
    client.put(f"/workspaces/{other}/drawings/{d['id']}", headers=editor, json={
        "building_id": "A", "building_name": "Main", "level_ordinal": 0, "level_name": "EG",
        "level_short_name": "E", "unit": None, "control_points": sample_control_points()})
    _upload(client, editor, other, SAMPLE / "parcel.geojson")
    r = client.post(f"/workspaces/{other}/import", headers=editor)
    assert r.status_code == 409, r.text
    assert "ohne-einheit.dxf" in r.json()["error"]["message"]
    assert "unit" in r.json()["error"]["message"]

    # two editors fixing the same draft: the second, stale one is refused, nothing lost
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["job"]["state"] == "done", shown["job"]["error"]
    stale = workspaces(store).get(ws)
    campus = store.campus(stale.campus_id, stale.draft_revision)
    first, second = [u for u in campus.units if u.number][:2]
    save_edits(store, stale, [{"op": "room", "unit_id": first.id, "name": "First"}],
               actor="one")
    revisions = len(store.revisions(stale.campus_id))
    with pytest.raises(Conflict) as refused:
        save_edits(store, stale, [{"op": "room", "unit_id": second.id, "name": "Second"}],
                   actor="two")
    assert "changed it meanwhile" in refused.value.user_message
    assert len(store.revisions(stale.campus_id)) == revisions  # nothing stored
    assert [e["unit_id"] for e in workspaces(store).get(ws).edits] == [first.id]


@pytest.mark.parametrize(("head", "name", "kind"), [
    (b"  0\nSECTION\n  2\nHEADER\n", "plan.dxf", "dxf"),
    (b"0\r\nSECTION\r\n2\r\nENTITIES\r\n", "headerless.DXF", "dxf"),  # no HEADER
    (b"999\nmade by a CAD program\n  0\nSECTION\n", "commented.dxf", "dxf"),
    (b"AutoCAD Binary DXF\r\n\x1a\x00", "binary.dxf", "dxf"),
    (b"AC1032\x00\x00\x00", "plan.dwg", "dwg"),
    (b"AC1015\x00", "renamed-dwg.dxf", "dwg"),  # a DWG named .dxf is still a DWG
    (b"PK\x03\x04rest", "plans.zip", "zip"),
    (b"II*\x00", "ortho.tif", "tiff"),
    (b'{"type": "FeatureCollection"', "parcel.json", "geojson"),
    (b'<?xml version="1.0"?><kml xmlns="x">', "parcel.kml", "kml"),
    (b"<?xml version='1.0'?>\n<osm version='0.6'>", "school.osm", "osm"),
    (b"\x1f\x8b\x08\x00", "school.osm.gz", "osm.gz"),
    (b"kind,name,lon,lat\naed,AED,-84.4,42.7\n", "points.csv", "csv"),
    (b"\xef\xbb\xbfkind,name,lon,lat\n", "excel.csv", "csv"),
    (b"Dear facilities team,\n", "letter.dxf", "unknown"),
    (b"kind;name;lon;lat\naed;AED;-84,4;42,7\n", "european.csv", "unknown"),
    (b"\xff\xfek\x00i\x00n\x00d\x00", "unicode.csv", "unknown"),
    (b"\x00\x01\x02binary", "blob.bin", "unknown"),
])
def test_files_are_told_apart_by_their_content(head: bytes, name: str, kind: str) -> None:
    from api.workspace_files import sniff

    found = sniff(head, name)
    assert found.kind == kind
    if kind in ("dwg", "unknown"):
        assert name in found.why  # the refusal names the file
    if name.endswith(".csv") and kind == "unknown":
        assert "CSV UTF-8" in found.why  # and how to save it right


@pytest.mark.parametrize("source", ["osm/school.osm", "imdf/school.zip",
                                    "imdf/nonconforming.zip"])
def test_a_campus_from_an_indoor_file_alone(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], source: str,
) -> None:
    """An OpenStreetMap indoor file or an IMDF archive is a campus by itself: no drawing,
    no control points; its report counts what the file holds."""
    path = ROOT / "tests" / "fixtures" / source
    ws = _new(client, editor, "indoor-school")
    r = _upload(client, editor, ws, path)
    assert r.status_code == 201, r.text
    assert r.json()["file"]["kind"] == ("osm" if source.endswith(".osm") else "imdf")
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["job"]["state"] == "done", shown["job"]["error"]
    campus = store.campus("indoor-school", shown["draft_revision"])
    report = client.get(f"/workspaces/{ws}/report", headers=editor).json()
    assert report["counts"]["buildings"] == len(campus.buildings) > 0
    assert report["counts"]["rooms"] == sum(1 for u in campus.units if not u.approximate) > 0


def test_a_drawing_with_geodata_is_placed_by_it(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], tmp_path: Path,
) -> None:
    """A drawing carrying its own georeference (GEODATA) needs no control points: the
    workspace says it has one, uses it by default, and the import puts the building where
    the sample's generator drew it."""
    from gridmap.crs import LocalFrame
    from tests.test_geodata import _geodata_for_building_c, gen

    path = tmp_path / "C_level1.dxf"
    path.write_bytes((SAMPLE / "C_level1.dxf").read_bytes())
    _geodata_for_building_c(path)
    ws = _new(client, editor, "geodata-school")
    (drawing,) = _upload_drawing(client, editor, ws, path)
    assert drawing["has_geodata"] and drawing["settings"]["use_geodata"]
    r = client.put(f"/workspaces/{ws}/drawings/{drawing['id']}", headers=editor, json={
        "building_id": "C", "building_name": "Early Childhood Center", "level_ordinal": 0,
        "level_name": "1st Floor", "level_short_name": "1"})
    assert r.status_code == 200, r.text
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["job"]["state"] == "done", shown["job"]["error"]
    campus = store.campus("geodata-school", shown["draft_revision"])
    (building,) = campus.buildings
    frame = LocalFrame(campus.crs)
    outline = frame.to_local(building.footprint).exterior
    for corner in ((0.0, 0.0), (100.0, 0.0), (100.0, 60.0), (0.0, 60.0)):
        truth = frame.to_local(Point(*gen.cad_to_lonlat("C", *corner)))
        assert outline.distance(truth) < 1.0, corner


def test_a_drawing_too_costly_to_read_fails_its_analysis_and_keeps_nothing(
    store: SqlCampusStore, app_settings: Settings, editor: dict[str, str], tmp_path: Path,
) -> None:
    """Drawings are read by a job, in a child process under the import's limits: the upload
    answers at once (202); a drawing over the limits fails its analysis with the problem
    named, the file is removed with its bytes, and the service answers as usual. The drawing
    (600 rooms) takes seconds to read on any machine, far over the 0.2 s allowed here."""
    from bench.big_floor_plan import write_floor_plan

    costly = write_floor_plan(tmp_path / "Erdgeschoss.dxf", rooms=600).path
    tight = app_settings.model_copy(update={"import_time_limit_s": 0.2})
    with TestClient(create_app(tight, store), base_url="http://127.0.0.1") as c:
        ws = _new(c, editor)
        folder = workspace_dir(app_settings.data_dir, ws)
        before = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
        r = _upload(c, editor, ws, costly)
        assert r.status_code == 202, r.text  # kept at once; not read yet
        (analysis,) = r.json()["analyses"]
        assert len(workspaces(store).get(ws).files) == 1
        _run_jobs(c)
        view = c.get(f"/workspaces/{ws}", headers=editor).json()
        (failed,) = view["analyses"]
        assert failed["job"] == analysis["job"] and failed["state"] == "failed"
        assert failed["name"] == "Erdgeschoss.dxf"
        assert "reading Erdgeschoss.dxf took longer than" in failed["error"]
        assert view["files"] == [] and view["drawings"] == []  # nothing kept
        assert workspaces(store).get(ws).files == ()
        after = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
        assert after == before  # its bytes are gone too
        job = c.app.state.jobs.queue.get(analysis["job"])  # type: ignore[attr-defined]
        assert job.state.value == "failed" and job.error == failed["error"]
        assert c.get(f"/workspaces/{ws}", headers=editor).status_code == 200


def test_an_upload_answers_before_its_drawings_are_read(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], renamed_dxf: Path,
    app_settings: Settings,
) -> None:
    """The same drawing again while it is read answers with its job (202), not a second one;
    a workspace with a drawing being read is not imported (409 naming it), nor one whose
    analysis was lost (its worker died: the file is removed, the failure named); a file
    removed while its job waits leaves the job nothing to do."""
    from api.jobs import JobState

    ws = _new(client, editor)
    first = _upload(client, editor, ws, renamed_dxf)
    again = _upload(client, editor, ws, renamed_dxf)
    assert first.status_code == again.status_code == 202, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["analyses"][0]["job"] == first.json()["analyses"][0]["job"]
    r = client.post(f"/workspaces/{ws}/import", headers=editor)
    assert r.status_code == 409 and renamed_dxf.name in r.json()["error"]["message"]

    # the job ends without the worker reading it (cancelled, as a lost worker's job fails)
    queue = client.app.state.jobs.queue  # type: ignore[attr-defined]
    queue.cancel(first.json()["analyses"][0]["job"])
    view = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert view["files"] == [] and view["analyses"][0]["state"] == "failed"
    folder = workspace_dir(app_settings.data_dir, ws)
    assert not any(p.suffix == ".dxf" for p in folder.rglob("*"))

    # removed while queued: the job finds nothing to read and ends quietly
    second = _upload(client, editor, ws, renamed_dxf)
    assert second.status_code == 202
    file_id = second.json()["file"]["id"]
    assert client.delete(f"/workspaces/{ws}/files/{file_id}", headers=editor).status_code == 200
    _run_jobs(client)
    job = queue.get(second.json()["analyses"][0]["job"])
    assert job.state is JobState.DONE and "removed" in job.message
    assert workspaces(store).get(ws).drawings == ()


def test_an_indoor_file_the_import_would_refuse_is_refused_at_upload(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], tmp_path: Path,
) -> None:
    """OSM and IMDF uploads are read at once, under the import's limits, as the import will
    read them: one it would refuse is refused now, named as uploaded; a good one says what it
    holds."""
    empty = tmp_path / "Schulhaus.osm"
    empty.write_text("<?xml version='1.0'?>\n<osm version='0.6'></osm>\n")
    ws = _new(client, editor, "indoor-check")
    r = _upload(client, editor, ws, empty)
    assert r.status_code == 400, r.text
    assert "Schulhaus.osm" in r.json()["error"]["message"]
    assert workspaces(store).get(ws).files == ()
    good = _upload(client, editor, ws, ROOT / "tests" / "fixtures" / "osm" / "school.osm")
    assert good.status_code == 201, good.text
    assert good.json()["file"]["detail"]["counts"]["buildings"] > 0
