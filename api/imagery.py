"""A campus's aerial imagery for its readers: attach it, find it on disk, draw its XYZ tiles.

* :func:`attach_imagery` — the one way an orthophoto is attached (CLI, API, demo): prepared by
  :func:`importers.imagery.prepare_imagery`, stored as a new version, audited either way.
* :func:`imagery_path` / :func:`local_imagery_path` — the current imagery as a local EPSG:3857
  GeoTIFF (for Mapnik, the printed book, the offline package), written once per digest under
  the data directory as ``imagery/<digest>.tif``, readable by its owner only.
* :func:`imagery_layer` — what the web map puts under the plans: the campus's own imagery
  tiles, else the configured provider (``GRIDMAP_IMAGERY_URL``), else nothing.
* :func:`prepare_site_imagery` — the same checks for a photo with no campus yet (a workspace's
  upload), prepared over its own extent.
* :func:`imagery_tile` — one 256 px (or @2x 512 px) PNG tile of the stored imagery (or of a
  workspace's prepared photo: any EPSG:3857 GeoTIFF).

rasterio is imported only inside the functions that read imagery.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from api.errors import InvalidParameter
from gridmap.errors import ImageryError, NoImagery

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from api.context import AppContext
    from api.settings import Settings
    from api.store import CampusStore, ImageryInfo
    from importers.imagery import PreparedImagery

TILE_SIZE = 256
#: changes whenever the tile drawing changes, so browsers never keep tiles drawn the old way
TILE_FORMAT = "imagery-png-1"
#: the audit throttle's level key for imagery tiles (no level has this ordinal)
AUDIT_LAYER = -(2**31)
#: bytes of tiles kept in memory, across campuses (a photo tile is 5-150 KB)
TILE_CACHE_BYTES = 64 * 1024 * 1024

_MERCATOR_HALF = 20037508.342789244
_tile_cache: OrderedDict[tuple[str, int, int, int, int], bytes] = OrderedDict()
_tile_cache_bytes = 0
_verified: set[Path] = set()  # materialised files whose content was checked in this process
_lock = threading.Lock()
_preparing = threading.BoundedSemaphore(1)

AuditFn = Callable[[str, str], None]  # (action, detail)


# --- attaching --------------------------------------------------------------------------------


def attach_imagery(
    store: CampusStore, settings: Settings, campus_id: str, source: Path | bytes, *,
    source_name: str, actor: str, audit: AuditFn, attribution: str = "",
) -> ImageryInfo:
    """Prepare ``source`` for the campus and store it as its next imagery version.

    A refused file is audited (``imagery_rejected``, with the reason) and its
    :class:`~gridmap.errors.ImageryError` re-raised; nothing is stored. Raises
    ``CampusNotFound`` for an unknown campus.
    """
    from importers.imagery import prepare_imagery

    check_attribution(attribution)
    campus = store.campus(campus_id)
    try:
        with _preparing:  # one at a time: each may hold a large photo and its warp in memory
            prepared = prepare_imagery(source, campus, max_bytes=settings.imagery_max_bytes,
                                       max_pixels=settings.imagery_max_pixels,
                                       time_limit_s=settings.import_time_limit_s)
    except ImageryError as exc:
        audit("imagery_rejected", f"{source_name}: {exc}")
        raise
    version = store.save_imagery(campus_id, prepared, source_name=source_name, actor=actor,
                                 attribution=attribution)
    info = next(v for v in store.imagery_versions(campus_id) if v.version == version)
    audit("imagery_attach",
          f"version {version} from {source_name} ({info.source_crs}, {info.width} x "
          f"{info.height} px, {info.resolution_m:.2f} m, {info.size_bytes} bytes, "
          f"sha256 {info.digest})")
    return info


def prepare_site_imagery(settings: Settings, source: Path | bytes) -> PreparedImagery:
    """An orthophoto checked as :func:`attach_imagery` checks it, but for no campus (a
    workspace's upload, before its campus exists): web mercator over the photo's own extent.
    Raises :class:`~gridmap.errors.ImageryError` naming the problem."""
    from importers.imagery import prepare_imagery

    with _preparing:  # one at a time, shared with attach_imagery
        return prepare_imagery(source, None, max_bytes=settings.imagery_max_bytes,
                               max_pixels=settings.imagery_max_pixels,
                               time_limit_s=settings.import_time_limit_s)


#: the most characters an attribution may have (the store keeps 300)
MAX_ATTRIBUTION = 300


def check_attribution(text: str) -> None:
    """Refuse an attribution a map could not show as plain text: markup (web maps put the
    attribution into HTML), control characters, or over :data:`MAX_ATTRIBUTION` characters."""
    if len(text) > MAX_ATTRIBUTION:
        raise InvalidParameter(f"attribution has {len(text)} characters, over {MAX_ATTRIBUTION}")
    bad = sorted({c for c in text if c in "<>" or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise InvalidParameter(f"attribution must be plain text; it holds {shown}")


# --- the imagery as a local file --------------------------------------------------------------


def imagery_path(ctx: AppContext, campus_id: str) -> Path | None:
    """The campus's current imagery as a local EPSG:3857 GeoTIFF, or None if it has none.

    The caller has checked the principal's access to the campus."""
    return local_imagery_path(ctx.store, ctx.settings.data_dir, campus_id)


def local_imagery_path(store: CampusStore, data_dir: Path, campus_id: str) -> Path | None:
    """:func:`imagery_path` for callers holding a store and a data dir (the CLI)."""
    info = store.imagery_info(campus_id)
    if info is None:
        return None
    return materialise(store, data_dir, info)


def materialise(store: CampusStore, data_dir: Path, info: ImageryInfo) -> Path:
    """One imagery version as ``data_dir/imagery/<digest>.tif`` (0600), written from the
    store if missing or damaged."""
    folder = data_dir / "imagery"
    path = folder / f"{info.digest}.tif"
    if path in _verified and path.is_file():
        return path
    if path.is_file() and _sha256_file(path) == info.digest:
        with _lock:
            _verified.add(path)
        return path
    record = store.imagery(info.campus_id, info.version)
    if record is None:  # the version vanished between two reads: the campus was removed
        raise NoImagery(f"imagery {info.campus_id} v{info.version} is gone",
                        user_message=f"campus {info.campus_id!r} has no imagery")
    _private_folder(folder)
    tmp = folder / f".{info.digest}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(record.data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    with _lock:
        _verified.add(path)
    return path


def _private_folder(folder: Path) -> None:
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)
        except FileExistsError:
            pass


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# --- the web map's imagery layer --------------------------------------------------------------


