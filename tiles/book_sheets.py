"""What goes on which page of the printed map book: paper sizes, map sheets and their scales.

Pure planning (no drawing): :func:`plan_map_sheets` picks, for the campus overview and for each
building level, the part of the campus (in the campus's projected CRS, true north up) a sheet
shows and the scale it is printed at. Level sheets use the largest scale at which the whole
building fits, down to :data:`MIN_LEGIBLE_SCALE`; a building too large for one sheet at that
scale is split across sheets (with an overlap, and a key map on each, drawn by
:mod:`tiles.book_pages`). Every sheet shares the campus grid, so a cell is the same cell on the
overview and on every level sheet.

Page coordinates are PDF points (1/72 inch), origin at the bottom left of the page.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

from gridmap import grid as gridlib
from gridmap.crs import LocalFrame
from gridmap.errors import InvalidQuery, LevelNotFound
from gridmap.model import Building, Campus

PaperSize = Literal["letter", "tabloid", "arch-d"]

#: Paper sizes, landscape (width, height) in points: US Letter, Tabloid (ANSI B) and ARCH D.
PAPER_SIZES: dict[str, tuple[float, float]] = {
    "letter": (11.0 * 72, 8.5 * 72),
    "tabloid": (17.0 * 72, 11.0 * 72),
    "arch-d": (36.0 * 72, 24.0 * 72),
}

POINTS_PER_METRE = 72.0 / 0.0254
#: Level sheets are never printed smaller than 1:600 (a 3 m store room is 5 mm across, room
#: for its number); larger buildings are split across sheets instead.
MIN_LEGIBLE_SCALE = 600
#: The largest scale worth printing a level at: beyond it a sheet only grows the paper.
MAX_LEVEL_SCALE = 100
#: Split sheets of one level overlap by this much, metres, so a room on the cut is whole on one.
SHEET_OVERLAP_M = 6.0
#: A level sheet shows this much around the building's outline, metres (doors, Knox boxes).
BUILDING_MARGIN_M = 6.0


class Rect(NamedTuple):
    """A rectangle on the page, points."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True, slots=True)
class PageLayout:
    """Where things go on a map page of one paper size (see :func:`page_layout`)."""

    size: PaperSize
    width: float
    height: float
    #: text and symbol size factor against Letter (larger paper is read from further away)
    k: float
    margin: float
    title: Rect
    panel: Rect
    #: the largest map frame, grid label bands excluded
    map_area: Rect
    label_band: float


@lru_cache(maxsize=16)
def campus_frame(crs: str) -> LocalFrame:
    """One :class:`LocalFrame` per campus CRS for the whole book: building its pyproj
    transformers costs tens of milliseconds each time."""
    return LocalFrame(crs)


def paper_size(size: str) -> PaperSize:
    """The paper size named, or :class:`InvalidQuery` naming the ones there are."""
    if size not in PAPER_SIZES:
        raise InvalidQuery(f"unknown paper size {size!r}; choose one of "
                           f"{', '.join(PAPER_SIZES)}")
    return size  # type: ignore[return-value]  # checked against the literal's values


def page_layout(size: PaperSize) -> PageLayout:
    """Title band across the top, a side panel (north arrow, scale, legend, key map) on the
    right, and the map frame with its grid label bands on all four sides in between: nothing
    of the page furniture lies over the map."""
    width, height = PAPER_SIZES[size]
    k = min(height / PAPER_SIZES["letter"][1], 2.0)
    margin = 0.375 * 72
    title_h = 46.0 * k
    panel_w = 168.0 * k
    band = 15.0 * k
    gap = 8.0 * k
    title = Rect(margin, height - margin - title_h, width - margin, height - margin)
    panel = Rect(width - margin - panel_w, margin, width - margin, title.y0 - gap)
    map_area = Rect(margin + band, margin + band, panel.x0 - gap - band, title.y0 - gap - band)
    return PageLayout(size, width, height, k, margin, title, panel, map_area, band)


