"""Generate the Lincoln Ridge K-12 sample campus: the source files a school would really have.

Writes into ``data/samples/lincoln_ridge/`` (or the folder given as the first argument):

* one DXF per building level, in feet (``$INSUNITS`` = 2), US National CAD Standard layers
  (``A-WALL``, ``A-DOOR`` block inserts, ``A-AREA`` closed room polylines incl. a bulged
  library wall, ``A-AREA-IDEN`` room TEXT/MTEXT, ``A-FLOR-OTLN`` footprint) plus the noise a
  real file has (title block ``G-ANNO-TTLB``, dimensions ``A-ANNO-DIMS``);
* ``parcel.geojson`` and ``grounds.geojson`` (parking, field, roads, playground);
* ``pois.csv`` (Knox boxes, AEDs, trauma kits, shutoffs, panels, stairwells, rally/staging);
* ``imagery.tif``, a synthetic orthophoto (UTM 16N GeoTIFF, JPEG) drawn from the parcel,
  grounds and roofs, watermarked "SYNTHETIC IMAGERY" so nobody takes it for a photograph;
* ``campus.toml``, the manifest with control points tying each drawing to the earth.

The campus is fictional and sits on open ground near Okemos, Michigan. Output is deterministic:
running the script twice gives byte-identical files (it re-runs itself with
``PYTHONHASHSEED=0``, because ezdxf orders a few DXF objects by string hash). Each building's
drawing has its own CAD frame (origin at its south-west corner, feet); buildings B and C are
rotated a few degrees on site. :data:`PLACEMENTS` and :func:`cad_to_lonlat` let tests check
where rooms should land. The writing helpers (:func:`door_block`, :func:`deterministic_dxf`, the
GeoJSON, CSV, control-point and manifest writers, :func:`write_sample`, the hash-seed re-run) are
shared with ``make_sample_campus_eu.py``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import ezdxf
from ezdxf.enums import TextEntityAlignment
from shapely.geometry import LineString, Polygon, box, mapping

from gridmap.crs import LocalFrame, local_crs_for

FT = 0.3048
REFERENCE = (-84.4300, 42.7000)  # lon, lat: the generator's frame origin
FRAME = LocalFrame(local_crs_for(*REFERENCE))
OUT = Path(__file__).resolve().parent.parent / "data" / "samples" / "lincoln_ridge"
PERTURB_M = 0.12  # one control point per building is off by this much (a real survey is)


@dataclass(frozen=True)
class Placement:
    """Where a building's CAD origin (SW corner) sits in the generator frame, and its turn."""

    x: float  # metres east of REFERENCE
    y: float  # metres north of REFERENCE
    rotation_deg: float  # CAD +x, counter-clockwise from east
    width_ft: float
    depth_ft: float


PLACEMENTS: dict[str, Placement] = {
    "A": Placement(-60.0, -10.0, 0.0, 320.0, 130.0),
    "B": Placement(60.0, -25.0, 7.0, 200.0, 150.0),
    "C": Placement(-135.0, 15.0, -4.0, 100.0, 60.0),
}


def cad_to_local(building: str, x: float, y: float) -> tuple[float, float]:
    p = PLACEMENTS[building]
    t = math.radians(p.rotation_deg)
    mx, my = x * FT, y * FT
    return p.x + mx * math.cos(t) - my * math.sin(t), p.y + mx * math.sin(t) + my * math.cos(t)


def cad_to_lonlat(building: str, x: float, y: float) -> tuple[float, float]:
    """Where CAD point (x, y) ft of ``building``'s drawings really is (lon, lat)."""
    return FRAME.lonlat(*cad_to_local(building, x, y))


# --- floor plan layout (CAD feet) ------------------------------------------------------------


@dataclass
class Room:
    number: str
    name: str
    pts: list[tuple[float, float, float]]  # x, y, bulge
    door: tuple[float, float, float] | None = None  # interior door x, y, rotation

    @property
    def centre(self) -> tuple[float, float]:
        xs = [p[0] for p in self.pts]
        ys = [p[1] for p in self.pts]
        return (min(xs) + max(xs)) / 2.0, (min(ys) + max(ys)) / 2.0


@dataclass
class Plan:
    building: str
    ordinal: int
    title: str
    rooms: list[Room]
    outline: Sequence[tuple[float, float, float]]
    exterior_doors: Sequence[tuple[float, float, float, str]] = field(default_factory=list)


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float, float]]:
    return [(x0, y0, 0.0), (x1, y0, 0.0), (x1, y1, 0.0), (x0, y1, 0.0)]


def hstrip(y0: float, y1: float, door_y: float, items: list[tuple[float, str, str]]) -> list[Room]:
    """Rooms side by side west to east between y0 and y1, each with a door at ``door_y``."""
    rooms, x = [], 0.0
    rot = 0.0 if door_y == y0 else 180.0
    for width, number, name in items:
        rooms.append(Room(number, name, rect(x, y0, x + width, y1), (x + width / 2, door_y, rot)))
        x += width
    return rooms


