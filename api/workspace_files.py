"""A workspace's uploads: what each file is, kept safely, and what its drawings hold.

:func:`add_upload` keeps an uploaded file (by SHA-256, in the workspace's 0700 folder) and tells
by its *content* what it is (:func:`sniff`): a DXF (text or binary), a DWG (refused, with how to
convert it), a zip (unpacked by :func:`importers.archives.extract_archive`, each member told
apart: DXFs, shapefile sets, an IMDF archive, GeoJSON / GeoPackage / KML parcels and grounds,
CSV points of interest, OSM indoor files, GeoTIFF imagery). All of that is quick and happens in
the request; a refused upload leaves nothing behind.

Reading a drawing is not quick (a large school's floor: seconds to a minute), so a file
holding DXFs is kept at once and an *analysis* job is queued for it (:data:`JobKind.ANALYSIS
<api.job_queue.JobKind>`): :func:`analyse_upload` reads each DXF in a child process under the
import's limits (:func:`analyse_in_sandbox`), reporting its percent, and each becomes a
*drawing*: its proposed layers (:mod:`importers.layer_proposal`), GEODATA, bounds and preview
entities. A file whose drawings cannot be read is removed again, bytes and all
(:func:`forget_file`), and its job fails with the named problem. :func:`analysis_states` says
how each file's analysis stands; :func:`check_analysed` refuses an import while one is pending.
:mod:`api.workspace` re-exports what the routes and the CLI use.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from api.settings import Settings
from api.store import CampusStore
from api.store_workspace import (
    MAX_DRAWINGS,
    Drawing,
    FileKind,
    Workspace,
    WorkspaceFile,
    workspace_dir,
    workspaces,
)
from gridmap.errors import Conflict, GridmapError, ImportFailed, NotFound, PayloadTooLarge

log = logging.getLogger(__name__)

#: most features one preview answer holds (a drawing can have hundreds of thousands)
MAX_PREVIEW_FEATURES = 20_000
#: most features of a parcel / grounds / points file shown on the map
MAX_GIS_FEATURES = 5_000
#: an unpacked archive may be at most this many times its packed size (zip bombs)
MAX_ZIP_RATIO = 200.0
#: how many bytes of a file the sniffer reads
_HEAD = 4096

_DWG_MAGIC = re.compile(rb"^AC(1\.[0-9]{2}|1\.40|1\.50|2\.[0-9]{2}|10[0-9]{2})")
_BINARY_DXF = b"AutoCAD Binary DXF"
_DXF_TEXT = re.compile(rb"^\s*(999\s*\r?\n.*\r?\n\s*)*0\s*\r?\n\s*SECTION\s*\r?\n", re.S)
HOW_TO_CONVERT = (
    "save it as DXF from the CAD program (File > Save As > DXF, AutoCAD 2018 DXF or older), "
    "or convert it with the free ODA File Converter or LibreCAD, then upload the DXF")


class UnsupportedUpload(ImportFailed):
    """An uploaded file gridmap cannot use (a DWG, an unknown format, an unsafe archive)."""


class AnalysisPending(Conflict):
    """A file's drawings are still being read: the workspace cannot be imported yet."""


class Submitter(Protocol):
    """What queues a job: :class:`api.jobs.JobService` (``submit``), or the CLI's queue."""

    def submit(self, kind: Any, campus_id: str, parameters: Mapping[str, Any], *,
               requested_by: str, requested_by_id: str | None) -> Any: ...


# --- what a file is ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sniffed:
    """What a file's content says it is: ``kind`` one of dxf, dwg, zip, geojson, gpkg, kml,
    csv, osm, tiff, shp (part of a shapefile set), unknown."""

    kind: str
    why: str = ""


def sniff(head: bytes, name: str) -> Sniffed:
    """What a file is, by its first bytes (the name is a tie-breaker only)."""
    suffix = PurePosixPath(name.lower()).suffix
    if _DWG_MAGIC.match(head):
        return Sniffed("dwg", f"{name} is a DWG drawing, not a DXF: gridmap reads DXF only. "
                              f"To use it, {HOW_TO_CONVERT}")
    if head.startswith(_BINARY_DXF):
        return Sniffed("dxf", "binary DXF")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return Sniffed("zip")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 ("Unicode text" from Excel)
        return Sniffed("unknown", f"{name} is UTF-16 text: save it as UTF-8 (in Excel: "
                                  "Save As > CSV UTF-8)")
    if head.startswith(b"\x1f\x8b") and name.lower().endswith(".osm.gz"):
        return Sniffed("osm.gz")
    if head.startswith(b"BZh") and name.lower().endswith(".osm.bz2"):
        return Sniffed("osm.bz2")
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return Sniffed("tiff")
    if head.startswith(b"SQLite format 3\x00"):
        return Sniffed("gpkg") if b"GPKG" in head[60:72] or suffix == ".gpkg" else \
            Sniffed("unknown", f"{name} is an SQLite database, not a GeoPackage")
    if suffix in (".shp", ".shx") and head[:4] == b"\x00\x00\x27\x0a":
        return Sniffed("shp")
    if suffix in (".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"):
        return Sniffed("shp")
    text = _text_head(head)
    if text is None:
        return Sniffed("unknown", f"{name} is not a file gridmap reads (not DXF, zip, "
                                  "GeoJSON, GeoPackage, KML, CSV, OSM or GeoTIFF)")
    stripped = text.lstrip("\ufeff \t\r\n")
    if _DXF_TEXT.match(head.lstrip(b"\xef\xbb\xbf")):
        return Sniffed("dxf", "text DXF")
    if stripped.startswith(("{", "[")):
        return Sniffed("geojson")
    if stripped.startswith("<"):
        lower = stripped[:_HEAD].lower()
        if "<kml" in lower:
            return Sniffed("kml")
        if "<osm" in lower:
            return Sniffed("osm")
        return Sniffed("unknown", f"{name} is XML but neither KML nor OpenStreetMap")
    first = stripped.splitlines()[0].lower() if stripped else ""
    columns = {c.strip().strip('"') for c in first.split(",")}
    if {"kind", "lon", "lat"} <= columns or {"kind", "longitude", "latitude"} <= columns:
        return Sniffed("csv")
    for separator in (";", "\t"):
        split = {c.strip().strip('"') for c in first.split(separator)}
        if {"kind", "lon", "lat"} <= split or {"kind", "longitude", "latitude"} <= split:
            shown = "semicolons" if separator == ";" else "tabs"
            return Sniffed("unknown", f"{name} separates its columns with {shown}: save it "
                                      "with commas (in Excel: Save As > CSV UTF-8)")
    if suffix == ".dxf":
        return Sniffed("unknown", f"{name} is named .dxf but does not start like a DXF (no "
                                  "SECTION); export it again from the CAD program")
    return Sniffed("unknown", f"{name} is not a file gridmap reads (DXF, zip, GeoJSON, "
                              "GeoPackage, KML, a CSV of points with kind,lon,lat columns, "
                              "OSM or GeoTIFF)")


