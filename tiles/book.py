"""The printed map book: one PDF with the campus overview, every building level, and indexes.

:func:`make_book` puts together, in this order:

1. the campus overview over aerial imagery (when the campus has some);
2. one sheet per building level (several, with a key map, when a building does not fit one
   sheet at a legible scale);
3. the room index, 4. the exterior door index (with the fire service's building sides), and
5. a one-page quick reference of safety points.

Maps are drawn by Mapnik through :func:`tiles.cartography.render_pdf` in the campus's own
projected CRS (true north up, true scale) as vector PDF, and placed by pypdf (as form
XObjects) under the page furniture reportlab draws (:mod:`tiles.book_pages`); the overview's
aerial photo goes under its map as a JPEG (:mod:`tiles.book_imagery`); each map page is
georeferenced (:mod:`tiles.geopdf`). Text stays text: every room number can be searched for
and copied.

Only render paths import this module: it pulls in Mapnik, reportlab and pypdf.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from gridmap.model import Campus
from tiles.book_indexes import door_rows, natural_key, quick_reference, room_rows
from tiles.book_pages import (
    DOOR_COLUMNS,
    ROOM_COLUMNS,
    BookInfo,
    draw_grid_margins,
    draw_index,
    draw_mat,
    draw_panel,
    draw_quick_reference,
    draw_title,
    index_pages,
    key_map_drawer,
)
from tiles.book_sheets import (
    PAPER_SIZES,
    MapSheet,
    PaperSize,
    Rect,
    page_layout,
    paper_size,
    plan_map_sheets,
)
from tiles.geopdf import georeference

if TYPE_CHECKING:
    from pypdf import PageObject, PdfWriter

    from tiles.cartography import MapView

__all__ = ["PAPER_SIZES", "PaperSize", "book_filename", "make_book", "map_sheet_pdf",
           "numbers_not_shown", "sheet_view", "verified_on_of"]

#: Map sheets are drawn by this many Mapnik renders at once (Mapnik releases the GIL).
RENDER_THREADS = 2


def sheet_view(campus: Campus, sheet: MapSheet, imagery: Path | None) -> MapView:
    """What Mapnik draws for one sheet: its box at its scale, for paper."""
    from tiles.cartography import MapView

    b = sheet.bbox
    return MapView(
        ordinal=sheet.ordinal, srs=campus.crs, bbox=(b.minx, b.miny, b.maxx, b.maxy),
        width=round(sheet.frame.width), height=round(sheet.frame.height),
        zoom=sheet.zoom, scale_factor=sheet.symbol_scale,
        imagery=imagery if sheet.ordinal is None else None, purpose="print",
        grid=True, grid_labels=False,
    )


def map_sheet_pdf(campus: Campus, sheet: MapSheet, imagery: Path | None) -> bytes:
    """One sheet's map as a one-page vector PDF the size of its frame (points)."""
    from tiles.cartography import render_pdf

    return render_pdf(campus, sheet_view(campus, sheet, imagery))


def numbers_not_shown(campus: Campus, sheet: MapSheet) -> tuple[str, ...]:
    """The room numbers a level sheet's map cannot write in their rooms even smaller or moved
    (the sheet lists them in a note); none for the overview."""
    if sheet.ordinal is None:
        return ()
    from tiles.cartography import print_room_labels

    left_out = print_room_labels(campus, sheet_view(campus, sheet, None)).left_out
    return tuple(sorted(left_out, key=natural_key))  # as the room index lists them


