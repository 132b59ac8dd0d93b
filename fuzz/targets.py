"""What the fuzzer mutates and how each input is judged: its corpus of samples.

Each sample is a set of files one mutant replaces one of, and a *check* (see
:mod:`fuzz.runner`):

``lincoln_ridge``  the sample campus (DXFs, manifest): ``campus``, the whole import, the
                   publish check and every answer the service gives.
``osm_school``     ``tests/fixtures/osm/school.osm`` as a campus's ``files.osm``: ``campus``.
``imdf_school``    ``tests/fixtures/imdf/school.zip`` as a campus's ``files.imdf`` (member
                   JSON and zip structure mutated): ``campus``.
``dxf_fixtures``   every ``tests/fixtures/dxf/*.dxf`` (headerless, damaged, HATCH, MINSERT,
                   walls only, door swings, layer schemes...) read with its sidecar's layers,
                   plus one drawing carrying a GEODATA object: ``drawing``, the floor plan
                   reader, the layer proposal (within its budget), the GEODATA reader and the
                   workspace's analysis of an uploaded drawing.
``uploads``        zips as a workspace upload receives them (drawings, a parcel, an IMDF
                   archive), structure and bytes damaged: ``archive``, the safe unpacking and
                   what the workspace does with each file unpacked.

Cases take the samples in turn (``case % len(SAMPLES)``), so a short run gives each some
inputs. A saved regression's ``case.json`` names its sample; :func:`case_folder` rebuilds the
case from it alone.
"""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fuzz.mutate import Mutant, make_mutant, mutate_dxf, mutate_osm, mutate_zip

REPO = Path(__file__).resolve().parent.parent
LINCOLN = REPO / "data" / "samples" / "lincoln_ridge"
FIXTURES = REPO / "tests" / "fixtures"
DXF_FIXTURES = FIXTURES / "dxf"
SAMPLES = ("lincoln_ridge", "osm_school", "imdf_school", "dxf_fixtures", "uploads")
#: the GEODATA drawing of the ``dxf_fixtures`` sample: feat_r2018 placed in UTM 16N
GEODATA_DXF = "geodata_r2018.dxf"
GEODATA_SIDECAR = "feat_r2018.layers.toml"

INDOOR_MANIFEST = """[campus]
id = "fuzz-school"
name = "Fuzz School"

[grid]
cell_size = 50
unit = "m"

[files]
{key} = "{name}"
"""


@dataclass(frozen=True)
class Case:
    """A case ready to run: the folder, the file the check starts from, the check."""

    folder: Path
    entry: str
    check: str


def sidecar_of(name: str) -> str | None:
    """The layers sidecar a DXF fixture is read with (its own, or the GEODATA drawing's)."""
    if name == GEODATA_DXF:
        return GEODATA_SIDECAR
    sidecar = Path(name).stem + ".layers.toml"
    return sidecar if (DXF_FIXTURES / sidecar).is_file() else None


def case_folder(sample: str, replaces: str, data: bytes, folder: Path) -> Case:
    """Lay a case out in ``folder`` (made): the sample's files with ``replaces`` = ``data``."""
    folder.mkdir(parents=True, exist_ok=True)
    if sample == "lincoln_ridge":
        for f in LINCOLN.iterdir():
            if f.is_file():
                shutil.copy2(f, folder / f.name)
        (folder / replaces).write_bytes(data)
        return Case(folder, "campus.toml", "campus")
    if sample in ("osm_school", "imdf_school"):
        key = "osm" if sample == "osm_school" else "imdf"
        (folder / "campus.toml").write_text(INDOOR_MANIFEST.format(key=key, name=replaces))
        (folder / replaces).write_bytes(data)
        return Case(folder, "campus.toml", "campus")
    if sample == "dxf_fixtures":
        sidecar = sidecar_of(replaces)
        if sidecar is not None:
            shutil.copy2(DXF_FIXTURES / sidecar, folder / (Path(replaces).stem + ".layers.toml"))
        (folder / replaces).write_bytes(data)
        return Case(folder, replaces, "drawing")
    if sample == "uploads":
        (folder / replaces).write_bytes(data)
        return Case(folder, replaces, "archive")
    raise ValueError(f"unknown fuzz sample {sample!r}")


