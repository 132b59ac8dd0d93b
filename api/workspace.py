"""The workspace's logic: from uploaded files to a draft revision an editor can publish.

1. :func:`add_upload` (:mod:`api.workspace_files`) keeps an uploaded file and tells by its
   content what it is; each DXF becomes a *drawing* with its proposed layers, bounds, GEODATA
   and preview.
2. The editor sets each drawing's building, level, layers, units and control points
   (:func:`check_drawing_settings`), checking the fit live with :func:`diagnose` (nothing
   stored).
3. :func:`write_manifest` writes ``campus.toml`` from the workspace into its folder, and
   :func:`queue_import` queues an import job on it. The job calls :func:`prepare_campus` (the
   editor's fixes applied again) and :func:`import_finished` (the report kept).
4. :func:`save_edits` applies new fixes to the draft and stores them as a new draft revision;
   publishing stays with the existing atomic publish route.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from api.settings import Settings
from api.store import CampusStore, RevisionInfo
from api.store_workspace import (
    Drawing,
    FileKind,
    Workspace,
    WorkspaceFile,
    WorkspaceState,
    workspace_dir,
    workspaces,
)
from api.workspace_files import MAX_ZIP_RATIO as MAX_ZIP_RATIO  # re-exported (fuzz/runner.py)
from api.workspace_files import analyse_drawing as analyse_drawing
from api.workspace_files import sniff as sniff
from gridmap.edits import (
    Edit,
    PlacePoint,
    anchor_edits,
    apply_edits,
    edit_from_dict,
    edit_to_dict,
    reapply_edits,
)
from gridmap.errors import (
    Conflict,
    ImportFailed,
    NotFound,
)
from gridmap.model import Campus

log = logging.getLogger(__name__)

#: most findings a report keeps (the rest are counted)
MAX_REPORT_FINDINGS = 2_000


class WorkspaceConflict(Conflict):
    """The workspace is not ready for this step (nothing imported yet, an import running)."""


# --- settings -------------------------------------------------------------------------------


def initial_settings(store: CampusStore, campus_id: str, campus_name: str | None
                     ) -> dict[str, Any]:
    """A new workspace's settings: a stored campus's name and address (its latest
    revision), else the name given."""
    settings = {**DEFAULT_SETTINGS, "campus_name": campus_name or ""}
    try:
        latest = max(r.number for r in store.revisions(campus_id))
        campus = store.campus(campus_id, latest)
    except (NotFound, ValueError):
        return settings
    return {**settings, "campus_name": campus_name or campus.name, "address": campus.address}


DEFAULT_SETTINGS: dict[str, Any] = {
    "campus_name": "", "address": "", "grid": {"cell_size": 100, "unit": "ft"},
    "parcel_file": None, "grounds_file": None, "pois_file": None,
}


def check_settings(ws: Workspace, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Workspace settings with every file id checked (it must be of the right kind)."""
    out = {**DEFAULT_SETTINGS, **dict(settings)}
    wanted = {"parcel_file": FileKind.PARCEL, "grounds_file": FileKind.GROUNDS,
              "pois_file": FileKind.POIS}
    for key, kind in wanted.items():
        file_id = out.get(key)
        if file_id is None:
            continue
        record = ws.file(str(file_id))
        if record.kind is not kind and not (
                kind in (FileKind.PARCEL, FileKind.GROUNDS)
                and record.kind in (FileKind.PARCEL, FileKind.GROUNDS)):
            raise ImportFailed(f"{key} {file_id} is a {record.kind.value} file",
                               user_message=f"{key}: {record.name!r} is a {record.kind.value} "
                               f"file, not a {kind.value} file")
    return out


