"""The campus manifest (``campus.toml``): what files make up a campus and how to read them.

Example (every path is relative to the manifest, and must stay inside its folder)::

    [campus]
    id = "lincoln-ridge"
    name = "Lincoln Ridge K-12 Campus"
    address = "4800 Ridgeline Road, Okemos, MI 48864"
    verified_on = 2026-08-14  # last walk-through check (optional; printed on the map book)

    [grid]
    cell_size = 100          # in `unit`
    unit = "ft"              # "ft" or "m"
    margin_cells = 1
    # origin = [-84.4321, 42.7012]   # pin the NW corner of A1 (lon, lat); default: fit extent

    [files]
    parcel = "parcel.geojson"     # optional: without it the site is the buildings plus a margin
    grounds = "grounds.geojson"   # optional
    pois = "pois.csv"             # optional
    # osm = "school.osm"          # optional: an OpenStreetMap indoor file (Simple Indoor Tagging)
    # imdf = "venue.zip"          # optional: an IMDF archive; both add to or replace buildings

    [layers]                 # defaults shown; a level may override any of them
    rooms = "A-AREA"
    labels = "A-AREA-IDEN"
    doors = "A-DOOR"
    outline = "A-FLOR-OTLN"
    exterior_door_blocks = ["*EXT*"]
    interior_door_blocks = ["*INT*"]   # tells a door block from a group of doors

    [georef]
    transform = "similarity"  # or "affine"
    max_rms_m = 1.0
    max_scale_deviation = 0.05
    max_stretch = 0.03        # one drawing axis at most 3 % longer than the other once placed
    max_shear_deg = 3.0

    [doors]
    numbering = "clockwise"   # or "counterclockwise"

    [[buildings]]
    id = "A"
    name = "Main Building"
    aliases = ["main"]
    main_entrance = { level = 0, near = [160.0, 0.0] }   # CAD coords of that level's drawing
    address_side = "south"   # fire service side A (or degrees); default: the main entrance's wall
    control_points = [ { cad = [0.0, 0.0], lonlat = [-84.431, 42.699] }, ... ]
                             # optional when the drawings carry a GEODATA object (then used)

    [[buildings.levels]]
    ordinal = 0
    name = "1st Floor"
    short_name = "1"
    dxf = "A_level1.dxf"
    units = "ft"             # only used when the DXF's $INSUNITS is 0 (unitless):
                             # in, ft, us_ft, yd, mm, cm, dm or m
    # use_geodata = true     # place this drawing by its GEODATA even if control points are given
"""

from __future__ import annotations

import tomllib
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gridmap.doors import Direction
from gridmap.errors import ManifestError
from gridmap.model import MAX_GRID_CELLS, MAX_GRID_EXTENT_M, LengthUnit
from gridmap.sides import COMPASS_BEARINGS

DEFAULT_LAYERS = {
    "rooms": "A-AREA",
    "labels": "A-AREA-IDEN",
    "doors": "A-DOOR",
    "outline": "A-FLOR-OTLN",
    # read only when the drawing has no closed room outlines / no door blocks / to mark
    # stairs and lifts: wall lines, stair and elevator outlines (NCS names)
    "walls": "A-WALL",
    "stairs": "A-FLOR-STRS",
    "elevators": "A-FLOR-EVTR",
}


#: how far from its origin a control point may lie, in drawing units (1e9 mm = 1,000 km)
MAX_CAD_COORDINATE = 1e9


class _Strict(BaseModel):
    # no NaN or Infinity anywhere: TOML can spell them (nan, inf), a campus cannot use them
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DrawingUnit(StrEnum):
    """Units a floor plan may be drawn in: declared by the DXF, or by the manifest for a
    unitless one. The one table of metres per drawing unit in the importers."""

    INCH = "in"
    FOOT = "ft"
    US_SURVEY_FOOT = "us_ft"
    YARD = "yd"
    MILLIMETRE = "mm"
    CENTIMETRE = "cm"
    DECIMETRE = "dm"
    METRE = "m"

    @property
    def metres(self) -> float:
        return _UNIT_METRES[self]


