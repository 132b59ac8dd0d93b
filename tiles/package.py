"""The offline package for patrol-car laptops: one zip whose ``index.html`` works from disk.

Unzipped, ``index.html`` opens from ``file://`` in a browser with no server and no network. It
holds Leaflet (copied from npm at package time, never a CDN), a level switcher, a search over
the campus gazetteer that answers room numbers, names, doors and points of interest as the
server's lookup does (``tiles/static/offline/search.js``), and the map book when one is given.

Tiles: ONE PMTiles archive (written with the ``pmtiles`` package, read in the page by npm
``pmtiles``). A PMTiles archive has one z/x/y pyramid, and a campus has several levels, so each
tile image *stacks its layers*: a PNG :data:`TILE_SIZE` wide and ``TILE_SIZE`` times its
number of slots high, slot ``i`` being rows ``i * TILE_SIZE`` to ``(i + 1) * TILE_SIZE``. The
slots are every level ordinal, lowest first, then the imagery (when the campus has imagery; the
photo drawn under the plans) up to the imagery's own resolution (:func:`imagery_native_zoom`):
deeper tiles hold the levels only, and the viewer enlarges the imagery of their ancestor tile,
which keeps the sample's z15-z20 package at a quarter of the size (4.8 MB, not 20.8). The
archive's metadata names the slots (``gridmap:slots``), so the archive describes itself; the
viewer crops the slot of the level shown (and the imagery under it). Tiles where every slot is
empty are left out. Chromium will not ``fetch`` a ``file://`` URL, so the archive reaches the
page as a ``<script>`` holding it in base64, read through a pmtiles ``Source`` over that
in-memory buffer.

Package layout::

    index.html                  the viewer page (tiles/static/offline/index.html)
    viewer/                     offline.js, search.js, offline.css (ours)
    vendor/leaflet/             leaflet.js, leaflet.css, images/ (npm leaflet)
    vendor/pmtiles/pmtiles.js   (npm pmtiles)
    data/<part>.js              one script per part: base64 of its bytes
    data/seal.js                only when sealed: salt, iterations, nonces (no secret)
    book.pdf                    the map book, when given and the package is not sealed

Parts: ``meta`` (campus facts, levels, zoom range: JSON), ``places`` (the search table and its
vocabulary: JSON), ``tiles`` (the PMTiles archive) and ``book`` (a sealed package's PDF). A
sealed package encrypts every part (:mod:`tiles.seal`); its ``index.html`` names nothing of the
campus.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import math
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from gridmap import grid as gridlib
from gridmap import vocabulary
from gridmap.crs import LocalFrame
from gridmap.errors import PackageError
from gridmap.gazetteer import GazetteerRow, gazetteer
from gridmap.index import CampusIndex
from gridmap.lookup import Candidate, MatchKind, engine_for
from gridmap.lookup.floors import levels_said
from gridmap.lookup.lexicon import is_hallway
from gridmap.lookup.phrasing import GENERIC_WORDS, HALLWAY_WORDS, STOP_WORDS
from gridmap.lookup.scores import EXACT
from gridmap.model import Amenity, AmenityKind, Campus, GroundsKind, Opening, Unit
from gridmap.vocabulary import (
    ABBREVIATIONS,
    AMENITY_WORDS,
    GROUNDS_WORDS,
    RESTROOM_WORDS,
    ROOM_WORDS,
    FloorSaid,
    category_gender,
    is_restroom_phrase,
    restroom_gender,
)
from tiles.raster import WEB_MERCATOR_HALF, render_tile, tile_bounds
from tiles.seal import seal_parts
from tiles.webmap import page_config

__all__ = ["DEFAULT_MAX_ZOOM", "DEFAULT_MIN_ZOOM", "MAX_PACKAGE_ZOOM", "MIN_PACKAGE_ZOOM",
           "OFFLINE_DIR", "TILE_SIZE", "imagery_native_zoom", "make_package", "package_book",
           "places", "search_vocabulary", "tile_slots", "tiles_archive"]

_HERE = Path(__file__).resolve().parent
#: Our viewer's files, copied into every package.
OFFLINE_DIR = _HERE / "static" / "offline"
NODE_MODULES = _HERE.parent / "node_modules"
PMTILES_JS = NODE_MODULES / "pmtiles" / "dist" / "pmtiles.js"
#: Pixel size of one slot of a stacked tile (scale 1).
TILE_SIZE = 256
#: Zoom range of a package. z15 shows the whole campus, z20 every room name; Leaflet enlarges
#: z20 tiles for closer looks. On the sample campus z15-z20 is under 400 stacked tiles; z21
#: adds about 1,000 (see the README for size and build time).
DEFAULT_MIN_ZOOM = 15
DEFAULT_MAX_ZOOM = 20
MIN_PACKAGE_ZOOM = 12
MAX_PACKAGE_ZOOM = 22
#: The viewer lets officers zoom this far in (tiles above the package's max are enlarged).
VIEW_MAX_ZOOM = 22
FORMAT_VERSION = 1


# --- tiles -------------------------------------------------------------------------------------


def tile_slots(campus: Campus, *, imagery_max_zoom: int | None) -> list[dict[str, Any]]:
    """The layers of a stacked tile, top slot first: each level, then the imagery (when the
    campus has imagery) in tiles up to ``imagery_max_zoom``."""
    slots: list[dict[str, Any]] = [
        {"slot": i, "layer": "level", "ordinal": ordinal, "name": campus.ordinal_name(ordinal)}
        for i, ordinal in enumerate(campus.ordinals)]
    if imagery_max_zoom is not None:
        slots.append({"slot": len(slots), "layer": "imagery", "max_zoom": imagery_max_zoom})
    return slots


def imagery_native_zoom(resolution: float) -> int:
    """The zoom whose tile pixels are as fine as imagery pixels of ``resolution`` (EPSG:3857
    metres): deeper tiles would only enlarge the photo, so the viewer enlarges it instead."""
    # a hair of tolerance: a photo made for z16 tiles is z16, not z17 by a rounding error
    return max(0, math.ceil(math.log2(2 * WEB_MERCATOR_HALF / TILE_SIZE / resolution) - 1e-6))


def _grid_bounds(campus: Campus) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of the campus grid: the area a package draws."""
    b = gridlib.lonlat_bounds(campus.grid, LocalFrame(campus.crs))
    return b.minx, b.miny, b.maxx, b.maxy


