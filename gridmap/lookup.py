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
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import Levenshtein
from shapely.geometry import Point, Polygon

from gridmap import grid
from gridmap.errors import InvalidCellLabel, InvalidQuery, InvalidUSNG, OutsideGrid
from gridmap.index import CampusIndex, Nearby
from gridmap.model import Amenity, AmenityKind, GroundsFeature, Opening, Unit
from gridmap.usng import complete_usng, normalise_usng, parse_usng, to_usng
from gridmap.vocabulary import (
    AMENITY_WORDS,
    GROUNDS_WORDS,
    INCIDENT_WORDS,
    RESTROOM_WORDS,
    ROOM_WORDS,
    FloorSaid,
    amenity_kind,
    category_gender,
    expand_abbreviations,
    floor_said,
    fold,
    is_restroom_phrase,
    level_numbers,
    lookalike_digits,
    restroom_gender,
    room_name_variants,
    spoken_numbers,
)

MAX_QUERY_LENGTH = 200
EXACT = 100.0
FOUND_THRESHOLD = 90.0
NAME_CUTOFF = 72.0
# a fuzzy (not exact) name stays just below FOUND_THRESHOLD: a typo is offered, never assumed
FUZZY_NAME_CEILING = 89.0
NEAREST_LIMIT = 3
# a not_found suggestion shares a word with the query at least this alike (rapidfuzz ratio)
SUGGESTION_CUTOFF = 65.0
# a word the campus does not know (no name, kind or number word is this alike) is context
CONTEXT_WORD_CUTOFF = 80.0
# Scores: >= FOUND_THRESHOLD may be an answer; below it only a choice to confirm
NAME_WITH_KIND_SCORE = 95.0   # "south parking lot" for South Lot: the name with its kind word
UNIQUE_WORD_SCORE = 93.0      # "vestibule": the one name holding the word
QUALIFIED_NAME_SCORE = 92.0   # a name said with a building ("ecc restroom")
LOOSE_NUMBER_SCORE = 88.0     # "a15" for A015: zeros dropped, offered not assumed
PARTIAL_SCORE = 85.0          # an unknown word said with a known one, or part of a phrase
OFF_FLOOR_SCORE = 70.0        # on another floor than the one the caller said
ALTERNATIVE_SCORE = 60.0      # the other reading of the same text ("also a grid cell")
FUZZY_CACHE_SIZE = 4096
# cached answers per engine (rooms, doors, points, cells); cells beyond it are not kept
CONTEXT_CACHE_SIZE = 20_000
# "AED near the cafeteria" looks up "the cafeteria": parts of parts only this deep
MAX_NESTING = 2
# "chem prep room": runs of words tried when the whole says nothing, for queries this long
MAX_PART_WORDS = 8

FLAG_ALSO_CELL = "also a grid cell"
FLAG_ALSO_ROOM = "also a room number, written without its zeros or letters"
_UNKNOWN_FLAG = "not on this campus: "
FLAG_APPROXIMATE = "label only, no outline"
FLAG_STRAIGHT = "straight-line distances: no hallway data"
FLAG_NO_DOORS = "no exterior doors on this building's plans: doors of another building"
FLAG_OFF_FLOOR = "not on the floor the caller said"
FLAG_GENDER_UNKNOWN = "restroom gender not marked on the map"

# words callers wrap around the thing itself ("near the gym", "outside door 2", "in room 214");
# not "a", which is also a building prefix ("a-214")
_FILLER = re.compile(r"\b(?:the|at|in|by|near|next to|outside|inside|of|please|um|uh|on|to|"
                     r"its|it's|is|are|they're|theyre|he's|she's|we're|were|was|there|"
                     r"caller|says|said|located|somewhere|area|around)\b")
_ROOM = re.compile(r"^(?:(?:room|rm|classroom|class|suite|office|number|no|nr|raum|zimmer|salle|"
                   r"sala|aula|lokaal)(?:\b|(?=\d))\.?|#)\s*"
                   r"(?:#|no\b\.?|number\b)?\s*(.+)$")
# room numbers as schools write them: 214, 214B, 7A, A-214, A015, E003bis, B015 a
_NUMBER_SHAPE = re.compile(r"^(?P<pre>[a-z]{1,3})?\s*[-.]?\s*(?P<num>\d{1,5})\s*[-.]?\s*"
                           r"(?P<suf>[a-z]{1,3})?$")
# door words in the languages of the schools' plans (tür, porte, eingang ... folded)
_DOOR_WORD = (r"(?:door|dr\.?|entrance|entry|exit|gate|tur|tuer|porte|eingang|ausgang|entree|"
              r"sortie|puerta|deur|ingang)")
_DOOR = re.compile(r"^(?:ext(?:erior)?\.?\s+|outside\s+)?" + _DOOR_WORD
                   + r"\s*(?:#|no\.?|nr\.?|number)?\s*(\d+[a-z]?)$")
_NUMBERED_DOOR = re.compile(r"\b" + _DOOR_WORD + r"\s*(?:#|no\.?|nr\.?|number)?\s*\d")
_DOOR_SAID = re.compile(r"\b(?:" + _DOOR_WORD + r"|doors|exits|entrances)\b")
# "entrance to the gym", "ECC entrance": a building's way in is its main entrance
_ENTRANCE_WORDS = frozenset({"entrance", "entry", "way in", "front door", "front entrance",
                             "main door", "eingang", "entree"})
_ALL_DOORS = re.compile(r"^(?:all\s+)?(?:(?:ext(?:erior)?|outside)\s+)?"
                        r"(?:doors|exits|entrances|entries|ways in)$")
_MAIN_ENTRANCE = re.compile(r"^(?:(?:main|front)\s+(?:entrance|entry|door|doors|entrances)|"
                            r"haupteingang|entree principale|porte principale|"
                            r"entrada principal)$")
_BUILDING = re.compile(r"(?:^|\s)(?:building|bldg\.?|bld|block|wing)\s+([\w-]+)(?:\s|$)")
_BUILDING_WORD = re.compile(r"^(?:building|bldg\.?|bld)\s+|\s+(?:building|bldg\.?|bld)$")
# "<thing> in the gym", "door 2 at the main building": a building named after a preposition
_IN_BUILDING = re.compile(r"^(?P<rest>.+?)\s+(?:in|at|inside|outside|by|near|of|on|to|for)\s+"
                          r"(?:the\s+)?(?P<building>.+)$")
# "<kind> near <place>": the nearest points of a kind (or exterior doors) to a place
_NEAR = (
    re.compile(r"^(?:the\s+)?(?:nearest|closest)\s+(?P<what>.+?)\s+(?:to|from)\s+(?:the\s+)?"
               r"(?P<place>.+)$"),
    re.compile(r"^(?:the\s+)?(?P<what>.+?)\s+(?:near(?:est)?(?:\s+to)?|next\s+to|close\s+to|"
               r"closest\s+to|by)\s+(?:the\s+)?(?P<place>.+)$"),
)
# "nearest exit rm 108" (no "to"), "Notausgang A114", "emergency exit 214"
_NEAR_BARE = re.compile(r"^(?:the\s+)?(?:(?:nearest|closest)\s+|(?=(?:notausgang|emergency exit|"
                        r"fire exit|sortie de secours|issue de secours)\s))(?P<rest>.+)$")
_AMENITY_CHOICES = tuple(AMENITY_WORDS)
_DOOR_WORDS = frozenset({"door", "doors", "exit", "exits", "exterior door", "exterior doors",
                         "entrance", "way in", "way out", "entry", "notausgang", "ausgang",
                         "emergency exit", "fire exit", "sortie de secours",
                         "issue de secours", "sortie"})
_CELL = re.compile(r"^(?P<said>(?:grid|cell|grid cell|map grid|grid square|raster|planquadrat|"
                   r"quadrat|rasterfeld|grille|case|carreau|cellule)\s+)?([a-z]{1,2})\s*(\d{1,3})"
                   r"(?:\s*-\s*([1-9])|\s+([1-9]))?$")
_ZONELESS = re.compile(r"^(?:[a-z]{2}\s*)?\d{1,5}[\s-]*\d{1,5}$")
_NUMBER = r"[-+]?\d{1,3}(?:\.\d+)?"
# "42.7, -84.43", "42.700171N 84.430286W", "42.700171° N, 84.430286° W", "lat 42.7 lon -84.4"
_COORD = (r"(?:(?P<@label>lat(?:itude)?|lon(?:g(?:itude)?)?|lng)\s*[:=]?\s*)?"
          rf"(?P<@>{_NUMBER})\s*°?\s*(?P<@hemi>[nsew])?")
# 42°42'00.6"N 84°25'49.0"W, 42°42.01'N 84°25.82'W
_DMS = (r"(?P<d@>\d{1,3})\s*°\s*(?:(?P<m@>\d{1,2}(?:\.\d+)?)\s*['′]\s*)?"
        r"(?:(?P<s@>\d{1,2}(?:\.\d+)?)\s*(?:\"|″|'')\s*)?(?P<h@>[nsew])")
_DMS_PAIR = re.compile(r"^" + _DMS.replace("@", "1") + r"\s*[,;/\s]?\s*" + _DMS.replace("@", "2")
                       + r"$")
_LONLAT = re.compile(r"^" + _COORD.replace("@", "a") + r"\s*[,;/\s]\s*"
                     + _COORD.replace("@", "b") + r"$")
_STOP_WORDS = frozenset({"the", "a", "an", "of", "and", "de", "la", "le", "du", "des"})
# German and French small words around a place ("Brand in der Mensa", "feu dans la
# cantine"): context, never a modifier of the place's name
_SMALL_WORDS_ABROAD = frozenset({"der", "die", "das", "dem", "den", "im", "am", "beim", "zum",
                                 "zur", "vom", "ist", "dans", "au", "aux", "les", "est", "sur"})
# "the gym's door 3": a possessive 's on a building or a room standing for one
_POSSESSIVE = re.compile(r"(?<=[a-z0-9])'s\b")
# prefixes of German compound place words ("Lehrerparkplatz"), in the words campuses use
COMPOUND_PREFIXES: dict[str, str] = {
    "lehrer": "staff", "lehrerinnen": "staff", "personal": "staff", "mitarbeiter": "staff",
    "schuler": "student", "schueler": "student", "besucher": "visitor", "gaste": "visitor",
    "bus": "bus", "eltern": "parent", "kinder": "children", "sport": "sports",
}
MIN_COMPOUND_HEAD = 5  # "parkplatz", "field": a place word long enough to end a compound
# room words that say what kind of room ("lab" is not an "office"); "room" says nothing
_ROOM_KINDS = frozenset({"office", "lab", "class", "station", "stand", "desk", "booth",
                         "center", "centre"})
_BUILDING_KIND_WORDS = frozenset({"building", "block", "wing", "bldg", "hall", "center", "centre"})
_GENERIC_WORDS = frozenset({"room", "office", "area", "space", "center", "centre", "the",
                            "stand", "station", "desk", "booth", "lab", "class"})
_HALLWAY_WORDS = frozenset({"hall", "hallway", "halls", "hallways", "corridor", "corridors",
                            "hall way", "flur", "couloir", "gang", "main hallway"})