def vstrip(x0: float, x1: float, door_x: float, items: list[tuple[float, str, str]]) -> list[Room]:
    """Rooms stacked south to north between x0 and x1, each with a door at ``door_x``."""
    rooms, y = [], 0.0
    rot = 90.0 if door_x == x0 else 270.0
    for depth, number, name in items:
        rooms.append(Room(number, name, rect(x0, y, x1, y + depth), (door_x, y + depth / 2, rot)))
        y += depth
    return rooms


LIBRARY_BULGE = 0.3  # the library's north wall is a shallow arc (sagitta 12 ft on 80 ft)


def building_a_level1() -> Plan:
    south = hstrip(0, 58, 58, [
        (30, "101", "Classroom"), (30, "102", "Classroom"), (30, "103", "Special Education"),
        (30, "104", "Nurse"), (30, "105", "Main Office"), (20, "100", "Main Entrance Vestibule"),
        (30, "106", "Counseling"), (30, "107", "Classroom"), (30, "108", "Classroom"),
        (30, "109", "Boiler Room"), (30, "110", "Kitchen"),
    ])
    north = hstrip(72, 130, 72, [
        (20, "", "Stair 1"), (30, "111", "Classroom"), (30, "112", "Classroom"),
        (80, "113", "Library"), (30, "114", "Art Room"), (90, "115", "Cafeteria"),
        (20, "116", "Staff Restroom"), (20, "", "Stair 2"),
    ])
    library = next(r for r in north if r.number == "113")
    # counter-clockwise ring: the edge from NE to NW corner bulges north (outward)
    library.pts = [(80, 72, 0.0), (160, 72, 0.0), (160, 130, LIBRARY_BULGE), (80, 130, 0.0)]
    hall = Room("", "Main Hall", rect(0, 58, 320, 72))
    outline = [(0, 0, 0.0), (320, 0, 0.0), (320, 130, 0.0), (160, 130, LIBRARY_BULGE),
               (80, 130, 0.0), (0, 130, 0.0)]
    doors = [
        (160, 0, 180, "DOOR-EXT"), (0, 65, 90, "DOOR-EXT"), (320, 65, 270, "DOOR-EXT"),
        (235, 130, 0, "DOOR-EXT"), (10, 130, 0, "DOOR-EXT"), (310, 130, 0, "DOOR-EXT"),
        (305, 0, 180, "DOOR-EXT"),
    ]
    return Plan("A", 0, "BUILDING A - FIRST FLOOR PLAN", [*south, hall, *north], outline, doors)


def building_a_level2() -> Plan:
    south = hstrip(0, 58, 58, [
        (30, "201", "Classroom"), (30, "202", "Classroom"), (30, "203", "Classroom"),
        (30, "204", "Teacher Workroom"), (30, "205", "Classroom"), (20, "206", "Restrooms"),
        (30, "207", "Classroom"), (30, "208", "Classroom"), (30, "209", "Classroom"),
        (30, "210", "Classroom"), (30, "211", "Classroom"),
    ])
    north = hstrip(72, 130, 72, [
        (20, "", "Stair 1"), (30, "212", "Classroom"), (30, "213", "Classroom"),
        (40, "214", "Science Lab"), (20, "215", "Science Prep"), (40, "216", "Chemistry Lab"),
        (30, "217", "Classroom"), (40, "218", "Computer Lab"), (50, "219", "Music Room"),
        (20, "", "Stair 2"),
    ])
    hall = Room("", "Second Floor Hall", rect(0, 58, 320, 72))
    return Plan("A", 1, "BUILDING A - SECOND FLOOR PLAN", [*south, hall, *north],
                rect(0, 0, 320, 130))


def building_b() -> Plan:
    gym = Room("B-1", "Gymnasium", rect(0, 0, 120, 150), (120, 25, 90))
    west = vstrip(120, 140, 140, [
        (50, "B-2", "Boys Locker Room"), (50, "B-3", "Girls Locker Room"),
        (25, "B-4", "Restroom"), (25, "B-5", "Restroom"),
    ])
    corridor = Room("", "Athletics Corridor", rect(140, 0, 150, 150))
    east = vstrip(150, 200, 150, [
        (25, "B-10", "Coaches Office"), (25, "B-11", "Training Room"), (35, "B-12", "Weight Room"),
        (15, "B-13", "Storage"), (25, "B-14", "Concessions"), (25, "", "Lobby"),
    ])
    doors = [
        (175, 150, 0, "DOOR-EXT"), (145, 0, 180, "DOOR-EXT"), (60, 150, 0, "DOOR-EXT"),
        (60, 0, 180, "DOOR-EXT"),
        (0, 75, 90, "DOOR-36"),  # generic block: exterior because it sits on the outline
    ]
    return Plan("B", 0, "BUILDING B - GYMNASIUM / ATHLETICS", [gym, *west, corridor, *east],
                rect(0, 0, 200, 150), doors)


