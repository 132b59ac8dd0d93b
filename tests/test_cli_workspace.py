"""``gridmap workspace``: the workspace's steps from the command line, in-process through
``main([...])``, on SQLite and PostgreSQL: a drawing with renamed layers is added (its analysis
job run with a progress bar, as ``gridmap import`` shows one), its proposal shown, its layers
confirmed and control points placed (the fit printed), imported (progress),
reported, a room renumbered; ``gridmap publish`` then makes ``gridmap lookup`` find it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from ezdxf.filemanagement import readfile

from api import cli
from api.settings import Settings
from api.store import SqlCampusStore
from api.store_identity import OrgKind, identity
from api.store_workspace import workspaces
from gridmap.errors import CampusNotFound

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "lincoln_ridge"
CAMPUS = "cli-school"


@pytest.fixture
def renamed(tmp_path: Path) -> Path:
    doc = readfile(SAMPLE / "A_level1.dxf")
    for old, new in {"A-AREA": "PIECES", "A-AREA-IDEN": "NUMEROS", "A-DOOR": "PORTES",
                     "A-FLOR-OTLN": "CONTOUR"}.items():
        doc.layers.get(old).rename(new)
    path = tmp_path / "rdc.dxf"
    doc.saveas(path)
    return path


@pytest.fixture
def district(store: SqlCampusStore, settings: Settings) -> str:
    return identity(store).create_org("CLI district", OrgKind.DISTRICT).id


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_workspace_from_the_command_line(
    capsys: pytest.CaptureFixture[str], store: SqlCampusStore, district: str, renamed: Path,
) -> None:
    code, out, err = run(capsys, "workspace", "new", CAMPUS, "--name", "CLI School")
    assert code == 0, err
    ws = out.strip()
    assert re.fullmatch(r"ws_[0-9a-f]+", ws)
    assert workspaces(store).get(ws).org_id == district

    code, out, err = run(capsys, "workspace", "add", ws, str(renamed),
                         str(SAMPLE / "parcel.geojson"))
    assert code == 0, err
    assert "rdc.dxf: dxf" in out and "parcel.geojson: parcel" in out
    assert "rooms PIECES" in out and "labels NUMEROS" in out
    # the analysis job's progress, as gridmap import's bar writes it to a log: rising percents
    said = [int(p) for p in re.findall(r"^analysis +(\d+)% reading rdc\.dxf", err, re.M)]
    assert len(said) >= 3 and said == sorted(said), err
    assert "proposing the layers" in err

    code, out, err = run(capsys, "workspace", "show", ws)
    assert code == 0, err
    assert re.search(r"rooms\s+PIECES \(", out)  # the proposal, with its reason
    assert "layer PIECES: 20 closed outlines" in out  # counts per layer

    code, out, err = run(capsys, "workspace", "set", ws, "rdc.dxf", "--building", "A",
                         "--building-name", "Main", "--level", "0", "--level-name", "1st Floor",
                         "--short-name", "1", "--rooms", "PIECES", "--labels", "NUMEROS",
                         "--doors", "PORTES", "--outline", "CONTOUR", "--unit", "ft")
    assert code == 0, err
    manifest = tomllib.loads((SAMPLE / "campus.toml").read_text())
    points = next(b for b in manifest["buildings"] if b["id"] == "A")["control_points"]
    for p in points:
        code, out, err = run(capsys, "workspace", "point", ws, "rdc.dxf", "--cad",
                             f"{p['cad'][0]},{p['cad'][1]}",
                             f"--lonlat={p['lonlat'][0]},{p['lonlat'][1]}", "--name", p["name"])
        assert code == 0, err
    rms = float(re.search(r"RMS ([0-9.]+) m", out).group(1))  # type: ignore[union-attr]
    assert rms < 0.5
    assert all(p["name"] in out for p in points)  # a residual per point

    code, out, err = run(capsys, "workspace", "import", ws)
    assert code == 0, err
    assert "100%" in err  # progress
    draft = int(re.search(r"draft revision (\d+)", out).group(1))  # type: ignore[union-attr]
    stored = store.campus(CAMPUS, draft)
    assert f"{sum(1 for u in stored.units if not u.approximate)} rooms" in out

    code, out, err = run(capsys, "workspace", "report", ws)
    assert code == 0 and f"report of revision {draft}" in out

    room = next(u for u in stored.units if u.number == "101")
    code, out, err = run(capsys, "workspace", "edit", ws, "room", "101", "--number", "1101")
    assert code == 0, err
    fixed = int(re.search(r"draft revision (\d+)", out).group(1))  # type: ignore[union-attr]
    assert fixed > draft
    assert next(u for u in store.campus(CAMPUS, fixed).units if u.id == room.id).number == "1101"

    code, out, err = run(capsys, "publish", CAMPUS, "--revision", str(fixed),
                         "--expect-current", "none")
    assert code == 0, err
    code, out, err = run(capsys, "lookup", CAMPUS, "room 1101")
    assert code == 0, err
    assert "Room 1101" in out


def test_cli_refusals_name_the_problem(
    capsys: pytest.CaptureFixture[str], store: SqlCampusStore, district: str, renamed: Path,
    tmp_path: Path,
) -> None:
    code, _, err = run(capsys, "workspace", "show", "ws_0000")
    assert code == 2 and "no workspace 'ws_0000'" in err
    code, _, err = run(capsys, "workspace", "new", "Bad Id!")
    assert code == 2 and "campus id" in err
    ws = run(capsys, "workspace", "new", CAMPUS)[1].strip()
    dwg = tmp_path / "plan.dwg"
    dwg.write_bytes(b"AC1027" + bytes(64))
    code, _, err = run(capsys, "workspace", "add", ws, str(dwg))
    assert code == 2 and "DWG" in err and "DXF" in err
    code, _, err = run(capsys, "workspace", "add", ws, str(tmp_path / "missing.dxf"))
    assert code == 2 and "no such file" in err
    damaged = tmp_path / "Ebene 1.dxf"  # binary DXF by its first bytes, then junk
    damaged.write_bytes(b"AutoCAD Binary DXF\r\n\x1a\x00" + bytes(range(256)) * 12)
    code, _, err = run(capsys, "workspace", "add", ws, str(damaged))
    assert code == 2 and "Ebene 1.dxf" in err and "cannot be opened" in err, err
    assert workspaces(store).get(ws).files == ()  # not kept
    code, out, err = run(capsys, "workspace", "show", ws)
    assert code == 0 and "not kept: Ebene 1.dxf" in out
    assert run(capsys, "workspace", "add", ws, str(renamed))[0] == 0
    code, _, err = run(capsys, "workspace", "point", ws, "rdc.dxf", "--cad", "nan,0",
                         "--lonlat=-84.43,42.7")
    assert code == 2 and "finite" in err
    code, _, err = run(capsys, "workspace", "point", ws, "rdc.dxf", "--cad", "0,0",
                         "--lonlat=42.7,-184.43")
    assert code == 2 and "longitude" in err
    code, _, err = run(capsys, "workspace", "set", ws, "nope.dxf", "--level", "1")
    assert code == 2 and "rdc.dxf" in err  # names the drawings it has
    code, _, err = run(capsys, "workspace", "set", ws, "rdc.dxf", "--rooms", "A-AREA")
    assert code == 2 and "PIECES" in err  # names the layers the drawing has
    code, _, err = run(capsys, "workspace", "import", ws)
    assert code == 2 and "control points" in err
    code, _, err = run(capsys, "workspace", "edit", ws, "room", "101", "--number", "1")
    assert code == 2 and "import" in err
    with pytest.raises(CampusNotFound):  # nothing was imported
        store.revisions(CAMPUS)
