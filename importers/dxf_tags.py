"""A floor plan's model space read straight from its group-code tags, for the common case.

ezdxf's recover mode turns every tag of a file into Python objects, repairs what is damaged,
then builds and audits every entity: for a 20 MB plan that is seconds even after
:func:`importers.dxf_stream.slim_dxf` has left out what the import skips. Most files need
none of the repairs. :func:`read_fast` splits the slimmed file (:func:`~importers.dxf_stream
.split_dxf`): ezdxf's recover mode reads the frame (header, tables, blocks, objects: small),
and the model space entities the import reads are compiled here from their tags, one pass,
then loaded by ezdxf's own entity loaders, so each is the same ezdxf object the recover mode
would have made. The floor-plan reader then walks them as it walks any drawing.

It does so only where the recover mode would have changed nothing and reported nothing: a text
DXF of R2000 or later whose text is UTF-8 (or ASCII), whose frame the recover mode reads
without a repair or an error, whose entities the reader reads are of the kinds it knows
(LWPOLYLINE, TEXT, MTEXT, INSERT with its ATTRIBs, LINE, ARC, CIRCLE, POINT, HATCH) and whose
every tag is as the recover mode would have left it (group codes and numbers that read as such,
points as x, y and z in order, a valid handle, no comments, no application data, extension
dictionaries or XDATA), and that the auditor would not touch (owner, layer name, line type,
colour, line weight, extrusion, transparency, text style, the block an INSERT names, an
ATTRIB's tag, a HATCH's boundary paths, a handle used twice). Anything else raises
:class:`NotFast`, and the caller reads the file the whole way
(:func:`importers.dxf_open.read_drawing`): the answer is the same either way, only slower
there. Only files of :data:`FAST_MIN_BYTES` or more are read so, as only they are slimmed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from ezdxf import recover
from ezdxf.entities import factory
from ezdxf.entities.dxfgfx import acdb_entity_group_codes
from ezdxf.entities.insert import Insert, merged_insert_group_codes
from ezdxf.entities.lwpolyline import (
    LWPolyline,
    LWPolylinePoints,
    acdb_lwpolyline_group_codes,
)
from ezdxf.entities.mtext import MText, acdb_mtext_group_codes
from ezdxf.entities.subentity import entity_linker
from ezdxf.entities.text import Text, merged_text_group_codes
from ezdxf.lldxf import const, validator
from ezdxf.lldxf.encoding import (
    decode_dxf_unicode,
    decode_mif_to_unicode,
    has_dxf_unicode,
    has_mif_encoding,
)
from ezdxf.lldxf.extendedtags import ExtendedTags
from ezdxf.lldxf.tags import Tags
from ezdxf.lldxf.types import (
    BINARY_DATA,
    POINT_CODES,
    TYPE_TABLE,
    DXFTag,
    DXFVertex,
    is_valid_handle,
)
from ezdxf.math import NULLVEC, Vec3
from ezdxf.tools.text import escape_dxf_line_endings

from gridmap.errors import DxfError
from importers.dxf_open import SLIMMED, refuse_dwg
from importers.dxf_stream import SLIM_MIN_BYTES, split_dxf
from importers.findings import Finding, FindingKind, Severity
from importers.limits import WorkBudget
from importers.manifest import Layers

_HEAD_BYTES = 1 << 16
#: smaller files are read the whole way, as they are not slimmed either (what the slimming
#: leaves out is not audited, and a small file's audit is cheap): the fast read is the
#: slimmed read, made faster
FAST_MIN_BYTES = SLIM_MIN_BYTES
_R2000 = "AC1015"
#: the entity kinds read here; anything else on a layer read goes the whole way
KINDS = frozenset({"LWPOLYLINE", "TEXT", "MTEXT", "INSERT", "ATTRIB", "SEQEND", "LINE", "ARC",
                   "CIRCLE", "POINT", "HATCH"})
_TEXTS = frozenset({"TEXT", "MTEXT", "ATTRIB"})
_FOLLOWERS = frozenset({"ATTRIB", "SEQEND"})
# y and z codes of a point with no x before them: the recover mode drops them
_STRAY_COORDINATES = ({c + 10 for c in POINT_CODES} | {c + 20 for c in POINT_CODES}) - {38}
# codes that would make ezdxf attach more than attributes: application data, reactors and
# extension dictionaries (102), XDATA (1000 and up), embedded objects (101), comments (999)
_REFUSED_CODES = frozenset({101, 102, 999})


class NotFast(Exception):
    """The file is not one :func:`read_fast` is sure of; the message says why."""


@dataclass
class FastDrawing:
    """What :func:`read_fast` read: ``doc`` the ezdxf drawing of the frame (no model space
    entities), ``modelspace`` its model space entities the import reads, in the file's order,
    and what opening the file noticed (as :func:`importers.dxf_open.read_drawing` says it)."""

    doc: Any
    modelspace: list[Any]
    findings: list[Finding] = field(default_factory=list)


def read_fast(path: Path, layers: Layers, budget: WorkBudget | None = None, *,
              min_bytes: int | None = None) -> FastDrawing:
    """The drawing in ``path`` as the floor-plan reader of ``layers`` needs it; raises
    :class:`NotFast` for a file it is not sure of (see the module doc), or smaller than
    ``min_bytes`` (default :data:`FAST_MIN_BYTES`). A file of
    :data:`~importers.dxf_stream.SLIM_MIN_BYTES` or more gets the finding a slimmed read
    gets."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotFast(f"cannot read the file ({exc})") from exc
    if size < (FAST_MIN_BYTES if min_bytes is None else min_bytes):
        raise NotFast("a small file: read the whole way")
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise NotFast(f"cannot read the file ({exc})") from exc
    try:
        refuse_dwg(name, head)
    except DxfError as exc:
        raise NotFast("a DWG file") from exc
    version = _version(head)
    if version < _R2000:
        raise NotFast(f"DXF version {version or 'unknown'} (before R2000, or no header)")
    split = split_dxf(path, layers, budget)
    if split is None:
        raise NotFast("the slimming is not sure of it (code-page text, damage, no header, no "
                      "room outline on the rooms layer, ...)")
    try:
        doc, auditor = recover.read(io.BytesIO(split.frame))
    except Exception as exc:  # the whole way says what is wrong
        raise NotFast(f"the recover mode cannot read its frame ({exc})") from exc
    if auditor.has_errors or auditor.fixes:
        raise NotFast("the recover mode repairs or refuses its frame")
    modelspace = _Entities(doc).read(split.entities)
    findings = []
    if split.original_bytes >= SLIM_MIN_BYTES:
        findings.append(Finding(
            FindingKind.OTHER, f"{name}: {split.dropped:,} entities on layers the floor plan "
                               "does not read were left out before parsing (a large file)",
            Severity.INFO, name, action=SLIMMED))
    return FastDrawing(doc, modelspace, findings)


