"""Point symbols as SVG, drawn in code from :mod:`tiles.style` (no symbol files are shipped).

The shapes follow NFPA 170's habits for fire-safety and emergency symbols: a circle for an
opening or an assembly point, a square for equipment (the colour says which: green for life
safety such as an AED or first aid, red for fire protection, white with a red border for a
trauma kit), a diamond for a utility shutoff and a triangle for a hazard. The short code
(``AED``, ``K``, ``G``) or the door's number is written inside by the renderer, in the
symbol's text colour, so it stays selectable text on paper.

Mapnik reads markers from files only, so :func:`symbol_file` writes each distinct SVG once
into a private temporary folder of this process (removed when the process exits) and returns
its path.
"""

from __future__ import annotations

import atexit
import hashlib
import math
import os
import shutil
import tempfile
import threading
from pathlib import Path

from tiles.style import RGBA, Symbol

__all__ = ["symbol_file", "symbol_size_px", "symbol_svg"]

#: Width of a symbol's outline, in pixels at 1x.
OUTLINE_PX = 1.5


def _colour(c: RGBA) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def _opacity(c: RGBA) -> str:
    return f"{c[3] / 255:.3f}"


def symbol_size_px(symbol: Symbol, radius: float, text_chars: int) -> float:
    """The symbol's width and height in pixels at 1x: grown for a long door number ("12A")."""
    grow = 1.0 if text_chars <= 1 else 1.15 if text_chars == 2 else 1.35 if text_chars == 3 \
        else 1.6
    r = radius * grow
    if symbol.shape == "diamond":
        r *= 1.25
    elif symbol.shape == "triangle":
        r *= 1.35
    return 2.0 * r + OUTLINE_PX


def symbol_svg(symbol: Symbol, radius: float, text_chars: int = 0) -> str:
    """The SVG document of ``symbol``, sized for a shape of ``radius`` pixels holding
    ``text_chars`` characters."""
    size = symbol_size_px(symbol, radius, text_chars)
    c = size / 2.0
    r = c - OUTLINE_PX / 2.0
    paint = (f'fill="{_colour(symbol.fill)}" fill-opacity="{_opacity(symbol.fill)}" '
             f'stroke="{_colour(symbol.outline)}" stroke-width="{OUTLINE_PX}" '
             'stroke-linejoin="round"')
    if symbol.shape == "circle":
        body = f'<circle cx="{c:.2f}" cy="{c:.2f}" r="{r:.2f}" {paint}/>'
    elif symbol.shape == "square":
        body = (f'<rect x="{c - r:.2f}" y="{c - r:.2f}" width="{2 * r:.2f}" height="{2 * r:.2f}" '
                f'rx="{r * 0.22:.2f}" {paint}/>')
    elif symbol.shape == "diamond":
        body = (f'<path d="M{c:.2f},{c - r:.2f} L{c + r:.2f},{c:.2f} L{c:.2f},{c + r:.2f} '
                f'L{c - r:.2f},{c:.2f} Z" {paint}/>')
    else:  # triangle, point up; its base sits low so the code fits in its wide part
        h = r * math.sqrt(3) / 2.0
        top, base = c - r, c + r / 2.0 + (r - h) / 2.0
        body = (f'<path d="M{c:.2f},{top:.2f} L{c + h:.2f},{base:.2f} L{c - h:.2f},{base:.2f} Z" '
                f'{paint}/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:.2f}" height="{size:.2f}" '
            f'viewBox="0 0 {size:.2f} {size:.2f}">{body}</svg>')


_folder: Path | None = None
_lock = threading.Lock()


def _symbol_folder() -> Path:
    global _folder
    with _lock:
        if _folder is None or not _folder.is_dir():
            _folder = Path(tempfile.mkdtemp(prefix="gridmap-symbols-"))
            atexit.register(shutil.rmtree, _folder, ignore_errors=True)
        return _folder


def symbol_file(symbol: Symbol, radius: float, text_chars: int = 0) -> Path:
    """A file holding :func:`symbol_svg` (written once per distinct symbol, mode 0600)."""
    svg = symbol_svg(symbol, radius, text_chars)
    name = hashlib.sha256(svg.encode()).hexdigest()[:24] + ".svg"
    path = _symbol_folder() / name
    if not path.is_file():
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(svg, encoding="utf-8")
        tmp.replace(path)
    return path
