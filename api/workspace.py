"""The workspace's logic: from uploaded files to a draft revision an editor can publish.

1. :func:`add_upload` keeps an uploaded file (by SHA-256, in the workspace's 0700 folder) and
   tells by its *content* what it is: a DXF (text or binary), a DWG (refused, with how to
   convert it), a zip (unpacked safely and each member told apart: DXFs, shapefile sets,
   an IMDF archive, GeoJSON / GeoPackage / KML parcels and grounds, CSV points of interest,
   OSM indoor files, GeoTIFF imagery). Each DXF becomes a *drawing* with the layers proposed
   for it (:mod:`importers.layer_proposal`), its bounds and whether it carries a GEODATA
   georeference.
2. The editor sets each drawing's building, level, layers, units and control points
   (:func:`drawing_settings`), checking the fit live with :func:`diagnose` (nothing stored).
3. :func:`write_manifest` writes ``campus.toml`` from the workspace into its folder, and
   :func:`queue_import` queues an import job on it. The job calls :func:`prepare_campus` (the
   editor's fixes applied again) and :func:`import_finished` (the report kept).
4. :func:`save_edits` applies new fixes to the draft and stores them as a new draft revision;
   publishing stays with the existing atomic publish route.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from api.settings import Settings
from api.store import CampusStore, RevisionInfo
from api.store_workspace import (
    MAX_DRAWINGS,
    Drawing,
    FileKind,
    Workspace,
    WorkspaceFile,
    WorkspaceState,
    workspace_dir,
    workspaces,
)
from gridmap.edits import Edit, PlacePoint, apply_edits, edit_from_dict, edit_to_dict
from gridmap.errors import (
    Conflict,
    GridmapError,
    ImportFailed,
    NotFound,
    PayloadTooLarge,
)
from gridmap.model import Campus

log = logging.getLogger(__name__)

#: most features one preview answer holds (a drawing can have hundreds of thousands)
MAX_PREVIEW_FEATURES = 20_000
#: most features of a parcel / grounds / points file shown on the map
MAX_GIS_FEATURES = 5_000
#: an unpacked archive may be at most this many times its packed size (zip bombs)
MAX_ZIP_RATIO = 200.0
#: most findings a report keeps (the rest are counted)
MAX_REPORT_FINDINGS = 2_000
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


class WorkspaceConflict(Conflict):
    """The workspace is not ready for this step (nothing imported yet, an import running)."""


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


@dataclass
class UploadResult:
    files: list[WorkspaceFile] = field(default_factory=list)
    drawings: list[Drawing] = field(default_factory=list)
    #: archive members not used, with why
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: the workspace had this very file already (same SHA-256): nothing new was kept
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.files[0].to_dict() if self.files else None,
                "files": [f.to_dict() for f in self.files],
                "drawings": [d.to_dict() for d in self.drawings],
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
               source: Path) -> UploadResult:
    """Keep the uploaded file ``source`` (a temporary file) in the workspace and tell what it
    is; :class:`UnsupportedUpload` (nothing kept) for a file gridmap cannot use."""
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
        return UploadResult(files=again, drawings=[
            d for d in current.drawings if d.file_id in {f.id for f in again}], duplicate=True)
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
    except BaseException:  # a refused upload leaves nothing behind: records, bytes, members
        for record in result.files:
            wss.remove_file(ws.id, record.id)
        for drawing in result.drawings:
            _cache_path(folder, drawing.id).unlink(missing_ok=True)
        stored.unlink(missing_ok=True)
        import shutil

        shutil.rmtree(folder / "files" / digest, ignore_errors=True)
        raise
    _default_settings_files(store, ws.id, result.files)
    return result


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
        held = len(wss.get(ws.id).drawings)
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
        count = len(wss.get(ws.id).drawings)
        for drawing_name, drawing_path in drawing_names or [(name, path)]:
            analysis = analyse_in_sandbox(settings, drawing_path, drawing_name)
            initial = default_drawing_settings(analysis, count)
            count += 1
            drawing = wss.add_drawing(
                ws.id, record.id, name=drawing_name, path=_relative(folder, drawing_path),
                proposal=analysis.proposal, settings=initial,
                has_geodata=analysis.has_geodata, bounds=analysis.bounds)
            _write_entities(folder, drawing.id, analysis.entities)
            result.drawings.append(drawing)
        return
    if kind in ("geojson", "gpkg", "kml", "shp-set"):
        file_kind, detail, error = classify_gis(path, name)
    elif kind == "csv":
        file_kind, detail, error = classify_csv(path, name)
    elif kind in ("osm", "osm.gz", "osm.bz2"):
        file_kind, detail, error = FileKind.OSM, {}, None
    elif kind == "imdf":
        file_kind, detail, error = FileKind.IMDF, {}, None
    elif kind == "tiff":
        file_kind, detail, error = FileKind.IMAGERY, {
            "note": "attach it to the campus after the import (gridmap imagery, or PUT "
                    "/campuses/{id}/imagery)"}, None
    else:  # pragma: no cover - sniff's kinds are all handled above
        raise UnsupportedUpload(f"{name}: unknown kind {kind}")
    if error is not None:
        result.skipped.append({"name": name, "why": error})
        return
    result.files.append(wss.add_file(ws.id, name=name, kind=file_kind, size=size,
                                     sha256=digest, path=_relative(folder, path),
                                     detail=detail))


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


def analyse_drawing(path: Path) -> DrawingAnalysis:
    """The layer proposal, GEODATA and bounds of one DXF; a drawing that cannot be read gets
    an empty proposal with the reason (the editor sees it; the import would refuse it)."""
    from importers.dxf import open_drawing

    try:
        doc = open_drawing(path, [])
    except GridmapError as exc:
        return DrawingAnalysis({"error": exc.user_message, "layers": []}, False, None,
                               exc.user_message)
    try:
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
    entities, bounds = drawing_entities(doc)
    return DrawingAnalysis(proposal, _has_geodata(doc), bounds, entities=entities)


def analyse_drawing_call(*, path: str, **_: Any) -> dict[str, Any]:
    """:func:`analyse_drawing` as JSON data, for :func:`analyse_in_sandbox`'s child."""
    a = analyse_drawing(Path(path))
    return {"proposal": a.proposal, "has_geodata": a.has_geodata,
            "bounds": None if a.bounds is None else list(a.bounds), "error": a.error,
            "entities": a.entities}


