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

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

Pairs = list[list[str]]  # [group code, value] as written (whitespace kept)

ENTITY_NAMES = ("LINE", "LWPOLYLINE", "POLYLINE", "VERTEX", "SEQEND", "INSERT", "TEXT",
                "MTEXT", "CIRCLE", "ARC", "HATCH", "SPLINE", "ATTRIB", "BLOCK", "ENDBLK",
                "DIMENSION", "XLINE", "NOT_AN_ENTITY", "")
BAD_NUMBERS = ("nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e300", "1e-320", "0", "-0",
               "99999999999999999999999", "1e20", "-1e12", "abc", "")
BAD_BULGES = ("1e6", "1e12", "1e300", "-1e9", "3.5e4", "inf", "nan", "-1e308", "1e-300")
BAD_COUNTS = ("32767", "30000", "10000", "1000", "-5", "0", "2147483647")
OUR_LAYERS = ("A-AREA", "A-AREA-IDEN", "A-DOOR", "A-FLOR-OTLN", "0")


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
              if any(p[1].strip() in OUR_LAYERS[:4] for p in pairs[s:_entity_end(pairs, s)])]
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
    layer = rng.choice(OUR_LAYERS)
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
        pairs[eb:eb] = _insert(f"FAN{depth}", rng.choice(OUR_LAYERS[:3]), _new_handle(rng))
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
    layer = rng.choice(OUR_LAYERS)
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


DXF_MUTATORS: tuple[Callable[[random.Random, Pairs], str], ...] = (
    flip_entity_name, delete_group_code, inject_number, inject_number, inject_many_numbers,
    huge_bulge, truncate, self_insert, minsert, insert_scale, fan_out, duplicate_block,
    duplicate_entity, move_layer, move_layer, insunits, garble_value, huge_text,
)


def mutate_dxf(rng: random.Random, text: str) -> tuple[str, list[str]]:
    """The DXF with one to three mutations, and what they were."""
    pairs = parse_pairs(text)
    done = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        mutator = rng.choice(DXF_MUTATORS)
        done.append(f"{mutator.__name__}: {mutator(rng, pairs)}")
        if not pairs:
            break
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


def make_mutant(rng: random.Random, files: dict[str, bytes]) -> Mutant:
    """Mutate one of the sample's DXFs (three times in four) or its manifest."""
    dxfs = sorted(n for n in files if n.lower().endswith(".dxf"))
    if dxfs and rng.random() < 0.75:
        target = rng.choice(dxfs)
        text, done = mutate_dxf(rng, files[target].decode("utf-8", "surrogateescape"))
        return Mutant(target, text.encode("utf-8", "surrogateescape"), tuple(done))
    text, done = mutate_manifest(rng, files["campus.toml"].decode("utf-8"))
    return Mutant("campus.toml", text.encode("utf-8", "surrogateescape"), tuple(done))
