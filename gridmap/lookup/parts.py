"""Queries read in parts, each part looked up on its own: a kind near a place ("AED near the
cafeteria", "exit closest to room 214", "boys bathroom near the library"), a place after what
happens there ("fire in the kitchen"), a place with a landmark ("the cafeteria by the
kitchen"), and the part of a phrase that names something ("chem prep room")."""

from __future__ import annotations

import re
from collections.abc import Callable

from shapely.geometry import Point

from gridmap.lookup.answers import (
    FLAG_GENDER_UNKNOWN,
    Candidate,
    LookupResult,
    MatchKind,
    Status,
    replace,
)
from gridmap.lookup.candidates import Candidates
from gridmap.lookup.phrasing import (
    DOOR_WORDS,
    HALLWAY_WORDS,
    NEAR,
    NEAR_BARE,
    PLACE_AFTER_CONTEXT,
    QUERY_WORDS,
    has_digit,
    key,
    letters_in,
    without_filler,
)
from gridmap.lookup.policy import ResultPolicy
from gridmap.lookup.reading import QueryReader
from gridmap.lookup.scores import EXACT, FOUND_THRESHOLD, NAME_CUTOFF, PARTIAL_SCORE, Hits
from gridmap.vocabulary import AMENITY_WORDS, GROUNDS_WORDS, amenity_kind, is_restroom_phrase

NEAREST_LIMIT = 3
# "chem prep room": runs of words tried when the whole says nothing, for queries this long
MAX_PART_WORDS = 8

#: looks a part of a query up on its own (bounded in depth by the engine)
NestedLookup = Callable[[str, int], LookupResult]


