"""How far people walk inside a building: a network of its spaces, doors and stairs.

Pure and local-metric: built from one building's levels, units, openings and points of interest
with their shapes in the campus's local frame (metres).

* **Spaces** are units: rooms, hallways (category ``walkway``), stairs (``stairs``). Inside a
  space people walk the shortest path that stays inside its outline: a straight segment when it
  fits, else around the outline's reflex corners (a visibility graph), so an L-shaped hallway
  is walked round its corner, not through the wall.
* **Portals** join spaces on a level: a door (opening) joins the two spaces whose outlines it
  lies nearest (within :data:`DOOR_SNAP_M`); hallways and the stairs, lifts and other hallways
  they share a wall with are open to each other at the middle of the shared stretch; a room
  with no door drawn is reached through the middle of its wall with a hallway (the "no door
  data" fallback). Any part of a level still cut off from its hallways (a lobby with no door
  drawn to its gym) is joined through its best shared wall.
* **Large spaces** (a corridor with more than :data:`FULL_VISIBILITY_NODES` doors) join each
  node only to the nearest node it sees in each of :data:`YAO_CONES` directions, which keeps
  the graph small (paths a percent or two longer at most in a corridor).
* **Stairs and elevators** join levels: a stairs unit overlaps the same stairs on the next level
  of the building (by plan overlap), a STAIRWELL or ELEVATOR point of interest matches the one of
  the same name (or within :data:`SAME_SHAFT_M`) on the next level. One floor costs
  :data:`FLOOR_PENALTY_M` (5 m of level walking, for the turn-arounds and landings) plus the
  stairs' plan length (the long side of the stairs unit's minimum rotated rectangle; a
  stairwell point with no stairs unit around it counts :data:`DEFAULT_FLIGHT_M`); an elevator
  costs the penalty per floor plus :data:`ELEVATOR_WAIT_M` once per ride (waiting and doors),
  so the stairs are named unless they are much further away.
* Exterior doors and points of interest are nodes, attached to the space they are in (a point
  within :data:`ON_WALL_M` of a hallway hangs on its wall and is reached from the hallway).

A building with no walkway units has no network (:attr:`WalkNetwork.walkable` is False): the
index then measures straight lines and says so. Shortest paths are Dijkstra over the graph from
an origin point (attached to the space it stands in), cached per origin: one heap-based search
per origin, O(E log E) in the graph's edges, answering every door and point at once.

Bounded work, so a drawing of thousands of rooms on a level (or a block fanned out into
thousands of copies) builds in seconds: every search for pairs goes through a shapely STRtree
(doors to spaces, neighbouring spaces, equipment to hallway walls, stairs across levels, each
node's nearest in a large space), never every pair.

* An outline drawn more than once on a level (the same to :data:`OUTLINE_GRID_M`) is one
  space; the copies are recorded in :attr:`WalkNetwork.duplicates` and walked as the one kept.
* Each space is tested for a shared wall with at most :data:`MAX_NEIGHBOURS` others (the
  nearest, hallways first); a pair counts when either side finds it, so a hallway with more
  rooms along it still meets each of them, and outlines piled almost on one spot cost a bounded
  number of tests each.
* Cut-off parts are rejoined greedily over a heap of their walls (see
  :meth:`WalkNetwork._reconnect`), not by rescanning every wall per join.
* A space with more than :data:`YAO_EXACT_NODES` nodes takes its Yao candidates from each
  node's :data:`YAO_NEAREST` nearest only.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import nearest_points
from shapely.strtree import STRtree

from gridmap.model import Amenity, AmenityKind, Level, Opening, Unit

WALKWAY = "walkway"
STAIRS = "stairs"
ELEVATOR = "elevator"
_OPEN_KINDS = (WALKWAY, STAIRS, ELEVATOR)  # spaces open to a hallway they meet
_SHAFT_KINDS = (STAIRS, ELEVATOR)  # spaces that join levels
#: a door this close to a space's outline opens into it (door blocks sit on the wall centre)
DOOR_SNAP_M = 0.75
#: spaces whose outlines run this close are neighbours (drawn walls are 0.1-0.4 m apart)
WALL_GAP_M = 0.6
#: a shared wall shorter than this is a touching corner, not a way through
MIN_OPENING_M = 0.8
#: one floor up or down costs this many metres of level walking, plus the flight's plan length
FLOOR_PENALTY_M = 5.0
#: taking an elevator costs this much level walking once (waiting, doors): stairs win unless
#: they are much further away, as they should for anyone leaving in an emergency
ELEVATOR_WAIT_M = 40.0
#: plan length of a flight for a stairwell point with no stairs unit around it
DEFAULT_FLIGHT_M = 10.0
#: stairwell or elevator points this close on adjacent levels are the same shaft
SAME_SHAFT_M = 3.0
#: equipment this close to a hallway's outline hangs on its wall
ON_WALL_M = 0.5
#: a point this far outside every space (a label on a wall, a cabinet in the wall) still
#: counts as in the nearest space
ATTACH_M = 3.0
#: outlines that agree to this grid are one outline drawn twice (a stacked copy)
OUTLINE_GRID_M = 0.01
#: a space is tested for a shared wall with at most this many others (see _neighbour_pairs)
MAX_NEIGHBOURS = 32
#: a space with more nodes than this is walked over a Yao graph, not every visible pair
FULL_VISIBILITY_NODES = 40
YAO_CONES = 16
YAO_TRIES = 3  # nearest candidates per direction tested for visibility
#: up to this many nodes in a space, every other node is a Yao candidate; above, the nearest
#: :data:`YAO_NEAREST` only (found through a spatial index)
YAO_EXACT_NODES = 400
YAO_NEAREST = 64
#: in such a space, nodes this close are on one spot: one takes part, the others hang on it
SAME_SPOT_M = 0.001
_INSIDE_EPS_M = 0.05
_QUERY_BATCH = 256  # spaces whose neighbours are looked up in one bulk STRtree query
#: origins remembered per building, each as 12 bytes per door and point of interest (a
#: building of 3,000 doors: 74 MB at most)
_ORIGIN_CACHE = 2048

Node = int
#: a wall's rank when reconnecting cut-off parts, smallest first (a min-heap)
_WallKey = tuple[bool, bool, int, float]
#: the way from an origin to each door and point of interest (in :attr:`WalkNetwork._targets`
#: order): metres (infinite where not reached) and the stairs taken first (an index into
#: :attr:`WalkNetwork._via_names`, -1 for none)
_Reached = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class Route:
    """A way from an origin to a target: metres, how measured, and the stairs taken first."""

    distance_m: float
    walking: bool
    via: str | None = None


@dataclass(slots=True)
class _Space:
    unit: Unit
    shape: Polygon
    inside: BaseGeometry  # the outline grown by a hair, prepared: segment-inside tests
    nodes: list[tuple[Node, Point]] = field(default_factory=list)  # (node, where in this space)
    corners: list[tuple[Node, Point]] = field(default_factory=list)  # reflex corners
    _grown: BaseGeometry | None = None

    @property
    def grown(self) -> BaseGeometry:
        """The outline grown by :data:`WALL_GAP_M`: what a neighbour's wall runs along."""
        if self._grown is None:
            self._grown = self.shape.buffer(WALL_GAP_M, join_style="mitre")
        return self._grown