_UNIT_METRES = {
    DrawingUnit.INCH: 0.0254,
    DrawingUnit.FOOT: LengthUnit.FOOT.metres,
    DrawingUnit.US_SURVEY_FOOT: 1200.0 / 3937.0,
    DrawingUnit.YARD: 0.9144,
    DrawingUnit.MILLIMETRE: 0.001,
    DrawingUnit.CENTIMETRE: 0.01,
    DrawingUnit.DECIMETRE: 0.1,
    DrawingUnit.METRE: LengthUnit.METRE.metres,
}


class TransformKind(StrEnum):
    SIMILARITY = "similarity"
    AFFINE = "affine"


Pair = Annotated[tuple[float, float], Field()]


class ControlPoint(_Strict):
    """One CAD (x, y) in drawing units tied to a WGS84 (lon, lat)."""

    cad: Pair
    lonlat: Pair
    name: str = ""

    @field_validator("lonlat")
    @classmethod
    def _in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        lon, lat = v
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            hint = (" (it looks like latitude, longitude: give the longitude first)"
                    if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0 else "")
            raise ValueError(f"lonlat {v} is not a longitude, latitude pair{hint}")
        return v

    @field_validator("cad")
    @classmethod
    def _near_origin(cls, v: tuple[float, float]) -> tuple[float, float]:
        if max(abs(v[0]), abs(v[1])) > MAX_CAD_COORDINATE:
            raise ValueError(
                f"cad {v} lies more than {MAX_CAD_COORDINATE:g} drawing units from the "
                "drawing's origin")
        return v


class Layers(_Strict):
    rooms: str = DEFAULT_LAYERS["rooms"]
    labels: str = DEFAULT_LAYERS["labels"]
    doors: str = DEFAULT_LAYERS["doors"]
    outline: str = DEFAULT_LAYERS["outline"]
    exterior_door_blocks: tuple[str, ...] = ("*EXT*",)
    #: with exterior_door_blocks, the names of door blocks: a block on the doors layer that
    #: holds such blocks at two or more places is a group of doors, not one door
    interior_door_blocks: tuple[str, ...] = ("*INT*",)
    #: wall lines: rooms are recovered from them when the drawing has no closed room outlines
    walls: str = DEFAULT_LAYERS["walls"]
    stairs: str = DEFAULT_LAYERS["stairs"]
    elevators: str = DEFAULT_LAYERS["elevators"]


class LayerOverrides(_Strict):
    rooms: str | None = None
    labels: str | None = None
    doors: str | None = None
    outline: str | None = None
    exterior_door_blocks: tuple[str, ...] | None = None
    interior_door_blocks: tuple[str, ...] | None = None
    walls: str | None = None
    stairs: str | None = None
    elevators: str | None = None

    def apply(self, base: Layers) -> Layers:
        changes = {k: v for k, v in self.model_dump().items() if v is not None}
        return base.model_copy(update=changes)


class CampusInfo(_Strict):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1)
    address: str = ""
    #: the day the map was last checked by walking the campus (printed on the map book)
    verified_on: date | None = None


