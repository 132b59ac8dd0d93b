"""Findings as the IMDF rules an archive breaks, and the checks of its JSON and GeoJSON
geometry that raise them."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from importers.findings import Finding, FindingKind, Severity
from importers.indoor import FindingLog


@dataclass
class Rules:
    """The findings of one archive, each naming the IMDF rule broken."""

    log: FindingLog
    #: where each feature is (a position of its geometry), to place its findings on the map
    places: dict[str, tuple[float, float]] = field(default_factory=dict)

    def broken(self, what: str, problem: str, rule: str, *, action: str = "",
               severity: Severity = Severity.WARNING, ref: str = "",
               at: tuple[float, float] | None = None) -> None:
        at = at or self.places.get(ref)
        self.log.add(Finding(
            FindingKind.OTHER, f"{what}: {problem} (IMDF rule: {rule})", severity,
            source=self.log.source, ref=ref, action=action, at=at,
            placed_on_earth=at is not None), rule)

    def note(self, message: str, *, kind: FindingKind = FindingKind.OTHER,
             severity: Severity = Severity.INFO, action: str = "", ref: str = "",
             key: str = "") -> None:
        self.log.add(Finding(kind, message, severity, source=self.log.source, ref=ref,
                             action=action), key or message)


def as_text(value: object) -> str | None:
    """A property that should be a string: itself, or None when it is anything else (a list
    or an object would break every lookup that hashes it)."""
    return value if isinstance(value, str) else None


def article(word: str) -> str:
    """The indefinite article before ``word`` in a finding."""
    return "an" if word[:1] in "aeio" else "a"  # "a unit"


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a UUID string (an IMDF FEATURE-ID)."""
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_json(body: bytes, what: str, rules: Rules) -> Any:
    """The member's JSON, or None with an error finding when it is not UTF-8 JSON."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        return json.loads(body.decode("utf-8-sig"), parse_constant=refuse)
    except UnicodeDecodeError:
        rules.broken(what, "is not UTF-8 text", "GeoJSON is UTF-8 JSON (RFC 7946)",
                     action="file skipped", severity=Severity.ERROR)
    except (ValueError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:120]
        rules.broken(what, f"is not valid JSON ({reason})", "GeoJSON is UTF-8 JSON (RFC 7946)",
                     action="file skipped", severity=Severity.ERROR)
    return None


def count_positions(coords: Any, cap: int, depth: int = 0) -> int:
    """Positions in a GeoJSON coordinates array, counting stops at ``cap``; -1 if malformed."""
    if depth > 4 or not isinstance(coords, list):
        return -1
    if coords and not isinstance(coords[0], list):
        ok = (2 <= len(coords) <= 3 and all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in coords))
        return 1 if ok and -180 <= coords[0] <= 180 and -90 <= coords[1] <= 90 else -1
    n = 0
    for c in coords:
        k = count_positions(c, cap - n, depth + 1)
        if k < 0:
            return -1
        n += k
        if n > cap:
            return n
    return n


def first_position(geometry: Any) -> tuple[float, float] | None:
    """A lon/lat of a GeoJSON geometry (its first position), or None if it has no valid one."""
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    for _ in range(4):
        if not (isinstance(coords, list) and coords):
            return None
        if not isinstance(coords[0], list):
            break
        coords = coords[0]
    if count_positions(coords, 1) != 1 or not isinstance(coords, list):
        return None
    return float(coords[0]), float(coords[1])
