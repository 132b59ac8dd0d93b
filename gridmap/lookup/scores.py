"""How sure a reading is: the score scale, and the hits the interpreters gather on it.

Scores at or above :data:`FOUND_THRESHOLD` may be an answer; below it only a choice for the
dispatcher to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gridmap.lookup.answers import Candidate, MatchKind, replace

EXACT = 100.0
FOUND_THRESHOLD = 90.0
NAME_CUTOFF = 72.0
# a fuzzy (not exact) name stays just below FOUND_THRESHOLD: a typo is offered, never assumed
FUZZY_NAME_CEILING = 89.0
NAME_WITH_KIND_SCORE = 95.0   # "south parking lot" for South Lot: the name with its kind word
UNIQUE_WORD_SCORE = 93.0      # "vestibule": the one name holding the word
QUALIFIED_NAME_SCORE = 92.0   # a name said with a building ("ecc restroom")
LOOSE_NUMBER_SCORE = 88.0     # "a15" for A015: zeros dropped, offered not assumed
PARTIAL_SCORE = 85.0          # an unknown word said with a known one, or part of a phrase
OFF_FLOOR_SCORE = 70.0        # on another floor than the one the caller said
ALTERNATIVE_SCORE = 60.0      # the other reading of the same text ("also a grid cell")


@dataclass(slots=True)
class Hits:
    """Scored features found by the interpreters, best score per feature kept."""

    units: dict[str, tuple[float, MatchKind, tuple[str, ...]]] = field(default_factory=dict)
    others: list[Candidate] = field(default_factory=list)
    set_query: bool = False
    #: what a set query asks for all of (points of a kind, a building's doors)
    set_kind: MatchKind | None = None
    explicit_cell: bool = False
    #: rooms found by their kind alone ("hallway", "restroom"): a floor said may single one out
    by_kind: set[str] = field(default_factory=set)

    def add_unit(self, unit_id: str, score: float, match: MatchKind,
                 flags: tuple[str, ...] = ()) -> None:
        if unit_id not in self.units or self.units[unit_id][0] < score:
            self.units[unit_id] = (score, match, flags)

    def merge(self, part: Hits, cap: float | None, flags: tuple[str, ...]) -> None:
        """Take in the hits of another reading, scored at most ``cap`` and flagged so."""
        top = EXACT if cap is None else cap
        for uid, (score, match, own) in part.units.items():
            self.add_unit(uid, min(score, top), match, (*own, *flags))
        self.others += [replace(c, score=min(c.score, top), flags=(*c.flags, *flags))
                        if c.score > top or flags else c for c in part.others]
        self.set_query = self.set_query or part.set_query
        self.set_kind = self.set_kind or part.set_kind
        self.explicit_cell = self.explicit_cell or part.explicit_cell
        self.by_kind |= part.by_kind
