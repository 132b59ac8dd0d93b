"""The overview sheet's aerial imagery as a JPEG in the campus CRS, placed under the map.

Mapnik draws imagery into a cairo PDF as losslessly compressed pixels: on an ARCH D overview
that is ~3 MB and ~2 s of the book. The book instead reprojects the stored orthophoto (an
EPSG:3857 GeoTIFF, see :mod:`api.imagery`) to the sheet's frame in the campus's projected CRS
with rasterio, no finer than the photo itself or than :data:`MAX_PX_PER_POINT`, and embeds it
as a JPEG (``/DCTDecode``) under the Mapnik map, which is then drawn without imagery over it
(its background is transparent, parcel and grounds translucent, as over the imagery layer).
Where the photo has no data the paper stays white.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from tiles.book_sheets import MapSheet

#: Never more imagery pixels than this per point of paper (144 dpi)...
MAX_PX_PER_POINT = 2.0
#: ... nor more than this many pixels in all.
MAX_PIXELS = 16_000_000
JPEG_QUALITY = 82


def imagery_jpeg(imagery: Path, crs: str, sheet: MapSheet) -> tuple[bytes, int, int] | None:
    """The imagery under ``sheet``'s frame as (JPEG bytes, width px, height px), or None when
    the photo does not reach the sheet."""
    import numpy as np
    import rasterio
    from PIL import Image
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.transform import from_bounds
    from rasterio.warp import reproject, transform_bounds

    from importers.imagery import use_rasterio_proj_data

    with rasterio.Env():  # the first Env of a process reads PROJ's path from the environment,
        use_rasterio_proj_data()  # where Mapnik (drawing this book) may have named no proj.db
    b = sheet.bbox
    metres_per_point = 1.0 / sheet.points_per_metre
    with rasterio.open(imagery) as source:
        west, south, east, north = transform_bounds(CRS.from_user_input(crs), source.crs,
                                                    b.minx, b.miny, b.maxx, b.maxy)
        sb = source.bounds
        if west >= sb.right or east <= sb.left or south >= sb.top or north <= sb.bottom:
            return None
        # web mercator metres are 1/cos(latitude) ground metres
        latitude = math.degrees(math.atan(math.sinh((south + north) / 2 / 6378137.0)))
        photo_m = source.res[0] * math.cos(math.radians(latitude))
        px_per_point = min(MAX_PX_PER_POINT, metres_per_point / photo_m)
        px_per_point = max(px_per_point, 0.5)
        width = max(1, round(sheet.frame.width * px_per_point))
        height = max(1, round(sheet.frame.height * px_per_point))
        if width * height > MAX_PIXELS:
            shrink = math.sqrt(MAX_PIXELS / (width * height))
            width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
        rgb = np.full((3, height, width), 255, dtype=np.uint8)
        alpha = np.zeros((height, width), dtype=np.uint8)
        target = from_bounds(b.minx, b.miny, b.maxx, b.maxy, width, height)
        for band in range(3):
            reproject(rasterio.band(source, band + 1), rgb[band], dst_transform=target,
                      dst_crs=crs, resampling=Resampling.bilinear)
        reproject(source.dataset_mask(), alpha, src_transform=source.transform,
                  src_crs=source.crs, dst_transform=target, dst_crs=crs,
                  resampling=Resampling.nearest)
    rgb[:, alpha == 0] = 255  # no photo: white paper, as around a print
    out = io.BytesIO()
    Image.fromarray(np.moveaxis(rgb, 0, -1), "RGB").save(out, "JPEG", quality=JPEG_QUALITY,
                                                         optimize=True)
    return out.getvalue(), width, height
