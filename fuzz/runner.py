"""Import one campus folder in a forked child under time and memory limits, and judge it.

The child imports with :class:`importers.limits.ImportLimits`, runs the publish check
(:func:`api.publish.check_servable`) and, when that passes, independently asks the campus what
the service would (every level's GeoJSON and the grid as strict JSON, lookups, a locate, the
cells, tiles around every building). The parent gives it an address-space limit
(``resource.setrlimit``) and a wall-clock timeout. Outcomes:

``error``      a named :class:`~gridmap.errors.GridmapError`: clean.
``imported``   imported, passed the publish check and answered everything: clean.
``refused``    imported, but the publish check refused it (clean: nothing published).
``traceback``  any other exception: a failure.
``hang``       the child outlived its timeout: a failure.
``memory``     MemoryError, or the child killed by a signal: a failure.
``unservable`` passed the publish check, then failed to answer: a failure.

That is the ``campus`` check. Two more judge one file (see :mod:`fuzz.targets`):

``drawing``    a DXF read as a floor plan with its sidecar's layers and unit (``error`` or
               ``imported``, whose rooms must be valid and its findings strict JSON); then the
               layer proposal, which must end within its budget with a strict-JSON proposal
               or a named error; the GEODATA reader; the workspace's analysis of the drawing
               as uploaded (proposal, preview entities, bounds: strict JSON, never raising).
``archive``    a zip as uploaded to a workspace: unpacked safely (a named
               :class:`~gridmap.errors.ArchiveError`, or files all inside the folder, no
               links, within the byte limit), then every file unpacked sniffed and each
               drawing analysed as the workspace does.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import select
import signal
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLEAN = frozenset({"error", "imported", "refused"})
FAILURES = ("traceback", "hang", "memory", "unservable")


@dataclass(frozen=True)
class Limits:
    """What one fuzz case may spend."""

    import_time_s: float = 10.0  # the importer's own deadline (a clean error when passed)
    timeout_s: float = 60.0  # the parent's hard limit: past it, the case hangs
    memory_mb: int = 1536  # address space the child may add to what it inherited


@dataclass(frozen=True)
class Outcome:
    kind: str
    detail: str
    seconds: float

    @property
    def clean(self) -> bool:
        return self.kind in CLEAN


def preload() -> None:
    """Import everything a case uses before forking, so each child starts at once."""
    import importlib
    import logging

    logging.getLogger("ezdxf").setLevel(logging.CRITICAL)  # it narrates every repair
    # shapely warns of every nan coordinate it is given; the outcome says what mattered
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"shapely\.")
    for module in ("api.geo", "gridmap.index", "gridmap.lookup", "importers.campus",
                   "tiles.raster", "api.publish", "importers.layer_proposal",
                   "importers.geodata", "importers.archives", "api.workspace",
                   "api.workspace_files"):
        with contextlib.suppress(ImportError):  # api.publish: not in code from before it
            importlib.import_module(module)


def _serve_everything(campus: Any) -> None:
    """What the service answers about a campus, strictly serialised as the API does."""
    from api.geo import campus_detail, grid_feature_collection, level_feature_collection
    from gridmap import grid
    from gridmap.crs import LocalFrame
    from gridmap.index import CampusIndex
    from gridmap.lookup import lookup
    from gridmap.serialize import campus_from_geojson, campus_to_geojson
    from tiles.raster import CampusDrawing

    def strict(data: Any) -> None:
        json.dumps(data, allow_nan=False)

    strict(campus_detail(campus, 1))
    for ordinal in campus.ordinals:
        strict(level_feature_collection(campus, ordinal, with_cells=True))
    strict(grid_feature_collection(campus))
    data = campus_to_geojson(campus)
    strict(data)
    campus_from_geojson(json.loads(json.dumps(data)))
    index = CampusIndex(campus)
    queries = [u.number for u in campus.units[:5] if u.number] + [
        "A1", "gym", "knox box", "door 1", "aed", "room 214 2nd floor", "nearest exit"]
    for q in queries:
        strict(lookup(index, q).to_dict())
    b = grid.lonlat_bounds(campus.grid, LocalFrame(campus.crs))
    centre = ((b.minx + b.maxx) / 2.0, (b.miny + b.maxy) / 2.0)
    strict(index.locate(*centre))
    for cell in grid.all_cells(campus.grid)[:20]:
        strict(index.cell_contents(cell.label))
    drawing = CampusDrawing(campus)
    points = [centre] + [(p.x, p.y) for p in
                         (bld.footprint.representative_point() for bld in campus.buildings)]
    for ordinal in campus.ordinals:
        for k, (lon, lat) in enumerate(points):
            z = 16 + k % 4
            drawing.render(ordinal, z, *tile_at(lon, lat, z))


def _import(path: Path, limits: Limits) -> Any:
    from importers.campus import import_campus

    try:
        from importers.limits import ImportLimits
    except ImportError:  # code from before import limits existed (to measure it)
        return import_campus(path, None)
    return import_campus(path, None, ImportLimits(time_limit_s=limits.import_time_s,
                                                  memory_limit_mb=limits.memory_mb * 0.6))


def _check_servable(campus: Any) -> None:
    try:
        from api.publish import check_servable
    except ImportError:  # code from before the publish check existed: everything published
        return
    check_servable(campus)


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point (the fuzzer's own, so it also runs on older code)."""
    n = 2 ** z
    lat = max(-85.0511, min(85.0511, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _child(folder: Path, manifest: str, limits: Limits, check: str = "campus"
           ) -> dict[str, str]:
    if check == "drawing":
        return _guarded(_check_drawing, folder / manifest, limits)
    if check == "archive":
        return _guarded(_check_archive, folder / manifest, limits)
    return _check_campus(folder, manifest, limits)


def _guarded(run: Any, path: Path, limits: Limits) -> dict[str, str]:
    try:
        result: dict[str, str] = run(path, limits)
    except MemoryError:
        return {"kind": "memory", "detail": traceback.format_exc()[-2000:]}
    except BaseException:
        return {"kind": "traceback", "detail": traceback.format_exc()[-3000:]}
    return result


def _strict(data: Any, what: str) -> None:
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{what} is not strict JSON: {exc}") from None


def _sidecar(path: Path) -> tuple[Any, Any]:
    """The Layers and DrawingUnit a fixture's sidecar declares (defaults without one)."""
    import tomllib

    from importers.manifest import DrawingUnit, LayerOverrides, Layers

    sidecar = path.with_name(path.stem + ".layers.toml")
    if not sidecar.is_file():
        return Layers(), None
    data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
    unit = DrawingUnit(data["units"]) if data.get("units") else None
    return LayerOverrides(**data.get("layers", {})).apply(Layers()), unit


def _check_drawing(path: Path, limits: Limits) -> dict[str, str]:
    from gridmap.errors import GridmapError
    from importers.dxf import open_drawing, read_floor_plan
    from importers.limits import ImportLimits, WorkBudget

    layers, unit = _sidecar(path)
    import_limits = ImportLimits(time_limit_s=limits.import_time_s,
                                 memory_limit_mb=limits.memory_mb * 0.6)
    said = ""
    try:
        plan = read_floor_plan(path, layers, unit, budget=WorkBudget(import_limits))
    except GridmapError as exc:
        if isinstance(exc.__cause__, MemoryError):
            return {"kind": "memory", "detail": f"{type(exc).__name__}: {exc}"}
        said = f"{type(exc).__name__}: {str(exc)[:400]}"
    else:
        for room in plan.rooms:
            if not room.polygon.is_valid or not all(
                    math.isfinite(v) for v in room.polygon.bounds):
                raise AssertionError(f"room {room.number!r}: invalid polygon "
                                     f"{room.polygon.wkt[:200]}")
        _strict([f.to_dict() for f in plan.findings], "the floor plan's findings")
    # what the workspace does with an uploaded drawing: open it whole, propose, preview
    try:
        doc = open_drawing(path, [])
    except GridmapError:
        doc = None
    over_budget = False
    if doc is not None:
        over_budget = _check_proposal(doc, path.name, limits)
        _check_geodata(doc, path.name)
    if not over_budget:  # else the workspace's proposal would only spend its own budget too
        _check_analysis(path)
    if said:
        return {"kind": "error", "detail": said}
    return {"kind": "imported", "detail": f"{len(plan.rooms)} rooms, {len(plan.doors)} doors, "
                                          f"{len(plan.findings)} findings"}


def _check_proposal(doc: Any, name: str, limits: Limits) -> bool:
    """The layer proposal ends within its budget (a little over: it checks now and then)
    with a strict-JSON proposal, or with a named error; True when it ran out of budget."""
    from gridmap.errors import GridmapError, ImportLimitExceeded
    from importers.layer_proposal import layer_hint, propose_layers
    from importers.limits import ImportLimits, WorkBudget

    budget_s = limits.import_time_s
    started = time.monotonic()
    over_budget = False
    try:
        proposal = propose_layers(doc, budget=WorkBudget(ImportLimits(
            time_limit_s=budget_s, memory_limit_mb=limits.memory_mb * 0.6)))
    except ImportLimitExceeded:
        proposal, over_budget = None, True
    except GridmapError:
        proposal = None
    spent = time.monotonic() - started
    if spent > 2 * budget_s + 5:
        raise AssertionError(f"{name}: the layer proposal took {spent:.1f} s on a "
                             f"{budget_s:g} s budget")
    if proposal is not None:
        _strict(proposal.to_dict(), f"{name}: the layer proposal")
        proposal.layers_config()
    if not over_budget:
        hint = layer_hint(doc)
        if not isinstance(hint, str):
            raise AssertionError(f"{name}: layer_hint gave {hint!r}")
    return over_budget


def _check_geodata(doc: Any, name: str) -> None:
    from gridmap.errors import GridmapError
    from importers.geodata import read_geodata

    try:
        placement = read_geodata(doc, name)
    except GridmapError:
        return
    if placement is not None:
        for p in placement.control_points:
            if not all(math.isfinite(v) for v in (*p.cad, *p.lonlat)):
                raise AssertionError(f"{name}: GEODATA gave a control point {p}")


def _workspace(name: str) -> Any:
    """One of the workspace's upload functions (api.workspace_files, earlier api.workspace)."""
    import importlib

    for module in ("api.workspace_files", "api.workspace"):
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if found is not None:
            return found
    raise ImportError(f"no workspace function {name}")


def _check_analysis(path: Path) -> None:
    """The workspace's look at an uploaded drawing never raises and is strict JSON."""
    analysis = _workspace("analyse_drawing")(path)
    _strict(analysis.proposal, f"{path.name}: the workspace's proposal")
    _strict(analysis.entities, f"{path.name}: the workspace's preview entities")
    if analysis.bounds is not None and not all(math.isfinite(v) for v in analysis.bounds):
        raise AssertionError(f"{path.name}: bounds {analysis.bounds}")


def _check_archive(path: Path, limits: Limits) -> dict[str, str]:
    import stat

    from gridmap.errors import GridmapError
    from importers.archives import MAX_RATIO, extract_archive

    sniff = _workspace("sniff")

    into = path.parent / "unpacked"
    max_bytes = 100 << 20
    try:
        files = extract_archive(path, into, max_bytes=max_bytes, max_files=200,
                                max_ratio=MAX_RATIO, name=path.name)
    except GridmapError as exc:
        left = [p for p in into.rglob("*") if not p.is_dir()] if into.exists() else []
        if left:
            raise AssertionError(f"refused ({exc}) but left {left[:5]} behind") from None
        return {"kind": "error", "detail": f"{type(exc).__name__}: {str(exc)[:400]}"}
    root = into.resolve()
    total = 0
    for p in into.rglob("*"):
        mode = p.lstat().st_mode
        if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise AssertionError(f"unpacked {p} is not a plain file or folder")
        if stat.S_ISREG(mode):
            total += p.stat().st_size
    if total > max_bytes:
        raise AssertionError(f"unpacked {total} bytes, over the {max_bytes} limit")
    drawings = 0
    for f in files:
        if not f.resolve().is_relative_to(root):
            raise AssertionError(f"unpacked {f} outside {root}")
        with f.open("rb") as fh:
            kind = sniff(fh.read(4096), f.name).kind
        if kind == "dxf" and drawings < 2:
            drawings += 1
            _check_analysis(f)
    return {"kind": "imported", "detail": f"{len(files)} files, {drawings} drawings analysed"}


def _check_campus(folder: Path, manifest: str, limits: Limits) -> dict[str, str]:
    from gridmap import errors

    unservable = getattr(errors, "Unservable", ())
    try:
        result = _import(folder / manifest, limits)
    except MemoryError:
        return {"kind": "memory", "detail": traceback.format_exc()[-2000:]}
    except errors.GridmapError as exc:
        if isinstance(exc.__cause__, MemoryError):
            return {"kind": "memory", "detail": f"{type(exc).__name__}: {exc}"}
        return {"kind": "error", "detail": f"{type(exc).__name__}: {str(exc)[:400]}"}
    except BaseException:
        return {"kind": "traceback", "detail": traceback.format_exc()[-3000:]}
    try:
        _check_servable(result.campus)
    except unservable as exc:
        return {"kind": "refused", "detail": str(exc)[:400]}
    except MemoryError:
        return {"kind": "memory", "detail": traceback.format_exc()[-2000:]}
    except BaseException:
        return {"kind": "traceback", "detail": "publish check: " + traceback.format_exc()[-3000:]}
    try:
        _serve_everything(result.campus)
    except MemoryError:
        return {"kind": "memory", "detail": traceback.format_exc()[-2000:]}
    except BaseException:
        return {"kind": "unservable", "detail": traceback.format_exc()[-3000:]}
    return {"kind": "imported", "detail": f"{len(result.campus.units)} units, "
                                          f"{len(result.warnings)} warnings"}


def _address_space() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Running:
    """A case running in a forked child; poll it until it reports, dies or times out."""

    def __init__(self, folder: Path, manifest: str, limits: Limits, check: str = "campus",
                 ) -> None:
        self.started = time.monotonic()
        self.limits = limits
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: limit itself, run the case, report, exit without cleanup
            os.close(read_fd)
            code = 0
            try:
                cap = _address_space() + limits.memory_mb * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
                report = _child(folder, manifest, limits, check)
                with os.fdopen(write_fd, "w") as out:
                    out.write(json.dumps(report))
            except BaseException:
                code = 3
            os._exit(code)
        os.close(write_fd)
        self.pid = pid
        self.fd = read_fd
        self.chunks: list[bytes] = []
        self.outcome: Outcome | None = None

    def poll(self) -> Outcome | None:
        if self.outcome is not None:
            return self.outcome
        elapsed = time.monotonic() - self.started
        ready, _, _ = select.select([self.fd], [], [], 0)
        if ready:
            chunk = os.read(self.fd, 65536)
            if chunk:
                self.chunks.append(chunk)
                return None
            self._finish(elapsed)
        elif elapsed > self.limits.timeout_s:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self.fd)
            self.outcome = Outcome("hang", f"no answer after {self.limits.timeout_s:g} s",
                                   elapsed)
        return self.outcome

    def _finish(self, elapsed: float) -> None:
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        raw = b"".join(self.chunks)
        if raw:
            report = json.loads(raw)
            self.outcome = Outcome(report["kind"], report["detail"], elapsed)
        elif os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            self.outcome = Outcome("memory", f"child killed by {sig}", elapsed)
        else:
            self.outcome = Outcome("traceback", f"child exited {os.WEXITSTATUS(status)} "
                                   "without a report", elapsed)

    def wait(self) -> Outcome:
        while (outcome := self.poll()) is None:
            select.select([self.fd], [], [], 0.05)
        return outcome


def run_case(folder: Path, manifest: str = "campus.toml", limits: Limits | None = None,
             check: str = "campus") -> Outcome:
    """Run ``check`` on ``folder/manifest`` in a limited child and judge the result."""
    return Running(folder, manifest, limits or Limits(), check).wait()
