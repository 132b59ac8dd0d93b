"""The core imports none of the adapters (design card: api -> tiles, importers -> gridmap)."""

from __future__ import annotations

import ast
from pathlib import Path

ADAPTERS = {"api", "tiles", "importers"}
ROOT = Path(__file__).resolve().parents[1]


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_adapter() -> None:
    files = sorted((ROOT / "gridmap").rglob("*.py"))
    assert files, "the core package has no modules?"
    offenders = {
        str(f.relative_to(ROOT)): sorted(_imported_top_levels(f) & ADAPTERS) for f in files
    }
    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_importers_and_tiles_do_not_import_api() -> None:
    for package in ("importers", "tiles"):
        for f in sorted((ROOT / package).rglob("*.py")):
            assert "api" not in _imported_top_levels(f), f
