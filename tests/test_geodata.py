"""A drawing's own GEODATA object places it: no control points typed by hand.

Drawings are made with ezdxf, placed in a projected coordinate system (UTM, a state plane in
feet) by a known turn and origin; the truth for each drawing point is the grid coordinate that
placement gives, turned into lon/lat by pyproj. ezdxf's own GEODATA transformation is a
second, independent reading of the same object.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import ezdxf
import pytest
from pyproj import Transformer
from shapely.geometry import Point

from gridmap.crs import LocalFrame
from gridmap.errors import GeoreferenceError
from importers.campus import import_campus
from importers.findings import FindingKind, Severity
from importers.geodata import read_geodata_file
from tests.sample_scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"
gen = load_script("make_sample_campus")


def _crs_xml(epsg: int, name: str, *, alias: bool = True) -> str:
    """A coordinate system definition as AutoCAD writes it (abridged)."""
    axes = "".join(
        f"<CoordinateSystemAxis><AxisOrder>{k}</AxisOrder><AxisAbbreviation>{a}"
        f"</AxisAbbreviation></CoordinateSystemAxis>" for k, a in ((1, "E"), (2, "N")))
    alias_xml = (f'<Alias id="{epsg}" type="CoordinateSystem"><ObjectId>{name}</ObjectId>'
                 "<Namespace>EPSG Code</Namespace></Alias>") if alias else ""
    return ('<?xml version="1.0" encoding="UTF-16" standalone="no" ?>\n'
            '<Dictionary version="1.0" xmlns="http://www.osgeo.org/mapguide/coordinatesystem">'
            f'<ProjectedCoordinateSystem id="{name}"><Name>{name}</Name><Axis uom="Meter">'
            f"{axes}</Axis></ProjectedCoordinateSystem>{alias_xml}</Dictionary>")


def _drawing(path: Path, *, insunits: int, epsg: int, name: str, design: tuple[float, float],
             reference: tuple[float, float], turn_deg: float, unit_m: float,
             coordinate_type: int = 1, alias: bool = True) -> Path:
    """A DXF whose GEODATA says: drawing point ``design`` stands at grid ``reference``, and
    the drawing is turned ``turn_deg`` counter-clockwise on the grid."""
    doc = ezdxf.new("R2018")
    doc.header["$INSUNITS"] = insunits
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (100, 0), (100, 60), (0, 60)], close=True)
    geo = msp.new_geodata()
    t = math.radians(turn_deg)
    geo.dxf.coordinate_type = coordinate_type
    geo.dxf.design_point = (*design, 0)
    geo.dxf.reference_point = (*reference, 0)
    geo.dxf.horizontal_unit_scale = unit_m
    geo.dxf.vertical_unit_scale = unit_m
    # the grid's north as seen in the drawing: the grid's +y turned back by the drawing's turn
    geo.dxf.north_direction = (math.sin(t), math.cos(t))
    geo.dxf.scale_estimation_method = 1
    geo.coordinate_system_definition = _crs_xml(epsg, name, alias=alias)
    doc.saveas(path)
    return path


def _truth(x: float, y: float, *, design: tuple[float, float], reference: tuple[float, float],
           turn_deg: float, grid_per_unit: float) -> tuple[float, float]:
    """Grid coordinates of drawing point (x, y) under the placement the drawing was made with."""
    t = math.radians(turn_deg)
    dx, dy = (x - design[0]) * grid_per_unit, (y - design[1]) * grid_per_unit
    return (reference[0] + dx * math.cos(t) - dy * math.sin(t),
            reference[1] + dx * math.sin(t) + dy * math.cos(t))


def _metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    frame = LocalFrame(f"+proj=tmerc +lat_0={a[1]} +lon_0={a[0]} +ellps=WGS84 +units=m")
    return math.dist(frame.xy(*a), frame.xy(*b))


CASES = {
    # UTM zone 16N in metres, a drawing in metres turned 12 degrees
    "utm": dict(insunits=6, epsg=32616, name="UTM84-16N", design=(10.0, 20.0),
                reference=(712_000.0, 4_730_000.0), turn_deg=12.0, unit_m=1.0, grid=1.0),
    # Michigan South state plane in feet, a drawing in feet turned -4 degrees
    "state_plane_ft": dict(insunits=2, epsg=2253, name="MI83SF", design=(0.0, 0.0),
                           reference=(13_100_000.0, 410_000.0), turn_deg=-4.0, unit_m=0.3048,
                           grid=1.0),
    # UTM again, the drawing in millimetres
    "utm_mm": dict(insunits=4, epsg=32616, name="UTM84-16N", design=(5000.0, -2000.0),
                   reference=(700_500.0, 4_731_250.0), turn_deg=95.0, unit_m=0.001,
                   grid=0.001),
}


@pytest.mark.parametrize("case", list(CASES))
def test_geodata_control_points_land_where_pyproj_puts_the_grid_points(
        case: str, tmp_path: Path) -> None:
    c = CASES[case]
    design, reference = c["design"], c["reference"]
    path = _drawing(tmp_path / f"{case}.dxf", insunits=c["insunits"], epsg=c["epsg"],
                    name=c["name"], design=design, reference=reference,
                    turn_deg=c["turn_deg"], unit_m=c["unit_m"])
    placement = read_geodata_file(path)
    assert placement is not None
    assert placement.crs == f"EPSG:{c['epsg']}"
    assert len(placement.control_points) >= 3
    to_lonlat = Transformer.from_crs(c["epsg"], 4326, always_xy=True)
    for p in placement.control_points:
        e, n = _truth(*p.cad, design=design, reference=reference, turn_deg=c["turn_deg"],
                      grid_per_unit=c["grid"])
        assert _metres_apart(p.lonlat, to_lonlat.transform(e, n)) < 0.1, p
    # ezdxf's own reading of a local grid (for a CRS in metres) agrees
    if c["epsg"] == 32616:
        geo = ezdxf.readfile(path).modelspace().get_geodata()
        matrix, epsg = geo.get_crs_transformation()
        assert epsg == c["epsg"]
        for p in placement.control_points:
            e, n, _ = matrix.transform((*p.cad, 0.0))
            assert _metres_apart(p.lonlat, to_lonlat.transform(e, n)) < 0.1


def test_a_geographic_reference_point_is_a_longitude_latitude(tmp_path: Path) -> None:
    lon, lat = -84.43, 42.70
    path = _drawing(tmp_path / "geo.dxf", insunits=6, epsg=32616, name="UTM84-16N",
                    design=(0.0, 0.0), reference=(lon, lat), turn_deg=0.0, unit_m=1.0,
                    coordinate_type=3)
    placement = read_geodata_file(path)
    assert placement is not None
    first = next(p for p in placement.control_points if p.cad == (0.0, 0.0))
    assert _metres_apart(first.lonlat, (lon, lat)) < 0.01
    # 100 m east on the UTM grid from the reference point
    utm = Transformer.from_crs(4326, 32616, always_xy=True)
    e, n = utm.transform(lon, lat)
    east = next(p for p in placement.control_points if p.cad[1] == 0.0 and p.cad[0] > 0)
    truth = Transformer.from_crs(32616, 4326, always_xy=True).transform(e + east.cad[0], n)
    assert _metres_apart(east.lonlat, truth) < 0.1


def test_a_drawing_drawn_in_state_plane_coordinates(tmp_path: Path) -> None:
    """A projected grid: the drawing's own coordinates are the state plane's (feet)."""
    design = (13_100_250.0, 410_120.0)
    path = _drawing(tmp_path / "sp.dxf", insunits=2, epsg=2253, name="MI83SF", design=design,
                    reference=(0.0, 0.0), turn_deg=0.0, unit_m=0.3048, coordinate_type=2)
    placement = read_geodata_file(path)
    assert placement is not None
    to_lonlat = Transformer.from_crs(2253, 4326, always_xy=True)
    for p in placement.control_points:
        assert _metres_apart(p.lonlat, to_lonlat.transform(*p.cad)) < 0.1, p


def test_a_coordinate_system_without_an_epsg_code_is_read_through_its_mesh(
        tmp_path: Path) -> None:
    """The mesh: points of the object's grid and their longitude, latitude."""
    c = CASES["utm"]
    design, reference = c["design"], c["reference"]
    path = _drawing(tmp_path / "mesh.dxf", insunits=6, epsg=0, name="UTM84-16N-CUSTOM",
                    design=design, reference=reference, turn_deg=c["turn_deg"], unit_m=1.0,
                    alias=False)
    to_lonlat = Transformer.from_crs(32616, 4326, always_xy=True)
    doc = ezdxf.readfile(path)
    geo = doc.modelspace().get_geodata()
    grid = [(reference[0] + dx, reference[1] + dy)
            for dx in (-500.0, 0.0, 500.0) for dy in (-500.0, 0.0, 500.0)]
    geo.source_vertices.extend(grid)
    geo.target_vertices.extend([to_lonlat.transform(e, n) for e, n in grid])
    geo.faces = [(0, 1, 4), (0, 4, 3)]
    doc.saveas(path)
    placement = read_geodata_file(path)
    assert placement is not None and "mesh of 9 points" in placement.crs
    for p in placement.control_points:
        e, n = _truth(*p.cad, design=design, reference=reference, turn_deg=c["turn_deg"],
                      grid_per_unit=1.0)
        assert _metres_apart(p.lonlat, to_lonlat.transform(e, n)) < 0.1, p


