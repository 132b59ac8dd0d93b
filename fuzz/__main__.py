"""``python -m fuzz [--seconds 180] [--seed 1] [--jobs 2]``: fuzz the importers (``make fuzz``).

Mutants of the sample campus are imported in forked children (time and memory limited) until
the time is up; the run prints how many inputs gave clean errors, clean imports, refusals by
the publish check and failures, saves every failing input under ``tests/fuzz_regressions/``
(replayed by ``tests/test_fuzz_regressions.py``) and exits 1 if any input failed.
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

from fuzz.mutate import Mutant, make_mutant
from fuzz.runner import FAILURES, Limits, Outcome, Running, preload

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "samples" / "lincoln_ridge"
REGRESSIONS = REPO / "tests" / "fuzz_regressions"


def save_fixture(mutant: Mutant, outcome: Outcome, seed: int, case: int,
                 folder: Path = REGRESSIONS) -> Path:
    """Keep a failing input: the mutated file (gzipped) and what happened, under a name made
    from its content so the same input is kept once."""
    digest = hashlib.sha256(mutant.target.encode() + mutant.data).hexdigest()[:12]
    dest = folder / f"{outcome.kind}-{digest}"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{mutant.target}.gz").write_bytes(gzip.compress(mutant.data, mtime=0))
    (dest / "case.json").write_text(json.dumps({
        "sample": SAMPLE.name,
        "replaces": mutant.target,
        "mutations": list(mutant.mutations),
        "found": {"outcome": outcome.kind, "seed": seed, "case": case,
                  "detail": outcome.detail[-1500:]},
    }, indent=2) + "\n")
    return dest


def _case_folder(root: Path, mutant: Mutant) -> Path:
    folder = Path(tempfile.mkdtemp(dir=root))
    for f in SAMPLE.iterdir():
        shutil.copy2(f, folder / f.name)
    (folder / mutant.target).write_bytes(mutant.data)
    return folder


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
    args = ap.parse_args(argv)

    preload()
    files = {f.name: f.read_bytes() for f in SAMPLE.iterdir() if f.is_file()}
    rng = random.Random(args.seed)
    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory_mb,
                    import_time_s=min(10.0, args.timeout / 3))
    counts: Counter[str] = Counter()
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
                mutant = make_mutant(rng, files)
                folder = _case_folder(root, mutant)
                running.append((case, mutant, folder, Running(folder, "campus.toml", limits)))
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
                shutil.rmtree(folder, ignore_errors=True)
                if log is not None:
                    log.write(json.dumps({"case": n, "target": mutant.target,
                                          "mutations": mutant.mutations, "outcome": outcome.kind,
                                          "seconds": round(outcome.seconds, 2),
                                          "detail": outcome.detail[-600:]}) + "\n")
                if not outcome.clean:
                    where = "" if args.no_save else (
                        f" -> {save_fixture(mutant, outcome, args.seed, n, args.save)}")
                    first = outcome.detail.strip().splitlines()[-1] if outcome.detail else ""
                    print(f"case {n} {outcome.kind.upper()} ({mutant.target}: "
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
          + "(" + ", ".join(f"{counts[k]} {k}" for k in FAILURES) + ")")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
