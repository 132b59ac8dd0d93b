"""Mutators: what a careless export, a damaged upload or an attacker does to a campus's files.

A DXF is read as its (group code, value) pairs, so a mutation can flip an entity's name, drop
a group code, put ``nan`` or ``1e308`` where a number goes, make a bulge absurd, cut the file
short, make a block insert itself, turn a door into a million-copy MINSERT array or nest blocks
so they fan out into millions of entities. A manifest is mutated as TOML text: numbers become
``nan``, ``inf``, ``1e300``; lines vanish, repeat or gain keys.

Every mutator takes a seeded :class:`random.Random`, so a run is reproducible from its seed, and
returns a short description of what it did (kept with a saved regression fixture).
"""

from __future__ import annotations

import io
import random
import re
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Pairs = list[list[str]]  # [group code, value] as written (whitespace kept)

ENTITY_NAMES = ("LINE", "LWPOLYLINE", "POLYLINE", "VERTEX", "SEQEND", "INSERT", "TEXT",
                "MTEXT", "CIRCLE", "ARC", "HATCH", "SPLINE", "ATTRIB", "BLOCK", "ENDBLK",
                "DIMENSION", "XLINE", "NOT_AN_ENTITY", "")
BAD_NUMBERS = ("nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e300", "1e-320", "0", "-0",
               "99999999999999999999999", "1e20", "-1e12", "abc", "")
BAD_BULGES = ("1e6", "1e12", "1e300", "-1e9", "3.5e4", "inf", "nan", "-1e308", "1e-300")
BAD_COUNTS = ("32767", "30000", "10000", "1000", "-5", "0", "2147483647")
OUR_LAYERS = ("A-AREA", "A-AREA-IDEN", "A-DOOR", "A-FLOR-OTLN", "0")
#: the layers the drawing being mutated is read on (rooms, labels, doors, outline first)
_layers: list[str] = list(OUR_LAYERS)


def is_float_code(code: int) -> bool:
    return 10 <= code <= 59 or 110 <= code <= 149 or 210 <= code <= 239 or 1010 <= code <= 1059


def parse_pairs(text: str) -> Pairs:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 2:
        lines.append("")
    return [[lines[i], lines[i + 1]] for i in range(0, len(lines), 2)]


def dump_pairs(pairs: Pairs) -> str:
    return "".join(f"{c}\n{v}\n" for c, v in pairs)


def _code(pair: list[str]) -> int | None:
    try:
        return int(pair[0].strip())
    except ValueError:
        return None


def _section(pairs: Pairs, name: str) -> tuple[int, int]:
    """Index range of a section's content (0 if absent)."""
    for i in range(len(pairs) - 1):
        if pairs[i][1].strip() == "SECTION" and pairs[i + 1][1].strip() == name:
            for j in range(i + 2, len(pairs)):
                if _code(pairs[j]) == 0 and pairs[j][1].strip() == "ENDSEC":
                    return i + 2, j
    return 0, 0


def _drawing_part(pairs: Pairs) -> list[int]:
    """Indexes of pairs in the BLOCKS and ENTITIES sections (where floor plans live)."""
    out: list[int] = []
    for name in ("BLOCKS", "ENTITIES"):
        a, b = _section(pairs, name)
        out.extend(range(a, b))
    return out or list(range(len(pairs)))


def _entity_starts(pairs: Pairs, kinds: tuple[str, ...] | None = None,
                   section: str = "ENTITIES") -> list[int]:
    a, b = _section(pairs, section)
    return [i for i in range(a, b) if _code(pairs[i]) == 0
            and (kinds is None or pairs[i][1].strip() in kinds)]


def _entity_end(pairs: Pairs, start: int) -> int:
    for j in range(start + 1, len(pairs)):
        if _code(pairs[j]) == 0:
            return j
    return len(pairs)


# --- DXF mutators -----------------------------------------------------------------------------


def flip_entity_name(rng: random.Random, pairs: Pairs) -> str:
    idx = [i for i in _drawing_part(pairs) if _code(pairs[i]) == 0]
    if not idx:
        return "no entity"
    i = rng.choice(idx)
    old, new = pairs[i][1].strip(), rng.choice(ENTITY_NAMES)
    pairs[i][1] = new
    return f"entity {i}: {old} -> {new or '(empty)'}"


def delete_group_code(rng: random.Random, pairs: Pairs) -> str:
    idx = [i for i in _drawing_part(pairs) if _code(pairs[i]) != 0]
    if not idx:
        return "nothing to delete"
    i = rng.choice(idx)
    gone = pairs.pop(i)
    return f"deleted group code {gone[0].strip()} ({gone[1].strip()[:20]}) at {i}"


def inject_number(rng: random.Random, pairs: Pairs) -> str:
    idx = [i for i in _drawing_part(pairs)
           if (c := _code(pairs[i])) is not None and is_float_code(c)]
    if not idx:
        return "no number"
    i = rng.choice(idx)
    value = rng.choice(BAD_NUMBERS)
    pairs[i][1] = value
    return f"group code {pairs[i][0].strip()} at {i} = {value!r}"


