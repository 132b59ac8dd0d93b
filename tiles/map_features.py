"""A campus projected once per spatial reference for Mapnik (:class:`CampusFeatures`,
:func:`features_for`): rooms and where each room's label fits at each zoom, footprints, doors,
symbols, grounds and the grid, as in-memory GeoJSON datasources by layer and level.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from gridmap import grid as gridlib
from gridmap.errors import InvalidModel
from gridmap.model import Campus, GridSpec
from tiles import style
from tiles.map_view import (
    LINE_HEIGHT,
    OVERVIEW_AMENITIES,
    ground_resolution,
    mapnik_module,
    text_width_px,
    wrap_name,
)

if TYPE_CHECKING:
    pass

#: Grid lines are densified to this many vertices per cell edge before projecting.
_GRID_DENSIFY_PER_CELL = 8

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


def largest_part(geom: BaseGeometry) -> BaseGeometry:
    if isinstance(geom, MultiPolygon):
        return max(geom.geoms, key=lambda part: part.area)
    return geom


def prepared_copy(geom: BaseGeometry) -> BaseGeometry:
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
    part = largest_part(room_local)
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
    part = prepared_copy(largest_part(room))
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
class MapFeature:
    geom: BaseGeometry
    props: dict[str, Any]


def feature_collection(features: Iterable[MapFeature]) -> str:
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
ROOM_LABEL_LAYERS = frozenset({"room_numbers", "room_names"})


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
        self._layers: dict[tuple[str, int | None], list[MapFeature]] = {}
        #: every building's footprint (in srs) with its letter and name
        self.buildings: list[MapFeature] = []
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

    def _add(self, layer: str, ordinal: int | None, feature: MapFeature) -> None:
        self._layers.setdefault((layer, ordinal), []).append(feature)

    def _areas(self, campus: Campus, to_srs: Transformer,
               level_ordinal: dict[str, int]) -> None:
        parcels = [] if campus.parcel is None else [campus.parcel]
        geoms = _transform_many([*parcels, *(g.geometry for g in campus.grounds),
                                 *(b.footprint for b in campus.buildings)], to_srs)
        n_parcel, n_grounds = len(parcels), len(campus.grounds)
        self._extent_geoms: list[BaseGeometry] = list(geoms)
        if parcels:
            self._add("parcel", None, MapFeature(geoms[0], {}))
        for g, geom in zip(campus.grounds, geoms[n_parcel:n_parcel + n_grounds], strict=True):
            self._add("grounds", None, MapFeature(geom, {"kind": g.kind.value}))
            if g.name and isinstance(geom, Polygon | MultiPolygon):
                self._add("grounds_labels", None, MapFeature(geom, {"name": g.name}))
        levels_of: dict[str, set[int]] = {}
        for lv in campus.levels:
            levels_of.setdefault(lv.building_id, set()).add(lv.ordinal)
        for b, geom in zip(campus.buildings, geoms[n_parcel + n_grounds:], strict=True):
            geom = _oriented(geom)
            props = {"letter": b.short_name or b.id, "name": b.name if b.name != b.short_name
                     else ""}
            has = levels_of.get(b.id, set())
            self.buildings.append(MapFeature(geom, props))
            self._add("footprints", None, MapFeature(geom, {}))
            self._add("building_outlines", None, MapFeature(geom, {}))
            self._add("building_labels", None, MapFeature(geom, props))
            self._building_sides(geom, props)
            for o in self.ordinals:
                if o in has:
                    self._add("footprints", o, MapFeature(geom, {}))
                    self._add("building_outlines", o, MapFeature(geom, {}))
                else:
                    self._add("footprints_other", o, MapFeature(geom, {}))
                self._add("building_labels", o, MapFeature(geom, props))

    def _building_sides(self, geom: BaseGeometry, props: dict[str, Any]) -> None:
        """Where a zoomed-in map labels a building: above its north wall and below its south
        wall (``side`` -1 moves the label up, +1 down)."""
        minx, miny, maxx, maxy = geom.bounds
        cx = (minx + maxx) / 2.0
        for y, side in ((maxy, -1), (miny, 1)):
            self._add("building_sides", None, MapFeature(Point(cx, y), {**props, "side": side}))

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
            self._add("rooms", ordinal, MapFeature(geom, {
                "kind": "approximate" if u.approximate else "hallway" if hallway else "room"}))
            texts = _room_label_texts(room_local, at, u.number, u.name, u.approximate, self.lat)
            self._add("room_labels", ordinal, MapFeature(Point(xy), {"id": u.id, **texts}))
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
                self._add("doors", ordinal, MapFeature(Point(p), props))
        for a, p in zip(amenities, xy[len(doors):], strict=True):
            ordinal = 0 if a.level_id is None else level_ordinal.get(a.level_id)
            props = {"kind": a.kind.value}
            targets: list[int | None] = [ordinal] if ordinal in self.ordinals else []
            if a.kind in OVERVIEW_AMENITIES:
                targets.append(None)
            for o in targets:
                self._add("amenities", o, MapFeature(Point(p), props))

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
            self._add("grid_lines", None, MapFeature(line, {}))
        for g in self.grid_labels:
            layer = "cell_labels" if g.where == "corner" else "grid_edge_labels"
            self._add(layer, None, MapFeature(Point(g.x, g.y), {"text": g.text,
                                                              "where": g.where}))
        self._extent_geoms.append(shapely.MultiLineString(grid_lines))

    def _extent(self) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = shapely.total_bounds(np.array(self._extent_geoms, dtype=object))
        return float(minx), float(miny), float(maxx), float(maxy)

    # -- what a map reads

    def features(self, layer: str, ordinal: int | None) -> list[MapFeature]:
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
                ds = mapnik.Datasource(type="geojson", inline=feature_collection(feats))
            self._datasources[key] = ds
            return ds


V = TypeVar("V")


class KeptFor(Generic[V]):
    """The last few things made for an object and a detail (a projection, a view), the least
    recently asked for dropped first; thread-safe. The object is held with what was made for
    it, so its ``id`` cannot be reused while kept."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._kept: OrderedDict[tuple[int, Hashable], tuple[object, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, owner: object, detail: Hashable, make: Callable[[], V]) -> V:
        """What was made for ``owner`` and ``detail``, else ``make()`` (kept)."""
        key = (id(owner), detail)
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None and hit[0] is owner:
                self._kept.move_to_end(key)
                return hit[1]
        made = make()
        with self._lock:
            self._kept[key] = (owner, made)
            while len(self._kept) > self._keep:
                self._kept.popitem(last=False)
        return made


_features: KeptFor[CampusFeatures] = KeptFor(8)


def features_for(campus: Campus, srs: str) -> CampusFeatures:
    """The cached :class:`CampusFeatures` of this campus object in ``srs`` (a few are kept)."""
    return _features.get(campus, srs, lambda: CampusFeatures(campus, srs))
