"""``gridmap import``: a campus manifest imported as a new draft revision (or published),
and what an import job shares with it (source digest, owner, publish)."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from gridmap.errors import CampusNotFound

if TYPE_CHECKING:  # imported where used: `gridmap lookup` must start in well under 0.5 s
    from api.settings import Settings
    from api.store import CampusStore, RevisionInfo


def _digest_files(folder: Path) -> list[tuple[str, Path | None]]:
    """Every non-hidden regular file under ``folder`` by relative path, sorted; a symlink whose
    target lies outside the folder (or nowhere) is listed with None, its target unread.
    Symlinked folders are not descended into."""
    found: list[tuple[str, Path | None]] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                target = path.resolve()
                inside = target.is_relative_to(folder) and target.is_file()
                found.append((rel, target if inside else None))
            elif path.is_file():
                found.append((rel, path))
    return sorted(found, key=lambda item: item[0])


def source_digest(manifest: Path) -> str:
    """sha256 over the manifest's folder (every non-hidden file, by relative path and content).

    Nothing outside the folder is read: a symlink pointing out of it counts by its name only.
    """
    folder = manifest.resolve().parent
    h = hashlib.sha256()
    for rel, path in _digest_files(folder):
        h.update(rel.encode() + b"\0")
        if path is None:
            h.update(b"symlink out of the manifest folder\0")
            continue
        file_hash = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                file_hash.update(chunk)
        h.update(file_hash.digest())
    return h.hexdigest()


def _manifest_campus_id(manifest: Path) -> str | None:
    import tomllib

    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # the importer reports the problem properly
    campus = data.get("campus")
    cid = campus.get("id") if isinstance(campus, dict) else data.get("id")
    return cid if isinstance(cid, str) else None


def import_manifest(
    store: CampusStore, manifest: Path, *, only_if_changed: bool = False,
    org: str | None = None, publish: bool = False,
    progress: Callable[[int, str], None] | None = None,
) -> tuple[RevisionInfo | None, Any]:
    """Import a campus manifest as a new *draft* revision, served to nobody until published;
    ``(None, None)`` if unchanged and asked to skip.

    The campus's current revision is handed to the importer so painted door numbers stay.
    ``publish=True`` then publishes the draft in the same step, through the same atomic flip
    as ``gridmap publish`` expecting the revision that was current when the import began: if
    someone published meanwhile, :class:`~gridmap.errors.RevisionConflict` names both and the
    new revision stays a draft. The returned info says whether it was published.

    The importer runs in a child process under the import time and memory limits
    (:mod:`api.import_process`), telling ``progress(percent, message)`` how far it is.
    """
    from api.cli import CliError, cli_audit

    if not manifest.is_file():
        raise CliError(f"manifest not found: {manifest}")
    digest = source_digest(manifest)
    campus_id = _manifest_campus_id(manifest)
    base = _published_now(store, campus_id) if campus_id else None  # what publish expects
    previous = _current_or_none(store, campus_id, base) if campus_id else None
    if only_if_changed and campus_id and previous is not None:
        number = base
        current = next(r for r in store.revisions(campus_id) if r.number == number)
        if current.source_digest == digest:
            return None, None
    from api.import_process import import_in_sandbox, sandbox_limits
    from api.publish import check_servable, import_limits
    from api.settings import Settings

    settings = Settings()  # GRIDMAP_IMPORT_TIME_LIMIT_S, ..._MEMORY_LIMIT_MB
    limits, sandbox = import_limits(settings), sandbox_limits(settings)
    result = import_in_sandbox(manifest, previous, limits, sandbox, progress)
    if result.campus.id != campus_id:  # id differed from the peek: keep door numbers
        base = _published_now(store, result.campus.id)
        if (existing := _current_or_none(store, result.campus.id, base)) is not None:
            result = import_in_sandbox(manifest, existing, limits, sandbox, progress)
    # refused with the reason; the current revision stays
    result.nearby_distances = check_servable(result.campus)
    owner = campus_owner_for_import(store, result.campus.id, org)
    info = store.save_revision(
        result.campus, source=f"import {manifest.name} (sha256 {digest[:12]})",
        source_digest=digest, publish=False,
    )
    if owner is not None:
        from api.store_identity import identity

        identity(store).assign_campus(info.campus_id, owner)
    cli_audit(store, "import", campus_id=info.campus_id,
              detail=f"draft revision {info.number} from {manifest.name}, "
                     f"{info.feature_count} features, sha256 {digest}")
    if publish:
        info = publish_imported(store, info, base)
    return info, result


def publish_imported(store: CampusStore, info: RevisionInfo, expect: int | None,
                     actor: str | None = None) -> RevisionInfo:
    """Publish an imported draft expecting ``expect`` current (what was when the import began),
    as ``gridmap publish`` does; on a conflict the error says the draft stays and how to go on."""
    import dataclasses

    from api.cli_publish import publish_revision
    from gridmap.errors import RevisionConflict

    cid, n = info.campus_id, info.number
    try:
        publish_revision(store, cid, n, expect, actor=actor)
    except RevisionConflict as exc:
        now = _published_now(store, cid)
        review = f"review it with gridmap diff {cid} {now} {n}, then " if now else ""
        message = (f"{exc}. Revision {n} stays a draft: {review}gridmap publish {cid} "
                   f"--revision {n} --expect-current {now or 'none'}")
        raise RevisionConflict(message, user_message=message) from exc
    return dataclasses.replace(info, published=True)


def campus_owner_for_import(store: CampusStore, campus_id: str, org: str | None) -> str | None:
    """The district an import stores a campus for (checked before anything is stored): the one
    named (``--org``); else the campus's owner; else the only district; with no district at all
    None (the campus is then the first district's, see :mod:`api.store_identity`). Several
    districts and none named: an error naming them."""
    from api.cli import CliError
    from api.errors import InvalidParameter
    from api.store_identity import OrgKind, identity

    ident = identity(store)
    if org is not None:
        chosen = ident.find_org(org)
        if chosen.kind is not OrgKind.DISTRICT:
            raise CliError(f"{chosen.name} is {chosen.kind.value}, not a district: only "
                           "districts own campuses")
        ident.check_may_own(campus_id, chosen.id)
        return chosen.id
    current = ident.campus_owner(campus_id)
    if current is not None:
        return current
    if not any(o.kind is OrgKind.DISTRICT for o in ident.orgs()):
        return None
    try:
        return ident.sole_district().id
    except InvalidParameter as exc:
        raise CliError(str(exc)) from exc


def _published_now(store: CampusStore, campus_id: str) -> int | None:
    """The campus's published revision read from the database (no cache): the base of an
    import and what its publish expects. None for a new campus or one with drafts only."""
    from api.store_publish import publishing

    try:
        return publishing(store).state(campus_id).current
    except CampusNotFound:
        return None


def _current_or_none(store: CampusStore, campus_id: str, number: int | None) -> Any:
    """Revision ``number`` of the campus (its current one, read before), or None."""
    if number is None:
        return None
    try:
        return store.campus(campus_id, number)
    except CampusNotFound:
        return None


def _print_import(info: RevisionInfo, result: Any, out: TextIO) -> None:
    print(f"{info.campus_id}: stored revision {info.number} ({info.feature_count} features)",
          file=out)
    for warning in result.warnings:
        print(f"  warning: {warning}", file=out)
    for name, rms in sorted(result.residuals.items()):
        print(f"  georeference residual {name}: {rms:.3f} m RMS", file=out)
    # how nearby answers will be measured, so a missing hallway or door layer shows here and
    # not first in a dispatcher's answer
    for line in result.nearby_distances:
        print(f"  nearby distances: {line}", file=out)


def cmd_import(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    from api.cli_progress import ImportProgress

    bar = ImportProgress(sys.stderr)  # a bar on a terminal, plain lines in a log
    try:
        info, result = import_manifest(store, Path(args.manifest),
                                       only_if_changed=args.if_changed, org=args.org,
                                       publish=args.publish, progress=bar)
    finally:
        bar.close()
    if info is None:
        print("source unchanged since the current revision; nothing stored")
        return 0
    _print_import(info, result, sys.stdout)
    if info.published:
        print(f"{info.campus_id}: published revision {info.number}")
    else:
        current = _current_number(store, info.campus_id)
        cid, n = info.campus_id, info.number
        print(f"{cid}: revision {n} is a draft, served to nobody until published "
              f"(current: {current or 'none'})")
        if current:
            print(f"  review:  gridmap diff {cid} {current} {n}")
        print(f"  publish: gridmap publish {cid} --revision {n} --expect-current "
              f"{current or 'none'}")
    return 0


def _current_number(store: CampusStore, campus_id: str) -> int | None:
    """The campus's published revision; None for an unknown campus or one with drafts only."""
    try:
        return store.current_revision(campus_id)
    except CampusNotFound:
        return None
