"""The printed map book: contents found by pdftotext, pages drawn by pdftoppm, coordinates read
by GDAL, and the CLI command and API route that hand it out."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from shapely.geometry import Point, box

from api import cli
from api.settings import Settings
from api.store import SqlCampusStore
from gridmap.crs import LocalFrame
from gridmap.errors import InvalidQuery, LevelNotFound
from gridmap.model import AmenityKind, Campus, Unit
from gridmap.sides import door_sides
from importers.campus import import_campus
from tiles import style
from tiles.book import PAPER_SIZES, PaperSize, make_book
from tiles.book_indexes import natural_key, room_rows
from tiles.book_sheets import (
    MIN_LEGIBLE_SCALE,
    POINTS_PER_METRE,
    MapSheet,
    page_layout,
    plan_map_sheets,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "lincoln_ridge" / "campus.toml"
PRINTED = date(2026, 11, 30)
VERIFIED = date(2026, 8, 14)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian: poppler-utils / gdal-bin)")
    return path


def pdf_text(pdf: bytes, tmp_path: Path, page: int | None = None) -> str:
    """The text pdftotext finds in the book (or one page of it, counted from 1)."""
    need("pdftotext")
    path = tmp_path / "book.pdf"
    path.write_bytes(pdf)
    pages = [] if page is None else ["-f", str(page), "-l", str(page)]
    return subprocess.run(["pdftotext", "-layout", *pages, str(path), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout


@pytest.fixture(scope="module")
def sample() -> Campus:
    return import_campus(SAMPLE).campus


@pytest.fixture(scope="module")
def letter_book(sample: Campus) -> bytes:
    return make_book(sample, size="letter", level=None, revision=3, imagery=None,
                     printed_on=PRINTED, verified_on=VERIFIED)


def test_every_room_number_of_the_sample_is_in_the_book(
        sample: Campus, letter_book: bytes, tmp_path: Path) -> None:
    words = set(re.findall(r"\S+", pdf_text(letter_book, tmp_path)))
    numbers = {u.number for u in sample.units if u.number}
    assert numbers and numbers <= words, sorted(numbers - words)


def test_room_numbers_on_the_level_sheets_are_text(sample: Campus, letter_book: bytes,
                                                   tmp_path: Path) -> None:
    # the map itself, not only the index, carries searchable room numbers
    sheets = plan_map_sheets(sample, "letter", None)
    on_maps: set[str] = set()
    for page, sheet in enumerate(sheets, 1):
        if sheet.ordinal is not None:
            on_maps |= set(re.findall(r"\S+", pdf_text(letter_book, tmp_path, page)))
    assert {"101", "214", "C-4"} <= on_maps


def test_title_band_names_campus_revision_and_dates(sample: Campus, letter_book: bytes,
                                                    tmp_path: Path) -> None:
    first = pdf_text(letter_book, tmp_path, 1)
    for text in (sample.name, sample.address, "Revision 3", f"Verified on {VERIFIED}",
                 f"Printed on {PRINTED}", "Campus overview", "Scale 1:"):
        assert text in first
    # every column letter and row number of the grid is on the overview's margins
    words = re.findall(r"\S+", first)
    for col in range(sample.grid.columns):
        assert words.count(chr(ord("A") + col)) >= 2  # top and bottom
    for row in range(1, sample.grid.rows + 1):
        assert words.count(str(row)) >= 2  # left and right


def test_book_pages_in_order(sample: Campus, letter_book: bytes, tmp_path: Path) -> None:
    reader = PdfReader(io.BytesIO(letter_book))
    sheets = plan_map_sheets(sample, "letter", None)
    level_pairs = {(lv.building_id, lv.ordinal) for lv in sample.levels}
    assert {(s.building_id, s.ordinal) for s in sheets[1:]} == level_pairs
    titles = [pdf_text(letter_book, tmp_path, p + 1) for p in range(len(reader.pages))]
    assert "Campus overview" in titles[0]
    rest = titles[len(sheets):]
    assert "Room index" in rest[0] and "Exterior door index" in rest[-2]
    assert "Quick reference" in rest[-1]
    assert sum("Quick reference" in t for t in titles) == 1  # one page
    assert all(f"of {len(reader.pages)}" in t for t in titles)
    # bookmarks lead to each section's first page
    outline = [(entry.title, reader.get_destination_page_number(entry))
               for entry in reader.outline if not isinstance(entry, list)]
    assert [title for title, _ in outline] == [
        "Campus overview", *(s.title for s in sheets[1:]), "Room index", "Exterior door index",
        "Quick reference"]
    for title, page in outline:
        assert title is not None and page is not None
        assert title.split(" \u00b7 ")[0] in titles[page]


def test_room_index_is_in_natural_number_order(sample: Campus) -> None:
    assert sorted(["10", "9", "B-10", "101", "B-9", "C-4", "2"], key=natural_key) == [
        "2", "9", "10", "101", "B-9", "B-10", "C-4"]
    rows = room_rows(sample)
    numbered = [r.number for r in rows if r.number]
    assert numbered == sorted(numbered, key=natural_key)
    assert rows[-1].number == ""  # named-only rooms (halls) last
    assert len(rows) == sum(1 for u in sample.units if u.number or u.name)


def test_door_index_gives_every_exterior_door_its_side(sample: Campus, letter_book: bytes,
                                                       tmp_path: Path) -> None:
    reader = PdfReader(io.BytesIO(letter_book))
    page = next(i for i in range(len(reader.pages))
                if "Exterior door index" in pdf_text(letter_book, tmp_path, i + 1))
    lines = pdf_text(letter_book, tmp_path, page + 1).splitlines()
    sides = door_sides(sample)
    for door in sample.exterior_doors():
        letter = sample.building(door.building_id).short_name
        side = sides[door.id]
        assert side is not None
        assert any(re.match(rf"\s*{letter}\s+{re.escape(door.number or '')}\s+{side}\s", line)
                   for line in lines), (letter, door.number, side)


def test_quick_reference_lists_every_safety_point(sample: Campus, letter_book: bytes,
                                                  tmp_path: Path) -> None:
    reader = PdfReader(io.BytesIO(letter_book))
    text = pdf_text(letter_book, tmp_path, len(reader.pages))
    assert "Quick reference" in text
    listed = {AmenityKind.KNOX_BOX, AmenityKind.AED, AmenityKind.TRAUMA_KIT,
              AmenityKind.GAS_SHUTOFF, AmenityKind.WATER_SHUTOFF, AmenityKind.ELECTRIC_SHUTOFF,
              AmenityKind.FIRE_ALARM_PANEL, AmenityKind.RALLY_POINT, AmenityKind.STAGING_AREA}
    for a in sample.amenities:
        if a.kind in listed:
            assert a.name in text
    for heading in ("Knox boxes", "Utility shutoffs", "AEDs", "Trauma kits",
                    "Fire alarm panels", "Rally points", "Staging areas"):
        assert heading in text


def test_pages_render_and_the_map_stays_in_its_frame(
        sample: Campus, letter_book: bytes, tmp_path: Path) -> None:
    need("pdftoppm")
    path = tmp_path / "book.pdf"
    path.write_bytes(letter_book)
    dpi = 40
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), str(tmp_path / "p")],
                   check=True, timeout=120)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == len(PdfReader(io.BytesIO(letter_book)).pages)
    sheets = plan_map_sheets(sample, "letter", None)
    width, height = PAPER_SIZES["letter"]
    room = style.ROOM_FILL[:3]
    for png, sheet in zip(pngs, sheets, strict=False):
        image = Image.open(png).convert("RGB")
        assert image.size == (round(width * dpi / 72), round(height * dpi / 72))
        f = sheet.frame
        inside = (f.x0 * dpi / 72 + 1, (height - f.y1) * dpi / 72 + 1,
                  f.x1 * dpi / 72 - 1, (height - f.y0) * dpi / 72 - 1)
        fill_in = fill_out = 0
        for y in range(0, image.height, 2):
            for x in range(0, image.width, 2):
                rgb = image.getpixel((x, y))
                assert isinstance(rgb, tuple)
                if max(abs(a - b) for a, b in zip(rgb, room, strict=True)) <= 6:
                    within = inside[0] <= x <= inside[2] and inside[1] <= y <= inside[3]
                    fill_in += within
                    fill_out += not within
        if sheet.ordinal is not None:
            assert fill_in > 50, png.name  # the plan is drawn where the frame is
        # nothing of the map strays over the margins, legend or title (legend swatch aside)
        assert fill_out < 30, (png.name, fill_out)
    for png in pngs[len(sheets):]:
        darkest, _ = Image.open(png).convert("L").getextrema()
        assert isinstance(darkest, int) and darkest < 100  # index pages carry text


def _render_page(pdf: bytes, page: int, dpi: int, tmp_path: Path, name: str) -> Image.Image:
    need("pdftoppm")
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", str(page), "-l", str(page),
                    "-singlefile", str(path), str(tmp_path / name)], check=True, timeout=60)
    return Image.open(tmp_path / f"{name}.png").convert("RGB")


def test_overview_is_drawn_over_the_imagery(sample: Campus, tmp_path: Path) -> None:
    from importers.imagery import prepare_imagery

    prepared = prepare_imagery(SAMPLE.parent / "imagery.tif", sample, max_bytes=50 * 2**20)
    imagery = tmp_path / f"{prepared.digest}.tif"
    imagery.write_bytes(prepared.data)
    books = [make_book(sample, size="letter", level=0, revision=3, imagery=tif,
                       printed_on=PRINTED, verified_on=VERIFIED) for tif in (None, imagery)]
    dpi = 36
    plain = _render_page(books[0], 1, dpi, tmp_path, "plain")
    over = _render_page(books[1], 1, dpi, tmp_path, "imagery")
    f = plan_map_sheets(sample, "letter", None)[0].frame
    height = PAPER_SIZES["letter"][1]
    frame = (round(f.x0 * dpi / 72) + 2, round((height - f.y1) * dpi / 72) + 2,
             round(f.x1 * dpi / 72) - 2, round((height - f.y0) * dpi / 72) - 2)
    from PIL import ImageChops

    changed = ImageChops.difference(plain, over).convert("L").point(lambda v: 255 * (v > 24))
    box_changed = changed.getbbox()
    assert box_changed is not None  # the imagery shows
    inside = changed.crop(frame)
    assert inside.histogram()[255] > 0.3 * inside.width * inside.height  # most of the map
    # and only inside the map frame: margins, legend and title are as without imagery
    assert box_changed[0] >= frame[0] - 3 and box_changed[1] >= frame[1] - 3
    assert box_changed[2] <= frame[2] + 3 and box_changed[3] <= frame[3] + 3


def test_overview_photo_lies_where_mapnik_would_draw_it(sample: Campus, tmp_path: Path) -> None:
    # the book places the photo as a JPEG itself; Mapnik drawing the same view with the
    # imagery layer is the oracle: the two agree best with no shift at all
    from PIL import ImageChops, ImageStat

    from importers.imagery import prepare_imagery
    from tiles.book import map_sheet_pdf

    prepared = prepare_imagery(SAMPLE.parent / "imagery.tif", sample, max_bytes=50 * 2**20)
    imagery = tmp_path / f"{prepared.digest}.tif"
    imagery.write_bytes(prepared.data)
    sheet = plan_map_sheets(sample, "letter", None)[0]
    dpi = 72
    book = _render_page(make_book(sample, size="letter", level=0, revision=1, imagery=imagery,
                                  printed_on=PRINTED), 1, dpi, tmp_path, "book")
    mapnik_map = _render_page(map_sheet_pdf(sample, sheet, imagery), 1, dpi, tmp_path, "map")
    x0 = round(sheet.frame.x0)
    y0 = round(PAPER_SIZES["letter"][1] - sheet.frame.y1)

    def difference(dx: int, dy: int) -> float:
        crop = book.crop((x0 + dx, y0 + dy, x0 + dx + mapnik_map.width,
                          y0 + dy + mapnik_map.height))
        return float(ImageStat.Stat(ImageChops.difference(crop, mapnik_map).convert("L"))
                     .mean[0])

    aligned = difference(0, 0)
    assert aligned < 15.0
    for shift in ((-1, 0), (1, 0), (0, -1), (0, 1), (2, 2)):
        assert aligned < difference(*shift), shift


def _gdal_corners(pdf: Path, page: int) -> tuple[list[float], int, int]:
    """GDAL's geotransform and raster size of one page (counted from 1)."""
    need("gdalinfo")
    out = subprocess.run(["gdalinfo", "-json", "--config", "GDAL_PDF_DPI", "72",
                          f"PDF:{page}:{pdf}"], check=True, capture_output=True, text=True,
                         timeout=60).stdout
    info = json.loads(out)
    return info["geoTransform"], info["size"][0], info["size"][1]


