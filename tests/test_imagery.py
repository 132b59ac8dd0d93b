"""Aerial imagery: validation, reprojection, versions, the API, the CLI and the sample's photo.

Orthophotos are built in code (rasterio writes them) around the shared test campus. The oracle
for placement is pyproj: a marked pixel at a known longitude/latitude in the source must land at
that longitude/latitude in the stored EPSG:3857 image and in the served tiles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import CRS, Transformer
from shapely.geometry import box
from shapely.ops import unary_union

from api import imagery as api_imagery
from api.app import create_app
from api.auth import create_token
from api.cli import main as cli_main
from api.settings import Settings
from api.store import Role, SqlCampusStore
from gridmap.crs import LocalFrame
from gridmap.errors import (
    CampusNotFound,
    CorruptImagery,
    ImageryError,
    ImageryNotCovering,
    ImageryTooLarge,
    NotATiff,
    NotGeoreferenced,
    UnknownCRS,
    UnsupportedImagery,
)
from gridmap.model import Campus
from importers import imagery as importer
from tests.sample_scripts import ROOT

GREY = (120, 124, 118)
RED = (255, 0, 0)
# where the marker sits, in the test campus's local metres (building A's north-west corner)
MARKER_LOCAL = (-30.0, 20.0)
SAMPLE_DIR = ROOT / "data" / "samples" / "lincoln_ridge"


# --- orthophotos built in code --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ortho:
    data: bytes
    marker_lonlat: tuple[float, float]  # the centre of the red marker, as placed


def _frame(campus: Campus) -> LocalFrame:
    return LocalFrame(campus.crs)


def orthophoto(
    campus: Campus, *, crs: str = "EPSG:32616", pixel_m: float = 0.5,
    size: tuple[int, int] = (480, 260), centre_local: tuple[float, float] = (30.0, 0.0),
    count: int = 3, dtype: str = "uint8", fill: tuple[int, int, int] = GREY,
    rotation_deg: float = 0.0, **profile: Any,
) -> Ortho:
    """A GeoTIFF in ``crs`` around the campus (``centre_local``, metres), ``fill`` (grey) with
    a 3 x 3 red marker at :data:`MARKER_LOCAL`."""
    from affine import Affine
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    frame = _frame(campus)
    lon, lat = frame.lonlat(*centre_local)
    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    cx, cy = to_crs.transform(lon, lat)
    target = CRS.from_user_input(crs)
    if target.is_geographic:
        xres = pixel_m / (111_320.0 * math.cos(math.radians(lat)))
        yres = pixel_m / 110_574.0
    else:
        factor = target.axis_info[0].unit_conversion_factor
        xres = yres = pixel_m / factor
    width, height = size
    transform = from_origin(cx - width / 2 * xres, cy + height / 2 * yres, xres, yres)
    if rotation_deg:  # a rotated geotransform, turned about the image centre
        transform = transform @ Affine.rotation(rotation_deg, pivot=(width / 2, height / 2))
    pixels = np.empty((count, height, width), dtype=dtype)
    for band in range(count):
        pixels[band] = fill[band % 3]
    mx, my = to_crs.transform(*frame.lonlat(*MARKER_LOCAL))
    col, row = (math.floor(v) for v in ~transform @ (mx, my))
    for band in range(min(count, 3)):
        pixels[band, row - 1:row + 2, col - 1:col + 2] = RED[band]
    centre_x, centre_y = transform @ (col + 0.5, row + 0.5)
    marker = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(centre_x, centre_y)
    options: dict[str, Any] = {"driver": "GTiff", "width": width, "height": height,
                               "count": count, "dtype": dtype, "crs": crs, "transform": transform}
    if count == 3 and dtype == "uint8":
        options["photometric"] = "RGB"
    options.update(profile)
    with MemoryFile() as memfile:
        with memfile.open(**options) as dst:
            dst.write(pixels)
        return Ortho(bytes(memfile.read()), (float(marker[0]), float(marker[1])))


def _tiff_bytes(write: Callable[[Any], None], **options: Any) -> bytes:
    from rasterio.io import MemoryFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio warns about what these files lack
        with MemoryFile() as memfile:
            with memfile.open(driver="GTiff", **options) as dst:
                write(dst)
            return bytes(memfile.read())


def plain_tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), GREY).save(out, "TIFF")
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), GREY).save(out, "PNG")
    return out.getvalue()


def local_crs_tiff(campus: Campus) -> bytes:
    import rasterio.crs
    from rasterio.transform import from_origin

    site_grid = rasterio.crs.CRS.from_wkt('LOCAL_CS["school site grid",UNIT["metre",1]]')
    return _tiff_bytes(lambda d: d.write(np.zeros((1, 40, 40), "uint8")), width=40, height=40,
                       count=1, dtype="uint8", transform=from_origin(0, 40, 1, 1), crs=site_grid)


def gcp_only_tiff(campus: Campus) -> bytes:
    import rasterio.crs
    from rasterio.control import GroundControlPoint

    lon, lat = campus.buildings[0].footprint.centroid.coords[0]

    def write(dst: Any) -> None:
        dst.write(np.zeros((1, 40, 40), "uint8"))
        points = [GroundControlPoint(0, 0, lon, lat), GroundControlPoint(0, 40, lon + 0.001, lat),
                  GroundControlPoint(40, 0, lon, lat - 0.001)]
        dst.gcps = (points, rasterio.crs.CRS.from_epsg(4326))

    return _tiff_bytes(write, width=40, height=40, count=1, dtype="uint8")


def pixel_bomb() -> bytes:
    """A few hundred KB declaring 40000 x 40000 pixels (nothing written: sparse)."""
    from rasterio.transform import from_origin

    return _tiff_bytes(lambda d: None, width=40_000, height=40_000, count=1, dtype="uint8",
                       tiled=True, blockxsize=256, blockysize=256, sparse_ok=True,
                       crs="EPSG:32616", transform=from_origin(700_000, 4_730_000, 0.01, 0.01))


def block_bomb() -> bytes:
    """396 bytes declaring one 8192 x 8192 RGB tile: 192 MB to decode at once."""
    from rasterio.transform import from_origin

    return _tiff_bytes(lambda d: None, width=8192, height=8192, count=3, dtype="uint8",
                       tiled=True, blockxsize=8192, blockysize=8192, compress="deflate",
                       sparse_ok=True, crs="EPSG:32616",
                       transform=from_origin(700_000, 4_730_000, 0.1, 0.1))


#: bad files: (name, maker(campus), error class, words the message must hold)
BAD_FILES: list[tuple[str, Callable[[Campus], bytes], type[ImageryError], str]] = [
    ("png", lambda c: png_bytes(), NotATiff, "PNG image, not a GeoTIFF"),
    ("text", lambda c: b"lon,lat\n-84.43,42.70\n", NotATiff, "text, not a GeoTIFF"),
    ("empty", lambda c: b"", NotATiff, "empty"),
    ("plain-tiff", lambda c: plain_tiff(), NotGeoreferenced, "no georeferencing"),
    ("gcps-only", gcp_only_tiff, NotGeoreferenced, "ground control points"),
    ("local-crs", local_crs_tiff, UnknownCRS, "not tied to the earth"),
    ("elsewhere", lambda c: orthophoto(c, centre_local=(5000.0, 0.0)).data,
     ImageryNotCovering, "does not cover campus"),
    ("half-covering", lambda c: orthophoto(c, centre_local=(80.0, 0.0), size=(200, 200)).data,
     ImageryNotCovering, "covers only"),
    ("nodata-collar", lambda c: orthophoto(c, fill=(0, 0, 0), nodata=0).data, ImageryNotCovering,
     "nodata or transparent"),
    ("truncated", lambda c: orthophoto(c).data[:30_000], CorruptImagery, "cannot be read"),
    ("garbage", lambda c: b"II*\x00" + bytes(range(256)) * 40, CorruptImagery, "cannot be read"),
    ("16-bit", lambda c: orthophoto(c, dtype="uint16").data, UnsupportedImagery, "uint16"),
    ("pixel-bomb", lambda c: pixel_bomb(), ImageryTooLarge, "million pixels"),
    ("block-bomb", lambda c: block_bomb(), ImageryTooLarge, "blocks of 8192 x 8192"),
]


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def ortho(campus: Campus) -> Ortho:
    return orthophoto(campus)


@pytest.fixture
def admin(client: TestClient, admin_token: str, stored_campus: Campus) -> TestClient:
    client.headers["Authorization"] = f"Bearer {admin_token}"
    return client


@pytest.fixture(autouse=True)
def _fresh_tile_cache() -> Iterator[None]:
    api_imagery.clear_tile_cache()
    api_imagery._verified.clear()
    yield
    api_imagery.clear_tile_cache()
    api_imagery._verified.clear()


def _imagery_rows(store: SqlCampusStore) -> list[tuple[Any, ...]]:
    import sqlalchemy

    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sqlalchemy.text("SELECT * FROM imagery"))]


def _actions(store: SqlCampusStore, campus_id: str | None = None) -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in store.audit_log(campus_id=campus_id, limit=1000)]


def _local_offset_m(campus: Campus, a: tuple[float, float], b: tuple[float, float]) -> float:
    frame = _frame(campus)
    (ax, ay), (bx, by) = frame.xy(*a), frame.xy(*b)
    return math.hypot(ax - bx, ay - by)


def _red_centroid(rgb: np.ndarray[Any, Any]) -> tuple[float, float]:
    """(column, row) of the red marker's centre in an (bands, rows, cols) array, by redness."""
    r, g, b = (rgb[i].astype(float) for i in range(3))
    weight = np.clip(r - (g + b) / 2 - 40, 0, None)
    assert weight.sum() > 0, "no red marker in the image"
    rows, cols = np.indices(weight.shape)
    return (float((cols * weight).sum() / weight.sum()) + 0.5,
            float((rows * weight).sum() / weight.sum()) + 0.5)


