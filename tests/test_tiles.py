"""Raster tiles of the small test campus, checked in their pixels."""

from __future__ import annotations

import dataclasses
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray
from PIL import Image
from pyproj import CRS, Transformer
from shapely.geometry import Point

from gridmap import grid as gridlib
from gridmap.errors import InvalidModel, InvalidQuery, LevelNotFound
from gridmap.model import Campus
from tests.campus_factory import small_campus
from tiles import raster, style
from tiles.raster import CampusDrawing, drawing_for, render_tile, tile_bounds

Pixels = NDArray[np.int16]


@pytest.fixture(scope="module")
def campus() -> Campus:
    """The small campus with its exterior doors numbered 1..6 (as door numbering would)."""
    c = small_campus()
    doors = tuple(dataclasses.replace(o, number=str(i + 1)) for i, o in enumerate(c.openings))
    return dataclasses.replace(c, openings=doors)


class Tiler:
    """Finds the tile and pixel of a local-metre point at a zoom."""

    def __init__(self, campus: Campus) -> None:
        self.to_3857 = Transformer.from_crs(CRS.from_user_input(campus.crs), CRS.from_epsg(3857),
                                            always_xy=True)

    def global_px(self, x: float, y: float, z: int) -> tuple[float, float]:
        mx, my = self.to_3857.transform(x, y)
        minx, _, maxx, maxy = tile_bounds(0, 0, 0)
        res = (maxx - minx) / (256 * (1 << z))
        return (mx - minx) / res, (maxy - my) / res

    def locate(self, x: float, y: float, z: int) -> tuple[int, int, float, float]:
        """(tile x, tile y, pixel column, pixel row) of local point (x, y)."""
        gx, gy = self.global_px(x, y, z)
        tx, ty = int(gx // 256), int(gy // 256)
        return tx, ty, gx - tx * 256, gy - ty * 256


def pixels(png: bytes) -> Pixels:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    assert img.size == (256, 256)
    return np.asarray(img.convert("RGBA"), dtype=np.int16)


def near(px: Pixels, colour: tuple[int, int, int, int], tol: int = 40) -> NDArray[np.bool_]:
    """Mask of opaque pixels within ``tol`` (per channel) of ``colour``."""
    diff = np.abs(px[..., :3] - np.array(colour[:3], dtype=np.int16)).max(axis=-1)
    mask: NDArray[np.bool_] = (diff <= tol) & (px[..., 3] > 200)
    return mask


def test_grid_lines_where_the_grid_spec_puts_them(campus: Campus) -> None:
    tiler, spec, z = Tiler(campus), campus.grid, 19
    ext = gridlib.extent(spec)
    s = spec.cell_size_m
    # the tile holding the middle of the grid
    mid_x, mid_y = (ext.minx + ext.maxx) / 2, (ext.miny + ext.maxy) / 2
    tx, ty, _, _ = tiler.locate(mid_x, mid_y, z)
    px = pixels(render_tile(campus, 0, z, tx, ty))
    grid_mask = near(px, style.GRID_COLOUR, 30)
    checked = 0
    for c in range(spec.columns + 1):
        gx, _ = tiler.global_px(ext.minx + c * s, mid_y, z)
        col = gx - tx * 256
        if not 4 <= col <= 251:
            continue
        # the rows of this tile that lie inside the grid extent
        _, top = tiler.global_px(ext.minx + c * s, ext.maxy, z)
        _, bottom = tiler.global_px(ext.minx + c * s, ext.miny, z)
        r0, r1 = max(0, int(top - ty * 256) + 2), min(256, int(bottom - ty * 256) - 2)
        assert r1 - r0 > 100
        ci = round(col)
        on_line = grid_mask[r0:r1, ci - 1: ci + 2].any(axis=1)
        assert on_line.mean() > 0.85, f"grid line {c} at pixel column {col:.1f} is missing"
        # half a cell away there is no vertical grid line (only crossings and cell labels)
        half = (tiler.global_px(ext.minx + (c + 0.5) * s, mid_y, z)[0] - tx * 256)
        if 2 <= half <= 253:
            hi = round(half)
            assert grid_mask[r0:r1, hi - 1: hi + 2].any(axis=1).mean() < 0.2
        checked += 1
    assert checked >= 2  # a 25 m cell is ~230 px at z19: at least two lines cross a tile


def test_grid_edge_labels_drawn(campus: Campus) -> None:
    """Column letters above the grid's top edge use the grid colour."""
    tiler, spec, z = Tiler(campus), campus.grid, 18
    ext = gridlib.extent(spec)
    cx = ext.minx + 0.5 * spec.cell_size_m
    tx, ty, col, row = tiler.locate(cx, ext.maxy, z)
    if row < 20:  # the label sits just above the edge: it may be in the tile above
        ty, row = ty - 1, row + 256
    px = pixels(render_tile(campus, 0, z, tx, ty))
    c, r = round(col), round(row)
    box = near(px, style.GRID_LABEL_COLOUR, 40)[max(0, r - 22): r - 3, c - 8: c + 9]
    assert box.sum() >= 8, "column letter A is missing above the grid"


def test_room_fill_inside_a_room(campus: Campus) -> None:
    tiler = Tiler(campus)
    # room 214 (2nd floor) spans local x -20..-10, y -20..-5; a point near its south-east corner
    tx, ty, col, row = tiler.locate(-12.0, -17.0, 20)
    for ordinal in (0, 1):
        px = pixels(render_tile(campus, ordinal, 20, tx, ty))
        patch = near(px, style.ROOM_FILL, 6)[round(row) - 2: round(row) + 3,
                                              round(col) - 2: round(col) + 3]
        assert patch.all(), f"room fill missing on ordinal {ordinal}"


def test_hallway_fill_differs_and_only_on_its_level(campus: Campus) -> None:
    tiler = Tiler(campus)
    tx, ty, col, row = tiler.locate(8.0, 2.0, 20)  # in the ground-floor corridor
    c, r = round(col), round(row)
    ground = pixels(render_tile(campus, 0, 20, tx, ty))
    upper = pixels(render_tile(campus, 1, 20, tx, ty))
    assert near(ground, style.HALLWAY_FILL, 6)[r - 2: r + 3, c - 2: c + 3].all()
    assert not near(upper, style.HALLWAY_FILL, 6)[r - 2: r + 3, c - 2: c + 3].any()
    assert near(upper, style.BUILDING_FILL, 6)[r - 2: r + 3, c - 2: c + 3].all()


def _label_patch(campus: Campus, ordinal: int, labels: bool = True) -> Pixels:
    tiler = Tiler(campus)
    lx, ly = -15.0, -12.5  # centre of room 214 (level 1) / 104 (level 0)
    tx, ty, col, row = tiler.locate(lx, ly, 20)
    px = pixels(render_tile(campus, ordinal, 20, tx, ty, room_labels=labels))
    c, r = round(col), round(row)
    return px[max(0, r - 30): r + 31, max(0, c - 30): c + 31]


def test_room_number_differs_between_levels(campus: Campus) -> None:
    ground, upper = _label_patch(campus, 0), _label_patch(campus, 1)
    dark_ground = near(ground, style.LABEL_COLOUR, 60)
    dark_upper = near(upper, style.LABEL_COLOUR, 60)
    assert dark_ground.sum() > 20 and dark_upper.sum() > 20
    assert (dark_ground != dark_upper).sum() > 10  # "104" on the ground floor, "214" above
    unlabelled = near(_label_patch(campus, 1, labels=False), style.LABEL_COLOUR, 60)
    assert unlabelled.sum() < dark_upper.sum() / 4


def test_ordinals_render_differently(campus: Campus) -> None:
    tiler = Tiler(campus)
    tx, ty, _, _ = tiler.locate(0.0, 0.0, 19)
    assert render_tile(campus, 0, 19, tx, ty) != render_tile(campus, 1, 19, tx, ty)


def test_building_without_the_level_is_grey(campus: Campus) -> None:
    tiler = Tiler(campus)
    tx, ty, col, row = tiler.locate(60.0, -10.0, 20)  # in the gym, which has no 2nd floor
    c, r = round(col), round(row)
    upper = pixels(render_tile(campus, 1, 20, tx, ty))
    ground = pixels(render_tile(campus, 0, 20, tx, ty))
    assert near(upper, style.OTHER_LEVEL_FILL, 6)[r - 2: r + 3, c - 2: c + 3].all()
    assert near(ground, style.ROOM_FILL, 6)[r - 2: r + 3, c - 2: c + 3].all()


def test_door_symbol_with_number(campus: Campus) -> None:
    tiler = Tiler(campus)
    tx, ty, col, row = tiler.locate(-30.0, 0.0, 20)  # door 2, west end of the corridor
    px = pixels(render_tile(campus, 0, 20, tx, ty))
    c, r = round(col), round(row)
    around = px[r - 8: r + 9, c - 8: c + 9]
    assert near(around, style.DOOR.fill, 30).sum() >= 40
    assert near(around, style.DOOR.text_colour, 30).sum() >= 4  # the white "2"
    # on the upper floor there is no door there
    upper = pixels(render_tile(campus, 1, 20, tx, ty))[r - 8: r + 9, c - 8: c + 9]
    assert near(upper, style.DOOR.fill, 30).sum() == 0


def test_knox_box_and_aed_symbols(campus: Campus) -> None:
    tiler = Tiler(campus)
    knox = style.AMENITY_SYMBOLS[next(a.kind for a in campus.amenities
                                      if a.kind.value == "knox_box")]
    tx, ty, col, row = tiler.locate(2.0, -21.0, 21)
    px = pixels(render_tile(campus, 0, 21, tx, ty))
    c, r = round(col), round(row)
    assert near(px[r - 6: r + 7, c - 6: c + 7], knox.fill, 30).sum() >= 20
    aed = style.AMENITY_SYMBOLS[next(a.kind for a in campus.amenities if a.kind.value == "aed")]
    tx, ty, col, row = tiler.locate(10.0, 4.0, 21)  # the 2nd-floor AED
    c, r = round(col), round(row)
    upper = pixels(render_tile(campus, 1, 21, tx, ty))
    ground = pixels(render_tile(campus, 0, 21, tx, ty))
    assert near(upper[r - 6: r + 7, c - 6: c + 7], aed.fill, 30).sum() >= 20
    assert near(ground[r - 6: r + 7, c - 6: c + 7], aed.fill, 30).sum() == 0


def test_tile_away_from_campus_is_transparent_and_small(campus: Campus) -> None:
    tiler = Tiler(campus)
    tx, ty, _, _ = tiler.locate(0.0, 0.0, 19)
    png = render_tile(campus, 0, 19, tx + 40, ty - 25)
    assert len(png) < 1000
    assert (pixels(png)[..., 3] == 0).all()
    # and the world tile z0 holds the campus, so it is drawn (not empty)
    assert (pixels(render_tile(campus, 0, 0, 0, 0))[..., 3] > 0).any()


def test_unknown_level(campus: Campus) -> None:
    with pytest.raises(LevelNotFound, match="ordinal 7"):
        render_tile(campus, 7, 19, 0, 0)


@pytest.mark.parametrize(("z", "x", "y"), [(-1, 0, 0), (25, 0, 0), (3, 8, 0), (3, 0, -1),
                                           (19, 1 << 19, 5)])
def test_tile_out_of_range(campus: Campus, z: int, x: int, y: int) -> None:
    with pytest.raises(InvalidQuery) as err:
        render_tile(campus, 0, z, x, y)
    assert isinstance(err.value, ValueError)


def test_size_out_of_range(campus: Campus) -> None:
    with pytest.raises(InvalidQuery):
        render_tile(campus, 0, 19, 0, 0, size=4096)


def test_size_512(campus: Campus) -> None:
    tiler = Tiler(campus)
    tx, ty, _, _ = tiler.locate(0.0, 0.0, 19)
    img = Image.open(io.BytesIO(render_tile(campus, 0, 19, tx, ty, size=512)))
    assert img.size == (512, 512)


def test_drawing_is_cached_per_campus(campus: Campus) -> None:
    assert drawing_for(campus) is drawing_for(campus)
    other = dataclasses.replace(campus)
    assert drawing_for(other) is not drawing_for(campus)
    assert isinstance(drawing_for(other), CampusDrawing)


def test_failed_drawing_is_shared_with_waiters_then_retried(
    campus: Campus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One build per campus at a time: its failure reaches every caller waiting on it, and the
    next call after that builds again (nothing failed is cached)."""
    fresh = dataclasses.replace(campus)  # not in the drawing cache yet
    built: list[Campus] = []
    all_asked = threading.Event()

    class CountingBuilds(dict[Any, Any]):
        """raster's builds-in-progress map: each caller asks it once (under the cache lock)
        whether a build is running; after all 12 have asked, each holds the build's Future."""

        asked = 0

        def get(self, key: Any, default: Any = None) -> Any:
            CountingBuilds.asked += 1
            if CountingBuilds.asked >= 12:
                all_asked.set()
            return super().get(key, default)

    class FailingDrawing:
        def __init__(self, c: Campus) -> None:
            built.append(c)
            assert all_asked.wait(timeout=60)  # every thread has joined this build (no sleep)
            raise RuntimeError("drawing the campus failed")

    monkeypatch.setattr(raster, "CampusDrawing", FailingDrawing)
    monkeypatch.setattr(raster, "_building", CountingBuilds())
    barrier = threading.Barrier(12)

    def call() -> object:
        barrier.wait()
        try:
            return drawing_for(fresh)
        except RuntimeError as exc:
            return exc

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda _: call(), range(12)))
    assert len(built) == 1
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError, match="drawing the campus failed"):
        drawing_for(fresh)
    assert len(built) == 2

    monkeypatch.setattr(raster, "CampusDrawing", CampusDrawing)
    assert drawing_for(fresh) is drawing_for(fresh)


