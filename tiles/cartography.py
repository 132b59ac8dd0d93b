"""One cartographic style, one renderer: Mapnik maps of a campus for tiles, paper and packages.

:func:`campus_map` builds a :class:`mapnik.Map` of one level (or the campus overview) for a
:class:`MapView`; :func:`render_png` and :func:`render_pdf` draw it. The look comes from
:mod:`tiles.style` and nowhere else, so a raster tile, a printed sheet and the legend agree.

How the labels behave (Mapnik places every label and symbol with collision detection, in the
order of the layers below, so what comes first wins a contested spot):

1. room numbers (with room numbers and names laid out as one block centred on the point lookup
   answers with, the number on top, wherever number and name fit the room);
2. building letters and names: in the footprint up to z17 (placed first there), above the north
   wall and below the south wall from z18, outside the plan (a building's letter and name show
   at every zoom);
3. exterior doors, a red disc with the painted number;
4. safety symbols (AED, trauma kit, Knox box, shutoffs, fire alarm panel, stairs, ...): drawn on
   their point when that is free, else moved beside it (at most two symbol widths away),
   never over a room number;
5. room names, under their numbers (a name gives way to a symbol or a door; a number does not);
6. grid edge letters and numbers, grounds names, and the cell label in each cell's corner.

A room's label is drawn only where it fits inside the room (computed here, per zoom, from the
room's shape around the point lookup answers with).

Paper (``purpose="print"``) loses no label a reader needs. Room labels are laid out here before
Mapnik draws (:func:`print_room_labels`): every room's number at its normal size where it fits
its room, else smaller (down to ``style.PRINT_MIN_NUMBER_PT`` on paper), else moved inside its
room, and only when nothing fits listed for the sheet's "numbers not shown" note; then names,
whole, under their numbers wherever they fit (smaller allowed), never over a number or on a
symbol's spot. The printed campus overview writes every exterior door's number and each
building's letter (in it) and name (beside it) at any zoom; its doors and symbols move beside
their point rather than hide each other. On paper no symbol is placed across the sheet's edge.
Tiles are drawn exactly as before. Everything is projected once per campus
and spatial reference (:class:`CampusFeatures`) into in-memory GeoJSON datasources, so a tile
costs one Mapnik render.

Mapnik is imported inside the functions that draw, never when this module is imported.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from gridmap import grid as gridlib
from gridmap.errors import InvalidModel
from gridmap.model import AmenityKind, Campus, GridSpec
from tiles import style, symbols
from tiles.style import RGBA, Symbol

if TYPE_CHECKING:
    import mapnik

__all__ = ["CampusFeatures", "MapView", "PaperLabel", "PaperRoomLabels", "campus_map",
           "features_for", "ground_resolution",
           "mapnik_module", "print_room_labels", "render_features_png", "render_pdf",
           "render_png",
           "zoom_for_resolution"]

#: Equatorial circumference of the Web Mercator sphere, metres.
_EARTH = 2.0 * math.pi * 6378137.0
#: A room name is wrapped to at most this many lines under its number.
MAX_NAME_LINES = 3
#: A text line's height in em (DejaVu Sans' ascent plus descent, and Mapnik's leading).
LINE_HEIGHT = 1.2
#: Label buffer around a tile (pixels at 1x): a label crossing a tile edge is drawn by both
#: tiles when its point lies within this of each (half the longest label: a building's name).
BUFFER_PX = 192
#: Grid lines are densified to this many vertices per cell edge before projecting.
_GRID_DENSIFY_PER_CELL = 8
#: Amenities drawn on the campus overview (the map with no level): what responders need outside.
OVERVIEW_AMENITIES = frozenset({
    AmenityKind.KNOX_BOX, AmenityKind.GAS_SHUTOFF, AmenityKind.WATER_SHUTOFF,
    AmenityKind.ELECTRIC_SHUTOFF, AmenityKind.FIRE_ALARM_PANEL, AmenityKind.RALLY_POINT,
    AmenityKind.STAGING_AREA, AmenityKind.HAZARD,
})


@dataclass(frozen=True)
class MapView:
    """What to draw and how big: a level (or the overview) over a box of a spatial reference.

    ``zoom`` picks the label and symbol rules and decides which room labels fit their rooms:
    pass the Web Mercator zoom of the drawn scale, ``zoom_for_resolution(metres per output
    pixel or point * scale_factor, latitude)``, so labels are sized as on a tile of the same
    ground resolution (a printed sheet then looks like the tiles; a larger ``scale_factor``
    draws the same map with everything larger, for legibility on paper).
    """

    ordinal: int | None
    srs: str
    bbox: tuple[float, float, float, float]
    width: int
    height: int
    zoom: float
    scale_factor: float = 1.0
    imagery: Path | None = None
    purpose: Literal["tile", "print"] = "tile"
    grid: bool = True
    grid_labels: bool = True
    #: leave out room numbers and names (everything else is drawn)
    room_labels: bool = field(default=True, kw_only=True)


def mapnik_module() -> Any:
    """``import mapnik``, first giving its PROJ a database when the environment names none.

    Mapnik's wheel points ``PROJ_LIB`` at a folder of its own that holds no ``proj.db`` (unless
    the variable is set already), which leaves Mapnik unable to read EPSG codes and rasterio's
    PROJ with no database in the same process. rasterio's wheel carries a ``proj.db`` recent
    enough for both, so that is named first. Import Mapnik through this function.
    """
    if "mapnik" not in sys.modules and not (os.environ.get("PROJ_LIB")
                                            or os.environ.get("PROJ_DATA")):
        spec = importlib.util.find_spec("rasterio")
        if spec is not None and spec.origin is not None:
            data = Path(spec.origin).parent / "proj_data"
            if (data / "proj.db").is_file():
                os.environ["PROJ_LIB"] = str(data)
    import mapnik

    return mapnik


def ground_resolution(zoom: float, lat: float) -> float:
    """Ground metres per pixel (at 1x) of a 256-pixel Web Mercator tile at ``zoom``, ``lat``."""
    return _EARTH * math.cos(math.radians(lat)) / (256.0 * math.pow(2.0, zoom))


def zoom_for_resolution(metres_per_px: float, lat: float) -> float:
    """The Web Mercator zoom whose 1x pixel covers ``metres_per_px`` ground metres at ``lat``
    (a printed sheet passes metres per point: its labels then follow the tile rules)."""
    return math.log2(_EARTH * math.cos(math.radians(lat)) / (256.0 * metres_per_px))


def style_zoom(zoom: float) -> int:
    """The zoom whose rules apply: rounded, and clamped to the zooms the style defines."""
    z = round(zoom)
    return min(max(z, style.STYLE_ZOOMS.start), style.STYLE_ZOOMS.stop - 1)


# --- text metrics (DejaVu Sans; close enough to decide what fits a room) ------------------------

_NARROW = set("ijlt.,:;'|!()[]- fIJr")
_WIDE = set("mwMW@%")


def text_width_px(text: str, font_px: float, bold: bool) -> float:
    """Estimated advance width of ``text`` in DejaVu Sans (Bold) at ``font_px`` pixels."""
    em = 0.0
    for ch in text:
        if ch.isdigit():
            em += 0.70 if bold else 0.64
        elif ch == " ":
            em += 0.35 if bold else 0.32
        elif ch in _NARROW:
            em += 0.40 if bold else 0.33
        elif ch in _WIDE:
            em += 1.02 if bold else 0.93
        elif ch.isupper():
            em += 0.78 if bold else 0.71
        else:
            em += 0.66 if bold else 0.60
    return em * font_px


def wrap_name(name: str, font_px: float, max_w: float) -> list[str]:
    """Greedy word wrap of a room name to ``max_w`` pixels; a longer word keeps its own line."""
    lines: list[str] = []
    for word in name.split():
        if lines and text_width_px(f"{lines[-1]} {word}", font_px, False) <= max_w:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines[:MAX_NAME_LINES]


# --- the campus, projected -----------------------------------------------------------------------


_transformers = threading.local()


def _transformer(source: str, target: str) -> Transformer:
    """A pyproj transformer (x, y order), made once per pair and thread (making one costs
    ~30 ms; one is not shared between threads)."""
    cache: dict[tuple[str, str], Transformer] | None = getattr(_transformers, "cache", None)
    if cache is None:
        cache = _transformers.cache = {}
    made = cache.get((source, target))
    if made is None:
        if len(cache) >= 32:
            cache.clear()
        made = cache[(source, target)] = Transformer.from_crs(
            CRS.from_user_input(source), CRS.from_user_input(target), always_xy=True)
    return made


def _transform_xy(xy: NDArray[np.float64], transformer: Transformer) -> NDArray[np.float64]:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])


def _transform_many(geoms: Sequence[BaseGeometry], transformer: Transformer) -> list[BaseGeometry]:
    """Project many geometries with one vectorised pyproj call."""
    if not geoms:
        return []
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    return list(shapely.transform(arr, lambda xy: _transform_xy(xy, transformer)))


def _project_points(points: Sequence[Point], transformer: Transformer,
                    what: str) -> list[tuple[float, float]]:
    """(x, y) of each point after projecting; every point must have exactly one coordinate."""
    arr = np.empty(len(points), dtype=object)
    arr[:] = list(points)
    if len(points) and (shapely.get_num_coordinates(arr) != 1).any():
        raise InvalidModel(f"every {what} must be a single, non-empty point")
    if not len(points):
        return []
    xy = _transform_xy(shapely.get_coordinates(arr), transformer)
    return [(float(x), float(y)) for x, y in xy]


def _largest_part(geom: BaseGeometry) -> BaseGeometry:
    if isinstance(geom, MultiPolygon):
        return max(geom.geoms, key=lambda part: part.area)
    return geom


def _prepared_copy(geom: BaseGeometry) -> BaseGeometry:
    """A prepared copy of ``geom``, never ``geom`` itself: a campus's geometries are shared by
    threads (the book draws its sheets in a pool, lookups and tiles run beside it), and
    preparing a shared geometry while another thread uses it crashes GEOS (seen: a segfault in
    ``shapely.contains`` while the book laid out two sheets at once)."""
    copy = shapely.transform(geom, lambda xy: xy)
    shapely.prepare(copy)
    return copy


def room_label_point(room_local: BaseGeometry) -> Point:
    """``grid.label_point`` of a room in local metres (of its largest part when it has several):
    the point lookup puts the room's primary cell at, so the map label and the cell agree."""
    part = _largest_part(room_local)
    if isinstance(part, Polygon):
        return gridlib.label_point(part)
    point: Point = part.representative_point()
    return point


