"""XYZ raster tiles (Web Mercator, the OSM/Leaflet default scheme) of one campus level.

Tiles are drawn by Mapnik with the one cartographic style (:mod:`tiles.cartography`,
:mod:`tiles.style`): 256-pixel tiles, and ``@2x`` tiles (512 pixels over the same ground,
everything drawn twice as large) for high-density screens, rendered natively at every zoom up
to :data:`MAX_ZOOM`. A campus is projected once (:class:`CampusDrawing`, kept per campus object
by :func:`drawing_for`); a drawn tile is kept in a :class:`TileCache` keyed by the campus
revision, so a new import never serves an old tile.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from concurrent.futures import Future
from functools import lru_cache
from typing import NamedTuple

from gridmap.errors import InvalidQuery, LevelNotFound
from gridmap.model import Campus
from tiles.cartography import render_features_png
from tiles.map_features import LEVEL_LAYERS, CampusFeatures
from tiles.map_view import BUFFER_PX, MAX_NAME_LINES, MapView, mapnik_module

__all__ = ["MAX_NAME_LINES", "MAX_SCALE", "MAX_ZOOM", "CampusDrawing", "TileCache", "TileKey",
           "drawing_for", "render_tile", "tile_bounds"]

#: Half the width of the Web Mercator world in metres.
WEB_MERCATOR_HALF = 20037508.342789244
MAX_ZOOM = 24
MIN_TILE_SIZE = 64
MAX_TILE_SIZE = 1024
#: ``@2x`` tiles; nothing denser is asked for.
MAX_SCALE = 2
TILE_SRS = "EPSG:3857"


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of tile z/x/y in EPSG:3857 metres."""
    span = 2.0 * WEB_MERCATOR_HALF / (1 << z)
    minx = -WEB_MERCATOR_HALF + x * span
    maxy = WEB_MERCATOR_HALF - y * span
    return minx, maxy - span, minx + span, maxy


def _check_tile(z: int, x: int, y: int, size: int, scale: int) -> None:
    for name, value in (("z", z), ("x", x), ("y", y), ("size", size), ("scale", scale)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidQuery(f"tile {name} must be an integer, got {value!r}")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidQuery(f"tile zoom {z} is out of range 0..{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidQuery(f"tile {z}/{x}/{y} does not exist: x and y must be in 0..{n - 1}")
    if not MIN_TILE_SIZE <= size <= MAX_TILE_SIZE:
        raise InvalidQuery(f"tile size {size} is out of range {MIN_TILE_SIZE}..{MAX_TILE_SIZE}")
    if not 1 <= scale <= MAX_SCALE:
        raise InvalidQuery(f"tile scale {scale} is out of range 1..{MAX_SCALE}")


@lru_cache(maxsize=8)
def _empty_png(size: int) -> bytes:
    png: bytes = mapnik_module().Image(size, size).to_string("png32")
    return png


class CampusDrawing:
    """A campus projected to EPSG:3857 once, ready to render tiles of any level."""

    def __init__(self, campus: Campus) -> None:
        self.campus_id = campus.id
        self.features = CampusFeatures(campus, TILE_SRS)
        self.ordinals = self.features.ordinals
        self.bounds = self.features.bounds

    def render(self, ordinal: int, z: int, x: int, y: int, size: int = 256, *, scale: int = 1,
               room_labels: bool = True, layers: tuple[str, ...] = LEVEL_LAYERS) -> bytes:
        """PNG bytes of tile z/x/y of the level ``ordinal``; see :func:`render_tile`."""
        if ordinal not in self.ordinals:
            known = ", ".join(str(o) for o in sorted(self.ordinals)) or "none"
            raise LevelNotFound(
                f"campus {self.campus_id} has no level with ordinal {ordinal} (levels: {known})")
        _check_tile(z, x, y, size, scale)
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        margin = (maxx - minx) / size * BUFFER_PX
        bx0, by0, bx1, by1 = self.bounds
        pixels = size * scale
        if bx1 < minx - margin or bx0 > maxx + margin or by1 < miny - margin or by0 > maxy + margin:
            return _empty_png(pixels)
        view = MapView(ordinal, TILE_SRS, (minx, miny, maxx, maxy), pixels, pixels,
                       zoom=z + math.log2(size / 256), scale_factor=scale,
                       room_labels=room_labels)
        return render_features_png(self.features, view, layers)


# --- per-campus drawings -------------------------------------------------------------------------

_CACHE_SIZE = 16
_cache: OrderedDict[int, tuple[Campus, CampusDrawing]] = OrderedDict()
_cache_lock = threading.Lock()
# builds in progress, by id(campus): the builder holds the campus, so its id stays unique
_building: dict[int, Future[CampusDrawing]] = {}


def drawing_for(campus: Campus) -> CampusDrawing:
    """The cached :class:`CampusDrawing` of this campus object (built on first use).

    The cache is keyed by object identity, so a re-imported campus (a new object) gets a new
    drawing; the few most recently used are kept. Concurrent first requests (a map page's
    parallel tile requests) wait for one build instead of each building; if that build fails,
    they all get its error, and the next request after it builds again.
    """
    key = id(campus)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is campus:
            _cache.move_to_end(key)
            return hit[1]
        pending = _building.get(key)
        building = pending is None
        if pending is None:
            pending = _building[key] = Future()
    if not building:
        return pending.result()
    try:
        drawing = CampusDrawing(campus)
    except BaseException as exc:
        with _cache_lock:
            del _building[key]
        pending.set_exception(exc)
        raise
    with _cache_lock:
        del _building[key]
        _cache[key] = (campus, drawing)
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    pending.set_result(drawing)
    return drawing


def render_tile(campus: Campus, ordinal: int, z: int, x: int, y: int, size: int = 256, *,
                scale: int = 1, room_labels: bool = True) -> bytes:
    """A PNG of XYZ tile z/x/y (Web Mercator) of level ``ordinal``: ``size`` x ``size`` pixels,
    times ``scale`` for a high-density (``@2x``) tile.

    Raises :class:`~gridmap.errors.LevelNotFound` when no building has a level with this
    ordinal and :class:`~gridmap.errors.InvalidQuery` (a ``ValueError``) when z/x/y, size or
    scale are out of range. A tile away from the campus is a transparent PNG.
    ``room_labels=False`` leaves out room numbers and names (everything else is drawn).
    """
    return drawing_for(campus).render(ordinal, z, x, y, size, scale=scale,
                                      room_labels=room_labels)


# --- drawn tiles -----------------------------------------------------------------------------


class TileKey(NamedTuple):
    campus_id: str
    revision: int
    ordinal: int
    z: int
    x: int
    y: int
    scale: int


class TileCache:
    """Drawn tiles by campus revision, level, coordinates and scale; least recently used go
    first once they hold more than ``max_bytes``. Thread-safe."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[TileKey, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: TileKey) -> bytes | None:
        with self._lock:
            png = self._tiles.get(key)
            if png is not None:
                self._tiles.move_to_end(key)
            return png

    def put(self, key: TileKey, png: bytes) -> None:
        if len(png) > self.max_bytes:
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._tiles[key] = png
            self._bytes += len(png)
            while self._bytes > self.max_bytes:
                _, dropped = self._tiles.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._tiles)
