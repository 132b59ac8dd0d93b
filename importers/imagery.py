"""Aerial imagery (an orthophoto GeoTIFF in any CRS) made ready to serve under a campus's plans.

:func:`prepare_imagery` reads the file with rasterio, refuses what cannot be used with a named
error (:mod:`gridmap.errors`: not a TIFF, corrupt, not georeferenced, unknown CRS, not covering
the campus, unsupported samples, too large), and reprojects the part around the campus to an
EPSG:3857 (web mercator) GeoTIFF: 256 px tiles, overviews, JPEG-compressed colour with an
internal mask for what the photo does not cover. Web map tiles, Mapnik and the printed book all
read that one file. Nothing here stores anything; a refused file leaves no trace.

Decompression bombs: a few kilobytes of TIFF can declare a gigapixel image, or one strip of a
billion pixels that must be decoded whole. The pixel count and the largest block are checked
from the header before any pixel is decoded, the output is capped in pixels and resolution, and
GDAL works with a bounded cache.

rasterio is imported inside the functions that use it (the API and CLI must start without it).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from shapely.geometry import MultiPoint, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import (
    CorruptImagery,
    ImageryNotCovering,
    ImageryTooLarge,
    NotATiff,
    NotGeoreferenced,
    UnknownCRS,
    UnsupportedImagery,
)
from gridmap.model import Campus

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

WEB_MERCATOR = "EPSG:3857"
#: half the width of the web mercator square, metres
MERCATOR_HALF = 20037508.342789244
#: the finest ground resolution kept: finer photos are resampled to this (no campus map needs
#: more, and it caps what a tiny upload can make the server compute)
MIN_RESOLUTION_M = 0.05
#: imagery is kept this far around the campus grid, for the streets and neighbours around it
CAMPUS_MARGIN_M = 150.0
#: the largest output image; a larger area is stored at a coarser resolution
MAX_OUTPUT_PIXELS = 40_000_000
#: default cap of a source's pixel count (width x height); the settings may change it
DEFAULT_MAX_PIXELS = 250_000_000
#: the largest block (tile or strip) GDAL would have to decode in one piece, bytes
MAX_BLOCK_BYTES = 64 * 1024 * 1024
#: the least share of the campus's buildings' box the imagery must show (not nodata)
MIN_SITE_DATA = 0.5
#: GDAL's block cache while preparing, MB
GDAL_CACHE_MB = 128
#: JPEG quality of the stored imagery
JPEG_QUALITY = 85
BLOCK_SIZE = 256

_UNREADABLE = "the TIFF cannot be read (truncated or damaged)"
_PIXELS_UNREADABLE = "the TIFF's pixel data cannot be read (truncated or damaged)"
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_OTHER_FORMATS = (
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip archive"), (b"%PDF", "a PDF document"), (b"GIF8", "a GIF image"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000 image"),
)


@dataclass(frozen=True, slots=True)
class PreparedImagery:
    """An orthophoto ready to store: an EPSG:3857 GeoTIFF and what it holds.

    ``digest`` is the sha256 of ``data``; ``source_digest`` that of the file as given, so the
    same file attached again is recognised. ``resolution_m`` is the ground size of a pixel at
    the campus (web mercator pixels are larger by 1/cos(latitude)).
    """

    data: bytes
    digest: str
    bounds_3857: tuple[float, float, float, float]
    source_crs: str
    resolution_m: float
    width: int
    height: int
    source_digest: str
    source_bytes: int


def prepare_imagery(
    source: Path | bytes, campus: Campus | None, *, max_bytes: int,
    max_pixels: int = DEFAULT_MAX_PIXELS, max_output_pixels: int = MAX_OUTPUT_PIXELS,
    time_limit_s: float | None = None,
) -> PreparedImagery:
    """Validate an orthophoto for ``campus`` and reproject it to a tiled EPSG:3857 GeoTIFF.

    ``campus`` None: a photo of a site not imported yet (a workspace's upload, shown while the
    plans are placed on it): every check but "covers the campus", and the output is the
    photo's own extent (:func:`site_grid`) rather than the campus and its margin.

    ``time_limit_s`` bounds the warp (checked between strips): a photo that would take longer
    is refused as too large.

    Raises a :class:`~gridmap.errors.ImageryError` subclass naming the problem; never
    anything else for a bad file.
    """
    data = _source_bytes(source, max_bytes)
    _check_is_tiff(data)
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.io import MemoryFile

    try:
        with _gdal_env(), MemoryFile(data) as memfile:
            try:
                src = memfile.open(driver="GTiff")
            except RasterioError as exc:
                raise CorruptImagery(f"{_UNREADABLE}: {_gdal_message(exc)}",
                                     user_message=_UNREADABLE) from exc
            with src:
                deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
                output = _prepare_open(src, campus, max_pixels, max_output_pixels, deadline)
    except rasterio.errors.CRSError as exc:
        raise UnknownCRS(f"unusable coordinate reference system: {_gdal_message(exc)}") from exc
    except (RasterioError, _cple_errors()) as exc:
        raise CorruptImagery(f"{_PIXELS_UNREADABLE}: {_gdal_message(exc)}",
                             user_message=_PIXELS_UNREADABLE) from exc
    out_bytes, bounds, resolution_m, width, height, source_crs = output
    return PreparedImagery(
        data=out_bytes, digest=hashlib.sha256(out_bytes).hexdigest(), bounds_3857=bounds,
        source_crs=source_crs, resolution_m=resolution_m, width=width, height=height,
        source_digest=hashlib.sha256(data).hexdigest(), source_bytes=len(data),
    )


# --- checks before any pixel is decoded -------------------------------------------------------


def _source_bytes(source: Path | bytes, max_bytes: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > max_bytes:
            raise _too_many_bytes(len(data), max_bytes)
        return data
    try:
        size = source.stat().st_size
        if size > max_bytes:
            raise _too_many_bytes(size, max_bytes)
        with source.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise NotATiff(f"cannot read {source.name}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # grew while being read
        raise _too_many_bytes(len(data), max_bytes)
    return data


def _too_many_bytes(size: int, max_bytes: int) -> ImageryTooLarge:
    return ImageryTooLarge(f"imagery file is {size_text(size)}, over the "
                           f"{size_text(max_bytes)} limit (GRIDMAP_IMAGERY_MAX_MB)")


def size_text(n: int) -> str:
    """A byte count for a message: ``51 KB``, ``12.5 MB``."""
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{n / 1024:.0f} KB"


def _check_is_tiff(data: bytes) -> None:
    if data[:4] in _TIFF_MAGIC:
        return
    if not data:
        raise NotATiff("the file is empty, not a GeoTIFF")
    what = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
    if what is None:
        what = "text" if _looks_like_text(data[:512]) else "not a TIFF"
    raise NotATiff(f"the file is {what}, not a GeoTIFF (an orthophoto must be a TIFF with "
                   "georeferencing)")


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def use_rasterio_proj_data() -> None:
    """Point rasterio's PROJ at its own database when the environment names a folder without
    one. Mapnik's wheel sets ``PROJ_LIB`` on import to a folder holding no ``proj.db``, and
    rasterio, imported after it in the same process (the API renders tiles with Mapnik), would
    otherwise know no CRS at all. Call it inside a ``rasterio.Env``: the first one started in
    a process sets PROJ's search path from the environment again."""
    global _proj_checked
    configured = os.environ.get("PROJ_DATA") or os.environ.get("PROJ_LIB") or ""
    if _proj_checked == configured:  # checked for this environment already (it may change:
        return                       # a later `import mapnik` sets PROJ_LIB)
    import rasterio.env

    if configured and not any((Path(folder) / "proj.db").is_file()
                              for folder in configured.split(os.pathsep)):
        wheel = rasterio.env.PROJDataFinder().search_wheel()
        if wheel:
            # the environment too: each new thread's first rasterio Env reads PROJ's path
            # from it again (the book reprojects its photo in a worker thread)
            for name in ("PROJ_DATA", "PROJ_LIB"):
                if name in os.environ:
                    os.environ[name] = wheel
            rasterio.env.set_proj_data_search_path(wheel)
            configured = wheel
    _proj_checked = configured


