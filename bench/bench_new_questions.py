"""CPU per new lookup question: the dispatcher corpus, each phrasing asked for the first time.

Run: ``python -m bench.bench_new_questions`` (from the repository root). A question not asked
before is what the lookup's per-question work costs (answer caches do not help it), so each
phrasing of ``tests/corpus/dispatcher_corpus.csv`` is timed the first time its process sees
it. Each corpus half runs in a fresh process whose engine has first answered the other half
and one question per room number, door and building (so the per-place parts of answers are
built, as in a server that has run a while); the other half is then asked once each.

Prints, over all phrasings, the median and mean CPU time (``time.process_time``) of
:func:`gridmap.lookup.lookup` and of the answer's ``to_dict`` and ``orjson.dumps``, per
round, and the median of the rounds' medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure_half(half: int) -> dict[str, list[float]]:
    """Milliseconds per phrasing of one half of the corpus, asked for the first time."""
    import orjson

    from gridmap.lookup import lookup
    from tests.corpus.evaluate import campus_index, load_corpus

    rows = load_corpus()
    times: dict[str, list[float]] = {"lookup": [], "to_dict": [], "orjson": []}
    for campus in sorted({r.campus for r in rows}):
        index = campus_index(campus)
        asked = list(dict.fromkeys(r.query for r in rows if r.campus == campus))
        timed = [q for q in asked if zlib.crc32(q.encode()) % 2 == half]
        c = index.campus
        warm = [q for q in asked if zlib.crc32(q.encode()) % 2 != half]
        warm += [f"room {u.number}" for u in c.units if u.number]
        warm += [f"door {o.number}" for o in c.openings if o.number]
        warm += [f"building {b.short_name}" for b in c.buildings]
        for q in dict.fromkeys(warm):
            if q not in timed:
                lookup(index, q, 20).to_dict()
        for q in timed:
            started = time.process_time()
            result = lookup(index, q, 20)
            looked_up = time.process_time()
            answer = result.to_dict()
            as_dict = time.process_time()
            orjson.dumps(answer)
            done = time.process_time()
            times["lookup"].append(1000 * (looked_up - started))
            times["to_dict"].append(1000 * (as_dict - looked_up))
            times["orjson"].append(1000 * (done - as_dict))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--half", type=int, choices=(0, 1), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.half is not None:
        print(json.dumps(measure_half(args.half)))
        return 0
    medians: dict[str, list[float]] = {"lookup": [], "to_dict": [], "orjson": []}
    for n in range(1, args.rounds + 1):
        times: dict[str, list[float]] = {"lookup": [], "to_dict": [], "orjson": []}
        for half in (0, 1):
            out = subprocess.run(
                [sys.executable, "-W", "ignore", "-m", "bench.bench_new_questions",
                 "--half", str(half)],
                cwd=ROOT, check=True, capture_output=True, text=True).stdout
            for name, values in json.loads(out.strip().splitlines()[-1]).items():
                times[name] += values
        for name, values in times.items():
            medians[name].append(statistics.median(values))
        print(f"round {n}: {len(times['lookup'])} new questions, lookup median "
              f"{medians['lookup'][-1]:.3f} ms (mean {statistics.fmean(times['lookup']):.3f}), "
              f"to_dict {medians['to_dict'][-1]:.3f} ms, orjson {medians['orjson'][-1]:.3f} ms")
    print("median of the rounds: " + ", ".join(
        f"{name} {statistics.median(values):.3f} ms" for name, values in medians.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
