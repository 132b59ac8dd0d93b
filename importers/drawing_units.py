"""A drawing's unit: ``$INSUNITS`` when the header has it; else the unit that makes its rooms
and doors the size a school's are (a room of some tens of square metres, a door 0.9 m wide).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from importers.manifest import DrawingUnit

# a school's rooms and doors, for judging a unitless drawing's unit
_TYPICAL_ROOM_M2 = 30.0
_TYPICAL_DOOR_M = 0.9
_UNIT_CANDIDATES = (DrawingUnit.METRE, DrawingUnit.CENTIMETRE, DrawingUnit.MILLIMETRE,
                    DrawingUnit.FOOT, DrawingUnit.INCH)
_UNIT_NAMES = {DrawingUnit.METRE: "metres", DrawingUnit.CENTIMETRE: "centimetres",
               DrawingUnit.MILLIMETRE: "millimetres", DrawingUnit.FOOT: "feet",
               DrawingUnit.INCH: "inches", DrawingUnit.DECIMETRE: "decimetres",
               DrawingUnit.YARD: "yards", DrawingUnit.US_SURVEY_FOOT: "US survey feet"}




def drawing_unit(doc: Any, declared: DrawingUnit | None, room_areas: list[float],
                 door_widths: list[float]) -> tuple[DrawingUnit | None, str]:
    from importers.dxf import _INSUNITS_NAMES, INSUNITS

    try:
        code = int(doc.header.get("$INSUNITS", 0))
    except (TypeError, ValueError):
        code = 0
    guess, guess_why, fit = unit_from_sizes(room_areas, door_widths)
    header = INSUNITS.get(code)
    if header is not None:
        why = f"the drawing says {_INSUNITS_NAMES[code]} ($INSUNITS = {code})"
        if guess is not None and guess is not header and fit < 1.0 and \
                _misfit(header, room_areas, door_widths) > 2.5:
            why += (f"; but its rooms and doors look like {_UNIT_NAMES[guess]} "
                    f"({guess_why}): check the drawing's units")
        return header, why
    said = (f"the header gives no usable unit ($INSUNITS = {code}, "
            f"{_INSUNITS_NAMES.get(code, 'unknown')})")
    if declared is not None:
        return declared, f"{said}; using the declared {_UNIT_NAMES[declared]}"
    if guess is None:
        return None, f"{said}, and there are no rooms or doors to judge the size by: declare it"
    return guess, f"{said}; read as {_UNIT_NAMES[guess]} because then {guess_why}"


def _misfit(unit: DrawingUnit, areas: list[float], widths: list[float]) -> float:
    """How far from a school's sizes the rooms and doors are in ``unit`` (0: typical; each 1
    is a factor of about 4 in room area or 1.6 in door width)."""
    terms = []
    k = unit.metres
    if areas:
        terms.append(abs(math.log(statistics.median(areas) * k * k / _TYPICAL_ROOM_M2))
                     / math.log(4.0))
    if widths:
        terms.append(abs(math.log(statistics.median(widths) * k / _TYPICAL_DOOR_M))
                     / math.log(1.6))
    return sum(terms) / len(terms) if terms else math.inf


def unit_from_sizes(areas: list[float], widths: list[float],
                    ) -> tuple[DrawingUnit | None, str, float]:
    areas = [a for a in areas if a > 0]
    widths = [w for w in widths if w > 0]
    if not areas and not widths:
        return None, "", math.inf
    fits = sorted((_misfit(u, areas, widths), i, u) for i, u in enumerate(_UNIT_CANDIDATES))
    fit, _, unit = fits[0]
    k = unit.metres
    parts = []
    if areas:
        parts.append(f"its {len(areas)} rooms have a median area of "
                     f"{statistics.median(areas) * k * k:,.0f} m²")
    if widths:
        parts.append(f"its {len(widths)} doors a median width of "
                     f"{statistics.median(widths) * k:.2f} m")
    return unit, " and ".join(parts) + ", as a school's are", fit




def unit_in_header(doc: Any) -> DrawingUnit | None:
    from importers.dxf import INSUNITS

    try:
        return INSUNITS.get(int(doc.header.get("$INSUNITS", 0)))
    except (TypeError, ValueError):
        return None