def _room_label_texts(room: BaseGeometry, at: Point, number: str, name: str,
                      approximate: bool, lat: float) -> dict[str, str | float]:
    """Per style zoom, the room number (``n<z>``) and the wrapped name (``m<z>``) that fit,
    and their vertical offsets from the point (``dn<z>``, ``dm<z>``, pixels at 1x).

    ``room`` and ``at`` are in local metres. The number needs its box (plus a pixel each side)
    inside the room; the name is added under it only when number and name fit together. A room
    with no number may show its name alone; an approximate room is only a label, so its label
    always fits.
    """
    out: dict[str, str | float] = {}
    part = _prepared_copy(_largest_part(room))
    minx, _, maxx, _ = part.bounds
    for z in style.STYLE_ZOOMS:
        res = ground_resolution(z, lat)
        n_px, m_px = style.room_number_font_px(z), style.room_name_font_px(z)

        def fits(w: float, h: float, down: float = 0.0, right: float = 0.0,
                 res: float = res) -> bool:
            """Whether a w x h pixel box centred ``right``, ``down`` pixels off the point fits."""
            if approximate:
                return True
            hw, hh = (w / 2.0 + 1.5) * res, (h / 2.0 + 1.5) * res
            x, y = at.x + right * res, at.y - down * res
            return bool(shapely.contains(part, shapely.box(x - hw, y - hh, x + hw, y + hh)))

        num_w, num_h = text_width_px(number, n_px, True), n_px * 1.0
        show_number = bool(number) and fits(num_w, num_h)
        lines: list[str] = []
        if name and (z >= style.MIN_ZOOM_ROOM_NAMES or not number):
            lines = wrap_name(name, m_px, (maxx - minx) / res * 0.9)
            while lines:
                w = max([num_w if number else 0.0] + [text_width_px(t, m_px, False)
                                                      for t in lines])
                h = (num_h if number else 0.0) + len(lines) * m_px * 1.2
                if (show_number or not number) and fits(w, h):
                    break
                lines.pop()
        if lines and " ".join(lines) != " ".join(name.split()):
            # a cut name does not end on its separator ("Lift /" of "Lift / Aufzug")
            lines[-1] = lines[-1].rstrip(" /-–,;:·&+")
            if not lines[-1]:
                lines.pop()
        shown = number if show_number else ""
        out[f"n{z}"] = shown
        out[f"m{z}"] = "\n".join(lines)
        # the number and the name lines form one block centred on the point: the number at its
        # top, the names under it (drawn as two labels, so a symbol may take the names' place)
        num_lh = n_px * LINE_HEIGHT if shown else 0.0
        names_h = len(lines) * m_px * LINE_HEIGHT
        top = -(num_lh + names_h) / 2.0
        out[f"dn{z}"] = round(top + num_lh / 2.0, 2)
        out[f"dm{z}"] = round(top + num_lh + names_h / 2.0, 2)
        # where a symbol takes the names' place, they may move down a line or two, or aside
        # (a hallway's name along it), if the room still holds them there: ``s1<z>``, ``s2<z>``
        # (down), ``r<z>``, ``l<z>`` (right, left), in pixels, 0 where the room does not
        line = m_px * LINE_HEIGHT
        names_w = max((text_width_px(t, m_px, False) for t in lines), default=0.0)
        centre = float(out[f"dm{z}"])
        aside = names_w * 0.5 + 2.0 * style.symbol_radius(style.DOOR, z) + 4.0
        for key, down, right in ((f"s1{z}", line, 0.0), (f"s2{z}", 2 * line, 0.0),
                                 (f"r{z}", 0.0, aside), (f"l{z}", 0.0, -aside)):
            ok = bool(lines) and not approximate and fits(names_w, names_h, centre + down,
                                                          right)
            out[key] = round(down or right, 2) if ok else 0.0
    return out


