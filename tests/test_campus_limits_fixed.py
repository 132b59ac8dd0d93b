"""Issue 8's campus import limitations, each shown fixed on a copy of the Lincoln Ridge sample.

* a bad georeference passed: a point off by 1.1 m under a sub-metre RMS, a 3.4 % stretch,
  lon/lat typed the wrong way round;
* a parcel file was mandatory, even for one drawing;
* rooms outside the facade outline were accepted silently, and ``/locate`` inside them named
  no building;
* the import's problems were lines of text, not data placed on the map.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import ezdxf
import pytest
from shapely.geometry import Point

from api.publish import check_servable
from gridmap.crs import LocalFrame
from gridmap.errors import GeoreferenceError, ManifestError
from gridmap.index import CampusIndex
from importers.campus import import_campus
from importers.findings import FindingKind, Severity
from tests.sample_scripts import load_script

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"

gen = load_script("make_sample_campus")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "lr")
    return tmp_path / "lr" / "campus.toml"


def _set_point(manifest: Path, building: str, corner: str, lonlat: tuple[float, float]) -> None:
    """Give ``building``'s control point named ``corner`` a new lon/lat."""
    text = manifest.read_text()
    start = text.index(f'id = "{building}"')
    pattern = re.compile(rf'(name = "{corner}", cad = \[[^\]]*\], lonlat = )\[[^\]]*\]')
    m = pattern.search(text, start)
    assert m is not None
    text = text[:m.start()] + f"{m.group(1)}[{lonlat[0]:.9f}, {lonlat[1]:.9f}]" + text[m.end():]
    manifest.write_text(text)


CORNERS = {"SW corner": (0.0, 0.0), "SE corner": (320.0, 0.0), "NE corner": (320.0, 130.0),
           "NW corner": (0.0, 130.0)}


def _off(corner: str, east_m: float, north_m: float) -> tuple[float, float]:
    """Where building A's ``corner`` really is, moved on the ground."""
    x, y = gen.cad_to_local("A", *CORNERS[corner])
    lon, lat = gen.FRAME.lonlat(x + east_m, y + north_m)
    return float(lon), float(lat)


# --- georeference -----------------------------------------------------------------------------


def test_a_point_off_by_1_1_m_is_refused_by_name(copy: Path) -> None:
    _set_point(copy, "A", "NE corner", _off("NE corner", 0.66, 0.88))
    with pytest.raises(GeoreferenceError) as err:
        import_campus(copy)
    msg = str(err.value)
    assert "building A level 0 (A_level1.dxf)" in msg
    assert "Point NE corner is 1.1 m from where the other points put it" in msg


def test_a_point_off_by_0_7_m_imports_with_a_finding_on_that_point(copy: Path) -> None:
    moved = _off("NE corner", 0.7, 0.0)
    _set_point(copy, "A", "NE corner", moved)
    result = import_campus(copy)
    found = [f for f in result.findings if f.kind is FindingKind.GEOREFERENCE
             and f.ref == "NE corner"]
    assert {f.source for f in found} == {"A_level1.dxf", "A_level2.dxf"}
    assert all(f.severity is Severity.WARNING and f.at == pytest.approx(moved) for f in found)
    assert any("NE corner is 0.7 m" in w for w in result.warnings)
    # the residual of every control point is kept with the import
    points = {p.name: p for p in result.georef["A_level1.dxf"].points}
    assert set(points) == set(CORNERS)
    assert points["NE corner"].leave_one_out_m == pytest.approx(0.7, abs=0.05)
    assert points["SW corner"].residual_m < points["NE corner"].residual_m


def test_a_stretch_of_3_4_percent_is_refused_unless_allowed(copy: Path) -> None:
    for corner, (x, y) in CORNERS.items():  # the drawing's x axis 3.4 % too long on the ground
        lx, ly = gen.cad_to_local("A", x * 1.034, y)
        _set_point(copy, "A", corner, gen.FRAME.lonlat(lx, ly))
    text = copy.read_text().replace('transform = "similarity"', 'transform = "affine"')
    copy.write_text(text)
    with pytest.raises(GeoreferenceError, match=r"stretch the drawing 3\.4%.*max_stretch"):
        import_campus(copy)
    copy.write_text(text.replace("max_rms_m = 1.0", "max_rms_m = 1.0\nmax_stretch = 0.05"))
    result = import_campus(copy)
    stretched = [f for f in result.findings if "stretch the drawing 3.4%" in f.message]
    assert stretched and all(f.severity is Severity.WARNING for f in stretched)
    assert result.georef["A_level1.dxf"].stretch == pytest.approx(0.034, abs=2e-3)


