"""gridmap's room outlines against GDAL's DXF reader, on every DXF fixture in the repository.

For each ``data/samples/**/*.dxf`` and ``tests/fixtures/dxf/*.dxf`` (new fixtures are picked
up by the glob), gridmap reads the level (:func:`importers.dxf.read_floor_plan`) and GDAL
(``pyogrio``, the GDAL wheel's DXF driver, block geometries not merged, closed polylines as
polygons) reads the same file. Every closed room outline gridmap makes (label-only places
excepted) must match a closed polygon GDAL reads on the rooms, stairs or elevators layer, and
every such GDAL polygon must match a gridmap room: same area within 1 % and Hausdorff distance
within 5 cm, in metres (GDAL answers in drawing units, scaled by the drawing's unit).

Where the two legitimately differ, a rule below says why gridmap is right and *asserts* it for
each differing outline; anything no rule explains fails, naming the outline. Two rules hold
for every fixture:

* ``stairwell``: a stair or lift shaft drawn on its own layer over its room outline is one
  room in gridmap (the stairwell takes the stair's category); GDAL reads both shapes. Asserted:
  a gridmap stairs/elevator room covers the GDAL shape.
* ``vertical``: a stair or lift gridmap finds by block name (``TREPPE-2L``) or from loose tread
  lines has no closed polygon in GDAL on those layers. Asserted: GDAL reads the same shape as a
  polygon on some other layer, or its lines there span the gridmap outline.

A fixture declares its layers, unit and any expected difference in a sidecar
``NAME.layers.toml`` (``units``, ``[layers]``, ``[gdal] expect = RULE``, ``why``); without one,
the level's entry in a ``campus.toml`` beside it, else the layer proposal. Declared rules:

* ``minsert``: gridmap reads every copy of a MINSERT array; each copy GDAL lacks is congruent
  to one it has, moved by a whole number of the array's column and row spacings.
* ``walls``: no closed room outlines: gridmap recovers rooms from the wall lines; GDAL reads
  lines only. Each gridmap room must be bounded by GDAL's wall lines (80 % of its edge within
  0.3 m of one, doorways the rest) with none running through it.
* ``refused``: gridmap refuses the file on purpose (the DxfError must say ``why``'s first word).
"""

from __future__ import annotations

import math
import tomllib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.errors import DxfError
from importers.dxf import FloorPlan, Room, read_floor_plan
from importers.manifest import DrawingUnit, LayerOverrides, Layers, load_manifest

pyogrio = pytest.importorskip("pyogrio", reason="GDAL's DXF reader comes with pyogrio")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted({*ROOT.glob("data/samples/**/*.dxf"), *ROOT.glob("tests/fixtures/dxf/*.dxf")})
HAUSDORFF_M = 0.05  # gridmap flattens arcs within 2 cm; GDAL's are finer
AREA_SHARE = 0.01
#: GDAL: every entity of a block its own feature on its own layer (layer 0 takes the insert's),
#: closed polylines as polygons
GDAL_DXF_OPTIONS = {"DXF_MERGE_BLOCK_GEOMETRIES": "FALSE", "DXF_CLOSED_LINE_AS_POLYGON": "TRUE"}
VERTICAL = ("stairs", "elevator")


@dataclass(frozen=True)
class FixtureSpec:
    layers: Layers
    unit: DrawingUnit | None
    expect: str | None  # a declared rule (see the module doc)
    why: str
    declared_in: str


def fixture_spec(path: Path) -> FixtureSpec:
    """How a fixture says which layers it uses: sidecar, campus.toml, else the proposal."""
    sidecar = path.with_name(path.stem + ".layers.toml")
    if sidecar.is_file():
        data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
        gdal = data.get("gdal", {})
        return FixtureSpec(LayerOverrides(**data.get("layers", {})).apply(Layers()),
                           DrawingUnit(data["units"]) if "units" in data else None,
                           gdal.get("expect"), gdal.get("why", ""), sidecar.name)
    manifest_path = path.parent / "campus.toml"
    if manifest_path.is_file():
        manifest = load_manifest(manifest_path, check_files=False).manifest
        for building in manifest.buildings:
            for level in building.levels:
                if level.dxf == path.name:
                    return FixtureSpec(level.layers.apply(manifest.layers), level.units, None,
                                       "", f"{manifest_path.name} ({building.id}/{level.name})")
    from importers.layer_proposal import propose_from_file
    proposal = propose_from_file(path)
    return FixtureSpec(proposal.layers_config(), proposal.unit, None, "", "layer proposal")


