"""``python -m fuzz [--seconds 180] [--seed 1] [--jobs 2] [--only osm_school,...]``: fuzz the
importers (``make fuzz``).

Mutants of the corpus (:mod:`fuzz.targets`: the sample campus, the OSM indoor and IMDF school,
every DXF feature and scheme fixture, zipped uploads), taken in turn, are judged in forked
children (time and memory limited) until the time is up; the run prints how many inputs gave
clean errors, clean imports, refusals by the publish check and failures, saves every failing
input under ``tests/fuzz_regressions/`` (replayed by ``tests/test_fuzz_regressions.py``) and
exits 1 if any input failed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from fuzz.mutate import Mutant
from fuzz.runner import FAILURES, Limits, Outcome, Running, preload
from fuzz.targets import SAMPLES, Corpus, case_folder, next_mutant

REPO = Path(__file__).resolve().parent.parent
REGRESSIONS = REPO / "tests" / "fuzz_regressions"


def scrubbed(text: str) -> str:
    """A traceback without this machine's paths (kept fixtures are committed): the repository,
    the virtualenv, the Python installation and the temporary folder are named by role."""
    places = {str(REPO): "<repo>", sys.prefix: "<venv>", sys.base_prefix: "<python>",
              tempfile.gettempdir(): "<tmp>"}
    for path in sorted(places, key=len, reverse=True):
        text = text.replace(path, places[path])
    return text


def save_fixture(mutant: Mutant, outcome: Outcome, seed: int, case: int,
                 folder: Path = REGRESSIONS) -> Path:
    """Keep a failing input: the mutated file (gzipped) and what happened, under a name made
    from its content so the same input is kept once."""
    digest = hashlib.sha256(mutant.sample.encode() + mutant.target.encode()
                            + mutant.data).hexdigest()[:12]
    dest = folder / f"{outcome.kind}-{digest}"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{mutant.target}.gz").write_bytes(gzip.compress(mutant.data, mtime=0))
    (dest / "case.json").write_text(json.dumps({
        "sample": mutant.sample,
        "replaces": mutant.target,
        "mutations": list(mutant.mutations),
        "found": {"outcome": outcome.kind, "seed": seed, "case": case,
                  "detail": scrubbed(outcome.detail)[-1500:]},
    }, indent=2) + "\n")
    return dest


def _samples(text: str) -> tuple[str, ...]:
    chosen = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SAMPLES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"samples are {', '.join(SAMPLES)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    ap.add_argument("--seconds", type=float, default=180.0, help="how long to run (default 180)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1: reproducible)")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ap.add_argument("--max-cases", type=int, default=0, help="stop after this many (0: no cap)")
    ap.add_argument("--timeout", type=float, default=60.0, help="a case that takes longer hangs")
    ap.add_argument("--memory-mb", type=int, default=1536, help="address space per case, MB")
    ap.add_argument("--save", type=Path, default=REGRESSIONS,
                    help="where failing inputs are kept (default tests/fuzz_regressions)")
    ap.add_argument("--no-save", action="store_true", help="do not keep failing inputs")
    ap.add_argument("--log", type=Path, help="write every outcome here, one JSON line each")
    ap.add_argument("--only", type=_samples, default=SAMPLES,
                    help=f"comma-separated samples to mutate (default all: {','.join(SAMPLES)})")
    args = ap.parse_args(argv)

    preload()
    corpus = Corpus.load()
    rng = random.Random(args.seed)
    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory_mb,
                    import_time_s=min(10.0, args.timeout / 3))
    counts: Counter[str] = Counter()
    per_sample: Counter[str] = Counter()
    started = time.monotonic()
    running: list[tuple[int, Mutant, Path, Running]] = []
    case = 0
    log = args.log.open("w") if args.log else None
    with tempfile.TemporaryDirectory(prefix="gridmap-fuzz-") as tmp:
        root = Path(tmp)
        while True:
            out_of_time = time.monotonic() - started >= args.seconds
            capped = bool(args.max_cases) and case >= args.max_cases
            while not (out_of_time or capped) and len(running) < args.jobs:
                mutant = next_mutant(rng, corpus, case, args.only)
                laid = case_folder(mutant.sample, mutant.target, mutant.data,
                                   Path(tempfile.mkdtemp(dir=root)))
                running.append((case, mutant, laid.folder,
                                Running(laid.folder, laid.entry, limits, laid.check)))
                case += 1
                capped = bool(args.max_cases) and case >= args.max_cases
            if not running:
                break
            still: list[tuple[int, Mutant, Path, Running]] = []
            for n, mutant, folder, run in running:
                outcome = run.poll()
                if outcome is None:
                    still.append((n, mutant, folder, run))
                    continue
                counts[outcome.kind] += 1
                per_sample[mutant.sample] += 1
                shutil.rmtree(folder, ignore_errors=True)
                if log is not None:
                    log.write(json.dumps({"case": n, "sample": mutant.sample,
                                          "target": mutant.target,
                                          "mutations": mutant.mutations, "outcome": outcome.kind,
                                          "seconds": round(outcome.seconds, 2),
                                          "detail": outcome.detail[-600:]}) + "\n")
                if not outcome.clean:
                    where = "" if args.no_save else (
                        f" -> {save_fixture(mutant, outcome, args.seed, n, args.save)}")
                    first = outcome.detail.strip().splitlines()[-1] if outcome.detail else ""
                    print(f"case {n} {outcome.kind.upper()} ({mutant.sample}/{mutant.target}: "
                          f"{'; '.join(mutant.mutations)}): {first}{where}", flush=True)
            running = still
            time.sleep(0.02)
    if log is not None:
        log.close()
    total = sum(counts.values())
    failed = sum(counts[k] for k in FAILURES)
    print(f"fuzz: {total} inputs in {time.monotonic() - started:.0f} s (seed {args.seed}): "
          f"{counts['error']} clean errors, {counts['imported']} imports, "
          f"{counts['refused']} refused by the publish check; {failed} failures "
          + "(" + ", ".join(f"{counts[k]} {k}" for k in FAILURES) + "); inputs per sample: "
          + ", ".join(f"{s} {per_sample[s]}" for s in args.only))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