def building_c() -> Plan:
    south = hstrip(0, 25, 25, [
        (25, "C-1", "Kindergarten"), (25, "C-2", "Kindergarten"), (25, "C-3", "Pre-K Classroom"),
        (25, "C-4", "Pre-K Classroom"),
    ])
    hall = Room("", "ECC Hall", rect(0, 25, 100, 35))
    north = hstrip(35, 60, 35, [
        (25, "C-5", "Early Childhood Classroom"), (25, "C-6", "Early Childhood Classroom"),
        (25, "C-7", "ECC Office"), (25, "C-8", "Restroom"),
    ])
    doors = [(0, 30, 90, "DOOR-EXT"), (100, 30, 270, "DOOR-EXT"), (12.5, 60, 0, "DOOR-EXT")]
    return Plan("C", 0, "BUILDING C - EARLY CHILDHOOD CENTER", [*south, hall, *north],
                rect(0, 0, 100, 60), doors)


PLANS = {
    "A_level1.dxf": building_a_level1,
    "A_level2.dxf": building_a_level2,
    "B_level1.dxf": building_b,
    "C_level1.dxf": building_c,
}


# --- DXF writing ------------------------------------------------------------------------------

LAYERS = {
    "A-WALL": 7, "A-DOOR": 3, "A-AREA": 4, "A-AREA-IDEN": 2, "A-FLOR-OTLN": 6,
    "A-ANNO-DIMS": 1, "G-ANNO-TTLB": 8,
}


def door_block(doc: Any, name: str, width: float, sill_linetype: str | None = None) -> None:
    """A door: hinge at (-w/2, 0), leaf swung open 90 degrees, swing arc. Origin: opening centre.

    Shared with the other sample generators; ``sill_linetype`` is drawn on the sill line only.
    """
    blk = doc.blocks.new(name=name)
    h = -width / 2
    blk.add_line((h, 0), (h, width), dxfattribs={"layer": "0"})
    blk.add_arc((h, 0), width, 0, 90, dxfattribs={"layer": "0"})
    sill = {"layer": "0"} if sill_linetype is None else {"layer": "0", "linetype": sill_linetype}
    blk.add_line((h, 0), (-h, 0), dxfattribs=sill)


def _text(msp: Any, s: str, at: tuple[float, float], height: float, layer: str) -> None:
    t = msp.add_text(s, height=height, dxfattribs={"layer": layer, "style": "Standard"})
    t.set_placement(at, align=TextEntityAlignment.MIDDLE_CENTER)


def write_plan(plan: Plan) -> str:
    doc = ezdxf.new("R2013")  # type: ignore[attr-defined]
    doc.header["$INSUNITS"] = 2  # feet
    doc.header["$MEASUREMENT"] = 0  # imperial
    doc.header["$LUNITS"] = 4  # architectural
    for name, color in LAYERS.items():
        doc.layers.add(name, color=color)
    for block in ("DOOR-EXT", "DOOR-INT", "DOOR-36"):
        door_block(doc, block, 3.0, sill_linetype="CONTINUOUS")
    msp = doc.modelspace()

    walls: set[tuple[tuple[float, float], tuple[float, float]]] = set()
    for i, room in enumerate(plan.rooms):
        msp.add_lwpolyline(room.pts, format="xyb", close=True, dxfattribs={"layer": "A-AREA"})
        ring = [(p[0], p[1]) for p in room.pts]
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            walls.add((min(a, b), max(a, b)))
        cx, cy = room.centre
        if room.number == "113":
            cy -= 6  # keep the label off the curved wall
        if not room.number:
            _text(msp, room.name, (cx, cy), 1.5, "A-AREA-IDEN")
        elif i % 2 == 0:
            _text(msp, room.number, (cx, cy + 1.5), 2.0, "A-AREA-IDEN")
            _text(msp, room.name, (cx, cy - 1.5), 1.2, "A-AREA-IDEN")
        else:
            mt = msp.add_mtext(f"{room.number}\\P{room.name}", dxfattribs={
                "layer": "A-AREA-IDEN", "char_height": 1.5, "width": 18.0,
            })
            mt.set_location((cx, cy), attachment_point=5)  # middle centre
        if room.door is not None:
            x, y, rot = room.door
            msp.add_blockref("DOOR-INT", (x, y), dxfattribs={"layer": "A-DOOR", "rotation": rot})
    for a, b in sorted(walls):
        msp.add_line(a, b, dxfattribs={"layer": "A-WALL"})
    msp.add_lwpolyline(plan.outline, format="xyb", close=True, dxfattribs={"layer": "A-FLOR-OTLN"})
    for x, y, rot, block in plan.exterior_doors:
        msp.add_blockref(block, (x, y), dxfattribs={"layer": "A-DOOR", "rotation": rot})

    # noise a real file has: dimensions and a title block
    xs = [p[0] for p in plan.outline]
    ys = [p[1] for p in plan.outline]
    w, d = max(xs), max(ys)
    msp.add_line((0, -12), (w, -12), dxfattribs={"layer": "A-ANNO-DIMS"})
    for x in (0, w):
        msp.add_line((x, -14), (x, -10), dxfattribs={"layer": "A-ANNO-DIMS"})
    _text(msp, f"{int(w)}'-0\"", (w / 2, -10), 1.5, "A-ANNO-DIMS")
    msp.add_line((-12, 0), (-12, d), dxfattribs={"layer": "A-ANNO-DIMS"})
    _text(msp, f"{int(d)}'-0\"", (-14, d / 2), 1.5, "A-ANNO-DIMS")
    tb = [(-30, -40), (w + 30, -40), (w + 30, d + 40), (-30, d + 40)]
    msp.add_lwpolyline(tb, close=True, dxfattribs={"layer": "G-ANNO-TTLB"})
    msp.add_line((w - 90, -40), (w - 90, -22), dxfattribs={"layer": "G-ANNO-TTLB"})
    msp.add_line((w - 90, -22), (w + 30, -22), dxfattribs={"layer": "G-ANNO-TTLB"})
    _text(msp, "LINCOLN RIDGE K-12 CAMPUS", (w - 30, -27), 2.5, "G-ANNO-TTLB")
    _text(msp, plan.title, (w - 30, -32), 1.8, "G-ANNO-TTLB")
    _text(msp, f"SHEET A-{plan.building}{plan.ordinal + 1:02d}  SCALE 1/16\" = 1'-0\"",
          (w - 30, -36), 1.2, "G-ANNO-TTLB")
    return deterministic_dxf(doc)


