"""How fast are map tiles, each figure a ratio against a peer measured in the same run.

1. **Cold tile, full style vs plain Mapnik.** Tiles of the sample campus (every tile over the
   campus at z19 and z20, both levels) drawn by :meth:`tiles.raster.CampusDrawing.render` with
   the full style (parcel, grounds, buildings, rooms, doors, safety symbols, building, room,
   grounds and grid labels with collision handling) vs Mapnik drawing only the rooms, their
   labels and the grid from the same projected features. No tile cache: each is drawn.
   Target: full / plain <= 1.5.
2. **Cached tile over HTTP vs a bare endpoint.** The real app under uvicorn (bearer token,
   authorisation, audit, ETag, revision-keyed tile cache) serving tiles it has drawn before vs a
   bare FastAPI endpoint returning the same PNG bytes, one keep-alive client each.
   Target: app / bare >= 0.9.

Each measurement is taken in turn in many short rounds; the medians of the per-round ratios
are printed (so the two sides of a ratio are always measured seconds apart).

Run: ``python -m bench.bench_tiles`` (``make bench``); ``--rounds`` and ``--requests`` tune it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fastapi import FastAPI, Response  # noqa: E402

from bench.bench_lookup import (  # noqa: E402
    bench_token,
    build_campus,
    rate,
    rate_and_cpu,
    uvicorn_server,
)

#: Environment variable naming the PNG file the bare endpoint serves.
BARE_TILE_ENV = "GRIDMAP_BENCH_TILE_PNG"


def bare_app() -> FastAPI:
    """The peer of the tile route: the same PNG bytes from the smallest FastAPI endpoint."""
    png = Path(os.environ[BARE_TILE_ENV]).read_bytes()
    app = FastAPI()

    @app.get("/tile.png")
    def tile() -> Response:
        return Response(png, media_type="image/png")

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


def campus_tiles(campus: Any, z: int) -> list[tuple[int, int]]:
    """Every tile at zoom z over the campus buildings."""
    n = 1 << z
    xs, ys = [], []
    for b in campus.buildings:
        minx, miny, maxx, maxy = b.footprint.bounds  # lon/lat
        for lon, lat in ((minx, miny), (maxx, maxy)):
            xs.append(int((lon + 180.0) / 360.0 * n))
            ys.append(int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))
    return [(x, y) for x in range(min(xs), max(xs) + 1) for y in range(min(ys), max(ys) + 1)]


def seconds_per(run: Callable[[int], object], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        run(i)
    return (time.perf_counter() - start) / n


def bench_cold(campus: Any, rounds: int) -> dict[str, float]:
    from tiles.map_features import LEVEL_LAYERS, PLAIN_LAYERS
    from tiles.raster import CampusDrawing

    drawing = CampusDrawing(campus)
    jobs = [(o, z, x, y) for z in (19, 20) for x, y in campus_tiles(campus, z)
            for o in sorted(drawing.ordinals)]

    def full(i: int) -> None:
        o, z, x, y = jobs[i % len(jobs)]
        drawing.render(o, z, x, y, layers=LEVEL_LAYERS)

    def plain(i: int) -> None:
        o, z, x, y = jobs[i % len(jobs)]
        drawing.render(o, z, x, y, layers=PLAIN_LAYERS)

    for warm in (full, plain):  # one map per layer set and zoom, built once
        seconds_per(warm, len(jobs))
    ratios, full_ms, plain_ms = [], [], []
    for _ in range(rounds):
        f = seconds_per(full, len(jobs))
        p = seconds_per(plain, len(jobs))
        full_ms.append(f * 1e3)
        plain_ms.append(p * 1e3)
        ratios.append(f / p)
    return {"tiles_per_round": len(jobs), "full_ms_per_tile": statistics.median(full_ms),
            "plain_ms_per_tile": statistics.median(plain_ms),
            "ratio_full_vs_plain": statistics.median(ratios)}


def bench_http(campus: Any, rounds: int, requests: int) -> dict[str, float]:
    import httpx

    from api.store import SqlCampusStore
    from tiles.raster import render_tile

    tiles = campus_tiles(campus, 19)
    z, (x, y) = 19, tiles[len(tiles) // 2]
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-") as tmp:
        store = SqlCampusStore(f"sqlite:///{Path(tmp) / 'gridmap.db'}")
        store.save_revision(campus, source="bench")
        token = bench_token(store, campus.id)
        store.close()
        png_path = Path(tmp) / "tile.png"
        png_path.write_bytes(render_tile(campus, 0, z, x, y))
        env = {"GRIDMAP_DATA_DIR": tmp, "GRIDMAP_LOG_LEVEL": "WARNING",
               BARE_TILE_ENV: str(png_path)}
        os.environ.pop("GRIDMAP_DATABASE_URL", None)
        path = f"/campuses/{campus.id}/levels/0/tiles/{z}/{x}/{y}.png"
        with (
            uvicorn_server("bench.bench_tiles:bare_app", app_dir=REPO, env=env,
                           ready_path="/ping") as (bare_url, bare_pid),
            uvicorn_server("api.app:create_app", app_dir=REPO, env=env,
                           ready_path="/healthz") as (app_url, app_pid),
            httpx.Client(base_url=bare_url, timeout=60.0) as bare_client,
            httpx.Client(base_url=app_url, timeout=60.0,
                         headers={"Authorization": f"Bearer {token}"}) as app_client,
        ):
            first = app_client.get(path)
            first.raise_for_status()
            if first.content != png_path.read_bytes():
                raise RuntimeError("the app's tile differs from the bare endpoint's bytes")

            def get_bare(_: int) -> None:
                bare_client.get("/tile.png").raise_for_status()

            def get_app(_: int) -> None:
                app_client.get(path).raise_for_status()

            for warm in (get_bare, get_app):
                rate(warm, 50)
            bare, app, ratios, cpu_ratios = [], [], [], []
            for _ in range(rounds):
                b, b_cpu = rate_and_cpu(get_bare, requests, bare_pid)
                a, a_cpu = rate_and_cpu(get_app, requests, app_pid)
                bare.append(b)
                app.append(a)
                ratios.append(a / b)
                if a_cpu and b_cpu:
                    cpu_ratios.append(b_cpu / a_cpu)
    out = {"bare_per_s": statistics.median(bare), "app_per_s": statistics.median(app),
           "tile_bytes": len(first.content), "ratio_app_vs_bare": statistics.median(ratios)}
    if cpu_ratios:  # requests per CPU second, client and server: steadier on a busy machine
        out["cpu_ratio_app_vs_bare"] = statistics.median(cpu_ratios)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=300, help="HTTP requests per round")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    campus, origin = build_campus()
    cold = bench_cold(campus, args.rounds)
    http = bench_http(campus, args.rounds, args.requests)
    if args.json:
        print(json.dumps({"campus": campus.id, "source": origin, "cold": cold, "http": http},
                         indent=2))
        return 0
    print(f"tiles of {campus.id} ({origin}), medians of {args.rounds} rounds")
    print(f"  cold tile, full style   {cold['full_ms_per_tile']:6.2f} ms   "
          f"plain Mapnik (rooms, labels, grid) {cold['plain_ms_per_tile']:6.2f} ms   "
          f"({cold['tiles_per_round']} tiles a round)")
    print(f"  full / plain = {cold['ratio_full_vs_plain']:.2f}x   (target <= 1.5x)")
    print(f"  cached tile over HTTP   {http['app_per_s']:7.0f}/s   bare endpoint, same bytes "
          f"{http['bare_per_s']:7.0f}/s   ({http['tile_bytes']} bytes)")
    print(f"  app / bare = {http['ratio_app_vs_bare']:.2f}x   (target >= 0.9x)")
    if "cpu_ratio_app_vs_bare" in http:
        print(f"  app / bare in requests per CPU second = {http['cpu_ratio_app_vs_bare']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
