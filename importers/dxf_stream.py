"""A large floor plan, slimmed to what the import reads before ezdxf parses it.

Most of an architect's DXF is not rooms, labels or doors: wall lines, hatches, dimensions (each
with a block of its own), furniture, grids, title blocks. ezdxf turns every entity into Python
objects, which for a 20 MB file takes tens of seconds and several hundred MB. The import reads
a handful of layers, so :func:`slim_dxf` passes over the file's bytes once (regular
expressions, no Python object per entity) and keeps

* every section but ENTITIES and BLOCKS as it is (header, tables, objects: the drawing's
  units, layers and dictionaries are unchanged);
* in ENTITIES (model and paper space): every entity on a layer the import reads (rooms,
  labels, doors, outline, stairs, elevators, but not walls: they are read only when the rooms
  layer draws no outline) and every block insert but those whose block draws nothing on
  those layers (furniture), has no attributes and is not named for a stair or lift, each
  with its attributes and vertices;
* in BLOCKS and the BLOCK_RECORD table: every block but the anonymous blocks of dimensions
  (``*D...``) that no entity kept uses.

What is dropped is only what :func:`importers.dxf.extract_floor_plan` would skip, so the
slimmed file reads into the same floor plan; its bytes are then read by ezdxf's recover mode
like any file (so a damaged file is repaired and reported the same way). The entities dropped
are charged to the import's entity budget, as the full walk charges them.

The slimming is only for what it is sure of: a text DXF with a HEADER whose text is UTF-8
(R2007 and later, or plain ASCII), with ENTITIES and BLOCKS sections it can find and an EOF,
at least :data:`SLIM_MIN_BYTES` large, whose rooms layer draws a closed outline in model
space, whose lines pair up and whose numbers read as numbers (damage is for the recover path
to repair and report, or refuse, whether or not the damaged entity would be read). Anything
else (binary, headerless, code-page text, damaged, small, rooms from walls or none: its
messages and layer hints need the whole drawing) gets ``None``: read it
whole. A caller whose slimmed drawing yields no rooms after all must read the whole file.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, pairwise
from pathlib import Path

from ezdxf.lldxf.validator import is_valid_layer_name

from importers.limits import WorkBudget
from importers.manifest import Layers

#: smaller files are read whole: slimming saves little there
SLIM_MIN_BYTES = 2 * 1024 * 1024

# an entity starts with a group code 0 line followed by its type: a value line cannot be
# followed by a type name (the next line of a pair is a group code, a number), so this finds
# entity starts without pairing every line
_ENTITY = re.compile(rb"\n[ \t]*0[ \t]*\r?\n([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?=\r?\n)")
_FIRST = re.compile(rb"[ \t]*0[ \t]*\r?\n([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?=\r?\n)")  # at 0
_ACADVER = re.compile(rb"\$ACADVER[ \t]*\r?\n[ \t]*1[ \t]*\r?\n[ \t]*(AC\d{4})")
_UTF8_VERSION = b"AC1021"  # R2007: text is UTF-8 whatever $DWGCODEPAGE says
# a group code that holds a number followed by a value that is not one: ezdxf's recover mode
# repairs it (and the import refuses such a file); code lines are integers, so a value line
# that looks like a numeric code is never taken for one (the line after it is a number)
# (possessive: what a part matched is never given back, as nothing after it could use it;
# a third faster over millions of lines, and the same matches)
_FLOAT = rb"[ \t]*+[-+]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?+\d++)?+[ \t]*+\r?\n"
_INT = rb"[ \t]*+[-+]?+\d++[ \t]*+\r?\n"
_BAD_NUMBER = re.compile(
    rb"\n[ \t]*+(?:(?:1\d|[2-5]\d|1[1-4]\d|2[1-3]\d|10[1-5]\d)[ \t]*+\r?\n(?!" + _FLOAT
    + rb")|(?:[6-9]\d|17\d|2[7-8]\d|3[7-8]\d|40\d|10[67]\d)[ \t]*+\r?\n(?!" + _INT
    + rb"))")
_FOLLOWERS = frozenset({b"ATTRIB", b"VERTEX", b"SEQEND"})  # belong to the entity before them
_NAMED = frozenset({b"INSERT", b"DIMENSION"})  # entities that name a block (group code 2)


@dataclass
class SlimDxf:
    """The slimmed file's bytes and what was left out."""

    data: bytes
    kept: int  # entities kept in ENTITIES
    dropped: int  # entities left out of ENTITIES
    dimension_blocks_left_out: int  # dimension blocks nothing kept uses
    original_bytes: int
    layers_seen: set[str] = field(default_factory=set)


