"""The offline web map page (``GET /campuses/{id}/map``): Leaflet over gridmap's own raster tiles.

Every script, style sheet and image the page loads is served by gridmap itself, never a CDN:
officers open it in a car with no internet, and a floor plan must not leak a request to a third
party. The page loads

* ``{static_base}/vendor/leaflet/leaflet.js`` and ``leaflet.css`` (and the images the CSS names)
  from Leaflet's npm package (``node_modules/leaflet/dist``, see :func:`vendor_dir`);
* ``{static_base}/gridmap/gridmap.js`` and ``gridmap.css``, our own code (:data:`STATIC_DIR`);
* tiles from ``{api_base}/campuses/{id}/levels/{ordinal}/tiles/{z}/{x}/{y}{r}.png?v={tile_version}``
  (the campus revision: a browser never mixes cached tiles of two revisions; Leaflet fills
  ``{r}`` with ``@2x`` on a high-density screen, which then gets 512-pixel tiles);
* when the campus has an imagery layer (``imagery``: ``{"url": XYZ template, "attribution":
  text}``, contract C2/C5), its tiles, drawn under the plans and switched on and off by the
  reader;
* lookups from ``{api_base}/campuses/{id}/lookup?q=...`` (``fetch`` with the same-origin cookie).

The app mounts ``/static/vendor/leaflet`` on :func:`vendor_dir` and ``/static/gridmap`` on
:data:`STATIC_DIR`. A Content-Security-Policy ``<meta>`` in the page restricts every load to the
page's own origin (plus ``api_base``'s, when that is absolute, and the imagery provider's for
its images).

The page is a Jinja2 template (``tiles/templates/map.html``) rather than folium: folium's
defaults pull jQuery, Bootstrap and Leaflet from CDNs, and overriding all of them leaves nothing
of folium worth having. Campus data reaches the page only as escaped text and as a JSON block
that the script parses; names are never put into HTML by string concatenation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gridmap import grid as gridlib
from gridmap.crs import LocalFrame
from gridmap.model import Campus
from tiles import style, symbols
from tiles.raster import MAX_NAME_LINES, MAX_ZOOM

__all__ = ["NODE_MODULES", "STATIC_DIR", "VENDOR_ENV", "VendorAssetsMissing", "building_entries",
           "level_entries", "map_csp", "map_page", "marker_clearance", "page_config",
           "vendor_dir"]

_HERE = Path(__file__).resolve().parent
#: Where ``npm ci`` installs browser libraries (package.json at the repository root).
NODE_MODULES = _HERE.parent / "node_modules"
#: Our own JS/CSS, mounted at ``/static/gridmap``.
STATIC_DIR = _HERE / "static"
TEMPLATE_DIR = _HERE / "templates"
#: Environment variable naming a directory that holds ``leaflet.js`` (overrides the default).
VENDOR_ENV = "GRIDMAP_VENDOR_DIR"

#: Zoom range of the map. Plan tiles are drawn for real up to :data:`MAX_NATIVE_ZOOM`; the two
#: zooms beyond enlarge the deepest tiles, for reading a small label at arm's length.
MIN_ZOOM = 15
MAX_NATIVE_ZOOM = 22
MAX_MAP_ZOOM = min(MAX_NATIVE_ZOOM + 2, MAX_ZOOM)
#: Deepest zoom an imagery provider (an absolute URL) is asked for unless its config says
#: otherwise: aerial providers rarely go deeper, and the layer enlarges its deepest tiles beyond.
#: gridmap's own imagery tiles (a URL on this server) are drawn at any zoom from the campus's
#: GeoTIFF, up to :data:`MAX_NATIVE_ZOOM` like the plans.
PROVIDER_MAX_NATIVE_ZOOM = 19


class VendorAssetsMissing(FileNotFoundError):
    """Leaflet's files are not installed (``npm ci`` was not run)."""


def vendor_dir() -> Path:
    """The directory holding Leaflet's ``leaflet.js``, ``leaflet.css`` and ``images/``.

    ``$GRIDMAP_VENDOR_DIR`` when set, else ``node_modules/leaflet/dist`` at the repository root.
    """
    env = os.environ.get(VENDOR_ENV)
    path = Path(env) if env else NODE_MODULES / "leaflet" / "dist"
    if not (path / "leaflet.js").is_file() or not (path / "leaflet.css").is_file():
        where = f"${VENDOR_ENV} ({path})" if env else f"{path}"
        raise VendorAssetsMissing(
            f"Leaflet is not installed: {where} has no leaflet.js/leaflet.css. Run `npm ci` "
            f"(or `make`) at the repository root, or point ${VENDOR_ENV} at a copy of "
            "Leaflet's dist/ directory."
        )
    return path


