"""Readings of what is said by name or kind: rooms and points by name (typo tolerant),
buildings by letter, name or alias, amenities and grounds features by kind, restrooms by the
gender they serve, and hallways."""

from __future__ import annotations

import functools

from rapidfuzz import fuzz, process

from gridmap.lookup.answers import FLAG_GENDER_UNKNOWN, MatchKind
from gridmap.lookup.candidates import Candidates
from gridmap.lookup.lexicon import CampusLexicon, Name, is_hallway
from gridmap.lookup.phrasing import (
    BUILDING_KIND_WORDS,
    BUILDING_WORD,
    GENERIC_WORDS,
    HALLWAY_WORDS,
    ROOM_KINDS,
    STOP_WORDS,
    key,
    letters_in,
    stem,
)
from gridmap.lookup.scores import (
    EXACT,
    FOUND_THRESHOLD,
    FUZZY_NAME_CEILING,
    NAME_CUTOFF,
    NAME_WITH_KIND_SCORE,
    PARTIAL_SCORE,
    UNIQUE_WORD_SCORE,
    Hits,
)
from gridmap.model import Amenity, AmenityKind, Unit
from gridmap.vocabulary import (
    AMENITY_WORDS,
    GROUNDS_WORDS,
    category_gender,
    is_restroom_phrase,
    restroom_gender,
    room_name_variants,
)

FUZZY_CACHE_SIZE = 4096
_AMENITY_CHOICES = tuple(AMENITY_WORDS)


@functools.cache
def _amenity_choices(length: int) -> tuple[str, ...]:
    """The amenity words a text of ``length`` characters may be like enough: a ratio
    (rapidfuzz) is at most 200 * shorter / (both lengths), the cutoff is that of
    :meth:`NamedReadings.amenities` (less a margin, so rounding never drops one)."""
    cutoff = (80 if length >= 8 else 85) - 1
    return tuple(w for w in _AMENITY_CHOICES
                 if 200 * min(length, len(w)) / (length + len(w)) >= cutoff)