def _oriented(geom: BaseGeometry) -> BaseGeometry:
    """Exterior rings counter-clockwise: a line label's positive offset is then outside."""
    oriented: BaseGeometry = shapely.orient_polygons(geom, exterior_cw=False)
    return oriented


@dataclass(frozen=True, slots=True)
class _Feature:
    geom: BaseGeometry
    props: dict[str, Any]


def _collection(features: Iterable[_Feature]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(f.geom), "properties": f.props}
        for f in features if not f.geom.is_empty]}, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class _GridLabel:
    x: float
    y: float
    text: str
    where: str  # "top", "bottom", "left", "right", "corner"


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


#: The layers of a level map, bottom to top (see the module docstring for the label order).
LEVEL_LAYERS = ("parcel", "grounds", "footprints_other", "footprints", "rooms",
                "building_outlines", "grid_lines", "room_numbers", "building_labels",
                "doors", "amenities", "room_names", "grid_edge_labels", "grounds_labels",
                "cell_labels")
#: Layers that are the same on every level.
_SHARED_LAYERS = frozenset({"parcel", "grounds", "grounds_labels", "grid_lines",
                            "grid_edge_labels", "cell_labels", "building_sides"})
#: Layers of the "rooms, labels and grid only" map the benchmark compares against.
PLAIN_LAYERS = ("rooms", "grid_lines", "room_numbers", "room_names", "grid_edge_labels",
                "cell_labels")
#: Layers drawn from the room label points.
_ROOM_LABEL_LAYERS = frozenset({"room_numbers", "room_names"})


@dataclass(frozen=True, slots=True)
class RoomShape:
    """A room as paper's label layout sees it: its shape and label point in the map's srs."""

    id: str
    number: str
    name: str
    geom: BaseGeometry
    at: tuple[float, float]
    approximate: bool


class CampusFeatures:
    """One campus projected to one spatial reference, as GeoJSON per layer and level.

    Built once per campus (object) and srs; Mapnik datasources are made from it on first use
    and shared by every map drawn from it (Mapnik only reads them).
    """

    def __init__(self, campus: Campus, srs: str) -> None:
        self.campus_id = campus.id
        self.srs = srs
        self.ordinals = frozenset(campus.ordinals)
        to_srs = _transformer("EPSG:4326", srs)
        to_local = _transformer("EPSG:4326", campus.crs)
        local_to_srs = _transformer(campus.crs, srs)
        ext = gridlib.extent(campus.grid)
        centre_lon, centre_lat = _transformer(campus.crs, "EPSG:4326").transform(
            (ext.minx + ext.maxx) / 2.0, (ext.miny + ext.maxy) / 2.0)
        self.lat = float(centre_lat)
        self._layers: dict[tuple[str, int | None], list[_Feature]] = {}
        #: every building's footprint (in srs) with its letter and name
        self.buildings: list[_Feature] = []
        #: per level, every room with its number and name, for paper's label layout
        self.rooms_of: dict[int, list[RoomShape]] = {}
        level_ordinal = {lv.id: lv.ordinal for lv in campus.levels}
        self._areas(campus, to_srs, level_ordinal)
        self._rooms(campus, to_srs, to_local, local_to_srs, level_ordinal)
        self._marks(campus, to_srs, level_ordinal)
        self._grid(campus, local_to_srs)
        self.centre = _project_points([Point(centre_lon, centre_lat)], to_srs, "centre")[0]
        self.bounds = self._extent()
        self._json: dict[tuple[str, int | None], str] = {}
        self._datasources: dict[tuple[str, int | None], Any] = {}
        self._lock = threading.Lock()

    # -- building the layers

    def _add(self, layer: str, ordinal: int | None, feature: _Feature) -> None:
        self._layers.setdefault((layer, ordinal), []).append(feature)

    def _areas(self, campus: Campus, to_srs: Transformer,
               level_ordinal: dict[str, int]) -> None:
        parcels = [] if campus.parcel is None else [campus.parcel]
        geoms = _transform_many([*parcels, *(g.geometry for g in campus.grounds),
                                 *(b.footprint for b in campus.buildings)], to_srs)
        n_parcel, n_grounds = len(parcels), len(campus.grounds)
        self._extent_geoms: list[BaseGeometry] = list(geoms)
        if parcels:
            self._add("parcel", None, _Feature(geoms[0], {}))
        for g, geom in zip(campus.grounds, geoms[n_parcel:n_parcel + n_grounds], strict=True):
            self._add("grounds", None, _Feature(geom, {"kind": g.kind.value}))
            if g.name and isinstance(geom, Polygon | MultiPolygon):
                self._add("grounds_labels", None, _Feature(geom, {"name": g.name}))
        levels_of: dict[str, set[int]] = {}
        for lv in campus.levels:
            levels_of.setdefault(lv.building_id, set()).add(lv.ordinal)
        for b, geom in zip(campus.buildings, geoms[n_parcel + n_grounds:], strict=True):
            geom = _oriented(geom)
            props = {"letter": b.short_name or b.id, "name": b.name if b.name != b.short_name
                     else ""}
            has = levels_of.get(b.id, set())
            self.buildings.append(_Feature(geom, props))
            self._add("footprints", None, _Feature(geom, {}))
            self._add("building_outlines", None, _Feature(geom, {}))
            self._add("building_labels", None, _Feature(geom, props))
            self._building_sides(geom, props)
            for o in self.ordinals:
                if o in has:
                    self._add("footprints", o, _Feature(geom, {}))
                    self._add("building_outlines", o, _Feature(geom, {}))
                else:
                    self._add("footprints_other", o, _Feature(geom, {}))
                self._add("building_labels", o, _Feature(geom, props))

    def _building_sides(self, geom: BaseGeometry, props: dict[str, Any]) -> None:
        """Where a zoomed-in map labels a building: above its north wall and below its south
        wall (``side`` -1 moves the label up, +1 down)."""
        minx, miny, maxx, maxy = geom.bounds
        cx = (minx + maxx) / 2.0
        for y, side in ((maxy, -1), (miny, 1)):
            self._add("building_sides", None, _Feature(Point(cx, y), {**props, "side": side}))

    def _rooms(self, campus: Campus, to_srs: Transformer, to_local: Transformer,
               local_to_srs: Transformer, level_ordinal: dict[str, int]) -> None:
        units = [u for u in campus.units if not u.geometry.is_empty]
        local = _transform_many([u.geometry for u in units], to_local)
        anchors = [room_label_point(g) for g in local]
        label_xy = _project_points(anchors, local_to_srs, "room label")
        geoms = _transform_many([u.geometry for u in units], to_srs)
        self.room_label_at: dict[str, tuple[float, float]] = {}
        for u, geom, room_local, at, xy in zip(units, geoms, local, anchors, label_xy,
                                               strict=True):
            if not isinstance(geom, Polygon | MultiPolygon):
                continue
            ordinal = level_ordinal[u.level_id]
            hallway = u.category.lower() in style.HALLWAY_CATEGORIES
            self._add("rooms", ordinal, _Feature(geom, {
                "kind": "approximate" if u.approximate else "hallway" if hallway else "room"}))
            texts = _room_label_texts(room_local, at, u.number, u.name, u.approximate, self.lat)
            self._add("room_labels", ordinal, _Feature(Point(xy), {"id": u.id, **texts}))
            if u.number or u.name:
                self.rooms_of.setdefault(ordinal, []).append(
                    RoomShape(u.id, u.number, " ".join(u.name.split()), geom, xy,
                              u.approximate))
            self.room_label_at[u.id] = xy

    def _marks(self, campus: Campus, to_srs: Transformer,
               level_ordinal: dict[str, int]) -> None:
        """Exterior doors and amenities per level (an amenity with no level: the ground floor),
        and on the overview the doors of every level and the outside amenities."""
        doors = [o for o in campus.openings if o.exterior]
        amenities = list(campus.amenities)
        xy = _project_points([d.geometry for d in doors] + [a.geometry for a in amenities],
                             to_srs, "door and amenity")
        for d, p in zip(doors, xy[:len(doors)], strict=True):
            props = {"number": d.number or "", "chars": min(len(d.number or ""), 4)}
            for ordinal in (level_ordinal[d.level_id], None):
                self._add("doors", ordinal, _Feature(Point(p), props))
        for a, p in zip(amenities, xy[len(doors):], strict=True):
            ordinal = 0 if a.level_id is None else level_ordinal.get(a.level_id)
            props = {"kind": a.kind.value}
            targets: list[int | None] = [ordinal] if ordinal in self.ordinals else []
            if a.kind in OVERVIEW_AMENITIES:
                targets.append(None)
            for o in targets:
                self._add("amenities", o, _Feature(Point(p), props))

    def _grid(self, campus: Campus, local_to_srs: Transformer) -> None:
        lines = _grid_lines_local(campus.grid)
        anchors = _grid_label_anchors(campus.grid)
        stacked = np.vstack([*lines, np.array([(a[0], a[1]) for a in anchors], dtype=float)])
        proj = _transform_xy(stacked, local_to_srs)
        pos = 0
        grid_lines: list[LineString] = []
        for ln in lines:
            grid_lines.append(LineString(proj[pos:pos + len(ln)]))
            pos += len(ln)
        self.grid_labels = [_GridLabel(float(proj[pos + k, 0]), float(proj[pos + k, 1]), a[2],
                                       a[3]) for k, a in enumerate(anchors)]
        for line in grid_lines:
            self._add("grid_lines", None, _Feature(line, {}))
        for g in self.grid_labels:
            layer = "cell_labels" if g.where == "corner" else "grid_edge_labels"
            self._add(layer, None, _Feature(Point(g.x, g.y), {"text": g.text,
                                                              "where": g.where}))
        self._extent_geoms.append(shapely.MultiLineString(grid_lines))

    def _extent(self) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = shapely.total_bounds(np.array(self._extent_geoms, dtype=object))
        return float(minx), float(miny), float(maxx), float(maxy)

    # -- what a map reads

    def features(self, layer: str, ordinal: int | None) -> list[_Feature]:
        """The features of ``layer`` on level ``ordinal`` (None: the overview)."""
        return self._layers.get((layer, None if layer in _SHARED_LAYERS else ordinal), [])

    def datasource(self, layer: str, ordinal: int | None) -> Any:
        """The Mapnik datasource of ``layer`` on ``ordinal``, or None when it has no features."""
        key = (layer, None if layer in _SHARED_LAYERS else ordinal)
        with self._lock:
            if key in self._datasources:
                return self._datasources[key]
            feats = self._layers.get(key, [])
            ds = None
            if feats:
                mapnik = mapnik_module()
                ds = mapnik.Datasource(type="geojson", inline=_collection(feats))
            self._datasources[key] = ds
            return ds


