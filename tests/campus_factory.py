"""A small campus built in code, shared by tests that need one without running an importer.

Two buildings near (-84.43, 42.70): A "Main Building" (60 x 40 m, two levels, a central
east-west corridor with 10 m rooms either side) and B "Gymnasium" (40 x 30 m, one level).
Geometry is laid out in local metres and converted to WGS84, like an importer would.
"""

from __future__ import annotations

from shapely import affinity
from shapely.geometry import Point, Polygon, box

from gridmap import grid
from gridmap.crs import LocalFrame, local_crs_for
from gridmap.model import (
    Amenity,
    AmenityKind,
    Building,
    Campus,
    GroundsFeature,
    GroundsKind,
    LengthUnit,
    Level,
    Opening,
    Unit,
    stable_id,
)

CENTRE = (-84.43, 42.70)
CAMPUS_ID = "test-campus"


def _rooms(frame: LocalFrame, building: str, level: Level, x0: float, numbers: list[str],
           names: dict[str, str]) -> list[Unit]:
    units = []
    for i, number in enumerate(numbers):
        north = i % 2 == 0
        col = i // 2
        y0, y1 = (25.0, 40.0) if north else (0.0, 15.0)
        shape = box(x0 + col * 10.0, y0, x0 + (col + 1) * 10.0, y1)
        units.append(Unit(
            id=stable_id(CAMPUS_ID, building, level.ordinal, number),
            building_id=building, level_id=level.id, number=number,
            name=names.get(number, f"Classroom {number}"),
            geometry=frame.to_wgs84(shape),
        ))
    return units


