"""How dispatchers phrase a query, independent of any campus: the patterns of room numbers,
doors, grid cells, coordinates and nearest-to questions, the words wrapped around the thing
itself, and how names and numbers are compared."""

from __future__ import annotations

import functools
import re

from rapidfuzz import utils
from rapidfuzz.distance import Levenshtein

from gridmap.vocabulary import RESTROOM_WORDS, expand_abbreviations, fold, spoken_numbers

MAX_QUERY_LENGTH = 200

# words callers wrap around the thing itself ("near the gym", "outside door 2", "in room 214");
# not "a", which is also a building prefix ("a-214")
FILLER = re.compile(r"\b(?:the|at|in|by|near|next to|outside|inside|of|please|um|uh|on|to|"
                    r"its|it's|is|are|they're|theyre|he's|she's|we're|were|was|there|"
                    r"caller|says|said|located|somewhere|area|around)\b")
ROOM = re.compile(r"^(?:(?:room|rm|classroom|class|suite|office|number|no|nr|raum|zimmer|salle|"
                  r"sala|aula|lokaal)(?:\b|(?=\d))\.?|#)\s*"
                  r"(?:#|no\b\.?|number\b)?\s*(.+)$")
# room numbers as schools write them: 214, 214B, 7A, A-214, A015, E003bis, B015 a
NUMBER_SHAPE = re.compile(r"^(?P<pre>[a-z]{1,3})?\s*[-.]?\s*(?P<num>\d{1,5})\s*[-.]?\s*"
                          r"(?P<suf>[a-z]{1,3})?$")
# door words in the languages of the schools' plans (tür, porte, eingang ... folded)
_DOOR_WORD = (r"(?:door|dr\.?|entrance|entry|exit|gate|tur|tuer|porte|eingang|ausgang|entree|"
              r"sortie|puerta|deur|ingang)")
DOOR = re.compile(r"^(?:ext(?:erior)?\.?\s+|outside\s+)?" + _DOOR_WORD
                  + r"\s*(?:#|no\.?|nr\.?|number)?\s*(\d+[a-z]?)$")
NUMBERED_DOOR = re.compile(r"\b" + _DOOR_WORD + r"\s*(?:#|no\.?|nr\.?|number)?\s*\d")
DOOR_SAID = re.compile(r"\b(?:" + _DOOR_WORD + r"|doors|exits|entrances)\b")
# "entrance to the gym", "ECC entrance": a building's way in is its main entrance
ENTRANCE_WORDS = frozenset({"entrance", "entry", "way in", "front door", "front entrance",
                            "main door", "eingang", "entree"})
ALL_DOORS = re.compile(r"^(?:all\s+)?(?:(?:ext(?:erior)?|outside)\s+)?"
                       r"(?:doors|exits|entrances|entries|ways in)$")
MAIN_ENTRANCE = re.compile(r"^(?:(?:main|front)\s+(?:entrance|entry|door|doors|entrances)|"
                           r"haupteingang|entree principale|porte principale|"
                           r"entrada principal)$")
BUILDING = re.compile(r"(?:^|\s)(?:building|bldg\.?|bld|block|wing)\s+([\w-]+)(?:\s|$)")
BUILDING_WORD = re.compile(r"^(?:building|bldg\.?|bld)\s+|\s+(?:building|bldg\.?|bld)$")
# "<thing> in the gym", "door 2 at the main building": a building named after a preposition
IN_BUILDING = re.compile(r"^(?P<rest>.+?)\s+(?:in|at|inside|outside|by|near|of|on|to|for)\s+"
                         r"(?:the\s+)?(?P<building>.+)$")
# "<kind> near <place>": the nearest points of a kind (or exterior doors) to a place
NEAR = (
    re.compile(r"^(?:the\s+)?(?:nearest|closest)\s+(?P<what>.+?)\s+(?:to|from)\s+(?:the\s+)?"
               r"(?P<place>.+)$"),
    re.compile(r"^(?:the\s+)?(?P<what>.+?)\s+(?:near(?:est)?(?:\s+to)?|next\s+to|close\s+to|"
               r"closest\s+to|by)\s+(?:the\s+)?(?P<place>.+)$"),
)
# "nearest exit rm 108" (no "to"), "Notausgang A114", "emergency exit 214"
NEAR_BARE = re.compile(r"^(?:the\s+)?(?:(?:nearest|closest)\s+|(?=(?:notausgang|emergency exit|"
                       r"fire exit|sortie de secours|issue de secours)\s))(?P<rest>.+)$")