def _text_head(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    for encoding in ("utf-8", "cp1252"):
        try:
            return head.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


# --- uploads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingDrawings:
    """A kept file whose drawings are still to be read: a DXF alone (``members`` None) or a
    zip's DXF members (paths relative to the folder it was unpacked in)."""

    file: WorkspaceFile
    members: list[str] | None


@dataclass(frozen=True)
class AnalysisState:
    """How the analysis of one uploaded file stands (from its job): ``state`` is queued,
    analysing, ready or failed; ``error`` names the problem of a failed one."""

    job_id: str
    file_id: str
    name: str
    state: str
    percent: int
    message: str
    error: str | None
    error_type: str | None
    created_at: datetime

    @property
    def pending(self) -> bool:
        return self.state in ("queued", "analysing")

    @property
    def shown_state(self) -> str:
        """As people read it: ``queued``, ``analysing 40%``, ``ready``, ``failed``."""
        return f"analysing {self.percent}%" if self.state == "analysing" else self.state

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job_id, "file_id": self.file_id, "name": self.name,
                "state": self.state, "percent": self.percent, "message": self.message,
                "error": self.error}


_STATE_OF_JOB = {"queued": "queued", "running": "analysing", "done": "ready",
                 "failed": "failed", "cancelled": "failed"}


@dataclass
class UploadResult:
    files: list[WorkspaceFile] = field(default_factory=list)
    drawings: list[Drawing] = field(default_factory=list)
    #: archive members not used, with why
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: the workspace had this very file already (same SHA-256): nothing new was kept
    duplicate: bool = False
    #: files kept whose drawings are still to be read (then queued as analysis jobs)
    pending: list[PendingDrawings] = field(default_factory=list)
    #: the analysis job of each file holding drawings
    analyses: list[AnalysisState] = field(default_factory=list)

    @property
    def analysing(self) -> bool:
        """Whether drawings of this upload are still being read (the answer is then 202)."""
        return any(a.pending for a in self.analyses)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.files[0].to_dict() if self.files else None,
                "files": [f.to_dict() for f in self.files],
                "drawings": [d.to_dict() for d in self.drawings],
                "analyses": [a.to_dict() for a in self.analyses],
                "skipped": self.skipped, "duplicate": self.duplicate}


def upload_limit_bytes(settings: Settings) -> int:
    return int(settings.workspace_file_max_mb * 1024 * 1024)


def too_large(settings: Settings, size: int, name: str = "the file") -> PayloadTooLarge:
    limit = settings.workspace_file_max_mb
    return PayloadTooLarge(
        f"{name}: {size} bytes over the workspace limit",
        user_message=f"{name} is {size / 1048576:.1f} MB; a workspace file may be at most "
        f"{limit:g} MB (GRIDMAP_WORKSPACE_FILE_MAX_MB)")


