"""Raster tiles of the small test campus, checked in their pixels."""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
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


def _around(px: Pixels, col: float, row: float, reach: int) -> Pixels:
    c, r = round(col), round(row)
    return px[max(0, r - reach): r + reach + 1, max(0, c - reach): c + reach + 1]


def test_knox_box_and_aed_symbols(campus: Campus) -> None:
    """A symbol sits on its point, or beside it when a label holds the point: look within
    two symbol widths."""
    tiler = Tiler(campus)
    knox = style.AMENITY_SYMBOLS[next(a.kind for a in campus.amenities
                                      if a.kind.value == "knox_box")]
    tx, ty, col, row = tiler.locate(2.0, -21.0, 21)
    px = pixels(render_tile(campus, 0, 21, tx, ty))
    assert near(_around(px, col, row, 50), knox.fill, 30).sum() >= 40
    aed = style.AMENITY_SYMBOLS[next(a.kind for a in campus.amenities if a.kind.value == "aed")]
    tx, ty, col, row = tiler.locate(10.0, 4.0, 21)  # the 2nd-floor AED
    upper = pixels(render_tile(campus, 1, 21, tx, ty))
    ground = pixels(render_tile(campus, 0, 21, tx, ty))
    assert near(_around(upper, col, row, 50), aed.fill, 30).sum() >= 40
    assert near(_around(ground, col, row, 50), aed.fill, 30).sum() == 0


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

    tiler = Tiler(campus)
    tx, ty, _, _ = tiler.locate(0.0, 0.0, 20)
    jobs = [(o, tx + dx, ty + dy) for o in (0, 1) for dx in range(-2, 3) for dy in range(-1, 2)]
    serial = [render_tile(campus, o, 20, x, y) for o, x, y in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda j: render_tile(campus, j[0], 20, j[1], j[2]), jobs * 3))
    assert parallel == serial * 3


def test_every_font_of_the_style_is_bundled_with_mapnik() -> None:
    """The fonts come with Mapnik's wheel (DejaVu); a face it lacks would draw no text."""
    from tiles.cartography import mapnik_module

    faces = set(mapnik_module().FontEngine.face_names())
    for face in (style.FONT_REGULAR, style.FONT_BOLD, style.FONT_CONDENSED_BOLD):
        assert face in faces


def test_room_labels_sit_at_the_lookup_label_point(campus: Campus) -> None:
    """Each room's label is anchored where lookup puts its primary cell: ``grid.label_point``."""
    to_local = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_user_input(campus.crs),
                                    always_xy=True)
    to_3857 = Tiler(campus).to_3857
    drawing = CampusDrawing(campus)
    label_at = drawing.features.room_label_at
    assert len(label_at) == len(campus.units)
    for unit in campus.units:
        local = shapely.transform(unit.geometry, lambda xy: np.column_stack(
            to_local.transform(xy[:, 0], xy[:, 1])))
        p = gridlib.label_point(local)
        want = to_3857.transform(p.x, p.y)
        assert label_at[unit.id] == pytest.approx(want, abs=1e-6)


def test_door_without_a_point_is_refused(campus: Campus) -> None:
    doors = (dataclasses.replace(campus.openings[0], geometry=Point()), *campus.openings[1:])
    with pytest.raises(InvalidModel, match="single, non-empty point"):
        CampusDrawing(dataclasses.replace(campus, openings=doors))


# --- the sample campus: golden images, and no room number under a symbol ------------------------

GOLDEN = Path(__file__).resolve().parent / "golden"
#: Set to 1 to (re)write the golden tiles from the current renderer; then look at them.
UPDATE_GOLDEN = os.environ.get("GRIDMAP_UPDATE_GOLDEN") == "1"
#: A pixel differs when a channel is off by more than this (anti-aliasing, zlib, FreeType)...
PIXEL_TOLERANCE = 24
#: ... and a tile matches its golden while no more than this share of its pixels differ.
MAX_DIFFERING_SHARE = 0.004
SAMPLE_MANIFEST = Path(__file__).resolve().parent.parent / "data/samples/lincoln_ridge/campus.toml"


@pytest.fixture(scope="module")
def sample() -> Campus:
    from importers.campus import import_campus

    return import_campus(SAMPLE_MANIFEST).campus


