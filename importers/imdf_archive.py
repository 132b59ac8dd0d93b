"""An IMDF archive's zip, read in memory and bounded: its size, member count, each member's
size and compression ratio; no member is extracted to disk."""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from gridmap.errors import ArchiveError, IndoorFileError
from importers.archives import declared_entries, safe_parts
from importers.findings import Finding, FindingKind
from importers.imdf_spec import FEATURE_FILES, NOT_READ
from importers.indoor import FindingLog

#: the largest archive read (bytes on disk); a school's archive is well under a megabyte
MAX_IMDF_BYTES = 64 * 1024 * 1024
#: the most members an archive may list
MAX_MEMBERS = 500
#: the most all members read may unpack to together (bytes)
MAX_TOTAL_BYTES = 96 * 1024 * 1024
#: a member unpacking to more than this many times its packed size is a zip bomb
MAX_RATIO = 200.0


def member_ok(info: zipfile.ZipInfo) -> str:
    """Why a member is not read ("" when it may be)."""
    try:
        safe_parts(info.filename)
    except ArchiveError as e:
        return f"its path leaves the archive ({str(e).split(': ', 1)[-1]})"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "it is a symbolic link"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    return ""


def read_members(path: Path, log: FindingLog, max_member_bytes: int) -> dict[str, bytes]:
    """The archive's IMDF members by base name (``"unit"``, ``"manifest"``), bounded; no member
    may unpack to more than ``max_member_bytes``."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IndoorFileError(f"{name}: cannot be read ({e.strerror})") from None
    if size > MAX_IMDF_BYTES:
        raise IndoorFileError(f"{name}: {size / 1e6:,.0f} MB is larger than an IMDF archive "
                              f"may be ({MAX_IMDF_BYTES / 1e6:,.0f} MB)")
    with path.open("rb") as fh:  # a listing of millions of members is itself a memory bomb
        declared = declared_entries(fh)
    if declared is not None and declared > MAX_MEMBERS:
        raise IndoorFileError(f"{name}: declares {declared:,} members; an IMDF archive has "
                              f"a dozen (at most {MAX_MEMBERS} are read)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise IndoorFileError(f"{name}: is not a zip archive ({e}); an IMDF archive is a "
                              "zip of .geojson files and a manifest.json") from None
    except NotImplementedError as e:  # a listing asking for a zip version Python lacks
        raise IndoorFileError(f"{name}: is a zip this reader cannot open ({e}); save it "
                              "again as a plain zip of .geojson files") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise IndoorFileError(f"{name}: lists {len(infos):,} members; an IMDF archive "
                                  f"has a dozen (at most {MAX_MEMBERS} are read)")
        chosen: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.is_dir():
                continue
            why = member_ok(info)
            if why:
                log.add(Finding(FindingKind.UNSUPPORTED,
                                f"archive member {info.filename[:200]!r} is not read: {why}",
                                source=name, action="ignored"), "member")
                continue
            base = PurePosixPath(info.filename.replace("\\", "/"))
            stem = base.name.lower().removesuffix(".geojson").removesuffix(".json")
            if base.name.startswith(".") or base.parts[0] == "__MACOSX":
                continue
            if stem in chosen:
                log.add(Finding(FindingKind.OTHER,
                                f"the archive holds {base.name!r} twice ({chosen[stem].filename}"
                                f" and {info.filename}); the first is read",
                                source=name, action="second ignored"), "member")
                continue
            if stem in (*FEATURE_FILES, "manifest", *NOT_READ):
                chosen[stem] = info
        data: dict[str, bytes] = {}
        total = 0
        for stem, info in chosen.items():
            if info.file_size > max_member_bytes:
                raise IndoorFileError(f"{name}: {info.filename} unpacks to "
                                      f"{info.file_size / 1e6:,.0f} MB (limit "
                                      f"{max_member_bytes / 1e6:,.0f} MB)")
            if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(
                    info.compress_size, 1):
                raise IndoorFileError(f"{name}: {info.filename} unpacks to "
                                      f"{info.file_size / max(info.compress_size, 1):,.0f} times "
                                      "its packed size: refused as a zip bomb")
            try:
                with zf.open(info) as fh:
                    body = fh.read(max_member_bytes + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                    NotImplementedError, ValueError) as e:
                raise IndoorFileError(f"{name}: {info.filename} cannot be unpacked ({e})"
                                      ) from None
            total += len(body)
            if len(body) > max_member_bytes or total > MAX_TOTAL_BYTES:
                raise IndoorFileError(f"{name}: unpacks to more than it declares (over "
                                      f"{min(len(body), total) / 1e6:,.0f} MB): refused as a "
                                      "zip bomb")
            data[stem] = body
    return data