_HALLWAY_CATEGORIES = frozenset({"walkway", "hallway", "corridor", "circulation", "lobby"})
_ROOM_WORDS = frozenset({"room", "rm", "classroom", "number", "no", "#", "suite", "nr", "raum",
                         "zimmer", "salle", "sala", "aula", "lokaal"})
_SPLIT_NAME = re.compile(r"\s+/\s+|\s*;\s*|\n")
# words that are part of how things are asked for, never context to drop
_QUERY_WORDS = frozenset({
    "room", "rm", "classroom", "class", "suite", "office", "number", "no", "door", "doors", "dr",
    "exit", "exits", "entrance", "entrances", "entry", "gate", "main", "front", "exterior",
    "ext", "grid", "cell", "bis", "ter", "tur", "tuer", "porte", "eingang", "ausgang", "entree",
    "sortie", "raum", "zimmer", "salle", "nr", "raster", "planquadrat", "quadrat", "rasterfeld",
    "grille", "case", "carreau", "cellule", "square", "haupteingang", "principale", "principal",
    "building", "bldg", "block", "wing", "all",
    "nearest", "closest", "stand", "station", "desk", "booth", "lab",
    "near", "next", "close", "by", "hall", "hallway", "corridor", "lot", "field", "way",
    *RESTROOM_WORDS, "boys", "boy", "girls", "girl", "men", "mens", "women", "womens", "ladies",
    "staff", "unisex", "family", "male", "female", "faculty", "teachers", "kids", "children",
    "childrens", "student", "students",
})


