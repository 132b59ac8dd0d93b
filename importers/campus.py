"""Import a whole campus from its manifest: floor plans, georeference, parcel, grounds, POIs.

    result = import_campus(Path("campus.toml"), previous=stored_campus_or_None)
    result.campus      # gridmap.model.Campus, WGS84 geometries, exterior doors numbered
    result.warnings    # non-fatal problems, each naming file / layer / entity
    result.residuals   # RMS control-point residual per drawing, metres

Errors raise :class:`gridmap.errors.ImportFailed` subclasses; nothing is half-imported.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.doors import number_exterior_doors, numbering_changes
from gridmap.errors import ManifestError
from gridmap.model import (
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
from importers.georef import Fit, campus_frame, georeference
from importers.limits import ImportLimits, WorkBudget
from importers.manifest import BuildingSpec, LoadedManifest, load_manifest
from importers.parcels import read_grounds, read_parcel
from importers.pois import read_poi_rows, to_amenities

MAIN_ENTRANCE_WARN_M = 5.0


@dataclass
class ImportResult:
    campus: Campus
    warnings: list[str] = field(default_factory=list)
    residuals: dict[str, float] = field(default_factory=dict)
    #: how each building's nearby answers are measured, one line each; filled by the check
    #: that runs before the campus is published (it builds the walking networks anyway)
    nearby_distances: list[str] = field(default_factory=list)


@dataclass
class _LevelResult:
    dxf: str  # as the manifest writes it
    level: Level
    plan: FloorPlan
    fit: Fit
    footprint_local: Polygon


def _unit_key(number: str, name: str, handle: str) -> str:
    return number or name or f"handle:{handle}"


def _read_level(
    lm: LoadedManifest, bi: int, li: int, spec: BuildingSpec, frame: LocalFrame,
    result: ImportResult, budget: WorkBudget | None = None,
) -> _LevelResult:
    """Read one level's DXF and place it on the earth; its warnings and residual go to result."""
    m = lm.manifest
    lv = spec.levels[li]
    path = lm.resolve(lv.dxf, f"buildings[{bi}].levels[{li}].dxf")
    plan = read_floor_plan(
        path, lv.layers.apply(m.layers), lv.units,
        exterior_distance_m=m.doors.exterior_distance_m, budget=budget,
    )
    result.warnings.extend(plan.warnings)
    fit = georeference(
        spec.control_points_for(lv), plan.unit_m, frame, lv.transform or m.georef.transform,
        max_rms_m=m.georef.max_rms_m, max_scale_deviation=m.georef.max_scale_deviation,
        what=f"building {spec.id} level {lv.ordinal} ({lv.dxf})",
    )
    result.residuals[lv.dxf] = fit.rms
    cid = m.campus.id
    level = Level(stable_id(cid, spec.id, lv.ordinal), stable_id(cid, spec.id), lv.ordinal,
                  lv.name, lv.short_name)
    return _LevelResult(lv.dxf, level, plan, fit, fit.apply(plan.footprint))


