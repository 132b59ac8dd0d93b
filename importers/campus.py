"""Import a whole campus from its manifest: floor plans, georeference, parcel, grounds, POIs.

    result = import_campus(Path("campus.toml"), previous=stored_campus_or_None)
    result.campus      # gridmap.model.Campus, WGS84 geometries, exterior doors numbered
    result.warnings    # non-fatal problems, each naming file / layer / entity
    result.findings    # the same and more as data (importers.findings), placed in lon/lat
    result.residuals   # RMS control-point residual per drawing, metres
    result.georef      # each drawing's fit diagnosis: residual per control point, advice

Errors raise :class:`gridmap.errors.ImportFailed` subclasses; nothing is half-imported.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shapely.errors import GEOSException
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.doors import number_exterior_doors, numbering_changes
from gridmap.errors import GeoreferenceError, InvalidModel, ManifestError
from gridmap.model import (
    Amenity,
    Building,
    Campus,
    GridSpec,
    GroundsFeature,
    Level,
    Opening,
    Unit,
    stable_id,
)
from importers.dxf import FloorPlan, largest_polygon, read_floor_plan
from importers.findings import Finding, FindingKind, Severity
from importers.geodata import GeodataPlacement
from importers.georef import (
    POINT_WARN_M,
    Fit,
    FitDiagnosis,
    campus_frame,
    diagnose_fit,
    georeference,
    judge_fit,
)
from importers.indoor import IndoorImport, local_frame_around
from importers.limits import ImportLimits, WorkBudget
from importers.manifest import (
    BuildingSpec,
    ControlPoint,
    LevelSpec,
    LoadedManifest,
    TransformKind,
    load_manifest,
)
from importers.parcels import read_grounds, read_parcel
from importers.pois import read_poi_rows, to_amenities

MAIN_ENTRANCE_WARN_M = 5.0
#: without a parcel, the site (and the grid) reaches this far around the buildings
SITE_MARGIN_M = 25.0
#: a room reaching further than this outside its building's footprint is reported
OUTSIDE_FOOTPRINT_M = 0.5

#: how an import reports its progress: percent of the whole import (0-100), what it is doing
Progress = Callable[[int, str], None]


@dataclass
class ImportResult:
    campus: Campus
    warnings: list[str] = field(default_factory=list)
    residuals: dict[str, float] = field(default_factory=dict)
    #: how each building's nearby answers are measured, one line each; filled by the check
    #: that runs before the campus is published (it builds the walking networks anyway)
    nearby_distances: list[str] = field(default_factory=list)
    #: what the import noticed, as data for the report page (``at`` in lon/lat)
    findings: list[Finding] = field(default_factory=list)
    #: each drawing's fit (by its name as the manifest writes it): the residual of every
    #: control point, leave-one-out residuals, scale, stretch, advice
    georef: dict[str, FitDiagnosis] = field(default_factory=dict)

    def warn(self, finding: Finding) -> None:
        """Record a finding; a warning is also kept as a line for the CLI."""
        self.findings.append(finding)
        if finding.severity is not Severity.INFO:
            self.warnings.append(finding.message)


@dataclass
class _LevelResult:
    dxf: str  # as the manifest writes it
    level: Level
    plan: FloorPlan
    fit: Fit
    footprint_local: Polygon


@dataclass
class _LevelSource:
    """A level's floor plan, read, and the control points that will place it."""

    bi: int
    li: int
    spec: BuildingSpec
    lv: LevelSpec
    plan: FloorPlan
    points: tuple[ControlPoint, ...]
    geodata: GeodataPlacement | None
    #: the manifest's control points when the GEODATA places the level instead
    manual: tuple[ControlPoint, ...] = ()


def _unit_key(number: str, name: str, handle: str) -> str:
    return number or name or f"handle:{handle}"


def _what(spec: BuildingSpec, lv: LevelSpec) -> str:
    return f"building {spec.id} level {lv.ordinal} ({lv.dxf})"