# "fire in the kitchen": what happens, then the place after the last "in"/"at"
PLACE_AFTER_CONTEXT = re.compile(r"^(?P<said>.+)\s+(?:in|at|inside|on)\s+(?:the\s+)?"
                                 r"(?P<place>.+)$")
DOOR_WORDS = frozenset({"door", "doors", "exit", "exits", "exterior door", "exterior doors",
                        "entrance", "way in", "way out", "entry", "notausgang", "ausgang",
                        "emergency exit", "fire exit", "sortie de secours",
                        "issue de secours", "sortie"})
CELL = re.compile(r"^(?P<said>(?:grid|cell|grid cell|map grid|grid square|raster|planquadrat|"
                  r"quadrat|rasterfeld|grille|case|carreau|cellule)\s+)?([a-z]{1,2})\s*(\d{1,3})"
                  r"(?:\s*-\s*([1-9])|\s+([1-9]))?$")
ZONELESS = re.compile(r"^(?:[a-z]{2}\s*)?\d{1,5}[\s-]*\d{1,5}$")
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
STOP_WORDS = frozenset({"the", "a", "an", "of", "and", "de", "la", "le", "du", "des"})
# German and French small words around a place ("Brand in der Mensa", "feu dans la
# cantine"): context, never a modifier of the place's name
SMALL_WORDS_ABROAD = frozenset({"der", "die", "das", "dem", "den", "im", "am", "beim", "zum",
                                "zur", "vom", "ist", "dans", "au", "aux", "les", "est", "sur"})
# "the gym's door 3": a possessive 's on a building or a room standing for one
POSSESSIVE = re.compile(r"(?<=[a-z0-9])'s\b")
# prefixes of German compound place words ("Lehrerparkplatz"), in the words campuses use
COMPOUND_PREFIXES: dict[str, str] = {
    "lehrer": "staff", "lehrerinnen": "staff", "personal": "staff", "mitarbeiter": "staff",
    "schuler": "student", "schueler": "student", "besucher": "visitor", "gaste": "visitor",
    "bus": "bus", "eltern": "parent", "kinder": "children", "sport": "sports",
}
MIN_COMPOUND_HEAD = 5  # "parkplatz", "field": a place word long enough to end a compound
# room words that say what kind of room ("lab" is not an "office"); "room" says nothing
ROOM_KINDS = frozenset({"office", "lab", "class", "station", "stand", "desk", "booth",
                        "center", "centre"})
BUILDING_KIND_WORDS = frozenset({"building", "block", "wing", "bldg", "hall", "center", "centre"})
GENERIC_WORDS = frozenset({"room", "office", "area", "space", "center", "centre", "the",
                           "stand", "station", "desk", "booth", "lab", "class"})
HALLWAY_WORDS = frozenset({"hall", "hallway", "halls", "hallways", "corridor", "corridors",
                           "hall way", "flur", "couloir", "gang", "main hallway"})
# words said with a room number that are no part of the room's name ("room", "no", "#")
NUMBER_WORDS = frozenset({"room", "rm", "classroom", "number", "no", "#", "suite", "nr", "raum",
                          "zimmer", "salle", "sala", "aula", "lokaal"})