def _tile_x(lon: float, z: int) -> int:
    return min((1 << z) - 1, max(0, int((lon + 180.0) / 360.0 * (1 << z))))


def _tile_y(lat: float, z: int) -> int:
    r = math.radians(lat)
    y = (1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0 * (1 << z)
    return min((1 << z) - 1, max(0, int(y)))


def _tiles_over(bounds: tuple[float, float, float, float], min_zoom: int,
                max_zoom: int) -> Iterator[tuple[int, int, int]]:
    minlon, minlat, maxlon, maxlat = bounds
    for z in range(min_zoom, max_zoom + 1):
        for x in range(_tile_x(minlon, z), _tile_x(maxlon, z) + 1):
            for y in range(_tile_y(maxlat, z), _tile_y(minlat, z) + 1):
                yield z, x, y


def _imagery_slot(dataset: Any, z: int, x: int, y: int, size: int) -> Any:
    """The imagery under tile z/x/y as an RGBA image (transparent outside it), or None."""
    import numpy as np
    from PIL import Image
    from rasterio.enums import Resampling
    from rasterio.windows import from_bounds

    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    left, bottom, right, top = dataset.bounds
    if minx >= right or maxx <= left or miny >= top or maxy <= bottom:
        return None
    window = from_bounds(minx, miny, maxx, maxy, transform=dataset.transform)
    bands = min(3, dataset.count)
    data = dataset.read(list(range(1, bands + 1)), window=window, out_shape=(bands, size, size),
                        boundless=True, fill_value=0, resampling=Resampling.bilinear)
    mask = dataset.read_masks(1, window=window, out_shape=(size, size), boundless=True,
                              resampling=Resampling.nearest)
    if not mask.any():
        return None
    if bands < 3:
        data = np.repeat(data[:1], 3, axis=0)
    rgba = np.dstack([*data[:3].astype("uint8"), np.where(mask > 0, 255, 0).astype("uint8")])
    return Image.fromarray(rgba, "RGBA")


def _stacked_tile(campus: Campus, slots: list[dict[str, Any]], z: int, x: int, y: int,
                  scale: int, imagery: Any) -> bytes | None:
    """One stacked PNG (see the module docstring), or None when every slot is empty."""
    from PIL import Image

    size = TILE_SIZE * scale
    slots = [s for s in slots if s["layer"] == "level" or z <= s["max_zoom"]]
    sheet = Image.new("RGBA", (size, size * len(slots)), (0, 0, 0, 0))
    drawn = False
    for slot in slots:
        if slot["layer"] == "imagery":
            image = _imagery_slot(imagery, z, x, y, size)
        else:
            png = render_tile(campus, slot["ordinal"], z, x, y, scale=scale)
            image = Image.open(io.BytesIO(png)).convert("RGBA")
            if image.getchannel("A").getbbox() is None:
                image = None
        if image is not None:
            sheet.paste(image.resize((size, size)) if image.size != (size, size) else image,
                        (0, slot["slot"] * size))
            drawn = True
    if not drawn:
        return None
    out = io.BytesIO()
    sheet.save(out, "PNG", optimize=False, compress_level=9)
    return out.getvalue()


def tiles_archive(campus: Campus, *, min_zoom: int = DEFAULT_MIN_ZOOM,
                  max_zoom: int = DEFAULT_MAX_ZOOM, imagery: Path | None = None,
                  scale: int = 1, progress: Callable[[int, int], None] | None = None) -> bytes:
    """The campus's stacked tiles (see the module docstring) as one PMTiles archive.
    ``progress(done, total)`` is called as each tile is drawn."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    check_zoom_range(min_zoom, max_zoom)
    bounds = _grid_bounds(campus)
    tiles: list[tuple[int, bytes]] = []
    with ExitStack() as stack:
        dataset = None
        imagery_zoom = None
        if imagery is not None:
            import rasterio

            from importers.imagery import use_rasterio_proj_data

            stack.enter_context(rasterio.Env())
            use_rasterio_proj_data()
            dataset = stack.enter_context(rasterio.open(imagery))
            imagery_zoom = max(min_zoom, min(max_zoom, imagery_native_zoom(min(dataset.res))))
        slots = tile_slots(campus, imagery_max_zoom=imagery_zoom)
        wanted = list(_tiles_over(bounds, min_zoom, max_zoom))
        for done, (z, x, y) in enumerate(wanted, 1):
            png = _stacked_tile(campus, slots, z, x, y, scale, dataset)
            if png is not None:
                tiles.append((zxy_to_tileid(z, x, y), png))
            if progress is not None:
                progress(done, len(wanted))
    if not tiles:
        raise PackageError(f"campus {campus.id} draws nothing at zoom {min_zoom}-{max_zoom}")
    tiles.sort(key=lambda t: t[0])
    out = io.BytesIO()
    writer = Writer(out)  # type: ignore[no-untyped-call]
    for tile_id, png in tiles:
        writer.write_tile(tile_id, png)  # type: ignore[no-untyped-call]
    minlon, minlat, maxlon, maxlat = bounds
    e7 = 10_000_000
    writer.finalize(  # type: ignore[no-untyped-call]
        {
            "tile_type": TileType.PNG, "tile_compression": Compression.NONE,
            "min_zoom": min_zoom, "max_zoom": max_zoom,
            "min_lon_e7": int(minlon * e7), "min_lat_e7": int(minlat * e7),
            "max_lon_e7": int(maxlon * e7), "max_lat_e7": int(maxlat * e7),
            "center_zoom": min(max_zoom, max(min_zoom, 17)),
            "center_lon_e7": int((minlon + maxlon) / 2 * e7),
            "center_lat_e7": int((minlat + maxlat) / 2 * e7),
        },
        {
            "name": campus.name, "format": "png", "type": "overlay",
            "description": "gridmap offline package: stacked tiles, one slot per layer",
            "gridmap:encoding": "stacked-slots", "gridmap:slot_size": TILE_SIZE * scale,
            "gridmap:slots": slots,
        },
    )
    return out.getvalue()


def zoom_range(min_zoom: int | None, max_zoom: int | None) -> tuple[int, int]:
    """The zoom range a package is asked for, :data:`DEFAULT_MIN_ZOOM` and
    :data:`DEFAULT_MAX_ZOOM` where not given; :class:`PackageError` when it is not one."""
    min_zoom = DEFAULT_MIN_ZOOM if min_zoom is None else min_zoom
    max_zoom = DEFAULT_MAX_ZOOM if max_zoom is None else max_zoom
    check_zoom_range(min_zoom, max_zoom)
    return min_zoom, max_zoom


def check_zoom_range(min_zoom: int, max_zoom: int) -> None:
    if not MIN_PACKAGE_ZOOM <= min_zoom <= max_zoom <= MAX_PACKAGE_ZOOM:
        raise PackageError(
            f"zoom range {min_zoom}-{max_zoom} is not within {MIN_PACKAGE_ZOOM}-"
            f"{MAX_PACKAGE_ZOOM} with the minimum at most the maximum")


# --- search ------------------------------------------------------------------------------------

_FEATURE_TYPES = {"room": "unit", "exterior_door": "opening", "amenity": "amenity",
                  "grounds": "grounds", "building": "building"}


def _server_answer(index: CampusIndex, row: GazetteerRow, units: dict[str, Unit],
                   points: dict[str, Opening | Amenity]) -> Candidate:
    """The server lookup's own answer for one gazetteer row (its label, point, cells, nearest
    doors, Knox box, AED and trauma kit), made by the lookup's candidate builder."""
    made = engine_for(index).candidates
    if row.feature_type == "room":
        return made.unit(units[row.id], EXACT, MatchKind.UNIT_NUMBER)
    if row.feature_type == "exterior_door":
        door = points[row.id]
        name = (f"Door {row.number}" if row.number else "Exterior door (unnumbered)") + (
            " (main entrance)" if row.kind == "main_entrance" else "")
        return made.feature(row.id, MatchKind.DOOR, EXACT, "opening", name, door.building_id,
                            door.level_id, None)
    if row.feature_type == "amenity":
        point = points[row.id]
        kind = AmenityKind(row.kind)
        return made.feature(row.id, MatchKind.AMENITY, EXACT, "amenity",
                            row.name or kind.display_name, point.building_id, point.level_id,
                            kind.value)
    if row.feature_type == "grounds":
        return made.grounds(next(g for g in index.campus.grounds if g.id == row.id), EXACT)
    return made.building(row.id, EXACT)