def geodata_drawing() -> bytes:
    """feat_r2018 with a GEODATA object placing it in UTM zone 16N (metres, turned 12°)."""
    import math

    import ezdxf

    doc = ezdxf.readfile(DXF_FIXTURES / "feat_r2018.dxf")  # type: ignore[attr-defined]
    geo = doc.modelspace().new_geodata()
    turn = math.radians(12.0)
    geo.dxf.coordinate_type = 1
    geo.dxf.design_point = (0.0, 0.0, 0.0)
    geo.dxf.reference_point = (701000.0, 4730000.0, 0.0)
    geo.dxf.horizontal_unit_scale = 1.0
    geo.dxf.vertical_unit_scale = 1.0
    geo.dxf.north_direction = (math.sin(turn), math.cos(turn))
    geo.dxf.scale_estimation_method = 1
    geo.coordinate_system_definition = (
        '<?xml version="1.0" encoding="UTF-16" standalone="no" ?>\n'
        '<Dictionary version="1.0" xmlns="http://www.osgeo.org/mapguide/coordinatesystem">'
        '<ProjectedCoordinateSystem id="UTM84-16N"><Name>UTM84-16N</Name><Axis uom="Meter">'
        "<CoordinateSystemAxis><AxisOrder>1</AxisOrder><AxisAbbreviation>E</AxisAbbreviation>"
        "</CoordinateSystemAxis><CoordinateSystemAxis><AxisOrder>2</AxisOrder>"
        "<AxisAbbreviation>N</AxisAbbreviation></CoordinateSystemAxis></Axis>"
        '</ProjectedCoordinateSystem><Alias id="32616" type="CoordinateSystem">'
        "<ObjectId>UTM84-16N</ObjectId><Namespace>EPSG Code</Namespace></Alias></Dictionary>")
    out = io.StringIO()
    doc.write(out)
    return out.getvalue().encode("utf-8")


def upload_zip() -> bytes:
    """What a facilities office zips up: two drawings in a folder, a parcel, a points file,
    the IMDF archive as a zip inside, and macOS's litter."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in (("plans/A_level1.dxf", LINCOLN / "A_level1.dxf"),
                           ("plans/scheme_fr_cm.dxf", DXF_FIXTURES / "scheme_fr_cm.dxf"),
                           ("parcel.geojson", LINCOLN / "parcel.geojson"),
                           ("pois.csv", LINCOLN / "pois.csv"),
                           ("venue.zip", FIXTURES / "imdf" / "school.zip")):
            zf.writestr(zipfile.ZipInfo(name, (2026, 11, 30, 12, 0, 0)), path.read_bytes(),
                        zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo("__MACOSX/plans/._A_level1.dxf", (2026, 11, 30, 12, 0, 0)),
                    b"\x00\x05\x16\x07")
    return out.getvalue()


@dataclass
class Corpus:
    """The unmutated files of every sample, read once."""

    lincoln: dict[str, bytes]
    osm: bytes
    imdf: bytes
    drawings: dict[str, bytes]
    upload: bytes

    @classmethod
    def load(cls) -> Corpus:
        drawings = {p.name: p.read_bytes() for p in sorted(DXF_FIXTURES.glob("*.dxf"))}
        drawings[GEODATA_DXF] = geodata_drawing()
        return cls(lincoln={f.name: f.read_bytes() for f in LINCOLN.iterdir() if f.is_file()},
                   osm=(FIXTURES / "osm" / "school.osm").read_bytes(),
                   imdf=(FIXTURES / "imdf" / "school.zip").read_bytes(),
                   drawings=drawings, upload=upload_zip())


def next_mutant(rng: random.Random, corpus: Corpus, case: int,
                only: tuple[str, ...] = SAMPLES) -> Mutant:
    """The ``case``-th input: samples in turn, the mutation from ``rng``."""
    sample = only[case % len(only)]
    if sample == "lincoln_ridge":
        return make_mutant(rng, corpus.lincoln)
    if sample == "osm_school":
        text, done = mutate_osm(rng, corpus.osm.decode("utf-8"))
        return Mutant("school.osm", text.encode("utf-8", "surrogatepass"), tuple(done),
                      sample)
    if sample == "imdf_school":
        data, done = mutate_zip(rng, corpus.imdf)
        return Mutant("school.zip", data, tuple(done), sample)
    if sample == "dxf_fixtures":
        name = rng.choice(sorted(corpus.drawings))
        text, done = mutate_dxf(rng, corpus.drawings[name].decode("utf-8", "surrogateescape"),
                                layers=_fixture_layers(name))
        return Mutant(name, text.encode("utf-8", "surrogateescape"), tuple(done), sample)
    if sample == "uploads":
        data, done = mutate_zip(rng, corpus.upload, members_too=False)
        return Mutant("upload.zip", data, tuple(done), sample)
    raise ValueError(f"unknown fuzz sample {sample!r}")


def _fixture_layers(name: str) -> tuple[str, ...]:
    """The layers a fixture's sidecar names (what the reader looks at), and layer 0."""
    import tomllib

    sidecar = sidecar_of(name)
    names: list[str] = []
    if sidecar is not None:
        data = tomllib.loads((DXF_FIXTURES / sidecar).read_text(encoding="utf-8"))
        names = [v for v in data.get("layers", {}).values() if isinstance(v, str)]
    return (*tuple(names or ("A-AREA", "A-AREA-IDEN", "A-DOOR", "A-FLOR-OTLN")), "0")