def test_lon_lat_typed_the_wrong_way_round_say_so(copy: Path) -> None:
    for corner in CORNERS:
        lon, lat = _off(corner, 0.0, 0.0)
        _set_point(copy, "A", corner, (lat, lon))
    with pytest.raises(GeoreferenceError, match="latitude, longitude"):
        import_campus(copy)


def test_a_lat_beyond_90_names_the_swap_in_the_manifest(copy: Path) -> None:
    text = copy.read_text()
    text = text.replace("lonlat = [-84.4307323, 42.6999100]", "lonlat = [42.6999100, -84.4307323]",
                        1)
    copy.write_text(text.replace("[-84.4295419, 42.6999100]", "[42.6999100, -94.4295419]", 1))
    with pytest.raises(ManifestError, match="looks like latitude, longitude"):
        import_campus(copy)


# --- the parcel is optional -------------------------------------------------------------------


def test_one_drawing_and_no_parcel_imports_and_serves(copy: Path) -> None:
    text = copy.read_text()
    text = re.sub(r'parcel = "parcel.geojson"\ngrounds = "grounds.geojson"\npois = "pois.csv"\n',
                  "", text)
    # building A's ground floor alone: one drawing
    copy.write_text(text[:text.index('[[buildings.levels]]\nordinal = 1')])
    (copy.parent / "parcel.geojson").unlink()
    result = import_campus(copy)
    campus = result.campus
    assert campus.parcel is None and len(campus.buildings) == len(campus.levels) == 1
    # the grid covers the building with room to spare around it
    frame = LocalFrame(campus.crs)
    fp = frame.to_local(campus.buildings[0].footprint)
    g = campus.grid
    size = g.cell_size * g.unit.metres
    assert g.origin_x < fp.bounds[0] - 20 and g.origin_y > fp.bounds[3] + 20
    assert g.origin_x + g.columns * size > fp.bounds[2] + 20
    assert g.origin_y - g.rows * size < fp.bounds[1] - 20
    # everything the service does with a campus works without one (lookup, tile, grid, ...)
    assert check_servable(campus)
    here = campus.units[0].geometry.representative_point()
    found = CampusIndex(campus).locate(here.x, here.y)
    assert found is not None and found["inside_parcel"] is False
    assert found["building"]["short_name"] == "A"


def test_without_a_parcel_the_grid_still_holds_every_point_of_interest(copy: Path) -> None:
    copy.write_text(copy.read_text().replace('parcel = "parcel.geojson"\n', ""))
    campus = import_campus(copy).campus
    assert campus.parcel is None and campus.amenities
    index = CampusIndex(campus)
    for a in campus.amenities:  # a rally point out on the field too
        assert index.locate(a.geometry.x, a.geometry.y) is not None, a.name


def test_a_manifest_with_nothing_to_import_is_refused(copy: Path) -> None:
    text = copy.read_text()
    copy.write_text(text[:text.index("[[buildings]]")])
    with pytest.raises(ManifestError, match=r"no \[\[buildings\]\] and no files\.osm"):
        import_campus(copy)


# --- rooms outside the facade -----------------------------------------------------------------


def _room_outside_c(manifest: Path) -> tuple[float, float]:
    """Draw room C-9 east of building C's outline (100 x 60 ft); its centre in lon/lat."""
    path = manifest.parent / "C_level1.dxf"
    doc = ezdxf.readfile(path)
    msp = doc.modelspace()
    msp.add_lwpolyline([(104, 10), (124, 10), (124, 40), (104, 40)], close=True,
                       dxfattribs={"layer": "A-AREA"})
    msp.add_text("C-9", height=1.5, dxfattribs={"layer": "A-AREA-IDEN", "insert": (112, 25)})
    doc.saveas(path)
    lon, lat = gen.cad_to_lonlat("C", 114.0, 25.0)
    return float(lon), float(lat)


def test_a_room_outside_the_facade_is_reported_and_located_in_its_building(copy: Path) -> None:
    centre = _room_outside_c(copy)
    result = import_campus(copy)
    campus = result.campus
    outside = [f for f in result.findings if f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT]
    assert len(outside) == 1 and outside[0].source == "C_level1.dxf"
    assert outside[0].placed_on_earth and outside[0].at is not None
    frame = LocalFrame(campus.crs)
    room = next(u for u in campus.units if u.number == "C-9")
    assert frame.to_local(room.geometry).contains(frame.to_local(Point(*outside[0].at)))
    assert any("C-9" in w and "outside" in w for w in result.warnings)
    c = next(b for b in campus.buildings if b.short_name == "C")
    assert not c.footprint.contains(Point(*centre))  # the facade stays as drawn...
    found = CampusIndex(campus).locate(*centre)
    assert found is not None
    assert found["building"]["short_name"] == "C"  # ...and /locate names the building
    assert [u["number"] for u in found["units"]] == ["C-9"]


