"""Unpacking uploaded zips (importers.archives) without trusting them.

Every hostile archive is made here with zipfile (and, where zipfile will not write the lie,
patched bytes). Each refusal must name the problem, write nothing into the folder, and
nothing outside it.
"""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from gridmap.errors import ArchiveError, ImportFailed
from importers.archives import declared_entries, extract_archive, safe_parts

DXF = b"0\nSECTION\n2\nENTITIES\n0\nENDSEC\n0\nEOF\n"


def zip_of(entries: dict[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]],
           compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicates we make
        with zipfile.ZipFile(buf, "w", compression) as zf:
            for name, data in items:
                zf.writestr(name, data)
    return buf.getvalue()


def everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def into(tmp_path: Path) -> Path:
    return tmp_path / "upload"


def refused(data: bytes | Path, into: Path, *, max_bytes: int = 10 * 2**20,
            max_files: int = 100, max_ratio: float = 100.0) -> str:
    """The refusal's message; checks nothing was written into the folder or beside it."""
    before = everything_under(into.parent)
    with pytest.raises(ArchiveError) as caught:
        extract_archive(data, into, max_bytes=max_bytes, max_files=max_files,
                        max_ratio=max_ratio)
    assert isinstance(caught.value, ImportFailed)
    assert everything_under(into) == []
    assert [p for p in everything_under(into.parent) if p not in before] in ([], ["upload"])
    return caught.value.user_message


# --- what is accepted ---------------------------------------------------------------------