@dataclass(frozen=True, slots=True)
class _Edge:
    to: Node
    cost: float
    via: str | None = None  # set on stair/elevator edges between levels


class WalkNetwork:
    """One building's walkable network; see the module docstring."""

    def __init__(self, building_id: str, levels: Sequence[Level], units: Sequence[Unit],
                 openings: Sequence[Opening], amenities: Sequence[Amenity],
                 shapes: Mapping[str, BaseGeometry]) -> None:
        self.building_id = building_id
        self.levels = {lv.id: lv for lv in levels if lv.building_id == building_id}
        units = [u for u in units if u.building_id == building_id and u.level_id in self.levels
                 and not u.approximate  # a label's extent box is no space to walk
                 and isinstance(shapes.get(u.id), Polygon) and not shapes[u.id].is_empty
                 and shapes[u.id].is_valid]  # a broken outline is left out, not walked
        self.walkable = any(u.category == WALKWAY for u in units)
        self._adj: list[list[_Edge]] = []
        self._where: list[tuple[str, Point]] = []  # node -> (level id, point)
        self.feature_node: dict[str, Node] = {}
        self._spaces: dict[str, list[_Space]] = {lid: [] for lid in self.levels}
        self._trees: dict[str, STRtree] = {}
        self._stairs: dict[str, list[tuple[str, Point]]] = {lid: [] for lid in self.levels}
        self._lock = threading.Lock()
        self._geos_lock = threading.Lock()
        #: rooms reached through a wall, their door to the hallway not being drawn
        self.through_walls: set[str] = set()
        self._cache: dict[tuple[str, float, float], _Reached] = {}
        self._exit_cache: dict[tuple[str, float, float], list[tuple[float, float, Route]]] = {}
        #: units whose outline repeats another's on the level (stacked copies): walked as it
        self.duplicates: dict[str, str] = {}
        kept = _distinct_outlines(units, shapes, self.duplicates)
        for u in kept:
            shape = shapes[u.id]
            assert isinstance(shape, Polygon)
            self._spaces[u.level_id].append(_Space(
                u, shape, _prepared(shape.buffer(_INSIDE_EPS_M))))
        for lid, spaces in self._spaces.items():
            self._trees[lid] = STRtree([s.shape for s in spaces])
        openings = [o for o in openings if o.building_id == building_id
                    and o.level_id in self.levels and _finite(_point(shapes, o.id))]
        amenities = [a for a in amenities if _finite(_point(shapes, a.id))]
        self._stair_names(units, amenities, shapes)
        #: the building's exterior doors: (opening id, level id, where)
        self.exits = [(o.id, o.level_id, _point(shapes, o.id)) for o in openings if o.exterior]
        self._door_ids = {o.id for o in openings}
        self._targets: dict[str, int] = {}
        self._via_names: list[str] = []
        self._via_index: dict[str, int] = {}
        if not self.walkable:
            return
        self._build(openings, amenities, shapes)
        self._targets = {fid: k for k, fid in enumerate(self.feature_node)}
        self._via_names = sorted({e.via for edges in self._adj for e in edges if e.via})
        self._via_index = {name: k for k, name in enumerate(self._via_names)}

    # --- building ---------------------------------------------------------------------------

    def _node(self, level_id: str, p: Point) -> Node:
        self._adj.append([])
        self._where.append((level_id, p))
        return len(self._adj) - 1

    def _link(self, a: Node, b: Node, cost: float, via: str | None = None) -> None:
        self._adj[a].append(_Edge(b, cost, via))
        self._adj[b].append(_Edge(a, cost, via))

    def _place(self, space: _Space, node: Node, p: Point) -> None:
        """Put ``node`` (standing at ``p``) into ``space``: snapped inside when just outside."""
        if shapely.covers(space.inside, p):
            space.nodes.append((node, p))
            return
        q = nearest_points(space.shape, p)[0]
        snapped = self._node(self._where[node][0], q)
        self._link(node, snapped, p.distance(q))
        space.nodes.append((snapped, q))

    def _build(self, doors: list[Opening], amenities: Sequence[Amenity],
               shapes: Mapping[str, BaseGeometry]) -> None:
        doors_on: dict[str, list[Opening]] = {}
        for o in doors:
            doors_on.setdefault(o.level_id, []).append(o)
        points_on: dict[str, list[Amenity]] = {}
        for a in amenities:
            if a.level_id is not None:
                points_on.setdefault(a.level_id, []).append(a)
        for lid, spaces in self._spaces.items():
            tree = self._trees[lid]
            joined: set[tuple[int, int]] = set()
            has_door: set[int] = set()
            for o in doors_on.get(lid, []):
                p = _point(shapes, o.id)
                node = self.feature_node[o.id] = self._node(lid, p)
                touching = _door_sides(p, spaces, tree)
                if not touching:  # a door drawn off every wall: the space nearest to it
                    near = tree.query_nearest(p, max_distance=ATTACH_M)
                    touching = [int(near[0])] if len(near) else []
                for i in touching:
                    self._place(spaces[i], node, p)
                    has_door.add(i)
                joined.update((min(i, j), max(i, j))
                              for i, j in itertools.combinations(touching, 2))
            self._open_walls(lid, spaces, _neighbour_pairs(spaces, tree), joined, has_door)
            self._attach_points(lid, spaces, points_on.get(lid, []), shapes)
        self._link_levels(amenities, shapes)
        for spaces in self._spaces.values():
            for s in spaces:
                self._walk_inside(s)

    def _open_walls(self, lid: str, spaces: list[_Space], pairs: list[tuple[int, int]],
                    joined: set[tuple[int, int]], has_door: set[int]) -> None:
        """Open walls: a hallway to the hallways, stairs and elevators it meets; a doorless room
        to its hallway; then every part of the level cut off from the hallways (a room whose
        door to the hallway was not drawn, a lobby with no door to its gym) through its best
        wall (see :meth:`_reconnect`). ``pairs`` are the level's neighbours (spaces within
        :data:`WALL_GAP_M`, see :func:`_neighbour_pairs`)."""
        opened: list[tuple[int, int, int, int]] = []  # (space met first, order, space, other)
        for order, (i, j) in enumerate(pairs):
            ci, cj = spaces[i].unit.category, spaces[j].unit.category
            open_pair = WALKWAY in (ci, cj) and ci in _OPEN_KINDS and cj in _OPEN_KINDS
            if open_pair or (ci not in _OPEN_KINDS and i not in has_door and cj == WALKWAY):
                opened.append((i, order, i, j))  # met first from the lower, or the room
            elif cj not in _OPEN_KINDS and j not in has_door and ci == WALKWAY:
                opened.append((j, order, j, i))
        for _, _, i, j in sorted(opened):
            pair = (min(i, j), max(i, j))
            if pair in joined:
                continue
            s, other = spaces[i], spaces[j]
            if self._join_by_wall(lid, s, other):
                joined.add(pair)
                if s.unit.category not in _OPEN_KINDS:
                    self.through_walls.add(s.unit.id)
        self._reconnect(lid, spaces, pairs, joined)

    def _reconnect(self, lid: str, spaces: list[_Space], pairs: list[tuple[int, int]],
                   joined: set[tuple[int, int]]) -> None:
        """Join each part of a level that holds no hallway to a neighbouring part, one wall at a
        time: to a part with a hallway first, through the cut-off space with the most doors (a
        gym, not its store room), then the longest shared wall.

        Greedy over a heap of the walls that touch a cut-off part: a wall's rank changes only
        when a part gains a hallway or one of its two spaces gains a node, and then it is
        pushed again (stale entries are dropped when popped), so each step is a few heap
        operations, not a scan of every wall on the level.
        """
        parent = list(range(len(spaces)))
        members: dict[int, list[int]] = {i: [i] for i in range(len(spaces))}
        hall = [s.unit.category == WALKWAY for s in spaces]  # per root: the part has a hallway

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        def union(i: int, j: int) -> None:
            ri, rj = root(i), root(j)
            if ri == rj:
                return
            if len(members[ri]) < len(members[rj]):
                ri, rj = rj, ri
            parent[rj] = ri
            members[ri].extend(members.pop(rj))
            hall[ri] = hall[ri] or hall[rj]

        for i, j in joined:
            union(i, j)
        if all(hall[root(i)] for i in range(len(spaces))):
            return  # every space reaches a hallway already
        walls: list[tuple[int, int, float]] = []  # (i, j, shared wall length), i < j
        touching: dict[int, list[int]] = {}  # space -> its walls
        # both sides reaching a hallway already always will: only walls touching a cut-off part
        near = [(i, j) for i, j in pairs if not (hall[root(i)] and hall[root(j)])]
        for (i, j), length in zip(near, _shared_walls(spaces, near), strict=True):
            if length >= MIN_OPENING_M:
                touching.setdefault(i, []).append(len(walls))
                touching.setdefault(j, []).append(len(walls))
                walls.append((i, j, length))

        def ranked(w: int) -> tuple[_WallKey, int, int] | None:
            """(key, cut-off side, other side) of wall ``w`` now; None when it joins nothing.
            The rank: to a part with a hallway, to a hallway, the cut-off side's nodes, the
            wall's length; the highest first."""
            i, j, length = walls[w]
            ri, rj = root(i), root(j)
            if ri == rj or (hall[ri] and hall[rj]):
                return None
            if hall[ri]:  # i on the hallway side, j cut off
                i, j, ri, rj = j, i, rj, ri
            return (not hall[rj], spaces[j].unit.category != WALKWAY, -len(spaces[i].nodes),
                    -length), i, j

        heap: list[tuple[_WallKey, int]] = []  # ties go to the wall found first
        pushed: list[_WallKey | None] = [None] * len(walls)  # each wall's latest entry

        def push(w: int) -> None:
            found = ranked(w)
            key = None if found is None else found[0]
            if key is not None and key != pushed[w]:
                heapq.heappush(heap, (key, w))
            pushed[w] = key

        for w in range(len(walls)):
            push(w)
        while heap:
            key, w = heapq.heappop(heap)
            if key != pushed[w]:
                continue  # re-ranked since: its newer entry stands
            found = ranked(w)
            if found is None or found[0] != key:
                push(w)
                continue
            _, i, j = found
            ri, rj = root(i), root(j)
            self._join_by_wall(lid, spaces[i], spaces[j])
            self.through_walls.add(spaces[i].unit.id)
            joined.add((min(i, j), max(i, j)))
            # what changed a wall's rank: a part that gained a hallway (its every space), or,
            # two cut-off parts merging, the node each of the two spaces gained
            changed = list(members[ri]) if hall[rj] and not hall[ri] else [i, j]
            union(i, j)
            for w2 in {w2 for k in changed for w2 in touching.get(k, ())}:
                push(w2)

    def _join_by_wall(self, lid: str, a: _Space, b: _Space) -> bool:
        """Join two spaces at the middle of their longest shared stretch of wall, if any."""
        shared = a.shape.boundary.intersection(b.grown)
        pieces = _lines(shared)
        if not pieces:
            return False
        longest = max(pieces, key=lambda g: g.length)
        if longest.length < MIN_OPENING_M:
            return False
        p = longest.interpolate(0.5, normalized=True)
        node = self._node(lid, p)
        self._place(a, node, p)
        self._place(b, node, p)
        return True

    def _attach_points(self, lid: str, spaces: list[_Space], amenities: Sequence[Amenity],
                       shapes: Mapping[str, BaseGeometry]) -> None:
        tree = self._trees[lid]
        for a in amenities:
            if a.level_id != lid or a.building_id not in (None, self.building_id):
                continue
            p = _point(shapes, a.id)
            # equipment on a hallway wall is reached from the hallway, not the room behind it
            halls = [spaces[int(i)] for i in tree.query(p, predicate="dwithin",
                                                          distance=ON_WALL_M)
                     if spaces[int(i)].unit.category == WALKWAY]
            space = min(halls, key=lambda h: h.shape.distance(p)) if halls \
                else self._space_at(lid, p)
            if space is None:
                continue
            node = self.feature_node[a.id] = self._node(lid, p)
            self._place(space, node, p)

    def _space_at(self, lid: str, p: Point) -> _Space | None:
        spaces = self._spaces.get(lid, [])
        if not spaces:
            return None
        tree = self._trees[lid]
        inside = [spaces[int(i)] for i in tree.query(p, predicate="intersects")]
        if inside:  # the smallest: a closet inside a classroom outline is the closet
            return min(inside, key=lambda s: s.shape.area)
        i = tree.query_nearest(p, max_distance=ATTACH_M)
        return spaces[int(i[0])] if len(i) else None

    def _stair_names(self, units: Sequence[Unit], amenities: Sequence[Amenity],
                     shapes: Mapping[str, BaseGeometry]) -> None:
        for u in units:
            if u.category in _SHAFT_KINDS:
                self._stairs[u.level_id].append((_stair_name(u), shapes[u.id].centroid))
        for a in amenities:
            if a.kind in (AmenityKind.STAIRWELL, AmenityKind.ELEVATOR) and \
                    a.level_id in self._stairs:
                where = _point(shapes, a.id)
                self._stairs[a.level_id].append((a.name or a.kind.display_name, where))

    def _link_levels(self, amenities: Sequence[Amenity],
                     shapes: Mapping[str, BaseGeometry]) -> None:
        by_ordinal = sorted(self.levels.values(), key=lambda lv: lv.ordinal)
        stops: dict[str, Node] = {}  # where a flight or a ride starts, per stairs/elevator

        def stop(key: str, lid: str, at: Point, space: _Space | None, node: Node | None,
                 elevator: bool) -> Node:
            """The node a vertical edge leaves from: a stairs unit's middle, or a lift car
            reached from its landing for :data:`ELEVATOR_WAIT_M` (half on, half off)."""
            found = stops.get(key)
            if found is not None:
                return found
            if node is None:
                node = self._node(lid, at)
                if space is not None:
                    space.nodes.append((node, at))
            if elevator:
                car = self._node(lid, at)
                self._link(node, car, ELEVATOR_WAIT_M / 2)
                node = car
            stops[key] = node
            return node

        shafts = [a for a in amenities if a.kind in (AmenityKind.STAIRWELL, AmenityKind.ELEVATOR)
                  and a.id in self.feature_node]
        for lower, upper in itertools.pairwise(by_ordinal):
            # stairs (elevator) units overlapping stairs (an elevator) in plan
            above = self._spaces[upper.id]
            for s in (s for s in self._spaces[lower.id] if s.unit.category in _SHAFT_KINDS):
                over = sorted(int(k) for k in self._trees[upper.id].query(
                    s.shape, predicate="intersects"))
                for t in (above[k] for k in over if above[k].unit.category == s.unit.category):
                    overlap = s.shape.intersection(t.shape).area
                    if overlap < 0.3 * min(s.shape.area, t.shape.area):
                        continue
                    lift = s.unit.category == ELEVATOR
                    down = stop(s.unit.id, lower.id, s.shape.representative_point(), s, None,
                                lift)
                    up = stop(t.unit.id, upper.id, t.shape.representative_point(), t, None,
                              lift)
                    flight = 0.0 if lift else _flight_length(s.shape, t.shape)
                    self._link(down, up, FLOOR_PENALTY_M + flight, _stair_name(s.unit))
            # stairwell and elevator points of the same name or shaft
            ups = [b for b in shafts if b.level_id == upper.id]
            up_tree = STRtree([_point(shapes, b.id) for b in ups])
            up_named: dict[str, list[int]] = {}
            for k, b in enumerate(ups):
                if b.name:
                    up_named.setdefault(b.name.casefold(), []).append(k)
            for a in (a for a in shafts if a.level_id == lower.id):
                pa = _point(shapes, a.id)
                near = {int(k) for k in up_tree.query(pa, predicate="dwithin",
                                                      distance=SAME_SHAFT_M)}
                near.update(up_named.get(a.name.casefold(), []) if a.name else [])
                for b in (ups[k] for k in sorted(near) if ups[k].kind is a.kind):
                    pb = _point(shapes, b.id)
                    if pa.distance(pb) > SAME_SHAFT_M and \
                            (not a.name or a.name.casefold() != b.name.casefold()):
                        continue
                    lift = a.kind is AmenityKind.ELEVATOR
                    flight = 0.0
                    if not lift:
                        room = self._space_at(lower.id, pa)
                        flight = (_flight_length(room.shape, room.shape)
                                  if room is not None and room.unit.category == STAIRS
                                  else DEFAULT_FLIGHT_M)
                    down = stop(a.id, lower.id, pa, None, self.feature_node[a.id], lift)
                    up = stop(b.id, upper.id, pb, None, self.feature_node[b.id], lift)
                    self._link(down, up, FLOOR_PENALTY_M + flight,
                               a.name or a.kind.display_name)

    def _walk_inside(self, s: _Space) -> None:
        """Edges between the nodes of a space: straight when inside, else round its corners.

        Up to :data:`FULL_VISIBILITY_NODES` nodes every pair that sees each other is joined
        (exact shortest paths). A bigger space (a long corridor with a hundred doors) joins each
        node to the nearest node it sees in each of :data:`YAO_CONES` directions (a Yao graph),
        which keeps the graph small and lengthens paths by a percent or two at most in a
        corridor; exactness is traded for answers that stay fast in a large school.
        """
        if not s.nodes:  # nothing to reach in it (an origin in it reaches nothing either)
            return
        lid = s.unit.level_id
        # corners even for one node: an origin in the space may have to walk round to it
        s.corners = [(self._node(lid, c), c) for c in _reflex_corners(s.shape)]
        everything = [*s.nodes, *s.corners]
        if len(everything) <= FULL_VISIBILITY_NODES:
            pairs = [(i, j) for i, j in itertools.combinations(range(len(everything)), 2)
                     if everything[i][0] != everything[j][0]]
            seen = _sees(s.inside, [_segment(everything[i][1], everything[j][1])
                                    for i, j in pairs])
            for (i, j), ok in zip(pairs, seen, strict=True):
                if ok:
                    self._join(everything[i], everything[j])
            return
        xy = np.array([(p.x, p.y) for _, p in everything])
        ids = np.arange(len(everything))
        if len(everything) > YAO_EXACT_NODES:
            # nodes on one spot (rooms piled there, each joined through the same wall): one
            # of them takes part in the Yao graph, the others hang on it
            _, first, spot = np.unique(np.round(xy / SAME_SPOT_M), axis=0, return_index=True,
                                       return_inverse=True)
            for i, k in enumerate(first[spot.ravel()].tolist()):
                if k != i and everything[i][0] != everything[k][0]:
                    self._join(everything[i], everything[k])
            ids = np.sort(first)
        candidates = [(int(ids[i]), int(ids[j]), c) for i, j, c in _yao_candidates(xy[ids])]
        seen = _sees(s.inside, [_segment(everything[i][1], everything[j][1])
                                for i, j, _ in candidates])
        chosen: set[tuple[int, int]] = set()
        filled: set[tuple[int, int]] = set()  # (node, cone) with its nearest visible found
        for (i, j, cone), ok in zip(candidates, seen, strict=True):  # nearest first per cone
            if ok and (i, cone) not in filled:
                filled.add((i, cone))
                chosen.add((min(i, j), max(i, j)))
        for i, j in sorted(chosen):
            if everything[i][0] != everything[j][0]:
                self._join(everything[i], everything[j])

    def _join(self, a: tuple[Node, Point], b: tuple[Node, Point]) -> None:
        self._link(a[0], b[0], a[1].distance(b[1]))

    # --- asking -----------------------------------------------------------------------------

    def route(self, origin: Point, level_id: str, target_id: str) -> Route | None:
        """The walk from ``origin`` on ``level_id`` to a door or point of interest, or None
        when either end is off the network."""
        k = self._targets.get(target_id)
        if not self.walkable or level_id not in self.levels or k is None:
            return None
        metres, via = self._from(origin, level_id)
        if not math.isfinite(metres[k]):
            return None
        return Route(float(metres[k]), True, self._via_names[via[k]] if via[k] >= 0 else None)

    def to_exits(self, origin: Point, level_id: str) -> list[tuple[float, float, Route]]:
        """Every exterior door of the building, (x, y, the way to it from ``origin``): walked
        where the network reaches it, else the straight line (naming the nearest stairs when
        the door is on another level). Cached per origin."""
        key = (level_id, origin.x, origin.y)
        hit = self._exit_cache.get(key)
        if hit is not None:
            return hit
        found: list[tuple[float, float, Route]] = []
        for door_id, door_level, where in self.exits:
            route = self.route(origin, level_id, door_id)
            if route is None:
                via = None if door_level == level_id else self.nearest_stairs(origin, level_id)
                route = Route(origin.distance(where), False, via)
            found.append((where.x, where.y, route))
        with self._lock:
            if len(self._exit_cache) >= _ORIGIN_CACHE:
                self._exit_cache.clear()
            self._exit_cache[key] = found
        return found

    def nearest_stairs(self, origin: Point, level_id: str) -> str | None:
        """The stairs or elevator on a level closest to ``origin`` in a straight line."""
        options = self._stairs.get(level_id, [])
        if not options:
            return None
        return min(options, key=lambda s: origin.distance(s[1]))[0]

    def _from(self, origin: Point, level_id: str) -> _Reached:
        key = (level_id, origin.x, origin.y)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._walk_from(origin, level_id)
            with self._lock:
                if len(self._cache) >= _ORIGIN_CACHE:
                    self._cache.clear()
                self._cache[key] = hit
        return hit

    def _walk_from(self, origin: Point, level_id: str) -> _Reached:
        metres = np.full(len(self._targets), np.inf)
        vias = np.full(len(self._targets), -1, dtype=np.int32)
        space = self._space_at(level_id, origin)
        if space is None or not space.nodes:  # off the network: nothing reached
            return metres, vias
        candidates = [*space.nodes, *space.corners]
        with self._geos_lock:  # GEOS prepared geometries are not safe to share across threads
            seen = _sees(space.inside, [(origin.x, origin.y, p.x, p.y) for _, p in candidates])
        starts = [(origin.distance(p), node)
                  for (node, p), ok in zip(candidates, seen, strict=True) if ok]
        if not starts:  # an origin just outside its space (a label on a wall): the nearest node
            node, p = min(space.nodes, key=lambda n: origin.distance(n[1]))
            starts.append((origin.distance(p), node))
        dist, via = _dijkstra(self._adj, starts)
        for fid, k in self._targets.items():
            n = self.feature_node[fid]
            if n in dist:
                metres[k] = dist[n]
                taken = via[n]
                vias[k] = -1 if taken is None else self._via_index[taken]
        return metres, vias

    def summary(self) -> str:
        """One line on how distances in the building are measured, for an import report."""
        spaces = [sp for level in self._spaces.values() for sp in level]
        rooms = [sp for sp in spaces if sp.unit.category not in _OPEN_KINDS]
        if not self.walkable:
            return (f"no hallways (no unit is a hall, corridor or lobby): straight-line "
                    f"distances for its {len(rooms)} rooms")
        shafts = {_stair_name(sp.unit) for sp in spaces if sp.unit.category in _SHAFT_KINDS}
        shafts |= {name for level in self._stairs.values() for name, _ in level}
        doors = sum(1 for fid in self.feature_node if fid in self._door_ids)
        head = (f"walking distances over {len(self.levels)} level(s): "
                f"{sum(sp.unit.category == WALKWAY for sp in spaces)} hallway space(s), "
                f"{doors} door(s)")
        if len(self.levels) > 1:
            head += f", stairs/lifts: {', '.join(sorted(shafts)) or 'none'}"
        parts = [head]
        if len(self.levels) > 1 and not shafts:
            parts.append("no stairs or lift joins its levels: other levels by straight line")
        if self.through_walls:
            parts.append(f"{len(self.through_walls)} of {len(rooms)} rooms reached through a "
                         "hallway wall (no door drawn)")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} outline(s) drawn again on the same spot as "
                         "another: walked as the one kept")
        unreached = self._unreached(spaces)
        if unreached:
            parts.append(f"{len(unreached)} room(s) not reached by walking (straight line): "
                         + ", ".join(sorted(unreached)[:8]))
        return "; ".join(parts)

    def _unreached(self, spaces: list[_Space]) -> list[str]:
        seen: set[Node] = set()
        todo = [n for sp in spaces if sp.unit.category == WALKWAY for n, _ in sp.nodes]
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            todo.extend(e.to for e in self._adj[n] if e.to not in seen)
        return [sp.unit.number or sp.unit.name for sp in spaces
                if sp.unit.category not in _OPEN_KINDS
                and not any(n in seen for n, _ in sp.nodes)]

    @property
    def size(self) -> tuple[int, int]:
        """(nodes, edges) of the graph."""
        return len(self._adj), sum(len(e) for e in self._adj) // 2


