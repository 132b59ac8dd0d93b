"""The dispatcher corpus (tests/corpus/dispatcher_corpus.csv) run against the lookup.

Target: every row correct or acceptably ambiguous, and never a confidently wrong answer.
Rows marked ``known_gap`` are what the lookup cannot answer yet; they may fail, but never
with a wrong answer, and a marked row that now passes fails
:func:`test_known_gaps_are_still_gaps` so its mark gets removed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from gridmap.lookup import LookupResult, Status, lookup
from tests.corpus.evaluate import (
    ACCEPTABLE,
    CAMPUSES,
    CORRECT,
    MISSED,
    NEEDLESS,
    WRONG,
    CorpusError,
    Judged,
    Row,
    campus_index,
    evaluate,
    expectations,
    failures,
    judge_result,
    load_corpus,
    table,
)

MIN_PHRASINGS = 250


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return load_corpus()


@pytest.fixture(scope="module")
def judged(rows: list[Row]) -> list[Judged]:
    return evaluate(rows)


def test_corpus_covers_both_sample_campuses(rows: list[Row]) -> None:
    assert len(rows) >= MIN_PHRASINGS
    per_campus = Counter(r.campus for r in rows)
    assert set(per_campus) == set(CAMPUSES)
    assert min(per_campus.values()) >= 100
    queries = [(r.campus, r.query.strip().lower()) for r in rows]
    assert len(queries) == len(set(queries)), "a phrasing is listed twice"


def test_every_expectation_names_something_on_its_campus(rows: list[Row]) -> None:
    """An expectation that names no door, point or building would make a row pass vacuously."""
    problems = []
    for r in rows:
        try:
            expectations(r)
        except CorpusError as exc:
            problems.append(f"line {r.line}: {exc}")
    assert not problems, "\n".join(problems)


def test_no_confidently_wrong_answers(judged: list[Judged]) -> None:
    wrong = [j for j in judged if j.outcome == WRONG]
    assert not wrong, "confidently wrong answers:\n" + failures(wrong)


def test_every_row_not_marked_as_a_gap_is_answered(judged: list[Judged]) -> None:
    failing = [j for j in judged if not j.row.known_gap and not j.passed]
    assert not failing, (table(judged) + "\n\nfailing rows not marked known_gap:\n"
                         + failures(failing))


def test_known_gaps_are_still_gaps(judged: list[Judged]) -> None:
    """A row marked known_gap that now passes: remove its mark."""
    fixed = [j for j in judged if j.row.known_gap and j.passed]
    assert not fixed, "known_gap rows that now pass (remove the mark):\n" + "\n".join(
        f"line {j.row.line} {j.row.campus} {j.row.query!r}" for j in fixed)


# --- the judge itself, on real answers from the sample campus ---------------------------------


def _row(query: str, expect: str, accept_ambiguous: bool = False) -> Row:
    return Row(0, "lincoln-ridge", query, expect, accept_ambiguous, "", "")


def _answer(query: str) -> LookupResult:
    return lookup(campus_index("lincoln-ridge"), query, limit=20)


def test_judge_calls_a_found_answer_to_another_room_wrong() -> None:
    result = _answer("room 214")
    assert result.status is Status.FOUND
    assert judge_result(_row("room 214", "unit:A:1:214"), result) == CORRECT
    assert judge_result(_row("room 214", "unit:A:1:213"), result) == WRONG
    assert judge_result(_row("room 214", "unit:A:0:214"), result) == WRONG  # wrong floor
    assert judge_result(_row("room 214", "not_found"), result) == WRONG


def test_judge_grades_ambiguous_answers_by_the_row() -> None:
    result = _answer("room 214")
    top = result.candidates[0]
    other = _answer("room 213").candidates[0]
    ambiguous = replace(result, status=Status.AMBIGUOUS, candidates=(other, top))
    assert judge_result(_row("q", "unit:A:1:214", accept_ambiguous=True), ambiguous) == ACCEPTABLE
    assert judge_result(_row("q", "unit:A:1:214"), ambiguous) == NEEDLESS
    assert judge_result(_row("q", "unit:A:1:214 & unit:A:1:213"), ambiguous) == CORRECT
    # several things meant, but one picked confidently
    assert judge_result(_row("q", "unit:A:1:214 & unit:A:1:213"), result) == WRONG
    assert judge_result(_row("q", "unit:A:1:219", accept_ambiguous=True), ambiguous) == MISSED
    nothing = replace(result, status=Status.NOT_FOUND, candidates=())
    assert judge_result(_row("q", "unit:A:1:214"), nothing) == MISSED
    assert judge_result(_row("q", "not_found"), nothing) == CORRECT


def test_judge_requires_the_whole_set_for_a_set_query() -> None:
    result = _answer("knox box")
    assert result.status is Status.FOUND and len(result.candidates) == 3
    assert judge_result(_row("knox box", "amenity:knox_box"), result) == CORRECT
    partial = replace(result, candidates=result.candidates[:2])
    assert judge_result(_row("knox box", "amenity:knox_box"), partial) == WRONG
    assert judge_result(_row("knox box", "amenity:knox_box:B"), result) == WRONG


def test_judge_reads_alternatives_and_name_prefixes() -> None:
    result = _answer("room 113")
    assert judge_result(_row("q", "unit:A:0:113|Library"), result) == CORRECT
    # a corridor that swallowed the room's label would carry the number under another name
    assert judge_result(_row("q", "unit:A:0:113|Main Hall"), result) == WRONG
    assert judge_result(_row("q", "unit:A:0:999 or unit:A:0:113"), result) == CORRECT
    with pytest.raises(CorpusError):
        expectations(_row("q", "door:A:99"))
    with pytest.raises(CorpusError):
        expectations(_row("q", "amenity:knox_box or unit:A:0:113"))
    with pytest.raises(CorpusError):
        expectations(_row("q", "building:Q"))
    with pytest.raises(CorpusError):
        expectations(_row("q", "unit:A:one:214"))
