"""A workspace's uploaded photo: checked at upload, drawn as tiles for its editors only, and
the campus's imagery once the workspace's draft is published. On SQLite and PostgreSQL.

The photos are built in code (rasterio writes them, in UTM): a colour gradient with a red
marker at a known longitude/latitude. The oracle for placement is the tile arithmetic of web
mercator: the marker must be red in the served tile at the pixel its longitude/latitude names.
"""

from __future__ import annotations

import dataclasses
import io
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Transformer

from api import imagery as api_imagery
from api import workspace_imagery
from api.app import create_app
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation, OrgKind, identity
from api.store_workspace import workspace_dir, workspaces
from gridmap.model import Campus

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"
NEW_CAMPUS = "photo-school"
#: the sample's (and the test campus's) neighbourhood: a photo here covers both
CENTRE = (-84.4297, 42.7000)
RED = (255, 0, 0)


# --- photos built in code ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Photo:
    data: bytes
    marker: tuple[float, float]  # lon, lat of the red marker's centre


def photo(centre: tuple[float, float] = CENTRE, *, size: tuple[int, int] = (500, 360),
          pixel_m: float = 1.0, dtype: str = "uint8", georeferenced: bool = True,
          crs: str = "EPSG:32616") -> Photo:
    """A GeoTIFF (default UTM 16N) centred on ``centre``: a green-blue gradient, a 5 x 5 red
    marker in its middle."""
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    cx, cy = to_crs.transform(*centre)
    width, height = size
    if crs == "EPSG:4326":  # degrees: about pixel_m on the ground
        xres = pixel_m / (111_320.0 * math.cos(math.radians(centre[1])))
        yres = pixel_m / 110_574.0
    else:
        xres = yres = pixel_m
    transform = from_origin(cx - width / 2 * xres, cy + height / 2 * yres, xres, yres)
    rows, cols = np.mgrid[0:height, 0:width]
    pixels = np.empty((3, height, width), dtype=dtype)
    pixels[0] = 40
    pixels[1] = 80 + (cols * 120 // width)
    pixels[2] = 60 + (rows * 120 // height)
    mr, mc = height // 2, width // 2
    for band, value in enumerate(RED):
        pixels[band, mr - 2:mr + 3, mc - 2:mc + 3] = value
    mx, my = transform @ (mc + 0.5, mr + 0.5)
    marker = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(mx, my)
    options: dict[str, Any] = {"driver": "GTiff", "width": width, "height": height, "count": 3,
                               "dtype": dtype, "photometric": "RGB"}
    if georeferenced:
        options.update(crs=crs, transform=transform)
    with MemoryFile() as memfile:
        with memfile.open(**options) as dst:
            dst.write(pixels)
        return Photo(bytes(memfile.read()), (float(marker[0]), float(marker[1])))


def tile_pixel(lon: float, lat: float, z: int) -> tuple[int, int, int, int]:
    """The XYZ tile holding lon/lat at zoom z, and the pixel (column, row) in its 256 px."""
    n = 2**z
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return int(fx), int(fy), int((fx % 1) * 256), int((fy % 1) * 256)


def rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


# --- the app ----------------------------------------------------------------------------------


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_workers": 0})  # the tests turn the worker


@pytest.fixture
def client(app_settings: Settings, store: SqlCampusStore) -> Iterator[TestClient]:
    api_imagery.clear_tile_cache()
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
def other_editor(store: SqlCampusStore) -> dict[str, str]:
    other = identity(store).create_org("Other district", OrgKind.DISTRICT)
    return _token(store, other, Role.EDITOR, "other facilities")


def _new(client: TestClient, headers: dict[str, str], campus: str = NEW_CAMPUS) -> str:
    r = client.post("/workspaces", json={"campus_id": campus, "campus_name": "Photo School"},
                    headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _upload(client: TestClient, headers: dict[str, str], ws: str, name: str,
            data: bytes) -> Any:
    return client.post(f"/workspaces/{ws}/files", headers=headers, files={"file": (name, data)})


def _tile_url(ws: str, file_id: str, z: int, x: int, y: int, r: str = "") -> str:
    return f"/workspaces/{ws}/files/{file_id}/imagery/{z}/{x}/{y}{r}.png"


def _run_jobs(client: TestClient) -> None:
    worker = client.app.state.jobs.worker()  # type: ignore[attr-defined]
    while worker.run_one() is not None:
        pass


def _actions(store: SqlCampusStore, campus_id: str | None) -> list[tuple[str, str]]:
    store.flush_audit()
    return [(e.action, e.detail) for e in store.audit_log(campus_id=campus_id, limit=500)]


# --- tiles ------------------------------------------------------------------------------------


def test_the_uploaded_photo_is_drawn_for_the_workspaces_editors(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str],
    app_settings: Settings,
) -> None:
    ws = _new(client, editor)
    shot = photo()
    r = _upload(client, editor, ws, "Luftbild 2026.tif", shot.data)
    assert r.status_code == 201, r.text
    record = r.json()["file"]
    assert record["kind"] == "imagery"
    west, south, east, north = record["detail"]["bounds"]
    assert west < shot.marker[0] < east and south < shot.marker[1] < north
    # the web mercator copy is kept privately beside the upload
    copy = workspace_imagery.prepared_path(workspace_dir(app_settings.data_dir, ws),
                                           record["sha256"])
    assert copy.is_file() and copy.stat().st_mode & 0o777 == 0o600

    z = 18
    x, y, col, row = tile_pixel(*shot.marker, z)
    r = client.get(_tile_url(ws, record["id"], z, x, y), headers=editor)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"].startswith("private")
    etag = r.headers["etag"]
    pixels = rgba(r.content)
    assert pixels.shape == (256, 256, 4)
    near = pixels[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2]
    assert (near[..., 3] == 255).all()
    red = near[..., 0].astype(int) - near[..., 1].astype(int)
    assert red.max() > 120, near[..., :3].tolist()  # the marker, where its lon/lat says
    # the rest of the tile is the gradient (green-blue), not blank
    assert (pixels[..., 3] == 255).mean() > 0.99
    assert np.median(pixels[..., 1]) > np.median(pixels[..., 0])
    # revalidation: the same ETag is a 304, no drawing
    again = client.get(_tile_url(ws, record["id"], z, x, y),
                       headers={**editor, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    # @2x: 512 px of the same place
    double = client.get(_tile_url(ws, record["id"], z, x, y, "@2x"), headers=editor)
    assert double.status_code == 200 and rgba(double.content).shape == (512, 512, 4)
    # a tile beside the photo is transparent, not an error
    far = client.get(_tile_url(ws, record["id"], z, x + 40, y), headers=editor)
    assert far.status_code == 200 and (rgba(far.content)[..., 3] == 0).all()
    # the tiles were audited (once a minute per token and campus), under the workspace
    tiles = [d for a, d in _actions(store, NEW_CAMPUS) if a == "tiles"]
    assert any(ws in d and record["id"] in d for d in tiles), tiles


def test_tiles_only_for_the_right_editor_and_only_of_a_photo(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str],
    officer: dict[str, str], other_editor: dict[str, str],
) -> None:
    ws = _new(client, editor)
    shot = photo()
    record = _upload(client, editor, ws, "photo.tif", shot.data).json()["file"]
    parcel = _upload(client, editor, ws, "parcel.geojson",
                     (SAMPLE / "parcel.geojson").read_bytes()).json()["file"]
    x, y, _, _ = tile_pixel(*shot.marker, 17)
    url = _tile_url(ws, record["id"], 17, x, y)
    # another district's editor: the workspace does not exist for them
    r = client.get(url, headers=other_editor)
    assert r.status_code == 404 and r.json()["error"]["type"] == "WorkspaceNotFound"
    assert r.headers["content-type"].startswith("application/json")
    # an officer of the district may not edit: 403
    assert client.get(url, headers=officer).status_code == 403
    # no credentials
    assert client.get(url).status_code == 401
    # not a photo, an unknown file, an unknown workspace: 404
    r = client.get(_tile_url(ws, parcel["id"], 17, x, y), headers=editor)
    assert r.status_code == 404 and "parcel" in r.json()["error"]["message"]
    assert client.get(_tile_url(ws, "wf_0123456789ab", 17, x, y),
                      headers=editor).status_code == 404
    assert client.get(_tile_url("ws_0123456789ab", record["id"], 17, x, y),
                      headers=editor).status_code == 404
    # a tile that cannot exist is a clear 4xx
    r = client.get(_tile_url(ws, record["id"], 2, 9, 0), headers=editor)
    assert 400 <= r.status_code < 500 and "2^2" in r.text
    # the refusals were audited
    denied = [d for a, d in _actions(store, None) if a == "denied"]
    assert any("403" in d and "/imagery/" in d for d in denied), denied
    assert any("404" in d and "/imagery/" in d for d in denied), denied


def test_a_workspace_of_a_stored_campus_is_another_districts_404(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus, editor: dict[str, str],
    other_editor: dict[str, str],
) -> None:
    ws = _new(client, editor, stored_campus.id)
    shot = photo()
    record = _upload(client, editor, ws, "photo.tif", shot.data).json()["file"]
    x, y, _, _ = tile_pixel(*shot.marker, 17)
    url = _tile_url(ws, record["id"], 17, x, y)
    assert client.get(url, headers=editor).status_code == 200
    r = client.get(url, headers=other_editor)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert "error" in r.json() and "etag" not in r.headers


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857", "EPSG:26916"])
def test_a_photo_in_any_crs_is_placed_where_it_belongs(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], crs: str,
) -> None:
    ws = _new(client, editor)
    shot = photo(crs=crs, pixel_m=0.5, size=(400, 300))
    record = _upload(client, editor, ws, "photo.tif", shot.data).json()["file"]
    assert record["detail"]["source_crs"] == crs
    x, y, col, row = tile_pixel(*shot.marker, 19)
    r = client.get(_tile_url(ws, record["id"], 19, x, y), headers=editor)
    near = rgba(r.content)[max(row - 2, 0):row + 3, max(col - 2, 0):col + 3]
    assert (near[..., 0].astype(int) - near[..., 1].astype(int)).max() > 120, crs


def test_removing_the_photo_drops_its_copy_and_its_tiles(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], app_settings: Settings,
) -> None:
    ws = _new(client, editor)
    shot = photo()
    record = _upload(client, editor, ws, "photo.tif", shot.data).json()["file"]
    copy = workspace_imagery.prepared_path(workspace_dir(app_settings.data_dir, ws),
                                           record["sha256"])
    assert copy.is_file()
    assert client.delete(f"/workspaces/{ws}/files/{record['id']}",
                         headers=editor).status_code == 200
    assert not copy.exists()
    x, y, _, _ = tile_pixel(*shot.marker, 17)
    assert client.get(_tile_url(ws, record["id"], 17, x, y), headers=editor).status_code == 404
    assert workspace_imagery.workspace_imagery_layer(workspaces(store).get(ws)) is None


def test_an_upload_kept_before_its_check_is_prepared_on_its_first_tile(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], app_settings: Settings,
) -> None:
    ws = _new(client, editor)
    shot = photo()
    record = _upload(client, editor, ws, "photo.tif", shot.data).json()["file"]
    folder = workspace_dir(app_settings.data_dir, ws)
    workspace_imagery.forget(folder, record["sha256"])
    api_imagery.clear_tile_cache()
    x, y, col, row = tile_pixel(*shot.marker, 18)
    r = client.get(_tile_url(ws, record["id"], 18, x, y), headers=editor)
    assert r.status_code == 200
    assert rgba(r.content)[row, col, 0] > 200
    assert workspace_imagery.prepared_path(folder, record["sha256"]).is_file()