_proj_checked: str | None = None  # the PROJ_DATA / PROJ_LIB value last checked


@contextmanager
def _gdal_env() -> Iterator[None]:
    """GDAL with a bounded cache, one thread, and no reading of files next to the input."""
    import rasterio

    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB, GDAL_NUM_THREADS="1",
                      GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", CHECK_DISK_FREE_SPACE="FALSE",
                      GDAL_TIFF_INTERNAL_MASK="YES"):
        use_rasterio_proj_data()
        yield


def _cple_errors() -> type[Exception]:
    from rasterio._err import CPLE_BaseError

    base: type[Exception] = CPLE_BaseError
    return base


def _gdal_message(exc: BaseException) -> str:
    """GDAL's message without the in-memory file names it quotes."""
    text = str(exc)
    for marker in ("/vsimem/",):
        while marker in text:
            start = text.index(marker)
            end = start + len(marker)
            while end < len(text) and not text[end].isspace() and text[end] not in "'\":,":
                end += 1
            text = text[:start] + "<upload>" + text[end:]
    return text[:300]


def _check_size(src: DatasetReader, max_pixels: int) -> None:
    pixels = src.width * src.height
    if pixels > max_pixels:
        raise ImageryTooLarge(
            f"imagery is {src.width} x {src.height} = {pixels / 1e6:.0f} million pixels, over "
            f"the {max_pixels / 1e6:.0f} million limit (GRIDMAP_IMAGERY_MAX_PIXELS); crop it to "
            "the campus or lower its resolution")
    itemsize = max(_itemsize(dtype) for dtype in src.dtypes)
    block_h, block_w = max(src.block_shapes, key=lambda s: s[0] * s[1])
    per_block = block_h * block_w * itemsize * (src.count if _pixel_interleaved(src) else 1)
    if per_block > MAX_BLOCK_BYTES:
        raise ImageryTooLarge(
            f"imagery is stored in blocks of {block_w} x {block_h} pixels ({size_text(per_block)} "
            f"each, over {size_text(MAX_BLOCK_BYTES)}); re-save it tiled "
            "(gdal_translate -co TILED=YES)")