def _inside_rooms(index: CampusIndex) -> dict[str, list[str]]:
    """The rooms each point of interest stands in (on the same level ordinal, within 0.5 m), as
    the lookup settles them: it answers the room, not a point in it named alike ("Nurse")."""
    from shapely import STRtree

    units = index.campus.units
    tree = STRtree([index.shapes[u.id] for u in units])
    out: dict[str, list[str]] = {}
    for a in index.campus.amenities:
        ordinal = index.ordinal_of(a.level_id)
        near = tree.query(index.shapes[a.id], predicate="dwithin", distance=0.5)
        rooms = [units[i].id for i in sorted(near)
                 if index.levels[units[i].level_id].ordinal == ordinal]
        if rooms:
            out[a.id] = rooms
    return out


def places(index: CampusIndex) -> list[dict[str, Any]]:
    """The offline search table: one entry per gazetteer row, with what the matcher compares
    (numbers, names and aliases as written) and the answer as the server's lookup words it."""
    inside = _inside_rooms(index)
    units = {u.id: u for u in index.campus.units}
    points: dict[str, Opening | Amenity] = {o.id: o for o in index.campus.openings}
    points.update((a.id, a) for a in index.campus.amenities)
    out: list[dict[str, Any]] = []
    for row in gazetteer(index):
        answer = _server_answer(index, row, units, points)
        names = [row.name] if row.name else []
        if row.feature_type == "room":
            names = [units[row.id].name] if units[row.id].name else []
        names += [a for a in row.aliases.split("; ") if a]
        entry: dict[str, Any] = {
            "id": row.id, "type": _FEATURE_TYPES[row.feature_type], "kind": row.kind,
            "building": row.building, "building_name": row.building_name,
            "ordinal": answer.level_ordinal, "level": answer.level_name,
            "number": row.number or None, "names": names,
            # where the server's answer says it is, and what is nearest
            "label": answer.label, "building_id": answer.building_id,
            "cell": answer.primary_cell, "subcell": answer.subcell, "usng": answer.usng,
            "lon": round(answer.lon, 7), "lat": round(answer.lat, 7),
            "flags": list(answer.flags),
            "nearby": {
                "doors": [d.to_dict() for d in answer.nearest_doors],
                **{name: None if n is None else n.to_dict() for name, n in (
                    ("knox_box", answer.nearest_knox_box), ("aed", answer.nearest_aed),
                    ("trauma_kit", answer.nearest_trauma_kit))},
            },
        }
        if row.feature_type in ("room", "exterior_door", "amenity"):
            entry["level_id"] = (units[row.id] if row.feature_type == "room"
                                 else points[row.id]).level_id
        if row.feature_type == "exterior_door":
            entry["names"] = []  # a door is found by its number, as the server does
            entry["main_entrance"] = row.kind == "main_entrance"
        if row.id in inside:
            entry["inside"] = inside[row.id]
        if row.feature_type == "room":
            unit = units[row.id]
            if is_hallway(unit):
                entry["hallway"] = True
            if unit.category.lower().startswith("restroom") or is_restroom_phrase(unit.name):
                entry["restroom"] = sorted(
                    {category_gender(unit.category), restroom_gender(unit.name)} - {None})
                entry["kind_phrases"] = sorted(RESTROOM_WORDS)
        elif row.feature_type == "amenity":
            kind = AmenityKind(row.kind)
            entry["kind_phrases"] = [w for w, k in AMENITY_WORDS.items() if k is kind]
        elif row.feature_type == "grounds":
            grounds_kind = GroundsKind(row.kind)
            entry["kind_phrases"] = [w for w, k in GROUNDS_WORDS.items() if k is grounds_kind]
        out.append(entry)
    return out