def test_no_geodata_is_none_and_an_unusable_one_is_named(tmp_path: Path) -> None:
    doc = ezdxf.new("R2018")
    doc.saveas(tmp_path / "plain.dxf")
    assert read_geodata_file(tmp_path / "plain.dxf") is None
    path = _drawing(tmp_path / "noepsg.dxf", insunits=6, epsg=0, name="LOCAL-CUSTOM",
                    design=(0, 0), reference=(0, 0), turn_deg=0, unit_m=1.0, alias=False)
    with pytest.raises(GeoreferenceError, match=r"noepsg\.dxf: .*'LOCAL-CUSTOM' names no EPSG"):
        read_geodata_file(path)


def test_an_entity_bomb_in_the_coordinate_system_is_refused(tmp_path: Path) -> None:
    doc = ezdxf.new("R2018")
    geo = doc.modelspace().new_geodata()
    geo.coordinate_system_definition = (
        '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<Dictionary><Alias>&b;</Alias></Dictionary>")
    doc.saveas(tmp_path / "bomb.dxf")
    with pytest.raises(GeoreferenceError, match="cannot be read"):
        read_geodata_file(tmp_path / "bomb.dxf")


# --- through the whole import ------------------------------------------------------------------


def _geodata_for_building_c(path: Path, east_m: float = 0.0) -> None:
    """Give building C's drawing the GEODATA its real placement implies, in UTM 16N (moved
    ``east_m`` east)."""
    utm = Transformer.from_crs(4326, 32616, always_xy=True)
    e0, n0 = utm.transform(*gen.cad_to_lonlat("C", 0.0, 0.0))
    e1, n1 = utm.transform(*gen.cad_to_lonlat("C", 0.0, 100.0))  # the drawing's +y, 100 ft
    turn = math.atan2(n1 - n0, e1 - e0) - math.pi / 2  # its counter-clockwise turn on the grid
    e0 += east_m
    doc = ezdxf.readfile(path)
    geo = doc.modelspace().new_geodata()
    geo.dxf.coordinate_type = 1
    geo.dxf.design_point = (0.0, 0.0, 0.0)
    geo.dxf.reference_point = (e0, n0, 0.0)
    geo.dxf.horizontal_unit_scale = gen.FT
    geo.dxf.north_direction = (math.sin(turn), math.cos(turn))
    geo.dxf.scale_estimation_method = 3  # grid scale at the reference point
    geo.coordinate_system_definition = _crs_xml(32616, "UTM84-16N")
    doc.saveas(path)


def test_a_building_without_control_points_is_placed_by_its_geodata(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "lr")
    manifest = tmp_path / "lr" / "campus.toml"
    text = manifest.read_text()
    head, sep, tail = text.partition('id = "C"')
    tail = re.sub(r"control_points = \[.*?\n\]\n", "", tail, count=1, flags=re.S)
    manifest.write_text(head + sep + tail)
    with pytest.raises(GeoreferenceError, match=r"building C level 0 \(C_level1\.dxf\): no "
                                                r"control_points .* no GEODATA"):
        import_campus(manifest)
    _geodata_for_building_c(tmp_path / "lr" / "C_level1.dxf")
    result = import_campus(manifest)
    said = [f for f in result.findings if f.kind is FindingKind.GEOREFERENCE
            and f.source == "C_level1.dxf"]
    assert [f.severity for f in said] == [Severity.INFO]
    assert "GEODATA" in said[0].message and "EPSG:32616" in said[0].message
    campus = result.campus
    frame = LocalFrame(campus.crs)
    c = next(b for b in campus.buildings if b.short_name == "C")
    for x, y in [(0.0, 0.0), (100.0, 0.0), (100.0, 60.0), (0.0, 60.0)]:
        corner = frame.to_local(Point(*gen.cad_to_lonlat("C", x, y)))
        assert frame.to_local(c.footprint).exterior.distance(corner) < 0.1
    assert result.georef["C_level1.dxf"].rms_m < 0.05
    # an empty list of control points (as a form may write it) is none at all
    text = manifest.read_text()
    manifest.write_text(text.replace('aliases = ["ecc"', 'control_points = []\naliases = ["ecc"'))
    assert "control_points = []" in manifest.read_text()
    again = import_campus(manifest).campus
    assert next(b for b in again.buildings if b.short_name == "C").footprint.equals(c.footprint)


def test_use_geodata_over_control_points_warns_where_they_disagree(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "lr")
    manifest = tmp_path / "lr" / "campus.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace('dxf = "C_level1.dxf"\n',
                                     'dxf = "C_level1.dxf"\nuse_geodata = true\n'))
    with pytest.raises(GeoreferenceError, match="use_geodata is set but the drawing has no "
                                                "GEODATA"):
        import_campus(manifest)
    _geodata_for_building_c(tmp_path / "lr" / "C_level1.dxf", east_m=3.0)
    result = import_campus(manifest)
    frame = LocalFrame(result.campus.crs)
    c = next(b for b in result.campus.buildings if b.short_name == "C")
    # 3 m east on the UTM grid: 1.7 degrees off true east here (9 cm over 3 m)
    for x, y in [(0.0, 0.0), (100.0, 0.0), (100.0, 60.0), (0.0, 60.0)]:
        corner = frame.to_local(Point(*gen.cad_to_lonlat("C", x, y)))
        moved = Point(corner.x + 3.0, corner.y)
        assert frame.to_local(c.footprint).exterior.distance(moved) < 0.15
    disagree = [f for f in result.findings if "GEODATA puts control point" in f.message]
    assert disagree and disagree[0].severity is Severity.WARNING
    assert "3.0 m" in disagree[0].message