def inject_many_numbers(rng: random.Random, pairs: Pairs) -> str:
    """One bad number in every vertex of one entity on a layer we read."""
    starts = [s for s in _entity_starts(pairs)
              if any(p[1].strip() in _layers[:4] for p in pairs[s:_entity_end(pairs, s)])]
    if not starts:
        return "no entity on our layers"
    s = rng.choice(starts)
    value = rng.choice(BAD_NUMBERS[:7])
    code = rng.choice(("10", "20", "40", "41", "42", "50"))
    n = 0
    for j in range(s, _entity_end(pairs, s)):
        if pairs[j][0].strip() == code:
            pairs[j][1] = value
            n += 1
    return f"{pairs[s][1].strip()} at {s}: every group code {code} = {value!r} ({n})"


def huge_bulge(rng: random.Random, pairs: Pairs) -> str:
    starts = _entity_starts(pairs, ("LWPOLYLINE",))
    if not starts:
        return "no polyline"
    s = rng.choice(starts)
    verts = [j for j in range(s, _entity_end(pairs, s)) if pairs[j][0].strip() == "20"]
    if not verts:
        return "no vertex"
    j = rng.choice(verts)
    value = rng.choice(BAD_BULGES)
    if j + 1 < len(pairs) and pairs[j + 1][0].strip() == "42":
        pairs[j + 1][1] = value
    else:
        pairs.insert(j + 1, [" 42", value])
    return f"LWPOLYLINE at {s}: bulge {value} after vertex pair {j}"


def truncate(rng: random.Random, pairs: Pairs) -> str:
    keep = rng.randint(1, len(pairs) - 1)
    del pairs[keep:]
    if rng.random() < 0.3:
        pairs[-1][1] = pairs[-1][1][: rng.randint(0, len(pairs[-1][1]))]
    return f"truncated to {keep} pairs"


def _new_handle(rng: random.Random) -> str:
    return f"{rng.randint(0xF0000, 0xFFFFF):X}"


def _insert(name: str, layer: str, handle: str, extra: Pairs | None = None) -> Pairs:
    out = [["  0", "INSERT"], ["  5", handle], ["100", "AcDbEntity"], ["  8", layer],
           ["100", "AcDbBlockReference"], ["  2", name]]
    out += extra or []
    out += [[" 10", "0.0"], [" 20", "0.0"], [" 30", "0.0"]]
    return out


def _block_names(pairs: Pairs) -> list[tuple[int, str]]:
    """(index of the BLOCK pair, name) for every block definition not a layout's."""
    out = []
    for s in _entity_starts(pairs, ("BLOCK",), "BLOCKS"):
        for j in range(s, _entity_end(pairs, s)):
            if pairs[j][0].strip() == "2":
                name = pairs[j][1].strip()
                if not name.startswith("*"):
                    out.append((s, name))
                break
    return out


def self_insert(rng: random.Random, pairs: Pairs) -> str:
    """A block that inserts itself (directly, or through a second block)."""
    blocks = _block_names(pairs)
    if not blocks:
        return "no block"
    s, name = rng.choice(blocks)
    end = _entity_end(pairs, s)
    layer = rng.choice(_layers)
    if len(blocks) > 1 and rng.random() < 0.5:
        s2, other = rng.choice([b for b in blocks if b[1] != name])
        pairs[end:end] = _insert(other, layer, _new_handle(rng))
        end2 = _entity_end(pairs, s2 if s2 < end else s2 + 10)
        pairs[end2:end2] = _insert(name, layer, _new_handle(rng))
        return f"block {name!r} inserts {other!r}, which inserts {name!r}"
    pairs[end:end] = _insert(name, layer, _new_handle(rng))
    return f"block {name!r} inserts itself (layer {layer})"


def minsert(rng: random.Random, pairs: Pairs) -> str:
    """An INSERT becomes a MINSERT array with huge row and column counts."""
    starts = _entity_starts(pairs, ("INSERT",))
    if not starts:
        return "no insert"
    s = rng.choice(starts)
    cols, rows = rng.choice(BAD_COUNTS), rng.choice(BAD_COUNTS)
    end = _entity_end(pairs, s)
    pairs[end:end] = [[" 70", cols], [" 71", rows], [" 44", rng.choice(("1.0", "0", "nan"))],
                      [" 45", rng.choice(("1.0", "1e-9", "inf"))]]
    return f"INSERT at {s}: MINSERT {cols} x {rows}"


def insert_scale(rng: random.Random, pairs: Pairs) -> str:
    starts = _entity_starts(pairs, ("INSERT",))
    if not starts:
        return "no insert"
    s = rng.choice(starts)
    value = rng.choice(("nan", "inf", "0", "1e300", "-1e300", "1e-300"))
    code = rng.choice((" 41", " 42", " 43", " 50"))
    end = _entity_end(pairs, s)
    pairs[end:end] = [[code, value]]
    return f"INSERT at {s}: group code {code.strip()} = {value}"


