"""The ``gridmap`` command: import, lookup, export, imagery, tokens, serve, demo.

All storage goes through :class:`api.store.CampusStore`; settings come from ``GRIDMAP_*``.
Exit codes: 0 success, 1 lookup found nothing, 2 bad input (nothing stored).
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from gridmap.errors import CampusNotFound, GridmapError

if TYPE_CHECKING:  # imported where used: `gridmap lookup` must start in well under 0.5 s
    from api.settings import Settings
    from api.store import CampusStore, RevisionInfo

from api.cli_admin import ROLE_NAMES as ROLE_NAMES  # the roles (a test keeps them the store's)

DEMO_CAMPUS = "lincoln-ridge"
DEMO_TOKEN_NAME = "demo"
DEMO_DISTRICT = "Demo School District"
DEMO_ADMIN = "admin@demo-district.example"
_REPO_ROOT = Path(__file__).resolve().parents[1]


class CliError(Exception):
    """A problem to report on stderr with exit code 2."""


# --- import ---------------------------------------------------------------------------------


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


def cli_actor() -> str:
    """Who is at the keyboard, for the audit log: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry or login name (some containers)
        user = "unknown"
    return f"cli:{user}"


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
    from api.store import AuditEntry, utcnow

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
    store.audit(AuditEntry(
        ts=utcnow(), action="import", token_name=cli_actor(), campus_id=info.campus_id,
        detail=f"draft revision {info.number} from {manifest.name}, "
               f"{info.feature_count} features, sha256 {digest}",
        client="local store"))
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


# --- lookup ---------------------------------------------------------------------------------


def _elsewhere(item: dict[str, Any], c: dict[str, Any]) -> str:
    """Where a nearby item is, said only when it is not where the candidate is: its building
    when another, its level when another (and the stairs or elevator to take when known).
    ``"1st Floor via Stair 2"``, ``"Building B"``, or ``""`` for the same building and level."""
    bits: list[str] = []
    if item.get("building_id") and c.get("building_id") and \
            item["building_id"] != c["building_id"]:
        bits.append(f"Building {item.get('building') or item['building_id']}")
    # another level when the answer says so, or when the ordinals differ (an answer made
    # without the candidate's level, or by an older server, does not say)
    ordinal, here = item.get("level_ordinal"), c.get("level_ordinal")
    if item.get("same_level") is False or (
            ordinal is not None and here is not None and ordinal != here):
        level = item.get("level_name") or (
            f"level {item['level_ordinal']}" if item.get("level_ordinal") is not None else "")
        via = f"via {item['via']}" if item.get("via") else ""
        if level or via:
            bits.append(" ".join(b for b in (level, via) if b))
    return ", ".join(bits)


def _nearby(item: dict[str, Any] | None, c: dict[str, Any], *, cell_inside: bool = False) -> str:
    """``H7 (11 m)``, or ``H7 (11 m, 1st Floor via Stair 2)`` on another level; with
    ``cell_inside`` the cell goes in the brackets (``(29 m, G6)``, as doors are read out)."""
    if not item:
        return ""
    distance = item.get("distance_m")
    metres = f"{distance:.0f} m" if isinstance(distance, int | float) else "? m"
    inside = [metres, *([str(item.get("cell") or "")] if cell_inside else [])]
    if where := _elsewhere(item, c):
        inside.append(where)
    bracket = f"({', '.join(b for b in inside if b)})"
    return bracket if cell_inside else f"{item.get('cell')} {bracket}"