def check_drawing_settings(ws: Workspace, drawing: Drawing, settings: Mapping[str, Any]) -> None:
    """A drawing's settings may not put two drawings on one building level, and its layers
    should exist in the drawing (an unknown layer name is refused, naming the layers)."""
    for other in ws.drawings:
        if other.id == drawing.id:
            continue
        o = other.settings
        if (o.get("building_id") == settings.get("building_id")
                and o.get("level_ordinal") == settings.get("level_ordinal")):
            raise ImportFailed(
                f"{drawing.id}: building {settings.get('building_id')} level "
                f"{settings.get('level_ordinal')} is {other.name}'s",
                user_message=f"building {settings.get('building_id')} level "
                f"{settings.get('level_ordinal')} is already drawing {other.name!r}; give this "
                "one another level (or building)")
    known = {str(x.get("name")) for x in drawing.proposal.get("layers") or []}
    if not known:
        return
    for role, name in dict(settings.get("layers") or {}).items():
        if name and name not in known:
            shown = ", ".join(sorted(known)[:30])
            message = (f"layers.{role}: drawing {drawing.name!r} has no layer {name!r}; its "
                       f"layers are {shown}")
            raise ImportFailed(message, user_message=message)


# --- georeference ---------------------------------------------------------------------------


def diagnose(points: Sequence[Mapping[str, Any]], transform: str, unit: str | None,
             what: str = "the drawing") -> dict[str, Any]:
    """The fit of control points, with per-point residuals and advice
    (:func:`importers.georef.diagnose_fit` when installed); nothing is stored."""
    from importers.georef import diagnose_fit, judge_fit
    from importers.manifest import ControlPoint, DrawingUnit, TransformKind

    kind = TransformKind(transform)
    unit_m = DrawingUnit(unit).metres if unit else None
    cps = [ControlPoint(name=str(p.get("name") or f"point {i + 1}"),
                        cad=(float(p["cad"][0]), float(p["cad"][1])),
                        lonlat=(float(p["lonlat"][0]), float(p["lonlat"][1])))
           for i, p in enumerate(points)]
    diagnosed = diagnose_fit(cps, kind, unit_m=unit_m)
    diagnosis: dict[str, Any] = diagnosed.to_dict()
    verdict = judge_fit(diagnosed, what=what)  # what the import would say of this fit
    diagnosis["import_findings"] = [f.to_dict() for f in verdict]
    diagnosis["import_accepts"] = not any(f.severity.value == "error" for f in verdict)
    return diagnosis


# --- the manifest and the import ------------------------------------------------------------


MANIFEST_NAME = "campus.toml"


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")


def _toml_num(value: float) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise ImportFailed(f"not a finite number: {value}")
    return repr(number)