# --- the findings, placed -----------------------------------------------------------------------


def test_findings_are_placed_on_the_earth_near_the_campus(copy: Path) -> None:
    _set_point(copy, "A", "NE corner", _off("NE corner", 0.7, 0.0))
    _room_outside_c(copy)
    result = import_campus(copy)
    assert result.findings
    frame = LocalFrame(result.campus.crs)
    for f in result.findings:
        assert f.placed_on_earth
        if f.at is not None:
            x, y = frame.xy(*f.at)
            assert math.hypot(x, y) < 1000, f
        assert f.to_dict()["on_earth"] is True


def test_progress_is_reported_in_order_up_to_door_numbering(copy: Path) -> None:
    seen: list[tuple[int, str]] = []
    import_campus(copy, progress=lambda pct, msg: seen.append((pct, msg)))
    percents = [p for p, _ in seen]
    assert percents == sorted(percents) and percents[0] >= 0 and percents[-1] <= 100
    assert [m for _, m in seen if m.startswith("reading ") and ".dxf" in m] == [
        "reading A_level1.dxf (building A level 0, 1 of 4)",
        "reading A_level2.dxf (building A level 1, 2 of 4)",
        "reading B_level1.dxf (building B level 0, 3 of 4)",
        "reading C_level1.dxf (building C level 0, 4 of 4)"]
    assert seen[-1] == (95, "numbering the exterior doors")


# --- OpenStreetMap indoor files and IMDF archives through the manifest --------------------------

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize(("key", "fixture"), [("osm", FIXTURES / "osm" / "school.osm"),
                                              ("imdf", FIXTURES / "imdf" / "school.zip")])
def test_a_campus_from_an_indoor_file_alone(tmp_path: Path, key: str, fixture: Path) -> None:
    from importers.imdf import read_imdf
    from importers.limits import ImportLimits
    from importers.osm_indoor import read_osm_indoor

    shutil.copy(fixture, tmp_path / fixture.name)
    manifest = tmp_path / "campus.toml"
    manifest.write_text('[campus]\nid = "school"\nname = "School"\n\n[grid]\ncell_size = 50\n\n'
                        f'[files]\n{key} = "{fixture.name}"\n')
    result = import_campus(manifest)
    read = read_osm_indoor if key == "osm" else read_imdf
    alone = read(fixture, "school", ImportLimits())
    campus = result.campus
    assert {b.id for b in campus.buildings} == {b.id for b in alone.buildings}
    assert {u.id for u in campus.units} == {u.id for u in alone.units}
    assert {o.id for o in campus.openings} == {o.id for o in alone.openings}
    assert campus.address == (alone.address or "")
    painted = {o.id: o.number for o in alone.openings if o.exterior and o.number}
    assert painted  # the numbers painted on the doors, as the file gives them, are kept
    assert {o.id: o.number for o in campus.openings if o.id in painted} == painted
    assert alone.findings  # the fixtures hold a thing or two the importer remarks on
    assert {f.message for f in alone.findings} <= {f.message for f in result.findings}
    assert check_servable(campus)
    for u in campus.units:  # every room is on the grid
        c = u.geometry.representative_point()
        assert CampusIndex(campus).locate(c.x, c.y) is not None, u.number


def test_an_indoor_file_beside_floor_plans(copy: Path) -> None:
    shutil.copy(FIXTURES / "osm" / "school.osm", copy.parent / "school.osm")
    text = copy.read_text().replace('pois = "pois.csv"\n', 'osm = "school.osm"\n')
    copy.write_text(text)
    with pytest.raises(ManifestError, match=r"building A is in school\.osm and also in "
                                            r"\[\[buildings\]\]"):
        import_campus(copy)
    # building C from its drawing, the rest from the OpenStreetMap file
    head = text[:text.index("[[buildings]]")]
    copy.write_text(head + text[text.index('[[buildings]]\nid = "C"'):])
    campus = import_campus(copy).campus
    assert sorted(b.short_name for b in campus.buildings) == ["A", "B", "C"]
    assert check_servable(campus)