def fan_out(rng: random.Random, pairs: Pairs) -> str:
    """Blocks nested ``depth`` deep, each inserting the one below ``k`` times: k**depth
    copies of a room outline, inserted on the rooms layer."""
    _, b = _section(pairs, "BLOCKS")
    if not b:
        return "no BLOCKS section"
    k, depth = rng.randint(5, 60), rng.randint(2, 4)
    new: Pairs = []
    for level in range(depth + 1):
        name = f"FAN{level}"
        new += [["  0", "BLOCK"], ["  5", _new_handle(rng)], ["100", "AcDbEntity"],
                ["  8", "0"], ["100", "AcDbBlockBegin"], ["  2", name], [" 70", "0"],
                [" 10", "0.0"], [" 20", "0.0"], [" 30", "0.0"], ["  3", name]]
        if level == 0:
            new += [["  0", "LWPOLYLINE"], ["  5", _new_handle(rng)], ["100", "AcDbEntity"],
                    ["  8", "0"], ["100", "AcDbPolyline"], [" 90", "4"], [" 70", "1"],
                    [" 10", "0.0"], [" 20", "0.0"], [" 10", "10.0"], [" 20", "0.0"],
                    [" 10", "10.0"], [" 20", "10.0"], [" 10", "0.0"], [" 20", "10.0"]]
        else:
            for _ in range(k):
                new += _insert(f"FAN{level - 1}", "0", _new_handle(rng))
        new += [["  0", "ENDBLK"], ["  5", _new_handle(rng)], ["100", "AcDbEntity"],
                ["  8", "0"], ["100", "AcDbBlockEnd"]]
    pairs[b:b] = new
    _, eb = _section(pairs, "ENTITIES")
    if eb:
        pairs[eb:eb] = _insert(f"FAN{depth}", rng.choice(_layers[:3]), _new_handle(rng))
    return f"blocks fan out {k}**{depth} = {k ** depth:,} outlines"


def duplicate_block(rng: random.Random, pairs: Pairs) -> str:
    blocks = _block_names(pairs)
    if not blocks:
        return "no block"
    s, name = rng.choice(blocks)
    end = s
    while end < len(pairs) and pairs[end][1].strip() != "ENDBLK":
        end = _entity_end(pairs, end)
    end = _entity_end(pairs, end) if end < len(pairs) else end
    pairs[end:end] = [list(p) for p in pairs[s:end]]
    return f"block {name!r} defined twice"


def duplicate_entity(rng: random.Random, pairs: Pairs) -> str:
    starts = _entity_starts(pairs)
    if not starts:
        return "no entity"
    s = rng.choice(starts)
    end = _entity_end(pairs, s)
    pairs[end:end] = [list(p) for p in pairs[s:end]]
    return f"entity at {s} ({pairs[s][1].strip()}) duplicated, same handle"


def move_layer(rng: random.Random, pairs: Pairs) -> str:
    idx = [i for i in _drawing_part(pairs) if _code(pairs[i]) == 8]
    if not idx:
        return "no layer"
    i = rng.choice(idx)
    layer = rng.choice(_layers)
    pairs[i][1] = layer
    return f"layer at {i} -> {layer}"


def insunits(rng: random.Random, pairs: Pairs) -> str:
    for i, p in enumerate(pairs[:-1]):
        if p[1].strip() == "$INSUNITS":
            value = rng.choice(("0", "3", "-1", "99", "nan", "7", "21", "1e9", ""))
            pairs[i + 1][1] = value
            return f"$INSUNITS = {value!r}"
    return "no $INSUNITS"


def garble_value(rng: random.Random, pairs: Pairs) -> str:
    i = rng.choice(_drawing_part(pairs))
    value = rng.choice(("", "\x00", "é" * 5, "-", "1" * 400, "0x10", " 1 2 ", "\\P" * 50,
                        "%%c%%d%%p", "{\\fArial|b1;x}"))
    pairs[i][1] = value
    return f"value at {i} (code {pairs[i][0].strip()}) -> {value[:20]!r}"


def huge_text(rng: random.Random, pairs: Pairs) -> str:
    idx = [i for i in _drawing_part(pairs) if _code(pairs[i]) in (1, 3)]
    if not idx:
        return "no text"
    i = rng.choice(idx)
    pairs[i][1] = rng.choice(("\\P", "214 ", "A", "x\\Py")) * rng.choice((250, 2000, 20000))
    return f"text at {i} made {len(pairs[i][1]):,} characters"


