"""The web map's frame in headless Chromium: title bar, legend, first view, imagery, sharp tiles.

A tiny app of this test's own serves the page (revision 7), the real tiles (``@2x`` too), the
real lookup and, when asked to, an imagery layer of one flat colour from a URL of its own: no
request ever leaves the machine. Phones are emulated with Chrome's device metrics (390×844
CSS pixels, 3 device pixels each, a mobile viewport), laptops 1366×768 CSS pixels.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gridmap.doors import number_exterior_doors
from gridmap.index import CampusIndex
from gridmap.lookup import lookup
from gridmap.model import Campus
from tests.browser import (
    TILES_READY,
    chromium,
    near,
    need_browser,
    screenshot,
    serve,
    severe_console_errors,
    wait_for,
)
from tests.campus_factory import small_campus
from tiles.raster import render_tile
from tiles.webmap import (
    MAX_MAP_ZOOM,
    MAX_NATIVE_ZOOM,
    STATIC_DIR,
    map_page,
    marker_clearance,
    vendor_dir,
)

pytestmark = pytest.mark.browser

REVISION = 7
#: The fake imagery: one flat colour no map feature uses, and its credit line.
IMAGERY_COLOUR = (30, 110, 60)
IMAGERY_CREDIT = "Test imagery, flat colour"
IMAGERY_URL = "/fake-imagery/{z}/{x}/{y}{r}.png"
#: The map's plain background under the plans while imagery is off (gridmap.css).
PLAIN_BACKGROUND = (0xF7, 0xF7, 0xF4)

SAMPLE = Path(__file__).resolve().parents[1] / "data/samples/lincoln_ridge/campus.toml"
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
LAPTOP = {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False}


@dataclasses.dataclass
class Served:
    base: str
    campus: Campus
    state: dict[str, Any]
    requests: list[str]


def flat_png(size: int, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def make_app(campus: Campus, state: dict[str, Any], requests: list[str]) -> Any:
    from fastapi import FastAPI, Request, Response
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        requests.append(request.url.path)
        return await call_next(request)

    @app.get("/campuses/{cid}/map")
    def page(cid: str) -> HTMLResponse:
        imagery = {"url": IMAGERY_URL, "attribution": IMAGERY_CREDIT} if state["imagery"] else None
        return HTMLResponse(map_page(campus, revision=REVISION, imagery=imagery))

    @app.get("/campuses/{cid}/levels/{ordinal}/tiles/{z}/{x}/{name}.png")
    def tile(cid: str, ordinal: int, z: int, x: int, name: str) -> Response:
        y, _, density = name.partition("@")
        png = render_tile(campus, ordinal, z, x, int(y), scale=2 if density == "2x" else 1)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/fake-imagery/{z}/{x}/{name}.png")
    def imagery(z: int, x: int, name: str) -> Response:
        size = 512 if name.endswith("@2x") else 256
        return Response(flat_png(size, IMAGERY_COLOUR), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    index = CampusIndex(campus)

    @app.get("/campuses/{cid}/lookup")
    def answer(cid: str, q: str) -> JSONResponse:
        return JSONResponse(lookup(index, q).to_dict())

    app.mount("/static/vendor/leaflet", StaticFiles(directory=vendor_dir()), name="leaflet")
    app.mount("/static/gridmap", StaticFiles(directory=STATIC_DIR), name="gridmap")
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    need_browser()
    campus = number_exterior_doors(small_campus())
    state: dict[str, Any] = {"imagery": False}
    requests: list[str] = []
    with serve(make_app(campus, state, requests)) as base:
        yield Served(base, campus, state, requests)


@pytest.fixture(scope="module")
def served_sample() -> Iterator[Served]:
    """The sample campus (three buildings, a 16×13 grid of 100 ft cells, long popups)."""
    need_browser()
    from importers.campus import import_campus

    campus = import_campus(SAMPLE).campus
    state: dict[str, Any] = {"imagery": False}
    requests: list[str] = []
    with serve(make_app(campus, state, requests)) as base:
        yield Served(base, campus, state, requests)


@pytest.fixture
def driver(tmp_path: Path, served: Served) -> Iterator[Any]:
    served.state["imagery"] = False
    with chromium(tmp_path / "chrome-profile") as drv:
        yield drv


def as_phone(drv: Any, scale: int = 3) -> None:
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**PHONE, "deviceScaleFactor": scale})


def as_laptop(drv: Any) -> None:
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", LAPTOP)


def load_map(drv: Any, served: Served, fragment: str = "") -> None:
    drv.execute_script("window.gmStale = true") if drv.current_url.startswith("http") else None
    drv.get(f"{served.base}/campuses/{served.campus.id}/map{fragment}")
    wait_for(drv, "return !window.gmStale && !!(window.gridmap && window.L)")
    wait_for(drv, TILES_READY)


def search(drv: Any, q: str) -> None:
    """Search ``q`` and wait until its answer is on the map, its popup open, nothing moving."""
    drv.execute_script("window.gridmap.search(arguments[0])", q)
    wait_for(drv, f"return document.getElementById('gm-results').dataset.query === {q!r}")
    settle(drv)


def settle(drv: Any) -> None:
    wait_for(drv, "return !window.gridmap.moving() && !!window.gridmap.answer()"
                  " && !!document.querySelector('.leaflet-popup-content')")
    wait_for(drv, "return Array.from(document.querySelectorAll('.leaflet-popup'))"
                  ".every(p => getComputedStyle(p).opacity === '1')")


#: Rectangles (CSS pixels, viewport) of the answer's pin, ring and popup, the legend, the panel.
RECTS = """
const a = window.gridmap.answer(), m = window.gridmap.map;
const c = m.getContainer().getBoundingClientRect();
const p = a ? m.latLngToContainerPoint([a.lat, a.lon]) : null;
const r = (n) => { if (!n) return null; const b = n.getBoundingClientRect();
  return b.width > 0 && b.height > 0 ? [b.left, b.top, b.right, b.bottom] : null; };
