"""Open a DXF file as schools have them: damaged, headerless, mis-encoded, or not DXF at all.

:func:`read_drawing` parses a file once with ``ezdxf.recover`` and says what it had to do as
:class:`~importers.findings.Finding` objects:

* a **DWG** (found by its ``AC10xx`` magic, whatever the file is called) is refused with a
  :class:`~gridmap.errors.DxfError` that says how to convert it;
* a **headerless** DXF (only an ENTITIES section, as some exporters write and GDAL reads) gets
  the header it lacks before ezdxf parses it: its version from the entities (subclass markers
  mean R2000 and later; without the version ezdxf reads them as R12 and drops layer names and
  closed flags), and an empty block definition for every block it inserts without defining,
  so a door insert stays a door instead of being deleted as broken;
* text written as **UTF-8** in a file that declares a single-byte ``$DWGCODEPAGE`` (or none)
  is read as UTF-8; other files are decoded by their ``$DWGCODEPAGE`` as ezdxf does (R2007
  and later are UTF-8 by definition);
* a **damaged** file is repaired by ``ezdxf.recover``: a ``RECOVERED_FILE`` warning lists what
  the repair changed and each of ezdxf's messages is its own ``RECOVERED_FILE`` finding; one
  with damage the repair cannot undo is refused.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import ezdxf
from ezdxf import recover
from ezdxf.tools.codepage import toencoding

from gridmap.errors import DxfError, GridmapError, ImportLimitExceeded
from importers.dxf_stream import slim_dxf
from importers.findings import Finding, FindingKind, Severity
from importers.limits import WorkBudget
from importers.manifest import Layers

_BINARY_DXF = b"AutoCAD Binary DXF"
_HEAD_BYTES = 1 << 16  # the part of a file read to find its header variables
_CHUNK = 1 << 20

# DWG files start with their format version; a text DXF starts with a group code
_DWG_MAGIC = re.compile(rb"^(AC\d\.\d{1,2}|AC10\d\d|AC1\d{3}|MC0\.0)")
DWG_RELEASES = {
    "AC1009": "R11/R12", "AC1012": "R13", "AC1014": "R14", "AC1015": "2000",
    "AC1018": "2004", "AC1021": "2007", "AC1024": "2010", "AC1027": "2013", "AC1032": "2018",
}
HOW_TO_CONVERT = (
    "save it as DXF from the CAD program (AutoCAD or BricsCAD: Save As, type 'AutoCAD 2018 "
    "DXF' or older), or convert it with the free ODA File Converter (output format DXF) or "
    "LibreCAD (open the DWG, then File > Save As, DXF), and import the .dxf"
)

_ACADVER_RE = re.compile(rb"\$ACADVER\s*\r?\n\s*1\s*\r?\n([^\r\n]*)")
_CODEPAGE_RE = re.compile(rb"\$DWGCODEPAGE\s*\r?\n\s*3\s*\r?\n([^\r\n]*)")
_UTF8_VERSION = "AC1021"  # R2007: text is UTF-8 whatever $DWGCODEPAGE says
_DOS_CODEPAGE_RE = re.compile(r"DOS(\d{3})")  # DOS850, DOS437: R12 drawings of the DOS era

_LOST_SHOWN = 10
_FINDINGS_SHOWN = 50
SLIMMED = "read slimmed to the layers read"  # the action of the finding a slimmed read adds


@dataclass
class _Plan:
    """What has to be done to a file before ezdxf parses it."""

    prologue: list[bytes] = field(default_factory=list)  # lines put before the file's own
    encoding: str | None = None  # transcode lines into this single-byte code page...
    source: str = "utf-8"  # ...from this encoding
    notes: list[Finding] = field(default_factory=list)

    @property
    def needed(self) -> bool:
        return bool(self.prologue) or self.encoding is not None


def open_drawing(path: Path, warnings: list[str] | None = None) -> Any:
    """Open a DXF (see :func:`read_drawing`); the messages of its warnings go to ``warnings``."""
    doc, findings = read_drawing(path)
    if warnings is not None:
        warnings.extend(f.message for f in findings if f.severity is not Severity.INFO)
    return doc


def read_drawing(path: Path, layers: Layers | None = None,
                 budget: WorkBudget | None = None) -> tuple[Any, list[Finding]]:
    """The ezdxf drawing in ``path`` and what opening it noticed (see the module doc).

    With ``layers``, a large file may be slimmed to the entities a floor plan on those layers
    reads before ezdxf parses it (:func:`importers.dxf_stream.slim_dxf`, the dropped entities
    charged to ``budget``): the drawing is then not whole, so only the floor-plan reader
    passes them; a layer proposal reads the whole drawing.

    Raises :class:`DxfError` for a file that is missing, a DWG, or not a DXF that can be
    read, naming the file; a drawing too large for memory raises ImportLimitExceeded.
    """
    name = path.name
    if not path.is_file():
        raise DxfError(f"{name}: cannot read file (it does not exist)")
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise DxfError(f"{name}: cannot read file ({exc.strerror or exc})") from exc
    refuse_dwg(name, head)
    if not head.strip():
        raise DxfError(f"{name}: the file is empty")
    plan = _Plan() if head.startswith(_BINARY_DXF) else _plan_for(path, head)
    slim = None
    try:
        if head.startswith(_BINARY_DXF):  # recover mode reads text only
            doc = ezdxf.readfile(str(path))  # type: ignore[attr-defined]
            auditor = doc.audit()
        elif plan.needed:
            with path.open("rb") as fh:
                doc, auditor = recover.read(cast(BinaryIO, _Lines(fh, plan)))
        else:
            slim = slim_dxf(path, layers, budget) if layers is not None else None
            doc, auditor = (recover.read(io.BytesIO(slim.data)) if slim is not None
                            else recover.readfile(str(path)))
    except GridmapError:
        raise
    except OSError as exc:
        raise DxfError(f"{name}: cannot read file ({exc.strerror or exc})") from exc
    except MemoryError as exc:
        raise ImportLimitExceeded(f"{name}: the file is too large to read into memory") from exc
    except Exception as exc:  # anything ezdxf cannot even recover is not a DXF for us
        detail = str(exc) or type(exc).__name__
        raise DxfError(f"{name}: not a readable DXF file ({detail})") from exc
    if auditor.has_errors:  # a number that is not one, a block inside itself, ...
        raise DxfError(
            f"{name}: DXF is damaged: "
            + "; ".join(str(e.message) for e in auditor.errors[:3])
            + (f" (and {len(auditor.errors) - 3} more)" if len(auditor.errors) > 3 else "")
            + "; refused rather than guessed at: fix the drawing in the CAD program and "
            "export it again"
        )
    notes = list(plan.notes)
    if slim is not None:
        notes.append(Finding(
            FindingKind.OTHER, f"{name}: {slim.dropped:,} entities on layers the floor plan "
                               "does not read were left out before parsing (a large file)",
            Severity.INFO, name, action=SLIMMED))
    return doc, [*notes, *_recovered(path, auditor)]


def refuse_dwg(name: str, head: bytes) -> None:
    """Raise a DxfError saying how to convert a DWG file (``head``: its first bytes)."""
    found = _DWG_MAGIC.match(head)
    if found is None:
        return
    magic = found.group(1).decode("ascii")
    release = DWG_RELEASES.get(magic)
    what = f"AutoCAD {release} format, {magic}" if release else magic
    raise DxfError(f"{name}: this is a DWG drawing ({what}), not a DXF: gridmap reads DXF "
                   f"only. To import it, {HOW_TO_CONVERT}")


def _recovered(path: Path, auditor: Any) -> list[Finding]:
    name = path.name
    fixes = list(auditor.fixes)
    lost = [str(f.message) for f in fixes]
    if not _ends_with_eof(path):
        lost.insert(0, "the file ends early (no EOF marker): whatever followed the last "
                       "complete section is lost")
    if not lost:
        return []
    out = [Finding(FindingKind.RECOVERED_FILE, recovered_warning(name, lost), source=name,
                   action="repaired by ezdxf's recover mode")]
    for fix in fixes[:_FINDINGS_SHOWN]:
        entity = getattr(fix, "entity", None)
        handle = str(entity.dxf.get("handle", "")) if entity is not None and hasattr(
            entity, "dxf") else ""
        out.append(Finding(FindingKind.RECOVERED_FILE, f"{name}: RECOVERED: {fix.message}",
                           Severity.INFO, name, ref=handle, action="repaired"))
    if len(fixes) > _FINDINGS_SHOWN:
        out.append(Finding(FindingKind.RECOVERED_FILE,
                           f"{name}: RECOVERED: and {len(fixes) - _FINDINGS_SHOWN} more repairs",
                           Severity.INFO, name))
    return out


def _ends_with_eof(path: Path) -> bool:
    """Whether a text DXF ends with its ``0 / EOF`` tag (a truncated one does not)."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(_BINARY_DXF)) == _BINARY_DXF:
                return True  # binary DXF: ezdxf's loader checks its structure itself
            fh.seek(max(0, path.stat().st_size - 64))
            tail = fh.read().rstrip(b"\r\n\t \x00\x1a")
    except OSError:
        return False
    return tail.upper().endswith(b"EOF")


