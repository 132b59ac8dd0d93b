"""Control-point fits: similarity and affine, residuals, refusal of bad control points."""

from __future__ import annotations

import math

import pytest

from gridmap.crs import LocalFrame, local_crs_for
from gridmap.errors import GeoreferenceError
from importers.georef import campus_centre, fit_transform, georeference
from importers.manifest import ControlPoint, TransformKind

CAD = [(0.0, 0.0), (100.0, 0.0), (100.0, 40.0), (0.0, 40.0)]


def _place(pts: list[tuple[float, float]], deg: float, scale: float, tx: float, ty: float
           ) -> list[tuple[float, float]]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return [(scale * (c * x - s * y) + tx, scale * (s * x + c * y) + ty) for x, y in pts]


def test_similarity_recovers_placement() -> None:
    fit = fit_transform(CAD, _place(CAD, 7.0, 1.0, 12.0, -30.0))
    assert fit.rms < 1e-9
    assert fit.rotation_deg == pytest.approx(7.0)
    assert fit.scale == pytest.approx(1.0)
    assert fit.point(50, 20) == pytest.approx(_place([(50, 20)], 7.0, 1.0, 12.0, -30.0)[0])


def test_two_points_are_enough_for_similarity() -> None:
    fit = fit_transform(CAD[:2], _place(CAD[:2], -4.0, 1.0, 5.0, 5.0))
    assert fit.rotation_deg == pytest.approx(-4.0)


def test_affine_recovers_shear() -> None:
    dst = [(1.0 * x + 0.1 * y + 3, 0.05 * x + 0.9 * y - 2) for x, y in CAD]
    fit = fit_transform(CAD, dst, TransformKind.AFFINE)
    assert fit.rms < 1e-9
    assert fit.matrix == pytest.approx((1.0, 0.1, 3.0, 0.05, 0.9, -2.0))


def test_residuals_report_the_perturbed_point() -> None:
    dst = _place(CAD, 3.0, 1.0, 0.0, 0.0)
    dst[2] = (dst[2][0] + 0.4, dst[2][1])
    fit = fit_transform(CAD, dst)
    assert len(fit.residuals) == 4
    assert max(range(4), key=lambda i: fit.residuals[i]) == 2
    assert 0.1 < fit.rms < 0.4


@pytest.mark.parametrize(("kind", "n"), [(TransformKind.SIMILARITY, 1), (TransformKind.AFFINE, 2)])
def test_too_few_points(kind: TransformKind, n: int) -> None:
    with pytest.raises(GeoreferenceError, match=r"needs at least \d control points, got"):
        fit_transform(CAD[:n], CAD[:n], kind, what="A_level1.dxf")


def test_coincident_points_are_degenerate() -> None:
    with pytest.raises(GeoreferenceError, match="degenerate"):
        fit_transform([(5, 5)] * 3, [(0, 0), (1, 1), (2, 2)])


def test_collinear_points_are_degenerate_for_affine() -> None:
    line = [(0.0, 0.0), (10.0, 0.0), (20.0, 0.0)]
    with pytest.raises(GeoreferenceError, match="collinear"):
        fit_transform(line, line, TransformKind.AFFINE)
    assert fit_transform(line, line).rms < 1e-9  # a similarity is fine with a line


def test_all_map_points_identical_is_degenerate() -> None:
    with pytest.raises(GeoreferenceError, match="degenerate"):
        fit_transform(CAD, [(3.0, 3.0)] * 4)


def _control_points(frame: LocalFrame, unit_m: float, bad: float = 0.0) -> list[ControlPoint]:
    pts = []
    for k, (x, y) in enumerate(CAD):
        lx, ly = _place([(x * unit_m, y * unit_m)], 10.0, 1.0, -20.0, 15.0)[0]
        if k == 1:
            lx += bad
        pts.append(ControlPoint(cad=(x, y), lonlat=frame.lonlat(lx, ly)))
    return pts


def test_georeference_in_campus_frame() -> None:
    frame = LocalFrame(local_crs_for(-84.43, 42.70))
    fit = georeference(_control_points(frame, 0.3048), 0.3048, frame)
    assert fit.rms < 0.01
    assert fit.rotation_deg == pytest.approx(10.0, abs=1e-3)


def test_bad_fit_is_refused_with_worst_point() -> None:
    frame = LocalFrame(local_crs_for(-84.43, 42.70))
    with pytest.raises(GeoreferenceError, match=r"A\.dxf.*RMS residual .* exceeds 1\.00 m.*#2"):
        georeference(_control_points(frame, 1.0, bad=8.0), 1.0, frame, what="A.dxf")
    fit = georeference(_control_points(frame, 1.0, bad=8.0), 1.0, frame, max_rms_m=10.0)
    assert fit.rms > 1.0


def test_wrong_units_are_caught_by_scale() -> None:
    frame = LocalFrame(local_crs_for(-84.43, 42.70))
    points = _control_points(frame, 0.3048)  # drawn in feet
    with pytest.raises(GeoreferenceError, match="units wrong"):
        georeference(points, 0.0254, frame)  # ...but read as inches


def test_campus_centre_and_empty() -> None:
    pts = [ControlPoint(cad=(0, 0), lonlat=(-84.0, 42.0)),
           ControlPoint(cad=(1, 0), lonlat=(-84.2, 42.2))]
    assert campus_centre(pts) == pytest.approx((-84.1, 42.1))
    with pytest.raises(GeoreferenceError):
        campus_centre([])