_features_cache: OrderedDict[tuple[int, str], tuple[Campus, CampusFeatures]] = OrderedDict()
_features_lock = threading.Lock()


def features_for(campus: Campus, srs: str) -> CampusFeatures:
    """The cached :class:`CampusFeatures` of this campus object in ``srs`` (a few are kept)."""
    key = (id(campus), srs)
    with _features_lock:
        hit = _features_cache.get(key)
        if hit is not None and hit[0] is campus:
            _features_cache.move_to_end(key)
            return hit[1]
    made = CampusFeatures(campus, srs)
    with _features_lock:
        _features_cache[key] = (campus, made)
        while len(_features_cache) > 8:
            _features_cache.popitem(last=False)
    return made


# --- paper's room labels -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaperLabel:
    """A label laid out for paper: its middle (map srs), text and size (pixels at 1x)."""

    x: float
    y: float
    text: str
    size: float


@dataclass(frozen=True, slots=True)
class PaperRoomLabels:
    """Where a printed sheet writes its room numbers and names, and the numbers it could not
    write anywhere in their rooms (the sheet lists those in a note)."""

    numbers: tuple[PaperLabel, ...]
    names: tuple[PaperLabel, ...]
    left_out: tuple[str, ...]


#: A number or name keeps this far (pixels at 1x) from its room's walls and other labels.
_PAPER_GAP_PX = 1.5
#: At most this many other places inside its room are tried for a number.
_PAPER_MAX_PLACES = 80


def _sizes(normal: float, smallest: float, step: float) -> list[float]:
    """``normal``, then smaller by ``step`` down to ``smallest`` (never below it)."""
    out = [normal]
    while out[-1] - step >= smallest - 1e-9:
        out.append(round(out[-1] - step, 3))
    return out


def _places_inside(shape: BaseGeometry, at: tuple[float, float], spacing: float) -> list[
        tuple[float, float]]:
    """Points inside ``shape`` on a grid of ``spacing``, nearest ``at`` first (the label
    point, then the point farthest from the walls, come first)."""
    part = _largest_part(shape)
    first: list[tuple[float, float]] = [at]
    if isinstance(part, Polygon):
        pole = polylabel(part, tolerance=spacing / 4.0)
        first.append((pole.x, pole.y))
    minx, miny, maxx, maxy = part.bounds
    nx = min(40, max(1, int((maxx - minx) / spacing)))
    ny = min(40, max(1, int((maxy - miny) / spacing)))
    xs, ys = np.meshgrid(np.linspace(minx, maxx, nx + 2)[1:-1],
                         np.linspace(miny, maxy, ny + 2)[1:-1])
    xy = np.column_stack([xs.ravel(), ys.ravel()])
    xy = xy[shapely.contains_xy(part, xy[:, 0], xy[:, 1])]
    order = np.argsort((xy[:, 0] - at[0]) ** 2 + (xy[:, 1] - at[1]) ** 2)[:_PAPER_MAX_PLACES]
    return first + [(float(x), float(y)) for x, y in xy[order]]


def print_room_labels(campus: Campus, view: MapView) -> PaperRoomLabels:
    """Paper's room labels of ``view`` (a level; ``purpose="print"``): every room's number,
    at its normal size on the point lookup answers with when it fits its room there, else
    smaller (down to :data:`style.PRINT_MIN_NUMBER_PT` on paper), else moved inside its room;
    then each room's name under its number wherever it fits (smaller allowed, down to
    :data:`style.PRINT_MIN_NAME_PT`), never over a number. Labels stay inside their rooms and
    off each other, so nothing is dropped by Mapnik's collisions."""
    return _paper_room_labels(features_for(campus, view.srs), view)


_paper_cache: OrderedDict[tuple[int, MapView], tuple[CampusFeatures, PaperRoomLabels]] = \
    OrderedDict()