def _version(head: bytes) -> str:
    """``$ACADVER`` from the start of the file, "" if it has none there."""
    at = head.find(b"$ACADVER")
    if at < 0:
        return ""
    lines = head[at:at + 200].split(b"\n")
    if len(lines) < 3 or lines[1].strip() != b"1":
        return ""
    value = lines[2].strip()
    return value.decode("ascii", "replace").upper() if value.isascii() else ""


class _Entities:
    """The model space entities of a frame drawing, compiled from their tags."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        records = doc.block_records
        self.msp = str(records.get("*Model_Space").dxf.handle)
        self.psp = str(records.get("*Paper_Space").dxf.handle)
        self.handles: set[str] = set()
        self._known: dict[tuple[str, Any], bool] = {}

    def read(self, data: bytes) -> list[Any]:
        """The model space entities in ``data`` (entities as the file has them); paper space
        ones are checked, then left out, as the import does not read them."""
        out: list[Any] = []
        link = entity_linker()
        parent: Any = None
        codes, values, firsts = _entity_spans(data)
        for a, b in pairwise(firsts):
            try:
                entity = _loaded(codes, values, a, b, self.doc)
                kind = entity.dxftype()
                linked = link(entity)
            except NotFast:
                raise
            except Exception as exc:  # a structure the whole way has to judge
                raise NotFast(f"entity {a // 2}: {exc}") from exc
            if linked:
                if parent is None:
                    raise NotFast(f"a {kind} with no entity before it")
                self._check(entity, str(parent.dxf.handle))
                continue
            if kind in _FOLLOWERS:
                raise NotFast(f"a {kind} with no entity before it")
            owner = self._check(entity, None)
            parent = entity
            if owner == self.msp:
                out.append(entity)
        return out

    def _check(self, e: Any, owner: str | None) -> str:
        """What the auditor would repair, or the recover mode would have dropped, in an
        entity (``owner``: the entity an ATTRIB or SEQEND follows): NotFast if anything; its
        owner handle."""
        dxf = e.dxf
        handle = dxf.get("handle")
        if not handle or not is_valid_handle(handle) or handle in self.handles \
                or handle in self.doc.entitydb:
            raise NotFast(f"a missing, invalid or repeated handle ({handle})")
        self.handles.add(handle)
        own = dxf.get("owner")
        if owner is None and own not in (self.msp, self.psp):  # its layout is its owner
            raise NotFast(f"entity {handle} is owned by {own}, not by a layout it is in")
        if owner is not None and own != owner and own not in self.handles \
                and own not in self.doc.entitydb:  # an ATTRIB's or SEQEND's owner must exist
            raise NotFast(f"entity {handle} is owned by {own}, which is not in the drawing")
        kind = e.dxftype()
        if not self._ok("layer", dxf.get("layer", "0")):
            raise NotFast(f"entity {handle}: layer name {dxf.get('layer')!r}")
        for attrib in ("linetype", "color", "lineweight", "transparency"):
            if dxf.hasattr(attrib) and not self._ok(attrib, dxf.get(attrib)):
                raise NotFast(f"entity {handle}: its {attrib} would be repaired")
        if dxf.hasattr("extrusion") and NULLVEC.isclose(dxf.extrusion):
            raise NotFast(f"entity {handle}: a null extrusion")
        if kind in _TEXTS and dxf.hasattr("style") and not self._ok("style", dxf.style):
            raise NotFast(f"entity {handle}: text style {dxf.style!r} is not defined")
        if kind == "INSERT" and not self._ok("block", dxf.get("name")):
            raise NotFast(f"entity {handle}: block {dxf.get('name')!r} is not defined")
        if kind == "ATTRIB" and not dxf.hasattr("tag"):
            raise NotFast(f"entity {handle}: an ATTRIB without a tag")
        if kind == "MTEXT" and e.has_columns:
            raise NotFast(f"entity {handle}: MTEXT columns")
        if kind == "HATCH" and not e.paths.is_valid():
            raise NotFast(f"entity {handle}: a HATCH with a boundary path the auditor deletes")
        return str(own)

    def _ok(self, what: str, value: Any) -> bool:
        key = (what, value)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._judge(what, value)
        return known

    def _judge(self, what: str, value: Any) -> bool:
        doc = self.doc
        if what == "layer":
            return isinstance(value, str) and validator.is_valid_layer_name(value)
        if what == "linetype":
            key = validator.make_table_key(value)
            return key in ("bylayer", "byblock") or key in doc.linetypes
        if what == "color":
            return isinstance(value, int) and 0 <= value <= 257
        if what == "lineweight":
            return value in const.VALID_DXF_LINEWEIGHT_VALUES
        if what == "transparency":
            return value is None or bool(validator.is_transparency(value))
        if what == "style":
            return value in doc.styles
        if what == "block":
            return value is not None and value in doc.blocks
        return False


# entities whose ezdxf loader sets each group code's attribute and nothing else (the
# loader's "simple" way): made here without ezdxf's tag structures, the same objects
_SIMPLE: dict[str, tuple[type, dict[int, str]]] = {
    "TEXT": (Text, merged_text_group_codes),
    "INSERT": (Insert, merged_insert_group_codes),
}


def _loaded(codes: list[int], values: list[bytes], a: int, b: int, doc: Any) -> Any:
    """The ezdxf entity of the tags ``a`` to ``b``, as its loader makes it."""
    kind = values[a].strip().upper().decode("ascii", "replace")
    if kind not in KINDS:
        raise NotFast(f"a {kind} entity on a layer read")
    if kind == "MTEXT":
        joined = _joined_mtext(list(zip(codes[a:b], values[a:b], strict=True)))
        codes, values, a, b = [c for c, _ in joined], [v for _, v in joined], 0, len(joined)
    simple = _SIMPLE.get(kind)
    if simple is None:
        compiled = list(_compiled(kind, codes, values, a, b))
        made = _graphic(kind, compiled, doc) if kind in _GRAPHIC else None
        if made is not None:
            return made
        tags = Tags([DXFTag(0, kind)])
        tags.extend(_tag(code, value) for code, value in compiled)
        if kind == "LINE" and _out_of_order(tags):
            raise NotFast("LINE: its end point comes before its start point")
        return factory.load(ExtendedTags(tags), doc)
    cls, names = simple
    entity = cls()
    entity.doc = doc
    namespace = entity.dxf.__dict__
    handle = owner = None
    base = True  # the base class: its first handle and owner are the entity's
    name_of = names.get
    for code, value in _compiled(kind, codes, values, a, b):
        if code == 100:
            base = False
        elif base and code == 5:
            handle = value if handle is None else handle
        elif base and code == 330:
            owner = value if owner is None else owner
        name = name_of(code)
        if name is not None and name[0] != "*":
            namespace[name] = Vec3(value) if code in POINT_CODES else value
    if handle is None or owner is None:
        raise NotFast(f"{kind}: no handle or owner")
    namespace["handle"], namespace["owner"] = handle, owner
    return entity


def _tag(code: int, value: Any) -> DXFTag:
    return DXFVertex(code, value) if code in POINT_CODES else DXFTag(code, value)


# entities whose ezdxf loader reads their AcDbEntity part and their own part, each code to its
# attribute (an LWPOLYLINE's vertices, an MTEXT's text chunks aside): made here when their
# tags are as CAD programs write them (the handle and owner, AcDbEntity, their own part, every
# code one the loader knows), the same objects; any other is left to the loader
_GRAPHIC: dict[str, tuple[type, str, dict[int, Any]]] = {
    "LWPOLYLINE": (LWPolyline, "AcDbPolyline", acdb_lwpolyline_group_codes),
    "MTEXT": (MText, "AcDbMText", acdb_mtext_group_codes),
}


def _graphic(kind: str, compiled: list[tuple[int, Any]], doc: Any) -> Any | None:
    """The LWPOLYLINE or MTEXT of ``compiled`` as its ezdxf loader makes it, or None when its
    tags are not in the usual order (its loader then makes it)."""
    cls, marker, names = _GRAPHIC[kind]
    parts: list[list[tuple[int, Any]]] = [[]]
    markers = []
    for code, value in compiled:
        if code == 100:
            markers.append(value)
            parts.append([])
        else:
            parts[-1].append((code, value))
    if markers != ["AcDbEntity", marker]:
        return None
    base, common, own = parts
    if any(code not in (5, 330) for code, _ in base) or any(
            code not in acdb_entity_group_codes for code, _ in common):
        return None
    handle = next((value for code, value in base if code == 5), None)
    owner = next((value for code, value in base if code == 330), None)
    if handle is None or owner is None:
        return None
    entity = cls()
    entity.doc = doc
    namespace = entity.dxf.__dict__
    namespace["handle"], namespace["owner"] = handle, owner
    for code, value in common:
        namespace[acdb_entity_group_codes[code]] = value
    if kind == "MTEXT":
        chunks, tail = [], ""
        rest = []
        for code, value in own:
            if code == 1:
                tail = value
            elif code == 3:
                chunks.append(value)
            else:
                rest.append((code, value))
        entity.text = escape_dxf_line_endings("".join([*chunks, tail]))
    else:
        entity.lwpoints, unread = LWPolylinePoints.from_tags(
            Tags(_tag(code, value) for code, value in own))
        rest = [(tag.code, tag.value) for tag in unread]
    for code, value in rest:
        name = names.get(code)
        if not isinstance(name, str):
            return None  # a code its loader would look for elsewhere, or read twice
        if name[0] != "*":
            namespace[name] = Vec3(value) if code in POINT_CODES else value
    return entity


# how each group code's value is compiled: text, a whole number, a number, the x of a point;
# anything else (comments, application data, embedded objects, binary data, XDATA, a y or z
# with no x before it) is refused
_TEXT, _INT, _FLOAT, _POINT = range(4)
_COMPILE: dict[int, int] = {}
for _code in range(1000):
    if _code in POINT_CODES:
        _COMPILE[_code] = _POINT
    elif _code in _REFUSED_CODES or _code in BINARY_DATA or _code in _STRAY_COORDINATES:
        continue
    else:
        _type = TYPE_TABLE.get(_code, str)
        _COMPILE[_code] = _TEXT if _type is str else _INT if _type is int else _FLOAT


def _entity_spans(data: bytes) -> tuple[list[int], list[bytes], list[int]]:
    """The group codes and value lines of ``data`` (entities as the file has them, from the
    newline before the first ``0``), and where each entity starts among them (and ends)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) % 2 != 1 or (lines and lines[0] != b""):
        raise NotFast("the entities' lines do not pair up")
    try:
        codes = list(map(int, lines[1::2]))
    except ValueError as exc:
        raise NotFast("a group code that is not a number") from exc
    values = lines[2::2]
    if b"\r" in data:
        values = [v.rstrip(b"\r") for v in values]
    firsts = [k for k, code in enumerate(codes) if code == 0]
    if firsts[:1] != [0]:
        raise NotFast("the entities do not start with an entity")
    firsts.append(len(codes))
    return codes, values, firsts