def test_labels_straddling_tile_edges_join_up(campus: Campus) -> None:
    """Neighbouring tiles agree along their shared edge: nothing is cut off at a seam."""
    tiler = Tiler(campus)
    z = 19
    tx, ty, _, _ = tiler.locate(0.0, 0.0, z)
    stitched = np.zeros((512, 512, 4), dtype=np.int16)
    for dx in (0, 1):
        for dy in (0, 1):
            stitched[dy * 256:(dy + 1) * 256, dx * 256:(dx + 1) * 256] = pixels(
                render_tile(campus, 0, z, tx + dx, ty + dy))
    for a, b in ((stitched[:, 255], stitched[:, 256]), (stitched[255, :], stitched[256, :])):
        differs = np.abs(a - b).max(axis=-1) > 100
        assert differs.mean() < 0.05


def test_concurrent_renders_agree(campus: Campus) -> None:
    """Tiles rendered from many threads at once are identical to serial renders."""
    from concurrent.futures import ThreadPoolExecutor

    tiler = Tiler(campus)
    tx, ty, _, _ = tiler.locate(0.0, 0.0, 20)
    jobs = [(o, tx + dx, ty + dy) for o in (0, 1) for dx in range(-2, 3) for dy in range(-1, 2)]
    serial = [render_tile(campus, o, 20, x, y) for o, x, y in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda j: render_tile(campus, j[0], 20, j[1], j[2]), jobs * 3))
    assert parallel == serial * 3


