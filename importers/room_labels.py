"""Room labels: where a label's text really lies, what it says, and which room it names.

An architect's room label is a TEXT or MTEXT entity (or the attributes of a room tag block,
or a MULTILEADER). Its insertion point alone says little about where the words are: MTEXT is
most often anchored at its top-left corner, so the insertion point can sit on a wall or just
outside the room. So each label is placed by the box its text covers (:func:`label_of`),
estimated from the character height, the number of characters and lines, the MTEXT
attachment point and defined width, the TEXT alignment and the rotation. The estimate uses an
average glyph width, not the font: it is deterministic and fast, and good to a fraction of a
character height. A label carried by a leader is placed at the leader's arrow tip
(:func:`follow_leaders`).

:func:`assign_labels` then gives each label to a room with a spatial index:

* the smallest room holding the centre of its text box, unless that room is plainly another's
  (a named corridor, a room another number names, an unnamed corridor the label straddles)
  and the label overlaps exactly one room still lacking a number: then that room;
* else, for a label outside every room outline, the one room it plainly belongs to: the only
  room its box overlaps by a meaningful fraction, or the only room within a short distance
  (derived from its text height), among rooms still lacking what the label gives (a number, or
  a name);
* else it is kept as a *label only* place: an approximate location with no outline; or, far
  from every room and outside any floor outline, reported as a note and ignored.

:func:`split_label` reads a label's text into a room number and a name, the way schools write
them (``214B``, ``E003bis``, ``B015 a``, ``A-214``, ``A2.14``, ``"B013\\nTechnologie
atelier"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from ezdxf.tools.text import plain_mtext
from shapely import STRtree
from shapely.geometry import Point, Polygon

# Average glyph advance per character height. CAD fonts differ (txt.shx ~0.8, romans ~0.7,
# Arial ~0.55); a middle value keeps the estimate within about a fifth of the real width.
CHAR_WIDTH = 0.65
# MTEXT baseline-to-baseline distance per character height at line spacing factor 1.
LINE_PITCH = 5.0 / 3.0
# A box overlapping a room by at least this share of its area is "in part in" that room.
MEANINGFUL_OVERLAP = 0.2
# A label outside every room but this close to one (metres, from its text height) may be it.
NEAR_PER_HEIGHT = 3.0
NEAR_MIN_M, NEAR_MAX_M = 0.5, 1.5
# A label farther than this from every room (and outside a drawn floor outline) is not a place
# in the building at all: a title block, a note, a stray.
FAR_M = 10.0
# A space at least this many times longer than wide is corridor-shaped.
CORRIDOR_ASPECT = 4.0
# A label less than this share inside its room straddles the room's wall.
STRADDLING = 0.75
# Name-only labels this close to a numbered label-only place (per text height) are its name.
SAME_PLACE_PER_HEIGHT = 1.5
# A room label's text is a few centimetres to a metre high and a few metres long; text this
# large (metres) is a title or a mistake, and would claim rooms it only spans.
MAX_LABEL_HEIGHT_M = 10.0
MAX_LABEL_SIZE_M = 500.0

_WORD = r"(?:[A-Z]|BIS|TER|QUATER)"
# "214", "101A", "B-12", "C-1", "A2.14", "G-104B", "A015", "E003BIS", "214-B", "1.2.014"
ROOM_NUMBER_RE = re.compile(
    rf"^(?:[A-Z]{{1,3}}[-.]?)?\d{{1,4}}(?:[.-]\d{{1,4}}){{0,2}}(?:-?{_WORD})?$"
)
_SUFFIX_RE = re.compile(rf"^{_WORD}$")
# words written before a number: "Room 214", "Rm. 12", "No 7", "#4"
_NUMBER_WORD_RE = re.compile(r"^(?:room|rm\.?|no\.?|nr\.?|#)$", re.I)
# a line break written out: MTEXT "\P" typed into a TEXT, or a literal backslash-n
_WRITTEN_BREAK_RE = re.compile(r"\\[PpNn]")


class UnplacedLabel(ValueError):
    """A label whose position or size is not a finite number."""


@dataclass(frozen=True)
class Label:
    """One label entity: its plain text (lines split by newlines) and the box its text covers.

    ``box`` and ``height`` are in drawing units until :meth:`scaled`.
    """

    handle: str
    text: str
    box: Polygon
    height: float

    def scaled(self, factor: float) -> Label:
        return scale_labels([self], factor)[0]

    @cached_property
    def reading(self) -> tuple[str, str]:
        """(room number, name) the text gives; see :func:`split_label`."""
        return split_label(self.text)

    @property
    def short(self) -> str:
        """The text on one line, as a warning quotes it."""
        return " / ".join(label_lines(self.text))


def scale_labels(labels: Sequence[Label], factor: float) -> list[Label]:
    """The labels with boxes and heights multiplied by ``factor`` (drawing units to metres)."""
    boxes = shapely.transform(np.array([lb.box for lb in labels], dtype=object),
                              lambda xy: xy * factor)
    return [Label(lb.handle, lb.text, b, lb.height * factor)
            for lb, b in zip(labels, boxes.tolist(), strict=True)]


@dataclass
class Assignment:
    """Where every label went.

    ``by_room``: room handle -> its labels; ``nearby``: (label, room handle, how) for labels
    outside every outline given to a room; ``label_only``: groups of labels kept as approximate
    places; ``far``: (label, metres to the nearest room) for labels ignored as not in the
    building.
    """

    by_room: dict[str, list[Label]]
    nearby: list[tuple[Label, str, str]] = field(default_factory=list)
    label_only: list[list[Label]] = field(default_factory=list)
    far: list[tuple[Label, float]] = field(default_factory=list)


# --- reading the text ------------------------------------------------------------------------


def label_lines(text: str) -> list[str]:
    """The text's non-empty lines, single-spaced; written-out breaks (``\\P``, ``\\n``) count."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\\~", " ")
    text = _WRITTEN_BREAK_RE.sub("\n", text)
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def room_number(text: str) -> str | None:
    """``text`` as a room number (upper case, single-spaced, leading zeros kept), or None.

    ``"b015 a"`` -> ``"B015 A"``; ``"A 214"`` -> ``"A 214"``; ``"Room 214"`` -> ``"214"``;
    ``"Gym"`` -> None. Lookup compares numbers without spaces, dots and dashes.
    """
    words = text.upper().split()
    if len(words) >= 2 and _NUMBER_WORD_RE.match(words[0]):
        words = words[1:]
    if len(words) == 1 and _is_number(words[0]):
        return words[0]
    if len(words) == 2 and _is_number(words[0]) and _SUFFIX_RE.match(words[1]):
        return f"{words[0]} {words[1]}"  # "B015 A"
    if (len(words) == 2 and len(words[0]) == 1 and words[0].isalpha()
            and words[1][:1].isdigit() and _is_number(words[1])):
        return f"{words[0]} {words[1]}"  # a wing letter written apart: "A 214"
    return None