_SPLIT_NAME = re.compile(r"\s+/\s+|\s*;\s*|\n")
# words that are part of how things are asked for, never context to drop
QUERY_WORDS = frozenset({
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
# how a question starts ("where's the nearest AED to the gym", "can you find room 214")
_QUESTION = re.compile(r"^(?:(?:can|could)\s+you\s+)?(?:where(?:'s|s| is| are| was)?|"
                       r"what(?:'s| is)|find|show(?:\s+me)?|locate|get\s+me|i\s+need|"
                       r"we\s+need|need|"
                       r"how\s+do\s+(?:i|we)\s+get\s+to|go\s+to|send\s+(?:them|units?)\s+to)"
                       r"\s+")
_QUOTES = re.compile(r"^[\"'(\[]+|[\"')\]]+$")
_END_PUNCTUATION = re.compile(r"[?!.,;:]+$")
_WORD_PUNCTUATION = re.compile(r"(?<=\w)[,;:!?](?=\s|$)")
_SPACES = re.compile(r"\s+")
_NUMBER_PUNCTUATION = re.compile(r"[\s.\-_/]")


def normalise_number(text: str) -> str:
    """Room numbers compare without case, spaces, dots or dashes: ``b-12`` == ``B12``."""
    return _NUMBER_PUNCTUATION.sub("", text).upper()


def loose_number(text: str) -> str | None:
    """A room number without leading zeros in its digits: ``A015`` -> ``A15``; None when the
    text is not shaped like a room number."""
    m = NUMBER_SHAPE.match(text.strip().lower())
    if not m:
        return None
    return ((m.group("pre") or "") + str(int(m.group("num"))) + (m.group("suf") or "")).upper()


def clean(query: str) -> str:
    """The query as the lookup reads it: folded, quotes and end punctuation gone, "where is"
    dropped, spoken numbers as digits and abbreviations spelled out."""
    q = fold(query.strip())
    q = q.replace("’", "'").replace("`", "'")
    q = _QUOTES.sub("", q)
    q = _END_PUNCTUATION.sub("", q)
    q = _WORD_PUNCTUATION.sub("", q)
    q = _SPACES.sub(" ", q).strip()
    q = _QUESTION.sub("", q) or q
    return expand_abbreviations(spoken_numbers(q))


def _dms(m: re.Match[str], i: int) -> tuple[float, str]:
    """Degrees from degrees/minutes/seconds groups ``d{i}``, ``m{i}``, ``s{i}``, ``h{i}``."""
    value = float(m.group(f"d{i}")) + float(m.group(f"m{i}") or 0) / 60 + float(
        m.group(f"s{i}") or 0) / 3600
    hemi = m.group(f"h{i}")
    return (-value if hemi in ("s", "w") else value), hemi


def said_coordinates(q: str) -> list[tuple[float, float]] | None:
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


def without_filler(q: str) -> str:
    """The query without the small words wrapped around the thing ("near the gym" -> "gym")."""
    stripped = _SPACES.sub(" ", FILLER.sub(" ", q)).strip()
    return stripped or q


def name_parts(name: str) -> list[str]:
    """A name and its parts: "Secrétariat / Main Office" -> itself, "Secrétariat", "Main
    Office"; "Trauma Kit - Main Office" stays whole."""
    parts = [name.strip()]
    pieces = [p.strip() for p in _SPLIT_NAME.split(name) if p.strip()]
    if len(pieces) > 1:
        parts += pieces
    return [p for p in dict.fromkeys(parts) if p]


@functools.lru_cache(maxsize=1 << 16)
def key(text: str) -> str:
    """How names compare: folded (no case, no accents), punctuation as spaces. Memoised: the
    engine compares the same few hundred names hundreds of thousands of times while it is
    built, which was most of a CLI lookup's time."""
    return utils.default_process(fold(text).replace("'", ""))


def has_digit(text: str) -> bool:
    """``text`` holds a digit (a number, a cell, a coordinate)."""
    return any(map(str.isdigit, text))


def letters_in(text: str) -> int:
    """How many letters ``text`` holds."""
    return sum(map(str.isalpha, text))


def stem(word: str) -> str:
    """Plural and possessive said alike: "nurses" ~ "nurse", "concessions" ~ "concession"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def alike(said: str, word: str) -> bool:
    """``said`` is a typo of ``word`` or shares its stem."""
    edits = 1 if len(said) <= 5 else 2
    if Levenshtein.distance(said, word, score_cutoff=edits) <= edits:
        return True
    shared = 0
    for a, b in zip(said, word, strict=False):
        if a != b:
            break
        shared += 1
    return shared >= 6 and shared >= 0.7 * min(len(said), len(word))
