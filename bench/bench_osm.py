"""How fast, and in how much memory, gridmap reads a large OpenStreetMap extract, against peers.

A generated district (:mod:`bench.big_osm`: a campus of thousands of indoor-mapped rooms in a
town of streets, houses and trees, 30 MB) is read

* by gridmap end to end: :func:`importers.osm_indoor.read_osm_indoor`, the rooms, doors, AEDs,
  buildings and levels, every check an import makes;
* by GDAL's OSM driver reading the same file: ``pyogrio.read_dataframe`` of its ``points``,
  ``lines`` and ``multipolygons`` layers (every tagged feature, as GeoDataFrames);
* by Python's own ``xml.etree.ElementTree.iterparse`` (its C parser, no defusing) walking the
  file and clearing each element: the least any ElementTree-based reader pays.

Each side runs in its own fresh child process, in turn, for several rounds: the time is the
child's own (modules imported before the clock starts), the memory the child's peak resident
set, also shown above a child that only imports gridmap's modules. The import must find
exactly the rooms, doors and AEDs the generator wrote.

Run: ``python -m bench.bench_osm`` (``make bench``); ``--scale``, ``--buildings``, ``--rounds``,
``--osm`` (keep the generated file) tune it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.big_osm import GeneratedDistrict, write_district  # noqa: E402
from bench.child_runs import ChildRun, own_peak_bytes, run_child  # noqa: E402

#: the readers a child process runs; "baseline" only imports what gridmap's import imports
READERS = ("gridmap", "gdal", "etree", "baseline")
GDAL_LAYERS = ("points", "lines", "multipolygons")


def _read_in_child(reader: str, path: Path) -> dict[str, Any]:
    """What a child does: import the modules, then time the read alone."""
    if reader in ("gridmap", "baseline"):
        from importers.limits import ImportLimits
        from importers.osm_indoor import read_osm_indoor
        if reader == "baseline":
            return {"seconds": 0.0, "cpu": 0.0}
        start, cpu = time.perf_counter(), time.process_time()
        found = read_osm_indoor(path, "bench", ImportLimits(time_limit_s=None))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, **found.counts()}
    if reader == "etree":
        from xml.etree.ElementTree import iterparse
        start, cpu = time.perf_counter(), time.process_time()
        elements = 0
        for _, el in iterparse(path):
            elements += 1
            if el.tag in ("node", "way", "relation"):
                el.clear()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "elements": elements}
    import pyogrio
    start, cpu = time.perf_counter(), time.process_time()
    features = {layer: len(pyogrio.read_dataframe(path, layer=layer)) for layer in GDAL_LAYERS}
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "features": features}


def bench(district: GeneratedDistrict, rounds: int) -> dict[str, Any]:
    """Medians over ``rounds`` of each side, the ratios (each round's gridmap time over the
    peer's in that round), and the import's result."""
    runs: dict[str, list[ChildRun]] = {r: [] for r in READERS}
    ratios: dict[str, list[float]] = {"gdal": [], "etree": [], "gdal_cpu": [], "etree_cpu": []}
    for _ in range(rounds):
        for reader in READERS:
            runs[reader].append(run_child("bench.bench_osm", reader, ["--osm", str(district.path)]))
        ours = runs["gridmap"][-1]
        for peer in ("gdal", "etree"):
            ratios[peer].append(ours.seconds / runs[peer][-1].seconds)
            ratios[f"{peer}_cpu"].append(ours.cpu / runs[peer][-1].cpu)
    found = runs["gridmap"][0].result
    wanted = {"units": district.units, "openings": district.openings,
              "amenities": district.aeds, "buildings": district.school_buildings}
    if any(found[k] != v for k, v in wanted.items()):
        raise RuntimeError(f"gridmap read {found}; the generator wrote {wanted}")

    def median(reader: str, what: str) -> float:
        return float(statistics.median(float(getattr(r, what)) for r in runs[reader]))

    peak = median("gridmap", "peak_bytes")
    return {
        "file_bytes": district.bytes, "nodes": district.nodes, "ways": district.ways,
        "relations": district.relations, "rounds": rounds, "import": found,
        "gdal": runs["gdal"][0].result, "etree": runs["etree"][0].result,
        **{f"{r}_s": median(r, "seconds") for r in ("gridmap", "gdal", "etree")},
        **{f"{r}_cpu_s": median(r, "cpu") for r in ("gridmap", "gdal", "etree")},
        **{f"ratio_gridmap_vs_{k}": statistics.median(v) for k, v in ratios.items()},
        "gridmap_mb_per_s": district.bytes / 1e6 / median("gridmap", "seconds"),
        "gridmap_peak_bytes": peak,
        "gridmap_growth_bytes": peak - median("baseline", "peak_bytes"),
        "gdal_peak_bytes": median("gdal", "peak_bytes"),
    }


def report(out: dict[str, Any]) -> str:
    mb = 1e6
    imp = out["import"]
    return "\n".join([
        f"OpenStreetMap indoor read of a generated district: {out['file_bytes'] / mb:.1f} MB "
        f"({out['nodes']:,} nodes, {out['ways']:,} ways, {out['relations']:,} relations); "
        f"medians of {out['rounds']} rounds, each side in a fresh process",
        f"  gridmap read_osm_indoor {out['gridmap_s']:6.2f} s, CPU {out['gridmap_cpu_s']:5.2f} s"
        f"  ({out['gridmap_mb_per_s']:.1f} MB/s; {imp['units']} units, {imp['openings']} "
        f"openings, {imp['amenities']} AEDs, {imp['buildings']} buildings, "
        f"{imp['findings']} findings)",
        f"  GDAL OSM driver         {out['gdal_s']:6.2f} s, CPU {out['gdal_cpu_s']:5.2f} s"
        f"  ({', '.join(f'{n} {k}' for k, n in out['gdal']['features'].items())})",
        f"  xml.etree iterparse     {out['etree_s']:6.2f} s, CPU {out['etree_cpu_s']:5.2f} s"
        f"  ({out['etree']['elements']:,} elements)",
        f"  time: gridmap / GDAL = {out['ratio_gridmap_vs_gdal']:.2f}x (CPU "
        f"{out['ratio_gridmap_vs_gdal_cpu']:.2f}x); gridmap / xml.etree = "
        f"{out['ratio_gridmap_vs_etree']:.2f}x (CPU {out['ratio_gridmap_vs_etree_cpu']:.2f}x)",
        f"  peak memory: gridmap {out['gridmap_peak_bytes'] / mb:.0f} MB "
        f"(+{out['gridmap_growth_bytes'] / mb:.0f} MB over its imports, "
        f"{out['gridmap_growth_bytes'] / out['file_bytes']:.1f}x the file); GDAL "
        f"{out['gdal_peak_bytes'] / mb:.0f} MB",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=int, default=10,
                        help="outdoor data round the campus (about 3 MB a step)")
    parser.add_argument("--buildings", type=int, default=24, help="school buildings")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--osm", type=Path, help="where to write (and keep) the generated file; "
                        "a temporary folder if absent")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--child", choices=READERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps({**_read_in_child(args.child, args.osm), "peak": own_peak_bytes()}))
        return 0
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-osm-") as tmp:
        path = args.osm or Path(tmp) / "district.osm"
        district = write_district(path, args.scale, buildings=args.buildings)
        out = bench(district, args.rounds)
    print(json.dumps(out, indent=2) if args.json else report(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