_paper_lock = threading.Lock()


def _paper_room_labels(features: CampusFeatures, view: MapView) -> PaperRoomLabels:
    """:func:`_lay_out_paper_labels`, kept for the last few views (a book asks once for its
    sheet's note and once more to draw the sheet)."""
    key = (id(features), view)
    with _paper_lock:
        hit = _paper_cache.get(key)
        if hit is not None and hit[0] is features:
            return hit[1]
    made = _lay_out_paper_labels(features, view)
    with _paper_lock:
        _paper_cache[key] = (features, made)
        while len(_paper_cache) > 32:
            _paper_cache.popitem(last=False)
    return made


def _lay_out_paper_labels(features: CampusFeatures, view: MapView) -> PaperRoomLabels:
    if view.ordinal is None:
        return PaperRoomLabels((), (), ())
    sheet = shapely.box(*view.bbox)
    # srs units per pixel at 1x (Mapnik draws a pixel as scale_factor output units)
    unit = (view.bbox[2] - view.bbox[0]) / view.width * view.scale_factor
    z = style_zoom(view.zoom)
    sf = view.scale_factor
    step = style.PRINT_FONT_STEP_PT / sf
    number_sizes = _sizes(style.room_number_font_px(z), style.PRINT_MIN_NUMBER_PT / sf, step)
    name_sizes = _sizes(style.room_name_font_px(z), style.PRINT_MIN_NAME_PT / sf, step)
    gap = _PAPER_GAP_PX * unit
    taken: list[BaseGeometry] = []

    def box_at(x: float, y: float, w: float, h: float) -> BaseGeometry:
        hw, hh = w * unit / 2.0 + gap, h * unit / 2.0 + gap
        return shapely.box(x - hw, y - hh, x + hw, y + hh)

    def free(b: BaseGeometry, shape: BaseGeometry | None) -> bool:
        if shape is not None and not shapely.contains(shape, b):
            return False
        return not any(shapely.intersects(b, t) for t in taken)

    rooms: list[tuple[RoomShape, BaseGeometry | None]] = []
    for room in features.rooms_of.get(view.ordinal, []):
        if not room.geom.intersects(sheet):
            continue
        part = _prepared_copy(room.geom if sheet.contains(room.geom)
                              else room.geom.intersection(sheet))
        rooms.append((room, None if room.approximate else part))
    def room_width_px(shape: BaseGeometry | None) -> float:
        return (shape.bounds[2] - shape.bounds[0]) / unit if shape is not None else 1e9

    def name_block(room: RoomShape, shape: BaseGeometry | None,
                   number: PaperLabel | None) -> tuple[PaperLabel, BaseGeometry] | None:
        """The room's name, whole, at the largest size that fits: under its number (else a
        line or two lower), or on the label point (else a line or two off it) when the room
        has no number; off every label placed and every symbol's own spot."""
        for size in name_sizes:
            lines = wrap_name(room.name, size, room_width_px(shape) * 0.9)
            if " ".join(lines) != room.name:
                continue  # on paper a name is written whole or not at all
            w = max(text_width_px(t, size, False) for t in lines)
            h = len(lines) * size * LINE_HEIGHT
            line = size * LINE_HEIGHT * unit
            if number is not None:
                x = number.x
                y0 = number.y - (number.size / 2.0 + 2.0 * _PAPER_GAP_PX + 0.1 + h / 2.0) * unit
                ys = [y0, y0 - line, y0 - 2.0 * line]
            else:
                x, y = room.at
                ys = [y, y - line, y + line, y - 2.0 * line, y + 2.0 * line]
            for y in ys:
                b = box_at(x, y, w, h)
                if free(b, shape) and not any(shapely.intersects(b, o) for o in symbols_at):
                    return PaperLabel(x, y, "\n".join(lines), size), b
        return None

    symbols_at = [box_at(x, y, size, size)
                  for x, y, size in _symbol_spots(features, view.ordinal, z)]
    numbers: list[PaperLabel] = []
    placed: dict[str, PaperLabel] = {}
    left_out: list[str] = []
    for room, shape in rooms:
        if not room.number:
            continue
        spot = None
        places_near = [room.at]
        for rounds in (0, 1):
            if rounds == 1:
                if shape is None:
                    break
                places_near = _places_inside(shape, room.at,
                                             number_sizes[-1] * 0.6 * unit)
            for size in number_sizes:
                w, h = text_width_px(room.number, size, True), size
                for x, y in places_near:
                    b = box_at(x, y, w, h)
                    if free(b, shape):
                        spot = (PaperLabel(x, y, room.number, size), b)
                        break
                if spot:
                    break
            if spot:
                break
        if spot is None:
            if sheet.contains(Point(room.at)):
                left_out.append(room.number)
            continue
        numbers.append(spot[0])
        placed[room.id] = spot[0]
        taken.append(spot[1])
    names: list[PaperLabel] = []
    for room, shape in rooms:
        if not room.name:
            continue
        number = placed.get(room.id)
        if room.number and number is None:
            continue
        under = name_block(room, shape, number)
        if under is not None:
            names.append(under[0])
            taken.append(under[1])
    return PaperRoomLabels(tuple(numbers), tuple(names), tuple(left_out))


def _symbol_spots(features: CampusFeatures, ordinal: int,
                  z: int) -> list[tuple[float, float, float]]:
    """Each door and symbol drawn on a level: its point and size (pixels at 1x), as
    :func:`_shield` draws it: where it goes when its own spot is free."""
    out: list[tuple[float, float, float]] = []
    door_font = style.door_number_font_px(z)
    for f in features.features("doors", ordinal):
        radius = style.symbol_radius(style.DOOR, z)
        if z >= style.MIN_ZOOM_DOOR_NUMBERS and f.props["chars"]:
            radius = max(radius, door_font * 0.62 + 1.5)
        out.append((*f.geom.bounds[:2],
                    symbols.symbol_size_px(style.DOOR, radius, f.props["chars"])))
    for f in features.features("amenities", ordinal):
        kind = AmenityKind(f.props["kind"])
        sym = style.AMENITY_SYMBOLS.get(kind)
        if sym is None or not (kind in OVERVIEW_AMENITIES
                               or z >= style.MIN_ZOOM_INDOOR_AMENITIES):
            continue
        out.append((*f.geom.bounds[:2], symbols.symbol_size_px(
            sym, style.symbol_radius(sym, z), len(sym.text))))
    return out


def _paper_collection(labels: Sequence[PaperLabel]) -> list[_Feature]:
    return [_Feature(Point(lb.x, lb.y), {"text": lb.text, "size": lb.size}) for lb in labels]


def _inline(collection: list[_Feature]) -> Any:
    """A Mapnik datasource of these features, or None when there are none (Mapnik does not
    read an empty collection)."""
    if not collection:
        return None
    return mapnik_module().Datasource(type="geojson", inline=_collection(collection))


