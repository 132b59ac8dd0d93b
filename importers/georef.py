"""Place a CAD drawing on the earth from control points.

A drawing's coordinates (already scaled to metres) are fitted to the campus's local metric
frame (:func:`gridmap.crs.local_crs_for`) by least squares: a similarity (uniform scale,
rotation, translation; 4 parameters, >= 2 points) by default, or a full affine (6 parameters,
>= 3 non-collinear points) on request. The fit reports each point's residual and the RMS in
metres; a fit worse than the threshold is refused, because a misplaced floor plan sends
officers to the wrong door.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from gridmap.crs import G, LocalFrame, local_crs_for
from gridmap.errors import GeoreferenceError
from importers.manifest import ControlPoint, TransformKind


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