def _check_georeference(pdf: bytes, sheets: list[MapSheet], size: str, tmp_path: Path) -> None:
    path = tmp_path / f"book-{size}.pdf"
    path.write_bytes(pdf)
    width, height = PAPER_SIZES[size]
    for page, sheet in enumerate(sheets, 1):
        gt, w, h = _gdal_corners(path, page)
        assert (w, h) == (round(width), round(height))
        mpp = 1.0 / sheet.points_per_metre  # metres per point at this sheet's scale
        f, b = sheet.frame, sheet.bbox
        # where the page's corners should be, from the map frame's corners in the campus CRS
        top_left = (b.minx - f.x0 * mpp, b.maxy + (height - f.y1) * mpp)
        bottom_right = (b.maxx + (width - f.x1) * mpp, b.miny - f.y0 * mpp)
        # north up: any rotation term moves a corner by centimetres at most
        assert abs(gt[2]) * h < 0.1 and abs(gt[4]) * w < 0.1
        read_tl = (gt[0], gt[3])
        read_br = (gt[0] + gt[1] * w + gt[2] * h, gt[3] + gt[4] * w + gt[5] * h)
        for read, expected in ((read_tl, top_left), (read_br, bottom_right)):
            assert abs(read[0] - expected[0]) < 1.0 and abs(read[1] - expected[1]) < 1.0, (
                page, read, expected)


