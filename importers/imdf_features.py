"""An IMDF archive's members read as features: each usable feature with its id, properties
and geometry, each rule it breaks a finding (:class:`ImdfFeatures`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gridmap.errors import IndoorFileError
from gridmap.model import MAX_GRID_EXTENT_M
from importers.findings import Severity
from importers.imdf_rules import (
    Rules,
    article,
    count_positions,
    first_position,
    is_uuid,
    parse_json,
)
from importers.imdf_spec import ALLOWED_GEOMETRY, REQUIRED_PROPERTIES, Feature
from importers.indoor import span_m
from importers.limits import ImportLimits, WorkBudget


class ImdfFeatures:
    """The features of one archive's members, checked against the IMDF rules."""

    def __init__(self, members: dict[str, bytes], source: str, limits: ImportLimits,
                 budget: WorkBudget, rules: Rules) -> None:
        self.members = members
        self.source = source
        self.limits = limits
        self.budget = budget
        self.rules = rules
        self.language = "en"
        self.seen_ids: set[str] = set()
        self.counted = 0

    def manifest(self) -> None:
        body = self.members.get("manifest")
        if body is None:
            self.rules.broken("the archive", "has no manifest.json",
                              "every IMDF archive has a manifest.json", action="read without")
            return
        doc = parse_json(body, "manifest.json", self.rules)
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
        doc = parse_json(body, file, self.rules)
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
        if not is_uuid(fid):
            self.rules.broken(what, "id is not a UUID", "FEATURE-ID is a UUID",
                              action="read with this id", severity=Severity.INFO, ref=fid)
        if fid in self.seen_ids:
            self.rules.broken(what, "id is used twice", "feature ids are unique in an archive",
                              action="second skipped", ref=fid)
            return None
        self.seen_ids.add(fid)
        place = first_position(f.get("geometry"))
        if place is not None:
            self.rules.places.setdefault(fid, place)
        if f.get("type") != "Feature":
            self.rules.broken(what, f"type is {f.get('type')!r}", 'a feature\'s type is "Feature"',
                              action="read as a Feature", severity=Severity.INFO, ref=fid)
        if f.get("feature_type") != feature_type:
            self.rules.broken(what, f"feature_type is {f.get('feature_type')!r} in {file}",
                              f'features in {file} have feature_type "{feature_type}"',
                              action=f"read as {article(feature_type)} {feature_type}", ref=fid)
        props = f.get("properties")
        if not isinstance(props, dict):
            self.rules.broken(what, "has no properties object",
                              "every feature has a properties object", action="read as empty",
                              ref=fid)
            props = {}
        for key in REQUIRED_PROPERTIES.get(feature_type, ()):
            if key not in props:
                self.rules.broken(what, f"has no {key!r} property",
                                  f"{feature_type}.{key} is required", ref=fid,
                                  action="read without it")
        return {"id": fid, "what": what, "properties": props, "geometry": f.get("geometry")}

    def geometry(self, f: Feature, feature_type: str) -> BaseGeometry | None:
        """The feature's geometry if it has a usable one, noting the rules it breaks."""
        g = f["geometry"]
        allowed = ALLOWED_GEOMETRY.get(feature_type, ())
        if g is None:
            if allowed:
                self.rules.broken(f["what"], "has no geometry",
                                  f"{article(feature_type)} {feature_type} has "
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
        n = count_positions(g.get("coordinates"), self.limits.max_outline_points)
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
                              f"{article(feature_type)} {feature_type} has {' or '.join(allowed)} "
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
