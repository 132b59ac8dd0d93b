"""What changed between two revisions of a campus, for the editor who publishes one.

:func:`diff_campuses` compares buildings, rooms, doors, points (amenities) and grounds. Parts
are matched by id first (importers give stable ids from natural keys); what is left on either
side is matched by place, nearest first, within ``match_radius_m`` among parts of the same kind
on the same building and level (a room renumbered gets a new id but stays where it was). A
matched pair is *renamed*, *renumbered*, *retyped* (a point's or grounds' kind), *moved* (its
centre went further than ``moved_threshold_m``) or *reshaped* (an outline's area changed by more
than ``reshaped_threshold_m2``); an unmatched part is *added* or *removed*.

Distances are metres in the newer revision's local frame (:class:`gridmap.crs.LocalFrame`).
Pure: no I/O. The result is a list for the editor (:meth:`RevisionDiff.to_dict`) and GeoJSON
for the map (:meth:`RevisionDiff.to_geojson`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from gridmap.crs import LocalFrame
from gridmap.model import Campus

#: a part whose centre moved less than this (metres) has not moved (a re-fit's jitter)
MOVED_THRESHOLD_M = 0.5
#: parts of the same kind, building and level whose ids differ are the same part when their
#: centres are at most this far apart (metres)
MATCH_RADIUS_M = 2.0
#: an outline whose area changed by more than this (square metres) was reshaped
RESHAPED_THRESHOLD_M2 = 1.0


class PartKind(StrEnum):
    BUILDING = "building"
    ROOM = "room"
    DOOR = "door"
    POINT = "point"
    GROUNDS = "grounds"


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    RENUMBERED = "renumbered"
    RETYPED = "retyped"
    MOVED = "moved"
    RESHAPED = "reshaped"


@dataclass(frozen=True, slots=True)
class Part:
    """One comparable part of a campus, in the terms the diff speaks."""

    kind: PartKind
    id: str
    label: str  # "Room 214 Science Lab", "Door 3", "AED Gym lobby"
    name: str
    number: str
    type: str  # a point's or grounds' kind, a room's category; "" for the rest
    building: str  # the building's short name ("A"), "" for campus-wide parts
    ordinal: int | None
    geometry: BaseGeometry  # lon/lat
    centre: tuple[float, float]  # local metres
    area_m2: float

    @property
    def place(self) -> tuple[PartKind, str, int | None, str]:
        """Parts that may be the same one under another id share this."""
        if self.kind in (PartKind.POINT, PartKind.GROUNDS):
            return (self.kind, self.building, self.ordinal, self.type)
        return (self.kind, self.building, self.ordinal, "")


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to one part: added, removed, or a matched pair's changes."""

    kind: PartKind
    changes: tuple[ChangeKind, ...]
    old: Part | None
    new: Part | None
    moved_m: float | None = None

    @property
    def part(self) -> Part:
        """The part as it is now (as it was, if removed)."""
        part = self.new or self.old
        if part is None:  # pragma: no cover - a change always has one side
            raise ValueError("a change without a part")
        return part

    def summary(self) -> str:
        """One line for the editor: ``Room 214 Science Lab: renumbered 214 -> 215``."""
        old, new = self.old, self.new
        words: list[str] = []
        for change in self.changes:
            if change is ChangeKind.RENAMED and old and new:
                words.append(f"renamed {old.name!r} -> {new.name!r}")
            elif change is ChangeKind.RENUMBERED and old and new:
                words.append(f"renumbered {old.number or '(none)'} -> {new.number or '(none)'}")
            elif change is ChangeKind.RETYPED and old and new:
                words.append(f"retyped {old.type} -> {new.type}")
            elif change is ChangeKind.MOVED and self.moved_m is not None:
                words.append(f"moved {self.moved_m:.1f} m")
            elif change is ChangeKind.RESHAPED and old and new:
                words.append(f"reshaped {old.area_m2:.0f} -> {new.area_m2:.0f} m\u00b2")
            else:
                words.append(change.value)
        where = _where(self.part)
        return f"{self.part.label}{where}: {', '.join(words)}"

    def to_dict(self) -> dict[str, Any]:
        part = self.part
        return {
            "kind": self.kind.value,
            "changes": [c.value for c in self.changes],
            "id": part.id,
            "old_id": None if self.old is None else self.old.id,
            "label": part.label,
            "building": part.building or None,
            "ordinal": part.ordinal,
            "old": None if self.old is None else _part_fields(self.old),
            "new": None if self.new is None else _part_fields(self.new),
            "moved_m": None if self.moved_m is None else round(self.moved_m, 2),
            "summary": self.summary(),
        }


