"""Georeference diagnostics: which point disagrees, wrong units, stretch, shear, swapped lon/lat.

Every case places a drawing on the earth by a known similarity (or a known stretch), spoils it
the way an editor would (a mis-click, lat/lon typed the wrong way round, the wrong units), and
checks that :func:`importers.georef.diagnose_fit` names that mistake, and only that one.
"""

from __future__ import annotations

import json
import math
import time

import pytest

from gridmap.crs import LocalFrame, local_crs_for
from gridmap.errors import GeoreferenceError
from importers.findings import FindingKind, Severity
from importers.georef import FitDiagnosis, diagnose_fit, judge_fit
from importers.manifest import ControlPoint, TransformKind

FRAME = LocalFrame(local_crs_for(-84.43, 42.70))
FT = 0.3048
SQUARE = [(0.0, 0.0), (300.0, 0.0), (300.0, 130.0), (0.0, 130.0)]
TRIANGLE = [(0.0, 0.0), (300.0, 0.0), (150.0, 200.0)]


def _placed(cad: list[tuple[float, float]], *, unit_m: float = FT, turn_deg: float = 10.0,
            stretch_x: float = 0.0, off: dict[int, tuple[float, float]] | None = None,
            ) -> list[ControlPoint]:
    """Control points of a drawing turned ``turn_deg`` and shifted on the ground; its x axis
    stretched by ``stretch_x``; point k moved ``off[k]`` metres (east, north)."""
    c, s = math.cos(math.radians(turn_deg)), math.sin(math.radians(turn_deg))
    points = []
    for k, (x, y) in enumerate(cad):
        mx, my = x * unit_m * (1.0 + stretch_x), y * unit_m
        ex, ny = c * mx - s * my + 25.0, s * mx + c * my - 40.0
        dx, dy = (off or {}).get(k, (0.0, 0.0))
        points.append(ControlPoint(cad=(x, y), lonlat=FRAME.lonlat(ex + dx, ny + dy),
                                   name=f"corner {k + 1}"))
    return points


def _swapped(p: ControlPoint) -> ControlPoint:
    return ControlPoint(cad=p.cad, lonlat=(p.lonlat[1], p.lonlat[0]), name=p.name)


def test_good_points_are_ok_with_their_turn_and_scale() -> None:
    d = diagnose_fit(_placed(SQUARE), TransformKind.SIMILARITY, unit_m=FT)
    assert d.ok and d.advice == () and d.outlier is None and not d.swapped_lonlat
    assert d.rotation_deg == pytest.approx(10.0, abs=1e-3)
    assert d.scale == pytest.approx(FT, rel=1e-4) and d.scale_ratio == pytest.approx(1, abs=1e-4)
    assert d.stretch == pytest.approx(0.0, abs=1e-4)
    assert all(p.residual_m < 0.01 and (p.leave_one_out_m or 0) < 0.01 for p in d.points)


def test_survey_noise_of_a_decimetre_passes() -> None:
    d = diagnose_fit(_placed(SQUARE, off={2: (0.12, 0.0)}), TransformKind.SIMILARITY, unit_m=FT)
    assert d.ok, d.advice


@pytest.mark.parametrize("kind", list(TransformKind))
@pytest.mark.parametrize("bad", [0, 1, 2, 3])
def test_the_point_that_disagrees_is_named_with_how_far_off_it_is(bad: int,
                                                                  kind: TransformKind) -> None:
    """The issue: one point off by 1.1 m hid in a sub-metre RMS. Four points over-determine
    a similarity; an affine only by two numbers, but a CAD plan is neither stretched nor
    sheared, so the three good points are the ones that keep it square."""
    points = _placed(SQUARE, off={bad: (0.66, -0.88)})  # 1.1 m
    d = diagnose_fit(points, kind, unit_m=FT)
    assert d.rms_m < 1.0  # what the import used to judge by
    assert not d.ok
    assert d.outlier == f"corner {bad + 1}"
    assert d.point_error_m == pytest.approx(1.1, abs=0.01)
    loo = {p.name: p.leave_one_out_m for p in d.points}
    assert loo[d.outlier] == pytest.approx(1.1, abs=0.01)
    assert any(f"corner {bad + 1} is 1.1 m" in a for a in d.advice)


def test_points_named_as_the_workspace_names_them_are_not_called_point_twice() -> None:
    """The workspace names its pairs "Point 1", "Point 2"...: the advice and the finding say
    "Point 2 is 1.1 m", not "Point Point 2"."""
    points = [ControlPoint(cad=p.cad, lonlat=p.lonlat, name=f"Point {k + 1}")
              for k, p in enumerate(_placed(SQUARE, off={1: (0.66, -0.88)}))]
    d = diagnose_fit(points, TransformKind.SIMILARITY, unit_m=FT)
    assert any(a.startswith("Point 2 is 1.1 m") for a in d.advice), d.advice
    findings = judge_fit(d, what="the plan", max_point_m=0.5)
    assert findings and all("Point Point" not in f.message for f in findings)
    assert any("Point 2 is 1.1 m" in f.message for f in findings)