class Status(StrEnum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


class MatchKind(StrEnum):
    UNIT_NUMBER = "unit_number"
    UNIT_NAME = "unit_name"
    DOOR = "door"
    AMENITY = "amenity"
    CELL = "cell"
    USNG = "usng"
    LONLAT = "lonlat"
    BUILDING = "building"
    GROUNDS = "grounds"
    HALLWAY = "hallway"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible answer, with everything a dispatcher reads out."""

    score: float
    match: MatchKind
    label: str
    feature_id: str | None
    feature_type: str
    building_id: str | None
    building_name: str | None
    level_ordinal: int | None
    level_name: str | None
    unit_number: str | None
    unit_name: str | None
    kind: str | None
    primary_cell: str | None
    subcell: str | None
    cells: tuple[str, ...]
    usng: str
    lon: float
    lat: float
    nearest_doors: tuple[Nearby, ...]
    nearest_knox_box: Nearby | None
    nearest_aed: Nearby | None
    campus_id: str = ""
    nearest_trauma_kit: Nearby | None = None
    nearest_stairs: Nearby | None = None
    approximate: bool = False
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def one(n: Nearby | None) -> dict[str, Any] | None:
            return None if n is None else n.to_dict()

        return {
            "score": round(self.score, 1), "match": self.match.value, "label": self.label,
            "campus_id": self.campus_id, "feature_id": self.feature_id,
            "feature_type": self.feature_type, "building_id": self.building_id,
            "building_name": self.building_name, "level_ordinal": self.level_ordinal,
            "level_name": self.level_name, "unit_number": self.unit_number,
            "unit_name": self.unit_name, "kind": self.kind, "primary_cell": self.primary_cell,
            "subcell": self.subcell, "cells": list(self.cells), "usng": self.usng,
            "lon": round(self.lon, 7), "lat": round(self.lat, 7),
            "nearest_doors": [d.to_dict() for d in self.nearest_doors],
            "nearest_knox_box": one(self.nearest_knox_box),
            "nearest_aed": one(self.nearest_aed),
            "nearest_trauma_kit": one(self.nearest_trauma_kit),
            "nearest_stairs": one(self.nearest_stairs),
            "approximate": self.approximate, "flags": list(self.flags),
        }


@dataclass(frozen=True, slots=True)
class LookupResult:
    query: str
    status: Status
    message: str
    candidates: tuple[Candidate, ...]
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query, "status": self.status.value, "message": self.message,
            "candidates": [c.to_dict() for c in self.candidates],
            "suggestions": list(self.suggestions),
        }


@dataclass
class _Hits:
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


@dataclass(frozen=True, slots=True)
class _Name:
    """One name a feature is known by, folded for matching."""

    kind: str  # "unit", "amenity", "grounds", "building"
    feature_id: str
    text: str


def normalise_number(text: str) -> str:
    """Room numbers compare without case, spaces, dots or dashes: ``b-12`` == ``B12``."""
    return re.sub(r"[\s.\-_/]", "", text).upper()


def loose_number(text: str) -> str | None:
    """A room number without leading zeros in its digits: ``A015`` -> ``A15``; None when the
    text is not shaped like a room number."""
    m = _NUMBER_SHAPE.match(text.strip().lower())
    if not m:
        return None
    return ((m.group("pre") or "") + str(int(m.group("num"))) + (m.group("suf") or "")).upper()


_T = TypeVar("_T")
_FIELDS: dict[type, tuple[str, ...]] = {
    Candidate: tuple(f.name for f in fields(Candidate)),
    LookupResult: tuple(f.name for f in fields(LookupResult)),
}


def _clean(query: str) -> str:
    q = fold(query.strip())
    q = q.replace("’", "'").replace("`", "'")
    q = re.sub(r"^[\"'(\[]+|[\"')\]]+$", "", q)
    q = re.sub(r"[?!.,;:]+$", "", q)
    q = re.sub(r"(?<=\w)[,;:!?](?=\s|$)", "", q)
    q = re.sub(r"\s+", " ", q).strip()
    q = _QUESTION.sub("", q) or q
    return expand_abbreviations(spoken_numbers(q))


# how a question starts ("where's the nearest AED to the gym", "can you find room 214")
_QUESTION = re.compile(r"^(?:(?:can|could)\s+you\s+)?(?:where(?:'s|s| is| are| was)?|"
                       r"what(?:'s| is)|find|show(?:\s+me)?|locate|get\s+me|i\s+need|"
                       r"we\s+need|need|"
                       r"how\s+do\s+(?:i|we)\s+get\s+to|go\s+to|send\s+(?:them|units?)\s+to)"
                       r"\s+")


def _dms(m: re.Match[str], i: int) -> tuple[float, str]:
    """Degrees from degrees/minutes/seconds groups ``d{i}``, ``m{i}``, ``s{i}``, ``h{i}``."""
    value = float(m.group(f"d{i}")) + float(m.group(f"m{i}") or 0) / 60 + float(
        m.group(f"s{i}") or 0) / 3600
    hemi = m.group(f"h{i}")
    return (-value if hemi in ("s", "w") else value), hemi


def _said_coordinates(q: str) -> list[tuple[float, float]] | None:
    """(lat, lon) readings of a coordinate pair, the likely one first; None if it is not one."""
    dms = _DMS_PAIR.match(q)
    if dms:
        (a, hemi_a), (b, _) = _dms(dms, 1), _dms(dms, 2)
        lat, lon = (b, a) if hemi_a in ("e", "w") else (a, b)
        return [(lat, lon)] if -90 <= lat <= 90 and -180 <= lon <= 180 else []
    m = _LONLAT.match(q)
    if not m or "." not in m.group("a") or "." not in m.group("b"):
        return None
    a, b = float(m.group("a")), float(m.group("b"))
    hemi_a, hemi_b = m.group("ahemi"), m.group("bhemi")
    label_a, label_b = m.group("alabel") or "", m.group("blabel") or ""
    if hemi_a in ("s", "w"):
        a = -abs(a)
    if hemi_b in ("s", "w"):
        b = -abs(b)
    if hemi_a in ("e", "w") or hemi_b in ("n", "s") or label_a.startswith("lo") \
            or label_a == "lng" or label_b.startswith("la"):
        readings = [(b, a)]
    elif hemi_a or hemi_b or label_a or label_b:
        readings = [(a, b)]
    else:
        readings = [(a, b), (b, a)]
    return [(lat, lon) for lat, lon in readings if -90 <= lat <= 90 and -180 <= lon <= 180]


def _without_filler(q: str) -> str:
    stripped = re.sub(r"\s+", " ", _FILLER.sub(" ", q)).strip()
    return stripped or q


def _name_parts(name: str) -> list[str]:
    """A name and its parts: "Secrétariat / Main Office" -> itself, "Secrétariat", "Main
    Office"; "Trauma Kit - Main Office" stays whole."""
    parts = [name.strip()]
    pieces = [p.strip() for p in _SPLIT_NAME.split(name) if p.strip()]
    if len(pieces) > 1:
        parts += pieces
    return [p for p in dict.fromkeys(parts) if p]


@functools.lru_cache(maxsize=1 << 16)
def _key(text: str) -> str:
    """How names compare: folded (no case, no accents), punctuation as spaces. Memoised: the
    engine compares the same few hundred names hundreds of thousands of times while it is
    built, which was most of a CLI lookup's time."""
    return utils.default_process(fold(text).replace("'", ""))


def _replace(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for the frozen value objects here, without its per-call field
    introspection (it is the hot path of every answer)."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None:
        raise TypeError(f"{cls.__name__} is not one of the lookup's value objects")
    new: _T = object.__new__(cls)
    for name in names:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


def _stem(word: str) -> str:
    """Plural and possessive said alike: "nurses" ~ "nurse", "concessions" ~ "concession"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_NO_NAMES: frozenset[int] = frozenset()


def _alike(said: str, word: str) -> bool:
    """``said`` is a typo of ``word`` or shares its stem."""
    edits = 1 if len(said) <= 5 else 2
    if Levenshtein.distance(said, word, score_cutoff=edits) <= edits:
        return True
    stem = 0
    for a, b in zip(said, word, strict=False):
        if a != b:
            break
        stem += 1
    return stem >= 6 and stem >= 0.7 * min(len(said), len(word))


def _is_hallway(unit: Unit) -> bool:
    return unit.category.split(".")[0].lower() in _HALLWAY_CATEGORIES


def _is_restroom(unit: Unit) -> bool:
    return unit.category.lower().startswith("restroom") or is_restroom_phrase(unit.name)


class LookupEngine:
    """Precomputed tables over one :class:`CampusIndex`; see :func:`lookup`."""

    def __init__(self, index: CampusIndex) -> None:
        self.index = index
        campus = index.campus
        self.units = {u.id: u for u in campus.units}
        self.openings = {o.id: o for o in campus.openings}
        self.amenities = {a.id: a for a in campus.amenities}
        self.grounds = {g.id: g for g in campus.grounds}
        self.by_number: dict[str, list[Unit]] = {}
        self.by_loose_number: dict[str, list[Unit]] = {}
        for u in campus.units:
            if u.number:
                self.by_number.setdefault(normalise_number(u.number), []).append(u)
                loose = loose_number(u.number)
                if loose:
                    self.by_loose_number.setdefault(loose, []).append(u)
        # "214" -> 214A, 214B (numbers with a letter after); "12" -> B12 (a letter before)
        self.by_stem: dict[str, list[tuple[str, list[Unit]]]] = {}
        self.by_tail: dict[str, list[tuple[str, list[Unit]]]] = {}
        for number, units in self.by_loose_number.items():
            if stem := re.fullmatch(r"(.*\d)[A-Z]{1,3}", number):
                self.by_stem.setdefault(stem.group(1), []).append((number, units))
            if tail := re.fullmatch(r"[A-Z]{1,3}(\d.*)", number):
                self.by_tail.setdefault(tail.group(1), []).append((number, units))
        self.buildings_by_word: dict[str, str] = {}
        for b in campus.buildings:
            words = [b.id, b.short_name, *_name_parts(b.name), *b.aliases]
            for word in words:
                key = _clean(word)
                if key:
                    self.buildings_by_word.setdefault(key, b.id)
                    self.buildings_by_word.setdefault(f"building {key}", b.id)
        # long building words (not a single letter) qualify a phrase without a preposition:
        # "gym door 4", "door 4 gym"; longest first
        self.building_phrases = sorted(
            (w for w in self.buildings_by_word if len(w) > 1 and not w.startswith("building ")),
            key=len, reverse=True)
        self.names: list[_Name] = []
        for u in campus.units:
            for name in (u.name, *u.aliases):
                for part in _name_parts(name) if name else ():
                    self.names.append(_Name("unit", u.id, part))
        for a in campus.amenities:
            for part in _name_parts(a.name) if a.name else ():
                self.names.append(_Name("amenity", a.id, part))
        for g in campus.grounds:
            for part in _name_parts(g.name) if g.name else ():
                self.names.append(_Name("grounds", g.id, part))
        self.name_choices = [_key(n.text) for n in self.names]
        self.name_tokens = [frozenset(map(_stem, c.split())) for c in self.name_choices]
        self.exact_names: dict[str, list[_Name]] = {}
        for n, processed in zip(self.names, self.name_choices, strict=True):
            self.exact_names.setdefault(processed, []).append(n)
        self.building_names = [
            (_key(p), b.id)
            for b in campus.buildings for p in (*_name_parts(b.name), *b.aliases)]
        # room names (and their spoken words) held by rooms of one building only
        held: dict[str, set[str]] = {}
        for n in self.names:
            if n.kind == "unit":
                held.setdefault(_key(n.text), set()).add(self.units[n.feature_id].building_id)
        for word, names in ROOM_WORDS.items():
            for name in names:
                if _key(name) in held:
                    held.setdefault(_key(word), set()).update(held[_key(name)])
        self.room_buildings = {k: next(iter(v)) for k, v in held.items()
                               if len(v) == 1 and k and k not in self.buildings_by_word}
        # names (and their spoken words) of rooms that are most of their building
        big = {_key(n.text) for n in self.names if n.kind == "unit" and (
            index.shapes[n.feature_id].area
            >= 0.5 * index.footprints[self.units[n.feature_id].building_id].area)}
        big |= {_key(w) for w, names in ROOM_WORDS.items()
                if any(_key(name) in big for name in names)}
        self.room_is_building = frozenset(k for k in self.room_buildings if k in big)
        self.possessive_stems = frozenset(self.building_phrases) | frozenset(self.room_buildings)
        # grounds words that end a compound ("...parkplatz"), longest first
        self.compound_heads = sorted((w for w in GROUNDS_WORDS
                                      if " " not in w and len(w) >= MIN_COMPOUND_HEAD),
                                     key=len, reverse=True)
        self.restrooms = [u for u in campus.units if _is_restroom(u)]
        self.restroom_ids = frozenset(u.id for u in self.restrooms)
        self.hallways = [u for u in campus.units if _is_hallway(u)]
        self.name_extra = [self._extra_words(n) for n in self.names]
        self.name_kind_words = [e - _GENERIC_WORDS for e in self.name_extra]
        self.name_kind_phrases = [self._kind_phrases(n) for n in self.names]
        self.name_gendered_restroom = [
            n.kind == "unit" and _is_restroom(self.units[n.feature_id])
            and restroom_gender(n.text) is not None for n in self.names]
        with_word: dict[str, set[int]] = {}
        with_prefix: dict[str, set[int]] = {}
        for i, toks in enumerate(self.name_tokens):
            for w in toks:
                with_word.setdefault(w, set()).add(i)
                for end in range(3, len(w) - 1):
                    with_prefix.setdefault(w[:end], set()).add(i)
        self.names_with_word = {w: frozenset(v) for w, v in with_word.items()}
        self.names_with_prefix = {w: frozenset(v) for w, v in with_prefix.items()}
        self.vocabulary = self._vocabulary()
        # single letters that are words of names ("Pre-K Classroom"), not articles
        self.name_letters = frozenset(
            t for toks in self.name_tokens for t in toks if len(t) == 1 and t.isalpha()
        ) - _STOP_WORDS
        self._long_vocabulary = tuple(w for w in self.vocabulary if len(w) >= 4)
        self._context: dict[str, Candidate] = {}
        self._fuzzy_cache: dict[str, list[tuple[int, float]]] = {}
        self._local = threading.local()
        ext = grid.extent(index.grid)
        self._centre = index.frame.lonlat((ext.minx + ext.maxx) / 2, (ext.miny + ext.maxy) / 2)

    def _vocabulary(self) -> frozenset[str]:
        """Every word the campus or the lookup knows: a query word outside it is context."""
        texts: list[str] = [n.text for n in self.names]
        texts += list(self.buildings_by_word)
        texts += list(AMENITY_WORDS) + list(GROUNDS_WORDS)
        texts += [w for k, vs in ROOM_WORDS.items() for w in (k, *vs)]
        texts += [lv.name for lv in self.index.campus.levels]
        texts += [u.number for u in self.index.campus.units if u.number]
        words = {w for t in texts for w in _key(t).split()}
        return frozenset(words | _QUERY_WORDS)

    # --- entry point -----------------------------------------------------------------------

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

    def lookup(self, query: str, limit: int = 10) -> LookupResult:
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidQuery(f"query is {len(query)} characters; the limit is {MAX_QUERY_LENGTH}")
        if "\x00" in query:
            raise InvalidQuery("query contains a NUL character")
        q = self._compounds_apart(self._without_possessive(_clean(query)))
        if not q:
            raise InvalidQuery("query is empty; try a room number, name, door, cell or place")
        near = self._nearest_to(query, q, limit)
        if near is not None:
            return near
        floor, rest = floor_said(q)
        if floor is not None and not _FILLER.sub(" ", rest).strip() \
                and _key(_without_filler(q)) not in self.exact_names:
            return LookupResult(
                query, Status.NOT_FOUND,
                f"{floor.text!r} names a floor, not a place on it; add a room, name or door.",
                ())
        hits = self._interpret(q)
        candidates = self._rank_hits(hits)
        if hits.set_kind is not None and any(
                c.match is hits.set_kind and c.score >= FOUND_THRESHOLD for c in candidates):
            # "knox box", "the gym doors": the set asked for, not what shares its words
            candidates = [c for c in candidates if c.match is hits.set_kind]
        if not candidates:
            place = self._place_after_context(query, q, limit)
            if place is not None:
                return place
            candidates = self._part_of_it(q)
        result = self._result(query, candidates[:limit], hits.set_query)
        if result.status is not Status.FOUND:
            bare = self._kind_then_place(query, q, limit)
            if bare is not None and bare.status is Status.FOUND:
                return bare
        return result

    def _interpret(self, q: str) -> _Hits:
        hits = _Hits()
        whole = _without_filler(q)
        floor: FloorSaid | None = None
        if _key(whole) not in self.exact_names:
            floor, q_rest = floor_said(q)
            if floor is not None and not _FILLER.sub(" ", q_rest).strip():
                floor = None  # only a floor was said: it filters nothing
            elif floor is not None:
                q = q_rest
        for building_id, spoken in self._readings(q):
            found = self._reading(building_id, spoken)
            dropped = self._modifiers_dropped(spoken)
            cap = None
            flags: tuple[str, ...] = ()
            if dropped:
                # "auxiliary gym", "main st": a word the campus does not know, said right next
                # to one it does, may name something else: a partial match at best
                cap, flags = PARTIAL_SCORE, (_UNKNOWN_FLAG + " ".join(dropped),)
            self._merge(hits, found, cap, flags)
        if floor is not None:
            self._apply_floor(floor, hits)
        return hits

    def _reading(self, building_id: str | None, spoken: str) -> _Hits:
        """Everything one reading of a query (a building, and the rest as said) names."""
        hits = _Hits()
        plain = _without_filler(spoken)
        core = self._without_context(plain)
        if building_id is not None and not core.strip():
            # "the gym" is the building; "auxiliary gym" names something not on the plans
            said = _FILLER.sub(" ", spoken).split()
            hits.others.append(_replace(
                self._building_candidate(building_id, PARTIAL_SCORE),
                flags=(_UNKNOWN_FLAG + " ".join(said),)) if said
                else self._building_candidate(building_id, EXACT))
            return hits
        self._coordinates(spoken, hits)
        self._cell(core, hits)
        self._doors(core, building_id, hits)
        self._room_number(core, building_id, hits)
        self._number_and_name(core, building_id, hits)
        if building_id is None:  # "athletics main" names two buildings, not building A
            self._building_named(core, hits)
        # a numbered phrasing is answered by number only; "room 214" is not "Classroom
        # 201", and "gym door 9" is no door rather than the gym lobby's AED
        numbered = bool(_DOOR.match(core) or _CELL.match(core) or self._is_number(core)
                        or _NUMBERED_DOOR.search(core))
        named = _Hits() if building_id is not None else hits
        for text in dict.fromkeys((core, plain, spoken)):
            self._amenities(text, building_id, hits)
            self._grounds_kind(text, building_id, hits)
            if not numbered:
                self._names(text, building_id, named)
                self._restrooms(text, building_id, named)
                self._hallways(text, building_id, named)
        if named is not hits:
            # "main corridor" is first the corridor named so, then a corridor of the
            # building called "main": a name said with a building ranks below a whole name
            self._merge(hits, named, QUALIFIED_NAME_SCORE, ())
        return hits

    @staticmethod
    def _merge(into: _Hits, part: _Hits, cap: float | None, flags: tuple[str, ...]) -> None:
        top = EXACT if cap is None else cap
        for uid, (score, match, own) in part.units.items():
            into.add_unit(uid, min(score, top), match, (*own, *flags))
        into.others += [_replace(c, score=min(c.score, top), flags=(*c.flags, *flags))
                        if c.score > top or flags else c for c in part.others]
        into.set_query = into.set_query or part.set_query
        into.set_kind = into.set_kind or part.set_kind
        into.explicit_cell = into.explicit_cell or part.explicit_cell
        into.by_kind |= part.by_kind

    def _modifiers_dropped(self, spoken: str) -> list[str]:
        """Unknown words said right next to a known word ("auxiliary gym", "main st");
        unknown words set apart by small words ("they're in 214", "by the windows") are
        context, not part of the name."""
        words = spoken.split()
        if len(words) < 2:
            return []
        plain = _without_filler(spoken).split()
        core = set(self._without_context(" ".join(plain)).split())
        dropped = []
        for i, w in enumerate(words):
            if w in core or _FILLER.fullmatch(w) or w in _STOP_WORDS or w in INCIDENT_WORDS \
                    or w in _SMALL_WORDS_ABROAD:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(words):
                    n = words[j]
                    if n in core and n.isalpha() and len(n) > 1 and not _FILLER.fullmatch(n):
                        dropped.append(w)
                        break
        return dropped

    def _readings(self, q: str) -> list[tuple[str | None, str]]:
        """(building, rest) readings of a query: as said, and with a named building taken
        out ("door 4 gym" -> (gym, "door 4"))."""
        readings: list[tuple[str | None, str]] = [(None, q)]
        main, _, rest = _without_filler(q).partition(" ")
        if main == "main" and _key(q) not in self.exact_names and (
                rest in ROOM_WORDS or _key(rest) in self.exact_names):
            readings.append((None, rest))  # "main gym": the gym, "main" its adjective
        qualified = self._building_qualifier(q)
        if qualified is not None:
            readings.append(qualified)
        return readings

    def _without_possessive(self, q: str) -> str:
        """"gym's door 3" -> "gym door 3": the 's dropped where the word before it ends a
        building's name or alias, or a room's name standing for its building."""
        def plain(m: re.Match[str]) -> str:
            before = q[: m.start()].split(" ")
            for n in range(min(len(before), 3), 0, -1):
                if " ".join(before[-n:]) in self.possessive_stems:
                    return ""
            return m.group(0)
        return _POSSESSIVE.sub(plain, q) if "'" in q else q

    def _compounds_apart(self, q: str) -> str:
        """"lehrerparkplatz" -> "staff parkplatz": a word the campus does not know that ends
        in a grounds word is that word with a qualifier, the qualifier in the campus's words
        where it is a known one ("Lehrer" = staff)."""
        out: list[str] = []
        for w in q.split(" "):
            out.append(w)
            if len(w) < MIN_COMPOUND_HEAD + 3 or not w.isalpha() or w in self.vocabulary \
                    or w in GROUNDS_WORDS or w in self.buildings_by_word:
                continue
            for head in self.compound_heads:
                prefix = w[: -len(head)]
                if w.endswith(head) and len(prefix) >= 3:
                    said = COMPOUND_PREFIXES.get(prefix) or COMPOUND_PREFIXES.get(prefix[:-1])
                    out[-1] = f"{said or prefix} {head}"
                    break
        return " ".join(out)

    def _is_number(self, text: str) -> bool:
        m = _ROOM.match(text)
        body = m.group(1) if m else text
        return _NUMBER_SHAPE.match(body) is not None or lookalike_digits(body) is not None

    def _without_context(self, text: str) -> str:
        """The query without words the campus does not know ("they're in 214" -> "214",
        "library by the windows" -> "library"); a typo of a known word stays."""
        kept: list[str] = []
        words = text.split()
        for i, w in enumerate(words):
            # "E003 bis", "B015 a": a short word after a number is its suffix
            suffix = bool(kept) and any(ch.isdigit() for ch in kept[-1]) and len(w) <= 3
            letter = len(w) == 1 and w.isalpha()
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if w.isalpha() and len(w) <= 3 and nxt[:1].isdigit():
                kept.append(w)  # "AU 07": a wing prefix said apart from its number
                continue
            if w in INCIDENT_WORDS and not suffix:
                continue  # "room 214 is on fire": what happens there, not where
            if suffix or (letter and self._prefix_letter(w, words, i)) \
                    or (not letter and self._known_word(w)):
                kept.append(w)
        return " ".join(kept)

    def _prefix_letter(self, w: str, words: list[str], i: int) -> bool:
        """A single letter is a wing or building ("a 214", "building c"), else a word."""
        before = words[i - 1] if i > 0 else ""
        after = words[i + 1] if i + 1 < len(words) else ""
        return (any(ch.isdigit() for ch in after) or before in ("building", "bldg", "wing",
                                                                   "block")
                or (w in self.buildings_by_word and not before and not after)
                or w in self.name_letters)

    def _known_word(self, word: str) -> bool:
        if any(ch.isdigit() for ch in word) or len(word) == 1 or word == "#":
            return True
        w = _key(word)
        if not w or w in self.vocabulary or w.rstrip("s") in self.vocabulary:
            return True
        if len(w) < 3:
            return False
        if any(v.startswith(w) for v in self._long_vocabulary):
            return True  # "chem", "admin": the start of a word the campus knows
        return process.extractOne(w, self._long_vocabulary, scorer=fuzz.ratio,
                                  score_cutoff=CONTEXT_WORD_CUTOFF) is not None

    def _rank_hits(self, hits: _Hits) -> list[Candidate]:
        best_other: dict[str, Candidate] = {}
        for c in hits.others:
            key = f"{c.feature_type}:{c.feature_id or c.label}"
            if key not in best_other or best_other[key].score < c.score:
                best_other[key] = c
        candidates = [
            self._unit_candidate(self.units[uid], score, match, flags)
            for uid, (score, match, flags) in hits.units.items()
        ] + list(best_other.values())
        candidates = self._settle(candidates, hits)
        candidates.sort(key=self._rank)
        return candidates

    def _settle(self, candidates: list[Candidate], hits: _Hits) -> list[Candidate]:
        """One place said several ways is one answer: a room beats its own building, a point
        named like the room it sits in, and a grid cell spelled like a room number."""
        if not candidates:
            return candidates
        strong_rooms = [c for c in candidates if c.feature_type == "unit"
                        and c.match is MatchKind.UNIT_NUMBER and c.score >= 95]
        out: list[Candidate] = []
        cells = any(c.match is MatchKind.CELL for c in candidates)
        for c in candidates:
            if c.match is MatchKind.CELL and strong_rooms and not hits.explicit_cell:
                c = _replace(c, score=ALTERNATIVE_SCORE, flags=(*c.flags, FLAG_ALSO_CELL))
            elif (cells and not strong_rooms and c.match is MatchKind.UNIT_NUMBER
                  and not hits.explicit_cell):
                c = _replace(c, score=min(c.score, ALTERNATIVE_SCORE),
                            flags=(*c.flags, FLAG_ALSO_ROOM))
            out.append(c)
        best = max(c.score for c in out)
        top_units = [c for c in out if c.feature_type == "unit" and c.score >= best - 0.5]
        if top_units and not hits.set_query:
            unit_buildings = {c.building_id for c in top_units}
            kept = []
            for c in out:
                if (c.feature_type == "building" and c.building_id in unit_buildings
                        and c.score >= best - 0.5):
                    continue
                if (c.feature_type == "amenity" and c.score >= best - 0.5
                        and self._inside_any(c, top_units)):
                    continue
                kept.append(c)
            out = kept
        return out

    def _inside_any(self, c: Candidate, units: list[Candidate]) -> bool:
        p = self.index.shapes.get(c.feature_id or "")
        if p is None:
            return False
        for u in units:
            unit = self.units.get(u.feature_id or "")
            if unit is not None and u.level_ordinal == c.level_ordinal and \
                    self.index.shapes[unit.id].buffer(0.5).contains(p):
                return True
        return False

    def _rank(self, c: Candidate) -> tuple[float, str, int, str, str]:
        """Best score first; ties in reading order: building letter, floor, room, label."""
        building = self.index.buildings.get(c.building_id or "")
        return (-c.score, building.short_name if building else "~", c.level_ordinal or 0,
                c.unit_number or "", c.label)

    def _result(self, query: str, candidates: list[Candidate], set_query: bool) -> LookupResult:
        if not candidates:
            suggestions = self._suggestions(_clean(query))
            hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
            return LookupResult(query, Status.NOT_FOUND,
                                f"Nothing on this campus matches {query.strip()!r}.{hint}",
                                (), suggestions)
        best = candidates[0].score
        top = [c for c in candidates if c.score >= best - 0.5]
        if best >= FOUND_THRESHOLD and set_query:
            # the set said best: "gym knox box" is the gym's, not every Knox box
            answer = [c for c in candidates if c.score >= max(FOUND_THRESHOLD, best - 5)]
            message = f"{len(answer)} matches" if len(answer) > 1 else "1 match"
            return LookupResult(query, Status.FOUND, message, tuple(answer))
        if best >= FOUND_THRESHOLD and len(top) == 1:
            # one answer; only alternatives flagged as such may follow it
            alternatives = [c for c in candidates[1:]
                            if any(f.startswith("also ") for f in c.flags)]
            message = "1 match" + (
                "; also possible: " + ", ".join(c.label.split(" · ")[0] for c in alternatives)
                if alternatives else "")
            return LookupResult(query, Status.FOUND, message, (top[0], *alternatives))
        if all(FLAG_GENDER_UNKNOWN in c.flags for c in top):
            # "girls restroom 2nd floor" where the map says no gender: say why, not "partial"
            message = (f"{len(top)} restrooms; {FLAG_GENDER_UNKNOWN}" if len(top) > 1
                       else FLAG_GENDER_UNKNOWN.capitalize()) + ": confirm with the caller"
        elif len(top) > 1:
            message = f"{len(top)} equally good matches; confirm which one"
        else:
            message = "Only a partial match; confirm it with the caller"
        return LookupResult(query, Status.AMBIGUOUS, message, tuple(candidates))

    def _suggestions(self, q: str) -> tuple[str, ...]:
        """Names sharing a word with the query (a typo of it at least), best first."""
        words = [w for w in _key(q).split()
                 if len(w) >= 4 and not w.isdigit() and w not in _QUERY_WORDS]
        if not words:
            return ()
        scored: dict[str, float] = {}
        texts = [n.text for n in self.names] + [
            b.name for b in self.index.campus.buildings]
        for text in texts:
            tokens = [t for t in _key(text).split() if len(t) >= 4]
            best = 0.0
            for w in words:
                for t in tokens:
                    # short words must be closer: "loop" is not "floor"
                    cutoff = SUGGESTION_CUTOFF if min(len(w), len(t)) >= 6 else 75.0
                    ratio = fuzz.ratio(w, t)
                    if ratio >= cutoff:
                        best = max(best, ratio)
            if best and text not in scored:
                scored[text] = best
        ranked = sorted(scored, key=lambda t: (-scored[t], t))
        return tuple(ranked[:3])

    # --- interpreters ----------------------------------------------------------------------

    def _nearest_to(self, query: str, q: str, limit: int) -> LookupResult | None:
        """"AED near the cafeteria", "exit closest to room 214", "boys bathroom near the
        library": None unless both parts resolve.

        The place is looked up like any query and must be a clear answer; the points of the
        kind (or the exterior doors, or the restrooms) then come nearest first, same level
        first, by walking distance where the building has hallway data.
        """
        m = _NEAR[0].match(q) or _NEAR[1].match(q) or self._near_without_to(q)
        if not m:
            return None
        return self._nearest_of(query, m, limit)

    def _kind_then_place(self, query: str, q: str, limit: int) -> LookupResult | None:
        """"AED Mensa", "knox box cafeteria": a kind of point, then a place without "near",
        read as the nearest of that kind to the place. Only when the query read as a whole
        says nothing certain, and never with a number after the kind ("stair 2", "Lift 1"
        name the point itself)."""
        words = _without_filler(q).split()
        for k in range(min(len(words) - 1, 3), 0, -1):  # "trauma kit" before "trauma"
            what = " ".join(words[:k])
            if amenity_kind(what) is None:
                continue
            place = " ".join(words[k:])
            if any(ch.isdigit() for ch in place):
                return None
            m = re.match(rf"^(?P<what>{re.escape(what)}) (?P<place>.+)$", f"{what} {place}")
            return self._nearest_of(query, m, limit) if m else None
        return None

    def _nearest_of(self, query: str, m: re.Match[str], limit: int) -> LookupResult | None:
        what = _without_filler(m.group("what"))
        kind = amenity_kind(what)
        restroom = kind is None and is_restroom_phrase(what)
        hallway = kind is None and _key(what) in _HALLWAY_WORDS
        if kind is None and what not in _DOOR_WORDS and not restroom and not hallway:
            return self._with_landmark(query, m.group("what"), m.group("place"), limit) \
                if m.re is _NEAR[1] else None
        place = self._nested(m.group("place"), 1)
        if place.status is not Status.FOUND:
            return None
        target = place.candidates[0]
        origin = Point(*self.index.frame.xy(target.lon, target.lat))
        level_id = self._level_of(target)
        where = " ".join(x for x in (
            f"Room {target.unit_number}" if target.unit_number else "", target.unit_name or "")
            if x) or target.label.split(" · ")[0]
        k = min(limit, NEAREST_LIMIT)
        found: list[Candidate] = []
        if restroom:
            return self._restrooms_near(query, what, target, origin, where, k)
        if kind is None and what not in _DOOR_WORDS:  # "hallway near room 214"
            return self._hallways_near(query, target, origin, where, k)
        if kind is None:  # "exit", "door": the building's exterior doors
            doors = self._doors_near(origin, target.building_id, level_id, k + 2)
            for rank, d in enumerate(self._tie_broken(doors, origin, None)[:k]):
                o = self.openings[d.feature_id]
                found.append(self._nearby_candidate(
                    self._feature_candidate(o.id, MatchKind.DOOR, EXACT - 5 * rank, "opening",
                                            d.name, o.building_id, o.level_id, None),
                    d, where))
            what_name = "exterior doors"
        else:
            points = self._amenities_near(kind, origin, target.building_id, level_id, k + 2)
            for rank, n in enumerate(self._tie_broken(points, origin, target.building_id)[:k]):
                a = self.amenities[n.feature_id]
                found.append(self._nearby_candidate(
                    self._feature_candidate(a.id, MatchKind.AMENITY, EXACT - 5 * rank, "amenity",
                                            a.name or kind.display_name, a.building_id,
                                            a.level_id, kind.value),
                    n, where))
            what_name = kind.display_name
        if not found:
            return LookupResult(query, Status.NOT_FOUND,
                                f"No {what_name} on this campus to measure from {where}.", ())
        return LookupResult(query, Status.FOUND, f"Nearest {what_name} to {where}", tuple(found))

    def _part_of_it(self, q: str) -> list[Candidate]:
        """"chem prep room": when the whole says nothing, the longest run of its words that
        names something, offered as a partial match to confirm (never found)."""
        words = self._without_context(_without_filler(q)).split()
        if any(ch.isdigit() for ch in q) or len(words) > MAX_PART_WORDS:
            return []  # "gym door seven": another building's door 7 is no part of it
        for size in range(len(words) - 1, 0, -1):
            for start in range(len(words) - size + 1):
                part = " ".join(words[start:start + size])
                if sum(ch.isalpha() for ch in part) < 4 or part in _QUERY_WORDS \
                        or part in GROUNDS_WORDS or part in AMENITY_WORDS \
                        or part in self.buildings_by_word:
                    continue  # a kind or a building alone is not what was asked
                hits = self._reading(None, part)
                if hits.units or hits.others:
                    flag = (f"matched only {part!r}",)
                    found = _Hits()
                    self._merge(found, hits, PARTIAL_SCORE, flag)
                    return [c for c in self._rank_hits(found) if c.score >= NAME_CUTOFF]
        return []

    def _place_after_context(self, query: str, q: str, limit: int) -> LookupResult | None:
        """"fire in the kitchen", "man with a gun in the cafeteria": when the whole says
        nothing, the place after the last "in"/"at" is the answer if it is one clear place."""
        m = re.match(r"^(?P<said>.+)\s+(?:in|at|inside|on)\s+(?:the\s+)?(?P<place>.+)$", q)
        if m is None:
            return None
        place = self._nested(m.group("place"), limit)
        if place.status is not Status.FOUND:
            return None
        return _replace(place, query=query, message=(
            f"{place.message}; {m.group('said')!r} read as what happens there"))

    def _tie_broken(self, found: list[Nearby], origin: Point,
                    building_id: str | None) -> list[Nearby]:
        """As the index ranks them (own building, same level, distance), walks equal to the
        metre ordered by the straight line: the door in the room's own hall before one
        reached through a room."""
        return sorted(found, key=lambda n: (
            building_id is not None and n.building_id != building_id, not n.same_level,
            round(n.distance_m), origin.distance(self._where(n.feature_id))))

    def _where(self, feature_id: str) -> Any:
        """A feature's point in local metres: a room's label point, a door or point itself."""
        unit = self.units.get(feature_id)
        return self.index.label_point(unit) if unit is not None \
            else self.index.shapes[feature_id]

    @staticmethod
    def _near_without_to(q: str) -> re.Match[str] | None:
        """"nearest exit rm 108", "Notausgang A114": the kind said, then the place."""
        m = _NEAR_BARE.match(q)
        if m is None:
            return None
        words = m.group("rest").split()
        for k in range(1, min(len(words), 4)):
            what = " ".join(words[:k])
            if amenity_kind(what) is not None or what in _DOOR_WORDS:
                return re.match(rf"^(?P<what>{re.escape(what)}) (?P<place>.+)$",
                                f"{what} {' '.join(words[k:])}")
        return None

    def _with_landmark(self, query: str, what: str, landmark: str,
                       limit: int) -> LookupResult | None:
        """"the cafeteria by the kitchen": the place said, the landmark only confirming it.
        None (read the query as a whole) unless the place is one clear answer and the
        landmark, where it is on the campus at all, is in the same building."""
        place = self._nested(what, limit)
        if place.status is not Status.FOUND or len(place.candidates) != 1:
            return None
        answer = place.candidates[0]
        near = self._nested(landmark, 1)
        if near.status is Status.AMBIGUOUS:
            return None
        if near.status is Status.FOUND and near.candidates[0].building_id != answer.building_id:
            return None
        return _replace(place, query=query)

    def _restrooms_near(self, query: str, what: str, target: Candidate, origin: Point,
                        where: str, k: int) -> LookupResult:
        """"boys bathroom near the library": the restrooms that serve whom was said (or of
        unknown gender, flagged), nearest first as people walk: the place's level first,
        others naming the stairs, by walking distance where the buildings have hallways."""
        hits = _Hits()
        self._restrooms(what, None, hits)
        if not hits.units:
            return LookupResult(query, Status.NOT_FOUND,
                                f"No restroom on this campus to measure from {where}.", ())
        best = max(s for s, _, _ in hits.units.values())
        rooms = [self.units[uid] for uid, (s, _, _) in hits.units.items() if s >= best - 0.5]
        level_id = self._level_of(target)
        # from a level: that level's first, whichever building is the shorter walk; from
        # outdoors or a whole building: the place's building first
        prefer = None if level_id is not None else target.building_id
        near = self.index.nearest_units(rooms, origin, k + 2, level_id=level_id,
                                        building_id=prefer)
        found = []
        for rank, n in enumerate(self._tie_broken(near, origin, prefer)[:k]):
            score, match, flags = hits.units[n.feature_id]
            c = self._unit_candidate(self.units[n.feature_id], score - (0 if rank == 0 else 5),
                                     match, flags)
            found.append(self._nearby_candidate(c, n, where))
        status = Status.FOUND if best >= FOUND_THRESHOLD else Status.AMBIGUOUS
        message = (f"Nearest restroom to {where}" if status is Status.FOUND else
                   f"Restrooms near {where}; {FLAG_GENDER_UNKNOWN}: confirm with the caller")
        return LookupResult(query, status, message, tuple(found))

    def _hallways_near(self, query: str, target: Candidate, origin: Point, where: str,
                       k: int) -> LookupResult:
        """"hallway near room 214": the hallways nearest the place, measured to where each is
        met (its wall nearest the place), the place's level first."""
        level_id = self._level_of(target)
        prefer = None if level_id is not None else target.building_id
        rooms = [u for u in self.hallways if u.id != target.feature_id]
        near = self.index.nearest_units(rooms, origin, k + 2, level_id=level_id,
                                        building_id=prefer, edge=True)
        found = [self._nearby_candidate(
            self._unit_candidate(self.units[n.feature_id], EXACT - 5 * rank, MatchKind.HALLWAY),
            n, where) for rank, n in enumerate(self._tie_broken(near, origin, prefer)[:k])]
        if not found:
            return LookupResult(query, Status.NOT_FOUND,
                                f"No hallway on this campus to measure from {where}.", ())
        return LookupResult(query, Status.FOUND, f"Nearest hallway to {where}", tuple(found))

    @staticmethod
    def _nearby_candidate(c: Candidate, n: Nearby, where: str) -> Candidate:
        how = "walking" if n.distance_kind == "walking" else "straight line"
        text = f"{c.label} · {n.distance_m:.0f} m {how} from {where}"
        if not n.same_level:
            text += f" · on {n.level_name or c.level_name}" + (f" via {n.via}" if n.via else "")
        return _replace(c, label=text)

    def _level_of(self, c: Candidate) -> str | None:
        fid = c.feature_id or ""
        if fid in self.units:
            return self.units[fid].level_id
        if fid in self.openings:
            return self.openings[fid].level_id
        if fid in self.amenities:
            return self.amenities[fid].level_id
        return None

    def _building_qualifier(self, q: str) -> tuple[str, str] | None:
        """(building id, the rest) for "building B door 2", "door 2 in the gym", "gym door 4"
        or "door 4 gym"; None when no building is named around something else."""
        m = _BUILDING.search(q)
        if m and m.group(1) in self.buildings_by_word:
            rest = (q[: m.start()] + " " + q[m.end():]).strip()
            return self.buildings_by_word[m.group(1)], re.sub(r"\s+", " ", rest)
        m = _IN_BUILDING.match(q)
        if m:
            said = _BUILDING_WORD.sub("", m.group("building")).strip()
            if said in self.buildings_by_word:
                return self.buildings_by_word[said], m.group("rest")
        bare = _BUILDING_WORD.sub("", _without_filler(q)).strip()
        if bare in self.buildings_by_word:
            return self.buildings_by_word[bare], ""
        plain = re.sub(r"^all\s+", "", _without_filler(q))  # "all ecc doors"
        door_said = _DOOR_SAID.search(plain) is not None
        for name, b_id in self.room_buildings.items() if door_said else ():
            # "gym door 2", "the gym doors": a room's name standing for its building, for doors
            for rest in (plain[len(name):].strip() if plain.startswith(name + " ") else "",
                         plain[: -len(name)].strip() if plain.endswith(" " + name) else ""):
                # a numbered door of the room's building; all the doors ("the gym doors")
                # only of a building that room mostly is
                if rest and (_DOOR.match(rest) or (
                        (_ALL_DOORS.match(rest) or _MAIN_ENTRANCE.match(rest))
                        and name in self.room_is_building)):
                    return b_id, rest
        for word in self.building_phrases:
            if plain.startswith(word + " "):
                rest = _BUILDING_WORD.sub("", plain[len(word):].strip()).strip()
                return self.buildings_by_word[word], rest
            if plain.endswith(" " + word):
                rest = _BUILDING_WORD.sub("", plain[: -len(word)].strip()).strip()
                return self.buildings_by_word[word], rest
        return None

    def _coordinates(self, q: str, hits: _Hits) -> None:
        said = _said_coordinates(q)
        if said is not None:
            # dispatch systems say "lat, lon"; GIS people write "lon, lat": try both unless
            # hemisphere letters or labels say which is which
            for lat, lon in said:
                if -90 <= lat <= 90 and -180 <= lon <= 180:
                    c = self._point_candidate(lon, lat, MatchKind.LONLAT, EXACT)
                    if c is not None:
                        hits.others.append(c)
            return
        compact = normalise_usng(q)
        if compact is None:
            compact = self._usng_without_zone(q)
        if compact is None or not re.search(r"\d", compact[3:]):
            return
        try:
            lon, lat = parse_usng(compact)
        except InvalidUSNG:
            return
        # a USNG square names its south-west corner; answer for its centre
        digits = len(compact) - len(re.sub(r"\d+$", "", compact))
        half = 10 ** (5 - digits // 2) / 2.0 if digits else 50_000.0
        x, y = self.index.frame.xy(lon, lat)
        lon, lat = self.index.frame.lonlat(x + half, y + half)
        c = self._point_candidate(lon, lat, MatchKind.USNG, EXACT)
        if c is not None:
            hits.others.append(c)

    def _usng_without_zone(self, q: str) -> str | None:
        """"GN 1046 3072", "1046 3072": a USNG reference said without its zone (or square),
        read in the zone and 100 km square of the campus, as responders do on a local map."""
        if not _ZONELESS.match(q):
            return None
        return complete_usng(q, *self._centre)

    def _cell(self, q: str, hits: _Hits) -> None:
        m = _CELL.match(q)
        if not m:
            return
        keypad = m.group(4) or m.group(5)
        label = f"{m.group(2).upper()}{int(m.group(3))}" + (f"-{keypad}" if keypad else "")
        explicit = bool(m.group("said") or keypad)
        if m.group(3) != str(int(m.group(3))) and not explicit:
            return  # "A015" is how rooms are written, never how a grid cell is
        try:
            ref = grid.parse_label(label, self.index.grid)
        except (InvalidCellLabel, OutsideGrid):
            return
        if isinstance(ref, grid.SubCell):
            b = grid.subcell_bounds(self.index.grid, ref)
        else:
            b = grid.cell_bounds(self.index.grid, ref)
        if explicit:
            hits.explicit_cell = True
        key = f"cell:{label}"
        cached = self._context.get(key)
        if cached is None:
            x, y = (b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2
            lon, lat = self.index.frame.lonlat(x, y)
            near = Point(x, y)
            cached = Candidate(
                score=EXACT, match=MatchKind.CELL, label=f"Grid cell {label}",
                feature_id=None, feature_type="cell", building_id=None, building_name=None,
                level_ordinal=None, level_name=None, unit_number=None, unit_name=None,
                kind=None, primary_cell=label.split("-")[0],
                subcell=label if "-" in label else None, cells=(label.split("-")[0],),
                usng=to_usng(lon, lat), lon=lon, lat=lat, campus_id=self.index.campus.id,
                **self._nearby_fields(near, None, None),
            )
            if len(self._context) < CONTEXT_CACHE_SIZE:
                self._context[key] = cached
        hits.others.append(cached)

    def _doors(self, q: str, building_id: str | None, hits: _Hits) -> None:
        doors: list[Opening]
        if _MAIN_ENTRANCE.match(q) or (building_id is not None and q in _ENTRANCE_WORDS):
            doors = [o for o in self.index.campus.exterior_doors(building_id) if o.main_entrance]
            hits.set_query, hits.set_kind = True, MatchKind.DOOR
        elif _ALL_DOORS.match(q) and (building_id is not None
                                      or len(self.index.campus.buildings) == 1):
            doors = list(self.index.campus.exterior_doors(building_id))
            hits.set_query, hits.set_kind = True, MatchKind.DOOR
        elif m := _DOOR.match(q):
            number = m.group(1).upper()
            doors = [o for o in self.index.campus.exterior_doors(building_id)
                     if o.number is not None and o.number.upper() == number]
        else:
            return
        for o in doors:
            hits.others.append(self._feature_candidate(
                o.id, MatchKind.DOOR, EXACT, "opening",
                (f"Door {o.number}" if o.number else "Exterior door (unnumbered)")
                + (" (main entrance)" if o.main_entrance else ""),
                o.building_id, o.level_id, None))

    def _room_number(self, q: str, building_id: str | None, hits: _Hits) -> None:
        m = _ROOM.match(q)
        said_room = m is not None
        text = m.group(1) if m else q
        cell = _CELL.match(q)
        if cell is not None and cell.group("said"):
            return  # "grid C4" is a cell, never a room
        before = len(hits.units)
        self._number_hits(text, building_id, said_room, hits, 0.0)
        if len(hits.units) == before or max(
                (s for s, _, _ in hits.units.values()), default=0.0) < 95:
            fixed = lookalike_digits(text)
            if fixed is not None:
                # "1O4", "2l4": letters typed for digits; a hair below the number as typed
                self._number_hits(fixed, building_id, said_room, hits, 2.0)

    def _number_hits(self, text: str, building_id: str | None, said_room: bool, hits: _Hits,
                     penalty: float) -> None:
        shape = _NUMBER_SHAPE.match(text)
        if not shape:
            return
        pre = (shape.group("pre") or "").upper()
        digits, suf = shape.group("num"), (shape.group("suf") or "").upper()

        def add(u: Unit, score: float) -> None:
            if building_id is None or u.building_id == building_id:
                hits.add_unit(u.id, score - penalty, MatchKind.UNIT_NUMBER)

        key = normalise_number(text)
        exact = [u for u in self.by_number.get(key, [])
                 if building_id is None or u.building_id == building_id]
        for u in exact:
            add(u, EXACT)
        loose = loose_number(text) or key
        if not exact:
            # leading zeros: "a15" for A015, "7" for 007; offered, not assumed ("B-12" may be
            # a room that is not on the plans, and "A1" is a grid cell)
            for u in self.by_loose_number.get(loose, []):
                add(u, LOOSE_NUMBER_SCORE)
        # "214" when only 214A and 214B exist: a choice, never an answer
        if not suf:
            for _, units in self.by_stem.get(loose, []):
                for u in units:
                    add(u, 82.0)
        else:
            # "214B" when only 214 exists: partial
            for u in self.by_loose_number.get(loose[: -len(suf)], []):
                add(u, 75.0)
        if pre:
            # "B-214": building B's room 214 (its number written without the letter)
            b_id = self.buildings_by_word.get(pre.lower())
            bare = str(int(digits)) + suf
            for u in self.by_loose_number.get(bare, []):
                if b_id is not None and u.building_id == b_id:
                    add(u, 97.0)
                elif not exact:
                    # the prefix names no building of this room: a partial match at best
                    add(u, 70.0)
        else:
            # "12" for a room numbered "B-12": certain once the caller named building B
            bare = str(int(digits)) + suf
            for number, units in self.by_tail.get(bare, []):
                if number != bare:
                    for u in units:
                        if building_id is None:
                            add(u, 85.0 if said_room else 80.0)
                        else:
                            prefixed = number.startswith(
                                self.index.buildings[building_id].short_name.upper())
                            add(u, 97.0 if prefixed else 85.0)

    def _number_and_name(self, q: str, building_id: str | None, hits: _Hits) -> None:
        """"room 214 science lab", "weight room B-12": a number with words around it is that
        room when the words agree with its name or building, a partial match when not."""
        tokens = q.split()
        cell = _CELL.match(q)
        if len(tokens) < 2 or (cell is not None and cell.group("said")):
            return
        for i, token in enumerate(tokens):
            if not any(ch.isdigit() for ch in token):
                continue
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            if after.isalpha() and len(after) <= 3 and normalise_number(
                    token + after) in self.by_number:
                token, tokens = token + after, tokens[:i + 1] + tokens[i + 2:]  # "E003 bis"
            # who is there ("student down in 104") is no word of the room's name
            rest = [w for w in tokens[:i] + tokens[i + 1:] if w not in _ROOM_WORDS
                    and w not in INCIDENT_WORDS and restroom_gender(w) is None]
            if len(rest) == 1 and len(rest[0]) == 1:
                return  # "B015 a": a number with its letter
            if not rest:  # "A114 classroom": the number, said with a room word
                self._number_hits(token, building_id, True, hits, 0.0)
                return
            found = _Hits()
            self._number_hits(token, building_id, True, found, 0.0)
            said = _key(" ".join(rest))
            for uid, (score, _, _) in found.units.items():
                if score < 95:
                    continue
                u = self.units[uid]
                names = [_key(p) for p in _name_parts(u.name)] + [
                    w for w, b in self.buildings_by_word.items() if b == u.building_id]
                agree = any(fuzz.WRatio(said, n) >= 85 for n in names if len(n) > 2)
                hits.add_unit(uid, score if agree else 85.0, MatchKind.UNIT_NUMBER)
            return

    def _amenities(self, q: str, building_id: str | None, hits: _Hits) -> None:
        if len(q) < 3:
            return
        best = process.extractOne(q, _AMENITY_CHOICES, scorer=fuzz.ratio,
                                  score_cutoff=80 if len(q) >= 8 else 85)
        if best is None:
            return
        kind = AMENITY_WORDS[best[0]]
        hits.set_query = True
        hits.set_kind = MatchKind.AMENITY
        score = EXACT if best[1] >= 99 else max(FOUND_THRESHOLD, float(best[1]))
        for a in self._amenities_of(kind, building_id):
            hits.others.append(self._feature_candidate(
                a.id, MatchKind.AMENITY, score, "amenity", a.name or kind.display_name,
                a.building_id, a.level_id, kind.value))

    def _amenities_of(self, kind: AmenityKind, building_id: str | None) -> list[Amenity]:
        return [a for a in self.index.campus.amenities
                if a.kind is kind and (building_id is None or a.building_id == building_id)]

    def _grounds_kind(self, q: str, building_id: str | None, hits: _Hits) -> None:
        """"parking lot", "field", "playground": the grounds features of that kind."""
        kind = GROUNDS_WORDS.get(q)
        if kind is None or building_id is not None:
            return
        found = [g for g in self.index.campus.grounds if g.kind is kind]
        score = 95.0 if len(found) == 1 else 85.0
        for g in found:
            hits.others.append(self._grounds_candidate(g, score))

    def _building_named(self, q: str, hits: _Hits) -> None:
        """"preschool", "the ECC", "building C", "high school": a building itself."""
        bare = _BUILDING_WORD.sub("", q).strip()
        b_id = self.buildings_by_word.get(bare) or self.buildings_by_word.get(q)
        if b_id is not None:
            hits.others.append(self._building_candidate(b_id, EXACT))
            return
        if sum(ch.isalpha() for ch in bare) < 4:
            return
        said = frozenset(_key(bare).split()) - _BUILDING_KIND_WORDS - _STOP_WORDS
        if said:
            # "tech block": the one building whose name or alias holds those words' starts
            owners = {b_id for text, b_id in self.building_names
                      if all(any(t == w or (len(w) >= 3 and t.startswith(w))
                                 for t in text.split()) for w in said)}
            if len(owners) == 1:
                hits.others.append(self._building_candidate(owners.pop(), UNIQUE_WORD_SCORE))
        choices = [text for text, _ in self.building_names]
        for _, score, i in process.extract(_key(bare), choices,
                                           scorer=fuzz.ratio, limit=3,
                                           score_cutoff=85):
            hits.others.append(self._building_candidate(
                self.building_names[i][1], min(float(score), FUZZY_NAME_CEILING)))

    def _names(self, q: str, building_id: str | None, hits: _Hits) -> None:
        if sum(ch.isalpha() for ch in q) < 3:
            return
        # a restroom asked for is weighed by whom it serves (see _restrooms), never by a
        # room that happens to be named just "Restroom"
        restroom = is_restroom_phrase(q)
        for rank, variant in enumerate(room_name_variants(q)):
            processed = _key(variant)
            exact = [n for n in self.exact_names.get(processed, [])
                     if not (restroom and n.feature_id in self.restroom_ids)]
            for n in exact:
                self._name_hit(n, EXACT, building_id, hits)
            words = frozenset(map(_stem, processed.split())) - _STOP_WORDS
            if not words:
                continue
            if rank == 0:  # by the words said; a drawing-name variant counts only whole
                self._whole_words(words, building_id, hits)
            if rank == 0 and not exact and any(len(w) > 2 for w in words):
                # typos of what was said (its drawing-name variants are matched exactly)
                for i, score in self._fuzzy(processed, words):
                    if not (restroom and self.names[i].feature_id in self.restroom_ids):
                        self._name_hit(self.names[i], score, building_id, hits)

    def _fuzzy(self, processed: str, words: frozenset[str]) -> list[tuple[int, float]]:
        """Names like ``processed`` (a typo of it), each scored below an exact name; only
        names holding every word said (or a typo of it). Memoised per engine."""
        cached = self._fuzzy_cache.get(processed)
        if cached is not None:
            return cached
        found = process.extract(processed, self.name_choices, scorer=fuzz.WRatio,
                                processor=None, limit=None, score_cutoff=NAME_CUTOFF)
        out = [(i, min(float(score), FUZZY_NAME_CEILING)) for _, score, i in found
               if score < 99.5 and self._every_word_in(words, self.name_tokens[i])]
        if len(self._fuzzy_cache) >= FUZZY_CACHE_SIZE:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[processed] = out
        return out

    @staticmethod
    def _every_word_in(words: frozenset[str], name: frozenset[str]) -> bool:
        """Every word said (of three letters or more) is in the name: itself, a typo of one
        of its words (one edit in a short word, two in a longer one: "ofice", "libary", but
        not "stage" for "storage"), or a word sharing its stem ("counselor", "counseling")."""
        said = [w for w in words if len(w) > 2]
        # "counselor's office" for "Counseling": a room word need not be in the name, when
        # another word said is
        specific = [w for w in said if w not in _GENERIC_WORDS]
        return all(w in name or any(_alike(w, t) for t in name) for w in specific or said)

    def _whole_words(self, words: frozenset[str], building_id: str | None,
                     hits: _Hits) -> None:
        """Names by their words: "vestibule" is the one room whose name holds the word (93);
        "south parking lot" is "South Lot" said with its kind (95)."""
        # names holding each word, or a word it is the start of ("chem" -> "chemistry")
        holding = [self.names_with_word.get(w, _NO_NAMES) | self.names_with_prefix.get(
            w, _NO_NAMES) for w in words]
        sharing = frozenset().union(*holding)
        containing = sorted(frozenset.intersection(*holding)) if holding else []
        features = {(self.names[i].kind, self.names[i].feature_id) for i in containing}
        # "girls" alone may be a restroom or a locker room the map names otherwise
        gender_only = len(words) == 1 and (restroom_gender(next(iter(words))) is not None
                                           or next(iter(words)) in _HALLWAY_WORDS)
        if len(features) == 1 and any(len(w) > 2 for w in words) and not gender_only \
                and self._kind_said(words, containing[0]) \
                and words - self.name_extra[containing[0]]:
            self._name_hit(self.names[containing[0]], UNIQUE_WORD_SCORE, building_id, hits)
        for i in sorted(sharing):
            toks = self.name_tokens[i]
            if not self._kind_said(words, i):
                continue  # "cafeteria" is not "AED - Cafeteria", "staff" not "Staff Restroom"
            if self.name_gendered_restroom[i]:
                continue  # restrooms by gender are weighed alike, named or categorised
            extra = self.name_extra[i]
            own = toks - extra
            # "chemistry office" is not "Chemistry Lab": room words that differ say so
            theirs, ours = toks & _ROOM_KINDS, words & _ROOM_KINDS
            if theirs and ours and not theirs & ours:
                continue
            if own and own == words - extra and toks != words:
                self._name_hit(self.names[i], NAME_WITH_KIND_SCORE, building_id, hits)

    def _kind_said(self, words: frozenset[str], i: int) -> bool:
        """A name holding its kind's word ("AED - Cafeteria", "Staff Restroom") is meant only
        when the caller said a word of that kind too."""
        kind_words = self.name_kind_words[i]
        named = self.name_tokens[i] & kind_words
        if not named or named <= words:
            return True
        # a whole kind phrase: "electrical panel", not the "main" of "main breaker"
        return any(phrase <= words for phrase in self.name_kind_phrases[i])

    def _kind_phrases(self, n: _Name) -> tuple[frozenset[str], ...]:
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
        return tuple(frozenset(map(_stem, _key(w).split())) for w in said)

    def _extra_words(self, n: _Name) -> frozenset[str]:
        """Words that may go with a name without changing what it names: its kind's words."""
        extra = set(_GENERIC_WORDS)
        if n.kind == "grounds":
            kind = self.grounds[n.feature_id].kind
            extra.update(w for word, k in GROUNDS_WORDS.items() if k is kind
                         for w in word.split())
        elif n.kind == "amenity":
            akind = self.amenities[n.feature_id].kind
            extra.update(w for word, k in AMENITY_WORDS.items() if k is akind
                         for w in word.split())
        elif n.kind == "unit" and _is_restroom(self.units[n.feature_id]):
            extra.update(RESTROOM_WORDS)
        return frozenset(map(_stem, extra))

    def _name_hit(self, n: _Name, score: float, building_id: str | None, hits: _Hits) -> None:
        if n.kind == "unit":
            u = self.units[n.feature_id]
            if building_id is not None and u.building_id != building_id:
                return
            hits.add_unit(u.id, score,
                          MatchKind.HALLWAY if _is_hallway(u) else MatchKind.UNIT_NAME)
        elif n.kind == "amenity":
            a = self.amenities[n.feature_id]
            if building_id is not None and a.building_id != building_id:
                return
            hits.others.append(self._feature_candidate(
                a.id, MatchKind.AMENITY, score, "amenity", a.name, a.building_id, a.level_id,
                a.kind.value))
        elif n.kind == "grounds" and building_id is None:
            hits.others.append(self._grounds_candidate(self.grounds[n.feature_id], score))

    def _restrooms(self, q: str, building_id: str | None, hits: _Hits) -> None:
        """"boys bathroom", "girls restroom", "staff wc": restrooms by the gender they serve,
        read from the IMDF category (restroom.male ...) or the room's name."""
        if not is_restroom_phrase(q):
            return
        said = restroom_gender(q)
        rooms = [u for u in self.restrooms
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

    def _hallways(self, q: str, building_id: str | None, hits: _Hits) -> None:
        """"hallway", "corridor upstairs": the walkways, a choice unless only one is meant."""
        if _key(q) not in _HALLWAY_WORDS:
            return
        found = [u for u in self.hallways if building_id is None or u.building_id == building_id]
        for u in found:
            hits.add_unit(u.id, 90.0 if len(found) == 1 else PARTIAL_SCORE, MatchKind.HALLWAY)
            hits.by_kind.add(u.id)

    def _apply_floor(self, floor: FloorSaid, hits: _Hits) -> None:
        """A floor the caller said narrows the answer: elsewhere is at best a partial match."""
        ok = self._levels_said(floor)
        for uid, (score, match, flags) in list(hits.units.items()):
            if self.units[uid].level_id not in ok:
                hits.units[uid] = (min(score, OFF_FLOOR_SCORE), match, (*flags, FLAG_OFF_FLOOR))
        # "hallway 2nd floor": the one room of the kind said on the floor said
        on_floor = [uid for uid in hits.by_kind if self.units[uid].level_id in ok]
        if len(on_floor) == 1:
            score, match, flags = hits.units[on_floor[0]]
            hits.units[on_floor[0]] = (max(score, FOUND_THRESHOLD), match, flags)
        others = []
        for c in hits.others:
            level_id = self._level_of(c)
            if level_id is not None and level_id not in ok and c.feature_type != "cell":
                c = _replace(c, score=min(c.score, OFF_FLOOR_SCORE),
                            flags=(*c.flags, FLAG_OFF_FLOOR))
            others.append(c)
        hits.others = others

    def _levels_said(self, floor: FloorSaid) -> set[str]:
        """Ids of the levels a floor phrase names, building by building."""
        ok: set[str] = set()
        by_building: dict[str, list[Any]] = {}
        for lv in self.index.campus.levels:
            by_building.setdefault(lv.building_id, []).append(lv)
        for levels in by_building.values():
            ordinals = sorted(lv.ordinal for lv in levels)
            for lv in levels:
                if floor.relation == "ground":
                    hit = lv.ordinal == 0
                elif floor.relation == "basement":
                    hit = lv.ordinal < 0
                elif floor.relation == "upstairs":
                    hit = lv.ordinal > 0
                elif floor.relation == "downstairs":
                    hit = lv.ordinal <= 0 if len(ordinals) > 1 else True
                elif floor.relation == "top":
                    hit = lv.ordinal == ordinals[-1]
                else:
                    hit = False
                if hit:
                    ok.add(lv.id)
            if floor.number is not None:
                named = [lv for lv in levels
                         if floor.number in level_numbers(lv.name)
                         or lv.short_name.strip().lower() == str(floor.number)]
                if named:
                    ok.update(lv.id for lv in named)
                else:
                    # unnamed levels: the American count (1st floor = ground) unless the
                    # building names its ground floor, when floors count from above it
                    ground_named = any(lv.ordinal == 0 and re.search(
                        r"ground|erdgeschoss|rez|parterre|begane", fold(lv.name))
                        for lv in levels)
                    want = floor.number if ground_named else floor.number - 1
                    ok.update(lv.id for lv in levels if lv.ordinal == want)
        return ok

    # --- nearby things, floor-aware where the index is ------------------------------------

    def _doors_near(self, p: Point, building_id: str | None, level_id: str | None,
                    k: int = 3) -> list[Nearby]:
        return self.index.nearest_exterior_doors(p, building_id, k, level_id=level_id)

    def _amenity_near(self, kind: AmenityKind, p: Point, building_id: str | None,
                      level_id: str | None) -> Nearby | None:
        return self.index.nearest_amenity(kind, p, building_id, level_id=level_id)

    def _amenities_near(self, kind: AmenityKind, p: Point, building_id: str | None,
                        level_id: str | None, k: int) -> list[Nearby]:
        return self.index.nearest_amenities(kind, p, building_id, k, level_id=level_id)

    def _nearby_fields(self, p: Point, building_id: str | None, level_id: str | None,
                       own_kind: str | None = None, own_id: str | None = None
                       ) -> dict[str, Any]:
        def unless_self(kind: AmenityKind) -> Nearby | None:
            if own_kind == kind.value:
                return None
            return self._amenity_near(kind, p, building_id, level_id)

        doors = tuple(d for d in self._doors_near(p, building_id, level_id)
                      if d.feature_id != own_id)
        stairs = None
        if building_id is not None and own_kind != AmenityKind.STAIRWELL.value:
            stairs = self._amenity_near(AmenityKind.STAIRWELL, p, building_id, level_id)
            if stairs is not None and stairs.building_id != building_id:
                stairs = None
        fields: dict[str, Any] = {
            "nearest_doors": doors,
            "nearest_knox_box": unless_self(AmenityKind.KNOX_BOX),
            "nearest_aed": unless_self(AmenityKind.AED),
            "nearest_trauma_kit": unless_self(AmenityKind.TRAUMA_KIT),
            "nearest_stairs": stairs,
        }
        return fields

    def _distance_flags(self, building_id: str | None, nearby: dict[str, Any]) -> tuple[str, ...]:
        if building_id is None:
            return ()
        flags: list[str] = []
        doors: tuple[Nearby, ...] = nearby["nearest_doors"]
        if doors and all(d.building_id != building_id for d in doors):
            flags.append(FLAG_NO_DOORS)
        own = [n for n in (*doors, nearby["nearest_aed"], nearby["nearest_trauma_kit"])
               if n is not None and n.building_id == building_id]
        # within its own building a walk is measured where there are hallways
        straight = all(n.distance_kind != "walking" for n in own) if own else bool(flags)
        if straight:
            flags.append(FLAG_STRAIGHT)
        return tuple(flags)

    # --- candidates ------------------------------------------------------------------------

    def _unit_candidate(self, unit: Unit, score: float, match: MatchKind,
                        flags: tuple[str, ...] = ()) -> Candidate:
        base = self._memo_context(unit.id, lambda: self._build_unit_context(unit))
        return _replace(base, score=score, match=match, flags=(*base.flags, *flags))

    def _memo_context(self, key: str, build: Callable[[], Candidate]) -> Candidate:
        """The place-dependent part of a candidate (label, cells, nearby doors and amenities),
        built once per engine and kept under ``key``; callers stamp score and match on a copy."""
        base = self._context.get(key)
        if base is None:
            base = self._context[key] = build()
        return base

    def _build_unit_context(self, unit: Unit) -> Candidate:
        ix = self.index
        p = ix.label_point(unit)
        primary, cells = ix.unit_cells(unit)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if primary else None
        lon, lat = ix.frame.lonlat(p.x, p.y)
        building = ix.buildings[unit.building_id]
        level = ix.levels[unit.level_id]
        approximate = bool(getattr(unit, "approximate", False))
        room = " ".join(x for x in (f"Room {unit.number}" if unit.number else "",
                                    unit.name.replace("\n", " ")) if x)
        label = (f"Building {building.short_name} ({building.name}) · {level.name} · {room}"
                 + (" · approximate location (label only, no outline)" if approximate else "")
                 + f" · grid {primary}" + (f" ({sub})" if sub else ""))
        nearby = self._nearby_fields(p, building.id, unit.level_id)
        flags = ((FLAG_APPROXIMATE,) if approximate else ()) + self._distance_flags(
            building.id, nearby)
        return Candidate(
            score=0.0, match=MatchKind.UNIT_NUMBER, label=label, feature_id=unit.id,
            feature_type="unit", building_id=building.id, building_name=building.name,
            level_ordinal=level.ordinal, level_name=level.name, unit_number=unit.number or None,
            unit_name=unit.name.replace("\n", " ") or None, kind=unit.category,
            primary_cell=primary, subcell=sub, cells=cells, usng=to_usng(lon, lat), lon=lon,
            lat=lat, campus_id=ix.campus.id, approximate=approximate, flags=flags, **nearby,
        )

    def _feature_candidate(self, feature_id: str, match: MatchKind, score: float,
                           feature_type: str, name: str, building_id: str | None,
                           level_id: str | None, kind: str | None) -> Candidate:
        base = self._memo_context(
            f"{feature_type}:{feature_id}:{name}",
            lambda: self._build_feature_context(feature_id, feature_type, name, building_id,
                                                level_id, kind))
        return _replace(base, score=score, match=match)

    def _build_feature_context(self, feature_id: str, feature_type: str, name: str,
                               building_id: str | None, level_id: str | None,
                               kind: str | None) -> Candidate:
        ix = self.index
        p = ix.shapes[feature_id]
        lon, lat = ix.frame.lonlat(p.x, p.y)
        cell = ix.cell_of(p.x, p.y)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if cell else None
        building = ix.buildings.get(building_id) if building_id else None
        ordinal = ix.ordinal_of(level_id)
        if level_id:
            level_name = ix.levels[level_id].name
        else:
            level_name = "Outdoors" if building is None else ix.level_name(ordinal, building_id)
        where = [f"Building {building.short_name} ({building.name})"] if building else []
        place = f"grid {cell}" + (f" ({sub})" if sub else "")
        label = " · ".join([*where, level_name, name, place])
        nearby = self._nearby_fields(p, building_id, level_id, kind, feature_id)
        return Candidate(
            score=0.0, match=MatchKind.AMENITY, label=label, feature_id=feature_id,
            feature_type=feature_type, building_id=building_id,
            building_name=building.name if building else None, level_ordinal=ordinal,
            level_name=level_name, unit_number=None, unit_name=None, kind=kind,
            primary_cell=cell, subcell=sub, cells=(cell,) if cell else (), usng=to_usng(lon, lat),
            lon=lon, lat=lat, campus_id=ix.campus.id,
            flags=self._distance_flags(building_id, nearby), **nearby,
        )

    def _building_candidate(self, building_id: str, score: float) -> Candidate:
        base = self._memo_context(f"building:{building_id}",
                                  lambda: self._build_building_context(building_id))
        return _replace(base, score=score)

    def _build_building_context(self, building_id: str) -> Candidate:
        ix = self.index
        b = ix.buildings[building_id]
        shape = ix.footprints[building_id]
        p = grid.label_point(shape)
        lon, lat = ix.frame.lonlat(p.x, p.y)
        cell = ix.cell_of(p.x, p.y)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if cell else None
        mains = [o for o in ix.campus.exterior_doors(building_id) if o.main_entrance]
        main_nearby = [ix.nearby(o.id, f"Door {o.number}" if o.number else "Main entrance",
                                 o.number, p, o.level_id, o.building_id) for o in mains]
        others = [d for d in self._doors_near(p, building_id, None)
                  if d.feature_id not in {o.id for o in mains}]
        doors = tuple([*main_nearby, *others][:3])
        entrance = (f" · main entrance {main_nearby[0].name} (grid {main_nearby[0].cell})"
                    if main_nearby else "")
        knox = ix.nearest_amenity(AmenityKind.KNOX_BOX, p, building_id)
        knox_text = (f" · Knox box grid {knox.cell}"
                     if knox is not None and knox.building_id == building_id else "")
        label = (f"Building {b.short_name} ({b.name}){entrance}{knox_text}"
                 f" · grid {cell}" + (f" ({sub})" if sub else ""))
        spanned = tuple(c.label for c in grid.cells_spanned(ix.grid, shape))
        return Candidate(
            score=0.0, match=MatchKind.BUILDING, label=label, feature_id=building_id,
            feature_type="building", building_id=building_id, building_name=b.name,
            level_ordinal=None, level_name=None, unit_number=None, unit_name=None,
            kind="building", primary_cell=cell, subcell=sub, cells=spanned,
            usng=to_usng(lon, lat), lon=lon, lat=lat, nearest_doors=doors,
            nearest_knox_box=knox, nearest_aed=ix.nearest_amenity(AmenityKind.AED, p, building_id),
            nearest_trauma_kit=ix.nearest_amenity(AmenityKind.TRAUMA_KIT, p, building_id),
            campus_id=ix.campus.id,
        )

    def _grounds_candidate(self, g: GroundsFeature, score: float) -> Candidate:
        base = self._memo_context(f"grounds:{g.id}", lambda: self._build_grounds_context(g))
        return _replace(base, score=score)

    def _build_grounds_context(self, g: GroundsFeature) -> Candidate:
        ix = self.index
        shape = ix.frame.to_local(g.geometry)
        if isinstance(shape, Polygon) and shape.is_valid:
            p = grid.label_point(shape)
        elif shape.geom_type in ("LineString", "MultiLineString"):
            p = shape.interpolate(0.5, normalized=True)
        else:
            p = shape.representative_point()
        lon, lat = ix.frame.lonlat(p.x, p.y)
        cell = ix.cell_of(p.x, p.y)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if cell else None
        kind_name = g.kind.value.replace("_", " ")
        label = f"Outdoors · {g.name} ({kind_name})" + (
            f" · grid {cell}" + (f" ({sub})" if sub else "") if cell else " · outside the grid")
        try:
            spanned = tuple(c.label for c in grid.cells_spanned(ix.grid, shape))
        except (OutsideGrid, ValueError):
            spanned = (cell,) if cell else ()
        return Candidate(
            score=0.0, match=MatchKind.GROUNDS, label=label, feature_id=g.id,
            feature_type="grounds", building_id=None, building_name=None, level_ordinal=None,
            level_name="Outdoors", unit_number=None, unit_name=None, kind=g.kind.value,
            primary_cell=cell, subcell=sub, cells=spanned, usng=to_usng(lon, lat), lon=lon,
            lat=lat, campus_id=ix.campus.id, **self._nearby_fields(p, None, None),
        )

    def _point_candidate(self, lon: float, lat: float, match: MatchKind,
                         score: float) -> Candidate | None:
        ix = self.index
        x, y = ix.frame.xy(lon, lat)
        cell = ix.cell_of(x, y)
        if cell is None:
            return None
        sub = grid.subcell_at(ix.grid, x, y).label
        building = ix.building_at(x, y)
        units = ix.units_at(x, y)
        ground = [u for u in units if ix.levels[u.level_id].ordinal == 0]
        unit = (ground or units)[0] if units else None
        level = ix.levels[unit.level_id] if unit else None
        p = Point(x, y)
        where = []
        if building:
            where.append(f"Building {building.short_name} ({building.name})")
        for u in sorted(units, key=lambda u: ix.levels[u.level_id].ordinal):
            lv = ix.levels[u.level_id]
            where.append(f"{lv.name} · " + " ".join(
                s for s in (f"Room {u.number}" if u.number else "", u.name) if s))
        if not building:
            where.append("Outdoors")
        label = " · ".join([*where, f"grid {cell} ({sub})"])
        b_id = building.id if building else None
        level_id = unit.level_id if unit else None
        return Candidate(
            score=score, match=match, label=label, feature_id=unit.id if unit else None,
            feature_type="point", building_id=b_id,
            building_name=building.name if building else None,
            level_ordinal=level.ordinal if level else None,
            level_name=level.name if level else None,
            unit_number=(unit.number or None) if unit else None,
            unit_name=(unit.name or None) if unit else None, kind=None, primary_cell=cell,
            subcell=sub, cells=(cell,), usng=to_usng(lon, lat), lon=lon, lat=lat,
            campus_id=ix.campus.id, **self._nearby_fields(p, b_id, level_id),
        )


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