def _building_names(features: CampusFeatures, view: MapView) -> list[_Feature]:
    """The printed overview's building names: a point at each building's south wall, with how
    far (pixels at 1x) the name moves to go above the north wall or beside the walls."""
    unit = (view.bbox[2] - view.bbox[0]) / view.width * view.scale_factor
    b_name = style.building_name_font_px(style_zoom(view.zoom))
    out = []
    for f in features.buildings:
        if not f.props["name"]:
            continue
        minx, miny, maxx, maxy = f.geom.bounds
        height, width = (maxy - miny) / unit, (maxx - minx) / unit
        name_w = min(text_width_px(f.props["name"], b_name, True),
                     style.PRINT_BUILDING_NAME_WRAP_PX)
        side = width / 2.0 + name_w / 2.0 + 6.0
        out.append(_Feature(Point((minx + maxx) / 2.0, miny), {
            "name": f.props["name"], "up": round(-(height + b_name * 1.5 + 10.0), 1),
            "right": round(side, 1), "left": round(-side, 1),
            "middle": round(-height / 2.0, 1)}))
    return out


# --- the style, as Mapnik XML --------------------------------------------------------------------


def _c(c: RGBA) -> str:
    return f"rgba({c[0]},{c[1]},{c[2]},{c[3] / 255:.3f})"


def _attrs(**kw: object) -> str:
    return " ".join(f"{k.replace('_', '-')}={quoteattr(str(v))}" for k, v in kw.items())


def _text(content: str, **kw: object) -> str:
    return f"<TextSymbolizer {_attrs(**kw)}>{content}</TextSymbolizer>"


def _rule(body: str, filter_: str | None = None) -> str:
    f = f"<Filter>{escape(filter_)}</Filter>" if filter_ else ""
    return f"<Rule>{f}{body}</Rule>"


def _style(name: str, rules: Iterable[str]) -> str:
    return f'<Style name="{name}">{"".join(rules)}</Style>'


#: Where a symbol may go, in order: on its point, then beside it (in symbol widths).
_SYMBOL_STEPS = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1),
                 (2, 0), (-2, 0), (0, -2), (0, 2))


def _symbol_placements(size: float) -> str:
    """Mapnik list placements: the symbol on its point if free, else the nearest free spot
    around it (so it never covers a room number placed before it)."""
    step = size + 2.0
    return "".join(f'<Placement dx="{dx * step:.1f}" dy="{dy * step:.1f}"/>'
                   for dx, dy in _SYMBOL_STEPS)


def _shield(sym: Symbol, z: int, text_expr: str, chars: int, min_text_zoom: int,
            font_px: float | None = None, *, on_paper: bool = False,
            inside: bool = False) -> str:
    """A symbol with its code (or door number) inside, moved off its point when that is taken.

    ``font_px`` fixes the text size (door numbers) and the symbol grows to hold it.
    ``on_paper`` (the printed campus overview): the code or number is written at every zoom and
    the symbol moves beside its point when that is taken (a printed door keeps its number).
    ``inside`` (paper): a symbol is never placed across the map's edge, where the sheet would
    cut it."""
    radius = style.symbol_radius(sym, z)
    show_text = (z >= min_text_zoom or on_paper) and bool(text_expr)
    if font_px is not None and show_text:
        radius = max(radius, font_px * 0.62 + 1.5)
    path = symbols.symbol_file(sym, radius, chars)
    size = symbols.symbol_size_px(sym, radius, chars)
    if show_text:
        font = font_px or max(7.0, round(radius * (1.15 if chars <= 1 else 0.95 if chars == 2
                                                   else 0.75)))
        content = text_expr
    else:
        font, content = 1.0, "' '"
    # zoomed out, a symbol moved by two of its widths would mark another building: there it
    # stays on its point (or is left out when that is taken)
    moves = z >= style.MIN_ZOOM_SYMBOL_MOVES or on_paper
    options = _attrs(file=path, face_name=style.FONT_BOLD, size=font, fill=_c(sym.text_colour),
                     placement_type="list" if moves else "dummy", allow_overlap="false",
                     unlock_image="false", **({"avoid_edges": "true"} if inside else {}))
    places = _symbol_placements(size) if moves else ""
    return f"<ShieldSymbolizer {options}>{content}{places}</ShieldSymbolizer>"


def _label_styles(z: int, overview: bool, purpose: str = "tile") -> list[str]:
    halo = style.HALO_WIDTH
    n_px, m_px = style.room_number_font_px(z), style.room_name_font_px(z)
    label = {"fill": _c(style.LABEL_COLOUR), "halo_fill": _c(style.LABEL_HALO),
             "halo_radius": halo, "allow_overlap": "false", "margin": 1}
    n, m = f"[n{z}]", f"[m{z}]"

    def number_rules(label: dict[str, object]) -> list[str]:
        return [_rule(_text(n, face_name=style.FONT_BOLD, size=n_px, dy=f"[dn{z}]",
                            vertical_alignment="middle", **label), f"{n} != ''")]

    def name_rules(label: dict[str, object]) -> list[str]:
        moves = "".join(f'<Placement dy="[dm{z}] + [s{k}{z}]"/>' for k in (1, 2)) + "".join(
            f'<Placement dx="[{side}{z}]"/>' for side in ("r", "l"))
        return [_rule(_text(m + moves, face_name=style.FONT_REGULAR, size=m_px,
                            dy=f"[dm{z}]", vertical_alignment="middle",
                            placement_type="list", **label), f"{m} != ''")]

    b_letter, b_name = style.building_letter_font_px(z), style.building_name_font_px(z)
    b_label = {"fill": _c(style.BUILDING_LABEL_COLOUR), "halo_fill": _c(style.BUILDING_LABEL_HALO),
               "halo_radius": halo, "allow_overlap": "false"}
    with_name = z >= style.MIN_ZOOM_BUILDING_NAMES
    paper_overview = overview and purpose == "print"
    if paper_overview:  # the letter in the footprint; the name beside it (building_names)
        building = _text("[letter]", face_name=style.FONT_BOLD, size=b_letter,
                         placement="interior", **b_label)
    elif z < style.MIN_ZOOM_BUILDING_SIDES or overview:
        name = (f"<Format {_attrs(face_name=style.FONT_BOLD, size=b_name)}>'&#10;' + [name]"
                "</Format>")
        # the letter alone when letter and name do not fit among the neighbours
        building = _text("[letter]" + (f"{name}<Placement>[letter]</Placement>" if with_name
                                       else ""),
                         face_name=style.FONT_BOLD, size=b_letter, placement="interior",
                         placement_type="list" if with_name else "dummy", wrap_width=160,
                         **b_label)
    else:  # above the north wall and below the south wall, outside the plan
        building = _text("'Building ' + [letter] + '  ·  ' + [name]", face_name=style.FONT_BOLD,
                         size=b_name, dy=f"[side] * {b_name * 0.5 + 5}", **b_label)
    door = style.DOOR
    door_rules = [
        _rule(_shield(door, z, "[number]", chars, style.MIN_ZOOM_DOOR_NUMBERS,
                      style.door_number_font_px(z), on_paper=paper_overview,
                      inside=purpose == "print"),
              f"[chars] = {chars}") for chars in range(0, 5)]
    amenity_rules = [
        _rule(_shield(sym, z, f"'{sym.text}'", len(sym.text), style.MIN_ZOOM_AMENITY_CODES,
                      on_paper=paper_overview, inside=purpose == "print"),
              f"[kind] = '{kind.value}'") for kind, sym in style.AMENITY_SYMBOLS.items()
        if kind in OVERVIEW_AMENITIES or z >= style.MIN_ZOOM_INDOOR_AMENITIES]
    edge_px = style.grid_edge_font_px(z)
    gap = 4 + edge_px / 2.0
    grid_label = {"face_name": style.FONT_BOLD, "size": edge_px,
                  "fill": _c(style.GRID_LABEL_COLOUR), "halo_fill": _c(style.GRID_LABEL_HALO),
                  "halo_radius": halo, "allow_overlap": "false"}
    offsets = {"top": (0, -gap), "bottom": (0, gap), "left": (-gap - edge_px * 0.3, 0),
               "right": (gap + edge_px * 0.3, 0)}
    edge_rules = [_rule(_text("[text]", dx=dx, dy=dy, **grid_label), f"[where] = '{where}'")
                  for where, (dx, dy) in offsets.items()]
    corner_px = style.cell_corner_font_px(z)
    corner_rules = [_rule(_text("[text]", face_name=style.FONT_BOLD, size=corner_px,
                                fill=_c(style.GRID_LABEL_COLOUR),
                                halo_fill=_c(style.GRID_LABEL_HALO), halo_radius=halo,
                                dx=4, dy=4, horizontal_alignment="right",
                                vertical_alignment="bottom", allow_overlap="false"))]
    g_px = style.grounds_font_px(z)
    grounds_rules = [_rule(_text("[name]", face_name=style.FONT_REGULAR, size=g_px,
                                 fill=_c(style.GROUNDS_LABEL_COLOUR),
                                 halo_fill="rgba(255,255,255,0.7)", halo_radius=1.5,
                                 placement="interior", wrap_width=g_px * 9,
                                 allow_overlap="false"))]
    # without room labels the map keeps their places (invisible), so nothing else moves
    hidden = {**label, "opacity": 0, "halo_opacity": 0}
    out = [_style("room_numbers", number_rules(label)),
           _style("room_numbers_hidden", number_rules(hidden)),
           _style("room_names", name_rules(label)),
           _style("room_names_hidden", name_rules(hidden)),
           _style("building_labels", [_rule(building)]),
           _style("doors", door_rules), _style("amenities", amenity_rules),
           _style("grid_edge_labels", edge_rules)]
    if purpose == "print":
        out += _paper_label_styles(label, hidden, b_name, b_label)
    if z >= style.MIN_ZOOM_CELL_LABELS:
        out.append(_style("cell_labels", corner_rules))
    if z >= style.MIN_ZOOM_GROUNDS_LABELS:
        out.append(_style("grounds_labels", grounds_rules))
    return out


