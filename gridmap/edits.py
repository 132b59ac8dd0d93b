"""Fixes an editor makes to an imported campus, as data, and applying them.

Facilities staff correct what an import got wrong or could not know: a room's number, name or
aliases, which door is the main entrance, the number painted on an exterior door, and points of
interest placed by hand (Knox boxes, AEDs, shutoffs, rally points). Each fix is a typed
:class:`Edit`; :func:`apply_edits` applies a list of them to a campus and returns the new campus
with the edits it could not apply (one sentence each).

Edits are kept with the workspace and applied again after every re-import. A room's id comes
from its drawn number (:func:`gridmap.model.stable_id`), so a re-import of a drawing whose rooms
were renumbered (the architect's new scheme, another label layer) gives the same room another
id, and another room this one's. So :func:`anchor_edits` records, when an edit is made, where
the room it names is (a point deep inside it, its level, its number then), and an edit finds its
room again by that place first: the room holding the point on that level; then by its id; then
by its old number. A door edit finds its door by id, else the exterior door nearest its recorded
place. An edit that finds nothing is a :class:`SkippedEdit` saying which edit and why (never
dropped silently). A door number set here is
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

from shapely import STRtree
from shapely.errors import GEOSException, TopologicalError
from shapely.geometry import Point
from shapely.ops import polylabel

from gridmap.errors import InvalidModel
from gridmap.model import Amenity, AmenityKind, Campus, Opening, Unit, stable_id

#: the longest room number, door number or name an edit may set
MAX_TEXT = 200
#: the most aliases one room may carry
MAX_ALIASES = 20
#: the most edits one workspace keeps
MAX_EDITS = 5_000
_DOOR_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$")
#: a door edit's door is the exterior door nearest its recorded place, within this (metres)
DOOR_MATCH_M = 2.0


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


def _lonlat(value: object, what: str) -> None:
    if not (isinstance(value, tuple) and len(value) == 2):
        raise InvalidModel(f"{what} must be [longitude, latitude]")
    lon, lat = value
    if not (isinstance(lon, int | float) and isinstance(lat, int | float)
            and not isinstance(lon, bool) and not isinstance(lat, bool)
            and math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidModel(f"{what} {value} is not a pair of finite numbers")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidModel(f"{what} {value} is not a longitude, latitude pair")


def _anchor(at: object, level_id: object) -> None:
    """Check an edit's recorded place: ``at`` (lon, lat) and ``level_id``, each optional."""
    if at is not None:
        _lonlat(at, "at")
    if level_id is not None:
        _id(level_id, "level_id")


@dataclass(frozen=True, slots=True)
class RoomEdit:
    """A room's number, name and/or aliases (None: left as imported)."""

    unit_id: str
    number: str | None = None
    name: str | None = None
    aliases: tuple[str, ...] | None = None
    #: where the room was when the edit was made (:func:`anchor_edits`): a point deep inside
    #: it (lon, lat), its level, and its number then
    at: tuple[float, float] | None = None
    level_id: str | None = None
    was_number: str | None = None
    op: str = "room"

    def __post_init__(self) -> None:
        _id(self.unit_id, "unit_id")
        _anchor(self.at, self.level_id)
        if self.was_number is not None:
            _text(self.was_number, "was_number")
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
    #: where the door was when the edit was made (:func:`anchor_edits`)
    at: tuple[float, float] | None = None
    level_id: str | None = None
    op: str = "main_entrance"

    def __post_init__(self) -> None:
        _id(self.opening_id, "opening_id")
        _anchor(self.at, self.level_id)


@dataclass(frozen=True, slots=True)
class DoorNumberEdit:
    """The number painted on an exterior door, locked: re-imports keep it."""

    opening_id: str
    number: str
    locked: bool = True
    #: where the door was when the edit was made (:func:`anchor_edits`)
    at: tuple[float, float] | None = None
    level_id: str | None = None
    op: str = "door_number"

    def __post_init__(self) -> None:
        _id(self.opening_id, "opening_id")
        _anchor(self.at, self.level_id)
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
        _lonlat(self.lonlat, "lonlat")
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
        if "at" in values and values["at"] is not None:
            at = values["at"]
            if not (isinstance(at, list | tuple) and len(at) == 2):
                raise InvalidModel(f"{op} edit: at must be [longitude, latitude]")
            values["at"] = (at[0], at[1])
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