# --- the check at upload ----------------------------------------------------------------------


@pytest.mark.parametrize(("make", "named"), [
    (lambda: photo(georeferenced=False).data, "no georeferencing|world file (.tfw)"),
    (lambda: photo(dtype="uint16").data, "uint16"),
    (lambda: photo().data[:3000], "cannot be read"),
], ids=["plain-image", "16-bit", "truncated"])
def test_an_unusable_photo_is_refused_at_upload_naming_why(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str], app_settings: Settings,
    make: Any, named: str,
) -> None:
    ws = _new(client, editor)
    r = _upload(client, editor, ws, "bad.tif", make())
    assert 400 <= r.status_code < 500, r.text
    for words in named.split("|"):
        assert words in r.json()["error"]["message"]
    assert "bad.tif" in r.json()["error"]["message"]
    assert workspaces(store).get(ws).files == ()
    folder = workspace_dir(app_settings.data_dir, ws)
    assert not list((folder / workspace_imagery.PREPARED_DIR).glob("*.tif"))


def test_a_photo_inside_a_zip_is_checked_and_drawn_too(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str],
) -> None:
    import zipfile

    ws = _new(client, editor)
    shot = photo()
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as z:
        z.writestr("site/ortho 2026.tif", shot.data)
        z.writestr("site/scan.tif", photo(georeferenced=False).data)
        z.writestr("site/parcel.geojson", (SAMPLE / "parcel.geojson").read_bytes())
    r = _upload(client, editor, ws, "site.zip", packed.getvalue())
    assert r.status_code == 201, r.text
    (record,) = [f for f in r.json()["files"] if f["kind"] == "imagery"]
    assert record["name"].endswith("ortho 2026.tif") and record["detail"]["bounds"]
    (skipped,) = r.json()["skipped"]
    assert "scan.tif" in skipped["name"] and "no georeferencing" in skipped["why"]
    x, y, col, row = tile_pixel(*shot.marker, 18)
    tile = client.get(_tile_url(ws, record["id"], 18, x, y), headers=editor)
    assert tile.status_code == 200 and rgba(tile.content)[row, col, 0] > 200