@dataclass(frozen=True, slots=True)
class RevisionDiff:
    """Every change between two revisions, buildings first, then rooms, doors, points,
    grounds; within a kind by building, level and label."""

    changes: tuple[Change, ...]
    moved_threshold_m: float
    match_radius_m: float

    def counts(self) -> dict[str, int]:
        """How many parts each change kind touched (a part both moved and renamed counts in
        both)."""
        out = {c.value: 0 for c in ChangeKind}
        for change in self.changes:
            for what in change.changes:
                out[what.value] += 1
        return out

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "moved_threshold_m": self.moved_threshold_m,
                "match_radius_m": self.match_radius_m,
                "changes": [c.to_dict() for c in self.changes]}

    def to_geojson(self) -> dict[str, Any]:
        """A FeatureCollection for the map: one feature per changed part at its new place (a
        removed part at its old one); a moved part also gets a line from its old centre to its
        new one (``change: "move"``)."""
        features: list[dict[str, Any]] = []
        for change in self.changes:
            part = change.part
            props = {"kind": change.kind.value, "changes": [c.value for c in change.changes],
                     "id": part.id, "label": part.label, "building": part.building or None,
                     "ordinal": part.ordinal, "summary": change.summary()}
            features.append({"type": "Feature", "id": part.id,
                             "geometry": mapping(part.geometry), "properties": props})
            if change.old is not None and change.new is not None and \
                    ChangeKind.MOVED in change.changes:
                a = change.old.geometry.centroid
                b = change.new.geometry.centroid
                features.append({
                    "type": "Feature", "id": f"{part.id}:move",
                    "geometry": {"type": "LineString",
                                 "coordinates": [[a.x, a.y], [b.x, b.y]]},
                    "properties": {**props, "change": "move"},
                })
        return {"type": "FeatureCollection", "features": features}

    def lines(self) -> list[str]:
        """The editor's list, one line per changed part."""
        return [c.summary() for c in self.changes]


def diff_campuses(
    old: Campus, new: Campus, *, moved_threshold_m: float = MOVED_THRESHOLD_M,
    match_radius_m: float = MATCH_RADIUS_M, reshaped_threshold_m2: float = RESHAPED_THRESHOLD_M2,
) -> RevisionDiff:
    """What changed from ``old`` to ``new`` (two revisions of one campus)."""
    if not (moved_threshold_m >= 0 and match_radius_m >= 0 and reshaped_threshold_m2 >= 0):
        raise ValueError("diff thresholds must be zero or more metres")
    frame = LocalFrame(new.crs)
    before = {(p.kind, p.id): p for p in campus_parts(old, frame)}
    after = {(p.kind, p.id): p for p in campus_parts(new, frame)}
    pairs = [(before[k], after[k]) for k in before.keys() & after.keys()]
    gone = [before[k] for k in before.keys() - after.keys()]
    came = [after[k] for k in after.keys() - before.keys()]
    placed, gone, came = _match_by_place(gone, came, match_radius_m)
    changes: list[Change] = []
    for a, b in [*pairs, *placed]:
        change = _compare(a, b, moved_threshold_m, reshaped_threshold_m2)
        if change is not None:
            changes.append(change)
    changes += [Change(p.kind, (ChangeKind.REMOVED,), p, None) for p in gone]
    changes += [Change(p.kind, (ChangeKind.ADDED,), None, p) for p in came]
    order = list(PartKind)
    changes.sort(key=lambda c: (order.index(c.kind), c.part.building, c.part.ordinal or 0,
                                c.part.label, c.part.id))
    return RevisionDiff(tuple(changes), moved_threshold_m, match_radius_m)