def _read_level(
    lm: LoadedManifest, bi: int, li: int, spec: BuildingSpec, result: ImportResult,
    budget: WorkBudget | None = None,
) -> _LevelSource:
    """Read one level's DXF (its warnings go to result) and find what places it: the
    manifest's control points, else the drawing's GEODATA object."""
    m = lm.manifest
    lv = spec.levels[li]
    path = lm.resolve(lv.dxf, f"buildings[{bi}].levels[{li}].dxf")
    plan = read_floor_plan(
        path, lv.layers.apply(m.layers), lv.units,
        exterior_distance_m=m.doors.exterior_distance_m, budget=budget,
    )
    result.warnings.extend(plan.warnings)
    points = spec.control_points_for(lv)
    if lv.use_geodata or not points:  # none given (or an empty list): the GEODATA places it
        geodata = _plan_geodata(plan)
        if geodata is None:
            raise GeoreferenceError(
                f"{_what(spec, lv)}: "
                + ("use_geodata is set but the drawing has no GEODATA object"
                   if lv.use_geodata else
                   "no control_points (give them on the building or on the level) and the "
                   "drawing has no GEODATA object to place it by"))
        result.warn(Finding(FindingKind.GEOREFERENCE, geodata.description, Severity.INFO,
                            source=lv.dxf, building=spec.id, level=lv.short_name,
                            action="placed by the drawing's GEODATA"))
        return _LevelSource(bi, li, spec, lv, plan, geodata.control_points, geodata, points)
    return _LevelSource(bi, li, spec, lv, plan, points, None)


def _plan_geodata(plan: FloorPlan) -> GeodataPlacement | None:
    """The drawing's GEODATA placement as the floor plan reader found it (None: it has
    none); one that cannot be used is refused, naming why."""
    if plan.geodata_error:
        raise GeoreferenceError(plan.geodata_error)
    return plan.geodata


def _place_level(lm: LoadedManifest, src: _LevelSource, frame: LocalFrame,
                 result: ImportResult) -> _LevelResult:
    """Fit the level's control points, judge the fit (refused: GeoreferenceError with the
    diagnosis's advice) and record its residuals, findings and the plan's findings."""
    m = lm.manifest
    spec, lv, plan = src.spec, src.lv, src.plan
    kind = lv.transform or m.georef.transform
    what = _what(spec, lv)
    try:
        fit = georeference(
            src.points, plan.unit_m, frame, kind, max_rms_m=m.georef.max_rms_m,
            max_scale_deviation=m.georef.max_scale_deviation, what=what,
        )
    except GeoreferenceError as exc:
        raise GeoreferenceError(_with_advice(str(exc), src.points, kind, plan.unit_m, frame)
                                ) from exc
    diagnosis = diagnose_fit(src.points, kind, unit_m=plan.unit_m, frame=frame)
    result.georef[lv.dxf] = diagnosis
    verdict = judge_fit(diagnosis, what=what, source=lv.dxf, max_point_m=m.georef.max_rms_m,
                        max_stretch=m.georef.max_stretch,
                        max_shear_deg=m.georef.max_shear_deg,
                        max_scale_deviation=m.georef.max_scale_deviation)
    refused = [f for f in verdict if f.severity is Severity.ERROR]
    if refused:
        raise GeoreferenceError("; ".join(f.message for f in refused))
    for f in verdict:
        result.warn(dataclasses.replace(f, building=spec.id, level=lv.short_name))
    _geodata_against_points(src, fit, frame, result)
    result.residuals[lv.dxf] = fit.rms
    cid = m.campus.id
    level = Level(stable_id(cid, spec.id, lv.ordinal), stable_id(cid, spec.id), lv.ordinal,
                  lv.name, lv.short_name)

    def to_lonlat(x: float, y: float) -> tuple[float, float]:
        return frame.lonlat(*fit.point(x, y))

    for f in plan.findings:
        result.findings.append(f.placed(to_lonlat, building=spec.id, level=lv.short_name))
    return _LevelResult(lv.dxf, level, plan, fit, fit.apply(plan.footprint))


