"""Workspaces: where facilities staff bring their files, confirm layers, georeference, import
and fix a campus before publishing it.

A workspace belongs to one district (``org_id``) and prepares one campus (``campus_id``). It
holds the uploaded files (``workspace_files``: name, kind, size, SHA-256, why it cannot be used),
the floor plans found in them (``workspace_drawings``: the proposed layers, what the editor set:
building, level, layers, units, control points), the campus-wide settings, the editor's fixes
(``edits``, re-applied after every re-import), the import job and the last import's report.

The uploaded bytes live on disk, never in the database: ``<data dir>/workspaces/<id>/`` (0700),
each file under its SHA-256 (``files/<sha256>.<ext>``; an archive's members in
``files/<sha256>/``), so two uploads of one file are stored once. They are read by the import
and the preview routes only, which authorise first; nothing serves them back raw.

The tables hang on :class:`api.store.Base`; :func:`workspaces` gives a store's
:class:`WorkspaceStore`.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from api.store import Base, CampusStore, PerStore, utcnow
from gridmap.errors import Conflict, NotFound

#: the most files and drawings one workspace holds
MAX_FILES = 200
MAX_DRAWINGS = 200
WORKSPACES_DIR = "workspaces"


class WorkspaceNotFound(NotFound):
    """No workspace with this id (or one the caller may not see: the same answer)."""


class WorkspaceState(StrEnum):
    NEW = "new"  # files being added, layers being confirmed
    IMPORTING = "importing"  # an import job is queued or running
    IMPORTED = "imported"  # a draft revision exists
    FAILED = "failed"  # the last import failed (see job)


class FileKind(StrEnum):
    DXF = "dxf"
    PARCEL = "parcel"
    GROUNDS = "grounds"
    POIS = "pois"
    OSM = "osm"
    IMDF = "imdf"
    IMAGERY = "imagery"
    UNUSABLE = "unusable"  # kept so the page can say why; never imported


# --- tables ---------------------------------------------------------------------------------


class WorkspaceRow(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    campus_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[str | None] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    edits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    job_id: Mapped[str | None] = mapped_column(String(40))
    draft_revision: Mapped[int | None] = mapped_column(Integer)


class WorkspaceFileRow(Base):
    __tablename__ = "workspace_files"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkspaceDrawingRow(Base):
    __tablename__ = "workspace_drawings"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[str] = mapped_column(
        ForeignKey("workspace_files.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(500))
    proposal: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    has_geodata: Mapped[bool] = mapped_column(Boolean)
    bounds: Mapped[list[float] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- value objects --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkspaceFile:
    id: str
    workspace_id: str
    name: str
    kind: FileKind
    size: int
    sha256: str
    path: str  # relative to the workspace's folder
    error: str | None
    detail: Mapping[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind.value, "size": self.size,
                "sha256": self.sha256, "error": self.error, "detail": dict(self.detail),
                "created_at": self.created_at.isoformat()}


@dataclass(frozen=True, slots=True)
class Drawing:
    id: str
    workspace_id: str
    file_id: str
    name: str
    path: str  # relative to the workspace's folder
    proposal: Mapping[str, Any]
    settings: Mapping[str, Any]
    has_geodata: bool
    bounds: tuple[float, float, float, float] | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "file_id": self.file_id, "name": self.name,
                "proposal": dict(self.proposal), "settings": dict(self.settings),
                "has_geodata": self.has_geodata,
                "bounds": None if self.bounds is None else list(self.bounds)}


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    campus_id: str
    name: str
    org_id: str | None
    state: WorkspaceState
    created_by: str
    created_by_id: str | None
    created_at: datetime
    updated_at: datetime
    settings: Mapping[str, Any]
    edits: tuple[Mapping[str, Any], ...]
    report: Mapping[str, Any] | None
    job_id: str | None
    draft_revision: int | None
    files: tuple[WorkspaceFile, ...] = ()
    drawings: tuple[Drawing, ...] = field(default=())

    def file(self, file_id: str) -> WorkspaceFile:
        for f in self.files:
            if f.id == file_id:
                return f
        raise NotFound(f"workspace {self.id} has no file {file_id!r}",
                       user_message=f"this workspace has no file {file_id!r}")

    def drawing(self, drawing_id: str) -> Drawing:
        for d in self.drawings:
            if d.id == drawing_id:
                return d
        raise NotFound(f"workspace {self.id} has no drawing {drawing_id!r}",
                       user_message=f"this workspace has no drawing {drawing_id!r}")

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "campus_id": self.campus_id, "name": self.name,
                "org": self.org_id, "state": self.state.value, "created_by": self.created_by,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(), "files": len(self.files),
                "drawings": len(self.drawings), "draft_revision": self.draft_revision}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# --- the store ------------------------------------------------------------------------------


class WorkspaceStore:
    """Workspaces on a store's database (no caching: they are edited, not looked up)."""

    def __init__(self, engine: Engine) -> None:
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)

    # workspaces --------------------------------------------------------------------------------

    def create(self, *, campus_id: str, name: str, org_id: str | None, created_by: str,
               created_by_id: str | None, settings: Mapping[str, Any]) -> Workspace:
        now = utcnow()
        row = WorkspaceRow(
            id=new_id("ws"), campus_id=campus_id, name=name[:200], org_id=org_id,
            state=WorkspaceState.NEW.value, created_by=created_by[:200],
            created_by_id=created_by_id, created_at=now, updated_at=now,
            settings=dict(settings), edits=[], report=None, job_id=None, draft_revision=None)
        with self._sessions.begin() as session:
            session.add(row)
        return self.get(row.id)

    def find(self, workspace_id: str) -> Workspace | None:
        with self._sessions() as session:
            row = session.get(WorkspaceRow, workspace_id)
            if row is None:
                return None
            files = session.scalars(select(WorkspaceFileRow).where(
                WorkspaceFileRow.workspace_id == workspace_id)
                .order_by(WorkspaceFileRow.created_at, WorkspaceFileRow.id)).all()
            drawings = session.scalars(select(WorkspaceDrawingRow).where(
                WorkspaceDrawingRow.workspace_id == workspace_id)
                .order_by(WorkspaceDrawingRow.created_at, WorkspaceDrawingRow.id)).all()
            return _workspace(row, files, drawings)

    def get(self, workspace_id: str) -> Workspace:
        found = self.find(workspace_id)
        if found is None:
            raise WorkspaceNotFound(f"no workspace {workspace_id!r}",
                                    user_message=f"unknown workspace {workspace_id!r}")
        return found

    def list(self, org_id: str | None = None) -> list[Workspace]:
        """Workspaces (of one organisation), newest first, without their files."""
        stmt = select(WorkspaceRow).order_by(WorkspaceRow.updated_at.desc(), WorkspaceRow.id)
        if org_id is not None:
            stmt = stmt.where(WorkspaceRow.org_id == org_id)
        with self._sessions() as session:
            return [_workspace(r, (), ()) for r in session.scalars(stmt)]

    def update(self, workspace_id: str, *, expect_draft: int | Literal[False] | None = False,
               **values: Any) -> Workspace:
        """Change a workspace's own columns (settings, edits, report, job_id, state, ...);
        with ``expect_draft``, only if its draft revision is still that one (else
        :class:`~gridmap.errors.Conflict`: another editor's change came first)."""
        allowed = {"name", "state", "settings", "edits", "report", "job_id", "draft_revision"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not a workspace column: {sorted(unknown)}")
        with self._sessions.begin() as session:
            row = session.get(WorkspaceRow, workspace_id, with_for_update=True)
            if row is None:
                raise WorkspaceNotFound(f"no workspace {workspace_id!r}",
                                        user_message=f"unknown workspace {workspace_id!r}")
            if expect_draft is not False and row.draft_revision != expect_draft:
                raise Conflict(
                    f"{workspace_id}: draft {row.draft_revision}, expected {expect_draft}",
                    user_message=f"the workspace's draft is revision {row.draft_revision} now, "
                    f"not {expect_draft}: someone changed it meanwhile; reload and try again")
            for key, value in values.items():
                setattr(row, key, value.value if isinstance(value, StrEnum) else value)
            row.updated_at = utcnow()
        return self.get(workspace_id)

    def delete(self, workspace_id: str) -> bool:
        with self._sessions.begin() as session:
            row = session.get(WorkspaceRow, workspace_id)
            if row is None:
                return False
            session.execute(delete(WorkspaceDrawingRow).where(
                WorkspaceDrawingRow.workspace_id == workspace_id))
            session.execute(delete(WorkspaceFileRow).where(
                WorkspaceFileRow.workspace_id == workspace_id))
            session.delete(row)
        return True

    # files and drawings ------------------------------------------------------------------------

    def add_file(self, workspace_id: str, *, name: str, kind: FileKind, size: int, sha256: str,
                 path: str, error: str | None = None,
                 detail: Mapping[str, Any] | None = None) -> WorkspaceFile:
        now = utcnow()
        row = WorkspaceFileRow(
            id=new_id("wf"), workspace_id=workspace_id, name=name[:300], kind=kind.value,
            size=size, sha256=sha256, path=path, error=None if error is None else error[:2000],
            detail=dict(detail or {}), created_at=now)
        with self._sessions.begin() as session:
            session.add(row)
            _touch(session, workspace_id, now)
        return _file(row)

    def add_drawing(self, workspace_id: str, file_id: str, *, name: str, path: str,
                    proposal: Mapping[str, Any], settings: Mapping[str, Any],
                    has_geodata: bool, bounds: Sequence[float] | None) -> Drawing:
        now = utcnow()
        row = WorkspaceDrawingRow(
            id=new_id("wd"), workspace_id=workspace_id, file_id=file_id, name=name[:300],
            path=path, proposal=dict(proposal), settings=dict(settings),
            has_geodata=has_geodata, bounds=None if bounds is None else [float(b) for b in bounds],
            created_at=now)
        with self._sessions.begin() as session:
            session.add(row)
            _touch(session, workspace_id, now)
        return _drawing(row)

    def set_file_kind(self, workspace_id: str, file_id: str, kind: FileKind) -> None:
        with self._sessions.begin() as session:
            row = session.get(WorkspaceFileRow, file_id)
            if row is None or row.workspace_id != workspace_id:
                raise NotFound(f"no file {file_id!r} in {workspace_id}",
                               user_message=f"this workspace has no file {file_id!r}")
            row.kind = kind.value
            _touch(session, workspace_id, utcnow())

    def set_drawing_settings(self, workspace_id: str, drawing_id: str,
                             settings: Mapping[str, Any]) -> Drawing:
        with self._sessions.begin() as session:
            row = session.get(WorkspaceDrawingRow, drawing_id)
            if row is None or row.workspace_id != workspace_id:
                raise NotFound(f"no drawing {drawing_id!r} in {workspace_id}",
                               user_message=f"this workspace has no drawing {drawing_id!r}")
            row.settings = dict(settings)
            _touch(session, workspace_id, utcnow())
            return _drawing(row)

    def remove_file(self, workspace_id: str, file_id: str) -> WorkspaceFile:
        """Remove a file and the drawings found in it (the bytes: see
        :func:`remove_unreferenced`)."""
        with self._sessions.begin() as session:
            row = session.get(WorkspaceFileRow, file_id)
            if row is None or row.workspace_id != workspace_id:
                raise NotFound(f"no file {file_id!r} in {workspace_id}",
                               user_message=f"this workspace has no file {file_id!r}")
            gone = _file(row)
            session.execute(delete(WorkspaceDrawingRow).where(
                WorkspaceDrawingRow.file_id == file_id))
            session.delete(row)
            _touch(session, workspace_id, utcnow())
        return gone

    def count_files(self, workspace_id: str) -> int:
        with self._sessions() as session:
            return len(session.scalars(select(WorkspaceFileRow.id).where(
                WorkspaceFileRow.workspace_id == workspace_id)).all())


def _touch(session: Session, workspace_id: str, now: datetime) -> None:
    row = session.get(WorkspaceRow, workspace_id)
    if row is None:
        raise WorkspaceNotFound(f"no workspace {workspace_id!r}",
                                user_message=f"unknown workspace {workspace_id!r}")
    row.updated_at = now


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _file(r: WorkspaceFileRow) -> WorkspaceFile:
    return WorkspaceFile(r.id, r.workspace_id, r.name, FileKind(r.kind), int(r.size), r.sha256,
                         r.path, r.error, dict(r.detail or {}), _utc(r.created_at))


def _drawing(r: WorkspaceDrawingRow) -> Drawing:
    bounds = None
    if r.bounds is not None and len(r.bounds) == 4:
        bounds = (float(r.bounds[0]), float(r.bounds[1]), float(r.bounds[2]),
                  float(r.bounds[3]))
    return Drawing(r.id, r.workspace_id, r.file_id, r.name, r.path, dict(r.proposal or {}),
                   dict(r.settings or {}), bool(r.has_geodata), bounds, _utc(r.created_at))


def _workspace(r: WorkspaceRow, files: Sequence[WorkspaceFileRow],
               drawings: Sequence[WorkspaceDrawingRow]) -> Workspace:
    return Workspace(
        id=r.id, campus_id=r.campus_id, name=r.name, org_id=r.org_id,
        state=WorkspaceState(r.state), created_by=r.created_by, created_by_id=r.created_by_id,
        created_at=_utc(r.created_at), updated_at=_utc(r.updated_at),
        settings=dict(r.settings or {}), edits=tuple(r.edits or ()), report=r.report,
        job_id=r.job_id, draft_revision=r.draft_revision,
        files=tuple(_file(f) for f in files), drawings=tuple(_drawing(d) for d in drawings))


_WORKSPACES: PerStore[WorkspaceStore] = PerStore(lambda store: WorkspaceStore(store.engine),
                                                 sql_only="workspaces need")


def workspaces(store: CampusStore) -> WorkspaceStore:
    """The :class:`WorkspaceStore` of a store object, on the store's database."""
    return _WORKSPACES.of(store)


# --- the files on disk ----------------------------------------------------------------------


def workspace_dir(data_dir: Path, workspace_id: str, *, create: bool = False) -> Path:
    """The workspace's private folder (0700 when made), under the data dir."""
    if not workspace_id.replace("_", "").isalnum():
        raise WorkspaceNotFound(f"malformed workspace id {workspace_id!r}",
                                user_message="malformed workspace id")
    root = data_dir / WORKSPACES_DIR
    folder = root / workspace_id
    if create:
        for path in (data_dir, root, folder, folder / "files"):
            path.mkdir(mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)
    return folder


def remove_workspace_dir(data_dir: Path, workspace_id: str) -> None:
    folder = workspace_dir(data_dir, workspace_id)
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