def _is_number(word: str) -> bool:
    return ROOM_NUMBER_RE.match(word) is not None and any(c.isdigit() for c in word)


def split_label(text: str) -> tuple[str, str]:
    """A label's room number and name: ``"214\\nScience Lab"`` -> ("214", "Science Lab").

    The number is the first line that is a room number, else the first word(s) of the first
    line when they are one (``"101A Main Office"``); the other lines, in order, are the name,
    kept as written. ``"Gym"`` -> ("", "Gym").
    """
    lines = label_lines(text)
    for i, line in enumerate(lines):
        number = room_number(line)
        if number is not None:
            return number, " ".join(lines[:i] + lines[i + 1:])
    if not lines:
        return "", ""
    words = lines[0].split(" ")
    for take in (3, 2, 1):  # "Room 214 B ...", "214 B ..." / "Room 214 ...", "214 ..."
        if len(words) > take:
            number = room_number(" ".join(words[:take]))
            if number is not None:
                return number, " ".join([" ".join(words[take:]), *lines[1:]])
    return "", " ".join(lines)


# --- where the text lies ---------------------------------------------------------------------


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _text_height(height: float, fallback: float) -> float:
    """A text's height; none (or next to none, or negative) means the drawing's default."""
    return abs(height) if abs(height) > fallback * 1e-3 else fallback