# --- preparing: reprojection and structure --------------------------------------------------------


@pytest.mark.parametrize("crs", ["EPSG:32616", "EPSG:4326", "EPSG:2253", "EPSG:26916"])
def test_a_marked_pixel_lands_where_it_was(campus: Campus, crs: str) -> None:
    """UTM 16N, lon/lat, Michigan South state plane in feet, NAD83 UTM: each stored in web
    mercator with the marker at the same longitude/latitude (within half a metre)."""
    import rasterio
    from rasterio.io import MemoryFile

    source = orthophoto(campus, crs=crs)
    prepared = importer.prepare_imagery(source.data, campus, max_bytes=10**8)
    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    with MemoryFile(prepared.data) as memfile, memfile.open() as out:
        assert out.crs == rasterio.crs.CRS.from_epsg(3857)
        col, row = _red_centroid(out.read())
        landed = to_lonlat.transform(*(out.transform @ (col, row)))
    assert _local_offset_m(campus, landed, source.marker_lonlat) < 0.5
    assert prepared.source_crs == crs


def test_a_rotated_geotransform_is_honoured(campus: Campus) -> None:
    from rasterio.io import MemoryFile

    source = orthophoto(campus, rotation_deg=12.0, size=(520, 520))
    prepared = importer.prepare_imagery(source.data, campus, max_bytes=10**8)
    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    with MemoryFile(prepared.data) as memfile, memfile.open() as out:
        col, row = _red_centroid(out.read())
        landed = to_lonlat.transform(*(out.transform @ (col, row)))
    assert _local_offset_m(campus, landed, source.marker_lonlat) < 0.5


