"""Generate the Riverside International School sample: a European architect's drawings.

Writes into ``data/samples/riverside_international/`` (or the folder given as the first argument).
The campus is fictional and sits on open ground near Allschwil, by Basel (Switzerland). It is
drawn the way a European firm draws, which is not how the Lincoln Ridge sample is drawn:

* metric drawings: buildings A, E and G in metres (``$INSUNITS`` = 6), building B in
  centimetres (``$INSUNITS`` = 5); a 25 m campus grid;
* the firm's own French layer names (``LOCAUX`` rooms, ``TEXTE-LOCAUX`` labels, ``PORTES``
  door blocks ``PORTE-EXT`` / ``PORTE-INT``, ``CONTOUR`` footprint, ``MURS`` walls, plus
  ``COTATION`` dimensions and a ``CARTOUCHE`` title block), named in the manifest;
* European room numbers (``A015``, ``B013a``, ``B015 a``, ``E003bis``, basement ``AU01``) and
  gym rooms numbered ``G1``..``G5``, which are also grid cell labels;
* every label an MTEXT anchored top-left (attachment point 1), two lines, number then a
  French / German / English name; some labels sit on a wall or just outside their room (the
  text box straddles the wall), and one (``E010``, a nap room in an annex drawn with walls
  only) belongs to no room outline at all;
* building B (science and technology) has no door layer at all;
* building A has three levels (-1, 0, 1) with a corridor on each ("Flur", "Main Corridor",
  "Couloir"), two stairs and a lift at the same place on every level, interior and exterior
  doors, restrooms for boys, girls and staff, a library, a canteen; building G is the gym.

Output is deterministic and byte-identical between runs (the script re-runs itself with
``PYTHONHASHSEED=0``). Everything but the campus itself (DXF pinning, door blocks, GeoJSON,
CSV and manifest writing) is the first sample's generator's, reused from there.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ezdxf
from shapely.geometry import LineString, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sample_campus import (  # sibling script, not a package
    BuildingInfo,
    ControlPoints,
    Poi,
    deterministic_dxf,
    door_block,
    gis_files,
    manifest_toml,
    run_with_pinned_hash_seed,
    surveyed_corners,
    write_sample,
)

from gridmap.crs import LocalFrame, local_crs_for

REFERENCE = (7.5440, 47.5570)  # lon, lat: the generator's frame origin (Allschwil, BL)
FRAME = LocalFrame(local_crs_for(*REFERENCE))
OUT = Path(__file__).resolve().parent.parent / "data" / "samples" / "riverside_international"
PERTURB_M = 0.08  # one control point per building is off by this much (a real survey is)

CHAR_HEIGHT_M = 0.25
LABEL_WIDTH_M = 3.2


@dataclass(frozen=True)
class Placement:
    """Where a building's CAD origin (SW corner) sits in the generator frame, and its turn."""

    x: float  # metres east of REFERENCE
    y: float  # metres north of REFERENCE
    rotation_deg: float  # CAD +x, counter-clockwise from east
    width_m: float
    depth_m: float
    unit_m: float = 1.0  # metres per drawing unit


PLACEMENTS: dict[str, Placement] = {
    "A": Placement(0.0, 0.0, 0.0, 72.0, 24.0),
    "B": Placement(95.0, -8.0, 8.0, 40.0, 18.0, unit_m=0.01),
    "E": Placement(-70.0, 35.0, -5.0, 38.0, 16.0),
    "G": Placement(95.0, 40.0, 0.0, 40.0, 30.0),
}


def cad_to_local(building: str, x: float, y: float) -> tuple[float, float]:
    """Generator-frame metres of a point given in metres of ``building``'s plan."""
    p = PLACEMENTS[building]
    t = math.radians(p.rotation_deg)
    return p.x + x * math.cos(t) - y * math.sin(t), p.y + x * math.sin(t) + y * math.cos(t)


def cad_to_lonlat(building: str, x: float, y: float) -> tuple[float, float]:
    """Where plan point (x, y) metres of ``building`` really is (lon, lat)."""
    return FRAME.lonlat(*cad_to_local(building, x, y))


# --- floor plan layout (metres; building B is scaled to centimetres when written) -------------

# where a room's label is drawn, relative to the room's top-left corner
INSIDE, ON_WALL, OUTSIDE = "inside", "on-wall", "outside"