def _itemsize(dtype: str) -> int:
    import numpy as np

    return int(np.dtype(dtype).itemsize)


def _pixel_interleaved(src: DatasetReader) -> bool:
    return str(src.tags(ns="IMAGE_STRUCTURE").get("INTERLEAVE", "PIXEL")).upper() == "PIXEL"


def _bands(src: DatasetReader) -> tuple[list[int], int | None]:
    """The colour bands to keep (1 grey or 3 RGB) and the alpha band, 1-based."""
    from rasterio.enums import ColorInterp

    if src.count == 0:
        raise UnsupportedImagery("the TIFF holds no image bands")
    not_bytes = sorted({d for d in src.dtypes if d != "uint8"})
    if not_bytes:
        raise UnsupportedImagery(
            f"imagery samples are {', '.join(not_bytes)}; gridmap takes 8-bit photos "
            "(convert with gdal_translate -ot Byte -scale)")
    interp = list(src.colorinterp)
    if ColorInterp.palette in interp:
        raise UnsupportedImagery("imagery has a colour palette; expand it to RGB first "
                                 "(gdal_translate -expand rgb)")
    alpha = interp.index(ColorInterp.alpha) + 1 if ColorInterp.alpha in interp else None
    rgb = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    if all(c in interp for c in rgb):
        return [interp.index(c) + 1 for c in rgb], alpha
    colour = [i + 1 for i in range(src.count) if i + 1 != alpha]
    if len(colour) >= 3:
        return colour[:3], alpha  # e.g. a 4-band red, green, blue, near-infrared photo
    return colour[:1], alpha  # greyscale


# --- where the imagery is, and where the campus is --------------------------------------------


def _check_georeferenced(src: DatasetReader) -> None:
    if src.crs is None:
        gcps, _ = src.gcps
        if gcps:
            raise NotGeoreferenced(
                "the TIFF is placed by ground control points only; rectify it first "
                "(gdalwarp) so it has a geotransform")
        raise NotGeoreferenced("the TIFF has no georeferencing (no coordinate reference "
                               "system): it is a plain image, not a GeoTIFF. If it came with a "
                               "world file (.tfw), make one GeoTIFF of the two where both lie: "
                               "gdal_translate -a_srs EPSG:<its CRS> photo.tif photo-geo.tif")
    if src.transform.is_identity or src.transform.determinant == 0:
        raise NotGeoreferenced("the TIFF has a coordinate reference system but no "
                               "geotransform, so its pixels cannot be placed")


