"""Room labels laid out for paper before Mapnik draws (:func:`print_room_labels`): every room's
number at its normal size where it fits, else smaller, else moved inside its room, and only
when nothing fits listed for the sheet's "numbers not shown" note; then names under their
numbers wherever they fit, never over a number or a symbol's spot. Building names for the
printed overview.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from gridmap.model import AmenityKind, Campus
from tiles import style, symbols
from tiles.map_features import (
    CampusFeatures,
    KeptFor,
    MapFeature,
    RoomShape,
    feature_collection,
    features_for,
    largest_part,
    prepared_copy,
)
from tiles.map_view import (
    LINE_HEIGHT,
    OVERVIEW_AMENITIES,
    MapView,
    mapnik_module,
    style_zoom,
    text_width_px,
    wrap_name,
)

if TYPE_CHECKING:
    pass

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
    part = largest_part(shape)
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
    return paper_room_labels(features_for(campus, view.srs), view)


_paper_labels: KeptFor[PaperRoomLabels] = KeptFor(32)


def paper_room_labels(features: CampusFeatures, view: MapView) -> PaperRoomLabels:
    """:func:`_lay_out_paper_labels`, kept for the last few views (a book asks once for its
    sheet's note and once more to draw the sheet)."""
    return _paper_labels.get(features, view, lambda: _lay_out_paper_labels(features, view))


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
        part = prepared_copy(room.geom if sheet.contains(room.geom)
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


def paper_collection(labels: Sequence[PaperLabel]) -> list[MapFeature]:
    return [MapFeature(Point(lb.x, lb.y), {"text": lb.text, "size": lb.size}) for lb in labels]


def inline_datasource(collection: list[MapFeature]) -> Any:
    """A Mapnik datasource of these features, or None when there are none (Mapnik does not
    read an empty collection)."""
    if not collection:
        return None
    return mapnik_module().Datasource(type="geojson", inline=feature_collection(collection))


def building_name_features(features: CampusFeatures, view: MapView) -> list[MapFeature]:
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
        out.append(MapFeature(Point((minx + maxx) / 2.0, miny), {
            "name": f.props["name"], "up": round(-(height + b_name * 1.5 + 10.0), 1),
            "right": round(side, 1), "left": round(-side, 1),
            "middle": round(-height / 2.0, 1)}))
    return out
