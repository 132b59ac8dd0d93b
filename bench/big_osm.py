"""A large OpenStreetMap extract round a school campus, for the OSM indoor bench.

A district as a real ``.osm`` export of it holds: mostly outdoor data, and an indoor-mapped
campus in the middle of it.

* the campus: ``buildings`` school buildings, each ``levels`` storeys of a double-loaded
  corridor (``indoor=corridor``) with ``rooms_per_side`` rooms each side (``indoor=room``,
  ``ref``, ``name``, ``level``); each room's door is a node shared by the room's and the
  corridor's outlines; a stairwell on every storey drawn once with ``repeat_on``; an
  ``indoor=level`` area per storey; an AED per storey; the building outline (``building=school``)
  with a main entrance on it; one room per building drawn as a multipolygon with a hole;
* round it: ``houses`` houses (``building=house`` outlines with addresses), a street grid of
  untagged nodes on ``highway=*`` ways, trees (``natural=tree`` nodes), street lamps, and
  ``landuse`` multipolygons whose member ways are untagged.

Every element carries the attributes an export writes (version, timestamp, changeset, user,
uid); nodes come first, then ways, then relations, each by id, as osmium and JOSM write them.
Deterministic: the same arguments give the same bytes.
Run ``python -m bench.big_osm OUT.osm [--scale N]`` to write one.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

#: the district's south-west corner (lon, lat)
ORIGIN = (-84.52, 42.70)
_M_LON = 111_320.0 * math.cos(math.radians(ORIGIN[1]))
_M_LAT = 110_574.0
_ROOM_W, _ROOM_D, _HALL = 8.0, 7.0, 3.0  # metres
_NAMES = ("Classroom", "Science Lab", "Art Room", "Music Room", "Office", "Library",
          "Computer Lab", "Storage", "Counselor", "Nurse", "Workroom", "Café")
_META = 'version="3" timestamp="2026-05-04T10:11:12Z" changeset="151234567" user="mapper" ' \
        'uid="4242"'


@dataclass(frozen=True)
class GeneratedDistrict:
    """What the generator wrote: the oracle for an import of the file."""

    path: Path
    #: units the import must make: each room, corridor and stairwell once per storey it is on
    units: int
    #: door nodes (room doors and entrances) times the storeys they are on
    openings: int
    aeds: int
    school_buildings: int
    nodes: int
    ways: int
    relations: int
    bytes: int


class _Writer:
    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.relations: list[str] = []
        self.next_id = 100_000

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def node(self, x: float, y: float, tags: dict[str, str] | None = None) -> int:
        nid = self._id()
        lon, lat = ORIGIN[0] + x / _M_LON, ORIGIN[1] + y / _M_LAT
        head = f'  <node id="{nid}" {_META} lat="{lat:.7f}" lon="{lon:.7f}"'
        self.nodes.append(head + "/>" if not tags else
                          head + ">\n" + _tag_lines(tags) + "  </node>")
        return nid

    def way(self, refs: list[int], tags: dict[str, str] | None = None) -> int:
        wid = self._id()
        body = "".join(f'    <nd ref="{r}"/>\n' for r in refs)
        self.ways.append(f'  <way id="{wid}" {_META}>\n{body}{_tag_lines(tags or {})}  </way>')
        return wid

    def ring(self, corners: list[tuple[float, float]], tags: dict[str, str] | None = None,
             shared: dict[tuple[float, float], int] | None = None) -> int:
        """A closed way through ``corners``; ``shared`` reuses nodes at the same place."""
        refs = []
        for c in corners:
            if shared is not None:
                if c not in shared:
                    shared[c] = self.node(*c)
                refs.append(shared[c])
            else:
                refs.append(self.node(*c))
        return self.way([*refs, refs[0]], tags)

    def relation(self, members: list[tuple[int, str]], tags: dict[str, str]) -> int:
        rid = self._id()
        body = "".join(f'    <member type="way" ref="{w}" role="{role}"/>\n'
                       for w, role in members)
        self.relations.append(f'  <relation id="{rid}" {_META}>\n{body}{_tag_lines(tags)}'
                              "  </relation>")
        return rid


def _tag_lines(tags: dict[str, str]) -> str:
    return "".join(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in tags.items())


def _rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _school_building(w: _Writer, k: int, x0: float, y0: float, levels: int,
                     per_side: int) -> tuple[int, int, int]:
    """One school building at (x0, y0); (units, openings, aeds) it holds."""
    length = per_side * _ROOM_W + 6.0  # the rooms, then a 6 m stairwell at the east end
    depth = 2 * _ROOM_D + _HALL
    ref = f"S{k}"
    units = openings = aeds = 0
    entrance = w.node(x0, y0 + _ROOM_D + _HALL / 2, {"entrance": "main", "door": "double",
                                                    "ref": "1", "level": "0"})
    outline = [(x0, y0), (x0 + length, y0), (x0 + length, y0 + depth), (x0, y0 + depth)]
    refs = [w.node(*c) for c in outline]
    w.way([refs[0], refs[1], refs[2], refs[3], entrance, refs[0]],
          {"building": "school", "name": f"Hall {k}", "ref": ref,
           "building:levels": str(levels), "addr:housenumber": str(100 + k),
           "addr:street": "College Avenue", "addr:city": "Okemos"})
    openings += 1
    stairs_x = x0 + per_side * _ROOM_W
    w.ring(_rect(stairs_x, y0, x0 + length, y0 + depth),
           {"indoor": "room", "stairs": "yes", "level": "0",
            "repeat_on": ";".join(str(n) for n in range(1, levels)), "name": f"Stair {ref}"})
    units += levels
    for level in range(levels):
        w.ring(_rect(x0, y0, x0 + length, y0 + depth),
               {"indoor": "level", "level": str(level), "name": f"Floor {level + 1}",
                "level:ref": str(level + 1)})
        shared: dict[tuple[float, float], int] = {}
        hall_y0, hall_y1 = y0 + _ROOM_D, y0 + _ROOM_D + _HALL
        doors: list[tuple[float, float, int]] = []
        for side, (ry0, ry1, door_y) in enumerate(((y0, hall_y0, hall_y0),
                                                   (hall_y1, y0 + depth, hall_y1))):
            for n in range(per_side):
                rx0 = x0 + n * _ROOM_W
                number = f"{ref}-{level + 1}{side}{n:02d}"
                door = w.node(rx0 + _ROOM_W / 2, door_y, {"door": "hinged",
                                                           "level": str(level)})
                doors.append((rx0 + _ROOM_W / 2, door_y, door))
                openings += 1
                corners = _rect(rx0, ry0, rx0 + _ROOM_W, ry1)
                tags = {"indoor": "room", "level": str(level), "ref": number,
                        "name": _NAMES[(n + side + level) % len(_NAMES)]}
                if n == 1 and side == 0:  # a room with a pillar: a multipolygon with a hole
                    outer = w.way(_door_ring(w, corners, door, door_y, shared))
                    hole = w.ring(_rect(rx0 + 3, ry0 + 3, rx0 + 4, ry0 + 4))
                    w.relation([(outer, "outer"), (hole, "inner")],
                               {"type": "multipolygon", **tags})
                else:
                    w.way(_door_ring(w, corners, door, door_y, shared), tags)
                units += 1
        hall = [(x0, hall_y0), *[(dx, dy) for dx, dy, _ in doors if dy == hall_y0],
                (stairs_x, hall_y0), (stairs_x, hall_y1),
                *[(dx, dy) for dx, dy, _ in reversed(doors) if dy == hall_y1], (x0, hall_y1)]
        by_place = {(dx, dy): nid for dx, dy, nid in doors}
        hall_refs = [by_place.get(c) or shared.get(c) or w.node(*c) for c in hall]
        w.way([*hall_refs, hall_refs[0]], {"indoor": "corridor", "level": str(level),
                                           "name": f"Hall {k} corridor {level + 1}"})
        units += 1
        w.node(x0 + 2.0, y0 + _ROOM_D + _HALL / 2,
               {"emergency": "defibrillator", "level": str(level),
                "defibrillator:location": "by the stairs"})
        aeds += 1
    return units, openings, aeds


def _door_ring(w: _Writer, corners: list[tuple[float, float]], door: int, door_y: float,
               shared: dict[tuple[float, float], int]) -> list[int]:
    """A room's closed ring, its door node on the wall along the corridor (y = door_y)."""
    refs: list[int] = []
    for k, c in enumerate(corners):
        if c not in shared:
            shared[c] = w.node(*c)
        refs.append(shared[c])
        nxt = corners[(k + 1) % 4]
        if c[1] == door_y and nxt[1] == door_y:
            refs.append(door)
    return [*refs, refs[0]]