def candidate_line(c: dict[str, Any]) -> str:
    """One dispatcher-readable line: where it is, grid, USNG, way in, Knox box, AED, trauma kit.

    A nearby item on another level or in another building says so, with the stairs to take.
    """
    parts = [str(c.get("label", ""))]
    # flags the label does not already say ("label only, no outline" often is in it)
    if flags := [str(f) for f in c.get("flags") or () if str(f) not in parts[0]]:
        parts.append("; ".join(flags))
    if c.get("usng"):
        parts.append(f"USNG {c['usng']}")
    doors = []
    for d in c.get("nearest_doors", [])[:2]:
        name = f"door {d['number']}" if d.get("number") else "unnumbered door"
        doors.append(f"{name} {_nearby(d, c, cell_inside=True)}")
    if doors:
        parts.append(", ".join(doors))
    for key, name in (("nearest_knox_box", "Knox box"), ("nearest_aed", "AED"),
                      ("nearest_trauma_kit", "Trauma kit")):
        if text := _nearby(c.get(key), c):
            parts.append(f"{name} {text}")
    return " · ".join(parts)


def _local_lookup(args: argparse.Namespace, store: CampusStore) -> dict[str, Any]:
    """Answer from the local store; audited like an API call, as the local operator."""
    from api.audit import lookup_detail
    from api.store import AuditEntry, utcnow
    from gridmap.index import CampusIndex
    from gridmap.lookup import lookup

    campus = store.campus(args.campus)
    result = lookup(CampusIndex(campus), args.query, limit=args.limit).to_dict()
    store.audit(AuditEntry(
        ts=utcnow(), action="lookup", token_name=cli_actor(),
        campus_id=args.campus, detail=lookup_detail(args.query, result["status"]),
        client="local store"))
    return result


def _remote_token(args: argparse.Namespace) -> str:
    """``--token -`` reads the first line of stdin; else ``--token``, else ``$GRIDMAP_TOKEN``."""
    if args.token == "-":
        token = sys.stdin.readline().strip()
        if not token:
            raise CliError("--token -: no token on stdin")
        return token
    token = args.token or os.environ.get("GRIDMAP_TOKEN")
    if not token:
        raise CliError("--url needs a token: set GRIDMAP_TOKEN or pass --token - (stdin)")
    return str(token)