@dataclass
class Room:
    number: str
    name: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    door: tuple[float, float, float] | None = None  # interior door x, y, rotation
    label: str = INSIDE

    @property
    def label_text(self) -> str:
        return f"{self.number}\\P{self.name}" if self.number else self.name


@dataclass
class Plan:
    building: str
    ordinal: int
    title: str
    rooms: list[Room]
    outline: Sequence[tuple[float, float]]
    exterior_doors: Sequence[tuple[float, float, float]] = field(default_factory=list)
    has_door_layer: bool = True
    # labels drawn where no room outline is (an annex drawn with walls only): (text, x, y)
    loose_labels: Sequence[tuple[str, float, float]] = field(default_factory=list)
    extra_walls: Sequence[tuple[tuple[float, float], tuple[float, float]]] = field(
        default_factory=list)


def strip(y0: float, y1: float, door_y: float,
          items: list[tuple[float, str, str] | tuple[float, str, str, str]],
          x0: float = 0.0) -> list[Room]:
    """Rooms side by side west to east between y0 and y1; numbered ones get a door at door_y."""
    rooms, x = [], x0
    rot = 0.0 if door_y == y0 else 180.0
    for item in items:
        width, number, name = item[0], item[1], item[2]
        where = item[3] if len(item) > 3 else INSIDE
        door = (x + width / 2, door_y, rot) if number else None
        rooms.append(Room(number, name, (x, y0, x + width, y1), door, where))
        x += width
    return rooms


def column(x0: float, x1: float, door_x: float,
           items: list[tuple[float, str, str]]) -> list[Room]:
    """Rooms stacked south to north from y 0 between x0 and x1, numbered ones with a door at
    door_x."""
    rooms, y = [], 0.0
    rot = 90.0 if door_x == x0 else 270.0
    for depth, number, name in items:
        door = (door_x, y + depth / 2, rot) if number else None
        rooms.append(Room(number, name, (x0, y, x1, y + depth), door))
        y += depth
    return rooms


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


# the same stairs and lift on every level of building A
def _a_core() -> tuple[list[Room], list[Room]]:
    west = [Room("", "Stair 1 / Escalier 1", (0, 13, 5, 24)),
            Room("", "Lift / Aufzug", (5, 13, 8, 24))]
    east = [Room("", "Stair 2 / Treppe 2", (67, 13, 72, 24))]
    return west, east


def building_a_basement() -> Plan:
    south = strip(0, 10, 10, [
        (14, "AU01", "Technikraum / Plant Room"), (10, "AU02", "Archives"),
        (12, "AU03", "Heizung / Boiler Room"), (10, "AU04", "Stockage"),
        (14, "AU05", "Salle de musique / Band Room"), (12, "AU06", "Drama Studio / Théâtre"),
    ])
    hall = Room("", "Flur", (0, 10, 72, 13))
    west, east = _a_core()
    north = strip(13, 24, 13, [
        (20, "AU07", "Fitness Room"), (8, "AU08", "Serverraum / Server Room"),
        (31, "AU09", "Lager Sport / Sports Storage"),
    ], x0=8)
    return Plan("A", -1, "BATIMENT A - SOUS-SOL / UNTERGESCHOSS",
                [*south, hall, *west, *north, *east], rect(0, 0, 72, 24))


def building_a_ground() -> Plan:
    south = strip(0, 10, 10, [
        (8, "A001", "Secrétariat / Main Office"), (6, "A002", "Direction / Head of School"),
        (6, "A003", "Infirmerie / Nurse"), (8, "A004", "Salle des professeurs / Staff Room"),
        (6, "", "Eingangshalle / Entrance Hall"), (16, "A005", "Canteen / Mensa", OUTSIDE),
        (8, "A006", "Küche / Kitchen"), (4, "A007", "Boys Restroom"),
        (4, "A008", "Girls Restroom"), (6, "A009", "Salle polyvalente / Multipurpose Room"),
    ])
    hall = Room("", "Main Corridor", (0, 10, 72, 13))
    west, east = _a_core()
    north = strip(13, 24, 13, [
        (7, "A010", "Classroom"), (7, "A011", "Classroom"),
        (14, "A012", "Library / Bibliothèque", ON_WALL), (7, "A013", "Salle de classe"),
        (7, "A014", "Klassenzimmer"), (7, "A015", "Primary Office / Sekretariat Primar", OUTSIDE),
        (10, "A016", "Classroom"),
    ], x0=8)
    doors = [(31, 0, 180), (0, 11.5, 90), (72, 11.5, 270), (69.5, 24, 0), (42, 0, 180)]
    return Plan("A", 0, "BATIMENT A - REZ-DE-CHAUSSEE / ERDGESCHOSS",
                [*south, hall, *west, *north, *east], rect(0, 0, 72, 24), doors)