def read_layers(layers: Layers) -> frozenset[str]:
    """The layers (upper case) the import reads entities on, walls included."""
    return frozenset(v.upper() for v in layers.model_dump().values() if isinstance(v, str))


def _pairs(chunk: bytes, limit: int = -1) -> Iterator[tuple[bytes, bytes]]:
    """(group code, value) pairs of one entity's lines (``chunk`` starts with the newline
    before its 0, unless it starts the file)."""
    lines = chunk.split(b"\n", limit) if limit > 0 else chunk.split(b"\n")
    for i in range(1 if chunk.startswith(b"\n") else 0, len(lines) - 1, 2):
        yield lines[i].strip(), lines[i + 1].rstrip(b"\r")


_WINDOW = 16  # the lines of an entity looked at first: its handle, layer (a block's name)


def _value(chunk: bytes, code: bytes, within: int = 40) -> bytes | None:
    """The first value of ``code`` among the entity's first ``within`` lines (all if 0)."""
    if within > _WINDOW:  # most often in the first few lines: no need to split forty
        lines = chunk.split(b"\n", _WINDOW)
        whole = len(lines) <= _WINDOW  # every line, none left joined in the last piece
        for i in range(1 if chunk.startswith(b"\n") else 0,
                       len(lines) - 1 if whole else _WINDOW - 1, 2):
            if lines[i].strip() == code:
                return lines[i + 1].rstrip(b"\r")
        if whole:
            return None
    for c, v in _pairs(chunk, within):
        if c == code:
            return v
    if within and chunk.count(b"\n") > within:
        return _value(chunk, code, 0)
    return None


def _layer(chunk: bytes) -> str:
    raw = _value(chunk, b"8")
    if raw is None:
        return "0"
    try:
        return raw.decode("utf-8").strip().upper()
    except UnicodeDecodeError:
        return "\ufffd"  # unknown: kept, never dropped


def _head(chunk: bytes) -> tuple[bytes | None, str]:
    """An entity's handle and layer (upper case; "0" if it names none), in one pass."""
    lines = chunk.split(b"\n", _WINDOW)  # as :func:`_head_of`, most often in these lines
    whole = len(lines) <= _WINDOW
    handle: bytes | None = None
    for i in range(1 if chunk.startswith(b"\n") else 0,
                   len(lines) - 1 if whole else _WINDOW - 1, 2):
        c = lines[i].strip()
        if c == b"5":
            if handle is None:
                handle = lines[i + 1].rstrip(b"\r").strip().upper()
        elif c == b"8":
            try:
                return handle, lines[i + 1].rstrip(b"\r").decode("utf-8").strip().upper()
            except UnicodeDecodeError:
                return handle, "\ufffd"
    if whole:
        return handle or _handle(chunk), _layer(chunk)
    return _head_of(chunk)


def _head_of(chunk: bytes) -> tuple[bytes | None, str]:
    """:func:`_head` the long way, pairing the entity's first forty lines."""
    handle: bytes | None = None
    raw: bytes | None = None
    for c, v in _pairs(chunk, 40):
        if c == b"5" and handle is None:
            handle = v.strip().upper()
        elif c == b"8":
            raw = v
            break  # the handle comes first
    if raw is None:
        return handle or _handle(chunk), _layer(chunk)
    try:
        return handle, raw.decode("utf-8").strip().upper()
    except UnicodeDecodeError:
        return handle, "\ufffd"  # unknown: kept, never dropped


