"""A drawing's own georeference: the GEODATA object AutoCAD and Civil 3D write.

A DXF placed on the earth in its CAD program (``GEOGRAPHICLOCATION``) carries a GEODATA
object on its model space: a *design point* in the drawing, the *reference point* it stands
on (in the coordinate system's grid, or as longitude/latitude), the drawing's north, the
factor from drawing units to metres and the coordinate system itself (an XML definition that
names its EPSG code). It may carry a mesh too: points of its grid and their longitude,
latitude, which stand in for a coordinate system without an EPSG code.

:func:`read_geodata` turns it into control points (drawing units to WGS84 lon/lat, through
pyproj), so the drawing is placed by the same fit, and judged by the same diagnosis, as one
with control points typed by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gridmap.errors import GeoreferenceError
from importers.manifest import ControlPoint

#: how far apart the control points made from a GEODATA object are, metres
SPAN_M = 100.0
#: at most this many mesh points become control points
MAX_MESH_POINTS = 64

_LOCAL_GRID, _PROJECTED_GRID, _GEOGRAPHIC = 1, 2, 3
_USER_SCALE, _GRID_SCALE = 2, 3


@dataclass(frozen=True)
class GeodataPlacement:
    """A drawing's GEODATA object as control points (CAD in drawing units, WGS84 lon/lat)."""

    control_points: tuple[ControlPoint, ...]
    #: the coordinate system it is given in, e.g. "EPSG:32616"
    crs: str
    #: one sentence for the import report: what the object says
    description: str


def _geodata_of(doc: Any) -> Any:
    try:
        return doc.modelspace().get_geodata()
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _crs_from_definition(text: str, source: str) -> tuple[CRS, str]:
    """The coordinate system a GEODATA object names: the EPSG code in its XML definition
    (read without entity expansion), or a WKT / "EPSG:n" string."""
    text = (text or "").strip()
    if not text:
        raise GeoreferenceError(f"{source}: the GEODATA object names no coordinate system")
    if text.startswith("<"):
        code, name = _epsg_in_xml(text, source)
        if code is None:
            raise GeoreferenceError(
                f"{source}: the GEODATA coordinate system {name or '(unnamed)'!r} names no "
                "EPSG code; assign one in the CAD program (e.g. an EPSG-coded system), or give "
                "control points in the manifest")
        user = f"EPSG:{code}"
    else:
        user = text
    try:
        crs = CRS.from_user_input(user)
    except CRSError as exc:
        raise GeoreferenceError(
            f"{source}: the GEODATA coordinate system {user[:60]!r} is unknown ({exc})"
        ) from exc
    epsg = crs.to_epsg()
    return crs, f"EPSG:{epsg}" if epsg else crs.name


def _epsg_in_xml(text: str, source: str) -> tuple[int | None, str]:
    # namespaces and the declaration (often "UTF-16" on what is by now a str) only get in
    # the way of finding the alias
    text = re.sub(r"<\?xml[^>]*\?>", "", text, count=1)
    text = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", text)
    try:
        root = SafeET.fromstring(text)
    except Exception as exc:  # defusedxml refuses entities; a broken XML is as useless
        raise GeoreferenceError(
            f"{source}: the GEODATA coordinate system definition cannot be read ({exc})"
        ) from exc
    name = ""
    for el in root.iter():
        if el.tag.endswith("CoordinateSystem") and el.get("id"):
            name = name or str(el.get("id"))
        if el.tag == "Alias" and el.get("type") == "CoordinateSystem":
            ns = el.find("Namespace")
            if ns is not None and (ns.text or "").strip().upper() == "EPSG CODE":
                try:
                    return int(str(el.get("id"))), name
                except ValueError:
                    continue
    return None, name


def _unit_factor(crs: CRS) -> float:
    """Metres per unit of the grid's first axis (1 for metres, 0.3048 for feet)."""
    axes = crs.axis_info
    return float(axes[0].unit_conversion_factor) if axes else 1.0


