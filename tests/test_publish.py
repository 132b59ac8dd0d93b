"""Nothing that cannot be served is published: the check before a revision is saved.

The attack run on main published 9 imports that then answered 500 on the level GeoJSON for
everyone (a door at -inf, a vertex at nan). Each shape of that damage is refused here, and a
refused import leaves the current revision current on both store backends.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from shapely.geometry import Point, Polygon

import api.import_process
from api.cli import import_manifest
from api.publish import check_servable, tile_at
from api.store import SqlCampusStore
from gridmap.errors import DxfError, Unservable
from gridmap.model import Campus
from importers.campus import ImportResult, import_campus


def _stored_rows(store: SqlCampusStore) -> list[str]:
    """Every campus, revision and feature row the store holds, in a fixed order (PostgreSQL
    returns rows in any order); the audit log, written in batches, is left out."""
    import sqlalchemy

    rows: list[str] = []
    with store.engine.connect() as conn:
        for table in ("campuses", "revisions", "features"):
            rows += [f"{table} {tuple(r)!r}"
                     for r in conn.execute(sqlalchemy.text(f'SELECT * FROM "{table}"'))]
    return sorted(rows)

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "lincoln_ridge"
NAN = float("nan")
INF = float("inf")


@pytest.fixture(scope="module")
def sample_campus() -> Campus:
    return import_campus(SAMPLE / "campus.toml").campus


def _with_door_at(campus: Campus, point: Point) -> Campus:
    door = dataclasses.replace(campus.openings[0], geometry=point)
    return dataclasses.replace(campus, openings=(door, *campus.openings[1:]))


def _with_room(campus: Campus, polygon: Polygon) -> Campus:
    room = dataclasses.replace(campus.units[0], geometry=polygon)
    return dataclasses.replace(campus, units=(room, *campus.units[1:]))


def test_the_sample_campus_is_servable(sample_campus: Campus) -> None:
    distances = check_servable(sample_campus)
    # one line per building on how its nearby answers are measured, for the import report
    assert [line.split(":")[0] for line in distances] == [
        f"Building {b.short_name}" for b in sample_campus.buildings]
    assert all("walking" in line for line in distances)


@pytest.mark.parametrize("point", [Point(-INF, 42.7), Point(-84.43, NAN), Point(INF, INF)])
def test_a_door_that_is_not_a_number_is_refused(sample_campus: Campus, point: Point) -> None:
    bad = _with_door_at(sample_campus, point)
    with pytest.raises(Unservable, match=r"door .* not a number"):
        check_servable(bad)


def test_a_room_vertex_at_nan_is_refused(sample_campus: Campus) -> None:
    coords = list(sample_campus.units[0].geometry.exterior.coords)
    coords[1] = (NAN, coords[1][1])
    with pytest.warns(RuntimeWarning), pytest.raises(Unservable, match=r"room .* not a number"):
        check_servable(_with_room(sample_campus, Polygon(coords)))


def test_a_room_off_the_earth_is_refused(sample_campus: Campus) -> None:
    with pytest.raises(Unservable, match=r"off the earth"):
        check_servable(_with_room(sample_campus, Polygon([(0, 0), (400, 0), (400, 1), (0, 1)])))


def test_a_self_crossing_room_is_refused(sample_campus: Campus) -> None:
    x, y = sample_campus.units[0].geometry.centroid.coords[0]
    bowtie = Polygon([(x, y), (x + 1e-4, y + 1e-4), (x + 1e-4, y), (x, y + 1e-4)])
    with pytest.raises(Unservable, match=r"not a valid geometry .*Self-intersection"):
        check_servable(_with_room(sample_campus, bowtie))


def test_an_empty_room_is_refused(sample_campus: Campus) -> None:
    with pytest.raises(Unservable, match=r"has no geometry"):
        check_servable(_with_room(sample_campus, Polygon()))


@pytest.mark.parametrize(("lon", "lat"), [(-84.4301, 42.7001), (2.35, 48.85), (151.2, -33.9)])
def test_tile_at_agrees_with_web_mercator(lon: float, lat: float) -> None:
    """The tile holding a point, checked against pyproj's EPSG:3857 metres."""
    from pyproj import Transformer

    half = 20037508.342789244
    mx, my = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    for z in (1, 10, 18):
        n = 2 ** z
        assert tile_at(lon, lat, z) == (int((mx + half) / (2 * half) * n),
                                        int((half - my) / (2 * half) * n))
    assert tile_at(-180.0, 89.0, 3) == (0, 0)


def _unservable_import(campus: Campus) -> Campus:
    """The sample as an importer bug might hand it over: one door at -inf."""
    return _with_door_at(campus, Point(-INF, 42.7))


def test_an_unservable_import_is_not_published(store: SqlCampusStore, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Both store backends: revision 1 stays current, the store is byte-for-byte unchanged."""
    folder = tmp_path / "campus"
    shutil.copytree(SAMPLE, folder)
    info, _ = import_manifest(store, folder / "campus.toml", publish=True)
    assert info is not None and info.number == 1
    before = _stored_rows(store)

    real = api.import_process.import_in_sandbox  # the importer runs in a child process

    def broken(*args: object, **kwargs: object) -> ImportResult:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        result.campus = _unservable_import(result.campus)
        return result

    monkeypatch.setattr(api.import_process, "import_in_sandbox", broken)
    with pytest.raises(Unservable, match=r"not published"):
        import_manifest(store, folder / "campus.toml", publish=True)
    assert store.current_revision("lincoln-ridge") == 1
    assert [r.number for r in store.revisions("lincoln-ridge")] == [1]
    assert _stored_rows(store) == before


def test_a_refused_dxf_leaves_the_current_revision(store: SqlCampusStore,
                                                   tmp_path: Path) -> None:
    """A vertex at nan in a floor plan: a named DxfError, and revision 1 stays current."""
    folder = tmp_path / "campus"
    shutil.copytree(SAMPLE, folder)
    import_manifest(store, folder / "campus.toml", publish=True)
    before = _stored_rows(store)
    plan = folder / "B_level1.dxf"
    text = plan.read_text()
    lines = text.split("\n")
    # the first LWPOLYLINE vertex x (group code 10) after an A-AREA layer tag becomes nan
    start = next(i for i in range(len(lines) - 1)
                 if lines[i].strip() == "8" and lines[i + 1].strip() == "A-AREA")
    vx = next(i for i in range(start, len(lines) - 1) if lines[i].strip() == "10")
    lines[vx + 1] = "nan"
    plan.write_text("\n".join(lines))
    with pytest.raises(DxfError, match=r"B_level1\.dxf: LWPOLYLINE \w+ on layer 'A-AREA'"):
        import_manifest(store, folder / "campus.toml", publish=True)
    assert store.current_revision("lincoln-ridge") == 1
    assert _stored_rows(store) == before


def test_an_unservable_import_is_a_client_error_not_a_500() -> None:
    from api.errors import status_for
    from gridmap.errors import ImportFailed, ImportLimitExceeded

    assert status_for(Unservable("campus x: door not a number")) == 422
    assert isinstance(Unservable("x"), ImportFailed)
    assert status_for(ImportLimitExceeded("plan.dxf: entity budget")) == 400
