"""The web map in a real headless Chromium, served by uvicorn from a tiny app of this test's own.

Checks, in screenshot pixels, that the tiles show the campus grid and room labels (against the
same view with room labels switched off), that the lookup box lists candidates and jumps to the
room's level, and that the page loads nothing the server did not serve and logs no errors.
Set ``GRIDMAP_SCREENSHOT_DIR`` to keep the screenshots somewhere to look at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gridmap.doors import number_exterior_doors
from gridmap.index import CampusIndex
from gridmap.lookup import lookup
from gridmap.model import Campus
from tests.browser import (
    TILES_READY,
    chromium,
    line_positions,
    near,
    need_browser,
    screenshot,
    serve,
    severe_console_errors,
    wait_for,
    wait_for_text,
)
from tests.campus_factory import small_campus
from tiles import style
from tiles.raster import render_tile
from tiles.webmap import STATIC_DIR, map_page, marker_clearance, vendor_dir

pytestmark = pytest.mark.browser

# --- a tiny app serving the page, the static files, tiles and the real lookup -----------------


@dataclasses.dataclass
class Served:
    base: str
    campus: Campus
    state: dict[str, Any]
    requests: list[tuple[str, int]]


#: The test app serves tiles with this revision, and answers this query with an API-shaped error.
TILE_VERSION = "r7"
BAD_QUERY = "explode"
BAD_QUERY_MESSAGE = "Query too long: at most 200 characters (test error)"
#: ... and this one as room 214 would be answered were it a label with no outline.
APPROXIMATE_QUERY = "room 214"
APPROXIMATE_FLAG = "label only, no outline"
#: ... and this one as an older server would, without level names on nearby items.
LEGACY_QUERY = "rm 214"


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
        return HTMLResponse(map_page(campus, tile_version=TILE_VERSION))

    @app.get("/campuses/{cid}/levels/{ordinal}/tiles/{z}/{x}/{y}.png")
    def tile(cid: str, ordinal: int, z: int, x: int, y: int) -> Response:
        png = render_tile(campus, ordinal, z, x, y, room_labels=state["labels"])
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    index = CampusIndex(campus)

    @app.get("/campuses/{cid}/lookup")
    def answer(cid: str, q: str) -> JSONResponse:
        if q == BAD_QUERY:  # the shape api/errors.py answers every error with
            return JSONResponse({"error": {"type": "invalid_query", "message": BAD_QUERY_MESSAGE}},
                                status_code=400)
        body = lookup(index, q).to_dict()
        if q == APPROXIMATE_QUERY:  # a label-only room, as the lookup contract marks one
            for c in body["candidates"]:
                c["approximate"], c["flags"] = True, [APPROXIMATE_FLAG]
        if q == LEGACY_QUERY:  # an older server's answer: nearby items carry ordinals only
            for c in body["candidates"]:
                for item in [*c["nearest_doors"], c.get("nearest_knox_box"), c.get("nearest_aed")]:
                    for key in ("level_name", "same_level", "via", "distance_kind"):
                        (item or {}).pop(key, None)
        return JSONResponse(body)

    app.mount("/static/vendor/leaflet", StaticFiles(directory=vendor_dir()), name="leaflet")
    app.mount("/static/gridmap", StaticFiles(directory=STATIC_DIR), name="gridmap")
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    need_browser()
    campus = number_exterior_doors(small_campus())
    state: dict[str, Any] = {"labels": True}
    requests: list[tuple[str, int]] = []
    with serve(make_app(campus, state, requests)) as base:
        yield Served(base, campus, state, requests)


@pytest.fixture
def driver(tmp_path: Path, served: Served) -> Iterator[Any]:
    with chromium(tmp_path / "chrome-profile") as drv:
        yield drv


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
    # mark the old page so the waits below cannot be satisfied by it before the reload starts
    driver.execute_script("window.gmStale = true")
    driver.refresh()
    wait_for(driver, "return !window.gmStale && !!(window.gridmap && window.L)")
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
    severe = severe_console_errors(driver)
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
    assert all(s.endswith(f".png?v={TILE_VERSION}") for s in srcs)


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
    answer = lookup(CampusIndex(served.campus), "214").candidates[0].to_dict()
    assert "Room 214 Science Lab" in text
    assert f"Grid {answer['primary_cell']}" in text
    assert "Knox box" in text and "Door 1" in text  # nearest door numbers
    # a single clear answer switches to its level and flies there with a marker and popup
    wait_for(driver, "return window.gridmap.level() === 1")
    wait_for(driver, "return !!document.querySelector('.leaflet-popup-content')")
    wait_for(driver, TILES_READY)
    centre = driver.execute_script(
        "const c = window.gridmap.map.getCenter(); return [c.lat, c.lng]")
    assert abs(centre[0] - answer["lat"]) < 1e-4 and abs(centre[1] - answer["lon"]) < 1e-4
    popup = wait_for_text(driver, ".leaflet-popup-content")  # it fades in
    assert "Science Lab" in popup
    screenshot(driver, tmp_path, "search-214.png")
    assert ("/campuses/test-campus/lookup", 200) in served.requests


def test_search_shows_the_servers_error_message(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    load_map(driver, served)
    driver.find_element(By.ID, "gm-q").send_keys(BAD_QUERY + Keys.ENTER)
    wait_for(driver, "return document.getElementById('gm-status').className === 'gm-status-error'")
    assert wait_for_text(driver, "#gm-status") == BAD_QUERY_MESSAGE
    assert driver.find_elements(By.CSS_SELECTOR, "#gm-list li") == []


def test_first_view_keeps_the_grid_clear_of_the_search_panel(driver: Any, served: Served,
                                                             tmp_path: Path) -> None:
    """Where the window leaves room beside the panel, the grid starts right of it, at the zoom
    the grid would get without the panel; where it does not, the zoom is not given up."""
    corner = """
        const m = window.gridmap.map, b = L.latLngBounds(window.gridmap.config.bounds);
        const nw = m.latLngToContainerPoint(b.getNorthWest());
        const ne = m.latLngToContainerPoint(b.getNorthEast());
        const p = document.getElementById('gm-panel').getBoundingClientRect();
        const lv = document.querySelector('.gm-levels').getBoundingClientRect();
        const c = m.getContainer().getBoundingClientRect();
        return {zoom: m.getZoom(), fit: m.getBoundsZoom(b), x: nw.x, y: nw.y, east: ne.x,
                right: p.right - c.left, bottom: p.bottom - c.top, levels: lv.left - c.left};
    """
    load_map(driver, served)
    narrow = driver.execute_script(corner)
    assert narrow["zoom"] == narrow["fit"] == 19  # 1200 px wide: no room beside the panel
    driver.set_window_size(1600, 900)
    load_map(driver, served)
    wide = driver.execute_script(corner)
    screenshot(driver, tmp_path, "map-wide.png")
    assert wide["zoom"] == wide["fit"] == 19
    assert wide["x"] > wide["right"] or wide["y"] > wide["bottom"], wide
    assert wide["east"] < wide["levels"], "the grid moved under the level buttons"


def test_on_a_phone_a_chosen_result_folds_the_list_away(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(390, 844)
    load_map(driver, served)
    box = driver.find_element(By.ID, "gm-q")
    box.send_keys("214" + Keys.ENTER)
    wait_for(driver, "return !!document.querySelector('.leaflet-popup-content')")
    shown = "return getComputedStyle(document.getElementById('gm-list')).display !== 'none'"
    assert driver.execute_script(shown) is False  # the popup is not covered by the list
    box.click()
    assert driver.execute_script(shown) is True
    # a wide window keeps the list open beside the map
    driver.set_window_size(1200, 900)
    box.send_keys(Keys.ENTER)
    wait_for(driver, "return document.querySelectorAll('#gm-list li').length > 0")
    assert driver.execute_script(shown) is True


# --- only the current answer is on the map ----------------------------------------------------

#: What the map shows of an answer: the pin, the ring, the popup (a closed popup fades out
#: for 0.2 s with its opacity set to 0: it is no longer shown).
ANSWER_ON_MAP = """
return {pins: document.querySelectorAll('.gm-pin').length,
        rings: document.querySelectorAll('.gm-ring').length,
        popups: Array.from(document.querySelectorAll('.leaflet-popup'))
          .filter(p => p.style.opacity !== '0').length,
        answer: window.gridmap.answer()};