_EZDXF_STAMP = re.compile(r"^(\d+\.\d+\.\d+\S*) @ \d{4}-\d\d-\d\dT\S+$")


def deterministic_dxf(doc: Any) -> str:
    """DXF text with the timestamps and GUIDs that change on every save pinned."""
    stream = io.StringIO()
    doc.write(stream)
    lines = stream.getvalue().split("\n")
    pinned = {
        "$TDCREATE": "2460000.5", "$TDUCREATE": "2460000.5", "$TDUPDATE": "2460000.5",
        "$TDUUPDATE": "2460000.5", "$TDINDWG": "0.0", "$TDUSRTIMER": "0.0",
        "$FINGERPRINTGUID": "{6F1C2A4E-3B55-4E0B-9A57-8D1F0C6A2B10}",
        "$VERSIONGUID": "{6F1C2A4E-3B55-4E0B-9A57-8D1F0C6A2B11}",
    }
    for i, line in enumerate(lines):
        key = line.strip()
        if _EZDXF_STAMP.match(key):  # ezdxf's "written by" metadata carries a timestamp
            lines[i] = _EZDXF_STAMP.sub(r"\1 @ 2024-01-01T00:00:00+00:00", key)
        if key in pinned and i + 2 < len(lines):
            lines[i + 2] = pinned[key]
    return "\n".join(lines)


# --- GIS files --------------------------------------------------------------------------------

PARCEL_LOCAL = [(-200, -150), (170, -150), (175, 140), (-40, 150), (-205, 120)]
GROUNDS_LOCAL: list[tuple[str, str, Any]] = [
    ("parking", "South Lot", box(-70, -80, 40, -30)),
    ("parking", "Gym Lot", box(60, -80, 130, -40)),
    ("athletic_field", "Varsity Field", box(-40, 60, 100, 130)),
    ("playground", "ECC Playground", box(-160, 45, -120, 80)),
    ("road", "Ridgeline Road", LineString([(-260, -162), (240, -162)]).buffer(6, cap_style="flat")),
    ("road", "Campus Drive", LineString([(-15, -156), (-15, -80)]).buffer(4, cap_style="flat")),
]


def _wgs84(frame: LocalFrame, geom: Any) -> Any:
    out = frame.to_wgs84(geom)
    text = json.dumps(mapping(out), default=float)
    return json.loads(text, parse_float=lambda s: round(float(s), 7))


def _feature_collection(features: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1,
                      ensure_ascii=False) + "\n"


def parcel_geojson(frame: LocalFrame, ring: Sequence[tuple[float, float]], name: str,
                   parcel_id: str) -> str:
    """The parcel (``ring`` in ``frame`` metres) as a one-feature GeoJSON collection."""
    return _feature_collection([{
        "type": "Feature",
        "properties": {"kind": "parcel", "name": name, "parcel_id": parcel_id},
        "geometry": _wgs84(frame, Polygon(ring)),
    }])


def grounds_geojson(frame: LocalFrame, grounds: Sequence[tuple[str, str, Any]]) -> str:
    """Grounds features (kind, name, geometry in ``frame`` metres) as GeoJSON."""
    return _feature_collection([
        {"type": "Feature", "properties": {"kind": kind, "name": name},
         "geometry": _wgs84(frame, g)}
        for kind, name, g in grounds
    ])


# kind, name, building, level ordinal (or None), (x, y) in the building's plan or, with no
# building, in local frame metres; note
Poi = tuple[str, str, str, int | None, tuple[float, float], str]

