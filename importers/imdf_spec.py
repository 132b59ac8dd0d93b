"""What the IMDF specification (OGC 20-094) says an archive holds: its feature files, the
geometry and properties each feature type has, and the category vocabularies."""

from __future__ import annotations

import re
from typing import Any

from gridmap.model import AmenityKind, GroundsKind

FEATURE_FILES = ("venue", "address", "building", "footprint", "level", "unit", "opening", "amenity",
                 "anchor", "occupant", "section", "kiosk", "fixture")
NOT_READ = ("geofence", "relationship", "detail")
ALLOWED_GEOMETRY: dict[str, tuple[str, ...]] = {
    "venue": ("Polygon", "MultiPolygon"), "footprint": ("Polygon", "MultiPolygon"),
    "level": ("Polygon", "MultiPolygon"), "unit": ("Polygon", "MultiPolygon"),
    "opening": ("LineString",), "amenity": ("Point",), "anchor": ("Point",),
    "section": ("Polygon", "MultiPolygon"), "kiosk": ("Polygon", "MultiPolygon"),
    "fixture": ("Polygon", "MultiPolygon"),
}
REQUIRED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "venue": ("category", "name", "address_id"), "building": ("category",),
    "footprint": ("category", "building_ids"), "level": ("category", "ordinal", "outdoor",
                                                         "name"),
    "unit": ("category", "level_id"), "opening": ("category", "level_id"),
    "amenity": ("category", "unit_ids"), "address": ("address", "locality", "country"),
    "anchor": ("unit_id",), "occupant": ("name", "category", "anchor_id"),
    "section": ("category", "level_id"), "kiosk": ("level_id",),
    "fixture": ("category", "level_id"),
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
NOT_SPACES = frozenset({"brick", "column", "concrete", "drywall", "glass", "opentobelow",
                         "structure", "vegetation", "wood"})
OPENING_CATEGORIES = frozenset({"automobile", "bicycle", "emergencyexit", "pedestrian",
                                "pedestrian.principal", "pedestrian.transit", "service"})
AMENITY_KINDS = {
    "defibrillator": AmenityKind.AED, "firstaid": AmenityKind.FIRST_AID,
    "elevator": AmenityKind.ELEVATOR,
}
#: what a unit or section on an outdoor level is on a campus's grounds, by the first part of its
#: category ("parking.shortterm" -> parking)
GROUNDS_KINDS = {
    "parking": GroundsKind.PARKING, "fieldofplay": GroundsKind.ATHLETIC_FIELD,
    "road": GroundsKind.ROAD, "recreation": GroundsKind.PLAYGROUND,
    "playground": GroundsKind.PLAYGROUND,
}
DOOR_NUMBER_RE = re.compile(r"^(?:door|exit|entrance|entry)?\s*(?:no\.?|#)?\s*"
                             r"([A-Z]?\d{1,3}[A-Z]?)$", re.IGNORECASE)

Feature = dict[str, Any]
