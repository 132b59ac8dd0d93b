"""A drawing's own georeference: the GEODATA object AutoCAD and Civil 3D write.

A DXF placed on the earth in its CAD program (``GEOGRAPHICLOCATION``) carries a GEODATA
object on its model space: a *design point* in the drawing, the *reference point* it stands
on (in the coordinate system's grid, or as longitude/latitude), the drawing's north, the
factor from drawing units to metres and the coordinate system itself (an XML definition that
names its EPSG code). Civil 3D may add a mesh of source (drawing) and target (grid) points
instead.

:func:`read_geodata` turns either into control points (drawing units to WGS84 lon/lat, through
pyproj), so the drawing is placed by the same fit, and judged by the same diagnosis, as one
with control points typed by hand.
"""

from __future__ import annotations

import math
import re
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


def read_geodata(doc: Any, source: str = "drawing") -> GeodataPlacement | None:
    """The drawing's GEODATA object as control points; None if it has none.

    Raises :class:`GeoreferenceError` for one that cannot be used (no coordinate system, an
    unknown one, a reference point that is not a number), naming what is missing.
    """
    geo = _geodata_of(doc)
    if geo is None:
        return None
    crs, crs_name = _crs_from_definition(geo.coordinate_system_definition, source)
    to_wgs84 = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    sources = [tuple(v)[:2] for v in geo.source_vertices]
    targets = [tuple(v)[:2] for v in geo.target_vertices]
    if len(sources) >= 3 and len(sources) == len(targets):
        return _from_mesh(sources, targets, crs, crs_name, to_wgs84, source)
    dxf = geo.dxf
    design = (float(dxf.design_point[0]), float(dxf.design_point[1]))
    ref = (float(dxf.reference_point[0]), float(dxf.reference_point[1]))
    scale = float(dxf.horizontal_unit_scale)  # drawing units to metres
    if not all(math.isfinite(v) for v in (*design, *ref, scale)) or scale <= 0:
        raise GeoreferenceError(f"{source}: the GEODATA object's points or scale are not "
                                "numbers")
    kind = int(dxf.coordinate_type)
    geographic = crs.is_geographic
    if kind == _GEOGRAPHIC or geographic:
        # the reference point is a longitude, latitude: work in a grid around it
        lon, lat = ref
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise GeoreferenceError(
                f"{source}: the GEODATA reference point {ref} is not a longitude, latitude")
        grid = crs if not geographic else CRS.from_proj4(
            f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m")
        to_wgs84 = Transformer.from_crs(grid, CRS.from_epsg(4326), always_xy=True)
        fwd = Transformer.from_crs(CRS.from_epsg(4326), grid, always_xy=True)
        ref = tuple(float(v) for v in fwd.transform(lon, lat))  # type: ignore[assignment]
        crs = grid
    grid_scale = _grid_scale(dxf, crs, to_wgs84, ref)
    per_unit = scale * grid_scale / _unit_factor(crs)  # grid units per drawing unit
    turn = _rotation(dxf.north_direction)
    cos, sin = math.cos(turn), math.sin(turn)
    step = SPAN_M / scale  # drawing units
    corners = [(0.0, 0.0), (step, 0.0), (step, step), (0.0, step)]
    points = []
    for k, (dx, dy) in enumerate(corners):
        e = ref[0] + per_unit * (cos * dx - sin * dy)
        n = ref[1] + per_unit * (sin * dx + cos * dy)
        lon, lat = to_wgs84.transform(e, n)
        points.append(_point(design[0] + dx, design[1] + dy, lon, lat, f"GEODATA {k + 1}",
                             source))
    north = math.degrees(turn)
    what = {_LOCAL_GRID: "local grid", _PROJECTED_GRID: "projected grid",
            _GEOGRAPHIC: "geographic"}.get(kind, "unknown")
    return GeodataPlacement(
        tuple(points), crs_name,
        f"{source}: placed by its GEODATA object ({what} in {crs_name}, {crs.name}): design "
        f"point ({design[0]:g}, {design[1]:g}) at {ref[0]:.3f}, {ref[1]:.3f}; north "
        f"{abs(north):.2f}\u00b0 {'counter-' if north < 0 else ''}clockwise from the "
        f"drawing's +y; {scale:g} m per drawing unit")


def _grid_scale(dxf: Any, crs: CRS, to_wgs84: Transformer,
                ref: tuple[float, float]) -> float:
    """Grid distance per ground distance the object asks for (1 unless it says otherwise)."""
    method = int(dxf.scale_estimation_method)
    if method == _USER_SCALE:
        factor = float(dxf.user_scale_factor)
        return factor if math.isfinite(factor) and factor > 0 else 1.0
    if method == _GRID_SCALE and crs.is_projected:
        from pyproj import Proj

        lon, lat = to_wgs84.transform(*ref)
        try:
            return float(Proj(crs).get_factors(lon, lat).meridional_scale)
        except (CRSError, ValueError, RuntimeError):
            return 1.0
    return 1.0


def _from_mesh(sources: list[tuple[float, ...]], targets: list[tuple[float, ...]], crs: CRS,
               crs_name: str, to_wgs84: Transformer, source: str) -> GeodataPlacement:
    stride = max(1, len(sources) // MAX_MESH_POINTS)
    points = []
    for k in range(0, len(sources), stride):
        (x, y), (e, n) = sources[k][:2], targets[k][:2]
        lon, lat = (e, n) if crs.is_geographic else to_wgs84.transform(e, n)
        points.append(_point(float(x), float(y), lon, lat, f"GEODATA mesh {k + 1}", source))
    return GeodataPlacement(
        tuple(points), crs_name,
        f"{source}: placed by its GEODATA mesh ({len(sources)} points in {crs_name}, "
        f"{crs.name})")


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