def small_campus() -> Campus:
    """The shared two-building test campus (grid: 25 m cells, one cell of margin)."""
    crs = local_crs_for(*CENTRE)
    frame = LocalFrame(crs)
    a0 = Level(stable_id(CAMPUS_ID, "A", 0), "A", 0, "1st Floor", "1")
    a1 = Level(stable_id(CAMPUS_ID, "A", 1), "A", 1, "2nd Floor", "2")
    b0 = Level(stable_id(CAMPUS_ID, "B", 0), "B", 0, "1st Floor", "1")
    foot_a = box(-30.0, -20.0, 30.0, 20.0)
    foot_b = box(50.0, -15.0, 90.0, 15.0)

    def shifted(units: list[Unit], dx: float, dy: float) -> list[Unit]:
        return [
            Unit(u.id, u.building_id, u.level_id, u.number, u.name,
                 frame.to_wgs84(affinity.translate(frame.to_local(u.geometry), dx, dy)),
                 u.category, u.aliases)
            for u in units
        ]

    ground = shifted(_rooms(frame, "A", a0, 0.0, ["101", "102", "103", "104", "105", "106"],
                            {"101": "Main Office", "102": "Nurse", "103": "Library",
                             "104": "Cafeteria"}), -30.0, -20.0)
    upper = shifted(_rooms(frame, "A", a1, 0.0, ["201", "202", "203", "214", "205", "206"],
                           {"214": "Science Lab"}), -30.0, -20.0)
    corridor_a0 = Unit(stable_id(CAMPUS_ID, "A", 0, "corridor"), "A", a0.id, "", "Main Hall",
                       frame.to_wgs84(box(-30.0, -5.0, 30.0, 5.0)), category="hallway")
    gym = Unit(stable_id(CAMPUS_ID, "B", 0, "B-10"), "B", b0.id, "B-10", "Gym",
               frame.to_wgs84(box(50.0, -15.0, 80.0, 15.0)), aliases=("Gymnasium",))
    lockers = Unit(stable_id(CAMPUS_ID, "B", 0, "B-12"), "B", b0.id, "B-12", "Boys Locker Room",
                   frame.to_wgs84(box(80.0, -15.0, 90.0, 15.0)))

    def door(building: str, level: Level, x: float, y: float, *, main: bool = False) -> Opening:
        return Opening(stable_id(CAMPUS_ID, building, "door", round(x, 1), round(y, 1)),
                       building, level.id, frame.to_wgs84(Point(x, y)), exterior=True,
                       main_entrance=main)

    doors = [
        door("A", a0, 0.0, -20.0, main=True),   # south, middle: main entrance
        door("A", a0, -30.0, 0.0),              # west end of the corridor
        door("A", a0, 30.0, 0.0),               # east end of the corridor
        door("A", a0, -15.0, 20.0),             # north side
        door("B", b0, 50.0, 0.0, main=True),    # gym west door
        door("B", b0, 70.0, 15.0),              # gym north door
    ]
    amenities = [
        Amenity(stable_id(CAMPUS_ID, "knox", "A"), AmenityKind.KNOX_BOX, "Knox box (main entrance)",
                frame.to_wgs84(Point(2.0, -21.0)), "A", a0.id),
        Amenity(stable_id(CAMPUS_ID, "aed", "A0"), AmenityKind.AED, "AED by Main Office",
                frame.to_wgs84(Point(-22.0, -4.0)), "A", a0.id),
        Amenity(stable_id(CAMPUS_ID, "aed", "A1"), AmenityKind.AED, "AED 2nd floor hall",
                frame.to_wgs84(Point(10.0, 4.0)), "A", a1.id),
        Amenity(stable_id(CAMPUS_ID, "gas"), AmenityKind.GAS_SHUTOFF, "Gas shutoff",
                frame.to_wgs84(Point(31.0, -18.0)), "A", None),
    ]
    parcel = box(-70.0, -60.0, 120.0, 60.0)
    grounds = [
        GroundsFeature(stable_id(CAMPUS_ID, "parking"), GroundsKind.PARKING, "Front lot",
                       frame.to_wgs84(box(-30.0, -55.0, 30.0, -30.0))),
    ]
    spec = grid.grid_for_extent(grid.Bounds(*parcel.bounds), 25.0, LengthUnit.METRE, 0)
    return Campus(
        id=CAMPUS_ID, name="Test Campus", address="1 Test Road, Okemos, MI", grid=spec, crs=crs,
        parcel=frame.to_wgs84(parcel),
        buildings=(
            Building("A", "Main Building", "A", frame.to_wgs84(foot_a), ("main",)),
            Building("B", "Gymnasium", "B", frame.to_wgs84(foot_b), ("gym building",)),
        ),
        levels=(a0, a1, b0),
        units=(*ground, corridor_a0, *upper, gym, lockers),
        openings=tuple(doors),
        amenities=tuple(amenities),
        grounds=tuple(grounds),
    )



# --- a three-level building with an L-shaped hallway and two stairs (walking distances) -----

WALK_CAMPUS_ID = "walk-campus"
WALK_CENTRE = (-84.40, 42.70)
#: the L-shaped hallway of every level, local metres: west-east leg along y 20..24, then north
#: along x 36..40; the block inside the L (x 10..36, y 24..50) is a room walked round
WALK_HALL = Polygon([(0, 20), (40, 20), (40, 50), (36, 50), (36, 24), (0, 24)])
#: rooms per level: number suffix -> (outline, door on the hallway wall)
WALK_ROOMS = {
    "01": (box(0, 24, 10, 34), (5.0, 24.0)),    # north of the west leg
    "02": (box(0, 10, 10, 20), (5.0, 20.0)),    # south of the west leg
    "03": (box(40, 40, 50, 50), (40.0, 45.0)),  # east of the north leg
    "04": (box(10, 24, 36, 50), (20.0, 24.0)),  # the block inside the L
}
WALK_STAIRS = {"Stair 1": box(20, 14, 26, 20), "Stair 2": box(36, 50, 40, 56)}
#: AEDs: on the ground floor in the west leg, on the top floor in the north leg, none between
WALK_AEDS = {0: (30.0, 22.0), 2: (38.0, 40.0)}