def _points_toml(points: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for p in points:
        cad, lonlat = p["cad"], p["lonlat"]
        rows.append(f"  {{ name = {_toml_str(str(p.get('name') or ''))}, cad = "
                    f"[{_toml_num(cad[0])}, {_toml_num(cad[1])}], lonlat = "
                    f"[{_toml_num(lonlat[0])}, {_toml_num(lonlat[1])}] }},")
    return "[\n" + "\n".join(rows) + "\n]"


def manifest_text(ws: Workspace, paths: Mapping[str, str] | None = None,
                  entrances: Mapping[str, tuple[int, tuple[float, float]]] | None = None) -> str:
    """``campus.toml`` for the workspace as it stands; ``paths``: file or drawing id -> the
    path the manifest names it by (default: where it is stored, relative to the folder);
    ``entrances``: building id -> (level ordinal, CAD point) of its main entrance."""
    from importers.manifest import Files

    def where(item: WorkspaceFile | Drawing) -> str:
        return (paths or {}).get(item.id, item.path)

    s = {**DEFAULT_SETTINGS, **dict(ws.settings)}
    drawings = [d for d in ws.drawings if d.settings.get("building_id")]
    indoor = [f for f in ws.files if f.kind in (FileKind.OSM, FileKind.IMDF)]
    if not drawings and not (indoor and "osm" in Files.model_fields):
        raise WorkspaceConflict(f"{ws.id}: no drawings",
                                user_message="upload a floor plan (DXF), an OpenStreetMap "
                                "indoor file or an IMDF archive first")
    for d in drawings:
        ds = d.settings
        if d.proposal.get("insunits") == 0 and not ds.get("unit"):
            raise WorkspaceConflict(
                f"{ws.id}: {d.id} is unitless",
                user_message=f"drawing {d.name!r} does not say its unit ($INSUNITS = 0): choose "
                "the unit it is drawn in (in, ft, us_ft, yd, mm, cm, dm or m)")
        need = 3 if ds.get("transform") == "affine" else 2
        if len(ds.get("control_points") or []) < need and not (
                ds.get("use_geodata") and d.has_geodata):
            where_on = f"building {ds.get('building_id')} level {ds.get('level_ordinal')}"
            raise WorkspaceConflict(
                f"{ws.id}: {d.id} has too few control points",
                user_message=f"drawing {d.name!r} ({where_on}) has "
                f"{len(ds.get('control_points') or [])} control points: place it with at "
                f"least {need} matching points on the plan and the map"
                + (", or use its GEODATA" if d.has_geodata else "")
                + " (or remove the drawing)")
    lines = ["# written by the gridmap workspace " + ws.id, "[campus]",
             f"id = {_toml_str(ws.campus_id)}",
             f"name = {_toml_str(s.get('campus_name') or ws.name or ws.campus_id)}",
             f"address = {_toml_str(s.get('address') or '')}", "", "[grid]"]
    grid = dict(s.get("grid") or {})
    lines += [f"cell_size = {_toml_num(grid.get('cell_size', 100))}",
              f"unit = {_toml_str(str(grid.get('unit', 'ft')))}", "", "[files]"]
    for key, manifest_key in (("parcel_file", "parcel"), ("grounds_file", "grounds"),
                              ("pois_file", "pois")):
        if s.get(key):
            lines.append(f"{manifest_key} = {_toml_str(where(ws.file(str(s[key]))))}")
        elif manifest_key == "parcel" and Files.model_fields["parcel"].is_required():
            raise WorkspaceConflict(
                f"{ws.id}: no parcel",
                user_message="upload the campus's parcel boundary (GeoJSON, GeoPackage, KML or "
                "a zipped Shapefile) and choose it as the parcel file")
    for kind, key in ((FileKind.OSM, "osm"), (FileKind.IMDF, "imdf")):
        found = [f for f in ws.files if f.kind is kind]
        if found and key in Files.model_fields:
            lines.append(f"{key} = {_toml_str(where(found[0]))}")
    lines.append("")
    buildings: dict[str, list[Drawing]] = {}
    for d in drawings:
        buildings.setdefault(str(d.settings["building_id"]), []).append(d)
    for building_id, levels in buildings.items():
        first = levels[0].settings
        lines += ["[[buildings]]", f"id = {_toml_str(building_id)}",
                  f"name = {_toml_str(str(first.get('building_name') or building_id))}"]
        entrance = (entrances or {}).get(building_id)
        if entrance is not None:
            level, (x, y) = entrance
            lines.append(f"main_entrance = {{ level = {int(level)}, near = [{_toml_num(x)}, "
                         f"{_toml_num(y)}] }}")
        lines.append("")
        for d in sorted(levels, key=lambda x: int(x.settings.get("level_ordinal", 0))):
            ds = d.settings
            ordinal = int(ds.get("level_ordinal", 0))
            lines += ["[[buildings.levels]]", f"ordinal = {ordinal}",
                      f"name = {_toml_str(str(ds.get('level_name') or f'Level {ordinal}'))}",
                      f"short_name = {_toml_str(str(ds.get('level_short_name') or ordinal))}",
                      f"dxf = {_toml_str(where(d))}"]
            if ds.get("unit"):
                lines.append(f"units = {_toml_str(str(ds['unit']))}")
            if ds.get("transform"):
                lines.append(f"transform = {_toml_str(str(ds['transform']))}")
            points = list(ds.get("control_points") or [])
            if points or not ds.get("use_geodata"):
                lines.append(f"control_points = {_points_toml(points)}")
            if ds.get("use_geodata") and d.has_geodata:
                lines.append("use_geodata = true")  # its GEODATA places it, points or not
            layers = {k: v for k, v in dict(ds.get("layers") or {}).items() if v}
            if layers:
                lines.append("layers = { " + ", ".join(
                    f"{k} = {_toml_str(str(v))}" for k, v in sorted(layers.items())) + " }")
            lines.append("")
    return "\n".join(lines)


def write_manifest(settings: Settings, ws: Workspace, store: CampusStore | None = None) -> Path:
    """Write the workspace's ``campus.toml`` (0600) and check it as an import would read it
    (a manifest the import would refuse is refused here, naming the problem)."""
    from importers.manifest import load_manifest

    folder = workspace_dir(settings.data_dir, ws.id, create=True)
    paths = _import_names(folder, ws)
    path = folder / MANIFEST_NAME
    tmp = folder / (MANIFEST_NAME + ".part")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
              encoding="utf-8") as fh:
        fh.write(manifest_text(ws, paths, None if store is None else main_entrances(store, ws)))
    os.replace(tmp, path)
    load_manifest(path)
    return path


