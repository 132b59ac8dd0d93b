"""Layer proposal accuracy: is the proposal right without edits, on every DXF that says?

Run: ``python -m bench.bench_layer_proposal`` (from the repository root; part of
``make bench``). For every DXF under ``data/samples`` and ``tests/fixtures/dxf`` that
declares its layers (a ``NAME.layers.toml`` sidecar, or the ``campus.toml`` beside it naming
that drawing as a level), proposes its layers from its content
(:func:`importers.layer_proposal.propose_from_file`) and compares:

* every role the declaration names (rooms, labels, doors, outline, walls, stairs,
  elevators); a role it does not name counts only when the drawing has the NCS default layer
  for it (then that layer is expected); a declared layer the drawing draws nothing on (a
  campus-wide door layer on a level without doors) expects no proposal;
* the unit, where the declaration gives one.

Prints one line per drawing and ``N of M proposals right without edits``; ``-v`` also prints
every proposal's reasons. Exit status 0 (a measure, not a gate).
"""

from __future__ import annotations

import argparse
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from importers.layer_proposal import ROLES, LayerProposal, propose_from_file
from importers.manifest import DEFAULT_LAYERS, DrawingUnit

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = (ROOT / "data" / "samples", ROOT / "tests" / "fixtures" / "dxf")


@dataclass(frozen=True)
class Declared:
    """What a drawing's declaration says: layers by role, and its unit if given."""

    layers: dict[str, str]
    unit: DrawingUnit | None
    by: str  # where it was declared


def _from_campus(dxf: Path) -> Declared | None:
    manifest = dxf.parent / "campus.toml"
    if not manifest.is_file():
        return None
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    base = {k: v for k, v in data.get("layers", {}).items() if k in ROLES}
    for building in data.get("buildings", []):
        for level in building.get("levels", []):
            if level.get("dxf") == dxf.name:
                own = {k: v for k, v in level.get("layers", {}).items() if k in ROLES}
                unit = level.get("units")
                return Declared({**base, **own}, DrawingUnit(unit) if unit else None,
                                "campus.toml")
    return None


def _from_sidecar(dxf: Path) -> Declared | None:
    sidecar = dxf.with_suffix(".layers.toml")
    if not sidecar.is_file():
        return None
    data = tomllib.loads(sidecar.read_text(encoding="utf-8"))
    layers = {k: v for k, v in data.get("layers", {}).items() if k in ROLES}
    unit = data.get("units")
    return Declared(layers, DrawingUnit(unit) if unit else None, sidecar.name)


def declared(dxf: Path) -> Declared | None:
    return _from_sidecar(dxf) or _from_campus(dxf)


def wrong(proposal: LayerProposal, want: Declared) -> list[str]:
    """What an editor would have to change (empty: right without edits)."""
    present = {s.name.upper() for s in proposal.layers if
               s.closed_outlines or s.texts or s.inserts or s.lines or s.arcs}
    out = []
    for role in ROLES:
        expected: str | None = want.layers.get(role)
        if expected is None:
            if DEFAULT_LAYERS[role].upper() not in present:
                continue  # not declared and no default layer: not judged
            expected = DEFAULT_LAYERS[role]
        if expected.upper() not in present:
            expected = None  # nothing drawn on it: nothing to propose
        got = getattr(proposal, role)
        if (got or "").upper() != (expected or "").upper():
            out.append(f"{role}: proposed {got!r}, declared {expected!r}")
    if want.unit is not None and proposal.unit is not want.unit:
        got_unit = None if proposal.unit is None else proposal.unit.value
        out.append(f"unit: proposed {got_unit!r}, declared {want.unit.value!r}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print the reasons")
    args = parser.parse_args()
    right = total = 0
    started = time.perf_counter()
    for folder in FOLDERS:
        for dxf in sorted(folder.rglob("*.dxf")):
            want = declared(dxf)
            if want is None:
                continue
            total += 1
            name = dxf.relative_to(ROOT)
            try:
                proposal = propose_from_file(dxf)
            except Exception as exc:  # a measure: a drawing that fails counts as wrong
                print(f"  FAIL  {name}: {type(exc).__name__}: {exc}")
                continue
            problems = wrong(proposal, want)
            right += not problems
            unit = proposal.unit.value if proposal.unit else "?"
            print(f"  {'ok   ' if not problems else 'EDITS'} {name} ({want.by}, {unit})"
                  + ("" if not problems else ": " + "; ".join(problems)))
            if args.verbose:
                for role, why in proposal.reasons.items():
                    print(f"          {role}: {why}")
                print(f"          unit: {proposal.unit_reason}")
    elapsed = time.perf_counter() - started
    print(f"layer proposal: {right} of {total} proposals right without edits "
          f"({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
