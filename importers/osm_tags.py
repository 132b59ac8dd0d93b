"""What OSM Simple Indoor Tagging tags mean to gridmap: spaces, unit categories, doors,
point features (AED, first aid, rally point), room numbers and names, addresses."""

from __future__ import annotations

from collections.abc import Mapping

from gridmap.model import AmenityKind
from importers.dxf import room_category
from importers.room_labels import room_number

SPACES = ("room", "corridor", "area")
VENUE_AMENITIES = frozenset({"school", "college", "university", "kindergarten"})
_ROOM_CATEGORIES = {
    "class": "classroom", "classroom": "classroom", "office": "office",
    "laboratory": "laboratory", "lab": "laboratory", "kitchen": "kitchen",
    "storage": "storage", "store": "storage", "auditorium": "auditorium",
    "library": "library", "toilet": "restroom", "toilets": "restroom",
    "stairs": "stairs", "elevator": "elevator", "lobby": "lobby", "technical": "nonpublic",
    "restaurant": "foodservice", "canteen": "foodservice", "sport": "fitnessroom",
    "computer": "classroom", "conference": "conferenceroom", "shower": "shower",
}


def unit_category(tags: Mapping[str, str], name: str) -> str:
    """The IMDF unit category a space's tags (else its name) say it is."""
    indoor = tags.get("indoor", "")
    room = tags.get("room", "").lower()
    if (tags.get("stairs") == "yes" or room == "stairs" or tags.get("highway") == "steps"
            or tags.get("stairwell") in ("yes", "stair_landing", "flight_of_stairs")):
        return "stairs"
    if tags.get("highway") == "elevator" or room == "elevator" or tags.get("elevator") == "yes":
        return "elevator"
    if room in ("toilet", "toilets") or tags.get("amenity") == "toilets":
        for gender in ("female", "male", "unisex"):
            if tags.get(gender) == "yes":
                return f"restroom.{gender}"
        return "restroom"
    if indoor == "corridor":
        return "walkway"
    if room in _ROOM_CATEGORIES:
        return _ROOM_CATEGORIES[room]
    by_name = room_category(name)
    if indoor == "area" and by_name == "room":
        return "unenclosedarea"
    return by_name


def postal_address(tags: Mapping[str, str]) -> str | None:
    """The ``addr:*`` tags as one line (``"12 Oak St, Springfield, IL 62701"``), or None."""
    street = " ".join(x for x in (tags.get("addr:housenumber", ""), tags.get("addr:street", ""))
                      if x)
    place = " ".join(x for x in (tags.get("addr:state", ""), tags.get("addr:postcode", ""))
                     if x)
    parts = [x for x in (street, tags.get("addr:city", ""), place) if x]
    return ", ".join(parts) if street and len(parts) > 1 else (street or None)


_AMENITY_TAGS: tuple[tuple[str, str, AmenityKind], ...] = (
    ("emergency", "defibrillator", AmenityKind.AED),
    ("emergency", "first_aid_kit", AmenityKind.FIRST_AID),
    ("amenity", "first_aid", AmenityKind.FIRST_AID),
    ("emergency", "assembly_point", AmenityKind.RALLY_POINT),
)


def amenity_kind(tags: Mapping[str, str]) -> AmenityKind | None:
    """The point feature (AED, first aid, rally point) a node's tags make it, or None."""
    for key, value, kind in _AMENITY_TAGS:
        if tags.get(key) == value:
            return kind
    return None


def is_point_room(tags: Mapping[str, str]) -> bool:
    """A room mapped as a point: a named or numbered indoor space, or a lift shaft."""
    return ((tags.get("indoor") in SPACES and bool(tags.get("ref") or tags.get("name")))
            or tags.get("highway") == "elevator")


def number_and_name(tags: Mapping[str, str]) -> tuple[str, str]:
    """A room's number (``ref``, else a ``name`` that reads as one: "214", "Room 214") and
    name (``name``; the number when the name is only the number)."""
    number = tags.get("ref", "").strip()
    name = tags.get("name", "").strip()
    if not number and name:
        number = room_number(name) or ""
        if number and name.upper().replace(" ", "") in (number.replace(" ", ""),
                                                         f"ROOM{number}".replace(" ", "")):
            name = number
    return number, name


def is_area(tags: Mapping[str, str]) -> bool:
    """Whether a closed way or multipolygon with these tags is read: a building, an indoor
    space or level, the venue (a school's grounds) or an AED drawn as an area."""
    return (tags.get("indoor") in (*SPACES, "level")
            or tags.get("building", "no") != "no"
            or tags.get("amenity") in VENUE_AMENITIES
            or tags.get("emergency") == "defibrillator")


def is_point_feature(tags: Mapping[str, str]) -> bool:
    """Whether a node with these tags is read for itself: a door, an AED or other point, a
    room mapped as a point, or the venue's name and address on a node."""
    return (is_door(tags) or amenity_kind(tags) is not None or is_point_room(tags)
            or tags.get("amenity") in VENUE_AMENITIES)


def is_door(tags: Mapping[str, str]) -> bool:
    """Whether a node's tags make it a door or an entrance."""
    return (tags.get("door", "no") != "no" or tags.get("entrance", "no") != "no"
            or tags.get("indoor") == "door")