"""
NOTHING = {"pins": 0, "rings": 0, "popups": 0, "answer": None}


def _search(drv: Any, q: str) -> None:
    """Type ``q``, press Enter and wait until the panel shows the answer to it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = drv.find_element(By.ID, "gm-q")
    box.clear()
    box.send_keys(q + Keys.ENTER)
    wait_for(drv, f"return document.getElementById('gm-results').dataset.query === {q!r}")


def _answer_shown(drv: Any) -> None:
    """Wait for the pin's flight to end and its popup to be open."""
    wait_for(drv, "return !window.gridmap.moving() && !!window.gridmap.answer()"
                  " && !!document.querySelector('.leaflet-popup-content')")


def _settled(drv: Any) -> Any:
    """What the map shows once every flight has ended (a late 'moveend' had its chance)."""
    wait_for(drv, "return !window.gridmap.moving() && !Array.from("
                  "document.querySelectorAll('.leaflet-popup')).some(p => p.style.opacity === '0')")
    return drv.execute_script(ANSWER_ON_MAP)


def test_a_new_search_clears_the_previous_marker_and_popup(driver: Any, served: Served) -> None:
    index = CampusIndex(served.campus)
    assert lookup(index, "libary").status.value == "ambiguous"        # misspelt: confirm it
    assert lookup(index, "zzqx").status.value == "not_found"
    assert lookup(index, "door 1").status.value == "ambiguous"        # one per building
    load_map(driver, served)
    for follow_up in ("libary", "zzqx", "door 1", BAD_QUERY):
        _search(driver, "214")
        _answer_shown(driver)
        shown = driver.execute_script(ANSWER_ON_MAP)
        assert (shown["pins"], shown["popups"]) == (1, 1)
        assert "Science Lab" in shown["answer"]["label"]
        _search(driver, follow_up)
        assert driver.execute_script(ANSWER_ON_MAP) == NOTHING, follow_up
        assert _settled(driver) == NOTHING, follow_up
    # the candidates of the ambiguous list stay listed, none marked
    _search(driver, "door 1")
    assert driver.execute_script("return document.querySelectorAll('#gm-list li').length") == 2
    assert driver.execute_script("return document.querySelectorAll('.gm-selected').length") == 0