def _level_units(
    cid: str, spec: BuildingSpec, lr: _LevelResult, frame: LocalFrame, warnings: list[str],
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
        if seen[key] > 1:
            if room.number:
                warnings.append(
                    f"{lr.dxf}: room number {room.number!r} appears more than once "
                    f"(outline {room.handle})"
                )
            key = f"{key}#{seen[key]}"
        units.append(Unit(
            id=stable_id(cid, spec.id, lr.level.ordinal, key),
            building_id=lr.level.building_id, level_id=lr.level.id,
            number=room.number, name=room.name or room.number,
            geometry=frame.to_wgs84(lr.fit.apply(room.polygon)),
            category=room.category, approximate=room.approximate,
        ))
    return units


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
    openings: list[Opening], frame: LocalFrame, warnings: list[str],
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
        warnings.append(
            f"building {spec.id}: nearest exterior door to main_entrance.near is "
            f"{dist:.1f} m away; check the manifest"
        )
    return marked


def _import_building(
    lm: LoadedManifest, bi: int, spec: BuildingSpec, frame: LocalFrame,
    result: ImportResult, budget: WorkBudget | None = None,
) -> tuple[Building, list[_LevelResult], list[Unit], list[Opening]]:
    cid = lm.manifest.campus.id
    levels: list[_LevelResult] = []
    units: list[Unit] = []
    openings: list[Opening] = []
    for li in range(len(spec.levels)):
        lr = _read_level(lm, bi, li, spec, frame, result, budget)
        levels.append(lr)
        units += _level_units(cid, spec, lr, frame, result.warnings)
        openings += _level_openings(cid, spec, lr, frame)
    footprint = _building_footprint(spec, levels)
    openings = _with_main_entrance(lm, bi, spec, levels, openings, frame, result.warnings)
    building = Building(
        id=stable_id(cid, spec.id), name=spec.name, short_name=spec.id,
        footprint=frame.to_wgs84(footprint), aliases=spec.aliases,
        address_side=spec.address_side,
    )
    return building, levels, units, openings


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


def build_campus(lm: LoadedManifest, previous: Campus | None = None,
                 limits: ImportLimits | None = None) -> ImportResult:
    """Import from an already-loaded manifest (see :func:`import_campus`)."""
    budget = WorkBudget(limits or ImportLimits())
    m = lm.manifest
    cid = m.campus.id
    result = ImportResult(campus=Campus(cid, m.campus.name, m.campus.address,
                                        GridSpec(0, 0, 1, m.grid.unit, 1, 1), ""))
    all_points = [
        p for b in m.buildings for lv in b.levels for p in b.control_points_for(lv)
    ]
    frame = campus_frame(all_points)

    buildings: list[Building] = []
    levels: list[Level] = []
    units: list[Unit] = []
    openings: list[Opening] = []
    for bi, spec in enumerate(m.buildings):
        b, lrs, us, ops = _import_building(lm, bi, spec, frame, result, budget)
        buildings.append(b)
        levels.extend(lr.level for lr in lrs)
        units.extend(us)
        openings.extend(ops)

    parcel = read_parcel(lm.resolve(m.files.parcel, "files.parcel"))
    grounds: list[GroundsFeature] = []
    if m.files.grounds:
        grounds = read_grounds(lm.resolve(m.files.grounds, "files.grounds"), cid)

    building_ids: dict[str, str] = {}
    level_ids: dict[tuple[str, str], str] = {}
    for spec, b in zip(m.buildings, buildings, strict=True):
        for key in (spec.id, spec.name, *spec.aliases):
            building_ids.setdefault(key.lower(), b.id)
    # ordinals first: a level short-named "1" must not shadow ordinal 1
    for lv in levels:
        level_ids[(lv.building_id, str(lv.ordinal))] = lv.id
    for lv in levels:
        for key in (lv.short_name, lv.name):
            level_ids.setdefault((lv.building_id, key.lower()), lv.id)
    amenities = []
    if m.files.pois:
        pois_path = lm.resolve(m.files.pois, "files.pois")
        amenities = to_amenities(read_poi_rows(pois_path), pois_path.name, cid, building_ids,
                                 level_ids)

    parcel_local = frame.to_local(parcel)
    for u in units:
        if not parcel.buffer(1e-6).covers(u.geometry):
            result.warnings.append(
                f"room {u.number or u.name!r} lies (partly) outside the parcel; check the "
                "control points"
            )
    extent = unary_union([parcel_local, *(frame.to_local(b.footprint) for b in buildings)])
    grid_spec = _grid(lm, frame, grid.Bounds(*extent.bounds))

    meta = {
        "manifest": lm.path.name,
        "door_numbering": m.doors.numbering.value,
        **({"verified_on": m.campus.verified_on.isoformat()} if m.campus.verified_on else {}),
        **{f"georef_rms_m:{k}": f"{v:.3f}" for k, v in result.residuals.items()},
    }
    campus = Campus(
        id=cid, name=m.campus.name, address=m.campus.address, grid=grid_spec, crs=frame.crs,
        parcel=parcel, buildings=tuple(buildings), levels=tuple(levels), units=tuple(units),
        openings=tuple(openings), amenities=tuple(amenities), grounds=tuple(grounds), meta=meta,
    )
    result.campus = number_exterior_doors(
        campus, previous, direction=m.doors.numbering, allow_renumber=m.doors.allow_renumber
    )
    result.warnings.extend(numbering_changes(result.campus, previous))
    return result


def import_campus(manifest_path: Path, previous: Campus | None = None,
                  limits: ImportLimits | None = None) -> ImportResult:
    """Read ``campus.toml`` and everything it names into a :class:`gridmap.model.Campus`.

    ``previous`` is the campus as last published: its exterior door numbers are kept for doors
    that have not moved (numbers are painted on real doors). ``limits`` bound the work the
    floor plans may cause (time, memory, entities; see :mod:`importers.limits`).
    """
    return build_campus(load_manifest(Path(manifest_path)), previous, limits)