def test_without_dejavu_font_falls_back(campus: Campus, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from PIL import ImageFont

    import tiles.raster as raster

    real = ImageFont.truetype

    def missing(font: object, *args: Any, **kwargs: Any) -> ImageFont.FreeTypeFont:
        if isinstance(font, str):  # a font file by name: as if fonts-dejavu were not installed
            raise OSError("cannot open resource")
        return real(font, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ImageFont, "truetype", missing)
    monkeypatch.setattr(raster, "_fonts", threading.local())
    tiler = Tiler(campus)
    tx, ty, _, _ = tiler.locate(-15.0, -12.5, 20)
    px = pixels(render_tile(campus, 1, 20, tx, ty))
    assert near(px, style.LABEL_COLOUR, 60).sum() > 20


def test_room_labels_sit_at_the_lookup_label_point(campus: Campus) -> None:
    """Each room's label is anchored where lookup puts its primary cell: ``grid.label_point``."""
    to_local = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_user_input(campus.crs),
                                    always_xy=True)
    to_3857 = Tiler(campus).to_3857
    drawing = CampusDrawing(campus)
    by_number = {r.number: r for lv in drawing.levels.values() for r in lv.rooms}
    assert len(by_number) == len(campus.units)
    for unit in campus.units:
        local = shapely.transform(unit.geometry, lambda xy: np.column_stack(
            to_local.transform(xy[:, 0], xy[:, 1])))
        p = gridlib.label_point(local)
        want = to_3857.transform(p.x, p.y)
        assert by_number[unit.number].label_at == pytest.approx(want, abs=1e-6)


def test_door_without_a_point_is_refused(campus: Campus) -> None:
    doors = (dataclasses.replace(campus.openings[0], geometry=Point()), *campus.openings[1:])
    with pytest.raises(InvalidModel, match="single, non-empty point"):
        CampusDrawing(dataclasses.replace(campus, openings=doors))