# --- GDAL's side ------------------------------------------------------------------------------


@contextmanager
def gdal_options(options: dict[str, str]) -> Iterator[None]:
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(options))


@dataclass(frozen=True)
class GdalFeature:
    layer: str
    geometry: Any  # a shapely geometry, metres
    subclasses: str = ""  # GDAL's SubClasses field: "AcDbEntity:AcDbHatch" for a HATCH
    paper: bool = False  # in a layout (paper space)


def gdal_features(path: Path, unit_m: float) -> list[GdalFeature]:
    """Every feature GDAL reads, scaled to metres, paper space flagged."""
    with gdal_options(GDAL_DXF_OPTIONS), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL's notes on entities it skips
        frame = pyogrio.read_dataframe(path)
    n = len(frame)
    paper = [v is True or v == 1 for v in frame["PaperSpace"]] if "PaperSpace" in frame \
        else [False] * n
    kinds = [str(v) for v in frame["SubClasses"]] if "SubClasses" in frame else [""] * n
    out: list[GdalFeature] = []
    for i, (layer, geom) in enumerate(zip(frame["Layer"], frame.geometry, strict=True)):
        if geom is None or geom.is_empty:
            continue
        geom = affinity.scale(shapely.force_2d(geom), unit_m, unit_m, origin=(0, 0))
        parts = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
        out.extend(GdalFeature(str(layer), part, kinds[i], paper[i]) for part in parts)
    return out


def closed_polygon(geom: BaseGeometry) -> Polygon | None:
    """A GDAL feature as a closed outline: a polygon, or a ring drawn as a line whose ends meet
    (gridmap takes such a polyline as closed, as CAD users draw it)."""
    if isinstance(geom, Polygon):
        return geom
    if isinstance(geom, LineString) and geom.is_closed and len(geom.coords) >= 4:
        return Polygon(geom.coords)
    return None


# --- comparing --------------------------------------------------------------------------------


def same_outline(a: Polygon, b: Polygon) -> bool:
    if a.is_empty or b.is_empty:
        return False
    area = max(a.area, b.area)
    return bool(abs(a.area - b.area) <= AREA_SHARE * area
                and shapely.hausdorff_distance(a, b) <= HAUSDORFF_M)


@dataclass
class Comparison:
    fixture: str
    plan: FloorPlan
    ours: list[Room]  # gridmap's closed room outlines
    theirs: list[GdalFeature]  # GDAL's closed polygons on the rooms/stairs/elevator layers
    features: list[GdalFeature]  # everything GDAL read
    only_ours: list[Room]
    only_theirs: list[GdalFeature]
    paper: list[GdalFeature]  # what GDAL reads in layouts (paper space)


def compare(path: Path, spec: FixtureSpec) -> Comparison:
    plan = read_floor_plan(path, spec.layers, spec.unit)
    ours = [r for r in plan.rooms if not r.approximate]
    everything = gdal_features(path, plan.unit_m)
    features = [f for f in everything if not f.paper]  # model space, as gridmap reads
    read = {spec.layers.rooms.upper(), spec.layers.stairs.upper(), spec.layers.elevators.upper()}
    theirs = []
    for f in features:
        poly = closed_polygon(f.geometry) if f.layer.upper() in read else None
        if poly is not None:
            theirs.append(GdalFeature(f.layer, poly, f.subclasses))
    matched: set[int] = set()
    only_ours = []
    for room in ours:
        hit = next((i for i, t in enumerate(theirs)
                    if i not in matched and same_outline(room.polygon, t.geometry)), None)
        if hit is None:
            only_ours.append(room)
        else:
            matched.add(hit)
    only_theirs = [t for i, t in enumerate(theirs) if i not in matched]
    return Comparison(path.name, plan, ours, theirs, features, only_ours, only_theirs,
                      [f for f in everything if f.paper])


