"""Apple IMDF (Indoor Mapping Data Format, OGC 20-094) archives.

An IMDF archive is a zip of GeoJSON feature collections, one per feature type
(``venue.geojson``, ``building.geojson``, ``footprint.geojson``, ``level.geojson``,
``unit.geojson``, ``opening.geojson``, ``amenity.geojson``, ``address.geojson``,
``anchor.geojson``...) and a ``manifest.json``. gridmap's model is named after IMDF, so most
of the reading is a translation:

* venue -> the campus's name and address; building + footprint -> :class:`Building`;
* level (``ordinal``, ``name``, ``short_name``, ``building_ids``) -> one :class:`Level` per
  building it serves; outdoor levels are left to the grounds file;
* unit -> :class:`Unit` (``category`` kept; the room number is the ``name`` or ``alt_name``
  that reads as one; an occupant anchored in the unit names it when the unit itself has only
  a number); structural units (walls, columns, open-to-below) are left out;
* opening -> :class:`Opening` at the middle of its line; an opening on the building's
  footprint edge is exterior, ``pedestrian.principal`` marks the main entrance;
* amenity -> :class:`Amenity` for the categories a responder needs (``defibrillator``,
  ``firstaid``, ``elevator``), placed on the level of its unit.

A non-conforming archive still imports: every rule it breaks is a finding that names the rule
("unit 'abc': level_id 'x' names no level (IMDF rule: unit.level_id references a level)"), and
only what cannot be used at all is skipped. The zip is read in memory with limits on its size,
member count, each member's size and compression ratio; no member is extracted to disk.
"""

from __future__ import annotations

import json
import math
import re
import stat
import uuid
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from shapely.geometry import LineString, MultiLineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from gridmap.crs import LocalFrame
from gridmap.errors import ArchiveError, IndoorFileError
from gridmap.model import (
    MAX_GRID_EXTENT_M,
    Amenity,
    AmenityKind,
    Building,
    Level,
    Opening,
    Unit,
    stable_id,
)
from importers.archives import declared_entries, safe_parts
from importers.dxf import room_category
from importers.findings import Finding, FindingKind, Severity
from importers.indoor import (
    MAX_ORDINAL,
    FindingLog,
    IndoorImport,
    as_polygon,
    default_level_names,
    local_frame_around,
    span_m,
)
from importers.limits import ImportLimits, WorkBudget
from importers.room_labels import room_number

#: the largest archive read (bytes on disk); a school's archive is well under a megabyte
MAX_IMDF_BYTES = 64 * 1024 * 1024
#: the most members an archive may list
MAX_MEMBERS = 500
#: the largest one member may unpack to (bytes); parsed JSON takes ten times that in memory
MAX_MEMBER_BYTES = 48 * 1024 * 1024
#: the most all members read may unpack to together (bytes)
MAX_TOTAL_BYTES = 96 * 1024 * 1024
#: a member unpacking to more than this many times its packed size is a zip bomb
MAX_RATIO = 200.0
#: an opening this close to its building's footprint edge (metres) is an exterior door
EXTERIOR_DOOR_M = 1.0

_FILES = ("venue", "address", "building", "footprint", "level", "unit", "opening", "amenity",
          "anchor", "occupant")
_NOT_READ = ("fixture", "kiosk", "section", "geofence", "relationship", "detail")
_ALLOWED_GEOMETRY: dict[str, tuple[str, ...]] = {
    "venue": ("Polygon", "MultiPolygon"), "footprint": ("Polygon", "MultiPolygon"),
    "level": ("Polygon", "MultiPolygon"), "unit": ("Polygon", "MultiPolygon"),
    "opening": ("LineString",), "amenity": ("Point",), "anchor": ("Point",),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "venue": ("category", "name", "address_id"), "building": ("category",),
    "footprint": ("category", "building_ids"), "level": ("category", "ordinal", "outdoor",
                                                         "name"),
    "unit": ("category", "level_id"), "opening": ("category", "level_id"),
    "amenity": ("category", "unit_ids"), "address": ("address", "locality", "country"),
    "anchor": ("unit_id",), "occupant": ("name", "category", "anchor_id"),
}
_UNIT_CATEGORY_NAMES = """
auditorium brick classroom column concrete conferenceroom drywall elevator escalator
fieldofplay firstaid fitnessroom foodservice footbridge glass huddleroom kitchen laboratory
library lobby lounge mailroom mothersroom movietheater movingwalkway nonpublic office
opentobelow parking phoneroom platform privatelounge ramp recreation restroom restroom.family
restroom.female restroom.female.wheelchair restroom.male restroom.male.wheelchair
restroom.transgender restroom.transgender.wheelchair restroom.unisex
restroom.unisex.wheelchair restroom.wheelchair road room serverroom shower smokingarea stairs
steps storage structure terrace theater unenclosedarea unspecified vegetation waitingroom
walkway walkway.island wood
"""
UNIT_CATEGORIES = frozenset(_UNIT_CATEGORY_NAMES.split())
#: unit categories that are building fabric or voids, not spaces anyone is in
_NOT_SPACES = frozenset({"brick", "column", "concrete", "drywall", "glass", "opentobelow",
                         "structure", "vegetation", "wood"})
OPENING_CATEGORIES = frozenset({"automobile", "bicycle", "emergencyexit", "pedestrian",
                                "pedestrian.principal", "pedestrian.transit", "service"})