IMPORT_DIR = "import"


def main_entrances(store: CampusStore, ws: Workspace
                   ) -> dict[str, tuple[int, tuple[float, float]]]:
    """Main entrances marked by edits, for the manifest, while the campus has never been
    published (then its exterior doors are numbered from the entrance on; once numbers are
    painted they stay, and the edit marks the door after the import): building id ->
    (level ordinal, the door in its drawing's units, through the drawing's control points)."""
    from gridmap.edits import MainEntranceEdit

    marked = [e for e in stored_edits(ws) if isinstance(e, MainEntranceEdit)]
    if not marked or ws.draft_revision is None:
        return {}
    try:
        if any(r.published for r in store.revisions(ws.campus_id)):
            return {}
        campus = store.campus(ws.campus_id, ws.draft_revision)
    except NotFound:
        return {}
    doors = {o.id: o for o in campus.openings}
    found: dict[str, tuple[int, tuple[float, float]]] = {}
    for edit in marked:
        door = doors.get(edit.opening_id)
        if door is None:
            continue
        building = campus.building(door.building_id).short_name
        ordinal = campus.level(door.level_id).ordinal
        drawing = next((d for d in ws.drawings if d.settings.get("building_id") == building
                        and d.settings.get("level_ordinal") == ordinal), None)
        points = list(drawing.settings.get("control_points") or []) if drawing else []
        if len(points) < 2:
            continue
        found[building] = (ordinal, _to_cad(points, (door.geometry.x, door.geometry.y)))
    return found


def _to_cad(points: Sequence[Mapping[str, Any]], lonlat: tuple[float, float]
            ) -> tuple[float, float]:
    """A lon/lat in a drawing's units, by the similarity fit of its control points."""
    from gridmap.crs import LocalFrame, local_crs_for
    from importers.georef import fit_transform
    from importers.manifest import TransformKind

    lon = sum(float(p["lonlat"][0]) for p in points) / len(points)
    lat = sum(float(p["lonlat"][1]) for p in points) / len(points)
    frame = LocalFrame(local_crs_for(lon, lat))
    fit = fit_transform([frame.xy(*p["lonlat"]) for p in points],
                        [(float(p["cad"][0]), float(p["cad"][1])) for p in points],
                        TransformKind.SIMILARITY, what="the main entrance")
    return fit.point(*frame.xy(*lonlat))


