"""Dispatcher lookup: turn what a caller says into building, level, grid cell and nearest door.

Understood phrasings (case, accents and spacing free): ``room 214``, ``rm 214``, ``214``,
``B-214`` / ``A214`` (wing or building prefix + room), ``214B``, ``E003bis``, ``B015 a``,
``a15`` for ``A015``, look-alike characters (``1O4``, ``2l4``), spoken numbers (``two
fourteen``, ``room one oh four``), floor words (``214 upstairs``, ``room 214 2nd floor``,
``basement``, ``level 2``), context words around the thing (``they're in 214``), names
(``gym``, ``main office``; typo tolerant), buildings by letter, name or alias (``building C``,
``preschool``, ``the ECC``), hallways and grounds features by name (``main hall``, ``south
lot``) and kind (``parking lot``, ``field``), doors (``door 7``, ``gym door 4``, ``door 4
gym``, ``the gym doors``, ``main entrance``), point kinds and names (``knox box``, ``AED``,
``chemical storage``), restrooms with gender words (``boys bathroom near the library``,
``girls restroom 2nd floor``), nearest-to phrasings (``AED near the cafeteria``, ``exit
closest to room 214``, ``hallway near room 214``), grid cells (``grid C4``, ``C4-7``), USNG
(with or without its zone) and a latitude/longitude pair.

Every answer lists candidates best first. ``found`` means one answer (or the full set a set
query like "knox box" or "the gym doors" asked for), followed at most by alternatives flagged
as such ("also a grid cell"); ``ambiguous`` means several equally good answers, or only partial
ones, that a dispatcher must choose between; ``not_found`` carries suggestions similar to what
was asked (or none), never a guess.

The parts, each reading one responsibility:

- :mod:`~gridmap.lookup.phrasing`: how queries are phrased, independent of any campus;
- :mod:`~gridmap.lookup.lexicon`: what one campus can be called (numbers, names, words);
- :mod:`~gridmap.lookup.context`: the words around the thing asked for;
- :mod:`~gridmap.lookup.numbered` and :mod:`~gridmap.lookup.named`: the interpreters;
- :mod:`~gridmap.lookup.reading`: every reading of a query through every interpreter;
- :mod:`~gridmap.lookup.floors`: the floor the caller said;
- :mod:`~gridmap.lookup.parts`: nearest-to and other queries read in parts;
- :mod:`~gridmap.lookup.candidates`: where each answer is and what is nearest it;
- :mod:`~gridmap.lookup.scores` and :mod:`~gridmap.lookup.policy`: how sure, and what the
  answer is (status, found means one, suggestions, flags);
- :mod:`~gridmap.lookup.engine`: the engine of one campus index, tying them together.
"""

from __future__ import annotations

import weakref

from gridmap.index import CampusIndex
from gridmap.lookup.answers import (
    FLAG_ALSO_CELL,
    FLAG_ALSO_ROOM,
    FLAG_APPROXIMATE,
    FLAG_GENDER_UNKNOWN,
    FLAG_NO_DOORS,
    FLAG_OFF_FLOOR,
    FLAG_STRAIGHT,
    Candidate,
    LookupResult,
    MatchKind,
    Status,
)
from gridmap.lookup.candidates import CONTEXT_CACHE_SIZE
from gridmap.lookup.context import CONTEXT_WORD_CUTOFF
from gridmap.lookup.engine import MAX_NESTING, LookupEngine
from gridmap.lookup.lexicon import SUGGESTION_CUTOFF
from gridmap.lookup.named import FUZZY_CACHE_SIZE
from gridmap.lookup.parts import MAX_PART_WORDS, NEAREST_LIMIT
from gridmap.lookup.phrasing import (
    COMPOUND_PREFIXES,
    MAX_QUERY_LENGTH,
    MIN_COMPOUND_HEAD,
    loose_number,
    normalise_number,
)
from gridmap.lookup.scores import (
    ALTERNATIVE_SCORE,
    EXACT,
    FOUND_THRESHOLD,
    FUZZY_NAME_CEILING,
    LOOSE_NUMBER_SCORE,
    NAME_CUTOFF,
    NAME_WITH_KIND_SCORE,
    OFF_FLOOR_SCORE,
    PARTIAL_SCORE,
    QUALIFIED_NAME_SCORE,
    UNIQUE_WORD_SCORE,
)

__all__ = [
    "ALTERNATIVE_SCORE", "COMPOUND_PREFIXES", "CONTEXT_CACHE_SIZE", "CONTEXT_WORD_CUTOFF",
    "EXACT", "FLAG_ALSO_CELL", "FLAG_ALSO_ROOM", "FLAG_APPROXIMATE", "FLAG_GENDER_UNKNOWN",
    "FLAG_NO_DOORS", "FLAG_OFF_FLOOR", "FLAG_STRAIGHT", "FOUND_THRESHOLD", "FUZZY_CACHE_SIZE",
    "FUZZY_NAME_CEILING", "LOOSE_NUMBER_SCORE", "MAX_NESTING", "MAX_PART_WORDS",
    "MAX_QUERY_LENGTH", "MIN_COMPOUND_HEAD", "NAME_CUTOFF", "NAME_WITH_KIND_SCORE",
    "NEAREST_LIMIT", "OFF_FLOOR_SCORE", "PARTIAL_SCORE", "QUALIFIED_NAME_SCORE",
    "SUGGESTION_CUTOFF", "UNIQUE_WORD_SCORE", "Candidate", "LookupEngine", "LookupResult",
    "MatchKind", "Status", "engine_for", "lookup", "loose_number", "normalise_number",
]

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
