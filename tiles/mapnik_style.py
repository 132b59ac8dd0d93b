"""The one cartographic style as Mapnik XML (:func:`style_xml`), built per zoom from
:mod:`tiles.style` and :mod:`tiles.symbols`: area styles, label and symbol rules with their
placement order, the paper variants.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from tiles import style, symbols
from tiles.map_view import OVERVIEW_AMENITIES
from tiles.style import RGBA, Symbol

if TYPE_CHECKING:
    pass

def _c(c: RGBA) -> str:
    return f"rgba({c[0]},{c[1]},{c[2]},{c[3] / 255:.3f})"


def _attrs(**kw: object) -> str:
    return " ".join(f"{k.replace('_', '-')}={quoteattr(str(v))}" for k, v in kw.items())


def _text(content: str, **kw: object) -> str:
    return f"<TextSymbolizer {_attrs(**kw)}>{content}</TextSymbolizer>"


def _rule(body: str, filter_: str | None = None) -> str:
    f = f"<Filter>{escape(filter_)}</Filter>" if filter_ else ""
    return f"<Rule>{f}{body}</Rule>"


def _style(name: str, rules: Iterable[str]) -> str:
    return f'<Style name="{name}">{"".join(rules)}</Style>'


#: Where a symbol may go, in order: on its point, then beside it (in symbol widths).
_SYMBOL_STEPS = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1),
                 (2, 0), (-2, 0), (0, -2), (0, 2))


def _symbol_placements(size: float) -> str:
    """Mapnik list placements: the symbol on its point if free, else the nearest free spot
    around it (so it never covers a room number placed before it)."""
    step = size + 2.0
    return "".join(f'<Placement dx="{dx * step:.1f}" dy="{dy * step:.1f}"/>'
                   for dx, dy in _SYMBOL_STEPS)


def _shield(sym: Symbol, z: int, text_expr: str, chars: int, min_text_zoom: int,
            font_px: float | None = None, *, on_paper: bool = False,
            inside: bool = False) -> str:
    """A symbol with its code (or door number) inside, moved off its point when that is taken.

    ``font_px`` fixes the text size (door numbers) and the symbol grows to hold it.
    ``on_paper`` (the printed campus overview): the code or number is written at every zoom and
    the symbol moves beside its point when that is taken (a printed door keeps its number).
    ``inside`` (paper): a symbol is never placed across the map's edge, where the sheet would
    cut it."""
    radius = style.symbol_radius(sym, z)
    show_text = (z >= min_text_zoom or on_paper) and bool(text_expr)
    if font_px is not None and show_text:
        radius = max(radius, font_px * 0.62 + 1.5)
    path = symbols.symbol_file(sym, radius, chars)
    size = symbols.symbol_size_px(sym, radius, chars)
    if show_text:
        font = font_px or max(7.0, round(radius * (1.15 if chars <= 1 else 0.95 if chars == 2
                                                   else 0.75)))
        content = text_expr
    else:
        font, content = 1.0, "' '"
    # zoomed out, a symbol moved by two of its widths would mark another building: there it
    # stays on its point (or is left out when that is taken)
    moves = z >= style.MIN_ZOOM_SYMBOL_MOVES or on_paper
    options = _attrs(file=path, face_name=style.FONT_BOLD, size=font, fill=_c(sym.text_colour),
                     placement_type="list" if moves else "dummy", allow_overlap="false",
                     unlock_image="false", **({"avoid_edges": "true"} if inside else {}))
    places = _symbol_placements(size) if moves else ""
    return f"<ShieldSymbolizer {options}>{content}{places}</ShieldSymbolizer>"


def _label_styles(z: int, overview: bool, purpose: str = "tile") -> list[str]:
    halo = style.HALO_WIDTH
    n_px, m_px = style.room_number_font_px(z), style.room_name_font_px(z)
    label = {"fill": _c(style.LABEL_COLOUR), "halo_fill": _c(style.LABEL_HALO),
             "halo_radius": halo, "allow_overlap": "false", "margin": 1}
    n, m = f"[n{z}]", f"[m{z}]"

    def number_rules(label: dict[str, object]) -> list[str]:
        return [_rule(_text(n, face_name=style.FONT_BOLD, size=n_px, dy=f"[dn{z}]",
                            vertical_alignment="middle", **label), f"{n} != ''")]

    def name_rules(label: dict[str, object]) -> list[str]:
        moves = "".join(f'<Placement dy="[dm{z}] + [s{k}{z}]"/>' for k in (1, 2)) + "".join(
            f'<Placement dx="[{side}{z}]"/>' for side in ("r", "l"))
        return [_rule(_text(m + moves, face_name=style.FONT_REGULAR, size=m_px,
                            dy=f"[dm{z}]", vertical_alignment="middle",
                            placement_type="list", **label), f"{m} != ''")]

    b_letter, b_name = style.building_letter_font_px(z), style.building_name_font_px(z)
    b_label = {"fill": _c(style.BUILDING_LABEL_COLOUR), "halo_fill": _c(style.BUILDING_LABEL_HALO),
               "halo_radius": halo, "allow_overlap": "false"}
    with_name = z >= style.MIN_ZOOM_BUILDING_NAMES
    paper_overview = overview and purpose == "print"
    if paper_overview:  # the letter in the footprint; the name beside it (building_names)
        building = _text("[letter]", face_name=style.FONT_BOLD, size=b_letter,
                         placement="interior", **b_label)
    elif z < style.MIN_ZOOM_BUILDING_SIDES or overview:
        name = (f"<Format {_attrs(face_name=style.FONT_BOLD, size=b_name)}>'&#10;' + [name]"
                "</Format>")
        # the letter alone when letter and name do not fit among the neighbours
        building = _text("[letter]" + (f"{name}<Placement>[letter]</Placement>" if with_name
                                       else ""),
                         face_name=style.FONT_BOLD, size=b_letter, placement="interior",
                         placement_type="list" if with_name else "dummy", wrap_width=160,
                         **b_label)
    else:  # above the north wall and below the south wall, outside the plan
        building = _text("'Building ' + [letter] + '  ·  ' + [name]", face_name=style.FONT_BOLD,
                         size=b_name, dy=f"[side] * {b_name * 0.5 + 5}", **b_label)
    door = style.DOOR
    door_rules = [
        _rule(_shield(door, z, "[number]", chars, style.MIN_ZOOM_DOOR_NUMBERS,
                      style.door_number_font_px(z), on_paper=paper_overview,
                      inside=purpose == "print"),
              f"[chars] = {chars}") for chars in range(0, 5)]
    amenity_rules = [
        _rule(_shield(sym, z, f"'{sym.text}'", len(sym.text), style.MIN_ZOOM_AMENITY_CODES,
                      on_paper=paper_overview, inside=purpose == "print"),
              f"[kind] = '{kind.value}'") for kind, sym in style.AMENITY_SYMBOLS.items()
        if kind in OVERVIEW_AMENITIES or z >= style.MIN_ZOOM_INDOOR_AMENITIES]
    edge_px = style.grid_edge_font_px(z)
    gap = 4 + edge_px / 2.0
    grid_label = {"face_name": style.FONT_BOLD, "size": edge_px,
                  "fill": _c(style.GRID_LABEL_COLOUR), "halo_fill": _c(style.GRID_LABEL_HALO),
                  "halo_radius": halo, "allow_overlap": "false"}
    offsets = {"top": (0, -gap), "bottom": (0, gap), "left": (-gap - edge_px * 0.3, 0),
               "right": (gap + edge_px * 0.3, 0)}
    edge_rules = [_rule(_text("[text]", dx=dx, dy=dy, **grid_label), f"[where] = '{where}'")
                  for where, (dx, dy) in offsets.items()]
    corner_px = style.cell_corner_font_px(z)
    corner_rules = [_rule(_text("[text]", face_name=style.FONT_BOLD, size=corner_px,
                                fill=_c(style.GRID_LABEL_COLOUR),
                                halo_fill=_c(style.GRID_LABEL_HALO), halo_radius=halo,
                                dx=4, dy=4, horizontal_alignment="right",
                                vertical_alignment="bottom", allow_overlap="false"))]
    g_px = style.grounds_font_px(z)
    grounds_rules = [_rule(_text("[name]", face_name=style.FONT_REGULAR, size=g_px,
                                 fill=_c(style.GROUNDS_LABEL_COLOUR),
                                 halo_fill="rgba(255,255,255,0.7)", halo_radius=1.5,
                                 placement="interior", wrap_width=g_px * 9,
                                 allow_overlap="false"))]
    # without room labels the map keeps their places (invisible), so nothing else moves
    hidden = {**label, "opacity": 0, "halo_opacity": 0}
    out = [_style("room_numbers", number_rules(label)),
           _style("room_numbers_hidden", number_rules(hidden)),
           _style("room_names", name_rules(label)),
           _style("room_names_hidden", name_rules(hidden)),
           _style("building_labels", [_rule(building)]),
           _style("doors", door_rules), _style("amenities", amenity_rules),
           _style("grid_edge_labels", edge_rules)]
    if purpose == "print":
        out += _paper_label_styles(label, hidden, b_name, b_label)
    if z >= style.MIN_ZOOM_CELL_LABELS:
        out.append(_style("cell_labels", corner_rules))
    if z >= style.MIN_ZOOM_GROUNDS_LABELS:
        out.append(_style("grounds_labels", grounds_rules))
    return out


def _paper_label_styles(label: dict[str, object], hidden: dict[str, object], b_name: float,
                        b_label: dict[str, object]) -> list[str]:
    """Paper's room labels, laid out beforehand (:func:`print_room_labels`): each at its own
    point and size. A number is always drawn (its place was found free; symbols placed after
    it still keep off it); a name gives way to a symbol or a door."""
    def numbers(label: dict[str, object]) -> list[str]:
        return [_rule(_text("[text]", face_name=style.FONT_BOLD, size="[size]",
                            vertical_alignment="middle",
                            **{**label, "allow_overlap": "true", "margin": 0}))]

    def names(label: dict[str, object]) -> list[str]:
        return [_rule(_text("[text]", face_name=style.FONT_REGULAR, size="[size]",
                            vertical_alignment="middle", **{**label, "margin": 0}))]

    # a building's name on the overview: under its south wall, else above its north wall,
    # else beside it (``up``/``right``/``left``: pixels from the south wall's middle)
    moves = "".join(f'<Placement {where}/>' for where in (
        'dy="[up]"', 'dx="[right]" dy="[middle]"', 'dx="[left]" dy="[middle]"'))
    building_names = _text("[name]" + moves, face_name=style.FONT_BOLD, size=b_name,
                           dy=b_name * 0.5 + 5, placement_type="list",
                           wrap_width=style.PRINT_BUILDING_NAME_WRAP_PX, **b_label)
    return [_style("paper_room_numbers", numbers(label)),
            _style("paper_room_numbers_hidden", numbers(hidden)),
            _style("paper_room_names", names(label)),
            _style("paper_room_names_hidden", names(hidden)),
            _style("building_names", [_rule(building_names)])]


def _area_styles(overview: bool) -> list[str]:
    def fill_line(fill: RGBA | None, line: RGBA | None, width: float,
                  dash: tuple[float, float] | None = None) -> str:
        out = ""
        if fill is not None:
            out += f'<PolygonSymbolizer {_attrs(fill=_c(fill), gamma=0.6)}/>'
        if line is not None:
            extra = {"stroke_dasharray": f"{dash[0]},{dash[1]}"} if dash else {}
            out += (f"<LineSymbolizer {_attrs(stroke=_c(line), stroke_width=width, **extra)}/>")
        return out

    grounds = [_rule(fill_line(colour, style.GROUNDS_OUTLINE, 1.0), f"[kind] = '{kind.value}'")
               for kind, colour in style.GROUNDS_FILL.items()]
    rooms = [
        _rule(fill_line(None, style.APPROXIMATE_OUTLINE, style.ROOM_WIDTH,
                        style.APPROXIMATE_DASH), "[kind] = 'approximate'"),
        _rule(fill_line(style.HALLWAY_FILL, style.ROOM_OUTLINE, style.ROOM_WIDTH),
              "[kind] = 'hallway'"),
        _rule(fill_line(style.ROOM_FILL, style.ROOM_OUTLINE, style.ROOM_WIDTH), "[kind] = 'room'"),
    ]
    return [
        _style("parcel", [_rule(fill_line(style.PARCEL_FILL, style.PARCEL_OUTLINE,
                                          style.PARCEL_WIDTH))]),
        _style("grounds", grounds),
        _style("footprints_other", [_rule(fill_line(style.OTHER_LEVEL_FILL,
                                                    style.OTHER_LEVEL_OUTLINE, 1.5))]),
        _style("footprints", [_rule(fill_line(style.BUILDING_FILL,
                                              style.BUILDING_OUTLINE if overview else None,
                                              style.BUILDING_WIDTH))]),
        _style("rooms", rooms),
        _style("building_outlines", [_rule(fill_line(None, style.BUILDING_OUTLINE,
                                                     style.BUILDING_WIDTH))]),
        _style("grid_lines", [_rule(f"<LineSymbolizer {_attrs(stroke=_c(style.GRID_COLOUR), stroke_width=style.GRID_WIDTH)}/>")]),  # noqa: E501
        _style("imagery", [_rule('<RasterSymbolizer scaling="bilinear"/>')]),
        _style("campus_dot", [_rule(f"<MarkersSymbolizer {_attrs(marker_type='ellipse', width=8, height=8, fill=_c(style.GRID_COLOUR), stroke='white', stroke_width=1.5, allow_overlap='true')}/>")]),  # noqa: E501
    ]


_xml_cache: dict[tuple[int, bool, str], str] = {}
_xml_lock = threading.Lock()


def style_xml(z: int, overview: bool, purpose: str = "tile") -> str:
    """The Mapnik style sheet (styles only; layers are added in code) of style zoom ``z``
    (``purpose`` "print" adds paper's own label styles)."""
    key = (z, overview, purpose)
    with _xml_lock:
        hit = _xml_cache.get(key)
    if hit is not None and all(Path(p).is_file() for p in _symbol_paths(hit)):
        return hit
    xml = ('<Map background-color="transparent">'
           + "".join(_area_styles(overview)) + "".join(_label_styles(z, overview, purpose))
           + "</Map>")
    with _xml_lock:
        _xml_cache[key] = xml
    return xml


def _symbol_paths(xml: str) -> list[str]:
    return [part.split('"', 1)[0] for part in xml.split(' file="')[1:]]
