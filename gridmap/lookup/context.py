"""The words around the thing asked for, read against what one campus knows: context to drop
("they're in 214"), possessives and German compounds to take apart ("gym's door 3",
"Lehrerparkplatz"), unknown modifiers to flag ("auxiliary gym"), and a building named
around something else ("door 4 gym")."""

from __future__ import annotations

import re

from gridmap.lookup.lexicon import CampusLexicon
from gridmap.lookup.phrasing import (
    ALL_DOORS,
    BUILDING,
    BUILDING_WORD,
    COMPOUND_PREFIXES,
    DOOR,
    DOOR_SAID,
    FILLER,
    IN_BUILDING,
    MAIN_ENTRANCE,
    MIN_COMPOUND_HEAD,
    POSSESSIVE,
    SMALL_WORDS_ABROAD,
    STOP_WORDS,
    has_digit,
    key,
    without_filler,
)
from gridmap.vocabulary import GROUNDS_WORDS, INCIDENT_WORDS, ROOM_WORDS

# a word the campus does not know (no name, kind or number word is this alike) is context
CONTEXT_WORD_CUTOFF = 80.0
_ALL = re.compile(r"^all\s+")


def _said_at_an_end(text: str, order: dict[str, int]) -> list[str]:
    """The words of ``order`` that ``text`` starts with (then a space) or ends with (after
    a space), in their order."""
    found = set()
    for i, ch in enumerate(text):
        if ch == " ":
            if text[:i] in order:
                found.add(text[:i])
            if text[i + 1:] in order:
                found.add(text[i + 1:])
    return sorted(found, key=order.__getitem__)