def clean_name(name: str) -> str:
    """A file name as shown (never used as a path): its last part, printable, ≤ 200 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return (base or "upload")[:200]


def add_upload(store: CampusStore, settings: Settings, ws: Workspace, name: str,
               source: Path, *, jobs: Submitter, requested_by: str,
               requested_by_id: str | None = None) -> UploadResult:
    """Keep the uploaded file ``source`` (a temporary file) in the workspace and tell what it
    is; :class:`UnsupportedUpload` (nothing kept) for a file gridmap cannot use. A file
    holding drawings is kept and an analysis job queued on ``jobs`` reads them
    (:func:`analyse_upload`): ``result.analyses`` names it, ``result.drawings`` is empty."""
    name = clean_name(name)
    size = source.stat().st_size
    if size > upload_limit_bytes(settings):
        raise too_large(settings, size, name)
    if size == 0:
        raise UnsupportedUpload(f"{name} is empty", user_message=f"{name} is empty (0 bytes)")
    wss = workspaces(store)
    if wss.count_files(ws.id) >= settings.workspace_max_files:
        raise UnsupportedUpload(
            f"workspace {ws.id} is full",
            user_message=f"a workspace holds at most {settings.workspace_max_files} files; "
            "remove some first")
    with source.open("rb") as fh:
        head = fh.read(_HEAD)
    found = sniff(head, name)
    if found.kind in ("dwg", "unknown", "shp"):
        why = found.why or (f"{name} is one part of a shapefile set: upload the .shp, .shx, "
                            ".dbf and .prj together as one zip")
        raise UnsupportedUpload(f"refused upload {name}: {why}", user_message=why)
    digest = _sha256(source)
    again = [f for f in wss.get(ws.id).files if f.sha256 == digest]
    if again:  # the same file again (a second drop, a retry): what it gave the first time
        current = wss.get(ws.id)
        ids = {f.id for f in again}
        states = analysis_states(store, current)
        return UploadResult(files=again, drawings=[
            d for d in current.drawings if d.file_id in ids], duplicate=True,
            analyses=[a for a in states if a.file_id in ids])
    folder = workspace_dir(settings.data_dir, ws.id, create=True)
    result = UploadResult()
    ext = {"zip": "zip", "dxf": "dxf", "geojson": "geojson", "gpkg": "gpkg", "kml": "kml",
           "csv": "csv", "osm": "osm", "osm.gz": "osm.gz", "osm.bz2": "osm.bz2", "tiff": "tif"
           }[found.kind]
    stored = _keep(source, folder, digest, ext)
    try:
        if found.kind == "zip":
            _add_archive(store, settings, ws, name, stored, folder, digest, size, result)
        else:
            _add_member(store, settings, ws, name, stored, folder, found.kind, size, digest,
                        result)
        if not result.files:
            raise UnsupportedUpload(
                f"nothing usable in {name}",
                user_message=f"{name} holds nothing gridmap reads: "
                + "; ".join(s["why"] for s in result.skipped[:5]))
        for pending in result.pending:
            result.analyses.append(queue_analysis(store, jobs, ws, pending,
                                                  requested_by=requested_by,
                                                  requested_by_id=requested_by_id))
    except BaseException:  # a refused upload leaves nothing behind: records, bytes, members
        for record in result.files:
            wss.remove_file(ws.id, record.id)
        for drawing in result.drawings:
            _cache_path(folder, drawing.id).unlink(missing_ok=True)
        stored.unlink(missing_ok=True)
        import shutil

        from api.workspace_imagery import forget

        shutil.rmtree(folder / "files" / digest, ignore_errors=True)
        forget(folder, digest)  # a photo's prepared copy
        raise
    _default_settings_files(store, ws.id, result.files)
    return result


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _keep(source: Path, folder: Path, digest: str, ext: str) -> Path:
    target = folder / "files" / f"{digest}.{ext}"
    if not target.exists():
        tmp = target.with_suffix(target.suffix + ".part")
        with source.open("rb") as src, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                                    0o600), "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        os.replace(tmp, target)
    return target


def _relative(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def _add_member(store: CampusStore, settings: Settings, ws: Workspace, name: str, path: Path,
                folder: Path,
                kind: str, size: int, digest: str, result: UploadResult,
                drawing_names: Sequence[tuple[str, Path]] | None = None) -> None:
    """Record one usable file (or an archive's DXFs, ``drawing_names``) in the workspace."""
    wss = workspaces(store)
    if kind == "dxf":
        current = wss.get(ws.id)
        held = len(current.drawings) + sum(
            _pending_count(current, a) for a in analysis_states(store, current) if a.pending)
        adding = len(drawing_names or [(name, path)])
        if held + adding > MAX_DRAWINGS:
            raise UnsupportedUpload(
                f"{ws.id}: {held} + {adding} drawings",
                user_message=f"{name} holds {adding} drawings and the workspace {held}: a "
                f"workspace takes at most {MAX_DRAWINGS} (one per building level)")
        record = wss.add_file(ws.id, name=name, kind=FileKind.DXF, size=size, sha256=digest,
                              path=_relative(folder, path),
                              detail={"drawings": len(drawing_names or [(name, path)])})
        result.files.append(record)
        into = folder / "files" / digest
        result.pending.append(PendingDrawings(record, None if drawing_names is None else [
            p.relative_to(into).as_posix() for _, p in drawing_names]))
        return
    if kind in ("geojson", "gpkg", "kml", "shp-set"):
        file_kind, detail, error = classify_gis(path, name)
    elif kind == "csv":
        file_kind, detail, error = classify_csv(path, name)
    elif kind in ("osm", "osm.gz", "osm.bz2", "imdf"):
        file_kind = FileKind.IMDF if kind == "imdf" else FileKind.OSM
        detail, error = check_indoor(settings, path, name, file_kind)
    elif kind == "tiff":  # checked as campus imagery is, its web mercator copy kept
        from api.workspace_imagery import check_upload

        file_kind = FileKind.IMAGERY
        detail, error = check_upload(settings, path, name, folder, digest)
    else:  # pragma: no cover - sniff's kinds are all handled above
        raise UnsupportedUpload(f"{name}: unknown kind {kind}")
    if error is not None:
        result.skipped.append({"name": name, "why": error})
        return
    result.files.append(wss.add_file(ws.id, name=name, kind=file_kind, size=size,
                                     sha256=digest, path=_relative(folder, path),
                                     detail=detail))


def check_indoor_call(*, path: str, kind: str, **_: Any) -> dict[str, Any]:
    """Read an OSM indoor file or IMDF archive as the import will (in the sandbox's child):
    how many of each kind it holds."""
    from importers.limits import ImportLimits

    limits = ImportLimits(time_limit_s=None, memory_limit_mb=None)  # the sandbox's hold
    if kind == FileKind.IMDF.value:
        from importers.imdf import read_imdf

        found = read_imdf(Path(path), "upload-check", limits)
    else:
        from importers.osm_indoor import read_osm_indoor

        found = read_osm_indoor(Path(path), "upload-check", limits)
    return {"counts": found.counts(), "name": found.name, "address": found.address}


def check_indoor(settings: Settings, path: Path, name: str, kind: FileKind
                 ) -> tuple[dict[str, Any], str | None]:
    """What an indoor file holds, read at upload under the import's limits (a file the import
    would refuse is refused now, with its reason): (detail, None) or ({}, why)."""
    import shutil
    import tempfile

    from api.import_process import ImportProcessError, run_in_sandbox, sandbox_limits

    shown = re.sub(r"[^\w.() -]", "_", PurePosixPath(name).name)[:100] or "upload"
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".check-") as tmp:
        named = Path(tmp) / shown  # its messages name the file as uploaded, not its SHA-256
        try:
            os.link(path, named)
        except OSError:
            shutil.copyfile(path, named)
        try:
            data = run_in_sandbox("api.workspace_files:check_indoor_call",
                                  {"path": str(named), "kind": kind.value},
                                  sandbox_limits(settings), what=f"reading {name}")
        except GridmapError as exc:
            return {}, exc.user_message
        except ImportProcessError:
            log.exception("reading the upload %s failed", name)
            return {}, f"{name} could not be read (an internal error, logged on the server)"
    return dict(data), None


