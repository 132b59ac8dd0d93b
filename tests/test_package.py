"""The offline package: its one PMTiles archive, its sealing, its search, and the viewer opened
from ``file://`` in headless Chromium with networking off.

Oracles: the tile renderer itself (each slot of a stacked tile is the level's own tile, pixel
for pixel, read back by pmtiles' own reader and by the page's canvas), ``cryptography`` for the
seal (the viewer's WebCrypto must open what Python sealed, and nothing else), and the server's
lookup (the offline matcher, run by Node and by the page, must give the server's top answer).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api import cli, routes_package
from api.store import SqlCampusStore
from gridmap.errors import PackageError
from gridmap.index import CampusIndex
from gridmap.lookup import lookup
from gridmap.model import Campus
from importers.campus import import_campus
from importers.imagery import use_rasterio_proj_data
from tiles import package
from tiles.package import OFFLINE_DIR, make_package, search_data, tiles_archive
from tiles.raster import render_tile
from tiles.seal import PBKDF2_ITERATIONS, Seal, derive_key, open_part
from tiles.webmap import page_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
PASSPHRASE = "correct horse battery staple"
#: Small zoom ranges keep these tests quick; the default range is measured in the README.
SAMPLE_ZOOM = (15, 18)


def _parts(zf: zipfile.ZipFile) -> dict[str, bytes]:
    """Each data part's bytes, from its ``data/<name>.js`` script."""
    out = {}
    for name in zf.namelist():
        m = re.fullmatch(r"data/(\w+)\.js", name)
        if m and m.group(1) != "seal":
            text = zf.read(name).decode("ascii")
            out[m.group(1)] = base64.b64decode(text.split('"')[-2])
    return out


def _seal(zf: zipfile.ZipFile) -> Seal:
    text = zf.read("data/seal.js").decode("ascii")
    data = json.loads(text[text.index("{"): text.rindex("}") + 1])
    return Seal(base64.b64decode(data["salt"]), data["iterations"],
                {k: base64.b64decode(v) for k, v in data["nonces"].items()})


def _reader(archive: bytes) -> Any:
    from pmtiles.reader import Reader

    return Reader(lambda offset, length: archive[offset:offset + length])  # type: ignore[no-untyped-call]


def _rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.int16)


