"""Unpack an uploaded zip (DXFs, a zipped shapefile, an IMDF archive) without trusting it.

    files = extract_archive(upload_bytes, folder, max_bytes=500 * 2**20, max_files=2000,
                            max_ratio=200.0)

A zip is a list of names and sizes its maker wrote; every one of them may be a lie. Before a
byte is written the archive is read as declared and refused, naming the entry, if it holds:

* a path that leaves the folder: ``..`` components, an absolute path, a drive letter
  (``C:``), a backslash path doing either; control characters in a name;
* a link, a device or anything else that is not a file or a folder;
* more files than ``max_files`` (and, before the listing is parsed, more than twice as many
  entries, counted from the end record: a listing of millions of entries is itself a memory
  bomb);
* two entries with the same name, or names that differ only in case (they overwrite each
  other on the Windows and macOS disks people unzip on), or a file used as a folder;
* a declared size over ``max_bytes`` in total, or an entry declaring more than ``max_ratio``
  times its compressed size (a zip bomb);
* encryption (a password-protected zip cannot be read here);
* a zip inside a zip inside the zip: one level of nesting is unpacked (a zipped shapefile in
  a zip of uploads, into a folder named after it), a second is refused.

Then every entry is streamed through a hard byte counter that believes nothing the headers
said: the total written, each entry's size and its ratio to the bytes it came from are checked
as the bytes come, and the extraction stops at the first that is passed. On any refusal what
was written is removed again and :class:`~gridmap.errors.ArchiveError` says what was wrong.

macOS's ``__MACOSX/`` resource forks, ``._*`` AppleDouble files, ``.DS_Store`` and
``Thumbs.db`` are skipped: they are in most zips made by hand and are never drawings.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from gridmap.errors import ArchiveError

#: defaults for callers that have no settings of their own
MAX_BYTES = 500 * 1024 * 1024
MAX_FILES = 2000
MAX_RATIO = 200.0
#: entries smaller than this are not held to the ratio (a small text compresses very well)
RATIO_FLOOR_BYTES = 1024 * 1024
#: one level of archives inside the archive is unpacked
NESTED_SUFFIXES = (".zip",)
_CHUNK = 1 << 16
_JUNK_DIRS = frozenset({"__macosx"})
_JUNK_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


@dataclass
class _Budget:
    """What the whole extraction (nested archives included) may still write."""

    max_bytes: int
    max_files: int
    max_ratio: float
    written: int = 0
    files: int = 0
    created: list[Path] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def extract_archive(data_or_path: bytes | Path | str | BinaryIO, into: Path, *,
                    max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES,
                    max_ratio: float = MAX_RATIO, name: str | None = None) -> list[Path]:
    """Unpack a zip into the folder ``into`` (made if missing; nothing in it is overwritten)
    and return the files written, in the archive's order; refuse a hostile or unusable archive
    with :class:`ArchiveError` (see the module's text), leaving ``into`` as it was. Messages
    call the archive ``name`` (the name it was uploaded as; default: its file's name)."""
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    budget = _Budget(max_bytes, max_files, max_ratio)
    if name is None:
        name = Path(data_or_path).name if isinstance(data_or_path, str | Path) else "the zip"
    try:
        with _opened(data_or_path) as fh:
            return _extract(fh, name, into, budget, nested=False)
    except BaseException:
        _remove(budget)
        raise


@contextmanager
def _opened(source: bytes | Path | str | BinaryIO) -> Iterator[IO[bytes]]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, str | Path):
        try:
            fh = open(source, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise ArchiveError(f"cannot open {Path(source).name}: {exc.strerror}") from exc
        with fh:
            yield fh
    else:
        yield source


def _extract(fh: IO[bytes], name: str, into: Path, budget: _Budget, *,
             nested: bool) -> list[Path]:
    declared = declared_entries(fh)
    if declared is None:
        raise ArchiveError(f"{name} is not a zip archive (or its end is missing: truncated?)")
    if budget.files + declared > _listing_limit(budget.max_files):
        raise ArchiveError(f"{name} holds {declared:,} entries; at most {budget.max_files:,} "
                           "files are accepted in one upload")
    try:
        archive = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError) as exc:  # NotImplementedError: "zip file version 25.1"
        raise ArchiveError(f"{name} is not a readable zip archive ({exc})") from exc
    with archive:
        entries = _checked_entries(archive.infolist(), name, budget)
        written: list[Path] = []
        for info, parts in entries:
            target = into.joinpath(*parts)
            if info.is_dir():
                _make_folder(target, into, budget)
                continue
            if target.suffix.lower() in NESTED_SUFFIXES:
                if nested:
                    raise ArchiveError(
                        f"{name}: {info.filename!r} is an archive inside an archive inside the "
                        "upload; unpack it first (one level of zips inside a zip is accepted)")
                written += _extract_nested(archive, info, name, target, into, budget)
                continue
            _make_folder(target.parent, into, budget)
            _stream(archive, info, name, target, budget)
            written.append(target)
        return written


def _extract_nested(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                    target: Path, into: Path, budget: _Budget) -> list[Path]:
    """A zip inside the zip: unpacked into a folder named after it (``parcels.zip`` ->
    ``parcels/``); the inner zip itself is not kept."""
    _make_folder(target.parent, into, budget)
    inner = target.with_name(target.name + ".part")
    _stream(archive, info, name, inner, budget)
    folder = target.with_suffix("")
    try:
        if folder.exists():
            raise ArchiveError(f"{name}: {info.filename!r} would unpack into "
                               f"{folder.name!r}, which the archive already holds")
        _make_folder(folder, into, budget)
        with open(inner, "rb") as fh:
            return _extract(fh, f"{name}: {info.filename}", folder, budget, nested=True)
    finally:
        inner.unlink(missing_ok=True)  # its bytes stay counted: they were on the disk
        if inner in budget.created:
            budget.created.remove(inner)


def _listing_limit(max_files: int) -> int:
    """Entries a listing may declare before it is parsed: the files and a folder for each."""
    return 2 * max_files + 16


def declared_entries(fh: IO[bytes]) -> int | None:
    """How many entries the zip's end record declares (zip64 too), read without parsing the
    listing; None if there is no end record."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    tail_size = min(size, 22 + 0xFFFF + 20 + 56)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    count = int(struct.unpack_from("<H", tail, at + 10)[0])
    if count != 0xFFFF:
        return count
    locator = at - 20
    if locator < 0 or tail[locator:locator + 4] != _ZIP64_LOCATOR:
        return count
    record_at = int(struct.unpack_from("<Q", tail, locator + 8)[0])
    fh.seek(record_at)
    record = fh.read(56)
    if len(record) < 56 or record[:4] != _ZIP64_EOCD:
        return None
    return int(struct.unpack_from("<Q", record, 32)[0])


def _checked_entries(infos: list[zipfile.ZipInfo], name: str,
                     budget: _Budget) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """The entries to extract with their safe path parts; everything about the declared
    listing that is refused, refused here, before anything is written."""
    kept: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    seen: dict[str, tuple[str, str]] = {}  # casefolded path -> (path, kind)
    folders: set[str] = set()
    declared = 0
    for info in infos:
        parts = safe_parts(info.filename, name)
        if not parts or _junk(parts):
            continue
        kind = _kind(info)
        if kind not in ("file", "folder"):
            raise ArchiveError(f"{name}: {info.filename!r} is a {kind}; only files and "
                               "folders are accepted (links could point anywhere)")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{name}: {info.filename!r} is encrypted; upload a zip "
                               "without a password")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                      zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            raise ArchiveError(f"{name}: {info.filename!r} is compressed with method "
                               f"{info.compress_type}, which cannot be read; zip it again "
                               "with ordinary (deflate) compression")
        key = "/".join(parts).casefold()
        if key in seen:
            same = seen[key][0] == "/".join(parts)
            raise ArchiveError(
                f"{name}: {info.filename!r} appears twice" if same else
                f"{name}: {info.filename!r} and {seen[key][0]!r} differ only in upper and "
                "lower case; they would overwrite each other. Rename one")
        for k in range(1, len(parts)):
            folders.add("/".join(parts[:k]).casefold())
        if kind == "folder":
            folders.add(key)
        seen[key] = ("/".join(parts), kind)
        if kind == "file":
            budget.files += 1
            declared += info.file_size
            _check_ratio(info, name, budget.max_ratio, info.file_size)
        kept.append((info, parts))
    clash = next((path for k, (path, kind) in seen.items() if kind == "file" and k in folders),
                 None)
    if clash is not None:
        raise ArchiveError(f"{name}: {clash!r} is both a file and a folder in the archive")
    if budget.files > budget.max_files:
        raise ArchiveError(f"{name} holds {budget.files:,} files; at most "
                           f"{budget.max_files:,} are accepted in one upload")
    if budget.written + declared > budget.max_bytes:
        raise ArchiveError(f"{name} unpacks to {declared:,} bytes; at most "
                           f"{budget.max_bytes:,} bytes are accepted (a zip bomb, or split "
                           "the upload)")
    return kept


def safe_parts(filename: str, name: str = "the archive") -> tuple[str, ...]:
    """A zip entry's path as parts that stay inside the folder, or :class:`ArchiveError`.

    Backslashes count as separators (old Windows tools write them); ``.`` and empty parts
    are dropped; ``..``, a leading ``/``, a drive letter and control characters are refused.
    """
    if any(ord(c) < 32 or c == "\x7f" for c in filename):
        raise ArchiveError(f"{name}: the entry name {filename!r} holds control characters")
    path = filename.replace("\\", "/")
    if path.startswith("/") or PurePosixPath(path).is_absolute():
        raise ArchiveError(f"{name}: {filename!r} is an absolute path; entries must stay "
                           "inside the archive's folder")
    parts = tuple(p for p in path.split("/") if p not in ("", "."))
    if parts and len(parts[0]) >= 2 and parts[0][1] == ":" and parts[0][0].isalpha():
        raise ArchiveError(f"{name}: {filename!r} names a drive ({parts[0][:2]}); entries "
                           "must stay inside the archive's folder")
    if ".." in parts:
        raise ArchiveError(f"{name}: {filename!r} climbs out of the archive's folder (..)")
    if any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts):
        raise ArchiveError(f"{name}: {filename!r} has a name longer than 255 bytes")
    return parts


def _junk(parts: tuple[str, ...]) -> bool:
    last = parts[-1].casefold()
    return (any(p.casefold() in _JUNK_DIRS for p in parts) or last in _JUNK_FILES
            or last.startswith("._"))


def _kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if info.is_dir():
        return "folder"
    if info.create_system != 3 or stat.S_IFMT(mode) == 0:  # no file type recorded
        return "file"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    return "special file (device, pipe or socket)"


def _check_ratio(info: zipfile.ZipInfo, name: str, max_ratio: float, size: int) -> None:
    if size <= RATIO_FLOOR_BYTES:
        return
    if info.compress_size <= 0 or size / info.compress_size > max_ratio:
        ratio = "without limit" if info.compress_size <= 0 else \
            f"{size / info.compress_size:,.0f} times"
        raise ArchiveError(
            f"{name}: {info.filename!r} expands {ratio} its compressed size (more than "
            f"{max_ratio:g} times is refused as a zip bomb)")


def _make_folder(folder: Path, into: Path, budget: _Budget) -> None:
    """Make ``folder`` (inside ``into``), refusing anything on the way that is not a plain
    folder made by this extraction or already there (a link planted earlier)."""
    if folder == into:
        return
    if into not in folder.parents:
        raise ArchiveError(f"{folder.name!r} would be outside the upload's folder")
    for step in reversed([folder, *folder.parents]):
        if step == into or into not in step.parents:
            continue
        if step.is_symlink() or (step.exists() and not step.is_dir()):
            raise ArchiveError(f"{step.relative_to(into)} is already in the upload's folder "
                               "as something other than a folder")
        if not step.exists():
            step.mkdir()
            budget.folders.append(step)


def _stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, target: Path,
            budget: _Budget) -> None:
    """Copy one entry through the byte counter into a new file (never over an existing one)."""
    try:
        out = open(target, "xb")  # noqa: SIM115 (closed below); x: never follows or overwrites
    except FileExistsError:
        raise ArchiveError(f"{name}: {info.filename!r} appears twice") from None
    budget.created.append(target)
    size = 0
    with out:
        try:
            with archive.open(info) as src:
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
                    budget.written += len(chunk)
                    if size > info.file_size:
                        raise ArchiveError(
                            f"{name}: {info.filename!r} holds more than the "
                            f"{info.file_size:,} bytes its header declares (a forged zip)")
                    if budget.written > budget.max_bytes:
                        raise ArchiveError(
                            f"{name} unpacks to more than {budget.max_bytes:,} bytes (a zip "
                            "bomb, or split the upload)")
                    _check_ratio(info, name, budget.max_ratio, size)
                    out.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError, LookupError) as exc:
            if isinstance(exc, ArchiveError):
                raise
            raise ArchiveError(f"{name}: {info.filename!r} cannot be read ({exc}); the zip "
                               "is damaged") from exc


def _remove(budget: _Budget) -> None:
    """Undo an extraction that was refused half-way."""
    for path in reversed(budget.created):
        path.unlink(missing_ok=True)
    for folder in reversed(budget.folders):
        with suppress(OSError):
            folder.rmdir()