def _import_names(folder: Path, ws: Workspace) -> dict[str, str]:
    """Links (or copies) of the files an import reads under their own names in
    ``import/``, so the import's messages and report name ``Erdgeschoss.dxf``, not a SHA-256;
    file or drawing id -> the path relative to ``folder``."""
    import shutil

    target = folder / IMPORT_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(mode=0o700)
    taken: set[str] = set()
    paths: dict[str, str] = {}
    items: list[WorkspaceFile | Drawing] = [*ws.drawings, *ws.files]
    for item in items:
        if isinstance(item, WorkspaceFile) and (
                item.kind is FileKind.DXF or item.path.lower().endswith(".shp")):
            continue  # a DXF's drawings are linked one by one; a shapefile needs its set
        source = folder / item.path
        if not source.is_file():
            continue
        stem = re.sub(r"[^\w.() -]", "_", PurePosixPath(item.name).name)[:100] or "file"
        if PurePosixPath(stem).suffix.lower() != source.suffix.lower():
            stem += source.suffix
        name, n = stem, 1
        while name.lower() in taken:
            n += 1
            name = f"{PurePosixPath(stem).stem}-{n}{PurePosixPath(stem).suffix}"
        taken.add(name.lower())
        try:
            os.link(source, target / name)
        except OSError:
            shutil.copyfile(source, target / name)
        paths[item.id] = f"{IMPORT_DIR}/{name}"
    return paths


def queue_import(store: CampusStore, settings: Settings, jobs: Any, ws: Workspace, *,
                 requested_by: str, requested_by_id: str | None) -> Any:
    """Write the manifest and queue its import as a job; the workspace remembers the job."""
    from api.jobs import ImportParameters, JobKind

    current = job_of(store, ws)
    if current is not None and current.state.value in ("queued", "running"):
        raise WorkspaceConflict(f"{ws.id}: job {current.id} is {current.state.value}",
                                user_message=f"an import of this workspace is already "
                                f"{current.state.value} (job {current.id})")
    manifest = write_manifest(settings, ws, store)
    parameters: dict[str, Any] = {"manifest": str(manifest), "org": ws.org_id}
    if "workspace" in ImportParameters.model_fields:
        parameters["workspace"] = ws.id
    ImportParameters.model_validate(parameters)
    job = jobs.submit(JobKind.IMPORT, ws.campus_id, parameters, requested_by=requested_by,
                      requested_by_id=requested_by_id)
    workspaces(store).update(ws.id, job_id=job.id, state=WorkspaceState.IMPORTING)
    return job


def job_of(store: CampusStore, ws: Workspace) -> Any:
    if ws.job_id is None:
        return None
    from api.jobs import JobQueue

    return JobQueue.of_store(store).find(ws.job_id)


def sync_with_job(store: CampusStore, ws: Workspace) -> Workspace:
    """The workspace, caught up with its import job: a job that ended without calling
    :func:`import_finished` (an import job that knows no workspaces) has its revision and
    outcome recorded here."""
    if ws.state is not WorkspaceState.IMPORTING:
        return ws
    job = job_of(store, ws)
    if job is None:
        return workspaces(store).update(ws.id, state=WorkspaceState.FAILED)
    if job.state.value == "failed" or job.state.value == "cancelled":
        report = {"revision": None, "counts": {}, "findings": [{
            "kind": "other", "severity": "error", "message": job.error or job.state.value,
            "source": "", "at": None, "on_earth": False, "ref": job.error_type or "",
            "action": "nothing was stored", "building": "", "level": ""}],
            "job": job.id, "error": {"type": job.error_type, "message": job.error}}
        return workspaces(store).update(ws.id, state=WorkspaceState.FAILED, report=report)
    if job.state.value == "done" and job.result_revision is not None:
        if ws.draft_revision == job.result_revision or (
                ws.report and ws.report.get("job") == job.id):
            return workspaces(store).update(ws.id, state=WorkspaceState.IMPORTED)
        campus = store.campus(ws.campus_id, job.result_revision)
        result = _StoredResult(campus)
        import_finished(store, ws.id, result, job.result_revision)
        return workspaces(store).get(ws.id)
    return ws


@dataclass
class _StoredResult:
    campus: Campus
    warnings: list[str] = field(default_factory=list)
    residuals: dict[str, float] = field(default_factory=dict)


def stored_edits(ws: Workspace) -> list[Edit]:
    return [edit_from_dict(e) for e in ws.edits]


def _last_draft(store: CampusStore, ws: Workspace) -> Campus | None:
    """The campus the workspace's edits were last applied to (None: never imported)."""
    if ws.draft_revision is None:
        return None
    try:
        return store.campus(ws.campus_id, ws.draft_revision)
    except NotFound:
        return None


