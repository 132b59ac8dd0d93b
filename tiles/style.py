"""How the maps look: one place for colours, line widths, fonts, label rules and symbols.

Everything gridmap draws takes its look from here: the Mapnik maps of :mod:`tiles.cartography`
(raster tiles, the printed book, the offline package) and the web map's legend
(:mod:`tiles.webmap`), so the legend always matches the map on screen and on paper.

Colours are RGBA tuples. Sizes are in output pixels at 1x (points on paper); Mapnik multiplies
them by the view's scale factor (2 for ``@2x`` tiles). Zoom levels are Web Mercator zooms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gridmap.model import AmenityKind, GroundsKind

RGBA = tuple[int, int, int, int]

SymbolShape = Literal["circle", "square", "diamond", "triangle"]


def hex_colour(c: RGBA) -> str:
    """``(255, 0, 0, 255)`` -> ``"#ff0000"`` (alpha dropped), for CSS."""
    return f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}"


# --- base map ---------------------------------------------------------------------------------

# The parcel and the grounds are translucent, so aerial imagery under the plans shows through
# (the web map puts a plain colour under the tiles when imagery is off).
PARCEL_FILL: RGBA = (236, 242, 228, 70)
PARCEL_OUTLINE: RGBA = (96, 128, 80, 255)
PARCEL_WIDTH = 2.0

GROUNDS_FILL: dict[GroundsKind, RGBA] = {
    GroundsKind.PARKING: (210, 210, 218, 170),
    GroundsKind.ATHLETIC_FIELD: (150, 210, 130, 150),
    GroundsKind.ROAD: (250, 250, 250, 190),
    GroundsKind.PLAYGROUND: (240, 214, 160, 160),
    GroundsKind.NEIGHBOURING_PROPERTY: (226, 226, 218, 120),
}
GROUNDS_OUTLINE: RGBA = (120, 120, 120, 200)
GROUNDS_LABEL_COLOUR: RGBA = (90, 90, 90, 255)
MIN_ZOOM_GROUNDS_LABELS = 18

# A building that has the level being shown, and one that does not (drawn as a grey footprint).
BUILDING_FILL: RGBA = (250, 246, 236, 255)
BUILDING_OUTLINE: RGBA = (40, 40, 40, 255)
BUILDING_WIDTH = 2.0
OTHER_LEVEL_FILL: RGBA = (176, 176, 176, 255)
OTHER_LEVEL_OUTLINE: RGBA = (110, 110, 110, 255)

ROOM_FILL: RGBA = (255, 244, 204, 255)
HALLWAY_FILL: RGBA = (214, 230, 244, 255)
ROOM_OUTLINE: RGBA = (60, 60, 60, 255)
ROOM_WIDTH = 1.0
HALLWAY_CATEGORIES = frozenset({"hallway", "corridor", "walkway", "lobby"})
#: A unit known only by its label ("label only, no outline"): a faint box, no room fill.
APPROXIMATE_OUTLINE: RGBA = (60, 60, 60, 110)
APPROXIMATE_DASH = (3.0, 3.0)

# --- the campus grid ---------------------------------------------------------------------------

GRID_COLOUR: RGBA = (228, 0, 124, 255)  # a magenta no other feature uses
GRID_WIDTH = 2.0
GRID_LABEL_COLOUR: RGBA = (228, 0, 124, 255)
GRID_LABEL_HALO: RGBA = (255, 255, 255, 255)

# --- labels ------------------------------------------------------------------------------------

LABEL_COLOUR: RGBA = (20, 20, 20, 255)
LABEL_HALO: RGBA = (255, 255, 255, 255)
HALO_WIDTH = 2
#: Fonts Mapnik's wheel bundles (DejaVu, from the fonts-dejavu project).
FONT_REGULAR = "DejaVu Sans Book"
FONT_BOLD = "DejaVu Sans Bold"
FONT_CONDENSED_BOLD = "DejaVu Sans Condensed Bold"

BUILDING_LABEL_COLOUR: RGBA = (20, 20, 20, 255)
BUILDING_LABEL_HALO: RGBA = (255, 255, 255, 255)
#: Below this zoom the campus is too small to draw: one dot in the grid colour marks it.
MIN_ZOOM_PLAN = 14
#: Zooms whose look is defined; a deeper zoom looks like the deepest, a shallower like the first.
STYLE_ZOOMS = range(15, 23)


def room_number_font_px(z: int) -> int:
    return {17: 8, 18: 9, 19: 12, 20: 14}.get(z, 18 if z > 20 else 8)


def room_name_font_px(z: int) -> int:
    return 11 if z <= 20 else 14


def building_letter_font_px(z: int) -> int:
    """The building's letter: large enough to read at the campus overview."""
    return 14 if z <= 16 else 18 if z <= 18 else 24