def _default_settings_files(store: CampusStore, ws_id: str, added: Iterable[WorkspaceFile]
                            ) -> None:
    """A first parcel, grounds or points file becomes the workspace's, unless one is set."""
    wss = workspaces(store)
    ws = wss.get(ws_id)
    settings = dict(ws.settings)
    changed = False
    for f in added:
        key = {FileKind.PARCEL: "parcel_file", FileKind.GROUNDS: "grounds_file",
               FileKind.POIS: "pois_file"}.get(f.kind)
        if key is not None and not settings.get(key):
            settings[key] = f.id
            changed = True
    if changed:
        wss.update(ws_id, settings=settings)


# --- archives -------------------------------------------------------------------------------


def extract(archive: Path, into: Path, settings: Settings, name: str = "the zip") -> list[Path]:
    """Unpack an uploaded zip safely (:func:`importers.archives.extract_archive`: no paths
    leaving the folder, links, encryption, more members or bytes than allowed, nor the
    packing ratio of a bomb); a refusal names the uploaded file and why."""
    from importers.archives import extract_archive

    try:
        return list(extract_archive(archive, into, max_bytes=upload_limit_bytes(settings),
                                    max_files=settings.workspace_max_files,
                                    max_ratio=MAX_ZIP_RATIO, name=name))
    except GridmapError as exc:
        raise UnsupportedUpload(f"zip refused: {exc}",
                                user_message=f"the zip was refused: {exc.user_message}"
                                ) from None
    except (NotImplementedError, RuntimeError, OSError, ValueError, EOFError) as exc:
        # what zipfile itself raises on a damaged archive (an unknown zip version, ...)
        raise UnsupportedUpload(f"zip refused: {type(exc).__name__}: {exc}",
                                user_message=f"{name} cannot be unpacked ({exc}); pack it "
                                "again as a plain zip") from None


def _add_archive(store: CampusStore, settings: Settings, ws: Workspace, name: str,
                 archive: Path, folder: Path, digest: str, size: int,
                 result: UploadResult) -> None:
    into = folder / "files" / digest
    if into.exists():
        import shutil

        shutil.rmtree(into)
    into.mkdir(mode=0o700, parents=True)
    members = extract(archive, into, settings, name)
    names = {m.name.lower() for m in members}
    imdf_parts = {"venue.geojson", "unit.geojson", "level.geojson", "building.geojson"}
    if ("manifest.json" in names and any(n.endswith(".geojson") for n in names)) or (
            len(names & imdf_parts) >= 2):  # an IMDF archive (read_imdf names a missing manifest)
        _add_member(store, settings, ws, name, archive, folder, "imdf", size, digest, result)
        return
    drawings: list[tuple[str, Path]] = []
    shapefiles: list[Path] = []
    for member in sorted(members):
        shown = f"{name}/{member.relative_to(into).as_posix()}"
        with member.open("rb") as fh:
            head = fh.read(_HEAD)
        found = sniff(head, member.name)
        if found.kind == "dxf":
            drawings.append((member.relative_to(into).as_posix(), member))
        elif found.kind == "shp":
            if member.suffix.lower() == ".shp":
                shapefiles.append(member)
        elif found.kind == "zip":
            result.skipped.append({"name": shown, "why": "an archive inside the archive: "
                                                         "unpack it and upload its files"})
        elif found.kind in ("dwg", "unknown"):
            result.skipped.append({"name": shown, "why": found.why})
        else:
            _add_member(store, settings, ws, shown, member, folder, found.kind,
                        member.stat().st_size,
                        _sha256(member), result)
    for shp in shapefiles:
        shown = f"{name}/{shp.relative_to(into).as_posix()}"
        _add_member(store, settings, ws, shown, shp, folder, "shp-set", shp.stat().st_size,
                    _sha256(shp), result)
    if drawings:
        _add_member(store, settings, ws, name, archive, folder, "dxf", size, digest, result,
                    drawing_names=drawings)


# --- GIS files ------------------------------------------------------------------------------


def classify_gis(path: Path, name: str) -> tuple[FileKind, dict[str, Any], str | None]:
    """Parcel, grounds or points of interest, by what the file holds; or why it is unusable."""
    from gridmap.model import GroundsKind
    from importers.parcels import read_gis

    try:
        gdf = read_gis(path)
    except GridmapError as exc:
        return FileKind.UNUSABLE, {}, f"{name}: {exc.user_message}"
    types = {str(t) for t in gdf.geometry.geom_type.dropna().unique()}
    detail: dict[str, Any] = {"features": len(gdf), "geometry": sorted(types),
                              "bounds": [float(v) for v in gdf.total_bounds]}
    if types and types <= {"Point", "MultiPoint"}:
        return FileKind.POIS, detail, None
    kinds = set()
    if "kind" in gdf.columns:
        kinds = {str(k).strip().lower() for k in gdf["kind"] if k is not None}
    detail["kinds"] = sorted(kinds)
    grounds = {k.value for k in GroundsKind}
    if kinds and "parcel" not in kinds and kinds <= grounds:
        return FileKind.GROUNDS, detail, None
    return FileKind.PARCEL, detail, None


def classify_csv(path: Path, name: str) -> tuple[FileKind, dict[str, Any], str | None]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = sum(1 for _ in csv.reader(fh)) - 1
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return FileKind.UNUSABLE, {}, f"{name}: cannot read the CSV ({exc})"
    return FileKind.POIS, {"rows": max(0, rows)}, None


