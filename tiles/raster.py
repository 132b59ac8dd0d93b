"""XYZ raster tiles (Web Mercator, the OSM/Leaflet default scheme) of one campus level.

A tile shows, for one level ordinal: the parcel, grounds, every building footprint (grey when the
building has no such level), the rooms of that level with their numbers (and names when zoomed in
far enough), exterior doors with their painted numbers, Knox boxes, AEDs and other amenities, and
the campus grid with its labels: column letters along the top and bottom edges, row numbers along
the left and right edges, and the cell label in the north-west corner of every cell at high zoom.

Everything is projected once per campus by :class:`CampusDrawing` (to EPSG:3857 metres, with an
STRtree per level to pick the features a tile needs); :func:`render_tile` keeps a few drawings
cached so a tile request does not re-project the campus. Drawing is supersampled (2x, box
filtered) for smooth lines and symbols, and labels carry a white halo.

Labels are placed the same way whatever tile is being drawn (a room's label either fits the room
at this zoom or it does not), and features are picked with a margin around the tile, so labels
that straddle a tile edge are drawn identically by both neighbours and join up.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from gridmap import grid as gridlib
from gridmap.errors import InvalidModel, InvalidQuery, LevelNotFound
from gridmap.model import Campus, GridSpec
from tiles import style
from tiles.style import RGBA, Symbol

__all__ = ["MAX_NAME_LINES", "MAX_ZOOM", "CampusDrawing", "drawing_for", "render_tile",
           "tile_bounds"]

#: Half the width of the Web Mercator world in metres.
WEB_MERCATOR_HALF = 20037508.342789244
MAX_ZOOM = 24
MIN_TILE_SIZE = 64
MAX_TILE_SIZE = 1024
SUPERSAMPLE = 2
#: A room's name is wrapped to at most this many lines under its number.
MAX_NAME_LINES = 3
#: Features whose anchor lies this many pixels outside a tile are still drawn (label overhang).
LABEL_MARGIN_PX = 160
#: Grid lines are densified to this many vertices per cell edge before projecting.
_GRID_DENSIFY_PER_CELL = 8

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of tile z/x/y in EPSG:3857 metres."""
    span = 2.0 * WEB_MERCATOR_HALF / (1 << z)
    minx = -WEB_MERCATOR_HALF + x * span
    maxy = WEB_MERCATOR_HALF - y * span
    return minx, maxy - span, minx + span, maxy


