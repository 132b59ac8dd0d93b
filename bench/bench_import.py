"""How fast, and in how much memory, gridmap imports a large floor plan, against GDAL.

A generated school campus level (:mod:`bench.big_floor_plan`, 20 MB+, thousands of rooms with
labels, door blocks, walls, hatches, dimensions and nested furniture blocks) is read

* by gridmap end to end: :func:`importers.dxf.read_floor_plan`, the rooms, labels and doors
  of the level in metres, every check an import makes;
* by GDAL's DXF driver reading the same file: ``pyogrio.read_dataframe`` (every feature, blocks
  inlined, as a GeoDataFrame).

Each side runs in its own fresh child process, in turn, for several rounds: the time is the
child's own (modules imported before the clock starts), the memory is the child's peak
resident set (``VmHWM``, else ``wait4``'s ``ru_maxrss``), also shown above a child that only
imports the same modules. The import must find exactly the rooms the generator drew.
Targets: gridmap / GDAL time <= 3x; gridmap's peak memory under 10x the file size.

Run: ``python -m bench.bench_import`` (``make bench``); ``--rooms``, ``--rounds``, ``--dxf``
(keep the generated file) tune it; ``--whole`` also times the import without slimming.
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

from bench.big_floor_plan import ROOMS_LAYER, GeneratedPlan, write_floor_plan  # noqa: E402
from bench.child_runs import ChildRun, own_peak_bytes, run_child  # noqa: E402

#: the readers a child process runs; "baseline" only imports what the others import
READERS = ("gridmap", "gdal", "baseline-gridmap", "baseline-gdal")
#: with --whole: the import reading the whole drawing (no slimming, importers.dxf_stream)
WHOLE = "gridmap-whole"
TARGET_TIME_RATIO = 3.0
TARGET_MEMORY_RATIO = 10.0


def _read_in_child(reader: str, path: Path) -> dict[str, Any]:
    """What a child does: import the modules, then time the read alone."""
    if reader in ("gridmap", "baseline-gridmap", WHOLE):
        from importers.dxf import read_floor_plan
        if reader == "baseline-gridmap":
            return {"seconds": 0.0, "cpu": 0.0}
        start, cpu = time.perf_counter(), time.process_time()
        plan = read_floor_plan(path, slim=reader != WHOLE)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "rooms": len(plan.rooms), "doors": len(plan.doors),
                "numbered": sum(1 for r in plan.rooms if r.number),
                "warnings": len(plan.warnings)}
    import pyogrio
    if reader == "baseline-gdal":
        import geopandas  # noqa: F401  (read_dataframe imports it)
        return {"seconds": 0.0, "cpu": 0.0}
    start, cpu = time.perf_counter(), time.process_time()
    frame = pyogrio.read_dataframe(path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "features": len(frame),
            "room_layer_features": int((frame["Layer"] == ROOMS_LAYER).sum())}


def bench(plan: GeneratedPlan, rounds: int, whole: bool = False) -> dict[str, Any]:
    """Medians over ``rounds`` of each side, the ratios, and the import's result (``whole``:
    also the import reading the whole drawing, for comparison)."""
    readers = (*READERS, WHOLE) if whole else READERS
    runs: dict[str, list[ChildRun]] = {r: [] for r in readers}
    ratios, cpu_ratios = [], []
    for _ in range(rounds):
        for reader in readers:
            runs[reader].append(run_child("bench.bench_import", reader, ["--dxf", str(plan.path)]))
        ratios.append(runs["gridmap"][-1].seconds / runs["gdal"][-1].seconds)
        cpu_ratios.append(runs["gridmap"][-1].cpu / runs["gdal"][-1].cpu)
    first = runs["gridmap"][0].result
    if first["rooms"] != plan.rooms:
        raise RuntimeError(f"gridmap read {first['rooms']} rooms; the generator drew "
                           f"{plan.rooms}")

    def peak(reader: str) -> int:
        return int(statistics.median(r.peak_bytes for r in runs[reader]))

    gridmap_peak, gdal_peak = peak("gridmap"), peak("gdal")
    extra: dict[str, Any] = {}
    if whole:
        extra = {"whole_s": statistics.median(r.seconds for r in runs[WHOLE]),
                 "whole_cpu_s": statistics.median(r.cpu for r in runs[WHOLE]),
                 "whole_peak_bytes": peak(WHOLE)}
    return {**extra,
        "file_bytes": plan.bytes, "rooms_drawn": plan.rooms, "doors_drawn": plan.doors,
        "rounds": rounds, "import": first, "gdal": runs["gdal"][0].result,
        "gridmap_s": statistics.median(r.seconds for r in runs["gridmap"]),
        "gdal_s": statistics.median(r.seconds for r in runs["gdal"]),
        "ratio_gridmap_vs_gdal": statistics.median(ratios),
        "cpu_ratio_gridmap_vs_gdal": statistics.median(cpu_ratios),
        "gridmap_cpu_s": statistics.median(r.cpu for r in runs["gridmap"]),
        "gdal_cpu_s": statistics.median(r.cpu for r in runs["gdal"]),
        "gridmap_peak_bytes": gridmap_peak, "gdal_peak_bytes": gdal_peak,
        "gridmap_growth_bytes": gridmap_peak - peak("baseline-gridmap"),
        "gdal_growth_bytes": gdal_peak - peak("baseline-gdal"),
        "memory_ratio_gridmap_vs_file": gridmap_peak / plan.bytes,
        "growth_ratio_gridmap_vs_file": (gridmap_peak - peak("baseline-gridmap")) / plan.bytes,
        "memory_ratio_gdal_vs_file": gdal_peak / plan.bytes,
    }


def report(out: dict[str, Any]) -> str:
    mb = 1e6
    imp = out["import"]
    lines = [
        f"import of a generated floor plan: {out['file_bytes'] / mb:.1f} MB, "
        f"{out['rooms_drawn']} rooms, {out['doors_drawn']} doors; medians of "
        f"{out['rounds']} rounds, each side in a fresh process",
        f"  gridmap read_floor_plan {out['gridmap_s']:7.2f} s, CPU {out['gridmap_cpu_s']:6.2f} s   "
        f"({imp['rooms']} rooms, "
        f"{imp['numbered']} numbered, {imp['doors']} doors, {imp['warnings']} warnings)",
        f"  GDAL read_dataframe     {out['gdal_s']:7.2f} s, CPU {out['gdal_cpu_s']:6.2f} s   "
        f"({out['gdal']['features']} "
        f"features, {out['gdal']['room_layer_features']} on the rooms layer)",
        f"  time: gridmap / GDAL = {out['ratio_gridmap_vs_gdal']:.2f}x   "
        f"(target <= {TARGET_TIME_RATIO:g}x); in CPU seconds (steadier on a busy machine) "
        f"{out['cpu_ratio_gridmap_vs_gdal']:.2f}x",
        f"  peak memory: gridmap {out['gridmap_peak_bytes'] / mb:6.0f} MB "
        f"(+{out['gridmap_growth_bytes'] / mb:.0f} MB over its imports)   GDAL "
        f"{out['gdal_peak_bytes'] / mb:6.0f} MB (+{out['gdal_growth_bytes'] / mb:.0f} MB)",
        f"  memory: gridmap peak / file size = {out['memory_ratio_gridmap_vs_file']:.1f}x, "
        f"growth / file size = {out['growth_ratio_gridmap_vs_file']:.1f}x   "
        f"(target < {TARGET_MEMORY_RATIO:g}x); GDAL peak / file size = "
        f"{out['memory_ratio_gdal_vs_file']:.1f}x",
    ]
    if "whole_s" in out:
        lines.append(
            f"  without slimming (the whole drawing through ezdxf): {out['whole_s']:.2f} s, "
            f"CPU {out['whole_cpu_s']:.2f} s, peak {out['whole_peak_bytes'] / mb:.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rooms", type=int, default=7000, help="rooms in the generated plan")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dxf", type=Path, help="where to write (and keep) the generated plan; "
                        "a temporary folder if absent")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--whole", action="store_true",
                        help="also time the import reading the whole drawing (no slimming)")
    parser.add_argument("--child", choices=(*READERS, WHOLE), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps({**_read_in_child(args.child, args.dxf), "peak": own_peak_bytes()}))
        return 0
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-import-") as tmp:
        path = args.dxf or Path(tmp) / "big_floor_plan.dxf"
        plan = write_floor_plan(path, args.rooms)
        out = bench(plan, args.rounds, args.whole)
    print(json.dumps(out, indent=2) if args.json else report(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