def gis_features(path: Path, name: str) -> dict[str, Any]:
    """A parcel, grounds or points file as GeoJSON in lon/lat (at most
    :data:`MAX_GIS_FEATURES` features)."""
    from importers.parcels import read_gis

    if path.suffix == ".csv":
        from importers.pois import read_poi_rows

        rows = read_poi_rows(path)
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
             "properties": {"kind": r.kind.value, "name": r.name, "building": r.building,
                            "level": r.level}} for r in rows[:MAX_GIS_FEATURES]],
            "truncated": len(rows) > MAX_GIS_FEATURES}
    gdf = read_gis(path)
    truncated = len(gdf) > MAX_GIS_FEATURES
    data: dict[str, Any] = json.loads(gdf.head(MAX_GIS_FEATURES).to_json(drop_id=True))
    data["truncated"] = truncated
    return data


# --- drawings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrawingAnalysis:
    proposal: dict[str, Any]
    has_geodata: bool
    bounds: tuple[float, float, float, float] | None
    error: str | None = None
    #: the model space's entities for the preview (see :func:`drawing_entities`)
    entities: list[list[Any]] = field(default_factory=list, repr=False)


ROLES = ("rooms", "labels", "doors", "outline", "walls", "stairs", "elevators")


Progress = Callable[[int, str], None]


def _unwatched(percent: int, message: str) -> None:
    """The progress of a reading nobody watches."""


#: how fast a drawing is opened and its layers proposed, bytes a second (on an idle core; a
#: busy server is slower): what the percent of a long step is estimated by while it runs
OPEN_RATE = 1_500_000
PROPOSAL_RATE = 2_000_000


@contextlib.contextmanager
def _estimated(report: Progress, low: int, high: int, message: str, expected_s: float
               ) -> Any:
    """While the block runs, ``report`` every half second a percent moving from ``low``
    towards ``high`` (never reaching it) as its time passes against ``expected_s``, with the
    time so far in 5 s steps (a log, which writes a line when the message changes, gets one
    each 5 s): one step of reading a drawing gives no progress of its own."""
    import threading
    import time

    stop = threading.Event()
    started = time.monotonic()

    def tell() -> None:
        while not stop.wait(0.5):
            took = time.monotonic() - started
            share = 1.0 - math.exp(-took / max(0.1, expected_s))
            said = message if took < 5 else f"{message}: {5 * int(took // 5)} s so far"
            report(low + int((high - low) * share), said)  # a log line each 5 s at most

    thread = threading.Thread(target=tell, daemon=True, name="estimated progress")
    report(low, message)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def analyse_drawing(path: Path, progress: Progress | None = None) -> DrawingAnalysis:
    """The layer proposal, GEODATA and bounds of one DXF; a drawing that cannot be read gets
    an empty proposal with the reason (the editor sees it; the import would refuse it).
    ``progress(percent, message)`` hears each step: opening (to 50 %) and the proposal (to
    88 %) say an estimated percent as they run (:data:`OPEN_RATE`, :data:`PROPOSAL_RATE`)."""
    from importers.dxf import open_drawing

    report = progress or _unwatched
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    try:
        with _estimated(report, 2, 50, "opening the drawing", size / OPEN_RATE):
            doc = open_drawing(path, [])
    except GridmapError as exc:
        return DrawingAnalysis({"error": exc.user_message, "layers": []}, False, None,
                               exc.user_message)
    try:
        with _estimated(report, 50, 88, "proposing the layers", size / PROPOSAL_RATE):
            proposal = _proposal(doc)
    except GridmapError as exc:
        proposal = {"error": exc.user_message, "layers": []}
    except Exception:  # a proposal is advice: a drawing it cannot make sense of gets none
        log.warning("layer proposal of %s failed", path.name, exc_info=True)
        proposal = {"error": "no layer proposal could be made for this drawing", "layers": []}
    try:  # the unit the drawing declares (0: none), checked again before an import
        proposal = {**proposal, "insunits": int(doc.header.get("$INSUNITS", 0))}
    except (TypeError, ValueError):
        proposal = {**proposal, "insunits": 0}
    report(88, "making the preview")
    entities, bounds = drawing_entities(doc)
    return DrawingAnalysis(proposal, _has_geodata(doc), bounds, entities=entities)


def analyse_drawing_call(*, path: str, progress: Progress | None = None,
                         **_: Any) -> dict[str, Any]:
    """:func:`analyse_drawing` as JSON data, for :func:`analyse_in_sandbox`'s child."""
    a = analyse_drawing(Path(path), progress)
    return {"proposal": a.proposal, "has_geodata": a.has_geodata,
            "bounds": None if a.bounds is None else list(a.bounds), "error": a.error,
            "entities": a.entities}


def analyse_in_sandbox(settings: Settings, path: Path, name: str,
                       progress: Progress | None = None) -> DrawingAnalysis:
    """:func:`analyse_drawing` in a child process under the import's time and memory limits
    (:func:`api.import_process.run_in_sandbox`): a hostile upload (millions of entities,
    blocks in blocks) ends in a named error, never a stuck or bloated API process.
    ``progress`` hears the child's steps (and, every few seconds of a long one, its time so
    far); an exception it raises (a job that lost its lease) kills the child."""
    from api.import_process import ImportProcessError, run_in_sandbox, sandbox_limits

    try:
        data = run_in_sandbox("api.workspace_files:analyse_drawing_call", {"path": str(path)},
                              sandbox_limits(settings), progress, what=f"reading {name}",
                              preload=("importers.dxf", "importers.layer_proposal"))
    except ImportProcessError:  # a bug, not the input: logged with the child's traceback
        log.exception("reading the upload %s failed", name)
        raise UnsupportedUpload(f"reading {name} failed unexpectedly",
                                user_message=f"{name} could not be read (an internal error, "
                                "logged on the server)") from None
    bounds = data.get("bounds")
    return DrawingAnalysis(dict(data["proposal"]), bool(data["has_geodata"]),
                           None if bounds is None else (float(bounds[0]), float(bounds[1]),
                                                        float(bounds[2]), float(bounds[3])),
                           data.get("error"), entities=list(data.get("entities") or []))


