"""Reading a query: every way it may be meant (as said, with a building taken out), each
read by every interpreter, and the floor said applied to what they found."""

from __future__ import annotations

from gridmap.lookup.answers import UNKNOWN_FLAG, replace
from gridmap.lookup.candidates import Candidates
from gridmap.lookup.context import ContextWords
from gridmap.lookup.floors import apply_floor, levels_said
from gridmap.lookup.lexicon import CampusLexicon
from gridmap.lookup.named import NamedReadings
from gridmap.lookup.numbered import NumberedReadings, is_number
from gridmap.lookup.phrasing import CELL, DOOR, FILLER, NUMBERED_DOOR, key, without_filler
from gridmap.lookup.scores import EXACT, PARTIAL_SCORE, QUALIFIED_NAME_SCORE, Hits
from gridmap.vocabulary import FloorSaid


class QueryReader:
    """All interpreters of one campus, run over every reading of a query."""

    def __init__(self, lexicon: CampusLexicon, candidates: Candidates) -> None:
        self.lexicon = lexicon
        self.candidates = candidates
        self.context = ContextWords(lexicon)
        self.numbered = NumberedReadings(lexicon, candidates)
        self.named = NamedReadings(lexicon, candidates)
        self._levels_said: dict[tuple[str | None, int | None], frozenset[str]] = {}

    def interpret(self, q: str, said_floor: tuple[FloorSaid | None, str]) -> Hits:
        """Everything the query (cleaned) may name, scored; ``said_floor`` is what
        :func:`~gridmap.vocabulary.floor_said` reads in it."""
        hits = Hits()
        whole = without_filler(q)
        floor: FloorSaid | None = None
        if key(whole) not in self.lexicon.exact_names:
            floor, q_rest = said_floor
            if floor is not None and not FILLER.sub(" ", q_rest).strip():
                floor = None  # only a floor was said: it filters nothing
            elif floor is not None:
                q = q_rest
        context = self.context
        for building_id, spoken in context.readings(q):
            core = context.without_context(without_filler(spoken))
            found = self.reading(building_id, spoken, core)
            dropped = context.modifiers_dropped(spoken, core)
            cap = None
            flags: tuple[str, ...] = ()
            if dropped:
                # "auxiliary gym", "main st": a word the campus does not know, said right next
                # to one it does, may name something else: a partial match at best
                cap, flags = PARTIAL_SCORE, (UNKNOWN_FLAG + " ".join(dropped),)
            hits.merge(found, cap, flags)
        if floor is not None:
            apply_floor(floor, hits, self.levels_said(floor), self.lexicon.units,
                        self.candidates.level_of)
        return hits

    def levels_said(self, floor: FloorSaid) -> frozenset[str]:
        """Ids of the levels a floor phrase names (kept per floor said: there are few)."""
        said = (floor.relation, floor.number)
        levels = self._levels_said.get(said)
        if levels is None:
            levels = self._levels_said[said] = frozenset(
                levels_said(floor, self.lexicon.index.campus.levels))
        return levels

    def reading(self, building_id: str | None, spoken: str, core: str | None = None) -> Hits:
        """Everything one reading of a query (a building, and the rest as said) names;
        ``core`` is the rest without context words, when the caller has it already."""
        hits = Hits()
        plain = without_filler(spoken)
        if core is None:
            core = self.context.without_context(plain)
        if building_id is not None and not core.strip():
            # "the gym" is the building; "auxiliary gym" names something not on the plans
            said = FILLER.sub(" ", spoken).split()
            hits.others.append(replace(
                self.candidates.building(building_id, PARTIAL_SCORE),
                flags=(UNKNOWN_FLAG + " ".join(said),)) if said
                else self.candidates.building(building_id, EXACT))
            return hits
        numbered, named = self.numbered, self.named
        numbered.coordinates(spoken, hits)
        numbered.cell(core, hits)
        numbered.doors(core, building_id, hits)
        numbered.room_number(core, building_id, hits)
        numbered.number_and_name(core, building_id, hits)
        if building_id is None:  # "athletics main" names two buildings, not building A
            named.building_named(core, hits)
        # a numbered phrasing is answered by number only; "room 214" is not "Classroom
        # 201", and "gym door 9" is no door rather than the gym lobby's AED
        by_number = bool(DOOR.match(core) or CELL.match(core) or is_number(core)
                         or NUMBERED_DOOR.search(core))
        by_name = Hits() if building_id is not None else hits
        for text in dict.fromkeys((core, plain, spoken)):
            named.amenities(text, building_id, hits)
            named.grounds_kind(text, building_id, hits)
            if not by_number:
                named.names(text, building_id, by_name)
                named.restrooms(text, building_id, by_name)
                named.hallways(text, building_id, by_name)
        if by_name is not hits:
            # "main corridor" is first the corridor named so, then a corridor of the
            # building called "main": a name said with a building ranks below a whole name
            hits.merge(by_name, QUALIFIED_NAME_SCORE, ())
        return hits
