"""A floor the caller said ("2nd floor", "upstairs", "basement") narrows the answer."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

from gridmap.lookup.answers import FLAG_OFF_FLOOR, Candidate, replace
from gridmap.lookup.scores import FOUND_THRESHOLD, OFF_FLOOR_SCORE, Hits
from gridmap.model import Level, Unit
from gridmap.vocabulary import FloorSaid, fold, level_numbers


def apply_floor(floor: FloorSaid, hits: Hits, ok: Collection[str], units: dict[str, Unit],
                level_of: Callable[[Candidate], str | None]) -> None:
    """Elsewhere than the levels ``ok`` of the floor said is at best a partial match,
    flagged so."""
    for uid, (score, match, flags) in list(hits.units.items()):
        if units[uid].level_id not in ok:
            hits.units[uid] = (min(score, OFF_FLOOR_SCORE), match, (*flags, FLAG_OFF_FLOOR))
    # "hallway 2nd floor": the one room of the kind said on the floor said
    on_floor = [uid for uid in hits.by_kind if units[uid].level_id in ok]
    if len(on_floor) == 1:
        score, match, flags = hits.units[on_floor[0]]
        hits.units[on_floor[0]] = (max(score, FOUND_THRESHOLD), match, flags)
    others = []
    for c in hits.others:
        level_id = level_of(c)
        if level_id is not None and level_id not in ok and c.feature_type != "cell":
            c = replace(c, score=min(c.score, OFF_FLOOR_SCORE), flags=(*c.flags, FLAG_OFF_FLOOR))
        others.append(c)
    hits.others = others


def levels_said(floor: FloorSaid, levels: Iterable[Level]) -> set[str]:
    """Ids of the levels a floor phrase names, building by building."""
    ok: set[str] = set()
    by_building: dict[str, list[Level]] = {}
    for lv in levels:
        by_building.setdefault(lv.building_id, []).append(lv)
    for own in by_building.values():
        ordinals = sorted(lv.ordinal for lv in own)
        for lv in own:
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
            named = [lv for lv in own
                     if floor.number in level_numbers(lv.name)
                     or lv.short_name.strip().lower() == str(floor.number)]
            if named:
                ok.update(lv.id for lv in named)
            else:
                # unnamed levels: the American count (1st floor = ground) unless the
                # building names its ground floor, when floors count from above it
                ground_named = any(lv.ordinal == 0 and re.search(
                    r"ground|erdgeschoss|rez|parterre|begane", fold(lv.name))
                    for lv in own)
                want = floor.number if ground_named else floor.number - 1
                ok.update(lv.id for lv in own if lv.ordinal == want)
    return ok