def test_a_search_while_flying_leaves_no_stale_popup(driver: Any, served: Served) -> None:
    """The second search answers while the first answer's flight may still be on its way:
    the popup the first one would open when it lands must never appear."""
    from selenium.webdriver.common.by import By

    load_map(driver, served)
    # the second search starts the moment the first answer's flight does
    driver.execute_script("""
        window.gridmap.map.once('movestart', function () {
          window.gmFlyingWhenCleared = window.gridmap.moving() && !!window.gridmap.answer();
          window.gridmap.search('zzqx');
        });
        window.gridmap.search('214');""")
    wait_for(driver, "return document.getElementById('gm-results').dataset.query === 'zzqx'")
    assert driver.execute_script("return window.gmFlyingWhenCleared") is True
    assert _settled(driver) == NOTHING
    # and a pick from an ambiguous list replaces the previous pick
    _search(driver, "door 1")
    picks = driver.find_elements(By.CSS_SELECTOR, ".gm-pick")
    picks[0].click()
    _answer_shown(driver)
    first = driver.execute_script(ANSWER_ON_MAP)
    picks[1].click()
    _answer_shown(driver)
    second = driver.execute_script(ANSWER_ON_MAP)
    assert (second["pins"], second["rings"], second["popups"]) == (1, 1, 1)
    assert second["answer"] != first["answer"]
    assert driver.execute_script("return document.querySelectorAll('.gm-selected').length") == 1


def test_a_level_switch_clears_the_answer(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By

    load_map(driver, served)
    _search(driver, "214")
    _answer_shown(driver)
    assert driver.execute_script("return window.gridmap.level()") == 1
    driver.execute_script("document.querySelector('.gm-level[data-ordinal=\"0\"]').click()")
    wait_for(driver, "return window.gridmap.level() === 0")
    assert _settled(driver) == NOTHING
    # the list stays: picking the answer again brings it back on its own level, marked picked
    assert driver.execute_script("return document.querySelectorAll('.gm-selected').length") == 0
    driver.find_element(By.CSS_SELECTOR, ".gm-pick").click()
    _answer_shown(driver)
    assert driver.execute_script("return window.gridmap.level()") == 1
    assert driver.execute_script("return document.querySelectorAll('.gm-selected').length") == 1


def test_popup_names_the_level_and_building_of_every_nearby_item(driver: Any,
                                                                 served: Served) -> None:
    load_map(driver, served)
    _search(driver, "214")
    _answer_shown(driver)
    lines = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-popup .gm-line-nearby'))"
        ".map(e => e.textContent)")
    answer = lookup(CampusIndex(served.campus), "214").candidates[0]
    expected = len(answer.nearest_doors) + (answer.nearest_knox_box is not None) + (
        answer.nearest_aed is not None)
    assert len(lines) == expected >= 3
    level_names = {lv.name for lv in served.campus.levels}
    for line in lines:
        assert "Building " in line, line
        assert any(name in line for name in level_names), line
    # every exterior door is downstairs from room 214: said so
    doors = [ln for ln in lines if ln.startswith("Door ")]
    assert doors and all("1st Floor (other level)" in d for d in doors), doors