class GridSettings(_Strict):
    """The campus grid. It may be at most ``MAX_GRID_CELLS`` cells and ``MAX_GRID_EXTENT_M``
    across: every grid-wide answer (the grid GeoJSON, the map's grid) grows with it."""

    cell_size: float = Field(gt=0)
    unit: LengthUnit = LengthUnit.METRE
    margin_cells: int = Field(default=1, ge=0, le=20)
    origin: Pair | None = None
    columns: int | None = Field(default=None, ge=1, le=702)
    rows: int | None = Field(default=None, ge=1, le=999)

    @model_validator(mode="after")
    def _campus_sized(self) -> GridSettings:
        size_m = self.cell_size * self.unit.metres
        if size_m > MAX_GRID_EXTENT_M:
            raise ValueError(
                f"cell_size {self.cell_size:g} {self.unit.value} is wider than a campus grid "
                f"may be ({MAX_GRID_EXTENT_M:,.0f} m)")
        across = max(self.columns or 1, self.rows or 1) * size_m
        if across > MAX_GRID_EXTENT_M:
            raise ValueError(
                f"a grid of {self.columns or 1}x{self.rows or 1} cells of {self.cell_size:g} "
                f"{self.unit.value} is {across:,.0f} m across; a campus grid may span at most "
                f"{MAX_GRID_EXTENT_M:,.0f} m")
        if (self.columns or 1) * (self.rows or 1) > MAX_GRID_CELLS:
            raise ValueError(
                f"a grid of {self.columns}x{self.rows} cells is larger than a campus needs "
                f"(limit {MAX_GRID_CELLS:,} cells, e.g. 100x100); use larger cells")
        if self.origin is not None:
            lon, lat = self.origin
            if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
                raise ValueError(f"origin {self.origin} is not a longitude, latitude pair")
        return self


class Files(_Strict):
    #: the property line; without it the site is the buildings' footprints plus a margin
    parcel: str | None = None
    grounds: str | None = None
    pois: str | None = None
    #: an OpenStreetMap indoor file (.osm XML, Simple Indoor Tagging)
    osm: str | None = None
    #: an IMDF archive (.zip of GeoJSON files)
    imdf: str | None = None


class Georef(_Strict):
    transform: TransformKind = TransformKind.SIMILARITY
    max_rms_m: float = Field(default=1.0, gt=0, le=1000)
    max_scale_deviation: float = Field(default=0.05, gt=0, le=1)
    #: how much longer one drawing axis may come out than the other once placed (a CAD plan
    #: is true to scale; a scanned plan may need more)
    max_stretch: float = Field(default=0.03, gt=0, le=1)
    max_shear_deg: float = Field(default=3.0, gt=0, le=45)


class DoorSettings(_Strict):
    numbering: Direction = Direction.CLOCKWISE
    exterior_distance_m: float = Field(default=0.6, ge=0, le=100)
    #: set for one import after repainting: lets a re-import number every door afresh
    allow_renumber: bool = False


class MainEntrance(_Strict):
    level: int = 0
    near: Pair


class LevelSpec(_Strict):
    ordinal: int = Field(ge=-10, le=200)
    name: str = Field(min_length=1)
    short_name: str = Field(min_length=1)
    dxf: str = Field(min_length=1)
    units: DrawingUnit | None = None
    layers: LayerOverrides = LayerOverrides()
    control_points: tuple[ControlPoint, ...] | None = Field(default=None, max_length=200)
    transform: TransformKind | None = None
    #: place the drawing by its GEODATA object even when control points are given (without
    #: control points a drawing's GEODATA is always used)
    use_geodata: bool = False


def _compass_bearing(v: object) -> object:
    """A building's ``address_side`` as a bearing: compass names become degrees."""
    if isinstance(v, bool):
        raise ValueError("address_side must be a compass name or a bearing in degrees")
    if isinstance(v, str):
        bearing = COMPASS_BEARINGS.get(v.strip().lower().replace(" ", "-"))
        if bearing is None:
            raise ValueError(f"address_side {v!r} is not one of {', '.join(COMPASS_BEARINGS)} "
                             "or a bearing in degrees")
        return bearing
    if isinstance(v, int | float) and not 0.0 <= v < 360.0:
        raise ValueError(f"address_side {v} is not a bearing from 0 to under 360 degrees")
    return v


