"""The web map in a real headless Chromium, served by uvicorn from a tiny app of this test's own.

Checks, in screenshot pixels, that the tiles show the campus grid and room labels (against the
same view with room labels switched off), that the lookup box lists candidates and jumps to the
room's level, and that the page loads nothing the server did not serve and logs no errors.
Set ``GRIDMAP_SCREENSHOT_DIR`` to keep the screenshots somewhere to look at.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from gridmap import grid as gridlib
from gridmap.crs import LocalFrame
from gridmap.model import Campus
from gridmap.usng import to_usng
from tests.campus_factory import small_campus
from tiles import style
from tiles.raster import render_tile
from tiles.webmap import STATIC_DIR, VendorAssetsMissing, map_page, vendor_dir

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("GRIDMAP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GRIDMAP_CHROMEDRIVER", "/usr/bin/chromedriver")
WINDOW = (1200, 900)


def _need_browser() -> Path:
    chromium = shutil.which(CHROMIUM) or shutil.which("chromium")
    driver = shutil.which(CHROMEDRIVER) or shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium and chromedriver are not installed "
                    "(Debian: apt-get install chromium chromium-driver)")
    try:
        return vendor_dir()
    except VendorAssetsMissing as err:
        pytest.skip(str(err))


# --- a tiny app serving the page, the static files, tiles and a canned lookup -----------------


def lookup_answer(campus: Campus, q: str) -> dict[str, Any]:
    """What the real lookup answers for "214", worked out from the campus like it would be."""
    frame = LocalFrame(campus.crs)
    room = next(u for u in campus.units if u.number == "214")
    level = campus.level(room.level_id)
    local = frame.to_local(room.geometry)
    at = gridlib.label_point(local)
    lon, lat = frame.lonlat(at.x, at.y)
    knox = next(a for a in campus.amenities if a.kind.value == "knox_box")
    kx, ky = frame.xy(knox.geometry.x, knox.geometry.y)
    doors = []
    for d in campus.exterior_doors(room.building_id):
        dx, dy = frame.xy(d.geometry.x, d.geometry.y)
        doors.append({"number": d.number, "distance_m": round(at.distance(
            type(at)(dx, dy)), 1), "cell": gridlib.cell_at(campus.grid, dx, dy).label})
    doors.sort(key=lambda d: float(str(d["distance_m"])))
    cell = gridlib.primary_cell(campus.grid, local).label
    building = campus.building(room.building_id)
    return {
        "query": q,
        "status": "found",
        "message": "1 match",
        "candidates": [{
            "label": f"{building.name} · {level.name} · Room 214 {room.name} · grid {cell}",
            "building_name": building.name,
            "level_ordinal": level.ordinal,
            "level_name": level.name,
            "unit_number": room.number,
            "unit_name": room.name,
            "primary_cell": cell,
            "cells": [c.label for c in gridlib.cells_spanned(campus.grid, local)],
            "usng": to_usng(lon, lat),
            "lon": lon,
            "lat": lat,
            "nearest_doors": doors[:2],
            "nearest_knox_box": {"name": knox.name, "cell": gridlib.cell_at(
                campus.grid, kx, ky).label, "distance_m": round(at.distance(
                    type(at)(kx, ky)), 1)},
            "nearest_aed": None,
        }],
    }


@dataclasses.dataclass
class Served:
    base: str
    campus: Campus
    state: dict[str, Any]
    requests: list[tuple[str, int]]


def make_app(campus: Campus, state: dict[str, Any], requests: list[tuple[str, int]]) -> Any:
    from fastapi import FastAPI, HTTPException, Request, Response
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        requests.append((request.url.path, response.status_code))
        return response

    @app.get("/campuses/{cid}/map")
    def page(cid: str) -> HTMLResponse:
        if cid != campus.id:
            raise HTTPException(404)
        return HTMLResponse(map_page(campus))

    @app.get("/campuses/{cid}/levels/{ordinal}/tiles/{z}/{x}/{y}.png")
    def tile(cid: str, ordinal: int, z: int, x: int, y: int) -> Response:
        png = render_tile(campus, ordinal, z, x, y, room_labels=state["labels"])
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/campuses/{cid}/lookup")
    def lookup(cid: str, q: str) -> JSONResponse:
        return JSONResponse(lookup_answer(campus, q))

    app.mount("/static/vendor/leaflet", StaticFiles(directory=vendor_dir()), name="leaflet")
    app.mount("/static/gridmap", StaticFiles(directory=STATIC_DIR), name="gridmap")
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    _need_browser()
    import uvicorn

    c = small_campus()
    campus = dataclasses.replace(c, openings=tuple(
        dataclasses.replace(o, number=str(i + 1)) for i, o in enumerate(c.openings)))
    state: dict[str, Any] = {"labels": True}
    requests: list[tuple[str, int]] = []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(campus, state, requests), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", campus, state, requests)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def driver(tmp_path: Path, served: Served) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which(CHROMIUM) or shutil.which("chromium") or CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-quic", "--no-first-run", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which(CHROMEDRIVER) or shutil.which("chromedriver")
                      or CHROMEDRIVER)
    drv = webdriver.Chrome(options=opts, service=service)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


# --- helpers -----------------------------------------------------------------------------------

Pixels = NDArray[np.int16]

TILES_READY = """
const imgs = Array.from(document.querySelectorAll('img.leaflet-tile'));
const anim = document.querySelector('.leaflet-zoom-anim');
const pending = document.querySelectorAll('.leaflet-tile-container img:not(.leaflet-tile-loaded)');
return imgs.length > 0 && !anim && pending.length === 0
  && imgs.every(i => i.complete && i.naturalWidth > 0);