def test_nearby_levels_from_ordinals_when_the_answer_has_no_names(driver: Any,
                                                                    served: Served) -> None:
    load_map(driver, served)
    _search(driver, LEGACY_QUERY)
    _answer_shown(driver)
    lines = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-popup .gm-line-nearby'))"
        ".map(e => e.textContent)")
    doors = [ln for ln in lines if ln.startswith("Door ")]
    assert doors and all(d.endswith("Building A, 1st Floor (other level)") for d in doors), doors


def test_approximate_answers_say_so(driver: Any, served: Served) -> None:
    load_map(driver, served)
    _search(driver, APPROXIMATE_QUERY)
    _answer_shown(driver)
    listed = driver.execute_script(
        "return Array.from(document.querySelectorAll('#gm-list .gm-line-flag'))"
        ".map(e => e.textContent)")
    in_popup = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-popup .gm-line-flag'))"
        ".map(e => e.textContent)")
    assert listed == in_popup == [f"⚠ {APPROXIMATE_FLAG}"]


def test_the_pin_never_covers_the_label_it_points_at(driver: Any, served: Served,
                                                     tmp_path: Path) -> None:
    """The room number under the answer, or the symbol of a door or point of interest wherever
    the tiles may have drawn it, reads the same with and without the pin, ring and popup."""
    served.state["labels"] = True
    load_map(driver, served)
    for q, key in (("214", "room"), ("knox box", "knox_box")):
        room = key == "room"
        _search(driver, q)
        _answer_shown(driver)
        wait_for(driver, TILES_READY)
        assert driver.execute_script("return window.gridmap.answer().clearance") == key
        x, y = driver.execute_script(
            "const a = window.gridmap.answer();"
            "const p = window.gridmap.map.latLngToContainerPoint([a.lat, a.lon]);"
            "return [Math.round(p.x), Math.round(p.y)]")
        with_pin = screenshot(driver, tmp_path, f"pin-{q}.png")
        driver.execute_script(
            "for (const pane of ['markerPane', 'popupPane', 'overlayPane'])"
            "  window.gridmap.map.getPane(pane).style.visibility = 'hidden';")
        bare = screenshot(driver, tmp_path, f"pin-{q}-hidden.png")
        driver.execute_script(
            "for (const pane of ['markerPane', 'popupPane', 'overlayPane'])"
            "  window.gridmap.map.getPane(pane).style.visibility = '';")
        zoom = driver.execute_script("return Math.round(window.gridmap.map.getZoom())")
        clear = served_clearance(zoom, key)
        # the label block centred on a room's answer (as wide as a room's number and name),
        # or the disc around a door's or point of interest's answer in which the tiles draw its
        # symbol (on the point, or moved beside it off a room number)
        half = clear - 4
        rows, cols = np.mgrid[-half:half + 1, -40:41] if room else np.mgrid[-half:half + 1,
                                                                            -half:half + 1]
        inside = np.ones(rows.shape, bool) if room else rows ** 2 + cols ** 2 <= half ** 2
        ys, xs = (rows + y)[inside], (cols + x)[inside]
        label = bare[ys, xs]
        assert (label.max(axis=-1) < 90).sum() > 20, "no label under the answer"
        diff = np.abs(with_pin[ys, xs] - label).max(axis=-1)
        assert (diff > 8).sum() == 0, f"the pin or popup covers {(diff > 8).sum()} label pixels"
        # yet the pin is right there: its tip within a few pixels above the label
        tip = driver.execute_script(
            "const r = document.querySelector('.gm-pin').getBoundingClientRect();"
            "const c = window.gridmap.map.getContainer().getBoundingClientRect();"
            "return [r.left + r.width / 2 - c.left, r.bottom - c.top]")
        assert abs(tip[0] - x) <= 1 and y - clear - 1 <= tip[1] <= y - clear + 1, (tip, x, y)
    # zoomed in, the labels grow and the pin stands higher
    driver.execute_script("window.gridmap.map.setZoom(21)")
    wait_for(driver, "return !window.gridmap.moving() && window.gridmap.map.getZoom() === 21")
    x, y, tip_y = driver.execute_script(
        "const a = window.gridmap.answer(), m = window.gridmap.map;"
        "const p = m.latLngToContainerPoint([a.lat, a.lon]);"
        "const r = document.querySelector('.gm-pin').getBoundingClientRect();"
        "const c = m.getContainer().getBoundingClientRect();"
        "return [p.x, p.y, r.bottom - c.top]")
    assert abs(y - served_clearance(21, "knox_box") - tip_y) <= 1


def served_clearance(zoom: int, key: str) -> int:
    return marker_clearance(zoom)[key]