# an entity's first lines as CAD programs write them: its type, handle, owner, AcDbEntity and
# layer, each code and value on a line of its own ("\r" only before the newline): the handle
# and the layer are then what :func:`_head` finds, without pairing the lines in Python
_CANONICAL_HEAD = re.compile(
    rb"\n[ \t]*0[ \t]*\r?\n[^\r\n]*\r?\n[ \t]*5[ \t]*\r?\n([^\r\n]*)\r?\n[ \t]*330[ \t]*\r?\n"
    rb"[^\r\n]*\r?\n[ \t]*100[ \t]*\r?\n[^\r\n]*\r?\n[ \t]*8[ \t]*\r?\n([^\r\n]*)\r?\n")


def _canonical(head: re.Match[bytes]) -> tuple[bytes, str]:
    """:func:`_head` of an entity whose first lines :data:`_CANONICAL_HEAD` matched."""
    try:
        layer = head.group(2).decode("utf-8").strip().upper()
    except UnicodeDecodeError:
        layer = "\ufffd"  # unknown: kept, never dropped
    return head.group(1).strip().upper(), layer


def _handle(chunk: bytes) -> bytes | None:
    first = _CANONICAL_HEAD.match(chunk)  # the handle on its third line, as written most
    if first is not None and first.group(1):
        return first.group(1).strip().upper()
    value = _value(chunk, b"5", 12) or _value(chunk, b"105", 12)
    return None if value is None else value.strip().upper()


def _owner(chunk: bytes) -> bytes | None:
    """An object's owner handle: its 330 outside the ``102 {...}`` groups (reactors)."""
    inside = False
    for c, v in _pairs(chunk, 60):
        if c == b"102":
            inside = v.strip().startswith(b"{")
        elif c == b"330" and not inside:
            return v.strip().upper()
        elif c == b"100":
            break  # the owner comes before the first subclass marker
    return None


def _closed_outline(chunk: bytes) -> bool:
    """Whether an LWPOLYLINE is closed with three vertices or more (a room outline)."""
    flags = vertices = 0
    for c, v in _pairs(chunk, 40):
        try:
            if c == b"70":
                flags = int(v)
            elif c == b"90":
                vertices = int(v)
        except ValueError:
            return False
    return bool(flags & 1) and vertices >= 3


class _Starts:
    """Where each entity (and table entry, block, object) starts, and its type: compact
    (eight bytes and a shared type name each), as a file may hold millions."""

    def __init__(self, data: bytes) -> None:
        self.pos = array("q")
        self.kind: list[bytes] = []
        names: dict[bytes, bytes] = {}
        first = _FIRST.match(data)
        for m in chain([first] if first else [], _ENTITY.finditer(data)):
            self.pos.append(m.start())
            name = m.group(1).upper()
            self.kind.append(names.setdefault(name, name))

    def __len__(self) -> int:
        return len(self.pos)

    def __getitem__(self, i: int) -> tuple[int, bytes]:
        return self.pos[i], self.kind[i]

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return zip(self.pos, self.kind, strict=True)


class _Index:
    """The entity that starts at a byte position (one of the sections' bounds)."""

    def __init__(self, starts: _Starts) -> None:
        self._pos = starts.pos

    def __getitem__(self, at: int) -> int:
        i = bisect_left(self._pos, at)
        if i == len(self._pos) or self._pos[i] != at:
            raise KeyError(at)
        return i


def _paired(data: bytes, starts: _Starts) -> bool:
    """Whether every entity, from its 0 line to the next entity's, is whole group code and
    value pairs (an even number of lines)."""
    count = data.count
    # an entity's lines each follow a newline, but the file's first line
    first = 0 if data.startswith(b"\n") else 1
    return all((count(b"\n", a, b) + (first if a == 0 else 0)) % 2 == 0
               for a, b in pairwise(starts.pos))