def write_district(path: Path, scale: int = 10, *, buildings: int = 12, levels: int = 3,
                   rooms_per_side: int = 20, seed: int = 1) -> GeneratedDistrict:
    """Write the district; ``scale`` grows the outdoor data (about 4 MB a step), the other
    arguments the campus (``buildings * levels * (2 * rooms_per_side + 2)`` units)."""
    rng = random.Random(seed)
    w = _Writer()
    units = openings = aeds = 0
    campus_x, campus_y = 400.0, 400.0
    for k in range(buildings):
        u, o, a = _school_building(w, k + 1, campus_x + (k % 3) * 400.0,
                                   campus_y + (k // 3) * 40.0, levels, rooms_per_side)
        units, openings, aeds = units + u, openings + o, aeds + a
    grounds = (campus_x - 20, campus_y - 20, campus_x + 1400, campus_y + 40 * ((buildings + 2) // 3)
               + 20)
    w.ring(_rect(*grounds), {"amenity": "school", "name": "Okemos Campus"})
    size = 3000.0 + 300.0 * scale
    # the street grid: long ways of untagged nodes
    streets = 20 + 4 * scale
    for s in range(streets):
        horizontal = s % 2 == 0
        at = (s // 2 + 0.5) * size / (streets / 2)
        refs = [w.node(*((t, at) if horizontal else (at, t)))
                for t in (size * i / 400 for i in range(401))]
        w.way(refs, {"highway": rng.choice(("residential", "tertiary", "service")),
                     "name": f"Street {s}", "maxspeed": "25 mph"})
    # houses with addresses, away from the campus
    for h in range(1500 * scale):
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        if grounds[0] - 30 < x < grounds[2] + 30 and grounds[1] - 30 < y < grounds[3] + 30:
            continue  # no house on the school's grounds
        wd, dp = rng.uniform(8, 14), rng.uniform(8, 12)
        w.ring(_rect(x, y, x + wd, y + dp), {
            "building": "house", "addr:housenumber": str(h), "addr:street": f"Street {h % 40}",
            "addr:city": "Okemos", "addr:postcode": "48864"})
    # trees and street lamps: tagged nodes that are no indoor features
    for _ in range(2500 * scale):
        w.node(rng.uniform(0, size), rng.uniform(0, size),
               {"natural": "tree", "leaf_type": "broadleaved"} if rng.random() < 0.8 else
               {"highway": "street_lamp"})
    # landuse multipolygons: their ring is an untagged member way
    for _ in range(40 * scale):
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        outer = w.ring([(x + 60 * math.cos(a), y + 60 * math.sin(a))
                        for a in (2 * math.pi * i / 40 for i in range(40))])
        w.relation([(outer, "outer")], {"type": "multipolygon", "landuse": "grass"})
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<osm version="0.6" generator="gridmap bench/big_osm.py">\n')
        lon1, lat1 = ORIGIN[0] + size / _M_LON, ORIGIN[1] + size / _M_LAT
        fh.write(f'  <bounds minlat="{ORIGIN[1]}" minlon="{ORIGIN[0]}" maxlat="{lat1:.7f}" '
                 f'maxlon="{lon1:.7f}"/>\n')
        for part in (w.nodes, w.ways, w.relations):
            for k in range(0, len(part), 10_000):
                fh.write("\n".join(part[k:k + 10_000]) + "\n")
        fh.write("</osm>\n")
    return GeneratedDistrict(path, units, openings, aeds, buildings, len(w.nodes),
                             len(w.ways), len(w.relations), path.stat().st_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--buildings", type=int, default=12)
    args = parser.parse_args(argv)
    made = write_district(args.out, args.scale, buildings=args.buildings)
    print(made, file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