def _footprint(src: DatasetReader, dst_crs: str, steps: int = 16) -> Polygon:
    """The image outline (its pixel edges, densified) in ``dst_crs``."""
    from rasterio.warp import transform

    w, h = src.width, src.height
    corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    edge = [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
            for (x0, y0), (x1, y1) in zip(corners, [*corners[1:], corners[0]], strict=True)
            for i in range(steps)]
    xs, ys = zip(*(src.transform @ p for p in edge), strict=True)
    tx, ty = transform(src.crs, dst_crs, list(xs), list(ys))
    if not all(math.isfinite(v) for v in (*tx, *ty)):
        raise UnknownCRS(f"the imagery's corners cannot be placed on the earth from its "
                         f"coordinate reference system ({_crs_name(src)})")
    return Polygon(zip(tx, ty, strict=True))


def _crs_name(src: DatasetReader) -> str:
    crs = src.crs
    epsg = crs.to_epsg() if crs is not None else None
    if epsg is not None:
        return f"EPSG:{epsg}"
    from pyproj import CRS

    try:
        return str(CRS.from_wkt(crs.to_wkt()).name)[:200]
    except Exception:  # a name for a message; the caller reports the real problem
        return "a custom CRS"


def campus_site(campus: Campus) -> BaseGeometry:
    """What imagery must cover (lon/lat): the buildings' footprints, else the parcel, else
    the grid."""
    if campus.buildings:
        return unary_union([b.footprint for b in campus.buildings])
    if campus.parcel is not None:
        return campus.parcel
    return box(*grid.lonlat_bounds(campus.grid, LocalFrame(campus.crs)))


def _check_covers(footprint_lonlat: Polygon, campus: Campus) -> None:
    site = campus_site(campus)
    if footprint_lonlat.buffer(1e-9).contains(site):
        return
    frame = LocalFrame(campus.crs)
    local_site = frame.to_local(site)
    local_image = frame.to_local(footprint_lonlat)
    covered = local_image.intersection(local_site).area / max(local_site.area, 1e-9)
    what = "buildings" if campus.buildings else "site"
    lon0, lat0, lon1, lat1 = footprint_lonlat.bounds
    where = f"it spans lon {lon0:.5f}..{lon1:.5f}, lat {lat0:.5f}..{lat1:.5f}"
    if covered <= 0:
        distance = local_image.distance(local_site)
        far = f"{distance / 1000:.1f} km" if distance >= 1000 else f"{distance:.0f} m"
        raise ImageryNotCovering(
            f"the imagery does not cover campus {campus.id}: {where}, {far} from its {what}")
    raise ImageryNotCovering(
        f"the imagery covers only {covered:.0%} of campus {campus.id}'s {what} ({where}); "
        "attach imagery that covers all of them")


# --- the output grid --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutputGrid:
    """The EPSG:3857 raster to make: top-left corner, pixel size (web mercator metres), size."""

    west: float
    north: float
    pixel: float
    width: int
    height: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.west, self.north - self.height * self.pixel,
                self.west + self.width * self.pixel, self.north)


def native_resolution_m(src: DatasetReader, campus: Campus) -> float:
    """The ground size of one source pixel at the campus, metres."""
    centre = campus_site(campus).centroid
    return _resolution_at(src, LocalFrame(campus.crs), centre.x, centre.y)


def _resolution_at(src: DatasetReader, frame: LocalFrame, lon: float, lat: float) -> float:
    """The ground size of one source pixel at ``lon``, ``lat``, metres in ``frame``."""
    from rasterio.warp import transform

    (sx,), (sy,) = transform("EPSG:4326", src.crs, [lon], [lat])
    col, row = ~src.transform @ (sx, sy)
    corners = [src.transform @ (col + dc, row + dr) for dc, dr in ((0, 0), (1, 0), (0, 1))]
    lons, lats = transform(src.crs, "EPSG:4326", [c[0] for c in corners], [c[1] for c in corners])
    (x0, y0), (x1, y1), (x2, y2) = (frame.xy(lo, la) for lo, la in zip(lons, lats, strict=True))
    area = abs((x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0))
    if not math.isfinite(area) or area <= 0:
        raise UnknownCRS(f"the imagery's pixel size cannot be measured in its coordinate "
                         f"reference system ({_crs_name(src)})")
    return math.sqrt(area)