def test_every_map_page_is_georeferenced_within_a_metre(
        sample: Campus, letter_book: bytes, tmp_path: Path) -> None:
    _check_georeference(letter_book, plan_map_sheets(sample, "letter", None), "letter",
                        tmp_path)
    # and GDAL reads the campus's own projected CRS
    need("gdalinfo")
    path = tmp_path / "book-letter.pdf"
    out = subprocess.run(["gdalinfo", "-json", str(path)], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    wkt = json.loads(out)["coordinateSystem"]["wkt"]
    assert "Transverse Mercator" in wkt


@pytest.mark.parametrize("size", ["tabloid", "arch-d"])
def test_larger_paper(sample: Campus, size: PaperSize, tmp_path: Path) -> None:
    pdf = make_book(sample, size=size, level=0, revision=1, imagery=None, printed_on=PRINTED)
    reader = PdfReader(io.BytesIO(pdf))
    assert {(round(float(p.mediabox.width)), round(float(p.mediabox.height)))
            for p in reader.pages} == {tuple(round(v) for v in PAPER_SIZES[size])}
    sheets = plan_map_sheets(sample, size, 0)
    assert {s.ordinal for s in sheets} == {None, 0}
    letter = {s.building_id: s.scale for s in plan_map_sheets(sample, "letter", 0)}
    assert all(s.scale <= letter[s.building_id] for s in sheets)  # larger paper, larger scale
    _check_georeference(pdf, sheets, size, tmp_path)
    assert "Verification date not recorded" in pdf_text(pdf, tmp_path, 1)


def test_one_level(sample: Campus, tmp_path: Path) -> None:
    pdf = make_book(sample, size="letter", level=1, revision=1, imagery=None, printed_on=PRINTED)
    sheets = plan_map_sheets(sample, "letter", 1)
    assert [s.ordinal for s in sheets] == [None, 1]
    text = pdf_text(pdf, tmp_path, 2)
    assert "2nd Floor" in text and "214" in text and "101" not in text


def test_bad_size_or_level_is_refused(sample: Campus) -> None:
    with pytest.raises(InvalidQuery, match="letter, tabloid, arch-d"):
        make_book(sample, size="a4", level=None, revision=1,  # type: ignore[arg-type]
                  imagery=None, printed_on=PRINTED)
    with pytest.raises(LevelNotFound, match=r"no level 9; its levels are 0 \(1st Floor\)"):
        make_book(sample, size="letter", level=9, revision=1, imagery=None, printed_on=PRINTED)


def test_a_large_building_is_split_with_a_key_map(campus: Campus, tmp_path: Path) -> None:
    frame = LocalFrame(campus.crs)
    wide = dataclasses.replace(campus.buildings[0],
                               footprint=frame.to_wgs84(box(-140.0, -20.0, 140.0, 60.0)))
    big = dataclasses.replace(campus, buildings=(wide, *campus.buildings[1:]))
    sheets = [s for s in plan_map_sheets(big, "letter", 0) if s.building_id == wide.id]
    assert len(sheets) > 1
    area = page_layout("letter").map_area
    for s in sheets:
        assert s.scale == MIN_LEGIBLE_SCALE and s.parts == len(sheets)
        assert s.frame.width <= area.width + 1e-6 and s.frame.height <= area.height + 1e-6
        # the printed scale is exact: frame points per metre of bbox
        assert (s.frame.width / (s.bbox.maxx - s.bbox.minx)) == pytest.approx(
            POINTS_PER_METRE / s.scale)
    # together the sheets cover the whole building
    from shapely.ops import unary_union

    covered = unary_union([box(*s.bbox) for s in sheets])
    assert covered.contains(frame.to_local(wide.footprint))
    pdf = make_book(big, size="letter", level=0, revision=1, imagery=None, printed_on=PRINTED)
    text = pdf_text(pdf, tmp_path)
    assert f"sheet 1 of {len(sheets)}" in text and f"Key map: sheet {len(sheets)} of" in text
    _check_georeference(pdf, plan_map_sheets(big, "letter", 0), "letter", tmp_path)


# --- CLI --------------------------------------------------------------------------------------


def test_cli_print(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["import", "--publish", str(SAMPLE)]) == 0
    out = tmp_path / "book.pdf"
    assert cli.main(["print", "lincoln-ridge", "--size", "letter", "--level", "0",
                     "-o", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    reader = PdfReader(out)
    assert {tuple(round(v) for v in (p.mediabox.width, p.mediabox.height))
            for p in reader.pages} == {(792, 612)}
    assert "map book, letter, level 0" in capsys.readouterr().err
    # the walk-through date of campus.toml travels through the store to the title band
    assert "Verified on 2026-08-14" in pdf_text(out.read_bytes(), tmp_path, 1)
    store = SqlCampusStore(f"sqlite:///{data_dir / 'gridmap.db'}")
    try:
        entry = store.audit_log(limit=1)[0]
    finally:
        store.close()
    assert entry.action == "print" and entry.campus_id == "lincoln-ridge"
    assert tuple(PAPER_SIZES) == cli.PAPER_SIZE_NAMES


@pytest.mark.parametrize(("args", "message"), [
    (["--level", "7"], "has no level 7; its levels are 0 (1st Floor), 1 (2nd Floor)"),
    (["--size", "a4"], "invalid choice: 'a4'"),
    (["--level", "two"], "'two' is not a level ordinal"),
])
def test_cli_print_refuses_bad_size_or_level(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str) -> None:
    assert cli.main(["import", "--publish", str(SAMPLE)]) == 0
    capsys.readouterr()
    out = tmp_path / "book.pdf"
    try:
        code = cli.main(["print", "lincoln-ridge", *args, "-o", str(out)])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --- API --------------------------------------------------------------------------------------


def test_book_route(viewer: TestClient, store: SqlCampusStore, campus: Campus) -> None:
    r = viewer.get(f"/campuses/{campus.id}/book.pdf", params={"size": "tabloid", "level": 1})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "private, no-store"
    assert f'filename="{campus.id}-book-tabloid-level-1.pdf"' in r.headers[
        "content-disposition"]
    reader = PdfReader(io.BytesIO(r.content))
    assert round(float(reader.pages[0].mediabox.width)) == round(PAPER_SIZES["tabloid"][0])
    entry = store.audit_log(limit=1)[0]
    assert (entry.action, entry.campus_id) == ("book", campus.id)
    assert "tabloid, level 1" in entry.detail
    # the same book again is the same bytes (kept), and revalidates to a 304
    again = viewer.get(f"/campuses/{campus.id}/book.pdf", params={"size": "tabloid", "level": 1})
    assert again.content == r.content and again.headers["etag"] == r.headers["etag"]
    same = viewer.get(f"/campuses/{campus.id}/book.pdf", params={"size": "tabloid", "level": 1},
                      headers={"If-None-Match": r.headers["etag"]})
    assert same.status_code == 304
    assert "not modified" in store.audit_log(limit=1)[0].detail


def test_book_route_refusals(client: TestClient, viewer: TestClient, campus: Campus) -> None:
    assert viewer.get(f"/campuses/{campus.id}/book.pdf", params={"size": "a4"}).status_code == 422
    r = viewer.get(f"/campuses/{campus.id}/book.pdf", params={"level": 5})
    assert r.status_code == 404 and "has no level 5" in r.json()["error"]["message"]
    assert viewer.get(f"/campuses/{campus.id}/book.pdf",
                      params={"level": 10**9}).status_code == 422
    assert viewer.get("/campuses/nowhere/book.pdf").status_code == 404
    anonymous = TestClient(client.app, base_url="http://127.0.0.1")
    assert anonymous.get(f"/campuses/{campus.id}/book.pdf").status_code == 401


def test_a_campus_with_nothing_to_list_says_so(campus: Campus, tmp_path: Path) -> None:
    bare = dataclasses.replace(campus, amenities=(), openings=(),
                               name="École Saint-Étienne \u2013 a very long campus name " * 3)
    pdf = make_book(bare, size="letter", level=None, revision=1, imagery=None,
                    printed_on=PRINTED)
    text = pdf_text(pdf, tmp_path)
    assert "École Saint-Étienne" in text  # beyond Latin-1 text stays text
    assert "None recorded on this map." in text  # the empty door index
    assert text.count("none recorded on this map") == 7  # every quick reference group


def _photos(pdf: bytes) -> int:
    """How many JPEG images the book's first page draws."""
    from pypdf.generic import DictionaryObject

    page = PdfReader(io.BytesIO(pdf)).pages[0]
    resources = page["/Resources"].get_object()
    assert isinstance(resources, DictionaryObject)
    xobjects = resources.get("/XObject", DictionaryObject()).get_object()
    assert isinstance(xobjects, DictionaryObject)
    return sum(1 for ref in xobjects.values()
               if ref.get_object().get("/Filter") == "/DCTDecode")


def test_book_route_prints_the_campus_imagery(
        client: TestClient, store: SqlCampusStore, settings: Settings, viewer_token: str,
        sample: Campus) -> None:
    from api.imagery import attach_imagery

    store.save_revision(sample, source="tests")
    client.headers["Authorization"] = f"Bearer {viewer_token}"
    url = f"/campuses/{sample.id}/book.pdf"
    before = client.get(url, params={"level": 1})
    assert before.status_code == 200 and _photos(before.content) == 0
    attach_imagery(store, settings, sample.id, SAMPLE.parent / "imagery.tif",
                   source_name="imagery.tif", actor="tests", audit=lambda action, detail: None)
    after = client.get(url, params={"level": 1})
    assert after.status_code == 200 and _photos(after.content) == 1
    assert after.headers["etag"] != before.headers["etag"]  # kept by imagery too


def test_quick_reference_stays_on_one_page(campus: Campus, tmp_path: Path) -> None:
    frame = LocalFrame(campus.crs)
    aed = next(a for a in campus.amenities if a.kind is AmenityKind.AED)
    many = tuple(dataclasses.replace(aed, id=f"aed-{i}", name=f"AED {i}",
                                     geometry=frame.to_wgs84(Point(-25.0 + i % 50, 0.0)))
                 for i in range(400))
    crowded = dataclasses.replace(campus, amenities=(*campus.amenities, *many))
    pdf = make_book(crowded, size="letter", level=0, revision=1, imagery=None,
                    printed_on=PRINTED)
    reader = PdfReader(io.BytesIO(pdf))
    last = pdf_text(pdf, tmp_path, len(reader.pages))
    assert "Quick reference" in last
    # every kind keeps its place; the flood of AEDs is cut, saying how many are left out
    for heading in ("Knox boxes", "Utility shutoffs", "AEDs", "Trauma kits",
                    "Fire alarm panels", "Rally points", "Staging areas"):
        assert heading in last
    left = re.search(r"and (\d+) more: see the building sheets", last)
    assert left is not None
    shown = len(re.findall(r"AED \d+\b", last))
    assert shown + int(left.group(1)) >= 400  # nothing silently lost
    assert "Quick reference" not in pdf_text(pdf, tmp_path, len(reader.pages) - 1)


# --- paper's labels: every exterior door and room number on its map -----------------------------


def frame_words(pdf: bytes, tmp_path: Path, page: int, sheet: MapSheet,
                size: PaperSize) -> list[str]:
    """The words pdftotext finds inside a map page's frame (its margins' grid letters and row
    numbers, title and panel left out)."""
    need("pdftotext")
    path = tmp_path / f"frame-{size}.pdf"
    path.write_bytes(pdf)
    f, height = sheet.frame, PAPER_SIZES[size][1]
    crop = ["-x", str(math.floor(f.x0)), "-y", str(math.floor(height - f.y1)),
            "-W", str(math.ceil(f.width)), "-H", str(math.ceil(f.height))]
    text = subprocess.run(["pdftotext", "-r", "72", "-f", str(page), "-l", str(page), *crop,
                           str(path), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    return re.findall(r"\S+", text)


@pytest.fixture(scope="module")
def books(sample: Campus, letter_book: bytes) -> dict[str, bytes]:
    made = {size: make_book(sample, size=size, level=None, revision=3, imagery=None,
                            printed_on=PRINTED) for size in ("tabloid", "arch-d")}
    return {"letter": letter_book, **made}


@pytest.mark.parametrize("size", ["letter", "tabloid", "arch-d"])
def test_overview_writes_every_exterior_door_number_and_building(
        sample: Campus, books: dict[str, bytes], size: PaperSize, tmp_path: Path) -> None:
    sheet = plan_map_sheets(sample, size, None)[0]
    assert sheet.ordinal is None
    words = frame_words(books[size], tmp_path, 1, sheet, size)
    doors = {d.number for d in sample.exterior_doors() if d.number}
    assert doors and doors <= set(words), sorted(doors - set(words))
    text = " ".join(words)
    # every door's number, not only one door per number (the sample numbers doors per
    # building); pdftotext may join a number to a building letter beside it ("C3")
    for number in doors:
        found = len(re.findall(rf"(?<![\d-]){re.escape(number)}(?!\d)", text))
        assert found >= sum(d.number == number for d in sample.exterior_doors()), number
    for building in sample.buildings:
        assert re.search(rf"(?<!\w){re.escape(building.short_name)}(?![A-Za-z])", text)
        assert " ".join(building.name.split()) in text, building.name


@pytest.mark.parametrize("size", ["letter", "tabloid", "arch-d"])
def test_every_level_sheet_writes_every_room_number_of_its_level(
        sample: Campus, books: dict[str, bytes], size: PaperSize, tmp_path: Path) -> None:
    ordinal_of = {lv.id: (lv.building_id, lv.ordinal) for lv in sample.levels}
    for page, sheet in enumerate(plan_map_sheets(sample, size, None), 1):
        if sheet.ordinal is None:
            continue
        assert sheet.parts == 1  # the sample's levels each fit one sheet
        numbers = {u.number for u in sample.units if u.number
                   and ordinal_of[u.level_id] == (sheet.building_id, sheet.ordinal)}
        words = set(frame_words(books[size], tmp_path, page, sheet, size))
        assert numbers and numbers <= words, (size, sheet.title, sorted(numbers - words))
        assert "not shown on this sheet" not in pdf_text(books[size], tmp_path, page)


def word_boxes(pdf: bytes, tmp_path: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Every word pdftotext finds on a one-page PDF with its box (points)."""
    need("pdftotext")
    path = tmp_path / "map.pdf"
    path.write_bytes(pdf)
    xml = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    return [(m[4], (float(m[0]), float(m[1]), float(m[2]), float(m[3]))) for m in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        xml)]


def test_printed_level_sheets_name_rooms_under_their_numbers(sample: Campus,
                                                             tmp_path: Path) -> None:
    from tiles.book import map_sheet_pdf

    sheets = [s for s in plan_map_sheets(sample, "letter", None) if s.ordinal is not None]
    numbers = {u.number for u in sample.units if u.number}
    names = {w for u in sample.units for w in u.name.split()} - numbers
    shown = 0
    for sheet in sheets:
        boxes = word_boxes(map_sheet_pdf(sample, sheet, None), tmp_path)
        number_boxes = [box(*b) for word, b in boxes if word in numbers]
        name_boxes = [box(*b) for word, b in boxes if word in names and word not in numbers]
        shown += len(name_boxes)
        # a name never lies over a number (boxes shrunk by a glyph's side bearing)
        for n in number_boxes:
            for m in name_boxes:
                assert n.buffer(-0.5).intersection(m.buffer(-0.5)).area == 0
    # on screen names start at z20; on letter (zoom ~19) the printed plans still carry them
    assert shown >= len(sheets) * 5


def test_a_room_too_small_for_its_number_is_listed_on_its_sheet(sample: Campus,
                                                                tmp_path: Path) -> None:
    from tiles.book import numbers_not_shown

    def closet(number: str) -> Unit:
        room = next(u for u in sample.units if u.number == number)
        c = room.geometry.centroid
        return dataclasses.replace(room, geometry=box(c.x - 2e-6, c.y - 2e-6, c.x + 2e-6,
                                                      c.y + 2e-6))

    # two rooms of one level shrunk to closets a few decimetres across, listed out of order
    closets = (closet("116"), closet("110"))
    tiny = dataclasses.replace(sample, units=(*closets, *(
        u for u in sample.units if u.number not in ("110", "116"))))
    level = next(lv for lv in tiny.levels if lv.id == closets[0].level_id)
    sheets = plan_map_sheets(tiny, "letter", level.ordinal)
    page, sheet = next((i, s) for i, s in enumerate(sheets, 1)
                       if s.building_id == level.building_id)
    assert numbers_not_shown(tiny, sheet) == ("110", "116")  # in the room index's order
    pdf = make_book(tiny, size="letter", level=level.ordinal, revision=3, imagery=None,
                    printed_on=PRINTED)
    assert "Numbers not shown on this sheet: 110, 116." in pdf_text(pdf, tmp_path, page)
    # the other rooms keep their numbers on the map
    others = {u.number for u in tiny.units if u.number and u.level_id == level.id} - {
        "110", "116"}
    assert others and others <= set(frame_words(pdf, tmp_path, page, sheet, "letter"))


def test_making_a_book_prepares_no_shared_geometry(sample: Campus, letter_book: bytes) -> None:
    """The book lays out its sheets in threads, beside lookups and tiles on the same campus:
    preparing a shared geometry while another thread reads it crashes GEOS, so the label
    layout prepares copies only (the campus's own and the cached map features stay as made)."""
    import shapely

    from tiles.cartography import features_for

    assert letter_book  # the module's book was made with this campus
    assert not any(shapely.is_prepared(u.geometry) for u in sample.units)
    features = features_for(sample, sample.crs)
    rooms = [room for shapes in features.rooms_of.values() for room in shapes]
    assert rooms
    assert not any(shapely.is_prepared(room.geom) for room in rooms)
