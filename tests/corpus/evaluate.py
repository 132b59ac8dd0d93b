"""Judge the lookup against the dispatcher corpus (``tests/corpus/dispatcher_corpus.csv``).

Each corpus row is a phrasing a dispatcher types while on a call, on one of the sample
campuses, with the answer a human dispatcher would accept, written by hand from the floor
plans (never copied from the lookup's output). Columns::

    campus, query, expect, accept_ambiguous, known_gap, note

``expect`` is a small language (building = the building's short name, level = ordinal):

===============================  ============================================================
``unit:A:1:214``                 room 214 of building A, level 1 (numbers compare without
                                 case, spaces or dashes); ``unit:A:0:A005|Canteen``: and its
                                 name starts with "Canteen" (so a corridor that swallowed
                                 the room's label does not count as the room)
``unit-name:A:0:Library``        a room of A, level 0, whose name contains "Library"
                                 (level ``*`` = any level)
``hallway:A:0:Main Corridor``    a walkway named so (matched as a room name or a hallway)
``door:B:4``                     exterior door 4 of building B
``main-entrance:A``              building A's main entrance
``doors:B``                      the set of B's exterior doors
``amenity:aed`` / ``amenity:aed:A`` / ``amenity:aed:A:1``  the set of every AED (in
                                 building A, on its level 1)
``amenity-name:Chemical``        the (first) answer is a point whose name contains it
``nearest:aed:A:1``              the first answer is an AED of building A, level 1
``building:C``                   building C itself
``grounds:South Lot``            the grounds feature whose name contains "South Lot"
``cell:C4`` / ``cell:C4-7``      a grid cell or keypad sub-cell
``point:A`` / ``point:-:G4``     a coordinate answer inside building A / outdoors (in G4)
``not_found``                    nothing on this campus is meant
===============================  ============================================================

Alternatives joined with `` or `` are each right (``door:A:2 or door:A:3`` when two exits
are as near). Several expectations joined with `` & `` mean the phrasing really names several
things (two buildings have a door 4): the right answer is ``ambiguous`` listing all of them.

Outcomes:

* **correct**: ``found`` with the expected answer first (or exactly the expected set), or
  ``ambiguous`` listing every one of several expected answers; ``not_found`` when expected;
* **acceptable ambiguous**: ``ambiguous`` with the expected answer among the candidates, on a
  row that allows it (``accept_ambiguous`` = yes: a misspelling, a genuinely vague phrase);
* **wrong** (confidently wrong): ``found`` but the answer is not the expected one, or a
  ``found`` for a ``not_found`` row. Never acceptable, known gap or not;
* **not found but present**: ``not_found`` (or an error, or an ``ambiguous`` list without
  the answer) though the campus has it;
* **needlessly ambiguous**: ``ambiguous`` with the answer listed, on a row that expects one
  clear answer (or ``not_found``).

``known_gap`` marks rows the current lookup cannot answer yet (its text says why); the tests
require every other row to be correct or acceptably ambiguous, report a known gap that now
passes so its mark can be removed, and require zero wrong answers on every row.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gridmap.errors import GridmapError
from gridmap.index import CampusIndex
from gridmap.lookup import Candidate, LookupResult, Status, lookup
from gridmap.vocabulary import fold
from importers.campus import import_campus

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "dispatcher_corpus.csv"
CAMPUSES: dict[str, Path] = {
    "lincoln-ridge": ROOT / "data" / "samples" / "lincoln_ridge" / "campus.toml",
    "riverside-international": ROOT / "data" / "samples" / "riverside_international"
    / "campus.toml",
}

CORRECT = "correct"
ACCEPTABLE = "acceptable ambiguous"
WRONG = "wrong"
MISSED = "not found but present"
NEEDLESS = "needlessly ambiguous"
OUTCOMES = (CORRECT, ACCEPTABLE, WRONG, MISSED, NEEDLESS)
PASSING = frozenset({CORRECT, ACCEPTABLE})
KINDS = frozenset({"unit", "unit-name", "hallway", "door", "main-entrance", "doors", "amenity",
                   "amenity-name", "nearest", "building", "grounds", "cell", "point",
                   "not_found"})
LOOKUP_LIMIT = 20  # enough for the largest expected set on the samples


class CorpusError(ValueError):
    """A corpus row that cannot be read or whose expectation names nothing on its campus."""


@dataclass(frozen=True)
class Row:
    line: int
    campus: str
    query: str
    expect: str
    accept_ambiguous: bool
    known_gap: str
    note: str


@dataclass(frozen=True)
class Judged:
    row: Row
    outcome: str
    status: str
    top: str  # what the lookup answered first, for the report

    @property
    def passed(self) -> bool:
        return self.outcome in PASSING


_YES = {"yes", "y", "true", "1"}
_NO = {"", "no", "n", "false", "0"}


def load_corpus(path: Path = CORPUS) -> list[Row]:
    rows: list[Row] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        want = ["campus", "query", "expect", "accept_ambiguous", "known_gap", "note"]
        if reader.fieldnames != want:
            raise CorpusError(f"{path.name}: columns must be {','.join(want)}")
        for i, rec in enumerate(reader, start=2):
            ambiguous = (rec["accept_ambiguous"] or "").strip().lower()
            if ambiguous not in _YES | _NO:
                raise CorpusError(f"{path.name} line {i}: accept_ambiguous must be yes or no")
            if rec["campus"] not in CAMPUSES:
                raise CorpusError(f"{path.name} line {i}: unknown campus {rec['campus']!r}")
            if not (rec["query"] or "").strip() or not (rec["expect"] or "").strip():
                raise CorpusError(f"{path.name} line {i}: query and expect are required")
            rows.append(Row(i, rec["campus"], rec["query"], rec["expect"].strip(),
                            ambiguous in _YES, (rec["known_gap"] or "").strip(),
                            (rec["note"] or "").strip()))
    return rows


@cache
def campus_index(campus: str) -> CampusIndex:
    """The imported sample campus (imported once per process)."""
    return CampusIndex(import_campus(CAMPUSES[campus]).campus)


# --- expectations ---------------------------------------------------------------------------


def _fold(text: str | None) -> str:
    """Case- and accent-free text: "Bibliothèque" ~ "bibliotheque"."""
    return fold(text or "")


def _number(text: str | None) -> str:
    return re.sub(r"[\s.\-_/]", "", text or "").upper()


@dataclass(frozen=True)
class Expectation:
    """One expected answer: a test on a candidate, or (for a set) the feature ids expected."""

    text: str
    matches: Callable[[Candidate], bool]
    expected_set: frozenset[str] | None = None


class _Reader:
    """Turns ``expect`` text into :class:`Expectation` s against one campus index."""

    def __init__(self, index: CampusIndex) -> None:
        self.ix = index
        self.short = {b.id: b.short_name for b in index.campus.buildings}
        self.openings = {o.id: o for o in index.campus.openings}

    def _bid(self, short: str) -> str:
        for bid, s in self.short.items():
            if s == short:
                return bid
        raise CorpusError(f"no building {short!r} on {self.ix.campus.id}")

    @staticmethod
    def _level(text: str, level: str) -> str:
        if level != "*" and not re.fullmatch(r"-?\d+", level):
            raise CorpusError(f"{text!r}: level {level!r} is not an ordinal or *")
        return level

    def _at(self, c: Candidate, short: str, level: str) -> bool:
        return (c.building_id is not None and self.short.get(c.building_id) == short
                and (level == "*" or c.level_ordinal == int(level)))

    def read(self, text: str) -> Expectation:
        """One expectation, or alternatives joined with `` or `` (any one is right)."""
        if " or " in text:
            options = [self.read(part.strip()) for part in text.split(" or ")]
            if any(o.expected_set is not None for o in options):
                raise CorpusError(f"{text!r}: a set cannot be one of alternatives")
            return Expectation(text, lambda c: any(o.matches(c) for o in options))
        kind, _, rest = text.partition(":")
        args = rest.split(":") if rest else []
        if kind not in KINDS:
            raise CorpusError(f"unknown expectation {text!r}")
        method = getattr(self, "_" + kind.replace("-", "_"))
        try:
            out: Expectation = method(text, *args)
        except TypeError as exc:
            raise CorpusError(f"malformed expectation {text!r}") from exc
        return out

    def _unit(self, text: str, b: str, level: str, number: str) -> Expectation:
        self._bid(b)
        self._level(text, level)
        number, _, name = number.partition("|")

        def ok(c: Candidate) -> bool:
            return (self._at(c, b, level) and _number(c.unit_number) == _number(number)
                    and (not name or _fold(c.unit_name).startswith(_fold(name))))
        return Expectation(text, ok)

    def _unit_name(self, text: str, b: str, level: str, name: str) -> Expectation:
        self._bid(b)
        self._level(text, level)

        def ok(c: Candidate) -> bool:
            return (self._at(c, b, level) and _fold(name) in _fold(c.unit_name)
                    and c.match.value not in ("cell", "usng", "lonlat"))
        return Expectation(text, ok)

    def _hallway(self, text: str, b: str, level: str, name: str) -> Expectation:
        self._bid(b)
        self._level(text, level)

        def ok(c: Candidate) -> bool:
            said = _fold(name) in _fold(c.unit_name) or _fold(name) in _fold(c.label)
            return (self._at(c, b, level) and said
                    and c.match.value in ("unit_name", "hallway"))
        return Expectation(text, ok)

    def _door(self, text: str, b: str, number: str) -> Expectation:
        bid = self._bid(b)
        ids = {o.id for o in self.openings.values()
               if o.building_id == bid and o.exterior and (o.number or "") == number}
        if not ids:
            raise CorpusError(f"{text!r}: building {b} has no exterior door {number}")
        return Expectation(text, lambda c: c.feature_id in ids)

    def _main_entrance(self, text: str, b: str) -> Expectation:
        bid = self._bid(b)
        ids = {o.id for o in self.openings.values() if o.building_id == bid and o.main_entrance}
        if not ids:
            raise CorpusError(f"{text!r}: building {b} has no main entrance")
        return Expectation(text, lambda c: c.feature_id in ids)

    def _doors(self, text: str, b: str) -> Expectation:
        bid = self._bid(b)
        ids = frozenset(o.id for o in self.openings.values()
                        if o.building_id == bid and o.exterior)
        if not ids:
            raise CorpusError(f"{text!r}: building {b} has no exterior doors")
        return Expectation(text, lambda c: c.feature_id in ids, ids)

    def _amenity(self, text: str, kind: str, b: str | None = None,
                 level: str | None = None) -> Expectation:
        if level is not None and self._level(text, level) == "*":
            level = None
        bid = self._bid(b) if b else None
        of_kind = [a for a in self.ix.campus.amenities
                   if a.kind.value == kind and (bid is None or a.building_id == bid)]
        if not of_kind:
            raise CorpusError(f"no {kind} on {self.ix.campus.id}")
        ids = frozenset(a.id for a in of_kind
                        if level is None or self.ix.ordinal_of(a.level_id) == int(level))
        if not ids:
            raise CorpusError(f"{text!r}: no such point on {self.ix.campus.id}")
        return Expectation(text, lambda c: c.feature_id in ids, ids)

    def _amenity_name(self, text: str, name: str) -> Expectation:
        ids = {a.id for a in self.ix.campus.amenities if _fold(name) in _fold(a.name)}
        if not ids:
            raise CorpusError(f"{text!r}: no point named like that on {self.ix.campus.id}")
        return Expectation(text, lambda c: c.feature_id in ids)

    def _nearest(self, text: str, kind: str, b: str, level: str) -> Expectation:
        bid = self._bid(b)
        self._level(text, level)
        ids = {a.id for a in self.ix.campus.amenities
               if a.kind.value == kind and a.building_id == bid
               and self.ix.ordinal_of(a.level_id) == int(level)}
        if not ids:
            raise CorpusError(f"{text!r}: no {kind} in building {b} level {level}")
        return Expectation(text, lambda c: c.feature_id in ids)

    def _building(self, text: str, b: str) -> Expectation:
        self._bid(b)

        def ok(c: Candidate) -> bool:
            is_building = c.match.value == "building" or c.feature_type == "building"
            return is_building and c.building_id is not None and self.short[c.building_id] == b
        return Expectation(text, ok)

    def _grounds(self, text: str, name: str) -> Expectation:
        if not any(_fold(name) in _fold(g.name) for g in self.ix.campus.grounds):
            raise CorpusError(f"{text!r}: no grounds feature named like that")

        def ok(c: Candidate) -> bool:
            is_grounds = c.match.value == "grounds" or c.feature_type == "grounds"
            return is_grounds and _fold(name) in _fold(c.label)
        return Expectation(text, ok)

    def _cell(self, text: str, label: str) -> Expectation:
        def ok(c: Candidate) -> bool:
            return c.match.value == "cell" and label in (c.subcell, c.primary_cell)
        return Expectation(text, ok)

    def _point(self, text: str, b: str, cell: str | None = None) -> Expectation:
        if b != "-":
            self._bid(b)

        def ok(c: Candidate) -> bool:
            if c.match.value not in ("lonlat", "usng"):
                return False
            where = self.short.get(c.building_id) if c.building_id else "-"
            return where == b and (cell is None or c.primary_cell == cell)
        return Expectation(text, ok)

    def _not_found(self, text: str) -> Expectation:
        return Expectation(text, lambda c: False)


@cache
def _reader(campus: str) -> _Reader:
    return _Reader(campus_index(campus))


def expectations(row: Row) -> list[Expectation]:
    reader = _reader(row.campus)
    return [reader.read(part.strip()) for part in row.expect.split("&")]


# --- judging --------------------------------------------------------------------------------


def _top(result: LookupResult) -> str:
    if not result.candidates:
        return "-"
    c = result.candidates[0]
    return f"{c.match.value}: {c.label}"


def judge_result(row: Row, result: LookupResult) -> str:
    """The outcome of one lookup answer for one corpus row."""
    expected = expectations(row)
    status, cands = result.status, result.candidates
    if row.expect == "not_found":
        if status is Status.NOT_FOUND:
            return CORRECT
        if status is Status.AMBIGUOUS:
            return ACCEPTABLE if row.accept_ambiguous else NEEDLESS
        return WRONG
    if len(expected) > 1:  # several things are meant: the caller must be asked
        listed = all(any(e.matches(c) for c in cands) for e in expected)
        if status is Status.FOUND:
            return WRONG
        return CORRECT if status is Status.AMBIGUOUS and listed else MISSED
    e = expected[0]
    if e.expected_set is not None:
        ids = {c.feature_id for c in cands}
        if status is Status.FOUND:
            return CORRECT if ids == e.expected_set else WRONG
        if status is Status.AMBIGUOUS and e.expected_set <= ids:
            return ACCEPTABLE if row.accept_ambiguous else NEEDLESS
        return MISSED
    if status is Status.FOUND:
        return CORRECT if e.matches(cands[0]) else WRONG
    if status is Status.AMBIGUOUS and any(e.matches(c) for c in cands):
        return ACCEPTABLE if row.accept_ambiguous else NEEDLESS
    return MISSED


def judge(row: Row) -> Judged:
    index = campus_index(row.campus)
    try:
        result = lookup(index, row.query, limit=LOOKUP_LIMIT)
    except GridmapError as exc:  # a named refusal of a phrasing the campus can answer
        miss = CORRECT if row.expect == "not_found" else MISSED
        return Judged(row, miss, "error", f"{type(exc).__name__}: {exc}")
    return Judged(row, judge_result(row, result), result.status.value, _top(result))


def evaluate(rows: Iterable[Row] | None = None) -> list[Judged]:
    return [judge(r) for r in (load_corpus() if rows is None else rows)]


# --- reporting ------------------------------------------------------------------------------


def table(judged: Sequence[Judged]) -> str:
    """The accuracy table, as a Markdown table: outcome by campus, plus known gaps."""
    campuses = list(CAMPUSES)
    counts = {c: Counter(j.outcome for j in judged if j.row.campus == c) for c in campuses}
    total = Counter(j.outcome for j in judged)
    head = "| result | " + " | ".join(campuses) + " | all |"
    lines = [head, "|---|" + "---|" * (len(campuses) + 1)]
    for outcome in OUTCOMES:
        cells = [str(counts[c][outcome]) for c in campuses] + [str(total[outcome])]
        lines.append(f"| {outcome} | " + " | ".join(cells) + " |")
    n = {c: sum(counts[c].values()) for c in campuses}
    lines.append("| **phrasings** | " + " | ".join(str(n[c]) for c in campuses)
                 + f" | {len(judged)} |")
    ok = sum(total[o] for o in PASSING)
    gaps = sum(1 for j in judged if j.row.known_gap)
    still = sum(1 for j in judged if j.row.known_gap and not j.passed)
    lines.append("")
    lines.append(f"correct or acceptably ambiguous: {ok}/{len(judged)} "
                 f"({100.0 * ok / max(1, len(judged)):.1f}%); confidently wrong: {total[WRONG]}; "
                 f"rows marked known_gap: {gaps} (still failing: {still})")
    return "\n".join(lines)


def failures(judged: Sequence[Judged]) -> str:
    out = []
    for j in judged:
        if j.passed:
            continue
        gap = f" [known gap: {j.row.known_gap}]" if j.row.known_gap else ""
        out.append(f"line {j.row.line} {j.row.campus} {j.row.query!r}: {j.outcome} "
                   f"(status {j.status}; expected {j.row.expect}; got {j.top}){gap}")
    return "\n".join(out)
