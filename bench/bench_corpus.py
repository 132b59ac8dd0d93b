"""Dispatcher corpus accuracy: how the lookup answers realistic phrasings on both samples.

Run: ``python -m bench.bench_corpus`` (from the repository root; ``make eval``). Imports both
sample campuses, runs every phrasing of ``tests/corpus/dispatcher_corpus.csv`` through
:func:`gridmap.lookup.lookup` and prints the accuracy table (correct, acceptable ambiguous,
confidently wrong, not found but present, needlessly ambiguous, per campus) and the time per
lookup. ``-v`` also lists every failing row with what the lookup answered.
"""

from __future__ import annotations

import argparse
import time

from tests.corpus.evaluate import CORPUS, ROOT, campus_index, evaluate, failures, load_corpus, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list failing rows")
    args = parser.parse_args()
    rows = load_corpus()
    for campus in sorted({r.campus for r in rows}):
        campus_index(campus)  # import outside the timing
    start = time.perf_counter()
    judged = evaluate(rows)
    elapsed = time.perf_counter() - start
    print(f"dispatcher corpus ({CORPUS.relative_to(ROOT)}): {len(rows)} phrasings, "
          f"{1000 * elapsed / max(1, len(rows)):.2f} ms per lookup")
    print(table(judged))
    if args.verbose:
        print()
        print(failures(judged))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
