"""``gridmap workspace``: the workspace from the command line, as the browser page does it.

::

    gridmap workspace new CAMPUS [--name N] [--org O]          # prints the workspace id
    gridmap workspace add WS FILE...                           # DXF, zip, GeoJSON, CSV, ...
                                                               # (waits for the drawings)
    gridmap workspace show WS                                  # files, proposal, settings, report
    gridmap workspace set WS DRAWING --building A --level 0 --rooms RAUM --labels NR --unit ft
    gridmap workspace point WS DRAWING --cad 0,0 --lonlat=-84.43,42.70 [--name "SW corner"]
    gridmap workspace campus WS [--campus-name N] [--address A] [--cell-size 100 --grid-unit ft]
                                [--parcel FILE] [--grounds FILE] [--pois FILE]
    gridmap workspace import WS                                # waits, with progress
    gridmap workspace report WS
    gridmap workspace edit WS room 214 --number 215            # a room by number or id
    gridmap workspace edit WS door 7 --number 7A               # a door by number or id (locked)
    gridmap workspace edit WS entrance 3                       # the building's main entrance
    gridmap workspace edit WS place knox_box --lonlat=LON,LAT [--name N]
    gridmap workspace edit WS remove AMENITY_ID
    gridmap workspace list

Then ``gridmap publish CAMPUS --revision N --expect-current M`` publishes the draft. Every
change is audited as ``cli:<user>``. Only :mod:`argparse` is imported at start-up.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from api.job_queue import Job, JobQueue
    from api.settings import Settings
    from api.store import CampusStore
    from api.store_workspace import Drawing, Workspace


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``gridmap workspace`` on the CLI's subcommands."""
    ws = sub.add_parser("workspace", help="prepare a campus from uploaded files: add, confirm "
                                          "layers, georeference, import, fix",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = ws.add_subparsers(dest="workspace_command", required=True)

    p = commands.add_parser("new", help="start a workspace for a campus (new or your own)")
    p.add_argument("campus", help="the campus id (lower case, digits, - and _)")
    p.add_argument("--name", help="the campus's name (default: its id)")
    p.add_argument("--org", help="the district (default: the campus's owner or the only one)")
    p.set_defaults(func=cmd_new)

    p = commands.add_parser("list", help="every workspace")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("add", help="add files (told apart by their content); waits, "
                                        "with progress, while their drawings are read")
    p.add_argument("workspace", help="workspace id (ws_...)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=cmd_add)

    p = commands.add_parser("show", help="files, drawings with their proposed layers, settings, "
                                         "report")
    p.add_argument("workspace")
    p.set_defaults(func=cmd_show)

    p = commands.add_parser("set", help="a drawing's building, level, layers and units")
    p.add_argument("workspace")
    p.add_argument("drawing", help="drawing id (wd_...) or name")
    p.add_argument("--building", help="building id (A, B, Gym, ...)")
    p.add_argument("--building-name")
    p.add_argument("--level", type=int, help="level ordinal (0: ground floor)")
    p.add_argument("--level-name", help="e.g. '1st Floor'")
    p.add_argument("--short-name", help="e.g. '1'")
    for role in ("rooms", "labels", "doors", "outline", "walls", "stairs", "elevators"):
        p.add_argument(f"--{role}", metavar="LAYER", help=f"the {role} layer")
    p.add_argument("--unit", help="drawing unit when the drawing declares none (in, ft, us_ft, "
                                  "yd, mm, cm, dm, m)")
    p.add_argument("--transform", choices=("similarity", "affine"))
    p.add_argument("--geodata", action=argparse.BooleanOptionalAction, default=None,
                   help="place the drawing by its own GEODATA")
    p.set_defaults(func=cmd_set)

    p = commands.add_parser("point", help="add a control point and print the fit")
    p.add_argument("workspace")
    p.add_argument("drawing")
    p.add_argument("--cad", required=True, metavar="X,Y", help="the point in drawing units")
    p.add_argument("--lonlat", required=True, metavar="LON,LAT",
                   help="longitude first; a negative one as --lonlat=-84.43,42.70")
    p.add_argument("--name", default="")
    p.set_defaults(func=cmd_point)

    p = commands.add_parser("campus", help="campus name, address, grid and which files are the "
                                           "parcel, grounds and points")
    p.add_argument("workspace")
    p.add_argument("--campus-name")
    p.add_argument("--address")
    p.add_argument("--cell-size", type=float)
    p.add_argument("--grid-unit", choices=("ft", "m"))
    for key in ("parcel", "grounds", "pois"):
        p.add_argument(f"--{key}", metavar="FILE", help=f"the {key} file (id or name)")
    p.set_defaults(func=cmd_campus)

    p = commands.add_parser("import", help="import as a new draft revision; waits, with progress")
    p.add_argument("workspace")
    p.set_defaults(func=cmd_import)

    p = commands.add_parser("report", help="the last import's report")
    p.add_argument("workspace")
    p.set_defaults(func=cmd_report)

    p = commands.add_parser("edit", help="fix a room, a door or a point: a new draft revision")
    p.add_argument("workspace")
    p.add_argument("what", choices=("room", "door", "entrance", "place", "remove"))
    p.add_argument("target", help="room: number or id; door/entrance: door number or id; "
                                  "place: the kind (knox_box, aed, gas_shutoff, ...); remove: "
                                  "the point's id")
    p.add_argument("--number")
    p.add_argument("--name")
    p.add_argument("--alias", action="append", dest="aliases", metavar="ALIAS")
    p.add_argument("--lonlat", metavar="LON,LAT",
                   help="longitude first; a negative one as --lonlat=-84.43,42.70")
    p.add_argument("--building", help="place: the building id")
    p.set_defaults(func=cmd_edit)


# --- helpers --------------------------------------------------------------------------------


def _error(message: str) -> Exception:
    from api.cli import CliError

    return CliError(message)


def _pair(text: str, what: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise _error(f"{what} must be two numbers like 12.5,40 (got {text!r})") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise _error(f"{what} must be finite numbers (got {text!r})")
    return a, b


def _audit(store: CampusStore, ws: Workspace, action: str, detail: str = "") -> None:
    from api.cli import cli_actor
    from api.store import AuditEntry, utcnow

    store.audit(AuditEntry(ts=utcnow(), action=action, token_name=cli_actor(),
                           campus_id=ws.campus_id, detail=f"{ws.id} {detail}".strip(),
                           org_id=ws.org_id, credential_kind="cli"))


def _workspace(store: CampusStore, ws_id: str) -> Workspace:
    from api.store_workspace import workspaces

    return workspaces(store).get(ws_id)


def _drawing(ws: Workspace, key: str) -> Drawing:
    found = [d for d in ws.drawings if key in (d.id, d.name) or d.name.endswith("/" + key)]
    if len(found) == 1:
        return found[0]
    names = ", ".join(f"{d.name} ({d.id})" for d in ws.drawings) or "none"
    raise _error(f"{'several' if found else 'no'} drawing {key!r} in {ws.id}; its drawings: "
                 f"{names}")


def _file_id(ws: Workspace, key: str) -> str:
    found = [f for f in ws.files if key in (f.id, f.name) or f.name.endswith("/" + key)]
    if len(found) != 1:
        names = ", ".join(f"{f.name} ({f.kind.value}, {f.id})" for f in ws.files) or "none"
        raise _error(f"{'several' if found else 'no'} file {key!r} in {ws.id}; its files: "
                     f"{names}")
    return found[0].id


# --- commands -------------------------------------------------------------------------------


def cmd_new(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    import re

    from api.cli import campus_owner_for_import, cli_actor
    from api.store_workspace import workspaces
    from api.workspace import initial_settings

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,99}", args.campus):
        raise _error(f"campus id {args.campus!r}: lower-case letters, digits, - and _ only")
    org = campus_owner_for_import(store, args.campus, args.org)
    ws = workspaces(store).create(
        campus_id=args.campus, name=args.name or args.campus, org_id=org,
        created_by=cli_actor(), created_by_id=None,
        settings=initial_settings(store, args.campus, args.name))
    _audit(store, ws, "workspace_create", f"for campus {ws.campus_id}")
    print(ws.id)
    print(f"next: gridmap workspace add {ws.id} FILE...", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.store_workspace import workspaces

    for ws in workspaces(store).list():
        draft = f", draft revision {ws.draft_revision}" if ws.draft_revision else ""
        print(f"{ws.id}  {ws.campus_id}  {ws.state.value}{draft}  {ws.name}")
    return 0


class _Queue:
    """The CLI's way to queue a job: straight into the store's job table."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def submit(self, *a: Any, **k: Any) -> Any:
        return self.queue.enqueue(*a, **k)


def _job_queue(store: CampusStore, settings: Settings) -> JobQueue:
    from api.jobs import JobQueue

    return JobQueue.of_store(store, max_attempts=settings.job_max_attempts)


class _Telling:
    """The job queue as this process's worker uses it, telling ``progress`` each step of
    ``job_id`` as it is written (polling the table would miss the quick ones). One lock
    orders these with the polled states, so the bar never goes back."""

    def __init__(self, queue: JobQueue, job_id: str, progress: Callable[[int, str], None],
                 lock: threading.Lock) -> None:
        self._queue = queue
        self._job_id = job_id
        self._progress = progress
        self._lock = lock

    def report(self, claim: Any, percent: int, message: str, lease_s: float) -> bool:
        with self._lock:
            held = self._queue.report(claim, percent, message, lease_s)
            if held and claim.job.id == self._job_id:
                self._progress(percent, message)
        return held

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


def _follow_job(store: CampusStore, settings: Settings, queue: JobQueue, job_id: str,
                progress: Callable[[int, str], None]) -> Job | None:
    """Run the queue here until ``job_id`` has ended (a worker of the server may take it
    instead), telling ``progress`` its percent and message; the job as it ended."""
    from api.jobs import JobEnv, JobState, JobWorker, worker_name

    lock = threading.Lock()
    telling: Any = _Telling(queue, job_id, progress, lock)
    worker = JobWorker(telling, JobEnv(store, settings), worker_name(0),
                       lease_s=settings.job_lease_s)
    done = threading.Event()

    def work() -> None:
        try:
            while not done.is_set():
                current = queue.find(job_id)
                if current is None or current.state.value not in ("queued", "running"):
                    return
                if current.state is JobState.QUEUED and worker.run_one() is None:
                    done.wait(0.2)  # not claimable yet: poll the queue again, or stop
                elif current.state is JobState.RUNNING:
                    done.wait(0.2)  # another worker (the server's) has it
        finally:
            done.set()

    thread = threading.Thread(target=work, daemon=True, name=f"job {job_id}")
    thread.start()
    while True:
        with lock:
            current = queue.find(job_id)
            if current is not None:
                progress(current.percent, current.message)
        if current is None or current.state.value not in ("queued", "running"):
            break
        done.wait(0.2)
    done.set()
    thread.join(5)
    return queue.find(job_id)


def cmd_add(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    """Each file is kept and told apart at once; the drawings of a DXF or zip are then read
    by an analysis job, run here with the same progress bar as ``gridmap import`` (on
    standard error), and their proposals printed. A drawing that cannot be read stops the
    command naming the problem (the file is not kept)."""
    from api import workspace_files as files
    from api.cli import cli_actor
    from api.cli_progress import ImportProgress

    ws = _workspace(store, args.workspace)
    queue = _job_queue(store, settings)
    for path in args.files:
        if not path.is_file():
            raise _error(f"{path}: no such file")
        result = files.add_upload(store, settings, ws, path.name, path, jobs=_Queue(queue),
                                  requested_by=cli_actor())
        for f in result.files:
            print(f"{f.name}: {f.kind.value}, {f.size} bytes ({f.id})")
        _audit(store, ws, "workspace_upload",
               ", ".join(f"{f.kind.value} {f.name} (sha256 {f.sha256[:12]})"
                         for f in result.files)
               + "".join(f"; analysis job {a.job_id} {a.state}" for a in result.analyses))
        for analysis in result.analyses:
            if not analysis.pending:
                continue
            bar = ImportProgress(sys.stderr, what="analysis")  # a bar on a terminal, lines in a log
            try:
                final = _follow_job(store, settings, queue, analysis.job_id, bar)
            finally:
                bar.close()
            if final is None or final.state.value != "done":
                why = "its job is gone" if final is None else (final.error or final.state.value)
                raise _error(f"{analysis.name} was not kept: {why}")
        ids = {f.id for f in result.files}
        for d in _workspace(store, ws.id).drawings:
            if d.file_id in ids:
                print(f"  drawing {d.name} ({d.id}): {_proposal_line(d.proposal)}")
        for s in result.skipped:
            print(f"  skipped {s['name']}: {s['why']}")
        if result.duplicate:
            print("  (the workspace had this file already: nothing new kept)")
    return 0


def _proposal_line(proposal: Any) -> str:
    if proposal.get("error"):
        return f"cannot be read: {proposal['error']}"
    roles = [f"{role} {proposal[role]}" for role in ("rooms", "labels", "doors", "outline")
             if proposal.get(role)]
    unit = proposal.get("unit") or "unit unknown"
    return f"{', '.join(roles) or 'no layers recognised'}; {unit}"


def cmd_show(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api import workspace as logic
    from api import workspace_files as files

    ws = logic.sync_with_job(store, _workspace(store, args.workspace))
    ws = files.sync_analyses(store, settings, ws)
    _audit(store, ws, "workspace")
    print(f"{ws.id}: campus {ws.campus_id} ({ws.name}), {ws.state.value}"
          + (f", draft revision {ws.draft_revision}" if ws.draft_revision else ""))
    analyses = files.analysis_states(store, ws)
    state_of = {a.file_id: a for a in analyses}
    print("files:")
    for f in ws.files:
        analysis = state_of.get(f.id)
        print(f"  {f.id}  {f.kind.value:8} {f.size:>10} bytes  {f.name}"
              + (f"  ({f.error})" if f.error else "")
              + (f"  [drawings {analysis.shown_state}]" if analysis and analysis.pending
                 else ""))
    held = {f.id for f in ws.files}
    for a in analyses:
        if a.state == "failed" and a.file_id not in held:
            print(f"  not kept: {a.name}: {a.error}")
    for d in ws.drawings:
        s, p = d.settings, d.proposal
        print(f"drawing {d.id}  {d.name}: building {s.get('building_id')} level "
              f"{s.get('level_ordinal')} ({s.get('level_name')}), unit "
              f"{s.get('unit') or p.get('unit') or '?'}, {len(s.get('control_points') or [])} "
              f"control points{', GEODATA' if d.has_geodata else ''}")
        if p.get("error"):
            print(f"  cannot be read: {p['error']}")
        reasons = p.get("reasons") or {}
        for role in ("rooms", "labels", "doors", "outline", "walls", "stairs", "elevators"):
            chosen = (s.get("layers") or {}).get(role)
            proposed = p.get(role)
            if chosen or proposed:
                why = f" ({reasons[role]})" if role in reasons else ""
                mark = "" if chosen == proposed else f" [proposed: {proposed}]"
                print(f"  {role:9} {chosen or '-'}{mark}{why}")
        if p.get("unit_reason"):
            print(f"  unit      {p.get('unit') or '?'} ({p['unit_reason']})")
        for layer in p.get("layers") or []:
            print(f"    layer {layer.get('name')}: {layer.get('closed_outlines', 0)} closed "
                  f"outlines, {layer.get('texts', 0)} texts "
                  f"({layer.get('number_texts', 0)} numbers), {layer.get('inserts', 0)} "
                  f"inserts, {layer.get('lines', 0)} lines, {layer.get('arcs', 0)} arcs")
    settings_shown = {k: v for k, v in dict(ws.settings).items() if v not in (None, "")}
    print(f"settings: {settings_shown}")
    if ws.report:
        _print_report(ws.report)
    return 0


def _settings_of(ws: Workspace, drawing: Drawing) -> dict[str, Any]:
    return dict(drawing.settings)


def cmd_set(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api import workspace as logic
    from api import workspace_files as files
    from api.store_workspace import workspaces

    ws = _workspace(store, args.workspace)
    drawing = _drawing(ws, args.drawing)
    new = _settings_of(ws, drawing)
    for key, value in (("building_id", args.building), ("building_name", args.building_name),
                       ("level_ordinal", args.level), ("level_name", args.level_name),
                       ("level_short_name", args.short_name), ("unit", args.unit),
                       ("transform", args.transform), ("use_geodata", args.geodata)):
        if value is not None:
            new[key] = value
    if args.building and not args.building_name and new.get("building_name", "").startswith(
            "Building "):
        new["building_name"] = f"Building {args.building}"
    layers = dict(new.get("layers") or {})
    for role in files.ROLES:
        value = getattr(args, role)
        if value is not None:
            layers[role] = value
    new["layers"] = {k: v for k, v in layers.items() if v}
    _check_drawing_settings(new)
    logic.check_drawing_settings(ws, drawing, new)
    saved = workspaces(store).set_drawing_settings(ws.id, drawing.id, new)
    _audit(store, ws, "workspace_drawing", f"{drawing.id}: building {new.get('building_id')} "
                                           f"level {new.get('level_ordinal')}")
    print(f"{saved.name}: building {new.get('building_id')} level {new.get('level_ordinal')}, "
          f"layers {new['layers']}, unit {new.get('unit') or 'from the drawing'}")
    return 0


def _check_drawing_settings(settings: dict[str, Any]) -> None:
    """The drawing's settings as the API checks them (one model for both)."""
    from pydantic import ValidationError

    from api.routes_workspace import DrawingSettingsIn

    try:
        DrawingSettingsIn.model_validate(settings)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise _error(f"drawing settings: {problems}") from None


def cmd_point(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api import workspace as logic
    from api.store_workspace import workspaces

    ws = _workspace(store, args.workspace)
    drawing = _drawing(ws, args.drawing)
    cad = _pair(args.cad, "--cad")
    lon, lat = _pair(args.lonlat, "--lonlat")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _error(f"--lonlat {args.lonlat}: not a longitude, latitude pair (longitude "
                     "first)")
    new = _settings_of(ws, drawing)
    points = list(new.get("control_points") or [])
    points.append({"name": args.name or f"point {len(points) + 1}", "cad": list(cad),
                   "lonlat": [lon, lat]})
    new["control_points"] = points
    _check_drawing_settings(new)
    workspaces(store).set_drawing_settings(ws.id, drawing.id, new)
    _audit(store, ws, "workspace_drawing", f"{drawing.id}: control point {len(points)}")
    print(f"{drawing.name}: {len(points)} control points")
    if len(points) >= 2:
        unit = new.get("unit") or drawing.proposal.get("unit")
        d = logic.diagnose(points, str(new.get("transform") or "similarity"), unit)
        _audit(store, ws, "workspace_fit", f"{len(points)} points, rms {d.get('rms_m')}")
        print(f"fit ({d['transform']}): RMS {d['rms_m']:.3f} m"
              + ("" if d.get("ok") else "  -- check the points"))
        for p in d["points"]:
            loo = p.get("leave_one_out_m")
            print(f"  {p['name']}: {p['residual_m']:.3f} m"
                  + ("" if loo is None else f" (without it: {loo:.3f} m)"))
        for line in d.get("advice") or []:
            print(f"  ! {line}")
    return 0


def cmd_campus(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api import workspace as logic
    from api.store_workspace import workspaces

    ws = _workspace(store, args.workspace)
    new = {**logic.DEFAULT_SETTINGS, **dict(ws.settings)}
    if args.campus_name is not None:
        new["campus_name"] = args.campus_name
    if args.address is not None:
        new["address"] = args.address
    grid = dict(new.get("grid") or {})
    if args.cell_size is not None:
        if not (math.isfinite(args.cell_size) and args.cell_size > 0):
            raise _error("--cell-size must be a positive number")
        grid["cell_size"] = args.cell_size
    if args.grid_unit is not None:
        grid["unit"] = args.grid_unit
    new["grid"] = grid
    for key in ("parcel", "grounds", "pois"):
        value = getattr(args, key)
        if value is not None:
            new[f"{key}_file"] = _file_id(ws, value)
    new = logic.check_settings(ws, new)
    workspaces(store).update(ws.id, settings=new)
    _audit(store, ws, "workspace_settings")
    print({k: v for k, v in new.items() if v not in (None, "")})
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api import workspace as logic
    from api import workspace_files as files
    from api.cli import cli_actor

    ws = logic.sync_with_job(store, _workspace(store, args.workspace))
    ws = files.sync_analyses(store, settings, ws)
    files.check_analysed(store, ws)  # drawings still being read (an upload through the API)
    queue = _job_queue(store, settings)
    job = logic.queue_import(store, settings, _Queue(queue), ws, requested_by=cli_actor(),
                             requested_by_id=None)
    _audit(store, ws, "workspace_import", f"job {job.id} queued")
    print(f"importing {ws.id} as job {job.id}", file=sys.stderr)
    said: list[str] = []

    def lines(percent: int, message: str) -> None:
        line = f"{percent:3d}% {message}"
        if not said or said[-1] != line:
            print(line, file=sys.stderr)
            said[:] = [line]

    _follow_job(store, settings, queue, job.id, lines)
    ws = logic.sync_with_job(store, _workspace(store, ws.id))
    final = queue.find(job.id)
    if final is None or final.state.value != "done":
        error = "" if final is None else f"{final.error_type}: {final.error}"
        raise _error(f"the import failed: {error}")
    if ws.report:
        _print_report(ws.report)
    print(f"draft revision {ws.draft_revision} of {ws.campus_id}: review it with gridmap diff "
          f"{ws.campus_id} ... and publish with gridmap publish {ws.campus_id} --revision "
          f"{ws.draft_revision} --expect-current ...")
    return 0


def _print_report(report: Any) -> None:
    counts = report.get("counts") or {}
    print(f"report of revision {report.get('revision')}: "
          + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
    findings = report.get("findings") or []
    for f in findings:
        where = f" at {f['at']}" if f.get("at") else ""
        action = f" -> {f['action']}" if f.get("action") else ""
        print(f"  {f.get('severity', 'warning')}: {f.get('message')}{where}{action}")
    total = report.get("findings_total", len(findings))
    if total > len(findings):
        print(f"  ... and {total - len(findings)} more")
    for name, rms in (report.get("residuals") or {}).items():
        print(f"  georeference {name}: RMS {rms:.3f} m")


def cmd_report(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api import workspace as logic

    ws = logic.sync_with_job(store, _workspace(store, args.workspace))
    if not ws.report:
        raise _error(f"{ws.id} has not been imported yet: gridmap workspace import {ws.id}")
    _audit(store, ws, "workspace_report")
    _print_report(ws.report)
    return 0


def cmd_edit(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api import workspace as logic
    from api.cli import cli_actor

    ws = logic.sync_with_job(store, _workspace(store, args.workspace))
    if ws.draft_revision is None:
        raise _error(f"{ws.id} has no draft yet: gridmap workspace import {ws.id}")
    campus = store.campus(ws.campus_id, ws.draft_revision)
    edit: dict[str, Any]
    if args.what == "room":
        matches = [u for u in campus.units if args.target in (u.id, u.number)]
        if len(matches) != 1:
            raise _error(f"{'several rooms' if matches else 'no room'} {args.target!r} in "
                         f"revision {ws.draft_revision}"
                         + (": give its id: " + ", ".join(u.id for u in matches)
                            if matches else ""))
        edit = {"op": "room", "unit_id": matches[0].id}
        for key in ("number", "name", "aliases"):
            if getattr(args, key) is not None:
                edit[key] = getattr(args, key)
    elif args.what in ("door", "entrance"):
        doors = [o for o in campus.openings if o.exterior and args.target in (o.id, o.number)]
        if len(doors) != 1:
            raise _error(f"{'several exterior doors' if doors else 'no exterior door'} "
                         f"{args.target!r}"
                         + (": give its id: " + ", ".join(o.id for o in doors) if doors else ""))
        if args.what == "entrance":
            edit = {"op": "main_entrance", "opening_id": doors[0].id}
        else:
            if not args.number:
                raise _error("edit door: --number N (the number painted on the door)")
            edit = {"op": "door_number", "opening_id": doors[0].id, "number": args.number,
                    "locked": True}
    elif args.what == "place":
        if not args.lonlat:
            raise _error("edit place: --lonlat LON,LAT")
        lon, lat = _pair(args.lonlat, "--lonlat")
        edit = {"op": "place", "kind": args.target, "name": args.name or "",
                "lonlat": [lon, lat]}
        if args.building:
            building = next((b for b in campus.buildings
                             if args.building in (b.id, b.short_name)), None)
            if building is None:
                raise _error(f"no building {args.building!r}")
            edit["building_id"] = building.id
    else:
        edit = {"op": "remove_point", "amenity_id": args.target}
    answer = logic.save_edits(store, ws, [edit], actor=cli_actor())
    _audit(store, ws, "workspace_edits", f"1 edit: draft revision {answer['revision']}")
    print(f"draft revision {answer['revision']} of {ws.campus_id} (was {answer['previous']}); "
          f"publish with gridmap publish {ws.campus_id} --revision {answer['revision']} "
          "--expect-current ...")
    return 0