def recovered_warning(name: str, fixes: list[str]) -> str:
    """The import report's line for a repaired drawing: "RECOVERED" and what was lost."""
    shown = "; ".join(fixes[:_LOST_SHOWN])
    more = f"; and {len(fixes) - _LOST_SHOWN} more" if len(fixes) > _LOST_SHOWN else ""
    return (f"{name}: RECOVERED: the DXF was damaged (truncated or corrupt) and has been "
            f"recovered; check the result. {len(fixes)} repair(s), what was dropped or "
            f"changed: {shown}{more}")


# --- what a file needs before ezdxf reads it ---------------------------------------------------


def _first_section(head: bytes) -> str | None:
    """The name of the file's first section ("HEADER", "ENTITIES", ...), None if the file
    does not start with one (junk, or entities outside any section)."""
    lines = head.lstrip(b"\xef\xbb\xbf").splitlines()
    i = 0
    while i + 1 < len(lines) and lines[i].strip() == b"999":  # comments
        i += 2
    if i + 3 < len(lines) and lines[i].strip() == b"0" and lines[i + 1].strip() == b"SECTION" \
            and lines[i + 2].strip() == b"2":
        return lines[i + 3].strip().decode("ascii", "replace").upper()
    return None


def _plan_for(path: Path, head: bytes) -> _Plan:
    """What a text DXF needs before ezdxf reads it: a header for a headerless file (or a
    version for one whose header lacks it), UTF-8 text put into the declared code page."""
    plan = _Plan()
    name = path.name
    section = _first_section(head)
    headerless = section is not None and section != "HEADER"
    version = _header_value(_ACADVER_RE, head)
    declared = _header_value(_CODEPAGE_RE, head)
    if not headerless and version >= _UTF8_VERSION:
        return plan  # UTF-8 by definition
    scan = _scan(path, structure=headerless or not version)
    codepage = declared if declared.startswith("ANSI_") else "ANSI_1252"
    dos = _DOS_CODEPAGE_RE.fullmatch(declared)
    if dos and scan.non_ascii and not scan.utf8_text and _codec(f"cp{dos.group(1)}"):
        # a DOS-era drawing: ezdxf knows only the ANSI code pages and would read it as 1252
        plan.source, plan.encoding = f"cp{dos.group(1)}", toencoding(codepage)
        plan.notes.append(Finding(FindingKind.OTHER, f"{name}: its text is in DOS code page "
                                  f"{dos.group(1)} ($DWGCODEPAGE {declared}); read as such",
                                  Severity.INFO, name, action=f"read as cp{dos.group(1)}"))
    if scan.utf8_text:
        plan.encoding = toencoding(codepage)
        said = (f"though the file declares code page {declared} ($DWGCODEPAGE)" if declared
                else "(the file states no code page)")
        plan.notes.append(Finding(FindingKind.OTHER, f"{name}: its text is UTF-8 {said}; read "
                                  "as UTF-8", Severity.INFO, name, action="read as UTF-8"))
    if headerless or (not version and scan.subclass_markers):
        plan.prologue = _prologue(scan, codepage.encode("ascii"))
        dxf = "R2000 or later" if scan.subclass_markers else "R12"
        missing = sorted(scan.inserted - scan.defined)
        said = (f"; {len(missing)} block(s) it inserts are not defined in it, read as "
                "insertion points only" if missing else "")
        what = (f"has no HEADER section (only {', '.join(scan.sections)})" if headerless
                else "does not state its DXF version ($ACADVER)")
        plan.notes.append(Finding(
            FindingKind.OTHER, f"{name}: the file {what}: read as DXF {dxf} entities{said}",
            Severity.INFO, name, action="a header was supplied"))
    return plan