@pytest.mark.parametrize(("options", "bands"), [
    ({"BIGTIFF": "YES"}, 3),
    ({"compress": "jpeg", "photometric": "ycbcr", "tiled": True}, 3),
    ({"count": 4}, 3),  # red, green, blue, near-infrared (as NAIP delivers): the colour kept
    ({"count": 1}, 1),  # greyscale stays one band
])
def test_common_orthophoto_layouts_are_taken(campus: Campus, options: dict[str, Any],
                                             bands: int) -> None:
    from rasterio.io import MemoryFile

    source = orthophoto(campus, **options)
    prepared = importer.prepare_imagery(source.data, campus, max_bytes=10**8)
    with MemoryFile(prepared.data) as memfile, memfile.open() as out:
        assert out.count == bands
        pixel = [int(v) for v in next(out.sample([(  # the middle of the image: grey
            (prepared.bounds_3857[0] + prepared.bounds_3857[2]) / 2,
            (prepared.bounds_3857[1] + prepared.bounds_3857[3]) / 2)]))]
    expected = list(GREY) if bands == 3 else [GREY[0]]
    assert pixel == pytest.approx(expected, abs=6)


def test_greyscale_tiles_are_grey(settings: Settings, campus: Campus, tmp_path: Path) -> None:
    source = orthophoto(campus, count=1)
    prepared = importer.prepare_imagery(source.data, campus, max_bytes=10**8)
    path = tmp_path / "grey.tif"
    path.write_bytes(prepared.data)
    x, y, _, _ = _tile_of(*source.marker_lonlat, 18)
    rgba = _png_rgba(api_imagery.imagery_tile(path, prepared.digest, 18, x, y))
    shown = rgba[rgba[:, :, 3] == 255]
    assert len(shown) > 0
    assert (shown[:, 0] == shown[:, 1]).all() and (shown[:, 1] == shown[:, 2]).all()


def test_stored_imagery_is_tiled_with_overviews_a_mask_and_jpeg(campus: Campus,
                                                               ortho: Ortho) -> None:
    from rasterio.enums import MaskFlags
    from rasterio.io import MemoryFile

    prepared = importer.prepare_imagery(ortho.data, campus, max_bytes=10**8)
    with MemoryFile(prepared.data) as memfile, memfile.open() as out:
        assert out.block_shapes == [(256, 256)] * 3
        assert out.overviews(1), "no overviews"
        assert out.compression.name.lower() == "jpeg"
        assert out.mask_flag_enums[0] == [MaskFlags.per_dataset]
        assert (out.width, out.height) == (prepared.width, prepared.height)
        assert tuple(out.bounds) == pytest.approx(prepared.bounds_3857)
        # a web mercator pixel is 1/cos(latitude) ground metres: 0.5 m ground resolution kept
        lat = campus.buildings[0].footprint.centroid.y
        assert out.res[0] * math.cos(math.radians(lat)) == pytest.approx(0.5, rel=0.01)
    assert prepared.resolution_m == pytest.approx(0.5, rel=0.01)
    assert prepared.digest == hashlib.sha256(prepared.data).hexdigest()
    assert prepared.source_digest == hashlib.sha256(ortho.data).hexdigest()


def test_the_same_file_prepares_to_the_same_bytes(campus: Campus, ortho: Ortho) -> None:
    first = importer.prepare_imagery(ortho.data, campus, max_bytes=10**8)
    again = importer.prepare_imagery(ortho.data, campus, max_bytes=10**8)
    assert first.digest == again.digest


def test_output_pixels_are_capped_by_coarsening(campus: Campus, ortho: Ortho) -> None:
    prepared = importer.prepare_imagery(ortho.data, campus, max_bytes=10**8,
                                        max_output_pixels=20_000)
    assert prepared.width * prepared.height <= 20_000 * 1.02
    assert prepared.resolution_m > 1.0