class ContextWords:
    """Reads the words of a query against one campus's lexicon."""

    def __init__(self, lexicon: CampusLexicon) -> None:
        self.lexicon = lexicon

    def without_possessive(self, q: str) -> str:
        """"gym's door 3" -> "gym door 3": the 's dropped where the word before it ends a
        building's name or alias, or a room's name standing for its building."""
        stems = self.lexicon.possessive_stems

        def plain(m: re.Match[str]) -> str:
            before = q[: m.start()].split(" ")
            for n in range(min(len(before), 3), 0, -1):
                if " ".join(before[-n:]) in stems:
                    return ""
            return m.group(0)
        return POSSESSIVE.sub(plain, q) if "'" in q else q

    def compounds_apart(self, q: str) -> str:
        """"lehrerparkplatz" -> "staff parkplatz": a word the campus does not know that ends
        in a grounds word is that word with a qualifier, the qualifier in the campus's words
        where it is a known one ("Lehrer" = staff)."""
        lex = self.lexicon
        out: list[str] = []
        for w in q.split(" "):
            out.append(w)
            if len(w) < MIN_COMPOUND_HEAD + 3 or not w.isalpha() or w in lex.vocabulary \
                    or w in GROUNDS_WORDS or w in lex.buildings_by_word:
                continue
            for head in lex.compound_heads:
                prefix = w[: -len(head)]
                if w.endswith(head) and len(prefix) >= 3:
                    said = COMPOUND_PREFIXES.get(prefix) or COMPOUND_PREFIXES.get(prefix[:-1])
                    out[-1] = f"{said or prefix} {head}"
                    break
        return " ".join(out)

    def without_context(self, text: str) -> str:
        """The query without words the campus does not know ("they're in 214" -> "214",
        "library by the windows" -> "library"); a typo of a known word stays."""
        kept: list[str] = []
        words = text.split()
        for i, w in enumerate(words):
            # "E003 bis", "B015 a": a short word after a number is its suffix
            suffix = bool(kept) and has_digit(kept[-1]) and len(w) <= 3
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
        return (has_digit(after) or before in ("building", "bldg", "wing", "block")
                or (w in self.lexicon.buildings_by_word and not before and not after)
                or w in self.lexicon.name_letters)

    def _known_word(self, word: str) -> bool:
        if has_digit(word) or len(word) == 1 or word == "#":
            return True
        lex = self.lexicon
        w = key(word)
        if not w or w in lex.vocabulary or w.rstrip("s") in lex.vocabulary:
            return True
        if len(w) < 3:
            return False
        if w in lex.vocabulary_starts:
            return True  # "chem", "admin": the start of a word the campus knows
        return lex.like_a_known_word(w, CONTEXT_WORD_CUTOFF)

    def modifiers_dropped(self, spoken: str, core_said: str | None = None) -> list[str]:
        """Unknown words said right next to a known word ("auxiliary gym", "main st");
        unknown words set apart by small words ("they're in 214", "by the windows") are
        context, not part of the name. ``core_said``: ``spoken`` without filler and context
        words, when the caller has it already."""
        words = spoken.split()
        if len(words) < 2:
            return []
        if core_said is None:
            core_said = self.without_context(without_filler(spoken))
        core = set(core_said.split())
        dropped = []
        for i, w in enumerate(words):
            if w in core or FILLER.fullmatch(w) or w in STOP_WORDS or w in INCIDENT_WORDS \
                    or w in SMALL_WORDS_ABROAD:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(words):
                    n = words[j]
                    if n in core and n.isalpha() and len(n) > 1 and not FILLER.fullmatch(n):
                        dropped.append(w)
                        break
        return dropped

    def readings(self, q: str) -> list[tuple[str | None, str]]:
        """(building, rest) readings of a query: as said, and with a named building taken
        out ("door 4 gym" -> (gym, "door 4"))."""
        exact_names = self.lexicon.exact_names
        readings: list[tuple[str | None, str]] = [(None, q)]
        main, _, rest = without_filler(q).partition(" ")
        if main == "main" and key(q) not in exact_names and (
                rest in ROOM_WORDS or key(rest) in exact_names):
            readings.append((None, rest))  # "main gym": the gym, "main" its adjective
        qualified = self._building_qualifier(q)
        if qualified is not None:
            readings.append(qualified)
        return readings

    def _building_qualifier(self, q: str) -> tuple[str, str] | None:
        """(building id, the rest) for "building B door 2", "door 2 in the gym", "gym door 4"
        or "door 4 gym"; None when no building is named around something else."""
        lex = self.lexicon
        m = BUILDING.search(q)
        if m and m.group(1) in lex.buildings_by_word:
            rest = (q[: m.start()] + " " + q[m.end():]).strip()
            return lex.buildings_by_word[m.group(1)], re.sub(r"\s+", " ", rest)
        m = IN_BUILDING.match(q)
        if m:
            said = BUILDING_WORD.sub("", m.group("building")).strip()
            if said in lex.buildings_by_word:
                return lex.buildings_by_word[said], m.group("rest")
        plain = without_filler(q)
        bare = BUILDING_WORD.sub("", plain).strip()
        if bare in lex.buildings_by_word:
            return lex.buildings_by_word[bare], ""
        plain = _ALL.sub("", plain)  # "all ecc doors"
        door_said = DOOR_SAID.search(plain) is not None
        for name in _said_at_an_end(plain, lex.room_building_order) if door_said else ():
            # "gym door 2", "the gym doors": a room's name standing for its building, for doors
            b_id = lex.room_buildings[name]
            for rest in (plain[len(name):].strip() if plain.startswith(name + " ") else "",
                         plain[: -len(name)].strip() if plain.endswith(" " + name) else ""):
                # a numbered door of the room's building; all the doors ("the gym doors")
                # only of a building that room mostly is
                if rest and (DOOR.match(rest) or (
                        (ALL_DOORS.match(rest) or MAIN_ENTRANCE.match(rest))
                        and name in lex.room_is_building)):
                    return b_id, rest
        for word in _said_at_an_end(plain, lex.building_phrase_order)[:1]:
            if plain.startswith(word + " "):
                rest = BUILDING_WORD.sub("", plain[len(word):].strip()).strip()
                return lex.buildings_by_word[word], rest
            if plain.endswith(" " + word):
                rest = BUILDING_WORD.sub("", plain[: -len(word)].strip()).strip()
                return lex.buildings_by_word[word], rest
        return None
