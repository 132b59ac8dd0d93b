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
    for module in ("api.geo", "gridmap.index", "gridmap.lookup", "importers.campus",
                   "tiles.raster", "api.publish"):
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


def _child(folder: Path, manifest: str, limits: Limits) -> dict[str, str]:
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

    def __init__(self, folder: Path, manifest: str, limits: Limits) -> None:
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
                report = _child(folder, manifest, limits)
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
             ) -> Outcome:
    """Import ``folder/manifest`` in a limited child and judge the result."""
    return Running(folder, manifest, limits or Limits()).wait()