def _geodata_against_points(src: _LevelSource, fit: Fit, frame: LocalFrame,
                            result: ImportResult) -> None:
    """A level placed by its GEODATA that has control points too: a warning where they
    disagree (a GEODATA object left over from another site, or points typed wrong)."""
    if not src.manual:
        return
    apart = [
        (math.dist(fit.point(p.cad[0] * src.plan.unit_m, p.cad[1] * src.plan.unit_m),
                   frame.xy(*p.lonlat)), k, p)
        for k, p in enumerate(src.manual)]
    dist, k, worst = max(apart, key=lambda t: t[0])
    if dist <= POINT_WARN_M:
        return
    name = worst.name or f"#{k + 1}"
    result.warn(Finding(
        FindingKind.GEOREFERENCE,
        f"{_what(src.spec, src.lv)}: the drawing's GEODATA puts control point {name} "
        f"{dist:.1f} m from where the manifest says it is; check which is right",
        source=src.lv.dxf, at=worst.lonlat, ref=name, placed_on_earth=True,
        building=src.spec.id, level=src.lv.short_name, action="placed by the GEODATA"))


def _with_advice(message: str, points: Sequence[ControlPoint], kind: TransformKind,
                 unit_m: float, frame: LocalFrame) -> str:
    """A refused fit's message, with what the diagnosis advises (if the points can be
    diagnosed at all)."""
    try:
        advice = diagnose_fit(points, kind, unit_m=unit_m, frame=frame).advice
    except GeoreferenceError:
        return message
    return " ".join([message, *advice]) if advice else message


def _level_units(
    cid: str, spec: BuildingSpec, lr: _LevelResult, frame: LocalFrame, result: ImportResult,
) -> list[Unit]:
    """The level's rooms as units; a repeated number or name gets a ``#2`` key and a warning.

    Labels outside every room outline that belong to no room become approximate units (their
    text's box as geometry), keyed like rooms so a later outline keeps the id.
    """
    units: list[Unit] = []
    seen: dict[str, int] = {}
    for room in [*lr.plan.rooms, *lr.plan.label_only]:
        key = _unit_key(room.number, room.name, room.handle)
        seen[key] = seen.get(key, 0) + 1
        geometry = frame.to_wgs84(lr.fit.apply(room.polygon))
        if seen[key] > 1:
            if room.number:
                where = geometry.representative_point()
                result.warn(Finding(
                    FindingKind.DUPLICATE_NUMBER,
                    f"{lr.dxf}: room number {room.number!r} appears more than once "
                    f"(outline {room.handle})", source=lr.dxf, at=(where.x, where.y),
                    ref=room.handle, action=f"kept as {room.number}#{seen[key]}",
                    building=spec.id, level=lr.level.short_name, placed_on_earth=True))
            key = f"{key}#{seen[key]}"
        units.append(Unit(
            id=stable_id(cid, spec.id, lr.level.ordinal, key),
            building_id=lr.level.building_id, level_id=lr.level.id,
            number=room.number, name=room.name or room.number,
            geometry=geometry, category=room.category, approximate=room.approximate,
        ))
    return units


def _rooms_outside(spec: BuildingSpec, lr: _LevelResult, footprint: Polygon,
                   frame: LocalFrame, result: ImportResult) -> None:
    """A ROOM_OUTSIDE_FOOTPRINT finding for each room reaching out of the building's
    footprint (local metres), unless the floor plan reported that room already."""
    told = {f.ref for f in lr.plan.findings
            if f.kind is FindingKind.ROOM_OUTSIDE_FOOTPRINT}
    inside = footprint.buffer(OUTSIDE_FOOTPRINT_M)
    for room in lr.plan.rooms:
        if room.handle in told or (room.number and room.number in told):
            continue
        placed = lr.fit.apply(room.polygon)
        try:
            if inside.covers(placed):
                continue
            out = placed.difference(footprint)
        except GEOSException:  # an outline GEOS cannot compare: the plan reported it
            continue
        if out.is_empty:
            continue
        where = frame.lonlat(*out.representative_point().coords[0])
        label = f"room {room.number}" if room.number else f"room outline {room.handle}"
        result.warn(Finding(
            FindingKind.ROOM_OUTSIDE_FOOTPRINT,
            f"{lr.dxf}: {label} reaches {out.area:.0f} m\u00b2 outside the building's "
            "outline (facade); check the outline layer, or the room's level", source=lr.dxf,
            at=where, ref=room.handle, action="kept; /locate names the room's building there",
            building=spec.id, level=lr.level.short_name, placed_on_earth=True))


