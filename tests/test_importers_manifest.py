"""campus.toml validation: every failure names the file and the key."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gridmap.errors import GridmapError, ManifestError
from importers.campus import build_campus, import_campus
from importers.manifest import LayerOverrides, Layers, load_manifest

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "lincoln_ridge"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    dest = tmp_path / "campus"
    shutil.copytree(SAMPLE, dest)
    return dest / "campus.toml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_sample_manifest_loads(sample: Path) -> None:
    lm = load_manifest(sample)
    m = lm.manifest
    assert m.campus.id == "lincoln-ridge"
    assert [b.id for b in m.buildings] == ["A", "B", "C"]
    assert len(m.buildings[0].levels) == 2
    assert m.layers.rooms == "A-AREA"
    assert len(m.buildings[0].control_points_for(m.buildings[0].levels[1])) == 4


def test_missing_dxf_names_its_path_as_written(sample: Path) -> None:
    (sample.parent / "A_level2.dxf").unlink()
    with pytest.raises(ManifestError) as err:
        import_campus(sample)
    msg = str(err.value)
    assert "campus.toml" in msg and "buildings[0].levels[1].dxf" in msg
    assert "'A_level2.dxf'" in msg and "does not exist" in msg


def test_missing_pois_file(sample: Path) -> None:
    _edit(sample, 'pois = "pois.csv"', 'pois = "gis/pois_2024.csv"')
    with pytest.raises(ManifestError, match=r"files\.pois names 'gis/pois_2024\.csv'"):
        load_manifest(sample)


@pytest.mark.parametrize(("old", "new", "key"), [
    ('parcel = "parcel.geojson"', 'parcel = "../../etc/passwd"', "files.parcel"),
    ('pois = "pois.csv"', 'pois = "/etc/passwd"', "files.pois"),
    ('grounds = "grounds.geojson"', 'grounds = "../outside.geojson"', "files.grounds"),
    ('dxf = "A_level2.dxf"', 'dxf = "plans/../../outside.dxf"', "buildings[0].levels[1].dxf"),
])
def test_files_outside_the_manifest_folder_are_refused(sample: Path, old: str, new: str,
                                                        key: str) -> None:
    # the targets outside exist and are readable: refused for where they are, not what they hold
    shutil.copy(sample.parent / "grounds.geojson", sample.parent.parent / "outside.geojson")
    shutil.copy(sample.parent / "A_level2.dxf", sample.parent.parent / "outside.dxf")
    _edit(sample, old, new)
    for load in (lambda: load_manifest(sample), lambda: import_campus(sample),
                 lambda: build_campus(load_manifest(sample, check_files=False))):
        with pytest.raises(ManifestError, match=rf"campus\.toml: {re.escape(key)} names .*"
                                                r"outside the manifest's folder"):
            load()


def test_a_link_leading_out_of_the_manifest_folder_is_refused(sample: Path) -> None:
    outside = sample.parent.parent / "parcel_elsewhere.geojson"
    shutil.copy(sample.parent / "parcel.geojson", outside)
    (sample.parent / "linked.geojson").symlink_to(outside)
    _edit(sample, 'parcel = "parcel.geojson"', 'parcel = "linked.geojson"')
    with pytest.raises(ManifestError, match=r"files\.parcel names 'linked\.geojson', which is "
                                            r"outside"):
        load_manifest(sample)


def test_files_in_a_subfolder_are_fine(sample: Path) -> None:
    (sample.parent / "gis").mkdir()
    (sample.parent / "parcel.geojson").rename(sample.parent / "gis" / "parcel.geojson")
    _edit(sample, 'parcel = "parcel.geojson"', 'parcel = "gis/./parcel.geojson"')
    assert import_campus(sample).campus.parcel is not None


def test_import_writes_nothing(sample: Path) -> None:
    """Importing only reads: the upload folder (and its parent) are left exactly as they were."""
    def snapshot() -> dict[str, tuple[bytes, int]]:
        return {str(f.relative_to(sample.parent.parent)): (f.read_bytes(), f.stat().st_mtime_ns)
                for f in sorted(sample.parent.parent.rglob("*")) if f.is_file()}

    before = snapshot()
    import_campus(sample)
    assert snapshot() == before


def test_malformed_toml(sample: Path) -> None:
    _edit(sample, 'id = "lincoln-ridge"', 'id = "lincoln-ridge')
    with pytest.raises(ManifestError, match=r"campus\.toml: malformed TOML.*line 3"):
        load_manifest(sample)


def test_missing_key_is_named(sample: Path) -> None:
    _edit(sample, "cell_size = 100\n", "")
    with pytest.raises(ManifestError, match=r"campus\.toml: invalid manifest: grid\.cell_size"):
        load_manifest(sample)


def test_bad_value_is_named(sample: Path) -> None:
    _edit(sample, 'unit = "ft"', 'unit = "furlong"')
    with pytest.raises(ManifestError, match=r"grid\.unit"):
        load_manifest(sample)


def test_unknown_key_is_refused(sample: Path) -> None:
    _edit(sample, "margin_cells = 1", "margin_cells = 1\ncell_colour = 3")
    with pytest.raises(ManifestError, match=r"grid\.cell_colour"):
        load_manifest(sample)


def test_main_entrance_on_missing_level(sample: Path) -> None:
    _edit(sample, "main_entrance = { level = 0, near = [175.0",
          "main_entrance = { level = 3, near = [175.0")
    with pytest.raises(ManifestError, match=r"buildings\[1\].*main_entrance\.level 3"):
        load_manifest(sample)


def test_unreadable_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"cannot read manifest nope\.toml"):
        load_manifest(tmp_path / "nope.toml")


@pytest.mark.parametrize(("written", "metres"), [("ft", 0.3048), ("us_ft", 1200 / 3937),
                                                 ("yd", 0.9144), ("dm", 0.1), ("in", 0.0254)])
def test_level_units_for_a_unitless_drawing(sample: Path, written: str, metres: float) -> None:
    _edit(sample, 'dxf = "C_level1.dxf"', f'dxf = "C_level1.dxf"\nunits = "{written}"')
    unit = load_manifest(sample).manifest.buildings[2].levels[0].units
    assert unit is not None and unit.metres == pytest.approx(metres, rel=1e-12)


def test_layer_overrides() -> None:
    base = Layers()
    got = LayerOverrides(rooms="ROOMS").apply(base)
    assert got.rooms == "ROOMS" and got.labels == "A-AREA-IDEN"


@pytest.mark.parametrize(("old", "new", "key", "why"), [
    ('parcel = "parcel.geojson"', r'parcel = "parcel\u0000.geojson"', "files.parcel",
     "embedded null byte"),
    ('dxf = "A_level2.dxf"', f'dxf = "{"x" * 300}.dxf"', "buildings[0].levels[1].dxf",
     "File name too long"),
])
def test_a_file_name_the_os_cannot_hold_is_a_manifest_error(sample: Path, old: str, new: str,
                                                             key: str, why: str) -> None:
    """A NUL byte or an over-long name is the manifest's fault, told as such (naming the key),
    never a bare ValueError or OSError; and the message does not spell out the server's
    folders."""
    _edit(sample, old, new)
    for load in (lambda: load_manifest(sample), lambda: import_campus(sample),
                 lambda: build_campus(load_manifest(sample, check_files=False))):
        with pytest.raises(ManifestError, match=rf"campus\.toml: {re.escape(key)} names .*"
                                                rf"not a usable file name \({why}\)") as err:
            load()
        assert str(sample.parent) not in str(err.value)


# --- numbers a campus cannot use: NaN, infinity, absurd sizes (attack findings) ---------------


@pytest.mark.parametrize(("old", "new", "key"), [
    ("cell_size = 100", "cell_size = nan", "grid.cell_size"),
    ("cell_size = 100", "cell_size = inf", "grid.cell_size"),
    ("cell_size = 100", "cell_size = 1e300", "grid"),
    ("margin_cells = 1", "margin_cells = 1000000000", "grid.margin_cells"),
    ("margin_cells = 1", "margin_cells = 1\ncolumns = 1000000", "grid.columns"),
    ("margin_cells = 1", "margin_cells = 1\norigin = [nan, 42.7]", "grid.origin"),
    ("max_rms_m = 1.0", "max_rms_m = inf", "georef.max_rms_m"),
    ('cad = [320.0, 0.0], lonlat = [-84.4295419, 42.6999100]',
     'cad = [320.0, 0.0], lonlat = [nan, 42.6999100]', "buildings[0].control_points[1].lonlat"),
    ('cad = [320.0, 0.0], lonlat = [-84.4295419, 42.6999100]',
     'cad = [-inf, 0.0], lonlat = [-84.4295419, 42.6999100]', "buildings[0].control_points[1].cad"),
    ('cad = [320.0, 0.0], lonlat = [-84.4295419, 42.6999100]',
     'cad = [1e300, 0.0], lonlat = [-84.4295419, 42.6999100]',
     "buildings[0].control_points[1].cad"),
    ("near = [160.0, 0.0]", "near = [nan, 0.0]", "buildings[0].main_entrance.near"),
])
def test_non_finite_or_absurd_numbers_are_named(sample: Path, old: str, new: str,
                                                key: str) -> None:
    _edit(sample, old, new)
    with pytest.raises(ManifestError) as err:
        import_campus(sample)
    msg = str(err.value)
    assert msg.startswith("campus.toml: invalid manifest:")
    assert key in msg


@pytest.mark.parametrize(("grid", "limit"), [
    ("columns = 702\nrows = 999", "10,000 cells"),  # the attack's 702x999 grid: 907 MB
    ("columns = 101\nrows = 100", "10,000 cells"),
])
def test_a_grid_larger_than_a_campus_needs_is_refused(sample: Path, grid: str,
                                                      limit: str) -> None:
    _edit(sample, "cell_size = 100\nunit = \"ft\"", f"cell_size = 1\nunit = \"m\"\n{grid}")
    with pytest.raises(ManifestError, match=limit):
        load_manifest(sample)


def test_a_grid_wider_than_a_campus_is_refused(sample: Path) -> None:
    _edit(sample, "margin_cells = 1", "margin_cells = 1\ncolumns = 170")  # 170 x 100 ft
    with pytest.raises(ManifestError, match=r"5,182 m across.*at most 5,000 m") as err:
        load_manifest(sample)
    assert "grid" in str(err.value)
    _edit(sample, "columns = 170", "columns = 160")  # 160 x 100 ft = 4.9 km: allowed
    assert load_manifest(sample).manifest.grid.columns == 160


def test_the_grid_cap_holds_for_a_grid_fitted_to_a_huge_parcel(sample: Path) -> None:
    """No manifest key is too big, but the parcel spans 50 km: the fitted grid is refused."""
    parcel = sample.parent / "parcel.geojson"
    parcel.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                      '"properties": {}, "geometry": {"type": "Polygon", "coordinates": '
                      '[[[-84.7, 42.5], [-84.1, 42.5], [-84.1, 42.9], [-84.7, 42.9], '
                      '[-84.7, 42.5]]]}}]}')
    with pytest.raises(GridmapError, match=r"grid .* at most 5,000 m|larger than a campus"):
        import_campus(sample)


def test_deeply_nested_toml_is_a_manifest_error(tmp_path: Path) -> None:
    path = tmp_path / "campus.toml"
    path.write_text("a = " + "[" * 100_000)
    with pytest.raises(ManifestError, match=r"campus\.toml: malformed TOML"):
        load_manifest(path)


def test_the_attack_grid_of_702_by_999_cells_of_100_ft_is_refused(sample: Path) -> None:
    """The grid that made /grid.geojson 907 MB and the server 5.2 GB."""
    _edit(sample, "margin_cells = 1", "margin_cells = 1\ncolumns = 702\nrows = 999")
    with pytest.raises(ManifestError, match=r"30,450 m across; a campus grid may span at most"):
        load_manifest(sample)


def test_the_largest_grid_allowed_answers_in_bounded_size() -> None:
    """At the cap (100 x 100 cells of 50 m = 5 km) the grid GeoJSON is under 25 MB (the
    attack's 702 x 999 grid gave 907 MB)."""
    import dataclasses
    import json

    from api.geo import grid_feature_collection
    from gridmap.model import MAX_GRID_CELLS, MAX_GRID_EXTENT_M, GridSpec, LengthUnit

    campus = import_campus(SAMPLE / "campus.toml").campus
    side = int(MAX_GRID_CELLS ** 0.5)
    cap = GridSpec(campus.grid.origin_x, campus.grid.origin_y, MAX_GRID_EXTENT_M / side,
                   LengthUnit.METRE, side, side)
    body = json.dumps(grid_feature_collection(dataclasses.replace(campus, grid=cap)))
    assert body.count('"grid_cell"') == MAX_GRID_CELLS
    assert len(body) < 25_000_000