def _same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal but for canvas rounding of translucent pixels (premultiplied alpha)."""
    if a.shape != b.shape:
        return False
    opaque = (a[..., 3] >= 128) & (b[..., 3] >= 128)
    rgb = np.abs(a[..., :3] - b[..., :3]).max(axis=-1)
    return bool(np.abs(a[..., 3] - b[..., 3]).max() <= 1 and (rgb[opaque] <= 3).all())


# --- the archive -------------------------------------------------------------------------------


def test_one_archive_stacks_every_level_of_each_tile(campus: Campus) -> None:
    archive = tiles_archive(campus, min_zoom=16, max_zoom=17)
    reader = _reader(archive)
    header, meta = reader.header(), reader.metadata()
    assert (header["min_zoom"], header["max_zoom"]) == (16, 17)
    slots = meta["gridmap:slots"]
    assert [s["ordinal"] for s in slots] == list(campus.ordinals)
    size = meta["gridmap:slot_size"]
    from pmtiles.reader import all_tiles

    found = dict(all_tiles(reader.get_bytes))  # type: ignore[no-untyped-call]
    assert found
    for (z, x, y), png in found.items():
        sheet = _rgba(png)
        assert sheet.shape == (size * len(slots), size, 4)
        for slot in slots:
            own = _rgba(render_tile(campus, slot["ordinal"], z, x, y))
            crop = sheet[slot["slot"] * size:(slot["slot"] + 1) * size]
            assert _same_pixels(crop, own), (z, x, y, slot)
    # a tile is left out only when no level draws anything there
    for z, x, y in package._tiles_over(package._grid_bounds(campus), 16, 17):
        if (z, x, y) not in found:
            for ordinal in campus.ordinals:
                assert _rgba(render_tile(campus, ordinal, z, x, y))[..., 3].max() == 0


def test_zoom_range_and_passphrase_are_checked_before_drawing(campus: Campus) -> None:
    with pytest.raises(PackageError, match="zoom range 19-18"):
        make_package(campus, revision=1, imagery=None, book=None, passphrase=None,
                     min_zoom=19, max_zoom=18)
    with pytest.raises(PackageError, match="at least 12"):
        make_package(campus, revision=1, imagery=None, book=None, passphrase="hunter2",
                     min_zoom=16, max_zoom=16)
    assert (routes_package.MIN_PACKAGE_ZOOM, routes_package.MAX_PACKAGE_ZOOM) == (
        package.MIN_PACKAGE_ZOOM, package.MAX_PACKAGE_ZOOM)


def test_imagery_is_the_last_slot_up_to_its_own_resolution(campus: Campus, tmp_path: Path
                                                           ) -> None:
    import rasterio
    from rasterio.transform import from_bounds

    from tiles.raster import tile_bounds

    # a photo exactly as fine as z16 tiles (256 px over one z16 tile), uniformly coloured
    z, x, y = 16, *_a_drawn_tile(campus, 16)
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    path = tmp_path / "ortho.tif"
    pixels = np.zeros((3, 256, 256), dtype=np.uint8)
    pixels[0], pixels[1], pixels[2] = 200, 120, 40
    with rasterio.Env():
        use_rasterio_proj_data()
        with rasterio.open(path, "w", driver="GTiff", width=256, height=256, count=3,
                           dtype="uint8", crs="EPSG:3857",
                           transform=from_bounds(minx, miny, maxx, maxy, 256, 256)) as dst:
            dst.write(pixels)
    reader = _reader(tiles_archive(campus, min_zoom=16, max_zoom=17, imagery=path))
    meta = reader.metadata()
    slots, size = meta["gridmap:slots"], meta["gridmap:slot_size"]
    levels = len(campus.ordinals)
    assert slots[-1] == {"slot": levels, "layer": "imagery", "max_zoom": 16}
    sheet = _rgba(reader.get(z, x, y))
    assert sheet.shape[0] == size * (levels + 1)
    photo = sheet[levels * size:]
    assert (photo[..., :3] == (200, 120, 40)).all() and (photo[..., 3] == 255).all()
    for ordinal, slot in zip(campus.ordinals, slots, strict=False):  # levels unchanged above
        own = _rgba(render_tile(campus, ordinal, z, x, y))
        assert _same_pixels(sheet[slot["slot"] * size:(slot["slot"] + 1) * size], own)
    deeper = _rgba(reader.get(17, 2 * x, 2 * y) or reader.get(17, 2 * x + 1, 2 * y + 1))
    assert deeper.shape[0] == size * levels  # z17 holds the levels only


def _a_drawn_tile(campus: Campus, z: int) -> tuple[int, int]:
    for _, x, y in package._tiles_over(package._grid_bounds(campus), z, z):
        if _rgba(render_tile(campus, campus.ordinals[0], z, x, y))[..., 3].max() > 0:
            return x, y
    raise AssertionError("the campus draws nothing")


# --- the zip, sealed and not -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Campus:
    return import_campus(SAMPLES / "lincoln_ridge" / "campus.toml").campus


@pytest.fixture(scope="module")
def sample_archive(sample: Campus) -> bytes:
    return tiles_archive(sample, min_zoom=SAMPLE_ZOOM[0], max_zoom=SAMPLE_ZOOM[1])


FAKE_BOOK = b"%PDF-1.4\n% a stand-in for the map book\n"


@pytest.fixture(scope="module")
def open_zip(sample: Campus, sample_archive: bytes) -> bytes:
    return make_package(sample, revision=3, imagery=None, book=FAKE_BOOK, passphrase=None,
                        min_zoom=SAMPLE_ZOOM[0], max_zoom=SAMPLE_ZOOM[1], tiles=sample_archive)


@pytest.fixture(scope="module")
def sealed_zip(sample: Campus, sample_archive: bytes) -> bytes:
    return make_package(sample, revision=3, imagery=None, book=FAKE_BOOK, passphrase=PASSPHRASE,
                        min_zoom=SAMPLE_ZOOM[0], max_zoom=SAMPLE_ZOOM[1], tiles=sample_archive)


def test_package_holds_viewer_libraries_from_npm_and_loads_only_its_own_files(
        open_zip: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(open_zip)) as zf:
        names = set(zf.namelist())
        page = zf.read("index.html").decode("utf-8")
        for arcname, source in package._vendor_files():
            assert zf.read(arcname) == source.read_bytes(), arcname
        parts = _parts(zf)
        assert zf.read("book.pdf") == FAKE_BOOK
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all(r in names or r.startswith("data:") for r in refs), refs
    assert not re.search(r"https?://", page)
    for name in ("offline.js", "search.js", "offline.css"):
        code = (OFFLINE_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"\b(?:fetch|XMLHttpRequest|importScripts)\s*\(", code), name
    assert set(parts) == {"meta", "places", "tiles"}
    meta = json.loads(parts["meta"])
    assert (meta["revision"], meta["book"], meta["zoom"]["max_native"]) == (3, "book.pdf", 18)
    assert _reader(parts["tiles"]).header()["max_zoom"] == SAMPLE_ZOOM[1]


def test_sealed_package_reveals_nothing_without_the_passphrase(
        sealed_zip: bytes, open_zip: bytes, sample: Campus) -> None:
    with zipfile.ZipFile(io.BytesIO(sealed_zip)) as zf:
        seal, parts = _seal(zf), _parts(zf)
        everything = b"".join(zf.read(n) for n in zf.namelist()
                              if not n.startswith("vendor/") and not n.startswith("viewer/"))
    with zipfile.ZipFile(io.BytesIO(open_zip)) as zf:
        clear = _parts(zf)
    assert "book.pdf" not in zipfile.ZipFile(io.BytesIO(sealed_zip)).namelist()
    assert set(parts) == {"meta", "places", "tiles", "book"}
    assert seal.iterations == PBKDF2_ITERATIONS >= 600_000 and len(seal.salt) == 16
    for secret in (sample.name, "Science Lab", "lincoln-ridge", "PMTiles"):
        assert secret.encode() not in everything, secret
        assert base64.b64encode(secret.encode())[:8] not in everything, secret
    assert open_part(seal, "tiles", parts["tiles"], PASSPHRASE) == clear["tiles"]
    assert open_part(seal, "book", parts["book"], PASSPHRASE) == FAKE_BOOK
    assert json.loads(open_part(seal, "meta", parts["meta"], PASSPHRASE))["campus"]["name"] \
        == sample.name
    with pytest.raises(PackageError, match="wrong passphrase"):
        open_part(seal, "meta", parts["meta"], PASSPHRASE + "!")
    with pytest.raises(PackageError):  # a part moved to another part's slot
        open_part(seal, "meta", parts["places"], PASSPHRASE)


def test_a_passphrase_is_one_however_its_accents_were_typed() -> None:
    salt = bytes(16)
    composed, decomposed = "caf\u00e9 au lait noir", "cafe\u0301 au lait noir"
    assert derive_key(composed, salt, 1000) == derive_key(decomposed, salt, 1000)
    assert derive_key(composed, salt, 1000) != derive_key("cafe au lait noir", salt, 1000)


# --- search: the offline matcher against the server's lookup ------------------------------------

#: The brief's queries, and more of the same kinds; each sample adds every room number (bare,
#: "room N"), door, room name, point-of-interest name and building name it has.
QUERIES = ("214", "room 214", "rm 214", "Room #214", "1O4", "2l4", "two fourteen",
           "room one oh four", "where is room 214?", "A-214", "door 4", "door 1", "gym door 4",
           "door 4 gym", "main entrance", "knox box", "aed", "trauma kit", "Library", "LIBRARY",
           "the cafeteria", "nurse", "gym", "restroom", "boys bathroom", "staff restroom",
           "building c", "ecc", "Knox Box - Main Entrance", "C4", "c4", "grid C4", "C4-7",
           "cell h6 9", "H6", "b12", "Z99", "42.70, -84.43", "214 upstairs",
           "room 214 2nd floor", "114 2nd floor", "restroom 2nd floor", "hallway 2nd floor",
           "2nd floor", "aed 2nd floor", "door 4 1st floor", "knox box upstairs", "basement")
#: ... and the European sample's ways of saying things (its numbers, its floor words)
QUERIES_ABROAD = ("a15", "A015", "E003bis", "B015 a", "lift untergeschoss", "A015 erdgeschoss",
                  "corridor 1. OG", "wc 1er etage")
#: Where the server's answer is not what the offline matcher should copy: the server reads a
#: word of the name as an unknown modifier ("pre-k") or a room name as a kind and a place
#: ("Lift / Aufzug"). Reported to the lookup's owner; the offline answer is the exact name.
SERVER_QUIRKS = frozenset({"Pre-K Classroom", "Lift / Aufzug"})


def _queries(data: dict[str, Any], abroad: bool) -> list[str]:
    said = set(QUERIES) | (set(QUERIES_ABROAD) if abroad else set())
    for p in data["places"]:
        if p["type"] == "unit" and p["number"]:
            said |= {p["number"], f"room {p['number']}"}
        if p["type"] == "opening" and p["number"]:
            said.add(f"door {p['number']}")
        said.update(p["names"])
    return sorted(said - SERVER_QUIRKS)


def need_node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("GRIDMAP_REQUIRE_SERVICES") == "1":
            pytest.fail("node is not installed")
        pytest.skip("node is not installed (it runs the offline matcher outside a browser)")
    return node


def _offline_answers(data: dict[str, Any], queries: list[str], tmp_path: Path) -> Any:
    (tmp_path / "places.json").write_text(json.dumps(data), encoding="utf-8")
    script = (
        f"const S = require({json.dumps(str(OFFLINE_DIR / 'search.js'))});"
        f"const s = S.create(require({json.dumps(str(tmp_path / 'places.json'))}));"
        f"const qs = {json.dumps(queries)};"
        "console.log(JSON.stringify(qs.map((q) => s.lookup(q, 10)).map((r) => ({...r, "
        "line: r.candidates.length ? S.answerLine(r.candidates[0]) : null}))));")
    done = subprocess.run([need_node(), "-e", script], capture_output=True, text=True,
                          check=True, timeout=60)
    return json.loads(done.stdout)


@pytest.mark.parametrize("sample_name", ["lincoln_ridge", "riverside_international"])
def test_offline_search_answers_as_the_server(sample_name: str, tmp_path: Path) -> None:
    """Same status and the same answers in the same order (the brief asks for the top one)."""
    index = CampusIndex(import_campus(SAMPLES / sample_name / "campus.toml").campus)
    data = search_data(index)
    queries = _queries(data, abroad=sample_name == "riverside_international")
    wrong: list[tuple[Any, ...]] = []
    for q, offline in zip(queries, _offline_answers(data, queries, tmp_path), strict=True):
        server = lookup(index, q)
        if server.candidates and server.candidates[0].match.value in ("usng", "lonlat"):
            # coordinates are not answered offline: nothing may be invented for them
            assert offline["status"] == "not_found", q
            continue
        theirs = [(c.feature_id, c.label) for c in server.candidates]
        mine = [(c["id"], c["label"]) for c in offline["candidates"]]
        if (server.status.value, theirs) != (offline["status"], mine):
            wrong.append((q, server.status.value, theirs[:1], offline["status"], mine[:1]))
        elif theirs and server.candidates[0].match.value != "cell":
            # what the dispatcher reads out: flags, USNG, doors, Knox box, AED, trauma kit
            line = cli.candidate_line(server.candidates[0].to_dict())
            if line != f"{mine[0][1]} · {offline['line']}":
                wrong.append((q, line, offline["line"]))
    assert len(queries) > 200
    assert not wrong, wrong


# --- CLI and API -------------------------------------------------------------------------------


def test_cli_writes_a_private_sealed_package_and_audits_it(
        stored_campus: Campus, store: SqlCampusStore, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    out = tmp_path / "campus-package.zip"
    assert cli.main(["package", stored_campus.id, "-o", str(out), "--passphrase-file",
                     str(secret), "--min-zoom", "16", "--max-zoom", "16", "--no-book"]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(out) as zf:
        seal, parts = _seal(zf), _parts(zf)
    meta = json.loads(open_part(seal, "meta", parts["meta"], PASSPHRASE))
    assert meta["campus"]["id"] == stored_campus.id
    assert "sealed" in capsys.readouterr().err
    entry = next(e for e in store.audit_log(campus_id=stored_campus.id) if e.action == "package")
    assert "sealed" in entry.detail and PASSPHRASE not in entry.detail
    secret.write_text("short\n", encoding="utf-8")
    assert cli.main(["package", stored_campus.id, "-o", str(tmp_path / "x.zip"),
                     "--passphrase-file", str(secret)]) == 2
    assert "at least 12" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()


def test_download_is_a_post_audited_and_never_cached(
        viewer: TestClient, store: SqlCampusStore, stored_campus: Campus) -> None:
    url = f"/campuses/{stored_campus.id}/package.zip"
    body = {"min_zoom": 16, "max_zoom": 16, "book": False}
    assert viewer.get(url).status_code == 405
    r = viewer.post(url, json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["cache-control"] == "private, no-store"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert "data/seal.js" not in zf.namelist()
    sealed = viewer.post(url, json={**body, "passphrase": PASSPHRASE})
    assert sealed.status_code == 200
    with zipfile.ZipFile(io.BytesIO(sealed.content)) as zf:
        seal, parts = _seal(zf), _parts(zf)
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:  # the same drawing, sealed
        assert open_part(seal, "tiles", parts["tiles"], PASSPHRASE) == _parts(zf)["tiles"]
    weak = viewer.post(url, json={**body, "passphrase": "hunter2"})
    assert weak.status_code == 400 and "at least 12" in weak.json()["error"]["message"]
    assert viewer.post(url, json={"max_zoom": 40}).status_code == 422
    assert viewer.post(url, json={"surprise": 1}).status_code == 422
    assert viewer.post("/campuses/nowhere/package.zip", json=body).status_code == 404
    store.flush_audit()
    details = [e.detail for e in store.audit_log(campus_id=stored_campus.id)
               if e.action == "package"]
    assert sorted(d.split(", ")[1] for d in details) == ["not sealed", "sealed"]
    assert not any(PASSPHRASE in d for d in details)


def test_download_needs_a_token(client: TestClient, stored_campus: Campus) -> None:
    r = client.post(f"/campuses/{stored_campus.id}/package.zip", json={})
    assert r.status_code == 401


# --- the viewer in headless Chromium, from file://, offline ---------------------------------------

TILE_OF_LEVEL = """
const [ordinal] = arguments;
const c = Array.from(document.querySelectorAll('canvas.leaflet-tile'))
  .find((t) => t.dataset.drawn === 'tile' && t.dataset.ordinal === String(ordinal));