def _level_openings(
    cid: str, spec: BuildingSpec, lr: _LevelResult, frame: LocalFrame
) -> list[Opening]:
    return [
        Opening(
            id=stable_id(cid, spec.id, lr.level.ordinal, "opening", door.handle),
            building_id=lr.level.building_id, level_id=lr.level.id,
            geometry=frame.to_wgs84(lr.fit.apply(door.point)), exterior=door.exterior,
        )
        for door in lr.plan.doors
    ]


def _building_footprint(spec: BuildingSpec, levels: list[_LevelResult]) -> Polygon:
    """The union of the levels' footprints (local metres), without courtyards."""
    footprint = largest_polygon(unary_union([lr.footprint_local for lr in levels]))
    if footprint.is_empty:
        raise ManifestError(f"building {spec.id}: no footprint could be derived")
    return Polygon(footprint.exterior)


def mark_main_entrance(
    openings: Sequence[Opening], level_id: str, near: Point, frame: LocalFrame
) -> tuple[list[Opening], float] | None:
    """``openings`` with the exterior door of ``level_id`` nearest ``near`` (local metres)
    marked as the main entrance, and that door's distance from ``near``; None if the level has
    no exterior door."""
    candidates = [
        (frame.to_local(o.geometry).distance(near), k)
        for k, o in enumerate(openings) if o.exterior and o.level_id == level_id
    ]
    if not candidates:
        return None
    dist, k = min(candidates)
    marked = list(openings)
    marked[k] = dataclasses.replace(openings[k], main_entrance=True)
    return marked, dist


def _with_main_entrance(
    lm: LoadedManifest, bi: int, spec: BuildingSpec, levels: list[_LevelResult],
    openings: list[Opening], frame: LocalFrame, result: ImportResult,
) -> list[Opening]:
    """The building's openings with the manifest's ``main_entrance`` marked (if it names one)."""
    me = spec.main_entrance
    if me is None:
        return openings
    lr = next(x for x in levels if x.level.ordinal == me.level)
    near = Point(lr.fit.point(me.near[0] * lr.plan.unit_m, me.near[1] * lr.plan.unit_m))
    found = mark_main_entrance(openings, lr.level.id, near, frame)
    if found is None:
        raise ManifestError(
            f"{lm.path.name}: buildings[{bi}].main_entrance: building {spec.id} level "
            f"{me.level} has no exterior door"
        )
    marked, dist = found
    if dist > MAIN_ENTRANCE_WARN_M:
        door = next(o for o in marked if o.main_entrance)
        result.warn(Finding(
            FindingKind.OTHER, f"building {spec.id}: nearest exterior door to "
            f"main_entrance.near is {dist:.1f} m away; check the manifest",
            at=(door.geometry.x, door.geometry.y), ref=door.id, building=spec.id,
            action="marked that door as the main entrance", placed_on_earth=True))
    return marked


def _import_building(
    lm: LoadedManifest, spec: BuildingSpec, sources: list[_LevelSource], frame: LocalFrame,
    result: ImportResult,
) -> tuple[Building, list[_LevelResult], list[Unit], list[Opening]]:
    cid = lm.manifest.campus.id
    levels: list[_LevelResult] = []
    units: list[Unit] = []
    openings: list[Opening] = []
    for src in sources:
        lr = _place_level(lm, src, frame, result)
        levels.append(lr)
        units += _level_units(cid, spec, lr, frame, result)
        openings += _level_openings(cid, spec, lr, frame)
    footprint = _building_footprint(spec, levels)
    for lr in levels:
        _rooms_outside(spec, lr, footprint, frame, result)
    openings = _with_main_entrance(lm, sources[0].bi, spec, levels, openings, frame, result)
    building = Building(
        id=stable_id(cid, spec.id), name=spec.name, short_name=spec.id,
        footprint=frame.to_wgs84(footprint), aliases=spec.aliases,
        address_side=spec.address_side,
    )
    return building, levels, units, openings