def _codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _header_value(pattern: re.Pattern[bytes], head: bytes) -> str:
    found = pattern.search(head)
    return found.group(1).strip().decode("ascii", "replace").upper() if found else ""


@dataclass
class _Scan:
    utf8_text: bool = False  # non-ASCII text that is valid UTF-8
    non_ascii: bool = False
    subclass_markers: bool = False
    sections: list[str] = field(default_factory=list)
    inserted: set[bytes] = field(default_factory=set)  # block names INSERTs name
    defined: set[bytes] = field(default_factory=set)  # block names BLOCKs define


def _scan(path: Path, structure: bool) -> _Scan:
    """One pass over the file: whether its non-ASCII text is UTF-8 and, when ``structure``
    (a headerless file), its sections, subclass markers and the blocks it inserts/defines."""
    scan = _Scan()
    decoder = codecs.getincrementaldecoder("utf-8")()
    non_ascii, valid = False, True
    with path.open("rb") as fh:
        if structure:
            _scan_tags(fh, scan)
            fh.seek(0)
        while chunk := fh.read(_CHUNK):
            if not chunk.isascii():
                non_ascii = True
                if valid:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        valid = False
        if valid:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                valid = False
    scan.utf8_text = non_ascii and valid
    scan.non_ascii = non_ascii
    return scan