@dataclass(frozen=True, slots=True)
class MapSheet:
    """One map page: what it shows (in the campus CRS, metres), at what scale, and where."""

    title: str
    ordinal: int | None  # None: the campus overview
    building_id: str | None
    bbox: gridlib.Bounds
    scale: int  # the sheet is printed at 1:scale
    frame: Rect  # where the map is drawn on the page, points
    #: the Web Mercator zoom whose detail matches this scale (see :func:`web_mercator_zoom`)
    zoom: float = 18.0
    #: how much larger than on Letter the map's text and symbols are (larger paper is read
    #: from further away): the page layout's ``k``
    symbol_scale: float = 1.0
    part: int = 1
    parts: int = 1
    #: every part's bbox of this building level, for the key map (one entry when not split)
    siblings: tuple[gridlib.Bounds, ...] = ()

    @property
    def points_per_metre(self) -> float:
        return POINTS_PER_METRE / self.scale


def nice_scale(minimum: float) -> int:
    """The first round scale number (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5 x 10^n) >= minimum."""
    exponent = math.floor(math.log10(max(minimum, 1.0)))
    for step in (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= minimum - 1e-9:
            return round(candidate)
    return round(10.0 ** (exponent + 1))  # pragma: no cover - the loop ends at 10 x 10^n


def overview_scale(minimum: float) -> int:
    """A round scale number >= minimum in finer steps than :func:`nice_scale` (multiples of
    250 from 1:1,000, of 50 below), so the overview fills its sheet: its scale bar, not a
    round ratio, is what a reader measures with."""
    step = 250 if minimum > 1000 else 50
    return max(step, math.ceil(minimum / step - 1e-9) * step)


def _framed(area: Rect, bbox: gridlib.Bounds, scale: int) -> tuple[gridlib.Bounds, Rect]:
    """The bbox grown to a whole number of points at ``scale``, and its frame centred in
    ``area``. Whole points because the renderer draws a map of integer size; the scale stays
    exact."""
    ppm = POINTS_PER_METRE / scale
    w_pt = min(math.floor(area.width), math.ceil((bbox.maxx - bbox.minx) * ppm))
    h_pt = min(math.floor(area.height), math.ceil((bbox.maxy - bbox.miny) * ppm))
    cx, cy = (bbox.minx + bbox.maxx) / 2.0, (bbox.miny + bbox.maxy) / 2.0
    half_w, half_h = w_pt / ppm / 2.0, h_pt / ppm / 2.0
    x0 = area.x0 + (area.width - w_pt) / 2.0
    y0 = area.y0 + (area.height - h_pt) / 2.0
    return (gridlib.Bounds(cx - half_w, cy - half_h, cx + half_w, cy + half_h),
            Rect(x0, y0, x0 + w_pt, y0 + h_pt))


def overview_sheet(campus: Campus, layout: PageLayout) -> MapSheet:
    """The whole campus grid on one sheet, at the largest round scale that fits."""
    extent = gridlib.extent(campus.grid)
    area = layout.map_area
    fit = max((extent.maxx - extent.minx) * POINTS_PER_METRE / area.width,
              (extent.maxy - extent.miny) * POINTS_PER_METRE / area.height)
    scale = overview_scale(fit)
    bbox, frame = _framed(area, extent, scale)
    return MapSheet("Campus overview", None, None, bbox, scale, frame, siblings=(bbox,))


def _split(lo: float, hi: float, room_m: float) -> list[tuple[float, float]]:
    """``[lo, hi]`` cut into the fewest equal spans of at most ``room_m`` that overlap by
    :data:`SHEET_OVERLAP_M`."""
    length = hi - lo
    if length <= room_m:
        return [(lo, hi)]
    n = math.ceil((length - SHEET_OVERLAP_M) / (room_m - SHEET_OVERLAP_M))
    span = (length + (n - 1) * SHEET_OVERLAP_M) / n
    return [(lo + i * (span - SHEET_OVERLAP_M), lo + i * (span - SHEET_OVERLAP_M) + span)
            for i in range(n)]


def level_sheets(
    campus: Campus, building: Building, ordinal: int, layout: PageLayout, frame: LocalFrame,
) -> list[MapSheet]:
    """The sheets of one building level: one when it fits at 1:600 or larger, else several."""
    level = next(lv for lv in campus.levels
                 if lv.building_id == building.id and lv.ordinal == ordinal)
    minx, miny, maxx, maxy = frame.to_local(building.footprint).bounds
    m = BUILDING_MARGIN_M
    extent = gridlib.Bounds(minx - m, miny - m, maxx + m, maxy + m)
    area = layout.map_area
    fit = max((extent.maxx - extent.minx) * POINTS_PER_METRE / area.width,
              (extent.maxy - extent.miny) * POINTS_PER_METRE / area.height)
    title = f"Building {building.short_name} ({building.name}) \u00b7 {level.name}"
    if fit <= MIN_LEGIBLE_SCALE:
        scale = max(MAX_LEVEL_SCALE, nice_scale(fit))
        bbox, rect = _framed(area, extent, scale)
        return [MapSheet(title, ordinal, building.id, bbox, scale, rect, siblings=(bbox,))]
    scale = MIN_LEGIBLE_SCALE
    room_x = area.width / (POINTS_PER_METRE / scale)
    room_y = area.height / (POINTS_PER_METRE / scale)
    # north to south, then west to east: the order a reader turns pages in
    pieces = [gridlib.Bounds(x0, y0, x1, y1)
              for (y0, y1) in reversed(_split(extent.miny, extent.maxy, room_y))
              for (x0, x1) in _split(extent.minx, extent.maxx, room_x)]
    framed = [_framed(area, piece, scale) for piece in pieces]
    siblings = tuple(bbox for bbox, _ in framed)
    return [MapSheet(title, ordinal, building.id, bbox, scale, rect, part=i + 1,
                     parts=len(framed), siblings=siblings)
            for i, (bbox, rect) in enumerate(framed)]


def plan_map_sheets(campus: Campus, size: PaperSize, level: int | None) -> list[MapSheet]:
    """The overview, then every building level's sheets (only ``level``'s when given),
    buildings in campus order, levels lowest first."""
    if level is not None and level not in campus.ordinals:
        raise LevelNotFound(
            f"campus {campus.id} has no level {level}; its levels are "
            + ", ".join(f"{o} ({campus.ordinal_name(o)})" for o in campus.ordinals))
    layout = page_layout(size)
    frame = campus_frame(campus.crs)
    sheets = [overview_sheet(campus, layout)]
    for building in campus.buildings:
        ordinals = sorted(lv.ordinal for lv in campus.levels if lv.building_id == building.id)
        for ordinal in ordinals:
            if level is None or ordinal == level:
                sheets.extend(level_sheets(campus, building, ordinal, layout, frame))
    grid = gridlib.extent(campus.grid)
    latitude = frame.lonlat((grid.minx + grid.maxx) / 2, (grid.miny + grid.maxy) / 2)[1]
    return [dataclasses.replace(s, zoom=web_mercator_zoom(s.scale, latitude),
                                symbol_scale=layout.k) for s in sheets]


def web_mercator_zoom(scale: int, latitude: float) -> float:
    """The Web Mercator zoom whose pixel is as many metres as a point is on this sheet, so the
    map style's zoom rules (what is labelled, how large) apply to paper the way they do on
    screen."""
    metres_per_point = scale / POINTS_PER_METRE
    equator_m_per_px = 2.0 * math.pi * 6378137.0 / 256.0
    return math.log2(equator_m_per_px * math.cos(math.radians(latitude)) / metres_per_point)
