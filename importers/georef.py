"""Place a CAD drawing on the earth from control points.

A drawing's coordinates (already scaled to metres) are fitted to the campus's local metric
frame (:func:`gridmap.crs.local_crs_for`) by least squares: a similarity (uniform scale,
rotation, translation; 4 parameters, >= 2 points) by default, or a full affine (6 parameters,
>= 3 non-collinear points) on request. The fit reports each point's residual and the RMS in
metres; a fit worse than the threshold is refused, because a misplaced floor plan sends
officers to the wrong door.

:func:`diagnose_fit` says what is wrong with a set of control points (the point that
disagrees, the drawing's units, a stretch or shear, a mirrored plan, swapped lon/lat) in numbers
and sentences, for the workspace's live fit; :func:`judge_fit` turns that into the import's
verdict (refuse, or warn) as findings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from gridmap.crs import G, LocalFrame, local_crs_for
from gridmap.errors import GeoreferenceError
from importers.findings import Finding, FindingKind, Severity
from importers.manifest import ControlPoint, DrawingUnit, TransformKind


@dataclass(frozen=True)
class Fit:
    """x' = a*x + b*y + c ; y' = d*x + e*y + f, from CAD metres to local metres."""

    kind: TransformKind
    matrix: tuple[float, float, float, float, float, float]
    residuals: tuple[float, ...]
    rms: float

    @property
    def scale(self) -> float:
        """Mean linear scale (sqrt of the determinant's magnitude)."""
        a, b, _, d, e, _ = self.matrix
        return math.sqrt(abs(a * e - b * d))

    @property
    def rotation_deg(self) -> float:
        """Counter-clockwise rotation of CAD +x relative to local east."""
        a, _, _, d, _, _ = self.matrix
        return math.degrees(math.atan2(d, a))

    def apply_xy(self, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        a, b, c, d, e, f = self.matrix
        return np.column_stack(
            [a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f]
        )

    def point(self, x: float, y: float) -> tuple[float, float]:
        out = self.apply_xy(np.array([[x, y]], dtype=np.float64))
        return float(out[0, 0]), float(out[0, 1])

    def apply(self, geom: G) -> G:
        out: G = shapely.transform(geom, self.apply_xy)
        return out


def fit_transform(
    src: Sequence[tuple[float, float]],
    dst: Sequence[tuple[float, float]],
    kind: TransformKind = TransformKind.SIMILARITY,
    *,
    what: str = "drawing",
) -> Fit:
    """Least-squares fit mapping ``src`` onto ``dst`` (both in metres)."""
    n = len(src)
    if n != len(dst):
        raise GeoreferenceError(f"{what}: {n} CAD points but {len(dst)} map points")
    need = 2 if kind is TransformKind.SIMILARITY else 3
    if n < need:
        raise GeoreferenceError(
            f"{what}: {kind.value} georeference needs at least {need} control points, got {n}"
        )
    s = np.asarray(src, dtype=np.float64)
    t = np.asarray(dst, dtype=np.float64)
    if not (np.isfinite(s).all() and np.isfinite(t).all()):
        raise GeoreferenceError(
            f"{what}: a control point is not a number, or lies too far from the campus to "
            "place on its map (CAD or lon/lat)"
        )
    try:
        return _fit(s, t, kind, what)
    except (np.linalg.LinAlgError, FloatingPointError, OverflowError) as exc:
        raise GeoreferenceError(f"{what}: control points cannot be fitted ({exc})") from exc


def _fit(s: NDArray[np.float64], t: NDArray[np.float64], kind: TransformKind, what: str) -> Fit:
    n = len(s)
    # centre both sets for conditioning; translation is recovered afterwards
    sc, tc = s.mean(axis=0), t.mean(axis=0)
    s0, t0 = s - sc, t - tc
    spread = float(np.sqrt((s0**2).sum(axis=1).max()))
    if spread < 1e-6:
        raise GeoreferenceError(f"{what}: control points are degenerate (all at one CAD spot)")
    if kind is TransformKind.SIMILARITY:
        # x' = p*x - q*y ; y' = q*x + p*y
        a_mat = np.zeros((2 * n, 2))
        a_mat[0::2, 0], a_mat[0::2, 1] = s0[:, 0], -s0[:, 1]
        a_mat[1::2, 0], a_mat[1::2, 1] = s0[:, 1], s0[:, 0]
        rhs = t0.reshape(-1)
        (p, q), *_ = np.linalg.lstsq(a_mat, rhs, rcond=None)
        lin = np.array([[p, -q], [q, p]])
    else:
        # collinear CAD points leave an affine fit underdetermined
        sv = np.linalg.svd(s0, compute_uv=False)
        if sv[-1] < 1e-6 * spread * math.sqrt(n):
            raise GeoreferenceError(
                f"{what}: control points are degenerate (collinear); affine needs three "
                "points that span an area"
            )
        sol, *_ = np.linalg.lstsq(s0, t0, rcond=None)
        lin = sol.T
    if abs(np.linalg.det(lin)) < 1e-12:
        raise GeoreferenceError(f"{what}: control points are degenerate (zero-scale fit)")
    trans = tc - lin @ sc
    matrix = (
        float(lin[0, 0]), float(lin[0, 1]), float(trans[0]),
        float(lin[1, 0]), float(lin[1, 1]), float(trans[1]),
    )
    fitted = Fit(kind, matrix, (), 0.0)
    res = np.sqrt(((fitted.apply_xy(s) - t) ** 2).sum(axis=1))
    rms = float(np.sqrt((res**2).mean()))
    if not (all(math.isfinite(v) for v in matrix) and math.isfinite(rms)):
        raise GeoreferenceError(
            f"{what}: control points are too far apart or too far from the campus to fit "
            "(the fit is not a number)"
        )
    return Fit(kind, matrix, tuple(float(r) for r in res), rms)


def campus_centre(points: Sequence[ControlPoint]) -> tuple[float, float]:
    """Mean lon/lat of every control point: the centre of the campus's local frame."""
    if not points:
        raise GeoreferenceError("no control points anywhere in the manifest")
    lon = sum(p.lonlat[0] for p in points) / len(points)
    lat = sum(p.lonlat[1] for p in points) / len(points)
    return lon, lat


def campus_frame(points: Sequence[ControlPoint]) -> LocalFrame:
    return LocalFrame(local_crs_for(*campus_centre(points)))


def georeference(
    points: Sequence[ControlPoint],
    unit_m: float,
    frame: LocalFrame,
    kind: TransformKind = TransformKind.SIMILARITY,
    *,
    max_rms_m: float = 1.0,
    max_scale_deviation: float = 0.05,
    what: str = "drawing",
) -> Fit:
    """Fit CAD (drawing units, scaled by ``unit_m``) to ``frame`` and check the result.

    Raises :class:`GeoreferenceError` when the RMS exceeds ``max_rms_m`` or the fitted scale
    is off 1 by more than ``max_scale_deviation`` (the drawing's units are probably wrong).
    """
    src = [(p.cad[0] * unit_m, p.cad[1] * unit_m) for p in points]
    dst = [frame.xy(*p.lonlat) for p in points]
    fit = fit_transform(src, dst, kind, what=what)
    if fit.rms > max_rms_m:
        worst = max(range(len(points)), key=lambda i: fit.residuals[i])
        label = points[worst].name or f"#{worst + 1} at CAD {points[worst].cad}"
        raise GeoreferenceError(
            f"{what}: control points fit badly: RMS residual {fit.rms:.2f} m exceeds "
            f"{max_rms_m:.2f} m (worst: point {label}, {fit.residuals[worst]:.2f} m)"
        )
    if abs(fit.scale - 1.0) > max_scale_deviation:
        raise GeoreferenceError(
            f"{what}: control points imply the drawing is scaled by {fit.scale:.4f} after unit "
            f"conversion ({unit_m:g} m per drawing unit); are the drawing's units wrong?"
        )
    return fit


# --- diagnosing a fit ---------------------------------------------------------------------
#
# A fit's RMS alone hides what an editor needs to know: which point is wrong, whether the
# drawing's units are, whether the points stretch the drawing, whether lon/lat were typed the
# wrong way round. :func:`diagnose_fit` says so in numbers and sentences. It is pure and fast
# (a few tiny least-squares fits): the workspace calls it on every click.

#: a point the others place further off than this is named (a warning; the import's
#: ``georef.max_rms_m`` refuses it)
POINT_WARN_M = 0.5
#: the points stretch the drawing along one axis by more than this (1 %): a warning
STRETCH_WARN = 0.01
#: the points shear the drawing by more than this: a warning
SHEAR_WARN_DEG = 1.0
#: the fitted scale differs from the declared units by more than this (1 %): a warning
SCALE_WARN = 0.01
#: a point this far from the others is not on the campus at all
FAR_POINT_M = 20_000.0
#: more control points than this are not clicks or a survey but a mistake (the diagnosis's
#: work grows with the square of their number)
MAX_CONTROL_POINTS = 200

_UNIT_NAMES = {
    DrawingUnit.INCH: "inches", DrawingUnit.FOOT: "feet",
    DrawingUnit.US_SURVEY_FOOT: "US survey feet", DrawingUnit.YARD: "yards",
    DrawingUnit.MILLIMETRE: "millimetres", DrawingUnit.CENTIMETRE: "centimetres",
    DrawingUnit.DECIMETRE: "decimetres", DrawingUnit.METRE: "metres",
}


@dataclass(frozen=True)
class PointResidual:
    """One control point's disagreement with the fit, in metres on the ground.

    ``residual_m`` is its distance from where the fit of all points puts it;
    ``leave_one_out_m`` from where the fit of the *other* points puts it (None when the others
    are too few to place the drawing): a wrong point hides in the first, not in the second.
    """

    name: str
    cad: tuple[float, float]
    lonlat: tuple[float, float]
    residual_m: float
    leave_one_out_m: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "cad": list(self.cad), "lonlat": list(self.lonlat),
                "residual_m": self.residual_m, "leave_one_out_m": self.leave_one_out_m}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PointResidual:
        loo = data.get("leave_one_out_m")
        return cls(str(data["name"]), _pair(data["cad"]), _pair(data["lonlat"]),
                   float(data["residual_m"]), None if loo is None else float(loo))


def _pair(value: Any) -> tuple[float, float]:
    return float(value[0]), float(value[1])


def _maybe(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class FitDiagnosis:
    """What a set of control points says about a drawing's placement, for an editor."""

    transform: TransformKind
    rms_m: float
    points: tuple[PointResidual, ...]
    #: metres per drawing unit as fitted (affine: mean of the two axes)
    scale: float
    declared_unit_m: float | None
    #: fitted / declared metres per drawing unit (1.0: the units are right)
    scale_ratio: float | None
    #: how much longer one drawing axis comes out than the other (0.034: 3.4 %); from an
    #: affine fit of the same points, so a similarity's is known too (None below 3 points)
    stretch: float | None
    #: how far the drawing's axes are from square once placed, degrees (None below 3 points)
    shear_deg: float | None
    #: counter-clockwise turn of the drawing's +x from east
    rotation_deg: float
    #: the point that disagrees with the others (its name, else "#k")
    outlier: str | None
    #: the fit is far better with lon/lat swapped (all points, or the outlier alone)
    swapped_lonlat: bool
    advice: tuple[str, ...]
    ok: bool
    #: the points one of which is off, when the points are too few to tell which
    suspects: tuple[str, ...] = ()
    #: how far the wrong point is off (the outlier's, or the suspects' smallest leave-one-out
    #: residual), metres
    point_error_m: float | None = None
    #: the points put the drawing down mirrored (a similarity cannot do that: it fits badly)
    mirrored: bool = False
    #: how far apart the two farthest control points are on the ground, metres
    extent_m: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "transform": self.transform.value, "rms_m": self.rms_m,
            "points": [p.to_dict() for p in self.points], "scale": self.scale,
            "declared_unit_m": self.declared_unit_m, "scale_ratio": self.scale_ratio,
            "stretch": self.stretch, "shear_deg": self.shear_deg,
            "rotation_deg": self.rotation_deg, "outlier": self.outlier,
            "swapped_lonlat": self.swapped_lonlat, "advice": list(self.advice), "ok": self.ok,
            "suspects": list(self.suspects), "point_error_m": self.point_error_m,
            "mirrored": self.mirrored, "extent_m": self.extent_m,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FitDiagnosis:
        """The inverse of :meth:`to_dict` (an import run in another process sends it so)."""
        return cls(
            transform=TransformKind(data["transform"]), rms_m=float(data["rms_m"]),
            points=tuple(PointResidual.from_dict(p) for p in data["points"]),
            scale=float(data["scale"]), declared_unit_m=_maybe(data.get("declared_unit_m")),
            scale_ratio=_maybe(data.get("scale_ratio")), stretch=_maybe(data.get("stretch")),
            shear_deg=_maybe(data.get("shear_deg")),
            rotation_deg=float(data["rotation_deg"]), outlier=data.get("outlier"),
            swapped_lonlat=bool(data["swapped_lonlat"]), advice=tuple(data["advice"]),
            ok=bool(data["ok"]), suspects=tuple(data.get("suspects", ())),
            point_error_m=_maybe(data.get("point_error_m")),
            mirrored=bool(data.get("mirrored", False)),
            extent_m=float(data.get("extent_m", 0.0)),
        )


def point_label(p: ControlPoint, i: int) -> str:
    """How advice names a control point: its name, else its place in the list (1-based)."""
    return p.name or f"#{i + 1}"


def _tmerc_frame(lon: float, lat: float) -> LocalFrame:
    """A true-north metric frame at (lon, lat), anywhere on the earth (the campus frame is
    limited to the UTM domain; a diagnosis must also read points typed as lat, lon)."""
    return LocalFrame(
        f"+proj=tmerc +lat_0={lat:.6f} +lon_0={lon:.6f} +k=1 +x_0=0 +y_0=0 "
        "+ellps=WGS84 +units=m +no_defs")


_frames: dict[tuple[float, float], LocalFrame] = {}


def _frame_near(lonlats: NDArray[np.float64]) -> LocalFrame:
    """A frame at the points' median (cached: a click moves it by less than the rounding)."""
    lon, lat = np.median(lonlats, axis=0)
    key = (round(float(lon), 3), round(float(lat), 3))
    frame = _frames.get(key)
    if frame is None:
        if len(_frames) > 64:
            _frames.clear()
        frame = _frames[key] = _tmerc_frame(*key)
    return frame


def _ground_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Approximate distance between two lon/lat, metres (good to a few % below 100 km)."""
    lat = math.radians((a[1] + b[1]) / 2)
    dx = (a[0] - b[0]) * math.cos(lat) * 111_320.0
    dy = (a[1] - b[1]) * 110_574.0
    return math.hypot(dx, dy)


def _axes(lin: NDArray[np.float64]) -> tuple[float, float, float]:
    """Stretch (longer axis / shorter - 1), shear (degrees off square) of a 2x2 matrix, and
    whether it mirrors (-1) or not (1)."""
    sx = float(np.hypot(lin[0, 0], lin[1, 0]))
    sy = float(np.hypot(lin[0, 1], lin[1, 1]))
    det = float(np.linalg.det(lin))
    cos = float(lin[:, 0] @ lin[:, 1]) / (sx * sy)
    shear = 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos))))
    return max(sx, sy) / min(sx, sy) - 1.0, shear, 1.0 if det >= 0 else -1.0


def _lin(fit: Fit) -> NDArray[np.float64]:
    a, b, _, d, e, _ = fit.matrix
    return np.array([[a, b], [d, e]])


def _try_fit(src: NDArray[np.float64], dst: NDArray[np.float64],
             kind: TransformKind) -> Fit | None:
    try:
        return fit_transform([tuple(p) for p in src], [tuple(p) for p in dst], kind)
    except GeoreferenceError:
        return None


def _unit_named(metres: float, within: float = 0.03) -> DrawingUnit | None:
    """The drawing unit of about ``metres`` (None if none is within ``within``)."""
    best = min(DrawingUnit, key=lambda u: abs(math.log(metres / u.metres)))
    return best if abs(metres / best.metres - 1.0) <= within else None


def _unit_words(unit_m: float) -> str:
    u = _unit_named(unit_m, 1e-6)
    return _UNIT_NAMES[u] if u is not None else f"{unit_m:g} m per unit"


def _misfit_m(fit: Fit, src: NDArray[np.float64], dst: NDArray[np.float64],
              unit_m: float | None) -> float:
    """How badly a subset of points agrees among itself, in metres: the RMS, plus what an
    exact fit of too few points cannot hide, a scale off the declared units (similarity) or
    a stretch and shear (affine), as metres over the points' spread."""
    spread = float(np.sqrt(((dst - dst.mean(axis=0)) ** 2).sum(axis=1).max()))
    terms = [fit.rms]
    if unit_m is not None and fit.kind is TransformKind.SIMILARITY:
        terms.append(abs(fit.scale / unit_m - 1.0) * spread)
    if fit.kind is TransformKind.AFFINE:
        stretch, shear, _ = _axes(_lin(fit))
        terms += [stretch * spread, math.radians(abs(shear)) * spread]
    return math.sqrt(sum(t * t for t in terms))


@dataclass(frozen=True)
class _Reading:
    """The points read one way (as typed, or with lon/lat swapped), fitted."""

    frame: LocalFrame
    dst: NDArray[np.float64]
    fit: Fit | None
    score_m: float  # rms plus scale error over the spread: lower is more believable


def _read(src: NDArray[np.float64], lonlats: NDArray[np.float64], kind: TransformKind,
          unit_m: float | None, frame: LocalFrame | None) -> _Reading:
    frame = frame or _frame_near(lonlats)
    dst = np.array([frame.xy(float(lon), float(lat)) for lon, lat in lonlats])
    fit = _try_fit(src, dst, kind) if np.isfinite(dst).all() else None
    if fit is None:
        return _Reading(frame, dst, None, math.inf)
    return _Reading(frame, dst, fit, _misfit_m(fit, src, dst, unit_m))


def diagnose_fit(points: Sequence[ControlPoint], transform: TransformKind, *,
                 unit_m: float | None = None, frame: LocalFrame | None = None) -> FitDiagnosis:
    """Fit ``points`` (CAD in drawing units) and say what is wrong with them, if anything.

    ``unit_m`` is what the drawing says a unit is (metres); ``frame`` the campus's local frame
    (default: one at the points). Raises :class:`GeoreferenceError` only when the points
    cannot be fitted at all (fewer than 2, all at one spot).
    """
    pts = list(points)
    advice: list[str] = []
    if transform is TransformKind.AFFINE and len(pts) < 3:
        advice.append("An affine fit needs 3 points; with 2 the drawing is placed by a "
                      "similarity (turn, scale, shift).")
        transform = TransformKind.SIMILARITY
    if len(pts) < 2:
        raise GeoreferenceError(
            f"a georeference needs at least 2 control points, got {len(pts)}")
    if len(pts) > MAX_CONTROL_POINTS:
        raise GeoreferenceError(
            f"{len(pts)} control points are more than a drawing needs (at most "
            f"{MAX_CONTROL_POINTS}); a handful spread over the building is best")
    names = [point_label(p, i) for i, p in enumerate(pts)]
    src = np.array([p.cad for p in pts], dtype=np.float64)
    lonlats = np.array([p.lonlat for p in pts], dtype=np.float64)

    far, swapped_one = _far_points(pts, names, lonlats)
    given = _read(src, lonlats, transform, unit_m, frame)
    swapped_all = False
    if not far and (np.abs(lonlats[:, 0]) <= 90.0).all():
        other = _read(src, lonlats[:, ::-1].copy(), transform, unit_m, None)
        swapped_all = (other.fit is not None and given.score_m > POINT_WARN_M
                       and other.score_m < 0.25 * given.score_m)
        if given.fit is None and other.fit is not None:
            swapped_all = True
    if given.fit is None:
        raise GeoreferenceError(
            "control points are degenerate (all at one spot, or in a line for an affine fit)"
            if not swapped_all else
            "the control points' lon/lat look swapped (typed as latitude, longitude)")
    fit = given.fit
    dst = given.dst

    loo, suspects, outlier, point_error, others_m = _leave_one_out(
        src, dst, transform, unit_m, names)
    if far:
        outlier, suspects = far[0], ()
        point_error = _far_km(pts, names, far[0]) * 1000.0
    if swapped_all:
        outlier, suspects = None, ()
    residuals = tuple(
        PointResidual(names[i], pts[i].cad, pts[i].lonlat, float(fit.residuals[i]), loo[i])
        for i in range(len(pts)))

    stretch = shear = None
    mirrored = False
    if len(pts) >= 3:
        aff = fit if transform is TransformKind.AFFINE else _try_fit(src, dst,
                                                                      TransformKind.AFFINE)
        if aff is not None:
            stretch, shear, sign = _axes(_lin(aff))
            mirrored = sign < 0
    scale = float(np.sqrt(abs(np.linalg.det(_lin(fit)))))
    ratio = None if unit_m is None else scale / unit_m

    problems = 0
    if swapped_one:
        advice.append(
            f"{point_called(swapped_one)} lies {_far_km(pts, names, swapped_one):,.0f} km from "
            "the others; "
            "read as latitude, longitude it lands among them: swap its two numbers.")
        problems += 1
    elif far:
        advice.append(
            f"{point_called(far[0])} lies {_far_km(pts, names, far[0]):,.0f} km from the "
            "others: check "
            "its longitude and latitude.")
        problems += 1
    if swapped_all:
        lat0, lon0 = pts[0].lonlat
        advice.append(
            "The points fit far better with longitude and latitude swapped: they look typed "
            f"as latitude, longitude. Give longitude first (point {names[0]}: "
            f"[{lon0:.7f}, {lat0:.7f}]).")
        problems += 1
    if not far and not swapped_all:
        problems += _point_advice(advice, transform, len(pts), outlier, suspects,
                                  point_error, others_m)
        shape = _shape_advice(advice, transform, stretch, shear, mirrored)
        problems += shape + _scale_advice(advice, scale, unit_m, ratio, quiet=shape > 0)
    return FitDiagnosis(
        transform=transform, rms_m=fit.rms, points=residuals, scale=scale,
        declared_unit_m=unit_m, scale_ratio=ratio, stretch=stretch, shear_deg=shear,
        rotation_deg=fit.rotation_deg, outlier=outlier,
        swapped_lonlat=swapped_all or swapped_one is not None,
        advice=tuple(advice), ok=problems == 0, suspects=suspects,
        point_error_m=point_error, mirrored=mirrored,
        extent_m=float(max(math.dist(a, b) for a in dst for b in dst)),
    )


def point_called(name: str) -> str:
    """A control point as advice names it: "Point NW corner", but "Point 2" as it is, not
    "Point Point 2" (the workspace names its pairs so)."""
    return name if name.lower().startswith("point") else f"Point {name}"


def _far_km(pts: Sequence[ControlPoint], names: Sequence[str], name: str) -> float:
    """How far point ``name`` lies from the median of the points, km."""
    lonlats = np.array([p.lonlat for p in pts], dtype=np.float64)
    med = tuple(float(v) for v in np.median(lonlats, axis=0))
    p = pts[list(names).index(name)]
    return _ground_m(p.lonlat, (med[0], med[1])) / 1000.0


def _far_points(pts: Sequence[ControlPoint], names: Sequence[str],
                lonlats: NDArray[np.float64]) -> tuple[list[str], str | None]:
    """Points far from the others (the farthest first), and the one among them whose swapped
    reading lands among the others."""
    if len(pts) < 3:
        return [], None
    med = (float(np.median(lonlats[:, 0])), float(np.median(lonlats[:, 1])))
    dist = [_ground_m(p.lonlat, med) for p in pts]
    far = sorted((i for i in range(len(pts)) if dist[i] > FAR_POINT_M),
                 key=lambda i: -dist[i])
    for i in far:
        lon, lat = pts[i].lonlat
        if abs(lon) <= 90.0 and _ground_m((lat, lon), med) < FAR_POINT_M:
            return [names[i], *(names[j] for j in far if j != i)], names[i]
    return [names[i] for i in far], None


def _leave_one_out(
    src: NDArray[np.float64], dst: NDArray[np.float64], kind: TransformKind,
    unit_m: float | None, names: Sequence[str],
) -> tuple[list[float | None], tuple[str, ...], str | None, float | None, float | None]:
    """Each point's distance from where the other points put it; the point that disagrees
    (or the suspects, when the points are too few to tell); how far off it is; how well the
    others then agree among themselves (metres)."""
    n = len(src)
    need = 2 if kind is TransformKind.SIMILARITY else 3
    if n - 1 < need:
        return [None] * n, (), None, None, None
    full = _try_fit(src, dst, kind)
    # the declared units help to tell which point is wrong only when they are about right
    use_unit = unit_m if (full is not None and unit_m is not None
                          and abs(full.scale / unit_m - 1.0) <= 0.05) else None
    loo: list[float | None] = []
    misfit: list[float] = []
    for i in range(n):
        keep = np.arange(n) != i
        sub = _try_fit(src[keep], dst[keep], kind)
        if sub is None:
            loo.append(None)
            misfit.append(math.inf)
            continue
        px, py = sub.point(float(src[i, 0]), float(src[i, 1]))
        loo.append(float(math.hypot(px - dst[i, 0], py - dst[i, 1])))
        misfit.append(_misfit_m(sub, src[keep], dst[keep], use_unit))
    known = [i for i in range(n) if loo[i] is not None]
    if not known:
        return loo, (), None, None, None
    worst = max(float(loo[i] or 0.0) for i in known)
    if worst <= POINT_WARN_M:
        return loo, (), None, None, None
    # hypothesis "point k is wrong": the others must then agree among themselves
    order = sorted(known, key=lambda i: misfit[i])
    k = order[0]
    loo_k = float(loo[k] or 0.0)
    runner_up = misfit[order[1]] if len(order) > 1 else math.inf
    # another hypothesis as good (within the others' own noise) leaves it open
    open_within = max(3.0 * misfit[k] + 0.05, 0.15 * loo_k)
    if loo_k > POINT_WARN_M and misfit[k] < loo_k / 3.0 and runner_up >= open_within:
        return loo, (), names[k], loo_k, misfit[k]
    # too few points to tell: every point that, taken out, leaves the others agreeing
    plausible = [i for i in order if misfit[i] < open_within
                 and float(loo[i] or 0.0) > POINT_WARN_M]
    plausible = plausible or order
    return (loo, tuple(names[i] for i in sorted(plausible)), None,
            min(float(loo[i] or 0.0) for i in plausible), None)


def _point_advice(advice: list[str], kind: TransformKind, n: int, outlier: str | None,
                  suspects: tuple[str, ...], point_error: float | None,
                  others_m: float | None) -> int:
    need = 2 if kind is TransformKind.SIMILARITY else 3
    if n == need:
        advice.append(
            f"With {n} points {'a similarity' if kind is TransformKind.SIMILARITY else 'an affine'}"
            " fit passes through every point exactly, so the residuals cannot show a wrong "
            "point: add "
            + ("another point" if kind is TransformKind.SIMILARITY else
               "a 4th point, or use a similarity (which 3 points over-determine)")
            + " to check them.")
        return 0
    if outlier is not None:
        agree = (f"; the others agree within {others_m:.2f} m"
                 if n > need + 1 and others_m is not None else "")
        advice.append(
            f"{point_called(outlier)} is {point_error or 0.0:.1f} m from where the other "
            "points put "
            f"it{agree}: check it (a mis-click, or a corner confused with its neighbour).")
        return 1
    if suspects and (len(suspects) < n or n == need + 1):
        advice.append(
            f"One point is about {point_error or 0.0:.1f} m off, but {n} points cannot tell "
            f"which ({', '.join(suspects)}): add another point you are sure of, far from "
            "these.")
        return 1
    if suspects:
        advice.append(
            f"The points disagree by about {point_error or 0.0:.1f} m and no single point "
            "explains it: several are off, or the drawing does not have the shape the points "
            "give it.")
        return 1
    return 0


def _shape_advice(advice: list[str], kind: TransformKind, stretch: float | None,
                  shear: float | None, mirrored: bool) -> int:
    problems = 0
    if mirrored:
        advice.append(
            "The points put the drawing down mirrored: a point is matched to the wrong "
            "corner, or the plan's x or y axis is flipped.")
        return 1
    how = ("the affine fit stretches the drawing to match" if kind is TransformKind.AFFINE
           else "a similarity cannot follow it, so the residuals grow")
    if stretch is not None and stretch > STRETCH_WARN:
        advice.append(
            f"The points stretch the drawing {stretch * 100:.1f}% more along one axis than "
            f"the other ({how}). A CAD plan is drawn true to scale: a point is probably "
            "off, unless the plan is a scan.")
        problems += 1
    if shear is not None and abs(shear) > SHEAR_WARN_DEG:
        advice.append(
            f"The points shear the drawing by {abs(shear):.1f}\u00b0 (its axes are no longer "
            "square): a point is probably off.")
        problems += 1
    return problems


def _scale_advice(advice: list[str], scale: float, unit_m: float | None,
                  ratio: float | None, *, quiet: bool = False) -> int:
    """Advice on the scale; ``quiet``: a stretch already explains a small deviation."""
    implied = _unit_named(scale)
    if unit_m is None or ratio is None:
        if implied is not None:
            advice.append(f"The points say the drawing is in {_UNIT_NAMES[implied]} "
                          f"({scale:.4g} m per drawing unit).")
        return 0
    if abs(ratio - 1.0) <= SCALE_WARN:
        return 0
    declared = _unit_words(unit_m)
    if implied is not None and abs(ratio - 1.0) > 0.05:
        advice.append(
            f"The points put {scale:.4g} m in a drawing unit, but the drawing says "
            f"{declared}: the drawing looks like {_UNIT_NAMES[implied]}, not {declared}. "
            "Check its units ($INSUNITS, or the level's units).")
    elif not quiet:
        advice.append(
            f"The points make the drawing {abs(ratio - 1.0) * 100:.1f}% "
            f"{'larger' if ratio > 1 else 'smaller'} than its units ({declared}) say: check "
            "the points, or the drawing's units.")
    else:
        return 0
    return 1


def judge_fit(diagnosis: FitDiagnosis, *, what: str, source: str = "",
              max_point_m: float = 1.0, max_stretch: float = 0.03,
              max_shear_deg: float = 3.0, max_scale_deviation: float = 0.05,
              ) -> list[Finding]:
    """The import's verdict on a diagnosed fit, as GEOREFERENCE findings: ERROR where the
    drawing would land wrong by more than the manifest allows (the import refuses), WARNING
    where an editor should look. ``at`` is the control point to look at (lon/lat).

    A stretch or shear beyond its limit is refused only when it moves the drawing's ends by
    more than ``max_point_m`` (3 % of a shed is a few centimetres; of a school, metres)."""
    d = diagnosis
    where = {p.name: p.lonlat for p in d.points}
    out: list[Finding] = []

    def add(severity: Severity, message: str, point: str | None = None) -> None:
        out.append(Finding(
            FindingKind.GEOREFERENCE, f"{what}: {message}", severity, source=source,
            at=where.get(point or ""), ref=point or "", placed_on_earth=True,
            action="refused" if severity is Severity.ERROR else "placed as the points say"))

    def said(key: str) -> str:
        return next((a for a in d.advice if key in a), "")

    if d.swapped_lonlat:
        add(Severity.ERROR, said("swap") or said("latitude, longitude"), d.outlier)
        return out
    off = d.point_error_m or 0.0
    if d.outlier is not None and off > POINT_WARN_M:
        add(Severity.ERROR if off > max_point_m else Severity.WARNING,
            said(f"{point_called(d.outlier)} ") or f"point {d.outlier} is {off:.1f} m off",
            d.outlier)
    elif d.suspects and off > POINT_WARN_M:
        add(Severity.ERROR if off > max_point_m else Severity.WARNING,
            said("cannot tell which") or said("no single point"),
            d.suspects[0] if len(d.suspects) == 1 else None)
    # the shape and the scale are judged only where the diagnosis spoke of them (a point
    # kilometres away or swapped coordinates make them meaningless)
    if d.mirrored and said("mirrored"):
        add(Severity.ERROR, said("mirrored"))
    half = d.extent_m / 2.0
    if d.stretch is not None and d.stretch > STRETCH_WARN and said("stretch the drawing"):
        add(Severity.ERROR if d.stretch > max_stretch and d.stretch * half > max_point_m
            else Severity.WARNING,
            said("stretch the drawing") + (
                f" (georef.max_stretch allows {max_stretch * 100:g}%)"
                if d.stretch > max_stretch else ""))
    if d.shear_deg is not None and abs(d.shear_deg) > SHEAR_WARN_DEG and said("shear the"):
        add(Severity.ERROR if abs(d.shear_deg) > max_shear_deg
            and math.radians(abs(d.shear_deg)) * half > max_point_m else Severity.WARNING,
            said("shear the drawing"))
    if d.scale_ratio is not None and abs(d.scale_ratio - 1.0) > SCALE_WARN:
        sentence = said("drawing unit, but") or said("than its units")
        if sentence:
            add(Severity.ERROR if abs(d.scale_ratio - 1.0) > max_scale_deviation
                else Severity.WARNING, sentence)
    return out
