"""The offline package download: ``POST /campuses/{id}/package.zip``.

A POST with a JSON body, not a GET: a sealed package's passphrase must never travel in a URL
(URLs end up in logs, proxies and browser history). Authenticated and audited like every campus
route (:meth:`api.context.AppContext.loaded` refuses, and audits, a campus the token may not
see); the zip holds every room of a school, so it is ``Cache-Control: private, no-store``.

Drawing the tiles is the slow part (seconds to a minute), so the PMTiles archive and the map
book (per day: it prints the date) are kept per loaded campus revision (dropped with it): a
second download, sealed with another passphrase, only seals and zips again. The passphrase
itself is never kept or logged.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentPrincipal, current_principal
from api.context import MAX_REVISION, Ctx
from api.routes_campus import CampusId
from gridmap.index import CampusIndex

router = APIRouter(dependencies=[Depends(current_principal)])

NO_STORE = "private, no-store"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# The package module's zoom bounds, repeated here so this module stays light at start-up
# (tests/test_package.py checks they agree).
MIN_PACKAGE_ZOOM = 12
MAX_PACKAGE_ZOOM = 22


class PackageRequest(BaseModel):
    """What to package. Every field is optional: ``{}`` asks for the current revision,
    unsealed, with the default zoom range and the map book."""

    model_config = ConfigDict(extra="forbid")

    passphrase: str | None = Field(
        None, min_length=1, max_length=1024,
        description="seal the package with this passphrase (at least 12 characters)")
    revision: int | None = Field(None, ge=1, le=MAX_REVISION, description="default: current")
    min_zoom: int | None = Field(None, ge=MIN_PACKAGE_ZOOM, le=MAX_PACKAGE_ZOOM)
    max_zoom: int | None = Field(None, ge=MIN_PACKAGE_ZOOM, le=MAX_PACKAGE_ZOOM)
    book: bool = Field(True, description="include the map book (PDF) when it can be made")


# per loaded campus index (one per revision in the app's cache): drawn tiles and the book
_made: WeakKeyDictionary[CampusIndex, dict[tuple[object, ...], bytes | None]] = \
    WeakKeyDictionary()
_made_lock = threading.Lock()
# one package drawn at a time: a drawing is seconds to minutes of CPU, and requests asking for
# the same one wait for it rather than drawing it again
_drawing = threading.Lock()


def _kept(index: CampusIndex, key: tuple[object, ...],
          make: Callable[[], bytes | None]) -> bytes | None:
    with _drawing:
        with _made_lock:
            found = _made.setdefault(index, {})
            if key in found:
                return found[key]
        value = make()
        with _made_lock:
            _made.setdefault(index, {})[key] = value
        return value


@router.post("/campuses/{campus_id}/package.zip",
             summary="The campus's offline package for laptops (a zip), sealed on request",
             response_class=Response,
             responses={200: {"content": {"application/zip": {}}}})
def package_zip(
    campus_id: CampusId,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    body: Annotated[PackageRequest, Body()],
) -> Response:
    from api.imagery import imagery_path
    from tiles.package import (
        make_package,
        package_book,
        tiles_archive,
        zoom_range,
    )
    from tiles.seal import check_passphrase

    min_zoom, max_zoom = zoom_range(body.min_zoom, body.max_zoom)
    if body.passphrase is not None:
        check_passphrase(body.passphrase)
    loaded = ctx.loaded(request, campus_id, principal, body.revision)
    index = loaded.index()
    imagery = imagery_path(ctx, campus_id)
    digest = imagery.stem if imagery is not None else None
    tiles = _kept(index, ("tiles", min_zoom, max_zoom, digest), lambda: tiles_archive(
        loaded.campus, min_zoom=min_zoom, max_zoom=max_zoom, imagery=imagery))
    today = datetime.now(UTC).date()  # the book prints the day it was made
    from api.store_publish import book_verification

    verified_on, verified_by = book_verification(ctx.store, campus_id)
    book = _kept(index, ("book", digest, today, verified_on, verified_by), lambda: package_book(
        loaded.campus, revision=loaded.revision, imagery=imagery, verified_on=verified_on,
        verified_by=verified_by)) if body.book else None
    data = make_package(loaded.campus, revision=loaded.revision, imagery=imagery, book=book,
                        passphrase=body.passphrase, min_zoom=min_zoom, max_zoom=max_zoom,
                        tiles=tiles, index=index)
    sealed = body.passphrase is not None
    ctx.audit(request, principal, "package", campus_id,
              f"revision {loaded.revision}, {'sealed' if sealed else 'not sealed'}, zoom "
              f"{min_zoom}-{max_zoom}, {'with' if imagery else 'no'} imagery, "
              f"{'with' if book else 'no'} book, {len(data)} bytes")
    name = (f"{_UNSAFE_FILENAME.sub('_', campus_id)[:80]}-r{loaded.revision}-"
            f"{'sealed-' if sealed else ''}package.zip")
    return Response(data, media_type="application/zip",
                    headers={"Cache-Control": NO_STORE,
                             "Content-Disposition": f'attachment; filename="{name}"'})
