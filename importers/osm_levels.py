"""OSM ``level`` and ``repeat_on`` values read as gridmap's whole-storey level ordinals."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from importers.findings import Finding, FindingKind, Severity
from importers.indoor import MAX_ORDINAL, FindingLog

_NUMBER_RE = r"-?\d+(?:\.\d+)?"
_LEVEL_PART_RE = re.compile(rf"^\s*({_NUMBER_RE})\s*$")
_LEVEL_RANGE_RE = re.compile(rf"^\s*({_NUMBER_RE})\s*-\s*({_NUMBER_RE})\s*$")


@dataclass(frozen=True)
class LevelSpec:
    """A ``level`` (or ``repeat_on``) value read: the whole-number ordinals it names."""

    ordinals: tuple[int, ...]
    #: what could not be read, or was changed to read it ("" when all was well)
    problem: str = ""


def parse_levels(value: str) -> LevelSpec:
    """``"0;1"`` -> (0, 1); ``"-1-2"`` -> (-1, 0, 1, 2); ``"0.5"`` -> (0,) with a note.

    gridmap levels are whole storeys: a half level (a mezzanine, ``0.5``) is drawn with the
    storey below it, and the note says so.
    """
    ordinals: set[int] = set()
    problems: list[str] = []
    for part in re.split(r"[;,]", value):
        if not part.strip():
            continue
        single = _LEVEL_PART_RE.match(part)
        ranged = None if single else _LEVEL_RANGE_RE.match(part)
        if single:
            numbers = [float(single.group(1))]
        elif ranged:
            lo, hi = sorted((float(ranged.group(1)), float(ranged.group(2))))
            if hi - lo > 2 * MAX_ORDINAL:
                problems.append(f"level range {part.strip()!r} is too wide")
                continue
            numbers = [lo, *range(math.ceil(lo), math.floor(hi) + 1), hi]
        else:
            problems.append(f"level {part.strip()!r} is not a number or range")
            continue
        for n in numbers:
            whole = math.floor(n)
            if abs(whole) > MAX_ORDINAL:
                problems.append(f"level {n:g} is further than {MAX_ORDINAL} from the ground")
                continue
            if whole != n:
                problems.append(f"level {n:g} is read as level {whole} (gridmap levels are "
                                "whole storeys)")
            ordinals.add(whole)
    return LevelSpec(tuple(sorted(ordinals)), "; ".join(problems))


def levels_of(tags: Mapping[str, str], what: str, ref: str, log: FindingLog, source: str,
              at: tuple[float, float] | None, default: int | None = 0) -> tuple[int, ...]:
    """The ordinals an element is on (``level`` plus ``repeat_on``)."""
    raw = tags.get("level", "")
    if not raw.strip():
        if default is None:
            return ()
        log.add(Finding(FindingKind.OTHER,
                        f"{what} has no level tag; taken as level {default}", Severity.INFO,
                        source=source, ref=ref, at=at, placed_on_earth=at is not None,
                        action=f"placed on level {default}"), "no_level")
        return (default,)
    spec = parse_levels(raw)
    ordinals = set(spec.ordinals)
    problem = spec.problem
    if tags.get("repeat_on", "").strip():
        repeat = parse_levels(tags["repeat_on"])
        ordinals |= set(repeat.ordinals)
        problem = "; ".join(p for p in (problem, repeat.problem) if p)
    if problem:
        log.add(Finding(FindingKind.OTHER, f"{what}: {problem}", Severity.INFO, source=source,
                        ref=ref, at=at, placed_on_earth=at is not None,
                        action="read as whole levels" if ordinals else "skipped"),
                "level_value")
    return tuple(sorted(ordinals))