class PartReadings:
    """Reads a query as parts of one campus's places, looking each part up with ``nested``."""

    def __init__(self, reader: QueryReader, policy: ResultPolicy, nested: NestedLookup) -> None:
        self.reader = reader
        self.policy = policy
        self.candidates: Candidates = reader.candidates
        self.lexicon = reader.lexicon
        self.index = reader.lexicon.index
        self.nested = nested

    def nearest_to(self, query: str, q: str, limit: int) -> LookupResult | None:
        """"AED near the cafeteria", "exit closest to room 214", "boys bathroom near the
        library": None unless both parts resolve.

        The place is looked up like any query and must be a clear answer; the points of the
        kind (or the exterior doors, or the restrooms) then come nearest first, same level
        first, by walking distance where the building has hallway data.
        """
        m = NEAR[0].match(q) or NEAR[1].match(q) or self._near_without_to(q)
        if not m:
            return None
        return self._nearest_of(query, m, limit)

    def kind_then_place(self, query: str, q: str, limit: int) -> LookupResult | None:
        """"AED Mensa", "knox box cafeteria": a kind of point, then a place without "near",
        read as the nearest of that kind to the place. Only when the query read as a whole
        says nothing certain, and never with a number after the kind ("stair 2", "Lift 1"
        name the point itself)."""
        words = without_filler(q).split()
        for k in range(min(len(words) - 1, 3), 0, -1):  # "trauma kit" before "trauma"
            what = " ".join(words[:k])
            if amenity_kind(what) is None:
                continue
            place = " ".join(words[k:])
            if has_digit(place):
                return None
            m = re.match(rf"^(?P<what>{re.escape(what)}) (?P<place>.+)$", f"{what} {place}")
            return self._nearest_of(query, m, limit) if m else None
        return None

    def _nearest_of(self, query: str, m: re.Match[str], limit: int) -> LookupResult | None:
        what = without_filler(m.group("what"))
        kind = amenity_kind(what)
        restroom = kind is None and is_restroom_phrase(what)
        hallway = kind is None and key(what) in HALLWAY_WORDS
        if kind is None and what not in DOOR_WORDS and not restroom and not hallway:
            return self._with_landmark(query, m.group("what"), m.group("place"), limit) \
                if m.re is NEAR[1] else None
        place = self.nested(m.group("place"), 1)
        if place.status is not Status.FOUND:
            return None
        target = place.candidates[0]
        origin = Point(*self.index.frame.xy(target.lon, target.lat))
        level_id = self.candidates.level_of(target)
        where = " ".join(x for x in (
            f"Room {target.unit_number}" if target.unit_number else "", target.unit_name or "")
            if x) or target.label.split(" · ")[0]
        k = min(limit, NEAREST_LIMIT)
        found: list[Candidate] = []
        if restroom:
            return self._restrooms_near(query, what, target, origin, where, k)
        if kind is None and what not in DOOR_WORDS:  # "hallway near room 214"
            return self._hallways_near(query, target, origin, where, k)
        make = self.candidates
        if kind is None:  # "exit", "door": the building's exterior doors
            doors = make.doors_near(origin, target.building_id, level_id, k + 2)
            for rank, d in enumerate(make.tie_broken(doors, origin, None)[:k]):
                o = self.lexicon.openings[d.feature_id]
                found.append(make.nearby(
                    make.feature(o.id, MatchKind.DOOR, EXACT - 5 * rank, "opening",
                                 d.name, o.building_id, o.level_id, None),
                    d, where))
            what_name = "exterior doors"
        else:
            points = make.amenities_near(kind, origin, target.building_id, level_id, k + 2)
            for rank, n in enumerate(make.tie_broken(points, origin, target.building_id)[:k]):
                a = self.lexicon.amenities[n.feature_id]
                found.append(make.nearby(
                    make.feature(a.id, MatchKind.AMENITY, EXACT - 5 * rank, "amenity",
                                 a.name or kind.display_name, a.building_id,
                                 a.level_id, kind.value),
                    n, where))
            what_name = kind.display_name
        if not found:
            return LookupResult(query, Status.NOT_FOUND,
                                f"No {what_name} on this campus to measure from {where}.", ())
        return LookupResult(query, Status.FOUND, f"Nearest {what_name} to {where}", tuple(found))

    def part_of_it(self, q: str) -> list[Candidate]:
        """"chem prep room": when the whole says nothing, the longest run of its words that
        names something, offered as a partial match to confirm (never found)."""
        words = self.reader.context.without_context(without_filler(q)).split()
        if has_digit(q) or len(words) > MAX_PART_WORDS:
            return []  # "gym door seven": another building's door 7 is no part of it
        for size in range(len(words) - 1, 0, -1):
            for start in range(len(words) - size + 1):
                part = " ".join(words[start:start + size])
                if letters_in(part) < 4 or part in QUERY_WORDS \
                        or part in GROUNDS_WORDS or part in AMENITY_WORDS \
                        or part in self.lexicon.buildings_by_word:
                    continue  # a kind or a building alone is not what was asked
                hits = self.reader.reading(None, part)
                if hits.units or hits.others:
                    flag = (f"matched only {part!r}",)
                    found = Hits()
                    found.merge(hits, PARTIAL_SCORE, flag)
                    return [c for c in self.policy.ranked(found) if c.score >= NAME_CUTOFF]
        return []

    def place_after_context(self, query: str, q: str, limit: int) -> LookupResult | None:
        """"fire in the kitchen", "man with a gun in the cafeteria": when the whole says
        nothing, the place after the last "in"/"at" is the answer if it is one clear place."""
        m = PLACE_AFTER_CONTEXT.match(q)
        if m is None:
            return None
        place = self.nested(m.group("place"), limit)
        if place.status is not Status.FOUND:
            return None
        return replace(place, query=query, message=(
            f"{place.message}; {m.group('said')!r} read as what happens there"))

    @staticmethod
    def _near_without_to(q: str) -> re.Match[str] | None:
        """"nearest exit rm 108", "Notausgang A114": the kind said, then the place."""
        m = NEAR_BARE.match(q)
        if m is None:
            return None
        words = m.group("rest").split()
        for k in range(1, min(len(words), 4)):
            what = " ".join(words[:k])
            if amenity_kind(what) is not None or what in DOOR_WORDS:
                return re.match(rf"^(?P<what>{re.escape(what)}) (?P<place>.+)$",
                                f"{what} {' '.join(words[k:])}")
        return None

    def _with_landmark(self, query: str, what: str, landmark: str,
                       limit: int) -> LookupResult | None:
        """"the cafeteria by the kitchen": the place said, the landmark only confirming it.
        None (read the query as a whole) unless the place is one clear answer and the
        landmark, where it is on the campus at all, is in the same building."""
        place = self.nested(what, limit)
        if place.status is not Status.FOUND or len(place.candidates) != 1:
            return None
        answer = place.candidates[0]
        near = self.nested(landmark, 1)
        if near.status is Status.AMBIGUOUS:
            return None
        if near.status is Status.FOUND and near.candidates[0].building_id != answer.building_id:
            return None
        return replace(place, query=query)

    def _restrooms_near(self, query: str, what: str, target: Candidate, origin: Point,
                        where: str, k: int) -> LookupResult:
        """"boys bathroom near the library": the restrooms that serve whom was said (or of
        unknown gender, flagged), nearest first as people walk: the place's level first,
        others naming the stairs, by walking distance where the buildings have hallways."""
        hits = Hits()
        self.reader.named.restrooms(what, None, hits)
        if not hits.units:
            return LookupResult(query, Status.NOT_FOUND,
                                f"No restroom on this campus to measure from {where}.", ())
        units = self.lexicon.units
        best = max(s for s, _, _ in hits.units.values())
        rooms = [units[uid] for uid, (s, _, _) in hits.units.items() if s >= best - 0.5]
        level_id = self.candidates.level_of(target)
        # from a level: that level's first, whichever building is the shorter walk; from
        # outdoors or a whole building: the place's building first
        prefer = None if level_id is not None else target.building_id
        near = self.index.nearest_units(rooms, origin, k + 2, level_id=level_id,
                                        building_id=prefer)
        found = []
        for rank, n in enumerate(self.candidates.tie_broken(near, origin, prefer)[:k]):
            score, match, flags = hits.units[n.feature_id]
            c = self.candidates.unit(units[n.feature_id], score - (0 if rank == 0 else 5),
                                     match, flags)
            found.append(self.candidates.nearby(c, n, where))
        status = Status.FOUND if best >= FOUND_THRESHOLD else Status.AMBIGUOUS
        message = (f"Nearest restroom to {where}" if status is Status.FOUND else
                   f"Restrooms near {where}; {FLAG_GENDER_UNKNOWN}: confirm with the caller")
        return LookupResult(query, status, message, tuple(found))

    def _hallways_near(self, query: str, target: Candidate, origin: Point, where: str,
                       k: int) -> LookupResult:
        """"hallway near room 214": the hallways nearest the place, measured to where each is
        met (its wall nearest the place), the place's level first."""
        make = self.candidates
        level_id = make.level_of(target)
        prefer = None if level_id is not None else target.building_id
        rooms = [u for u in self.lexicon.hallways if u.id != target.feature_id]
        near = self.index.nearest_units(rooms, origin, k + 2, level_id=level_id,
                                        building_id=prefer, edge=True)
        found = [make.nearby(
            make.unit(self.lexicon.units[n.feature_id], EXACT - 5 * rank, MatchKind.HALLWAY),
            n, where) for rank, n in enumerate(make.tie_broken(near, origin, prefer)[:k])]
        if not found:
            return LookupResult(query, Status.NOT_FOUND,
                                f"No hallway on this campus to measure from {where}.", ())
        return LookupResult(query, Status.FOUND, f"Nearest hallway to {where}", tuple(found))