def _frame_for(sources: Sequence[_LevelSource]) -> LocalFrame:
    """The campus's local frame, at the centre of every control point; points that cannot
    make one (lat/lon typed the wrong way round, say) are refused with the diagnosis."""
    try:
        return campus_frame([p for s in sources for p in s.points])
    except ValueError as exc:
        for s in sources:
            kind = s.lv.transform or TransformKind.SIMILARITY
            try:
                advice = diagnose_fit(s.points, kind, unit_m=s.plan.unit_m).advice
            except GeoreferenceError:
                continue
            if advice:
                raise GeoreferenceError(f"{_what(s.spec, s.lv)}: " + " ".join(advice)
                                        ) from exc
        raise GeoreferenceError(f"the control points cannot place a campus: {exc}") from exc


def _grid(lm: LoadedManifest, frame: LocalFrame, bounds: grid.Bounds) -> GridSpec:
    g = lm.manifest.grid
    if g.origin is None:
        spec = grid.grid_for_extent(bounds, g.cell_size, g.unit, g.margin_cells)
        if g.columns is not None or g.rows is not None:
            spec = GridSpec(spec.origin_x, spec.origin_y, spec.cell_size, spec.unit,
                            g.columns or spec.columns, g.rows or spec.rows)
        return spec
    ox, oy = frame.xy(*g.origin)
    s = g.cell_size * g.unit.metres
    margin = g.margin_cells * s
    if bounds.minx - margin < ox - 1e-6 or bounds.maxy + margin > oy + 1e-6:
        raise ManifestError(
            f"{lm.path.name}: grid.origin {g.origin} is not north-west of the campus "
            "(with its margin)"
        )
    columns = g.columns or max(1, math.ceil((bounds.maxx + margin - ox) / s))
    rows = g.rows or max(1, math.ceil((oy - (bounds.miny - margin)) / s))
    return GridSpec(ox, oy, g.cell_size, g.unit, columns, rows)


def _indoor(lm: LoadedManifest, limits: ImportLimits, result: ImportResult,
            progress: Progress) -> list[IndoorImport]:
    """The campus's OpenStreetMap indoor file and IMDF archive, if the manifest names them;
    their findings go to result."""
    m = lm.manifest
    out: list[IndoorImport] = []
    if m.files.osm:
        from importers.osm_indoor import read_osm_indoor

        path = lm.resolve(m.files.osm, "files.osm")
        progress(3, f"reading {m.files.osm} (OpenStreetMap indoor)")
        out.append(read_osm_indoor(path, m.campus.id, limits))
    if m.files.imdf:
        from importers.imdf import read_imdf

        path = lm.resolve(m.files.imdf, "files.imdf")
        progress(4, f"reading {m.files.imdf} (IMDF)")
        out.append(read_imdf(path, m.campus.id, limits))
    for imported in out:
        for f in imported.findings:
            result.warn(f)
    return out


