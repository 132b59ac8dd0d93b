"""The fire service's building sides: A is the address side, then B, C, D clockwise.

Seen from above with north up, walking clockwise round a building from its address (front)
side: A, then B (the left side for someone facing side A), C (the rear), D. Incident
commanders name walls and doors this way ("fire showing on side C").

Side A faces the bearing the campus gives for the building (``Building.address_side``,
degrees clockwise from true north), else the way the main entrance's wall faces. Either is
snapped to the building's own wall orientation, so the four sides are the four quarters of
the compass turned with the building: a building drawn 10 degrees off north still has its
walls squarely on one side each. A building with neither has no sides (None), rather than a
guessed side A: a wrong side sends crews to the wrong wall.

All geometry here is in the campus's local metric frame (x east, y true north).
"""

from __future__ import annotations

import itertools
import math
from enum import StrEnum

from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.polygon import orient

from gridmap.crs import LocalFrame
from gridmap.model import Building, Campus, Opening


class Side(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


#: Compass names a campus file may give for a building's address side, as bearings.
COMPASS_BEARINGS = {
    "north": 0.0, "north-east": 45.0, "east": 90.0, "south-east": 135.0,
    "south": 180.0, "south-west": 225.0, "west": 270.0, "north-west": 315.0,
}

_SIDES = (Side.A, Side.B, Side.C, Side.D)


def bearing_name(bearing: float) -> str:
    """The nearest of the eight compass names: ``bearing_name(172.0) == "south"``."""
    names = list(COMPASS_BEARINGS)
    return names[round((bearing % 360.0) / 45.0) % 8]


def _walls(footprint: Polygon) -> list[LineString]:
    ring = orient(footprint, sign=1.0).exterior  # counter-clockwise: the inside is on the left
    coords = list(ring.coords)
    return [LineString(pair) for pair in itertools.pairwise(coords)
            if Point(pair[0]).distance(Point(pair[1])) > 0.0]


def _outward_bearing(wall: LineString) -> float:
    """Bearing (degrees clockwise from north) a wall of a counter-clockwise ring faces."""
    (x0, y0), (x1, y1) = wall.coords[0], wall.coords[-1]
    dx, dy = x1 - x0, y1 - y0
    nx, ny = dy, -dx  # right of the direction of travel: outside
    return math.degrees(math.atan2(nx, ny)) % 360.0


def wall_bearing(footprint: Polygon, point: Point) -> float:
    """The bearing the footprint's wall nearest ``point`` faces (outwards)."""
    wall = min(_walls(footprint), key=point.distance)
    return _outward_bearing(wall)


def wall_orientation(footprint: Polygon) -> float:
    """The building's squareness: the bearing, modulo 90 degrees, most of its walls face.

    Each wall votes with its length for its bearing modulo 90; the vote is a mean on the
    circle of angles times four, so walls facing 359 and 1 degrees agree.
    """
    sx = sy = 0.0
    for wall in _walls(footprint):
        angle = math.radians(_outward_bearing(wall) * 4.0)
        sx += wall.length * math.cos(angle)
        sy += wall.length * math.sin(angle)
    if sx == 0.0 and sy == 0.0:
        return 0.0
    orientation = (math.degrees(math.atan2(sy, sx)) / 4.0) % 90.0
    return 0.0 if orientation > 90.0 - 1e-9 else orientation  # -1e-15 % 90 is 90.0


def snap_to_walls(footprint: Polygon, bearing: float) -> float:
    """``bearing`` moved to the nearest direction the building's walls squarely face."""
    base = wall_orientation(footprint)
    k = round((bearing - base) / 90.0)
    return (base + 90.0 * k) % 360.0


def side_a_bearing(
    footprint: Polygon, *, address_side: float | None = None, main_entrance: Point | None = None
) -> float | None:
    """The bearing side A faces: the address side if given, else the main entrance's wall."""
    if address_side is not None:
        return snap_to_walls(footprint, address_side)
    if main_entrance is not None:
        return snap_to_walls(footprint, wall_bearing(footprint, main_entrance))
    return None


def side_facing(bearing: float, a_bearing: float) -> Side:
    """Which side a wall facing ``bearing`` is on, when side A faces ``a_bearing``."""
    turned = (bearing - a_bearing + 45.0) % 360.0
    return _SIDES[min(3, int(turned // 90.0))]


def side_of(footprint: Polygon, point: Point, a_bearing: float) -> Side:
    """The side of the building a point on (or near) its outline is on."""
    return side_facing(wall_bearing(footprint, point), a_bearing)


def building_a_bearing(campus: Campus, building: Building, frame: LocalFrame) -> float | None:
    """Side A's bearing for one building of a campus (see :func:`side_a_bearing`)."""
    footprint = frame.to_local(building.footprint)
    mains = sorted(
        (o for o in campus.exterior_doors(building.id) if o.main_entrance),
        key=lambda o: (abs(campus.level(o.level_id).ordinal), o.id),
    )
    main = frame.to_local(mains[0].geometry) if mains else None
    return side_a_bearing(footprint, address_side=building.address_side, main_entrance=main)


def door_sides(campus: Campus) -> dict[str, Side | None]:
    """Every exterior door's building side, by opening id (None: the building has no side A)."""
    frame = LocalFrame(campus.crs)
    sides: dict[str, Side | None] = {}
    for building in campus.buildings:
        a = building_a_bearing(campus, building, frame)
        footprint = frame.to_local(building.footprint)
        door: Opening
        for door in campus.exterior_doors(building.id):
            sides[door.id] = None if a is None else side_of(
                footprint, frame.to_local(door.geometry), a)
    return sides