def test_the_page_layer_is_the_newest_photo(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str],
) -> None:
    ws = _new(client, editor)
    assert workspace_imagery.workspace_imagery_layer(workspaces(store).get(ws)) is None
    first = _upload(client, editor, ws, "old.tif", photo(size=(400, 300)).data).json()["file"]
    second = _upload(client, editor, ws, "new.tif", photo(size=(420, 300)).data).json()["file"]
    layer = workspace_imagery.workspace_imagery_layer(workspaces(store).get(ws))
    assert layer is not None and first["id"] != second["id"]
    assert layer["file"] == second["id"] and layer["name"] == "new.tif"
    assert layer["bounds"] == second["detail"]["bounds"]
    url = layer["url"].replace("{z}", "17").replace("{r}", "")
    x, y, _, _ = tile_pixel(*CENTRE, 17)
    assert client.get(url.replace("{x}", str(x)).replace("{y}", str(y)),
                      headers=editor).status_code == 200


# --- the campus's imagery, on publish ---------------------------------------------------------


def _control_points() -> list[dict[str, Any]]:
    manifest = tomllib.loads((SAMPLE / "campus.toml").read_text())
    building = next(b for b in manifest["buildings"] if b["id"] == "A")
    return [{"name": p["name"], "cad": p["cad"], "lonlat": p["lonlat"]}
            for p in building["control_points"]]