def hatch_counts(rng: random.Random, pairs: Pairs) -> str:
    """A HATCH's path, edge or vertex count lies (or its edge type is unknown)."""
    starts = _entity_starts(pairs, ("HATCH",)) + _entity_starts(pairs, ("HATCH",), "BLOCKS")
    if not starts:
        return "no hatch"
    s = rng.choice(starts)
    idx = [j for j in range(s, _entity_end(pairs, s))
           if pairs[j][0].strip() in ("91", "92", "93", "72", "73", "98")]
    if not idx:
        return f"HATCH at {s}: no counts"
    j = rng.choice(idx)
    value = rng.choice((*BAD_COUNTS, "5", "99", "nan"))
    pairs[j][1] = value
    return f"HATCH at {s}: group code {pairs[j][0].strip()} = {value}"


def arc_values(rng: random.Random, pairs: Pairs) -> str:
    """An ARC or CIRCLE (a door swing) with an absurd radius or angle."""
    starts = _entity_starts(pairs, ("ARC", "CIRCLE")) + _entity_starts(
        pairs, ("ARC", "CIRCLE"), "BLOCKS")
    if not starts:
        return "no arc"
    s = rng.choice(starts)
    idx = [j for j in range(s, _entity_end(pairs, s))
           if pairs[j][0].strip() in ("40", "50", "51", "230")]
    if not idx:
        return f"arc at {s}: no radius"
    j = rng.choice(idx)
    value = rng.choice((*BAD_NUMBERS, "1e-12", "720", "-360", "1e15"))
    pairs[j][1] = value
    return f"{pairs[s][1].strip()} at {s}: group code {pairs[j][0].strip()} = {value!r}"


def strip_sections(rng: random.Random, pairs: Pairs) -> str:
    """The HEADER (or HEADER, TABLES and OBJECTS) cut out: a headerless file."""
    names = ["HEADER"] if rng.random() < 0.5 else ["HEADER", "CLASSES", "TABLES", "OBJECTS"]
    gone = []
    for name in names:
        a, b = _section(pairs, name)
        if b:
            del pairs[a - 2:b + 1]
            gone.append(name)
    return f"sections removed: {', '.join(gone) or 'none'}"


def header_value(rng: random.Random, pairs: Pairs) -> str:
    """$DWGCODEPAGE, $ACADVER or $INSUNITS set to something odd."""
    var = rng.choice(("$DWGCODEPAGE", "$ACADVER", "$INSUNITS", "$MEASUREMENT"))
    for i, p in enumerate(pairs[:-1]):
        if p[1].strip() == var:
            value = rng.choice(("ANSI_1252", "ANSI_932", "ANSI_99999", "UTF-8", "", "dos437",
                                "AC1009", "AC1015", "AC1032", "AC9999", "-1", "1e9"))
            pairs[i + 1][1] = value
            return f"{var} = {value!r}"
    return f"no {var}"


def objects_number(rng: random.Random, pairs: Pairs) -> str:
    """A number or count in the OBJECTS section (GEODATA's points, scales, mesh) goes bad."""
    a, b = _section(pairs, "OBJECTS")
    geo = [i for i in range(a, b) if _code(pairs[i]) == 0 and pairs[i][1].strip() == "GEODATA"]
    if geo:
        a, b = geo[0], _entity_end(pairs, geo[0])
    idx = [i for i in range(a, b) if (c := _code(pairs[i])) is not None
           and (is_float_code(c) or 90 <= c <= 99 or c in (70, 303))]
    if not idx:
        return "no number in OBJECTS"
    i = rng.choice(idx)
    c = _code(pairs[i]) or 0
    value = rng.choice(BAD_NUMBERS if is_float_code(c) else (*BAD_COUNTS, "<x/>", ""))
    pairs[i][1] = value
    return f"{'GEODATA' if geo else 'OBJECTS'} group code {c} at {i} = {value!r}"


def dwg_magic(rng: random.Random, pairs: Pairs) -> str:
    """The file starts like a DWG (what a renamed .dwg looks like)."""
    pairs[0][0] = rng.choice(("AC1032", "AC1027", "AC1018", "AC1015")) + "\x00\x00\x00"
    return f"starts {pairs[0][0][:6]}"


DXF_MUTATORS: tuple[Callable[[random.Random, Pairs], str], ...] = (
    flip_entity_name, delete_group_code, inject_number, inject_number, inject_many_numbers,
    huge_bulge, truncate, self_insert, minsert, insert_scale, fan_out, duplicate_block,
    duplicate_entity, move_layer, move_layer, insunits, garble_value, huge_text,
    hatch_counts, arc_values, arc_values, strip_sections, header_value, objects_number,
    objects_number, dwg_magic,
)


def mutate_dxf(rng: random.Random, text: str, layers: tuple[str, ...] = OUR_LAYERS,
               ) -> tuple[str, list[str]]:
    """The DXF with one to three mutations, and what they were; ``layers``: the layers the
    drawing is read on (rooms, labels, doors, outline first), where mutations aim."""
    pairs = parse_pairs(text)
    done = []
    _layers[:] = layers
    try:
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            mutator = rng.choice(DXF_MUTATORS)
            done.append(f"{mutator.__name__}: {mutator(rng, pairs)}")
            if not pairs:
                break
    finally:
        _layers[:] = OUR_LAYERS
    return dump_pairs(pairs), done