def prepare_campus(store: CampusStore, ws_id: str, campus: Campus) -> Campus:
    """The freshly imported campus with the workspace's edits applied again (the import job
    calls this before it checks and stores the revision): each finds its room where the room
    was, so a drawing that renumbers rooms keeps each fix on its room. Edits that no longer
    apply are skipped (:func:`import_finished` reports them)."""
    ws = workspaces(store).find(ws_id)
    if ws is None:  # deleted while its import ran: the import stands as it is
        return campus
    edited, _ = apply_edits(campus, stored_edits(ws), before=_last_draft(store, ws))
    return edited


def import_finished(store: CampusStore, ws_id: str, result: Any,
                    info: RevisionInfo | int | None) -> dict[str, Any]:
    """Keep an import's report with the workspace (called by the import job): the counts, the
    findings (``result.findings`` when the importer gives them, else its warnings as OTHER
    findings), residuals and the draft revision. If the stored campus lacks the workspace's
    edits (an import job that did not call :func:`prepare_campus`), they are applied and
    stored as one more draft revision."""
    from api.workspace_imagery import pending_imagery
    from importers.findings import Finding, FindingKind, Severity

    wss = workspaces(store)
    found = wss.find(ws_id)
    number = info.number if isinstance(info, RevisionInfo) else info
    if found is None:  # deleted while its import ran: the revision stays a draft
        log.info("workspace %s is gone; its import's revision %s stays a draft", ws_id, number)
        return {}
    ws = found
    campus: Campus = result.campus
    edits = stored_edits(ws)
    done = reapply_edits(campus, edits, before=_last_draft(store, ws))
    edited = done.campus
    if number is not None and edits and not _same_content(edited, campus):
        from api.publish import check_servable

        check_servable(edited)
        saved = store.save_revision(edited, source=f"workspace {ws.id}: {len(edits)} edits "
                                    f"applied to revision {number}", publish=False)
        number = saved.number
        campus = edited
    findings: list[Any] = [_shown(f) for f in getattr(result, "findings", None) or []]
    if not findings:
        findings = [Finding(FindingKind.OTHER, w, Severity.WARNING) for w in result.warnings]
    findings += [Finding(FindingKind.OTHER, s.message, Severity.WARNING, ref=s.ref, at=s.at,
                         placed_on_earth=s.at is not None, action="edit skipped")
                 for s in done.skipped]
    findings += [Finding(FindingKind.OTHER, m.message, Severity.INFO, ref=m.to_id,
                         action="edit applied where its room is now") for m in done.moved]
    report = {
        "revision": number, "counts": counts(campus),
        "findings": [f.to_dict() for f in findings[:MAX_REPORT_FINDINGS]],
        "findings_total": len(findings),
        "residuals": {_shown_name(k): float(v)
                      for k, v in dict(getattr(result, "residuals", {})).items()},
        "warnings": list(result.warnings)[:MAX_REPORT_FINDINGS],
        "edits_applied": len(edits) - len(done.skipped), "job": ws.job_id,
        # the photo that becomes the campus's imagery when this draft is published (not now:
        # a campus's imagery is campus-wide, officers would see an unpublished photo)
        "imagery": pending_imagery(ws),
    }
    wss.update(ws_id, report=report, draft_revision=number, state=WorkspaceState.IMPORTED)
    return report


def _shown_name(name: str) -> str:
    """A file as the editor named it (the import reads it as ``import/<name>``)."""
    return name[len(IMPORT_DIR) + 1:] if name.startswith(IMPORT_DIR + "/") else name


def _shown(finding: Any) -> Any:
    source = getattr(finding, "source", "")
    if isinstance(source, str) and source.startswith(IMPORT_DIR + "/"):
        return dataclasses.replace(finding, source=_shown_name(source))
    return finding


def _same_content(a: Campus, b: Campus) -> bool:
    return (a.units == b.units and a.openings == b.openings and a.amenities == b.amenities)


