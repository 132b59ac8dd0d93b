"""The lookup's campus tables find exactly what comparing every name would find.

The lexicon answers "which names hold a word like this?" from indexes built once per campus
(words by length, by stem, by start; building names by their words). Each test here checks an
index against the plain definition it replaces, by brute force over every name of the sample
campuses, for words said as they are, with typos, and cut short.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from gridmap.index import CampusIndex
from gridmap.lookup import engine_for, lookup
from gridmap.lookup.lexicon import SUGGESTION_CUTOFF, CampusLexicon
from gridmap.lookup.phrasing import alike, key
from tests.corpus.evaluate import CAMPUSES, campus_index

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mgrs latitude warnings


@pytest.fixture(scope="module", params=sorted(CAMPUSES))
def lexicon(request: pytest.FixtureRequest) -> CampusLexicon:
    return engine_for(campus_index(request.param)).lexicon


def _said_words(lexicon: CampusLexicon) -> list[str]:
    """Every word of the campus's names, and each with a letter dropped, doubled, changed,
    and cut to its first three to seven letters."""
    words = sorted(lexicon.names_with_word)
    said = set(words)
    for w in words:
        for i in range(len(w)):
            said.add(w[:i] + w[i + 1:])
            said.add(w[:i] + w[i] + w[i:])
            said.add(w[:i] + ("e" if w[i] != "e" else "a") + w[i + 1:])
        said.update(w[:n] for n in range(3, 8))
    return sorted(s for s in said if s)


def test_names_with_a_word_alike_are_those_comparing_every_word_finds(
        lexicon: CampusLexicon) -> None:
    for said in _said_words(lexicon):
        expected = {i for i, tokens in enumerate(lexicon.name_tokens)
                    if any(alike(said, t) for t in tokens)}
        assert lexicon.names_with_alike(said) == expected, said


def test_names_with_own_words_said_are_those_comparing_every_name_finds(
        lexicon: CampusLexicon) -> None:
    words = sorted(lexicon.names_with_word)
    for i in range(len(words)):
        said = frozenset(words[i:i + 3])
        expected = {n for n, own in enumerate(lexicon.name_own) if own and own <= said}
        assert lexicon.names_with_own_words_in(said) == expected, said


def test_buildings_holding_words_are_those_comparing_every_building_name_finds(
        lexicon: CampusLexicon) -> None:
    words = sorted({w for text, _ in lexicon.building_names for w in text.split()})
    said_words = sorted({w[:n] for w in words for n in range(1, len(w) + 1)})
    for first in said_words:
        for second in (None, *words[:6]):
            said = frozenset({first} if second is None else {first, second})
            expected = {b_id for text, b_id in lexicon.building_names
                        if all(any(t == w or (len(w) >= 3 and t.startswith(w))
                                   for t in text.split()) for w in said)}
            assert lexicon.buildings_holding(said) == expected, said


def test_suggestions_are_those_comparing_every_word_of_every_name_finds(
        lexicon: CampusLexicon) -> None:
    texts = [n.text for n in lexicon.names] + [b.name for b in lexicon.index.campus.buildings]
    for said in [w for w in _said_words(lexicon) if len(w) >= 4][::3]:
        expected: dict[str, float] = {}
        for text in texts:
            for t in key(text).split():
                cutoff = SUGGESTION_CUTOFF if min(len(said), len(t)) >= 6 else 75.0
                if len(t) >= 4 and fuzz.ratio(said, t) >= cutoff:
                    expected[text] = max(expected.get(text, 0.0), fuzz.ratio(said, t))
        assert lexicon.suggestion_texts(said) == expected, said


def test_a_word_like_a_known_word_is_what_comparing_every_known_word_finds(
        lexicon: CampusLexicon) -> None:
    for said in _said_words(lexicon)[::2]:
        for cutoff in (65.0, 80.0, 90.0):
            expected = any(fuzz.ratio(said, w) >= cutoff for w in lexicon.long_vocabulary)
            assert lexicon.like_a_known_word(said, cutoff) is expected, (said, cutoff)


@settings(max_examples=200, deadline=None)
@given(said=st.text(alphabet="abcdefghilmnoprstuy", min_size=1, max_size=12))
def test_typo_index_on_any_word(said: str) -> None:
    lexicon = engine_for(campus_index("riverside-international")).lexicon
    expected = {i for i, tokens in enumerate(lexicon.name_tokens)
                if any(alike(said, t) for t in tokens)}
    assert lexicon.names_with_alike(said) == expected


@pytest.mark.parametrize("campus", sorted(CAMPUSES))
def test_an_answer_changed_by_its_reader_leaves_the_next_answer_alone(campus: str) -> None:
    """Nearby doors and points are made into dicts once per place and shared by every copy
    of an answer: each to_dict must hand out its own."""
    index: CampusIndex = campus_index(campus)
    query = next(q for q in ("room 214", "A104", "B013") if lookup(index, q).candidates)
    first = lookup(index, query).to_dict()
    before = json.dumps(first, sort_keys=True)
    candidate = first["candidates"][0]
    assert candidate["nearest_doors"], "the room has no nearby door to change"
    candidate["nearest_doors"][0]["name"] = "changed"
    candidate["nearest_doors"].append({"name": "added"})
    for name in ("nearest_knox_box", "nearest_aed", "nearest_trauma_kit", "nearest_stairs"):
        if candidate[name] is not None:
            candidate[name]["distance_m"] = -1.0
    assert json.dumps(lookup(index, query).to_dict(), sort_keys=True) == before