def test_three_points_and_a_similarity_find_the_wrong_one_with_the_units() -> None:
    """Three points over-determine a similarity by two numbers; with the drawing's units known,
    the pair of good points is the one whose length matches the drawing."""
    points = _placed(TRIANGLE, off={1: (1.1, 0.0)})  # 1.1 m east: changes both its sides
    d = diagnose_fit(points, TransformKind.SIMILARITY, unit_m=FT)
    assert not d.ok
    assert d.outlier == "corner 2"
    assert d.point_error_m == pytest.approx(1.1, abs=0.01)


def test_three_points_that_cannot_tell_which_is_wrong_say_so() -> None:
    # corner 3 is moved square to the side from corner 2 to 3: corners 2 and 3 stay as far
    # apart as the drawing says, so "corner 1 is wrong" explains the points as well
    c2, c3 = TRIANGLE[1], TRIANGLE[2]
    t = math.radians(10.0)
    side = math.atan2(c3[1] - c2[1], c3[0] - c2[0]) + t + math.pi / 2
    points = _placed(TRIANGLE, off={2: (1.1 * math.cos(side), 1.1 * math.sin(side))})
    d = diagnose_fit(points, TransformKind.SIMILARITY, unit_m=FT)
    assert not d.ok and d.outlier is None
    assert "corner 3" in d.suspects and len(d.suspects) >= 2
    assert any("cannot tell which" in a and "add another point" in a for a in d.advice)


def test_an_affine_through_three_points_has_nothing_to_check_and_says_so() -> None:
    d = diagnose_fit(_placed(TRIANGLE, off={2: (1.0, 0.0)}), TransformKind.AFFINE, unit_m=FT)
    assert all(p.leave_one_out_m is None for p in d.points)
    assert d.rms_m == pytest.approx(0.0, abs=1e-6)
    assert any("passes through every point exactly" in a for a in d.advice)


@pytest.mark.parametrize("kind", list(TransformKind))
def test_a_stretch_of_3_4_percent_is_flagged(kind: TransformKind) -> None:
    d = diagnose_fit(_placed(SQUARE, stretch_x=0.034), kind, unit_m=FT)
    assert d.stretch == pytest.approx(0.034, abs=1e-3)
    assert not d.ok
    assert any("stretch the drawing 3.4%" in a for a in d.advice)


def test_shear_is_measured_in_degrees() -> None:
    # the drawing's y axis leans 2 degrees towards its x axis on the ground
    lean = math.tan(math.radians(2.0))
    cad = SQUARE
    points = [ControlPoint(cad=(x, y), lonlat=FRAME.lonlat((x + lean * y) * FT, y * FT),
                           name=str(k)) for k, (x, y) in enumerate(cad)]
    d = diagnose_fit(points, TransformKind.AFFINE, unit_m=FT)
    assert abs(d.shear_deg or 0.0) == pytest.approx(2.0, abs=0.01)
    assert any("shear the drawing by 2.0" in a for a in d.advice)


def test_a_drawing_in_inches_that_says_millimetres() -> None:
    d = diagnose_fit(_placed(SQUARE, unit_m=0.0254), TransformKind.SIMILARITY, unit_m=0.001)
    assert d.scale == pytest.approx(0.0254, rel=1e-4)
    assert d.scale_ratio == pytest.approx(25.4, rel=1e-4)
    assert any("looks like inches, not millimetres" in a for a in d.advice)
    assert not d.ok


def test_without_declared_units_the_points_say_which_they_look_like() -> None:
    d = diagnose_fit(_placed(SQUARE, unit_m=0.01), TransformKind.SIMILARITY)
    assert d.scale_ratio is None and d.ok
    assert any("in centimetres" in a for a in d.advice)


@pytest.mark.parametrize("n", [2, 4])
def test_lon_lat_typed_the_wrong_way_round(n: int) -> None:
    points = [_swapped(p) for p in _placed(SQUARE[:n])]
    d = diagnose_fit(points, TransformKind.SIMILARITY, unit_m=FT)
    assert d.swapped_lonlat and not d.ok
    assert any("latitude, longitude" in a for a in d.advice)
    # ...and the right way round they are fine
    assert diagnose_fit(_placed(SQUARE[:n]), TransformKind.SIMILARITY, unit_m=FT).ok


def test_one_point_typed_the_wrong_way_round_is_named() -> None:
    points = _placed(SQUARE)
    points[1] = _swapped(points[1])
    d = diagnose_fit(points, TransformKind.SIMILARITY, unit_m=FT)
    assert d.swapped_lonlat and d.outlier == "corner 2"
    assert any("corner 2" in a and "swap" in a for a in d.advice)