def building_a_first() -> Plan:
    south = strip(0, 10, 10, [
        (8, "A101", "Classroom"), (8, "A102", "Classroom"),
        (10, "A103", "Labo physique / Physics Lab"), (10, "A104", "Chemielabor / Chemistry Lab"),
        (4, "A104a", "Préparation / Prep Room", OUTSIDE), (10, "A105", "Biology Lab"),
        (4, "A106", "Toilettes Filles"), (4, "A107", "Toilettes Garçons"),
        (3, "A108", "Staff WC"), (11, "A109", "Informatique / Computer Room"),
    ])
    hall = Room("", "Couloir", (0, 10, 72, 13))
    west, east = _a_core()
    north = strip(13, 24, 13, [
        (8, "A110", "Classroom"), (8, "A111", "Classroom"),
        (12, "A112", "Salle d'arts plastiques / Art Room", ON_WALL),
        (12, "A113", "Musiksaal / Music Room"), (8, "A114", "Classroom"),
        (11, "A115", "Classroom"),
    ], x0=8)
    return Plan("A", 1, "BATIMENT A - 1ER ETAGE / 1. OBERGESCHOSS",
                [*south, hall, *west, *north, *east], rect(0, 0, 72, 24))


def building_b() -> Plan:
    south = strip(0, 8, 8, [
        (8, "B011", "Werkraum Holz / Woodwork"), (8, "B012", "Werkraum Metall / Metalwork"),
        (12, "B013", "Technologie atelier", ON_WALL), (6, "B013a", "Lager Technik", OUTSIDE),
        (6, "B013b", "Büro Technik / Tech Office"),
    ])
    hall = Room("", "Hallway", (0, 8, 40, 10.5))
    north = strip(10.5, 18, 10.5, [
        (10, "B014", "Design & Technology"), (8, "B015 a", "Robotik / Robotics Lab"),
        (8, "B015 b", "Elektronik / Electronics Lab"), (6, "B016", "Physics Store"),
        (4, "B017", "Restroom"), (4, "", "Lobby"),
    ])
    # doors are drawn only as wall gaps in this firm's science-block file: no door layer
    return Plan("B", 0, "BATIMENT B - SCIENCES ET TECHNOLOGIE", [*south, hall, *north],
                rect(0, 0, 40, 18), has_door_layer=False)


def building_e() -> Plan:
    south = strip(0, 7, 7, [
        (10, "E001", "Petite section"), (10, "E002", "Moyenne section"),
        (10, "E003", "Grande section"),
    ])
    hall = Room("", "Corridor", (0, 7, 30, 9.5))
    north = strip(9.5, 16, 9.5, [
        (8, "E003bis", "Salle de motricité / Movement Room", OUTSIDE),
        (6, "E004", "Bureau maternelle / Early Years Office"),
        (5, "E005", "Children's Restroom"), (5, "", "Entrance Lobby"),
        (6, "E006", "Kitchenette"),
    ])
    # the nap-room annex (x 30-38, y 0-9.5) is drawn with walls only, no room outline
    outline = [(0, 0), (38, 0), (38, 9.5), (30, 9.5), (30, 16), (0, 16)]
    walls = [((30, 0), (38, 0)), ((38, 0), (38, 9.5)), ((38, 9.5), (30, 9.5))]
    doors = [(0, 8.25, 90), (27.5, 16, 0), (38, 4.75, 270)]
    return Plan("E", 0, "BATIMENT E - ECOLE MATERNELLE / EARLY YEARS", [*south, hall, *north],
                outline, doors, loose_labels=[("E010\\PSalle de sieste / Nap Room", 31, 6)],
                extra_walls=walls)