def test_the_photo_becomes_the_campus_imagery_when_the_draft_is_published(
    client: TestClient, store: SqlCampusStore, editor: dict[str, str],
    officer: dict[str, str],
) -> None:
    ws = _new(client, editor)
    r = _upload(client, editor, ws, "A_level1.dxf", (SAMPLE / "A_level1.dxf").read_bytes())
    assert r.status_code in (201, 202), r.text
    _run_jobs(client)  # the drawing's analysis, when it runs as a job
    drawing = client.get(f"/workspaces/{ws}", headers=editor).json()["drawings"][0]
    assert _upload(client, editor, ws, "parcel.geojson",
                   (SAMPLE / "parcel.geojson").read_bytes()).status_code == 201
    shot = photo()
    record = _upload(client, editor, ws, "Luftbild.tif", shot.data).json()["file"]
    proposal = drawing["proposal"]
    r = client.put(f"/workspaces/{ws}/drawings/{drawing['id']}", headers=editor, json={
        "building_id": "A", "building_name": "Main Building", "level_ordinal": 0,
        "level_name": "1st Floor", "level_short_name": "1",
        "layers": {role: proposal[role] for role in ("rooms", "labels", "doors", "outline")},
        "transform": "similarity", "control_points": _control_points()})
    assert r.status_code == 200, r.text
    assert client.post(f"/workspaces/{ws}/import", headers=editor).status_code == 202
    _run_jobs(client)
    shown = client.get(f"/workspaces/{ws}", headers=editor).json()
    assert shown["state"] == "imported", shown["job"]
    draft = shown["draft_revision"]
    # the import's report names the photo to come; the draft attaches nothing yet
    assert shown["report"]["imagery"]["file"] == record["id"]
    assert shown["report"]["imagery"]["attach"] == "on publish"
    assert store.imagery_info(NEW_CAMPUS) is None
    assert client.get(f"/campuses/{NEW_CAMPUS}/imagery", headers=editor).status_code == 404

    r = client.post(f"/campuses/{NEW_CAMPUS}/revisions/{draft}/publish", headers=editor,
                    json={"expect_current": None})
    assert r.status_code == 200, r.text
    meta = client.get(f"/campuses/{NEW_CAMPUS}/imagery", headers=officer)
    assert meta.status_code == 200, meta.text
    body = meta.json()
    assert body["version"] == 1 and body["source_sha256"] == record["sha256"]
    assert "Luftbild.tif" in body["source_name"] and ws in body["source_name"]
    actions = _actions(store, NEW_CAMPUS)
    attached = [d for a, d in actions if a == "imagery_attach"]
    assert len(attached) == 1 and "Luftbild.tif" in attached[0]
    # the officer's map draws it: the marker is red where its lon/lat says
    x, y, col, row = tile_pixel(*shot.marker, 18)
    tile = client.get(body["tiles"].replace("{z}/{x}/{y}{r}", f"18/{x}/{y}"), headers=officer)
    assert tile.status_code == 200
    near = rgba(tile.content)[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2]
    assert (near[..., 0].astype(int) - near[..., 1].astype(int)).max() > 120

    # publishing again (a fix, re-published) does not attach the same photo twice
    room = next(u for u in store.campus(NEW_CAMPUS, draft).units if u.number)
    r = client.post(f"/workspaces/{ws}/edits", headers=editor, json={
        "edits": [{"op": "room", "unit_id": room.id, "number": "9" + room.number}]})
    assert r.status_code == 200, r.text
    fixed = r.json()["revision"]
    assert client.post(f"/campuses/{NEW_CAMPUS}/revisions/{fixed}/publish", headers=editor,
                       json={"expect_current": draft}).status_code == 200
    assert [v.version for v in store.imagery_versions(NEW_CAMPUS)] == [1]