# --- manifest mutators ------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"(?<![\w.\"-])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.\"])")
MANIFEST_NUMBERS = ("nan", "inf", "-inf", "+inf", "1e300", "-1e300", "0", "-1", "1e9",
                    "1000000", "999999999999999999999", "0.0", "1e-300", "702", "999", "200")
MANIFEST_KEYS = ("columns = 1000000", "rows = 999", "columns = 702", "columns = 201",
                 "origin = [nan, 0.0]", "origin = [-84.43, 42.70]", "margin_cells = 1000000000",
                 "cell_size = 1e300", "cell_size = 1e-9", "units = \"mm\"", "units = \"in\"",
                 "exterior_distance_m = inf", "allow_renumber = true", "transform = \"affine\"",
                 "max_rms_m = 1e300", "max_scale_deviation = 100.0",
                 "control_points = [{ cad = [nan, 0], lonlat = [0, 0] }]", "level = 99",
                 "doors = \"A-AREA\"", "rooms = \"A-DOOR\"", "dxf = \"parcel.geojson\"",
                 "dxf = \"campus.toml\"", "pois = \"A_level1.dxf\"", "parcel = \"pois.csv\"")


def mutate_manifest(rng: random.Random, text: str) -> tuple[str, list[str]]:
    lines = text.split("\n")
    done = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        op = rng.randrange(6)
        if op <= 1:
            hits = [(i, m) for i, ln in enumerate(lines) if not ln.lstrip().startswith("#")
                    for m in _NUMBER_RE.finditer(ln)]
            if not hits:
                continue
            i, m = rng.choice(hits)
            value = rng.choice(MANIFEST_NUMBERS)
            lines[i] = lines[i][: m.start()] + value + lines[i][m.end():]
            done.append(f"line {i + 1}: {m.group()} -> {value}")
        elif op == 2:
            i = rng.randrange(len(lines))
            done.append(f"deleted line {i + 1}: {lines.pop(i)[:40]!r}")
        elif op == 3:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            done.append(f"repeated line {i + 1}")
        elif op == 4:
            sections = [i for i, ln in enumerate(lines) if ln.startswith("[")]
            i = rng.choice(sections) if sections else 0
            key = rng.choice(MANIFEST_KEYS)
            lines.insert(i + 1, key)
            done.append(f"after line {i + 1}: {key}")
        else:
            i = rng.randrange(len(lines))
            cut = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:cut]
            done.append(f"line {i + 1} cut at {cut}")
    return "\n".join(lines), done


@dataclass(frozen=True)
class Mutant:
    """One fuzz input: which sample file it replaces, its bytes, what was done to it."""

    target: str
    data: bytes
    mutations: tuple[str, ...]
    #: the sample it belongs to (see :mod:`fuzz.targets`)
    sample: str = "lincoln_ridge"


def make_mutant(rng: random.Random, files: dict[str, bytes]) -> Mutant:
    """Mutate one of the sample's DXFs (three times in four) or its manifest."""
    dxfs = sorted(n for n in files if n.lower().endswith(".dxf"))
    if dxfs and rng.random() < 0.75:
        target = rng.choice(dxfs)
        text, done = mutate_dxf(rng, files[target].decode("utf-8", "surrogateescape"))
        return Mutant(target, text.encode("utf-8", "surrogateescape"), tuple(done))
    text, done = mutate_manifest(rng, files["campus.toml"].decode("utf-8"))
    return Mutant("campus.toml", text.encode("utf-8", "surrogateescape"), tuple(done))


# --- OpenStreetMap XML mutators ---------------------------------------------------------------
#
# An .osm file is mutated as text, a line at a time (the writers put one element a line):
# coordinates become nan or 1e308, ids dangle, repeat or point at themselves, level tags
# become absurd ranges, rings open, ways swell to thousands of nodes, entities are declared
# (a billion laughs), the file is cut short or loses a closing tag.

_ATTR_RE = re.compile(r'\b(lat|lon|id|ref|v|k|type|role)="([^"]*)"')
OSM_COORDS = ("nan", "NaN", "inf", "-inf", "1e308", "-1e308", "91", "-181", "400", "", "0",
              "42.7011095600000000000000000000001", "4.27e1", "0x2a", " 42.7", "1,5")
OSM_IDS = ("0", "-1", "1", "99999999999999999999999", "1e3", "abc", "", "1001", "2001",
           "-9223372036854775809")
OSM_LEVELS = ("0;1", "-1;0;1;2", "0-3", "-5--1", "0-1000000", "1e9", "nan", ";", "0;;1",
              "0.5", "-0", "1-0", "a", "0;1-3;7", "99999999999", "0-", "-", "2--1", " 1 ")
OSM_TAG_KEYS = ("indoor", "level", "repeat_on", "ref", "name", "building", "door",
                "entrance", "level:ref", "building:levels", "amenity", "emergency", "type")
