"""US National Grid references (USNG, the US profile of MGRS) for any point, via ``mgrs``."""

from __future__ import annotations

import re

import mgrs

from gridmap.errors import InvalidUSNG

_USNG_RE = re.compile(r"^(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z]{2})(\d*)$")
_converter = mgrs.MGRS()


def to_usng(lon: float, lat: float, digits: int = 5) -> str:
    """USNG for a point, spaced as printed on maps: ``16T FN 12345 67890`` (1 m at 5 digits)."""
    if not 1 <= digits <= 5:
        raise ValueError("USNG precision is 1..5 digits per axis")
    compact = _converter.toMGRS(lat, lon, MGRSPrecision=digits)
    if isinstance(compact, bytes):
        compact = compact.decode()
    return format_usng(compact)


def format_usng(compact: str) -> str:
    m = _USNG_RE.match(compact)
    if not m:
        raise InvalidUSNG(f"{compact!r} is not a USNG reference")
    zone, band, square, digits = m.groups()
    half = len(digits) // 2
    parts = [f"{int(zone)}{band}", square]
    if digits:
        parts += [digits[:half], digits[half:]]
    return " ".join(parts)


def normalise_usng(text: str) -> str | None:
    """A compact USNG string if ``text`` looks like one (any spacing/case), else None."""
    compact = re.sub(r"[\s-]", "", text).upper()
    m = _USNG_RE.match(compact)
    if not m or len(m.group(4)) % 2:
        return None
    return compact


def parse_usng(text: str) -> tuple[float, float]:
    """(lon, lat) of the south-west corner of a USNG square given at any precision."""
    compact = normalise_usng(text)
    if compact is None:
        raise InvalidUSNG(f"{text!r} is not a USNG reference like '16T FN 1234 5678'")
    try:
        lat, lon = _converter.toLatLon(compact)
    except Exception as exc:  # mgrs raises bare MGRSError for impossible squares
        raise InvalidUSNG(f"{text!r} is not a valid USNG square: {exc}") from exc
    return float(lon), float(lat)


_NO_ZONE_RE = re.compile(r"^([A-HJ-NP-Z]{2})?(\d{2,10})$")


def complete_usng(text: str, lon: float, lat: float) -> str | None:
    """A compact USNG for a reference said without its zone (``"GN 1046 3072"``), or without
    zone and 100 km square (``"1046 3072"``, two equal digit groups), completed from the point
    it is near (the campus): None when ``text`` is neither."""
    spaced = text.strip().upper()
    compact = re.sub(r"[\s-]", "", spaced)
    m = _NO_ZONE_RE.match(compact)
    if not m or len(m.group(2)) % 2:
        return None
    if m.group(1) is None:
        groups = spaced.split()
        # bare digits must be said as easting and northing: "1046 3072", never "10463072"
        if len(groups) != 2 or len(groups[0]) != len(groups[1]):
            return None
    here = to_usng(lon, lat, 1).split(" ")
    zone, square = here[0], here[1]
    return zone + (m.group(1) or square) + m.group(2)