def make_book(
    campus: Campus, *, size: PaperSize, level: int | None, revision: int,
    imagery: Path | None, printed_on: date, verified_on: date | None = None,
    verified_by: str = "", progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """The map book as PDF bytes. ``size``: letter, tabloid or arch-d (landscape); ``level``:
    only that level ordinal's sheets (the overview and indexes are always whole).
    ``verified_on``, ``verified_by``: the latest walk-through, its date and who did it
    (``api.store_publish.book_verification``), printed in every page's title band.
    ``progress(done, total)`` is called as each sheet's map is drawn (from render threads).

    Raises :class:`~gridmap.errors.InvalidQuery` for an unknown paper size and
    :class:`~gridmap.errors.LevelNotFound` for a level the campus does not have."""
    size = paper_size(size)
    sheets = plan_map_sheets(campus, size, level)
    drawn = itertools.count(1)

    def sheet_map(sheet: MapSheet) -> bytes:
        pdf = map_sheet_pdf(campus, sheet, None)
        if progress is not None:
            progress(next(drawn), len(sheets))
        return pdf

    with ThreadPoolExecutor(RENDER_THREADS) as pool:
        # the photo goes in as a JPEG under the map (see tiles.book_imagery), not via Mapnik
        photos = pool.map(lambda s: _photo(campus, s, imagery), sheets)
        maps = pool.map(sheet_map, sheets)
        # meanwhile this thread draws the furniture (Mapnik and GDAL work without the GIL)
        furniture = _furniture(campus, size, sheets, revision, printed_on, verified_on,
                               verified_by)
        return _assemble(campus, furniture, sheets, list(maps), list(photos))


Photo = tuple[bytes, int, int]  # JPEG, width and height in pixels


def _photo(campus: Campus, sheet: MapSheet, imagery: Path | None) -> Photo | None:
    """The overview's imagery as a JPEG for its frame; None for other sheets or no imagery."""
    if imagery is None or sheet.ordinal is not None:
        return None
    from tiles.book_imagery import imagery_jpeg

    return imagery_jpeg(imagery, campus.crs, sheet)


#: what a page title says beyond its section: "(2 of 3): 214 - 301", "· sheet 2 of 3"
_SHEET_OF = re.compile(r" \(\d+ of \d+\).*$| \u00b7 sheet \d+ of \d+$")


def _furniture(
    campus: Campus, size: PaperSize, sheets: list[MapSheet], revision: int, printed_on: date,
    verified_on: date | None, verified_by: str = "",
) -> bytes:
    """Every page of the book without its maps: map pages' furniture, then the indexes."""
    from reportlab.pdfgen.canvas import Canvas

    layout = page_layout(size)
    g = campus.grid
    info = BookInfo(campus.name, campus.address, revision, printed_on, verified_on,
                    f"Grid cells {g.cell_size:g} {g.unit.value} ({g.cell_size_m:.1f} m)",
                    verified_by)
    rooms, doors, groups = room_rows(campus), door_rows(campus), quick_reference(campus)
    pages = len(sheets) + index_pages(len(rooms), layout) + index_pages(len(doors), layout) + 1
    out = io.BytesIO()
    c = Canvas(out, pagesize=(layout.width, layout.height), pageCompression=1,
               invariant=True)
    c.setTitle(f"{campus.name} map book, revision {revision}")
    c.setAuthor("gridmap")
    c.setSubject(f"{campus.name}, {campus.address}")
    page = 0

    def new_page(title: str, *, mat: MapSheet | None = None) -> None:
        """Start a page; the first page of each section gets a bookmark (outline entry), so
        a reader on a laptop jumps to a building level or an index."""
        nonlocal page
        if page:
            c.showPage()
        page += 1
        if mat is not None:
            draw_mat(c, layout, mat.frame)
        section = _SHEET_OF.sub("", title)  # "Room index (2 of 3): ..." -> "Room index"
        if section not in bookmarked:
            bookmarked.add(section)
            c.bookmarkPage(f"p{page}")
            c.addOutlineEntry(section, f"p{page}", level=0)
        draw_title(c, layout, info, title, page, pages)

    bookmarked: set[str] = set()
    for sheet in sheets:
        title = sheet.title if sheet.parts == 1 else \
            f"{sheet.title} \u00b7 sheet {sheet.part} of {sheet.parts}"
        new_page(title, mat=sheet)
        draw_grid_margins(c, layout, campus, sheet)
        draw_panel(c, layout, campus, sheet,
                   None if sheet.ordinal is None else key_map_drawer(campus, sheet),
                   numbers_not_shown(campus, sheet))
    draw_index(c, layout, ROOM_COLUMNS, rooms, "Room index",
               "Every room by number (9, 10, 101 \u2026 then lettered numbers; rooms known "
               "only by name last), with its building letter, level and grid cell.", new_page)
    draw_index(c, layout, DOOR_COLUMNS, doors, "Exterior door index",
               "Exterior doors by building and painted number. Side: the fire service's "
               "building side (A = address side, then clockwise B, C, D).", new_page)
    new_page("Quick reference")
    draw_quick_reference(c, layout, groups)
    c.showOutline()
    c.showPage()
    c.save()
    return out.getvalue()


def _assemble(campus: Campus, furniture: bytes, sheets: list[MapSheet],
              maps: list[bytes], photos: list[Photo | None]) -> bytes:
    """Each map (over its photo, if any) placed under its page's furniture, and the page
    georeferenced."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(furniture)))
    for index, (sheet, data, photo) in enumerate(zip(sheets, maps, photos, strict=True)):
        page = writer.pages[index]
        _place_under(writer, page, PdfReader(io.BytesIO(data)).pages[0], sheet.frame,
                     f"/GridmapMap{index}", photo)
        name = sheet.title if sheet.parts == 1 else f"{sheet.title} {sheet.part}/{sheet.parts}"
        georeference(page, sheet.frame, sheet.bbox, campus.crs, name)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _place_under(writer: PdfWriter, page: PageObject, source: PageObject, frame: Rect,
                 name: str, photo: Photo | None = None) -> None:
    """Draw ``source`` (a one-page map) in ``frame`` under ``page``'s own content, over
    ``photo`` (a JPEG stretched to the frame) when given.

    The map goes in as a form XObject whose content stream is copied as it is (still
    compressed): pypdf's ``merge_transformed_page`` would parse and rewrite every drawing
    operator of the map, which costs most of a book's time.
    """
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        NumberObject,
        PdfObject,
        StreamObject,
    )

    def streams_of(contents: object) -> list[StreamObject]:
        held = contents.get_object() if isinstance(contents, PdfObject) else contents
        items = list(held) if isinstance(held, ArrayObject) else [held]
        found: list[StreamObject] = []
        for item in items:
            stream = item.get_object() if isinstance(item, PdfObject) else item
            if not isinstance(stream, StreamObject):
                raise ValueError("a page's /Contents is not made of streams")
            found.append(stream)
        return found

    streams = streams_of(source["/Contents"])
    if len(streams) == 1:
        form = streams[0]  # keeps its /Filter and compressed bytes
    else:
        form = DecodedStreamObject()
        form.set_data(b"\n".join(stream.get_data() for stream in streams))
    box = source.mediabox
    form.update({
        NameObject("/Type"): NameObject("/XObject"),
        NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject(FloatObject(v) for v in (
            box.left, box.bottom, box.right, box.top)),
        NameObject("/Resources"): source["/Resources"].get_object(),
    })
    if "/Group" in source:
        form[NameObject("/Group")] = source["/Group"]
    form_ref = writer._add_object(form.clone(writer))
    resources = page["/Resources"].get_object()
    if not isinstance(resources, DictionaryObject):
        raise ValueError("a furniture page has no resource dictionary")
    if "/XObject" not in resources:
        resources[NameObject("/XObject")] = DictionaryObject()
    xobjects = resources["/XObject"].get_object()
    if not isinstance(xobjects, DictionaryObject):
        raise ValueError("a furniture page's /XObject is not a dictionary")
    xobjects[NameObject(name)] = form_ref
    x, y = frame.x0, frame.y0
    commands = f"q 1 0 0 1 {x:.4f} {y:.4f} cm {name} Do Q\n"
    if photo is not None:
        jpeg, width, height = photo
        image = StreamObject()
        image.set_data(jpeg)  # stored as it is: the JPEG is the stream, /DCTDecode its filter
        image.update({
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(width),
            NameObject("/Height"): NumberObject(height),
            NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
            NameObject("/BitsPerComponent"): NumberObject(8),
            NameObject("/Filter"): NameObject("/DCTDecode"),
        })
        xobjects[NameObject(f"{name}Photo")] = writer._add_object(image)
        commands = (f"q {frame.width:.4f} 0 0 {frame.height:.4f} {x:.4f} {y:.4f} cm "
                    f"{name}Photo Do Q\n") + commands
    draw = DecodedStreamObject()
    draw.set_data(commands.encode("ascii"))
    own = page["/Contents"]
    held = own.get_object()
    own_parts = list(held) if isinstance(held, ArrayObject) else [own]
    page[NameObject("/Contents")] = ArrayObject([writer._add_object(draw), *own_parts])


def verified_on_of(campus: Campus) -> date | None:
    """The walk-through date the campus file gives (``verified_on``), if any (the service
    prints the latest walk-through record instead: ``api.store_publish.book_verification``)."""
    text = campus.meta.get("verified_on", "")
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def book_filename(campus: Campus, size: str, level: int | None) -> str:
    """``lincoln-ridge-book-letter.pdf``, ``...-level-1.pdf`` for one level."""
    suffix = "" if level is None else f"-level-{level}"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", campus.id)  # safe in a Content-Disposition header
    return f"{name}-book-{size}{suffix}.pdf"