@dataclass(frozen=True, slots=True)
class SkippedEdit:
    """An edit that could not be applied, and why: the message names the edit (what it sets,
    on which room or door) and the reason; ``at`` is where it was made, when known."""

    edit: Edit
    why: str
    at: tuple[float, float] | None = None

    @property
    def message(self) -> str:
        return f"{describe(self.edit)} was not applied: {self.why}"

    @property
    def ref(self) -> str:
        """The id the edit names."""
        edit = self.edit
        if isinstance(edit, RoomEdit):
            return edit.unit_id
        if isinstance(edit, MainEntranceEdit | DoorNumberEdit):
            return edit.opening_id
        if isinstance(edit, RemovePoint):
            return edit.amenity_id
        return ""


@dataclass(frozen=True, slots=True)
class MovedEdit:
    """An edit applied to another room or door than the one it names by id: found at its
    recorded place (the drawing renumbered the room), or by its old number."""

    edit: Edit
    to_id: str
    how: str  # "place" | "number"
    #: what the room or door is called now (its number, else its name, else its id)
    to_label: str = ""

    @property
    def message(self) -> str:
        what = "room" if isinstance(self.edit, RoomEdit) else "door"
        by = (f"found at its place (the drawing gives the {what} another number or id now)"
              if self.how == "place" else "found by its old number")
        return f"{describe(self.edit)}: {by}; applied to {what} {self.to_label or self.to_id}"


@dataclass(frozen=True, slots=True)
class EditsApplied:
    """The campus with the edits applied, the edits skipped, and those that found their room
    or door somewhere else than under their id."""

    campus: Campus
    skipped: tuple[SkippedEdit, ...] = ()
    moved: tuple[MovedEdit, ...] = ()


def describe(edit: Edit) -> str:
    """An edit as an editor recognises it: ``room edit of 214 (number -> '215')``."""
    if isinstance(edit, RoomEdit):
        changes = []
        if edit.number is not None:
            changes.append(f"number -> {edit.number.strip()!r}")
        if edit.name is not None:
            changes.append(f"name -> {edit.name.strip()!r}")
        if edit.aliases is not None:
            changes.append(f"aliases -> {', '.join(edit.aliases) or 'none'}")
        room = edit.was_number or edit.unit_id
        return f"room edit of {room} ({'; '.join(changes)})"
    if isinstance(edit, MainEntranceEdit):
        return f"main entrance at door {edit.opening_id}"
    if isinstance(edit, DoorNumberEdit):
        return f"door number {edit.number.strip()!r} locked on door {edit.opening_id}"
    if isinstance(edit, PlacePoint):
        return f"{edit.kind.display_name} {edit.name.strip()!r} placed at {edit.lonlat}"
    return f"removal of point {edit.amenity_id}"


def anchor_edits(campus: Campus, edits: Iterable[Edit]) -> list[Edit]:
    """The edits with the place of the room or door each names recorded (from ``campus``, the
    campus they are made on): a point deep inside the room (or the door's point), its level
    and the room's number then. A re-import finds the room by them when its id has changed.
    Edits whose room or door ``campus`` lacks, and points, are returned as they are."""
    units = {u.id: u for u in campus.units}
    openings = {o.id: o for o in campus.openings}
    out: list[Edit] = []
    for edit in edits:
        if isinstance(edit, RoomEdit) and edit.unit_id in units:
            unit = units[edit.unit_id]
            out.append(dataclasses.replace(
                edit, at=_inside(unit), level_id=unit.level_id,
                was_number=edit.was_number or unit.number or None))
        elif isinstance(edit, MainEntranceEdit | DoorNumberEdit) and edit.opening_id in openings:
            door = openings[edit.opening_id]
            out.append(dataclasses.replace(edit, at=_rounded(door.geometry.x, door.geometry.y),
                                           level_id=door.level_id))
        else:
            out.append(edit)
    return out