def search_vocabulary() -> dict[str, Any]:
    """The server's own word lists the offline matcher reads (never a copy in JavaScript)."""
    return {
        "restroom_words": sorted(RESTROOM_WORDS, key=len, reverse=True),
        "generic_words": sorted(GENERIC_WORDS),
        "stop_words": sorted(STOP_WORDS),
        "hallway_words": sorted(HALLWAY_WORDS),
        # (pattern, gender): Python regular expressions JavaScript reads alike
        "gender_words": [list(pair) for pair in vocabulary._GENDER_WORDS],
        "amenity_words": {w: k.value for w, k in AMENITY_WORDS.items()},
        "room_words": {w: list(v) for w, v in ROOM_WORDS.items()},
        "abbreviations": dict(ABBREVIATIONS),
    }


def search_data(index: CampusIndex) -> dict[str, Any]:
    """The ``places`` part: the table, the vocabulary and the buildings' words."""
    buildings: dict[str, str] = {}
    for b in index.campus.buildings:
        for word in (b.short_name, *b.name.split(" / "), b.name, *b.aliases):
            if word.strip():
                buildings.setdefault(word.strip().lower(), b.short_name)
    return {"places": places(index), "vocabulary": search_vocabulary(), "buildings": buildings,
            "grid": grid_corners(index), "floors": floors_said(index)}


