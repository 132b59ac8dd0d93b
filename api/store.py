"""Where campuses, their revisions, access tokens, browser sessions and the audit log live.

:class:`CampusStore` is the interface the API and CLI code against. :class:`SqlCampusStore`
implements it with SQLAlchemy 2.0 on portable SQL: SQLite (the embedded default) and
PostgreSQL (the scale-out backend); its schema is kept by Alembic migrations
(:mod:`api.migrations`). Geometry is stored as GeoJSON text plus lon/lat bounding-box columns
everywhere; on PostgreSQL with PostGIS also in geometry columns with GiST indexes, and the
cross-campus spatial questions
(:meth:`~CampusStore.campuses_at`, :meth:`~CampusStore.campuses_in`,
:meth:`~CampusStore.buildings_at`) are answered there (:mod:`api.postgis`).

Published maps are never overwritten: :meth:`CampusStore.save_revision` writes a *new* revision
number inside one transaction and moves the campus's current revision to it as the last step,
so a failure at any point leaves the previous revision current and intact. Orthophotos are
kept the same way: each one attached is a new imagery version of its campus (the highest is
current), an EPSG:3857 GeoTIFF stored in its row; earlier versions stay.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import shapely
import shapely.geometry
from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api import postgis
from api.audit import AuditWriter, audit_row, clean_text
from api.audit import utcnow as utcnow  # the store's clock, imported from here by callers
from api.migrations import upgrade_to_head

# the records and tables live in their own modules; callers import them from here too
from api.store_records import (
    AuditEntry as AuditEntry,
)
from api.store_records import (
    Bbox as Bbox,
)
from api.store_records import (
    CampusStore as CampusStore,
)
from api.store_records import (
    CampusSummary as CampusSummary,
)
from api.store_records import (
    ImageryInfo as ImageryInfo,
)
from api.store_records import (
    ImageryRecord as ImageryRecord,
)
from api.store_records import (
    RevisionInfo as RevisionInfo,
)
from api.store_records import (
    Role as Role,
)
from api.store_records import (
    SessionRecord as SessionRecord,
)
from api.store_records import (
    TokenRecord as TokenRecord,
)
from api.store_tables import (
    AuditRow as AuditRow,
)
from api.store_tables import (
    Base as Base,
)
from api.store_tables import (
    CampusRow as CampusRow,
)
from api.store_tables import (
    FeatureRow as FeatureRow,
)
from api.store_tables import (
    ImageryRow as ImageryRow,
)
from api.store_tables import (
    RevisionRow as RevisionRow,
)
from api.store_tables import (
    SessionRow as SessionRow,
)
from api.store_tables import (
    TokenRow as TokenRow,
)
from gridmap import grid
from gridmap.crs import LocalFrame
from gridmap.errors import CampusNotFound, NotFound
from gridmap.model import Campus
from gridmap.serialize import campus_features, campus_from_features

if TYPE_CHECKING:  # its module imports rasterio lazily; the store needs only the shape
    from importers.imagery import PreparedImagery

log = logging.getLogger(__name__)

# Features are inserted in batches of this many rows (module-level so tests can shrink it).
FEATURE_BATCH = 500
_SAVE_ATTEMPTS = 3



# --- the SQLAlchemy implementation ----------------------------------------------------------


#: joins a campus to its current (published) revision
_CURRENT_REVISION = ((RevisionRow.campus_id == CampusRow.id)
                     & (RevisionRow.number == CampusRow.current_revision))

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small map whose entries are trusted for ``ttl_s`` seconds of ``clock``."""

    def __init__(self, ttl_s: float, clock: Callable[[], float], max_entries: int = 10_000):
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value if younger than the TTL, else ``load()`` (and cache it)."""
        if self.ttl_s <= 0:
            return load()
        now = self.clock()
        hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        value = load()
        with self._lock:
            if len(self._items) >= self.max_entries:
                self._items = {k: v for k, v in self._items.items() if now - v[0] < self.ttl_s}
                if len(self._items) >= self.max_entries:
                    self._items.clear()
            self._items[key] = (now, value)
        return value

    def peek(self, key: K) -> V | None:
        """The cached value if fresh (no load), else None."""
        hit = self._items.get(key)
        if self.ttl_s > 0 and hit is not None and self.clock() - hit[0] < self.ttl_s:
            return hit[1]
        return None

    def fresh(self, key: K) -> bool:
        """Whether ``get(key)`` would answer from the cache now."""
        hit = self._items.get(key)
        return self.ttl_s > 0 and hit is not None and self.clock() - hit[0] < self.ttl_s

    def drop(self, key: K | None = None) -> None:
        """Forget one key (or everything): the next read goes to the database."""
        with self._lock:
            if key is None:
                self._items.clear()
            else:
                self._items.pop(key, None)


class SqlCampusStore:
    """:class:`CampusStore` on SQLAlchemy; on construction migrates its database to the
    newest schema (creating it if empty, adopting one made before migrations).

    Reads on every request's path are cached for ``cache_ttl_s`` seconds (at most 1 s): a
    token or session by hash, and a campus's current revision. So a token revoked or a revision
    published by *another* process (a CLI, another API worker) is seen here within
    ``cache_ttl_s``; changes made through this store object are seen at once. Audit entries are
    written in batches by an :class:`api.audit.AuditWriter`.
    """

    def __init__(
        self, url: str, *, echo: bool = False, cache_ttl_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic, audit_flush_interval_s: float = 0.2,
        audit_batch_max: int = 100,
    ) -> None:
        if not 0 <= cache_ttl_s <= 1.0:
            raise ValueError("cache_ttl_s must be between 0 and 1 s: revocation must be prompt")
        self.url = url
        self.engine = _engine(url, echo=echo)
        upgrade_to_head(self.engine)  # the schema: Alembic migrations, see api.migrations
        #: PostgreSQL with PostGIS: geometry columns kept and spatial questions asked there
        self.postgis = postgis.queries_for(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._tokens: TtlCache[str, TokenRecord | None] = TtlCache(cache_ttl_s, clock)
        self._browser_sessions: TtlCache[str, SessionRecord | None] = TtlCache(cache_ttl_s, clock)
        self._current: TtlCache[str, int | None] = TtlCache(cache_ttl_s, clock)
        self._imagery: TtlCache[str, ImageryInfo | None] = TtlCache(cache_ttl_s, clock)
        self.audit_writer = AuditWriter(self._write_audit, flush_interval_s=audit_flush_interval_s,
                                        batch_max=audit_batch_max)

    def close(self) -> None:
        try:
            self.audit_writer.close()
        finally:
            self.engine.dispose()

    # campuses --------------------------------------------------------------------------------

    def save_revision(
        self, campus: Campus, *, source: str, source_digest: str | None = None,
        publish: bool = True,
    ) -> RevisionInfo:
        for attempt in range(1, _SAVE_ATTEMPTS + 1):
            try:
                return self._save_revision(campus, source, source_digest, publish)
            except IntegrityError:
                # another writer took the same revision number first; take the next one
                if attempt == _SAVE_ATTEMPTS:
                    raise
                log.info("revision number race on %s, retrying", campus.id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _save_revision(
        self, campus: Campus, source: str, source_digest: str | None, publish: bool
    ) -> RevisionInfo:
        now = utcnow()
        box = Bbox(*grid.lonlat_bounds(campus.grid, LocalFrame(campus.crs)))
        with self._sessions.begin() as session:
            row = session.get(CampusRow, campus.id)
            if row is None:
                row = CampusRow(id=campus.id, name=campus.name, current_revision=None,
                                created_at=now, updated_at=now)
                session.add(row)
                session.flush()
            last = session.scalar(
                select(func.max(RevisionRow.number)).where(RevisionRow.campus_id == campus.id)
            )
            number = (last or 0) + 1
            revision = RevisionRow(
                campus_id=campus.id, number=number, created_at=now, source=source,
                source_digest=source_digest, feature_count=0, published=False,
                min_lon=box.min_lon, min_lat=box.min_lat, max_lon=box.max_lon,
                max_lat=box.max_lat,
            )
            session.add(revision)
            session.flush()
            count = 0
            for batch in _batches(_feature_rows(campus, number), FEATURE_BATCH):
                session.execute(insert(FeatureRow), batch)
                count += len(batch)
            revision.feature_count = count
            if self.postgis is not None:
                self.postgis.fill_revision(session, campus.id, number)
            if publish:
                # the flip: last statement before commit, so readers see old or new, never half
                revision.published = True
                session.execute(
                    update(CampusRow).where(CampusRow.id == campus.id)
                    .values(current_revision=number, name=campus.name, updated_at=now)
                )
            info = _revision_info(revision)
        self._current.drop(campus.id)
        log.info("stored %s revision %d (%d features)", campus.id, number, count)
        return info

    def campus(self, campus_id: str, revision: int | None = None) -> Campus:
        with self._sessions() as session:
            number = revision if revision is not None else self._current_in(session, campus_id)
            if session.get(RevisionRow, (campus_id, number)) is None:
                raise NotFound(
                    f"campus {campus_id} has no revision {number}",
                )
            rows = session.scalars(
                select(FeatureRow)
                .where(FeatureRow.campus_id == campus_id, FeatureRow.revision == number)
                .order_by(FeatureRow.seq)
            ).all()
            features = [
                {
                    "type": "Feature",
                    "id": r.feature_id,
                    "feature_type": r.feature_type,
                    "geometry": None if r.geometry is None else json.loads(r.geometry),
                    "properties": r.properties,
                }
                for r in rows
            ]
        return campus_from_features(features)

    def current_revision(self, campus_id: str) -> int:
        def load() -> int | None:
            with self._sessions() as session:
                return session.scalar(
                    select(CampusRow.current_revision).where(CampusRow.id == campus_id))

        number = self._current.get(campus_id, load)
        if number is None:
            raise _campus_not_found(campus_id)
        return number

    def cached_current_revision(self, campus_id: str) -> int | None:
        return self._current.peek(campus_id)

    def list_campuses(self) -> list[CampusSummary]:
        with self._sessions() as session:
            rows = session.execute(
                select(CampusRow, RevisionRow)
                .join(RevisionRow, (RevisionRow.campus_id == CampusRow.id)
                      & (RevisionRow.number == CampusRow.current_revision))
                .order_by(CampusRow.id)
            ).all()
            return [
                CampusSummary(c.id, c.name, r.number, _utc(c.updated_at), _bbox(r))
                for c, r in rows
            ]

    def revisions(self, campus_id: str) -> list[RevisionInfo]:
        with self._sessions() as session:
            if session.get(CampusRow, campus_id) is None:
                raise _campus_not_found(campus_id)
            rows = session.scalars(
                select(RevisionRow).where(RevisionRow.campus_id == campus_id)
                .order_by(RevisionRow.number)
            ).all()
            return [_revision_info(r) for r in rows]

    def revision_info(self, campus_id: str, number: int) -> RevisionInfo | None:
        with self._sessions() as session:
            row = session.get(RevisionRow, (campus_id, number))
            return None if row is None else _revision_info(row)

    def campuses_at(self, lon: float, lat: float) -> list[str]:
        with self._sessions() as session:
            if self.postgis is not None:
                return self.postgis.campuses_at(session, lon, lat)
            return sorted(session.scalars(
                select(CampusRow.id).join(RevisionRow, _CURRENT_REVISION)
                .where(RevisionRow.min_lon <= lon, RevisionRow.max_lon >= lon,
                       RevisionRow.min_lat <= lat, RevisionRow.max_lat >= lat)
            ))

    def campuses_in(self, box: Bbox) -> list[str]:
        with self._sessions() as session:
            if self.postgis is not None:
                return self.postgis.campuses_in(
                    session, box.min_lon, box.min_lat, box.max_lon, box.max_lat)
            return sorted(session.scalars(
                select(CampusRow.id).join(RevisionRow, _CURRENT_REVISION)
                .where(RevisionRow.min_lon <= box.max_lon, RevisionRow.max_lon >= box.min_lon,
                       RevisionRow.min_lat <= box.max_lat, RevisionRow.max_lat >= box.min_lat)
            ))

    def buildings_at(self, lon: float, lat: float) -> list[tuple[str, str]]:
        with self._sessions() as session:
            if self.postgis is not None:
                return self.postgis.buildings_at(session, lon, lat)
            rows = session.execute(
                select(FeatureRow.campus_id, FeatureRow.feature_id, FeatureRow.geometry)
                .join(CampusRow, (CampusRow.id == FeatureRow.campus_id)
                      & (CampusRow.current_revision == FeatureRow.revision))
                .where(FeatureRow.feature_type == "building",
                       FeatureRow.min_lon <= lon, FeatureRow.max_lon >= lon,
                       FeatureRow.min_lat <= lat, FeatureRow.max_lat >= lat)
            ).all()
        point = shapely.Point(lon, lat)
        return sorted((campus_id, building_id) for campus_id, building_id, geometry in rows
                      if geometry is not None
                      and shapely.geometry.shape(json.loads(geometry)).covers(point))

    @staticmethod
    def _current_in(session: Session, campus_id: str) -> int:
        number = session.scalar(select(CampusRow.current_revision).where(CampusRow.id == campus_id))
        if number is None:
            raise _campus_not_found(campus_id)
        return number

    # imagery ---------------------------------------------------------------------------------

    def save_imagery(
        self, campus_id: str, prepared: PreparedImagery, *, source_name: str, actor: str,
        attribution: str = "",
    ) -> int:
        for attempt in range(1, _SAVE_ATTEMPTS + 1):
            try:
                return self._save_imagery(campus_id, prepared, source_name, actor, attribution)
            except IntegrityError:
                # another writer took the same version number first; take the next one
                if attempt == _SAVE_ATTEMPTS:
                    raise
                log.info("imagery version race on %s, retrying", campus_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _save_imagery(
        self, campus_id: str, prepared: PreparedImagery, source_name: str, actor: str,
        attribution: str,
    ) -> int:
        with self._sessions.begin() as session:
            if session.get(CampusRow, campus_id) is None:
                raise _campus_not_found(campus_id)
            last = session.scalar(
                select(func.max(ImageryRow.version)).where(ImageryRow.campus_id == campus_id))
            version = (last or 0) + 1
            west, south, east, north = prepared.bounds_3857
            session.add(ImageryRow(
                campus_id=campus_id, version=version, created_at=utcnow(),
                source_name=clean_text(source_name, 300),
                source_digest=prepared.source_digest, source_crs=prepared.source_crs[:300],
                actor=clean_text(actor, 200), attribution=clean_text(attribution, 300),
                digest=prepared.digest, size_bytes=len(prepared.data), width=prepared.width,
                height=prepared.height, resolution_m=prepared.resolution_m,
                min_x=west, min_y=south, max_x=east, max_y=north, data=prepared.data,
            ))
        self._imagery.drop(campus_id)
        log.info("stored %s imagery version %d (%d bytes)", campus_id, version,
                 len(prepared.data))
        return version

    def imagery(self, campus_id: str, version: int | None = None) -> ImageryRecord | None:
        stmt = select(ImageryRow).where(ImageryRow.campus_id == campus_id)
        stmt = (stmt.order_by(ImageryRow.version.desc()).limit(1) if version is None
                else stmt.where(ImageryRow.version == version))
        with self._sessions() as session:
            row = session.scalar(stmt)
            return None if row is None else ImageryRecord(_imagery_info(row), bytes(row.data))

    def imagery_info(self, campus_id: str) -> ImageryInfo | None:
        def load() -> ImageryInfo | None:
            with self._sessions() as session:
                row = session.execute(
                    select(*_IMAGERY_INFO_COLUMNS).where(ImageryRow.campus_id == campus_id)
                    .order_by(ImageryRow.version.desc()).limit(1)
                ).first()
                return None if row is None else _imagery_info(row)

        return self._imagery.get(campus_id, load)

    def imagery_versions(self, campus_id: str) -> list[ImageryInfo]:
        with self._sessions() as session:
            if session.get(CampusRow, campus_id) is None:
                raise _campus_not_found(campus_id)
            rows = session.execute(
                select(*_IMAGERY_INFO_COLUMNS).where(ImageryRow.campus_id == campus_id)
                .order_by(ImageryRow.version)
            ).all()
            return [_imagery_info(r) for r in rows]

    # tokens ----------------------------------------------------------------------------------

    def add_token(
        self, *, token_id: str, name: str, role: Role, token_hash: str,
        expires_at: datetime | None, campuses: Sequence[str] | None = None,
    ) -> TokenRecord:
        row = TokenRow(
            id=token_id, name=name, role=role.value, token_hash=token_hash,
            created_at=utcnow(), expires_at=expires_at, revoked_at=None,
            campuses=None if campuses is None else list(campuses),
        )
        with self._sessions.begin() as session:
            session.add(row)
            record = _token_record(row)
        self._tokens.drop(token_hash)
        return record

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        def load() -> TokenRecord | None:
            with self._sessions() as session:
                row = session.scalar(select(TokenRow).where(TokenRow.token_hash == token_hash))
                return None if row is None else _token_record(row)

        return self._tokens.get(token_hash, load)

    def credential_cached(self, digest: str) -> bool:
        return self._tokens.fresh(digest) or self._browser_sessions.fresh(digest)

    def tokens(self) -> list[TokenRecord]:
        with self._sessions() as session:
            rows = session.scalars(select(TokenRow).order_by(TokenRow.created_at)).all()
            return [_token_record(r) for r in rows]

    def revoke_tokens(self, *, name: str | None = None, token_id: str | None = None) -> int:
        if name is None and token_id is None:
            raise ValueError("revoke_tokens needs a name or a token id")
        stmt = update(TokenRow).where(TokenRow.revoked_at.is_(None)).values(revoked_at=utcnow())
        if name is not None:
            stmt = stmt.where(TokenRow.name == name)
        if token_id is not None:
            stmt = stmt.where(TokenRow.id == token_id)
        with self._sessions.begin() as session:
            result = session.execute(stmt)
            count = int(getattr(result, "rowcount", 0))
        self._tokens.drop()
        self._browser_sessions.drop()
        return count

    # browser sessions ------------------------------------------------------------------------

    def add_session(
        self, *, session_hash: str, token_id: str, expires_at: datetime
    ) -> SessionRecord:
        now = utcnow()
        with self._sessions.begin() as session:
            token = session.get(TokenRow, token_id)
            if token is None:
                raise NotFound(f"no token {token_id}")
            session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
            row = SessionRow(session_hash=session_hash, token_id=token_id, created_at=now,
                             expires_at=expires_at, revoked_at=None)
            session.add(row)
            return _session_record(row, token)

    def session_by_hash(self, session_hash: str) -> SessionRecord | None:
        def load() -> SessionRecord | None:
            with self._sessions() as session:
                found = session.execute(
                    select(SessionRow, TokenRow).join(TokenRow, TokenRow.id == SessionRow.token_id)
                    .where(SessionRow.session_hash == session_hash)
                ).first()
                return None if found is None else _session_record(*found)

        return self._browser_sessions.get(session_hash, load)

    def revoke_session(self, session_hash: str) -> bool:
        stmt = (update(SessionRow)
                .where(SessionRow.session_hash == session_hash, SessionRow.revoked_at.is_(None))
                .values(revoked_at=utcnow()))
        with self._sessions.begin() as session:
            ended = bool(getattr(session.execute(stmt), "rowcount", 0))
        self._browser_sessions.drop(session_hash)
        return ended

    # audit -----------------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        self.audit_writer.add(entry)

    def audit_coalesced(self, entry: AuditEntry, key: Hashable) -> None:
        self.audit_writer.add_coalesced(entry, key)

    def flush_audit(self) -> None:
        self.audit_writer.flush()

    def audit_would_wait(self) -> bool:
        return self.audit_writer.unwritten() >= self.audit_writer.batch_max - 1

    def _write_audit(self, entries: Sequence[AuditEntry]) -> None:
        rows = [audit_row(e) for e in entries]  # scrubbed here, in the writer thread
        with self._sessions.begin() as session:
            session.execute(insert(AuditRow), rows)

    def audit_log(
        self, *, campus_id: str | None = None, campuses: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        self.flush_audit()  # what this process queued is part of the log
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if campus_id is not None:
            stmt = stmt.where(AuditRow.campus_id == campus_id)
        if campuses is not None:
            stmt = stmt.where(AuditRow.campus_id.in_(list(campuses)))
        with self._sessions() as session:
            return [audit_entry_of(r) for r in session.scalars(stmt)]


def open_store(url: str, **options: Any) -> SqlCampusStore:
    """The store for a database URL (SQLite file, ``sqlite://`` in memory, PostgreSQL).

    ``options`` are :class:`SqlCampusStore`'s (cache TTL, audit batching).
    """
    return SqlCampusStore(url, **options)


class PerStore(Generic[V]):
    """One companion of each store object (its workspaces, organisations, shares...), made on
    first use under a lock and dropped with the store, so all its callers share its caches."""

    def __init__(self, make: Callable[[Any], V], *, sql_only: str = "") -> None:
        """``sql_only``: who needs an SQL store ("workspaces need"); a store of another kind
        is then a ``TypeError``. Empty: any store."""
        self._make = make
        self._sql_only = sql_only
        self._made: weakref.WeakKeyDictionary[object, V] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def of(self, store: CampusStore) -> V:
        """The companion of ``store``."""
        found = self._made.get(store)
        if found is None:
            if self._sql_only and not isinstance(store, SqlCampusStore):
                raise TypeError(f"{self._sql_only} an SQL store, not {type(store).__name__}")
            with self._lock:
                found = self._made.get(store)
                if found is None:
                    found = self._made[store] = self._make(store)
        return found


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other backends and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    database = url.split("///", 1)[1] if "///" in url else ""
    database = database.split("?", 1)[0]
    if not database or database == ":memory:":
        return None
    return Path(database)


# --- helpers --------------------------------------------------------------------------------


def _private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only: 0600 / 0700.

    SQLite gives its -wal and -shm files the database file's permissions. Existing folders and
    files are left as they are (an operator may have chosen otherwise).
    """
    folder = path.parent
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # whatever the umask
        except FileExistsError:
            pass
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        os.close(fd)
        os.chmod(path, 0o600)


def _engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            _private_file(path)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


_SQLITE_BUSY_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    _write_ahead_log(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _write_ahead_log(cursor: Any) -> None:
    """Put the database in WAL mode (kept in the file, so once per database).

    SQLite does not wait for a busy database while it switches the journal mode: a second
    connection switching a new database at the same moment is refused "database is locked" at
    once. That connection looks again until the other has switched it (or the busy timeout
    has passed: another process holds the database, and the error stands).
    """
    deadline = time.monotonic() + _SQLITE_BUSY_MS / 1000
    pause = 0.005
    while True:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)  # polling another connection's lock: SQLite offers no event
        pause = min(pause * 2, 0.1)


def _feature_rows(campus: Campus, number: int) -> Iterator[dict[str, Any]]:
    ordinals = {lv.id: lv.ordinal for lv in campus.levels}
    for seq, feature in enumerate(campus_features(campus)):
        yield _feature_row(campus.id, number, seq, feature, ordinals)


def _feature_row(
    campus_id: str, number: int, seq: int, feature: dict[str, Any], ordinals: dict[str, int]
) -> dict[str, Any]:
    props = feature["properties"]
    kind = feature["feature_type"]
    geometry = feature["geometry"]
    if kind == "building":
        building_id: str | None = feature["id"]
    else:
        building_id = props.get("building_id")
    if kind == "level":
        ordinal: int | None = props["ordinal"]
    else:
        level_id = props.get("level_id")
        ordinal = ordinals.get(level_id) if level_id else None
    bounds = _geojson_bounds(geometry)
    return {
        "campus_id": campus_id, "revision": number, "seq": seq,
        "feature_id": feature["id"], "feature_type": kind, "building_id": building_id,
        "level_ordinal": ordinal, "properties": props,
        "geometry": None if geometry is None else json.dumps(geometry, separators=(",", ":")),
        "min_lon": bounds[0], "min_lat": bounds[1], "max_lon": bounds[2], "max_lat": bounds[3],
    }


def _geojson_bounds(
    geometry: dict[str, Any] | None,
) -> tuple[float | None, float | None, float | None, float | None]:
    if geometry is None:
        return (None, None, None, None)
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], int | float):
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        else:
            for c in coords:
                walk(c)

    if geometry.get("type") == "GeometryCollection":
        for g in geometry.get("geometries", []):
            b = _geojson_bounds(g)
            if b[0] is not None:
                walk([[b[0], b[1]], [b[2], b[3]]])
    else:
        walk(geometry.get("coordinates", []))
    if not xs:
        return (None, None, None, None)
    return (min(xs), min(ys), max(xs), max(ys))


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _utc(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def audit_entry_of(r: AuditRow) -> AuditEntry:
    return AuditEntry(_utc(r.ts), r.action, r.token_id, r.token_name, r.campus_id, r.detail,
                      r.client, r.count or 1, r.org_id, r.user_id, r.credential_kind,
                      r.credential_id, r.outcome or "ok", r.status)


def _bbox(r: RevisionRow) -> Bbox:
    return Bbox(r.min_lon, r.min_lat, r.max_lon, r.max_lat)


def _revision_info(r: RevisionRow) -> RevisionInfo:
    return RevisionInfo(
        campus_id=r.campus_id, number=r.number, created_at=_utc(r.created_at), source=r.source,
        source_digest=r.source_digest, feature_count=r.feature_count, published=r.published,
        bbox=_bbox(r),
    )


#: every imagery column but the GeoTIFF's bytes (metadata reads never load the image)
_IMAGERY_INFO_COLUMNS = tuple(
    c for c in ImageryRow.__table__.columns if c.name != "data")


def _imagery_info(r: Any) -> ImageryInfo:
    return ImageryInfo(
        campus_id=r.campus_id, version=r.version, created_at=_utc(r.created_at),
        source_name=r.source_name, source_digest=r.source_digest, source_crs=r.source_crs,
        actor=r.actor, attribution=r.attribution or "", digest=r.digest,
        size_bytes=r.size_bytes, width=r.width, height=r.height, resolution_m=r.resolution_m,
        bounds_3857=(r.min_x, r.min_y, r.max_x, r.max_y),
    )


def _token_record(r: TokenRow) -> TokenRecord:
    return TokenRecord(
        id=r.id, name=r.name, role=Role(r.role), token_hash=r.token_hash,
        created_at=_utc(r.created_at),
        expires_at=None if r.expires_at is None else _utc(r.expires_at),
        revoked_at=None if r.revoked_at is None else _utc(r.revoked_at),
        campuses=None if r.campuses is None else tuple(r.campuses),
    )


def _session_record(r: SessionRow, token: TokenRow) -> SessionRecord:
    return SessionRecord(
        session_hash=r.session_hash, token=_token_record(token), created_at=_utc(r.created_at),
        expires_at=_utc(r.expires_at),
        revoked_at=None if r.revoked_at is None else _utc(r.revoked_at),
    )


def _campus_not_found(campus_id: str) -> CampusNotFound:
    return CampusNotFound(f"no campus {campus_id!r}", user_message=f"unknown campus {campus_id!r}")