def _proposal(doc: Any) -> dict[str, Any]:
    """The layers :func:`importers.layer_proposal.propose_layers` proposes, as JSON."""
    from importers.layer_proposal import propose_layers

    proposal: dict[str, Any] = propose_layers(doc).to_dict()
    return proposal


def _has_geodata(doc: Any) -> bool:
    from importers.geodata import read_geodata

    try:
        return read_geodata(doc) is not None
    except GridmapError:  # a GEODATA object that cannot place the drawing: not usable
        return False


def default_drawing_settings(analysis: DrawingAnalysis, index: int) -> dict[str, Any]:
    """What a new drawing starts with: building A, the next level, the proposed layers."""
    proposal = analysis.proposal
    layers = {role: proposal.get(role) for role in ROLES if proposal.get(role)}
    return {"building_id": "A", "building_name": "Building A", "level_ordinal": index,
            "level_name": "Ground Floor" if index == 0 else f"Level {index}",
            "level_short_name": str(index), "layers": layers, "unit": proposal.get("unit"),
            "transform": "similarity", "control_points": [],
            "use_geodata": analysis.has_geodata}


def _next_level(ws: Workspace) -> int:
    """The level a new drawing starts on: after the drawings there are, on a level of the
    default building no drawing holds yet."""
    taken = {d.settings.get("level_ordinal") for d in ws.drawings
             if d.settings.get("building_id") == "A"}
    index = len(ws.drawings)
    while index in taken:
        index += 1
    return index


# --- analysis jobs --------------------------------------------------------------------------


def queue_analysis(store: CampusStore, jobs: Submitter, ws: Workspace,
                   pending: PendingDrawings, *, requested_by: str,
                   requested_by_id: str | None) -> AnalysisState:
    """Queue the job reading a kept file's drawings (:func:`analyse_upload`)."""
    from api.job_parameters import AnalysisParameters
    from api.job_queue import JobKind

    parameters = AnalysisParameters(workspace=ws.id, file=pending.file.id,
                                    name=pending.file.name,
                                    members=pending.members).model_dump()
    job = jobs.submit(JobKind.ANALYSIS, ws.campus_id, parameters, requested_by=requested_by,
                      requested_by_id=requested_by_id)
    return AnalysisState(job.id, pending.file.id, pending.file.name, "queued", job.percent,
                         job.message, None, None, job.created_at)


#: most analysis jobs of one campus looked at for a workspace's files (newest first)
_MAX_ANALYSES = 1000


def analysis_states(store: CampusStore, ws: Workspace) -> list[AnalysisState]:
    """The newest analysis job of each file uploaded to the workspace (files removed since
    included: a failed analysis removes its file), oldest first."""
    from sqlalchemy import select

    from api.job_queue import JobKind, JobRow
    from api.store import SqlCampusStore

    if not isinstance(store, SqlCampusStore):
        return []
    stmt = (select(JobRow.id, JobRow.parameters, JobRow.state, JobRow.percent, JobRow.message,
                   JobRow.error, JobRow.error_type, JobRow.created_at)
            .where(JobRow.kind == JobKind.ANALYSIS.value, JobRow.campus_id == ws.campus_id)
            .order_by(JobRow.created_at.desc(), JobRow.id).limit(_MAX_ANALYSES))
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    names = {f.id: f.name for f in ws.files}
    newest: dict[str, AnalysisState] = {}
    for r in rows:
        parameters = dict(r.parameters or {})
        file_id = str(parameters.get("file"))
        if parameters.get("workspace") != ws.id or file_id in newest:
            continue
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        newest[file_id] = AnalysisState(
            r.id, file_id, names.get(file_id) or str(parameters.get("name") or file_id),
            _STATE_OF_JOB.get(r.state, r.state), int(r.percent or 0), r.message or "",
            r.error, r.error_type, created)
    return sorted(newest.values(), key=lambda a: (a.created_at, a.job_id))


def _pending_count(ws: Workspace, state: AnalysisState) -> int:
    record = next((f for f in ws.files if f.id == state.file_id), None)
    return 0 if record is None else int(record.detail.get("drawings") or 1)


def check_analysed(store: CampusStore, ws: Workspace) -> None:
    """:class:`AnalysisPending` (409) naming each file whose drawings are still being read:
    the workspace is imported once they are ready."""
    held = {f.id for f in ws.files}
    waiting = [a for a in analysis_states(store, ws) if a.pending and a.file_id in held]
    if waiting:
        shown = ", ".join(f"{a.name} ({a.shown_state})" for a in waiting)
        raise AnalysisPending(
            f"{ws.id}: analyses pending: {shown}",
            user_message=f"the drawings of {shown} are still being read: import once they "
            "are ready (GET the workspace to follow them)")


def sync_analyses(store: CampusStore, settings: Settings, ws: Workspace) -> Workspace:
    """The workspace without the files whose analysis ended without drawings (its worker
    died on every attempt, or the job was cancelled): they are removed as a failed analysis
    removes its file."""
    drawn = {d.file_id for d in ws.drawings}
    gone = False
    for state in analysis_states(store, ws):
        if state.state == "failed" and state.file_id not in drawn and any(
                f.id == state.file_id for f in ws.files):
            log.warning("workspace %s: the analysis of %s (job %s) ended without drawings; "
                        "the file is removed", ws.id, state.name, state.job_id)
            forget_file(store, settings, ws.id, state.file_id)
            gone = True
    return workspaces(store).get(ws.id) if gone else ws


def _drawing_files(folder: Path, record: WorkspaceFile, members: Sequence[str] | None
                   ) -> list[tuple[str, Path]]:
    """The drawings of a kept file: (name shown, path)."""
    if members is None:
        return [(record.name, folder / record.path)]
    into = folder / "files" / record.sha256
    out = []
    for member in members:
        path = (into / member).resolve()
        if not path.is_relative_to(into.resolve()):  # parameters come from the table
            raise UnsupportedUpload(f"{record.id}: member {member!r} outside the archive")
        out.append((member, path))
    return out


