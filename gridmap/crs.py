"""The campus's local metric frame.

The grid must be aligned to *true* north (PRODUCT.md, legal minimum 1). A UTM zone's grid north
differs from true north by the meridian convergence, which reaches 1-3 degrees away from the
zone's central meridian: half a 25 m cell of skew across a 400 m campus. So the local frame is a
Transverse Mercator on the UTM ellipsoid whose central meridian runs through the campus: grid
north is true north at the campus and convergence across it is a few thousandths of a degree,
while scale stays within a part per million. The UTM zone is still used for USNG references.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

G = TypeVar("G", bound=BaseGeometry)


def local_crs_for(lon: float, lat: float) -> str:
    """A PROJ string for a true-north-aligned metric frame centred on (lon, lat)."""
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise ValueError(f"campus centre {lon}, {lat} is outside the UTM/USNG domain")
    return (
        f"+proj=tmerc +lat_0={lat:.6f} +lon_0={lon:.6f} +k=1 +x_0=0 +y_0=0 "
        "+ellps=WGS84 +units=m +no_defs"
    )


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat), Norway/Svalbard exceptions aside."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


@dataclass(frozen=True)
class LocalFrame:
    """Transforms between WGS84 lon/lat and a campus's local metres."""

    crs: str

    @cached_property
    def _forward(self) -> Transformer:
        return Transformer.from_crs(
            CRS.from_epsg(4326), CRS.from_user_input(self.crs), always_xy=True
        )

    @cached_property
    def _inverse(self) -> Transformer:
        return Transformer.from_crs(
            CRS.from_user_input(self.crs), CRS.from_epsg(4326), always_xy=True
        )

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._inverse.transform(x, y)
        return float(lon), float(lat)

    def to_local(self, geom: G) -> G:
        return _apply(geom, self._forward)

    def to_wgs84(self, geom: G) -> G:
        return _apply(geom, self._inverse)


def _apply(geom: G, transformer: Transformer) -> G:
    def coords(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out: G = shapely.transform(geom, coords)
    return out