def floors_said(index: CampusIndex) -> dict[str, Any]:
    """How the viewer reads a floor said ("214 upstairs", "restroom 2nd floor"): the server's
    own floor patterns (Python's named groups in JavaScript's spelling) and ordinal words, and
    which levels each floor phrase names on this campus, worked out by the server's own
    :func:`~gridmap.lookup.floors.levels_said` for every relation and floor number."""
    levels = index.campus.levels
    named: dict[str, list[str]] = {}
    for relation in ("ground", "basement", "upstairs", "downstairs", "top"):
        named[relation] = sorted(levels_said(FloorSaid(relation, None, relation), levels))
    for number in range(100):  # a floor number is said in one or two digits
        named[str(number)] = sorted(levels_said(FloorSaid(str(number), number, None), levels))
    return {
        "patterns": [[p.pattern.replace("(?P<", "(?<"), relation]
                     for p, relation in vocabulary._FLOOR_PATTERNS],
        "ordinals": dict(vocabulary._ORDINAL_WORDS),
        "levels": named,
    }


def grid_corners(index: CampusIndex) -> dict[str, Any]:
    """The grid as the viewer needs it to find and outline a cell (``C4``, ``C4-7``): its column
    letters, its row count, and the lon/lat of every cell corner, row by row from the north-west
    (true-north cells in the campus's own projection are not lon/lat rectangles)."""
    spec = index.grid
    corners = []
    for row in range(spec.rows + 1):
        for column in range(spec.columns + 1):
            b = gridlib.cell_bounds(spec, gridlib.Cell(column, row))
            lon, lat = index.frame.lonlat(b.minx, b.maxy)
            corners.append([round(lon, 7), round(lat, 7)])
    return {"columns": [gridlib.column_label(c) for c in range(spec.columns)],
            "rows": spec.rows, "corners": corners}