def building_name_font_px(z: int) -> int:
    return 10 if z <= 16 else 12 if z <= 19 else 14


def grounds_font_px(z: int) -> int:
    return 10 if z <= 19 else 12


def door_number_font_px(z: int) -> int:
    """Door numbers are painted on the doors; officers read them from z18 on."""
    return 8 if z <= 17 else 10 if z <= 19 else 12 if z <= 20 else 14


def grid_edge_font_px(z: int) -> int:
    return 12 if z <= 17 else 14 if z <= 19 else 16


def cell_corner_font_px(z: int) -> int:
    return 10 if z <= 19 else 12


#: Zoom from which room numbers are drawn (where they fit), names, and per-cell corner labels.
MIN_ZOOM_ROOM_NUMBERS = 17
MIN_ZOOM_ROOM_NAMES = 20
MIN_ZOOM_CELL_LABELS = 18
MIN_ZOOM_DOOR_NUMBERS = 18
MIN_ZOOM_AMENITY_CODES = 18
#: From this zoom a symbol whose point is taken (by a room number) moves beside it; below, it
#: stays on its point or is left out.
MIN_ZOOM_SYMBOL_MOVES = 18
#: Indoor equipment (AED, trauma kit, panels, stairs) from this zoom; Knox boxes, shutoffs,
#: hazards, rally points and staging areas at every zoom.
MIN_ZOOM_INDOOR_AMENITIES = 17
#: From this zoom a building's letter and name sit outside it, above its north wall and below
#: its south wall, leaving the plan to the rooms and symbols; below, in its middle.
MIN_ZOOM_BUILDING_SIDES = 18
#: Building letter and name are drawn at every zoom; the name from this zoom (letter only below).
MIN_ZOOM_BUILDING_NAMES = 16

# --- paper (purpose "print") -------------------------------------------------------------------

#: On paper no room loses its number: one that does not fit its room at the normal size is drawn
#: smaller, down to this size (points on paper), or moved inside its room; only when neither
#: fits is it listed in the sheet's "numbers not shown" note.
PRINT_MIN_NUMBER_PT = 6.0
#: Room names on paper go under their numbers wherever they fit, down to this size (points);
#: a name that does not fit whole at this size is left to the room index.
PRINT_MIN_NAME_PT = 6.0
#: Steps (points) by which a label too large for its room is made smaller on paper.
PRINT_FONT_STEP_PT = 0.5
#: A building's name on the printed campus overview wraps at this many pixels (1x).
PRINT_BUILDING_NAME_WRAP_PX = 110


# --- point symbols -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Symbol:
    """A point symbol: a filled shape with an optional short code written inside."""

    shape: SymbolShape
    fill: RGBA
    outline: RGBA
    text: str
    text_colour: RGBA
    radius: float  # at zoom 19; scaled with zoom by :func:`symbol_radius`
    label: str  # legend text


DOOR = Symbol("circle", (211, 32, 39, 255), (255, 255, 255, 255), "", (255, 255, 255, 255),
              8.0, "Exterior door (number)")

_WHITE: RGBA = (255, 255, 255, 255)
_BLACK: RGBA = (0, 0, 0, 255)

