"""Georeferencing a PDF page: an ISO 32000 geospatial viewport (``/VP`` with a ``/GEO`` measure).

A map page gets one viewport over its map frame. Its measure dictionary ties the frame's four
corners (``/LPTS``, as fractions of the viewport's ``/BBox``) to their latitudes and
longitudes (``/GPTS``), and names the map's projected CRS (``/GCS``, WKT), so GDAL and
map apps that read geospatial PDF (Avenza, QGIS) know where every point of the sheet is on the
ground and can show the reader's GPS position on it.

The map is printed in the campus's own projected CRS (true north up, true scale), so the
frame's corners are exact rectangle corners in that CRS and the page-to-ground mapping is
affine, as GDAL expects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyproj import CRS

from gridmap.grid import Bounds
from tiles.book_sheets import Rect, campus_frame

if TYPE_CHECKING:
    from pypdf import PageObject

#: The frame corners in viewport units, in the order of ``/GPTS``: lower left, upper left,
#: upper right, lower right.
_UNIT_CORNERS = (0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0)


def crs_wkt(crs: str) -> str:
    """The CRS as WKT1 (what GDAL's geospatial PDF reader parses in ``/GCS``)."""
    wkt = CRS.from_user_input(crs).to_wkt("WKT1_GDAL")
    if wkt is None:  # pragma: no cover - every projected CRS gridmap makes has a WKT1 form
        raise ValueError(f"CRS {crs!r} has no WKT1 form")
    return wkt


def georeference(page: PageObject, frame: Rect, bbox: Bounds, crs: str, name: str) -> None:
    """Add a geospatial viewport to ``page``: ``frame`` (points) shows ``bbox`` of ``crs``."""
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        FloatObject,
        NameObject,
        TextStringObject,
    )

    to_lonlat = campus_frame(crs).lonlat
    corners = ((bbox.minx, bbox.miny), (bbox.minx, bbox.maxy), (bbox.maxx, bbox.maxy),
               (bbox.maxx, bbox.miny))
    gpts: list[float] = []
    for x, y in corners:
        lon, lat = to_lonlat(x, y)
        gpts += [lat, lon]  # latitude first, as ISO 32000 says

    def numbers(values: tuple[float, ...] | list[float]) -> ArrayObject:
        return ArrayObject(FloatObject(round(v, 9)) for v in values)

    measure = DictionaryObject({
        NameObject("/Type"): NameObject("/Measure"),
        NameObject("/Subtype"): NameObject("/GEO"),
        NameObject("/Bounds"): numbers(_UNIT_CORNERS),
        NameObject("/GPTS"): numbers(gpts),
        NameObject("/LPTS"): numbers(_UNIT_CORNERS),
        NameObject("/GCS"): DictionaryObject({
            NameObject("/Type"): NameObject("/PROJCS"),
            NameObject("/WKT"): TextStringObject(crs_wkt(crs)),
        }),
        NameObject("/PDU"): ArrayObject([NameObject("/M"), NameObject("/SQM"),
                                         NameObject("/DEG")]),
    })
    viewport = DictionaryObject({
        NameObject("/Type"): NameObject("/Viewport"),
        NameObject("/BBox"): numbers((frame.x0, frame.y0, frame.x1, frame.y1)),
        NameObject("/Name"): TextStringObject(name),
        NameObject("/Measure"): measure,
    })
    page[NameObject("/VP")] = ArrayObject([viewport])
