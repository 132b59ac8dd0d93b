"""Readings of what is said by number: room numbers (as schools write them, with look-alike
characters), exterior doors, grid cells, USNG references and latitude/longitude pairs."""

from __future__ import annotations

import re

from rapidfuzz import fuzz, process

from gridmap import grid
from gridmap.errors import InvalidCellLabel, InvalidUSNG, OutsideGrid
from gridmap.lookup.answers import MatchKind
from gridmap.lookup.candidates import Candidates
from gridmap.lookup.lexicon import CampusLexicon
from gridmap.lookup.phrasing import (
    ALL_DOORS,
    CELL,
    DOOR,
    ENTRANCE_WORDS,
    MAIN_ENTRANCE,
    NUMBER_SHAPE,
    NUMBER_WORDS,
    ROOM,
    ZONELESS,
    has_digit,
    key,
    loose_number,
    name_parts,
    normalise_number,
    said_coordinates,
)
from gridmap.lookup.scores import EXACT, LOOSE_NUMBER_SCORE, Hits
from gridmap.model import Opening, Unit
from gridmap.usng import complete_usng, normalise_usng, parse_usng
from gridmap.vocabulary import INCIDENT_WORDS, lookalike_digits, restroom_gender


def is_number(text: str) -> bool:
    """``text`` is a room number, said with a room word or not ("rm 214", "1O4")."""
    m = ROOM.match(text)
    body = m.group(1) if m else text
    return NUMBER_SHAPE.match(body) is not None or lookalike_digits(body) is not None