def _dijkstra(adj: list[list[_Edge]], starts: Iterable[tuple[float, Node]]
              ) -> tuple[dict[Node, float], dict[Node, str | None]]:
    """Shortest distances from several start nodes, and the first stairs taken on each path."""
    dist: dict[Node, float] = {}
    via: dict[Node, str | None] = {}
    heap: list[tuple[float, int, Node, str | None]] = []
    tie = itertools.count()
    for d, n in starts:
        heapq.heappush(heap, (d, next(tie), n, None))
    while heap:
        d, _, n, v = heapq.heappop(heap)
        if n in dist:
            continue
        dist[n] = d
        via[n] = v
        for e in adj[n]:
            if e.to not in dist:
                heapq.heappush(heap, (d + e.cost, next(tie), e.to, v or e.via))
    return dist, via


def _distinct_outlines(units: Sequence[Unit], shapes: Mapping[str, BaseGeometry],
                       duplicates: dict[str, str]) -> list[Unit]:
    """The units whose outlines differ (to :data:`OUTLINE_GRID_M`) from every other's on their
    level, in their order. A stacked copy (a block fanned out onto one spot) is left out and
    recorded in ``duplicates`` (its id -> the kept unit's id, a hallway, stairs or elevator
    kept before a room): walking inside it is walking inside the one kept."""
    if not units:
        return []
    outlines = np.array([shapes[u.id] for u in units], dtype=object)
    keys = shapely.to_wkb(shapely.normalize(shapely.set_precision(
        outlines, OUTLINE_GRID_M, mode="pointwise")))
    kept: dict[tuple[str, bytes], int] = {}
    for n, (u, key) in enumerate(zip(units, keys, strict=True)):
        first = kept.setdefault((u.level_id, bytes(key)), n)
        if _keep_rank(u) < _keep_rank(units[first]):
            kept[(u.level_id, bytes(key))] = n
    chosen = set(kept.values())
    for n, (u, key) in enumerate(zip(units, keys, strict=True)):
        if n not in chosen:
            duplicates[u.id] = units[kept[(u.level_id, bytes(key))]].id
    return [u for n, u in enumerate(units) if n in chosen]