_AMENITY_KINDS = {
    "defibrillator": AmenityKind.AED, "firstaid": AmenityKind.FIRST_AID,
    "elevator": AmenityKind.ELEVATOR,
}
_DOOR_NUMBER_RE = re.compile(r"^(?:door|exit|entrance|entry)?\s*(?:no\.?|#)?\s*"
                             r"([A-Z]?\d{1,3}[A-Z]?)$", re.IGNORECASE)

Feature = dict[str, Any]


# --- the zip ------------------------------------------------------------------------------


def _member_ok(info: zipfile.ZipInfo) -> str:
    """Why a member is not read ("" when it may be)."""
    try:
        safe_parts(info.filename)
    except ArchiveError as e:
        return f"its path leaves the archive ({str(e).split(': ', 1)[-1]})"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "it is a symbolic link"
    if info.flag_bits & 0x1:
        return "it is encrypted"
    return ""


def _read_members(path: Path, log: FindingLog) -> dict[str, bytes]:
    """The archive's IMDF members by base name (``"unit"``, ``"manifest"``), bounded."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IndoorFileError(f"{name}: cannot be read ({e.strerror})") from None
    if size > MAX_IMDF_BYTES:
        raise IndoorFileError(f"{name}: {size / 1e6:,.0f} MB is larger than an IMDF archive "
                              f"may be ({MAX_IMDF_BYTES / 1e6:,.0f} MB)")
    with path.open("rb") as fh:  # a listing of millions of members is itself a memory bomb
        declared = declared_entries(fh)
    if declared is not None and declared > MAX_MEMBERS:
        raise IndoorFileError(f"{name}: declares {declared:,} members; an IMDF archive has "
                              f"a dozen (at most {MAX_MEMBERS} are read)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise IndoorFileError(f"{name}: is not a zip archive ({e}); an IMDF archive is a "
                              "zip of .geojson files and a manifest.json") from None
    except NotImplementedError as e:  # a listing asking for a zip version Python lacks
        raise IndoorFileError(f"{name}: is a zip this reader cannot open ({e}); save it "
                              "again as a plain zip of .geojson files") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise IndoorFileError(f"{name}: lists {len(infos):,} members; an IMDF archive "
                                  f"has a dozen (at most {MAX_MEMBERS} are read)")
        chosen: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.is_dir():
                continue
            why = _member_ok(info)
            if why:
                log.add(Finding(FindingKind.UNSUPPORTED,
                                f"archive member {info.filename[:200]!r} is not read: {why}",
                                source=name, action="ignored"), "member")
                continue
            base = PurePosixPath(info.filename.replace("\\", "/"))
            stem = base.name.lower().removesuffix(".geojson").removesuffix(".json")
            if base.name.startswith(".") or base.parts[0] == "__MACOSX":
                continue
            if stem in chosen:
                log.add(Finding(FindingKind.OTHER,
                                f"the archive holds {base.name!r} twice ({chosen[stem].filename}"
                                f" and {info.filename}); the first is read",
                                source=name, action="second ignored"), "member")
                continue
            if stem in (*_FILES, "manifest", *_NOT_READ):
                chosen[stem] = info
        data: dict[str, bytes] = {}
        total = 0
        for stem, info in chosen.items():
            if info.file_size > MAX_MEMBER_BYTES:
                raise IndoorFileError(f"{name}: {info.filename} unpacks to "
                                      f"{info.file_size / 1e6:,.0f} MB (limit "
                                      f"{MAX_MEMBER_BYTES / 1e6:,.0f} MB)")
            if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(
                    info.compress_size, 1):
                raise IndoorFileError(f"{name}: {info.filename} unpacks to "
                                      f"{info.file_size / max(info.compress_size, 1):,.0f} times "
                                      "its packed size: refused as a zip bomb")
            try:
                with zf.open(info) as fh:
                    body = fh.read(MAX_MEMBER_BYTES + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                    NotImplementedError, ValueError) as e:
                raise IndoorFileError(f"{name}: {info.filename} cannot be unpacked ({e})"
                                      ) from None
            total += len(body)
            if len(body) > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                raise IndoorFileError(f"{name}: unpacks to more than it declares (over "
                                      f"{min(len(body), total) / 1e6:,.0f} MB): refused as a "
                                      "zip bomb")
            data[stem] = body
    return data


# --- findings as IMDF rules -----------------------------------------------------------------


@dataclass
class _Rules:
    """The findings of one archive, each naming the IMDF rule broken."""

    log: FindingLog
    #: where each feature is (a position of its geometry), to place its findings on the map
    places: dict[str, tuple[float, float]] = field(default_factory=dict)

    def broken(self, what: str, problem: str, rule: str, *, action: str = "",
               severity: Severity = Severity.WARNING, ref: str = "",
               at: tuple[float, float] | None = None) -> None:
        at = at or self.places.get(ref)
        self.log.add(Finding(
            FindingKind.OTHER, f"{what}: {problem} (IMDF rule: {rule})", severity,
            source=self.log.source, ref=ref, action=action, at=at,
            placed_on_earth=at is not None), rule)

    def note(self, message: str, *, kind: FindingKind = FindingKind.OTHER,
             severity: Severity = Severity.INFO, action: str = "", ref: str = "",
             key: str = "") -> None:
        self.log.add(Finding(kind, message, severity, source=self.log.source, ref=ref,
                             action=action), key or message)


def _text(value: object) -> str | None:
    """A property that should be a string: itself, or None when it is anything else (a list
    or an object would break every lookup that hashes it)."""
    return value if isinstance(value, str) else None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeio" else "a"  # "a unit"


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _json(body: bytes, what: str, rules: _Rules) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        return json.loads(body.decode("utf-8-sig"), parse_constant=refuse)
    except UnicodeDecodeError:
        rules.broken(what, "is not UTF-8 text", "GeoJSON is UTF-8 JSON (RFC 7946)",
                     action="file skipped", severity=Severity.ERROR)
    except (ValueError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:120]
        rules.broken(what, f"is not valid JSON ({reason})", "GeoJSON is UTF-8 JSON (RFC 7946)",
                     action="file skipped", severity=Severity.ERROR)
    return None


# --- geometry ------------------------------------------------------------------------------


def _count_positions(coords: Any, cap: int, depth: int = 0) -> int:
    """Positions in a GeoJSON coordinates array, counting stops at ``cap``; -1 if malformed."""
    if depth > 4 or not isinstance(coords, list):
        return -1
    if coords and not isinstance(coords[0], list):
        ok = (2 <= len(coords) <= 3 and all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in coords))
        return 1 if ok and -180 <= coords[0] <= 180 and -90 <= coords[1] <= 90 else -1
    n = 0
    for c in coords:
        k = _count_positions(c, cap - n, depth + 1)
        if k < 0:
            return -1
        n += k
        if n > cap:
            return n
    return n


def _first_position(geometry: Any) -> tuple[float, float] | None:
    """A lon/lat of a GeoJSON geometry (its first position), or None if it has no valid one."""
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    for _ in range(4):
        if not (isinstance(coords, list) and coords):
            return None
        if not isinstance(coords[0], list):
            break
        coords = coords[0]
    if _count_positions(coords, 1) != 1 or not isinstance(coords, list):
        return None
    return float(coords[0]), float(coords[1])


# --- the archive ---------------------------------------------------------------------------


@dataclass
class _Level:
    feature_id: str
    ordinal: int
    name: str
    short_name: str
    geometry: BaseGeometry | None
    building_ids: list[str]
    #: gridmap level ids by IMDF building id
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class _Building:
    feature_id: str
    name: str
    short_name: str
    footprint: Polygon | None = None


class _Archive:
    def __init__(self, path: Path, campus_id: str, limits: ImportLimits) -> None:
        self.source = path.name
        self.cid = campus_id
        self.limits = limits
        self.budget = WorkBudget(limits)
        self.rules = _Rules(FindingLog(self.source))
        self.members = _read_members(path, self.rules.log)
        self.language = "en"
        self.seen_ids: set[str] = set()
        self.counted = 0

    # reading features -----------------------------------------------------------------------

    def manifest(self) -> None:
        body = self.members.get("manifest")
        if body is None:
            self.rules.broken("the archive", "has no manifest.json",
                              "every IMDF archive has a manifest.json", action="read without")
            return
        doc = _json(body, "manifest.json", self.rules)
        if not isinstance(doc, dict):
            if doc is not None:
                self.rules.broken("manifest.json", "is not a JSON object",
                                  "the manifest is a JSON object", action="ignored")
            return
        if doc.get("version") != "1.0.0":
            self.rules.broken("manifest.json", f"version is {doc.get('version')!r}",
                              'manifest.version is "1.0.0"', action="read as 1.0.0")
        if not isinstance(doc.get("created"), str):
            self.rules.broken("manifest.json", "has no created date",
                              "manifest.created is a DATE-TIME", action="none needed")
        language = doc.get("language")
        if isinstance(language, str) and re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*",
                                                      language):
            self.language = language
        else:
            self.rules.broken("manifest.json", f"language is {language!r}",
                              "manifest.language is a language tag (en-US)",
                              action="names read in English, else the first language")

    def features(self, feature_type: str) -> Iterator[Feature]:
        """The file's usable features: each a dict with a str ``id`` and dict ``properties``."""
        body = self.members.get(feature_type)
        file = f"{feature_type}.geojson"
        if body is None:
            return
        self.budget.check(self.source)
        doc = _json(body, file, self.rules)
        if doc is None:
            return
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            self.rules.broken(file, "is not a GeoJSON FeatureCollection",
                              "each IMDF file is a FeatureCollection",
                              action="features read if present")
        raw = doc.get("features") if isinstance(doc, dict) else doc
        if not isinstance(raw, list):
            self.rules.broken(file, "holds no features array",
                              "a FeatureCollection has a features array", action="file skipped",
                              severity=Severity.ERROR)
            return
        for k, f in enumerate(raw):
            self.counted += 1
            if self.counted > self.limits.entity_budget:
                raise IndoorFileError(f"{self.source}: holds more than "
                                      f"{self.limits.entity_budget:,} features (the import's "
                                      "entity budget)")
            if self.counted % 1024 == 0:
                self.budget.check(self.source)
            feature = self._feature(f, feature_type, file, k)
            if feature is not None:
                yield feature

    def _feature(self, f: Any, feature_type: str, file: str, k: int) -> Feature | None:
        if not isinstance(f, dict):
            self.rules.broken(f"{file} feature #{k + 1}", "is not a JSON object",
                              "features are GeoJSON Feature objects", action="skipped")
            return None
        fid = f.get("id")
        if not isinstance(fid, str) or not fid:
            self.rules.broken(f"{file} feature #{k + 1}", "has no id",
                              "every feature has an id (a UUID)", action="skipped",
                              severity=Severity.ERROR)
            return None
        what = f"{feature_type} {fid[:60]!r}"
        if not _is_uuid(fid):
            self.rules.broken(what, "id is not a UUID", "FEATURE-ID is a UUID",
                              action="read with this id", severity=Severity.INFO, ref=fid)
        if fid in self.seen_ids:
            self.rules.broken(what, "id is used twice", "feature ids are unique in an archive",
                              action="second skipped", ref=fid)
            return None
        self.seen_ids.add(fid)
        place = _first_position(f.get("geometry"))
        if place is not None:
            self.rules.places.setdefault(fid, place)
        if f.get("type") != "Feature":
            self.rules.broken(what, f"type is {f.get('type')!r}", 'a feature\'s type is "Feature"',
                              action="read as a Feature", severity=Severity.INFO, ref=fid)
        if f.get("feature_type") != feature_type:
            self.rules.broken(what, f"feature_type is {f.get('feature_type')!r} in {file}",
                              f'features in {file} have feature_type "{feature_type}"',
                              action=f"read as {_article(feature_type)} {feature_type}", ref=fid)
        props = f.get("properties")
        if not isinstance(props, dict):
            self.rules.broken(what, "has no properties object",
                              "every feature has a properties object", action="read as empty",
                              ref=fid)
            props = {}
        for key in _REQUIRED.get(feature_type, ()):
            if key not in props:
                self.rules.broken(what, f"has no {key!r} property",
                                  f"{feature_type}.{key} is required", ref=fid,
                                  action="read without it")
        return {"id": fid, "what": what, "properties": props, "geometry": f.get("geometry")}

    def geometry(self, f: Feature, feature_type: str) -> BaseGeometry | None:
        """The feature's geometry if it has a usable one, noting the rules it breaks."""
        g = f["geometry"]
        allowed = _ALLOWED_GEOMETRY.get(feature_type, ())
        if g is None:
            if allowed:
                self.rules.broken(f["what"], "has no geometry",
                                  f"{_article(feature_type)} {feature_type} has "
                                  f"{' or '.join(allowed)} geometry",
                                  ref=f["id"], action="skipped")
            return None
        if not isinstance(g, dict) or not isinstance(g.get("type"), str):
            self.rules.broken(f["what"], "geometry is not a GeoJSON geometry",
                              "geometry is a GeoJSON geometry object", ref=f["id"],
                              action="skipped")
            return None
        if not allowed:
            self.rules.broken(f["what"], f"has a {g['type']} geometry",
                              f"a {feature_type}'s geometry is null", ref=f["id"],
                              action="geometry ignored", severity=Severity.INFO)
            return None
        n = _count_positions(g.get("coordinates"), self.limits.max_outline_points)
        if n < 0:
            self.rules.broken(f["what"], "geometry coordinates are malformed or not lon/lat",
                              "positions are [longitude, latitude] in WGS84 (RFC 7946)",
                              ref=f["id"], action="skipped")
            return None
        if n > self.limits.max_outline_points:
            self.rules.broken(f["what"], f"geometry has more than "
                              f"{self.limits.max_outline_points:,} points",
                              "the import's outline point limit", ref=f["id"], action="skipped")
            return None
        try:
            geom = shape(g)
        except (ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
            self.rules.broken(f["what"], f"geometry cannot be read ({str(e)[:80]})",
                              "geometry is a valid GeoJSON geometry", ref=f["id"],
                              action="skipped")
            return None
        if geom.is_empty:
            self.rules.broken(f["what"], "geometry is empty", "geometry is not empty",
                              ref=f["id"], action="skipped")
            return None
        span = span_m(geom)
        if not span <= MAX_GRID_EXTENT_M:  # a mistyped position: it would fold when projected
            self.rules.broken(f["what"], f"geometry spans {span / 1000:,.0f} km (one of its "
                              "positions is misplaced)", "positions are [longitude, latitude] "
                              f"of the venue, within {MAX_GRID_EXTENT_M / 1000:g} km",
                              ref=f["id"], action="skipped")
            return None
        if g["type"] not in allowed:
            self.rules.broken(f["what"], f"has a {g['type']} geometry",
                              f"{_article(feature_type)} {feature_type} has {' or '.join(allowed)} "
                              "geometry", ref=f["id"], action="read if usable")
        return geom

    def label(self, f: Feature, key: str) -> str:
        """A LABELS property in the archive's language ("" when absent)."""
        value = f["properties"].get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            self.rules.broken(f["what"], f"{key} is a plain string",
                              f'{key} is a LABELS object ({{"en": "..."}})',
                              action="read as is", severity=Severity.INFO, ref=f["id"])
            return value.strip()
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.rules.broken(f["what"], f"{key} is not a LABELS object",
                              f'{key} is a LABELS object ({{"en": "..."}})',
                              action="ignored", ref=f["id"])
            return ""
        primary = self.language.split("-")[0].lower()
        for want in (self.language, primary):
            for tag, text in value.items():
                if tag.lower() == want.lower():
                    return str(text).strip()
        for tag, text in value.items():
            if tag.lower().split("-")[0] == primary:
                return str(text).strip()
        return str(next(iter(value.values()), "")).strip()

    def ids(self, f: Feature, key: str) -> list[str]:
        value = f["properties"].get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.rules.broken(f["what"], f"{key} is not an array of ids",
                              f"{key} is a JSON array", ref=f["id"], action="ignored")
            return []
        return [v for v in value if isinstance(v, str)]

    # the model ------------------------------------------------------------------------------

    def run(self) -> IndoorImport:
        self.manifest()
        for missing in ("level", "unit"):
            if missing not in self.members:
                self.rules.broken("the archive", f"has no {missing}.geojson",
                                  f"an IMDF archive holds {missing}.geojson",
                                  severity=Severity.ERROR, action="read without")
        for other in _NOT_READ:
            if other in self.members:
                self.rules.note(f"{other}.geojson is not read: gridmap has no use for "
                                f"{other} features", kind=FindingKind.UNSUPPORTED,
                                action="ignored")
        addresses = self._addresses()
        name, address = self._venue(addresses)
        buildings = self._buildings()
        self._footprints(buildings)
        levels = self._levels(buildings)
        self._place_levels(levels, buildings)
        frame = local_frame_around(
            [b.footprint for b in buildings.values() if b.footprint is not None]
            + [lv.geometry for lv in levels.values() if lv.geometry is not None])
        anchors = list(self.features("anchor"))
        occupants = self._occupants(anchors)
        units, unit_levels = self._units(levels, buildings, occupants)
        self._footprints_from_units(buildings, units)
        openings = self._openings(levels, buildings, frame)
        amenities = self._amenities(unit_levels, buildings)
        self._anchors(anchors, unit_levels)
        used_levels = {u.level_id for u in units} | {o.level_id for o in openings} | {
            a.level_id for a in amenities if a.level_id}
        model_levels = self._model_levels(levels, used_levels)
        used_buildings = {lv.building_id for lv in model_levels} | {
            a.building_id for a in amenities if a.building_id}
        for b in buildings.values():  # only doors and points: outline what it holds
            bid = stable_id(self.cid, b.feature_id)
            if b.footprint is None and bid in used_buildings:
                held = [frame.to_local(o.geometry) for o in openings if o.building_id == bid]
                if held:
                    hull = unary_union(held).convex_hull.buffer(EXTERIOR_DOOR_M)
                    b.footprint, _ = as_polygon(frame.to_wgs84(hull))
        model_buildings = tuple(
            Building(stable_id(self.cid, b.feature_id), b.name, b.short_name,
                     Polygon(b.footprint.exterior))
            for b in buildings.values()
            if b.footprint is not None and stable_id(self.cid, b.feature_id) in used_buildings)
        if not units and not openings and not amenities:
            raise IndoorFileError(
                f"{self.source}: holds no usable units, openings or amenities; see its "
                "findings: " + "; ".join(f.message for f in self.rules.log.findings()[:5]))
        return IndoorImport(
            buildings=model_buildings, levels=model_levels, units=tuple(units),
            openings=tuple(openings), amenities=tuple(amenities), name=name or None,
            address=address or None, findings=self.rules.log.findings())

    def _addresses(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.features("address"):
            p = f["properties"]

            def text(key: str, props: Mapping[str, Any] = p) -> str:
                v = props.get(key)
                return v.strip() if isinstance(v, str) else ""

            province = text("province").split("-")[-1]
            street = ", ".join(x for x in (text("address"), text("unit")) if x)
            region = " ".join(x for x in (province, text("postal_code")) if x)
            out[f["id"]] = ", ".join(x for x in (street, text("locality"), region) if x)
        return out

    def _venue(self, addresses: dict[str, str]) -> tuple[str, str]:
        venues = list(self.features("venue"))
        if not venues:
            if "venue" not in self.members:
                self.rules.broken("the archive", "has no venue.geojson",
                                  "an IMDF archive has exactly one venue", action="read without")
            return "", ""
        if len(venues) > 1:
            self.rules.broken("venue.geojson", f"holds {len(venues)} venues",
                              "an IMDF archive has exactly one venue", action="first read")
        v = venues[0]
        self.geometry(v, "venue")
        address_id = v["properties"].get("address_id")
        address = ""
        if isinstance(address_id, str):
            address = addresses.get(address_id, "")
            if not address:
                self.rules.broken(v["what"], f"address_id {address_id!r} names no address",
                                  "venue.address_id references an address", ref=v["id"],
                                  action="read without an address")
        return self.label(v, "name"), address

    def _buildings(self) -> dict[str, _Building]:
        buildings: dict[str, _Building] = {}
        for f in self.features("building"):
            self.geometry(f, "building")
            name = self.label(f, "name")
            alt = self.label(f, "alt_name")
            short = alt if alt and len(alt) <= 12 else (name if len(name) <= 12 else "")
            buildings[f["id"]] = _Building(
                f["id"], name or (f"Building {alt}" if alt else f"Building {len(buildings) + 1}"),
                short or f"B{len(buildings) + 1}")
        return buildings

    def _footprints(self, buildings: dict[str, _Building]) -> None:
        shapes: dict[str, list[tuple[int, BaseGeometry]]] = defaultdict(list)
        rank = {"ground": 0, "aerial": 1, "subterranean": 2}
        for f in self.features("footprint"):
            geom = self.geometry(f, "footprint")
            if geom is None:
                continue
            category = _text(f["properties"].get("category"))
            if category not in rank:
                self.rules.broken(f["what"], f"category is {category!r}",
                                  'footprint.category is "ground", "aerial" or "subterranean"',
                                  ref=f["id"], action="read as ground")
            ids = self.ids(f, "building_ids")
            if not ids:
                self.rules.broken(f["what"], "names no building",
                                  "footprint.building_ids lists its buildings", ref=f["id"],
                                  action="skipped")
            for bid in ids:
                if bid not in buildings:
                    self.rules.broken(f["what"], f"building_ids names {bid!r}, no building",
                                      "footprint.building_ids references buildings",
                                      ref=f["id"], action="ignored for it")
                    continue
                shapes[bid].append((rank.get(category or "", 0), geom))
        for bid, found in shapes.items():
            best = min(r for r, _ in found)
            polygon, note = as_polygon(unary_union([g for r, g in found if r == best]))
            if note:
                self.rules.note(f"building {bid!r}: its footprint {note}",
                                kind=FindingKind.REPAIRED_GEOMETRY, ref=bid, action=note)
            buildings[bid].footprint = polygon

    def _levels(self, buildings: dict[str, _Building]) -> dict[str, _Level]:
        levels: dict[str, _Level] = {}
        outdoor = 0
        for f in self.features("level"):
            p = f["properties"]
            raw = p.get("ordinal")
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            elif isinstance(raw, str) and re.fullmatch(r"\s*-?\d{1,3}\s*", raw):
                self.rules.broken(f["what"], f"ordinal is the text {raw!r}",
                                  "level.ordinal is an integer", ref=f["id"],
                                  action="read as a number", severity=Severity.INFO)
                raw = int(raw)
            if not isinstance(raw, int) or isinstance(raw, bool) or abs(raw) > MAX_ORDINAL:
                self.rules.broken(f["what"], f"ordinal is {raw!r}",
                                  "level.ordinal is an integer (0 = ground floor)", ref=f["id"],
                                  action="level skipped, with what lies on it",
                                  severity=Severity.ERROR)
                continue
            if p.get("outdoor") is True:
                outdoor += 1
                continue
            geom = self.geometry(f, "level")
            ids = self.ids(f, "building_ids")
            for bid in ids:
                if bid not in buildings:
                    self.rules.broken(f["what"], f"building_ids names {bid!r}, no building",
                                      "level.building_ids references buildings", ref=f["id"],
                                      action="placed by its outline")
            default_name, default_short = default_level_names(raw)
            name = self.label(f, "name") or default_name
            short = self.label(f, "short_name") or default_short
            levels[f["id"]] = _Level(f["id"], raw, name, short, geom,
                                     [b for b in ids if b in buildings])
        if outdoor:
            self.rules.note(f"{outdoor} outdoor level(s) left out: grounds come from the "
                            "campus's grounds file", action="left out")
        return levels

    def _place_levels(self, levels: dict[str, _Level], buildings: dict[str, _Building]
                      ) -> None:
        """Give each level its buildings (by building_ids, else by outline) and each
        building a footprint (from its levels when footprint.geojson has none)."""
        with_footprint = [b for b in buildings.values() if b.footprint is not None]
        for lv in levels.values():
            if lv.building_ids or lv.geometry is None:
                continue
            best, best_area = None, 0.0
            for b in with_footprint:
                area = b.footprint.intersection(lv.geometry).area if b.footprint else 0.0
                if area > best_area:
                    best, best_area = b, area
            if best is not None:
                lv.building_ids = [best.feature_id]
        orphans = [lv for lv in levels.values() if not lv.building_ids]
        if orphans:
            bid = f"derived:{orphans[0].feature_id}"
            buildings[bid] = _Building(bid, f"Building {len(buildings) + 1}",
                                       f"B{len(buildings) + 1}")
            self.rules.broken(f"{len(orphans)} level(s)", "belong to no building",
                              "level.building_ids names the level's building",
                              action=f"placed in one building, {buildings[bid].short_name}")
            for lv in orphans:
                lv.building_ids = [bid]
        for b in buildings.values():
            if b.footprint is not None:
                continue
            outlines = [lv.geometry for lv in levels.values()
                        if b.feature_id in lv.building_ids and lv.geometry is not None]
            polygon, _ = as_polygon(unary_union(outlines)) if outlines else (None, "")
            if polygon is not None:
                b.footprint = polygon
                if not b.feature_id.startswith("derived:"):
                    self.rules.broken(f"building {b.feature_id!r}", "has no footprint",
                                      "footprint.building_ids covers every building",
                                      action="outlined from its levels", ref=b.feature_id)

    def _footprints_from_units(self, buildings: dict[str, _Building], units: list[Unit]
                               ) -> None:
        """A building with neither a footprint nor level outlines is outlined by its units."""
        for b in buildings.values():
            if b.footprint is not None:
                continue
            mine = [u.geometry for u in units if u.building_id == stable_id(self.cid,
                                                                             b.feature_id)]
            if mine:
                b.footprint, _ = as_polygon(unary_union(mine).convex_hull)
                self.rules.broken(f"building {b.feature_id!r}", "has no footprint and its "
                                  "levels no outline", "footprint.building_ids covers every "
                                  "building", action="outlined around its units",
                                  ref=b.feature_id)

    def _level_for(self, lv: _Level, point: Point, buildings: dict[str, _Building]) -> str:
        """The gridmap level id of IMDF level ``lv`` in the building holding ``point``."""
        bid = lv.building_ids[0]
        if len(lv.building_ids) > 1:
            for candidate in lv.building_ids:
                fp = buildings[candidate].footprint
                if fp is not None and fp.covers(point):
                    bid = candidate
                    break
        return lv.ids.setdefault(bid, stable_id(
            self.cid, lv.feature_id, *([bid] if len(lv.building_ids) > 1 else [])))

    def _level_of(self, f: Feature, levels: dict[str, _Level], kind: str) -> _Level | None:
        level_id = f["properties"].get("level_id")
        lv = levels.get(level_id) if isinstance(level_id, str) else None
        if lv is None:
            self.rules.broken(f["what"], f"level_id {level_id!r} names no level",
                              f"{kind}.level_id references a level", ref=f["id"],
                              action="skipped", severity=Severity.ERROR)
        return lv

    def _occupants(self, anchors: list[Feature]) -> dict[str, str]:
        """The names occupants give units (through their anchors), by IMDF unit id: in many
        archives the room's name ("Science Lab") is its occupant's, not the unit's."""
        unit_of = {a["id"]: _text(a["properties"].get("unit_id")) for a in anchors}
        names: dict[str, str] = {}
        for f in self.features("occupant"):
            self.geometry(f, "occupant")
            anchor_id = _text(f["properties"].get("anchor_id"))
            unit_id = unit_of.get(anchor_id) if anchor_id else None
            if unit_id is None:
                self.rules.broken(f["what"], f"anchor_id {anchor_id!r} names no anchor",
                                  "occupant.anchor_id references an anchor", ref=f["id"],
                                  action="its name is not used")
                continue
            name = self.label(f, "name")
            if name:
                names.setdefault(unit_id, name)
        return names

    def _units(self, levels: dict[str, _Level], buildings: dict[str, _Building],
               occupants: dict[str, str]) -> tuple[list[Unit], dict[str, tuple[str, str]]]:
        units: list[Unit] = []
        unit_levels: dict[str, tuple[str, str]] = {}  # IMDF unit id -> (building, level) ids
        fabric: Counter[str] = Counter()
        for f in self.features("unit"):
            category = _text(f["properties"].get("category"))
            if category in _NOT_SPACES:
                fabric[str(category)] += 1
                continue
            lv = self._level_of(f, levels, "unit")
            geom = self.geometry(f, "unit")
            if lv is None or geom is None:
                continue
            polygon, note = as_polygon(geom)
            if polygon is None:
                if geom.geom_type in _ALLOWED_GEOMETRY["unit"]:  # else said already
                    self.rules.broken(f["what"], "geometry has no area", "a unit is POLYGONAL",
                                      ref=f["id"], action="skipped")
                continue
            if note:
                self.rules.note(f"{f['what']}: {note}", kind=FindingKind.REPAIRED_GEOMETRY,
                                ref=f["id"], action=note, key="unit_repaired")
            name, alt = self.label(f, "name"), self.label(f, "alt_name")
            number = room_number(name) or room_number(alt) or ""
            if number and room_number(name) and alt and not room_number(alt):
                name, alt = alt, ""
            elif number and not room_number(name):
                alt = ""
            occupant = occupants.get(f["id"], "")
            if occupant and (not name or name == number):
                name, occupant = occupant, ""
            aliases = tuple(dict.fromkeys(x for x in (alt, occupant) if x and x != name))
            if not isinstance(category, str) or category not in UNIT_CATEGORIES:
                self.rules.broken(f["what"], f"category is {category!r}",
                                  "unit.category is a UNIT-CATEGORY", ref=f["id"],
                                  action="category read from its name")
                category = room_category(name)
            level_id = self._level_for(lv, polygon.representative_point(), buildings)
            building_id = next(b for b, i in lv.ids.items() if i == level_id)
            unit_levels[f["id"]] = (building_id, level_id)
            units.append(Unit(
                id=stable_id(self.cid, f["id"]), building_id=stable_id(self.cid, building_id),
                level_id=level_id, number=number, name=name or number, geometry=polygon,
                category=category, aliases=aliases))
        for category, n in fabric.items():
            self.rules.note(f"{n} unit(s) of category {category!r} are building fabric, not "
                            "rooms; left out", action="left out", kind=FindingKind.UNSUPPORTED)
        return units, unit_levels

    def _openings(self, levels: dict[str, _Level], buildings: dict[str, _Building],
                  frame: LocalFrame) -> list[Opening]:
        openings: list[Opening] = []
        footprints = {bid: frame.to_local(b.footprint) for bid, b in buildings.items()
                      if b.footprint is not None}
        # buildings that touch: a door in a wall they share is not an exterior door
        neighbours = {bid: [f for other, f in footprints.items()
                            if other != bid and f.distance(fp) < EXTERIOR_DOOR_M]
                      for bid, fp in footprints.items()}
        for f in self.features("opening"):
            lv = self._level_of(f, levels, "opening")
            geom = self.geometry(f, "opening")
            if lv is None or geom is None:
                continue
            if isinstance(geom, LineString | MultiLineString):
                line = geom if isinstance(geom, LineString) else max(geom.geoms,
                                                                     key=lambda g: g.length)
                point = line.interpolate(0.5, normalized=True)
            else:
                point = geom.representative_point()
            category = f["properties"].get("category")
            if not isinstance(category, str) or category not in OPENING_CATEGORIES:
                self.rules.broken(f["what"], f"category is {category!r}",
                                  "opening.category is an OPENING-CATEGORY", ref=f["id"],
                                  action="read as pedestrian")
            level_id = self._level_for(lv, point, buildings)
            building_id = next(b for b, i in lv.ids.items() if i == level_id)
            fp = footprints.get(building_id)
            exterior = fp is not None and _opens_outside(
                frame.to_local(geom), fp, neighbours[building_id])
            name = self.label(f, "name")
            match = _DOOR_NUMBER_RE.match(name) if exterior else None
            openings.append(Opening(
                id=stable_id(self.cid, f["id"]), building_id=stable_id(self.cid, building_id),
                level_id=level_id, geometry=Point(point.x, point.y), exterior=exterior,
                main_entrance=exterior and category == "pedestrian.principal",
                number=match.group(1).upper() if match else None))
        return openings

    def _amenities(self, unit_levels: dict[str, tuple[str, str]],
                   buildings: dict[str, _Building]) -> list[Amenity]:
        amenities: list[Amenity] = []
        others: Counter[str] = Counter()
        for f in self.features("amenity"):
            category = f["properties"].get("category")
            kind = _AMENITY_KINDS.get(category) if isinstance(category, str) else None
            if kind is None:
                others[str(category)] += 1
                continue
            geom = self.geometry(f, "amenity")
            if geom is None:
                continue
            point = geom if isinstance(geom, Point) else geom.representative_point()
            placed = None
            for uid in self.ids(f, "unit_ids"):
                if uid in unit_levels:
                    placed = placed or unit_levels[uid]
                else:
                    self.rules.broken(f["what"], f"unit_ids names {uid!r}, no unit",
                                      "amenity.unit_ids references units", ref=f["id"],
                                      action="ignored for it")
            building_id = level_id = None
            if placed is not None:
                building_id, level_id = stable_id(self.cid, placed[0]), placed[1]
            else:
                for bid, b in buildings.items():
                    if b.footprint is not None and b.footprint.covers(point):
                        building_id = stable_id(self.cid, bid)
                        break
            amenities.append(Amenity(
                id=stable_id(self.cid, f["id"]), kind=kind,
                name=self.label(f, "name") or kind.display_name,
                geometry=Point(point.x, point.y), building_id=building_id, level_id=level_id))
        for category, n in sorted(others.items()):
            self.rules.note(f"{n} amenit{'y' if n == 1 else 'ies'} of category {category!r} "
                            "left out: not a point responders look up",
                            kind=FindingKind.UNSUPPORTED, action="left out")
        return amenities

    def _anchors(self, anchors: list[Feature], unit_levels: dict[str, tuple[str, str]]
                 ) -> None:
        for f in anchors:
            uid = _text(f["properties"].get("unit_id"))
            if uid not in unit_levels:
                self.rules.broken(f["what"], f"unit_id {uid!r} names no unit",
                                  "anchor.unit_id references a unit", ref=f["id"],
                                  action="ignored", severity=Severity.INFO)

    def _model_levels(self, levels: dict[str, _Level], used: set[str]
                      ) -> tuple[Level, ...]:
        out: list[Level] = []
        for lv in levels.values():
            for bid, level_id in lv.ids.items():
                if level_id in used:
                    out.append(Level(level_id, stable_id(self.cid, bid), lv.ordinal, lv.name,
                                     lv.short_name))
        seen: dict[tuple[str, int], str] = {}
        for lv_model in out:
            key = (lv_model.building_id, lv_model.ordinal)
            if key in seen:
                self.rules.note(f"two levels of one building have ordinal {lv_model.ordinal} "
                                f"({seen[key]!r} and {lv_model.name!r}); both kept",
                                severity=Severity.WARNING)
            seen.setdefault(key, lv_model.name)
        return tuple(out)


def _opens_outside(door: BaseGeometry, footprint: Polygon,
                   others: list[Polygon] | tuple[()] = ()) -> bool:
    """Whether an opening (local metres) leads out of its building: one side of the door
    line, a step away from its middle, is outside the footprint and outside every other
    building (a door in a wall two buildings share leads indoors). A door given as a point
    counts when it is on the footprint's edge and on no other building's."""
    if isinstance(door, MultiLineString):
        door = max(door.geoms, key=lambda g: g.length)
    if isinstance(door, LineString) and door.length > 0:
        middle = door.interpolate(0.5, normalized=True)
        x0, y0 = door.coords[0][:2]
        x1, y1 = door.coords[-1][:2]
        nx, ny = (y0 - y1) / door.length, (x1 - x0) / door.length  # unit normal
        step = EXTERIOR_DOOR_M
        sides = (Point(middle.x + nx * step, middle.y + ny * step),
                 Point(middle.x - nx * step, middle.y - ny * step))
        if footprint.exterior.distance(middle) > EXTERIOR_DOOR_M:
            return False
        return any(not footprint.covers(p) and not any(o.covers(p) for o in others)
                   for p in sides)
    point = door.representative_point()
    return bool(footprint.exterior.distance(point) <= EXTERIOR_DOOR_M
                and all(o.exterior.distance(point) > EXTERIOR_DOOR_M for o in others))


def read_imdf(path: Path, campus_id: str, limits: ImportLimits) -> IndoorImport:
    """Read an IMDF archive (a zip) into gridmap model objects.

    Raises :class:`~gridmap.errors.IndoorFileError` when the archive cannot be used at all
    (not a zip, over the limits, nothing usable); every rule it breaks otherwise is a finding.
    """
    return _Archive(Path(path), campus_id, limits).run()
