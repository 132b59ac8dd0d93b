"""A workspace's aerial photo: checked at upload, drawn under its maps, the campus's on publish.

Facilities staff upload a GeoTIFF with their plans (workspace step 1) and click matching points
on it (step 3). The photo is checked as campus imagery is (:func:`api.imagery.
prepare_site_imagery`: the checks of ``gridmap imagery`` but "covers the campus", since there
may be no campus yet) and kept as a web mercator copy beside the upload,
``<workspace>/imagery/<sha256 of the upload>.tif``, which :func:`api.imagery.imagery_tile`
draws like any campus imagery.

* :func:`check_upload` — at upload: the photo checked and its copy kept; the file's detail.
* :func:`site_photo` — the copy for the tile route (made now if the upload predates it).
* :func:`workspace_imagery_layer` — the newest photo as the page's map layer (no I/O).
* :func:`pending_imagery` — the photo an import's report says will become the campus's.
* :func:`attach_on_publish` — on publishing the workspace's draft, the photo becomes the
  campus's imagery (:func:`api.imagery.attach_imagery`, audited ``imagery_attach``).

Why on publish and not when the import lands: a campus's imagery is campus-wide, not kept per
revision (the officers' map, the printed book and the packages all show the latest version),
so attaching a draft's photo would show officers a photo nobody has published.

rasterio is imported only inside the functions that prepare or draw imagery.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from api.store_workspace import FileKind, Workspace, WorkspaceFile, workspace_dir, workspaces
from gridmap.errors import ImageryError, NotFound

if TYPE_CHECKING:
    from api.settings import Settings
    from api.store import CampusStore, ImageryInfo

log = logging.getLogger(__name__)

#: the folder (in the workspace's folder) of the prepared web mercator copies
PREPARED_DIR = "imagery"
#: changes when the preparation changes, so tiles drawn from an older copy are not reused
PREPARED_FORMAT = "site-3857-1"

AuditFn = Callable[[str, str], None]  # (action, detail)

_locks: dict[Path, threading.Lock] = {}
_locks_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SitePhoto:
    """A workspace photo ready to draw: its web mercator copy and the key its tiles are
    cached and tagged by (:func:`api.imagery.imagery_tile`'s ``digest``)."""

    path: Path
    key: str


def prepared_path(folder: Path, sha256: str) -> Path:
    """Where the web mercator copy of the upload with this SHA-256 is kept."""
    return folder / PREPARED_DIR / f"{sha256}.tif"


def tile_key(sha256: str) -> str:
    """The tile cache and ETag key of an upload's copy (never a campus imagery digest)."""
    return hashlib.sha256(f"{PREPARED_FORMAT}|{sha256}".encode()).hexdigest()


def tiles_url(ws_id: str, file_id: str) -> str:
    """The URL template of a workspace photo's tiles (``{r}``: ``@2x`` or nothing)."""
    return (f"/workspaces/{quote(ws_id, safe='')}/files/{quote(file_id, safe='')}"
            "/imagery/{z}/{x}/{y}{r}.png")


# --- at upload --------------------------------------------------------------------------------


def check_upload(settings: Settings, source: Path, name: str, folder: Path, digest: str
                 ) -> tuple[dict[str, Any], str | None]:
    """Check an uploaded GeoTIFF as campus imagery is checked and keep its web mercator copy:
    (the file's detail, None), or ({}, why) for a photo gridmap cannot use (nothing kept)."""
    try:
        bounds, detail = _prepare(settings, source, prepared_path(folder, digest))
    except ImageryError as exc:
        return {}, f"{name}: {exc.user_message}"
    return {**detail, "bounds": list(bounds),
            "note": "shown under the plans while you place them; it becomes the campus's "
                    "imagery when the workspace's draft is published"}, None


def forget(folder: Path, sha256: str) -> None:
    """Drop the web mercator copy of an upload (its file was removed from the workspace)."""
    prepared_path(folder, sha256).unlink(missing_ok=True)


def _prepare(settings: Settings, source: Path, target: Path
             ) -> tuple[tuple[float, float, float, float], dict[str, Any]]:
    """Prepare ``source`` into ``target`` (0600, atomically): its lon/lat bounds and what the
    file's detail says of it."""
    from api.imagery import prepare_site_imagery

    prepared = prepare_site_imagery(settings, source)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            fh.write(prepared.data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    bounds = lonlat_bounds(prepared.bounds_3857)
    return bounds, {"source_crs": prepared.source_crs,
                    "resolution_m": round(prepared.resolution_m, 3),
                    "width": prepared.width, "height": prepared.height}


def lonlat_bounds(bounds_3857: tuple[float, float, float, float]
                  ) -> tuple[float, float, float, float]:
    """Web mercator bounds as west, south, east, north in degrees."""
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, south, east, north = bounds_3857
    lon0, lat0 = to_lonlat.transform(west, south)
    lon1, lat1 = to_lonlat.transform(east, north)
    return (round(lon0, 7), round(lat0, 7), round(lon1, 7), round(lat1, 7))


# --- tiles ------------------------------------------------------------------------------------


def imagery_file(ws: Workspace, file_id: str) -> WorkspaceFile:
    """The workspace's photo ``file_id``; NotFound for an unknown file or one of another
    kind."""
    record = ws.file(file_id)
    if record.kind is not FileKind.IMAGERY:
        raise NotFound(f"{ws.id}/{file_id} is {record.kind.value}",
                       user_message=f"{record.name!r} is a {record.kind.value} file: only an "
                       "uploaded GeoTIFF has imagery tiles")
    return record


def site_photo(settings: Settings, ws: Workspace, record: WorkspaceFile) -> SitePhoto:
    """The web mercator copy of a workspace photo, prepared now if it is missing (an upload
    kept before uploads were prepared, or a copy removed): one preparation per copy at once."""
    folder = workspace_dir(settings.data_dir, ws.id)
    target = prepared_path(folder, record.sha256)
    if not target.is_file():
        with _lock_for(target):
            if not target.is_file():
                source = folder / record.path
                if not source.is_file():
                    raise NotFound(f"{ws.id}/{record.id}: {record.path} is gone",
                                   user_message=f"the file {record.name!r} is gone; upload "
                                   "it again")
                _prepare(settings, source, target)
    return SitePhoto(target, tile_key(record.sha256))


def _lock_for(path: Path) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault(path, threading.Lock())


# --- the page ---------------------------------------------------------------------------------


def newest_photo(ws: Workspace) -> WorkspaceFile | None:
    """The workspace's most recently uploaded GeoTIFF, or None."""
    photos = [f for f in ws.files if f.kind is FileKind.IMAGERY]
    return max(photos, key=lambda f: (f.created_at, f.id)) if photos else None


def workspace_imagery_layer(ws: Workspace) -> dict[str, Any] | None:
    """The newest uploaded photo as a map layer for the workspace page: ``{url, attribution,
    bounds, file, name, uploaded_at}`` (``bounds``: west, south, east, north in degrees, or
    None when the upload predates its check), or None. No I/O."""
    photo = newest_photo(ws)
    if photo is None:
        return None
    bounds = photo.detail.get("bounds")
    return {"url": tiles_url(ws.id, photo.id), "attribution": f"Uploaded photo {photo.name}",
            "bounds": list(bounds) if bounds else None, "file": photo.id, "name": photo.name,
            "uploaded_at": photo.created_at.isoformat()}


def pending_imagery(ws: Workspace) -> dict[str, Any] | None:
    """What an import's report says of the workspace's photo: which one becomes the
    campus's imagery when the draft is published."""
    photo = newest_photo(ws)
    if photo is None:
        return None
    return {"file": photo.id, "name": photo.name, "sha256": photo.sha256,
            "attach": "on publish"}


# --- on publish -------------------------------------------------------------------------------


def attach_on_publish(store: CampusStore, settings: Settings, campus_id: str, number: int, *,
                      actor: str, audit: AuditFn) -> ImageryInfo | None:
    """After revision ``number`` of ``campus_id`` was published: if it is a workspace's draft
    and the workspace holds a photo newer than the campus's current imagery (and not that
    same file), attach the photo as the campus's next imagery version (audited by
    :func:`api.imagery.attach_imagery`). A photo that does not suit the published campus (not
    covering its buildings, ...) is audited ``imagery_rejected`` and left out: the publish
    stands. The attached version, or None."""
    from api.imagery import attach_imagery

    wss = workspaces(store)
    drafting = [w for w in wss.list() if w.campus_id == campus_id and w.draft_revision == number]
    if not drafting:
        return None
    ws = wss.get(drafting[0].id)
    photo = newest_photo(ws)
    if photo is None:
        return None
    current = store.imagery_info(campus_id)
    if current is not None and (current.source_digest == photo.sha256
                                or current.created_at >= photo.created_at):
        return None  # already the campus's, or the campus's own is newer
    source = workspace_dir(settings.data_dir, ws.id) / photo.path
    if not source.is_file():
        audit("imagery_rejected", f"{photo.name}: the workspace's file is gone")
        return None
    try:
        return attach_imagery(store, settings, campus_id, source,
                              source_name=f"{photo.name[:240]} (workspace {ws.id})", actor=actor,
                              audit=audit)
    except ImageryError as exc:  # audited by attach_imagery; the publish stands
        log.info("workspace %s photo %s not attached to %s: %s", ws.id, photo.id, campus_id,
                 exc)
        return None
