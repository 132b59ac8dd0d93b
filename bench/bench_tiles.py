"""Tile rendering speed: cached per-campus drawing vs re-projecting the campus for every tile.

Run: ``python -m bench.bench_tiles`` (from the repository root). Prints tiles per second for

* ``cached``: :func:`tiles.raster.render_tile`, which projects the campus once
  (:class:`~tiles.raster.CampusDrawing`) and picks features per tile with STRtrees;
* ``uncached``: the peer, building a fresh ``CampusDrawing`` for every tile (what rendering
  straight from the model would cost);
* ``empty``: tiles away from the campus (the fast transparent path);

and the ratio cached/uncached measured in the same run, for the small test campus and for a
synthetic larger campus (12 buildings x 3 levels x 40 rooms).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

from shapely.geometry import Point, box

from gridmap import grid as gridlib
from gridmap.crs import LocalFrame, local_crs_for
from gridmap.model import (
    Amenity,
    AmenityKind,
    Building,
    Campus,
    LengthUnit,
    Level,
    Opening,
    Unit,
    stable_id,
)
from tests.campus_factory import CENTRE, small_campus
from tiles.raster import CampusDrawing, render_tile


def large_campus(buildings: int = 12, levels: int = 3, rooms: int = 40) -> Campus:
    """A synthetic campus: buildings in a row of rows, rooms on both sides of a corridor."""
    crs = local_crs_for(*CENTRE)
    frame = LocalFrame(crs)
    bs, lvs, units, doors, amenities = [], [], [], [], []
    per_side = rooms // 2
    width = per_side * 8.0
    for b in range(buildings):
        bx = (b % 4) * (width + 30.0) - 2 * (width + 30.0)
        by = (b // 4) * 60.0 - 60.0
        bid = f"B{b}"
        bs.append(Building(bid, f"Building {b}", bid, frame.to_wgs84(box(bx, by, bx + width,
                                                                          by + 30.0))))
        for o in range(levels):
            lv = Level(stable_id("bench", bid, o), bid, o, f"Level {o + 1}", str(o + 1))
            lvs.append(lv)
            for r in range(rooms):
                x0 = bx + (r % per_side) * 8.0
                y0 = by if r < per_side else by + 18.0
                units.append(Unit(stable_id("bench", bid, o, r), bid, lv.id, f"{o + 1}{r:02d}",
                                  f"Classroom {o + 1}{r:02d}",
                                  frame.to_wgs84(box(x0, y0, x0 + 8.0, y0 + 12.0))))
            units.append(Unit(stable_id("bench", bid, o, "hall"), bid, lv.id, "", "Hall",
                              frame.to_wgs84(box(bx, by + 12.0, bx + width, by + 18.0)),
                              category="hallway"))
            amenities.append(Amenity(stable_id("bench", bid, o, "aed"), AmenityKind.AED, "AED",
                                     frame.to_wgs84(Point(bx + 4.0, by + 15.0)), bid, lv.id))
        ground = lvs[-levels]
        for d in range(4):
            doors.append(Opening(stable_id("bench", bid, "door", d), bid, ground.id,
                                 frame.to_wgs84(Point(bx + d * width / 3.0, by)), True,
                                 d == 0, str(d + 1)))
    minx = min(frame.to_local(b.footprint).bounds[0] for b in bs) - 20
    maxx = max(frame.to_local(b.footprint).bounds[2] for b in bs) + 20
    spec = gridlib.grid_for_extent(gridlib.Bounds(minx, -80.0, maxx, 140.0), 25.0,
                                   LengthUnit.METRE)
    return Campus("bench", "Bench Campus", "", spec, crs, buildings=tuple(bs), levels=tuple(lvs),
                  units=tuple(units), openings=tuple(doors), amenities=tuple(amenities))


def campus_tiles(campus: Campus, z: int) -> list[tuple[int, int]]:
    """Every tile at zoom z that covers the campus grid."""
    frame = LocalFrame(campus.crs)
    ext = gridlib.extent(campus.grid)
    n = 1 << z
    xs, ys = [], []
    for x, y in ((ext.minx, ext.miny), (ext.maxx, ext.maxy)):
        lon, lat = frame.lonlat(x, y)
        xs.append(int((lon + 180.0) / 360.0 * n))
        ys.append(int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))
    return [(x, y) for x in range(min(xs), max(xs) + 1) for y in range(min(ys), max(ys) + 1)]


def rate(fn: Callable[[], object], min_seconds: float) -> tuple[float, int]:
    count = 0
    start = time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return count / elapsed, count


def bench(name: str, campus: Campus, z: int, seconds: float) -> None:
    tiles = campus_tiles(campus, z)
    it = iter(range(1 << 30))

    def cached() -> None:
        x, y = tiles[next(it) % len(tiles)]
        render_tile(campus, 0, z, x, y)

    def uncached() -> None:
        x, y = tiles[next(it) % len(tiles)]
        CampusDrawing(campus).render(0, z, x, y)

    def empty() -> None:
        x, y = tiles[next(it) % len(tiles)]
        render_tile(campus, 0, z, x + 50, y)

    render_tile(campus, 0, z, *tiles[0])  # warm the cache and the fonts
    r_cached, n1 = rate(cached, seconds)
    r_uncached, n2 = rate(uncached, seconds)
    r_empty, n3 = rate(empty, seconds)
    print(f"{name:>6} z{z} ({len(campus.units)} units, {len(tiles)} tiles): "
          f"cached {r_cached:7.1f} tiles/s ({n1}), uncached {r_uncached:7.1f} tiles/s ({n2}), "
          f"empty {r_empty:8.1f} tiles/s ({n3}); cached/uncached = {r_cached / r_uncached:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args()
    for z in (18, 20):
        bench("small", small_campus(), z, args.seconds)
        bench("large", large_campus(), z, args.seconds)


if __name__ == "__main__":
    main()