def _compiled(kind: str, codes: list[int], values: list[bytes], a: int, b: int,
              ) -> Iterator[tuple[int, Any]]:
    """The tags after the first (``a`` + 1 to ``b``, one entity) as ezdxf's recover mode
    compiles them: text decoded (DXF unicode escapes read), numbers, points as tuples; or
    NotFast where it would have repaired one."""
    how = _COMPILE.get
    i = a + 1
    try:
        while i < b:
            code = codes[i]
            compile_as = how(code)
            if compile_as == _TEXT:
                text = values[i].decode("utf-8")
                if "\\" in text:
                    if has_dxf_unicode(text):
                        text = decode_dxf_unicode(text)
                    if has_mif_encoding(text):
                        text = decode_mif_to_unicode(text)
                if code == 5 and not _is_hex(text):
                    raise NotFast(f"{kind}: handle {text!r}")
                yield code, text
            elif compile_as == _FLOAT:
                yield code, float(values[i])
            elif compile_as == _INT:
                yield code, int(values[i])
            elif compile_as == _POINT:
                if i + 1 >= b or codes[i + 1] != code + 10:
                    raise NotFast(f"{kind}: a point {code} without its y")
                if i + 2 < b and codes[i + 2] == code + 20:
                    yield code, (float(values[i]), float(values[i + 1]), float(values[i + 2]))
                    i += 3
                else:
                    yield code, (float(values[i]), float(values[i + 1]))
                    i += 2
                continue
            else:
                raise NotFast(f"{kind}: group code {code}")
            i += 1
    except UnicodeDecodeError as exc:
        raise NotFast(f"{kind}: text that is not UTF-8") from exc
    except ValueError as exc:
        raise NotFast(f"{kind}: a number that is not one ({exc})") from exc


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def _out_of_order(tags: Tags) -> bool:
    codes = [t.code for t in tags if t.code in (10, 11)]
    return codes not in ([10, 11], [10], [11], [])


def _joined_mtext(raw: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """An MTEXT's text chunks (group codes 3 and 1 of its AcDbMText part) joined before they
    are decoded, as the recover mode joins them (an escape may cross a chunk)."""
    out: list[tuple[int, bytes]] = [raw[0]]
    chunks: list[bytes] = []
    content = False
    for code, value in raw[1:]:
        if code in (100, 101, 1001):
            if chunks:
                out.append((3, b"".join(chunks)))
                chunks.clear()
            content = code == 100 and value == b"AcDbMText"
        if content and code == 3:
            chunks.append(value)
            out.append((3, b""))
        elif content and code == 1:
            chunks.append(value)
            out.append((1, b"".join(chunks)))
            chunks.clear()
        else:
            out.append((code, value))
    if chunks:
        out.append((3, b"".join(chunks)))
    return out