def test_resolution_finer_than_the_floor_is_resampled(campus: Campus) -> None:
    footprint = box(-9.41e6, 5.26e6, -9.39e6, 5.28e6)
    grid, ground = importer.output_grid(footprint, campus, 0.01, 10**9)
    assert ground == importer.MIN_RESOLUTION_M
    lat = campus.buildings[0].footprint.centroid.y
    assert grid.pixel * math.cos(math.radians(lat)) == pytest.approx(importer.MIN_RESOLUTION_M)


def test_a_photo_with_an_alpha_band_keeps_its_transparency(campus: Campus) -> None:
    from rasterio.io import MemoryFile

    source = orthophoto(campus, count=4, photometric="RGB", alpha="YES")
    prepared = importer.prepare_imagery(source.data, campus, max_bytes=10**8)
    with MemoryFile(prepared.data) as memfile, memfile.open() as out:
        assert out.count == 3
        # the 4th band was 120s, so the whole photo is opaque
        assert out.dataset_mask().min() == 0  # outside the rotated UTM footprint
        assert out.dataset_mask().max() == 255


@pytest.mark.parametrize(("name", "make", "error", "words"), BAD_FILES,
                         ids=[b[0] for b in BAD_FILES])
def test_bad_files_are_refused_by_name(campus: Campus, name: str,
                                       make: Callable[[Campus], bytes],
                                       error: type[ImageryError], words: str) -> None:
    with pytest.raises(error, match=words):
        importer.prepare_imagery(make(campus), campus, max_bytes=10**8)