class BuildingSpec(_Strict):
    id: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    main_entrance: MainEntrance | None = None
    #: the way the address (front) side faces, the fire service's side A: a compass name
    #: ("south", "north-east") or a bearing in degrees; default: the main entrance's wall
    address_side: Annotated[float | None, BeforeValidator(_compass_bearing)] = None
    control_points: tuple[ControlPoint, ...] | None = Field(default=None, max_length=200)
    levels: tuple[LevelSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> BuildingSpec:
        ordinals = [lv.ordinal for lv in self.levels]
        if len(set(ordinals)) != len(ordinals):
            raise ValueError(f"building {self.id}: duplicate level ordinals {ordinals}")
        # a level without control points is placed by its drawing's GEODATA, or refused at
        # import (the drawing must be read to know)
        if self.main_entrance is not None and self.main_entrance.level not in ordinals:
            raise ValueError(
                f"building {self.id}: main_entrance.level {self.main_entrance.level} "
                f"is not one of its levels {ordinals}"
            )
        return self

    def control_points_for(self, level: LevelSpec) -> tuple[ControlPoint, ...]:
        points = level.control_points if level.control_points is not None else self.control_points
        return points or ()


class Manifest(_Strict):
    campus: CampusInfo
    grid: GridSettings
    files: Files
    layers: Layers = Layers()
    georef: Georef = Georef()
    doors: DoorSettings = DoorSettings()
    buildings: tuple[BuildingSpec, ...] = ()

    @model_validator(mode="after")
    def _unique_buildings(self) -> Manifest:
        if not self.buildings and not (self.files.osm or self.files.imdf):
            raise ValueError("no [[buildings]] and no files.osm or files.imdf: name the floor "
                             "plans, an OpenStreetMap indoor file or an IMDF archive")
        ids = [b.id for b in self.buildings]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate building ids {ids}")
        return self


class LoadedManifest:
    """A validated manifest plus where it lives, to resolve the paths it names."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest

    @property
    def base(self) -> Path:
        return self.path.parent

    def resolve(self, written: str, key: str) -> Path:
        """The file ``written`` in the manifest under ``key``; ManifestError if it is missing
        or lies outside the manifest's folder.

        A manifest travels with uploaded files, so it may only name files beside it or below
        it: ``..``, absolute paths and links that lead out are refused before anything outside
        is looked at (so a manifest cannot even learn whether such a file exists).
        """
        base = self.base.resolve()
        try:
            p = (base / written).resolve()
            inside = p.is_relative_to(base)
            exists = inside and p.is_file()
        except (OSError, ValueError) as exc:
            # a name the file system cannot hold (a NUL byte, a name too long, ...); the
            # error's own text is not shown, as it may spell out the server's folders
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ManifestError(
                f"{self.path.name}: {key} names {written!r}, which is not a usable file name "
                f"({why})"
            ) from exc
        if not inside:
            raise ManifestError(
                f"{self.path.name}: {key} names {written!r}, which is outside the manifest's "
                "folder; name files in that folder or below it"
            )
        if not exists:
            raise ManifestError(
                f"{self.path.name}: {key} names {written!r}, which does not exist "
                f"(relative to the manifest's folder)"
            )
        return p


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_manifest(data: dict[str, Any], source: str = "campus.toml") -> Manifest:
    """Validate already-parsed TOML data."""
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ManifestError(f"{source}: invalid manifest: {problems}") from exc


def load_manifest(path: Path, *, check_files: bool = True) -> LoadedManifest:
    """Read and validate ``campus.toml``; with ``check_files`` every named file must exist."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path.name}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path.name}: malformed TOML: {exc}") from exc
    except RecursionError as exc:
        raise ManifestError(f"{path.name}: malformed TOML: nested too deeply") from exc
    loaded = LoadedManifest(path, parse_manifest(data, path.name))
    if check_files:
        m = loaded.manifest
        for key in ("parcel", "grounds", "pois", "osm", "imdf"):
            written = getattr(m.files, key)
            if written:
                loaded.resolve(written, f"files.{key}")
        for bi, b in enumerate(m.buildings):
            for li, lv in enumerate(b.levels):
                loaded.resolve(lv.dxf, f"buildings[{bi}].levels[{li}].dxf")
    return loaded