def analyse_upload(store: CampusStore, settings: Settings, ws_id: str, file_id: str,
                   members: Sequence[str] | None, progress: Progress, *,
                   last_attempt: bool = True) -> str:
    """Read the drawings of a kept file (the analysis job): each in the sandbox, then added
    to the workspace with its proposal, default settings and preview cache (a zip's drawings
    appear one by one; the workspace is not imported until all are read); what was done.

    A :class:`~gridmap.errors.GridmapError` (the time or memory limit, a crash of the
    reader, a drawing ezdxf cannot open even recovering) removes the file from the workspace
    with its bytes (:func:`forget_file`) and is raised again: the job fails with its message,
    which names the drawing. So does any other error on the job's last attempt (before it,
    the job is tried again). Drawings already added by an attempt that died are not added
    twice."""
    from api.job_queue import LeaseLost

    wss = workspaces(store)
    ws = wss.find(ws_id)
    record = None if ws is None else next((f for f in ws.files if f.id == file_id), None)
    if ws is None or record is None:
        return "the file was removed before its drawings were read"
    folder = workspace_dir(settings.data_dir, ws.id)
    drawings: list[tuple[str, Path]] = []
    try:
        drawings = _drawing_files(folder, record, members)
        known = {d.name for d in ws.drawings if d.file_id == record.id}
        todo = [(n, p) for n, p in drawings if n not in known]
        for i, (name, path) in enumerate(todo):
            low, high = 95 * i // len(todo), 95 * (i + 1) // len(todo)

            def step(percent: int, message: str, low: int = low, high: int = high,
                     name: str = name) -> None:
                progress(low + (high - low) * max(0, min(100, percent)) // 100,
                         f"reading {name}: {message}")

            step(0, "starting")
            analysis = analyse_in_sandbox(settings, path, name, step)
            if analysis.error is not None:  # not a drawing ezdxf can open, even recovering
                why = analysis.error.replace(path.name, name)
                raise UnsupportedUpload(
                    f"{record.name}: {name} cannot be opened: {why}",
                    user_message=f"{name} cannot be opened as a drawing ({why}); nothing "
                    "was kept. Save it again as DXF from the CAD program and upload it again")
            # kept at once (a zip's drawings one by one: a rerun goes on from the next one)
            current = wss.find(ws_id)
            if current is None or all(f.id != record.id for f in current.files):
                return "the file was removed while its drawings were read"
            drawing = wss.add_drawing(
                ws_id, record.id, name=name, path=_relative(folder, path),
                proposal=analysis.proposal,
                settings=default_drawing_settings(analysis, _next_level(current)),
                has_geodata=analysis.has_geodata, bounds=analysis.bounds)
            _write_entities(folder, drawing.id, analysis.entities)
        progress(95, "layer proposals and previews kept")
    except LeaseLost:
        raise  # another worker has the job: it decides
    except GridmapError:
        _forget_quietly(store, settings, ws_id, record.id, [p for _, p in drawings])
        raise
    except Exception:
        if last_attempt:
            _forget_quietly(store, settings, ws_id, record.id, [p for _, p in drawings])
        raise
    return f"{record.name}: {len(drawings)} drawing{'s' if len(drawings) != 1 else ''} read"


def _forget_quietly(store: CampusStore, settings: Settings, ws_id: str, file_id: str,
                    also: Sequence[Path]) -> None:
    """:func:`forget_file` after a failed analysis (the file or workspace may be gone)."""
    with contextlib.suppress(NotFound):
        forget_file(store, settings, ws_id, file_id, also)


def forget_file(store: CampusStore, settings: Settings, ws_id: str, file_id: str,
                also: Sequence[Path] = ()) -> tuple[WorkspaceFile, list[str]]:
    """Remove a file from the workspace: its record, its drawings and their previews, its
    bytes (and a zip's unpacked members, and the files ``also``: drawings not added yet)
    unless another file of the workspace holds them, and its choice as the parcel, grounds
    or points file; (the file, its drawings' ids). A file already gone is
    :class:`~gridmap.errors.NotFound`."""
    import shutil

    wss = workspaces(store)
    before = wss.get(ws_id)
    dropped = [d for d in before.drawings if d.file_id == file_id]
    gone = wss.remove_file(ws_id, file_id)
    after = wss.get(ws_id)
    settings_now = dict(after.settings)
    changed = False
    for key in ("parcel_file", "grounds_file", "pois_file"):
        if settings_now.get(key) == gone.id:
            settings_now[key] = None
            changed = True
    if changed:
        wss.update(ws_id, settings=settings_now)
    folder = workspace_dir(settings.data_dir, ws_id)
    used = {f.path for f in after.files} | {d.path for d in after.drawings}
    for drawing in dropped:
        _cache_path(folder, drawing.id).unlink(missing_ok=True)
        if drawing.path not in used:
            (folder / drawing.path).unlink(missing_ok=True)
    if gone.path not in used:
        from api.workspace_imagery import forget

        (folder / gone.path).unlink(missing_ok=True)
        forget(folder, gone.sha256)  # a photo's prepared copy
    for path in also:
        if path.is_relative_to(folder) and _relative(folder, path) not in used:
            path.unlink(missing_ok=True)
    extracted = folder / "files" / gone.sha256
    inside = f"files/{gone.sha256}/"
    if extracted.is_dir() and not any(p.startswith(inside) for p in used) and not any(
            f.sha256 == gone.sha256 for f in after.files):
        shutil.rmtree(extracted, ignore_errors=True)
    return gone, [d.id for d in dropped]


def drawing_path(settings: Settings, ws: Workspace, drawing: Drawing) -> Path:
    """The drawing's file on disk; :class:`NotFound` if it is gone."""
    folder = workspace_dir(settings.data_dir, ws.id)
    path = folder / drawing.path
    if not path.is_file():
        raise NotFound(f"{ws.id}/{drawing.id}: {drawing.path} is gone",
                       user_message=f"the file of drawing {drawing.name!r} is no longer stored; "
                       "upload it again")
    return path