def test_an_oversized_file_is_refused_before_reading(campus: Campus, ortho: Ortho,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    path.write_bytes(ortho.data)
    with pytest.raises(ImageryTooLarge, match="over the 1 KB limit"):
        importer.prepare_imagery(path, campus, max_bytes=1000)
    with pytest.raises(ImageryTooLarge, match="million pixels"):
        importer.prepare_imagery(ortho.data, campus, max_bytes=10**8, max_pixels=1000)


def test_a_warp_past_the_time_limit_is_refused(campus: Campus, ortho: Ortho) -> None:
    with pytest.raises(ImageryTooLarge, match="took too long"):
        importer.prepare_imagery(ortho.data, campus, max_bytes=10**8, time_limit_s=-1.0)


# --- the store, on SQLite and PostgreSQL ----------------------------------------------------------


def test_every_attach_is_a_new_version_and_none_is_overwritten(
        store: SqlCampusStore, stored_campus: Campus) -> None:
    campus = stored_campus
    assert store.imagery(campus.id) is None
    assert store.imagery_info(campus.id) is None
    first = importer.prepare_imagery(orthophoto(campus).data, campus, max_bytes=10**8)
    second = importer.prepare_imagery(orthophoto(campus, pixel_m=0.6).data, campus,
                                      max_bytes=10**8)
    assert store.save_imagery(campus.id, first, source_name="a.tif", actor="t") == 1
    assert store.save_imagery(campus.id, second, source_name="b.tif", actor="t",
                              attribution="County 2026") == 2
    current = store.imagery(campus.id)
    assert current is not None
    assert (current.info.version, current.data, current.info.attribution) == (
        2, second.data, "County 2026")
    old = store.imagery(campus.id, 1)
    assert old is not None
    assert (old.data, old.info.digest, old.info.source_name) == (first.data, first.digest,
                                                                  "a.tif")
    assert [v.version for v in store.imagery_versions(campus.id)] == [1, 2]
    info = store.imagery_info(campus.id)
    assert info is not None
    assert info == current.info


def test_imagery_needs_a_stored_campus(store: SqlCampusStore, campus: Campus) -> None:
    prepared = importer.prepare_imagery(orthophoto(campus).data, campus, max_bytes=10**8)
    with pytest.raises(CampusNotFound):
        store.save_imagery(campus.id, prepared, source_name="a.tif", actor="t")
    with pytest.raises(CampusNotFound):
        store.imagery_versions(campus.id)


# --- the API --------------------------------------------------------------------------------------


def test_admin_attaches_over_the_api(admin: TestClient, store: SqlCampusStore,
                                     stored_campus: Campus, ortho: Ortho) -> None:
    r = admin.put(f"/campuses/{stored_campus.id}/imagery?name=ortho.tif&attribution=County",
                  content=ortho.data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version"] == 1
    assert body["source_crs"] == "EPSG:32616"
    assert body["attribution"] == "County"
    assert body["tiles"] == (f"/campuses/{stored_campus.id}/imagery/tiles/{{z}}/{{x}}/{{y}}{{r}}"
                             ".png?v=1")
    assert r.headers["cache-control"] == "private, no-store"
    r = admin.get(f"/campuses/{stored_campus.id}/imagery")
    assert r.status_code == 200
    assert r.json()["sha256"] == body["sha256"]
    assert r.headers["cache-control"] == "private, no-store"
    actions = _actions(store, stored_campus.id)
    assert any(a == "imagery_attach" and "version 1 from ortho.tif" in d for a, d in actions)
    assert ("imagery", "version 1") in actions


@pytest.mark.parametrize(("name", "make", "error", "words"), BAD_FILES,
                         ids=[b[0] for b in BAD_FILES])
def test_bad_files_change_nothing_over_the_api(
        admin: TestClient, store: SqlCampusStore, stored_campus: Campus, ortho: Ortho,
        name: str, make: Callable[[Campus], bytes], error: type[ImageryError],
        words: str) -> None:
    assert admin.put(f"/campuses/{stored_campus.id}/imagery", content=ortho.data).status_code == 201
    before = _imagery_rows(store)
    r = admin.put(f"/campuses/{stored_campus.id}/imagery?name={name}.tif",
                  content=make(stored_campus))
    assert r.status_code == (413 if error is ImageryTooLarge else 422)
    assert r.json()["error"]["type"] == error.__name__
    assert words in r.json()["error"]["message"]
    assert _imagery_rows(store) == before
    assert admin.get(f"/campuses/{stored_campus.id}/imagery").json()["version"] == 1
    assert any(a == "imagery_rejected" and d.startswith(f"{name}.tif: ") and words in d
               for a, d in _actions(store, stored_campus.id))


@pytest.mark.parametrize("chunked", [False, True])
def test_uploads_over_the_limit_are_refused_while_arriving(
        settings: Settings, store: SqlCampusStore, stored_campus: Campus, admin_token: str,
        chunked: bool) -> None:
    small = settings.model_copy(update={"imagery_max_mb": 0.05})
    body = b"II*\x00" + bytes(100_000)
    content: Any = iter([body[i:i + 8192] for i in range(0, len(body), 8192)]) if chunked \
        else body
    with TestClient(create_app(small, store), base_url="http://127.0.0.1") as c:
        r = c.put(f"/campuses/{stored_campus.id}/imagery", content=content,
                  headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 413
    assert "over the 51 KB limit (GRIDMAP_IMAGERY_MAX_MB)" in r.json()["error"]["message"]
    assert _imagery_rows(store) == []
    assert any(a == "imagery_rejected" for a, _ in _actions(store, stored_campus.id))


def test_viewers_may_look_but_not_attach(client: TestClient, store: SqlCampusStore,
                                         stored_campus: Campus, viewer_token: str,
                                         admin_token: str, ortho: Ortho) -> None:
    url = f"/campuses/{stored_campus.id}/imagery"
    r = client.put(url, content=ortho.data, headers={"Authorization": f"Bearer {viewer_token}"})
    assert r.status_code == 403
    assert "admin or editor" in r.json()["error"]["message"]
    assert _imagery_rows(store) == []
    assert client.put(url, content=ortho.data,
                      headers={"Authorization": f"Bearer {admin_token}"}).status_code == 201
    r = client.get(url, headers={"Authorization": f"Bearer {viewer_token}"})
    assert r.status_code == 200
    assert "attached_by" not in r.json()  # who attached it is for admins, as in the audit log
    r = client.get(url, headers={"Authorization": f"Bearer {admin_token}"})
    assert r.json()["attached_by"] == "token:test admin"
    denied = [d for a, d in _actions(store) if a == "denied"]
    assert any("403 PUT" in d and "may not edit" in d for d in denied)


def test_a_token_scoped_to_one_campus_cannot_touch_anothers_imagery(
        client: TestClient, store: SqlCampusStore, stored_campus: Campus,
        ortho: Ortho) -> None:
    other = dataclasses.replace(stored_campus, id="other-campus", name="Other")
    store.save_revision(other, source="tests")
    owner, _ = create_token(store, "other admin", Role.ADMIN, campuses=[other.id])
    assert client.put(f"/campuses/{other.id}/imagery", content=ortho.data,
                      headers={"Authorization": f"Bearer {owner}"}).status_code == 201
    scoped, _ = create_token(store, "scoped admin", Role.ADMIN, campuses=[stored_campus.id])
    headers = {"Authorization": f"Bearer {scoped}"}
    before = _imagery_rows(store)
    for method, path in (("PUT", ""), ("GET", ""), ("GET", "/tiles/18/69056/95541.png"),
                         ("GET", "/tiles/18/69056/95541@2x.png")):
        r = client.request(method, f"/campuses/{other.id}/imagery{path}", headers=headers,
                           content=ortho.data if method == "PUT" else None)
        assert r.status_code == 404, (method, path)
        assert r.json()["error"]["message"] == "unknown campus 'other-campus'"
    assert _imagery_rows(store) == before
    denied = [e for e in store.audit_log(limit=1000) if e.action == "denied"]
    assert len({e.detail for e in denied if e.token_name == "scoped admin"}) >= 2


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, float, float]:
    """The XYZ tile holding a point, and the point's pixel within it (256 px), by the
    spherical mercator formulas (independent of the code under test)."""
    n = 2**z
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return int(fx), int(fy), (fx - int(fx)) * 256, (fy - int(fy)) * 256


def _png_rgba(data: bytes) -> np.ndarray[Any, Any]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGBA"))


def test_tiles_show_the_marker_where_it_is(admin: TestClient, store: SqlCampusStore,
                                           stored_campus: Campus, ortho: Ortho) -> None:
    cid = stored_campus.id
    assert admin.put(f"/campuses/{cid}/imagery", content=ortho.data).status_code == 201
    x, y, px, py = _tile_of(*ortho.marker_lonlat, 19)
    for suffix, scale in (("", 1), ("@2x", 2)):
        r = admin.get(f"/campuses/{cid}/imagery/tiles/19/{x}/{y}{suffix}.png?v=1")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/png"
        assert r.headers["cache-control"] == "private, max-age=86400"
        rgba = _png_rgba(r.content)
        assert rgba.shape == (256 * scale, 256 * scale, 4)
        col, row = _red_centroid(np.moveaxis(rgba[:, :, :3], -1, 0))
        # a z19 pixel is about 0.22 m on the ground here: within 3 of them (0.5 m at 1x)
        assert math.hypot(col / scale - px, row / scale - py) < 3.0, (suffix, col, row, px, py)
    r = admin.get(f"/campuses/{cid}/imagery/tiles/19/{x}/{y}.png")
    assert r.headers["cache-control"] == "private, no-cache"
    etag = r.headers["etag"]
    again = admin.get(f"/campuses/{cid}/imagery/tiles/19/{x}/{y}.png",
                      headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert any(a == "tiles" and d.startswith("imagery v1 z19") for a, d in _actions(store, cid))


def test_the_tile_cache_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch,
                                           settings: Settings, campus: Campus,
                                           ortho: Ortho, tmp_path: Path) -> None:
    prepared = importer.prepare_imagery(ortho.data, campus, max_bytes=10**8)
    path = tmp_path / "imagery.tif"
    path.write_bytes(prepared.data)
    monkeypatch.setattr(api_imagery, "TILE_CACHE_BYTES", 30_000)
    x, y, _, _ = _tile_of(*ortho.marker_lonlat, 19)
    drawn = [api_imagery.imagery_tile(path, prepared.digest, 19, x + dx, y, scale=2)
             for dx in range(-3, 4)]
    assert sum(len(t) for t in drawn) > 30_000
    assert 0 < api_imagery._tile_cache_bytes <= 30_000
    assert len(api_imagery._tile_cache) < len(drawn)
    assert api_imagery._tile_cache_bytes == sum(len(t) for t in api_imagery._tile_cache.values())
    # the newest stays, and is answered from memory: the same bytes without the file
    path.unlink()
    assert api_imagery.imagery_tile(path, prepared.digest, 19, x + 3, y, scale=2) == drawn[-1]


def test_tiles_outside_the_imagery_are_transparent(admin: TestClient,
                                                   stored_campus: Campus, ortho: Ortho) -> None:
    cid = stored_campus.id
    admin.put(f"/campuses/{cid}/imagery", content=ortho.data)
    x, y, _, _ = _tile_of(*ortho.marker_lonlat, 16)
    r = admin.get(f"/campuses/{cid}/imagery/tiles/16/{x + 3}/{y}.png")
    assert r.status_code == 200
    assert _png_rgba(r.content)[:, :, 3].max() == 0


def test_no_imagery_is_a_clear_404(admin: TestClient, stored_campus: Campus) -> None:
    for path in ("", "/tiles/18/69056/95541.png"):
        r = admin.get(f"/campuses/{stored_campus.id}/imagery{path}")
        assert r.status_code == 404
        assert r.json()["error"]["type"] == "NoImagery"
        assert f"gridmap imagery {stored_campus.id} FILE" in r.json()["error"]["message"]
    r = admin.get(f"/campuses/{stored_campus.id}/imagery/tiles/3/9/0.png")
    assert r.status_code == 400


def test_tiles_need_a_token(client: TestClient, stored_campus: Campus) -> None:
    r = client.get(f"/campuses/{stored_campus.id}/imagery/tiles/18/69056/95541.png")
    assert r.status_code == 401


# --- the local file, and the web map's layer ------------------------------------------------------


def test_imagery_path_is_a_private_copy_of_the_current_version(
        admin: TestClient, store: SqlCampusStore, settings: Settings, stored_campus: Campus,
        ortho: Ortho) -> None:
    import rasterio

    cid = stored_campus.id
    assert api_imagery.local_imagery_path(store, settings.data_dir, cid) is None
    admin.put(f"/campuses/{cid}/imagery", content=ortho.data)
    path = api_imagery.local_imagery_path(store, settings.data_dir, cid)
    record = store.imagery(cid)
    assert path is not None
    assert record is not None
    assert path == settings.data_dir / "imagery" / f"{record.info.digest}.tif"
    assert path.read_bytes() == record.data
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    with rasterio.open(path) as dataset:
        assert dataset.crs.to_epsg() == 3857
    path.write_bytes(b"damaged")  # a damaged copy is written again from the store
    api_imagery._verified.clear()
    assert api_imagery.local_imagery_path(store, settings.data_dir, cid) == path
    assert path.read_bytes() == record.data


def test_the_web_maps_imagery_layer(settings: Settings, store: SqlCampusStore,
                                    stored_campus: Campus, ortho: Ortho) -> None:
    cid = stored_campus.id
    assert api_imagery.imagery_layer_config(settings, cid, None) is None
    provider = settings.model_copy(update={
        "imagery_url": "https://imagery.example.gov/ortho/{z}/{x}/{y}.jpg",
        "imagery_attribution": "County GIS"})
    assert api_imagery.imagery_layer_config(provider, cid, None) == {
        "url": "https://imagery.example.gov/ortho/{z}/{x}/{y}.jpg", "attribution": "County GIS"}
    assert api_imagery.imagery_origin(provider) == "https://imagery.example.gov"
    prepared = importer.prepare_imagery(ortho.data, stored_campus, max_bytes=10**8)
    store.save_imagery(cid, prepared, source_name="o.tif", actor="t", attribution="Own")
    layer = api_imagery.imagery_layer_config(provider, cid, store.imagery_info(cid))
    assert layer == {"url": f"/campuses/{cid}/imagery/tiles/{{z}}/{{x}}/{{y}}{{r}}.png?v=1",
                     "attribution": "Own"}


@pytest.mark.parametrize("attribution", ["<img src=x onerror=alert(1)>", "line\nbreak",
                                         "x" * 301])
def test_an_attribution_must_be_short_plain_text(admin: TestClient, store: SqlCampusStore,
                                                 stored_campus: Campus, ortho: Ortho,
                                                 attribution: str) -> None:
    r = admin.put(f"/campuses/{stored_campus.id}/imagery", params={"attribution": attribution},
                  content=ortho.data)
    assert r.status_code in (400, 422)
    assert _imagery_rows(store) == []


def test_mapnik_draws_the_stored_imagery_and_honours_its_mask(campus: Campus,
                                                              ortho: Ortho,
                                                              tmp_path: Path) -> None:
    """What the renderer and the book get from imagery_path: Mapnik's GDAL plugin draws the
    photo and lets the background show where the photo has nothing (the mask)."""
    mapnik = pytest.importorskip("mapnik")
    from rasterio.io import MemoryFile

    prepared = importer.prepare_imagery(ortho.data, campus, max_bytes=10**8)
    path = tmp_path / "imagery.tif"
    path.write_bytes(prepared.data)
    with MemoryFile(prepared.data) as memfile, memfile.open() as out:
        mask = out.dataset_mask()
    assert mask.min() == 0  # the corners outside the UTM footprint
    size = (prepared.width, prepared.height)
    xml = f"""<Map srs="epsg:3857" background-color="rgb(0,0,255)">
      <Style name="photo"><Rule><RasterSymbolizer scaling="near"/></Rule></Style>
      <Layer name="photo" srs="epsg:3857"><StyleName>photo</StyleName><Datasource>
        <Parameter name="type">gdal</Parameter><Parameter name="file">{path}</Parameter>
      </Datasource></Layer></Map>"""
    m = mapnik.Map(*size)
    mapnik.load_map_from_string(m, xml)
    m.zoom_to_box(mapnik.Box2d(*prepared.bounds_3857))
    image = mapnik.Image(*size)
    mapnik.render(m, image)
    drawn = np.asarray(Image.open(io.BytesIO(image.to_string("png"))).convert("RGB")).astype(int)
    inside = drawn[mask == 255]
    outside = drawn[mask == 0]
    assert np.median(inside, axis=0).tolist() == pytest.approx(list(GREY), abs=4)
    assert (outside[:, 2] > 200).mean() > 0.95  # blue background through the mask


def test_an_imagery_url_must_be_an_https_template(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("GRIDMAP_IMAGERY_URL", "http://imagery.example.gov/{z}/{x}/{y}.jpg")
    with pytest.raises(ValidationError):
        Settings()


# --- the CLI --------------------------------------------------------------------------------------


def test_cli_attaches_and_audits(store: SqlCampusStore, stored_campus: Campus, ortho: Ortho,
                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "county_ortho.tif"
    path.write_bytes(ortho.data)
    assert cli_main(["imagery", stored_campus.id, str(path), "--attribution", "County"]) == 0
    out = capsys.readouterr().out
    assert f"{stored_campus.id}: stored imagery version 1" in out
    assert "from EPSG:32616" in out
    info = store.imagery_info(stored_campus.id)
    assert info is not None
    assert (info.source_name, info.attribution) == ("county_ortho.tif", "County")
    assert info.actor.startswith("cli:")
    assert any(a == "imagery_attach" for a, _ in _actions(store, stored_campus.id))


@pytest.mark.parametrize(("name", "make", "error", "words"), BAD_FILES,
                         ids=[b[0] for b in BAD_FILES])
def test_cli_refuses_bad_files_and_stores_nothing(
        store: SqlCampusStore, stored_campus: Campus, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], name: str, make: Callable[[Campus], bytes],
        error: type[ImageryError], words: str) -> None:
    path = tmp_path / f"{name}.tif"
    path.write_bytes(make(stored_campus))
    assert cli_main(["imagery", stored_campus.id, str(path)]) == 2
    assert words in capsys.readouterr().err
    assert _imagery_rows(store) == []
    assert any(a == "imagery_rejected" and words in d
               for a, d in _actions(store, stored_campus.id))


def test_cli_refuses_a_file_over_the_size_limit(
        store: SqlCampusStore, stored_campus: Campus, ortho: Ortho, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRIDMAP_IMAGERY_MAX_MB", "0.01")
    path = tmp_path / "ortho.tif"
    path.write_bytes(ortho.data)
    assert cli_main(["imagery", stored_campus.id, str(path)]) == 2
    assert "over the 10 KB limit (GRIDMAP_IMAGERY_MAX_MB)" in capsys.readouterr().err
    assert _imagery_rows(store) == []


def test_cli_names_an_unknown_campus(store: SqlCampusStore, stored_campus: Campus,
                                     ortho: Ortho, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ortho.tif"
    path.write_bytes(ortho.data)
    assert cli_main(["imagery", "no-such-campus", str(path)]) == 2
    assert "no campus 'no-such-campus'" in capsys.readouterr().err


# --- the sample campus's synthetic imagery --------------------------------------------------------


@pytest.fixture(scope="module")
def sample_campus() -> Campus:
    from importers.campus import import_campus

    return import_campus(SAMPLE_DIR / "campus.toml", None).campus


def test_sample_imagery_is_small_synthetic_and_drawn_from_the_roofs(
        sample_campus: Campus) -> None:
    import rasterio

    path = SAMPLE_DIR / "imagery.tif"
    assert path.stat().st_size < 400_000
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32616", always_xy=True)
    with rasterio.open(path) as src:
        assert "Synthetic" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
        assert src.crs.to_epsg() == 32616
        for building in sample_campus.buildings:  # a roof, not grass, under every building
            inside = building.footprint.representative_point()
            ((r, g, b),) = [tuple(int(v) for v in px) for px in
                            src.sample([to_utm.transform(inside.x, inside.y)])]
            assert not (g > r + 15 and g > b + 15), (building.id, r, g, b)
        lawn = sample_campus.parcel.difference(  # type: ignore[union-attr]
            unary_union([b.footprint for b in sample_campus.buildings]).buffer(0.0005))
        point = lawn.representative_point()
        ((r, g, b),) = [tuple(int(v) for v in px) for px in
                        src.sample([to_utm.transform(point.x, point.y)])]
        assert g > r and g > b, ("lawn", r, g, b)
    prepared = importer.prepare_imagery(path, sample_campus, max_bytes=10**8)
    assert prepared.source_crs == "EPSG:32616"


def test_demo_attaches_the_sample_imagery_once(data_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["demo", "--no-serve"]) == 0
    assert "lincoln-ridge: stored imagery version 1" in capsys.readouterr().out
    assert cli_main(["demo", "--no-serve"]) == 0
    assert "stored imagery" not in capsys.readouterr().out
    store = SqlCampusStore(Settings(data_dir=data_dir).resolved_database_url)
    try:
        info = store.imagery_info("lincoln-ridge")
        assert info is not None
        assert info.version == 1
        assert info.attribution.startswith("Synthetic imagery")
        digest = hashlib.sha256((SAMPLE_DIR / "imagery.tif").read_bytes()).hexdigest()
        assert info.source_digest == digest
    finally:
        store.close()


# --- lazy imports, and Mapnik's PROJ_LIB ----------------------------------------------------------


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def test_app_and_cli_start_without_rasterio() -> None:
    out = _run("import sys, api.app, api.cli, api.imagery, api.routes_imagery, importers.imagery;"
               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rasterio'))")
    assert out.strip() == "[]"


def test_imagery_works_after_mapnik_is_imported() -> None:
    pytest.importorskip("mapnik")
    out = _run(
        "import mapnik\n"
        "from pathlib import Path\n"
        "from importers.imagery import prepare_imagery\n"
        "from tests.campus_factory import small_campus\n"
        f"p = prepare_imagery(Path({str(SAMPLE_DIR / 'imagery.tif')!r}), small_campus(),"
        " max_bytes=10**8)\n"
        "print(p.source_crs)\n")
    assert out.strip() == "EPSG:32616"


def test_the_book_prints_imagery_after_a_plain_mapnik_import(
        tmp_path: Path, sample_campus: Campus) -> None:
    """Mapnik's wheel names a PROJ folder without a database on import; the book reprojects
    its photo in worker threads, whose first rasterio Env reads PROJ's path from the
    environment again: the photo must still be placed (it once failed with 'Cannot find
    coordinate operations' after another test imported Mapnik first)."""
    pytest.importorskip("mapnik")
    prepared = tmp_path / "imagery_3857.tif"
    prepared.write_bytes(importer.prepare_imagery(SAMPLE_DIR / "imagery.tif", sample_campus,
                                                  max_bytes=10**8).data)
    out = _run(
        "import os\n"
        "os.environ.pop('PROJ_LIB', None); os.environ.pop('PROJ_DATA', None)\n"
        "import mapnik\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from importers.campus import import_campus\n"
        "from tiles.book import make_book\n"
        f"campus = import_campus(Path({str(SAMPLE_DIR / 'campus.toml')!r})).campus\n"
        f"pdf = make_book(campus, size='letter', level=None, revision=1,"
        f" imagery=Path({str(prepared)!r}), printed_on=date(2026, 11, 30))\n"
        "print(pdf[:5].decode())\n")
    assert out.strip() == "%PDF-"