@dataclass
class _Section:
    name: bytes
    start: int  # the first entity's start (a newline before its 0)
    end: int  # the newline before the section's ENDSEC


def _sections(data: bytes, starts: _Starts) -> dict[bytes, _Section] | None:
    out: dict[bytes, _Section] = {}
    current: _Section | None = None
    for i, (pos, kind) in enumerate(starts):
        if kind == b"SECTION":
            name = _value(data[pos:starts[i + 1][0]] if i + 1 < len(starts) else data[pos:],
                          b"2", 6)
            if current is not None or name is None:
                return None
            current = _Section(name.strip().upper(), pos, pos)
        elif kind == b"ENDSEC":
            if current is None:
                return None
            current.end = pos
            if current.name in out:
                return None
            out[current.name] = current
            current = None
    return out if current is None else None


@dataclass
class _Cut:
    """What the slimming decided: the file's bytes and entity index, the ENTITIES spans kept
    (each entity with its followers), and what the sections around them need to be copied."""

    data: bytes
    starts: _Starts
    index: _Index
    sections: dict[bytes, _Section]
    keep: list[tuple[int, int]]
    kept: int
    dropped: int
    named: set[bytes]
    gone: set[bytes]
    layers_seen: set[str]


@dataclass
class SplitDxf:
    """A slimmed file in two parts: ``frame``, the file with nothing in ENTITIES (header,
    tables, blocks and objects as :func:`slim_dxf` keeps them), and ``entities``, the
    entities of ENTITIES the slimming keeps (with their ATTRIBs, VERTEXes and SEQENDs), as the
    file has them, from the newline before their first ``0``; ``dropped`` as
    :class:`SlimDxf`."""

    frame: bytes
    entities: bytes
    kept: int
    dropped: int
    original_bytes: int


def slim_dxf(path: Path, layers: Layers, budget: WorkBudget | None = None, *,
             min_bytes: int = SLIM_MIN_BYTES) -> SlimDxf | None:
    """The file slimmed to what reading ``layers`` needs (see the module doc), or None when
    the file is not one this is sure of."""
    size = path.stat().st_size
    if size < min_bytes:
        return None
    cut = _cut(path, layers, budget)
    if cut is None:
        return None
    out, unused = _assemble(cut, cut.keep)
    return SlimDxf(bytes(out), cut.kept, cut.dropped, len(unused), size, cut.layers_seen)


def split_dxf(path: Path, layers: Layers, budget: WorkBudget | None = None) -> SplitDxf | None:
    """The file slimmed as :func:`slim_dxf` slims it (whatever its size), in two parts (see
    :class:`SplitDxf`); None when the file is not one the slimming is sure of."""
    cut = _cut(path, layers, budget)
    if cut is None:
        return None
    frame, _ = _assemble(cut, [])
    data = cut.data
    return SplitDxf(bytes(frame), b"".join(data[a:b] for a, b in cut.keep), cut.kept,
                    cut.dropped, len(data))