OSM_TAG_VALUES = ("room", "corridor", "area", "level", "wall", "door", "yes", "no",
                  "multipolygon", "building", "defibrillator", "main", "", "x" * 5000,
                  "\u202e214", "&amp;&lt;&gt;", "0", "-1;1")
OSM_BOMB = ('<!DOCTYPE osm [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>')


def _osm_lines(lines: list[str], *needles: str) -> list[int]:
    return [i for i, ln in enumerate(lines) if any(n in ln for n in needles)]


def _set_attr(line: str, attr: str, value: str) -> str:
    return re.sub(rf'\b{attr}="[^"]*"', f'{attr}="{value}"', line, count=1)


def osm_coordinate(rng: random.Random, lines: list[str]) -> str:
    idx = _osm_lines(lines, "lat=", "lon=")
    if not idx:
        return "no coordinate"
    i, attr, value = rng.choice(idx), rng.choice(("lat", "lon")), rng.choice(OSM_COORDS)
    lines[i] = _set_attr(lines[i], attr, value)
    return f"line {i + 1}: {attr}={value!r}"


def osm_reference(rng: random.Random, lines: list[str]) -> str:
    """A node, way or member id dangles, repeats another or names a relation itself."""
    idx = _osm_lines(lines, "<nd ", "<member ", "<node ", "<way ", "<relation ")
    if not idx:
        return "no id"
    i = rng.choice(idx)
    attr = "ref" if ("<nd " in lines[i] or "<member " in lines[i]) else "id"
    value = rng.choice(OSM_IDS)
    if attr == "ref" and rng.random() < 0.3:  # a relation that holds itself
        owner = next((j for j in range(i, -1, -1) if "<relation " in lines[j]), None)
        if owner is not None and (m := re.search(r'\bid="([^"]*)"', lines[owner])):
            value = m.group(1)
            lines[i] = _set_attr(lines[i], "type", "relation")
    lines[i] = _set_attr(lines[i], attr, value)
    return f"line {i + 1}: {attr}={value!r}"


def osm_level(rng: random.Random, lines: list[str]) -> str:
    idx = _osm_lines(lines, 'k="level"', 'k="repeat_on"', 'k="level:ref"', 'k="building:levels"')
    if not idx:
        return "no level tag"
    i, value = rng.choice(idx), rng.choice(OSM_LEVELS)
    lines[i] = _set_attr(lines[i], "v", value)
    return f"line {i + 1}: level value {value!r}"


def osm_tag(rng: random.Random, lines: list[str]) -> str:
    """A tag changes key or value, or a new one joins an element."""
    idx = _osm_lines(lines, "<tag ")
    if not idx:
        return "no tag"
    i = rng.choice(idx)
    key, value = rng.choice(OSM_TAG_KEYS), rng.choice(OSM_TAG_VALUES)
    if rng.random() < 0.5:
        lines[i] = _set_attr(_set_attr(lines[i], "k", key), "v", value)
        return f"line {i + 1}: tag {key}={value[:20]!r}"
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines.insert(i, f'{indent}<tag k="{key}" v="{value}"/>')
    return f"line {i + 1}: added tag {key}={value[:20]!r}"


def osm_drop_line(rng: random.Random, lines: list[str]) -> str:
    """A node, a way's node, a tag or a closing tag goes missing."""
    i = rng.randrange(len(lines))
    gone = lines.pop(i)
    return f"deleted line {i + 1}: {gone.strip()[:40]!r}"


def osm_repeat(rng: random.Random, lines: list[str]) -> str:
    """A way's node list swells (thousands of the same node) or an element repeats."""
    idx = _osm_lines(lines, "<nd ")
    if idx and rng.random() < 0.6:
        i, n = rng.choice(idx), rng.choice((2, 50, 5000, 60000))
        lines[i:i + 1] = [lines[i]] * n
        return f"line {i + 1}: way node repeated {n} times"
    i = rng.randrange(len(lines))
    lines.insert(i, lines[i])
    return f"repeated line {i + 1}"


def osm_open_ring(rng: random.Random, lines: list[str]) -> str:
    """A closed way loses its closing node (or its nodes reverse, or it has two)."""
    ways = _osm_lines(lines, "<way ")
    if not ways:
        return "no way"
    w = rng.choice(ways)
    nds = []
    for j in range(w + 1, len(lines)):
        if "</way>" in lines[j]:
            break
        if "<nd " in lines[j]:
            nds.append(j)
    if len(nds) < 2:
        return f"way at line {w + 1} has no nodes"
    choice = rng.randrange(3)
    if choice == 0:
        del lines[nds[-1]]
        return f"way at line {w + 1}: ring opened"
    if choice == 1:
        body = [lines[j] for j in nds]
        for j, text in zip(nds, reversed(body), strict=True):
            lines[j] = text
        return f"way at line {w + 1}: nodes reversed"
    for j in reversed(nds[2:]):
        del lines[j]
    return f"way at line {w + 1}: only two nodes"