def building_g() -> Plan:
    gym = Room("G1", "Sporthalle / Gymnasium", (0, 0, 28, 30), (28, 15, 90))
    east = column(28, 40, 28, [
        (7, "G2", "Vestiaire Garçons / Boys Locker Room"),
        (7, "G3", "Vestiaire Filles / Girls Locker Room"),
        (4, "G4", "Staff Restroom"), (5, "G5", "Geräteraum / Equipment Store"),
        (7, "", "Foyer / Gym Lobby"),
    ])
    doors = [(34, 30, 0), (0, 10, 90), (0, 22, 90), (14, 0, 180), (40, 26.5, 270)]
    return Plan("G", 0, "BATIMENT G - SALLE DE SPORT / SPORTHALLE", [gym, *east],
                rect(0, 0, 40, 30), doors)


PLANS = {
    "A_UG.dxf": building_a_basement,
    "A_EG.dxf": building_a_ground,
    "A_1OG.dxf": building_a_first,
    "B_EG.dxf": building_b,
    "E_EG.dxf": building_e,
    "G_EG.dxf": building_g,
}


# --- DXF writing ------------------------------------------------------------------------------

LAYERS = {
    "MURS": 7, "PORTES": 3, "LOCAUX": 4, "TEXTE-LOCAUX": 2, "CONTOUR": 6,
    "COTATION": 1, "CARTOUCHE": 8,
}


def _label_at(room: Room) -> tuple[float, float]:
    """Top-left anchor of a room's label: inside, on the top wall, or just outside it."""
    x0, _, _, y1 = room.box
    if room.label == ON_WALL:
        return x0 + 0.4, y1
    if room.label == OUTSIDE:
        return x0 + 0.4, y1 + 0.35
    return x0 + 0.4, y1 - 0.4


def _mtext(msp: Any, text: str, at: tuple[float, float], s: float) -> None:
    mt = msp.add_mtext(text, dxfattribs={
        "layer": "TEXTE-LOCAUX", "char_height": CHAR_HEIGHT_M * s, "width": LABEL_WIDTH_M * s,
    })
    mt.set_location((at[0] * s, at[1] * s), attachment_point=1)  # top left


def _note(msp: Any, text: str, at: tuple[float, float], height: float, layer: str) -> None:
    msp.add_mtext(text, dxfattribs={"layer": layer, "char_height": height}).set_location(
        at, attachment_point=5)


def write_plan(plan: Plan) -> str:
    s = 1.0 / PLACEMENTS[plan.building].unit_m  # drawing units per metre
    doc = ezdxf.new("R2013")  # type: ignore[attr-defined]
    doc.header["$INSUNITS"] = 6 if s == 1.0 else 5  # metres, or centimetres
    doc.header["$MEASUREMENT"] = 1  # metric
    doc.header["$LUNITS"] = 2  # decimal
    for name, color in LAYERS.items():
        if name == "PORTES" and not plan.has_door_layer:
            continue
        doc.layers.add(name, color=color)
    if plan.has_door_layer:
        door_block(doc, "PORTE-EXT-90", 0.9 * s)
        door_block(doc, "PORTE-INT-90", 0.9 * s)
    msp = doc.modelspace()

    walls: set[tuple[tuple[float, float], tuple[float, float]]] = set(plan.extra_walls)
    for room in plan.rooms:
        ring = rect(*room.box)
        msp.add_lwpolyline([(x * s, y * s) for x, y in ring], close=True,
                           dxfattribs={"layer": "LOCAUX"})
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            walls.add((min(a, b), max(a, b)))
        _mtext(msp, room.label_text, _label_at(room), s)
        if room.door is not None and plan.has_door_layer:
            x, y, rot = room.door
            msp.add_blockref("PORTE-INT-90", (x * s, y * s),
                             dxfattribs={"layer": "PORTES", "rotation": rot})
    for text, x, y in plan.loose_labels:
        _mtext(msp, text, (x, y), s)
    for a, b in sorted(walls):
        msp.add_line((a[0] * s, a[1] * s), (b[0] * s, b[1] * s), dxfattribs={"layer": "MURS"})
    msp.add_lwpolyline([(x * s, y * s) for x, y in plan.outline], close=True,
                       dxfattribs={"layer": "CONTOUR"})
    for x, y, rot in plan.exterior_doors:
        msp.add_blockref("PORTE-EXT-90", (x * s, y * s),
                         dxfattribs={"layer": "PORTES", "rotation": rot})

    # noise a real file has: dimensions and a title block
    w = max(x for x, _ in plan.outline)
    d = max(y for _, y in plan.outline)
    msp.add_line((0, -3 * s), (w * s, -3 * s), dxfattribs={"layer": "COTATION"})
    _note(msp, f"{w:.2f}", (w * s / 2, -2.5 * s), 0.3 * s, "COTATION")
    msp.add_line((-3 * s, 0), (-3 * s, d * s), dxfattribs={"layer": "COTATION"})
    _note(msp, f"{d:.2f}", (-4 * s, d * s / 2), 0.3 * s, "COTATION")
    tb = [(-8 * s, -12 * s), ((w + 8) * s, -12 * s), ((w + 8) * s, (d + 8) * s),
          (-8 * s, (d + 8) * s)]
    msp.add_lwpolyline(tb, close=True, dxfattribs={"layer": "CARTOUCHE"})
    _note(msp, "RIVERSIDE INTERNATIONAL SCHOOL - ALLSCHWIL", ((w - 10) * s, -6 * s),
          0.6 * s, "CARTOUCHE")
    _note(msp, plan.title, ((w - 10) * s, -8 * s), 0.45 * s, "CARTOUCHE")
    _note(msp, f"PLAN {plan.building}{plan.ordinal:+d}  ECHELLE 1:200", ((w - 10) * s, -10 * s),
          0.3 * s, "CARTOUCHE")
    return deterministic_dxf(doc)