return c ? [c.dataset.zxy, c.toDataURL('image/png')] : null;
"""
SHOWN = ("return document.body.dataset.state === 'ready' && document.body.dataset.level === "
         "arguments[0] && document.body.dataset.tiles === 'loaded' && "
         "Array.from(document.querySelectorAll('canvas.leaflet-tile'))"
         ".every((t) => t.dataset.ordinal === arguments[0]);")


def _unzipped(data: bytes, where: Path) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(where)
    return (where / "index.html").as_uri()


def _offline(drv: Any) -> None:
    drv.execute_cdp_cmd("Network.enable", {})
    drv.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})


def _wait(drv: Any, script: str, *args: Any, timeout: float = 60.0) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(drv, timeout, poll_frequency=0.05).until(
            lambda d: d.execute_script(script, *args))
    except TimeoutException:
        state = drv.execute_script("return [document.body.dataset.state, "
                                   "document.getElementById('gm-error').textContent]")
        raise AssertionError(f"timed out waiting for {script[:70]!r}; viewer: {state}") from None


def _tile_is_the_levels_own(drv: Any, campus: Campus, ordinal: int) -> None:
    zxy, url = drv.execute_script(TILE_OF_LEVEL, ordinal)
    z, x, y = (int(v) for v in zxy.split("/"))
    shown = _rgba(base64.b64decode(url.split(",", 1)[1]))
    assert _same_pixels(shown, _rgba(render_tile(campus, ordinal, z, x, y))), zxy


def _search(drv: Any, query: str) -> tuple[str, str, str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = drv.find_element(By.ID, "gm-q")
    box.clear()
    drv.execute_script("document.getElementById('gm-list').replaceChildren()")
    box.send_keys(query, Keys.ENTER)
    _wait(drv, "return document.querySelector('#gm-list li') !== null")
    first = drv.find_element(By.CSS_SELECTOR, "#gm-list li")
    status = drv.find_element(By.ID, "gm-results").get_attribute("data-status")
    return status, first.get_attribute("data-id"), first.text


def _resources_are_local(drv: Any) -> None:
    urls = drv.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
        ".concat([location.href])")
    assert urls and all(u.startswith(("file:", "blob:", "data:")) for u in urls), urls


@pytest.mark.browser
def test_viewer_from_disk_switches_level_and_answers_214_as_the_server(
        open_zip: bytes, sample: Campus, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    from tests.browser import chromium, need_browser, severe_console_errors

    need_browser()
    page = _unzipped(open_zip, tmp_path / "package")
    index = CampusIndex(sample)
    with chromium(tmp_path / "profile") as drv:
        _offline(drv)
        drv.get(page)
        _wait(drv, SHOWN, "0")
        assert drv.title.startswith(sample.name)
        _tile_is_the_levels_own(drv, sample, 0)
        legend = [e.text for e in drv.find_elements(By.CSS_SELECTOR, "#gm-legend .gm-legend-label")]
        assert legend == [e["label"] for e in page_config(sample)["legend"]]

        server = lookup(index, "214")
        status, shown_id, text = _search(drv, "214")
        assert (status, shown_id, text) == (server.status.value, server.candidates[0].feature_id,
                                            server.candidates[0].label)
        assert server.candidates[0].level_ordinal == 1
        line = cli.candidate_line(server.candidates[0].to_dict())  # what dispatch reads out
        assert line == f"{text} · {drv.find_element(By.ID, 'gm-detail').text}"
        assert "door" in line and "Knox box" in line
        _wait(drv, SHOWN, "1")  # the answer's level is shown
        _tile_is_the_levels_own(drv, sample, 1)

        drv.find_element(By.CSS_SELECTOR, '.gm-levels button[data-ordinal="0"]').click()
        _wait(drv, SHOWN, "0")
        pressed = drv.find_element(By.CSS_SELECTOR, '.gm-levels button[aria-pressed="true"]')
        assert pressed.text == sample.ordinal_name(0)

        for query in ("door 4", "knox box", "1O4", "grid C4"):
            server = lookup(index, query)
            assert _search(drv, query)[1:] == (server.candidates[0].feature_id or "",
                                               server.candidates[0].label), query
        assert drv.find_element(By.ID, "gm-book-link").get_attribute("href").endswith(
            "/book.pdf")
        _resources_are_local(drv)
        assert not severe_console_errors(drv)


@pytest.mark.browser
def test_sealed_viewer_refuses_a_wrong_passphrase_and_opens_with_the_right_one(
        sealed_zip: bytes, sample: Campus, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.browser import chromium, need_browser, severe_console_errors

    need_browser()
    page = _unzipped(sealed_zip, tmp_path / "package")
    with chromium(tmp_path / "profile") as drv:
        _offline(drv)
        drv.get(page)
        _wait(drv, "return document.body.dataset.state === 'locked'")
        assert sample.name not in drv.page_source
        field = drv.find_element(By.ID, "gm-passphrase")
        field.send_keys("not the passphrase at all", Keys.ENTER)
        _wait(drv, "return !document.getElementById('gm-unlock-error').hidden")
        assert "Wrong passphrase" in drv.find_element(By.ID, "gm-unlock-error").text
        assert drv.execute_script("return document.body.dataset.state") == "locked"
        assert not drv.find_elements(By.CSS_SELECTOR, "canvas.leaflet-tile")
        assert sample.name not in drv.page_source

        field.clear()
        field.send_keys(PASSPHRASE, Keys.ENTER)
        _wait(drv, SHOWN, "0")
        assert drv.find_element(By.ID, "gm-title").text == sample.name
        _tile_is_the_levels_own(drv, sample, 0)
        server = lookup(CampusIndex(sample), "214")
        assert _search(drv, "214")[1:] == (server.candidates[0].feature_id,
                                           server.candidates[0].label)
        book = drv.find_element(By.ID, "gm-book-link").get_attribute("href")
        assert book.startswith("blob:")
        _resources_are_local(drv)
        assert not severe_console_errors(drv)


PHOTO_SHARE = """
const tiles = Array.from(document.querySelectorAll('canvas.leaflet-tile'));
let photo = 0, all = 0;
for (const t of tiles) {
  const d = t.getContext('2d').getImageData(0, 0, t.width, t.height).data;
  for (let i = 0; i < d.length; i += 4) {
    all += 1;
    if (d[i] === 200 && d[i + 1] === 120 && d[i + 2] === 40 && d[i + 3] === 255) photo += 1;
  }
}
return [photo / all, tiles.map((t) => t.dataset.zxy.split('/')[0])];
"""


@pytest.mark.browser
def test_viewer_draws_imagery_under_the_plans_deeper_than_the_photo_and_toggles_it(
        campus: Campus, tmp_path: Path) -> None:
    import rasterio
    from rasterio.transform import from_bounds
    from selenium.webdriver.common.by import By

    from tests.browser import chromium, need_browser, severe_console_errors
    from tiles.raster import tile_bounds

    need_browser()
    # a uniformly coloured photo over the whole grid, as fine as z16 tiles
    minlon, minlat, maxlon, maxlat = package._grid_bounds(campus)
    left, _, _, top = tile_bounds(16, package._tile_x(minlon, 16), package._tile_y(maxlat, 16))
    _, bottom, right, _ = tile_bounds(16, package._tile_x(maxlon, 16),
                                      package._tile_y(minlat, 16))
    pixel = (right - left) / (package._tile_x(maxlon, 16) - package._tile_x(minlon, 16) + 1) / 256
    width, height = round((right - left) / pixel), round((top - bottom) / pixel)
    path = tmp_path / "ortho.tif"
    with rasterio.Env():
        use_rasterio_proj_data()
        with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3,
                           dtype="uint8", crs="EPSG:3857",
                           transform=from_bounds(left, bottom, right, top, width, height)) as dst:
            dst.write(np.stack([np.full((height, width), v, np.uint8) for v in (200, 120, 40)]))
    data = make_package(campus, revision=1, imagery=path, book=None, passphrase=None,
                        min_zoom=15, max_zoom=18)
    page = _unzipped(data, tmp_path / "package")
    with chromium(tmp_path / "profile") as drv:
        _offline(drv)
        drv.get(page)
        _wait(drv, SHOWN, "0")
        share, zooms = drv.execute_script(PHOTO_SHARE)
        assert zooms and all(int(z) > 16 for z in zooms)  # drawn from z16's photo, enlarged
        assert share > 0.3
        drv.find_element(By.ID, "gm-imagery-toggle").click()
        _wait(drv, SHOWN, "0")
        assert drv.execute_script(PHOTO_SHARE)[0] == 0
        assert not severe_console_errors(drv)