def osm_structure(rng: random.Random, lines: list[str]) -> str:
    """What breaks the XML itself: cut short, entities, deep nesting, junk bytes."""
    choice = rng.randrange(6)
    if choice == 0:
        keep = rng.randrange(1, len(lines))
        del lines[keep:]
        return f"cut after line {keep}"
    if choice == 1:
        lines.insert(1, OSM_BOMB)
        at = rng.choice(_osm_lines(lines, "<tag ") or [2])
        lines[at] = _set_attr(lines[at], "v", "&c;")
        return "entities declared (a small billion laughs)"
    if choice == 2:
        depth = rng.choice((100, 5000, 50000))
        lines.insert(2, "<x>" * depth + "</x>" * depth)
        return f"elements nested {depth} deep"
    if choice == 3:
        i = rng.randrange(len(lines))
        lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)] + rng.choice(
            ("\x00", "\x01", "\udcff", "<", "&", "\"", "]]>", "<?xml?>"))
        return f"line {i + 1}: junk character"
    if choice == 4:
        lines.insert(1, '<!DOCTYPE osm SYSTEM "file:///etc/passwd">')
        return "external DTD"
    lines[0] = rng.choice(('<?xml version="1.0" encoding="UTF-16"?>',
                           '<?xml version="1.0" encoding="nope"?>', "", "\ufeff" + lines[0]))
    return f"XML declaration -> {lines[0][:30]!r}"


OSM_MUTATORS: tuple[Callable[[random.Random, list[str]], str], ...] = (
    osm_coordinate, osm_coordinate, osm_reference, osm_reference, osm_level, osm_level,
    osm_tag, osm_tag, osm_drop_line, osm_repeat, osm_open_ring, osm_structure,
)


def mutate_osm(rng: random.Random, text: str) -> tuple[str, list[str]]:
    """The OSM file with one to three mutations, and what they were."""
    lines = text.split("\n")
    done = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        if not lines:
            break
        mutator = rng.choice(OSM_MUTATORS)
        done.append(f"{mutator.__name__}: {mutator(rng, lines)}")
    return "\n".join(lines), done


# --- IMDF archive and zip mutators -----------------------------------------------------------
#
# An IMDF archive is a zip of GeoJSON files. A member's JSON is mutated as data (a value
# anywhere becomes the wrong type, nan, huge or deeply nested; a key vanishes; a feature
# repeats), or as bytes (cut, bad UTF-8); the zip itself loses, doubles or renames members,
# gains a traversal path, a link, a bomb or a zip inside, or has its bytes damaged.

JSON_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 1e308, -1e308, float("nan"), float("inf"), "", "x" * 10000, [], {},
    [[]], [None], {"en": None}, {"en": 5}, "not-a-uuid", "00000000-0000-0000-0000-000000000000",
    [1e308, 1e308], [float("nan"), 0.0], [[[0, 0], [0, 0], [0, 0], [0, 0]]], "Polygon",
    "MultiPolygon", "GeometryCollection", 2**64, "\u0000", {"type": "Point"},
)


def _json_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _json_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _json_paths(v, (*path, i))
    return out


def _json_get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


def _deep(depth: int) -> Any:
    node: Any = 0
    for _ in range(depth):
        node = [node]
    return node


def mutate_json(rng: random.Random, body: bytes) -> tuple[bytes, str]:
    """One mutation of a JSON document (or of its bytes when it is not JSON)."""
    import json

    try:
        data = json.loads(body)
    except ValueError:
        data = None
    choice = rng.randrange(10)
    if data is None or choice == 0:
        cut = rng.randrange(len(body) + 1)
        return body[:cut], f"cut at byte {cut}"
    if choice == 1:
        i = rng.randrange(len(body) + 1)
        return body[:i] + b"\xff\xfe" + body[i:], f"bad UTF-8 at byte {i}"
    paths = _json_paths(data)
    path = rng.choice(paths[1:] or paths)
    if choice <= 5 and path:
        parent = _json_get(data, path[:-1])
        value = rng.choice(JSON_VALUES) if rng.random() < 0.85 else _deep(rng.choice((50, 900)))
        parent[path[-1]] = value
        what = f"{'/'.join(map(str, path))} = {str(value)[:30]}"
    elif choice <= 7 and path:
        parent = _json_get(data, path[:-1])
        del parent[path[-1]]
        what = f"deleted {'/'.join(map(str, path))}"
    else:  # a feature (or any list item) repeated, same id
        lists = [p for p in paths if isinstance(_json_get(data, p), list) and _json_get(data, p)]
        if not lists:
            return body, "no list"
        at = rng.choice(lists)
        items = _json_get(data, at)
        n = rng.choice((1, 1, 500))
        items.extend([items[rng.randrange(len(items))]] * n)
        what = f"{'/'.join(map(str, at)) or '(top)'}: an item repeated {n} times"
    return json.dumps(data).encode(), what  # nan and inf written as NaN and Infinity