def describe(room: Room) -> str:
    c = room.polygon.centroid
    return (f"gridmap room {room.handle} {room.number or room.name or '(unlabelled)'!r} "
            f"({room.category}, {room.polygon.area:.2f} m² at {c.x:.2f}, {c.y:.2f})")


def describe_gdal(f: GdalFeature) -> str:
    c = f.geometry.centroid
    return (f"GDAL {f.geometry.geom_type} on layer {f.layer!r} ({f.geometry.area:.2f} m² at "
            f"{c.x:.2f}, {c.y:.2f})")


# --- the rules: why gridmap is right where GDAL differs ---------------------------------------


def stairwell(cmp: Comparison, spec: FixtureSpec) -> list[GdalFeature]:
    """GDAL shapes on the stairs/elevators layers that a gridmap stair/lift room covers (the
    stairwell's outline took the category); returns those it explains."""
    vertical_layers = {spec.layers.stairs.upper(), spec.layers.elevators.upper()}
    explained = []
    for f in cmp.only_theirs:
        if f.layer.upper() not in vertical_layers:
            continue
        shape = f.geometry
        if any(r.category in VERTICAL and r.polygon.intersection(shape).area
               >= 0.5 * min(r.polygon.area, shape.area) for r in cmp.ours):
            explained.append(f)
    return explained


def vertical(cmp: Comparison) -> list[Room]:
    """gridmap stairs/lifts from a block name or loose lines, which GDAL has as a polygon on
    another layer or as lines spanning the same outline; returns those it explains."""
    explained = []
    for room in cmp.only_ours:
        if room.category not in VERTICAL:
            continue
        shape = room.polygon
        polygons = [p for f in cmp.features if (p := closed_polygon(f.geometry)) is not None]
        if any(same_outline(shape, p) for p in polygons):
            explained.append(room)
            continue
        inside = [f.geometry for f in cmp.features
                  if f.geometry.geom_type in ("LineString", "MultiLineString")
                  and shape.buffer(HAUSDORFF_M).covers(f.geometry)]
        if inside:
            spans = shapely.box(*shapely.union_all(inside).bounds)
            if spans.area > 0 and shapely.hausdorff_distance(spans, shape.envelope) <= 0.5:
                explained.append(room)
    return explained


def minsert_copies(cmp: Comparison, path: Path) -> list[Room]:
    """Copies of a MINSERT array GDAL lacks: each congruent to a GDAL outline moved by whole
    column and row spacings of an array in the file (read with ezdxf, rotation applied)."""
    from ezdxf.filemanagement import readfile

    doc = readfile(path)
    unit_m = cmp.plan.unit_m
    steps = []
    inserts: list[Any] = list(doc.modelspace().query("INSERT"))
    for e in inserts:
        if int(e.mcount) > 1:
            angle = math.radians(float(e.dxf.get("rotation", 0.0)))
            col = float(e.dxf.get("column_spacing", 0.0)) * unit_m
            row = float(e.dxf.get("row_spacing", 0.0)) * unit_m
            for i in range(int(e.dxf.get("column_count", 1))):
                for j in range(int(e.dxf.get("row_count", 1))):
                    dx, dy = i * col, j * row
                    steps.append((dx * math.cos(angle) - dy * math.sin(angle),
                                  dx * math.sin(angle) + dy * math.cos(angle)))
    explained = []
    for room in cmp.only_ours:
        for t in cmp.theirs:
            if any(same_outline(room.polygon, affinity.translate(t.geometry, sx * dx, sx * dy))
                   for dx, dy in steps for sx in (1, -1)):
                explained.append(room)
                break
    return explained