def _sample_tile(sample: Campus, x: float, y: float, z: int) -> tuple[int, int]:
    """The tile at zoom z holding the sample campus's local point (x, y)."""
    tx, ty, _, _ = Tiler(sample).locate(x, y, z)
    return tx, ty


#: (name, level ordinal, zoom, scale, local point the tile holds): a few tiles per zoom,
#: over building A (main entrance, classrooms, the 2nd floor) and the gym.
GOLDEN_TILES = [
    ("z17_ground", 0, 17, 1, (0.0, 0.0)),
    ("z18_ground", 0, 18, 1, (0.0, 0.0)),
    ("z18_gym", 0, 18, 1, (120.0, 0.0)),
    ("z19_entrance", 0, 19, 1, (2.0, -15.0)),
    ("z19_upper", 1, 19, 1, (-20.0, 0.0)),
    ("z20_entrance", 0, 20, 1, (2.0, -15.0)),
    ("z20_upper_2x", 1, 20, 2, (-20.0, -10.0)),
    ("z21_office", 0, 21, 1, (-5.0, -10.0)),
    ("z22_door", 0, 22, 1, (-46.5, -1.2)),
    ("z22_door_2x", 0, 22, 2, (51.1, -1.2)),
]


def _rgba(png: bytes) -> Pixels:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.int16)


@pytest.mark.parametrize(("name", "ordinal", "z", "scale", "point"), GOLDEN_TILES,
                         ids=[t[0] for t in GOLDEN_TILES])
def test_tile_matches_its_golden_image(sample: Campus, name: str, ordinal: int, z: int,
                                       scale: int, point: tuple[float, float]) -> None:
    """Each fixed tile looks as reviewed: few pixels differ, and none by much (as Mapnik's
    visual tests compare). Regenerate with ``GRIDMAP_UPDATE_GOLDEN=1`` after a style change."""
    tx, ty = _sample_tile(sample, *point, z)
    png = render_tile(sample, ordinal, z, tx, ty, scale=scale)
    path = GOLDEN / f"{name}.png"
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(png)
    assert path.is_file(), f"no golden {path.name}: run with GRIDMAP_UPDATE_GOLDEN=1"
    got, want = _rgba(png), _rgba(path.read_bytes())
    assert got.shape == want.shape == (256 * scale, 256 * scale, 4)
    differs = np.abs(got - want).max(axis=-1) > PIXEL_TOLERANCE
    assert differs.mean() <= MAX_DIFFERING_SHARE, (
        f"{name}: {differs.sum()} pixels ({differs.mean():.2%}) differ from the golden image")
    assert (want[..., 3] > 0).mean() > 0.2  # the golden itself shows the campus