def _zip_members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def _write_zip(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is what some mutants are for
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for info, body in members:
                zf.writestr(info, body)
    return out.getvalue()


def _info(name: str, like: zipfile.ZipInfo | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 11, 30, 12, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    if like is not None:
        info.external_attr = like.external_attr
    return info


def zip_member_json(rng: random.Random, members: list[tuple[zipfile.ZipInfo, bytes]]) -> str:
    jsons = [k for k, (i, _) in enumerate(members) if i.filename.endswith(("json", ".geojson"))]
    if not jsons:
        return "no JSON member"
    k = rng.choice(jsons)
    info, body = members[k]
    new, what = mutate_json(rng, body)
    members[k] = (_info(info.filename, info), new)
    return f"{info.filename}: {what}"


def zip_structure(rng: random.Random, members: list[tuple[zipfile.ZipInfo, bytes]]) -> str:
    """Members vanish, repeat, move, become links, bombs or zips; names climb out."""
    if not members:
        return "no member"
    k = rng.randrange(len(members))
    info, body = members[k]
    choice = rng.randrange(9)
    if choice == 0:
        del members[k]
        return f"dropped {info.filename}"
    if choice == 1:
        members.append((_info(info.filename), body))
        return f"{info.filename} twice"
    if choice == 2:
        name = rng.choice(("../", "../../etc/", "/", "C:\\", "a/../../", "sub/", "SUB\\",
                           "__MACOSX/", "./", "x" * 250 + "/")) + info.filename
        members[k] = (_info(name, info), body)
        return f"{info.filename} renamed {name[:40]!r}"
    if choice == 3:
        name = info.filename.upper() if info.filename.upper() != info.filename else \
            info.filename.lower()
        members.append((_info(name), body))
        return f"{info.filename} also as {name!r}"
    if choice == 4:
        link = _info(info.filename)
        link.external_attr = (0o120777 << 16)
        members[k] = (link, rng.choice((b"/etc/passwd", b"../../x", body[:20])))
        return f"{info.filename} made a symbolic link"
    if choice == 5:
        size = rng.choice((1 << 20, 16 << 20, 64 << 20))
        members.append((_info(rng.choice(("bomb.geojson", info.filename + ".zeros"))),
                        bytes(size)))
        return f"a {size >> 20} MB member of zeros (compresses ~1000:1)"
    if choice == 6:
        inner = _write_zip([(_info(i.filename), b) for i, b in members])
        if rng.random() < 0.5:
            inner = _write_zip([(_info("inner.zip"), inner)])
        members.append((_info(rng.choice(("nested.zip", "venue.zip", "data"))), inner))
        return "the archive zipped inside itself"
    if choice == 7:
        dirinfo = _info(info.filename + "/")
        members.append((dirinfo, b""))
        return f"{info.filename} also a folder"
    n = rng.choice((200, 3000))
    members.extend((_info(f"f{j}.txt"), b"") for j in range(n))
    return f"{n} empty members added"


def zip_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Damage the zip's bytes: cut it, flip bytes (in the listing or anywhere), lie sizes."""
    choice = rng.randrange(4)
    if choice == 0:
        cut = rng.randrange(len(data))
        return data[:cut], f"cut at byte {cut} of {len(data)}"
    raw = bytearray(data)
    if choice == 1:
        at = data.rfind(b"PK\x01\x02")
        start = max(0, at if at >= 0 else 0)
        for _ in range(rng.choice((1, 4, 16))):
            raw[rng.randrange(start, len(raw))] = rng.randrange(256)
        return bytes(raw), "bytes flipped in the central directory"
    if choice == 2:
        for _ in range(rng.choice((1, 8, 64))):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw), "bytes flipped"
    # every central-directory entry declares a different uncompressed size
    pos, n = 0, 0
    value = rng.choice((0, 1, 0xFFFFFFFF, 0x7FFFFFFF))
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        raw[pos + 24:pos + 28] = struct.pack("<I", value)
        pos += 4
        n += 1
    return bytes(raw), f"{n} entries declare {value} bytes"


def mutate_zip(rng: random.Random, data: bytes, *, members_too: bool = True
               ) -> tuple[bytes, list[str]]:
    """The zip with one to three mutations of its members' JSON (``members_too``), its
    structure or its bytes, and what they were."""
    done: list[str] = []
    try:
        members = _zip_members(data)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        members = []
    damage = not members
    for _ in range(rng.choice((1, 1, 2, 3))):
        op = rng.random()
        if members and members_too and op < 0.55:
            done.append(f"zip_member_json: {zip_member_json(rng, members)}")
        elif members and op < 0.85:
            done.append(f"zip_structure: {zip_structure(rng, members)}")
        else:
            damage = True
    out = _write_zip(members) if members else data
    if damage:
        out, what = zip_bytes(rng, out)
        done.append(f"zip_bytes: {what}")
    return out, done