def _remote_lookup(args: argparse.Namespace) -> dict[str, Any]:
    """Ask a running gridmap server, with a bearer token (see :func:`_remote_token`)."""
    import httpx

    token = _remote_token(args)
    url = f"{args.url.rstrip('/')}/campuses/{quote(args.campus, safe='')}/lookup"
    try:
        r = httpx.get(url, params={"q": args.query, "limit": args.limit},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {args.url}: {exc}") from exc
    if r.status_code != 200:
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = r.text[:200]
        raise CliError(f"{args.url} answered {r.status_code}: {message}")
    body: dict[str, Any] = r.json()
    return body


def cmd_lookup(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    return _print_lookup(args, _local_lookup(args, store))


def _print_lookup(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(f"{result['status']}: {result['message']}")
        for i, candidate in enumerate(result["candidates"], 1):
            print(f"{i:>2}. {candidate_line(candidate)}")
    return 1 if result["status"] == "not_found" else 0


# --- export ---------------------------------------------------------------------------------

#: ``--format`` values, and the format a ``-o`` file's suffix implies when none is given
EXPORT_FORMATS = {"gazetteer": "csv", "gazetteer-json": "json"}
_SUFFIX_FORMATS = {".csv": "gazetteer", ".json": "gazetteer-json", ".geojson": "gazetteer-json"}


#: revisions are 32-bit integers on PostgreSQL and counted from 1
MAX_REVISION = 2**31 - 1


def revision_number(text: str) -> int:
    """``--revision``: a whole number from 1 (argparse type; anything else is a usage error)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a revision number") from None
    if not 1 <= number <= MAX_REVISION:
        raise argparse.ArgumentTypeError(f"revisions are numbered 1..{MAX_REVISION}, not {text}")
    return number


def export_format(fmt: str | None, output: str | None) -> str:
    """The ``--format`` to write: as given, else implied by the ``-o`` suffix, else CSV."""
    if fmt is not None:
        return fmt
    if output and output != "-":
        suffix = Path(output).suffix.lower()
        if suffix not in _SUFFIX_FORMATS:
            raise CliError(f"cannot tell the format from {output!r}: pass --format "
                           f"({', '.join(EXPORT_FORMATS)}) or name the file .csv or .json")
        return _SUFFIX_FORMATS[suffix]
    return "gazetteer"


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, readable by its owner only (a
    gazetteer lists every room of a school): a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


def cmd_export(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    """Write the campus gazetteer (CSV or GeoJSON) to ``-o`` or stdout; audited."""
    from api.store import AuditEntry, utcnow
    from gridmap.gazetteer import gazetteer, to_csv, to_geojson
    from gridmap.index import CampusIndex

    fmt = export_format(args.format, args.output)
    revision = args.revision if args.revision is not None else store.current_revision(args.campus)
    rows = gazetteer(CampusIndex(store.campus(args.campus, revision)))
    if EXPORT_FORMATS[fmt] == "csv":
        text = to_csv(rows)
    else:
        text = json.dumps(to_geojson(rows, campus_id=args.campus, revision=revision),
                          ensure_ascii=False, indent=1) + "\n"
    target = "stdout" if not args.output or args.output == "-" else args.output
    if target == "stdout":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # `gridmap export ... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        _write_private(Path(target), text.encode("utf-8"))
        print(f"{args.campus} revision {revision}: {len(rows)} rows ({fmt}) written to {target}",
              file=sys.stderr)
    store.audit(AuditEntry(
        ts=utcnow(), action="export", token_name=cli_actor(), campus_id=args.campus,
        detail=f"{fmt}, revision {revision}, {len(rows)} rows -> {target}",
        client="local store"))
    return 0


# --- imagery --------------------------------------------------------------------------------

#: the sample campus's synthetic orthophoto, next to its manifest
SAMPLE_IMAGERY = "imagery.tif"
SAMPLE_IMAGERY_ATTRIBUTION = "Synthetic imagery (not a photograph)"


def attach_imagery_file(store: CampusStore, settings: Settings, campus_id: str, path: Path,
                        attribution: str = "") -> Any:
    """Attach an orthophoto file as the campus's next imagery version; audited as the local
    operator (a refused file too). Returns the stored version's ``ImageryInfo``."""
    from api.imagery import attach_imagery
    from api.store import AuditEntry, utcnow

    if not path.is_file():
        raise CliError(f"imagery file not found: {path}")

    def audit(action: str, detail: str) -> None:
        store.audit(AuditEntry(ts=utcnow(), action=action, token_name=cli_actor(),
                               campus_id=campus_id, detail=detail, client="local store"))

    return attach_imagery(store, settings, campus_id, path, source_name=path.name,
                          actor=cli_actor(), audit=audit, attribution=attribution)


def _print_imagery(info: Any, out: TextIO) -> None:
    print(f"{info.campus_id}: stored imagery version {info.version} ({info.width} x "
          f"{info.height} px at {info.resolution_m:.2f} m, from {info.source_crs}, "
          f"{info.size_bytes / 1024:.0f} KB)", file=out)


def cmd_imagery(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    info = attach_imagery_file(store, settings, args.campus, Path(args.file), args.attribution)
    _print_imagery(info, sys.stdout)
    return 0


def attach_sample_imagery(store: CampusStore, settings: Settings, campus_id: str,
                          manifest: Path) -> Any:
    """Attach the sample's ``imagery.tif`` unless it is already the current imagery (by the
    file's sha256); the stored ``ImageryInfo``, or None when there was nothing to do."""
    path = manifest.parent / SAMPLE_IMAGERY
    if not path.is_file():
        return None
    current = store.imagery_info(campus_id)
    if current is not None and current.source_digest == hashlib.sha256(
            path.read_bytes()).hexdigest():
        return None
    return attach_imagery_file(store, settings, campus_id, path, SAMPLE_IMAGERY_ATTRIBUTION)


# --- offline package ------------------------------------------------------------------------


def read_passphrase(source: str) -> str:
    """A sealing passphrase from a file (``-``: stdin), its line ending dropped. Never taken
    from the command line, where other users see it in ``ps``."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the passphrase file {source}: {exc}") from exc
    return text.rstrip("\r\n")


def cmd_package(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    """Write the campus's offline package (a zip, readable by you only); audited."""
    import time

    from api.imagery import local_imagery_path
    from api.store import AuditEntry, utcnow
    from tiles.package import (
        DEFAULT_MAX_ZOOM,
        DEFAULT_MIN_ZOOM,
        check_zoom_range,
        make_package,
        package_book,
    )
    from tiles.seal import check_passphrase

    min_zoom = DEFAULT_MIN_ZOOM if args.min_zoom is None else args.min_zoom
    max_zoom = DEFAULT_MAX_ZOOM if args.max_zoom is None else args.max_zoom
    check_zoom_range(min_zoom, max_zoom)  # refused before any drawing
    passphrase = read_passphrase(args.passphrase_file) if args.passphrase_file else None
    if passphrase is not None:
        check_passphrase(passphrase)
    revision = args.revision if args.revision is not None else store.current_revision(args.campus)
    campus = store.campus(args.campus, revision)
    started = time.perf_counter()
    imagery = local_imagery_path(store, settings.data_dir, args.campus)
    from api.store_publish import book_verification

    verified_on, verified_by = book_verification(store, args.campus)
    book = None if args.no_book else package_book(campus, revision=revision, imagery=imagery,
                                                  verified_on=verified_on,
                                                  verified_by=verified_by)
    data = make_package(campus, revision=revision, imagery=imagery, book=book,
                        passphrase=passphrase, min_zoom=min_zoom, max_zoom=max_zoom)
    _write_private(Path(args.output), data)
    seconds = time.perf_counter() - started
    what = (f"{'sealed' if passphrase else 'not sealed'}, zoom {min_zoom}-{max_zoom}, "
            f"{'with' if imagery else 'no'} imagery, {'with' if book else 'no'} book")
    print(f"{args.campus} revision {revision}: offline package {len(data) / 1e6:.1f} MB "
          f"({what}) written to {args.output} in {seconds:.1f} s", file=sys.stderr)
    store.audit(AuditEntry(
        ts=utcnow(), action="package", token_name=cli_actor(), campus_id=args.campus,
        detail=f"revision {revision}, {what}, {len(data)} bytes -> {args.output}",
        client="local store"))
    return 0


# --- print ----------------------------------------------------------------------------------

#: ``--size`` values (tiles.book.PAPER_SIZES' keys; a test keeps them equal)
PAPER_SIZE_NAMES = ("letter", "tabloid", "arch-d")


def level_ordinal(text: str) -> int:
    """``--level``: a level ordinal, 0 the ground floor (argparse type)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a level ordinal (a whole number, 0 = ground floor)") from None


def cmd_print(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    """Write the campus's map book (PDF, readable by you only) to ``-o``; audited."""
    import time
    from datetime import date

    from api.imagery import local_imagery_path
    from api.store import AuditEntry, utcnow
    from api.store_publish import book_verification
    from tiles.book import make_book

    revision = args.revision if args.revision is not None else store.current_revision(args.campus)
    campus = store.campus(args.campus, revision)
    started = time.perf_counter()
    imagery = local_imagery_path(store, settings.data_dir, args.campus)
    verified_on, verified_by = book_verification(store, args.campus)
    pdf = make_book(campus, size=args.size, level=args.level, revision=revision,
                    imagery=imagery, printed_on=date.today(), verified_on=verified_on,
                    verified_by=verified_by)
    target = "stdout" if args.output == "-" else args.output
    if target == "stdout":
        sys.stdout.flush()
        sys.stdout.buffer.write(pdf)
        sys.stdout.buffer.flush()
    else:
        _write_private(Path(target), pdf)
    levels = "every level" if args.level is None else f"level {args.level}"
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(f"{args.campus} revision {revision}: map book, {args.size}, {levels}, {pages} pages, "
          f"{'with' if imagery else 'no'} imagery, written to {target} in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    store.audit(AuditEntry(
        ts=utcnow(), action="print", token_name=cli_actor(), campus_id=args.campus,
        detail=f"revision {revision}, {args.size}, {levels}, {len(pdf)} bytes -> {target}",
        client="local store"))
    return 0


# --- serve / demo ---------------------------------------------------------------------------


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, log_level=settings.log_level.lower())


def cmd_serve(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    store.close()
    serve(settings, args.host, args.port)
    return 0


def sample_manifest(settings: Settings) -> Path:
    path = settings.sample_manifest
    if not path.is_absolute() and not path.exists():
        path = _REPO_ROOT / path
    return path


def _demo_district(store: CampusStore, campus_id: str) -> str:
    """The district owning the sample campus: its owner if stored, else the demo district
    (made if missing)."""
    from api.store_identity import OrgKind, identity

    ident = identity(store)
    owner = ident.campus_owner(campus_id)
    if owner is not None:
        return owner
    for org in ident.orgs():
        if org.name == DEMO_DISTRICT:
            return org.id
    return ident.create_org(DEMO_DISTRICT, OrgKind.DISTRICT).id


def _demo_admin(store: CampusStore, district: str) -> str:
    """The demo district's admin person (made if missing): the demo token is theirs."""
    from api.store import Role
    from api.store_identity import identity

    ident = identity(store)
    person = ident.person_by_email(DEMO_ADMIN)
    if person is None:
        person = ident.create_person(DEMO_ADMIN, district, Role.ADMIN, "Demo admin")
    return person.id


def cmd_demo(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    manifest = sample_manifest(settings)
    district = _demo_district(store, _manifest_campus_id(manifest) or DEMO_CAMPUS)
    # published explicitly: the demo serves the sample at once
    info, result = import_manifest(store, manifest, only_if_changed=True, org=district,
                                   publish=True)
    if info is None:
        campus_id = _manifest_campus_id(manifest) or DEMO_CAMPUS
        print(f"{campus_id}: sample unchanged, serving revision "
              f"{store.current_revision(campus_id)}")
    else:
        campus_id = info.campus_id
        _print_import(info, result, sys.stdout)
        print(f"{campus_id}: published revision {info.number}")
    imagery = attach_sample_imagery(store, settings, campus_id, manifest)
    if imagery is not None:
        _print_imagery(imagery, sys.stdout)
    # only hashes are stored, so a fresh token each run; the previous demo token stops working
    store.revoke_tokens(name=DEMO_TOKEN_NAME)
    from api.tokens import create_token

    admin = _demo_admin(store, district)
    token, _ = create_token(store, DEMO_TOKEN_NAME, user=admin,
                            expires_days=settings.token_ttl_days)
    base = f"http://{args.host or settings.host}:{args.port or settings.port}"
    print()
    print(f"admin token (demo, {DEMO_ADMIN}, admin of the district owning the campus): {token}")
    print(f"map:   {base}/campuses/{campus_id}/map")
    print(f"login: {base}/login?next=/campuses/{campus_id}/map")
    print(f"api:   curl -H 'Authorization: Bearer {token}' {base}/campuses/{campus_id}")
    sys.stdout.flush()
    if args.no_serve:
        return 0
    store.close()
    serve(settings, args.host, args.port)
    return 0


# --- argument parsing -----------------------------------------------------------------------

Command = Callable[[argparse.Namespace, "Settings", "CampusStore"], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridmap", description="Gridded campus maps for emergency responders."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import", help="import a campus manifest as a new draft revision "
                                      "(--publish: and publish it)")
    p.add_argument("manifest", help="path to campus.toml")
    p.add_argument("--if-changed", action="store_true",
                   help="skip if the source files match the published revision's")
    p.add_argument("--org", help="the district that owns the campus (default: its owner, or "
                                 "the only district)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--publish", action="store_true",
                     help="publish the new revision at once, if the revision current when the "
                          "import began still is (as gridmap publish --expect-current)")
    how.add_argument("--draft", action="store_true",
                     help="store a draft for review (gridmap diff) and publishing (gridmap "
                          "publish): the default")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("lookup", help="look up a room, door, cell, point kind, USNG or lat/lon")
    p.add_argument("campus", help="campus id")
    p.add_argument("query", help="what the caller said, e.g. 'rm 214'")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--url", help="ask a running server (e.g. http://127.0.0.1:8000) "
                                 "instead of the local store")
    p.add_argument("--token", metavar="TOKEN|-",
                   help="bearer token for --url; prefer $GRIDMAP_TOKEN (the default), since a "
                        "token on the command line is visible to other users in ps; "
                        "'-' reads it from stdin")
    p.set_defaults(func=cmd_lookup)

    p = sub.add_parser("export", help="write a campus gazetteer for dispatch systems")
    p.add_argument("campus", help="campus id")
    p.add_argument("--format", choices=list(EXPORT_FORMATS),
                   help="gazetteer: CSV (spreadsheets, GDAL); gazetteer-json: GeoJSON points. "
                        "Default: from the -o suffix (.csv, .json, .geojson), else CSV")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="file to write (readable by you only); '-' or none: stdout")
    p.add_argument("--revision", type=revision_number,
                   help="a stored revision (default: current)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("imagery", help="attach an orthophoto (GeoTIFF, any CRS) to a campus")
    p.add_argument("campus", help="campus id")
    p.add_argument("file", help="the GeoTIFF; stored reprojected as a new imagery version")
    p.add_argument("--attribution", default="", help="credit shown on the map")
    p.set_defaults(func=cmd_imagery)

    p = sub.add_parser("package", help="write a campus's offline package for laptops (a zip "
                                       "whose index.html opens from disk)")
    p.add_argument("campus", help="campus id")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the zip to write (readable by you only)")
    p.add_argument("--passphrase-file", metavar="FILE|-",
                   help="seal the package with the passphrase in FILE ('-': stdin)")
    p.add_argument("--revision", type=revision_number,
                   help="a stored revision (default: current)")
    p.add_argument("--min-zoom", type=int,
                   help="lowest zoom drawn (default: the whole campus in view)")
    p.add_argument("--max-zoom", type=int,
                   help="highest zoom drawn (default: every room name legible); each zoom "
                        "further roughly quadruples size and build time")
    p.add_argument("--no-book", action="store_true", help="leave the map book out")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("print", help="write a campus's printed map book (PDF: overview, a "
                                     "sheet per building level, room and door indexes)")
    p.add_argument("campus", help="campus id")
    p.add_argument("--size", choices=PAPER_SIZE_NAMES, default="letter",
                   help="paper, landscape: letter (8.5x11 in), tabloid (11x17 in) or arch-d "
                        "(24x36 in); default letter")
    p.add_argument("--level", type=level_ordinal,
                   help="only this level ordinal's sheets (0 = ground floor); default: every "
                        "level")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="the PDF to write (readable by you only); '-': stdout")
    p.add_argument("--revision", type=revision_number,
                   help="a stored revision (default: current)")
    p.set_defaults(func=cmd_print)

    from api.cli_publish import add_commands as add_publish_commands

    add_publish_commands(sub)  # diff, publish, rollback, verify

    from api.cli_admin import add_commands as add_admin_commands

    add_admin_commands(sub)  # org, user, partnership, token

    from api import cli_share

    cli_share.add_parser(sub)  # gridmap share CAMPUS --hours N | share list | share revoke ID

    from api import cli_workspace

    cli_workspace.add_parser(sub)  # gridmap workspace new|add|show|set|point|import|edit ...

    from api.cli_jobs import add_commands as add_jobs_commands

    add_jobs_commands(sub)  # jobs import, jobs show, jobs worker

    for name, func, text in (
        ("serve", cmd_serve, "run the web service"),
        ("demo", cmd_demo, "import the sample campus for a demo district, make its admin's "
                           "token, serve"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        if name == "demo":
            p.add_argument("--no-serve", action="store_true", help="set up, print, and exit")
        p.set_defaults(func=func)
    return parser


#: Commands that only read the store: they never create one where there is none.
READ_ONLY_COMMANDS = frozenset({"lookup", "export", "package", "print", "token list",
                                "token revoke", "diff", "publish", "rollback", "verify"})


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, "token_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


def store_location(settings: Settings) -> str:
    """Where this process looks for its store, and why there, in words."""
    from api.store import sqlite_path

    path = sqlite_path(settings.resolved_database_url)
    if path is None:
        from sqlalchemy.engine import make_url

        url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        return f"the database {url} (GRIDMAP_DATABASE_URL)"
    where = f"the SQLite file {path.resolve()}"
    if settings.database_url:
        return f"{where} (GRIDMAP_DATABASE_URL)"
    if "GRIDMAP_DATA_DIR" in os.environ:
        return f"{where} (GRIDMAP_DATA_DIR={os.environ['GRIDMAP_DATA_DIR']})"
    return (f"{where} (GRIDMAP_DATA_DIR is not set, so the data directory is "
            f"{settings.data_dir} in the current directory {Path.cwd()})")


_POINT_ELSEWHERE = ("Run gridmap from the folder that holds its var/ directory, or point it at "
                    "the store: export GRIDMAP_DATA_DIR=/path/to/var (or GRIDMAP_DATABASE_URL).")


def _open_store(command: str, settings: Settings) -> CampusStore:
    from api.store import open_store, sqlite_path

    path = sqlite_path(settings.resolved_database_url)
    if command in READ_ONLY_COMMANDS and path is not None and not path.exists():
        raise CliError(f"no gridmap store at {store_location(settings)}. {_POINT_ELSEWHERE}")
    return open_store(settings.resolved_database_url)


def _unknown_campus_hint(store: CampusStore, settings: Settings) -> str:
    """What the store holds and where it is, to follow an unknown-campus error."""
    try:
        ids = [c.id for c in store.list_campuses()]
    except Exception:  # the hint must not hide the error it explains
        return ""
    held = f"it holds {', '.join(ids)}" if ids else "it holds no campus"
    return f" (looked in {store_location(settings)}; {held}). {_POINT_ELSEWHERE}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. A reader that stops reading (``gridmap lookup ... |
    head -2``) ends the command quietly, exit code 1, whatever the command."""
    try:
        try:
            return _run(argv)
        finally:  # what is still buffered goes now, while a closed pipe can still be caught
            sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        return 1


def _stdout_to_devnull() -> None:
    """After a broken pipe, the rest of stdout (and its flush at exit) goes to devnull
    instead of raising again, as the Python docs on SIGPIPE recommend."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # a stdout with no file behind it
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - kept open as stdout
    finally:
        os.close(devnull)


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    command = _command_name(args)
    if command == "lookup" and not args.url:
        from api import cli_fast

        fast = cli_fast.local_lookup(args.campus, args.query, args.limit, cli_actor())
        if fast is not None:
            return _print_lookup(args, fast)
    try:
        from api.settings import Settings

        settings = Settings()
        if command == "lookup" and args.url:  # ask a server: no local store at all
            return _print_lookup(args, _remote_lookup(args))
        store = _open_store(command, settings)
        func: Command = args.func
        try:
            return func(args, settings, store)
        except CampusNotFound as exc:
            raise CliError(f"{exc}{_unknown_campus_hint(store, settings)}") from exc
        finally:
            store.close()
    except (CliError, GridmapError) as exc:
        # a local operator: the full message (file, layer, entity) helps more than the short one
        print(f"gridmap {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
