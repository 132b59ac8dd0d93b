"""Points of interest (Knox boxes, AEDs, shutoffs, ...) from CSV or any GIS point file.

CSV columns: ``kind,name,lon,lat,building,level,note`` (``building``, ``level`` and ``note``
optional). ``kind`` is a :class:`gridmap.model.AmenityKind` value or a word staff use for one
(:mod:`gridmap.vocabulary`: "Knox Box", "defib", "Stop the Bleed kit"); case, spaces, hyphens
and underscores are forgiven. ``building`` is the manifest's building id ("A"),
``level`` a level ordinal (0 = ground floor) or a level's short name / name. GIS files carry the
same names as properties on point features.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry import Point

from gridmap.errors import PoiError
from gridmap.model import Amenity, AmenityKind, stable_id
from gridmap.vocabulary import amenity_kind
from importers.parcels import read_gis


@dataclass(frozen=True)
class PoiRow:
    row: int
    kind: AmenityKind
    name: str
    lon: float
    lat: float
    building: str
    level: str
    note: str


def parse_kind(raw: str, where: str) -> AmenityKind:
    kind = amenity_kind(raw)
    if kind is None:
        allowed = ", ".join(k.value for k in AmenityKind)
        raise PoiError(f"{where}: unknown kind {raw!r} (allowed: {allowed})")
    return kind


def _float(raw: object, what: str, where: str) -> float:
    try:
        v = float(str(raw).strip())
    except ValueError:
        raise PoiError(f"{where}: {what} {raw!r} is not a number") from None
    if not math.isfinite(v):
        raise PoiError(f"{where}: {what} {raw!r} is not a number")
    return v


def _row(values: Mapping[str, object], where: str, row: int) -> PoiRow:
    def text(key: str) -> str:
        v = values.get(key)
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

    kind = parse_kind(text("kind"), where)
    lon = _float(values.get("lon"), "lon", where)
    lat = _float(values.get("lat"), "lat", where)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise PoiError(f"{where}: ({lon}, {lat}) is not a longitude, latitude")
    level = text("level")
    if level.endswith(".0") and level[:-2].lstrip("-").isdigit():
        level = level[:-2]
    return PoiRow(row, kind, text("name") or kind.display_name, lon, lat,
                  text("building"), level, text("note"))


def read_poi_rows(path: Path) -> list[PoiRow]:
    if path.suffix.lower() in (".csv", ".txt"):
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                fields = [f.strip().lower() for f in reader.fieldnames or []]
                missing = {"kind", "lon", "lat"} - set(fields)
                if missing:
                    raise PoiError(
                        f"{path.name}: missing column(s) {', '.join(sorted(missing))}; "
                        "expected kind,name,lon,lat,building,level,note"
                    )
                rows = []
                for i, raw in enumerate(reader, start=2):
                    values = {(k or "").strip().lower(): v for k, v in raw.items()}
                    if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
                        continue
                    rows.append(_row(values, f"{path.name} line {i}", i))
                return rows
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise PoiError(f"{path.name}: cannot read CSV ({exc})") from exc
    gdf = read_gis(path)
    rows = []
    for i, (_, rec) in enumerate(gdf.iterrows(), start=1):
        geom = rec.geometry
        if geom is None or geom.geom_type != "Point":
            raise PoiError(f"{path.name} feature {i}: points of interest must be points")
        values = {str(k).lower(): v for k, v in rec.items() if k != "geometry"}
        values["lon"], values["lat"] = geom.x, geom.y
        rows.append(_row(values, f"{path.name} feature {i}", i))
    return rows


def to_amenities(
    rows: list[PoiRow],
    source: str,
    campus_id: str,
    building_ids: Mapping[str, str],
    level_ids: Mapping[tuple[str, str], str],
) -> list[Amenity]:
    """Resolve building short ids and level keys to model ids.

    ``building_ids`` maps a lower-cased building id/alias to its model id; ``level_ids`` maps
    (model building id, lower-cased ordinal / short name / name) to a level id.
    """
    out: list[Amenity] = []
    seen: dict[str, int] = {}
    for r in rows:
        where = f"{source} line {r.row}" if source.lower().endswith(".csv") else (
            f"{source} feature {r.row}"
        )
        building_id: str | None = None
        level_id: str | None = None
        if r.building:
            building_id = building_ids.get(r.building.lower())
            if building_id is None:
                raise PoiError(f"{where}: unknown building {r.building!r}")
            if r.level:
                level_id = level_ids.get((building_id, r.level.lower()))
                if level_id is None:
                    raise PoiError(f"{where}: building {r.building!r} has no level {r.level!r}")
        elif r.level:
            raise PoiError(f"{where}: level {r.level!r} given without a building")
        key = f"{r.kind.value}/{r.building}/{r.level}/{r.name}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key += f"/{seen[key]}"
        out.append(Amenity(
            id=stable_id(campus_id, "amenity", key), kind=r.kind, name=r.name,
            geometry=Point(r.lon, r.lat), building_id=building_id, level_id=level_id,
            note=r.note,
        ))
    return out