class NamedReadings:
    """Rooms, points, buildings and grounds said by name or kind, on one campus."""

    def __init__(self, lexicon: CampusLexicon, candidates: Candidates) -> None:
        self.lexicon = lexicon
        self.candidates = candidates
        self.index = lexicon.index
        self._fuzzy_cache: dict[str, list[tuple[int, float]]] = {}

    def amenities(self, q: str, building_id: str | None, hits: Hits) -> None:
        if len(q) < 3:
            return
        best = process.extractOne(q, _amenity_choices(len(q)), scorer=fuzz.ratio,
                                  score_cutoff=80 if len(q) >= 8 else 85)
        if best is None:
            return
        kind = AMENITY_WORDS[best[0]]
        hits.set_query = True
        hits.set_kind = MatchKind.AMENITY
        score = EXACT if best[1] >= 99 else max(FOUND_THRESHOLD, float(best[1]))
        for a in self._amenities_of(kind, building_id):
            hits.others.append(self.candidates.feature(
                a.id, MatchKind.AMENITY, score, "amenity", a.name or kind.display_name,
                a.building_id, a.level_id, kind.value))

    def _amenities_of(self, kind: AmenityKind, building_id: str | None) -> list[Amenity]:
        return [a for a in self.index.campus.amenities
                if a.kind is kind and (building_id is None or a.building_id == building_id)]

    def grounds_kind(self, q: str, building_id: str | None, hits: Hits) -> None:
        """"parking lot", "field", "playground": the grounds features of that kind."""
        kind = GROUNDS_WORDS.get(q)
        if kind is None or building_id is not None:
            return
        found = [g for g in self.index.campus.grounds if g.kind is kind]
        score = 95.0 if len(found) == 1 else 85.0
        for g in found:
            hits.others.append(self.candidates.grounds(g, score))

    def building_named(self, q: str, hits: Hits) -> None:
        """"preschool", "the ECC", "building C", "high school": a building itself."""
        lex = self.lexicon
        bare = BUILDING_WORD.sub("", q).strip()
        b_id = lex.buildings_by_word.get(bare) or lex.buildings_by_word.get(q)
        if b_id is not None:
            hits.others.append(self.candidates.building(b_id, EXACT))
            return
        if letters_in(bare) < 4:
            return
        said = frozenset(key(bare).split()) - BUILDING_KIND_WORDS - STOP_WORDS
        if said:
            # "tech block": the one building whose name or alias holds those words' starts
            owners = lex.buildings_holding(said)
            if len(owners) == 1:
                hits.others.append(self.candidates.building(owners.pop(), UNIQUE_WORD_SCORE))
        for _, score, i in process.extract(key(bare), lex.building_name_texts,
                                           scorer=fuzz.ratio, limit=3,
                                           score_cutoff=85):
            hits.others.append(self.candidates.building(
                lex.building_names[i][1], min(float(score), FUZZY_NAME_CEILING)))

    def names(self, q: str, building_id: str | None, hits: Hits) -> None:
        if letters_in(q) < 3:
            return
        lex = self.lexicon
        # a restroom asked for is weighed by whom it serves (see restrooms), never by a
        # room that happens to be named just "Restroom"
        restroom = is_restroom_phrase(q)
        for rank, variant in enumerate(room_name_variants(q)):
            processed = key(variant)
            exact = [n for n in lex.exact_names.get(processed, [])
                     if not (restroom and n.feature_id in lex.restroom_ids)]
            for n in exact:
                self._name_hit(n, EXACT, building_id, hits)
            words = frozenset(map(stem, processed.split())) - STOP_WORDS
            if not words:
                continue
            if rank == 0:  # by the words said; a drawing-name variant counts only whole
                self._whole_words(words, building_id, hits)
            if rank == 0 and not exact and any(len(w) > 2 for w in words):
                # typos of what was said (its drawing-name variants are matched exactly)
                for i, score in self._fuzzy(processed, words):
                    if not (restroom and lex.names[i].feature_id in lex.restroom_ids):
                        self._name_hit(lex.names[i], score, building_id, hits)

    def _fuzzy(self, processed: str, words: frozenset[str]) -> list[tuple[int, float]]:
        """Names like ``processed`` (a typo of it), each scored below an exact name; only
        names holding every word said (or a typo of it). Memoised per engine."""
        cached = self._fuzzy_cache.get(processed)
        if cached is not None:
            return cached
        lex = self.lexicon
        # only names holding every word said (or a typo of it) are scored: a few, not all
        scored = []
        for i in sorted(self._names_with_every_word(words)):
            score = fuzz.WRatio(processed, lex.name_choices[i], processor=None,
                                score_cutoff=NAME_CUTOFF)
            if NAME_CUTOFF <= score < 99.5:
                scored.append((score, i))
        scored.sort(key=lambda s: -s[0])  # best first, ties in name order
        out = [(i, min(float(score), FUZZY_NAME_CEILING)) for score, i in scored]
        if len(self._fuzzy_cache) >= FUZZY_CACHE_SIZE:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[processed] = out
        return out

    def _names_with_every_word(self, words: frozenset[str]) -> frozenset[int]:
        """Indexes of the names holding every word said (of three letters or more): itself,
        a typo of one of its words (one edit in a short word, two in a longer one: "ofice",
        "libary", but not "stage" for "storage"), or a word sharing its stem ("counselor",
        "counseling")."""
        said = [w for w in words if len(w) > 2]
        # "counselor's office" for "Counseling": a room word need not be in the name, when
        # another word said is
        specific = [w for w in said if w not in GENERIC_WORDS]
        found: frozenset[int] | None = None
        for w in specific or said:
            holding = self.lexicon.names_with_alike(w)
            found = holding if found is None else found & holding
            if not found:
                return frozenset()
        return frozenset(range(len(self.lexicon.names))) if found is None else found

    def _whole_words(self, words: frozenset[str], building_id: str | None,
                     hits: Hits) -> None:
        """Names by their words: "vestibule" is the one room whose name holds the word (93);
        "south parking lot" is "South Lot" said with its kind (95)."""
        lex = self.lexicon
        # names holding each word, or a word it is the start of ("chem" -> "chemistry")
        holding = [lex.names_holding(w) for w in words]
        containing = sorted(frozenset.intersection(*holding)) if holding else []
        features = {(lex.names[i].kind, lex.names[i].feature_id) for i in containing}
        if len(features) == 1 and any(len(w) > 2 for w in words) \
                and not self._gender_only(words) \
                and self._kind_said(words, containing[0]) \
                and words - lex.name_extra[containing[0]]:
            self._name_hit(lex.names[containing[0]], UNIQUE_WORD_SCORE, building_id, hits)
        # the names whose own words are all that was said, besides words of their kind
        said = [i for i in lex.names_with_own_words_in(words)
                if lex.name_own[i] == words - lex.name_extra[i] and lex.name_tokens[i] != words]
        for i in sorted(said):
            toks = lex.name_tokens[i]
            if not self._kind_said(words, i):
                continue  # "cafeteria" is not "AED - Cafeteria", "staff" not "Staff Restroom"
            if lex.name_gendered_restroom[i]:
                continue  # restrooms by gender are weighed alike, named or categorised
            # "chemistry office" is not "Chemistry Lab": room words that differ say so
            theirs, ours = toks & ROOM_KINDS, words & ROOM_KINDS
            if theirs and ours and not theirs & ours:
                continue
            self._name_hit(lex.names[i], NAME_WITH_KIND_SCORE, building_id, hits)

    @staticmethod
    def _gender_only(words: frozenset[str]) -> bool:
        """"girls" alone may be a restroom or a locker room the map names otherwise."""
        if len(words) != 1:
            return False
        word = next(iter(words))
        return restroom_gender(word) is not None or word in HALLWAY_WORDS

    def _kind_said(self, words: frozenset[str], i: int) -> bool:
        """A name holding its kind's word ("AED - Cafeteria", "Staff Restroom") is meant only
        when the caller said a word of that kind too."""
        lex = self.lexicon
        kind_words = lex.name_kind_words[i]
        named = lex.name_tokens[i] & kind_words
        if not named or named <= words:
            return True
        # a whole kind phrase: "electrical panel", not the "main" of "main breaker"
        return any(phrase <= words for phrase in lex.name_kind_phrases[i])

    def _name_hit(self, n: Name, score: float, building_id: str | None, hits: Hits) -> None:
        lex = self.lexicon
        if n.kind == "unit":
            u = lex.units[n.feature_id]
            if building_id is not None and u.building_id != building_id:
                return
            hits.add_unit(u.id, score,
                          MatchKind.HALLWAY if is_hallway(u) else MatchKind.UNIT_NAME)
        elif n.kind == "amenity":
            a = lex.amenities[n.feature_id]
            if building_id is not None and a.building_id != building_id:
                return
            hits.others.append(self.candidates.feature(
                a.id, MatchKind.AMENITY, score, "amenity", a.name, a.building_id, a.level_id,
                a.kind.value))
        elif n.kind == "grounds" and building_id is None:
            hits.others.append(self.candidates.grounds(lex.grounds[n.feature_id], score))

    def restrooms(self, q: str, building_id: str | None, hits: Hits) -> None:
        """"boys bathroom", "girls restroom", "staff wc": restrooms by the gender they serve,
        read from the IMDF category (restroom.male ...) or the room's name."""
        if not is_restroom_phrase(q):
            return
        said = restroom_gender(q)
        rooms = [u for u in self.lexicon.restrooms
                 if building_id is None or u.building_id == building_id]
        matching: list[Unit] = []
        unknown: list[Unit] = []
        for u in rooms:
            genders = {category_gender(u.category), restroom_gender(u.name)} - {None}
            if said is None or said in genders:
                matching.append(u)
            elif not genders:
                unknown.append(u)
        for u in matching:
            hits.add_unit(u.id, 95.0 if len(matching) == 1 else 90.0, MatchKind.UNIT_NAME)
            if said is None:
                hits.by_kind.add(u.id)
        for u in unknown:
            hits.add_unit(u.id, 80.0, MatchKind.UNIT_NAME, (FLAG_GENDER_UNKNOWN,))

    def hallways(self, q: str, building_id: str | None, hits: Hits) -> None:
        """"hallway", "corridor upstairs": the walkways, a choice unless only one is meant."""
        if key(q) not in HALLWAY_WORDS:
            return
        found = [u for u in self.lexicon.hallways
                 if building_id is None or u.building_id == building_id]
        for u in found:
            hits.add_unit(u.id, 90.0 if len(found) == 1 else PARTIAL_SCORE, MatchKind.HALLWAY)
            hits.by_kind.add(u.id)