def output_grid(footprint_3857: Polygon, campus: Campus, resolution_m: float,
                max_pixels: int) -> tuple[OutputGrid, float]:
    """The web mercator raster covering the imagery around the campus, and its ground
    resolution: ``resolution_m`` (at least :data:`MIN_RESOLUTION_M`), coarser when the area
    would need more than ``max_pixels``."""
    from pyproj import Transformer

    frame = LocalFrame(campus.crs)
    lon0, lat0, lon1, lat1 = grid.lonlat_bounds(campus.grid, frame)
    to_3857 = Transformer.from_crs("EPSG:4326", WEB_MERCATOR, always_xy=True)
    corners = MultiPoint([to_3857.transform(lo, la) for lo in (lon0, lon1) for la in (lat0, lat1)])
    lat = (lat0 + lat1) / 2.0
    stretch = 1.0 / math.cos(math.radians(lat))  # web mercator metres per ground metre
    area = box(*corners.bounds).buffer(CAMPUS_MARGIN_M * stretch, join_style="mitre")
    return _grid_over(area.intersection(footprint_3857).bounds, stretch, resolution_m,
                      max_pixels)


def site_grid(footprint_3857: Polygon, footprint_lonlat: Polygon, resolution_m: float,
              max_pixels: int) -> tuple[OutputGrid, float]:
    """:func:`output_grid` with no campus: the web mercator raster covering the whole photo."""
    lat = footprint_lonlat.centroid.y
    stretch = 1.0 / math.cos(math.radians(lat))
    return _grid_over(footprint_3857.bounds, stretch, resolution_m, max_pixels)


def _grid_over(bounds: tuple[float, float, float, float], stretch: float, resolution_m: float,
               max_pixels: int) -> tuple[OutputGrid, float]:
    west, south, east, north = bounds
    ground = max(resolution_m, MIN_RESOLUTION_M)
    pixel = ground * stretch
    width, height = math.ceil((east - west) / pixel), math.ceil((north - south) / pixel)
    if width * height > max_pixels:
        factor = math.sqrt(width * height / max_pixels)
        ground, pixel = ground * factor, pixel * factor
        width, height = math.ceil((east - west) / pixel), math.ceil((north - south) / pixel)
    return OutputGrid(west, north, pixel, max(1, width), max(1, height)), ground


# --- reprojection -----------------------------------------------------------------------------


def _prepare_open(
    src: DatasetReader, campus: Campus | None, max_pixels: int, max_output_pixels: int,
    deadline: float | None,
) -> tuple[bytes, tuple[float, float, float, float], float, int, int, str]:
    _check_size(src, max_pixels)
    bands, alpha = _bands(src)
    _check_georeferenced(src)
    crs_name = _check_crs(src)
    footprint_lonlat = _footprint(src, "EPSG:4326")
    footprint_3857 = _footprint(src, WEB_MERCATOR)
    check: Callable[[DatasetReader], None]
    if campus is None:
        from gridmap.crs import local_crs_for

        centre = footprint_lonlat.centroid
        resolution = _resolution_at(src, LocalFrame(local_crs_for(centre.x, centre.y)),
                                    centre.x, centre.y)
        target, resolution_m = site_grid(footprint_3857, footprint_lonlat, resolution,
                                         max_output_pixels)
        check = _check_any_data
    else:
        _check_covers(footprint_lonlat, campus)
        target, resolution_m = output_grid(footprint_3857, campus,
                                           native_resolution_m(src, campus), max_output_pixels)
        check = partial(_check_has_data, site=_site_bounds_3857(campus), campus=campus)
    data = _reproject(src, bands, alpha, target, check, deadline)
    return data, target.bounds, resolution_m, target.width, target.height, crs_name


def _site_bounds_3857(campus: Campus) -> tuple[float, float, float, float]:
    from pyproj import Transformer

    to_3857 = Transformer.from_crs("EPSG:4326", WEB_MERCATOR, always_xy=True)
    lon0, lat0, lon1, lat1 = campus_site(campus).bounds
    (x0, x1), (y0, y1) = to_3857.transform([lon0, lon1], [lat0, lat1])
    return (x0, y0, x1, y1)


def _check_has_data(work: DatasetReader, site: tuple[float, float, float, float],
                    campus: Campus) -> None:
    """Refuse imagery whose pixels over the campus are mostly empty (nodata, transparent): a
    mosaic's blank collar covers the campus on paper but shows nothing."""
    from rasterio.windows import Window, from_bounds

    window = from_bounds(*site, transform=work.transform).round_offsets().round_lengths()
    window = window.intersection(Window(0, 0, work.width, work.height))
    mask = work.dataset_mask(window=window)
    shown = float((mask > 0).mean()) if mask.size else 0.0
    if shown < MIN_SITE_DATA:
        what = "buildings" if campus.buildings else "site"
        raise ImageryNotCovering(
            f"the imagery has pixels for only {shown:.0%} of campus {campus.id}'s {what}; the "
            "rest is nodata or transparent")