def counts(campus: Campus) -> dict[str, int]:
    exterior = [o for o in campus.openings if o.exterior]
    return {
        "buildings": len(campus.buildings), "levels": len(campus.levels),
        "rooms": sum(1 for u in campus.units if not u.approximate),
        "label_only_rooms": sum(1 for u in campus.units if u.approximate),
        "doors": len(campus.openings), "exterior_doors": len(exterior),
        "numbered_doors": sum(1 for o in exterior if o.number),
        "main_entrances": sum(1 for o in exterior if o.main_entrance),
        "points": len(campus.amenities), "grounds": len(campus.grounds),
    }


# --- edits ----------------------------------------------------------------------------------


def save_edits(store: CampusStore, ws: Workspace, raw: Sequence[Mapping[str, Any]], *,
               actor: str) -> dict[str, Any]:
    """Apply new edits to the workspace's draft and store the result as a NEW draft revision
    (never changing a stored one); the edits are kept, to be applied again after re-imports."""
    from api.publish import check_servable
    from gridmap.edits import MAX_EDITS

    if ws.draft_revision is None:
        raise WorkspaceConflict(f"{ws.id}: nothing imported",
                                user_message="import the workspace first: edits change its "
                                "draft revision")
    if not raw:
        raise ImportFailed("no edits", user_message="edits: give at least one edit")
    new = [edit_from_dict(e) for e in raw]
    if len(ws.edits) + len(new) > MAX_EDITS:
        raise ImportFailed("too many edits", user_message=f"a workspace keeps at most "
                           f"{MAX_EDITS} edits")
    now = workspaces(store).get(ws.id)
    if now.draft_revision != ws.draft_revision:  # checked again when the edits are kept
        raise Conflict(f"{ws.id}: draft {now.draft_revision}, expected {ws.draft_revision}",
                       user_message=f"the workspace's draft is revision {now.draft_revision} "
                       f"now, not {ws.draft_revision}: someone changed it meanwhile; reload "
                       "and try again")
    campus = store.campus(ws.campus_id, ws.draft_revision)
    edited, _ = apply_edits(campus, new, strict=True)
    new = anchor_edits(campus, new)  # where each room and door is: found again after re-imports
    check_servable(edited)
    info = store.save_revision(
        edited, source=f"workspace {ws.id}: {len(new)} edit(s) by {actor[:80]} on revision "
        f"{ws.draft_revision}", publish=False)
    kept = [*ws.edits, *(edit_to_dict(e) for e in new)]
    report = dict(ws.report or {})
    if report:
        report["revision"] = info.number
        report["counts"] = counts(edited)
    workspaces(store).update(ws.id, expect_draft=ws.draft_revision, edits=kept,
                             draft_revision=info.number, report=report or None,
                             state=WorkspaceState.IMPORTED)
    return {"revision": info.number, "previous": ws.draft_revision,
            "edits": [edit_to_dict(e) for e in new], "kept": len(kept),
            "placed": [e.amenity_id(ws.campus_id) for e in new
                       if isinstance(e, PlacePoint)]}


# --- the answer -----------------------------------------------------------------------------


def workspace_view(store: CampusStore, ws: Workspace) -> dict[str, Any]:
    """A workspace as the API shows it (never the server's paths)."""
    job = job_of(store, ws)
    return {
        "id": ws.id, "campus_id": ws.campus_id, "name": ws.name, "org": ws.org_id,
        "state": ws.state.value, "created_by": ws.created_by,
        "created_at": ws.created_at.isoformat(), "updated_at": ws.updated_at.isoformat(),
        "files": [f.to_dict() for f in ws.files],
        "drawings": [d.to_dict() for d in ws.drawings],
        "settings": {**DEFAULT_SETTINGS, **dict(ws.settings)},
        "job": None if job is None else {"id": job.id, "state": job.state.value,
                                         "percent": job.percent, "message": job.message,
                                         "error": job.error},
        "draft_revision": ws.draft_revision, "report": ws.report, "edits": len(ws.edits),
    }