def _cut(path: Path, layers: Layers, budget: WorkBudget | None) -> _Cut | None:
    """Which entities the slimming keeps (see the module doc); None when unsure."""
    data = path.read_bytes()
    head = data[:65536]
    version = _ACADVER.search(head)
    if version is None or not head.lstrip(b"\xef\xbb\xbf \r\n").startswith(b"0"):
        return None
    if version.group(1) < _UTF8_VERSION and not data.isascii():
        return None  # code-page text: read whole, as the opener decides its encoding
    if not data[-64:].rstrip(b"\r\n\t \x00\x1a").upper().endswith(b"EOF"):
        return None  # truncated: the recover path says what was lost
    starts = _Starts(data)
    if not _paired(data, starts):
        return None  # a line missing or extra somewhere: the recover path repairs and says so
    if _BAD_NUMBER.search(data):
        return None  # a number that is not one, perhaps in what would be left out: the whole
        # file is judged, so a drawing is accepted or refused whatever its size
    sections = _sections(data, starts)
    if sections is None or b"ENTITIES" not in sections or b"HEADER" not in sections:
        return None
    wanted = read_layers(layers)
    walls = layers.walls.upper()
    rooms = layers.rooms.upper()
    lazy = walls if walls not in read_layers(layers.model_copy(update={"walls": rooms})) \
        else None  # the walls layer, unless it is also read for something else
    entities = sections[b"ENTITIES"]

    def chunk(i: int) -> bytes:
        return data[starts[i][0]:starts[i + 1][0]]

    index = _Index(starts)
    contents = _block_contents(data, starts, index, sections.get(b"BLOCKS"))
    relevant = _Relevance(contents, wanted)

    def furnishes(body: bytes) -> bool:
        """Whether an insert on a layer not read may still give the import something: its
        attributes (a room tag), a stair or lift block name, or a block that draws on a
        layer read (layer 0 taking the insert's layer), however deeply nested."""
        from importers.dxf_vertical import block_kind

        if (_value(body, b"66") or b"").strip() not in (b"", b"0"):
            return True
        name = (_value(body, b"2") or b"").strip()
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return bool(block_kind(text)) or relevant(name.upper(), _layer(body), 0, ())
    # ENTITIES: decide per entity; walls wait until we know whether rooms are drawn
    keep: list[tuple[int, int]] = []  # (start, end) byte ranges kept, in order
    waiting: list[tuple[int, int]] = []
    named: set[bytes] = set()
    layers_seen: set[str] = set()
    has_rooms = False
    kept = dropped = 0
    gone: set[bytes] = set()  # handles of what is left out: what they own goes too
    decision = "keep"
    i = index[entities.start] + 1  # the first entity after SECTION
    end_i = index[entities.end]
    if budget is not None:  # more entities than the budget: refused before reading them
        own = sum(1 for k in starts.kind[i:end_i] if k not in _FOLLOWERS)
        if own > budget.limits.entity_budget:
            budget.charge(own, f"{path.name}: model space ({own:,} entities)")
    handle: bytes | None = None
    pos, kinds = starts.pos, starts.kind
    while i < end_i:
        kind = kinds[i]
        at, end = pos[i], pos[i + 1]
        body = data[at:end]
        if kind in _FOLLOWERS:
            handle = _handle(body) if decision != "keep" else None
        else:
            first = _CANONICAL_HEAD.match(data, at, end + 1)
            handle, layer = _head(body) if first is None else _canonical(first)
            layers_seen.add(layer)
            if kind == b"INSERT":  # kept unless its block draws nothing the import reads
                decision = "keep" if layer in wanted or layer == "\ufffd" or furnishes(
                    body) else "drop"
            elif layer == lazy:
                decision = "wait"
            elif layer in wanted or layer == "\ufffd":
                decision = "keep"
                has_rooms = has_rooms or (layer == rooms and kind == b"LWPOLYLINE"
                                          and _closed_outline(body))
                has_rooms = has_rooms or (layer == rooms and kind in (b"POLYLINE", b"HATCH"))
            else:
                decision = "drop"
            if decision == "drop":
                dropped += 1
            else:
                kept += 1
                name = _value(body, b"2") if kind in _NAMED else None
                if name is not None:
                    named.add(name.strip().upper())
        span = (at, end)
        if decision == "keep":
            keep.append(span)
        elif decision == "wait":
            waiting.append(span)
            gone.add(handle or b"")  # walls are dropped whenever the file is slimmed
        else:
            gone.add(handle or b"")
        i += 1
    if not has_rooms:
        return None  # rooms from walls, or none at all: the whole drawing decides (and hints)
    if not all(is_valid_layer_name(layer) for layer in layers_seen):
        return None  # the auditor refuses the drawing for it, whether or not it is read
    dropped += len(waiting)
    kept -= len(waiting)
    if budget is not None and dropped:
        budget.charge(dropped, f"{path.name}: model space ({dropped:,} entities on layers "
                               "the import does not read)")
    return _Cut(data, starts, index, sections, keep, kept, dropped, named, gone, layers_seen)


