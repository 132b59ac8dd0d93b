"""The campus model, named after IMDF (OGC Indoor Mapping Data Format) where IMDF has a name.

IMDF -> gridmap: venue -> :class:`Campus`, building, footprint (``Building.footprint``), level,
unit, opening, amenity. IMDF has no knox box, trauma kit, utility shutoffs, hazard, rally point
or staging area; they are :class:`AmenityKind` members here. Grounds (parking, athletic fields,
roads) are :class:`GroundsFeature`.

All geometries are shapely objects in WGS84 longitude/latitude. Distance, area and grid math
happens in the campus's local metric CRS (:mod:`gridmap.crs`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InvalidModel

# Namespace for deterministic ids: the same natural key always gives the same id, so a
# re-import of an unchanged room keeps its id.
_ID_NAMESPACE = uuid.UUID("6f1c2a4e-3b55-4e0b-9a57-8d1f0c6a2b10")


def stable_id(*parts: object) -> str:
    """A deterministic id from a natural key (``stable_id("lincoln", "A", 1, "214")``)."""
    key = "/".join(str(p) for p in parts)
    return str(uuid.uuid5(_ID_NAMESPACE, key))


class AmenityKind(StrEnum):
    """Points of interest a responder needs; IMDF amenity categories plus what IMDF lacks."""

    KNOX_BOX = "knox_box"
    AED = "aed"
    TRAUMA_KIT = "trauma_kit"
    GAS_SHUTOFF = "gas_shutoff"
    WATER_SHUTOFF = "water_shutoff"
    ELECTRIC_SHUTOFF = "electric_shutoff"
    FIRE_ALARM_PANEL = "fire_alarm_panel"
    ACCESS_CONTROL_PANEL = "access_control_panel"
    STAIRWELL = "stairwell"
    ELEVATOR = "elevator"
    HAZARD = "hazard"
    RALLY_POINT = "rally_point"
    STAGING_AREA = "staging_area"
    FIRST_AID = "first_aid"

    @property
    def display_name(self) -> str:
        return _AMENITY_NAMES[self]


_AMENITY_NAMES = {
    AmenityKind.KNOX_BOX: "Knox box",
    AmenityKind.AED: "AED",
    AmenityKind.TRAUMA_KIT: "Trauma kit",
    AmenityKind.GAS_SHUTOFF: "Gas shutoff",
    AmenityKind.WATER_SHUTOFF: "Water shutoff",
    AmenityKind.ELECTRIC_SHUTOFF: "Electric shutoff",
    AmenityKind.FIRE_ALARM_PANEL: "Fire alarm panel",
    AmenityKind.ACCESS_CONTROL_PANEL: "Access control panel",
    AmenityKind.STAIRWELL: "Stairwell",
    AmenityKind.ELEVATOR: "Elevator",
    AmenityKind.HAZARD: "Hazard",
    AmenityKind.RALLY_POINT: "Rally point",
    AmenityKind.STAGING_AREA: "Staging area",
    AmenityKind.FIRST_AID: "First aid",
}


class GroundsKind(StrEnum):
    PARKING = "parking"
    ATHLETIC_FIELD = "athletic_field"
    ROAD = "road"
    PLAYGROUND = "playground"
    NEIGHBOURING_PROPERTY = "neighbouring_property"


class LengthUnit(StrEnum):
    METRE = "m"
    FOOT = "ft"

    @property
    def metres(self) -> float:
        return 1.0 if self is LengthUnit.METRE else 0.3048


#: the most cells a campus grid may have (100 x 100): every grid-wide answer (``/grid.geojson``,
#: the map's grid lines and labels) grows with it, and no school campus needs more
MAX_GRID_CELLS = 10_000
#: the widest a campus grid may be, either way, metres
MAX_GRID_EXTENT_M = 5_000.0


@dataclass(frozen=True, slots=True)
class GridSpec:
    """How the campus grid is laid out, in the campus's local metric CRS.

    ``origin_x``/``origin_y`` is the north-west corner of cell ``A1`` in local metres; columns
    run west to east, rows north to south. ``cell_size`` is given in ``unit`` (25 m, 100 ft)
    so labels and printed legends can say the round number staff chose.
    """

    origin_x: float
    origin_y: float
    cell_size: float
    unit: LengthUnit
    columns: int
    rows: int

    @property
    def cell_size_m(self) -> float:
        return self.cell_size * self.unit.metres

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cell_size) and self.cell_size > 0):
            raise InvalidModel(f"grid cell size must be a positive number, got {self.cell_size}")
        if not (math.isfinite(self.origin_x) and math.isfinite(self.origin_y)):
            raise InvalidModel(
                f"grid origin must be numbers, got ({self.origin_x}, {self.origin_y})")
        width = max(self.columns, self.rows) * self.cell_size_m
        if width > MAX_GRID_EXTENT_M:
            raise InvalidModel(
                f"grid is {width:,.0f} m across ({self.columns}x{self.rows} cells of "
                f"{self.cell_size:g} {self.unit.value}); a campus grid may span at most "
                f"{MAX_GRID_EXTENT_M:,.0f} m"
            )
        if not (1 <= self.columns <= 702 and 1 <= self.rows <= 999):
            raise InvalidModel(
                f"grid must have 1..702 columns and 1..999 rows, got {self.columns}x{self.rows}"
            )
        if self.columns * self.rows > MAX_GRID_CELLS:
            raise InvalidModel(
                f"grid of {self.columns}x{self.rows} = {self.columns * self.rows:,} cells is "
                f"larger than a campus needs (limit {MAX_GRID_CELLS:,} cells, e.g. 100x100); "
                "use larger cells"
            )


@dataclass(frozen=True, slots=True)
class Level:
    """A storey of one building. Ordinal 0 is the ground floor, negative below ground."""

    id: str
    building_id: str
    ordinal: int
    name: str
    short_name: str


@dataclass(frozen=True, slots=True)
class Building:
    """A building. ``address_side``: the bearing (degrees clockwise from true north) its
    address (front) side faces, the fire service's side A (:mod:`gridmap.sides`); None: the
    main entrance's wall is side A."""

    id: str
    name: str
    short_name: str
    footprint: Polygon
    aliases: tuple[str, ...] = ()
    address_side: float | None = None

    def __post_init__(self) -> None:
        if self.address_side is not None and not (
                math.isfinite(self.address_side) and 0.0 <= self.address_side < 360.0):
            raise InvalidModel(f"building {self.id}: address side must be a bearing from 0 to "
                               f"under 360 degrees, got {self.address_side}")