def array_copies(path: Path) -> int:
    """How many copies the MINSERT arrays of the file's model space place (ezdxf)."""
    from ezdxf.filemanagement import readfile

    inserts: list[Any] = list(readfile(path).modelspace().query("INSERT"))
    return sum(int(e.mcount) for e in inserts if int(e.mcount) > 1)


def wall_bounded(cmp: Comparison, spec: FixtureSpec) -> list[Room]:
    """Rooms recovered from walls: each bounded by GDAL's wall lines (and the outline): most
    of its edge (80 %; the rest are doorways bridged) within 0.3 m of one, and no wall line
    running through its inside."""
    layers = {spec.layers.walls.upper(), spec.layers.outline.upper()}
    walls = shapely.union_all([f.geometry.boundary if isinstance(f.geometry, Polygon)
                               else f.geometry for f in cmp.features
                               if f.layer.upper() in layers])
    near = walls.buffer(0.3)
    explained = []
    for room in cmp.only_ours:
        edge = room.polygon.exterior
        inside = room.polygon.buffer(-0.3)
        if (edge.intersection(near).length >= 0.8 * edge.length
                and walls.intersection(inside).length <= 0.05 * edge.length):
            explained.append(room)
    return explained


# --- the tests --------------------------------------------------------------------------------


def _rule_failure(cmp: Comparison, spec: FixtureSpec, rooms: list[Room],
                  shapes: list[GdalFeature]) -> str:
    lines = [f"{cmp.fixture} (layers from {spec.declared_in}): gridmap and GDAL differ and no "
             "rule explains it:"]
    lines += [f"  only in gridmap: {describe(r)}" for r in rooms]
    lines += [f"  only in GDAL:    {describe_gdal(f)}" for f in shapes]
    lines.append("If gridmap is right, add a rule in tests/test_dxf_gdal_differential.py that "
                 "asserts why, and name it in the fixture's sidecar NAME.layers.toml "
                 "([gdal] expect = RULE, why = ...).")
    return "\n".join(lines)


def hatch_rooms(cmp: Comparison, spec: FixtureSpec, path: Path) -> list[Room]:
    """HATCH boundaries as rooms: GDAL reads a hatch as polygons too (arcs, islands as holes,
    two areas as two), so they must agree exactly: asserted that GDAL's hatches are there."""
    hatches = [t for t in cmp.theirs if "AcDbHatch" in t.subclasses]
    assert hatches, f"{cmp.fixture}: declared 'hatch' but GDAL reads no hatch room outline"
    assert any(list(t.geometry.interiors) for t in hatches) == any(
        list(r.polygon.interiors) for r in cmp.ours), f"{cmp.fixture}: islands differ"
    return []


def paper_space(cmp: Comparison, spec: FixtureSpec, path: Path) -> list[Room]:
    """Outlines in a layout are a sheet, not rooms: gridmap reads model space only, and GDAL
    reads model space and flags the active layout's entities PaperSpace (other layouts it does
    not read). Asserted: the file's layouts hold closed outlines (read with ezdxf, or flagged
    by GDAL) and no gridmap room is one of them."""
    from ezdxf.filemanagement import readfile

    unit_m = cmp.plan.unit_m
    sheet = [p for f in cmp.paper if (p := closed_polygon(f.geometry)) is not None]
    for layout in readfile(path).layouts:
        if layout.name != "Model":
            outlines: list[Any] = list(layout.query("LWPOLYLINE"))
            sheet += [affinity.scale(Polygon([(x, y) for x, y in e.get_points("xy")]),
                                     unit_m, unit_m, origin=(0, 0))
                      for e in outlines if e.closed and len(e) >= 3]
    assert sheet, f"{cmp.fixture}: declared 'paperspace' but no layout holds an outline"
    for p in sheet:
        assert not any(same_outline(r.polygon, p) for r in cmp.ours), (
            f"{cmp.fixture}: a paper-space outline became a room")
    return []


