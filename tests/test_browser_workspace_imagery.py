"""The workspace's uploaded photo on the georeference step's site map: headless Chromium on the
real app under uvicorn.

An editor uploads the sample's orthophoto (a GeoTIFF in UTM) and its parcel through the page's
file picker; the site map then asks the workspace's tile route for the photo's tiles and draws
them under the parcel. The oracles: the tiles the page loaded are the route's (their URLs), each
is the PNG the route serves (fetched again with the editor's token and decoded), and the screen
shows those pixels where Leaflet put them. Every wait is on the page's state, never a sleep. Set
``GRIDMAP_SCREENSHOT_DIR`` to keep the screenshot.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from api.app import create_app
from api.auth import create_token
from api.settings import Settings
from api.store import Role, SqlCampusStore
from api.store_identity import Organisation
from gridmap.model import Campus
from tests.browser import chromium, need_browser, screenshot, serve, wait_for

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[1] / "data/samples/lincoln_ridge"
CAMPUS_ID = "photo-school"

#: the site map's photo tiles, once every one of them has loaded
PHOTO_TILES_READY = """
const imgs = Array.from(document.querySelectorAll('#ws-earth .ws-site-photo img.leaflet-tile'));
return imgs.length > 0 && !document.querySelector('#ws-earth .leaflet-zoom-anim')
  && imgs.every(i => i.complete && i.naturalWidth > 0
                     && i.classList.contains('leaflet-tile-loaded'));