def _box(anchor: tuple[float, float], ux: tuple[float, float], uy: tuple[float, float],
         width: float, height: float, fx: float, fy: float) -> Polygon:
    """The rectangle ``width`` x ``height`` along unit vectors ``ux`` (baseline) and ``uy``
    (up) whose point at fractions (``fx``, ``fy``) of its size is ``anchor``."""
    ax, ay = anchor
    corners = []
    for sx, sy in ((-fx, -fy), (1 - fx, -fy), (1 - fx, 1 - fy), (-fx, 1 - fy)):
        dx, dy = sx * width, sy * height
        corners.append((ax + dx * ux[0] + dy * uy[0], ay + dx * ux[1] + dy * uy[1]))
    return Polygon(corners)


def _up(e: Any, ux: tuple[float, float]) -> tuple[float, float]:
    """The text's up direction in the drawing plane: extrusion x baseline direction."""
    nz = float(e.dxf.get("extrusion", (0.0, 0.0, 1.0))[2])
    return (-ux[1], ux[0]) if nz >= 0 else (ux[1], -ux[0])


def mtext_label(e: Any, handle: str, fallback_height: float) -> Label | None:
    """An MTEXT's label: attachment point 1..9 (top-left .. bottom-right), defined width
    (lines wrap at it), line spacing, rotation or text direction. None if it has no text or
    no finite place."""
    text = str(e.plain_text(split=False))
    lines = label_lines(text)
    if not lines:
        return None
    ins = e.dxf.insert
    height = float(e.dxf.get("char_height") or fallback_height)
    defined = float(e.dxf.get("width") or 0.0)
    spacing = float(e.dxf.get("line_spacing_factor") or 1.0)
    rotation = float(e.get_rotation())
    if not _finite(ins.x, ins.y, height, defined, spacing, rotation):
        raise UnplacedLabel(f"label {lines[0][:40]!r}: its position or size is not a number")
    height = _text_height(height, fallback_height)
    if defined < height * CHAR_WIDTH:  # no column narrower than one character wraps
        defined = 0.0
    rows, width = 0, 0.0
    for line in lines:
        est = len(line) * height * CHAR_WIDTH
        if defined > 0 and est > defined:
            rows += min(math.ceil(est / defined), 1000)
            est = defined
        else:
            rows += 1
        width = max(width, est)
    total = height + (rows - 1) * height * LINE_PITCH * max(spacing, 0.25)
    point = int(e.dxf.get("attachment_point") or 1)
    point = point if 1 <= point <= 9 else 1
    fx = ((point - 1) % 3) / 2.0  # left, centre, right
    fy = 1.0 - ((point - 1) // 3) / 2.0  # top, middle, bottom
    if e.dxf.hasattr("text_direction"):
        d = e.dxf.text_direction
        ux = (float(d[0]), float(d[1]))
        norm = math.hypot(*ux)
        ux = (ux[0] / norm, ux[1] / norm) if norm > 0 and math.isfinite(norm) else (1.0, 0.0)
    else:
        r = math.radians(rotation)
        ux = (math.cos(r), math.sin(r))
        if float(e.dxf.get("extrusion", (0.0, 0.0, 1.0))[2]) < 0:
            ux = (-ux[0], ux[1])  # seen from below: the OCS x axis points west
    box = _box((float(ins.x), float(ins.y)), ux, _up(e, ux), width, total, fx, fy)
    return Label(handle, text, box, height)


# TEXT horizontal alignment codes -> share of the width left of the anchor (3 aligned, 5 fit:
# the text runs from the insertion point to the alignment point; 4: middle, centred both ways)
_TEXT_FX = {0: 0.0, 1: 0.5, 2: 1.0, 4: 0.5}
# TEXT vertical alignment codes (baseline, bottom, middle, top) -> share of the height below
_TEXT_FY = {0: 0.0, 1: 0.0, 2: 0.5, 3: 1.0}


def text_label(e: Any, handle: str, fallback_height: float) -> Label | None:
    """A TEXT's label: alignment (left/centre/right/middle, baseline..top, aligned and fit
    between two points), width factor, rotation, in its object coordinate system."""
    text = str(e.plain_text())
    lines = label_lines(text)
    if not lines:
        return None
    height = float(e.dxf.get("height") or fallback_height)
    factor = float(e.dxf.get("width") or 1.0)
    rotation = float(e.dxf.get("rotation") or 0.0)
    halign = int(e.dxf.get("halign") or 0)
    valign = int(e.dxf.get("valign") or 0)
    ins = e.dxf.insert
    align = e.dxf.get("align_point") if (halign or valign) else None
    coords = [ins.x, ins.y, *(() if align is None else (align[0], align[1]))]
    if not _finite(height, factor, rotation, *coords):
        raise UnplacedLabel(f"label {lines[0][:40]!r}: its position or size is not a number")
    height = _text_height(height, fallback_height)
    factor = abs(factor) if abs(factor) >= 0.01 else 1.0
    length = max(len(line) for line in lines)
    width = length * height * CHAR_WIDTH * factor
    r = math.radians(rotation)
    ux = (math.cos(r), math.sin(r))
    anchor = (float(ins.x), float(ins.y))
    fx, fy = 0.0, _TEXT_FY.get(valign, 0.0)
    if align is not None and halign in (3, 5):
        dx, dy = float(align[0]) - anchor[0], float(align[1]) - anchor[1]
        if math.hypot(dx, dy) > height * 1e-3:
            width = math.hypot(dx, dy)
            ux = (dx / width, dy / width)
        fy = 0.0
    elif align is not None:
        anchor = (float(align[0]), float(align[1]))
        fx = _TEXT_FX.get(halign, 0.0)
        fy = 0.5 if halign == 4 else fy
    box = _box(anchor, ux, (-ux[1], ux[0]), width, height, fx, fy)
    ocs = e.ocs()
    if ocs.transform:  # TEXT coordinates are in its object coordinate system
        box = Polygon([(p.x, p.y) for p in ocs.points_to_wcs(
            [(x, y, 0.0) for x, y in box.exterior.coords[:-1]])])
    return Label(handle, text, box, height)


def label_of(e: Any, handle: str, fallback_height: float) -> Label | None:
    """The label a TEXT, MTEXT or ATTRIB entity gives (drawing units); None without text.

    Raises :class:`UnplacedLabel` when its position or size is not a finite number.
    """
    if e.dxftype() == "MTEXT":
        return mtext_label(e, handle, fallback_height)
    if e.dxftype() == "ATTRIB" and e.has_embedded_mtext_entity:
        return mtext_label(e.virtual_mtext_entity(), handle, fallback_height)
    return text_label(e, handle, fallback_height)


# attribute tags of a room tag block that hold no number or name (area, occupancy, finishes)
_NOT_A_NAME_TAG_RE = re.compile(r"AREA|SQ|SF$|M2|OCC|PERIM|HEIGHT|CEIL|FINISH|CAPAC|LOAD", re.I)


# an attribute tag naming a room's number or name whatever layer its block is on: a room word
# ("ROOMNO", "RAUMNR", "RAUMNAME", "NUMERO_LOCAL", "NO_SALLE", "RM_NO")
_ROOM_TAG_RE = re.compile(r"ROOM|RAUM|SALLE|LOCAL|LOKAL|^RM[\s_.-]?(NO|NR|NUM|NAME)", re.I)


def room_tag_attribs(insert: Any) -> bool:
    """Whether an INSERT carries a visible attribute whose tag names a room's number or name
    (a room stamp inserted on any layer, its attributes on layer "0")."""
    return any(_is_room_tag(a) for a in getattr(insert, "attribs", ()))


def _is_room_tag(attrib: Any) -> bool:
    tag = str(attrib.dxf.get("tag", ""))
    return (not attrib.is_invisible and _ROOM_TAG_RE.search(tag) is not None
            and _NOT_A_NAME_TAG_RE.search(tag) is None)


def _attrib_layer(attrib: Any, insert_layer: str | None) -> str:
    """An attribute's effective layer (upper case): on layer "0" it takes its insert's."""
    layer = str(attrib.dxf.get("layer", "0")).upper()
    return insert_layer.upper() if layer == "0" and insert_layer is not None else layer


def tag_label(insert: Any, handle: str, fallback_height: float,
              layer: str | None = None, insert_layer: str | None = None, *,
              room_tags_only: bool = False) -> Label | None:
    """The label a room tag block gives: its visible attributes (number, name; not its area
    or occupancy) read top to bottom as one label, placed by their texts' combined box.

    ``layer``: only attributes on this layer count (for a tag inserted on another layer; one
    on layer "0" is on ``insert_layer``). ``room_tags_only``: only attributes whose tag names
    a room's number or name count (a room stamp on another layer).
    """
    parts: list[Label] = []
    for k, attrib in enumerate(getattr(insert, "attribs", ())):
        tag = str(attrib.dxf.get("tag", ""))
        if attrib.is_invisible or _NOT_A_NAME_TAG_RE.search(tag):
            continue
        if layer is not None and _attrib_layer(attrib, insert_layer) != layer:
            continue
        if room_tags_only and not _is_room_tag(attrib):
            continue
        found = label_of(attrib, f"{handle}.{k}", fallback_height)
        if found is not None:
            parts.append(found)
    if not parts:
        return None
    parts.sort(key=lambda lb: (-lb.box.centroid.y, lb.box.centroid.x))
    return Label(handle, "\n".join(lb.text for lb in parts), place_box(parts),
                 max(lb.height for lb in parts))


# --- leaders: a label outside a small room, pointing into it ---------------------------------


@dataclass(frozen=True)
class Leader:
    """A LEADER on the label layer: its arrow ``tip`` points into the room that the label at
    its ``tail`` names. ``annotation``: the handle of the label it carries ("" if none)."""

    annotation: str
    tip: tuple[float, float]
    tail: tuple[float, float]


def _tip_box(tip: tuple[float, float], height: float) -> Polygon:
    x, y = tip
    h = height / 2.0
    return Polygon([(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)])


def leader_of(e: Any) -> Leader | None:
    """The leader a LEADER entity draws (drawing units); None with fewer than two points."""
    points = [(float(v[0]), float(v[1])) for v in e.vertices]
    if len(points) < 2 or not _finite(*points[0], *points[-1]):
        return None
    return Leader(str(e.dxf.get("annotation_handle") or ""), points[0], points[-1])


def mleader_label(e: Any, handle: str, fallback_height: float) -> Label | None:
    """A MULTILEADER's text as a label placed at its first arrow tip (the room it points
    into); at its text's insertion point when it has no leader line."""
    mtext = e.context.mtext
    if mtext is None:
        return None
    text = str(plain_mtext(str(mtext.default_content), split=False))
    if not label_lines(text):
        return None
    height = _text_height(float(e.context.char_height or 0.0), fallback_height)
    tips = [line.vertices[0] for leader in e.context.leaders for line in leader.lines
            if line.vertices]
    at = tips[0] if tips else mtext.insert
    if not _finite(float(at[0]), float(at[1]), height):
        raise UnplacedLabel(f"leader label {label_lines(text)[0][:40]!r}: its position is "
                            "not a number")
    return Label(handle, text, _tip_box((float(at[0]), float(at[1])), height), height)


def has_attribs_on(insert: Any, layer: str, insert_layer: str | None = None) -> bool:
    """Whether an INSERT carries attributes on ``layer`` (upper case): a room tag inserted on
    another layer whose attributes were drawn on the label layer (an attribute on layer "0"
    is on ``insert_layer``)."""
    return any(_attrib_layer(a, insert_layer) == layer for a in getattr(insert, "attribs", ()))


def follow_leaders(labels: Sequence[Label], leaders: Sequence[Leader]) -> list[Label]:
    """The labels, each one a leader carries placed at that leader's arrow tip.

    A leader carries the label its annotation handle names, else the label nearest its tail
    (within two text heights of it); each label follows one leader at most.
    """
    if not leaders or not labels:
        return list(labels)
    out = list(labels)
    where = {lb.handle: i for i, lb in enumerate(out)}
    tree = STRtree([lb.box for lb in labels])
    moved: set[int] = set()
    reach = 2.0 * max(lb.height for lb in labels)
    for leader in leaders:
        i = where.get(leader.annotation, -1) if leader.annotation else -1
        if i < 0:
            tail = Point(leader.tail)
            near = [(float(labels[j].box.distance(tail)), j)
                    for j in tree.query(tail, predicate="dwithin", distance=reach).tolist()]
            near = [(d, j) for d, j in near if d <= 2.0 * labels[j].height]
            i = min(near)[1] if near else -1
        if i < 0 or i in moved:
            continue
        moved.add(i)
        lb = out[i]
        out[i] = Label(lb.handle, lb.text, _tip_box(leader.tip, lb.height), lb.height)
    return out


# --- which room a label names ----------------------------------------------------------------


def too_large(label: Label) -> str:
    """Why a label (metres) is too large to be a room label, or "" if it is not."""
    minx, miny, maxx, maxy = label.box.bounds
    size = max(maxx - minx, maxy - miny)
    if not (math.isfinite(size) and math.isfinite(label.height)):
        return "its text has no finite size"
    if label.height > MAX_LABEL_HEIGHT_M:
        return f"its text is {label.height:,.1f} m high (a room label is at most " \
            f"{MAX_LABEL_HEIGHT_M:g} m)"
    if size > MAX_LABEL_SIZE_M:
        return f"its text spans {size:,.0f} m (a room label spans at most " \
            f"{MAX_LABEL_SIZE_M:g} m)"
    return ""


def near_distance_m(label: Label) -> float:
    """How far outside a room (metres) a label may lie and still be that room's."""
    return min(max(NEAR_PER_HEIGHT * label.height, NEAR_MIN_M), NEAR_MAX_M)


def assign_labels(labels: Sequence[Label], rooms: Sequence[tuple[str, Polygon]],
                  floor_outline: Polygon | None = None,
                  circulation: Callable[[str], bool] = lambda name: False) -> Assignment:
    """Give each label (metres) to a room (handle, outline in metres); see the module doc.

    ``circulation`` says whether a room name is a corridor or stairs: a numbered label whose
    text centre falls in a corridor (or in a room another number already names) but that
    overlaps exactly one room still lacking a number is that room's, as a person reads it.
    ``floor_outline`` (metres): labels inside it are never ignored as far from the building.
    Near-linear: one spatial index over the rooms; the bulk of labels in one query.
    """
    out = Assignment({h: [] for h, _ in rooms})
    if not labels:
        return out
    if not rooms:
        out.label_only = _places([(lb, lb.reading[0]) for lb in labels])
        return out
    index = _RoomIndex(rooms)
    texts = [lb.reading for lb in labels]
    boxes = np.array([lb.box for lb in labels], dtype=object)
    home = index.holding(shapely.centroid(boxes))
    # the share of each label's box inside the room holding its centre (most lie wholly in it)
    rooms_held = index.polys[np.array([max(r, 0) for r in home])]
    inside = shapely.covers(rooms_held, boxes).astype(float)
    part = np.flatnonzero((inside < 1) & (np.array(home) >= 0))
    if part.size:
        inside[part] = shapely.area(shapely.intersection(boxes[part], rooms_held[part])) \
            / np.maximum(shapely.area(boxes[part]), 1e-12)
    shares = [float(s) if r >= 0 else 0.0 for s, r in zip(inside.tolist(), home, strict=True)]
    state = _State(len(rooms), texts)
    for i, r in enumerate(home):
        if r >= 0:
            state.add(i, r)
    for i, r, how in _misplaced(labels, shares, state, index, circulation):
        out.nearby.append((labels[i], index.handles[r], how))

    loose: list[tuple[Label, str]] = []
    outside = [i for i, r in enumerate(home) if r < 0]
    near = {i: index.around(labels[i]) for i in outside}
    # the most plainly placed first, so two labels never both claim one room
    outside.sort(key=lambda i: (-max((n.share for n in near[i]), default=0.0),
                                min((n.gap for n in near[i]), default=math.inf), i))
    for i in outside:
        label, number = labels[i], texts[i][0]
        found = _one_room(near[i], state.lacking(number))
        if found is not None:
            state.add(i, found.room)
            out.nearby.append((label, index.handles[found.room], found.how(index.handles)))
        elif not near[i] and not (floor_outline is not None
                                  and floor_outline.intersects(label.box)):
            distance = index.distance_to_nearest(label)
            if distance > FAR_M:
                out.far.append((label, distance))
            else:
                loose.append((label, number))
        else:
            loose.append((label, number))
    for r, members in enumerate(state.members):
        out.by_room[index.handles[r]] = [labels[i] for i in sorted(members)]
    out.label_only = _places(loose)
    return out


@dataclass(frozen=True)
class _Near:
    """A room near a label: the share of the label's box inside it, and the gap (metres)."""

    room: int
    share: float
    gap: float

    def how(self, handles: list[str]) -> str:
        if self.share > 0:
            return f"its text lies {self.share:.0%} inside room outline {handles[self.room]}"
        return f"{self.gap:.1f} m from room outline {handles[self.room]}"


class _RoomIndex:
    """Room outlines (metres) in a spatial index."""

    def __init__(self, rooms: Sequence[tuple[str, Polygon]]) -> None:
        self.handles = [h for h, _ in rooms]
        self.polys = np.array([p for _, p in rooms], dtype=object)
        self.areas = shapely.area(self.polys)
        self.tree = STRtree(self.polys)
        self._corridor: dict[int, bool] = {}

    def holding(self, points: Any) -> list[int]:
        """For each point, the smallest room covering it (-1: none)."""
        home = [-1] * len(points)
        li, ri = self.tree.query(points, predicate="covered_by")
        for i, r in zip(li.tolist(), ri.tolist(), strict=True):
            if home[i] < 0 or self.areas[r] < self.areas[home[i]]:
                home[i] = r
        return home

    def around(self, label: Label) -> list[_Near]:
        """Rooms overlapping the label's box or within its near distance, nearest first."""
        reach = near_distance_m(label)
        found = self.tree.query(label.box, predicate="dwithin", distance=reach)
        if found.size == 0:
            return []
        polys = self.polys[found]
        shares = shapely.area(shapely.intersection(label.box, polys)) / max(label.box.area,
                                                                             1e-12)
        gaps = shapely.distance(label.box, polys)
        near = [_Near(int(r), float(s), float(g))
                for r, s, g in zip(found.tolist(), shares.tolist(), gaps.tolist(), strict=True)]
        return sorted(near, key=lambda n: (-n.share, n.gap, n.room))

    def corridor_shaped(self, r: int) -> bool:
        """Whether room ``r`` is long and thin, as corridors are."""
        if r not in self._corridor:
            short, long = _sides(shapely.oriented_envelope(self.polys[r]))
            self._corridor[r] = short > 0 and long / short >= CORRIDOR_ASPECT
        return self._corridor[r]

    def distance_to_nearest(self, label: Label) -> float:
        found = self.tree.query_nearest(label.box, return_distance=True)
        distances = found[1]
        return float(distances.min()) if distances.size else math.inf


class _State:
    """Which labels each room holds, and whether it has a number and a name yet."""

    def __init__(self, n_rooms: int, texts: list[tuple[str, str]]) -> None:
        self.texts = texts
        self.members: list[set[int]] = [set() for _ in range(n_rooms)]
        self.where: dict[int, int] = {}
        self.numbers = [0] * n_rooms
        self.names = [0] * n_rooms

    def add(self, i: int, r: int) -> None:
        self.members[r].add(i)
        self.where[i] = r
        self.numbers[r] += bool(self.texts[i][0])
        self.names[r] += bool(self.texts[i][1])

    def move(self, i: int, r: int) -> None:
        old = self.where[i]
        self.members[old].discard(i)
        self.numbers[old] -= bool(self.texts[i][0])
        self.names[old] -= bool(self.texts[i][1])
        self.add(i, r)

    def lacking(self, number: str) -> Callable[[int], bool]:
        """Whether a room may still take a label: one with a number needs a room without a
        number, a name-only label a room without a name."""
        counts = self.numbers if number else self.names
        return lambda r: counts[r] == 0


def _one_room(near: list[_Near], may_take: Callable[[int], bool]) -> _Near | None:
    """The one room a label outside it belongs to: the only room (that may take it) its box
    overlaps by a meaningful share, else, overlapping none, the only one near it."""
    over = [n for n in near if n.share >= MEANINGFUL_OVERLAP and may_take(n.room)]
    if len(over) == 1:
        return over[0]
    if over or any(n.share >= MEANINGFUL_OVERLAP for n in near):
        return None
    close = [n for n in near if may_take(n.room)]
    return close[0] if len(close) == 1 else None


def _misplaced(labels: Sequence[Label], shares: list[float], state: _State,
               index: _RoomIndex, circulation: Callable[[str], bool],
               ) -> list[tuple[int, int, str]]:
    """Move numbered labels whose text centre falls in a room that is plainly another's (a
    corridor or stairs by its other labels' names, or a room another number names) while
    their box overlaps exactly one room still lacking a number; (label, room, how) for each.

    A top-left MTEXT written just above its room's wall lands its centre in the corridor.
    An unnamed corridor-shaped space (long and thin) holding only a label that straddles its
    wall gives that label up to the one wholly unlabelled room it overlaps.
    """
    texts = state.texts
    moves: list[tuple[int, int, str]] = []
    for r, members in enumerate(state.members):
        numbered = [i for i in members if texts[i][0]]
        if not numbered or (len(members) < 2 and (
                shares[numbered[0]] >= STRADDLING or not index.corridor_shaped(r))):
            continue
        for i in sorted(numbered, key=lambda i: (shares[i], i)):
            others = [j for j in state.members[r] if j != i]
            own_number, own_name = texts[i]
            other_name = " ".join(texts[j][1] for j in others if texts[j][1])
            why, only_unlabelled = "", False
            if any(texts[j][0] and texts[j][0] != own_number for j in others):
                why = "named by another number"
            elif other_name and circulation(other_name) and not circulation(own_name):
                why = f"the {other_name!r}"
            elif (not others and not circulation(own_name) and shares[i] < STRADDLING
                  and index.corridor_shaped(r)):
                why, only_unlabelled = "an unnamed corridor", True
            if not why:
                continue
            near = [n for n in index.around(labels[i]) if n.room != r
                    and not (only_unlabelled and state.members[n.room])]
            found = _one_room(near, state.lacking(own_number))
            if found is not None:
                state.move(i, found.room)
                moves.append((i, found.room, f"{found.how(index.handles)}; its centre falls "
                                             f"in room outline {index.handles[r]}, {why}"))
    return moves


def _sides(rect: Any) -> tuple[float, float]:
    """(shorter, longer) side of a rectangle (or a degenerate one)."""
    coords = list(getattr(rect, "exterior", rect).coords)
    if len(coords) < 3:
        return 0.0, 0.0
    a, b = math.dist(coords[0], coords[1]), math.dist(coords[1], coords[2])
    return min(a, b), max(a, b)


def _places(loose: list[tuple[Label, str]]) -> list[list[Label]]:
    """Label-only places: each numbered label, with the name-only labels right beside it (a
    number and its room name as two TEXTs); every other name-only label on its own."""
    numbered = [lb for lb, n in loose if n]
    places: dict[str, list[Label]] = {lb.handle: [lb] for lb in numbered}
    alone: list[list[Label]] = []
    tree = STRtree([lb.box for lb in numbered]) if numbered else None
    for lb, n in loose:
        if n:
            continue
        best: tuple[float, int] | None = None
        if tree is not None:
            reach = SAME_PLACE_PER_HEIGHT * lb.height
            for j in tree.query(lb.box, predicate="dwithin", distance=reach).tolist():
                d = float(lb.box.distance(numbered[j].box))
                if best is None or d < best[0]:
                    best = (d, j)
        if best is None:
            alone.append([lb])
        else:
            places[numbered[best[1]].handle].append(lb)
    return [*places.values(), *alone]


def place_box(labels: Sequence[Label]) -> Polygon:
    """The outline a label-only place is drawn and found by: its texts' combined box."""
    hull = shapely.union_all([lb.box for lb in labels]).convex_hull
    return hull if isinstance(hull, Polygon) and hull.area > 0 else Point(
        hull.centroid.x, hull.centroid.y).buffer(0.25, quad_segs=2)