def stairs_and_lifts(cmp: Comparison, spec: FixtureSpec, path: Path) -> list[Room]:
    """Stairs and lifts from their layers and from blocks named for them: the two general
    rules explain each difference; asserted here that gridmap found both kinds."""
    kinds = {r.category for r in cmp.ours}
    assert set(VERTICAL) <= kinds, f"{cmp.fixture}: stairs and lifts expected, found {kinds}"
    return []


RULES: dict[str, Callable[[Comparison, FixtureSpec, Path], list[Room]]] = {
    "minsert": lambda cmp, spec, path: minsert_copies(cmp, path),
    "walls": lambda cmp, spec, path: wall_bounded(cmp, spec),
    "hatch": hatch_rooms,
    "paperspace": paper_space,
    "vertical": stairs_and_lifts,
}


def test_every_fixture_is_found_and_every_declared_rule_exists() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in FIXTURES}
    assert any(n.startswith("data/samples/") for n in names), "no sample DXFs found"
    for path in FIXTURES:
        expect = fixture_spec(path).expect
        assert expect in (None, "refused", *RULES), (
            f"{path.name} declares [gdal] expect = {expect!r}, which no rule in this test "
            f"implements (known: refused, {', '.join(RULES)})")


#: fixtures whose feature gridmap does not have yet: the test runs and is expected to fail
PENDING: dict[str, str] = {}  # name -> why (e.g. "rooms from walls not read yet")


def _params() -> list[Any]:
    return [pytest.param(p, marks=pytest.mark.xfail(reason=PENDING[p.name]))
            if p.name in PENDING else p for p in FIXTURES]