# --- the package -------------------------------------------------------------------------------


def package_book(campus: Campus, *, revision: int, imagery: Path | None,
                 progress: Callable[[int, int], None] | None = None,
                 verified_on: date | None = None, verified_by: str = "") -> bytes | None:
    """The map book (letter sheets) a package carries, or None where the book module is not
    installed. ``progress``, ``verified_on``, ``verified_by``: as
    :func:`tiles.book.make_book`'s."""
    try:  # by name: the book may be installed later than the package
        book = importlib.import_module("tiles.book")
    except ImportError:
        return None
    pdf: bytes = book.make_book(campus, size="letter", level=None, revision=revision,
                                imagery=imagery, printed_on=datetime.now(UTC).date(),
                                progress=progress, verified_on=verified_on,
                                verified_by=verified_by)
    return pdf


def _meta(campus: Campus, revision: int, min_zoom: int, max_zoom: int, *, imagery: bool,
          book: str | None) -> dict[str, Any]:
    minlon, minlat, maxlon, maxlat = _grid_bounds(campus)
    return {
        "format": FORMAT_VERSION,
        "campus": {"id": campus.id, "name": campus.name, "address": campus.address},
        "revision": revision,
        "made": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "levels": [{"ordinal": o, "name": campus.ordinal_name(o)} for o in campus.ordinals],
        "default_ordinal": 0 if 0 in campus.ordinals else campus.ordinals[0],
        "bounds": [[minlat, minlon], [maxlat, maxlon]],
        "zoom": {"min": min_zoom, "max_native": max_zoom, "max": VIEW_MAX_ZOOM},
        "grid": {"cell_size": campus.grid.cell_size, "unit": campus.grid.unit.value},
        "imagery": imagery,
        "book": book,
        "legend": page_config(campus)["legend"],  # what the web map's legend shows
    }


def _part_script(name: str, data: bytes) -> bytes:
    b64 = base64.b64encode(data).decode("ascii")
    return (f'(window.GRIDMAP_PARTS = window.GRIDMAP_PARTS || {{}})["{name}"] = "{b64}";\n'
            ).encode("ascii")