# --- GIS files --------------------------------------------------------------------------------

PARCEL_LOCAL = [(-95, -70), (160, -70), (165, 150), (-100, 150)]
GROUNDS_LOCAL: list[tuple[str, str, Any]] = [
    ("parking", "South Lot / Parking Sud", box(-10, -55, 60, -22)),
    ("parking", "Staff Car Park", box(95, -60, 150, -35)),
    ("athletic_field", "Sports Field / Sportplatz", box(-60, 70, 80, 140)),
    ("playground", "Playground / Cour de récréation", box(-85, 0, -40, 28)),
    ("road", "Bus Loop", LineString([(-30, -12), (70, -12)]).buffer(4, cap_style="round")),
    ("road", "Baslerstrasse", LineString([(-130, -80), (200, -80)]).buffer(6, cap_style="flat")),
    ("road", "Schulweg", LineString([(20, -74), (20, -55)]).buffer(3, cap_style="flat")),
]


# kind, name, building, level ordinal (or None), (plan x, y metres) or local metres if outdoors
POIS: list[Poi] = [
    ("knox_box", "Knox Box - Main Entrance", "A", 0, (32.5, -0.3), "left of the main doors"),
    ("knox_box", "Knox Box - Sporthalle", "G", 0, (35.5, 30.3), ""),
    ("aed", "AED - Eingangshalle", "A", 0, (30, 11.5), "wall cabinet"),
    ("aed", "AED - Couloir 1er étage", "A", 1, (50, 11.5), ""),
    ("aed", "AED - Flur Untergeschoss", "A", -1, (20, 11.5), ""),
    ("aed", "AED - Gym Lobby", "G", 0, (34, 27), ""),
    ("aed", "AED - Maternelle", "E", 0, (15, 8.25), ""),
    ("trauma_kit", "Trauma Kit - Secrétariat", "A", 0, (4, 5), "Stop the Bleed kit"),
    ("trauma_kit", "Trauma Kit - Science Labs", "A", 1, (25, 11.5), ""),
    ("trauma_kit", "Trauma Kit - Sporthalle", "G", 0, (30, 27), ""),
    ("gas_shutoff", "Gas main shutoff / Gashaupthahn", "A", -1, (30, 5), "boiler room AU03"),
    ("water_shutoff", "Water main shutoff / Hauptwasserhahn", "A", -1, (5, 5),
     "plant room AU01"),
    ("electric_shutoff", "Main electrical switchboard / Hauptverteilung", "A", -1, (10, 8),
     "plant room AU01"),
    ("electric_shutoff", "Electrical panel - Science Block", "B", 0, (38, 17), "lobby"),
    ("fire_alarm_panel", "Fire alarm panel / Brandmeldezentrale", "A", 0, (29, 2),
     "entrance hall"),
    ("hazard", "Chemical storage", "A", 1, (38, 5), "prep room A104a"),
    ("hazard", "Gas cylinder store / Gasflaschenlager", "B", 0, (40.3, 3), "outside east wall"),
    ("stairwell", "Stair 1 / Escalier 1", "A", -1, (2.5, 18.5), ""),
    ("stairwell", "Stair 1 / Escalier 1", "A", 0, (2.5, 18.5), ""),
    ("stairwell", "Stair 1 / Escalier 1", "A", 1, (2.5, 18.5), ""),
    ("stairwell", "Stair 2 / Treppe 2", "A", -1, (69.5, 18.5), ""),
    ("stairwell", "Stair 2 / Treppe 2", "A", 0, (69.5, 18.5), ""),
    ("stairwell", "Stair 2 / Treppe 2", "A", 1, (69.5, 18.5), ""),
    ("elevator", "Lift / Aufzug", "A", -1, (6.5, 18.5), ""),
    ("elevator", "Lift / Aufzug", "A", 0, (6.5, 18.5), ""),
    ("elevator", "Lift / Aufzug", "A", 1, (6.5, 18.5), ""),
    ("first_aid", "Infirmerie", "A", 0, (17, 5), "room A003"),
    ("rally_point", "Rally Point - Sports Field", "", None, (0, 100), ""),
    ("staging_area", "Staging Area - South Lot", "", None, (25, -40), "command post"),
]