def _box(geoms: Sequence[BaseGeometry]) -> tuple[float, float, float, float] | None:
    """The bounds of all of ``geoms`` (None if every one is empty): arithmetic on their own
    bounds, so no outline, however odd, can make a union fail."""
    boxes = [g.bounds for g in geoms if not g.is_empty]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _grown(box: tuple[float, float, float, float], by: float
           ) -> tuple[float, float, float, float]:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def _site_extent(parcel_local: BaseGeometry | None, footprints: Sequence[BaseGeometry],
                 grounds: Sequence[BaseGeometry],
                 points: Sequence[BaseGeometry]) -> grid.Bounds:
    """What the grid must cover (local metres): the parcel and the buildings; without a
    parcel, the buildings plus a margin, the grounds near them and the points of interest
    (a rally point out on the field is looked up by its grid cell too)."""
    whole = _box([parcel_local, *footprints]) if parcel_local is not None else None
    if whole is not None:
        return grid.Bounds(*whole)
    buildings = _box(footprints)
    if buildings is None:
        raise ManifestError("the campus has no building outline to fit its grid to; give "
                            "files.parcel")
    site = _grown(buildings, SITE_MARGIN_M)
    near = _grown(site, 150.0)
    boxes = [site]
    for g in grounds:  # the part of a lot or road near the buildings
        b = _box([g])
        if b is not None and b[0] < near[2] and b[2] > near[0] and b[1] < near[3] \
                and b[3] > near[1]:
            boxes.append((max(b[0], near[0]), max(b[1], near[1]),
                          min(b[2], near[2]), min(b[3], near[3])))
    for p in points:
        b = _box([p])
        if b is not None:
            boxes.append(_grown(b, 5.0))
    return grid.Bounds(min(b[0] for b in boxes), min(b[1] for b in boxes),
                       max(b[2] for b in boxes), max(b[3] for b in boxes))


def _quiet(percent: int, message: str) -> None:
    """The progress report of an import nobody watches."""