def _scan_tags(fh: Any, scan: _Scan) -> None:
    entity = b""
    while True:
        code_line = fh.readline()
        value_line = fh.readline()
        if not code_line or not value_line:
            return
        try:
            code = int(code_line)
        except ValueError:
            continue
        value = value_line.rstrip(b"\r\n")
        if code == 0:
            entity = value.strip().upper()
            continue
        if code == 100:
            scan.subclass_markers = True
        elif code == 2:
            if entity == b"SECTION":
                scan.sections.append(value.strip().decode("ascii", "replace").upper())
            elif entity in (b"INSERT", b"MINSERT"):
                scan.inserted.add(value)
            elif entity == b"BLOCK":
                scan.defined.add(value)


def _prologue(scan: _Scan, codepage: bytes) -> list[bytes]:
    """A HEADER (version, code page) and empty definitions of the blocks inserted but not
    defined, as DXF lines."""
    version = b"AC1015" if scan.subclass_markers else b"AC1009"
    lines = [b"0", b"SECTION", b"2", b"HEADER", b"9", b"$ACADVER", b"1", version,
             b"9", b"$DWGCODEPAGE", b"3", codepage, b"0", b"ENDSEC"]
    missing = sorted(scan.inserted - scan.defined)
    if missing:
        lines += [b"0", b"SECTION", b"2", b"BLOCKS"]
        for block in missing:
            lines += [b"0", b"BLOCK", b"8", b"0", b"2", block, b"70", b"0", b"10", b"0.0",
                      b"20", b"0.0", b"30", b"0.0", b"3", block, b"1", b"",
                      b"0", b"ENDBLK", b"8", b"0"]
        lines += [b"0", b"ENDSEC"]
    return [line + b"\n" for line in lines]


class _Lines:
    """The file's lines as ezdxf's tag loader reads them (``readline``): the plan's prologue
    first, then the file's, UTF-8 lines put into the plan's code page (characters it lacks
    written as DXF ``\\U+XXXX`` escapes, which ezdxf decodes)."""

    def __init__(self, fh: Any, plan: _Plan) -> None:
        self._fh = fh
        self._prologue: Iterator[bytes] = iter(plan.prologue)
        self._encoding = plan.encoding
        self._source = plan.source

    def readline(self) -> bytes:
        for line in self._prologue:
            return line
        line = self._fh.readline()
        if self._encoding is None or line.isascii():
            return cast(bytes, line)
        return _transcode(line, self._encoding, self._source)


def _transcode(line: bytes, encoding: str, source: str = "utf-8") -> bytes:
    text = line.decode(source, "replace")
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return "".join(c if _encodable(c, encoding) else _escaped(c)
                       for c in text).encode(encoding)


def _escaped(c: str) -> str:
    """A character as a DXF unicode escape (``\\U+00E4``); one beyond the basic plane, which
    the escape cannot write, as a question mark."""
    return f"\\U+{ord(c):04X}" if ord(c) <= 0xFFFF else "?"


def _encodable(c: str, encoding: str) -> bool:
    try:
        c.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
