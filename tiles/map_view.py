"""What a map shows and at what scale (:class:`MapView`), Web Mercator zoom arithmetic, the
text metrics that decide which labels fit, and :func:`mapnik_module` (the one way Mapnik is
imported). Shared by the features, the paper labels, the style and the renderer
(:mod:`tiles.cartography`).
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gridmap.model import AmenityKind
from tiles import style

if TYPE_CHECKING:
    pass


#: Equatorial circumference of the Web Mercator sphere, metres.
_EARTH = 2.0 * math.pi * 6378137.0
#: A room name is wrapped to at most this many lines under its number.
MAX_NAME_LINES = 3
#: A text line's height in em (DejaVu Sans' ascent plus descent, and Mapnik's leading).
LINE_HEIGHT = 1.2
#: Label buffer around a tile (pixels at 1x): a label crossing a tile edge is drawn by both
#: tiles when its point lies within this of each (half the longest label: a building's name).
BUFFER_PX = 192
#: Grid lines are densified to this many vertices per cell edge before projecting.
_GRID_DENSIFY_PER_CELL = 8
#: Amenities drawn on the campus overview (the map with no level): what responders need outside.
OVERVIEW_AMENITIES = frozenset({
    AmenityKind.KNOX_BOX, AmenityKind.GAS_SHUTOFF, AmenityKind.WATER_SHUTOFF,
    AmenityKind.ELECTRIC_SHUTOFF, AmenityKind.FIRE_ALARM_PANEL, AmenityKind.RALLY_POINT,
    AmenityKind.STAGING_AREA, AmenityKind.HAZARD,
})


@dataclass(frozen=True)
class MapView:
    """What to draw and how big: a level (or the overview) over a box of a spatial reference.

    ``zoom`` picks the label and symbol rules and decides which room labels fit their rooms:
    pass the Web Mercator zoom of the drawn scale, ``zoom_for_resolution(metres per output
    pixel or point * scale_factor, latitude)``, so labels are sized as on a tile of the same
    ground resolution (a printed sheet then looks like the tiles; a larger ``scale_factor``
    draws the same map with everything larger, for legibility on paper).
    """

    ordinal: int | None
    srs: str
    bbox: tuple[float, float, float, float]
    width: int
    height: int
    zoom: float
    scale_factor: float = 1.0
    imagery: Path | None = None
    purpose: Literal["tile", "print"] = "tile"
    grid: bool = True
    grid_labels: bool = True
    #: leave out room numbers and names (everything else is drawn)
    room_labels: bool = field(default=True, kw_only=True)


def mapnik_module() -> Any:
    """``import mapnik``, first giving its PROJ a database when the environment names none.

    Mapnik's wheel points ``PROJ_LIB`` at a folder of its own that holds no ``proj.db`` (unless
    the variable is set already), which leaves Mapnik unable to read EPSG codes and rasterio's
    PROJ with no database in the same process. rasterio's wheel carries a ``proj.db`` recent
    enough for both, so that is named first. Import Mapnik through this function.
    """
    if "mapnik" not in sys.modules and not (os.environ.get("PROJ_LIB")
                                            or os.environ.get("PROJ_DATA")):
        spec = importlib.util.find_spec("rasterio")
        if spec is not None and spec.origin is not None:
            data = Path(spec.origin).parent / "proj_data"
            if (data / "proj.db").is_file():
                os.environ["PROJ_LIB"] = str(data)
    import mapnik

    return mapnik


def ground_resolution(zoom: float, lat: float) -> float:
    """Ground metres per pixel (at 1x) of a 256-pixel Web Mercator tile at ``zoom``, ``lat``."""
    return _EARTH * math.cos(math.radians(lat)) / (256.0 * math.pow(2.0, zoom))


def zoom_for_resolution(metres_per_px: float, lat: float) -> float:
    """The Web Mercator zoom whose 1x pixel covers ``metres_per_px`` ground metres at ``lat``
    (a printed sheet passes metres per point: its labels then follow the tile rules)."""
    return math.log2(_EARTH * math.cos(math.radians(lat)) / (256.0 * metres_per_px))


def style_zoom(zoom: float) -> int:
    """The zoom whose rules apply: rounded, and clamped to the zooms the style defines."""
    z = round(zoom)
    return min(max(z, style.STYLE_ZOOMS.start), style.STYLE_ZOOMS.stop - 1)


# --- text metrics (DejaVu Sans; close enough to decide what fits a room) ------------------------

_NARROW = set("ijlt.,:;'|!()[]- fIJr")
_WIDE = set("mwMW@%")


def text_width_px(text: str, font_px: float, bold: bool) -> float:
    """Estimated advance width of ``text`` in DejaVu Sans (Bold) at ``font_px`` pixels."""
    em = 0.0
    for ch in text:
        if ch.isdigit():
            em += 0.70 if bold else 0.64
        elif ch == " ":
            em += 0.35 if bold else 0.32
        elif ch in _NARROW:
            em += 0.40 if bold else 0.33
        elif ch in _WIDE:
            em += 1.02 if bold else 0.93
        elif ch.isupper():
            em += 0.78 if bold else 0.71
        else:
            em += 0.66 if bold else 0.60
    return em * font_px


def wrap_name(name: str, font_px: float, max_w: float) -> list[str]:
    """Greedy word wrap of a room name to ``max_w`` pixels; a longer word keeps its own line."""
    lines: list[str] = []
    for word in name.split():
        if lines and text_width_px(f"{lines[-1]} {word}", font_px, False) <= max_w:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines[:MAX_NAME_LINES]