def _draft_with_photo(client: TestClient, store: SqlCampusStore, campus: Campus,
                      editor: dict[str, str], data: bytes) -> tuple[str, int]:
    """A workspace of the stored test campus holding a photo, whose draft is a new revision."""
    ws = _new(client, editor, campus.id)
    assert _upload(client, editor, ws, "site.tif", data).status_code == 201
    draft = store.save_revision(dataclasses.replace(campus, name=campus.name + " (new)"),
                                source="tests", publish=False).number
    workspaces(store).update(ws, draft_revision=draft)
    return ws, draft


def test_newer_campus_imagery_is_not_replaced_and_a_bad_photo_leaves_the_publish(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus, editor: dict[str, str],
) -> None:
    current = store.current_revision(stored_campus.id)
    # the campus's own imagery attached AFTER the workspace's upload wins
    ws, draft = _draft_with_photo(client, store, stored_campus, editor, photo().data)
    r = client.put(f"/campuses/{stored_campus.id}/imagery", headers=editor,
                   params={"name": "county.tif"}, content=photo(size=(480, 340)).data)
    assert r.status_code == 201, r.text
    assert client.post(f"/campuses/{stored_campus.id}/revisions/{draft}/publish",
                       headers=editor, json={"expect_current": current}).status_code == 200
    versions = store.imagery_versions(stored_campus.id)
    assert [v.source_name for v in versions] == ["county.tif"]

    # a photo that misses the buildings: refused and audited, the publish stands
    far = photo((CENTRE[0] + 0.01, CENTRE[1]))
    ws2, draft2 = _draft_with_photo(client, store, stored_campus, editor, far.data)
    r = client.post(f"/campuses/{stored_campus.id}/revisions/{draft2}/publish",
                    headers=editor, json={"expect_current": draft})
    assert r.status_code == 200, r.text
    assert store.current_revision(stored_campus.id) == draft2
    assert [v.source_name for v in store.imagery_versions(stored_campus.id)] == ["county.tif"]
    rejected = [d for a, d in _actions(store, stored_campus.id) if a == "imagery_rejected"]
    assert any("site.tif" in d and "does not cover" in d for d in rejected), rejected
    assert ws != ws2


def test_gridmap_publish_attaches_the_photo_too(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus, editor: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from api.cli import main as cli_main

    current = store.current_revision(stored_campus.id)
    ws, draft = _draft_with_photo(client, store, stored_campus, editor, photo().data)
    assert cli_main(["publish", stored_campus.id, "--revision", str(draft),
                     "--expect-current", str(current)]) == 0
    assert "imagery v1 attached" in capsys.readouterr().out
    info = store.imagery_info(stored_campus.id)
    assert info is not None and ws in info.source_name
    assert any(a == "imagery_attach" and "site.tif" in d
               for a, d in _actions(store, stored_campus.id))


def test_a_rollback_attaches_nothing(
    client: TestClient, store: SqlCampusStore, stored_campus: Campus, editor: dict[str, str],
) -> None:
    first = store.current_revision(stored_campus.id)
    ws, draft = _draft_with_photo(client, store, stored_campus, editor, photo().data)
    workspaces(store).update(ws, draft_revision=first)  # the workspace names the old one
    second = store.save_revision(stored_campus, source="tests", publish=False).number
    assert client.post(f"/campuses/{stored_campus.id}/revisions/{second}/publish",
                       headers=editor, json={"expect_current": first}).status_code == 200
    r = client.post(f"/campuses/{stored_campus.id}/revisions/{first}/rollback",
                    headers=editor, json={"expect_current": second})
    assert r.status_code == 200, r.text
    assert store.imagery_info(stored_campus.id) is None
    assert draft != first

