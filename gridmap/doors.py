"""Exterior door numbering: clockwise around each building from its main entrance.

Numbers are painted on the real doors, so they are stable: a re-import keeps the number of every
door that is still where it was (within ``match_tolerance_m``), never reuses a retired number,
and gives a new door either a suffix after its clockwise predecessor (``7A``, the usual field
practice, keeps the painted sequence readable) or the next free number.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from enum import StrEnum

from shapely.geometry import Point, Polygon
from shapely.geometry.polygon import orient

from gridmap.crs import LocalFrame
from gridmap.errors import DoorRenumbering
from gridmap.model import Campus


class Direction(StrEnum):
    CLOCKWISE = "clockwise"
    COUNTERCLOCKWISE = "counterclockwise"


class NewDoorPolicy(StrEnum):
    SUFFIX = "suffix"
    NEXT = "next"


_NUMBER_RE = re.compile(r"^(\d+)([A-Z]*)$")


def perimeter_order(
    footprint: Polygon, doors: Sequence[Point], start: Point, direction: Direction
) -> list[int]:
    """Indexes of ``doors`` in walking order around ``footprint`` beginning at ``start``.

    Each door is placed at its nearest point on the outline; all geometry in local metres
    (y north), where a clockwise walk is shapely's ``orient(sign=-1)``.
    """
    ring = orient(footprint, sign=-1.0 if direction is Direction.CLOCKWISE else 1.0).exterior
    length = ring.length
    origin = ring.project(start)

    def key(i: int) -> tuple[float, float, float]:
        along = (ring.project(doors[i]) - origin) % length
        # a door within 1 cm of the start counts as the start, not as a full lap away
        if length - along < 0.01:
            along = 0.0
        return (along, doors[i].x, doors[i].y)

    return sorted(range(len(doors)), key=key)


def _match_previous(
    doors: Sequence[Point], previous: Sequence[tuple[Point, str]], tolerance: float
) -> dict[int, int]:
    """Greedy nearest-first one-to-one matching: new door index -> previous door index."""
    pairs = sorted(
        (d.distance(p), i, j)
        for i, d in enumerate(doors)
        for j, (p, _) in enumerate(previous)
        if d.distance(p) <= tolerance
    )
    taken_old: set[int] = set()
    matched: dict[int, int] = {}
    for _, i, j in pairs:
        if i in matched or j in taken_old:
            continue
        taken_old.add(j)
        matched[i] = j
    return matched


def _renumbering_risk(
    doors: Sequence[Point], previous: Sequence[tuple[Point, str]], matched: dict[int, int],
    tolerance: float, main_entrance: int | None = None, previous_main: str | None = None,
) -> str | None:
    """Why keeping numbers by position looks unsafe, or None.

    Fewer than half the painted doors found again, the main entrance taking another door's
    number, or every found door shifted the same way by a good part of the tolerance: the
    signatures of a changed georeference, where doors would keep their *neighbours'* numbers.
    """
    if not previous:
        return None
    if main_entrance is not None and previous_main is not None and main_entrance in matched:
        taken = previous[matched[main_entrance]][1]
        if taken != previous_main:
            return (f"the main entrance (door {previous_main}) would take door {taken}'s number "
                    "from a door near where it now lies")
    if not matched:
        return (f"none of the {len(previous)} numbered exterior doors is within {tolerance} m "
                "of a door in the new drawing")
    if len(matched) * 2 < len(previous):
        return (f"only {len(matched)} of the {len(previous)} numbered exterior doors are within "
                f"{tolerance} m of a door in the new drawing")
    if len(matched) >= 2:
        dx = [doors[i].x - previous[j][0].x for i, j in matched.items()]
        dy = [doors[i].y - previous[j][0].y for i, j in matched.items()]
        mx, my = sum(dx) / len(dx), sum(dy) / len(dy)
        spread = max(((x - mx) ** 2 + (y - my) ** 2) ** 0.5 for x, y in zip(dx, dy, strict=True))
        shift = (mx * mx + my * my) ** 0.5
        if shift > tolerance / 2 and spread < 0.3:
            return (f"every numbered exterior door moved {shift:.1f} m the same way, so doors "
                    "would keep their neighbours' numbers")
    return None


def _suffixed(base: str, used: set[str]) -> str:
    m = _NUMBER_RE.match(base)
    stem = m.group(1) if m else base
    for letter in "ABCDEFGHJKLMNPQRSTUVWXYZ":
        candidate = f"{stem}{letter}"
        if candidate not in used:
            return candidate
    raise ValueError(f"no free suffix left after door {stem}")


def _max_number(numbers: set[str]) -> int:
    found = [int(m.group(1)) for n in numbers if (m := _NUMBER_RE.match(n))]
    return max(found, default=0)


def number_building_doors(
    footprint: Polygon,
    doors: Sequence[Point],
    main_entrance: int | None,
    previous: Sequence[tuple[Point, str]] = (),
    *,
    direction: Direction = Direction.CLOCKWISE,
    policy: NewDoorPolicy = NewDoorPolicy.SUFFIX,
    match_tolerance_m: float = 1.5,
    first_number: int = 1,
    retired: frozenset[str] = frozenset(),
    taken: frozenset[str] = frozenset(),
    previous_main: str | None = None,
    allow_renumber: bool = False,
) -> list[str]:
    """Door numbers for one building, in the order of ``doors`` (local metres).

    Without ``previous`` numbers the doors are numbered ``first_number``.. in walking order from
    ``main_entrance`` (index into ``doors``; None starts at the outline's northernmost point;
    ``previous_main`` is the number the main entrance had).
    With them, matched doors keep their numbers and new ones follow ``policy``, never taking a
    ``retired`` number or one ``taken`` elsewhere (other buildings, in campus-wide numbering).
    When the match looks like a georeference change rather than a renovation (see
    ``_renumbering_risk``), :class:`DoorRenumbering` is raised unless ``allow_renumber``.
    """
    if not doors:
        return []
    if main_entrance is not None:
        start = doors[main_entrance]
    else:
        ring = footprint.exterior
        start = Point(max(ring.coords, key=lambda c: (c[1], -c[0])))
    order = perimeter_order(footprint, doors, start, direction)
    matched = _match_previous(doors, previous, match_tolerance_m)
    risk = _renumbering_risk(doors, previous, matched, match_tolerance_m, main_entrance,
                             previous_main)
    if risk and allow_renumber:
        matched = {}  # an explicit, announced renumbering: number afresh
    elif risk:
        raise DoorRenumbering(
            f"{risk}; numbering afresh would change numbers painted on real doors. Check the "
            "drawing's georeference, or allow renumbering explicitly once the doors are repainted"
        )
    kept = {i: previous[j][1] for i, j in matched.items()}
    if not kept:
        return [
            str(first_number + rank)
            for rank, _ in sorted(enumerate(order), key=lambda pair: pair[1])
        ]
    numbers: dict[int, str] = dict(kept)
    used = set(kept.values()) | {n for _, n in previous} | set(retired) | set(taken)
    next_free = max(_max_number(used), first_number - 1) + 1
    last_seen: str | None = None
    # walk clockwise so each new door follows the numbered door before it
    start_pos = next((k for k, i in enumerate(order) if i in kept), 0)
    walk = order[start_pos:] + order[:start_pos]
    for i in walk:
        if i in numbers:
            last_seen = numbers[i]
            continue
        if policy is NewDoorPolicy.SUFFIX and last_seen is not None:
            numbers[i] = _suffixed(last_seen, used)
        else:
            numbers[i] = str(next_free)
            next_free += 1
        used.add(numbers[i])
        last_seen = numbers[i]
    return [numbers[i] for i in range(len(doors))]


def number_exterior_doors(
    campus: Campus,
    previous: Campus | None = None,
    *,
    direction: Direction = Direction.CLOCKWISE,
    policy: NewDoorPolicy = NewDoorPolicy.SUFFIX,
    campus_wide: bool = False,
    match_tolerance_m: float = 1.5,
    allow_renumber: bool = False,
) -> Campus:
    """The campus with every exterior door numbered; ``previous`` numbers are kept.

    Numbering is per building unless ``campus_wide`` (then buildings continue the sequence in
    the order they are listed). Interior doors get no number. Numbers of doors that are gone
    are recorded in ``Campus.retired_door_numbers`` and never handed out again.
    """
    frame = LocalFrame(campus.crs)
    assigned: dict[str, str] = {}
    retired: set[tuple[str, str]] = set(previous.retired_door_numbers) if previous else set()
    next_first = 1
    for building in campus.buildings:
        exterior = list(campus.exterior_doors(building.id))
        points = [frame.to_local(o.geometry) for o in exterior]
        main = next((k for k, o in enumerate(exterior) if o.main_entrance), None)
        prior = _painted(previous, building.id, frame)
        previous_main = _main_number(previous, building.id)
        taken: frozenset[str] = frozenset()
        if campus_wide:  # one sequence for the campus: no number twice, in any building
            taken = frozenset(assigned.values()) | frozenset(
                o.number for o in (previous.exterior_doors() if previous else ())
                if o.number and o.building_id != building.id)
        try:
            numbers = number_building_doors(
                frame.to_local(building.footprint), points, main, prior,
                direction=direction, policy=policy, match_tolerance_m=match_tolerance_m,
                first_number=next_first, allow_renumber=allow_renumber, taken=taken,
                previous_main=previous_main,
                retired=frozenset(n for b, n in retired if campus_wide or b == building.id),
            )
        except DoorRenumbering as exc:
            raise DoorRenumbering(f"building {building.short_name} ({building.name}): {exc}") \
                from None
        assigned.update({o.id: n for o, n in zip(exterior, numbers, strict=True)})
        if not _renumbering_risk(points, prior, _match_previous(points, prior, match_tolerance_m),
                                 match_tolerance_m, main, previous_main):
            # an explicit renumbering repaints every door and so retires nothing
            retired |= {(building.id, n) for _, n in prior if n not in numbers}
        if campus_wide:
            next_first = max(_max_number(set(assigned.values()) | {n for _, n in prior}
                                         | {n for _, n in retired}), next_first - 1) + 1
    openings = tuple(
        dataclasses.replace(o, number=assigned.get(o.id)) if o.exterior else o
        for o in campus.openings
    )
    return dataclasses.replace(campus, openings=openings,
                               retired_door_numbers=tuple(sorted(retired)))


def _painted(campus: Campus | None, building_id: str, frame: LocalFrame) -> list[tuple[Point, str]]:
    """A campus's numbered exterior doors of one building, in ``frame`` (the new campus's)."""
    if campus is None:
        return []
    return [(frame.to_local(o.geometry), o.number)
            for o in campus.exterior_doors(building_id) if o.number is not None]


def _main_number(campus: Campus | None, building_id: str) -> str | None:
    if campus is None:
        return None
    return next((o.number for o in campus.exterior_doors(building_id) if o.main_entrance), None)


def numbering_changes(
    campus: Campus, previous: Campus | None, match_tolerance_m: float = 1.5
) -> list[str]:
    """What a re-import did to painted door numbers, door by door, for the import report."""
    if previous is None:
        return []
    frame = LocalFrame(campus.crs)
    changes: list[str] = []
    for building in campus.buildings:
        name = f"building {building.short_name}"
        before = _painted(previous, building.id, frame)
        doors = [o for o in campus.exterior_doors(building.id) if o.number is not None]
        after = [(frame.to_local(o.geometry), o.number or "") for o in doors]
        points = [p for p, _ in after]
        main = next((i for i, o in enumerate(doors) if o.main_entrance), None)
        matched = _match_previous(points, before, match_tolerance_m)
        if _renumbering_risk(points, before, matched, match_tolerance_m, main,
                             _main_number(previous, building.id)):
            numbers = ", ".join(sorted((n for _, n in after), key=_sort_key))
            changes.append(f"{name}: exterior doors numbered afresh ({numbers}); "
                           "repaint every exterior door")
            continue
        for i, (_, number) in enumerate(after):
            if i not in matched:
                changes.append(f"{name}: new exterior door numbered {number}; paint it on the door")
            elif before[matched[i]][1] != number:
                changes.append(f"{name}: exterior door {before[matched[i]][1]} is now {number}; "
                               "repaint it")
        found = set(matched.values())
        changes += [f"{name}: exterior door {n} is gone; its number is retired"
                    for j, (_, n) in enumerate(before) if j not in found]
    return changes


def _sort_key(number: str) -> tuple[int, str]:
    m = _NUMBER_RE.match(number)
    return (int(m.group(1)), m.group(2)) if m else (10**9, number)