def _check_tile(z: int, x: int, y: int, size: int) -> None:
    for name, value in (("z", z), ("x", x), ("y", y), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidQuery(f"tile {name} must be an integer, got {value!r}")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidQuery(f"tile zoom {z} is out of range 0..{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidQuery(f"tile {z}/{x}/{y} does not exist: x and y must be in 0..{n - 1}")
    if not MIN_TILE_SIZE <= size <= MAX_TILE_SIZE:
        raise InvalidQuery(f"tile size {size} is out of range {MIN_TILE_SIZE}..{MAX_TILE_SIZE}")


# --- fonts -------------------------------------------------------------------------------------


_fonts = threading.local()


def _font(px: int, bold: bool = False) -> Font:
    """DejaVu Sans (Debian ``fonts-dejavu-core``), else Pillow's built-in scalable font.

    Cached per thread: a FreeType face must not be used by two threads at once, and tiles are
    rendered in a server's worker threads.
    """
    cache: dict[tuple[int, bool], Font] | None = getattr(_fonts, "cache", None)
    if cache is None:
        cache = _fonts.cache = {}
    font = cache.get((px, bold))
    if font is None:
        font = cache[(px, bold)] = _load_font(px, bold)
    return font


def _load_font(px: int, bold: bool) -> Font:
    names = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf") if bold else ("DejaVuSans.ttf",)
    for name in names:
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    return ImageFont.load_default(size=px)


def _text_size(font: Font, text: str, stroke: int) -> tuple[float, float]:
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    return float(right - left), float(bottom - top)


# --- projected campus --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Area:
    geom: BaseGeometry  # EPSG:3857
    fill: RGBA
    outline: RGBA
    width: float
    name: str = ""
    label_at: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class _Room:
    geom: Polygon | MultiPolygon  # EPSG:3857
    number: str
    name: str
    hallway: bool
    #: Where the label sits: ``grid.label_point`` of the room (its largest part), the same point
    #: lookup puts the room's primary cell at, so the label and the cell agree.
    label_at: tuple[float, float]
    #: "label only, no outline": drawn as its label over a faint box, never as a filled room
    approximate: bool = False


# the faint outline of an approximate room (a label found outside every room outline)
_APPROXIMATE_OUTLINE = (60, 60, 60, 110)


@dataclass(frozen=True, slots=True)
class _Mark:
    """A point symbol: a door (with its number) or an amenity."""

    x: float
    y: float
    symbol: Symbol
    text: str
    is_door: bool


@dataclass(frozen=True, slots=True)
class _GridLabel:
    x: float
    y: float
    text: str
    where: str  # "top", "bottom", "left", "right", "corner"


class _LevelLayer:
    def __init__(self, rooms: list[_Room], marks: list[_Mark], building_ids: frozenset[str]):
        self.rooms = rooms
        self.marks = marks
        self.building_ids = building_ids
        self.room_tree = shapely.STRtree([r.geom for r in rooms])
        self.mark_tree = shapely.STRtree([Point(m.x, m.y) for m in marks])


@dataclass(frozen=True, slots=True)
class _Projections:
    """The transformers one campus needs: lon/lat and local metres to and from EPSG:3857."""

    to_3857: Transformer
    to_local: Transformer
    local_to_3857: Transformer

    @classmethod
    def for_crs(cls, crs: str) -> _Projections:
        wgs84, web, local = CRS.from_epsg(4326), CRS.from_epsg(3857), CRS.from_user_input(crs)
        return cls(Transformer.from_crs(wgs84, web, always_xy=True),
                   Transformer.from_crs(wgs84, local, always_xy=True),
                   Transformer.from_crs(local, web, always_xy=True))


def _transform_many(geoms: Sequence[BaseGeometry], transformer: Transformer) -> list[BaseGeometry]:
    """Project many geometries with one vectorised pyproj call."""
    if not geoms:
        return []
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    out = shapely.transform(arr, lambda xy: _transform_xy(xy, transformer))
    return list(out)


def _transform_xy(xy: NDArray[np.float64], transformer: Transformer) -> NDArray[np.float64]:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])


def _project_points(points: Sequence[Point], transformer: Transformer,
                    what: str) -> list[tuple[float, float]]:
    """(x, y) of each point after projecting; every point must have exactly one coordinate."""
    arr = np.empty(len(points), dtype=object)
    arr[:] = list(points)
    if len(points) and (shapely.get_num_coordinates(arr) != 1).any():
        raise InvalidModel(f"every {what} must be a single, non-empty point")
    xy = _transform_xy(shapely.get_coordinates(arr), transformer)
    return [(float(x), float(y)) for x, y in xy]


def _label_point(room: BaseGeometry) -> Point:
    """``grid.label_point`` of a room in local metres (of its largest part when it has several)."""
    if isinstance(room, MultiPolygon):
        room = max(room.geoms, key=lambda part: part.area)
    if isinstance(room, Polygon):
        return gridlib.label_point(room)
    point: Point = room.representative_point()
    return point


def _xy(point: Point) -> tuple[float, float]:
    return float(point.x), float(point.y)


def _grid_lines_local(spec: GridSpec) -> list[NDArray[np.float64]]:
    """Every grid line in local metres, densified so it stays straight once projected."""
    s = spec.cell_size_m
    ext = gridlib.extent(spec)
    lines: list[NDArray[np.float64]] = []
    ys = np.linspace(ext.maxy, ext.miny, spec.rows * _GRID_DENSIFY_PER_CELL + 1)
    for c in range(spec.columns + 1):
        lines.append(np.column_stack([np.full_like(ys, ext.minx + c * s), ys]))
    xs = np.linspace(ext.minx, ext.maxx, spec.columns * _GRID_DENSIFY_PER_CELL + 1)
    for r in range(spec.rows + 1):
        lines.append(np.column_stack([xs, np.full_like(xs, ext.maxy - r * s)]))
    return lines