def level_entries(campus: Campus) -> list[dict[str, Any]]:
    """One entry per level ordinal, lowest first, named as most buildings name it
    (:meth:`Campus.ordinal_name`), with the short name of a level of that name."""
    building_names = {b.id: b.name for b in campus.buildings}
    out: list[dict[str, Any]] = []
    for ordinal in campus.ordinals:
        levels = [lv for lv in campus.levels if lv.ordinal == ordinal]
        name = campus.ordinal_name(ordinal)
        short = next((lv.short_name for lv in levels if lv.name == name), str(ordinal))
        out.append({
            "ordinal": ordinal,
            "name": name,
            "short_name": short,
            "buildings": [building_names.get(lv.building_id, lv.building_id) for lv in levels],
        })
    return out


def building_entries(campus: Campus) -> list[dict[str, Any]]:
    """One entry per building, for the title bar to name the building in view: its title as
    answers name it (and a short one for phones), its footprint's outline in lat/lon and its
    level names by ordinal."""
    out: list[dict[str, Any]] = []
    for b in campus.buildings:  # the model's geometry is in lon/lat
        outline = [[round(lat, 7), round(lon, 7)] for lon, lat in b.footprint.exterior.coords[:-1]]
        title = (f"Building {b.short_name} ({b.name})"
                 if b.short_name and b.short_name != b.name else b.name)
        out.append({
            "id": b.id,
            "letter": b.short_name,
            "title": title,
            "short": f"Building {b.short_name}" if b.short_name else b.name,
            "outline": outline,
            "levels": {str(lv.ordinal): lv.name for lv in sorted(campus.levels,
                                                                   key=lambda lv: lv.ordinal)
                       if lv.building_id == b.id},
        })
    return out