return {pin: r(document.querySelector('.gm-pin')), ring: r(document.querySelector('.gm-ring')),
        popup: r(document.querySelector('.leaflet-popup')),
        legend: r(document.getElementById('gm-legend')),
        panel: r(document.getElementById('gm-panel')),
        map: r(document.getElementById('gm-map')), zoom: Math.round(window.gridmap.map.getZoom()),
        clearance: a ? a.clearance : null, point: a ? [p.x + c.left, p.y + c.top] : null};
"""


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(a: list[float], b: list[float]) -> bool:
    return b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]


def answer_parts(rects: dict[str, Any]) -> dict[str, list[float]]:
    """The pin, ring and popup, and what they point at: the label block centred on a room's
    point (as tall as the pin's clearance above it), or the disc around a door or point of
    interest in which the tiles draw its symbol."""
    parts = {k: rects[k] for k in ("pin", "ring", "popup") if rects[k]}
    assert "pin" in parts and "popup" in parts, rects
    x, y = rects["point"]
    reach = marker_clearance(rects["zoom"])[rects["clearance"]]
    half = max(reach, 40) if rects["clearance"] == "room" else reach
    parts["target"] = [x - half, y - reach, x + half, y + reach]
    return parts


def where(drv: Any) -> dict[str, str]:
    return dict(drv.execute_script(
        "const t = (id) => { const e = document.getElementById(id);"
        "  return e && !e.hidden ? e.textContent.trim() : ''; };"
        "return {title: t('gm-title'), level: t('gm-where-level'),"
        "        building: t('gm-where-building'), revision: t('gm-revision')};"))


# --- the title bar -----------------------------------------------------------------------------


def test_title_bar_names_campus_level_building_and_revision(driver: Any, served: Served,
                                                            tmp_path: Path) -> None:
    as_laptop(driver)
    load_map(driver, served)
    campus = served.campus
    letters = sorted(b.short_name for b in campus.buildings)
    shown = where(driver)
    assert shown == {"title": campus.name, "level": campus.ordinal_name(0),
                     "building": "Buildings " + ", ".join(letters),
                     "revision": f"rev {REVISION}"}
    screenshot(driver, tmp_path, "title-laptop.png")

    # an answer names its own building and level
    search(driver, "214")
    answer = lookup(CampusIndex(campus), "214").candidates[0]
    main = next(b for b in campus.buildings if b.id == answer.building_id)
    shown = where(driver)
    assert shown["building"] == f"Building {main.short_name} ({main.name})"
    assert shown["level"] == answer.level_name == "2nd Floor"

    # without an answer: the building under the map's centre, with its own level name ...
    gym = next(b for b in campus.buildings if b.id != main.id)
    gym_levels = {lv.ordinal: lv.name for lv in campus.levels if lv.building_id == gym.id}
    assert 1 not in gym_levels  # the gym has one floor
    centre = gym.footprint.representative_point()  # the model is in lon/lat
    lon, lat = centre.x, centre.y
    driver.execute_script("window.gridmap.search('')")  # clears the answer
    driver.execute_script("window.gridmap.map.setView([arguments[0], arguments[1]], 21,"
                          " {animate: false})", lat, lon)
    wait_for(driver, "return !window.gridmap.moving() && !window.gridmap.answer()")
    shown = where(driver)
    # ... and where that building has no such level, it says so
    assert shown["building"] == f"Building {gym.short_name} ({gym.name}): no 2nd Floor"
    driver.execute_script("window.gridmap.setLevel(0)")
    shown = where(driver)
    assert (shown["building"], shown["level"]) == (
        f"Building {gym.short_name} ({gym.name})", gym_levels[0])
    assert shown["revision"] == f"rev {REVISION}" and shown["title"] == campus.name


def test_title_bar_fits_on_a_phone(driver: Any, served: Served, tmp_path: Path) -> None:
    as_phone(driver)
    load_map(driver, served)
    search(driver, "214")
    screenshot(driver, tmp_path, "title-phone.png")
    fit = driver.execute_script(
        "const e = document.getElementById(arguments[0]);"
        "const b = e.getBoundingClientRect();"
        "return [b.left >= 0, b.right <= window.innerWidth, e.scrollWidth <= e.clientWidth + 1];",
        "gm-titlebar")
    assert fit == [True, True, True]
    texts = where(driver)
    assert all(texts.values()), texts


# --- the legend never covers the answer ---------------------------------------------------------


@pytest.mark.parametrize("device", ["phone", "laptop"])
def test_legend_is_folded_on_a_phone_and_never_covers_the_answer(
        driver: Any, served: Served, tmp_path: Path, device: str) -> None:
    as_phone(driver) if device == "phone" else as_laptop(driver)
    load_map(driver, served)
    is_open = "return document.getElementById('gm-legend').open"
    assert driver.execute_script(is_open) is (device == "laptop")
    for q in ("214", "knox box"):
        search(driver, q)
        if not driver.execute_script(is_open):  # the reader opens it to read a symbol
            driver.execute_script("document.querySelector('#gm-legend summary').click()")
            wait_for(driver, is_open)
        settle(driver)
        rects = driver.execute_script(RECTS)
        for name, part in answer_parts(rects).items():
            assert not overlap(part, rects["legend"]), (q, name, rects)
            assert not overlap(part, rects["panel"]), (q, name, rects)
            assert inside(part, rects["map"]), (q, name, rects)
        screenshot(driver, tmp_path, f"legend-{device}-{q.replace(' ', '-')}.png")

    # the reader drags the answer into the legend's corner, then opens the legend again: the
    # map moves the answer clear of it (or the legend folds away where nothing clears it)
    driver.execute_script("document.getElementById('gm-legend').open = false")
    rects = driver.execute_script(RECTS)
    parts = answer_parts(rects)
    right = max(p[2] for p in parts.values())
    bottom = max(p[3] for p in parts.values())
    driver.execute_script("window.gridmap.map.panBy([arguments[0], arguments[1]],"
                          " {animate: false})", right - rects["map"][2] + 4,
                          bottom - rects["map"][3] + 4)
    driver.execute_script("document.querySelector('#gm-legend summary').click()")
    wait_for(driver, "return !window.gridmap.moving()")
    settle(driver)
    rects = driver.execute_script(RECTS)
    for name, part in answer_parts(rects).items():
        assert not overlap(part, rects["legend"]), (name, rects)
    screenshot(driver, tmp_path, f"legend-{device}-dragged.png")


def test_on_a_phone_the_legend_opens_below_a_long_answer(driver: Any, served_sample: Served,
                                                         tmp_path: Path) -> None:
    """A room of the sample campus has a popup too tall to leave room for the whole legend:
    the legend still opens when asked, shorter (it scrolls), below the answer."""
    as_phone(driver, 2)
    load_map(driver, served_sample)
    search(driver, "214")
    driver.execute_script("document.querySelector('#gm-legend summary').click()")
    wait_for(driver, "return !window.gridmap.moving()")
    settle(driver)
    legend = driver.execute_script(
        "const l = document.getElementById('gm-legend');"
        "return {open: l.open, scrolls: l.scrollHeight > l.clientHeight + 1,"
        "        height: l.getBoundingClientRect().height};")
    assert legend["open"] and legend["scrolls"] and legend["height"] >= 72, legend
    rects = driver.execute_script(RECTS)
    for name, part in answer_parts(rects).items():
        assert not overlap(part, rects["legend"]), (name, rects)
        assert not overlap(part, rects["panel"]), (name, rects)
    screenshot(driver, tmp_path, "legend-phone-sample-214.png")
    # folded again, it comes back to its own height next time
    driver.execute_script("document.querySelector('#gm-legend summary').click()")
    wait_for(driver, "return !document.getElementById('gm-legend').open"
                     " && document.getElementById('gm-legend').style.maxHeight === ''")


# --- the first view on a phone -------------------------------------------------------------------

CAMPUS_RECT = """
const m = window.gridmap.map, b = L.latLngBounds(window.gridmap.config.bounds);
const c = m.getContainer().getBoundingClientRect();
const nw = m.latLngToContainerPoint(b.getNorthWest());
const se = m.latLngToContainerPoint(b.getSouthEast());
return {campus: [nw.x + c.left, nw.y + c.top, se.x + c.left, se.y + c.top],
        zoom: m.getZoom(), fit: m.getBoundsZoom(b)};
"""


@pytest.mark.parametrize(("which", "scale"), [("small", 1), ("small", 3), ("sample", 2)])
def test_on_a_phone_the_first_view_fits_the_campus(driver: Any, request: pytest.FixtureRequest,
                                                    tmp_path: Path, which: str,
                                                    scale: int) -> None:
    served = request.getfixturevalue("served" if which == "small" else "served_sample")
    as_phone(driver, scale)
    load_map(driver, served)
    shot = screenshot(driver, tmp_path, f"phone-first-view-{which}-{scale}x.png")
    assert shot.shape[:2] == (PHONE["height"] * scale, PHONE["width"] * scale)
    view = driver.execute_script(CAMPUS_RECT)
    rects = driver.execute_script(RECTS)
    assert inside(view["campus"], rects["map"]), view
    assert not overlap(view["campus"], rects["panel"]), (view, rects["panel"])
    assert not overlap(view["campus"], rects["legend"]), (view, rects["legend"])
    # and not smaller than it need be: one zoom level more would not fit the phone at all
    assert view["zoom"] == view["fit"], view


# --- imagery -----------------------------------------------------------------------------------

IMAGERY_STATE = """
const toggle = document.getElementById('gm-imagery');
const credit = document.querySelector('.gm-credit');
return {toggle: toggle ? toggle.checked : null,
        tiles: document.querySelectorAll('.gm-imagery img').length,
        credit: credit && getComputedStyle(credit).display !== 'none' ? credit.textContent : null,
        hash: location.hash};
"""


def outdoor_pixel(drv: Any, served: Served) -> tuple[int, int]:
    """A point of the view (CSS px) outside the campus's parcel, where the plans are transparent."""
    return tuple(drv.execute_script(
        "const m = window.gridmap.map, b = L.latLngBounds(window.gridmap.config.bounds);"
        "const p = m.latLngToContainerPoint(b.getSouthWest());"
        "const c = m.getContainer().getBoundingClientRect();"
        "return [Math.round(p.x + c.left) - 20, Math.round(p.y + c.top) + 20];"))


def test_imagery_is_under_the_plans_and_switches_on_and_off(driver: Any, served: Served,
                                                           tmp_path: Path) -> None:
    served.state["imagery"] = True
    as_laptop(driver)
    served.requests.clear()
    load_map(driver, served)
    state = driver.execute_script(IMAGERY_STATE)
    assert state["toggle"] is True and state["tiles"] > 0 and state["credit"] == IMAGERY_CREDIT
    assert any(p.startswith("/fake-imagery/") for p in served.requests)
    # under the plans: the imagery's tiles sit in a lower layer
    order = driver.execute_script(
        "const z = (sel) => Number(getComputedStyle(document.querySelector(sel)"
        "  .closest('.leaflet-layer')).zIndex);"
        "return [z('.gm-imagery img'), z('.gm-tiles img')];")
    assert order[0] < order[1], order
    x, y = outdoor_pixel(driver, served)
    on = screenshot(driver, tmp_path, "imagery-on.png")
    assert near(on[y - 3:y + 4, x - 3:x + 4], IMAGERY_COLOUR, 6).all()
    # where the plans draw a building, the building covers the imagery
    plans = near(on, IMAGERY_COLOUR, 6)
    assert 0.02 < plans.mean() < 0.98

    driver.execute_script("document.getElementById('gm-imagery').click()")
    wait_for(driver, "return document.querySelectorAll('.gm-imagery img')"
                     ".length === 0")
    state = driver.execute_script(IMAGERY_STATE)
    assert state["toggle"] is False and state["credit"] is None
    assert "imagery=off" in state["hash"]
    off = screenshot(driver, tmp_path, "imagery-off.png")
    assert near(off[y - 3:y + 4, x - 3:x + 4], PLAIN_BACKGROUND, 3).all()
    assert not near(off, IMAGERY_COLOUR, 6).any()

    # a reload keeps the reader's choice
    driver.refresh()
    wait_for(driver, "return !!(window.gridmap && window.L)")
    wait_for(driver, TILES_READY)
    assert driver.execute_script(IMAGERY_STATE)["toggle"] is False
    assert not severe_console_errors(driver)


def test_no_imagery_no_toggle(driver: Any, served: Served) -> None:
    served.requests.clear()
    as_laptop(driver)
    load_map(driver, served)
    state = driver.execute_script(IMAGERY_STATE)
    assert state == {"toggle": None, "tiles": 0, "credit": None, "hash": "#level=0"}
    assert not any(p.startswith("/fake-imagery/") for p in served.requests)


# --- high-density tiles --------------------------------------------------------------------------


def test_a_high_density_screen_gets_2x_tiles_drawn_to_z22(driver: Any, served: Served,
                                                        tmp_path: Path) -> None:
    served.state["imagery"] = True
    as_phone(driver, 2)
    load_map(driver, served)
    tiles = driver.execute_script(
        "return Array.from(document.querySelectorAll('img.leaflet-tile'))"
        ".map(i => [i.src, i.naturalWidth])")
    plans = [(s, w) for s, w in tiles if "/levels/" in s]
    imagery = [(s, w) for s, w in tiles if "/fake-imagery/" in s]
    assert plans and all(s.endswith(f"@2x.png?v={REVISION}") and w == 512 for s, w in plans)
    assert imagery and all(s.endswith("@2x.png") and w == 512 for s, w in imagery)
    # the plans are drawn for real to z22, and enlarged beyond
    assert driver.execute_script("return window.gridmap.map.getMaxZoom()") == MAX_MAP_ZOOM
    assert MAX_NATIVE_ZOOM == 22 < MAX_MAP_ZOOM <= 24
    for zoom in (MAX_NATIVE_ZOOM, MAX_MAP_ZOOM):
        driver.execute_script("window.gridmap.map.setZoom(arguments[0], {animate: false})", zoom)
        wait_for(driver, f"return window.gridmap.map.getZoom() === {zoom}")
        wait_for(driver, TILES_READY)
        zooms = driver.execute_script(
            "return Array.from(document.querySelectorAll('.gm-tiles img.leaflet-tile-loaded'))"
            ".map(i => Number(i.src.split('/tiles/')[1].split('/')[0]))")
        assert zooms and set(zooms) == {MAX_NATIVE_ZOOM}, (zoom, sorted(set(zooms)))
    screenshot(driver, tmp_path, "z24-2x.png")