def _assemble(cut: _Cut, keep: list[tuple[int, int]]) -> tuple[bytearray, set[bytes]]:
    """The slimmed file with the ENTITIES spans ``keep``; the dimension blocks left out."""
    data, starts, index, sections = cut.data, cut.starts, cut.index, cut.sections
    entities = sections[b"ENTITIES"]
    blocks = sections.get(b"BLOCKS")
    named, gone = set(cut.named), set(cut.gone)
    out = bytearray()
    unused: set[bytes] = set()
    tables = sections.get(b"TABLES")
    if blocks is not None and tables is not None and tables.start < blocks.start \
            < entities.start:
        named |= _inserted_in_blocks(data, starts, index, blocks)
        unused = _unused_dimension_blocks(data, starts, index, blocks, named)
        out += data[:tables.start]
        _copy_section(data, starts, index, tables, out, b"BLOCK_RECORD", unused, gone)
        out += data[tables.end:blocks.start]
        _copy_section(data, starts, index, blocks, out, b"BLOCK", unused, gone)
        out += data[blocks.end:entities.start]
    else:
        out += data[:entities.start]
    out += data[entities.start:starts[index[entities.start] + 1][0]]
    for a, b in keep:
        out += data[a:b]
    objects = sections.get(b"OBJECTS")
    if objects is not None and objects.start > entities.end:
        out += data[entities.end:objects.start]
        _copy_objects(data, starts, index, objects, out, gone - {b""})
        out += data[objects.end:]
    else:
        out += data[entities.end:]
    return out, unused


def _inserted_in_blocks(data: bytes, starts: _Starts, index: _Index,
                        blocks: _Section) -> set[bytes]:
    """The block names inserts and dimensions inside block definitions use."""
    names = set()
    for i in range(index[blocks.start] + 1, index[blocks.end]):
        if starts[i][1] in _NAMED:
            name = _value(data[starts[i][0]:starts[i + 1][0]], b"2")
            if name is not None:
                names.add(name.strip().upper())
    return names


def _unused_dimension_blocks(data: bytes, starts: _Starts,
                             index: _Index, blocks: _Section,
                             named: set[bytes]) -> set[bytes]:
    """The anonymous dimension blocks (``*D...``) no entity kept names."""
    out = set()
    for i in range(index[blocks.start] + 1, index[blocks.end]):
        if starts[i][1] == b"BLOCK":
            name = (_value(data[starts[i][0]:starts[i + 1][0]], b"2") or b"").strip().upper()
            if name.startswith(b"*D") and name not in named:
                out.add(name)
    return out


def _copy_section(data: bytes, starts: _Starts, index: _Index,
                  section: _Section, out: bytearray, kind: bytes, leave_out: set[bytes],
                  gone: set[bytes]) -> None:
    """Append ``section`` to ``out`` without the ``kind`` entries (a BLOCK_RECORD, or a BLOCK
    with everything up to its ENDBLK) named in ``leave_out``; their handles go to ``gone``."""
    first = index[section.start]
    out += data[section.start:starts[first + 1][0]]
    skipping = False
    for i in range(first + 1, index[section.end]):
        here = starts[i][1]
        body = data[starts[i][0]:starts[i + 1][0]]
        if here == kind:
            skipping = (_value(body, b"2") or b"").strip().upper() in leave_out
        elif kind == b"BLOCK_RECORD":
            skipping = False  # another table's entry, or the end of the table
        if not skipping:
            out += body
        else:
            gone.add(_handle(body) or b"")
        if here == b"ENDBLK":
            skipping = False  # a block left out ends with its ENDBLK