@pytest.mark.parametrize("path", _params(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_room_outlines_agree_with_gdal(path: Path) -> None:
    spec = fixture_spec(path)
    if spec.expect == "refused":
        with pytest.raises(DxfError) as refused:
            read_floor_plan(path, spec.layers, spec.unit)
        assert spec.why.split()[0].lower() in str(refused.value).lower(), (
            f"{path.name}: refused, but not for the declared reason {spec.why!r}: "
            f"{refused.value}")
        return
    try:
        cmp = compare(path, spec)
    except DxfError as exc:
        pytest.fail(f"{path.name} (layers from {spec.declared_in}): gridmap cannot read a "
                    f"fixture GDAL reads: {exc}. If that is right, declare [gdal] expect = "
                    "\"refused\" with why in its sidecar")
    assert cmp.ours or cmp.theirs, f"{path.name}: neither reader found a room outline"
    in_stairwells = {id(f) for f in stairwell(cmp, spec)}
    shapes = [f for f in cmp.only_theirs if id(f) not in in_stairwells]
    from_blocks_or_lines = {id(r) for r in vertical(cmp)}
    rooms = [r for r in cmp.only_ours if id(r) not in from_blocks_or_lines]
    if spec.expect in RULES:
        explained = {id(r) for r in RULES[spec.expect](cmp, spec, path)}
        rooms = [r for r in rooms if id(r) not in explained]
        if spec.expect == "walls":  # GDAL has lines only: nothing closed on the rooms layer
            assert not [t for t in cmp.theirs if t.layer.upper() == spec.layers.rooms.upper()]
            assert cmp.ours, f"{path.name}: no rooms recovered from the walls"
        if spec.expect == "minsert":  # every copy of every array is a room in gridmap
            assert len(cmp.ours) >= max(len(cmp.theirs), array_copies(path)) > 1 \
                and not shapes
    assert not rooms and not shapes, _rule_failure(cmp, spec, rooms, shapes)


def _polygon(*pts: tuple[float, float]) -> Polygon:
    return Polygon(pts)


def test_the_outline_match_is_tight() -> None:
    """The tolerance the comparison uses: a room moved 10 cm or grown 2 % is another room."""
    room = _polygon((0, 0), (8, 0), (8, 7), (0, 7))
    assert same_outline(room, _polygon((0, 0), (8, 0), (8, 7.02), (0, 7.02)))  # 2 cm
    assert not same_outline(room, affinity.translate(room, 0.1, 0))
    assert not same_outline(room, affinity.scale(room, 1.02, 1.0, origin=(0, 0)))
    assert not same_outline(room, Polygon())
    assert isinstance(closed_polygon(LineString([(0, 0), (1, 0), (1, 1), (0, 0)])), Polygon)
    assert closed_polygon(LineString([(0, 0), (1, 0), (1, 1)])) is None
    assert not isinstance(closed_polygon(MultiPolygon([room])), Polygon)


def test_a_missing_array_copy_is_explained_and_a_moved_room_is_not(tmp_path: Path) -> None:
    """The rule machinery itself: GDAL made to miss two copies of a MINSERT (as GDAL releases
    before arrays were read did): the minsert rule explains both; a room moved off the array's
    grid is explained by no rule, and the failure names it."""
    from ezdxf.filemanagement import new

    doc = new("R2010")
    doc.header["$INSUNITS"] = 6
    block = doc.blocks.new("CLASSROOM")
    block.add_lwpolyline([(0, 0), (8, 0), (8, 7), (0, 7)], close=True,
                         dxfattribs={"layer": "A-AREA"})
    block.add_text("101", height=0.25, dxfattribs={"layer": "A-AREA-IDEN", "insert": (3, 3)})
    doc.modelspace().add_blockref("CLASSROOM", (0, 0)).grid(size=(1, 3), spacing=(0, 9))
    path = tmp_path / "array.dxf"
    doc.saveas(path)
    spec = FixtureSpec(Layers(), None, "minsert", "", "test")
    cmp = compare(path, spec)
    assert len(cmp.ours) == len(cmp.theirs) == array_copies(path) == 3 and not cmp.only_ours
    cmp.theirs = cmp.theirs[:1]  # GDAL reading the first copy only
    cmp.only_ours = [r for r in cmp.ours if r.polygon.bounds[0] > 1]
    assert len(minsert_copies(cmp, path)) == 2
    moved = Room("X", affinity.translate(cmp.ours[0].polygon, 4.5, 0), "999")
    cmp.only_ours.append(moved)
    assert minsert_copies(cmp, path) == cmp.only_ours[:2]
    message = _rule_failure(cmp, spec, [moved], [])
    assert "no rule explains" in message and "gridmap room X '999'" in message


def test_the_walls_rule_explains_rooms_between_walls_only() -> None:
    """Rooms recovered from walls are explained by GDAL's wall lines; the same rooms moved off
    them (or stretched across them) are not."""
    path = ROOT / "tests/fixtures/dxf/scheme_walls_only_m.dxf"
    if not path.is_file():
        pytest.skip("the walls-only scheme fixture is not in this checkout")
    spec = fixture_spec(path)
    cmp = compare(path, spec)
    assert cmp.only_ours and len(wall_bounded(cmp, spec)) == len(cmp.only_ours)
    rooms = cmp.only_ours
    cmp.only_ours = [Room(r.handle, affinity.translate(r.polygon, 2.0, 1.5)) for r in rooms]
    assert wall_bounded(cmp, spec) == []
    cmp.only_ours = [Room(r.handle, affinity.scale(r.polygon, 2.0, 1.0)) for r in rooms]
    assert wall_bounded(cmp, spec) == []


def test_a_fixture_without_a_sidecar_takes_the_layer_proposal(tmp_path: Path) -> None:
    """A new fixture dropped in without NAME.layers.toml is still compared: on the layers
    the proposal finds (here the same as the sidecar it was written with)."""
    source = ROOT / "tests/fixtures/dxf/scheme_fr_cm.dxf"
    if not source.is_file():
        pytest.skip("the French scheme fixture is not in this checkout")
    copy = tmp_path / source.name
    copy.write_bytes(source.read_bytes())
    proposed, declared = fixture_spec(copy), fixture_spec(source)
    assert proposed.declared_in == "layer proposal"
    assert (proposed.layers.rooms, proposed.layers.labels) == (
        declared.layers.rooms, declared.layers.labels)
    cmp = compare(copy, proposed)
    assert cmp.ours and not cmp.only_ours