"""


@pytest.fixture
def running(settings: Settings, store: SqlCampusStore,
            district: Organisation) -> Iterator[tuple[str, str]]:
    editor, _ = create_token(store, "facilities editor", Role.EDITOR, org=district.id)
    app = create_app(settings, store)
    app.state.jobs.start()  # the test server runs without lifespan: start the job workers
    try:
        with serve(app) as base:
            yield base, editor
    finally:
        app.state.jobs.stop()


def test_the_uploaded_photo_is_drawn_under_the_parcel_on_the_site_map(
    running: tuple[str, str], tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    need_browser()
    base, editor = running
    auth = {"Authorization": f"Bearer {editor}"}
    ws = httpx.post(f"{base}/workspaces", headers=auth,
                    json={"campus_id": CAMPUS_ID, "campus_name": "Photo School"}).json()["id"]

    with chromium(tmp_path / "profile") as drv:
        drv.set_window_size(1440, 1000)
        drv.get(f"{base}/workspace/{ws}")
        wait_for(drv, "return location.pathname === '/login'")
        drv.find_element(By.ID, "token").send_keys(editor + "\n")
        wait_for(drv, f"return location.pathname === '/workspace/{ws}'"
                      " && document.body.dataset.ready === 'true'")
        # 1. the photo and the parcel, through the file picker
        drv.find_element(By.ID, "ws-file").send_keys(
            f"{SAMPLE / 'imagery.tif'}\n{SAMPLE / 'parcel.geojson'}")
        wait_for(drv, "return document.body.dataset.uploads === '2'", timeout=60)
        files = httpx.get(f"{base}/workspaces/{ws}", headers=auth).json()["files"]
        (photo,) = [f for f in files if f["kind"] == "imagery"]

        # 3. the site map: the photo's tiles from the workspace's tile route, all loaded
        section = drv.find_element(By.ID, "step-georef")
        drv.execute_script("arguments[0].scrollIntoView({block: 'start'})", section)
        wait_for(drv, "return document.getElementById('ws-earth').dataset.ready === 'true'")
        wait_for(drv, PHOTO_TILES_READY, timeout=30)
        assert not drv.find_element(By.ID, "ws-no-photo").is_displayed()
        tiles: list[dict[str, Any]] = drv.execute_script("""
            return Array.from(document.querySelectorAll(
                '#ws-earth .ws-site-photo img.leaflet-tile-loaded'), img => {
              const r = img.getBoundingClientRect();
              return {src: img.src, left: r.left, top: r.top, width: r.width, height: r.height};
            });""")
        prefix = f"{base}/workspaces/{ws}/files/{photo['id']}/imagery/"
        assert tiles and all(t["src"].startswith(prefix) for t in tiles), tiles[:3]
        # the photo is under the parcel: its pane is below the parcel's, which is drawn
        order = drv.execute_script("""
            const map = window.workspace.geo.earth;
            const tile = Number(getComputedStyle(map.getPane('tilePane')).zIndex);
            const vec = Number(getComputedStyle(map.getPane('overlayPane')).zIndex);
            const paths = document.querySelectorAll('#ws-earth .leaflet-overlay-pane path');
            return {tile: tile, vec: vec, parcel: paths.length};""")
        assert order["tile"] < order["vec"] and order["parcel"] > 0, order

        drv.execute_script("window.scrollTo(0, 0)")
        earth = drv.find_element(By.ID, "ws-earth")
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", earth)
        wait_for(drv, PHOTO_TILES_READY, timeout=30)
        box = drv.execute_script("const r = arguments[0].getBoundingClientRect();"
                                 "return [r.left, r.top, r.right, r.bottom];", earth)
        tiles = drv.execute_script("""
            return Array.from(document.querySelectorAll(
                '#ws-earth .ws-site-photo img.leaflet-tile-loaded'), img => {
              const r = img.getBoundingClientRect();
              return {src: img.src, left: r.left, top: r.top, width: r.width, height: r.height};
            });""")
        shot = screenshot(drv, tmp_path, "workspace-imagery-site-map.png")

    # each drawn tile is the route's PNG, and the screen shows its pixels where it lies
    compared = 0
    for tile in tiles:
        png = httpx.get(tile["src"], headers=auth)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.headers["cache-control"].startswith("private")
        rgba = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGBA"), dtype=np.int16)
        left, top = max(tile["left"], box[0]), max(tile["top"], box[1])
        right = min(tile["left"] + tile["width"], box[2])
        bottom = min(tile["top"] + tile["height"], box[3])
        if right - left < 64 or bottom - top < 64:
            continue  # mostly off the map's box
        # the part of the tile on screen, in the tile's own pixels
        sx, sy = rgba.shape[1] / tile["width"], rgba.shape[0] / tile["height"]
        c0, c1 = int((left - tile["left"]) * sx), int((right - tile["left"]) * sx)
        r0, r1 = int((top - tile["top"]) * sy), int((bottom - tile["top"]) * sy)
        part = rgba[r0:r1, c0:c1]
        if (part[..., 3] == 255).mean() < 0.9:
            continue  # the photo's edge: what is beside it shows through
        on_screen = shot[int(top):int(bottom), int(left):int(right)]
        expected = part[..., :3].reshape(-1, 3).mean(axis=0)
        seen = on_screen.reshape(-1, 3).mean(axis=0)
        assert np.abs(expected - seen).max() < 20, (tile["src"], expected, seen)
        assert part[..., :3].std() > 5  # a photo, not a flat fill
        compared += 1
    assert compared >= 1, tiles


def photo_tile_sources(drv: Any) -> list[str]:
    sources: list[str] = drv.execute_script(
        "return Array.from(document.querySelectorAll("
        "'#ws-earth .ws-imagery img.leaflet-tile-loaded'), i => i.src)")
    return sources


def test_with_campus_imagery_too_the_upload_comes_first_and_the_editor_may_switch(
    settings: Settings, store: SqlCampusStore, stored_campus: Campus,
    district: Organisation, tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from api.imagery import attach_imagery
    from tests.test_workspace_imagery import photo

    need_browser()
    attach_imagery(store, settings, stored_campus.id, photo(size=(520, 380)).data,
                   source_name="county.tif", actor="tests", audit=lambda action, detail: None)
    editor, _ = create_token(store, "facilities editor", Role.EDITOR, org=district.id)
    auth = {"Authorization": f"Bearer {editor}"}
    app = create_app(settings, store)
    with serve(app) as base, chromium(tmp_path / "profile") as drv:
        ws = httpx.post(f"{base}/workspaces", headers=auth,
                        json={"campus_id": stored_campus.id}).json()["id"]
        r = httpx.post(f"{base}/workspaces/{ws}/files", headers=auth,
                       files={"file": ("drone.tif", photo().data)})
        assert r.status_code == 201, r.text
        file_id = r.json()["file"]["id"]
        drv.set_window_size(1440, 1000)
        drv.get(f"{base}/workspace/{ws}")
        wait_for(drv, "return location.pathname === '/login'")
        drv.find_element(By.ID, "token").send_keys(editor + "\n")
        wait_for(drv, f"return location.pathname === '/workspace/{ws}'"
                      " && document.body.dataset.ready === 'true'")
        assert drv.execute_script("return window.workspace.cfg.workspace_imagery.file") == file_id
        drv.execute_script("document.getElementById('step-georef').scrollIntoView()")
        wait_for(drv, f"return document.getElementById('ws-earth').dataset.photo"
                      f" === 'workspace:{file_id}'", timeout=30)
        wait_for(drv, PHOTO_TILES_READY, timeout=30)
        own = photo_tile_sources(drv)
        assert own and all(f"/workspaces/{ws}/files/{file_id}/imagery/" in s for s in own), own
        screenshot(drv, tmp_path, "workspace-imagery-choice.png")
        choice = Select(drv.find_element(By.ID, "ws-photo-choice"))
        assert choice.first_selected_option.get_attribute("value") == "workspace"
        choice.select_by_value("campus")
        wait_for(drv, "return document.getElementById('ws-earth').dataset.photo === 'campus'",
                 timeout=30)
        wait_for(drv, "return !document.querySelector('#ws-earth .ws-site-photo')")
        campus = photo_tile_sources(drv)
        assert campus and all(f"/campuses/{stored_campus.id}/imagery/tiles/" in s
                              for s in campus), campus
        assert drv.find_element(By.ID, "ws-photo-choice").get_attribute("value") == "campus"


def test_a_photo_of_another_place_is_named_with_its_distance(
    running: tuple[str, str], tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    from tests.test_workspace_imagery import CENTRE, photo

    need_browser()
    base, editor = running
    auth = {"Authorization": f"Bearer {editor}"}
    ws = httpx.post(f"{base}/workspaces", headers=auth,
                    json={"campus_id": CAMPUS_ID}).json()["id"]
    far = tmp_path / "other school.tif"  # 0.05 degrees east: about 4 km
    far.write_bytes(photo((CENTRE[0] + 0.05, CENTRE[1])).data)
    with chromium(tmp_path / "profile") as drv:
        drv.get(f"{base}/workspace/{ws}")
        wait_for(drv, "return location.pathname === '/login'")
        drv.find_element(By.ID, "token").send_keys(editor + "\n")
        wait_for(drv, f"return location.pathname === '/workspace/{ws}'"
                      " && document.body.dataset.ready === 'true'")
        drv.find_element(By.ID, "ws-file").send_keys(f"{far}\n{SAMPLE / 'parcel.geojson'}")
        wait_for(drv, "return document.body.dataset.uploads === '2'", timeout=60)
        wait_for(drv, "return document.getElementById('ws-earth').dataset.photoAway === 'true'",
                 timeout=30)
        hint = drv.find_element(By.ID, "ws-geo-hint").text
    assert "other school.tif" in hint and " km from the site boundary" in hint, hint
    km = float(hint.split(" lies ")[1].split(" km")[0])
    assert 3.5 < km < 4.5, hint  # 0.05 degrees of longitude at 42.7 degrees north: 4.1 km


def test_the_report_map_shows_the_photo_under_the_draft(
    settings: Settings, store: SqlCampusStore, district: Organisation, tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    from tests.test_workspace_imagery import _control_points

    need_browser()
    editor, _ = create_token(store, "facilities editor", Role.EDITOR, org=district.id)
    auth = {"Authorization": f"Bearer {editor}"}
    app = create_app(settings.model_copy(update={"job_workers": 0}), store)
    worker = app.state.jobs.worker()  # the test turns the jobs: no worker races the page

    def run_jobs() -> None:
        while worker.run_one() is not None:
            pass

    with serve(app) as base:
        ws = httpx.post(f"{base}/workspaces", headers=auth,
                        json={"campus_id": CAMPUS_ID}).json()["id"]
        for name in ("A_level1.dxf", "parcel.geojson", "imagery.tif"):
            r = httpx.post(f"{base}/workspaces/{ws}/files", headers=auth,
                           files={"file": (name, (SAMPLE / name).read_bytes())}, timeout=60)
            assert r.status_code in (201, 202), r.text
        run_jobs()
        shown = httpx.get(f"{base}/workspaces/{ws}", headers=auth).json()
        drawing = shown["drawings"][0]
        photo = next(f for f in shown["files"] if f["kind"] == "imagery")
        proposal = drawing["proposal"]
        r = httpx.put(f"{base}/workspaces/{ws}/drawings/{drawing['id']}", headers=auth, json={
            "building_id": "A", "building_name": "Main Building", "level_ordinal": 0,
            "level_name": "1st Floor", "level_short_name": "1",
            "layers": {k: proposal[k] for k in ("rooms", "labels", "doors", "outline")},
            "transform": "similarity", "control_points": _control_points()})
        assert r.status_code == 200, r.text
        assert httpx.post(f"{base}/workspaces/{ws}/import", headers=auth).status_code == 202
        run_jobs()
        assert httpx.get(f"{base}/workspaces/{ws}", headers=auth).json()["state"] == "imported"

        with chromium(tmp_path / "profile") as drv:
            drv.set_window_size(1440, 1000)
            drv.get(f"{base}/workspace/{ws}")
            wait_for(drv, "return location.pathname === '/login'")
            drv.find_element(By.ID, "token").send_keys(editor + "\n")
            wait_for(drv, "return !!document.body.dataset.reportShown", timeout=30)
            drv.execute_script("document.getElementById('ws-preview').scrollIntoView("
                               "{block: 'center'})")
            wait_for(drv, """
                const imgs = Array.from(document.querySelectorAll(
                    '#ws-preview .ws-site-photo img.leaflet-tile'));
                return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0
                    && i.classList.contains('leaflet-tile-loaded'));""", timeout=30)
            sources = drv.execute_script(
                "return Array.from(document.querySelectorAll("
                "'#ws-preview .ws-site-photo img.leaflet-tile-loaded'), i => i.src)")
            screenshot(drv, tmp_path, "workspace-imagery-report-map.png")
    prefix = f"{base}/workspaces/{ws}/files/{photo['id']}/imagery/"
    assert sources and all(s.startswith(prefix) for s in sources), sources[:3]
