"""``gridmap export``, ``package`` and ``print``: files written from a stored revision (a
gazetteer, an offline package, a map book)."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `gridmap lookup` must start in well under 0.5 s
    from api.settings import Settings
    from api.store import CampusStore


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
    from api.cli import CliError

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
    from api.cli import CliError

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
    from api.cli import cli_audit
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
    cli_audit(store, "export", campus_id=args.campus,
              detail=f"{fmt}, revision {revision}, {len(rows)} rows -> {target}")
    return 0


def read_passphrase(source: str) -> str:
    """A sealing passphrase from a file (``-``: stdin), its line ending dropped. Never taken
    from the command line, where other users see it in ``ps``."""
    from api.cli import CliError

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the passphrase file {source}: {exc}") from exc
    return text.rstrip("\r\n")


def cmd_package(args: argparse.Namespace, settings: Settings, store: CampusStore) -> int:
    """Write the campus's offline package (a zip, readable by you only); audited."""
    import time

    from api.cli import cli_audit
    from api.imagery import local_imagery_path
    from tiles.package import (
        make_package,
        package_book,
        zoom_range,
    )
    from tiles.seal import check_passphrase

    min_zoom, max_zoom = zoom_range(args.min_zoom, args.max_zoom)  # refused before any drawing
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
    cli_audit(store, "package", campus_id=args.campus,
              detail=f"revision {revision}, {what}, {len(data)} bytes -> {args.output}")
    return 0


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

    from api.cli import cli_audit
    from api.imagery import local_imagery_path
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
    cli_audit(store, "print", campus_id=args.campus,
              detail=f"revision {revision}, {args.size}, {levels}, {len(pdf)} bytes -> {target}")
    return 0