def campus_parts(campus: Campus, frame: LocalFrame) -> Iterator[Part]:
    """Every building, room, door, point and grounds feature of ``campus`` as a :class:`Part`."""
    short = {b.id: b.short_name or b.name for b in campus.buildings}
    ordinal = {lv.id: lv.ordinal for lv in campus.levels}
    for b in campus.buildings:
        yield _part(frame, PartKind.BUILDING, b.id, f"Building {b.short_name or b.name}",
                    b.name, b.short_name, "", "", None, b.footprint)
    for u in campus.units:
        label = " ".join(x for x in ("Room", u.number, u.name if u.name != u.number else "")
                         if x)
        yield _part(frame, PartKind.ROOM, u.id, label, u.name, u.number, u.category,
                    short.get(u.building_id, ""), ordinal.get(u.level_id), u.geometry)
    for o in campus.openings:
        label = f"Door {o.number}" if o.number else ("Main entrance" if o.main_entrance
                                                      else "Unnumbered door")
        yield _part(frame, PartKind.DOOR, o.id, label, "", o.number or "",
                    "exterior" if o.exterior else "interior", short.get(o.building_id, ""),
                    ordinal.get(o.level_id), o.geometry)
    for a in campus.amenities:
        label = f"{a.kind.display_name} {a.name}".strip() if a.name != a.kind.display_name \
            else a.name
        yield _part(frame, PartKind.POINT, a.id, label, a.name, "", a.kind.value,
                    short.get(a.building_id or "", ""),
                    ordinal.get(a.level_id or ""), a.geometry)
    for g in campus.grounds:
        yield _part(frame, PartKind.GROUNDS, g.id, g.name or g.kind.value, g.name, "",
                    g.kind.value, "", None, g.geometry)


def _part(frame: LocalFrame, kind: PartKind, pid: str, label: str, name: str, number: str,
          type_: str, building: str, ordinal: int | None, geometry: BaseGeometry) -> Part:
    local = frame.to_local(geometry)
    centre = local.centroid if not local.is_empty else None
    return Part(kind, pid, label, name, number, type_, building, ordinal, geometry,
                (0.0, 0.0) if centre is None or centre.is_empty else (centre.x, centre.y),
                float(local.area))


def _distance(a: Part, b: Part) -> float:
    return float(((a.centre[0] - b.centre[0]) ** 2 + (a.centre[1] - b.centre[1]) ** 2) ** 0.5)


def _match_by_place(
    gone: list[Part], came: list[Part], radius_m: float
) -> tuple[list[tuple[Part, Part]], list[Part], list[Part]]:
    """Pair removed and added parts of the same place key, nearest first within ``radius_m``;
    (pairs, still removed, still added)."""
    arrivals: dict[tuple[PartKind, str, int | None, str], list[Part]] = {}
    for b in came:
        arrivals.setdefault(b.place, []).append(b)
    candidates = sorted(
        ((d, a.id, b.id, a, b) for a in gone for b in arrivals.get(a.place, ())
         if (d := _distance(a, b)) <= radius_m),
        key=lambda t: t[:3],
    )
    used_old: set[str] = set()
    used_new: set[str] = set()
    pairs: list[tuple[Part, Part]] = []
    for _d, old_id, new_id, a, b in candidates:
        if old_id in used_old or new_id in used_new:
            continue
        used_old.add(old_id)
        used_new.add(new_id)
        pairs.append((a, b))
    return (pairs, [p for p in gone if p.id not in used_old],
            [p for p in came if p.id not in used_new])


def _compare(a: Part, b: Part, moved_m: float, reshaped_m2: float) -> Change | None:
    what: list[ChangeKind] = []
    if a.name != b.name:
        what.append(ChangeKind.RENAMED)
    if a.number != b.number:
        what.append(ChangeKind.RENUMBERED)
    if a.type != b.type and a.kind in (PartKind.POINT, PartKind.GROUNDS):
        what.append(ChangeKind.RETYPED)
    distance = _distance(a, b)
    if distance > moved_m:
        what.append(ChangeKind.MOVED)
    if abs(a.area_m2 - b.area_m2) > reshaped_m2:
        what.append(ChangeKind.RESHAPED)
    if not what:
        return None
    return Change(a.kind, tuple(what), a, b, distance if ChangeKind.MOVED in what else None)


def _where(part: Part) -> str:
    bits = []
    if part.building and part.kind is not PartKind.BUILDING:
        bits.append(f"Building {part.building}")
    if part.ordinal is not None:
        bits.append(f"level {part.ordinal}")
    return f" ({', '.join(bits)})" if bits else ""


def _part_fields(part: Part) -> dict[str, Any]:
    return {"id": part.id, "name": part.name, "number": part.number or None,
            "type": part.type or None,
            "centre_lonlat": _rounded(part.geometry.centroid.coords[0]),
            "area_m2": round(part.area_m2, 1)}


def _rounded(xy: Iterable[float]) -> list[float]:
    return [round(v, 7) for v in xy]