def _paper_label_styles(label: dict[str, object], hidden: dict[str, object], b_name: float,
                        b_label: dict[str, object]) -> list[str]:
    """Paper's room labels, laid out beforehand (:func:`print_room_labels`): each at its own
    point and size. A number is always drawn (its place was found free; symbols placed after
    it still keep off it); a name gives way to a symbol or a door."""
    def numbers(label: dict[str, object]) -> list[str]:
        return [_rule(_text("[text]", face_name=style.FONT_BOLD, size="[size]",
                            vertical_alignment="middle",
                            **{**label, "allow_overlap": "true", "margin": 0}))]

    def names(label: dict[str, object]) -> list[str]:
        return [_rule(_text("[text]", face_name=style.FONT_REGULAR, size="[size]",
                            vertical_alignment="middle", **{**label, "margin": 0}))]

    # a building's name on the overview: under its south wall, else above its north wall,
    # else beside it (``up``/``right``/``left``: pixels from the south wall's middle)
    moves = "".join(f'<Placement {where}/>' for where in (
        'dy="[up]"', 'dx="[right]" dy="[middle]"', 'dx="[left]" dy="[middle]"'))
    building_names = _text("[name]" + moves, face_name=style.FONT_BOLD, size=b_name,
                           dy=b_name * 0.5 + 5, placement_type="list",
                           wrap_width=style.PRINT_BUILDING_NAME_WRAP_PX, **b_label)
    return [_style("paper_room_numbers", numbers(label)),
            _style("paper_room_numbers_hidden", numbers(hidden)),
            _style("paper_room_names", names(label)),
            _style("paper_room_names_hidden", names(hidden)),
            _style("building_names", [_rule(building_names)])]


def _area_styles(overview: bool) -> list[str]:
    def fill_line(fill: RGBA | None, line: RGBA | None, width: float,
                  dash: tuple[float, float] | None = None) -> str:
        out = ""
        if fill is not None:
            out += f'<PolygonSymbolizer {_attrs(fill=_c(fill), gamma=0.6)}/>'
        if line is not None:
            extra = {"stroke_dasharray": f"{dash[0]},{dash[1]}"} if dash else {}
            out += (f"<LineSymbolizer {_attrs(stroke=_c(line), stroke_width=width, **extra)}/>")
        return out

    grounds = [_rule(fill_line(colour, style.GROUNDS_OUTLINE, 1.0), f"[kind] = '{kind.value}'")
               for kind, colour in style.GROUNDS_FILL.items()]
    rooms = [
        _rule(fill_line(None, style.APPROXIMATE_OUTLINE, style.ROOM_WIDTH,
                        style.APPROXIMATE_DASH), "[kind] = 'approximate'"),
        _rule(fill_line(style.HALLWAY_FILL, style.ROOM_OUTLINE, style.ROOM_WIDTH),
              "[kind] = 'hallway'"),
        _rule(fill_line(style.ROOM_FILL, style.ROOM_OUTLINE, style.ROOM_WIDTH), "[kind] = 'room'"),
    ]
    return [
        _style("parcel", [_rule(fill_line(style.PARCEL_FILL, style.PARCEL_OUTLINE,
                                          style.PARCEL_WIDTH))]),
        _style("grounds", grounds),
        _style("footprints_other", [_rule(fill_line(style.OTHER_LEVEL_FILL,
                                                    style.OTHER_LEVEL_OUTLINE, 1.5))]),
        _style("footprints", [_rule(fill_line(style.BUILDING_FILL,
                                              style.BUILDING_OUTLINE if overview else None,
                                              style.BUILDING_WIDTH))]),
        _style("rooms", rooms),
        _style("building_outlines", [_rule(fill_line(None, style.BUILDING_OUTLINE,
                                                     style.BUILDING_WIDTH))]),
        _style("grid_lines", [_rule(f"<LineSymbolizer {_attrs(stroke=_c(style.GRID_COLOUR), stroke_width=style.GRID_WIDTH)}/>")]),  # noqa: E501
        _style("imagery", [_rule('<RasterSymbolizer scaling="bilinear"/>')]),
        _style("campus_dot", [_rule(f"<MarkersSymbolizer {_attrs(marker_type='ellipse', width=8, height=8, fill=_c(style.GRID_COLOUR), stroke='white', stroke_width=1.5, allow_overlap='true')}/>")]),  # noqa: E501
    ]


_xml_cache: dict[tuple[int, bool, str], str] = {}
_xml_lock = threading.Lock()


def style_xml(z: int, overview: bool, purpose: str = "tile") -> str:
    """The Mapnik style sheet (styles only; layers are added in code) of style zoom ``z``
    (``purpose`` "print" adds paper's own label styles)."""
    key = (z, overview, purpose)
    with _xml_lock:
        hit = _xml_cache.get(key)
    if hit is not None and all(Path(p).is_file() for p in _symbol_paths(hit)):
        return hit
    xml = ('<Map background-color="transparent">'
           + "".join(_area_styles(overview)) + "".join(_label_styles(z, overview, purpose))
           + "</Map>")
    with _xml_lock:
        _xml_cache[key] = xml
    return xml