"""


def wait_for(drv: Any, script: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if drv.execute_script(script):
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script.strip()[:80]}")


def screenshot(drv: Any, tmp_path: Path, name: str) -> Pixels:
    time.sleep(0.3)  # let the tile fade-in finish
    png = drv.get_screenshot_as_png()
    (tmp_path / name).write_bytes(png)
    keep = os.environ.get("GRIDMAP_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / name).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def near(px: Pixels, colour: tuple[int, int, int, int], tol: int) -> NDArray[np.bool_]:
    mask: NDArray[np.bool_] = (
        np.abs(px - np.array(colour[:3], dtype=np.int16)).max(axis=-1) <= tol)
    return mask


def line_positions(mask: NDArray[np.bool_], axis: int, min_len: int) -> list[int]:
    """Centres of runs of columns (axis=0) or rows (axis=1) holding >= min_len mask pixels."""
    counts = mask.sum(axis=axis)
    idx = np.flatnonzero(counts >= min_len)
    groups: list[list[int]] = []
    for i in idx.tolist():
        if groups and i - groups[-1][-1] <= 2:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [round(sum(g) / len(g)) for g in groups]


def load_map(drv: Any, served: Served, fragment: str = "") -> None:
    drv.get(f"{served.base}/campuses/{served.campus.id}/map{fragment}")
    wait_for(drv, "return !!(window.gridmap && window.L)")
    wait_for(drv, TILES_READY)


# --- tests -------------------------------------------------------------------------------------


def test_map_shows_grid_and_room_labels(driver: Any, served: Served, tmp_path: Path) -> None:
    served.state["labels"] = True
    served.requests.clear()
    load_map(driver, served)
    zoom = driver.execute_script("return window.gridmap.map.getZoom()")
    assert 18 <= zoom <= 20, f"map not fitted to the campus grid (zoom {zoom})"
    shot = screenshot(driver, tmp_path, "map.png")

    # the grid: long magenta lines, one per grid line inside the window
    grid = near(shot, style.GRID_COLOUR, 45)
    spec = served.campus.grid
    cols = line_positions(grid, axis=0, min_len=200)
    rows = line_positions(grid, axis=1, min_len=200)
    assert len(cols) == spec.columns + 1, f"vertical grid lines at {cols}"
    assert len(rows) == spec.rows + 1, f"horizontal grid lines at {rows}"
    gaps = np.diff(cols)
    assert gaps.max() - gaps.min() <= 3  # evenly spaced: one cell apart

    # room labels: the same view with labels switched off lacks the dark text in the rooms
    served.state["labels"] = False
    driver.refresh()
    wait_for(driver, "return !!(window.gridmap && window.L)")
    wait_for(driver, TILES_READY)
    bare = screenshot(driver, tmp_path, "map-no-labels.png")
    dark, dark_bare = shot.max(axis=-1) < 90, bare.max(axis=-1) < 90
    label_px = dark & ~dark_bare
    assert label_px.sum() > 300, f"only {label_px.sum()} label pixels"
    # where the labels were, the unlabelled map shows room fill (or hallway fill)
    fill = near(bare, style.ROOM_FILL, 12) | near(bare, style.HALLWAY_FILL, 12)
    assert fill[label_px].mean() > 0.8
    # and the rest of the map is the same
    same = np.abs(shot - bare).max(axis=-1) <= 8
    assert same.mean() > 0.97

    bad = [(p, s) for p, s in served.requests if s >= 400]
    assert not bad, f"failed requests: {bad}"
    paths = {p.split("/")[1] for p, _ in served.requests}
    assert paths <= {"campuses", "static"}
    severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, f"browser console errors: {severe}"


def test_level_switcher(driver: Any, served: Served, tmp_path: Path) -> None:
    served.state["labels"] = True
    load_map(driver, served)
    buttons = driver.execute_script(
        "return Array.from(document.querySelectorAll('.gm-level')).map(b => b.textContent)")
    assert buttons == ["2nd Floor", "1st Floor"]
    assert driver.execute_script("return window.gridmap.level()") == 0
    driver.execute_script("document.querySelector('.gm-level[data-ordinal=\"1\"]').click()")
    wait_for(driver, "return window.gridmap.level() === 1")
    wait_for(driver, TILES_READY)
    srcs = driver.execute_script(
        "return Array.from(document.querySelectorAll('img.leaflet-tile')).map(i => i.src)")
    assert srcs and all("/levels/1/tiles/" in s for s in srcs)


def test_search_lists_candidates_and_flies_there(driver: Any, served: Served,
                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    served.state["labels"] = True
    load_map(driver, served)
    box = driver.find_element(By.ID, "gm-q")
    box.send_keys("214")
    box.send_keys(Keys.ENTER)
    wait_for(driver, "return document.querySelectorAll('#gm-list li').length > 0")
    items = driver.find_elements(By.CSS_SELECTOR, "#gm-list li")
    assert len(items) == 1
    text = items[0].text
    answer = lookup_answer(served.campus, "214")["candidates"][0]
    assert "Room 214 Science Lab" in text
    assert f"Grid {answer['primary_cell']}" in text
    assert "Knox box" in text and "#" in text  # nearest door numbers
    # a single clear answer switches to its level and flies there with a marker and popup
    wait_for(driver, "return window.gridmap.level() === 1")
    wait_for(driver, "return !!document.querySelector('.leaflet-popup-content')")
    wait_for(driver, TILES_READY)
    centre = driver.execute_script(
        "const c = window.gridmap.map.getCenter(); return [c.lat, c.lng]")
    assert abs(centre[0] - answer["lat"]) < 1e-4 and abs(centre[1] - answer["lon"]) < 1e-4
    popup = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").text
    assert "Science Lab" in popup
    screenshot(driver, tmp_path, "search-214.png")
    assert ("/campuses/test-campus/lookup", 200) in served.requests