def build_campus(lm: LoadedManifest, previous: Campus | None = None,
                 limits: ImportLimits | None = None,
                 progress: Progress | None = None) -> ImportResult:
    """Import from an already-loaded manifest (see :func:`import_campus`)."""
    limits = limits or ImportLimits()
    budget = WorkBudget(limits)
    report = progress or _quiet
    m = lm.manifest
    cid = m.campus.id
    result = ImportResult(campus=Campus(cid, m.campus.name, m.campus.address,
                                        GridSpec(0, 0, 1, m.grid.unit, 1, 1), ""))
    indoor = _indoor(lm, limits, result, report)

    total = sum(len(b.levels) for b in m.buildings)
    sources: list[_LevelSource] = []
    for bi, spec in enumerate(m.buildings):
        for li, level_spec in enumerate(spec.levels):
            k = len(sources)
            report(5 + 80 * k // max(total, 1), f"reading {level_spec.dxf} (building "
                   f"{spec.id} level {level_spec.ordinal}, {k + 1} of {total})")
            sources.append(_read_level(lm, bi, li, spec, result, budget))
    if sources:
        frame = _frame_for(sources)
    else:
        frame = local_frame_around(b.footprint for i in indoor for b in i.buildings)

    buildings: list[Building] = []
    levels: list[Level] = []
    units: list[Unit] = []
    openings: list[Opening] = []
    amenities: list[Amenity] = []
    for bi, spec in enumerate(m.buildings):
        b, lrs, us, ops = _import_building(
            lm, spec, [s for s in sources if s.bi == bi], frame, result)
        buildings.append(b)
        levels.extend(lr.level for lr in lrs)
        units.extend(us)
        openings.extend(ops)
    for imported, source in zip(indoor, [f for f in (m.files.osm, m.files.imdf) if f],
                                strict=True):
        twice = [b for b in imported.buildings if b.id in {x.id for x in buildings}]
        if twice:
            raise ManifestError(
                f"{lm.path.name}: building {twice[0].short_name or twice[0].name} is in "
                f"{source} and also in [[buildings]] (or another indoor file); give each "
                "building once")
        buildings.extend(imported.buildings)
        levels.extend(imported.levels)
        units.extend(imported.units)
        openings.extend(imported.openings)
        amenities.extend(imported.amenities)

    report(85, "reading the parcel and grounds")
    parcel = read_parcel(lm.resolve(m.files.parcel, "files.parcel")) if m.files.parcel else None
    grounds: list[GroundsFeature] = []
    if m.files.grounds:
        grounds = read_grounds(lm.resolve(m.files.grounds, "files.grounds"), cid)
    grounds.extend(g for i in indoor for g in i.grounds)  # an IMDF archive's lots and fields

    building_ids: dict[str, str] = {}
    level_ids: dict[tuple[str, str], str] = {}
    for spec, b in zip(m.buildings, buildings, strict=False):
        for key in (spec.id, spec.name, *spec.aliases):
            building_ids.setdefault(key.lower(), b.id)
    for b in buildings[len(m.buildings):]:  # from the indoor files
        for key in (b.short_name, b.name, *b.aliases):
            if key:
                building_ids.setdefault(key.lower(), b.id)
    # ordinals first: a level short-named "1" must not shadow ordinal 1
    for lv in levels:
        level_ids[(lv.building_id, str(lv.ordinal))] = lv.id
    for lv in levels:
        for key in (lv.short_name, lv.name):
            level_ids.setdefault((lv.building_id, key.lower()), lv.id)
    if m.files.pois:
        report(90, "reading the points of interest")
        pois_path = lm.resolve(m.files.pois, "files.pois")
        amenities += to_amenities(read_poi_rows(pois_path), pois_path.name, cid, building_ids,
                                  level_ids)

    if parcel is not None:
        for u in units:
            if not parcel.buffer(1e-6).covers(u.geometry):
                where = u.geometry.representative_point()
                result.warn(Finding(
                    FindingKind.OTHER,
                    f"room {u.number or u.name!r} lies (partly) outside the parcel; check the "
                    "control points", at=(where.x, where.y), ref=u.id,
                    action="kept where the control points put it", placed_on_earth=True))
    extent = _site_extent(
        None if parcel is None else frame.to_local(parcel),
        [frame.to_local(b.footprint) for b in buildings],
        [frame.to_local(g.geometry) for g in grounds],
        [frame.to_local(a.geometry) for a in amenities])
    grid_spec = _grid(lm, frame, extent)

    meta = {
        "manifest": lm.path.name,
        "door_numbering": m.doors.numbering.value,
        **({"verified_on": m.campus.verified_on.isoformat()} if m.campus.verified_on else {}),
        **{f"georef_rms_m:{k}": f"{v:.3f}" for k, v in result.residuals.items()},
    }
    name = m.campus.name
    address = m.campus.address or next((i.address for i in indoor if i.address), "") or ""
    try:
        campus = Campus(
            id=cid, name=name, address=address, grid=grid_spec, crs=frame.crs,
            parcel=parcel, buildings=tuple(buildings), levels=tuple(levels),
            units=tuple(units), openings=tuple(openings), amenities=tuple(amenities),
            grounds=tuple(grounds), meta=meta,
        )
    except InvalidModel as exc:
        raise ManifestError(
            f"{lm.path.name}: the floor plans and indoor files do not fit together ({exc}); "
            "a building given twice?") from exc
    report(95, "numbering the exterior doors")
    # numbers an indoor file says are painted on its doors are kept, as a previous import's
    painted = campus if previous is None and any(
        o.number for i in indoor for o in i.openings if o.exterior) else None
    result.campus = number_exterior_doors(
        campus, previous or painted, direction=m.doors.numbering,
        allow_renumber=m.doors.allow_renumber,
    )
    for line in numbering_changes(result.campus, previous):
        result.warn(Finding(FindingKind.OTHER, line, Severity.WARNING,
                            action="paint the new number on the door"))
    return result


def import_campus(manifest_path: Path, previous: Campus | None = None,
                  limits: ImportLimits | None = None,
                  progress: Progress | None = None) -> ImportResult:
    """Read ``campus.toml`` and everything it names into a :class:`gridmap.model.Campus`.

    ``previous`` is the campus as last published: its exterior door numbers are kept for doors
    that have not moved (numbers are painted on real doors). ``limits`` bound the work the
    floor plans may cause (time, memory, entities; see :mod:`importers.limits`).
    ``progress(percent, message)`` is told how far the import is (percent of the whole).
    """
    return build_campus(load_manifest(Path(manifest_path)), previous, limits, progress)
