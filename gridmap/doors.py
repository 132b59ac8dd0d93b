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
) -> dict[int, str]:
    """Greedy nearest-first one-to-one matching of new doors to previously numbered ones."""
    pairs = sorted(
        (d.distance(p), i, j)
        for i, d in enumerate(doors)
        for j, (p, _) in enumerate(previous)
        if d.distance(p) <= tolerance
    )
    taken_new: set[int] = set()
    taken_old: set[int] = set()
    kept: dict[int, str] = {}
    for _, i, j in pairs:
        if i in taken_new or j in taken_old:
            continue
        taken_new.add(i)
        taken_old.add(j)
        kept[i] = previous[j][1]
    return kept


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
    allow_renumber: bool = False,
) -> list[str]:
    """Door numbers for one building, in the order of ``doors`` (local metres).

    Without ``previous`` numbers the doors are numbered ``first_number``.. in walking order from
    ``main_entrance`` (index into ``doors``; None starts at the outline's northernmost point).
    With them, matched doors keep their numbers and new ones follow ``policy``, never taking a
    ``retired`` number. If none matches, :class:`DoorRenumbering` is raised unless
    ``allow_renumber``: a wholesale renumbering is almost always a georeference mistake.
    """
    if not doors:
        return []
    if main_entrance is not None:
        start = doors[main_entrance]
    else:
        ring = footprint.exterior
        start = Point(max(ring.coords, key=lambda c: (c[1], -c[0])))
    order = perimeter_order(footprint, doors, start, direction)
    kept = _match_previous(doors, previous, match_tolerance_m)
    if previous and not kept and not allow_renumber:
        raise DoorRenumbering(
            f"none of the {len(previous)} numbered exterior doors is within "
            f"{match_tolerance_m} m of a door in the new drawing; numbering afresh would "
            "change numbers painted on real doors. Check the drawing's georeference, or allow "
            "renumbering explicitly once the doors are repainted"
        )
    if not kept:
        return [
            str(first_number + rank)
            for rank, _ in sorted(enumerate(order), key=lambda pair: pair[1])
        ]
    numbers: dict[int, str] = dict(kept)
    used = set(kept.values()) | {n for _, n in previous} | set(retired)
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
        prior: list[tuple[Point, str]] = []
        if previous is not None:
            # compare in the new frame: a changed campus centre must not shift old doors
            prior = [
                (frame.to_local(o.geometry), o.number)
                for o in previous.exterior_doors(building.id)
                if o.number is not None
            ]
        try:
            numbers = number_building_doors(
                frame.to_local(building.footprint), points, main, prior,
                direction=direction, policy=policy, match_tolerance_m=match_tolerance_m,
                first_number=next_first, allow_renumber=allow_renumber,
                retired=frozenset(n for b, n in retired if b == building.id),
            )
        except DoorRenumbering as exc:
            raise DoorRenumbering(f"building {building.short_name} ({building.name}): {exc}") \
                from None
        assigned.update({o.id: n for o, n in zip(exterior, numbers, strict=True)})
        if not (allow_renumber and prior and not set(numbers) & {n for _, n in prior}):
            retired |= {(building.id, n) for _, n in prior if n not in numbers}
        if campus_wide:
            next_first = max(_max_number(set(numbers) | {n for _, n in prior}), next_first - 1) + 1
    openings = tuple(
        dataclasses.replace(o, number=assigned.get(o.id)) if o.exterior else o
        for o in campus.openings
    )
    return dataclasses.replace(campus, openings=openings,
                               retired_door_numbers=tuple(sorted(retired)))


def numbering_changes(campus: Campus, previous: Campus | None) -> list[str]:
    """What a re-import did to painted door numbers, for the import report."""
    if previous is None:
        return []
    changes: list[str] = []
    for building in campus.buildings:
        before = {o.number for o in previous.exterior_doors(building.id) if o.number}
        after = {o.number for o in campus.exterior_doors(building.id) if o.number}
        name = f"building {building.short_name}"
        changes += [f"{name}: new exterior door numbered {n}; paint it on the door"
                    for n in sorted(after - before, key=_sort_key)]
        changes += [f"{name}: exterior door {n} is gone; its number is retired"
                    for n in sorted(before - after, key=_sort_key)]
    return changes


def _sort_key(number: str) -> tuple[int, str]:
    m = _NUMBER_RE.match(number)
    return (int(m.group(1)), m.group(2)) if m else (10**9, number)