POIS: list[Poi] = [
    ("knox_box", "Knox Box - Main Entrance", "A", 0, (166, -1), "right of the main doors"),
    ("knox_box", "Knox Box - Gym Lobby", "B", 0, (181, 151), ""),
    ("knox_box", "Knox Box - ECC", "C", 0, (-1, 36), ""),
    ("aed", "AED - Main Office Hall", "A", 0, (135, 65), "wall cabinet"),
    ("aed", "AED - Cafeteria", "A", 0, (230, 71), ""),
    ("aed", "AED - Second Floor Hall", "A", 1, (160, 65), ""),
    ("aed", "AED - Science Wing", "A", 1, (100, 65), ""),
    ("aed", "AED - Gym Lobby", "B", 0, (175, 140), ""),
    ("aed", "AED - ECC Hall", "C", 0, (50, 30), ""),
    ("trauma_kit", "Trauma Kit - Main Office", "A", 0, (135, 30), "Stop the Bleed kit"),
    ("trauma_kit", "Trauma Kit - Second Floor", "A", 1, (220, 65), ""),
    ("trauma_kit", "Trauma Kit - Athletics", "B", 0, (145, 75), ""),
    ("gas_shutoff", "Gas meter and shutoff", "A", 0, (321, 20), "east wall, outside"),
    ("water_shutoff", "Water main shutoff", "A", 0, (255, 20), "boiler room 109"),
    ("electric_shutoff", "Main electrical disconnect", "A", 0, (265, 45), "boiler room 109"),
    ("electric_shutoff", "Gym electrical panel", "B", 0, (195, 95), "storage B-13"),
    ("fire_alarm_panel", "Fire alarm control panel", "A", 0, (152, 20), "vestibule"),
    ("fire_alarm_panel", "Fire alarm annunciator - Gym", "B", 0, (190, 145), ""),
    ("access_control_panel", "Access control panel", "A", 0, (125, 50), "main office"),
    ("stairwell", "Stair 1", "A", 0, (10, 101), ""),
    ("stairwell", "Stair 2", "A", 0, (310, 101), ""),
    ("stairwell", "Stair 1", "A", 1, (10, 101), ""),
    ("stairwell", "Stair 2", "A", 1, (310, 101), ""),
    ("first_aid", "Nurse", "A", 0, (105, 30), "room 104"),
    ("hazard", "Chemical storage", "A", 1, (130, 100), "science prep 215"),
    ("rally_point", "Rally Point - Varsity Field", "", None, (30, 95), ""),
    ("staging_area", "Staging Area - South Lot", "", None, (-15, -55), "command post"),
]


def pois_csv(frame: LocalFrame, plan_to_lonlat: Callable[[str, float, float], tuple[float, float]],
             pois: Sequence[Poi]) -> str:
    """The points of interest as CSV, placed by ``plan_to_lonlat`` or, outdoors, ``frame``."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["kind", "name", "lon", "lat", "building", "level", "note"])
    for kind, name, building, level, (x, y), note in pois:
        lon, lat = plan_to_lonlat(building, x, y) if building else frame.lonlat(x, y)
        w.writerow([kind, name, f"{lon:.7f}", f"{lat:.7f}", building,
                    "" if level is None else level, note])
    return out.getvalue()


def gis_files(frame: LocalFrame, parcel: tuple[Sequence[tuple[float, float]], str, str],
              grounds: Sequence[tuple[str, str, Any]],
              plan_to_lonlat: Callable[[str, float, float], tuple[float, float]],
              pois: Sequence[Poi]) -> dict[str, str]:
    """A sample's GIS files: the parcel (ring, name, parcel id), the grounds and the POIs."""
    ring, name, parcel_id = parcel
    return {"parcel.geojson": parcel_geojson(frame, ring, name, parcel_id),
            "grounds.geojson": grounds_geojson(frame, grounds),
            "pois.csv": pois_csv(frame, plan_to_lonlat, pois)}


# --- manifest ---------------------------------------------------------------------------------


ControlPoints = list[tuple[tuple[float, float], tuple[float, float], str]]  # cad, lonlat, name


def surveyed_corners(frame: LocalFrame,
                     plan_to_local: Callable[[float, float], tuple[float, float]],
                     width: float, depth: float, ne_error_m: tuple[float, float],
                     plan_per_cad_unit: float = 1.0) -> ControlPoints:
    """A building's four corners as control points: (CAD point, lon/lat, name).

    ``width`` and ``depth`` are in plan units, which ``plan_to_local`` takes to ``frame``
    metres; a CAD unit is ``plan_per_cad_unit`` plan units. The NE corner is surveyed
    ``ne_error_m`` (east, north) off, as a real survey is never perfect.
    """
    corners = [(0.0, 0.0, "SW corner"), (width, 0.0, "SE corner"),
               (width, depth, "NE corner"), (0.0, depth, "NW corner")]
    out = []
    for k, (x, y, name) in enumerate(corners):
        lx, ly = plan_to_local(x, y)
        if k == 2:
            lx, ly = lx + ne_error_m[0], ly + ne_error_m[1]
        out.append(((x / plan_per_cad_unit, y / plan_per_cad_unit), frame.lonlat(lx, ly), name))
    return out