def _rotation(north: Any) -> float:
    """Radians to turn drawing vectors counter-clockwise so the drawing's north points up."""
    nx, ny = float(north[0]), float(north[1])
    if not (math.isfinite(nx) and math.isfinite(ny)) or math.hypot(nx, ny) == 0:
        return 0.0
    return math.pi / 2 - math.atan2(ny, nx)


@dataclass(frozen=True)
class _Grid:
    """The grid a GEODATA object's reference point is given in, and the way to the earth."""

    to_lonlat: Callable[[float, float], tuple[float, float]]
    from_lonlat: Callable[[float, float], tuple[float, float]]
    unit_m: float  # metres per grid unit
    name: str  # "EPSG:32616", or what the mesh is
    title: str  # the coordinate system's own name
    crs: CRS | None  # None when the mesh stands in for an unknown coordinate system


def _pyproj_grid(crs: CRS, name: str, ref: tuple[float, float], source: str) -> _Grid:
    if crs.is_geographic:  # a geographic system: work in a metric grid at the reference
        lon, lat = ref
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise GeoreferenceError(
                f"{source}: the GEODATA reference point {ref} is not a longitude, latitude")
        crs = CRS.from_proj4(f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 "
                             "+ellps=WGS84 +units=m")
    inv = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    fwd = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)

    def to_lonlat(e: float, n: float) -> tuple[float, float]:
        lon, lat = inv.transform(e, n)
        return float(lon), float(lat)

    def from_lonlat(lon: float, lat: float) -> tuple[float, float]:
        e, n = fwd.transform(lon, lat)
        return float(e), float(n)

    return _Grid(to_lonlat, from_lonlat, _unit_factor(crs), name, crs.name, crs)


def _mesh_grid(geo: Any, source: str) -> _Grid | None:
    """The GEODATA mesh as the way from its grid to the earth: source points in the grid,
    target points in longitude, latitude (None without 3 usable pairs)."""
    from gridmap.crs import LocalFrame
    from importers.georef import fit_transform
    from importers.manifest import TransformKind

    pairs = [(tuple(s)[:2], tuple(t)[:2])
             for s, t in zip(geo.source_vertices, geo.target_vertices, strict=False)]
    pairs = [(s, t) for s, t in pairs if all(math.isfinite(v) for v in (*s, *t))
             and -180 <= t[0] <= 180 and -90 <= t[1] <= 90][:MAX_MESH_POINTS]
    if len(pairs) < 3:
        return None
    lon0 = sum(t[0] for _, t in pairs) / len(pairs)
    lat0 = sum(t[1] for _, t in pairs) / len(pairs)
    frame = LocalFrame(f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 "
                       "+ellps=WGS84 +units=m")
    try:
        fit = fit_transform([(float(s[0]), float(s[1])) for s, _ in pairs],
                            [frame.xy(float(t[0]), float(t[1])) for _, t in pairs],
                            TransformKind.AFFINE, what=f"{source}: GEODATA mesh")
    except GeoreferenceError:
        return None
    a, b, c, d, e, f = fit.matrix
    det = a * e - b * d

    def to_lonlat(x: float, y: float) -> tuple[float, float]:
        return frame.lonlat(*fit.point(x, y))

    def from_lonlat(lon: float, lat: float) -> tuple[float, float]:
        u, v = frame.xy(lon, lat)
        u, v = u - c, v - f
        return (e * u - b * v) / det, (a * v - d * u) / det

    return _Grid(to_lonlat, from_lonlat, fit.scale, f"its mesh of {len(pairs)} points",
                 "a coordinate system without an EPSG code", None)


def _looks_like_lonlat(p: tuple[float, float]) -> bool:
    return -180 <= p[0] <= 180 and -90 <= p[1] <= 90


