"""What every request handler shares: settings, the store, and loaded campuses with indexes.

Campuses are loaded from the store once per (campus, revision) and kept, with their
``CampusIndex`` and grid GeoJSON, in a small LRU cache, so lookups never read features from the
database. Concurrent first requests for the same campus wait for one load instead of each
loading it. The current revision number is asked of the store on each request; the store
trusts its answer for at most ``auth_cache_ttl_s`` (1 s), so a new import shows up within a
second, also across worker processes, without a database round trip per request.

Refused requests (401, 403, 404 for a hidden campus, 429) are audited through
:meth:`AppContext.refused`, coalesced per source and minute (see :mod:`api.audit`).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from api.auth import Principal, audit_entry, client_of
from api.authz import AccessView, Action, decide, may, sees, sees_cached, visible_campuses
from api.errors import InvalidParameter
from api.settings import Settings
from api.share import share_may_read
from api.store import CampusStore
from api.store_identity import identity
from gridmap.errors import Forbidden, NotFound
from gridmap.index import CampusIndex
from gridmap.model import Campus

#: Revisions are 32-bit integers on PostgreSQL: larger ones are refused before any query.
MAX_REVISION = 2**31 - 1
#: Campus ids are stored in 100 characters; longer ones, and control characters, are refused.
MAX_CAMPUS_ID = 100
CAMPUS_ID_PATTERN = r"^[^\x00-\x1f\x7f/]+$"
_CAMPUS_ID = re.compile(CAMPUS_ID_PATTERN)

# A map view pulls hundreds of tiles; one audit row per token, campus and level per window.
TILE_AUDIT_WINDOW_S = 60.0
# past this many remembered (token, campus, level) keys, those older than the window are dropped
TILE_AUDITS_MAX = 10_000
#: A new lookup runs on the event loop while this revision's lookups cost less than this on
#: average (see LoadedCampus.answers_quickly); well under the 5 ms thread switch interval.
INLINE_LOOKUP_COST_S = 0.002
_COST_WEIGHT = 0.2  # weight of the newest lookup in the moving average


@dataclass
class LoadedCampus:
    campus: Campus
    revision: int
    _index: CampusIndex | None = None
    _grid_geojson: dict[str, Any] | None = None
    _detail: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # recent lookup answers: (query, limit) -> (status, JSON body); see lookup_answer
    _answers: OrderedDict[tuple[str, int], tuple[str, bytes]] = field(
        default_factory=OrderedDict)
    # moving average of what a new lookup of this revision costs (seconds); None before the
    # first. See answers_quickly.
    _lookup_cost_s: float | None = None

    def answers_quickly(self) -> bool:
        """Whether a new lookup may run on the event loop rather than in a worker thread.

        True once the index is built and this revision's recent lookups have cost well under
        the interpreter's thread switch interval (5 ms): a CPU-bound lookup in a worker thread
        holds the GIL, and with it the event loop, that long anyway, so running it inline
        delays other requests no more and saves the thread hand-off (~0.1 ms CPU and more
        wall time per request). The first lookups of a revision, which fill the index's lazy
        caches, and a campus whose lookups are slow, stay in worker threads.
        """
        cost = self._lookup_cost_s
        return self._index is not None and cost is not None and cost < INLINE_LOOKUP_COST_S

    def cached_answer(self, query: str, limit: int) -> tuple[str, bytes] | None:
        """A kept answer (see :meth:`lookup_answer`), or None; never searches."""
        with self._lock:
            return self._answers.get((query, limit))

    def lookup_answer(self, query: str, limit: int, keep: int) -> tuple[str, bytes]:
        """The lookup's status and JSON body (the API's shape), from the ``keep`` most recent
        answers of this revision when asked before. A lookup is a pure function of the
        revision, the query and the limit, so a repeated question (officers on one incident,
        a map's search box) costs no second search; a new revision is a new LoadedCampus."""
        key = (query, limit)
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None:
                self._answers.move_to_end(key)
                return hit
        from gridmap import lookup as lookups

        index = self.index()
        started = time.thread_time()  # CPU time: a busy machine's preemptions do not count
        result: dict[str, Any] = lookups.lookup(index, query, limit=limit).to_dict()
        cost = time.thread_time() - started
        last = self._lookup_cost_s  # a racy update loses one sample at worst
        self._lookup_cost_s = cost if last is None else last + (cost - last) * _COST_WEIGHT
        for candidate in result.get("candidates", []):
            candidate["campus_id"] = candidate.get("campus_id") or self.campus.id
        result["campus"] = self.campus.id
        result["revision"] = self.revision
        # orjson: a tenth of json.dumps's cost on these answers (UTF-8, compact). Published
        # revisions hold finite coordinates only (api.publish), so no NaN reaches it.
        body = orjson.dumps(result)
        answer = (str(result.get("status")), body)
        if keep > 0:
            with self._lock:
                self._answers[key] = answer
                while len(self._answers) > keep:
                    self._answers.popitem(last=False)
        return answer

    def index(self) -> CampusIndex:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = CampusIndex(self.campus)
        return self._index

    def detail(self) -> dict[str, Any]:
        """The campus detail answer (:func:`api.geo.campus_detail`), made once per revision:
        it projects through a new coordinate transformer, ~15 ms a time."""
        if self._detail is None:
            from api.geo import campus_detail

            self._detail = campus_detail(self.campus, self.revision)
        return self._detail

    def grid_geojson(self) -> dict[str, Any]:
        if self._grid_geojson is None:
            from api.geo import grid_feature_collection

            with self._lock:
                if self._grid_geojson is None:
                    self._grid_geojson = grid_feature_collection(self.campus)
        return self._grid_geojson


class RateLimiter:
    """A token bucket per key (a client address): ``burst`` at once, ``per_minute`` regained.

    Only what :meth:`spend` is called for counts (failed sign-ins); :meth:`retry_after` says
    how long a key must wait before it may try again. ``clock`` is monotonic seconds.
    """

    MAX_KEYS = 10_000

    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float]) -> None:
        self.burst = float(burst)
        self.rate_per_s = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate_per_s)

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may try again, or None if it may now."""
        with self._lock:
            tokens = self._tokens(key, self.clock())
        if tokens >= 1.0:
            return None
        return max(1, math.ceil((1.0 - tokens) / self.rate_per_s))

    def spend(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            tokens = self._tokens(key, now)
            if len(self._buckets) >= self.MAX_KEYS and key not in self._buckets:
                # keep only keys still short of a full bucket
                self._buckets = {k: v for k, v in self._buckets.items()
                                 if self._tokens(k, now) < self.burst}
            self._buckets[key] = (max(0.0, tokens - 1.0), now)


class AppContext:
    def __init__(
        self, settings: Settings, store: CampusStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.access = AccessView(identity(store), settings.operator_orgs)
        self.login_limiter = RateLimiter(settings.login_failures_burst,
                                         settings.login_failures_per_minute, clock)
        self._cache: OrderedDict[tuple[str, int], LoadedCampus] = OrderedDict()
        self._building: dict[tuple[str, int], Future[LoadedCampus]] = {}
        self._lock = threading.Lock()
        # last tile audit per (token, campus, level), oldest first
        self._tile_audits: OrderedDict[tuple[str, str, int], float] = OrderedDict()

    def authorize(
        self, request: Request, principal: Principal | None, action: Action,
        campus_id: str | None = None, *, org_id: str | None = None,
    ) -> None:
        """Refuse unless :func:`api.authz.decide` allows it: 401, 403, or 404 for a campus the
        principal may not see. Every refusal is audited as ``denied`` (a 404 here, 401/403 by
        the error handler)."""
        try:
            decide(principal, action, campus_id, self.access, org_id=org_id)
        except NotFound as exc:
            self.refused(request, principal, 404, _route_of(request), str(exc), campus_id)
            raise
        if principal is not None and principal.share_campus is not None:
            route = _route_of(request)
            if not share_may_read(route):  # of its campus, only what api.share lists
                raise Forbidden(f"share link {principal.actor} on {route}",
                                user_message="a share link reads lookups, the map, tiles, the "
                                "map book and the gazetteer only")

    def may(self, principal: Principal, action: Action, campus_id: str | None = None, *,
            org_id: str | None = None) -> bool:
        """Whether :meth:`authorize` would allow it (for choosing what to show; no audit)."""
        return may(principal, action, campus_id, self.access, org_id=org_id)

    def sees(self, principal: Principal, campus_id: str) -> bool:
        """Whether the principal may read this campus (for filtering lists; no audit)."""
        return sees(principal, campus_id, self.access)

    def visible_campuses(self, principal: Principal) -> frozenset[str]:
        """Every campus the principal may read (``/campuses``, the home page)."""
        return visible_campuses(principal, self.access)

    def check_access(
        self, request: Request, campus_id: str, principal: Principal, revision: int | None = None
    ) -> int:
        """The revision number this principal may read, or :class:`NotFound` (404).

        A campus the principal may not see is "unknown", like one that does not exist
        (:meth:`authorize`); an unpublished revision is readable only by those who may edit
        the campus. Every refusal is audited as ``denied`` before it is raised. A malformed
        campus id or an out-of-range revision is an :class:`~api.errors.InvalidParameter`
        (400), never a database error.
        """
        check_campus_id(campus_id)
        if revision is not None and not 1 <= revision <= MAX_REVISION:
            raise InvalidParameter(f"revision {revision} is out of range (1 to {MAX_REVISION})")
        self.authorize(request, principal, Action.READ, campus_id)
        try:
            current = self.store.current_revision(campus_id)
            if revision is None or revision == current:
                return current
            info = self.store.revision_info(campus_id, revision)
            drafts = self.may(principal, Action.EDIT, campus_id)
            if info is None or not (info.published or drafts):
                raise NotFound(
                    f"{principal.actor} asked for {campus_id} revision {revision}: "
                    + ("none" if info is None else "unpublished"),
                    user_message=f"no {'' if drafts else 'published '}revision {revision}",
                )
            return revision
        except NotFound as exc:
            self.refused(request, principal, 404, _route_of(request), str(exc), campus_id)
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

    def loaded_if_cached(self, campus_id: str, principal: Principal) -> LoadedCampus | None:
        """The current revision as :meth:`loaded` would give it, when that needs no I/O and no
        refusal (the principal's visible campuses and the current revision are cached, the
        campus is loaded); else None: then :meth:`loaded` (in a worker thread) decides,
        audits refusals and loads."""
        if sees_cached(principal, campus_id, self.access) is not True:
            return None
        number = self.store.cached_current_revision(campus_id)
        if number is None:
            return None
        with self._lock:
            hit = self._cache.get((campus_id, number))
            if hit is not None:
                self._cache.move_to_end((campus_id, number))
            return hit

    def audit_would_wait(self) -> bool:
        """Whether queuing an audit entry now could block (a full batch is unwritten)."""
        return self.store.audit_would_wait()

    def audit(
        self, request: Request, principal: Principal | None, action: str,
        campus_id: str | None = None, detail: str = "",
    ) -> None:
        self.store.audit(audit_entry(request, principal, action, campus_id, detail))

    def refused(
        self, request: Request, principal: Principal | None, status: int, route: str,
        reason: str, campus_id: str | None = None,
    ) -> None:
        """Audit a refused request as ``denied``, coalesced per source (client address, status,
        route, reason) and minute, so that a flood of bad requests stays a few rows."""
        entry = audit_entry(request, principal, "denied", campus_id,
                            f"{status} {request.method} {route}: {reason}")
        key = ("denied", client_of(request), status, route, reason, campus_id,
               None if principal is None else principal.actor)
        self.store.audit_coalesced(entry, key)

    def audit_coalesced(
        self, request: Request, principal: Principal | None, action: str, detail: str,
    ) -> None:
        """An audit entry written once per client address, action and detail a minute."""
        self.store.audit_coalesced(audit_entry(request, principal, action, None, detail),
                                   (action, client_of(request), detail))

    def audit_tile(
        self, request: Request, principal: Principal, campus_id: str, ordinal: int, detail: str
    ) -> None:
        key = (principal.actor, campus_id, ordinal)
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


def check_campus_id(campus_id: str) -> None:
    """Refuse (400) an id no campus can have: too long, or with control characters."""
    if len(campus_id) > MAX_CAMPUS_ID or not _CAMPUS_ID.match(campus_id):
        raise InvalidParameter(
            f"malformed campus id ({len(campus_id)} characters)",
            user_message=f"a campus id has 1 to {MAX_CAMPUS_ID} printable characters")


def _route_of(request: Request) -> str:
    """The route's path template (``/campuses/{campus_id}``), else the path itself."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return str(path if path is not None else request.url.path)[:200]


async def get_ctx(request: Request) -> AppContext:
    """FastAPI dependency: the application's shared :class:`AppContext`."""
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]