def _copy_objects(data: bytes, starts: _Starts, index: _Index,
                  objects: _Section, out: bytearray, gone: set[bytes]) -> None:
    """Append the OBJECTS section to ``out`` without the objects owned, directly or through
    other objects, by something left out (an extension dictionary of a wall line and its
    records): the auditor would delete them as orphans and report the file as damaged."""
    first = index[objects.start]
    spans = [(starts[i][0], starts[i + 1][0]) for i in range(first + 1, index[objects.end])]
    owned: dict[bytes, list[int]] = {}  # owner handle -> objects it owns (their indices)
    handles: list[bytes | None] = []
    for k, (a, b) in enumerate(spans):
        body = data[a:b]
        handles.append(_handle(body))
        owner = _owner(body)
        if owner is not None:
            owned.setdefault(owner, []).append(k)
    left_out: set[int] = set()
    todo = [h for h in gone if h in owned]
    while todo:
        for k in owned.get(todo.pop(), []):
            if k not in left_out:
                left_out.add(k)
                handle = handles[k]
                if handle is not None and handle in owned:
                    todo.append(handle)
    out += data[objects.start:starts[first + 1][0]]
    for k, (a, b) in enumerate(spans):
        if k not in left_out:
            out += data[a:b]


_NEST_DEPTH = 4  # as deep as the floor-plan walk expands blocks (importers.dxf_walk)


@dataclass
class _Block:
    layers: set[str] = field(default_factory=set)  # layers its own entities are on
    inserts: list[tuple[bytes, str]] = field(default_factory=list)  # (block name, layer)


def _block_contents(data: bytes, starts: _Starts, index: _Index,
                    blocks: _Section | None) -> dict[bytes, _Block]:
    """What each block definition draws on which layer, and which blocks it inserts."""
    out: dict[bytes, _Block] = {}
    if blocks is None:
        return out
    current: _Block | None = None
    for i in range(index[blocks.start] + 1, index[blocks.end]):
        kind = starts[i][1]
        if kind in _FOLLOWERS:
            continue
        body = data[starts[i][0]:starts[i + 1][0]]
        if kind == b"BLOCK":
            name = (_value(body, b"2") or b"").strip().upper()
            # a dimension's block is inserted by its dimension, not by inserts: not looked
            # into (an insert of one is kept, as an unknown block is)
            current = None if name.startswith(b"*D") else out.setdefault(name, _Block())
        elif kind == b"ENDBLK":
            current = None
        elif current is not None:
            layer = _layer(body)
            current.layers.add(layer)
            if kind == b"INSERT":
                current.inserts.append(((_value(body, b"2") or b"").strip().upper(), layer))
    return out


class _Relevance:
    """Whether a block inserted on a layer draws anything on the layers read (or might:
    anything unsure counts as yes), nested blocks included, layer 0 taking the insert's."""

    def __init__(self, blocks: dict[bytes, _Block], wanted: frozenset[str]) -> None:
        self._blocks = blocks
        self._wanted = wanted
        self._known: dict[tuple[bytes, str], bool] = {}

    def __call__(self, name: bytes, layer: str, depth: int, chain: tuple[bytes, ...]) -> bool:
        key = (name, layer)
        if key not in self._known:
            self._known[key] = self._draws(name, layer, depth, chain)
        return self._known[key]

    def _draws(self, name: bytes, layer: str, depth: int, chain: tuple[bytes, ...]) -> bool:
        from importers.dxf_vertical import block_kind

        block = self._blocks.get(name)
        if block is None or name in chain or depth >= _NEST_DEPTH:
            return True  # undefined, inside itself, or deeper than we look: keep it
        effective = {layer if own == "0" else own for own in block.layers}
        if effective & self._wanted or "\ufffd" in effective:
            return True
        for inner, own in block.inserts:
            try:
                stair_or_lift = bool(block_kind(inner.decode("utf-8")))
            except UnicodeDecodeError:
                return True
            if stair_or_lift or self(inner, layer if own == "0" else own, depth + 1,
                                     (*chain, name)):
                return True
        return False
