"""Words people use for the things on a campus, shared by importers and the lookup.

Facilities spreadsheets and callers say "Knox", "defib" or "stop the bleed kit"; every reader of
such words maps them through :data:`AMENITY_WORDS` so a POI file and a dispatcher agree.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from gridmap.model import AmenityKind, GroundsKind

AMENITY_WORDS: dict[str, AmenityKind] = {
    "knox box": AmenityKind.KNOX_BOX, "knox": AmenityKind.KNOX_BOX,
    "key box": AmenityKind.KNOX_BOX, "lock box": AmenityKind.KNOX_BOX,
    "lockbox": AmenityKind.KNOX_BOX, "knoxbox": AmenityKind.KNOX_BOX,
    "aed": AmenityKind.AED, "defibrillator": AmenityKind.AED, "defib": AmenityKind.AED,
    "trauma kit": AmenityKind.TRAUMA_KIT, "bleed kit": AmenityKind.TRAUMA_KIT,
    "stop the bleed kit": AmenityKind.TRAUMA_KIT, "stop the bleed": AmenityKind.TRAUMA_KIT,
    "trauma bag": AmenityKind.TRAUMA_KIT,
    "gas shutoff": AmenityKind.GAS_SHUTOFF, "gas shut off": AmenityKind.GAS_SHUTOFF,
    "gas valve": AmenityKind.GAS_SHUTOFF, "gas meter": AmenityKind.GAS_SHUTOFF,
    "water shutoff": AmenityKind.WATER_SHUTOFF, "water shut off": AmenityKind.WATER_SHUTOFF,
    "water valve": AmenityKind.WATER_SHUTOFF, "water main": AmenityKind.WATER_SHUTOFF,
    "electric shutoff": AmenityKind.ELECTRIC_SHUTOFF,
    "electrical shutoff": AmenityKind.ELECTRIC_SHUTOFF,
    "power shutoff": AmenityKind.ELECTRIC_SHUTOFF, "main breaker": AmenityKind.ELECTRIC_SHUTOFF,
    "electrical panel": AmenityKind.ELECTRIC_SHUTOFF,
    "fire alarm panel": AmenityKind.FIRE_ALARM_PANEL, "facp": AmenityKind.FIRE_ALARM_PANEL,
    "fire panel": AmenityKind.FIRE_ALARM_PANEL, "alarm panel": AmenityKind.FIRE_ALARM_PANEL,
    "access control panel": AmenityKind.ACCESS_CONTROL_PANEL,
    "stairwell": AmenityKind.STAIRWELL, "stairs": AmenityKind.STAIRWELL,
    "staircase": AmenityKind.STAIRWELL, "elevator": AmenityKind.ELEVATOR,
    "lift": AmenityKind.ELEVATOR,
    "rally point": AmenityKind.RALLY_POINT, "assembly point": AmenityKind.RALLY_POINT,
    "reunification site": AmenityKind.RALLY_POINT, "staging area": AmenityKind.STAGING_AREA,
    "staging": AmenityKind.STAGING_AREA,
    "command post": AmenityKind.STAGING_AREA, "hazard": AmenityKind.HAZARD,
    "first aid": AmenityKind.FIRST_AID,
}
# kind words are plural in speech too: "knox boxes", "aeds"
AMENITY_WORDS.update({w + ("es" if w.endswith("x") else "s"): k
                       for w, k in list(AMENITY_WORDS.items())})


# What rooms are called in speech, mapped to the names drawings give them
ROOM_WORDS: dict[str, tuple[str, ...]] = {
    "gym": ("gymnasium", "sporthalle", "gymnase", "turnhalle"),
    "cafe": ("cafeteria", "canteen", "mensa", "cantine"),
    "caf": ("cafeteria", "canteen", "mensa"),
    "cafeteria": ("canteen", "mensa", "cantine", "dining hall", "lunchroom"),
    "canteen": ("cafeteria", "mensa", "cantine"), "kantine": ("canteen", "mensa", "cafeteria"),
    "cantine": ("canteen", "mensa", "cafeteria"), "dining hall": ("cafeteria", "canteen"),
    "lunchroom": ("cafeteria", "canteen", "mensa"), "lunch room": ("cafeteria", "canteen"),
    "lib": ("library", "media center"), "media center": ("library",),
    "lmc": ("library", "media center"), "aud": ("auditorium",),
    "nurse": ("nurse", "health office", "health room", "clinic", "infirmary", "infirmerie"),
    "nurses office": ("nurse", "health office", "health room", "clinic", "infirmary",
                      "infirmerie"),
    "nurse office": ("nurse", "health office", "health room", "clinic", "infirmary"),
    "health office": ("nurse", "health room", "clinic"), "clinic": ("nurse", "health office"),
    "infirmary": ("nurse", "infirmerie", "health office"),
    "corridor": ("hallway", "flur", "couloir", "gang", "corridor"),
    "hallway": ("corridor", "flur", "couloir", "hall"),
    "kitchen": ("kitchen", "kuche", "cuisine"), "gymnasium": ("gym", "sporthalle", "gymnase"),
    "elevator": ("lift", "aufzug", "ascenseur"), "lift": ("elevator", "aufzug", "ascenseur"),
    "bus stop": ("bus loop", "bus lane", "bus bay"), "bus bay": ("bus loop", "bus lane"),
    "bus lane": ("bus loop", "bus bay"), "drop off": ("drop-off loop", "drop off loop"),
    "car park": ("parking lot", "parking"), "parking lot": ("car park",),
    "office": ("main office",), "front office": ("main office",),
    "band room": ("band",), "choir room": ("choir",),
    "locker room": ("changing room", "vestiaire"), "changing room": ("locker room",),
    "changing rooms": ("locker room",), "locker rooms": ("locker room",),
    "bathroom": ("restroom", "toilet"), "toilet": ("restroom",), "washroom": ("restroom",),
}


def room_name_variants(text: str) -> tuple[str, ...]:
    """``text`` and what it stands for in drawings: ``"gym"`` -> ``("gym", "gymnasium")``;
    a room word inside a longer phrase is swapped too: ``"girls changing room"`` ->
    ``"girls locker room"``."""
    key = _SPACES.sub(" ", text.strip().lower().replace("'", ""))
    variants = [key, *ROOM_WORDS.get(key, ())]
    for word, pattern in _PHRASE_WORDS:
        # the plain substring test first: most queries hold none of these words
        if word != key and word in key and pattern.search(key):
            variants += [pattern.sub(other, key) for other in ROOM_WORDS[word]]
    return tuple(dict.fromkeys(variants))


_SPACES = re.compile(r"\s+")
#: room words swapped inside longer phrases (only multi-word ones: "changing room"), each with
#: its pattern as a whole word
_PHRASE_WORDS = tuple((w, re.compile(rf"\b{re.escape(w)}\b")) for w in ROOM_WORDS if " " in w)


def amenity_kind(word: str) -> AmenityKind | None:
    """The kind a word names (``"Knox"``, ``"gas_shutoff"``, ``"AED"``), or None."""
    key = re.sub(r"[\s_\-]+", " ", word.strip().lower())
    if key in AMENITY_WORDS:
        return AMENITY_WORDS[key]
    try:
        return AmenityKind(key.replace(" ", "_"))
    except ValueError:
        return None


# --- grounds ---------------------------------------------------------------------------------

#: what callers call grounds features, by kind (a grounds feature is also found by its name)
GROUNDS_WORDS: dict[str, GroundsKind] = {
    "parking lot": GroundsKind.PARKING, "parking": GroundsKind.PARKING,
    "lot": GroundsKind.PARKING, "car park": GroundsKind.PARKING,
    "parking area": GroundsKind.PARKING, "parking garage": GroundsKind.PARKING,
    "field": GroundsKind.ATHLETIC_FIELD, "athletic field": GroundsKind.ATHLETIC_FIELD,
    "sports field": GroundsKind.ATHLETIC_FIELD, "ball field": GroundsKind.ATHLETIC_FIELD,
    "football field": GroundsKind.ATHLETIC_FIELD, "soccer field": GroundsKind.ATHLETIC_FIELD,
    "baseball field": GroundsKind.ATHLETIC_FIELD, "track": GroundsKind.ATHLETIC_FIELD,
    "pitch": GroundsKind.ATHLETIC_FIELD, "football pitch": GroundsKind.ATHLETIC_FIELD,
    "soccer pitch": GroundsKind.ATHLETIC_FIELD, "sports ground": GroundsKind.ATHLETIC_FIELD,
    "playground": GroundsKind.PLAYGROUND, "play area": GroundsKind.PLAYGROUND,
    "playfield": GroundsKind.PLAYGROUND,
    "road": GroundsKind.ROAD, "street": GroundsKind.ROAD, "drive": GroundsKind.ROAD,
    "driveway": GroundsKind.ROAD,
    "parkplatz": GroundsKind.PARKING, "parkhaus": GroundsKind.PARKING,
    "pausenhof": GroundsKind.PLAYGROUND, "schulhof": GroundsKind.PLAYGROUND,
    "spielplatz": GroundsKind.PLAYGROUND, "cour": GroundsKind.PLAYGROUND,
    "sportplatz": GroundsKind.ATHLETIC_FIELD, "terrain de sport": GroundsKind.ATHLETIC_FIELD,
}
GROUNDS_WORDS.update({w + "s": k for w, k in list(GROUNDS_WORDS.items()) if not w.endswith("s")})


# --- restrooms -------------------------------------------------------------------------------

#: words naming a restroom, in drawings and in speech
RESTROOM_WORDS = frozenset({
    "restroom", "restrooms", "bathroom", "bathrooms", "toilet", "toilets", "washroom",
    "washrooms", "wc", "lavatory", "lavatories", "lav", "loo", "toilettes", "toilette",
    "wcs", "ladies room", "mens room", "men's room", "womens room", "women's room",
})
_RESTROOM_RE = re.compile(
    r"\b(?:" + "|".join(sorted((re.escape(w) for w in RESTROOM_WORDS), key=len, reverse=True))
    + r")\b")
#: gender words -> the IMDF unit category suffix (restroom.male, restroom.female, ...)
_GENDER_WORDS: tuple[tuple[str, str], ...] = (
    (r"boys?'?|men'?s?|male|gents?|gentlemen|garcons|garçons|herren|jungen|knaben", "male"),
    (r"girls?'?|women'?s?|ladies|lady|female|filles|damen|madchen|mädchen", "female"),
    (r"staff|faculty|teachers?'?|employees?|adults?|professeurs", "staff"),
    (r"unisex|family|all[- ]gender|gender[- ]neutral|single[- ]user|accessible|ada", "unisex"),
    (r"children'?s?|kids'?|student'?s?", "children"),
)
_GENDER_RES = tuple((re.compile(rf"\b(?:{words})(?=\s|$|[^a-z])"), gender)
                    for words, gender in _GENDER_WORDS)


def is_restroom_phrase(text: str) -> bool:
    """``"boys bathroom"``, ``"staff wc"``, ``"Toilettes Filles"``: names a restroom."""
    return _RESTROOM_RE.search(fold(text)) is not None


def restroom_gender(text: str) -> str | None:
    """The gender a restroom phrase or name says (male, female, staff, unisex, children)."""
    folded = fold(text)
    if "ladies room" in folded:
        return "female"
    for pattern, gender in _GENDER_RES:
        if pattern.search(folded):
            return gender
    return None


def category_gender(category: str) -> str | None:
    """Gender from an IMDF unit category: ``restroom.female`` -> ``female``."""
    head, _, tail = category.lower().partition(".")
    if head != "restroom" or not tail:
        return None
    return {"male": "male", "female": "female", "unisex": "unisex", "family": "unisex",
            "transgender": "unisex", "wheelchair": "unisex"}.get(tail.split(".")[0])


# --- text --------------------------------------------------------------------------------------

def fold(text: str) -> str:
    """Lower case without accents: ``"Bibliothèque"`` -> ``"bibliotheque"``."""
    if text.isascii():
        return text.lower()  # nothing to decompose, and ASCII case folds to lower case
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


# --- spoken numbers ----------------------------------------------------------------------------

_DIGIT_WORDS = {"zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4,
                "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEEN_WORDS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
               "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
               "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORDS = frozenset({*_DIGIT_WORDS, *_TEEN_WORDS, *_TENS_WORDS, "hundred", "double"})
#: a single number word counts as a number only after one of these ("room twelve", "door four")
_NUMBERED_THINGS = frozenset({"room", "rm", "door", "exit", "entrance", "stair", "stairs",
                              "stairwell", "number", "no", "suite", "classroom", "gate",
                              "floor", "level", "portable", "lab", "wing", "building", "#"})


def _spoken_run(words: list[str]) -> str | None:
    """Digits for a run of number words: "two fourteen" -> "214", "one oh four" -> "104"."""
    out = ""
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w == "double" and nxt in _DIGIT_WORDS:
            out += str(_DIGIT_WORDS[nxt]) * 2
            i += 2
        elif w in _DIGIT_WORDS and nxt == "hundred":
            rest = 0
            j = i + 2
            if j < len(words) and words[j] == "and":
                j += 1
            if j < len(words) and words[j] in _TEEN_WORDS:
                rest = _TEEN_WORDS[words[j]]
                j += 1
            elif j < len(words) and words[j] in _TENS_WORDS:
                rest = _TENS_WORDS[words[j]]
                j += 1
                if j < len(words) and words[j] in _DIGIT_WORDS and words[j] not in ("oh", "o"):
                    rest += _DIGIT_WORDS[words[j]]
                    j += 1
            elif j < len(words) and words[j] in _DIGIT_WORDS and words[j] not in ("oh", "o"):
                rest = _DIGIT_WORDS[words[j]]
                j += 1
            out += str(_DIGIT_WORDS[w] * 100 + rest)
            i = j
        elif w in _TEEN_WORDS:
            out += str(_TEEN_WORDS[w])
            i += 1
        elif w in _TENS_WORDS:
            value = _TENS_WORDS[w]
            if nxt in _DIGIT_WORDS and nxt not in ("oh", "o", "zero"):
                value += _DIGIT_WORDS[nxt]
                i += 1
            out += str(value)
            i += 1
        elif w in _DIGIT_WORDS:
            out += str(_DIGIT_WORDS[w])
            i += 1
        else:
            return None
    return out or None


#: what is happening, said with where ("room 214 is on fire", "shooter in the gym"): never
#: part of the place's name, and no reason to doubt the place
INCIDENT_WORDS = frozenset({
    "fire", "smoke", "smoking", "flames", "burning", "gas leak", "leak", "flood", "flooding",
    "gun", "guns", "shooter", "shooting", "shots", "shot", "weapon", "knife", "armed", "fight",
    "fighting", "assault", "intruder", "suspect", "threat", "bomb", "lockdown", "injured",
    "injury", "hurt", "bleeding", "unconscious", "unresponsive", "seizure", "fell", "fall",
    "collapsed", "medical", "emergency", "overdose", "allergic", "reaction", "breathing",
    "cardiac", "arrest", "help", "person", "man", "woman", "patient", "victim", "someone",
    "somebody", "down",
    # German and French, folded ("Brand in der Mensa", "feu dans la cantine", "blessé")
    "brand", "feuer", "rauch", "verletzt", "verletzte", "verletzter", "bewusstlos", "notfall",
    "waffe", "schusse", "schuss", "messer", "angriff", "einbrecher", "blutet", "sturz",
    "feu", "incendie", "fumee", "blesse", "blessee", "blesses", "blessure", "inconscient",
    "inconsciente", "malaise", "urgence", "couteau", "tireur", "intrus", "agression", "bagarre",
})  # not "boy", "girl", "kids", "student": they say whose restroom


#: short forms typed on a call, read as the word they stand for
ABBREVIATIONS: dict[str, str] = {
    "ed": "education", "sped": "special education", "pe": "physical education",
    "phys": "physical", "admin": "administration", "st": "street", "rd": "road",
    "ave": "avenue", "bldg": "building", "caf": "cafeteria", "lib": "library",
    "hs": "high school", "ms": "middle school", "es": "elementary school",
}


def expand_abbreviations(text: str) -> str:
    """``"special ed"`` -> ``"special education"``; digits said one by one are one number:
    ``"room 1 0 4"`` -> ``"room 104"``."""
    out: list[str] = []
    joined = False  # the last word is single digits run together
    for w in text.split(" "):
        single = len(w) == 1 and w.isdigit()
        if single and out and (joined or (len(out[-1]) == 1 and out[-1].isdigit())):
            out[-1] += w
            joined = True
        else:
            out.append(ABBREVIATIONS.get(w, w))
            joined = False
    return " ".join(out)


def _hyphens_apart(word: str) -> str:
    """``"two-fourteen"`` -> ``"two fourteen"``: only when every part is a number word."""
    parts = word.split("-")
    if len(parts) > 1 and all(p in _NUMBER_WORDS for p in parts):
        return " ".join(parts)
    return word


def spoken_numbers(text: str) -> str:
    """Number words to digits where they are a number: ``"room two fourteen"`` -> ``"room 214"``.

    A run of two or more number words is a number ("one oh four"); a single word only after a
    word that is numbered ("room twelve", "door four"), so "the one by the gym" stays as said.
    """
    if _NUMBER_WORDS.isdisjoint(text.replace("-", " ").split(" ")):
        return text  # no number word: nothing to read
    # "two-fourteen", "twenty-one": number words joined by hyphens are said apart
    words = " ".join(_hyphens_apart(w) for w in text.split(" ")).split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and (words[j] in _NUMBER_WORDS
                                  or (words[j] == "and" and j > i and j + 1 < len(words)
                                      and words[j - 1] == "hundred")):
            j += 1
        run = words[i:j]
        # "o" alone is the letter, and "oh" may be an exclamation: a run must hold a real one
        real = [w for w in run if w not in ("o", "oh", "and", "double")]
        # "room twelve", "door four", "b twelve" (a wing letter)
        after_thing = bool(out) and (out[-1] in _NUMBERED_THINGS
                                     or (len(out[-1]) == 1 and out[-1].isalpha()
                                         and out[-1] not in ("a", "o", "i")))
        digits = _spoken_run(run) if run and real and (len(run) >= 2 or after_thing) else None
        if digits is not None:
            out.append(digits)
            i = j
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


# --- look-alike characters ---------------------------------------------------------------------

_LOOKALIKE = str.maketrans({"o": "0", "O": "0", "l": "1", "I": "1", "i": "1", "|": "1"})
_LOOKALIKE_TOKEN = re.compile(r"([a-z]{0,3}?[-\s]?)([0-9oOlIi|]*\d[0-9oOlIi|]*)([a-z]{0,3})",
                              re.IGNORECASE)


def lookalike_digits(token: str) -> str | None:
    """``"1O4"`` -> ``"104"``, ``"2l4"`` -> ``"214"``: letters that look like digits, between
    or beside digits, read as the digits; None when the token has none to read."""
    m = _LOOKALIKE_TOKEN.fullmatch(token)
    if not m:
        return None
    core = m.group(2)
    fixed = core.translate(_LOOKALIKE)
    if fixed == core:
        return None
    return m.group(1) + fixed + m.group(3)


# --- floors ------------------------------------------------------------------------------------

_ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
                  "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6,
                  "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}


@dataclass(frozen=True, slots=True)
class FloorSaid:
    """A floor a caller named: ``number`` as said ("2nd floor" -> 2), or a relation."""

    text: str
    number: int | None = None
    #: "ground", "basement", "upstairs", "downstairs", "top"
    relation: str | None = None


_FLOOR_NUM = r"(?P<num>\d{1,2}(?:st|nd|rd|th)?|first|second|third|fourth|fifth|sixth)"
_FLOOR_PATTERNS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(rf"\b(?:on\s+)?(?:the\s+)?{_FLOOR_NUM}\s+(?:floor|fl|flr|level|storey|story)\b"),
     None),
    (re.compile(r"\b(?:on\s+)?(?:the\s+)?(?:floor|fl|flr|level|lvl|storey)\s*"
                r"(?P<num>\d{1,2}|one|two|three|four|five)\b"), None),
    (re.compile(r"\b(?P<num>\d{1,2})(?:er|e|eme|re)?\s+etage\b"), None),
    (re.compile(r"\b(?P<num>\d{1,2})\.?\s*(?:og|obergeschoss|stock)\b"), None),
    (re.compile(r"\b(?:on\s+)?(?:the\s+)?(?:ground|main|street)\s+(?:floor|level)\b"), "ground"),
    (re.compile(r"\b(?:erdgeschoss|rez[- ]de[- ]chaussee|eg|rdc)\b"), "ground"),
    (re.compile(r"\b(?:im\s+|in\s+the\s+)?(?:untergeschoss|sous[- ]sol|ug|keller|kellergeschoss|"
                r"au\s+sous[- ]sol)\b"), "basement"),
    (re.compile(r"\b(?:in\s+|on\s+)?(?:the\s+)?(?:basement|cellar|lower\s+level|"
                r"below\s+ground)\b"), "basement"),
    (re.compile(r"\b(?:on\s+)?(?:the\s+)?(?:top|upper)\s+(?:floor|level)\b"), "top"),
    (re.compile(r"\bupstairs\b"), "upstairs"),
    (re.compile(r"\b(?:og|obergeschoss|etage)\b"), "upstairs"),
    (re.compile(r"\bdownstairs\b"), "downstairs"),
)


#: any of the floor patterns, in one search
_ANY_FLOOR = re.compile("|".join(f"(?:{p.pattern.replace('(?P<num>', '(?:')})"
                                 for p, _ in _FLOOR_PATTERNS))


def floor_said(text: str) -> tuple[FloorSaid | None, str]:
    """The floor named in ``text`` and the text without it: ``"214 upstairs"`` ->
    (upstairs, ``"214"``); (None, text) when no floor is named."""
    text = fold(text)
    if _ANY_FLOOR.search(text) is None:
        return None, text  # no floor word at all: most queries
    for pattern, relation in _FLOOR_PATTERNS:
        m = pattern.search(text)
        if not m:
            continue
        rest = re.sub(r"\s+", " ", text[: m.start()] + " " + text[m.end():]).strip()
        number = None
        if relation is None:
            word = m.group("num")
            number = _ORDINAL_WORDS.get(word)
            if number is None:
                number = int(re.sub(r"\D", "", word))
        return FloorSaid(m.group(0).strip(), number, relation), rest
    return None, text


def level_numbers(name: str) -> set[int]:
    """Floor numbers a level's name says: "2nd Floor" -> {2}, "1. Obergeschoss / 1er étage"
    -> {1}; ground-floor names say none."""
    found = {int(n) for n in
             re.findall(r"(?<![\d.])(\d{1,2})(?:st|nd|rd|th|er|e|\.|\b)", fold(name))}
    for word, n in _ORDINAL_WORDS.items():
        if not word[0].isdigit() and re.search(rf"\b{word}\b", fold(name)):
            found.add(n)
    return found
