"""Candidates as a dispatcher reads them out: where a room, door, point, building, grounds
feature, grid cell or coordinate is (building, level, cells, USNG) and what is nearest it
(exterior doors, Knox box, AED, trauma kit, stairs), floor-aware where the index is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shapely.geometry import Point, Polygon

from gridmap import grid
from gridmap.errors import OutsideGrid
from gridmap.index import Nearby
from gridmap.lookup.answers import (
    FLAG_APPROXIMATE,
    FLAG_NO_DOORS,
    FLAG_STRAIGHT,
    Candidate,
    MatchKind,
    replace,
)
from gridmap.lookup.lexicon import CampusLexicon
from gridmap.lookup.scores import EXACT
from gridmap.model import AmenityKind, GroundsFeature, Unit
from gridmap.usng import to_usng

# cached answers per engine (rooms, doors, points, cells); cells beyond it are not kept
CONTEXT_CACHE_SIZE = 20_000


class Candidates:
    """Makes the candidates of one campus; the place-dependent part of each (label, cells,
    nearby doors and amenities) is built once and kept, callers get copies scored as read."""

    def __init__(self, lexicon: CampusLexicon) -> None:
        self.lexicon = lexicon
        self.index = lexicon.index
        self._context: dict[str, Candidate] = {}

    # --- candidates by kind ----------------------------------------------------------------

    def unit(self, unit: Unit, score: float, match: MatchKind,
             flags: tuple[str, ...] = ()) -> Candidate:
        base = self._memo_context(unit.id, lambda: self._build_unit_context(unit))
        return replace(base, score=score, match=match, flags=(*base.flags, *flags))

    def feature(self, feature_id: str, match: MatchKind, score: float, feature_type: str,
                name: str, building_id: str | None, level_id: str | None,
                kind: str | None) -> Candidate:
        base = self._memo_context(
            f"{feature_type}:{feature_id}:{name}",
            lambda: self._build_feature_context(feature_id, feature_type, name, building_id,
                                                level_id, kind))
        return replace(base, score=score, match=match)

    def building(self, building_id: str, score: float) -> Candidate:
        base = self._memo_context(f"building:{building_id}",
                                  lambda: self._build_building_context(building_id))
        return replace(base, score=score)

    def grounds(self, g: GroundsFeature, score: float) -> Candidate:
        base = self._memo_context(f"grounds:{g.id}", lambda: self._build_grounds_context(g))
        return replace(base, score=score)

    def cell(self, label: str, bounds: grid.Bounds) -> Candidate:
        """A grid cell or keypad sub-cell (``C4``, ``C4-7``) with what is nearest its centre."""
        key = f"cell:{label}"
        cached = self._context.get(key)
        if cached is None:
            b = bounds
            x, y = (b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2
            lon, lat = self.index.frame.lonlat(x, y)
            near = Point(x, y)
            cached = Candidate(
                score=EXACT, match=MatchKind.CELL, label=f"Grid cell {label}",
                feature_id=None, feature_type="cell", building_id=None, building_name=None,
                level_ordinal=None, level_name=None, unit_number=None, unit_name=None,
                kind=None, primary_cell=label.split("-")[0],
                subcell=label if "-" in label else None, cells=(label.split("-")[0],),
                usng=to_usng(lon, lat), lon=lon, lat=lat, campus_id=self.index.campus.id,
                **self._nearby_fields(near, None, None),
            )
            if len(self._context) < CONTEXT_CACHE_SIZE:
                self._context[key] = cached
                cached.nearby_dicts()
        return cached

    def point(self, lon: float, lat: float, match: MatchKind,
              score: float) -> Candidate | None:
        """A coordinate on the campus grid: its building and every level's room there."""
        ix = self.index
        x, y = ix.frame.xy(lon, lat)
        cell = ix.cell_of(x, y)
        if cell is None:
            return None
        sub = grid.subcell_at(ix.grid, x, y).label
        building = ix.building_at(x, y)
        units = ix.units_at(x, y)
        ground = [u for u in units if ix.levels[u.level_id].ordinal == 0]
        unit = (ground or units)[0] if units else None
        level = ix.levels[unit.level_id] if unit else None
        p = Point(x, y)
        where = []
        if building:
            where.append(f"Building {building.short_name} ({building.name})")
        for u in sorted(units, key=lambda u: ix.levels[u.level_id].ordinal):
            lv = ix.levels[u.level_id]
            where.append(f"{lv.name} · " + " ".join(
                s for s in (f"Room {u.number}" if u.number else "", u.name) if s))
        if not building:
            where.append("Outdoors")
        label = " · ".join([*where, f"grid {cell} ({sub})"])
        b_id = building.id if building else None
        level_id = unit.level_id if unit else None
        return Candidate(
            score=score, match=match, label=label, feature_id=unit.id if unit else None,
            feature_type="point", building_id=b_id,
            building_name=building.name if building else None,
            level_ordinal=level.ordinal if level else None,
            level_name=level.name if level else None,
            unit_number=(unit.number or None) if unit else None,
            unit_name=(unit.name or None) if unit else None, kind=None, primary_cell=cell,
            subcell=sub, cells=(cell,), usng=to_usng(lon, lat), lon=lon, lat=lat,
            campus_id=ix.campus.id, **self._nearby_fields(p, b_id, level_id),
        )

    @staticmethod
    def nearby(c: Candidate, n: Nearby, where: str) -> Candidate:
        """``c`` as found near ``where``: its label says how far, and how to get there."""
        how = "walking" if n.distance_kind == "walking" else "straight line"
        text = f"{c.label} · {n.distance_m:.0f} m {how} from {where}"
        if not n.same_level:
            text += f" · on {n.level_name or c.level_name}" + (f" via {n.via}" if n.via else "")
        return replace(c, label=text)

    # --- where things are ------------------------------------------------------------------

    def level_of(self, c: Candidate) -> str | None:
        fid = c.feature_id or ""
        lex = self.lexicon
        if fid in lex.units:
            return lex.units[fid].level_id
        if fid in lex.openings:
            return lex.openings[fid].level_id
        if fid in lex.amenities:
            return lex.amenities[fid].level_id
        return None

    def tie_broken(self, found: list[Nearby], origin: Point,
                   building_id: str | None) -> list[Nearby]:
        """As the index ranks them (own building, same level, distance), walks equal to the
        metre ordered by the straight line: the door in the room's own hall before one
        reached through a room."""
        return sorted(found, key=lambda n: (
            building_id is not None and n.building_id != building_id, not n.same_level,
            round(n.distance_m), origin.distance(self._where(n.feature_id))))

    def _where(self, feature_id: str) -> Any:
        """A feature's point in local metres: a room's label point, a door or point itself."""
        unit = self.lexicon.units.get(feature_id)
        return self.index.label_point(unit) if unit is not None \
            else self.index.shapes[feature_id]

    def doors_near(self, p: Point, building_id: str | None, level_id: str | None,
                   k: int = 3) -> list[Nearby]:
        return self.index.nearest_exterior_doors(p, building_id, k, level_id=level_id)

    def _amenity_near(self, kind: AmenityKind, p: Point, building_id: str | None,
                      level_id: str | None) -> Nearby | None:
        return self.index.nearest_amenity(kind, p, building_id, level_id=level_id)

    def amenities_near(self, kind: AmenityKind, p: Point, building_id: str | None,
                       level_id: str | None, k: int) -> list[Nearby]:
        return self.index.nearest_amenities(kind, p, building_id, k, level_id=level_id)

    # --- the place-dependent part, built once ----------------------------------------------

    def _memo_context(self, key: str, build: Callable[[], Candidate]) -> Candidate:
        """The place-dependent part of a candidate (label, cells, nearby doors and amenities),
        built once per engine and kept under ``key``; callers stamp score and match on a copy."""
        base = self._context.get(key)
        if base is None:
            base = self._context[key] = build()
            base.nearby_dicts()  # made once here, shared by every copy answered
        return base

    def _nearby_fields(self, p: Point, building_id: str | None, level_id: str | None,
                       own_kind: str | None = None, own_id: str | None = None
                       ) -> dict[str, Any]:
        def unless_self(kind: AmenityKind) -> Nearby | None:
            if own_kind == kind.value:
                return None
            return self._amenity_near(kind, p, building_id, level_id)

        doors = tuple(d for d in self.doors_near(p, building_id, level_id)
                      if d.feature_id != own_id)
        stairs = None
        if building_id is not None and own_kind != AmenityKind.STAIRWELL.value:
            stairs = self._amenity_near(AmenityKind.STAIRWELL, p, building_id, level_id)
            if stairs is not None and stairs.building_id != building_id:
                stairs = None
        fields: dict[str, Any] = {
            "nearest_doors": doors,
            "nearest_knox_box": unless_self(AmenityKind.KNOX_BOX),
            "nearest_aed": unless_self(AmenityKind.AED),
            "nearest_trauma_kit": unless_self(AmenityKind.TRAUMA_KIT),
            "nearest_stairs": stairs,
        }
        return fields

    @staticmethod
    def _distance_flags(building_id: str | None, nearby: dict[str, Any]) -> tuple[str, ...]:
        if building_id is None:
            return ()
        flags: list[str] = []
        doors: tuple[Nearby, ...] = nearby["nearest_doors"]
        if doors and all(d.building_id != building_id for d in doors):
            flags.append(FLAG_NO_DOORS)
        own = [n for n in (*doors, nearby["nearest_aed"], nearby["nearest_trauma_kit"])
               if n is not None and n.building_id == building_id]
        # within its own building a walk is measured where there are hallways
        straight = all(n.distance_kind != "walking" for n in own) if own else bool(flags)
        if straight:
            flags.append(FLAG_STRAIGHT)
        return tuple(flags)

    def _build_unit_context(self, unit: Unit) -> Candidate:
        ix = self.index
        p = ix.label_point(unit)
        primary, cells = ix.unit_cells(unit)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if primary else None
        lon, lat = ix.frame.lonlat(p.x, p.y)
        building = ix.buildings[unit.building_id]
        level = ix.levels[unit.level_id]
        approximate = bool(getattr(unit, "approximate", False))
        room = " ".join(x for x in (f"Room {unit.number}" if unit.number else "",
                                    unit.name.replace("\n", " ")) if x)
        label = (f"Building {building.short_name} ({building.name}) · {level.name} · {room}"
                 + (" · approximate location (label only, no outline)" if approximate else "")
                 + f" · grid {primary}" + (f" ({sub})" if sub else ""))
        nearby = self._nearby_fields(p, building.id, unit.level_id)
        flags = ((FLAG_APPROXIMATE,) if approximate else ()) + self._distance_flags(
            building.id, nearby)
        return Candidate(
            score=0.0, match=MatchKind.UNIT_NUMBER, label=label, feature_id=unit.id,
            feature_type="unit", building_id=building.id, building_name=building.name,
            level_ordinal=level.ordinal, level_name=level.name, unit_number=unit.number or None,
            unit_name=unit.name.replace("\n", " ") or None, kind=unit.category,
            primary_cell=primary, subcell=sub, cells=cells, usng=to_usng(lon, lat), lon=lon,
            lat=lat, campus_id=ix.campus.id, approximate=approximate, flags=flags, **nearby,
        )

    def _build_feature_context(self, feature_id: str, feature_type: str, name: str,
                               building_id: str | None, level_id: str | None,
                               kind: str | None) -> Candidate:
        ix = self.index
        p = ix.shapes[feature_id]
        lon, lat = ix.frame.lonlat(p.x, p.y)
        cell = ix.cell_of(p.x, p.y)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if cell else None
        building = ix.buildings.get(building_id) if building_id else None
        ordinal = ix.ordinal_of(level_id)
        if level_id:
            level_name = ix.levels[level_id].name
        else:
            level_name = "Outdoors" if building is None else ix.level_name(ordinal, building_id)
        where = [f"Building {building.short_name} ({building.name})"] if building else []
        place = f"grid {cell}" + (f" ({sub})" if sub else "")
        label = " · ".join([*where, level_name, name, place])
        nearby = self._nearby_fields(p, building_id, level_id, kind, feature_id)
        return Candidate(
            score=0.0, match=MatchKind.AMENITY, label=label, feature_id=feature_id,
            feature_type=feature_type, building_id=building_id,
            building_name=building.name if building else None, level_ordinal=ordinal,
            level_name=level_name, unit_number=None, unit_name=None, kind=kind,
            primary_cell=cell, subcell=sub, cells=(cell,) if cell else (), usng=to_usng(lon, lat),
            lon=lon, lat=lat, campus_id=ix.campus.id,
            flags=self._distance_flags(building_id, nearby), **nearby,
        )

    def _build_building_context(self, building_id: str) -> Candidate:
        ix = self.index
        b = ix.buildings[building_id]
        shape = ix.footprints[building_id]
        p = grid.label_point(shape)
        lon, lat = ix.frame.lonlat(p.x, p.y)
        cell = ix.cell_of(p.x, p.y)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if cell else None
        mains = [o for o in ix.campus.exterior_doors(building_id) if o.main_entrance]
        main_nearby = [ix.nearby(o.id, f"Door {o.number}" if o.number else "Main entrance",
                                 o.number, p, o.level_id, o.building_id) for o in mains]
        others = [d for d in self.doors_near(p, building_id, None)
                  if d.feature_id not in {o.id for o in mains}]
        doors = tuple([*main_nearby, *others][:3])
        entrance = (f" · main entrance {main_nearby[0].name} (grid {main_nearby[0].cell})"
                    if main_nearby else "")
        knox = ix.nearest_amenity(AmenityKind.KNOX_BOX, p, building_id)
        knox_text = (f" · Knox box grid {knox.cell}"
                     if knox is not None and knox.building_id == building_id else "")
        label = (f"Building {b.short_name} ({b.name}){entrance}{knox_text}"
                 f" · grid {cell}" + (f" ({sub})" if sub else ""))
        spanned = tuple(c.label for c in grid.cells_spanned(ix.grid, shape))
        return Candidate(
            score=0.0, match=MatchKind.BUILDING, label=label, feature_id=building_id,
            feature_type="building", building_id=building_id, building_name=b.name,
            level_ordinal=None, level_name=None, unit_number=None, unit_name=None,
            kind="building", primary_cell=cell, subcell=sub, cells=spanned,
            usng=to_usng(lon, lat), lon=lon, lat=lat, nearest_doors=doors,
            nearest_knox_box=knox, nearest_aed=ix.nearest_amenity(AmenityKind.AED, p, building_id),
            nearest_trauma_kit=ix.nearest_amenity(AmenityKind.TRAUMA_KIT, p, building_id),
            campus_id=ix.campus.id,
        )

    def _build_grounds_context(self, g: GroundsFeature) -> Candidate:
        ix = self.index
        shape = ix.frame.to_local(g.geometry)
        if isinstance(shape, Polygon) and shape.is_valid:
            p = grid.label_point(shape)
        elif shape.geom_type in ("LineString", "MultiLineString"):
            p = shape.interpolate(0.5, normalized=True)
        else:
            p = shape.representative_point()
        lon, lat = ix.frame.lonlat(p.x, p.y)
        cell = ix.cell_of(p.x, p.y)
        sub = grid.subcell_at(ix.grid, p.x, p.y).label if cell else None
        kind_name = g.kind.value.replace("_", " ")
        label = f"Outdoors · {g.name} ({kind_name})" + (
            f" · grid {cell}" + (f" ({sub})" if sub else "") if cell else " · outside the grid")
        try:
            spanned = tuple(c.label for c in grid.cells_spanned(ix.grid, shape))
        except (OutsideGrid, ValueError):
            spanned = (cell,) if cell else ()
        return Candidate(
            score=0.0, match=MatchKind.GROUNDS, label=label, feature_id=g.id,
            feature_type="grounds", building_id=None, building_name=None, level_ordinal=None,
            level_name="Outdoors", unit_number=None, unit_name=None, kind=g.kind.value,
            primary_cell=cell, subcell=sub, cells=spanned, usng=to_usng(lon, lat), lon=lon,
            lat=lat, campus_id=ix.campus.id, **self._nearby_fields(p, None, None),
        )
