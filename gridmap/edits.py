"""Fixes an editor makes to an imported campus, as data, and applying them.

Facilities staff correct what an import got wrong or could not know: a room's number, name or
aliases, which door is the main entrance, the number painted on an exterior door, and points of
interest placed by hand (Knox boxes, AEDs, shutoffs, rally points). Each fix is a typed
:class:`Edit`; :func:`apply_edits` applies a list of them to a campus and returns the new campus
with the edits it could not apply (one sentence each).

Edits are kept with the workspace and applied again after every re-import: they name rooms and
doors by id, and ids are stable across imports of the same drawing (:func:`gridmap.model.
stable_id` of the room's drawn number or the door's entity handle). A door number set here is
*locked*: a re-import or a renumbering hands the number back to the door it was locked on, and
the door that held it meanwhile takes the locked door's old number (a swap), so no number is
painted twice. A point placed here has an id made from the edit itself, so removing it later
names a stable id too.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point

from gridmap.errors import InvalidModel
from gridmap.model import Amenity, AmenityKind, Campus, Opening, Unit, stable_id

#: the longest room number, door number or name an edit may set
MAX_TEXT = 200
#: the most aliases one room may carry
MAX_ALIASES = 20
#: the most edits one workspace keeps
MAX_EDITS = 5_000
_DOOR_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$")


def _text(value: object, what: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidModel(f"{what} must be text, got {type(value).__name__}")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise InvalidModel(f"{what} is {len(text)} characters long (at most {MAX_TEXT})")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidModel(f"{what} holds control characters")
    if not text and not allow_empty:
        raise InvalidModel(f"{what} is empty")
    return text


def _id(value: object, what: str) -> str:
    text = _text(value, what, allow_empty=False)
    if len(text) > 100:
        raise InvalidModel(f"{what} is longer than 100 characters")
    return text


@dataclass(frozen=True, slots=True)
class RoomEdit:
    """A room's number, name and/or aliases (None: left as imported)."""

    unit_id: str
    number: str | None = None
    name: str | None = None
    aliases: tuple[str, ...] | None = None
    op: str = "room"

    def __post_init__(self) -> None:
        _id(self.unit_id, "unit_id")
        if self.number is not None:
            _text(self.number, "room number")
        if self.name is not None:
            _text(self.name, "room name")
        if self.aliases is not None:
            if len(self.aliases) > MAX_ALIASES:
                raise InvalidModel(f"a room has at most {MAX_ALIASES} aliases")
            for a in self.aliases:
                _text(a, "alias", allow_empty=False)
        if self.number is None and self.name is None and self.aliases is None:
            raise InvalidModel(f"room edit of {self.unit_id} changes nothing: give a number, "
                               "a name or aliases")


@dataclass(frozen=True, slots=True)
class MainEntranceEdit:
    """This exterior door is its building's main entrance (and no other door is)."""

    opening_id: str
    op: str = "main_entrance"

    def __post_init__(self) -> None:
        _id(self.opening_id, "opening_id")


@dataclass(frozen=True, slots=True)
class DoorNumberEdit:
    """The number painted on an exterior door, locked: re-imports keep it."""

    opening_id: str
    number: str
    locked: bool = True
    op: str = "door_number"

    def __post_init__(self) -> None:
        _id(self.opening_id, "opening_id")
        number = _text(self.number, "door number", allow_empty=False)
        if len(number) > 20 or not _DOOR_NUMBER.match(number):
            raise InvalidModel(f"door number {number!r} is not a door number (letters, digits, "
                               "at most 20 characters, e.g. 7 or 7A)")