def imagery_layer(ctx: AppContext, campus_id: str) -> dict[str, str] | None:
    """The web map's imagery layer for a campus: ``{"url": template, "attribution": text}``
    (the template has ``{z}``, ``{x}``, ``{y}`` and maybe ``{r}``), or None.

    The campus's own imagery if it has some, else ``GRIDMAP_IMAGERY_URL``, else None."""
    return imagery_layer_config(ctx.settings, campus_id, ctx.store.imagery_info(campus_id))


def imagery_layer_config(
    settings: Settings, campus_id: str, info: ImageryInfo | None
) -> dict[str, str] | None:
    """:func:`imagery_layer` from what it needs (no I/O)."""
    if info is not None:
        return {"url": f"{imagery_tiles_url(campus_id)}?v={info.version}",
                "attribution": info.attribution or f"Campus orthophoto v{info.version}"}
    if settings.imagery_url:
        return {"url": settings.imagery_url, "attribution": settings.imagery_attribution}
    return None


def imagery_tiles_url(campus_id: str) -> str:
    """The URL template of a campus's own imagery tiles (``{r}``: ``@2x`` or nothing)."""
    return f"/campuses/{quote(campus_id, safe='')}/imagery/tiles/{{z}}/{{x}}/{{y}}{{r}}.png"