def _keep_rank(u: Unit) -> int:
    return _OPEN_KINDS.index(u.category) if u.category in _OPEN_KINDS else len(_OPEN_KINDS)


def _neighbour_pairs(spaces: list[_Space], tree: STRtree) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of spaces within :data:`WALL_GAP_M` of each other, in the order a
    walk over the spaces meets them (i, then the tree's order): one bulk box query on the
    spatial index, then the exact distance test on the pairs it found.

    No space is tested against more than :data:`MAX_NEIGHBOURS` others (the nearest boxes,
    hallways, stairs and lifts first): a pair is kept when either side finds it, so a corridor
    with more rooms along it than that still meets each of them (from the room's side), while
    outlines piled on one spot cost a bounded number of exact tests each.
    """
    if len(spaces) < 2:
        return []
    shapes = np.array([s.shape for s in spaces], dtype=object)
    bounds = shapely.bounds(shapes)
    grown = shapely.box(bounds[:, 0] - WALL_GAP_M, bounds[:, 1] - WALL_GAP_M,
                        bounds[:, 2] + WALL_GAP_M, bounds[:, 3] + WALL_GAP_M)
    opens = np.array([s.unit.category in _OPEN_KINDS for s in spaces])
    order: dict[tuple[int, int], tuple[int, int, int]] = {}
    for i, found in _box_hits(tree, grown):
        found = found[found != i]
        if len(found) > MAX_NEIGHBOURS:
            gap = _box_gap(bounds[i], bounds[found])
            keep = np.lexsort((~opens[found], gap))[:MAX_NEIGHBOURS]
            found = found[np.sort(keep)]
        for pos, j in enumerate(found.tolist()):
            pair = (i, j) if i < j else (j, i)
            key = (pair[0], 0 if i < j else 1, pos if i < j else i)
            if pair not in order or key < order[pair]:
                order[pair] = key
    if not order:
        return []
    ranked = sorted(order, key=order.__getitem__)
    a = np.array([i for i, _ in ranked])
    b = np.array([j for _, j in ranked])
    close = shapely.dwithin(shapes[a], shapes[b], WALL_GAP_M)
    return [pair for pair, ok in zip(ranked, close, strict=True) if ok]


def _box_hits(tree: STRtree, boxes: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(i, the tree's geometries whose boxes meet box i, in the tree's order), querying a
    batch of boxes at a time (what one batch finds stays in memory, not what all do)."""
    for start in range(0, len(boxes), _QUERY_BATCH):
        hits = tree.query(boxes[start:start + _QUERY_BATCH])
        cuts = np.flatnonzero(np.diff(hits[0])) + 1
        for block in np.split(hits, cuts, axis=1):
            if block.shape[1]:
                yield start + int(block[0, 0]), block[1]


def _box_gap(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Distance from one bounding box to each of several others (0 where they overlap)."""
    dx = np.maximum(0.0, np.maximum(others[:, 0] - box[2], box[0] - others[:, 2]))
    dy = np.maximum(0.0, np.maximum(others[:, 1] - box[3], box[1] - others[:, 3]))
    gap: np.ndarray = np.hypot(dx, dy)
    return gap


def _door_sides(p: Point, spaces: list[_Space], tree: STRtree) -> list[int]:
    """The spaces a door at ``p`` opens between: the two nearest within :data:`DOOR_SNAP_M`
    (and any as near as the second), not a neighbour whose wall merely runs close by, as a
    room's side wall does beside a door near its corner."""
    near = sorted((float(spaces[int(i)].shape.distance(p)), int(i))
                  for i in tree.query(p, predicate="dwithin", distance=DOOR_SNAP_M))
    if len(near) <= 2:
        return [i for _, i in near]
    second = near[1][0]
    return [i for d, i in near if d <= second + _INSIDE_EPS_M]


def _segment(a: Point, b: Point) -> tuple[float, float, float, float]:
    return (a.x, a.y, b.x, b.y)


def _yao_candidates(xy: np.ndarray) -> list[tuple[int, int, int]]:
    """(node, other node, cone) for the :data:`YAO_TRIES` nearest others of each node in each
    of :data:`YAO_CONES` equal directions, nearest first within a (node, cone).

    Up to :data:`YAO_EXACT_NODES` nodes every other node is looked at; in a bigger space only
    each node's :data:`YAO_NEAREST` nearest (found through a spatial index), so the work grows
    with the nodes, not their square.
    """
    found: list[tuple[int, int, int]] = []
    near = _nearest_others(xy, YAO_NEAREST) if len(xy) > YAO_EXACT_NODES else None
    everyone = np.arange(len(xy))
    for i in range(len(xy)):
        others = everyone if near is None else near[i]
        d = xy[others] - xy[i]
        dist = np.hypot(d[:, 0], d[:, 1])
        cone = ((np.arctan2(d[:, 1], d[:, 0]) + math.pi) / (2 * math.pi) * YAO_CONES)
        cone = np.minimum(cone.astype(int), YAO_CONES - 1)
        dist[others == i] = np.inf
        order = np.lexsort((dist, cone))
        cones = cone[order]
        starts = np.searchsorted(cones, np.arange(YAO_CONES))
        ends = np.searchsorted(cones, np.arange(YAO_CONES), side="right")
        for c in range(YAO_CONES):
            for k in order[starts[c]:min(ends[c], starts[c] + YAO_TRIES)]:
                if math.isfinite(dist[k]):
                    found.append((i, int(others[k]), c))
    return found


def _nearest_others(xy: np.ndarray, m: int) -> list[np.ndarray]:
    """Per point, the indices of the ``m`` points nearest it (itself excluded), by radius
    queries on an STRtree: every point starts at a millimetre and doubles its radius only
    while it finds too few, so a query returns at most about what lies within twice the
    distance to a point's ``m``-th nearest (a dense cluster costs little, as a sparse one).
    Points piled on one spot are each other's nearest at any radius: the caller
    (:meth:`WalkNetwork._walk_inside`) keeps one of a pile."""
    points = np.asarray(shapely.points(xy), dtype=object)
    tree = STRtree(points)
    span = float(np.hypot(*(xy.max(axis=0) - xy.min(axis=0))))
    radius = SAME_SPOT_M
    result: list[np.ndarray] = [np.empty(0, dtype=int)] * len(xy)
    todo = np.arange(len(xy))
    while len(todo):
        hits = tree.query(points[todo], predicate="dwithin", distance=radius)
        counts = np.bincount(hits[0], minlength=len(todo))
        enough = (counts > m) | (radius > span)
        cuts = np.split(hits[1], np.cumsum(counts)[:-1])
        for n in np.flatnonzero(enough):
            i = int(todo[n])
            found = cuts[n][cuts[n] != i]
            dist = np.hypot(*(xy[found] - xy[i]).T)
            result[i] = found[np.argsort(dist, kind="stable")[:m]]
        todo = todo[~enough]
        radius *= 2.0
    return result


def _prepared(geom: BaseGeometry) -> BaseGeometry:
    shapely.prepare(geom)
    return geom


def _sees(inside: BaseGeometry, segments: list[tuple[float, float, float, float]]) -> list[bool]:
    """Which segments (x0, y0, x1, y1) stay inside ``inside`` (a zero-length one always)."""
    if not segments:
        return []
    ends = np.asarray(segments, dtype=float)
    lines = shapely.linestrings(ends.reshape(-1, 2, 2))
    covered = shapely.covers(inside, lines)
    same = (ends[:, 0] == ends[:, 2]) & (ends[:, 1] == ends[:, 3])
    return [bool(v) for v in covered | same]


def _lines(geom: BaseGeometry) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom] if not geom.is_empty else []
    if isinstance(geom, MultiLineString):
        merged = shapely.line_merge(geom)
        return _lines(merged) if isinstance(merged, LineString) else \
            [g for g in merged.geoms if isinstance(g, LineString)]
    return [g for part in getattr(geom, "geoms", []) for g in _lines(part)]


def _reflex_corners(shape: Polygon) -> list[Point]:
    """Corners of an outline where the inside angle exceeds 180 degrees (where paths bend)."""
    shape = orient(shape, sign=1.0)  # inside on the left of every ring: reflex = right turn
    corners: list[Point] = []
    for ring in (shape.exterior, *shape.interiors):
        coords = list(ring.coords)[:-1]
        for i, (x, y) in enumerate(coords):
            px, py = coords[i - 1]
            nx, ny = coords[(i + 1) % len(coords)]
            if (x - px) * (ny - y) - (y - py) * (nx - x) < -1e-9:
                corners.append(Point(x, y))
    return corners


def _flight_length(a: Polygon, b: Polygon) -> float:
    """Plan length of a flight: the long side of the stairs' minimum rotated rectangle."""
    rect = a.intersection(b).minimum_rotated_rectangle if a is not b else \
        a.minimum_rotated_rectangle
    coords = list(getattr(rect, "exterior", rect).coords)
    if len(coords) < 3:
        return DEFAULT_FLIGHT_M
    sides = [math.dist(coords[i], coords[i + 1]) for i in range(len(coords) - 1)]
    return max(sides)


def _finite(p: Point) -> bool:
    return not p.is_empty and math.isfinite(p.x) and math.isfinite(p.y)


def _point(shapes: Mapping[str, BaseGeometry], feature_id: str) -> Point:
    p = shapes[feature_id]
    return p if isinstance(p, Point) else p.representative_point()


def _shared_walls(spaces: list[_Space], pairs: list[tuple[int, int]]) -> list[float]:
    """Per pair (i, j) of spaces, the longest stretch of i's outline running along j (grown by
    the wall gap); the outlines cut in one batch."""
    if not pairs:
        return []
    missing = sorted({j for _, j in pairs if spaces[j]._grown is None})
    if missing:
        grown = shapely.buffer(np.array([spaces[k].shape for k in missing], dtype=object),
                               WALL_GAP_M, join_style="mitre")
        for k, g in zip(missing, grown, strict=True):
            spaces[k]._grown = g
    a = shapely.boundary(np.array([spaces[i].shape for i, _ in pairs], dtype=object))
    b = np.array([spaces[j].grown for _, j in pairs], dtype=object)
    return [max((g.length for g in _lines(cut)), default=0.0)
            for cut in shapely.intersection(a, b)]


def _stair_name(u: Unit) -> str:
    default = "Elevator" if u.category == ELEVATOR else "Stairs"
    return u.name or (f"{default} {u.number}" if u.number else default)