def _vendor_files() -> list[tuple[str, Path]]:
    from tiles.webmap import vendor_dir

    leaflet = vendor_dir()
    if not PMTILES_JS.is_file():
        raise PackageError(f"npm pmtiles is not installed ({PMTILES_JS} is missing): run `npm ci`")
    files = [("vendor/leaflet/leaflet.js", leaflet / "leaflet.js"),
             ("vendor/leaflet/leaflet.css", leaflet / "leaflet.css"),
             ("vendor/pmtiles/pmtiles.js", PMTILES_JS)]
    files += [(f"vendor/leaflet/images/{p.name}", p)
              for p in sorted((leaflet / "images").glob("*.png"))]
    return files


def _index_html(meta: dict[str, Any] | None, parts: list[str], sealed: bool) -> str:
    from html import escape

    title = "Sealed gridmap package" if meta is None else f"{meta['campus']['name']} - gridmap"
    scripts = "\n".join(f'<script src="data/{name}.js"></script>'
                        for name in (["seal"] if sealed else []) + parts)
    page = (OFFLINE_DIR / "index.html").read_text(encoding="utf-8")
    return page.replace("{{title}}", escape(title)).replace("{{data_scripts}}", scripts)


def make_package(campus: Campus, *, revision: int, imagery: Path | None, book: bytes | None,
                 passphrase: str | None, min_zoom: int = DEFAULT_MIN_ZOOM,
                 max_zoom: int = DEFAULT_MAX_ZOOM, scale: int = 1,
                 tiles: bytes | None = None, index: CampusIndex | None = None) -> bytes:
    """The offline package (a zip) of one campus revision; sealed when ``passphrase`` is given.

    ``tiles`` may pass an archive :func:`tiles_archive` made earlier with the same arguments
    (the API keeps one per revision), so sealing anew costs no drawing; ``index``, the
    campus's index when the caller holds one.
    """
    check_zoom_range(min_zoom, max_zoom)
    if not campus.ordinals:
        raise PackageError(f"campus {campus.id} has no levels to package")
    sealed = passphrase is not None
    vendor = _vendor_files()
    archive = tiles if tiles is not None else tiles_archive(
        campus, min_zoom=min_zoom, max_zoom=max_zoom, imagery=imagery, scale=scale)
    book_ref = None if book is None else ("part" if sealed else "book.pdf")
    meta = _meta(campus, revision, min_zoom, max_zoom, imagery=imagery is not None,
                 book=book_ref)
    parts: dict[str, bytes] = {
        "meta": json.dumps(meta, ensure_ascii=False).encode("utf-8"),
        "places": json.dumps(search_data(index or CampusIndex(campus)), ensure_ascii=False,
                             separators=(",", ":")).encode("utf-8"),
        "tiles": archive,
    }
    if book is not None and sealed:
        parts["book"] = book
    seal_json = None
    if passphrase is not None:
        seal, parts = seal_parts(parts, passphrase)
        seal_json = seal.to_json()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr("index.html", _index_html(None if sealed else meta, list(parts), sealed))
        for name in ("offline.js", "search.js", "offline.css"):
            zf.write(OFFLINE_DIR / name, f"viewer/{name}")
        for arcname, path in vendor:
            zf.write(path, arcname)
        if seal_json is not None:
            zf.writestr("data/seal.js", f"window.GRIDMAP_SEAL = {json.dumps(seal_json)};\n")
        for name, data in parts.items():
            # deflating base64 wins back most of its third (PNG and ciphertext do not shrink)
            zf.writestr(zipfile.ZipInfo(f"data/{name}.js", _zip_time()), _part_script(name, data),
                        compress_type=zipfile.ZIP_DEFLATED)
        if book is not None and not sealed:
            zf.writestr("book.pdf", book)
    return out.getvalue()


def _zip_time() -> tuple[int, int, int, int, int, int]:
    now = datetime.now(UTC)
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)

