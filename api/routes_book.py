"""The printed map book as a download: ``GET /campuses/{id}/book.pdf?size=&level=``.

Authenticated and audited like every campus route, and sent ``Cache-Control: private,
no-store`` like all campus data. A book is kept (a few, in memory) by campus, revision, paper
size, level, imagery digest and the day it is printed on (the date is on every page), so a
second download of the same book costs no rendering; its ``ETag`` names the same, and a client
that saved the file and revalidates gets a 304. Books are made one at a time: each is a few
CPU-seconds, and a burst of requests must not starve lookups.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.auth import CurrentPrincipal, current_principal
from api.context import AppContext, Ctx
from api.routes_campus import CampusId, Revision
from gridmap import __version__
from gridmap.errors import LevelNotFound

router = APIRouter(dependencies=[Depends(current_principal)])

#: Books kept per application.
BOOKS_KEPT = 8
PDF = "application/pdf"

#: campus, revision, paper, level, imagery, printed on, walk-through (date and who)
BookKey = tuple[str, int, str, int | None, str, str, str]


class BookShelf:
    """The books an application has made lately, and the lock that makes them one at a time."""

    def __init__(self, keep: int = BOOKS_KEPT) -> None:
        self.keep = keep
        self._books: OrderedDict[BookKey, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.making = threading.Lock()  # held while a book is made

    def get(self, key: BookKey) -> bytes | None:
        with self._lock:
            book = self._books.get(key)
            if book is not None:
                self._books.move_to_end(key)
            return book

    def put(self, key: BookKey, book: bytes) -> None:
        with self._lock:
            self._books[key] = book
            while len(self._books) > self.keep:
                self._books.popitem(last=False)


_shelves: weakref.WeakKeyDictionary[AppContext, BookShelf] = weakref.WeakKeyDictionary()
_shelves_lock = threading.Lock()


def shelf_of(ctx: AppContext) -> BookShelf:
    with _shelves_lock:
        shelf = _shelves.get(ctx)
        if shelf is None:
            shelf = _shelves[ctx] = BookShelf()
        return shelf


def book_etag(key: BookKey) -> str:
    """A strong ETag of one book: its key and the gridmap release that made it."""
    text = "|".join(map(str, (__version__, *key)))
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


@router.get("/campuses/{campus_id}/book.pdf", summary="The printed map book (PDF)",
            response_class=Response,
            responses={200: {"content": {PDF: {}}, "description": "the book"}})
def book(
    campus_id: CampusId,
    request: Request,
    ctx: Ctx,
    principal: CurrentPrincipal,
    size: Annotated[Literal["letter", "tabloid", "arch-d"], Query(
        description="paper size, landscape: US Letter, Tabloid (11x17 in) or ARCH D "
                    "(24x36 in)")] = "letter",
    level: Annotated[int | None, Query(
        ge=-1000, le=1000, description="only this level ordinal's sheets (0 = ground); "
                                       "default: every level")] = None,
    revision: Revision = None,
) -> Response:
    """Campus overview over imagery, a sheet per building level, room and door indexes and a
    quick reference; every map page georeferenced (geospatial PDF)."""
    loaded = ctx.loaded(request, campus_id, principal, revision)
    campus = loaded.campus
    if level is not None and level not in campus.ordinals:
        raise LevelNotFound(
            f"book of {campus_id}: no level {level}",
            user_message=f"campus {campus_id!r} has no level {level}; its levels are "
            + ", ".join(str(o) for o in campus.ordinals))
    from api.imagery import imagery_path

    imagery = imagery_path(ctx, campus_id)
    printed_on = date.today()
    from api.store_publish import book_verification

    verified_on, verified_by = book_verification(ctx.store, campus_id)
    key: BookKey = (campus_id, loaded.revision, size, level,
                    imagery.stem if imagery else "", printed_on.isoformat(),
                    f"{verified_on} {verified_by}")
    etag = book_etag(key)
    from tiles.book import book_filename, make_book

    headers = {
        # like all campus data: never in a shared cache, nor left in a browser's (a book is
        # every floor plan of a school); the server keeps it instead (see BookShelf)
        "Cache-Control": "private, no-store",
        "ETag": etag,
        "Content-Disposition": f'inline; filename="{book_filename(campus, size, level)}"',
    }
    detail = (f"revision {loaded.revision}, {size}, "
              f"{'every level' if level is None else f'level {level}'}")
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        ctx.audit(request, principal, "book", campus_id, f"{detail}, not modified")
        return Response(status_code=304, headers=headers)
    shelf = shelf_of(ctx)
    pdf = shelf.get(key)
    if pdf is None:
        with shelf.making:
            pdf = shelf.get(key)
            if pdf is None:
                pdf = make_book(campus, size=size, level=level, revision=loaded.revision,
                                imagery=imagery, printed_on=printed_on,
                                verified_on=verified_on, verified_by=verified_by)
                shelf.put(key, pdf)
    ctx.audit(request, principal, "book", campus_id, f"{detail}, {len(pdf)} bytes")
    return Response(pdf, media_type=PDF, headers=headers)