def _imagery_entry(imagery: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The imagery layer as the script reads it; ``url`` must be an XYZ template."""
    if imagery is None:
        return None
    url = imagery.get("url")
    if not isinstance(url, str) or not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"imagery URL {url!r} is not an XYZ template with {{z}}, {{x}}, {{y}}")
    default_zoom = PROVIDER_MAX_NATIVE_ZOOM if _origin(url) else MAX_NATIVE_ZOOM
    return {"url": url, "attribution": str(imagery.get("attribution") or ""),
            "max_native_zoom": min(int(imagery.get("max_native_zoom", default_zoom)),
                                   MAX_NATIVE_ZOOM)}


def page_config(campus: Campus, *, api_base: str = "", tile_version: str | None = None,
                revision: int | None = None,
                imagery: Mapping[str, Any] | None = None,
                verification: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the page's script needs, embedded in the page as JSON.

    ``tile_url`` has ``{ordinal}`` for the script to fill in and Leaflet's ``{z}/{x}/{y}{r}``;
    with ``tile_version`` (by default the ``revision``) it ends in ``?v=<tile_version>``
    (URL-encoded). ``imagery``: the layer under the plans (``url``: an XYZ template with
    ``{z}``, ``{x}``, ``{y}`` and maybe ``{r}`` and ``{s}``; ``attribution``; optionally
    ``max_native_zoom``), or None: no imagery toggle. ``verification``: the campus's
    walk-through status (``line``: "verified on … by …", ``overdue``), shown in the title bar.
    """
    minlon, minlat, maxlon, maxlat = gridlib.lonlat_bounds(campus.grid, LocalFrame(campus.crs))
    campus_path = f"{api_base.rstrip('/')}/campuses/{quote(campus.id, safe='')}"
    if tile_version is None and revision is not None:
        tile_version = str(revision)
    version = "" if tile_version is None else f"?v={quote(tile_version, safe='')}"
    ordinals = campus.ordinals
    kinds_present = {a.kind.value for a in campus.amenities}
    legend = [e for e in style.legend_entries()
              if e["key"] not in {k.value for k in style.AMENITY_SYMBOLS}
              or e["key"] in kinds_present]
    spec = campus.grid
    unit = spec.unit.value
    size = f"{spec.cell_size:g} {unit}"
    return {
        "campus": {"id": campus.id, "name": campus.name, "address": campus.address},
        "campus_name": campus.name,
        "revision": revision,
        "verification": None if verification is None else {
            "line": str(verification.get("line", "")),
            "overdue": bool(verification.get("overdue"))},
        "tile_url": f"{campus_path}/levels/{{ordinal}}/tiles/{{z}}/{{x}}/{{y}}{{r}}.png{version}",
        "imagery": _imagery_entry(imagery),
        "lookup_url": f"{campus_path}/lookup",
        "levels": level_entries(campus),
        "buildings": building_entries(campus),
        "default_ordinal": 0 if 0 in ordinals else (ordinals[0] if ordinals else 0),
        "bounds": [[minlat, minlon], [maxlat, maxlon]],
        "grid": {
            "cell_size": spec.cell_size,
            "unit": unit,
            "cell_size_m": spec.cell_size_m,
            "columns": spec.columns,
            "rows": spec.rows,
            "first_cell": "A1",
            "last_cell": gridlib.cell_label(spec.columns - 1, spec.rows - 1),
        },
        "north_note": f"Grid aligned to true north, cells {size}",
        "zoom": {"min": MIN_ZOOM, "max": MAX_MAP_ZOOM, "max_native": MAX_NATIVE_ZOOM},
        "legend": legend,
        "grid_colour": style.hex_colour(style.GRID_COLOUR),
        "marker_clearance": {str(z): marker_clearance(z)
                             for z in range(MIN_ZOOM, MAX_MAP_ZOOM + 1)},
    }


#: The tiles draw a symbol on its point when that is free, else beside it, at most this many
#: steps of its own width (plus 2 px) away, to clear a room number (:mod:`tiles.cartography`).
SYMBOL_MAX_STEPS = 2


def _symbol_sizes_px(zoom: int) -> dict[str, float]:
    """The width of each symbol the tiles draw at ``zoom``, by answer kind: ``door`` (its disc
    grows to hold a three-character number, "12A"), and each amenity kind (holding its code)."""
    door_radius = max(style.symbol_radius(style.DOOR, zoom),
                      style.door_number_font_px(zoom) * 0.62 + 1.5)
    sizes = {"door": symbols.symbol_size_px(style.DOOR, door_radius, 3)}
    for kind, sym in style.AMENITY_SYMBOLS.items():
        sizes[kind.value] = symbols.symbol_size_px(sym, style.symbol_radius(sym, zoom),
                                                   len(sym.text))
    return sizes


def marker_clearance(zoom: int) -> dict[str, int]:
    """How far (screen pixels) the search pin's tip stays from the point it marks, per zoom.

    The tiles centre a room's label (number, then name lines) on the point the lookup answers
    with, and draw a door or point of interest as a symbol on its point, or up to
    :data:`SYMBOL_MAX_STEPS` symbol widths beside it when a room number holds the point. A pin
    whose tip touched that point would hide the very number or symbol the dispatcher reads out,
    so the pin stands above it, clear of half the tallest label block the tiles draw at this
    zoom (``room``), or of the farthest edge the answer's symbol may be drawn at (``door`` and
    each amenity kind; ``point``, the largest, for any other answer), plus a small gap; a ring
    of that radius goes around a door's or point's spot. Beyond :data:`MAX_NATIVE_ZOOM` the map
    enlarges the deepest tiles, labels and symbols with them.
    """
    if zoom > MAX_NATIVE_ZOOM:
        deepest = marker_clearance(MAX_NATIVE_ZOOM)
        enlarge = 2 ** (zoom - MAX_NATIVE_ZOOM)
        return {key: round((value - 4) * enlarge + 4) for key, value in deepest.items()}
    halo = 2 * style.HALO_WIDTH
    line = style.room_number_font_px(zoom) * 1.25 + halo
    if zoom >= style.MIN_ZOOM_ROOM_NAMES:
        line += MAX_NAME_LINES * (style.room_name_font_px(zoom) * 1.25 + halo)
    reach = {kind: round(SYMBOL_MAX_STEPS * (size + 2) + size / 2 + 4)
             for kind, size in _symbol_sizes_px(zoom).items()}
    return {"room": round(line / 2 + 4), "point": max(reach.values()), **reach}


def _json_for_script(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>``, no comments."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _origin(url: str) -> str | None:
    """The CSP source of an absolute http(s) URL (a ``{s}`` subdomain becomes ``*``)."""
    parts = urlsplit(url.replace("{s}", "*"))
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)),
                       autoescape=select_autoescape(["html"], default=True),
                       trim_blocks=True, lstrip_blocks=True)