def test_golden_comparison_catches_a_changed_style(sample: Campus,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The tolerance is not so loose that a recoloured room passes."""
    name, ordinal, z, scale, point = GOLDEN_TILES[5]
    tx, ty = _sample_tile(sample, *point, z)
    monkeypatch.setattr(style, "ROOM_FILL", (255, 200, 200, 255))
    from tiles import cartography, mapnik_style

    monkeypatch.setattr(mapnik_style, "_xml_cache", {})
    monkeypatch.setattr(cartography, "_maps", threading.local())
    png = CampusDrawing(sample).render(ordinal, z, tx, ty, scale=scale)
    want = _rgba((GOLDEN / f"{name}.png").read_bytes())
    differs = np.abs(_rgba(png) - want).max(axis=-1) > PIXEL_TOLERANCE
    assert differs.mean() > MAX_DIFFERING_SHARE * 10


def _placed_boxes(drawing: CampusDrawing, ordinal: int, z: int, x: int, y: int,
                  layers: tuple[str, ...]) -> list[tuple[float, float, float, float]]:
    """The boxes Mapnik's collision detector holds after drawing the tile with ``layers``."""
    from tiles.cartography import MapView, _build_map, mapnik_module

    mapnik = mapnik_module()

    bounds = tile_bounds(z, x, y)
    view = MapView(ordinal, "EPSG:3857", bounds, 256, 256, zoom=z)
    m = _build_map(drawing.features, view, layers)
    m.zoom_to_box(mapnik.Box2d(*bounds))
    detector = mapnik.LabelCollisionDetector(m)
    mapnik.render_with_detector(m, mapnik.Image(256, 256), detector)
    return [(b.minx, b.miny, b.maxx, b.maxy) for b in detector.boxes()]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


@pytest.mark.parametrize("z", [19, 20])
def test_no_room_number_is_hidden_by_a_symbol(sample: Campus, z: int) -> None:
    """Over every tile of the sample's buildings on every level: each room label Mapnik places
    when drawing room labels alone is placed at the same spot in the full map, and no symbol,
    door or other label placed after it overlaps it."""
    from tiles.map_features import LEVEL_LAYERS

    drawing = CampusDrawing(sample)
    frame_tiles: set[tuple[int, int]] = set()
    tiler = Tiler(sample)
    for b in sample.buildings:
        from gridmap.crs import LocalFrame

        minx, miny, maxx, maxy = LocalFrame(sample.crs).to_local(b.footprint).bounds
        x0, y0, _, _ = tiler.locate(minx, maxy, z)
        x1, y1, _, _ = tiler.locate(maxx, miny, z)
        frame_tiles |= {(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
    numbers_checked = symbols_seen = 0
    for ordinal in sorted(drawing.ordinals):
        for x, y in sorted(frame_tiles):
            alone = _placed_boxes(drawing, ordinal, z, x, y, ("room_numbers",))
            full = _placed_boxes(drawing, ordinal, z, x, y, LEVEL_LAYERS)
            missing = [b for b in alone if b not in full]
            assert not missing, f"z{z} {x}/{y} level {ordinal}: room labels moved {missing}"
            others = [b for b in full if b not in alone]
            symbols_seen += len(others)
            for label in alone:
                numbers_checked += 1
                hits = [o for o in others if _overlap(label, o) > 1.0]
                assert not hits, f"z{z} {x}/{y} level {ordinal}: {label} covered by {hits}"
    assert numbers_checked > 50 and symbols_seen > 20


# --- @2x tiles ----------------------------------------------------------------------------------


def test_2x_tile_is_drawn_natively_not_upscaled(campus: Campus) -> None:
    """An @2x tile is 512 pixels of the same ground, drawn at twice the density: thin lines
    stay sharp (not two-pixel smears of the 256 tile) and the picture matches the 256 one."""
    tiler = Tiler(campus)
    tx, ty, _, _ = tiler.locate(-15.0, -12.5, 20)
    one = _rgba(render_tile(campus, 1, 20, tx, ty))
    two = _rgba(render_tile(campus, 1, 20, tx, ty, scale=2))
    assert two.shape == (512, 512, 4)
    # downsampled, the @2x tile shows the same map as the 256 one
    down = two.reshape(256, 2, 256, 2, 4).mean(axis=(1, 3))
    assert (np.abs(down - one).max(axis=-1) > 80).mean() < 0.03
    # and it is not the 256 tile blown up: neighbouring pixel pairs differ somewhere
    blown = np.repeat(np.repeat(one, 2, axis=0), 2, axis=1)
    assert (np.abs(two - blown).max(axis=-1) > 60).mean() > 0.005


def test_scale_out_of_range(campus: Campus) -> None:
    with pytest.raises(InvalidQuery, match="scale"):
        render_tile(campus, 0, 19, 0, 0, scale=3)


def test_tile_cache_is_bounded_and_keyed_by_revision() -> None:
    from tiles.raster import TileCache, TileKey

    cache = TileCache(max_bytes=1000)
    a, b = TileKey("c", 1, 0, 19, 1, 2, 1), TileKey("c", 2, 0, 19, 1, 2, 1)
    cache.put(a, b"x" * 600)
    assert cache.get(a) == b"x" * 600 and cache.get(b) is None
    cache.put(b, b"y" * 600)  # over the limit: the least recently used goes
    assert cache.get(a) is None and cache.get(b) == b"y" * 600
    assert cache.size_bytes == 600 and len(cache) == 1
    cache.put(a, b"z" * 2000)  # larger than the whole cache: not kept
    assert cache.get(a) is None and cache.size_bytes == 600


# --- the tile route --------------------------------------------------------------------------


def _campus_tile_path(campus: Campus, ordinal: int, z: int, suffix: str = "") -> str:
    tx, ty, _, _ = Tiler(campus).locate(-15.0, -12.5, z)
    return f"/campuses/{campus.id}/levels/{ordinal}/tiles/{z}/{tx}/{ty}{suffix}.png"


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every tile the route has drawn (the real renderer, counted)."""
    calls: list[tuple[Any, ...]] = []
    real = raster.render_tile

    def counting(c: Campus, *args: Any, **kwargs: Any) -> bytes:
        calls.append((*args, kwargs.get("scale", 1)))
        return real(c, *args, **kwargs)

    monkeypatch.setattr(raster, "render_tile", counting)
    return calls


def test_route_serves_2x_tiles_beside_256_ones(viewer: Any, stored_campus: Campus,
                                               drawn: list[tuple[Any, ...]]) -> None:
    one = viewer.get(_campus_tile_path(stored_campus, 1, 20))
    two = viewer.get(_campus_tile_path(stored_campus, 1, 20, "@2x"))
    for r, size in ((one, 256), (two, 512)):
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/png"
        assert r.headers["cache-control"].startswith("private")
        assert Image.open(io.BytesIO(r.content)).size == (size, size)
    assert one.headers["etag"] != two.headers["etag"]
    assert [c[-1] for c in drawn] == [1, 2]
    assert viewer.get(_campus_tile_path(stored_campus, 1, 20, "@3x")).status_code == 422
    assert viewer.get(f"/campuses/{stored_campus.id}/levels/1/tiles/25/0/0@2x.png"
                      ).status_code == 422


def test_route_draws_a_tile_once_per_revision(viewer: Any, stored_campus: Campus, store: Any,
                                              drawn: list[tuple[Any, ...]]) -> None:
    path = _campus_tile_path(stored_campus, 0, 19, "@2x")
    first = viewer.get(path)
    again = viewer.get(path)
    assert first.content == again.content and len(drawn) == 1  # the second came from the cache
    assert again.headers["etag"] == first.headers["etag"]
    # a revalidation costs a 304, not a drawing
    assert viewer.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert len(drawn) == 1
    # a new revision is drawn again, under a new ETag
    store.save_revision(dataclasses.replace(stored_campus, name="Renamed"), source="re-import")
    ctx_reload = viewer.get(path)
    assert ctx_reload.status_code == 200
    assert ctx_reload.headers["etag"] != first.headers["etag"]
    assert len(drawn) == 2
    assert {e.action for e in store.audit_log()} >= {"tiles"}


# --- the same style on paper and over imagery -----------------------------------------------------


def _sheet_view(campus: Campus, ordinal: int | None, **kw: Any) -> Any:
    """A print view of the whole grid in the campus's own CRS, 1000 points wide, with the
    labels sized as tiles of the same ground resolution."""
    from tiles.cartography import MapView, features_for, zoom_for_resolution

    ext = gridlib.extent(campus.grid)
    width = 1000
    mpp = (ext.maxx - ext.minx) / width
    height = round((ext.maxy - ext.miny) / mpp)
    zoom = zoom_for_resolution(mpp, features_for(campus, campus.crs).lat)
    return MapView(ordinal, campus.crs, (ext.minx, ext.miny, ext.maxx, ext.maxy), width,
                   height, zoom=zoom, purpose="print", **kw)


def test_print_sheet_is_a_vector_pdf_with_the_room_numbers_as_text(campus: Campus,
                                                                    tmp_path: Path) -> None:
    """A level sheet in the campus CRS is one vector page; pdftotext finds its room numbers."""
    import shutil
    import subprocess

    from tiles.cartography import render_pdf

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    view = _sheet_view(campus, 1)
    pdf = render_pdf(campus, view)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    level_ids = {lv.id for lv in campus.levels if lv.ordinal == 1}
    numbers = {u.number for u in campus.units if u.level_id in level_ids and u.number}
    assert numbers and all(n in text.split() for n in numbers), (numbers, text)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    if info:
        assert f"{view.width} x {view.height} pts" in info


def _geotiff_3857(path: Path, bounds: tuple[float, float, float, float],
                  colour: tuple[int, int, int]) -> None:
    """A small solid-colour EPSG:3857 GeoTIFF over ``bounds`` (imagery as C2 prepares it)."""
    import rasterio
    from rasterio.transform import from_bounds

    from importers.imagery import use_rasterio_proj_data

    use_rasterio_proj_data()  # whoever imported Mapnik first in this process

    data = np.empty((3, 64, 64), dtype=np.uint8)
    for band, value in enumerate(colour):
        data[band] = value
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=3, dtype="uint8",
                       crs="EPSG:3857", transform=from_bounds(*bounds, 64, 64)) as out:
        out.write(data)


def test_imagery_is_drawn_under_the_plans(campus: Campus, tmp_path: Path) -> None:
    """Over imagery: the imagery shows outside the buildings (through the translucent
    grounds), and the rooms stay opaque on top of it."""
    from tiles.cartography import MapView, render_png

    tiler = Tiler(campus)
    tx, ty, col, row = tiler.locate(-12.0, -17.0, 20)  # inside room 214 / 104
    bounds = tile_bounds(20, tx, ty)
    minx, miny, maxx, maxy = bounds
    span = maxx - minx
    tif = tmp_path / "imagery.tif"
    _geotiff_3857(tif, (minx - span, miny - span, maxx + span, maxy + span), (20, 90, 200))
    plain = MapView(0, "EPSG:3857", bounds, 256, 256, zoom=20)
    over = MapView(0, "EPSG:3857", bounds, 256, 256, zoom=20, imagery=tif)
    with_imagery, without = _rgba(render_png(campus, over)), _rgba(render_png(campus, plain))
    c, r = round(col), round(row)
    room = (slice(r - 2, r + 3), slice(c - 2, c + 3))
    assert near(with_imagery[room], style.ROOM_FILL, 6).all()
    assert (with_imagery[..., 3] == 255).all()  # imagery fills the whole tile
    def blue(px: Pixels) -> NDArray[np.bool_]:  # the imagery, under translucent grounds
        mask: NDArray[np.bool_] = (px[..., 2] - px[..., 0] > 80) & (px[..., 3] == 255)
        return mask

    assert blue(with_imagery).mean() > 0.02 and not blue(without).any()


def test_overview_shows_buildings_doors_and_outside_amenities(campus: Campus) -> None:
    """The campus overview (no level): every building filled with its letter drawn, exterior
    doors of all levels, Knox boxes; no rooms."""
    from tiles.cartography import CampusFeatures

    features = CampusFeatures(campus, "EPSG:3857")
    assert len(features.features("footprints", None)) == len(campus.buildings)
    doors = [o for o in campus.openings if o.exterior]
    assert len(features.features("doors", None)) == len(doors)
    kinds = {f.props["kind"] for f in features.features("amenities", None)}
    assert "knox_box" in kinds and "aed" not in kinds
    assert features.features("rooms", None) == []
    from tiles.cartography import render_png

    view = _sheet_view(campus, None)
    px = _rgba(render_png(campus, view))
    assert near(px, style.BUILDING_FILL, 6).sum() > 500
    assert near(px, style.DOOR.fill, 30).sum() > 30
    assert near(px, style.ROOM_FILL, 4).sum() == 0


def test_kept_tiles_are_refused_as_any_tile(viewer: Any, stored_campus: Campus, store: Any,
                                            drawn: list[tuple[Any, ...]]) -> None:
    """A tile already kept is still refused without a valid credential, to a token limited to
    another campus, and for bad parameters, with the route's usual answers."""
    from api.auth import create_token

    path = _campus_tile_path(stored_campus, 0, 20)
    assert viewer.get(path).status_code == 200  # now kept
    token = viewer.headers.pop("Authorization")
    assert viewer.get(path).status_code == 401
    assert viewer.get(path, headers={"Authorization": "Bearer gm_nope"}).status_code == 401
    store.save_revision(dataclasses.replace(stored_campus, id="elsewhere"), source="tests")
    other, _ = create_token(store, "other campus", campuses=["elsewhere"])
    assert viewer.get(path, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    viewer.headers["Authorization"] = token
    assert viewer.get(path, params={"v": "x" * 41}).status_code == 422
    assert viewer.get(path.replace("/levels/0/", "/levels/1001/")).status_code == 422
    assert viewer.get(path).status_code == 200
    assert len(drawn) == 1
    denied = [e for e in store.audit_log() if e.action == "denied"]
    assert len(denied) >= 3