def walk_campus(*, hallways: bool = True, interior_doors: bool = True) -> Campus:
    """Building W: three levels (0 "Ground Floor", 1 "First Floor", 2 "Second Floor"), each with
    the L-shaped hallway :data:`WALK_HALL`, rooms :data:`WALK_ROOMS` numbered
    ``<ordinal+1><suffix>`` (101, 203, ...), the stairs :data:`WALK_STAIRS` open to the hallway
    (stairs units plus stairwell points), and AEDs :data:`WALK_AEDS`. Exterior doors: the west
    end of the hallway and the north wall of Stair 2, both on the ground floor. A Knox box by
    the west door.

    ``hallways=False`` drops the hallway units (a building with no hallway data);
    ``interior_doors=False`` drops the room doors (rooms are reached through their hallway
    wall).
    """
    crs = local_crs_for(*WALK_CENTRE)
    frame = LocalFrame(crs)
    names = {0: "Ground Floor", 1: "First Floor", 2: "Second Floor"}
    levels = [Level(stable_id(WALK_CAMPUS_ID, "W", o), "W", o, names[o], str(o)) for o in names]
    units: list[Unit] = []
    openings: list[Opening] = []
    amenities: list[Amenity] = []
    for lv in levels:
        def key(*parts: object, lv: Level = lv) -> str:
            return stable_id(WALK_CAMPUS_ID, "W", lv.ordinal, *parts)

        if hallways:
            units.append(Unit(key("hall"), "W", lv.id, "", f"{lv.name} Hall",
                              frame.to_wgs84(WALK_HALL), category="walkway"))
        for suffix, (shape, (dx, dy)) in WALK_ROOMS.items():
            number = f"{lv.ordinal + 1}{suffix}"
            units.append(Unit(key(number), "W", lv.id, number, f"Room {number}",
                              frame.to_wgs84(shape)))
            if interior_doors:
                openings.append(Opening(key("door", number), "W", lv.id,
                                        frame.to_wgs84(Point(dx, dy)), exterior=False))
        for name, shape in WALK_STAIRS.items():
            units.append(Unit(key(name), "W", lv.id, "", name, frame.to_wgs84(shape),
                              category="stairs"))
            amenities.append(Amenity(key("stairwell", name), AmenityKind.STAIRWELL, name,
                                     frame.to_wgs84(shape.centroid), "W", lv.id))
        if lv.ordinal in WALK_AEDS:
            amenities.append(Amenity(key("aed"), AmenityKind.AED, f"AED {lv.name}",
                                     frame.to_wgs84(Point(*WALK_AEDS[lv.ordinal])), "W", lv.id))
    ground = levels[0]
    openings.append(Opening(stable_id(WALK_CAMPUS_ID, "W", "west door"), "W", ground.id,
                            frame.to_wgs84(Point(0.0, 22.0)), exterior=True, main_entrance=True,
                            number="1"))
    openings.append(Opening(stable_id(WALK_CAMPUS_ID, "W", "north door"), "W", ground.id,
                            frame.to_wgs84(Point(38.0, 56.0)), exterior=True, number="2"))
    amenities.append(Amenity(stable_id(WALK_CAMPUS_ID, "knox"), AmenityKind.KNOX_BOX,
                             "Knox box (west door)", frame.to_wgs84(Point(-1.0, 19.0)), "W",
                             ground.id))
    footprint = box(0, 10, 50, 56)
    parcel = box(-40, -30, 90, 90)
    spec = grid.grid_for_extent(grid.Bounds(*parcel.bounds), 25.0, LengthUnit.METRE, 0)
    return Campus(
        id=WALK_CAMPUS_ID, name="Walk Campus", address="2 Test Road, Okemos, MI", grid=spec,
        crs=crs, parcel=frame.to_wgs84(parcel),
        buildings=(Building("W", "West Hall", "W", frame.to_wgs84(footprint)),),
        levels=tuple(levels), units=tuple(units), openings=tuple(openings),
        amenities=tuple(amenities),
    )


# --- one level of thousands of rooms along corridors (walking network at scale) -------------

BIG_CAMPUS_ID = "big-level-campus"
#: corridor c runs west-east along y BIG_PITCH*c + 10..13 from x 0 to BIG_ROOM_W * rooms
BIG_PITCH = 40.0
BIG_ROOM_W = 4.0