def _grid_label_anchors(spec: GridSpec) -> list[tuple[float, float, str, str]]:
    """(x, y, text, where) in local metres: column letters and row numbers on all four edges,
    and every cell's label at its north-west corner."""
    s = spec.cell_size_m
    ext = gridlib.extent(spec)
    anchors: list[tuple[float, float, str, str]] = []
    for c in range(spec.columns):
        letter = gridlib.column_label(c)
        cx = ext.minx + (c + 0.5) * s
        anchors.append((cx, ext.maxy, letter, "top"))
        anchors.append((cx, ext.miny, letter, "bottom"))
    for r in range(spec.rows):
        cy = ext.maxy - (r + 0.5) * s
        anchors.append((ext.minx, cy, str(r + 1), "left"))
        anchors.append((ext.maxx, cy, str(r + 1), "right"))
    for r in range(spec.rows):
        for c in range(spec.columns):
            anchors.append((ext.minx + c * s, ext.maxy - r * s, gridlib.cell_label(c, r),
                            "corner"))
    return anchors


class CampusDrawing:
    """A campus pre-projected to EPSG:3857, ready to render tiles of any level quickly."""

    def __init__(self, campus: Campus) -> None:
        self.campus_id = campus.id
        self.ordinals = frozenset(campus.ordinals)
        proj = _Projections.for_crs(campus.crs)
        level_ordinal = {lv.id: lv.ordinal for lv in campus.levels}
        self._project_areas(campus, proj)
        rooms = self._rooms_by_ordinal(campus, level_ordinal, proj)
        marks = self._marks_by_ordinal(campus, level_ordinal, proj)
        self.levels: dict[int, _LevelLayer] = {
            o: _LevelLayer(rooms[o], marks[o],
                           frozenset(lv.building_id for lv in campus.levels if lv.ordinal == o))
            for o in self.ordinals
        }
        self._build_grid(campus, proj.local_to_3857)
        self.bounds = self._extent()

    def _project_areas(self, campus: Campus, proj: _Projections) -> None:
        """The parcel, the grounds and the building footprints (filled per level when drawn)."""
        parcels = [] if campus.parcel is None else [campus.parcel]
        n_parcel, n_grounds = len(parcels), len(campus.grounds)
        geoms = _transform_many([*parcels, *(g.geometry for g in campus.grounds),
                                 *(b.footprint for b in campus.buildings)], proj.to_3857)
        self.parcel = (_Area(geoms[0], style.PARCEL_FILL, style.PARCEL_OUTLINE, style.PARCEL_WIDTH)
                       if parcels else None)
        self.grounds = [
            _Area(geom, style.GROUNDS_FILL[g.kind], style.GROUNDS_OUTLINE, 1.0, g.name,
                  _xy(geom.representative_point()))
            for g, geom in zip(campus.grounds, geoms[n_parcel: n_parcel + n_grounds], strict=True)
        ]
        self.footprints: list[tuple[str, BaseGeometry]] = [
            (b.id, geom)
            for b, geom in zip(campus.buildings, geoms[n_parcel + n_grounds:], strict=True)
        ]

    def _rooms_by_ordinal(self, campus: Campus, level_ordinal: dict[str, int],
                          proj: _Projections) -> dict[int, list[_Room]]:
        """Rooms per level, label points found in local metres (as lookup does), then projected."""
        units = [u for u in campus.units if not u.geometry.is_empty]
        local = _transform_many([u.geometry for u in units], proj.to_local)
        labels = _project_points([_label_point(g) for g in local], proj.local_to_3857, "room label")
        geoms = _transform_many([u.geometry for u in units], proj.to_3857)
        out: dict[int, list[_Room]] = {o: [] for o in self.ordinals}
        for u, geom, label_at in zip(units, geoms, labels, strict=True):
            if isinstance(geom, Polygon | MultiPolygon):
                hallway = u.category.lower() in style.HALLWAY_CATEGORIES
                out[level_ordinal[u.level_id]].append(
                    _Room(geom, u.number, u.name, hallway, label_at, u.approximate))
        return out

    def _marks_by_ordinal(self, campus: Campus, level_ordinal: dict[str, int],
                          proj: _Projections) -> dict[int, list[_Mark]]:
        """Exterior doors (with their painted numbers) and amenities per level.

        An amenity with no level is drawn on the ground floor (ordinal 0), when there is one.
        """
        doors = [o for o in campus.openings if o.exterior]
        amenities = list(campus.amenities)
        xy = _project_points([d.geometry for d in doors] + [a.geometry for a in amenities],
                             proj.to_3857, "door and amenity")
        out: dict[int, list[_Mark]] = {o: [] for o in self.ordinals}
        for d, (x, y) in zip(doors, xy[: len(doors)], strict=True):
            out[level_ordinal[d.level_id]].append(_Mark(x, y, style.DOOR, d.number or "", True))
        for a, (x, y) in zip(amenities, xy[len(doors):], strict=True):
            ordinal = 0 if a.level_id is None else level_ordinal.get(a.level_id)
            if ordinal in out:
                sym = style.AMENITY_SYMBOLS[a.kind]
                out[ordinal].append(_Mark(x, y, sym, sym.text, False))
        return out

    def _extent(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of everything drawn but rooms and marks (they lie inside)."""
        geoms: list[BaseGeometry] = [g for _, g in self.footprints]
        geoms += [a.geom for a in self.grounds]
        if self.parcel is not None:
            geoms.append(self.parcel.geom)
        geoms.append(self.grid_outline)
        minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms, dtype=object))
        return float(minx), float(miny), float(maxx), float(maxy)

    def _build_grid(self, campus: Campus, local_to_3857: Transformer) -> None:
        lines = _grid_lines_local(campus.grid)
        anchors = _grid_label_anchors(campus.grid)
        # lines and label anchors in one array, so there is one projection call
        stacked = np.vstack([*lines, np.array([(a[0], a[1]) for a in anchors], dtype=float)])
        proj = _transform_xy(stacked, local_to_3857)
        pos = 0
        self.grid_lines: list[LineString] = []
        for ln in lines:
            self.grid_lines.append(LineString(proj[pos: pos + len(ln)]))
            pos += len(ln)
        self.grid_labels = [
            _GridLabel(float(proj[pos + k, 0]), float(proj[pos + k, 1]), a[2], a[3])
            for k, a in enumerate(anchors)
        ]
        self.grid_line_tree = shapely.STRtree(self.grid_lines)
        self.grid_label_tree = shapely.STRtree([Point(g.x, g.y) for g in self.grid_labels])
        self.grid_outline = shapely.MultiLineString(self.grid_lines)


    # --- rendering ----------------------------------------------------------------------------

    def render(self, ordinal: int, z: int, x: int, y: int, size: int = 256, *,
               room_labels: bool = True) -> bytes:
        """PNG bytes of tile z/x/y of the level ``ordinal``; see :func:`render_tile`."""
        if ordinal not in self.levels:
            known = ", ".join(str(o) for o in sorted(self.ordinals)) or "none"
            raise LevelNotFound(
                f"campus {self.campus_id} has no level with ordinal {ordinal} (levels: {known})")
        _check_tile(z, x, y, size)
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        res = (maxx - minx) / size
        margin = LABEL_MARGIN_PX * res
        bx0, by0, bx1, by1 = self.bounds
        if bx1 < minx - margin or bx0 > maxx + margin or by1 < miny - margin or by0 > maxy + margin:
            return _empty_png(size)
        return _TileRenderer(self, self.levels[ordinal], z, minx, maxy, res, size,
                             room_labels).png()


class _TileRenderer:
    """Draws one tile; coordinates are EPSG:3857 metres until :meth:`_px` maps them."""

    def __init__(self, d: CampusDrawing, level: _LevelLayer, z: int, minx: float, maxy: float,
                 res: float, size: int, room_labels: bool) -> None:
        self.d = d
        self.level = level
        self.z = z
        self.minx = minx
        self.maxy = maxy
        self.res = res
        self.size = size
        self.room_labels = room_labels
        self.k = SUPERSAMPLE / res  # metres -> supersampled pixels
        span = size * res
        pad = 8 * res
        self.clip = (minx - pad, maxy - span - pad, minx + span + pad, maxy + pad)
        m = LABEL_MARGIN_PX * res
        self.query = box(minx - m, maxy - span - m, minx + span + m, maxy + m)
        self.img = Image.new("RGBA", (size * SUPERSAMPLE, size * SUPERSAMPLE), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.img)

    # coordinates
    def _px(self, coords: NDArray[np.float64]) -> list[float]:
        out = np.empty_like(coords)
        out[:, 0] = (coords[:, 0] - self.minx) * self.k
        out[:, 1] = (self.maxy - coords[:, 1]) * self.k
        flat: list[float] = out.ravel().tolist()
        return flat

    def _pt(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.minx) * self.k, (self.maxy - y) * self.k

    def _clipped(self, geom: BaseGeometry) -> Iterable[BaseGeometry]:
        clipped = shapely.clip_by_rect(geom, *self.clip)
        if clipped.is_empty:
            return []
        parts: list[BaseGeometry] = list(shapely.get_parts(clipped))
        return parts

    # primitives
    def _area(self, geom: BaseGeometry, fill: RGBA | None, outline: RGBA | None,
              width: float) -> None:
        w = max(1, round(width * SUPERSAMPLE))
        for part in self._clipped(geom):
            if not isinstance(part, Polygon):
                continue
            ext = self._px(np.asarray(part.exterior.coords))
            if len(ext) < 6:
                continue
            if fill is not None:
                if part.interiors:
                    mask = Image.new("L", self.img.size, 0)
                    md = ImageDraw.Draw(mask)
                    md.polygon(ext, fill=255)
                    for ring in part.interiors:
                        md.polygon(self._px(np.asarray(ring.coords)), fill=0)
                    self.img.paste(Image.new("RGBA", self.img.size, fill), (0, 0), mask)
                else:
                    self.draw.polygon(ext, fill=fill)
            if outline is not None:
                self.draw.line(ext, fill=outline, width=w, joint="curve")
                for ring in part.interiors:
                    self.draw.line(self._px(np.asarray(ring.coords)), fill=outline, width=w,
                                   joint="curve")

    def _text(self, cx: float, cy: float, text: str, font: Font, fill: RGBA, halo: RGBA,
              halo_w: int) -> None:
        """Draw ``text`` centred on supersampled pixel (cx, cy) with a halo."""
        left, top, right, bottom = self.draw.textbbox((0, 0), text, font=font,
                                                      stroke_width=halo_w)
        pos = (cx - (left + right) / 2.0, cy - (top + bottom) / 2.0)
        self.draw.text(pos, text, font=font, fill=fill, stroke_width=halo_w, stroke_fill=halo)

    # layers
    def png(self) -> bytes:
        d, level = self.d, self.level
        if d.parcel is not None:
            self._area(d.parcel.geom, d.parcel.fill, d.parcel.outline, d.parcel.width)
        for g in d.grounds:
            self._area(g.geom, g.fill, g.outline, g.width)
        for building_id, geom in d.footprints:
            if building_id in level.building_ids:
                self._area(geom, style.BUILDING_FILL, None, 0)
            else:
                self._area(geom, style.OTHER_LEVEL_FILL, style.OTHER_LEVEL_OUTLINE, 1.5)
        rooms = [level.rooms[i] for i in sorted(level.room_tree.query(self.query))]
        for room in rooms:
            if room.approximate:
                self._area(room.geom, None, _APPROXIMATE_OUTLINE, style.ROOM_WIDTH)
                continue
            fill = style.HALLWAY_FILL if room.hallway else style.ROOM_FILL
            self._area(room.geom, fill, style.ROOM_OUTLINE, style.ROOM_WIDTH)
        for building_id, geom in d.footprints:
            if building_id in level.building_ids:
                self._area(geom, None, style.BUILDING_OUTLINE, style.BUILDING_WIDTH)
        self._grid_lines()
        if self.room_labels and self.z >= style.MIN_ZOOM_ROOM_NUMBERS:
            for room in rooms:
                self._room_label(room)
        if self.z >= style.MIN_ZOOM_GROUNDS_LABELS:
            for g in d.grounds:
                self._grounds_label(g)
        marks = [level.marks[i] for i in sorted(level.mark_tree.query(self.query))]
        # amenities below doors: a door number matters most at an entrance
        for mark in sorted(marks, key=lambda m: m.is_door):
            self._mark(mark)
        self._grid_labels()
        out = self.img.convert("RGBa").reduce(SUPERSAMPLE).convert("RGBA")
        buf = io.BytesIO()
        out.save(buf, format="PNG", compress_level=6)
        return buf.getvalue()

    def _grid_lines(self) -> None:
        w = max(1, round(style.GRID_WIDTH * SUPERSAMPLE))
        for i in sorted(self.d.grid_line_tree.query(self.query)):
            for part in self._clipped(self.d.grid_lines[i]):
                if isinstance(part, LineString) and len(part.coords) >= 2:
                    self.draw.line(self._px(np.asarray(part.coords)), fill=style.GRID_COLOUR,
                                   width=w)

    def _grid_labels(self) -> None:
        z = self.z
        edge_font = _font(style.grid_edge_font_px(z) * SUPERSAMPLE, bold=True)
        corner_font = _font(style.cell_corner_font_px(z) * SUPERSAMPLE, bold=True)
        halo = style.HALO_WIDTH * SUPERSAMPLE
        gap = 4 * SUPERSAMPLE
        for i in sorted(self.d.grid_label_tree.query(self.query)):
            lab = self.d.grid_labels[i]
            px, py = self._pt(lab.x, lab.y)
            if lab.where == "corner":
                if z < style.MIN_ZOOM_CELL_LABELS:
                    continue
                w, h = _text_size(corner_font, lab.text, halo)
                self._text(px + gap + w / 2, py + gap + h / 2, lab.text, corner_font,
                           style.GRID_LABEL_COLOUR, style.GRID_LABEL_HALO, halo)
                continue
            w, h = _text_size(edge_font, lab.text, halo)
            if lab.where == "top":
                cx, cy = px, py - gap - h / 2
            elif lab.where == "bottom":
                cx, cy = px, py + gap + h / 2
            elif lab.where == "left":
                cx, cy = px - gap - w / 2, py
            else:
                cx, cy = px + gap + w / 2, py
            self._text(cx, cy, lab.text, edge_font, style.GRID_LABEL_COLOUR,
                       style.GRID_LABEL_HALO, halo)

    def _fits(self, room: _Room, w: float, h: float) -> bool:
        """Whether a w x h (supersampled pixels) box centred on the label point fits the room
        (an approximate room is only its label, so its label always does)."""
        if room.approximate:
            return True
        hw, hh = w / 2.0 / self.k, h / 2.0 / self.k
        x, y = room.label_at
        return bool(room.geom.contains(box(x - hw, y - hh, x + hw, y + hh)))

    def _room_label(self, room: _Room) -> None:
        z = self.z
        halo = style.HALO_WIDTH * SUPERSAMPLE
        num_font = _font(style.room_number_font_px(z) * SUPERSAMPLE, bold=True)
        name_font = _font(style.room_name_font_px(z) * SUPERSAMPLE)
        lines: list[tuple[str, Font]] = []
        if room.number:
            lines.append((room.number, num_font))
        if room.name and (z >= style.MIN_ZOOM_ROOM_NAMES or not room.number):
            max_w = self._room_width_px(room) * 0.9
            lines += [(ln, name_font) for ln in _wrap(room.name, name_font, 0, max_w)]
        lead = 1 * SUPERSAMPLE
        # the text itself must fit (plus a pixel); its halo may overlap the walls
        slack = 2 * SUPERSAMPLE
        while lines:
            sizes = [_text_size(f, t, 0) for t, f in lines]
            total_h = sum(h for _, h in sizes) + lead * (len(lines) - 1)
            total_w = max(w for w, _ in sizes)
            if self._fits(room, total_w + slack, total_h + slack):
                self._draw_lines(room.label_at, lines, sizes, total_h, lead, halo)
                return
            lines.pop()  # drop the name lines first, then give up

    def _draw_lines(self, at: tuple[float, float], lines: list[tuple[str, Font]],
                    sizes: list[tuple[float, float]], total_h: float, lead: float,
                    halo: int) -> None:
        cx, cy = self._pt(*at)
        top = cy - total_h / 2.0
        for (text, font), (_, h) in zip(lines, sizes, strict=True):
            self._text(cx, top + h / 2.0, text, font, style.LABEL_COLOUR, style.LABEL_HALO, halo)
            top += h + lead

    def _grounds_label(self, area: _Area) -> None:
        if not area.name or area.label_at is None:
            return
        font = _font(style.room_name_font_px(self.z) * SUPERSAMPLE)
        w, h = _text_size(font, area.name, 0)
        x, y = area.label_at
        hw, hh = w / 2.0 / self.k, h / 2.0 / self.k
        if area.geom.contains(box(x - hw, y - hh, x + hw, y + hh)):
            cx, cy = self._pt(x, y)
            self._text(cx, cy, area.name, font, style.GROUNDS_LABEL_COLOUR, area.fill,
                       style.HALO_WIDTH * SUPERSAMPLE)

    def _room_width_px(self, room: _Room) -> float:
        minx, _, maxx, _ = room.geom.bounds
        return (maxx - minx) * self.k

    def _mark(self, mark: _Mark) -> None:
        z = self.z
        sym = mark.symbol
        r = style.symbol_radius(sym, z) * SUPERSAMPLE
        cx, cy = self._pt(mark.x, mark.y)
        text = mark.text
        show_text = bool(text) and z >= (style.MIN_ZOOM_DOOR_NUMBERS if mark.is_door
                                         else style.MIN_ZOOM_AMENITY_CODES)
        font: Font | None = None
        if show_text:
            # grow the symbol for long door numbers ("12A") rather than shrink the text
            px = max(7, round(r * (1.15 if len(text) <= 1 else 0.95 if len(text) == 2
                                   else 0.75) / SUPERSAMPLE)) * SUPERSAMPLE
            font = _font(px, bold=True)
            w, _ = _text_size(font, text, 0)
            r = max(r, w / 2.0 + 2 * SUPERSAMPLE)
        outline_w = max(1, round(1.5 * SUPERSAMPLE))
        if sym.shape == "circle":
            self.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=sym.fill,
                              outline=sym.outline, width=outline_w)
        elif sym.shape == "square":
            self.draw.rounded_rectangle((cx - r, cy - r, cx + r, cy + r), radius=r * 0.25,
                                        fill=sym.fill, outline=sym.outline, width=outline_w)
        elif sym.shape == "diamond":
            pts = [cx, cy - r * 1.25, cx + r * 1.25, cy, cx, cy + r * 1.25, cx - r * 1.25, cy]
            self.draw.polygon(pts, fill=sym.fill, outline=sym.outline, width=outline_w)
        else:  # triangle
            tr = r * 1.35
            h = tr * math.sqrt(3) / 2.0
            pts = [cx, cy - tr, cx + h, cy + tr / 2.0, cx - h, cy + tr / 2.0]
            self.draw.polygon(pts, fill=sym.fill, outline=sym.outline, width=outline_w)
            cy += tr * 0.15
        if font is not None:
            self._text(cx, cy, text, font, sym.text_colour, sym.fill, 0)


def _wrap(text: str, font: Font, stroke: int, max_w: float) -> list[str]:
    """Greedy word wrap to ``max_w``; a word wider than that stays on its own line."""
    words = text.split()
    lines: list[str] = []
    for word in words:
        if lines and _text_size(font, f"{lines[-1]} {word}", stroke)[0] <= max_w:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines[:MAX_NAME_LINES]


@lru_cache(maxsize=8)
def _empty_png(size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (size, size), (0, 0, 0, 0)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# --- per-campus cache --------------------------------------------------------------------------

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
    they all get its error, and the next request after it builds again (as
    ``api.context.AppContext.loaded`` does for campuses).
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
                room_labels: bool = True) -> bytes:
    """A ``size`` x ``size`` PNG of XYZ tile z/x/y (Web Mercator) of level ``ordinal``.

    Raises :class:`~gridmap.errors.LevelNotFound` when no building has a level with this
    ordinal and :class:`~gridmap.errors.InvalidQuery` (a ``ValueError``) when z/x/y or size
    are out of range. A tile away from the campus is a transparent PNG. ``room_labels=False``
    leaves out room numbers and names (everything else is drawn).
    """
    return drawing_for(campus).render(ordinal, z, x, y, size, room_labels=room_labels)