def control_points(building: str) -> ControlPoints:
    p = PLACEMENTS[building]
    return surveyed_corners(FRAME, lambda x, y: cad_to_local(building, x, y), p.width_ft,
                            p.depth_ft, (PERTURB_M, 0.0))


@dataclass(frozen=True)
class BuildingInfo:
    """What the manifest says about a building besides its control points."""

    id: str
    name: str
    aliases: tuple[str, ...]
    main_entrance: tuple[float, float] | None  # drawing units on the ground floor
    levels: tuple[tuple[int, str, str, str], ...]  # ordinal, name, short name, DXF file


BUILDINGS = (
    BuildingInfo("A", "Main Building", ("main", "main building", "high school"), (160.0, 0.0),
                 ((0, "1st Floor", "1", "A_level1.dxf"), (1, "2nd Floor", "2", "A_level2.dxf"))),
    BuildingInfo("B", "Gymnasium / Athletics", ("gym", "gymnasium", "athletics"), (175.0, 150.0),
                 ((0, "1st Floor", "1", "B_level1.dxf"),)),
    BuildingInfo("C", "Early Childhood Center", ("ecc", "early childhood", "preschool"),
                 (0.0, 30.0), ((0, "1st Floor", "1", "C_level1.dxf"),)),
)


def _building_toml(b: BuildingInfo, points: ControlPoints, digits: int) -> str:
    aliases = ", ".join(f'"{a}"' for a in b.aliases)
    entrance = ""
    if b.main_entrance is not None:
        x, y = b.main_entrance
        entrance = f"main_entrance = {{ level = 0, near = [{x:.{digits}f}, {y:.{digits}f}] }}\n"
    levels = "".join(f"""
[[buildings.levels]]
ordinal = {ordinal}
name = "{name}"
short_name = "{short}"
dxf = "{dxf}"
""" for ordinal, name, short, dxf in b.levels)
    return f"""
[[buildings]]
id = "{b.id}"
name = "{b.name}"
aliases = [{aliases}]
{entrance}{_cp_toml(points, digits)}{levels}"""


def _cp_toml(points: ControlPoints, digits: int) -> str:
    rows = [
        f'  {{ name = "{name}", cad = [{x:.{digits}f}, {y:.{digits}f}], '
        f'lonlat = [{lon:.7f}, {lat:.7f}] }},'
        for (x, y), (lon, lat), name in points
    ]
    return "control_points = [\n" + "\n".join(rows) + "\n]\n"


_MANIFEST_HEAD = """# Lincoln Ridge K-12 Campus (fictional) - made by scripts/make_sample_campus.py
[campus]
id = "lincoln-ridge"
name = "Lincoln Ridge K-12 Campus"
address = "4850 Ridgeline Road, Okemos, MI 48864"
verified_on = 2026-08-14  # the last walk-through check, printed on the map book

[grid]
cell_size = 100
unit = "ft"
margin_cells = 1

[files]
parcel = "parcel.geojson"
grounds = "grounds.geojson"
pois = "pois.csv"

[layers]
rooms = "A-AREA"
labels = "A-AREA-IDEN"
doors = "A-DOOR"
outline = "A-FLOR-OTLN"
exterior_door_blocks = ["DOOR-EXT*"]

[georef]
transform = "similarity"
max_rms_m = 1.0

[doors]
numbering = "clockwise"
"""


def manifest_toml(head: str, buildings: Sequence[BuildingInfo],
                  points: Callable[[str], ControlPoints], digits: int) -> str:
    """The manifest: ``head`` then each building, coordinates written with ``digits`` decimals."""
    return head + "".join(_building_toml(b, points(b.id), digits) for b in buildings)


# --- synthetic aerial imagery ------------------------------------------------------------------

#: the orthophoto's CRS: UTM zone 16N, as a county's orthophoto of Okemos would be delivered
IMAGERY_CRS = "EPSG:32616"
IMAGERY_PIXEL_M = 0.5
IMAGERY_LOCAL_BOX = (-300.0, -240.0, 280.0, 230.0)  # generator-frame metres: the grid and more
IMAGERY_SEED = 20261130
WATERMARK = "SYNTHETIC IMAGERY - NOT A PHOTOGRAPH"