def analyse_in_sandbox(settings: Settings, path: Path, name: str) -> DrawingAnalysis:
    """:func:`analyse_drawing` in a child process under the import's time and memory limits
    (:func:`api.import_process.run_in_sandbox`): a hostile upload (millions of entities,
    blocks in blocks) ends in a named error, never a stuck or bloated API process."""
    from api.import_process import ImportProcessError, run_in_sandbox, sandbox_limits

    try:
        data = run_in_sandbox("api.workspace:analyse_drawing_call", {"path": str(path)},
                              sandbox_limits(settings), what=f"reading {name}",
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


def prepare_campus(store: CampusStore, ws_id: str, campus: Campus) -> Campus:
    """The freshly imported campus with the workspace's edits applied again (the import job
    calls this before it checks and stores the revision). Edits that no longer apply are
    skipped (:func:`import_finished` reports them)."""
    ws = workspaces(store).find(ws_id)
    if ws is None:  # deleted while its import ran: the import stands as it is
        return campus
    edited, _ = apply_edits(campus, stored_edits(ws))
    return edited


def import_finished(store: CampusStore, ws_id: str, result: Any,
                    info: RevisionInfo | int | None) -> dict[str, Any]:
    """Keep an import's report with the workspace (called by the import job): the counts, the
    findings (``result.findings`` when the importer gives them, else its warnings as OTHER
    findings), residuals and the draft revision. If the stored campus lacks the workspace's
    edits (an import job that did not call :func:`prepare_campus`), they are applied and
    stored as one more draft revision."""
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
    edited, problems = apply_edits(campus, edits)
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
    findings += [Finding(FindingKind.OTHER, p, Severity.WARNING, action="edit skipped")
                 for p in problems]
    report = {
        "revision": number, "counts": counts(campus),
        "findings": [f.to_dict() for f in findings[:MAX_REPORT_FINDINGS]],
        "findings_total": len(findings),
        "residuals": {_shown_name(k): float(v)
                      for k, v in dict(getattr(result, "residuals", {})).items()},
        "warnings": list(result.warnings)[:MAX_REPORT_FINDINGS],
        "edits_applied": len(edits) - len(problems), "job": ws.job_id,
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


__all__ = [
    "UnsupportedUpload", "WorkspaceConflict", "add_upload", "analyse_drawing", "diagnose",
    "import_finished", "prepare_campus", "preview", "queue_import", "save_edits", "sniff",
    "sync_with_job", "workspace_view", "write_manifest",
]