def map_csp(*, api_base: str = "", imagery: Mapping[str, Any] | None = None) -> str:
    """The page's Content-Security-Policy: every load from the page's own origin (and
    ``api_base``'s), images also from the imagery provider's; no inline script.

    The page carries it in a ``<meta>``; a server sending it as a header adds what a
    ``<meta>`` cannot say (``frame-ancestors``)."""
    extra = _origin(api_base)
    sources = "'self'" + (f" {extra}" if extra else "")
    provider = _origin(imagery["url"]) if imagery and isinstance(imagery.get("url"), str) else None
    images = sources + (f" {provider}" if provider and provider != extra else "")
    return (f"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src {images} data:; connect-src {sources}; font-src 'self'; "
            "base-uri 'none'; form-action 'none'")


def map_page(campus: Campus, *, api_base: str = "", static_base: str = "/static",
             tile_version: str | None = None, revision: int | None = None,
             imagery: Mapping[str, Any] | None = None,
             verification: Mapping[str, Any] | None = None) -> str:
    """The HTML of the campus web map.

    ``api_base`` prefixes the tile and lookup URLs (empty: same origin, root path);
    ``static_base`` prefixes ``/vendor/leaflet/...`` and ``/gridmap/...``; ``tile_version``
    (by default the campus ``revision``, which the title bar shows) is added to every tile URL
    as ``?v=``, so tiles a browser cached for one revision are never shown with another.
    ``imagery``: the layer drawn under the plans, with an on/off toggle (see
    :func:`page_config`); None: no imagery. ``verification``: the walk-through status the
    title bar shows ("verified on … by …", flagged when overdue); None: none shown.
    """
    config = page_config(campus, api_base=api_base, tile_version=tile_version,
                         revision=revision, imagery=imagery, verification=verification)
    return _env().get_template("map.html").render(
        campus_name=campus.name,
        campus_address=campus.address,
        revision=revision,
        verification=config["verification"],
        level_name=next((lv["name"] for lv in config["levels"]
                         if lv["ordinal"] == config["default_ordinal"]), ""),
        static_base=static_base.rstrip("/"),
        config_json=_json_for_script(config),
        csp=map_csp(api_base=api_base, imagery=imagery),
    )


def review_page(campus: Campus, diff: Mapping[str, Any], *, revision: int,
                against: int | None, geojson_url: str, static_base: str = "/static") -> str:
    """The HTML of a draft's review: ``diff`` (:meth:`gridmap.revision_diff.RevisionDiff.
    to_dict`) as a list, and its GeoJSON (fetched from ``geojson_url``) drawn over the
    published revision's ground-level tiles (``against``'s; none for a first draft)."""
    minlon, minlat, maxlon, maxlat = gridlib.lonlat_bounds(campus.grid, LocalFrame(campus.crs))
    ordinal = 0 if 0 in campus.ordinals else (campus.ordinals[0] if campus.ordinals else 0)
    tile_url = None if against is None else (
        f"/campuses/{quote(campus.id, safe='')}/levels/{ordinal}/tiles/{{z}}/{{x}}/{{y}}.png"
        f"?v={against}")
    config = {"bounds": [[minlat, minlon], [maxlat, maxlon]], "geojson_url": geojson_url,
              "tile_url": tile_url,
              "zoom": {"min": MIN_ZOOM, "max": MAX_MAP_ZOOM, "max_native": MAX_NATIVE_ZOOM}}
    counts = ", ".join(f"{n} {what}" for what, n in diff.get("counts", {}).items() if n)
    changes = [{"summary": c["summary"],
                "css": c["changes"][0] if c["changes"][0] in ("added", "removed")
                else "changed"} for c in diff.get("changes", [])]
    return _env().get_template("review.html").render(
        campus_name=campus.name, revision=revision,
        against_text="nothing published" if against is None else f"revision {against}",
        counts_text=counts or "no changes", changes=changes, with_map=tile_url is not None,
        static_base=static_base.rstrip("/"), config_json=_json_for_script(config),
        csp=map_csp())
