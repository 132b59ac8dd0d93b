"""What every request handler shares: settings, the store, and loaded campuses with indexes.

Campuses are loaded from the store once per (campus, revision) and kept, with their
``CampusIndex`` and grid GeoJSON, in a small LRU cache, so lookups never read features from the
database. Concurrent first requests for the same campus wait for one load instead of each
loading it. The current revision number is asked of the store on each request (one primary-key
read) so a new import shows up at once, also across worker processes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import Principal, audit_entry
from api.settings import Settings
from api.store import CampusStore
from gridmap.errors import CampusNotFound, NotFound
from gridmap.index import CampusIndex
from gridmap.model import Campus

# A map view pulls hundreds of tiles; one audit row per token, campus and level per window.
TILE_AUDIT_WINDOW_S = 60.0
# past this many remembered (token, campus, level) keys, those older than the window are dropped
TILE_AUDITS_MAX = 10_000


@dataclass
class LoadedCampus:
    campus: Campus
    revision: int
    _index: CampusIndex | None = None
    _grid_geojson: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def index(self) -> CampusIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = CampusIndex(self.campus)
        return self._index

    def grid_geojson(self) -> dict[str, Any]:
        if self._grid_geojson is None:
            from api.geo import grid_feature_collection

            with self._lock:
                if self._grid_geojson is None:
                    self._grid_geojson = grid_feature_collection(self.campus)
        return self._grid_geojson


class AppContext:
    def __init__(self, settings: Settings, store: CampusStore) -> None:
        self.settings = settings
        self.store = store
        self._cache: OrderedDict[tuple[str, int], LoadedCampus] = OrderedDict()
        self._building: dict[tuple[str, int], Future[LoadedCampus]] = {}
        self._lock = threading.Lock()
        # last tile audit per (token, campus, level), oldest first
        self._tile_audits: OrderedDict[tuple[str, str, int], float] = OrderedDict()

    def check_access(
        self, request: Request, campus_id: str, principal: Principal, revision: int | None = None
    ) -> int:
        """The revision number this principal may read, or :class:`NotFound` (404).

        A campus the token may not see is "unknown", like one that does not exist; an
        unpublished revision is readable by admins only. Every refusal is audited as
        ``denied`` before it is raised.
        """
        try:
            if not principal.may_see(campus_id):
                raise CampusNotFound(f"{principal.token_id} may not see {campus_id}",
                                     user_message=f"unknown campus {campus_id!r}")
            current = self.store.current_revision(campus_id)
            if revision is None or revision == current:
                return current
            info = self.store.revision_info(campus_id, revision)
            if info is None or not (info.published or principal.is_admin):
                raise NotFound(
                    f"{principal.token_id} asked for {campus_id} revision {revision}: "
                    + ("none" if info is None else "unpublished"),
                    user_message=f"no {'' if principal.is_admin else 'published '}"
                    f"revision {revision}",
                )
            return revision
        except NotFound as exc:
            self.audit(request, principal, "denied", campus_id, str(exc))
            raise

    def loaded(
        self, request: Request, campus_id: str, principal: Principal, revision: int | None = None
    ) -> LoadedCampus:
        """The campus as this principal may see it (see :meth:`check_access`)."""
        number = self.check_access(request, campus_id, principal, revision)
        key = (campus_id, number)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            # the first request for a key builds it; concurrent ones (a map page and its
            # ~20 parallel tile requests) wait for that build instead of repeating it
            pending = self._building.get(key)
            if pending is None:
                pending = self._building[key] = Future()
                building = True
            else:
                building = False
        if not building:
            return pending.result()
        try:
            entry = LoadedCampus(self.store.campus(campus_id, number), number)
        except BaseException as exc:
            with self._lock:
                del self._building[key]
            pending.set_exception(exc)
            raise
        with self._lock:
            del self._building[key]
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self.settings.index_cache_size:
                self._cache.popitem(last=False)
        pending.set_result(entry)
        return entry

    def audit(
        self, request: Request, principal: Principal | None, action: str,
        campus_id: str | None = None, detail: str = "",
    ) -> None:
        self.store.audit(audit_entry(request, principal, action, campus_id, detail))

    def audit_tile(
        self, request: Request, principal: Principal, campus_id: str, ordinal: int, detail: str
    ) -> None:
        key = (principal.token_id, campus_id, ordinal)
        now = time.monotonic()
        with self._lock:
            last = self._tile_audits.get(key)
            if last is not None and now - last < TILE_AUDIT_WINDOW_S:
                return
            self._tile_audits[key] = now
            self._tile_audits.move_to_end(key)
            if len(self._tile_audits) > TILE_AUDITS_MAX:
                # oldest first, so the stale ones are at the front: O(number dropped)
                while self._tile_audits:
                    oldest, when = next(iter(self._tile_audits.items()))
                    if now - when < TILE_AUDIT_WINDOW_S:
                        break
                    del self._tile_audits[oldest]
        self.audit(request, principal, "tiles", campus_id, detail)


async def get_ctx(request: Request) -> AppContext:
    """FastAPI dependency: the application's shared :class:`AppContext`."""
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]