def test_a_zip_of_drawings_unpacks_in_order_without_macos_junk(into: Path) -> None:
    entries = {"plans/": b"", "plans/A_EG.dxf": DXF, "plans/A_1OG.dxf": DXF * 3,
               "parcel.geojson": b'{"type": "FeatureCollection", "features": []}',
               "__MACOSX/plans/._A_EG.dxf": b"\x00\x05\x16\x07", "plans/.DS_Store": b"x",
               "plans/._A_1OG.dxf": b"\x00\x05\x16\x07", "Thumbs.db": b"x"}
    data = zip_of(entries)
    files = extract_archive(data, into, max_bytes=2**20, max_files=10, max_ratio=100.0)
    assert [p.relative_to(into).as_posix() for p in files] == [
        "plans/A_EG.dxf", "plans/A_1OG.dxf", "parcel.geojson"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # the oracle: zipfile's own reading
        for path in files:
            assert path.read_bytes() == zf.read(path.relative_to(into).as_posix())
    assert everything_under(into) == ["parcel.geojson", "plans", "plans/A_1OG.dxf",
                                      "plans/A_EG.dxf"]


def test_a_zipped_shapefile_inside_the_zip_unpacks_into_its_own_folder(
        into: Path, tmp_path: Path) -> None:
    shapefile = zip_of({"parcel.shp": b"shp", "parcel.dbf": b"dbf", "parcel.shx": b"shx",
                        "parcel.prj": b"prj"})
    outer = tmp_path / "upload.zip"
    outer.write_bytes(zip_of({"A.dxf": DXF, "grounds/parcel.zip": shapefile}))
    files = extract_archive(outer, into, max_bytes=2**20, max_files=10, max_ratio=100.0)
    assert [p.relative_to(into).as_posix() for p in files] == [
        "A.dxf", "grounds/parcel/parcel.shp", "grounds/parcel/parcel.dbf",
        "grounds/parcel/parcel.shx", "grounds/parcel/parcel.prj"]
    assert not (into / "grounds" / "parcel.zip").exists()  # only its contents are kept


def test_backslash_paths_from_old_windows_tools_become_folders(into: Path) -> None:
    files = extract_archive(zip_of({"plans\\A.dxf": DXF}), into, max_bytes=2**20,
                            max_files=10, max_ratio=100.0)
    assert files == [into / "plans" / "A.dxf"]


def test_a_small_very_compressible_file_is_not_a_bomb(into: Path) -> None:
    data = zip_of({"blank.dxf": b" " * 500_000})  # ~1000:1, but small
    assert len(extract_archive(data, into, max_bytes=2**20, max_files=10, max_ratio=10.0)) == 1


# --- paths that leave the folder ----------------------------------------------------------


@pytest.mark.parametrize(("name", "problem"), [
    ("../evil.dxf", "climbs out"),
    ("plans/../../evil.dxf", "climbs out"),
    ("..\\evil.dxf", "climbs out"),
    ("/etc/cron.d/evil", "absolute path"),
    ("\\\\server\\share\\evil.dxf", "absolute path"),
    ("C:\\Windows\\evil.dxf", "names a drive"),
    ("C:evil.dxf", "names a drive"),
    ("plans/evil\n.dxf", "control characters"),
])
def test_a_path_leaving_the_folder_is_refused(into: Path, name: str, problem: str) -> None:
    data = zip_of([("A.dxf", DXF), (name, DXF)])
    message = refused(data, into)
    assert problem in message
    assert repr(name) in message
    with pytest.raises(ArchiveError):
        safe_parts(name)


def test_a_symbolic_link_entry_is_refused(into: Path) -> None:
    link = zipfile.ZipInfo("plans/A.dxf")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    message = refused(zip_of([(link, b"/etc/passwd")]), into)
    assert "'plans/A.dxf' is a symbolic link" in message


def test_a_device_entry_is_refused(into: Path) -> None:
    fifo = zipfile.ZipInfo("pipe")
    fifo.create_system = 3
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    assert "special file" in refused(zip_of([(fifo, b"")]), into)


def test_a_link_planted_in_the_folder_is_not_followed(into: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    into.mkdir()
    (into / "plans").symlink_to(elsewhere)
    with pytest.raises(ArchiveError):
        extract_archive(zip_of({"plans/A.dxf": DXF}), into, max_bytes=2**20, max_files=10,
                        max_ratio=100.0)
    assert list(elsewhere.iterdir()) == []


# --- bombs ---------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_by_its_ratio_before_anything_is_written(into: Path) -> None:
    data = zip_of({"A.dxf": DXF, "bomb.dxf": bytes(20 * 2**20)})
    assert len(data) < 100_000
    message = refused(data, into, max_bytes=2**30, max_ratio=100.0)
    assert "'bomb.dxf' expands" in message and "zip bomb" in message


def test_a_zip_declaring_more_than_the_size_limit_is_refused(into: Path) -> None:
    data = zip_of({f"A{n}.dxf": bytes(2 * 2**20) for n in range(3)}, zipfile.ZIP_STORED)
    message = refused(data, into, max_bytes=5 * 2**20)
    assert f"unpacks to {6 * 2**20:,} bytes" in message


def test_an_entry_whose_header_lies_about_its_size_is_refused(into: Path) -> None:
    data = bytearray(zip_of({"A.dxf": bytes(3 * 2**20)}, zipfile.ZIP_STORED))
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<L", data, cd + 24, 1000)  # the listing says 1,000 bytes
    message = refused(bytes(data), into)
    assert "'A.dxf'" in message


def test_too_many_files_are_refused_and_a_huge_listing_before_it_is_read(into: Path) -> None:
    data = zip_of({f"{n}.dxf": b"" for n in range(101)})
    assert "holds 101 files" in refused(data, into, max_files=100)
    # folders do not count as files, but a listing may declare no more than twice the files
    foldered = zip_of({f"d{n}/{n}.dxf": b"" for n in range(100)})
    assert len(extract_archive(foldered, into.parent / "foldered", max_bytes=2**20,
                               max_files=100, max_ratio=100.0)) == 100
    # an end record alone claiming 65,000 entries: refused from the end record itself
    end = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 65000, 65000, 46 * 65000, 0, 0)
    assert declared_entries(io.BytesIO(end)) == 65000
    assert "holds 65,000 entries" in refused(end, into)


def test_a_zip_in_a_zip_in_the_zip_is_refused(into: Path) -> None:
    innermost = zip_of({"A.dxf": DXF})
    inner = zip_of({"deeper.zip": innermost})
    message = refused(zip_of({"B.dxf": DXF, "inner.zip": inner}), into)
    assert "'deeper.zip' is an archive inside an archive" in message


# --- names that collide ---------------------------------------------------------------------


def test_a_duplicate_name_is_refused(into: Path) -> None:
    data = zip_of([("A.dxf", DXF), ("A.dxf", b"other")])
    assert "'A.dxf' appears twice" in refused(data, into)


def test_names_differing_only_in_case_are_refused(into: Path) -> None:
    data = zip_of([("plans/A.dxf", DXF), ("PLANS/a.DXF", DXF)])
    assert "differ only in upper and lower case" in refused(data, into)


def test_a_file_used_as_a_folder_is_refused(into: Path) -> None:
    data = zip_of([("plans", b"a file"), ("plans/A.dxf", DXF)])
    assert "both a file and a folder" in refused(data, into)


def test_an_existing_file_in_the_folder_is_not_overwritten(into: Path) -> None:
    into.mkdir()
    (into / "A.dxf").write_bytes(b"mine")
    with pytest.raises(ArchiveError, match=r"'A\.dxf' appears twice"):
        extract_archive(zip_of({"A.dxf": DXF}), into, max_bytes=2**20, max_files=10,
                        max_ratio=100.0)
    assert (into / "A.dxf").read_bytes() == b"mine"


# --- what cannot be read ----------------------------------------------------------------------


def test_an_encrypted_entry_is_refused(into: Path) -> None:
    data = bytearray(zip_of({"A.dxf": DXF}))
    for header, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # zipfile writes no
        at = data.find(header)                                            # encryption: set it
        struct.pack_into("<H", data, at + flags_at, 0x1)
    assert "'A.dxf' is encrypted" in refused(bytes(data), into)


@pytest.mark.parametrize("data", [b"", b"not a zip at all", DXF])
def test_something_that_is_not_a_zip_is_refused(into: Path, data: bytes) -> None:
    assert "not a zip archive" in refused(data, into)


def test_a_truncated_zip_is_refused(into: Path) -> None:
    data = zip_of({"A.dxf": DXF * 1000, "B.dxf": DXF})
    assert "zip" in refused(data[: len(data) // 2], into)


def test_a_damaged_entry_is_refused_and_what_came_before_removed(into: Path) -> None:
    data = bytearray(zip_of({"A.dxf": DXF, "B.dxf": DXF * 1000}))
    second = data.find(b"PK\x03\x04", 10)
    data[second + 60:second + 80] = bytes(20)  # B's deflate stream is broken
    message = refused(bytes(data), into)
    assert "'B.dxf' cannot be read" in message


def test_messages_name_the_archive_as_it_was_uploaded(into: Path, tmp_path: Path) -> None:
    stored = tmp_path / "3f2a9c.bin"  # kept on the disk under its digest
    stored.write_bytes(zip_of({"../evil.dxf": DXF}))
    with pytest.raises(ArchiveError) as caught:
        extract_archive(stored, into, max_bytes=2**20, max_files=10, max_ratio=100.0,
                        name="Plans 2024.zip")
    assert caught.value.user_message.startswith("Plans 2024.zip: '../evil.dxf' climbs out")


def test_the_files_are_named_under_the_folder_as_given(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "data").symlink_to(real)  # a data folder reached through a link
    into = tmp_path / "data" / "upload"
    files = extract_archive(zip_of({"plans/A.dxf": DXF}), into, max_bytes=2**20,
                            max_files=10, max_ratio=100.0)
    assert [p.relative_to(into).as_posix() for p in files] == ["plans/A.dxf"]
    assert (real / "upload" / "plans" / "A.dxf").read_bytes() == DXF
