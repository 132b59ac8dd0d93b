"""What a lookup answers: candidates best first, a status, and the flags that qualify them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

from gridmap.index import Nearby

FLAG_ALSO_CELL = "also a grid cell"
FLAG_ALSO_ROOM = "also a room number, written without its zeros or letters"
FLAG_APPROXIMATE = "label only, no outline"
FLAG_STRAIGHT = "straight-line distances: no hallway data"
FLAG_NO_DOORS = "no exterior doors on this building's plans: doors of another building"
FLAG_OFF_FLOOR = "not on the floor the caller said"
FLAG_GENDER_UNKNOWN = "restroom gender not marked on the map"
#: prefix of the flag naming words said that the campus does not know ("auxiliary gym")
UNKNOWN_FLAG = "not on this campus: "


class Status(StrEnum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


class MatchKind(StrEnum):
    UNIT_NUMBER = "unit_number"
    UNIT_NAME = "unit_name"
    DOOR = "door"
    AMENITY = "amenity"
    CELL = "cell"
    USNG = "usng"
    LONLAT = "lonlat"
    BUILDING = "building"
    GROUNDS = "grounds"
    HALLWAY = "hallway"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible answer, with everything a dispatcher reads out."""

    score: float
    match: MatchKind
    label: str
    feature_id: str | None
    feature_type: str
    building_id: str | None
    building_name: str | None
    level_ordinal: int | None
    level_name: str | None
    unit_number: str | None
    unit_name: str | None
    kind: str | None
    primary_cell: str | None
    subcell: str | None
    cells: tuple[str, ...]
    usng: str
    lon: float
    lat: float
    nearest_doors: tuple[Nearby, ...]
    nearest_knox_box: Nearby | None
    nearest_aed: Nearby | None
    campus_id: str = ""
    nearest_trauma_kit: Nearby | None = None
    nearest_stairs: Nearby | None = None
    approximate: bool = False
    flags: tuple[str, ...] = ()
    #: the nearby doors and points as dicts, kept with the nearby objects they were made from:
    #: an answer's place part is shared by every copy of it (see :meth:`nearby_dicts`)
    _nearby_dicts: tuple[tuple[object, ...], dict[str, Any]] | None = field(
        default=None, init=False, repr=False, compare=False)

    def nearby_dicts(self) -> dict[str, Any]:
        """The ``nearest_*`` entries of :meth:`to_dict` (shared: copy before changing),
        made once per set of nearby objects and kept on the candidate and its copies."""
        made_from = (self.nearest_doors, self.nearest_knox_box, self.nearest_aed,
                     self.nearest_trauma_kit, self.nearest_stairs)
        kept = self._nearby_dicts
        if kept is not None and all(a is b for a, b in zip(kept[0], made_from, strict=True)):
            return kept[1]

        def one(n: Nearby | None) -> dict[str, Any] | None:
            return None if n is None else n.to_dict()

        dicts = {
            "nearest_doors": [d.to_dict() for d in self.nearest_doors],
            "nearest_knox_box": one(self.nearest_knox_box),
            "nearest_aed": one(self.nearest_aed),
            "nearest_trauma_kit": one(self.nearest_trauma_kit),
            "nearest_stairs": one(self.nearest_stairs),
        }
        # a cache, not a change of value: frozen dataclasses allow it through object
        object.__setattr__(self, "_nearby_dicts", (made_from, dicts))
        return dicts

    def to_dict(self) -> dict[str, Any]:
        nearby = self.nearby_dicts()

        def copy(d: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if d is None else dict(d)

        return {
            "score": round(self.score, 1), "match": self.match.value, "label": self.label,
            "campus_id": self.campus_id, "feature_id": self.feature_id,
            "feature_type": self.feature_type, "building_id": self.building_id,
            "building_name": self.building_name, "level_ordinal": self.level_ordinal,
            "level_name": self.level_name, "unit_number": self.unit_number,
            "unit_name": self.unit_name, "kind": self.kind, "primary_cell": self.primary_cell,
            "subcell": self.subcell, "cells": list(self.cells), "usng": self.usng,
            "lon": round(self.lon, 7), "lat": round(self.lat, 7),
            "nearest_doors": [dict(d) for d in nearby["nearest_doors"]],
            "nearest_knox_box": copy(nearby["nearest_knox_box"]),
            "nearest_aed": copy(nearby["nearest_aed"]),
            "nearest_trauma_kit": copy(nearby["nearest_trauma_kit"]),
            "nearest_stairs": copy(nearby["nearest_stairs"]),
            "approximate": self.approximate, "flags": list(self.flags),
        }


@dataclass(frozen=True, slots=True)
class LookupResult:
    query: str
    status: Status
    message: str
    candidates: tuple[Candidate, ...]
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query, "status": self.status.value, "message": self.message,
            "candidates": [c.to_dict() for c in self.candidates],
            "suggestions": list(self.suggestions),
        }


_T = TypeVar("_T")
_FIELDS: dict[type, tuple[str, ...]] = {
    Candidate: tuple(f.name for f in fields(Candidate)),
    LookupResult: tuple(f.name for f in fields(LookupResult)),
}


def replace(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for the frozen value objects here, without its per-call field
    introspection (it is the hot path of every answer)."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        raise TypeError(f"{cls.__name__} is not one of the lookup's value objects")
    new: _T = object.__new__(cls)
    for name in names:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new