@dataclass(frozen=True, slots=True)
class Unit:
    """A room (IMDF unit): its number as painted on the door and its name as people say it.

    ``approximate``: the floor plan has a label for it but no outline ("label only, no
    outline"); ``geometry`` is then the label text's box, so it is findable and drawn, but
    where the room's walls are is not known.
    """

    id: str
    building_id: str
    level_id: str
    number: str
    name: str
    geometry: Polygon
    category: str = "room"
    aliases: tuple[str, ...] = ()
    approximate: bool = False


@dataclass(frozen=True, slots=True)
class Opening:
    """A door (IMDF opening). Exterior doors carry a painted number once numbered."""

    id: str
    building_id: str
    level_id: str
    geometry: Point
    exterior: bool
    main_entrance: bool = False
    number: str | None = None


@dataclass(frozen=True, slots=True)
class Amenity:
    id: str
    kind: AmenityKind
    name: str
    geometry: Point
    building_id: str | None = None
    level_id: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class GroundsFeature:
    id: str
    kind: GroundsKind
    name: str
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class Campus:
    """A school campus (IMDF venue) with everything on it."""

    id: str
    name: str
    address: str
    grid: GridSpec
    crs: str
    parcel: Polygon | None = None
    buildings: tuple[Building, ...] = ()
    levels: tuple[Level, ...] = ()
    units: tuple[Unit, ...] = ()
    openings: tuple[Opening, ...] = ()
    amenities: tuple[Amenity, ...] = ()
    grounds: tuple[GroundsFeature, ...] = ()
    #: (building id, door number) pairs once painted on a door that is gone: never reused
    retired_door_numbers: tuple[tuple[str, str], ...] = ()
    meta: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        _check_unique("building", (b.id for b in self.buildings))
        _check_unique("level", (lv.id for lv in self.levels))
        features: tuple[Unit | Opening | Amenity | GroundsFeature, ...] = (
            *self.units, *self.openings, *self.amenities, *self.grounds
        )
        _check_unique("feature", (f.id for f in features))
        building_ids = {b.id for b in self.buildings}
        level_ids = {lv.id for lv in self.levels}
        for lv in self.levels:
            if lv.building_id not in building_ids:
                raise InvalidModel(f"level {lv.id} names unknown building {lv.building_id}")
        placed: tuple[Unit | Opening, ...] = (*self.units, *self.openings)
        for u in placed:
            if u.level_id not in level_ids:
                raise InvalidModel(f"{type(u).__name__.lower()} {u.id} names unknown level")

    def building(self, building_id: str) -> Building:
        for b in self.buildings:
            if b.id == building_id:
                return b
        raise InvalidModel(f"campus {self.id} has no building {building_id}")

    def level(self, level_id: str) -> Level:
        for lv in self.levels:
            if lv.id == level_id:
                return lv
        raise InvalidModel(f"campus {self.id} has no level {level_id}")

    def ordinal_name(self, ordinal: int) -> str:
        """What people call a level ordinal across buildings: the name most buildings use."""
        names = [lv.name for lv in self.levels if lv.ordinal == ordinal]
        if not names:
            return "Ground" if ordinal == 0 else f"Level {ordinal}"
        return max(sorted(set(names)), key=names.count)

    @property
    def ordinals(self) -> tuple[int, ...]:
        """Every level ordinal used by any building, lowest first."""
        return tuple(sorted({lv.ordinal for lv in self.levels}))

    def exterior_doors(self, building_id: str | None = None) -> tuple[Opening, ...]:
        return tuple(
            o
            for o in self.openings
            if o.exterior and (building_id is None or o.building_id == building_id)
        )


def _check_unique(what: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InvalidModel(f"duplicate {what} id {i}")
        seen.add(i)
