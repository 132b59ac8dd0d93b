"""The lookup engine of one campus index: reads a query, and judges what it found."""

from __future__ import annotations

import threading

from gridmap.errors import InvalidQuery
from gridmap.index import CampusIndex
from gridmap.lookup.answers import LookupResult, Status
from gridmap.lookup.candidates import Candidates
from gridmap.lookup.lexicon import CampusLexicon
from gridmap.lookup.parts import PartReadings
from gridmap.lookup.phrasing import FILLER, MAX_QUERY_LENGTH, clean, key, without_filler
from gridmap.lookup.policy import ResultPolicy
from gridmap.lookup.reading import QueryReader
from gridmap.lookup.scores import FOUND_THRESHOLD
from gridmap.vocabulary import floor_said

# "AED near the cafeteria" looks up "the cafeteria": parts of parts only this deep
MAX_NESTING = 2


class LookupEngine:
    """Precomputed tables over one :class:`CampusIndex`; see :func:`gridmap.lookup.lookup`."""

    def __init__(self, index: CampusIndex) -> None:
        self.index = index
        self.lexicon = CampusLexicon(index)
        self.candidates = Candidates(self.lexicon)
        self.reader = QueryReader(self.lexicon, self.candidates)
        self.policy = ResultPolicy(self.lexicon, self.candidates)
        self.parts = PartReadings(self.reader, self.policy, self._nested)
        self._local = threading.local()

    def lookup(self, query: str, limit: int = 10) -> LookupResult:
        """Answer ``query``, at most ``limit`` candidates best first."""
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidQuery(f"query is {len(query)} characters; the limit is {MAX_QUERY_LENGTH}")
        if "\x00" in query:
            raise InvalidQuery("query contains a NUL character")
        context = self.reader.context
        q = context.compounds_apart(context.without_possessive(clean(query)))
        if not q:
            raise InvalidQuery("query is empty; try a room number, name, door, cell or place")
        parts = self.parts
        near = parts.nearest_to(query, q, limit)
        if near is not None:
            return near
        said_floor = floor, rest = floor_said(q)
        if floor is not None and not FILLER.sub(" ", rest).strip() \
                and key(without_filler(q)) not in self.lexicon.exact_names:
            return LookupResult(
                query, Status.NOT_FOUND,
                f"{floor.text!r} names a floor, not a place on it; add a room, name or door.",
                ())
        hits = self.reader.interpret(q, said_floor)
        candidates = self.policy.ranked(hits)
        if hits.set_kind is not None and any(
                c.match is hits.set_kind and c.score >= FOUND_THRESHOLD for c in candidates):
            # "knox box", "the gym doors": the set asked for, not what shares its words
            candidates = [c for c in candidates if c.match is hits.set_kind]
        if not candidates:
            place = parts.place_after_context(query, q, limit)
            if place is not None:
                return place
            candidates = parts.part_of_it(q)
        result = self.policy.result(query, candidates[:limit], hits.set_query)
        if result.status is not Status.FOUND:
            bare = parts.kind_then_place(query, q, limit)
            if bare is not None and bare.status is Status.FOUND:
                return bare
        return result

    def _nested(self, text: str, limit: int) -> LookupResult:
        """A part of a query looked up on its own ("the cafeteria" of "AED near the
        cafeteria"), at most MAX_NESTING deep so no phrasing makes the work explode."""
        depth = getattr(self._local, "depth", 0)
        if depth >= MAX_NESTING:
            return LookupResult(text, Status.NOT_FOUND, "nested too deep", ())
        self._local.depth = depth + 1
        try:
            return self.lookup(text, limit)
        except InvalidQuery:
            return LookupResult(text, Status.NOT_FOUND, "nothing to look up", ())
        finally:
            self._local.depth = depth
