"""The web map page: only local assets, level names, data escaped."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box

from gridmap.crs import LocalFrame
from gridmap.grid import extent, lonlat_bounds
from gridmap.model import Campus
from tests.campus_factory import small_campus
from tiles import style
from tiles.webmap import (
    STATIC_DIR,
    VENDOR_ENV,
    VendorAssetsMissing,
    level_entries,
    map_page,
    page_config,
    vendor_dir,
)

REPO = Path(__file__).resolve().parent.parent
EVIL = '</script><script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


class Collector(HTMLParser):
    """Every tag's attributes, and the text of the JSON config block."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.config_text: list[str] = []
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        self.tags.append((tag, d))
        self._in_config = tag == "script" and d.get("id") == "gridmap-config"

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text.append(data)


def parse(page: str) -> Collector:
    c = Collector()
    c.feed(page)
    return c


def config_of(page: str) -> dict[str, Any]:
    c = parse(page)
    data: dict[str, Any] = json.loads("".join(c.config_text))
    return data


@pytest.fixture(scope="module")
def campus() -> Campus:
    return small_campus()


def test_no_external_urls(campus: Campus) -> None:
    page = map_page(campus)
    c = parse(page)
    srcs = [a.get("src") or a.get("href") or "" for tag, a in c.tags
            if tag in ("script", "link", "img", "iframe", "source")]
    assert srcs, "the page loads nothing?"
    for src in srcs:
        assert not re.match(r"^(https?:)?//", src, re.I), f"external asset {src}"
    assert "http://" not in page and "https://" not in page
    assert "/static/vendor/leaflet/leaflet.js" in srcs
    assert "/static/vendor/leaflet/leaflet.css" in srcs
    assert "/static/gridmap/gridmap.js" in srcs
    assert "/static/gridmap/gridmap.css" in srcs
    scripts = [a for tag, a in c.tags if tag == "script" and a.get("src")]
    assert all(s["src"] and s["src"].startswith("/static/") for s in scripts)