AMENITY_SYMBOLS: dict[AmenityKind, Symbol] = {
    AmenityKind.KNOX_BOX: Symbol("square", (255, 196, 0, 255), _BLACK, "K", _BLACK, 8.0,
                                 "Knox box"),
    AmenityKind.AED: Symbol("square", (0, 150, 70, 255), _WHITE, "AED", _WHITE, 9.0, "AED"),
    AmenityKind.TRAUMA_KIT: Symbol("square", (255, 255, 255, 255), (200, 0, 0, 255), "TK",
                                   (200, 0, 0, 255), 8.0, "Trauma kit"),
    AmenityKind.GAS_SHUTOFF: Symbol("diamond", (255, 230, 0, 255), _BLACK, "G", _BLACK, 8.0,
                                    "Gas shutoff"),
    AmenityKind.WATER_SHUTOFF: Symbol("diamond", (0, 110, 220, 255), _WHITE, "W", _WHITE, 8.0,
                                      "Water shutoff"),
    AmenityKind.ELECTRIC_SHUTOFF: Symbol("diamond", (255, 128, 0, 255), _BLACK, "E", _BLACK,
                                         8.0, "Electric shutoff"),
    AmenityKind.FIRE_ALARM_PANEL: Symbol("square", (190, 0, 0, 255), _WHITE, "FA", _WHITE, 8.0,
                                         "Fire alarm panel"),
    AmenityKind.ACCESS_CONTROL_PANEL: Symbol("square", (90, 60, 160, 255), _WHITE, "AC", _WHITE,
                                             8.0, "Access control panel"),
    AmenityKind.STAIRWELL: Symbol("square", (90, 90, 90, 255), _WHITE, "ST", _WHITE, 8.0,
                                  "Stairwell"),
    AmenityKind.ELEVATOR: Symbol("square", (90, 90, 90, 255), _WHITE, "EL", _WHITE, 8.0,
                                 "Elevator"),
    AmenityKind.HAZARD: Symbol("triangle", (255, 220, 0, 255), _BLACK, "!", _BLACK, 9.0,
                               "Hazard"),
    AmenityKind.RALLY_POINT: Symbol("circle", (0, 120, 60, 255), _WHITE, "RP", _WHITE, 9.0,
                                    "Rally point"),
    AmenityKind.STAGING_AREA: Symbol("circle", (0, 70, 140, 255), _WHITE, "SA", _WHITE, 9.0,
                                     "Staging area"),
    AmenityKind.FIRST_AID: Symbol("square", _WHITE, (0, 150, 70, 255), "+", (0, 150, 70, 255),
                                  8.0, "First aid"),
}


def symbol_radius(symbol: Symbol, z: int) -> float:
    """Symbols shrink when zoomed out so they do not swamp the map."""
    factor = {17: 0.6, 18: 0.8, 19: 1.0, 20: 1.25}.get(z, 1.5)
    if z < 17:
        factor = 0.5
    return symbol.radius * factor


def legend_entries() -> list[dict[str, str]]:
    """What the web map's legend lists, drawn with the same colours as the tiles."""
    entries = [
        {"key": "grid", "label": "Campus grid", "shape": "line",
         "fill": hex_colour(GRID_COLOUR), "outline": hex_colour(GRID_COLOUR), "text": ""},
        {"key": "room", "label": "Room", "shape": "square", "fill": hex_colour(ROOM_FILL),
         "outline": hex_colour(ROOM_OUTLINE), "text": ""},
        {"key": "hallway", "label": "Hallway", "shape": "square",
         "fill": hex_colour(HALLWAY_FILL), "outline": hex_colour(ROOM_OUTLINE), "text": ""},
        {"key": "other_level", "label": "Building without this level", "shape": "square",
         "fill": hex_colour(OTHER_LEVEL_FILL), "outline": hex_colour(OTHER_LEVEL_OUTLINE),
         "text": ""},
        {"key": "door", "label": DOOR.label, "shape": DOOR.shape,
         "fill": hex_colour(DOOR.fill), "outline": hex_colour(DOOR.outline), "text": "7",
         "text_colour": hex_colour(DOOR.text_colour)},
    ]
    for kind, sym in AMENITY_SYMBOLS.items():
        entries.append({"key": kind.value, "label": sym.label, "shape": sym.shape,
                        "fill": hex_colour(sym.fill), "outline": hex_colour(sym.outline),
                        "text": sym.text, "text_colour": hex_colour(sym.text_colour)})
    return entries