def file_path(settings: Settings, ws: Workspace, record: WorkspaceFile) -> Path:
    path = workspace_dir(settings.data_dir, ws.id) / record.path
    if not path.is_file():
        raise NotFound(f"{ws.id}/{record.id}: {record.path} is gone",
                       user_message=f"the file {record.name!r} is no longer stored; upload it "
                       "again")
    return path


#: most entities of one layer kept for previews
MAX_LAYER_ENTITIES = MAX_PREVIEW_FEATURES
CACHE_DIR = "cache"


def drawing_entities(doc: Any) -> tuple[list[list[Any]], tuple[float, float, float, float] | None]:
    """The model space's entities as ``[layer, geometry, text, entity type, handle]`` (drawing
    units; at most :data:`MAX_LAYER_ENTITIES` per layer) and the bounds of all of them, in one
    pass (block inserts are their insertion points: fast on a drawing of 100,000s)."""
    entities: list[list[Any]] = []
    per_layer: dict[str, int] = {}
    minx = miny = math.inf
    maxx = maxy = -math.inf
    for e in doc.modelspace():
        geometry, text = _entity_geometry(e)
        if geometry is None:
            continue
        coords = geometry["coordinates"]
        flat = [coords] if geometry["type"] == "Point" else (
            coords[0] if geometry["type"] == "Polygon" else coords)
        for x, y in flat:
            minx, miny, maxx, maxy = min(minx, x), min(miny, y), max(maxx, x), max(maxy, y)
        name = str(e.dxf.get("layer", "0"))
        if per_layer.get(name, 0) >= MAX_LAYER_ENTITIES:
            continue
        per_layer[name] = per_layer.get(name, 0) + 1
        entities.append([name, geometry, text, e.dxftype(), str(e.dxf.get("handle", ""))])
    bounds = (minx, miny, maxx, maxy) if math.isfinite(minx) else None
    return entities, bounds


def _cache_path(folder: Path, drawing_id: str) -> Path:
    return folder / CACHE_DIR / f"{drawing_id}.entities.json"


def _write_entities(folder: Path, drawing_id: str, entities: list[list[Any]]) -> None:
    cache = folder / CACHE_DIR
    cache.mkdir(mode=0o700, exist_ok=True)
    target = _cache_path(folder, drawing_id)
    tmp = target.with_suffix(".part")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
              encoding="utf-8") as fh:
        json.dump(entities, fh, separators=(",", ":"))
    os.replace(tmp, target)


def preview(settings: Settings, ws: Workspace, drawing: Drawing, layer: str | None = None,
            limit: int = MAX_PREVIEW_FEATURES) -> dict[str, Any]:
    """The drawing's model space as GeoJSON in drawing units (x, y), each feature with its
    layer, its kind under the drawing's settings (room, label, door, outline, other) and its
    text; at most ``limit`` features (``truncated`` says so). Read from the entities kept
    when the drawing was added (the drawing is parsed again only if they are gone)."""
    folder = workspace_dir(settings.data_dir, ws.id)
    cached = _cache_path(folder, drawing.id)
    try:
        with cached.open(encoding="utf-8") as fh:
            entities: list[list[Any]] = json.load(fh)
    except (OSError, ValueError):
        entities = analyse_in_sandbox(settings, drawing_path(settings, ws, drawing),
                                      drawing.name).entities
        _write_entities(folder, drawing.id, entities)
    layers = dict(drawing.settings.get("layers") or {})
    kind_of = {layers.get("rooms"): "room", layers.get("labels"): "label",
               layers.get("doors"): "door", layers.get("outline"): "outline"}
    features: list[dict[str, Any]] = []
    truncated = False
    for name, geometry, text, entity, handle in entities:
        if layer is not None and name != layer:
            continue
        if len(features) >= limit:
            truncated = True
            break
        features.append({"type": "Feature", "geometry": geometry, "properties": {
            "layer": name, "kind": kind_of.get(name, "other"), "text": text,
            "entity": entity, "handle": handle}})
    return {"type": "FeatureCollection", "features": features, "truncated": truncated,
            "units": drawing.settings.get("unit") or drawing.proposal.get("unit")}


def _finite(points: Iterable[Sequence[float]]) -> list[list[float]] | None:
    out = [[float(p[0]), float(p[1])] for p in points]
    if not out or not all(math.isfinite(v) for p in out for v in p):
        return None
    return out


def _entity_geometry(e: Any) -> tuple[dict[str, Any] | None, str]:
    kind = e.dxftype()
    try:
        if kind == "LWPOLYLINE":
            pts = _finite(e.get_points("xy"))
            closed = bool(e.closed)
        elif kind == "POLYLINE":
            pts = _finite((v.dxf.location.x, v.dxf.location.y) for v in e.vertices)
            closed = bool(e.is_closed)
        elif kind == "LINE":
            pts = _finite([(e.dxf.start.x, e.dxf.start.y), (e.dxf.end.x, e.dxf.end.y)])
            closed = False
        elif kind in ("ARC", "CIRCLE"):
            pts = _finite((p.x, p.y) for p in e.flattening(max(e.dxf.radius / 20, 1e-6)))
            closed = kind == "CIRCLE"
        elif kind in ("TEXT", "MTEXT", "INSERT"):
            at = e.dxf.insert
            pts = _finite([(at.x, at.y)])
            text = ""
            if kind == "TEXT":
                text = str(e.dxf.get("text", ""))
            elif kind == "MTEXT":
                text = e.plain_text()
            else:
                text = str(e.dxf.get("name", ""))
            if pts is None:
                return None, ""
            return {"type": "Point", "coordinates": pts[0]}, text[:200]
        else:
            return None, ""
    except Exception:  # an entity ezdxf cannot give points for is left out of the preview
        return None, ""
    if pts is None or len(pts) < 2:
        return None, ""
    if closed and len(pts) >= 3:
        return {"type": "Polygon", "coordinates": [[*pts, pts[0]]]}, ""
    return {"type": "LineString", "coordinates": pts}, ""