def test_csp_restricts_loads_to_own_origin(campus: Campus) -> None:
    c = parse(map_page(campus))
    csp = next(a["content"] for t, a in c.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    other = parse(map_page(campus, api_base="https://maps.example.org/gm"))
    csp2 = next(a["content"] for t, a in other.tags
                if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp2 is not None and "connect-src 'self' https://maps.example.org" in csp2


def test_level_names_and_config(campus: Campus) -> None:
    page = map_page(campus, api_base="/api/")
    cfg = config_of(page)
    names = [lv["name"] for lv in cfg["levels"]]
    assert names == ["1st Floor", "2nd Floor"]
    assert [lv["ordinal"] for lv in cfg["levels"]] == [0, 1]
    assert cfg["campus"]["id"] == campus.id
    assert cfg["lookup_url"] == f"/api/campuses/{campus.id}/lookup"
    assert cfg["tile_url"] == (
        f"/api/campuses/{campus.id}/levels/{{ordinal}}/tiles/{{z}}/{{x}}/{{y}}{{r}}.png")
    assert cfg["default_ordinal"] == 0
    assert cfg["grid"]["cell_size"] == 25.0 and cfg["grid"]["unit"] == "m"
    assert cfg["north_note"] == "Grid aligned to true north, cells 25 m"
    (south, west), (north, east) = cfg["bounds"]
    assert south < 42.70 < north and west < -84.43 < east
    assert north - south < 0.01 and east - west < 0.01
    legend_keys = {e["key"] for e in cfg["legend"]}
    assert {"grid", "door", "knox_box", "aed", "gas_shutoff"} <= legend_keys
    assert "trauma_kit" not in legend_keys  # only kinds the campus has


def test_level_entries_pick_common_name() -> None:
    c = small_campus()
    entries = level_entries(c)
    assert entries[0]["buildings"] == ["Main Building", "Gymnasium"]
    assert entries[1]["buildings"] == ["Main Building"]
    # the gym calls its ground floor "Court Level": most buildings (two of three) say "1st Floor"
    court = dataclasses.replace(c.levels[-1], name="Court Level", short_name="C")
    third = dataclasses.replace(c.buildings[0], id="annex", name="Annex")
    annex = dataclasses.replace(c.levels[0], id="annex-0", building_id="annex", short_name="G")
    mixed = dataclasses.replace(c, buildings=(*c.buildings, third),
                                levels=(*c.levels[:-1], court, annex))
    ground = level_entries(mixed)[0]
    assert ground["name"] == mixed.ordinal_name(0) == "1st Floor"
    assert ground["short_name"] in {lv.short_name for lv in mixed.levels
                                    if lv.ordinal == 0 and lv.name == "1st Floor"}
    assert sorted(ground["buildings"]) == ["Annex", "Gymnasium", "Main Building"]


def test_malicious_names_are_escaped(campus: Campus) -> None:
    buildings = (dataclasses.replace(campus.buildings[0], name=EVIL), *campus.buildings[1:])
    levels = tuple(dataclasses.replace(lv, name=EVIL) if lv.ordinal == 1 else lv
                   for lv in campus.levels)
    evil = dataclasses.replace(campus, name=EVIL, address=EVIL, buildings=buildings,
                               levels=levels, id='x"></script><b>')
    page = map_page(evil)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert page.count("</script>") == 3  # the config block and the two script tags
    cfg = config_of(page)
    assert cfg["campus"]["name"] == EVIL
    assert cfg["campus"]["id"] == 'x"></script><b>'
    assert cfg["levels"][1]["name"] == EVIL
    assert EVIL in cfg["levels"][0]["buildings"]
    c = parse(page)
    assert [t for t, _ in c.tags].count("script") == 3
    assert "img" not in [t for t, _ in c.tags]


def test_page_config_round_trips_through_the_page(campus: Campus) -> None:
    """The config the script reads is exactly :func:`page_config`, bounds hold the whole grid."""
    cfg = page_config(campus)
    assert config_of(map_page(campus)) == json.loads(json.dumps(cfg))
    (south, west), (north, east) = cfg["bounds"]
    want = lonlat_bounds(campus.grid, LocalFrame(campus.crs))
    assert (west, south, east, north) == pytest.approx(tuple(want))
    frame = LocalFrame(campus.crs)
    for x, y in box(*extent(campus.grid)).exterior.coords:  # every grid corner is inside
        lon, lat = frame.lonlat(x, y)
        assert south <= lat <= north and west <= lon <= east


@pytest.mark.parametrize(("version", "query"), [("7", "?v=7"), ("r 1/2&x", "?v=r%201%2F2%26x")])
def test_tile_urls_carry_the_revision(campus: Campus, version: str, query: str) -> None:
    cfg = config_of(map_page(campus, api_base="/api", tile_version=version))
    assert cfg["tile_url"].endswith(f"/tiles/{{z}}/{{x}}/{{y}}{{r}}.png{query}")
    assert cfg["tile_url"].startswith(f"/api/campuses/{campus.id}/levels/{{ordinal}}/")
    assert "?" not in cfg["lookup_url"]
    # without a version the URLs have no query (the script adds nothing either)
    assert config_of(map_page(campus))["tile_url"].endswith(".png")
    js = (STATIC_DIR / "gridmap.js").read_text()
    assert "cfg.tile_url.replace('{ordinal}'" in js


def test_odd_campus_id_is_encoded_in_urls(campus: Campus) -> None:
    odd = dataclasses.replace(campus, id="a b/{c}")
    cfg = page_config(odd, tile_version="3")
    assert cfg["lookup_url"] == "/campuses/a%20b%2F%7Bc%7D/lookup"
    assert cfg["tile_url"] == ("/campuses/a%20b%2F%7Bc%7D/levels/{ordinal}/tiles/{z}/{x}/{y}{r}"
                               ".png?v=3")


def test_static_dir_has_our_assets() -> None:
    assert (STATIC_DIR / "gridmap.js").is_file()
    assert (STATIC_DIR / "gridmap.css").is_file()
    js = (STATIC_DIR / "gridmap.js").read_text()
    assert ".innerHTML" not in js and "insertAdjacentHTML" not in js  # textContent only
    assert "credentials: 'same-origin'" in js
    for text in (js, (STATIC_DIR / "gridmap.css").read_text()):
        assert "http://" not in text and "https://" not in text


def test_vendor_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VENDOR_ENV, str(tmp_path))
    with pytest.raises(VendorAssetsMissing, match="npm ci"):
        vendor_dir()
    (tmp_path / "leaflet.js").write_text("/* leaflet */")
    (tmp_path / "leaflet.css").write_text("/* leaflet */")
    assert vendor_dir() == tmp_path


def test_vendor_dir_default() -> None:
    if not (REPO / "node_modules" / "leaflet" / "dist" / "leaflet.js").is_file():
        pytest.skip("node_modules/leaflet not installed: run `npm ci`")
    assert vendor_dir() == REPO / "node_modules" / "leaflet" / "dist"
    assert (vendor_dir() / "images" / "layers.png").is_file()


def test_leaflet_pinned_in_package_json() -> None:
    pkg = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    version = pkg["dependencies"]["leaflet"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin an exact leaflet version"
    assert lock["packages"]["node_modules/leaflet"]["version"] == version


# --- the search pin keeps clear of the label it points at --------------------------------------


def _world_px(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Web Mercator pixel of lon/lat at zoom z (256-pixel tiles)."""
    import math

    size = 256 * 2**z
    s = math.sin(math.radians(lat))
    return (lon + 180.0) / 360.0 * size, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size


def _mosaic(campus: Campus, ordinal: int, z: int, tx: int, ty: int, labels: bool) -> Any:
    """The 3x3 tiles around tile (tx, ty), as one RGB array."""
    import io

    import numpy as np
    from PIL import Image

    from tiles.raster import render_tile

    rows = []
    for y in (ty - 1, ty, ty + 1):
        row = [np.asarray(Image.open(io.BytesIO(render_tile(campus, ordinal, z, x, y,
                                                            room_labels=labels))).convert("RGB"),
                          dtype=np.int16) for x in (tx - 1, tx, tx + 1)]
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


#: Widest gap (pixels) between two lines of one label block.
LINE_GAP_PX = 4


@pytest.mark.parametrize("zoom", [18, 20, 21, 22])
def test_marker_clearance_is_above_every_room_label_the_tiles_draw(zoom: int) -> None:
    """The tiles' room labels (number, then name lines) are centred on the answer's point: the
    pin's tip must stand higher than the top of the tallest of them, at every zoom."""
    import numpy as np

    from gridmap.index import CampusIndex
    from tiles.webmap import marker_clearance

    campus = small_campus()
    index = CampusIndex(campus)
    tallest = 0
    named = [u for u in campus.units if u.number and not u.name.startswith("Classroom")]
    assert len(named) >= 4
    for unit in named:
        p = index.label_point(unit)
        lon, lat = index.frame.lonlat(p.x, p.y)
        px, py = _world_px(lon, lat, zoom)
        tx, ty = int(px // 256), int(py // 256)
        ordinal = index.levels[unit.level_id].ordinal
        on = _mosaic(campus, ordinal, zoom, tx, ty, True)
        off = _mosaic(campus, ordinal, zoom, tx, ty, False)
        cx, cy = round(px - (tx - 1) * 256), round(py - (ty - 1) * 256)
        # label pixels of this room: where labels change the map, inside the room's box
        metres_per_px = 156543.03392 * np.cos(np.radians(lat)) / 2**zoom
        minx, miny, maxx, maxy = index.shapes[unit.id].bounds
        left, right = cx - int((p.x - minx) / metres_per_px) + 2, cx + int((maxx - p.x)
                                                                          / metres_per_px) - 2
        top, bottom = cy - int((maxy - p.y) / metres_per_px) + 2, cy + int((p.y - miny)
                                                                          / metres_per_px) - 2
        # label text: dark with labels, not without (a symbol the tiles moved off the label
        # shows as a change too, but in its own colours)
        text = (on.max(axis=-1) < 90) & ~(off.max(axis=-1) < 90)
        window = text[max(top, 0):bottom + 1, max(left, 0):right + 1]
        rows = set((np.flatnonzero(window.any(axis=1)) + max(top, 0)).tolist())
        # the label block around the point: rows of text reaching out from it with no gap
        # wider than a line's spacing
        for step in (-1, 1):
            reach, gap = 0, 0
            for dy in range(0, max(cy - top, bottom - cy) + 1):
                if cy + step * dy in rows:
                    reach, gap = dy, 0
                elif (gap := gap + 1) > LINE_GAP_PX:
                    break
            tallest = max(tallest, reach)
    assert tallest > 0, "no room label drawn: the test measured nothing"
    assert marker_clearance(zoom)["room"] > tallest, (zoom, tallest)


def test_page_config_carries_the_marker_clearance_of_every_zoom() -> None:
    from tiles.webmap import MAX_MAP_ZOOM, MIN_ZOOM, marker_clearance

    config = page_config(small_campus())
    assert set(config["marker_clearance"]) == {str(z) for z in range(MIN_ZOOM, MAX_MAP_ZOOM + 1)}
    for z, entry in config["marker_clearance"].items():
        assert entry == marker_clearance(int(z))
        assert entry["room"] > 0 and entry["point"] > 0
        # a door and every amenity kind has its own, the largest is every other point's
        kinds = {"door", *(k.value for k in style.AMENITY_SYMBOLS)}
        assert set(entry) == {"room", "point", *kinds}
        assert entry["point"] == max(entry[k] for k in kinds)


# --- title bar, imagery, zooms (issue 6) ---------------------------------------------------------


def test_page_config_names_campus_revision_and_zooms(campus: Campus) -> None:
    from tiles.webmap import MAX_MAP_ZOOM, MAX_NATIVE_ZOOM

    cfg = page_config(campus, revision=7)
    assert cfg["campus_name"] == campus.name and cfg["revision"] == 7
    assert cfg["tile_url"].endswith("/{z}/{x}/{y}{r}.png?v=7")  # the revision versions tiles
    assert page_config(campus, revision=7, tile_version="x")["tile_url"].endswith("?v=x")
    assert cfg["imagery"] is None
    # tiles drawn for real to z22, the map goes a step or two beyond
    assert cfg["zoom"]["max_native"] == MAX_NATIVE_ZOOM == 22
    assert MAX_NATIVE_ZOOM < cfg["zoom"]["max"] == MAX_MAP_ZOOM <= MAX_NATIVE_ZOOM + 2


def test_the_title_bar_is_in_the_page(campus: Campus) -> None:
    page = map_page(campus, revision=12)
    c = parse(page)
    ids = {a.get("id") for _, a in c.tags}
    assert {"gm-titlebar", "gm-title", "gm-where-level", "gm-where-building",
            "gm-revision"} <= ids
    assert re.search(r'id="gm-revision"[^>]*>rev 12<', page)
    assert re.search(r'id="gm-where-level"[^>]*>1st Floor<', page)
    assert "gm-revision" not in map_page(campus)  # no revision known: none shown


def test_building_entries_follow_the_footprints(campus: Campus) -> None:
    from tiles.webmap import building_entries

    entries = building_entries(campus)
    assert [e["id"] for e in entries] == [b.id for b in campus.buildings]
    for entry, building in zip(entries, campus.buildings, strict=True):
        lon_lat = [c for lat, lon in entry["outline"] for c in (lon, lat)]
        want = [c for xy in list(building.footprint.exterior.coords)[:-1] for c in xy]
        assert lon_lat == pytest.approx(want, abs=1e-7)
        assert entry["title"] == f"Building {building.short_name} ({building.name})"
        assert entry["short"] == f"Building {building.short_name}"
        assert entry["levels"] == {str(lv.ordinal): lv.name for lv in campus.levels
                                   if lv.building_id == building.id}
    assert page_config(campus)["buildings"] == entries


@pytest.mark.parametrize(("url", "zoom"), [
    ("/campuses/c/imagery/tiles/{z}/{x}/{y}{r}.png?v=2", 22),   # gridmap's own: drawn to z22
    ("https://imagery.example.gov/ortho/{z}/{x}/{y}.jpg", 19),  # a provider: its usual depth
])
def test_imagery_layer_config(campus: Campus, url: str, zoom: int) -> None:
    cfg = page_config(campus, imagery={"url": url, "attribution": "County GIS"})
    assert cfg["imagery"] == {"url": url, "attribution": "County GIS", "max_native_zoom": zoom}
    explicit = page_config(campus, imagery={"url": url, "max_native_zoom": 30})
    assert explicit["imagery"] == {"url": url, "attribution": "", "max_native_zoom": 22}


@pytest.mark.parametrize("url", ["https://imagery.example.gov/ortho.jpg", "", None])
def test_an_imagery_url_without_xyz_is_refused(campus: Campus, url: str | None) -> None:
    with pytest.raises(ValueError, match="XYZ template"):
        page_config(campus, imagery={"url": url})


def _csp(page: str) -> str:
    return next(a["content"] or "" for t, a in parse(page).tags
                if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")


def test_csp_allows_the_imagery_providers_images_only(campus: Campus) -> None:
    from tiles.webmap import map_csp

    own = map_page(campus, imagery={"url": "/campuses/c/imagery/tiles/{z}/{x}/{y}{r}.png"})
    assert "img-src 'self' data:" in _csp(own)
    provider = {"url": "https://{s}.tiles.example.gov/{z}/{x}/{y}{r}.png", "attribution": "X"}
    csp = _csp(map_page(campus, imagery=provider))
    assert "img-src 'self' https://*.tiles.example.gov data:" in csp
    assert "connect-src 'self';" in csp and "script-src 'self';" in csp
    assert csp == map_csp(imagery=provider)
    assert "https://" not in _csp(map_page(campus))


def test_the_pin_clearance_grows_with_the_enlarged_tiles_beyond_z22() -> None:
    from tiles.webmap import MAX_MAP_ZOOM, MAX_NATIVE_ZOOM, marker_clearance

    deepest = marker_clearance(MAX_NATIVE_ZOOM)
    for zoom in range(MAX_NATIVE_ZOOM + 1, MAX_MAP_ZOOM + 1):
        scale = 2 ** (zoom - MAX_NATIVE_ZOOM)
        for key, value in marker_clearance(zoom).items():
            # the label (or symbol) is `scale` times larger; the gap of 4 px stays
            assert value == round((deepest[key] - 4) * scale + 4)


def test_the_map_route_passes_revision_and_imagery(settings: Any, store: Any,
                                                   stored_campus: Campus,
                                                   viewer_token: str) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    auth = {"Authorization": f"Bearer {viewer_token}"}
    provider = settings.model_copy(update={
        "imagery_url": "https://imagery.example.gov/ortho/{z}/{x}/{y}.jpg",
        "imagery_attribution": "County GIS"})
    for conf, layer in ((settings, None), (provider, {
            "url": "https://imagery.example.gov/ortho/{z}/{x}/{y}.jpg",
            "attribution": "County GIS", "max_native_zoom": 19})):
        with TestClient(create_app(conf, store), base_url="http://127.0.0.1") as client:
            r = client.get(f"/campuses/{stored_campus.id}/map", headers=auth)
        assert r.status_code == 200
        cfg = config_of(r.text)
        assert cfg["revision"] == 1 and cfg["tile_url"].endswith("{y}{r}.png?v=1")
        assert cfg["imagery"] == layer
        header = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in header
        assert header.startswith(_csp(r.text))  # the page's own policy, and the header's
        assert ("https://imagery.example.gov" in header) is (layer is not None)


@functools.lru_cache(maxsize=1)
def _sample_campus() -> Campus:
    from importers.campus import import_campus

    return import_campus(REPO / "data/samples/lincoln_ridge/campus.toml").campus


@pytest.mark.parametrize("zoom", [19, 20])
def test_every_symbol_is_drawn_within_the_pins_clearance(zoom: int) -> None:
    """The pin stands above the farthest place the tiles may draw an answer's symbol: on the
    sample campus, each door's and safety symbol's nearest pixel of its colour lies within
    the displacement :func:`marker_clearance` allows for (its centre no farther away)."""
    import numpy as np

    from gridmap.index import CampusIndex
    from tiles.webmap import SYMBOL_MAX_STEPS, _symbol_sizes_px, marker_clearance

    campus = _sample_campus()
    index = CampusIndex(campus)
    sizes = _symbol_sizes_px(zoom)
    clear = marker_clearance(zoom)
    # colours no other symbol, label or fill shares closely
    distinct = {k: s for k, s in style.AMENITY_SYMBOLS.items()
                if k.value in ("knox_box", "aed", "gas_shutoff", "water_shutoff",
                               "electric_shutoff", "fire_alarm_panel")}
    items = [(o.geometry, o.level_id, "door", style.DOOR) for o in campus.openings
             if o.exterior and o.number]
    items += [(a.geometry, a.level_id, a.kind.value, distinct[a.kind]) for a in campus.amenities
              if a.kind in distinct]
    assert len(items) >= 10
    mosaics: dict[tuple[int, int, int], Any] = {}
    for point, level_id, key, symbol in items:
        ordinal = index.levels[level_id].ordinal
        px, py = _world_px(point.x, point.y, zoom)
        tx, ty = int(px // 256), int(py // 256)
        if (ordinal, tx, ty) not in mosaics:
            mosaics[ordinal, tx, ty] = _mosaic(campus, ordinal, zoom, tx, ty, True)
        colour = np.array(symbol.fill[:3], dtype=np.int16)
        mask = np.abs(mosaics[ordinal, tx, ty] - colour).max(axis=-1) <= 12
        ys, xs = np.nonzero(mask)
        cx, cy = px - (tx - 1) * 256, py - (ty - 1) * 256
        nearest = float(np.hypot(xs - cx, ys - cy).min()) if xs.size else float("inf")
        allowed = SYMBOL_MAX_STEPS * (sizes[key] + 2)
        assert nearest <= allowed, (key, point.wkt, nearest, allowed)
        assert clear[key] >= allowed + sizes[key] / 2