def big_level_campus(*, corridors: int = 8, rooms_per_side: int = 210,
                     stacked: int = 300) -> Campus:
    """Building X, one level "Ground": ``corridors`` parallel corridors joined at their west
    ends by a spine corridor (x -3..0). Along each corridor ``rooms_per_side`` rooms either
    side (4 x 8 m, numbered ``<c>N<k>`` / ``<c>S<k>``), each with a door on the corridor but
    every fifth (reached through its wall), and behind each north room a back room
    (``<c>B<k>``, no door, walls only with rooms: joined through a wall). ``stacked`` copies
    of back room ``0B0`` drawn on the same spot (``X<n>``: a block fanned out). Exterior
    doors: both ends of the spine and the east end of every corridor. One AED at the spine's
    middle.
    """
    crs = local_crs_for(*WALK_CENTRE)
    frame = LocalFrame(crs)
    level = Level(stable_id(BIG_CAMPUS_ID, "X", 0), "X", 0, "Ground", "0")
    length = BIG_ROOM_W * rooms_per_side
    top = BIG_PITCH * corridors

    def key(*parts: object) -> str:
        return stable_id(BIG_CAMPUS_ID, "X", *parts)

    def unit(number: str, shape: Polygon, category: str = "room") -> Unit:
        return Unit(key(number), "X", level.id, number if category == "room" else "",
                    f"Room {number}" if category == "room" else number,
                    frame.to_wgs84(shape), category=category)

    units = [unit("Spine", box(-3.0, 0.0, 0.0, top), "walkway")]
    openings: list[Opening] = []
    for c in range(corridors):
        y = BIG_PITCH * c
        units.append(unit(f"Corridor {c}", box(0.0, y + 10.0, length, y + 13.0), "walkway"))
        for k in range(rooms_per_side):
            x = BIG_ROOM_W * k
            for side, (y0, y1, wall) in (("N", (13.0, 21.0, 13.0)), ("S", (2.0, 10.0, 10.0))):
                number = f"{c}{side}{k}"
                units.append(unit(number, box(x, y + y0, x + BIG_ROOM_W, y + y1)))
                if k % 5:
                    openings.append(Opening(key("door", number), "X", level.id, frame.to_wgs84(
                        Point(x + BIG_ROOM_W / 2, y + wall)), exterior=False))
            units.append(unit(f"{c}B{k}", box(x, y + 21.0, x + BIG_ROOM_W, y + 29.0)))
        openings.append(Opening(key("east door", c), "X", level.id,
                                frame.to_wgs84(Point(length, y + 11.5)), exterior=True,
                                number=f"E{c}"))
    back = box(0.0, 21.0, BIG_ROOM_W, 29.0)
    units.extend(unit(f"X{n}", back) for n in range(stacked))
    openings.append(Opening(key("south door"), "X", level.id, frame.to_wgs84(
        Point(-1.5, 0.0)), exterior=True, number="S"))
    openings.append(Opening(key("north door"), "X", level.id, frame.to_wgs84(
        Point(-1.5, top)), exterior=True, number="N"))
    amenities = [Amenity(key("aed"), AmenityKind.AED, "AED spine", frame.to_wgs84(
        Point(-1.5, top / 2)), "X", level.id)]
    footprint = box(-3.0, 0.0, length, top)
    parcel = box(-33.0, -30.0, length + 30.0, top + 30.0)
    spec = grid.grid_for_extent(grid.Bounds(*parcel.bounds), 100.0, LengthUnit.METRE, 0)
    return Campus(
        id=BIG_CAMPUS_ID, name="Big Level Campus", address="3 Test Road, Okemos, MI",
        grid=spec, crs=crs, parcel=frame.to_wgs84(parcel),
        buildings=(Building("X", "Wide School", "X", frame.to_wgs84(footprint)),),
        levels=(level,), units=tuple(units), openings=tuple(openings),
        amenities=tuple(amenities),
    )
