"""Dispatcher lookup: turn what a caller says into building, level, grid cell and nearest door.

Understood phrasings (case and spacing free): ``room 214``, ``rm 214``, ``214``, ``B-214``
(building prefix + room), ``gym``, ``main office`` (fuzzy, typo tolerant), ``door 7``,
``building B door 3``, ``main entrance``, ``knox box`` / ``AED`` / ``gas shutoff`` (point kinds),
``C4`` / ``C4-7`` (grid cells), a USNG string and a latitude/longitude pair.

Every answer lists candidates best first. ``found`` means one clear answer (or the full set a
kind query asked for); ``ambiguous`` means several equally good answers, or only partial ones,
that a dispatcher must choose between; ``not_found`` carries suggestions, never a guess.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from rapidfuzz import fuzz, process, utils
from shapely.geometry import Point

from gridmap import grid
from gridmap.errors import InvalidCellLabel, InvalidQuery, InvalidUSNG, OutsideGrid
from gridmap.index import CampusIndex, Nearby
from gridmap.model import Amenity, AmenityKind, Opening, Unit
from gridmap.usng import normalise_usng, parse_usng, to_usng
from gridmap.vocabulary import AMENITY_WORDS, amenity_kind, room_name_variants

MAX_QUERY_LENGTH = 200
EXACT = 100.0
FOUND_THRESHOLD = 90.0
NAME_CUTOFF = 72.0
# a fuzzy (not exact) name stays just below FOUND_THRESHOLD: a typo is offered, never assumed
FUZZY_NAME_CEILING = 89.0
NEAREST_LIMIT = 3
SUGGESTION_CUTOFF = 50.0

# words callers wrap around the thing itself ("near the gym", "outside door 2", "in room 214");
# not "a", which is also a building prefix ("a-214")
_FILLER = re.compile(r"\b(?:the|at|in|by|near|next to|outside|inside|of|please|um|uh)\b")
_ROOM = re.compile(r"^(?:room|rm|classroom|class|suite|office|#)\.?\s*(?:#|no\.?|number)?\s*"
                   r"([a-z]{0,2}\s*-?\s*\d+\s*[a-z]?)$")
_BARE_NUMBER = re.compile(r"^([a-z]{0,2})\s*-?\s*(\d+[a-z]?)$")
_DOOR = re.compile(r"^(?:ext(?:erior)?\.?\s+)?(?:door|dr\.?|entrance|entry|exit)\s*"
                   r"(?:#|no\.?|number)?\s*(\d+[a-z]?)$")
_MAIN_ENTRANCE = re.compile(r"^(?:main|front)\s+(?:entrance|entry|door)s?$")
_BUILDING = re.compile(r"(?:^|\s)(?:building|bldg\.?)\s+([a-z0-9-]+)(?:\s|$)")
# "<thing> in the gym", "door 2 at the main building": a building named after a preposition
_IN_BUILDING = re.compile(r"^(?P<rest>.+?)\s+(?:in|at|inside|outside|by|near|of)\s+(?:the\s+)?"
                          r"(?P<building>.+)$")
# "<kind> near <place>": the nearest points of a kind (or exterior doors) to a place
_NEAR = (
    re.compile(r"^(?:the\s+)?(?:nearest|closest)\s+(?P<what>.+?)\s+to\s+(?:the\s+)?"
               r"(?P<place>.+)$"),
    re.compile(r"^(?:the\s+)?(?P<what>.+?)\s+(?:near(?:est)?(?:\s+to)?|next\s+to|close\s+to|"
               r"closest\s+to|by)\s+(?:the\s+)?(?P<place>.+)$"),
)
_AMENITY_CHOICES = tuple(AMENITY_WORDS)
_DOOR_WORDS = frozenset({"door", "doors", "exit", "exits", "exterior door", "exterior doors",
                         "entrance", "way in", "entry"})
_CELL = re.compile(r"^(?:grid\s+|cell\s+)?([a-z]{1,2})\s*(\d{1,3})(?:\s*-\s*([1-9]))?$")
_NUMBER = r"[-+]?\d{1,3}(?:\.\d+)?"
_LONLAT = re.compile(rf"^({_NUMBER})\s*[,;\s]\s*({_NUMBER})$")

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 1), "match": self.match.value, "label": self.label,
            "campus_id": self.campus_id, "feature_id": self.feature_id,
            "feature_type": self.feature_type, "building_id": self.building_id,
            "building_name": self.building_name, "level_ordinal": self.level_ordinal,
            "level_name": self.level_name, "unit_number": self.unit_number,
            "unit_name": self.unit_name, "kind": self.kind, "primary_cell": self.primary_cell,
            "subcell": self.subcell, "cells": list(self.cells), "usng": self.usng,
            "lon": round(self.lon, 7), "lat": round(self.lat, 7),
            "nearest_doors": [d.to_dict() for d in self.nearest_doors],
            "nearest_knox_box": None if self.nearest_knox_box is None
            else self.nearest_knox_box.to_dict(),
            "nearest_aed": None if self.nearest_aed is None else self.nearest_aed.to_dict(),
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


@dataclass
class _Hits:
    """Scored features found by the interpreters, best score per feature kept."""

    units: dict[str, tuple[float, MatchKind]] = field(default_factory=dict)
    others: list[Candidate] = field(default_factory=list)
    set_query: bool = False

    def add_unit(self, unit_id: str, score: float, match: MatchKind) -> None:
        if unit_id not in self.units or self.units[unit_id][0] < score:
            self.units[unit_id] = (score, match)


def normalise_number(text: str) -> str:
    """Room numbers compare without case, spaces, dots or dashes: ``b-12`` == ``B12``."""
    return re.sub(r"[\s.\-_/]", "", text).upper()


def _clean(query: str) -> str:
    q = query.strip().lower()
    q = re.sub(r"[?!.,;]+$", "", q)
    return re.sub(r"\s+", " ", q).strip()


def _without_filler(q: str) -> str:
    stripped = re.sub(r"\s+", " ", _FILLER.sub(" ", q)).strip()
    return stripped or q


class LookupEngine:
    """Precomputed tables over one :class:`CampusIndex`; see :func:`lookup`."""

    def __init__(self, index: CampusIndex) -> None:
        self.index = index
        campus = index.campus
        self.units = {u.id: u for u in campus.units}
        self.by_number: dict[str, list[Unit]] = {}
        for u in campus.units:
            if u.number:
                self.by_number.setdefault(normalise_number(u.number), []).append(u)
        self.buildings_by_word: dict[str, str] = {}
        for b in campus.buildings:
            for word in (b.id, b.short_name, b.name, *b.aliases):
                self.buildings_by_word[word.lower()] = b.id
        # fuzzy name table: (choice text, unit id)
        self.name_choices: list[str] = []
        self.name_units: list[str] = []
        for u in campus.units:
            for name in (u.name, *u.aliases):
                if name:
                    self.name_choices.append(name)
                    self.name_units.append(u.id)
        self._context: dict[str, Candidate] = {}

    # --- entry point -----------------------------------------------------------------------

    def lookup(self, query: str, limit: int = 10) -> LookupResult:
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidQuery(f"query is {len(query)} characters; the limit is {MAX_QUERY_LENGTH}")
        q = _clean(query)
        if not q:
            raise InvalidQuery("query is empty; try a room number, name, door, cell or place")
        near = self._nearest_to(q, limit)
        if near is not None:
            return near
        building_id, spoken = self._building_qualifier(q)
        plain = _without_filler(spoken)
        hits = _Hits()
        self._coordinates(plain, hits)
        self._cell(plain, hits)
        self._doors(plain, building_id, hits)
        self._room_number(plain, building_id, hits)
        # kinds and names are tried as said too: "stop the bleed" and "office of the dean"
        # lose meaning without their small words
        # a numbered phrasing is answered by number only; "room 214" is not "Classroom 201"
        numbered = any(r.match(plain) for r in (_ROOM, _BARE_NUMBER, _DOOR, _CELL))
        for text in dict.fromkeys((plain, spoken)):
            self._amenities(text, building_id, hits)
            if not numbered:
                self._names(text, building_id, hits)
        best_other: dict[str, Candidate] = {}
        for c in hits.others:
            key = c.feature_id or c.label
            if key not in best_other or best_other[key].score < c.score:
                best_other[key] = c
        candidates = [
            self._unit_candidate(self.units[uid], score, match)
            for uid, (score, match) in hits.units.items()
        ] + list(best_other.values())
        candidates.sort(key=self._rank)
        candidates = candidates[:limit]
        return self._result(query, candidates, hits.set_query)

    def _rank(self, c: Candidate) -> tuple[float, str, int, str, str]:
        """Best score first; ties in reading order: building letter, floor, room, label."""
        building = self.index.buildings.get(c.building_id or "")
        return (-c.score, building.short_name if building else "~", c.level_ordinal or 0,
                c.unit_number or "", c.label)

    def _result(self, query: str, candidates: list[Candidate], set_query: bool) -> LookupResult:
        if not candidates:
            suggestions = self._suggestions(_clean(query))
            hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
            return LookupResult(query, Status.NOT_FOUND,
                                f"Nothing on this campus matches {query.strip()!r}.{hint}",
                                (), suggestions)
        best = candidates[0].score
        top = [c for c in candidates if c.score >= best - 0.5]
        if best >= FOUND_THRESHOLD and (len(top) == 1 or set_query):
            status = Status.FOUND
            message = (f"{len(candidates)} matches" if set_query and len(candidates) > 1
                       else "1 match")
        else:
            status = Status.AMBIGUOUS
            message = (f"{len(top)} equally good matches; confirm which one"
                       if len(top) > 1 else "Only a partial match; confirm it with the caller")
        return LookupResult(query, status, message, tuple(candidates))

    def _suggestions(self, q: str) -> tuple[str, ...]:
        if not q:
            return ()
        found = process.extract(q, self.name_choices, scorer=fuzz.WRatio,
                                processor=utils.default_process, limit=3,
                                score_cutoff=SUGGESTION_CUTOFF)
        return tuple(dict.fromkeys(choice for choice, _, _ in found))

    # --- interpreters ----------------------------------------------------------------------

    def _nearest_to(self, q: str, limit: int) -> LookupResult | None:
        """"AED near the cafeteria", "exit closest to room 214": None unless both parts resolve.

        The place is looked up like any query and must be a clear answer; the points of the
        kind (or the exterior doors) then come nearest first, by straight-line distance.
        """
        m = _NEAR[0].match(q) or _NEAR[1].match(q)
        if not m:
            return None
        what = _without_filler(m.group("what"))
        kind = amenity_kind(what)
        if kind is None and what not in _DOOR_WORDS:
            return None
        place = self.lookup(m.group("place"), limit=1)
        if place.status is not Status.FOUND:
            return None
        target = place.candidates[0]
        origin = Point(*self.index.frame.xy(target.lon, target.lat))
        where = " ".join(x for x in (
            f"Room {target.unit_number}" if target.unit_number else "", target.unit_name or "")
            if x) or f"grid {target.primary_cell}"
        found: list[Candidate] = []
        if kind is None:  # "exit", "door": the building's exterior doors
            for rank, d in enumerate(self.index.nearest_exterior_doors(
                    origin, target.building_id, k=min(limit, NEAREST_LIMIT))):
                o = next(o for o in self.index.campus.openings if o.id == d.feature_id)
                found.append(self._nearby_candidate(
                    self._feature_candidate(o.id, MatchKind.DOOR, EXACT - 5 * rank, "opening",
                                            d.name, o.building_id, o.level_id, None),
                    d.distance_m, where))
            what_name = "exterior doors"
        else:
            options = sorted(self._amenities_of(kind, None),
                             key=lambda a: origin.distance(self.index.shapes[a.id]))
            for rank, a in enumerate(options[:min(limit, NEAREST_LIMIT)]):
                found.append(self._nearby_candidate(
                    self._feature_candidate(a.id, MatchKind.AMENITY, EXACT - 5 * rank, "amenity",
                                            a.name or kind.display_name, a.building_id,
                                            a.level_id, kind.value),
                    origin.distance(self.index.shapes[a.id]), where))
            what_name = kind.display_name
        if not found:
            return LookupResult(q, Status.NOT_FOUND,
                                f"No {what_name} on this campus to measure from {where}.", ())
        return LookupResult(q, Status.FOUND, f"Nearest {what_name} to {where}", tuple(found))

    @staticmethod
    def _nearby_candidate(c: Candidate, distance_m: float, where: str) -> Candidate:
        return replace(c, label=f"{c.label} · {distance_m:.0f} m from {where}")

    def _building_qualifier(self, q: str) -> tuple[str | None, str]:
        """(building id, the rest) for "building B door 2" or "door 2 in the gym"."""
        m = _BUILDING.search(q)
        if m and m.group(1) in self.buildings_by_word:
            rest = (q[: m.start()] + " " + q[m.end():]).strip()
            return self.buildings_by_word[m.group(1)], re.sub(r"\s+", " ", rest)
        m = _IN_BUILDING.match(q)
        if m and m.group("building") in self.buildings_by_word:
            return self.buildings_by_word[m.group("building")], m.group("rest")
        return None, q

    def _coordinates(self, q: str, hits: _Hits) -> None:
        m = _LONLAT.match(q)
        if m and "." in m.group(1) and "." in m.group(2):
            a, b = float(m.group(1)), float(m.group(2))
            # dispatch systems say "lat, lon"; GIS people write "lon, lat": try both
            for lat, lon in ((a, b), (b, a)):
                if -90 <= lat <= 90 and -180 <= lon <= 180:
                    c = self._point_candidate(lon, lat, MatchKind.LONLAT, EXACT)
                    if c is not None:
                        hits.others.append(c)
            return
        compact = normalise_usng(q)
        if compact is None or not re.search(r"\d", compact[3:]):
            return
        try:
            lon, lat = parse_usng(compact)
        except InvalidUSNG:
            return
        # a USNG square names its south-west corner; answer for its centre
        digits = len(compact) - len(re.sub(r"\d+$", "", compact))
        half = 10 ** (5 - digits // 2) / 2.0 if digits else 50_000.0
        x, y = self.index.frame.xy(lon, lat)
        lon, lat = self.index.frame.lonlat(x + half, y + half)
        c = self._point_candidate(lon, lat, MatchKind.USNG, EXACT)
        if c is not None:
            hits.others.append(c)

    def _cell(self, q: str, hits: _Hits) -> None:
        m = _CELL.match(q)
        if not m:
            return
        label = f"{m.group(1).upper()}{m.group(2)}" + (f"-{m.group(3)}" if m.group(3) else "")
        try:
            ref = grid.parse_label(label, self.index.grid)
        except (InvalidCellLabel, OutsideGrid):
            return
        if isinstance(ref, grid.SubCell):
            b = grid.subcell_bounds(self.index.grid, ref)
        else:
            b = grid.cell_bounds(self.index.grid, ref)
        x, y = (b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2
        lon, lat = self.index.frame.lonlat(x, y)
        # "C4" may also be room C-4: both then score alike and the answer is ambiguous, while
        # "grid C4" or a keypad "C4-7" is never read as a room
        score = EXACT
        near = Point(x, y)
        hits.others.append(Candidate(
            score=score, match=MatchKind.CELL, label=f"Grid cell {label}",
            feature_id=None, feature_type="cell", building_id=None, building_name=None,
            level_ordinal=None, level_name=None, unit_number=None, unit_name=None, kind=None,
            primary_cell=label.split("-")[0], subcell=label if "-" in label else None,
            cells=(label.split("-")[0],), usng=to_usng(lon, lat), lon=lon, lat=lat,
            nearest_doors=tuple(self.index.nearest_exterior_doors(near, None)),
            nearest_knox_box=self.index.nearest_amenity(AmenityKind.KNOX_BOX, near),
            nearest_aed=self.index.nearest_amenity(AmenityKind.AED, near),
            campus_id=self.index.campus.id,
        ))

    def _doors(self, q: str, building_id: str | None, hits: _Hits) -> None:
        doors: list[Opening]
        if _MAIN_ENTRANCE.match(q):
            doors = [o for o in self.index.campus.exterior_doors(building_id) if o.main_entrance]
            hits.set_query = True
        elif m := _DOOR.match(q):
            number = m.group(1).upper()
            doors = [o for o in self.index.campus.exterior_doors(building_id)
                     if o.number is not None and o.number.upper() == number]
        else:
            return
        for o in doors:
            hits.others.append(self._feature_candidate(
                o.id, MatchKind.DOOR, EXACT, "opening",
                (f"Door {o.number}" if o.number else "Exterior door (unnumbered)")
                + (" (main entrance)" if o.main_entrance else ""),
                o.building_id, o.level_id, None))

    def _room_number(self, q: str, building_id: str | None, hits: _Hits) -> None:
        m = _ROOM.match(q)
        said_room = m is not None
        text = m.group(1) if m else q
        bare = _BARE_NUMBER.match(text)
        if not bare:
            return
        key = normalise_number(text)
        for u in self.by_number.get(key, []):
            if building_id is None or u.building_id == building_id:
                hits.add_unit(u.id, EXACT, MatchKind.UNIT_NUMBER)
        prefix, digits = bare.group(1).upper(), normalise_number(bare.group(2))
        if prefix:
            # "B-214": building B's room 214
            b_id = self.buildings_by_word.get(prefix.lower())
            for u in self.by_number.get(digits, []):
                if b_id is not None and u.building_id == b_id:
                    hits.add_unit(u.id, 97.0, MatchKind.UNIT_NUMBER)
                elif not self._has_exact(key, building_id):
                    # the prefix names no building of this room: a partial match at best
                    hits.add_unit(u.id, 70.0, MatchKind.UNIT_NUMBER)
        else:
            # "12" for a room numbered "B-12": certain once the caller named building B
            for number, units in self.by_number.items():
                if number != digits and re.fullmatch(r"[A-Z]{1,2}" + re.escape(digits), number):
                    for u in units:
                        if building_id is None:
                            hits.add_unit(u.id, 85.0 if said_room else 80.0,
                                          MatchKind.UNIT_NUMBER)
                        elif u.building_id == building_id:
                            prefixed = number.startswith(
                                self.index.buildings[building_id].short_name.upper())
                            hits.add_unit(u.id, 97.0 if prefixed else 85.0,
                                          MatchKind.UNIT_NUMBER)

    def _has_exact(self, key: str, building_id: str | None) -> bool:
        return any(building_id is None or u.building_id == building_id
                   for u in self.by_number.get(key, []))

    def _amenities(self, q: str, building_id: str | None, hits: _Hits) -> None:
        if len(q) < 3:
            return
        best = process.extractOne(q, _AMENITY_CHOICES, scorer=fuzz.ratio,
                                  score_cutoff=85)
        if best is None:
            return
        kind = AMENITY_WORDS[best[0]]
        hits.set_query = True
        score = EXACT if best[1] >= 99 else max(FOUND_THRESHOLD, float(best[1]))
        for a in self._amenities_of(kind, building_id):
            hits.others.append(self._feature_candidate(
                a.id, MatchKind.AMENITY, score, "amenity", a.name or kind.display_name,
                a.building_id, a.level_id, kind.value))

    def _amenities_of(self, kind: AmenityKind, building_id: str | None) -> list[Amenity]:
        return [a for a in self.index.campus.amenities
                if a.kind is kind and (building_id is None or a.building_id == building_id)]

    def _names(self, q: str, building_id: str | None, hits: _Hits) -> None:
        if sum(ch.isalpha() for ch in q) < 3:
            return
        for variant in room_name_variants(q):
            found = process.extract(variant, self.name_choices, scorer=fuzz.WRatio,
                                    processor=utils.default_process, limit=None,
                                    score_cutoff=NAME_CUTOFF)
            for _, score, i in found:
                u = self.units[self.name_units[i]]
                if building_id is not None and u.building_id != building_id:
                    continue
                # an exact name is as good as an exact number; fuzzy ones rank below
                final = EXACT if score >= 99.5 else min(float(score), FUZZY_NAME_CEILING)
                hits.add_unit(u.id, final, MatchKind.UNIT_NAME)

    # --- building candidates ---------------------------------------------------------------

    def _unit_candidate(self, unit: Unit, score: float, match: MatchKind) -> Candidate:
        base = self._context.get(unit.id)
        if base is None:
            base = self._build_unit_context(unit)
            self._context[unit.id] = base
        return _with_score(base, score, match)

    def _build_unit_context(self, unit: Unit) -> Candidate:
        ix = self.index
        p = ix.label_point(unit)
        primary, cells = ix.unit_cells(unit)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if primary else None
        lon, lat = ix.frame.lonlat(p.x, p.y)
        building = ix.buildings[unit.building_id]
        level = ix.levels[unit.level_id]
        room = " ".join(x for x in (f"Room {unit.number}" if unit.number else "", unit.name) if x)
        label = (f"Building {building.short_name} ({building.name}) · {level.name} · {room}"
                 f" · grid {primary}" + (f" ({sub})" if sub else ""))
        return Candidate(
            score=0.0, match=MatchKind.UNIT_NUMBER, label=label, feature_id=unit.id,
            feature_type="unit", building_id=building.id, building_name=building.name,
            level_ordinal=level.ordinal, level_name=level.name, unit_number=unit.number or None,
            unit_name=unit.name or None, kind=unit.category, primary_cell=primary, subcell=sub,
            cells=cells, usng=to_usng(lon, lat), lon=lon, lat=lat,
            nearest_doors=tuple(ix.nearest_exterior_doors(p, building.id)),
            nearest_knox_box=ix.nearest_amenity(AmenityKind.KNOX_BOX, p, building.id),
            nearest_aed=ix.nearest_amenity(AmenityKind.AED, p, building.id),
            campus_id=ix.campus.id,
        )

    def _feature_candidate(self, feature_id: str, match: MatchKind, score: float,
                           feature_type: str, name: str, building_id: str | None,
                           level_id: str | None, kind: str | None) -> Candidate:
        ix = self.index
        p = ix.shapes[feature_id]
        lon, lat = ix.frame.lonlat(p.x, p.y)
        cell = ix.cell_of(p.x, p.y)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if cell else None
        building = ix.buildings.get(building_id) if building_id else None
        ordinal = ix.ordinal_of(level_id)
        level_name = ix.level_name(ordinal, building_id) if level_id else "Outdoors"
        where = [f"Building {building.short_name} ({building.name})"] if building else []
        place = f"grid {cell}" + (f" ({sub})" if sub else "")
        label = " · ".join([*where, level_name, name, place])
        doors = tuple(d for d in ix.nearest_exterior_doors(p, building_id)
                      if d.feature_id != feature_id)
        return Candidate(
            score=score, match=match, label=label, feature_id=feature_id,
            feature_type=feature_type, building_id=building_id,
            building_name=building.name if building else None, level_ordinal=ordinal,
            level_name=level_name, unit_number=None, unit_name=None, kind=kind,
            primary_cell=cell, subcell=sub, cells=(cell,) if cell else (), usng=to_usng(lon, lat),
            lon=lon, lat=lat, nearest_doors=doors,
            nearest_knox_box=None if kind == AmenityKind.KNOX_BOX.value else
            ix.nearest_amenity(AmenityKind.KNOX_BOX, p, building_id),
            nearest_aed=None if kind == AmenityKind.AED.value else
            ix.nearest_amenity(AmenityKind.AED, p, building_id),
            campus_id=ix.campus.id,
        )

    def _point_candidate(self, lon: float, lat: float, match: MatchKind,
                         score: float) -> Candidate | None:
        ix = self.index
        x, y = ix.frame.xy(lon, lat)
        cell = ix.cell_of(x, y)
        if cell is None:
            return None
        sub = grid.subcell_at(ix.grid, x, y).label
        building = ix.building_at(x, y)
        units = ix.units_at(x, y, 0) or ix.units_at(x, y)
        unit = units[0] if units else None
        level = ix.levels[unit.level_id] if unit else None
        p = Point(x, y)
        where = []
        if building:
            where.append(f"Building {building.short_name} ({building.name})")
        if unit and level:
            where.append(f"{level.name} · " + " ".join(
                s for s in (f"Room {unit.number}" if unit.number else "", unit.name) if s))
        if not building:
            where.append("Outdoors")
        label = " · ".join([*where, f"grid {cell} ({sub})"])
        b_id = building.id if building else None
        return Candidate(
            score=score, match=match, label=label, feature_id=unit.id if unit else None,
            feature_type="point", building_id=b_id,
            building_name=building.name if building else None,
            level_ordinal=level.ordinal if level else None,
            level_name=level.name if level else None,
            unit_number=(unit.number or None) if unit else None,
            unit_name=(unit.name or None) if unit else None, kind=None, primary_cell=cell,
            subcell=sub, cells=(cell,), usng=to_usng(lon, lat), lon=lon, lat=lat,
            nearest_doors=tuple(ix.nearest_exterior_doors(p, b_id)),
            nearest_knox_box=ix.nearest_amenity(AmenityKind.KNOX_BOX, p, b_id),
            nearest_aed=ix.nearest_amenity(AmenityKind.AED, p, b_id),
            campus_id=ix.campus.id,
        )


def _with_score(base: Candidate, score: float, match: MatchKind) -> Candidate:
    return replace(base, score=score, match=match)


_engines: weakref.WeakKeyDictionary[CampusIndex, LookupEngine] = weakref.WeakKeyDictionary()


def engine_for(index: CampusIndex) -> LookupEngine:
    """The (cached) lookup engine of an index."""
    engine = _engines.get(index)
    if engine is None:
        engine = _engines[index] = LookupEngine(index)
    return engine


def lookup(index: CampusIndex, query: str, limit: int = 10) -> LookupResult:
    """Answer a dispatcher's query on one campus; see the module docstring for phrasings."""
    return engine_for(index).lookup(query, limit)
