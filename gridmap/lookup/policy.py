"""What the hits come to: one place said several ways is one answer, ranked in reading order;
``found`` means one answer (or the set asked for), ``ambiguous`` a choice to confirm, and
``not_found`` carries suggestions similar to what was asked, never a guess."""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry

from gridmap.lookup.answers import (
    FLAG_ALSO_CELL,
    FLAG_ALSO_ROOM,
    FLAG_GENDER_UNKNOWN,
    Candidate,
    LookupResult,
    MatchKind,
    Status,
    replace,
)
from gridmap.lookup.candidates import Candidates
from gridmap.lookup.lexicon import CampusLexicon
from gridmap.lookup.phrasing import QUERY_WORDS, clean, key
from gridmap.lookup.scores import ALTERNATIVE_SCORE, FOUND_THRESHOLD, Hits


class ResultPolicy:
    """Turns one campus's hits into a ranked, judged answer."""

    def __init__(self, lexicon: CampusLexicon, candidates: Candidates) -> None:
        self.lexicon = lexicon
        self.candidates = candidates
        self.index = lexicon.index
        self._rooms_with_margin: dict[str, BaseGeometry] = {}

    def ranked(self, hits: Hits) -> list[Candidate]:
        """The candidates of ``hits``, one per feature, settled and best first."""
        best_other: dict[str, Candidate] = {}
        for c in hits.others:
            feature = f"{c.feature_type}:{c.feature_id or c.label}"
            if feature not in best_other or best_other[feature].score < c.score:
                best_other[feature] = c
        candidates = [
            self.candidates.unit(self.lexicon.units[uid], score, match, flags)
            for uid, (score, match, flags) in hits.units.items()
        ] + list(best_other.values())
        candidates = self._settle(candidates, hits)
        candidates.sort(key=self._rank)
        return candidates

    def _settle(self, candidates: list[Candidate], hits: Hits) -> list[Candidate]:
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
                c = replace(c, score=ALTERNATIVE_SCORE, flags=(*c.flags, FLAG_ALSO_CELL))
            elif (cells and not strong_rooms and c.match is MatchKind.UNIT_NUMBER
                  and not hits.explicit_cell):
                c = replace(c, score=min(c.score, ALTERNATIVE_SCORE),
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
            unit = self.lexicon.units.get(u.feature_id or "")
            if unit is not None and u.level_ordinal == c.level_ordinal and \
                    self._with_margin(unit.id).contains(p):
                return True
        return False

    def _with_margin(self, unit_id: str) -> BaseGeometry:
        """A room's outline and half a metre around it (kept per room: a buffer is slow)."""
        shape = self._rooms_with_margin.get(unit_id)
        if shape is None:
            shape = self._rooms_with_margin[unit_id] = self.index.shapes[unit_id].buffer(0.5)
        return shape

    def _rank(self, c: Candidate) -> tuple[float, str, int, str, str]:
        """Best score first; ties in reading order: building letter, floor, room, label."""
        building = self.index.buildings.get(c.building_id or "")
        return (-c.score, building.short_name if building else "~", c.level_ordinal or 0,
                c.unit_number or "", c.label)

    def result(self, query: str, candidates: list[Candidate], set_query: bool) -> LookupResult:
        """The answer to ``query`` from its ranked candidates."""
        if not candidates:
            suggestions = self._suggestions(clean(query))
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
        words = [w for w in key(q).split()
                 if len(w) >= 4 and not w.isdigit() and w not in QUERY_WORDS]
        if not words:
            return ()
        scored: dict[str, float] = {}
        for w in words:
            for text, ratio in self.lexicon.suggestion_texts(w).items():
                if ratio > scored.get(text, 0.0):
                    scored[text] = ratio
        ranked = sorted(scored, key=lambda t: (-scored[t], t))
        return tuple(ranked[:3])