# --- manifest ---------------------------------------------------------------------------------


def control_points(building: str) -> ControlPoints:
    """Four surveyed corners: (CAD point in drawing units, lon/lat, name)."""
    p = PLACEMENTS[building]
    return surveyed_corners(FRAME, lambda x, y: cad_to_local(building, x, y), p.width_m,
                            p.depth_m, (0.0, PERTURB_M), p.unit_m)


BUILDINGS = (
    BuildingInfo("A", "Main Building / Bâtiment principal",
                 ("main", "main building", "hauptgebäude", "secondary school", "high school"),
                 (31.0, 0.0),
                 ((-1, "Untergeschoss / Sous-sol", "UG", "A_UG.dxf"),
                  (0, "Erdgeschoss / Rez-de-chaussée", "EG", "A_EG.dxf"),
                  (1, "1. Obergeschoss / 1er étage", "1OG", "A_1OG.dxf"))),
    BuildingInfo("B", "Science & Technology / Sciences et technologie",
                 ("science block", "technology", "sciences"), None,
                 ((0, "Erdgeschoss / Rez-de-chaussée", "EG", "B_EG.dxf"),)),
    BuildingInfo("E", "Early Years / École maternelle",
                 ("maternelle", "early years", "preschool", "kindergarten"), (0.0, 8.25),
                 ((0, "Erdgeschoss / Rez-de-chaussée", "EG", "E_EG.dxf"),)),
    BuildingInfo("G", "Sporthalle / Gymnase",
                 ("gym", "sports hall", "gymnase", "turnhalle"), (34.0, 30.0),
                 ((0, "Erdgeschoss / Rez-de-chaussée", "EG", "G_EG.dxf"),)),
)


_MANIFEST_HEAD = """# Riverside International School (fictional), from make_sample_campus_eu.py
[campus]
id = "riverside-international"
name = "Riverside International School"
address = "Baslerstrasse 210, 4123 Allschwil, Switzerland"

[grid]
cell_size = 25
unit = "m"
margin_cells = 1

[files]
parcel = "parcel.geojson"
grounds = "grounds.geojson"
pois = "pois.csv"

[layers]
rooms = "LOCAUX"
labels = "TEXTE-LOCAUX"
doors = "PORTES"
outline = "CONTOUR"
exterior_door_blocks = ["PORTE-EXT*"]
interior_door_blocks = ["PORTE-INT*"]

[georef]
transform = "similarity"
max_rms_m = 1.0

[doors]
numbering = "clockwise"
"""


def main(argv: list[str]) -> int:
    parcel = (PARCEL_LOCAL, "Riverside International School parcel", "BL-2762-1187")
    files = {name: write_plan(make()) for name, make in PLANS.items()}
    files |= gis_files(FRAME, parcel, GROUNDS_LOCAL, cad_to_lonlat, POIS)
    files["campus.toml"] = manifest_toml(_MANIFEST_HEAD, BUILDINGS, control_points, digits=2)
    return write_sample(Path(argv[1]) if len(argv) > 1 else OUT, files)


if __name__ == "__main__":
    run_with_pinned_hash_seed(__file__, main)