def _rounded(lon: float, lat: float) -> tuple[float, float]:
    return round(lon, 8), round(lat, 8)


def _inside(unit: Unit) -> tuple[float, float]:
    """A point deep inside the room (its pole of inaccessibility): the last to leave it when
    a re-import's better control points shift the plan a little."""
    geom = unit.geometry
    minx, miny, maxx, maxy = geom.bounds
    try:
        p = polylabel(geom, tolerance=max(maxx - minx, maxy - miny) / 100 or 1e-9)
    except (TopologicalError, GEOSException):  # an odd outline: any inner point does
        p = geom.representative_point()
    if not geom.covers(p):
        p = geom.representative_point()
    return _rounded(p.x, p.y)


class _Places:
    """Where the campus's rooms and doors are, to find an edit's room or door by place."""

    def __init__(self, campus: Campus) -> None:
        self.units = list(campus.units)
        self.level_ids = {lv.id for lv in campus.levels}
        self._tree: STRtree | None = None

    def rooms_at(self, at: tuple[float, float], level_id: str | None) -> list[Unit]:
        if self._tree is None:
            self._tree = STRtree([u.geometry for u in self.units])
        hits = [self.units[int(k)] for k in sorted(
            self._tree.query(Point(at), predicate="covered_by"))]
        same_level = [u for u in hits if u.level_id == level_id]
        return same_level if same_level or level_id in self.level_ids else hits

    def nearest_door(self, at: tuple[float, float], level_id: str | None,
                     openings: Mapping[str, Opening]) -> Opening | None:
        best: tuple[float, Opening] | None = None
        for o in openings.values():
            if not o.exterior or (level_id is not None and o.level_id != level_id):
                continue
            d = _metres(at, (o.geometry.x, o.geometry.y))
            if d <= DOOR_MATCH_M and (best is None or d < best[0]):
                best = (d, o)
        return None if best is None else best[1]


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The distance between two lon/lat points, metres (near enough over a few metres)."""
    mid = math.radians((a[1] + b[1]) / 2)
    return math.hypot((a[0] - b[0]) * 111_320.0 * math.cos(mid), (a[1] - b[1]) * 110_540.0)


def _find_room(edit: RoomEdit, units: Mapping[str, Unit], places: _Places
               ) -> tuple[Unit | None, str]:
    """The room an edit names: (room, how) with how "place", "id" or "number"; (None, why)."""
    if edit.at is not None:
        hits = places.rooms_at(edit.at, edit.level_id)
        if hits:
            hit = (next((u for u in hits if u.id == edit.unit_id), None)
                   or next((u for u in hits if edit.was_number and u.number == edit.was_number),
                           None)
                   or min(hits, key=lambda u: u.geometry.area))
            return units[hit.id], "place" if hit.id != edit.unit_id else "id"
    if edit.unit_id in units:
        return units[edit.unit_id], "id"
    if edit.was_number:
        numbered = [u for u in units.values() if u.number == edit.was_number
                    and (edit.level_id is None or u.level_id == edit.level_id)]
        if len(numbered) == 1:
            return numbered[0], "number"
        if len(numbered) > 1:
            return None, (f"no room lies where it was, and {len(numbered)} rooms on its level "
                          f"are numbered {edit.was_number!r}")
    if edit.at is None:
        return None, "the room is not in the campus (gone from the drawing?)"
    return None, ("no room lies where it was, and none has its id"
                  + (f" or its number {edit.was_number!r}" if edit.was_number else "")
                  + " (gone from the drawing, or moved?)")


def reapply_edits(campus: Campus, edits: Iterable[Edit], *, before: Campus | None = None,
                  strict: bool = False) -> EditsApplied:
    """The campus with ``edits`` applied in order, the edits skipped and the edits moved.

    Each edit finds its room or door as :func:`anchor_edits` describes; an edit made before
    edits recorded their place (or whose room ``campus`` lacks) takes it from ``before``, the
    campus the edits were last applied to. An edit that finds nothing is skipped, saying
    why; with ``strict`` (an editor's new edits, made on this campus) an edit finds its room or
    door by id alone, and one that finds nothing raises :class:`InvalidModel` instead.
    """
    units = {u.id: u for u in campus.units}
    openings = {o.id: o for o in campus.openings}
    amenities = {a.id: a for a in campus.amenities}
    buildings = {b.id for b in campus.buildings}
    levels = {lv.id: lv for lv in campus.levels}
    places = _Places(campus)
    skipped: list[SkippedEdit] = []
    moved: list[MovedEdit] = []

    def skip(edit: Edit, why: str, at: tuple[float, float] | None = None) -> None:
        if strict:
            raise InvalidModel(f"{describe(edit)}: {why}")
        skipped.append(SkippedEdit(edit, why, at))

    for edit in edits:
        if before is not None and isinstance(edit, RoomEdit | MainEntranceEdit
                                             | DoorNumberEdit) and edit.at is None:
            edit = anchor_edits(before, [edit])[0]
        if isinstance(edit, RoomEdit):
            # an editor's new edit names a room of the campus it is made on: by id alone
            unit, how = ((units.get(edit.unit_id), "id") if strict
                         else _find_room(edit, units, places))
            if unit is None and strict:
                how = "the room is not in the campus"
            if unit is None:
                skip(edit, how, edit.at)
                continue
            if how != "id":
                moved.append(MovedEdit(edit, unit.id, how, unit.number or unit.name))
            units[unit.id] = _room(unit, edit)
        elif isinstance(edit, MainEntranceEdit | DoorNumberEdit):
            door = openings.get(edit.opening_id)
            if door is not None and not door.exterior:
                skip(edit, "it is an interior door: only exterior doors are numbered and "
                     "entrances", edit.at)
                continue
            if door is None and edit.at is not None and not strict:
                door = places.nearest_door(edit.at, edit.level_id, openings)
                if door is not None:
                    moved.append(MovedEdit(edit, door.id, "place", door.number or ""))
            if door is None:
                skip(edit, "the exterior door is not in the campus" + (
                    f" and no exterior door is within {DOOR_MATCH_M:g} m of where it was"
                    if edit.at is not None else ""), edit.at)
                continue
            if isinstance(edit, MainEntranceEdit):
                for o in list(openings.values()):
                    if o.building_id == door.building_id and o.exterior:
                        openings[o.id] = dataclasses.replace(o, main_entrance=o.id == door.id)
            else:
                _lock_number(openings, door, edit.number)
        elif isinstance(edit, PlacePoint):
            if edit.building_id is not None and edit.building_id not in buildings:
                skip(edit, f"unknown building {edit.building_id}", edit.lonlat)
                continue
            if edit.level_id is not None:
                level = levels.get(edit.level_id)
                if level is None or (edit.building_id is not None
                                     and level.building_id != edit.building_id):
                    skip(edit, f"unknown level {edit.level_id}"
                         + (f" of building {edit.building_id}" if edit.building_id else ""),
                         edit.lonlat)
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
                skip(edit, "the point is not in the campus; nothing removed")
        else:  # pragma: no cover - the union is closed
            raise InvalidModel(f"unknown edit {edit!r}")
    edited = dataclasses.replace(
        campus,
        units=tuple(units[u.id] for u in campus.units),
        openings=tuple(openings[o.id] for o in campus.openings),
        amenities=tuple(amenities.values()),
    )
    return EditsApplied(edited, tuple(skipped), tuple(moved))


def apply_edits(campus: Campus, edits: Iterable[Edit], *, strict: bool = False,
                before: Campus | None = None) -> tuple[Campus, list[str]]:
    """The campus with ``edits`` applied in order, and what could not be applied (one
    sentence each, naming the edit and why): :func:`reapply_edits` in short."""
    done = reapply_edits(campus, edits, before=before, strict=strict)
    return done.campus, [s.message for s in done.skipped]


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
