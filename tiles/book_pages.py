"""Drawing the map book's pages with reportlab: page furniture around the maps, and the indexes.

A map page gets a white mat with a hole for the map frame (the Mapnik map is merged under it
by :mod:`tiles.book`, so nothing of the map strays outside its frame), the grid's column letters
and row numbers on all four sides of the frame, a title band (campus, address, sheet, revision,
verified-on and printed-on dates) and a side panel with the north arrow, the scale in feet and
metres, the legend and a key map. Nothing is drawn over the map itself. Index pages are tables
in two or more blocks a page. All text is real text (selectable and searchable) in DejaVu Sans,
the font Mapnik's wheel bundles, so the furniture and the map use one typeface.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from gridmap import grid as gridlib
from gridmap.model import Campus
from tiles import style
from tiles.book_indexes import DoorRow, PointRow, RoomRow
from tiles.book_sheets import MapSheet, PageLayout, Rect, campus_frame
from tiles.style import RGBA

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

REGULAR = "GridmapSans"
BOLD = "GridmapSans-Bold"
BLACK: RGBA = (0, 0, 0, 255)
GREY: RGBA = (110, 110, 110, 255)
RULE: RGBA = (170, 170, 170, 255)
#: A sheet's part on the key map.
KEY_CURRENT: RGBA = (211, 32, 39, 255)


@cache
def register_fonts() -> tuple[str, str]:
    """Register DejaVu Sans from Mapnik's wheel with reportlab; its (regular, bold) names.

    Falls back to the PDF base fonts (Helvetica) if the files are not where the wheel puts
    them; those cover Latin-1 only."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from tiles.cartography import mapnik_module

    try:
        # through mapnik_module: a plain `import mapnik` first in a process leaves PROJ (and so
        # rasterio, which places the overview's photo) without its database
        mapnik = mapnik_module()
        folder = Path(mapnik.__file__).parent / "lib" / "mapnik" / "fonts"
        pdfmetrics.registerFont(TTFont(REGULAR, str(folder / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    except (ImportError, OSError):
        return "Helvetica", "Helvetica-Bold"
    return REGULAR, BOLD


@dataclass(frozen=True, slots=True)
class BookInfo:
    """What the title band of every page says."""

    campus_name: str
    address: str
    revision: int
    printed_on: date
    verified_on: date | None
    grid_note: str  # "Grid cells 100 ft (30.5 m)"
    verified_by: str = ""  # "J. Roe (Okemos PD)": who walked it, with verified_on


def _colour(c: Canvas, rgba: RGBA, *, stroke: bool = False) -> None:
    r, g, b, a = (v / 255.0 for v in rgba)
    if stroke:
        c.setStrokeColorRGB(r, g, b, alpha=a)
    else:
        c.setFillColorRGB(r, g, b, alpha=a)


def fit_text(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "\u2026", font, size) > width:
        text = text[:-1]
    return text + "\u2026" if text else ""


# --- title band ------------------------------------------------------------------------------


def draw_title(c: Canvas, layout: PageLayout, info: BookInfo, sheet_title: str,
               page: int, pages: int) -> None:
    regular, bold = register_fonts()
    k, t = layout.k, layout.title
    half = t.width / 2.0
    _colour(c, BLACK)
    c.setFont(bold, 13 * k)
    c.drawString(t.x0, t.y1 - 13 * k, fit_text(info.campus_name, bold, 13 * k, half - 6 * k))
    c.setFont(regular, 8.5 * k)
    c.drawString(t.x0, t.y1 - 25 * k, fit_text(info.address, regular, 8.5 * k, half - 6 * k))
    c.setFont(bold, 12 * k)
    c.drawRightString(t.x1, t.y1 - 13 * k, fit_text(sheet_title, bold, 12 * k, half - 6 * k))
    dates = [f"Revision {info.revision}"]
    dates.append(f"Verified on {info.verified_on.isoformat()}" if info.verified_on
                 else "Verification date not recorded")
    dates.append(f"Printed on {info.printed_on.isoformat()}")
    if info.verified_on and info.verified_by:  # who walked it, in what room the line leaves
        from reportlab.pdfbase.pdfmetrics import stringWidth

        room = half - 6 * k - stringWidth(" · ".join(dates) + " by ", regular, 8.5 * k)
        by = fit_text(info.verified_by, regular, 8.5 * k, room)
        if by:
            dates[1] += f" by {by}"
    c.setFont(regular, 8.5 * k)
    c.drawRightString(t.x1, t.y1 - 25 * k, " \u00b7 ".join(dates))
    _colour(c, GREY)
    c.setFont(regular, 7 * k)
    c.drawString(t.x0, t.y1 - 36 * k,
                 f"{info.grid_note} \u00b7 True north up \u00b7 Restricted: emergency "
                 "response use only, keep secure")
    c.drawRightString(t.x1, t.y1 - 36 * k, f"Page {page} of {pages}")
    _colour(c, RULE, stroke=True)
    c.setLineWidth(0.75 * k)
    c.line(t.x0, t.y0 + 2 * k, t.x1, t.y0 + 2 * k)


# --- map page --------------------------------------------------------------------------------


def draw_mat(c: Canvas, layout: PageLayout, frame: Rect) -> None:
    """White everywhere but the map frame: the map merged under the page shows only there."""
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    path = c.beginPath()
    path.rect(0, 0, layout.width, layout.height)
    path.rect(frame.x0, frame.y0, frame.width, frame.height)
    c.drawPath(path, stroke=0, fill=1, fillMode=0)  # even-odd: the frame is a hole
    c.restoreState()


def draw_grid_margins(c: Canvas, layout: PageLayout, campus: Campus, sheet: MapSheet) -> None:
    """Column letters above and below the frame, row numbers left and right of it, each
    centred on the part of its cell the sheet shows, with a tick at every grid line."""
    _regular, bold = register_fonts()
    k, f, band = layout.k, sheet.frame, layout.label_band
    g, bbox, ppm = campus.grid, sheet.bbox, sheet.points_per_metre
    size = g.cell_size_m
    font = 9 * k

    def page_x(x: float) -> float:
        return f.x0 + (x - bbox.minx) * ppm

    def page_y(y: float) -> float:
        return f.y0 + (y - bbox.miny) * ppm

    _colour(c, style.GRID_COLOUR, stroke=True)
    _colour(c, style.GRID_COLOUR)
    c.setLineWidth(0.8 * k)
    c.setFont(bold, font)
    from reportlab.pdfbase.pdfmetrics import stringWidth

    for col in range(g.columns):
        x0 = max(g.origin_x + col * size, bbox.minx)
        x1 = min(g.origin_x + (col + 1) * size, bbox.maxx)
        if x1 <= x0:
            continue
        for x in (x0, x1):
            if bbox.minx < x < bbox.maxx:
                c.line(page_x(x), f.y1, page_x(x), f.y1 + band)
                c.line(page_x(x), f.y0 - band, page_x(x), f.y0)
        label = gridlib.column_label(col)
        if (x1 - x0) * ppm >= stringWidth(label, bold, font) + 2 * k:
            mid = page_x((x0 + x1) / 2.0)
            c.drawCentredString(mid, f.y1 + band / 2.0 - font * 0.35, label)
            c.drawCentredString(mid, f.y0 - band / 2.0 - font * 0.35, label)
    for row in range(g.rows):
        y1 = min(g.origin_y - row * size, bbox.maxy)
        y0 = max(g.origin_y - (row + 1) * size, bbox.miny)
        if y1 <= y0:
            continue
        for y in (y0, y1):
            if bbox.miny < y < bbox.maxy:
                c.line(f.x0 - band, page_y(y), f.x0, page_y(y))
                c.line(f.x1, page_y(y), f.x1 + band, page_y(y))
        if (y1 - y0) * ppm >= font + 2 * k:
            mid = page_y((y0 + y1) / 2.0) - font * 0.35
            label = str(row + 1)
            c.drawCentredString(f.x0 - band / 2.0, mid, label)
            c.drawCentredString(f.x1 + band / 2.0, mid, label)
    _colour(c, BLACK, stroke=True)
    c.setLineWidth(1.0 * k)
    c.rect(f.x0, f.y0, f.width, f.height, stroke=1, fill=0)
    c.rect(f.x0 - band, f.y0 - band, f.width + 2 * band, f.height + 2 * band, stroke=1, fill=0)


def _north_arrow(c: Canvas, x: float, top: float, k: float) -> float:
    """A north arrow whose tip is at (x, top); returns the height used."""
    _regular, bold = register_fonts()
    h = 30 * k
    c.saveState()
    _colour(c, BLACK)
    _colour(c, BLACK, stroke=True)
    c.setLineWidth(0.8 * k)
    left = c.beginPath()
    left.moveTo(x, top - 11 * k)
    left.lineTo(x - 7 * k, top - h)
    left.lineTo(x, top - h + 7 * k)
    left.close()
    c.drawPath(left, stroke=1, fill=1)
    right = c.beginPath()
    right.moveTo(x, top - 11 * k)
    right.lineTo(x + 7 * k, top - h)
    right.lineTo(x, top - h + 7 * k)
    right.close()
    c.setFillColorRGB(1, 1, 1)
    c.drawPath(right, stroke=1, fill=1)
    _colour(c, BLACK)
    c.setFont(bold, 11 * k)
    c.drawCentredString(x, top - 9 * k, "N")
    c.restoreState()
    return h


def _nice_length(limit: float) -> float:
    """The longest round length (1, 2, 2.5, 5 x 10^n) not over ``limit``."""
    exponent = math.floor(math.log10(limit))
    best = 10.0**exponent
    for step in (1.0, 2.0, 2.5, 5.0):
        if step * 10.0**exponent <= limit:
            best = step * 10.0**exponent
    return best


def _scale_bar(c: Canvas, x: float, y: float, width: float, units_per_point: float,
               unit: str, k: float) -> None:
    """An alternating black and white bar of a round length in ``unit`` that fits ``width``."""
    regular, _ = register_fonts()
    length = _nice_length(width * units_per_point)
    bar = length / units_per_point
    parts = 4 if length / 4 == int(length / 4) or length >= 4 else 2
    c.saveState()
    c.setLineWidth(0.6 * k)
    _colour(c, BLACK, stroke=True)
    for i in range(parts):
        if i % 2:
            c.setFillColorRGB(1, 1, 1)
        else:
            c.setFillColorRGB(0, 0, 0)
        c.rect(x + i * bar / parts, y, bar / parts, 4 * k, stroke=1, fill=1)
    _colour(c, BLACK)
    c.setFont(regular, 6.5 * k)
    for i in (0, parts // 2, parts):
        value = length * i / parts
        text = f"{value:g}"
        c.drawCentredString(x + i * bar / parts, y + 6 * k, text)
    c.drawString(x + bar + 4 * k, y, unit)
    c.restoreState()


def _legend_symbol(c: Canvas, entry: dict[str, str], x: float, y: float, r: float) -> None:
    """One legend swatch centred at (x, y), ``r`` points from centre to edge."""
    from reportlab.lib.colors import HexColor

    _regular, bold = register_fonts()
    c.saveState()
    c.setFillColor(HexColor(entry.get("fill", "#ffffff")))
    c.setStrokeColor(HexColor(entry.get("outline", "#000000")))
    c.setLineWidth(max(0.6, r / 6))
    shape = entry.get("shape", "square")
    if shape == "line":
        c.setLineWidth(r / 3)
        c.line(x - r, y, x + r, y)
    elif shape == "circle":
        c.circle(x, y, r, stroke=1, fill=1)
    elif shape in ("diamond", "triangle"):
        path = c.beginPath()
        points = ((x, y + r), (x + r, y), (x, y - r), (x - r, y)) if shape == "diamond" else \
            ((x, y + r), (x + r, y - r * 0.8), (x - r, y - r * 0.8))
        path.moveTo(*points[0])
        for p in points[1:]:
            path.lineTo(*p)
        path.close()
        c.drawPath(path, stroke=1, fill=1)
    else:
        c.rect(x - r, y - r, 2 * r, 2 * r, stroke=1, fill=1)
    text = entry.get("text", "")
    if text and shape != "line":
        c.setFillColor(HexColor(entry.get("text_colour", "#000000")))
        size = r * (1.1 if len(text) == 1 else 0.8 if len(text) == 2 else 0.62)
        c.setFont(bold, size)
        c.drawCentredString(x, y - size * 0.36, text)
    c.restoreState()


def draw_panel(c: Canvas, layout: PageLayout, campus: Campus, sheet: MapSheet,
               key_map: Callable[[Canvas, Rect], None] | None,
               not_shown: Sequence[str] = ()) -> None:
    """North arrow, scale statement and bars (feet and metres), legend; the key map below.
    ``not_shown``: room numbers the sheet's map could not write in their rooms (a last
    resort), listed in a note above the key map (the room index has them too)."""
    regular, bold = register_fonts()
    k, p = layout.k, layout.panel
    pad = 6 * k
    x0, x1 = p.x0 + pad, p.x1 - pad
    _colour(c, RULE, stroke=True)
    c.setLineWidth(0.75 * k)
    c.rect(p.x0, p.y0, p.width, p.height, stroke=1, fill=0)
    top = p.y1 - pad
    used = _north_arrow(c, x0 + 9 * k, top, k)
    _colour(c, BLACK)
    c.setFont(bold, 9 * k)
    c.drawString(x0 + 24 * k, top - 12 * k, f"Scale 1:{sheet.scale:,}")
    c.setFont(regular, 6.5 * k)
    c.drawString(x0 + 24 * k, top - 21 * k, "on this paper size; true north up")
    top -= used + 10 * k
    metres_per_point = 1.0 / sheet.points_per_metre
    bar_room = (x1 - x0) - 22 * k
    _scale_bar(c, x0, top - 8 * k, bar_room, metres_per_point, "m", k)
    _scale_bar(c, x0, top - 24 * k, bar_room, metres_per_point / 0.3048, "ft", k)
    top -= 34 * k
    g = campus.grid
    c.setFont(regular, 6.5 * k)
    c.drawString(x0, top, f"Grid cells {g.cell_size:g} {g.unit.value} ({g.cell_size_m:.1f} m);")
    c.drawString(x0, top - 8 * k, fit_text("C4-7: ninth 7 of cell C4 (as on a keypad)",
                                           regular, 6.5 * k, x1 - x0))
    top -= 20 * k
    key_h = min(150 * k, p.height * 0.3) if key_map is not None else 0.0
    legend_bottom = p.y0 + pad + key_h + (14 * k if key_map else 0.0)
    if not_shown:
        from reportlab.lib.utils import simpleSplit

        note = simpleSplit("Numbers not shown on this sheet: " + ", ".join(not_shown) + ".",
                           regular, 6.5 * k, x1 - x0)
        _colour(c, BLACK)
        c.setFont(regular, 6.5 * k)
        for i, line in enumerate(note):
            c.drawString(x0, legend_bottom + (len(note) - i - 1) * 8 * k, line)
        legend_bottom += len(note) * 8 * k + 4 * k
    c.setFont(bold, 9 * k)
    c.drawString(x0, top, "Legend")
    top -= 4 * k
    entries = style.legend_entries()
    row = min(12 * k, max(6 * k, (top - legend_bottom) / max(1, len(entries))))
    r = row * 0.38
    for entry in entries:
        top -= row
        if top < legend_bottom:
            break
        _legend_symbol(c, entry, x0 + r + 1, top + r * 0.2, r)
        _colour(c, BLACK)
        c.setFont(regular, min(7.5 * k, row * 0.7))
        c.drawString(x0 + 2 * r + 5 * k, top, fit_text(entry.get("label", ""), regular,
                                                         min(7.5 * k, row * 0.7),
                                                         x1 - x0 - 2 * r - 5 * k))
    if key_map is not None:
        box = Rect(x0, p.y0 + pad, x1, p.y0 + pad + key_h)
        key_map(c, box)
    else:
        _building_list(c, campus, x0, x1, top - 2 * row, p.y0 + pad, k)


def _building_list(c: Canvas, campus: Campus, x0: float, x1: float, top: float,
                   bottom: float, k: float) -> None:
    """The buildings by letter and name, under the overview's legend (as far as room allows)."""
    regular, bold = register_fonts()
    row = 10 * k
    if top - bottom < 2 * row:
        return
    _colour(c, BLACK)
    c.setFont(bold, 9 * k)
    c.drawString(x0, top, "Buildings")
    for building in campus.buildings:
        top -= row
        if top < bottom:
            break
        c.setFont(bold, 7.5 * k)
        c.drawString(x0, top, building.short_name)
        c.setFont(regular, 7.5 * k)
        c.drawString(x0 + 18 * k, top, fit_text(building.name, regular, 7.5 * k,
                                                x1 - x0 - 18 * k))


def key_map_drawer(campus: Campus, sheet: MapSheet) -> Callable[[Canvas, Rect], None]:
    """Draws where this sheet lies: the campus grid, every building, this level's sheets (this
    one filled), so a reader of a split level knows which sheet to turn to."""
    frame = campus_frame(campus.crs)
    outlines = [(b.id, frame.to_local(b.footprint)) for b in campus.buildings]
    # the grid, and whatever of the buildings and sheets lies beyond it
    boxes = [gridlib.extent(campus.grid), *sheet.siblings,
             *(gridlib.Bounds(*shape.bounds) for _, shape in outlines)]
    extent = gridlib.Bounds(min(b.minx for b in boxes), min(b.miny for b in boxes),
                            max(b.maxx for b in boxes), max(b.maxy for b in boxes))
    grid_extent = gridlib.extent(campus.grid)

    def draw(c: Canvas, box: Rect) -> None:
        _regular, bold = register_fonts()
        k = box.height / 150.0 if box.height else 1.0
        _colour(c, BLACK)
        c.setFont(bold, 8 * k)
        title = "Key map" + (f": sheet {sheet.part} of {sheet.parts}" if sheet.parts > 1 else "")
        c.drawString(box.x0, box.y1 + 4 * k, title)
        ew, eh = extent.maxx - extent.minx, extent.maxy - extent.miny
        scale = min(box.width / ew, box.height / eh)
        ox = box.x0 + (box.width - ew * scale) / 2.0
        oy = box.y0 + (box.height - eh * scale) / 2.0

        def pt(x: float, y: float) -> tuple[float, float]:
            return ox + (x - extent.minx) * scale, oy + (y - extent.miny) * scale

        c.saveState()
        clip = c.beginPath()
        clip.rect(box.x0, box.y0, box.width, box.height)
        c.clipPath(clip, stroke=0, fill=0)
        _colour(c, style.GRID_COLOUR, stroke=True)
        c.setLineWidth(0.4)
        (gx, gy), (hx, hy) = pt(grid_extent.minx, grid_extent.miny), \
            pt(grid_extent.maxx, grid_extent.maxy)
        c.rect(gx, gy, hx - gx, hy - gy, stroke=1, fill=0)
        for bid, shape in outlines:
            path = c.beginPath()
            coords = list(shape.exterior.coords)
            path.moveTo(*pt(*coords[0]))
            for xy in coords[1:]:
                path.lineTo(*pt(*xy))
            path.close()
            _colour(c, (120, 120, 120, 255) if bid == sheet.building_id
                    else (205, 205, 205, 255))
            _colour(c, (60, 60, 60, 255), stroke=True)
            c.drawPath(path, stroke=1, fill=1)
        for i, part in enumerate(sheet.siblings, 1):
            (ax, ay), (bx, by) = pt(part.minx, part.miny), pt(part.maxx, part.maxy)
            current = i == sheet.part
            _colour(c, KEY_CURRENT, stroke=True)
            c.setLineWidth(1.2 if current else 0.6)
            if current:
                c.setFillColorRGB(211 / 255, 32 / 255, 39 / 255, alpha=0.25)
            c.rect(ax, ay, bx - ax, by - ay, stroke=1, fill=1 if current else 0)
            if len(sheet.siblings) > 1:
                _colour(c, KEY_CURRENT)
                c.setFont(bold, 7 * k)
                c.drawCentredString((ax + bx) / 2, (ay + by) / 2 - 2.5 * k, str(i))
        c.restoreState()

    return draw


# --- index pages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    share: float  # part of the block's width
    bold: bool = False


ROOM_COLUMNS = (Column("Room", 0.15, True), Column("Name", 0.42), Column("Bldg", 0.1),
                Column("Level", 0.2), Column("Cell", 0.13, True))
DOOR_COLUMNS = (Column("Bldg", 0.1), Column("Door", 0.12, True), Column("Side", 0.1, True),
                Column("Cell", 0.12, True), Column("Level", 0.22), Column("Note", 0.34))
POINT_COLUMNS = (Column("Name", 0.36), Column("Bldg", 0.09), Column("Level", 0.15),
                 Column("Cell", 0.09, True), Column("Note", 0.31))


@dataclass(frozen=True, slots=True)
class TableGeometry:
    blocks: int
    block_width: float
    row: float
    top: float  # baseline of the first row under the header
    bottom: float

    @property
    def rows_per_block(self) -> int:
        return max(1, int((self.top - self.bottom) // self.row))

    @property
    def rows_per_page(self) -> int:
        return self.rows_per_block * self.blocks


def table_geometry(layout: PageLayout, scale: float = 1.0) -> TableGeometry:
    k = layout.k * scale
    left, right = layout.margin, layout.width - layout.margin
    gutter = 18 * layout.k
    blocks = max(1, int((right - left + gutter) // (340 * layout.k + gutter)))
    width = (right - left - (blocks - 1) * gutter) / blocks
    top = layout.title.y0 - 34 * layout.k
    return TableGeometry(blocks, width, 11 * k, top, layout.margin + 4 * layout.k)


def index_pages(rows: int, layout: PageLayout) -> int:
    """How many pages an index of ``rows`` rows takes."""
    return max(1, math.ceil(rows / table_geometry(layout).rows_per_page))


def _cells(row: RoomRow | DoorRow | PointRow) -> tuple[str, ...]:
    if isinstance(row, RoomRow):
        return (row.number, row.name, row.building, row.level, row.cell)
    if isinstance(row, DoorRow):
        return (row.building, row.number, row.side or "not set", row.cell, row.level, row.note)
    return (row.name, row.building, row.level, row.cell, row.note)


def _guide(row: RoomRow | DoorRow | PointRow) -> str:
    """What a page's first or last row is looked up by, for the page title (like a
    dictionary's guide words): a room number, a building and door number, a name."""
    if isinstance(row, RoomRow):
        return row.number or row.name
    if isinstance(row, DoorRow):
        return f"{row.building} {row.number}"
    return row.name


def draw_table_block(c: Canvas, x: float, top: float, width: float, row_h: float,
                     columns: Sequence[Column], rows: Sequence[RoomRow | DoorRow | PointRow],
                     font_size: float) -> float:
    """A header and ``rows`` from (x, top) down; returns the y under the last row."""
    regular, bold = register_fonts()
    xs = [x]
    for col in columns:
        xs.append(xs[-1] + col.share * width)
    _colour(c, BLACK)
    c.setFont(bold, font_size)
    for col, cx in zip(columns, xs, strict=False):
        c.drawString(cx + 2, top, col.title)
    _colour(c, BLACK, stroke=True)
    c.setLineWidth(0.6)
    c.line(x, top - row_h * 0.3, x + width, top - row_h * 0.3)
    c.setFillColorRGB(0.93, 0.93, 0.93)
    for i in range(1, len(rows), 2):  # every other row shaded, so a line is easy to follow
        c.rect(x, top - (i + 1) * row_h - row_h * 0.3, width, row_h, stroke=0, fill=1)
    _colour(c, BLACK)
    cells = [_cells(row) for row in rows]
    for k, (col, cx, cx1) in enumerate(zip(columns, xs, xs[1:], strict=False)):
        # one text object a column: a line per row, far cheaper than a string per cell
        font = bold if col.bold else regular
        text = c.beginText(cx + 2, top - row_h)
        text.setFont(font, font_size, leading=row_h)
        text.textLines([fit_text(line[k], font, font_size, cx1 - cx - 4) for line in cells],
                       trim=0)
        c.drawText(text)
    return top - len(rows) * row_h - row_h * 0.3


def draw_index(c: Canvas, layout: PageLayout, columns: Sequence[Column],
               rows: Sequence[RoomRow | DoorRow | PointRow], heading: str, note: str,
               new_page: Callable[[str], None]) -> None:
    """An index over as many pages as it needs, blocks side by side; ``new_page(title)``
    starts each page (and draws its title band)."""
    regular, _bold = register_fonts()
    geo = table_geometry(layout)
    k = layout.k
    per_page = geo.rows_per_page
    pages = max(1, math.ceil(len(rows) / per_page))
    for p in range(pages):
        chunk = rows[p * per_page:(p + 1) * per_page]
        title = heading if pages == 1 else \
            f"{heading} ({p + 1} of {pages}): {_guide(chunk[0])} \u2013 {_guide(chunk[-1])}"
        new_page(title)
        _colour(c, GREY)
        c.setFont(regular, 7.5 * k)
        c.drawString(layout.margin, layout.title.y0 - 14 * k, note)
        for b in range(geo.blocks):
            part = chunk[b * geo.rows_per_block:(b + 1) * geo.rows_per_block]
            if not part and b:
                break
            x = layout.margin + b * (geo.block_width + 18 * k)
            draw_table_block(c, x, geo.top + geo.row, geo.block_width, geo.row, columns, part,
                             8 * k)
        if not rows:
            _colour(c, BLACK)
            c.setFont(regular, 9 * k)
            c.drawString(layout.margin, geo.top - geo.row, "None recorded on this map.")


def draw_quick_reference(c: Canvas, layout: PageLayout,
                         groups: Sequence[tuple[str, Sequence[PointRow]]]) -> None:
    """Every group with its points, on one page: the text shrinks (to 60 %) before it would
    spill, a long group continues in the next block, and a group with no points says so
    rather than vanishing. Should even that not hold them all, the page says how many points
    it leaves out rather than running off the paper."""
    regular, bold = register_fonts()
    k = layout.k
    _colour(c, GREY)
    c.setFont(regular, 7.5 * k)
    c.drawString(layout.margin, layout.title.y0 - 14 * k,
                 "Safety points with their grid cells; see the building sheets for where "
                 "exactly they are.")
    lines = sum(len(rows) + 2.6 for _, rows in groups)  # heading, header, gap per group
    scale = 1.0
    while scale > 0.6:
        geo = table_geometry(layout, scale)
        if lines <= geo.rows_per_block * geo.blocks:
            break
        scale -= 0.05
    geo = table_geometry(layout, scale)
    groups = _capped(groups, geo.rows_per_block * geo.blocks - 2 * geo.blocks)
    block, y = 0, geo.top

    def x() -> float:
        return layout.margin + block * (geo.block_width + 18 * k)

    def room_for_rows() -> int:  # rows that fit under a heading and a table header
        return int((y - geo.bottom) // geo.row) - 2

    for index, (heading, rows) in enumerate(groups):
        pending = list(rows)
        title = heading
        while True:
            if room_for_rows() < 1 and block + 1 < geo.blocks:
                block, y = block + 1, geo.top
            if room_for_rows() < 1:
                left = len(pending) + sum(len(r) for _, r in groups[index + 1:])
                names = ", ".join(h for h, _ in groups[index:])
                _colour(c, BLACK)
                c.setFont(bold, 8 * k * scale)
                first = f"\u2026 {left} more safety points, shown on the building sheets:" \
                    if left else "None recorded on this map:"
                bottom = max(y, geo.bottom + geo.row)
                c.drawString(x() + 2, bottom, first)
                c.setFont(regular, 8 * k * scale)
                c.drawString(x() + 2, bottom - geo.row,
                             fit_text(names, regular, 8 * k * scale, geo.block_width - 4))
                return
            _colour(c, BLACK)
            c.setFont(bold, 9.5 * k * scale)
            c.drawString(x(), y, title)
            y -= geo.row * 1.2
            if not pending:
                c.setFont(regular, 8 * k * scale)
                c.drawString(x() + 2, y, "none recorded on this map")
                y -= geo.row * 1.4
                break
            fit = max(1, room_for_rows() + 1)
            part, pending = pending[:fit], pending[fit:]
            y = draw_table_block(c, x(), y, geo.block_width, geo.row, POINT_COLUMNS, part,
                                 8 * k * scale)
            y -= geo.row * 1.4
            if not pending:
                break
            title = f"{heading} (continued)"
            if block + 1 < geo.blocks:
                block, y = block + 1, geo.top


def _capped(groups: Sequence[tuple[str, Sequence[PointRow]]],
            capacity: int) -> list[tuple[str, Sequence[PointRow]]]:
    """The groups with the longest cut to one length so that all fit ``capacity`` lines, each
    cut group ending in a row saying how many more there are: a flood of AEDs must not push
    the trauma kits off the page."""
    overhead = 3 * len(groups)  # a heading, a table header and a gap each
    longest = max((len(rows) for _, rows in groups), default=0)

    def lines(cap: int) -> int:
        return overhead + sum(min(len(rows), cap) + (len(rows) > cap) for _, rows in groups)

    cap = longest
    while cap > 1 and lines(cap) > capacity:
        cap -= 1
    if cap >= longest:
        return list(groups)
    out: list[tuple[str, Sequence[PointRow]]] = []
    for heading, rows in groups:
        if len(rows) > cap:
            more = PointRow(f"\u2026 and {len(rows) - cap} more: see the building sheets",
                            "", "", "", "")
            rows = [*rows[:cap], more]
        out.append((heading, rows))
    return out