def read_geodata(doc: Any, source: str = "drawing") -> GeodataPlacement | None:
    """The drawing's GEODATA object as control points; None if it has none.

    The coordinate system is the EPSG code its definition names (through pyproj); one
    without a code is stood in for by the object's mesh of grid points and their longitude,
    latitude, when it has one. Raises :class:`GeoreferenceError` for an object that cannot be
    used (no coordinate system, an unknown one, a reference point that is not a number),
    naming what is missing.
    """
    geo = _geodata_of(doc)
    if geo is None:
        return None
    dxf = geo.dxf
    design = (float(dxf.design_point[0]), float(dxf.design_point[1]))
    ref = (float(dxf.reference_point[0]), float(dxf.reference_point[1]))
    scale = float(dxf.horizontal_unit_scale)  # drawing units to metres
    if not all(math.isfinite(v) for v in (*design, *ref, scale)) or scale <= 0:
        raise GeoreferenceError(f"{source}: the GEODATA object's points or scale are not "
                                "numbers")
    kind = int(dxf.coordinate_type)
    geographic = False
    try:
        crs, crs_name = _crs_from_definition(geo.coordinate_system_definition, source)
        geographic = crs.is_geographic
        grid = _pyproj_grid(crs, crs_name, ref, source)
    except GeoreferenceError:
        mesh = _mesh_grid(geo, source)
        if mesh is None:
            raise
        grid = mesh
    if kind == _PROJECTED_GRID:
        # the drawing is drawn in the grid itself (in its own units)
        ref = (design[0] * scale / grid.unit_m, design[1] * scale / grid.unit_m)
    elif (kind == _GEOGRAPHIC or geographic) and _looks_like_lonlat(ref):
        ref = grid.from_lonlat(*ref)  # the reference point given as longitude, latitude
    grid_scale = _grid_scale(dxf, grid, ref) if kind != _PROJECTED_GRID else 1.0
    per_unit = scale * grid_scale / grid.unit_m  # grid units per drawing unit
    turn = _rotation(dxf.north_direction)
    cos, sin = math.cos(turn), math.sin(turn)
    step = SPAN_M / scale  # drawing units
    corners = [(0.0, 0.0), (step, 0.0), (step, step), (0.0, step)]
    points = []
    for k, (dx, dy) in enumerate(corners):
        e = ref[0] + per_unit * (cos * dx - sin * dy)
        n = ref[1] + per_unit * (sin * dx + cos * dy)
        lon, lat = grid.to_lonlat(e, n)
        points.append(_point(design[0] + dx, design[1] + dy, lon, lat, f"GEODATA {k + 1}",
                             source))
    north = math.degrees(turn)
    what = {_LOCAL_GRID: "local grid", _PROJECTED_GRID: "projected grid",
            _GEOGRAPHIC: "geographic"}.get(kind, "unknown")
    return GeodataPlacement(
        tuple(points), grid.name,
        f"{source}: placed by its GEODATA object ({what} in {grid.name}, {grid.title}): "
        f"design point ({design[0]:g}, {design[1]:g}) at {ref[0]:.3f}, {ref[1]:.3f}; north "
        f"{abs(north):.2f}\u00b0 {'counter-' if north < 0 else ''}clockwise from the "
        f"drawing's +y; {scale:g} m per drawing unit")


def _grid_scale(dxf: Any, grid: _Grid, ref: tuple[float, float]) -> float:
    """Grid distance per ground distance the object asks for (1 unless it says otherwise)."""
    method = int(dxf.scale_estimation_method)
    if method == _USER_SCALE:
        factor = float(dxf.user_scale_factor)
        return factor if math.isfinite(factor) and factor > 0 else 1.0
    if method == _GRID_SCALE and grid.crs is not None and grid.crs.is_projected:
        from pyproj import Proj

        lon, lat = grid.to_lonlat(*ref)
        try:
            return float(Proj(grid.crs).get_factors(lon, lat).meridional_scale)
        except (CRSError, ValueError, RuntimeError):
            return 1.0
    return 1.0


def _point(x: float, y: float, lon: float, lat: float, name: str,
           source: str) -> ControlPoint:
    try:
        return ControlPoint(cad=(x, y), lonlat=(float(lon), float(lat)), name=name)
    except ValueError as exc:
        raise GeoreferenceError(
            f"{source}: the GEODATA object places the drawing off the earth ({name} at "
            f"{lon}, {lat})") from exc


def read_geodata_file(path: Path) -> GeodataPlacement | None:
    """:func:`read_geodata` of a DXF file (opened as the floor plan reader opens it)."""
    from importers.dxf import open_drawing

    return read_geodata(open_drawing(path), path.name)