class NumberedReadings:
    """Rooms, doors, cells and coordinates said by number, on one campus."""

    def __init__(self, lexicon: CampusLexicon, candidates: Candidates) -> None:
        self.lexicon = lexicon
        self.candidates = candidates
        self.index = lexicon.index
        self._unit_names: dict[str, tuple[str, ...]] = {}
        ext = grid.extent(self.index.grid)
        self._centre = self.index.frame.lonlat((ext.minx + ext.maxx) / 2,
                                               (ext.miny + ext.maxy) / 2)

    def coordinates(self, q: str, hits: Hits) -> None:
        if not has_digit(q):
            return  # every coordinate and USNG reference holds digits
        said = said_coordinates(q)
        if said is not None:
            # dispatch systems say "lat, lon"; GIS people write "lon, lat": try both unless
            # hemisphere letters or labels say which is which
            for lat, lon in said:
                if -90 <= lat <= 90 and -180 <= lon <= 180:
                    c = self.candidates.point(lon, lat, MatchKind.LONLAT, EXACT)
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
        c = self.candidates.point(lon, lat, MatchKind.USNG, EXACT)
        if c is not None:
            hits.others.append(c)

    def _usng_without_zone(self, q: str) -> str | None:
        """"GN 1046 3072", "1046 3072": a USNG reference said without its zone (or square),
        read in the zone and 100 km square of the campus, as responders do on a local map."""
        if not ZONELESS.match(q):
            return None
        return complete_usng(q, *self._centre)

    def cell(self, q: str, hits: Hits) -> None:
        m = CELL.match(q)
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
        hits.others.append(self.candidates.cell(label, b))

    def doors(self, q: str, building_id: str | None, hits: Hits) -> None:
        campus = self.index.campus
        doors: list[Opening]
        if MAIN_ENTRANCE.match(q) or (building_id is not None and q in ENTRANCE_WORDS):
            doors = [o for o in campus.exterior_doors(building_id) if o.main_entrance]
            hits.set_query, hits.set_kind = True, MatchKind.DOOR
        elif ALL_DOORS.match(q) and (building_id is not None or len(campus.buildings) == 1):
            doors = list(campus.exterior_doors(building_id))
            hits.set_query, hits.set_kind = True, MatchKind.DOOR
        elif m := DOOR.match(q):
            number = m.group(1).upper()
            doors = [o for o in campus.exterior_doors(building_id)
                     if o.number is not None and o.number.upper() == number]
        else:
            return
        for o in doors:
            hits.others.append(self.candidates.feature(
                o.id, MatchKind.DOOR, EXACT, "opening",
                (f"Door {o.number}" if o.number else "Exterior door (unnumbered)")
                + (" (main entrance)" if o.main_entrance else ""),
                o.building_id, o.level_id, None))

    def room_number(self, q: str, building_id: str | None, hits: Hits) -> None:
        m = ROOM.match(q)
        said_room = m is not None
        text = m.group(1) if m else q
        cell = CELL.match(q)
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

    def _number_hits(self, text: str, building_id: str | None, said_room: bool, hits: Hits,
                     penalty: float) -> None:
        shape = NUMBER_SHAPE.match(text)
        if not shape:
            return
        lex = self.lexicon
        pre = (shape.group("pre") or "").upper()
        digits, suf = shape.group("num"), (shape.group("suf") or "").upper()

        def add(u: Unit, score: float) -> None:
            if building_id is None or u.building_id == building_id:
                hits.add_unit(u.id, score - penalty, MatchKind.UNIT_NUMBER)

        number = normalise_number(text)
        exact = [u for u in lex.by_number.get(number, [])
                 if building_id is None or u.building_id == building_id]
        for u in exact:
            add(u, EXACT)
        loose = loose_number(text) or number
        if not exact:
            # leading zeros: "a15" for A015, "7" for 007; offered, not assumed ("B-12" may be
            # a room that is not on the plans, and "A1" is a grid cell)
            for u in lex.by_loose_number.get(loose, []):
                add(u, LOOSE_NUMBER_SCORE)
        # "214" when only 214A and 214B exist: a choice, never an answer
        if not suf:
            for _, units in lex.by_stem.get(loose, []):
                for u in units:
                    add(u, 82.0)
        else:
            # "214B" when only 214 exists: partial
            for u in lex.by_loose_number.get(loose[: -len(suf)], []):
                add(u, 75.0)
        if pre:
            # "B-214": building B's room 214 (its number written without the letter)
            b_id = lex.buildings_by_word.get(pre.lower())
            bare = str(int(digits)) + suf
            for u in lex.by_loose_number.get(bare, []):
                if b_id is not None and u.building_id == b_id:
                    add(u, 97.0)
                elif not exact:
                    # the prefix names no building of this room: a partial match at best
                    add(u, 70.0)
        else:
            # "12" for a room numbered "B-12": certain once the caller named building B
            bare = str(int(digits)) + suf
            for tailed, units in lex.by_tail.get(bare, []):
                if tailed != bare:
                    for u in units:
                        if building_id is None:
                            add(u, 85.0 if said_room else 80.0)
                        else:
                            prefixed = tailed.startswith(
                                self.index.buildings[building_id].short_name.upper())
                            add(u, 97.0 if prefixed else 85.0)

    def number_and_name(self, q: str, building_id: str | None, hits: Hits) -> None:
        """"room 214 science lab", "weight room B-12": a number with words around it is that
        room when the words agree with its name or building, a partial match when not."""
        lex = self.lexicon
        tokens = q.split()
        cell = CELL.match(q)
        if len(tokens) < 2 or (cell is not None and cell.group("said")):
            return
        for i, token in enumerate(tokens):
            if not has_digit(token):
                continue
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            if after.isalpha() and len(after) <= 3 and normalise_number(
                    token + after) in lex.by_number:
                token, tokens = token + after, tokens[:i + 1] + tokens[i + 2:]  # "E003 bis"
            # who is there ("student down in 104") is no word of the room's name
            rest = [w for w in tokens[:i] + tokens[i + 1:] if w not in NUMBER_WORDS
                    and w not in INCIDENT_WORDS and restroom_gender(w) is None]
            if len(rest) == 1 and len(rest[0]) == 1:
                return  # "B015 a": a number with its letter
            if not rest:  # "A114 classroom": the number, said with a room word
                self._number_hits(token, building_id, True, hits, 0.0)
                return
            found = Hits()
            self._number_hits(token, building_id, True, found, 0.0)
            said = key(" ".join(rest))
            for uid, (score, _, _) in found.units.items():
                if score < 95:
                    continue
                agree = process.extractOne(said, self._names_of(uid), scorer=fuzz.WRatio,
                                           score_cutoff=85) is not None
                hits.add_unit(uid, score if agree else 85.0, MatchKind.UNIT_NUMBER)
            return

    def _names_of(self, unit_id: str) -> tuple[str, ...]:
        """What a room may be called besides its number (three letters or more): its name
        and its building's words; kept per room."""
        names = self._unit_names.get(unit_id)
        if names is None:
            lex = self.lexicon
            u = lex.units[unit_id]
            said = [key(p) for p in name_parts(u.name)] + lex.words_of_building.get(
                u.building_id, [])
            names = self._unit_names[unit_id] = tuple(
                dict.fromkeys(n for n in said if len(n) > 2))
        return names