def imagery_origin(settings: Settings) -> str | None:
    """The configured provider's origin (``https://host``), for a page's CSP ``img-src``."""
    if not settings.imagery_url:
        return None
    parts = urlsplit(settings.imagery_url)
    return f"{parts.scheme}://{parts.netloc}"


# --- tiles ------------------------------------------------------------------------------------


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """An XYZ tile's west, south, east, north in web mercator metres."""
    span = 2 * _MERCATOR_HALF / (1 << z)
    west = -_MERCATOR_HALF + x * span
    north = _MERCATOR_HALF - y * span
    return west, north - span, west + span, north


def imagery_tile_etag(digest: str, z: int, x: int, y: int, scale: int) -> str:
    key = f"{TILE_FORMAT}|{digest}|{z}|{x}|{y}|{scale}"
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def imagery_tile(path: Path, digest: str, z: int, x: int, y: int, *, scale: int = 1) -> bytes:
    """One tile of the imagery GeoTIFF at ``path`` (``digest``: its sha256): an RGBA PNG of
    256 x ``scale`` pixels, transparent where the imagery has nothing."""
    size = TILE_SIZE * scale
    key = (digest, z, x, y, size)
    with _lock:
        hit = _tile_cache.get(key)
        if hit is not None:
            _tile_cache.move_to_end(key)
            return hit
    png = _draw_tile(path, tile_bounds_3857(z, x, y), size)
    _keep(key, png)
    return png


def _keep(key: tuple[str, int, int, int, int], png: bytes) -> None:
    """Remember a drawn tile, forgetting the least recently used past TILE_CACHE_BYTES."""
    global _tile_cache_bytes
    with _lock:
        if key in _tile_cache:
            return
        _tile_cache[key] = png
        _tile_cache_bytes += len(png)
        while _tile_cache_bytes > TILE_CACHE_BYTES and _tile_cache:
            _, dropped = _tile_cache.popitem(last=False)
            _tile_cache_bytes -= len(dropped)


def clear_tile_cache() -> None:
    """Forget every drawn tile (tests; a process low on memory)."""
    global _tile_cache_bytes
    with _lock:
        _tile_cache.clear()
        _tile_cache_bytes = 0


def _draw_tile(path: Path, bounds: tuple[float, float, float, float], size: int) -> bytes:
    import numpy as np
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import from_bounds

    from importers.imagery import use_rasterio_proj_data

    west, south, east, north = bounds
    span = (east - west) / size
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    with rasterio.Env(GDAL_CACHEMAX=64, GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        use_rasterio_proj_data()
        with rasterio.open(path, driver="GTiff") as src:
            left, bottom, right, top = src.bounds
            inner = (max(west, left), max(south, bottom), min(east, right), min(north, top))
            # the tile pixels the imagery covers
            c0, c1 = round((inner[0] - west) / span), round((inner[2] - west) / span)
            r0, r1 = round((north - inner[3]) / span), round((north - inner[1]) / span)
            if c1 > c0 and r1 > r0:
                window = from_bounds(*inner, transform=src.transform)
                shape = (r1 - r0, c1 - c0)
                data = src.read(window=window, out_shape=(src.count, *shape),
                                resampling=Resampling.bilinear)
                mask = src.dataset_mask(window=window, out_shape=shape)
                colour = np.repeat(data[:1], 3, axis=0) if src.count == 1 else data[:3]
                rgba[r0:r1, c0:c1, :3] = np.moveaxis(colour, 0, -1)
                rgba[r0:r1, c0:c1, 3] = mask
    return _png(rgba)


def _png(rgba: NDArray[np.uint8]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgba).save(out, "PNG", compress_level=3)  # (h, w, 4) bytes: RGBA
    return out.getvalue()