def test_a_mirrored_drawing_is_named() -> None:
    points = _placed(SQUARE)
    flipped = [ControlPoint(cad=(p.cad[0], -p.cad[1]), lonlat=p.lonlat, name=p.name)
               for p in points]
    d = diagnose_fit(flipped, TransformKind.AFFINE, unit_m=FT)
    assert d.mirrored and not d.ok


def test_too_few_points() -> None:
    with pytest.raises(GeoreferenceError, match="at least 2"):
        diagnose_fit(_placed(SQUARE[:1]), TransformKind.SIMILARITY)
    d = diagnose_fit(_placed(SQUARE[:2]), TransformKind.AFFINE, unit_m=FT)
    assert d.transform is TransformKind.SIMILARITY
    assert any("affine fit needs 3 points" in a for a in d.advice)


def test_the_diagnosis_is_json_and_fast_enough_for_every_click() -> None:
    points = _placed([*SQUARE, (150.0, 65.0), (40.0, 100.0)], off={2: (1.0, 1.0)})
    diagnose_fit(points, TransformKind.AFFINE, unit_m=FT)  # warm the frame
    start = time.perf_counter()
    for _ in range(20):
        d = diagnose_fit(points, TransformKind.AFFINE, unit_m=FT)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.1, f"{per_call * 1000:.1f} ms per diagnosis"
    data = json.loads(json.dumps(d.to_dict()))
    assert data["outlier"] == "corner 3"
    assert [p["name"] for p in data["points"]] == [p.name for p in points]


def test_the_diagnosis_comes_back_from_its_dict() -> None:
    d = diagnose_fit(_placed(SQUARE, off={1: (1.0, 0.5)}), TransformKind.SIMILARITY, unit_m=FT)
    assert FitDiagnosis.from_dict(json.loads(json.dumps(d.to_dict()))) == d


def test_the_import_refuses_a_stretch_that_moves_a_school_not_a_shed() -> None:
    """3.4 % of a 90 m school moves its ends by 1.5 m: refused. Of a 9 m shed: 15 cm."""
    school = diagnose_fit(_placed(SQUARE, stretch_x=0.034), TransformKind.AFFINE, unit_m=FT)
    shed = diagnose_fit(_placed([(x / 10, y / 10) for x, y in SQUARE], stretch_x=0.034),
                        TransformKind.AFFINE, unit_m=FT)
    assert school.extent_m == pytest.approx(math.hypot(300, 130) * FT * 1.03, rel=0.02)
    for d, severity in ((school, Severity.ERROR), (shed, Severity.WARNING)):
        verdict = judge_fit(d, what="A.dxf")
        assert [f.severity for f in verdict] == [severity]
        assert verdict[0].kind is FindingKind.GEOREFERENCE
        assert verdict[0].message.startswith("A.dxf: The points stretch the drawing 3.4%")
    # a scanned plan: the limit raised, a warning only
    assert [f.severity for f in judge_fit(school, what="A", max_stretch=0.05)] == [
        Severity.WARNING]


@pytest.mark.parametrize(("off_m", "severity"), [(0.7, Severity.WARNING), (1.1, Severity.ERROR)])
def test_the_import_judges_a_wrong_point_by_how_far_off_it_is(off_m: float,
                                                              severity: Severity) -> None:
    points = _placed(SQUARE, off={3: (off_m, 0.0)})
    verdict = judge_fit(diagnose_fit(points, TransformKind.SIMILARITY, unit_m=FT), what="A")
    assert [(f.severity, f.ref, f.at) for f in verdict] == [
        (severity, "corner 4", points[3].lonlat)]


def test_thousands_of_points_are_refused_not_pondered() -> None:
    grid = [(float(x), float(y)) for x in range(0, 300, 5) for y in range(0, 130, 5)]
    with pytest.raises(GeoreferenceError, match="more than a drawing needs"):
        diagnose_fit(_placed(grid), TransformKind.SIMILARITY, unit_m=FT)


def test_a_point_kilometres_away_is_one_error_naming_it() -> None:
    points = _placed(SQUARE)
    far = points[2]
    points[2] = ControlPoint(cad=far.cad, lonlat=(far.lonlat[0] + 1.0, far.lonlat[1]),
                             name=far.name)  # a degree of longitude off: 82 km here
    d = diagnose_fit(points, TransformKind.SIMILARITY, unit_m=FT)
    assert d.outlier == "corner 3" and not d.swapped_lonlat
    assert d.point_error_m == pytest.approx(82_000, rel=0.02)
    verdict = judge_fit(d, what="A")
    assert [(f.severity, f.message) for f in verdict] == [
        (Severity.ERROR, "A: Point corner 3 lies 82 km from the others: check its longitude "
                         "and latitude.")]