@dataclass(frozen=True)
class ImageryCanvas:
    """The orthophoto's pixel grid: UTM top-left corner, pixel size, size in pixels."""

    west: float
    north: float
    pixel: float
    width: int
    height: int

    def pixels(self, local: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        """Generator-frame metres to (column, row) pixel coordinates."""
        from pyproj import Transformer

        to_utm = Transformer.from_crs("EPSG:4326", IMAGERY_CRS, always_xy=True)
        out = []
        for x, y in local:
            e, n = to_utm.transform(*FRAME.lonlat(x, y))
            out.append(((e - self.west) / self.pixel, (self.north - n) / self.pixel))
        return out


def imagery_canvas() -> ImageryCanvas:
    """A whole-metre UTM grid holding :data:`IMAGERY_LOCAL_BOX`."""
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", IMAGERY_CRS, always_xy=True)
    x0, y0, x1, y1 = IMAGERY_LOCAL_BOX
    corners = [to_utm.transform(*FRAME.lonlat(x, y)) for x in (x0, x1) for y in (y0, y1)]
    west = math.floor(min(e for e, _ in corners))
    east = math.ceil(max(e for e, _ in corners))
    south = math.floor(min(n for _, n in corners))
    north = math.ceil(max(n for _, n in corners))
    return ImageryCanvas(west, north, IMAGERY_PIXEL_M, round((east - west) / IMAGERY_PIXEL_M),
                         round((north - south) / IMAGERY_PIXEL_M))


def bulged_ring(points: Sequence[tuple[float, float, float]],
                step_deg: float = 5.0) -> list[tuple[float, float]]:
    """A closed polyline ring with bulges (x, y, bulge) as straight segments: each arc is cut
    every ``step_deg`` degrees (a positive bulge turns counter-clockwise)."""
    out: list[tuple[float, float]] = []
    for (x0, y0, bulge), (x1, y1, _) in zip(points, [*points[1:], points[0]], strict=True):
        out.append((x0, y0))
        if bulge == 0:
            continue
        theta = 4 * math.atan(bulge)
        chord = math.hypot(x1 - x0, y1 - y0)
        offset = chord / 2 / math.tan(theta / 2)
        cx = (x0 + x1) / 2 - (y1 - y0) / chord * offset
        cy = (y0 + y1) / 2 + (x1 - x0) / chord * offset
        radius = math.hypot(x0 - cx, y0 - cy)
        start = math.atan2(y0 - cy, x0 - cx)
        steps = max(2, math.ceil(abs(math.degrees(theta)) / step_deg))
        for k in range(1, steps):
            a = start + theta * k / steps
            out.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return out


def footprints_local() -> dict[str, list[tuple[float, float]]]:
    """Each building's ground-floor outline in generator-frame metres (arcs included)."""
    plans = {"A": building_a_level1(), "B": building_b(), "C": building_c()}
    return {b: [cad_to_local(b, x, y) for x, y in bulged_ring(plan.outline)]
            for b, plan in plans.items()}


# class: base colour (RGB) and how much texture it carries
SURFACES: dict[str, tuple[tuple[int, int, int], float]] = {
    "meadow": ((104, 118, 72), 22.0),
    "lawn": ((112, 140, 80), 12.0),
    "trees": ((54, 78, 46), 26.0),
    "road": ((74, 74, 76), 6.0),
    "parking": ((92, 92, 95), 6.0),
    "field": ((86, 150, 70), 5.0),
    "playground": ((170, 142, 104), 14.0),
    "roof": ((178, 178, 172), 5.0),
    "roof_gym": ((132, 136, 142), 4.0),
    "roof_ecc": ((142, 92, 74), 6.0),
}


def _smooth_noise(rng: Any, height: int, width: int, cell: int) -> Any:
    """Noise with features about ``cell`` pixels across, -1..1 (bilinear upsampling)."""
    import numpy as np
    from PIL import Image

    coarse = rng.uniform(-1.0, 1.0, (height // cell + 2, width // cell + 2)).astype(np.float32)
    big = Image.fromarray(coarse).resize(((width // cell + 2) * cell, (height // cell + 2) * cell),
                                        Image.Resampling.BILINEAR)
    return np.asarray(big)[:height, :width]


def imagery_pixels(canvas: ImageryCanvas) -> Any:
    """The synthetic photo as an (height, width, 3) array: grounds, roads, lots, fields and
    roofs in aerial colours with texture, trees, lot stripes, and a repeated watermark."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.RandomState(IMAGERY_SEED)
    size = (canvas.width, canvas.height)
    classes = Image.new("L", size, 0)
    draw = ImageDraw.Draw(classes)
    names = list(SURFACES)

    def fill(surface: str, local: Sequence[tuple[float, float]]) -> None:
        draw.polygon(canvas.pixels(local), fill=names.index(surface))

    # woods around the site, a mown parcel, then grounds and roofs on top
    for _ in range(260):
        x, y = rng.uniform(-300, 280), rng.uniform(-240, 230)
        r = rng.uniform(3, 9)
        fill("trees", [(x + r * math.cos(a / 8 * math.tau), y + r * math.sin(a / 8 * math.tau))
                       for a in range(8)])
    fill("lawn", PARCEL_LOCAL)
    for kind, _name, geom in GROUNDS_LOCAL:
        surface = {"athletic_field": "field"}.get(kind, kind)
        fill(surface, list(geom.exterior.coords))
    roofs = {"A": "roof", "B": "roof_gym", "C": "roof_ecc"}
    footprints = footprints_local()
    for building, ring in footprints.items():
        fill(roofs[building], ring)

    labels = np.asarray(classes)
    base = np.array([SURFACES[n][0] for n in names], dtype=np.float32)[labels]
    amplitude = np.array([SURFACES[n][1] for n in names], dtype=np.float32)[labels]
    texture = (0.6 * _smooth_noise(rng, canvas.height, canvas.width, 24)
               + 0.4 * rng.uniform(-1.0, 1.0, (canvas.height, canvas.width)))
    photo = base + (amplitude * texture)[:, :, None]
    image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))

    marks = ImageDraw.Draw(image)
    for _kind, _name, geom in GROUNDS_LOCAL[:2]:  # parking stalls: white lines 2.7 m apart
        x0, y0, x1, y1 = geom.bounds
        x = x0 + 2.7
        while x < x1 - 1:
            for ya, yb in ((y0 + 1, y0 + 6), (y1 - 6, y1 - 1)):
                marks.line(canvas.pixels([(x, ya), (x, yb)]), fill=(214, 214, 208), width=1)
            x += 2.7
    x0, y0, x1, y1 = GROUNDS_LOCAL[2][2].bounds  # field lines
    field_lines = [(x0 + 3, y0 + 3), (x1 - 3, y0 + 3), (x1 - 3, y1 - 3), (x0 + 3, y1 - 3),
                   (x0 + 3, y0 + 3)]
    marks.line(canvas.pixels(field_lines), fill=(236, 236, 230), width=2)
    mid = (x0 + x1) / 2
    marks.line(canvas.pixels([(mid, y0 + 3), (mid, y1 - 3)]), fill=(236, 236, 230), width=2)
    for building, ring in footprints.items():  # parapets, and rooftop units on the big roofs
        marks.line(canvas.pixels([*ring, ring[0]]), fill=(96, 96, 98), width=2)
        if building != "C":
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            for k in range(6):
                ux = min(xs) + (max(xs) - min(xs)) * (0.15 + 0.14 * k)
                uy = (min(ys) + max(ys)) / 2 + (6 if k % 2 else -6)
                marks.polygon(canvas.pixels([(ux, uy), (ux + 4, uy), (ux + 4, uy + 3),
                                             (ux, uy + 3)]), fill=(214, 214, 210))

    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    text = ImageDraw.Draw(overlay)
    font = ImageFont.load_default(size=22)
    step = round(font.getlength(WATERMARK)) + 160
    for row, y in enumerate(range(12, canvas.height, 110)):
        for x in range(-step + (row % 2) * step // 2, canvas.width, step):
            text.text((x, y), WATERMARK, font=font, fill=(255, 255, 255, 110))
    return np.asarray(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))


def imagery_tif() -> bytes:
    """The synthetic orthophoto as a GeoTIFF (UTM 16N, JPEG, tiled); same bytes every run."""
    import numpy as np
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    canvas = imagery_canvas()
    pixels = imagery_pixels(canvas)
    profile = {
        "driver": "GTiff", "width": canvas.width, "height": canvas.height, "count": 3,
        "dtype": "uint8", "crs": IMAGERY_CRS,
        "transform": from_origin(canvas.west, canvas.north, canvas.pixel, canvas.pixel),
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "jpeg",
        "jpeg_quality": 75, "photometric": "ycbcr",
    }
    with MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(np.moveaxis(pixels, -1, 0))
            dst.update_tags(TIFFTAG_IMAGEDESCRIPTION="Synthetic imagery of the fictional Lincoln "
                            "Ridge K-12 campus, drawn from its plans. Not a photograph.")
        return bytes(memfile.read())


# --- writing a sample (shared with the other sample generators) --------------------------------


def write_sample(out: Path, files: dict[str, str]) -> int:
    """Write each named text file into ``out`` (created if missing), UTF-8 with LF endings."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {len(files)} files to {out}")
    return 0


def run_with_pinned_hash_seed(script: str, main: Callable[[list[str]], int]) -> NoReturn:
    """Run ``main`` with ``PYTHONHASHSEED=0``, re-executing ``script`` first if it is not set.

    ezdxf orders some OBJECTS by string hash: pinning the seed makes the output byte-identical.
    """
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        os.execve(sys.executable, [sys.executable, script, *sys.argv[1:]], env)
    sys.exit(main(sys.argv))


def main(argv: list[str]) -> int:
    parcel = (PARCEL_LOCAL, "Lincoln Ridge Public Schools parcel", "33-02-02-21-400-007")
    files = {name: write_plan(make()) for name, make in PLANS.items()}
    files |= gis_files(FRAME, parcel, GROUNDS_LOCAL, cad_to_lonlat, POIS)
    files["campus.toml"] = manifest_toml(_MANIFEST_HEAD, BUILDINGS, control_points, digits=1)
    out = Path(argv[1]) if len(argv) > 1 else OUT
    written = write_sample(out, files)
    (out / "imagery.tif").write_bytes(imagery_tif())
    print(f"wrote {out / 'imagery.tif'}")
    return written


if __name__ == "__main__":
    run_with_pinned_hash_seed(__file__, main)