#: the longest side of the mask read to tell whether a photo with no campus shows anything
_ANY_DATA_SIDE = 1024


def _check_any_data(work: DatasetReader) -> None:
    """Refuse a photo (with no campus to check it against) whose pixels are all nodata or
    transparent: there is nothing to show."""
    scale = max(1.0, max(work.width, work.height) / _ANY_DATA_SIDE)
    shape = (max(1, round(work.height / scale)), max(1, round(work.width / scale)))
    if not (work.dataset_mask(out_shape=shape) > 0).any():
        raise ImageryNotCovering("the imagery has no pixels to show: all of it is nodata or "
                                 "transparent")


def _check_crs(src: DatasetReader) -> str:
    """The source CRS's name; :class:`UnknownCRS` when it is not tied to the earth."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_wkt(src.crs.to_wkt())
    except CRSError as exc:
        raise UnknownCRS(f"the imagery's coordinate reference system is not one PROJ knows: "
                         f"{str(exc)[:200]}") from exc
    if not (crs.is_geographic or crs.is_projected):
        raise UnknownCRS(
            f"the imagery's coordinate reference system ({crs.type_name} {crs.name!r}) is not "
            "tied to the earth; re-save it in a projected or geographic CRS (e.g. its UTM zone)")
    return _crs_name(src)


def _reproject(src: DatasetReader, bands: list[int], alpha: int | None,
               target: OutputGrid, check: Callable[[DatasetReader], None],
               deadline: float | None = None) -> bytes:
    """Warp ``bands`` into ``target`` strip by strip through a scratch GeoTIFF, then write the
    final one (tiled, JPEG with an internal mask, overviews) with GDAL's COG driver.

    ``rasterio.warp.reproject`` per strip, not reads of a ``WarpedVRT``: six times faster on
    the same work, and memory stays one strip (plus GDAL's bounded cache). ``check`` sees the
    warped pixels before the final file is written."""
    import numpy as np
    import rasterio.shutil
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin
    from rasterio.warp import reproject
    from rasterio.windows import Window

    transform = from_origin(target.west, target.north, target.pixel, target.pixel)
    profile = {
        "driver": "GTiff", "width": target.width, "height": target.height,
        "count": len(bands), "dtype": "uint8", "crs": WEB_MERCATOR, "transform": transform,
        "tiled": True, "blockxsize": BLOCK_SIZE, "blockysize": BLOCK_SIZE,
        "compress": "deflate", "zlevel": 1,
        "photometric": "RGB" if len(bands) == 3 else "MINISBLACK",
    }
    strip_rows = _STRIP_BLOCKS * BLOCK_SIZE
    with MemoryFile() as scratch, MemoryFile() as final:
        with scratch.open(**profile) as work:
            for row in range(0, target.height, strip_rows):
                if deadline is not None and time.monotonic() > deadline:
                    raise ImageryTooLarge(
                        f"imagery took too long to reproject ({target.width} x {target.height} "
                        "pixels, stopped at the time limit GRIDMAP_IMPORT_TIME_LIMIT_S); crop it "
                        "to the campus or lower its resolution")
                rows = min(strip_rows, target.height - row)
                strip = np.zeros((len(bands) + 1, rows, target.width), dtype=np.uint8)
                reproject(rasterio.band(src, bands), strip,
                          dst_transform=from_origin(target.west, target.north - row * target.pixel,
                                                    target.pixel, target.pixel),
                          dst_crs=WEB_MERCATOR, resampling=Resampling.bilinear,
                          src_alpha=alpha or 0, dst_alpha=len(bands) + 1, warp_mem_limit=64,
                          num_threads=1)
                window = Window(0, row, target.width, rows)
                work.write(strip[:-1], window=window)
                work.write_mask(np.where(strip[-1] > 0, 255, 0).astype(np.uint8), window=window)
        with scratch.open() as work:
            check(work)
            rasterio.shutil.copy(
                work, final.name, driver="COG", COMPRESS="JPEG", QUALITY=str(JPEG_QUALITY),
                BLOCKSIZE=str(BLOCK_SIZE), OVERVIEWS="AUTO", OVERVIEW_RESAMPLING="AVERAGE",
                NUM_THREADS="1")
        return bytes(final.read())


#: output rows warped at once, in blocks
_STRIP_BLOCKS = 4
