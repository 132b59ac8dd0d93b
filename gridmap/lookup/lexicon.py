"""What one campus can be called: its room numbers, names, building words and vocabulary,
built once per index so that reading a query only looks things up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from gridmap.index import CampusIndex
from gridmap.lookup.phrasing import (
    GENERIC_WORDS,
    MIN_COMPOUND_HEAD,
    QUERY_WORDS,
    STOP_WORDS,
    alike,
    clean,
    key,
    loose_number,
    name_parts,
    normalise_number,
    stem,
)
from gridmap.model import Building, Campus, Unit
from gridmap.vocabulary import (
    AMENITY_WORDS,
    GROUNDS_WORDS,
    RESTROOM_WORDS,
    ROOM_WORDS,
    is_restroom_phrase,
    restroom_gender,
)

_HALLWAY_CATEGORIES = frozenset({"walkway", "hallway", "corridor", "circulation", "lobby"})
_NO_NAMES: frozenset[int] = frozenset()
# a not_found suggestion shares a word with the query at least this alike (rapidfuzz ratio)
SUGGESTION_CUTOFF = 65.0
# words sharing this many first letters may share a stem ("counselor", "counseling")
_STEM_LENGTH = 6


def is_hallway(unit: Unit) -> bool:
    return unit.category.split(".")[0].lower() in _HALLWAY_CATEGORIES


def is_restroom(unit: Unit) -> bool:
    return unit.category.lower().startswith("restroom") or is_restroom_phrase(unit.name)


def _index_of(word_sets: Iterable[Iterable[str]]) -> dict[str, set[int]]:
    """Which of the word sets hold each word: {word: their positions}."""
    index: dict[str, set[int]] = {}
    for i, words in enumerate(word_sets):
        for w in words:
            index.setdefault(w, set()).add(i)
    return index


def _frozen(index: dict[str, set[int]]) -> dict[str, frozenset[int]]:
    return {w: frozenset(v) for w, v in index.items()}


@dataclass(frozen=True, slots=True)
class Name:
    """One name a feature is known by, folded for matching."""

    kind: str  # "unit", "amenity", "grounds", "building"
    feature_id: str
    text: str


class CampusLexicon:
    """Tables of the words one campus answers to, built once per index by the ``_read_*``
    methods: room numbers, building words, names and their words, rooms standing for their
    building, and the vocabulary."""

    def __init__(self, index: CampusIndex) -> None:
        self.index = index
        campus = index.campus
        self.units = {u.id: u for u in campus.units}
        self.openings = {o.id: o for o in campus.openings}
        self.amenities = {a.id: a for a in campus.amenities}
        self.grounds = {g.id: g for g in campus.grounds}
        self._read_numbers(campus.units)
        self._read_buildings(campus.buildings)
        self._read_names(campus)
        self._read_rooms_for_buildings()
        self._read_vocabulary(campus)

    def _read_numbers(self, units: Iterable[Unit]) -> None:
        """Rooms by number: as written, without leading zeros, by stem and by tail."""
        self.by_number: dict[str, list[Unit]] = {}
        self.by_loose_number: dict[str, list[Unit]] = {}
        for u in units:
            if u.number:
                self.by_number.setdefault(normalise_number(u.number), []).append(u)
                loose = loose_number(u.number)
                if loose:
                    self.by_loose_number.setdefault(loose, []).append(u)
        # "214" -> 214A, 214B (numbers with a letter after); "12" -> B12 (a letter before)
        self.by_stem: dict[str, list[tuple[str, list[Unit]]]] = {}
        self.by_tail: dict[str, list[tuple[str, list[Unit]]]] = {}
        for number, same in self.by_loose_number.items():
            if head := re.fullmatch(r"(.*\d)[A-Z]{1,3}", number):
                self.by_stem.setdefault(head.group(1), []).append((number, same))
            if tail := re.fullmatch(r"[A-Z]{1,3}(\d.*)", number):
                self.by_tail.setdefault(tail.group(1), []).append((number, same))

    def _read_buildings(self, buildings: Iterable[Building]) -> None:
        """Buildings by every word they are called (id, letter, name, aliases)."""
        buildings = tuple(buildings)
        self.buildings_by_word: dict[str, str] = {}
        for b in buildings:
            words = [b.id, b.short_name, *name_parts(b.name), *b.aliases]
            for word in words:
                said = clean(word)
                if said:
                    self.buildings_by_word.setdefault(said, b.id)
                    self.buildings_by_word.setdefault(f"building {said}", b.id)
        # long building words (not a single letter) qualify a phrase without a preposition:
        # "gym door 4", "door 4 gym"; longest first, the first one said wins
        self.building_phrases = sorted(
            (w for w in self.buildings_by_word if len(w) > 1 and not w.startswith("building ")),
            key=len, reverse=True)
        self.building_phrase_order = {w: i for i, w in enumerate(self.building_phrases)}
        self.words_of_building: dict[str, list[str]] = {}
        for word, b_id in self.buildings_by_word.items():
            self.words_of_building.setdefault(b_id, []).append(word)
        self.building_names = [
            (key(p), b.id) for b in buildings for p in (*name_parts(b.name), *b.aliases)]
        self.building_name_texts = [text for text, _ in self.building_names]
        # building names by their words, and by the starts of their words ("tech" of
        # "Technology Center"), as indexes into building_names
        by_word: dict[str, set[int]] = {}
        by_start: dict[str, set[int]] = {}
        for i, text in enumerate(self.building_name_texts):
            for t in text.split():
                by_word.setdefault(t, set()).add(i)
                for end in range(3, len(t) + 1):
                    by_start.setdefault(t[:end], set()).add(i)
        self._building_names_by_word = _frozen(by_word)
        self._building_names_by_start = _frozen(by_start)

    def _read_names(self, campus: Campus) -> None:
        """Names of rooms, points and grounds, with their words, kinds and indexes."""
        self.names: list[Name] = []
        for u in campus.units:
            for name in (u.name, *u.aliases):
                for part in name_parts(name) if name else ():
                    self.names.append(Name("unit", u.id, part))
        for a in campus.amenities:
            for part in name_parts(a.name) if a.name else ():
                self.names.append(Name("amenity", a.id, part))
        for g in campus.grounds:
            for part in name_parts(g.name) if g.name else ():
                self.names.append(Name("grounds", g.id, part))
        self.name_choices = [key(n.text) for n in self.names]
        self.name_tokens = [frozenset(map(stem, c.split())) for c in self.name_choices]
        self.exact_names: dict[str, list[Name]] = {}
        for n, processed in zip(self.names, self.name_choices, strict=True):
            self.exact_names.setdefault(processed, []).append(n)
        self.restrooms = [u for u in campus.units if is_restroom(u)]
        self.restroom_ids = frozenset(u.id for u in self.restrooms)
        self.hallways = [u for u in campus.units if is_hallway(u)]
        self.name_extra = [self._extra_words(n) for n in self.names]
        self.name_kind_words = [e - GENERIC_WORDS for e in self.name_extra]
        # a name's own words: those that are no word of its kind
        self.name_own = [t - e for t, e in zip(self.name_tokens, self.name_extra, strict=True)]
        self._names_with_own_word = _frozen(_index_of(self.name_own))
        self.name_kind_phrases = [self._kind_phrases(n) for n in self.names]
        self.name_gendered_restroom = [
            n.kind == "unit" and is_restroom(self.units[n.feature_id])
            and restroom_gender(n.text) is not None for n in self.names]
        self.names_with_word = _frozen(_index_of(self.name_tokens))
        self.names_with_prefix = _frozen(_index_of(
            [{w[:end] for w in toks for end in range(3, len(w) - 1)} for toks in self.name_tokens]))
        self._names_holding = {w: self.names_with_word.get(w, _NO_NAMES)
                               | self.names_with_prefix.get(w, _NO_NAMES)
                               for w in (*self.names_with_word, *self.names_with_prefix)}
        # words of names by their length: a typo of a word is about as long
        self._name_words_by_length: dict[int, list[str]] = {}
        for w in self.names_with_word:
            self._name_words_by_length.setdefault(len(w), []).append(w)
        # words of names by their first letters, for words said sharing a long stem
        self._name_words_by_stem: dict[str, list[str]] = {}
        for w in self.names_with_word:
            if len(w) >= _STEM_LENGTH:
                self._name_words_by_stem.setdefault(w[:_STEM_LENGTH], []).append(w)
        # single letters that are words of names ("Pre-K Classroom"), not articles
        self.name_letters = frozenset(
            t for toks in self.name_tokens for t in toks if len(t) == 1 and t.isalpha()
        ) - STOP_WORDS

    def _read_rooms_for_buildings(self) -> None:
        """Room names (and their spoken words) that stand for a building: held by rooms of
        one building only ("gym door 2"), and those rooms that are most of it ("the gym
        doors")."""
        index = self.index
        held: dict[str, set[str]] = {}
        for n in self.names:
            if n.kind == "unit":
                held.setdefault(key(n.text), set()).add(self.units[n.feature_id].building_id)
        for word, names in ROOM_WORDS.items():
            for name in names:
                if key(name) in held:
                    held.setdefault(key(word), set()).update(held[key(name)])
        self.room_buildings = {k: next(iter(v)) for k, v in held.items()
                               if len(v) == 1 and k and k not in self.buildings_by_word}
        self.room_building_order = {w: i for i, w in enumerate(self.room_buildings)}
        big = {key(n.text) for n in self.names if n.kind == "unit" and (
            index.shapes[n.feature_id].area
            >= 0.5 * index.footprints[self.units[n.feature_id].building_id].area)}
        big |= {key(w) for w, names in ROOM_WORDS.items()
                if any(key(name) in big for name in names)}
        self.room_is_building = frozenset(k for k in self.room_buildings if k in big)
        self.possessive_stems = frozenset(self.building_phrases) | frozenset(self.room_buildings)

    def _read_vocabulary(self, campus: Campus) -> None:
        """Every word known (a query word outside it is context), and the words of names
        that not_found suggestions compare."""
        # grounds words that end a compound ("...parkplatz"), longest first
        self.compound_heads = sorted((w for w in GROUNDS_WORDS
                                      if " " not in w and len(w) >= MIN_COMPOUND_HEAD),
                                     key=len, reverse=True)
        self.vocabulary = self._vocabulary()
        self.long_vocabulary = tuple(w for w in self.vocabulary if len(w) >= 4)
        self._long_vocabulary_by_length: dict[int, list[str]] = {}
        for w in self.long_vocabulary:
            self._long_vocabulary_by_length.setdefault(len(w), []).append(w)
        # "chem", "admin": the starts (three letters or more) of the longer words known
        self.vocabulary_starts = frozenset(
            w[:end] for w in self.long_vocabulary for end in range(3, len(w) + 1))
        # the words (four letters or more) of names and building names, for suggestions
        texts_with_word: dict[str, list[str]] = {}
        for text in [n.text for n in self.names] + [b.name for b in campus.buildings]:
            for t in key(text).split():
                if len(t) >= 4 and text not in texts_with_word.setdefault(t, []):
                    texts_with_word[t].append(text)
        self._texts_with_word = texts_with_word
        self._suggestion_words = tuple(texts_with_word)

    def suggestion_texts(self, said: str) -> dict[str, float]:
        """Names (of places and buildings) holding a word like ``said`` (four letters or
        more), each with how alike the likest word is (rapidfuzz ratio)."""
        found: dict[str, float] = {}
        for word, ratio, _ in process.extract(said, self._suggestion_words, scorer=fuzz.ratio,
                                              processor=None, limit=None,
                                              score_cutoff=SUGGESTION_CUTOFF):
            # short words must be closer: "loop" is not "floor"
            if ratio < (SUGGESTION_CUTOFF if min(len(said), len(word)) >= 6 else 75.0):
                continue
            for text in self._texts_with_word[word]:
                if ratio > found.get(text, 0.0):
                    found[text] = ratio
        return found

    def like_a_known_word(self, said: str, cutoff: float) -> bool:
        """Some word of the vocabulary (four letters or more) is at least ``cutoff`` alike
        (rapidfuzz ratio). Only words of a length that can be that alike are compared: a
        ratio is at most 200 * shorter / (both lengths), taken with a margin for rounding."""
        n = len(said)
        comparable = [w for length, words in self._long_vocabulary_by_length.items()
                      if 200 * min(n, length) / (n + length) >= cutoff - 1 for w in words]
        return process.extractOne(said, comparable, scorer=fuzz.ratio,
                                  score_cutoff=cutoff) is not None

    def names_with_own_words_in(self, words: frozenset[str]) -> set[int]:
        """Indexes of the names having own words (besides their kind's), all of them in
        ``words``."""
        found: set[int] = set()
        for w in words:
            found |= self._names_with_own_word.get(w, _NO_NAMES)
        return {i for i in found if self.name_own[i] <= words}

    def names_holding(self, word: str) -> frozenset[int]:
        """Indexes of the names holding ``word``, or a word it is the start of ("chem")."""
        return self._names_holding.get(word, _NO_NAMES)

    def names_with_alike(self, said: str) -> frozenset[int]:
        """Indexes of the names holding ``said``, a typo of it, or a word sharing its stem
        (see :func:`~gridmap.lookup.phrasing.alike`)."""
        edits = 1 if len(said) <= 5 else 2
        as_long = [w for n in range(len(said) - edits, len(said) + edits + 1)
                   for w in self._name_words_by_length.get(n, ())]
        words = [w for w, _, _ in process.extract(
            said, as_long, scorer=Levenshtein.distance, processor=None, limit=None,
            score_cutoff=edits)]
        words += [w for w in self._name_words_by_stem.get(said[:_STEM_LENGTH], ())
                  if alike(said, w)]
        found: set[int] = set()
        for w in words:
            found |= self.names_with_word[w]
        return frozenset(found)

    def buildings_holding(self, words: frozenset[str]) -> set[str]:
        """Ids of the buildings one of whose names holds every word, itself or (three
        letters or more) as the start of one of its words: "tech block" -> Technology."""
        found: frozenset[int] | None = None
        for w in words:
            table = self._building_names_by_start if len(w) >= 3 else self._building_names_by_word
            holding = table.get(w, _NO_NAMES)
            found = holding if found is None else found & holding
            if not found:
                return set()
        return {self.building_names[i][1] for i in found or ()}

    def _vocabulary(self) -> frozenset[str]:
        """Every word the campus or the lookup knows: a query word outside it is context."""
        texts: list[str] = [n.text for n in self.names]
        texts += list(self.buildings_by_word)
        texts += list(AMENITY_WORDS) + list(GROUNDS_WORDS)
        texts += [w for k, vs in ROOM_WORDS.items() for w in (k, *vs)]
        texts += [lv.name for lv in self.index.campus.levels]
        texts += [u.number for u in self.index.campus.units if u.number]
        words = {w for t in texts for w in key(t).split()}
        return frozenset(words | QUERY_WORDS)

    def _kind_phrases(self, n: Name) -> tuple[frozenset[str], ...]:
        """The phrases that say a name's kind, as word sets ({"electrical", "panel"})."""
        if n.kind == "grounds":
            g = self.grounds[n.feature_id].kind
            said = [w for w, k in GROUNDS_WORDS.items() if k is g]
        elif n.kind == "amenity":
            a = self.amenities[n.feature_id].kind
            said = [w for w, k in AMENITY_WORDS.items() if k is a]
        elif n.kind == "unit" and n.feature_id in self.restroom_ids:
            said = list(RESTROOM_WORDS)
        else:
            said = []
        return tuple(frozenset(map(stem, key(w).split())) for w in said)

    def _extra_words(self, n: Name) -> frozenset[str]:
        """Words that may go with a name without changing what it names: its kind's words."""
        extra = set(GENERIC_WORDS)
        if n.kind == "grounds":
            kind = self.grounds[n.feature_id].kind
            extra.update(w for word, k in GROUNDS_WORDS.items() if k is kind
                         for w in word.split())
        elif n.kind == "amenity":
            akind = self.amenities[n.feature_id].kind
            extra.update(w for word, k in AMENITY_WORDS.items() if k is akind
                         for w in word.split())
        elif n.kind == "unit" and is_restroom(self.units[n.feature_id]):
            extra.update(RESTROOM_WORDS)
        return frozenset(map(stem, extra))
