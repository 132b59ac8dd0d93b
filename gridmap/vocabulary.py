"""Words people use for the things on a campus, shared by importers and the lookup.

Facilities spreadsheets and callers say "Knox", "defib" or "stop the bleed kit"; every reader of
such words maps them through :data:`AMENITY_WORDS` so a POI file and a dispatcher agree.
"""

from __future__ import annotations

import re

from gridmap.model import AmenityKind

AMENITY_WORDS: dict[str, AmenityKind] = {
    "knox box": AmenityKind.KNOX_BOX, "knox": AmenityKind.KNOX_BOX,
    "key box": AmenityKind.KNOX_BOX, "lock box": AmenityKind.KNOX_BOX,
    "lockbox": AmenityKind.KNOX_BOX, "knoxbox": AmenityKind.KNOX_BOX,
    "aed": AmenityKind.AED, "defibrillator": AmenityKind.AED, "defib": AmenityKind.AED,
    "trauma kit": AmenityKind.TRAUMA_KIT, "bleed kit": AmenityKind.TRAUMA_KIT,
    "stop the bleed kit": AmenityKind.TRAUMA_KIT, "stop the bleed": AmenityKind.TRAUMA_KIT,
    "trauma bag": AmenityKind.TRAUMA_KIT,
    "gas shutoff": AmenityKind.GAS_SHUTOFF, "gas shut off": AmenityKind.GAS_SHUTOFF,
    "gas valve": AmenityKind.GAS_SHUTOFF, "gas meter": AmenityKind.GAS_SHUTOFF,
    "water shutoff": AmenityKind.WATER_SHUTOFF, "water shut off": AmenityKind.WATER_SHUTOFF,
    "water valve": AmenityKind.WATER_SHUTOFF, "water main": AmenityKind.WATER_SHUTOFF,
    "electric shutoff": AmenityKind.ELECTRIC_SHUTOFF,
    "electrical shutoff": AmenityKind.ELECTRIC_SHUTOFF,
    "power shutoff": AmenityKind.ELECTRIC_SHUTOFF, "main breaker": AmenityKind.ELECTRIC_SHUTOFF,
    "electrical panel": AmenityKind.ELECTRIC_SHUTOFF,
    "fire alarm panel": AmenityKind.FIRE_ALARM_PANEL, "facp": AmenityKind.FIRE_ALARM_PANEL,
    "fire panel": AmenityKind.FIRE_ALARM_PANEL, "alarm panel": AmenityKind.FIRE_ALARM_PANEL,
    "access control panel": AmenityKind.ACCESS_CONTROL_PANEL,
    "stairwell": AmenityKind.STAIRWELL, "stairs": AmenityKind.STAIRWELL,
    "staircase": AmenityKind.STAIRWELL, "elevator": AmenityKind.ELEVATOR,
    "rally point": AmenityKind.RALLY_POINT, "assembly point": AmenityKind.RALLY_POINT,
    "reunification site": AmenityKind.RALLY_POINT, "staging area": AmenityKind.STAGING_AREA,
    "staging": AmenityKind.STAGING_AREA, "hazard": AmenityKind.HAZARD,
    "first aid": AmenityKind.FIRST_AID,
}
# kind words are plural in speech too: "knox boxes", "aeds"
AMENITY_WORDS.update({w + ("es" if w.endswith("x") else "s"): k
                       for w, k in list(AMENITY_WORDS.items())})


# What rooms are called in speech, mapped to the names drawings give them
ROOM_WORDS: dict[str, tuple[str, ...]] = {
    "gym": ("gymnasium",), "cafe": ("cafeteria",), "caf": ("cafeteria",),
    "lunchroom": ("cafeteria",), "lunch room": ("cafeteria",),
    "lib": ("library", "media center"), "media center": ("library",),
    "lmc": ("library", "media center"), "aud": ("auditorium",),
    "nurse": ("nurse", "health office", "health room", "clinic"),
    "office": ("main office",), "front office": ("main office",),
    "band room": ("band",), "choir room": ("choir",), "locker room": ("locker room",),
    "bathroom": ("restroom", "toilet"), "toilet": ("restroom",), "washroom": ("restroom",),
}


def room_name_variants(text: str) -> tuple[str, ...]:
    """``text`` and what it stands for in drawings: ``"gym"`` -> ``("gym", "gymnasium")``."""
    key = re.sub(r"\s+", " ", text.strip().lower())
    return (key, *ROOM_WORDS.get(key, ()))


def amenity_kind(word: str) -> AmenityKind | None:
    """The kind a word names (``"Knox"``, ``"gas_shutoff"``, ``"AED"``), or None."""
    key = re.sub(r"[\s_\-]+", " ", word.strip().lower())
    if key in AMENITY_WORDS:
        return AMENITY_WORDS[key]
    try:
        return AmenityKind(key.replace(" ", "_"))
    except ValueError:
        return None