def _symbol_paths(xml: str) -> list[str]:
    return [part.split('"', 1)[0] for part in xml.split(' file="')[1:]]


# --- building and drawing maps -------------------------------------------------------------------


def _layers_for(view: MapView, names: Sequence[str]) -> list[str]:
    """The layers ``view`` draws, in drawing (and label priority) order."""
    z = view.zoom
    names = list(names)
    if (style_zoom(z) < style.MIN_ZOOM_BUILDING_SIDES and "building_labels" in names
            and "room_numbers" in names):
        # zoomed out, a building's letter and name come first: they must show at every zoom
        names.remove("building_labels")
        names.insert(names.index("room_numbers"), "building_labels")
    numbered_doors = view.purpose == "print" and view.ordinal is None
    if (style_zoom(z) < style.MIN_ZOOM_DOOR_NUMBERS and not numbered_doors
            and "amenities" in names and "doors" in names):
        # an unnumbered door dot gives way to a Knox box or a shutoff beside it (a printed
        # overview numbers its doors: there the door keeps its spot and the symbol moves)
        names.remove("amenities")
        names.insert(names.index("doors"), "amenities")
    out: list[str] = []
    for name in names:
        if name in ("grid_lines",) and not view.grid:
            continue
        if name in ("grid_edge_labels", "cell_labels") and not (view.grid and view.grid_labels):
            continue
        if view.ordinal is None and name in ("rooms", "room_numbers", "room_names",
                                             "footprints_other",
                                             "building_outlines"):
            continue
        if name == "cell_labels" and round(z) < style.MIN_ZOOM_CELL_LABELS:
            continue
        if name == "grounds_labels" and round(z) < style.MIN_ZOOM_GROUNDS_LABELS:
            continue
        out.append(name)
    return out


def _build_map(features: CampusFeatures, view: MapView,
               layer_names: Sequence[str] = LEVEL_LAYERS) -> mapnik.Map:
    mapnik = mapnik_module()
    m = mapnik.Map(view.width, view.height, features.srs)
    overview = view.ordinal is None
    mapnik.load_map_from_string(m, style_xml(style_zoom(view.zoom), overview, view.purpose))
    m.srs = features.srs
    m.buffer_size = round(BUFFER_PX * view.scale_factor) if view.purpose == "tile" else 0
    if view.imagery is not None:
        layer = mapnik.Layer("imagery", "epsg:3857")
        layer.datasource = mapnik.Datasource(type="gdal", file=str(view.imagery))
        layer.styles.append("imagery")
        m.layers.append(layer)
    if view.zoom < style.MIN_ZOOM_PLAN:
        dot = mapnik.Datasource(type="geojson", inline=_collection(
            [_Feature(Point(features.centre), {})]))
        layer = mapnik.Layer("campus_dot", features.srs)
        layer.datasource = dot
        layer.styles.append("campus_dot")
        m.layers.append(layer)
        return m
    sides = style_zoom(view.zoom) >= style.MIN_ZOOM_BUILDING_SIDES and not overview
    paper = view.purpose == "print"
    names = _layers_for(view, layer_names)
    if paper and overview and "building_labels" in names:
        names.insert(names.index("building_labels") + 1, "building_names")
    paper_labels = (_paper_room_labels(features, view)
                    if paper and _ROOM_LABEL_LAYERS & set(names) else None)
    for name in names:
        source = ("building_sides" if name == "building_labels" and sides
                  else "room_labels" if name in _ROOM_LABEL_LAYERS else name)
        style_name = name
        if name == "building_names":
            ds = _inline(_building_names(features, view))
        elif paper_labels is not None and name in _ROOM_LABEL_LAYERS:
            ds = _inline(_paper_collection(
                paper_labels.numbers if name == "room_numbers" else paper_labels.names))
            style_name = f"paper_{name}"
        else:
            ds = features.datasource(source, view.ordinal)
        if ds is None:
            continue
        layer = mapnik.Layer(name, features.srs)
        layer.datasource = ds
        hide = name in _ROOM_LABEL_LAYERS and not view.room_labels
        layer.styles.append(f"{style_name}_hidden" if hide else style_name)
        m.layers.append(layer)
    return m


def campus_map(campus: Campus, view: MapView) -> mapnik.Map:
    """A new Mapnik map of ``view``, zoomed to its box (the caller may add layers)."""
    mapnik = mapnik_module()
    m = _build_map(features_for(campus, view.srs), view)
    m.zoom_to_box(mapnik.Box2d(*view.bbox))
    return m


_maps = threading.local()
_MAPS_PER_THREAD = 24


def _cached_map(features: CampusFeatures, view: MapView,
                layer_names: Sequence[str]) -> mapnik.Map:
    """A map of this shape for this thread (Mapnik maps are not shared between threads)."""
    cache: OrderedDict[tuple[Any, ...], tuple[CampusFeatures, mapnik.Map]] | None = getattr(
        _maps, "cache", None)
    if cache is None:
        cache = _maps.cache = OrderedDict()
    key = (id(features), view.ordinal, style_zoom(view.zoom), view.zoom < style.MIN_ZOOM_PLAN,
           round(view.zoom) >= style.MIN_ZOOM_CELL_LABELS,
           round(view.zoom) >= style.MIN_ZOOM_GROUNDS_LABELS, view.imagery, view.purpose,
           view.grid, view.grid_labels, view.room_labels, view.width, view.height,
           tuple(layer_names))
    hit = cache.get(key)
    if hit is not None and hit[0] is features:
        cache.move_to_end(key)
        return hit[1]
    m = _build_map(features, view, layer_names)
    cache[key] = (features, m)
    while len(cache) > _MAPS_PER_THREAD:
        cache.popitem(last=False)
    return m


def render_features_png(features: CampusFeatures, view: MapView,
                        layer_names: Sequence[str] = LEVEL_LAYERS) -> bytes:
    """PNG bytes of ``view`` drawn from already projected ``features``."""
    mapnik = mapnik_module()
    m = _cached_map(features, view, layer_names)
    m.zoom_to_box(mapnik.Box2d(*view.bbox))
    image = mapnik.Image(view.width, view.height)
    mapnik.render(m, image, view.scale_factor)
    png: bytes = image.to_string("png32:z=1")
    return png


def render_png(campus: Campus, view: MapView) -> bytes:
    """PNG bytes of ``view`` of ``campus`` (transparent where nothing is drawn)."""
    return render_features_png(features_for(campus, view.srs), view)


def render_pdf(campus: Campus, view: MapView) -> bytes:
    """A one-page vector PDF of ``view``, ``width`` x ``height`` points, text kept as text."""
    import tempfile

    mapnik = mapnik_module()
    m = campus_map(campus, view)
    with tempfile.TemporaryDirectory(prefix="gridmap-pdf-") as tmp:
        path = Path(tmp) / "map.pdf"
        mapnik.render_to_file(m, str(path), "pdf", view.scale_factor)
        return path.read_bytes()