@dataclass(frozen=True, slots=True)
class PlacePoint:
    """A point of interest placed by hand at ``lonlat`` (WGS84)."""

    kind: AmenityKind
    name: str
    lonlat: tuple[float, float]
    building_id: str | None = None
    level_id: str | None = None
    op: str = "place"

    def __post_init__(self) -> None:
        if not isinstance(self.kind, AmenityKind):
            raise InvalidModel(f"unknown kind of point {self.kind!r}")
        _text(self.name, "name")
        lon, lat = self.lonlat
        if not (isinstance(lon, int | float) and isinstance(lat, int | float)
                and math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidModel(f"lonlat {self.lonlat} is not a pair of finite numbers")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise InvalidModel(f"lonlat {self.lonlat} is not a longitude, latitude pair")
        for value, what in ((self.building_id, "building_id"), (self.level_id, "level_id")):
            if value is not None:
                _id(value, what)

    def amenity_id(self, campus_id: str) -> str:
        """The placed point's id: the same edit always makes the same id."""
        lon, lat = self.lonlat
        return stable_id(campus_id, "placed", self.kind.value, self.name.strip(),
                         f"{lon:.7f}", f"{lat:.7f}")


@dataclass(frozen=True, slots=True)
class RemovePoint:
    """A point of interest (from the POI file, or placed here) taken away."""

    amenity_id: str
    op: str = "remove_point"

    def __post_init__(self) -> None:
        _id(self.amenity_id, "amenity_id")


Edit = RoomEdit | MainEntranceEdit | DoorNumberEdit | PlacePoint | RemovePoint

OPS: dict[str, type[Edit]] = {
    "room": RoomEdit, "main_entrance": MainEntranceEdit, "door_number": DoorNumberEdit,
    "place": PlacePoint, "remove_point": RemovePoint,
}


def edit_from_dict(data: Mapping[str, Any]) -> Edit:
    """An edit from its JSON form (``{"op": "room", "unit_id": ..., "number": "215"}``);
    :class:`InvalidModel` naming what is wrong."""
    if not isinstance(data, Mapping):
        raise InvalidModel("an edit must be an object with an 'op'")
    op = data.get("op")
    cls = OPS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise InvalidModel(f"unknown edit op {op!r}; one of {', '.join(OPS)}")
    fields = {f.name for f in dataclasses.fields(cls)} - {"op"}
    unknown = sorted(set(data) - fields - {"op"})
    if unknown:
        raise InvalidModel(f"{op} edit: unknown field(s) {', '.join(unknown)}")
    values = {k: v for k, v in data.items() if k in fields}
    try:
        if cls is PlacePoint:
            raw = values.get("kind")
            try:
                values["kind"] = AmenityKind(str(raw))
            except ValueError:
                raise InvalidModel(f"place edit: unknown kind {raw!r}; one of "
                                   f"{', '.join(k.value for k in AmenityKind)}") from None
            ll = values.get("lonlat")
            if not (isinstance(ll, list | tuple) and len(ll) == 2):
                raise InvalidModel("place edit: lonlat must be [longitude, latitude]")
            values["lonlat"] = (ll[0], ll[1])
            values.setdefault("name", "")
        if cls is RoomEdit and values.get("aliases") is not None:
            aliases = values["aliases"]
            if not isinstance(aliases, list | tuple):
                raise InvalidModel("room edit: aliases must be a list of names")
            values["aliases"] = tuple(aliases)
        if cls is DoorNumberEdit and "locked" in values and values["locked"] is not True:
            raise InvalidModel("door_number edit: a number set by hand is always locked "
                               "(locked: true)")
        return cls(**values)
    except TypeError as exc:
        raise InvalidModel(f"{op} edit: {exc}") from None


def edit_to_dict(edit: Edit) -> dict[str, Any]:
    """The JSON form of an edit (what :func:`edit_from_dict` reads back)."""
    out: dict[str, Any] = {"op": edit.op}
    for f in dataclasses.fields(edit):
        if f.name == "op":
            continue
        value = getattr(edit, f.name)
        if value is None:
            continue
        if isinstance(value, AmenityKind):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def apply_edits(campus: Campus, edits: Iterable[Edit], *, strict: bool = False
                ) -> tuple[Campus, list[str]]:
    """The campus with ``edits`` applied in order, and what could not be applied.

    An edit naming a room, door or point the campus does not have (gone from the re-imported
    drawing) is skipped and reported; with ``strict`` (an editor's new edits) it raises
    :class:`InvalidModel` instead.
    """
    units = {u.id: u for u in campus.units}
    openings = {o.id: o for o in campus.openings}
    amenities = {a.id: a for a in campus.amenities}
    buildings = {b.id for b in campus.buildings}
    levels = {lv.id: lv for lv in campus.levels}
    problems: list[str] = []

    def skip(message: str) -> None:
        if strict:
            raise InvalidModel(message)
        problems.append(message)

    for edit in edits:
        if isinstance(edit, RoomEdit):
            unit = units.get(edit.unit_id)
            if unit is None:
                skip(f"room {edit.unit_id} is not in the campus (gone from the drawing?); "
                     "its edit was not applied")
                continue
            units[unit.id] = _room(unit, edit)
        elif isinstance(edit, MainEntranceEdit | DoorNumberEdit):
            door = openings.get(edit.opening_id)
            if door is None or not door.exterior:
                skip(f"exterior door {edit.opening_id} is not in the campus; its edit was not "
                     "applied" if door is None else
                     f"door {edit.opening_id} is an interior door: only exterior doors are "
                     "numbered and entrances")
                continue
            if isinstance(edit, MainEntranceEdit):
                for o in list(openings.values()):
                    if o.building_id == door.building_id and o.exterior:
                        openings[o.id] = dataclasses.replace(o, main_entrance=o.id == door.id)
            else:
                _lock_number(openings, door, edit.number)
        elif isinstance(edit, PlacePoint):
            if edit.building_id is not None and edit.building_id not in buildings:
                skip(f"place {edit.kind.value}: unknown building {edit.building_id}")
                continue
            if edit.level_id is not None:
                level = levels.get(edit.level_id)
                if level is None or (edit.building_id is not None
                                     and level.building_id != edit.building_id):
                    skip(f"place {edit.kind.value}: unknown level {edit.level_id}"
                         + (f" of building {edit.building_id}" if edit.building_id else ""))
                    continue
            amenity_id = edit.amenity_id(campus.id)
            building_id = edit.building_id
            if building_id is None and edit.level_id is not None:
                building_id = levels[edit.level_id].building_id
            amenities[amenity_id] = Amenity(
                id=amenity_id, kind=edit.kind, name=edit.name.strip() or edit.kind.display_name,
                geometry=Point(*edit.lonlat), building_id=building_id, level_id=edit.level_id,
                note="placed in the workspace")
        elif isinstance(edit, RemovePoint):
            if amenities.pop(edit.amenity_id, None) is None:
                skip(f"point {edit.amenity_id} is not in the campus; nothing removed")
        else:  # pragma: no cover - the union is closed
            raise InvalidModel(f"unknown edit {edit!r}")
    edited = dataclasses.replace(
        campus,
        units=tuple(units[u.id] for u in campus.units),
        openings=tuple(openings[o.id] for o in campus.openings),
        amenities=tuple(amenities.values()),
    )
    return edited, problems


def _room(unit: Unit, edit: RoomEdit) -> Unit:
    changes: dict[str, Any] = {}
    if edit.number is not None:
        changes["number"] = edit.number.strip()
    if edit.name is not None:
        changes["name"] = edit.name.strip() or changes.get("number", unit.number)
    if edit.aliases is not None:
        seen: dict[str, str] = {}
        for a in edit.aliases:
            seen.setdefault(a.strip().lower(), a.strip())
        changes["aliases"] = tuple(seen.values())
    return dataclasses.replace(unit, **changes)


def _lock_number(openings: dict[str, Opening], door: Opening, number: str) -> None:
    """Give ``door`` ``number``; a door of its building holding that number takes ``door``'s
    old number (a swap), so no number is on two doors."""
    number = number.strip()
    for o in list(openings.values()):
        if o.id != door.id and o.exterior and o.building_id == door.building_id \
                and o.number == number:
            openings[o.id] = dataclasses.replace(o, number=door.number)
    openings[door.id] = dataclasses.replace(openings[door.id], number=number)


def locked_door_numbers(edits: Sequence[Edit]) -> dict[str, str]:
    """Opening id -> the number locked on it by the edits (the last edit wins)."""
    return {e.opening_id: e.number.strip() for e in edits if isinstance(e, DoorNumberEdit)}
